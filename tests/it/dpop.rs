//! RFC 9449 DPoP: proofs at `/token` bind the tokens to the client's key; `/userinfo` then
//! wants the DPoP scheme and a proof of that key for that token.
use crate::helpers::*;
use gatehouse::crypto::{b64url, random_token, sha256};
use serde_json::{Value, json};

/// A client's DPoP key, made and used the way a client library would.
type DpopKey = EcKey;

/// Proofs as a client library makes them.
trait Proofs {
    fn signed(&self, claims: &Value) -> String;
    fn proof(&self, app: &TestApp, htm: &str, url: &str) -> String;
    fn proof_for(&self, app: &TestApp, htm: &str, url: &str, token: &str) -> String;
}

impl Proofs for EcKey {
    fn signed(&self, claims: &Value) -> String {
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk()});
        self.sign(&header, claims)
    }

    /// A fresh proof for `htm` at `url`, now by the app's clock.
    fn proof(&self, app: &TestApp, htm: &str, url: &str) -> String {
        self.signed(&claims(app, htm, url))
    }

    /// A proof for using `token` at `url`.
    fn proof_for(&self, app: &TestApp, htm: &str, url: &str, token: &str) -> String {
        let mut c = claims(app, htm, url);
        c["ath"] = json!(b64url(&sha256(token.as_bytes())));
        self.signed(&c)
    }
}

fn claims(app: &TestApp, htm: &str, url: &str) -> Value {
    json!({"jti": random_token(), "htm": htm, "htu": url, "iat": app.clock.now()})
}

/// POST /token as `client`, with these DPoP headers.
async fn token(
    app: &TestApp,
    client: &TestClient,
    form: &[(&str, &str)],
    proofs: &[String],
) -> reqwest::Response {
    let mut req = app.http.post(app.url("/token"));
    let mut body: Vec<(&str, &str)> = form.to_vec();
    match &client.secret {
        Some(s) => req = req.basic_auth(&client.id, Some(s)),
        None => body.push(("client_id", &client.id)),
    }
    for p in proofs {
        req = req.header("DPoP", p);
    }
    req.form(&body).send().await.unwrap()
}

async fn userinfo(
    app: &TestApp,
    scheme: &str,
    token: &str,
    proof: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .http
        .get(app.url("/userinfo"))
        .header("Authorization", format!("{scheme} {token}"));
    if let Some(p) = proof {
        req = req.header("DPoP", p);
    }
    req.send().await.unwrap()
}

async fn error_of(resp: reqwest::Response) -> String {
    let body: Value = resp.json().await.unwrap();
    body["error"].as_str().unwrap_or_default().to_owned()
}

fn challenge(resp: &reqwest::Response) -> String {
    resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned()
}

async fn machine(app: &TestApp, dpop_bound: bool) -> TestClient {
    app.create_client_custom(false, |c| {
        c.grant_types = vec![GrantType::ClientCredentials];
        c.dpop_bound = dpop_bound;
    })
    .await
}

const CC: &[(&str, &str)] = &[("grant_type", "client_credentials")];

/// A public client's sign-in with a proof at the code exchange: its tokens, and its key.
async fn public_sign_in(app: &TestApp) -> (TestClient, Value, DpopKey) {
    app.create_user("alice").await;
    let client = app
        .create_client_custom(true, |c| {
            c.grant_types = vec![GrantType::AuthorizationCode, GrantType::RefreshToken];
        })
        .await;
    let (code, verifier) = app
        .get_code(&browser(), &client, "openid email", "alice")
        .await;
    let key = DpopKey::new();
    let resp = token(
        app,
        &client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &verifier),
        ],
        &[key.proof(app, "POST", &app.url("/token"))],
    )
    .await;
    assert_eq!(resp.status(), 200);
    let t: Value = resp.json().await.unwrap();
    (client, t, key)
}

