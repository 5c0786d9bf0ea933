//! The passkey endpoints behind `static/passkey.js`: JSON in and out, each guarded by the
//! session's CSRF token in a header (a cross-site page can neither set it nor read the reply).
//! Every ceremony's state waits in the session and is taken out on use, so a challenge
//! answers once.
use super::account::{FactorChange, factor_change};
use super::authorize::{bound_flow, browser};
use super::error::PageError;
use super::extract::{ClientAddress, LoginSession, PageForm};
use super::state::AppState;
use crate::accounts::mfa;
use crate::accounts::passkey::{PasskeyError, Passkeys, check_name};
use crate::audit::{self, Event};
use crate::domain::SignIn;
use crate::oauth::endpoints as ep;
use crate::oauth::interaction::{self, Proof};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use tower_sessions::Session;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential,
};

const REGISTRATION: &str = "passkey_registration";
const SIGN_IN: &str = "passkey_sign_in";
const SECOND_FACTOR: &str = "passkey_second_factor";

/// A JSON error the page script shows as it is.
pub struct JsonError(StatusCode, String);

impl IntoResponse for JsonError {
    fn into_response(self) -> Response {
        // A message id (or a store error's page text id): shown in the page's language.
        (self.0, Json(json!({ "error": super::i18n::t(&self.1) }))).into_response()
    }
}

impl From<PageError> for JsonError {
    fn from(e: PageError) -> Self {
        Self(e.status, e.message)
    }
}

impl From<tower_sessions::session::Error> for JsonError {
    fn from(e: tower_sessions::session::Error) -> Self {
        PageError::from(e).into()
    }
}

impl From<crate::store::Error> for JsonError {
    fn from(e: crate::store::Error) -> Self {
        PageError::from(e).into()
    }
}

impl From<PasskeyError> for JsonError {
    fn from(e: PasskeyError) -> Self {
        match e {
            PasskeyError::Store(e) => e.into(),
            PasskeyError::Corrupt => PageError::internal(e).into(),
            PasskeyError::Duplicate => Self(StatusCode::CONFLICT, "passkey-duplicate".into()),
            PasskeyError::UnknownCredential => {
                Self(StatusCode::UNAUTHORIZED, "passkey-unknown".into())
            }
            PasskeyError::Rejected(detail) => {
                tracing::info!(detail = %detail, "passkey ceremony refused");
                Self(StatusCode::UNAUTHORIZED, "passkey-rejected".into())
            }
        }
    }
}

pub type JsonResult = Result<Response, JsonError>;

/// A JSON body whose rejection is a JSON error like the others, without the parser's detail.
pub struct JsonBody<T>(T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequest<S> for JsonBody<T> {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Response> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Self(v)),
            // The body limit's 413 passes through as it is.
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(e.into_response()),
            Err(_) => {
                Err(JsonError(StatusCode::BAD_REQUEST, "passkey-malformed".into()).into_response())
            }
        }
    }
}

async fn csrf(ls: &LoginSession<'_>, headers: &HeaderMap) -> Result<(), JsonError> {
    let token = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ls.check_csrf(token).await? {
        Ok(())
    } else {
        Err(JsonError(
            StatusCode::FORBIDDEN,
            "passkey-page-expired".into(),
        ))
    }
}

fn relying_party(state: &AppState) -> Result<&Passkeys, JsonError> {
    state.passkeys.as_deref().ok_or(JsonError(
        StatusCode::NOT_FOUND,
        "passkey-unavailable".into(),
    ))
}

/// Takes a ceremony's state out of the session: it serves one answer.
async fn take<T: serde::de::DeserializeOwned>(
    session: &Session,
    key: &str,
) -> Result<T, JsonError> {
    session.remove::<T>(key).await?.ok_or(JsonError(
        StatusCode::BAD_REQUEST,
        "passkey-request-expired".into(),
    ))
}

fn options(value: Value) -> Response {
    Json(value).into_response()
}

// ---- Registration on /account ----

/// `factor_change`, answered in JSON.
async fn account(
    state: &AppState,
    ls: &LoginSession<'_>,
) -> Result<crate::domain::User, JsonError> {
    match factor_change(state, ls).await? {
        FactorChange::Allowed(user) => Ok(*user),
        FactorChange::SignIn => Err(JsonError(
            StatusCode::UNAUTHORIZED,
            "passkey-sign-in-first".into(),
        )),
        FactorChange::StepUp => Err(JsonError(StatusCode::FORBIDDEN, "passkey-step-up".into())),
    }
}

