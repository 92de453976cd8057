//! The lifecycle verbs: apply an estate file, renew an identity (a job run step by step),
//! revoke. A renewal is a sequence of persisted steps; each step's state change and its
//! audit record share one transaction, and no transaction is held across CA, file or
//! network I/O (DESIGN.md rule 2). A run interrupted anywhere resumes from the last
//! recorded step: an order already placed is resumed, a certificate already issued is
//! deployed, never ordered again.

use super::{run, Ctx, OpError, OpResult};
use crate::access::Activity;
use crate::audit::Entry;
use crate::ca::{Connectors, OrderRequest};
use crate::deploy::{self, Material, TargetSpec};
use crate::lifecycle::estate::{AuthoritySpec, Change, Estate, IdentitySpec, OwnerSpec, Plan};
use crate::lifecycle::{gate, Category, Diagnosis, Job, JobState, KeyType, PrivateKey};
use crate::model::{Actor, AuthorityKind, CertStatus, Environment, Identity};
use crate::store::{HealthRow, LedgerRow, NewSighting, Read};
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
        |tx, now| {
            let id = tx.insert_job(ident.id, auth.id, reason, &actor.name, now)?;
            tx.append_audit(
                actor,
                now,
                &Entry::success(
                    "job.plan",
                    "job",
                    id.to_string(),
                    json!({"identity": identity, "authority": auth.name, "reason": reason}),
                ),
            )?;
            Ok(id)
        },
    )
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

/// Everything a job's steps need about its identity, read once per run.
struct Subject {
    identity: Identity,
    targets: Vec<TargetSpec>,
    key_type: KeyType,
}

/// Runs job `job_id` from where it stands to `verified` or to a diagnosed failure.
pub fn execute(
    ctx: &mut Ctx,
    actor: &Actor,
    job_id: i64,
    opts: &RunOptions,
    connectors: &dyn Connectors,
) -> OpResult<RunOutcome> {
    let mut key: Option<PrivateKey> = None;
    let mut terms = gate::Terms::default();
    loop {
        let job = load_job(ctx, job_id)?;
        let step = job.resume_step();
        if step == JobState::Verified || job.state == JobState::Cancelled {
            let fp = cert_fingerprint(ctx.store.read(), job.certificate_id)?;
            return Ok(RunOutcome {
                job,
                diagnosis: None,
                fingerprint: fp,
            });
        }
        if opts
            .stop
            .as_ref()
            .is_some_and(|s| s.load(std::sync::atomic::Ordering::SeqCst))
        {
            // Stopping: the step in flight is done and recorded; the job resumes later.
            return Ok(RunOutcome {
                job,
                diagnosis: None,
                fingerprint: None,
            });
        }
        let subject = load_subject(ctx.store.read(), &job)?;
        let result = match step {
            JobState::Planned => step_plan(ctx, actor, &job, &subject, &mut key, &mut terms),
            JobState::Ordering => {
                step_order(ctx, actor, &job, &subject, &mut key, &mut terms, connectors)
            }
            JobState::Issued => advance(ctx, actor, &job, JobState::Deploying, json!({})),
            JobState::Deploying => step_deploy(ctx, actor, &job, &subject, &mut key, opts),
            JobState::Deployed => advance(ctx, actor, &job, JobState::Verifying, json!({})),
            JobState::Verifying => step_verify(ctx, actor, &job, &subject, opts),
            JobState::Verified | JobState::Failed | JobState::Cancelled => {
                unreachable!("handled above")
            }
        };
        match result {
            Ok(()) => continue,
            Err(StepError::Op(e)) => return Err(e),
            Err(StepError::Failed(d, resume_at)) => {
                record_failure(ctx, actor, &job, resume_at, &d, opts)?;
                let job = load_job(ctx, job_id)?;
                return Ok(RunOutcome {
                    job,
                    diagnosis: Some(d),
                    fingerprint: None,
                });
            }
        }
    }
}

enum StepError {
    /// The store or authorization failed: nothing about the job changed.
    Op(OpError),
    /// The step failed for a diagnosable reason; the job resumes at the given step.
    Failed(Diagnosis, JobState),
}

