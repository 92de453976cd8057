//! The lifecycle verbs: apply an estate file, renew an identity (a job run step by step),
//! revoke. A renewal is a sequence of persisted steps; each step's state change and its
//! audit record share one transaction, and no transaction is held across CA, file or
//! network I/O (DESIGN.md rule 2). A run interrupted anywhere resumes from the last
//! recorded step: an order already placed is resumed, a certificate already issued is
//! deployed, never ordered again.

use super::{run, Ctx, OpError, OpResult};
use crate::access::Activity;
use crate::audit::Entry;
use crate::ca::Connectors;
use crate::lifecycle::estate::{AuthoritySpec, Change, Estate, IdentitySpec, OwnerSpec, Plan};
use crate::lifecycle::{Diagnosis, Job, JobState};
use crate::model::{Actor, AuthorityKind, Environment, Identity};
use crate::store::Read;
use serde_json::json;
use time::OffsetDateTime;

// ---------------------------------------------------------------- estate

/// The inventory as an estate file (what `export-config` writes, and what `apply`
/// compares a file with).
pub fn current_estate(read: Read<'_>) -> OpResult<Estate> {
    let owner = read
        .owners()?
        .into_iter()
        .map(|o| OwnerSpec {
            name: o.name,
            contact: o.contact,
            business_unit: o.business_unit,
        })
        .collect();
    let mut authority = Vec::new();
    for a in read.authorities()? {
        authority.push(AuthoritySpec::from_stored(&a).map_err(OpError::Invalid)?);
    }
    let mut identity = Vec::new();
    for i in read.identities()? {
        let (Some(owner), Some(auth)) = (i.owner.clone(), i.authority.clone()) else {
            // Adopted identities without an authority are not automated; they are not
            // part of the declared estate.
            continue;
        };
        identity.push(IdentitySpec {
            fallback_authority: read.identity_fallback_authority(i.id)?,
            target: read.identity_targets(i.id)?,
            name: i.name,
            owner,
            profile: i.profile,
            authority: auth,
            environment: i.environment.map(|e| e.as_str().to_string()),
            sans: i.sans,
            key: i.key_type.unwrap_or_else(|| "ecdsa-p256".into()),
        });
    }
    Ok(Estate {
        owner,
        authority,
        identity,
    })
}

/// What applying `estate` would change.
pub fn plan_estate(ctx: &Ctx, estate: &Estate) -> OpResult<Plan> {
    Ok(Plan::between(estate, &current_estate(ctx.store.read())?))
}

