//! The border around the current view, whose title carries the view name and, while one
//! is set, the `/` filter, so the operator always sees what narrows the list.

use crate::tui::app::Shared;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders};
use ratatui::Frame;

/// Draws the frame and returns the area inside it.
pub fn render(
    f: &mut Frame,
    area: Rect,
    sh: &Shared,
    title: &str,
    filter: Option<&str>,
    editing: bool,
) -> Rect {
    let st = |s: &str| sh.theme.style(s);
    let mut spans = vec![Span::styled(format!(" {title} "), st("ui.title"))];
    if let Some(q) = filter.filter(|q| !q.is_empty() || editing) {
        spans.push(Span::styled(
            format!("/{} ", super::text(q)),
            st("ui.filter"),
        ));
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(if sh.unicode {
            BorderType::Rounded
        } else {
            BorderType::Plain
        })
        .border_style(st("ui.border"))
        .title(Line::from(spans));
    let inner = block.inner(area);
    f.render_widget(block, area);
    inner
}
