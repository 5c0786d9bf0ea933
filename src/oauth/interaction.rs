//! The sign-in engine: what an authorization request needs next, and how each step the user
//! completes moves it on. `start` begins a flow from a validated request; `resume` continues
//! it; `sign_in` applies a verified factor to the session's state. They return outcomes the
//! web layer only renders.
use super::authorize::{self, AuthorizationResponse, ErrorRedirect, ValidRequest};
use super::error::{ErrorCode, OAuthError};
use crate::config::FLOW_TTL;
use crate::domain::{
    AcrRequest, Authentication, Client, Factor, Flow, PartialSignIn, ScopeSet, SignIn,
};
use crate::store::{self, FlowCaps, Store};

/// The page a flow is waiting on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The password (or a passkey) page.
    Login,
    /// A second factor, after the password or to step up a live session.
    SecondFactor,
    /// Policy asks for a second factor the user does not have: a page that says so.
    FactorMissing,
    Consent,
}

/// What the web layer does next.
#[derive(Debug)]
pub enum Outcome {
    /// Show this step's page for the flow.
    Show(Step, Box<Flow>),
    /// Send this authorization response to the client (a code, or an error).
    Respond(AuthorizationResponse),
}

/// What a rule needs to know about the user beyond the session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// The client, the server (for administrators) or an essential `acr` claim requires a
    /// second factor: without one the flow cannot finish.
    pub mfa_required: bool,
    /// `acr_values` prefers one: asked of users who have a factor, skipped for the rest.
    pub mfa_requested: bool,
    /// The user has a second factor enrolled.
    pub has_second_factor: bool,
}

/// Where the pure rules place a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    Page(Step),
    Finish,
}

/// A partial sign-in lives no longer than a flow.
pub fn live(state: Option<&SignIn>, now: i64) -> Option<&SignIn> {
    state.filter(|s| match s {
        SignIn::Partial(p) => now < p.started_at + FLOW_TTL,
        SignIn::Complete(_) => true,
    })
}

/// The session's completed authentication, if any.
pub fn completed(state: Option<&SignIn>) -> Option<&Authentication> {
    match state {
        Some(SignIn::Complete(a)) => Some(a),
        _ => None,
    }
}

/// OIDC Core §3.1.2.3/§3.1.2.4: authenticate unless the session satisfies `prompt`, `max_age`
/// and the factor policy; then ask consent unless remembered (or the client is first-party).
pub fn next_step(
    flow: &Flow,
    state: Option<&SignIn>,
    policy: Policy,
    remembered: Option<&ScopeSet>,
    skip_consent: bool,
) -> Next {
    let auth = match state {
        None => return Next::Page(Step::Login),
        Some(SignIn::Partial(p)) => {
            if flow.force_login && p.login_flow.as_deref() != Some(flow.id.as_str()) {
                return Next::Page(Step::Login);
            }
            return Next::Page(Step::SecondFactor);
        }
        Some(SignIn::Complete(a)) => a,
    };
    if flow.force_login && auth.login_flow.as_deref() != Some(flow.id.as_str()) {
        return Next::Page(Step::Login);
    }
    if auth.auth_time < flow.min_auth_time {
        return Next::Page(Step::Login);
    }
    if !auth.is_multi_factor() {
        if policy.has_second_factor && (policy.mfa_required || policy.mfa_requested) {
            return Next::Page(Step::SecondFactor);
        }
        if policy.mfa_required {
            return Next::Page(Step::FactorMissing);
        }
    }
    let wanted = ScopeSet::from_wire(&flow.scope);
    // OIDC Core §11: offline access needs consent given for this request, never remembered.
    if wanted.contains("offline_access") {
        return Next::Page(Step::Consent);
    }
    if skip_consent && !flow.force_consent {
        return Next::Finish;
    }
    match remembered {
        Some(r) if !flow.force_consent && wanted.is_subset_of(r) => Next::Finish,
        _ => Next::Page(Step::Consent),
    }
}

