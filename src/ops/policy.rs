//! Policy verbs: load a policy set, assign profiles, evaluate compliance, record and
//! revoke exceptions. Every change re-evaluates the inventory in the same transaction, so
//! the stored verdicts (profile, renewed) always belong to the policy in force; findings
//! are derived from them when read.

use super::{run, Ctx, OpError, OpResult};
use crate::access::Activity;
use crate::audit::Entry;
use crate::model::{Actor, Severity};
use crate::policy::compliance::{
    evaluate_inventory, Evaluation, Evaluator, Inventory, Usage, Verdict,
};
use crate::policy::exception::{ExceptionObject, NewException};
use crate::policy::{parse_set, MatchRule};
use crate::store::{Read, StoreError, Tx};
use serde::Serialize;
use serde_json::json;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use time::OffsetDateTime;

/// The starter policy set (fixtures/policy/), built into the binary so `certdeck demo`
/// and a fresh installation can start from it.
pub const STARTER: &[(&str, &str)] = &[
    (
        "starter/public-tls.toml",
        include_str!("../../fixtures/policy/public-tls.toml"),
    ),
    (
        "starter/internal-mtls.toml",
        include_str!("../../fixtures/policy/internal-mtls.toml"),
    ),
    (
        "starter/nonprod.toml",
        include_str!("../../fixtures/policy/nonprod.toml"),
    ),
];

/// The starter set as the demo organisation (Northwind Traders) adapted it: its authority
/// names and domain. `certdeck demo` loads it.
pub const DEMO: &[(&str, &str)] = &[(
    "demo/northwind.toml",
    include_str!("../../fixtures/policy/northwind/northwind.toml"),
)];

/// Counts of one evaluation of the whole inventory.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub policy_version: Option<String>,
    pub certificates: usize,
    pub with_profile: usize,
    pub findings: usize,
    pub errors: usize,
    pub warnings: usize,
    /// Certificates with at least one open error finding.
    pub noncompliant: usize,
    pub by_rule: BTreeMap<String, usize>,
}

impl Summary {
    pub fn of(evals: &[Evaluation], version: Option<&str>, now: OffsetDateTime) -> Summary {
        let mut s = Summary {
            policy_version: version.map(str::to_string),
            ..Default::default()
        };
        for e in evals {
            s.count(e, now);
        }
        s
    }

