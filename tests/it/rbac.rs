//! APIs, roles and groups: the API scopes a person's token carries (RFC 8707, RFC 9068 §2.2.3.1).
use crate::helpers::*;
use gatehouse::admin::Actor;
use gatehouse::admin::access::{self, ListChanges, NewApi};
use gatehouse::crypto::random_token;
use gatehouse::domain::{ApiScope, GrantType};
use gatehouse::oauth::pkce::s256_challenge;

const TASKS: &str = "https://tasks.example";
const NOTES: &str = "https://notes.example";

fn scope(name: &str, description: &str) -> ApiScope {
    ApiScope {
        name: name.into(),
        description: description.into(),
    }
}

/// Two APIs; roles editor (tasks read+write), reader (tasks read) and note-taker (notes read);
/// group team-a holds editor. alice is in team-a, bob holds reader directly, carol nothing.
async fn setup(app: &TestApp) {
    let now = app.clock.now();
    let s = &app.store;
    access::create_api(
        s,
        now,
        Actor::CLI,
        NewApi {
            identifier: TASKS,
            name: "Tasks",
            scopes: vec![
                scope("tasks:read", "Read your tasks"),
                scope("tasks:write", "Create and edit your tasks"),
            ],
        },
    )
    .await
    .unwrap();
    access::create_api(
        s,
        now,
        Actor::CLI,
        NewApi {
            identifier: NOTES,
            name: "Notes",
            scopes: vec![scope("notes:read", "Read your notes")],
        },
    )
    .await
    .unwrap();
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    for (role, scopes) in [
        ("editor", &["tasks:read", "tasks:write"][..]),
        ("reader", &["tasks:read"][..]),
        ("note-taker", &["notes:read"][..]),
    ] {
        access::create_role(s, now, Actor::CLI, role, "", &strings(scopes))
            .await
            .unwrap();
    }
    access::create_group(
        s,
        now,
        Actor::CLI,
        "team-a",
        "",
        &strings(&["editor", "note-taker"]),
    )
    .await
    .unwrap();
    let alice = app.create_user("alice").await;
    let bob = app.create_user("bob").await;
    app.create_user("carol").await;
    access::set_group_member(s, Actor::CLI, "team-a", &alice.id, true)
        .await
        .unwrap();
    access::set_user_role(s, Actor::CLI, &bob.id, "reader", true)
        .await
        .unwrap();
}

async fn api_client(app: &TestApp, audiences: &[&str]) -> TestClient {
    app.create_client_custom(false, |c| {
        c.audiences = audiences.iter().map(|s| s.to_string()).collect();
        c.grant_types = vec![GrantType::AuthorizationCode, GrantType::RefreshToken];
    })
    .await
}

