//! POST /register (RFC 7591) and GET/PUT/DELETE /register/{client_id} (RFC 7592). Answers
//! 404 unless dynamic registration is on.
use super::extract::{ClientAddress, bearer};
use super::state::AppState;
use crate::admin::registration::{self as reg, Metadata, RegistrationError};
use crate::domain::Client;
use crate::oauth::endpoints as ep;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// RFC 7591 §3.2.2 errors and RFC 6750 §3 challenges, never cached (they may carry secrets).
/// `None` is registration being off: the endpoint does not exist then (404).
pub struct RegisterError(Option<RegistrationError>);

impl From<RegistrationError> for RegisterError {
    fn from(e: RegistrationError) -> Self {
        Self(Some(e))
    }
}

impl IntoResponse for RegisterError {
    fn into_response(self) -> Response {
        let Some(error) = self.0 else {
            return StatusCode::NOT_FOUND.into_response();
        };
        Self::spec_error(error)
    }
}

impl RegisterError {
    fn spec_error(error: RegistrationError) -> Response {
        let (status, code) = match &error {
            RegistrationError::InvalidRedirectUri(_) => {
                (StatusCode::BAD_REQUEST, "invalid_redirect_uri")
            }
            RegistrationError::InvalidClientMetadata(_) => {
                (StatusCode::BAD_REQUEST, "invalid_client_metadata")
            }
            RegistrationError::InvalidToken | RegistrationError::NoToken => {
                (StatusCode::UNAUTHORIZED, "invalid_token")
            }
            RegistrationError::Admin(crate::admin::AdminError::Store(e)) if e.is_unavailable() => {
                tracing::warn!(detail = %e, "database unavailable");
                (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable")
            }
            RegistrationError::Admin(e) => {
                tracing::error!(detail = %e, "registration failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "server_error")
            }
        };
        let description = match status {
            StatusCode::INTERNAL_SERVER_ERROR => "internal error".to_owned(),
            StatusCode::SERVICE_UNAVAILABLE => "retry shortly".to_owned(),
            _ => error.to_string(),
        };
        tracing::info!(error = code, "registration refused");
        let mut resp = (
            status,
            Json(json!({ "error": code, "error_description": description })),
        )
            .into_response();
        let h = resp.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        // RFC 6750 §3.1: no token at all gets the bare challenge.
        if matches!(error, RegistrationError::NoToken) {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        } else if status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer error="invalid_token""#),
            );
        }
        resp
    }
}

fn enabled(state: &AppState) -> Result<(), RegisterError> {
    if state.config.dynamic_registration {
        Ok(())
    } else {
        Err(RegisterError(None))
    }
}

fn metadata(headers: &HeaderMap, body: &[u8]) -> Result<Metadata, RegisterError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
        });
    if !json {
        return Err(
            RegistrationError::InvalidClientMetadata("send application/json".into()).into(),
        );
    }
    serde_json::from_slice(body).map_err(|e| {
        RegistrationError::InvalidClientMetadata(format!("the body is not valid metadata: {e}"))
            .into()
    })
}

/// RFC 7591 §3.2.1: the registered metadata, with what was issued now.
fn response(
    state: &AppState,
    c: &Client,
    secret: Option<&str>,
    access: Option<&str>,
    status: StatusCode,
) -> Response {
    let mut body = json!({
        "client_id": c.id,
        "client_id_issued_at": c.created_at,
        "client_name": c.name,
        "redirect_uris": c.redirect_uris,
        "post_logout_redirect_uris": c.post_logout_redirect_uris,
        "grant_types": c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "response_types": ["code"],
        "token_endpoint_auth_method": c.auth_method(),
        "id_token_signed_response_alg": c.id_token_signed_response_alg.as_str(),
        "require_pushed_authorization_requests": c.require_par,
        "dpop_bound_access_tokens": c.dpop_bound,
        "backchannel_logout_session_required": c.backchannel_logout_session_required,
        "registration_client_uri": format!("{}{}/{}", state.issuer(), ep::REGISTER, c.id),
    });
    if let Some(o) = body.as_object_mut() {
        if let Some(jwks) = c.jwks_json() {
            o.insert("jwks".into(), jwks);
        }
        if let Some(uri) = &c.jwks_uri {
            o.insert("jwks_uri".into(), uri.clone().into());
        }
        if let Some(uri) = &c.backchannel_logout_uri {
            o.insert("backchannel_logout_uri".into(), uri.clone().into());
        }
        if let Some(scope) = &c.allowed_scopes {
            o.insert("scope".into(), scope.join(" ").into());
        }
        if let Some(s) = secret {
            o.insert("client_secret".into(), s.into());
            o.insert("client_secret_expires_at".into(), Value::from(0));
        }
        if let Some(a) = access {
            o.insert("registration_access_token".into(), a.into());
        }
    }
    let mut resp = (status, Json(body)).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

pub async fn register(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, RegisterError> {
    enabled(&state)?;
    // RFC 7591 §3: the initial access token, as a Bearer token (RFC 6750 §2.1).
    let token = bearer(&headers).ok_or(RegistrationError::NoToken)?;
    let m = metadata(&headers, &body)?;
    let done = reg::register(
        &state.store,
        &state.config.signing_algs,
        state.now(),
        token,
        m,
        &address,
    )
    .await?;
    Ok(response(
        &state,
        &done.client,
        done.client_secret.as_deref(),
        done.registration_access_token.as_deref(),
        StatusCode::CREATED,
    ))
}

async fn managed(
    state: &AppState,
    headers: &HeaderMap,
    client_id: &str,
) -> Result<Client, RegisterError> {
    let token = bearer(headers).ok_or(RegistrationError::NoToken)?;
    Ok(reg::authorize(&state.store, client_id, token).await?)
}

/// RFC 7592 §2.1: the client reads its registration (the secret is not repeated).
pub async fn read(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, RegisterError> {
    enabled(&state)?;
    let c = managed(&state, &headers, &client_id).await?;
    let access = reg::new_access_token(&state.store, &c).await?;
    Ok(response(&state, &c, None, Some(&access), StatusCode::OK))
}

/// RFC 7592 §2.2: the client replaces its registration.
pub async fn replace(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, RegisterError> {
    enabled(&state)?;
    let client = managed(&state, &headers, &client_id).await?;
    let m = metadata(&headers, &body)?;
    let c = reg::replace(
        &state.store,
        &state.config.signing_algs,
        client,
        m,
        &address,
    )
    .await?;
    let access = reg::new_access_token(&state.store, &c).await?;
    Ok(response(&state, &c, None, Some(&access), StatusCode::OK))
}

/// RFC 7592 §2.3: the client deregisters; its tokens stop working.
pub async fn delete(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, RegisterError> {
    enabled(&state)?;
    let client = managed(&state, &headers, &client_id).await?;
    reg::deregister(&state.store, &client, &address).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
