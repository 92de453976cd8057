//! The job engine. Jobs move in rounds: in each round every open job takes its next step
//! — the work outside any transaction (gate and key, signing, files and reload, the TLS
//! handshake) — and then ONE transaction records every job's step: its own state change
//! and its own audit records, in job order on the hash chain. A job never takes two steps
//! in one round, so each of its states is committed before the work of the next one
//! starts ("ordering" is on disk before any CA is asked; "deploying" before any file is
//! written), exactly as when a job runs alone. A crash loses at most the round in
//! flight, which every job resumes from its last recorded step.
//!
//! Many jobs make a round cheap: keys are generated and, for a CA that signs locally
//! ([`crate::ca::BatchIssuer`]), certificates signed on every core; the round's inventory
//! rows, issuer links and compliance findings are written together. One job is a round
//! of one — `renew NAME` and `renew --due` run the same code.

use super::{registered_domain, san_set, RunOptions, RunOutcome};
use crate::access::Activity;
use crate::audit::Entry;
use crate::ca::{Connector, Connectors, Issued, OrderRequest};
use crate::deploy::{self, Material, TargetSpec};
use crate::lifecycle::{gate, par_map, Category, Diagnosis, Job, JobState, KeyType, PrivateKey};
use crate::model::{Actor, Authority, CertStatus, CertificateInfo, Identity};
use crate::ops::{run, Ctx, OpError, OpResult};
use crate::store::{HealthRow, LedgerRow, NewSighting, Read, Tx};
use serde_json::json;
use std::collections::HashMap;
use std::rc::Rc;
use time::OffsetDateTime;

/// Everything a job's steps need about its identity, read once per run.
struct Subject {
    identity: Identity,
    targets: Vec<TargetSpec>,
    key_type: KeyType,
}

/// One job being run: what the engine holds in memory between its steps.
struct Running {
    job: Job,
    subject: Subject,
    /// The key generated in this run (else read back from its staged file when needed).
    key: Option<PrivateKey>,
    terms: gate::Terms,
    outcome: Option<RunOutcome>,
}

/// What one step's work produced, to be recorded in the round's transaction.
enum Step {
    /// planned → ordering: the gate allowed; the key is staged at this path.
    Ordering { staging: Option<String> },
    /// ordering → issued, or a profile breach (recorded in the inventory, never deployed).
    Issued(Box<IssuedCert>),
    /// A transition that records only its state and audit record.
    Advance {
        to: JobState,
        details: serde_json::Value,
    },
    /// verifying → verified, with the endpoints that served the new certificate.
    Verified { checked: Vec<String> },
    /// A diagnosed failure; the job resumes at the given step.
    Failed(Diagnosis, JobState),
}

impl Step {
    fn action(&self) -> String {
        match self {
            Step::Ordering { .. } => "job.ordering".into(),
            Step::Issued(_) => "certificate.issue".into(),
            Step::Advance { to, .. } => format!("job.{to}"),
            Step::Verified { .. } => "job.verified".into(),
            Step::Failed(d, _) => fail_action(d).into(),
        }
    }
}

struct IssuedCert {
    chain: Vec<Vec<u8>>,
    info: CertificateInfo,
    violation: Option<Diagnosis>,
    /// Signed in a batch: the order and the certificate are one event, so the order
    /// budget's ledger entry is written with the certificate (remote CAs record theirs
    /// the moment the order exists).
    order_unrecorded: bool,
}

/// Runs job `job_id` from where it stands to `verified` or to a diagnosed failure.
pub fn execute(
    ctx: &mut Ctx,
    actor: &Actor,
    job_id: i64,
    opts: &RunOptions,
    connectors: &dyn Connectors,
) -> OpResult<RunOutcome> {
    let mut out = execute_many(ctx, actor, &[job_id], opts, connectors)?;
    Ok(out.pop().expect("one job, one outcome"))
}

/// Runs every job of `job_ids` to `verified` or to a diagnosed failure, in rounds (see
/// the module documentation). One outcome per job, in order. A store or authorization
/// error stops the run; each job then resumes from its last recorded step.
pub fn execute_many(
    ctx: &mut Ctx,
    actor: &Actor,
    job_ids: &[i64],
    opts: &RunOptions,
    connectors: &dyn Connectors,
) -> OpResult<Vec<RunOutcome>> {
    execute_known(ctx, actor, job_ids, &HashMap::new(), opts, connectors)
}

