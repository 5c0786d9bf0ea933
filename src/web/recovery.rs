//! Pages around the links Gatehouse mails: "Forgot password?", the reset page, email
//! verification, sign-up and invitations; and the account page's password and address
//! changes. Each handler parses, calls one `accounts` function and renders.
use super::account::signed_in_account;
use super::authorize::bound_flow;
use super::error::PageError;
use super::extract::{ClientAddress, LoginSession, PageForm, PageQuery, set_device_cookie};
use super::i18n as tr;
use super::login::{known_device, password_signed_in, throttled_page};
use super::state::AppState;
use super::templates::{
    ChangeEmailPage, ChangePasswordPage, ForgotPage, ResetPage, SignupCompletePage, SignupPage,
    VerifyEmailPage, render,
};
use crate::accounts::password::PolicyError;
use crate::accounts::recovery::{self, LinkError, Request};
use crate::accounts::{self, AccountError};
use crate::audit::{self, Event};
use crate::domain::Flow;
use crate::oauth::endpoints as ep;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

/// The words for a refused password, in the page's language.
fn policy_message(e: PolicyError) -> String {
    match e {
        PolicyError::TooShort(min) => tr::t1("password-too-short", "min", &min.to_string()),
        PolicyError::TooLong => tr::t("password-too-long"),
        PolicyError::Common => tr::t("password-common"),
        PolicyError::Personal => tr::t("password-personal"),
    }
}

/// Expired, used, superseded or unknown: the same page for each, with the way to a new link.
fn link_invalid() -> PageError {
    PageError {
        status: StatusCode::GONE,
        title: "link-invalid-title",
        message: "link-invalid".into(),
    }
}

fn link_page_error(e: LinkError) -> PageError {
    match e {
        LinkError::Invalid => link_invalid(),
        LinkError::Throttled => PageError {
            status: StatusCode::TOO_MANY_REQUESTS,
            title: "link-throttled-title",
            message: "link-throttled".into(),
        },
        LinkError::Account(AccountError::Store(e)) => e.into(),
        LinkError::Account(e) => PageError::internal(e),
    }
}

/// The form again, saying what is wrong (422: understood, and refused).
fn refused_page<T: askama::Template>(page: &T) -> Response {
    let mut resp = render(page);
    *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    resp
}

fn min_length(state: &AppState) -> String {
    state.hasher.policy().min_chars().to_string()
}

/// The authorization request a person was in, if this browser holds it. A link opened in
/// another browser simply does not continue it.
async fn own_flow(state: &AppState, ls: &LoginSession<'_>, id: Option<&str>) -> Option<Flow> {
    match id.filter(|f| !f.is_empty()) {
        Some(id) => bound_flow(state, ls, id).await.ok(),
        None => None,
    }
}

fn sign_in_page(flow: Option<&Flow>) -> String {
    match flow {
        Some(f) => format!("{}?flow={}", ep::LOGIN, f.id),
        None => ep::LOGIN.to_owned(),
    }
}

/// Signs the person in after a reset or a new account, as the sign-in page would: a user with
/// a second factor still has to pass it. Continues the authorization request when this
/// browser holds it.
async fn sign_in_after(
    state: &AppState,
    ls: &LoginSession<'_>,
    user_id: &str,
    flow_id: Option<&str>,
    address: &str,
) -> Result<Response, PageError> {
    let flow = own_flow(state, ls, flow_id).await;
    password_signed_in(state, ls, user_id, flow.as_ref(), address).await
}

/// Takes an anonymous request for a link: throttled per client address (a refusal says
/// nothing about any account), then answered at once. The lookup and the mail happen after
/// the response, so neither the page nor its timing tells whether an account exists.
async fn accept(
    state: &AppState,
    ls: &LoginSession<'_>,
    address: String,
    flow: Option<String>,
    request: Request,
) -> Result<Option<Flow>, PageError> {
    recovery::address_allowed(&state.store, &address, state.now())
        .await
        .map_err(link_page_error)?;
    let flow = own_flow(state, ls, flow.as_deref()).await;
    let flow_id = flow.as_ref().map(|f| f.id.clone());
    let background = state.clone();
    tokio::spawn(async move {
        let Some(out) = background.outbound() else {
            return;
        };
        let now = background.now();
        if let Err(e) = request
            .send(&background.store, out, flow_id.as_deref(), &address, now)
            .await
        {
            tracing::warn!(error = %e, "mailed-link request not processed");
        }
    });
    Ok(flow)
}

