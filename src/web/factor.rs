//! The second step of sign-in (an authenticator code, a recovery code or a passkey), and the
//! page for people who cannot give one.
use super::authorize::{bound_flow, browser, render_outcome, resume};
use super::error::PageError;
use super::extract::{ClientAddress, LoginSession, PageForm, PageQuery};
use super::middleware::allow_form_target;
use super::state::AppState;
use super::templates::{FactorHelpPage, FactorPage, render};
use crate::accounts::mfa::{self, MfaError};
use crate::audit::{self, Event};
use crate::domain::{Factor, Flow, SignIn};
use crate::oauth::endpoints as ep;
use crate::oauth::interaction::{self, Outcome, Proof, Step};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

#[derive(Deserialize)]
pub struct FlowQuery {
    flow: Option<String>,
}

fn with_flow(path: &str, flow: Option<&str>) -> String {
    match flow {
        Some(f) => format!("{path}?flow={f}"),
        None => path.to_owned(),
    }
}

/// Where this page's flow stands: `Ok(None)` when the flow waits for a second factor (or there
/// is no flow and a sign-in waits for one), otherwise the response that moves the browser on.
async fn waiting(
    state: &AppState,
    ls: &LoginSession<'_>,
    flow_id: Option<&str>,
) -> Result<Result<(Option<Flow>, SignIn), Response>, PageError> {
    let b = browser(state, ls, false).await?;
    let Some(current) = b.state else {
        let to = with_flow(ep::LOGIN, flow_id);
        return Ok(Err(Redirect::to(&to).into_response()));
    };
    let Some(id) = flow_id else {
        // Without a flow: a sign-in waiting for its factor, or a password session stepping
        // up before it may change the account's factors.
        let step_up = match &current {
            SignIn::Partial(_) => true,
            SignIn::Complete(a) => !super::account::strong_enough(state, a).await?,
        };
        return Ok(if step_up {
            Ok((None, current))
        } else {
            Err(Redirect::to(ep::ACCOUNT).into_response())
        });
    };
    let flow = bound_flow(state, ls, id).await?;
    match resume(state, ls, &flow, None).await? {
        Outcome::Show(Step::SecondFactor, flow) => Ok(Ok((Some(*flow), current))),
        other => Ok(Err(render_outcome(other))),
    }
}

async fn page(
    state: &AppState,
    ls: &LoginSession<'_>,
    flow: Option<&Flow>,
    user_id: &str,
    error: Option<&str>,
) -> Result<Response, PageError> {
    let user = state
        .store
        .find_user(user_id)
        .await?
        .ok_or_else(|| PageError::internal("session user vanished"))?;
    let summary = state.store.factor_summary(user_id).await?;
    let client_name = match flow {
        Some(f) => state.store.find_client(&f.client_id).await?.map(|c| c.name),
        None => None,
    };
    let csrf = ls.csrf_token().await?;
    let mut resp = render(&FactorPage {
        csrf: &csrf,
        flow: flow.map(|f| f.id.as_str()),
        client_name: client_name.as_deref(),
        username: &user.username,
        error,
        totp: summary.totp,
        recovery: summary.recovery_codes > 0,
        passkeys: summary.passkeys > 0 && state.passkeys_enabled(),
    });
    if let Some(f) = flow {
        allow_form_target(&mut resp, &f.redirect_uri);
    }
    Ok(resp)
}

pub async fn factor_form(
    State(state): State<AppState>,
    session: Session,
    PageQuery(q): PageQuery<FlowQuery>,
) -> Result<Response, PageError> {
    let ls = LoginSession(&session);
    let (flow, current) = match waiting(&state, &ls, q.flow.as_deref()).await? {
        Ok(w) => w,
        Err(resp) => return Ok(resp),
    };
    page(
        &state,
        &ls,
        flow.as_ref(),
        interaction::user_of(&current),
        None,
    )
    .await
}

#[derive(Deserialize)]
pub struct FactorForm {
    csrf: String,
    code: String,
    flow: Option<String>,
}

