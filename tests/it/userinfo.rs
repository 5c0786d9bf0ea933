//! /userinfo (OIDC Core §5.3) and the bearer-token rules (RFC 6750 §3).
use crate::helpers::*;

async fn tokens(app: &TestApp, scope: &str) -> serde_json::Value {
    app.create_user("alice").await;
    let client = app.create_client().await;
    let (code, verifier) = app.get_code(&browser(), &client, scope, "alice").await;
    app.exchange(&client, &code, &verifier)
        .await
        .json()
        .await
        .unwrap()
}

async fn userinfo_returns_claims_by_scope(app: TestApp) {
    let t = tokens(&app, "openid email").await;
    let at = t["access_token"].as_str().unwrap();
    let info: serde_json::Value = app.userinfo(at).await.json().await.unwrap();
    let id = jwt_claims(t["id_token"].as_str().unwrap());
    assert_eq!(info["sub"], id["sub"], "OIDC Core §5.3.2: same sub");
    assert_eq!(info["email"], "someone@example.com");
    assert!(
        info.get("preferred_username").is_none(),
        "profile was not granted"
    );
    // POST with the token in the body works too.
    let post: serde_json::Value = app
        .http
        .post(app.url("/userinfo"))
        .form(&[("access_token", at)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(post, info);
}

async fn missing_token_gets_bearer_challenge(app: TestApp) {
    let resp = app.http.get(app.url("/userinfo")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
}

async fn id_token_and_forged_tokens_are_refused(app: TestApp) {
    let t = tokens(&app, "openid").await;
    let id_token = t["id_token"].as_str().unwrap();
    let resp = app.userinfo(id_token).await;
    assert_eq!(resp.status(), 401, "an ID token is not an access token");
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );

    // alg=none with the same claims.
    let at = t["access_token"].as_str().unwrap();
    let payload = at.split('.').nth(1).unwrap();
    let none_header = gatehouse::crypto::b64url(br#"{"alg":"none","typ":"at+jwt"}"#);
    assert_eq!(
        app.userinfo(&format!("{none_header}.{payload}."))
            .await
            .status(),
        401
    );
    // A flipped payload with the original signature.
    let mut claims = jwt_claims(at);
    claims["sub"] = "someone-else".into();
    let forged_payload = gatehouse::crypto::b64url(claims.to_string().as_bytes());
    let parts: Vec<&str> = at.split('.').collect();
    assert_eq!(
        app.userinfo(&format!("{}.{forged_payload}.{}", parts[0], parts[2]))
            .await
            .status(),
        401
    );
    assert_eq!(app.userinfo("garbage").await.status(), 401);
}

async fn expired_access_token_is_refused(app: TestApp) {
    let t = tokens(&app, "openid").await;
    app.clock.advance(601);
    assert_eq!(
        app.userinfo(t["access_token"].as_str().unwrap())
            .await
            .status(),
        401
    );
}

async fn disabled_user_token_stops_working(app: TestApp) {
    let t = tokens(&app, "openid").await;
    app.store.set_user_disabled("alice", true).await.unwrap();
    assert_eq!(
        app.userinfo(t["access_token"].as_str().unwrap())
            .await
            .status(),
        401
    );
}

/// RFC 7519 §4.1.5: a token of ours that is not yet valid is refused.
async fn not_yet_valid_token_is_refused(app: TestApp) {
    let t = tokens(&app, "openid").await;
    let at = t["access_token"].as_str().unwrap();
    let mut claims = jwt_claims(at);
    claims["nbf"] = (app.clock.now() + 3600).into();
    let early = app
        .keys
        .sign(gatehouse::domain::Alg::RS256, "at+jwt", &claims)
        .unwrap();
    assert_eq!(app.userinfo(at).await.status(), 200);
    assert_eq!(app.userinfo(&early).await.status(), 401);
}

crate::backend_tests!(
    userinfo_returns_claims_by_scope,
    missing_token_gets_bearer_challenge,
    id_token_and_forged_tokens_are_refused,
    expired_access_token_is_refused,
    disabled_user_token_stops_working,
    not_yet_valid_token_is_refused,
);
