//! `:jobs` — renewals at a glance: each authority's circuit and budget, failures with
//! their diagnosis and next attempt, identities held until a reviewer approves their
//! issuance (`⧗ awaiting approval`, with the request to open or approve — not a
//! failure), running jobs with the step they are on, the jobs
//! that finished in the last day (so a renewal the operator started does not vanish the
//! moment it succeeds), and what is due soon or blocked. `r` renews the selected identity
//! through `ops`, after a confirmation naming the identity and the authority, in the
//! background (`tui::renewal`), as `r` does in the inventory and the detail. `c` cancels
//! the selected open job (`ops::lifecycle::cancel_job`) once a reason is typed in its
//! popup, which names the job, where it stands and what cancelling does.
//!
//! Two halves refresh at different rates. The job rows (open and recently finished) are
//! two indexed, bounded queries, re-read on every refresh, including the one-second
//! progress wake-ups while a console-started renewal runs. The plan (the planner over
//! every identity, ≈ 40 ms at 100k) and the authorities' budgets are kept from the last
//! full load and recomputed only when the view opens, on `Ctrl-r`, when a renewal
//! finishes (the app refreshes then), or when they are a minute old by the clock. A
//! cached plan was chosen over a background task: a minute-old "due" list is as useful
//! as a fresh one, and the view stays one synchronous read with no answer to wait for.

use super::{Flow, View, ViewSpec};
use crate::lifecycle::planner::Decision;
use crate::lifecycle::JobState;
use crate::ops::lifecycle as lc;
use crate::store::FinishedJob;
use crate::tui::action::Action;
use crate::tui::app::Shared;
use crate::tui::keymap::Binding;
use crate::tui::renewal;
use crate::tui::widgets::{fit, text};
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui_textarea::TextArea;
use ratatui::Frame;
use std::collections::HashSet;
use time::{Duration, OffsetDateTime};

pub const SPECS: &[ViewSpec] = &[ViewSpec {
    name: "jobs",
    aliases: &[],
    about: "renewals: due soon, running, failed, finished in 24h, circuits and budgets",
    open: JobsView::open,
}];

/// Cancelling needs what renewing needs (RACI `renewal_response`), so it is offered
/// with `r`; dangerous, so `--readonly` removes it.
const CANCEL: Binding = Binding::new(
    Action::View("cancel-job"),
    &["c"],
    "cancel the selected open job (reason required)",
)
.hinted()
.dangerous();

const BINDINGS: &[Binding] = &[renewal::BINDING];
const BINDINGS_WITH_CANCEL: &[Binding] = &[renewal::BINDING, CANCEL];

/// How old the plan may grow before a refresh recomputes it.
pub const PLAN_MAX_AGE: Duration = Duration::minutes(1);
/// Finished jobs are listed for this long after they end...
pub const FINISHED_WINDOW: Duration = Duration::hours(24);
/// ... and at most this many (the audit log keeps them all).
pub const FINISHED_SHOWN: i64 = 20;

/// How a row is drawn besides its symbol and word.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Open,
    Failed,
    /// Held until a reviewer approves its issuance request (not a failure).
    Awaiting,
    Finished,
    Planned,
}

/// One selectable line: an identity and what is happening to it.
struct Row {
    identity: String,
    authority: String,
    /// Symbol + word, never colour alone.
    state: String,
    detail: String,
    /// A fuller detail for when the line has room for it.
    wide: Option<String>,
    kind: Kind,
    /// The job the line is about (none for the plan's lines).
    job: Option<i64>,
}

/// The reason being typed for cancelling a job.
struct CancelJob {
    job: i64,
    identity: String,
    /// Where the job stands, as its line says.
    state: String,
    actor: String,
    input: TextArea<'static>,
    error: Option<String>,
}

/// What the last full load computed: each authority's line and the plan's rows.
struct Plan {
    authorities: Vec<String>,
    rows: Vec<Row>,
    /// The clock's time when it was computed (shown, and aged by [`PLAN_MAX_AGE`]).
    at: OffsetDateTime,
}

