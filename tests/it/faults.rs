//! Bad days: PostgreSQL restarted under load, kill -9 in the middle of a key rotation, and
//! concurrent writers on SQLite.
use crate::helpers::*;
use std::process::Command;
use std::time::Duration;

/// A private PostgreSQL cluster in a temp dir (initdb as the `postgres` user, on a free port),
/// so a test may stop and start it without touching anyone else's server.
struct PrivateCluster {
    bin: std::path::PathBuf,
    dir: tempfile::TempDir,
    port: u16,
}

fn as_postgres(bin: &std::path::Path, tool: &str, args: &[&str]) -> std::process::Output {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let tool = bin.join(tool);
    let mut cmd = if is_root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(&tool);
        c
    } else {
        Command::new(&tool)
    };
    cmd.args(args).output().expect("run a PostgreSQL tool")
}

impl PrivateCluster {
    /// None (the test is skipped) where no PostgreSQL server binaries are installed.
    fn start() -> Option<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin"))
            .find(|p| p.join("initdb").exists())?;
        let dir = tempfile::tempdir().unwrap();
        Command::new("chown")
            .args(["postgres", dir.path().to_str().unwrap()])
            .status()
            .ok()?;
        let data = dir.path().join("data");
        let init = as_postgres(
            &bin,
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
            ],
        );
        assert!(
            init.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Self { bin, dir, port };
        cluster.ctl("start");
        Some(cluster)
    }

    fn ctl(&self, action: &str) {
        let data = self.dir.path().join("data");
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        // The server's output goes to a log file: inherited pipes would keep `output()` waiting.
        let log = self.dir.path().join("server.log");
        let out = as_postgres(
            &self.bin,
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-o",
                &opts,
                "-m",
                "fast",
                "-w",
                action,
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl {action}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = as_postgres(
            &self.bin,
            "pg_ctl",
            &["-D", data.to_str().unwrap(), "-m", "immediate", "stop"],
        );
    }
}

/// Gatehouse on a private cluster, or None (the test is skipped) where PostgreSQL's server
/// binaries are missing and not required.
async fn app_on_private_cluster() -> Option<(PrivateCluster, TestApp)> {
    let Some(cluster) = PrivateCluster::start() else {
        assert_ne!(
            std::env::var("GATEHOUSE_REQUIRE_PG_FAULTS").as_deref(),
            Ok("1"),
            "PostgreSQL server binaries are required but not installed"
        );
        eprintln!("skipped: no PostgreSQL server binaries");
        return None;
    };
    let url = cluster.url();
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.database_url = Some(url))
        .await
        .unwrap();
    Some((cluster, app))
}

/// PostgreSQL restarted while Gatehouse sat idle: the pool tests a connection that sat idle
/// before lending it, so the first requests after the restart get live connections, not 503s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_while_idle_fails_no_request() {
    let Some((cluster, app)) = app_on_private_cluster().await else {
        return;
    };
    let ready = |http: reqwest::Client, url: String| async move {
        http.get(url).send().await.unwrap().status()
    };
    // Several at once, so the pool holds several connections that the restart kills.
    let warm: Vec<_> = (0..6)
        .map(|_| tokio::spawn(ready(app.http.clone(), app.url("/readyz"))))
        .collect();
    for w in warm {
        assert_eq!(w.await.unwrap(), 200);
    }
    tokio::task::block_in_place(|| {
        cluster.ctl("stop");
        cluster.ctl("start");
        // Longer than the pool lets a connection sit before testing it again.
        std::thread::sleep(Duration::from_millis(200));
    });
    for i in 0..8 {
        let status = ready(app.http.clone(), app.url("/readyz")).await;
        assert_eq!(status, 200, "request {i} after the restart");
    }
}

