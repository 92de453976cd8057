use super::{exit, CliError, CliResult, Env};
use crate::model::Environment;
use crate::ops::import::{import, ImportOptions, Source};
use clap::Args;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Files, directories (walked recursively) or `-` for stdin.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Owner for imported certificates that have none (created when missing).
    #[arg(long, value_name = "OWNER")]
    pub owner: Option<String>,
    /// Environment for imported certificates that have none.
    #[arg(long, value_name = "prod|nonprod")]
    pub env: Option<Environment>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: ImportArgs, env: &Env) -> CliResult {
    let mut sources = Vec::new();
    let mut stdin_used = false;
    for p in a.paths {
        if p.as_os_str() == "-" {
            if stdin_used {
                return Err(CliError::usage("`-` (stdin) given twice"));
            }
            stdin_used = true;
            let mut data = Vec::new();
            std::io::stdin()
                .read_to_end(&mut data)
                .map_err(|e| CliError::failed(format!("reading stdin: {e}")))?;
            sources.push(Source::Bytes {
                label: "stdin".into(),
                kind: "stdin".into(),
                data,
            });
        } else {
            sources.push(Source::Path(p));
        }
    }
    let mut ctx = env.open()?;
    let actor = crate::access::current_actor();
    let opts = ImportOptions {
        owner: a.owner,
        environment: a.env,
        source: None,
    };
    let bar = if std::io::stderr().is_terminal() && !a.json {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} importing {bar:40} {bytes}/{total_bytes} {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(b)
    } else {
        None
    };
    let mut progress = |done: u64, total: u64| {
        if let Some(b) = &bar {
            b.set_length(total);
            b.set_position(done);
        }
    };
    let report = import(&mut ctx, &actor, sources, &opts, &mut progress)?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        println!(
            "{} certificates read from {} files: {} new, {} already known",
            report.certificates_seen, report.files_read, report.new, report.duplicates
        );
        if report.private_keys_skipped > 0 {
            println!(
                "{} private keys skipped, not stored",
                report.private_keys_skipped
            );
        }
        if report.other_blocks_skipped > 0 {
            println!(
                "{} other blocks (CRLs, requests, parameters, public keys) skipped",
                report.other_blocks_skipped
            );
        }
        if report.files_without_certificates > 0 {
            println!(
                "{} files without certificates skipped",
                report.files_without_certificates
            );
        }
        if report.issuer_links > 0 {
            println!(
                "{} certificates linked to their issuer",
                report.issuer_links
            );
        }
        for p in &report.errors {
            eprintln!("error: {p}");
        }
        if !report.errors.is_empty() {
            eprintln!(
                "{} inputs failed; everything else was stored",
                report.errors.len()
            );
        }
    }
    Ok(if report.has_failures() {
        exit::FAILED
    } else {
        exit::OK
    })
}
