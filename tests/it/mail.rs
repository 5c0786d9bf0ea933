//! Account self-service by mail, against a real SMTP server (aiosmtpd, started per test on a
//! free loopback port): password reset, email verification, invitations, sign-up, and the
//! queue's retries when the mail server is down.
use crate::helpers::*;
use gatehouse::crypto::Secret;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How the test server protects its connections.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Plain,
    StartTls,
    Tls,
}

/// A running `tests/smtp_server.py`; each message it accepts becomes a JSON file in `dir`.
pub struct SmtpServer {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Child,
}

pub const SMTP_PASSWORD: &str = "mail relay secret";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// True when aiosmtpd is installed; CI (GATEHOUSE_REQUIRE_SMTP=1) fails without it.
pub fn smtp_available() -> bool {
    python_has(
        "aiosmtpd, cryptography",
        "GATEHOUSE_REQUIRE_SMTP",
        "aiosmtpd (pip install aiosmtpd)",
    )
}

impl SmtpServer {
    pub fn start(mode: Mode) -> Option<Self> {
        if !smtp_available() {
            return None;
        }
        Some(Self::start_on(free_port(), mode))
    }

    pub fn start_on(port: u16, mode: Mode) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("password"), SMTP_PASSWORD).unwrap();
        let mode_arg = match mode {
            Mode::Plain => "plain",
            Mode::StartTls => "starttls",
            Mode::Tls => "tls",
        };
        let mut child = Command::new("python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp_server.py"))
            .arg(port.to_string())
            .arg(dir.path())
            .arg(mode_arg)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the SMTP server started");
        Self { port, dir, child }
    }

    /// Points a configuration at this server.
    pub fn configure(&self, c: &mut gatehouse::config::Config) {
        configure_port(c, self.port);
    }

    /// The messages received so far, oldest first.
    pub fn messages(&self) -> Vec<serde_json::Value> {
        let mut names: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|n| {
                serde_json::from_str(&std::fs::read_to_string(self.dir.path().join(n)).unwrap())
                    .unwrap()
            })
            .collect()
    }

    /// Waits until `n` messages have arrived (the sender is woken at once; 20 s at most).
    pub async fn wait_for(&self, n: usize) -> Vec<serde_json::Value> {
        for _ in 0..200 {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("expected {n} message(s), got {}", self.messages().len());
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn configure_port(c: &mut gatehouse::config::Config, port: u16) {
    c.smtp_url = Some(Secret::new(format!("smtp://127.0.0.1:{port}?tls=none")));
    c.mail_from = Some("Example Sign-in <sign-in@example.com>".into());
}

/// The link a message carries to `path`, as an issuer-relative location.
pub fn link_in(message: &serde_json::Value, app: &TestApp, path: &str) -> String {
    let text = message["text"].as_str().unwrap();
    let prefix = app.url(path);
    let start = text.find(&prefix).expect("the message carries the link");
    let link: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    let html = message["html"].as_str().unwrap();
    assert!(html.contains(&link), "the HTML body carries the same link");
    link[app.issuer.len()..].to_owned()
}

/// The queue's (waiting, retrying) counts once the sender is done with what it has sent, or
/// what is left after 5 s.
async fn queue_drained(app: &TestApp) -> (i64, i64) {
    let mut backlog = (0, 0);
    for _ in 0..50 {
        backlog = app.store.mail_backlog().await.unwrap();
        if backlog == (0, 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    backlog
}

/// The same mail handle (and queue key) as the server's, so its sender can open what a test
/// queues.
fn server_mail(app: &TestApp) -> std::sync::Arc<gatehouse::mail::Mail> {
    let master = gatehouse::keys::MasterKey::load_or_create(&app.config, false).unwrap();
    gatehouse::mail::Mail::from_master(&app.config, &master)
        .unwrap()
        .unwrap()
}

/// Spawns an app for `backend` whose mail goes to a fresh test SMTP server.
async fn app_with_mail(
    backend: Backend,
    adjust: impl FnOnce(&mut gatehouse::config::Config),
) -> Option<(TestApp, SmtpServer)> {
    let smtp = SmtpServer::start(Mode::Plain)?;
    let app = TestApp::spawn_with(backend, |c| {
        smtp.configure(c);
        adjust(c);
    })
    .await?;
    Some((app, smtp))
}

macro_rules! mail_tests {
    ($adjust:expr; $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some((app, smtp)) = super::app_with_mail($crate::helpers::Backend::Sqlite, $adjust).await {
                        super::$name(app, smtp).await
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    match super::app_with_mail($crate::helpers::Backend::Postgres, $adjust).await {
                        Some((app, smtp)) => super::$name(app, smtp).await,
                        None => eprintln!("skipped: GATEHOUSE_TEST_DATABASE_URL or aiosmtpd is not set up"),
                    }
                }
            )*
        }
    };
}

mail_tests!(|_| {};
    reset_by_email_signs_in_and_ends_everything_else,
    reset_answers_alike_for_unknown_names,
    reset_links_die_when_used_expired_superseded_or_disabled,
    reset_inside_an_authorization_request_returns_to_it,
    reset_still_asks_the_second_factor,
    verification_makes_email_verified_true,
    account_page_changes_password_and_email,
    invitation_creates_a_verified_account,
    signup_is_off_by_default,
    requests_are_throttled_per_address,
    admins_invite_and_vouch_from_the_api_and_console,
);

mod open_signup {
    mail_tests!(|c| c.signup = gatehouse::config::Signup::Open;
        sign_up_proves_the_address_first,
    );
    use super::*;
}

/// Submits the "Forgot password?" form as `who`; returns the page shown.
async fn ask_reset(app: &TestApp, b: &reqwest::Client, path: &str, who: &str) -> (u16, String) {
    let page = app.get(b, path).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let mut form = vec![("csrf", hidden(&html, "csrf")), ("who", who.to_owned())];
    if let Some(flow) = maybe_hidden(&html, "flow") {
        form.push(("flow", flow));
    }
    let resp = b
        .post(app.url("/login/forgot"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

/// Opens a reset link and submits `password` twice; returns the response.
async fn set_password(
    app: &TestApp,
    b: &reqwest::Client,
    link: &str,
    password: &str,
    confirm: &str,
) -> reqwest::Response {
    let page = app.get(b, link).await;
    assert_eq!(page.status(), 200, "the reset page opens");
    let html = page.text().await.unwrap();
    b.post(app.url("/login/reset"))
        .form(&[
            ("csrf", hidden(&html, "csrf")),
            ("token", hidden(&html, "token")),
            ("password", password.to_owned()),
            ("confirm", confirm.to_owned()),
        ])
        .send()
        .await
        .unwrap()
}

async fn set_email(app: &TestApp, user: &str, email: &str) {
    let u = app
        .store
        .find_user_credentials(user)
        .await
        .unwrap()
        .unwrap()
        .0;
    let mut changed = u.clone();
    changed.email = Some(email.to_owned());
    app.store
        .update_user_profile(&changed, app.clock.now())
        .await
        .unwrap();
}

const NEW_PASSWORD: &str = "a brand new passphrase";

async fn reset_by_email_signs_in_and_ends_everything_else(app: TestApp, smtp: SmtpServer) {
    app.create_user("alice").await;
    set_email(&app, "alice", "alice@example.com").await;
    // Another browser is signed in and holds a refresh token.
    let client = app
        .create_client_custom(false, |c| {
            c.grant_types = vec![GrantType::AuthorizationCode, GrantType::RefreshToken];
        })
        .await;
    let other = browser();
    let (code, verifier) = app
        .get_code(&other, &client, "openid offline_access", "alice")
        .await;
    let tokens: serde_json::Value = app
        .exchange(&client, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    let b = browser();
    let login = app.get(&b, "/login").await.text().await.unwrap();
    assert!(
        login.contains(r#"href="/login/forgot""#),
        "the login page offers a reset"
    );
    let (status, page) = ask_reset(&app, &b, "/login/forgot", "alice").await;
    assert_eq!(status, 200);
    assert!(page.contains("If an account matches"));
    let messages = smtp.wait_for(1).await;
    let m = &messages[0];
    assert_eq!(m["rcpt_tos"][0], "alice@example.com");
    assert_eq!(m["mail_from"], "sign-in@example.com");
    let site = app.issuer.trim_start_matches("http://");
    assert_eq!(
        m["subject"].as_str().unwrap(),
        format!("Reset your password for {site}")
    );
    assert!(m["text"].as_str().unwrap().contains("alice"));
    let link = link_in(m, &app, "/login/reset?token=");
    // The token is 256 bits and stored only as a hash; the queued copy is gone once sent.
    let token = link.trim_start_matches("/login/reset?token=");
    assert_eq!(token.len(), 43);
    // The server has the message before the sender hears its answer and deletes the row.
    assert_eq!(queue_drained(&app).await, (0, 0));

    // Mismatched and refused passwords are shown on the form and leave the link working.
    let mismatch = set_password(&app, &b, &link, NEW_PASSWORD, "something else").await;
    assert_eq!(mismatch.status(), 422);
    assert!(mismatch.text().await.unwrap().contains("not the same"));
    let common = set_password(&app, &b, &link, "qwertyuiop123", "qwertyuiop123").await;
    assert_eq!(common.status(), 422);
    assert!(common.text().await.unwrap().contains("most commonly used"));
    let short = set_password(&app, &b, &link, "short one", "short one").await;
    assert!(short.text().await.unwrap().contains("at least 12"));

    let done = set_password(&app, &b, &link, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(done.status(), 303);
    assert_eq!(location(&done), "/account", "signed in");
    let account = app.get(&b, "/account").await;
    assert_eq!(account.status(), 200);
    assert!(
        account.text().await.unwrap().contains("confirmed"),
        "the link proved the address"
    );

    // The other browser is signed out and its refresh token is dead.
    let other_account = app.get(&other, "/account").await;
    assert_eq!(other_account.status(), 303);
    let refreshed = app
        .token(
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(refreshed.status(), 400);
    // The old password no longer works, the new one does.
    let old = app
        .submit_login(&browser(), "/login", "alice", PASSWORD)
        .await;
    assert_eq!(old.status(), 401);
    let new = app
        .submit_login(&browser(), "/login", "alice", NEW_PASSWORD)
        .await;
    assert_eq!(new.status(), 303);
    // The change is audited, without the token or the password.
    let events = app
        .store
        .audit_events(&gatehouse::store::AuditQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    let names: Vec<_> = events.iter().map(|e| e.event.as_str()).collect();
    assert!(
        names.contains(&"user.password_reset_requested"),
        "{names:?}"
    );
    assert!(names.contains(&"user.password_reset"), "{names:?}");
    let all = format!("{events:?}");
    assert!(!all.contains(token) && !all.contains(NEW_PASSWORD));
}

async fn reset_answers_alike_for_unknown_names(app: TestApp, smtp: SmtpServer) {
    app.create_user("alice").await;
    let (s1, known) = ask_reset(&app, &browser(), "/login/forgot", "alice").await;
    let (s2, unknown) = ask_reset(&app, &browser(), "/login/forgot", "nobody").await;
    let (s3, unknown_email) =
        ask_reset(&app, &browser(), "/login/forgot", "nobody@example.com").await;
    let strip = |html: &str| {
        html.lines()
            .filter(|l| !l.contains("csrf"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!((s1, s2, s3), (200, 200, 200));
    assert_eq!(strip(&known), strip(&unknown));
    assert_eq!(strip(&known), strip(&unknown_email));
    // By address too (the user's address is someone@example.com), once the first link is a
    // few minutes old.
    ask_reset(&app, &browser(), "/login/forgot", "Someone@Example.com").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        smtp.messages().len(),
        1,
        "one link per account per five minutes"
    );
    app.clock.advance(301);
    ask_reset(&app, &browser(), "/login/forgot", "Someone@Example.com").await;
    let got = smtp.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.messages().len(), 2, "only the known account is mailed");
    assert!(
        got.iter()
            .all(|m| m["rcpt_tos"][0] == "someone@example.com")
    );
}

async fn reset_links_die_when_used_expired_superseded_or_disabled(app: TestApp, smtp: SmtpServer) {
    app.create_user("alice").await;
    let b = browser();
    // Used.
    ask_reset(&app, &b, "/login/forgot", "alice").await;
    let first = link_in(&smtp.wait_for(1).await[0], &app, "/login/reset?token=");
    let done = set_password(&app, &b, &first, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(done.status(), 303);
    assert_eq!(
        app.get(&b, &first).await.status(),
        410,
        "a used link is dead"
    );
    // Superseded: of two links, only the newer works.
    ask_reset(&app, &browser(), "/login/forgot", "alice").await;
    let older = link_in(&smtp.wait_for(2).await[1], &app, "/login/reset?token=");
    app.clock.advance(301);
    ask_reset(&app, &browser(), "/login/forgot", "alice").await;
    let newer = link_in(&smtp.wait_for(3).await[2], &app, "/login/reset?token=");
    assert_eq!(app.get(&browser(), &older).await.status(), 410);
    assert_eq!(app.get(&browser(), &newer).await.status(), 200);
    // Expired after 15 minutes.
    app.clock.advance(15 * 60 + 1);
    let expired = app.get(&browser(), &newer).await;
    assert_eq!(expired.status(), 410);
    assert!(expired.text().await.unwrap().contains("no longer works"));
    // A disabled user's link is dead, and a disabled user is not mailed.
    app.clock.advance(3600);
    ask_reset(&app, &browser(), "/login/forgot", "alice").await;
    let live = link_in(&smtp.wait_for(4).await[3], &app, "/login/reset?token=");
    app.store.set_user_disabled("alice", true).await.unwrap();
    assert_eq!(app.get(&browser(), &live).await.status(), 410);
    ask_reset(&app, &browser(), "/login/forgot", "alice").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.messages().len(), 4);
    // A link mailed before the address changed is dead.
    app.store.set_user_disabled("alice", false).await.unwrap();
    app.clock.advance(301);
    ask_reset(&app, &browser(), "/login/forgot", "alice").await;
    let before = link_in(&smtp.wait_for(5).await[4], &app, "/login/reset?token=");
    set_email(&app, "alice", "alice@elsewhere.example.com").await;
    assert_eq!(app.get(&browser(), &before).await.status(), 410);
    // A made-up token is the same page.
    assert_eq!(
        app.get(&browser(), "/login/reset?token=made-up")
            .await
            .status(),
        410
    );
}

async fn reset_inside_an_authorization_request_returns_to_it(app: TestApp, smtp: SmtpServer) {
    app.create_user("alice").await;
    let client = app.create_client().await;
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
                ("scope", "openid email"),
                ("state", "st"),
                ("nonce", "n"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    let login = location(&resp);
    assert!(login.starts_with("/login?flow="));
    let flow = login.trim_start_matches("/login?flow=");
    let page = app.get(&b, &login).await.text().await.unwrap();
    let forgot = format!("/login/forgot?flow={flow}");
    assert!(page.contains(&format!(r#"href="{forgot}""#)));
    ask_reset(&app, &b, &forgot, "alice").await;
    let link = link_in(&smtp.wait_for(1).await[0], &app, "/login/reset?token=");
    let done = set_password(&app, &b, &link, NEW_PASSWORD, NEW_PASSWORD).await;
    // Back in the request: consent, then the code.
    let landed = app.follow_to_client(&b, done, "alice").await;
    assert!(landed.starts_with(REDIRECT_URI), "{landed}");
    let q = query_of(&landed);
    assert_eq!(param(&q, "state").as_deref(), Some("st"));
    let code = param(&q, "code").unwrap();
    let tokens = app.exchange(&client, &code, &verifier).await;
    assert_eq!(tokens.status(), 200);
    // In another browser the link still works, but there is no request to go back to.
    ask_reset(&app, &b, &forgot, "alice").await;
    let again = link_in(&smtp.wait_for(2).await[1], &app, "/login/reset?token=");
    let elsewhere = set_password(
        &app,
        &browser(),
        &again,
        "yet another passphrase",
        "yet another passphrase",
    )
    .await;
    assert_eq!(location(&elsewhere), "/account");
}

async fn reset_still_asks_the_second_factor(app: TestApp, smtp: SmtpServer) {
    app.create_user("alice").await;
    let b = browser();
    crate::mfa::sign_in_directly(&app, &b, "alice").await;
    let (secret, _) = crate::mfa::enrol_totp(&app, &b).await;
    let r = browser();
    ask_reset(&app, &r, "/login/forgot", "alice").await;
    let link = link_in(&smtp.wait_for(1).await[0], &app, "/login/reset?token=");
    let done = set_password(&app, &r, &link, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(
        location(&done),
        "/login/factor",
        "the second factor is still asked"
    );
    assert_eq!(
        app.get(&r, "/account").await.status(),
        303,
        "not signed in yet"
    );
    app.clock.advance(gatehouse::accounts::mfa::STEP);
    let code = gatehouse::accounts::mfa::code_at(&secret, app.clock.now()).unwrap();
    let resp = crate::mfa::submit_code(&app, &r, "/login/factor", &code).await;
    assert_eq!(location(&resp), "/account");
}

/// The ID token's claims as the `openidconnect` crate reads them after verifying it.
async fn email_verified_claim(app: &TestApp, client: &TestClient) -> Option<bool> {
    use openidconnect::{AuthorizationCode, Nonce, PkceCodeVerifier, TokenResponse};
    let (rp, http) = app.relying_party(client).await;
    let b = browser();
    let (code, verifier) = app.get_code(&b, client, "openid email", "alice").await;
    let tokens = rp
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(PkceCodeVerifier::new(verifier))
        .request_async(&http)
        .await
        .unwrap();
    let claims = tokens
        .id_token()
        .unwrap()
        .claims(&rp.id_token_verifier(), |_: Option<&Nonce>| Ok(()))
        .unwrap();
    claims.email_verified()
}

async fn verification_makes_email_verified_true(app: TestApp, smtp: SmtpServer) {
    app.create_user("alice").await;
    set_email(&app, "alice", "alice@example.com").await;
    let client = app.create_client().await;
    assert_eq!(email_verified_claim(&app, &client).await, Some(false));
    // The account page offers the link; it goes to the address.
    let b = browser();
    crate::mfa::sign_in_directly(&app, &b, "alice").await;
    let html = app.get(&b, "/account").await.text().await.unwrap();
    assert!(html.contains("not confirmed"));
    let resend = b
        .post(app.url("/account/email/resend"))
        .form(&[("csrf", hidden(&html, "csrf"))])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&resend), "/account?notice=verification-sent");
    let m = &smtp.wait_for(1).await[0];
    assert_eq!(m["rcpt_tos"][0], "alice@example.com");
    let link = link_in(m, &app, "/account/verify-email?token=");
    // Opening the link changes nothing (mail scanners open links); the button does.
    let page = app.get(&browser(), &link).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert_eq!(email_verified_claim(&app, &client).await, Some(false));
    let other = browser();
    let page = app.get(&other, &link).await.text().await.unwrap();
    let confirm = other
        .post(app.url("/account/verify-email"))
        .form(&[
            ("csrf", hidden(&page, "csrf")),
            ("token", hidden(&html, "token")),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(confirm.status(), 200);
    assert!(confirm.text().await.unwrap().contains("is confirmed"));
    assert_eq!(email_verified_claim(&app, &client).await, Some(true));
    let (code, verifier) = app
        .get_code(&browser(), &client, "openid email", "alice")
        .await;
    let tokens: serde_json::Value = app
        .exchange(&client, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let token = tokens["access_token"].as_str().unwrap();
    let info: serde_json::Value = app.userinfo(token).await.json().await.unwrap();
    assert_eq!(info["email_verified"], true);
    // A used link is dead.
    assert_eq!(app.get(&browser(), &link).await.status(), 410);

    // An admin changing the address clears the flag and mails the new one.
    let id = app
        .store
        .find_user_credentials("alice")
        .await
        .unwrap()
        .unwrap()
        .0
        .id;
    gatehouse::admin::users::update_profile(
        &app.store,
        None,
        app.clock.now(),
        gatehouse::admin::Actor::CLI,
        &id,
        None,
        gatehouse::accounts::ProfileChanges {
            email: Some("alice@new.example.com".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(email_verified_claim(&app, &client).await, Some(false));
    // An admin can vouch for it.
    gatehouse::admin::users::update_profile(
        &app.store,
        None,
        app.clock.now(),
        gatehouse::admin::Actor::CLI,
        &id,
        None,
        gatehouse::accounts::ProfileChanges {
            email_verified: Some(true),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(email_verified_claim(&app, &client).await, Some(true));
}

async fn account_page_changes_password_and_email(app: TestApp, smtp: SmtpServer) {
    app.create_user("alice").await;
    let b = browser();
    let other = browser();
    crate::mfa::sign_in_directly(&app, &b, "alice").await;
    crate::mfa::sign_in_directly(&app, &other, "alice").await;
    let form = |html: &str, pairs: &[(&str, &str)]| {
        let mut f = vec![("csrf".to_owned(), hidden(html, "csrf"))];
        f.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        f
    };
    let html = app.get(&b, "/account/password").await.text().await.unwrap();
    assert!(html.contains(r#"autocomplete="current-password""#));
    let post = |path: &'static str, f: Vec<(String, String)>| {
        let b = b.clone();
        let url = app.url(path);
        async move { b.post(url).form(&f).send().await.unwrap() }
    };
    let wrong = post(
        "/account/password",
        form(
            &html,
            &[
                ("current", "wrong"),
                ("password", NEW_PASSWORD),
                ("confirm", NEW_PASSWORD),
            ],
        ),
    )
    .await;
    assert_eq!(wrong.status(), 422);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("current password is not right")
    );
    let common = post(
        "/account/password",
        form(
            &html,
            &[
                ("current", PASSWORD),
                ("password", "password1234"),
                ("confirm", "password1234"),
            ],
        ),
    )
    .await;
    assert_eq!(common.status(), 422);
    assert!(common.text().await.unwrap().contains("most commonly used"));
    let personal = post(
        "/account/password",
        form(
            &html,
            &[
                ("current", PASSWORD),
                ("password", "alice"),
                ("confirm", "alice"),
            ],
        ),
    )
    .await;
    assert_eq!(personal.status(), 422);
    let changed = post(
        "/account/password",
        form(
            &html,
            &[
                ("current", PASSWORD),
                ("password", NEW_PASSWORD),
                ("confirm", NEW_PASSWORD),
            ],
        ),
    )
    .await;
    assert_eq!(location(&changed), "/account?notice=password-changed");
    // Strangers failing at the username do not lock its owner out of this page: the owner's
    // browser has its device cookie.
    for _ in 0..12 {
        app.submit_login(&browser(), "/login", "alice", "a wrong guess")
            .await;
    }
    let html = app.get(&b, "/account/password").await.text().await.unwrap();
    let again = post(
        "/account/password",
        form(
            &html,
            &[
                ("current", NEW_PASSWORD),
                ("password", "another fine passphrase"),
                ("confirm", "another fine passphrase"),
            ],
        ),
    )
    .await;
    assert_eq!(location(&again), "/account?notice=password-changed");
    let html = app.get(&b, "/account/password").await.text().await.unwrap();
    let back = post(
        "/account/password",
        form(
            &html,
            &[
                ("current", "another fine passphrase"),
                ("password", NEW_PASSWORD),
                ("confirm", NEW_PASSWORD),
            ],
        ),
    )
    .await;
    assert_eq!(location(&back), "/account?notice=password-changed");
    let account = app.get(&b, "/account?notice=password-changed").await;
    assert!(
        account
            .text()
            .await
            .unwrap()
            .contains("Your password is changed")
    );
    assert_eq!(
        app.get(&other, "/account").await.status(),
        303,
        "the other session ended"
    );

    // The address: the current password is needed, and the new one is unverified and mailed.
    let html = app.get(&b, "/account/email").await.text().await.unwrap();
    let wrong = post(
        "/account/email",
        form(
            &html,
            &[("email", "alice@new.example.com"), ("current", PASSWORD)],
        ),
    )
    .await;
    assert_eq!(wrong.status(), 422);
    for bad in [
        "not an address",
        "\"ceo@corp.example\"<attacker@evil.example>",
    ] {
        let refused = post(
            "/account/email",
            form(&html, &[("email", bad), ("current", NEW_PASSWORD)]),
        )
        .await;
        assert_eq!(refused.status(), 422, "{bad}");
    }
    let ok = post(
        "/account/email",
        form(
            &html,
            &[
                ("email", "alice@new.example.com"),
                ("current", NEW_PASSWORD),
            ],
        ),
    )
    .await;
    assert_eq!(location(&ok), "/account?notice=email-changed");
    let m = &smtp.wait_for(1).await[0];
    assert_eq!(m["rcpt_tos"][0], "alice@new.example.com");
    let user = app
        .store
        .find_user_credentials("alice")
        .await
        .unwrap()
        .unwrap()
        .0;
    assert_eq!(user.email.as_deref(), Some("alice@new.example.com"));
    assert!(!user.email_verified);
}

async fn invitation_creates_a_verified_account(app: TestApp, smtp: SmtpServer) {
    let mail = server_mail(&app);
    let out = gatehouse::accounts::recovery::Outbound {
        mail: &mail,
        issuer: &app.issuer,
    };
    gatehouse::admin::users::invite(
        &app.store,
        out,
        app.clock.now(),
        gatehouse::admin::Actor::CLI,
        "newcomer@example.com",
    )
    .await
    .unwrap();
    let m = &smtp.wait_for(1).await[0];
    assert_eq!(m["rcpt_tos"][0], "newcomer@example.com");
    let link = link_in(m, &app, "/signup/complete?token=");
    let b = browser();
    let page = app.get(&b, &link).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("newcomer@example.com"));
    let submit = |username: &str, password: &str| {
        let form = [
            ("csrf", hidden(&html, "csrf")),
            ("token", hidden(&html, "token")),
            ("username", username.to_owned()),
            ("password", password.to_owned()),
            ("confirm", password.to_owned()),
        ];
        let b = b.clone();
        let url = app.url("/signup/complete");
        async move { b.post(url).form(&form).send().await.unwrap() }
    };
    app.create_user("taken").await;
    let taken = submit("taken", NEW_PASSWORD).await;
    assert_eq!(taken.status(), 422);
    assert!(taken.text().await.unwrap().contains("username is taken"));
    // Trying usernames with a link counts against the address.
    let mut status = 422;
    for _ in 0..12 {
        status = submit("taken", NEW_PASSWORD).await.status().as_u16();
        if status == 429 {
            break;
        }
    }
    assert_eq!(status, 429);
    // An hour later (in a new session: the old one has expired) the link still works.
    app.clock.advance(3601);
    let html = app.get(&b, &link).await.text().await.unwrap();
    let submit = |username: &str, password: &str| {
        let form = [
            ("csrf", hidden(&html, "csrf")),
            ("token", hidden(&html, "token")),
            ("username", username.to_owned()),
            ("password", password.to_owned()),
            ("confirm", password.to_owned()),
        ];
        let b = b.clone();
        let url = app.url("/signup/complete");
        async move { b.post(url).form(&form).send().await.unwrap() }
    };
    let common = submit("newcomer", "1234567890qwerty").await;
    assert_eq!(common.status(), 422);
    let done = submit("newcomer", NEW_PASSWORD).await;
    assert_eq!(location(&done), "/account");
    let user = app
        .store
        .find_user_credentials("newcomer")
        .await
        .unwrap()
        .unwrap()
        .0;
    assert_eq!(user.email.as_deref(), Some("newcomer@example.com"));
    assert!(user.email_verified, "the link proved the address");
    assert_eq!(app.get(&browser(), &link).await.status(), 410, "used once");
}

async fn signup_is_off_by_default(app: TestApp, _smtp: SmtpServer) {
    assert_eq!(app.get(&browser(), "/signup").await.status(), 404);
    let login = app.get(&browser(), "/login").await.text().await.unwrap();
    assert!(!login.contains("/signup"));
    assert!(login.contains("/login/forgot"));
}

async fn requests_are_throttled_per_address(app: TestApp, smtp: SmtpServer) {
    app.create_user("alice").await;
    for _ in 0..10 {
        let (status, _) = ask_reset(&app, &browser(), "/login/forgot", "nobody").await;
        assert_eq!(status, 200);
    }
    let (status, page) = ask_reset(&app, &browser(), "/login/forgot", "alice").await;
    assert_eq!(status, 429);
    assert!(page.contains("Too many requests"));
    // An hour later the address may ask again. However often strangers ask, one account is
    // sent one link per five minutes, and the one sent works.
    app.clock.advance(3601);
    for _ in 0..5 {
        ask_reset(&app, &browser(), "/login/forgot", "alice").await;
    }
    let link = link_in(&smtp.wait_for(1).await[0], &app, "/login/reset?token=");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.messages().len(), 1);
    assert_eq!(app.get(&browser(), &link).await.status(), 200);
    app.clock.advance(301);
    ask_reset(&app, &browser(), "/login/forgot", "alice").await;
    smtp.wait_for(2).await;
}

async fn sign_up_proves_the_address_first(app: TestApp, smtp: SmtpServer) {
    app.create_user("alice").await;
    let b = browser();
    let login = app.get(&b, "/login").await.text().await.unwrap();
    assert!(login.contains(r#"href="/signup""#));
    let sign_up = |email: &'static str| {
        let b = browser();
        let app = &app;
        async move {
            let html = app.get(&b, "/signup").await.text().await.unwrap();
            let resp = b
                .post(app.url("/signup"))
                .form(&[("csrf", hidden(&html, "csrf")), ("email", email.to_owned())])
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            resp.text()
                .await
                .unwrap()
                .lines()
                .filter(|l| !l.contains("csrf"))
                .collect::<Vec<_>>()
                .join("\n")
        }
    };
    // An admin's invitation survives an anonymous sign-up for the same address.
    let mail = server_mail(&app);
    let out = gatehouse::accounts::recovery::Outbound {
        mail: &mail,
        issuer: &app.issuer,
    };
    gatehouse::admin::users::invite(
        &app.store,
        out,
        app.clock.now(),
        gatehouse::admin::Actor::CLI,
        "Invited@example.com",
    )
    .await
    .unwrap();
    let invitation = link_in(&smtp.wait_for(1).await[0], &app, "/signup/complete?token=");
    sign_up("invited@example.com").await;
    let signup_link = link_in(&smtp.wait_for(2).await[1], &app, "/signup/complete?token=");
    assert_eq!(app.get(&browser(), &invitation).await.status(), 200);
    assert_eq!(app.get(&browser(), &signup_link).await.status(), 200);
    // A disabled account's address cannot sign up afresh.
    let gone = app.create_user("gone").await;
    set_email(&app, "gone", "gone@example.com").await;
    app.store
        .set_user_disabled_by_id(&gone.id, true)
        .await
        .unwrap();
    sign_up("gone@example.com").await;
    let note = &smtp.wait_for(3).await[2];
    assert!(
        note["subject"]
            .as_str()
            .unwrap()
            .contains("already have an account")
    );
    let base = 3;
    // An address with an account gets a note instead of a link; the page is the same.
    let existing = sign_up("someone@example.com").await;
    let fresh = sign_up("fresh@example.com").await;
    assert_eq!(existing, fresh);
    let messages = smtp.wait_for(base + 2).await[base..].to_vec();
    let note = messages
        .iter()
        .find(|m| m["rcpt_tos"][0] == "someone@example.com")
        .unwrap();
    assert!(
        note["subject"]
            .as_str()
            .unwrap()
            .contains("already have an account")
    );
    assert!(!note["text"].as_str().unwrap().contains("/signup/complete"));
    let invite = messages
        .iter()
        .find(|m| m["rcpt_tos"][0] == "fresh@example.com")
        .unwrap();
    let link = link_in(invite, &app, "/signup/complete?token=");
    // Nothing exists until the link is followed.
    assert!(
        app.store
            .find_users_by_email("fresh@example.com")
            .await
            .unwrap()
            .is_empty()
    );
    let page = app.get(&b, &link).await.text().await.unwrap();
    let done = b
        .post(app.url("/signup/complete"))
        .form(&[
            ("csrf", hidden(&page, "csrf")),
            ("token", hidden(&page, "token")),
            ("username", "fresh".to_owned()),
            ("password", NEW_PASSWORD.to_owned()),
            ("confirm", NEW_PASSWORD.to_owned()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&done), "/account");
    let fresh = app
        .store
        .find_users_by_email("fresh@example.com")
        .await
        .unwrap();
    assert_eq!(fresh.len(), 1);
    assert!(fresh[0].email_verified);
    let again = app
        .submit_login(&browser(), "/login", "fresh", NEW_PASSWORD)
        .await;
    assert_eq!(again.status(), 303);
}

/// Mail settings alone turn the pages on: without them there is no link and no page.
#[tokio::test]
async fn without_mail_the_pages_are_off() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let login = app.get(&browser(), "/login").await.text().await.unwrap();
    assert!(!login.contains("/login/forgot") && !login.contains("/signup"));
    for path in [
        "/login/forgot",
        "/login/reset?token=x",
        "/signup",
        "/signup/complete?token=x",
    ] {
        assert_eq!(app.get(&browser(), path).await.status(), 404, "{path}");
    }
}

/// The mail server is down: the sign-in page still answers at once, the message waits in the
/// queue and is retried with back-off, and goes out once the server is back.
#[tokio::test]
async fn mail_waits_for_a_server_that_is_down() {
    if !smtp_available() {
        return;
    }
    let port = free_port();
    let app = TestApp::spawn_with(Backend::Sqlite, |c| configure_port(c, port))
        .await
        .unwrap();
    app.create_user("alice").await;
    let (status, _) = ask_reset(&app, &browser(), "/login/forgot", "alice").await;
    assert_eq!(status, 200);
    // The sender tried and failed: the message waits, with its attempt counted.
    let mut backlog = (0, 0);
    for _ in 0..100 {
        backlog = app.store.mail_backlog().await.unwrap();
        if backlog.1 == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(backlog, (1, 1), "one message, tried once");
    let smtp = SmtpServer::start_on(port, Mode::Plain);
    // Not before its back-off (30 s) has passed.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(smtp.messages().is_empty());
    app.clock.advance(31);
    let m = &smtp.wait_for(1).await[0];
    assert_eq!(m["rcpt_tos"][0], "someone@example.com");
    assert_eq!(queue_drained(&app).await, (0, 0));
}

/// STARTTLS and implicit TLS through rustls, trusting a private CA, with SMTP AUTH; and
/// `gatehouse mail test`.
#[test]
fn mail_test_command_over_starttls_and_tls() {
    if !smtp_available() {
        return;
    }
    for (mode, scheme) in [(Mode::StartTls, "smtp"), (Mode::Tls, "smtps")] {
        let smtp = SmtpServer::start(mode).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let password_file = dir.path().join("smtp-password");
        std::fs::write(&password_file, format!("{SMTP_PASSWORD}\n")).unwrap();
        let run = |extra: &[(&str, String)]| {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
            cmd.args(["mail", "test", "admin@example.com"])
                .env_remove("GATEHOUSE_DATABASE_URL")
                .env("GATEHOUSE_DATA_DIR", dir.path().join("data"))
                .env("GATEHOUSE_KEYS_DIR", dir.path().join("keys"))
                .env("GATEHOUSE_LOG", "warn")
                .env(
                    "GATEHOUSE_SMTP_URL",
                    format!("{scheme}://gatehouse@127.0.0.1:{}", smtp.port),
                )
                .env("GATEHOUSE_MAIL_FROM", "sign-in@example.com");
            for (k, v) in extra {
                cmd.env(k, v);
            }
            cmd.output().unwrap()
        };
        let ca = smtp.dir.path().join("ca.pem").display().to_string();
        // Without the private CA the certificate is refused: nothing is sent in the clear.
        let untrusted = run(&[(
            "GATEHOUSE_SMTP_PASSWORD_FILE",
            password_file.display().to_string(),
        )]);
        assert!(!untrusted.status.success());
        let out = run(&[
            ("GATEHOUSE_SMTP_CA_FILE", ca),
            (
                "GATEHOUSE_SMTP_PASSWORD_FILE",
                password_file.display().to_string(),
            ),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let messages = smtp.messages();
        assert_eq!(messages.len(), 1);
        let m = &messages[0];
        assert_eq!(m["rcpt_tos"][0], "admin@example.com");
        assert_eq!(m["tls"], true);
        assert_eq!(m["authenticated"], true);
        assert!(
            m["subject"]
                .as_str()
                .unwrap()
                .starts_with("Test message from")
        );
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!all.contains(SMTP_PASSWORD));
    }
}

async fn admins_invite_and_vouch_from_the_api_and_console(app: TestApp, smtp: SmtpServer) {
    let (_, token) = crate::admin_api::admin_token(&app).await;
    let api = |method: reqwest::Method, path: &str| {
        app.http
            .request(method, app.url(&format!("/admin/api/v1{path}")))
            .bearer_auth(&token)
    };
    let bad = api(reqwest::Method::POST, "/invitations")
        .json(&serde_json::json!({"email": "not an address"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let invited = api(reqwest::Method::POST, "/invitations")
        .json(&serde_json::json!({"email": "api@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(invited.status(), 202);
    let m = &smtp.wait_for(1).await[0];
    assert_eq!(m["rcpt_tos"][0], "api@example.com");
    link_in(m, &app, "/signup/complete?token=");

    // A user created with an address is mailed its verification link; an admin may vouch.
    let created = api(reqwest::Method::POST, "/users")
        .json(&serde_json::json!({"username": "dave", "password": NEW_PASSWORD, "email": "dave@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let view: serde_json::Value = created.json().await.unwrap();
    assert_eq!(view["email_verified"], false);
    let m = &smtp.wait_for(2).await[1];
    assert_eq!(m["rcpt_tos"][0], "dave@example.com");
    link_in(m, &app, "/account/verify-email?token=");
    let path = format!("/users/{}", view["id"].as_str().unwrap());
    let read = api(reqwest::Method::GET, &path).send().await.unwrap();
    let etag = read.headers()["etag"].to_str().unwrap().to_owned();
    let vouched = api(reqwest::Method::PATCH, &path)
        .header("if-match", etag)
        .json(&serde_json::json!({"email_verified": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(vouched.status(), 200);
    let view: serde_json::Value = vouched.json().await.unwrap();
    assert_eq!(view["email_verified"], true);
    // Created already vouched for: no link is sent.
    let trusted = api(reqwest::Method::POST, "/users")
        .json(
            &serde_json::json!({"username": "erin", "password": NEW_PASSWORD,
            "email": "erin@example.com", "email_verified": true}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(trusted.status(), 201);

    // The console's invitation form.
    let (_, b) = crate::console::signed_in_admin(&app, "root").await;
    let html = app.get(&b, "/admin/users").await.text().await.unwrap();
    assert!(html.contains("Invite someone"));
    let sent = b
        .post(app.url("/admin/users/invite"))
        .form(&[
            ("csrf", hidden(&html, "csrf")),
            ("email", "console@example.com".into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&sent), "/admin/users?invited=1");
    let notice = app
        .get(&b, "/admin/users?invited=1")
        .await
        .text()
        .await
        .unwrap();
    assert!(notice.contains("Invitation sent"));
    let messages = smtp.wait_for(3).await;
    assert_eq!(messages[2]["rcpt_tos"][0], "console@example.com");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        smtp.messages().len(),
        3,
        "the vouched-for address got no link"
    );
}

/// `gatehouse user invite` sends at once, without a running server; `user verify-email`
/// vouches for an address; `user create --email-verified` too.
#[tokio::test]
async fn invite_and_verify_from_the_command_line() {
    let Some(smtp) = SmtpServer::start(Mode::Plain) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], stdin: Option<&str>| {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args(args)
            .env_remove("GATEHOUSE_DATABASE_URL")
            .env("GATEHOUSE_DATA_DIR", dir.path().join("data"))
            .env("GATEHOUSE_KEYS_DIR", dir.path().join("keys"))
            .env("GATEHOUSE_LOG", "warn")
            .env(
                "GATEHOUSE_SMTP_URL",
                format!("smtp://127.0.0.1:{}?tls=none", smtp.port),
            )
            .env("GATEHOUSE_MAIL_FROM", "sign-in@example.com")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(s) = stdin {
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let out = run(&["user", "invite", "cli@example.com"], None);
    assert!(out.contains("1 message(s) sent"), "{out}");
    let m = &smtp.wait_for(1).await[0];
    assert_eq!(m["rcpt_tos"][0], "cli@example.com");
    assert!(
        m["text"]
            .as_str()
            .unwrap()
            .contains("/signup/complete?token=")
    );
    run(
        &[
            "user",
            "create",
            "--username",
            "frank",
            "--email",
            "frank@example.com",
            "--password-stdin",
        ],
        Some("a long enough password\n"),
    );
    let m = &smtp.wait_for(2).await[1];
    assert_eq!(m["rcpt_tos"][0], "frank@example.com");
    run(
        &[
            "user",
            "create",
            "--username",
            "gina",
            "--email",
            "gina@example.com",
            "--email-verified",
            "--password-stdin",
        ],
        Some("a long enough password\n"),
    );
    run(&["user", "verify-email", "frank"], None);
    let store = gatehouse::store::Store::connect(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("data/gatehouse.db").display()
    ))
    .await
    .unwrap();
    for name in ["frank", "gina"] {
        let (u, _) = store.find_user_credentials(name).await.unwrap().unwrap();
        assert!(u.email_verified, "{name}");
    }
    assert_eq!(
        smtp.messages().len(),
        2,
        "a vouched-for address is not mailed"
    );
    // Commands that send nothing do not need the master key, even with mail configured.
    run(&["keys", "list"], None);
    std::fs::remove_dir_all(dir.path().join("keys")).unwrap();
    let listed = run(&["user", "list"], None);
    assert!(listed.contains("frank"), "{listed}");
}

/// A person in headless Chromium, without JavaScript, forgets their password in the middle of
/// signing in to an app, follows the mailed link in the same browser, and lands back at the
/// app with a code that redeems. Screenshots go to `target/mail-screenshots/`.
#[tokio::test]
async fn forgotten_password_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    let Some((app, smtp)) = app_with_mail(Backend::Sqlite, |_| {}).await else {
        return;
    };
    app.create_user("alice").await;
    let redirect = "http://127.0.0.1:9/callback";
    let client = app.create_client_with(false, &[redirect], &[], false).await;
    let verifier = gatehouse::crypto::random_token();
    let challenge = gatehouse::oauth::pkce::s256_challenge(&verifier);
    let auth_url = reqwest::Url::parse_with_params(
        &app.url("/authorize"),
        &[
            ("response_type", "code"),
            ("client_id", client.id.as_str()),
            ("redirect_uri", redirect),
            ("scope", "openid email"),
            ("state", "s1"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .unwrap();
    let shots = concat!(env!("CARGO_MANIFEST_DIR"), "/target/mail-screenshots");
    let mut child = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/browser_reset.py"
        ))
        .args([auth_url.as_str(), "alice", NEW_PASSWORD, redirect, shots])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (asked, lines) = tokio::task::spawn_blocking(move || {
        let mut lines = std::io::BufReader::new(stdout).lines();
        let first = lines.next().and_then(|l| l.ok()).unwrap_or_default();
        (first, lines)
    })
    .await
    .unwrap();
    assert_eq!(asked, "ASKED", "the browser asked for a link");
    let message = &smtp.wait_for(1).await[0];
    let link = link_in(message, &app, "/login/reset?token=");
    std::fs::write(
        format!("{shots}/reset-mail.html"),
        message["html"].as_str().unwrap(),
    )
    .unwrap();
    {
        use std::io::Write;
        writeln!(stdin, "{}", app.url(&link)).unwrap();
    }
    let landed = tokio::task::spawn_blocking(move || {
        let mut lines = lines;
        lines.next().and_then(|l| l.ok()).unwrap_or_default()
    })
    .await
    .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "the browser script failed");
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
    let login = app
        .submit_login(&browser(), "/login", "alice", NEW_PASSWORD)
        .await;
    assert_eq!(login.status(), 303, "the new password signs in");
}
