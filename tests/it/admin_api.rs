//! The admin REST API: Bearer tokens with the `gatehouse:admin` scope, RFC 9457 problems,
//! ETags with If-Match, secrets shown once, pagination, and an audit event for each change.
use crate::helpers::*;
use gatehouse::domain::GrantType;
use serde_json::{Value, json};

const API: &str = "/admin/api/v1";

/// A machine client allowed the admin scope, and a token it got at the token endpoint.
pub(crate) async fn admin_token(app: &TestApp) -> (TestClient, String) {
    let automation = app
        .create_client_custom(false, |c| {
            c.grant_types = vec![GrantType::ClientCredentials];
            c.redirect_uris.clear();
            c.allowed_scopes = Some(vec!["gatehouse:admin".into()]);
        })
        .await;
    let token = token_for(app, &automation, "gatehouse:admin").await;
    (automation, token)
}

async fn token_for(app: &TestApp, client: &TestClient, scope: &str) -> String {
    let body: Value = app
        .token(
            client,
            &[("grant_type", "client_credentials"), ("scope", scope)],
        )
        .await
        .json()
        .await
        .unwrap();
    body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

struct Api<'a> {
    app: &'a TestApp,
    token: String,
}

impl Api<'_> {
    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.app
            .http
            .request(method, self.app.url(&format!("{API}{path}")))
            .bearer_auth(&self.token)
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.req(reqwest::Method::GET, path).send().await.unwrap()
    }

    async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.req(reqwest::Method::POST, path)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn patch(&self, path: &str, etag: Option<&str>, body: Value) -> reqwest::Response {
        let mut r = self.req(reqwest::Method::PATCH, path).json(&body);
        if let Some(e) = etag {
            r = r.header("If-Match", e);
        }
        r.send().await.unwrap()
    }
}

fn etag_of(resp: &reqwest::Response) -> String {
    resp.headers()["etag"].to_str().unwrap().to_owned()
}

async fn problem(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    assert_eq!(
        resp.headers()["content-type"],
        "application/problem+json",
        "status {status}"
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], status, "{body}");
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    (status, body)
}

