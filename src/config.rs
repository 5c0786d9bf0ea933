//! Typed configuration, read once from CLI flags and `GATEHOUSE_*` variables. Its defaults boot a
//! working embedded instance. Imports nothing from the crate but `crypto::Secret` and
//! `domain::Alg`.
use crate::crypto::Secret;
use crate::domain::Alg;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Who may create an account without an admin.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Signup {
    #[default]
    Off,
    Open,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Everything the server needs to run. Tests build it directly.
#[derive(Clone, Debug, clap::Args)]
pub struct Config {
    /// Issuer identifier: the absolute URL relying parties discover us at.
    #[arg(
        long,
        env = "GATEHOUSE_ISSUER",
        default_value = "http://localhost:8080"
    )]
    pub issuer: String,

    /// Address and port to listen on.
    #[arg(long, env = "GATEHOUSE_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Directory for the embedded SQLite database.
    #[arg(long, env = "GATEHOUSE_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Database URL: `sqlite://…` or `postgres://…` (default: SQLite file in the data directory).
    #[arg(long, env = "GATEHOUSE_DATABASE_URL")]
    pub database_url: Option<String>,

    /// Directory holding the master key that encrypts signing keys at rest.
    #[arg(long, env = "GATEHOUSE_KEYS_DIR", default_value = "keys")]
    pub keys_dir: PathBuf,

    /// Master key (base64url of 32 bytes); overrides the file in the keys directory.
    #[arg(long, env = "GATEHOUSE_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<Secret>,

    /// A file holding the master key (e.g. mounted by a secret manager); never created.
    #[arg(long, env = "GATEHOUSE_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,

    /// Password for the `admin` user created on first start (random and printed when unset).
    #[arg(
        long,
        env = "GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD",
        hide_env_values = true
    )]
    pub bootstrap_admin_password: Option<Secret>,

    /// Reverse proxies whose `X-Forwarded-For` is believed, comma-separated IPs or CIDR ranges
    /// (e.g. `10.0.0.5,192.168.0.0/16`). Empty: the peer address is the client.
    #[arg(long, env = "GATEHOUSE_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<IpRange>,

    /// Log format: human-readable text or JSON lines.
    #[arg(long, env = "GATEHOUSE_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// Access token lifetime in seconds.
    #[arg(long, env = "GATEHOUSE_ACCESS_TOKEN_TTL", default_value_t = 600)]
    pub access_token_ttl: i64,

    /// ID token lifetime in seconds.
    #[arg(long, env = "GATEHOUSE_ID_TOKEN_TTL", default_value_t = 3600)]
    pub id_token_ttl: i64,

    /// Browser session lifetime in seconds.
    #[arg(long, env = "GATEHOUSE_SESSION_TTL", default_value_t = 8 * 3600)]
    pub session_ttl: i64,

    /// A clients file (TOML) applied at start, as `gatehouse apply -f` would: the clients it
    /// manages are made to match it before the server listens.
    #[arg(long, env = "GATEHOUSE_CLIENTS_FILE")]
    pub clients_file: Option<std::path::PathBuf>,

    /// How many days the audit log keeps an event before the sweeper deletes it.
    #[arg(long, env = "GATEHOUSE_AUDIT_RETENTION_DAYS", default_value_t = 90)]
    pub audit_retention_days: i64,

    /// Refresh-token family lifetime in seconds (default 30 days), unless the client sets one.
    #[arg(long, env = "GATEHOUSE_REFRESH_TOKEN_TTL", default_value_t = 30 * 86400)]
    pub refresh_token_ttl: i64,

    /// A refresh token unused this long expires (default 14 days), unless the client sets one.
    #[arg(long, env = "GATEHOUSE_REFRESH_IDLE_TTL", default_value_t = 14 * 86400)]
    pub refresh_idle_ttl: i64,

    /// Seconds in which a confidential client re-presenting a just-rotated refresh token gets
    /// the same response again instead of a revoked family (lost responses, parallel tabs).
    #[arg(long, env = "GATEHOUSE_REFRESH_REPLAY_WINDOW", default_value_t = 2)]
    pub refresh_replay_window: i64,

    /// How long a signing key signs before it is replaced, in seconds (default 30 days).
    #[arg(long, env = "GATEHOUSE_KEY_ROTATION_PERIOD", default_value_t = 30 * 86400)]
    pub key_rotation_period: i64,

    /// `Cache-Control: max-age` of the JWKS and discovery documents, in seconds. A new key is
    /// published at least this long (plus one refresh) before it signs.
    #[arg(long, env = "GATEHOUSE_JWKS_MAX_AGE", default_value_t = 300)]
    pub jwks_max_age: i64,

    /// How often each replica reloads the keystore and tries a rotation step, in seconds.
    #[arg(long, env = "GATEHOUSE_KEY_REFRESH_INTERVAL", default_value_t = 30)]
    pub key_refresh_interval: i64,

    /// How long introspection and UserInfo may trust what they read of a token's standing and
    /// of its user, in seconds: how late a revocation, or a user disabled or changed, by another
    /// process (another replica, the CLI) shows there. Changes made through this server show at
    /// once. 0 reads the database on every request.
    #[arg(long, env = "GATEHOUSE_STANDING_CACHE_TTL", default_value_t = 1)]
    pub standing_cache_ttl: i64,

    /// The algorithms Gatehouse signs tokens with, each with its own keys in the JWKS. RS256
    /// is required (OIDC's default); a client picks another with its ID-token and access-token
    /// algorithm settings. ES256 and EdDSA (Ed25519) sign 20 to 40 times faster than RS256.
    /// EdDSA is left out by default: some older JWKS readers refuse a set with an OKP key.
    #[arg(
        long,
        env = "GATEHOUSE_SIGNING_ALGS",
        value_delimiter = ',',
        default_value = "RS256,ES256"
    )]
    pub signing_algs: Vec<Alg>,

    /// Seconds a connection has to send a request's headers, counted from when it starts
    /// waiting for one (also the longest keep-alive wait between requests).
    #[arg(long, env = "GATEHOUSE_HEADER_READ_TIMEOUT", default_value_t = 10)]
    pub header_read_timeout: i64,

    /// Seconds from a request's start within which its whole body must have arrived.
    #[arg(long, env = "GATEHOUSE_BODY_TIMEOUT", default_value_t = 10)]
    pub body_timeout: i64,

    /// Seconds without a byte in either direction after which a connection is dropped.
    #[arg(long, env = "GATEHOUSE_IDLE_TIMEOUT", default_value_t = 30)]
    pub idle_timeout: i64,

    /// Connections served at once; more wait to be accepted.
    #[arg(long, env = "GATEHOUSE_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,

    /// Connections one client address may hold at once (trusted proxies are exempt).
    #[arg(
        long,
        env = "GATEHOUSE_MAX_CONNECTIONS_PER_ADDRESS",
        default_value_t = 64
    )]
    pub max_connections_per_address: usize,

    /// Pending authorization requests one client address (IPv6: one /64) may hold; a further
    /// one evicts the oldest. Raise it when many people share one address without a trusted
    /// proxy naming them.
    #[arg(
        long,
        env = "GATEHOUSE_MAX_PENDING_FLOWS_PER_ADDRESS",
        default_value_t = 1000
    )]
    pub max_pending_flows_per_address: i64,

    /// Where Prometheus metrics are served (`/metrics`), e.g. `127.0.0.1:9090`. Unset: no
    /// metrics. Keep it off the public interface: it is not authenticated.
    #[arg(long, env = "GATEHOUSE_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,

    /// Who people should contact when they are stuck at sign-in (shown on the help page),
    /// e.g. "it-help@example.com" or "the IT desk, extension 4242".
    #[arg(long, env = "GATEHOUSE_HELP_CONTACT")]
    pub help_contact: Option<String>,

    /// Shortest password a person or an admin may set (characters; at least 8). Every new
    /// password is also checked against a bundled list of the most common ones.
    #[arg(long, env = "GATEHOUSE_PASSWORD_MIN_LENGTH", default_value_t = 12)]
    pub password_min_length: usize,

    /// Outbound mail server: `smtp://host[:587]` (STARTTLS required), `smtps://host[:465]`
    /// (TLS from the first byte), or `smtp://host:25?tls=none` (plaintext, loopback only).
    /// Credentials may be in the URL (`smtp://user:pass@host`) or in the variables below.
    /// Unset: no mail, and password reset, email verification, invitations and sign-up are off.
    #[arg(long, env = "GATEHOUSE_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<Secret>,

    /// SMTP user name, when not in the URL.
    #[arg(long, env = "GATEHOUSE_SMTP_USERNAME")]
    pub smtp_username: Option<String>,

    /// SMTP password, when not in the URL.
    #[arg(long, env = "GATEHOUSE_SMTP_PASSWORD", hide_env_values = true)]
    pub smtp_password: Option<Secret>,

    /// A file holding the SMTP password (e.g. mounted by a secret manager).
    #[arg(long, env = "GATEHOUSE_SMTP_PASSWORD_FILE")]
    pub smtp_password_file: Option<PathBuf>,

    /// PEM certificates to trust for the mail server besides the system's (a private CA).
    #[arg(long, env = "GATEHOUSE_SMTP_CA_FILE")]
    pub smtp_ca_file: Option<PathBuf>,

    /// Sender of every message, e.g. `Example Sign-in <sign-in@example.com>`. Required with
    /// `GATEHOUSE_SMTP_URL`.
    #[arg(long, env = "GATEHOUSE_MAIL_FROM")]
    pub mail_from: Option<String>,

    /// Self sign-up: `off` (only admins and invitations create accounts) or `open` (anyone
    /// with an email address that receives our link). Needs mail.
    #[arg(long, env = "GATEHOUSE_SIGNUP", value_enum, default_value = "off")]
    pub signup: Signup,

    /// Dynamic client registration (RFC 7591/7592) at /register, for apps holding an initial
    /// access token an admin issued (`gatehouse client registration-token`). Off by default.
    #[arg(long, env = "GATEHOUSE_DYNAMIC_REGISTRATION", default_value_t = false, action = clap::ArgAction::Set)]
    pub dynamic_registration: bool,

    /// Every client must push its authorization requests first (RFC 9126 PAR); clients can be
    /// held to it one by one with `--require-par`.
    #[arg(long, env = "GATEHOUSE_REQUIRE_PAR", default_value_t = false, action = clap::ArgAction::Set)]
    pub require_par: bool,

    /// DPoP proofs (RFC 9449) must carry a nonce the server hands out in the `DPoP-Nonce`
    /// header, which limits how long a proof made in advance stays usable.
    #[arg(long, env = "GATEHOUSE_DPOP_NONCE", default_value_t = false, action = clap::ArgAction::Set)]
    pub dpop_nonce: bool,

    /// Lets outbound requests (client JWKS) reach loopback addresses; for tests and local
    /// development only. Link-local and other special addresses stay refused.
    #[arg(long, env = "GATEHOUSE_OUTBOUND_ALLOW_LOOPBACK", default_value_t = false, action = clap::ArgAction::Set)]
    pub outbound_allow_loopback: bool,

    /// Administrators must sign in with a second factor (a code or a passkey).
    #[arg(long, env = "GATEHOUSE_ADMINS_REQUIRE_MFA", default_value_t = false, action = clap::ArgAction::Set)]
    pub admins_require_mfa: bool,

    /// Seconds shutdown waits for in-flight requests before closing their connections.
    #[arg(long, env = "GATEHOUSE_SHUTDOWN_TIMEOUT", default_value_t = 20)]
    pub shutdown_drain_timeout: i64,
}