fn authorize_params<'a>(
    client: &'a TestClient,
    scope: &'a str,
    challenge: &'a str,
    resources: &[&'a str],
) -> Vec<(&'a str, &'a str)> {
    let mut p = vec![
        ("response_type", "code"),
        ("client_id", client.id.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("scope", scope),
        ("state", "st"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ];
    p.extend(resources.iter().map(|r| ("resource", *r)));
    p
}

/// Signs `username` in for `scope` (and `resources`) and redeems the code.
async fn tokens(
    app: &TestApp,
    client: &TestClient,
    username: &str,
    scope: &str,
    resources: &[&str],
) -> serde_json::Value {
    let verifier = random_token();
    let challenge = s256_challenge(&verifier);
    let q = app
        .sign_in(
            &browser(),
            &authorize_params(client, scope, &challenge, resources),
            username,
        )
        .await;
    let code = param(&q, "code").unwrap_or_else(|| panic!("no code: {q:?}"));
    let resp = app.exchange(client, &code, &verifier).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

fn access_claims(t: &serde_json::Value) -> serde_json::Value {
    jwt_claims(t["access_token"].as_str().unwrap())
}

fn aud(claims: &serde_json::Value) -> Vec<String> {
    match &claims["aud"] {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_owned()).collect(),
        other => panic!("aud {other}"),
    }
}

async fn granted_scopes_follow_roles(app: TestApp) {
    setup(&app).await;
    let client = api_client(&app, &[TASKS]).await;
    let asked = "openid tasks:read tasks:write";
    // Through a group.
    let t = tokens(&app, &client, "alice", asked, &[]).await;
    assert_eq!(t["scope"], asked);
    let at = access_claims(&t);
    assert_eq!(at["scope"], asked);
    assert_eq!(aud(&at), [TASKS, app.issuer.as_str()]);
    assert_eq!(
        at["roles"],
        serde_json::json!(["editor"]),
        "roles of this API only"
    );
    assert!(
        at.get("groups").is_none(),
        "groups only for the groups scope"
    );
    // Directly.
    let t = tokens(&app, &client, "bob", asked, &[]).await;
    assert_eq!(
        t["scope"], "openid tasks:read",
        "RFC 6749 §3.3: what was not granted is dropped"
    );
    assert_eq!(access_claims(&t)["roles"], serde_json::json!(["reader"]));
    // No role: no token the API accepts, even though the client lists it as an audience.
    let t = tokens(&app, &client, "carol", asked, &[]).await;
    assert_eq!(t["scope"], "openid");
    let at = access_claims(&t);
    assert_eq!(aud(&at), [app.issuer.as_str()]);
    assert!(at.get("roles").is_none());
    let t = tokens(&app, &client, "carol", "openid", &[TASKS]).await;
    assert_eq!(
        aud(&access_claims(&t)),
        [app.issuer.as_str()],
        "naming it is not enough"
    );
    // A client without the API on its audience list gets none of it.
    let other = api_client(&app, &["https://elsewhere.example"]).await;
    let t = tokens(&app, &other, "alice", asked, &[]).await;
    assert_eq!(t["scope"], "openid");
    assert_eq!(
        aud(&access_claims(&t)),
        ["https://elsewhere.example", app.issuer.as_str()]
    );
}

/// The authorization error a request ends with (RFC 6749 §4.1.2.1).
async fn authorize_error(
    app: &TestApp,
    client: &TestClient,
    scope: &str,
    resources: &[&str],
) -> String {
    let challenge = s256_challenge(&random_token());
    let resp = app
        .authorize(
            &browser(),
            &authorize_params(client, scope, &challenge, resources),
        )
        .await;
    assert_eq!(resp.status(), 303);
    let q = query_of(&location(&resp));
    assert!(param(&q, "code").is_none());
    param(&q, "error").unwrap_or_else(|| panic!("no error: {q:?}"))
}

async fn two_apis_and_forbidden_resources_are_refused(app: TestApp) {
    setup(&app).await;
    let client = api_client(&app, &[TASKS]).await;
    assert_eq!(
        authorize_error(&app, &client, "openid tasks:read notes:read", &[]).await,
        "invalid_scope"
    );
    assert_eq!(
        authorize_error(&app, &client, "openid tasks:read notes:read", &[TASKS]).await,
        "invalid_scope",
        "a scope outside the named resource"
    );
    for resource in [
        NOTES,
        "https://unknown.example",
        "not a uri",
        "https://tasks.example/#x",
    ] {
        assert_eq!(
            authorize_error(&app, &client, "openid", &[resource]).await,
            "invalid_target",
            "{resource}"
        );
    }
    // Both APIs named, by a client that may use both: one grant covers them (RFC 8707 §2.1).
    let both = api_client(&app, &[TASKS, NOTES]).await;
    let t = tokens(
        &app,
        &both,
        "alice",
        "openid tasks:read notes:read",
        &[TASKS, NOTES],
    )
    .await;
    assert_eq!(
        t["scope"], "openid tasks:read",
        "the first resource's token"
    );
}

async fn consent_lists_api_scopes_in_their_words(app: TestApp) {
    setup(&app).await;
    let client = api_client(&app, &[TASKS]).await;
    let challenge = s256_challenge(&random_token());
    let params = authorize_params(&client, "openid tasks:read tasks:write", &challenge, &[]);
    for (user, shown, hidden) in [
        (
            "alice",
            &["Tasks", "Read your tasks", "Create and edit your tasks"][..],
            &[][..],
        ),
        (
            "bob",
            &["Read your tasks"][..],
            &["Create and edit your tasks"][..],
        ),
    ] {
        let b = browser();
        let resp = app.authorize(&b, &params).await;
        let login = location(&resp);
        let resp = app.submit_login(&b, &login, user, PASSWORD).await;
        let consent = location(&resp);
        assert!(consent.starts_with("/consent"), "{consent}");
        let html = app.get(&b, &consent).await.text().await.unwrap();
        for s in shown {
            assert!(html.contains(s), "{user}: {s} shown");
        }
        for s in hidden {
            assert!(
                !html.contains(s),
                "{user}: {s} not shown: the role lacks it"
            );
        }
        let done = app.submit_consent(&b, &consent, "allow").await;
        assert!(location(&done).starts_with(REDIRECT_URI));
        // Remembered consent covers the API scopes: the next request goes straight back.
        let again = app.authorize(&b, &params).await;
        let back = location(&again);
        assert!(back.starts_with(REDIRECT_URI), "{user}: {back}");
        assert!(param(&query_of(&back), "code").is_some());
    }
}

async fn refresh(
    app: &TestApp,
    client: &TestClient,
    token: &str,
    resource: Option<&str>,
) -> reqwest::Response {
    let extra: Vec<(&str, &str)> = resource.map(|r| ("resource", r)).into_iter().collect();
    app.refresh(client, token, &extra).await
}

async fn refresh_reaches_another_covered_api(app: TestApp) {
    setup(&app).await;
    let client = api_client(&app, &[TASKS, NOTES]).await;
    let t = tokens(
        &app,
        &client,
        "alice",
        "openid tasks:write notes:read",
        &[TASKS, NOTES],
    )
    .await;
    assert_eq!(aud(&access_claims(&t))[0], TASKS);
    let rt = t["refresh_token"].as_str().unwrap();
    // RFC 8707 §2.2: a token for the other API of the grant.
    let resp = refresh(&app, &client, rt, Some(NOTES)).await;
    assert_eq!(resp.status(), 200);
    let notes: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(notes["scope"], "openid notes:read");
    let at = access_claims(&notes);
    assert_eq!(aud(&at), [NOTES, app.issuer.as_str()]);
    assert_eq!(at["roles"], serde_json::json!(["note-taker"]));
    // An API the grant does not cover.
    let rt = notes["refresh_token"].as_str().unwrap();
    let resp = refresh(&app, &client, rt, Some("https://unknown.example")).await;
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_target");
    // The refusal changed nothing: the same refresh token still works, for the default API.
    let resp = refresh(&app, &client, rt, None).await;
    assert_eq!(resp.status(), 200);
    let tasks: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(tasks["scope"], "openid tasks:write");
}

async fn code_exchange_may_name_the_resource(app: TestApp) {
    setup(&app).await;
    let client = api_client(&app, &[TASKS, NOTES]).await;
    let verifier = random_token();
    let challenge = s256_challenge(&verifier);
    let q = app
        .sign_in(
            &browser(),
            &authorize_params(
                &client,
                "openid tasks:read notes:read",
                &challenge,
                &[TASKS, NOTES],
            ),
            "alice",
        )
        .await;
    let code = param(&q, "code").unwrap();
    let resp = app
        .token(
            &client,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", &verifier),
                ("resource", NOTES),
            ],
        )
        .await;
    assert_eq!(resp.status(), 200);
    let t: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(t["scope"], "openid notes:read");
    assert_eq!(aud(&access_claims(&t))[0], NOTES);
}

async fn a_resource_the_code_does_not_cover_leaves_the_code_usable(app: TestApp) {
    setup(&app).await;
    let client = api_client(&app, &[TASKS, NOTES]).await;
    let verifier = random_token();
    let challenge = s256_challenge(&verifier);
    let q = app
        .sign_in(
            &browser(),
            &authorize_params(&client, "openid tasks:read", &challenge, &[]),
            "alice",
        )
        .await;
    let code = param(&q, "code").unwrap();
    let with = |resource: &'static str| {
        let (code, verifier) = (code.clone(), verifier.clone());
        let (app, client) = (&app, &client);
        async move {
            app.token(
                client,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", REDIRECT_URI),
                    ("code_verifier", &verifier),
                    ("resource", resource),
                ],
            )
            .await
        }
    };
    let resp = with(NOTES).await;
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_target");
    let resp = with(TASKS).await;
    assert_eq!(resp.status(), 200, "the refusal did not spend the code");
}

