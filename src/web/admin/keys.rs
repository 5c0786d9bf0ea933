//! `/keys`: the signing keys, their rotation and emergency revocation.
use super::{Admin, Problem, optional_json_body};
use crate::domain::Alg;
use crate::web::error::ApiError;
use crate::web::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(rotate))
        .routes(routes!(revoke))
}

/// A signing key: never its private part.
#[derive(Serialize, utoipa::ToSchema)]
pub struct KeyView {
    kid: String,
    alg: String,
    /// `next` (published, not yet signing), `current` (signing) or `retired` (published so
    /// tokens it signed still verify).
    state: String,
    created_at: i64,
    activates_at: Option<i64>,
    retires_at: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct KeyList {
    items: Vec<KeyView>,
    /// Seconds each key signs before it is replaced, and how long a new key is published
    /// before it signs.
    rotation_period: i64,
    publish_lead: i64,
}

fn views(state: &AppState) -> KeyList {
    let policy = state.keys.policy();
    KeyList {
        items: state
            .keys
            .infos()
            .into_iter()
            .map(|k| KeyView {
                kid: k.kid,
                alg: k.alg.as_str().into(),
                state: k.state.to_string(),
                created_at: k.created_at,
                activates_at: k.activates_at,
                retires_at: k.retires_at,
            })
            .collect(),
        rotation_period: policy.period,
        publish_lead: policy.publish_lead,
    }
}

/// Lists the keys in the JWKS and the one waiting to sign.
#[utoipa::path(get, path = "/keys", operation_id = "listKeys", tag = "keys",
    responses((status = 200, body = KeyList), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list(State(state): State<AppState>, _admin: Admin) -> Result<Response, ApiError> {
    state.keys.reload().await?;
    Ok(Json(views(&state)).into_response())
}

#[derive(Deserialize, utoipa::ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RotateKeys {
    /// Only this algorithm's key; every configured one when absent.
    alg: Option<String>,
    /// Emergency: the new key signs at once and the old one retires. Relying parties that
    /// cached the JWKS fail to verify new tokens until they fetch it again.
    #[serde(default)]
    immediate: bool,
}

/// Starts a rotation: a new key is published and signs after the publish lead.
#[utoipa::path(post, path = "/keys/rotate", operation_id = "rotateKeys", tag = "keys", request_body(content = Option<RotateKeys>),
    responses((status = 200, body = KeyList), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn rotate(
    State(state): State<AppState>,
    admin: Admin,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let input: RotateKeys = optional_json_body(&headers, &body)?;
    let algs: Vec<Alg> = match input.alg {
        Some(a) => vec![Alg::parse(&a).ok_or_else(|| {
            ApiError::invalid_field("alg", format!("{a}: one of RS256, ES256, EdDSA"))
        })?],
        None => state.keys.algs().collect(),
    };
    for alg in algs {
        state
            .keys
            .rotate(alg, state.now(), input.immediate, &admin.actor)
            .await?;
    }
    Ok(Json(views(&state)).into_response())
}

/// Removes a compromised key from the JWKS at once; tokens it signed stop verifying.
#[utoipa::path(post, path = "/keys/{kid}/revoke", operation_id = "revokeKey", tag = "keys", params(("kid" = String, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn revoke(
    State(state): State<AppState>,
    admin: Admin,
    Path(kid): Path<String>,
) -> Result<Response, ApiError> {
    state.keys.revoke(&kid, state.now(), &admin.actor).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
