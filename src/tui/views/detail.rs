//! One certificate in full: the decode `certdeck show` prints, its place in the chain,
//! where it was seen, owner and identity, and its own audit trail. Opened with Enter from
//! any certificate list; Esc goes back to the list, where the cursor was.

use super::{Flow, View, ViewSpec};
use crate::model::{weak_reason, AuditRecord, CertRow, ExpiryBand};
use crate::store::{AuditQuery, Sighting};
use crate::tui::action::Action;
use crate::tui::app::Shared;
use crate::tui::widgets::{band_scope, text};
use crate::x509::detail::{colon_hex, CertificateDetail};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

/// Opened from lists, not by a `:` name.
pub const SPECS: &[ViewSpec] = &[];

pub struct DetailView {
    pub id: i64,
    loaded: Result<Loaded, String>,
    pub scroll: u16,
    page: u16,
    lines_total: u16,
    /// Whether `r` (renew this certificate's identity) is offered.
    may_renew: bool,
}

const BINDINGS_RENEW: &[crate::tui::keymap::Binding] = &[crate::tui::renewal::BINDING];

struct Loaded {
    row: CertRow,
    detail: CertificateDetail,
    sightings: Vec<Sighting>,
    chain: Vec<CertRow>,
    audit: Vec<AuditRecord>,
}

impl DetailView {
    pub fn open_row(sh: &mut Shared, id: i64) -> Box<dyn View> {
        let mut v = DetailView {
            id,
            loaded: Err("loading".into()),
            scroll: 0,
            page: 10,
            lines_total: 0,
            may_renew: false,
        };
        v.refresh(sh);
        Box::new(v)
    }

    fn load(sh: &Shared, id: i64) -> Result<Loaded, String> {
        let read = sh.ctx.store.read();
        let e = |e: crate::store::StoreError| e.to_string();
        let row = read
            .certificate_row(id)
            .map_err(e)?
            .ok_or_else(|| format!("certificate #{id} is no longer in the inventory"))?;
        let der = read.certificate_der(id).map_err(e)?.unwrap_or_default();
        let detail = crate::x509::detail::decode(&der).map_err(|e| e.to_string())?;
        Ok(Loaded {
            sightings: read.sightings(id).map_err(e)?,
            chain: read.chain(id).map_err(e)?,
            audit: read
                .audit_records(&AuditQuery {
                    object_type: Some("certificate".into()),
                    object_id: Some(row.fingerprint_sha256.clone()),
                    limit: Some(50),
                    ..Default::default()
                })
                .map_err(e)?,
            row,
            detail,
        })
    }

