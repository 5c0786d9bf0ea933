//! The admin console at `/admin`: server-rendered pages over the same admin operations as the
//! API. Only a signed-in administrator sees it; a change needs a sign-in at most 15 minutes
//! old (with the second factor when they have one), else they are asked to sign in again.
//! Every form carries the session's CSRF token. The pages are in English only.
use super::admin::split_page;
use super::error::PageError;
use super::extract::{ClientAddress, LoginSession, PageForm, PageQuery};
use super::state::AppState;
use super::templates::render;
use crate::admin::{self, Actor, AdminError};
use crate::domain::{Authentication, Client, ClientChanges, GrantType, User};
use crate::oauth::endpoints as ep;
use crate::store::AuditQuery;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

/// How old a sign-in may be for a change (SECURITY.md, "The admin console").
pub const RECENT_AUTH: i64 = 15 * 60;

/// The administrator on a console page.
struct Console {
    user: User,
    csrf: String,
    actor: String,
    address: String,
}

impl Console {
    fn actor(&self) -> Actor<'_> {
        Actor {
            id: &self.actor,
            address: Some(&self.address),
        }
    }
}

/// Who may see `path`: `Err` holds the response for anyone else (sign in, sign in again, or
/// 403). A change is a form post: it carries this session's CSRF token (`csrf`) and needs a
/// recent sign-in.
async fn gate(
    state: &AppState,
    session: &Session,
    address: String,
    path: &str,
    csrf: Option<&str>,
) -> Result<Result<Console, Response>, PageError> {
    let ls = &LoginSession(session);
    if let Some(token) = csrf {
        ls.require_csrf(token).await?;
    }
    let change = csrf.is_some();
    let Some((auth, user)) = super::account::signed_in_account(state, ls).await? else {
        ls.set_return_to(path).await?;
        return Ok(Err(Redirect::to(ep::LOGIN).into_response()));
    };
    if !state.store.user_is_admin(&user.id).await? {
        return Err(PageError {
            status: StatusCode::FORBIDDEN,
            title: "error-admin-only-title",
            message: "error-admin-only".into(),
        });
    }
    let factors = state.store.factor_summary(&user.id).await?;
    if state.config.admins_require_mfa && !factors.has_second_factor() {
        return Err(PageError {
            status: StatusCode::FORBIDDEN,
            title: "error-admin-only-title",
            message: "error-admin-needs-mfa".into(),
        });
    }
    if change && !recent_enough(&auth, factors.has_second_factor(), state.now()) {
        ls.set_return_to(path).await?;
        return Ok(Err(Redirect::to(ep::LOGIN).into_response()));
    }
    let csrf = ls.csrf_token().await?;
    Ok(Ok(Console {
        actor: crate::audit::user(&user.id),
        user,
        csrf,
        address,
    }))
}

/// A change needs a sign-in of the last 15 minutes, made with the second factor when the
/// admin has one.
fn recent_enough(auth: &Authentication, has_second_factor: bool, now: i64) -> bool {
    now - auth.auth_time <= RECENT_AUTH && (!has_second_factor || auth.is_multi_factor())
}

/// Runs `$gate` and returns early with its response when the caller may not go on.
macro_rules! admin_or_leave {
    ($e:expr) => {
        match $e.await? {
            Ok(c) => c,
            Err(resp) => return Ok(resp),
        }
    };
}

// After the macro, which it uses.
pub mod access;

fn page<T: Template>(t: &T) -> Response {
    render(t)
}

fn see_other(path: &str) -> Response {
    Redirect::to(path).into_response()
}

// ---- dashboard ----

struct KeyLine {
    kid: String,
    alg: &'static str,
    state: String,
    activates: String,
    retires: String,
}

struct EventLine {
    time: String,
    event: String,
    failure: bool,
    actor: String,
    target: String,
    address: String,
}

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
struct DashboardPage<'a> {
    me: &'a str,
    users: i64,
    clients: usize,
    keys: Vec<KeyLine>,
    next_rotation: String,
    events: Vec<EventLine>,
}

/// A time as the console shows it: `2026-12-01 09:30 UTC`, or a dash.
fn when(t: Option<i64>) -> String {
    t.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .map(|t| {
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02} UTC",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute()
            )
        })
        .unwrap_or_else(|| "-".into())
}

fn key_lines(state: &AppState) -> Vec<KeyLine> {
    state
        .keys
        .infos()
        .into_iter()
        .map(|k| KeyLine {
            kid: k.kid,
            alg: k.alg.as_str(),
            state: k.state.to_string(),
            activates: when(k.activates_at),
            retires: when(k.retires_at),
        })
        .collect()
}

fn event_lines(rows: Vec<crate::audit::Record>) -> Vec<EventLine> {
    rows.into_iter()
        .map(|r| EventLine {
            time: when(Some(r.at)),
            failure: r.outcome == "failure",
            event: r.event,
            actor: r.actor,
            target: r.target,
            address: r.address.unwrap_or_else(|| "-".into()),
        })
        .collect()
}

pub async fn dashboard(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
) -> Result<Response, PageError> {
    let c = admin_or_leave!(gate(&state, &session, address, ep::ADMIN, None));
    state.keys.reload().await.map_err(PageError::internal)?;
    let policy = state.keys.policy();
    let next_rotation = state
        .keys
        .infos()
        .iter()
        .filter(|k| k.state == crate::domain::KeyState::Current)
        .filter_map(|k| k.activates_at)
        .map(|since| since + policy.period)
        .min();
    let events = state
        .store
        .audit_events(&AuditQuery {
            limit: 10,
            ..Default::default()
        })
        .await?;
    Ok(page(&DashboardPage {
        me: &c.user.username,
        users: state.store.count_users().await?,
        clients: state.store.list_clients().await?.len(),
        keys: key_lines(&state),
        next_rotation: when(next_rotation),
        events: event_lines(events),
    }))
}

