//! What the OpenID Foundation's certification plans need beyond our defaults: a per-client
//! PKCE policy (RFC 9700 §2.1.1) for confidential clients.
use crate::helpers::*;
use gatehouse::crypto::random_token;
use gatehouse::oauth::pkce::s256_challenge;
use serde_json::Value;

fn params<'a>(client: &'a TestClient, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut p = vec![
        ("response_type", "code"),
        ("client_id", client.id.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid"),
        ("state", "st"),
    ];
    p.extend_from_slice(extra);
    p
}

async fn optional_client(app: &TestApp) -> TestClient {
    app.create_client_custom(false, |c| c.pkce_optional = true)
        .await
}

async fn redeem(
    app: &TestApp,
    client: &TestClient,
    code: &str,
    verifier: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT_URI),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    app.token(client, &form).await
}

/// The OIDF suite's flow: no PKCE, with and without a nonce (OIDC Core §3.1.2.1 keeps nonce
/// optional in the code flow).
async fn optional_pkce_client_signs_in_without_pkce(app: TestApp) {
    app.create_user("alice").await;
    let client = optional_client(&app).await;
    let b = browser();
    let q = app
        .sign_in(&b, &params(&client, &[("nonce", "n-1")]), "alice")
        .await;
    let code = param(&q, "code").expect("a code without PKCE");
    let resp = redeem(&app, &client, &code, None).await;
    assert_eq!(resp.status(), 200);
    let tokens: Value = resp.json().await.unwrap();
    assert_eq!(
        jwt_claims(tokens["id_token"].as_str().unwrap())["nonce"],
        "n-1"
    );

    let q = app.sign_in(&b, &params(&client, &[]), "alice").await;
    let code = param(&q, "code").unwrap();
    let tokens: Value = redeem(&app, &client, &code, None)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        jwt_claims(tokens["id_token"].as_str().unwrap())
            .get("nonce")
            .is_none()
    );
}

/// RFC 9700 §2.1.1: a verifier sent for a code issued without a challenge is refused, and a
/// code issued with a challenge still needs its verifier.
async fn pkce_downgrade_is_refused(app: TestApp) {
    app.create_user("alice").await;
    let client = optional_client(&app).await;
    let b = browser();
    let q = app.sign_in(&b, &params(&client, &[]), "alice").await;
    let code = param(&q, "code").unwrap();
    let resp = redeem(&app, &client, &code, Some(&random_token())).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );

    let verifier = random_token();
    let challenge = s256_challenge(&verifier);
    let with = [
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let q = app.sign_in(&b, &params(&client, &with), "alice").await;
    let code = param(&q, "code").unwrap();
    let resp = redeem(&app, &client, &code, None).await;
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    let q = app.sign_in(&b, &params(&client, &with), "alice").await;
    let code = param(&q, "code").unwrap();
    assert_eq!(
        redeem(&app, &client, &code, Some(&verifier)).await.status(),
        200
    );
}

/// The default stays `required`, and a public client stays strict even if a row says otherwise.
async fn pkce_stays_required_by_default_and_for_public_clients(app: TestApp) {
    let strict = app.create_client().await;
    let public = app
        .create_client_custom(true, |c| c.pkce_optional = true)
        .await;
    for client in [&strict, &public] {
        let resp = app.authorize(&browser(), &params(client, &[])).await;
        assert_eq!(resp.status(), 303);
        let q = query_of(&location(&resp));
        assert_eq!(param(&q, "error").as_deref(), Some("invalid_request"));
    }
}

/// Undoes askama's attribute escaping, to compare a hidden field with what was sent.
fn unescape(s: &str) -> String {
    s.replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#38;", "&")
}

const PUNCTUATION: &str = r#"a&b=c?d#e f+g%20h"i'j<k>l;m,n/o\p~q!r*s(t)u[v]w{x}y|z^`$@"#;

