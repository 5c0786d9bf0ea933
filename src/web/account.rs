//! The landing page, the signed-in user's account page, and sign-out.
use super::error::PageError;
use super::extract::{ClientAddress, LoginSession, PageForm};
use super::state::AppState;
use super::templates::{AccountPage, ConnectedApp, IndexPage, NameField, PasskeyLine, render};
use crate::domain::{Authentication, ScopeSet};
use crate::oauth::endpoints as ep;
use crate::oauth::interaction;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

pub async fn index(State(state): State<AppState>) -> Response {
    render(&IndexPage {
        issuer: state.issuer(),
    })
}

/// The signed-in session and its account, or `None` when nobody is signed in.
pub async fn signed_in_account(
    state: &AppState,
    ls: &LoginSession<'_>,
) -> Result<Option<(Authentication, crate::domain::User)>, PageError> {
    let browser = super::authorize::browser(state, ls, false).await?;
    let Some(u) = interaction::completed(browser.state.as_ref()).cloned() else {
        return Ok(None);
    };
    let user = state
        .store
        .find_user(&u.user_id)
        .await?
        .ok_or_else(|| PageError::internal("session user vanished"))?;
    Ok(Some((u, user)))
}

#[derive(Deserialize)]
pub struct AccountQuery {
    notice: Option<String>,
}

/// The notices the account page shows after a change; anything else in the query is ignored.
fn notice(key: Option<&str>) -> Option<&'static str> {
    Some(match key? {
        "password-changed" => "notice-password-changed",
        "email-changed" => "notice-email-changed",
        "email-changed-no-mail" => "notice-email-changed-no-mail",
        "verification-sent" => "notice-verification-sent",
        _ => return None,
    })
}

pub async fn account(
    State(state): State<AppState>,
    session: Session,
    super::extract::PageQuery(q): super::extract::PageQuery<AccountQuery>,
) -> Result<Response, PageError> {
    let ls = LoginSession(&session);
    let Some((u, user)) = signed_in_account(&state, &ls).await? else {
        return Ok(Redirect::to(ep::LOGIN).into_response());
    };
    let csrf = ls.csrf_token().await?;
    let signed_in_at = format_time(u.auth_time);
    // Apps the user consented to, and apps holding refresh tokens (first-party ones too).
    let mut apps: Vec<ConnectedApp> = Vec::new();
    let consents = state
        .store
        .list_consents(&user.id)
        .await?
        .into_iter()
        .map(|(id, name, scope, _)| (id, name, scope));
    let grants = state.store.list_live_grants(&user.id, state.now()).await?;
    for (client_id, name, scope) in consents.chain(grants) {
        match apps.iter_mut().find(|a| a.client_id == client_id) {
            Some(app) => {
                let merged = ScopeSet::from_wire(&app.scope).union(&ScopeSet::from_wire(&scope));
                app.scope = merged.to_wire();
            }
            None => apps.push(ConnectedApp {
                client_id,
                name,
                scope,
            }),
        }
    }
    let p = &user.profile;
    let field = |field, label, autocomplete, value: &Option<String>| NameField {
        field,
        label,
        autocomplete,
        value: value.clone().unwrap_or_default(),
    };
    let name_fields = vec![
        field("name", "account-full-name", "name", &user.name),
        field(
            "given_name",
            "account-given-name",
            "given-name",
            &p.given_name,
        ),
        field(
            "middle_name",
            "account-middle-name",
            "additional-name",
            &p.middle_name,
        ),
        field(
            "family_name",
            "account-family-name",
            "family-name",
            &p.family_name,
        ),
        field("nickname", "account-nickname", "nickname", &p.nickname),
    ];
    let summary = state.store.factor_summary(&user.id).await?;
    let passkeys = state
        .store
        .list_passkeys(&user.id)
        .await?
        .into_iter()
        .map(|p| PasskeyLine {
            id: p.credential_id,
            name: p.name,
            created: format_time(p.created_at),
            last_used: p.last_used_at.map(format_time),
        })
        .collect();
    Ok(render(&AccountPage {
        csrf: &csrf,
        user: &user,
        name_fields,
        signed_in_at,
        apps,
        totp: summary.totp,
        passkeys,
        has_factor: summary.has_second_factor(),
        recovery_left: summary.recovery_codes,
        passkeys_enabled: state.passkeys_enabled(),
        admin: state.store.user_is_admin(&user.id).await?,
        notice: notice(q.notice.as_deref()),
        mail: state.mail.is_some(),
    }))
}

