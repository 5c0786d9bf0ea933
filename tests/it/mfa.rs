//! Two-step sign-in: authenticator codes (RFC 6238) under the test clock, recovery codes,
//! step-up with `acr_values`, `amr`/`acr` in tokens, and the MFA policies.
use crate::helpers::*;
use gatehouse::accounts::mfa::{STEP, code_at};
use gatehouse::crypto::random_token;
use gatehouse::domain::Acr;
use gatehouse::oauth::pkce::s256_challenge;

/// Signs in on Gatehouse's own login page (no application): lands on /account or, with a
/// second factor enrolled, on the factor page.
pub(crate) async fn sign_in_directly(app: &TestApp, b: &reqwest::Client, username: &str) -> String {
    let resp = app.submit_login(b, "/login", username, PASSWORD).await;
    assert_eq!(resp.status(), 303);
    location(&resp)
}

fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let i = html.find(start).expect("start marker") + start.len();
    let j = html[i..].find(end).expect("end marker") + i;
    &html[i..j]
}

/// Enrols an authenticator app on /account; returns its secret and the recovery codes shown.
pub(crate) async fn enrol_totp(app: &TestApp, b: &reqwest::Client) -> (Vec<u8>, Vec<String>) {
    let page = app.get(b, "/account/totp").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<svg"), "the QR code is inline SVG");
    let b32 = between(&html, r#"<code class="secret">"#, "</code>").to_owned();
    let secret = totp_rs::Secret::Encoded(b32).to_bytes().unwrap();
    let csrf = hidden(&html, "csrf");
    // A wrong first code enrols nothing.
    let wrong = b
        .post(app.url("/account/totp"))
        .form(&[("csrf", csrf.as_str()), ("code", "000000")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 422);
    assert!(!any_totp(app).await, "a wrong first code enrols nothing");
    let code = code_at(&secret, app.clock.now()).unwrap();
    let done = b
        .post(app.url("/account/totp"))
        .form(&[("csrf", csrf.as_str()), ("code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    assert_eq!(
        done.headers()["cache-control"],
        "no-store",
        "recovery codes are never cached"
    );
    let html = done.text().await.unwrap();
    let codes: Vec<String> = html
        .split("<li><code>")
        .skip(1)
        .map(|s| s.split("</code>").next().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10, "ten recovery codes, shown once");
    (secret, codes)
}

/// Signs alice in with her password and a recovery code on Gatehouse's own pages; returns the
/// status of the code's submission.
pub(crate) async fn sign_in_with_recovery_code(app: &TestApp, code: &str) -> u16 {
    let b = browser();
    let loc = sign_in_directly(app, &b, "alice").await;
    assert_eq!(loc, "/login/factor");
    submit_code(app, &b, &loc, code).await.status().as_u16()
}

async fn alice_id(app: &TestApp) -> String {
    app.store
        .find_user_credentials("alice")
        .await
        .unwrap()
        .unwrap()
        .0
        .id
}

/// True once any user has a confirmed authenticator app.
async fn any_totp(app: &TestApp) -> bool {
    for u in app.store.list_users().await.unwrap() {
        if app.store.factor_summary(&u.id).await.unwrap().totp {
            return true;
        }
    }
    false
}

pub(crate) async fn sign_out(app: &TestApp, b: &reqwest::Client) {
    let html = app.get(b, "/account").await.text().await.unwrap();
    let csrf = hidden(&html, "csrf");
    let resp = b
        .post(app.url("/logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success() || resp.status().is_redirection());
}

/// Submits a code on the factor page at `loc`.
pub(crate) async fn submit_code(
    app: &TestApp,
    b: &reqwest::Client,
    loc: &str,
    code: &str,
) -> reqwest::Response {
    let page = app.get(b, loc).await;
    assert_eq!(page.status(), 200, "factor page at {loc}");
    let html = page.text().await.unwrap();
    let mut form = vec![("csrf", hidden(&html, "csrf")), ("code", code.to_owned())];
    if let Some(flow) = maybe_hidden(&html, "flow") {
        form.push(("flow", flow));
    }
    b.post(app.url("/login/factor"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// Starts an authorization request and signs in with the password; returns where the browser
/// goes next and the PKCE verifier.
pub(crate) async fn start_flow(
    app: &TestApp,
    b: &reqwest::Client,
    client: &TestClient,
    extra: &[(&str, &str)],
) -> (String, String) {
    let verifier = random_token();
    let challenge = s256_challenge(&verifier);
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", client.id.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid"),
        ("state", "st"),
        ("nonce", "n0"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    params.extend_from_slice(extra);
    let mut resp = app.authorize(b, &params).await;
    let mut loc = location(&resp);
    if loc.starts_with("/login?") {
        resp = app.submit_login(b, &loc, "alice", PASSWORD).await;
        assert_eq!(resp.status(), 303);
        loc = location(&resp);
    }
    (loc, verifier)
}

/// Exchanges the code in a client redirect and returns the ID token's claims.
async fn id_token_claims(
    app: &TestApp,
    client: &TestClient,
    redirect: &str,
    verifier: &str,
) -> serde_json::Value {
    assert!(redirect.starts_with(REDIRECT_URI), "got {redirect}");
    let code = param(&query_of(redirect), "code").expect("code");
    let resp = app.exchange(client, &code, verifier).await;
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    jwt_claims(body["id_token"].as_str().unwrap())
}

async fn amr_of(claims: &serde_json::Value) -> Vec<String> {
    let mut v: Vec<String> = claims["amr"]
        .as_array()
        .expect("amr")
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v
}

async fn totp_codes_sign_in(app: TestApp) {
    app.create_user("alice").await;
    let client = app
        .create_client_with(false, &[REDIRECT_URI], &[], true)
        .await;
    let b = browser();
    assert_eq!(sign_in_directly(&app, &b, "alice").await, "/account");
    let (secret, _) = enrol_totp(&app, &b).await;
    sign_out(&app, &b).await;
    // Past the enrolment code's step, and the one after it.
    app.clock.advance(2 * STEP);

    // From now on the password alone does not finish a sign-in.
    let b = browser();
    let (loc, verifier) = start_flow(&app, &b, &client, &[]).await;
    assert!(loc.starts_with("/login/factor?flow="), "got {loc}");
    let account = app.get(&b, "/account").await;
    assert_eq!(
        location(&account),
        "/login",
        "half a sign-in is not a session"
    );

    let wrong = submit_code(&app, &b, &loc, "123456").await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.text().await.unwrap().contains("not right"));
    // Two steps away is outside the window.
    let too_early = code_at(&secret, app.clock.now() - 2 * STEP).unwrap();
    assert_eq!(submit_code(&app, &b, &loc, &too_early).await.status(), 401);

    // One step early is accepted (clock drift).
    let early = code_at(&secret, app.clock.now() - STEP).unwrap();
    let resp = submit_code(&app, &b, &loc, &early).await;
    assert_eq!(resp.status(), 303);
    let claims = id_token_claims(&app, &client, &location(&resp), &verifier).await;
    assert_eq!(amr_of(&claims).await, ["mfa", "otp", "pwd"]);
    assert_eq!(claims["acr"], Acr::MULTI);
    sign_out(&app, &b).await;

    // The same code again is refused: a code is good once.
    let b = browser();
    let (loc, _) = start_flow(&app, &b, &client, &[]).await;
    let replay = submit_code(&app, &b, &loc, &early).await;
    assert_eq!(replay.status(), 401);
    assert!(replay.text().await.unwrap().contains("already used"));
    // And so is any code of a step before the one accepted.
    let current = code_at(&secret, app.clock.now() - STEP).unwrap();
    assert_eq!(submit_code(&app, &b, &loc, &current).await.status(), 401);
    // One step late (the phone runs ahead) is accepted.
    let late = code_at(&secret, app.clock.now() + STEP).unwrap();
    let resp = submit_code(&app, &b, &loc, &late).await;
    assert_eq!(resp.status(), 303);
    assert!(location(&resp).starts_with(REDIRECT_URI));
}

async fn code_attempts_are_throttled(app: TestApp) {
    app.create_user("alice").await;
    let client = app
        .create_client_with(false, &[REDIRECT_URI], &[], true)
        .await;
    let b = browser();
    sign_in_directly(&app, &b, "alice").await;
    let (secret, _) = enrol_totp(&app, &b).await;
    sign_out(&app, &b).await;
    app.clock.advance(STEP);
    let b = browser();
    let (loc, _) = start_flow(&app, &b, &client, &[]).await;
    for _ in 0..5 {
        assert_eq!(submit_code(&app, &b, &loc, "000000").await.status(), 401);
    }
    let blocked = submit_code(&app, &b, &loc, "000000").await;
    assert_eq!(blocked.status(), 429);
    assert!(blocked.headers().contains_key("retry-after"));
    // While blocked, even the right code waits.
    let right = code_at(&secret, app.clock.now()).unwrap();
    assert_eq!(submit_code(&app, &b, &loc, &right).await.status(), 429);
    // After the wait the right code works.
    app.clock.advance(5);
    let resp = submit_code(&app, &b, &loc, &right).await;
    assert_eq!(resp.status(), 303);
    assert!(location(&resp).starts_with(REDIRECT_URI));

    // `user unlock` clears the code counter too.
    let b = browser();
    app.clock.advance(STEP);
    let (loc, _) = start_flow(&app, &b, &client, &[]).await;
    for _ in 0..6 {
        submit_code(&app, &b, &loc, "000000").await;
    }
    assert_eq!(submit_code(&app, &b, &loc, "000000").await.status(), 429);
    gatehouse::accounts::unlock(&app.store, "alice")
        .await
        .unwrap();
    let right = code_at(&secret, app.clock.now()).unwrap();
    assert_eq!(submit_code(&app, &b, &loc, &right).await.status(), 303);
}

async fn recovery_code_signs_in_once(app: TestApp) {
    app.create_user("alice").await;
    let client = app
        .create_client_with(false, &[REDIRECT_URI], &[], true)
        .await;
    let b = browser();
    sign_in_directly(&app, &b, "alice").await;
    let (_, codes) = enrol_totp(&app, &b).await;
    sign_out(&app, &b).await;

    let b = browser();
    let (loc, verifier) = start_flow(&app, &b, &client, &[]).await;
    let resp = submit_code(&app, &b, &loc, &codes[3].to_uppercase()).await;
    assert_eq!(resp.status(), 303, "a recovery code signs in");
    let claims = id_token_claims(&app, &client, &location(&resp), &verifier).await;
    assert_eq!(amr_of(&claims).await, ["mfa", "otp", "pwd"]);
    sign_out(&app, &b).await;

    let b = browser();
    let (loc, _) = start_flow(&app, &b, &client, &[]).await;
    assert_eq!(
        submit_code(&app, &b, &loc, &codes[3]).await.status(),
        401,
        "never twice"
    );
    let resp = submit_code(&app, &b, &loc, &codes[4]).await;
    assert_eq!(resp.status(), 303);
    let html = app.get(&b, "/account").await.text().await.unwrap();
    assert!(html.contains("8 unused"), "two of ten spent");
}

/// `acr_values` asks a live password-only session for the factor; the ID token says so, as a
/// relying party reads it.
async fn acr_values_steps_up(app: TestApp) {
    app.create_user("alice").await;
    let client = app
        .create_client_with(false, &[REDIRECT_URI], &[], true)
        .await;
    let b = browser();
    // Signed in with the password before the app was enrolled: a single-factor session.
    sign_in_directly(&app, &b, "alice").await;
    let (secret, _) = enrol_totp(&app, &b).await;

    let (loc, verifier) = start_flow(&app, &b, &client, &[]).await;
    let claims = id_token_claims(&app, &client, &loc, &verifier).await;
    assert_eq!(amr_of(&claims).await, ["pwd"], "no step-up without asking");
    assert_eq!(claims["acr"], Acr::SINGLE);
    let first_auth_time = claims["auth_time"].as_i64().unwrap();

    app.clock.advance(90);
    let (loc, verifier) = start_flow(&app, &b, &client, &[("acr_values", Acr::MULTI)]).await;
    assert!(loc.starts_with("/login/factor?flow="), "step-up: {loc}");
    let code = code_at(&secret, app.clock.now()).unwrap();
    let resp = submit_code(&app, &b, &loc, &code).await;
    let claims = id_token_claims(&app, &client, &location(&resp), &verifier).await;
    assert_eq!(amr_of(&claims).await, ["mfa", "otp", "pwd"]);
    assert_eq!(claims["acr"], Acr::MULTI);
    assert!(
        claims["auth_time"].as_i64().unwrap() > first_auth_time,
        "the step-up is a fresh authentication"
    );

    // The session is now multi-factor: no second ask.
    let (loc, _) = start_flow(&app, &b, &client, &[("acr_values", Acr::MULTI)]).await;
    assert!(loc.starts_with(REDIRECT_URI));
    // max_age=0 re-asks the password, then the factor again.
    app.clock.advance(STEP);
    let (loc, _) = start_flow(
        &app,
        &b,
        &client,
        &[("acr_values", Acr::MULTI), ("max_age", "0")],
    )
    .await;
    assert!(loc.starts_with("/login/factor?flow="), "re-asked: {loc}");
}

/// A voluntary `acr_values` does not block a user without a factor; the token says what
/// happened instead.
async fn acr_values_without_factor_signs_in_single_factor(app: TestApp) {
    app.create_user("alice").await;
    let client = app
        .create_client_with(false, &[REDIRECT_URI], &[], true)
        .await;
    let b = browser();
    let (loc, verifier) = start_flow(&app, &b, &client, &[("acr_values", Acr::MULTI)]).await;
    let claims = id_token_claims(&app, &client, &loc, &verifier).await;
    assert_eq!(claims["acr"], Acr::SINGLE);
}

/// A client that requires MFA, and a user with no factor: a page that says so, never a code.
async fn client_policy_without_factor_shows_help(app: TestApp) {
    app.create_user("alice").await;
    let client = app
        .create_client_custom(false, |c| {
            c.skip_consent = true;
            c.require_mfa = true;
        })
        .await;
    let b = browser();
    let (loc, _) = start_flow(&app, &b, &client, &[]).await;
    assert!(loc.starts_with("/login/help?flow="), "got {loc}");
    let page = app.get(&b, &loc).await;
    assert_eq!(page.status(), 403);
    let html = page.text().await.unwrap();
    assert!(html.contains("requires"), "says why");
    assert!(html.contains(r#"href="/account""#), "and what to do");
    // Once a factor is set up, the same client signs in with it.
    let (secret, _) = enrol_totp(&app, &b).await;
    app.clock.advance(STEP);
    let (loc, verifier) = start_flow(&app, &b, &client, &[]).await;
    assert!(loc.starts_with("/login/factor"), "got {loc}");
    let resp = submit_code(&app, &b, &loc, &code_at(&secret, app.clock.now()).unwrap()).await;
    let claims = id_token_claims(&app, &client, &location(&resp), &verifier).await;
    assert_eq!(claims["acr"], Acr::MULTI);
}

/// Someone who cannot meet the requirement can go back: the client hears access_denied. With
/// prompt=none a needed second factor is interaction_required.
async fn unmet_requirement_goes_back_as_access_denied(app: TestApp) {
    app.create_user("alice").await;
    let client = app
        .create_client_custom(false, |c| {
            c.skip_consent = true;
            c.require_mfa = true;
        })
        .await;
    let b = browser();
    let (loc, _) = start_flow(&app, &b, &client, &[]).await;
    let html = app.get(&b, &loc).await.text().await.unwrap();
    let form = [
        ("csrf", hidden(&html, "csrf")),
        ("flow", hidden(&html, "flow")),
    ];
    let resp = b
        .post(app.url("/login/help"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let back = location(&resp);
    assert!(back.starts_with(REDIRECT_URI), "got {back}");
    assert_eq!(
        param(&query_of(&back), "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(param(&query_of(&back), "state").as_deref(), Some("st"));
    // Looking at the help page never finished the flow; giving up twice changes nothing.
    let again = b
        .post(app.url("/login/help"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400);

    let (loc, _) = start_flow(&app, &b, &client, &[("prompt", "none")]).await;
    assert!(loc.starts_with(REDIRECT_URI));
    assert_eq!(
        param(&query_of(&loc), "error").as_deref(),
        Some("interaction_required")
    );
}

/// Alice signs in with her password in `b` through a first-party client that may refresh;
/// returns the client and the refresh token, bound to that browser's session.
async fn session_bound_refresh_token(app: &TestApp, b: &reqwest::Client) -> (TestClient, String) {
    app.create_user("alice").await;
    let client = app
        .create_client_custom(false, |c| {
            c.skip_consent = true;
            c.grant_types.push(GrantType::RefreshToken);
        })
        .await;
    let (loc, verifier) = start_flow(app, b, &client, &[]).await;
    let code = param(&query_of(&loc), "code").unwrap();
    let tokens: serde_json::Value = app
        .exchange(&client, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    (client, refresh)
}

/// A refresh token from a password-only sign-in stops working once its client requires a
/// second factor.
async fn refresh_follows_a_new_mfa_requirement(app: TestApp) {
    let b = browser();
    let (client, refresh) = session_bound_refresh_token(&app, &b).await;
    let mut stored = app.store.find_client(&client.id).await.unwrap().unwrap();
    stored.require_mfa = true;
    app.store.update_client(&mut stored).await.unwrap();
    let resp = app
        .token(
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
}

/// Enrolling a factor ends the user's sessions in other browsers (a thief's password-only
/// session among them) and the refresh tokens bound to them; this browser stays signed in.
async fn a_new_factor_ends_other_sessions(app: TestApp) {
    let other = browser();
    let (client, refresh) = session_bound_refresh_token(&app, &other).await;
    assert_eq!(app.get(&other, "/account").await.status(), 200);

    let b = browser();
    sign_in_directly(&app, &b, "alice").await;
    enrol_totp(&app, &b).await;
    assert_eq!(
        app.get(&b, "/account").await.status(),
        200,
        "this browser stays"
    );
    let gone = app.get(&other, "/account").await;
    assert_eq!(location(&gone), "/login", "the other browser is signed out");
    let resp = app
        .token(
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(
        resp.status(),
        400,
        "its session-bound refresh token is revoked"
    );
}

/// An essential `acr` claim (OIDC Core §5.5.1.1) is a requirement, like the client policy.
async fn essential_acr_claim_is_required(app: TestApp) {
    app.create_user("alice").await;
    let client = app
        .create_client_with(false, &[REDIRECT_URI], &[], true)
        .await;
    let claims = format!(
        r#"{{"id_token":{{"acr":{{"essential":true,"values":["{}"]}}}}}}"#,
        Acr::MULTI
    );
    let b = browser();
    let (loc, _) = start_flow(&app, &b, &client, &[("claims", &claims)]).await;
    assert!(loc.starts_with("/login/help?flow="), "got {loc}");
}

/// Introspection reports how the user authenticated.
async fn introspection_reports_amr_and_acr(app: TestApp) {
    app.create_user("alice").await;
    let client = app
        .create_client_with(false, &[REDIRECT_URI], &[], true)
        .await;
    let b = browser();
    let (loc, verifier) = start_flow(&app, &b, &client, &[]).await;
    let code = param(&query_of(&loc), "code").unwrap();
    let tokens: serde_json::Value = app
        .exchange(&client, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let at = tokens["access_token"].as_str().unwrap();
    let info: serde_json::Value = app
        .http
        .post(app.url("/introspect"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&[("token", at)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["active"], true);
    assert_eq!(info["amr"], serde_json::json!(["pwd"]));
    assert_eq!(info["acr"], Acr::SINGLE);
    assert!(info["auth_time"].is_i64());
}

async fn discovery_lists_acr_values(app: TestApp) {
    let m = app.discovery().await;
    assert_eq!(
        m["acr_values_supported"],
        serde_json::json!([Acr::SINGLE, Acr::MULTI])
    );
    let claims = m["claims_supported"].as_array().unwrap();
    assert!(claims.iter().any(|c| c == "amr"));
    assert!(claims.iter().any(|c| c == "acr"));
}

/// Removing the only factor: the password alone signs in again, and the recovery codes go.
async fn removing_the_factor_restores_password_sign_in(app: TestApp) {
    app.create_user("alice").await;
    let b = browser();
    sign_in_directly(&app, &b, "alice").await;
    let (secret, _) = enrol_totp(&app, &b).await;
    let html = app.get(&b, "/account").await.text().await.unwrap();
    assert!(html.contains("10 unused"));
    let csrf = hidden(&html, "csrf");
    let remove = || {
        b.post(app.url("/account/totp/remove"))
            .form(&[("csrf", csrf.as_str())])
            .send()
    };
    // This session signed in with the password alone: it must prove the factor first.
    let resp = remove().await.unwrap();
    assert_eq!(location(&resp), "/login/factor");
    assert!(
        app.store
            .factor_summary(&alice_id(&app).await)
            .await
            .unwrap()
            .totp
    );
    app.clock.advance(STEP);
    let code = code_at(&secret, app.clock.now()).unwrap();
    let stepped = submit_code(&app, &b, "/login/factor", &code).await;
    assert_eq!(location(&stepped), "/account");
    let resp = remove().await.unwrap();
    assert_eq!(location(&resp), "/account");
    sign_out(&app, &b).await;
    let b = browser();
    assert_eq!(sign_in_directly(&app, &b, "alice").await, "/account");
    let html = app.get(&b, "/account").await.text().await.unwrap();
    assert!(
        !html.contains("unused"),
        "no recovery codes without a factor"
    );
}

crate::backend_tests!(
    totp_codes_sign_in,
    code_attempts_are_throttled,
    recovery_code_signs_in_once,
    acr_values_steps_up,
    acr_values_without_factor_signs_in_single_factor,
    client_policy_without_factor_shows_help,
    essential_acr_claim_is_required,
    introspection_reports_amr_and_acr,
    discovery_lists_acr_values,
    removing_the_factor_restores_password_sign_in,
    factor_secrets_are_sealed_and_codes_hashed,
    relying_party_reads_amr_and_acr,
    unmet_requirement_goes_back_as_access_denied,
    refresh_follows_a_new_mfa_requirement,
    a_new_factor_ends_other_sessions,
);

/// Administrators must use a second factor when the server says so; others need not.
#[tokio::test]
async fn admins_require_mfa() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.admins_require_mfa = true)
        .await
        .unwrap();
    let alice = app.create_user("alice").await;
    let client = app
        .create_client_with(false, &[REDIRECT_URI], &[], true)
        .await;
    let (loc, _) = start_flow(&app, &browser(), &client, &[]).await;
    assert!(loc.starts_with(REDIRECT_URI), "not an admin: {loc}");
    app.store.set_user_admin(&alice.id, true).await.unwrap();
    let (loc, _) = start_flow(&app, &browser(), &client, &[]).await;
    assert!(loc.starts_with("/login/help?flow="), "admin: {loc}");
}

/// Another port for the same server: a second origin with the same WebAuthn RP ID.
async fn forward_to(app: &TestApp) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let target = app.config.bind;
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    port
}

/// Passkeys in headless Chromium with a virtual authenticator: registered on /account, then
/// passwordless and as the second factor through a relying party's flow; a replayed challenge,
/// another origin and a removed passkey are refused.
#[tokio::test]
async fn passkeys_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    // WebAuthn needs a domain name: the same server, named localhost.
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.issuer = c.issuer.replace("127.0.0.1", "localhost");
    })
    .await
    .unwrap();
    let base = app.config.issuer.clone();
    let user = app.create_user("alice").await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let client = app
        .create_client_with(false, &[redirect.as_str()], &[], true)
        .await;
    let verifier = random_token();
    let auth_url = reqwest::Url::parse_with_params(
        &format!("{base}/authorize"),
        &[
            ("response_type", "code"),
            ("client_id", client.id.as_str()),
            ("redirect_uri", redirect.as_str()),
            ("scope", "openid"),
            ("state", "st"),
            ("code_challenge", s256_challenge(&verifier).as_str()),
            ("code_challenge_method", "S256"),
        ],
    )
    .unwrap();
    let other = format!("http://localhost:{}", forward_to(&app).await);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser_passkey.py");
    let args = [
        script.to_string(),
        base.clone(),
        auth_url.to_string(),
        "alice".into(),
        PASSWORD.into(),
        other,
    ];
    let mut child = std::process::Command::new("python3")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let (first, mut lines) = tokio::task::spawn_blocking(move || (lines.next(), lines))
        .await
        .unwrap();
    let Some(Ok(first)) = first else {
        let out = child.wait_with_output().unwrap();
        panic!("{}", String::from_utf8_lossy(&out.stderr));
    };
    let seen: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(seen["resident_keys"], 1, "a discoverable credential");
    let exchange = |url: &str| {
        let code = param(&query_of(url), "code").expect("code");
        let (app, client, redirect, verifier) = (&app, &client, &redirect, &verifier);
        async move {
            let resp = app
                .token(
                    client,
                    &[
                        ("grant_type", "authorization_code"),
                        ("code", &code),
                        ("redirect_uri", redirect),
                        ("code_verifier", verifier),
                    ],
                )
                .await;
            let status = resp.status();
            let body: serde_json::Value = resp.json().await.unwrap();
            assert_eq!(status, 200, "{body}");
            jwt_claims(body["id_token"].as_str().unwrap())
        }
    };
    let passwordless = exchange(seen["passwordless"].as_str().unwrap()).await;
    assert_eq!(passwordless["sub"], user.id);
    assert_eq!(amr_of(&passwordless).await, ["hwk", "mfa", "user"]);
    assert_eq!(passwordless["acr"], Acr::MULTI);
    let conditional = exchange(seen["conditional"].as_str().unwrap()).await;
    assert_eq!(conditional["acr"], Acr::MULTI);
    let second = exchange(seen["second_factor"].as_str().unwrap()).await;
    assert_eq!(amr_of(&second).await, ["hwk", "mfa", "pwd", "user"]);
    assert_eq!(
        seen["replay"],
        serde_json::json!([200, 400]),
        "a challenge answers once"
    );
    assert_eq!(seen["wrong_origin"], serde_json::json!([401]));
    // On to the removal.
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"go\n").unwrap();
    let (second, _) = tokio::task::spawn_blocking(move || (lines.next(), lines))
        .await
        .unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let second: serde_json::Value = serde_json::from_str(&second.unwrap().unwrap()).unwrap();
    assert_eq!(second["removed"], serde_json::json!([401]));
    assert!(app.store.list_passkeys(&user.id).await.unwrap().is_empty());
}

/// The `openidconnect` crate as the relying party: it asks for the multi-factor class, and
/// reads `acr` and `amr` from the verified ID token.
async fn relying_party_reads_amr_and_acr(app: TestApp) {
    use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
    use openidconnect::{
        AuthenticationContextClass, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
        IssuerUrl, Nonce, PkceCodeChallenge, RedirectUrl, TokenResponse,
    };
    app.create_user("alice").await;
    let registered = app
        .create_client_with(false, &[REDIRECT_URI], &[], true)
        .await;
    let b = browser();
    sign_in_directly(&app, &b, "alice").await;
    let (secret, _) = enrol_totp(&app, &b).await;
    app.clock.advance(STEP);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.issuer.clone()).unwrap(), &http)
            .await
            .unwrap();
    let multi = AuthenticationContextClass::new(Acr::MULTI.into());
    assert!(metadata.acr_values_supported().unwrap().contains(&multi));
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(registered.id.clone()),
        registered.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT_URI.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_auth_context_value(multi.clone())
        .set_pkce_challenge(challenge)
        .url();
    // The live password session is stepped up.
    let resp = b.get(url.as_str()).send().await.unwrap();
    let loc = location(&resp);
    assert!(loc.starts_with("/login/factor?flow="), "got {loc}");
    let code = code_at(&secret, app.clock.now()).unwrap();
    let resp = submit_code(&app, &b, &loc, &code).await;
    let q = query_of(&location(&resp));
    let tokens = client
        .exchange_code(AuthorizationCode::new(param(&q, "code").unwrap()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let claims = tokens
        .id_token()
        .unwrap()
        .claims(&client.id_token_verifier(), &nonce)
        .unwrap();
    assert_eq!(claims.auth_context_ref(), Some(&multi));
    let mut amr: Vec<&str> = claims
        .auth_method_refs()
        .unwrap()
        .iter()
        .map(|a| a.as_str())
        .collect();
    amr.sort();
    assert_eq!(amr, ["mfa", "otp", "pwd"]);
}

/// Authenticator secrets are sealed at rest and recovery codes kept only as hashes.
async fn factor_secrets_are_sealed_and_codes_hashed(app: TestApp) {
    let alice = app.create_user("alice").await;
    let b = browser();
    sign_in_directly(&app, &b, "alice").await;
    let (secret, codes) = enrol_totp(&app, &b).await;
    let stored = app.store.find_totp(&alice.id).await.unwrap().unwrap();
    let b32 = totp_rs::Secret::Raw(secret.clone())
        .to_encoded()
        .to_string();
    assert!(!stored.sealed_secret.contains(&b32));
    assert!(
        !stored
            .sealed_secret
            .contains(&gatehouse::crypto::b64url(&secret))
    );
    let now = app.clock.now();
    let plain = codes[0].replace('-', "");
    assert!(
        !app.store
            .use_recovery_code(&alice.id, &plain, now)
            .await
            .unwrap(),
        "the code itself is not what is stored"
    );
    assert!(
        !app.store
            .use_recovery_code(&alice.id, &gatehouse::crypto::hash_secret(&plain), now)
            .await
            .unwrap(),
        "nor its bare SHA-256: a keyed digest, bound to the user"
    );
    let code = crate::mfa::sign_in_with_recovery_code(&app, &codes[0]).await;
    assert_eq!(code, 303, "the code itself still works");
}
