//! Audit events: one structured event per security event, with a stable `event` name, the
//! actor, the resource and the address, and never a secret in any log line.
use crate::helpers::*;
use serde_json::Value;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    fn events(&self) -> Vec<Value> {
        self.text()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["target"] == "audit")
            .collect()
    }

    fn find(&self, name: &str) -> Value {
        self.events()
            .into_iter()
            .find(|e| e["event"] == name)
            .unwrap_or_else(|| panic!("no {name} event in {:?}", self.events()))
    }
}

/// Every log line of this thread (the test's server runs on it) as JSON, at debug level.
fn capture() -> (tracing::subscriber::DefaultGuard, Captured) {
    let out = Captured::default();
    let sink = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || sink.clone())
        .finish();
    (tracing::subscriber::set_default(subscriber), out)
}

async fn browser_session_emits_audit_events(app: TestApp) {
    let (_guard, logs) = capture();
    let user = app.create_user("alice").await;
    let client = app
        .create_client_with(true, &[REDIRECT_URI], &[], false)
        .await;

    let b = browser();
    assert_eq!(
        app.submit_login(&b, "/login", "alice", "my-wrong-password-123")
            .await
            .status(),
        401
    );
    let (code, verifier) = app
        .get_code(&b, &client, "openid offline_access", "alice")
        .await;
    let tokens: Value = app
        .exchange(&client, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let rt = tokens["refresh_token"].as_str().unwrap().to_owned();
    let refresh = |t: String| {
        let (app, client) = (&app, &client);
        async move {
            app.token(
                client,
                &[("grant_type", "refresh_token"), ("refresh_token", &t)],
            )
            .await
        }
    };
    assert_eq!(refresh(rt.clone()).await.status(), 200);
    assert_eq!(
        refresh(rt.clone()).await.status(),
        400,
        "re-use of a rotated token"
    );
    assert_eq!(
        app.exchange(&client, &code, &verifier).await.status(),
        400,
        "code re-use"
    );
    let page = app.get(&b, "/account").await.text().await.unwrap();
    let resp = b
        .post(app.url("/logout"))
        .form(&[("csrf", hidden(&page, "csrf"))])
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success() || resp.status().is_redirection());

    let failed = logs.find("login.failed");
    assert_eq!(failed["actor"], "anonymous");
    assert_eq!(failed["address"], "127.0.0.1");
    let resource = failed["resource"].as_str().unwrap();
    assert!(resource.starts_with("username-pseudonym:"), "{resource}");
    // Keyed: not the plain SHA-256 a log reader could check guesses against.
    let plain = gatehouse::crypto::hash_secret("alice");
    assert!(!resource.contains(&plain[..16]), "{resource}");
    let ok = logs.find("login.succeeded");
    assert_eq!(ok["actor"], format!("user:{}", user.id));
    assert_eq!(ok["address"], "127.0.0.1");
    let consent = logs.find("consent.granted");
    assert_eq!(consent["resource"], format!("client:{}", client.id));
    let reuse = logs.find("refresh.reuse_detected");
    assert_eq!(reuse["level"], "WARN");
    assert_eq!(reuse["address"], "127.0.0.1");
    logs.find("code.reuse_detected");
    assert_eq!(logs.find("logout")["actor"], format!("user:{}", user.id));

    let all = logs.text();
    for secret in [
        "my-wrong-password-123",
        PASSWORD,
        rt.as_str(),
        code.as_str(),
        verifier.as_str(),
        tokens["access_token"].as_str().unwrap(),
        tokens["id_token"].as_str().unwrap(),
    ] {
        assert!(!all.contains(secret), "a secret reached the logs");
    }
}

async fn throttled_sign_ins_are_audited(app: TestApp) {
    let (_guard, logs) = capture();
    app.create_user("alice").await;
    for _ in 0..7 {
        app.submit_login(&browser(), "/login", "alice", "guess")
            .await;
    }
    let t = logs.find("login.throttled");
    assert_eq!(t["level"], "WARN");
    assert_eq!(t["resource"], logs.find("login.failed")["resource"]);
}

/// Two-step sign-in is audited, and no secret, code or recovery code reaches any log line.
async fn second_factors_are_audited_without_secrets(app: TestApp) {
    use crate::mfa::{enrol_totp, sign_in_directly, sign_out, start_flow, submit_code};
    let (_guard, logs) = capture();
    app.create_user("alice").await;
    let client = app
        .create_client_with(false, &[REDIRECT_URI], &[], true)
        .await;
    let b = browser();
    sign_in_directly(&app, &b, "alice").await;
    let (secret, codes) = enrol_totp(&app, &b).await;
    sign_out(&app, &b).await;
    let b = browser();
    let (loc, _) = start_flow(&app, &b, &client, &[]).await;
    assert_eq!(submit_code(&app, &b, &loc, "000000").await.status(), 401);
    assert_eq!(submit_code(&app, &b, &loc, &codes[0]).await.status(), 303);
    for name in [
        "mfa.totp_enrolled",
        "mfa.recovery_codes_regenerated",
        "login.password_verified",
        "login.second_factor_failed",
        "mfa.recovery_code_used",
        "login.second_factor_succeeded",
    ] {
        let e = logs.find(name);
        assert!(e["actor"].as_str().unwrap().starts_with("user:"), "{e}");
    }
    let text = logs.text();
    let b32 = totp_rs::Secret::Raw(secret).to_encoded().to_string();
    assert!(
        !text.contains(&b32),
        "the authenticator secret is never logged"
    );
    for c in &codes {
        assert!(!text.contains(c.as_str()), "no recovery code in the logs");
        assert!(!text.contains(&c.replace('-', "")));
    }
}

crate::backend_tests!(
    second_factors_are_audited_without_secrets,
    browser_session_emits_audit_events,
    throttled_sign_ins_are_audited
);

/// Admin commands emit their events too, and the client secret they print never reaches a log.
#[test]
fn admin_commands_are_audited_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args(args)
            .env_remove("GATEHOUSE_DATABASE_URL")
            .env("GATEHOUSE_DATA_DIR", dir.path().join("data"))
            .env("GATEHOUSE_KEYS_DIR", dir.path().join("keys"))
            .env("GATEHOUSE_LOG", "info")
            .env("GATEHOUSE_LOG_FORMAT", "json")
            .output()
            .unwrap()
    };
    let created = run(&[
        "client",
        "create",
        "--name",
        "Web",
        "--redirect-uri",
        REDIRECT_URI,
        "--json",
    ]);
    assert!(created.status.success());
    let out: Value = serde_json::from_slice(&created.stdout).unwrap();
    let id = out["client_id"].as_str().unwrap();
    let rotated = run(&["client", "rotate-secret", id, "--json"]);
    let new_secret: Value = serde_json::from_slice(&rotated.stdout).unwrap();
    let deleted = run(&["client", "delete", id]);
    let mut events = Vec::new();
    for o in [&created, &rotated, &deleted] {
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!stderr.contains(out["client_secret"].as_str().unwrap()));
        assert!(!stderr.contains(new_secret["client_secret"].as_str().unwrap()));
        for line in stderr.lines() {
            if let Ok(v) = serde_json::from_str::<Value>(line)
                && v["target"] == "audit"
                && v["event"].as_str().unwrap().starts_with("client.")
            {
                assert_eq!(v["actor"], "cli");
                assert_eq!(v["resource"], format!("client:{id}"));
                events.push(v["event"].as_str().unwrap().to_owned());
            }
        }
    }
    assert_eq!(
        events,
        ["client.created", "client.secret_rotated", "client.deleted"]
    );
}
