//! The client-authenticated back-channel endpoints: POST /token (RFC 6749 §3.2, §5),
//! /revoke (RFC 7009) and /introspect (RFC 7662).
use super::error::TokenError;
use super::extract::{ClientAddress, params_from};
use super::state::AppState;
use crate::domain::Client;
use crate::oauth::authorize::{Params, check_well_formed};
use crate::oauth::endpoints as ep;
use crate::oauth::{OAuthError, client_auth, revocation, token as grants};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Parses the form and authenticates the client (RFC 6749 §2.3); one method per request.
async fn authenticated(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    path: &str,
) -> Result<(Client, Params, bool), TokenError> {
    let params = params_from(body);
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let used_basic = authorization.is_some();
    let wrap = |error: OAuthError| TokenError { error, used_basic };
    check_well_formed(&params).map_err(wrap)?;
    let creds = client_auth::parse_credentials(authorization, &params).map_err(wrap)?;
    let endpoint = format!("{}{path}", state.issuer());
    let check = client_auth::AssertionCheck {
        keys: &state.client_keys,
        issuer: state.issuer(),
        endpoint: &endpoint,
        now: state.now(),
    };
    let client = client_auth::authenticate(&state.store, &creds, check)
        .await
        .map_err(wrap)?;
    Ok((client, params, used_basic))
}

/// RFC 6749 §5.1: never cached.
fn no_store(mut out: Response) -> Response {
    out.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    out.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    out
}

/// RFC 9449 §8: every answer of an endpoint that takes DPoP proofs carries a fresh nonce,
/// errors included, when nonces are on.
pub fn with_dpop_nonce(state: &AppState, mut out: Response) -> Response {
    if let Some(nonce) = state.dpop_nonce() {
        out.headers_mut().insert("dpop-nonce", nonce);
    }
    out
}

pub async fn token(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let out = issue(&state, &address, &headers, &body)
        .await
        .into_response();
    with_dpop_nonce(&state, out)
}

async fn issue(
    state: &AppState,
    address: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, TokenError> {
    let (client, params, used_basic) = authenticated(state, headers, body, ep::TOKEN).await?;
    let wrap = |error| TokenError { error, used_basic };
    // Checked once the client is known, so anonymous requests write nothing (RFC 9449 §5).
    let proof = state
        .dpop_proof(headers, "POST", ep::TOKEN, None)
        .await
        .map_err(wrap)?;
    let jkt = proof.as_ref().map(|p| p.jkt.as_str());
    let resp = grants::grant(state.token_issuer(address, jkt), &client, &params)
        .await
        .map_err(wrap)?;
    // For the posture panel's unused clients; a failure here must not fail the grant.
    let redirect_uri = (params.get("grant_type") == Some("authorization_code"))
        .then(|| params.get("redirect_uri"))
        .flatten();
    if let Err(e) = state
        .store
        .touch_client(&client.id, redirect_uri, state.now())
        .await
    {
        tracing::warn!(error = %e, "cannot record the client's last use");
    }
    Ok(no_store(Json(resp).into_response()))
}

/// RFC 9126 §2: a client pushes its authorization request; 201 with the `request_uri`. A DPoP
/// proof may come with it (RFC 9449 §10.1), so the nonce rule applies as at `/token`.
pub async fn par(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let out = push(&state, &headers, &body).await.into_response();
    with_dpop_nonce(&state, out)
}

async fn push(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Response, TokenError> {
    let (client, params, used_basic) = authenticated(state, headers, body, ep::PAR).await?;
    let wrap = |error| TokenError { error, used_basic };
    let proof = state
        .dpop_proof(headers, "POST", ep::PAR, None)
        .await
        .map_err(wrap)?;
    let pushed = crate::oauth::par::push(
        &state.store,
        &state.keys,
        state.issuer(),
        &client,
        &params,
        proof.as_ref().map(|p| p.jkt.as_str()),
        state.now(),
    )
    .await
    .map_err(wrap)?;
    let mut resp = Json(pushed).into_response();
    *resp.status_mut() = StatusCode::CREATED;
    Ok(no_store(resp))
}

/// RFC 7009 §2.2: 200 with an empty body whether or not anything was revoked.
pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, TokenError> {
    let (client, params, used_basic) = authenticated(&state, &headers, &body, ep::REVOKE).await?;
    revocation::revoke(
        &state.store,
        &state.keys,
        state.issuer(),
        state.now(),
        &client,
        &params,
    )
    .await
    .map_err(|error| TokenError { error, used_basic })?;
    Ok(no_store(StatusCode::OK.into_response()))
}

/// RFC 7662 §2.2.
pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, TokenError> {
    let (client, params, used_basic) =
        authenticated(&state, &headers, &body, ep::INTROSPECT).await?;
    let answer = revocation::introspect(
        &state.store,
        &state.keys,
        state.issuer(),
        state.now(),
        &client,
        &params,
    )
    .await
    .map_err(|error| TokenError { error, used_basic })?;
    Ok(no_store(Json(answer).into_response()))
}
