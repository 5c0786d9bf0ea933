//! The sign-in page.
use super::authorize::{advance, bound_flow};
use super::error::PageError;
use super::extract::{
    ClientAddress, LoginSession, PageForm, PageQuery, device_cookie, set_device_cookie,
};
use super::middleware::allow_form_target;
use super::state::AppState;
use super::templates::{LoginPage, render};
use crate::accounts::{self, AccountError};
use crate::audit::{self, Event};
use crate::domain::SignIn;
use crate::oauth::endpoints as ep;
use crate::oauth::interaction::{self, Proof};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

#[derive(Deserialize)]
pub struct LoginQuery {
    flow: Option<String>,
}

pub async fn login_form(
    State(state): State<AppState>,
    session: Session,
    PageQuery(q): PageQuery<LoginQuery>,
) -> Result<Response, PageError> {
    let ls = LoginSession(&session);
    let csrf = ls.csrf_token().await?;
    let (client_name, hint, target) = match &q.flow {
        Some(id) => {
            let flow = bound_flow(&state, &ls, id).await?;
            let client = state.store.find_client(&flow.client_id).await?;
            (
                client.map(|c| c.name),
                flow.login_hint,
                Some(flow.redirect_uri),
            )
        }
        None => (None, None, None),
    };
    // The console sent a signed-in admin back here to confirm it is them.
    let mut confirming = None;
    if q.flow.is_none() && ls.returns_to_console().await? {
        confirming = super::account::signed_in_account(&state, &ls)
            .await?
            .map(|(_, u)| u.username);
    }
    let mut resp = render(&LoginPage {
        csrf: &csrf,
        flow: q.flow.as_deref(),
        client_name: client_name.as_deref(),
        username: confirming.as_deref().or(hint.as_deref()).unwrap_or(""),
        error: None,
        passkeys: state.passkeys_enabled(),
        lead: confirming.is_some().then_some("login-confirm"),
        forgot: state.mail.is_some(),
        signup: state.signup_open(),
    });
    if let Some(uri) = target {
        allow_form_target(&mut resp, &uri);
    }
    Ok(resp)
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    csrf: String,
    flow: Option<String>,
}

pub async fn login_submit(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    headers: axum::http::HeaderMap,
    PageForm(form): PageForm<LoginForm>,
) -> Result<Response, PageError> {
    let ls = LoginSession(&session);
    ls.require_csrf(&form.csrf).await?;
    let flow_id = form.flow.filter(|f| !f.is_empty());
    let flow = match &flow_id {
        Some(id) => Some(bound_flow(&state, &ls, id).await?),
        None => None,
    };
    let https = state.config.is_https();
    let device = known_device(&state, &headers, &form.username).await?;
    let outcome = accounts::authenticate_throttled(
        &state.store,
        &state.hasher,
        &form.username,
        &form.password,
        accounts::Attempt {
            address: &address,
            device: device.as_deref(),
        },
        state.now(),
    )
    .await;
    match outcome {
        Ok(accounts::Authenticated {
            user,
            password_hash,
        }) => {
            let mut resp =
                password_signed_in(&state, &ls, &user.id, flow.as_ref(), &address).await?;
            let cookie = state.devices.issue(
                &form.username,
                &password_hash,
                device.as_deref(),
                state.now(),
            );
            set_device_cookie(&mut resp, &cookie, https);
            Ok(resp)
        }
        Err(AccountError::InvalidCredentials) => {
            let attempted = audit::attempted_username(&state.devices.pseudonym(&form.username));
            state
                .store
                .journal()
                .emit(Event::LoginFailed, "anonymous", &attempted, Some(&address));
            let csrf = ls.csrf_token().await?;
            let client_name = match &flow {
                Some(f) => state.store.find_client(&f.client_id).await?.map(|c| c.name),
                None => None,
            };
            let mut resp = render(&LoginPage {
                csrf: &csrf,
                flow: flow_id.as_deref(),
                client_name: client_name.as_deref(),
                username: &form.username,
                error: Some("login-invalid"),
                passkeys: state.passkeys_enabled(),
                lead: None,
                forgot: state.mail.is_some(),
                signup: state.signup_open(),
            });
            *resp.status_mut() = StatusCode::UNAUTHORIZED;
            if let Some(f) = &flow {
                allow_form_target(&mut resp, &f.redirect_uri);
            }
            Ok(resp)
        }
        Err(AccountError::Throttled { retry_after }) => {
            let attempted = audit::attempted_username(&state.devices.pseudonym(&form.username));
            state.store.journal().emit(
                Event::LoginThrottled,
                "anonymous",
                &attempted,
                Some(&address),
            );
            Ok(throttled_page(retry_after))
        }
        Err(AccountError::Store(e)) => Err(e.into()),
        Err(e) => Err(PageError::internal(e)),
    }
}

/// The password (or a password set through a mailed link) is proven: records the sign-in,
/// which is partial when the user has a second factor, and says where the browser goes next:
/// on with the authorization request, to the second factor, or to the page that was waiting.
pub async fn password_signed_in(
    state: &AppState,
    ls: &LoginSession<'_>,
    user_id: &str,
    flow: Option<&crate::domain::Flow>,
    address: &str,
) -> Result<Response, PageError> {
    let factors = state.store.factor_summary(user_id).await?;
    let signed = interaction::sign_in(
        None,
        Proof::Password {
            user_id: user_id.to_owned(),
            has_second_factor: factors.has_second_factor(),
        },
        flow.map(|f| f.id.as_str()),
        state.now(),
    )
    .map_err(PageError::internal)?;
    ls.set_sign_in(&signed).await?;
    let who = audit::user(user_id);
    let partial = matches!(signed, SignIn::Partial(_));
    let event = if partial {
        Event::PasswordVerified
    } else {
        Event::LoginSucceeded
    };
    state.store.journal().emit(event, &who, &who, Some(address));
    Ok(match flow {
        Some(f) => advance(state, ls, f).await?,
        None if partial => Redirect::to(ep::LOGIN_FACTOR).into_response(),
        None => Redirect::to(&ls.after_sign_in().await?).into_response(),
    })
}

/// The device id of this browser's device cookie, when it is valid for `username`: such a
/// browser is counted on its own back-off key (SECURITY.md "Lockout is not a weapon").
pub async fn known_device(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    username: &str,
) -> Result<Option<String>, PageError> {
    let Some(cookie) = device_cookie(headers, state.config.is_https()) else {
        return Ok(None);
    };
    // A device cookie counts only while the user's password is the one it was issued under.
    let credential = stored_credential(state, username).await?;
    Ok(state
        .devices
        .verify(&cookie, username, &credential, state.now()))
}

/// The stored password hash a device cookie is bound to; empty for an unknown username.
async fn stored_credential(state: &AppState, username: &str) -> Result<String, PageError> {
    Ok(state
        .store
        .find_user_credentials(username)
        .await?
        .map(|(_, hash)| hash)
        .unwrap_or_default())
}

/// 429 with `Retry-After`: too many recent failures for this account, device or address.
pub fn throttled_page(retry_after: i64) -> Response {
    let mut resp = PageError {
        status: StatusCode::TOO_MANY_REQUESTS,
        title: "error-throttled-title",
        message: super::i18n::t1("error-throttled", "seconds", &retry_after.to_string()),
    }
    .into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(&retry_after.to_string()) {
        resp.headers_mut()
            .insert(axum::http::header::RETRY_AFTER, v);
    }
    resp
}
