//! The login page: CSRF, binding to the browser, generic failures, session rotation.
use crate::helpers::*;
use gatehouse::crypto::random_token;
use gatehouse::oauth::pkce::s256_challenge;

async fn start_flow(app: &TestApp, b: &reqwest::Client) -> String {
    let client = app.create_client().await;
    let ch = s256_challenge(&random_token());
    let resp = app
        .authorize(
            b,
            &[
                ("response_type", "code"),
                ("client_id", &client.id),
                ("redirect_uri", REDIRECT_URI),
                ("scope", "openid"),
                ("code_challenge", &ch),
                ("code_challenge_method", "S256"),
                ("login_hint", "alice"),
            ],
        )
        .await;
    let loc = location(&resp);
    assert!(loc.starts_with("/login?flow="), "{loc}");
    loc
}

/// One generic message for a wrong password and an unknown user; nobody is signed in.
async fn wrong_password_and_unknown_user_get_the_same_answer(app: TestApp) {
    app.create_user("alice").await;
    let b = browser();
    let login = start_flow(&app, &b).await;
    let wrong = app
        .submit_login(&b, &login, "alice", "not the password")
        .await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get("location").is_none());
    let wrong_html = wrong.text().await.unwrap();
    let unknown = app
        .submit_login(&b, &login, "mallory", "not the password")
        .await;
    assert_eq!(unknown.status(), 401);
    let unknown_html = unknown.text().await.unwrap();
    assert!(wrong_html.contains("Invalid username or password."));
    assert!(unknown_html.contains("Invalid username or password."));
    let account = b.get(app.url("/account")).send().await.unwrap();
    assert_eq!(location(&account), "/login", "still signed out");
}

async fn disabled_user_cannot_sign_in(app: TestApp) {
    app.create_user("alice").await;
    app.store.set_user_disabled("alice", true).await.unwrap();
    let b = browser();
    let login = start_flow(&app, &b).await;
    assert_eq!(
        app.submit_login(&b, &login, "alice", PASSWORD)
            .await
            .status(),
        401
    );
}