/// A factor the user just proved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Proof {
    /// The password, checked by `accounts`.
    Password {
        user_id: String,
        has_second_factor: bool,
    },
    /// A TOTP code, recovery code or passkey for the user the session is about.
    SecondFactor(Factor),
    /// A passkey on its own ("Sign in with a passkey").
    Passkey { user_id: String, factor: Factor },
}

/// Why a proof does not apply to this session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignInError {
    #[error("no sign-in is waiting for a second factor")]
    NothingToComplete,
}

/// Applies a proof to the session's state. A password starts a new sign-in, completed at once
/// unless the user has a second factor; a second factor completes a partial sign-in or steps up
/// a completed one (its `auth_time` moves: the user just authenticated).
pub fn sign_in(
    state: Option<&SignIn>,
    proof: Proof,
    flow: Option<&str>,
    now: i64,
) -> Result<SignIn, SignInError> {
    let login_flow = flow.map(str::to_owned);
    Ok(match proof {
        Proof::Password {
            user_id,
            has_second_factor,
        } => {
            if has_second_factor {
                SignIn::Partial(PartialSignIn {
                    user_id,
                    factors: vec![Factor::Password],
                    started_at: now,
                    login_flow,
                })
            } else {
                SignIn::Complete(Authentication {
                    user_id,
                    auth_time: now,
                    factors: vec![Factor::Password],
                    login_flow,
                })
            }
        }
        Proof::Passkey { user_id, factor } => SignIn::Complete(Authentication {
            user_id,
            auth_time: now,
            factors: vec![factor],
            login_flow,
        }),
        Proof::SecondFactor(factor) => match live(state, now) {
            Some(SignIn::Partial(p)) => SignIn::Complete(Authentication {
                user_id: p.user_id.clone(),
                auth_time: now,
                factors: with(&p.factors, factor),
                login_flow: p.login_flow.clone(),
            }),
            Some(SignIn::Complete(a)) => SignIn::Complete(Authentication {
                user_id: a.user_id.clone(),
                auth_time: now,
                factors: with(&a.factors, factor),
                login_flow: a.login_flow.clone(),
            }),
            None => return Err(SignInError::NothingToComplete),
        },
    })
}

fn with(factors: &[Factor], f: Factor) -> Vec<Factor> {
    let mut out = factors.to_vec();
    if !out.contains(&f) {
        out.push(f);
    }
    out
}

/// The user a session's state is about, complete or not.
pub fn user_of(state: &SignIn) -> &str {
    match state {
        SignIn::Partial(p) => &p.user_id,
        SignIn::Complete(a) => &a.user_id,
    }
}

/// The browser as the engine sees it.
#[derive(Clone, Debug)]
pub struct Browser {
    /// The random key naming this browser; pending flows are bound to it.
    pub key: String,
    /// Hash of that key: session-bound refresh tokens end when the browser signs out.
    pub session_key: Option<String>,
    /// The session's sign-in state, already checked against the store (`current`).
    pub state: Option<SignIn>,
}

/// What the engine needs from the server.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    pub store: &'a Store,
    pub issuer: &'a str,
    pub now: i64,
    /// Server policy: administrators always sign in with a second factor.
    pub admins_require_mfa: bool,
}

