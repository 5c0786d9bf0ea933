//! Wires everything together: store, migrations, keys, state, router, listener, shutdown, and
//! the expiry sweeper. Nothing imports this but `main`, the CLI and tests.
use crate::accounts::device::DeviceKey;
use crate::accounts::mfa::FactorKey;
use crate::accounts::password::Hasher;
use crate::accounts::{self, NewUser};
use crate::clock::Clock;
use crate::config::Config;
use crate::crypto::{Secret, random_token};
use crate::keys::{Keystore, MasterKey, Policy};
use crate::store::Store;
use crate::web::{AppState, router};
use anyhow::Context;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

/// A built server, bound to its port, not yet serving.
pub struct App {
    listener: TcpListener,
    router: axum::Router,
    port: u16,
    store: Store,
    clock: Clock,
    /// Tokens issued from a code live this long, so its hash is kept as long to catch replays.
    keep_consumed_codes: i64,
    /// Seconds the audit log keeps an event.
    audit_retention: i64,
    keys: Arc<Keystore>,
    limits: crate::server::Limits,
    replay_window: i64,
    session_ttl: i64,
    /// `GATEHOUSE_METRICS_BIND`'s listener, when metrics are on.
    metrics: Option<TcpListener>,
    /// The mail sender's, when mail is configured.
    mail: Option<Arc<crate::mail::Mail>>,
    logouts: crate::oauth::backchannel::Sender,
}

/// Connects to the configured database and applies migrations. Audit events emitted through
/// the store reach the SQL audit log, stamped by `clock`.
pub async fn open_store(config: &Config, clock: &Clock) -> anyhow::Result<Store> {
    let url = config.database_url();
    let store = Store::connect(&url)
        .await
        .context("cannot open the database")?;
    store
        .migrate()
        .await
        .context("cannot apply database migrations")?;
    Ok(store.with_journal(clock.clone()))
}

impl App {
    pub async fn build(config: Config, clock: Clock) -> anyhow::Result<Self> {
        config
            .validate()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        let listener = TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("cannot listen on {}", config.bind))?;
        Self::build_with_listener(config, clock, listener).await
    }

    /// As `build`, on a listener bound by the caller (tests bind port 0 to learn the issuer).
    pub async fn build_with_listener(
        config: Config,
        clock: Clock,
        listener: TcpListener,
    ) -> anyhow::Result<Self> {
        config
            .validate()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        let store = {
            let clock = clock.clone();
            open_store(&config, &clock)
                .await?
                .with_client_cache(config.key_refresh_interval, {
                    let clock = clock.clone();
                    move || clock.now()
                })
                .with_read_caches(config.standing_cache_ttl, move || clock.now())
        };
        if let Some(path) = &config.clients_file {
            let changes = crate::admin::apply::apply_file(
                &store,
                path,
                &config.signing_algs,
                clock.now(),
                false,
            )
            .await
            .with_context(|| format!("cannot apply the clients file {}", path.display()))?;
            tracing::info!(changes = changes.len(), file = %path.display(), "clients file applied");
        }
        let has_keys = !store.list_signing_keys().await?.is_empty();
        let master = MasterKey::load_or_create(&config, !has_keys)?;
        let devices = DeviceKey::new(master.derive(b"gatehouse device cookie v1"));
        let factors = FactorKey::new(master.derive(b"gatehouse second factor v1"));
        let mail =
            crate::mail::Mail::from_master(&config, &master).context("invalid mail settings")?;
        let keys = Keystore::open(
            store.clone(),
            master,
            Policy::from_config(&config),
            clock.now(),
        )
        .await
        .context("cannot load the signing keys")?;
        let keys = Arc::new(keys);
        let port = listener.local_addr()?.port();
        let metrics = match config.metrics_bind {
            Some(addr) => {
                crate::metrics::install();
                Some(
                    TcpListener::bind(addr)
                        .await
                        .with_context(|| format!("cannot listen for metrics on {addr}"))?,
                )
            }
            None => None,
        };
        let keep_consumed_codes = config.access_token_ttl;
        let audit_retention = config.audit_retention_days.saturating_mul(86400);
        let limits = crate::server::Limits::from_config(&config);
        let replay_window = config.refresh_replay_window;
        let session_ttl = config.session_ttl;
        let hasher =
            Hasher::default().with_policy(crate::accounts::password::Policy::from_config(&config));
        let state = AppState::new(
            Arc::new(config),
            store.clone(),
            keys.clone(),
            clock.clone(),
            hasher,
            crate::web::AccountKeys {
                devices,
                factors,
                mail: mail.clone(),
            },
        );
        let logouts = crate::oauth::backchannel::Sender {
            store: store.clone(),
            keys: keys.clone(),
            outbound: state.client_keys.outbound().clone(),
            clock: clock.clone(),
            issuer: state.config.issuer.clone(),
        };
        Ok(Self {
            listener,
            router: router(state),
            logouts,
            port,
            store,
            clock,
            keep_consumed_codes,
            audit_retention,
            keys,
            limits,
            replay_window,
            session_ttl,
            metrics,
            mail,
        })
    }

    /// The metrics listener's port, when metrics are on.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.port())
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn keys(&self) -> &Arc<Keystore> {
        &self.keys
    }

    /// Serves until SIGTERM or Ctrl-C, letting in-flight requests finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `shutdown` completes, then drains in-flight requests.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let sweeper = tokio::spawn(sweep_expired(
            self.store.clone(),
            self.clock.clone(),
            self.keep_consumed_codes,
            self.replay_window,
            self.session_ttl,
            self.audit_retention,
        ));
        let rotator = tokio::spawn(maintain_keys(self.keys.clone(), self.clock.clone()));
        let mailer = self.mail.map(|mail| {
            tokio::spawn(crate::mail::run(
                mail,
                self.store.clone(),
                self.clock.clone(),
            ))
        });
        let logouts = tokio::spawn(crate::oauth::backchannel::run(self.logouts));
        let metrics = self.metrics.map(|listener| {
            let router = crate::web::metrics_router(self.store.clone(), self.clock.clone());
            tracing::info!(addr = ?listener.local_addr().ok(), "serving metrics");
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, router).await {
                    tracing::error!(error = %e, "metrics listener failed");
                }
            })
        });
        tracing::info!(port = self.port, "listening");
        let result = crate::server::serve(self.listener, self.router, self.limits, shutdown).await;
        sweeper.abort();
        rotator.abort();
        logouts.abort();
        if let Some(m) = mailer {
            m.abort();
        }
        if let Some(m) = metrics {
            m.abort();
        }
        self.store.close().await;
        tracing::info!("stopped");
        result
    }
}

