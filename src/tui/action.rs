//! What a key press means, independent of which key it was: the keymap turns keys into
//! actions, the app and the views turn actions into state changes.

/// An action the console can perform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Quit,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Open,
    Back,
    SwitchPane,
    /// Start typing a `/` filter for the current view.
    Filter,
    /// Start typing a `:` command.
    Command,
    Help,
    /// Export the current filtered list (asks for the path).
    Export,
    /// Next sort column / reverse the sort.
    SortNext,
    SortReverse,
    /// Next grouping of the inventory tree (owners → CAs → environments).
    NextGrouping,
    Refresh,
    /// A view's own action, named in its bindings (`approve`, `deny`, ...).
    View(&'static str),
}
