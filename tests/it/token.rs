//! /token refusals (RFC 6749 §5.2, RFC 7636 §4.6). A refused request changes nothing.
use crate::helpers::*;
use gatehouse::crypto::random_token;

async fn setup(app: &TestApp) -> (TestClient, String, String) {
    app.create_user("alice").await;
    let client = app.create_client().await;
    let (code, verifier) = app.get_code(&browser(), &client, "openid", "alice").await;
    (client, code, verifier)
}

async fn error_of(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: serde_json::Value = resp.json().await.unwrap();
    (status, body["error"].as_str().unwrap().to_string())
}

async fn token_response_is_not_cacheable(app: TestApp) {
    let (client, code, verifier) = setup(&app).await;
    let resp = app.exchange(&client, &code, &verifier).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!(resp.headers()["pragma"], "no-cache");
}

/// RFC 7636 §4.6: a wrong verifier is invalid_grant, and the code survives for the right one.
async fn wrong_code_verifier_is_invalid_grant_and_changes_nothing(app: TestApp) {
    let (client, code, verifier) = setup(&app).await;
    assert_eq!(
        error_of(app.exchange(&client, &code, &random_token()).await).await,
        (400, "invalid_grant".into())
    );
    assert_eq!(
        error_of(app.exchange(&client, &code, "short").await).await,
        (400, "invalid_request".into())
    );
    assert_eq!(app.exchange(&client, &code, &verifier).await.status(), 200);
}

async fn missing_code_verifier_is_refused(app: TestApp) {
    let (client, code, _) = setup(&app).await;
    let resp = app
        .token(
            &client,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
            ],
        )
        .await;
    assert_eq!(error_of(resp).await, (400, "invalid_request".into()));
}

