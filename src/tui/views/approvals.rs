//! `:approvals` — the queue of requests waiting on me: what is asked (the exact scope)
//! beside what is held today, who asks, why, how long it has waited, and the approvals
//! so far. `a` approves and `d` denies, each with a required comment typed in a text
//! area; the keys are shown only when there is something this operator may review (and
//! never in read-only mode). The decision itself is `ops::workflow`, which checks again.

use super::{Flow, View, ViewSpec};
use crate::access::Role;
use crate::ops::workflow;
use crate::tui::action::Action;
use crate::tui::app::Shared;
use crate::tui::keymap::Binding;
use crate::tui::widgets::text;
use crate::workflow::{Payload, Request, Verdict};
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;
use ratatui_textarea::TextArea;

pub const SPECS: &[ViewSpec] = &[ViewSpec {
    name: "approvals",
    aliases: &[],
    about: "requests waiting on my review",
    open: ApprovalsView::open,
}];

const REQUEST_BINDINGS: &[Binding] = &[
    Binding::new(Action::View("new-delegation"), &["n"], "new delegation request (form)").hinted(),
    Binding::new(Action::View("new-exception"), &["x"], "new exception request (form)").hinted(),
];

const ALL_BINDINGS: &[Binding] = &[
    Binding::new(Action::View("approve"), &["a"], "approve the selected request (comment required)")
        .hinted()
        .dangerous(),
    Binding::new(Action::View("deny"), &["d"], "deny the selected request (comment required)")
        .hinted()
        .dangerous(),
    Binding::new(Action::View("new-delegation"), &["n"], "new delegation request (form)").hinted(),
    Binding::new(Action::View("new-exception"), &["x"], "new exception request (form)").hinted(),
];

const REVIEW_BINDINGS: &[Binding] = &[
    Binding::new(Action::View("approve"), &["a"], "approve the selected request (comment required)")
        .hinted()
        .dangerous(),
    Binding::new(Action::View("deny"), &["d"], "deny the selected request (comment required)")
        .hinted()
        .dangerous(),
];

/// One queue entry, with what the view shows beside it.
struct Entry {
    req: Request,
    current: String,
    consulted: Vec<Role>,
}

/// The comment being typed for a decision.
struct Compose {
    id: i64,
    verdict: Verdict,
    input: TextArea<'static>,
    error: Option<String>,
}

pub struct ApprovalsView {
    entries: Vec<Entry>,
    selected: usize,
    compose: Option<Compose>,
    form: Option<Form>,
    /// Whether this operator may open requests at all (holds some role).
    may_request: bool,
    error: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FormKind {
    Delegation,
    Exception,
}

/// A new-request form: labelled one-line fields, Tab moves, Enter submits.
struct Form {
    kind: FormKind,
    labels: &'static [&'static str],
    fields: Vec<TextArea<'static>>,
    focus: usize,
    error: Option<String>,
}

const DELEGATION_FIELDS: &[&str] = &[
    "user",
    "role",
    "owners",
    "environments",
    "dns suffixes",
    "justification",
];
const EXCEPTION_FIELDS: &[&str] = &[
    "rule",
    "object",
    "days",
    "justification",
];

impl Form {
    fn new(kind: FormKind) -> Form {
        let labels = match kind {
            FormKind::Delegation => DELEGATION_FIELDS,
            FormKind::Exception => EXCEPTION_FIELDS,
        };
        Form {
            kind,
            labels,
            fields: labels
                .iter()
                .map(|_| {
                    let mut t = TextArea::default();
                    t.set_cursor_line_style(ratatui::style::Style::default());
                    t
                })
                .collect(),
            focus: 0,
            error: None,
        }
    }

    fn value(&self, label: &str) -> String {
        self.labels
            .iter()
            .position(|l| *l == label)
            .map(|i| self.fields[i].lines().join(" ").trim().to_string())
            .unwrap_or_default()
    }