// ---- clients ----

struct ClientLine {
    id: String,
    name: String,
    kind: &'static str,
    redirect: String,
}

#[derive(Template)]
#[template(path = "admin/clients.html")]
struct ClientsPage<'a> {
    me: &'a str,
    csrf: &'a str,
    /// Dynamic registration is on: offer initial access tokens.
    registration: bool,
    q: &'a str,
    clients: Vec<ClientLine>,
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    cursor: Option<String>,
    /// The users page after an invitation was sent.
    invited: Option<String>,
}

/// What kind of app a client looks like, for the list.
fn kind_of(c: &Client) -> &'static str {
    if c.allows_grant(GrantType::ClientCredentials) && !c.allows_grant(GrantType::AuthorizationCode)
    {
        "Machine-to-machine"
    } else if c.is_public() {
        "Public (SPA or native)"
    } else {
        "Web app"
    }
}

const PAGE: i64 = 50;

pub async fn clients(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    PageQuery(q): PageQuery<ListQuery>,
) -> Result<Response, PageError> {
    let c = admin_or_leave!(gate(&state, &session, address, "/admin/clients", None));
    let search = q.q.unwrap_or_default();
    let mut found = state
        .store
        .search_clients(
            Some(search.trim()).filter(|s| !s.is_empty()),
            q.cursor.as_deref(),
            PAGE + 1,
        )
        .await?;
    let next = split_page(&mut found, PAGE, |c| c.id.clone());
    Ok(page(&ClientsPage {
        me: &c.user.username,
        csrf: &c.csrf,
        registration: state.config.dynamic_registration,
        q: &search,
        clients: found
            .iter()
            .map(|cl| ClientLine {
                id: cl.id.clone(),
                name: cl.name.clone(),
                kind: kind_of(cl),
                redirect: cl.redirect_uris.first().cloned().unwrap_or_default(),
            })
            .collect(),
        next,
    }))
}

#[derive(Template)]
#[template(path = "admin/registration_token.html")]
struct RegistrationTokenPage<'a> {
    me: &'a str,
    token: &'a str,
    register_url: String,
}

/// An initial access token for one dynamic registration (RFC 7591 §3), shown once.
pub async fn registration_token(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    PageForm(form): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    let c = admin_or_leave!(gate(
        &state,
        &session,
        address,
        "/admin/clients",
        Some(&form.csrf)
    ));
    if !state.config.dynamic_registration {
        return Err(PageError::bad_request("Dynamic registration is off."));
    }
    let token = admin::registration::issue_token(&state.store, state.now(), c.actor(), 86400)
        .await
        .map_err(admin_error)?;
    Ok(page(&RegistrationTokenPage {
        me: &c.user.username,
        token: &token,
        register_url: format!("{}{}", state.issuer(), ep::REGISTER),
    }))
}

/// The four kinds of app the wizard knows, with the defaults each needs (RFC 9700 §2.1.1,
/// RFC 8252 §7.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AppType {
    Web,
    Spa,
    Native,
    Machine,
}

impl AppType {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "web" => Some(Self::Web),
            "spa" => Some(Self::Spa),
            "native" => Some(Self::Native),
            "machine" => Some(Self::Machine),
            _ => None,
        }
    }

    fn key(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Spa => "spa",
            Self::Native => "native",
            Self::Machine => "machine",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::Web => "Web app",
            Self::Spa => "Single-page app",
            Self::Native => "Native app",
            Self::Machine => "Machine-to-machine",
        }
    }

    fn help(self) -> &'static str {
        match self {
            Self::Web => {
                "A server-side app that can keep a secret. Signs people in with the code flow and PKCE, and gets refresh tokens."
            }
            Self::Spa => {
                "Runs in the browser and cannot keep a secret: a public client with PKCE. Its redirect URIs' origins may call the token endpoint."
            }
            Self::Native => {
                "A desktop or mobile app: a public client with PKCE. Loopback redirect URIs may use any port (RFC 8252)."
            }
            Self::Machine => {
                "A service acting for itself with the client credentials grant: no browser, no users. Give it the API scopes it may ask for."
            }
        }
    }

    fn public(self) -> bool {
        matches!(self, Self::Spa | Self::Native)
    }

    fn grants(self) -> Vec<String> {
        match self {
            Self::Machine => vec!["client_credentials".into()],
            _ => vec!["authorization_code".into(), "refresh_token".into()],
        }
    }

    fn example_redirect(self) -> &'static str {
        match self {
            Self::Web => "https://app.example.com/callback",
            Self::Spa => "https://spa.example.com/callback",
            Self::Native => "http://127.0.0.1/callback",
            Self::Machine => "",
        }
    }

    const ALL: [Self; 4] = [Self::Web, Self::Spa, Self::Native, Self::Machine];
}

struct TypeChoice {
    key: &'static str,
    title: &'static str,
    help: &'static str,
}

/// The client form, as shown and as posted back.
#[derive(Default)]
struct ClientFields {
    name: String,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    scope: String,
    audiences: String,
    skip_consent: bool,
    require_mfa: bool,
    require_par: bool,
    dpop_bound: bool,
    backchannel_logout_uri: String,
}

