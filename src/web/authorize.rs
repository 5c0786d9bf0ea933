//! GET/POST /authorize (RFC 6749 §4.1.1, OIDC Core §3.1.2.1), and moving a pending flow on.
use super::error::PageError;
use super::extract::{ClientAddress, LoginSession, params_from};
use super::middleware::allow_form_target;
use super::state::AppState;
use super::templates::{FormPostPage, render};
use crate::accounts::throttle::address_key;
use crate::config::FLOWS_PER_BROWSER;
use crate::domain::ResponseMode;
use crate::domain::{Client, Flow, ScopeSet};
use crate::oauth::authorize::{
    self, AuthorizationResponse, ErrorRedirect, Next, Params, Rejection, SessionUser,
};
use crate::oauth::{ErrorCode, OAuthError, endpoints as ep};
use crate::store::FlowCaps;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

pub async fn authorize_get(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    RawQuery(q): RawQuery,
) -> Response {
    let params = params_from(q.unwrap_or_default().as_bytes());
    handle(&state, &session, &address, &params)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// OIDC Core §3.1.2.1: POST carries the same parameters form-encoded.
pub async fn authorize_post(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    body: Bytes,
) -> Response {
    let params = params_from(&body);
    handle(&state, &session, &address, &params)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn handle(
    state: &AppState,
    session: &Session,
    address: &str,
    params: &Params,
) -> Result<Response, PageError> {
    let req = match authorize::validate(&state.store, &state.keys, state.issuer(), params).await {
        Ok(r) => r,
        Err(Rejection::Page(e)) => return Err(e.into()),
        Err(Rejection::Redirect(r)) => return Ok(error_redirect(state, &r)),
    };
    let now = state.now();
    let ls = LoginSession(session);
    let user = current_user(state, &ls).await?;
    let remembered = match &user {
        Some(u) => remembered_consent(state, &u.user_id, &req.client.id).await?,
        None => None,
    };
    // OIDC Core §3.1.2.1: an id_token_hint naming someone other than the signed-in user.
    if let (Some(sub), Some(u)) = (&req.id_token_hint_sub, &user)
        && sub != &u.user_id
    {
        return Ok(hint_mismatch(
            state,
            req.redirect_uri,
            req.state,
            req.response_mode,
        ));
    }
    let browser_key = ls.browser_key().await?;
    let mut flow = authorize::new_flow(&req, &browser_key, now);
    if req.prompt.none {
        // No consent page can be shown, so offline access cannot be granted (OIDC Core §11).
        flow.scope = ScopeSet::parse_supported(&flow.scope)
            .without("offline_access")
            .to_wire();
    }
    let next = authorize::next_step(
        &flow,
        user.as_ref(),
        remembered.as_ref(),
        req.client.skip_consent,
    );
    if req.prompt.none {
        // OIDC Core §3.1.2.6: no UI at all; errors go back to the client.
        let code = match next {
            Next::Login => ErrorCode::LoginRequired,
            Next::Consent => ErrorCode::ConsentRequired,
            Next::Finish => return finish(state, &flow, user.as_ref(), false).await,
        };
        let error = OAuthError::new(
            code,
            if code == ErrorCode::LoginRequired {
                "the user must sign in"
            } else {
                "the user must consent"
            },
        );
        return Ok(error_redirect(
            state,
            &ErrorRedirect {
                redirect_uri: flow.redirect_uri,
                state: flow.state,
                error,
                response_mode: flow.response_mode,
            },
        ));
    }
    if next == Next::Finish {
        return finish(state, &flow, user.as_ref(), false).await;
    }
    let caps = FlowCaps {
        per_browser: FLOWS_PER_BROWSER,
        per_address: state.config.max_pending_flows_per_address,
    };
    state
        .store
        .insert_flow(&flow, &address_key(address), caps)
        .await?;
    ls.keep_for_flow(flow.expires_at).await?;
    Ok(step_redirect(next, &flow.id))
}

fn step_redirect(next: Next, flow_id: &str) -> Response {
    let page = if next == Next::Login {
        ep::LOGIN
    } else {
        ep::CONSENT
    };
    Redirect::to(&format!("{page}?flow={flow_id}")).into_response()
}

pub fn error_redirect(state: &AppState, r: &ErrorRedirect) -> Response {
    tracing::info!(
        error = r.error.code.as_str(),
        "authorization request refused"
    );
    send_response(&authorize::error_response(state.issuer(), r))
}

/// Sends an authorization response the way the request asked: a 303 to the redirect URI, or a
/// page whose form posts to it (Form Post Response Mode §2), submitted by a static script so
/// the CSP keeps `script-src 'self'`, with a Continue button when scripts are off.
pub fn send_response(resp: &AuthorizationResponse) -> Response {
    match resp.response_mode {
        ResponseMode::Query => Redirect::to(&resp.query_url()).into_response(),
        ResponseMode::FormPost => {
            let mut page = render(&FormPostPage {
                action: &resp.redirect_uri,
                fields: &resp.params,
            });
            allow_form_target(&mut page, &resp.redirect_uri);
            page
        }
    }
}

/// The signed-in user, if the session has one whose account is still enabled.
pub async fn current_user(
    state: &AppState,
    ls: &LoginSession<'_>,
) -> Result<Option<SessionUser>, PageError> {
    let Some(u) = ls.user().await? else {
        return Ok(None);
    };
    match state.store.find_user(&u.user_id).await? {
        Some(user) if !user.disabled => Ok(Some(u)),
        _ => Ok(None),
    }
}

pub async fn remembered_consent(
    state: &AppState,
    user_id: &str,
    client_id: &str,
) -> Result<Option<ScopeSet>, PageError> {
    Ok(state
        .store
        .find_consent(user_id, client_id)
        .await?
        .map(|s| ScopeSet::parse_supported(&s)))
}

/// Loads a pending flow and checks it belongs to this browser (SECURITY.md: every login and
/// consent step is bound to the browser's own session).
pub async fn bound_flow(
    state: &AppState,
    ls: &LoginSession<'_>,
    flow_id: &str,
) -> Result<Flow, PageError> {
    let flow = state
        .store
        .find_flow(flow_id, state.now())
        .await?
        .ok_or_else(|| PageError::bad_request("This sign-in request has expired or was already completed. Go back to the application and start again."))?;
    let key = ls.existing_browser_key().await?;
    if key.as_deref() != Some(flow.browser_key.as_str()) {
        return Err(PageError::bad_request(
            "This sign-in request was started in another browser. Go back to the application and start again.",
        ));
    }
    Ok(flow)
}

/// What decides a pending flow's next step.
pub struct FlowState {
    pub user: Option<SessionUser>,
    pub client: Client,
    pub next: Next,
}

pub async fn flow_state(
    state: &AppState,
    ls: &LoginSession<'_>,
    flow: &Flow,
) -> Result<FlowState, PageError> {
    let user = current_user(state, ls).await?;
    let client = state
        .store
        .find_client(&flow.client_id)
        .await?
        .ok_or_else(|| PageError::bad_request("The application is no longer registered."))?;
    let remembered = match &user {
        Some(u) => remembered_consent(state, &u.user_id, &client.id).await?,
        None => None,
    };
    let next = authorize::next_step(
        flow,
        user.as_ref(),
        remembered.as_ref(),
        client.skip_consent,
    );
    Ok(FlowState { user, client, next })
}

/// Where a pending flow goes now: the login page, the consent page, or back to the client.
pub async fn advance(
    state: &AppState,
    ls: &LoginSession<'_>,
    flow: &Flow,
) -> Result<Response, PageError> {
    let fs = flow_state(state, ls, flow).await?;
    match fs.next {
        Next::Finish => finish(state, flow, fs.user.as_ref(), true).await,
        next => Ok(step_redirect(next, &flow.id)),
    }
}

/// OIDC Core §3.1.2.1: the request's id_token_hint names someone other than the user.
fn hint_mismatch(
    state: &AppState,
    redirect_uri: String,
    client_state: Option<String>,
    response_mode: ResponseMode,
) -> Response {
    let error = OAuthError::new(
        ErrorCode::LoginRequired,
        "the hinted user is not the signed-in user",
    );
    error_redirect(
        state,
        &ErrorRedirect {
            redirect_uri,
            state: client_state,
            error,
            response_mode,
        },
    )
}

/// Issues the code and sends the browser back to the client (303, RFC 9700 §4.12).
pub async fn finish(
    state: &AppState,
    flow: &Flow,
    user: Option<&SessionUser>,
    stored: bool,
) -> Result<Response, PageError> {
    let user = user.ok_or_else(|| PageError::internal("finishing a flow without a user"))?;
    // OIDC Core §3.1.2.1: the request named its user with id_token_hint; nobody else finishes it.
    if flow
        .hint_sub
        .as_ref()
        .is_some_and(|sub| sub != &user.user_id)
    {
        if stored {
            state.store.delete_flow(&flow.id).await?;
        }
        return Ok(hint_mismatch(
            state,
            flow.redirect_uri.clone(),
            flow.state.clone(),
            flow.response_mode,
        ));
    }
    // Deleting first makes completion single-shot even with two tabs racing.
    if stored && !state.store.delete_flow(&flow.id).await? {
        return Err(PageError::bad_request(
            "This sign-in request was already completed.",
        ));
    }
    let resp = authorize::issue_code(&state.store, state.issuer(), flow, user, state.now()).await?;
    tracing::info!(client_id = %flow.client_id, user_id = %user.user_id, "authorization code issued");
    Ok(send_response(&resp))
}