/// [`execute_many`] with the identities the caller already read (by name).
pub(super) fn execute_known(
    ctx: &mut Ctx,
    actor: &Actor,
    job_ids: &[i64],
    known: &HashMap<String, Identity>,
    opts: &RunOptions,
    connectors: &dyn Connectors,
) -> OpResult<Vec<RunOutcome>> {
    if job_ids.len() > 1 {
        // A round reads and writes every page of the jobs, audit and certificate indexes,
        // and its transactions write far more than SQLite's default 1000-page WAL
        // between checkpoints: keep more pages cached, and checkpoint less often (each
        // hot index page copied back once, not once per thousand pages written).
        ctx.store.transaction(|tx| tx.widen_cache(64 * 1024))?;
        ctx.store.set_wal_autocheckpoint(8000)?;
    }
    let mut loaded: HashMap<i64, Job> = ctx
        .store
        .read()
        .jobs_by_id(job_ids)?
        .into_iter()
        .map(|j| (j.id, j))
        .collect();
    let mut jobs = Vec::with_capacity(job_ids.len());
    for &id in job_ids {
        let job = loaded
            .remove(&id)
            .ok_or_else(|| OpError::NotFound(format!("job {id}")))?;
        let subject = load_subject(ctx.store.read(), &job, known.get(&job.identity))?;
        jobs.push(Running {
            job,
            subject,
            key: None,
            terms: gate::Terms::default(),
            outcome: None,
        });
    }
    loop {
        // Every open job as the store has it now, in one query.
        let open: Vec<i64> = jobs
            .iter()
            .filter(|r| r.outcome.is_none())
            .map(|r| r.job.id)
            .collect();
        let mut fresh: HashMap<i64, Job> = ctx
            .store
            .read()
            .jobs_by_id(&open)?
            .into_iter()
            .map(|j| (j.id, j))
            .collect();
        let mut active = Vec::new();
        for (i, r) in jobs.iter_mut().enumerate() {
            if r.outcome.is_some() {
                continue;
            }
            r.job = fresh
                .remove(&r.job.id)
                .ok_or_else(|| OpError::NotFound(format!("job {}", r.job.id)))?;
            if r.job.resume_step() == JobState::Verified || r.job.state == JobState::Cancelled {
                r.outcome = Some(RunOutcome {
                    job: r.job.clone(),
                    diagnosis: None,
                    fingerprint: cert_fingerprint(ctx.store.read(), r.job.certificate_id)?,
                });
            } else {
                active.push(i);
            }
        }
        if active.is_empty() {
            break;
        }
        if opts
            .stop
            .as_ref()
            .is_some_and(|s| s.load(std::sync::atomic::Ordering::SeqCst))
        {
            // Stopping: the steps in flight are recorded; the jobs resume later.
            for i in active {
                let r = &mut jobs[i];
                r.outcome = Some(RunOutcome {
                    job: r.job.clone(),
                    diagnosis: None,
                    fingerprint: None,
                });
            }
            break;
        }
        let steps = take_steps(ctx, actor, &mut jobs, &active, opts, connectors)?;
        record_round(ctx, actor, &jobs, &steps, opts)?;
        for (i, step) in steps {
            let r = &mut jobs[i];
            let failure = match step {
                Step::Failed(d, _) => Some(d),
                Step::Issued(c) => c.violation,
                Step::Verified { .. } => {
                    if let Some(p) = &r.job.key_staging {
                        let _ = std::fs::remove_file(p);
                    }
                    None
                }
                _ => None,
            };
            if let Some(d) = failure {
                r.outcome = Some(RunOutcome {
                    job: load_job(ctx.store.read(), r.job.id)?,
                    diagnosis: Some(d),
                    fingerprint: None,
                });
            }
        }
    }
    Ok(jobs
        .into_iter()
        .map(|r| r.outcome.expect("every job ends with an outcome"))
        .collect())
}

fn load_job(read: Read<'_>, id: i64) -> OpResult<Job> {
    read.job(id)?
        .ok_or_else(|| OpError::NotFound(format!("job {id}")))
}