/// Failures a user can do something about, and those they cannot.
#[derive(Debug, thiserror::Error)]
pub enum InteractionError {
    /// Shown on our own page; the request cannot go on.
    #[error("{0}")]
    Refused(&'static str),
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error(transparent)]
    OAuth(#[from] OAuthError),
}

/// The session's state, dropped when it has expired or its user is gone or disabled.
pub async fn current(
    store: &Store,
    state: Option<SignIn>,
    now: i64,
) -> Result<Option<SignIn>, store::Error> {
    let Some(state) = live(state.as_ref(), now).cloned() else {
        return Ok(None);
    };
    match store.find_user(user_of(&state)).await? {
        Some(u) if !u.disabled => Ok(Some(state)),
        _ => Ok(None),
    }
}

async fn policy(
    ctx: Context<'_>,
    flow: &Flow,
    client: &Client,
    state: Option<&SignIn>,
) -> Result<Policy, store::Error> {
    let Some(state) = state else {
        return Ok(Policy::default());
    };
    let user_id = user_of(state);
    let summary = ctx.store.factor_summary(user_id).await?;
    let admin_rule = ctx.admins_require_mfa && ctx.store.user_is_admin(user_id).await?;
    Ok(Policy {
        mfa_required: client.require_mfa || admin_rule || flow.acr == AcrRequest::Essential,
        mfa_requested: flow.acr == AcrRequest::Voluntary,
        has_second_factor: summary.has_second_factor(),
    })
}

async fn decide(
    ctx: Context<'_>,
    flow: &Flow,
    client: &Client,
    state: Option<&SignIn>,
) -> Result<Next, store::Error> {
    let mut remembered = None;
    let mut for_user = None;
    if let Some(a) = completed(state) {
        remembered = ctx
            .store
            .find_consent(&a.user_id, &client.id)
            .await?
            .map(|s| ScopeSet::from_wire(&s));
        // Consent is about what this user can be granted: API scopes their roles lack are not
        // asked for.
        let mut f = flow.clone();
        f.scope = user_scope(ctx, flow, &a.user_id).await?.to_wire();
        for_user = Some(f);
    }
    let policy = policy(ctx, flow, client, state).await?;
    Ok(next_step(
        for_user.as_ref().unwrap_or(flow),
        state,
        policy,
        remembered.as_ref(),
        client.skip_consent,
    ))
}

/// The flow's scopes less the API scopes the user's roles do not carry (RFC 6749 §3.3).
async fn user_scope(
    ctx: Context<'_>,
    flow: &Flow,
    user_id: &str,
) -> Result<ScopeSet, store::Error> {
    crate::oauth::resource::effective(ctx.store, &ScopeSet::from_wire(&flow.scope), user_id).await
}

fn refuse(flow: &Flow, code: ErrorCode, description: &'static str) -> ErrorRedirect {
    ErrorRedirect {
        redirect_uri: flow.redirect_uri.clone(),
        state: flow.state.clone(),
        error: OAuthError::new(code, description),
        response_mode: flow.response_mode,
    }
}

/// OIDC Core §3.1.2.1: the request named its user with `id_token_hint`; nobody else finishes it.
fn hint_mismatch(flow: &Flow, state: Option<&SignIn>) -> bool {
    match (&flow.hint_sub, completed(state)) {
        (Some(sub), Some(a)) => sub != &a.user_id,
        _ => false,
    }
}

/// Begins a flow for a validated request. Pages need the flow stored (`caps` bound how many
/// one browser or address may hold); `prompt=none` never shows one (OIDC Core §3.1.2.6).
pub async fn start(
    ctx: Context<'_>,
    req: &ValidRequest,
    browser: &Browser,
    address_key: &str,
    caps: FlowCaps,
) -> Result<Outcome, InteractionError> {
    let mut flow = authorize::new_flow(req, &browser.key, ctx.now);
    let state = browser.state.as_ref();
    if hint_mismatch(&flow, state) {
        return Ok(respond_error(
            ctx,
            &refuse(
                &flow,
                ErrorCode::LoginRequired,
                "the hinted user is not the signed-in user",
            ),
        ));
    }
    if req.prompt.none {
        // No consent page can be shown, so offline access cannot be granted (OIDC Core §11).
        flow.scope = ScopeSet::from_wire(&flow.scope)
            .without("offline_access")
            .to_wire();
    }
    let next = decide(ctx, &flow, &req.client, state).await?;
    if req.prompt.none {
        let (code, why) = match next {
            Next::Finish => return finish(ctx, &flow, browser, false).await,
            Next::Page(Step::Consent) => (ErrorCode::ConsentRequired, "the user must consent"),
            Next::Page(Step::Login) => (ErrorCode::LoginRequired, "the user must sign in"),
            Next::Page(_) => (
                ErrorCode::InteractionRequired,
                "the user must complete a second factor",
            ),
        };
        return Ok(respond_error(ctx, &refuse(&flow, code, why)));
    }
    match next {
        Next::Finish => finish(ctx, &flow, browser, false).await,
        Next::Page(step) => {
            ctx.store.insert_flow(&flow, address_key, caps).await?;
            Ok(Outcome::Show(step, Box::new(flow)))
        }
    }
}

/// Where a stored flow stands, without finishing it.
pub async fn peek(
    ctx: Context<'_>,
    flow: &Flow,
    browser: &Browser,
) -> Result<Next, InteractionError> {
    let client = ctx
        .store
        .find_client(&flow.client_id)
        .await?
        .ok_or(InteractionError::Refused("error-client-gone"))?;
    Ok(decide(ctx, flow, &client, browser.state.as_ref()).await?)
}

/// The user gives up on a flow whose second-factor requirement they cannot meet: the client
/// hears `access_denied` (OIDC Core §5.5.1.1: an unmet essential `acr` is a failed
/// authentication). Only a flow waiting on exactly that may be abandoned this way.
pub async fn abandon(
    ctx: Context<'_>,
    flow: &Flow,
    browser: &Browser,
) -> Result<Outcome, InteractionError> {
    if peek(ctx, flow, browser).await? != Next::Page(Step::FactorMissing) {
        return Err(InteractionError::Refused(
            "This sign-in request is not waiting for a second factor.",
        ));
    }
    if !ctx.store.delete_flow(&flow.id).await? {
        return Err(InteractionError::Refused("error-flow-completed"));
    }
    Ok(respond_error(
        ctx,
        &refuse(
            flow,
            ErrorCode::AccessDenied,
            "a second factor is required and the user has none",
        ),
    ))
}

/// The user's answer on the consent page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny,
}

