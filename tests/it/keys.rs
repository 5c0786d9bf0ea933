//! The rotating keystore (OIDC Core §10.1.1): keys are published before they sign and stay
//! published while tokens they signed live; one replica performs each step.
use crate::helpers::*;
use gatehouse::domain::Alg;
use openidconnect::core::{CoreAuthenticationFlow, CoreJwsSigningAlgorithm};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, CsrfToken, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    TokenResponse,
};

/// The kids of the published RS256 keys (the other algorithms rotate alongside, on their own).
async fn jwks_kids(app: &TestApp) -> Vec<String> {
    jwks_kids_of(app, Alg::RS256).await
}

async fn jwks_kids_of(app: &TestApp, alg: Alg) -> Vec<String> {
    let jwks = app.get_json(&app.url("/jwks.json")).await;
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["alg"] == alg.as_str())
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

async fn rows_of(app: &TestApp, alg: Alg) -> Vec<gatehouse::store::StoredKey> {
    let rows = app.store.list_signing_keys().await.unwrap();
    rows.into_iter().filter(|k| k.alg == alg).collect()
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
    let before = app.access_token(&client, &b).await;
    assert_eq!(
        kid_of(&before),
        k1,
        "the next key does not sign before its time"
    );

    // One lead later it signs; the old key stays published for the tokens it signed.
    app.clock.advance(policy.publish_lead);
    app.keys.tick(app.clock.now()).await.unwrap();
    assert_eq!(app.keys.current_kid(), k2);
    let after = app.access_token(&client, &b).await;
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
    for alg in Alg::ALL {
        let states: Vec<gatehouse::domain::KeyState> = rows_of(&app, alg)
            .await
            .into_iter()
            .map(|k| k.state)
            .collect();
        assert_eq!(states, ["current"], "{alg} went through the same life");
    }
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
    for alg in Alg::ALL {
        assert_eq!(rows_of(&app, alg).await.len(), 2, "{alg}");
    }
    let rows = rows_of(&app, Alg::RS256).await;
    let (a, b) = tokio::join!(
        app.keys.rotate(Alg::RS256, now, false, "test"),
        replica.keys.rotate(Alg::RS256, now, false, "test")
    );
    // Each either reports the one pending key or finds the other holding the lease.
    for r in [a, b] {
        match r {
            Ok(kid) => assert!(rows.iter().any(|k| k.kid == kid)),
            Err(gatehouse::keys::KeyError::Busy) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(rows_of(&app, Alg::RS256).await.len(), 2);
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
    let token = app.access_token(&client, &b).await;
    let new = app
        .keys
        .rotate(Alg::RS256, app.clock.now(), true, "test")
        .await
        .unwrap();
    assert_eq!(app.keys.current_kid(), new);
    // Twice each, so the second answer comes from the memory of verified tokens.
    for _ in 0..2 {
        assert_eq!(
            app.userinfo(&token).await.status(),
            200,
            "retired, still published"
        );
        assert_eq!(introspect(&app, &client, &token).await["active"], true);
    }
    app.keys
        .revoke(&old, app.clock.now(), "test")
        .await
        .unwrap();
    assert_eq!(jwks_kids(&app).await, std::slice::from_ref(&new));
    // Remembered as verified, but its key is gone: the memory ends with the key.
    assert_eq!(app.userinfo(&token).await.status(), 401);
    assert_eq!(introspect(&app, &client, &token).await["active"], false);
    // Revoking the signer hands signing to a fresh key at once.
    app.keys
        .revoke(&new, app.clock.now(), "test")
        .await
        .unwrap();
    let third = app.keys.current_kid();
    assert_ne!(third, new);
    assert_eq!(jwks_kids(&app).await, [third]);
    assert!(matches!(
        app.keys.revoke("nope", app.clock.now(), "test").await,
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
    app.keys
        .rotate(Alg::ES256, app.clock.now(), false, "test")
        .await
        .unwrap();
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
    let (client, http) = app.relying_party(&registered).await;

    app.clock.advance(policy.publish_lead);
    app.keys.tick(app.clock.now()).await.unwrap();
    let signer = app.keys.current_kid();
    let (tokens, nonce) = rp_sign_in(&app, &client, &http).await;
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

/// Alice signs in through the relying party; its token response and the nonce it sent.
async fn rp_sign_in(
    app: &TestApp,
    client: &RelyingParty,
    http: &reqwest::Client,
) -> (openidconnect::core::CoreTokenResponse, Nonce) {
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
        .request_async(http)
        .await
        .unwrap();
    (tokens, nonce)
}

/// Signs in through a relying party that accepts only `id_alg`; returns its verified ID
/// token's header and the access token.
async fn sign_in_through_rp(
    app: &TestApp,
    registered: &TestClient,
    id_alg: CoreJwsSigningAlgorithm,
) -> (serde_json::Value, String) {
    let (client, http) = app.relying_party(registered).await;
    let (tokens, nonce) = rp_sign_in(app, &client, &http).await;
    let id_token = tokens.id_token().unwrap();
    let verifier = client.id_token_verifier().set_allowed_algs(vec![id_alg]);
    let claims = id_token.claims(&verifier, &nonce).unwrap();
    // OIDC Core §3.1.3.8: at_hash with the ID token's own algorithm's hash.
    let expected = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected));
    (
        jwt_header(&id_token.to_string()),
        tokens.access_token().secret().clone(),
    )
}

/// A client chooses what its ID tokens and its access tokens are signed with; a relying party
/// verifies them against the one JWKS, and our endpoints accept them. The key decides the
/// algorithm: a header naming another one is refused.
async fn clients_choose_their_signing_algorithms(app: TestApp) {
    app.create_user("alice").await;
    for (id_alg, rp_alg, at_alg) in [
        (
            Alg::ES256,
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            Alg::EdDSA,
        ),
        (Alg::EdDSA, CoreJwsSigningAlgorithm::EdDsa, Alg::ES256),
    ] {
        let client = app
            .create_client_custom(false, |c| {
                c.id_token_signed_response_alg = id_alg;
                c.access_token_signed_response_alg = at_alg;
            })
            .await;
        let (id_header, access) = sign_in_through_rp(&app, &client, rp_alg).await;
        assert_eq!(id_header["alg"], id_alg.as_str());
        assert_eq!(id_header["kid"], app.keys.current_kid_of(id_alg).unwrap());
        let at_header = jwt_header(&access);
        assert_eq!(at_header["alg"], at_alg.as_str());
        assert_eq!(at_header["typ"], "at+jwt");
        assert_eq!(at_header["kid"], app.keys.current_kid_of(at_alg).unwrap());
        assert_eq!(app.userinfo(&access).await.status(), 200);

        // The same token under a header naming another algorithm.
        let (_, rest) = access.split_once('.').unwrap();
        for forged_alg in ["RS256", "ES256", "EdDSA", "HS256", "none"] {
            if forged_alg == at_alg.as_str() {
                continue;
            }
            let header =
                serde_json::json!({ "alg": forged_alg, "typ": "at+jwt", "kid": at_header["kid"] });
            let forged = format!(
                "{}.{rest}",
                gatehouse::crypto::b64url(header.to_string().as_bytes())
            );
            assert_eq!(app.userinfo(&forged).await.status(), 401, "{forged_alg}");
        }
    }
    // Without a choice, both stay RS256.
    let plain = app.create_client().await;
    let (id_header, access) =
        sign_in_through_rp(&app, &plain, CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256).await;
    assert_eq!(id_header["alg"], "RS256");
    assert_eq!(jwt_header(&access)["alg"], "RS256");
}

/// A replica configured without an algorithm does not sign with it (a client that asks for it
/// gets RS256) and leaves its keys alone, so replicas with different settings never undo each
/// other's keys; the keys stay published and verify everywhere.
async fn an_algorithm_taken_out_stops_signing_here_only(app: TestApp) {
    let es256 = app.keys.current_kid_of(Alg::ES256).unwrap();
    let replica = app
        .spawn_replica_with(|c| c.signing_algs = vec![Alg::RS256])
        .await;
    let discovery = app
        .get_json(&format!(
            "{}/.well-known/openid-configuration",
            replica.issuer
        ))
        .await;
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );
    for _ in 0..3 {
        replica.keys.tick(app.clock.now()).await.unwrap();
        app.keys.tick(app.clock.now()).await.unwrap();
        app.clock.advance(app.keys.policy().refresh_interval);
    }
    let rows = rows_of(&app, Alg::ES256).await;
    assert_eq!(rows.len(), 1, "no churn: {rows:?}");
    assert_eq!(rows[0].state, "current");
    assert_eq!(rows[0].kid, es256);
    assert!(replica.keys.jwks().0.contains(&es256), "still published");
    assert_eq!(replica.keys.current_kid_of(Alg::ES256), None);

    let client = app
        .create_client_custom(false, |c| {
            c.grant_types = vec![GrantType::ClientCredentials];
            c.access_token_signed_response_alg = Alg::ES256;
        })
        .await;
    let token_at = |issuer: String| {
        let (http, client) = (app.http.clone(), client.clone());
        async move {
            let body: serde_json::Value = http
                .post(format!("{issuer}/token"))
                .basic_auth(&client.id, client.secret.as_deref())
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            jwt_header(body["access_token"].as_str().unwrap())["alg"].clone()
        }
    };
    assert_eq!(token_at(app.issuer.clone()).await, "ES256");
    assert_eq!(
        token_at(replica.issuer.clone()).await,
        "RS256",
        "the fallback every relying party supports"
    );
}

/// `openssl` writes an RSA key as PEM: PKCS#8 by default, PKCS#1 with `-traditional`.
fn openssl_rsa_key(dir: &std::path::Path, bits: u32, pkcs1: bool) -> String {
    let path = dir.join(format!("key-{bits}-{pkcs1}.pem"));
    let status = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt"])
        .arg(format!("rsa_keygen_bits:{bits}"))
        .arg("-out")
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    if pkcs1 {
        let status = std::process::Command::new("openssl")
            .args(["rsa", "-traditional", "-in"])
            .arg(&path)
            .arg("-out")
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success());
    }
    std::fs::read_to_string(path).unwrap()
}

/// A key brought from the provider being replaced keeps its kid: tokens that provider signed
/// verify here at once, and it signs after the publish lead (RFC 7517 kid, OIDC Core §10.1.1).
async fn an_imported_key_verifies_its_old_tokens_then_signs(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let pem = openssl_rsa_key(dir.path(), 2048, false);
    let alice = app.create_user("alice").await;
    let client = app.create_client().await;
    let now = app.clock.now();
    // A token signed with that key under kid "legacy-1" before it is ours (the claims of a
    // live sign-in, so only the signature decides; our tokens stand on a live grant).
    let b = browser();
    let mut claims = jwt_claims(&app.access_token(&client, &b).await);
    claims["jti"] = "signed-before-import".into();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("legacy-1".into());
    header.typ = Some("at+jwt".into());
    let old = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_rsa_der(&{
            use rsa::pkcs1::EncodeRsaPrivateKey;
            use rsa::pkcs8::DecodePrivateKey;
            rsa::RsaPrivateKey::from_pkcs8_pem(&pem)
                .unwrap()
                .to_pkcs1_der()
                .unwrap()
                .as_bytes()
                .to_vec()
        }),
    )
    .unwrap();
    assert_eq!(app.userinfo(&old).await.status(), 401, "not yet ours");

    let der = gatehouse::keys::pem::rsa_private_pkcs8(&pem).unwrap();
    let kid = app
        .keys
        .import_rsa(der.clone(), Some("legacy-1".into()), now, false, "test")
        .await
        .unwrap();
    assert_eq!(kid, "legacy-1");
    assert!(jwks_kids(&app).await.contains(&kid));
    let info = app.userinfo(&old).await;
    assert_eq!(info.status(), 200, "its old tokens verify");
    assert_eq!(
        info.json::<serde_json::Value>().await.unwrap()["sub"],
        alice.id
    );
    // Published, not signing yet; then signing after the lead.
    assert_ne!(kid_of(&app.access_token(&client, &b).await), kid);
    app.clock.advance(app.keys.policy().publish_lead);
    app.keys.tick(app.clock.now()).await.unwrap();
    let fresh = app.access_token(&client, &b).await;
    assert_eq!(kid_of(&fresh), kid);
    assert_eq!(app.userinfo(&fresh).await.status(), 200);
    // The same kid twice, a short key, and a non-key are refused.
    let again = app
        .keys
        .import_rsa(der, Some("legacy-1".into()), now, false, "test")
        .await;
    assert!(again.is_err());
    // Revoked, then another key imported under the same kid: the tokens the first key signed,
    // remembered as verified above, are refused.
    assert_eq!(app.userinfo(&old).await.status(), 200);
    app.keys
        .revoke("legacy-1", app.clock.now(), "test")
        .await
        .unwrap();
    let other =
        gatehouse::keys::pem::rsa_private_pkcs8(&openssl_rsa_key(dir.path(), 2048, false)).unwrap();
    app.keys
        .import_rsa(
            other,
            Some("legacy-1".into()),
            app.clock.now(),
            false,
            "test",
        )
        .await
        .unwrap();
    assert_eq!(
        app.userinfo(&old).await.status(),
        401,
        "another key under the old kid"
    );
    let short = gatehouse::keys::pem::rsa_private_pkcs8(&openssl_rsa_key(dir.path(), 1024, false));
    assert!(short.unwrap_err().to_string().contains("2048"));
    assert!(gatehouse::keys::pem::rsa_private_pkcs8("not a key").is_err());
    // PKCS#1 PEM is read too.
    assert!(
        gatehouse::keys::pem::rsa_private_pkcs8(&openssl_rsa_key(dir.path(), 2048, true)).is_ok()
    );
}

