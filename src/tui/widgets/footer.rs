//! The bottom line's key hints, generated from the keymap in force (so a hidden
//! dangerous action never shows a hint).

use crate::tui::app::Shared;
use crate::tui::keymap::Keymap;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

pub fn render(f: &mut Frame, area: Rect, sh: &Shared, km: &Keymap) {
    let mut spans: Vec<Span> = Vec::new();
    let mut used = 0usize;
    // Help and quit are always reachable, so they come first when room is short.
    let mut hints = km.hints();
    hints.sort_by_key(|(k, _)| !matches!(*k, "?" | "q"));
    for (key, what) in hints {
        let w = key.chars().count() + what.chars().count() + 3;
        if used + w > area.width as usize {
            break;
        }
        used += w;
        spans.push(Span::styled(
            format!(" {key}"),
            sh.theme.style("ui.hint.key"),
        ));
        spans.push(Span::styled(format!(" {what} "), sh.theme.style("ui.hint")));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}
