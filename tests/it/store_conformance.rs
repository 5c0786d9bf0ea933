//! The same store behaviour on every backend.
use crate::helpers::*;
use gatehouse::store::{GrantPlan, NewCode, NewRefresh, Redemption};

/// Code "h" with challenge "c" (S256) for the test redirect URI, valid for a minute.
async fn insert_code(
    app: &TestApp,
    user_id: &str,
    client_id: &str,
    scope: &str,
    nonce: Option<&str>,
    now: i64,
) {
    app.store
        .insert_code(&NewCode {
            code_hash: "h",
            client_id,
            user_id,
            redirect_uri: REDIRECT_URI,
            scope,
            resource: "",
            nonce,
            code_challenge: "c",
            code_challenge_method: "S256",
            session_key: None,
            auth_time: now,
            amr: "pwd",
            expires_at: now + 60,
            created_at: now,
            dpop_jkt: None,
        })
        .await
        .unwrap();
}

async fn code_is_consumed_exactly_once_under_concurrency(app: TestApp) {
    let user = app.create_user("alice").await;
    let client = app.create_client().await;
    let now = app.clock.now();
    insert_code(&app, &user.id, &client.id, "openid", None, now).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = app.store.clone();
        let id = client.id.clone();
        tasks.push(tokio::spawn(async move {
            store
                .consume_code("h", &id, REDIRECT_URI, "c", "S256", now)
                .await
                .unwrap()
        }));
    }
    let mut won = 0;
    for t in tasks {
        if t.await.unwrap().is_some() {
            won += 1;
        }
    }
    assert_eq!(won, 1);
    assert!(app.store.code_was_consumed("h").await.unwrap());
}

