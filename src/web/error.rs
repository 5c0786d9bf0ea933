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

/// Access-token errors for `/userinfo` (RFC 6750 §3), challenged in the scheme the token came
/// in, or in DPoP's (RFC 9449 §7.1) when the proof or the token's binding is what failed.
pub struct BearerError {
    pub error: OAuthError,
    pub scheme: crate::oauth::userinfo::Scheme,
}

impl From<OAuthError> for BearerError {
    fn from(error: OAuthError) -> Self {
        Self {
            error,
            scheme: crate::oauth::userinfo::Scheme::Bearer,
        }
    }
}

impl IntoResponse for BearerError {
    fn into_response(self) -> Response {
        use crate::oauth::userinfo::{DPOP_BOUND, NO_TOKEN, Scheme};
        let e = &self.error;
        log(e);
        let status = match e.code {
            ErrorCode::ServerError => {
                return mark((StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response());
            }
            ErrorCode::TemporarilyUnavailable => {
                let body = axum::Json(serde_json::json!({
                    "error": e.code.as_str(),
                    "error_description": e.description,
                }));
                return retry_soon((StatusCode::SERVICE_UNAVAILABLE, body).into_response());
            }
            ErrorCode::InsufficientScope => StatusCode::FORBIDDEN,
            ErrorCode::InvalidRequest => StatusCode::BAD_REQUEST,
            _ => StatusCode::UNAUTHORIZED,
        };
        let code = match e.code {
            ErrorCode::InsufficientScope
            | ErrorCode::InvalidRequest
            | ErrorCode::InvalidDpopProof
            | ErrorCode::UseDpopNonce => e.code.as_str(),
            _ => "invalid_token",
        };
        let dpop = self.scheme == Scheme::Dpop
            || matches!(
                e.code,
                ErrorCode::InvalidDpopProof | ErrorCode::UseDpopNonce
            )
            || e.detail() == Some(DPOP_BOUND);
        let challenge = if dpop {
            // RFC 9449 §7.1: the DPoP challenge names the proof algorithms we accept.
            let algs = crate::oauth::jwt::FOREIGN_ALGS.join(" ");
            format!(
                r#"DPoP error="{code}", error_description="{}", algs="{algs}""#,
                e.description
            )
        } else if e.detail() == Some(NO_TOKEN) {
            // RFC 6750 §3.1: no token at all gets the bare challenge.
            "Bearer".to_owned()
        } else {
            format!(
                r#"Bearer error="{code}", error_description="{}""#,
                e.description
            )
        };
        let mut resp = (
            status,
            axum::Json(serde_json::json!({
                "error": code,
                "error_description": e.description,
            })),
        )
            .into_response();
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        // RFC 9449 §7.1: without a token, both schemes are offered, Bearer first for RFC 6750
        // clients.
        if !dpop
            && e.detail() == Some(NO_TOKEN)
            && let Ok(v) = HeaderValue::from_str(&format!(
                r#"DPoP algs="{}""#,
                crate::oauth::jwt::FOREIGN_ALGS.join(" ")
            ))
        {
            resp.headers_mut().append(header::WWW_AUTHENTICATE, v);
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

/// Admin API errors as RFC 9457 problem details (`application/problem+json`). `error` carries
/// the machine code (RFC 6750 and RFC 7591 codes where one applies) and `field` the setting at
/// fault.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    /// Empty for a request that sent no token (RFC 6750 §3.1: no error code then).
    error: &'static str,
    detail: String,
    field: Option<&'static str>,
    /// RFC 6750 §3: the challenge of a 401 or 403.
    challenge: Option<String>,
}

/// The admin API's realm in its Bearer challenges.
const ADMIN_REALM: &str = "gatehouse-admin";

impl ApiError {
    fn new(status: StatusCode, error: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            error,
            detail: detail.into(),
            field: None,
            challenge: None,
        }
    }

    /// RFC 6750 §3.1: a missing token gets the bare challenge, a bad one `invalid_token`.
    pub fn unauthorized(detail: &str, token_given: bool) -> Self {
        let challenge = if token_given {
            format!(
                r#"Bearer realm="{ADMIN_REALM}", error="invalid_token", error_description="{detail}""#
            )
        } else {
            format!(r#"Bearer realm="{ADMIN_REALM}""#)
        };
        Self {
            challenge: Some(challenge),
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                if token_given { "invalid_token" } else { "" },
                detail,
            )
        }
    }

    pub fn forbidden(scope: &str) -> Self {
        Self {
            challenge: Some(format!(
                r#"Bearer realm="{ADMIN_REALM}", error="insufficient_scope", scope="{scope}""#
            )),
            ..Self::new(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                format!("the token lacks the {scope} scope"),
            )
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", detail)
    }

    pub fn invalid_field(field: &'static str, detail: impl Into<String>) -> Self {
        Self {
            field: Some(field),
            ..Self::new(StatusCode::BAD_REQUEST, "invalid_request", detail)
        }
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", detail)
    }

    /// RFC 9110 §13.1.1: the resource changed since the caller read it.
    pub fn stale() -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
            "changed since you read it: fetch it again and reapply your change",
        )
    }

    /// RFC 6585 §3: changes must say which version they were made from.
    pub fn precondition_required() -> Self {
        Self::new(
            StatusCode::PRECONDITION_REQUIRED,
            "precondition_required",
            "send If-Match with the ETag you read (or * to overwrite whatever is there)",
        )
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request",
            "send application/json",
        )
    }

    fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(detail = %cause, "admin request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal error",
        )
    }

    fn unavailable(cause: &dyn std::fmt::Display) -> Self {
        tracing::warn!(detail = %cause, "database unavailable");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the database is unavailable; retry shortly",
        )
    }
}

impl From<crate::domain::InvalidMetadata> for ApiError {
    /// RFC 7591 §3.2.2's codes for bad client metadata.
    fn from(e: crate::domain::InvalidMetadata) -> Self {
        Self {
            field: Some(e.field),
            ..Self::new(
                StatusCode::BAD_REQUEST,
                if e.is_redirect_uri() {
                    "invalid_redirect_uri"
                } else {
                    "invalid_client_metadata"
                },
                e.to_string(),
            )
        }
    }
}

impl From<crate::store::Error> for ApiError {
    fn from(e: crate::store::Error) -> Self {
        match e {
            crate::store::Error::NotFound => Self::not_found(),
            e if e.is_unavailable() => Self::unavailable(&e),
            e => Self::internal(&e),
        }
    }
}

impl From<crate::admin::AdminError> for ApiError {
    fn from(e: crate::admin::AdminError) -> Self {
        use crate::admin::AdminError as E;
        match e {
            E::Invalid(m) => m.into(),
            E::InvalidField { field, message } => Self::invalid_field(field, message),
            E::NotFound => Self::not_found(),
            E::Conflict(what) => Self::conflict(what),
            E::Stale => Self::stale(),
            E::Store(e) => e.into(),
        }
    }
}

impl From<crate::keys::KeyError> for ApiError {
    fn from(e: crate::keys::KeyError) -> Self {
        use crate::keys::KeyError as K;
        match e {
            K::UnknownKid(_) => Self::not_found(),
            K::NoKey(alg) => Self::invalid_field(
                "alg",
                format!("{alg} is not among the configured signing algorithms"),
            ),
            K::Busy => Self::conflict("another process is changing the keys; try again"),
            K::Store(e) => e.into(),
            e => Self::internal(&e),
        }
    }
}

impl From<OAuthError> for ApiError {
    fn from(e: OAuthError) -> Self {
        match e.code {
            ErrorCode::ServerError => Self::internal(&e.detail().unwrap_or("")),
            ErrorCode::TemporarilyUnavailable => Self::unavailable(&e.detail().unwrap_or("")),
            _ => Self::unauthorized(&e.description, true),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // The detail may quote the request (a parse error does), so it stays out of the log.
        if self.status.is_client_error() {
            tracing::info!(
                status = self.status.as_u16(),
                error = self.error,
                field = self.field,
                "admin request refused"
            );
        }
        let mut body = serde_json::json!({
            "type": "about:blank",
            "title": self.status.canonical_reason().unwrap_or(""),
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if let Some(o) = body.as_object_mut() {
            if !self.error.is_empty() {
                o.insert("error".into(), self.error.into());
            }
            if let Some(f) = self.field {
                o.insert("field".into(), f.into());
            }
        }
        let mut resp = (self.status, body.to_string()).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(v) = self.challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            h.insert(header::WWW_AUTHENTICATE, v);
        }
        retry_soon(mark(resp))
    }
}
