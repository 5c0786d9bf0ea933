//! The landing page, the signed-in user's account page, and sign-out.
use super::error::PageError;
use super::extract::{ClientAddress, LoginSession, PageForm};
use super::state::AppState;
use super::templates::{AccountPage, ConnectedApp, IndexPage, render};
use crate::domain::ScopeSet;
use crate::oauth::endpoints as ep;
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

pub async fn account(
    State(state): State<AppState>,
    session: Session,
) -> Result<Response, PageError> {
    let ls = LoginSession(&session);
    let Some(u) = super::authorize::current_user(&state, &ls).await? else {
        return Ok(Redirect::to(ep::LOGIN).into_response());
    };
    let user = state
        .store
        .find_user(&u.user_id)
        .await?
        .ok_or_else(|| PageError::internal("session user vanished"))?;
    let csrf = ls.csrf_token().await?;
    let signed_in_at = time::OffsetDateTime::from_unix_timestamp(u.auth_time)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
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
                let merged =
                    ScopeSet::parse_supported(&app.scope).union(&ScopeSet::parse_supported(&scope));
                app.scope = merged.to_wire();
            }
            None => apps.push(ConnectedApp {
                client_id,
                name,
                scope,
            }),
        }
    }
    Ok(render(&AccountPage {
        csrf: &csrf,
        user: &user,
        signed_in_at,
        apps,
    }))
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
    let Some(u) = super::authorize::current_user(&state, &ls).await? else {
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
    crate::audit::emit(
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
        title: "Not found",
        message: "There is nothing at this address.".into(),
    }
    .into_response()
}
