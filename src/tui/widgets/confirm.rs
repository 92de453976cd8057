//! The confirmation popup: a question naming the object, what will happen, and the one
//! key that goes ahead. Any other key cancels, so a stray key never acts.

use crate::tui::app::Shared;
use crate::tui::views::Confirm;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

/// Draws `c` centred over `area`. Its strings are already sanitized by whoever built it.
pub fn render(f: &mut Frame, area: Rect, sh: &Shared, c: &Confirm) {
    let st = |s: &str| sh.theme.style(s);
    let mut lines = vec![
        Line::from(Span::styled(c.question.clone(), st("ui.value.strong"))),
        Line::from(""),
    ];
    for l in &c.consequences {
        lines.push(Line::from(Span::styled(l.clone(), st("ui.text"))));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(vec![
        Span::styled(" y ", st("ui.help.key")),
        Span::styled(format!("{}    ", c.yes), st("ui.text")),
        Span::styled(" any other key ", st("ui.help.key")),
        Span::styled("cancel", st("ui.text")),
    ]));
    let w = area.width.saturating_sub(4).min(76);
    // Wrapped height: a long line takes ceil(width / inner width) rows, and one more
    // because wrapping breaks at words.
    let inner_w = w.saturating_sub(2).max(1) as usize;
    let rows: usize = lines
        .iter()
        .map(|l| match l.width() {
            n if n <= inner_w => 1,
            n => n.div_ceil(inner_w) + 1,
        })
        .sum();
    let h = (rows as u16 + 2).min(area.height.saturating_sub(2));
    let popup = super::centered(area, w, h);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(if sh.unicode {
            BorderType::Double
        } else {
            BorderType::Plain
        })
        .border_style(st("ui.error"))
        .title(Span::styled(format!(" {} ", c.title), st("ui.title")));
    f.render_widget(Clear, popup);
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        popup,
    );
}