#[derive(Deserialize)]
pub struct FlowQuery {
    flow: Option<String>,
}

pub async fn forgot_form(
    State(state): State<AppState>,
    session: Session,
    PageQuery(q): PageQuery<FlowQuery>,
) -> Result<Response, PageError> {
    let ls = LoginSession(&session);
    let csrf = ls.csrf_token().await?;
    let flow = own_flow(&state, &ls, q.flow.as_deref()).await;
    Ok(render(&ForgotPage {
        csrf: &csrf,
        flow: flow.as_ref().map(|f| f.id.as_str()),
        sent: false,
        minutes: (recovery::RESET_TTL / 60).to_string(),
        back: &sign_in_page(flow.as_ref()),
    }))
}

#[derive(Deserialize)]
pub struct ForgotForm {
    csrf: String,
    who: String,
    flow: Option<String>,
}

/// The same answer whether or not the name has an account: the lookup and the mail happen
/// after the response, so not even its timing tells.
pub async fn forgot_submit(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    PageForm(form): PageForm<ForgotForm>,
) -> Result<Response, PageError> {
    let ls = LoginSession(&session);
    ls.require_csrf(&form.csrf).await?;
    let who = form.who.trim().to_owned();
    if who.is_empty() || who.len() > 254 {
        return Err(PageError::bad_request("error-form-incomplete"));
    }
    let flow = accept(&state, &ls, address, form.flow, Request::Reset { who }).await?;
    let csrf = ls.csrf_token().await?;
    Ok(render(&ForgotPage {
        csrf: &csrf,
        flow: None,
        sent: true,
        minutes: (recovery::RESET_TTL / 60).to_string(),
        back: &sign_in_page(flow.as_ref()),
    }))
}

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

pub async fn reset_form(
    State(state): State<AppState>,
    session: Session,
    PageQuery(q): PageQuery<TokenQuery>,
) -> Result<Response, PageError> {
    let user = recovery::reset_link(&state.store, &q.token, state.now())
        .await
        .map_err(link_page_error)?;
    let ls = LoginSession(&session);
    let csrf = ls.csrf_token().await?;
    Ok(render(&ResetPage {
        csrf: &csrf,
        token: &q.token,
        username: &user.username,
        min_length: min_length(&state),
        error: None,
    }))
}

#[derive(Deserialize)]
pub struct ResetForm {
    csrf: String,
    token: String,
    password: String,
    confirm: String,
}

pub async fn reset_submit(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    PageForm(form): PageForm<ResetForm>,
) -> Result<Response, PageError> {
    let ls = LoginSession(&session);
    ls.require_csrf(&form.csrf).await?;
    let refused = |message: String| async {
        let user = recovery::reset_link(&state.store, &form.token, state.now())
            .await
            .map_err(link_page_error)?;
        let csrf = ls.csrf_token().await?;
        Ok::<_, PageError>(refused_page(&ResetPage {
            csrf: &csrf,
            token: &form.token,
            username: &user.username,
            min_length: min_length(&state),
            error: Some(message),
        }))
    };
    if form.password != form.confirm {
        return refused(tr::t("password-mismatch")).await;
    }
    let reset = recovery::reset_password(
        &state.store,
        &state.hasher,
        &form.token,
        &form.password,
        Some(&address),
        state.now(),
    )
    .await;
    match reset {
        Ok(reset) => {
            sign_in_after(
                &state,
                &ls,
                &reset.user.id,
                reset.flow_id.as_deref(),
                &address,
            )
            .await
        }
        Err(LinkError::Account(AccountError::Policy(e))) => refused(policy_message(e)).await,
        Err(e) => Err(link_page_error(e)),
    }
}

pub async fn verify_form(
    State(state): State<AppState>,
    session: Session,
    PageQuery(q): PageQuery<TokenQuery>,
) -> Result<Response, PageError> {
    let (user, email) = recovery::verification_link(&state.store, &q.token, state.now())
        .await
        .map_err(link_page_error)?;
    let ls = LoginSession(&session);
    let csrf = ls.csrf_token().await?;
    Ok(render(&VerifyEmailPage {
        csrf: &csrf,
        token: &q.token,
        email: &email,
        username: &user.username,
        done: false,
    }))
}

