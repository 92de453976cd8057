//! The certificate table: virtualized (only the rows on screen are built, so 100k rows
//! cost what 20 do), columns dropped by priority when the width is short, the sort
//! column marked in the header.

use super::{days_left, fit, text};
use crate::model::{CertRow, ExpiryBand};
use crate::query::SortKey;
use crate::tui::app::Shared;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table, TableState};
use ratatui::Frame;

/// A column: header, sort key, drop priority (0 = never dropped; higher drops first),
/// minimum width, and whether it takes extra room.
#[derive(Debug, Clone, Copy)]
pub struct Col {
    pub id: ColId,
    pub header: &'static str,
    pub sort: Option<SortKey>,
    pub drop: u8,
    pub min: u16,
    pub grow: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColId {
    Name,
    DaysLeft,
    Owner,
    Ca,
    Env,
    NotAfter,
    Key,
    Status,
    Sans,
    /// Compliance: ✓, or ✗ and the number of open error findings (! for warnings only).
    Policy,
}

pub const COLUMNS: &[Col] = &[
    Col {
        id: ColId::Name,
        header: "NAME",
        sort: Some(SortKey::Name),
        drop: 0,
        min: 18,
        grow: true,
    },
    Col {
        id: ColId::DaysLeft,
        header: "LEFT",
        sort: Some(SortKey::NotAfter),
        drop: 0,
        min: 8,
        grow: false,
    },
    Col {
        id: ColId::Policy,
        header: "POL",
        sort: None,
        drop: 2,
        min: 4,
        grow: false,
    },
    Col {
        id: ColId::Owner,
        header: "OWNER",
        sort: Some(SortKey::Owner),
        drop: 1,
        min: 10,
        grow: true,
    },
    Col {
        id: ColId::Ca,
        header: "CA",
        sort: Some(SortKey::Authority),
        drop: 2,
        min: 10,
        grow: true,
    },
    Col {
        id: ColId::Env,
        header: "ENV",
        sort: Some(SortKey::Environment),
        drop: 3,
        min: 7,
        grow: false,
    },
    Col {
        id: ColId::NotAfter,
        header: "NOT AFTER",
        sort: Some(SortKey::NotAfter),
        drop: 5,
        min: 10,
        grow: false,
    },
    Col {
        id: ColId::Key,
        header: "KEY",
        sort: Some(SortKey::Key),
        drop: 4,
        min: 8,
        grow: false,
    },
    Col {
        id: ColId::Status,
        header: "STATUS",
        sort: Some(SortKey::Status),
        drop: 6,
        min: 10,
        grow: false,
    },
    Col {
        id: ColId::Sans,
        header: "SANS",
        sort: None,
        drop: 7,
        min: 16,
        grow: true,
    },
];

/// Which columns fit in `width`, with their widths, in display order.
pub fn layout(width: u16) -> Vec<(Col, u16)> {
    let gap = 1u16;
    let mut shown: Vec<Col> = COLUMNS.to_vec();
    let total = |cols: &[Col]| cols.iter().map(|c| c.min + gap).sum::<u16>();
    while total(&shown) > width {
        let Some((i, _)) = shown
            .iter()
            .enumerate()
            .filter(|(_, c)| c.drop > 0)
            .max_by_key(|(_, c)| c.drop)
        else {
            break;
        };
        shown.remove(i);
    }
    let spare = width.saturating_sub(total(&shown));
    let growers = shown.iter().filter(|c| c.grow).count().max(1) as u16;
    let mut out: Vec<(Col, u16)> = shown.iter().map(|c| (*c, c.min)).collect();
    let mut left = spare;
    for (c, w) in out.iter_mut() {
        if c.grow {
            // The name gets the larger share: it is what the operator scans.
            let extra = if c.id == ColId::Name {
                spare / growers + spare % growers
            } else {
                spare / growers
            };
            let extra = extra.min(left);
            *w += extra;
            left -= extra;
        }
    }
    out
}

pub struct TableView<'a> {
    pub rows: &'a [CertRow],
    pub indices: &'a [u32],
    pub selected: usize,
    pub offset: &'a mut usize,
    pub focused: bool,
    pub sort: SortKey,
    pub descending: bool,
}

