//! Outbound mail. A message is sealed under the master key into a queue in SQL; a sender task
//! delivers it over SMTP (lettre, rustls on aws-lc-rs) with retries and back-off. Any replica
//! may send: a message is claimed before it is sent, so each goes out once. No request waits
//! on the mail server, and a broken one is logged and retried, never a failed sign-in.
//! Imports `store`, `crypto`, `config`, `clock`.
pub mod message;

use crate::clock::Clock;
use crate::config::Config;
use crate::crypto;
use crate::store::{self, Store};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncTransport, Tokio1Executor};
pub use message::Message;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Messages the queue holds at most: past this, new ones are refused (and logged) rather than
/// letting a flood of requests fill the database.
pub const MAX_QUEUE: i64 = 10_000;
/// How long one SMTP command may wait for its answer.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a whole delivery may take: a server that stops answering mid-conversation must
/// not hold up the queue behind it.
const SEND_DEADLINE: Duration = Duration::from_secs(60);
/// The sender looks for due messages this often, besides being woken by a new one.
const POLL: Duration = Duration::from_secs(1);
/// A claimed message is another sender's to retry once this has passed (its sender died).
const LEASE: i64 = 120;
/// The first retry waits this long; each further one twice as long, up to `MAX_BACKOFF`.
const FIRST_BACKOFF: i64 = 30;
const MAX_BACKOFF: i64 = 30 * 60;

/// Why a mail setting or a delivery failed. Never carries the SMTP password.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("{0}")]
    Config(String),
    #[error("the message could not be built: {0}")]
    Build(String),
    /// The server refused for good (5xx): retrying cannot help.
    #[error("the mail server refused the message: {}", .0.detail)]
    Permanent(Failure),
    #[error("the mail server could not be reached or failed: {}", .0.detail)]
    Transient(Failure),
    #[error("the mail queue is full ({MAX_QUEUE} messages)")]
    QueueFull,
    #[error("store: {0}")]
    Store(#[from] store::Error),
}

/// A failed delivery: `detail` is the server's words, for the operator running
/// `gatehouse mail test`; `summary` (the reply code or the kind of failure) is what the logs
/// get, since replies often quote the recipient's address.
#[derive(Debug)]
pub struct Failure {
    pub summary: String,
    pub detail: String,
}

impl Failure {
    fn of(e: &lettre::transport::smtp::Error) -> Self {
        let summary = match e.status() {
            Some(code) => format!("reply {code}"),
            None if e.is_timeout() => "timeout".into(),
            None if e.is_tls() => "TLS".into(),
            None => "connection".into(),
        };
        Self {
            summary,
            detail: e.to_string(),
        }
    }

    fn new(summary: &str) -> Self {
        Self {
            summary: summary.into(),
            detail: summary.into(),
        }
    }
}

/// A bare address (`name@example.com`: no display name, no comments): what accounts store and
/// what their messages are sent to, so `email_verified` is about exactly that string.
pub fn is_address(s: &str) -> bool {
    s.len() <= 254 && s.parse::<lettre::Address>().is_ok()
}

/// How the connection is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    /// `smtp://`: STARTTLS, required.
    StartTls,
    /// `smtps://`: TLS from the first byte.
    Tls,
    /// `?tls=none`: plaintext, for a relay on this host only.
    None,
}

/// The parsed `GATEHOUSE_SMTP_*` settings.
#[derive(Debug)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    username: Option<String>,
    password: Option<crypto::Secret>,
    from: Mailbox,
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A URL's user name or password, percent-decoded (RFC 3986 §2.1; `+` stays `+`).
fn decode(s: &str) -> Result<String, MailError> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|v| v.into_owned())
        .map_err(|_| MailError::Config("SMTP URL credentials are not valid UTF-8".into()))
}