fn load_subject(read: Read<'_>, job: &Job, known: Option<&Identity>) -> OpResult<Subject> {
    let identity = match known {
        Some(i) => i.clone(),
        None => read
            .identity_by_name(&job.identity)?
            .ok_or_else(|| OpError::NotFound(format!("identity {}", job.identity)))?,
    };
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
        Some(id) => read.certificate_fingerprint_status(id)?.map(|(fp, _)| fp),
        None => None,
    })
}

/// Authorities by name, read once per round.
#[derive(Default)]
struct Authorities(HashMap<String, Authority>);

impl Authorities {
    fn get(&mut self, read: Read<'_>, name: &str) -> OpResult<Authority> {
        if let Some(a) = self.0.get(name) {
            return Ok(a.clone());
        }
        let a = read
            .authority_by_name(name)?
            .ok_or_else(|| OpError::NotFound(format!("authority {name}")))?;
        self.0.insert(name.to_string(), a.clone());
        Ok(a)
    }
}

// ---------------------------------------------------------------- the work of a round

/// Takes the next step of every active job (no transaction open), grouped by step so
/// the CPU-bound work of many jobs runs on every core.
fn take_steps(
    ctx: &mut Ctx,
    actor: &Actor,
    jobs: &mut [Running],
    active: &[usize],
    opts: &RunOptions,
    connectors: &dyn Connectors,
) -> OpResult<Vec<(usize, Step)>> {
    let mut out = Vec::with_capacity(active.len());
    let (mut planned, mut ordering) = (Vec::new(), Vec::new());
    for &i in active {
        let r = &mut jobs[i];
        match r.job.resume_step() {
            JobState::Planned => planned.push(i),
            JobState::Ordering => ordering.push(i),
            JobState::Issued => out.push((
                i,
                Step::Advance {
                    to: JobState::Deploying,
                    details: json!({}),
                },
            )),
            JobState::Deploying if r.job.state != JobState::Deploying => out.push((
                i,
                Step::Advance {
                    to: JobState::Deploying,
                    details: json!({"resumed": true}),
                },
            )),
            JobState::Deploying => out.push((i, deploy_step(ctx, r, opts)?)),
            JobState::Deployed => out.push((
                i,
                Step::Advance {
                    to: JobState::Verifying,
                    details: json!({}),
                },
            )),
            JobState::Verifying => out.push((i, verify_step(ctx, r, opts)?)),
            JobState::Verified | JobState::Failed | JobState::Cancelled => {
                unreachable!("finished jobs are not active")
            }
        }
    }
    plan_step(ctx, actor, jobs, &planned, &mut out)?;
    order_step(ctx, actor, jobs, &ordering, connectors, &mut out)?;
    out.sort_by_key(|(i, _)| *i);
    Ok(out)
}

