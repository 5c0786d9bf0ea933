//! The landing page, the signed-in user's account page, and sign-out.
use super::error::PageError;
use super::extract::LoginSession;
use super::state::AppState;
use super::templates::{AccountPage, IndexPage, render};
use crate::oauth::endpoints as ep;
use axum::Form;
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
    Ok(render(&AccountPage {
        csrf: &csrf,
        user: &user,
        signed_in_at,
    }))
}

#[derive(Deserialize)]
pub struct LogoutForm {
    csrf: String,
}

/// Ends the browser session (the full RP-initiated logout endpoint is separate work).
pub async fn logout(
    session: Session,
    form: Result<Form<LogoutForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) =
        form.map_err(|_| PageError::bad_request("The sign-out form was incomplete."))?;
    let ls = LoginSession(&session);
    if !ls.check_csrf(&form.csrf).await? {
        return Err(PageError {
            status: StatusCode::FORBIDDEN,
            title: "This form has expired",
            message: "Reload the page and try again.".into(),
        });
    }
    ls.sign_out().await?;
    Ok(Redirect::to("/").into_response())
}

pub async fn not_found() -> Response {
    PageError {
        status: StatusCode::NOT_FOUND,
        title: "Not found",
        message: "There is nothing at this address.".into(),
    }
    .into_response()
}