/// A code redemption writes its grant and first refresh token with the consumption, and a
/// rotation its successor with the claim: under concurrency exactly one caller writes, whole.
async fn redemption_and_rotation_write_all_or_nothing(app: TestApp) {
    let user = app.create_user("alice").await;
    let client = app.create_client().await;
    let now = app.clock.now();
    insert_code(
        &app,
        &user.id,
        &client.id,
        "openid offline_access",
        Some("n"),
        now,
    )
    .await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = app.store.clone();
        let id = client.id.clone();
        tasks.push(tokio::spawn(async move {
            let redemption = Redemption {
                code_hash: "h",
                client_id: &id,
                redirect_uri: REDIRECT_URI,
                code_challenge: "c",
                code_challenge_method: "S256",
                now,
                dpop_jkt: None,
            };
            store
                .redeem_code(&redemption, |code| GrantPlan {
                    id: format!("grant-{i}"),
                    scope: code.scope.clone(),
                    resource: code.resource.clone(),
                    session_key: None,
                    expires_at: now + 3600,
                    refresh: Some(NewRefresh {
                        token_hash: format!("refresh-{i}"),
                        expires_at: now + 600,
                    }),
                    dpop_jkt: None,
                    sid: None,
                })
                .await
                .unwrap()
                .map(|(code, plan)| (code.nonce, plan.id))
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        winners.extend(t.await.unwrap());
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let (nonce, grant_id) = winners.remove(0);
    assert_eq!(nonce.as_deref(), Some("n"));
    let i = grant_id.trim_start_matches("grant-");
    for j in 0..8 {
        let found = app
            .store
            .find_refresh_token(&format!("refresh-{j}"))
            .await
            .unwrap();
        assert_eq!(found.is_some(), j.to_string() == i, "only the winner wrote");
    }
    let first = format!("refresh-{i}");
    let family = app.store.find_refresh_token(&first).await.unwrap().unwrap();
    assert_eq!(family.grant.id, grant_id);
    assert_eq!(family.grant.scope, "openid offline_access");

    let mut tasks = Vec::new();
    for k in 0..8 {
        let (store, id, first, grant_id) = (
            app.store.clone(),
            client.id.clone(),
            first.clone(),
            grant_id.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let successor = NewRefresh {
                token_hash: format!("next-{k}"),
                expires_at: now + 600,
            };
            store
                .rotate_refresh_token(&first, &id, &grant_id, &successor, Some("sealed"), now)
                .await
                .unwrap()
        }));
    }
    let mut claimed = 0;
    for t in tasks {
        claimed += usize::from(t.await.unwrap());
    }
    assert_eq!(claimed, 1);
    let mut successors = Vec::new();
    for k in 0..8 {
        let hash = format!("next-{k}");
        if app.store.find_refresh_token(&hash).await.unwrap().is_some() {
            successors.push(hash);
        }
    }
    assert_eq!(successors.len(), 1, "one successor, from the one claim");
    let rotated = app.store.find_refresh_token(&first).await.unwrap().unwrap();
    assert!(rotated.rotated_at.is_some());
    assert_eq!(rotated.replay_response.as_deref(), Some("sealed"));
    // Only its own client can rotate the successor; a refused rotation writes nothing.
    let successor = NewRefresh {
        token_hash: "third".into(),
        expires_at: now + 600,
    };
    for (client_id, claims) in [("other-client", false), (client.id.as_str(), true)] {
        assert_eq!(
            app.store
                .rotate_refresh_token(&successors[0], client_id, &grant_id, &successor, None, now)
                .await
                .unwrap(),
            claims
        );
        assert_eq!(
            app.store
                .find_refresh_token("third")
                .await
                .unwrap()
                .is_some(),
            claims
        );
    }
}

async fn clients_round_trip_and_delete(app: TestApp) {
    let c = app
        .create_client_with(
            true,
            &["http://127.0.0.1/cb", REDIRECT_URI],
            &["https://api.example.com"],
            true,
        )
        .await;
    let found = app.store.find_client(&c.id).await.unwrap().unwrap();
    assert!(found.is_public() && found.skip_consent);
    assert_eq!(found.redirect_uris, ["http://127.0.0.1/cb", REDIRECT_URI]);
    assert_eq!(found.audiences, ["https://api.example.com"]);
    assert_eq!(app.store.list_clients().await.unwrap().len(), 1);
    app.store.delete_client(&c.id).await.unwrap();
    assert!(app.store.find_client(&c.id).await.unwrap().is_none());
    assert!(app.store.delete_client(&c.id).await.is_err());
}

async fn usernames_are_unique(app: TestApp) {
    app.create_user("alice").await;
    let again = gatehouse::accounts::create_user(
        &app.store,
        &gatehouse::accounts::password::Hasher::default(),
        gatehouse::accounts::NewUser {
            username: "alice",
            email: None,
            email_verified: false,
            name: None,
        },
        PASSWORD,
        0,
    )
    .await;
    assert!(matches!(
        again,
        Err(gatehouse::accounts::AccountError::UsernameTaken)
    ));
    assert_eq!(app.store.count_users().await.unwrap(), 1);
}

async fn expired_rows_are_swept(app: TestApp) {
    app.create_user("alice").await;
    let client = app.create_client().await;
    let b = browser();
    let (code, verifier) = app
        .get_code(&b, &client, "openid offline_access", "alice")
        .await;
    let tokens: serde_json::Value = app
        .exchange(&client, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let rt = gatehouse::crypto::hash_secret(tokens["refresh_token"].as_str().unwrap());
    assert!(app.store.find_refresh_token(&rt).await.unwrap().is_some());
    let (code, _) = app.get_code(&b, &client, "openid", "alice").await;
    let hash = gatehouse::crypto::hash_secret(&code);
    app.clock.advance(31 * 86400);
    assert!(
        app.store
            .delete_expired(app.clock.now(), 600, 0, 2, 8 * 3600)
            .await
            .unwrap()
            >= 3
    );
    assert!(
        app.store
            .consume_code(&hash, &client.id, REDIRECT_URI, "x", "S256", 0)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        app.store.find_refresh_token(&rt).await.unwrap().is_none(),
        "expired families are removed"
    );
}

async fn bootstrap_admin_is_created_once(app: TestApp) {
    let pw = gatehouse::startup::ensure_admin(&app.store, None, 0)
        .await
        .unwrap();
    assert_eq!(pw.as_deref().map(str::len), Some(43));
    assert!(
        gatehouse::startup::ensure_admin(&app.store, None, 0)
            .await
            .unwrap()
            .is_none()
    );
    let users = app.store.list_users().await.unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].username, "admin");
}