/// planned → ordering: the issuance gate decides, a key is generated (on every core)
/// and staged beside the first target's key file.
fn plan_step(
    ctx: &Ctx,
    actor: &Actor,
    jobs: &mut [Running],
    idx: &[usize],
    out: &mut Vec<(usize, Step)>,
) -> OpResult<()> {
    if idx.is_empty() {
        return Ok(());
    }
    let read = ctx.store.read();
    let now = ctx.now();
    let mut authorities = Authorities::default();
    let mut allowed = Vec::with_capacity(idx.len());
    for &i in idx {
        let r = &mut jobs[i];
        let authority = authorities.get(read, &r.job.authority)?;
        match gate::check(
            read,
            &r.subject.identity,
            &authority,
            actor,
            now,
            &ctx.config.workflow,
        ) {
            Ok(t) => {
                r.terms = t;
                allowed.push(i);
            }
            Err(d) => out.push((i, Step::Failed(d, JobState::Planned))),
        }
    }
    let types: Vec<KeyType> = allowed.iter().map(|&i| jobs[i].subject.key_type).collect();
    let keys = par_map(&types, |kt| kt.generate());
    for (&i, k) in allowed.iter().zip(keys) {
        let r = &mut jobs[i];
        let k = match k {
            Ok(k) => k,
            Err(e) => {
                let d = Diagnosis::new(Category::PolicyDenied, e);
                out.push((i, Step::Failed(d, JobState::Planned)));
                continue;
            }
        };
        let staging = match r.subject.targets.first() {
            Some(t) => {
                let p = t.staging_key_path();
                let written = deploy::files::write_atomic(
                    &p,
                    k.pem().as_bytes(),
                    0o600,
                    t.owner.as_deref(),
                    t.group.as_deref(),
                );
                if let Err(d) = written {
                    out.push((i, Step::Failed(d, JobState::Planned)));
                    continue;
                }
                Some(p.display().to_string())
            }
            None => None,
        };
        r.key = Some(k);
        out.push((i, Step::Ordering { staging }));
    }
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
/// is checked against the profile before anything is recorded or deployed. A CA that
/// signs locally gets the whole round in one call; a remote one is asked job by job,
/// recording each order the moment it exists.
fn order_step(
    ctx: &mut Ctx,
    actor: &Actor,
    jobs: &mut [Running],
    idx: &[usize],
    connectors: &dyn Connectors,
    out: &mut Vec<(usize, Step)>,
) -> OpResult<()> {
    if idx.is_empty() {
        return Ok(());
    }
    let now = ctx.now();
    let mut authorities = Authorities::default();
    let mut ready: Vec<(usize, Rc<dyn Connector>)> = Vec::with_capacity(idx.len());
    for &i in idx {
        let authority = authorities.get(ctx.store.read(), &jobs[i].job.authority)?;
        let r = &mut jobs[i];
        if r.terms.profile.is_none() && r.subject.identity.profile.is_some() {
            // A resumed run: ask the gate again for the terms (the decision was recorded).
            match gate::check(
                ctx.store.read(),
                &r.subject.identity,
                &authority,
                actor,
                now,
                &ctx.config.workflow,
            ) {
                Ok(t) => r.terms = t,
                Err(d) => {
                    out.push((i, Step::Failed(d, JobState::Planned)));
                    continue;
                }
            }
        }
        // A key that cannot be read back means starting over with a new key and order.
        if let Err(d) = job_key(&r.job, &mut r.key) {
            out.push((i, Step::Failed(d, JobState::Planned)));
            continue;
        }
        match connectors.connector(&authority) {
            Ok(c) => ready.push((i, c)),
            Err(d) => out.push((i, Step::Failed(d, JobState::Ordering))),
        }
    }
    let csrs = {
        let inputs: Vec<(&PrivateKey, &[String])> = ready
            .iter()
            .map(|(i, _)| {
                let r = &jobs[*i];
                (
                    r.key.as_ref().expect("read above"),
                    &r.subject.identity.sans[..],
                )
            })
            .collect();
        par_map(&inputs, |(k, sans)| k.csr_der(sans))
    };
    let mut issued: Vec<(usize, Result<Issued, Diagnosis>)> = Vec::with_capacity(ready.len());
    // Requests for CAs that sign locally, per connector; the others, one by one.
    let mut batches: Vec<(Rc<dyn Connector>, Vec<usize>)> = Vec::new();
    for (n, ((i, c), csr)) in ready.iter().zip(&csrs).enumerate() {
        if let Err(e) = csr {
            let d = Diagnosis::new(Category::PolicyDenied, e.clone());
            out.push((*i, Step::Failed(d, JobState::Planned)));
            continue;
        }
        if c.batch().is_some() {
            match batches.iter_mut().find(|(b, _)| Rc::ptr_eq(b, c)) {
                Some((_, v)) => v.push(n),
                None => batches.push((c.clone(), vec![n])),
            }
            continue;
        }
        let r = &jobs[*i];
        let req = request(r, csr.as_ref().expect("checked"), now);
        issued.push((*i, issue_one(ctx, actor, r, c.as_ref(), &req)));
    }
    let batched: std::collections::HashSet<usize> = batches
        .iter()
        .flat_map(|(_, members)| members.iter().map(|&n| ready[n].0))
        .collect();
    for (c, members) in &batches {
        let reqs: Vec<OrderRequest<'_>> = members
            .iter()
            .map(|&n| request(&jobs[ready[n].0], csrs[n].as_ref().expect("checked"), now))
            .collect();
        let results = c.batch().expect("batch capable").issue_many(&reqs);
        issued.extend(members.iter().map(|&n| ready[n].0).zip(results));
    }
    // The CA generated the key (Vault `issue`): it replaces ours, staged the same way.
    let mut certs: Vec<(usize, Issued)> = Vec::with_capacity(issued.len());
    for (i, result) in issued {
        let r = &mut jobs[i];
        let got = result.and_then(|got| {
            if let Some(pem) = &got.key_pem {
                let k = PrivateKey::from_pem(pem)
                    .map_err(|e| Diagnosis::new(Category::CaUnavailable, e))?;
                if let Some(p) = &r.job.key_staging {
                    let t = r.subject.targets.first();
                    deploy::files::write_atomic(
                        std::path::Path::new(p),
                        pem.as_bytes(),
                        0o600,
                        t.and_then(|t| t.owner.as_deref()),
                        t.and_then(|t| t.group.as_deref()),
                    )?;
                }
                r.key = Some(k);
            }
            Ok(got)
        });
        match got {
            Ok(got) => certs.push((i, got)),
            Err(d) => out.push((i, Step::Failed(d, JobState::Ordering))),
        }
    }
    // What came back is read and judged against the profile, on every core.
    let judged = {
        let jobs = &*jobs;
        par_map(&certs, |(i, got)| judge(&jobs[*i], got))
    };
    for ((i, got), j) in certs.into_iter().zip(judged) {
        match j {
            Ok((info, violation)) => out.push((
                i,
                Step::Issued(Box::new(IssuedCert {
                    chain: got.chain,
                    info,
                    violation,
                    order_unrecorded: batched.contains(&i),
                })),
            )),
            Err(d) => out.push((i, Step::Failed(d, JobState::Ordering))),
        }
    }
    Ok(())
}

fn request<'a>(r: &'a Running, csr: &'a [u8], now: OffsetDateTime) -> OrderRequest<'a> {
    OrderRequest {
        identity: &r.subject.identity.name,
        sans: &r.subject.identity.sans,
        key: r.key.as_ref().expect("the key is read before ordering"),
        csr_der: csr,
        validity: r.terms.validity,
        now,
        order_ref: r.job.order_ref.as_deref(),
    }
}

/// Asks a remote CA for one certificate; the order is recorded (its own transaction)
/// the moment the CA has one, before waiting on it.
fn issue_one(
    ctx: &mut Ctx,
    actor: &Actor,
    r: &Running,
    connector: &dyn Connector,
    req: &OrderRequest<'_>,
) -> Result<Issued, Diagnosis> {
    let job = &r.job;
    let sans = &r.subject.identity.sans;
    let mut record_order = |order_ref: &str| -> Result<(), Diagnosis> {
        let id = job.id;
        run(ctx, actor, Activity::RenewalResponse, "job.order", ("job", &id.to_string()), |tx, now| {
            tx.set_job_order_ref(id, order_ref)?;
            tx.insert_ledger(&LedgerRow {
                at: now,
                authority_id: job.authority_id,
                identity_id: job.identity_id,
                kind: "order".into(),
                registered_domain: registered_domain(sans),
                san_set: san_set(sans),
            })?;
            tx.append_audit(actor, now, &Entry::success("job.order", "job", id.to_string(),
                json!({"identity": job.identity, "authority": job.authority, "order": order_ref})))?;
            Ok(())
        })
        .map_err(|e| Diagnosis::new(Category::CaUnavailable, format!("recording the order: {e}")))
    };
    connector.issue(req, &mut record_order)
}

/// Reads the leaf the CA returned and judges it against the identity's profile.
fn judge(r: &Running, got: &Issued) -> Result<(CertificateInfo, Option<Diagnosis>), Diagnosis> {
    let leaf = got
        .chain
        .first()
        .ok_or_else(|| Diagnosis::new(Category::CaUnavailable, "the CA returned no certificate"))?;
    let (info, _) = crate::x509::parse_der(leaf, false).map_err(|e| {
        Diagnosis::new(
            Category::CaUnavailable,
            format!("the CA returned an unreadable certificate: {e}"),
        )
    })?;
    let violation = gate::check_issued(
        &r.subject.identity,
        r.subject.key_type,
        &r.terms,
        &info,
        Some(leaf),
    )
    .err();
    Ok((info, violation))
}

fn material(read: Read<'_>, job: &Job, key: &PrivateKey) -> OpResult<Result<Material, Diagnosis>> {
    let Some(cert_id) = job.certificate_id else {
        return Ok(Err(Diagnosis::new(
            Category::CaUnavailable,
            "the job has no issued certificate",
        )));
    };
    let leaf = read.certificate_der(cert_id)?.unwrap_or_default();
    // Leaf, then every CA above it except a self-signed root: clients hold the root.
    let chain: Vec<Vec<u8>> = read
        .chain(cert_id)?
        .into_iter()
        .filter(|r| !(r.is_ca && r.subject == r.issuer))
        .filter_map(|r| read.certificate_der(r.id).ok().flatten())
        .collect();
    Ok(Ok(Material {
        leaf_pem: deploy::pem_certs(&[leaf]),
        chain_pem: deploy::pem_certs(&chain),
        key_pem: key.pem(),
    }))
}

/// deploying → deployed: files written atomically, then each distinct reload command run.
fn deploy_step(ctx: &Ctx, r: &mut Running, opts: &RunOptions) -> OpResult<Step> {
    let mut written = Vec::new();
    if !r.subject.targets.is_empty() {
        // The staged key is gone only when someone removed it: start over with a new key.
        let k = match job_key(&r.job, &mut r.key) {
            Ok(k) => k,
            Err(d) => return Ok(Step::Failed(d, JobState::Planned)),
        };
        let m = match material(ctx.store.read(), &r.job, k)? {
            Ok(m) => m,
            Err(d) => return Ok(Step::Failed(d, JobState::Planned)),
        };
        for t in &r.subject.targets {
            if let Err(d) = deploy::files::deploy(t, &m) {
                return Ok(Step::Failed(d, JobState::Deploying));
            }
            written.push(t.cert.display().to_string());
        }
        let fp = cert_fingerprint(ctx.store.read(), r.job.certificate_id)?.unwrap_or_default();
        let mut ran: Vec<&str> = Vec::new();
        for t in &r.subject.targets {
            let Some(cmd) = t.reload.as_deref() else {
                continue;
            };
            if ran.contains(&cmd) {
                continue;
            }
            ran.push(cmd);
            let env = reload_env(&r.job, &r.subject.identity, t, &fp);
            let timeout = std::time::Duration::from_secs(
                t.reload_timeout_seconds
                    .unwrap_or(opts.settings.reload_timeout_seconds),
            );
            if let Err(d) = deploy::reload::run(cmd, &env, timeout) {
                return Ok(Step::Failed(d, JobState::Deploying));
            }
        }
    }
    Ok(Step::Advance {
        to: JobState::Deployed,
        details: json!({ "targets": written }),
    })
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
fn verify_step(ctx: &Ctx, r: &Running, opts: &RunOptions) -> OpResult<Step> {
    let fp = cert_fingerprint(ctx.store.read(), r.job.certificate_id)?.unwrap_or_default();
    let sni = r.subject.identity.sans.first().cloned().unwrap_or_default();
    let mut checked = Vec::new();
    for t in &r.subject.targets {
        let Some(addr) = t.verify.as_deref() else {
            continue;
        };
        if let Err(d) = deploy::verify::served(addr, &sni, &fp, opts.settings.verify_window()) {
            // A mismatch is retried from the deployment (rewrite, reload, verify again).
            return Ok(Step::Failed(d, JobState::Deploying));
        }
        checked.push(addr.to_string());
    }
    Ok(Step::Verified { checked })
}

// ---------------------------------------------------------------- recording a round

/// Records every job's step of a round in one transaction (authorized once for the
/// actor), each job with its own state change and audit records. New certificates are
/// linked to their issuers and judged by policy in the same transaction.
fn record_round(
    ctx: &mut Ctx,
    actor: &Actor,
    jobs: &[Running],
    steps: &[(usize, Step)],
    opts: &RunOptions,
) -> OpResult<()> {
    let (action, object) = match steps {
        [(i, s)] => (s.action(), ("job", jobs[*i].job.id.to_string())),
        _ => ("job.step".into(), ("jobs", format!("{} jobs", steps.len()))),
    };
    let settings = &opts.settings;
    run(
        ctx,
        actor,
        Activity::RenewalResponse,
        &action,
        (object.0, &object.1),
        |tx, now| {
            let mut touched: Vec<i64> = Vec::new();
            let mut superseded: Vec<i64> = Vec::new();
            let mut needs_link = false;
            let mut chain_ids: HashMap<&[u8], i64> = HashMap::new();
            // A job cancelled while this round worked on it stays cancelled: its step is
            // not recorded (read under the write lock, so no cancellation slips between).
            let ids: Vec<i64> = steps.iter().map(|(i, _)| jobs[*i].job.id).collect();
            let cancelled: std::collections::HashSet<i64> = tx
                .read()
                .jobs_by_id(&ids)?
                .into_iter()
                .filter(|j| j.state == JobState::Cancelled)
                .map(|j| j.id)
                .collect();
            for (i, step) in steps {
                let r = &jobs[*i];
                if cancelled.contains(&r.job.id) {
                    continue;
                }
                match step {
                    Step::Ordering { staging } => record_ordering(tx, actor, now, r, staging)?,
                    Step::Issued(c) => {
                        needs_link |=
                            record_issued(tx, actor, now, r, c, &mut chain_ids, &mut touched)?;
                        if let Some(v) = &c.violation {
                            // Not deployed; a retry orders afresh (the CA may fix its profile).
                            record_failure(tx, actor, now, r, JobState::Planned, v, settings)?;
                        }
                    }
                    Step::Advance { to, details } => {
                        tx.set_job_state(r.job.id, *to, now)?;
                        let mut d = details.clone();
                        d["identity"] = json!(r.job.identity);
                        let action = format!("job.{to}");
                        tx.append_audit(
                            actor,
                            now,
                            &Entry::success(&action, "job", r.job.id.to_string(), d),
                        )?;
                    }
                    Step::Verified { checked } => {
                        superseded.extend(record_verified(tx, actor, now, r, checked)?);
                    }
                    Step::Failed(d, resume_at) => {
                        record_failure(tx, actor, now, r, *resume_at, d, settings)?
                    }
                }
            }
            if needs_link {
                tx.link_issuers()?;
            }
            if !touched.is_empty() {
                crate::ops::policy::recompute_certificates_in(tx, now, &touched)?;
            }
            Ok(())
        },
    )
}

fn record_ordering(
    tx: &Tx<'_>,
    actor: &Actor,
    now: OffsetDateTime,
    r: &Running,
    staging: &Option<String>,
) -> OpResult<()> {
    let id = r.job.id;
    tx.set_job_key_staging(id, staging.as_deref())?;
    tx.set_job_state(id, JobState::Ordering, now)?;
    tx.append_audit(
        actor,
        now,
        &Entry::success(
            "job.ordering",
            "job",
            id.to_string(),
            json!({
                "identity": r.job.identity, "authority": r.job.authority,
                "key": r.subject.key_type.as_str(), "profile": r.terms.profile, "gate": "allowed",
                "approval_request": r.terms.approval,
            }),
        ),
    )?;
    Ok(())
}

/// The certificate (and the chain above it) into the inventory, the ledger, the
/// authority's circuit; the job to `issued` unless the certificate breaches the profile.
/// The certificates new to the inventory go to `touched`, to be judged by policy.
/// Returns whether something is left for `link_issuers` (a new CA, or a leaf whose
/// issuer was not in the chain).
fn record_issued<'c>(
    tx: &Tx<'_>,
    actor: &Actor,
    now: OffsetDateTime,
    r: &Running,
    c: &'c IssuedCert,
    chain_ids: &mut HashMap<&'c [u8], i64>,
    touched: &mut Vec<i64>,
) -> OpResult<bool> {
    let mut needs_link = false;
    let (job, s) = (&r.job, &r.subject);
    let id = job.id;
    let owner_id = match &s.identity.owner {
        Some(o) => tx.read().owner_by_name(o)?.map(|o| o.id),
        None => None,
    };
    // The chain first, so the leaf links to its issuer; once per round per CA.
    for der in c.chain.iter().skip(1) {
        if chain_ids.contains_key(der.as_slice()) {
            continue;
        }
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
            if let crate::store::InsertOutcome::New(id) = out {
                // A CA new to the inventory is judged like any certificate, and linked.
                touched.push(id);
                needs_link = true;
            }
            chain_ids.insert(der, out.id());
        }
    }
    let leaf = &c.chain[0];
    let info = &c.info;
    let fp = info.fingerprint_sha256.clone();
    // Written once with its issuer and authority (not inserted, then updated).
    let link = crate::store::IssuerLink {
        issuer_id: c
            .chain
            .get(1)
            .and_then(|d| chain_ids.get(d.as_slice()).copied()),
        authority_id: Some(job.authority_id),
    };
    needs_link |= link.issuer_id.is_none();
    let out = tx.insert_certificate_linked(
        info,
        leaf,
        link,
        "issued",
        &NewSighting {
            kind: "issued".into(),
            location: format!("authority:{} job:{id}", job.authority),
        },
        owner_id,
        s.identity.environment,
        &crate::clock::rfc3339(now),
    )?;
    let cert_id = out.id();
    tx.set_certificate_identity(cert_id, Some(job.identity_id))?;
    if matches!(out, crate::store::InsertOutcome::Existing(_)) {
        tx.set_certificate_authority(cert_id, Some(job.authority_id))?;
    }
    tx.set_job_certificate(id, cert_id)?;
    let kinds: &[&str] = if c.order_unrecorded {
        &["order", "certificate"]
    } else {
        &["certificate"]
    };
    for kind in kinds {
        tx.insert_ledger(&LedgerRow {
            at: now,
            authority_id: job.authority_id,
            identity_id: job.identity_id,
            kind: (*kind).into(),
            registered_domain: registered_domain(&s.identity.sans),
            san_set: san_set(&s.identity.sans),
        })?;
    }
    circuit_success(tx, job.authority_id, now)?;
    tx.append_audit(
        actor,
        now,
        &Entry::success(
            "certificate.issue",
            "certificate",
            fp.clone(),
            json!({
                "job": id, "identity": job.identity, "authority": job.authority, "serial": info.serial,
                "not_after": crate::clock::rfc3339(info.not_after),
                "profile_check": c.violation.as_ref().map(|v| v.message.clone()),
            }),
        ),
    )?;
    if c.violation.is_none() {
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
    touched.push(cert_id);
    Ok(needs_link)
}

/// Only a verified certificate becomes the identity's current one; the previous one is
/// superseded. Returns the certificates whose standing changed (the superseded one: the
/// new one was judged when it was recorded).
fn record_verified(
    tx: &Tx<'_>,
    actor: &Actor,
    now: OffsetDateTime,
    r: &Running,
    checked: &[String],
) -> OpResult<Vec<i64>> {
    let job = &r.job;
    let id = job.id;
    let mut changed = Vec::new();
    let fp = cert_fingerprint(tx.read(), job.certificate_id)?.unwrap_or_default();
    if let Some(c) = job.certificate_id {
        tx.set_identity_current_certificate(job.identity_id, Some(c))?;
        if let Some(p) = r
            .subject
            .identity
            .current_certificate_id
            .filter(|p| *p != c)
        {
            if let Some((_, CertStatus::Active)) = tx.read().certificate_fingerprint_status(p)? {
                tx.set_certificate_status(p, CertStatus::Superseded)?;
                changed.push(p);
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
    Ok(changed)
}

/// The audit action of a stopped step: a job held for issuance approval is `job.hold`
/// (a reviewer is awaited, nothing failed); every other stop is `job.fail`.
fn fail_action(d: &Diagnosis) -> &'static str {
    if d.category.is_failure() {
        "job.fail"
    } else {
        "job.hold"
    }
}

/// Records a failed step: diagnosis, attempts, next attempt (backoff or Retry-After),
/// and for CA-side failures the authority's circuit breaker.
fn record_failure(
    tx: &Tx<'_>,
    actor: &Actor,
    now: OffsetDateTime,
    r: &Running,
    resume_at: JobState,
    d: &Diagnosis,
    settings: &crate::lifecycle::Settings,
) -> OpResult<()> {
    let job = &r.job;
    let id = job.id;
    let attempts = job.attempts + 1;
    let next = d.next_attempt(&settings.backoff(), now, attempts);
    tx.fail_job(id, resume_at, d.category, &d.message, attempts, next, now)?;
    // An order the CA judged (failed validation, refused names or account) is dead: the
    // retry places a new one. Transport failures keep it, to be resumed.
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
    tx.append_audit(
        actor,
        now,
        &Entry::failed(
            fail_action(d),
            "job",
            id.to_string(),
            d.message.clone(),
            json!({
                "identity": job.identity, "authority": job.authority, "diagnosis": d.category.as_str(),
                "next_step": d.next_step(), "attempts": attempts,
                "next_attempt_at": crate::clock::rfc3339(next), "resumes_at": resume_at.as_str(),
            }),
        ),
    )?;
    if d.category.counts_against_authority() {
        circuit_failure(tx, actor, job, d, settings, now)?;
    }
    Ok(())
}

fn circuit_success(tx: &Tx<'_>, authority_id: i64, now: OffsetDateTime) -> OpResult<()> {
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
    tx: &Tx<'_>,
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
