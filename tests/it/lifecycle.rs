//! Sessions and the token lifecycle: prompt/max_age/id_token_hint semantics, refresh rotation,
//! revocation, introspection, client credentials, logout, connected apps, CORS.
use crate::helpers::*;
use gatehouse::crypto::random_token;
use gatehouse::oauth::pkce::s256_challenge;
use serde_json::Value;

/// Authorization parameters for `client` with extra ones appended.
fn auth_params<'a>(
    client: &'a TestClient,
    challenge: &'a str,
    scope: &'a str,
    extra: &[(&'a str, &'a str)],
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
    p.extend_from_slice(extra);
    p
}

/// Signs in once and returns (client, browser, tokens) for `scope`.
async fn signed_in(app: &TestApp, client: &TestClient, scope: &str) -> (reqwest::Client, Value) {
    let b = browser();
    let (code, verifier) = app.get_code(&b, client, scope, "alice").await;
    let resp = app.exchange(client, &code, &verifier).await;
    assert_eq!(resp.status(), 200);
    (b, resp.json().await.unwrap())
}

async fn refresh(
    app: &TestApp,
    client: &TestClient,
    token: &str,
    scope: Option<&str>,
) -> reqwest::Response {
    let extra: Vec<(&str, &str)> = scope.map(|s| ("scope", s)).into_iter().collect();
    app.refresh(client, token, &extra).await
}

async fn error_code(resp: reqwest::Response) -> String {
    let body: Value = resp.json().await.unwrap();
    body["error"].as_str().unwrap_or_default().to_string()
}

fn code_from(resp: &reqwest::Response) -> Option<String> {
    let loc = location(resp);
    assert!(loc.starts_with(REDIRECT_URI), "{loc}");
    param(&query_of(&loc), "code")
}

// ---- OIDC Core §3.1.2.1 request semantics ----