/// Applies `estate`: creates and updates owners, authorities and identities so the
/// inventory matches the file, in one transaction, one audit record per change. Applying
/// the same file again changes nothing and writes nothing.
pub fn apply_estate(ctx: &mut Ctx, actor: &Actor, estate: &Estate) -> OpResult<Plan> {
    estate.validate().map_err(OpError::Invalid)?;
    let plan = plan_estate(ctx, estate)?;
    if plan.is_empty() {
        return Ok(plan);
    }
    let touches_authorities = plan.changes().any(|c| c.object_type == "authority");
    let touches_targets = plan.changes().any(|c| c.object_type == "identity");
    run(
        ctx,
        actor,
        Activity::MaintainInventory,
        "estate.apply",
        ("estate", "file"),
        |tx, now| {
            if touches_authorities {
                crate::access::authorize(tx.read(), actor, Activity::ApproveCaSource, now)?;
            }
            if touches_targets {
                crate::access::authorize(tx.read(), actor, Activity::ImplementDeployment, now)?;
            }
            for item in plan.changes() {
                let details = match &item.change {
                    Change::Update { fields } => json!({"fields": fields}),
                    _ => json!({}),
                };
                match item.object_type {
                    "owner" => {
                        let o = estate
                            .owner
                            .iter()
                            .find(|o| o.name == item.name)
                            .expect("planned");
                        match tx.read().owner_by_name(&o.name)? {
                            Some(have) => tx.update_owner(
                                have.id,
                                o.contact.as_deref(),
                                o.business_unit.as_deref(),
                            )?,
                            None => {
                                tx.insert_owner(
                                    &o.name,
                                    o.contact.as_deref(),
                                    o.business_unit.as_deref(),
                                    now,
                                )?;
                            }
                        }
                    }
                    "authority" => {
                        let a = estate
                            .authority
                            .iter()
                            .find(|a| a.name == item.name)
                            .expect("planned");
                        let kind: AuthorityKind = a.kind.parse().map_err(OpError::Invalid)?;
                        let env = parse_env(a.environment.as_deref())?;
                        match tx.read().authority_by_name(&a.name)? {
                            Some(have) => tx.update_authority(
                                have.id,
                                kind,
                                env,
                                &a.settings(),
                                a.credential.as_deref(),
                            )?,
                            None => {
                                tx.insert_authority(
                                    &a.name,
                                    kind,
                                    env,
                                    &a.settings(),
                                    a.credential.as_deref(),
                                    now,
                                )?;
                            }
                        }
                    }
                    _ => {
                        let i = estate
                            .identity
                            .iter()
                            .find(|i| i.name == item.name)
                            .expect("planned");
                        let owner_id = tx
                            .read()
                            .owner_by_name(&i.owner)?
                            .ok_or_else(|| OpError::Invalid(format!(
                                "identity {}: owner: {} is neither in the file nor in the inventory",
                                i.name, i.owner
                            )))?
                            .id;
                        let auth = |name: &str| -> OpResult<i64> {
                            Ok(tx
                                .read()
                                .authority_by_name(name)?
                                .ok_or_else(|| OpError::Invalid(format!(
                                    "identity {}: authority: {name} is neither in the file nor in the inventory",
                                    i.name
                                )))?
                                .id)
                        };
                        let authority_id = auth(&i.authority)?;
                        let fallback_id = match &i.fallback_authority {
                            Some(f) => Some(auth(f)?),
                            None => None,
                        };
                        let env = parse_env(i.environment.as_deref())?;
                        let id = match tx.read().identity_by_name(&i.name)? {
                            Some(have) => have.id,
                            None => tx.insert_identity(
                                &i.name,
                                Some(owner_id),
                                i.profile.as_deref(),
                                Some(authority_id),
                                env,
                                &i.sans,
                                Some(&i.key),
                                now,
                            )?,
                        };
                        tx.update_identity(
                            id,
                            Some(owner_id),
                            i.profile.as_deref(),
                            Some(authority_id),
                            fallback_id,
                            env,
                            &i.sans,
                            Some(&i.key),
                        )?;
                        tx.replace_identity_targets(id, &i.target)?;
                    }
                }
                let action = match item.change {
                    Change::Create => format!("{}.create", item.object_type),
                    _ => format!("{}.update", item.object_type),
                };
                tx.append_audit(
                    actor,
                    now,
                    &Entry::success(&action, item.object_type, item.name.clone(), details),
                )?;
            }
            Ok(())
        },
    )?;
    Ok(plan)
}

fn parse_env(s: Option<&str>) -> OpResult<Option<Environment>> {
    s.map(|e| e.parse::<Environment>())
        .transpose()
        .map_err(OpError::Invalid)
}

// ---------------------------------------------------------------- jobs

mod engine;
pub use engine::{execute, execute_many};

/// How a run behaves; built from the config's `[lifecycle]` section.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub settings: crate::lifecycle::Settings,
    /// `--now`: ignore the identity's backoff (and an open circuit's cool-down).
    pub now: bool,
    /// Set (by SIGTERM in `certdeck run`) to stop after the step in flight.
    pub stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

impl RunOptions {
    pub fn from_ctx(ctx: &Ctx, now: bool) -> RunOptions {
        RunOptions {
            settings: ctx.config.lifecycle.clone(),
            now,
            stop: None,
        }
    }
}

/// What a run of a job ended with.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunOutcome {
    pub job: Job,
    pub diagnosis: Option<Diagnosis>,
    pub fingerprint: Option<String>,
}

