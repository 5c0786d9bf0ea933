//! The command line: `serve` (default), `migrate`, and admin commands for clients and users.
use crate::accounts;
use crate::accounts::password::Hasher;
use crate::accounts::recovery::Outbound;
use crate::admin::{self, Actor, AdminError};
use crate::audit::Event;
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::Alg;
use crate::keys::{Keystore, MasterKey, Policy};
use crate::mail::Mail;
use crate::startup::{App, ensure_admin, open_store};
use crate::store::Store;
use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use std::io::Read;
use std::sync::Arc;

mod access;

#[derive(Debug, Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "A standalone OpenID Connect identity provider"
)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the provider (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage OAuth clients.
    #[command(subcommand)]
    Client(Box<ClientCommand>),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage APIs (resource servers) and their scopes.
    #[command(subcommand)]
    Api(access::ApiCommand),
    /// Manage roles: named sets of API scopes.
    #[command(subcommand)]
    Role(access::RoleCommand),
    /// Manage groups: named sets of users that hold roles.
    #[command(subcommand)]
    Group(access::GroupCommand),
    /// Inspect and rotate signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Read the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Make the clients a clients file (TOML) manages match it: create and change those it
    /// lists, delete those it managed and no longer lists. Idempotent.
    Apply {
        /// The clients file.
        #[arg(short = 'f', long)]
        file: std::path::PathBuf,
        /// Print the changes without making them.
        #[arg(long)]
        dry_run: bool,
    },
    /// Time one password verification (argon2id at the server's parameters) on this
    /// machine: what each sign-in costs a core.
    PasswordCost,
    /// Outbound mail (GATEHOUSE_SMTP_URL).
    #[command(subcommand)]
    Mail(MailCommand),
}

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Send a test message now, outside the queue, and report what the mail server said.
    Test {
        /// The address to send it to.
        to: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Print the latest audit events, oldest first.
    Tail {
        /// How many events.
        #[arg(short = 'n', long, default_value_t = 50)]
        lines: i64,
        /// Keep printing new events as they are stored.
        #[arg(short, long)]
        follow: bool,
        /// Only this event (for example `login.failed`).
        #[arg(long)]
        event: Option<String>,
        /// Print one JSON object a line.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List keys: kid, algorithm, state, created, activates, retires.
    List,
    /// Start a rotation: publish a new key that signs after the publish lead, for each
    /// configured algorithm or the one named.
    Rotate {
        /// Emergency: the new key signs at once and the old one is retired. Relying parties
        /// that cached the JWKS fail to verify new tokens until they refetch it.
        #[arg(long)]
        now: bool,
        /// Only this algorithm's key (RS256, ES256 or EdDSA).
        #[arg(long)]
        alg: Option<Alg>,
    },
    /// Remove a compromised key from the JWKS at once (running servers drop it within one
    /// key refresh interval); tokens it signed stop validating here.
    Revoke {
        /// Key ids are random base64url and may begin with `-`.
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
    /// Bring in an RSA signing key (PKCS#8 or PKCS#1 PEM, 2048 bits or more) from the provider
    /// being replaced. It is sealed like generated keys, published at once and signs after the
    /// publish lead; with its old `--kid`, tokens that provider signed keep verifying here.
    Import {
        #[arg(long)]
        pem: std::path::PathBuf,
        /// The kid it had at the old provider (default: its RFC 7638 thumbprint).
        #[arg(long, allow_hyphen_values = true)]
        kid: Option<String>,
        /// It signs at once instead of after the publish lead.
        #[arg(long)]
        now: bool,
    },
    /// Print a published key's public half: a PEM `PUBLIC KEY` (the default) or its JWK.
    Export {
        /// The key's kid.
        #[arg(long, allow_hyphen_values = true)]
        public: String,
        #[arg(long, conflicts_with = "jwk")]
        pem: bool,
        #[arg(long)]
        jwk: bool,
    },
}

/// Client settings shared by `client create` and `client update`. On update, a list given
/// replaces the stored one; an option left out keeps its value.
#[derive(Debug, Default, clap::Args)]
pub struct ClientOptions {
    /// Display name shown on the consent page.
    #[arg(long)]
    name: Option<String>,
    /// Exact redirect URI (repeatable).
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// An API this client's access tokens are for (repeatable; the token's `aud`).
    #[arg(long = "audience")]
    audiences: Vec<String>,
    /// First-party app: never show the consent page.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    skip_consent: Option<bool>,
    /// A scope this client may be granted (repeatable; default: every supported OIDC scope).
    /// For client_credentials these are the API scopes it may ask for.
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// Allowed grant type (repeatable): authorization_code, refresh_token, client_credentials.
    #[arg(long = "grant-type")]
    grant_types: Vec<String>,
    /// Where the browser may go after sign-out (repeatable, exact match).
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// A browser origin allowed to call the token, userinfo and revocation endpoints (repeatable).
    #[arg(long = "allowed-origin")]
    allowed_origins: Vec<String>,
    /// The API identifier this client serves as a resource server (repeatable): it may
    /// introspect access tokens whose `aud` holds it.
    #[arg(long = "resource-audience")]
    resource_audiences: Vec<String>,
    /// Refresh-token family lifetime, seconds.
    #[arg(long)]
    refresh_token_ttl: Option<i64>,
    /// Refresh-token idle lifetime, seconds.
    #[arg(long)]
    refresh_idle_ttl: Option<i64>,
    /// PKCE policy: `required` (the default) or `optional`. Use `optional` only for an OpenID
    /// certification client or a legacy confidential app that cannot send PKCE; public
    /// clients can never opt out. A code issued without a challenge refuses any verifier.
    #[arg(long, value_parser = ["required", "optional"])]
    pkce: Option<String>,
    /// Every sign-in for this client needs a second factor (an authenticator code or a
    /// passkey); users without one are told how to get one.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    require_mfa: Option<bool>,
    /// Its authorization requests must be pushed to /par first (RFC 9126), as FAPI 2.0 asks.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    require_par: Option<bool>,
    /// Every token request must carry a DPoP proof (RFC 9449 `dpop_bound_access_tokens`), so
    /// its tokens are always bound to the client's key.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    dpop_bound: Option<bool>,
    /// Authenticate with `private_key_jwt` (RFC 7523) against the public keys in this JWK Set
    /// file; the client then has no secret.
    #[arg(long, conflicts_with = "jwks_uri")]
    jwks_file: Option<std::path::PathBuf>,
    /// Authenticate with `private_key_jwt` against the keys the client publishes at this URL
    /// (https); Gatehouse fetches and caches them.
    #[arg(long)]
    jwks_uri: Option<String>,
    /// Where the client's back end is sent a logout token when a session it got tokens in ends
    /// (OpenID Connect Back-Channel Logout); `""` removes it.
    #[arg(long)]
    backchannel_logout_uri: Option<String>,
    /// The client needs `sid` in its logout tokens (they always carry it).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    backchannel_logout_session_required: Option<bool>,
    /// What this client's ID tokens are signed with: RS256 (the default), ES256 or EdDSA
    /// (`id_token_signed_response_alg`). The relying party must support it.
    #[arg(long)]
    id_token_alg: Option<Alg>,
    /// What this client's access tokens are signed with: RS256 (the default), ES256 or
    /// EdDSA. The APIs that verify them must support it.
    #[arg(long)]
    access_token_alg: Option<Alg>,
}

impl ClientOptions {
    /// The settings given, as a change the client rules check; an empty list is "not given".
    fn into_changes(self) -> anyhow::Result<crate::domain::ClientChanges> {
        let given = |v: Vec<String>| (!v.is_empty()).then_some(v);
        let jwks = match &self.jwks_file {
            Some(path) => {
                Some(Some(std::fs::read_to_string(path).with_context(|| {
                    format!("cannot read the JWK Set {}", path.display())
                })?))
            }
            None => None,
        };
        Ok(crate::domain::ClientChanges {
            name: self.name,
            redirect_uris: given(self.redirect_uris),
            audiences: given(self.audiences),
            skip_consent: self.skip_consent,
            allowed_scopes: given(self.scopes).map(Some),
            grant_types: given(self.grant_types),
            post_logout_redirect_uris: given(self.post_logout_redirect_uris),
            allowed_origins: given(self.allowed_origins),
            resource_audiences: given(self.resource_audiences),
            refresh_token_ttl: self.refresh_token_ttl.map(Some),
            refresh_idle_ttl: self.refresh_idle_ttl.map(Some),
            pkce_optional: self.pkce.map(|p| p == "optional"),
            require_mfa: self.require_mfa,
            require_par: self.require_par,
            dpop_bound: self.dpop_bound,
            jwks,
            jwks_uri: self.jwks_uri.map(Some),
            backchannel_logout_uri: self
                .backchannel_logout_uri
                .map(|u| (!u.is_empty()).then_some(u)),
            backchannel_logout_session_required: self.backchannel_logout_session_required,
            id_token_signed_response_alg: self.id_token_alg,
            access_token_signed_response_alg: self.access_token_alg,
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client; prints its id and (for confidential clients) its secret, once.
    Create {
        #[command(flatten)]
        options: ClientOptions,
        /// A public client (native app, SPA): no secret, PKCE only.
        #[arg(long)]
        public: bool,
        /// `client_secret_basic` (the default), `none` (as --public), or `private_key_jwt`
        /// (with --jwks-file or --jwks-uri).
        #[arg(long, value_parser = ["client_secret_basic", "client_secret_post", "none", "private_key_jwt"])]
        token_endpoint_auth_method: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change a client's settings.
    Update {
        id: String,
        #[command(flatten)]
        options: ClientOptions,
    },
    /// Issue a new secret (shown once); the old one stops working at once.
    RotateSecret {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// List clients.
    List,
    /// Show one client.
    Show { id: String },
    /// Delete a client.
    Delete { id: String },
    /// Issue an initial access token for dynamic registration (RFC 7591), good for one
    /// registration; shown once. Needs GATEHOUSE_DYNAMIC_REGISTRATION on the server.
    RegistrationToken {
        /// How long it is valid, seconds (at most 30 days).
        #[arg(long, default_value_t = 86400)]
        ttl: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        name: Option<String>,
        /// Read the password from standard input (required: never pass it in argv).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// Give the user the `admin` role.
        #[arg(long)]
        admin: bool,
        /// You vouch that the email address is the person's. Otherwise, with mail configured,
        /// it is sent a verification link.
        #[arg(long)]
        email_verified: bool,
    },
    /// Email someone a link to create their account: they choose a username and password,
    /// and their address is verified (needs GATEHOUSE_SMTP_URL).
    Invite { email: String },
    /// Mark a user's email address verified: you vouch that it is theirs.
    VerifyEmail { username: String },
    /// List users.
    List,
    /// Show a user: account, roles, groups and the API scopes they may be granted.
    Show { username: String },
    /// Grant a user a role directly.
    AddRole { username: String, role: String },
    /// Take back a role granted directly (roles through groups stay).
    RemoveRole { username: String, role: String },
    /// Set a user's password, read from standard input.
    SetPassword {
        username: String,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Disable a user: they can no longer sign in.
    Disable { username: String },
    /// Change a user's name, email or standard profile claims (OIDC Core §5.1). An empty
    /// value clears a claim.
    Update {
        username: String,
        #[command(flatten)]
        profile: Box<ProfileOptions>,
    },
    /// Clear a user's sign-in back-off (from every browser and device).
    Unlock { username: String },
    /// A user's second factors (authenticator app, passkeys, recovery codes).
    Mfa {
        #[command(subcommand)]
        cmd: MfaCommand,
    },
    /// Give a user the `admin` role.
    GrantAdmin { username: String },
    /// Take the `admin` role from a user; the last administrator keeps it.
    RevokeAdmin { username: String },
}

#[derive(Debug, Subcommand)]
pub enum MfaCommand {
    /// Show which second factors a user has.
    List { username: String },
    /// Remove every second factor of a user who lost theirs; they sign in with the password
    /// alone until they set up new ones.
    Reset { username: String },
}

/// The standard claims an admin may set (OIDC Core §5.1), each checked by its type.
#[derive(Debug, Default, clap::Args)]
pub struct ProfileOptions {
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    email: Option<String>,
    #[arg(long)]
    given_name: Option<String>,
    #[arg(long)]
    family_name: Option<String>,
    #[arg(long)]
    middle_name: Option<String>,
    #[arg(long)]
    nickname: Option<String>,
    /// URL of a profile picture (http or https).
    #[arg(long)]
    picture: Option<String>,
    /// URL of a web page (http or https).
    #[arg(long)]
    website: Option<String>,
    #[arg(long)]
    gender: Option<String>,
    /// YYYY-MM-DD, or YYYY alone.
    #[arg(long)]
    birthdate: Option<String>,
    /// A time zone name such as Europe/Paris.
    #[arg(long)]
    zoneinfo: Option<String>,
    /// A language tag such as en-US.
    #[arg(long)]
    locale: Option<String>,
    /// E.164, such as +14155550123.
    #[arg(long)]
    phone_number: Option<String>,
    #[arg(long)]
    phone_number_verified: Option<bool>,
    /// Mark the email address verified (you vouch that it is the person's), or not.
    #[arg(long)]
    email_verified: Option<bool>,
    #[arg(long)]
    address_formatted: Option<String>,
    #[arg(long)]
    street_address: Option<String>,
    #[arg(long)]
    locality: Option<String>,
    #[arg(long)]
    region: Option<String>,
    #[arg(long)]
    postal_code: Option<String>,
    #[arg(long)]
    country: Option<String>,
}

impl ProfileOptions {
    fn into_changes(self) -> accounts::ProfileChanges {
        use crate::domain::profile::Field;
        let fields = [
            (Field::GivenName, self.given_name),
            (Field::FamilyName, self.family_name),
            (Field::MiddleName, self.middle_name),
            (Field::Nickname, self.nickname),
            (Field::Picture, self.picture),
            (Field::Website, self.website),
            (Field::Gender, self.gender),
            (Field::Birthdate, self.birthdate),
            (Field::Zoneinfo, self.zoneinfo),
            (Field::Locale, self.locale),
            (Field::PhoneNumber, self.phone_number),
            (Field::AddressFormatted, self.address_formatted),
            (Field::StreetAddress, self.street_address),
            (Field::Locality, self.locality),
            (Field::Region, self.region),
            (Field::PostalCode, self.postal_code),
            (Field::Country, self.country),
        ]
        .into_iter()
        .filter_map(|(f, v)| v.map(|v| (f, v)))
        .collect();
        accounts::ProfileChanges {
            name: self.name,
            email: self.email,
            fields,
            phone_number_verified: self.phone_number_verified,
            email_verified: self.email_verified,
        }
    }
}

/// Parses the command line and runs it.
pub async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    crate::telemetry::init(cli.config.log_format);
    let clock = Clock::system();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.config, clock).await,
        Command::Migrate => {
            open_store(&cli.config, &clock).await?.close().await;
            println!("migrations applied");
            Ok(())
        }
        Command::Client(cmd) => client(&cli.config, &clock, *cmd).await,
        Command::User(cmd) => user(&cli.config, &clock, cmd).await,
        Command::Api(cmd) => access::api(&cli.config, &clock, cmd).await,
        Command::Role(cmd) => access::role(&cli.config, &clock, cmd).await,
        Command::Group(cmd) => access::group(&cli.config, &clock, cmd).await,
        Command::Keys(cmd) => keys(&cli.config, &clock, cmd).await,
        Command::Audit(cmd) => audit_command(&cli.config, &clock, cmd).await,
        Command::Mail(MailCommand::Test { to }) => mail_test(&cli.config, &to).await,
        Command::Apply { file, dry_run } => {
            let store = open_store(&cli.config, &clock).await?;
            let changes = admin::apply::apply_file(
                &store,
                &file,
                &cli.config.signing_algs,
                clock.now(),
                dry_run,
            )
            .await;
            store.close().await;
            let changes = changes?;
            for c in &changes {
                println!("{c}");
            }
            match (changes.is_empty(), dry_run) {
                (true, _) => println!("no changes: the clients match {}", file.display()),
                (false, true) => println!(
                    "{} change(s) planned; nothing was changed (--dry-run)",
                    changes.len()
                ),
                (false, false) => println!("{} change(s) applied", changes.len()),
            }
            Ok(())
        }
        Command::PasswordCost => {
            use crate::accounts::password::{COST_SAMPLES, verify_cost};
            let cost = tokio::task::spawn_blocking(verify_cost).await?;
            println!(
                "argon2id verify: {:.2} ms (median of {COST_SAMPLES})",
                cost.as_secs_f64() * 1e3
            );
            Ok(())
        }
    }
}

async fn serve(config: Config, clock: Clock) -> anyhow::Result<()> {
    let admin_password = config.bootstrap_admin_password.clone();
    let issuer = config.issuer.clone();
    let app = App::build(config, clock.clone()).await?;
    if let Some(pw) = ensure_admin(app.store(), admin_password.as_ref(), clock.now()).await? {
        // Shown once on the terminal, never logged.
        println!(
            "\nCreated user `admin` with password: {pw}\nSign in at {issuer}/account and keep this password safe.\n"
        );
    }
    println!("Gatehouse is running at {issuer}");
    app.run_until_stopped().await?;
    Ok(())
}

fn print_secret(id: &str, secret: Option<&str>, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::json!({ "client_id": id, "client_secret": secret })
        );
        return;
    }
    println!("client_id: {id}");
    if let Some(s) = secret {
        println!("client_secret: {s}\n(shown once: store it now; Gatehouse keeps only a hash)");
    }
}

fn read_password() -> anyhow::Result<String> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .context("cannot read the password from standard input")?;
    let pw = s
        .strip_suffix('\n')
        .map(|p| p.strip_suffix('\r').unwrap_or(p))
        .unwrap_or(&s)
        .to_owned();
    if pw.is_empty() {
        bail!("no password on standard input");
    }
    Ok(pw)
}

async fn client(config: &Config, clock: &Clock, cmd: ClientCommand) -> anyhow::Result<()> {
    let store = open_store(config, clock).await?;
    match cmd {
        ClientCommand::Create {
            options,
            public,
            token_endpoint_auth_method,
            json,
        } => {
            if options.name.is_none() {
                bail!("--name is required");
            }
            let keyed = options.jwks_file.is_some() || options.jwks_uri.is_some();
            let public = public || token_endpoint_auth_method.as_deref() == Some("none");
            if (token_endpoint_auth_method.as_deref() == Some("private_key_jwt")) != keyed {
                bail!("private_key_jwt goes with --jwks-file or --jwks-uri, and they with it");
            }
            let (client, secret) = admin::clients::create(
                &store,
                &config.signing_algs,
                clock.now(),
                Actor::CLI,
                admin::clients::NewClient {
                    public,
                    changes: options.into_changes()?,
                    ..Default::default()
                },
            )
            .await?;
            print_secret(&client.id, secret.as_ref().map(|s| s.0.as_str()), json);
        }
        ClientCommand::Update { id, options } => {
            admin::clients::update(
                &store,
                &config.signing_algs,
                Actor::CLI,
                &id,
                None,
                options.into_changes()?,
            )
            .await
            .map_err(|e| no_client(e, &id))?;
            println!("updated client {id}");
        }
        ClientCommand::RotateSecret { id, json } => {
            let (client, secret) =
                admin::clients::rotate_secret(&store, clock.now(), Actor::CLI, &id, None, None)
                    .await
                    .map_err(|e| no_client(e, &id))?;
            print_secret(&client.id, Some(&secret.0), json);
        }
        ClientCommand::List => {
            for c in store.list_clients().await? {
                println!(
                    "{}\t{}\t{}\t{}",
                    c.id,
                    if c.is_public() {
                        "public"
                    } else {
                        "confidential"
                    },
                    c.name,
                    c.redirect_uris.join(" ")
                );
            }
        }
        ClientCommand::Show { id } => {
            let c = store
                .find_client(&id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no client {id}"))?;
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "client_id": c.id, "name": c.name, "public": c.is_public(),
                    "redirect_uris": c.redirect_uris, "audiences": c.audiences,
                    "skip_consent": c.skip_consent, "created_at": c.created_at,
                    "allowed_scopes": c.allowed_scopes, "grant_types": c.grant_types,
                    "post_logout_redirect_uris": c.post_logout_redirect_uris,
                    "allowed_origins": c.allowed_origins,
                    "refresh_token_ttl": c.refresh_token_ttl, "refresh_idle_ttl": c.refresh_idle_ttl,
                    "resource_audiences": c.resource_audiences,
                    "require_mfa": c.require_mfa,
                    "require_pushed_authorization_requests": c.require_par,
                    "dpop_bound_access_tokens": c.dpop_bound,
                    "token_endpoint_auth_method": c.auth_method(),
                    "jwks_uri": c.jwks_uri,
                    "jwks": c.jwks_json(),
                    "backchannel_logout_uri": c.backchannel_logout_uri,
                    "backchannel_logout_session_required": c.backchannel_logout_session_required,
                    "id_token_signed_response_alg": c.id_token_signed_response_alg.as_str(),
                    "access_token_signed_response_alg": c.access_token_signed_response_alg.as_str(),
                    "pkce": if c.requires_pkce() { "required" } else { "optional" },
                }))?
            );
        }
        ClientCommand::RegistrationToken { ttl } => {
            let token =
                admin::registration::issue_token(&store, clock.now(), Actor::CLI, ttl).await?;
            println!("{token}");
            if !config.dynamic_registration {
                eprintln!(
                    "note: dynamic registration is off; set GATEHOUSE_DYNAMIC_REGISTRATION=true on the server"
                );
            }
        }
        ClientCommand::Delete { id } => {
            admin::clients::delete(&store, Actor::CLI, &id, None)
                .await
                .map_err(|e| no_client(e, &id))?;
            println!("deleted client {id}");
        }
    }
    store.close().await;
    Ok(())
}