async fn prompt_login_forces_a_new_sign_in(app: TestApp) {
    app.create_user("alice").await;
    let client = app.create_client().await;
    let (b, first) = signed_in(&app, &client, "openid").await;
    let first_auth = jwt_claims(first["id_token"].as_str().unwrap())["auth_time"]
        .as_i64()
        .unwrap();
    app.clock.advance(30);
    let ch = s256_challenge(&random_token());
    let resp = app
        .authorize(
            &b,
            &auth_params(&client, &ch, "openid", &[("prompt", "login")]),
        )
        .await;
    let login = location(&resp);
    assert!(login.starts_with("/login"), "{login}");
    let verifier = random_token();
    let ch = s256_challenge(&verifier);
    let q = app
        .sign_in(
            &b,
            &auth_params(&client, &ch, "openid", &[("prompt", "login")]),
            "alice",
        )
        .await;
    let code = param(&q, "code").unwrap();
    let body: Value = app
        .exchange(&client, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let auth_time = jwt_claims(body["id_token"].as_str().unwrap())["auth_time"]
        .as_i64()
        .unwrap();
    assert_eq!(auth_time, first_auth + 30, "a new auth_time");
}

async fn prompt_consent_asks_again(app: TestApp) {
    app.create_user("alice").await;
    let client = app.create_client().await;
    let (b, _) = signed_in(&app, &client, "openid").await;
    let ch = s256_challenge(&random_token());
    let resp = app
        .authorize(
            &b,
            &auth_params(&client, &ch, "openid", &[("prompt", "consent")]),
        )
        .await;
    assert!(location(&resp).starts_with("/consent"));
}

async fn prompt_none_with_session(app: TestApp) {
    app.create_user("alice").await;
    let client = app.create_client().await;
    let (b, _) = signed_in(&app, &client, "openid").await;
    let ch = s256_challenge(&random_token());
    let ok = app
        .authorize(
            &b,
            &auth_params(&client, &ch, "openid", &[("prompt", "none")]),
        )
        .await;
    assert!(code_from(&ok).is_some(), "silent authentication succeeds");
    let wider = app
        .authorize(
            &b,
            &auth_params(&client, &ch, "openid email", &[("prompt", "none")]),
        )
        .await;
    assert_eq!(
        param(&query_of(&location(&wider)), "error").as_deref(),
        Some("consent_required")
    );
}

async fn max_age_forces_reauthentication(app: TestApp) {
    app.create_user("alice").await;
    let client = app.create_client().await;
    let (b, _) = signed_in(&app, &client, "openid").await;
    let ch = s256_challenge(&random_token());
    let zero = app
        .authorize(
            &b,
            &auth_params(&client, &ch, "openid", &[("max_age", "0")]),
        )
        .await;
    assert!(location(&zero).starts_with("/login"), "max_age=0");
    let fresh = app
        .authorize(
            &b,
            &auth_params(&client, &ch, "openid", &[("max_age", "60")]),
        )
        .await;
    assert!(code_from(&fresh).is_some(), "session younger than max_age");
    app.clock.advance(61);
    let stale = app
        .authorize(
            &b,
            &auth_params(&client, &ch, "openid", &[("max_age", "60")]),
        )
        .await;
    assert!(
        location(&stale).starts_with("/login"),
        "session older than max_age"
    );
    let silent = app
        .authorize(
            &b,
            &auth_params(
                &client,
                &ch,
                "openid",
                &[("max_age", "60"), ("prompt", "none")],
            ),
        )
        .await;
    assert_eq!(
        param(&query_of(&location(&silent)), "error").as_deref(),
        Some("login_required")
    );
}

async fn id_token_hint_must_match_the_session(app: TestApp) {
    app.create_user("alice").await;
    let client = app.create_client().await;
    let (b, tokens) = signed_in(&app, &client, "openid").await;
    let hint = tokens["id_token"].as_str().unwrap().to_string();
    let ch = s256_challenge(&random_token());
    let same = app
        .authorize(
            &b,
            &auth_params(
                &client,
                &ch,
                "openid",
                &[("id_token_hint", &hint), ("prompt", "none")],
            ),
        )
        .await;
    assert!(code_from(&same).is_some());
    // Another user's hint.
    app.create_user("bob").await;
    let (_, bob_tokens) = {
        let b2 = browser();
        let (code, verifier) = app.get_code(&b2, &client, "openid", "bob").await;
        (
            b2,
            app.exchange(&client, &code, &verifier)
                .await
                .json::<Value>()
                .await
                .unwrap(),
        )
    };
    let bob_hint = bob_tokens["id_token"].as_str().unwrap();
    let other = app
        .authorize(
            &b,
            &auth_params(&client, &ch, "openid", &[("id_token_hint", bob_hint)]),
        )
        .await;
    assert_eq!(
        param(&query_of(&location(&other)), "error").as_deref(),
        Some("login_required")
    );
    let forged = app
        .authorize(
            &b,
            &auth_params(&client, &ch, "openid", &[("id_token_hint", "not.a.jwt")]),
        )
        .await;
    assert_eq!(
        param(&query_of(&location(&forged)), "error").as_deref(),
        Some("invalid_request")
    );
}

/// Unknown parameters are ignored; ui_locales and friends are accepted.
async fn unknown_parameters_are_ignored(app: TestApp) {
    let client = app.create_client().await;
    let ch = s256_challenge(&random_token());
    let resp = app
        .authorize(
            &browser(),
            &auth_params(
                &client,
                &ch,
                "openid",
                &[
                    ("ui_locales", "fr de"),
                    ("display", "page"),
                    ("acr_values", "x"),
                    ("foo", "bar"),
                ],
            ),
        )
        .await;
    assert!(location(&resp).starts_with("/login"));
}

// ---- Refresh tokens (RFC 6749 §6, RFC 9700 §4.14) ----

async fn no_refresh_token_without_offline_access_or_registration(app: TestApp) {
    app.create_user("alice").await;
    let client = app.create_client().await;
    let (_, tokens) = signed_in(&app, &client, "openid").await;
    assert!(tokens.get("refresh_token").is_none());
}

async fn refresh_rotates_and_keeps_identity(app: TestApp) {
    app.create_user("alice").await;
    let client = app.create_client().await;
    let (_, tokens) = signed_in(&app, &client, "openid email offline_access").await;
    let rt = tokens["refresh_token"]
        .as_str()
        .expect("offline_access gives a refresh token")
        .to_string();
    let original = jwt_claims(tokens["id_token"].as_str().unwrap());
    app.clock.advance(100);
    let resp = refresh(&app, &client, &rt, None).await;
    assert_eq!(resp.status(), 200);
    let next: Value = resp.json().await.unwrap();
    let rt2 = next["refresh_token"].as_str().unwrap();
    assert_ne!(rt2, rt, "rotated");
    assert_eq!(next["scope"], "openid email offline_access");
    let id = jwt_claims(next["id_token"].as_str().unwrap());
    assert_eq!(id["sub"], original["sub"]);
    assert_eq!(
        id["auth_time"], original["auth_time"],
        "OIDC Core §12.2: original auth_time"
    );
    assert!(id.get("nonce").is_none());
    assert_eq!(
        id["iat"].as_i64().unwrap(),
        original["iat"].as_i64().unwrap() + 100
    );
    assert_eq!(
        app.userinfo(next["access_token"].as_str().unwrap())
            .await
            .status(),
        200
    );
    // Narrowing is honoured; widening refused.
    let narrow: Value = refresh(&app, &client, rt2, Some("openid"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(narrow["scope"], "openid");
    let rt3 = narrow["refresh_token"].as_str().unwrap();
    assert_eq!(
        error_code(refresh(&app, &client, rt3, Some("openid profile")).await).await,
        "invalid_scope"
    );
    // The family keeps its original scope after a narrowed refresh.
    let again: Value = refresh(&app, &client, rt3, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["scope"], "openid email offline_access");
}

/// RFC 9700 §4.14.2: re-use of a rotated token by a public client revokes the whole family.
async fn public_client_reuse_revokes_the_family(app: TestApp) {
    app.create_user("alice").await;
    let client = app.create_client_custom(true, |_| {}).await;
    let (_, tokens) = signed_in(&app, &client, "openid offline_access").await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    let next: Value = refresh(&app, &client, rt, None).await.json().await.unwrap();
    let at = next["access_token"].as_str().unwrap();
    let rt2 = next["refresh_token"].as_str().unwrap();
    assert_eq!(
        error_code(refresh(&app, &client, rt, None).await).await,
        "invalid_grant"
    );
    assert_eq!(
        error_code(refresh(&app, &client, rt2, None).await).await,
        "invalid_grant",
        "the whole family is gone"
    );
    assert_eq!(
        app.userinfo(at).await.status(),
        401,
        "and its access tokens"
    );
}

/// The replay window: a confidential client re-presenting the just-rotated token gets the same
/// response (nothing minted, nothing revoked); after the window, re-use revokes the family.
async fn confidential_replay_within_window_is_idempotent(app: TestApp) {
    app.create_user("alice").await;
    let client = app.create_client().await;
    let (_, tokens) = signed_in(&app, &client, "openid offline_access").await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    let first: Value = refresh(&app, &client, rt, None).await.json().await.unwrap();
    let again: Value = refresh(&app, &client, rt, None).await.json().await.unwrap();
    assert_eq!(first, again, "identical response");
    let rt2 = first["refresh_token"].as_str().unwrap();
    app.clock.advance(3);
    assert_eq!(
        error_code(refresh(&app, &client, rt, None).await).await,
        "invalid_grant"
    );
    assert_eq!(
        error_code(refresh(&app, &client, rt2, None).await).await,
        "invalid_grant",
        "outside the window the family is revoked"
    );
}

/// Parallel tabs: N simultaneous refreshes of one token all succeed with one and the same
/// response, and the family stays usable.
async fn parallel_refreshes_get_one_answer(app: TestApp) {
    app.create_user("alice").await;
    let client = app.create_client().await;
    let (_, tokens) = signed_in(&app, &client, "openid offline_access").await;
    let rt = tokens["refresh_token"].as_str().unwrap().to_string();
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let (http, url, id, secret, rt) = (
            app.http.clone(),
            app.url("/token"),
            client.id.clone(),
            client.secret.clone().unwrap(),
            rt.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let resp = http
                .post(url)
                .basic_auth(id, Some(secret))
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", rt.as_str()),
                ])
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        }));
    }
    let mut bodies = Vec::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, 200, "{body}");
        bodies.push(body);
    }
    assert!(
        bodies.iter().all(|b| *b == bodies[0]),
        "one response for all"
    );
    let next = bodies[0]["refresh_token"].as_str().unwrap();
    assert_eq!(
        refresh(&app, &client, next, None).await.status(),
        200,
        "family intact"
    );
}