#[derive(Deserialize)]
pub struct TokenForm {
    csrf: String,
    token: String,
}

/// Confirming takes a click, not just opening the link: mail scanners open links too.
pub async fn verify_submit(
    State(state): State<AppState>,
    session: Session,
    PageForm(form): PageForm<TokenForm>,
) -> Result<Response, PageError> {
    let ls = LoginSession(&session);
    ls.require_csrf(&form.csrf).await?;
    let user = recovery::verify_email(&state.store, &form.token, state.now())
        .await
        .map_err(link_page_error)?;
    let csrf = ls.csrf_token().await?;
    Ok(render(&VerifyEmailPage {
        csrf: &csrf,
        token: "",
        email: user.email.as_deref().unwrap_or_default(),
        username: &user.username,
        done: true,
    }))
}

pub async fn signup_form(
    State(state): State<AppState>,
    session: Session,
    PageQuery(q): PageQuery<FlowQuery>,
) -> Result<Response, PageError> {
    let ls = LoginSession(&session);
    let csrf = ls.csrf_token().await?;
    let flow = own_flow(&state, &ls, q.flow.as_deref()).await;
    Ok(render(&SignupPage {
        csrf: &csrf,
        flow: flow.as_ref().map(|f| f.id.as_str()),
        sent: false,
        back: &sign_in_page(flow.as_ref()),
    }))
}

#[derive(Deserialize)]
pub struct SignupForm {
    csrf: String,
    email: String,
    flow: Option<String>,
}

/// Answers the same whether or not the address has an account (that one gets a message
/// saying so); the work happens after the response.
pub async fn signup_submit(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    PageForm(form): PageForm<SignupForm>,
) -> Result<Response, PageError> {
    let ls = LoginSession(&session);
    ls.require_csrf(&form.csrf).await?;
    let email = form.email.trim().to_owned();
    if accounts::check_email(&email).is_err() {
        return Err(PageError::bad_request("change-email-invalid"));
    }
    let flow = accept(&state, &ls, address, form.flow, Request::SignUp { email }).await?;
    let csrf = ls.csrf_token().await?;
    Ok(render(&SignupPage {
        csrf: &csrf,
        flow: None,
        sent: true,
        back: &sign_in_page(flow.as_ref()),
    }))
}

/// An invitation or sign-up link, checked: a sign-up link stops working when sign-up closes.
async fn live_invitation(
    state: &AppState,
    token: &str,
) -> Result<crate::store::AccountLink, PageError> {
    let link = recovery::invitation(&state.store, token, state.now())
        .await
        .map_err(link_page_error)?;
    if link.is_sign_up() && !state.signup_open() {
        return Err(link_invalid());
    }
    Ok(link)
}

pub async fn complete_form(
    State(state): State<AppState>,
    session: Session,
    PageQuery(q): PageQuery<TokenQuery>,
) -> Result<Response, PageError> {
    let link = live_invitation(&state, &q.token).await?;
    let ls = LoginSession(&session);
    let csrf = ls.csrf_token().await?;
    Ok(render(&SignupCompletePage {
        csrf: &csrf,
        token: &q.token,
        email: &link.email,
        username: "",
        min_length: min_length(&state),
        error: None,
    }))
}

#[derive(Deserialize)]
pub struct CompleteForm {
    csrf: String,
    token: String,
    username: String,
    password: String,
    confirm: String,
}

pub async fn complete_submit(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    PageForm(form): PageForm<CompleteForm>,
) -> Result<Response, PageError> {
    let ls = LoginSession(&session);
    ls.require_csrf(&form.csrf).await?;
    let link = live_invitation(&state, &form.token).await?;
    let refused = |message: String| async {
        let csrf = ls.csrf_token().await?;
        Ok::<_, PageError>(refused_page(&SignupCompletePage {
            csrf: &csrf,
            token: &form.token,
            email: &link.email,
            username: form.username.trim(),
            min_length: min_length(&state),
            error: Some(message),
        }))
    };
    if form.password != form.confirm {
        return refused(tr::t("password-mismatch")).await;
    }
    let created = recovery::accept_invitation(
        &state.store,
        &state.hasher,
        &form.token,
        &form.username,
        &form.password,
        state.now(),
    )
    .await;
    match created {
        Ok((user, link)) => {
            sign_in_after(&state, &ls, &user.id, link.flow_id.as_deref(), &address).await
        }
        Err(LinkError::Account(AccountError::Policy(e))) => refused(policy_message(e)).await,
        Err(LinkError::Account(AccountError::UsernameTaken)) => {
            // Counted against the address: a link must not become a free username oracle.
            recovery::address_allowed(&state.store, &address, state.now())
                .await
                .map_err(link_page_error)?;
            refused(tr::t("complete-username-taken")).await
        }
        Err(LinkError::Account(AccountError::Invalid(why))) => refused(why).await,
        Err(e) => Err(link_page_error(e)),
    }
}