    fn list(&self, label: &str) -> Vec<String> {
        self.value(label)
            .split([',', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    }

    /// The request the form describes, or which field is wrong and why.
    fn payload(&self) -> Result<(Payload, String), String> {
        let justification = self.value("justification");
        if justification.is_empty() {
            return Err("justification: required".into());
        }
        let p = match self.kind {
            FormKind::Delegation => {
                let user = self.value("user");
                if user.is_empty() {
                    return Err("user: required".into());
                }
                let role: Role = self.value("role").parse().map_err(|e| format!("role: {e}"))?;
                let environments = self
                    .list("environments")
                    .iter()
                    .map(|e| e.parse::<crate::model::Environment>())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("environments: {e}"))?;
                Payload::Delegation {
                    user,
                    role,
                    scope: crate::access::Scope {
                        owners: self.list("owners"),
                        environments,
                        dns_suffixes: self.list("dns suffixes"),
                    },
                }
            }
            FormKind::Exception => {
                let object = self.value("object");
                let (object_type, object_id) = match object.split_once(':') {
                    Some((t @ ("certificate" | "identity"), id)) if !id.is_empty() => {
                        (t.to_string(), id.to_string())
                    }
                    _ => {
                        return Err(
                            "object: certificate:SHA256 or identity:NAME".into(),
                        )
                    }
                };
                let days: u32 = self
                    .value("days")
                    .parse()
                    .map_err(|_| "days: a whole number of days".to_string())?;
                Payload::Exception {
                    rule: self.value("rule"),
                    object_type,
                    object_id,
                    days,
                }
            }
        };
        Ok((p, justification))
    }
}

impl ApprovalsView {
    pub fn open(sh: &mut Shared) -> Box<dyn View> {
        let mut v = ApprovalsView {
            entries: Vec::new(),
            selected: 0,
            compose: None,
            form: None,
            may_request: false,
            error: None,
        };
        v.refresh(sh);
        Box::new(v)
    }

    fn load(&mut self, sh: &Shared) -> Result<(), String> {
        let read = sh.ctx.store.read();
        self.may_request =
            !sh.readonly && crate::access::authorize_requester(read, &sh.actor).is_ok();
        let reqs = workflow::waiting_on(read, &sh.actor, sh.now()).map_err(|e| e.to_string())?;
        let matrix = read.raci_matrix().map_err(|e| e.to_string())?;
        self.entries = reqs
            .into_iter()
            .map(|req| Entry {
                current: workflow::current_scope(read, &req).unwrap_or_else(|e| e.to_string()),
                consulted: matrix.consulted(req.activity),
                req,
            })
            .collect();
        self.selected = self.selected.min(self.entries.len().saturating_sub(1));
        Ok(())
    }

    fn decide(&mut self, c: &Compose, comment: &str, sh: &mut Shared) -> Result<String, String> {
        let actor = sh.actor.clone();
        let r = match c.verdict {
            Verdict::Approve => workflow::approve(&mut sh.ctx, &actor, c.id, comment),
            Verdict::Deny => workflow::deny(&mut sh.ctx, &actor, c.id, comment),
        }
        .map_err(|e| text(&e.to_string()).into_owned())?;
        Ok(match (c.verdict, r.state) {
            (Verdict::Deny, _) => format!("request {} denied", r.id),
            (_, crate::workflow::State::Approved) => {
                format!("request {} approved and applied", r.id)
            }
            _ => format!(
                "approval recorded: request {} has {}/{}",
                r.id,
                r.approvals().count(),
                r.approvals_required
            ),
        })
    }
}

impl View for ApprovalsView {
    fn name(&self) -> &'static str {
        "approvals"
    }

    fn title(&self, _sh: &Shared) -> String {
        format!("Approvals ({} waiting on me)", self.entries.len())
    }

