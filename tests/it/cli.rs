//! The `gatehouse` binary: admin commands and start-up validation.
use crate::helpers::*;
use std::io::Write;
use std::process::{Command, Stdio};

fn gatehouse(dir: &std::path::Path, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .env_remove("GATEHOUSE_DATABASE_URL")
        .env("GATEHOUSE_DATA_DIR", dir.join("data"))
        .env("GATEHOUSE_KEYS_DIR", dir.join("keys"))
        .env("GATEHOUSE_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
    }
    child.wait_with_output().unwrap()
}

fn stdout(o: &std::process::Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn client_and_user_commands_work() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = stdout(&gatehouse(
        d,
        &[
            "client",
            "create",
            "--name",
            "Web",
            "--redirect-uri",
            REDIRECT_URI,
            "--audience",
            "https://api.example.com",
            "--json",
        ],
        None,
    ));
    let created: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let id = created["client_id"].as_str().unwrap().to_string();
    assert_eq!(
        created["client_secret"].as_str().unwrap().len(),
        43,
        "256-bit secret"
    );

    let public = stdout(&gatehouse(
        d,
        &[
            "client",
            "create",
            "--name",
            "CLI",
            "--redirect-uri",
            "http://127.0.0.1/cb",
            "--public",
            "--json",
        ],
        None,
    ));
    assert!(
        serde_json::from_str::<serde_json::Value>(public.trim()).unwrap()["client_secret"]
            .is_null()
    );

    let list = stdout(&gatehouse(d, &["client", "list"], None));
    assert!(list.contains(&id) && list.contains("public") && list.contains("confidential"));
    let show = stdout(&gatehouse(d, &["client", "show", &id], None));
    assert!(show.contains("https://api.example.com"));
    let shown: serde_json::Value = serde_json::from_str(&show).unwrap();
    assert_eq!(
        shown["id_token_signed_response_alg"], "RS256",
        "the default"
    );

    stdout(&gatehouse(
        d,
        &[
            "client",
            "update",
            &id,
            "--id-token-alg",
            "ES256",
            "--access-token-alg",
            "ES256",
        ],
        None,
    ));
    let shown: serde_json::Value =
        serde_json::from_str(&stdout(&gatehouse(d, &["client", "show", &id], None))).unwrap();
    assert_eq!(shown["id_token_signed_response_alg"], "ES256");
    assert_eq!(shown["access_token_signed_response_alg"], "ES256");
    // HS256 is no signing algorithm of ours; EdDSA is off by default; ES256 when turned off.
    for (alg, env) in [("HS256", None), ("EdDSA", None), ("ES256", Some("RS256"))] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
        cmd.args(["client", "update", &id, "--id-token-alg", alg])
            .env_remove("GATEHOUSE_DATABASE_URL")
            .env("GATEHOUSE_DATA_DIR", d.join("data"))
            .env("GATEHOUSE_KEYS_DIR", d.join("keys"));
        if let Some(algs) = env {
            cmd.env("GATEHOUSE_SIGNING_ALGS", algs);
        }
        let refused = cmd.output().unwrap();
        assert!(!refused.status.success(), "{alg} with {env:?}");
    }
    assert!(
        !show.contains(created["client_secret"].as_str().unwrap()),
        "the secret is never shown again"
    );

    let bad = gatehouse(
        d,
        &[
            "client",
            "create",
            "--name",
            "X",
            "--redirect-uri",
            "javascript:alert(1)",
        ],
        None,
    );
    assert!(!bad.status.success());
    let bad = gatehouse(
        d,
        &[
            "client",
            "create",
            "--name",
            "X",
            "--redirect-uri",
            "http://app.example.com/cb",
        ],
        None,
    );
    assert!(!bad.status.success(), "plain http only on loopback");

    stdout(&gatehouse(
        d,
        &[
            "user",
            "create",
            "--username",
            "bob",
            "--email",
            "bob@example.com",
            "--password-stdin",
        ],
        Some("a long password\n"),
    ));
    let dup = gatehouse(
        d,
        &["user", "create", "--username", "bob", "--password-stdin"],
        Some("a long password\n"),
    );
    assert!(!dup.status.success());
    let users = stdout(&gatehouse(d, &["user", "list"], None));
    assert!(users.contains("bob") && users.contains("active"));
    stdout(&gatehouse(
        d,
        &["user", "set-password", "bob", "--password-stdin"],
        Some("another long password\n"),
    ));
    stdout(&gatehouse(d, &["user", "disable", "bob"], None));
    assert!(stdout(&gatehouse(d, &["user", "list"], None)).contains("disabled"));

    // Options, update and secret rotation.
    let m2m = stdout(&gatehouse(
        d,
        &[
            "client",
            "create",
            "--name",
            "Worker",
            "--grant-type",
            "client_credentials",
            "--scope",
            "jobs:run",
            "--json",
        ],
        None,
    ));
    let m2m: serde_json::Value = serde_json::from_str(m2m.trim()).unwrap();
    let m2m_id = m2m["client_id"].as_str().unwrap();
    stdout(&gatehouse(
        d,
        &[
            "client",
            "update",
            &id,
            "--name",
            "Web 2",
            "--post-logout-redirect-uri",
            "https://app.example.com/bye",
            "--allowed-origin",
            "https://app.example.com",
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "refresh_token",
            "--refresh-idle-ttl",
            "3600",
            "--skip-consent",
            "--require-par",
            "--dpop-bound",
        ],
        None,
    ));
    let show: serde_json::Value =
        serde_json::from_str(&stdout(&gatehouse(d, &["client", "show", &id], None))).unwrap();
    assert_eq!(show["name"], "Web 2");
    assert_eq!(
        show["grant_types"],
        serde_json::json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(
        show["post_logout_redirect_uris"],
        serde_json::json!(["https://app.example.com/bye"])
    );
    assert_eq!(show["skip_consent"], true);
    assert_eq!(show["require_pushed_authorization_requests"], true);
    assert_eq!(show["dpop_bound_access_tokens"], true);
    assert_eq!(show["refresh_idle_ttl"], 3600);
    assert_eq!(
        show["redirect_uris"],
        serde_json::json!([REDIRECT_URI]),
        "lists not given are kept"
    );
    assert!(
        !gatehouse(
            d,
            &[
                "client",
                "update",
                &id,
                "--allowed-origin",
                "https://app.example.com/path"
            ],
            None
        )
        .status
        .success()
    );
    assert!(
        !gatehouse(
            d,
            &["client", "update", &id, "--grant-type", "password"],
            None
        )
        .status
        .success()
    );
    let rotated = stdout(&gatehouse(
        d,
        &["client", "rotate-secret", m2m_id, "--json"],
        None,
    ));
    let rotated: serde_json::Value = serde_json::from_str(rotated.trim()).unwrap();
    assert_ne!(rotated["client_secret"], m2m["client_secret"]);

    stdout(&gatehouse(d, &["client", "delete", &id], None));
    assert!(!stdout(&gatehouse(d, &["client", "list"], None)).contains(&id));
    assert!(stdout(&gatehouse(d, &["migrate"], None)).contains("migrations applied"));
}

