//! `:jobs` — renewals at a glance: each authority's circuit and budget, failures with
//! their diagnosis and next attempt, identities held until a reviewer approves their
//! issuance (`⧗ awaiting approval`, with the request to open or approve — not a
//! failure), running jobs with the step they are on, and what is
//! due soon or blocked. `r` renews the selected identity through `ops`, after a
//! confirmation naming the identity and the authority, in the background
//! (`tui::renewal`), as `r` does in the inventory and the detail.

use super::{Flow, View, ViewSpec};
use crate::lifecycle::planner::Decision;
use crate::lifecycle::JobState;
use crate::ops::lifecycle as lc;
use crate::tui::action::Action;
use crate::tui::app::Shared;
use crate::tui::keymap::Binding;
use crate::tui::renewal;
use crate::tui::widgets::text;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

pub const SPECS: &[ViewSpec] = &[ViewSpec {
    name: "jobs",
    aliases: &[],
    about: "renewals: due soon, running, failed (with diagnosis), circuits and budgets",
    open: JobsView::open,
}];

const BINDINGS: &[Binding] = &[renewal::BINDING];

/// One selectable line: an identity and what is happening to it.
struct Row {
    identity: String,
    authority: String,
    /// Symbol + word, never colour alone.
    state: String,
    detail: String,
    failed: bool,
    /// Held until a reviewer approves its issuance request (not a failure).
    awaiting: bool,
}

/// What the STATE column is wide enough for: "⧗ awaiting approval".
const STATE_WIDTH: usize = 19;

pub struct JobsView {
    authorities: Vec<String>,
    rows: Vec<Row>,
    selected: usize,
    /// Whether `r` is offered (not read-only, and the actor may renew).
    may_renew: bool,
    error: Option<String>,
}

impl JobsView {
    pub fn open(sh: &mut Shared) -> Box<dyn View> {
        let mut v = JobsView {
            authorities: Vec::new(),
            rows: Vec::new(),
            selected: 0,
            may_renew: false,
            error: None,
        };
        v.refresh(sh);
        Box::new(v)
    }

    fn load(&mut self, sh: &Shared) -> Result<(), String> {
        let read = sh.ctx.store.read();
        let now = sh.now();
        let e = |e: &dyn std::fmt::Display| e.to_string();
        let auths = read.authorities().map_err(|x| e(&x))?;
        let names: std::collections::HashMap<i64, String> =
            auths.iter().map(|a| (a.id, a.name.clone())).collect();
        let states = lc::authority_states(read, now).map_err(|x| e(&x))?;
        let health = read.authority_healths().map_err(|x| e(&x))?;
        self.authorities = auths
            .iter()
            .map(|a| {
                let h = health.iter().find(|h| h.authority_id == a.id);
                let circuit = match h.map(|h| h.state.as_str()) {
                    Some("open") => "✗ circuit OPEN",
                    _ => "✓ circuit closed",
                };
                let fails = h.map(|h| h.consecutive_failures).unwrap_or(0);
                let budget = states
                    .get(&a.id)
                    .map(|s| format!("orders {}/{} per 3h", s.recent_orders, crate::lifecycle::planner::limit_text(s.limits.orders_per_3h)))
                    .unwrap_or_default();
                format!("{:<14} {:<6} {circuit:<17} failures {fails:<3} {budget}", text(&a.name), a.kind.as_str())
            })
            .collect();
        let mut rows = Vec::new();
        for j in read.jobs(false, true, 500).map_err(|x| e(&x))? {
            let awaiting = j.awaiting_approval();
            let (state, detail, failed) = match j.state {
                _ if awaiting => (
                    format!("{} awaiting approval", if sh.unicode { "⧗" } else { "=" }),
                    j.message
                        .as_deref()
                        .map(|m| m.trim_start_matches("awaiting issuance approval: "))
                        .unwrap_or("awaiting issuance approval")
                        .to_string(),
                    false,
                ),
                JobState::Failed => (
                    format!("✗ failed@{}", j.failed_step.map(|s| s.as_str()).unwrap_or("?")),
                    format!(
                        "{} — next {}",
                        j.diagnosis.map(|d| d.as_str()).unwrap_or("?"),
                        j.next_attempt_at.map(crate::clock::rfc3339).unwrap_or_else(|| "-".into())
                    ),
                    true,
                ),
                s => (
                    format!("▶ {} {}/7", s, s.step_number().unwrap_or(0)),
                    format!("job {} since {}", j.id, crate::clock::rfc3339(j.updated_at)),
                    false,
                ),
            };
            rows.push(Row { identity: j.identity, authority: j.authority, state, detail, failed, awaiting });
        }
        let plan = lc::plan_renewals(&sh.ctx, false).map_err(|x| e(&x))?;
        for p in plan {
            if rows.iter().any(|r| r.identity == p.name) {
                continue;
            }
            let ident = read.identity_by_name(&p.name).ok().flatten();
            let authority = ident.and_then(|i| i.authority).unwrap_or_default();
            let (state, detail) = match &p.decision {
                Decision::Renew { reason, authority_id, fallback } => (
                    "● due now".to_string(),
                    format!(
                        "{reason}{}",
                        if *fallback {
                            format!(" via fallback {}", names.get(authority_id).map(String::as_str).unwrap_or("?"))
                        } else {
                            String::new()
                        }
                    ),
                ),
                Decision::Blocked { reason } => ("‼ blocked".to_string(), reason.clone()),
                Decision::Wait { at, reason } if *at <= now + time::Duration::days(14) => {
                    (format!("▲ {}d", crate::clock::days_until(now, *at)), format!("{reason} until {}", crate::clock::rfc3339(*at)))
                }
                Decision::Wait { .. } => continue,
            };
            rows.push(Row { identity: p.name, authority, state, detail, failed: false, awaiting: false });
        }
        self.rows = rows;
        self.selected = self.selected.min(self.rows.len().saturating_sub(1));
        Ok(())
    }
}

