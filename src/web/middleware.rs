//! Response headers every page and endpoint gets, and a request span with a request id.
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

/// A page whose form, once submitted, may be redirected to this origin (the verified redirect
/// URI of the flow, or a registered post-logout URI). CSP `form-action` covers redirects that
/// follow a form submission, so the page must name it.
#[derive(Clone, Debug)]
pub struct FormTarget(pub String);

/// Lets this page's forms end at `uri`'s origin (https or http only; anything else is dropped).
pub fn allow_form_target(resp: &mut Response, uri: &str) {
    if let Ok(u) = url::Url::parse(uri)
        && matches!(u.scheme(), "https" | "http")
    {
        // CSP host sources cannot name an IPv6 literal (a native app's `http://[::1]:port`,
        // RFC 8252 §7.3): only its scheme can be allowed.
        let source = if matches!(u.host(), Some(url::Host::Ipv6(_))) {
            format!("{}:", u.scheme())
        } else {
            u.origin().ascii_serialization()
        };
        resp.extensions_mut().insert(FormTarget(source));
    }
}

macro_rules! csp {
    () => {
        "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
    };
}
const CSP: &str = csp!();
/// The policy of every response whose forms post only to ourselves, built once.
const CSP_SELF: &str = concat!(csp!(), "; form-action 'self'");

/// SECURITY.md "Pages": CSP with `frame-ancestors 'none'` and `form-action` limited to ourselves
/// and the page's verified target, no framing, no referrer, no sniffing; HSTS when the issuer
/// is https; responses are not cached unless the handler said otherwise (RFC 6749 §5.1).
pub async fn security_headers(
    axum::extract::State(https): axum::extract::State<bool>,
    req: Request,
    next: Next,
) -> Response {
    let mut resp = next.run(req).await;
    let csp = match resp.extensions().get::<FormTarget>() {
        Some(FormTarget(origin)) => {
            HeaderValue::from_str(&format!("{CSP}; form-action 'self' {origin}")).ok()
        }
        None => Some(HeaderValue::from_static(CSP_SELF)),
    };
    let h = resp.headers_mut();
    if let Some(v) = csp {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    if https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
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

/// tower-sessions answers a bare 500 when saving the session fails, which only happens when
/// the database went away mid-request: answer 503 like every other database outage.
pub async fn session_save_failed(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    if resp.status() == axum::http::StatusCode::INTERNAL_SERVER_ERROR
        && resp
            .extensions()
            .get::<super::error::Rendered500>()
            .is_none()
    {
        return super::error::PageError::unavailable("session save failed").into_response();
    }
    resp
}

/// The whole body must arrive within `body_timeout` of the request's start: one deadline that
/// never resets, so a client trickling a byte at a time cannot hold the connection. Bodies are
/// read here, at most `PROTOCOL_BODY_LIMIT`, and handed on whole (routes may cap lower).
pub async fn body_deadline(
    axum::extract::State(timeout): axum::extract::State<std::time::Duration>,
    req: Request,
    next: Next,
) -> Response {
    let (parts, body) = req.into_parts();
    let read = axum::body::to_bytes(body, super::PROTOCOL_BODY_LIMIT);
    match tokio::time::timeout(timeout, read).await {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
                .await
        }
        Ok(Err(_)) => super::error::PageError {
            status: axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            title: "error-too-large-title",
            message: "error-start-again".into(),
        }
        .into_response(),
        Err(_) => {
            let mut resp = super::error::PageError {
                status: axum::http::StatusCode::REQUEST_TIMEOUT,
                title: "error-too-slow-title",
                message: "error-start-again".into(),
            }
            .into_response();
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            resp
        }
    }
}

/// Longest request target (path and query) we read; longer ones get 414.
pub const MAX_URI_LEN: usize = 8 * 1024;

/// Bounds the request target before anything parses it (RFC 9110 §15.5.15).
pub async fn uri_limit(req: Request, next: Next) -> Response {
    let len = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if len > MAX_URI_LEN {
        return super::error::PageError {
            status: axum::http::StatusCode::URI_TOO_LONG,
            title: "error-uri-too-long-title",
            message: "error-start-again".into(),
        }
        .into_response();
    }
    next.run(req).await
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

/// Counts and times each routed request by its route pattern (never the raw path, whose
/// query or odd spellings would make unbounded label sets).
pub async fn measure(req: Request, next: Next) -> Response {
    if !crate::metrics::enabled() {
        return next.run(req).await;
    }
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().as_str().to_owned();
    let start = std::time::Instant::now();
    let resp = next.run(req).await;
    crate::metrics::request(
        &route,
        &method,
        resp.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    resp
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
    let allowed = match state.cors_allows(&origin).await {
        Ok(allowed) => allowed,
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
            // RFC 9449 §8: a browser app reads the server's DPoP nonce.
            HeaderValue::from_static("WWW-Authenticate, DPoP-Nonce"),
        );
        if preflight {
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("Authorization, Content-Type, DPoP"),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
        }
    }
    resp
}