impl ClientFields {
    fn of(c: &Client) -> Self {
        Self {
            name: c.name.clone(),
            redirect_uris: c.redirect_uris.join("\n"),
            post_logout_redirect_uris: c.post_logout_redirect_uris.join("\n"),
            scope: c
                .allowed_scopes
                .as_ref()
                .map(|s| s.join(" "))
                .unwrap_or_default(),
            audiences: c.audiences.join("\n"),
            skip_consent: c.skip_consent,
            require_mfa: c.require_mfa,
            require_par: c.require_par,
            dpop_bound: c.dpop_bound,
            backchannel_logout_uri: c.backchannel_logout_uri.clone().unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/client_new.html")]
struct NewClientPage<'a> {
    me: &'a str,
    csrf: &'a str,
    types: Vec<TypeChoice>,
    chosen: Option<TypeChoice>,
    machine: bool,
    example_redirect: &'a str,
    fields: ClientFields,
    error: Option<(String, String)>,
}

#[derive(Deserialize)]
pub struct NewQuery {
    r#type: Option<String>,
}

fn choice(t: AppType) -> TypeChoice {
    TypeChoice {
        key: t.key(),
        title: t.title(),
        help: t.help(),
    }
}

fn new_client_page(
    me: &str,
    csrf: &str,
    t: Option<AppType>,
    fields: ClientFields,
    error: Option<(String, String)>,
) -> Response {
    let mut resp = page(&NewClientPage {
        me,
        csrf,
        types: AppType::ALL.into_iter().map(choice).collect(),
        chosen: t.map(choice),
        machine: t == Some(AppType::Machine),
        example_redirect: t.map(AppType::example_redirect).unwrap_or(""),
        fields,
        error: error.clone(),
    });
    if error.is_some() {
        *resp.status_mut() = StatusCode::BAD_REQUEST;
    }
    resp
}

pub async fn new_client(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    PageQuery(q): PageQuery<NewQuery>,
) -> Result<Response, PageError> {
    let c = admin_or_leave!(gate(&state, &session, address, "/admin/clients/new", None));
    let t = q.r#type.as_deref().and_then(AppType::parse);
    let mut fields = ClientFields::default();
    if let Some(t) = t {
        fields.redirect_uris = String::new();
        fields.scope = if t == AppType::Machine {
            String::new()
        } else {
            "openid profile email offline_access".into()
        };
    }
    Ok(new_client_page(&c.user.username, &c.csrf, t, fields, None))
}

#[derive(Deserialize)]
pub struct ClientForm {
    csrf: String,
    r#type: Option<String>,
    name: String,
    #[serde(default)]
    redirect_uris: String,
    #[serde(default)]
    post_logout_redirect_uris: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    audiences: String,
    skip_consent: Option<String>,
    require_mfa: Option<String>,
    require_par: Option<String>,
    dpop_bound: Option<String>,
    #[serde(default)]
    backchannel_logout_uri: String,
    /// The revision the form was made from (edits only).
    revision: Option<i64>,
}

fn lines(s: &str) -> Vec<String> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

impl ClientForm {
    fn fields(&self) -> ClientFields {
        ClientFields {
            name: self.name.clone(),
            redirect_uris: self.redirect_uris.clone(),
            post_logout_redirect_uris: self.post_logout_redirect_uris.clone(),
            scope: self.scope.clone(),
            audiences: self.audiences.clone(),
            skip_consent: self.skip_consent.is_some(),
            require_mfa: self.require_mfa.is_some(),
            require_par: self.require_par.is_some(),
            dpop_bound: self.dpop_bound.is_some(),
            backchannel_logout_uri: self.backchannel_logout_uri.clone(),
        }
    }

    fn changes(&self) -> ClientChanges {
        let scope: Vec<String> = self.scope.split_whitespace().map(str::to_owned).collect();
        ClientChanges {
            name: Some(self.name.clone()),
            redirect_uris: Some(lines(&self.redirect_uris)),
            post_logout_redirect_uris: Some(lines(&self.post_logout_redirect_uris)),
            audiences: Some(lines(&self.audiences)),
            allowed_scopes: Some((!scope.is_empty()).then_some(scope)),
            skip_consent: Some(self.skip_consent.is_some()),
            require_mfa: Some(self.require_mfa.is_some()),
            require_par: Some(self.require_par.is_some()),
            dpop_bound: Some(self.dpop_bound.is_some()),
            backchannel_logout_uri: Some(
                Some(self.backchannel_logout_uri.trim().to_owned()).filter(|u| !u.is_empty()),
            ),
            ..ClientChanges::default()
        }
    }
}

/// A refused change, as the form shows it: (field, message).
fn form_error(e: &AdminError) -> Option<(String, String)> {
    match e {
        AdminError::Invalid(m) => Some((m.field.to_owned(), m.message.clone())),
        AdminError::InvalidField { field, message } => {
            Some(((*field).to_owned(), message.clone()))
        }
        AdminError::Conflict(what) => Some(("form".into(), what.clone())),
        AdminError::Stale => Some((
            "form".into(),
            "Someone changed this client since you opened the page. Reload it and make your change again.".into(),
        )),
        AdminError::NotFound | AdminError::Store(_) => None,
    }
}

fn admin_error(e: AdminError) -> PageError {
    match e {
        AdminError::NotFound => PageError {
            status: StatusCode::NOT_FOUND,
            title: "error-not-found-title",
            message: "error-not-found".into(),
        },
        AdminError::Store(e) => e.into(),
        e => PageError::bad_request(e.to_string()),
    }
}

#[derive(Template)]
#[template(path = "admin/secret.html")]
struct SecretPage<'a> {
    me: &'a str,
    client_id: &'a str,
    client_name: &'a str,
    secret: Option<&'a str>,
    created: bool,
}

fn secret_page(me: &str, c: &Client, secret: Option<&str>, created: bool) -> Response {
    page(&SecretPage {
        me,
        client_id: &c.id,
        client_name: &c.name,
        secret,
        created,
    })
}

pub async fn create_client(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    PageForm(form): PageForm<ClientForm>,
) -> Result<Response, PageError> {
    let c = admin_or_leave!(gate(
        &state,
        &session,
        address,
        "/admin/clients/new",
        Some(&form.csrf)
    ));
    let Some(t) = form.r#type.as_deref().and_then(AppType::parse) else {
        return Err(PageError::bad_request("Choose the kind of app first."));
    };
    let mut changes = form.changes();
    changes.grant_types = Some(t.grants());
    let created = admin::clients::create(
        &state.store,
        &state.config.signing_algs,
        state.now(),
        c.actor(),
        admin::clients::NewClient {
            public: t.public(),
            changes,
            ..Default::default()
        },
    )
    .await;
    match created {
        Ok((client, secret)) => Ok(secret_page(
            &c.user.username,
            &client,
            secret.as_ref().map(|s| s.0.as_str()),
            true,
        )),
        Err(e) => match form_error(&e) {
            Some(err) => Ok(new_client_page(
                &c.user.username,
                &c.csrf,
                Some(t),
                form.fields(),
                Some(err),
            )),
            None => Err(admin_error(e)),
        },
    }
}

