//! /authorize refusals: before client and redirect_uri are verified we render our page and never
//! redirect (RFC 6749 §4.1.2.1); after, errors go back with error, state and iss.
use crate::helpers::*;
use gatehouse::crypto::random_token;
use gatehouse::oauth::pkce::s256_challenge;

fn base<'a>(client_id: &'a str, challenge: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid"),
        ("state", "xyz"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

fn with(
    mut params: Vec<(&'static str, String)>,
    key: &'static str,
    value: Option<&str>,
) -> Vec<(&'static str, String)> {
    params.retain(|(k, _)| *k != key);
    if let Some(v) = value {
        params.push((key, v.to_string()));
    }
    params
}

fn owned(p: Vec<(&str, &str)>) -> Vec<(&'static str, String)> {
    p.into_iter()
        .map(|(k, v)| {
            let k: &'static str = Box::leak(k.to_string().into_boxed_str());
            (k, v.to_string())
        })
        .collect()
}

async fn get(app: &TestApp, params: &[(&'static str, String)]) -> reqwest::Response {
    browser()
        .get(app.url("/authorize"))
        .query(params)
        .send()
        .await
        .unwrap()
}

async fn assert_page_error(resp: reqwest::Response) {
    assert_eq!(resp.status(), 400);
    assert!(
        resp.headers().get("location").is_none(),
        "must not redirect"
    );
    let html = resp.text().await.unwrap();
    assert!(html.contains("<h1>"), "an HTML error page");
}

async fn assert_redirect_error(app: &TestApp, resp: reqwest::Response, code: &str) {
    assert_eq!(resp.status(), 303);
    let loc = location(&resp);
    assert!(loc.starts_with(REDIRECT_URI), "{loc}");
    let q = query_of(&loc);
    assert_eq!(param(&q, "error").as_deref(), Some(code), "{loc}");
    assert_eq!(param(&q, "state").as_deref(), Some("xyz"));
    assert_eq!(
        param(&q, "iss").as_deref(),
        Some(app.issuer.as_str()),
        "RFC 9207 iss on errors too"
    );
    assert!(param(&q, "code").is_none());
}

async fn unknown_client_renders_error_page_and_does_not_redirect(app: TestApp) {
    let ch = s256_challenge(&random_token());
    assert_page_error(get(&app, &owned(base("no-such-client", &ch))).await).await;
    assert_page_error(get(&app, &with(owned(base("x", &ch)), "client_id", None)).await).await;
}

/// SECURITY.md: exact string match; near misses are refused without a redirect.
async fn near_miss_redirect_uris_render_error_page(app: TestApp) {
    let client = app.create_client().await;
    let ch = s256_challenge(&random_token());
    for near in [
        "https://APP.example.com/callback",
        "https://app.example.com/Callback",
        "https://app.example.com/callback/",
        "https://app.example.com/callback?extra=1",
        "https://app.example.com:8443/callback",
        "https://app.example.com/callback#frag",
        "https://app.example.com/callback/../callback",
        "https://app.example.com@evil.example/callback",
        "http://app.example.com/callback",
        "https://evil.example/callback",
    ] {
        let resp = get(
            &app,
            &with(owned(base(&client.id, &ch)), "redirect_uri", Some(near)),
        )
        .await;
        assert_eq!(resp.status(), 400, "{near}");
        assert!(resp.headers().get("location").is_none(), "{near}");
    }
    assert_page_error(
        get(
            &app,
            &with(owned(base(&client.id, &ch)), "redirect_uri", None),
        )
        .await,
    )
    .await;
}

/// RFC 8252 §7.3: a loopback redirect URI may use any port; nothing else may differ.
async fn loopback_redirect_uri_port_may_vary(app: TestApp) {
    let client = app
        .create_client_with(true, &["http://127.0.0.1/cb"], &[], false)
        .await;
    let ch = s256_challenge(&random_token());
    let ok = get(
        &app,
        &with(
            owned(base(&client.id, &ch)),
            "redirect_uri",
            Some("http://127.0.0.1:49152/cb"),
        ),
    )
    .await;
    assert_eq!(ok.status(), 303);
    assert!(location(&ok).starts_with("/login"));
    let bad = get(
        &app,
        &with(
            owned(base(&client.id, &ch)),
            "redirect_uri",
            Some("http://127.0.0.1:49152/cb2"),
        ),
    )
    .await;
    assert_eq!(bad.status(), 400);
}

async fn plain_pkce_is_refused(app: TestApp) {
    let client = app.create_client().await;
    let verifier = random_token();
    let p = with(
        with(
            owned(base(&client.id, "")),
            "code_challenge",
            Some(&verifier),
        ),
        "code_challenge_method",
        Some("plain"),
    );
    assert_redirect_error(&app, get(&app, &p).await, "invalid_request").await;
    // A challenge without a method means plain (RFC 7636 §4.3).
    let p = with(
        with(
            owned(base(&client.id, "")),
            "code_challenge",
            Some(&s256_challenge(&verifier)),
        ),
        "code_challenge_method",
        None,
    );
    assert_redirect_error(&app, get(&app, &p).await, "invalid_request").await;
}

async fn missing_pkce_is_refused(app: TestApp) {
    let client = app.create_client().await;
    let p = with(
        with(owned(base(&client.id, "")), "code_challenge", None),
        "code_challenge_method",
        None,
    );
    assert_redirect_error(&app, get(&app, &p).await, "invalid_request").await;
}

async fn only_response_type_code_is_supported(app: TestApp) {
    let client = app.create_client().await;
    let ch = s256_challenge(&random_token());
    for rt in ["token", "id_token", "code id_token"] {
        let resp = get(
            &app,
            &with(owned(base(&client.id, &ch)), "response_type", Some(rt)),
        )
        .await;
        assert_redirect_error(&app, resp, "unsupported_response_type").await;
    }
    let resp = get(
        &app,
        &with(owned(base(&client.id, &ch)), "response_type", None),
    )
    .await;
    assert_redirect_error(&app, resp, "invalid_request").await;
}

/// RFC 6749 §3.1: parameters must not repeat.
async fn repeated_parameter_is_refused(app: TestApp) {
    let client = app.create_client().await;
    let ch = s256_challenge(&random_token());
    let mut p = owned(base(&client.id, &ch));
    p.push(("scope", "openid email".into()));
    assert_redirect_error(&app, get(&app, &p).await, "invalid_request").await;
    // A repeated client_id cannot be trusted: page, no redirect.
    let mut p = owned(base(&client.id, &ch));
    p.push(("client_id", client.id.clone()));
    assert_page_error(get(&app, &p).await).await;
}

/// OIDC Core §3.1.2.6: prompt=none without a session answers login_required at the client.
async fn prompt_none_without_session_is_login_required(app: TestApp) {
    let client = app.create_client().await;
    let ch = s256_challenge(&random_token());
    let p = with(owned(base(&client.id, &ch)), "prompt", Some("none"));
    assert_redirect_error(&app, get(&app, &p).await, "login_required").await;
}

async fn denied_consent_returns_access_denied(app: TestApp) {
    app.create_user("alice").await;
    let client = app.create_client().await;
    let b = browser();
    let ch = s256_challenge(&random_token());
    let resp = app.authorize(&b, &base(&client.id, &ch)).await;
    let resp = app
        .submit_login(&b, &location(&resp), "alice", PASSWORD)
        .await;
    let consent = location(&resp);
    assert!(consent.starts_with("/consent"));
    let resp = app.submit_consent(&b, &consent, "deny").await;
    assert_redirect_error(&app, resp, "access_denied").await;
}

async fn request_objects_are_not_supported(app: TestApp) {
    let client = app.create_client().await;
    let ch = s256_challenge(&random_token());
    let p = with(
        owned(base(&client.id, &ch)),
        "request",
        Some("eyJhbGciOiJub25lIn0.e30."),
    );
    assert_redirect_error(&app, get(&app, &p).await, "request_not_supported").await;
}

/// The state value is reflected only into the redirect, escaped; the error page escapes input.
async fn error_page_escapes_and_sets_security_headers(app: TestApp) {
    let ch = s256_challenge(&random_token());
    let resp = get(&app, &owned(base("<script>alert(1)</script>", &ch))).await;
    let h = resp.headers().clone();
    assert_eq!(h["x-frame-options"], "DENY");
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert!(
        h.get("access-control-allow-origin").is_none(),
        "no CORS on /authorize"
    );
    let html = resp.text().await.unwrap();
    assert!(!html.contains("<script>"));
}

crate::backend_tests!(
    unknown_client_renders_error_page_and_does_not_redirect,
    near_miss_redirect_uris_render_error_page,
    loopback_redirect_uri_port_may_vary,
    plain_pkce_is_refused,
    missing_pkce_is_refused,
    only_response_type_code_is_supported,
    repeated_parameter_is_refused,
    prompt_none_without_session_is_login_required,
    denied_consent_returns_access_denied,
    request_objects_are_not_supported,
    error_page_escapes_and_sets_security_headers,
);