#[test]
fn keys_commands_list_rotate_and_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rows = |out: String| {
        out.lines()
            .skip(1)
            .map(|l| l.split('\t').map(str::to_string).collect::<Vec<_>>())
            .collect::<Vec<_>>()
    };
    let first = rows(stdout(&gatehouse(d, &["keys", "list"], None)));
    let algs: Vec<&str> = first.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(algs, ["RS256", "ES256"], "one key per configured algorithm");
    assert!(first.iter().all(|r| r[2] == "current"));
    let old = first[0][0].clone();
    let of = |listed: &[Vec<String>], alg: &str, state: &str| -> Vec<String> {
        listed
            .iter()
            .filter(|r| r[1] == alg && r[2] == state)
            .map(|r| r[0].clone())
            .collect()
    };

    let out = stdout(&gatehouse(d, &["keys", "rotate", "--alg", "ES256"], None));
    assert!(
        out.contains("(ES256) is published and starts signing in"),
        "{out}"
    );
    let listed = rows(stdout(&gatehouse(d, &["keys", "list"], None)));
    assert_eq!(of(&listed, "ES256", "next").len(), 1);
    assert!(
        of(&listed, "RS256", "next").is_empty(),
        "only the named one"
    );

    assert_eq!(
        stdout(&gatehouse(d, &["keys", "rotate"], None))
            .matches("starts signing in")
            .count(),
        2,
        "each algorithm (ES256 already had its next key)"
    );
    let listed = rows(stdout(&gatehouse(d, &["keys", "list"], None)));
    for alg in ["RS256", "ES256"] {
        assert_eq!(of(&listed, alg, "next").len(), 1, "{alg}");
    }

    stdout(&gatehouse(
        d,
        &["keys", "rotate", "--now", "--alg", "RS256"],
        None,
    ));
    let listed = rows(stdout(&gatehouse(d, &["keys", "list"], None)));
    let current = of(&listed, "RS256", "current");
    assert_eq!(current.len(), 1);
    assert_ne!(current[0], old);
    assert!(
        listed
            .iter()
            .any(|r| r[0] == old && r[2] == "retired" && r[5] != "-")
    );
    assert_eq!(of(&listed, "ES256", "current").len(), 1);

    stdout(&gatehouse(d, &["keys", "revoke", &old], None));
    assert!(!stdout(&gatehouse(d, &["keys", "list"], None)).contains(&old));
    assert!(
        !gatehouse(d, &["keys", "revoke", "no-such-kid"], None)
            .status
            .success()
    );
    // A random kid may begin with `-`: it is the key id, not an option.
    let dashed = gatehouse(d, &["keys", "revoke", "-Nq3"], None);
    assert!(!dashed.status.success());
    let err = String::from_utf8_lossy(&dashed.stderr);
    assert!(!err.contains("unexpected argument"), "{err}");
}