#[derive(Template)]
#[template(path = "admin/client.html")]
struct ClientPage<'a> {
    me: &'a str,
    csrf: &'a str,
    client: &'a Client,
    kind: &'static str,
    registered: String,
    grants: Vec<&'static str>,
    /// No browser sign-in: the redirect and consent settings do not apply.
    machine: bool,
    example_redirect: &'static str,
    fields: ClientFields,
    error: Option<(String, String)>,
    saved: bool,
    findings: Vec<crate::domain::posture::Finding>,
    /// The playground's callback is registered on this client.
    playground: bool,
}

#[derive(Deserialize)]
pub struct ClientQuery {
    saved: Option<String>,
}

async fn stored_client(state: &AppState, id: &str) -> Result<Client, PageError> {
    state
        .store
        .find_client_fresh(id)
        .await?
        .ok_or_else(|| admin_error(AdminError::NotFound))
}

fn client_page(
    state: &AppState,
    c: &Console,
    client: &Client,
    uses: &[(String, i64)],
    fields: ClientFields,
    error: Option<(String, String)>,
    saved: bool,
) -> Response {
    let mut resp = page(&ClientPage {
        me: &c.user.username,
        csrf: &c.csrf,
        client,
        kind: kind_of(client),
        registered: when(Some(client.created_at)),
        grants: client.grant_types.iter().map(|g| g.as_str()).collect(),
        machine: !client.allows_grant(GrantType::AuthorizationCode),
        example_redirect: "",
        fields,
        error: error.clone(),
        saved,
        playground: client.redirect_uris.contains(&playground_callback(state)),
        findings: crate::domain::posture::posture(
            client,
            state.now(),
            state.config.refresh_token_ttl,
            url::Url::parse(state.issuer())
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .as_deref()
                .unwrap_or(""),
            uses,
        ),
    });
    if error.is_some() {
        *resp.status_mut() = StatusCode::BAD_REQUEST;
    }
    resp
}

pub async fn client(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    Path(id): Path<String>,
    PageQuery(q): PageQuery<ClientQuery>,
) -> Result<Response, PageError> {
    let path = format!("/admin/clients/{id}");
    let c = admin_or_leave!(gate(&state, &session, address, &path, None));
    let client = stored_client(&state, &id).await?;
    let uses = state.store.redirect_uses(&id).await?;
    Ok(client_page(
        &state,
        &c,
        &client,
        &uses,
        ClientFields::of(&client),
        None,
        q.saved.is_some(),
    ))
}

pub async fn update_client(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    Path(id): Path<String>,
    PageForm(form): PageForm<ClientForm>,
) -> Result<Response, PageError> {
    let path = format!("/admin/clients/{id}");
    let c = admin_or_leave!(gate(&state, &session, address, &path, Some(&form.csrf)));
    // The revision the form was made from: an edit from an old page never overwrites.
    let Some(revision) = form.revision else {
        return Err(PageError::bad_request("The form was incomplete."));
    };
    match admin::clients::update(
        &state.store,
        &state.config.signing_algs,
        c.actor(),
        &id,
        Some(revision),
        form.changes(),
    )
    .await
    {
        Ok(_) => Ok(see_other(&format!("{path}?saved=1"))),
        Err(e) => match form_error(&e) {
            Some(err) => {
                let client = stored_client(&state, &id).await?;
                let uses = state.store.redirect_uses(&id).await?;
                Ok(client_page(
                    &state,
                    &c,
                    &client,
                    &uses,
                    form.fields(),
                    Some(err),
                    false,
                ))
            }
            None => Err(admin_error(e)),
        },
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

pub async fn rotate_secret(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    Path(id): Path<String>,
    PageForm(form): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    let c = admin_or_leave!(gate(
        &state,
        &session,
        address,
        &format!("/admin/clients/{id}"),
        Some(&form.csrf)
    ));
    let (client, secret) =
        admin::clients::rotate_secret(&state.store, state.now(), c.actor(), &id, None, None)
            .await
            .map_err(admin_error)?;
    Ok(secret_page(
        &c.user.username,
        &client,
        Some(&secret.0),
        false,
    ))
}

#[derive(Template)]
#[template(path = "admin/confirm.html")]
struct ConfirmPage<'a> {
    me: &'a str,
    csrf: &'a str,
    title: String,
    message: String,
    action: String,
    button: &'a str,
    back: String,
}

pub async fn confirm_delete_client(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let back = format!("/admin/clients/{id}");
    let c = admin_or_leave!(gate(&state, &session, address, &back, None));
    let client = stored_client(&state, &id).await?;
    Ok(page(&ConfirmPage {
        me: &c.user.username,
        csrf: &c.csrf,
        title: format!("Delete {}?", client.name),
        message: "The app can no longer sign anyone in, and every token issued to it stops working at once. This cannot be undone.".into(),
        action: format!("/admin/clients/{id}/delete"),
        button: "Delete client",
        back,
    }))
}

pub async fn delete_client(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    Path(id): Path<String>,
    PageForm(form): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    let c = admin_or_leave!(gate(
        &state,
        &session,
        address,
        &format!("/admin/clients/{id}/delete"),
        Some(&form.csrf)
    ));
    admin::clients::delete(&state.store, c.actor(), &id, None)
        .await
        .map_err(admin_error)?;
    Ok(see_other("/admin/clients"))
}

// ---- playground ----

/// Where the playground's code flow comes back to.
fn playground_callback(state: &AppState) -> String {
    format!("{}/admin/playground/callback", state.issuer())
}

/// One click: add the console's callback to the client, and run a real code flow with PKCE as
/// the signed-in admin.
pub async fn start_playground(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    Path(id): Path<String>,
    PageForm(form): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    let c = admin_or_leave!(gate(
        &state,
        &session,
        address,
        &format!("/admin/clients/{id}"),
        Some(&form.csrf)
    ));
    let client = stored_client(&state, &id).await?;
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Err(PageError::bad_request(
            "The playground needs a client that signs people in (the authorization code grant).",
        ));
    }
    let callback = playground_callback(&state);
    if !client.redirect_uris.contains(&callback) {
        let mut uris = client.redirect_uris.clone();
        uris.push(callback.clone());
        admin::clients::update(
            &state.store,
            &state.config.signing_algs,
            c.actor(),
            &id,
            None,
            ClientChanges {
                redirect_uris: Some(uris),
                ..ClientChanges::default()
            },
        )
        .await
        .map_err(admin_error)?;
    }
    let run = super::extract::PlaygroundRun {
        client_id: id.clone(),
        state: crate::crypto::random_token(),
        verifier: crate::crypto::random_token(),
        nonce: crate::crypto::random_token(),
    };
    LoginSession(&session).set_playground(&run).await?;
    let scope: Vec<&str> = ["openid", "profile", "email"]
        .into_iter()
        .filter(|s| {
            *s == "openid"
                || client
                    .allowed_scopes
                    .as_ref()
                    .is_none_or(|a| a.iter().any(|x| x == s))
        })
        .collect();
    let challenge = crate::oauth::pkce::s256_challenge(&run.verifier);
    let query = serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", id.as_str()),
        ("redirect_uri", callback.as_str()),
        ("scope", &scope.join(" ")),
        ("state", run.state.as_str()),
        ("nonce", run.nonce.as_str()),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ])
    .map_err(PageError::internal)?;
    Ok(see_other(&format!("{}?{query}", ep::AUTHORIZE)))
}