impl From<OpError> for StepError {
    fn from(e: OpError) -> Self {
        StepError::Op(e)
    }
}

impl From<crate::store::StoreError> for StepError {
    fn from(e: crate::store::StoreError) -> Self {
        StepError::Op(e.into())
    }
}

fn load_job(ctx: &Ctx, id: i64) -> OpResult<Job> {
    ctx.store
        .read()
        .job(id)?
        .ok_or_else(|| OpError::NotFound(format!("job {id}")))
}

fn load_subject(read: Read<'_>, job: &Job) -> OpResult<Subject> {
    let identity = read
        .identity_by_name(&job.identity)?
        .ok_or_else(|| OpError::NotFound(format!("identity {}", job.identity)))?;
    let key_type = identity
        .key_type
        .as_deref()
        .unwrap_or("ecdsa-p256")
        .parse()
        .map_err(OpError::Invalid)?;
    Ok(Subject {
        targets: read.identity_targets(identity.id)?,
        identity,
        key_type,
    })
}

fn cert_fingerprint(read: Read<'_>, id: Option<i64>) -> OpResult<Option<String>> {
    Ok(match id {
        Some(id) => read.certificate_row(id)?.map(|r| r.fingerprint_sha256),
        None => None,
    })
}

fn advance(
    ctx: &mut Ctx,
    actor: &Actor,
    job: &Job,
    to: JobState,
    details: serde_json::Value,
) -> Result<(), StepError> {
    let id = job.id;
    run(
        ctx,
        actor,
        Activity::RenewalResponse,
        &format!("job.{to}"),
        ("job", &id.to_string()),
        |tx, now| {
            tx.set_job_state(id, to, now)?;
            let mut d = details;
            d["identity"] = json!(job.identity);
            tx.append_audit(
                actor,
                now,
                &Entry::success(&format!("job.{to}"), "job", id.to_string(), d),
            )?;
            Ok(())
        },
    )?;
    Ok(())
}

/// planned → ordering: the issuance gate decides, the key is generated and staged.
fn step_plan(
    ctx: &mut Ctx,
    actor: &Actor,
    job: &Job,
    s: &Subject,
    key: &mut Option<PrivateKey>,
    terms: &mut gate::Terms,
) -> Result<(), StepError> {
    let authority = ctx
        .store
        .read()
        .authority_by_name(&job.authority)?
        .ok_or_else(|| OpError::NotFound(format!("authority {}", job.authority)))?;
    *terms = gate::check(
        ctx.store.read(),
        &s.identity,
        &authority,
        actor,
        ctx.now(),
        &ctx.config.workflow,
    )
    .map_err(|d| StepError::Failed(d, JobState::Planned))?;
    let k = s.key_type.generate().map_err(|e| {
        StepError::Failed(Diagnosis::new(Category::PolicyDenied, e), JobState::Planned)
    })?;
    let staging = match s.targets.first() {
        Some(t) => {
            let p = t.staging_key_path();
            deploy::files::write_atomic(
                &p,
                k.pem().as_bytes(),
                0o600,
                t.owner.as_deref(),
                t.group.as_deref(),
            )
            .map_err(|d| StepError::Failed(d, JobState::Planned))?;
            Some(p.display().to_string())
        }
        None => None,
    };
    *key = Some(k);
    let id = job.id;
    run(
        ctx,
        actor,
        Activity::RenewalResponse,
        "job.ordering",
        ("job", &id.to_string()),
        |tx, now| {
            tx.set_job_key_staging(id, staging.as_deref())?;
            tx.set_job_state(id, JobState::Ordering, now)?;
            tx.append_audit(actor, now, &Entry::success("job.ordering", "job", id.to_string(), json!({
            "identity": job.identity, "authority": job.authority, "key": s.key_type.as_str(),
            "profile": terms.profile, "gate": "allowed", "approval_request": terms.approval,
        })))?;
            Ok(())
        },
    )?;
    Ok(())
}