/// Opens a job for `identity` (or returns its open one). A failed job still backing off
/// is refused unless `force` (`--now`).
pub fn start_job(
    ctx: &mut Ctx,
    actor: &Actor,
    identity: &str,
    reason: &str,
    force: bool,
) -> OpResult<i64> {
    let ident = ctx
        .store
        .read()
        .identity_by_name(identity)?
        .ok_or_else(|| OpError::NotFound(format!("identity {identity}")))?;
    if let Some(job) = ctx.store.read().open_job(ident.id)? {
        if let (JobState::Failed, Some(next)) = (job.state, job.next_attempt_at) {
            if next > ctx.now() && !force && job.awaiting_approval() {
                return Err(OpError::Conflict(format!(
                    "identity {identity}: job {} is {}; the approval releases it at once \
                     (use --now to ask the gate again now)",
                    job.id,
                    job.message
                        .as_deref()
                        .unwrap_or("awaiting issuance approval")
                )));
            }
            if next > ctx.now() && !force {
                return Err(OpError::Conflict(format!(
                    "identity {identity}: job {} failed ({}) and backs off until {}; use --now to retry at once",
                    job.id,
                    job.diagnosis.map(|d| d.as_str()).unwrap_or("?"),
                    crate::clock::rfc3339(next)
                )));
            }
        }
        return Ok(job.id);
    }
    let authority = ident.authority.clone().ok_or_else(|| {
        OpError::Invalid(format!(
            "identity {identity} has no authority to renew from"
        ))
    })?;
    let auth = ctx
        .store
        .read()
        .authority_by_name(&authority)?
        .ok_or_else(|| OpError::NotFound(format!("authority {authority}")))?;
    let reason = if ident.current_certificate_id.is_none() {
        "first"
    } else {
        reason
    };
    run(
        ctx,
        actor,
        Activity::RenewalResponse,
        "job.plan",
        ("identity", identity),
        |tx, now| plan_job(tx, actor, now, &ident, &auth, reason),
    )
}

/// A new job for `ident` at `auth`, with its `job.plan` record.
fn plan_job(
    tx: &crate::store::Tx<'_>,
    actor: &Actor,
    now: OffsetDateTime,
    ident: &Identity,
    auth: &crate::model::Authority,
    reason: &str,
) -> OpResult<i64> {
    let id = tx.insert_job(ident.id, auth.id, reason, &actor.name, now)?;
    tx.append_audit(
        actor,
        now,
        &Entry::success(
            "job.plan",
            "job",
            id.to_string(),
            json!({"identity": ident.name, "authority": auth.name, "reason": reason}),
        ),
    )?;
    Ok(id)
}

/// The identity as access scopes see it.
pub fn scope_object(i: &Identity) -> crate::access::ObjectRef {
    crate::access::ObjectRef {
        owner: i.owner.clone(),
        environment: i.environment,
        dns_names: i.sans.clone(),
    }
}

/// Renews `identity`: opens (or resumes) its job and runs it as far as it goes.
pub fn renew(
    ctx: &mut Ctx,
    actor: &Actor,
    identity: &str,
    opts: &RunOptions,
    connectors: &dyn Connectors,
) -> OpResult<RunOutcome> {
    let id = start_job(ctx, actor, identity, "manual", opts.now)?;
    execute(ctx, actor, id, opts, connectors)
}

/// Which job to cancel: by its id, or the open job of an identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobSelector {
    Id(i64),
    OpenJobOf(String),
}

impl JobSelector {
    /// `12` or `#12` is a job id; anything else names an identity. A name made only of
    /// digits is still read as an identity when no job has that id.
    pub fn parse(read: Read<'_>, s: &str) -> OpResult<JobSelector> {
        let digits = s.trim().trim_start_matches('#');
        if let Ok(id) = digits.parse::<i64>() {
            if read.job(id)?.is_some() || read.identity_by_name(s)?.is_none() {
                return Ok(JobSelector::Id(id));
            }
        }
        Ok(JobSelector::OpenJobOf(s.to_string()))
    }
}

/// What a cancellation ended.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Cancelled {
    /// The job as it is now (state `cancelled`, the reason in `message`).
    pub job: Job,
    /// Where it stood when cancelled (`failed@deploying`, `awaiting_approval`, `ordering`...).
    pub was: String,
}

