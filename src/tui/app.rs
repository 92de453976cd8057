//! The console's state and how events change it. Pure with respect to the terminal: the
//! event loop (`event.rs`) feeds it events and draws it; tests do the same with a
//! `TestBackend`, so what a test drives is exactly what an operator drives.

use super::action::Action;
use super::keymap::Keymap;
use super::theme::Theme;
use super::views::{self, Export, Flow, View, ViewSpec};
use super::widgets;
use crate::model::CertRow;
use crate::ops::Ctx;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::Frame;
use ratatui_textarea::TextArea;
use std::sync::Arc;

/// What the views share: the store (read queries; writes go through `ops`), the clock,
/// the loaded inventory, and how to draw.
pub struct Shared {
    pub ctx: Ctx,
    /// Who is at the keyboard: the OS user of the real uid (tests set another operator).
    /// Views use it to show only what this actor may do; `ops` decides for real.
    pub actor: crate::model::Actor,
    pub readonly: bool,
    pub theme: Theme,
    /// Whether symbols may be Unicode (the locale is UTF-8); else ASCII fallbacks.
    pub unicode: bool,
    /// Shown in the status bar: which database this is.
    pub db_label: String,
    pub inventory: Inventory,
    /// Work asked for and not yet started: the loop runs it off the input path.
    pub tasks: Vec<Task>,
    /// Numbers tasks so a view keeps only the answer to its latest question.
    pub last_ticket: u64,
    /// Identities being renewed in the background (shown in the top line).
    pub renewing: Vec<String>,
}

impl Shared {
    pub fn now(&self) -> time::OffsetDateTime {
        self.ctx.now()
    }

    /// Queues a task built with a fresh ticket; returns the ticket.
    pub fn ask(&mut self, task: impl FnOnce(u64) -> Task) -> u64 {
        self.last_ticket += 1;
        let t = self.last_ticket;
        self.tasks.push(task(t));
        t
    }
}

/// Every certificate row, loaded once off the input path and shared by the views that
/// list certificates; filtering and sorting happen in memory over it.
#[derive(Default)]
pub struct Inventory {
    pub rows: Arc<Vec<CertRow>>,
    /// Each row's text fields case-folded once at load (same index as `rows`), so a `/`
    /// filter over 100k certificates scans without allocating.
    pub haystacks: Arc<Vec<crate::query::Haystack>>,
    /// Each row's tree group under every grouping, and its expiry as an integer (same
    /// index as `rows`), so a filter counts the tree without hashing strings.
    pub index: Arc<super::groups::RowIndex>,
    /// Open error findings counted over `rows` when they loaded (off the input path).
    pub noncompliance: Arc<crate::policy::compliance::Noncompliance>,
    pub loaded: bool,
    /// Bumped on every load request; a result for an older request is dropped.
    pub generation: u64,
    pub error: Option<String>,
}

/// Work the app wants done off the input path.
#[derive(Debug, Clone, PartialEq)]
pub enum Task {
    LoadInventory {
        generation: u64,
    },
    /// The dashboard's aggregate figures and recent audit events.
    Dashboard {
        ticket: u64,
    },
    /// Non-compliance over the loaded rows at the clock's time (the tick moves it).
    Compliance {
        ticket: u64,
        rows: Arc<Vec<CertRow>>,
    },
    /// A renewal through `ops::lifecycle::renew`, confirmed by the operator; it writes,
    /// so it runs on its own read-write connection.
    Renew {
        identity: String,
        authority: String,
        actor: crate::model::Actor,
    },
}

impl Task {
    /// Whether the task changes the store (and so needs a read-write connection).
    pub fn writes(&self) -> bool {
        matches!(self, Task::Renew { .. })
    }
}

/// What comes back from a [`Task`].
pub enum TaskResult {
    Inventory {
        generation: u64,
        /// The rows with their haystacks and index, built off the input path.
        rows: Result<Box<LoadedInventory>, String>,
    },
    Dashboard {
        ticket: u64,
        figures: Result<Box<super::views::dashboard::Figures>, String>,
    },
    Compliance {
        ticket: u64,
        figures: Arc<crate::policy::compliance::Noncompliance>,
    },
    /// A renewal ended: the message for the status line, an error when it failed.
    Renewal {
        identity: String,
        outcome: Result<String, String>,
    },
}