    fn lines(&self, sh: &Shared, l: &Loaded) -> Vec<Line<'static>> {
        let st = |s: &str| sh.theme.style(s);
        let now = sh.now();
        let r = &l.row;
        let d = &l.detail;
        let field = |label: &str, value: String| -> Line<'static> {
            Line::from(vec![
                Span::styled(format!("  {label:<14}"), st("ui.label")),
                Span::styled(value, st("ui.value")),
            ])
        };
        let s = |x: &str| text(x).into_owned();
        let heading = |t: &str| Line::from(Span::styled(t.to_string(), st("ui.title")));
        let band = ExpiryBand::of(now, r.not_after);
        let mut out = vec![
            Line::from(vec![
                Span::styled(format!("#{} ", r.id), st("ui.text.dim")),
                Span::styled(s(r.display_name()), st("ui.value.strong")),
            ]),
            field("Subject", s(&d.subject)),
            field("Issuer", s(&d.issuer)),
            field("Serial", d.serial.clone()),
            field("Version", d.version.to_string()),
            field("Not before", d.not_before.clone()),
            Line::from(vec![
                Span::styled(format!("  {:<14}", "Not after"), st("ui.label")),
                Span::styled(format!("{}  ", d.not_after), st("ui.value")),
                Span::styled(
                    format!(
                        "{} {} days left, {}",
                        band.symbol(sh.unicode),
                        r.days_left(now),
                        r.effective_status(now).as_str()
                    ),
                    st(band_scope(band)),
                ),
            ]),
            field("Public key", s(&d.public_key)),
            field("Signature", s(&d.signature_algorithm)),
            field("SHA-256", colon_hex(&d.fingerprint_sha256)),
            field("SHA-1", colon_hex(&d.fingerprint_sha1)),
            field("SPKI SHA-256", d.spki_sha256.clone()),
        ];
        if let Some(w) = weak_reason(&r.key_algorithm, r.key_bits, &r.signature_algorithm) {
            out.push(Line::from(vec![
                Span::styled(format!("  {:<14}", "WEAK"), st("flag.weak")),
                Span::styled(s(&w), st("flag.weak")),
            ]));
        }
        out.push(Line::from(""));
        out.push(heading("Ownership"));
        out.push(match &r.owner {
            Some(o) => field("Owner", s(o)),
            None => Line::from(vec![
                Span::styled(format!("  {:<14}", "Owner"), st("ui.label")),
                Span::styled("(unowned)".to_string(), st("flag.unowned")),
            ]),
        });
        out.push(field(
            "Identity",
            r.identity.as_deref().map(s).unwrap_or_else(|| "(unmanaged)".into()),
        ));
        out.push(field("Authority", r.authority.as_deref().map(s).unwrap_or_else(|| "-".into())));
        out.push(field(
            "Environment",
            r.environment.map(|e| e.to_string()).unwrap_or_else(|| "-".into()),
        ));
        out.push(Line::from(""));
        out.push(heading("Policy"));
        out.push(field(
            "Profile",
            r.profile.as_deref().map(s).unwrap_or_else(|| "(none)".into()),
        ));
        let applying: Vec<&crate::model::Finding> =
            r.findings.iter().filter(|f| f.applies(now)).collect();
        let (mark, scope) = match (r.is_compliant(now), sh.unicode) {
            (true, true) => ("✓ compliant", "ui.text"),
            (true, false) => ("ok compliant", "ui.text"),
            (false, true) => ("✗ NON-COMPLIANT", "expiry.expired"),
            (false, false) => ("X NON-COMPLIANT", "expiry.expired"),
        };
        out.push(Line::from(vec![
            Span::styled(format!("  {:<14}", "Compliance"), st("ui.label")),
            Span::styled(mark.to_string(), st(scope)),
        ]));
        for f in applying {
            let open = f.is_open(now);
            let scope = match (open, f.severity) {
                (false, _) => "ui.text.dim",
                (true, crate::model::Severity::Error) => "expiry.expired",
                (true, _) => "flag.unowned",
            };
            let mut spans = vec![
                Span::styled(format!("  {:<8}", f.severity.as_str()), st(scope)),
                Span::styled(format!("{} ", f.rule), st("ui.value.strong")),
                Span::styled(s(&f.message), st("ui.value")),
            ];
            if let Some(v) = &f.value {
                spans.push(Span::styled(format!(" ({})", s(v)), st("ui.text.dim")));
            }
            if let Some(t) = crate::cli::policy::exception_text(f, now) {
                spans.push(Span::styled(format!(" [{}]", s(&t)), st("ui.text.dim")));
            }
            out.push(Line::from(spans));
        }
        out.push(Line::from(""));
        out.push(heading("Chain"));
        if l.chain.is_empty() {
            out.push(Line::from(Span::styled(
                if r.is_ca && r.issuer == r.subject {
                    "  (self-signed root)"
                } else {
                    "  (issuer not in the inventory)"
                }
                .to_string(),
                st("ui.text.dim"),
            )));
        }
        let elbow = if sh.unicode { "└ " } else { "`-" };
        for (i, c) in l.chain.iter().enumerate() {
            out.push(Line::from(vec![
                Span::styled(format!("  {}{elbow}", "  ".repeat(i)), st("ui.border")),
                Span::styled(format!("#{} ", c.id), st("ui.text.dim")),
                Span::styled(s(&c.subject), st("ui.value")),
                Span::raw("  "),
                crate::tui::widgets::days_left(sh, now, c.not_after),
            ]));
        }
        out.push(Line::from(""));
        out.push(heading("Seen at"));
        if l.sightings.is_empty() {
            out.push(Line::from(Span::styled("  (nowhere recorded)", st("ui.text.dim"))));
        }
        for si in &l.sightings {
            out.push(Line::from(vec![
                Span::styled(format!("  {:<9}", s(&si.kind)), st("ui.label")),
                Span::styled(s(&si.location), st("ui.value")),
                Span::styled(format!("  last {}", s(&si.last_seen)), st("ui.text.dim")),
            ]));
        }
        out.push(Line::from(""));
        out.push(heading("Extensions"));
        for e in &d.extensions {
            out.push(Line::from(vec![
                Span::styled(format!("  {}", s(&e.name)), st("ui.label")),
                Span::styled(
                    if e.critical { " (critical)" } else { "" }.to_string(),
                    st("ui.prompt"),
                ),
            ]));
            for v in &e.values {
                out.push(Line::from(Span::styled(format!("      {}", s(v)), st("ui.value"))));
            }
        }
        out.push(Line::from(""));
        out.push(heading("Audit trail (newest first)"));
        if l.audit.is_empty() {
            out.push(Line::from(Span::styled("  (no records)", st("ui.text.dim"))));
        }
        for a in &l.audit {
            out.push(super::dashboard::audit_line(sh, a, 120));
        }
        out
    }
}