#[derive(Template)]
#[template(path = "admin/playground.html")]
struct PlaygroundPage<'a> {
    me: &'a str,
    csrf: &'a str,
    client: &'a Client,
    id_token: String,
    access_token: String,
    userinfo: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// A JWT's header and claims, pretty-printed (it was just issued here and is shown, not trusted).
fn decoded(jwt: &str) -> String {
    let part = |i: usize| {
        jwt.split('.')
            .nth(i)
            .and_then(crate::crypto::b64url_decode)
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .unwrap_or_default()
    };
    serde_json::to_string_pretty(&serde_json::json!({ "header": part(0), "claims": part(1) }))
        .unwrap_or_default()
}

/// The flow comes back: the code is exchanged for the client (the console cannot know a
/// secret it only holds the hash of, so it redeems the code as the client, through the same
/// grant code), and the tokens and userinfo are shown side by side.
pub async fn playground_callback_page(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    PageQuery(q): PageQuery<CallbackQuery>,
) -> Result<Response, PageError> {
    let c = admin_or_leave!(gate(
        &state,
        &session,
        address.clone(),
        "/admin/clients",
        None
    ));
    let ls = LoginSession(&session);
    let run = match ls.playground().await? {
        Some(run) if q.state.as_deref() == Some(run.state.as_str()) => {
            ls.take_playground().await?;
            run
        }
        _ => {
            return Err(PageError::bad_request(
                "No playground run is waiting for this answer: start one from a client's page.",
            ));
        }
    };
    let client = stored_client(&state, &run.client_id).await?;
    let show = |id_token: String, access_token: String, userinfo: String, error: Option<String>| {
        page(&PlaygroundPage {
            me: &c.user.username,
            csrf: &c.csrf,
            client: &client,
            id_token,
            access_token,
            userinfo,
            error,
        })
    };
    if q.state.as_deref() != Some(run.state.as_str()) {
        return Err(PageError::bad_request(
            "The playground's state did not match.",
        ));
    }
    let Some(code) = q.code else {
        let why = format!(
            "{}: {}",
            q.error.unwrap_or_else(|| "error".into()),
            q.error_description.unwrap_or_default()
        );
        return Ok(show(String::new(), String::new(), String::new(), Some(why)));
    };
    let params = crate::oauth::authorize::Params::from_pairs([
        ("grant_type".to_owned(), "authorization_code".to_owned()),
        ("code".to_owned(), code),
        ("redirect_uri".to_owned(), playground_callback(&state)),
        ("code_verifier".to_owned(), run.verifier.clone()),
    ]);
    let tokens = match crate::oauth::token::grant(
        state.token_issuer(&address, None),
        &client,
        &params,
    )
    .await
    {
        Ok(t) => t,
        Err(e) => {
            return Ok(show(
                String::new(),
                String::new(),
                String::new(),
                Some(e.to_string()),
            ));
        }
    };
    let userinfo = match crate::oauth::userinfo::userinfo(
        &state.store,
        &state.keys,
        state.issuer(),
        state.now(),
        &tokens.access_token,
        None,
    )
    .await
    {
        Ok(v) => serde_json::to_string_pretty(&v).unwrap_or_default(),
        Err(e) => format!("userinfo refused: {e}"),
    };
    Ok(show(
        tokens.id_token.as_deref().map(decoded).unwrap_or_default(),
        decoded(&tokens.access_token),
        userinfo,
        None,
    ))
}

