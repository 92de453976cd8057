use super::{CliResult, Env};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Number of leaf certificates to generate.
    #[arg(long, default_value_t = 2000)]
    pub size: usize,
    /// Seed: the same seed gives the same estate.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Print the summary instead of opening the console.
    #[arg(long)]
    pub no_tui: bool,
    /// Where to write the demo database (default: a fresh file in the data dir; --db wins).
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
}

pub fn run(a: DemoArgs, env: &Env) -> CliResult {
    crate::demo::run_cli(a, env)
}