async fn mail_test(config: &Config, to: &str) -> anyhow::Result<()> {
    config
        .validate()
        .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    // The test message carries no link, so it needs no master key.
    let mail = Mail::from_config(config, [0; 32])?.ok_or_else(|| {
        anyhow::anyhow!("mail is not configured: set GATEHOUSE_SMTP_URL and GATEHOUSE_MAIL_FROM")
    })?;
    mail.send_now(&crate::mail::message::test(&config.issuer, to))
        .await?;
    println!("test message sent to {to}");
    Ok(())
}

/// The configured mail, for commands that send links; `None` without GATEHOUSE_SMTP_URL.
/// Only those commands load the master key for it.
async fn cli_mail(config: &Config, store: &Store) -> anyhow::Result<Option<Arc<Mail>>> {
    if !config.mail_enabled() {
        return Ok(None);
    }
    let has_keys = !store.list_signing_keys().await?.is_empty();
    let master = MasterKey::load_or_create(config, !has_keys)?;
    Ok(Mail::from_master(config, &master)?)
}

fn outbound<'a>(mail: Option<&'a Mail>, config: &'a Config) -> Option<Outbound<'a>> {
    mail.map(|mail| Outbound {
        mail,
        issuer: &config.issuer,
    })
}

/// Sends what a command queued, so it goes out without a running server; what fails stays
/// queued for the server's sender to retry.
async fn deliver(mail: Option<&Mail>, store: &Store, clock: &Clock) {
    let Some(mail) = mail else { return };
    match mail.deliver_due(store, clock).await {
        Ok(0) => println!("mail queued; the server sends it when the mail server answers"),
        Ok(n) => println!("{n} message(s) sent"),
        Err(e) => println!("mail queued ({e}); the server will retry"),
    }
}