/// The other click: the console's callback leaves the client again.
pub async fn stop_playground(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    Path(id): Path<String>,
    PageForm(form): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    let path = format!("/admin/clients/{id}");
    let c = admin_or_leave!(gate(&state, &session, address, &path, Some(&form.csrf)));
    let client = stored_client(&state, &id).await?;
    let callback = playground_callback(&state);
    if client.redirect_uris.contains(&callback) {
        let uris: Vec<String> = client
            .redirect_uris
            .iter()
            .filter(|u| **u != callback)
            .cloned()
            .collect();
        admin::clients::update(
            &state.store,
            &state.config.signing_algs,
            c.actor(),
            &id,
            None,
            ClientChanges {
                redirect_uris: Some(uris),
                ..ClientChanges::default()
            },
        )
        .await
        .map_err(admin_error)?;
    }
    Ok(see_other(&format!("{path}?saved=1")))
}

// ---- users ----

struct UserLine {
    id: String,
    username: String,
    name: String,
    email: String,
    disabled: bool,
    admin: bool,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage<'a> {
    me: &'a str,
    csrf: &'a str,
    q: &'a str,
    users: Vec<UserLine>,
    next: Option<String>,
    error: Option<(String, String)>,
    new_username: &'a str,
    new_email: &'a str,
    /// Mail is on: people can be invited.
    mail: bool,
    /// The password policy's minimum, for the hint.
    min_length: usize,
    invited: bool,
}

pub async fn users(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    PageQuery(q): PageQuery<ListQuery>,
) -> Result<Response, PageError> {
    let c = admin_or_leave!(gate(&state, &session, address, "/admin/users", None));
    let search = q.q.unwrap_or_default();
    let invited = q.invited.is_some();
    users_page_with(
        &state,
        &c,
        &search,
        q.cursor.as_deref(),
        None,
        ("", ""),
        invited,
    )
    .await
}

#[derive(Deserialize)]
pub struct InviteForm {
    csrf: String,
    email: String,
}

/// Mails someone a link to create their own account (`gatehouse user invite`).
pub async fn invite_user(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    PageForm(form): PageForm<InviteForm>,
) -> Result<Response, PageError> {
    let c = admin_or_leave!(gate(
        &state,
        &session,
        address,
        "/admin/users",
        Some(&form.csrf)
    ));
    let Some(out) = state.outbound() else {
        return Err(admin_error(AdminError::NotFound));
    };
    match admin::users::invite(&state.store, out, state.now(), c.actor(), &form.email).await {
        Ok(()) => Ok(see_other("/admin/users?invited=1")),
        Err(e) => match form_error(&e) {
            Some(err) => users_page(&state, &c, "", None, Some(err), ("", "")).await,
            None => Err(admin_error(e)),
        },
    }
}

async fn users_page(
    state: &AppState,
    c: &Console,
    search: &str,
    cursor: Option<&str>,
    error: Option<(String, String)>,
    new: (&str, &str),
) -> Result<Response, PageError> {
    users_page_with(state, c, search, cursor, error, new, false).await
}

async fn users_page_with(
    state: &AppState,
    c: &Console,
    search: &str,
    cursor: Option<&str>,
    error: Option<(String, String)>,
    (new_username, new_email): (&str, &str),
    invited: bool,
) -> Result<Response, PageError> {
    let mut found = state
        .store
        .search_users(
            Some(search.trim()).filter(|s| !s.is_empty()),
            cursor,
            PAGE + 1,
        )
        .await?;
    let next = split_page(&mut found, PAGE, |(u, _)| u.username.clone());
    let bad = error.is_some();
    let mut resp = page(&UsersPage {
        me: &c.user.username,
        csrf: &c.csrf,
        q: search,
        users: found
            .into_iter()
            .map(|(u, admin)| UserLine {
                id: u.id,
                username: u.username,
                name: u.name.unwrap_or_default(),
                email: u.email.unwrap_or_default(),
                disabled: u.disabled,
                admin,
            })
            .collect(),
        next,
        error,
        new_username,
        new_email,
        mail: state.mail.is_some(),
        min_length: state.hasher.policy().min_chars(),
        invited,
    });
    if bad {
        *resp.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(resp)
}

#[derive(Deserialize)]
pub struct NewUserForm {
    csrf: String,
    username: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    password: String,
    admin: Option<String>,
}

pub async fn create_user(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    PageForm(form): PageForm<NewUserForm>,
) -> Result<Response, PageError> {
    let c = admin_or_leave!(gate(
        &state,
        &session,
        address,
        "/admin/users",
        Some(&form.csrf)
    ));
    let email = Some(form.email.trim()).filter(|e| !e.is_empty());
    let name = Some(form.name.trim()).filter(|n| !n.is_empty());
    let created = admin::users::create(
        &state.store,
        &state.hasher,
        state.outbound(),
        state.now(),
        c.actor(),
        admin::users::NewAccount {
            username: form.username.trim(),
            email,
            name,
            password: &form.password,
            admin: form.admin.is_some(),
            email_verified: false,
        },
    )
    .await;
    match created {
        Ok(u) => Ok(see_other(&format!("/admin/users/{}", u.id))),
        Err(e) => match form_error(&e) {
            Some(err) => {
                users_page(
                    &state,
                    &c,
                    "",
                    None,
                    Some(err),
                    (&form.username, &form.email),
                )
                .await
            }
            None => Err(admin_error(e)),
        },
    }
}

struct SessionLine {
    signed_in: String,
    expires: String,
}

#[derive(Template)]
#[template(path = "admin/user.html")]
struct UserPage<'a> {
    me: &'a str,
    csrf: &'a str,
    user: &'a User,
    admin: bool,
    totp: bool,
    passkeys: i64,
    recovery_codes: i64,
    sessions: Vec<SessionLine>,
    apps: Vec<(String, String)>,
    access: crate::domain::Access,
    min_length: usize,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    done: Option<String>,
}