#[test]
fn invalid_issuer_fails_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    for issuer in [
        "http://id.example.com",
        "https://id.example.com?x=1",
        "https://id.example.com#f",
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .arg("serve")
            .env("GATEHOUSE_ISSUER", issuer)
            .env("GATEHOUSE_BIND", "127.0.0.1:0")
            .env("GATEHOUSE_DATA_DIR", dir.path().join("data"))
            .env("GATEHOUSE_KEYS_DIR", dir.path().join("keys"))
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains("issuer"), "{err}");
    }
}

/// `serve` on a fresh directory: the admin password is printed once on stdout and never logged;
/// logs are JSON lines with GATEHOUSE_LOG_FORMAT=json; SIGTERM stops it cleanly.
#[test]
fn serve_prints_admin_password_once_logs_json_and_stops_on_sigterm() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .env_remove("GATEHOUSE_DATABASE_URL")
        .env("GATEHOUSE_BIND", "127.0.0.1:0")
        .env("GATEHOUSE_DATA_DIR", dir.path().join("data"))
        .env("GATEHOUSE_KEYS_DIR", dir.path().join("keys"))
        .env("GATEHOUSE_LOG_FORMAT", "json")
        .env("GATEHOUSE_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut logged = Vec::new();
    while let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(60)) {
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        let done = v["message"].as_str() == Some("listening");
        logged.push(line);
        if done {
            break;
        }
    }
    assert!(logged.iter().any(|l| l.contains("listening")), "{logged:?}");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    reader.join().unwrap();
    logged.extend(rx.try_iter());
    // The whole log goes with a failure: this once failed under a full parallel run.
    assert!(
        out.status.success(),
        "clean exit on SIGTERM: {:?}, log: {logged:?}",
        out.status
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let password = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Created user `admin` with password: "))
        .expect("admin password printed")
        .trim()
        .to_string();
    assert_eq!(password.len(), 43);
    assert!(
        logged.iter().all(|l| !l.contains(&password)),
        "the password is never logged"
    );
    assert!(logged.iter().any(|l| l.contains("stopped")));
}

#[test]
fn help_documents_environment_variables() {
    let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for var in [
        "GATEHOUSE_ISSUER",
        "GATEHOUSE_BIND",
        "GATEHOUSE_DATABASE_URL",
        "GATEHOUSE_LOG_FORMAT",
    ] {
        assert!(help.contains(var), "{var} missing from --help");
    }
}