/// The job's key: the one generated in this run, else the staged one from an earlier run.
fn job_key<'k>(job: &Job, key: &'k mut Option<PrivateKey>) -> Result<&'k PrivateKey, Diagnosis> {
    if key.is_none() {
        let path = job.key_staging.as_deref().ok_or_else(|| {
            Diagnosis::new(Category::DeployPermission, "the job's key was never staged")
        })?;
        let pem = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
            Diagnosis::new(
                Category::DeployPermission,
                format!("staged key {path}: {e}"),
            )
        })?);
        *key = Some(PrivateKey::from_pem(&pem).map_err(|e| {
            Diagnosis::new(
                Category::DeployPermission,
                format!("staged key {path}: {e}"),
            )
        })?);
    }
    Ok(key.as_ref().expect("set above"))
}

/// ordering → issued: the CA is asked (or an interrupted order resumed); what comes back
/// is checked against the profile and recorded before anything is deployed.
#[allow(clippy::too_many_arguments)]
fn step_order(
    ctx: &mut Ctx,
    actor: &Actor,
    job: &Job,
    s: &Subject,
    key: &mut Option<PrivateKey>,
    terms: &mut gate::Terms,
    connectors: &dyn Connectors,
) -> Result<(), StepError> {
    let authority = ctx
        .store
        .read()
        .authority_by_name(&job.authority)?
        .ok_or_else(|| OpError::NotFound(format!("authority {}", job.authority)))?;
    if terms.profile.is_none() && s.identity.profile.is_some() {
        // A resumed run: ask the gate again for the terms (the decision itself was recorded).
        *terms = gate::check(
            ctx.store.read(),
            &s.identity,
            &authority,
            actor,
            ctx.now(),
            &ctx.config.workflow,
        )
        .map_err(|d| StepError::Failed(d, JobState::Planned))?;
    }
    // A key that cannot be read back means starting over with a new one (and a new order).
    let k = job_key(job, key).map_err(|d| StepError::Failed(d, JobState::Planned))?;
    let csr = k.csr_der(&s.identity.sans).map_err(|e| {
        StepError::Failed(Diagnosis::new(Category::PolicyDenied, e), JobState::Planned)
    })?;
    let connector = connectors
        .connector(&authority)
        .map_err(|d| StepError::Failed(d, JobState::Ordering))?;
    let now = ctx.now();
    let req = OrderRequest {
        identity: &s.identity.name,
        sans: &s.identity.sans,
        key: k,
        csr_der: &csr,
        validity: terms.validity,
        now,
        order_ref: job.order_ref.as_deref(),
    };
    let mut record_order = |order_ref: &str| -> Result<(), Diagnosis> {
        let id = job.id;
        let domain = registered_domain(&s.identity.sans);
        run(ctx, actor, Activity::RenewalResponse, "job.order", ("job", &id.to_string()), |tx, now| {
            tx.set_job_order_ref(id, order_ref)?;
            tx.insert_ledger(&LedgerRow {
                at: now,
                authority_id: job.authority_id,
                identity_id: job.identity_id,
                kind: "order".into(),
                registered_domain: domain.clone(),
                san_set: san_set(&s.identity.sans),
            })?;
            tx.append_audit(actor, now, &Entry::success("job.order", "job", id.to_string(),
                json!({"identity": job.identity, "authority": job.authority, "order": order_ref})))?;
            Ok(())
        })
        .map_err(|e| Diagnosis::new(Category::CaUnavailable, format!("recording the order: {e}")))
    };
    let issued = connector
        .issue(&req, &mut record_order)
        .map_err(|d| StepError::Failed(d, JobState::Ordering))?;
    if let Some(pem) = &issued.key_pem {
        // The CA generated the key (Vault `issue`): it replaces ours, staged the same way.
        let k = PrivateKey::from_pem(pem).map_err(|e| {
            StepError::Failed(
                Diagnosis::new(Category::CaUnavailable, e),
                JobState::Ordering,
            )
        })?;
        if let Some(p) = &job.key_staging {
            let t = s.targets.first();
            deploy::files::write_atomic(
                std::path::Path::new(p),
                pem.as_bytes(),
                0o600,
                t.and_then(|t| t.owner.as_deref()),
                t.and_then(|t| t.group.as_deref()),
            )
            .map_err(|d| StepError::Failed(d, JobState::Ordering))?;
        }
        *key = Some(k);
    }
    let leaf = issued.chain.first().ok_or_else(|| {
        StepError::Failed(
            Diagnosis::new(Category::CaUnavailable, "the CA returned no certificate"),
            JobState::Ordering,
        )
    })?;
    let (info, _) = crate::x509::parse_der(leaf, false).map_err(|e| {
        StepError::Failed(
            Diagnosis::new(
                Category::CaUnavailable,
                format!("the CA returned an unreadable certificate: {e}"),
            ),
            JobState::Ordering,
        )
    })?;
    let violation = gate::check_issued(&s.identity, s.key_type, terms, &info, Some(leaf)).err();
    let id = job.id;
    let fp = info.fingerprint_sha256.clone();
    run(
        ctx,
        actor,
        Activity::RenewalResponse,
        "certificate.issue",
        ("job", &id.to_string()),
        |tx, now| {
            let owner_id = match &s.identity.owner {
                Some(o) => tx.read().owner_by_name(o)?.map(|o| o.id),
                None => None,
            };
            // The chain first, so the leaf links to its issuer.
            for der in issued.chain.iter().skip(1) {
                if let Ok((ci, _)) = crate::x509::parse_der(der, false) {
                    let out = tx.insert_certificate(
                        &ci,
                        der,
                        "issued",
                        &NewSighting {
                            kind: "issued".into(),
                            location: format!("authority:{}", job.authority),
                        },
                        None,
                        None,
                        now,
                    )?;
                    tx.set_certificate_authority(out.id(), Some(job.authority_id))?;
                }
            }
            let out = tx.insert_certificate(
                &info,
                leaf,
                "issued",
                &NewSighting {
                    kind: "issued".into(),
                    location: format!("authority:{} job:{id}", job.authority),
                },
                owner_id,
                s.identity.environment,
                now,
            )?;
            let cert_id = out.id();
            tx.set_certificate_identity(cert_id, Some(job.identity_id))?;
            tx.set_certificate_authority(cert_id, Some(job.authority_id))?;
            tx.link_issuers()?;
            tx.set_job_certificate(id, cert_id)?;
            tx.insert_ledger(&LedgerRow {
                at: now,
                authority_id: job.authority_id,
                identity_id: job.identity_id,
                kind: "certificate".into(),
                registered_domain: registered_domain(&s.identity.sans),
                san_set: san_set(&s.identity.sans),
            })?;
            circuit_success(tx, job.authority_id, now)?;
            tx.append_audit(actor, now, &Entry::success("certificate.issue", "certificate", fp.clone(), json!({
            "job": id, "identity": job.identity, "authority": job.authority, "serial": info.serial,
            "not_after": crate::clock::rfc3339(info.not_after), "profile_check": violation.as_ref().map(|v| v.message.clone()),
        })))?;
            if violation.is_none() {
                tx.set_job_state(id, JobState::Issued, now)?;
                tx.append_audit(
                    actor,
                    now,
                    &Entry::success(
                        "job.issued",
                        "job",
                        id.to_string(),
                        json!({"identity": job.identity, "certificate": fp}),
                    ),
                )?;
            }
            Ok(())
        },
    )?;
    if let Some(v) = violation {
        // Not deployed; a retry orders afresh (the CA may have fixed its profile).
        return Err(StepError::Failed(v, JobState::Planned));
    }
    Ok(())
}

