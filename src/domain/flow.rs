//! A validated authorization request waiting for login and consent. Only its random id travels
//! through the browser; the request itself waits in the store so any replica can resume it.
use serde::{Deserialize, Serialize};

/// How an authorization response travels to the client: in the redirect URI's query (RFC 6749
/// §4.1.2), or as a form the browser posts to it (OAuth 2.0 Form Post Response Mode).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    #[default]
    Query,
    FormPost,
}

impl ResponseMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::FormPost => "form_post",
        }
    }
}

/// A request's wish for a second factor (OIDC Core §3.1.2.1 `acr_values`, §5.5.1.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AcrRequest {
    #[default]
    None,
    /// `acr_values` prefers multi-factor: asked of users who have a factor.
    Voluntary,
    /// `acr` requested as an essential claim: the flow cannot finish without it.
    Essential,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flow {
    pub id: String,
    /// The browser this request belongs to: a random key held in its session.
    pub browser_key: String,
    pub client_id: String,
    pub redirect_uri: String,
    /// Granted-if-approved scopes, wire form (the user's roles still limit the API scopes).
    pub scope: String,
    /// RFC 8707: the APIs the request covers, by identifier.
    #[serde(default)]
    pub resources: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub code_challenge_method: String,
    /// `prompt=login` or `max_age=0`: the user must sign in again for this very request.
    pub force_login: bool,
    /// `prompt=consent`: show the consent page even if consent is remembered.
    pub force_consent: bool,
    /// `max_age`: the session's authentication must be at least this recent.
    pub min_auth_time: i64,
    /// `max_age` was requested, so `auth_time` must appear in the ID token.
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    /// Subject of a valid `id_token_hint`: only this user may finish the flow.
    #[serde(default)]
    pub hint_sub: Option<String>,
    /// How the authorization response goes back to the client.
    #[serde(default)]
    pub response_mode: ResponseMode,
    /// What the request asked of the authentication (`acr_values`, or `acr` in `claims`).
    #[serde(default)]
    pub acr: AcrRequest,
    /// RFC 9449 §10: the DPoP key its code is bound to.
    #[serde(default)]
    pub dpop_jkt: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}