async fn user(config: &Config, clock: &Clock, cmd: UserCommand) -> anyhow::Result<()> {
    let store = open_store(config, clock).await?;
    let hasher =
        Hasher::default().with_policy(crate::accounts::password::Policy::from_config(config));
    match cmd {
        UserCommand::Create {
            username,
            email,
            name,
            password_stdin: _,
            admin,
            email_verified,
        } => {
            let pw = read_password()?;
            let mail = cli_mail(config, &store).await?;
            let u = admin::users::create(
                &store,
                &hasher,
                outbound(mail.as_deref(), config),
                clock.now(),
                Actor::CLI,
                admin::users::NewAccount {
                    username: &username,
                    email: email.as_deref(),
                    name: name.as_deref(),
                    password: &pw,
                    admin,
                    email_verified,
                },
            )
            .await?;
            println!("created user {} (sub {})", u.username, u.id);
            deliver(mail.as_deref(), &store, clock).await;
        }
        UserCommand::List => {
            for u in store.list_users().await? {
                println!(
                    "{}\t{}\t{}\t{}",
                    u.id,
                    u.username,
                    u.email.unwrap_or_default(),
                    if u.disabled { "disabled" } else { "active" }
                );
            }
        }
        UserCommand::Show { username } => {
            let u = find_user(&store, &username).await?;
            println!("id\t{}", u.id);
            println!("username\t{}", u.username);
            println!("email\t{}", u.email.as_deref().unwrap_or(""));
            println!("email_verified\t{}", u.email_verified);
            println!("name\t{}", u.name.as_deref().unwrap_or(""));
            println!("status\t{}", if u.disabled { "disabled" } else { "active" });
            access::print_access(&admin::access::user_access(&store, &u.id).await?);
        }
        UserCommand::AddRole { username, role } => {
            access::user_role(&store, &username, &role, true).await?;
        }
        UserCommand::RemoveRole { username, role } => {
            access::user_role(&store, &username, &role, false).await?;
        }
        UserCommand::SetPassword {
            username,
            password_stdin: _,
        } => {
            let pw = read_password()?;
            let user = find_user(&store, &username).await?;
            admin::users::set_password(&store, &hasher, clock.now(), Actor::CLI, &user.id, &pw)
                .await?;
            println!("password updated for {username}");
        }
        UserCommand::Disable { username } => {
            let user = find_user(&store, &username).await?;
            admin::users::set_disabled(&store, clock.now(), Actor::CLI, &user.id, true)
                .await
                .map_err(last_admin)?;
            println!("disabled user {username}");
        }
        UserCommand::Update { username, profile } => {
            let user = find_user(&store, &username).await?;
            let mail = cli_mail(config, &store).await?;
            admin::users::update_profile(
                &store,
                outbound(mail.as_deref(), config),
                clock.now(),
                Actor::CLI,
                &user.id,
                None,
                profile.into_changes(),
            )
            .await?;
            println!("updated user {username}");
            deliver(mail.as_deref(), &store, clock).await;
        }
        UserCommand::Invite { email } => {
            let mail = cli_mail(config, &store).await?;
            let out = outbound(mail.as_deref(), config).ok_or_else(|| {
                anyhow::anyhow!(
                    "invitations are sent by mail: set GATEHOUSE_SMTP_URL and GATEHOUSE_MAIL_FROM"
                )
            })?;
            admin::users::invite(&store, out, clock.now(), Actor::CLI, &email).await?;
            println!("invitation for {email} queued");
            deliver(mail.as_deref(), &store, clock).await;
        }
        UserCommand::VerifyEmail { username } => {
            let user = find_user(&store, &username).await?;
            if user.email.is_none() {
                anyhow::bail!("{username} has no email address");
            }
            admin::users::update_profile(
                &store,
                None,
                clock.now(),
                Actor::CLI,
                &user.id,
                None,
                accounts::ProfileChanges {
                    email_verified: Some(true),
                    ..Default::default()
                },
            )
            .await?;
            println!("marked the email address of {username} verified");
        }
        UserCommand::Unlock { username } => {
            let user = find_user(&store, &username).await?;
            let n = admin::users::unlock(&store, Actor::CLI, &user.id).await?;
            println!("cleared {n} sign-in back-off counter(s) for {username}");
        }
        UserCommand::Mfa { cmd } => mfa(&store, clock, cmd).await?,
        UserCommand::GrantAdmin { username } => {
            let user = find_user(&store, &username).await?;
            admin::users::set_admin(&store, Actor::CLI, &user.id, true).await?;
            println!("{username} is an administrator");
        }
        UserCommand::RevokeAdmin { username } => {
            let user = find_user(&store, &username).await?;
            admin::users::set_admin(&store, Actor::CLI, &user.id, false)
                .await
                .map_err(last_admin)?;
            println!("{username} is not an administrator");
        }
    }
    store.close().await;
    Ok(())
}

