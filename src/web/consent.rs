//! The consent page: the client's name and the requested scopes in words; Allow or Deny.
use super::authorize::{
    advance, bound_flow, current_user, error_redirect, finish, flow_state, remembered_consent,
};
use super::error::PageError;
use super::extract::{ClientAddress, LoginSession, PageForm, PageQuery};
use super::middleware::allow_form_target;
use super::state::AppState;
use super::templates::{ConsentPage, ScopeLine, render};
use crate::domain::ScopeSet;
use crate::domain::scope::describe;
use crate::oauth::authorize::{self, ErrorRedirect, Next};
use crate::oauth::{ErrorCode, OAuthError};
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use tower_sessions::Session;

#[derive(Deserialize)]
pub struct ConsentQuery {
    flow: String,
}

pub async fn consent_form(
    State(state): State<AppState>,
    session: Session,
    PageQuery(q): PageQuery<ConsentQuery>,
) -> Result<Response, PageError> {
    let ls = LoginSession(&session);
    let flow = bound_flow(&state, &ls, &q.flow).await?;
    let fs = flow_state(&state, &ls, &flow).await?;
    let (Next::Consent, Some(u)) = (fs.next, &fs.user) else {
        return advance(&state, &ls, &flow).await;
    };
    let client = fs.client;
    let account = state
        .store
        .find_user(&u.user_id)
        .await?
        .ok_or_else(|| PageError::internal("session user vanished"))?;
    let csrf = ls.csrf_token().await?;
    let scope = ScopeSet::parse_supported(&flow.scope);
    let scopes = scope
        .iter()
        .map(|s| ScopeLine {
            name: s,
            description: describe(s),
        })
        .collect();
    let mut resp = render(&ConsentPage {
        csrf: &csrf,
        flow: &flow.id,
        client_name: &client.name,
        username: &account.username,
        scopes,
    });
    allow_form_target(&mut resp, &flow.redirect_uri);
    Ok(resp)
}

#[derive(Deserialize)]
pub struct ConsentForm {
    flow: String,
    csrf: String,
    decision: String,
}

pub async fn consent_submit(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    PageForm(form): PageForm<ConsentForm>,
) -> Result<Response, PageError> {
    let ls = LoginSession(&session);
    ls.require_csrf(&form.csrf).await?;
    let flow = bound_flow(&state, &ls, &form.flow).await?;
    let Some(user) = current_user(&state, &ls).await? else {
        return advance(&state, &ls, &flow).await;
    };
    if authorize::next_step(&flow, Some(&user), None, false) == Next::Login {
        return advance(&state, &ls, &flow).await;
    }
    match form.decision.as_str() {
        "allow" => {
            let granted = ScopeSet::parse_supported(&flow.scope);
            let previous = remembered_consent(&state, &user.user_id, &flow.client_id)
                .await?
                .unwrap_or_default();
            state
                .store
                .upsert_consent(
                    &user.user_id,
                    &flow.client_id,
                    // Offline access is asked for every time, never remembered.
                    &previous.union(&granted).without("offline_access").to_wire(),
                    state.now(),
                )
                .await?;
            crate::audit::emit(
                crate::audit::Event::ConsentGranted,
                &crate::audit::user(&user.user_id),
                &crate::audit::client(&flow.client_id),
                Some(&address),
            );
            finish(&state, &flow, Some(&user), true).await
        }
        "deny" => {
            if !state.store.delete_flow(&flow.id).await? {
                return Err(PageError::bad_request(
                    "This sign-in request was already completed.",
                ));
            }
            let error = OAuthError::new(ErrorCode::AccessDenied, "the user denied the request");
            Ok(error_redirect(
                &state,
                &ErrorRedirect {
                    redirect_uri: flow.redirect_uri,
                    state: flow.state,
                    error,
                    response_mode: flow.response_mode,
                },
            ))
        }
        _ => Err(PageError::bad_request("Choose Allow or Deny.")),
    }
}
