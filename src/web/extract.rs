//! Request parsing shared by handlers: raw parameters (so repeats can be refused), and typed
//! access to the browser session.
use super::error::PageError;
use crate::crypto::{constant_time_eq, random_token};
use crate::domain::{Authentication, PartialSignIn, SignIn};
use crate::oauth::authorize::{ParamProblem, Params};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use std::net::SocketAddr;
use tower_sessions::Session;

/// The client's address: the connection's peer, or what a configured trusted proxy says
/// (`GATEHOUSE_TRUSTED_PROXIES`); other forwarding headers are ignored (RFC 9700 §4.13).
pub struct ClientAddress(pub String);

impl FromRequestParts<super::AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &super::AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(peer) = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
        else {
            return Ok(Self("unknown".into()));
        };
        // Several X-Forwarded-For lines form one list, in order (RFC 9110 §5.3).
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let forwarded = (!forwarded.is_empty()).then(|| forwarded.join(","));
        let ip = crate::config::client_address(
            peer,
            forwarded.as_deref(),
            &state.config.trusted_proxies,
        );
        Ok(Self(ip.to_string()))
    }
}

/// RFC 6750 §2.1: the token of an `Authorization: Bearer` header.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let v = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The access token of an `Authorization: Bearer` (RFC 6750 §2.1) or `Authorization: DPoP`
/// (RFC 9449 §7.1) header, and which scheme it came by.
pub fn access_token(
    headers: &axum::http::HeaderMap,
) -> Option<(crate::oauth::userinfo::Scheme, &str)> {
    use crate::oauth::userinfo::Scheme;
    let v = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = v.split_once(' ')?;
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Scheme::Dpop
    } else {
        return None;
    };
    Some((scheme, token.trim()))
}

/// Parameters from a query string or an `application/x-www-form-urlencoded` body.
pub fn params_from(raw: &[u8]) -> Params {
    Params::from_pairs(form_urlencoded::parse(raw).map(|(k, v)| (k.into_owned(), v.into_owned())))
}

/// A page's form or query, held to the same bounds as protocol parameters (at most
/// `MAX_PARAMS`, no repeats, no control characters) before it is read into `T`.
fn page_params<T: DeserializeOwned>(raw: &[u8]) -> Result<T, PageError> {
    if let Some(problem) = params_from(raw).problem() {
        return Err(PageError::bad_request(match problem {
            ParamProblem::TooMany => "The form has too many fields.",
            ParamProblem::ControlCharacter(_) => {
                "The form contains characters that are not allowed."
            }
            ParamProblem::Repeated(_) => "A field of the form was repeated.",
        }));
    }
    serde_urlencoded::from_bytes(raw).map_err(|_| PageError::bad_request("error-form-incomplete"))
}

/// A form body for a page handler (login, consent, account).
pub struct PageForm<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for PageForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // The body limit's 413 passes through as it is.
        let body = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        page_params(&body)
            .map(Self)
            .map_err(IntoResponse::into_response)
    }
}

/// A query string for a page handler.
pub struct PageQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for PageQuery<T> {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        page_params(parts.uri.query().unwrap_or("").as_bytes()).map(Self)
    }
}

const SIGNED_IN: &str = crate::store::SIGNED_IN_KEY;
const PARTIAL: &str = crate::store::PARTIAL_KEY;
const CSRF: &str = "csrf";
const BROWSER_KEY: &str = crate::store::BROWSER_KEY;
const FLOW_UNTIL: &str = "flow_until";
const RETURN_TO: &str = "return_to";
const PLAYGROUND: &str = "playground";

/// The console playground's pending sign-in: which client, and the request's secrets.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct PlaygroundRun {
    pub client_id: String,
    pub state: String,
    pub verifier: String,
    pub nonce: String,
}

/// Typed wrapper over the tower-sessions session.
pub struct LoginSession<'a>(pub &'a Session);