pub struct JobsView {
    plan: Plan,
    open: Vec<Row>,
    finished: Vec<Row>,
    /// What is listed, in order: open jobs, finished jobs, then the plan's rows for
    /// identities without an open job.
    list: Vec<(Kind, usize)>,
    selected: usize,
    /// Whether `r` is offered (not read-only, and the actor may renew).
    may_renew: bool,
    /// The cancellation popup, while a reason is typed.
    cancel: Option<CancelJob>,
    error: Option<String>,
}

/// "3 min ago", the way an operator reads how long ago a job ended.
fn ago(now: OffsetDateTime, t: OffsetDateTime) -> String {
    let s = (now - t).whole_seconds().max(0);
    match s {
        0..60 => "<1m ago".into(),
        60..3600 => format!("{}m ago", s / 60),
        _ => format!("{}h ago", s / 3600),
    }
}

/// "in 57m", "in 5h", "in 2d", or "now" once `t` has passed.
fn until(now: OffsetDateTime, t: OffsetDateTime) -> String {
    let s = (t - now).whole_seconds();
    match s {
        ..=0 => "now".into(),
        1..3600 => format!("in {}m", (s + 59) / 60),
        3600..172_800 => format!("in {}h", s / 3600),
        _ => format!("in {}d", s / 86_400),
    }
}

/// "HH:MM:SSZ" of `t` (the view's times are all today's).
fn clock_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!("{:02}:{:02}:{:02}Z", t.hour(), t.minute(), t.second())
}

fn finished_row(f: FinishedJob, now: OffsetDateTime, unicode: bool) -> Row {
    let j = f.job;
    let when = ago(now, f.finished_at);
    let (state, detail, wide) = match j.state {
        JobState::Verified => {
            let fp: String = f.fingerprint.as_deref().unwrap_or("?").chars().take(8).collect();
            let mut fp_long: String = f.fingerprint.as_deref().unwrap_or("?").chars().take(16).collect();
            fp_long.push_str(if unicode { "…" } else { "..." });
            let (short, long) = match f.served_by {
                Some(n) if n > 0 => (
                    format!("cert {fp} served by {n}/{}", f.targets),
                    format!("new certificate {fp_long}, served by {n}/{} targets", f.targets),
                ),
                _ => (
                    format!("cert {fp}, not checked"),
                    format!("new certificate {fp_long}, deployed; no target has a verify address"),
                ),
            };
            let failures = match j.attempts {
                0 => String::new(),
                1 => ", after 1 failed attempt".into(),
                n => format!(", after {n} failed attempts"),
            };
            (
                format!("{} verified {when}", if unicode { "✓" } else { "+" }),
                short,
                Some(format!("{long}{failures}")),
            )
        }
        _ => {
            let reason = j.message.clone().unwrap_or_else(|| "no reason recorded".into());
            (
                format!("{} cancelled {when}", if unicode { "⊘" } else { "/" }),
                reason.clone(),
                Some(format!("job {}: {reason}", j.id)),
            )
        }
    };
    Row { identity: j.identity, authority: j.authority, state, detail, wide, kind: Kind::Finished, job: Some(j.id) }
}

impl JobsView {
    pub fn open(sh: &mut Shared) -> Box<dyn View> {
        let mut v = JobsView {
            plan: Plan { authorities: Vec::new(), rows: Vec::new(), at: sh.now() },
            open: Vec::new(),
            finished: Vec::new(),
            list: Vec::new(),
            selected: 0,
            may_renew: false,
            cancel: None,
            error: None,
        };
        v.refresh(sh);
        Box::new(v)
    }