/// Cancels an open job (an operator's decision: a host being decommissioned, a held
/// issuance nobody will approve). Same authority as renewing it — RACI `renewal_response`
/// within the actor's scopes for the identity. The job ends `cancelled` with `reason`,
/// and is never resumed; the identity's current certificate is untouched, and a later
/// renewal (by hand or by the planner) opens a new job. A staged key of the job is
/// removed once the cancellation is committed.
pub fn cancel_job(
    ctx: &mut Ctx,
    actor: &Actor,
    job: &JobSelector,
    reason: &str,
) -> OpResult<Cancelled> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(OpError::Invalid(
            "a reason is required to cancel a job (--reason TEXT)".into(),
        ));
    }
    let found = match job {
        JobSelector::Id(id) => ctx
            .store
            .read()
            .job(*id)?
            .ok_or_else(|| OpError::NotFound(format!("job {id}")))?,
        JobSelector::OpenJobOf(name) => {
            let ident = ctx
                .store
                .read()
                .identity_by_name(name)?
                .ok_or_else(|| OpError::NotFound(format!("identity {name}")))?;
            ctx.store.read().open_job(ident.id)?.ok_or_else(|| {
                OpError::Conflict(format!("identity {name} has no open job to cancel"))
            })?
        }
    };
    let id = found.id;
    let cancelled = run(
        ctx,
        actor,
        Activity::RenewalResponse,
        "job.cancel",
        ("job", &id.to_string()),
        |tx, now| {
            // Read again under the write lock: the job may have moved since.
            let job = tx
                .read()
                .job(id)?
                .ok_or_else(|| OpError::NotFound(format!("job {id}")))?;
            let ident = tx
                .read()
                .identity_by_name(&job.identity)?
                .ok_or_else(|| OpError::NotFound(format!("identity {}", job.identity)))?;
            super::check_object(
                tx,
                actor,
                Activity::RenewalResponse,
                now,
                &scope_object(&ident),
            )?;
            if job.state.is_final() {
                return Err(OpError::Conflict(format!(
                    "job {id} ({}) is already {}: only an open job can be cancelled",
                    job.identity, job.state
                )));
            }
            let was = match (job.state, job.failed_step) {
                _ if job.awaiting_approval() => "awaiting_approval".to_string(),
                (JobState::Failed, Some(step)) => format!("failed@{step}"),
                (state, _) => state.to_string(),
            };
            if !tx.cancel_job(id, reason, now)? {
                return Err(OpError::Conflict(format!("job {id} has already ended")));
            }
            tx.append_audit(
                actor,
                now,
                &Entry::success(
                    "job.cancel",
                    "job",
                    id.to_string(),
                    json!({
                        "identity": job.identity,
                        "authority": job.authority,
                        "reason": reason,
                        "state": was,
                        "diagnosis": job.diagnosis.map(|d| d.as_str()),
                        "attempts": job.attempts,
                    }),
                ),
            )?;
            Ok(was)
        },
    )?;
    let job = ctx
        .store
        .read()
        .job(id)?
        .ok_or_else(|| OpError::NotFound(format!("job {id}")))?;
    if let Some(staged) = &job.key_staging {
        // The pending key of a job that will never deploy it; a new job stages its own.
        let _ = std::fs::remove_file(staged);
    }
    Ok(Cancelled {
        job,
        was: cancelled,
    })
}

/// The registered domain (public suffix + 1) of the first DNS name, for budgets.
pub fn registered_domain(sans: &[String]) -> Option<String> {
    let name = sans
        .iter()
        .find(|s| s.parse::<std::net::IpAddr>().is_err())?;
    let lower = name.trim_start_matches("*.").to_ascii_lowercase();
    psl::domain_str(&lower).map(str::to_string)
}

fn san_set(sans: &[String]) -> String {
    let mut v: Vec<String> = sans.iter().map(|s| s.to_ascii_lowercase()).collect();
    v.sort();
    v.dedup();
    v.join(",")
}

// ---------------------------------------------------------------- revocation

// Revocation goes through approval; it lives in `ops::revocation`.
pub use super::revocation::{revoke, revoke_approved, Revoked, REVOCATION_REASONS};

// ---------------------------------------------------------------- planning

use crate::lifecycle::planner::{
    self, AuthorityState, Candidate, Decision, Limits, OpenJob, Planned,
};
use std::collections::HashMap;

