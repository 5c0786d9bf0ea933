//! RFC 7523 `private_key_jwt` client authentication (OIDC Core §9): assertions signed by keys
//! registered inline or published at a `jwks_uri` the test serves on loopback.
use crate::helpers::*;
use gatehouse::crypto::random_token;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A machine client authenticating with keys (`jwks` or `jwks_uri`), never a secret.
async fn keyed_client(app: &TestApp, jwks: Option<Value>, jwks_uri: Option<String>) -> String {
    app.create_client_custom(true, |c| {
        c.grant_types = vec![GrantType::ClientCredentials];
        c.redirect_uris = vec![];
        c.jwks = jwks.map(|j| j.to_string());
        c.jwks_uri = jwks_uri;
    })
    .await
    .id
}

fn with_kid(key: &EcKey, kid: &str) -> Value {
    let mut jwk = key.jwk();
    jwk["kid"] = json!(kid);
    jwk
}

fn claims(app: &TestApp, client_id: &str, aud: &str) -> Value {
    json!({
        "iss": client_id, "sub": client_id, "aud": aud,
        "jti": random_token(), "iat": app.clock.now(), "exp": app.clock.now() + 60,
    })
}

fn assertion(key: &EcKey, kid: Option<&str>, claims: &Value) -> String {
    let mut header = json!({"alg": "ES256", "typ": "JWT"});
    if let Some(k) = kid {
        header["kid"] = json!(k);
    }
    key.sign(&header, claims)
}

/// POSTs `form` to `path` with the assertion as the only credentials.
async fn post(
    app: &TestApp,
    path: &str,
    form: &[(&str, &str)],
    assertion: &str,
) -> reqwest::Response {
    let mut body = form.to_vec();
    body.push(("client_assertion_type", JWT_BEARER));
    body.push(("client_assertion", assertion));
    app.http
        .post(app.url(path))
        .form(&body)
        .send()
        .await
        .unwrap()
}

const CC: &[(&str, &str)] = &[("grant_type", "client_credentials")];

async fn status_and_error(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or_default();
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}

