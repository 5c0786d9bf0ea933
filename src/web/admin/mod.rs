//! The admin REST API under `/admin/api/v1` (JSON, RFC 9457 errors), and its OpenAPI 3.1
//! document, generated from these handlers so the two cannot drift.
mod access;
mod audit;
mod clients;
mod keys;
mod users;

use super::error::ApiError;
use super::extract::ClientAddress;
use super::state::AppState;
use crate::domain::ADMIN_SCOPE;
use crate::oauth::endpoints as ep;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

/// The admin API as a service that builds its routes and OpenAPI document on its first
/// request. They are a good part of the program's code, and a process that never serves an
/// admin call then never loads it: a smaller resident set and a faster start.
#[derive(Clone)]
pub struct LazyApi {
    state: AppState,
    built: std::sync::Arc<std::sync::OnceLock<axum::Router>>,
}

impl LazyApi {
    pub fn new(state: AppState) -> Self {
        Self {
            state,
            built: Default::default(),
        }
    }

    fn router(&self) -> axum::Router {
        self.built
            .get_or_init(|| {
                let (api, doc) = api();
                api.route(ep::ADMIN_OPENAPI, openapi_handler(&doc))
                    .route_layer(axum::middleware::from_fn(super::middleware::measure))
                    .fallback(|| async { ApiError::not_found() })
                    // Responses may carry a secret shown once; nothing may keep a copy.
                    .layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
                        header::CACHE_CONTROL,
                        HeaderValue::from_static("no-store"),
                    ))
                    .with_state(self.state.clone())
            })
            .clone()
    }
}

impl tower::Service<axum::extract::Request> for LazyApi {
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response, Self::Error>> + Send>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: axum::extract::Request) -> Self::Future {
        let router = self.router();
        Box::pin(async move { tower::ServiceExt::oneshot(router, req).await })
    }
}

/// The API's routes, and its OpenAPI document.
pub fn api() -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    let v1 = OpenApiRouter::new()
        .merge(clients::routes())
        .merge(keys::routes())
        .merge(users::routes())
        .merge(access::routes())
        .merge(audit::routes());
    let (router, mut doc) = OpenApiRouter::with_openapi(document())
        .nest(ep::ADMIN_API, v1)
        .split_for_parts();
    doc.components
        .get_or_insert_with(Default::default)
        .add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(format!(
                        "An access token from this server's token endpoint with the {ADMIN_SCOPE} scope \
                         (client_credentials grant)."
                    )))
                    .build(),
            ),
        );
    (router, doc)
}

fn document() -> utoipa::openapi::OpenApi {
    use utoipa::openapi::{InfoBuilder, OpenApiBuilder, security::SecurityRequirement};
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Gatehouse admin API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Manage clients, users, consents, grants, APIs, roles, groups, signing keys and the audit log. \
                     Errors are RFC 9457 problem details; changes take If-Match with the ETag of \
                     the resource read.",
                ))
                .build(),
        )
        .security(Some(vec![SecurityRequirement::new(
            "bearer",
            [ADMIN_SCOPE],
        )]))
        .build()
}

/// A caller holding a valid admin token; `actor` names it in the audit log.
pub struct Admin {
    pub actor: String,
    pub address: String,
}

impl Admin {
    pub fn as_actor(&self) -> crate::admin::Actor<'_> {
        crate::admin::Actor {
            id: &self.actor,
            address: Some(&self.address),
        }
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ClientAddress(address) = match ClientAddress::from_request_parts(parts, state).await {
            Ok(a) => a,
            Err(never) => match never {},
        };
        // RFC 6750 §2.1: the header only; a token in the query would end up in logs.
        let token = super::extract::bearer(&parts.headers).filter(|t| !t.is_empty());
        let Some(token) = token else {
            return Err(ApiError::unauthorized("no token", false));
        };
        let claims = crate::oauth::userinfo::verify_access_token(
            &state.store,
            &state.keys,
            state.issuer(),
            state.now(),
            token,
        )
        .await?;
        // RFC 9449 §7.2: the admin API takes bearer tokens only, so a DPoP-bound token (which
        // needs its key's proof) is refused here rather than honoured without it.
        crate::oauth::userinfo::check_binding(&claims, None)?;
        let actor = if claims.sub == claims.client_id {
            crate::audit::client(&claims.client_id)
        } else {
            crate::audit::user(&claims.sub)
        };
        if !claims.scope.split(' ').any(|s| s == ADMIN_SCOPE) {
            state.store.journal().emit(
                crate::audit::Event::AdminDenied,
                &actor,
                parts.uri.path(),
                Some(&address),
            );
            return Err(ApiError::forbidden(ADMIN_SCOPE));
        }
        Ok(Self { actor, address })
    }
}