pub async fn registration_options(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
) -> JsonResult {
    let ls = LoginSession(&session);
    csrf(&ls, &headers).await?;
    let rp = relying_party(&state)?;
    let user = account(&state, &ls).await?;
    let (opts, ceremony) = rp.start_registration(&state.store, &user).await?;
    // Bound to the user it was started for: it cannot finish for anyone else.
    session.insert(REGISTRATION, (&user.id, &ceremony)).await?;
    Ok(options(opts))
}

#[derive(Deserialize)]
pub struct Registration {
    name: String,
    credential: RegisterPublicKeyCredential,
}

pub async fn register(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Registration>,
) -> JsonResult {
    let ls = LoginSession(&session);
    csrf(&ls, &headers).await?;
    let rp = relying_party(&state)?;
    let user = account(&state, &ls).await?;
    let name = check_name(&body.name)
        .map_err(|_| JsonError(StatusCode::BAD_REQUEST, "passkey-name-invalid".into()))?;
    let (owner, ceremony): (String, PasskeyRegistration) = take(&session, REGISTRATION).await?;
    if owner != user.id {
        return Err(JsonError(
            StatusCode::BAD_REQUEST,
            "passkey-request-expired".into(),
        ));
    }
    rp.finish_registration(
        &state.store,
        &user.id,
        &name,
        &body.credential,
        &ceremony,
        state.now(),
    )
    .await?;
    let who = audit::user(&user.id);
    state
        .store
        .journal()
        .emit(Event::PasskeyRegistered, &who, &who, Some(&address));
    ls.end_other_sessions(&state.store, &user.id, state.now())
        .await?;
    // The account page then offers recovery codes if there are none yet.
    Ok(Json(json!({ "location": ep::ACCOUNT })).into_response())
}

#[derive(Deserialize)]
pub struct RemoveForm {
    csrf: String,
    credential_id: String,
}

pub async fn remove(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    PageForm(form): PageForm<RemoveForm>,
) -> Result<Response, PageError> {
    let ls = LoginSession(&session);
    ls.require_csrf(&form.csrf).await?;
    let user = match factor_change(&state, &ls).await?.or_redirect() {
        Ok(user) => user,
        Err(first) => return Ok(first.into_response()),
    };
    if state
        .store
        .delete_passkey(&user.id, &form.credential_id)
        .await?
    {
        mfa::forget_codes_without_factor(&state.store, &user.id)
            .await
            .map_err(super::security::mfa_error)?;
        let who = audit::user(&user.id);
        state
            .store
            .journal()
            .emit(Event::PasskeyRemoved, &who, &who, Some(&address));
        ls.end_other_sessions(&state.store, &user.id, state.now())
            .await?;
    }
    Ok(Redirect::to(ep::ACCOUNT).into_response())
}

// ---- Sign-in ----

#[derive(Deserialize)]
pub struct Assertion {
    credential: PublicKeyCredential,
    flow: Option<String>,
}

impl Assertion {
    /// The flow this sign-in is for, checked to be this browser's.
    async fn flow(
        &self,
        state: &AppState,
        ls: &LoginSession<'_>,
    ) -> Result<Option<&str>, JsonError> {
        let id = self.flow.as_deref().filter(|f| !f.is_empty());
        if let Some(id) = id {
            bound_flow(state, ls, id).await?;
        }
        Ok(id)
    }
}

/// Where the browser goes once signed in: the flow's next page (which finishes it when
/// nothing is left to ask), or the account page.
async fn next_location(ls: &LoginSession<'_>, flow: Option<&str>) -> Result<Response, PageError> {
    let location = match flow {
        Some(f) => format!("{}?flow={f}", ep::LOGIN_CONTINUE),
        None => ls.after_sign_in().await?,
    };
    Ok(Json(json!({ "location": location })).into_response())
}

pub async fn sign_in_options(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
) -> JsonResult {
    let ls = LoginSession(&session);
    csrf(&ls, &headers).await?;
    let (opts, ceremony) = relying_party(&state)?.start_sign_in()?;
    session.insert(SIGN_IN, &ceremony).await?;
    Ok(options(opts))
}