impl View for DetailView {
    fn name(&self) -> &'static str {
        "detail"
    }

    fn title(&self, _sh: &Shared) -> String {
        match &self.loaded {
            Ok(l) => format!("Certificate #{} {}", l.row.id, text(l.row.display_name())),
            Err(_) => format!("Certificate #{}", self.id),
        }
    }

    fn refresh(&mut self, sh: &mut Shared) {
        self.loaded = Self::load(sh, self.id).map_err(|e| text(&e).into_owned());
        self.may_renew = crate::tui::renewal::may_renew(sh);
    }

    fn bindings(&self) -> &'static [crate::tui::keymap::Binding] {
        if self.may_renew {
            BINDINGS_RENEW
        } else {
            &[]
        }
    }

    fn on_action(&mut self, a: &Action, sh: &mut Shared) -> Flow {
        if *a == Action::View("renew") {
            return match &self.loaded {
                Ok(l) => match &l.row.identity {
                    Some(i) => crate::tui::renewal::ask(sh, i),
                    None => Flow::Error(format!(
                        "#{} has no identity: nothing to renew (adopt it into an identity first)",
                        l.row.id
                    )),
                },
                Err(e) => Flow::Error(e.clone()),
            };
        }
        // Long values wrap, so the last screen may need a little more than
        // `lines_total - page`: allow scrolling until the last line is at the top half.
        let max = self.lines_total.saturating_sub(self.page / 2);
        self.scroll = match a {
            Action::Up => self.scroll.saturating_sub(1),
            Action::Down => self.scroll.saturating_add(1).min(max),
            Action::PageUp => self.scroll.saturating_sub(self.page),
            Action::PageDown => self.scroll.saturating_add(self.page).min(max),
            Action::Top => 0,
            Action::Bottom => max,
            _ => return Flow::Ignored,
        };
        Flow::Handled
    }

    fn render(&mut self, f: &mut Frame, area: Rect, sh: &Shared) {
        let lines = match &self.loaded {
            Ok(l) => self.lines(sh, l),
            Err(e) => vec![Line::from(Span::styled(e.clone(), sh.theme.style("ui.error")))],
        };
        self.page = area.height;
        self.lines_total = lines.len() as u16;
        f.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .scroll((self.scroll, 0)),
            area,
        );
    }
}
