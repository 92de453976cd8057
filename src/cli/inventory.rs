use super::output::{print_json, print_rows, Column};
use super::{resolve_certificate, CliResult, Env};
use crate::model::{AuthorityKind, Environment};
use crate::ops::inventory::{self, Assignment};
use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum OwnerCommand {
    /// Create an owner (or update its contact and business unit).
    Add {
        name: String,
        #[arg(long)]
        contact: Option<String>,
        #[arg(long = "unit", value_name = "BUSINESS_UNIT")]
        business_unit: Option<String>,
    },
    /// List owners.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuthorityCommand {
    /// Register a CA source.
    Add {
        name: String,
        #[arg(long, default_value = "external")]
        kind: AuthorityKind,
        #[arg(long, value_name = "prod|nonprod")]
        env: Option<Environment>,
    },
    /// List authorities.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct AssignArgs {
    /// Certificate ids or fingerprint prefixes.
    #[arg(required = true)]
    pub certificates: Vec<String>,
    /// Owner name (created when missing); `-` clears the owner.
    #[arg(long)]
    pub owner: Option<String>,
    #[arg(long)]
    pub authority: Option<String>,
    #[arg(long, value_name = "prod|nonprod")]
    pub env: Option<Environment>,
}

#[derive(Debug, Args)]
pub struct AdoptArgs {
    /// Certificate id or fingerprint prefix.
    pub certificate: String,
    /// Identity to adopt it into (created when missing).
    #[arg(long)]
    pub identity: String,
    /// Owner of a new identity (default: the certificate's owner).
    #[arg(long)]
    pub owner: Option<String>,
    #[arg(long, value_name = "prod|nonprod")]
    pub env: Option<Environment>,
}

pub fn owner(c: OwnerCommand, env: &Env) -> CliResult {
    let mut ctx = env.open()?;
    match c {
        OwnerCommand::Add {
            name,
            contact,
            business_unit,
        } => {
            let actor = crate::access::current_actor();
            inventory::add_owner(
                &mut ctx,
                &actor,
                &name,
                contact.as_deref(),
                business_unit.as_deref(),
            )?;
            println!("owner {} saved", crate::sanitize::sanitize(&name));
        }
        OwnerCommand::List { json } => {
            let owners = ctx.store.read().owners()?;
            if json {
                print_json(&owners)?;
            } else {
                let cols = [
                    Column::new("OWNER", 0, 8),
                    Column::new("UNIT", 1, 6),
                    Column::new("CONTACT", 2, 8),
                ];
                let rows: Vec<Vec<String>> = owners
                    .iter()
                    .map(|o| {
                        vec![
                            o.name.clone(),
                            o.business_unit.clone().unwrap_or_default(),
                            o.contact.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                print_rows(&cols, &rows)?;
            }
        }
    }
    Ok(super::exit::OK)
}

pub fn authority(c: AuthorityCommand, env: &Env) -> CliResult {
    let mut ctx = env.open()?;
    match c {
        AuthorityCommand::Add { name, kind, env: e } => {
            let actor = crate::access::current_actor();
            inventory::add_authority(
                &mut ctx,
                &actor,
                &name,
                kind,
                e,
                serde_json::json!({}),
                None,
            )?;
            println!("authority {} added", crate::sanitize::sanitize(&name));
        }
        AuthorityCommand::List { json } => {
            let list = ctx.store.read().authorities()?;
            if json {
                print_json(&list)?;
            } else {
                let cols = [
                    Column::new("AUTHORITY", 0, 8),
                    Column::new("KIND", 0, 5),
                    Column::new("ENV", 1, 4),
                ];
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|a| {
                        vec![
                            a.name.clone(),
                            a.kind.as_str().into(),
                            a.environment
                                .map(|e| e.to_string())
                                .unwrap_or_else(|| "-".into()),
                        ]
                    })
                    .collect();
                print_rows(&cols, &rows)?;
            }
        }
    }
    Ok(super::exit::OK)
}

pub fn assign(a: AssignArgs, env: &Env) -> CliResult {
    let mut ctx = env.open()?;
    let ids = a
        .certificates
        .iter()
        .map(|s| resolve_certificate(ctx.store.read(), s))
        .collect::<Result<Vec<_>, _>>()?;
    let assignment = Assignment {
        owner: a.owner.map(|o| if o == "-" { None } else { Some(o) }),
        authority: a.authority,
        environment: a.env,
    };
    let actor = crate::access::current_actor();
    let n = inventory::assign(&mut ctx, &actor, &ids, &assignment)?;
    println!("{n} certificates updated");
    Ok(super::exit::OK)
}

pub fn adopt(a: AdoptArgs, env: &Env) -> CliResult {
    let mut ctx = env.open()?;
    let id = resolve_certificate(ctx.store.read(), &a.certificate)?;
    let actor = crate::access::current_actor();
    inventory::adopt(&mut ctx, &actor, id, &a.identity, a.owner.as_deref(), a.env)?;
    println!(
        "certificate #{id} adopted into identity {}",
        crate::sanitize::sanitize(&a.identity)
    );
    Ok(super::exit::OK)
}
