//! RFC 9126 pushed authorization requests: `/par`, then `/authorize` with the `request_uri`.
use crate::helpers::*;
use gatehouse::crypto::random_token;
use gatehouse::oauth::pkce::s256_challenge;

/// The request a client pushes, with its PKCE verifier.
fn request(state: &str) -> (Vec<(&'static str, String)>, String) {
    let verifier = random_token();
    let form = vec![
        ("response_type", "code".to_owned()),
        ("redirect_uri", REDIRECT_URI.to_owned()),
        ("scope", "openid email".to_owned()),
        ("state", state.to_owned()),
        ("nonce", "n-pushed".to_owned()),
        ("code_challenge", s256_challenge(&verifier)),
        ("code_challenge_method", "S256".to_owned()),
    ];
    (form, verifier)
}

async fn push(
    app: &TestApp,
    client: &TestClient,
    form: &[(&'static str, String)],
) -> reqwest::Response {
    let mut req = app.http.post(app.url("/par"));
    let mut body: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    match &client.secret {
        Some(s) => req = req.basic_auth(&client.id, Some(s)),
        None => body.push(("client_id", &client.id)),
    }
    req.form(&body).send().await.unwrap()
}

async fn pushed_uri(app: &TestApp, client: &TestClient, form: &[(&'static str, String)]) -> String {
    let resp = push(app, client, form).await;
    assert_eq!(resp.status(), 201, "RFC 9126 §2.2: 201 Created");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["expires_in"], 60);
    let uri = body["request_uri"].as_str().unwrap().to_owned();
    assert!(
        uri.starts_with("urn:ietf:params:oauth:request_uri:"),
        "{uri}"
    );
    uri
}

/// The error page `/authorize` answers (never a redirect: the request is not trusted).
async fn error_page(app: &TestApp, params: &[(&str, &str)]) -> String {
    let resp = app.authorize(&browser(), params).await;
    assert_eq!(resp.status(), 400);
    resp.text().await.unwrap()
}

async fn a_pushed_request_signs_in_once(app: TestApp) {
    app.create_user("alice").await;
    let client = app.create_client().await;
    let (form, verifier) = request("pushed-state");
    let uri = pushed_uri(&app, &client, &form).await;
    // Only client_id and request_uri count: the browser's other parameters are ignored.
    let q = app
        .sign_in(
            &browser(),
            &[
                ("client_id", &client.id),
                ("request_uri", &uri),
                ("state", "from-the-browser"),
                ("scope", "openid profile"),
            ],
            "alice",
        )
        .await;
    assert_eq!(param(&q, "state").as_deref(), Some("pushed-state"));
    let code = param(&q, "code").unwrap();
    let resp = app.exchange(&client, &code, &verifier).await;
    assert_eq!(resp.status(), 200);
    let t: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(t["scope"], "openid email");
    assert_eq!(
        jwt_claims(t["id_token"].as_str().unwrap())["nonce"],
        "n-pushed"
    );
    // Single use.
    let html = error_page(&app, &[("client_id", &client.id), ("request_uri", &uri)]).await;
    assert!(
        html.contains("request_uri is unknown, used, expired"),
        "{html}"
    );
}

async fn expired_and_foreign_request_uris_are_refused(app: TestApp) {
    app.create_user("alice").await;
    let client = app.create_client().await;
    let other = app.create_client().await;
    let (form, _) = request("s");
    let uri = pushed_uri(&app, &client, &form).await;
    // Another client's: refused, and the owner's request is untouched.
    error_page(&app, &[("client_id", &other.id), ("request_uri", &uri)]).await;
    let resp = app
        .authorize(
            &browser(),
            &[("client_id", &client.id), ("request_uri", &uri)],
        )
        .await;
    assert_eq!(resp.status(), 303, "the owner may still use it");
    // Expired after 60 seconds.
    let uri = pushed_uri(&app, &client, &form).await;
    app.clock.advance(61);
    error_page(&app, &[("client_id", &client.id), ("request_uri", &uri)]).await;
    // Never pushed, and without client_id.
    error_page(
        &app,
        &[
            ("client_id", &client.id),
            ("request_uri", "urn:ietf:params:oauth:request_uri:nope"),
        ],
    )
    .await;
    error_page(&app, &[("request_uri", &uri)]).await;
}

async fn bad_pushes_get_token_endpoint_errors(app: TestApp) {
    let client = app.create_client().await;
    let other = app.create_client().await;
    let (form, _) = request("s");
    let cases: Vec<(Vec<(&'static str, String)>, &str)> = vec![
        (
            form.iter()
                .filter(|(k, _)| *k != "response_type")
                .cloned()
                .collect(),
            "invalid_request",
        ),
        (
            form.iter()
                .map(|(k, v)| match *k {
                    "redirect_uri" => (*k, "https://evil.example/cb".to_owned()),
                    _ => (*k, v.clone()),
                })
                .collect(),
            "invalid_request",
        ),
        (
            form.iter()
                .filter(|(k, _)| *k != "code_challenge")
                .cloned()
                .collect(),
            "invalid_request",
        ),
        (
            [form.clone(), vec![("request_uri", "urn:x".to_owned())]].concat(),
            "invalid_request",
        ),
    ];
    for (body, error) in cases {
        let resp = push(&app, &client, &body).await;
        assert_eq!(resp.status(), 400, "{body:?}");
        let e: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(e["error"], error, "{body:?}");
    }
    // Another client's id beside this client's credentials fails authentication (RFC 6749
    // §2.3), and client authentication is required, as at /token.
    let foreign = [form.clone(), vec![("client_id", other.id.clone())]].concat();
    let resp = push(&app, &client, &foreign).await;
    assert_eq!(resp.status(), 401);
    let wrong = TestClient {
        id: client.id.clone(),
        secret: Some("wrong".into()),
    };
    let resp = push(&app, &wrong, &form).await;
    assert_eq!(resp.status(), 401);
    let e: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(e["error"], "invalid_client");
    assert_eq!(
        app.store.growing_rows().await.unwrap(),
        0,
        "nothing was kept"
    );
}

async fn a_client_that_requires_par_refuses_plain_requests(app: TestApp) {
    app.create_user("alice").await;
    let client = app
        .create_client_custom(false, |c| c.require_par = true)
        .await;
    let (form, verifier) = request("s");
    let mut plain: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    plain.push(("client_id", &client.id));
    let html = error_page(&app, &plain).await;
    assert!(
        html.contains("must push its authorization requests"),
        "{html}"
    );
    let uri = pushed_uri(&app, &client, &form).await;
    let q = app
        .sign_in(
            &browser(),
            &[("client_id", &client.id), ("request_uri", &uri)],
            "alice",
        )
        .await;
    let code = param(&q, "code").unwrap();
    assert_eq!(app.exchange(&client, &code, &verifier).await.status(), 200);
    // A public client pushes too (client_id alone authenticates it, RFC 9126 §2).
    let spa = app
        .create_client_with(true, &[REDIRECT_URI], &[], false)
        .await;
    pushed_uri(&app, &spa, &form).await;
}

async fn discovery_names_the_endpoint(app: TestApp) {
    let d = app.discovery().await;
    assert_eq!(d["pushed_authorization_request_endpoint"], app.url("/par"));
    assert_eq!(d["require_pushed_authorization_requests"], false);
}

crate::backend_tests!(
    a_pushed_request_signs_in_once,
    expired_and_foreign_request_uris_are_refused,
    bad_pushes_get_token_endpoint_errors,
    a_client_that_requires_par_refuses_plain_requests,
    discovery_names_the_endpoint,
);

/// `GATEHOUSE_REQUIRE_PAR=true` holds every client to it, and says so in discovery.
mod server_wide {
    use super::*;

    async fn every_client_must_push(app: TestApp) {
        let d = app.discovery().await;
        assert_eq!(d["require_pushed_authorization_requests"], true);
        let client = app.create_client().await;
        let (form, _) = request("s");
        let mut plain: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        plain.push(("client_id", &client.id));
        error_page(&app, &plain).await;
        let uri = pushed_uri(&app, &client, &form).await;
        let resp = app
            .authorize(
                &browser(),
                &[("client_id", &client.id), ("request_uri", &uri)],
            )
            .await;
        assert_eq!(resp.status(), 303);
    }

    crate::backend_tests_with!(|c| c.require_par = true; every_client_must_push);
}

/// RFC 9126 §6: a client registering itself (RFC 7591) may hold itself to PAR.
mod registered {
    use super::*;

    async fn a_registered_client_may_require_par(app: TestApp) {
        let token = gatehouse::admin::registration::issue_token(
            &app.store,
            app.clock.now(),
            gatehouse::admin::Actor::CLI,
            600,
        )
        .await
        .unwrap();
        let resp = app
            .http
            .post(app.url("/register"))
            .bearer_auth(token)
            .json(&serde_json::json!({
                "redirect_uris": [REDIRECT_URI],
                "require_pushed_authorization_requests": true,
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        let reg: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(reg["require_pushed_authorization_requests"], true);
        let client_id = reg["client_id"].as_str().unwrap();
        let (form, _) = request("s");
        let mut plain: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        plain.push(("client_id", client_id));
        error_page(&app, &plain).await;
        let client = TestClient {
            id: client_id.to_owned(),
            secret: reg["client_secret"].as_str().map(str::to_owned),
        };
        pushed_uri(&app, &client, &form).await;
    }

    crate::backend_tests_with!(|c| c.dynamic_registration = true; a_registered_client_may_require_par);
}
