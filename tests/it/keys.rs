//! The rotating keystore (OIDC Core §10.1.1): keys are published before they sign and stay
//! published while tokens they signed live; one replica performs each step.
use crate::helpers::*;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    RedirectUrl, TokenResponse,
};

async fn jwks_kids(app: &TestApp) -> Vec<String> {
    let jwks: serde_json::Value = app
        .http
        .get(app.url("/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

async fn access_token(app: &TestApp, client: &TestClient, b: &reqwest::Client) -> String {
    let (code, verifier) = app.get_code(b, client, "openid", "alice").await;
    let body: serde_json::Value = app
        .exchange(client, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

fn kid_of(jwt: &str) -> String {
    jwt_header(jwt)["kid"].as_str().unwrap().to_string()
}

/// A key's whole life in simulated time: published as `next` before any token carries it,
/// signing after the lead, still published while its tokens live, then removed.
async fn key_walks_through_its_life(app: TestApp) {
    app.create_user("alice").await;
    let client = app.create_client().await;
    let b = browser();
    let policy = app.keys.policy();
    let k1 = app.keys.current_kid();
    assert_eq!(jwks_kids(&app).await, std::slice::from_ref(&k1));

    // Just before the next key is due to be published: nothing changes.
    app.clock.advance(policy.period - policy.publish_lead - 1);
    app.keys.tick(app.clock.now()).await.unwrap();
    assert_eq!(jwks_kids(&app).await, std::slice::from_ref(&k1));

    // Published, not yet signing.
    app.clock.advance(1);
    app.keys.tick(app.clock.now()).await.unwrap();
    let kids = jwks_kids(&app).await;
    assert_eq!(kids.len(), 2);
    let k2 = kids.iter().find(|k| **k != k1).unwrap().clone();
    let before = access_token(&app, &client, &b).await;
    assert_eq!(
        kid_of(&before),
        k1,
        "the next key does not sign before its time"
    );

    // One lead later it signs; the old key stays published for the tokens it signed.
    app.clock.advance(policy.publish_lead);
    app.keys.tick(app.clock.now()).await.unwrap();
    assert_eq!(app.keys.current_kid(), k2);
    let after = access_token(&app, &client, &b).await;
    assert_eq!(kid_of(&after), k2);
    assert_eq!(jwks_kids(&app).await, [k2.clone(), k1.clone()]);
    assert_eq!(
        app.userinfo(&before).await.status(),
        200,
        "a token signed by the retired key still verifies"
    );

    // Retired key leaves once every token it may have signed has expired.
    app.clock.advance(policy.retire_after - 1);
    app.keys.tick(app.clock.now()).await.unwrap();
    assert!(jwks_kids(&app).await.contains(&k1));
    app.clock.advance(1);
    app.keys.tick(app.clock.now()).await.unwrap();
    assert_eq!(jwks_kids(&app).await, [k2]);
    let states: Vec<gatehouse::domain::KeyState> = app
        .store
        .list_signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.state)
        .collect();
    assert_eq!(states, ["current"]);
}

/// Two replicas on one database: concurrent rotation attempts produce exactly one new key, and
/// both publish identical key sets afterwards.
async fn concurrent_rotation_makes_exactly_one_key(app: TestApp) {
    let replica = app.spawn_replica().await;
    let policy = app.keys.policy();
    app.clock.advance(policy.period - policy.publish_lead);
    let now = app.clock.now();
    let (a, b) = tokio::join!(app.keys.tick(now), replica.keys.tick(now));
    a.unwrap();
    b.unwrap();
    let rows = app.store.list_signing_keys().await.unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    let (a, b) = tokio::join!(app.keys.rotate(now, false), replica.keys.rotate(now, false));
    // Each either reports the one pending key or finds the other holding the lease.
    for r in [a, b] {
        match r {
            Ok(kid) => assert!(rows.iter().any(|k| k.kid == kid)),
            Err(gatehouse::keys::KeyError::Busy) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(app.store.list_signing_keys().await.unwrap().len(), 2);
    app.keys.reload().await.unwrap();
    replica.keys.reload().await.unwrap();
    assert_eq!(app.keys.jwks().0, replica.keys.jwks().0);
    let ours = app
        .http
        .get(app.url("/jwks.json"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let theirs = app
        .http
        .get(format!("{}/jwks.json", replica.issuer))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(ours, theirs, "both replicas publish the same JWKS");
    assert_eq!(app.keys.current_kid(), replica.keys.current_kid());
}

/// Emergency rotation and revocation: the revoked key leaves the JWKS at once and tokens it
/// signed stop working at our endpoints.
async fn rotate_now_and_revoke(app: TestApp) {
    app.create_user("alice").await;
    let client = app.create_client().await;
    let b = browser();
    let old = app.keys.current_kid();
    let token = access_token(&app, &client, &b).await;
    let new = app.keys.rotate(app.clock.now(), true).await.unwrap();
    assert_eq!(app.keys.current_kid(), new);
    assert_eq!(
        app.userinfo(&token).await.status(),
        200,
        "retired, still published"
    );
    app.keys.revoke(&old, app.clock.now()).await.unwrap();
    assert_eq!(jwks_kids(&app).await, std::slice::from_ref(&new));
    assert_eq!(app.userinfo(&token).await.status(), 401);
    // Revoking the signer hands signing to a fresh key at once.
    app.keys.revoke(&new, app.clock.now()).await.unwrap();
    let third = app.keys.current_kid();
    assert_ne!(third, new);
    assert_eq!(jwks_kids(&app).await, [third]);
    assert!(matches!(
        app.keys.revoke("nope", app.clock.now()).await,
        Err(gatehouse::keys::KeyError::UnknownKid(_))
    ));
}

/// JWKS and discovery are cacheable for the configured max-age and answer If-None-Match.
async fn jwks_and_discovery_are_cacheable_with_etags(app: TestApp) {
    for path in ["/jwks.json", "/.well-known/openid-configuration"] {
        let first = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(
            first.headers()["cache-control"],
            format!("public, max-age={}", app.config.jwks_max_age)
        );
        let etag = first.headers()["etag"].to_str().unwrap().to_string();
        let again = app
            .http
            .get(app.url(path))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(again.headers()["etag"], etag.as_str());
        let other = app
            .http
            .get(app.url(path))
            .header("if-none-match", "\"stale\"")
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), 200);
    }
    let before = app
        .http
        .get(app.url("/jwks.json"))
        .send()
        .await
        .unwrap()
        .headers()["etag"]
        .clone();
    app.keys.rotate(app.clock.now(), false).await.unwrap();
    let after = app
        .http
        .get(app.url("/jwks.json"))
        .send()
        .await
        .unwrap()
        .headers()["etag"]
        .clone();
    assert_ne!(before, after, "a new key changes the ETag");
}

/// A relying party that fetched the JWKS once keeps validating ID tokens across an automatic
/// rotation: the next key is in its cache before it signs, and the lead is never shorter than
/// the cache lifetime we advertise.
async fn cached_jwks_relying_party_survives_rotation(app: TestApp) {
    let user = app.create_user("alice").await;
    let registered = app.create_client().await;
    let policy = app.keys.policy();
    assert!(policy.publish_lead >= app.config.jwks_max_age);
    app.clock.advance(policy.period - policy.publish_lead);
    app.keys.tick(app.clock.now()).await.unwrap();

    // The RP fetches discovery and JWKS now, once, and never again.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.issuer.clone()).unwrap(), &http)
            .await
            .unwrap();
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(registered.id.clone()),
        registered.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT_URI.into()).unwrap());

    app.clock.advance(policy.publish_lead);
    app.keys.tick(app.clock.now()).await.unwrap();
    let signer = app.keys.current_kid();

    let b = browser();
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge)
        .url();
    let resp = b.get(url.as_str()).send().await.unwrap();
    let code = param(
        &query_of(&app.follow_to_client(&b, resp, "alice").await),
        "code",
    )
    .unwrap();
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let id_token = tokens.id_token().unwrap();
    assert_eq!(
        kid_of(&id_token.to_string()),
        signer,
        "signed by the key that rotated in"
    );
    // The RP's clock follows ours (which moved 30 days); the JWKS is the one it cached.
    let now = app.clock.now();
    let verifier = client
        .id_token_verifier()
        .set_time_fn(move || chrono::DateTime::from_timestamp(now, 0).unwrap());
    let claims = id_token.claims(&verifier, &nonce).unwrap();
    assert_eq!(claims.subject().as_str(), user.id);
}

crate::backend_tests!(
    key_walks_through_its_life,
    concurrent_rotation_makes_exactly_one_key,
    rotate_now_and_revoke,
    jwks_and_discovery_are_cacheable_with_etags,
    cached_jwks_relying_party_survives_rotation,
);
