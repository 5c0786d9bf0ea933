//! The only module that knows HTTP: routing, extraction, rendering. Handlers parse, call one
//! `oauth`/`accounts` function and render.
mod account;
mod admin;
mod authorize;
mod consent;
mod console;
mod error;
mod extract;
mod factor;
pub mod i18n;
mod login;
mod logout;
mod middleware;
mod passkey;
mod recovery;
mod register;
mod security;
mod state;
mod templates;
mod token;
mod userinfo;
mod well_known;

pub use state::{AccountKeys, AppState};

use crate::oauth::endpoints as ep;
use axum::Router;
use axum::routing::{get, post};
use tower_http::limit::RequestBodyLimitLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

/// Largest body a protocol endpoint (token, revoke, introspect, userinfo, authorize) reads.
pub const PROTOCOL_BODY_LIMIT: usize = 64 * 1024;
/// Largest body a page form (login, consent, logout, account) reads.
pub const FORM_BODY_LIMIT: usize = 16 * 1024;

fn form_limit() -> RequestBodyLimitLayer {
    RequestBodyLimitLayer::new(FORM_BODY_LIMIT)
}

/// The whole route table.
pub fn router(state: AppState) -> Router {
    let https = state.config.is_https();
    let sessions = SessionManagerLayer::new(crate::store::SessionStore::new(
        state.store.clone(),
        state.clock.clone(),
    ))
    // SECURITY.md: HttpOnly, SameSite=Lax, Secure and `__Host-` when the issuer is https.
    .with_name(if https {
        "__Host-gatehouse"
    } else {
        "gatehouse"
    })
    .with_secure(https)
    .with_http_only(true)
    .with_same_site(SameSite::Lax)
    .with_path("/")
    .with_expiry(Expiry::OnInactivity(time::Duration::seconds(
        state.config.session_ttl,
    )));

    let pages = Router::new()
        .route("/", get(account::index))
        .route(
            ep::AUTHORIZE,
            get(authorize::authorize_get).post(authorize::authorize_post),
        )
        .route(
            ep::LOGIN,
            get(login::login_form)
                .post(login::login_submit)
                .layer(form_limit()),
        )
        .route(
            ep::CONSENT,
            get(consent::consent_form)
                .post(consent::consent_submit)
                .layer(form_limit()),
        )
        .route(
            ep::LOGIN_FACTOR,
            get(factor::factor_form)
                .post(factor::factor_submit)
                .layer(form_limit()),
        )
        .route(
            ep::LOGIN_HELP,
            get(factor::help).post(factor::give_up).layer(form_limit()),
        )
        .route(ep::LOGIN_CONTINUE, get(passkey::continue_flow))
        .route(
            ep::LOGIN_PASSKEY_OPTIONS,
            post(passkey::sign_in_options).layer(form_limit()),
        )
        .route(
            ep::LOGIN_PASSKEY,
            post(passkey::sign_in).layer(form_limit()),
        )
        .route(
            ep::LOGIN_FACTOR_PASSKEY_OPTIONS,
            post(passkey::factor_options).layer(form_limit()),
        )
        .route(
            ep::LOGIN_FACTOR_PASSKEY,
            post(passkey::factor).layer(form_limit()),
        )
        .route(
            ep::ACCOUNT_PASSKEYS_OPTIONS,
            post(passkey::registration_options).layer(form_limit()),
        )
        .route(
            ep::ACCOUNT_PASSKEYS,
            post(passkey::register).layer(form_limit()),
        )
        .route(
            ep::ACCOUNT_PASSKEYS_REMOVE,
            post(passkey::remove).layer(form_limit()),
        )
        .route(ep::ACCOUNT, get(account::account))
        .route(
            ep::ACCOUNT_TOTP,
            get(security::totp_form)
                .post(security::totp_confirm)
                .layer(form_limit()),
        )
        .route(
            ep::ACCOUNT_TOTP_REMOVE,
            post(security::totp_remove).layer(form_limit()),
        )
        .route(
            ep::ACCOUNT_RECOVERY_CODES,
            post(security::regenerate_codes).layer(form_limit()),
        )
        .route(
            ep::LOGOUT,
            get(logout::logout_get)
                .post(logout::logout_post)
                .layer(form_limit()),
        )
        .route(
            ep::ACCOUNT_PROFILE,
            post(account::update_profile).layer(form_limit()),
        )
        .route(
            ep::ACCOUNT_APPS_REVOKE,
            post(account::revoke_app).layer(form_limit()),
        )
        .route(
            ep::ACCOUNT_PASSWORD,
            get(recovery::password_form)
                .post(recovery::password_submit)
                .layer(form_limit()),
        )
        .route(
            ep::ACCOUNT_EMAIL,
            get(recovery::email_form)
                .post(recovery::email_submit)
                .layer(form_limit()),
        )
        .merge(mail_routes(state.mail.is_some(), state.signup_open()))
        .nest("/admin", console_routes())
        .route_layer(axum::middleware::from_fn(middleware::measure))
        .fallback(account::not_found)
        .with_state(state.clone());
    // Pages have a browser session and a language; the machine endpoints need neither, and
    // skip the cookie parsing and session bookkeeping on every call.
    let pages = tower::ServiceBuilder::new()
        .layer(axum::middleware::from_fn(middleware::session_save_failed))
        .layer(sessions)
        .layer(axum::middleware::from_fn(i18n::choose_locale))
        .service(pages);
    let routes = Router::new()
        .route(ep::REGISTER, post(register::register))
        .route(
            "/register/{client_id}",
            get(register::read)
                .put(register::replace)
                .delete(register::delete),
        )
        .route(ep::REVOKE, post(token::revoke))
        .route(ep::INTROSPECT, post(token::introspect))
        .route(ep::TOKEN, post(token::token))
        .route(ep::PAR, post(token::par))
        .route(
            ep::USERINFO,
            get(userinfo::userinfo_get).post(userinfo::userinfo_post),
        )
        .route(ep::DISCOVERY, get(well_known::discovery))
        .route(ep::JWKS, get(well_known::jwks))
        .route(ep::HEALTHZ, get(well_known::healthz))
        .route(ep::READYZ, get(well_known::readyz))
        .route(ep::STATIC_CSS, get(well_known::stylesheet))
        .route(ep::STATIC_FORM_POST_JS, get(well_known::form_post_script))
        .route(ep::STATIC_PASSKEY_JS, get(well_known::passkey_script))
        .route(ep::STATIC_CONSOLE_JS, get(well_known::console_script))
        .route_layer(axum::middleware::from_fn(middleware::measure))
        .with_state(state.clone())
        .fallback_service(admin_or_pages(admin::LazyApi::new(state.clone()), pages));
    // Applied around the route table rather than with `Router::layer`, which copies every
    // layer into each route and clones each copy per request: once per request is enough.
    let stack = tower::ServiceBuilder::new()
        .layer(axum::middleware::from_fn(middleware::request_span))
        .layer(axum::middleware::from_fn_with_state(
            https,
            middleware::security_headers,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::cors,
        ))
        .layer(axum::middleware::from_fn(middleware::uri_limit))
        // Every other body (the protocol endpoints) is capped here; pages cap lower above.
        .layer(RequestBodyLimitLayer::new(PROTOCOL_BODY_LIMIT))
        .map_request(|req: axum::http::Request<_>| req.map(axum::body::Body::new))
        .layer(axum::middleware::from_fn_with_state(
            std::time::Duration::from_secs(state.config.body_timeout.max(1) as u64),
            middleware::body_deadline,
        ))
        .service(routes);
    Router::new().fallback_service(stack)
}