    fn bindings(&self) -> &'static [Binding] {
        match (self.entries.is_empty(), self.may_request) {
            (true, false) => &[],
            (true, true) => REQUEST_BINDINGS,
            (false, false) => REVIEW_BINDINGS,
            (false, true) => ALL_BINDINGS,
        }
    }

    fn refresh(&mut self, sh: &mut Shared) {
        self.error = self.load(sh).err();
    }

    fn capture_key(&mut self, k: &KeyEvent, sh: &mut Shared) -> Option<Flow> {
        if let Some(mut form) = self.form.take() {
            match k.code {
                KeyCode::Esc => return Some(Flow::Message("request not opened".into())),
                KeyCode::Tab | KeyCode::Down => form.focus = (form.focus + 1) % form.fields.len(),
                KeyCode::BackTab | KeyCode::Up => {
                    form.focus = (form.focus + form.fields.len() - 1) % form.fields.len()
                }
                KeyCode::Enter => {
                    let opened = form.payload().and_then(|(p, why)| {
                        let actor = sh.actor.clone();
                        workflow::open(&mut sh.ctx, &actor, p, &why, None)
                            .map_err(|e| text(&e.to_string()).into_owned())
                    });
                    match opened {
                        Ok(r) => {
                            self.refresh(sh);
                            return Some(Flow::Message(format!(
                                "request {} opened: {}",
                                r.id,
                                text(&r.payload.summary())
                            )));
                        }
                        Err(e) => form.error = Some(e),
                    }
                }
                _ => {
                    form.fields[form.focus].input(*k);
                    form.error = None;
                }
            }
            self.form = Some(form);
            return Some(Flow::Handled);
        }
        let mut c = self.compose.take()?;
        match k.code {
            KeyCode::Esc => Some(Flow::Message("decision cancelled".into())),
            KeyCode::Enter => {
                let comment = c.input.lines().join(" ").trim().to_string();
                if comment.is_empty() {
                    c.error = Some("a comment is required".into());
                    self.compose = Some(c);
                    return Some(Flow::Handled);
                }
                let flow = match self.decide(&c, &comment, sh) {
                    Ok(m) => Flow::Message(m),
                    Err(e) => Flow::Error(e),
                };
                self.refresh(sh);
                Some(flow)
            }
            _ => {
                c.input.input(*k);
                c.error = None;
                self.compose = Some(c);
                Some(Flow::Handled)
            }
        }
    }

    fn on_action(&mut self, a: &Action, sh: &mut Shared) -> Flow {
        if let Action::View(which @ ("new-delegation" | "new-exception")) = a {
            if !self.may_request {
                return Flow::Error("you may not open requests".into());
            }
            self.form = Some(Form::new(if *which == "new-delegation" {
                FormKind::Delegation
            } else {
                FormKind::Exception
            }));
            return Flow::Handled;
        }
        let n = self.entries.len();
        if n == 0 {
            return Flow::Ignored;
        }
        let last = n - 1;
        match a {
            Action::Up => self.selected = self.selected.saturating_sub(1),
            Action::Down => self.selected = (self.selected + 1).min(last),
            Action::Top => self.selected = 0,
            Action::Bottom => self.selected = last,
            Action::View(which @ ("approve" | "deny")) => {
                if sh.readonly {
                    return Flow::Error("read-only: decisions are not possible".into());
                }
                let mut input = TextArea::default();
                input.set_cursor_line_style(ratatui::style::Style::default());
                self.compose = Some(Compose {
                    id: self.entries[self.selected].req.id,
                    verdict: if *which == "approve" {
                        Verdict::Approve
                    } else {
                        Verdict::Deny
                    },
                    input,
                    error: None,
                });
            }
            _ => return Flow::Ignored,
        }
        Flow::Handled
    }

    fn render(&mut self, f: &mut Frame, area: Rect, sh: &Shared) {
        self.render_queue(f, area, sh);
        if let Some(form) = &self.form {
            render_form(f, area, sh, form);
        }
    }
}