async fn inline_keys_authenticate_and_every_check_holds(app: TestApp) {
    let key = EcKey::new();
    let id = keyed_client(&app, Some(json!({"keys": [with_kid(&key, "k1")]})), None).await;
    let issuer = app.issuer.clone();

    // The issuer and the endpoint's URL are both this server (RFC 7523 §3, OIDC Core §9).
    for aud in [issuer.clone(), app.url("/token")] {
        let resp = post(
            &app,
            "/token",
            CC,
            &assertion(&key, Some("k1"), &claims(&app, &id, &aud)),
        )
        .await;
        assert_eq!(resp.status(), 200, "aud {aud}");
        let t: Value = resp.json().await.unwrap();
        assert_eq!(
            jwt_claims(t["access_token"].as_str().unwrap())["client_id"],
            id
        );
    }

    let now = app.clock.now();
    let mut bad: Vec<(&str, String)> = Vec::new();
    let mut c = claims(&app, &id, "https://other.example.com");
    bad.push(("wrong aud", assertion(&key, Some("k1"), &c)));
    c = claims(&app, &id, &issuer);
    c["iss"] = json!("someone-else");
    bad.push(("iss is not the client", assertion(&key, Some("k1"), &c)));
    c = claims(&app, &id, &issuer);
    c["exp"] = json!(now + 3600);
    bad.push(("lives too long", assertion(&key, Some("k1"), &c)));
    c = claims(&app, &id, &issuer);
    c["exp"] = json!(now - 1);
    bad.push(("expired", assertion(&key, Some("k1"), &c)));
    c = claims(&app, &id, &issuer);
    c.as_object_mut().unwrap().remove("jti");
    bad.push(("no jti", assertion(&key, Some("k1"), &c)));
    bad.push((
        "another key",
        assertion(&EcKey::new(), Some("k1"), &claims(&app, &id, &issuer)),
    ));
    let hs = format!(
        "{}.{}.c2ln",
        gatehouse::crypto::b64url(br#"{"alg":"HS256"}"#),
        gatehouse::crypto::b64url(claims(&app, &id, &issuer).to_string().as_bytes())
    );
    bad.push(("HMAC", hs));
    for (what, a) in bad {
        assert_eq!(
            status_and_error(post(&app, "/token", CC, &a).await).await,
            (401, "invalid_client".to_owned()),
            "{what}"
        );
    }

    // RFC 7523 §3: a jti is used once.
    let once = assertion(&key, Some("k1"), &claims(&app, &id, &issuer));
    assert_eq!(post(&app, "/token", CC, &once).await.status(), 200);
    assert_eq!(
        status_and_error(post(&app, "/token", CC, &once).await).await,
        (401, "invalid_client".to_owned()),
        "a replayed jti"
    );

    // A client with keys cannot fall back to presenting nothing, and one method per request.
    let bare = app
        .http
        .post(app.url("/token"))
        .form(&[("grant_type", "client_credentials"), ("client_id", &id)])
        .send()
        .await
        .unwrap();
    assert_eq!(status_and_error(bare).await.0, 401);
    let both = app
        .http
        .post(app.url("/token"))
        .basic_auth(&id, Some("guess"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", JWT_BEARER),
            (
                "client_assertion",
                &assertion(&key, Some("k1"), &claims(&app, &id, &issuer)),
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        status_and_error(both).await,
        (400, "invalid_request".to_owned())
    );
}

async fn assertions_work_at_introspection_and_revocation(app: TestApp) {
    let key = EcKey::new();
    let id = keyed_client(&app, Some(json!({"keys": [key.jwk()]})), None).await;
    let t: Value = post(
        &app,
        "/token",
        CC,
        &assertion(&key, None, &claims(&app, &id, &app.issuer)),
    )
    .await
    .json()
    .await
    .unwrap();
    let at = t["access_token"].as_str().unwrap();
    let intro = post(
        &app,
        "/introspect",
        &[("token", at)],
        &assertion(&key, None, &claims(&app, &id, &app.url("/introspect"))),
    )
    .await;
    assert_eq!(intro.status(), 200);
    let answer: Value = intro.json().await.unwrap();
    assert_eq!(answer["active"], true, "a client with keys is confidential");
    let revoke = post(
        &app,
        "/revoke",
        &[("token", at)],
        &assertion(&key, None, &claims(&app, &id, &app.issuer)),
    )
    .await;
    assert_eq!(revoke.status(), 200);
    let after: Value = post(
        &app,
        "/introspect",
        &[("token", at)],
        &assertion(&key, None, &claims(&app, &id, &app.issuer)),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(after["active"], false);
}

async fn discovery_lists_private_key_jwt(app: TestApp) {
    let d = app.discovery().await;
    for field in [
        "token_endpoint_auth_methods_supported",
        "revocation_endpoint_auth_methods_supported",
        "introspection_endpoint_auth_methods_supported",
    ] {
        assert!(
            d[field]
                .as_array()
                .unwrap()
                .contains(&json!("private_key_jwt")),
            "{field}"
        );
    }
    assert_eq!(
        d["token_endpoint_auth_signing_alg_values_supported"],
        json!(["ES256", "PS256", "RS256", "EdDSA"])
    );
}

/// A client's web server publishing its JWK Set, counting the fetches.
struct JwksServer {
    url: String,
    keys: Arc<Mutex<Value>>,
    hits: Arc<AtomicUsize>,
}

async fn jwks_server(keys: Value) -> JwksServer {
    use axum::routing::get;
    let keys = Arc::new(Mutex::new(keys));
    let hits = Arc::new(AtomicUsize::new(0));
    let (k, h) = (keys.clone(), hits.clone());
    let app = axum::Router::new()
        .route(
            "/jwks",
            get(move || {
                let (k, h) = (k.clone(), h.clone());
                async move {
                    h.fetch_add(1, Ordering::SeqCst);
                    axum::Json(k.lock().unwrap().clone())
                }
            }),
        )
        .route(
            "/moved",
            get(|| async {
                (
                    axum::http::StatusCode::FOUND,
                    [(axum::http::header::LOCATION, "/jwks")],
                )
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    JwksServer { url, keys, hits }
}

async fn a_jwks_uri_is_fetched_cached_and_refetched_for_a_new_kid(app: TestApp) {
    let k1 = EcKey::new();
    let server = jwks_server(json!({"keys": [with_kid(&k1, "k1")]})).await;
    let id = keyed_client(&app, None, Some(format!("{}/jwks", server.url))).await;
    let aud = app.issuer.clone();
    for _ in 0..2 {
        let resp = post(
            &app,
            "/token",
            CC,
            &assertion(&k1, Some("k1"), &claims(&app, &id, &aud)),
        )
        .await;
        assert_eq!(resp.status(), 200);
    }
    assert_eq!(server.hits.load(Ordering::SeqCst), 1, "the set is cached");

    // The client rotates to k2: the unknown kid makes Gatehouse fetch again.
    let k2 = EcKey::new();
    *server.keys.lock().unwrap() = json!({"keys": [with_kid(&k2, "k2")]});
    app.clock.advance(11);
    let resp = post(
        &app,
        "/token",
        CC,
        &assertion(&k2, Some("k2"), &claims(&app, &id, &aud)),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(server.hits.load(Ordering::SeqCst), 2);

    // Made-up kids do not make it fetch on every request.
    for _ in 0..3 {
        let a = assertion(&EcKey::new(), Some("nope"), &claims(&app, &id, &aud));
        assert_eq!(post(&app, "/token", CC, &a).await.status(), 401);
    }
    assert!(
        server.hits.load(Ordering::SeqCst) <= 3,
        "refetches are rate-limited"
    );
}

/// A client whose `jwks_uri` is `path` on a test server cannot authenticate, and the server
/// never answered a fetch of its keys.
async fn refused_without_fetching(app: &TestApp, path: &str, why: &str) {
    let key = EcKey::new();
    let server = jwks_server(json!({"keys": [key.jwk()]})).await;
    let id = keyed_client(app, None, Some(format!("{}{path}", server.url))).await;
    let resp = post(
        app,
        "/token",
        CC,
        &assertion(&key, None, &claims(app, &id, &app.issuer)),
    )
    .await;
    assert_eq!(
        status_and_error(resp).await,
        (401, "invalid_client".to_owned())
    );
    assert_eq!(server.hits.load(Ordering::SeqCst), 0, "{why}");
}

async fn a_redirecting_jwks_uri_is_not_followed(app: TestApp) {
    refused_without_fetching(&app, "/moved", "the redirect was not followed").await;
}

crate::backend_tests!(
    inline_keys_authenticate_and_every_check_holds,
    assertions_work_at_introspection_and_revocation,
    discovery_lists_private_key_jwt,
);

/// Loopback `jwks_uri`s need `GATEHOUSE_OUTBOUND_ALLOW_LOOPBACK`, as tests and development set.
mod served {
    use super::*;
    crate::backend_tests_with!(|c| c.outbound_allow_loopback = true;
        a_jwks_uri_is_fetched_cached_and_refetched_for_a_new_kid,
        a_redirecting_jwks_uri_is_not_followed,
    );
}

/// Without it, a loopback `jwks_uri` is refused after resolution and never fetched.
mod refused {
    use super::*;

    async fn a_loopback_jwks_uri_is_refused_by_default(app: TestApp) {
        refused_without_fetching(&app, "/jwks", "a loopback address is never fetched").await;
    }

    crate::backend_tests!(a_loopback_jwks_uri_is_refused_by_default);
}