async fn sweep_expired(
    store: Store,
    clock: Clock,
    keep_consumed_codes: i64,
    replay_window: i64,
    session_ttl: i64,
    audit_retention: i64,
) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tick.tick().await;
        let now = clock.now();
        let forget = now - crate::accounts::throttle::FORGET_AFTER;
        match store
            .delete_expired(now, keep_consumed_codes, forget, replay_window, session_ttl)
            .await
        {
            Ok(0) => crate::metrics::sweep(0, 0),
            Ok(n) => {
                crate::metrics::sweep(n, 0);
                tracing::debug!(rows = n, "expired rows deleted");
            }
            Err(e) => tracing::warn!(error = %e, "expiry sweep failed"),
        }
        match store.delete_old_audit(now - audit_retention).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(rows = n, "audit events past retention deleted"),
            Err(e) => tracing::warn!(error = %e, "audit retention sweep failed"),
        }
    }
}

/// Every refresh interval: perform due rotation steps (one replica at a time) and pick up what
/// other replicas changed.
async fn maintain_keys(keys: Arc<Keystore>, clock: Clock) {
    let every = std::time::Duration::from_secs(keys.policy().refresh_interval.max(1) as u64);
    // Start-up already loaded the keys; the first pass comes one interval later.
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    report_signing_key(&keys, clock.now());
    loop {
        tick.tick().await;
        if let Err(e) = keys.tick(clock.now()).await {
            tracing::error!(error = %e, "key maintenance failed; signing with the keys loaded before");
        }
        report_signing_key(&keys, clock.now());
    }
}

/// Each algorithm's signing key: its age and when it is due to be replaced, for the metrics.
fn report_signing_key(keys: &Keystore, now: i64) {
    let infos = keys.infos();
    for alg in keys.algs() {
        let current = infos
            .iter()
            .filter(|k| k.alg == alg && k.state == crate::domain::KeyState::Current)
            .filter_map(|k| k.activates_at)
            .max();
        if let Some(since) = current {
            crate::metrics::signing_key(
                alg.as_str(),
                now - since,
                since + keys.policy().period - now,
            );
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}

/// On a store with no users, creates `admin`. Returns the generated password (to be shown once)
/// when none was configured.
pub async fn ensure_admin(
    store: &Store,
    password: Option<&Secret>,
    now: i64,
) -> anyhow::Result<Option<String>> {
    if store.count_users().await? > 0 {
        return Ok(None);
    }
    let (pw, generated) = match password {
        Some(p) => (p.expose().to_owned(), false),
        None => (random_token(), true),
    };
    let created = accounts::create_user(
        store,
        &Hasher::default(),
        NewUser {
            username: "admin",
            email: None,
            email_verified: false,
            name: Some("Administrator"),
        },
        &pw,
        now,
    )
    .await;
    match created {
        Ok(user) => {
            store.set_user_admin(&user.id, true).await?;
            Ok(generated.then_some(pw))
        }
        // Another replica created it first.
        Err(accounts::AccountError::UsernameTaken) => Ok(None),
        Err(e) => Err(anyhow::anyhow!("cannot create the admin user: {e}")),
    }
}