/// What the route table does not match: the admin API (built on its first request, and
/// measuring its own routes by their patterns), else the pages.
fn admin_or_pages<P>(
    admin: admin::LazyApi,
    pages: P,
) -> impl tower::Service<
    axum::extract::Request,
    Response = axum::response::Response,
    Error = std::convert::Infallible,
    Future = impl Send,
> + Clone
+ Send
+ 'static
where
    P: tower::Service<
            axum::extract::Request,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    P::Future: Send,
{
    let root = format!("{}/", ep::ADMIN_API_ROOT);
    tower::service_fn(move |req: axum::extract::Request| {
        let admin = admin.clone();
        let pages = pages.clone();
        let to_admin = req.uri().path().starts_with(&root);
        async move {
            if to_admin {
                tower::ServiceExt::oneshot(admin, req).await
            } else {
                tower::ServiceExt::oneshot(pages, req).await
            }
        }
    })
}

/// The pages behind mailed links. Without mail they are not routed at all (so they answer
/// the usual 404), and the sign-up form only while sign-up is open.
fn mail_routes(mail: bool, signup: bool) -> Router<AppState> {
    let mut routes = Router::new();
    if !mail {
        return routes;
    }
    routes = routes
        .route(
            ep::LOGIN_FORGOT,
            get(recovery::forgot_form)
                .post(recovery::forgot_submit)
                .layer(form_limit()),
        )
        .route(
            ep::LOGIN_RESET,
            get(recovery::reset_form)
                .post(recovery::reset_submit)
                .layer(form_limit()),
        )
        .route(
            ep::ACCOUNT_VERIFY_EMAIL,
            get(recovery::verify_form)
                .post(recovery::verify_submit)
                .layer(form_limit()),
        )
        .route(
            ep::SIGNUP_COMPLETE,
            get(recovery::complete_form)
                .post(recovery::complete_submit)
                .layer(form_limit()),
        )
        .route(
            ep::ACCOUNT_EMAIL_RESEND,
            post(recovery::resend_verification).layer(form_limit()),
        );
    if signup {
        routes = routes.route(
            ep::SIGNUP,
            get(recovery::signup_form)
                .post(recovery::signup_submit)
                .layer(form_limit()),
        );
    }
    routes
}