/// Draws the table; returns how many rows fit (the page size for PgUp/PgDn).
pub fn render(f: &mut Frame, area: Rect, sh: &Shared, t: TableView<'_>) -> usize {
    let now = sh.now();
    let height = area.height.saturating_sub(1) as usize;
    if t.selected < *t.offset {
        *t.offset = t.selected;
    } else if height > 0 && t.selected >= *t.offset + height {
        *t.offset = t.selected + 1 - height;
    }
    let cols = layout(area.width);
    let arrow = |c: &Col| -> &'static str {
        let on = c.sort == Some(t.sort)
            && !(c.id == ColId::NotAfter && cols.iter().any(|(x, _)| x.id == ColId::DaysLeft));
        match (on, t.descending, sh.unicode) {
            (false, _, _) => "",
            (true, false, true) => "↑",
            (true, true, true) => "↓",
            (true, false, false) => "^",
            (true, true, false) => "v",
        }
    };
    let header = Row::new(
        cols.iter()
            .map(|(c, _)| Cell::from(format!("{}{}", c.header, arrow(c))))
            .collect::<Vec<_>>(),
    )
    .style(sh.theme.style("ui.header"));
    let end = (*t.offset + height).min(t.indices.len());
    let visible = &t.indices[(*t.offset).min(end)..end];
    let rows: Vec<Row> = visible
        .iter()
        .map(|&i| {
            let r = &t.rows[i as usize];
            Row::new(
                cols.iter()
                    .map(|(c, w)| cell(sh, r, c.id, *w as usize, now))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let widths: Vec<Constraint> = cols.iter().map(|(_, w)| Constraint::Length(*w)).collect();
    let sel_style = if t.focused {
        sh.theme.style("ui.selection")
    } else {
        sh.theme.style("ui.selection.unfocused")
    };
    let table = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .row_highlight_style(sel_style);
    let mut state = TableState::default();
    if !t.indices.is_empty() {
        state.select(Some(t.selected - *t.offset));
    }
    f.render_stateful_widget(table, area, &mut state);
    height
}

fn cell(sh: &Shared, r: &CertRow, id: ColId, w: usize, now: time::OffsetDateTime) -> Cell<'static> {
    let plain = |s: &str, scope: &str| -> Cell<'static> {
        Cell::from(Span::styled(
            fit(&text(s), w, sh.unicode),
            sh.theme.style(scope),
        ))
    };
    match id {
        ColId::Name => plain(r.display_name(), "ui.text"),
        ColId::Policy => {
            let (errors, warnings) =
                r.findings
                    .iter()
                    .filter(|f| f.is_open(now))
                    .fold((0, 0), |(e, w), f| match f.severity {
                        crate::model::Severity::Error => (e + 1, w),
                        crate::model::Severity::Warning => (e, w + 1),
                        crate::model::Severity::Info => (e, w),
                    });
            match (errors, warnings, sh.unicode) {
                (0, 0, true) => plain("✓", "ui.text.dim"),
                (0, 0, false) => plain("ok", "ui.text.dim"),
                (0, w, _) => plain(&format!("!{w}"), "flag.unowned"),
                (e, _, true) => plain(&format!("✗{e}"), "expiry.expired"),
                (e, _, false) => plain(&format!("X{e}"), "expiry.expired"),
            }
        }
        ColId::DaysLeft => Cell::from(Line::from(days_left(sh, now, r.not_after))),
        ColId::Owner => match &r.owner {
            Some(o) => plain(o, "ui.text"),
            None => plain("(unowned)", "flag.unowned"),
        },
        ColId::Ca => plain(
            r.authority
                .as_deref()
                .or(r.issuer_cn.as_deref())
                .unwrap_or("-"),
            "ui.text",
        ),
        ColId::Env => plain(r.environment.map(|e| e.as_str()).unwrap_or("-"), "ui.text"),
        ColId::NotAfter => plain(&r.not_after.date().to_string(), "ui.text.dim"),
        ColId::Key => {
            let k = crate::cli::output::key_cell(r);
            if r.is_weak() {
                plain(&format!("{k}!"), "flag.weak")
            } else {
                plain(&k, "ui.text")
            }
        }
        ColId::Status => {
            let s = r.effective_status(now);
            let scope = if ExpiryBand::of(now, r.not_after) == ExpiryBand::Expired {
                "expiry.expired"
            } else {
                "ui.text"
            };
            plain(s.as_str(), scope)
        }
        ColId::Sans => plain(
            &match r.sans.len() {
                0 => "-".to_string(),
                1 => r.sans[0].clone(),
                n => format!("{} +{}", r.sans[0], n - 1),
            },
            "ui.text.dim",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_tables_keep_name_and_days_left_and_drop_by_priority() {
        let ids = |w| layout(w).iter().map(|(c, _)| c.id).collect::<Vec<_>>();
        let narrow = ids(30);
        assert_eq!(narrow, vec![ColId::Name, ColId::DaysLeft]);
        let mid = ids(56);
        assert!(mid.contains(&ColId::Owner) && mid.contains(&ColId::Ca));
        assert!(!mid.contains(&ColId::Sans));
        let wide = ids(200);
        assert_eq!(wide.len(), COLUMNS.len());
        assert!(layout(200).iter().map(|(_, w)| w + 1).sum::<u16>() <= 200);
    }
}
