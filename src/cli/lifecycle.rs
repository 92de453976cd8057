//! Lifecycle commands: `apply`, `export-config`, `renew`, `jobs`.

use super::{exit, CliError, CliResult, Env};
use crate::lifecycle::estate::Estate;
use crate::ops::lifecycle::{self as lc, RunOptions, RunOutcome};
use crate::sanitize::sanitize;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The estate file (TOML: [[owner]], [[authority]], [[identity]]).
    #[arg(value_name = "FILE.toml")]
    pub file: PathBuf,
    /// Show the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExportConfigArgs {
    /// Write to this file instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RenewArgs {
    /// The identity to renew (it gets its first certificate when it has none).
    #[arg(value_name = "IDENTITY", required_unless_present = "due")]
    pub identity: Option<String>,
    /// Retry at once, ignoring the identity's backoff.
    #[arg(long)]
    pub now: bool,
    /// Renew every identity that is due.
    #[arg(long, conflicts_with = "identity")]
    pub due: bool,
    /// With --due: print the plan and do nothing.
    #[arg(long, requires = "due")]
    pub dry_run: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct JobsArgs {
    /// Only failed jobs.
    #[arg(long)]
    pub failed: bool,
    /// At most this many jobs (newest first).
    #[arg(long, default_value_t = 50)]
    pub limit: i64,
    #[arg(long)]
    pub json: bool,
}

fn json_out<T: serde::Serialize>(v: &T) -> Result<(), CliError> {
    let s = serde_json::to_string_pretty(v).map_err(|e| CliError::failed(e.to_string()))?;
    println!("{s}");
    Ok(())
}

pub fn apply(a: ApplyArgs, env: &Env) -> CliResult {
    let estate = Estate::load(&a.file)
        .map_err(|e| CliError::usage(sanitize(&e.to_string()).into_owned()))?;
    let mut ctx = env.open()?;
    let plan = if a.dry_run {
        lc::plan_estate(&ctx, &estate)?
    } else {
        let actor = crate::access::current_actor();
        lc::apply_estate(&mut ctx, &actor, &estate)?
    };
    if a.json {
        json_out(&serde_json::json!({"dry_run": a.dry_run, "items": plan.items}))?;
    } else {
        print!("{}", plan.render());
        if a.dry_run && !plan.is_empty() {
            println!("(dry run: nothing changed)");
        }
    }
    Ok(exit::OK)
}

pub fn export_config(a: ExportConfigArgs, env: &Env) -> CliResult {
    let ctx = env.open()?;
    let estate = lc::current_estate(ctx.store.read())?;
    let text = toml::to_string(&estate).map_err(|e| CliError::failed(e.to_string()))?;
    let text = format!(
        "# certdeck estate, exported {}\n\n{text}",
        crate::clock::rfc3339(ctx.now())
    );
    match a.output {
        Some(p) => std::fs::write(&p, text)
            .map_err(|e| CliError::failed(format!("{}: {e}", p.display())))?,
        None => print!("{text}"),
    }
    Ok(exit::OK)
}

pub fn renew(a: RenewArgs, env: &Env) -> CliResult {
    let mut ctx = env.open()?;
    let actor = crate::access::current_actor();
    let opts = RunOptions::from_ctx(&ctx, a.now);
    let connectors = crate::ca::Standard::default();
    let Some(identity) = a.identity else {
        return renew_due(&mut ctx, &actor, &opts, &connectors, a.dry_run, a.json);
    };
    let outcome = lc::renew(&mut ctx, &actor, &identity, &opts, &connectors)?;
    if a.json {
        json_out(&outcome)?;
    } else {
        print_outcome(&outcome);
    }
    Ok(if outcome.diagnosis.is_some() {
        exit::FAILED
    } else {
        exit::OK
    })
}

