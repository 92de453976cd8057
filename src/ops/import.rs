//! Import: files, directories and stdin into the inventory. Good certificates are stored
//! even when other inputs are broken; every broken input is reported with its path, block
//! number, line and reason; private keys are counted and never stored.

use super::inventory::owner_id_or_create;
use super::{run, Ctx, OpResult};
use crate::access::Activity;
use crate::audit::Entry;
use crate::model::{Actor, CertificateInfo, Environment};
use crate::store::{InsertOutcome, NewSighting, Tx};
use crate::x509::pem::{read_blocks, Block, BlockKind, Contents};
use serde::Serialize;
use serde_json::json;
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
    run(
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
            let mut done = 0u64;
            let ingest = |input: Input, report: &mut ImportReport| -> OpResult<u64> {
                let len = input.data.as_ref().map(|d| d.len() as u64).unwrap_or(0);
                ingest_one(
                    tx,
                    input,
                    report,
                    &source_kind,
                    owner_id,
                    opts.environment,
                    now,
                )?;
                Ok(len)
            };
            for input in bytes_inputs.drain(..) {
                done += ingest(input, &mut report)?;
                progress(done, total);
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
                done += ingest(input, &mut report)?;
                progress(done, total);
            }
            report.issuer_links = tx.link_issuers()?;
            super::policy::recompute_certificates_in(tx, now, &report.touched)?;
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
    )
}

type Parsed = Result<(CertificateInfo, Vec<u8>), String>;

fn ingest_one(
    tx: &Tx<'_>,
    input: Input,
    report: &mut ImportReport,
    source_kind: &str,
    owner_id: Option<i64>,
    env: Option<Environment>,
    now: time::OffsetDateTime,
) -> OpResult<()> {
    let problem = |block: Option<usize>, line: Option<usize>, reason: String| Problem {
        path: input.label.clone(),
        block,
        line,
        reason,
    };
    let mut data = match &input.data {
        Ok(d) => d.clone(),
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
    let contents = read_blocks(&data);
    data.zeroize(); // the file may have held a private key
    let blocks = match contents {
        Contents::Empty => {
            if input.explicit || input.certish {
                report.errors.push(problem(None, None, "empty file".into()));
            } else {
                report.files_without_certificates += 1;
            }
            return Ok(());
        }
        Contents::Der(der) => vec![Block {
            number: 1,
            line: 1,
            label: "DER".into(),
            kind: BlockKind::Certificate,
            der: Ok(der),
        }],
        Contents::Pem(blocks) => blocks,
    };
    let is_der = blocks.len() == 1 && blocks[0].label == "DER";
    let mut cert_blocks = Vec::new();
    for mut b in blocks {
        match b.kind {
            BlockKind::PrivateKey => {
                if let Ok(k) = b.der.as_mut() {
                    k.zeroize();
                }
                report.private_keys_skipped += 1;
            }
            BlockKind::Other => report.other_blocks_skipped += 1,
            BlockKind::Certificate | BlockKind::TrustedCertificate => cert_blocks.push(b),
        }
    }
    let parsed = parse_parallel(&cert_blocks);
    for (b, p) in cert_blocks.iter().zip(parsed) {
        match p {
            Ok((info, der)) => {
                report.certificates_seen += 1;
                let outcome =
                    tx.insert_certificate(&info, &der, source_kind, &sighting, owner_id, env, now)?;
                report.touched.push(outcome.id());
                match outcome {
                    InsertOutcome::New(_) => report.new += 1,
                    InsertOutcome::Existing(_) => report.duplicates += 1,
                }
            }
            Err(reason) if is_der => {
                if input.explicit || input.certish {
                    report.errors.push(problem(
                        None,
                        None,
                        format!("not a certificate (no PEM block; {reason})"),
                    ));
                } else {
                    report.files_without_certificates += 1;
                }
            }
            Err(reason) => report.errors.push(problem(
                Some(b.number),
                Some(b.line),
                format!("{}: {reason}", b.label),
            )),
        }
    }
    Ok(())
}

fn parse_block(b: &Block) -> Parsed {
    let der = b.der.as_ref().map_err(Clone::clone)?;
    let trailing_ok = b.kind == BlockKind::TrustedCertificate;
    let (info, len) = crate::x509::parse_der(der, trailing_ok).map_err(|e| e.to_string())?;
    Ok((info, der[..len].to_vec()))
}

/// Decodes certificate blocks on every core: parsing and hashing dominate an import.
fn parse_parallel(blocks: &[Block]) -> Vec<Parsed> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    if blocks.len() < 512 || threads < 2 {
        return blocks.iter().map(parse_block).collect();
    }
    let chunk = blocks.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = blocks
            .chunks(chunk)
            .map(|c| s.spawn(move || c.iter().map(parse_block).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}
