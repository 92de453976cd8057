//! The first screen: how the estate stands right now. Counts, a 13-week expiry timeline,
//! who and which CAs have the most certificates expiring in the next 30 days, and the
//! latest audit events. The figures come from aggregate queries (`store::console`) run
//! as a background task, so they draw before the full inventory has loaded and a
//! refresh (the clock's tick, `Ctrl-r`) never holds up a key; the non-compliance
//! figures are counted once per inventory load, not per frame.

use super::{Flow, View, ViewSpec};
use crate::model::{AuditRecord, ExpiryBand};
use crate::policy::compliance::Noncompliance;
use crate::store::{AuditQuery, Dashboard};
use crate::tui::app::{Task, TaskResult};
use crate::tui::action::Action;
use crate::tui::app::Shared;
use crate::tui::widgets::{band_scope, fit, text};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, BarGroup, Block, Borders, Paragraph};
use ratatui::Frame;

pub const SPECS: &[ViewSpec] = &[ViewSpec {
    name: "dash",
    aliases: &["dashboard", "home"],
    about: "estate at a glance: counts, expiry timeline, top owners and CAs",
    open: DashboardView::open,
}];

pub const WEEKS: usize = 13;
pub const SOON_DAYS: i64 = 30;

/// What the dashboard shows from the store, loaded off the input path.
#[derive(Debug, Clone)]
pub struct Figures {
    pub dashboard: Dashboard,
    pub recent: Vec<AuditRecord>,
}

impl Figures {
    pub fn load(
        read: crate::store::Read<'_>,
        now: time::OffsetDateTime,
    ) -> Result<Figures, crate::store::StoreError> {
        Ok(Figures {
            dashboard: read.dashboard(now, WEEKS, SOON_DAYS, 5)?,
            recent: read.audit_records(&AuditQuery {
                limit: Some(12),
                ..Default::default()
            })?,
        })
    }
}

pub struct DashboardView {
    /// `None` until the first answer arrives; a refresh keeps the last figures on
    /// screen until the new ones come.
    figures: Option<Result<Figures, String>>,
    /// The ticket of the latest request: an older answer is dropped.
    ticket: u64,
    /// Non-compliance over the loaded inventory, counted off the input path when it
    /// loads and again (as a background task) when the clock ticks.
    nc: std::sync::Arc<Noncompliance>,
    nc_ticket: u64,
}

impl DashboardView {
    pub fn open(sh: &mut Shared) -> Box<dyn View> {
        let mut v = DashboardView {
            figures: None,
            ticket: 0,
            nc: Default::default(),
            nc_ticket: 0,
        };
        v.on_inventory(sh);
        v.refresh(sh);
        Box::new(v)
    }
}

impl View for DashboardView {
    fn name(&self) -> &'static str {
        "dash"
    }

    fn title(&self, _sh: &Shared) -> String {
        "Dashboard".into()
    }

    fn refresh(&mut self, sh: &mut Shared) {
        self.ticket = sh.ask(|ticket| Task::Dashboard { ticket });
        // The clock moved: findings may have opened or closed.
        if !sh.inventory.rows.is_empty() {
            let rows = sh.inventory.rows.clone();
            self.nc_ticket = sh.ask(|ticket| Task::Compliance { ticket, rows });
        }
    }

    fn on_inventory(&mut self, sh: &Shared) {
        self.nc = sh.inventory.noncompliance.clone();
        self.nc_ticket = 0;
    }

    fn on_result(&mut self, r: &TaskResult, _sh: &Shared) {
        match r {
            TaskResult::Dashboard { ticket, figures } if *ticket == self.ticket => {
                self.figures = Some(figures.as_deref().cloned().map_err(|e| e.clone()));
            }
            TaskResult::Compliance { ticket, figures } if *ticket == self.nc_ticket => {
                self.nc = figures.clone();
            }
            _ => {}
        }
    }

    fn on_action(&mut self, _a: &Action, _sh: &mut Shared) -> Flow {
        Flow::Ignored
    }

    fn render(&mut self, f: &mut Frame, area: Rect, sh: &Shared) {
        let (d, recent) = match &self.figures {
            Some(Ok(x)) => (&x.dashboard, &x.recent),
            Some(Err(e)) => {
                f.render_widget(
                    Paragraph::new(Span::styled(text(e).into_owned(), sh.theme.style("ui.error"))),
                    area,
                );
                return;
            }
            None => {
                f.render_widget(
                    Paragraph::new(Span::styled(
                        "counting the estate…",
                        sh.theme.style("ui.text.dim"),
                    )),
                    area,
                );
                return;
            }
        };
        let nc = &self.nc;
        let [counts, middle, recent_area] = Layout::vertical([
            Constraint::Length(2),
            Constraint::Min(8),
            Constraint::Length(if area.height > 30 { 12 } else { 5 }),
        ])
        .areas(area);
        render_counts(f, counts, sh, d, nc);
        let [chart, tops] =
            Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)])
                .areas(middle);
        render_chart(f, chart, sh, d);
        render_tops(f, tops, sh, d, nc);
        render_recent(f, recent_area, sh, recent);
    }
}