impl LoginSession<'_> {
    async fn get_or_create(&self, key: &str) -> Result<String, PageError> {
        if let Some(v) = self.0.get::<String>(key).await? {
            return Ok(v);
        }
        let v = random_token();
        self.0.insert(key, &v).await?;
        Ok(v)
    }

    /// A random key naming this browser; pending flows are bound to it.
    pub async fn browser_key(&self) -> Result<String, PageError> {
        self.get_or_create(BROWSER_KEY).await
    }

    /// Keeps an anonymous session alive as long as its newest pending flow (the store caps an
    /// anonymous session's life at one flow lifetime from its last save).
    pub async fn keep_for_flow(&self, flow_expires_at: i64) -> Result<(), PageError> {
        self.0.insert(FLOW_UNTIL, flow_expires_at).await?;
        Ok(())
    }

    /// The browser key if the session has one (never creates a session).
    pub async fn existing_browser_key(&self) -> Result<Option<String>, PageError> {
        Ok(self.0.get::<String>(BROWSER_KEY).await?)
    }

    /// What session-bound grants are keyed by: a hash of the browser key (never the key itself).
    pub async fn session_key(&self) -> Result<Option<String>, PageError> {
        Ok(self
            .existing_browser_key()
            .await?
            .map(|k| crate::crypto::hash_secret(&k)))
    }

    /// Where a sign-in made without an authorization request goes when it completes: a console
    /// page that sent the admin to sign in (again). Only console paths are kept, so this cannot
    /// become an open redirect.
    pub async fn set_return_to(&self, path: &str) -> Result<(), PageError> {
        if is_console_path(path) {
            self.0.insert(RETURN_TO, path).await?;
        }
        Ok(())
    }

    pub async fn set_playground(&self, run: &PlaygroundRun) -> Result<(), PageError> {
        self.0.insert(PLAYGROUND, run).await?;
        Ok(())
    }

    /// The playground run in progress.
    pub async fn playground(&self) -> Result<Option<PlaygroundRun>, PageError> {
        Ok(self.0.get::<PlaygroundRun>(PLAYGROUND).await?)
    }

    /// The playground run in progress, once.
    pub async fn take_playground(&self) -> Result<Option<PlaygroundRun>, PageError> {
        Ok(self.0.remove::<PlaygroundRun>(PLAYGROUND).await?)
    }

    /// Whether a console page is waiting for this sign-in.
    pub async fn returns_to_console(&self) -> Result<bool, PageError> {
        Ok(self.0.get::<String>(RETURN_TO).await?.is_some())
    }

    /// The page a completed sign-in without a request goes to: the stored console page once,
    /// else the account page.
    pub async fn after_sign_in(&self) -> Result<String, PageError> {
        Ok(self
            .0
            .remove::<String>(RETURN_TO)
            .await?
            .filter(|p| is_console_path(p))
            .unwrap_or_else(|| crate::oauth::endpoints::ACCOUNT.to_owned()))
    }

    /// The session's CSRF token (RFC 6749 §10.12), created on first use.
    pub async fn csrf_token(&self) -> Result<String, PageError> {
        self.get_or_create(CSRF).await
    }

    /// RFC 6749 §10.12: refuses a form whose CSRF token is not this session's (403).
    pub async fn require_csrf(&self, submitted: &str) -> Result<(), PageError> {
        if self.check_csrf(submitted).await? {
            return Ok(());
        }
        Err(PageError {
            status: axum::http::StatusCode::FORBIDDEN,
            title: "error-form-expired-title",
            message: "error-form-expired".into(),
        })
    }

    /// Constant-time check of a submitted CSRF token.
    pub async fn check_csrf(&self, submitted: &str) -> Result<bool, PageError> {
        let expected = self.0.get::<String>(CSRF).await?;
        Ok(expected.is_some_and(|e| constant_time_eq(e.as_bytes(), submitted.as_bytes())))
    }

    /// The session's sign-in state as stored (not yet checked against the store; see
    /// `interaction::current`).
    pub async fn sign_in_state(&self) -> Result<Option<SignIn>, PageError> {
        if let Some(a) = self.0.get::<Authentication>(SIGNED_IN).await? {
            return Ok(Some(SignIn::Complete(a)));
        }
        Ok(self
            .0
            .get::<PartialSignIn>(PARTIAL)
            .await?
            .map(SignIn::Partial))
    }

    /// Records a new sign-in state. The session id is rotated first, so an id known before a
    /// change of privilege is worth nothing after it (session fixation).
    pub async fn set_sign_in(&self, state: &SignIn) -> Result<(), PageError> {
        self.0.cycle_id().await?;
        match state {
            SignIn::Complete(a) => {
                self.0.remove::<PartialSignIn>(PARTIAL).await?;
                self.0.insert(SIGNED_IN, a).await?;
            }
            SignIn::Partial(p) => {
                // A half-finished sign-in never counts as signed in, so the session stays
                // short-lived until the second factor.
                self.0.remove::<Authentication>(SIGNED_IN).await?;
                self.0.insert(PARTIAL, p).await?;
            }
        }
        Ok(())
    }

    /// Ends the user's sessions in every other browser (and their session-bound tokens):
    /// after a change of factors, a session from before it must not outlive it.
    pub async fn end_other_sessions(
        &self,
        store: &crate::store::Store,
        user_id: &str,
        now: i64,
    ) -> Result<(), PageError> {
        let keep = self.0.id().map(|id| crate::store::session_row_key(&id));
        let ended = store
            .end_user_sessions(user_id, keep.as_deref(), now)
            .await?;
        if ended > 0 {
            tracing::info!(ended, "other sessions ended after a change of factors");
        }
        Ok(())
    }

    pub async fn sign_out(&self) -> Result<(), PageError> {
        self.0.delete().await?;
        Ok(())
    }
}

/// `/admin` or a page below it, with nothing that could leave this origin.
fn is_console_path(path: &str) -> bool {
    let admin = crate::oauth::endpoints::ADMIN;
    (path == admin || path.starts_with(&format!("{admin}/")))
        && !path.contains("//")
        && !path.contains('\\')
        && path.bytes().all(|b| b.is_ascii_graphic())
}

/// The device cookie's name (`__Host-` on https, like the session cookie).
pub fn device_cookie_name(https: bool) -> &'static str {
    if https {
        "__Host-gatehouse-device"
    } else {
        "gatehouse-device"
    }
}

/// The device cookie's value, if the request carries one.
pub fn device_cookie(headers: &axum::http::HeaderMap, https: bool) -> Option<String> {
    let name = device_cookie_name(https);
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(tower_sessions::cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

/// Sets the device cookie: HttpOnly, SameSite=Strict (only our own login form needs it),
/// Secure on https, for `DEVICE_TTL`.
pub fn set_device_cookie(resp: &mut Response, value: &str, https: bool) {
    let cookie = tower_sessions::cookie::Cookie::build((device_cookie_name(https), value))
        .path("/")
        .http_only(true)
        .secure(https)
        .same_site(tower_sessions::cookie::SameSite::Strict)
        .max_age(time::Duration::seconds(crate::accounts::device::DEVICE_TTL))
        .build();
    if let Ok(v) = axum::http::HeaderValue::from_str(&cookie.to_string()) {
        resp.headers_mut().append(axum::http::header::SET_COOKIE, v);
    }
}