fn material(read: Read<'_>, job: &Job, key: &PrivateKey) -> Result<Material, StepError> {
    let cert_id = job.certificate_id.ok_or_else(|| {
        StepError::Failed(
            Diagnosis::new(Category::CaUnavailable, "the job has no issued certificate"),
            JobState::Planned,
        )
    })?;
    let leaf = read.certificate_der(cert_id)?.unwrap_or_default();
    let chain: Vec<Vec<u8>> = read
        .chain(cert_id)?
        .into_iter()
        .filter(|r| !(r.is_ca && r.subject == r.issuer))
        .filter_map(|r| read.certificate_der(r.id).ok().flatten())
        .collect();
    Ok(Material {
        leaf_pem: deploy::pem_certs(&[leaf]),
        chain_pem: deploy::pem_certs(&chain),
        key_pem: key.pem(),
    })
}

/// deploying → deployed: files written atomically, then each distinct reload command run.
fn step_deploy(
    ctx: &mut Ctx,
    actor: &Actor,
    job: &Job,
    s: &Subject,
    key: &mut Option<PrivateKey>,
    opts: &RunOptions,
) -> Result<(), StepError> {
    if job.state != JobState::Deploying {
        advance(
            ctx,
            actor,
            job,
            JobState::Deploying,
            json!({"resumed": true}),
        )?;
    }
    let mut written = Vec::new();
    if !s.targets.is_empty() {
        // The staged key is gone only when someone removed it: start over with a new key.
        let k = job_key(job, key).map_err(|d| StepError::Failed(d, JobState::Planned))?;
        let m = material(ctx.store.read(), job, k)?;
        for t in &s.targets {
            deploy::files::deploy(t, &m).map_err(|d| StepError::Failed(d, JobState::Deploying))?;
            written.push(t.cert.display().to_string());
        }
        let fp = cert_fingerprint(ctx.store.read(), job.certificate_id)?.unwrap_or_default();
        let mut ran: Vec<&str> = Vec::new();
        for t in &s.targets {
            let Some(cmd) = t.reload.as_deref() else {
                continue;
            };
            if ran.contains(&cmd) {
                continue;
            }
            ran.push(cmd);
            let env = reload_env(job, &s.identity, t, &fp);
            let env_ref: Vec<(&str, String)> = env.iter().map(|(k, v)| (*k, v.clone())).collect();
            let timeout = std::time::Duration::from_secs(
                t.reload_timeout_seconds
                    .unwrap_or(opts.settings.reload_timeout_seconds),
            );
            deploy::reload::run(cmd, &env_ref, timeout)
                .map_err(|d| StepError::Failed(d, JobState::Deploying))?;
        }
    }
    advance(
        ctx,
        actor,
        job,
        JobState::Deployed,
        json!({"targets": written}),
    )
}