    /// Re-reads the job rows, and the plan too when `replan` or when it is
    /// [`PLAN_MAX_AGE`] old by the clock.
    fn reload(&mut self, sh: &Shared, replan: bool) {
        // The selection stays on its identity when the rows move under it (its renewal
        // ended: the cursor lands on the verified line).
        let was = self.selected_row().map(|r| (r.identity.clone(), r.kind));
        let stale = sh.now() - self.plan.at >= PLAN_MAX_AGE;
        let r = if replan || stale || self.error.is_some() {
            self.load_plan(sh).and_then(|()| self.load_jobs(sh))
        } else {
            self.load_jobs(sh)
        };
        if r.is_err() {
            self.list.clear();
        }
        self.error = r.err();
        let find = |same: &dyn Fn(&Row) -> bool| self.list.iter().position(|k| same(self.row(*k)));
        self.selected = was
            .and_then(|(who, kind)| {
                find(&|r| r.identity == who && r.kind == kind).or_else(|| find(&|r| r.identity == who))
            })
            .unwrap_or(self.selected)
            .min(self.list.len().saturating_sub(1));
    }

    /// The open jobs and those finished within [`FINISHED_WINDOW`]: cheap, bounded reads.
    fn load_jobs(&mut self, sh: &Shared) -> Result<(), String> {
        let read = sh.ctx.store.read();
        let now = sh.now();
        let e = |e: &dyn std::fmt::Display| e.to_string();
        self.open = read
            .jobs(false, true, 500)
            .map_err(|x| e(&x))?
            .into_iter()
            .map(|j| match j.state {
                _ if j.awaiting_approval() => Row {
                    state: format!("{} awaiting approval", if sh.unicode { "⧗" } else { "=" }),
                    detail: j
                        .message
                        .as_deref()
                        .map(|m| m.trim_start_matches("awaiting issuance approval: "))
                        .unwrap_or("awaiting issuance approval")
                        .to_string(),
                    wide: None,
                    kind: Kind::Awaiting,
                    job: Some(j.id),
                    identity: j.identity,
                    authority: j.authority,
                },
                JobState::Failed => Row {
                    state: format!("✗ failed@{}", j.failed_step.map(|s| s.as_str()).unwrap_or("?")),
                    detail: format!(
                        "{} — next {}",
                        j.diagnosis.map(|d| d.as_str()).unwrap_or("?"),
                        j.next_attempt_at.map(|t| until(now, t)).unwrap_or_else(|| "-".into())
                    ),
                    wide: Some(format!(
                        "{} — next attempt {}, after {} failed",
                        j.diagnosis.map(|d| d.as_str()).unwrap_or("?"),
                        j.next_attempt_at.map(crate::clock::rfc3339).unwrap_or_else(|| "-".into()),
                        j.attempts
                    )),
                    kind: Kind::Failed,
                    job: Some(j.id),
                    identity: j.identity,
                    authority: j.authority,
                },
                s => Row {
                    state: format!("▶ {} {}/7", s, s.step_number().unwrap_or(0)),
                    detail: format!("job {} since {}", j.id, crate::clock::rfc3339(j.updated_at)),
                    wide: None,
                    kind: Kind::Open,
                    job: Some(j.id),
                    identity: j.identity,
                    authority: j.authority,
                },
            })
            .collect();
        self.finished = read
            .jobs_finished_since(now - FINISHED_WINDOW, FINISHED_SHOWN)
            .map_err(|x| e(&x))?
            .into_iter()
            .map(|f| finished_row(f, now, sh.unicode))
            .collect();
        let busy: HashSet<&str> = self.open.iter().map(|r| r.identity.as_str()).collect();
        self.list = (0..self.open.len())
            .map(|i| (Kind::Open, i))
            .chain((0..self.finished.len()).map(|i| (Kind::Finished, i)))
            .chain(
                self.plan
                    .rows
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| !busy.contains(r.identity.as_str()))
                    .map(|(i, _)| (Kind::Planned, i)),
            )
            .collect();
        Ok(())
    }

    /// Each authority's circuit and budget, and the planner's decisions within 14 days.
    fn load_plan(&mut self, sh: &Shared) -> Result<(), String> {
        let read = sh.ctx.store.read();
        let now = sh.now();
        let e = |e: &dyn std::fmt::Display| e.to_string();
        let auths = read.authorities().map_err(|x| e(&x))?;
        let names: std::collections::HashMap<i64, String> =
            auths.iter().map(|a| (a.id, a.name.clone())).collect();
        let states = lc::authority_states(read, now).map_err(|x| e(&x))?;
        let health = read.authority_healths().map_err(|x| e(&x))?;
        let authorities = auths
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
        for p in lc::plan_renewals(&sh.ctx, false).map_err(|x| e(&x))? {
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
                Decision::Wait { at, reason } if *at <= now + Duration::days(14) => {
                    (format!("▲ {}d", crate::clock::days_until(now, *at)), format!("{reason} until {}", crate::clock::rfc3339(*at)))
                }
                Decision::Wait { .. } => continue,
            };
            rows.push((p.identity_id, Row { identity: p.name, authority: String::new(), state, detail, wide: None, kind: Kind::Planned, job: None }));
        }
        // Only the rows listed (most identities wait beyond the horizon), in one query.
        let ids: Vec<i64> = rows.iter().map(|(id, _)| *id).collect();
        let mut by_id = read.identity_authority_names(&ids).map_err(|x| e(&x))?;
        let rows = rows
            .into_iter()
            .map(|(id, mut r)| {
                r.authority = by_id.remove(&id).unwrap_or_default();
                r
            })
            .collect();
        self.plan = Plan { authorities, rows, at: now };
        Ok(())
    }

    fn row(&self, (kind, i): (Kind, usize)) -> &Row {
        match kind {
            Kind::Open | Kind::Failed | Kind::Awaiting => &self.open[i],
            Kind::Finished => &self.finished[i],
            Kind::Planned => &self.plan.rows[i],
        }
    }

    fn selected_row(&self) -> Option<&Row> {
        self.list.get(self.selected).map(|k| self.row(*k))
    }
}