fn no_client(e: AdminError, id: &str) -> anyhow::Error {
    match e {
        AdminError::NotFound => anyhow::anyhow!("no client {id}"),
        e => e.into(),
    }
}

/// The refusal to remove the last administrator, in the command line's words.
fn last_admin(e: AdminError) -> anyhow::Error {
    match e {
        AdminError::Conflict(what) if what == crate::store::LAST_ADMIN => {
            anyhow::anyhow!("this is the last administrator: grant the role to someone else first")
        }
        e => e.into(),
    }
}

async fn find_user(
    store: &crate::store::Store,
    username: &str,
) -> anyhow::Result<crate::domain::User> {
    Ok(store
        .find_user_credentials(username)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no user {username}"))?
        .0)
}

async fn mfa(store: &crate::store::Store, clock: &Clock, cmd: MfaCommand) -> anyhow::Result<()> {
    match cmd {
        MfaCommand::List { username } => {
            let user = find_user(store, &username).await?;
            let summary = store.factor_summary(&user.id).await?;
            println!("factor	name	created	last_used");
            if let Some(t) = store.find_totp(&user.id).await?
                && t.confirmed_at.is_some()
            {
                println!("totp	authenticator app	{}	-", timestamp(t.confirmed_at));
            }
            for p in store.list_passkeys(&user.id).await? {
                println!(
                    "passkey	{}	{}	{}",
                    p.name,
                    timestamp(Some(p.created_at)),
                    timestamp(p.last_used_at)
                );
            }
            if summary.recovery_codes > 0 {
                println!("recovery_codes	{} unused	-	-", summary.recovery_codes);
            }
        }
        MfaCommand::Reset { username } => {
            let user = find_user(store, &username).await?;
            let ended = admin::users::reset_mfa(store, clock.now(), Actor::CLI, &user.id).await?;
            println!("ended {ended} session(s)");
            println!(
                "removed every second factor of {username}; they sign in with their password until they set up new ones"
            );
        }
    }
    Ok(())
}