impl ApprovalsView {
    fn render_queue(&mut self, f: &mut Frame, area: Rect, sh: &Shared) {
        let st = |s: &str| sh.theme.style(s);
        if let Some(e) = &self.error {
            f.render_widget(Paragraph::new(Span::styled(text(e).into_owned(), st("ui.error"))), area);
            return;
        }
        if self.entries.is_empty() {
            f.render_widget(
                Paragraph::new(Span::styled(
                    "nothing waits on your review",
                    st("ui.text.dim"),
                )),
                area,
            );
            return;
        }
        let now = sh.now();
        let list_h = (self.entries.len() as u16 + 1).min(area.height / 2).max(2);
        let [list, detail] =
            Layout::vertical([Constraint::Length(list_h), Constraint::Min(3)]).areas(area);
        let w = list.width as usize;
        let mut lines = vec![Line::from(Span::styled(
            fit(&format!("{:>4}  {:<11} {:<10} {:>5} {:>5}  {}", "ID", "KIND", "REQUESTER", "AGE", "OK", "ASKS"), w),
            st("ui.header"),
        ))];
        let rows = list.height.saturating_sub(1) as usize;
        let offset = self.selected.saturating_sub(rows.saturating_sub(1));
        for (i, e) in self.entries.iter().enumerate().skip(offset).take(rows) {
            let r = &e.req;
            let marker = if i == self.selected { ">" } else { " " };
            let s = format!(
                "{marker}{:>3}  {:<11} {:<10} {:>5} {:>5}  {}",
                r.id,
                r.kind.as_str(),
                text(&r.requester),
                crate::cli::request::age(now, r.created_at),
                format!("{}/{}", r.approvals().count(), r.approvals_required),
                text(&r.payload.summary())
            );
            let style = if i == self.selected { st("ui.selection") } else { st("ui.text") };
            lines.push(Line::from(Span::styled(fit(&s, w), style)));
        }
        f.render_widget(Paragraph::new(lines), list);

        if let Some(e) = self.entries.get(self.selected) {
            let r = &e.req;
            let field = |k: &str, v: String| {
                Line::from(vec![
                    Span::styled(format!("{k:<13}"), st("ui.label")),
                    Span::styled(v, st("ui.value")),
                ])
            };
            let mut d = vec![field("requested", text(&r.payload.summary()).into_owned())];
            // What exactly would be approved, where the one-line summary abbreviates it.
            for (k, v) in asked(&r.payload) {
                d.push(field(k, text(&v).into_owned()));
            }
            d.extend([
                field("holds now", text(&e.current).into_owned()),
                field("requester", text(&r.requester).into_owned()),
                field("why", text(&r.justification).into_owned()),
            ]);
            if let Some(t) = &r.ticket {
                d.push(field("ticket", text(t).into_owned()));
            }
            d.push(field(
                "approvals",
                format!(
                    "{}/{}{}",
                    r.approvals().count(),
                    r.approvals_required,
                    if r.distinct_roles { " (distinct roles)" } else { "" }
                ),
            ));
            for v in &r.reviews {
                d.push(field(
                    "",
                    format!("✓ {} as {}: {}", text(&v.reviewer), v.role, text(&v.comment)),
                ));
            }
            if !e.consulted.is_empty() {
                let c: Vec<&str> = e.consulted.iter().map(|r| r.as_str()).collect();
                d.push(field("consult", c.join(", ")));
            }
            d.push(field(
                "expires",
                format!(
                    "{} (in {})",
                    crate::clock::rfc3339(r.expires_at),
                    crate::cli::request::age(r.expires_at, now)
                ),
            ));
            let block = Block::default()
                .borders(Borders::TOP)
                .border_style(st("ui.border"))
                .title(Span::styled(format!(" Request {} ", r.id), st("ui.title")));
            f.render_widget(Paragraph::new(d).block(block).wrap(Wrap { trim: false }), detail);
        }

        if let Some(c) = &self.compose {
            let h = 7.min(area.height);
            let w = area.width.saturating_sub(4).min(76);
            let popup = crate::tui::widgets::centered(area, w, h);
            f.render_widget(Clear, popup);
            let verb = match c.verdict {
                Verdict::Approve => "Approve",
                Verdict::Deny => "Deny",
            };
            let block = Block::default()
                .borders(Borders::ALL)
                .border_style(st("ui.border.focused"))
                .title(Span::styled(
                    format!(" {verb} request {}: comment (required) ", c.id),
                    st("ui.title"),
                ));
            let inner = block.inner(popup);
            f.render_widget(block, popup);
            let [input, help] =
                Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
            f.render_widget(&c.input, input);
            let msg = match &c.error {
                Some(e) => Span::styled(e.clone(), st("ui.error")),
                None => Span::styled("Enter submits · Esc cancels", st("ui.hint")),
            };
            f.render_widget(Paragraph::new(msg), help);
        }
    }
}

