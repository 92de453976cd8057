//! Import: files, directories and stdin into the inventory. Good certificates are stored
//! even when other inputs are broken; every broken input is reported with its path, block
//! number, line and reason; private keys are counted and never stored.

use super::inventory::owner_id_or_create;
use super::{run, Ctx, OpError, OpResult};
use crate::access::Activity;
use crate::audit::Entry;
use crate::model::{Actor, CertificateInfo, Environment};
use crate::policy::compliance::Usage;
use crate::store::{InsertOutcome, IssuerLink, NewSighting, Tx};
use crate::x509::pem::{decode_body, scan, BlockKind, Span};
use serde::Serialize;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use zeroize::Zeroize;

/// One thing to import.
#[derive(Debug, Clone)]
pub enum Source {
    /// A file, or a directory walked recursively.
    Path(PathBuf),
    /// Bytes already read (stdin, generated estates), with the label sightings record.
    Bytes {
        label: String,
        kind: String,
        data: Vec<u8>,
    },
}

#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Owner for certificates that have none (created when missing).
    pub owner: Option<String>,
    pub environment: Option<Environment>,
    /// Recorded as the certificates' source: `import`, `demo`, `scan`.
    pub source: Option<String>,
}

/// A certificate input that could not be stored.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Problem {
    pub path: String,
    pub block: Option<usize>,
    pub line: Option<usize>,
    pub reason: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", crate::sanitize::sanitize(&self.path))?;
        if let Some(b) = self.block {
            write!(f, ": block {b}")?;
        }
        if let Some(l) = self.line {
            write!(f, " (line {l})")?;
        }
        write!(f, ": {}", crate::sanitize::sanitize(&self.reason))
    }
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ImportReport {
    pub files_read: usize,
    /// Certificates found in the input (each occurrence counts).
    pub certificates_seen: usize,
    /// Certificates new to the inventory.
    pub new: usize,
    /// Certificates already in the inventory or repeated in the input.
    pub duplicates: usize,
    pub private_keys_skipped: usize,
    /// CRLs, requests, parameters, public keys.
    pub other_blocks_skipped: usize,
    /// Files met while walking a directory that hold no certificate at all.
    pub files_without_certificates: usize,
    pub issuer_links: usize,
    pub errors: Vec<Problem>,
    /// Every certificate this import stored or saw again (policy re-judges these).
    #[serde(skip)]
    pub touched: Vec<i64>,
}

impl ImportReport {
    /// True when some certificate input failed (the rest were stored).
    pub fn has_failures(&self) -> bool {
        !self.errors.is_empty()
    }
}

/// File extensions that promise a certificate: content that is not one is an error even
/// when met during a directory walk.
const CERT_EXTENSIONS: &[&str] = &["pem", "crt", "cer", "cert", "der", "ca-bundle"];

struct Input {
    label: String,
    kind: String,
    explicit: bool,
    certish: bool,
    data: Result<Vec<u8>, String>,
}

/// Expands directories into files (sorted, symlinked directories not followed), keeping
/// explicit files as given.
fn expand(sources: &[Source]) -> (Vec<(PathBuf, bool)>, Vec<Problem>) {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for s in sources {
        if let Source::Path(p) = s {
            match std::fs::metadata(p) {
                Ok(m) if m.is_dir() => walk(p, &mut files, &mut problems),
                Ok(_) => files.push((p.clone(), true)),
                Err(e) => problems.push(Problem {
                    path: p.display().to_string(),
                    block: None,
                    line: None,
                    reason: format!("cannot read: {e}"),
                }),
            }
        }
    }
    (files, problems)
}

fn walk(dir: &Path, files: &mut Vec<(PathBuf, bool)>, problems: &mut Vec<Problem>) {
    let mut entries: Vec<_> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(Result::ok).collect(),
        Err(e) => {
            problems.push(Problem {
                path: dir.display().to_string(),
                block: None,
                line: None,
                reason: format!("cannot read directory: {e}"),
            });
            return;
        }
    };
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            walk(&p, files, problems);
        } else if ft.is_file() || (ft.is_symlink() && p.is_file()) {
            files.push((p, false));
        }
    }
}