/// Everything the inventory needs in memory, built by the loading task.
pub struct LoadedInventory {
    pub rows: Vec<CertRow>,
    pub haystacks: Vec<crate::query::Haystack>,
    pub index: super::groups::RowIndex,
    pub noncompliance: crate::policy::compliance::Noncompliance,
}

impl LoadedInventory {
    pub fn of(rows: Vec<CertRow>) -> LoadedInventory {
        LoadedInventory {
            haystacks: rows.iter().map(crate::query::Haystack::of).collect(),
            index: super::groups::RowIndex::build(&rows),
            noncompliance: Default::default(),
            rows,
        }
    }

    /// With the non-compliance counts at `now`.
    pub fn counted(mut self, now: time::OffsetDateTime) -> LoadedInventory {
        self.noncompliance = crate::policy::compliance::noncompliance(&self.rows, now);
        self
    }
}

/// Everything the loop feeds the app.
pub enum Event {
    Key(KeyEvent),
    Resize(u16, u16),
    Tick,
    Task(TaskResult),
    /// A background renewal is still running: views that show job steps re-read them.
    Progress,
    /// SIGTERM or SIGHUP: restore the terminal and leave.
    Signal(&'static str),
}

/// What the bottom line is doing.
pub enum Mode {
    Normal,
    Filter {
        input: TextArea<'static>,
        before: String,
    },
    Command {
        input: TextArea<'static>,
    },
    Export {
        input: TextArea<'static>,
    },
}

pub enum Status {
    Message(String),
    Error(String),
}

pub struct App {
    pub sh: Shared,
    stack: Vec<Box<dyn View>>,
    pub mode: Mode,
    pub help: Option<u16>,
    pub status: Option<Status>,
    pub quit: Option<String>,
    /// A question on screen (a modal): `y` starts its task, any other key cancels.
    pub confirm: Option<views::Confirm>,
    registry: Vec<ViewSpec>,
}

impl App {
    /// An app on `first` (a `:` view name), asking for the inventory to be loaded.
    pub fn new(mut sh: Shared, first: &str) -> App {
        let registry = views::registry();
        sh.inventory.generation += 1;
        sh.tasks.push(Task::LoadInventory {
            generation: sh.inventory.generation,
        });
        let spec = views::find(first).unwrap_or(registry[0]);
        let view = (spec.open)(&mut sh);
        App {
            sh,
            stack: vec![view],
            mode: Mode::Normal,
            help: None,
            status: None,
            quit: None,
            confirm: None,
            registry,
        }
    }

    pub fn view(&self) -> &dyn View {
        self.stack.last().map(|b| b.as_ref()).expect("a view")
    }

    pub fn depth(&self) -> usize {
        self.stack.len()
    }

    pub fn keymap(&self) -> Keymap {
        Keymap::effective(self.view().bindings(), self.sh.readonly)
    }

    /// Tasks the loop should run (in the background, or inline in tests).
    pub fn take_tasks(&mut self) -> Vec<Task> {
        std::mem::take(&mut self.sh.tasks)
    }

    /// Runs a task on the app's own connection: what tests and in-memory stores use.
    pub fn run_task_inline(&mut self, task: &Task) -> TaskResult {
        run_task(&mut self.sh.ctx, task)
    }

    /// Runs the pending tasks `pick` selects inline and applies their results; the
    /// others stay queued (benches time one kind of task at a time).
    pub fn settle_where(&mut self, pick: impl Fn(&Task) -> bool) {
        let (now, later): (Vec<Task>, Vec<Task>) = self.take_tasks().into_iter().partition(&pick);
        self.sh.tasks.extend(later);
        for t in now {
            let r = self.run_task_inline(&t);
            self.handle(Event::Task(r));
        }
    }

