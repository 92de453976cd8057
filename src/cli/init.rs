use super::{CliResult, Env};
use crate::access::Role;
use clap::Args;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Also hold this role (repeatable), for a small install where the administrator is
    /// also platform or app owner.
    #[arg(long, value_name = "ROLE")]
    pub also: Vec<Role>,
    #[arg(long)]
    pub json: bool,
}

impl clap::builder::ValueParserFactory for Role {
    type Parser = clap::builder::ValueParser;
    fn value_parser() -> Self::Parser {
        clap::builder::ValueParser::new(|s: &str| s.parse::<Role>())
    }
}

/// Makes the invoking OS user the first central-PKI administrator of the database.
pub fn run(a: InitArgs, env: &Env) -> CliResult {
    let mut ctx = env.open()?;
    let actor = crate::access::current_actor();
    let roles = crate::ops::access::init(&mut ctx, &actor, &a.also)?;
    let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    if a.json {
        println!(
            "{}",
            serde_json::json!({"operator": actor.name, "uid": actor.uid, "roles": names})
        );
    } else {
        println!(
            "initialized {}: {} holds {}",
            crate::sanitize::sanitize_path(&env.db_path),
            crate::sanitize::sanitize(&actor.name),
            names.join(", ")
        );
    }
    Ok(super::exit::OK)
}