fn reload_env(
    job: &Job,
    identity: &Identity,
    t: &TargetSpec,
    fp: &str,
) -> Vec<(&'static str, String)> {
    let p = |p: &Option<std::path::PathBuf>| {
        p.as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    };
    vec![
        ("CERTDECK_IDENTITY", identity.name.clone()),
        ("CERTDECK_JOB", job.id.to_string()),
        ("CERTDECK_CERT_PATH", t.cert.display().to_string()),
        ("CERTDECK_KEY_PATH", t.key.display().to_string()),
        ("CERTDECK_CHAIN_PATH", p(&t.chain)),
        ("CERTDECK_FULLCHAIN_PATH", p(&t.fullchain)),
        ("CERTDECK_FINGERPRINT", fp.to_string()),
        ("CERTDECK_SANS", identity.sans.join(",")),
    ]
}

/// verifying → verified: each target with a verify address must serve the new leaf.
/// Only then is the certificate the identity's current one.
fn step_verify(
    ctx: &mut Ctx,
    actor: &Actor,
    job: &Job,
    s: &Subject,
    opts: &RunOptions,
) -> Result<(), StepError> {
    let fp = cert_fingerprint(ctx.store.read(), job.certificate_id)?.unwrap_or_default();
    let sni = s.identity.sans.first().cloned().unwrap_or_default();
    let mut checked = Vec::new();
    for t in &s.targets {
        let Some(addr) = t.verify.as_deref() else {
            continue;
        };
        deploy::verify::served(addr, &sni, &fp, opts.settings.verify_window()).map_err(|d| {
            // A mismatch is retried from the deployment (rewrite, reload, verify again).
            StepError::Failed(d, JobState::Deploying)
        })?;
        checked.push(addr.to_string());
    }
    let id = job.id;
    let cert_id = job.certificate_id;
    let previous = s.identity.current_certificate_id;
    run(
        ctx,
        actor,
        Activity::RenewalResponse,
        "job.verified",
        ("job", &id.to_string()),
        |tx, now| {
            if let Some(c) = cert_id {
                tx.set_identity_current_certificate(job.identity_id, Some(c))?;
                if let Some(p) = previous.filter(|p| *p != c) {
                    if let Some(row) = tx.read().certificate_row(p)? {
                        if row.status == CertStatus::Active {
                            tx.set_certificate_status(p, CertStatus::Superseded)?;
                        }
                    }
                }
            }
            tx.set_job_key_staging(id, None)?;
            tx.set_job_state(id, JobState::Verified, now)?;
            tx.append_audit(
                actor,
                now,
                &Entry::success(
                    "job.verified",
                    "job",
                    id.to_string(),
                    json!({
                        "identity": job.identity, "certificate": fp, "verified_at": checked,
                        "unverified": checked.is_empty(),
                    }),
                ),
            )?;
            Ok(())
        },
    )?;
    if let Some(p) = &job.key_staging {
        let _ = std::fs::remove_file(p);
    }
    Ok(())
}