pub async fn factor_submit(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    PageForm(form): PageForm<FactorForm>,
) -> Result<Response, PageError> {
    let ls = LoginSession(&session);
    ls.require_csrf(&form.csrf).await?;
    let flow_id = form.flow.as_deref().filter(|f| !f.is_empty());
    let (flow, current) = match waiting(&state, &ls, flow_id).await? {
        Ok(w) => w,
        Err(resp) => return Ok(resp),
    };
    let user_id = interaction::user_of(&current).to_owned();
    let who = audit::user(&user_id);
    let checked = mfa::verify_code(
        &state.store,
        &state.factors,
        &user_id,
        &form.code,
        state.now(),
    )
    .await;
    match checked {
        Ok(factor) => {
            if factor == Factor::RecoveryCode {
                state
                    .store
                    .journal()
                    .emit(Event::RecoveryCodeUsed, &who, &who, Some(&address));
            }
            complete(&state, &ls, &address, flow.as_ref(), &current, factor).await
        }
        Err(e @ (MfaError::WrongCode | MfaError::Replayed)) => {
            state
                .store
                .journal()
                .emit(Event::SecondFactorFailed, &who, &who, Some(&address));
            let message = if matches!(e, MfaError::Replayed) {
                "factor-replayed"
            } else {
                "factor-wrong"
            };
            let mut resp = page(&state, &ls, flow.as_ref(), &user_id, Some(message)).await?;
            *resp.status_mut() = StatusCode::UNAUTHORIZED;
            Ok(resp)
        }
        Err(MfaError::Throttled { retry_after }) => {
            state
                .store
                .journal()
                .emit(Event::SecondFactorThrottled, &who, &who, Some(&address));
            Ok(super::login::throttled_page(retry_after))
        }
        Err(MfaError::Store(e)) => Err(e.into()),
        Err(e) => Err(PageError::internal(e)),
    }
}

/// Applies a verified second factor to the session and moves the flow on.
pub async fn complete(
    state: &AppState,
    ls: &LoginSession<'_>,
    address: &str,
    flow: Option<&Flow>,
    current: &SignIn,
    factor: Factor,
) -> Result<Response, PageError> {
    let signed = interaction::sign_in(
        Some(current),
        Proof::SecondFactor(factor),
        flow.map(|f| f.id.as_str()),
        state.now(),
    )
    .map_err(|e| PageError::bad_request(e.to_string()))?;
    ls.set_sign_in(&signed).await?;
    let who = audit::user(interaction::user_of(&signed));
    state
        .store
        .journal()
        .emit(Event::SecondFactorSucceeded, &who, &who, Some(address));
    state
        .store
        .journal()
        .emit(Event::LoginSucceeded, &who, &who, Some(address));
    match flow {
        Some(f) => super::authorize::advance(state, ls, f).await,
        None => Ok(Redirect::to(&ls.after_sign_in().await?).into_response()),
    }
}

/// Help for people who cannot give a second factor, or whose account lacks one that policy
/// requires: never a dead end.
pub async fn help(
    State(state): State<AppState>,
    session: Session,
    PageQuery(q): PageQuery<FlowQuery>,
) -> Result<Response, PageError> {
    let ls = LoginSession(&session);
    let mut missing = false;
    let mut client_name = None;
    if let Some(id) = q.flow.as_deref() {
        let flow = bound_flow(&state, &ls, id).await?;
        client_name = state
            .store
            .find_client(&flow.client_id)
            .await?
            .map(|c| c.name);
        // Looking never finishes the flow.
        let b = browser(&state, &ls, false).await?;
        missing = interaction::peek(super::authorize::engine(&state), &flow, &b).await?
            == interaction::Next::Page(Step::FactorMissing);
    }
    let csrf = ls.csrf_token().await?;
    let mut resp = render(&FactorHelpPage {
        csrf: &csrf,
        missing,
        flow: q.flow.as_deref(),
        client_name: client_name.as_deref(),
        contact: state.config.help_contact.as_deref(),
    });
    if missing {
        // The application's requirement is not met: say so with the status too.
        *resp.status_mut() = StatusCode::FORBIDDEN;
    }
    Ok(resp)
}

#[derive(Deserialize)]
pub struct GiveUpForm {
    csrf: String,
    flow: String,
}

/// "Back to the application" from the help page: the flow ends with `access_denied`.
pub async fn give_up(
    State(state): State<AppState>,
    session: Session,
    PageForm(form): PageForm<GiveUpForm>,
) -> Result<Response, PageError> {
    let ls = LoginSession(&session);
    ls.require_csrf(&form.csrf).await?;
    let flow = bound_flow(&state, &ls, &form.flow).await?;
    let b = browser(&state, &ls, false).await?;
    let outcome = interaction::abandon(super::authorize::engine(&state), &flow, &b).await?;
    Ok(render_outcome(outcome))
}
