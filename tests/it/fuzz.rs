//! Property-based fuzzing of the parsers that read untrusted input: the authorization request,
//! the token request, Basic credentials, the JWT reader and the session and device cookies.
//! Each target mixes the seed corpus in `tests/fuzz/`, mutations of it and random input, runs
//! for `GATEHOUSE_FUZZ_SECONDS` (default 2) per backend, and fails on a panic or any 5xx.
use crate::helpers::*;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use std::time::{Duration, Instant};

fn budget() -> Duration {
    let secs = std::env::var("GATEHOUSE_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(2.0);
    Duration::from_secs_f64(secs)
}

fn seeds(name: &str) -> Vec<String> {
    let path = format!("{}/tests/fuzz/{name}.txt", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Characters that matter to our parsers, plus anything at all.
fn interesting_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => prop::sample::select(vec![
            '\0', '\r', '\n', '\t', '\u{7f}', '\u{85}', '\u{202e}', '\u{fffd}', '%', '&', '=', '+',
            ';', ',', '.', ':', '/', '?', '#', '"', '\'', '<', '>', '\\', ' ', 'A', 'z', '0', '-',
            '_', '~',
        ]),
        1 => any::<char>(),
    ]
}

fn random_text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(interesting_char(), 0..max).prop_map(String::from_iter)
}

/// A seed with a few random edits: insert, delete or replace one character at a time.
fn mutated(seeds: Vec<String>) -> impl Strategy<Value = String> {
    let edits = prop::collection::vec(
        (any::<prop::sample::Index>(), 0u8..3, interesting_char()),
        0..6,
    );
    (prop::sample::select(seeds), edits).prop_map(|(seed, edits)| {
        let mut chars: Vec<char> = seed.chars().collect();
        for (at, op, c) in edits {
            let i = if chars.is_empty() {
                0
            } else {
                at.index(chars.len())
            };
            match op {
                0 => chars.insert(i.min(chars.len()), c),
                1 if !chars.is_empty() => {
                    chars.remove(i);
                }
                _ if !chars.is_empty() => chars[i] = c,
                _ => chars.push(c),
            }
        }
        chars.into_iter().collect()
    })
}

fn corpus(name: &str, client_id: &str) -> impl Strategy<Value = String> + use<> {
    let seeds: Vec<String> = seeds(name)
        .into_iter()
        .map(|s| s.replace("CLIENT", client_id))
        .collect();
    prop_oneof![
        2 => prop::sample::select(seeds.clone()),
        5 => mutated(seeds),
        2 => random_text(200),
    ]
}

/// Runs `check` on generated values until the budget is spent; returns how many ran.
async fn fuzz<S, F, Fut>(strategy: S, mut check: F) -> usize
where
    S: Strategy,
    S::Value: std::fmt::Debug + Clone,
    F: FnMut(S::Value) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let mut runner = TestRunner::default();
    let deadline = Instant::now() + budget();
    let mut n = 0;
    while Instant::now() < deadline {
        let value = strategy.new_tree(&mut runner).unwrap().current();
        if let Err(why) = check(value.clone()).await {
            panic!("fuzz case failed: {why}\ninput: {value:?}");
        }
        n += 1;
    }
    n
}

fn no_5xx(what: &str, status: reqwest::StatusCode) -> Result<(), String> {
    if status.is_server_error() {
        Err(format!("{what} answered {status}"))
    } else {
        Ok(())
    }
}

async fn authorization_request_parser(app: TestApp) {
    let client = app.create_client().await;
    let url = app.url("/authorize");
    let b = browser();
    let n = fuzz(
        (corpus("authorize", &client.id), any::<bool>()),
        |(query, post)| {
            let (b, url) = (b.clone(), url.clone());
            async move {
                let req = if post {
                    b.post(&url)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(query.clone())
                } else {
                    b.get(format!("{url}?{query}"))
                };
                match req.send().await {
                    Ok(resp) => no_5xx("/authorize", resp.status()),
                    // reqwest refuses some URLs itself; the server never saw them.
                    Err(e) if e.is_builder() => Ok(()),
                    Err(e) => Err(format!("no answer: {e}")),
                }
            }
        },
    )
    .await;
    eprintln!("authorization request: {n} cases");
}