/// PostgreSQL restarted under load: requests fail with 503 and a JSON or page error, never a
/// 500 or a panic, and Gatehouse recovers by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_under_load_gives_503_and_recovers() {
    let Some((cluster, app)) = app_on_private_cluster().await else {
        return;
    };
    let client = app
        .create_client_custom(false, |c| {
            c.grant_types = vec![GrantType::ClientCredentials]
        })
        .await;
    let secret = client.secret.clone().unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..4 {
        let (http, base, id, secret, stop) = (
            reqwest::Client::new(),
            app.issuer.clone(),
            client.id.clone(),
            secret.clone(),
            stop.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let resp = if w % 2 == 0 {
                    http.post(format!("{base}/token"))
                        .basic_auth(&id, Some(&secret))
                        .form(&[("grant_type", "client_credentials")])
                        .send()
                        .await
                } else {
                    http.get(format!("{base}/login")).send().await
                };
                let Ok(resp) = resp else {
                    seen.push((0, String::new(), "no response".into()));
                    continue;
                };
                let status = resp.status().as_u16();
                let ctype = resp
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                let body = resp.text().await.unwrap_or_default();
                seen.push((status, ctype, body));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            seen
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    tokio::task::block_in_place(|| {
        cluster.ctl("stop");
        // Longer than the pool's acquire timeout, so some requests must give up.
        std::thread::sleep(Duration::from_secs(6));
        cluster.ctl("start");
    });
    // Recovered by itself: a fresh request succeeds within a bounded wait.
    let mut recovered = false;
    for _ in 0..100 {
        let resp = app
            .http
            .post(app.url("/token"))
            .basic_auth(&client.id, Some(&secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        if resp.status() == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    assert!(
        recovered,
        "Gatehouse did not recover after PostgreSQL came back"
    );
    let unavailable: Vec<_> = all.iter().filter(|(s, _, _)| *s == 503).collect();
    assert!(
        all.iter().all(|(s, _, _)| [200, 503].contains(s)),
        "only 200 and 503: {:?}",
        all.iter()
            .map(|(s, _, _)| *s)
            .filter(|s| *s != 200 && *s != 503)
            .collect::<Vec<_>>()
    );
    assert!(!unavailable.is_empty(), "the outage was seen");
    for (_, ctype, body) in unavailable {
        if ctype.starts_with("application/json") {
            let v: serde_json::Value = serde_json::from_str(body).unwrap();
            assert_eq!(v["error"], "temporarily_unavailable");
        } else {
            assert!(ctype.starts_with("text/html"), "{ctype}");
            assert!(body.contains("Try again"), "{body}");
        }
    }
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

fn gatehouse(dir: &std::path::Path, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .env_remove("GATEHOUSE_DATABASE_URL")
        .env("GATEHOUSE_DATA_DIR", dir.join("data"))
        .env("GATEHOUSE_KEYS_DIR", dir.join("keys"))
        .env("GATEHOUSE_LOG", "error")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// kill -9 in the middle of key rotations: the keystore is consistent at the next start (every
/// key opens, exactly one signs), and a lease left by the dead process expires by itself.
#[tokio::test]
async fn kill_during_key_rotation_leaves_a_consistent_keystore() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(gatehouse(d, &["keys", "list"]).wait().unwrap().success());
    for i in 0..10u64 {
        let mut child = gatehouse(d, &["keys", "rotate", "--now"]);
        // Spread the kills over key generation, the insert and the promotion.
        tokio::time::sleep(Duration::from_millis(20 + i * 37 % 400)).await;
        let _ = child.kill();
        let _ = child.wait();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let issuer = format!("http://127.0.0.1:{}", addr.port());
    let config = gatehouse::config::Config::embedded(&issuer, addr, d.join("data"), d.join("keys"));
    let clock = gatehouse::clock::Clock::frozen();
    let app = gatehouse::startup::App::build_with_listener(config, clock.clone(), listener)
        .await
        .expect("the keystore opens after the kills");
    let keys = app.keys().clone();
    let rows = app.store().list_signing_keys().await.unwrap();
    for alg in [gatehouse::domain::Alg::RS256, gatehouse::domain::Alg::ES256] {
        assert_eq!(
            rows.iter()
                .filter(|r| r.alg == alg && r.state == "current")
                .count(),
            1,
            "exactly one {alg} signing key: {:?}",
            rows.iter().map(|r| (r.alg, r.state)).collect::<Vec<_>>()
        );
        let current = keys.current_kid_of(alg).unwrap();
        let jwt = keys
            .sign(alg, "JWT", &serde_json::json!({"sub": "x"}))
            .unwrap();
        assert!(jwt.split('.').count() == 3);
        assert!(rows.iter().any(|r| r.kid == current));
    }
    // A lease left behind by a killed process is taken over once it expires.
    clock.advance(120);
    keys.rotate(gatehouse::domain::Alg::RS256, clock.now(), true, "test")
        .await
        .expect("rotation works again");
}

/// Concurrent writers on SQLite never surface `database is locked` as a 500.
async fn concurrent_writers_on_sqlite_are_not_500(app: TestApp) {
    app.create_user("alice").await;
    let client = app.create_client().await;
    let mut tasks = Vec::new();
    for i in 0..48 {
        let (http, base, id, secret) = (
            browser(),
            app.issuer.clone(),
            client.id.clone(),
            client.secret.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let resp = match i % 3 {
                // A session row and a flow row.
                0 => {
                    http.get(format!("{base}/authorize"))
                        .query(&[
                            ("response_type", "code"),
                            ("client_id", id.as_str()),
                            ("redirect_uri", REDIRECT_URI),
                            ("scope", "openid"),
                            ("code_challenge", &"a".repeat(43)),
                            ("code_challenge_method", "S256"),
                        ])
                        .send()
                        .await
                }
                // A throttle counter update.
                1 => {
                    let page = http.get(format!("{base}/login")).send().await.unwrap();
                    let csrf = hidden(&page.text().await.unwrap(), "csrf");
                    http.post(format!("{base}/login"))
                        .form(&[
                            ("username", format!("user{i}")),
                            ("password", "nope".into()),
                            ("csrf", csrf),
                        ])
                        .send()
                        .await
                }
                // A revocation attempt (a read and maybe a write).
                _ => {
                    http.post(format!("{base}/revoke"))
                        .basic_auth(&id, secret.as_deref())
                        .form(&[("token", "unknown")])
                        .send()
                        .await
                }
            };
            resp.unwrap().status().as_u16()
        }));
    }
    for t in tasks {
        let status = t.await.unwrap();
        assert!(status < 500, "status {status}");
    }
}

mod sqlite_only {
    #[tokio::test]
    async fn concurrent_writers_on_sqlite_are_not_500() {
        let app = crate::helpers::TestApp::spawn(crate::helpers::Backend::Sqlite)
            .await
            .unwrap();
        super::concurrent_writers_on_sqlite_are_not_500(app).await
    }
}
