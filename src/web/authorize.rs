//! GET/POST /authorize (RFC 6749 §4.1.1, OIDC Core §3.1.2.1), and rendering what the sign-in
//! engine (`oauth::interaction`) decides.
use super::error::PageError;
use super::extract::{ClientAddress, LoginSession, params_from};
use super::middleware::allow_form_target;
use super::state::AppState;
use super::templates::{FormPostPage, render};
use crate::accounts::throttle::address_key;
use crate::config::FLOWS_PER_BROWSER;
use crate::domain::{Flow, ResponseMode};
use crate::oauth::authorize::{self, AuthorizationResponse, Params, Rejection};
use crate::oauth::endpoints as ep;
use crate::oauth::interaction::{self, Browser, Decision, InteractionError, Outcome, Step};
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
    // RFC 9126 §4: a request naming a pushed one runs the pushed parameters alone.
    let pushed = crate::oauth::par::resolve(&state.store, params, state.now()).await?;
    let origin = match pushed {
        Some(_) => authorize::Origin::Pushed,
        None => authorize::Origin::Direct {
            par_required: state.config.require_par,
        },
    };
    let params = pushed.as_ref().unwrap_or(params);
    let req = match authorize::validate(&state.store, &state.keys, state.issuer(), params, origin)
        .await
    {
        Ok(r) => r,
        Err(Rejection::Page(e)) => return Err(e.into()),
        Err(Rejection::Redirect(r)) => {
            tracing::info!(
                error = r.error.code.as_str(),
                "authorization request refused"
            );
            return Ok(send_response(&authorize::error_response(
                state.issuer(),
                &r,
            )));
        }
    };
    let ls = LoginSession(session);
    // OIDC Core §3.1.2.1 ui_locales: this browser's pages speak the first one we offer.
    match params
        .get("ui_locales")
        .and_then(super::i18n::from_ui_locales)
    {
        Some(locale) => session.insert(super::i18n::UI_LOCALE_KEY, locale).await?,
        None => {
            if session
                .get::<super::i18n::Locale>(super::i18n::UI_LOCALE_KEY)
                .await?
                .is_some()
            {
                session
                    .remove::<super::i18n::Locale>(super::i18n::UI_LOCALE_KEY)
                    .await?;
            }
        }
    }
    let browser = browser(state, &ls, true).await?;
    let caps = FlowCaps {
        per_browser: FLOWS_PER_BROWSER,
        per_address: state.config.max_pending_flows_per_address,
    };
    let outcome =
        interaction::start(engine(state), &req, &browser, &address_key(address), caps).await?;
    if let Outcome::Show(_, flow) = &outcome {
        ls.keep_for_flow(flow.expires_at).await?;
    }
    Ok(render_outcome(outcome))
}

/// The engine's view of the server.
pub fn engine(state: &AppState) -> interaction::Context<'_> {
    interaction::Context {
        store: &state.store,
        issuer: state.issuer(),
        now: state.now(),
        admins_require_mfa: state.config.admins_require_mfa,
    }
}

/// The engine's view of this browser. `create` gives a browser without a key one (only
/// `/authorize` starts flows; other pages never create a session).
pub async fn browser(
    state: &AppState,
    ls: &LoginSession<'_>,
    create: bool,
) -> Result<Browser, PageError> {
    let key = if create {
        ls.browser_key().await?
    } else {
        ls.existing_browser_key().await?.unwrap_or_default()
    };
    let stored = ls.sign_in_state().await?;
    Ok(Browser {
        key,
        session_key: ls.session_key().await?,
        state: interaction::current(&state.store, stored, state.now()).await?,
    })
}

/// The page each step lives on.
pub fn step_path(step: Step) -> &'static str {
    match step {
        Step::Login => ep::LOGIN,
        Step::SecondFactor => ep::LOGIN_FACTOR,
        Step::FactorMissing => ep::LOGIN_HELP,
        Step::Consent => ep::CONSENT,
    }
}

/// Renders an engine outcome: a redirect to the step's page, or the response to the client.
pub fn render_outcome(outcome: Outcome) -> Response {
    match outcome {
        Outcome::Show(step, flow) => {
            Redirect::to(&format!("{}?flow={}", step_path(step), flow.id)).into_response()
        }
        Outcome::Respond(resp) => send_response(&resp),
    }
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

/// Loads a pending flow and checks it belongs to this browser (SECURITY.md: every login and
/// consent step is bound to the browser's own session).
pub async fn bound_flow(
    state: &AppState,
    ls: &LoginSession<'_>,
    flow_id: &str,
) -> Result<Flow, PageError> {
    if flow_id.len() > 64 || crate::oauth::authorize::has_control(flow_id) {
        return Err(PageError::bad_request("error-flow-invalid"));
    }
    let flow = state
        .store
        .find_flow(flow_id, state.now())
        .await?
        .ok_or_else(|| PageError::bad_request("error-flow-expired"))?;
    let key = ls.existing_browser_key().await?;
    if key.as_deref() != Some(flow.browser_key.as_str()) {
        return Err(PageError::bad_request("error-flow-other-browser"));
    }
    Ok(flow)
}

/// Where a pending flow stands now, as the engine sees it.
pub async fn resume(
    state: &AppState,
    ls: &LoginSession<'_>,
    flow: &Flow,
    decision: Option<Decision>,
) -> Result<Outcome, PageError> {
    let browser = browser(state, ls, false).await?;
    Ok(interaction::resume(engine(state), flow, &browser, decision).await?)
}

/// Moves a pending flow on after a step and renders where it goes.
pub async fn advance(
    state: &AppState,
    ls: &LoginSession<'_>,
    flow: &Flow,
) -> Result<Response, PageError> {
    Ok(render_outcome(resume(state, ls, flow, None).await?))
}

impl From<InteractionError> for PageError {
    fn from(e: InteractionError) -> Self {
        match e {
            InteractionError::Refused(message) => Self::bad_request(message),
            InteractionError::Store(e) => e.into(),
            InteractionError::OAuth(e) => e.into(),
        }
    }
}