/// Builds the planner's input from the store and plans every automated identity.
pub fn plan_renewals(ctx: &Ctx, ignore_backoff: bool) -> OpResult<Vec<Planned>> {
    let read = ctx.store.read();
    let now = ctx.now();
    // The profile's renewal lead, per profile, as a duration for this certificate.
    let mut profiles: HashMap<String, Option<crate::policy::profile::Profile>> = HashMap::new();
    let rows = read.planning_rows()?;
    for r in &rows {
        if let Some(p) = &r.profile {
            if !profiles.contains_key(p) {
                profiles.insert(p.clone(), read.profile(p)?);
            }
        }
    }
    let candidates: Vec<Candidate> = rows
        .into_iter()
        .map(|r| Candidate {
            renew_before: match (&r.profile, r.current) {
                (Some(p), Some((nb, na))) => profiles.get(p).and_then(|p| p.as_ref()).map(|p| {
                    time::Duration::seconds(p.renew_before.lead_seconds((na - nb).whole_seconds()))
                }),
                _ => None,
            },
            identity_id: r.identity_id,
            allow_fallback: r.fallback_authority_id.is_some(),
            registered_domain: registered_domain(&r.sans),
            san_set: san_set(&r.sans),
            name: r.name,
            authority_id: r.authority_id,
            fallback_authority_id: r.fallback_authority_id,
            current: r.current,
            open_job: r.open_job.map(|(id, state, next)| OpenJob {
                id,
                failed: state == "failed",
                next_attempt_at: next,
            }),
        })
        .collect();
    let authorities = authority_states(read, now)?;
    let rules = planner::Rules {
        circuit_cooldown: time::Duration::minutes(ctx.config.lifecycle.circuit_cooldown_minutes),
        ignore_backoff,
    };
    Ok(planner::plan(now, &candidates, &authorities, &rules))
}

/// Circuit and budget state of every authority, from its health row and the ledger.
pub fn authority_states(
    read: Read<'_>,
    now: OffsetDateTime,
) -> OpResult<HashMap<i64, AuthorityState>> {
    let mut out: HashMap<i64, AuthorityState> = HashMap::new();
    for a in read.authorities()? {
        let get = |k: &str, d: usize| {
            a.settings
                .get(k)
                .and_then(|v| v.as_u64())
                .map(|v| v as usize)
                .unwrap_or(d)
        };
        let dl = Limits::for_kind(a.kind);
        out.insert(
            a.id,
            AuthorityState {
                limits: Limits {
                    orders_per_3h: get("orders_per_3h", dl.orders_per_3h),
                    certs_per_domain_per_week: get(
                        "certs_per_domain_per_week",
                        dl.certs_per_domain_per_week,
                    ),
                    duplicates_per_week: get("duplicates_per_week", dl.duplicates_per_week),
                },
                ..Default::default()
            },
        );
    }
    for h in read.authority_healths()? {
        if h.state == "open" {
            if let Some(s) = out.get_mut(&h.authority_id) {
                s.circuit_open_since = h.opened_at;
            }
        }
    }
    let three_hours_ago = now - time::Duration::hours(3);
    for e in read.ledger_all_since(now - time::Duration::days(7))? {
        let Some(s) = out.get_mut(&e.authority_id) else {
            continue;
        };
        if e.kind == "order" && e.at >= three_hours_ago {
            s.recent_orders += 1;
        }
        if e.kind == "certificate" {
            if let Some(d) = e.registered_domain {
                *s.domain_certs.entry(d).or_default() += 1;
            }
            *s.duplicates.entry(e.san_set).or_default() += 1;
        }
    }
    Ok(out)
}

/// One planned renewal and, unless it was a dry run, how its run ended.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DueResult {
    pub planned: Planned,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<RunOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Renews every identity the planner says is due (`renew --due`), in batches that run
