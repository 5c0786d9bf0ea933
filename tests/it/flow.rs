//! The whole sign-in, with the `openidconnect` crate as the relying party.
use crate::helpers::*;
use openidconnect::core::{CoreAuthenticationFlow, CoreUserInfoClaims};
use openidconnect::{
    AuthorizationCode, CsrfToken, Nonce, OAuth2TokenResponse, PkceCodeChallenge, Scope,
    TokenResponse,
};

/// Drives the browser from an authorization URL to the client redirect; returns its query.
async fn browse(app: &TestApp, browser: &reqwest::Client, auth_url: &str) -> Vec<(String, String)> {
    let resp = browser.get(auth_url).send().await.unwrap();
    let loc = app.follow_to_client(browser, resp, "alice").await;
    assert!(
        loc.starts_with(REDIRECT_URI),
        "redirects only to the registered URI: {loc}"
    );
    query_of(&loc)
}

async fn relying_party_signs_in(app: TestApp, public: bool) {
    let user = app.create_user("alice").await;
    let registered = app
        .create_client_with(public, &[REDIRECT_URI], &[], false)
        .await;
    let (client, http) = app.relying_party(&registered).await;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();

    let q = browse(&app, &browser(), auth_url.as_str()).await;
    assert_eq!(param(&q, "state").as_deref(), Some(csrf.secret().as_str()));
    assert_eq!(
        param(&q, "iss").as_deref(),
        Some(app.issuer.as_str()),
        "RFC 9207 iss"
    );
    let code = param(&q, "code").unwrap();

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let id_token = tokens.id_token().expect("openid was requested");
    let claims = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .unwrap();
    assert_eq!(claims.subject().as_str(), user.id);
    assert_eq!(claims.issuer().as_str(), app.issuer);
    assert_eq!(
        claims.email().map(|e| e.as_str()),
        Some("someone@example.com")
    );
    assert!(claims.auth_time().is_some());

    // at_hash binds the ID token to this access token (OIDC Core §3.1.3.6).
    let raw = jwt_claims(&id_token.to_string());
    let digest = gatehouse::crypto::sha256(tokens.access_token().secret().as_bytes());
    assert_eq!(raw["at_hash"], gatehouse::crypto::b64url(&digest[..16]));
    assert_eq!(raw["azp"], registered.id);

    let scopes: Vec<String> = tokens
        .scopes()
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(scopes, ["openid", "email", "profile"]);

    let info: CoreUserInfoClaims = client
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(
        info.email().map(|e| e.as_str()),
        Some("someone@example.com")
    );
    assert_eq!(info.preferred_username().map(|u| u.as_str()), Some("alice"));
}

async fn confidential_relying_party_signs_in(app: TestApp) {
    relying_party_signs_in(app, false).await
}

async fn public_relying_party_signs_in(app: TestApp) {
    relying_party_signs_in(app, true).await
}

/// RFC 9068: the access token is an RS256 JWT with typ at+jwt and the listed claims; its `aud`
/// holds the client's registered APIs and our issuer (for /userinfo).
async fn access_token_is_rfc9068_jwt(app: TestApp) {
    app.create_user("alice").await;
    let client = app
        .create_client_with(false, &[REDIRECT_URI], &["https://api.example.com"], false)
        .await;
    let b = browser();
    let (code, verifier) = app.get_code(&b, &client, "openid", "alice").await;
    let body: serde_json::Value = app
        .exchange(&client, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let at = body["access_token"].as_str().unwrap();
    let header = jwt_header(at);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "RS256");
    let jwks: serde_json::Value = app
        .http
        .get(app.url("/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(header["kid"], jwks["keys"][0]["kid"]);
    let c = jwt_claims(at);
    for k in [
        "iss",
        "sub",
        "aud",
        "client_id",
        "scope",
        "jti",
        "exp",
        "iat",
    ] {
        assert!(c.get(k).is_some(), "claim {k}");
    }
    assert_eq!(
        c["aud"],
        serde_json::json!(["https://api.example.com", app.issuer])
    );
    assert_eq!(c["client_id"], client.id);
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 600);
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["token_type"], "Bearer");
}