    /// Runs every pending task inline and applies the results.
    pub fn settle(&mut self) {
        loop {
            let tasks = self.take_tasks();
            if tasks.is_empty() {
                break;
            }
            for t in tasks {
                let r = self.run_task_inline(&t);
                self.handle(Event::Task(r));
            }
        }
    }

    pub fn handle(&mut self, ev: Event) {
        match ev {
            Event::Key(k) => self.on_key(k),
            Event::Resize(..) => {}
            // The clock moves: re-read the current view's own figures (cheap queries);
            // the inventory itself reloads on Ctrl-r.
            Event::Tick => {
                let sh = &mut self.sh;
                self.stack.last_mut().expect("a view").on_tick(sh);
            }
            Event::Progress => {
                let sh = &mut self.sh;
                self.stack.last_mut().expect("a view").on_progress(sh);
            }
            Event::Signal(name) => self.quit = Some(format!("received {name}")),
            Event::Task(TaskResult::Inventory { generation, rows }) => {
                if generation != self.sh.inventory.generation {
                    return;
                }
                match rows {
                    Ok(loaded) => {
                        let loaded = *loaded;
                        self.sh.inventory.rows = Arc::new(loaded.rows);
                        self.sh.inventory.haystacks = Arc::new(loaded.haystacks);
                        self.sh.inventory.index = Arc::new(loaded.index);
                        self.sh.inventory.noncompliance = Arc::new(loaded.noncompliance);
                        self.sh.inventory.loaded = true;
                        self.sh.inventory.error = None;
                    }
                    Err(e) => {
                        self.sh.inventory.error = Some(e.clone());
                        self.status = Some(Status::Error(format!("loading the inventory: {e}")));
                    }
                }
                for v in &mut self.stack {
                    v.on_inventory(&self.sh);
                }
            }
            Event::Task(r @ (TaskResult::Dashboard { .. } | TaskResult::Compliance { .. })) => {
                for v in &mut self.stack {
                    v.on_result(&r, &self.sh);
                }
            }
            Event::Task(TaskResult::Renewal { identity, outcome }) => {
                self.sh.renewing.retain(|i| *i != identity);
                self.status = Some(match outcome {
                    Ok(m) => Status::Message(m),
                    Err(e) => Status::Error(e),
                });
                // The new certificate and the job's end state: reload what shows them.
                self.refresh();
            }
        }
    }

    /// The operator answered the question on screen.
    fn on_confirm_key(&mut self, k: KeyEvent, c: views::Confirm) {
        if !matches!(k.code, KeyCode::Char('y') | KeyCode::Char('Y')) {
            self.status = Some(Status::Message(c.cancelled));
            return;
        }
        match &c.task {
            Task::Renew {
                identity,
                authority,
                ..
            } => {
                let shown = crate::sanitize::sanitize(identity).into_owned();
                if self.sh.renewing.contains(identity) {
                    self.status = Some(Status::Error(format!("{shown} is already being renewed")));
                    return;
                }
                self.sh.renewing.push(identity.clone());
                self.status = Some(Status::Message(format!(
                    "renewing {shown} from {} in the background; :jobs shows its steps",
                    crate::sanitize::sanitize(authority)
                )));
            }
            _ => self.status = None,
        }
        self.sh.tasks.push(c.task);
    }

    fn on_key(&mut self, k: KeyEvent) {
        if k.kind != ratatui::crossterm::event::KeyEventKind::Press {
            return;
        }
        match std::mem::replace(&mut self.mode, Mode::Normal) {
            Mode::Normal => self.on_normal_key(k),
            Mode::Filter { input, before } => self.on_filter_key(k, input, before),
            Mode::Command { input } => self.on_command_key(k, input),
            Mode::Export { input } => self.on_export_key(k, input),
        }
    }