    /// Adds one certificate's evaluation to the counts.
    fn count(&mut self, e: &Evaluation, now: OffsetDateTime) {
        self.certificates += 1;
        if e.profile.is_some() {
            self.with_profile += 1;
        }
        let mut bad = false;
        for f in e.findings.iter().filter(|f| f.is_open(now)) {
            self.findings += 1;
            match f.severity {
                Severity::Error => {
                    self.errors += 1;
                    bad = true;
                }
                Severity::Warning => self.warnings += 1,
                Severity::Info => {}
            }
            match self.by_rule.get_mut(f.rule) {
                Some(n) => *n += 1,
                None => {
                    self.by_rule.insert(f.rule.to_string(), 1);
                }
            }
        }
        if bad {
            self.noncompliant += 1;
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadReport {
    pub version: String,
    pub files: Vec<String>,
    pub profiles: Vec<String>,
    pub rules: usize,
    pub evaluation: Summary,
}

/// Reads every `*.toml` in `dir` (not recursive, sorted). Names are the paths as given.
pub fn read_dir(dir: &Path) -> OpResult<Vec<(String, String)>> {
    let rd = std::fs::read_dir(dir)
        .map_err(|e| OpError::Invalid(format!("policy directory {}: {e}", dir.display())))?;
    let mut paths: Vec<_> = rd
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(OpError::Invalid(format!(
            "policy directory {} holds no *.toml file",
            dir.display()
        )));
    }
    let mut out = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(&p)
            .map_err(|e| OpError::Invalid(format!("{}: {e}", p.display())))?;
        out.push((p.display().to_string(), text));
    }
    Ok(out)
}

/// Loads the policy set in `dir`: all files valid, or nothing changes.
pub fn load(ctx: &mut Ctx, actor: &Actor, dir: &Path) -> OpResult<LoadReport> {
    let files = read_dir(dir)?;
    load_files(ctx, actor, &files)
}

/// Loads the built-in starter set.
pub fn load_starter(ctx: &mut Ctx, actor: &Actor) -> OpResult<LoadReport> {
    let files: Vec<(String, String)> = STARTER
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    load_files(ctx, actor, &files)
}

/// Loads the demo organisation's policy (see [`DEMO`]).
pub fn load_demo(ctx: &mut Ctx, actor: &Actor) -> OpResult<LoadReport> {
    let files: Vec<(String, String)> = DEMO
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    load_files(ctx, actor, &files)
}

/// Loads a policy set given as `(file name, text)` pairs.
pub fn load_files(
    ctx: &mut Ctx,
    actor: &Actor,
    files: &[(String, String)],
) -> OpResult<LoadReport> {
    let set = parse_set(files).map_err(|e| OpError::Invalid(e.to_string().trim_end().into()))?;
    run(
        ctx,
        actor,
        Activity::DefineProfiles,
        "policy.load",
        ("policy", &set.version),
        |tx, now| {
            let previous = tx.read().current_policy_version()?.map(|v| v.version);
            tx.replace_policy(&set, &actor.name, now)?;
            let evaluation = recompute_in(tx, now)?;
            let report = LoadReport {
                version: set.version.clone(),
                files: set.files.clone(),
                profiles: set.profiles.iter().map(|p| p.name.clone()).collect(),
                rules: set.rules.len(),
                evaluation,
            };
            tx.append_audit(
                actor,
                now,
                &Entry::success(
                    "policy.load",
                    "policy",
                    set.version.clone(),
                    json!({
                        "previous": previous,
                        "files": report.files,
                        "profiles": report.profiles,
                        "rules": report.rules,
                        "evaluation": report.evaluation,
                    }),
                ),
            )?;
            Ok(report)
        },
    )
}

/// Re-evaluates the whole inventory (an audited evaluation: it records the policy
/// version used and the counts).
pub fn evaluate(ctx: &mut Ctx, actor: &Actor) -> OpResult<Summary> {
    run(
        ctx,
        actor,
        Activity::AuditEvidence,
        "policy.evaluate",
        ("policy", "compliance"),
        |tx, now| {
            let s = recompute_in(tx, now)?;
            tx.append_audit(
                actor,
                now,
                &Entry::success(
                    "policy.evaluate",
                    "policy",
                    s.policy_version.clone().unwrap_or_else(|| "(none)".into()),
                    json!(s),
                ),
            )?;
            Ok(s)
        },
    )
}

/// Re-evaluates the whole inventory inside an operation's transaction and stores the
/// result (policy changes: every certificate may be judged differently).
pub fn recompute_in(tx: &Tx<'_>, now: OffsetDateTime) -> OpResult<Summary> {
    recompute(tx, now, None)
}

/// Re-evaluates the certificates `ids` inside an operation's transaction, with every
/// certificate their judgement depends on or that depends on them: those that renew them
/// or that they renew, and for a CA those it issued. Ops that change certificates
/// (assign, adopt, issuance) call this before they commit, so stored verdicts never lag
/// behind the inventory. Costs what the touched certificates cost, not the inventory.
pub fn recompute_certificates_in(
    tx: &Tx<'_>,
    now: OffsetDateTime,
    ids: &[i64],
) -> OpResult<Summary> {
    recompute(tx, now, Some(ids))
}

fn recompute(tx: &Tx<'_>, now: OffsetDateTime, ids: Option<&[i64]>) -> OpResult<Summary> {
    let started = std::time::Instant::now();
    for (id, der) in tx.read().certificates_without_usage()? {
        tx.store_usage(id, &Usage::from_der(&der))?;
    }
    let stored = Stored::load(tx.read(), ids)?;
    tracing::debug!(
        rows = stored.rows.len(),
        ms = started.elapsed().as_millis() as u64,
        "policy recompute: inputs loaded"
    );
    let only: Option<Vec<i64>> = stored.only.as_ref().map(|o| o.iter().copied().collect());
    tx.clear_evaluation(only.as_deref())?;
    drop(only);
    evaluate_and_store(tx, now, &stored, started)
}

/// The certificates an import has just stored, as rows already in memory (built from
/// what was parsed, exactly as the store would read them back), so judging them needs
/// no second read of what was just written.
pub(crate) struct Imported {
    /// Every certificate with a greater id was stored by this import; those at or below
    /// it were in the inventory before.
    pub before: i64,
    /// The new certificates' rows, in id order.
    pub rows: Vec<crate::model::CertRow>,
    pub usage: HashMap<i64, Usage>,
}

/// [`recompute_certificates_in`] for an import: the same certificates judged, the same
/// verdicts stored, but the import's new rows come from memory, and the inventory is read
/// only for certificates that were there before (none, into a fresh inventory).
pub(crate) fn recompute_imported(tx: &Tx<'_>, touched: &[i64], imported: Imported) -> OpResult<()> {
    let started = std::time::Instant::now();
    let read = tx.read();
    let Imported {
        before,
        rows: new_rows,
        usage: new_usage,
    } = imported;
    let mut rows = Vec::new();
    let mut usage = new_usage;
    let mut targets: HashSet<i64> = touched.iter().copied().collect();
    if before > 0 {
        // What the inventory held before is read as recompute_certificates_in reads it.
        for (id, der) in read.certificates_without_usage()? {
            tx.store_usage(id, &Usage::from_der(&der))?;
        }
        let ids: Vec<i64> = targets.iter().copied().collect();
        let mut cas: Vec<i64> = new_rows.iter().filter(|r| r.is_ca).map(|r| r.id).collect();
        let old: Vec<i64> = ids.iter().copied().filter(|id| *id <= before).collect();
        cas.extend(read.ca_ids_among(&old)?);
        for ca in cas {
            targets.extend(read.issued_by(ca)?);
        }
        let ids: Vec<i64> = targets.iter().copied().collect();
        rows = read.policy_rows_around_up_to(&ids, before)?;
        let old_ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        usage.extend(read.usage_for(&old_ids)?);
    }
    rows.extend(new_rows);
    let targets: Vec<i64> = targets.into_iter().collect();
    let only = renewal_groups(&rows, &targets);
    let stored = Stored {
        rows,
        usage,
        only: Some(only),
        identity_profiles: read.identity_profiles()?,
        profiles: read.profiles()?,
        rules: read.profile_rules()?.into_iter().map(|r| r.rule).collect(),
        exceptions: read.exception_refs()?,
        version: read.current_policy_version()?.map(|v| v.version),
    };
    tracing::debug!(
        rows = stored.rows.len(),
        ms = started.elapsed().as_millis() as u64,
        "policy recompute after import: inputs ready"
    );
    // New certificates have no stored evaluation; older ones in scope have theirs replaced.
    let old: Vec<i64> = stored
        .only
        .iter()
        .flatten()
        .copied()
        .filter(|id| *id <= before)
        .collect();
    if !old.is_empty() {
        tx.clear_evaluation(Some(&old))?;
    }
    tx.clear_evaluation_above(before)?;
    store_verdicts_of(tx, &stored, started)?;
    // A large import's rows are freed off the writing thread, which commits meanwhile
    // (if no thread can be started, they are freed here).
    if stored.rows.len() > EVALUATION_ROUND {
        let _ = std::thread::Builder::new().spawn(move || drop(stored));
    }
    Ok(())
}

/// Rows judged per round of [`evaluate_and_store`]: each round's findings are counted
/// and dropped before the next, so memory never holds a large inventory's findings.
const EVALUATION_ROUND: usize = 8192;

/// Judges the rows `stored` selects, stores their verdicts and counts their findings.
fn evaluate_and_store(
    tx: &Tx<'_>,
    now: OffsetDateTime,
    stored: &Stored,
    started: std::time::Instant,
) -> OpResult<Summary> {
    let inv = stored.inventory();
    let judge = Evaluator::new(&inv);
    let mut summary = Summary {
        policy_version: stored.version.clone(),
        ..Default::default()
    };
    in_rounds(
        &judge,
        |j, i| j.evaluate(i),
        |evals: Vec<Evaluation>| {
            let verdicts: Vec<Verdict> = evals
                .into_iter()
                .map(|e| {
                    summary.count(&e, now);
                    Verdict {
                        certificate_id: e.certificate_id,
                        profile: e.profile,
                        renewed: e.renewed,
                    }
                })
                .collect();
            tx.store_verdicts(&verdicts)?;
            Ok(())
        },
    )?;
    tracing::debug!(
        certificates = summary.certificates,
        findings = summary.findings,
        ms = started.elapsed().as_millis() as u64,
        "policy recompute: stored"
    );
    Ok(summary)
}

/// Judges the rows `stored` selects and stores their verdicts, without making their
/// findings (an import reports no compliance counts; readers derive findings).
fn store_verdicts_of(tx: &Tx<'_>, stored: &Stored, started: std::time::Instant) -> OpResult<()> {
    let inv = stored.inventory();
    let judge = Evaluator::new(&inv);
    let mut n = 0usize;
    in_rounds(
        &judge,
        |j, i| j.verdict(i),
        |verdicts: Vec<Verdict>| {
            n += verdicts.len();
            tx.store_verdicts(&verdicts)?;
            Ok(())
        },
    )?;
    tracing::debug!(
        certificates = n,
        ms = started.elapsed().as_millis() as u64,
        "policy verdicts stored"
    );
    Ok(())
}

/// Applies `each` to every row of `judge`, a round at a time, on every core, handing
/// each round's results (in row order) to `sink` on this thread, the transaction's.
fn in_rounds<'a, T: Send>(
    judge: &Evaluator<'a>,
    each: impl Fn(&Evaluator<'a>, usize) -> Option<T> + Sync,
    mut sink: impl FnMut(Vec<T>) -> OpResult<()>,
) -> OpResult<()> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    for from in (0..judge.len()).step_by(EVALUATION_ROUND) {
        let to = (from + EVALUATION_ROUND).min(judge.len());
        let round: Vec<T> =
            if threads < 2 || to - from < 1024 {
                (from..to).filter_map(|i| each(judge, i)).collect()
            } else {
                let chunk = (to - from).div_ceil(threads);
                std::thread::scope(|s| {
                    // The first chunk is judged on this thread, each other on its own.
                    let parts: Vec<_> = (from + chunk..to)
                        .step_by(chunk)
                        .map(|a| {
                            let each = &each;
                            s.spawn(move || {
                                (a..(a + chunk).min(to))
                                    .filter_map(|i| each(judge, i))
                                    .collect::<Vec<T>>()
                            })
                        })
                        .collect();
                    let mut out = Vec::with_capacity(to - from);
                    out.extend((from..from + chunk).filter_map(|i| each(judge, i)));
                    for p in parts {
                        out.extend(p.join().map_err(|_| {
                            OpError::Invalid("policy evaluation thread failed".into())
                        })?);
                    }
                    Ok::<_, OpError>(out)
                })?
            };
        sink(round)?;
    }
    Ok(())
}

