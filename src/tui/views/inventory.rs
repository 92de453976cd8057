//! The inventory: a grouping tree (owners, CAs or environments, each with its count and
//! how many expire within 30 days) beside the certificate table. `/` narrows both with
//! the query language; the tree node narrows the table further. Rows are the shared,
//! in-memory inventory; the table keeps only index vectors, so sorting and filtering
//! 100k certificates never copies a row.

use super::{detail, Export, Flow, View, ViewSpec};
use crate::model::{CertRow, ExpiryBand};
use crate::query::{Filter, SortKey};
use crate::tui::action::Action;
use crate::tui::app::Shared;
use crate::tui::keymap::Binding;
use crate::tui::renewal;
use crate::tui::widgets::{cert_table, fit, text};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;
use crate::tui::groups::RowIndex;

pub const SPECS: &[ViewSpec] = &[
    ViewSpec {
        name: "certs",
        aliases: &["certificates", "inventory", "inv"],
        about: "every certificate, grouped and filtered",
        open: |sh| InventoryView::open(sh, Grouping::Owners, Pane::Table, "certs"),
    },
    ViewSpec {
        name: "owners",
        aliases: &["owner"],
        about: "certificates by owner",
        open: |sh| InventoryView::open(sh, Grouping::Owners, Pane::Tree, "owners"),
    },
    ViewSpec {
        name: "cas",
        aliases: &["ca", "authorities"],
        about: "certificates by CA (authority, else issuer)",
        open: |sh| InventoryView::open(sh, Grouping::Authorities, Pane::Tree, "cas"),
    },
    ViewSpec {
        name: "envs",
        aliases: &["env", "environments"],
        about: "certificates by environment",
        open: |sh| InventoryView::open(sh, Grouping::Environments, Pane::Tree, "envs"),
    },
    ViewSpec {
        name: "profiles",
        aliases: &["profile"],
        about: "certificates by policy profile (the identity's, else the assigned one)",
        open: |sh| InventoryView::open(sh, Grouping::Profiles, Pane::Tree, "profiles"),
    },
];

const BINDINGS: &[Binding] = &[
    Binding::new(Action::SwitchPane, &["Tab"], "switch pane (tree / table)").hinted(),
    Binding::new(Action::NextGrouping, &["o"], "group by owner / CA / environment / profile").hinted(),
    Binding::new(Action::SortNext, &["s"], "sort by the next column").hinted(),
    Binding::new(Action::SortReverse, &["S"], "reverse the sort"),
    Binding::new(Action::Export, &["e"], "export the filtered list (CSV or JSON)").hinted(),
];

/// The same, with `r` for an actor who may renew.
const BINDINGS_RENEW: &[Binding] = &[
    Binding::new(Action::SwitchPane, &["Tab"], "switch pane (tree / table)").hinted(),
    Binding::new(Action::NextGrouping, &["o"], "group by owner / CA / environment / profile").hinted(),
    Binding::new(Action::SortNext, &["s"], "sort by the next column").hinted(),
    Binding::new(Action::SortReverse, &["S"], "reverse the sort"),
    Binding::new(Action::Export, &["e"], "export the filtered list (CSV or JSON)").hinted(),
    renewal::BINDING,
];

pub use crate::tui::groups::Grouping;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Tree,
    Table,
}

/// One tree node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// `None` for the "all" node at the top; `Some(None)` for the no-owner group.
    pub key: Option<Option<String>>,
    /// The group's number in the inventory's [`RowIndex`] (`None` for "all").
    pub id: Option<u32>,
    pub count: usize,
    pub expiring: usize,
}