    fn on_normal_key(&mut self, k: KeyEvent) {
        if let Some(c) = self.confirm.take() {
            self.on_confirm_key(k, c);
            return;
        }
        if let Some(scroll) = self.help {
            self.help = match k.code {
                KeyCode::Char('j') | KeyCode::Down => Some(scroll.saturating_add(1)),
                KeyCode::Char('k') | KeyCode::Up => Some(scroll.saturating_sub(1)),
                KeyCode::PageDown => Some(scroll.saturating_add(10)),
                KeyCode::PageUp => Some(scroll.saturating_sub(10)),
                _ => None,
            };
            return;
        }
        // A view in the middle of typed input (a review comment) takes the keys first.
        let captured = {
            let sh = &mut self.sh;
            let v = self.stack.last_mut().expect("a view");
            v.capture_key(&k, sh)
        };
        if let Some(flow) = captured {
            self.status = None;
            self.apply_flow(flow, &Action::Refresh);
            return;
        }
        self.status = None;
        let Some(action) = self.keymap().action_for(&k) else {
            return;
        };
        self.perform(action);
    }

    /// Performs an action as if its key had been pressed.
    pub fn perform(&mut self, action: Action) {
        match action {
            Action::Quit => self.quit = Some("quit".into()),
            Action::Help => self.help = Some(0),
            Action::Filter => {
                if self.view().filter().is_none() {
                    self.status = Some(Status::Error("this view has no filter".into()));
                    return;
                }
                let before = self.view().filter().unwrap_or("").to_string();
                let mut input = prompt_input();
                input.insert_str(&before);
                self.mode = Mode::Filter { input, before };
            }
            Action::Command => {
                self.mode = Mode::Command {
                    input: prompt_input(),
                }
            }
            Action::Export => {
                if self.view().export(&self.sh).is_none() {
                    self.status = Some(Status::Error("nothing to export in this view".into()));
                    return;
                }
                let mut input = prompt_input();
                input.insert_str(format!("certdeck-{}.csv", self.view().name()));
                self.mode = Mode::Export { input };
            }
            Action::Refresh => self.refresh(),
            other => {
                let flow = {
                    let sh = &mut self.sh;
                    let v = self.stack.last_mut().expect("a view");
                    v.on_action(&other, sh)
                };
                self.apply_flow(flow, &other);
            }
        }
    }

    fn apply_flow(&mut self, flow: Flow, action: &Action) {
        match flow {
            Flow::Handled => {}
            Flow::Ignored => {
                if *action == Action::Back {
                    if self.view().filter().is_some_and(|f| !f.is_empty()) {
                        let _ = self.set_filter("");
                    } else if self.stack.len() > 1 {
                        self.stack.pop();
                    }
                }
            }
            Flow::Open(v) => self.stack.push(v),
            Flow::Message(m) => self.status = Some(Status::Message(m)),
            Flow::Error(e) => self.status = Some(Status::Error(e)),
            Flow::Confirm(c) => self.confirm = Some(*c),
        }
    }

    /// Reloads the inventory and the current view's own data.
    pub fn refresh(&mut self) {
        self.sh.inventory.generation += 1;
        self.sh.tasks.push(Task::LoadInventory {
            generation: self.sh.inventory.generation,
        });
        let sh = &mut self.sh;
        self.stack.last_mut().expect("a view").refresh(sh);
    }

    /// Applies `text` as the current view's `/` filter, as typing it and pressing Enter
    /// would (benches and tests use it directly).
    pub fn apply_filter(&mut self, text: &str) -> Result<(), String> {
        self.set_filter(text)
    }

    fn set_filter(&mut self, text: &str) -> Result<(), String> {
        let sh = &self.sh;
        let v = self.stack.last_mut().expect("a view");
        v.set_filter(text, sh)
    }

    fn on_filter_key(&mut self, k: KeyEvent, mut input: TextArea<'static>, before: String) {
        match k.code {
            KeyCode::Enter => {
                let text = line(&input);
                match self.set_filter(&text) {
                    Ok(()) => {}
                    Err(e) => {
                        self.status = Some(Status::Error(e));
                        self.mode = Mode::Filter { input, before };
                    }
                }
            }
            KeyCode::Esc => {
                let _ = self.set_filter(&before);
            }
            _ => {
                input.input(k);
                // Filter as the operator types; a half-typed word that does not parse
                // yet keeps the previous result on screen.
                let text = line(&input);
                self.status = match self.set_filter(&text) {
                    Ok(()) => None,
                    Err(e) => Some(Status::Error(e)),
                };
                self.mode = Mode::Filter { input, before };
            }
        }
    }

