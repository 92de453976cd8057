//! The demo estate (placeholder until the generator lands).

use crate::cli::demo::DemoArgs;
use crate::cli::{CliError, CliResult, Env};

pub fn run_cli(_a: DemoArgs, _env: &Env) -> CliResult {
    Err(CliError::failed("demo estate not built yet"))
}
