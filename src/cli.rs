//! The command line: `serve` (default), `migrate`, and admin commands for clients and users.
use crate::accounts::password::Hasher;
use crate::accounts::{self, NewUser};
use crate::clock::Clock;
use crate::config::Config;
use crate::crypto::{hash_secret, random_id, random_token};
use crate::domain::{Client, validate_redirect_uri};
use crate::keys::{Keystore, MasterKey, Policy};
use crate::startup::{App, ensure_admin, open_store};
use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use std::io::Read;

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
    Client(ClientCommand),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Inspect and rotate signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List keys: kid, algorithm, state, created, activates, retires.
    List,
    /// Start a rotation: publish a new key that signs after the publish lead.
    Rotate {
        /// Emergency: the new key signs at once and the old one is retired. Relying parties
        /// that cached the JWKS fail to verify new tokens until they refetch it.
        #[arg(long)]
        now: bool,
    },
    /// Remove a compromised key from the JWKS at once (running servers drop it within one
    /// key refresh interval); tokens it signed stop validating here.
    Revoke { kid: String },
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client; prints its id and (for confidential clients) its secret, once.
    Create {
        #[arg(long)]
        name: String,
        /// Exact redirect URI (repeatable).
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// A public client (native app, SPA): no secret, PKCE only.
        #[arg(long)]
        public: bool,
        /// An API this client's access tokens are for (repeatable; the token's `aud`).
        #[arg(long = "audience")]
        audiences: Vec<String>,
        /// First-party app: never show the consent page.
        #[arg(long)]
        skip_consent: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List clients.
    List,
    /// Show one client.
    Show { id: String },
    /// Delete a client.
    Delete { id: String },
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
    },
    /// List users.
    List,
    /// Set a user's password, read from standard input.
    SetPassword {
        username: String,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Disable a user: they can no longer sign in.
    Disable { username: String },
}

/// Parses the command line and runs it.
pub async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    crate::telemetry::init(cli.config.log_format);
    let clock = Clock::system();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.config, clock).await,
        Command::Migrate => {
            open_store(&cli.config).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Client(cmd) => client(&cli.config, &clock, cmd).await,
        Command::User(cmd) => user(&cli.config, &clock, cmd).await,
        Command::Keys(cmd) => keys(&cli.config, &clock, cmd).await,
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
    let store = open_store(config).await?;
    match cmd {
        ClientCommand::Create {
            name,
            redirect_uris,
            public,
            audiences,
            skip_consent,
            json,
        } => {
            let name = name.trim().to_owned();
            if name.is_empty() || name.len() > 200 {
                bail!("--name must be 1 to 200 characters");
            }
            for uri in &redirect_uris {
                validate_redirect_uri(uri).map_err(|e| anyhow::anyhow!("{uri}: {e}"))?;
            }
            for aud in &audiences {
                url::Url::parse(aud)
                    .map_err(|_| anyhow::anyhow!("--audience {aud}: must be an absolute URI"))?;
            }
            let secret = (!public).then(random_token);
            let client = Client {
                id: random_id(),
                name,
                secret_hash: secret.as_deref().map(hash_secret),
                redirect_uris,
                audiences,
                skip_consent,
                created_at: clock.now(),
            };
            store.insert_client(&client).await?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "client_id": client.id, "client_secret": secret })
                );
            } else {
                println!("client_id: {}", client.id);
                if let Some(s) = secret {
                    println!(
                        "client_secret: {s}\n(shown once: store it now; Gatehouse keeps only a hash)"
                    );
                }
            }
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
                }))?
            );
        }
        ClientCommand::Delete { id } => {
            store
                .delete_client(&id)
                .await
                .map_err(|_| anyhow::anyhow!("no client {id}"))?;
            println!("deleted client {id}");
        }
    }
    Ok(())
}

async fn user(config: &Config, clock: &Clock, cmd: UserCommand) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let hasher = Hasher::default();
    match cmd {
        UserCommand::Create {
            username,
            email,
            name,
            password_stdin: _,
        } => {
            let pw = read_password()?;
            let u = accounts::create_user(
                &store,
                &hasher,
                NewUser {
                    username: &username,
                    email: email.as_deref(),
                    name: name.as_deref(),
                },
                &pw,
                clock.now(),
            )
            .await?;
            println!("created user {} (sub {})", u.username, u.id);
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
        UserCommand::SetPassword {
            username,
            password_stdin: _,
        } => {
            let pw = read_password()?;
            accounts::set_password(&store, &hasher, &username, &pw).await?;
            println!("password updated for {username}");
        }
        UserCommand::Disable { username } => {
            store
                .set_user_disabled(&username, true)
                .await
                .map_err(|_| anyhow::anyhow!("no user {username}"))?;
            println!("disabled user {username}");
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
    let store = open_store(config).await?;
    let master = MasterKey::load_or_create(config)?;
    let keys = Keystore::open(store, master, Policy::from_config(config), clock.now()).await?;
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
        KeysCommand::Rotate { now } => {
            let kid = keys.rotate(clock.now(), now).await?;
            if now {
                println!("{kid} signs now; the previous key is retired");
            } else {
                println!(
                    "{kid} is published and starts signing in {} s",
                    keys.policy().publish_lead
                );
            }
        }
        KeysCommand::Revoke { kid } => {
            keys.revoke(&kid, clock.now()).await?;
            println!("revoked {kid}");
        }
    }
    Ok(())
}