/// in rounds (see [`execute_many`]). With `dry_run`, returns the plan of what is due or
/// blocked and does nothing.
pub fn renew_due(
    ctx: &mut Ctx,
    actor: &Actor,
    opts: &RunOptions,
    connectors: &dyn Connectors,
    dry_run: bool,
) -> OpResult<Vec<DueResult>> {
    let plan = plan_renewals(ctx, opts.now)?;
    let now = ctx.now();
    let read = ctx.store.read();
    let mut work = Vec::new();
    let mut objects = Vec::new();
    let mut known = HashMap::new();
    for p in plan {
        if matches!(p.decision, Decision::Wait { .. }) {
            continue;
        }
        let identity = read.identity_by_name(&p.name)?;
        objects.push(identity.as_ref().map(scope_object));
        if let Some(i) = identity {
            known.insert(i.name.clone(), i);
        }
        work.push(p);
    }
    // A service account sees (and renews) only what its scopes cover: one check when its
    // scopes cover the whole plan (the usual case), else one per identity.
    let all: Vec<_> = objects.iter().flatten().cloned().collect();
    let activity = Activity::RenewalResponse;
    if crate::access::authorize_objects(read, actor, activity, now, &all).is_err() {
        let mut kept = Vec::with_capacity(work.len());
        for (p, obj) in work.into_iter().zip(&objects) {
            let covered = obj.as_ref().is_none_or(|o| {
                crate::access::authorize_object(read, actor, activity, now, o).is_ok()
            });
            if covered {
                kept.push(p);
            }
        }
        work = kept;
    }
    if dry_run {
        return Ok(work
            .into_iter()
            .map(|planned| DueResult {
                planned,
                outcome: None,
                error: None,
            })
            .collect());
    }
    renew_batches(ctx, actor, &work, &known, opts, connectors)
}

/// How many jobs run together in one batch: enough that a round's transaction and its
/// parallel signing are worth it, few enough that a round stays short.
pub const BATCH: usize = 512;

/// Runs planned renewals (blocked ones are passed through) in batches of [`BATCH`]:
/// their jobs are opened in one transaction, then run together in rounds.
pub fn renew_planned(
    ctx: &mut Ctx,
    actor: &Actor,
    planned: &[Planned],
    opts: &RunOptions,
    connectors: &dyn Connectors,
) -> OpResult<Vec<DueResult>> {
    renew_batches(ctx, actor, planned, &HashMap::new(), opts, connectors)
}

/// [`renew_planned`] with the identities the caller already read (by name).
fn renew_batches(
    ctx: &mut Ctx,
    actor: &Actor,
    planned: &[Planned],
    known: &HashMap<String, Identity>,
    opts: &RunOptions,
    connectors: &dyn Connectors,
) -> OpResult<Vec<DueResult>> {
    let mut out = Vec::with_capacity(planned.len());
    for chunk in planned.chunks(BATCH) {
        if opts
            .stop
            .as_ref()
            .is_some_and(|s| s.load(std::sync::atomic::Ordering::SeqCst))
        {
            break;
        }
        let opened = open_planned(ctx, actor, chunk, known)?;
        let ids: Vec<i64> = opened
            .iter()
            .filter_map(|o| o.as_ref().ok().copied().flatten())
            .collect();
        let mut outcomes =
            engine::execute_known(ctx, actor, &ids, known, opts, connectors)?.into_iter();
        for (p, o) in chunk.iter().zip(opened) {
            let (outcome, error) = match o {
                Ok(Some(_)) => (outcomes.next(), None),
                Ok(None) => (None, None),
                Err(e) => (None, Some(e.to_string())),
            };
            out.push(DueResult {
                planned: p.clone(),
                outcome,
                error,
            });
        }
    }
    Ok(out)
}