/// Imports `sources`. `progress(done, total)` is called in bytes as input is consumed.
pub fn import(
    ctx: &mut Ctx,
    actor: &Actor,
    sources: Vec<Source>,
    opts: &ImportOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> OpResult<ImportReport> {
    let (files, walk_problems) = expand(&sources);
    let total: u64 = files
        .iter()
        .map(|(p, _)| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum::<u64>()
        + sources
            .iter()
            .map(|s| match s {
                Source::Bytes { data, .. } => data.len() as u64,
                _ => 0,
            })
            .sum::<u64>();
    let source_kind = opts.source.clone().unwrap_or_else(|| "import".into());
    let labels: Vec<String> = sources
        .iter()
        .map(|s| match s {
            Source::Path(p) => p.display().to_string(),
            Source::Bytes { label, .. } => label.clone(),
        })
        .take(20)
        .collect();
    let mut bytes_inputs: Vec<Input> = sources
        .into_iter()
        .filter_map(|s| match s {
            Source::Bytes { label, kind, data } => Some(Input {
                label,
                kind,
                explicit: true,
                certish: true,
                data: Ok(data),
            }),
            Source::Path(_) => None,
        })
        .collect();
    // An import that more than doubles the inventory is a bulk load: its expiry indexes
    // are built once at the end rather than certificate by certificate, and it writes
    // through a rollback journal when it has the database to itself.
    let held = ctx.store.read().max_certificate_id()?;
    let bulk = total >= BULK_LOAD_BYTES && total / PEM_BYTES_PER_CERTIFICATE >= held.max(0) as u64;
    let journal = bulk && ctx.store.begin_bulk_load();
    let result = run(
        ctx,
        actor,
        Activity::MaintainInventory,
        "import",
        ("inventory", "certificates"),
        |tx, now| {
            let mut report = ImportReport {
                errors: walk_problems,
                ..Default::default()
            };
            // A scoped operator imports only for owners and environments in scope.
            super::check_object(
                tx,
                actor,
                Activity::MaintainInventory,
                now,
                &crate::access::ObjectRef {
                    owner: opts.owner.clone(),
                    environment: opts.environment,
                    dns_names: Vec::new(),
                },
            )?;
            let owner_id = match &opts.owner {
                Some(o) => Some(owner_id_or_create(tx, actor, now, o)?),
                None => None,
            };
            let authority_names: HashMap<i64, String> = tx
                .read()
                .authorities()?
                .into_iter()
                .map(|a| (a.id, a.name))
                .collect();
            let mut writer = Writer {
                tx,
                source_kind: &source_kind,
                owner_id,
                owner_name: opts.owner.clone(),
                env: opts.environment,
                now: crate::clock::rfc3339(now),
                issuers: Issuers::load(tx)?,
                authority_names,
                imported: super::policy::Imported {
                    before: tx.read().max_certificate_id()?,
                    rows: Vec::new(),
                    usage: HashMap::new(),
                },
                unrecorded: Vec::new(),
                batched: journal,
            };
            // A large import touches every page of the fingerprint and SAN indexes.
            tx.widen_cache(IMPORT_CACHE_KIB)?;
            let deferred = if bulk {
                Some(tx.defer_indexes_for_bulk_load()?)
            } else {
                None
            };
            let started = std::time::Instant::now();
            let mut done = 0u64;
            for input in bytes_inputs.drain(..) {
                ingest_one(&mut writer, input, &mut report, &mut |n| {
                    done += n;
                    progress(done, total)
                })?;
            }
            for (path, explicit) in &files {
                let location = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
                let certish = path
                    .extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| CERT_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
                let input = Input {
                    label: location.display().to_string(),
                    kind: "file".into(),
                    explicit: *explicit,
                    certish,
                    data: std::fs::read(path).map_err(|e| format!("cannot read: {e}")),
                };
                ingest_one(&mut writer, input, &mut report, &mut |n| {
                    done += n;
                    progress(done, total)
                })?;
            }
            let ms = |t: std::time::Instant| t.elapsed().as_millis() as u64;
            tracing::debug!(
                ms = ms(started),
                new = report.new,
                "import: certificates stored"
            );
            if let Some(d) = deferred {
                tx.rebuild_indexes(d)?;
            }
            // Certificates whose issuer came later in the input are linked now, and may
            // inherit an authority: their rows in memory take it too.
            let late_links = tx.link_issuers()?;
            tracing::debug!(ms = ms(started), "import: indexes built, issuers linked");
            report.issuer_links += late_links;
            let mut imported = writer.imported;
            if late_links > 0 {
                let names: HashMap<i64, String> = tx
                    .read()
                    .authorities_above(imported.before)?
                    .into_iter()
                    .collect();
                for r in &mut imported.rows {
                    r.authority = names.get(&r.id).cloned();
                }
            }
            super::policy::recompute_imported(tx, &report.touched, imported)?;
            tracing::debug!(ms = ms(started), "import: verdicts stored");
            if journal {
                // Foreign keys were off for the load: what they would have refused
                // statement by statement is refused here, before anything commits.
                tx.check_foreign_keys(BULK_WRITTEN_TABLES)?;
            }
            tx.append_audit(
                actor,
                now,
                &Entry::success(
                    "import",
                    "inventory",
                    "certificates",
                    json!({
                        "sources": labels,
                        "files_read": report.files_read,
                        "new": report.new,
                        "duplicates": report.duplicates,
                        "private_keys_skipped": report.private_keys_skipped,
                        "other_blocks_skipped": report.other_blocks_skipped,
                        "errors": report.errors.len(),
                        "owner": opts.owner,
                        "environment": opts.environment,
                    }),
                ),
            )?;
            Ok(report)
        },
    );
    if journal {
        ctx.store.end_bulk_load();
    }
    result
}

/// The tables an import writes rows to that refer to other rows.
const BULK_WRITTEN_TABLES: &[&str] = &[
    "certificates",
    "certificate_sans",
    "sightings",
    "certificate_usage",
    "certificate_profiles",
    "renewed_certificates",
];

/// Page cache for the import's transaction, in KiB (SQLite's default is 2 MiB).
const IMPORT_CACHE_KIB: i64 = 64 * 1024;

/// Input from which an import counts as a bulk load (about 7,000 PEM certificates).
const BULK_LOAD_BYTES: u64 = 4 << 20;

/// A typical PEM certificate's size, to estimate how many an input holds.
const PEM_BYTES_PER_CERTIFICATE: u64 = 600;

/// Certificates parsed per round: enough to keep every core busy, small enough that an
/// import's memory does not grow with the size of the bundle.
const ROUND: usize = 4096;

/// A parsed certificate, with the extension facts policy evaluates (extracted here, on the
/// worker threads, so the policy recompute at the end of the import has nothing left to
/// parse).
type Parsed = Result<(CertificateInfo, Vec<u8>, Usage), String>;

/// The CA certificates an import can link to, in memory: those already in the inventory
/// and those stored by this import so far.
struct Issuers {
    by_ski: HashMap<String, (i64, Option<i64>, i64)>,
    by_subject: HashMap<String, (i64, Option<i64>, i64)>,
}

impl Issuers {
    fn load(tx: &Tx<'_>) -> OpResult<Issuers> {
        let mut me = Issuers {
            by_ski: HashMap::new(),
            by_subject: HashMap::new(),
        };
        for c in tx.read().issuer_candidates()? {
            me.add(c.id, c.ski, c.subject, c.authority_id, c.not_after);
        }
        Ok(me)
    }

    /// Keeps the newest CA certificate for a key identifier or name (a renewed CA
    /// certificate keeps its key and name), as the store's own linking does.
    fn add(
        &mut self,
        id: i64,
        ski: Option<String>,
        subject: String,
        authority: Option<i64>,
        not_after: i64,
    ) {
        let entry = (id, authority, not_after);
        let newer = |e: &(i64, Option<i64>, i64)| e.2 < not_after;
        if let Some(k) = ski {
            match self.by_ski.get(&k) {
                Some(e) if !newer(e) => {}
                _ => {
                    self.by_ski.insert(k, entry);
                }
            }
        }
        match self.by_subject.get(&subject) {
            Some(e) if !newer(e) => {}
            _ => {
                self.by_subject.insert(subject, entry);
            }
        }
    }

    /// The issuer of `info`: by authority key identifier when it has one, else by name.
    fn find(&self, info: &CertificateInfo, own_id: Option<i64>) -> IssuerLink {
        if info.self_signed {
            return IssuerLink::default();
        }
        let hit = match &info.aki {
            Some(aki) => self
                .by_ski
                .get(aki)
                .or_else(|| self.by_subject.get(&info.issuer)),
            None => self.by_subject.get(&info.issuer),
        };
        match hit {
            Some((id, authority, _)) if Some(*id) != own_id => IssuerLink {
                issuer_id: Some(*id),
                authority_id: *authority,
            },
            _ => IssuerLink::default(),
        }
    }
}

/// Writes parsed certificates on the thread that owns the transaction.
struct Writer<'a, 't> {
    tx: &'a Tx<'t>,
    source_kind: &'a str,
    owner_id: Option<i64>,
    owner_name: Option<String>,
    env: Option<Environment>,
    now: String,
    issuers: Issuers,
    authority_names: HashMap<i64, String>,
    /// The rows stored so far, for the policy recompute at the end of the import.
    imported: super::policy::Imported,
    /// New certificates whose sighting and extension facts are not written yet (in
    /// ascending order: ids are given in the order certificates are stored).
    unrecorded: Vec<i64>,
    /// Leaf certificates are stored many to a statement (a bulk load that has the
    /// database to itself, foreign keys checked before commit).
    batched: bool,
}

impl Writer<'_, '_> {
    fn store(
        &mut self,
        info: CertificateInfo,
        der: &[u8],
        usage: Option<Usage>,
        sighting: &NewSighting,
        report: &mut ImportReport,
    ) -> OpResult<()> {
        let link = self.issuers.find(&info, None);
        let outcome = self.tx.insert_certificate_unseen(
            &info,
            der,
            link,
            self.source_kind,
            self.owner_id,
            self.env,
            &self.now,
        )?;
        self.stored(info, der, usage, link, outcome, sighting, report)
    }

    /// [`Writer::store`] for leaf certificates of one round, many to a statement (a bulk
    /// load with the database to itself: see [`crate::store::Store::begin_bulk_load`]).
    /// Their fingerprints are distinct, and the CAs of the round are already stored, so
    /// each links to its issuer as it would one by one.
    fn store_many(
        &mut self,
        leaves: Vec<(CertificateInfo, Vec<u8>, Usage)>,
        sighting: &NewSighting,
        report: &mut ImportReport,
    ) -> OpResult<()> {
        if leaves.is_empty() {
            return Ok(());
        }
        let links: Vec<IssuerLink> = leaves
            .iter()
            .map(|(info, _, _)| self.issuers.find(info, None))
            .collect();
        let batch: Vec<(&CertificateInfo, &[u8], IssuerLink)> = leaves
            .iter()
            .zip(&links)
            .map(|((info, der, _), link)| (info, der.as_slice(), *link))
            .collect();
        let outcomes = self.tx.insert_certificates_unseen(
            &batch,
            self.source_kind,
            self.owner_id,
            self.env,
            &self.now,
        )?;
        drop(batch);
        for (((info, der, usage), link), outcome) in leaves.into_iter().zip(links).zip(outcomes) {
            self.stored(info, &der, Some(usage), link, outcome, sighting, report)?;
        }
        Ok(())
    }

    /// Accounts for one certificate just offered to the store: new ones are remembered
    /// for their sightings, extension facts and judgement; others get a sighting.
    #[allow(clippy::too_many_arguments)]
    fn stored(
        &mut self,
        info: CertificateInfo,
        der: &[u8],
        usage: Option<Usage>,
        link: IssuerLink,
        outcome: InsertOutcome,
        sighting: &NewSighting,
        report: &mut ImportReport,
    ) -> OpResult<()> {
        report.certificates_seen += 1;
        report.touched.push(outcome.id());
        match outcome {
            InsertOutcome::New(id) => {
                report.new += 1;
                let usage = usage.unwrap_or_else(|| Usage::from_der(der));
                self.imported.usage.insert(id, usage);
                // Ids are given in the order certificates are stored.
                debug_assert!(self.unrecorded.last().is_none_or(|last| *last < id));
                self.unrecorded.push(id);
                if link.issuer_id.is_some() {
                    report.issuer_links += 1;
                }
                if info.is_ca {
                    self.issuers.add(
                        id,
                        info.ski.clone(),
                        info.subject.clone(),
                        link.authority_id,
                        info.not_after.unix_timestamp(),
                    );
                }
                let authority = link
                    .authority_id
                    .and_then(|a| self.authority_names.get(&a).cloned());
                self.imported.rows.push(crate::store::row_as_stored(
                    id,
                    info,
                    self.owner_name.clone(),
                    authority,
                    self.env,
                ));
            }
            InsertOutcome::Existing(id) => {
                report.duplicates += 1;
                // Stored earlier in this same input: its sighting is about to be written.
                if self.unrecorded.binary_search(&id).is_err() {
                    self.tx.record_sighting(id, sighting, &self.now)?;
                }
            }
        }
        Ok(())
    }

    /// Writes the sightings and extension facts of the new certificates stored since the
    /// last call, many rows to a statement (they land at the end of their tables).
    fn flush(&mut self, sighting: &NewSighting) -> OpResult<()> {
        if self.unrecorded.is_empty() {
            return Ok(());
        }
        let ids = std::mem::take(&mut self.unrecorded);
        self.tx.record_new_sightings(&ids, sighting, &self.now)?;
        let usages: Vec<(i64, &Usage)> = ids
            .iter()
            .filter_map(|id| self.imported.usage.get(id).map(|u| (*id, u)))
            .collect();
        self.tx.store_new_usages(&usages)?;
        Ok(())
    }
}

fn ingest_one(
    w: &mut Writer<'_, '_>,
    mut input: Input,
    report: &mut ImportReport,
    progress: &mut dyn FnMut(u64),
) -> OpResult<()> {
    let data = std::mem::replace(&mut input.data, Ok(Vec::new()));
    let problem = |block: Option<usize>, line: Option<usize>, reason: String| Problem {
        path: input.label.clone(),
        block,
        line,
        reason,
    };
    let mut data = match data {
        Ok(d) => d,
        Err(e) => {
            report.errors.push(problem(None, None, e.clone()));
            return Ok(());
        }
    };
    report.files_read += 1;
    let sighting = NewSighting {
        kind: input.kind.clone(),
        location: input.label.clone(),
    };
    let result = ingest_data(w, &input, &data, &sighting, report, &problem, progress)
        .and_then(|()| w.flush(&sighting));
    data.zeroize(); // the file may have held a private key
    result
}

#[allow(clippy::too_many_arguments)]
fn ingest_data(
    w: &mut Writer<'_, '_>,
    input: &Input,
    data: &[u8],
    sighting: &NewSighting,
    report: &mut ImportReport,
    problem: &dyn Fn(Option<usize>, Option<usize>, String) -> Problem,
    progress: &mut dyn FnMut(u64),
) -> OpResult<()> {
    if data.iter().all(|b| b.is_ascii_whitespace()) {
        if input.explicit || input.certish {
            report.errors.push(problem(None, None, "empty file".into()));
        } else {
            report.files_without_certificates += 1;
        }
        progress(data.len() as u64);
        return Ok(());
    }
    if !has_pem_marker(data) {
        // Not PEM: one DER certificate, or not a certificate at all.
        match crate::x509::parse_der(data, false) {
            Ok((info, len)) => w.store(info, &data[..len], None, sighting, report)?,
            Err(e) if input.explicit || input.certish => report.errors.push(problem(
                None,
                None,
                format!("not a certificate (no PEM block; {e})"),
            )),
            Err(_) => report.files_without_certificates += 1,
        }
        progress(data.len() as u64);
        return Ok(());
    }
    let spans = scan(data);
    let mut certs: Vec<&Span> = Vec::new();
    for s in &spans {
        match s.kind {
            // Counted, never decoded: a key's bytes go nowhere but the zeroized buffer.
            BlockKind::PrivateKey => report.private_keys_skipped += 1,
            BlockKind::Other => report.other_blocks_skipped += 1,
            BlockKind::Certificate | BlockKind::TrustedCertificate => certs.push(s),
        }
    }
    // Two-stage pipeline: while this thread stores round k, workers parse round k+1.
    let mut pending: Option<(&[&Span], Vec<Parsed>)> = None;
    let mut consumed = 0usize;
    for round in certs.chunks(ROUND) {
        let parsed = std::thread::scope(|s| -> OpResult<Vec<Parsed>> {
            let handle = s.spawn(|| parse_parallel(data, round));
            if let Some((spans, results)) = pending.take() {
                store_round(w, spans, results, sighting, report, problem)?;
            }
            handle
                .join()
                .map_err(|_| OpError::Invalid("certificate parser thread failed".into()))
        })?;
        pending = Some((round, parsed));
        let upto = round
            .last()
            .and_then(|s| s.body.as_ref().ok().map(|r| r.end))
            .unwrap_or(consumed);
        progress(upto.saturating_sub(consumed) as u64);
        consumed = consumed.max(upto);
    }
    if let Some((spans, results)) = pending.take() {
        store_round(w, spans, results, sighting, report, problem)?;
    }
    progress(data.len().saturating_sub(consumed) as u64);
    Ok(())
}

fn has_pem_marker(data: &[u8]) -> bool {
    data.windows(11).any(|w| w == b"-----BEGIN ")
}

fn store_round(
    w: &mut Writer<'_, '_>,
    spans: &[&Span],
    results: Vec<Parsed>,
    sighting: &NewSighting,
    report: &mut ImportReport,
    problem: &dyn Fn(Option<usize>, Option<usize>, String) -> Problem,
) -> OpResult<()> {
    // CAs first, so the leaves of the same round link to them as they are stored.
    let mut order: Vec<usize> = (0..results.len()).collect();
    order.sort_by_key(|i| !matches!(&results[*i], Ok((info, _, _)) if info.is_ca));
    let mut results: Vec<Option<Parsed>> = results.into_iter().map(Some).collect();
    // Leaves waiting to be stored many at a time (when the writer does that), with
    // distinct fingerprints: a repeat waits for the batch holding the first.
    let mut leaves: Vec<(CertificateInfo, Vec<u8>, Usage)> = Vec::new();
    let mut fingerprints: HashSet<String> = HashSet::new();
    for i in order {
        match results[i].take().expect("each result is stored once") {
            Ok((info, der, usage)) if w.batched && !info.is_ca => {
                if !fingerprints.insert(info.fingerprint_sha256.clone()) {
                    w.store_many(std::mem::take(&mut leaves), sighting, report)?;
                    fingerprints.clear();
                    fingerprints.insert(info.fingerprint_sha256.clone());
                }
                leaves.push((info, der, usage));
            }
            Ok((info, der, usage)) => w.store(info, &der, Some(usage), sighting, report)?,
            Err(reason) => report.errors.push(problem(
                Some(spans[i].number),
                Some(spans[i].line),
                format!("{}: {reason}", spans[i].label),
            )),
        }
    }
    w.store_many(leaves, sighting, report)?;
    w.flush(sighting)
}

fn parse_span(data: &[u8], s: &Span) -> Parsed {
    let body = s.body.as_ref().map_err(Clone::clone)?;
    let der = decode_body(&data[body.clone()])?;
    let trailing_ok = s.kind == BlockKind::TrustedCertificate;
    let (info, len, usage) =
        crate::x509::parse_der_with(&der, trailing_ok, Usage::of).map_err(|e| e.to_string())?;
    let mut der = der;
    der.truncate(len);
    Ok((info, der, usage))
}

/// Decodes certificate blocks on every core but the one the transaction's thread writes
/// on (writing is the longer half of an import: a parser that takes its core slows the
/// whole import down).
fn parse_parallel(data: &[u8], spans: &[&Span]) -> Vec<Parsed> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get().saturating_sub(1))
        .unwrap_or(1);
    if spans.len() < 256 || threads < 2 {
        return spans.iter().map(|s| parse_span(data, s)).collect();
    }
    let chunk = spans.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = spans
            .chunks(chunk)
            .map(|c| s.spawn(move || c.iter().map(|sp| parse_span(data, sp)).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .zip(spans.chunks(chunk))
            .flat_map(|(h, c)| {
                h.join().unwrap_or_else(|_| {
                    c.iter()
                        .map(|_| Err("the certificate parser failed on this block".into()))
                        .collect()
                })
            })
            .collect()
    })
}
