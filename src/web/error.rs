//! How errors become responses. The endpoint picks the wrapper; no internal error text ever
//! reaches a body, and internal errors are logged once, here.
use super::templates::{ErrorPage, render};
use crate::oauth::{ErrorCode, OAuthError};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Marks a 500 we rendered ourselves; any other 500 leaving the session layer is a failed
/// session save, which `middleware::session_save_failed` turns into a 503.
#[derive(Clone, Copy, Debug)]
pub struct Rendered500;

fn mark(mut resp: Response) -> Response {
    if resp.status() == StatusCode::INTERNAL_SERVER_ERROR {
        resp.extensions_mut().insert(Rendered500);
    }
    resp
}

/// `Retry-After` for 503s: the pool gives up on the database within a few seconds.
fn retry_soon(mut resp: Response) -> Response {
    if resp.status() == StatusCode::SERVICE_UNAVAILABLE {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    resp
}

fn log(e: &OAuthError) {
    if e.code == ErrorCode::TemporarilyUnavailable {
        tracing::warn!(
            error = e.code.as_str(),
            detail = e.detail().unwrap_or(""),
            "database unavailable"
        );
    } else if e.code == ErrorCode::ServerError {
        tracing::error!(
            error = e.code.as_str(),
            detail = e.detail().unwrap_or(""),
            "request failed"
        );
    } else {
        tracing::info!(
            error = e.code.as_str(),
            detail = e.detail().unwrap_or(""),
            "request refused"
        );
    }
}

/// JSON error for `/token` (RFC 6749 §5.2).
pub struct TokenError {
    pub error: OAuthError,
    /// The client authenticated with the Authorization header.
    pub used_basic: bool,
}

impl From<OAuthError> for TokenError {
    fn from(error: OAuthError) -> Self {
        Self {
            error,
            used_basic: false,
        }
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        log(&self.error);
        let status = match self.error.code {
            ErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
            ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        let body = serde_json::json!({
            "error": self.error.code.as_str(),
            "error_description": self.error.description,
        });
        let mut resp = (status, axum::Json(body)).into_response();
        let h = resp.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if self.error.code == ErrorCode::InvalidClient {
            // RFC 6749 §5.2: 401 carries the scheme the client should use.
            let v = if self.used_basic {
                r#"Basic realm="gatehouse", charset="UTF-8""#
            } else {
                r#"Basic realm="gatehouse""#
            };
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(v));
        }
        retry_soon(mark(resp))
    }
}

/// Bearer-token errors for `/userinfo` (RFC 6750 §3).
pub struct BearerError(pub OAuthError);

impl From<OAuthError> for BearerError {
    fn from(e: OAuthError) -> Self {
        Self(e)
    }
}

impl IntoResponse for BearerError {
    fn into_response(self) -> Response {
        log(&self.0);
        let (status, challenge) = match self.0.code {
            ErrorCode::ServerError => {
                return mark((StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response());
            }
            ErrorCode::TemporarilyUnavailable => {
                let body = axum::Json(serde_json::json!({
                    "error": self.0.code.as_str(),
                    "error_description": self.0.description,
                }));
                return retry_soon((StatusCode::SERVICE_UNAVAILABLE, body).into_response());
            }
            ErrorCode::InsufficientScope => (
                StatusCode::FORBIDDEN,
                format!(
                    r#"Bearer error="insufficient_scope", error_description="{}""#,
                    self.0.description
                ),
            ),
            ErrorCode::InvalidRequest => (
                StatusCode::BAD_REQUEST,
                format!(
                    r#"Bearer error="invalid_request", error_description="{}""#,
                    self.0.description
                ),
            ),
            // RFC 6750 §3.1: no token at all gets the bare challenge.
            _ if self.0.detail() == Some("no token") => {
                (StatusCode::UNAUTHORIZED, "Bearer".to_owned())
            }
            _ => (
                StatusCode::UNAUTHORIZED,
                format!(
                    r#"Bearer error="invalid_token", error_description="{}""#,
                    self.0.description
                ),
            ),
        };
        let mut resp = (
            status,
            axum::Json(serde_json::json!({
                "error": if challenge == "Bearer" { "invalid_token" } else { self.0.code.as_str() },
                "error_description": self.0.description,
            })),
        )
            .into_response();
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        resp
    }
}

/// An HTML error page (login, consent, authorize before the client is verified).
pub struct PageError {
    pub status: StatusCode,
    pub title: &'static str,
    pub message: String,
}

impl PageError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            title: "error-bad-request",
            message: message.into(),
        }
    }

    /// The database is away: try again shortly (503).
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        tracing::warn!(detail = %cause, "database unavailable");
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            title: "error-unavailable-title",
            message: "error-unavailable".into(),
        }
    }

    /// Internal failure: logged here with its cause; the page stays generic.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(detail = %cause, "request failed");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            title: "error-internal-title",
            message: "error-internal".into(),
        }
    }
}

impl From<OAuthError> for PageError {
    fn from(e: OAuthError) -> Self {
        if e.code == ErrorCode::TemporarilyUnavailable {
            return Self::unavailable(e.detail().unwrap_or(""));
        }
        log(&e);
        if e.code == ErrorCode::ServerError {
            return Self {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                title: "error-internal-title",
                message: "error-internal".into(),
            };
        }
        Self::bad_request(e.description.into_owned())
    }
}

/// Sessions live in the database, so a session store failure is the database being away.
impl From<tower_sessions::session::Error> for PageError {
    fn from(e: tower_sessions::session::Error) -> Self {
        Self::unavailable(format!("session store: {e}"))
    }
}

impl From<crate::store::Error> for PageError {
    fn from(e: crate::store::Error) -> Self {
        if e.is_unavailable() {
            return Self::unavailable(e);
        }
        Self::internal(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            title: self.title,
            message: &self.message,
        };
        retry_soon(mark((self.status, render(&page)).into_response()))
    }
}