/// Changing second factors takes a session as strong as the account: once the user has a
/// factor, a password-only session (one from before the enrolment, say) must step up first.
pub async fn strong_enough(state: &AppState, auth: &Authentication) -> Result<bool, PageError> {
    if auth.is_multi_factor() {
        return Ok(true);
    }
    Ok(!state
        .store
        .factor_summary(&auth.user_id)
        .await?
        .has_second_factor())
}

/// Whether this session may change the account's second factors now.
pub enum FactorChange {
    Allowed(Box<crate::domain::User>),
    /// Nobody is signed in.
    SignIn,
    /// A password-only session of an account that has a factor: step up first.
    StepUp,
}

impl FactorChange {
    /// For pages: the account, or the redirect to sign in or step up first.
    pub fn or_redirect(self) -> Result<crate::domain::User, Redirect> {
        match self {
            Self::Allowed(user) => Ok(*user),
            Self::SignIn => Err(Redirect::to(ep::LOGIN)),
            Self::StepUp => Err(Redirect::to(ep::LOGIN_FACTOR)),
        }
    }
}

pub async fn factor_change(
    state: &AppState,
    ls: &LoginSession<'_>,
) -> Result<FactorChange, PageError> {
    let Some((auth, user)) = signed_in_account(state, ls).await? else {
        return Ok(FactorChange::SignIn);
    };
    if !strong_enough(state, &auth).await? {
        return Ok(FactorChange::StepUp);
    }
    Ok(FactorChange::Allowed(Box::new(user)))
}

/// RFC 3339, as the account page shows times.
fn format_time(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[derive(Deserialize)]
pub struct ProfileForm {
    csrf: String,
    name: String,
    given_name: String,
    middle_name: String,
    family_name: String,
    nickname: String,
}

/// A person edits their own name fields (OIDC Core §5.1); other claims are the admin's.
pub async fn update_profile(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    PageForm(form): PageForm<ProfileForm>,
) -> Result<Response, PageError> {
    use crate::domain::profile::Field;
    let ls = LoginSession(&session);
    ls.require_csrf(&form.csrf).await?;
    let Some((_, user)) = signed_in_account(&state, &ls).await? else {
        return Ok(Redirect::to(ep::LOGIN).into_response());
    };
    let changes = crate::accounts::ProfileChanges {
        name: Some(form.name),
        fields: vec![
            (Field::GivenName, form.given_name),
            (Field::MiddleName, form.middle_name),
            (Field::FamilyName, form.family_name),
            (Field::Nickname, form.nickname),
        ],
        ..Default::default()
    };
    match crate::accounts::update_profile(&state.store, &user, changes, state.now()).await {
        Ok(_) => {}
        Err(crate::accounts::AccountError::Invalid(why)) => {
            return Err(PageError::bad_request(format!(
                "{why}. Go back and correct it."
            )));
        }
        Err(crate::accounts::AccountError::Store(e)) => return Err(e.into()),
        Err(e) => return Err(PageError::internal(e)),
    }
    let who = crate::audit::user(&user.id);
    state
        .store
        .journal()
        .emit(crate::audit::Event::UserChanged, &who, &who, Some(&address));
    Ok(Redirect::to(ep::ACCOUNT).into_response())
}

#[derive(Deserialize)]
pub struct RevokeAppForm {
    csrf: String,
    client_id: String,
}

/// "Connected apps": withdraws the remembered consent and revokes the app's refresh tokens.
pub async fn revoke_app(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    PageForm(form): PageForm<RevokeAppForm>,
) -> Result<Response, PageError> {
    let ls = LoginSession(&session);
    ls.require_csrf(&form.csrf).await?;
    let Some((u, _)) = signed_in_account(&state, &ls).await? else {
        return Ok(Redirect::to(ep::LOGIN).into_response());
    };
    state
        .store
        .delete_consent(&u.user_id, &form.client_id)
        .await?;
    let revoked = state
        .store
        .revoke_user_client_grants(&u.user_id, &form.client_id, state.now())
        .await?;
    tracing::info!(revoked, "app access removed by the user");
    state.store.journal().emit(
        crate::audit::Event::ConsentRevoked,
        &crate::audit::user(&u.user_id),
        &crate::audit::client(&form.client_id),
        Some(&address),
    );
    Ok(Redirect::to(ep::ACCOUNT).into_response())
}

pub async fn not_found() -> Response {
    PageError {
        status: StatusCode::NOT_FOUND,
        title: "error-not-found-title",
        message: "error-not-found".into(),
    }
    .into_response()
}