    fn on_command_key(&mut self, k: KeyEvent, mut input: TextArea<'static>) {
        match k.code {
            KeyCode::Enter => {
                let text = line(&input);
                self.run_command(text.trim());
            }
            KeyCode::Esc => {}
            KeyCode::Tab => {
                let text = line(&input);
                let candidates = self.completions(text.trim());
                match candidates.as_slice() {
                    [] => {}
                    [one] => {
                        input = prompt_input();
                        input.insert_str(one);
                    }
                    many => {
                        let common = common_prefix(many);
                        if common.len() > text.trim().len() {
                            input = prompt_input();
                            input.insert_str(&common);
                        }
                        self.status = Some(Status::Message(many.join("  ")));
                    }
                }
                self.mode = Mode::Command { input };
            }
            _ => {
                input.input(k);
                self.mode = Mode::Command { input };
            }
        }
    }

    /// `:` words that start with `prefix`: view names, aliases, and the built-ins.
    pub fn completions(&self, prefix: &str) -> Vec<String> {
        let mut words: Vec<&str> = Vec::new();
        for s in &self.registry {
            words.push(s.name);
            words.extend(s.aliases.iter().copied());
        }
        words.extend(["help", "quit", "theme"]);
        let mut out: Vec<String> = words
            .into_iter()
            .filter(|w| w.starts_with(prefix))
            .map(str::to_string)
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Runs a `:` command line: a view name or alias, `help`, `quit`, `theme NAME`.
    pub fn run_command(&mut self, cmd: &str) {
        let mut words = cmd.split_whitespace();
        let Some(first) = words.next() else { return };
        match first {
            "q" | "quit" => self.quit = Some("quit".into()),
            "help" => self.help = Some(0),
            "theme" => match words.next() {
                Some(name) => match Theme::load(name, super::theme::user_config_dir().as_deref()) {
                    Ok(t) => self.sh.theme = t,
                    Err(e) => self.status = Some(Status::Error(e.to_string())),
                },
                None => {
                    self.status = Some(Status::Message(format!(
                        "theme {} (built in: default, light, high-contrast, ansi16, mono)",
                        self.sh.theme.name
                    )))
                }
            },
            word => match self
                .registry
                .iter()
                .find(|s| s.name == word || s.aliases.contains(&word))
            {
                Some(spec) => {
                    let v = (spec.open)(&mut self.sh);
                    self.stack = vec![v];
                }
                None => {
                    self.status = Some(Status::Error(format!(
                        "no view or command {:?} (Tab completes; ? lists them)",
                        crate::sanitize::sanitize(word)
                    )))
                }
            },
        }
    }

    fn on_export_key(&mut self, k: KeyEvent, mut input: TextArea<'static>) {
        match k.code {
            KeyCode::Enter => {
                let path = line(&input);
                match self.export_to(std::path::Path::new(path.trim())) {
                    Ok(m) => self.status = Some(Status::Message(m)),
                    Err(e) => {
                        self.status = Some(Status::Error(e));
                        self.mode = Mode::Export { input };
                    }
                }
            }
            KeyCode::Esc => {}
            _ => {
                input.input(k);
                self.mode = Mode::Export { input };
            }
        }
    }

    /// Writes the current view's filtered list to `path`: JSON when it ends in `.json`,
    /// else CSV. Values are exact (not sanitized): the file is data, not a terminal.
    pub fn export_to(&self, path: &std::path::Path) -> Result<String, String> {
        if path.as_os_str().is_empty() {
            return Err("give a file name".into());
        }
        let shown = crate::sanitize::sanitize_path(path);
        let Some(export) = self.view().export(&self.sh) else {
            return Err("nothing to export in this view".into());
        };
        let json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let now = self.sh.now();
        let mut buf: Vec<u8> = Vec::new();
        let mut export = export;
        if let Export::Certificates(rows) = &mut export {
            // The loaded rows carry only the findings' marks; an export is data, so it
            // carries each finding in full, as `certdeck list --json` does.
            for r in rows.iter_mut() {
                r.findings.clear();
            }
            self.sh
                .ctx
                .store
                .read()
                .attach_findings(rows)
                .map_err(|e| crate::sanitize::sanitize(&e.to_string()).into_owned())?;
        }
        let n = match &export {
            Export::Certificates(rows) => {
                if json {
                    let v: Vec<_> = rows
                        .iter()
                        .map(|r| crate::cli::output::CertJson::new(r, now))
                        .collect();
                    serde_json::to_writer_pretty(&mut buf, &v).map_err(|e| e.to_string())?;
                } else {
                    let refs: Vec<&CertRow> = rows.iter().collect();
                    crate::cli::output::write_csv(&mut buf, &refs, now)
                        .map_err(|e| e.to_string())?;
                }
                rows.len()
            }
            Export::Audit(recs) => {
                if json {
                    serde_json::to_writer_pretty(&mut buf, recs).map_err(|e| e.to_string())?;
                } else {
                    let mut w = csv::Writer::from_writer(&mut buf);
                    let _ = w.write_record([
                        "seq",
                        "at",
                        "actor",
                        "action",
                        "object_type",
                        "object_id",
                        "outcome",
                        "reason",
                    ]);
                    for r in recs {
                        w.write_record([
                            r.seq.to_string(),
                            crate::clock::rfc3339(r.at),
                            r.actor.clone(),
                            r.action.clone(),
                            r.object_type.clone(),
                            r.object_id.clone(),
                            r.outcome.clone(),
                            r.reason.clone().unwrap_or_default(),
                        ])
                        .map_err(|e| e.to_string())?;
                    }
                    w.flush().map_err(|e| e.to_string())?;
                }
                recs.len()
            }
        };
        if json {
            buf.push(b'\n');
        }
        std::fs::write(path, &buf).map_err(|e| format!("{shown}: {e}"))?;
        Ok(format!(
            "exported {n} {} to {shown} ({})",
            if matches!(export, Export::Audit(_)) {
                "audit records"
            } else {
                "certificates"
            },
            if json { "JSON" } else { "CSV" }
        ))
    }

    pub fn render(&mut self, f: &mut Frame) {
        let area = f.area();
        let [top, body, bottom] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length(1),
        ])
        .areas(area);
        let title = self.view().title(&self.sh);
        let trail: Vec<&str> = self.stack.iter().map(|v| v.name()).collect();
        widgets::status_bar::render(f, top, &self.sh, &trail);
        let filter = self.view().filter().map(str::to_string);
        let focused = matches!(self.mode, Mode::Filter { .. });
        let inner = widgets::frame::render(f, body, &self.sh, &title, filter.as_deref(), focused);
        {
            let sh = &self.sh;
            let v = self.stack.last_mut().expect("a view");
            v.render(f, inner, sh);
        }
        self.render_bottom(f, bottom);
        if let Some(c) = &self.confirm {
            widgets::confirm::render(f, area, &self.sh, c);
        }
        if let Some(scroll) = self.help {
            let km = self.keymap();
            let scroll = widgets::help::render(f, area, &self.sh, &km, &self.registry, scroll);
            self.help = Some(scroll);
        }
    }

