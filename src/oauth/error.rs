//! One protocol error type with the specs' `error` codes. The description is public and kept
//! generic where detail would help an attacker; `detail` goes to logs only.
use std::borrow::Cow;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// RFC 6749 §4.1.2.1, §5.2: malformed or missing parameter, repeated parameter.
    InvalidRequest,
    /// RFC 6749 §5.2: client authentication failed.
    InvalidClient,
    /// RFC 6749 §5.2: code or refresh token invalid, expired, revoked or not the client's.
    InvalidGrant,
    /// RFC 6749 §4.1.2.1, §5.2: client not allowed this grant or response.
    UnauthorizedClient,
    /// RFC 6749 §5.2.
    UnsupportedGrantType,
    /// RFC 6749 §4.1.2.1, §5.2.
    InvalidScope,
    /// RFC 8707 §2: the `resource` is malformed, unknown, or not one this client may use.
    InvalidTarget,
    /// RFC 6749 §4.1.2.1: the user or server denied the request.
    AccessDenied,
    /// RFC 6749 §4.1.2.1.
    UnsupportedResponseType,
    /// RFC 6749 §4.1.2.1: unexpected condition.
    ServerError,
    /// OIDC Core §3.1.2.6: `prompt=none` and no usable session.
    LoginRequired,
    /// OIDC Core §3.1.2.6: `prompt=none` and consent is missing.
    ConsentRequired,
    /// OIDC Core §3.1.2.6.
    InteractionRequired,
    /// OIDC Core §3.1.2.6: `request` parameter not supported.
    RequestNotSupported,
    /// OIDC Core §3.1.2.6: `request_uri` parameter not supported.
    RequestUriNotSupported,
    /// RFC 9126 §4, OIDC Core §3.1.2.6: the `request_uri` is unknown, used, expired or another
    /// client's.
    InvalidRequestUri,
    /// RFC 9449 §5, §7.1: the DPoP proof is missing, malformed, replayed or does not fit.
    InvalidDpopProof,
    /// RFC 9449 §8, §9: the proof must carry the nonce in the `DPoP-Nonce` header.
    UseDpopNonce,
    /// RFC 6750 §3.1: bearer token invalid.
    InvalidToken,
    /// RFC 6750 §3.1: token lacks the scope the resource needs.
    InsufficientScope,
    /// RFC 6749 §4.1.2.1: the server cannot handle the request now (the database is away).
    TemporarilyUnavailable,
}

impl ErrorCode {
    /// The exact spec string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::ServerError => "server_error",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InteractionRequired => "interaction_required",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::InvalidRequestUri => "invalid_request_uri",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }
}

/// A protocol error: code, public description, private detail.
#[derive(Debug)]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: Cow<'static, str>,
    detail: Option<String>,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            description: description.into(),
            detail: None,
        }
    }

    /// Adds a private cause for the logs.
    pub fn with_detail(mut self, detail: impl std::fmt::Display) -> Self {
        self.detail = Some(detail.to_string());
        self
    }

    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    pub fn invalid_request(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRequest, d)
    }
    pub fn invalid_client() -> Self {
        Self::new(ErrorCode::InvalidClient, "client authentication failed")
    }
    pub fn invalid_grant(detail: impl std::fmt::Display) -> Self {
        Self::new(ErrorCode::InvalidGrant, "grant is invalid").with_detail(detail)
    }
    pub fn invalid_token(detail: impl std::fmt::Display) -> Self {
        Self::new(ErrorCode::InvalidToken, "access token is invalid").with_detail(detail)
    }
    /// RFC 9449: what is wrong with a proof is said in the description, since only its maker
    /// can have made it.
    pub fn invalid_dpop_proof(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidDpopProof, d)
    }
    /// Any internal failure: a generic description, the cause kept for the log.
    pub fn server_error(detail: impl std::fmt::Display) -> Self {
        Self::new(ErrorCode::ServerError, "internal error").with_detail(detail)
    }
    pub fn unavailable(detail: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorCode::TemporarilyUnavailable,
            "the service is temporarily unavailable; try again shortly",
        )
        .with_detail(detail)
    }
}

impl From<crate::store::Error> for OAuthError {
    fn from(e: crate::store::Error) -> Self {
        if e.is_unavailable() {
            return Self::unavailable(e);
        }
        Self::server_error(e)
    }
}

impl From<crate::keys::KeyError> for OAuthError {
    fn from(e: crate::keys::KeyError) -> Self {
        match e {
            crate::keys::KeyError::Store(s) => s.into(),
            other => Self::server_error(other),
        }
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)
    }
}

impl std::error::Error for OAuthError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_error_hides_detail() {
        let e = OAuthError::server_error("db password=hunter2 refused");
        assert_eq!(e.description, "internal error");
        assert_eq!(e.to_string(), "server_error: internal error");
    }
}