impl View for JobsView {
    fn name(&self) -> &'static str {
        "jobs"
    }

    fn title(&self, _sh: &Shared) -> String {
        let failed = self.rows.iter().filter(|r| r.failed).count();
        let awaiting = self.rows.iter().filter(|r| r.awaiting).count();
        if awaiting == 0 {
            format!("Renewals & jobs ({} listed, {failed} failed)", self.rows.len())
        } else {
            format!(
                "Renewals & jobs ({} listed, {failed} failed, {awaiting} awaiting approval)",
                self.rows.len()
            )
        }
    }

    fn bindings(&self) -> &'static [Binding] {
        if self.rows.is_empty() || !self.may_renew {
            &[]
        } else {
            BINDINGS
        }
    }

    fn refresh(&mut self, sh: &mut Shared) {
        self.error = self.load(sh).err();
        self.may_renew = renewal::may_renew(sh);
    }

    fn on_action(&mut self, a: &Action, sh: &mut Shared) -> Flow {
        let last = self.rows.len().saturating_sub(1);
        match a {
            Action::Up => self.selected = self.selected.saturating_sub(1),
            Action::Down => self.selected = (self.selected + 1).min(last),
            Action::Top => self.selected = 0,
            Action::Bottom => self.selected = last,
            Action::View("renew") => {
                let Some(r) = self.rows.get(self.selected) else {
                    return Flow::Handled;
                };
                return renewal::ask(sh, &r.identity);
            }
            _ => return Flow::Ignored,
        }
        Flow::Handled
    }

    fn render(&mut self, f: &mut Frame, area: Rect, sh: &Shared) {
        let st = |s: &str| sh.theme.style(s);
        if let Some(e) = &self.error {
            f.render_widget(Paragraph::new(Span::styled(text(e).into_owned(), st("ui.error"))), area);
            return;
        }
        let w = area.width as usize;
        let cut = |s: String| -> String { s.chars().take(w).collect() };
        let mut lines = vec![Line::from(Span::styled("AUTHORITIES", st("ui.header")))];
        for a in &self.authorities {
            lines.push(Line::from(Span::styled(cut(format!("  {a}")), st("ui.text"))));
        }
        lines.push(Line::from(Span::styled(
            cut(format!("  {:<20} {:<12} {:<STATE_WIDTH$} {}", "IDENTITY", "AUTHORITY", "STATE", "DETAIL")),
            st("ui.header"),
        )));
        if self.rows.is_empty() {
            lines.push(Line::from(Span::styled("  nothing due, running or failing", st("ui.text.dim"))));
        }
        let used = lines.len();
        let h = (area.height as usize).saturating_sub(used);
        let offset = self.selected.saturating_sub(h.saturating_sub(1));
        for (i, r) in self.rows.iter().enumerate().skip(offset).take(h) {
            // A renewal this console started and is still waiting on.
            let state = if sh.renewing.contains(&r.identity) {
                if sh.unicode { "⟳ renewing here" } else { "~ renewing here" }
            } else {
                r.state.as_str()
            };
            let s = format!(
                "{}{:<20} {:<12} {:<STATE_WIDTH$} {}",
                if i == self.selected { "> " } else { "  " },
                text(&r.identity),
                text(&r.authority),
                state,
                text(&r.detail)
            );
            let style = if i == self.selected {
                st("ui.selection")
            } else if r.failed {
                st("ui.error")
            } else if r.awaiting {
                st("ui.value.strong")
            } else {
                st("ui.text")
            };
            lines.push(Line::from(Span::styled(cut(s), style)));
        }
        f.render_widget(Paragraph::new(lines), area);
    }
}
