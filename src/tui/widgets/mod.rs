//! Reusable pieces of the screen. Every string that came from a certificate, a file or
//! the audit log goes through [`text`] (i.e. `crate::sanitize`) before it becomes a span.

pub mod cert_table;
pub mod confirm;
pub mod footer;
pub mod frame;
pub mod help;
pub mod prompt;
pub mod status_bar;
pub mod text_pane;

use super::app::Shared;
use crate::model::ExpiryBand;
use ratatui::style::Style;
use ratatui::text::Span;
use std::borrow::Cow;
use time::OffsetDateTime;
use unicode_width::UnicodeWidthStr;

/// A `w` x `h` rectangle centred in `area` (clipped to it), for popups.
pub fn centered(area: ratatui::layout::Rect, w: u16, h: u16) -> ratatui::layout::Rect {
    let (w, h) = (w.min(area.width), h.min(area.height));
    ratatui::layout::Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// Untrusted text made safe for a widget.
pub fn text(s: &str) -> Cow<'_, str> {
    crate::sanitize::sanitize(s)
}

/// The theme scope for an expiry band.
pub fn band_scope(b: ExpiryBand) -> &'static str {
    match b {
        ExpiryBand::Expired => "expiry.expired",
        ExpiryBand::Within7Days => "expiry.week",
        ExpiryBand::Within30Days => "expiry.month",
        ExpiryBand::Ok => "expiry.ok",
    }
}

/// `✓ 120d` / `▲ 12d` / `✗ -3d`, styled by band: symbol and colour, never colour alone.
pub fn days_left(sh: &Shared, now: OffsetDateTime, not_after: OffsetDateTime) -> Span<'static> {
    let band = ExpiryBand::of(now, not_after);
    let days = crate::clock::days_until(now, not_after);
    Span::styled(
        format!("{} {}d", band.symbol(sh.unicode), days),
        sh.theme.style(band_scope(band)),
    )
}

/// Cuts `s` to `w` columns, ending with `…` (or `~` without Unicode) when cut.
pub fn fit(s: &str, w: usize, unicode: bool) -> String {
    if s.width() <= w {
        return s.to_string();
    }
    if w == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let cw = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + cw + 1 > w {
            break;
        }
        used += cw;
        out.push(c);
    }
    out.push(if unicode { '…' } else { '~' });
    out
}

pub fn style(sh: &Shared, scope: &str) -> Style {
    sh.theme.style(scope)
}
