//! The demo estate: a realistic, reproducible certificate inventory for trying certdeck,
//! for screenshots, and as the fixture other features are tested and measured on.
//!
//! Northwind Traders (a fictional company) has sixteen teams across its business units,
//! five CA sources (a public-style ACME CA with "R"/"E" intermediates under "ACME Demo
//! Root X1", a Vault PKI intermediate, an enterprise CA, certdeck's local CA, and a
//! legacy SHA-1 CA), prod and non-prod environments, and the mess real estates have:
//! expired and expiring certificates, weak keys, SHA-1 signatures, unowned certificates,
//! wildcards, and managed identities with renewal history.
//!
//! The estate is a function of the seed and the clock only: CA keys and the leaf key
//! pool are committed under `fixtures/demo/`, serials and validity come from the seed
//! and `ctx.now()`, and every signature used is deterministic.
//!
//! Everything is stored through `ops` (owner and authority registration, import,
//! assignment, adoption) as the given actor, so the audit log tells the demo's history
//! like any other.

mod issue;
mod material;
mod org;
mod plan;

use crate::model::{Actor, Environment, ExpiryBand};
use crate::ops::import::{import, ImportOptions, Source};
use crate::ops::inventory::{add_authority, add_owner, adopt, assign, Assignment};
use crate::ops::{Ctx, OpError, OpResult};
use crate::store::RowSelect;
use serde::Serialize;
use std::collections::BTreeMap;

/// What estate to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoOptions {
    /// Certificates in the estate, CA and legacy certificates included (the fixed part,
    /// [`skeleton_size`] certificates, is always made, even when `size` is smaller).
    pub size: usize,
    /// The same seed (and clock) always gives the same certificates.
    pub seed: u64,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            size: 2000,
            seed: 1,
        }
    }
}

/// What the built estate holds, counted from the inventory afterwards (not from the
/// plan), so it is what an operator will see. Expiry bands are disjoint, as on the
/// dashboard: `expiring_7` is 0-7 days left, `expiring_30` is 8-30 days.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DemoSummary {
    pub certificates: usize,
    pub owners: usize,
    pub authorities: usize,
    pub expired: usize,
    pub expiring_7: usize,
    pub expiring_30: usize,
    pub weak: usize,
    pub unowned: usize,
    pub identities: usize,
    pub ca_certificates: usize,
    pub wildcards: usize,
    pub prod: usize,
    pub nonprod: usize,
}

/// Certificates every estate has whatever its size: the CA hierarchy and the legacy
/// SHA-1 certificates.
pub fn skeleton_size() -> usize {
    issue::CAS.len() + legacy_blocks().len()
}

/// Readies a fresh database for the demo. Kept as the one place the demo's bootstrap
/// happens, so that when roles become mandatory (the invoking user needs grants) or a
/// starter policy exists, the demo keeps working by changing only this function.
///
/// On a fresh database the demo user (the OS user running it) initializes access and
/// holds every role of the default matrix, like a one-person install; on a database
/// already initialized (tests bootstrap their own) nothing changes.
pub fn prepare(ctx: &mut Ctx, actor: &Actor) -> OpResult<()> {
    use crate::access::Role;
    if !ctx.store.read().access_initialized()? {
        crate::ops::access::init(
            ctx,
            actor,
            &[Role::Platform, Role::AppOwner, Role::Compliance],
        )?;
    }
    // Policy before the estate, so every import is judged as it lands: the starter set
    // as Northwind adapted it (fixtures/policy/northwind/), with its assignment rules.
    if ctx.store.read().current_policy_version()?.is_none() {
        crate::ops::policy::load_demo(ctx, actor)?;
    }
    Ok(())
}

/// What a build is doing, for a progress display on large estates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Signing,
    Storing,
    Adopting,
}

impl Stage {
    pub fn label(self) -> &'static str {
        match self {
            Stage::Signing => "signing",
            Stage::Storing => "storing",
            Stage::Adopting => "adopting identities",
        }
    }
}

/// Builds the estate into `ctx`'s inventory as `actor`. Call [`prepare`] first on a
/// fresh database. Running it again on the same inventory adds nothing new.
pub fn build_estate(ctx: &mut Ctx, actor: &Actor, opts: &DemoOptions) -> OpResult<DemoSummary> {
    build_estate_with_progress(ctx, actor, opts, &mut |_, _, _| {})
}

