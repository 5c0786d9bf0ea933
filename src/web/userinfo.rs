//! GET/POST /userinfo with a Bearer token (OIDC Core §5.3, RFC 6750 §2).
use super::error::BearerError;
use super::extract::{bearer, params_from};
use super::state::AppState;
use crate::oauth::{OAuthError, userinfo};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

async fn respond(state: &AppState, token: Option<&str>) -> Result<Response, BearerError> {
    let token = token.ok_or_else(|| OAuthError::invalid_token("no token"))?;
    let claims = userinfo::userinfo(
        &state.store,
        &state.keys,
        state.issuer(),
        state.now(),
        token,
    )
    .await?;
    Ok(Json(claims).into_response())
}

pub async fn userinfo_get(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, BearerError> {
    respond(&state, bearer(&headers)).await
}

/// RFC 6750 §2.2 also allows the token in a form body; only one method per request (§2).
pub async fn userinfo_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, BearerError> {
    let params = params_from(&body);
    crate::oauth::authorize::check_well_formed(&params).map_err(BearerError::from)?;
    let from_body = params.get("access_token");
    let from_header = bearer(&headers);
    if from_body.is_some() && from_header.is_some() {
        return Err(OAuthError::invalid_request("use only one way to send the token").into());
    }
    respond(&state, from_header.or(from_body)).await
}