pub fn print_outcome(o: &RunOutcome) {
    let name = sanitize(&o.job.identity);
    match &o.diagnosis {
        None => println!(
            "{name}: {} (job {}, certificate {})",
            o.job.state,
            o.job.id,
            o.fingerprint
                .as_deref()
                .map(|f| &f[..16.min(f.len())])
                .unwrap_or("-")
        ),
        Some(d) => {
            println!(
                "{name}: failed at {} (job {}, attempt {}): {}: {}",
                o.job.failed_step.map(|s| s.as_str()).unwrap_or("?"),
                o.job.id,
                o.job.attempts,
                d.category,
                sanitize(&d.message)
            );
            println!("  next step: {}", d.next_step());
            if let Some(t) = o.job.next_attempt_at {
                println!("  next attempt: {}", crate::clock::rfc3339(t));
            }
        }
    }
}

pub fn jobs(a: JobsArgs, env: &Env) -> CliResult {
    let ctx = env.open()?;
    let jobs = ctx.store.read().jobs(a.failed, false, a.limit)?;
    if a.json {
        json_out(&jobs)?;
        return Ok(exit::OK);
    }
    if jobs.is_empty() {
        println!("no jobs");
        return Ok(exit::OK);
    }
    println!(
        "{:>5}  {:<20} {:<12} {:<10} {:<18} {:>3}  NEXT ATTEMPT / MESSAGE",
        "JOB", "IDENTITY", "AUTHORITY", "STATE", "DIAGNOSIS", "TRY"
    );
    for j in jobs {
        let state = match (j.state, j.failed_step) {
            (crate::lifecycle::JobState::Failed, Some(s)) => format!("failed@{s}"),
            (s, _) => s.to_string(),
        };
        let tail = match (&j.next_attempt_at, &j.message) {
            (Some(t), Some(m)) => format!("{}  {}", crate::clock::rfc3339(*t), sanitize(m)),
            _ => String::new(),
        };
        println!(
            "{:>5}  {:<20} {:<12} {:<10} {:<18} {:>3}  {}",
            j.id,
            sanitize(&j.identity),
            sanitize(&j.authority),
            state,
            j.diagnosis.map(|d| d.as_str()).unwrap_or("-"),
            j.attempts,
            tail
        );
    }
    Ok(exit::OK)
}

fn renew_due(
    ctx: &mut crate::ops::Ctx,
    actor: &crate::model::Actor,
    opts: &RunOptions,
    connectors: &crate::ca::Standard,
    dry_run: bool,
    json: bool,
) -> CliResult {
    let results = lc::renew_due(ctx, actor, opts, connectors, dry_run)?;
    let names: std::collections::HashMap<i64, String> = ctx
        .store
        .read()
        .authorities()?
        .into_iter()
        .map(|a| (a.id, a.name))
        .collect();
    let failed = results
        .iter()
        .any(|r| r.error.is_some() || r.outcome.as_ref().is_some_and(|o| o.diagnosis.is_some()));
    if json {
        json_out(&results)?;
    } else if results.is_empty() {
        println!("nothing is due");
    } else {
        for r in &results {
            let name = sanitize(&r.planned.name);
            match &r.planned.decision {
                crate::lifecycle::planner::Decision::Renew {
                    authority_id,
                    fallback,
                    reason,
                } => {
                    let auth = names.get(authority_id).map(String::as_str).unwrap_or("?");
                    let via = if *fallback { " (fallback)" } else { "" };
                    if dry_run {
                        println!("renew  {name:<24} {reason:<7} via {}{via}", sanitize(auth));
                    } else if let Some(o) = &r.outcome {
                        print_outcome(o);
                    } else if let Some(e) = &r.error {
                        println!("{name}: {}", sanitize(e));
                    }
                }
                crate::lifecycle::planner::Decision::Blocked { reason } => {
                    println!("blocked {name:<23} {}", sanitize(reason));
                }
                crate::lifecycle::planner::Decision::Wait { .. } => {}
            }
        }
        if dry_run {
            println!("(dry run: nothing renewed)");
        }
    }
    Ok(if failed { exit::FAILED } else { exit::OK })
}
