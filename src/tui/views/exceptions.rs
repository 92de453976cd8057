//! `:exceptions` — policy exceptions with the time each has left: who granted it, for
//! which rule and object, from which request. Expired and revoked ones stay listed
//! (dimmed, marked) so an operator sees the finding is back.

use super::{Flow, View, ViewSpec};
use crate::tui::action::Action;
use crate::tui::app::Shared;
use crate::tui::widgets::text;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

pub const SPECS: &[ViewSpec] = &[ViewSpec {
    name: "exceptions",
    aliases: &["exc"],
    about: "policy exceptions and the time they have left",
    open: ExceptionsView::open,
}];

pub struct ExceptionsView {
    rows: Vec<crate::policy::exception::Exception>,
    selected: usize,
    error: Option<String>,
}

impl ExceptionsView {
    pub fn open(sh: &mut Shared) -> Box<dyn View> {
        let mut v = ExceptionsView {
            rows: Vec::new(),
            selected: 0,
            error: None,
        };
        v.refresh(sh);
        Box::new(v)
    }
}

impl View for ExceptionsView {
    fn name(&self) -> &'static str {
        "exceptions"
    }

    fn title(&self, sh: &Shared) -> String {
        let now = sh.now();
        let active = self.rows.iter().filter(|e| e.is_active(now)).count();
        format!("Exceptions ({active} in force, {} listed)", self.rows.len())
    }

    fn refresh(&mut self, sh: &mut Shared) {
        match sh.ctx.store.read().exceptions() {
            Ok(mut r) => {
                let now = sh.now();
                // In force first, soonest to expire first.
                r.sort_by_key(|e| (!e.is_active(now), e.expires_at));
                self.rows = r;
                self.error = None;
            }
            Err(e) => self.error = Some(e.to_string()),
        }
        self.selected = self.selected.min(self.rows.len().saturating_sub(1));
    }

    fn on_action(&mut self, a: &Action, _sh: &mut Shared) -> Flow {
        let last = self.rows.len().saturating_sub(1);
        self.selected = match a {
            Action::Up => self.selected.saturating_sub(1),
            Action::Down => (self.selected + 1).min(last),
            Action::Top => 0,
            Action::Bottom => last,
            _ => return Flow::Ignored,
        };
        Flow::Handled
    }

    fn render(&mut self, f: &mut Frame, area: Rect, sh: &Shared) {
        let st = |s: &str| sh.theme.style(s);
        if let Some(e) = &self.error {
            f.render_widget(Paragraph::new(Span::styled(text(e).into_owned(), st("ui.error"))), area);
            return;
        }
        if self.rows.is_empty() {
            f.render_widget(Paragraph::new(Span::styled("no exceptions", st("ui.text.dim"))), area);
            return;
        }
        let now = sh.now();
        let w = area.width as usize;
        let mut lines = vec![Line::from(Span::styled(
            format!("  {:>4}  {:<10} {:<18} {:<16} {:<10} {}", "ID", "LEFT", "RULE", "OBJECT", "BY", "FROM"),
            st("ui.header"),
        ))];
        let h = area.height.saturating_sub(1) as usize;
        let offset = self.selected.saturating_sub(h.saturating_sub(1));
        for (i, e) in self.rows.iter().enumerate().skip(offset).take(h) {
            let left = if e.revoked_at.is_some() {
                "✗ revoked".to_string()
            } else if e.expires_at <= now {
                "✗ expired".to_string()
            } else {
                format!("{}d", crate::clock::days_until(now, e.expires_at))
            };
            let obj: String = text(&e.object_id).chars().take(16).collect();
            let s = format!(
                "{}{:>4}  {:<10} {:<18} {:<16} {:<10} {}",
                if i == self.selected { "> " } else { "  " },
                e.id,
                left,
                text(&e.rule),
                obj,
                text(&e.granted_by),
                text(e.request_ref.as_deref().unwrap_or("-"))
            );
            let s: String = s.chars().take(w).collect();
            let style = if i == self.selected {
                st("ui.selection")
            } else if e.is_active(now) {
                st("ui.text")
            } else {
                st("ui.text.dim")
            };
            lines.push(Line::from(Span::styled(s, style)));
        }
        f.render_widget(Paragraph::new(lines), area);
    }
}