async fn refused_without_an_admin_token(app: TestApp) {
    let url = app.url(&format!("{API}/clients"));
    // No token: the bare RFC 6750 challenge.
    let none = app.http.get(&url).send().await.unwrap();
    assert_eq!(
        none.headers()["www-authenticate"],
        r#"Bearer realm="gatehouse-admin""#
    );
    let (status, body) = problem(none).await;
    assert_eq!(status, 401);
    assert!(
        body.get("error").is_none(),
        "RFC 6750 §3.1: no error code without a token"
    );
    // A token that is not ours.
    let forged = app
        .http
        .get(&url)
        .bearer_auth("e30.e30.sig")
        .send()
        .await
        .unwrap();
    let challenge = forged.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    assert_eq!(problem(forged).await.1["error"], "invalid_token");
    // The token may not travel in the query string.
    let (_, token) = admin_token(&app).await;
    let in_query = app
        .http
        .get(format!("{url}?access_token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(in_query.status(), 401);
    // A valid token without the admin scope: 403 insufficient_scope, and an audit event.
    let machine = app
        .create_client_custom(false, |c| {
            c.grant_types = vec![GrantType::ClientCredentials];
            c.redirect_uris.clear();
            c.allowed_scopes = Some(vec!["orders:read".into()]);
        })
        .await;
    let plain = token_for(&app, &machine, "orders:read").await;
    let denied = app.http.get(&url).bearer_auth(&plain).send().await.unwrap();
    let challenge = denied.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains(r#"error="insufficient_scope""#)
            && challenge.contains(r#"scope="gatehouse:admin""#),
        "{challenge}"
    );
    let (status, body) = problem(denied).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
    // A person's access token from the code flow has no admin scope either.
    app.create_user("alice").await;
    let web = app.create_client().await;
    let browser = browser();
    let user_token = app.access_token(&web, &browser).await;
    let user_denied = app
        .http
        .get(&url)
        .bearer_auth(&user_token)
        .send()
        .await
        .unwrap();
    assert_eq!(user_denied.status(), 403);
    // An admin token works, until it expires.
    let ok = app.http.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["cache-control"], "no-store");
    app.clock.advance(app.config.access_token_ttl + 1);
    let expired = app.http.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(problem(expired).await.0, 401);
    // The denial was recorded, naming the client that tried.
    let (_, fresh) = admin_token(&app).await;
    let api = Api {
        app: &app,
        token: fresh,
    };
    let events: Value = api
        .get(&format!(
            "/audit-events?event=admin.denied&actor=client:{}",
            machine.id
        ))
        .await
        .json()
        .await
        .unwrap();
    let items = events["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{events}");
    assert_eq!(items[0]["outcome"], "failure");
}

async fn a_client_from_creation_to_deletion(app: TestApp) {
    let (automation, token) = admin_token(&app).await;
    let api = Api { app: &app, token };
    let secret = "provisioned-secret-0123456789abcdef";
    let created = api
        .post(
            "/clients",
            json!({
                "client_id": "billing-worker",
                "client_secret": secret,
                "client_name": "Billing worker",
                "grant_types": ["client_credentials"],
                "scope": "invoices:write",
                "audiences": ["https://billing.example.com"],
            }),
        )
        .await;
    assert_eq!(created.status(), 201);
    assert_eq!(
        created.headers()["location"],
        format!("{API}/clients/billing-worker").as_str()
    );
    let first_etag = etag_of(&created);
    let body: Value = created.json().await.unwrap();
    assert_eq!(body["client_secret"], secret);
    assert_eq!(body["client_secret_expires_at"], 0);
    assert_eq!(body["token_endpoint_auth_method"], "client_secret_basic");
    // The chosen secret works at the token endpoint...
    let worker = TestClient {
        id: "billing-worker".into(),
        secret: Some(secret.into()),
    };
    let t = token_for(&app, &worker, "invoices:write").await;
    assert_eq!(jwt_claims(&t)["aud"], "https://billing.example.com");
    // Its use is recorded, for the posture panel's unused clients.
    let used = app
        .store
        .find_client_fresh("billing-worker")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(used.last_used_at, Some(app.clock.now()));
    // ...and is never shown again.
    let read = api.get("/clients/billing-worker").await;
    assert_eq!(etag_of(&read), first_etag);
    let text = read.text().await.unwrap();
    assert!(
        !text.contains(secret) && !text.contains("client_secret\""),
        "{text}"
    );

    // Changes need If-Match: none is 428, a stale one 412, the current one goes through.
    let change = json!({ "client_name": "Billing worker (EU)" });
    let (status, _) = problem(
        api.patch("/clients/billing-worker", None, change.clone())
            .await,
    )
    .await;
    assert_eq!(status, 428);
    let updated = api
        .patch("/clients/billing-worker", Some(&first_etag), change)
        .await;
    assert_eq!(updated.status(), 200);
    let second_etag = etag_of(&updated);
    assert_ne!(second_etag, first_etag);
    assert_eq!(
        updated.json::<Value>().await.unwrap()["client_name"],
        "Billing worker (EU)"
    );
    // A second admin still holding the first ETag cannot overwrite that change.
    let lost = api
        .patch(
            "/clients/billing-worker",
            Some(&first_etag),
            json!({ "client_name": "Lost update" }),
        )
        .await;
    assert_eq!(problem(lost).await.0, 412);
    let now: Value = api
        .get("/clients/billing-worker")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(now["client_name"], "Billing worker (EU)");

    // Rotation: the new secret is shown once, the old one stops working.
    let rotated = api
        .req(
            reqwest::Method::POST,
            "/clients/billing-worker/rotate-secret",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.status(), 200);
    let third_etag = etag_of(&rotated);
    let new_secret = rotated.json::<Value>().await.unwrap()["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(new_secret.len() >= 43);
    let old = app
        .token(&worker, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(old.status(), 401);
    let renewed = TestClient {
        id: worker.id.clone(),
        secret: Some(new_secret.clone()),
    };
    token_for(&app, &renewed, "invoices:write").await;
    // A taken id is a conflict.
    let taken = api
        .post(
            "/clients",
            json!({ "client_id": "billing-worker", "client_name": "Again", "grant_types": ["client_credentials"] }),
        )
        .await;
    assert_eq!(problem(taken).await.0, 409);

    // Deletion needs the current ETag too.
    let stale_delete = api
        .req(reqwest::Method::DELETE, "/clients/billing-worker")
        .header("If-Match", &second_etag)
        .send()
        .await
        .unwrap();
    assert_eq!(stale_delete.status(), 412);
    let deleted = api
        .req(reqwest::Method::DELETE, "/clients/billing-worker")
        .header("If-Match", &third_etag)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        problem(api.get("/clients/billing-worker").await).await.0,
        404
    );
    let gone = app
        .token(&renewed, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(gone.status(), 401);

    // Each change is in the audit log, newest first, naming the admin client and its
    // address, and no secret appears anywhere in it.
    let log: Value = api
        .get("/audit-events?target=client:billing-worker")
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "client.deleted",
            "client.secret_rotated",
            "client.changed",
            "client.created"
        ]
    );
    for e in log["items"].as_array().unwrap() {
        assert_eq!(e["actor"], format!("client:{}", automation.id));
        assert_eq!(e["address"], "127.0.0.1");
        assert_eq!(e["outcome"], "success");
    }
    let all = api
        .get("/audit-events?limit=200")
        .await
        .text()
        .await
        .unwrap();
    assert!(!all.contains(secret) && !all.contains(&new_secret));
}

async fn each_bad_member_gets_its_own_error(app: TestApp) {
    let (_, token) = admin_token(&app).await;
    let api = Api { app: &app, token };
    let base = || {
        json!({
            "client_name": "Web app",
            "redirect_uris": ["https://app.example.com/cb"],
        })
    };
    let with = |k: &str, v: Value| {
        let mut b = base();
        b[k] = v;
        b
    };
    let cases = [
        (
            with("redirect_uris", json!(["http://app.example.com/cb"])),
            "invalid_redirect_uri",
            "redirect_uris",
        ),
        (
            with("redirect_uris", json!(["https://app.example.com/cb#frag"])),
            "invalid_redirect_uri",
            "redirect_uris",
        ),
        (
            with("redirect_uris", json!([])),
            "invalid_redirect_uri",
            "redirect_uris",
        ),
        (
            with("post_logout_redirect_uris", json!(["javascript:alert(1)"])),
            "invalid_client_metadata",
            "post_logout_redirect_uris",
        ),
        (
            with("grant_types", json!(["implicit"])),
            "invalid_client_metadata",
            "grant_types",
        ),
        (
            with("response_types", json!(["token"])),
            "invalid_client_metadata",
            "response_types",
        ),
        (
            with("token_endpoint_auth_method", json!("client_secret_jwt")),
            "invalid_client_metadata",
            "token_endpoint_auth_method",
        ),
        (
            with("client_name", json!("   ")),
            "invalid_client_metadata",
            "client_name",
        ),
        (
            with("client_id", json!("has space")),
            "invalid_client_metadata",
            "client_id",
        ),
        (
            with("client_secret", json!("short")),
            "invalid_client_metadata",
            "client_secret",
        ),
        (
            with("audiences", json!(["not a uri"])),
            "invalid_client_metadata",
            "audiences",
        ),
        (
            with("allowed_origins", json!(["https://app.example.com/path"])),
            "invalid_client_metadata",
            "allowed_origins",
        ),
        (
            with("scope", json!("caf\u{e9}")),
            "invalid_client_metadata",
            "scope",
        ),
        (
            with("refresh_token_ttl", json!(-1)),
            "invalid_client_metadata",
            "refresh_token_ttl",
        ),
        (
            with("id_token_signed_response_alg", json!("HS256")),
            "invalid_client_metadata",
            "id_token_signed_response_alg",
        ),
        (
            {
                let mut b = with("token_endpoint_auth_method", json!("none"));
                b["pkce_required"] = json!(false);
                b
            },
            "invalid_client_metadata",
            "pkce",
        ),
        (
            {
                let mut b = with("token_endpoint_auth_method", json!("none"));
                b["grant_types"] = json!(["client_credentials"]);
                b
            },
            "invalid_client_metadata",
            "grant_types",
        ),
    ];
    for (body, error, field) in cases {
        let (status, p) = problem(api.post("/clients", body.clone()).await).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(p["error"], error, "{body} → {p}");
        assert_eq!(p["field"], field, "{body} → {p}");
    }
    // Unknown members, bad JSON and the wrong media type are refused too.
    let (status, p) = problem(api.post("/clients", with("colour", json!("blue"))).await).await;
    assert_eq!(
        (status, p["error"].as_str()),
        (400, Some("invalid_request"))
    );
    assert!(p["detail"].as_str().unwrap().contains("colour"), "{p}");
    let text = api
        .req(reqwest::Method::POST, "/clients")
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(problem(text).await.0, 415);
    // Nothing was registered by any of them.
    let list: Value = api.get("/clients").await.json().await.unwrap();
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 1, "only the admin client: {ids:?}");
    // A client registered as a public SPA gets no secret and keeps PKCE.
    let spa = api
        .post(
            "/clients",
            with("token_endpoint_auth_method", json!("none")),
        )
        .await;
    assert_eq!(spa.status(), 201);
    let spa: Value = spa.json().await.unwrap();
    assert!(spa.get("client_secret").is_none(), "{spa}");
    assert_eq!(spa["pkce_required"], true);
    // A change may not turn it into something else.
    let id = spa["client_id"].as_str().unwrap();
    let read = api.get(&format!("/clients/{id}")).await;
    let tag = etag_of(&read);
    let (status, p) = problem(
        api.patch(
            &format!("/clients/{id}"),
            Some(&tag),
            json!({ "token_endpoint_auth_method": "client_secret_basic" }),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, p["field"].as_str()),
        (400, Some("token_endpoint_auth_method"))
    );
    let (status, _) = problem(
        api.req(
            reqwest::Method::POST,
            &format!("/clients/{id}/rotate-secret"),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 409);
}

async fn client_lists_are_paged_and_searched(app: TestApp) {
    let (_, token) = admin_token(&app).await;
    let api = Api { app: &app, token };
    for i in 0..7 {
        let name = if i % 2 == 0 {
            format!("Shop {i}")
        } else {
            format!("Intranet {i}")
        };
        let r = api
            .post(
                "/clients",
                json!({ "client_id": format!("app-{i}"), "client_name": name,
                        "redirect_uris": ["https://app.example.com/cb"] }),
            )
            .await;
        assert_eq!(r.status(), 201);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/clients?q=app-&limit=3&cursor={c}"),
            None => "/clients?q=app-&limit=3".to_owned(),
        };
        let page: Value = api.get(&path).await.json().await.unwrap();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 3);
        seen.extend(
            items
                .iter()
                .map(|c| c["client_id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let expected: Vec<String> = (0..7).map(|i| format!("app-{i}")).collect();
    assert_eq!(seen, expected);
    // The search matches names too, ignoring case, and `%` is a literal.
    let shops: Value = api.get("/clients?q=SHOP").await.json().await.unwrap();
    assert_eq!(shops["items"].as_array().unwrap().len(), 4);
    let literal: Value = api.get("/clients?q=%25").await.json().await.unwrap();
    assert_eq!(literal["items"].as_array().unwrap().len(), 0);
    let (status, p) = problem(api.get("/clients?limit=0").await).await;
    assert_eq!((status, p["field"].as_str()), (400, Some("limit")));
    let (status, p) = problem(api.get("/clients?limit=many").await).await;
    assert_eq!(
        (status, p["error"].as_str()),
        (400, Some("invalid_request"))
    );
}

async fn signing_keys_from_the_api(app: TestApp) {
    let (automation, token) = admin_token(&app).await;
    let api = Api { app: &app, token };
    let list: Value = api.get("/keys").await.json().await.unwrap();
    let current = |list: &Value, alg: &str| {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["alg"] == alg && k["state"] == "current")
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .unwrap()
    };
    let old = current(&list, "ES256");
    assert!(list["rotation_period"].as_i64().unwrap() > 0);
    let rotated: Value = api
        .post("/keys/rotate", json!({ "alg": "ES256", "immediate": true }))
        .await
        .json()
        .await
        .unwrap();
    let new = current(&rotated, "ES256");
    assert_ne!(new, old);
    let (status, p) = problem(api.post("/keys/rotate", json!({ "alg": "HS256" })).await).await;
    assert_eq!((status, p["field"].as_str()), (400, Some("alg")));
    let revoked = api
        .req(reqwest::Method::POST, &format!("/keys/{old}/revoke"))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    let jwks = app.get_json(&app.url("/jwks.json")).await;
    assert!(!jwks.to_string().contains(&old));
    assert_eq!(
        problem(
            api.req(reqwest::Method::POST, "/keys/nope/revoke")
                .send()
                .await
                .unwrap()
        )
        .await
        .0,
        404
    );
    let log: Value = api
        .get(&format!("/audit-events?target=key:{old}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(log["items"][0]["event"], "key.revoked");
    assert_eq!(
        log["items"][0]["actor"],
        format!("client:{}", automation.id)
    );
}

async fn audit_events_are_filtered_and_paged(app: TestApp) {
    let (_, token) = admin_token(&app).await;
    let api = Api { app: &app, token };
    // Failed sign-ins from a browser, then the log read back by event and time.
    let browser = browser();
    app.create_user("alice").await;
    for _ in 0..3 {
        let failed = app
            .submit_login(&browser, "/login", "alice", "wrong password")
            .await;
        assert_eq!(failed.status(), 401);
    }
    let since = app.clock.now();
    let page: Value = api
        .get(&format!(
            "/audit-events?event=login.failed&since={since}&limit=2"
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["items"][0]["outcome"], "failure");
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest: Value = api
        .get(&format!(
            "/audit-events?event=login.failed&limit=2&cursor={cursor}"
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert!(rest.get("next_cursor").is_none());
    assert!(rest["items"][0]["id"].as_str() < page["items"][1]["id"].as_str());
    let future: Value = api
        .get(&format!("/audit-events?since={}", since + 10))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(future["items"].as_array().unwrap().len(), 0);
    let (status, p) = problem(api.get("/audit-events?event=nonsense").await).await;
    assert_eq!((status, p["field"].as_str()), (400, Some("event")));
    // Older than the retention period, they are swept.
    let swept = app.store.delete_old_audit(since + 1).await.unwrap();
    assert!(swept >= 3);
    let after: Value = api
        .get("/audit-events?event=login.failed")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after["items"].as_array().unwrap().len(), 0);
}

async fn a_user_from_creation_to_deletion(app: TestApp) {
    let (automation, token) = admin_token(&app).await;
    let api = Api { app: &app, token };
    let actor = format!("client:{}", automation.id);
    let good = json!({ "username": "dana", "password": "a long enough password", "email": "dana@example.com" });
    for (k, v, field) in [
        ("username", json!("has space"), "username"),
        ("password", json!("short"), "password"),
        ("email", json!("not-an-address"), "email"),
    ] {
        let mut body = good.clone();
        body[k] = v;
        let (status, p) = problem(api.post("/users", body).await).await;
        assert_eq!((status, p["field"].as_str()), (400, Some(field)), "{p}");
    }
    let created = api.post("/users", good.clone()).await;
    assert_eq!(created.status(), 201);
    let user: Value = created.json().await.unwrap();
    let id = user["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (user["admin"].as_bool(), user["disabled"].as_bool()),
        (Some(false), Some(false))
    );
    assert!(!user.to_string().contains("a long enough password"));
    assert_eq!(problem(api.post("/users", good).await).await.0, 409);
    let path = format!("/users/{id}");

    // She signs in; the admin sees the session and can end it.
    let browser = browser();
    let login = |password: &'static str| {
        let (app, browser) = (&app, &browser);
        async move {
            app.submit_login(browser, "/login", "dana", password)
                .await
                .status()
        }
    };
    assert_eq!(login("a long enough password").await, 303);
    let sessions: Value = api
        .get(&format!("{path}/sessions"))
        .await
        .json()
        .await
        .unwrap();
    let items = sessions["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{sessions}");
    let sid = items[0]["id"].as_str().unwrap().to_owned();
    let ended = api
        .req(reqwest::Method::DELETE, &format!("{path}/sessions/{sid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), 204);
    let sessions: Value = api
        .get(&format!("{path}/sessions"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sessions["items"].as_array().unwrap().len(), 0);
    let again = api
        .req(reqwest::Method::DELETE, &format!("{path}/sessions/{sid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);

    // Profile changes need the current ETag.
    let read = api.get(&path).await;
    let tag = etag_of(&read);
    let change = json!({ "name": "Dana Scully", "profile": { "given_name": "Dana", "address.locality": "Annapolis" } });
    assert_eq!(
        problem(api.patch(&path, None, change.clone()).await)
            .await
            .0,
        428
    );
    let patched = api.patch(&path, Some(&tag), change.clone()).await;
    assert_eq!(patched.status(), 200);
    let body: Value = patched.json().await.unwrap();
    assert_eq!(body["name"], "Dana Scully");
    assert_eq!(body["profile"]["given_name"], "Dana");
    assert_eq!(body["profile"]["address"]["locality"], "Annapolis");
    assert_eq!(
        problem(api.patch(&path, Some(&tag), change).await).await.0,
        412
    );
    let tag = etag_of(&api.get(&path).await);
    let (status, p) = problem(
        api.patch(
            &path,
            Some(&tag),
            json!({ "profile": { "shoe_size": "9" } }),
        )
        .await,
    )
    .await;
    assert_eq!((status, p["field"].as_str()), (400, Some("profile")));
    let (status, p) = problem(
        api.patch(
            &path,
            Some(&tag),
            json!({ "profile": { "birthdate": "yesterday" } }),
        )
        .await,
    )
    .await;
    assert_eq!((status, p["field"].as_str()), (400, Some("profile")));

    // Disabled, she cannot sign in; enabled again, she can.
    assert_eq!(
        api.post(&format!("{path}/disable"), json!({}))
            .await
            .status(),
        200
    );
    assert_eq!(login("a long enough password").await, 401);
    let enabled: Value = api
        .post(&format!("{path}/enable"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(enabled["disabled"], false);
    assert_eq!(login("a long enough password").await, 303);

    // A new password ends her sessions; the old one stops working.
    let (status, p) = problem(
        api.post(&format!("{path}/password"), json!({ "password": "short" }))
            .await,
    )
    .await;
    assert_eq!((status, p["field"].as_str()), (400, Some("password")));
    let set: Value = api
        .post(
            &format!("{path}/password"),
            json!({ "password": "another long password" }),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(set["sessions_ended"], 1);
    assert_eq!(login("a long enough password").await, 401);
    assert_eq!(login("another long password").await, 303);
    assert_eq!(
        api.req(reqwest::Method::POST, &format!("{path}/unlock"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let reset: Value = api
        .req(reqwest::Method::POST, &format!("{path}/mfa/reset"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reset["sessions_ended"], 1);
    let all_ended: Value = api
        .req(reqwest::Method::DELETE, &format!("{path}/sessions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all_ended["sessions_ended"], 0);

    // The admin role, and the last administrator.
    let grant = api
        .req(reqwest::Method::PUT, &format!("{path}/admin"))
        .send()
        .await
        .unwrap();
    assert_eq!(grant.status(), 204);
    assert_eq!(
        api.get(&path).await.json::<Value>().await.unwrap()["admin"],
        true
    );
    let revoke = api
        .req(reqwest::Method::DELETE, &format!("{path}/admin"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(revoke).await.0,
        409,
        "dana is the only administrator"
    );
    let tag = etag_of(&api.get(&path).await);
    let refused = api
        .req(reqwest::Method::DELETE, &path)
        .header("If-Match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(problem(refused).await.0, 409);
    app.create_user("erin").await;
    let erin = app
        .store
        .find_user_credentials("erin")
        .await
        .unwrap()
        .unwrap()
        .0;
    app.store.set_user_admin(&erin.id, true).await.unwrap();
    let revoke = api
        .req(reqwest::Method::DELETE, &format!("{path}/admin"))
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 204);

    // Search, then deletion with the ETag.
    let found: Value = api.get("/users?q=SCULLY").await.json().await.unwrap();
    assert_eq!(found["items"][0]["username"], "dana");
    let tag = etag_of(&api.get(&path).await);
    let deleted = api
        .req(reqwest::Method::DELETE, &path)
        .header("If-Match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(problem(api.get(&path).await).await.0, 404);
    assert_eq!(login("another long password").await, 401);

    let log: Value = api
        .get(&format!("/audit-events?target=user:{id}&limit=200"))
        .await
        .json()
        .await
        .unwrap();
    let mut names: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] == actor.as_str())
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    names.reverse();
    assert_eq!(
        names,
        [
            "user.created",
            "user.sessions_revoked",
            "user.changed",
            "user.disabled",
            "user.enabled",
            "user.password_changed",
            "user.unlocked",
            "mfa.reset",
            "user.sessions_revoked",
            "user.admin_granted",
            "user.admin_revoked",
            "user.deleted"
        ]
    );
    assert!(!log.to_string().contains("long password"));
}

async fn consents_and_grants_per_user_and_client(app: TestApp) {
    let (_, token) = admin_token(&app).await;
    let api = Api { app: &app, token };
    let alice = app.create_user("alice").await;
    let client = app
        .create_client_custom(false, |c| c.grant_types.push(GrantType::RefreshToken))
        .await;
    let b = browser();
    let (code, verifier) = app
        .get_code(&b, &client, "openid offline_access", "alice")
        .await;
    let tokens: Value = app
        .exchange(&client, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    let by_user: Value = api
        .get(&format!("/users/{}/consents", alice.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_user["items"][0]["client_id"], client.id.as_str());
    assert_eq!(by_user["items"][0]["name"], "Example App");
    let by_client: Value = api
        .get(&format!("/clients/{}/consents", client.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_client["items"][0]["user_id"], alice.id.as_str());
    assert_eq!(by_client["items"][0]["name"], "alice");
    let grants: Value = api
        .get(&format!("/users/{}/grants", alice.id))
        .await
        .json()
        .await
        .unwrap();
    let items = grants["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{grants}");
    assert_eq!(items[0]["scope"], "openid offline_access");
    let gid = items[0]["id"].as_str().unwrap().to_owned();
    let same: Value = api
        .get(&format!("/clients/{}/grants", client.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(same["items"][0]["id"], gid.as_str());
    assert_eq!(problem(api.get("/clients/nope/grants").await).await.0, 404);
    assert_eq!(problem(api.get("/users/nope/consents").await).await.0, 404);

    // Revoking the grant stops its refresh token and its access token.
    let revoked = api
        .req(reqwest::Method::DELETE, &format!("/grants/{gid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    let refused = app
        .token(
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(refused.status(), 400);
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(app.userinfo(access).await.status(), 401);
    let twice = api
        .req(reqwest::Method::DELETE, &format!("/grants/{gid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(twice).await.0, 404);

    // Withdrawing the consent asks her again next time.
    let path = format!("/users/{}/consents/{}", alice.id, client.id);
    assert_eq!(
        api.req(reqwest::Method::DELETE, &path)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        problem(
            api.req(reqwest::Method::DELETE, &path)
                .send()
                .await
                .unwrap()
        )
        .await
        .0,
        404
    );
    let none: Value = api
        .get(&format!("/users/{}/consents", alice.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["items"].as_array().unwrap().len(), 0);
    let log: Value = api
        .get(&format!(
            "/audit-events?event=grant.revoked&target=grant:{gid}"
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(log["items"].as_array().unwrap().len(), 1);
}

/// APIs, roles and groups are resources of the admin API, with the rules of the CLI.
async fn apis_roles_and_groups_from_the_api(app: TestApp) {
    let (_, token) = admin_token(&app).await;
    let api = Api { app: &app, token };
    let alice = app.create_user("alice").await;
    let resp = api
        .post(
            "/apis",
            json!({"identifier": "https://tasks.example", "name": "Tasks",
                   "scopes": [{"name": "tasks:read", "description": "Read your tasks"},
                              {"name": "tasks:write", "description": "Create and edit your tasks"}]}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = resp.json().await.unwrap();
    let api_id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("{API}/apis/{api_id}"));
    assert_eq!(created["scopes"].as_array().unwrap().len(), 2);
    // Each bad input is refused with its member named, and nothing is stored.
    for (body, field) in [
        (json!({"identifier": "tasks", "name": "T"}), "identifier"),
        (
            json!({"identifier": "https://b.example", "name": "B",
                "scopes": [{"name": "openid", "description": "x"}]}),
            "scopes",
        ),
        (
            json!({"identifier": "https://b.example", "name": "B",
                "scopes": [{"name": "b:read", "description": ""}]}),
            "scopes",
        ),
    ] {
        let (status, p) = problem(api.post("/apis", body).await).await;
        assert_eq!((status, p["field"].as_str()), (400, Some(field)), "{p}");
    }
    let (status, _) = problem(
        api.post(
            "/apis",
            json!({"identifier": "https://other.example", "name": "Other",
                   "scopes": [{"name": "tasks:read", "description": "Mine too"}]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 409, "a scope name belongs to one API");
    let (status, _) = problem(
        api.post(
            "/apis",
            json!({"identifier": "https://tasks.example", "name": "Again"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 409);
    let listed: Value = api.get("/apis").await.json().await.unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);

    let (status, p) = problem(
        api.post(
            "/roles",
            json!({"name": "editor", "scopes": ["tasks:delete"]}),
        )
        .await,
    )
    .await;
    assert_eq!((status, p["field"].as_str()), (400, Some("scopes")), "{p}");
    let resp = api
        .post(
            "/roles",
            json!({"name": "editor", "scopes": ["tasks:read", "tasks:write"]}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let role: Value = resp.json().await.unwrap();
    let role_id = role["id"].as_str().unwrap().to_owned();
    let resp = api
        .post("/groups", json!({"name": "team-a", "roles": ["editor"]}))
        .await;
    assert_eq!(resp.status(), 201);
    let group: Value = resp.json().await.unwrap();
    let group_id = group["id"].as_str().unwrap().to_owned();
    assert_eq!(group["roles"], json!(["editor"]));
    let put = |path: String| api.req(reqwest::Method::PUT, &path).send();
    let resp = put(format!("/groups/{group_id}/members/{}", alice.id))
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let members: Value = api
        .get(&format!("/groups/{group_id}/members"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(members["items"][0]["username"], "alice");
    let resp = put(format!("/users/{}/roles/editor", alice.id))
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let held: Value = api
        .get(&format!("/users/{}/access", alice.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(held["groups"], json!(["team-a"]));
    assert_eq!(held["scopes"], json!(["tasks:read", "tasks:write"]));
    assert_eq!(held["roles"][0]["direct"], true);
    assert_eq!(held["roles"][0]["via"], json!(["team-a"]));
    let resp = put(format!("/users/{}/roles/no-such-role", alice.id))
        .await
        .unwrap();
    assert_eq!(problem(resp).await.0, 404);

    // Removing a scope from the API takes it from the role.
    let resp = api
        .patch(
            &format!("/apis/{api_id}"),
            None,
            json!({"scopes": [{"name": "tasks:read", "description": "See your tasks"}]}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let role: Value = api
        .get(&format!("/roles/{role_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(role["scopes"], json!(["tasks:read"]));
    let resp = api
        .patch(
            &format!("/roles/{role_id}"),
            None,
            json!({"description": "Edits tasks"}),
        )
        .await;
    let role: Value = resp.json().await.unwrap();
    assert_eq!(role["description"], "Edits tasks");
    let resp = api
        .patch(&format!("/groups/{group_id}"), None, json!({"roles": []}))
        .await;
    let group: Value = resp.json().await.unwrap();
    assert_eq!(group["roles"], json!([]));

    for path in [
        format!("/groups/{group_id}"),
        format!("/roles/{role_id}"),
        format!("/apis/{api_id}"),
    ] {
        let resp = api
            .req(reqwest::Method::DELETE, &path)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 204, "{path}");
        assert_eq!(problem(api.get(&path).await).await.0, 404, "{path}");
    }
    let held: Value = api
        .get(&format!("/users/{}/access", alice.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(held, json!({"roles": [], "groups": [], "scopes": []}));
    // Each change was one audit event.
    let log: Value = api
        .get("/audit-events?event=user.role_added")
        .await
        .json()
        .await
        .unwrap();
    let items = log["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(
        items[0]["target"],
        format!("user:{}/role:{role_id}", alice.id)
    );
}

crate::backend_tests!(
    apis_roles_and_groups_from_the_api,
    a_user_from_creation_to_deletion,
    consents_and_grants_per_user_and_client,
    refused_without_an_admin_token,
    a_client_from_creation_to_deletion,
    each_bad_member_gets_its_own_error,
    client_lists_are_paged_and_searched,
    signing_keys_from_the_api,
    audit_events_are_filtered_and_paged,
);

/// The OpenAPI document is valid OpenAPI 3.1 (checked by openapi-spec-validator) and lists
/// every route the API serves.
#[tokio::test]
async fn openapi_document_is_valid_and_complete() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    // The API is built on its first request; an unknown path below it is a problem document.
    let unknown = app
        .http
        .get(app.url("/admin/api/v1/no-such-thing"))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(unknown).await.0, 404);
    let doc: Value = app.get_json(&app.url("/admin/api/openapi.json")).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let mut routes: Vec<String> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            routes.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    routes.sort();
    let expected = [
        "DELETE /admin/api/v1/clients/{client_id}",
        "DELETE /admin/api/v1/grants/{grant_id}",
        "DELETE /admin/api/v1/users/{user_id}",
        "DELETE /admin/api/v1/users/{user_id}/admin",
        "DELETE /admin/api/v1/users/{user_id}/consents/{client_id}",
        "DELETE /admin/api/v1/users/{user_id}/sessions",
        "DELETE /admin/api/v1/users/{user_id}/sessions/{session_id}",
        "GET /admin/api/v1/audit-events",
        "GET /admin/api/v1/clients",
        "GET /admin/api/v1/clients/{client_id}",
        "GET /admin/api/v1/clients/{client_id}/consents",
        "GET /admin/api/v1/clients/{client_id}/grants",
        "GET /admin/api/v1/keys",
        "GET /admin/api/v1/users",
        "GET /admin/api/v1/users/{user_id}",
        "GET /admin/api/v1/users/{user_id}/consents",
        "GET /admin/api/v1/users/{user_id}/grants",
        "GET /admin/api/v1/users/{user_id}/sessions",
        "PATCH /admin/api/v1/clients/{client_id}",
        "PATCH /admin/api/v1/users/{user_id}",
        "POST /admin/api/v1/clients",
        "POST /admin/api/v1/clients/{client_id}/rotate-secret",
        "POST /admin/api/v1/invitations",
        "POST /admin/api/v1/keys/rotate",
        "POST /admin/api/v1/keys/{kid}/revoke",
        "POST /admin/api/v1/users",
        "POST /admin/api/v1/users/{user_id}/disable",
        "POST /admin/api/v1/users/{user_id}/enable",
        "POST /admin/api/v1/users/{user_id}/mfa/reset",
        "POST /admin/api/v1/users/{user_id}/password",
        "POST /admin/api/v1/users/{user_id}/unlock",
        "PUT /admin/api/v1/users/{user_id}/admin",
        "DELETE /admin/api/v1/apis/{api_id}",
        "DELETE /admin/api/v1/groups/{group_id}",
        "DELETE /admin/api/v1/groups/{group_id}/members/{user_id}",
        "DELETE /admin/api/v1/roles/{role_id}",
        "DELETE /admin/api/v1/users/{user_id}/roles/{role_id}",
        "GET /admin/api/v1/apis",
        "GET /admin/api/v1/apis/{api_id}",
        "GET /admin/api/v1/groups",
        "GET /admin/api/v1/groups/{group_id}",
        "GET /admin/api/v1/groups/{group_id}/members",
        "GET /admin/api/v1/roles",
        "GET /admin/api/v1/roles/{role_id}",
        "GET /admin/api/v1/users/{user_id}/access",
        "PATCH /admin/api/v1/apis/{api_id}",
        "PATCH /admin/api/v1/groups/{group_id}",
        "PATCH /admin/api/v1/roles/{role_id}",
        "POST /admin/api/v1/apis",
        "POST /admin/api/v1/groups",
        "POST /admin/api/v1/roles",
        "PUT /admin/api/v1/groups/{group_id}/members/{user_id}",
        "PUT /admin/api/v1/users/{user_id}/roles/{role_id}",
    ];
    let mut expected = expected.to_vec();
    expected.sort();
    assert_eq!(routes, expected);
    // Each documented route is served (answers 401 without a token, not 404 or 405).
    for route in &routes {
        let (method, path) = route.split_once(' ').unwrap();
        let path = [
            "{client_id}",
            "{kid}",
            "{user_id}",
            "{grant_id}",
            "{session_id}",
            "{api_id}",
            "{role_id}",
            "{group_id}",
        ]
        .iter()
        .fold(path.to_owned(), |p, v| p.replace(v, "x"));
        let resp = app
            .http
            .request(method.parse().unwrap(), app.url(&path))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{route}");
    }
    if !python_has(
        "openapi_spec_validator",
        "GATEHOUSE_REQUIRE_OPENAPI_VALIDATOR",
        "openapi-spec-validator",
    ) {
        return;
    }
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), doc.to_string()).unwrap();
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import json,sys; from openapi_spec_validator import validate; \
             from openapi_spec_validator.validation.validators import OpenAPIV31SpecValidator; \
             validate(json.load(open(sys.argv[1])), cls=OpenAPIV31SpecValidator); print('valid')",
        ])
        .arg(file.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