/// Opens (or finds) the job of every planned renewal and switches it to the authority
/// the planner chose (the fallback), in one transaction with one audit record per job.
/// Per renewal: its job id, `None` for a blocked one, or why it could not be opened.
fn open_planned(
    ctx: &mut Ctx,
    actor: &Actor,
    planned: &[Planned],
    known: &HashMap<String, Identity>,
) -> OpResult<Vec<Result<Option<i64>, OpError>>> {
    enum Open {
        Blocked,
        Refused(OpError),
        /// An open job, maybe to switch to the planned authority.
        Existing(Job, i64),
        /// A new job: identity, its authority, the planned authority, reason.
        New(Identity, crate::model::Authority, i64, &'static str),
    }
    let read = ctx.store.read();
    let mut todo = Vec::with_capacity(planned.len());
    for p in planned {
        let Decision::Renew {
            authority_id,
            reason,
            ..
        } = p.decision
        else {
            todo.push(Open::Blocked);
            continue;
        };
        let ident = match known.get(&p.name) {
            Some(i) => Some(i.clone()),
            None => read.identity_by_name(&p.name)?,
        };
        let Some(ident) = ident else {
            todo.push(Open::Refused(OpError::NotFound(format!(
                "identity {}",
                p.name
            ))));
            continue;
        };
        if let Some(job) = read.open_job(ident.id)? {
            todo.push(Open::Existing(job, authority_id));
            continue;
        }
        let Some(auth_name) = ident.authority.clone() else {
            todo.push(Open::Refused(OpError::Invalid(format!(
                "identity {} has no authority to renew from",
                p.name
            ))));
            continue;
        };
        let Some(auth) = read.authority_by_name(&auth_name)? else {
            todo.push(Open::Refused(OpError::NotFound(format!(
                "authority {auth_name}"
            ))));
            continue;
        };
        let reason = if reason == "first" || ident.current_certificate_id.is_none() {
            "first"
        } else {
            "due"
        };
        todo.push(Open::New(ident, auth, authority_id, reason));
    }
    let object = format!("{} jobs", planned.len());
    let ids = run(
        ctx,
        actor,
        Activity::RenewalResponse,
        "job.plan",
        ("jobs", &object),
        |tx, now| {
            let switch = |id: i64, identity: &str, from: &str, to: i64| -> OpResult<()> {
                tx.set_job_authority(id, to)?;
                tx.set_job_state(id, JobState::Planned, now)?;
                tx.append_audit(actor, now, &Entry::success("job.switch_authority", "job", id.to_string(),
                    json!({"identity": identity, "from": from, "to_authority_id": to, "why": "fallback"})))?;
                Ok(())
            };
            let mut ids = Vec::with_capacity(todo.len());
            for t in &todo {
                ids.push(match t {
                    Open::Blocked | Open::Refused(_) => None,
                    Open::Existing(job, to) => {
                        if job.authority_id != *to
                            && job.order_ref.is_none()
                            && matches!(job.resume_step(), JobState::Planned | JobState::Ordering)
                        {
                            switch(job.id, &job.identity, &job.authority, *to)?;
                        }
                        Some(job.id)
                    }
                    Open::New(ident, auth, to, reason) => {
                        let id = plan_job(tx, actor, now, ident, auth, reason)?;
                        if auth.id != *to {
                            switch(id, &ident.name, &auth.name, *to)?;
                        }
                        Some(id)
                    }
                });
            }
            Ok(ids)
        },
    )?;
    Ok(todo
        .into_iter()
        .zip(ids)
        .map(|(t, id)| match t {
            Open::Refused(e) => Err(e),
            _ => Ok(id),
        })
        .collect())
}

/// Executes one planned decision (nothing for a blocked one): a batch of one.
pub fn run_planned(
    ctx: &mut Ctx,
    actor: &Actor,
    p: &Planned,
    opts: &RunOptions,
    connectors: &dyn Connectors,
) -> OpResult<Option<RunOutcome>> {
    let mut r = renew_planned(ctx, actor, std::slice::from_ref(p), opts, connectors)?;
    match r.pop() {
        Some(DueResult { error: Some(e), .. }) => Err(OpError::Invalid(e)),
        Some(d) => Ok(d.outcome),
        None => Ok(None),
    }
}

/// Whether `p` goes to an authority whose CA signs locally, so `certdeck run` hands it
/// to a batch instead of a worker of its own.
pub fn signs_locally(ctx: &Ctx, p: &Planned, connectors: &dyn Connectors) -> bool {
    let Decision::Renew { authority_id, .. } = p.decision else {
        return false;
    };
    let Ok(all) = ctx.store.read().authorities() else {
        return false;
    };
    let Some(a) = all.into_iter().find(|a| a.id == authority_id) else {
        return false;
    };
    connectors.connector(&a).is_ok_and(|c| c.batch().is_some())
}

// ---------------------------------------------------------------- alerts and status

/// Raises a `failure_rate` alert (recorded and audited) when more than the configured
/// share of the jobs finished in the window failed, and resolves it when the rate is back
/// under. Returns whether an alert was raised now.
pub fn evaluate_alerts(ctx: &mut Ctx, actor: &Actor) -> OpResult<bool> {
    let s = ctx.config.lifecycle.clone();
    let now = ctx.now();
    let (ok, failed) = ctx
        .store
        .read()
        .job_outcomes_since(now - time::Duration::hours(s.alert_window_hours))?;
    let total = ok + failed;
    let rate = if total == 0 {
        0.0
    } else {
        failed as f64 / total as f64
    };
    let firing = total >= s.alert_min_jobs && rate > s.alert_failure_rate;
    let open = ctx
        .store
        .read()
        .alerts(true)?
        .into_iter()
        .any(|a| a.kind == "failure_rate");
    if firing == open {
        return Ok(false);
    }
    run(
        ctx,
        actor,
        Activity::RenewalResponse,
        "alert.evaluate",
        ("alerts", "failure_rate"),
        |tx, now| {
            if firing {
                let msg = format!(
                    "{failed} of {total} jobs failed in the last {} h ({:.0}% > {:.0}%)",
                    s.alert_window_hours,
                    rate * 100.0,
                    s.alert_failure_rate * 100.0
                );
                tx.insert_alert(now, "failure_rate", "jobs", &msg)?;
                tx.append_audit(
                    actor,
                    now,
                    &Entry::success(
                        "alert.raise",
                        "alerts",
                        "failure_rate",
                        json!({"message": msg}),
                    ),
                )?;
            } else {
                tx.resolve_alerts("failure_rate", "jobs", now)?;
                tx.append_audit(
                    actor,
                    now,
                    &Entry::success(
                        "alert.resolve",
                        "alerts",
                        "failure_rate",
                        json!({"rate": rate}),
                    ),
                )?;
            }
            Ok(())
        },
    )?;
    Ok(firing)
}

/// Health at a glance, for people and for monitoring.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Identities due now (or getting their first certificate).
    pub due: usize,
    /// Due but blocked (open circuit, budget) with no fallback.
    pub blocked: Vec<String>,
    /// Failed jobs: identity, diagnosis, next attempt.
    pub failing: Vec<Job>,
    /// Jobs the issuance gate holds until a reviewer approves (diagnosis
    /// `awaiting_approval`, with the request to open or approve): not failures, but a
    /// person — an approver — is needed, so they count towards `needs_attention`.
    pub awaiting_approval: Vec<Job>,
    /// Authorities whose circuit is open.
    pub open_circuits: Vec<String>,
    pub alerts: Vec<crate::store::AlertRow>,
    /// Automated identities whose current certificate has expired.
    pub expired: Vec<String>,
    /// Whether something needs a person (`certdeck status` exits non-zero).
    pub needs_attention: bool,
}

