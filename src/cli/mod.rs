//! The headless front-end: clap commands that call `ops` and read queries, and print
//! for people (sanitized, aligned) or for machines (`--json`, `--csv`, exact values).

pub mod access;
pub mod audit;
pub mod demo;
pub mod import;
pub mod init;
pub mod inventory;
pub mod lifecycle;
pub mod list;
pub mod output;
pub mod policy;
pub mod request;
pub mod show;

use crate::clock::Clock;
use crate::config::Config;
use crate::ops::{Ctx, OpError};
use crate::store::Store;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;

/// Process exit codes, as documented in the README.
pub mod exit {
    pub const OK: i32 = 0;
    /// Something failed (some inputs, a refused or impossible operation).
    pub const FAILED: i32 = 1;
    /// The command line or its arguments were wrong.
    pub const USAGE: i32 = 2;
}

#[derive(Debug, Parser)]
#[command(name = "certdeck", version, about = "Terminal operations console for the certificate lifecycle", long_about = None)]
pub struct Cli {
    /// Database file (else $CERTDECK_DB, else the config's `database`, else the XDG data dir).
    #[arg(long, global = true, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Config file (else the XDG config dir's certdeck/config.toml).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Open the database read-only: nothing can be changed, dangerous actions are hidden.
    #[arg(long, global = true)]
    pub readonly: bool,
    /// Console theme (default, light, high-contrast, ansi16, mono).
    #[arg(long, global = true, value_name = "NAME")]
    pub theme: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import certificates from PEM/DER files, directories (recursive) or `-` (stdin).
    Import(import::ImportArgs),
    /// List certificates in the inventory.
    List(list::ListArgs),
    /// Show one certificate in full: every field and extension, where seen, owner, chain.
    Show(show::ShowArgs),
    /// Create a realistic demo estate and open the console on it.
    Demo(demo::DemoArgs),
    /// Owners: the teams and people responsible for certificates.
    #[command(subcommand)]
    Owner(inventory::OwnerCommand),
    /// Authorities: the CA sources certificates come from.
    #[command(subcommand)]
    Authority(inventory::AuthorityCommand),
    /// Assign owner, authority or environment to certificates.
    Assign(inventory::AssignArgs),
    /// Adopt an observed certificate into a managed identity.
    Adopt(inventory::AdoptArgs),
    /// Policy as code: profiles, assignment, compliance checks, exceptions.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Apply an estate file (owners, authorities, identities, targets): plan, then change what differs.
    Apply(lifecycle::ApplyArgs),
    /// Write the current estate in the estate-file format.
    ExportConfig(lifecycle::ExportConfigArgs),
    /// Renew an identity now (issue, deploy, reload, verify), or every identity that is due.
    Renew(lifecycle::RenewArgs),
    /// Lifecycle jobs: state, diagnosis, attempts, next attempt.
    Jobs(lifecycle::JobsArgs),
    /// Lifecycle health: due, failing, open circuits, alerts (exit 3 when a person is needed).
    Status(lifecycle::StatusArgs),
    /// The automation loop: plan, renew what is due, sleep until the next due time.
    Run(lifecycle::RunArgs),
    /// Revoke an identity's current certificate (or a certificate) at its authority.
    Revoke(lifecycle::RevokeArgs),
    /// Make yourself (the OS user) the first central-PKI administrator of a new database.
    Init(init::InitArgs),
    /// Operators, roles, the RACI matrix and service accounts.
    #[command(subcommand)]
    Access(access::AccessCommand),
    /// The tamper-evident audit log: verify, export, tail.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Open a request: delegation, exception, ca-approval, issuance.
    #[command(subcommand)]
    Request(request::RequestCommand),
    /// List requests (all, --mine, or --to-review).
    Requests(request::RequestsArgs),
    /// Approve a request (a comment is required).
    Approve(request::DecideArgs),
    /// Deny a request (the comment is the reason; one deny ends it).
    Deny(request::DecideArgs),
    /// Withdraw a request you opened.
    Withdraw(request::WithdrawArgs),
}

/// An error that carries its exit code.
#[derive(Debug)]
pub struct CliError {
    pub code: i32,
    pub message: String,
}

impl CliError {
    pub fn usage(m: impl Into<String>) -> CliError {
        CliError {
            code: exit::USAGE,
            message: m.into(),
        }
    }
    pub fn failed(m: impl Into<String>) -> CliError {
        CliError {
            code: exit::FAILED,
            message: m.into(),
        }
    }
}

impl From<OpError> for CliError {
    fn from(e: OpError) -> Self {
        let code = match e {
            OpError::Invalid(_) => exit::USAGE,
            _ => exit::FAILED,
        };
        CliError {
            code,
            message: crate::sanitize::sanitize(&e.to_string()).into_owned(),
        }
    }
}

impl From<crate::store::StoreError> for CliError {
    fn from(e: crate::store::StoreError) -> Self {
        CliError::failed(crate::sanitize::sanitize(&e.to_string()).into_owned())
    }
}

impl From<crate::config::ConfigError> for CliError {
    fn from(e: crate::config::ConfigError) -> Self {
        CliError::usage(e.to_string())
    }
}

pub type CliResult = Result<i32, CliError>;

/// Global options resolved into what commands need.
pub struct Env {
    pub config: Config,
    pub db_path: PathBuf,
    pub readonly: bool,
    pub theme: Option<String>,
    pub clock: Arc<dyn Clock>,
}