/// RFC 6749 §10.12: a forged CSRF token is refused and signs nobody in.
async fn forged_csrf_token_is_refused(app: TestApp) {
    app.create_user("alice").await;
    let b = browser();
    let login = start_flow(&app, &b).await;
    let html = app.get(&b, &login).await.text().await.unwrap();
    let flow = hidden(&html, "flow");
    let resp = b
        .post(app.url("/login"))
        .form(&[
            ("username", "alice"),
            ("password", PASSWORD),
            ("csrf", &random_token()),
            ("flow", &flow),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let account = b.get(app.url("/account")).send().await.unwrap();
    assert_eq!(location(&account), "/login");
}

/// Dex CVE-2022-39222 class: a flow started in one browser cannot be finished in another.
async fn flow_from_another_browser_is_refused(app: TestApp) {
    app.create_user("alice").await;
    let victim = browser();
    let login = start_flow(&app, &victim).await;
    let attacker = browser();
    let resp = app.get(&attacker, &login).await;
    assert_eq!(resp.status(), 400);
}

/// Session fixation: the session id changes at sign-in.
async fn session_id_is_rotated_at_sign_in(app: TestApp) {
    app.create_user("alice").await;
    let b = browser();
    let login = start_flow(&app, &b).await;
    let page = app.get(&b, &login).await;
    let before = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect::<Vec<_>>();
    let html = page.text().await.unwrap();
    assert!(
        html.contains(r#"value="alice""#),
        "login_hint pre-fills the username"
    );
    let resp = b
        .post(app.url("/login"))
        .form(&[
            ("username", "alice"),
            ("password", PASSWORD),
            ("csrf", &hidden(&html, "csrf")),
            ("flow", &hidden(&html, "flow")),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "303 after the login POST, never 307");
    let after = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .filter(|c| c.starts_with("gatehouse="))
        .collect::<Vec<_>>();
    assert!(!after.is_empty(), "a new session cookie is set");
    assert_ne!(before, after);
    assert!(after[0].contains("HttpOnly") && after[0].contains("SameSite=Lax"));
}

async fn account_page_shows_the_signed_in_user_and_signs_out(app: TestApp) {
    app.create_user("alice").await;
    let b = browser();
    let resp = b.get(app.url("/account")).send().await.unwrap();
    assert_eq!(location(&resp), "/login");
    let resp = app.submit_login(&b, "/login", "alice", PASSWORD).await;
    assert_eq!(location(&resp), "/account");
    let html = b
        .get(app.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("alice"));
    let csrf = hidden(&html, "csrf");
    let resp = b
        .post(app.url("/logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("You are signed out"));
    let resp = b.get(app.url("/account")).send().await.unwrap();
    assert_eq!(location(&resp), "/login", "signed out");
}

async fn landing_page_and_stylesheet_are_served(app: TestApp) {
    let html = app
        .http
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(&app.issuer));
    let css = app
        .http
        .get(app.url("/static/gatehouse.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
}

/// SECURITY.md: back-off per username after repeated failures, the same for unknown names; the
/// right password is refused while blocked and works once the wait is over.
async fn repeated_failures_back_off(app: TestApp) {
    app.create_user("alice").await;
    let b = browser();
    for _ in 0..5 {
        assert_eq!(
            app.submit_login(&b, "/login", "alice", "wrong password")
                .await
                .status(),
            401
        );
        assert_eq!(
            app.submit_login(&b, "/login", "nobody", "wrong password")
                .await
                .status(),
            401
        );
    }
    let blocked = app.submit_login(&b, "/login", "alice", PASSWORD).await;
    assert_eq!(blocked.status(), 429);
    assert!(blocked.headers().get("retry-after").is_some());
    assert_eq!(
        app.submit_login(&b, "/login", "nobody", PASSWORD)
            .await
            .status(),
        429,
        "unknown names back off alike"
    );
    app.clock.advance(2);
    assert_eq!(
        app.submit_login(&b, "/login", "alice", PASSWORD)
            .await
            .status(),
        303
    );
}

/// Parallel failures are all counted (Keycloak #31726): the counter is one atomic statement.
async fn parallel_failures_are_all_counted(app: TestApp) {
    let now = app.clock.now();
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let store = app.store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .record_login_failure("user:race", now, now - 3600)
                .await
                .unwrap()
        }));
    }
    let mut counts = Vec::new();
    for t in tasks {
        counts.push(t.await.unwrap());
    }
    counts.sort();
    assert_eq!(counts, (1..=10).collect::<Vec<i64>>());
}

/// Parallel guesses cannot slip past the allowance: each attempt is counted before its
/// password is checked, so at most the free allowance is ever verified.
async fn parallel_guesses_are_throttled(app: TestApp) {
    app.create_user("alice").await;
    let b = browser();
    let html = b
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&html, "csrf");
    let mut tasks = Vec::new();
    for i in 0..12 {
        let (b, url, csrf) = (b.clone(), app.url("/login"), csrf.clone());
        tasks.push(tokio::spawn(async move {
            let pw = format!("wrong password {i}");
            let form = [
                ("username", "alice"),
                ("password", pw.as_str()),
                ("csrf", csrf.as_str()),
            ];
            b.post(url)
                .form(&form)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let verified = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert!(verified <= 5, "{statuses:?}");
    assert_eq!(verified + refused, 12, "{statuses:?}");
}

/// Sessions end after the configured inactivity.
async fn session_expires_after_inactivity(app: TestApp) {
    app.create_user("alice").await;
    let b = browser();
    app.submit_login(&b, "/login", "alice", PASSWORD).await;
    assert_eq!(
        b.get(app.url("/account")).send().await.unwrap().status(),
        200
    );
    app.clock.advance(app.config.session_ttl + 1);
    assert_eq!(
        location(&b.get(app.url("/account")).send().await.unwrap()),
        "/login"
    );
}

/// Behind a trusted reverse proxy the per-address back-off keys on X-Forwarded-For; from
/// anyone else the header is ignored.
#[tokio::test]
async fn address_back_off_follows_trusted_proxy_headers() {
    let app = TestApp::spawn_with(crate::helpers::Backend::Sqlite, |c| {
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await
    .unwrap();
    let b = browser();
    let html = b
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&html, "csrf");
    let attempt = |user: String, from: &'static str| {
        let (b, url, csrf) = (b.clone(), app.url("/login"), csrf.clone());
        async move {
            let form = [
                ("username", user.as_str()),
                ("password", "wrong password"),
                ("csrf", csrf.as_str()),
            ];
            b.post(url)
                .header("x-forwarded-for", from)
                .form(&form)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    for i in 0..20 {
        assert_eq!(attempt(format!("user{i}"), "198.51.100.7").await, 401);
    }
    assert_eq!(
        attempt("someone".into(), "198.51.100.7").await,
        429,
        "that address backs off"
    );
    assert_eq!(
        attempt("someone".into(), "198.51.100.8").await,
        401,
        "another client is not affected"
    );
    // Several header lines are one list, read in order: the last hop names the client.
    let lines = |first: String| {
        let (b, url, csrf) = (b.clone(), app.url("/login"), csrf.clone());
        async move {
            let form = [
                ("username", "lines"),
                ("password", "wrong password"),
                ("csrf", csrf.as_str()),
            ];
            b.post(url)
                .header("x-forwarded-for", first)
                .header("x-forwarded-for", "198.51.100.7")
                .form(&form)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        lines("203.0.113.50".into()).await,
        429,
        "the second line names the backed-off address"
    );

    // Without trust, the header changes nothing: all come from the peer address.
    let plain = TestApp::spawn(crate::helpers::Backend::Sqlite)
        .await
        .unwrap();
    let b = browser();
    let html = b
        .get(plain.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&html, "csrf");
    for i in 0..20 {
        let form = [
            ("username", format!("user{i}")),
            ("password", "wrong password".into()),
            ("csrf", csrf.clone()),
        ];
        let from = format!("198.51.100.{i}");
        let status = b
            .post(plain.url("/login"))
            .header("x-forwarded-for", from)
            .form(&form)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 401);
    }
    let form = [
        ("username", "someone"),
        ("password", "wrong password"),
        ("csrf", csrf.as_str()),
    ];
    let status = b
        .post(plain.url("/login"))
        .header("x-forwarded-for", "203.0.113.1")
        .form(&form)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 429, "a forged header does not escape the back-off");
}

/// Lockout is not a weapon (OWASP device cookies): strangers' failures back off the
/// unknown-device path only; the owner's known browser keeps signing in, and has a stricter
/// counter of its own. `unlock` clears both.
async fn strangers_cannot_lock_out_a_known_device(app: TestApp) {
    app.create_user("alice").await;
    let owner = browser();
    let first = app.submit_login(&owner, "/login", "alice", PASSWORD).await;
    assert_eq!(first.status(), 303);
    let cookie = first
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("gatehouse-device="))
        .expect("a device cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("alice"),
        "the cookie does not name its user"
    );

    let mut statuses = Vec::new();
    for _ in 0..12 {
        let stranger = browser();
        statuses.push(
            app.submit_login(&stranger, "/login", "alice", "wrong password")
                .await
                .status()
                .as_u16(),
        );
    }
    assert!(statuses.contains(&429), "strangers back off: {statuses:?}");
    assert_eq!(
        app.submit_login(&browser(), "/login", "alice", PASSWORD)
            .await
            .status(),
        429,
        "an unknown browser waits even with the right password"
    );
    assert_eq!(
        app.submit_login(&owner, "/login", "alice", PASSWORD)
            .await
            .status(),
        303,
        "the owner's known browser is not locked out"
    );

    // The known device's own counter is stricter.
    for _ in 0..3 {
        assert_eq!(
            app.submit_login(&owner, "/login", "alice", "wrong password")
                .await
                .status(),
            401
        );
    }
    assert_eq!(
        app.submit_login(&owner, "/login", "alice", PASSWORD)
            .await
            .status(),
        429
    );
    // A device cookie for alice does nothing for another username.
    app.create_user("bob").await;
    assert_eq!(
        app.submit_login(&owner, "/login", "bob", PASSWORD)
            .await
            .status(),
        303
    );

    let cleared = gatehouse::accounts::unlock(&app.store, "alice")
        .await
        .unwrap();
    assert!(
        cleared >= 2,
        "the username's and the device's counters: {cleared}"
    );
    assert_eq!(
        app.submit_login(&owner, "/login", "alice", PASSWORD)
            .await
            .status(),
        303
    );
    assert_eq!(
        app.submit_login(&browser(), "/login", "alice", PASSWORD)
            .await
            .status(),
        303
    );
}

/// A forged or foreign device cookie counts as no device.
async fn forged_device_cookie_is_an_unknown_device(app: TestApp) {
    app.create_user("alice").await;
    for _ in 0..6 {
        app.submit_login(&browser(), "/login", "alice", "wrong password")
            .await;
    }
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    jar.add_cookie_str(
        &format!(
            "gatehouse-device={}.{}.AAAA",
            "0".repeat(32),
            app.clock.now()
        ),
        &app.url("/").parse().unwrap(),
    );
    let forged = reqwest::Client::builder()
        .cookie_provider(jar)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = forged
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&page, "csrf");
    let resp = forged
        .post(app.url("/login"))
        .form(&[
            ("username", "alice"),
            ("password", PASSWORD),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
}

/// A password change forgets every known device: its cookie then counts as unknown.
async fn password_change_forgets_known_devices(app: TestApp) {
    app.create_user("alice").await;
    let owner = browser();
    assert_eq!(
        app.submit_login(&owner, "/login", "alice", PASSWORD)
            .await
            .status(),
        303
    );
    gatehouse::accounts::set_password(
        &app.store,
        &gatehouse::accounts::password::Hasher::default(),
        "alice",
        "a brand new long password",
        app.clock.now(),
    )
    .await
    .unwrap();
    for _ in 0..6 {
        app.submit_login(&browser(), "/login", "alice", "wrong password")
            .await;
    }
    assert_eq!(
        app.submit_login(&owner, "/login", "alice", "a brand new long password")
            .await
            .status(),
        429,
        "the old device cookie no longer exempts this browser"
    );
}

crate::backend_tests!(
    password_change_forgets_known_devices,
    strangers_cannot_lock_out_a_known_device,
    forged_device_cookie_is_an_unknown_device,
    wrong_password_and_unknown_user_get_the_same_answer,
    disabled_user_cannot_sign_in,
    forged_csrf_token_is_refused,
    flow_from_another_browser_is_refused,
    session_id_is_rotated_at_sign_in,
    account_page_shows_the_signed_in_user_and_signs_out,
    landing_page_and_stylesheet_are_served,
    repeated_failures_back_off,
    parallel_failures_are_all_counted,
    parallel_guesses_are_throttled,
    session_expires_after_inactivity,
);
