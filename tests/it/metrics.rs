//! Prometheus metrics on their own listener: off by default, and when on, a scrape parses as
//! the text exposition format and reports requests, logins, tokens, keys, pool and sweeper.
use crate::helpers::*;
use gatehouse::clock::Clock;
use gatehouse::config::Config;
use gatehouse::crypto::{hash_secret, random_id, random_token};
use gatehouse::domain::Client;
use gatehouse::startup::App;
use std::collections::HashMap;

/// One sample line of the text format: `name{labels} value`.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: HashMap<String, String>,
    value: f64,
}

/// A strict reading of the Prometheus text exposition format: comments, then samples.
fn parse(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        assert!(!line.starts_with('#'), "unexpected comment: {line}");
        let (head, value) = line.rsplit_once(' ').expect("a value");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
        };
        let (name, labels) = match head.split_once('{') {
            None => (head.to_owned(), HashMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').expect("closing brace");
                let labels = body
                    .split("\",")
                    .filter(|p| !p.is_empty())
                    .map(|p| {
                        let (k, v) = p.split_once("=\"").expect("label=\"value\"");
                        (k.to_owned(), v.trim_end_matches('"').to_owned())
                    })
                    .collect();
                (name.to_owned(), labels)
            }
        };
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name {name}"
        );
        out.push(Sample {
            name,
            labels,
            value,
        });
    }
    out
}

fn find<'a>(samples: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Option<&'a Sample> {
    samples.iter().find(|s| {
        s.name == name
            && labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
    })
}

#[tokio::test]
async fn metrics_are_scraped_on_their_own_listener() {
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
    config.metrics_bind = Some("127.0.0.1:0".parse().unwrap());
    let clock = Clock::frozen();
    let app = App::build_with_listener(config, clock.clone(), listener)
        .await
        .unwrap();
    let metrics_port = app.metrics_port().expect("a metrics listener");
    let store = app.store().clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async move {
        let _ = rx.await;
    }));

    let secret = random_token();
    let client = Client {
        id: random_id(),
        name: "Metrics".into(),
        secret_hash: Some(hash_secret(&secret)),
        grant_types: vec![GrantType::ClientCredentials],
        allowed_scopes: Some(vec!["api".into()]),
        created_at: clock.now(),
        ..Client::default()
    };
    store.insert_client(&client).await.unwrap();
    let http = reqwest::Client::new();
    let token = http
        .post(format!("{issuer}/token"))
        .basic_auth(&client.id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 200);
    let failed = http
        .post(format!("{issuer}/login"))
        .form(&[("username", "nobody"), ("password", "x"), ("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 403, "no CSRF token, no sign-in attempt");
    let b = browser();
    let page = b
        .get(format!("{issuer}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let wrong = b
        .post(format!("{issuer}/login"))
        .form(&[
            ("username", "nobody"),
            ("password", "wrong password"),
            ("csrf", hidden(&page, "csrf").as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    http.get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();

    // The public listener has no /metrics.
    let public = http.get(format!("{issuer}/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404);

    let scrape = http
        .get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(scrape.status(), 200);
    assert!(
        scrape.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let samples = parse(&scrape.text().await.unwrap());
    let requests = find(
        &samples,
        "gatehouse_http_requests_total",
        &[("route", "/token"), ("method", "POST"), ("status", "200")],
    )
    .expect("requests by route and status");
    assert!(requests.value >= 1.0);
    assert!(
        find(
            &samples,
            "gatehouse_http_request_duration_seconds_bucket",
            &[
                ("route", "/.well-known/openid-configuration"),
                ("le", "+Inf")
            ],
        )
        .is_some_and(|s| s.value >= 1.0),
        "a latency histogram"
    );
    assert!(
        find(
            &samples,
            "gatehouse_tokens_issued_total",
            &[("grant", "client_credentials")]
        )
        .is_some_and(|s| s.value >= 1.0)
    );
    assert!(
        find(&samples, "gatehouse_logins_total", &[("outcome", "failed")])
            .is_some_and(|s| s.value >= 1.0),
        "logins by outcome"
    );
    let age = find(
        &samples,
        "gatehouse_signing_key_age_seconds",
        &[("alg", "RS256")],
    )
    .expect("key age");
    assert!(age.value >= 0.0);
    let next = find(
        &samples,
        "gatehouse_signing_key_next_rotation_seconds",
        &[("alg", "ES256")],
    )
    .expect("next rotation");
    assert!(next.value > 0.0);
    assert!(
        find(&samples, "gatehouse_db_pool_max_connections", &[]).is_some_and(|s| s.value > 0.0)
    );
    assert!(find(&samples, "gatehouse_sweeper_backlog_rows", &[]).is_some());
    assert!(find(&samples, "gatehouse_mail_queue_messages", &[]).is_some());
    // No raw paths or queries as labels: unrouted requests are not counted by path.
    assert!(
        samples
            .iter()
            .filter_map(|s| s.labels.get("route"))
            .all(|r| r.starts_with('/') && !r.contains('?'))
    );
    let _ = tx.send(());
}

/// Without GATEHOUSE_METRICS_BIND nothing listens for metrics.
#[tokio::test]
async fn metrics_are_off_by_default() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    assert!(app.config.metrics_bind.is_none());
    let resp = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
}