fn render_form(f: &mut Frame, area: Rect, sh: &Shared, form: &Form) {
    let st = |s: &str| sh.theme.style(s);
    let h = (form.fields.len() as u16 + 4).min(area.height);
    let w = area.width.saturating_sub(4).min(76);
    let popup = crate::tui::widgets::centered(area, w, h);
    f.render_widget(Clear, popup);
    let title = match form.kind {
        FormKind::Delegation => " New delegation request ",
        FormKind::Exception => " New exception request ",
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(st("ui.border.focused"))
        .title(Span::styled(title, st("ui.title")));
    let inner = block.inner(popup);
    f.render_widget(block, popup);
    for (i, label) in form.labels.iter().enumerate() {
        if i as u16 >= inner.height.saturating_sub(2) {
            break;
        }
        let row = Rect { x: inner.x, y: inner.y + i as u16, width: inner.width, height: 1 };
        let [l, v] = Layout::horizontal([Constraint::Length(16), Constraint::Min(1)]).areas(row);
        let marker = if i == form.focus { "▸ " } else { "  " };
        let style = if i == form.focus { st("ui.label").add_modifier(ratatui::style::Modifier::BOLD) } else { st("ui.label") };
        f.render_widget(Paragraph::new(Span::styled(format!("{marker}{label}"), style)), l);
        f.render_widget(&form.fields[i], v);
    }
    let hint_row = Rect { x: inner.x, y: inner.y + inner.height.saturating_sub(1), width: inner.width, height: 1 };
    let msg = match &form.error {
        Some(e) => Span::styled(e.clone(), st("ui.error")),
        None => Span::styled(
            match form.kind {
                FormKind::Delegation => "Tab next · Enter submits · Esc cancels · lists: a,b",
                FormKind::Exception => "object: certificate:SHA256 | identity:NAME · Enter submits",
            },
            st("ui.hint"),
        ),
    };
    f.render_widget(Paragraph::new(msg), hint_row);
}

/// The exact scope of an issuance or revocation request, field by field: a reviewer
/// approves these names under this profile from this authority, or the revocation of
/// this one certificate for this reason.
fn asked(p: &Payload) -> Vec<(&'static str, String)> {
    match p {
        Payload::Issuance {
            sans,
            profile,
            authority,
            approver_role,
            ..
        } => vec![
            ("names", sans.join(", ")),
            (
                "under",
                format!(
                    "profile {} from {}",
                    profile.as_deref().unwrap_or("-"),
                    authority.as_deref().unwrap_or("-")
                ),
            ),
            (
                "approved by",
                approver_role.clone().unwrap_or_else(|| "define-profiles A".into()),
            ),
        ],
        Payload::Revocation {
            certificate,
            reason,
            ..
        } => vec![
            ("certificate", certificate.clone()),
            ("reason", reason.replace('_', " ")),
        ],
        _ => Vec::new(),
    }
}

fn fit(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(w.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}