/// "Sign in with a passkey": a user-verified passkey is both factors at once.
pub async fn sign_in(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Assertion>,
) -> JsonResult {
    let ls = LoginSession(&session);
    csrf(&ls, &headers).await?;
    let rp = relying_party(&state)?;
    let flow_id = body.flow(&state, &ls).await?;
    let ceremony: DiscoverableAuthentication = take(&session, SIGN_IN).await?;
    let (user_id, factor) = match rp
        .finish_sign_in(&state.store, &body.credential, ceremony, state.now())
        .await
    {
        Ok(v) => v,
        Err(e) => {
            state
                .store
                .journal()
                .emit(Event::LoginFailed, "anonymous", "passkey", Some(&address));
            return Err(e.into());
        }
    };
    let active = state
        .store
        .find_user(&user_id)
        .await?
        .is_some_and(|u| !u.disabled);
    if !active {
        return Err(PasskeyError::UnknownCredential.into());
    }
    let signed = interaction::sign_in(
        None,
        Proof::Passkey {
            user_id: user_id.clone(),
            factor,
        },
        flow_id,
        state.now(),
    )
    .map_err(|e| JsonError(StatusCode::BAD_REQUEST, e.to_string()))?;
    ls.set_sign_in(&signed).await?;
    let who = audit::user(&user_id);
    state
        .store
        .journal()
        .emit(Event::LoginSucceeded, &who, &who, Some(&address));
    Ok(next_location(&ls, flow_id).await?)
}

/// The signed-in user (complete or waiting for a second factor) a second-factor passkey is for.
async fn factor_user(state: &AppState, ls: &LoginSession<'_>) -> Result<SignIn, JsonError> {
    browser(state, ls, false).await?.state.ok_or(JsonError(
        StatusCode::UNAUTHORIZED,
        "passkey-sign-in-first".into(),
    ))
}

pub async fn factor_options(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
) -> JsonResult {
    let ls = LoginSession(&session);
    csrf(&ls, &headers).await?;
    let rp = relying_party(&state)?;
    let current = factor_user(&state, &ls).await?;
    let (opts, ceremony) = rp
        .start_second_factor(&state.store, interaction::user_of(&current))
        .await?;
    session.insert(SECOND_FACTOR, &ceremony).await?;
    Ok(options(opts))
}

pub async fn factor(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Assertion>,
) -> JsonResult {
    let ls = LoginSession(&session);
    csrf(&ls, &headers).await?;
    let rp = relying_party(&state)?;
    let current = factor_user(&state, &ls).await?;
    let user_id = interaction::user_of(&current).to_owned();
    let flow_id = body.flow(&state, &ls).await?;
    let ceremony: PasskeyAuthentication = take(&session, SECOND_FACTOR).await?;
    let who = audit::user(&user_id);
    let factor = match rp
        .finish_second_factor(
            &state.store,
            &user_id,
            &body.credential,
            &ceremony,
            state.now(),
        )
        .await
    {
        Ok(f) => f,
        Err(e) => {
            state
                .store
                .journal()
                .emit(Event::SecondFactorFailed, &who, &who, Some(&address));
            return Err(e.into());
        }
    };
    let signed = interaction::sign_in(
        Some(&current),
        Proof::SecondFactor(factor),
        flow_id,
        state.now(),
    )
    .map_err(|e| JsonError(StatusCode::BAD_REQUEST, e.to_string()))?;
    ls.set_sign_in(&signed).await?;
    state
        .store
        .journal()
        .emit(Event::SecondFactorSucceeded, &who, &who, Some(&address));
    state
        .store
        .journal()
        .emit(Event::LoginSucceeded, &who, &who, Some(&address));
    Ok(next_location(&ls, flow_id).await?)
}

#[derive(Deserialize)]
pub struct ContinueQuery {
    flow: String,
}

/// GET /login/continue?flow=…: where a flow goes after a sign-in made by script.
pub async fn continue_flow(
    State(state): State<AppState>,
    session: Session,
    super::extract::PageQuery(q): super::extract::PageQuery<ContinueQuery>,
) -> Result<Response, PageError> {
    let ls = LoginSession(&session);
    let flow = bound_flow(&state, &ls, &q.flow).await?;
    super::authorize::advance(&state, &ls, &flow).await
}
