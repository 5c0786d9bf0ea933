//! OpenID Connect Back-Channel Logout 1.0: a relying party's back end, served by the test on
//! loopback, receives a logout token when a session it got tokens in ends, and validates it as
//! an RP would (signature through our JWKS, `iss`, `aud`, `iat`, `jti`, `events`, `sid`).
use crate::helpers::*;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The RP's back end: records each POST's content type and `logout_token`, answering the
/// first `failures` with `status`.
#[derive(Clone)]
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<(String, String)>>>,
    hits: Arc<AtomicUsize>,
}

async fn receiver(failures: usize, status: u16) -> Receiver {
    use axum::routing::post;
    let received = Arc::new(Mutex::new(Vec::new()));
    let hits = Arc::new(AtomicUsize::new(0));
    let (r, h) = (received.clone(), hits.clone());
    let app = axum::Router::new().route(
        "/backchannel",
        post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let (r, h) = (r.clone(), h.clone());
                async move {
                    let n = h.fetch_add(1, Ordering::SeqCst);
                    if n < failures {
                        return axum::http::StatusCode::from_u16(status).unwrap();
                    }
                    let content_type = headers
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    let token = form_urlencoded::parse(&body)
                        .find(|(k, _)| k == "logout_token")
                        .map(|(_, v)| v.into_owned())
                        .unwrap_or_default();
                    r.lock().unwrap().push((content_type, token));
                    axum::http::StatusCode::OK
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/backchannel", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Receiver {
        url,
        received,
        hits,
    }
}

impl Receiver {
    /// Waits (up to 15 s: a retry waits for the sender's next look) for `n` logout tokens.
    async fn wait_for(&self, n: usize) -> Vec<(String, String)> {
        for _ in 0..150 {
            let got = self.received.lock().unwrap().clone();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{n} logout token(s) never arrived");
    }

    fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }
}

/// Rows in `table`, read past the server.
async fn rows(app: &TestApp, table: &str) -> i64 {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&app.config.database_url())
        .await
        .unwrap();
    let n = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select count(*) from {table}")))
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    n
}

/// A confidential web app whose back end is `receiver`.
async fn app_with_back_end(app: &TestApp, receiver: &Receiver) -> TestClient {
    app.create_client_custom(false, |c| {
        c.skip_consent = true;
        c.grant_types = vec![GrantType::AuthorizationCode, GrantType::RefreshToken];
        c.backchannel_logout_uri = Some(receiver.url.clone());
    })
    .await
}

/// Signs alice in for `client` through `browser`; the token response.
async fn sign_in(app: &TestApp, browser: &reqwest::Client, client: &TestClient) -> Value {
    let (code, verifier) = app.get_code(browser, client, "openid", "alice").await;
    let resp = app.exchange(client, &code, &verifier).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// RP-initiated logout with the ID token as hint: the browser is signed out at once.
async fn rp_logout(app: &TestApp, browser: &reqwest::Client, tokens: &Value) {
    let id_token = tokens["id_token"].as_str().unwrap();
    let page = app
        .get(browser, &format!("/logout?id_token_hint={id_token}"))
        .await;
    assert_eq!(page.status(), 200);
}

/// What an RP's back end does with a logout token (§2.6): verifies it against the issuer's
/// JWKS and checks every claim; returns the claims.
async fn validate(app: &TestApp, token: &str, client: &TestClient) -> Value {
    let header = jwt_header(token);
    assert_eq!(header["typ"], "logout+jwt", "§2.4 explicit typing");
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(app.get_json(&app.url("/jwks.json")).await).unwrap();
    let jwk = jwks
        .find(header["kid"].as_str().unwrap())
        .expect("the signing key is published");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[&app.issuer]);
    validation.set_audience(&[&client.id]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    let claims = jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(),
        &validation,
    )
    .expect("a valid signature and claims")
    .claims;
    let now = app.clock.now();
    let iat = claims["iat"].as_i64().unwrap();
    assert!((now - 30..=now + 5).contains(&iat), "fresh iat");
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16));
    assert_eq!(claims["events"], json!({ EVENT: {} }));
    assert!(claims.get("nonce").is_none(), "§2.4: never a nonce");
    claims
}