    fn render_bottom(&self, f: &mut Frame, area: Rect) {
        let sh = &self.sh;
        match &self.mode {
            Mode::Filter { input, .. } => {
                widgets::prompt::render(f, area, sh, "/", input, self.status.as_ref())
            }
            Mode::Command { input } => {
                widgets::prompt::render(f, area, sh, ":", input, self.status.as_ref())
            }
            Mode::Export { input } => widgets::prompt::render(
                f,
                area,
                sh,
                "export to (.csv or .json): ",
                input,
                self.status.as_ref(),
            ),
            Mode::Normal => match &self.status {
                Some(s) => widgets::prompt::render_status(f, area, sh, s),
                None => widgets::footer::render(f, area, sh, &self.keymap()),
            },
        }
    }

    /// The name of the current mode, for tests and the smoke script.
    pub fn mode_name(&self) -> &'static str {
        match self.mode {
            Mode::Normal => "normal",
            Mode::Filter { .. } => "filter",
            Mode::Command { .. } => "command",
            Mode::Export { .. } => "export",
        }
    }

    pub fn status_text(&self) -> Option<&str> {
        match &self.status {
            Some(Status::Message(m)) | Some(Status::Error(m)) => Some(m),
            None => None,
        }
    }

    /// A key press, the way tests and the event loop deliver one.
    pub fn press(&mut self, code: KeyCode) {
        let mods = match code {
            KeyCode::Char(c) if c.is_ascii_uppercase() => KeyModifiers::SHIFT,
            _ => KeyModifiers::NONE,
        };
        self.handle(Event::Key(KeyEvent::new(code, mods)));
    }
}