/// Records a failed step: diagnosis, attempts, next attempt (backoff or Retry-After),
/// and for CA-side failures the authority's circuit breaker.
fn record_failure(
    ctx: &mut Ctx,
    actor: &Actor,
    job: &Job,
    resume_at: JobState,
    d: &Diagnosis,
    opts: &RunOptions,
) -> OpResult<()> {
    let attempts = job.attempts + 1;
    let next = opts
        .settings
        .backoff()
        .next_attempt(ctx.now(), attempts, d.retry_after_secs);
    let id = job.id;
    let settings = opts.settings.clone();
    run(
        ctx,
        actor,
        Activity::RenewalResponse,
        "job.fail",
        ("job", &id.to_string()),
        |tx, now| {
            tx.fail_job(id, resume_at, d.category, &d.message, attempts, next, now)?;
            // An order the CA judged (failed validation, refused names or account) is dead:
            // the retry places a new one. Transport failures keep it, to be resumed.
            if resume_at == JobState::Ordering
                && matches!(
                    d.category,
                    Category::ChallengeFailed
                        | Category::Dns
                        | Category::PolicyDenied
                        | Category::Unauthorized
                )
            {
                tx.clear_job_order_ref(id)?;
            }
            tx.append_audit(actor, now, &Entry::failed("job.fail", "job", id.to_string(), d.message.clone(), json!({
            "identity": job.identity, "authority": job.authority, "diagnosis": d.category.as_str(),
            "next_step": d.next_step(), "attempts": attempts, "next_attempt_at": crate::clock::rfc3339(next),
            "resumes_at": resume_at.as_str(),
        })))?;
            if d.category.counts_against_authority() {
                circuit_failure(tx, actor, job, d, &settings, now)?;
            }
            Ok(())
        },
    )
}

fn circuit_success(
    tx: &crate::store::Tx<'_>,
    authority_id: i64,
    now: OffsetDateTime,
) -> OpResult<()> {
    if let Some(h) = tx.read().authority_health(authority_id)? {
        if h.consecutive_failures != 0 || h.state != "closed" {
            tx.set_authority_health(
                &HealthRow {
                    consecutive_failures: 0,
                    state: "closed".into(),
                    opened_at: None,
                    ..h
                },
                now,
            )?;
        }
    }
    Ok(())
}

