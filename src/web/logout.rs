//! RP-Initiated Logout 1.0 (`end_session_endpoint`) and the account page's sign-out.
use super::error::PageError;
use super::extract::{ClientAddress, LoginSession, params_from};
use super::middleware::allow_form_target;
use super::state::AppState;
use super::templates::{LoggedOutPage, LogoutConfirmPage, render};
use crate::oauth::authorize::{Params, append_query, check_well_formed};
use crate::oauth::interaction;
use crate::oauth::jwt::{self, Kind};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

/// A checked logout request: where to go afterwards and whether it clearly comes from the
/// session's own relying party.
struct LogoutRequest {
    client_id: Option<String>,
    client_name: Option<String>,
    redirect: Option<String>,
    state: Option<String>,
    hint_sub: Option<String>,
}

/// RP-Initiated Logout §2-§3: a hint must be our ID token; a post-logout redirect URI must be
/// registered (exactly) for the client the hint or `client_id` names, or we do not redirect.
async fn check(state: &AppState, params: &Params) -> Result<LogoutRequest, PageError> {
    if let Err(e) = check_well_formed(params) {
        return Err(e.into());
    }
    let mut client_id = params.get("client_id").map(str::to_owned);
    let mut hint_sub = None;
    if let Some(hint) = params.get("id_token_hint") {
        let claims: serde_json::Value = jwt::decode(&state.keys, state.issuer(), hint, Kind::Id)
            .map_err(|_| {
                PageError::bad_request("The sign-out request carries an invalid ID token.")
            })?;
        let aud = match &claims["aud"] {
            serde_json::Value::String(a) => Some(a.clone()),
            serde_json::Value::Array(a) => a.first().and_then(|v| v.as_str()).map(str::to_owned),
            _ => None,
        };
        if client_id.is_some() && client_id != aud {
            return Err(PageError::bad_request(
                "The sign-out request names two different applications.",
            ));
        }
        client_id = aud;
        hint_sub = claims["sub"].as_str().map(str::to_owned);
    }
    let client = match &client_id {
        Some(id) => Some(
            state
                .store
                .find_client(id)
                .await?
                .ok_or_else(|| PageError::bad_request("Unknown application."))?,
        ),
        None => None,
    };
    let redirect = match params.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => match &client {
            Some(c) if c.allows_post_logout_redirect_uri(uri) => Some(uri.to_owned()),
            _ => {
                return Err(PageError::bad_request(
                    "The address to return to after sign-out is not registered for this application.",
                ));
            }
        },
    };
    Ok(LogoutRequest {
        client_name: client.map(|c| c.name),
        client_id,
        redirect,
        state: params.get("state").map(str::to_owned),
        hint_sub,
    })
}

pub async fn logout_get(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    RawQuery(q): RawQuery,
) -> Result<Response, PageError> {
    start(
        &state,
        &session,
        &address,
        &params_from(q.unwrap_or_default().as_bytes()),
    )
    .await
}

/// A POST with the CSRF token is the confirmation (or the account page's button); without it,
/// it is an RP's form-encoded logout request, handled like GET.
pub async fn logout_post(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    body: Bytes,
) -> Result<Response, PageError> {
    let params = params_from(&body);
    let ls = LoginSession(&session);
    match params.get("csrf") {
        None => start(&state, &session, &address, &params).await,
        Some(csrf) => {
            ls.require_csrf(csrf).await?;
            let req = check(&state, &params).await?;
            finish(&state, &ls, &address, req).await
        }
    }
}

async fn start(
    state: &AppState,
    session: &Session,
    address: &str,
    params: &Params,
) -> Result<Response, PageError> {
    let req = check(state, params).await?;
    let ls = LoginSession(session);
    let state_now = ls.sign_in_state().await?;
    let user = state_now.as_ref().map(interaction::user_of);
    // Clearly from the session's RP: a valid hint for the signed-in user. Otherwise ask.
    let clear = match (user, &req.hint_sub) {
        (None, Some(_)) => true,
        (Some(u), Some(sub)) => u == sub,
        (_, None) => false,
    };
    if clear {
        return finish(state, &ls, address, req).await;
    }
    let csrf = ls.csrf_token().await?;
    let mut resp = render(&LogoutConfirmPage {
        csrf: &csrf,
        client_name: req.client_name.as_deref(),
        client_id: req.client_id.as_deref(),
        redirect: req.redirect.as_deref(),
        state: req.state.as_deref(),
    });
    if let Some(uri) = &req.redirect {
        allow_form_target(&mut resp, uri);
    }
    Ok(resp)
}

/// Ends the session: its session-bound refresh tokens are revoked (offline access survives),
/// the back ends of the clients that got tokens in it are told, the session is destroyed, and
/// the browser goes back to the RP if it asked to.
async fn finish(
    state: &AppState,
    ls: &LoginSession<'_>,
    address: &str,
    req: LogoutRequest,
) -> Result<Response, PageError> {
    if let Some(key) = ls.session_key().await? {
        // Codes first: a redemption committing in between then has no code left to redeem,
        // and one already committed has its grant revoked next.
        let expired = state.store.expire_session_codes(&key).await?;
        let revoked = expired + state.store.revoke_session_grants(&key, state.now()).await?;
        if revoked > 0 {
            tracing::info!(revoked, "session-bound tokens revoked at sign-out");
        }
        // Back-Channel Logout 1.0 §2.7: queued, so the page never waits on a relying party.
        state.store.queue_session_logouts(&key, state.now()).await?;
    }
    if let Some(u) = ls.sign_in_state().await? {
        let who = crate::audit::user(interaction::user_of(&u));
        state
            .store
            .journal()
            .emit(crate::audit::Event::Logout, &who, &who, Some(address));
    }
    ls.sign_out().await?;
    match req.redirect {
        Some(uri) => {
            let mut q = Vec::new();
            if let Some(s) = req.state.as_deref() {
                q.push(("state", s));
            }
            let target = if q.is_empty() {
                uri
            } else {
                append_query(&uri, &q)
            };
            Ok(Redirect::to(&target).into_response())
        }
        None => Ok(render(&LoggedOutPage {
            client_name: req.client_name.as_deref(),
        })),
    }
}