async fn client_registered_for_refresh_gets_session_bound_tokens(app: TestApp) {
    app.create_user("alice").await;
    let client = app
        .create_client_custom(false, |c| c.grant_types.push(GrantType::RefreshToken))
        .await;
    let (b, tokens) = signed_in(&app, &client, "openid").await;
    let rt = tokens["refresh_token"]
        .as_str()
        .expect("registered for refresh tokens")
        .to_string();
    let offline = app
        .create_client_custom(false, |c| c.skip_consent = true)
        .await;
    let (code, verifier) = app
        .get_code(&b, &offline, "openid offline_access", "alice")
        .await;
    let off: Value = app
        .exchange(&offline, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let off_rt = off["refresh_token"].as_str().unwrap().to_string();

    // Sign out: session-bound tokens end, offline access survives.
    let html = b
        .get(app.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&html, "csrf");
    b.post(app.url("/logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(refresh(&app, &client, &rt, None).await).await,
        "invalid_grant"
    );
    assert_eq!(refresh(&app, &offline, &off_rt, None).await.status(), 200);
}

async fn refresh_token_lifetimes_are_enforced(app: TestApp) {
    app.create_user("alice").await;
    let client = app
        .create_client_custom(false, |c| {
            c.refresh_idle_ttl = Some(100);
            c.refresh_token_ttl = Some(250);
        })
        .await;
    let (_, tokens) = signed_in(&app, &client, "openid offline_access").await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    app.clock.advance(90);
    let t1: Value = refresh(&app, &client, rt, None).await.json().await.unwrap();
    app.clock.advance(101);
    let idle = refresh(&app, &client, t1["refresh_token"].as_str().unwrap(), None).await;
    assert_eq!(error_code(idle).await, "invalid_grant", "idle lifetime");

    let (_, tokens) = signed_in(&app, &client, "openid offline_access").await;
    let mut rt = tokens["refresh_token"].as_str().unwrap().to_string();
    for _ in 0..2 {
        app.clock.advance(90);
        let t: Value = refresh(&app, &client, &rt, None)
            .await
            .json()
            .await
            .unwrap();
        rt = t["refresh_token"].as_str().unwrap().to_string();
    }
    app.clock.advance(90);
    assert_eq!(
        error_code(refresh(&app, &client, &rt, None).await).await,
        "invalid_grant",
        "absolute lifetime"
    );
}

async fn password_change_and_code_reuse_revoke_refresh_tokens(app: TestApp) {
    app.create_user("alice").await;
    let client = app.create_client().await;
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
    app.exchange(&client, &code, &verifier).await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(
        error_code(refresh(&app, &client, rt, None).await).await,
        "invalid_grant",
        "code re-use revoked the family"
    );

    let (_, tokens) = signed_in(&app, &client, "openid offline_access").await;
    let hasher = gatehouse::accounts::password::Hasher::default();
    gatehouse::accounts::set_password(
        &app.store,
        &hasher,
        "alice",
        "a brand new password",
        app.clock.now(),
    )
    .await
    .unwrap();
    assert_eq!(
        error_code(
            refresh(
                &app,
                &client,
                tokens["refresh_token"].as_str().unwrap(),
                None
            )
            .await
        )
        .await,
        "invalid_grant"
    );
}

async fn refresh_token_of_another_client_is_refused(app: TestApp) {
    app.create_user("alice").await;
    let client = app.create_client().await;
    let other = app.create_client().await;
    let (_, tokens) = signed_in(&app, &client, "openid offline_access").await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(
        error_code(refresh(&app, &other, rt, None).await).await,
        "invalid_grant"
    );
    assert_eq!(
        refresh(&app, &client, rt, None).await.status(),
        200,
        "unchanged for its owner"
    );
}

// ---- Revocation (RFC 7009) and introspection (RFC 7662) ----

async fn revocation_and_introspection_of_every_token_state(app: TestApp) {
    app.create_user("alice").await;
    let client = app.create_client().await;
    let stranger = app.create_client().await;
    let api = app
        .create_client_custom(false, |c| {
            c.audiences = vec!["https://api.example.com".into()];
            c.grant_types = vec![GrantType::ClientCredentials];
        })
        .await;
    let rs = app
        .create_client_custom(false, |c| {
            c.resource_audiences = vec!["https://api.example.com".into()]
        })
        .await;
    // Calling the same API does not make a client its resource server.
    let caller = app
        .create_client_custom(false, |c| {
            c.audiences = vec!["https://api.example.com".into()]
        })
        .await;
    let (_, tokens) = signed_in(&app, &client, "openid offline_access").await;
    let at = tokens["access_token"].as_str().unwrap();
    let rt = tokens["refresh_token"].as_str().unwrap();

    // Active, for the owner.
    let a = introspect(&app, &client, at).await;
    assert_eq!(a["active"], true);
    assert_eq!(a["client_id"], client.id);
    assert_eq!(a["token_type"], "Bearer");
    let r = introspect(&app, &client, rt).await;
    assert_eq!(r["active"], true);
    assert_eq!(r["token_type"], "refresh_token");
    // Not the caller's business, unknown: inactive, and nothing else.
    assert_eq!(
        introspect(&app, &stranger, at).await,
        serde_json::json!({"active": false})
    );
    assert_eq!(
        introspect(&app, &stranger, rt).await,
        serde_json::json!({"active": false})
    );
    assert_eq!(
        introspect(&app, &client, "unknown").await,
        serde_json::json!({"active": false})
    );
    // A resource server sees tokens meant for its API.
    let (cc_at,) = {
        let t: Value = app
            .token(&api, &[("grant_type", "client_credentials")])
            .await
            .json()
            .await
            .unwrap();
        (t["access_token"].as_str().unwrap().to_string(),)
    };
    assert_eq!(introspect(&app, &rs, &cc_at).await["active"], true);
    assert_eq!(
        introspect(&app, &caller, &cc_at).await,
        serde_json::json!({"active": false})
    );
    // Public clients may not introspect.
    let public = app.create_client_custom(true, |_| {}).await;
    assert_eq!(
        post_as(&app, &public, "/introspect", &[("token", at)])
            .await
            .status(),
        401
    );

    // Another client's revocation changes nothing.
    assert_eq!(
        post_as(&app, &stranger, "/revoke", &[("token", at)])
            .await
            .status(),
        200
    );
    assert_eq!(
        post_as(&app, &stranger, "/revoke", &[("token", rt)])
            .await
            .status(),
        200
    );
    assert_eq!(introspect(&app, &client, at).await["active"], true);
    assert_eq!(introspect(&app, &client, rt).await["active"], true);
    assert_eq!(
        post_as(&app, &client, "/revoke", &[("token", "never-issued")])
            .await
            .status(),
        200
    );

    // The owner revokes the access token: inactive here and refused at /userinfo.
    assert_eq!(
        post_as(
            &app,
            &client,
            "/revoke",
            &[("token", at), ("token_type_hint", "access_token")]
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        introspect(&app, &client, at).await,
        serde_json::json!({"active": false})
    );
    assert_eq!(app.userinfo(at).await.status(), 401);
    // Revoking the refresh token ends the family.
    let next: Value = refresh(&app, &client, rt, None).await.json().await.unwrap();
    let at2 = next["access_token"].as_str().unwrap();
    let rt2 = next["refresh_token"].as_str().unwrap();
    assert_eq!(
        introspect(&app, &client, rt).await["active"],
        false,
        "rotated"
    );
    assert_eq!(
        post_as(&app, &client, "/revoke", &[("token", rt2)])
            .await
            .status(),
        200
    );
    assert_eq!(introspect(&app, &client, rt2).await["active"], false);
    assert_eq!(
        introspect(&app, &client, at2).await["active"],
        false,
        "its access tokens go too"
    );

    // Expired.
    let (_, fresh) = signed_in(&app, &client, "openid").await;
    app.clock.advance(601);
    assert_eq!(
        introspect(&app, &client, fresh["access_token"].as_str().unwrap()).await["active"],
        false
    );
    // Missing token parameter.
    assert_eq!(post_as(&app, &client, "/revoke", &[]).await.status(), 400);
}

/// Access tokens are self-contained (issue 11): issuing one writes nothing, revoking one
/// writes a deny-list entry that is swept once the token would have expired, and a token ends
/// with its client, its grant (code replay, logout) and its user.
async fn access_tokens_are_self_contained(app: TestApp) {
    let machine = app
        .create_client_custom(false, |c| {
            c.grant_types = vec![GrantType::ClientCredentials];
            c.audiences = vec!["https://api.example.com".into()];
        })
        .await;
    let rs = app
        .create_client_custom(false, |c| {
            c.resource_audiences = vec!["https://api.example.com".into()]
        })
        .await;
    let cc = || async {
        let t: Value = app
            .token(&machine, &[("grant_type", "client_credentials")])
            .await
            .json()
            .await
            .unwrap();
        t["access_token"].as_str().unwrap().to_string()
    };
    let before = app.store.growing_rows().await.unwrap();
    let mut tokens = Vec::new();
    for _ in 0..5 {
        tokens.push(cc().await);
    }
    assert_eq!(
        app.store.growing_rows().await.unwrap(),
        before,
        "no row per token"
    );

    // Revoked: one deny-list entry, swept only after the token's expiry.
    post_as(&app, &machine, "/revoke", &[("token", &tokens[0])]).await;
    assert_eq!(introspect(&app, &rs, &tokens[0]).await["active"], false);
    assert_eq!(introspect(&app, &rs, &tokens[1]).await["active"], true);
    assert_eq!(app.store.growing_rows().await.unwrap(), before + 1);
    post_as(&app, &machine, "/revoke", &[("token", &tokens[0])]).await;
    assert_eq!(app.store.growing_rows().await.unwrap(), before + 1, "once");
    let sweep = |at: i64| {
        let store = app.store.clone();
        async move { store.delete_expired(at, 600, 0, 2, 8 * 3600).await.unwrap() }
    };
    sweep(app.clock.now()).await;
    assert_eq!(
        app.store.growing_rows().await.unwrap(),
        before + 1,
        "kept while it could be used"
    );
    sweep(app.clock.now() + app.config.access_token_ttl + 1).await;
    assert_eq!(app.store.growing_rows().await.unwrap(), before);

    // A deleted client's tokens end with it.
    app.store.delete_client(&machine.id).await.unwrap();
    assert_eq!(introspect(&app, &rs, &tokens[1]).await["active"], false);

    // A user's token without a refresh token still ends with its grant: a replayed code and
    // logout both end it.
    app.create_user("alice").await;
    let client = app.create_client().await;
    let b = browser();
    let (code, verifier) = app.get_code(&b, &client, "openid", "alice").await;
    let t: Value = app
        .exchange(&client, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    assert!(t.get("refresh_token").is_none());
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(app.userinfo(at).await.status(), 200);
    app.exchange(&client, &code, &verifier).await;
    assert_eq!(app.userinfo(at).await.status(), 401, "code replay");

    let client = logout_client(&app).await;
    let (b, t) = signed_in(&app, &client, "openid").await;
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(app.userinfo(at).await.status(), 200);
    let resp = b
        .get(app.url("/logout"))
        .query(&[
            ("id_token_hint", t["id_token"].as_str().unwrap()),
            ("post_logout_redirect_uri", AFTER_LOGOUT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(app.userinfo(at).await.status(), 401, "logout");
}

// ---- Client credentials (RFC 6749 §4.4) ----

async fn client_credentials_grant(app: TestApp) {
    let machine = app
        .create_client_custom(false, |c| {
            c.grant_types = vec![GrantType::ClientCredentials];
            c.allowed_scopes = Some(vec!["orders:read".into(), "orders:write".into()]);
            c.audiences = vec!["https://api.example.com".into()];
            c.redirect_uris.clear();
        })
        .await;
    let resp = app
        .token(
            &machine,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "orders:read"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["scope"], "orders:read");
    assert!(body.get("id_token").is_none() && body.get("refresh_token").is_none());
    let claims = jwt_claims(body["access_token"].as_str().unwrap());
    assert_eq!(claims["sub"], machine.id);
    assert_eq!(claims["aud"], "https://api.example.com");
    let all: Value = app
        .token(&machine, &[("grant_type", "client_credentials")])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["scope"], "orders:read orders:write");
    assert_eq!(
        error_code(
            app.token(
                &machine,
                &[("grant_type", "client_credentials"), ("scope", "admin")]
            )
            .await
        )
        .await,
        "invalid_scope"
    );
    // Not registered for it; public clients never.
    let web = app.create_client().await;
    assert_eq!(
        error_code(
            app.token(&web, &[("grant_type", "client_credentials")])
                .await
        )
        .await,
        "unauthorized_client"
    );
    let public = app
        .create_client_custom(true, |c| c.grant_types = vec![GrantType::ClientCredentials])
        .await;
    assert_eq!(
        error_code(
            app.token(&public, &[("grant_type", "client_credentials")])
                .await
        )
        .await,
        "unauthorized_client"
    );
}

// ---- RP-initiated logout ----

const AFTER_LOGOUT: &str = "https://app.example.com/signed-out";

/// A confidential client that registered `AFTER_LOGOUT` as its post-logout redirect.
async fn logout_client(app: &TestApp) -> TestClient {
    app.create_client_custom(false, |c| {
        c.post_logout_redirect_uris = vec![AFTER_LOGOUT.into()]
    })
    .await
}

async fn logout_with_hint_and_registered_redirect(app: TestApp) {
    app.create_user("alice").await;
    let client = logout_client(&app).await;
    let (b, tokens) = signed_in(&app, &client, "openid").await;
    let hint = tokens["id_token"].as_str().unwrap();
    let resp = b
        .get(app.url("/logout"))
        .query(&[
            ("id_token_hint", hint),
            ("post_logout_redirect_uri", AFTER_LOGOUT),
            ("state", "bye"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), format!("{AFTER_LOGOUT}?state=bye"));
    assert_eq!(
        location(&b.get(app.url("/account")).send().await.unwrap()),
        "/login",
        "session ended"
    );
}

async fn logout_without_hint_asks_to_confirm(app: TestApp) {
    app.create_user("alice").await;
    let client = logout_client(&app).await;
    let (b, _) = signed_in(&app, &client, "openid").await;
    let page = b
        .get(app.url("/logout"))
        .query(&[
            ("client_id", client.id.as_str()),
            ("post_logout_redirect_uri", AFTER_LOGOUT),
            ("state", "s"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Sign out?"));
    assert_eq!(
        b.get(app.url("/account")).send().await.unwrap().status(),
        200,
        "not signed out yet"
    );
    let form = [
        ("csrf", hidden(&html, "csrf")),
        ("client_id", hidden(&html, "client_id")),
        (
            "post_logout_redirect_uri",
            hidden(&html, "post_logout_redirect_uri"),
        ),
        ("state", hidden(&html, "state")),
    ];
    let resp = b.post(app.url("/logout")).form(&form).send().await.unwrap();
    assert_eq!(location(&resp), format!("{AFTER_LOGOUT}?state=s"));
    assert_eq!(
        location(&b.get(app.url("/account")).send().await.unwrap()),
        "/login"
    );
}

async fn logout_refuses_unregistered_redirects(app: TestApp) {
    app.create_user("alice").await;
    let client = logout_client(&app).await;
    let (b, tokens) = signed_in(&app, &client, "openid").await;
    let hint = tokens["id_token"].as_str().unwrap();
    for (k, v) in [("id_token_hint", hint), ("client_id", client.id.as_str())] {
        let resp = b
            .get(app.url("/logout"))
            .query(&[
                (k, v),
                ("post_logout_redirect_uri", "https://evil.example/"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        assert!(resp.headers().get("location").is_none());
    }
    let no_client = b
        .get(app.url("/logout"))
        .query(&[("post_logout_redirect_uri", AFTER_LOGOUT)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        no_client.status(),
        400,
        "a redirect needs a client to check it against"
    );
    let bad_hint = b
        .get(app.url("/logout"))
        .query(&[("id_token_hint", "x.y.z")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad_hint.status(), 400);
    assert_eq!(
        b.get(app.url("/account")).send().await.unwrap().status(),
        200,
        "still signed in"
    );
}

// ---- Connected apps ----

async fn connected_apps_can_be_revoked(app: TestApp) {
    app.create_user("alice").await;
    let client = app.create_client().await;
    let (b, tokens) = signed_in(&app, &client, "openid offline_access").await;
    let html = b
        .get(app.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Example App") && html.contains("offline_access"));
    let resp = b
        .post(app.url("/account/apps/revoke"))
        .form(&[
            ("csrf", hidden(&html, "csrf")),
            ("client_id", client.id.clone()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&resp), "/account");
    let html = b
        .get(app.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains("Example App"));
    assert_eq!(
        error_code(
            refresh(
                &app,
                &client,
                tokens["refresh_token"].as_str().unwrap(),
                None
            )
            .await
        )
        .await,
        "invalid_grant"
    );
    // Consent is asked again.
    let ch = s256_challenge(&random_token());
    let resp = app
        .authorize(&b, &auth_params(&client, &ch, "openid", &[]))
        .await;
    assert!(location(&resp).starts_with("/consent"));
}

// ---- CORS for browser-based clients ----

async fn cors_only_for_registered_origins_and_never_on_authorize(app: TestApp) {
    app.create_client_custom(true, |c| {
        c.redirect_uris = vec!["https://spa.example.com/callback".into()]
    })
    .await;
    app.create_client_custom(false, |c| {
        c.allowed_origins = vec!["https://admin.example.com".into()]
    })
    .await;
    for origin in ["https://spa.example.com", "https://admin.example.com"] {
        let pre = app
            .http
            .request(reqwest::Method::OPTIONS, app.url("/token"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
            .await
            .unwrap();
        assert_eq!(pre.status(), 204);
        assert_eq!(pre.headers()["access-control-allow-origin"], origin);
        // RFC 9449: a browser app sends DPoP proofs and reads the nonce.
        let allowed = pre.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap();
        assert!(allowed.contains("DPoP"), "{allowed}");
        let exposed = pre.headers()["access-control-expose-headers"]
            .to_str()
            .unwrap();
        assert!(exposed.contains("DPoP-Nonce"), "{exposed}");
        assert!(
            pre.headers()
                .get("access-control-allow-credentials")
                .is_none()
        );
        let jwks = app
            .http
            .get(app.url("/jwks.json"))
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        assert_eq!(jwks.headers()["access-control-allow-origin"], origin);
    }
    let evil = app
        .http
        .get(app.url("/userinfo"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(evil.headers().get("access-control-allow-origin").is_none());
    let authorize = app
        .http
        .get(app.url("/authorize"))
        .header("origin", "https://spa.example.com")
        .send()
        .await
        .unwrap();
    assert!(
        authorize
            .headers()
            .get("access-control-allow-origin")
            .is_none(),
        "RFC 9700 §2.6"
    );
    let login = app
        .http
        .get(app.url("/login"))
        .header("origin", "https://spa.example.com")
        .send()
        .await
        .unwrap();
    assert!(login.headers().get("access-control-allow-origin").is_none());
}

async fn discovery_advertises_the_lifecycle_endpoints(app: TestApp) {
    let m: Value = app.discovery().await;
    assert_eq!(m["revocation_endpoint"], app.url("/revoke"));
    assert_eq!(m["introspection_endpoint"], app.url("/introspect"));
    assert_eq!(m["end_session_endpoint"], app.url("/logout"));
    assert_eq!(
        m["grant_types_supported"],
        serde_json::json!(["authorization_code", "refresh_token", "client_credentials"])
    );
    assert!(
        m["scopes_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "offline_access")
    );
    assert!(
        m["prompt_values_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "none")
    );
}

/// Sign-out also ends codes issued in the session but not yet redeemed (else their refresh
/// tokens would outlive the session).
async fn logout_ends_codes_not_yet_redeemed(app: TestApp) {
    app.create_user("alice").await;
    let client = app
        .create_client_custom(false, |c| c.grant_types.push(GrantType::RefreshToken))
        .await;
    let b = browser();
    let (code, verifier) = app.get_code(&b, &client, "openid", "alice").await;
    let html = b
        .get(app.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    b.post(app.url("/logout"))
        .form(&[("csrf", hidden(&html, "csrf"))])
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(app.exchange(&client, &code, &verifier).await).await,
        "invalid_grant"
    );
}

/// A flow that named its user with id_token_hint cannot be finished by someone else signing in.
async fn id_token_hint_binds_the_flow_to_its_user(app: TestApp) {
    app.create_user("alice").await;
    app.create_user("bob").await;
    let client = app.create_client().await;
    let (_, tokens) = signed_in(&app, &client, "openid").await;
    let hint = tokens["id_token"].as_str().unwrap();
    let ch = s256_challenge(&random_token());
    let q = app
        .sign_in(
            &browser(),
            &auth_params(&client, &ch, "openid", &[("id_token_hint", hint)]),
            "bob",
        )
        .await;
    assert_eq!(param(&q, "error").as_deref(), Some("login_required"));
    assert!(param(&q, "code").is_none());
}

/// OIDC Core §11: offline access needs consent in this very request: never silent (not for
/// first-party apps, not from remembered consent, not with prompt=none).
async fn offline_access_always_asks(app: TestApp) {
    app.create_user("alice").await;
    let first_party = app
        .create_client_custom(false, |c| c.skip_consent = true)
        .await;
    let (b, tokens) = signed_in(&app, &first_party, "openid offline_access").await;
    assert!(tokens.get("refresh_token").is_some());
    let ch = s256_challenge(&random_token());
    let again = app
        .authorize(
            &b,
            &auth_params(&first_party, &ch, "openid offline_access", &[]),
        )
        .await;
    assert!(
        location(&again).starts_with("/consent"),
        "asked again, even first-party"
    );
    let verifier = random_token();
    let ch = s256_challenge(&verifier);
    let silent = app
        .authorize(
            &b,
            &auth_params(
                &first_party,
                &ch,
                "openid offline_access",
                &[("prompt", "none")],
            ),
        )
        .await;
    let code = code_from(&silent).expect("silent sign-in still works");
    let body: Value = app
        .exchange(&first_party, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        body.get("refresh_token").is_none(),
        "but without offline access"
    );
    assert_eq!(body["scope"], "openid");
}

/// RP-Initiated Logout: without a valid hint the user is asked, even when no one is signed in.
async fn logout_without_hint_and_session_still_confirms(app: TestApp) {
    let client = logout_client(&app).await;
    let resp = browser()
        .get(app.url("/logout"))
        .query(&[
            ("client_id", client.id.as_str()),
            ("post_logout_redirect_uri", AFTER_LOGOUT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("Sign out?"));
}

/// The sealed copy of a rotated token's response is erased by the sweep once the replay window
/// has passed; until then it is kept for the replay.
async fn sealed_replay_response_is_erased_after_the_window(app: TestApp) {
    app.create_user("alice").await;
    let client = app.create_client().await;
    let (_, tokens) = signed_in(&app, &client, "openid offline_access").await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(refresh(&app, &client, rt, None).await.status(), 200);
    let hash = gatehouse::crypto::hash_secret(rt);
    let sealed = |app: &TestApp| {
        let (store, hash) = (app.store.clone(), hash.clone());
        async move {
            store
                .find_refresh_token(&hash)
                .await
                .unwrap()
                .unwrap()
                .replay_response
        }
    };
    app.store
        .delete_expired(
            app.clock.now(),
            600,
            0,
            app.config.refresh_replay_window,
            app.config.session_ttl,
        )
        .await
        .unwrap();
    assert!(sealed(&app).await.is_some(), "kept inside the window");
    app.clock.advance(app.config.refresh_replay_window + 1);
    app.store
        .delete_expired(
            app.clock.now(),
            600,
            0,
            app.config.refresh_replay_window,
            app.config.session_ttl,
        )
        .await
        .unwrap();
    assert!(sealed(&app).await.is_none(), "erased after the window");
}

/// RFC 6749 §4.1.2.1: a client registered without the code grant gets `unauthorized_client`.
async fn authorize_refuses_clients_without_the_code_grant(app: TestApp) {
    let client = app
        .create_client_custom(false, |c| {
            c.grant_types = vec![GrantType::ClientCredentials]
        })
        .await;
    let ch = s256_challenge(&random_token());
    let resp = app
        .authorize(&browser(), &auth_params(&client, &ch, "openid", &[]))
        .await;
    assert_eq!(resp.status(), 303);
    let q = query_of(&location(&resp));
    assert_eq!(param(&q, "error").as_deref(), Some("unauthorized_client"));
    assert_eq!(param(&q, "state").as_deref(), Some("st"));
    assert_eq!(param(&q, "iss").as_deref(), Some(app.issuer.as_str()));
}

async fn cors_allowed(app: &TestApp, origin: &str) -> bool {
    let resp = app
        .http
        .get(app.url("/jwks.json"))
        .header("origin", origin)
        .send()
        .await
        .unwrap();
    resp.headers().get("access-control-allow-origin").is_some()
}

/// The CORS origin set is cached: this process's client changes show at once; changes made by
/// another process (the CLI, another replica) within one key-refresh interval.
async fn cors_origins_are_cached_and_invalidated(app: TestApp) {
    let client = app
        .create_client_custom(false, |c| {
            c.allowed_origins = vec!["https://one.example.com".into()]
        })
        .await;
    assert!(cors_allowed(&app, "https://one.example.com").await);
    let mut c = app.store.find_client(&client.id).await.unwrap().unwrap();
    c.allowed_origins = vec!["https://two.example.com".into()];
    app.store.update_client(&mut c).await.unwrap();
    assert!(!cors_allowed(&app, "https://one.example.com").await);
    assert!(cors_allowed(&app, "https://two.example.com").await);

    // Another process changes the table behind our back.
    let other = gatehouse::store::Store::connect(&app.config.database_url())
        .await
        .unwrap();
    c.allowed_origins = vec!["https://three.example.com".into()];
    other.update_client(&mut c).await.unwrap();
    assert!(
        cors_allowed(&app, "https://two.example.com").await,
        "still cached"
    );
    app.clock.advance(app.config.key_refresh_interval);
    assert!(cors_allowed(&app, "https://three.example.com").await);
    assert!(!cors_allowed(&app, "https://two.example.com").await);
    other.close().await;
}

/// Clients are cached by id (issue 11): a change through this process shows at once, one made
/// by another process (the CLI, another replica) within one key-refresh interval.
async fn clients_are_cached_and_invalidated(app: TestApp) {
    let machine = app
        .create_client_custom(false, |c| {
            c.grant_types = vec![GrantType::ClientCredentials]
        })
        .await;
    let cc = |secret: String| {
        let client = TestClient {
            id: machine.id.clone(),
            secret: Some(secret),
        };
        let app = &app;
        async move {
            app.token(&client, &[("grant_type", "client_credentials")])
                .await
                .status()
        }
    };
    let old = machine.secret.clone().unwrap();
    assert_eq!(cc(old.clone()).await, 200);

    let other = gatehouse::store::Store::connect(&app.config.database_url())
        .await
        .unwrap();
    let mut c = app.store.find_client(&machine.id).await.unwrap().unwrap();
    let new = random_token();
    c.secret_hash = Some(gatehouse::crypto::hash_secret(&new));
    other.update_client(&mut c).await.unwrap();
    assert_eq!(cc(old.clone()).await, 200, "still cached");
    app.clock.advance(app.config.key_refresh_interval);
    assert_eq!(cc(old.clone()).await, 401, "another process's change shows");
    assert_eq!(cc(new.clone()).await, 200);

    // This process's change shows at once.
    let newer = random_token();
    c.secret_hash = Some(gatehouse::crypto::hash_secret(&newer));
    app.store.update_client(&mut c).await.unwrap();
    assert_eq!(cc(new).await, 401);
    assert_eq!(cc(newer).await, 200);
    other.close().await;
}

/// The APIs the token endpoint looks up for a request's scopes are cached (issue 11): a change
/// through this server shows at once; one made by another process within the standing cache's
/// TTL.
async fn apis_are_cached_and_invalidated(app: TestApp) {
    use gatehouse::domain::{Api, ApiScope};
    let machine = app
        .create_client_custom(false, |c| {
            c.grant_types = vec![GrantType::ClientCredentials];
            c.allowed_scopes = Some(vec!["tasks:read".into()]);
        })
        .await;
    let audience = || async {
        let resp = app
            .token(&machine, &[("grant_type", "client_credentials")])
            .await;
        assert_eq!(resp.status(), 200);
        let token = resp.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        jwt_claims(&token)["aud"].clone()
    };
    let api = Api {
        id: "tasks".into(),
        identifier: "https://tasks.example".into(),
        name: "Tasks".into(),
        scopes: vec![ApiScope {
            name: "tasks:read".into(),
            description: "Read tasks".into(),
        }],
        created_at: 1,
        updated_at: 1,
    };
    let issuer = serde_json::json!(app.issuer);
    let api_audience = serde_json::json!("https://tasks.example");
    assert_eq!(audience().await, issuer, "no API owns the scope yet");

    // A long list (an anonymous /authorize chooses its words) is read uncached.
    let padding: Vec<String> = (0..60).map(|i| format!("padding:scope:{i}")).collect();
    let mut long: Vec<&str> = padding.iter().map(String::as_str).collect();
    long.push("tasks:read");
    assert!(
        app.store
            .apis_for_cached(&long, &[])
            .await
            .unwrap()
            .is_empty()
    );

    let other = gatehouse::store::Store::connect(&app.config.database_url())
        .await
        .unwrap();
    other.insert_api(&api).await.unwrap();
    assert_eq!(audience().await, issuer, "still cached");
    assert_eq!(
        app.store.apis_for_cached(&long, &[]).await.unwrap().len(),
        1,
        "a long list is never cached"
    );
    app.clock.advance(app.config.standing_cache_ttl);
    assert_eq!(
        audience().await,
        api_audience,
        "another process's API shows"
    );

    // This server's change shows at once.
    assert!(app.store.delete_api("tasks").await.unwrap());
    assert_eq!(audience().await, issuer);
    other.close().await;
}

/// What introspection and UserInfo read is cached (issue 11): a change through this server
/// shows at once; one made by another process (the CLI, another replica) within the standing
/// cache's TTL.
async fn standing_and_users_are_cached_and_invalidated(app: TestApp) {
    let alice = app.create_user("alice").await;
    let client = app.create_client().await;
    let mint = || async {
        app.access_token_for(&client, &browser(), "openid profile")
            .await
    };
    let active = |token: String| {
        let (app, client) = (&app, &client);
        async move { introspect(app, client, &token).await["active"] == true }
    };
    let name = |token: String| {
        let app = &app;
        async move {
            let resp = app.userinfo(&token).await;
            match resp.status().as_u16() {
                200 => Some(resp.json::<Value>().await.unwrap()["name"].clone()),
                _ => None,
            }
        }
    };
    let other = gatehouse::store::Store::connect(&app.config.database_url())
        .await
        .unwrap();
    let ttl = app.config.standing_cache_ttl;
    assert!(ttl > 0);

    // Another process's revocation shows within the TTL.
    let first = mint().await;
    assert!(active(first.clone()).await);
    let jti = jwt_claims(&first)["jti"].as_str().unwrap().to_owned();
    other
        .deny_access_token(&jti, app.clock.now() + 3600)
        .await
        .unwrap();
    assert!(active(first.clone()).await, "still cached");
    app.clock.advance(ttl);
    assert!(
        !active(first.clone()).await,
        "another process's revocation shows"
    );

    // A revocation through this server shows at once.
    let second = mint().await;
    assert!(active(second.clone()).await);
    let resp = post_as(&app, &client, "/revoke", &[("token", &second)]).await;
    assert_eq!(resp.status(), 200);
    assert!(!active(second.clone()).await);
    assert_eq!(app.userinfo(&second).await.status(), 401);

    // The user: another process's change shows within the TTL, ours at once.
    let third = mint().await;
    let before = name(third.clone()).await.expect("UserInfo answers");
    let mut changed = app.store.find_user(&alice.id).await.unwrap().unwrap();
    changed.name = Some("Alice Other".into());
    other
        .update_user_profile(&changed, app.clock.now())
        .await
        .unwrap();
    assert_eq!(name(third.clone()).await, Some(before), "still cached");
    app.clock.advance(ttl);
    assert_eq!(name(third.clone()).await, Some("Alice Other".into()));
    other.set_user_disabled("alice", true).await.unwrap();
    assert!(active(third.clone()).await, "still cached");
    app.clock.advance(ttl);
    assert!(
        !active(third.clone()).await,
        "a user disabled elsewhere shows"
    );
    assert_eq!(name(third.clone()).await, None);
    app.store.set_user_disabled("alice", false).await.unwrap();
    assert!(active(third.clone()).await, "re-enabled here: at once");
    let mut changed = app.store.find_user(&alice.id).await.unwrap().unwrap();
    changed.name = Some("Alice Here".into());
    app.store
        .update_user_profile(&changed, app.clock.now())
        .await
        .unwrap();
    assert_eq!(name(third.clone()).await, Some("Alice Here".into()));
    other.close().await;
}

async fn resp_login_again(
    app: &TestApp,
    b: &reqwest::Client,
    client: &TestClient,
    ch: &str,
) -> reqwest::Response {
    app.authorize(b, &auth_params(client, ch, "openid", &[]))
        .await
}

/// CSP `form-action` names only us and the flow's verified redirect target.
async fn form_action_allows_only_self_and_the_verified_target(app: TestApp) {
    app.create_user("alice").await;
    let client = app.create_client().await;
    let ch = s256_challenge(&random_token());
    let b = browser();
    let resp = app
        .authorize(&b, &auth_params(&client, &ch, "openid", &[]))
        .await;
    let login = app.get(&b, &location(&resp)).await;
    let csp = login.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("form-action 'self' https://app.example.com;")
            || csp.ends_with("form-action 'self' https://app.example.com"),
        "{csp}"
    );
    // The consent page names the same target.
    let signed = app
        .submit_login(
            &b,
            &location(&resp_login_again(&app, &b, &client, &ch).await),
            "alice",
            PASSWORD,
        )
        .await;
    let consent = app.get(&b, &location(&signed)).await;
    let csp = consent.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.ends_with("form-action 'self' https://app.example.com"),
        "consent: {csp}"
    );
    // The logout confirmation names the registered post-logout URI.
    let logout_client = app
        .create_client_custom(false, |c| {
            c.post_logout_redirect_uris = vec!["https://rp.example.org/bye".into()]
        })
        .await;
    let confirm = app
        .get(
            &b,
            &format!(
                "/logout?client_id={}&post_logout_redirect_uri=https%3A%2F%2Frp.example.org%2Fbye",
                logout_client.id
            ),
        )
        .await;
    assert_eq!(confirm.status(), 200);
    let csp = confirm.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.ends_with("form-action 'self' https://rp.example.org"),
        "logout: {csp}"
    );
    let plain = app.get(&b, "/login").await;
    let csp = plain.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.ends_with("form-action 'self'"), "{csp}");
    assert!(
        plain.headers().get("strict-transport-security").is_none(),
        "no HSTS on http"
    );
}

crate::backend_tests!(
    sealed_replay_response_is_erased_after_the_window,
    authorize_refuses_clients_without_the_code_grant,
    cors_origins_are_cached_and_invalidated,
    clients_are_cached_and_invalidated,
    apis_are_cached_and_invalidated,
    standing_and_users_are_cached_and_invalidated,
    form_action_allows_only_self_and_the_verified_target,
    prompt_login_forces_a_new_sign_in,
    prompt_consent_asks_again,
    prompt_none_with_session,
    max_age_forces_reauthentication,
    id_token_hint_must_match_the_session,
    unknown_parameters_are_ignored,
    no_refresh_token_without_offline_access_or_registration,
    refresh_rotates_and_keeps_identity,
    public_client_reuse_revokes_the_family,
    confidential_replay_within_window_is_idempotent,
    parallel_refreshes_get_one_answer,
    client_registered_for_refresh_gets_session_bound_tokens,
    refresh_token_lifetimes_are_enforced,
    password_change_and_code_reuse_revoke_refresh_tokens,
    refresh_token_of_another_client_is_refused,
    revocation_and_introspection_of_every_token_state,
    access_tokens_are_self_contained,
    client_credentials_grant,
    logout_with_hint_and_registered_redirect,
    logout_without_hint_asks_to_confirm,
    logout_refuses_unregistered_redirects,
    connected_apps_can_be_revoked,
    cors_only_for_registered_origins_and_never_on_authorize,
    discovery_advertises_the_lifecycle_endpoints,
    logout_ends_codes_not_yet_redeemed,
    id_token_hint_binds_the_flow_to_its_user,
    offline_access_always_asks,
    logout_without_hint_and_session_still_confirms,
);
