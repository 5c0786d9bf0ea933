//! Askama page structs; templates and CSS are compiled into the binary.
#[allow(unused_imports)]
use super::i18n as tr;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// Renders a page; a template failure becomes a bare 500 (logged).
pub fn render<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub title: &'a str,
    pub message: &'a str,
}

/// Form Post Response Mode: the authorization response as a form the browser posts to the
/// verified redirect URI.
#[derive(Template)]
#[template(path = "form_post.html")]
pub struct FormPostPage<'a> {
    pub action: &'a str,
    pub fields: &'a [(&'static str, String)],
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub csrf: &'a str,
    pub flow: Option<&'a str>,
    pub client_name: Option<&'a str>,
    pub username: &'a str,
    pub error: Option<&'a str>,
    /// Offer "Sign in with a passkey".
    pub passkeys: bool,
    /// A line above the form (a translation key): why the person is asked again.
    pub lead: Option<&'a str>,
    /// Offer "Forgot password?" (mail is on).
    pub forgot: bool,
    /// Offer "Create an account" (sign-up is open).
    pub signup: bool,
}

pub struct ScopeLine<'a> {
    pub name: &'a str,
    pub description: String,
    /// The API that defines it, by name; `None` for OpenID scopes.
    pub api: Option<String>,
}

#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage<'a> {
    pub csrf: &'a str,
    pub flow: &'a str,
    pub client_name: &'a str,
    pub username: &'a str,
    pub scopes: Vec<ScopeLine<'a>>,
}

#[derive(Template)]
#[template(path = "index.html")]
pub struct IndexPage<'a> {
    pub issuer: &'a str,
}

pub struct ConnectedApp {
    pub client_id: String,
    pub name: String,
    pub scope: String,
}

#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage<'a> {
    pub csrf: &'a str,
    pub user: &'a crate::domain::User,
    pub name_fields: Vec<NameField>,
    pub signed_in_at: String,
    pub apps: Vec<ConnectedApp>,
    pub totp: bool,
    pub passkeys: Vec<PasskeyLine>,
    pub has_factor: bool,
    pub recovery_left: i64,
    pub passkeys_enabled: bool,
    /// Administrators get a link to the console.
    pub admin: bool,
    /// A line saying what just changed (a translation key).
    pub notice: Option<&'static str>,
    /// Mail is on: an unconfirmed address can be sent its link again.
    pub mail: bool,
}

/// A registered passkey on the account page.
pub struct PasskeyLine {
    pub id: String,
    pub name: String,
    pub created: String,
    pub last_used: Option<String>,
}

#[derive(Template)]
#[template(path = "factor.html")]
pub struct FactorPage<'a> {
    pub csrf: &'a str,
    pub flow: Option<&'a str>,
    pub client_name: Option<&'a str>,
    pub username: &'a str,
    pub error: Option<&'a str>,
    pub totp: bool,
    pub recovery: bool,
    pub passkeys: bool,
}

#[derive(Template)]
#[template(path = "factor_help.html")]
pub struct FactorHelpPage<'a> {
    pub csrf: &'a str,
    /// Policy needs a factor the user does not have (rather than a user who lost theirs).
    pub missing: bool,
    pub flow: Option<&'a str>,
    pub client_name: Option<&'a str>,
    pub contact: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "totp_enrol.html")]
pub struct TotpEnrolPage<'a> {
    pub csrf: &'a str,
    pub qr_svg: &'a str,
    pub secret: &'a str,
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
pub struct RecoveryCodesPage<'a> {
    pub codes: &'a [String],
}

/// One editable name field on the account page.
pub struct NameField {
    pub field: &'static str,
    pub label: &'static str,
    pub autocomplete: &'static str,
    pub value: String,
}

#[derive(Template)]
#[template(path = "logout.html")]
pub struct LogoutConfirmPage<'a> {
    pub csrf: &'a str,
    pub client_name: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub redirect: Option<&'a str>,
    pub state: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "logged_out.html")]
pub struct LoggedOutPage<'a> {
    pub client_name: Option<&'a str>,
}

/// "Forgot password?": the form, or the same answer for every name once sent.
#[derive(Template)]
#[template(path = "forgot.html")]
pub struct ForgotPage<'a> {
    pub csrf: &'a str,
    pub flow: Option<&'a str>,
    pub sent: bool,
    pub minutes: String,
    /// The sign-in page to go back to (with its flow).
    pub back: &'a str,
}

#[derive(Template)]
#[template(path = "reset.html")]
pub struct ResetPage<'a> {
    pub csrf: &'a str,
    pub token: &'a str,
    pub username: &'a str,
    pub min_length: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "verify_email.html")]
pub struct VerifyEmailPage<'a> {
    pub csrf: &'a str,
    pub token: &'a str,
    pub email: &'a str,
    pub username: &'a str,
    pub done: bool,
}

#[derive(Template)]
#[template(path = "signup.html")]
pub struct SignupPage<'a> {
    pub csrf: &'a str,
    pub flow: Option<&'a str>,
    pub sent: bool,
    pub back: &'a str,
}

#[derive(Template)]
#[template(path = "signup_complete.html")]
pub struct SignupCompletePage<'a> {
    pub csrf: &'a str,
    pub token: &'a str,
    pub email: &'a str,
    pub username: &'a str,
    pub min_length: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "account_password.html")]
pub struct ChangePasswordPage<'a> {
    pub csrf: &'a str,
    pub username: &'a str,
    pub min_length: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "account_email.html")]
pub struct ChangeEmailPage<'a> {
    pub csrf: &'a str,
    pub username: &'a str,
    pub email: &'a str,
    /// Mail is on: the new address will be sent a link.
    pub mail: bool,
    pub error: Option<String>,
}