#[test]
fn user_unlock_clears_the_back_off() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    stdout(&gatehouse(
        d,
        &["user", "create", "--username", "carol", "--password-stdin"],
        Some("a long enough password\n"),
    ));
    let out = stdout(&gatehouse(d, &["user", "unlock", "carol"], None));
    assert!(out.contains("cleared 0"), "{out}");
    // A counter for the username and one for a device, as failed sign-ins leave them.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let url = format!("sqlite://{}/gatehouse.db", d.join("data").display());
        let store = gatehouse::store::Store::connect(&url).await.unwrap();
        use gatehouse::accounts::throttle;
        store
            .record_login_failure(&throttle::user_key("carol"), 1, 0)
            .await
            .unwrap();
        store
            .record_login_failure(&throttle::device_key("carol", "d1"), 1, 0)
            .await
            .unwrap();
        store
            .record_login_failure(&throttle::user_key("dave"), 1, 0)
            .await
            .unwrap();
        store.close().await;
    });
    let out = stdout(&gatehouse(d, &["user", "unlock", "carol"], None));
    assert!(out.contains("cleared 2"), "{out}");
}

#[test]
fn pkce_policy_option() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let refused = gatehouse(
        d,
        &[
            "client",
            "create",
            "--name",
            "SPA",
            "--public",
            "--redirect-uri",
            REDIRECT_URI,
            "--pkce",
            "optional",
        ],
        None,
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("public clients must use PKCE"));
    let out = stdout(&gatehouse(
        d,
        &[
            "client",
            "create",
            "--name",
            "Cert",
            "--redirect-uri",
            REDIRECT_URI,
            "--pkce",
            "optional",
            "--json",
        ],
        None,
    ));
    let id = serde_json::from_str::<serde_json::Value>(out.trim()).unwrap()["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let shown: serde_json::Value =
        serde_json::from_str(&stdout(&gatehouse(d, &["client", "show", &id], None))).unwrap();
    assert_eq!(shown["pkce"], "optional");
    stdout(&gatehouse(
        d,
        &["client", "update", &id, "--pkce", "required"],
        None,
    ));
    let shown: serde_json::Value =
        serde_json::from_str(&stdout(&gatehouse(d, &["client", "show", &id], None))).unwrap();
    assert_eq!(shown["pkce"], "required");
}

#[test]
fn user_update_sets_checked_profile_claims() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    stdout(&gatehouse(
        d,
        &["user", "create", "--username", "erin", "--password-stdin"],
        Some("a long enough password\n"),
    ));
    let bad = gatehouse(
        d,
        &[
            "user",
            "update",
            "erin",
            "--given-name",
            "Erin",
            "--birthdate",
            "tomorrow",
        ],
        None,
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("birthdate must be YYYY-MM-DD"));
    stdout(&gatehouse(
        d,
        &[
            "user",
            "update",
            "erin",
            "--given-name",
            "Erin",
            "--phone-number",
            "+14155550123",
            "--country",
            "US",
        ],
        None,
    ));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let user = rt.block_on(async {
        let url = format!("sqlite://{}/gatehouse.db", d.join("data").display());
        let store = gatehouse::store::Store::connect(&url).await.unwrap();
        let (u, _) = store.find_user_credentials("erin").await.unwrap().unwrap();
        store.close().await;
        u
    });
    assert_eq!(user.profile.given_name.as_deref(), Some("Erin"));
    assert_eq!(user.profile.phone_number.as_deref(), Some("+14155550123"));
    assert_eq!(user.profile.address.country.as_deref(), Some("US"));
    assert!(
        user.profile.birthdate.is_none(),
        "the refused run stored nothing"
    );
}

/// `user mfa list` shows a user's factors; `user mfa reset` removes them all, so the password
/// alone signs in again.
#[test]
fn user_mfa_list_and_reset() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    stdout(&gatehouse(
        d,
        &["user", "create", "--username", "erin", "--password-stdin"],
        Some("a long enough password\n"),
    ));
    let empty = stdout(&gatehouse(d, &["user", "mfa", "list", "erin"], None));
    assert_eq!(empty.lines().count(), 1, "only the header: {empty}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = format!("sqlite://{}/gatehouse.db", d.join("data").display());
    rt.block_on(async {
        let store = gatehouse::store::Store::connect(&url).await.unwrap();
        let (user, _) = store.find_user_credentials("erin").await.unwrap().unwrap();
        assert!(store.begin_totp(&user.id, "sealed", 10).await.unwrap());
        assert!(store.accept_totp_step(&user.id, 1, true, 20).await.unwrap());
        let key = gatehouse::accounts::mfa::FactorKey::new([7; 32]);
        gatehouse::accounts::mfa::regenerate_recovery_codes(&store, &key, &user.id, 20)
            .await
            .unwrap();
        store.close().await;
    });
    let listed = stdout(&gatehouse(d, &["user", "mfa", "list", "erin"], None));
    assert!(listed.contains("totp\tauthenticator app"), "{listed}");
    assert!(listed.contains("recovery_codes\t10 unused"), "{listed}");
    let reset = gatehouse(d, &["user", "mfa", "reset", "erin"], None);
    assert!(
        String::from_utf8_lossy(&reset.stderr).contains("mfa.reset"),
        "an audit event"
    );
    assert!(stdout(&reset).contains("ended 0 session(s)"));
    let after = stdout(&gatehouse(d, &["user", "mfa", "list", "erin"], None));
    assert_eq!(after.lines().count(), 1, "{after}");
    let missing = gatehouse(d, &["user", "mfa", "reset", "nobody"], None);
    assert!(!missing.status.success());
}

