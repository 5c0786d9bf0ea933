//! The admin console at /admin, driven as a browser would (cookies kept, forms posted): who
//! gets in, the recent-sign-in rule for changes, CSRF, and each page's work.
use crate::helpers::*;
use gatehouse::domain::GrantType;

/// An administrator signed in through the login page, in a browser of their own.
pub(crate) async fn signed_in_admin(
    app: &TestApp,
    username: &str,
) -> (gatehouse::domain::User, reqwest::Client) {
    let user = app.create_user(username).await;
    app.store.set_user_admin(&user.id, true).await.unwrap();
    let b = browser();
    let resp = app.submit_login(&b, "/login", username, PASSWORD).await;
    assert_eq!(resp.status(), 303);
    (user, b)
}

async fn page(app: &TestApp, b: &reqwest::Client, path: &str) -> (u16, String) {
    let resp = app.get(b, path).await;
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

async fn post(
    app: &TestApp,
    b: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    b.post(app.url(path)).form(form).send().await.unwrap()
}

async fn csrf_of(app: &TestApp, b: &reqwest::Client, path: &str) -> String {
    let (status, html) = page(app, b, path).await;
    assert_eq!(status, 200, "{path}: {html}");
    hidden(&html, "csrf")
}

/// The value of the input with id `id`, or the text of the element with that id.
fn value_of(html: &str, id: &str) -> String {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {html}"));
    let tag_end = at + html[at..].find('>').unwrap();
    let tag = &html[at..tag_end];
    if let Some(v) = tag.split("value=\"").nth(1) {
        return v.split('"').next().unwrap().to_owned();
    }
    let text = &html[tag_end + 1..];
    text[..text.find('<').unwrap()].to_owned()
}

async fn only_admins_get_in(app: TestApp) {
    // Anonymous: off to sign in, and back to the console afterwards.
    let b = browser();
    let resp = app.get(&b, "/admin/clients").await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/login");
    let admin = app.create_user("root").await;
    app.store.set_user_admin(&admin.id, true).await.unwrap();
    let signed = app.submit_login(&b, "/login", "root", PASSWORD).await;
    assert_eq!(
        location(&signed),
        "/admin/clients",
        "returns to the page asked for"
    );
    let (status, html) = page(&app, &b, "/admin/clients").await;
    assert_eq!(status, 200);
    assert!(html.contains("New client"));
    // The page carries the security headers, and nothing may cache it.
    let resp = app.get(&b, "/admin").await;
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert!(resp.headers().contains_key("content-security-policy"));
    assert_eq!(resp.headers()["x-frame-options"], "DENY");
    // The account page links admins to the console, and nobody else.
    assert!(
        page(&app, &b, "/account")
            .await
            .1
            .contains("href=\"/admin\"")
    );

    // A signed-in non-admin gets 403 on every page, and no link.
    app.create_user("bob").await;
    let bob = browser();
    app.submit_login(&bob, "/login", "bob", PASSWORD).await;
    for path in [
        "/admin",
        "/admin/clients",
        "/admin/users",
        "/admin/keys",
        "/admin/audit",
    ] {
        let (status, html) = page(&app, &bob, path).await;
        assert_eq!(status, 403, "{path}");
        assert!(html.contains("Administrators only"), "{html}");
    }
    assert!(
        !page(&app, &bob, "/account")
            .await
            .1
            .contains("href=\"/admin\"")
    );
    let refused = post(&app, &bob, "/admin/keys/rotate", &[("csrf", "x")]).await;
    assert_eq!(refused.status(), 403);
    // A return-to that leaves the console is never followed.
    let stray = browser();
    app.get(&stray, "/admin//evil.example").await;
    let signed = app.submit_login(&stray, "/login", "root", PASSWORD).await;
    assert_eq!(location(&signed), "/account");
}

async fn changes_need_a_recent_sign_in(app: TestApp) {
    let (_, b) = signed_in_admin(&app, "root").await;
    let csrf = csrf_of(&app, &b, "/admin/keys").await;
    // 16 minutes later, viewing is fine but a change asks for the password again.
    app.clock.advance(16 * 60);
    assert_eq!(page(&app, &b, "/admin/keys").await.0, 200);
    let resp = post(&app, &b, "/admin/keys/rotate", &[("csrf", &csrf)]).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/login");
    let (_, login) = page(&app, &b, "/login").await;
    assert!(
        login.contains("to continue to the admin console"),
        "{login}"
    );
    assert!(
        login.contains("value=\"root\""),
        "the admin's username is filled in"
    );
    let again = app.submit_login(&b, "/login", "root", PASSWORD).await;
    assert_eq!(location(&again), "/admin/keys");
    let before = app.keys.infos().len();
    let csrf = csrf_of(&app, &b, "/admin/keys").await;
    let done = post(&app, &b, "/admin/keys/rotate", &[("csrf", &csrf)]).await;
    assert_eq!(location(&done), "/admin/keys?done=rotate");
    assert!(app.keys.infos().len() > before, "a new key was published");
    // A form without this session's CSRF token changes nothing.
    let forged = post(&app, &b, "/admin/keys/rotate", &[("csrf", "forged")]).await;
    assert_eq!(forged.status(), 403);
}

async fn the_client_wizard_edit_rotate_and_delete(app: TestApp) {
    let (admin, b) = signed_in_admin(&app, "root").await;
    let (_, choose) = page(&app, &b, "/admin/clients/new").await;
    for kind in [
        "Web app",
        "Single-page app",
        "Native app",
        "Machine-to-machine",
    ] {
        assert!(choose.contains(kind), "{kind}");
    }
    let csrf = csrf_of(&app, &b, "/admin/clients/new?type=web").await;
    // A bad redirect URI is shown on the form, and nothing is created.
    let bad = post(
        &app,
        &b,
        "/admin/clients/new",
        &[
            ("csrf", &csrf),
            ("type", "web"),
            ("name", "Wiki"),
            ("redirect_uris", "http://wiki.example.com/cb"),
        ],
    )
    .await;
    assert_eq!(bad.status(), 400);
    let html = bad.text().await.unwrap();
    assert!(html.contains("must use https"), "{html}");
    assert!(html.contains("aria-invalid=\"true\""));
    assert!(app.store.list_clients().await.unwrap().is_empty());
    let created = post(
        &app,
        &b,
        "/admin/clients/new",
        &[
            ("csrf", &csrf),
            ("type", "web"),
            ("name", "Wiki"),
            ("redirect_uris", REDIRECT_URI),
            ("scope", "openid profile email offline_access"),
        ],
    )
    .await;
    assert_eq!(created.status(), 200);
    assert_eq!(created.headers()["cache-control"], "no-store");
    let html = created.text().await.unwrap();
    let id = value_of(&html, "client-id");
    let secret = value_of(&html, "client-secret");
    assert_eq!(secret.len(), 43, "{html}");
    let stored = app.store.find_client(&id).await.unwrap().unwrap();
    assert!(!stored.is_public() && !stored.pkce_optional);
    assert_eq!(
        stored.grant_types,
        [GrantType::AuthorizationCode, GrantType::RefreshToken]
    );
    // The relying party signs a person in with it.
    app.create_user("alice").await;
    let client = TestClient {
        id: id.clone(),
        secret: Some(secret.clone()),
    };
    let person = browser();
    let (code, verifier) = app
        .get_code(&person, &client, "openid email", "alice")
        .await;
    assert_eq!(app.exchange(&client, &code, &verifier).await.status(), 200);
    // The redirect URI that brought the code back is recorded, for the posture panel.
    let uses = app.store.redirect_uses(&id).await.unwrap();
    assert_eq!(uses, [(REDIRECT_URI.to_owned(), app.clock.now())]);
    // The secret is not on the client's page, and a fresh web app has no posture findings.
    let path = format!("/admin/clients/{id}");
    let (_, detail) = page(&app, &b, &path).await;
    assert!(!detail.contains(&secret));
    assert!(detail.contains("No findings"), "{detail}");

    // An edit from a page opened before someone else's change is refused, not merged.
    let csrf = hidden(&detail, "csrf");
    let revision = hidden(&detail, "revision");
    let edit = |name: &'static str, revision: String| {
        let (app, b, csrf, path) = (&app, &b, csrf.clone(), path.clone());
        async move {
            post(
                app,
                b,
                &path,
                &[
                    ("csrf", &csrf),
                    ("name", name),
                    ("redirect_uris", REDIRECT_URI),
                    ("revision", &revision),
                ],
            )
            .await
        }
    };
    let saved = edit("Team wiki", revision.clone()).await;
    assert_eq!(location(&saved), format!("{path}?saved=1"));
    let stale = edit("Lost edit", revision).await;
    assert_eq!(stale.status(), 400);
    assert!(
        stale
            .text()
            .await
            .unwrap()
            .contains("Someone changed this client")
    );
    assert_eq!(
        app.store.find_client(&id).await.unwrap().unwrap().name,
        "Team wiki"
    );
    // The PAR box holds the client to pushed requests (RFC 9126 §6).
    let (_, detail) = page(&app, &b, &path).await;
    let revision = hidden(&detail, "revision");
    let held = post(
        &app,
        &b,
        &path,
        &[
            ("csrf", &csrf),
            ("name", "Team wiki"),
            ("redirect_uris", REDIRECT_URI),
            ("require_par", "on"),
            (
                "backchannel_logout_uri",
                "https://wiki.example.com/backchannel",
            ),
            ("revision", &revision),
        ],
    )
    .await;
    assert_eq!(held.status(), 303);
    let stored = app.store.find_client(&id).await.unwrap().unwrap();
    assert!(stored.require_par);
    assert_eq!(
        stored.backchannel_logout_uri.as_deref(),
        Some("https://wiki.example.com/backchannel")
    );
    let (_, detail) = page(&app, &b, &path).await;
    assert!(detail.contains(r#"id="require_par" name="require_par" type="checkbox" checked"#));
    assert!(detail.contains(r#"value="https://wiki.example.com/backchannel""#));

    // Rotation shows the new secret once; the old one stops working.
    let rotated = post(
        &app,
        &b,
        &format!("{path}/rotate-secret"),
        &[("csrf", &csrf)],
    )
    .await;
    let html = rotated.text().await.unwrap();
    let new_secret = value_of(&html, "client-secret");
    assert_ne!(new_secret, secret);
    let old = app
        .token(&client, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(old.status(), 401);

    // Deletion asks first.
    let (_, confirm) = page(&app, &b, &format!("{path}/delete")).await;
    assert!(confirm.contains("Delete Team wiki?") && confirm.contains("cannot be undone"));
    let deleted = post(&app, &b, &format!("{path}/delete"), &[("csrf", &csrf)]).await;
    assert_eq!(location(&deleted), "/admin/clients");
    assert!(app.store.find_client(&id).await.unwrap().is_none());
    // The audit log page shows each change, by this admin.
    let (_, log) = page(&app, &b, &format!("/admin/audit?target=client:{id}")).await;
    for e in [
        "client.created",
        "client.changed",
        "client.secret_rotated",
        "client.deleted",
    ] {
        assert!(log.contains(e), "{e}");
    }
    assert!(log.contains(&format!("user:{}", admin.id)));
}

async fn public_and_machine_clients_get_their_defaults(app: TestApp) {
    let (_, b) = signed_in_admin(&app, "root").await;
    let csrf = csrf_of(&app, &b, "/admin/clients/new?type=spa").await;
    let spa = post(
        &app,
        &b,
        "/admin/clients/new",
        &[
            ("csrf", &csrf),
            ("type", "native"),
            ("name", "Desktop"),
            ("redirect_uris", "http://127.0.0.1/callback"),
        ],
    )
    .await;
    let html = spa.text().await.unwrap();
    assert!(html.contains("has no secret"), "{html}");
    let id = value_of(&html, "client-id");
    let native = app.store.find_client(&id).await.unwrap().unwrap();
    assert!(native.is_public() && native.requires_pkce());
    // Its page's posture panel flags the 30-day refresh tokens of a public client.
    let (_, detail) = page(&app, &b, &format!("/admin/clients/{id}")).await;
    assert!(detail.contains("refresh tokens live 30 days"), "{detail}");
    assert!(detail.contains("a week or less"));
    let machine = post(
        &app,
        &b,
        "/admin/clients/new",
        &[
            ("csrf", &csrf),
            ("type", "machine"),
            ("name", "Billing"),
            ("scope", "invoices:write"),
        ],
    )
    .await;
    let html = machine.text().await.unwrap();
    let id = value_of(&html, "client-id");
    let m = app.store.find_client(&id).await.unwrap().unwrap();
    assert_eq!(m.grant_types, [GrantType::ClientCredentials]);
    assert!(!m.is_public() && m.redirect_uris.is_empty());
    let secret = value_of(&html, "client-secret");
    let tc = TestClient {
        id,
        secret: Some(secret),
    };
    let token = app
        .token(&tc, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(token.status(), 200);
    // Search finds them by name.
    let (_, list) = page(&app, &b, "/admin/clients?q=bill").await;
    assert!(list.contains("Billing") && !list.contains("Desktop"));
}

async fn users_and_keys_from_the_console(app: TestApp) {
    let (_, b) = signed_in_admin(&app, "root").await;
    let csrf = csrf_of(&app, &b, "/admin/users").await;
    let short = post(
        &app,
        &b,
        "/admin/users/new",
        &[
            ("csrf", &csrf),
            ("username", "carol"),
            ("password", "short"),
        ],
    )
    .await;
    assert_eq!(short.status(), 400);
    assert!(short.text().await.unwrap().contains("at least 12"));
    let created = post(
        &app,
        &b,
        "/admin/users/new",
        &[
            ("csrf", &csrf),
            ("username", "carol"),
            ("email", "carol@example.com"),
            ("password", PASSWORD),
        ],
    )
    .await;
    let path = location(&created);
    assert!(path.starts_with("/admin/users/"), "{path}");
    let carol = browser();
    assert_eq!(
        app.submit_login(&carol, "/login", "carol", PASSWORD)
            .await
            .status(),
        303
    );
    let (_, html) = page(&app, &b, &path).await;
    assert!(html.contains("carol@example.com"));
    let act = |action: &'static str| {
        let (app, b, csrf, path) = (&app, &b, csrf.clone(), path.clone());
        async move {
            post(
                app,
                b,
                &format!("{path}/action"),
                &[("csrf", &csrf), ("action", action)],
            )
            .await
        }
    };
    let done = act("disable").await;
    assert_eq!(location(&done), format!("{path}?done=disable"));
    assert_eq!(
        app.get(&carol, "/account").await.status(),
        303,
        "signed out"
    );
    assert_eq!(
        app.submit_login(&carol, "/login", "carol", PASSWORD)
            .await
            .status(),
        401
    );
    act("enable").await;
    assert_eq!(
        app.submit_login(&carol, "/login", "carol", PASSWORD)
            .await
            .status(),
        303
    );
    act("grant-admin").await;
    assert!(page(&app, &b, &path).await.1.contains("Remove admin role"));
    // Deleting takes the confirmation box.
    let unconfirmed = act("delete").await;
    assert_eq!(unconfirmed.status(), 400);
    let deleted = post(
        &app,
        &b,
        &format!("{path}/action"),
        &[("csrf", &csrf), ("action", "delete"), ("confirm", "on")],
    )
    .await;
    assert_eq!(location(&deleted), "/admin/users");
    // The last administrator cannot take their own role away.
    let root = app
        .store
        .find_user_credentials("root")
        .await
        .unwrap()
        .unwrap()
        .0;
    let me = format!("/admin/users/{}/action", root.id);
    let last = post(
        &app,
        &b,
        &me,
        &[("csrf", &csrf), ("action", "revoke-admin")],
    )
    .await;
    assert_eq!(last.status(), 400);
    assert!(last.text().await.unwrap().contains("last administrator"));

    // Keys: a compromised key is revoked only with the box ticked.
    let kid = app.keys.infos()[0].kid.clone();
    let (_, keys) = page(&app, &b, "/admin/keys").await;
    assert!(keys.contains(&kid));
    let unticked = post(
        &app,
        &b,
        &format!("/admin/keys/{kid}/revoke"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(unticked.status(), 400);
    let revoked = post(
        &app,
        &b,
        &format!("/admin/keys/{kid}/revoke"),
        &[("csrf", &csrf), ("confirm", "on")],
    )
    .await;
    assert_eq!(location(&revoked), "/admin/keys?done=revoke");
    assert!(!app.keys.infos().iter().any(|k| k.kid == kid));
    // The dashboard counts and shows the latest events.
    let (_, dash) = page(&app, &b, "/admin").await;
    assert!(
        dash.contains("key.revoked") && dash.contains("user.deleted"),
        "{dash}"
    );
}

/// The playground: one click adds the console's callback and runs a real code flow as the
/// admin; the page shows the ID token, access token and userinfo; another click removes it.
async fn the_playground_shows_what_a_client_gets(app: TestApp) {
    let (admin, b) = signed_in_admin(&app, "root").await;
    let client = app.create_client().await;
    let path = format!("/admin/clients/{}", client.id);
    let csrf = csrf_of(&app, &b, &path).await;
    let start = post(&app, &b, &format!("{path}/playground"), &[("csrf", &csrf)]).await;
    assert_eq!(start.status(), 303);
    let to = location(&start);
    assert!(to.starts_with("/authorize?"), "{to}");
    let callback = app.url("/admin/playground/callback");
    assert!(
        app.store
            .find_client(&client.id)
            .await
            .unwrap()
            .unwrap()
            .redirect_uris
            .contains(&callback)
    );
    // The flow runs as it would for the app: the admin consents, and comes back.
    let mut resp = app.get(&b, &to).await;
    for _ in 0..5 {
        if resp.status() != 303 {
            break;
        }
        let loc = location(&resp);
        if loc.starts_with("/consent") {
            resp = app.submit_consent(&b, &loc, "allow").await;
        } else {
            resp = app.get(&b, &loc).await;
        }
    }
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("ID token") && html.contains("Userinfo"),
        "{html}"
    );
    assert!(html.contains(&admin.id), "the tokens name the admin");
    assert!(
        html.contains("&quot;typ&quot;: &quot;at+jwt&quot;") || html.contains("at+jwt"),
        "{html}"
    );
    assert!(
        html.contains("someone@example.com"),
        "userinfo with the email scope"
    );
    // A callback nobody started is refused, and redeems nothing.
    let (status, _) = page(&app, &b, "/admin/playground/callback?code=x&state=y").await;
    assert_eq!(status, 400);
    let done = post(
        &app,
        &b,
        &format!("{path}/playground/remove"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(location(&done), format!("{path}?saved=1"));
    let c = app.store.find_client(&client.id).await.unwrap().unwrap();
    assert_eq!(c.redirect_uris, [REDIRECT_URI]);
}

async fn apis_roles_and_groups_from_the_console(app: TestApp) {
    let (_, b) = signed_in_admin(&app, "root").await;
    let alice = app.create_user("alice").await;
    let csrf = csrf_of(&app, &b, "/admin/access").await;
    let act = |path: &'static str, form: Vec<(&'static str, String)>| {
        let mut form = form;
        form.push(("csrf", csrf.clone()));
        let b = b.clone();
        let url = app.url(path);
        async move { b.post(url).form(&form).send().await.unwrap() }
    };
    let s = |v: &str| v.to_owned();
    let resp = act(
        "/admin/access/new",
        vec![
            ("action", s("create-api")),
            ("identifier", s("https://tasks.example")),
            ("name", s("Tasks")),
        ],
    )
    .await;
    assert_eq!(location(&resp), "/admin/access?done=api");
    let api = app
        .store
        .find_api("https://tasks.example")
        .await
        .unwrap()
        .unwrap();
    let api_path: &'static str = Box::leak(format!("/admin/access/{}", api.id).into_boxed_str());
    let resp = act(
        api_path,
        vec![
            ("action", s("add-scope")),
            ("scope", s("tasks:write")),
            ("words", s("Create and edit your tasks")),
        ],
    )
    .await;
    assert_eq!(resp.status(), 303);
    // A reserved name is refused on the page, and nothing changes.
    let resp = act(
        api_path,
        vec![
            ("action", s("add-scope")),
            ("scope", s("openid")),
            ("words", s("x")),
        ],
    )
    .await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("reserved"));
    assert_eq!(
        app.store
            .find_api(&api.id)
            .await
            .unwrap()
            .unwrap()
            .scopes
            .len(),
        1
    );
    let resp = act(
        "/admin/access/new",
        vec![
            ("action", s("create-role")),
            ("name", s("editor")),
            ("list", s("tasks:write")),
        ],
    )
    .await;
    assert_eq!(location(&resp), "/admin/access?done=role");
    let resp = act(
        "/admin/access/new",
        vec![
            ("action", s("create-group")),
            ("name", s("team-a")),
            ("list", s("editor")),
        ],
    )
    .await;
    assert_eq!(resp.status(), 303);
    let group = app.store.find_group("team-a").await.unwrap().unwrap();
    let group_path: &'static str =
        Box::leak(format!("/admin/access/{}", group.id).into_boxed_str());
    let resp = act(
        group_path,
        vec![("action", s("add-member")), ("username", s("alice"))],
    )
    .await;
    assert_eq!(location(&resp), "/admin/access?done=member");
    let (_, html) = page(&app, &b, "/admin/access").await;
    for shown in [
        "Tasks",
        "https://tasks.example",
        "Create and edit your tasks",
        "editor",
        "team-a",
        ">alice</a>",
    ] {
        assert!(html.contains(shown), "{shown}");
    }
    // The user's page shows what they hold and gives a role by name.
    let user_path = format!("/admin/users/{}", alice.id);
    let (_, html) = page(&app, &b, &user_path).await;
    assert!(html.contains("<code>tasks:write</code>"), "{html}");
    let action = format!("{user_path}/action");
    let resp = post(
        &app,
        &b,
        &action,
        &[("csrf", &csrf), ("action", "add-role"), ("role", "nope")],
    )
    .await;
    assert_eq!(resp.status(), 400);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("There is no role nope.")
    );
    let resp = post(
        &app,
        &b,
        &action,
        &[
            ("csrf", &csrf),
            ("action", "leave-group"),
            ("group", "team-a"),
        ],
    )
    .await;
    assert_eq!(resp.status(), 303);
    assert!(
        app.store
            .user_access(&alice.id)
            .await
            .unwrap()
            .roles
            .is_empty()
    );
    // Deleting needs the box ticked.
    let resp = act(api_path, vec![("action", s("delete-api"))]).await;
    assert_eq!(resp.status(), 400);
    let resp = act(
        api_path,
        vec![("action", s("delete-api")), ("confirm", s("on"))],
    )
    .await;
    assert_eq!(location(&resp), "/admin/access?done=deleted");
    assert!(app.store.find_api(&api.id).await.unwrap().is_none());
    assert!(
        app.store
            .find_role("editor")
            .await
            .unwrap()
            .unwrap()
            .scopes
            .is_empty()
    );
}

crate::backend_tests!(
    apis_roles_and_groups_from_the_console,
    the_playground_shows_what_a_client_gets,
    only_admins_get_in,
    changes_need_a_recent_sign_in,
    the_client_wizard_edit_rotate_and_delete,
    public_and_machine_clients_get_their_defaults,
    users_and_keys_from_the_console,
);

/// The issue's end-to-end check in headless Chromium: an admin signs in, creates a web app with
/// the wizard, copies the secret, and a relying party signs in through that client; a stale
/// session is asked again before a change; a non-admin gets 403. Screenshots of the main pages
/// land in `target/console-screenshots/`.
#[tokio::test]
async fn an_admin_in_a_browser_registers_an_app() {
    use std::io::{BufRead, Write};
    if !browser_available() {
        return;
    }
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let root = app.create_user("root").await;
    app.store.set_user_admin(&root.id, true).await.unwrap();
    app.create_user("bob").await;
    let redirect = "http://127.0.0.1:9/callback";
    let shots = concat!(env!("CARGO_MANIFEST_DIR"), "/target/console-screenshots");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser_console.py");
    let mut child = std::process::Command::new("python3")
        .args([
            script,
            &app.issuer,
            "root",
            PASSWORD,
            "bob",
            shots,
            redirect,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    // Lines are read off the runtime, which keeps serving the browser meanwhile.
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut last = None;
    while let Some(line) = lines.recv().await {
        if let Some(json) = line.strip_prefix("CODE ") {
            let got: serde_json::Value = serde_json::from_str(json).unwrap();
            // The code the browser brought back, exchanged with the secret copied from the page.
            let landed = got["landed"].as_str().unwrap();
            assert!(landed.starts_with(redirect), "{landed}");
            let q = query_of(landed);
            assert_eq!(param(&q, "state").as_deref(), Some("s1"));
            let client = TestClient {
                id: got["client_id"].as_str().unwrap().to_owned(),
                secret: Some(got["secret"].as_str().unwrap().to_owned()),
            };
            let resp = app
                .token(
                    &client,
                    &[
                        ("grant_type", "authorization_code"),
                        ("code", &param(&q, "code").unwrap()),
                        ("redirect_uri", redirect),
                        ("code_verifier", got["verifier"].as_str().unwrap()),
                    ],
                )
                .await;
            assert_eq!(resp.status(), 200);
            let tokens: serde_json::Value = resp.json().await.unwrap();
            assert_eq!(
                jwt_claims(tokens["id_token"].as_str().unwrap())["sub"],
                root.id
            );
            writeln!(stdin, "go").unwrap();
        } else if line == "ADVANCE" {
            app.clock.advance(16 * 60);
            writeln!(stdin, "go").unwrap();
        } else if line.starts_with('{') {
            last = Some(line);
        }
    }
    let out = child.wait_with_output().unwrap();
    let line = last.unwrap_or_else(|| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    let got: serde_json::Value = serde_json::from_str(&line).unwrap();
    let client = TestClient {
        id: got["client_id"].as_str().unwrap().to_owned(),
        secret: Some(got["secret"].as_str().unwrap().to_owned()),
    };
    // After signing in again, the rotation went through: the copied secret no longer works.
    assert_ne!(got["rotated"], got["secret"]);
    let old = app
        .token(&client, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(old.status(), 401);
    assert!(
        got["non_admin_title"]
            .as_str()
            .unwrap()
            .contains("Administrators only")
    );
    for page in [
        "dashboard",
        "wizard",
        "new-web-app",
        "secret",
        "users",
        "keys",
        "audit",
        "client",
        "confirm",
        "denied",
    ] {
        assert!(
            std::path::Path::new(&format!("{shots}/console-{page}.png")).exists(),
            "{page}"
        );
    }
}

/// `GATEHOUSE_CLIENTS_FILE` is applied before the server listens; a file that cannot be
/// applied stops the start with a clear message.
#[tokio::test]
async fn a_clients_file_is_applied_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clients.toml");
    let secret_file = dir.path().join("machine.secret");
    std::fs::write(&secret_file, "machine-secret-0123456789abcdef\n").unwrap();
    std::fs::write(
        &file,
        format!(
            "[[client]]\nclient_id = \"machine\"\nclient_name = \"Machine\"\n\
             client_secret_file = \"{}\"\ngrant_types = [\"client_credentials\"]\nscope = \"jobs:run\"\n",
            secret_file.display()
        ),
    )
    .unwrap();
    let path = file.clone();
    let app = TestApp::spawn_with(Backend::Sqlite, move |c| c.clients_file = Some(path))
        .await
        .unwrap();
    let machine = TestClient {
        id: "machine".into(),
        secret: Some("machine-secret-0123456789abcdef".into()),
    };
    let resp = app
        .token(&machine, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        app.store
            .find_client("machine")
            .await
            .unwrap()
            .unwrap()
            .managed_by
            .as_deref(),
        Some("clients-file")
    );

    std::fs::write(
        &file,
        "[[client]]\nclient_id = \"x\"\nclient_name = \"X\"\nnonsense = true\n",
    )
    .unwrap();
    let mut config = app.config.clone();
    config.clients_file = Some(file);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = gatehouse::startup::App::build_with_listener(config, app.clock.clone(), listener)
        .await
        .err()
        .unwrap();
    assert!(format!("{err:#}").contains("nonsense"), "{err:#}");
}
