//! The consent page: the client's name and the requested scopes in words; Allow or Deny.
use super::authorize::{bound_flow, render_outcome, resume};
use super::error::PageError;
use super::extract::{ClientAddress, LoginSession, PageForm, PageQuery};
use super::middleware::allow_form_target;
use super::state::AppState;
use super::templates::{ConsentPage, ScopeLine, render};
use crate::domain::ScopeSet;
use crate::domain::scope::describe;
use crate::oauth::interaction::{Decision, Outcome, Step, completed};
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
    let outcome = resume(&state, &ls, &flow, None).await?;
    let Outcome::Show(Step::Consent, flow) = outcome else {
        return Ok(render_outcome(outcome));
    };
    let browser = super::authorize::browser(&state, &ls, false).await?;
    let user_id = completed(browser.state.as_ref())
        .map(|a| a.user_id.clone())
        .ok_or_else(|| PageError::internal("consent without a signed-in user"))?;
    let account = state
        .store
        .find_user(&user_id)
        .await?
        .ok_or_else(|| PageError::internal("session user vanished"))?;
    let client = state
        .store
        .find_client(&flow.client_id)
        .await?
        .ok_or_else(|| PageError::bad_request("error-client-gone"))?;
    let csrf = ls.csrf_token().await?;
    let scope = crate::oauth::resource::effective(
        &state.store,
        &ScopeSet::from_wire(&flow.scope),
        &user_id,
    )
    .await?;
    let scopes = scope_lines(&state, &scope).await?;
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

/// The scopes in words: ours from the catalog, an API's as its admin wrote them.
pub async fn scope_lines<'a>(
    state: &AppState,
    scope: &'a ScopeSet,
) -> Result<Vec<ScopeLine<'a>>, PageError> {
    let names: Vec<&str> = scope.api_part().collect();
    let apis = if names.is_empty() {
        Vec::new()
    } else {
        state.store.apis_for_cached(&names, &[]).await?
    };
    Ok(scope
        .iter()
        .filter_map(|s| {
            if !names.contains(&s) {
                return Some(ScopeLine {
                    name: s,
                    description: super::i18n::t_or(&format!("scope-{s}"), describe(s)),
                    api: None,
                });
            }
            // A scope whose API was deleted since is not shown.
            let api = apis.iter().find(|a| a.owns(s))?;
            Some(ScopeLine {
                name: s,
                description: api.scope(s)?.description.clone(),
                api: Some(api.name.clone()),
            })
        })
        .collect())
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
    let decision = match form.decision.as_str() {
        "allow" => Decision::Allow,
        "deny" => Decision::Deny,
        _ => return Err(PageError::bad_request("Choose Allow or Deny.")),
    };
    let flow = bound_flow(&state, &ls, &form.flow).await?;
    let browser = super::authorize::browser(&state, &ls, false).await?;
    let user = completed(browser.state.as_ref()).map(|a| a.user_id.clone());
    let outcome = crate::oauth::interaction::resume(
        super::authorize::engine(&state),
        &flow,
        &browser,
        Some(decision),
    )
    .await?;
    if let (Decision::Allow, Outcome::Respond(_), Some(user)) = (decision, &outcome, &user) {
        state.store.journal().emit(
            crate::audit::Event::ConsentGranted,
            &crate::audit::user(user),
            &crate::audit::client(&flow.client_id),
            Some(&address),
        );
    }
    Ok(render_outcome(outcome))
}
