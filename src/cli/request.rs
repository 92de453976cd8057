use super::access::ScopeArgs;
use super::output::{print_table, terminal_width, Column};
use super::{CliError, CliResult, Env};
use crate::access::Role;
use crate::model::Environment;
use crate::ops::workflow as ops;
use crate::sanitize::sanitize;
use crate::workflow::{Payload, Request, State};
use clap::{Args, Subcommand};
use time::OffsetDateTime;

#[derive(Debug, Subcommand)]
pub enum RequestCommand {
    /// Ask for a role (optionally scoped) for an operator.
    Delegation {
        #[arg(long)]
        user: String,
        #[arg(long)]
        role: Role,
        #[command(flatten)]
        scope: ScopeArgs,
        #[command(flatten)]
        common: Common,
    },
    /// Ask to suppress one rule's finding on one certificate or identity, for a while.
    Exception {
        /// The rule id (see docs/policy.md).
        #[arg(long)]
        rule: String,
        /// The certificate's full SHA-256 fingerprint.
        #[arg(
            long,
            conflicts_with = "identity",
            required_unless_present = "identity"
        )]
        certificate: Option<String>,
        /// An identity name (covers all its certificates).
        #[arg(long)]
        identity: Option<String>,
        /// How long, in days (up to the configured maximum; exceptions always expire).
        #[arg(long)]
        days: u32,
        #[command(flatten)]
        common: Common,
    },
    /// Ask to approve an authority (CA source) for a profile.
    CaApproval {
        #[arg(long)]
        authority: String,
        #[arg(long)]
        profile: String,
        #[command(flatten)]
        common: Common,
    },
    /// Ask for an issuance the gate held for approval.
    Issuance {
        #[arg(long)]
        identity: Option<String>,
        #[arg(long = "san", value_name = "NAME")]
        sans: Vec<String>,
        #[arg(long)]
        profile: Option<String>,
        #[arg(long)]
        authority: Option<String>,
        #[arg(long, value_name = "prod|nonprod")]
        env: Option<Environment>,
        #[arg(long, value_name = "DAYS")]
        validity_days: Option<u32>,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Debug, Args)]
