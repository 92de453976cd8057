//! The audit log, newest first, filterable with `actor:`, `action:`, `object:`,
//! `outcome:` and free text (each a case-insensitive substring). Enter shows one record
//! in full (details, origin, hash).

use super::{Export, Flow, View, ViewSpec};
use crate::model::AuditRecord;
use crate::store::AuditSearch;
use crate::tui::action::Action;
use crate::tui::app::Shared;
use crate::tui::keymap::Binding;
use crate::tui::widgets::text;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

pub const SPECS: &[ViewSpec] = &[ViewSpec {
    name: "audit",
    aliases: &["log"],
    about: "the audit log, filterable by actor:, action:, object:",
    open: AuditView::open,
}];

const BINDINGS: &[Binding] = &[
    Binding::new(Action::Export, &["e"], "export the filtered records (CSV or JSON)").hinted(),
];

/// How many records the view holds; the filter runs in SQL over the whole log.
pub const LIMIT: usize = 5000;

pub struct AuditView {
    filter_text: String,
    pub records: Vec<AuditRecord>,
    pub selected: usize,
    offset: usize,
    page: usize,
    /// Enter toggles the full record under the list.
    expanded: bool,
    error: Option<String>,
}

impl AuditView {
    pub fn open(sh: &mut Shared) -> Box<dyn View> {
        let mut v = AuditView {
            filter_text: String::new(),
            records: Vec::new(),
            selected: 0,
            offset: 0,
            page: 10,
            expanded: false,
            error: None,
        };
        v.refresh(sh);
        Box::new(v)
    }

    fn load(&mut self, sh: &Shared, q: &AuditSearch) {
        match sh.ctx.store.read().audit_search(q, LIMIT) {
            Ok(r) => {
                self.records = r;
                self.error = None;
            }
            Err(e) => self.error = Some(text(&e.to_string()).into_owned()),
        }
        self.selected = self.selected.min(self.records.len().saturating_sub(1));
    }
}

impl View for AuditView {
    fn name(&self) -> &'static str {
        "audit"
    }

    fn title(&self, _sh: &Shared) -> String {
        format!("Audit log ({} records)", self.records.len())
    }

    fn bindings(&self) -> &'static [Binding] {
        BINDINGS
    }

    fn filter(&self) -> Option<&str> {
        Some(&self.filter_text)
    }

    fn set_filter(&mut self, t: &str, sh: &Shared) -> Result<(), String> {
        let q = AuditSearch::parse(t).map_err(|e| text(&e).into_owned())?;
        self.filter_text = t.to_string();
        self.selected = 0;
        self.offset = 0;
        self.load(sh, &q);
        Ok(())
    }

    fn refresh(&mut self, sh: &mut Shared) {
        let q = AuditSearch::parse(&self.filter_text).unwrap_or_default();
        self.load(sh, &q);
    }

    fn export(&self, _sh: &Shared) -> Option<Export> {
        Some(Export::Audit(self.records.clone()))
    }

    fn on_action(&mut self, a: &Action, _sh: &mut Shared) -> Flow {
        let n = self.records.len();
        if n == 0 {
            return Flow::Ignored;
        }
        let last = n - 1;
        self.selected = match a {
            Action::Up => self.selected.saturating_sub(1),
            Action::Down => (self.selected + 1).min(last),
            Action::PageUp => self.selected.saturating_sub(self.page),
            Action::PageDown => (self.selected + self.page).min(last),
            Action::Top => 0,
            Action::Bottom => last,
            Action::Open => {
                self.expanded = !self.expanded;
                self.selected
            }
            Action::Back if self.expanded => {
                self.expanded = false;
                self.selected
            }
            _ => return Flow::Ignored,
        };
        Flow::Handled
    }

    fn render(&mut self, f: &mut Frame, area: Rect, sh: &Shared) {
        if let Some(e) = &self.error {
            f.render_widget(Paragraph::new(Span::styled(e.clone(), sh.theme.style("ui.error"))), area);
            return;
        }
        let (list, detail) = if self.expanded {
            let [l, d] = Layout::vertical([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(area);
            (l, Some(d))
        } else {
            (area, None)
        };
        let h = list.height as usize;
        self.page = h.max(1);
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if h > 0 && self.selected >= self.offset + h {
            self.offset = self.selected + 1 - h;
        }
        if self.records.is_empty() {
            f.render_widget(
                Paragraph::new(Span::styled("no audit records match", sh.theme.style("ui.text.dim"))),
                list,
            );
            return;
        }
        let lines: Vec<Line> = self
            .records
            .iter()
            .enumerate()
            .skip(self.offset)
            .take(h)
            .map(|(i, r)| {
                let mut l = super::dashboard::audit_line(sh, r, list.width as usize);
                if i == self.selected {
                    l = l.style(sh.theme.style("ui.selection"));
                    l.spans.iter_mut().for_each(|s| s.style = sh.theme.style("ui.selection"));
                }
                l
            })
            .collect();
        f.render_widget(Paragraph::new(lines), list);
        if let (Some(d), Some(r)) = (detail, self.records.get(self.selected)) {
            let st = |s: &str| sh.theme.style(s);
            let field = |k: &str, v: String| {
                Line::from(vec![
                    Span::styled(format!("{k:<10}"), st("ui.label")),
                    Span::styled(v, st("ui.value")),
                ])
            };
            let lines = vec![
                field("seq", r.seq.to_string()),
                field("at", crate::clock::rfc3339(r.at)),
                field("actor", format!("{} ({})", text(&r.actor), text(&r.actor_kind))),
                field("action", text(&r.action).into_owned()),
                field("object", format!("{}:{}", text(&r.object_type), text(&r.object_id))),
                field("outcome", text(&r.outcome).into_owned()),
                field("reason", r.reason.as_deref().map(|x| text(x).into_owned()).unwrap_or_default()),
                field("details", text(&r.details.to_string()).into_owned()),
                field("origin", text(&r.origin.to_string()).into_owned()),
                field("hash", r.hash.clone()),
            ];
            let block = Block::default()
                .borders(Borders::TOP)
                .border_style(st("ui.border"))
                .title(Span::styled(" Record (Enter/Esc closes) ", st("ui.title")));
            f.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }), d);
        }
    }
}
