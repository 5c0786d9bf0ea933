//! Route paths, shared by the router and discovery so they cannot drift.
pub const AUTHORIZE: &str = "/authorize";
pub const TOKEN: &str = "/token";
pub const USERINFO: &str = "/userinfo";
pub const JWKS: &str = "/jwks.json";
pub const DISCOVERY: &str = "/.well-known/openid-configuration";
pub const LOGIN: &str = "/login";
pub const CONSENT: &str = "/consent";
pub const LOGOUT: &str = "/logout";
pub const REVOKE: &str = "/revoke";
pub const INTROSPECT: &str = "/introspect";
pub const ACCOUNT_APPS_REVOKE: &str = "/account/apps/revoke";
pub const ACCOUNT_PROFILE: &str = "/account/profile";
pub const ACCOUNT: &str = "/account";
pub const HEALTHZ: &str = "/healthz";
pub const READYZ: &str = "/readyz";
pub const STATIC_CSS: &str = "/static/gatehouse.css";
pub const STATIC_FORM_POST_JS: &str = "/static/form_post.js";