async fn rp_initiated_logout_reaches_the_back_end(app: TestApp) {
    let alice = app.create_user("alice").await;
    let rp = receiver(0, 200).await;
    let client = app_with_back_end(&app, &rp).await;
    let bystander = app
        .create_client_custom(false, |c| c.skip_consent = true)
        .await;
    let browser = browser();
    let tokens = sign_in(&app, &browser, &client).await;
    sign_in(&app, &browser, &bystander).await;
    assert_eq!(
        rows(&app, "session_clients").await,
        1,
        "only clients with a back-channel URI are recorded"
    );
    let id_token = tokens["id_token"].as_str().unwrap();
    let sid = jwt_claims(id_token)["sid"].as_str().unwrap().to_owned();
    assert!(sid.len() >= 16, "§2.1: ID tokens carry sid");

    // The same session signs in to the app again: one sid, one logout.
    let again = sign_in(&app, &browser, &client).await;
    assert_eq!(jwt_claims(again["id_token"].as_str().unwrap())["sid"], sid);

    let page = app
        .get(
            &browser,
            &format!("/logout?id_token_hint={id_token}&client_id={}", client.id),
        )
        .await;
    assert_eq!(page.status(), 200);
    let got = rp.wait_for(1).await;
    assert_eq!(got[0].0, "application/x-www-form-urlencoded");
    let claims = validate(&app, &got[0].1, &client).await;
    assert_eq!(claims["sub"], alice.id);
    assert_eq!(claims["sid"], sid);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rp.count(), 1, "one logout per client and session");
    assert_eq!(app.store.logout_backlog().await.unwrap(), (0, 0));

    // Signed out elsewhere later: this session is gone, and nobody is told twice.
    app.store
        .end_user_sessions(&alice.id, None, app.clock.now())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rp.count(), 1);
}

/// An admin ending a user's sessions, or the user signing out on `/account`: every session's
/// clients are told, each with its own sid.
async fn ending_sessions_from_the_admin_api_and_the_account_page(app: TestApp) {
    let alice = app.create_user("alice").await;
    let rp = receiver(0, 200).await;
    let client = app_with_back_end(&app, &rp).await;
    let (first, second) = (browser(), browser());
    let sid = |t: &Value| jwt_claims(t["id_token"].as_str().unwrap())["sid"].clone();
    let sid1 = sid(&sign_in(&app, &first, &client).await);
    let sid2 = sid(&sign_in(&app, &second, &client).await);
    assert_ne!(sid1, sid2, "two browsers, two sessions");

    let (_, token) = crate::admin_api::admin_token(&app).await;
    let ended = app
        .http
        .delete(app.url(&format!("/admin/api/v1/users/{}/sessions", alice.id)))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(ended.status().is_success(), "{}", ended.status());
    let got = rp.wait_for(2).await;
    let mut sids = Vec::new();
    for (_, t) in &got {
        let claims = validate(&app, t, &client).await;
        assert_eq!(claims["sub"], alice.id);
        sids.push(claims["sid"].clone());
    }
    sids.sort_by_key(|s| s.to_string());
    let mut want = vec![sid1, sid2];
    want.sort_by_key(|s| s.to_string());
    assert_eq!(sids, want);

    // The account page's sign-out button.
    let third = browser();
    let sid3 = sid(&sign_in(&app, &third, &client).await);
    let account = app.get(&third, "/account").await.text().await.unwrap();
    let signed_out = third
        .post(app.url("/logout"))
        .form(&[("csrf", hidden(&account, "csrf"))])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_out.status(), 200);
    let got = rp.wait_for(3).await;
    assert_eq!(validate(&app, &got[2].1, &client).await["sid"], sid3);
}

