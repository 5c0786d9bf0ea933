//! Second factors on the account page: the authenticator app and recovery codes.
use super::account::factor_change;
use super::error::PageError;
use super::extract::{ClientAddress, LoginSession, PageForm};
use super::state::AppState;
use super::templates::{RecoveryCodesPage, TotpEnrolPage, render};
use crate::accounts::mfa::{self, MfaError};
use crate::audit::{self, Event};
use crate::oauth::endpoints as ep;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

/// The QR code as inline SVG: drawn here, so the page needs no script and no image host.
fn qr_svg(data: &str) -> Result<String, PageError> {
    let code = qrcode::QrCode::new(data.as_bytes()).map_err(PageError::internal)?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    // The XML declaration means nothing inside HTML.
    Ok(match svg.find("<svg") {
        Some(i) => svg[i..].to_owned(),
        None => svg,
    })
}

/// What authenticator apps show as the account's issuer: the issuer's host.
fn issuer_label(state: &AppState) -> String {
    let host = url::Url::parse(state.issuer())
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    format!("Gatehouse {host}").trim().to_owned()
}

async fn enrol_page(
    state: &AppState,
    ls: &LoginSession<'_>,
    user: &crate::domain::User,
    error: Option<&str>,
) -> Result<Response, PageError> {
    let enrolment = match mfa::begin_totp(
        &state.store,
        &state.factors,
        &user.id,
        &user.username,
        &issuer_label(state),
        state.now(),
    )
    .await
    {
        Ok(e) => e,
        Err(MfaError::AlreadyEnrolled) => return Ok(Redirect::to(ep::ACCOUNT).into_response()),
        Err(MfaError::Store(e)) => return Err(e.into()),
        Err(e) => return Err(PageError::internal(e)),
    };
    let csrf = ls.csrf_token().await?;
    let svg = qr_svg(&enrolment.uri)?;
    Ok(render(&TotpEnrolPage {
        csrf: &csrf,
        qr_svg: &svg,
        secret: &enrolment.secret_base32,
        error,
    }))
}

pub async fn totp_form(
    State(state): State<AppState>,
    session: Session,
) -> Result<Response, PageError> {
    let ls = LoginSession(&session);
    let user = match factor_change(&state, &ls).await?.or_redirect() {
        Ok(user) => user,
        Err(first) => return Ok(first.into_response()),
    };
    enrol_page(&state, &ls, &user, None).await
}

#[derive(Deserialize)]
pub struct CodeForm {
    csrf: String,
    code: String,
}

pub async fn totp_confirm(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    PageForm(form): PageForm<CodeForm>,
) -> Result<Response, PageError> {
    let ls = LoginSession(&session);
    ls.require_csrf(&form.csrf).await?;
    let user = match factor_change(&state, &ls).await?.or_redirect() {
        Ok(user) => user,
        Err(first) => return Ok(first.into_response()),
    };
    let confirmed = mfa::confirm_totp(
        &state.store,
        &state.factors,
        &user.id,
        &form.code,
        state.now(),
    )
    .await;
    let who = audit::user(&user.id);
    match confirmed {
        Ok(codes) => {
            state
                .store
                .journal()
                .emit(Event::TotpEnrolled, &who, &who, Some(&address));
            ls.end_other_sessions(&state.store, &user.id, state.now())
                .await?;
            if codes.is_empty() {
                return Ok(Redirect::to(ep::ACCOUNT).into_response());
            }
            state
                .store
                .journal()
                .emit(Event::RecoveryCodesRegenerated, &who, &who, Some(&address));
            Ok(codes_page(&codes))
        }
        Err(MfaError::WrongCode | MfaError::Replayed) => {
            let mut resp = enrol_page(&state, &ls, &user, Some("totp-wrong")).await?;
            *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(resp)
        }
        Err(MfaError::NotEnrolled) => Ok(Redirect::to(ep::ACCOUNT_TOTP).into_response()),
        Err(MfaError::Throttled { retry_after }) => Ok(super::login::throttled_page(retry_after)),
        Err(MfaError::Store(e)) => Err(e.into()),
        Err(e) => Err(PageError::internal(e)),
    }
}

/// Recovery codes are shown once and never cached.
fn codes_page(codes: &[String]) -> Response {
    let mut resp = render(&RecoveryCodesPage { codes });
    resp.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    resp
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

pub async fn totp_remove(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    PageForm(form): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    let ls = LoginSession(&session);
    ls.require_csrf(&form.csrf).await?;
    let user = match factor_change(&state, &ls).await?.or_redirect() {
        Ok(user) => user,
        Err(first) => return Ok(first.into_response()),
    };
    if mfa::remove_totp(&state.store, &user.id)
        .await
        .map_err(mfa_error)?
    {
        let who = audit::user(&user.id);
        state
            .store
            .journal()
            .emit(Event::TotpRemoved, &who, &who, Some(&address));
        ls.end_other_sessions(&state.store, &user.id, state.now())
            .await?;
    }
    Ok(Redirect::to(ep::ACCOUNT).into_response())
}

pub async fn regenerate_codes(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    PageForm(form): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    let ls = LoginSession(&session);
    ls.require_csrf(&form.csrf).await?;
    let user = match factor_change(&state, &ls).await?.or_redirect() {
        Ok(user) => user,
        Err(first) => return Ok(first.into_response()),
    };
    if !state
        .store
        .factor_summary(&user.id)
        .await?
        .has_second_factor()
    {
        return Err(PageError::bad_request(
            "Set up an authenticator app or a passkey first: recovery codes back one up.",
        ));
    }
    let codes = mfa::regenerate_recovery_codes(&state.store, &state.factors, &user.id, state.now())
        .await
        .map_err(mfa_error)?;
    let who = audit::user(&user.id);
    state
        .store
        .journal()
        .emit(Event::RecoveryCodesRegenerated, &who, &who, Some(&address));
    Ok(codes_page(&codes))
}

/// A store failure stays a store failure (503 while the database is away).
pub fn mfa_error(e: MfaError) -> PageError {
    match e {
        MfaError::Store(e) => e.into(),
        other => PageError::internal(other),
    }
}