/// A change made from an old revision is refused, and the stored one is untouched.
async fn client_changes_need_the_current_revision(app: TestApp) {
    let c = app.create_client().await;
    let mut first = app.store.find_client_fresh(&c.id).await.unwrap().unwrap();
    let mut second = first.clone();
    first.name = "First".into();
    app.store.update_client(&mut first).await.unwrap();
    assert_eq!(first.revision, second.revision + 1);
    second.name = "Second".into();
    assert!(matches!(
        app.store.update_client(&mut second).await,
        Err(gatehouse::store::Error::Conflict(gatehouse::store::CHANGED))
    ));
    let stored = app.store.find_client_fresh(&c.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.name.as_str(), stored.revision),
        ("First", first.revision)
    );
    app.store.delete_client(&c.id).await.unwrap();
    assert!(matches!(
        app.store.update_client(&mut first).await,
        Err(gatehouse::store::Error::NotFound)
    ));
}

/// Users too: a profile change or deletion made from an old revision is refused.
async fn user_changes_need_the_current_revision(app: TestApp) {
    let u = app.create_user("ann").await;
    let mut first = app.store.find_user(&u.id).await.unwrap().unwrap();
    let mut second = first.clone();
    first.name = Some("First".into());
    app.store.update_user_profile(&first, 1).await.unwrap();
    second.name = Some("Second".into());
    assert!(matches!(
        app.store.update_user_profile(&second, 2).await,
        Err(gatehouse::store::Error::Conflict(gatehouse::store::CHANGED))
    ));
    let stored = app.store.find_user(&u.id).await.unwrap().unwrap();
    assert_eq!(stored.name.as_deref(), Some("First"));
    assert_eq!(stored.revision, first.revision + 1);
    assert!(matches!(
        app.store.delete_user_at(&u.id, Some(first.revision)).await,
        Err(gatehouse::store::Error::Conflict(gatehouse::store::CHANGED))
    ));
    app.store
        .delete_user_at(&u.id, Some(stored.revision))
        .await
        .unwrap();
    assert!(app.store.find_user(&u.id).await.unwrap().is_none());
}

/// Two administrators removing each other at once: one of them stays, on either backend.
async fn the_last_admin_stays(app: TestApp) {
    let a = app.create_user("ann").await;
    let b = app.create_user("ben").await;
    for u in [&a, &b] {
        app.store.set_user_admin(&u.id, true).await.unwrap();
    }
    let (ra, rb) = tokio::join!(
        app.store.set_user_admin(&a.id, false),
        app.store.set_user_admin(&b.id, false)
    );
    assert!(
        ra.is_ok() != rb.is_ok(),
        "exactly one revocation succeeds: {ra:?} {rb:?}"
    );
    let left = if ra.is_ok() { &b } else { &a };
    assert!(app.store.user_is_admin(&left.id).await.unwrap());
    for r in [
        app.store.set_user_disabled_by_id(&left.id, true).await,
        app.store.delete_user(&left.id).await,
    ] {
        assert!(matches!(
            r,
            Err(gatehouse::store::Error::Conflict(
                gatehouse::store::LAST_ADMIN
            ))
        ));
    }
    // A disabled admin does not count as the one left.
    let other = if ra.is_ok() { &a } else { &b };
    app.store.set_user_admin(&other.id, true).await.unwrap();
    app.store
        .set_user_disabled_by_id(&other.id, true)
        .await
        .unwrap();
    assert!(app.store.set_user_admin(&left.id, false).await.is_err());
    app.store
        .set_user_disabled_by_id(&other.id, false)
        .await
        .unwrap();
    app.store.delete_user(&left.id).await.unwrap();
    assert!(app.store.find_user(&left.id).await.unwrap().is_none());
}