/// Admin roles from the command line: `--admin`, `grant-admin`, `revoke-admin`; the last
/// administrator keeps the role and cannot be disabled. Each change reaches the SQL audit log,
/// which `audit tail` prints, as JSON too.
#[test]
fn admin_roles_and_the_audit_tail() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pw = Some("a long password\n");
    stdout(&gatehouse(
        d,
        &[
            "user",
            "create",
            "--username",
            "root",
            "--admin",
            "--password-stdin",
        ],
        pw,
    ));
    stdout(&gatehouse(
        d,
        &["user", "create", "--username", "carol", "--password-stdin"],
        pw,
    ));
    let last = gatehouse(d, &["user", "revoke-admin", "root"], None);
    assert!(!last.status.success());
    assert!(
        String::from_utf8_lossy(&last.stderr).contains("last administrator"),
        "{}",
        String::from_utf8_lossy(&last.stderr)
    );
    let disable = gatehouse(d, &["user", "disable", "root"], None);
    assert!(
        !disable.status.success(),
        "the last admin cannot be disabled"
    );
    stdout(&gatehouse(d, &["user", "grant-admin", "carol"], None));
    stdout(&gatehouse(d, &["user", "revoke-admin", "root"], None));
    let last = gatehouse(d, &["user", "revoke-admin", "carol"], None);
    assert!(!last.status.success(), "carol is now the last one");
    assert!(
        !gatehouse(d, &["user", "grant-admin", "nobody"], None)
            .status
            .success()
    );

    let tail = stdout(&gatehouse(d, &["audit", "tail", "--json"], None));
    let events: Vec<serde_json::Value> = tail
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "user.created",
            "user.admin_granted",
            "user.created",
            "user.admin_granted",
            "user.admin_revoked"
        ],
        "oldest first"
    );
    assert!(
        events
            .iter()
            .all(|e| e["actor"] == "cli" && e["outcome"] == "success")
    );
    let text = stdout(&gatehouse(
        d,
        &["audit", "tail", "-n", "1", "--event", "user.admin_revoked"],
        None,
    ));
    assert_eq!(text.lines().count(), 1);
    assert!(
        text.contains("user.admin_revoked\tsuccess\tcli\tuser:"),
        "{text}"
    );
    assert!(
        !gatehouse(d, &["audit", "tail", "--event", "nope"], None)
            .status
            .success()
    );
}

