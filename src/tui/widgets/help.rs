//! The `?` overlay, generated from the keymap in force and the view registry: what the
//! keys do here, which `:` views exist, and the query words `/` understands.

use crate::tui::app::Shared;
use crate::tui::keymap::Keymap;
use crate::tui::views::ViewSpec;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph};
use ratatui::Frame;

/// The query words, as help lists them (the language lives in `crate::query`).
pub const QUERY_WORDS: &[(&str, &str)] = &[
    ("text", "CN, SAN, serial, fingerprint"),
    ("owner:NAME", "owner (ca: env: cn: san: too)"),
    ("expires<30d", "also <= > >=, units h d w"),
    ("expired unowned weak", "flags"),
    ("!word", "negates any word"),
];

/// Draws the overlay; returns the scroll offset clamped to the content.
pub fn render(
    f: &mut Frame,
    area: Rect,
    sh: &Shared,
    km: &Keymap,
    views: &[ViewSpec],
    scroll: u16,
) -> u16 {
    let st = |s: &str| sh.theme.style(s);
    let mut lines: Vec<Line> = Vec::new();
    lines.push(Line::from(Span::styled("Keys", st("ui.title"))));
    for b in &km.bindings {
        let keys = b.keys.join(" ");
        let mut spans = vec![
            Span::styled(format!("  {keys:<14}"), st("ui.help.key")),
            Span::styled(b.description.to_string(), st("ui.text")),
        ];
        if b.dangerous {
            spans.push(Span::styled(" (dangerous)", st("ui.help.dangerous")));
        }
        lines.push(Line::from(spans));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "Views (:name, Tab completes)",
        st("ui.title"),
    )));
    for v in views {
        let mut spans = vec![
            Span::styled(format!("  :{:<13}", v.name), st("ui.help.key")),
            Span::styled(v.about.to_string(), st("ui.text")),
        ];
        if !v.aliases.is_empty() {
            let also: Vec<String> = v.aliases.iter().map(|a| format!(":{a}")).collect();
            spans.push(Span::styled(
                format!(" ({})", also.join(" ")),
                st("ui.text.dim"),
            ));
        }
        lines.push(Line::from(spans));
    }
    lines.push(Line::from(vec![
        Span::styled("  :theme NAME   ".to_string(), st("ui.help.key")),
        Span::styled("switch theme".to_string(), st("ui.text")),
    ]));
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled("Filter words (/)", st("ui.title"))));
    for (w, what) in QUERY_WORDS {
        lines.push(Line::from(vec![
            Span::styled(format!("  {w:<22}"), st("ui.help.key")),
            Span::styled(what.to_string(), st("ui.text")),
        ]));
    }
    let w = area.width.saturating_sub(4).min(100);
    let h = area.height.saturating_sub(2).min(lines.len() as u16 + 2);
    let popup = super::centered(area, w, h);
    let max_scroll = (lines.len() as u16).saturating_sub(h.saturating_sub(2));
    let scroll = scroll.min(max_scroll);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(if sh.unicode {
            BorderType::Double
        } else {
            BorderType::Plain
        })
        .border_style(st("ui.border.focused"))
        .title(Span::styled(
            " Help (j/k scroll, any other key closes) ",
            st("ui.title"),
        ));
    f.render_widget(Clear, popup);
    f.render_widget(
        Paragraph::new(lines).block(block).scroll((scroll, 0)),
        popup,
    );
    scroll
}