/// The audit log: written through the journal, read back by each filter, swept by age.
async fn audit_rows_round_trip(app: TestApp) {
    use gatehouse::audit::Event;
    use gatehouse::store::AuditQuery;
    let j = app.store.journal();
    j.emit(Event::ClientCreated, "cli", "client:a", None);
    app.clock.advance(5);
    j.emit(
        Event::LoginFailed,
        "anonymous",
        "username-pseudonym:x",
        Some("192.0.2.1"),
    );
    j.emit(
        Event::ClientDeleted,
        "user:u1",
        "client:a",
        Some("192.0.2.2"),
    );
    // The three newest: start-up's key events come before them.
    let all = app
        .store
        .audit_events(&AuditQuery {
            limit: 3,
            ..Default::default()
        })
        .await
        .unwrap();
    let names: Vec<&str> = all.iter().map(|r| r.event.as_str()).collect();
    assert_eq!(names, ["client.deleted", "login.failed", "client.created"]);
    assert_eq!(all[1].outcome, "failure");
    assert_eq!(all[1].address.as_deref(), Some("192.0.2.1"));
    assert_eq!(all[2].address, None);
    let q = |f: fn(&mut AuditQuery)| {
        let mut q = AuditQuery {
            limit: 10,
            ..Default::default()
        };
        f(&mut q);
        q
    };
    let count = |rows: Vec<gatehouse::audit::Record>| rows.len();
    let s = &app.store;
    assert_eq!(
        count(
            s.audit_events(&q(|q| q.target = Some("client:a".into())))
                .await
                .unwrap()
        ),
        2
    );
    assert_eq!(
        count(
            s.audit_events(&q(|q| q.actor = Some("user:u1".into())))
                .await
                .unwrap()
        ),
        1
    );
    assert_eq!(
        count(
            s.audit_events(&q(|q| q.event = Some("login.failed".into())))
                .await
                .unwrap()
        ),
        1
    );
    let first_at = all[2].at;
    let mut until = q(|_| {});
    until.until = Some(first_at);
    assert!(
        s.audit_events(&until)
            .await
            .unwrap()
            .iter()
            .all(|r| r.event != "login.failed")
    );
    let mut since = q(|_| {});
    since.since = Some(first_at + 1);
    assert_eq!(count(s.audit_events(&since).await.unwrap()), 2);
    let mut page = q(|_| {});
    page.before = Some(all[0].id.clone());
    page.limit = 1;
    assert_eq!(s.audit_events(&page).await.unwrap()[0].id, all[1].id);
    assert!(s.delete_old_audit(first_at + 1).await.unwrap() >= 1);
    assert_eq!(count(s.audit_events(&q(|_| {})).await.unwrap()), 2);
}

/// Senders on several replicas claim queued mail: each message goes to exactly one of them,
/// and a claim left by a sender that died is taken over once its lease has passed.
async fn queued_mail_is_claimed_once(app: TestApp) {
    let now = app.clock.now();
    for i in 0..20 {
        app.store
            .insert_mail(&format!("m{i:02}"), "sealed", now, now + 600)
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let store = app.store.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while let Some(m) = store.claim_due_mail(now, now + 120).await.unwrap() {
                assert_eq!(m.attempts, 1);
                mine.push(m.id);
            }
            mine
        }));
    }
    let mut claimed = Vec::new();
    for t in tasks {
        claimed.extend(t.await.unwrap());
    }
    claimed.sort();
    let expected: Vec<String> = (0..20).map(|i| format!("m{i:02}")).collect();
    assert_eq!(claimed, expected, "every message claimed exactly once");
    // Sent ones leave the queue. The last is due again only once its lease runs out, and then
    // its second attempt is counted.
    for id in &claimed[1..] {
        app.store.delete_mail(id).await.unwrap();
    }
    assert!(
        app.store
            .claim_due_mail(now + 60, now + 180)
            .await
            .unwrap()
            .is_none()
    );
    let retaken = app
        .store
        .claim_due_mail(now + 121, now + 240)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(retaken.attempts, 2);
    // A retried message waits for its time; an expired one is never claimed, and is swept.
    app.store.retry_mail(&retaken.id, now + 500).await.unwrap();
    assert!(
        app.store
            .claim_due_mail(now + 499, now + 600)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        app.store
            .claim_due_mail(now + 601, now + 700)
            .await
            .unwrap()
            .is_none()
    );
    app.store
        .delete_expired(now + 601, 0, now, 0, 8 * 3600)
        .await
        .unwrap();
    assert_eq!(app.store.mail_backlog().await.unwrap(), (0, 0));
}