/// Evaluates the inventory as stored without writing anything (`policy check`, read-only
/// databases). Certificates whose extensions were never extracted are judged without
/// them (EKU and key usage rules skipped).
pub fn snapshot(read: Read<'_>) -> Result<(Vec<Evaluation>, Option<String>), StoreError> {
    let stored = Stored::load(read, None)?;
    let evals = evaluate_inventory(&stored.inventory());
    Ok((evals, stored.version))
}

/// What an evaluation reads from the store.
struct Stored {
    rows: Vec<crate::model::CertRow>,
    usage: HashMap<i64, Usage>,
    only: Option<HashSet<i64>>,
    identity_profiles: HashMap<String, Option<String>>,
    profiles: Vec<crate::policy::Profile>,
    rules: Vec<MatchRule>,
    exceptions: Vec<crate::policy::compliance::ExceptionRef>,
    version: Option<String>,
}

impl Stored {
    fn load(read: Read<'_>, ids: Option<&[i64]>) -> Result<Stored, StoreError> {
        let (rows, usage, only) = match ids {
            None => (read.policy_rows()?, read.usage_map()?, None),
            Some(ids) => {
                let mut targets: HashSet<i64> = ids.iter().copied().collect();
                for ca in read.ca_ids_among(ids)? {
                    targets.extend(read.issued_by(ca)?);
                }
                let targets: Vec<i64> = targets.into_iter().collect();
                let rows = read.policy_rows_around(&targets)?;
                let only = renewal_groups(&rows, &targets);
                let row_ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
                (rows, read.usage_for(&row_ids)?, Some(only))
            }
        };
        Ok(Stored {
            rows,
            usage,
            only,
            identity_profiles: read.identity_profiles()?,
            profiles: read.profiles()?,
            rules: read.profile_rules()?.into_iter().map(|r| r.rule).collect(),
            exceptions: read.exception_refs()?,
            version: read.current_policy_version()?.map(|v| v.version),
        })
    }