/// Continues a stored flow after a step: with no decision it only finds where the flow
/// stands; a decision is honoured only when consent is what the flow waits for.
pub async fn resume(
    ctx: Context<'_>,
    flow: &Flow,
    browser: &Browser,
    decision: Option<Decision>,
) -> Result<Outcome, InteractionError> {
    let client = ctx
        .store
        .find_client(&flow.client_id)
        .await?
        .ok_or(InteractionError::Refused("error-client-gone"))?;
    let state = browser.state.as_ref();
    let next = decide(ctx, flow, &client, state).await?;
    let Some(decision) = decision else {
        return match next {
            Next::Finish => finish(ctx, flow, browser, true).await,
            Next::Page(step) => Ok(Outcome::Show(step, Box::new(flow.clone()))),
        };
    };
    // Consent is asked only once the user is fully signed in; remembered consent may make the
    // page stale, which changes nothing about the user's answer.
    let Some(auth) = completed(state) else {
        return Ok(Outcome::Show(Step::Login, Box::new(flow.clone())));
    };
    if let Next::Page(step) = next
        && step != Step::Consent
    {
        return Ok(Outcome::Show(step, Box::new(flow.clone())));
    }
    match decision {
        Decision::Allow => {
            let granted = user_scope(ctx, flow, &auth.user_id).await?;
            let previous = ctx
                .store
                .find_consent(&auth.user_id, &flow.client_id)
                .await?
                .map(|s| ScopeSet::from_wire(&s))
                .unwrap_or_default();
            // Offline access is asked for every time, never remembered.
            let remembered = previous.union(&granted).without("offline_access");
            ctx.store
                .upsert_consent(
                    &auth.user_id,
                    &flow.client_id,
                    &remembered.to_wire(),
                    ctx.now,
                )
                .await?;
            finish(ctx, flow, browser, true).await
        }
        Decision::Deny => {
            if !ctx.store.delete_flow(&flow.id).await? {
                return Err(InteractionError::Refused("error-flow-completed"));
            }
            Ok(respond_error(
                ctx,
                &refuse(flow, ErrorCode::AccessDenied, "the user denied the request"),
            ))
        }
    }
}

fn respond_error(ctx: Context<'_>, r: &ErrorRedirect) -> Outcome {
    tracing::info!(
        error = r.error.code.as_str(),
        "authorization request refused"
    );
    Outcome::Respond(authorize::error_response(ctx.issuer, r))
}