/// Authorization codes live 60 seconds (SECURITY.md; RFC 6749 §4.1.2 allows up to 10 minutes).
pub const CODE_TTL: i64 = 60;
/// A pending authorization request waits this long for login and consent.
pub const FLOW_TTL: i64 = 15 * 60;
/// Pending authorization requests one browser may hold; a further one evicts the oldest.
pub const FLOWS_PER_BROWSER: i64 = 10;

impl Config {
    /// The embedded defaults, with nothing read from the environment.
    pub fn embedded(issuer: &str, bind: SocketAddr, data_dir: PathBuf, keys_dir: PathBuf) -> Self {
        Self {
            issuer: issuer.to_owned(),
            bind,
            data_dir,
            database_url: None,
            keys_dir,
            master_key: None,
            master_key_file: None,
            bootstrap_admin_password: None,
            trusted_proxies: Vec::new(),
            log_format: LogFormat::Text,
            access_token_ttl: 600,
            id_token_ttl: 3600,
            session_ttl: 8 * 3600,
            audit_retention_days: 90,
            clients_file: None,
            refresh_token_ttl: 30 * 86400,
            refresh_idle_ttl: 14 * 86400,
            refresh_replay_window: 2,
            key_rotation_period: 30 * 86400,
            jwks_max_age: 300,
            key_refresh_interval: 30,
            standing_cache_ttl: 1,
            signing_algs: vec![Alg::RS256, Alg::ES256],
            header_read_timeout: 10,
            body_timeout: 10,
            idle_timeout: 30,
            max_connections: 1024,
            max_connections_per_address: 64,
            shutdown_drain_timeout: 20,
            max_pending_flows_per_address: 1000,
            admins_require_mfa: false,
            require_par: false,
            dpop_nonce: false,
            outbound_allow_loopback: false,
            dynamic_registration: false,
            help_contact: None,
            metrics_bind: None,
            password_min_length: 12,
            smtp_url: None,
            smtp_username: None,
            smtp_password: None,
            smtp_password_file: None,
            smtp_ca_file: None,
            mail_from: None,
            signup: Signup::Off,
        }
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("gatehouse.db").display()
            ),
        }
    }

    /// True when outbound mail is configured: reset, verification, invitations and sign-up.
    pub fn mail_enabled(&self) -> bool {
        self.smtp_url.is_some()
    }

    /// True when the issuer is https: cookies get `Secure` and the `__Host-` prefix.
    pub fn is_https(&self) -> bool {
        self.issuer.starts_with("https://")
    }

    /// Fails fast with one clear line.
    pub fn validate(&self) -> Result<(), String> {
        validate_issuer(&self.issuer)?;
        for (name, v) in [
            ("access token TTL", self.access_token_ttl),
            ("ID token TTL", self.id_token_ttl),
            ("session TTL", self.session_ttl),
            ("audit retention", self.audit_retention_days),
            ("refresh token TTL", self.refresh_token_ttl),
            ("refresh idle TTL", self.refresh_idle_ttl),
            ("key rotation period", self.key_rotation_period),
            ("JWKS max-age", self.jwks_max_age),
            ("key refresh interval", self.key_refresh_interval),
            ("header read timeout", self.header_read_timeout),
            ("body timeout", self.body_timeout),
            ("idle timeout", self.idle_timeout),
            ("shutdown timeout", self.shutdown_drain_timeout),
        ] {
            if v <= 0 {
                return Err(format!("{name} must be a positive number of seconds"));
            }
        }
        if !self.signing_algs.contains(&Alg::RS256) {
            return Err("signing algorithms must include RS256 (OIDC requires it)".into());
        }
        if self.max_pending_flows_per_address < 1 {
            return Err("max pending flows per address must be at least 1".into());
        }
        if self.max_connections == 0 || self.max_connections_per_address == 0 {
            return Err("connection limits must be at least 1".into());
        }
        if self.password_min_length < 8 {
            return Err("password minimum length must be at least 8".into());
        }
        if self.smtp_url.is_some() != self.mail_from.is_some() {
            return Err("GATEHOUSE_SMTP_URL and GATEHOUSE_MAIL_FROM go together: set both".into());
        }
        if self.signup == Signup::Open && self.smtp_url.is_none() {
            return Err("open sign-up needs mail (GATEHOUSE_SMTP_URL) to verify addresses".into());
        }
        if self.refresh_replay_window < 0 {
            return Err("refresh replay window must not be negative".into());
        }
        if self.standing_cache_ttl < 0 {
            return Err("standing cache TTL must not be negative".into());
        }
        if self.key_rotation_period <= self.jwks_max_age + self.key_refresh_interval {
            return Err(
                "key rotation period must exceed the JWKS max-age plus the key refresh interval"
                    .into(),
            );
        }
        let url = self.database_url();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err("database URL must start with sqlite: or postgres://".into());
        }
        Ok(())
    }
}

