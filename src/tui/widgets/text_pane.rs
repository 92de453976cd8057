//! A page of styled lines that scrolls by line and by page: the body of the views that
//! are reports to read (policy, access), so each of them only says what the lines are.

use crate::tui::action::Action;
use crate::tui::theme::Theme;
use crate::tui::views::Flow;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// Lines with the theme style each is drawn in, and where the reader is.
pub struct TextPane {
    pub lines: Vec<(String, &'static str)>,
    offset: usize,
    page: usize,
}

impl Default for TextPane {
    fn default() -> Self {
        TextPane {
            lines: Vec::new(),
            offset: 0,
            page: 10,
        }
    }
}

impl TextPane {
    /// Moves through the lines; any other action is left to the view.
    pub fn scroll(&mut self, a: &Action) -> Flow {
        let max = self.lines.len().saturating_sub(1);
        self.offset = match a {
            Action::Up => self.offset.saturating_sub(1),
            Action::Down => (self.offset + 1).min(max),
            Action::PageUp => self.offset.saturating_sub(self.page),
            Action::PageDown => (self.offset + self.page).min(max),
            Action::Top => 0,
            Action::Bottom => max,
            _ => return Flow::Ignored,
        };
        Flow::Handled
    }

    pub fn render(&mut self, f: &mut Frame, area: Rect, theme: &Theme) {
        self.page = (area.height as usize).max(1);
        let lines: Vec<Line> = self
            .lines
            .iter()
            .skip(self.offset)
            .take(area.height as usize)
            .map(|(t, s)| Line::from(Span::styled(t.clone(), theme.style(s))))
            .collect();
        f.render_widget(Paragraph::new(lines), area);
    }
}