pub fn status(ctx: &Ctx) -> OpResult<Status> {
    let read = ctx.store.read();
    let now = ctx.now();
    let plan = plan_renewals(ctx, false)?;
    let due = plan
        .iter()
        .filter(|p| matches!(p.decision, Decision::Renew { .. }))
        .count();
    let blocked: Vec<String> = plan
        .iter()
        .filter(|p| matches!(p.decision, Decision::Blocked { .. }))
        .map(|p| p.name.clone())
        .collect();
    let failing = read.jobs(true, false, 1000)?;
    let awaiting_approval = read.jobs_awaiting_approval(1000)?;
    let names: HashMap<i64, String> = read
        .authorities()?
        .into_iter()
        .map(|a| (a.id, a.name))
        .collect();
    let open_circuits: Vec<String> = read
        .authority_healths()?
        .into_iter()
        .filter(|h| h.state == "open")
        .filter_map(|h| names.get(&h.authority_id).cloned())
        .collect();
    let alerts = read.alerts(true)?;
    let expired: Vec<String> = read
        .planning_rows()?
        .into_iter()
        .filter(|r| r.current.is_some_and(|(_, na)| na <= now))
        .map(|r| r.name)
        .collect();
    let needs_attention = !failing.is_empty()
        || !awaiting_approval.is_empty()
        || !open_circuits.is_empty()
        || !alerts.is_empty()
        || !expired.is_empty()
        || !blocked.is_empty();
    Ok(Status {
        at: now,
        due,
        blocked,
        failing,
        awaiting_approval,
        open_circuits,
        alerts,
        expired,
        needs_attention,
    })
}