pub struct InventoryView {
    name: &'static str,
    pub grouping: Grouping,
    pub focus: Pane,
    filter_text: String,
    filter: Filter,
    pub sort: SortKey,
    pub descending: bool,
    /// All rows in sort order; a filter never re-sorts, it selects from this.
    order: Vec<u32>,
    /// Whether each row (in load order) passes the `/` query; kept between filters so
    /// its memory is reused, and read again when the tree selection changes.
    hit: Vec<bool>,
    pub groups: Vec<Group>,
    pub tree_selected: usize,
    /// `order` narrowed to the query's matches within the selected group: what the
    /// table shows (rebuilt in place, never reallocated at steady state).
    pub visible: Vec<u32>,
    pub selected: usize,
    offset: usize,
    tree_offset: usize,
    page: usize,
    /// Whether `r` (renew the selected certificate's identity) is offered.
    may_renew: bool,
}

const SORT_CYCLE: &[SortKey] = &[
    SortKey::NotAfter,
    SortKey::Name,
    SortKey::Owner,
    SortKey::Authority,
    SortKey::Environment,
    SortKey::Key,
    SortKey::Status,
];

impl InventoryView {
    pub fn open(sh: &mut Shared, grouping: Grouping, focus: Pane, name: &'static str) -> Box<dyn View> {
        let mut v = InventoryView::new(grouping, focus, name);
        v.may_renew = renewal::may_renew(sh);
        v.on_inventory(sh);
        Box::new(v)
    }

    pub fn new(grouping: Grouping, focus: Pane, name: &'static str) -> InventoryView {
        InventoryView {
            name,
            grouping,
            focus,
            filter_text: String::new(),
            filter: Filter::default(),
            sort: SortKey::NotAfter,
            descending: false,
            order: Vec::new(),
            hit: Vec::new(),
            groups: Vec::new(),
            tree_selected: 0,
            visible: Vec::new(),
            selected: 0,
            offset: 0,
            tree_offset: 0,
            page: 10,
            may_renew: false,
        }
    }