/// A session's back-channel clients are queued once however many replicas end it, each logout
/// is claimed once, and the records of a session that is gone are swept.
async fn session_logouts_are_queued_once(app: TestApp) {
    // Ahead of the server's own sender, which would deliver (drop) what it finds due.
    let now = app.clock.now() + 100_000;
    let store = &app.store;
    for client in ["a", "b"] {
        // Recorded again on each code: one row per client.
        for _ in 0..2 {
            store
                .record_session_client("s1", client, "u1", "sid-1", now)
                .await
                .unwrap();
        }
    }
    store
        .record_session_client("s2", "a", "u2", "sid-2", now)
        .await
        .unwrap();
    let ends: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.queue_session_logouts("s1", now).await })
        })
        .collect();
    let mut queued = 0;
    for e in ends {
        queued += e.await.unwrap().unwrap();
    }
    assert_eq!(queued, 2);
    assert_eq!(store.logout_backlog().await.unwrap(), (2, 0));
    let mut claimed = Vec::new();
    while let Some(l) = store.claim_due_logout(now, now + 60).await.unwrap() {
        assert_eq!(
            (l.user_id.as_str(), l.sid.as_str(), l.attempts),
            ("u1", "sid-1", 1)
        );
        claimed.push(l.client_id);
    }
    claimed.sort();
    assert_eq!(claimed, ["a", "b"]);
    // A live session keeps its records however old; s2 has none, and its record outlives it
    // by one session lifetime at most.
    store
        .record_session_client("s4", "a", "u4", "sid-4", now)
        .await
        .unwrap();
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&app.config.database_url())
        .await
        .unwrap();
    sqlx::query(
        "insert into sessions (id, data, expires_at, user_id, session_key) \
         values ('row-4', '{}', $1, 'u4', 's4')",
    )
    .bind(now + 10_000)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    store.delete_expired(now, 0, now, 0, 3600).await.unwrap();
    assert_eq!(store.queue_session_logouts("s2", now).await.unwrap(), 1);
    store
        .record_session_client("s3", "a", "u3", "sid-3", now)
        .await
        .unwrap();
    store
        .delete_expired(now + 3601, 0, now, 0, 3600)
        .await
        .unwrap();
    assert_eq!(store.queue_session_logouts("s3", now).await.unwrap(), 0);
    assert_eq!(store.queue_user_logouts("u4", None, now).await.unwrap(), 1);
    // Undelivered past the window: swept.
    store
        .delete_expired(
            now + gatehouse::store::LOGOUT_DELIVERY_WINDOW + 1,
            0,
            now,
            0,
            3600,
        )
        .await
        .unwrap();
    assert_eq!(store.logout_backlog().await.unwrap(), (0, 0));
}

/// A single-use JWT id is accepted once, even by concurrent requests, until it expires.
async fn seen_jwts_are_single_use(app: TestApp) {
    let now = app.clock.now();
    let tries: Vec<_> = (0..8)
        .map(|_| {
            let store = app.store.clone();
            tokio::spawn(async move { store.record_seen_jwt("jti-hash", now + 60).await })
        })
        .collect();
    let mut fresh = 0;
    for t in tries {
        if t.await.unwrap().unwrap() {
            fresh += 1;
        }
    }
    assert_eq!(fresh, 1);
    app.store
        .delete_expired(now + 61, 0, now, 0, 3600)
        .await
        .unwrap();
    assert!(
        app.store
            .record_seen_jwt("jti-hash", now + 120)
            .await
            .unwrap()
    );
}

/// A link is used once, even by concurrent requests; a newer one voids the older.
async fn account_links_are_single_use(app: TestApp) {
    let user = app.create_user("alice").await;
    let now = app.clock.now();
    let link = |purpose: &str| gatehouse::store::AccountLink {
        purpose: purpose.into(),
        user_id: Some(user.id.clone()),
        email: "someone@example.com".into(),
        flow_id: None,
        created_by: "test".into(),
        created_at: now,
        expires_at: now + 900,
    };
    app.store
        .insert_account_link("old", &link("reset"))
        .await
        .unwrap();
    app.store
        .insert_account_link("verify", &link("verify"))
        .await
        .unwrap();
    app.store
        .insert_account_link("new", &link("reset"))
        .await
        .unwrap();
    assert!(
        app.store
            .find_account_link("old", "reset", now)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        app.store
            .find_account_link("verify", "verify", now)
            .await
            .unwrap()
            .is_some(),
        "another kind stays"
    );
    assert!(
        app.store
            .find_account_link("new", "verify", now)
            .await
            .unwrap()
            .is_none(),
        "kinds do not mix"
    );
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = app.store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .take_account_link("new", "reset", now)
                .await
                .unwrap()
                .is_some()
        }));
    }
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap());
    }
    assert_eq!(wins, 1);
    assert!(
        app.store
            .take_account_link("verify", "verify", now + 901)
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
}