/// What checking the signed-in person's current password found.
enum Current {
    /// Right; this browser's device id, when its device cookie is valid.
    Confirmed {
        device: Option<String>,
    },
    Wrong,
    /// The back-off's page.
    Throttled(Response),
}

/// Checks the signed-in person's current password, behind the same back-off as the sign-in
/// page, and with this browser's device cookie, so strangers' guesses at the username do not
/// lock its owner out of their own account page.
async fn confirm_current(
    state: &AppState,
    headers: &HeaderMap,
    username: &str,
    password: &str,
    address: &str,
) -> Result<Current, PageError> {
    let device = known_device(state, headers, username).await?;
    let outcome = accounts::authenticate_throttled(
        &state.store,
        &state.hasher,
        username,
        password,
        accounts::Attempt {
            address,
            device: device.as_deref(),
        },
        state.now(),
    )
    .await;
    match outcome {
        Ok(_) => Ok(Current::Confirmed { device }),
        Err(AccountError::InvalidCredentials) => Ok(Current::Wrong),
        Err(AccountError::Throttled { retry_after }) => {
            Ok(Current::Throttled(throttled_page(retry_after)))
        }
        Err(AccountError::Store(e)) => Err(e.into()),
        Err(e) => Err(PageError::internal(e)),
    }
}

pub async fn password_form(
    State(state): State<AppState>,
    session: Session,
) -> Result<Response, PageError> {
    let ls = LoginSession(&session);
    let Some((_, user)) = signed_in_account(&state, &ls).await? else {
        return Ok(Redirect::to(ep::LOGIN).into_response());
    };
    let csrf = ls.csrf_token().await?;
    Ok(render(&ChangePasswordPage {
        csrf: &csrf,
        username: &user.username,
        min_length: min_length(&state),
        error: None,
    }))
}

#[derive(Deserialize)]
pub struct PasswordForm {
    csrf: String,
    current: String,
    password: String,
    confirm: String,
}

/// Needs the current password. Ends every other session and revokes the refresh tokens
/// (SECURITY.md "Account links"); this browser stays signed in.
pub async fn password_submit(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    PageForm(form): PageForm<PasswordForm>,
) -> Result<Response, PageError> {
    let ls = LoginSession(&session);
    ls.require_csrf(&form.csrf).await?;
    let Some((_, user)) = signed_in_account(&state, &ls).await? else {
        return Ok(Redirect::to(ep::LOGIN).into_response());
    };
    let refused = |message: String| async {
        let csrf = ls.csrf_token().await?;
        Ok::<_, PageError>(refused_page(&ChangePasswordPage {
            csrf: &csrf,
            username: &user.username,
            min_length: min_length(&state),
            error: Some(message),
        }))
    };
    let device =
        match confirm_current(&state, &headers, &user.username, &form.current, &address).await? {
            Current::Confirmed { device } => device,
            Current::Wrong => return refused(tr::t("change-password-wrong")).await,
            Current::Throttled(page) => return Ok(page),
        };
    if form.password != form.confirm {
        return refused(tr::t("password-mismatch")).await;
    }
    let now = state.now();
    match accounts::set_password(
        &state.store,
        &state.hasher,
        &user.username,
        &form.password,
        now,
    )
    .await
    {
        Ok(()) => {}
        Err(AccountError::Policy(e)) => return refused(policy_message(e)).await,
        Err(AccountError::Store(e)) => return Err(e.into()),
        Err(e) => return Err(PageError::internal(e)),
    }
    ls.end_other_sessions(&state.store, &user.id, now).await?;
    let who = audit::user(&user.id);
    state
        .store
        .journal()
        .emit(Event::UserPasswordChanged, &who, &who, Some(&address));
    let mut resp =
        Redirect::to(&format!("{}?notice=password-changed", ep::ACCOUNT)).into_response();
    // Device cookies are bound to the password: this browser, which just proved both, keeps
    // being a known device.
    if let Some((_, hash)) = state.store.find_user_credentials(&user.username).await? {
        let cookie = state
            .devices
            .issue(&user.username, &hash, device.as_deref(), now);
        set_device_cookie(&mut resp, &cookie, state.config.is_https());
    }
    Ok(resp)
}