/// Form Post Response Mode: the response is a page whose form posts code, state and iss to the
/// verified redirect URI; the CSP lets the form go there and nowhere else.
async fn form_post_answers_with_a_self_posting_form(app: TestApp) {
    app.create_user("alice").await;
    let client = app.create_client().await;
    let verifier = random_token();
    let challenge = s256_challenge(&verifier);
    let b = browser();
    let p = [
        ("response_type", "code"),
        ("client_id", client.id.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid"),
        ("state", PUNCTUATION),
        ("response_mode", "form_post"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let resp = app.authorize(&b, &p).await;
    let resp = app
        .submit_login(&b, &location(&resp), "alice", PASSWORD)
        .await;
    let resp = app.submit_consent(&b, &location(&resp), "allow").await;
    assert_eq!(resp.status(), 200);
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(
        csp.ends_with("form-action 'self' https://app.example.com"),
        "{csp}"
    );
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let html = resp.text().await.unwrap();
    assert!(
        html.contains(&format!(r#"action="{REDIRECT_URI}""#)),
        "{html}"
    );
    assert!(html.contains(r#"<script src="/static/form_post.js"></script>"#));
    assert!(
        html.contains("Continue"),
        "a button for browsers without JavaScript"
    );
    assert_eq!(unescape(&hidden(&html, "state")), PUNCTUATION);
    assert_eq!(hidden(&html, "iss"), app.issuer);
    let code = hidden(&html, "code");
    assert_eq!(app.exchange(&client, &code, &verifier).await.status(), 200);

    let js = app
        .http
        .get(app.url("/static/form_post.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), 200);
    assert!(
        js.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
}

/// Errors after the client is verified go back the same way.
async fn form_post_carries_errors_too(app: TestApp) {
    let client = app.create_client().await;
    let challenge = s256_challenge(&random_token());
    let resp = app
        .authorize(
            &browser(),
            &[
                ("response_type", "code"),
                ("client_id", client.id.as_str()),
                ("redirect_uri", REDIRECT_URI),
                ("scope", "openid"),
                ("state", "st"),
                ("prompt", "none"),
                ("response_mode", "form_post"),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    assert_eq!(hidden(&html, "error"), "login_required");
    assert_eq!(hidden(&html, "state"), "st");
    assert_eq!(hidden(&html, "iss"), app.issuer);
    // An unsupported mode is refused, and the refusal falls back to the query.
    let resp = app
        .authorize(
            &browser(),
            &[
                ("response_type", "code"),
                ("client_id", client.id.as_str()),
                ("redirect_uri", REDIRECT_URI),
                ("response_mode", "fragment"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(
        param(&query_of(&location(&resp)), "error").as_deref(),
        Some("invalid_request")
    );
    let discovery: Value = app.discovery().await;
    assert_eq!(
        discovery["response_modes_supported"],
        serde_json::json!(["query", "form_post"])
    );
}

/// OIDC Core §5.5: claims named in the `claims` parameter are asked for on the consent page
/// through their scopes and then appear in the ID token and at userinfo; malformed JSON is
/// `invalid_request`; unknown claims are ignored.
async fn claims_parameter_requests_individual_claims(app: TestApp) {
    full_profile(&app, "ada").await;
    let client = app.create_client().await;
    let verifier = random_token();
    let challenge = s256_challenge(&verifier);
    let claims = r#"{"id_token":{"phone_number":{"essential":true},"shoe_size":null},"userinfo":{"given_name":null}}"#;
    let b = browser();
    let p = [
        ("response_type", "code"),
        ("client_id", client.id.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid"),
        ("claims", claims),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let resp = app.authorize(&b, &p).await;
    let resp = app
        .submit_login(&b, &location(&resp), "ada", PASSWORD)
        .await;
    let consent_url = location(&resp);
    let consent = app.get(&b, &consent_url).await.text().await.unwrap();
    assert!(consent.contains("See your phone number"), "{consent}");
    assert!(consent.contains("profile details"));
    let resp = app.submit_consent(&b, &consent_url, "allow").await;
    let code = param(&query_of(&location(&resp)), "code").unwrap();
    let tokens: Value = app
        .exchange(&client, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let id = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["phone_number"], "+441234567890");
    assert!(id.get("shoe_size").is_none());
    let info: Value = app
        .userinfo(tokens["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["given_name"], "Ada");
    assert!(
        info.get("email").is_none(),
        "nothing that was not asked for"
    );

    for bad in ["{not json", r#"{"userinfo":{"email":1}}"#, "[1]"] {
        let mut p = p.to_vec();
        p[4] = ("claims", bad);
        let resp = app.authorize(&browser(), &p).await;
        assert_eq!(resp.status(), 303, "{bad}");
        let q = query_of(&location(&resp));
        assert_eq!(
            param(&q, "error").as_deref(),
            Some("invalid_request"),
            "{bad}"
        );
    }
    let discovery: Value = app.discovery().await;
    assert_eq!(discovery["claims_parameter_supported"], true);
}

crate::backend_tests!(
    pages_speak_the_requested_language,
    claims_parameter_requests_individual_claims,
    standard_claims_by_scope,
    account_page_edits_name_fields,
    form_post_answers_with_a_self_posting_form,
    form_post_carries_errors_too,
    optional_pkce_client_signs_in_without_pkce,
    pkce_downgrade_is_refused,
    pkce_stays_required_by_default_and_for_public_clients,
);

/// Form post in headless Chromium, JavaScript on and off: the app receives code, state (full of
/// punctuation, byte-exact) and iss in a POST.
#[tokio::test]
async fn form_post_in_a_real_browser_with_and_without_javascript() {
    if !browser_available() {
        return;
    }
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    app.create_user("alice").await;
    for javascript in ["on", "off"] {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let redirect = format!("http://127.0.0.1:{port}/callback");
        let client = app
            .create_client_with(false, &[redirect.as_str()], &[], false)
            .await;
        let verifier = random_token();
        let challenge = s256_challenge(&verifier);
        let auth_url = reqwest::Url::parse_with_params(
            &app.url("/authorize"),
            &[
                ("response_type", "code"),
                ("client_id", client.id.as_str()),
                ("redirect_uri", redirect.as_str()),
                ("scope", "openid"),
                ("state", PUNCTUATION),
                ("response_mode", "form_post"),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
            ],
        )
        .unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser_form_post.py");
        let args = [
            script.to_string(),
            auth_url.to_string(),
            "alice".into(),
            PASSWORD.into(),
            port.to_string(),
            javascript.to_string(),
        ];
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new("python3")
                .args(args)
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        assert!(
            out.status.success(),
            "JavaScript {javascript}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let body = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let form: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(
            param(&form, "state").as_deref(),
            Some(PUNCTUATION),
            "JavaScript {javascript}"
        );
        assert_eq!(param(&form, "iss").as_deref(), Some(app.issuer.as_str()));
        let code = param(&form, "code").unwrap();
        let resp = app
            .token(
                &client,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", &redirect),
                    ("code_verifier", &verifier),
                ],
            )
            .await;
        assert_eq!(resp.status(), 200, "JavaScript {javascript}");
    }
}

// ---- Standard claims (OIDC Core §5.1, §5.4) ----

async fn full_profile(app: &TestApp, username: &str) -> gatehouse::domain::User {
    use gatehouse::domain::profile::Field;
    let user = app.create_user(username).await;
    let changes = gatehouse::accounts::ProfileChanges {
        name: Some("Ada King Lovelace".into()),
        fields: vec![
            (Field::GivenName, "Ada".into()),
            (Field::FamilyName, "Lovelace".into()),
            (Field::MiddleName, "King".into()),
            (Field::Nickname, "Countess".into()),
            (Field::Picture, "https://img.example.com/ada.png".into()),
            (Field::Website, "https://ada.example.com".into()),
            (Field::Gender, "female".into()),
            (Field::Birthdate, "1815-12-10".into()),
            (Field::Zoneinfo, "Europe/London".into()),
            (Field::Locale, "en-GB".into()),
            (Field::PhoneNumber, "+441234567890".into()),
            (Field::StreetAddress, "12 St James's Square".into()),
            (Field::Locality, "London".into()),
            (Field::PostalCode, "SW1Y 4JH".into()),
            (Field::Country, "GB".into()),
        ],
        phone_number_verified: Some(true),
        ..Default::default()
    };
    gatehouse::accounts::update_profile(&app.store, &user, changes, app.clock.now() + 5)
        .await
        .unwrap()
}

async fn userinfo_for(app: &TestApp, scope: &str) -> Value {
    let client = app.create_client().await;
    let (code, verifier) = app.get_code(&browser(), &client, scope, "ada").await;
    let tokens: Value = app
        .exchange(&client, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    app.userinfo(tokens["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap()
}

/// Every standard claim reaches a relying party, read through the openidconnect crate's
/// typed claims; phone and address only with their scopes.
async fn standard_claims_by_scope(app: TestApp) {
    type Claims = openidconnect::StandardClaims<openidconnect::core::CoreGenderClaim>;
    let user = full_profile(&app, "ada").await;
    let info = userinfo_for(&app, "openid profile email phone address").await;
    let typed: Claims = serde_json::from_value(info.clone()).unwrap();
    assert_eq!(typed.subject().as_str(), user.id);
    assert_eq!(
        typed.given_name().unwrap().get(None).unwrap().as_str(),
        "Ada"
    );
    assert_eq!(
        typed.family_name().unwrap().get(None).unwrap().as_str(),
        "Lovelace"
    );
    assert_eq!(
        typed.middle_name().unwrap().get(None).unwrap().as_str(),
        "King"
    );
    assert_eq!(
        typed.nickname().unwrap().get(None).unwrap().as_str(),
        "Countess"
    );
    assert_eq!(
        typed.name().unwrap().get(None).unwrap().as_str(),
        "Ada King Lovelace"
    );
    assert_eq!(
        typed.picture().unwrap().get(None).unwrap().as_str(),
        "https://img.example.com/ada.png"
    );
    assert_eq!(
        typed.website().unwrap().get(None).unwrap().as_str(),
        "https://ada.example.com"
    );
    assert_eq!(typed.birthdate().unwrap().as_str(), "1815-12-10");
    assert_eq!(typed.zoneinfo().unwrap().as_str(), "Europe/London");
    assert_eq!(typed.locale().unwrap().as_str(), "en-GB");
    assert_eq!(typed.phone_number().unwrap().as_str(), "+441234567890");
    assert_eq!(typed.phone_number_verified(), Some(true));
    let address = typed.address().unwrap();
    assert_eq!(address.locality.as_ref().unwrap().as_str(), "London");
    assert_eq!(address.country.as_ref().unwrap().as_str(), "GB");
    assert_eq!(typed.updated_at().unwrap().timestamp(), user.updated_at);
    assert!(typed.gender().is_some());

    let narrow = userinfo_for(&app, "openid profile").await;
    assert_eq!(narrow["given_name"], "Ada");
    for claim in ["phone_number", "phone_number_verified", "address", "email"] {
        assert!(narrow.get(claim).is_none(), "{claim} without its scope");
    }
    let discovery: Value = app.discovery().await;
    for scope in ["phone", "address"] {
        assert!(
            discovery["scopes_supported"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s == scope)
        );
    }
    for claim in [
        "given_name",
        "birthdate",
        "updated_at",
        "phone_number",
        "address",
    ] {
        assert!(
            discovery["claims_supported"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s == claim)
        );
    }
}

/// A person edits their own name fields on /account; bad values are refused and change nothing.
async fn account_page_edits_name_fields(app: TestApp) {
    app.create_user("alice").await;
    let b = browser();
    assert_eq!(
        app.submit_login(&b, "/login", "alice", PASSWORD)
            .await
            .status(),
        303
    );
    let page = app.get(&b, "/account").await.text().await.unwrap();
    let csrf = hidden(&page, "csrf");
    let form = |given: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("name", "Alice Liddell".to_string()),
            ("given_name", given.to_string()),
            ("middle_name", String::new()),
            ("family_name", "Liddell".into()),
            ("nickname", String::new()),
        ]
    };
    let resp = b
        .post(app.url("/account/profile"))
        .form(&form("Alice"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let (user, _) = app
        .store
        .find_user_credentials("alice")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.name.as_deref(), Some("Alice Liddell"));
    assert_eq!(user.profile.given_name.as_deref(), Some("Alice"));
    assert_eq!(user.profile.family_name.as_deref(), Some("Liddell"));
    let page = app.get(&b, "/account").await.text().await.unwrap();
    assert!(
        page.contains(r#"value="Liddell""#),
        "the form shows the stored value"
    );

    let resp = b
        .post(app.url("/account/profile"))
        .form(&form(&"x".repeat(201)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("at most 200"));
    let (after, _) = app
        .store
        .find_user_credentials("alice")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after, user, "nothing changed");
    let mut forged = form("Eve");
    forged[0].1 = "forged".into();
    let resp = b
        .post(app.url("/account/profile"))
        .form(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
}

// ---- Page languages (OIDC Core §3.1.2.1 ui_locales, RFC 9110 §12.5.4) ----

async fn login_page(app: &TestApp, b: &reqwest::Client, params: &[(&str, &str)]) -> String {
    let resp = app.authorize(b, params).await;
    let loc = location(&resp);
    assert!(loc.starts_with("/login?"), "got {loc}");
    app.get(b, &loc).await.text().await.unwrap()
}

async fn pages_speak_the_requested_language(app: TestApp) {
    let client = app
        .create_client_custom(false, |c| c.name = "<Shop & Co>".into())
        .await;
    let verifier = random_token();
    let challenge = s256_challenge(&verifier);
    let base = [
        ("response_type", "code"),
        ("client_id", client.id.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let with = |extra: (&'static str, &'static str)| {
        let mut p = base.to_vec();
        p.push(extra);
        p
    };
    // ui_locales: the first language we speak, for every page of the flow.
    let german = login_page(&app, &browser(), &with(("ui_locales", "ja de-CH en"))).await;
    assert!(german.contains(r#"<html lang="de">"#), "{german}");
    assert!(german.contains("<h1>Anmelden</h1>"));
    assert!(
        german.contains("&lt;Shop &amp; Co&gt;") && !german.contains("<Shop"),
        "the client's name is escaped inside translated markup"
    );
    // Accept-Language when the request names no ui_locales.
    let b = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(
            [(
                reqwest::header::ACCEPT_LANGUAGE,
                reqwest::header::HeaderValue::from_static("fr-FR,fr;q=0.9,en;q=0.5"),
            )]
            .into_iter()
            .collect(),
        )
        .build()
        .unwrap();
    let french = login_page(&app, &b, &base).await;
    assert!(french.contains(r#"<html lang="fr">"#));
    assert!(french.contains("<h1>Connexion</h1>"));
    // ui_locales wins over Accept-Language.
    let german = login_page(&app, &b, &with(("ui_locales", "de"))).await;
    assert!(german.contains(r#"<html lang="de">"#));
    // Unknown languages fall back to English.
    let english = login_page(&app, &browser(), &with(("ui_locales", "ja"))).await;
    assert!(english.contains(r#"<html lang="en">"#));
    assert!(english.contains("<h1>Sign in</h1>"));
    // Error pages speak it too (this browser's last request asked for German), and caches
    // keep languages apart.
    let resp = b.get(app.url("/login?flow=nope")).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(
        resp.headers()
            .get_all("vary")
            .iter()
            .any(|v| v.to_str().unwrap().contains("Accept-Language"))
    );
    assert!(resp.text().await.unwrap().contains("ist abgelaufen"));
    let m = app.discovery().await;
    assert_eq!(
        m["ui_locales_supported"],
        serde_json::json!(["en", "de", "fr"])
    );
}
