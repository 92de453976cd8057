//! `:access` — who may do what: operators and their roles (with scopes), service
//! accounts with their findings (rotation overdue, no owner, unused, retired but used),
//! and the RACI matrix in force. Read-only here; changes go through `certdeck access`.

use super::{Flow, View, ViewSpec};
use crate::access::{Activity, Role};
use crate::tui::action::Action;
use crate::tui::app::Shared;
use crate::tui::widgets::text;
use crate::tui::widgets::text_pane::TextPane;
use ratatui::layout::Rect;
use ratatui::Frame;

pub const SPECS: &[ViewSpec] = &[ViewSpec {
    name: "access",
    aliases: &["raci"],
    about: "operators, roles, service accounts, RACI",
    open: AccessView::open,
}];

pub struct AccessView {
    pane: TextPane,
}

impl AccessView {
    pub fn open(sh: &mut Shared) -> Box<dyn View> {
        let mut v = AccessView {
            pane: TextPane::default(),
        };
        v.refresh(sh);
        Box::new(v)
    }

    fn build(sh: &Shared) -> Result<Vec<(String, &'static str)>, String> {
        let read = sh.ctx.store.read();
        let now = sh.now();
        let e = |e: crate::store::StoreError| e.to_string();
        let mut out: Vec<(String, &'static str)> = Vec::new();
        let ops = read.operators().map_err(e)?;
        out.push((format!("Operators ({})", ops.len()), "ui.header"));
        for o in &ops {
            let me = if o.name == sh.actor.name { " (you)" } else { "" };
            if o.grants.is_empty() {
                out.push((format!("  {}{me}  no role", text(&o.name)), "ui.text.dim"));
            }
            for g in &o.grants {
                out.push((
                    format!(
                        "  {:<14} {:<12} {}",
                        format!("{}{me}", text(&o.name)),
                        g.role.as_str(),
                        text(&g.scope.to_string())
                    ),
                    "ui.text",
                ));
            }
        }
        out.push((String::new(), "ui.text"));
        let sas = read.service_accounts().map_err(e)?;
        let days = sh.ctx.config.access.service_account_unused_days;
        out.push((format!("Service accounts ({})", sas.len()), "ui.header"));
        for a in &sas {
            let state = if a.is_retired(now) { "retired" } else { "active" };
            out.push((
                format!(
                    "  {:<16} {:<8} {:<8} owner {}  credential {}",
                    text(&a.name),
                    a.environment.as_str(),
                    state,
                    text(a.owner.as_deref().unwrap_or("(none)")),
                    // The kind of reference only: env var names and paths stay in `sa show`.
                    crate::access::CredentialRef::parse(&a.credential_ref)
                        .map(|c| c.kind())
                        .unwrap_or("?")
                ),
                "ui.text",
            ));
            for f in a.findings(now, days) {
                out.push((format!("    ! {} {}", f.rule, text(&f.message)), "ui.error"));
            }
        }
        out.push((String::new(), "ui.text"));
        let m = read.raci_matrix().map_err(e)?;
        out.push(("RACI matrix".into(), "ui.header"));
        let mut head = format!("  {:<22}", "activity");
        for r in Role::MATRIX {
            head.push_str(&format!("{:<12}", r.as_str()));
        }
        out.push((head, "ui.label"));
        for a in Activity::ALL {
            let mut l = format!("  {:<22}", a.as_str());
            for r in Role::MATRIX {
                l.push_str(&format!("{:<12}", m.letters(a, r).to_string()));
            }
            out.push((l, "ui.text"));
        }
        Ok(out)
    }
}

impl View for AccessView {
    fn name(&self) -> &'static str {
        "access"
    }

    fn title(&self, _sh: &Shared) -> String {
        "Access".into()
    }

    fn refresh(&mut self, sh: &mut Shared) {
        self.pane.lines = Self::build(sh).unwrap_or_else(|e| vec![(e, "ui.error")]);
    }

    fn on_action(&mut self, a: &Action, _sh: &mut Shared) -> Flow {
        self.pane.scroll(a)
    }

    fn render(&mut self, f: &mut Frame, area: Rect, sh: &Shared) {
        self.pane.render(f, area, &sh.theme);
    }
}