pub async fn email_form(
    State(state): State<AppState>,
    session: Session,
) -> Result<Response, PageError> {
    let ls = LoginSession(&session);
    let Some((_, user)) = signed_in_account(&state, &ls).await? else {
        return Ok(Redirect::to(ep::LOGIN).into_response());
    };
    let csrf = ls.csrf_token().await?;
    Ok(render(&ChangeEmailPage {
        csrf: &csrf,
        username: &user.username,
        email: user.email.as_deref().unwrap_or_default(),
        mail: state.mail.is_some(),
        error: None,
    }))
}

#[derive(Deserialize)]
pub struct EmailForm {
    csrf: String,
    email: String,
    current: String,
}

/// Needs the current password: whoever changes the address can reset the password through it.
/// The new address is unverified until its link is followed.
pub async fn email_submit(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    PageForm(form): PageForm<EmailForm>,
) -> Result<Response, PageError> {
    let ls = LoginSession(&session);
    ls.require_csrf(&form.csrf).await?;
    let Some((_, user)) = signed_in_account(&state, &ls).await? else {
        return Ok(Redirect::to(ep::LOGIN).into_response());
    };
    let refused = |message: String| async {
        let csrf = ls.csrf_token().await?;
        Ok::<_, PageError>(refused_page(&ChangeEmailPage {
            csrf: &csrf,
            username: &user.username,
            email: form.email.trim(),
            mail: state.mail.is_some(),
            error: Some(message),
        }))
    };
    match confirm_current(&state, &headers, &user.username, &form.current, &address).await? {
        Current::Confirmed { .. } => {}
        Current::Wrong => return refused(tr::t("change-password-wrong")).await,
        Current::Throttled(page) => return Ok(page),
    }
    let email = form.email.trim();
    if accounts::check_email(email).is_err() {
        return refused(tr::t("change-email-invalid")).await;
    }
    let changes = accounts::ProfileChanges {
        email: Some(email.to_owned()),
        ..Default::default()
    };
    let updated = match accounts::update_profile(&state.store, &user, changes, state.now()).await {
        Ok(u) => u,
        Err(AccountError::Invalid(_)) => return refused(tr::t("change-email-invalid")).await,
        // The account changed since it was read (another tab): nothing was stored.
        Err(AccountError::UsernameTaken) => return refused(tr::t("change-email-stale")).await,
        Err(AccountError::Store(e)) => return Err(e.into()),
        Err(e) => return Err(PageError::internal(e)),
    };
    let who = audit::user(&user.id);
    state
        .store
        .journal()
        .emit(Event::UserChanged, &who, &who, Some(&address));
    let notice = match state.outbound() {
        Some(out) => {
            recovery::send_verification(&state.store, out, &updated, &who, state.now())
                .await
                .map_err(link_page_error)?;
            "email-changed"
        }
        None => "email-changed-no-mail",
    };
    Ok(Redirect::to(&format!("{}?notice={notice}", ep::ACCOUNT)).into_response())
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

/// "Send the link again" for an unconfirmed address.
pub async fn resend_verification(
    State(state): State<AppState>,
    session: Session,
    PageForm(form): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    let ls = LoginSession(&session);
    ls.require_csrf(&form.csrf).await?;
    let Some((_, user)) = signed_in_account(&state, &ls).await? else {
        return Ok(Redirect::to(ep::LOGIN).into_response());
    };
    // Routed only with mail on.
    let Some(out) = state.outbound() else {
        return Err(PageError::internal("mail page without mail"));
    };
    let who = audit::user(&user.id);
    recovery::send_verification(&state.store, out, &user, &who, state.now())
        .await
        .map_err(link_page_error)?;
    Ok(Redirect::to(&format!("{}?notice=verification-sent", ep::ACCOUNT)).into_response())
}