/// A query string read into `T`; a bad one is a problem document like every other error.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        serde_urlencoded::from_str(parts.uri.query().unwrap_or(""))
            .map(Self)
            .map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))
    }
}

/// A JSON body read into `T`; unknown members are refused by `T` itself.
fn json_body<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, ApiError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            let m = m.trim();
            m.eq_ignore_ascii_case("application/json")
        });
    if !json {
        return Err(ApiError::unsupported_media_type());
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

/// As `json_body`, where an empty body means every member left out.
fn optional_json_body<T: DeserializeOwned + Default>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, ApiError> {
    if body.is_empty() {
        Ok(T::default())
    } else {
        json_body(headers, body)
    }
}

/// The revision an `If-Match` names: `Some(None)` for `*`, `None` when the header is absent.
/// An ETag of another resource or shape matches nothing, so the change is refused as stale.
fn if_match(headers: &HeaderMap, created_at: i64) -> Result<Option<i64>, ApiError> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Err(ApiError::precondition_required());
    };
    let v = v.to_str().map_err(|_| ApiError::stale())?.trim();
    if v == "*" {
        return Ok(None);
    }
    // RFC 9110 §13.1.1: a list of entity tags; strong comparison (no W/).
    for tag in v.split(',').map(str::trim) {
        if let Some(r) = tag
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .and_then(|t| t.split_once('.'))
            .filter(|(c, _)| c.parse::<i64>().ok() == Some(created_at))
            .and_then(|(_, r)| r.parse::<i64>().ok())
        {
            return Ok(Some(r));
        }
    }
    Ok(Some(-1))
}

/// A client's ETag: its creation time and revision, so a deleted and re-created client with
/// the same id never matches an old tag.
fn etag(created_at: i64, revision: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{created_at}.{revision}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("\"0.0\""))
}

fn with_etag(mut resp: Response, tag: HeaderValue) -> Response {
    resp.headers_mut().insert(header::ETAG, tag);
    resp
}

/// A page of a list, and the cursor of the next one (absent on the last page).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Page<T: utoipa::ToSchema> {
    pub items: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl<T: utoipa::ToSchema> Page<T> {
    /// `rows` were fetched with one more than `limit` (see `split_page`).
    fn of<R>(
        mut rows: Vec<R>,
        limit: i64,
        cursor: impl Fn(&R) -> String,
        view: impl Fn(R) -> T,
    ) -> Self {
        let next_cursor = split_page(&mut rows, limit, cursor);
        Self {
            items: rows.into_iter().map(view).collect(),
            next_cursor,
        }
    }
}

/// `rows` were fetched with one more than `limit`: that extra row says another page follows,
/// which starts after the last row kept. Keeps `limit` rows and returns the next cursor.
pub(super) fn split_page<R>(
    rows: &mut Vec<R>,
    limit: i64,
    cursor: impl Fn(&R) -> String,
) -> Option<String> {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit.max(0) as usize);
    more.then(|| rows.last().map(&cursor)).flatten()
}

/// Page sizes: 50 unless asked, at most 200.
fn page_size(limit: Option<i64>) -> Result<i64, ApiError> {
    match limit {
        None => Ok(50),
        Some(n) if (1..=200).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::invalid_field("limit", "limit must be 1 to 200")),
    }
}

/// The OpenAPI document, serialized once.
pub fn openapi_handler(doc: &utoipa::openapi::OpenApi) -> axum::routing::MethodRouter<AppState> {
    let body: std::sync::Arc<str> = doc.to_json().unwrap_or_else(|_| "{}".into()).into();
    axum::routing::get(move || {
        let body = body.clone();
        async move {
            (
                [(header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
                .into_response()
        }
    })
}

/// The problem schema, for the document.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Problem {
    /// `about:blank`: the status says it all (RFC 9457 §4.2.1).
    r#type: String,
    title: String,
    status: u16,
    detail: String,
    /// The machine-readable code: an RFC 6750 or RFC 7591 error code where one applies.
    error: String,
    /// The request member at fault, when there is one.
    field: Option<String>,
}
