//! One keymap, as data: each binding names its action, keys, description, and whether
//! the action is dangerous. The help overlay and the footer hints are generated from it,
//! and in `--readonly` mode dangerous bindings are removed before anything looks keys up,
//! so a hidden action cannot be triggered either (k9s' rule, DESIGN.md §5).

use super::action::Action;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone)]
pub struct Binding {
    pub action: Action,
    /// Keys as written in help: `j`, `Down`, `PgDn`, `Ctrl-c`, `G`, `?`.
    pub keys: &'static [&'static str],
    pub description: &'static str,
    /// Changes the inventory in a way that needs care; hidden in read-only mode.
    pub dangerous: bool,
    /// Shown in the footer (the rest only in help).
    pub hint: bool,
}

impl Binding {
    pub const fn new(
        action: Action,
        keys: &'static [&'static str],
        description: &'static str,
    ) -> Binding {
        Binding {
            action,
            keys,
            description,
            dangerous: false,
            hint: false,
        }
    }
    pub const fn hinted(mut self) -> Binding {
        self.hint = true;
        self
    }
    pub const fn dangerous(mut self) -> Binding {
        self.dangerous = true;
        self
    }
}

/// Bindings every view has.
pub fn global() -> Vec<Binding> {
    use Action::*;
    vec![
        Binding::new(Up, &["k", "Up"], "move up"),
        Binding::new(Down, &["j", "Down"], "move down"),
        Binding::new(PageUp, &["PgUp", "Ctrl-b"], "page up"),
        Binding::new(PageDown, &["PgDn", "Ctrl-f"], "page down"),
        Binding::new(Top, &["g", "Home"], "go to the top"),
        Binding::new(Bottom, &["G", "End"], "go to the bottom"),
        Binding::new(Open, &["Enter"], "open").hinted(),
        Binding::new(Back, &["Esc"], "back / clear filter").hinted(),
        Binding::new(Filter, &["/"], "filter (query words)").hinted(),
        Binding::new(Command, &[":"], "command: go to a view").hinted(),
        Binding::new(Help, &["?"], "help").hinted(),
        Binding::new(Refresh, &["Ctrl-r"], "reload from the database"),
        Binding::new(Quit, &["q", "Ctrl-c"], "quit").hinted(),
    ]
}

/// The keymap in force: global bindings plus the current view's, without the dangerous
/// ones in read-only mode.
#[derive(Debug, Clone)]
pub struct Keymap {
    pub bindings: Vec<Binding>,
}

impl Keymap {
    pub fn effective(view: &[Binding], readonly: bool) -> Keymap {
        // The view's bindings come first so a view may give a global key a local meaning.
        let bindings = view
            .iter()
            .cloned()
            .chain(global())
            .filter(|b| !(readonly && b.dangerous))
            .collect();
        Keymap { bindings }
    }

    pub fn action_for(&self, key: &KeyEvent) -> Option<Action> {
        self.bindings
            .iter()
            .find(|b| b.keys.iter().any(|k| key_matches(k, key)))
            .map(|b| b.action.clone())
    }

    /// `key description` pairs for the footer.
    pub fn hints(&self) -> Vec<(&'static str, &'static str)> {
        let mut seen = Vec::new();
        let mut out = Vec::new();
        for b in self.bindings.iter().filter(|b| b.hint) {
            if seen.contains(&b.action) {
                continue;
            }
            seen.push(b.action.clone());
            out.push((b.keys[0], short(b.description)));
        }
        out
    }
}

/// The footer shows only the first word group before a `(` or `:`.
fn short(d: &'static str) -> &'static str {
    let cut = d.find([' ', '(', ':']).map(|i| &d[..i]).unwrap_or(d);
    cut.trim()
}

/// Whether the key written as `spec` (as in help) is the pressed key.
pub fn key_matches(spec: &str, key: &KeyEvent) -> bool {
    let (mods, name) = match spec.strip_prefix("Ctrl-") {
        Some(rest) => (KeyModifiers::CONTROL, rest),
        None => (KeyModifiers::NONE, spec),
    };
    let code = match name {
        "Up" => KeyCode::Up,
        "Down" => KeyCode::Down,
        "Left" => KeyCode::Left,
        "Right" => KeyCode::Right,
        "PgUp" => KeyCode::PageUp,
        "PgDn" => KeyCode::PageDown,
        "Home" => KeyCode::Home,
        "End" => KeyCode::End,
        "Enter" => KeyCode::Enter,
        "Esc" => KeyCode::Esc,
        "Tab" => KeyCode::Tab,
        "BackTab" => KeyCode::BackTab,
        "Space" => KeyCode::Char(' '),
        s if s.chars().count() == 1 => KeyCode::Char(s.chars().next().unwrap_or(' ')),
        _ => return false,
    };
    if key.code != code {
        return false;
    }
    // Shift is part of the character for printable keys (`G`, `?`, `:`).
    key.modifiers - KeyModifiers::SHIFT == mods
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(c, m)
    }

    #[test]
    fn keys_resolve_to_actions_with_vim_and_arrow_aliases() {
        let km = Keymap::effective(&[], false);
        assert_eq!(
            km.action_for(&key(KeyCode::Char('j'), KeyModifiers::NONE)),
            Some(Action::Down)
        );
        assert_eq!(
            km.action_for(&key(KeyCode::Down, KeyModifiers::NONE)),
            Some(Action::Down)
        );
        assert_eq!(
            km.action_for(&key(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Action::Bottom)
        );
        assert_eq!(
            km.action_for(&key(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(
            km.action_for(&key(KeyCode::Char('c'), KeyModifiers::NONE)),
            None
        );
        assert_eq!(
            km.action_for(&key(KeyCode::Char('?'), KeyModifiers::SHIFT)),
            Some(Action::Help)
        );
    }

    #[test]
    fn readonly_removes_dangerous_bindings_from_lookup_hints_and_help() {
        const VIEW: &[Binding] = &[
            Binding::new(Action::View("approve"), &["a"], "approve the request")
                .hinted()
                .dangerous(),
            Binding::new(Action::View("details"), &["d"], "details").hinted(),
        ];
        let rw = Keymap::effective(VIEW, false);
        let ro = Keymap::effective(VIEW, true);
        let a = key(KeyCode::Char('a'), KeyModifiers::NONE);
        assert_eq!(rw.action_for(&a), Some(Action::View("approve")));
        assert_eq!(ro.action_for(&a), None);
        assert!(rw.hints().iter().any(|(k, _)| *k == "a"));
        assert!(!ro.hints().iter().any(|(k, _)| *k == "a"));
        assert!(ro.hints().iter().any(|(k, _)| *k == "d"));
        assert!(!ro.bindings.iter().any(|b| b.dangerous));
    }

    #[test]
    fn a_view_binding_shadows_a_global_key() {
        const VIEW: &[Binding] = &[Binding::new(Action::View("grep"), &["g"], "grep")];
        let km = Keymap::effective(VIEW, false);
        assert_eq!(
            km.action_for(&key(KeyCode::Char('g'), KeyModifiers::NONE)),
            Some(Action::View("grep"))
        );
        assert_eq!(
            km.action_for(&key(KeyCode::Home, KeyModifiers::NONE)),
            Some(Action::Top)
        );
    }
}