async fn a_proof_at_the_code_exchange_binds_the_tokens(app: TestApp) {
    let (_, t, key) = public_sign_in(&app).await;
    assert_eq!(t["token_type"], "DPoP", "RFC 9449 §5");
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(jwt_claims(at)["cnf"]["jkt"], key.jkt(), "RFC 9449 §6.1");
    let url = app.url("/userinfo");

    let ok = userinfo(
        &app,
        "DPoP",
        at,
        Some(&key.proof_for(&app, "GET", &url, at)),
    )
    .await;
    assert_eq!(ok.status(), 200);
    let info: Value = ok.json().await.unwrap();
    assert_eq!(info["email"], "someone@example.com");

    // RFC 9449 §7.2: a bound token is not a bearer token.
    let bearer = userinfo(&app, "Bearer", at, None).await;
    assert_eq!(bearer.status(), 401);
    assert!(
        challenge(&bearer).starts_with("DPoP error=\"invalid_token\""),
        "{}",
        challenge(&bearer)
    );

    // No proof, no ath, a proof for another token, another key, another method.
    let wrong_key = DpopKey::new().proof_for(&app, "GET", &url, at);
    let bad = [
        None,
        Some(key.proof(&app, "GET", &url)),
        Some(key.proof_for(&app, "GET", &url, "another-token")),
        Some(wrong_key),
        Some(key.proof_for(&app, "POST", &url, at)),
    ];
    // None of them costs a replay record.
    let before = app.store.growing_rows().await.unwrap();
    for proof in bad {
        let resp = userinfo(&app, "DPoP", at, proof.as_deref()).await;
        assert_eq!(resp.status(), 401);
        let c = challenge(&resp);
        assert!(c.starts_with("DPoP error=\"invalid_dpop_proof\""), "{c}");
        assert!(c.contains("algs=\"ES256 PS256 RS256 EdDSA\""), "{c}");
        assert_eq!(error_of(resp).await, "invalid_dpop_proof");
    }
    assert_eq!(app.store.growing_rows().await.unwrap(), before);

    // The same proof twice: the second is a replay (RFC 9449 §11.1).
    let once = key.proof_for(&app, "GET", &url, at);
    assert_eq!(userinfo(&app, "DPoP", at, Some(&once)).await.status(), 200);
    let again = userinfo(&app, "DPoP", at, Some(&once)).await;
    assert_eq!(error_of(again).await, "invalid_dpop_proof");
}

async fn a_public_clients_refresh_token_needs_its_key(app: TestApp) {
    let (client, t, key) = public_sign_in(&app).await;
    let rt = t["refresh_token"].as_str().unwrap();
    let refresh = [("grant_type", "refresh_token"), ("refresh_token", rt)];
    let url = app.url("/token");

    let without = token(&app, &client, &refresh, &[]).await;
    assert_eq!(without.status(), 400);
    assert_eq!(error_of(without).await, "invalid_dpop_proof");
    let other = token(
        &app,
        &client,
        &refresh,
        &[DpopKey::new().proof(&app, "POST", &url)],
    )
    .await;
    assert_eq!(other.status(), 400);
    assert_eq!(error_of(other).await, "invalid_grant");

    // Neither attempt spent the token or revoked its family.
    let ok = token(&app, &client, &refresh, &[key.proof(&app, "POST", &url)]).await;
    assert_eq!(ok.status(), 200);
    let t2: Value = ok.json().await.unwrap();
    assert_eq!(t2["token_type"], "DPoP");
    let at = t2["access_token"].as_str().unwrap();
    assert_eq!(jwt_claims(at)["cnf"]["jkt"], key.jkt());
    let info = userinfo(
        &app,
        "DPoP",
        at,
        Some(&key.proof_for(&app, "GET", &app.url("/userinfo"), at)),
    )
    .await;
    assert_eq!(info.status(), 200);

    // The rotated refresh token is bound to the same key.
    let rt2 = t2["refresh_token"].as_str().unwrap();
    let next = [("grant_type", "refresh_token"), ("refresh_token", rt2)];
    let without = token(&app, &client, &next, &[]).await;
    assert_eq!(error_of(without).await, "invalid_dpop_proof");
    let ok = token(&app, &client, &next, &[key.proof(&app, "POST", &url)]).await;
    assert_eq!(ok.status(), 200);
}

/// `/userinfo`'s schemes: a bearer token is not a DPoP one, a request with no token is offered
/// both schemes, and a forged token costs no proof check (nothing is written for it).
async fn userinfo_tells_the_schemes_apart(app: TestApp) {
    app.create_user("alice").await;
    let client = app.create_client().await;
    let bearer = app.access_token(&client, &browser()).await;
    let key = DpopKey::new();
    let url = app.url("/userinfo");
    let before = app.store.growing_rows().await.unwrap();
    let resp = userinfo(
        &app,
        "DPoP",
        &bearer,
        Some(&key.proof_for(&app, "GET", &url, &bearer)),
    )
    .await;
    assert_eq!(resp.status(), 401);
    assert!(challenge(&resp).starts_with("DPoP error=\"invalid_token\""));
    assert_eq!(
        app.store.growing_rows().await.unwrap(),
        before,
        "nothing recorded"
    );

    let none = app.http.get(&url).send().await.unwrap();
    let offered: Vec<&str> = none
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(
        offered,
        ["Bearer", "DPoP algs=\"ES256 PS256 RS256 EdDSA\""],
        "RFC 6750 §3.1, RFC 9449 §7.1"
    );

    // Another user's name in the payload, under the original signature.
    let mut parts: Vec<String> = bearer.split('.').map(str::to_owned).collect();
    let mut payload = jwt_claims(&bearer);
    payload["sub"] = json!("someone-else");
    parts[1] = b64url(payload.to_string().as_bytes());
    let forged = parts.join(".");
    let resp = userinfo(
        &app,
        "DPoP",
        &forged,
        Some(&key.proof_for(&app, "GET", &url, &forged)),
    )
    .await;
    assert_eq!(error_of(resp).await, "invalid_token");
    assert_eq!(app.store.growing_rows().await.unwrap(), before);
}