/// The admin console's pages. Nothing they show may be kept by a cache: one shows a secret.
fn console_routes() -> Router<AppState> {
    Router::new()
        .route("/", get(console::dashboard))
        .route("/clients", get(console::clients))
        .route(
            "/clients/registration-token",
            post(console::registration_token).layer(form_limit()),
        )
        .route(
            "/clients/new",
            get(console::new_client)
                .post(console::create_client)
                .layer(form_limit()),
        )
        .route(
            "/clients/{id}",
            get(console::client)
                .post(console::update_client)
                .layer(form_limit()),
        )
        .route(
            "/clients/{id}/rotate-secret",
            post(console::rotate_secret).layer(form_limit()),
        )
        .route(
            "/clients/{id}/delete",
            get(console::confirm_delete_client)
                .post(console::delete_client)
                .layer(form_limit()),
        )
        .route(
            "/clients/{id}/playground",
            post(console::start_playground).layer(form_limit()),
        )
        .route(
            "/clients/{id}/playground/remove",
            post(console::stop_playground).layer(form_limit()),
        )
        .route(
            "/playground/callback",
            get(console::playground_callback_page),
        )
        .route("/users", get(console::users))
        .route("/users/new", post(console::create_user).layer(form_limit()))
        .route(
            "/users/invite",
            post(console::invite_user).layer(form_limit()),
        )
        .route("/users/{id}", get(console::user))
        .route(
            "/users/{id}/action",
            post(console::user_action).layer(form_limit()),
        )
        .route("/access", get(console::access::overview))
        .route(
            "/access/{id}",
            post(console::access::change).layer(form_limit()),
        )
        .route("/keys", get(console::keys))
        .route(
            "/keys/rotate",
            post(console::rotate_keys).layer(form_limit()),
        )
        .route(
            "/keys/{kid}/revoke",
            post(console::revoke_key).layer(form_limit()),
        )
        .route("/audit", get(console::audit))
        .layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("no-store"),
        ))
}

/// The metrics listener's routes: `/metrics` only, in the Prometheus text format. Pool and
/// backlog gauges are read at scrape time.
pub fn metrics_router(store: crate::store::Store, clock: crate::clock::Clock) -> Router {
    use axum::response::IntoResponse;
    let handle = crate::metrics::install();
    Router::new().route(
        "/metrics",
        get(move || {
            let (store, clock, handle) = (store.clone(), clock.clone(), handle.clone());
            async move {
                let Some(handle) = handle else {
                    return (
                        axum::http::StatusCode::SERVICE_UNAVAILABLE,
                        "metrics are off",
                    )
                        .into_response();
                };
                let (size, idle, max) = store.pool_stats();
                crate::metrics::pool(size, idle, max);
                match store.mail_backlog().await {
                    Ok((waiting, retrying)) => crate::metrics::mail_queue(waiting, retrying),
                    Err(e) => tracing::warn!(error = %e, "cannot count the mail queue"),
                }
                match store.logout_backlog().await {
                    Ok((waiting, retrying)) => {
                        crate::metrics::backchannel_logout_queue(waiting, retrying);
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot count the logout queue"),
                }
                match store.expired_backlog(clock.now()).await {
                    Ok(n) => crate::metrics::sweep(0, n),
                    Err(e) => tracing::warn!(error = %e, "cannot count the sweeper backlog"),
                }
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    handle.render(),
                )
                    .into_response()
            }
        }),
    )
}