async fn a_client_that_loses_the_api_loses_its_scopes(app: TestApp) {
    setup(&app).await;
    let client = api_client(&app, &[TASKS]).await;
    let t = tokens(&app, &client, "alice", "openid tasks:read", &[]).await;
    assert_eq!(t["scope"], "openid tasks:read");
    let mut stored = app.store.find_client(&client.id).await.unwrap().unwrap();
    stored.audiences = vec![NOTES.into()];
    app.store.update_client(&mut stored).await.unwrap();
    let resp = refresh(&app, &client, t["refresh_token"].as_str().unwrap(), None).await;
    assert_eq!(resp.status(), 200);
    let next: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        next["scope"], "openid",
        "the client's permissions are read at every token"
    );
    assert_eq!(aud(&access_claims(&next)), [app.issuer.as_str()]);
}

async fn a_removed_role_is_gone_from_the_next_token(app: TestApp) {
    setup(&app).await;
    let client = api_client(&app, &[TASKS]).await;
    let t = tokens(&app, &client, "alice", "openid tasks:read tasks:write", &[]).await;
    assert_eq!(t["scope"], "openid tasks:read tasks:write");
    // team-a no longer holds editor; alice gets reader directly.
    access::update_group(
        &app.store,
        Actor::CLI,
        "team-a",
        ListChanges {
            remove: vec!["editor".into()],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let alice = app
        .store
        .find_user_credentials("alice")
        .await
        .unwrap()
        .unwrap()
        .0;
    access::set_user_role(&app.store, Actor::CLI, &alice.id, "reader", true)
        .await
        .unwrap();
    let resp = refresh(&app, &client, t["refresh_token"].as_str().unwrap(), None).await;
    assert_eq!(resp.status(), 200);
    let next: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        next["scope"], "openid tasks:read",
        "the refresh reads the roles anew"
    );
    assert_eq!(access_claims(&next)["roles"], serde_json::json!(["reader"]));
    let fresh = tokens(&app, &client, "alice", "openid tasks:read tasks:write", &[]).await;
    assert_eq!(fresh["scope"], "openid tasks:read");
    // A role deleted outright.
    access::delete_role(&app.store, Actor::CLI, "reader")
        .await
        .unwrap();
    let fresh = tokens(&app, &client, "alice", "openid tasks:read", &[]).await;
    assert_eq!(fresh["scope"], "openid");
}

async fn groups_claim_for_the_groups_scope(app: TestApp) {
    setup(&app).await;
    let d = app.discovery().await;
    for list in ["scopes_supported", "claims_supported"] {
        assert!(
            d[list].as_array().unwrap().iter().any(|v| v == "groups"),
            "{list}"
        );
    }
    let client = api_client(&app, &[TASKS]).await;
    let t = tokens(&app, &client, "alice", "openid groups tasks:read", &[]).await;
    assert_eq!(t["scope"], "openid groups tasks:read");
    let team = serde_json::json!(["team-a"]);
    assert_eq!(access_claims(&t)["groups"], team);
    assert_eq!(jwt_claims(t["id_token"].as_str().unwrap())["groups"], team);
    let info: serde_json::Value = app
        .userinfo(t["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["groups"], team);
    // Without a group, an empty list.
    let t = tokens(&app, &client, "carol", "openid groups", &[]).await;
    assert_eq!(
        jwt_claims(t["id_token"].as_str().unwrap())["groups"],
        serde_json::json!([])
    );
    // Not asked for: no claim.
    let t = tokens(&app, &client, "alice", "openid", &[]).await;
    assert!(
        jwt_claims(t["id_token"].as_str().unwrap())
            .get("groups")
            .is_none()
    );
}

async fn client_credentials_draws_on_the_apis(app: TestApp) {
    setup(&app).await;
    let client = app
        .create_client_custom(false, |c| {
            c.grant_types = vec![GrantType::ClientCredentials];
            c.allowed_scopes = Some(vec![
                "tasks:read".into(),
                "notes:read".into(),
                "legacy:scope".into(),
            ]);
        })
        .await;
    let cc = |form: Vec<(&'static str, &'static str)>| {
        let mut f = vec![("grant_type", "client_credentials")];
        f.extend(form);
        let client = client.clone();
        let app = &app;
        async move { app.token(&client, &f).await }
    };
    let resp = cc(vec![("scope", "tasks:read")]).await;
    assert_eq!(resp.status(), 200);
    let t: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(aud(&access_claims(&t)), [TASKS], "the API owning the scope");
    let resp = cc(vec![("resource", NOTES)]).await;
    let t: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(t["scope"], "notes:read", "what it registered of that API");
    assert_eq!(aud(&access_claims(&t)), [NOTES]);
    for (form, error) in [
        (vec![("scope", "tasks:read notes:read")], "invalid_scope"),
        (
            vec![("scope", "tasks:read"), ("resource", NOTES)],
            "invalid_scope",
        ),
        (
            vec![("resource", "https://unknown.example")],
            "invalid_target",
        ),
        (vec![("scope", "tasks:write")], "invalid_scope"),
    ] {
        let resp = cc(form.clone()).await;
        assert_eq!(resp.status(), 400, "{form:?}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["error"], error, "{form:?}");
    }
    // Without scope or resource: everything registered, as before APIs existed.
    let resp = cc(vec![]).await;
    let t: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(t["scope"], "tasks:read notes:read legacy:scope");
    assert_eq!(aud(&access_claims(&t)), [app.issuer.as_str()]);
    // A scope no API defines keeps the audience rules from before APIs.
    let resp = cc(vec![("scope", "legacy:scope")]).await;
    let t: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(aud(&access_claims(&t)), [app.issuer.as_str()]);
}

crate::backend_tests!(
    granted_scopes_follow_roles,
    two_apis_and_forbidden_resources_are_refused,
    consent_lists_api_scopes_in_their_words,
    refresh_reaches_another_covered_api,
    code_exchange_may_name_the_resource,
    a_removed_role_is_gone_from_the_next_token,
    a_resource_the_code_does_not_cover_leaves_the_code_usable,
    a_client_that_loses_the_api_loses_its_scopes,
    groups_claim_for_the_groups_scope,
    client_credentials_draws_on_the_apis,
);

/// Stops the resource server when the test ends, however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A real FastAPI app, written as the tutorials teach, enforces the scopes of our tokens.
#[tokio::test]
async fn fastapi_resource_server_enforces_api_scopes() {
    if !python_has(
        "fastapi, uvicorn, jwt",
        "GATEHOUSE_REQUIRE_FASTAPI",
        "FastAPI, uvicorn and PyJWT",
    ) {
        return;
    }
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    setup(&app).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _server = Child(
        std::process::Command::new("python3")
            .args([
                concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fastapi_tasks.py"),
                &app.url("/jwks.json"),
                &app.issuer,
                TASKS,
                &port.to_string(),
            ])
            .spawn()
            .unwrap(),
    );
    let api = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..100 {
        if app.http.get(format!("{api}/health")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "the FastAPI app did not start");
    let client = api_client(&app, &[TASKS, NOTES]).await;
    let call = |method: reqwest::Method, token: String| {
        let req = app
            .http
            .request(method, format!("{api}/tasks"))
            .bearer_auth(token);
        async move { req.send().await.unwrap() }
    };
    let token = |t: &serde_json::Value| t["access_token"].as_str().unwrap().to_owned();
    // The editor role, through team-a.
    let editor = tokens(&app, &client, "alice", "openid tasks:read tasks:write", &[]).await;
    let resp = call(reqwest::Method::POST, token(&editor)).await;
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["created"], true);
    // Read-only: reading works, writing is 403 naming the scope (RFC 6750 §3.1).
    let reader = tokens(&app, &client, "bob", "openid tasks:read tasks:write", &[]).await;
    assert_eq!(
        call(reqwest::Method::GET, token(&reader)).await.status(),
        200
    );
    let resp = call(reqwest::Method::POST, token(&reader)).await;
    assert_eq!(resp.status(), 403);
    let challenge = resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.contains("scope=\"tasks:write\""), "{challenge}");
    // A token for another API is not this API's: 401.
    let notes = tokens(&app, &client, "alice", "openid notes:read", &[NOTES]).await;
    assert_eq!(
        call(reqwest::Method::GET, token(&notes)).await.status(),
        401
    );
}