/// [`build_estate`], telling `progress(stage, done, total)` how far it is.
pub fn build_estate_with_progress(
    ctx: &mut Ctx,
    actor: &Actor,
    opts: &DemoOptions,
    progress: &mut dyn FnMut(Stage, usize, usize),
) -> OpResult<DemoSummary> {
    let now = ctx.now();
    let failed = |e: issue::IssueError| OpError::Invalid(format!("demo estate: {e}"));
    let hierarchy = issue::hierarchy(opts.seed, now).map_err(failed)?;
    let leaves = plan::plan(opts.seed, now, opts.size.saturating_sub(skeleton_size()));
    let total = leaves.len();
    // Stage timings for `CERTDECK_LOG=certdeck::demo=debug` (wall time is for people
    // reading logs, never for decisions).
    let started = std::time::Instant::now();
    progress(Stage::Signing, 0, total);
    let signed = issue::sign_all(&hierarchy, &leaves, &mut |done| {
        progress(Stage::Signing, done, total)
    })
    .map_err(failed)?;

    for team in org::TEAMS {
        add_owner(
            ctx,
            actor,
            team.name,
            Some(team.contact),
            Some(team.business_unit),
        )?;
    }
    for a in org::AUTHORITIES {
        if ctx.store.read().authority_by_name(a.name)?.is_none() {
            add_authority(
                ctx,
                actor,
                a.name,
                a.kind,
                None,
                (a.settings)(),
                a.credential_ref,
            )?;
        }
    }

    // The CAs first (owned by the PKI team), so every later import links to its issuer
    // and inherits its authority.
    let legacy = legacy_blocks();
    let mut ca_pem = String::new();
    for der in &hierarchy.certificates {
        ca_pem.push_str(&pem("CERTIFICATE", der));
    }
    ca_pem.push_str(legacy[0]);
    import_pem(
        ctx,
        actor,
        "demo:pki/ca-certificates",
        ca_pem,
        Some(org::PKI_TEAM),
        Some(Environment::Prod),
    )?;
    let mut by_authority: BTreeMap<usize, Vec<i64>> = BTreeMap::new();
    for (spec, der) in issue::CAS.iter().zip(&hierarchy.certificates) {
        by_authority
            .entry(spec.authority)
            .or_default()
            .push(certificate_id(ctx, der)?);
    }
    by_authority
        .entry(org::LEGACY)
        .or_default()
        .push(certificate_id(ctx, &pem_der(legacy[0]))?);
    for (authority, ids) in by_authority {
        let a = Assignment {
            authority: Some(org::AUTHORITIES[authority].name.to_string()),
            ..Default::default()
        };
        assign(ctx, actor, &ids, &a)?;
    }
    import_pem(
        ctx,
        actor,
        "demo:legacy/sha1",
        legacy[1..].concat(),
        Some(org::LEGACY_TEAM),
        Some(Environment::Prod),
    )?;

    // Leaves, one import per owner and environment (in batches, one transaction each),
    // the way a team would hand over its certificates.
    const BATCH: usize = 5_000;
    let mut groups: BTreeMap<(Option<usize>, Option<Environment>), Vec<usize>> = BTreeMap::new();
    for (i, leaf) in leaves.iter().enumerate() {
        groups
            .entry((leaf.team, leaf.environment))
            .or_default()
            .push(i);
    }
    let mut stored = 0;
    tracing::debug!(leaves = total, elapsed = ?started.elapsed(), "demo: signed");
    progress(Stage::Storing, 0, total);
    for ((team, env), members) in &groups {
        let owner = team.map(|t| org::TEAMS[t].name);
        for batch in members.chunks(BATCH) {
            let mut text = String::with_capacity(batch.len() * 1_100);
            for &i in batch {
                text.push_str(&pem("CERTIFICATE", &signed[i]));
            }
            let label = format!(
                "demo:{}/{}",
                owner.unwrap_or("unowned"),
                env.map_or("unknown", Environment::as_str)
            );
            import_pem(ctx, actor, &label, text, owner, *env)?;
            stored += batch.len();
            progress(Stage::Storing, stored, total);
        }
    }

    // Managed identities, adopted oldest certificate first so each ends on its newest.
    let adoptions = leaves.iter().filter(|l| l.identity.is_some()).count();
    let mut adopted = 0;
    tracing::debug!(elapsed = ?started.elapsed(), "demo: stored");
    progress(Stage::Adopting, 0, adoptions);
    for (leaf, der) in leaves.iter().zip(&signed) {
        if let (Some(identity), Some(team)) = (&leaf.identity, leaf.team) {
            adopted += 1;
            progress(Stage::Adopting, adopted, adoptions);
            let id = certificate_id(ctx, der)?;
            adopt(
                ctx,
                actor,
                id,
                identity,
                Some(org::TEAMS[team].name),
                leaf.environment,
            )?;
        }
    }
    tracing::debug!(adoptions, elapsed = ?started.elapsed(), "demo: adopted");
    // Managed identities take the profile the policy's rules give their certificate, so
    // the demo's identities are judged (and could be renewed) under a profile.
    if ctx.store.read().current_policy_version()?.is_some() {
        crate::ops::policy::profiles_from_rules(ctx, actor)?;
    }
    summarize(ctx)
}