/// RFC 9449 §5.2.1 at the code exchange: a bound client's code is not spent by a request
/// without a proof.
async fn a_dpop_bound_client_exchanges_its_code_with_a_proof(app: TestApp) {
    app.create_user("alice").await;
    let client = app
        .create_client_custom(true, |c| c.dpop_bound = true)
        .await;
    let (code, verifier) = app.get_code(&browser(), &client, "openid", "alice").await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", verifier.as_str()),
    ];
    let without = token(&app, &client, &form, &[]).await;
    assert_eq!(error_of(without).await, "invalid_dpop_proof");
    let key = DpopKey::new();
    let ok = token(
        &app,
        &client,
        &form,
        &[key.proof(&app, "POST", &app.url("/token"))],
    )
    .await;
    assert_eq!(ok.status(), 200);
    let t: Value = ok.json().await.unwrap();
    assert_eq!(t["token_type"], "DPoP");
}

/// The admin API honours a bound token only with its proof, never as a bearer token.
async fn the_admin_api_refuses_a_bound_token_as_bearer(app: TestApp) {
    let admin = app
        .create_client_custom(false, |c| {
            c.grant_types = vec![GrantType::ClientCredentials];
            c.redirect_uris.clear();
            c.allowed_scopes = Some(vec!["gatehouse:admin".into()]);
        })
        .await;
    let key = DpopKey::new();
    let t: Value = token(
        &app,
        &admin,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "gatehouse:admin"),
        ],
        &[key.proof(&app, "POST", &app.url("/token"))],
    )
    .await
    .json()
    .await
    .unwrap();
    let at = t["access_token"].as_str().unwrap();
    let resp = app
        .http
        .get(app.url("/admin/api/v1/clients"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "RFC 9449 §7.2");
}

/// A code exchange for `client` with these proofs.
async fn exchange_with(
    app: &TestApp,
    client: &TestClient,
    code: &str,
    verifier: &str,
    proofs: &[String],
) -> reqwest::Response {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", verifier),
    ];
    token(app, client, &form, proofs).await
}