fn gatehouse_env(
    dir: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    cmd.args(args)
        .env_remove("GATEHOUSE_DATABASE_URL")
        .env("GATEHOUSE_DATA_DIR", dir.join("data"))
        .env("GATEHOUSE_KEYS_DIR", dir.join("keys"))
        .env("GATEHOUSE_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

const CLIENTS_FILE: &str = r#"
[[client]]
client_id = "wiki"
client_name = "Team wiki"
client_secret_env = "WIKI_CLIENT_SECRET"
redirect_uris = ["https://wiki.example.com/callback"]
grant_types = ["authorization_code", "refresh_token"]
backchannel_logout_uri = "https://wiki.example.com/backchannel"

[[client]]
client_id = "dashboard"
client_name = "Dashboard"
token_endpoint_auth_method = "none"
redirect_uris = ["https://dash.example.com/callback"]
"#;

/// `gatehouse apply -f`: creates what the file lists, changes nothing the second time, prints
/// a diff with `--dry-run`, refuses a missing secret without changing anything, and deletes
/// what it managed and no longer lists (never a client it did not make).
#[test]
fn apply_reconciles_the_clients_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = d.join("clients.toml");
    std::fs::write(&file, CLIENTS_FILE).unwrap();
    let f = file.to_str().unwrap();
    let secret = ("WIKI_CLIENT_SECRET", "wiki-secret-0123456789abcdef");
    // A client made by hand, which the file does not manage.
    stdout(&gatehouse(
        d,
        &[
            "client",
            "create",
            "--name",
            "Hand made",
            "--redirect-uri",
            REDIRECT_URI,
        ],
        None,
    ));

    let missing = gatehouse_env(d, &["apply", "-f", f], &[]);
    assert!(!missing.status.success());
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("WIKI_CLIENT_SECRET is not set"), "{err}");
    assert!(!stdout(&gatehouse(d, &["client", "list"], None)).contains("wiki"));

    let dry = stdout(&gatehouse_env(
        d,
        &["apply", "-f", f, "--dry-run"],
        &[secret],
    ));
    assert!(
        dry.contains("+ create wiki (Team wiki)") && dry.contains("+ create dashboard"),
        "{dry}"
    );
    assert!(dry.contains("nothing was changed"));
    assert!(!stdout(&gatehouse(d, &["client", "list"], None)).contains("wiki"));

    let first = stdout(&gatehouse_env(d, &["apply", "-f", f], &[secret]));
    assert!(first.contains("2 change(s) applied"), "{first}");
    let again = stdout(&gatehouse_env(d, &["apply", "-f", f], &[secret]));
    assert!(again.contains("no changes"), "{again}");
    let shown: serde_json::Value =
        serde_json::from_str(&stdout(&gatehouse(d, &["client", "show", "wiki"], None))).unwrap();
    assert_eq!(shown["name"], "Team wiki");
    assert_eq!(shown["public"], false);
    assert_eq!(
        shown["backchannel_logout_uri"],
        "https://wiki.example.com/backchannel"
    );

    // A changed file: the diff names each setting, and never the secret.
    let changed = CLIENTS_FILE.replace("Team wiki", "Wiki").replace(
        "[[client]]\nclient_id = \"dashboard\"",
        "[[client]]\nclient_id = \"dashboard-v2\"",
    );
    std::fs::write(&file, changed).unwrap();
    let rotated = ("WIKI_CLIENT_SECRET", "rotated-wiki-secret-0123456789");
    let dry = stdout(&gatehouse_env(
        d,
        &["apply", "-f", f, "--dry-run"],
        &[rotated],
    ));
    assert!(dry.contains("~ update wiki"), "{dry}");
    assert!(
        dry.contains(r#"client_name: "Team wiki" → "Wiki""#),
        "{dry}"
    );
    assert!(dry.contains("client_secret: (changed)") && !dry.contains(rotated.1));
    assert!(dry.contains("+ create dashboard-v2") && dry.contains("- delete dashboard"));
    stdout(&gatehouse_env(d, &["apply", "-f", f], &[rotated]));
    let list = stdout(&gatehouse(d, &["client", "list"], None));
    assert!(list.contains("dashboard-v2") && !list.contains("dashboard\t"));
    assert!(
        list.contains("Hand made"),
        "a client the file never managed stays"
    );
    // Each change is in the audit log.
    let tail = stdout(&gatehouse(
        d,
        &["audit", "tail", "--json", "-n", "20"],
        None,
    ));
    for e in [
        "client.created",
        "client.changed",
        "client.secret_rotated",
        "client.deleted",
    ] {
        assert!(tail.contains(e), "{e}: {tail}");
    }
    assert!(tail.contains("\"actor\":\"clients-file\""));
    assert!(!tail.contains(rotated.1));
}

#[test]
fn api_role_and_group_commands_work() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = |args: &[&str]| stdout(&gatehouse(d, args, None));
    let fails = |args: &[&str]| {
        let o = gatehouse(d, args, None);
        assert!(!o.status.success(), "{args:?} should fail");
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    run(&[
        "api",
        "create",
        "--identifier",
        "https://tasks.example",
        "--name",
        "Tasks",
        "--scope",
        "tasks:read=Read your tasks",
        "--scope",
        "tasks:write=Create and edit your tasks",
    ]);
    let shown = run(&["api", "show", "https://tasks.example"]);
    assert!(
        shown.contains("scope\ttasks:write\tCreate and edit your tasks"),
        "{shown}"
    );
    assert!(run(&["api", "list"]).contains("tasks:read tasks:write"));
    // Words are required, reserved names refused, a scope belongs to one API.
    assert!(
        fails(&[
            "api",
            "create",
            "--identifier",
            "https://b.example",
            "--name",
            "B",
            "--scope",
            "b:read"
        ])
        .contains("NAME=")
    );
    fails(&[
        "api",
        "create",
        "--identifier",
        "https://b.example",
        "--name",
        "B",
        "--scope",
        "openid=x",
    ]);
    fails(&[
        "api",
        "create",
        "--identifier",
        "https://b.example",
        "--name",
        "B",
        "--scope",
        "tasks:read=Mine",
    ]);
    fails(&["api", "create", "--identifier", "relative", "--name", "B"]);

    assert!(
        fails(&["role", "create", "editor", "--scope", "tasks:delete"]).contains("tasks:delete")
    );
    run(&[
        "role",
        "create",
        "editor",
        "--scope",
        "tasks:read",
        "--scope",
        "tasks:write",
    ]);
    run(&["role", "create", "reader", "--scope", "tasks:read"]);
    run(&["group", "create", "team-a", "--role", "editor"]);
    fails(&["group", "create", "team-b", "--role", "no-such-role"]);
    gatehouse(
        d,
        &["user", "create", "--username", "alice", "--password-stdin"],
        Some("a long enough password"),
    );
    run(&["group", "add-user", "team-a", "alice"]);
    run(&["user", "add-role", "alice", "reader"]);
    let show = run(&["user", "show", "alice"]);
    assert!(
        show.contains("role\teditor\tgroup team-a\ttasks:read tasks:write"),
        "{show}"
    );
    assert!(show.contains("role\treader\tdirect\ttasks:read"), "{show}");
    assert!(show.contains("group\tteam-a"), "{show}");
    assert!(show.contains("scopes\ttasks:read tasks:write"), "{show}");
    assert!(run(&["group", "show", "team-a"]).contains("member\talice"));
    assert!(run(&["role", "show", "reader"]).contains("user\talice"));

    // Taking a scope from the API takes it from the role.
    run(&[
        "api",
        "update",
        "https://tasks.example",
        "--remove-scope",
        "tasks:write",
    ]);
    assert!(run(&["role", "show", "editor"]).contains("scopes\ttasks:read\n"));
    run(&["user", "remove-role", "alice", "reader"]);
    run(&["group", "remove-user", "team-a", "alice"]);
    let show = run(&["user", "show", "alice"]);
    assert!(!show.contains("role\t"), "{show}");
    run(&["group", "delete", "team-a"]);
    run(&["role", "delete", "editor"]);
    run(&["api", "delete", "https://tasks.example"]);
    assert_eq!(run(&["api", "list"]), "");
    assert!(fails(&["api", "show", "https://tasks.example"]).contains("no API"));
}

#[test]
fn keys_import_and_export() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pem = d.join("old.pem");
    let made = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&pem)
        .status()
        .unwrap();
    assert!(made.success());
    let out = stdout(&gatehouse(
        d,
        &[
            "keys",
            "import",
            "--pem",
            pem.to_str().unwrap(),
            "--kid",
            "old-idp-key",
        ],
        None,
    ));
    assert!(out.contains("imported RS256 key old-idp-key"), "{out}");
    let listed = stdout(&gatehouse(d, &["keys", "list"], None));
    assert!(listed.contains("old-idp-key\tRS256\tnext"), "{listed}");
    // Every published key exports as a PEM public key openssl reads, and as its JWK.
    for line in listed.lines().skip(1) {
        let kid = line.split('\t').next().unwrap();
        let public = stdout(&gatehouse(
            d,
            &["keys", "export", "--public", kid, "--pem"],
            None,
        ));
        assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"), "{public}");
        let file = d.join(format!("{kid}.pub.pem"));
        std::fs::write(&file, &public).unwrap();
        let read = Command::new("openssl")
            .args(["pkey", "-pubin", "-noout", "-in"])
            .arg(&file)
            .status()
            .unwrap();
        assert!(read.success(), "{kid}: {public}");
        let jwk: serde_json::Value = serde_json::from_str(&stdout(&gatehouse(
            d,
            &["keys", "export", "--public", kid, "--jwk"],
            None,
        )))
        .unwrap();
        assert_eq!(jwk["kid"], kid);
        assert!(jwk.get("d").is_none(), "never the private part");
    }
    // The imported key's PEM is the old key's public half.
    let theirs = Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&pem)
        .output()
        .unwrap();
    let ours = stdout(&gatehouse(
        d,
        &["keys", "export", "--public", "old-idp-key"],
        None,
    ));
    assert_eq!(String::from_utf8(theirs.stdout).unwrap(), ours);
    assert!(
        !gatehouse(d, &["keys", "export", "--public", "nope"], None)
            .status
            .success()
    );
}