    fn inventory(&self) -> Inventory<'_> {
        Inventory {
            rows: &self.rows,
            usage: &self.usage,
            identity_profiles: &self.identity_profiles,
            profiles: &self.profiles,
            rules: &self.rules,
            exceptions: &self.exceptions,
            version: self.version.as_deref(),
            only: self.only.as_ref(),
        }
    }
}

/// The targets plus every certificate in a renewal group a target is (or was, before
/// being adopted into an identity) part of: whether those count as renewed may have
/// changed. `rows` holds every member of those groups (see `policy_rows_around`).
fn renewal_groups(rows: &[crate::model::CertRow], targets: &[i64]) -> HashSet<i64> {
    use crate::policy::compliance::{name_key, renewal_key};
    let targets: HashSet<i64> = targets.iter().copied().collect();
    if rows.iter().all(|r| targets.contains(&r.id)) {
        // Every row is a target (an import into a fresh inventory): no group to widen.
        return rows.iter().map(|r| r.id).collect();
    }
    let mut keys: HashSet<String> = HashSet::new();
    for r in rows.iter().filter(|r| targets.contains(&r.id)) {
        keys.insert(renewal_key(r));
        keys.insert(name_key(r));
    }
    rows.iter()
        .filter(|r| targets.contains(&r.id) || keys.contains(&renewal_key(r)))
        .map(|r| r.id)
        .collect()
}