/// The memory of verified tokens asks again only for a token it has not verified for that
/// purpose, or one whose verification failed, or one whose key is no longer published.
async fn verified_tokens_are_remembered_while_their_key_is_published(app: TestApp) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let calls = AtomicUsize::new(0);
    let kid = app.keys.current_kid();
    let verify = |ok: bool, kid: &str| {
        calls.fetch_add(1, Ordering::SeqCst);
        if ok {
            Ok((kid.to_owned(), 7u32))
        } else {
            Err("bad signature")
        }
    };
    assert_eq!(
        *app.keys
            .verified("test", "a.b.c", || verify(true, &kid))
            .unwrap(),
        7
    );
    assert_eq!(
        *app.keys
            .verified("test", "a.b.c", || verify(true, &kid))
            .unwrap(),
        7
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the second use is remembered"
    );
    // Another token, even one differing in a byte, is verified on its own.
    assert!(
        app.keys
            .verified("test", "a.b.d", || verify(false, &kid))
            .is_err()
    );
    assert!(
        app.keys
            .verified("test", "a.b.d", || verify(false, &kid))
            .is_err()
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "failures are not remembered"
    );
    // Another purpose (other rules) does not share the entry.
    app.keys
        .verified("other", "a.b.c", || verify(true, &kid))
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    // A kid that is not published never makes an entry that stands.
    app.keys
        .verified("test", "x.y.z", || verify(true, "gone"))
        .unwrap();
    app.keys
        .verified("test", "x.y.z", || verify(true, "gone"))
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 6);
}

crate::backend_tests!(
    verified_tokens_are_remembered_while_their_key_is_published,
    an_imported_key_verifies_its_old_tokens_then_signs,
    clients_choose_their_signing_algorithms,
    an_algorithm_taken_out_stops_signing_here_only,
    key_walks_through_its_life,
    concurrent_rotation_makes_exactly_one_key,
    rotate_now_and_revoke,
    jwks_and_discovery_are_cacheable_with_etags,
    cached_jwks_relying_party_survives_rotation,
);
