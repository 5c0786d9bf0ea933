//! POST /token (RFC 6749 §3.2, §5).
use super::error::TokenError;
use super::extract::params_from;
use super::state::AppState;
use crate::oauth::client_auth::{self, Method};
use crate::oauth::{OAuthError, token as grants};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, TokenError> {
    let params = params_from(&body);
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let used_basic = authorization.is_some();
    let wrap = |error: OAuthError| TokenError { error, used_basic };
    if let Some(name) = params.first_repeated() {
        return Err(wrap(OAuthError::invalid_request(format!(
            "parameter {} is repeated",
            name.chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(40)
                .collect::<String>()
        ))));
    }
    let creds = client_auth::parse_credentials(authorization, &params).map_err(wrap)?;
    let client = client_auth::authenticate(&state.store, &creds)
        .await
        .map_err(wrap)?;
    debug_assert!(creds.method != Method::None || client.is_public());
    let resp = grants::grant(state.token_issuer(), &client, &params)
        .await
        .map_err(wrap)?;
    let mut out = axum::Json(resp).into_response();
    // RFC 6749 §5.1.
    out.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    out.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(out)
}