impl Env {
    pub fn from_cli(cli: &Cli) -> Result<Env, CliError> {
        let config = Config::load(cli.config.as_deref())?;
        let db_path = cli
            .db
            .clone()
            .or_else(|| {
                std::env::var_os("CERTDECK_DB")
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            })
            .or_else(|| config.database.clone())
            .unwrap_or_else(crate::config::default_database_path);
        Ok(Env {
            config,
            db_path,
            readonly: cli.readonly,
            theme: cli.theme.clone(),
            clock: crate::clock::from_env(),
        })
    }

    /// Opens the store for the command (read-only when asked, or when the command only reads
    /// and the database does not exist yet is an error rather than a silent creation).
    pub fn open(&self) -> Result<Ctx, CliError> {
        let store = if self.readonly {
            Store::open_readonly(&self.db_path)?
        } else {
            let path = &self.db_path;
            Store::open_waiting(path, &mut || {
                use std::io::IsTerminal;
                if std::io::stderr().is_terminal() {
                    eprintln!(
                        "certdeck: waiting for another certdeck to finish writing {} (a bulk import)",
                        crate::sanitize::sanitize(&path.display().to_string())
                    );
                }
            })?
        };
        let ctx = Ctx::new(store, self.clock.clone(), self.config.clone());
        // Users without a role read at most, and not even that when the config says so.
        require_read(&ctx, &crate::access::current_actor())?;
        Ok(ctx)
    }
}

/// Runs the parsed command line; returns the exit code.
pub fn run(mut cli: Cli) -> i32 {
    if let Some(Command::Demo(a)) = &mut cli.command {
        a.db = cli.db.clone();
    }
    let result = Env::from_cli(&cli).and_then(|env| dispatch(cli.command, &env));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("certdeck: {}", e.message);
            e.code
        }
    }
}

fn dispatch(command: Option<Command>, env: &Env) -> CliResult {
    match command {
        None => crate::tui::run_console(env, None),
        Some(Command::Import(a)) => import::run(a, env),
        Some(Command::List(a)) => list::run(a, env),
        Some(Command::Show(a)) => show::run(a, env),
        Some(Command::Demo(a)) => demo::run(a, env),
        Some(Command::Owner(c)) => inventory::owner(c, env),
        Some(Command::Authority(c)) => inventory::authority(c, env),
        Some(Command::Assign(a)) => inventory::assign(a, env),
        Some(Command::Adopt(a)) => inventory::adopt(a, env),
        Some(Command::Policy(c)) => policy::run(c, env),
        Some(Command::Apply(a)) => lifecycle::apply(a, env),
        Some(Command::ExportConfig(a)) => lifecycle::export_config(a, env),
        Some(Command::Renew(a)) => lifecycle::renew(a, env),
        Some(Command::Jobs(a)) => lifecycle::jobs(a, env),
        Some(Command::Status(a)) => lifecycle::status(a, env),
        Some(Command::Run(a)) => lifecycle::run(a, env),
        Some(Command::Revoke(a)) => lifecycle::revoke(a, env),
        Some(Command::Init(a)) => init::run(a, env),
        Some(Command::Access(c)) => access::run(c, env),
        Some(Command::Audit(c)) => audit::run(c, env),
        Some(Command::Request(c)) => request::request(c, env),
        Some(Command::Requests(a)) => request::requests(a, env),
        Some(Command::Approve(a)) => request::approve(a, env),
        Some(Command::Deny(a)) => request::deny(a, env),
        Some(Command::Withdraw(a)) => request::withdraw(a, env),
    }
}

/// Refuses to show anything to a user without a role when the config says they may not
/// read (`[access] unassigned = "none"`).
pub fn require_read(ctx: &Ctx, actor: &crate::model::Actor) -> Result<(), CliError> {
    crate::access::may_read(ctx.store.read(), actor, &ctx.config)
        .map_err(|d| CliError::failed(format!("denied: {d}")))
}

/// Resolves `ID` or a fingerprint prefix (hex, colons allowed, at least 6 digits) to one
/// certificate id; ambiguity is an error listing the candidates.
pub fn resolve_certificate(read: crate::store::Read<'_>, sel: &str) -> Result<i64, CliError> {
    let s = sel.trim().trim_start_matches('#');
    if !s.is_empty() && s.len() < 6 && s.chars().all(|c| c.is_ascii_digit()) {
        let id: i64 = s
            .parse()
            .map_err(|_| CliError::usage(format!("bad id {sel}")))?;
        return match read.certificate_row(id)? {
            Some(_) => Ok(id),
            None => Err(CliError::failed(format!("no certificate with id {id}"))),
        };
    }
    let hex: String = s
        .trim_start_matches("sha256:")
        .chars()
        .filter(|c| *c != ':')
        .collect::<String>()
        .to_ascii_lowercase();
    if hex.len() < 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(CliError::usage(format!(
            "{:?} is neither an id nor a fingerprint prefix (at least 6 hex digits)",
            crate::sanitize::sanitize(sel)
        )));
    }
    let ids = read.certificates_by_fingerprint_prefix(&hex)?;
    match ids.as_slice() {
        [] => Err(CliError::failed(format!(
            "no certificate with fingerprint starting {hex}"
        ))),
        [id] => Ok(*id),
        many => Err(CliError::usage(format!(
            "fingerprint prefix {hex} matches {} certificates (ids {}); give more digits",
            many.len(),
            many.iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}