fn render_counts(f: &mut Frame, area: Rect, sh: &Shared, d: &Dashboard, nc: &Noncompliance) {
    let c = &d.counts;
    let st = |s: &str| sh.theme.style(s);
    let sym = |b: ExpiryBand| b.symbol(sh.unicode);
    let item = |label: &str, n: i64, scope: &str, mark: &str| -> Vec<Span<'static>> {
        vec![
            Span::styled(format!(" {label} "), st("ui.label")),
            Span::styled(
                format!("{n}{}{mark}", if mark.is_empty() { "" } else { " " }),
                if n > 0 { st(scope) } else { st("ui.value.strong") },
            ),
            Span::raw("  "),
        ]
    };
    let mut l1 = item("Certificates", c.total, "ui.value.strong", "");
    l1.extend(item("Expired", c.expired, band_scope(ExpiryBand::Expired), sym(ExpiryBand::Expired)));
    l1.extend(item("≤7 days", c.within_7_days, band_scope(ExpiryBand::Within7Days), sym(ExpiryBand::Within7Days)));
    let mut l2 = item("≤30 days", c.within_30_days, band_scope(ExpiryBand::Within30Days), sym(ExpiryBand::Within30Days));
    l2.extend(item("Unowned", c.unowned, "flag.unowned", ""));
    l2.extend(item("Weak crypto", c.weak, "flag.weak", ""));
    let cross = if sh.unicode { "✗" } else { "X" };
    l2.extend(item("Non-compliant", nc.certificates as i64, "expiry.expired", cross));
    let lines = if area.width >= 110 {
        let mut all = l1;
        all.extend(l2);
        vec![Line::from(all)]
    } else {
        vec![Line::from(l1), Line::from(l2)]
    };
    let lines: Vec<Line> = if sh.unicode {
        lines
    } else {
        lines
            .into_iter()
            .map(|l| {
                Line::from(
                    l.spans
                        .into_iter()
                        .map(|s| Span::styled(s.content.replace('≤', "<="), s.style))
                        .collect::<Vec<_>>(),
                )
            })
            .collect()
    };
    f.render_widget(Paragraph::new(lines), area);
}

fn render_chart(f: &mut Frame, area: Rect, sh: &Shared, d: &Dashboard) {
    let block = Block::default()
        .borders(Borders::TOP)
        .border_style(sh.theme.style("ui.border"))
        .title(Span::styled(" Expiring per week, next 13 weeks ", sh.theme.style("ui.title")));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let n = d.weekly_expiry.len().max(1) as u16;
    let bar_w = (inner.width.saturating_sub(n - 1) / n).clamp(1, 6);
    let now = sh.now();
    let bars: Vec<Bar> = d
        .weekly_expiry
        .iter()
        .enumerate()
        .map(|(i, &count)| {
            let start = (now + time::Duration::weeks(i as i64)).date();
            let label = if bar_w >= 5 {
                format!("{:02}/{:02}", start.month() as u8, start.day())
            } else if bar_w >= 3 {
                format!("w{}", i + 1)
            } else {
                format!("{}", i + 1)
            };
            let scope = if i < 1 { "chart.bar.urgent" } else { "chart.bar" };
            Bar::default()
                .value(count as u64)
                .label(Line::from(fit(&label, bar_w as usize, sh.unicode)))
                .style(sh.theme.style(scope))
                .value_style(sh.theme.style("ui.selection"))
        })
        .collect();
    let chart = BarChart::default()
        .data(BarGroup::default().bars(&bars))
        .bar_width(bar_w)
        .bar_gap(1)
        .bar_set(if sh.unicode {
            ratatui::symbols::bar::NINE_LEVELS
        } else {
            ratatui::symbols::bar::THREE_LEVELS
        });
    f.render_widget(chart, inner);
}