impl Settings {
    /// Parses the SMTP URL and its companions; `None` when mail is not configured.
    pub fn from_config(config: &Config) -> Result<Option<Self>, MailError> {
        let (Some(url), Some(from)) = (&config.smtp_url, &config.mail_from) else {
            return Ok(None);
        };
        let bad = |why: &str| MailError::Config(format!("GATEHOUSE_SMTP_URL: {why}"));
        let url = url::Url::parse(url.expose()).map_err(|_| bad("not a URL"))?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("no host"))?
            .to_owned();
        let mut tls = None;
        for (k, v) in url.query_pairs() {
            match (k.as_ref(), v.as_ref()) {
                ("tls", "required" | "none") if tls.is_none() => tls = Some(v.into_owned()),
                _ => return Err(bad("the only parameter is tls=required or tls=none")),
            }
        }
        let (security, default_port) = match (url.scheme(), tls.as_deref()) {
            ("smtp", None | Some("required")) => (Security::StartTls, 587),
            ("smtp", Some("none")) => (Security::None, 25),
            ("smtps", None | Some("required")) => (Security::Tls, 465),
            _ => return Err(bad("use smtp:// (STARTTLS) or smtps:// (TLS)")),
        };
        // Credentials and messages never cross a network in the clear.
        if security == Security::None && !is_loopback(&host) {
            return Err(bad(
                "tls=none is allowed for a mail server on this host only",
            ));
        }
        let (mut username, mut password) = (None, None);
        if !url.username().is_empty() {
            username = Some(decode(url.username())?);
        }
        if let Some(p) = url.password() {
            password = Some(crypto::Secret::new(decode(p)?));
        }
        if let Some(u) = &config.smtp_username {
            username = Some(u.clone());
        }
        if let Some(p) = &config.smtp_password {
            password = Some(p.clone());
        }
        if let Some(path) = &config.smtp_password_file {
            let p = std::fs::read_to_string(path)
                .map_err(|e| MailError::Config(format!("cannot read {}: {e}", path.display())))?;
            password = Some(crypto::Secret::new(p.trim_end_matches(['\r', '\n'])));
        }
        if password.is_some() && username.is_none() {
            return Err(MailError::Config(
                "an SMTP password needs a user name (in the URL or GATEHOUSE_SMTP_USERNAME)".into(),
            ));
        }
        let from: Mailbox = from.parse().map_err(|_| {
            MailError::Config(
                "GATEHOUSE_MAIL_FROM is not an address (e.g. `Sign-in <sign-in@example.com>`)"
                    .into(),
            )
        })?;
        Ok(Some(Self {
            host,
            port: url.port().unwrap_or(default_port),
            security,
            username,
            password,
            from,
        }))
    }
}

/// The configured mail server and the queue's key: what enqueues and what sends.
pub struct Mail {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// Seals queued messages: their links are secrets until used.
    key: [u8; 32],
    /// Host of the issuer: the message ids' domain and the EHLO name.
    domain: String,
    wake: Notify,
}

impl std::fmt::Debug for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mail").field("from", &self.from).finish()
    }
}

impl Mail {
    /// The mail handle with its queue key derived from the master key, as every process that
    /// queues or sends derives it; `None` when mail is not configured.
    pub fn from_master(
        config: &Config,
        master: &crate::keys::MasterKey,
    ) -> Result<Option<Arc<Self>>, MailError> {
        Self::from_config(config, master.derive(b"gatehouse mail v1"))
    }

