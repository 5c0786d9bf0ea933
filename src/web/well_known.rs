//! Discovery, JWKS, health and the stylesheet: cached bytes, no per-request serialization.
use super::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Lets a cached `Arc<str>` be a response body without copying it.
struct SharedBody(Arc<str>);

impl AsRef<[u8]> for SharedBody {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// JSON with `Cache-Control: public, max-age` and an ETag; `If-None-Match` gets 304.
fn json_cached(headers: &HeaderMap, body: Arc<str>, etag: &str, max_age: i64) -> Response {
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut resp = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, "application/json")],
            axum::body::Bytes::from_owner(SharedBody(body)),
        )
            .into_response()
    };
    let h = resp.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_str(&format!("public, max-age={max_age}"))
            .unwrap_or(HeaderValue::from_static("no-cache")),
    );
    h.insert(
        header::ETAG,
        HeaderValue::from_str(etag).unwrap_or(HeaderValue::from_static("\"\"")),
    );
    resp
}

/// OIDC Discovery §4.
pub async fn discovery(State(state): State<AppState>, headers: HeaderMap) -> Response {
    json_cached(
        &headers,
        state.discovery.clone(),
        &state.discovery_etag,
        state.config.jwks_max_age,
    )
}

/// RFC 7517 key set with public parts only: next, current and retired keys.
pub async fn jwks(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (body, etag) = state.keys.jwks();
    json_cached(&headers, body, &etag, state.config.jwks_max_age)
}

pub async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database answers (keys are loaded before the listener opens).
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => "ready".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}

pub async fn form_post_script() -> Response {
    script(include_str!("../../static/form_post.js"))
}

pub async fn passkey_script() -> Response {
    script(include_str!("../../static/passkey.js"))
}

pub async fn console_script() -> Response {
    script(include_str!("../../static/console.js"))
}

fn script(body: &'static str) -> Response {
    let mut resp = (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        body,
    )
        .into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    resp
}

pub async fn stylesheet() -> Response {
    let mut resp = (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../../static/gatehouse.css"),
    )
        .into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    resp
}