/// RFC 6749 §4.1.2: a second redemption fails and revokes the tokens the first one issued.
async fn reused_code_is_rejected_and_revokes_issued_tokens(app: TestApp) {
    let (client, code, verifier) = setup(&app).await;
    let first: serde_json::Value = app
        .exchange(&client, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let at = first["access_token"].as_str().unwrap();
    assert_eq!(app.userinfo(at).await.status(), 200);
    assert_eq!(
        error_of(app.exchange(&client, &code, &verifier).await).await,
        (400, "invalid_grant".into())
    );
    assert_eq!(
        app.userinfo(at).await.status(),
        401,
        "tokens from a replayed code are revoked"
    );
}

/// RFC 6749 §4.1.3: redirect_uri must be identical to the authorization request's.
async fn redirect_uri_mismatch_at_token_is_invalid_grant(app: TestApp) {
    let (client, code, verifier) = setup(&app).await;
    let resp = app
        .token(
            &client,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "https://app.example.com/other"),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    assert_eq!(error_of(resp).await, (400, "invalid_grant".into()));
    assert_eq!(app.exchange(&client, &code, &verifier).await.status(), 200);
}

/// RFC 6749 §5.2: 401 with WWW-Authenticate when Basic credentials fail.
async fn bad_client_secret_is_invalid_client(app: TestApp) {
    let (client, code, verifier) = setup(&app).await;
    let wrong = TestClient {
        id: client.id.clone(),
        secret: Some(random_token()),
    };
    let resp = app.exchange(&wrong, &code, &verifier).await;
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    assert_eq!(error_of(resp).await, (401, "invalid_client".into()));
    // No secret at all from a confidential client.
    let none = TestClient {
        id: client.id.clone(),
        secret: None,
    };
    assert_eq!(
        error_of(app.exchange(&none, &code, &verifier).await).await,
        (401, "invalid_client".into())
    );
    assert_eq!(app.exchange(&client, &code, &verifier).await.status(), 200);
}

async fn unknown_client_is_invalid_client(app: TestApp) {
    let (_, code, verifier) = setup(&app).await;
    let ghost = TestClient {
        id: "ghost".into(),
        secret: Some(random_token()),
    };
    assert_eq!(
        error_of(app.exchange(&ghost, &code, &verifier).await).await,
        (401, "invalid_client".into())
    );
}

/// Keycloak CVE-2026-16089 class: a code is redeemable only by its own client.
async fn code_of_another_client_is_invalid_grant(app: TestApp) {
    let (_, code, verifier) = setup(&app).await;
    let other = app.create_client().await;
    assert_eq!(
        error_of(app.exchange(&other, &code, &verifier).await).await,
        (400, "invalid_grant".into())
    );
}

/// Codes live 60 seconds.
async fn expired_code_is_invalid_grant(app: TestApp) {
    let (client, code, verifier) = setup(&app).await;
    app.clock.advance(61);
    assert_eq!(
        error_of(app.exchange(&client, &code, &verifier).await).await,
        (400, "invalid_grant".into())
    );
}

/// RFC 6749 §2.3: one authentication method per request.
async fn two_client_auth_methods_are_refused(app: TestApp) {
    let (client, code, verifier) = setup(&app).await;
    let secret = client.secret.clone().unwrap();
    let resp = app
        .http
        .post(app.url("/token"))
        .basic_auth(&client.id, Some(&secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &verifier),
            ("client_secret", &secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(resp).await, (400, "invalid_request".into()));
}

async fn client_secret_post_is_accepted(app: TestApp) {
    let (client, code, verifier) = setup(&app).await;
    let secret = client.secret.clone().unwrap();
    let resp = app
        .http
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &verifier),
            ("client_id", &client.id),
            ("client_secret", &secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

async fn unsupported_and_missing_grant_types(app: TestApp) {
    let client = app.create_client().await;
    assert_eq!(
        error_of(
            app.token(
                &client,
                &[
                    ("grant_type", "password"),
                    ("username", "a"),
                    ("password", "b")
                ]
            )
            .await
        )
        .await,
        (400, "unsupported_grant_type".into())
    );
    assert_eq!(
        error_of(app.token(&client, &[("code", "x")]).await).await,
        (400, "invalid_request".into())
    );
    assert_eq!(
        error_of(
            app.token(
                &client,
                &[
                    ("grant_type", "authorization_code"),
                    ("grant_type", "authorization_code")
                ]
            )
            .await
        )
        .await,
        (400, "invalid_request".into())
    );
}

async fn unknown_code_is_invalid_grant(app: TestApp) {
    let client = app.create_client().await;
    let resp = app
        .exchange(&client, &random_token(), &random_token())
        .await;
    assert_eq!(error_of(resp).await, (400, "invalid_grant".into()));
}

/// A replay is recognised even when the rest of the request is wrong, and long after the
/// code's 60 s lifetime (the expiry sweep keeps consumed codes while their tokens live).
async fn late_or_sloppy_replay_still_revokes(app: TestApp) {
    let (client, code, verifier) = setup(&app).await;
    let first: serde_json::Value = app
        .exchange(&client, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let at = first["access_token"].as_str().unwrap();
    app.clock.advance(120);
    app.store
        .delete_expired(app.clock.now(), 600, 0, 2, 8 * 3600)
        .await
        .unwrap();
    let sloppy = app
        .token(
            &client,
            &[("grant_type", "authorization_code"), ("code", &code)],
        )
        .await;
    assert_eq!(error_of(sloppy).await, (400, "invalid_grant".into()));
    assert_eq!(app.userinfo(at).await.status(), 401);
}

crate::backend_tests!(
    token_response_is_not_cacheable,
    wrong_code_verifier_is_invalid_grant_and_changes_nothing,
    missing_code_verifier_is_refused,
    reused_code_is_rejected_and_revokes_issued_tokens,
    redirect_uri_mismatch_at_token_is_invalid_grant,
    bad_client_secret_is_invalid_client,
    unknown_client_is_invalid_client,
    code_of_another_client_is_invalid_grant,
    expired_code_is_invalid_grant,
    two_client_auth_methods_are_refused,
    client_secret_post_is_accepted,
    unsupported_and_missing_grant_types,
    unknown_code_is_invalid_grant,
    late_or_sloppy_replay_still_revokes,
);