    /// The mail handle, or `None` when mail is not configured. `key` seals the queue.
    pub fn from_config(config: &Config, key: [u8; 32]) -> Result<Option<Arc<Self>>, MailError> {
        let Some(settings) = Settings::from_config(config)? else {
            return Ok(None);
        };
        let domain = url::Url::parse(&config.issuer)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| "localhost".into());
        let tls = |host: &str| -> Result<TlsParameters, MailError> {
            let mut params = TlsParameters::builder(host.to_owned());
            if let Some(path) = &config.smtp_ca_file {
                let pem = std::fs::read(path).map_err(|e| {
                    MailError::Config(format!("cannot read {}: {e}", path.display()))
                })?;
                let cert = Certificate::from_pem(&pem).map_err(|e| {
                    MailError::Config(format!("{} holds no certificate: {e}", path.display()))
                })?;
                params = params.add_root_certificate(cert);
            }
            params
                .build_rustls()
                .map_err(|e| MailError::Config(format!("TLS settings: {e}")))
        };
        let security = match settings.security {
            Security::StartTls => Tls::Required(tls(&settings.host)?),
            Security::Tls => Tls::Wrapper(tls(&settings.host)?),
            Security::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            .port(settings.port)
            .tls(security)
            .hello_name(ClientId::Domain(domain.clone()))
            .timeout(Some(SMTP_TIMEOUT));
        if let Some(user) = &settings.username {
            let password = settings
                .password
                .as_ref()
                .map(|p| p.expose().to_owned())
                .unwrap_or_default();
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        Ok(Some(Arc::new(Self {
            transport: builder.build(),
            from: settings.from,
            key,
            domain,
            wake: Notify::new(),
        })))
    }

    /// Queues `message`; it is dropped undelivered once `expires_at` passes (a link in it
    /// would be dead by then). Wakes this process's sender.
    pub async fn enqueue(
        &self,
        store: &Store,
        message: &Message,
        now: i64,
        expires_at: i64,
    ) -> Result<(), MailError> {
        if store.mail_backlog().await?.0 >= MAX_QUEUE {
            tracing::error!(kind = message.kind, "mail queue full; message not queued");
            crate::metrics::mail("dropped");
            return Err(MailError::QueueFull);
        }
        let id = crypto::random_id();
        let json = serde_json::to_vec(message).map_err(|e| MailError::Build(e.to_string()))?;
        let sealed = crypto::seal(&self.key, &json, id.as_bytes())
            .ok_or_else(|| MailError::Build("sealing failed".into()))?;
        store.insert_mail(&id, &sealed, now, expires_at).await?;
        crate::metrics::mail("queued");
        self.wake.notify_one();
        Ok(())
    }

    /// Sends at once, outside the queue (`gatehouse mail test`).
    pub async fn send_now(&self, message: &Message) -> Result<(), MailError> {
        let id = crypto::random_id();
        self.send(&id, message).await
    }

    async fn send(&self, id: &str, message: &Message) -> Result<(), MailError> {
        let to: lettre::Address = message
            .to
            .parse()
            .map_err(|_| MailError::Permanent(Failure::new("the recipient is not an address")))?;
        let email = lettre::Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(&message.subject)
            .message_id(Some(format!("<{id}@{}>", self.domain)))
            .multipart(MultiPart::alternative_plain_html(
                message.text.clone(),
                message.html.clone(),
            ))
            .map_err(|e| MailError::Build(e.to_string()))?;
        match tokio::time::timeout(SEND_DEADLINE, self.transport.send(email)).await {
            Err(_) => Err(MailError::Transient(Failure::new(
                "the mail server did not finish in time",
            ))),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if e.is_permanent() => Err(MailError::Permanent(Failure::of(&e))),
            Ok(Err(e)) => Err(MailError::Transient(Failure::of(&e))),
        }
    }

    /// Delivers every due message this sender can claim; returns how many went out. The time
    /// is read again for each message: one slow server must not leave later leases and
    /// retry times in the past.
    pub async fn deliver_due(&self, store: &Store, clock: &Clock) -> Result<usize, MailError> {
        let mut sent = 0;
        loop {
            let now = clock.now();
            let Some(queued) = store.claim_due_mail(now, now + LEASE).await? else {
                break;
            };
            let opened = crypto::open(&self.key, &queued.sealed, queued.id.as_bytes())
                .and_then(|json| serde_json::from_slice::<Message>(&json).ok());
            let Some(message) = opened else {
                // Sealed under another master key, or damaged: it can never be sent.
                tracing::error!(mail_id = %queued.id, "queued message cannot be opened; dropped");
                drop_mail(store, &queued.id).await?;
                continue;
            };
            match self.send(&queued.id, &message).await {
                Ok(()) => {
                    store.delete_mail(&queued.id).await?;
                    tracing::info!(mail_id = %queued.id, kind = message.kind, "mail sent");
                    crate::metrics::mail("sent");
                    sent += 1;
                }
                Err(MailError::Permanent(why)) => {
                    tracing::warn!(mail_id = %queued.id, kind = message.kind, error = %why.summary, "mail refused; dropped");
                    drop_mail(store, &queued.id).await?;
                }
                Err(MailError::Build(_)) => {
                    tracing::warn!(mail_id = %queued.id, kind = message.kind, "mail could not be built; dropped");
                    drop_mail(store, &queued.id).await?;
                }
                Err(e) => {
                    let wait = backoff(queued.attempts);
                    let why = match &e {
                        MailError::Transient(f) => f.summary.clone(),
                        _ => "store".into(),
                    };
                    tracing::warn!(
                        mail_id = %queued.id,
                        kind = message.kind,
                        attempt = queued.attempts,
                        retry_in = wait,
                        error = %why,
                        "mail not sent; will retry"
                    );
                    store.retry_mail(&queued.id, clock.now() + wait).await?;
                    crate::metrics::mail("deferred");
                }
            }
        }
        Ok(sent)
    }
}

/// A message that can never be sent leaves the queue (the caller logs why).
async fn drop_mail(store: &Store, id: &str) -> Result<(), MailError> {
    store.delete_mail(id).await?;
    crate::metrics::mail("dropped");
    Ok(())
}

/// Seconds before the next try after `attempts` failed ones.
pub fn backoff(attempts: i64) -> i64 {
    crate::clock::backoff(attempts, FIRST_BACKOFF, MAX_BACKOFF)
}

/// The sender task: delivers due messages when woken and every `POLL`.
pub async fn run(mail: Arc<Mail>, store: Store, clock: Clock) {
    loop {
        if let Err(e) = mail.deliver_due(&store, &clock).await {
            tracing::warn!(error = %e, "mail queue not processed; will try again");
        }
        tokio::select! {
            _ = mail.wake.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> Config {
        let mut c = Config::embedded(
            "https://id.example.com",
            "127.0.0.1:0".parse().unwrap(),
            "data".into(),
            "keys".into(),
        );
        c.smtp_url = Some(crypto::Secret::new(url));
        c.mail_from = Some("Sign-in <sign-in@example.com>".into());
        c
    }

    #[test]
    fn urls_choose_the_protection() {
        let s = Settings::from_config(&config("smtp://mail.example.com"))
            .unwrap()
            .unwrap();
        assert_eq!((s.security, s.port), (Security::StartTls, 587));
        let s = Settings::from_config(&config("smtps://mail.example.com"))
            .unwrap()
            .unwrap();
        assert_eq!((s.security, s.port), (Security::Tls, 465));
        let s = Settings::from_config(&config("smtp://127.0.0.1:2525?tls=none"))
            .unwrap()
            .unwrap();
        assert_eq!((s.security, s.port), (Security::None, 2525));
        let s = Settings::from_config(&config("smtp://u%40x:p%3Aw+1@mail.example.com:2587"))
            .unwrap()
            .unwrap();
        assert_eq!(s.username.as_deref(), Some("u@x"));
        assert_eq!(s.password.as_ref().map(|p| p.expose()), Some("p:w+1"));
        assert_eq!(s.port, 2587);
    }

    #[test]
    fn plaintext_and_unknown_settings_are_refused() {
        for bad in [
            "smtp://mail.example.com?tls=none",
            "smtp://mail.example.com?tls=opportunistic",
            "smtp://mail.example.com?tls=none&tls=none",
            "http://mail.example.com",
            "not a url",
        ] {
            assert!(
                matches!(
                    Settings::from_config(&config(bad)),
                    Err(MailError::Config(_))
                ),
                "{bad}"
            );
        }
        let mut c = config("smtp://mail.example.com");
        c.mail_from = Some("not an address".into());
        assert!(Settings::from_config(&c).is_err());
        // A password without a user name cannot log in.
        let mut c = config("smtp://mail.example.com");
        c.smtp_password = Some(crypto::Secret::new("pw"));
        assert!(Settings::from_config(&c).is_err());
        c.smtp_username = Some("me".into());
        assert!(Settings::from_config(&c).is_ok());
    }

    #[test]
    fn only_bare_addresses() {
        assert!(is_address("alice@example.com"));
        assert!(!is_address("\"ceo@corp.com\"<attacker@evil.com>"));
        assert!(!is_address("Alice <alice@example.com>"));
        assert!(!is_address("alice@example.com (comment)"));
        assert!(!is_address("no-at-sign"));
        assert!(!is_address(&format!("{}@example.com", "a".repeat(250))));
    }

    #[test]
    fn backoff_doubles_up_to_half_an_hour() {
        assert_eq!(backoff(1), 30);
        assert_eq!(backoff(2), 60);
        assert_eq!(backoff(3), 120);
        assert_eq!(backoff(50), MAX_BACKOFF);
    }

    #[test]
    fn debug_never_shows_the_password() {
        let s = Settings::from_config(&config("smtp://me:hunter2hunter2@mail.example.com"))
            .unwrap()
            .unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