fn timestamp(t: Option<i64>) -> String {
    t.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "-".into())
}

async fn keys(config: &Config, clock: &Clock, cmd: KeysCommand) -> anyhow::Result<()> {
    config
        .validate()
        .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    let store = open_store(config, clock).await?;
    let has_keys = !store.list_signing_keys().await?.is_empty();
    let master = MasterKey::load_or_create(config, !has_keys)?;
    let keys = Keystore::open(
        store.clone(),
        master,
        Policy::from_config(config),
        clock.now(),
    )
    .await?;
    match cmd {
        KeysCommand::List => {
            println!("kid\talg\tstate\tcreated\tactivates\tretires");
            for k in keys.infos() {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    k.kid,
                    k.alg,
                    k.state,
                    timestamp(Some(k.created_at)),
                    timestamp(k.activates_at),
                    timestamp(k.retires_at)
                );
            }
        }
        KeysCommand::Rotate { now, alg } => {
            let algs: Vec<Alg> = match alg {
                Some(alg) => vec![alg],
                None => keys.algs().collect(),
            };
            for alg in algs {
                let kid = keys
                    .rotate(alg, clock.now(), now, "cli")
                    .await
                    .with_context(|| format!("cannot rotate the {alg} key"))?;
                if now {
                    println!("{kid} ({alg}) signs now; the previous {alg} key is retired");
                } else {
                    println!(
                        "{kid} ({alg}) is published and starts signing in {} s",
                        keys.policy().publish_lead
                    );
                }
            }
        }
        KeysCommand::Revoke { kid } => {
            keys.revoke(&kid, clock.now(), "cli").await?;
            println!("revoked {kid}");
        }
        KeysCommand::Import { pem, kid, now } => {
            let text = std::fs::read_to_string(&pem)
                .with_context(|| format!("cannot read {}", pem.display()))?;
            let der = crate::keys::pem::rsa_private_pkcs8(&text)?;
            let kid = keys.import_rsa(der, kid, clock.now(), now, "cli").await?;
            println!(
                "imported RS256 key {kid}; it {}",
                if now {
                    "signs now"
                } else {
                    "signs after the publish lead"
                }
            );
        }
        KeysCommand::Export {
            public,
            pem: _,
            jwk,
        } => {
            let row = store
                .list_signing_keys()
                .await?
                .into_iter()
                .find(|r| r.kid == public)
                .ok_or_else(|| anyhow::anyhow!("no key with kid {public}"))?;
            let key: crate::keys::Jwk = serde_json::from_str(&row.public_jwk)?;
            if jwk {
                println!("{}", serde_json::to_string(&key)?);
            } else {
                print!("{}", crate::keys::pem::public_pem(&key)?);
            }
        }
    }
    store.close().await;
    Ok(())
}