#[test]
fn private_key_jwt_clients_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = EcKey::new();
    let jwks = d.join("jwks.json");
    std::fs::write(&jwks, serde_json::json!({"keys": [key.jwk()]}).to_string()).unwrap();
    let jwks_arg = jwks.to_str().unwrap();
    let out = stdout(&gatehouse(
        d,
        &[
            "client",
            "create",
            "--name",
            "Signer",
            "--grant-type",
            "client_credentials",
            "--token-endpoint-auth-method",
            "private_key_jwt",
            "--jwks-file",
            jwks_arg,
            "--json",
        ],
        None,
    ));
    let created: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!(
        created["client_secret"].is_null(),
        "a client with keys has no secret"
    );
    let id = created["client_id"].as_str().unwrap();
    let shown: serde_json::Value =
        serde_json::from_str(&stdout(&gatehouse(d, &["client", "show", id], None))).unwrap();
    assert_eq!(shown["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(shown["jwks"]["keys"][0]["x"], key.jwk()["x"]);
    assert_eq!(shown["public"], false);

    // Switched to a published set.
    stdout(&gatehouse(
        d,
        &[
            "client",
            "update",
            id,
            "--jwks-uri",
            "https://signer.example.com/jwks",
        ],
        None,
    ));
    let refused = gatehouse(d, &["client", "show", id], None);
    let shown: serde_json::Value = serde_json::from_str(&stdout(&refused)).unwrap();
    assert_eq!(shown["jwks_uri"], "https://signer.example.com/jwks");

    // A private key, a plain-http URL, or the method without keys are refused.
    let mut private = key.jwk();
    private["d"] = serde_json::json!("AAAA");
    std::fs::write(&jwks, serde_json::json!({"keys": [private]}).to_string()).unwrap();
    let cases: [&[&str]; 3] = [
        &["client", "update", id, "--jwks-file", jwks_arg],
        &[
            "client",
            "update",
            id,
            "--jwks-uri",
            "http://signer.example.com/jwks",
        ],
        &[
            "client",
            "create",
            "--name",
            "No keys",
            "--grant-type",
            "client_credentials",
            "--token-endpoint-auth-method",
            "private_key_jwt",
        ],
    ];
    for args in cases {
        assert!(!gatehouse(d, args, None).status.success(), "{args:?}");
    }
}

/// `--backchannel-logout-uri` on create and update; `""` removes it; a fragment is refused.
#[test]
fn back_channel_logout_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = stdout(&gatehouse(
        d,
        &[
            "client",
            "create",
            "--name",
            "Web",
            "--redirect-uri",
            "https://app.example.com/cb",
            "--backchannel-logout-uri",
            "https://app.example.com/backchannel",
            "--backchannel-logout-session-required",
            "--json",
        ],
        None,
    ));
    let created: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let id = created["client_id"].as_str().unwrap();
    let show = |d: &std::path::Path| -> serde_json::Value {
        serde_json::from_str(&stdout(&gatehouse(d, &["client", "show", id], None))).unwrap()
    };
    let shown = show(d);
    assert_eq!(
        shown["backchannel_logout_uri"],
        "https://app.example.com/backchannel"
    );
    assert_eq!(shown["backchannel_logout_session_required"], true);
    assert!(
        !gatehouse(
            d,
            &[
                "client",
                "update",
                id,
                "--backchannel-logout-uri",
                "https://app.example.com/b#x",
            ],
            None,
        )
        .status
        .success()
    );
    stdout(&gatehouse(
        d,
        &["client", "update", id, "--backchannel-logout-uri", ""],
        None,
    ));
    assert!(show(d)["backchannel_logout_uri"].is_null());
}