async fn token_request_parser(app: TestApp) {
    let client = app.create_client().await;
    let url = app.url("/token");
    let http = app.http.clone();
    let n = fuzz(
        (
            corpus("token", &client.id),
            prop::option::of(corpus("basic", &client.id)),
            prop::sample::select(vec!["/token", "/revoke", "/introspect", "/userinfo"]),
        ),
        |(form, auth, path)| {
            let (http, url) = (http.clone(), url.replace("/token", path));
            async move {
                let mut req = http
                    .post(&url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(form);
                if let Some(a) = auth {
                    let Ok(v) = reqwest::header::HeaderValue::from_str(&a) else {
                        return Ok(());
                    };
                    req = req.header("authorization", v);
                }
                match req.send().await {
                    Ok(resp) => no_5xx(path, resp.status()),
                    Err(e) => Err(format!("no answer: {e}")),
                }
            }
        },
    )
    .await;
    eprintln!("token request: {n} cases");
}

async fn basic_credentials_and_jwt_reader(app: TestApp) {
    let client = app.create_client().await;
    let keys = app.keys.clone();
    let issuer = app.issuer.clone();
    let n = fuzz(
        (corpus("basic", &client.id), corpus("jwt", &client.id)),
        |(basic, jwt)| {
            let (keys, issuer) = (keys.clone(), issuer.clone());
            async move {
                let params = gatehouse::oauth::authorize::Params::from_pairs([]);
                let _ = gatehouse::oauth::client_auth::parse_credentials(Some(&basic), &params);
                for kind in [
                    gatehouse::oauth::jwt::Kind::Access,
                    gatehouse::oauth::jwt::Kind::Id,
                ] {
                    let decoded: Result<serde_json::Value, _> =
                        gatehouse::oauth::jwt::decode(&keys, &issuer, &jwt, kind);
                    if decoded.is_ok() {
                        return Err("a fuzzed JWT verified".into());
                    }
                }
                Ok(())
            }
        },
    )
    .await;
    eprintln!("basic credentials and JWT reader: {n} cases");
    // The same JWTs as bearer tokens over HTTP.
    let url = app.url("/userinfo");
    let http = app.http.clone();
    fuzz(corpus("jwt", &client.id), |jwt| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let Ok(v) = reqwest::header::HeaderValue::from_str(&format!("Bearer {jwt}")) else {
                return Ok(());
            };
            let resp = http
                .get(&url)
                .header("authorization", v)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            no_5xx("/userinfo", resp.status())
        }
    })
    .await;
}

async fn session_and_device_cookies(app: TestApp) {
    app.create_user("alice").await;
    let client = app.create_client().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = app.issuer.clone();
    // A real session and its CSRF token, so fuzzed device cookies reach the sign-in check.
    let page = http.get(format!("{base}/login")).send().await.unwrap();
    let session = page
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_owned();
    let csrf = hidden(&page.text().await.unwrap(), "csrf");
    let n = fuzz(
        (
            corpus("cookie", &client.id),
            prop::sample::select(vec![
                "/login",
                "/account",
                "/consent?flow=x",
                "/logout",
                "/",
            ]),
            any::<bool>(),
        ),
        |(cookie, path, post)| {
            let (http, url) = (http.clone(), format!("{base}{path}"));
            let (session, csrf) = (session.clone(), csrf.clone());
            async move {
                // Half the cases keep the real session beside the fuzzed cookies.
                let cookie = if post {
                    format!("{session}; {cookie}")
                } else {
                    cookie
                };
                let Ok(v) = reqwest::header::HeaderValue::from_str(&cookie) else {
                    return Ok(());
                };
                let req = if post {
                    http.post(url.split('?').next().unwrap_or(&url).to_owned())
                        .form(&[
                            ("username", "alice"),
                            // A wrong password keeps the session (a success would rotate it).
                            ("password", "not the password"),
                            ("csrf", csrf.as_str()),
                        ])
                } else {
                    http.get(&url)
                };
                let resp = req
                    .header("cookie", v)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                no_5xx(path, resp.status())
            }
        },
    )
    .await;
    eprintln!("session and device cookies: {n} cases");
}

crate::backend_tests!(
    authorization_request_parser,
    token_request_parser,
    basic_credentials_and_jwt_reader,
    session_and_device_cookies,
);

/// The parameter parser alone: linear, bounded, and it never loses the first problem.
#[test]
fn params_parser_properties() {
    let mut runner = TestRunner::default();
    runner
        .run(
            &prop::collection::vec((random_text(12), random_text(12)), 0..300),
            |pairs| {
                let p = gatehouse::oauth::authorize::Params::from_pairs(pairs.clone());
                let too_many = pairs.len() > gatehouse::oauth::authorize::MAX_PARAMS;
                let control = pairs
                    .iter()
                    .take(gatehouse::oauth::authorize::MAX_PARAMS)
                    .any(|(k, v)| {
                        k.chars().any(char::is_control) || v.chars().any(char::is_control)
                    });
                if too_many || control {
                    prop_assert!(p.problem().is_some());
                }
                if p.problem().is_none() {
                    for (k, v) in &pairs {
                        if !v.is_empty() {
                            prop_assert!(p.get(k).is_some());
                        }
                    }
                }
                Ok(())
            },
        )
        .unwrap();
}