/// Counts what the inventory in `ctx` holds, the way [`build_estate`] reports it.
pub fn summarize(ctx: &Ctx) -> OpResult<DemoSummary> {
    let now = ctx.now();
    let read = ctx.store.read();
    let rows = read.certificate_rows(RowSelect::default())?;
    let mut s = DemoSummary {
        certificates: rows.len(),
        owners: read.owners()?.len(),
        authorities: read.authorities()?.len(),
        identities: read.identities()?.len(),
        ..Default::default()
    };
    for r in &rows {
        match ExpiryBand::of(now, r.not_after) {
            ExpiryBand::Expired => s.expired += 1,
            ExpiryBand::Within7Days => s.expiring_7 += 1,
            ExpiryBand::Within30Days => s.expiring_30 += 1,
            ExpiryBand::Ok => {}
        }
        s.weak += usize::from(r.is_weak());
        s.unowned += usize::from(r.owner.is_none());
        s.ca_certificates += usize::from(r.is_ca);
        s.wildcards += usize::from(r.sans.iter().any(|n| n.starts_with("*.")));
        match r.environment {
            Some(Environment::Prod) => s.prod += 1,
            Some(Environment::Nonprod) => s.nonprod += 1,
            None => {}
        }
    }
    Ok(s)
}

fn import_pem(
    ctx: &mut Ctx,
    actor: &Actor,
    label: &str,
    text: String,
    owner: Option<&str>,
    environment: Option<Environment>,
) -> OpResult<()> {
    let report = import(
        ctx,
        actor,
        vec![Source::Bytes {
            label: label.to_string(),
            kind: "demo".into(),
            data: text.into_bytes(),
        }],
        &ImportOptions {
            owner: owner.map(str::to_string),
            environment,
            source: Some("demo".into()),
        },
        &mut |_, _| {},
    )?;
    match report.errors.first() {
        Some(p) => Err(OpError::Invalid(format!("demo estate: {p}"))),
        None => Ok(()),
    }
}

fn certificate_id(ctx: &Ctx, der: &[u8]) -> OpResult<i64> {
    let fingerprint = crate::x509::sha256_hex(der);
    ctx.store
        .read()
        .certificates_by_fingerprint_prefix(&fingerprint)?
        .first()
        .copied()
        .ok_or_else(|| OpError::NotFound(format!("demo certificate {fingerprint}")))
}

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 64);
    out.push_str(&format!("-----BEGIN {label}-----\n"));
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn pem_der(block: &str) -> Vec<u8> {
    use base64::Engine;
    let body: String = block.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap_or_default()
}

/// The legacy bundle split into its PEM blocks (the root first).
fn legacy_blocks() -> Vec<&'static str> {
    const END: &str = "-----END CERTIFICATE-----\n";
    material::LEGACY_SHA1_PEM
        .split_inclusive(END)
        .filter(|b| b.contains("BEGIN CERTIFICATE"))
        .collect()
}
