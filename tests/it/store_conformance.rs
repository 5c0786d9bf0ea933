//! The same store behaviour on every backend.
use crate::helpers::*;
use gatehouse::store::NewCode;

async fn code_is_consumed_exactly_once_under_concurrency(app: TestApp) {
    let user = app.create_user("alice").await;
    let client = app.create_client().await;
    let now = app.clock.now();
    app.store
        .insert_code(&NewCode {
            code_hash: "h",
            client_id: &client.id,
            user_id: &user.id,
            redirect_uri: REDIRECT_URI,
            scope: "openid",
            nonce: None,
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
    code_is_consumed_exactly_once_under_concurrency,
    clients_round_trip_and_delete,
    usernames_are_unique,
    expired_rows_are_swept,
    bootstrap_admin_is_created_once,
);
