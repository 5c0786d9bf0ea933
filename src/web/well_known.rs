//! Discovery, JWKS, health and the stylesheet: cached bytes, no per-request serialization.
use super::state::AppState;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

fn json_cached(body: std::sync::Arc<str>) -> Response {
    let mut resp = (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    resp
}

/// OIDC Discovery §4.
pub async fn discovery(State(state): State<AppState>) -> Response {
    json_cached(state.discovery.clone())
}

/// RFC 7517 key set with public parts only.
pub async fn jwks(State(state): State<AppState>) -> Response {
    json_cached(state.keys.jwks_json())
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