    /// The row under the cursor.
    pub fn current<'a>(&self, sh: &'a Shared) -> Option<&'a CertRow> {
        self.visible
            .get(self.selected)
            .map(|&i| &sh.inventory.rows[i as usize])
    }

    fn resort(&mut self, sh: &Shared) {
        let rows = &sh.inventory.rows;
        let mut order: Vec<u32> = (0..rows.len() as u32).collect();
        let key = self.sort;
        if key == SortKey::Name {
            // Lower-casing inside the comparator would allocate n log n times.
            let names: Vec<String> = rows.iter().map(|r| r.display_name().to_lowercase()).collect();
            order.sort_by(|&a, &b| {
                names[a as usize]
                    .cmp(&names[b as usize])
                    .then(rows[a as usize].id.cmp(&rows[b as usize].id))
            });
        } else {
            order.sort_by(|&a, &b| key.compare(&rows[a as usize], &rows[b as usize]));
        }
        if self.descending {
            order.reverse();
        }
        self.order = order;
    }

    /// Re-applies the `/` query, rebuilds the tree's counts, then the table.
    fn refilter(&mut self, sh: &Shared) {
        let rows = &sh.inventory.rows;
        let hay = &sh.inventory.haystacks;
        let built;
        let idx: &RowIndex = if sh.inventory.index.covers(rows.len()) {
            &sh.inventory.index
        } else {
            built = RowIndex::build(rows);
            &built
        };
        let now = sh.now();
        // Rows are tested and counted in load order, where they (and their strings) lie
        // in memory one after another: walking 100k rows in sort order would wait on
        // memory for nearly every one.
        let filter = &self.filter;
        let hit = &mut self.hit;
        hit.clear();
        if filter.is_empty() {
            hit.resize(rows.len(), true);
        } else if hay.len() == rows.len() {
            let prepared = filter.prepare(now);
            hit.extend(
                rows.iter()
                    .zip(hay.iter())
                    .map(|(r, h)| prepared.matches(r, h)),
            );
        } else {
            hit.extend(rows.iter().map(|r| filter.matches(r, now)));
        }
        let gs = idx.groups(self.grouping);
        // Expiring = expired or within 30 days (`ExpiryBand` other than Ok).
        let soon = (now + time::Duration::days(30)).unix_timestamp_nanos();
        let mut counts = vec![(0usize, 0usize); gs.names.len()];
        for ((&h, &g), &na) in hit.iter().zip(&gs.of_row).zip(&idx.not_after) {
            if h {
                let c = &mut counts[g as usize];
                c.0 += 1;
                c.1 += usize::from(na <= soon);
            }
        }
        let before = self.groups.get(self.tree_selected).map(|g| g.key.clone());
        let mut groups = Vec::with_capacity(counts.len() + 1);
        let (mut all, mut all_expiring) = (0, 0);
        for (id, &(count, expiring)) in counts.iter().enumerate() {
            if count == 0 {
                continue;
            }
            all += count;
            all_expiring += expiring;
            groups.push(Group {
                key: Some(gs.names[id].clone()),
                id: Some(id as u32),
                count,
                expiring,
            });
        }
        groups.insert(
            0,
            Group {
                key: None,
                id: None,
                count: all,
                expiring: all_expiring,
            },
        );
        self.groups = groups;
        self.tree_selected = before
            .and_then(|k| self.groups.iter().position(|g| g.key == k))
            .unwrap_or(0);
        self.regroup(sh);
    }

    /// Narrows the query's matches, in sort order, to the selected tree node.
    fn regroup(&mut self, sh: &Shared) {
        let keep_id = self.visible.get(self.selected).copied();
        let group = self.groups.get(self.tree_selected).and_then(|g| g.id);
        let all = self.hit.len() == self.order.len() && self.groups.first().is_some_and(|g| g.count == self.order.len());
        let hit = &self.hit;
        let visible = &mut self.visible;
        visible.clear();
        match group {
            None if all => visible.extend_from_slice(&self.order),
            None => visible.extend(self.order.iter().copied().filter(|&i| hit[i as usize])),
            Some(g) => {
                let built;
                let of_row = if sh.inventory.index.covers(hit.len()) {
                    &sh.inventory.index.groups(self.grouping).of_row
                } else {
                    built = RowIndex::build(&sh.inventory.rows);
                    &built.groups(self.grouping).of_row
                };
                visible.extend(
                    self.order
                        .iter()
                        .copied()
                        .filter(|&i| hit[i as usize] && of_row[i as usize] == g),
                )
            }
        }
        self.selected = keep_id
            .and_then(|id| self.visible.iter().position(|&i| i == id))
            .unwrap_or(0);
        if self.selected == 0 {
            self.offset = 0;
        }
    }

    fn move_by(&mut self, delta: isize, sh: &Shared) {
        match self.focus {
            Pane::Table => {
                let n = self.visible.len();
                if n == 0 {
                    return;
                }
                self.selected = (self.selected as isize + delta).clamp(0, n as isize - 1) as usize;
            }
            Pane::Tree => {
                let n = self.groups.len();
                if n == 0 {
                    return;
                }
                self.tree_selected =
                    (self.tree_selected as isize + delta).clamp(0, n as isize - 1) as usize;
                self.selected = 0;
                self.offset = 0;
                self.visible.clear();
                self.regroup(sh);
            }
        }
    }

    fn group_label(&self, g: &Group) -> String {
        match &g.key {
            None => format!("All {}", self.grouping.label().to_lowercase()),
            Some(None) => self.grouping.none_label().to_string(),
            Some(Some(name)) => text(name).into_owned(),
        }
    }

    fn render_tree(&mut self, f: &mut Frame, area: Rect, sh: &Shared) {
        let st = |s: &str| sh.theme.style(s);
        let focused = self.focus == Pane::Tree;
        let block = Block::default()
            .borders(Borders::RIGHT)
            .border_style(if focused { st("ui.border.focused") } else { st("ui.border") });
        let inner = block.inner(area);
        f.render_widget(block, area);
        let [head, list] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(inner);
        f.render_widget(
            Paragraph::new(Span::styled(
                format!("{} (o)", self.grouping.label()),
                st("ui.tree.group"),
            )),
            head,
        );
        let h = list.height as usize;
        if self.tree_selected < self.tree_offset {
            self.tree_offset = self.tree_selected;
        } else if h > 0 && self.tree_selected >= self.tree_offset + h {
            self.tree_offset = self.tree_selected + 1 - h;
        }
        let w = list.width as usize;
        let mark = ExpiryBand::Within30Days.symbol(sh.unicode);
        let lines: Vec<Line> = self
            .groups
            .iter()
            .enumerate()
            .skip(self.tree_offset)
            .take(h)
            .map(|(i, g)| {
                let counts = if g.expiring > 0 {
                    format!(" {} {mark}{}", g.count, g.expiring)
                } else {
                    format!(" {}", g.count)
                };
                let indent = if g.key.is_some() { " " } else { "" };
                let name_w = w.saturating_sub(counts.chars().count() + indent.len());
                let name = fit(&self.group_label(g), name_w, sh.unicode);
                let pad = name_w.saturating_sub(unicode_width::UnicodeWidthStr::width(name.as_str()));
                let style = if i == self.tree_selected {
                    if focused { st("ui.selection") } else { st("ui.selection.unfocused") }
                } else if matches!(g.key, Some(None)) {
                    st("flag.unowned")
                } else {
                    st("ui.text")
                };
                let count_style = if i == self.tree_selected {
                    style
                } else if g.expiring > 0 {
                    st("expiry.month")
                } else {
                    st("ui.text.dim")
                };
                Line::from(vec![
                    Span::styled(format!("{indent}{name}{}", " ".repeat(pad)), style),
                    Span::styled(counts, count_style),
                ])
            })
            .collect();
        f.render_widget(Paragraph::new(lines), list);
    }
}

