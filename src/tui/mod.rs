//! The console: a ratatui front-end over the inventory (DESIGN.md §5). State → view,
//! keys → actions: `app` holds the state and turns events into changes, `views/` draw
//! it, `keymap` is the one table of keys, `event` runs the loop on the real terminal.
//! The console reads through store queries and changes things only through `ops`.

pub mod action;
pub mod app;
pub mod event;
pub mod groups;
pub mod keymap;
pub mod renewal;
pub mod theme;
pub mod views;
pub mod widgets;

use crate::cli::{CliError, CliResult, Env};
use app::{App, Inventory, Shared};
use std::io::IsTerminal;
use theme::Theme;

/// Builds the shared state for a console on `ctx` (used by the binary, tests and benches).
pub fn shared(
    ctx: crate::ops::Ctx,
    readonly: bool,
    theme: Theme,
    unicode: bool,
    db_label: String,
) -> Shared {
    Shared {
        ctx,
        actor: crate::access::current_actor(),
        readonly,
        theme,
        unicode,
        db_label,
        inventory: Inventory::default(),
        tasks: Vec::new(),
        last_ticket: 0,
        renewing: Vec::new(),
    }
}

/// `certdeck` with no subcommand (and `certdeck demo`): opens the console on the
/// configured database. `title` names the database in the status bar when it is not
/// simply its path (the demo).
pub fn run_console(env: &Env, title: Option<&str>) -> CliResult {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(CliError::failed(
            "the console needs a terminal (stdin and stdout are not both a tty); \
             for scripts use the commands instead, e.g. `certdeck list --json`",
        ));
    }
    let theme_name = Theme::choose(
        env.theme.as_deref(),
        theme::no_color_requested(),
        env.config.theme.as_deref(),
    );
    let theme = Theme::load(&theme_name, theme::user_config_dir().as_deref())
        .map_err(|e| CliError::usage(e.to_string()))?;
    let ctx = env.open()?;
    let label = title
        .map(str::to_string)
        .unwrap_or_else(|| crate::sanitize::sanitize_path(&env.db_path));
    let sh = shared(
        ctx,
        env.readonly,
        theme,
        crate::model::locale_is_utf8(),
        label,
    );
    let app = App::new(sh, "dash");
    // ratatui::init installs a panic hook that restores the terminal before the panic
    // message prints; quitting, SIGTERM and SIGHUP all leave through `restore` below.
    let mut terminal =
        ratatui::try_init().map_err(|e| CliError::failed(format!("terminal: {e}")))?;
    let result = event::run(app, &mut terminal);
    ratatui::restore();
    match result {
        Ok(_) => Ok(crate::cli::exit::OK),
        Err(e) => Err(CliError::failed(format!("console: {e}"))),
    }
}
