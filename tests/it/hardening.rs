//! Bounded parsing, bounded connections, and bad bytes that must never reach the database.
use crate::helpers::*;
use gatehouse::clock::Clock;
use gatehouse::config::Config;
use gatehouse::crypto::random_token;
use gatehouse::oauth::pkce::s256_challenge;
use gatehouse::startup::App;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn authorize_params<'a>(client_id: &'a str, challenge: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid"),
        ("state", "st"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

/// The parameter flood of the hardening issue: ~190k distinct names, each twice. It is refused
/// by the body limit (413) before anything parses it.
async fn parameter_flood_is_refused_by_the_body_limit(app: TestApp) {
    let mut body = String::with_capacity(2_000_000);
    for i in 0..95_000 {
        body.push_str(&format!("p{i}=1&p{i}=2&"));
    }
    let resp = app
        .http
        .post(app.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    // Discovery still answers at once afterwards.
    let d = app
        .http
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(d.status(), 200);
}

/// At most 100 parameters: a 101-parameter token request is `invalid_request`.
async fn more_than_a_hundred_parameters_are_invalid_request(app: TestApp) {
    let client = app.create_client().await;
    let mut form: Vec<(String, String)> = (0..100).map(|i| (format!("x{i}"), "1".into())).collect();
    form.push(("grant_type".into(), "authorization_code".into()));
    let resp = app
        .http
        .post(app.url("/token"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert!(body["error_description"].as_str().unwrap().contains("100"));

    // Exactly 100 is fine as far as parsing goes (the grant itself is then checked).
    let mut form: Vec<(String, String)> = (0..96).map(|i| (format!("x{i}"), "1".into())).collect();
    form.push(("grant_type".into(), "authorization_code".into()));
    form.push(("redirect_uri".into(), REDIRECT_URI.into()));
    form.push(("code".into(), "nope".into()));
    form.push(("code_verifier".into(), random_token()));
    let resp = app
        .http
        .post(app.url("/token"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&form)
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
}

/// Protocol bodies stop at 64 kB, page forms at 16 kB: 413 either way.
async fn bodies_over_the_route_limit_get_413(app: TestApp) {
    let big = "a".repeat(65 * 1024);
    let resp = app
        .http
        .post(app.url("/token"))
        .form(&[("grant_type", "client_credentials"), ("pad", &big)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    let resp = app
        .http
        .post(app.url("/revoke"))
        .form(&[("token", big.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);

    // 20 kB passes the protocol limit but not the login form's.
    let medium = "a".repeat(20 * 1024);
    let resp = app
        .http
        .post(app.url("/token"))
        .form(&[("grant_type", "client_credentials"), ("pad", &medium)])
        .send()
        .await
        .unwrap();
    assert_ne!(resp.status(), 413);
    for path in ["/login", "/consent", "/logout"] {
        let resp = app
            .http
            .post(app.url(path))
            .form(&[
                ("username", medium.as_str()),
                ("password", "x"),
                ("csrf", "x"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 413, "{path}");
    }
    // A chunked body without a length is cut off at the limit too.
    let addr = app.issuer.trim_start_matches("http://").to_string();
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n")
        .await
        .unwrap();
    let chunk = format!("2000\r\n{}\r\n", "a".repeat(0x2000));
    for _ in 0..9 {
        if s.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = s.write_all(b"0\r\n\r\n").await;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 413");
}

/// Request targets over 8 kB get 414 before anything parses them.
async fn long_uri_gets_414(app: TestApp) {
    let resp = app
        .http
        .get(app.url(&format!("/authorize?state={}", "s".repeat(9000))))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 414);
    assert!(resp.headers().contains_key("content-security-policy"));
    let ok = app
        .http
        .get(app.url(&format!("/authorize?state={}", "s".repeat(4000))))
        .send()
        .await
        .unwrap();
    assert_eq!(
        ok.status(),
        400,
        "a long but allowed URI reaches the endpoint"
    );
}

/// NUL and other control characters get `invalid_request` (or the page's error), never a 500
/// from the database (PostgreSQL's text refuses NUL).
async fn control_characters_are_refused_before_the_database(app: TestApp) {
    let client = app.create_client().await;
    let ch = s256_challenge(&random_token());
    let b = browser();

    // Before the client is verified: our page.
    for bad in ["a\0b", "line\nbreak", "del\u{7f}"] {
        let resp = app
            .authorize(&b, &[("response_type", "code"), ("client_id", bad)])
            .await;
        assert_eq!(resp.status(), 400, "client_id {bad:?}");
    }
    // After: back to the client with invalid_request.
    let mut params = authorize_params(&client.id, &ch);
    params.push(("nonce", "n\0"));
    let resp = app.authorize(&b, &params).await;
    assert_eq!(resp.status(), 303);
    let q = query_of(&location(&resp));
    assert_eq!(param(&q, "error").as_deref(), Some("invalid_request"));
    assert_eq!(param(&q, "state").as_deref(), Some("st"));

    // Token endpoint, in the body and in Basic credentials.
    let resp = app
        .token(
            &client,
            &[
                ("grant_type", "authorization_code"),
                ("code", "abc\0def"),
                ("code_verifier", &random_token()),
            ],
        )
        .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap()["error"],
        "invalid_request"
    );
    let resp = app
        .http
        .post(app.url("/token"))
        .basic_auth("a\0b", Some("secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        401,
        "RFC 6749 §5.2: failed Basic authentication"
    );
    for path in ["/revoke", "/introspect"] {
        let resp = app
            .http
            .post(app.url(path))
            .basic_auth(&client.id, client.secret.as_deref())
            .form(&[("token", "t\0")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{path}");
    }
    let resp = app
        .http
        .post(app.url("/userinfo"))
        .form(&[("access_token", "t\0")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    // Pages: queries and forms.
    for path in [
        "/login?flow=%00",
        "/consent?flow=%00",
        "/logout?client_id=%00",
    ] {
        let resp = app.get(&b, path).await;
        assert_eq!(resp.status(), 400, "{path}");
    }
    let login = app.get(&b, "/login").await.text().await.unwrap();
    let csrf = hidden(&login, "csrf");
    for username in ["ali\0ce", "ali\rce"] {
        let resp = b
            .post(app.url("/login"))
            .form(&[("username", username), ("password", "pw"), ("csrf", &csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{username:?}");
        assert!(resp.text().await.unwrap().contains("not allowed"));
    }
    let resp = b
        .post(app.url("/consent"))
        .form(&[("flow", "f\0"), ("csrf", &csrf), ("decision", "allow")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

/// An anonymous request leaves a session that lives only as long as a flow; once signed in,
/// the session gets its full lifetime.
async fn anonymous_sessions_live_as_long_as_a_flow(app: TestApp) {
    app.create_user("alice").await;
    let client = app.create_client().await;
    let ch = s256_challenge(&random_token());
    let b = browser();
    let resp = app.authorize(&b, &authorize_params(&client.id, &ch)).await;
    assert_eq!(resp.status(), 303);
    let csrf = |b: reqwest::Client| {
        let url = app.url("/login");
        async move {
            hidden(
                &b.get(url).send().await.unwrap().text().await.unwrap(),
                "csrf",
            )
        }
    };
    let first = csrf(b.clone()).await;
    assert_eq!(
        app.store
            .count_sessions_and_flows(app.clock.now())
            .await
            .unwrap(),
        (1, 1)
    );
    app.clock.advance(gatehouse::config::FLOW_TTL + 1);
    assert_eq!(
        app.store
            .count_sessions_and_flows(app.clock.now())
            .await
            .unwrap(),
        (0, 0),
        "nothing anonymous outlives the flow"
    );
    assert_ne!(csrf(b.clone()).await, first, "a new session");

    // Signed in, the session outlives the flow lifetime.
    let signed = browser();
    assert_eq!(
        app.submit_login(&signed, "/login", "alice", PASSWORD)
            .await
            .status(),
        303
    );
    let before = csrf(signed.clone()).await;
    app.clock.advance(gatehouse::config::FLOW_TTL + 1);
    assert_eq!(csrf(signed.clone()).await, before);
}

/// A new flow keeps an anonymous session alive for its whole lifetime.
async fn anonymous_session_lives_as_long_as_its_newest_flow(app: TestApp) {
    app.create_user("alice").await;
    let client = app.create_client().await;
    let ch = s256_challenge(&random_token());
    let b = browser();
    app.authorize(&b, &authorize_params(&client.id, &ch)).await;
    app.clock.advance(10 * 60);
    let resp = app.authorize(&b, &authorize_params(&client.id, &ch)).await;
    let login = location(&resp);
    app.clock.advance(6 * 60);
    let resp = app.submit_login(&b, &login, "alice", PASSWORD).await;
    assert_eq!(
        resp.status(),
        303,
        "the session outlived the first flow's window"
    );
}

/// One browser holds at most 10 pending flows; the oldest go first.
async fn pending_flows_are_capped_per_browser(app: TestApp) {
    let client = app.create_client().await;
    let ch = s256_challenge(&random_token());
    let b = browser();
    let mut logins = Vec::new();
    for _ in 0..13 {
        let resp = app.authorize(&b, &authorize_params(&client.id, &ch)).await;
        logins.push(location(&resp));
        app.clock.advance(1);
    }
    for (i, login) in logins.iter().enumerate() {
        let status = app.get(&b, login).await.status();
        let expected = if i < 3 { 400 } else { 200 };
        assert_eq!(status, expected, "flow {i}");
    }
    assert_eq!(
        app.store
            .count_sessions_and_flows(app.clock.now())
            .await
            .unwrap()
            .1,
        10
    );
}

crate::backend_tests!(
    anonymous_sessions_live_as_long_as_a_flow,
    anonymous_session_lives_as_long_as_its_newest_flow,
    pending_flows_are_capped_per_browser,
    parameter_flood_is_refused_by_the_body_limit,
    more_than_a_hundred_parameters_are_invalid_request,
    bodies_over_the_route_limit_get_413,
    long_uri_gets_414,
    control_characters_are_refused_before_the_database,
);

/// A server with short connection limits, and a handle that reports when it has stopped.
struct LimitedServer {
    addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

async fn limited_server(adjust: impl FnOnce(&mut Config)) -> LimitedServer {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = Config::embedded(
        &format!("http://127.0.0.1:{}", addr.port()),
        addr,
        dir.path().join("data"),
        dir.path().join("keys"),
    );
    adjust(&mut config);
    let app = App::build_with_listener(config, Clock::frozen(), listener)
        .await
        .unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(app.run_until(async move {
        let _ = rx.await;
    }));
    LimitedServer {
        addr,
        stop: Some(tx),
        done,
        _dir: dir,
    }
}

/// Reads until the server closes the connection; the bound only keeps a broken build from
/// hanging the suite.
async fn closed_by_server(stream: &mut TcpStream, bound: Duration) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let read_all = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(bound, read_all)
        .await
        .expect("the server should have closed the connection");
    got
}

/// Slowloris: a request whose headers never finish is closed after the header-read timeout,
/// even while it keeps trickling header lines.
#[tokio::test]
async fn never_finishing_headers_are_closed() {
    let server = limited_server(|c| c.header_read_timeout = 1).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let trickle = async {
        for i in 0..20 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if s.write_all(format!("X-Slow-{i}: 1\r\n").as_bytes())
                .await
                .is_err()
            {
                return true;
            }
        }
        false
    };
    let cut_off = tokio::time::timeout(Duration::from_secs(10), trickle)
        .await
        .unwrap();
    // Either a write failed, or the server answered and closed (hyper sends 408 first).
    let rest = closed_by_server(&mut s, Duration::from_secs(10)).await;
    assert!(
        cut_off || rest.is_empty() || rest.starts_with(b"HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&rest)
    );
}

/// A connection that moves no byte is dropped after the idle timeout, even while the
/// header-read timeout would still wait.
#[tokio::test]
async fn idle_connections_are_closed() {
    let server = limited_server(|c| {
        c.header_read_timeout = 60;
        c.idle_timeout = 1;
        c.body_timeout = 60;
    })
    .await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    let got = closed_by_server(&mut s, Duration::from_secs(10)).await;
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
}

/// The whole body must arrive within the body timeout: trickling a byte at a time does not
/// reset it (408, then the connection closes).
#[tokio::test]
async fn trickled_bodies_hit_one_deadline() {
    let server = limited_server(|c| {
        c.header_read_timeout = 60;
        c.idle_timeout = 60;
        c.body_timeout = 1;
    })
    .await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(
        b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n",
    )
    .await
    .unwrap();
    let (mut rd, mut wr) = s.into_split();
    let trickle = tokio::spawn(async move {
        for _ in 0..100 {
            if wr.write_all(b"a").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let mut head = [0u8; 12];
    tokio::time::timeout(Duration::from_secs(10), rd.read_exact(&mut head))
        .await
        .expect("answered before the trickle ended")
        .unwrap();
    assert_eq!(&head, b"HTTP/1.1 408");
    trickle.abort();
}

/// One address may hold only so many connections; the next is closed at once.
#[tokio::test]
async fn connections_per_address_are_capped() {
    let server = limited_server(|c| {
        c.max_connections_per_address = 2;
        c.header_read_timeout = 30;
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        held.push(s);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = TcpStream::connect(server.addr).await.unwrap();
    let got = closed_by_server(&mut third, Duration::from_secs(5)).await;
    assert!(got.is_empty(), "refused without an answer");
    // A slot freed is a slot usable again.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = TcpStream::connect(server.addr).await.unwrap();
    again
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let got = closed_by_server(&mut again, Duration::from_secs(5)).await;
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got)
    );
}

/// Shutdown waits for in-flight requests only until the drain deadline.
#[tokio::test]
async fn shutdown_stops_waiting_on_slow_clients() {
    let mut server = limited_server(|c| {
        c.header_read_timeout = 60;
        c.idle_timeout = 60;
        c.body_timeout = 60;
        c.shutdown_drain_timeout = 1;
    })
    .await;
    // A request in flight whose body never completes.
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(
        b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\ngrant_type=",
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.stop.take().unwrap().send(()).unwrap();
    let result = tokio::time::timeout(Duration::from_secs(15), &mut server.done)
        .await
        .expect("server stops after the drain deadline");
    result.unwrap().unwrap();
    closed_by_server(&mut s, Duration::from_secs(5)).await;
}

/// Past the connection cap, a further connection waits until one is free.
#[tokio::test]
async fn connections_beyond_the_cap_wait_their_turn() {
    let server = limited_server(|c| {
        c.max_connections = 1;
        c.header_read_timeout = 2;
    })
    .await;
    let mut first = TcpStream::connect(server.addr).await.unwrap();
    first
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // The second connection is accepted by the kernel but not served while the first lives.
    let mut second = TcpStream::connect(server.addr).await.unwrap();
    second
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let early = tokio::time::timeout(Duration::from_millis(500), second.read(&mut buf)).await;
    assert!(
        early.is_err(),
        "the second connection was served while the first held the only slot"
    );
    // Once the first is closed (header timeout), the second is served.
    let got = closed_by_server(&mut second, Duration::from_secs(10)).await;
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    drop(first);
}

/// HSTS is sent when the issuer is https.
#[tokio::test]
async fn hsts_when_the_issuer_is_https() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.issuer = "https://idp.example.com".into()
    })
    .await
    .unwrap();
    let resp = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(
        resp.headers()["strict-transport-security"],
        "max-age=31536000"
    );
}

/// One address holds at most its cap of pending flows, however many browsers it uses.
#[tokio::test]
async fn pending_flows_are_capped_per_address() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.max_pending_flows_per_address = 5)
        .await
        .unwrap();
    let client = app.create_client().await;
    let ch = s256_challenge(&random_token());
    for _ in 0..40 {
        let resp = app
            .authorize(&browser(), &authorize_params(&client.id, &ch))
            .await;
        assert_eq!(resp.status(), 303);
        app.clock.advance(1);
    }
    let (sessions, flows) = app
        .store
        .count_sessions_and_flows(app.clock.now())
        .await
        .unwrap();
    assert_eq!(flows, 5);
    assert_eq!(
        sessions, 40,
        "anonymous sessions stay, but only for the flow lifetime"
    );
    // Many in the same second: the cap holds and the newest is never the one evicted.
    for _ in 0..8 {
        let b = browser();
        let resp = app.authorize(&b, &authorize_params(&client.id, &ch)).await;
        let page = app.get(&b, &location(&resp)).await;
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().contains("name=\"password\""));
    }
    let (_, flows) = app
        .store
        .count_sessions_and_flows(app.clock.now())
        .await
        .unwrap();
    assert_eq!(flows, 5);
}