/// An IP address or CIDR range (`10.0.0.0/8`, `::1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpRange {
    addr: std::net::IpAddr,
    prefix: u8,
}

impl std::str::FromStr for IpRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (ip, prefix) = match s.trim().split_once('/') {
            Some((ip, p)) => (ip, Some(p)),
            None => (s.trim(), None),
        };
        let addr: std::net::IpAddr = ip
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or CIDR range"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?} has a bad prefix length"))?,
            None => max,
        };
        Ok(Self { addr, prefix })
    }
}

impl IpRange {
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr::{V4, V6};
        let (a, b, bits) = match (self.addr, ip) {
            (V4(a), V4(b)) => (u128::from(u32::from(a)), u128::from(u32::from(b)), 32u32),
            (V6(a), V6(b)) => (u128::from(a), u128::from(b), 128u32),
            _ => return false,
        };
        let shift = bits - u32::from(self.prefix);
        shift >= bits || (a >> shift) == (b >> shift)
    }
}

/// The client's address: the peer, unless the peer is a trusted proxy, in which case the
/// nearest `X-Forwarded-For` hop that is not itself a trusted proxy (RFC 9700 §4.13: only
/// trusted proxies' headers count).
pub fn client_address(
    peer: std::net::IpAddr,
    forwarded_for: Option<&str>,
    trusted: &[IpRange],
) -> std::net::IpAddr {
    let is_trusted = |ip: std::net::IpAddr| trusted.iter().any(|r| r.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let mut client = peer;
    for hop in forwarded_for.unwrap_or("").rsplit(',') {
        match hop.trim().parse::<std::net::IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(ip) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    client
}

/// OIDC Discovery §3/§4.3: the issuer is an absolute https URL with no query or fragment; plain
/// http is accepted only on loopback, for development.
pub fn validate_issuer(issuer: &str) -> Result<(), String> {
    let parsed = url::Url::parse(issuer)
        .map_err(|e| format!("issuer {issuer:?} is not an absolute URL: {e}"))?;
    if parsed.query().is_some()
        || parsed.fragment().is_some()
        || issuer.contains('?')
        || issuer.contains('#')
    {
        return Err(format!(
            "issuer {issuer:?} must not have a query or fragment"
        ));
    }
    if !(issuer.starts_with("https://") || issuer.starts_with("http://")) {
        return Err(format!(
            "issuer {issuer:?} must start with https:// (lower case)"
        ));
    }
    // Routes are served at the root, so the issuer is scheme, host and port only.
    if parsed.path() != "/" || issuer.ends_with('/') {
        return Err(format!(
            "issuer {issuer:?} must have no path and no trailing slash"
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!("issuer {issuer:?} must not contain user info"));
    }
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if is_loopback_host(parsed.host_str().unwrap_or("")) => Ok(()),
        "http" => Err(format!(
            "issuer {issuer:?} must use https (plain http only on localhost)"
        )),
        _ => Err(format!("issuer {issuer:?} must be an https URL")),
    }
}

pub fn is_loopback_host(host: &str) -> bool {
    host == "localhost" || host == "127.0.0.1" || host == "[::1]" || host == "::1"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_rules() {
        assert!(validate_issuer("https://id.example.com").is_ok());
        assert!(validate_issuer("https://example.com/tenant").is_err());
        assert!(validate_issuer("HTTPS://id.example.com").is_err());
        assert!(validate_issuer("http://localhost:8080").is_ok());
        assert!(validate_issuer("http://127.0.0.1:9000").is_ok());
        assert!(validate_issuer("http://id.example.com").is_err());
        assert!(validate_issuer("https://id.example.com?x=1").is_err());
        assert!(validate_issuer("https://id.example.com#f").is_err());
        assert!(validate_issuer("https://id.example.com/").is_err());
        assert!(validate_issuer("id.example.com").is_err());
        assert!(validate_issuer("ftp://id.example.com").is_err());
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted: Vec<IpRange> = vec!["10.0.0.0/8".parse().unwrap(), "::1".parse().unwrap()];
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        assert_eq!(
            client_address(ip("203.0.113.9"), Some("1.2.3.4"), &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_address(ip("10.1.2.3"), Some("1.2.3.4"), &trusted),
            ip("1.2.3.4")
        );
        assert_eq!(
            client_address(ip("10.1.2.3"), Some("6.6.6.6, 1.2.3.4, 10.9.9.9"), &trusted),
            ip("1.2.3.4")
        );
        assert_eq!(
            client_address(ip("10.1.2.3"), None, &trusted),
            ip("10.1.2.3")
        );
        assert_eq!(
            client_address(ip("10.1.2.3"), Some("garbage"), &trusted),
            ip("10.1.2.3")
        );
        assert_eq!(
            client_address(ip("::1"), Some("2001:db8::1"), &trusted),
            ip("2001:db8::1")
        );
        assert!("10.0.0.0/33".parse::<IpRange>().is_err());
        assert!("nope".parse::<IpRange>().is_err());
        assert!(
            "0.0.0.0/0"
                .parse::<IpRange>()
                .unwrap()
                .contains(ip("8.8.8.8"))
        );
    }

    #[test]
    fn default_database_is_sqlite_in_data_dir() {
        let c = Config::embedded(
            "http://localhost:8080",
            "127.0.0.1:0".parse().unwrap(),
            "d".into(),
            "k".into(),
        );
        assert_eq!(c.database_url(), "sqlite://d/gatehouse.db?mode=rwc");
        assert!(c.validate().is_ok());
    }
}
