//! Lifecycle commands: `apply`, `export-config`, `renew`, `jobs` (and `jobs cancel`).

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
#[command(args_conflicts_with_subcommands = true)]
pub struct JobsArgs {
    #[command(subcommand)]
    pub action: Option<JobsAction>,
    /// Only failed jobs (not those awaiting issuance approval).
    #[arg(long, conflicts_with = "awaiting_approval")]
    pub failed: bool,
    /// Only jobs held until a reviewer approves their issuance request.
    #[arg(long)]
    pub awaiting_approval: bool,
    /// At most this many jobs (newest first).
    #[arg(long, default_value_t = 50)]
    pub limit: i64,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum JobsAction {
    /// Cancel an open job (it is never resumed; a later renewal opens a new one).
    Cancel(CancelArgs),
}

#[derive(Debug, Args)]
pub struct CancelArgs {
    /// A job id (`12` or `#12`), or an identity (its open job).
    #[arg(value_name = "JOB-ID|IDENTITY")]
    pub job: String,
    /// Why, for the audit log and `:jobs` (required).
    #[arg(long)]
    pub reason: String,
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

/// The actor automation acts as: the service account bound to the OS user, if any.
fn acting_actor(ctx: &crate::ops::Ctx) -> crate::model::Actor {
    crate::access::acting_as(ctx.store.read(), &crate::access::current_actor())
}

pub fn renew(a: RenewArgs, env: &Env) -> CliResult {
    let mut ctx = env.open()?;
    let actor = acting_actor(&ctx);
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
    Ok(
        if outcome.diagnosis.is_some() || outcome.job.state == crate::lifecycle::JobState::Cancelled
        {
            exit::FAILED
        } else {
            exit::OK
        },
    )
}

pub fn print_outcome(o: &RunOutcome) {
    let name = sanitize(&o.job.identity);
    match &o.diagnosis {
        // Cancelled (by `jobs cancel` or `c` in `:jobs`) while this run worked on it.
        None if o.job.state == crate::lifecycle::JobState::Cancelled => println!(
            "{name}: cancelled (job {}): {}",
            o.job.id,
            sanitize(o.job.message.as_deref().unwrap_or_default())
        ),
        None => println!(
            "{name}: {} (job {}, certificate {})",
            o.job.state,
            o.job.id,
            o.fingerprint
                .as_deref()
                .map(|f| &f[..16.min(f.len())])
                .unwrap_or("-")
        ),
        Some(d) if !d.category.is_failure() => {
            println!(
                "{name}: {} (job {}): {}",
                d.category,
                o.job.id,
                sanitize(&d.message)
            );
            println!("  next step: {}", d.next_step());
        }
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
    if let Some(JobsAction::Cancel(c)) = a.action {
        return cancel(c, env);
    }
    let ctx = env.open()?;
    let jobs = if a.awaiting_approval {
        ctx.store.read().jobs_awaiting_approval(a.limit)?
    } else {
        ctx.store.read().jobs(a.failed, false, a.limit)?
    };
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
            _ if j.awaiting_approval() => "awaiting".to_string(),
            (crate::lifecycle::JobState::Failed, Some(s)) => format!("failed@{s}"),
            (s, _) => s.to_string(),
        };
        let tail = match (&j.next_attempt_at, &j.message) {
            (Some(t), Some(m)) => format!("{}  {}", crate::clock::rfc3339(*t), sanitize(m)),
            // A cancelled job's message is the operator's reason.
            (None, Some(m)) if j.state == crate::lifecycle::JobState::Cancelled => {
                sanitize(m).into_owned()
            }
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

fn cancel(a: CancelArgs, env: &Env) -> CliResult {
    let mut ctx = env.open()?;
    let actor = acting_actor(&ctx);
    let job = lc::JobSelector::parse(ctx.store.read(), &a.job)?;
    let out = lc::cancel_job(&mut ctx, &actor, &job, &a.reason)?;
    if a.json {
        json_out(&out)?;
        return Ok(exit::OK);
    }
    println!(
        "job {} ({}) cancelled (was {}): {}",
        out.job.id,
        sanitize(&out.job.identity),
        out.was,
        sanitize(out.job.message.as_deref().unwrap_or_default())
    );
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
    // An identity held for issuance approval did not fail: `status` reports it (exit 3).
    let failed = results.iter().any(|r| {
        r.error.is_some()
            || r.outcome
                .as_ref()
                .and_then(|o| o.diagnosis.as_ref())
                .is_some_and(|d| d.category.is_failure())
    });
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

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[arg(long)]
    pub json: bool,
}

/// Exit code of `status` when something needs a person.
pub const ATTENTION: i32 = 3;

pub fn status(a: StatusArgs, env: &Env) -> CliResult {
    let ctx = env.open()?;
    let st = lc::status(&ctx)?;
    if a.json {
        json_out(&st)?;
    } else {
        println!("due now:        {}", st.due);
        println!("blocked:        {}", list(&st.blocked));
        println!("failing jobs:   {}", st.failing.len());
        print_failing(&st.failing);
        println!("awaiting approval: {}", st.awaiting_approval.len());
        for j in &st.awaiting_approval {
            println!(
                "  {} ({}): {}",
                sanitize(&j.identity),
                sanitize(&j.authority),
                sanitize(j.message.as_deref().unwrap_or("awaiting issuance approval"))
            );
        }
        println!("open circuits:  {}", list(&st.open_circuits));
        println!("expired:        {}", list(&st.expired));
        println!("alerts:         {}", st.alerts.len());
        for al in &st.alerts {
            println!("  [{}] {}", al.kind, sanitize(&al.message));
        }
        println!("{}", attention_line(&st));
    }
    Ok(if st.needs_attention {
        ATTENTION
    } else {
        exit::OK
    })
}

/// The verdict line: who is needed. Identities held for approval need an approver, not
/// someone to fix a failure, and the line says so.
fn attention_line(st: &lc::Status) -> String {
    if !st.needs_attention {
        return "ok".into();
    }
    let held = st.awaiting_approval.len();
    let waiting = match held {
        0 => String::new(),
        1 => "1 identity awaits issuance approval".to_string(),
        n => format!("{n} identities await issuance approval"),
    };
    let other = !st.failing.is_empty()
        || !st.open_circuits.is_empty()
        || !st.alerts.is_empty()
        || !st.expired.is_empty()
        || !st.blocked.is_empty();
    match (other, held > 0) {
        (false, true) => format!("ATTENTION: an approver is needed: {waiting}"),
        (true, true) => format!("ATTENTION: a person is needed (and {waiting})"),
        _ => "ATTENTION: a person is needed".into(),
    }
}

fn print_failing(jobs: &[crate::lifecycle::Job]) {
    for j in jobs {
        println!(
            "  {} ({}): {} — next attempt {}",
            sanitize(&j.identity),
            sanitize(&j.authority),
            j.diagnosis.map(|d| d.as_str()).unwrap_or("?"),
            j.next_attempt_at
                .map(crate::clock::rfc3339)
                .unwrap_or_else(|| "-".into())
        );
    }
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.iter()
            .map(|s| sanitize(s).into_owned())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Plan and execute once, then exit (for cron and systemd timers).
    #[arg(long)]
    pub once: bool,
    /// Longest sleep between planning rounds, in seconds.
    #[arg(long, default_value_t = 300)]
    pub max_sleep: u64,
}

static STOP: std::sync::OnceLock<std::sync::Arc<std::sync::atomic::AtomicBool>> =
    std::sync::OnceLock::new();

extern "C" fn on_sigterm(_: nix::libc::c_int) {
    if let Some(s) = STOP.get() {
        s.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The automation loop: plan, execute due renewals with bounded concurrency (each
/// worker with its own connection), evaluate alerts, sleep until the next due time.
/// SIGTERM lets the steps in flight finish and record, then exits.
pub fn run(a: RunArgs, env: &Env) -> CliResult {
    let stop = STOP
        .get_or_init(|| std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)))
        .clone();
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        let _ = nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGTERM,
            nix::sys::signal::SigHandler::Handler(on_sigterm),
        );
    }
    let stopped = || stop.load(std::sync::atomic::Ordering::SeqCst);
    loop {
        let mut ctx = env.open()?;
        let actor = acting_actor(&ctx);
        let plan = lc::plan_renewals(&ctx, false)?;
        let work: Vec<_> = plan
            .iter()
            .filter(|p| {
                matches!(
                    p.decision,
                    crate::lifecycle::planner::Decision::Renew { .. }
                )
            })
            .cloned()
            .collect();
        let next_due = plan
            .iter()
            .filter_map(|p| match p.decision {
                crate::lifecycle::planner::Decision::Wait { at, .. } => Some(at),
                _ => None,
            })
            .min();
        // Work for CAs that sign locally runs as one batch (parallel signing, grouped
        // transactions); work for remote CAs goes to the workers, which overlap its waits.
        let (batch, work): (Vec<_>, Vec<_>) = {
            let connectors = crate::ca::Standard::default();
            work.into_iter()
                .partition(|p| lc::signs_locally(&ctx, p, &connectors))
        };
        let batched = if batch.is_empty() {
            Vec::new()
        } else {
            let mut opts = RunOptions::from_ctx(&ctx, false);
            opts.stop = Some(stop.clone());
            let connectors = crate::ca::Standard::default();
            lc::renew_planned(&mut ctx, &actor, &batch, &opts, &connectors)?
        };
        for r in &batched {
            match (&r.outcome, &r.error) {
                (Some(o), _) => print_outcome(o),
                (None, Some(e)) => {
                    eprintln!("certdeck: {}: {}", sanitize(&r.planned.name), sanitize(e))
                }
                (None, None) => {}
            }
        }
        let workers = ctx
            .config
            .lifecycle
            .concurrency
            .max(1)
            .min(work.len().max(1));
        let queue = std::sync::Mutex::new(work.into_iter());
        let results = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    let Ok(mut wctx) = env.open() else { return };
                    let mut opts = RunOptions::from_ctx(&wctx, false);
                    opts.stop = Some(stop.clone());
                    let connectors = crate::ca::Standard::default();
                    loop {
                        if stopped() {
                            return;
                        }
                        let Some(p) = queue.lock().ok().and_then(|mut q| q.next()) else {
                            return;
                        };
                        let r = lc::run_planned(&mut wctx, &actor, &p, &opts, &connectors);
                        if let Ok(mut v) = results.lock() {
                            v.push((p.name.clone(), r));
                        }
                    }
                });
            }
        });
        for (name, r) in results.into_inner().unwrap_or_default() {
            match r {
                Ok(Some(o)) => print_outcome(&o),
                Ok(None) => {}
                Err(e) => eprintln!(
                    "certdeck: {}: {}",
                    sanitize(&name),
                    sanitize(&e.to_string())
                ),
            }
        }
        // Requests past their expiry are recorded as expired (audited) every round, and
        // approved revocations are carried out.
        if let Err(e) = crate::ops::workflow::expire_due(&mut ctx, &actor) {
            eprintln!("certdeck: expiring requests: {}", sanitize(&e.to_string()));
        }
        match lc::revoke_approved(&mut ctx, &actor, &crate::ca::Standard::default()) {
            Ok(done) => {
                for (id, r) in done {
                    match r {
                        Ok(_) => println!("request {id}: revocation carried out"),
                        Err(e) => eprintln!("certdeck: request {id}: {}", sanitize(&e.to_string())),
                    }
                }
            }
            Err(e) => eprintln!("certdeck: revocations: {}", sanitize(&e.to_string())),
        }
        lc::evaluate_alerts(&mut ctx, &actor)?;
        if a.once || stopped() {
            return Ok(exit::OK);
        }
        let wait = next_due
            .map(|t| (t - ctx.now()).whole_seconds().max(1) as u64)
            .unwrap_or(a.max_sleep)
            .min(a.max_sleep);
        drop(ctx);
        let until = std::time::Instant::now() + std::time::Duration::from_secs(wait);
        while std::time::Instant::now() < until {
            if stopped() {
                return Ok(exit::OK);
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// An identity (its current certificate) or a certificate id / fingerprint prefix.
    #[arg(value_name = "IDENTITY|FINGERPRINT")]
    pub target: String,
    /// unspecified, key_compromise, ca_compromise, affiliation_changed, superseded,
    /// cessation_of_operation, privilege_withdrawn
    #[arg(long)]
    pub reason: String,
    /// Why, for the reviewer (when the profile wants approval; defaults to the reason).
    #[arg(long)]
    pub justification: Option<String>,
    /// Print the outcome as JSON (an opened request with its `id`).
    #[arg(long)]
    pub json: bool,
}

pub fn revoke(a: RevokeArgs, env: &Env) -> CliResult {
    let mut ctx = env.open()?;
    let actor = acting_actor(&ctx);
    let cert_id = match ctx.store.read().identity_by_name(&a.target)? {
        Some(i) => i.current_certificate_id.ok_or_else(|| {
            CliError::failed(format!(
                "identity {} has no current certificate",
                sanitize(&a.target)
            ))
        })?,
        None => super::resolve_certificate(ctx.store.read(), &a.target)?,
    };
    let out = lc::revoke(
        &mut ctx,
        &actor,
        cert_id,
        &a.reason,
        a.justification.as_deref(),
        &crate::ca::Standard::default(),
    )?;
    if a.json {
        json_out(&out)?;
        return Ok(exit::OK);
    }
    match out {
        lc::Revoked::Revoked {
            certificate,
            reason,
            request,
        } => println!(
            "revoked certificate {cert_id} ({}, {}){}",
            &certificate[..16.min(certificate.len())],
            sanitize(&reason),
            request
                .map(|r| format!(" as approved by request {r}"))
                .unwrap_or_default()
        ),
        lc::Revoked::Requested { request, opened } => {
            println!(
                "not revoked yet: revoking certificate {cert_id} needs approval; request {} {}",
                request.id,
                if opened {
                    "opened"
                } else {
                    "is already waiting"
                }
            );
            println!(
                "  {}/{} approvals; once approved, run `certdeck revoke {} --reason {}` again \
                 (or let `certdeck run` do it)",
                request.approvals().count(),
                request.approvals_required,
                sanitize(&a.target),
                sanitize(&a.reason)
            );
        }
    }
    Ok(exit::OK)
}