pub struct Common {
    /// Why: shown to reviewers and kept in the audit log.
    #[arg(long)]
    pub justification: String,
    /// A ticket or incident reference.
    #[arg(long)]
    pub ticket: Option<String>,
    /// Print the request as JSON (with its `id`).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RequestsArgs {
    /// Only requests I opened.
    #[arg(long, conflicts_with = "to_review")]
    pub mine: bool,
    /// Only pending requests waiting on my review.
    #[arg(long)]
    pub to_review: bool,
    /// Only requests in this state.
    #[arg(long)]
    pub state: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DecideArgs {
    pub id: i64,
    /// Required: what the reviewer checked, or why not.
    #[arg(long)]
    pub comment: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct WithdrawArgs {
    pub id: i64,
    #[arg(long)]
    pub json: bool,
}

pub fn request(c: RequestCommand, env: &Env) -> CliResult {
    let (payload, common) = match c {
        RequestCommand::Delegation {
            user,
            role,
            scope,
            common,
        } => (
            Payload::Delegation {
                user,
                role,
                scope: scope.scope(),
            },
            common,
        ),
        RequestCommand::Exception {
            rule,
            certificate,
            identity,
            days,
            common,
        } => {
            let (object_type, object_id) = match (certificate, identity) {
                (Some(c), _) => ("certificate", c),
                (None, Some(i)) => ("identity", i),
                (None, None) => return Err(CliError::usage("give --certificate or --identity")),
            };
            (
                Payload::Exception {
                    rule,
                    object_type: object_type.into(),
                    object_id,
                    days,
                },
                common,
            )
        }
        RequestCommand::CaApproval {
            authority,
            profile,
            common,
        } => (Payload::CaApproval { authority, profile }, common),
        RequestCommand::Issuance {
            identity,
            sans,
            profile,
            authority,
            env: environment,
            validity_days,
            common,
        } => (
            Payload::Issuance {
                identity,
                profile,
                authority,
                environment,
                sans,
                validity_days,
                approver_role: None,
            },
            common,
        ),
    };
    let mut ctx = env.open()?;
    let actor = crate::access::current_actor();
    let req = ops::open(
        &mut ctx,
        &actor,
        payload,
        &common.justification,
        common.ticket.as_deref(),
    )?;
    print_one(&ctx, &req, common.json, "opened")
}

fn print_one(ctx: &crate::ops::Ctx, req: &Request, json: bool, verb: &str) -> CliResult {
    if json {
        println!("{}", serde_json::to_string_pretty(req).unwrap_or_default());
        return Ok(super::exit::OK);
    }
    let now = ctx.now();
    println!(
        "request {} {verb}: {} — {}",
        req.id,
        req.kind,
        sanitize(&req.payload.summary())
    );
    let state = req.effective_state(now);
    match state {
        State::Pending => println!(
            "  pending: {}/{} approvals{}, expires {}",
            req.approvals().count(),
            req.approvals_required,
            if req.distinct_roles {
                " from distinct roles"
            } else {
                ""
            },
            crate::clock::rfc3339(req.expires_at)
        ),
        s => println!(
            "  {s}{}{}",
            req.decided_by
                .as_deref()
                .map(|b| format!(" by {}", sanitize(b)))
                .unwrap_or_default(),
            req.decision_comment
                .as_deref()
                .map(|c| format!(": {}", sanitize(c)))
                .unwrap_or_default()
        ),
    }
    Ok(super::exit::OK)
}

pub fn requests(a: RequestsArgs, env: &Env) -> CliResult {
    let ctx = env.open()?;
    let actor = crate::access::current_actor();
    super::require_read(&ctx, &actor)?;
    let now = ctx.now();
    let read = ctx.store.read();
    let state = a
        .state
        .as_deref()
        .map(|s| {
            State::parse(s).ok_or_else(|| {
                CliError::usage(format!(
                    "unknown state {s:?} (pending, approved, denied, withdrawn, expired, revoked)"
                ))
            })
        })
        .transpose()?;
    let mut list = if a.to_review {
        ops::waiting_on(read, &actor, now)?
    } else {
        read.requests(&crate::store::RequestFilter {
            requester: a.mine.then(|| actor.name.clone()),
            ..Default::default()
        })?
    };
    if let Some(s) = state {
        list.retain(|r| r.effective_state(now) == s);
    }
    if a.json {
        let v: Vec<serde_json::Value> = list
            .iter()
            .map(|r| {
                let mut j = serde_json::to_value(r).unwrap_or_default();
                j["effective_state"] = r.effective_state(now).as_str().into();
                j
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return Ok(super::exit::OK);
    }
    let cols = [
        Column {
            header: "ID",
            drop_priority: 0,
            min: 2,
        },
        Column {
            header: "KIND",
            drop_priority: 0,
            min: 6,
        },
        Column {
            header: "STATE",
            drop_priority: 0,
            min: 7,
        },
        Column {
            header: "REQUESTER",
            drop_priority: 1,
            min: 6,
        },
        Column {
            header: "ASKS",
            drop_priority: 0,
            min: 12,
        },
        Column {
            header: "APPROVALS",
            drop_priority: 2,
            min: 3,
        },
        Column {
            header: "AGE",
            drop_priority: 3,
            min: 3,
        },
        Column {
            header: "JUSTIFICATION",
            drop_priority: 4,
            min: 8,
        },
    ];
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                r.kind.to_string(),
                r.effective_state(now).to_string(),
                r.requester.clone(),
                r.payload.summary(),
                format!("{}/{}", r.approvals().count(), r.approvals_required),
                age(now, r.created_at),
                r.justification.clone(),
            ]
        })
        .collect();
    print_table(
        &mut std::io::stdout().lock(),
        &cols,
        &rows,
        terminal_width(),
    )
    .map_err(|e| CliError::failed(e.to_string()))?;
    Ok(super::exit::OK)
}

/// `3d`, `5h`, `12m`: how long a request has waited.
pub fn age(now: OffsetDateTime, since: OffsetDateTime) -> String {
    let s = (now - since).whole_seconds().max(0);
    if s >= 86_400 {
        format!("{}d", s / 86_400)
    } else if s >= 3_600 {
        format!("{}h", s / 3_600)
    } else {
        format!("{}m", s / 60)
    }
}

/// For the concurrency test only: announce on stderr that the decision is about to be
/// taken, so a test can release two processes at once. Debug builds only.
fn announce() {
    if cfg!(debug_assertions) && std::env::var_os("CERTDECK_TEST_ANNOUNCE").is_some() {
        eprintln!("ready");
    }
}

pub fn approve(a: DecideArgs, env: &Env) -> CliResult {
    let mut ctx = env.open()?;
    let actor = crate::access::current_actor();
    announce();
    let req = ops::approve(&mut ctx, &actor, a.id, &a.comment)?;
    print_one(&ctx, &req, a.json, "reviewed")
}

pub fn deny(a: DecideArgs, env: &Env) -> CliResult {
    let mut ctx = env.open()?;
    let actor = crate::access::current_actor();
    announce();
    let req = ops::deny(&mut ctx, &actor, a.id, &a.comment)?;
    print_one(&ctx, &req, a.json, "reviewed")
}

pub fn withdraw(a: WithdrawArgs, env: &Env) -> CliResult {
    let mut ctx = env.open()?;
    let actor = crate::access::current_actor();
    let req = ops::withdraw(&mut ctx, &actor, a.id)?;
    print_one(&ctx, &req, a.json, "withdrawn")
}