async fn user_page(
    state: &AppState,
    c: &Console,
    id: &str,
    notice: Option<String>,
    error: Option<String>,
) -> Result<Response, PageError> {
    let user = state
        .store
        .find_user(id)
        .await?
        .ok_or_else(|| admin_error(AdminError::NotFound))?;
    let f = state.store.factor_summary(id).await?;
    let sessions = state
        .store
        .list_user_sessions(id, state.now())
        .await?
        .into_iter()
        .map(|(_, signed_in, expires)| SessionLine {
            signed_in: when(signed_in),
            expires: when(Some(expires)),
        })
        .collect();
    let apps = state
        .store
        .list_consents(id)
        .await?
        .into_iter()
        .map(|(client_id, name, _, _)| (client_id, name))
        .collect();
    let bad = error.is_some();
    let mut resp = page(&UserPage {
        me: &c.user.username,
        csrf: &c.csrf,
        admin: state.store.user_is_admin(id).await?,
        user: &user,
        totp: f.totp,
        passkeys: f.passkeys,
        recovery_codes: f.recovery_codes,
        sessions,
        apps,
        access: state.store.user_access(id).await?,
        min_length: state.hasher.policy().min_chars(),
        notice,
        error,
    });
    if bad {
        *resp.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(resp)
}

pub async fn user(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    Path(id): Path<String>,
    PageQuery(q): PageQuery<NoticeQuery>,
) -> Result<Response, PageError> {
    let c = admin_or_leave!(gate(
        &state,
        &session,
        address,
        &format!("/admin/users/{id}"),
        None
    ));
    let notice = q.done.as_deref().and_then(done_message).map(str::to_owned);
    user_page(&state, &c, &id, notice, None).await
}

fn done_message(action: &str) -> Option<&'static str> {
    Some(match action {
        "disable" => "The user is disabled and signed out everywhere.",
        "enable" => "The user can sign in again.",
        "unlock" => "The sign-in back-off is cleared.",
        "reset-mfa" => {
            "Every second factor is removed; the user signs in with their password until they set up new ones."
        }
        "end-sessions" => "The user is signed out everywhere.",
        "grant-admin" => "The user is an administrator.",
        "revoke-admin" => "The user is no longer an administrator.",
        "password" => "The password is set; the user is signed out everywhere.",
        "revoke-app" => "The app's access is removed.",
        "add-role" | "remove-role" | "join-group" | "leave-group" => {
            "Their roles are changed. Their next token carries the change."
        }
        _ => return None,
    })
}

#[derive(Deserialize)]
pub struct UserActionForm {
    csrf: String,
    action: String,
    /// For `revoke-app`.
    client_id: Option<String>,
    /// For `delete`: the box that says they mean it.
    confirm: Option<String>,
    /// For `password`.
    password: Option<String>,
    /// For `add-role` and `remove-role`.
    role: Option<String>,
    /// For `join-group` and `leave-group`.
    group: Option<String>,
}

/// A role or group typed by name that does not exist is a mistake on the form, not a 404.
fn unknown_name(e: AdminError, field: &'static str, name: &str) -> AdminError {
    match e {
        AdminError::NotFound => AdminError::InvalidField {
            field,
            message: format!("There is no {field} {name}."),
        },
        e => e,
    }
}

pub async fn user_action(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    Path(id): Path<String>,
    PageForm(form): PageForm<UserActionForm>,
) -> Result<Response, PageError> {
    let path = format!("/admin/users/{id}");
    let c = admin_or_leave!(gate(&state, &session, address, &path, Some(&form.csrf)));
    let (store, now, actor) = (&state.store, state.now(), c.actor());
    let done = match form.action.as_str() {
        "disable" => admin::users::set_disabled(store, now, actor, &id, true).await,
        "enable" => admin::users::set_disabled(store, now, actor, &id, false).await,
        "unlock" => admin::users::unlock(store, actor, &id).await.map(|_| ()),
        "reset-mfa" => admin::users::reset_mfa(store, now, actor, &id)
            .await
            .map(|_| ()),
        "end-sessions" => admin::users::end_sessions(store, now, actor, &id, None)
            .await
            .map(|_| ()),
        "grant-admin" => admin::users::set_admin(store, actor, &id, true).await,
        "revoke-admin" => admin::users::set_admin(store, actor, &id, false).await,
        "password" => {
            let pw = form.password.as_deref().unwrap_or_default();
            admin::users::set_password(store, &state.hasher, now, actor, &id, pw)
                .await
                .map(|_| ())
        }
        "revoke-app" => {
            let client_id = form.client_id.as_deref().unwrap_or_default();
            admin::users::revoke_consent(store, now, actor, &id, client_id).await
        }
        "add-role" | "remove-role" => {
            let role = form.role.as_deref().unwrap_or_default().trim();
            let held = form.action == "add-role";
            admin::access::set_user_role(store, actor, &id, role, held)
                .await
                .map(|_| ())
                .map_err(|e| unknown_name(e, "role", role))
        }
        "join-group" | "leave-group" => {
            let group = form.group.as_deref().unwrap_or_default().trim();
            let member = form.action == "join-group";
            admin::access::set_group_member(store, actor, group, &id, member)
                .await
                .map(|_| ())
                .map_err(|e| unknown_name(e, "group", group))
        }
        "delete" if form.confirm.is_some() => {
            return match admin::users::delete(store, now, actor, &id, None).await {
                Ok(()) => Ok(see_other("/admin/users")),
                Err(AdminError::Conflict(w)) if w == crate::store::LAST_ADMIN => {
                    let message =
                        "This is the last administrator: give the role to someone else first.";
                    user_page(&state, &c, &id, None, Some(message.into())).await
                }
                Err(e) => Err(admin_error(e)),
            };
        }
        "delete" => Err(AdminError::InvalidField {
            field: "confirm",
            message: "Tick the box to confirm the deletion.".into(),
        }),
        _ => return Err(PageError::bad_request("Unknown action.")),
    };
    match done {
        Ok(()) => Ok(see_other(&format!("{path}?done={}", form.action))),
        Err(AdminError::NotFound) => Err(admin_error(AdminError::NotFound)),
        Err(AdminError::Store(e)) => Err(e.into()),
        Err(e) => {
            let message = match &e {
                AdminError::Conflict(w) if w == crate::store::LAST_ADMIN => {
                    "This is the last administrator: give the role to someone else first.".into()
                }
                AdminError::InvalidField { message, .. } => message.clone(),
                AdminError::Invalid(m) => m.message.clone(),
                AdminError::Conflict(w) => w.clone(),
                _ => "The change could not be made; reload the page and try again.".into(),
            };
            user_page(&state, &c, &id, None, Some(message)).await
        }
    }
}