/// SECURITY.md: without `openid` it is plain OAuth 2.0: no ID token, and aud is the issuer alone
/// when the client registered no API.
async fn without_openid_there_is_no_id_token(app: TestApp) {
    app.create_user("alice").await;
    let client = app.create_client().await;
    let b = browser();
    let (code, verifier) = app
        .get_code(&b, &client, "email unknown:scope", "alice")
        .await;
    let body: serde_json::Value = app
        .exchange(&client, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    assert!(body.get("id_token").is_none());
    assert_eq!(
        body["scope"], "email",
        "unknown scope values are never granted"
    );
    let c = jwt_claims(body["access_token"].as_str().unwrap());
    assert_eq!(c["aud"], app.issuer);
    // Without openid the token is not good for /userinfo.
    assert_eq!(
        app.userinfo(body["access_token"].as_str().unwrap())
            .await
            .status(),
        403
    );
}

/// Issue: a second /authorize in the same browser skips the login form (SSO), and a remembered
/// consent covering the scopes skips the consent page.
async fn second_authorize_in_same_browser_skips_login_and_consent(app: TestApp) {
    app.create_user("alice").await;
    let client = app.create_client().await;
    let b = browser();
    app.get_code(&b, &client, "openid email", "alice").await;
    let challenge = gatehouse::oauth::pkce::s256_challenge(&gatehouse::crypto::random_token());
    let resp = app
        .authorize(
            &b,
            &[
                ("response_type", "code"),
                ("client_id", &client.id),
                ("redirect_uri", REDIRECT_URI),
                ("scope", "openid"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let loc = location(&resp);
    assert!(
        loc.starts_with(REDIRECT_URI),
        "straight back to the client: {loc}"
    );
    assert!(param(&query_of(&loc), "code").is_some());

    // A wider request asks for consent again (but not for the password).
    let resp = app
        .authorize(
            &b,
            &[
                ("response_type", "code"),
                ("client_id", &client.id),
                ("redirect_uri", REDIRECT_URI),
                ("scope", "openid profile"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    assert!(location(&resp).starts_with("/consent"));
}

/// First-party clients never show consent.
async fn skip_consent_client_goes_straight_back(app: TestApp) {
    app.create_user("alice").await;
    let client = app
        .create_client_with(false, &[REDIRECT_URI], &[], true)
        .await;
    let b = browser();
    let verifier = gatehouse::crypto::random_token();
    let challenge = gatehouse::oauth::pkce::s256_challenge(&verifier);
    let resp = app
        .authorize(
            &b,
            &[
                ("response_type", "code"),
                ("client_id", &client.id),
                ("redirect_uri", REDIRECT_URI),
                ("scope", "openid"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    let login = location(&resp);
    let resp = app.submit_login(&b, &login, "alice", PASSWORD).await;
    assert_eq!(resp.status(), 303);
    assert!(location(&resp).starts_with(REDIRECT_URI));
}

/// OIDC Core §3.1.2.1: POST to /authorize works like GET.
async fn authorize_accepts_post(app: TestApp) {
    let client = app.create_client().await;
    let challenge = gatehouse::oauth::pkce::s256_challenge(&gatehouse::crypto::random_token());
    let resp = browser()
        .post(app.url("/authorize"))
        .form(&[
            ("response_type", "code"),
            ("client_id", &client.id),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "openid"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert!(location(&resp).starts_with("/login?flow="));
}

crate::backend_tests!(
    confidential_relying_party_signs_in,
    public_relying_party_signs_in,
    access_token_is_rfc9068_jwt,
    without_openid_there_is_no_id_token,
    second_authorize_in_same_browser_skips_login_and_consent,
    skip_consent_client_goes_straight_back,
    authorize_accepts_post,
);

/// The bar: a PyJWT resource server (as the FastAPI tutorials write it) accepts our
/// access token unmodified, for its own audience.
#[tokio::test]
async fn pyjwt_resource_server_accepts_access_token() {
    if !python_has(
        "jwt, cryptography",
        "GATEHOUSE_REQUIRE_PYJWT",
        "PyJWT[crypto]",
    ) {
        return;
    }
    let app = TestApp::spawn(crate::helpers::Backend::Sqlite)
        .await
        .unwrap();
    let user = app.create_user("alice").await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/resource_server.py");
    // The API verifies with the algorithm it was told its tokens use.
    for alg in gatehouse::domain::Alg::ALL {
        let client = app
            .create_client_custom(false, |c| {
                c.audiences = vec!["https://api.example.com".into()];
                c.access_token_signed_response_alg = alg;
            })
            .await;
        let token = app.access_token(&client, &browser()).await;
        let run = |audience: &str, alg: &str| {
            let args = [
                script.to_string(),
                app.url("/jwks.json"),
                app.issuer.clone(),
                audience.to_string(),
                token.clone(),
                alg.to_string(),
            ];
            tokio::task::spawn_blocking(move || {
                std::process::Command::new("python3")
                    .args(args)
                    .output()
                    .unwrap()
            })
        };
        let ok = run("https://api.example.com", alg.as_str()).await.unwrap();
        assert!(
            ok.status.success(),
            "{alg}: {}",
            String::from_utf8_lossy(&ok.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), user.id);
        let wrong = run("https://other.example.com", alg.as_str())
            .await
            .unwrap();
        assert!(
            !wrong.status.success(),
            "{alg}: a token for another API is refused"
        );
        if alg != gatehouse::domain::Alg::RS256 {
            let pinned = run("https://api.example.com", "RS256").await.unwrap();
            assert!(
                !pinned.status.success(),
                "{alg}: an API pinned to RS256 refuses it"
            );
        }
    }
}

/// A person in headless Chromium completes the flow on our pages (Selenium drives it).
#[tokio::test]
async fn person_in_a_browser_completes_the_flow() {
    if !browser_available() {
        return;
    }
    let app = TestApp::spawn(crate::helpers::Backend::Sqlite)
        .await
        .unwrap();
    app.create_user("alice").await;
    // A loopback port nobody listens on: the browser's last navigation fails, but its URL is the redirect.
    let redirect = "http://127.0.0.1:9/callback";
    let client = app.create_client_with(false, &[redirect], &[], false).await;
    let verifier = gatehouse::crypto::random_token();
    let challenge = gatehouse::oauth::pkce::s256_challenge(&verifier);
    let auth_url = reqwest::Url::parse_with_params(
        &app.url("/authorize"),
        &[
            ("response_type", "code"),
            ("client_id", &client.id),
            ("redirect_uri", redirect),
            ("scope", "openid email"),
            ("state", "s1"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser_flow.py");
    let args = [
        script.to_string(),
        auth_url.to_string(),
        "alice".into(),
        PASSWORD.into(),
        redirect.into(),
    ];
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args(args)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let landed = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(landed.starts_with(redirect), "{landed}");
    let q = query_of(&landed);
    assert_eq!(param(&q, "state").as_deref(), Some("s1"));
    let code = param(&q, "code").unwrap();
    let resp = app
        .token(
            &client,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", redirect),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    assert_eq!(resp.status(), 200);
}

/// A single-page app built on oidc-client-ts signs in, exchanges its code and calls /userinfo
/// from the browser: discovery, token and userinfo answer its origin with CORS.
#[tokio::test]
async fn spa_on_oidc_client_ts_signs_in_from_the_browser() {
    let spa = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/spa");
    let available = std::path::Path::new("/usr/bin/chromedriver").exists()
        && std::path::Path::new(&format!(
            "{spa}/node_modules/oidc-client-ts/dist/browser/oidc-client-ts.min.js"
        ))
        .exists()
        && std::process::Command::new("python3")
            .args(["-c", "import selenium"])
            .status()
            .is_ok_and(|s| s.success());
    if !available {
        assert_ne!(
            std::env::var("GATEHOUSE_REQUIRE_BROWSER").as_deref(),
            Ok("1"),
            "Chromium, Selenium and tests/spa/node_modules are required"
        );
        eprintln!(
            "skipped: needs chromium-driver, python3 selenium and `npm install` in tests/spa"
        );
        return;
    }
    let app = TestApp::spawn(crate::helpers::Backend::Sqlite)
        .await
        .unwrap();
    let user = app.create_user("alice").await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let redirect = format!("http://127.0.0.1:{port}/callback.html");
    let client = app
        .create_client_with(true, &[redirect.as_str()], &[], false)
        .await;
    let args = [
        format!("{spa}/serve_and_drive.py"),
        app.issuer.clone(),
        client.id.clone(),
        port.to_string(),
        "alice".into(),
        PASSWORD.into(),
    ];
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args(args)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["profile"]["sub"], user.id);
    assert_eq!(result["userinfo"]["sub"], user.id);
    assert_eq!(result["userinfo"]["email"], "someone@example.com");
}