/// Runs one task on a context (the app's, or a background thread's own connection).
pub fn run_task(ctx: &mut Ctx, task: &Task) -> TaskResult {
    let shown = |e: &dyn std::fmt::Display| crate::sanitize::sanitize(&e.to_string()).into_owned();
    match task {
        Task::LoadInventory { generation } => TaskResult::Inventory {
            generation: *generation,
            rows: load_rows(ctx.store.read())
                .map(|rows| Box::new(LoadedInventory::of(rows).counted(ctx.now())))
                .map_err(|e| shown(&e)),
        },
        Task::Dashboard { ticket } => TaskResult::Dashboard {
            ticket: *ticket,
            figures: super::views::dashboard::Figures::load(ctx.store.read(), ctx.now())
                .map(Box::new)
                .map_err(|e| shown(&e)),
        },
        Task::Compliance { ticket, rows } => compliance(*ticket, rows, ctx.now()),
        Task::Renew {
            identity, actor, ..
        } => TaskResult::Renewal {
            identity: identity.clone(),
            outcome: super::renewal::run(ctx, actor, identity),
        },
    }
}

/// Every certificate row, with the findings' marks only (rule, severity, window,
/// exception: what the table, the filter words and the counts read; the detail and an
/// export read findings in full), in as little
/// memory as the rows need: 100k certificates stay inside the console's budget.
fn load_rows(read: crate::store::Read<'_>) -> Result<Vec<CertRow>, crate::store::StoreError> {
    let mut rows = read.certificate_rows_without_findings(crate::store::RowSelect::default())?;
    read.attach_finding_marks(&mut rows)?;
    rows.shrink_to_fit();
    Ok(rows)
}

/// A [`Task::Compliance`]'s answer (it needs no connection).
pub fn compliance(ticket: u64, rows: &[CertRow], now: time::OffsetDateTime) -> TaskResult {
    TaskResult::Compliance {
        ticket,
        figures: Arc::new(crate::policy::compliance::noncompliance(rows, now)),
    }
}

/// What a task answers when it could not run at all (its connection failed to open).
pub fn task_failed(task: &Task, e: String) -> TaskResult {
    match task {
        Task::LoadInventory { generation } => TaskResult::Inventory {
            generation: *generation,
            rows: Err(e),
        },
        Task::Dashboard { ticket } => TaskResult::Dashboard {
            ticket: *ticket,
            figures: Err(e),
        },
        Task::Compliance { ticket, .. } => TaskResult::Compliance {
            ticket: *ticket,
            figures: Default::default(),
        },
        Task::Renew { identity, .. } => TaskResult::Renewal {
            identity: identity.clone(),
            outcome: Err(format!(
                "{}: the renewal did not start: {e}",
                crate::sanitize::sanitize(identity)
            )),
        },
    }
}

fn prompt_input() -> TextArea<'static> {
    let mut t = TextArea::default();
    t.set_cursor_line_style(ratatui::style::Style::default());
    t
}

fn line(t: &TextArea<'_>) -> String {
    t.lines().first().cloned().unwrap_or_default()
}

fn common_prefix(words: &[String]) -> String {
    let first = &words[0];
    let mut n = first.len();
    for w in &words[1..] {
        n = n.min(
            first
                .chars()
                .zip(w.chars())
                .take_while(|(a, b)| a == b)
                .count(),
        );
    }
    first.chars().take(n).collect()
}