/// Of concurrent requests for one recipient's turn, one gets it; the next turn comes once it
/// has run out.
async fn a_turn_goes_to_one_request(app: TestApp) {
    let now = app.clock.now();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = app.store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .take_turn("mail-user:x", now, now + 300)
                .await
                .unwrap()
        }));
    }
    let mut won = 0;
    for t in tasks {
        won += usize::from(t.await.unwrap());
    }
    assert_eq!(won, 1);
    assert!(
        !app.store
            .take_turn("mail-user:x", now + 299, now + 599)
            .await
            .unwrap()
    );
    assert!(
        app.store
            .take_turn("mail-user:x", now + 300, now + 600)
            .await
            .unwrap()
    );
    assert!(
        app.store
            .take_turn("mail-user:y", now, now + 300)
            .await
            .unwrap(),
        "keys apart"
    );
}

/// APIs, roles and groups: a scope belongs to one API, a failed write leaves nothing, deletes
/// cascade, and a user's access is the union of direct and group roles.
async fn access_rows_keep_their_invariants(app: TestApp) {
    use gatehouse::domain::{Api, ApiScope, Group, Role};
    let s = &app.store;
    let scope = |name: &str| ApiScope {
        name: name.into(),
        description: format!("words for {name}"),
    };
    let api = |id: &str, scopes: Vec<ApiScope>| Api {
        id: id.into(),
        identifier: format!("https://{id}.example"),
        name: id.into(),
        scopes,
        created_at: 1,
        updated_at: 1,
    };
    s.insert_api(&api(
        "tasks",
        vec![scope("tasks:read"), scope("tasks:write")],
    ))
    .await
    .unwrap();
    // Another API may not take a scope name, and its failed insert leaves no API behind.
    let taken = s
        .insert_api(&api(
            "other",
            vec![scope("other:read"), scope("tasks:read")],
        ))
        .await;
    assert!(
        matches!(taken, Err(gatehouse::store::Error::Conflict(_))),
        "{taken:?}"
    );
    assert!(s.find_api("other").await.unwrap().is_none());
    assert!(s.apis_for(&["other:read"], &[]).await.unwrap().is_empty());
    let found = s
        .apis_for(&["tasks:write", "nope"], &["https://none.example"])
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].scopes.len(), 2, "each API with all its scopes");
    let role = |id: &str, scopes: &[&str]| Role {
        id: id.into(),
        name: id.into(),
        description: String::new(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        created_at: 1,
    };
    s.insert_role(&role("editor", &["tasks:read", "tasks:write"]))
        .await
        .unwrap();
    s.insert_role(&role("reader", &["tasks:read"]))
        .await
        .unwrap();
    let dup = s.insert_role(&role("reader", &[])).await;
    assert!(matches!(dup, Err(gatehouse::store::Error::Conflict(_))));
    s.insert_group(
        &Group {
            id: "g1".into(),
            name: "team-a".into(),
            description: String::new(),
            roles: vec![],
            created_at: 1,
        },
        &["editor".into()],
    )
    .await
    .unwrap();
    let alice = app.create_user("alice").await;
    assert!(s.set_group_member("g1", &alice.id, true).await.unwrap());
    assert!(
        !s.set_group_member("g1", &alice.id, true).await.unwrap(),
        "already in"
    );
    assert!(s.set_user_role(&alice.id, "reader", true).await.unwrap());
    let access = s.user_access(&alice.id).await.unwrap();
    assert_eq!(access.groups, ["team-a"]);
    assert_eq!(access.scopes(), ["tasks:read", "tasks:write"]);
    let editor = &access.roles[0];
    assert_eq!(
        (editor.name.as_str(), editor.direct, editor.via.as_slice()),
        ("editor", false, &["team-a".to_string()][..])
    );
    assert!(access.roles[1].direct);
    // A scope the API drops leaves the roles and the remembered consents (and only that name:
    // `_` in it matches no other character); a deleted API takes the rest.
    let client = app.create_client().await;
    s.upsert_consent(
        &alice.id,
        &client.id,
        "openid tasks:write tasksxw tasks:read",
        1,
    )
    .await
    .unwrap();
    s.update_api(
        "tasks",
        "Tasks",
        2,
        &[scope("tasks_w")],
        &["tasks:write".into()],
    )
    .await
    .unwrap();
    assert_eq!(
        s.find_role("editor").await.unwrap().unwrap().scopes,
        ["tasks:read"]
    );
    assert_eq!(
        s.find_consent(&alice.id, &client.id)
            .await
            .unwrap()
            .unwrap(),
        "openid tasksxw tasks:read"
    );
    assert_eq!(s.find_api("tasks").await.unwrap().unwrap().scopes.len(), 2);
    assert!(s.delete_api("tasks").await.unwrap());
    assert!(
        s.find_role("editor")
            .await
            .unwrap()
            .unwrap()
            .scopes
            .is_empty()
    );
    assert_eq!(
        s.find_consent(&alice.id, &client.id)
            .await
            .unwrap()
            .unwrap(),
        "openid tasksxw"
    );
    // Deleting the user or the group ends the memberships.
    assert!(s.delete_group("g1").await.unwrap());
    let access = s.user_access(&alice.id).await.unwrap();
    assert!(access.groups.is_empty());
    assert_eq!(access.roles.len(), 1);
    assert!(s.role_holders("reader").await.unwrap().len() == 1);
}