/// RFC 9449 §10: a code requested with `dpop_jkt` is redeemed only with a proof of that key;
/// a wrong or missing proof does not spend it.
async fn dpop_jkt_binds_the_code(app: TestApp) {
    app.create_user("alice").await;
    let client = app.create_client_custom(true, |_| {}).await;
    let key = DpopKey::new();
    let verifier = random_token();
    let challenge = gatehouse::oauth::pkce::s256_challenge(&verifier);
    let jkt = key.jkt();
    let base = [
        ("response_type", "code"),
        ("client_id", client.id.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let mut malformed = base.to_vec();
    malformed.push(("dpop_jkt", "not-a-thumbprint"));
    let q = query_of(&location(&app.authorize(&browser(), &malformed).await));
    assert_eq!(param(&q, "error").as_deref(), Some("invalid_request"));

    let mut bound = base.to_vec();
    bound.push(("dpop_jkt", jkt.as_str()));
    let q = app.sign_in(&browser(), &bound, "alice").await;
    let code = param(&q, "code").unwrap();
    let url = app.url("/token");
    for proofs in [vec![], vec![DpopKey::new().proof(&app, "POST", &url)]] {
        let resp = exchange_with(&app, &client, &code, &verifier, &proofs).await;
        assert_eq!(resp.status(), 400);
        assert_eq!(error_of(resp).await, "invalid_grant");
    }
    let ok = exchange_with(
        &app,
        &client,
        &code,
        &verifier,
        &[key.proof(&app, "POST", &url)],
    )
    .await;
    assert_eq!(ok.status(), 200);
    let t: Value = ok.json().await.unwrap();
    assert_eq!(
        jwt_claims(t["access_token"].as_str().unwrap())["cnf"]["jkt"],
        jkt
    );
}

/// RFC 9449 §10.1: a proof sent to `/par` binds the code as `dpop_jkt` would, and the two
/// must agree when both are sent.
async fn a_proof_at_par_binds_the_code(app: TestApp) {
    app.create_user("alice").await;
    let client = app.create_client().await;
    let key = DpopKey::new();
    let verifier = random_token();
    let challenge = gatehouse::oauth::pkce::s256_challenge(&verifier);
    let form = vec![
        ("response_type", "code"),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let par_url = app.url("/par");
    let push = |form: Vec<(&'static str, &str)>, proof: String| {
        let (app, client) = (&app, &client);
        let form: Vec<(String, String)> = form
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        async move {
            app.http
                .post(app.url("/par"))
                .basic_auth(&client.id, client.secret.as_deref())
                .header("DPoP", proof)
                .form(&form)
                .send()
                .await
                .unwrap()
        }
    };
    let other = DpopKey::new().jkt();
    let mut mismatched = form.clone();
    mismatched.push(("dpop_jkt", other.as_str()));
    let refused = push(mismatched, key.proof(&app, "POST", &par_url)).await;
    assert_eq!(refused.status(), 400);
    assert_eq!(error_of(refused).await, "invalid_request");

    let pushed = push(form, key.proof(&app, "POST", &par_url)).await;
    assert_eq!(pushed.status(), 201);
    let body: Value = pushed.json().await.unwrap();
    let uri = body["request_uri"].as_str().unwrap();
    let q = app
        .sign_in(
            &browser(),
            &[("client_id", client.id.as_str()), ("request_uri", uri)],
            "alice",
        )
        .await;
    let code = param(&q, "code").unwrap();
    let url = app.url("/token");
    let unbound = exchange_with(&app, &client, &code, &verifier, &[]).await;
    assert_eq!(error_of(unbound).await, "invalid_grant");
    let ok = exchange_with(
        &app,
        &client,
        &code,
        &verifier,
        &[key.proof(&app, "POST", &url)],
    )
    .await;
    assert_eq!(ok.status(), 200);
}

async fn proofs_must_fit_the_token_request(app: TestApp) {
    let client = machine(&app, false).await;
    let key = DpopKey::new();
    let url = app.url("/token");
    let now = app.clock.now();
    let stale =
        key.signed(&json!({"jti": random_token(), "htm": "POST", "htu": url, "iat": now - 400}));
    let ahead =
        key.signed(&json!({"jti": random_token(), "htm": "POST", "htu": url, "iat": now + 120}));
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("wrong htm", vec![key.proof(&app, "GET", &url)]),
        ("wrong htu", vec![key.proof(&app, "POST", &app.url("/par"))]),
        ("stale iat", vec![stale]),
        ("iat ahead", vec![ahead]),
        (
            "two headers",
            vec![key.proof(&app, "POST", &url), key.proof(&app, "POST", &url)],
        ),
        ("not a JWT", vec!["not-a-proof".to_owned()]),
    ];
    for (what, proofs) in cases {
        let resp = token(&app, &client, CC, &proofs).await;
        assert_eq!(resp.status(), 400, "{what}");
        assert_eq!(error_of(resp).await, "invalid_dpop_proof", "{what}");
    }
    let proof = key.proof(&app, "POST", &url);
    let first = token(&app, &client, CC, std::slice::from_ref(&proof)).await;
    assert_eq!(first.status(), 200);
    let replay = token(&app, &client, CC, &[proof]).await;
    assert_eq!(
        error_of(replay).await,
        "invalid_dpop_proof",
        "a replayed jti"
    );
}

async fn client_credentials_tokens_are_bound_and_introspected(app: TestApp) {
    let client = machine(&app, false).await;
    let key = DpopKey::new();
    let resp = token(
        &app,
        &client,
        CC,
        &[key.proof(&app, "POST", &app.url("/token"))],
    )
    .await;
    let t: Value = resp.json().await.unwrap();
    assert_eq!(t["token_type"], "DPoP");
    let at = t["access_token"].as_str().unwrap();
    // RFC 9449 §6.2: introspection names the key, for resource servers that introspect.
    let answer: Value = app
        .http
        .post(app.url("/introspect"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&[("token", at)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["active"], true);
    assert_eq!(answer["token_type"], "DPoP");
    assert_eq!(answer["cnf"]["jkt"], key.jkt());
    // Without a proof, the same client still gets a bearer token.
    let plain: Value = token(&app, &client, CC, &[]).await.json().await.unwrap();
    assert_eq!(plain["token_type"], "Bearer");
    assert!(
        jwt_claims(plain["access_token"].as_str().unwrap())
            .get("cnf")
            .is_none()
    );
}

async fn a_dpop_bound_client_must_send_proofs(app: TestApp) {
    let client = machine(&app, true).await;
    let resp = token(&app, &client, CC, &[]).await;
    assert_eq!(resp.status(), 400, "RFC 9449 §5.2.1");
    assert_eq!(error_of(resp).await, "invalid_dpop_proof");
    let key = DpopKey::new();
    let ok = token(
        &app,
        &client,
        CC,
        &[key.proof(&app, "POST", &app.url("/token"))],
    )
    .await;
    assert_eq!(ok.status(), 200);
}

async fn discovery_lists_the_proof_algorithms(app: TestApp) {
    let d = app.discovery().await;
    assert_eq!(
        d["dpop_signing_alg_values_supported"],
        json!(["ES256", "PS256", "RS256", "EdDSA"])
    );
    // Without nonces on, no answer carries one.
    let client = machine(&app, false).await;
    let resp = token(&app, &client, CC, &[]).await;
    assert!(resp.headers().get("dpop-nonce").is_none());
}

crate::backend_tests!(
    a_proof_at_the_code_exchange_binds_the_tokens,
    a_public_clients_refresh_token_needs_its_key,
    proofs_must_fit_the_token_request,
    client_credentials_tokens_are_bound_and_introspected,
    a_dpop_bound_client_must_send_proofs,
    discovery_lists_the_proof_algorithms,
    userinfo_tells_the_schemes_apart,
    a_dpop_bound_client_exchanges_its_code_with_a_proof,
    the_admin_api_refuses_a_bound_token_as_bearer,
    dpop_jkt_binds_the_code,
    a_proof_at_par_binds_the_code,
);

/// `GATEHOUSE_DPOP_NONCE=true`: proofs must carry the server's nonce (RFC 9449 §8, §9).
mod nonces {
    use super::*;

    fn nonce_of(resp: &reqwest::Response) -> String {
        resp.headers()["dpop-nonce"].to_str().unwrap().to_owned()
    }

    fn with_nonce(
        app: &TestApp,
        key: &DpopKey,
        htm: &str,
        url: &str,
        nonce: &str,
        token: Option<&str>,
    ) -> String {
        let mut c = claims(app, htm, url);
        c["nonce"] = json!(nonce);
        if let Some(t) = token {
            c["ath"] = json!(b64url(&sha256(t.as_bytes())));
        }
        key.signed(&c)
    }

    async fn the_nonce_dance(app: TestApp) {
        let client = machine(&app, false).await;
        let key = DpopKey::new();
        let url = app.url("/token");
        let first = token(&app, &client, CC, &[key.proof(&app, "POST", &url)]).await;
        assert_eq!(first.status(), 400);
        let nonce = nonce_of(&first);
        assert_eq!(error_of(first).await, "use_dpop_nonce");
        let second = token(
            &app,
            &client,
            CC,
            &[with_nonce(&app, &key, "POST", &url, &nonce, None)],
        )
        .await;
        assert_eq!(second.status(), 200);
        assert!(
            !nonce_of(&second).is_empty(),
            "every answer carries a nonce"
        );
        let t: Value = second.json().await.unwrap();
        let at = t["access_token"].as_str().unwrap();

        // The resource side: 401 with the nonce, then success with it. Client credentials'
        // tokens carry no openid scope, so userinfo refuses the token itself after the proof.
        let ui = app.url("/userinfo");
        let asked = userinfo(&app, "DPoP", at, Some(&key.proof_for(&app, "GET", &ui, at))).await;
        assert_eq!(asked.status(), 401);
        assert!(challenge(&asked).starts_with("DPoP error=\"use_dpop_nonce\""));
        let nonce = nonce_of(&asked);
        let answered = userinfo(
            &app,
            "DPoP",
            at,
            Some(&with_nonce(&app, &key, "GET", &ui, &nonce, Some(at))),
        )
        .await;
        assert_eq!(
            answered.status(),
            403,
            "past the proof: the token lacks openid"
        );

        // A made-up nonce is asked again.
        let made_up = token(
            &app,
            &client,
            CC,
            &[with_nonce(&app, &key, "POST", &url, "made-up", None)],
        )
        .await;
        assert_eq!(error_of(made_up).await, "use_dpop_nonce");
    }

    crate::backend_tests_with!(|c| c.dpop_nonce = true; the_nonce_dance);
}
