use super::output::{print_json, print_rows, Column};
use super::{CliError, CliResult, Env};
use crate::access::{Activity, Letters, Role, Scope};
use crate::model::Environment;
use crate::ops::access as ops;
use crate::sanitize::sanitize;
use clap::{Args, Subcommand};
use time::OffsetDateTime;

#[derive(Debug, Subcommand)]
pub enum AccessCommand {
    /// Grant a role to an operator (an OS user name), optionally scoped.
    Grant {
        user: String,
        role: Role,
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// Revoke a role (every grant of it, or only the one with the given scope).
    Revoke {
        user: String,
        role: Role,
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// List operators and their roles.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show the RACI matrix, or change one cell of it (`raci set ACTIVITY ROLE LETTERS`).
    Raci {
        #[command(subcommand)]
        set: Option<RaciCommand>,
        #[arg(long)]
        json: bool,
    },
    /// Service accounts: the identities automation acts as.
    #[command(subcommand)]
    Sa(SaCommand),
}

#[derive(Debug, Subcommand)]
pub enum RaciCommand {
    /// Set the letters (e.g. R/A, C, I, -) of one role for one activity.
    Set {
        activity: String,
        role: Role,
        letters: String,
    },
}

#[derive(Debug, Clone, Default, Args)]
pub struct ScopeArgs {
    /// Limit to an owner (repeatable).
    #[arg(long = "owner", value_name = "OWNER")]
    pub owners: Vec<String>,
    /// Limit to an environment (repeatable).
    #[arg(long = "env", value_name = "prod|nonprod")]
    pub environments: Vec<Environment>,
    /// Limit to names under a DNS suffix (repeatable).
    #[arg(long = "dns-suffix", value_name = "SUFFIX")]
    pub dns_suffixes: Vec<String>,
}

impl ScopeArgs {
    pub fn scope(&self) -> Scope {
        Scope {
            owners: self.owners.clone(),
            environments: self.environments.clone(),
            dns_suffixes: self.dns_suffixes.clone(),
        }
        .normalized()
    }
    pub fn given(&self) -> bool {
        !self.scope().is_unrestricted()
    }
}

#[derive(Debug, Subcommand)]
pub enum SaCommand {
    /// Create a service account for one environment.
    Add {
        name: String,
        #[arg(long, value_name = "prod|nonprod")]
        env: Environment,
        /// Credential reference: env:NAME, file:/path (mode 0600/0400) or exec:command.
        #[arg(long, value_name = "REF")]
        credential: String,
        #[arg(long)]
        owner: Option<String>,
        /// The OS user the automation runs as (its processes act as this account).
        #[arg(long, value_name = "USER")]
        os_user: Option<String>,
        #[arg(long = "profile", value_name = "PROFILE")]
        profiles: Vec<String>,
        #[arg(long = "dns-suffix", value_name = "SUFFIX")]
        dns_suffixes: Vec<String>,
        /// Rotate the credential by: a date (2027-01-31), an RFC 3339 time, or `90d`.
        #[arg(long, value_name = "WHEN")]
        rotate_by: Option<String>,
        /// Retire the account at: a date, an RFC 3339 time, or `365d`.
        #[arg(long, value_name = "WHEN")]
        retire_at: Option<String>,
    },
    /// Show one service account, or all with their findings.
    Show {
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Record a credential rotation (optionally a new reference) and the next due date.
    Rotate {
        name: String,
        #[arg(long, value_name = "REF")]
        credential: Option<String>,
        #[arg(long, value_name = "WHEN")]
        rotate_by: Option<String>,
    },
    /// Retire a service account now.
    Retire { name: String },
}

/// `2027-01-31`, an RFC 3339 time, or `Nd` days from now.
pub fn parse_when(s: &str, now: OffsetDateTime) -> Result<OffsetDateTime, CliError> {
    let s = s.trim();
    if let Some(d) = s.strip_suffix('d') {
        if let Ok(n) = d.parse::<i64>() {
            return Ok(now + time::Duration::days(n));
        }
    }
    if let Some(h) = s.strip_suffix('h') {
        if let Ok(n) = h.parse::<i64>() {
            return Ok(now + time::Duration::hours(n));
        }
    }
    if let Ok(t) = OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return Ok(t);
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(d) = time::Date::parse(s, &fmt) {
        return Ok(d.midnight().assume_utc());
    }
    Err(CliError::usage(format!(
        "{:?} is not a time (expected 2027-01-31, an RFC 3339 time, or a duration like 90d)",
        sanitize(s)
    )))
}

pub fn run(c: AccessCommand, env: &Env) -> CliResult {
    let mut ctx = env.open()?;
    let actor = crate::access::current_actor();
    match c {
        AccessCommand::Grant { user, role, scope } => {
            let new = ops::grant(&mut ctx, &actor, &user, role, scope.scope())?;
            println!(
                "{} {} {role} ({})",
                sanitize(&user),
                if new { "now holds" } else { "already held" },
                sanitize(&scope.scope().to_string())
            );
        }
        AccessCommand::Revoke { user, role, scope } => {
            let n = ops::revoke(
                &mut ctx,
                &actor,
                &user,
                role,
                scope.given().then(|| scope.scope()),
            )?;
            println!("revoked {n} {role} grant(s) from {}", sanitize(&user));
        }
        AccessCommand::List { json } => {
            super::require_read(&ctx, &actor)?;
            let ops = ctx.store.read().operators()?;
            if json {
                print_json(&ops)?;
            } else {
                let cols = [
                    Column::new("OPERATOR", 0, 8),
                    Column::new("ROLE", 0, 8),
                    Column::new("SCOPE", 0, 8),
                    Column::new("GRANTED BY", 2, 6),
                    Column::new("SINCE", 1, 10),
                ];
                let mut rows = Vec::new();
                for o in &ops {
                    if o.grants.is_empty() {
                        rows.push(vec![
                            o.name.clone(),
                            "(none)".into(),
                            String::new(),
                            String::new(),
                            String::new(),
                        ]);
                    }
                    for g in &o.grants {
                        rows.push(vec![
                            o.name.clone(),
                            g.role.to_string(),
                            g.scope.to_string(),
                            g.granted_by.clone(),
                            crate::clock::rfc3339(g.granted_at),
                        ]);
                    }
                }
                print_rows(&cols, &rows)?;
            }
        }
        AccessCommand::Raci {
            set:
                Some(RaciCommand::Set {
                    activity,
                    role,
                    letters,
                }),
            ..
        } => {
            let activity: Activity = activity.parse().map_err(CliError::usage)?;
            let letters: Letters = letters.parse().map_err(CliError::usage)?;
            ops::set_raci(&mut ctx, &actor, activity, role, letters)?;
            println!("{} / {role}: {letters}", activity.as_str());
        }
        AccessCommand::Raci { set: None, json } => {
            super::require_read(&ctx, &actor)?;
            let m = ctx.store.read().raci_matrix()?;
            if json {
                let rows: Vec<serde_json::Value> = Activity::ALL
                    .iter()
                    .map(|a| {
                        let mut o = serde_json::Map::new();
                        o.insert("activity".into(), a.as_str().into());
                        for r in Role::MATRIX {
                            o.insert(r.as_str().into(), m.letters(*a, r).to_string().into());
                        }
                        serde_json::Value::Object(o)
                    })
                    .collect();
                print_json(&rows)?;
            } else {
                let cols = [
                    Column::new("ACTIVITY", 0, 12),
                    Column::new("CENTRAL-PKI", 0, 3),
                    Column::new("PLATFORM", 0, 3),
                    Column::new("APP-OWNER", 0, 3),
                    Column::new("COMPLIANCE", 0, 3),
                ];
                let rows: Vec<Vec<String>> = Activity::ALL
                    .iter()
                    .map(|a| {
                        let mut r = vec![a.as_str().to_string()];
                        r.extend(
                            Role::MATRIX
                                .iter()
                                .map(|role| m.letters(*a, *role).to_string()),
                        );
                        r
                    })
                    .collect();
                print_rows(&cols, &rows)?;
            }
        }
        AccessCommand::Sa(c) => return sa(c, &mut ctx, &actor),
    }
    Ok(super::exit::OK)
}

fn sa(c: SaCommand, ctx: &mut crate::ops::Ctx, actor: &crate::model::Actor) -> CliResult {
    let now = ctx.now();
    match c {
        SaCommand::Add {
            name,
            env,
            credential,
            owner,
            os_user,
            profiles,
            dns_suffixes,
            rotate_by,
            retire_at,
        } => {
            let new = ops::NewServiceAccount {
                name: name.clone(),
                environment: env,
                owner,
                os_user,
                profiles,
                dns_suffixes,
                credential_ref: credential,
                rotate_by: rotate_by.map(|s| parse_when(&s, now)).transpose()?,
                retire_at: retire_at.map(|s| parse_when(&s, now)).transpose()?,
            };
            ops::add_service_account(ctx, actor, &new)?;
            println!("service account {} added ({env})", sanitize(&name));
        }
        SaCommand::Show { name, json } => {
            super::require_read(ctx, actor)?;
            let read = ctx.store.read();
            let accounts = match &name {
                Some(n) => vec![read.service_account(n)?.ok_or_else(|| {
                    CliError::failed(format!("no service account {}", sanitize(n)))
                })?],
                None => read.service_accounts()?,
            };
            let days = ctx.config.access.service_account_unused_days;
            if json {
                let v: Vec<serde_json::Value> = accounts
                    .iter()
                    .map(|a| {
                        let mut j = serde_json::to_value(a).unwrap_or_default();
                        j["retired"] = a.is_retired(now).into();
                        j["findings"] =
                            serde_json::to_value(a.findings(now, days)).unwrap_or_default();
                        j
                    })
                    .collect();
                print_json(&v)?;
                return Ok(super::exit::OK);
            }
            let t = |o: Option<OffsetDateTime>| {
                o.map(crate::clock::rfc3339).unwrap_or_else(|| "-".into())
            };
            for a in &accounts {
                println!("{}", sanitize(&a.name));
                let list = |v: &[String]| {
                    if v.is_empty() {
                        "none".to_string()
                    } else {
                        v.join(", ")
                    }
                };
                for (k, v) in [
                    ("environment", a.environment.to_string()),
                    ("owner", a.owner.clone().unwrap_or_else(|| "(none)".into())),
                    ("os user", a.os_user.clone().unwrap_or_else(|| "-".into())),
                    ("profiles", list(&a.profiles)),
                    ("dns suffixes", list(&a.dns_suffixes)),
                    ("credential", a.credential_ref.clone()),
                    (
                        "created",
                        format!(
                            "{} by {}",
                            crate::clock::rfc3339(a.created_at),
                            a.created_by
                        ),
                    ),
                    ("rotated", t(a.rotated_at)),
                    ("rotate by", t(a.rotate_by)),
                    ("retire at", t(a.retire_at)),
                    ("retired", t(a.retired_at)),
                    ("last used", t(a.last_used)),
                ] {
                    println!("  {k:<13} {}", sanitize(&v));
                }
                for f in a.findings(now, days) {
                    println!("  ! {:<11} {}", f.rule, sanitize(&f.message));
                }
            }
        }
        SaCommand::Rotate {
            name,
            credential,
            rotate_by,
        } => {
            let by = rotate_by.map(|s| parse_when(&s, now)).transpose()?;
            ops::rotate_service_account(ctx, actor, &name, credential.as_deref(), by)?;
            println!("service account {} rotated", sanitize(&name));
        }
        SaCommand::Retire { name } => {
            ops::retire_service_account(ctx, actor, &name)?;
            println!("service account {} retired", sanitize(&name));
        }
    }
    Ok(super::exit::OK)
}
