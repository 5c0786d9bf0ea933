//! `/audit-events`: the audit log, newest first.
use super::{Admin, ApiQuery, Page, Problem, page_size};
use crate::store::AuditQuery;
use crate::web::error::ApiError;
use crate::web::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

/// One audit event. Never a secret: failed sign-ins name a keyed pseudonym of the username.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditEvent {
    id: String,
    /// Unix seconds.
    time: i64,
    /// A stable name such as `login.failed` or `client.created`.
    event: String,
    /// `success` or `failure`.
    outcome: String,
    /// `user:<id>`, `client:<id>`, `cli`, `keystore` or `anonymous`.
    actor: String,
    target: String,
    address: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Events at or after this Unix time.
    since: Option<i64>,
    /// Events at or before this Unix time.
    until: Option<i64>,
    actor: Option<String>,
    target: Option<String>,
    /// A stable event name.
    event: Option<String>,
    /// 1 to 200 (default 50).
    limit: Option<i64>,
    cursor: Option<String>,
}

/// Audit events matching every filter given, newest first.
#[utoipa::path(get, path = "/audit-events", operation_id = "listAuditEvents", tag = "audit", params(AuditParams),
    responses((status = 200, body = Page<AuditEvent>), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(p): ApiQuery<AuditParams>,
) -> Result<Response, ApiError> {
    let limit = page_size(p.limit)?;
    if let Some(e) = &p.event
        && crate::audit::Event::parse(e).is_none()
    {
        return Err(ApiError::invalid_field(
            "event",
            format!("{e} is not an audit event name"),
        ));
    }
    let rows = state
        .store
        .audit_events(&AuditQuery {
            since: p.since,
            until: p.until,
            actor: p.actor,
            target: p.target,
            event: p.event,
            before: p.cursor,
            limit: limit + 1,
        })
        .await?;
    let page = Page::of(
        rows,
        limit,
        |r| r.id.clone(),
        |r| AuditEvent {
            id: r.id,
            time: r.at,
            event: r.event,
            outcome: r.outcome,
            actor: r.actor,
            target: r.target,
            address: r.address,
        },
    );
    Ok(Json(page).into_response())
}