/// Polls `fut` `polls` times, letting the runtime turn between polls, then drops it unfinished
/// (as hyper does when a client goes away, or a timeout fires).
async fn abandon_after<F: std::future::Future>(fut: F, polls: usize) {
    let mut fut = std::pin::pin!(fut);
    for _ in 0..polls {
        let done =
            std::future::poll_fn(|cx| std::task::Poll::Ready(fut.as_mut().poll(cx).is_ready()))
                .await;
        if done {
            return;
        }
        tokio::task::yield_now().await;
    }
}

/// A request dropped in the middle of a write transaction (here, while its BEGIN is on the
/// wire) must not hand the pool a connection still inside that transaction: the writes that
/// connection carries next would sit uncommitted, unseen by everyone else, until a later
/// ROLLBACK threw them away. Each autocommit write after an abandoned transaction must be
/// visible at once from another connection.
async fn abandoned_transactions_lose_no_later_write(app: TestApp) {
    use sqlx::Connection;
    let user = app.create_user("alice").await;
    let mut outside = sqlx::AnyConnection::connect(&app.config.database_url())
        .await
        .unwrap();
    let mut disabled = false;
    for polls in 0..60 {
        abandon_after(app.store.delete_api("no-such-api"), polls % 30 + 1).await;
        // The pool takes a dropped connection back in a task of its own.
        tokio::time::sleep(std::time::Duration::from_millis(if polls < 30 {
            1
        } else {
            10
        }))
        .await;
        for _ in 0..4 {
            disabled = !disabled;
            app.store
                .set_user_disabled_by_id(&user.id, disabled)
                .await
                .unwrap();
            let seen: i64 = sqlx::query_scalar("select disabled from users where id = $1")
                .bind(&user.id)
                .fetch_one(&mut outside)
                .await
                .unwrap();
            assert_eq!(
                seen == 1,
                disabled,
                "a write after abandoning a transaction at poll {} is not committed",
                polls % 30 + 1
            );
        }
    }
}

crate::backend_tests!(
    abandoned_transactions_lose_no_later_write,
    access_rows_keep_their_invariants,
    a_turn_goes_to_one_request,
    queued_mail_is_claimed_once,
    session_logouts_are_queued_once,
    seen_jwts_are_single_use,
    account_links_are_single_use,
    client_changes_need_the_current_revision,
    user_changes_need_the_current_revision,
    the_last_admin_stays,
    audit_rows_round_trip,
    redemption_and_rotation_write_all_or_nothing,
    code_is_consumed_exactly_once_under_concurrency,
    clients_round_trip_and_delete,
    usernames_are_unique,
    expired_rows_are_swept,
    bootstrap_admin_is_created_once,
);