impl View for JobsView {
    fn name(&self) -> &'static str {
        "jobs"
    }

    fn title(&self, _sh: &Shared) -> String {
        let failed = self.open.iter().filter(|r| r.kind == Kind::Failed).count();
        let awaiting = match self.open.iter().filter(|r| r.kind == Kind::Awaiting).count() {
            0 => String::new(),
            n => format!(", {n} awaiting approval"),
        };
        let finished = match self.finished.len() {
            0 => String::new(),
            n => format!(", {n} finished in 24h"),
        };
        format!("Renewals & jobs ({} listed, {failed} failed{awaiting}{finished})", self.list.len())
    }

    fn bindings(&self) -> &'static [Binding] {
        if self.list.is_empty() || !self.may_renew {
            &[]
        } else if self.open.is_empty() {
            BINDINGS
        } else {
            BINDINGS_WITH_CANCEL
        }
    }

    /// Opening, `Ctrl-r`, and the end of a renewal: everything, plan included.
    fn refresh(&mut self, sh: &mut Shared) {
        self.reload(sh, true);
        self.may_renew = renewal::may_renew(sh);
    }

    /// The clock's tick: the job rows, and the plan once it is a minute old.
    fn on_tick(&mut self, sh: &mut Shared) {
        self.reload(sh, false);
    }

    /// A renewal this console started is still running: show the step it reached.
    fn on_progress(&mut self, sh: &mut Shared) {
        self.reload(sh, false);
    }

    fn on_action(&mut self, a: &Action, sh: &mut Shared) -> Flow {
        let last = self.list.len().saturating_sub(1);
        match a {
            Action::Up => self.selected = self.selected.saturating_sub(1),
            Action::Down => self.selected = (self.selected + 1).min(last),
            Action::Top => self.selected = 0,
            Action::Bottom => self.selected = last,
            Action::View("renew") => {
                let Some(r) = self.selected_row() else {
                    return Flow::Handled;
                };
                return renewal::ask(sh, &r.identity);
            }
            Action::View("cancel-job") => return self.ask_cancel(sh),
            _ => return Flow::Ignored,
        }
        Flow::Handled
    }

    fn capture_key(&mut self, k: &KeyEvent, sh: &mut Shared) -> Option<Flow> {
        let mut c = self.cancel.take()?;
        match k.code {
            KeyCode::Esc => Some(Flow::Message(format!("job {} kept: not cancelled", c.job))),
            KeyCode::Enter => {
                let reason = c.input.lines().join(" ").trim().to_string();
                if reason.is_empty() {
                    c.error = Some("a reason is required".into());
                    self.cancel = Some(c);
                    return Some(Flow::Handled);
                }
                let actor = crate::access::acting_as(sh.ctx.store.read(), &sh.actor);
                let flow = match lc::cancel_job(&mut sh.ctx, &actor, &lc::JobSelector::Id(c.job), &reason) {
                    Ok(out) => Flow::Message(format!(
                        "job {} ({}) cancelled (was {}): {}",
                        out.job.id,
                        text(&out.job.identity),
                        out.was,
                        text(&reason)
                    )),
                    Err(e) => Flow::Error(format!("job {} not cancelled: {}", c.job, text(&e.to_string()))),
                };
                self.reload(sh, true);
                Some(flow)
            }
            _ => {
                c.input.input(*k);
                c.error = None;
                self.cancel = Some(c);
                Some(Flow::Handled)
            }
        }
    }

    fn render(&mut self, f: &mut Frame, area: Rect, sh: &Shared) {
        let st = |s: &str| sh.theme.style(s);
        if let Some(e) = &self.error {
            f.render_widget(Paragraph::new(Span::styled(text(e).into_owned(), st("ui.error"))), area);
            return;
        }
        let w = area.width as usize;
        let cut = |s: String| -> String { fit(&s, w, sh.unicode) };
        let mut lines = vec![Line::from(Span::styled(
            cut(format!("AUTHORITIES   budgets and plan as of {} (Ctrl-r: now)", clock_time(self.plan.at))),
            st("ui.header"),
        ))];
        for a in &self.plan.authorities {
            lines.push(Line::from(Span::styled(cut(format!("  {a}")), st("ui.text"))));
        }
        // Narrow screens give the detail the room; wide ones show every column in full.
        // STATE fits "⧗ awaiting approval".
        let (iw, aw, sw) = if w >= 100 { (24, 14, 19) } else { (16, 10, 19) };
        let dw = w.saturating_sub(2 + iw + aw + sw + 3);
        lines.push(Line::from(Span::styled(
            cut(format!("  {:<iw$} {:<aw$} {:<sw$} {}", "IDENTITY", "AUTHORITY", "STATE", "DETAIL")),
            st("ui.header"),
        )));
        if self.list.is_empty() {
            lines.push(Line::from(Span::styled("  nothing due, running, failing or finished today", st("ui.text.dim"))));
        }
        // Section rules sit between the rows and scroll with them.
        let section = |k: Kind| match k {
            Kind::Failed | Kind::Awaiting => Kind::Open,
            k => k,
        };
        let mut items: Vec<Result<usize, Kind>> = Vec::with_capacity(self.list.len() + 2);
        let mut prev = Kind::Open;
        for (n, (k, _)) in self.list.iter().enumerate() {
            if section(*k) != prev {
                items.push(Err(section(*k)));
                prev = section(*k);
            }
            items.push(Ok(n));
        }
        let used = lines.len();
        let h = (area.height as usize).saturating_sub(used);
        let at = items.iter().position(|x| *x == Ok(self.selected)).unwrap_or(0);
        let offset = at.saturating_sub(h.saturating_sub(1));
        for item in items.iter().skip(offset).take(h) {
            let n = match *item {
                Ok(n) => n,
                Err(k) => {
                    let title = match k {
                        Kind::Finished => format!(
                            "finished in the last {}h, most recent first",
                            FINISHED_WINDOW.whole_hours()
                        ),
                        _ => format!("planned {}: due within 14 days or blocked", clock_time(self.plan.at)),
                    };
                    lines.push(Line::from(Span::styled(cut(format!("  ── {title}")), st("ui.text.dim"))));
                    continue;
                }
            };
            let r = self.row(self.list[n]);
            // A renewal this console started and is still waiting on.
            let state = if sh.renewing.contains(&r.identity) {
                if sh.unicode { "⟳ renewing here" } else { "~ renewing here" }
            } else {
                r.state.as_str()
            };
            let detail = match &r.wide {
                Some(wide) if wide.chars().count() <= dw => wide.as_str(),
                _ => r.detail.as_str(),
            };
            let s = format!(
                "{}{:<iw$} {:<aw$} {:<sw$} {}",
                if n == self.selected { "> " } else { "  " },
                fit(&text(&r.identity), iw, sh.unicode),
                fit(&text(&r.authority), aw, sh.unicode),
                state,
                text(detail)
            );
            let style = if n == self.selected {
                st("ui.selection")
            } else if r.kind == Kind::Failed {
                st("ui.error")
            } else if r.kind == Kind::Awaiting {
                st("ui.value.strong")
            } else if r.kind == Kind::Finished {
                st("ui.text.dim")
            } else {
                st("ui.text")
            };
            lines.push(Line::from(Span::styled(cut(s), style)));
        }
        f.render_widget(Paragraph::new(lines), area);
        if let Some(c) = &self.cancel {
            render_cancel(f, area, sh, c);
        }
    }
}