fn render_tops(f: &mut Frame, area: Rect, sh: &Shared, d: &Dashboard, nc: &Noncompliance) {
    let st = |s: &str| sh.theme.style(s);
    let le = if sh.unicode { "≤" } else { "<=" };
    let block = Block::default()
        .borders(Borders::TOP | Borders::LEFT)
        .border_style(st("ui.border"))
        .title(Span::styled(format!(" Expiring {le}{SOON_DAYS}d by "), st("ui.title")));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let w = inner.width as usize;
    let mut lines = vec![Line::from(Span::styled("owner", st("ui.tree.group")))];
    let row = |name: Option<&str>, n: i64, none: &str| -> Line<'static> {
        let count = format!("{n:>5}");
        let label = name.map(|s| text(s).into_owned()).unwrap_or_else(|| none.to_string());
        Line::from(vec![
            Span::styled(
                format!(" {:<width$}", fit(&label, w.saturating_sub(7), sh.unicode), width = w.saturating_sub(7)),
                if name.is_none() { st("flag.unowned") } else { st("ui.text") },
            ),
            Span::styled(count, st("expiry.month")),
        ])
    };
    let per = (inner.height as usize).saturating_sub(2) / 2;
    for n in d.top_owners.iter().take(per.max(1)) {
        lines.push(row(n.name.as_deref(), n.count, "(unowned)"));
    }
    if d.top_owners.is_empty() {
        lines.push(Line::from(Span::styled(" none", st("ui.text.dim"))));
    }
    lines.push(Line::from(Span::styled("CA", st("ui.tree.group"))));
    for n in d.top_authorities.iter().take(per.max(1)) {
        lines.push(row(n.name.as_deref(), n.count, "(unknown)"));
    }
    if d.top_authorities.is_empty() {
        lines.push(Line::from(Span::styled(" none", st("ui.text.dim"))));
    }
    // Non-compliance (open error findings) by rule and by owner, below.
    let room = (inner.height as usize).saturating_sub(lines.len());
    if room >= 3 && nc.certificates > 0 {
        let per = ((room - 2) / 2).max(1);
        lines.push(Line::from(Span::styled(
            format!("non-compliant ({}) by rule", nc.certificates),
            st("ui.tree.group"),
        )));
        for (rule, n) in nc.by_rule.iter().take(per) {
            lines.push(row(Some(rule), *n as i64, ""));
        }
        lines.push(Line::from(Span::styled("by owner", st("ui.tree.group"))));
        for (owner, n) in nc.by_owner.iter().take(per) {
            lines.push(row(owner.as_deref(), *n as i64, "(unowned)"));
        }
    }
    f.render_widget(Paragraph::new(lines), inner);
}

fn render_recent(f: &mut Frame, area: Rect, sh: &Shared, recs: &[AuditRecord]) {
    let st = |s: &str| sh.theme.style(s);
    let block = Block::default()
        .borders(Borders::TOP)
        .border_style(st("ui.border"))
        .title(Span::styled(" Recent audit events (:audit) ", st("ui.title")));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let lines: Vec<Line> = recs
        .iter()
        .take(inner.height as usize)
        .map(|r| audit_line(sh, r, inner.width as usize))
        .collect();
    f.render_widget(Paragraph::new(lines), inner);
}

/// One audit record on one line: time, actor, action, object, outcome.
pub fn audit_line(sh: &Shared, r: &AuditRecord, width: usize) -> Line<'static> {
    let st = |s: &str| sh.theme.style(s);
    let at = r.at;
    let when = format!(
        "{} {:02}:{:02}",
        at.date(),
        at.hour(),
        at.minute()
    );
    let outcome_style: Style = match r.outcome.as_str() {
        "success" => st("ui.text.dim"),
        _ => st("ui.error"),
    };
    let object = format!("{}:{}", r.object_type, short_object(&r.object_id));
    let fixed = when.len() + 1 + 10 + 1 + 18 + 1 + 8;
    let obj_w = width.saturating_sub(fixed);
    Line::from(vec![
        Span::styled(format!("{when} "), st("ui.text.dim")),
        Span::styled(format!("{:<10} ", fit(&text(&r.actor), 10, sh.unicode)), st("ui.text")),
        Span::styled(format!("{:<18} ", fit(&text(&r.action), 18, sh.unicode)), st("ui.value.strong")),
        Span::styled(format!("{:<obj_w$} ", fit(&text(&object), obj_w, sh.unicode)), st("ui.text")),
        Span::styled(r.outcome.clone(), outcome_style),
    ])
}

/// Fingerprints are long; the first 16 hex digits identify a certificate to an operator.
fn short_object(id: &str) -> &str {
    if id.len() == 64 && id.chars().all(|c| c.is_ascii_hexdigit()) {
        &id[..16]
    } else {
        id
    }
}