fn circuit_failure(
    tx: &crate::store::Tx<'_>,
    actor: &Actor,
    job: &Job,
    d: &Diagnosis,
    settings: &crate::lifecycle::Settings,
    now: OffsetDateTime,
) -> OpResult<()> {
    let h = tx
        .read()
        .authority_health(job.authority_id)?
        .unwrap_or(HealthRow {
            authority_id: job.authority_id,
            consecutive_failures: 0,
            state: "closed".into(),
            opened_at: None,
            last_failure: None,
        });
    let failures = h.consecutive_failures + 1;
    let opens = failures >= settings.circuit_failures && h.state != "open";
    let state = if failures >= settings.circuit_failures {
        "open"
    } else {
        "closed"
    };
    tx.set_authority_health(
        &HealthRow {
            authority_id: job.authority_id,
            consecutive_failures: failures,
            state: state.into(),
            opened_at: if opens { Some(now) } else { h.opened_at },
            last_failure: Some(d.message.chars().take(500).collect()),
        },
        now,
    )?;
    if opens {
        let msg = format!(
            "authority {}: circuit opened after {failures} consecutive failures (last: {d})",
            job.authority
        );
        tx.insert_alert(now, "circuit_open", &job.authority, &msg)?;
        tx.append_audit(
            actor,
            now,
            &Entry::success(
                "alert.raise",
                "authority",
                job.authority.clone(),
                json!({"kind": "circuit_open", "message": msg}),
            ),
        )?;
    }
    Ok(())
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
        let dl = Limits::default();
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

/// Renews every identity the planner says is due (`renew --due`), one after another.
/// With `dry_run`, returns the plan of what is due or blocked and does nothing.
pub fn renew_due(
    ctx: &mut Ctx,
    actor: &Actor,
    opts: &RunOptions,
    connectors: &dyn Connectors,
    dry_run: bool,
) -> OpResult<Vec<DueResult>> {
    let plan = plan_renewals(ctx, opts.now)?;
    let mut out = Vec::new();
    let now = ctx.now();
    for p in plan {
        if matches!(p.decision, Decision::Wait { .. }) {
            continue;
        }
        // A service account sees (and renews) only what its scopes cover.
        if let Some(i) = ctx.store.read().identity_by_name(&p.name)? {
            let obj = scope_object(&i);
            if crate::access::authorize_object(
                ctx.store.read(),
                actor,
                Activity::RenewalResponse,
                now,
                &obj,
            )
            .is_err()
            {
                continue;
            }
        }
        if opts
            .stop
            .as_ref()
            .is_some_and(|s| s.load(std::sync::atomic::Ordering::SeqCst))
        {
            break;
        }
        if dry_run {
            out.push(DueResult {
                planned: p,
                outcome: None,
                error: None,
            });
            continue;
        }
        let r = run_planned(ctx, actor, &p, opts, connectors);
        out.push(match r {
            Ok(Some(o)) => DueResult {
                planned: p,
                outcome: Some(o),
                error: None,
            },
            Ok(None) => DueResult {
                planned: p,
                outcome: None,
                error: None,
            },
            Err(e) => DueResult {
                planned: p,
                outcome: None,
                error: Some(e.to_string()),
            },
        });
    }
    Ok(out)
}

/// Executes one planned decision (nothing for a blocked one).
pub fn run_planned(
    ctx: &mut Ctx,
    actor: &Actor,
    p: &Planned,
    opts: &RunOptions,
    connectors: &dyn Connectors,
) -> OpResult<Option<RunOutcome>> {
    let Decision::Renew {
        authority_id,
        reason,
        ..
    } = p.decision
    else {
        return Ok(None);
    };
    let reason = if reason == "first" { "first" } else { "due" };
    let id = start_job(ctx, actor, &p.name, reason, true)?;
    let job = load_job(ctx, id)?;
    if job.authority_id != authority_id
        && job.order_ref.is_none()
        && matches!(job.resume_step(), JobState::Planned | JobState::Ordering)
    {
        let name = p.name.clone();
        run(
            ctx,
            actor,
            Activity::RenewalResponse,
            "job.switch_authority",
            ("job", &id.to_string()),
            |tx, now| {
                tx.set_job_authority(id, authority_id)?;
                tx.set_job_state(id, JobState::Planned, now)?;
                tx.append_audit(actor, now, &Entry::success("job.switch_authority", "job", id.to_string(),
                json!({"identity": name, "from": job.authority, "to_authority_id": authority_id, "why": "fallback"})))?;
                Ok(())
            },
        )?;
    }
    execute(ctx, actor, id, opts, connectors).map(Some)
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
        || !open_circuits.is_empty()
        || !alerts.is_empty()
        || !expired.is_empty()
        || !blocked.is_empty();
    Ok(Status {
        at: now,
        due,
        blocked,
        failing,
        open_circuits,
        alerts,
        expired,
        needs_attention,
    })
}
