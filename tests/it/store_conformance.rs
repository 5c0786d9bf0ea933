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
            nonce,
            code_challenge: "c",
            code_challenge_method: "S256",
            session_key: None,
            auth_time: now,
            amr: "pwd",
            expires_at: now + 60,
            created_at: now,
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
            };
            store
                .redeem_code(&redemption, |code| GrantPlan {
                    id: format!("grant-{i}"),
                    scope: code.scope.clone(),
                    session_key: None,
                    expires_at: now + 3600,
                    refresh: Some(NewRefresh {
                        token_hash: format!("refresh-{i}"),
                        expires_at: now + 600,
                    }),
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
            .delete_expired(app.clock.now(), 600, 0, 2)
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

crate::backend_tests!(
    redemption_and_rotation_write_all_or_nothing,
    code_is_consumed_exactly_once_under_concurrency,
    clients_round_trip_and_delete,
    usernames_are_unique,
    expired_rows_are_swept,
    bootstrap_admin_is_created_once,
);
