//! What the OpenID Foundation's certification plans need beyond our defaults: a per-client
//! PKCE policy (RFC 9700 §2.1.1) for confidential clients.
use crate::helpers::*;
use gatehouse::crypto::random_token;
use gatehouse::oauth::pkce::s256_challenge;
use serde_json::Value;

fn params<'a>(client: &'a TestClient, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut p = vec![
        ("response_type", "code"),
        ("client_id", client.id.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid"),
        ("state", "st"),
    ];
    p.extend_from_slice(extra);
    p
}

async fn optional_client(app: &TestApp) -> TestClient {
    app.create_client_custom(false, |c| c.pkce_optional = true)
        .await
}

async fn redeem(
    app: &TestApp,
    client: &TestClient,
    code: &str,
    verifier: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT_URI),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    app.token(client, &form).await
}

/// The OIDF suite's flow: no PKCE, with and without a nonce (OIDC Core §3.1.2.1 keeps nonce
/// optional in the code flow).
async fn optional_pkce_client_signs_in_without_pkce(app: TestApp) {
    app.create_user("alice").await;
    let client = optional_client(&app).await;
    let b = browser();
    let q = app
        .sign_in(&b, &params(&client, &[("nonce", "n-1")]), "alice")
        .await;
    let code = param(&q, "code").expect("a code without PKCE");
    let resp = redeem(&app, &client, &code, None).await;
    assert_eq!(resp.status(), 200);
    let tokens: Value = resp.json().await.unwrap();
    assert_eq!(
        jwt_claims(tokens["id_token"].as_str().unwrap())["nonce"],
        "n-1"
    );

    let q = app.sign_in(&b, &params(&client, &[]), "alice").await;
    let code = param(&q, "code").unwrap();
    let tokens: Value = redeem(&app, &client, &code, None)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        jwt_claims(tokens["id_token"].as_str().unwrap())
            .get("nonce")
            .is_none()
    );
}

/// RFC 9700 §2.1.1: a verifier sent for a code issued without a challenge is refused, and a
/// code issued with a challenge still needs its verifier.
async fn pkce_downgrade_is_refused(app: TestApp) {
    app.create_user("alice").await;
    let client = optional_client(&app).await;
    let b = browser();
    let q = app.sign_in(&b, &params(&client, &[]), "alice").await;
    let code = param(&q, "code").unwrap();
    let resp = redeem(&app, &client, &code, Some(&random_token())).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );

    let verifier = random_token();
    let challenge = s256_challenge(&verifier);
    let with = [
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let q = app.sign_in(&b, &params(&client, &with), "alice").await;
    let code = param(&q, "code").unwrap();
    let resp = redeem(&app, &client, &code, None).await;
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    let q = app.sign_in(&b, &params(&client, &with), "alice").await;
    let code = param(&q, "code").unwrap();
    assert_eq!(
        redeem(&app, &client, &code, Some(&verifier)).await.status(),
        200
    );
}

/// The default stays `required`, and a public client stays strict even if a row says otherwise.
async fn pkce_stays_required_by_default_and_for_public_clients(app: TestApp) {
    let strict = app.create_client().await;
    let public = app
        .create_client_custom(true, |c| c.pkce_optional = true)
        .await;
    for client in [&strict, &public] {
        let resp = app.authorize(&browser(), &params(client, &[])).await;
        assert_eq!(resp.status(), 303);
        let q = query_of(&location(&resp));
        assert_eq!(param(&q, "error").as_deref(), Some("invalid_request"));
    }
}

crate::backend_tests!(
    optional_pkce_client_signs_in_without_pkce,
    pkce_downgrade_is_refused,
    pkce_stays_required_by_default_and_for_public_clients,
);