impl JobsView {
    /// `c`: the popup that takes the reason for cancelling the selected open job.
    fn ask_cancel(&mut self, sh: &Shared) -> Flow {
        if sh.readonly {
            return Flow::Error("read-only: jobs cannot be cancelled".into());
        }
        let Some(r) = self.selected_row() else {
            return Flow::Handled;
        };
        let (Some(job), Kind::Open | Kind::Failed | Kind::Awaiting) = (r.job, r.kind) else {
            return Flow::Error(format!(
                "{}: this line is not an open job; select a running, failed or held one to cancel",
                text(&r.identity)
            ));
        };
        let mut input = TextArea::default();
        input.set_cursor_line_style(ratatui::style::Style::default());
        self.cancel = Some(CancelJob {
            job,
            identity: r.identity.clone(),
            state: r.state.clone(),
            actor: crate::access::acting_as(sh.ctx.store.read(), &sh.actor).name,
            input,
            error: None,
        });
        Flow::Handled
    }
}

/// The cancellation popup: the job, where it stands, what cancelling does, the reason.
fn render_cancel(f: &mut Frame, area: Rect, sh: &Shared, c: &CancelJob) {
    let st = |s: &str| sh.theme.style(s);
    let h = 8.min(area.height);
    let w = area.width.saturating_sub(4).min(76);
    let popup = crate::tui::widgets::centered(area, w, h);
    f.render_widget(Clear, popup);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(st("ui.border.focused"))
        .title(Span::styled(
            format!(" Cancel job {} of {}: reason (required) ", c.job, text(&c.identity)),
            st("ui.title"),
        ));
    let inner = block.inner(popup);
    f.render_widget(block, popup);
    let [about, input, help] =
        Layout::vertical([Constraint::Length(2), Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    let iw = inner.width as usize;
    let about_lines = vec![
        Line::from(Span::styled(
            fit(&format!("Now {}. Cancelled, it never resumes; audited as {}.", c.state, text(&c.actor)), iw, sh.unicode),
            st("ui.text"),
        )),
        Line::from(Span::styled(
            fit(&format!("{}'s current certificate is untouched; a later renewal opens a new job.", text(&c.identity)), iw, sh.unicode),
            st("ui.text"),
        )),
    ];
    f.render_widget(Paragraph::new(about_lines), about);
    f.render_widget(&c.input, input);
    let msg = match &c.error {
        Some(e) => Span::styled(e.clone(), st("ui.error")),
        None => Span::styled("Enter cancels the job · Esc keeps it", st("ui.hint")),
    };
    f.render_widget(Paragraph::new(msg), help);
}
