//! Route paths, shared by the router and discovery so they cannot drift.
pub const AUTHORIZE: &str = "/authorize";
pub const TOKEN: &str = "/token";
/// RFC 9126 pushed authorization requests.
pub const PAR: &str = "/par";
pub const USERINFO: &str = "/userinfo";
pub const JWKS: &str = "/jwks.json";
pub const DISCOVERY: &str = "/.well-known/openid-configuration";
pub const LOGIN: &str = "/login";
pub const LOGIN_FACTOR: &str = "/login/factor";
pub const LOGIN_HELP: &str = "/login/help";
pub const LOGIN_CONTINUE: &str = "/login/continue";
pub const LOGIN_PASSKEY: &str = "/login/passkey";
pub const LOGIN_PASSKEY_OPTIONS: &str = "/login/passkey/options";
pub const LOGIN_FACTOR_PASSKEY: &str = "/login/factor/passkey";
pub const LOGIN_FACTOR_PASSKEY_OPTIONS: &str = "/login/factor/passkey/options";
pub const ACCOUNT_PASSKEYS: &str = "/account/passkeys";
pub const ACCOUNT_PASSKEYS_OPTIONS: &str = "/account/passkeys/options";
pub const ACCOUNT_PASSKEYS_REMOVE: &str = "/account/passkeys/remove";
pub const STATIC_PASSKEY_JS: &str = "/static/passkey.js";
pub const CONSENT: &str = "/consent";
pub const LOGOUT: &str = "/logout";
pub const REVOKE: &str = "/revoke";
pub const INTROSPECT: &str = "/introspect";
pub const ACCOUNT_APPS_REVOKE: &str = "/account/apps/revoke";
pub const ACCOUNT_PROFILE: &str = "/account/profile";
pub const ACCOUNT: &str = "/account";
pub const ACCOUNT_TOTP: &str = "/account/totp";
pub const ACCOUNT_TOTP_REMOVE: &str = "/account/totp/remove";
pub const ACCOUNT_RECOVERY_CODES: &str = "/account/recovery-codes";
pub const HEALTHZ: &str = "/healthz";
pub const READYZ: &str = "/readyz";
pub const STATIC_CSS: &str = "/static/gatehouse.css";
pub const STATIC_FORM_POST_JS: &str = "/static/form_post.js";
pub const STATIC_CONSOLE_JS: &str = "/static/console.js";
/// The admin REST API's base path and its OpenAPI document.
pub const ADMIN_API: &str = "/admin/api/v1";
/// Everything of the admin API lives below this: `v1` and the OpenAPI document.
pub const ADMIN_API_ROOT: &str = "/admin/api";
pub const ADMIN_OPENAPI: &str = "/admin/api/openapi.json";
/// The admin console's pages.
pub const ADMIN: &str = "/admin";
/// RFC 7591 registration endpoint; RFC 7592 management at `/register/{client_id}`.
pub const REGISTER: &str = "/register";
/// Account links sent by mail, and the pages around them.
pub const LOGIN_FORGOT: &str = "/login/forgot";
pub const LOGIN_RESET: &str = "/login/reset";
pub const ACCOUNT_VERIFY_EMAIL: &str = "/account/verify-email";
pub const ACCOUNT_PASSWORD: &str = "/account/password";
pub const ACCOUNT_EMAIL: &str = "/account/email";
pub const SIGNUP: &str = "/signup";
pub const SIGNUP_COMPLETE: &str = "/signup/complete";
pub const ACCOUNT_EMAIL_RESEND: &str = "/account/email/resend";
