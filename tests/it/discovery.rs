//! Discovery (OIDC Discovery §3, §4.3), JWKS, and operations endpoints.
use crate::helpers::*;

async fn discovery_document_matches_issuer(app: TestApp) {
    let resp = app
        .http
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let m: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(m["issuer"], app.issuer);
    assert_eq!(m["authorization_endpoint"], app.url("/authorize"));
    assert_eq!(m["token_endpoint"], app.url("/token"));
    assert_eq!(m["userinfo_endpoint"], app.url("/userinfo"));
    assert_eq!(m["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(m["authorization_response_iss_parameter_supported"], true);
    assert_eq!(
        m["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    let jwks_uri = m["jwks_uri"].as_str().unwrap();
    let jwks: serde_json::Value = app
        .http
        .get(jwks_uri)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The RS256 signer first, then one key per other configured algorithm.
    let keys = jwks["keys"].as_array().unwrap();
    let algs: Vec<&str> = keys.iter().map(|k| k["alg"].as_str().unwrap()).collect();
    assert_eq!(algs, ["RS256", "ES256", "EdDSA"]);
    assert_eq!(
        m["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256", "ES256", "EdDSA"])
    );
    for (key, (kty, crv)) in keys.iter().zip([
        ("RSA", None),
        ("EC", Some("P-256")),
        ("OKP", Some("Ed25519")),
    ]) {
        assert_eq!(key["kty"], kty);
        assert_eq!(key["crv"].as_str(), crv);
        assert_eq!(key["use"], "sig");
        let jwk: gatehouse::keys::Jwk = serde_json::from_value(key.clone()).unwrap();
        assert_eq!(key["kid"], jwk.thumbprint(), "RFC 7638 kid");
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(key.get(private).is_none(), "no private member {private}");
        }
    }
}

async fn health_and_readiness(app: TestApp) {
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        app.http
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "ready"
    );
    app.store.close().await;
    assert_eq!(
        app.http
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
}

/// The signing key is generated once and survives a restart (same kid, sealed in the store);
/// a wrong master key or a corrupted row stops start-up with a clear error and changes nothing.
async fn signing_key_persists_and_is_sealed(app: TestApp) {
    let keys = app.store.list_signing_keys().await.unwrap();
    assert_eq!(keys.len(), 3, "one per algorithm");
    for key in &keys {
        assert_eq!(key.state, "current");
        assert!(
            !gatehouse::keys::contains_key_oid(&key.sealed_private_key),
            "never plaintext PKCS#8"
        );
    }
    let replica = app.spawn_replica().await;
    for key in &keys {
        assert_eq!(
            replica.keys.current_kid_of(key.alg).as_ref(),
            Some(&key.kid),
            "a restart reuses the stored keys"
        );
    }
    assert_eq!(app.store.list_signing_keys().await.unwrap().len(), 3);

    let mut wrong = app.config.clone();
    wrong.bind = "127.0.0.1:0".parse().unwrap();
    wrong.master_key = Some(gatehouse::crypto::Secret::new(gatehouse::crypto::b64url(
        &[0u8; 32],
    )));
    let err = gatehouse::startup::App::build(wrong, app.clock.clone())
        .await
        .err()
        .unwrap();
    assert!(
        format!("{err:#}").contains("cannot be decrypted"),
        "{err:#}"
    );

    let mut bad_key = app.config.clone();
    bad_key.bind = "127.0.0.1:0".parse().unwrap();
    bad_key.master_key = Some(gatehouse::crypto::Secret::new("not-a-key"));
    let err = gatehouse::startup::App::build(bad_key, app.clock.clone())
        .await
        .err()
        .unwrap();
    assert!(format!("{err:#}").contains("master key"), "{err:#}");
    assert_eq!(
        app.store.list_signing_keys().await.unwrap(),
        keys,
        "nothing changed"
    );

    // The database holds keys but the master key is gone: refuse, and do not make a new one.
    let mut missing = app.config.clone();
    missing.bind = "127.0.0.1:0".parse().unwrap();
    missing.keys_dir = app.config.keys_dir.join("elsewhere");
    let err = gatehouse::startup::App::build(missing.clone(), app.clock.clone())
        .await
        .err()
        .unwrap();
    assert!(format!("{err:#}").contains("no master key"), "{err:#}");
    assert!(!missing.keys_dir.join("master.key").exists());

    // A corrupted key row: a clear error naming the key, no panic, nothing rewritten.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&app.config.database_url())
        .await
        .unwrap();
    sqlx::query("update signing_keys set private_key = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let mut again = app.config.clone();
    again.bind = "127.0.0.1:0".parse().unwrap();
    let err = gatehouse::startup::App::build(again, app.clock.clone())
        .await
        .err()
        .unwrap();
    assert!(
        keys.iter().any(|k| format!("{err:#}").contains(&k.kid)),
        "{err:#}"
    );
    assert_eq!(app.store.list_signing_keys().await.unwrap().len(), 3);
}

async fn unknown_path_is_404(app: TestApp) {
    let resp = app.http.get(app.url("/nope")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "a page, in the visitor's language"
    );
}

/// The machine endpoints carry no browser session: no cookie is ever set by them, and they
/// keep the security headers every response has.
async fn machine_endpoints_set_no_cookie(app: TestApp) {
    let client = app.create_client().await;
    let token = app
        .token(
            &client,
            &[("grant_type", "authorization_code"), ("code", "x")],
        )
        .await;
    assert_eq!(token.status(), 400);
    assert!(token.headers().get("set-cookie").is_none());
    for path in [
        "/.well-known/openid-configuration",
        "/jwks.json",
        "/healthz",
        "/userinfo",
    ] {
        let resp = app.http.get(app.url(path)).send().await.unwrap();
        assert!(resp.headers().get("set-cookie").is_none(), "{path}");
        assert_eq!(
            resp.headers()["x-content-type-options"],
            "nosniff",
            "{path}"
        );
    }
    // A page does start a session (its form's CSRF token lives there).
    let page = app.http.get(app.url("/login")).send().await.unwrap();
    assert!(page.headers().get("set-cookie").is_some());
}

crate::backend_tests!(
    discovery_document_matches_issuer,
    health_and_readiness,
    signing_key_persists_and_is_sealed,
    unknown_path_is_404,
    machine_endpoints_set_no_cookie,
);
