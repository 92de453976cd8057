//! The bottom line while typing a `/` filter, a `:` command or an export path, and the
//! status message after an action.

use crate::tui::app::{Shared, Status};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use ratatui_textarea::TextArea;

pub fn render(
    f: &mut Frame,
    area: Rect,
    sh: &Shared,
    label: &str,
    input: &TextArea<'_>,
    status: Option<&Status>,
) {
    let label_w = label.chars().count() as u16;
    let err_w = match status {
        Some(Status::Error(e)) => (e.chars().count() as u16 + 2).min(area.width / 2),
        Some(Status::Message(m)) => (m.chars().count() as u16 + 2).min(area.width / 2),
        None => 0,
    };
    let [l, t, e] = Layout::horizontal([
        Constraint::Length(label_w),
        Constraint::Min(1),
        Constraint::Length(err_w),
    ])
    .areas(area);
    f.render_widget(
        Paragraph::new(Span::styled(label.to_string(), sh.theme.style("ui.prompt"))),
        l,
    );
    f.render_widget(input, t);
    if let Some(s) = status {
        let (text, scope) = match s {
            Status::Error(e) => (e, "ui.error"),
            Status::Message(m) => (m, "ui.message"),
        };
        f.render_widget(
            Paragraph::new(Span::styled(
                super::fit(
                    &super::text(text),
                    err_w.saturating_sub(1) as usize,
                    sh.unicode,
                ),
                sh.theme.style(scope),
            ))
            .right_aligned(),
            e,
        );
    }
}

pub fn render_status(f: &mut Frame, area: Rect, sh: &Shared, s: &Status) {
    let (text, scope) = match s {
        Status::Error(e) => (e, "ui.error"),
        Status::Message(m) => (m, "ui.message"),
    };
    f.render_widget(
        Paragraph::new(Line::from(Span::styled(
            super::fit(&super::text(text), area.width as usize, sh.unicode),
            sh.theme.style(scope),
        ))),
        area,
    );
}