async fn audit_command(config: &Config, clock: &Clock, cmd: AuditCommand) -> anyhow::Result<()> {
    let AuditCommand::Tail {
        lines,
        follow,
        event,
        json,
    } = cmd;
    if let Some(e) = &event
        && Event::parse(e).is_none()
    {
        bail!("--event {e}: not an audit event name");
    }
    let store = open_store(config, clock).await?;
    let mut query = crate::store::AuditQuery {
        event,
        limit: lines.clamp(1, 1000),
        ..Default::default()
    };
    let mut newest = None;
    loop {
        let mut rows = store.audit_events(&query).await?;
        rows.reverse();
        for r in rows
            .iter()
            .filter(|r| newest.as_ref().is_none_or(|n: &String| r.id > *n))
        {
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "id": r.id, "time": timestamp(Some(r.at)), "event": r.event,
                        "outcome": r.outcome, "actor": r.actor, "target": r.target,
                        "address": r.address,
                    })
                );
            } else {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    timestamp(Some(r.at)),
                    r.event,
                    r.outcome,
                    r.actor,
                    r.target,
                    r.address.as_deref().unwrap_or("-")
                );
            }
        }
        if let Some(last) = rows.last() {
            newest = Some(last.id.clone());
        }
        if !follow {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        query.limit = 1000;
    }
    store.close().await;
    Ok(())
}
