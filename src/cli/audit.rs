use super::{CliError, CliResult, Env};
use crate::model::AuditRecord;
use crate::sanitize::sanitize;
use clap::{Subcommand, ValueEnum};
use std::io::Write;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain. Exit 0 and print the head hash when intact; exit 1 naming
    /// the first broken record otherwise.
    Verify {
        /// A head hash kept from an earlier verify: it must still be in the chain.
        #[arg(long, value_name = "HASH")]
        anchor: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Export records for evidence.
    Export {
        /// From this time (2026-11-01 or RFC 3339), inclusive.
        #[arg(long, value_name = "WHEN")]
        since: Option<String>,
        /// Until this time, exclusive.
        #[arg(long, value_name = "WHEN")]
        until: Option<String>,
        #[arg(long, value_enum, default_value = "jsonl")]
        format: ExportFormat,
    },
    /// The latest records, oldest first.
    Tail {
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: usize,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    Jsonl,
    Csv,
}

pub fn run(c: AuditCommand, env: &Env) -> CliResult {
    let ctx = env.open()?;
    let actor = crate::access::current_actor();
    super::require_read(&ctx, &actor)?;
    let read = ctx.store.read();
    match c {
        AuditCommand::Verify { anchor, json } => {
            let v = crate::audit::verify(read, anchor.as_deref())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            } else {
                match &v.broken {
                    None => println!("audit log intact: {} records, head {}", v.records, v.head),
                    Some(b) => eprintln!("audit log broken at record {}: {}", b.seq, b.reason),
                }
            }
            Ok(if v.is_intact() {
                super::exit::OK
            } else {
                super::exit::FAILED
            })
        }
        AuditCommand::Export {
            since,
            until,
            format,
        } => {
            let now = ctx.now();
            let since = since
                .map(|s| super::access::parse_when(&s, now))
                .transpose()?;
            let until = until
                .map(|s| super::access::parse_when(&s, now))
                .transpose()?;
            let out = std::io::BufWriter::new(std::io::stdout().lock());
            let io = |e: std::io::Error| CliError::failed(e.to_string());
            match format {
                ExportFormat::Csv => {
                    let mut w = csv::Writer::from_writer(out);
                    w.write_record([
                        "seq",
                        "at",
                        "actor",
                        "actor_kind",
                        "action",
                        "object_type",
                        "object_id",
                        "outcome",
                        "reason",
                        "details",
                        "origin",
                        "prev_hash",
                        "hash",
                    ])
                    .map_err(|e| CliError::failed(e.to_string()))?;
                    let mut err = None;
                    read.audit_range(since, until, |r| {
                        if err.is_none() {
                            err = w.write_record(csv_row(r)).err();
                        }
                    })?;
                    if let Some(e) = err {
                        return Err(CliError::failed(e.to_string()));
                    }
                    w.flush().map_err(io)?;
                }
                ExportFormat::Jsonl => {
                    let mut out = out;
                    let mut err = None;
                    read.audit_range(since, until, |r| {
                        if err.is_none() {
                            err = writeln!(out, "{}", serde_json::to_string(r).unwrap_or_default())
                                .err();
                        }
                    })?;
                    if let Some(e) = err {
                        return Err(io(e));
                    }
                    out.flush().map_err(io)?;
                }
            }
            Ok(super::exit::OK)
        }
        AuditCommand::Tail { lines, json } => {
            let mut recs = read.audit_records(&crate::store::AuditQuery {
                limit: Some(lines),
                ..Default::default()
            })?;
            recs.reverse();
            for r in &recs {
                if json {
                    println!("{}", serde_json::to_string(r).unwrap_or_default());
                } else {
                    println!("{}", line(r));
                }
            }
            Ok(super::exit::OK)
        }
    }
}

fn csv_row(r: &AuditRecord) -> [String; 13] {
    [
        r.seq.to_string(),
        crate::clock::rfc3339(r.at),
        r.actor.clone(),
        r.actor_kind.clone(),
        r.action.clone(),
        r.object_type.clone(),
        r.object_id.clone(),
        r.outcome.clone(),
        r.reason.clone().unwrap_or_default(),
        r.details.to_string(),
        r.origin.to_string(),
        r.prev_hash.clone(),
        r.hash.clone(),
    ]
}

/// One record for people: `seq time actor action object outcome [reason]`.
pub fn line(r: &AuditRecord) -> String {
    let mark = match r.outcome.as_str() {
        "success" => "ok",
        "denied" => "DENIED",
        _ => "FAILED",
    };
    let mut s = format!(
        "{:>6} {} {} {} {}:{} {}",
        r.seq,
        crate::clock::rfc3339(r.at),
        sanitize(&r.actor),
        sanitize(&r.action),
        sanitize(&r.object_type),
        sanitize(&r.object_id),
        mark
    );
    if let Some(reason) = &r.reason {
        s.push_str(&format!(" ({})", sanitize(reason)));
    }
    s
}