/// Issues the code (RFC 6749 §4.1.2). A stored flow is deleted first, so completion is
/// single-shot even with two tabs racing.
async fn finish(
    ctx: Context<'_>,
    flow: &Flow,
    browser: &Browser,
    stored: bool,
) -> Result<Outcome, InteractionError> {
    let state = browser.state.as_ref();
    let auth = completed(state).ok_or(InteractionError::Refused("Sign in to continue."))?;
    if hint_mismatch(flow, state) {
        if stored {
            ctx.store.delete_flow(&flow.id).await?;
        }
        return Ok(respond_error(
            ctx,
            &refuse(
                flow,
                ErrorCode::LoginRequired,
                "the hinted user is not the signed-in user",
            ),
        ));
    }
    if stored && !ctx.store.delete_flow(&flow.id).await? {
        return Err(InteractionError::Refused("error-flow-completed"));
    }
    let scope = user_scope(ctx, flow, &auth.user_id).await?;
    let resp = authorize::issue_code(
        ctx.store,
        ctx.issuer,
        flow,
        &scope.to_wire(),
        auth,
        browser.session_key.as_deref(),
        ctx.now,
    )
    .await?;
    tracing::info!(client_id = %flow.client_id, user_id = %auth.user_id, "authorization code issued");
    Ok(Outcome::Respond(resp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ResponseMode;

    fn flow() -> Flow {
        Flow {
            id: "f".into(),
            browser_key: "b".into(),
            client_id: "c".into(),
            redirect_uri: "https://a/cb".into(),
            scope: "openid email".into(),
            resources: vec![],
            state: None,
            nonce: None,
            code_challenge: "x".into(),
            code_challenge_method: "S256".into(),
            dpop_jkt: None,
            force_login: false,
            force_consent: false,
            min_auth_time: i64::MIN,
            max_age: None,
            login_hint: None,
            hint_sub: None,
            response_mode: ResponseMode::Query,
            acr: AcrRequest::None,
            created_at: 100,
            expires_at: 200,
        }
    }

    fn password_session() -> SignIn {
        SignIn::Complete(Authentication {
            user_id: "u".into(),
            auth_time: 50,
            factors: vec![Factor::Password],
            login_flow: None,
        })
    }

    const NO_POLICY: Policy = Policy {
        mfa_required: false,
        mfa_requested: false,
        has_second_factor: false,
    };

    #[test]
    fn login_and_consent_rules() {
        let s = password_session();
        let all = ScopeSet::parse_supported("openid email profile");
        let f = flow();
        let login = Next::Page(Step::Login);
        let consent = Next::Page(Step::Consent);
        assert_eq!(next_step(&f, None, NO_POLICY, None, false), login);
        assert_eq!(next_step(&f, Some(&s), NO_POLICY, None, false), consent);
        assert_eq!(
            next_step(&f, Some(&s), NO_POLICY, Some(&all), false),
            Next::Finish
        );
        let narrow = ScopeSet::parse_supported("openid");
        assert_eq!(
            next_step(&f, Some(&s), NO_POLICY, Some(&narrow), false),
            consent
        );
        assert_eq!(next_step(&f, Some(&s), NO_POLICY, None, true), Next::Finish);
        let forced = Flow {
            force_login: true,
            ..flow()
        };
        assert_eq!(
            next_step(&forced, Some(&s), NO_POLICY, Some(&all), false),
            login
        );
        let SignIn::Complete(a) = &s else {
            unreachable!()
        };
        let fresh = SignIn::Complete(Authentication {
            login_flow: Some("f".into()),
            ..a.clone()
        });
        assert_eq!(
            next_step(&forced, Some(&fresh), NO_POLICY, Some(&all), false),
            Next::Finish
        );
        let aged = Flow {
            min_auth_time: 60,
            ..flow()
        };
        assert_eq!(
            next_step(&aged, Some(&s), NO_POLICY, Some(&all), false),
            login
        );
        let offline = Flow {
            scope: "openid offline_access".into(),
            ..flow()
        };
        assert_eq!(
            next_step(&offline, Some(&s), NO_POLICY, Some(&all), true),
            consent
        );
        let again = Flow {
            force_consent: true,
            ..flow()
        };
        assert_eq!(
            next_step(&again, Some(&s), NO_POLICY, Some(&all), true),
            consent
        );
    }

    #[test]
    fn factor_rules() {
        let all = ScopeSet::parse_supported("openid email");
        let f = flow();
        let s = password_session();
        let required = Policy {
            mfa_required: true,
            mfa_requested: false,
            has_second_factor: true,
        };
        assert_eq!(
            next_step(&f, Some(&s), required, Some(&all), false),
            Next::Page(Step::SecondFactor),
            "a password session steps up"
        );
        let missing = Policy {
            has_second_factor: false,
            ..required
        };
        assert_eq!(
            next_step(&f, Some(&s), missing, Some(&all), false),
            Next::Page(Step::FactorMissing)
        );
        let requested = Policy {
            mfa_required: false,
            mfa_requested: true,
            has_second_factor: true,
        };
        assert_eq!(
            next_step(&f, Some(&s), requested, Some(&all), false),
            Next::Page(Step::SecondFactor),
            "acr_values steps up a user who has a factor"
        );
        assert_eq!(
            next_step(
                &f,
                Some(&s),
                Policy {
                    has_second_factor: false,
                    ..requested
                },
                Some(&all),
                false
            ),
            Next::Finish,
            "acr_values is voluntary: without a factor the sign-in goes on"
        );
        let stepped = sign_in(Some(&s), Proof::SecondFactor(Factor::Totp), None, 70).unwrap();
        assert_eq!(
            next_step(&f, Some(&stepped), required, Some(&all), false),
            Next::Finish
        );
        let SignIn::Complete(a) = &stepped else {
            panic!("step-up completes")
        };
        assert_eq!(a.auth_time, 70, "a step-up is a fresh authentication");
        assert!(a.is_multi_factor());
        // max_age older than the step-up asks for the password again.
        let aged = Flow {
            min_auth_time: 80,
            ..flow()
        };
        assert_eq!(
            next_step(&aged, Some(&stepped), required, Some(&all), false),
            Next::Page(Step::Login)
        );
    }

    #[test]
    fn password_then_factor() {
        let partial = sign_in(
            None,
            Proof::Password {
                user_id: "u".into(),
                has_second_factor: true,
            },
            Some("f"),
            100,
        )
        .unwrap();
        assert!(matches!(partial, SignIn::Partial(_)));
        assert_eq!(
            next_step(&flow(), Some(&partial), NO_POLICY, None, true),
            Next::Page(Step::SecondFactor),
            "an enrolled factor is asked at every sign-in"
        );
        assert!(completed(Some(&partial)).is_none());
        let done = sign_in(
            Some(&partial),
            Proof::SecondFactor(Factor::RecoveryCode),
            Some("f"),
            110,
        )
        .unwrap();
        let a = completed(Some(&done)).unwrap();
        assert_eq!(a.factors, [Factor::Password, Factor::RecoveryCode]);
        assert_eq!(a.login_flow.as_deref(), Some("f"));
        // A partial sign-in expires with the flow lifetime.
        assert!(live(Some(&partial), 100 + FLOW_TTL).is_none());
        assert_eq!(
            sign_in(
                Some(&partial),
                Proof::SecondFactor(Factor::Totp),
                None,
                100 + FLOW_TTL
            ),
            Err(SignInError::NothingToComplete)
        );
        assert_eq!(
            sign_in(None, Proof::SecondFactor(Factor::Totp), None, 1),
            Err(SignInError::NothingToComplete)
        );
    }

    #[test]
    fn password_alone_completes_without_factors() {
        let s = sign_in(
            None,
            Proof::Password {
                user_id: "u".into(),
                has_second_factor: false,
            },
            None,
            5,
        )
        .unwrap();
        let a = completed(Some(&s)).unwrap();
        assert_eq!(a.auth_time, 5);
        assert!(!a.is_multi_factor());
    }

    #[test]
    fn forced_login_restarts_a_partial_sign_in_from_another_flow() {
        let partial = sign_in(
            None,
            Proof::Password {
                user_id: "u".into(),
                has_second_factor: true,
            },
            Some("other"),
            100,
        )
        .unwrap();
        let forced = Flow {
            force_login: true,
            ..flow()
        };
        assert_eq!(
            next_step(&forced, Some(&partial), NO_POLICY, None, false),
            Next::Page(Step::Login)
        );
    }
}