/// A back end that is down is tried again with back-off until it answers; one that refuses
/// the token (400, §2.8) is not.
async fn a_failing_back_end_is_retried(app: TestApp) {
    app.create_user("alice").await;
    let rp = receiver(1, 503).await;
    let client = app_with_back_end(&app, &rp).await;
    let browser = browser();
    let tokens = sign_in(&app, &browser, &client).await;
    rp_logout(&app, &browser, &tokens).await;
    // The first attempt failed; the logout waits for its back-off.
    for _ in 0..100 {
        if rp.hits.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Until the sender has recorded the failure and released the logout.
    for _ in 0..100 {
        if rows(&app, "logout_outbox where claimed_until = 0").await == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        app.store.logout_backlog().await.unwrap(),
        (1, 1),
        "one logout, tried once"
    );
    assert_eq!(rp.hits.load(Ordering::SeqCst), 1);
    app.clock.advance(6);
    let got = rp.wait_for(1).await;
    validate(&app, &got[0].1, &client).await;
    assert_eq!(rp.hits.load(Ordering::SeqCst), 2);

    // A refusal drops the logout.
    let refusing = receiver(usize::MAX, 400).await;
    let strict = app_with_back_end(&app, &refusing).await;
    let other = crate::helpers::browser();
    let tokens = sign_in(&app, &other, &strict).await;
    rp_logout(&app, &other, &tokens).await;
    for _ in 0..100 {
        if refusing.hits.load(Ordering::SeqCst) == 1
            && app.store.logout_backlog().await.unwrap() == (0, 0)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.store.logout_backlog().await.unwrap(), (0, 0));
    // Gone from the queue: never tried again.
    assert_eq!(refusing.hits.load(Ordering::SeqCst), 1, "not retried");
}

/// Offline access outlives the session, and its refreshed ID tokens keep naming it.
async fn refreshed_id_tokens_keep_their_sid(app: TestApp) {
    app.create_user("alice").await;
    let rp = receiver(0, 200).await;
    let client = app_with_back_end(&app, &rp).await;
    let browser = browser();
    let (code, verifier) = app
        .get_code(&browser, &client, "openid offline_access", "alice")
        .await;
    let tokens: Value = app
        .exchange(&client, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let sid = jwt_claims(tokens["id_token"].as_str().unwrap())["sid"].clone();
    let refreshed: Value = app
        .refresh(&client, tokens["refresh_token"].as_str().unwrap(), &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        jwt_claims(refreshed["id_token"].as_str().unwrap())["sid"],
        sid
    );
    rp_logout(&app, &browser, &tokens).await;
    let got = rp.wait_for(1).await;
    assert_eq!(validate(&app, &got[0].1, &client).await["sid"], sid);
    // Offline access survives the logout (§2.7).
    let after = app
        .refresh(&client, refreshed["refresh_token"].as_str().unwrap(), &[])
        .await;
    assert_eq!(after.status(), 200);
}

async fn discovery_and_registration_name_back_channel_logout(app: TestApp) {
    let d = app.discovery().await;
    assert_eq!(d["backchannel_logout_supported"], true);
    assert_eq!(d["backchannel_logout_session_supported"], true);
    assert!(
        d["claims_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("sid"))
    );
    let (_, token) = crate::admin_api::admin_token(&app).await;
    let create = |body: Value| {
        let (app, token) = (&app, &token);
        async move {
            app.http
                .post(app.url("/admin/api/v1/clients"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let base = json!({
        "client_name": "Back end", "redirect_uris": [REDIRECT_URI],
        "backchannel_logout_uri": "https://app.example.com/logout?tenant=1",
        "backchannel_logout_session_required": true,
    });
    let created = create(base.clone()).await;
    assert_eq!(created.status(), 201);
    let c: Value = created.json().await.unwrap();
    assert_eq!(
        c["backchannel_logout_uri"],
        "https://app.example.com/logout?tenant=1"
    );
    assert_eq!(c["backchannel_logout_session_required"], true);
    for bad in [
        "https://app.example.com/logout#frag",
        "ftp://app.example.com/logout",
        "not a url",
    ] {
        let mut body = base.clone();
        body["backchannel_logout_uri"] = json!(bad);
        let resp = create(body).await;
        let status = resp.status();
        let p: Value = resp.json().await.unwrap();
        assert_eq!(
            (status.as_u16(), p["field"].as_str()),
            (400, Some("backchannel_logout_uri")),
            "{bad}: {p}"
        );
    }
    // §2.2: plain http only for a confidential client (or on loopback).
    let mut public = base.clone();
    public["token_endpoint_auth_method"] = json!("none");
    public["backchannel_logout_uri"] = json!("http://app.internal/logout");
    assert_eq!(create(public.clone()).await.status(), 400);
    public["token_endpoint_auth_method"] = json!("client_secret_basic");
    assert_eq!(create(public).await.status(), 201);
}

/// Two people, one after the other, in one browser: each sign-in has its own `sid`, ending the
/// first person's sessions reaches their apps though the browser now belongs to the second, and
/// a client deleted meanwhile is not called.
async fn each_person_in_a_shared_browser_is_logged_out_alone(app: TestApp) {
    let alice = app.create_user("alice").await;
    let bob = app.create_user("bob").await;
    let rp = receiver(0, 200).await;
    let client = app_with_back_end(&app, &rp).await;
    let gone = app_with_back_end(&app, &rp).await;
    let browser = browser();
    let first = sign_in(&app, &browser, &client).await;
    sign_in(&app, &browser, &gone).await;
    let verifier = gatehouse::crypto::random_token();
    let challenge = gatehouse::oauth::pkce::s256_challenge(&verifier);
    let q = app
        .sign_in(
            &browser,
            &[
                ("response_type", "code"),
                ("client_id", &client.id),
                ("redirect_uri", REDIRECT_URI),
                ("scope", "openid"),
                ("prompt", "login"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
            "bob",
        )
        .await;
    let second: Value = app
        .exchange(&client, &param(&q, "code").unwrap(), &verifier)
        .await
        .json()
        .await
        .unwrap();
    let sid = |t: &Value| jwt_claims(t["id_token"].as_str().unwrap())["sid"].clone();
    assert_eq!(
        jwt_claims(second["id_token"].as_str().unwrap())["sub"],
        bob.id
    );
    assert_ne!(sid(&first), sid(&second), "another person, another sid");

    app.store.delete_client(&gone.id).await.unwrap();
    let ended = app
        .store
        .end_user_sessions(&alice.id, None, app.clock.now())
        .await
        .unwrap();
    assert_eq!(ended, 0, "the browser session is bob's now");
    let got = rp.wait_for(1).await;
    let claims = validate(&app, &got[0].1, &client).await;
    assert_eq!(
        (&claims["sub"], &claims["sid"]),
        (&json!(alice.id), &sid(&first))
    );

    // Bob is still signed in; his sign-out is his own.
    rp_logout(&app, &browser, &second).await;
    let got = rp.wait_for(2).await;
    let claims = validate(&app, &got[1].1, &client).await;
    assert_eq!(
        (&claims["sub"], &claims["sid"]),
        (&json!(bob.id), &sid(&second))
    );
    for _ in 0..50 {
        if app.store.logout_backlog().await.unwrap() == (0, 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.store.logout_backlog().await.unwrap(), (0, 0));
    assert_eq!(rp.count(), 2, "the deleted client's logout was dropped");
}

crate::backend_tests!(discovery_and_registration_name_back_channel_logout);

/// The back end listens on loopback, which outbound requests reach only with
/// `GATEHOUSE_OUTBOUND_ALLOW_LOOPBACK`, as tests and development set.
mod delivered {
    use super::*;
    crate::backend_tests_with!(|c| c.outbound_allow_loopback = true;
        rp_initiated_logout_reaches_the_back_end,
        ending_sessions_from_the_admin_api_and_the_account_page,
        a_failing_back_end_is_retried,
        refreshed_id_tokens_keep_their_sid,
        each_person_in_a_shared_browser_is_logged_out_alone,
    );
}

/// Without it, a loopback back end is never called and the logout is dropped.
mod refused {
    use super::*;

    async fn a_loopback_back_end_is_refused_by_default(app: TestApp) {
        app.create_user("alice").await;
        let rp = receiver(0, 200).await;
        let client = app_with_back_end(&app, &rp).await;
        let browser = browser();
        let tokens = sign_in(&app, &browser, &client).await;
        assert_eq!(rows(&app, "session_clients").await, 1);
        rp_logout(&app, &browser, &tokens).await;
        assert_eq!(rows(&app, "session_clients").await, 0, "queued");
        for _ in 0..50 {
            if app.store.logout_backlog().await.unwrap() == (0, 0) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(app.store.logout_backlog().await.unwrap(), (0, 0));
        assert_eq!(rp.hits.load(Ordering::SeqCst), 0);
    }

    crate::backend_tests!(a_loopback_back_end_is_refused_by_default);
}
