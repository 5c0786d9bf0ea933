use gatehouse::accounts::password::Hasher;
use gatehouse::accounts::{NewUser, create_user};
use gatehouse::clock::Clock;
use gatehouse::config::Config;
use gatehouse::crypto::{hash_secret, random_id, random_token};
use gatehouse::domain::Client;
pub use gatehouse::domain::GrantType;
use gatehouse::oauth::pkce::s256_challenge;
use gatehouse::startup::App;
use gatehouse::store::Store;
use sqlx::Connection;
use tempfile::TempDir;
use tokio::sync::oneshot;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Emits each listed `async fn name(app: TestApp)` once per backend: `sqlite::name` and
/// `postgres::name` (skipped, not failed, when PostgreSQL is not configured).
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        $crate::backend_tests_with!(|_| {}; $($name),*);
    };
}

/// As `backend_tests!`, with each app's configuration adjusted by `$adjust` first.
#[macro_export]
macro_rules! backend_tests_with {
    ($adjust:expr; $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let app = $crate::helpers::TestApp::spawn_with($crate::helpers::Backend::Sqlite, $adjust).await.expect("sqlite app");
                    super::$name(app).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    match $crate::helpers::TestApp::spawn_with($crate::helpers::Backend::Postgres, $adjust).await {
                        Some(app) => super::$name(app).await,
                        None => eprintln!("skipped: GATEHOUSE_TEST_DATABASE_URL is not set"),
                    }
                }
            )*
        }
    };
}

pub const PASSWORD: &str = "correct horse battery";
pub const REDIRECT_URI: &str = "https://app.example.com/callback";

pub struct TestApp {
    pub issuer: String,
    pub config: Config,
    pub keys: std::sync::Arc<gatehouse::keys::Keystore>,
    pub store: Store,
    pub clock: Clock,
    /// A plain client for back-channel calls (token, userinfo).
    pub http: reqwest::Client,
    _dir: TempDir,
    _stop: oneshot::Sender<()>,
    /// Declared last: dropped after the server's stop signal.
    _cleanup: Option<DropDatabase>,
}

#[derive(Clone)]
pub struct TestClient {
    pub id: String,
    pub secret: Option<String>,
}

pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Drops a test's PostgreSQL database when the test ends (on its own thread and runtime: Drop
/// cannot await).
struct DropDatabase {
    admin_url: String,
    name: String,
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut conn) = sqlx::postgres::PgConnection::connect(&url).await {
                    let sql = format!("drop database if exists {name} with (force)");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

/// A fresh PostgreSQL database on the configured server.
async fn postgres_database() -> Option<(String, DropDatabase)> {
    let base = std::env::var("GATEHOUSE_TEST_DATABASE_URL")
        .ok()
        .filter(|s| !s.is_empty())?;
    let name = format!("gh_test_{}", random_id());
    let mut conn = sqlx::postgres::PgConnection::connect(&base)
        .await
        .expect("connect to GATEHOUSE_TEST_DATABASE_URL");
    sqlx::query(sqlx::AssertSqlSafe(format!("create database {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.ok();
    let mut url = url::Url::parse(&base).unwrap();
    url.set_path(&name);
    Some((
        url.to_string(),
        DropDatabase {
            admin_url: base,
            name,
        },
    ))
}

/// Builds and serves an app; returns its keystore, store and stop handle.
async fn start(
    config: Config,
    clock: Clock,
    listener: tokio::net::TcpListener,
) -> (
    std::sync::Arc<gatehouse::keys::Keystore>,
    Store,
    oneshot::Sender<()>,
) {
    let app = App::build_with_listener(config, clock, listener)
        .await
        .expect("app builds");
    let keys = app.keys().clone();
    let store = app.store().clone();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(app.run_until(async move {
        let _ = rx.await;
    }));
    (keys, store, tx)
}

/// The `openidconnect` crate's client as `from_provider_metadata` builds it.
pub type RelyingParty = openidconnect::core::CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// A second server on the same database and master key: another replica.
pub struct Replica {
    pub issuer: String,
    pub keys: std::sync::Arc<gatehouse::keys::Keystore>,
    _stop: oneshot::Sender<()>,
}

impl TestApp {
    pub async fn spawn_replica(&self) -> Replica {
        self.spawn_replica_with(|_| {}).await
    }

    /// A replica whose configuration differs from ours as `adjust` says.
    pub async fn spawn_replica_with(&self, adjust: impl FnOnce(&mut Config)) -> Replica {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = self.config.clone();
        adjust(&mut config);
        config.bind = addr;
        config.issuer = format!("http://127.0.0.1:{}", addr.port());
        let (keys, _, stop) = start(config.clone(), self.clock.clone(), listener).await;
        Replica {
            issuer: config.issuer,
            keys,
            _stop: stop,
        }
    }

    pub async fn spawn(backend: Backend) -> Option<Self> {
        Self::spawn_with(backend, |_| {}).await
    }

    /// As `spawn`, with the configuration adjusted first.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Option<Self> {
        if std::env::var("TEST_LOG").is_ok() {
            gatehouse::telemetry::init(gatehouse::config::LogFormat::Text);
        }
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let issuer = format!("http://127.0.0.1:{}", addr.port());
        let mut config = Config::embedded(
            &issuer,
            addr,
            dir.path().join("data"),
            dir.path().join("keys"),
        );
        // Every algorithm, so the suite covers each (the shipped default leaves EdDSA out).
        config.signing_algs = gatehouse::domain::Alg::ALL.to_vec();
        adjust(&mut config);
        let mut cleanup = None;
        if backend == Backend::Postgres {
            let (url, drop_db) = postgres_database().await?;
            config.database_url = Some(url);
            cleanup = Some(drop_db);
        }
        // Time stands still unless a test moves it, so expiry and back-off are deterministic.
        let clock = Clock::frozen();
        let (keys, store, stop) = start(config.clone(), clock.clone(), listener).await;
        Some(Self {
            issuer,
            config,
            keys,
            store,
            clock,
            http: reqwest::Client::new(),
            _dir: dir,
            _stop: stop,
            _cleanup: cleanup,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }

    pub async fn create_user(&self, username: &str) -> gatehouse::domain::User {
        let new = NewUser {
            username,
            email: Some("someone@example.com"),
            email_verified: false,
            name: Some("Some One"),
        };
        create_user(
            &self.store,
            &Hasher::default(),
            new,
            PASSWORD,
            self.clock.now(),
        )
        .await
        .unwrap()
    }

    pub async fn create_client_with(
        &self,
        public: bool,
        redirect_uris: &[&str],
        audiences: &[&str],
        skip_consent: bool,
    ) -> TestClient {
        self.create_client_custom(public, |c| {
            c.redirect_uris = redirect_uris.iter().map(|s| s.to_string()).collect();
            c.audiences = audiences.iter().map(|s| s.to_string()).collect();
            c.skip_consent = skip_consent;
        })
        .await
    }

    /// A client with the defaults (one redirect URI, authorization_code) changed by `f`.
    pub async fn create_client_custom(
        &self,
        public: bool,
        f: impl FnOnce(&mut Client),
    ) -> TestClient {
        let secret = (!public).then(random_token);
        let mut client = Client {
            id: random_id(),
            name: "Example App".into(),
            secret_hash: secret.as_deref().map(hash_secret),
            redirect_uris: vec![REDIRECT_URI.into()],
            grant_types: vec![GrantType::AuthorizationCode],
            created_at: self.clock.now(),
            ..Client::default()
        };
        f(&mut client);
        self.store.insert_client(&client).await.unwrap();
        TestClient {
            id: client.id,
            secret,
        }
    }

    pub async fn create_client(&self) -> TestClient {
        self.create_client_with(false, &[REDIRECT_URI], &[], false)
            .await
    }

    /// A relying party for `registered` that has fetched our discovery document now, and the
    /// HTTP client it talks to us with (redirects not followed, as the RFCs want).
    pub async fn relying_party(&self, registered: &TestClient) -> (RelyingParty, reqwest::Client) {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let metadata = openidconnect::core::CoreProviderMetadata::discover_async(
            openidconnect::IssuerUrl::new(self.issuer.clone()).unwrap(),
            &http,
        )
        .await
        .unwrap();
        let client = openidconnect::core::CoreClient::from_provider_metadata(
            metadata,
            openidconnect::ClientId::new(registered.id.clone()),
            registered
                .secret
                .clone()
                .map(openidconnect::ClientSecret::new),
        )
        .set_redirect_uri(openidconnect::RedirectUrl::new(REDIRECT_URI.into()).unwrap());
        (client, http)
    }

    /// Alice's access token for `client` (scope openid), through this browser.
    pub async fn access_token(&self, client: &TestClient, browser: &reqwest::Client) -> String {
        self.access_token_for(client, browser, "openid").await
    }

    /// Alice's access token for `client` with `scope`, through this browser.
    pub async fn access_token_for(
        &self,
        client: &TestClient,
        browser: &reqwest::Client,
        scope: &str,
    ) -> String {
        let (code, verifier) = self.get_code(browser, client, scope, "alice").await;
        let body: serde_json::Value = self
            .exchange(client, &code, &verifier)
            .await
            .json()
            .await
            .unwrap();
        body["access_token"].as_str().unwrap().to_string()
    }

    /// GET /authorize with the given parameters.
    pub async fn authorize(
        &self,
        browser: &reqwest::Client,
        params: &[(&str, &str)],
    ) -> reqwest::Response {
        browser
            .get(self.url("/authorize"))
            .query(params)
            .send()
            .await
            .unwrap()
    }

    /// Follows a Location from the browser's point of view.
    pub async fn get(&self, browser: &reqwest::Client, location: &str) -> reqwest::Response {
        let url = if location.starts_with('/') {
            self.url(location)
        } else {
            location.to_string()
        };
        browser.get(url).send().await.unwrap()
    }

    /// Submits the login form at `login_location` (a `/login?flow=…` path).
    pub async fn submit_login(
        &self,
        browser: &reqwest::Client,
        login_location: &str,
        username: &str,
        password: &str,
    ) -> reqwest::Response {
        let page = self.get(browser, login_location).await;
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        let csrf = hidden(&html, "csrf");
        let mut form = vec![
            ("username", username.to_string()),
            ("password", password.to_string()),
            ("csrf", csrf),
        ];
        if let Some(flow) = maybe_hidden(&html, "flow") {
            form.push(("flow", flow));
        }
        browser
            .post(self.url("/login"))
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    /// Answers the consent page at `consent_location`.
    pub async fn submit_consent(
        &self,
        browser: &reqwest::Client,
        consent_location: &str,
        decision: &str,
    ) -> reqwest::Response {
        let page = self.get(browser, consent_location).await;
        assert_eq!(page.status(), 200, "consent page");
        let html = page.text().await.unwrap();
        let form = [
            ("csrf", hidden(&html, "csrf")),
            ("flow", hidden(&html, "flow")),
            ("decision", decision.to_string()),
        ];
        browser
            .post(self.url("/consent"))
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    /// Drives a whole browser sign-in (login + consent as needed) and returns the final client
    /// redirect's query parameters.
    pub async fn sign_in(
        &self,
        browser: &reqwest::Client,
        params: &[(&str, &str)],
        username: &str,
    ) -> Vec<(String, String)> {
        let resp = self.authorize(browser, params).await;
        query_of(&self.follow_to_client(browser, resp, username).await)
    }

    /// From the first authorization response, signs in and consents as needed; returns the
    /// final redirect to the client.
    pub async fn follow_to_client(
        &self,
        browser: &reqwest::Client,
        mut resp: reqwest::Response,
        username: &str,
    ) -> String {
        for _ in 0..5 {
            assert_eq!(
                resp.status(),
                303,
                "expected a redirect, got {}",
                resp.status()
            );
            let loc = location(&resp);
            if loc == "/login" || loc.starts_with("/login?") {
                resp = self.submit_login(browser, &loc, username, PASSWORD).await;
            } else if loc.starts_with("/consent") {
                resp = self.submit_consent(browser, &loc, "allow").await;
            } else {
                return loc;
            }
        }
        panic!("sign-in did not finish");
    }

    /// A full authorization request for `client`, returning (code, verifier).
    pub async fn get_code(
        &self,
        browser: &reqwest::Client,
        client: &TestClient,
        scope: &str,
        username: &str,
    ) -> (String, String) {
        let verifier = random_token();
        let challenge = s256_challenge(&verifier);
        let q = self
            .sign_in(
                browser,
                &[
                    ("response_type", "code"),
                    ("client_id", &client.id),
                    ("redirect_uri", REDIRECT_URI),
                    ("scope", scope),
                    ("state", "st"),
                    ("nonce", "n0"),
                    ("code_challenge", &challenge),
                    ("code_challenge_method", "S256"),
                ],
                username,
            )
            .await;
        (param(&q, "code").expect("code in redirect"), verifier)
    }

    /// POST /token with client_secret_basic (confidential) or client_id in the body (public).
    pub async fn token(&self, client: &TestClient, form: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self.http.post(self.url("/token"));
        let mut body: Vec<(&str, &str)> = form.to_vec();
        match &client.secret {
            Some(s) => req = req.basic_auth(&client.id, Some(s)),
            None => body.push(("client_id", &client.id)),
        }
        req.form(&body).send().await.unwrap()
    }

    /// POST /token with the refresh grant and `extra` parameters (scope, resource).
    pub async fn refresh(
        &self,
        client: &TestClient,
        token: &str,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
        form.extend_from_slice(extra);
        self.token(client, &form).await
    }

    pub async fn exchange(
        &self,
        client: &TestClient,
        code: &str,
        verifier: &str,
    ) -> reqwest::Response {
        self.token(
            client,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", verifier),
            ],
        )
        .await
    }

    /// The discovery document.
    pub async fn discovery(&self) -> serde_json::Value {
        self.get_json(&self.url("/.well-known/openid-configuration"))
            .await
    }

    /// GET a JSON document (ours or a replica's).
    pub async fn get_json(&self, url: &str) -> serde_json::Value {
        self.http
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn userinfo(&self, token: &str) -> reqwest::Response {
        self.http
            .get(self.url("/userinfo"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }
}

/// POSTs `form` to `path`, authenticated as `client` (Basic, or `client_id` when public).
pub async fn post_as(
    app: &TestApp,
    client: &TestClient,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = app.http.post(app.url(path));
    let mut body = form.to_vec();
    match &client.secret {
        Some(s) => req = req.basic_auth(&client.id, Some(s)),
        None => body.push(("client_id", &client.id)),
    }
    req.form(&body).send().await.unwrap()
}

/// RFC 7662 introspection of `token` by `caller`, which must answer 200.
pub async fn introspect(app: &TestApp, caller: &TestClient, token: &str) -> serde_json::Value {
    let resp = post_as(app, caller, "/introspect", &[("token", token)]).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

pub fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("location")
        .expect("Location header")
        .to_str()
        .unwrap()
        .to_string()
}

pub fn query_of(url: &str) -> Vec<(String, String)> {
    let q = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

pub fn param(q: &[(String, String)], name: &str) -> Option<String> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

pub fn maybe_hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_string())
}

pub fn hidden(html: &str, name: &str) -> String {
    maybe_hidden(html, name).unwrap_or_else(|| panic!("no hidden field {name} in page"))
}

/// Decodes a JWT's payload without verifying it (tests inspect claims after verifying elsewhere).
pub fn jwt_claims(jwt: &str) -> serde_json::Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&gatehouse::crypto::b64url_decode(payload).unwrap()).unwrap()
}

pub fn jwt_header(jwt: &str) -> serde_json::Value {
    let header = jwt.split('.').next().unwrap();
    serde_json::from_slice(&gatehouse::crypto::b64url_decode(header).unwrap()).unwrap()
}

/// True when python3 can import `modules`. Without them a check is skipped, except where
/// `require_var=1` (CI) makes that a failure.
pub fn python_has(modules: &str, require_var: &str, what: &str) -> bool {
    let available = std::process::Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .status()
        .is_ok_and(|s| s.success());
    if !available {
        assert_ne!(
            std::env::var(require_var).as_deref(),
            Ok("1"),
            "{what} is required but not installed"
        );
        eprintln!("skipped: python3 with {what} is not installed");
    }
    available
}

/// True when Chromium, its driver and Selenium are installed. Without them a browser test is
/// skipped, except where `GATEHOUSE_REQUIRE_BROWSER=1` (CI) makes that a failure.
pub fn browser_available() -> bool {
    let available = std::path::Path::new("/usr/bin/chromedriver").exists()
        && std::process::Command::new("python3")
            .args(["-c", "import selenium"])
            .status()
            .is_ok_and(|s| s.success());
    if !available {
        assert_ne!(
            std::env::var("GATEHOUSE_REQUIRE_BROWSER").as_deref(),
            Ok("1"),
            "Chromium and Selenium are required but not installed"
        );
        eprintln!("skipped: chromium-driver and python3 selenium are not installed");
    }
    available
}

/// A P-256 key a client holds (DPoP proofs, client assertions), made and used the way a
/// client library would, independently of the server's code.
pub struct EcKey(aws_lc_rs::signature::EcdsaKeyPair);

impl Default for EcKey {
    fn default() -> Self {
        Self::new()
    }
}

impl EcKey {
    pub fn new() -> Self {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        Self(EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap())
    }

    fn xy(&self) -> (String, String) {
        use aws_lc_rs::signature::KeyPair;
        let point = self.0.public_key().as_ref();
        (
            gatehouse::crypto::b64url(&point[1..33]),
            gatehouse::crypto::b64url(&point[33..]),
        )
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> serde_json::Value {
        let (x, y) = self.xy();
        serde_json::json!({"kty": "EC", "crv": "P-256", "x": x, "y": y})
    }

    /// RFC 7638, computed here from the members.
    pub fn jkt(&self) -> String {
        let (x, y) = self.xy();
        gatehouse::crypto::b64url(&gatehouse::crypto::sha256(
            format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#).as_bytes(),
        ))
    }

    /// A compact JWS of `claims` under `header`, signed ES256.
    pub fn sign(&self, header: &serde_json::Value, claims: &serde_json::Value) -> String {
        let b64 = |v: &serde_json::Value| gatehouse::crypto::b64url(v.to_string().as_bytes());
        let input = format!("{}.{}", b64(header), b64(claims));
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let sig = self.0.sign(&rng, input.as_bytes()).unwrap();
        format!("{input}.{}", gatehouse::crypto::b64url(sig.as_ref()))
    }
}
