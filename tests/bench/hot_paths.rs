//! Figures for the hot paths, printed, never asserted: `cargo bench --bench hot_paths`.
//! Under `cargo test` (no `--bench` argument) it runs one iteration of each as a smoke test.
use gatehouse::accounts::password::Hasher;
use gatehouse::clock::Clock;
use gatehouse::config::Config;
use gatehouse::crypto::{hash_secret, random_id, random_token};
use gatehouse::domain::{Alg, AlgSet, Client, GrantType, User};
use gatehouse::keys::{Keystore, MasterKey, Policy};
use gatehouse::oauth::authorize::Params;
use gatehouse::oauth::pkce::s256_challenge;
use gatehouse::startup::App;
use gatehouse::store::{NewCode, Store};
use std::time::{Duration, Instant};

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let n = samples.len();
    let total: Duration = samples.iter().sum();
    let pct = |p: f64| samples[((n as f64 * p) as usize).min(n - 1)];
    println!(
        "{name:<40} n={n:<6} mean={:>8.3} ms  p50={:>8.3} ms  p99={:>8.3} ms  ({:.0}/s sequential)",
        total.as_secs_f64() * 1e3 / n as f64,
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        n as f64 / total.as_secs_f64()
    );
}

/// Redeems each code at /token (sequentially) and returns the latencies.
async fn exchange_all(
    http: &reqwest::Client,
    issuer: &str,
    client_id: &str,
    secret: &str,
    verifier: &str,
    codes: &[String],
) -> Vec<Duration> {
    let mut samples = Vec::new();
    for code in codes {
        let t = Instant::now();
        let resp = http
            .post(format!("{issuer}/token"))
            .basic_auth(client_id, Some(secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", "https://app.example.com/cb"),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        resp.bytes().await.unwrap();
        samples.push(t.elapsed());
    }
    samples
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let scale = |n: usize| if full { n } else { 1 };

    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!(
        "sqlite://{}/bench.db?mode=rwc",
        dir.path().display()
    ))
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let policy = Policy {
        period: 86400,
        publish_lead: 300,
        retire_after: 3600,
        refresh_interval: 30,
        algs: AlgSet::ALL,
    };
    let keys = Keystore::open(store.clone(), MasterKey::from_bytes([1; 32]), policy, 0)
        .await
        .unwrap();

    let claims = serde_json::json!({"iss": "https://id.example.com", "sub": "u", "aud": "a", "exp": 2_000_000_000i64, "iat": 1});
    for (alg, jwt_alg) in [
        (Alg::RS256, jsonwebtoken::Algorithm::RS256),
        (Alg::ES256, jsonwebtoken::Algorithm::ES256),
        (Alg::EdDSA, jsonwebtoken::Algorithm::EdDSA),
    ] {
        let samples = (0..scale(2000))
            .map(|_| {
                let t = Instant::now();
                keys.sign(alg, "at+jwt", &claims).unwrap();
                t.elapsed()
            })
            .collect();
        report(&format!("{alg} sign (aws-lc-rs, cached key)"), samples);

        let token = keys.sign(alg, "at+jwt", &claims).unwrap();
        let (_, key) = keys
            .decoding_key(&keys.current_kid_of(alg).unwrap())
            .unwrap();
        let mut v = jsonwebtoken::Validation::new(jwt_alg);
        v.validate_aud = false;
        let samples = (0..scale(2000))
            .map(|_| {
                let t = Instant::now();
                jsonwebtoken::decode::<serde_json::Value>(&token, &key, &v).unwrap();
                t.elapsed()
            })
            .collect();
        report(&format!("{alg} verify (jsonwebtoken)"), samples);
    }

    let hasher = Hasher::default();
    let mut samples = Vec::new();
    for _ in 0..scale(20) {
        let t = Instant::now();
        hasher.hash("correct horse battery").await.unwrap();
        samples.push(t.elapsed());
    }
    report("argon2id hash (m=19456, t=2, p=1)", samples);

    // The token endpoint over HTTP: code redemption, two signatures, one insert.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let issuer = format!("http://127.0.0.1:{}", addr.port());
    let config = Config::embedded(
        &issuer,
        addr,
        dir.path().join("app"),
        dir.path().join("keys"),
    );
    let flow_cap = config.max_pending_flows_per_address;
    let app = App::build_with_listener(config, Clock::system(), listener)
        .await
        .unwrap();
    let app_store = app.store().clone();
    let app_keys = app.keys().clone();
    let (_stop, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async move {
        let _ = rx.await;
    }));
    let user = User {
        id: random_id(),
        username: "bench".into(),
        email: None,
        email_verified: false,
        name: None,
        disabled: false,
        created_at: 0,
        profile: Default::default(),
        updated_at: 0,
        revision: 0,
    };
    app_store.insert_user(&user, "x").await.unwrap();
    let secret = random_token();
    let client = Client {
        id: random_id(),
        name: "bench".into(),
        secret_hash: Some(hash_secret(&secret)),
        redirect_uris: vec!["https://app.example.com/cb".into()],
        audiences: vec![],
        skip_consent: true,
        created_at: 0,
        grant_types: vec![GrantType::AuthorizationCode],
        ..Client::default()
    };
    app_store.insert_client(&client).await.unwrap();
    let http = reqwest::Client::new();
    let verifier = random_token();
    let challenge = s256_challenge(&verifier);
    let now = Clock::system().now();
    let n = scale(1000).max(2);
    let mut codes = Vec::new();
    for _ in 0..n {
        let code = random_token();
        let code_hash = hash_secret(&code);
        app_store
            .insert_code(&NewCode {
                code_hash: &code_hash,
                client_id: &client.id,
                user_id: &user.id,
                redirect_uri: "https://app.example.com/cb",
                scope: "openid",
                resource: "",
                nonce: None,
                code_challenge: &challenge,
                code_challenge_method: "S256",
                session_key: None,
                auth_time: now,
                amr: "pwd",
                expires_at: now + 3600,
                created_at: now,
                dpop_jkt: None,
            })
            .await
            .unwrap();
        codes.push(code);
    }
    let (plain, during_rotation) = codes.split_at(n / 2);
    let samples = exchange_all(&http, &issuer, &client.id, &secret, &verifier, plain).await;
    report("POST /token (code exchange, SQLite)", samples);

    // The same while keys are generated and rotated in every 200 ms (blocking pool).
    let keys = app_keys.clone();
    let rotating = tokio::spawn(async move {
        let mut rotations = 0;
        loop {
            if keys
                .rotate(Alg::RS256, Clock::system().now(), true, "bench")
                .await
                .is_ok()
            {
                rotations += 1;
            }
            // Far more often than the real schedule (once per period), still with gaps.
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            if rotations > 1000 {
                break rotations;
            }
        }
    });
    let samples = exchange_all(
        &http,
        &issuer,
        &client.id,
        &secret,
        &verifier,
        during_rotation,
    )
    .await;
    rotating.abort();
    report("POST /token with a rotation every 200 ms", samples);

    let samples = {
        let mut s = Vec::new();
        for _ in 0..scale(2000) {
            let t = Instant::now();
            http.get(format!("{issuer}/jwks.json"))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            s.push(t.elapsed());
        }
        s
    };
    report("GET /jwks.json", samples);

    // The parser on the hardening issue's flood: a 1 MB form of names, each sent twice.
    let mut flood = String::with_capacity(1 << 20);
    let mut i = 0;
    while flood.len() < 1 << 20 {
        flood.push_str(&format!("p{i}=1&p{i}=2&"));
        i += 1;
    }
    let samples = (0..scale(50))
        .map(|_| {
            let t = Instant::now();
            let p = Params::from_pairs(
                form_urlencoded::parse(flood.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned())),
            );
            assert!(p.problem().is_some());
            t.elapsed()
        })
        .collect();
    report("parse 1 MB form of repeated names", samples);

    // Anonymous authorization requests (no cookies): what they leave in the database.
    let db = dir.path().join("app").join("gatehouse.db");
    let size = || {
        ["", "-wal"]
            .iter()
            .filter_map(|ext| std::fs::metadata(format!("{}{ext}", db.display())).ok())
            .map(|m| m.len())
            .sum::<u64>()
    };
    let (size_before, rows_before) = (
        size(),
        app_store
            .count_sessions_and_flows(Clock::system().now())
            .await
            .unwrap(),
    );
    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let n = scale(10_000);
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        let resp = anonymous
            .get(format!("{issuer}/authorize"))
            .query(&[
                ("response_type", "code"),
                ("client_id", client.id.as_str()),
                ("redirect_uri", "https://app.example.com/cb"),
                ("scope", "openid"),
                ("state", &format!("{i:0>64}")),
                ("nonce", &"n".repeat(64)),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 303);
        samples.push(t.elapsed());
    }
    report("GET /authorize, anonymous", samples);
    let rows = app_store
        .count_sessions_and_flows(Clock::system().now())
        .await
        .unwrap();
    println!(
        "{n} anonymous authorization requests: sessions {} -> {} (each expires within {} s), pending flows {} -> {} (cap {} per address), database {} kB -> {} kB",
        rows_before.0,
        rows.0,
        gatehouse::config::FLOW_TTL,
        rows_before.1,
        rows.1,
        flow_cap,
        size_before / 1024,
        size() / 1024
    );
}
