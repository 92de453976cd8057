//! The top line: product, where you are (the view stack), read-only marker, renewals
//! running in the background, database, clock.

use crate::tui::app::Shared;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// `trail` is the view stack's names, root first (`certs › detail`).
pub fn render(f: &mut Frame, area: Rect, sh: &Shared, trail: &[&str]) {
    let st = |s: &str| sh.theme.style(s);
    let sep = if sh.unicode { " › " } else { " > " };
    let mut spans = vec![
        Span::styled(" certdeck ", st("ui.statusbar.view")),
        Span::styled(format!(" :{} ", trail.join(sep)), st("ui.statusbar")),
    ];
    if sh.readonly {
        spans.push(Span::styled(" READ-ONLY ", st("ui.statusbar.readonly")));
    }
    if !sh.renewing.is_empty() {
        let names: Vec<String> = sh
            .renewing
            .iter()
            .map(|i| super::text(i).into_owned())
            .collect();
        spans.push(Span::styled(
            format!(
                " {}renewing {} ",
                if sh.unicode { "⟳ " } else { "" },
                super::fit(&names.join(", "), 30, sh.unicode)
            ),
            st("ui.statusbar.view"),
        ));
    }
    let now = sh.now();
    let clock = format!(" {} {:02}:{:02}Z ", now.date(), now.hour(), now.minute());
    let used: usize = spans.iter().map(|s| s.width()).sum();
    let db = super::text(&sh.db_label).into_owned();
    let room = (area.width as usize).saturating_sub(used + clock.len() + 1);
    if room > 6 {
        spans.push(Span::styled(
            format!(" {}", super::fit(&db, room - 1, sh.unicode)),
            st("ui.statusbar"),
        ));
    }
    let used: usize = spans.iter().map(|s| s.width()).sum();
    let pad = (area.width as usize).saturating_sub(used + clock.len());
    spans.push(Span::styled(" ".repeat(pad), st("ui.statusbar")));
    spans.push(Span::styled(clock, st("ui.statusbar")));
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}