impl View for InventoryView {
    fn name(&self) -> &'static str {
        self.name
    }

    fn title(&self, sh: &Shared) -> String {
        if !sh.inventory.loaded {
            return "Certificates (loading…)".into();
        }
        let group = match self.groups.get(self.tree_selected) {
            Some(g) if g.key.is_some() => format!(" · {}", self.group_label(g)),
            _ => String::new(),
        };
        format!(
            "Certificates{group} ({} of {})",
            self.visible.len(),
            sh.inventory.rows.len()
        )
    }

    fn bindings(&self) -> &'static [Binding] {
        if self.may_renew {
            BINDINGS_RENEW
        } else {
            BINDINGS
        }
    }

    fn refresh(&mut self, sh: &mut Shared) {
        self.may_renew = renewal::may_renew(sh);
    }

    fn filter(&self) -> Option<&str> {
        Some(&self.filter_text)
    }

    fn set_filter(&mut self, text: &str, sh: &Shared) -> Result<(), String> {
        let f = Filter::parse(text).map_err(|e| crate::sanitize::sanitize(&e.to_string()).into_owned())?;
        self.filter_text = text.to_string();
        self.filter = f;
        self.refilter(sh);
        Ok(())
    }

    fn on_inventory(&mut self, sh: &Shared) {
        self.resort(sh);
        self.refilter(sh);
    }

    fn export(&self, sh: &Shared) -> Option<Export> {
        Some(Export::Certificates(
            self.visible
                .iter()
                .map(|&i| sh.inventory.rows[i as usize].clone())
                .collect(),
        ))
    }

    fn on_action(&mut self, a: &Action, sh: &mut Shared) -> Flow {
        let page = self.page.max(1) as isize;
        match a {
            Action::Up => self.move_by(-1, sh),
            Action::Down => self.move_by(1, sh),
            Action::PageUp => self.move_by(-page, sh),
            Action::PageDown => self.move_by(page, sh),
            Action::Top => self.move_by(isize::MIN / 2, sh),
            Action::Bottom => self.move_by(isize::MAX / 2, sh),
            Action::SwitchPane => {
                self.focus = match self.focus {
                    Pane::Tree => Pane::Table,
                    Pane::Table => Pane::Tree,
                }
            }
            Action::NextGrouping => {
                self.grouping = self.grouping.next();
                self.tree_selected = 0;
                self.groups.clear();
                self.refilter(sh);
            }
            Action::SortNext => {
                let i = SORT_CYCLE.iter().position(|k| *k == self.sort).unwrap_or(0);
                self.sort = SORT_CYCLE[(i + 1) % SORT_CYCLE.len()];
                self.descending = false;
                self.resort(sh);
                self.refilter(sh);
                return Flow::Message(format!("sorted by {}", sort_name(self.sort)));
            }
            Action::SortReverse => {
                self.descending = !self.descending;
                self.resort(sh);
                self.refilter(sh);
            }
            Action::Open => match self.focus {
                Pane::Tree => self.focus = Pane::Table,
                Pane::Table => match self.current(sh) {
                    Some(r) => return Flow::Open(detail::DetailView::open_row(sh, r.id)),
                    None => return Flow::Error("no certificate selected".into()),
                },
            },
            Action::View("renew") => {
                if self.focus == Pane::Tree {
                    return Flow::Error("pick a certificate in the table first (Tab)".into());
                }
                return match self.current(sh) {
                    None => Flow::Error("no certificate selected".into()),
                    Some(r) => match &r.identity {
                        Some(i) => renewal::ask(sh, i),
                        None => Flow::Error(format!(
                            "{} has no identity: nothing to renew (adopt it into an identity first)",
                            text(r.display_name())
                        )),
                    },
                };
            }
            Action::Back if self.focus == Pane::Table && self.tree_selected != 0 && self.filter_text.is_empty() => {
                self.tree_selected = 0;
                self.regroup(sh);
            }
            _ => return Flow::Ignored,
        }
        Flow::Handled
    }

    fn render(&mut self, f: &mut Frame, area: Rect, sh: &Shared) {
        if let Some(e) = &sh.inventory.error {
            f.render_widget(
                Paragraph::new(Span::styled(text(e).into_owned(), sh.theme.style("ui.error"))),
                area,
            );
            return;
        }
        if !sh.inventory.loaded {
            f.render_widget(
                Paragraph::new(Span::styled("loading the inventory…", sh.theme.style("ui.text.dim"))),
                area,
            );
            return;
        }
        let tree_w = (area.width / 4).clamp(18, 34);
        let [tree, table] =
            Layout::horizontal([Constraint::Length(tree_w), Constraint::Min(10)]).areas(area);
        self.render_tree(f, tree, sh);
        let table = Rect { x: table.x + 1, width: table.width.saturating_sub(1), ..table };
        if self.visible.is_empty() {
            let msg = if self.filter_text.is_empty() {
                "no certificates (import some: certdeck import PATH)".to_string()
            } else {
                "no certificate matches the filter (Esc clears it)".to_string()
            };
            f.render_widget(Paragraph::new(Span::styled(msg, sh.theme.style("ui.text.dim"))), table);
            return;
        }
        self.page = cert_table::render(
            f,
            table,
            sh,
            cert_table::TableView {
                rows: &sh.inventory.rows,
                indices: &self.visible,
                selected: self.selected,
                offset: &mut self.offset,
                focused: self.focus == Pane::Table,
                sort: self.sort,
                descending: self.descending,
            },
        );
    }
}

fn sort_name(k: SortKey) -> &'static str {
    match k {
        SortKey::NotAfter => "days left",
        SortKey::NotBefore => "not before",
        SortKey::Name => "name",
        SortKey::Owner => "owner",
        SortKey::Authority => "CA",
        SortKey::Environment => "environment",
        SortKey::Serial => "serial",
        SortKey::Key => "key",
        SortKey::Status => "status",
    }
}
