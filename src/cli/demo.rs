//! `certdeck demo`: builds the demo estate into its own database and opens the console
//! on it (or prints what it built).

use super::{CliError, CliResult, Env};
use crate::demo::{self, DemoOptions, DemoSummary};
use crate::ops::Ctx;
use crate::store::Store;
use clap::Args;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Certificates in the estate (CA and legacy certificates included).
    #[arg(long, default_value_t = 2000)]
    pub size: usize,
    /// Seed: the same seed (and clock) gives the same estate, fingerprints included.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print the summary instead of opening the console.
    #[arg(long)]
    pub no_tui: bool,
    /// Print the summary as JSON (implies --no-tui).
    #[arg(long)]
    pub json: bool,
    /// Where to write the demo database (default: demo.db in the data dir; --db also works).
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Replace the database even when it is not a demo database.
    #[arg(long)]
    pub force: bool,
    /// The global `--db`, when given (filled in by the dispatcher, not a flag of its own).
    #[arg(skip)]
    pub db: Option<PathBuf>,
}

/// Where the demo writes when neither `--out` nor `--db` says: beside, never over, the
/// operator's real inventory.
pub fn default_demo_path() -> PathBuf {
    crate::config::project_dirs()
        .map(|d| d.data_dir().join("demo.db"))
        .unwrap_or_else(|| PathBuf::from("certdeck-demo.db"))
}

pub fn run(a: DemoArgs, env: &Env) -> CliResult {
    if env.readonly {
        return Err(CliError::usage(
            "demo writes a new database; it cannot run with --readonly",
        ));
    }
    let path = a
        .out
        .clone()
        .or(a.db.clone())
        .unwrap_or_else(default_demo_path);
    clear_previous(&path, a.force)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            CliError::failed(format!(
                "cannot create {}: {e}",
                crate::sanitize::sanitize(&dir.display().to_string())
            ))
        })?;
    }
    let store = Store::open(&path)?;
    let mut ctx = Ctx::new(store, env.clock.clone(), env.config.clone());
    let actor = crate::access::current_actor();
    let opts = DemoOptions {
        size: a.size,
        seed: a.seed,
    };
    demo::prepare(&mut ctx, &actor)?;
    let bar = (std::io::stderr().is_terminal() && a.size >= 5_000).then(|| {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template("{msg:>20} {bar:40} {pos}/{len} {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let summary =
        demo::build_estate_with_progress(&mut ctx, &actor, &opts, &mut |stage, done, total| {
            if let Some(b) = &bar {
                b.set_message(stage.label());
                b.set_length(total as u64);
                b.set_position(done as u64);
            }
        })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    // The console, when asked and when there is a terminal to draw on; otherwise (piped,
    // --no-tui, --json) the summary.
    let terminal = std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
    if !a.no_tui && !a.json && terminal {
        drop(ctx);
        let console_env = Env {
            config: env.config.clone(),
            db_path: path.clone(),
            readonly: false,
            theme: env.theme.clone(),
            clock: env.clock.clone(),
        };
        let title = format!("demo (seed {}) {}", a.seed, path.display());
        return crate::tui::run_console(&console_env, Some(&title));
    }
    if a.json {
        let mut v = serde_json::to_value(&summary).map_err(|e| CliError::failed(e.to_string()))?;
        if let Some(o) = v.as_object_mut() {
            o.insert("database".into(), path.display().to_string().into());
            o.insert("seed".into(), a.seed.into());
        }
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        print_summary(&summary, &path, a.seed);
    }
    Ok(super::exit::OK)
}

/// Removes an earlier demo database at `path`. Anything else there is refused unless
/// `force`: the demo must never silently replace a real inventory.
fn clear_previous(path: &Path, force: bool) -> Result<(), CliError> {
    let empty_file = match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(_) => false,
        Ok(m) => m.len() == 0,
    };
    if !force && !empty_file {
        let shown = crate::sanitize::sanitize(&path.display().to_string()).into_owned();
        let refuse = |why: String| {
            Err(CliError::failed(format!(
                "{shown} {why}; refusing to replace it \
                 (give another --out PATH, or --force to replace it anyway)"
            )))
        };
        // Read without migrating: a demo database from an older certdeck is still a demo.
        match crate::store::peek_certificate_sources(path, "demo") {
            // No certificates, but maybe roles and history that are not the demo's: only
            // a database the demo filled is replaced without asking.
            Ok((0, _)) => return refuse("is an empty certdeck database, not a demo one".into()),
            Ok((_, 0)) => {}
            Ok((_, n)) => {
                return refuse(format!("holds {n} certificates that the demo did not make"))
            }
            Err(e) => return refuse(format!("is not a demo database ({e})")),
        }
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(CliError::failed(format!(
                    "cannot replace {}: {e}",
                    crate::sanitize::sanitize(&path.display().to_string())
                )))
            }
        }
    }
    Ok(())
}

fn print_summary(s: &DemoSummary, path: &Path, seed: u64) {
    let path = crate::sanitize::sanitize(&path.display().to_string()).into_owned();
    println!("Demo estate (seed {seed}) written to {path}");
    let rows: [(&str, usize); 13] = [
        ("certificates", s.certificates),
        ("  CA certificates", s.ca_certificates),
        ("  prod", s.prod),
        ("  non-prod", s.nonprod),
        ("  wildcards", s.wildcards),
        ("expired", s.expired),
        ("expiring in 7 days", s.expiring_7),
        ("expiring in 8-30 days", s.expiring_30),
        ("weak (key or signature)", s.weak),
        ("unowned", s.unowned),
        ("owners", s.owners),
        ("authorities", s.authorities),
        ("managed identities", s.identities),
    ];
    for (label, n) in rows {
        println!("  {label:<26}{n:>8}");
    }
    println!("Explore it: certdeck --db {path} list --expiring 30");
}