// ---- keys ----

#[derive(Template)]
#[template(path = "admin/keys.html")]
struct KeysPage<'a> {
    me: &'a str,
    csrf: &'a str,
    keys: Vec<KeyLine>,
    period_days: i64,
    lead_hours: i64,
    notice: Option<&'a str>,
}

pub async fn keys(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    PageQuery(q): PageQuery<NoticeQuery>,
) -> Result<Response, PageError> {
    let c = admin_or_leave!(gate(&state, &session, address, "/admin/keys", None));
    state.keys.reload().await.map_err(PageError::internal)?;
    let policy = state.keys.policy();
    Ok(page(&KeysPage {
        me: &c.user.username,
        csrf: &c.csrf,
        keys: key_lines(&state),
        period_days: policy.period / 86400,
        lead_hours: policy.publish_lead / 3600,
        notice: match q.done.as_deref() {
            Some("rotate") => {
                Some("A new key is published for each algorithm; it signs after the publish lead.")
            }
            Some("revoke") => Some(
                "The key is revoked: it is gone from the JWKS and tokens it signed no longer verify.",
            ),
            _ => None,
        },
    }))
}

pub async fn rotate_keys(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    PageForm(form): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    let c = admin_or_leave!(gate(
        &state,
        &session,
        address,
        "/admin/keys",
        Some(&form.csrf)
    ));
    for alg in state.keys.algs().collect::<Vec<_>>() {
        state
            .keys
            .rotate(alg, state.now(), false, &c.actor)
            .await
            .map_err(PageError::internal)?;
    }
    Ok(see_other("/admin/keys?done=rotate"))
}

#[derive(Deserialize)]
pub struct RevokeKeyForm {
    csrf: String,
    confirm: Option<String>,
}

pub async fn revoke_key(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    Path(kid): Path<String>,
    PageForm(form): PageForm<RevokeKeyForm>,
) -> Result<Response, PageError> {
    let c = admin_or_leave!(gate(
        &state,
        &session,
        address,
        "/admin/keys",
        Some(&form.csrf)
    ));
    if form.confirm.is_none() {
        return Err(PageError::bad_request(
            "Tick the box to confirm that this key is compromised.",
        ));
    }
    match state.keys.revoke(&kid, state.now(), &c.actor).await {
        Ok(()) => Ok(see_other("/admin/keys?done=revoke")),
        Err(crate::keys::KeyError::UnknownKid(_)) => Err(admin_error(AdminError::NotFound)),
        Err(e) => Err(PageError::internal(e)),
    }
}

// ---- audit log ----

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage<'a> {
    me: &'a str,
    event: &'a str,
    actor: &'a str,
    target: &'a str,
    names: Vec<&'static str>,
    events: Vec<EventLine>,
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct AuditFilter {
    event: Option<String>,
    actor: Option<String>,
    target: Option<String>,
    cursor: Option<String>,
}

pub async fn audit(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    PageQuery(q): PageQuery<AuditFilter>,
) -> Result<Response, PageError> {
    let c = admin_or_leave!(gate(&state, &session, address, "/admin/audit", None));
    let given = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let event = given(&q.event).filter(|e| crate::audit::Event::parse(e).is_some());
    let mut rows = state
        .store
        .audit_events(&AuditQuery {
            event: event.clone(),
            actor: given(&q.actor),
            target: given(&q.target),
            before: given(&q.cursor),
            limit: PAGE + 1,
            ..Default::default()
        })
        .await?;
    let next = split_page(&mut rows, PAGE, |r| r.id.clone());
    Ok(page(&AuditPage {
        me: &c.user.username,
        event: event.as_deref().unwrap_or(""),
        actor: q.actor.as_deref().unwrap_or(""),
        target: q.target.as_deref().unwrap_or(""),
        names: crate::audit::Event::ALL
            .iter()
            .map(|e| e.as_str())
            .collect(),
        events: event_lines(rows),
        next,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Factor;

    fn auth(at: i64, factors: Vec<Factor>) -> Authentication {
        Authentication {
            user_id: "u".into(),
            auth_time: at,
            factors,
            login_flow: None,
        }
    }

    #[test]
    fn changes_need_a_recent_sign_in_with_every_factor() {
        let now = 10_000;
        let password = auth(now - RECENT_AUTH, vec![Factor::Password]);
        assert!(recent_enough(&password, false, now));
        assert!(
            !recent_enough(&password, true, now),
            "has a factor, used one"
        );
        let stale = auth(now - RECENT_AUTH - 1, vec![Factor::Password]);
        assert!(!recent_enough(&stale, false, now));
        let both = auth(now - 60, vec![Factor::Password, Factor::Totp]);
        assert!(recent_enough(&both, true, now));
    }

    #[test]
    fn the_wizard_gives_each_kind_of_app_its_defaults() {
        assert!(AppType::Spa.public() && AppType::Native.public());
        assert!(!AppType::Web.public() && !AppType::Machine.public());
        assert_eq!(AppType::Machine.grants(), ["client_credentials"]);
        assert!(
            AppType::Native
                .example_redirect()
                .starts_with("http://127.0.0.1")
        );
        for t in AppType::ALL {
            assert_eq!(AppType::parse(t.key()), Some(t));
        }
    }
}
