//! `:policy` — the policy in force: its version, each profile with how many certificates
//! it covers and how many of those are non-compliant, the assignment rules, and the open
//! error findings by rule. Read-only; profiles change through `certdeck policy load`.

use super::{Flow, View, ViewSpec};
use crate::tui::action::Action;
use crate::tui::app::Shared;
use crate::tui::widgets::text;
use crate::tui::widgets::text_pane::TextPane;
use ratatui::layout::Rect;
use ratatui::Frame;

pub const SPECS: &[ViewSpec] = &[ViewSpec {
    name: "policy",
    aliases: &["compliance"],
    about: "profiles with finding counts, assignment rules",
    open: PolicyView::open,
}];

pub struct PolicyView {
    pane: TextPane,
}

impl PolicyView {
    pub fn open(sh: &mut Shared) -> Box<dyn View> {
        let mut v = PolicyView {
            pane: TextPane::default(),
        };
        v.refresh(sh);
        Box::new(v)
    }

    fn build(sh: &Shared) -> Result<Vec<(String, &'static str)>, String> {
        let read = sh.ctx.store.read();
        let e = |e: crate::store::StoreError| e.to_string();
        let mut out: Vec<(String, &'static str)> = Vec::new();
        let Some(version) = read.current_policy_version().map_err(e)? else {
            out.push((
                "No policy loaded: certdeck policy load DIR (or --starter)".into(),
                "ui.text.dim",
            ));
            return Ok(out);
        };
        out.push((
            format!(
                "Policy {}  loaded {} by {}",
                &version.version[..12.min(version.version.len())],
                version.loaded_at,
                text(&version.loaded_by)
            ),
            "ui.header",
        ));
        // Counted off the input path when the inventory loaded.
        let nc = &sh.inventory.noncompliance;
        let total = sh.inventory.rows.len();
        out.push((
            format!("{} of {total} certificates non-compliant", nc.certificates),
            if nc.certificates > 0 {
                "expiry.expired"
            } else {
                "ui.text"
            },
        ));
        out.push((String::new(), "ui.text"));
        out.push((
            format!(
                "  {:<16} {:<8} {:>6} {:>6} {:>6}  {}",
                "PROFILE", "ENV", "CERTS", "NONCO", "WARN", "AUTHORITIES"
            ),
            "ui.label",
        ));
        for p in read.profiles().map_err(e)? {
            let (certs, bad, warn) = nc.by_profile.get(&p.name).copied().unwrap_or_default();
            out.push((
                format!(
                    "  {:<16} {:<8} {certs:>6} {bad:>6} {warn:>6}  {}",
                    text(&p.name),
                    p.environment.as_str(),
                    text(&p.authorities.join(", "))
                ),
                if bad > 0 { "ui.value.strong" } else { "ui.text" },
            ));
        }
        let unprofiled = sh.inventory.rows.iter().filter(|r| r.profile.is_none()).count();
        out.push((
            format!("  {:<16} {:<8} {unprofiled:>6}", "(no profile)", "-"),
            "ui.text.dim",
        ));
        out.push((String::new(), "ui.text"));
        out.push(("Open error findings by rule".into(), "ui.header"));
        if nc.by_rule.is_empty() {
            out.push(("  none".into(), "ui.text.dim"));
        }
        for (rule, n) in &nc.by_rule {
            out.push((format!("  {rule:<24} {n:>6}"), "ui.text"));
        }
        out.push((String::new(), "ui.text"));
        out.push(("Assignment rules (first match wins)".into(), "ui.header"));
        for r in read.profile_rules().map_err(e)? {
            let mut m = Vec::new();
            if let Some(a) = &r.rule.authority {
                m.push(format!("authority={}", text(a)));
            }
            if let Some(x) = &r.rule.san_suffix {
                m.push(format!("san_suffix={}", text(x)));
            }
            if let Some(o) = &r.rule.owner {
                m.push(format!("owner={}", text(o)));
            }
            if let Some(env) = r.rule.environment {
                m.push(format!("env={env}"));
            }
            out.push((
                format!(
                    "  #{:<3} {:<8} {} -> {}",
                    r.id,
                    r.origin,
                    m.join(" "),
                    text(&r.rule.profile)
                ),
                "ui.text",
            ));
        }
        Ok(out)
    }
}

impl View for PolicyView {
    fn name(&self) -> &'static str {
        "policy"
    }

    fn title(&self, _sh: &Shared) -> String {
        "Policy".into()
    }

    fn refresh(&mut self, sh: &mut Shared) {
        self.pane.lines = Self::build(sh).unwrap_or_else(|e| vec![(e, "ui.error")]);
    }

    fn on_inventory(&mut self, sh: &Shared) {
        self.pane.lines = Self::build(sh).unwrap_or_else(|e| vec![(e, "ui.error")]);
    }

    fn on_action(&mut self, a: &Action, _sh: &mut Shared) -> Flow {
        self.pane.scroll(a)
    }

    fn render(&mut self, f: &mut Frame, area: Rect, sh: &Shared) {
        self.pane.render(f, area, &sh.theme);
    }
}