/// Gives an identity its profile (or takes it away with `None`).
pub fn assign_identity(
    ctx: &mut Ctx,
    actor: &Actor,
    identity: &str,
    profile: Option<&str>,
) -> OpResult<Summary> {
    run(
        ctx,
        actor,
        Activity::DefineProfiles,
        "policy.assign",
        ("identity", identity),
        |tx, now| {
            let read = tx.read();
            let ident = read
                .identity_by_name(identity)?
                .ok_or_else(|| OpError::NotFound(format!("identity {identity}")))?;
            if let Some(p) = profile {
                if read.profile(p)?.is_none() {
                    return Err(OpError::NotFound(format!(
                        "profile {p} (load it with `certdeck policy load`)"
                    )));
                }
            }
            tx.set_identity_profile(ident.id, profile)?;
            let s = recompute_in(tx, now)?;
            tx.append_audit(
                actor,
                now,
                &Entry::success(
                    "policy.assign",
                    "identity",
                    identity,
                    json!({"from": ident.profile, "to": profile, "noncompliant": s.noncompliant}),
                ),
            )?;
            Ok(s)
        },
    )
}

/// Gives every identity that has no profile the one the assignment rules give its current
/// certificate (a first step when bringing an estate under policy). Returns how many
/// identities got one.
pub fn profiles_from_rules(ctx: &mut Ctx, actor: &Actor) -> OpResult<usize> {
    run(
        ctx,
        actor,
        Activity::DefineProfiles,
        "policy.assign",
        ("identity", "*"),
        |tx, now| {
            let read = tx.read();
            let rules: Vec<MatchRule> = read.profile_rules()?.into_iter().map(|r| r.rule).collect();
            let mut given = Vec::new();
            for ident in read.identities()? {
                if ident.profile.is_some() {
                    continue;
                }
                let Some(cert) = ident.current_certificate_id else {
                    continue;
                };
                let Some(row) = read.certificate_row(cert)? else {
                    continue;
                };
                if let Some((p, _)) = crate::policy::compliance::resolve_profile(&row, None, &rules)
                {
                    tx.set_identity_profile(ident.id, Some(p))?;
                    given.push(json!({"identity": ident.name, "profile": p}));
                }
            }
            if !given.is_empty() {
                recompute_in(tx, now)?;
                tx.append_audit(
                    actor,
                    now,
                    &Entry::success(
                        "policy.assign",
                        "identity",
                        "*",
                        json!({"from_rules": given}),
                    ),
                )?;
            }
            Ok(given.len())
        },
    )
}

