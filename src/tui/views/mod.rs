//! The console's screens, one file each. A view owns its own state (selection, scroll,
//! filter), reads through `Shared` (store read queries, the loaded inventory, theme), and
//! answers actions; it never writes to the store except through `ops`.
//!
//! Adding a view: write `views/NAME.rs` with a `pub const SPECS: &[ViewSpec]` (the `:`
//! names it answers to and how to open it) and a type implementing [`View`], then add
//! `NAME,` to the `views!` list below. Nothing else changes: the command line, its
//! completion and the help overlay read the registry.

use super::action::Action;
use super::app::Shared;
use super::keymap::Binding;
use crate::model::{AuditRecord, CertRow};
use ratatui::layout::Rect;
use ratatui::Frame;

/// How a view answered an action.
pub enum Flow {
    Handled,
    /// Not the view's business: the app applies its default (e.g. `Esc` goes back).
    Ignored,
    /// Push a view on the stack (Enter on a row opens its detail).
    Open(Box<dyn View>),
    Message(String),
    Error(String),
    /// Ask the operator first (a modal naming the object and the consequences); on `y`
    /// the app starts the task in the background.
    Confirm(Box<Confirm>),
}

/// A question before work done on the operator's behalf.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    /// The popup's title ("Confirm renewal").
    pub title: String,
    /// One line naming the object and the action.
    pub question: String,
    /// What will happen, a few short lines.
    pub consequences: Vec<String>,
    /// What `y` does, in one or two words ("renew www").
    pub yes: String,
    /// Said on any key but `y`.
    pub cancelled: String,
    pub task: super::app::Task,
}

/// What `e` writes for the current view.
pub enum Export {
    Certificates(Vec<CertRow>),
    Audit(Vec<AuditRecord>),
}

pub trait View {
    /// The registry name this view was opened as (`dash`, `certs`, ...).
    fn name(&self) -> &'static str;
    /// The frame title (the app appends the active filter).
    fn title(&self, sh: &Shared) -> String;
    /// The view's own keys, merged before the global ones.
    fn bindings(&self) -> &'static [Binding] {
        &[]
    }
    fn render(&mut self, f: &mut Frame, area: Rect, sh: &Shared);
    fn on_action(&mut self, action: &Action, sh: &mut Shared) -> Flow;
    /// The active `/` filter, if this view filters.
    fn filter(&self) -> Option<&str> {
        None
    }
    /// Applies a filter typed after `/`; an error names the bad word and keeps the old
    /// filter.
    fn set_filter(&mut self, _text: &str, _sh: &Shared) -> Result<(), String> {
        Err("this view has no filter".into())
    }
    /// The rows `e` exports (the current filtered list).
    fn export(&self, _sh: &Shared) -> Option<Export> {
        None
    }
    /// The shared inventory was (re)loaded.
    fn on_inventory(&mut self, _sh: &Shared) {}
    /// A background task this view asked for (through [`Shared::ask`]) finished.
    fn on_result(&mut self, _result: &super::app::TaskResult, _sh: &Shared) {}
    /// Re-read this view's own data (`Ctrl-r`, opening, the end of a renewal).
    fn refresh(&mut self, _sh: &mut Shared) {}
    /// The clock ticked: by default the same as [`View::refresh`]; a view with costly
    /// figures may keep them until they are old enough.
    fn on_tick(&mut self, sh: &mut Shared) {
        self.refresh(sh)
    }
    /// A renewal this console started is still running (about once a second): a view
    /// that shows job steps re-reads them, cheaply (this is on the input path).
    fn on_progress(&mut self, _sh: &mut Shared) {}
    /// Raw keys, before the keymap, while the view is taking typed input (a comment in
    /// a text area); `None` lets the keymap handle the key as usual.
    fn capture_key(
        &mut self,
        _key: &ratatui::crossterm::event::KeyEvent,
        _sh: &mut Shared,
    ) -> Option<Flow> {
        None
    }
}

/// A `:` name and how to open the view behind it.
#[derive(Clone, Copy)]
pub struct ViewSpec {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub about: &'static str,
    pub open: fn(&mut Shared) -> Box<dyn View>,
}

macro_rules! views {
    ($($m:ident),* $(,)?) => {
        $(pub mod $m;)*
        /// Every registered `:` view, in the order help lists them.
        pub fn registry() -> Vec<ViewSpec> {
            let mut v: Vec<ViewSpec> = Vec::new();
            $(v.extend_from_slice($m::SPECS);)*
            v
        }
    };
}

views![dashboard, inventory, detail, audit, approvals, access, exceptions, policy, jobs,];

/// The spec answering to `word` (a name or an alias).
pub fn find(word: &str) -> Option<ViewSpec> {
    registry()
        .into_iter()
        .find(|s| s.name == word || s.aliases.contains(&word))
}
