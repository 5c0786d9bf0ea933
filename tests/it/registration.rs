//! Dynamic client registration (RFC 7591) with initial access tokens, and its management
//! protocol (RFC 7592): off by default, single-use tokens, the spec's error codes, and a
//! registered client that signs people in, reads, replaces and deletes its registration.
use crate::helpers::*;
use serde_json::{Value, json};

async fn token(app: &TestApp) -> String {
    gatehouse::admin::registration::issue_token(
        &app.store,
        app.clock.now(),
        gatehouse::admin::Actor::CLI,
        3600,
    )
    .await
    .unwrap()
}

async fn register(app: &TestApp, token: Option<&str>, body: Value) -> reqwest::Response {
    let mut req = app.http.post(app.url("/register")).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn off_by_default() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    assert!(app.discovery().await.get("registration_endpoint").is_none());
    let t = token(&app).await;
    let resp = register(&app, Some(&t), json!({ "redirect_uris": [REDIRECT_URI] })).await;
    assert_eq!(resp.status(), 404);
}

async fn a_client_registers_and_manages_itself(app: TestApp) {
    let d = app.discovery().await;
    assert_eq!(d["registration_endpoint"], app.url("/register"));
    let body = json!({
        "client_name": "Notes",
        "redirect_uris": [REDIRECT_URI],
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": "openid email offline_access",
        "logo_uri": "https://notes.example.com/logo.png",
    });
    // No token gets the bare RFC 6750 challenge; one that is not ours, invalid_token. Neither
    // learns how its metadata would have been judged.
    for (t, challenge) in [
        (None, "Bearer"),
        (Some("not-a-token"), r#"Bearer error="invalid_token""#),
    ] {
        let bad = json!({ "redirect_uris": ["http://bad.example/cb"] });
        let resp = register(&app, t, bad).await;
        assert_eq!(resp.status(), 401);
        assert_eq!(resp.headers()["www-authenticate"], challenge);
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["error"], "invalid_token");
    }
    let t = token(&app).await;
    let created = register(&app, Some(&t), body.clone()).await;
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["cache-control"], "no-store");
    let reg: Value = created.json().await.unwrap();
    assert_eq!(reg["client_name"], "Notes");
    assert_eq!(reg["client_secret_expires_at"], 0);
    assert_eq!(reg["token_endpoint_auth_method"], "client_secret_basic");
    assert!(
        reg.get("logo_uri").is_none(),
        "unknown metadata is ignored (RFC 7591 §2)"
    );
    let id = reg["client_id"].as_str().unwrap().to_owned();
    let rat = reg["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let uri = reg["registration_client_uri"].as_str().unwrap().to_owned();
    assert_eq!(uri, app.url(&format!("/register/{id}")));
    // The token was good for one registration.
    let again = register(&app, Some(&t), body.clone()).await;
    assert_eq!(again.status(), 401);

    // The registered client signs a person in; consent is asked, as for any third party.
    app.create_user("alice").await;
    let client = TestClient {
        id: id.clone(),
        secret: Some(reg["client_secret"].as_str().unwrap().to_owned()),
    };
    assert!(
        !app.store
            .find_client(&id)
            .await
            .unwrap()
            .unwrap()
            .skip_consent
    );
    let b = browser();
    let (code, verifier) = app.get_code(&b, &client, "openid email", "alice").await;
    assert_eq!(app.exchange(&client, &code, &verifier).await.status(), 200);

    // RFC 7592: read, replace and delete with the registration access token only. Each answer
    // carries a new one (§3), and the one before stops working.
    let read = app.http.get(&uri).bearer_auth(&rat).send().await.unwrap();
    assert_eq!(read.status(), 200);
    let shown: Value = read.json().await.unwrap();
    assert_eq!(shown["client_id"], id.as_str());
    assert!(shown.get("client_secret").is_none());
    let old_rat = rat;
    let rat = shown["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(rat, old_rat);
    let stale = app
        .http
        .get(&uri)
        .bearer_auth(&old_rat)
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 401);
    // That read rotated the token again.
    let rat = {
        let again: Value = app
            .http
            .get(&uri)
            .bearer_auth(&rat)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        again["registration_access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let wrong = app.http.get(&uri).bearer_auth(&t).send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let other = app
        .http
        .get(app.url("/register/nope"))
        .bearer_auth(&rat)
        .send()
        .await
        .unwrap();
    assert_eq!(
        other.status(),
        401,
        "unknown clients look the same as wrong tokens"
    );
    let replaced = app
        .http
        .put(&uri)
        .bearer_auth(&rat)
        .json(&json!({ "client_id": id, "client_name": "Notes 2", "redirect_uris": ["https://notes.example.com/cb"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(replaced.status(), 200);
    let r: Value = replaced.json().await.unwrap();
    assert_eq!(r["client_name"], "Notes 2");
    let rat = r["registration_access_token"].as_str().unwrap().to_owned();
    assert_eq!(r["redirect_uris"], json!(["https://notes.example.com/cb"]));
    let mismatch = app
        .http
        .put(&uri)
        .bearer_auth(&rat)
        .json(&json!({ "client_id": "someone-else", "redirect_uris": [REDIRECT_URI] }))
        .send()
        .await
        .unwrap();
    assert_eq!(mismatch.status(), 400);
    let deleted = app
        .http
        .delete(&uri)
        .bearer_auth(&rat)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert!(app.store.find_client(&id).await.unwrap().is_none());
    assert_eq!(
        app.token(&client, &[("grant_type", "client_credentials")])
            .await
            .status(),
        401
    );
    assert_eq!(
        app.http
            .get(&uri)
            .bearer_auth(&rat)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

async fn bad_metadata_gets_the_spec_codes_and_keeps_the_token(app: TestApp) {
    let t = token(&app).await;
    for (body, code) in [
        (
            json!({ "redirect_uris": ["http://notes.example.com/cb"] }),
            "invalid_redirect_uri",
        ),
        (
            json!({ "redirect_uris": ["https://notes.example.com/cb#x"] }),
            "invalid_redirect_uri",
        ),
        (json!({}), "invalid_redirect_uri"),
        (
            json!({ "redirect_uris": [REDIRECT_URI], "grant_types": ["client_credentials"] }),
            "invalid_client_metadata",
        ),
        (
            json!({ "redirect_uris": [REDIRECT_URI], "scope": "openid gatehouse:admin" }),
            "invalid_client_metadata",
        ),
        (
            json!({ "redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "private_key_jwt" }),
            "invalid_client_metadata",
        ),
        (
            json!({ "redirect_uris": [REDIRECT_URI], "response_types": ["token"] }),
            "invalid_client_metadata",
        ),
        (
            json!({ "redirect_uris": "not a list" }),
            "invalid_client_metadata",
        ),
    ] {
        let resp = register(&app, Some(&t), body.clone()).await;
        assert_eq!(resp.status(), 400, "{body}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["error"], code, "{body}: {err}");
    }
    assert!(app.store.list_clients().await.unwrap().is_empty());
    // None of those used the token up; a public client registers with it.
    let spa = register(
        &app,
        Some(&t),
        json!({ "redirect_uris": ["https://spa.example.com/cb"], "token_endpoint_auth_method": "none" }),
    )
    .await;
    assert_eq!(spa.status(), 201);
    let reg: Value = spa.json().await.unwrap();
    assert!(reg.get("client_secret").is_none());
    assert_eq!(reg["client_name"], "spa.example.com");
    // An expired token is refused.
    let late = token(&app).await;
    app.clock.advance(3601);
    let resp = register(
        &app,
        Some(&late),
        json!({ "redirect_uris": [REDIRECT_URI] }),
    )
    .await;
    assert_eq!(resp.status(), 401);
}

/// Admins issue initial access tokens from the console (and the CLI), shown once.
async fn the_console_issues_registration_tokens(app: TestApp) {
    let root = app.create_user("root").await;
    app.store.set_user_admin(&root.id, true).await.unwrap();
    let b = browser();
    app.submit_login(&b, "/login", "root", PASSWORD).await;
    let html = app.get(&b, "/admin/clients").await.text().await.unwrap();
    assert!(html.contains("Issue a registration token"));
    let csrf = hidden(&html, "csrf");
    let page = b
        .post(app.url("/admin/clients/registration-token"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = page.find("id=\"registration-token\"").unwrap();
    let t = page[at..]
        .split("value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let resp = register(&app, Some(&t), json!({ "redirect_uris": [REDIRECT_URI] })).await;
    assert_eq!(resp.status(), 201);
    let log: Vec<String> = app
        .store
        .audit_events(&gatehouse::store::AuditQuery {
            limit: 20,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|r| format!("{} {}", r.event, r.actor))
        .collect();
    assert!(
        log.contains(&format!("registration.token_issued user:{}", root.id)),
        "{log:?}"
    );
    assert!(
        log.iter().any(|l| l == "client.created registration"),
        "{log:?}"
    );
}

/// OpenID Connect Back-Channel Logout 1.0 §2.2 metadata, kept and shown back.
async fn a_client_registers_a_back_channel_logout_uri(app: TestApp) {
    let t = token(&app).await;
    let resp = register(
        &app,
        Some(&t),
        json!({"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "none",
               "backchannel_logout_uri": "http://app.example.com/logout"}),
    )
    .await;
    assert_eq!(resp.status(), 400, "a public client's must be https");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client_metadata");
    let resp = register(
        &app,
        Some(&t),
        json!({"redirect_uris": [REDIRECT_URI],
               "backchannel_logout_uri": "https://app.example.com/logout",
               "backchannel_logout_session_required": true}),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let reg: Value = resp.json().await.unwrap();
    assert_eq!(
        reg["backchannel_logout_uri"],
        "https://app.example.com/logout"
    );
    assert_eq!(reg["backchannel_logout_session_required"], true);
    let stored = app
        .store
        .find_client(reg["client_id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.backchannel_logout_uri.as_deref(),
        Some("https://app.example.com/logout")
    );
}

/// RFC 7591 §2 with RFC 7523: a client registering its public keys gets no secret and
/// authenticates with assertions.
async fn a_client_registers_with_private_key_jwt(app: TestApp) {
    let key = EcKey::new();
    let t = token(&app).await;
    let mut private = key.jwk();
    private["d"] = json!("AAAA");
    for bad in [
        json!({"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "private_key_jwt"}),
        json!({"redirect_uris": [REDIRECT_URI], "jwks": {"keys": [key.jwk()]}}),
        json!({"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "private_key_jwt",
               "jwks": {"keys": [private]}}),
    ] {
        let resp = register(&app, Some(&t), bad.clone()).await;
        assert_eq!(resp.status(), 400, "{bad}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client_metadata", "{bad}");
    }
    let resp = register(
        &app,
        Some(&t),
        json!({
            "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [key.jwk()]},
        }),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let reg: Value = resp.json().await.unwrap();
    assert_eq!(reg["token_endpoint_auth_method"], "private_key_jwt");
    assert!(reg.get("client_secret").is_none());
    assert_eq!(reg["jwks"]["keys"][0]["x"], key.jwk()["x"]);
    let id = reg["client_id"].as_str().unwrap();
    let claims = json!({
        "iss": id, "sub": id, "aud": app.issuer, "jti": "one",
        "exp": app.clock.now() + 60,
    });
    let assertion = key.sign(&json!({"alg": "ES256"}), &claims);
    let resp = app
        .http
        .post(app.url("/introspect"))
        .form(&[
            ("token", "not-a-token"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &assertion),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "authenticated by its key");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["active"], false);
}

crate::backend_tests_with!(
    |c: &mut gatehouse::config::Config| c.dynamic_registration = true;
    a_client_registers_with_private_key_jwt,
    a_client_registers_a_back_channel_logout_uri,
    a_client_registers_and_manages_itself,
    bad_metadata_gets_the_spec_codes_and_keeps_the_token,
    the_console_issues_registration_tokens,
);