/// Adds an operator assignment rule (tried after the policy files' rules).
pub fn add_rule(ctx: &mut Ctx, actor: &Actor, rule: &MatchRule) -> OpResult<i64> {
    if rule.authority.is_none()
        && rule.san_suffix.is_none()
        && rule.owner.is_none()
        && rule.environment.is_none()
    {
        return Err(OpError::Invalid(
            "a rule needs at least one of --authority, --san-suffix, --owner, --env".into(),
        ));
    }
    run(
        ctx,
        actor,
        Activity::DefineProfiles,
        "policy.rule.add",
        ("profile", &rule.profile),
        |tx, now| {
            if tx.read().profile(&rule.profile)?.is_none() {
                return Err(OpError::NotFound(format!(
                    "profile {} (load it with `certdeck policy load`)",
                    rule.profile
                )));
            }
            let id = tx.insert_profile_rule(rule, "operator", now)?;
            let s = recompute_in(tx, now)?;
            tx.append_audit(
                actor,
                now,
                &Entry::success(
                    "policy.rule.add",
                    "profile",
                    rule.profile.clone(),
                    json!({"rule": id, "match": rule, "with_profile": s.with_profile}),
                ),
            )?;
            Ok(id)
        },
    )
}

pub fn remove_rule(ctx: &mut Ctx, actor: &Actor, id: i64) -> OpResult<()> {
    run(
        ctx,
        actor,
        Activity::DefineProfiles,
        "policy.rule.remove",
        ("profile_rule", &id.to_string()),
        |tx, now| {
            if tx.delete_profile_rule(id)? == 0 {
                return Err(OpError::NotFound(format!(
                    "operator rule {id} (rules from policy files change with the files)"
                )));
            }
            recompute_in(tx, now)?;
            tx.append_audit(
                actor,
                now,
                &Entry::success(
                    "policy.rule.remove",
                    "profile_rule",
                    id.to_string(),
                    json!({}),
                ),
            )?;
            Ok(())
        },
    )
}

/// Records an exception (for administrators and tests; the approval workflow calls
/// [`record_exception`] inside its own operation).
pub fn except(ctx: &mut Ctx, actor: &Actor, e: &NewException) -> OpResult<i64> {
    run(
        ctx,
        actor,
        Activity::DefineProfiles,
        "exception.record",
        (e.object_type.as_str(), &e.object_id),
        |tx, now| record_exception(tx, actor, now, e),
    )
}

/// Writes an exception record and its audit entry inside the caller's transaction: the
/// one way an exception comes to exist. The rule must be a known rule id, the object must
/// exist, and the expiry must be in the future.
pub fn record_exception(
    tx: &Tx<'_>,
    actor: &Actor,
    now: OffsetDateTime,
    e: &NewException,
) -> OpResult<i64> {
    if !crate::policy::RULES.iter().any(|r| r.0 == e.rule) {
        return Err(OpError::Invalid(format!(
            "unknown rule {:?} (see `certdeck policy rules`)",
            e.rule
        )));
    }
    if e.expires_at <= now {
        return Err(OpError::Invalid(
            "an exception must expire in the future".into(),
        ));
    }
    if e.reason.trim().is_empty() {
        return Err(OpError::Invalid("an exception needs a reason".into()));
    }
    let mut e = e.clone();
    match e.object_type {
        ExceptionObject::Certificate => {
            e.object_id = e.object_id.to_ascii_lowercase();
            if e.object_id.len() != 64 || !e.object_id.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(OpError::Invalid(
                    "a certificate exception names the full SHA-256 fingerprint".into(),
                ));
            }
        }
        ExceptionObject::Identity => {
            if tx.read().identity_by_name(&e.object_id)?.is_none() {
                return Err(OpError::NotFound(format!("identity {}", e.object_id)));
            }
        }
    }
    let id = tx.insert_exception(&e, &actor.name, now)?;
    tx.append_audit(
        actor,
        now,
        &Entry::success(
            "exception.record",
            e.object_type.as_str(),
            e.object_id.clone(),
            json!({
                "exception": id, "rule": e.rule, "reason": e.reason, "granted_by": e.granted_by,
                "expires_at": crate::clock::rfc3339(e.expires_at), "request_ref": e.request_ref,
            }),
        ),
    )?;
    Ok(id)
}

pub fn revoke_exception(ctx: &mut Ctx, actor: &Actor, id: i64) -> OpResult<()> {
    run(
        ctx,
        actor,
        Activity::DefineProfiles,
        "exception.revoke",
        ("exception", &id.to_string()),
        |tx, now| {
            if tx.revoke_exception(id, &actor.name, now)? == 0 {
                return Err(OpError::NotFound(format!("active exception {id}")));
            }
            tx.append_audit(
                actor,
                now,
                &Entry::success("exception.revoke", "exception", id.to_string(), json!({})),
            )?;
            Ok(())
        },
    )
}
