//! The console (placeholder until the TUI lands).

use crate::cli::{CliError, CliResult, Env};

pub fn run_console(_env: &Env, _title: Option<&str>) -> CliResult {
    Err(CliError::failed(
        "the console is not built yet; use the CLI commands (certdeck --help)",
    ))
}
