//! Response headers every page and endpoint gets, and a request span with a request id.
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

/// SECURITY.md "Pages": CSP with `frame-ancestors 'none'`, no framing, no referrer, no sniffing;
/// responses are not cached unless the handler said otherwise (RFC 6749 §5.1 for tokens).
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// One span per request with a random id (echoed as `x-request-id`). Only the path is logged:
/// query strings carry codes and state.
pub async fn request_span(req: Request, next: Next) -> Response {
    let id = crate::crypto::random_id();
    let span =
        tracing::info_span!("request", id = %id, method = %req.method(), path = %req.uri().path());
    async move {
        let start = std::time::Instant::now();
        let mut resp = next.run(req).await;
        tracing::info!(
            status = resp.status().as_u16(),
            ms = start.elapsed().as_millis() as u64,
            "finished"
        );
        if let Ok(v) = HeaderValue::from_str(&id) {
            resp.headers_mut().insert("x-request-id", v);
        }
        resp
    }
    .instrument(span)
    .await
}

/// Paths browsers may call cross-origin (RFC 9700 §2.6): never /authorize or any HTML page.
const CORS_PATHS: &[&str] = &[
    crate::oauth::endpoints::DISCOVERY,
    crate::oauth::endpoints::JWKS,
    crate::oauth::endpoints::TOKEN,
    crate::oauth::endpoints::USERINFO,
    crate::oauth::endpoints::REVOKE,
];

/// CORS for the origins clients registered (a public client's redirect-URI origins and any
/// `--allowed-origin`). No credentials are ever allowed; unknown origins get no CORS headers.
pub async fn cors(
    axum::extract::State(state): axum::extract::State<super::AppState>,
    req: Request,
    next: Next,
) -> Response {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (Some(origin), true) = (origin, CORS_PATHS.contains(&req.uri().path())) else {
        return next.run(req).await;
    };
    let allowed = match state.store.list_clients().await {
        Ok(clients) => clients.iter().any(|c| c.cors_origins().contains(&origin)),
        Err(e) => {
            tracing::warn!(error = %e, "cannot check CORS origin");
            false
        }
    };
    let preflight = req.method() == axum::http::Method::OPTIONS;
    let mut resp = if preflight {
        axum::http::StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(req).await
    };
    let h = resp.headers_mut();
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    if allowed && let Ok(v) = HeaderValue::from_str(&origin) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("WWW-Authenticate"),
        );
        if preflight {
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("Authorization, Content-Type"),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
        }
    }
    resp
}
