//! Themes as data (DESIGN.md §5, after Helix's `runtime/themes`): a TOML file of named
//! styles over a palette, optionally starting from another theme with `inherits`. The
//! five shipped themes are embedded in the binary; a file of the same name in
//! `<config dir>/themes/` replaces one, and new names can be added there.

use ratatui::style::{Color, Modifier, Style};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The themes compiled into the binary.
pub const BUILTIN: &[(&str, &str)] = &[
    ("default", include_str!("../../themes/default.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    ("ansi16", include_str!("../../themes/ansi16.toml")),
    ("mono", include_str!("../../themes/mono.toml")),
];

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("theme {name}: {message}")]
pub struct ThemeError {
    pub name: String,
    pub message: String,
}

/// A resolved theme: scope name → style.
#[derive(Debug, Clone, Default)]
pub struct Theme {
    pub name: String,
    styles: HashMap<String, Style>,
}

impl Theme {
    /// The style for `scope`, falling back to its parents (`a.b.c` → `a.b` → `a`), then
    /// to no style at all.
    pub fn style(&self, scope: &str) -> Style {
        let mut s = scope;
        loop {
            if let Some(st) = self.styles.get(s) {
                return *st;
            }
            match s.rfind('.') {
                Some(i) => s = &s[..i],
                None => return Style::default(),
            }
        }
    }

    /// Every scope the theme defines, for tests and `--theme` diagnostics.
    pub fn scopes(&self) -> impl Iterator<Item = (&str, &Style)> {
        self.styles.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Loads `name`, looking first in `config_dir/themes/NAME.toml`, then in the
    /// built-in set.
    pub fn load(name: &str, config_dir: Option<&Path>) -> Result<Theme, ThemeError> {
        let mut chain = Vec::new();
        let mut palette: HashMap<String, String> = HashMap::new();
        let mut raw_styles: HashMap<String, toml::Value> = HashMap::new();
        // Walk up the `inherits` chain, then apply from the root down.
        let mut cur = name.to_string();
        let mut docs = Vec::new();
        loop {
            if chain.contains(&cur) {
                return Err(ThemeError {
                    name: name.into(),
                    message: format!("inherits loop through {cur}"),
                });
            }
            chain.push(cur.clone());
            let text = theme_text(&cur, config_dir)?;
            let doc: toml::Table = toml::from_str(&text).map_err(|e| ThemeError {
                name: cur.clone(),
                message: crate::config::located_toml_error(&text, &e),
            })?;
            let parent = doc
                .get("inherits")
                .and_then(|v| v.as_str())
                .map(str::to_string);
            docs.push((cur.clone(), doc));
            match parent {
                Some(p) => cur = p,
                None => break,
            }
        }
        for (tname, doc) in docs.into_iter().rev() {
            for (k, v) in doc {
                match k.as_str() {
                    "inherits" => {}
                    "palette" => {
                        let Some(t) = v.as_table() else {
                            return Err(ThemeError {
                                name: tname,
                                message: "[palette] must be a table".into(),
                            });
                        };
                        for (pk, pv) in t {
                            let Some(s) = pv.as_str() else {
                                return Err(ThemeError {
                                    name: tname,
                                    message: format!("palette colour {pk} must be a string"),
                                });
                            };
                            palette.insert(pk.clone(), s.to_string());
                        }
                    }
                    _ => {
                        raw_styles.insert(k, v);
                    }
                }
            }
        }
        let mut styles = HashMap::new();
        for (scope, v) in raw_styles {
            let st = parse_style(&v, &palette).map_err(|m| ThemeError {
                name: name.into(),
                message: format!("{scope}: {m}"),
            })?;
            styles.insert(scope, st);
        }
        Ok(Theme {
            name: name.to_string(),
            styles,
        })
    }

    /// The theme the console starts with: `--theme`, else `mono` when `NO_COLOR` is set,
    /// else the config's theme, else `default`.
    pub fn choose(flag: Option<&str>, no_color: bool, config_theme: Option<&str>) -> String {
        match (flag, no_color, config_theme) {
            (Some(f), _, _) => f.to_string(),
            (None, true, _) => "mono".to_string(),
            (None, false, Some(c)) => c.to_string(),
            (None, false, None) => "default".to_string(),
        }
    }
}

/// `NO_COLOR` set to anything non-empty (no-color.org).
pub fn no_color_requested() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// The config dir, whose `themes/` holds operators' own theme files.
pub fn user_config_dir() -> Option<PathBuf> {
    crate::config::project_dirs().map(|d| d.config_dir().to_path_buf())
}

fn theme_text(name: &str, config_dir: Option<&Path>) -> Result<String, ThemeError> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(ThemeError {
            name: crate::sanitize::sanitize(name).into_owned(),
            message: "a theme name is letters, digits, - and _".into(),
        });
    }
    if let Some(dir) = config_dir {
        let p = dir.join("themes").join(format!("{name}.toml"));
        match std::fs::read_to_string(&p) {
            Ok(t) => return Ok(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(ThemeError {
                    name: name.into(),
                    message: format!("{}: {e}", crate::sanitize::sanitize_path(&p)),
                })
            }
        }
    }
    BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| t.to_string())
        .ok_or_else(|| ThemeError {
            name: name.into(),
            message: format!(
                "no such theme (built in: {})",
                BUILTIN
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
}

fn parse_color(s: &str, palette: &HashMap<String, String>) -> Result<Color, String> {
    let resolved = palette.get(s).map(String::as_str).unwrap_or(s);
    resolved
        .parse::<Color>()
        .map_err(|_| format!("unknown colour {s:?}"))
}

fn parse_style(v: &toml::Value, palette: &HashMap<String, String>) -> Result<Style, String> {
    match v {
        toml::Value::String(s) => Ok(Style::default().fg(parse_color(s, palette)?)),
        toml::Value::Table(t) => {
            let mut st = Style::default();
            for (k, v) in t {
                match (k.as_str(), v) {
                    ("fg", toml::Value::String(c)) => st = st.fg(parse_color(c, palette)?),
                    ("bg", toml::Value::String(c)) => st = st.bg(parse_color(c, palette)?),
                    ("modifiers", toml::Value::Array(ms)) => {
                        for m in ms {
                            let m = m.as_str().ok_or("modifiers are strings")?;
                            st = st.add_modifier(parse_modifier(m)?);
                        }
                    }
                    (other, _) => return Err(format!("unknown style key {other:?}")),
                }
            }
            Ok(st)
        }
        _ => Err("a style is a colour string or { fg, bg, modifiers }".into()),
    }
}

fn parse_modifier(m: &str) -> Result<Modifier, String> {
    Ok(match m {
        "bold" => Modifier::BOLD,
        "dim" => Modifier::DIM,
        "italic" => Modifier::ITALIC,
        "underlined" => Modifier::UNDERLINED,
        "reversed" => Modifier::REVERSED,
        "crossed_out" => Modifier::CROSSED_OUT,
        "slow_blink" => Modifier::SLOW_BLINK,
        other => return Err(format!("unknown modifier {other:?}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_ansi16(c: Color) -> bool {
        !matches!(c, Color::Rgb(..) | Color::Indexed(_))
    }

    #[test]
    fn every_builtin_theme_loads_and_styles_the_same_scopes() {
        let default = Theme::load("default", None).unwrap();
        for (name, _) in BUILTIN {
            let t = Theme::load(name, None).unwrap();
            for (scope, _) in default.scopes() {
                assert!(
                    t.styles.contains_key(scope),
                    "theme {name} lacks scope {scope}"
                );
            }
        }
    }

    #[test]
    fn mono_has_no_colour_at_all_and_ansi16_only_the_sixteen() {
        let mono = Theme::load("mono", None).unwrap();
        for (scope, st) in mono.scopes() {
            assert!(
                st.fg.is_none() && st.bg.is_none(),
                "mono {scope} has colour"
            );
        }
        assert!(mono
            .style("expiry.expired")
            .add_modifier
            .contains(Modifier::REVERSED));
        let a16 = Theme::load("ansi16", None).unwrap();
        for (scope, st) in a16.scopes() {
            for c in [st.fg, st.bg].into_iter().flatten() {
                assert!(is_ansi16(c), "ansi16 {scope} uses {c:?}");
            }
        }
    }

    #[test]
    fn inherits_keeps_the_parent_scopes_and_overrides_the_palette() {
        let light = Theme::load("light", None).unwrap();
        assert_eq!(
            light.style("ui.title").fg,
            Some(Color::Rgb(0x05, 0x50, 0xae))
        );
        assert!(light
            .style("ui.title")
            .add_modifier
            .contains(Modifier::BOLD));
    }

    #[test]
    fn a_missing_scope_falls_back_to_its_parent() {
        let t = Theme::load("default", None).unwrap();
        assert_eq!(
            t.style("ui.border.focused.extra"),
            t.style("ui.border.focused")
        );
        assert_eq!(t.style("nothing.here"), Style::default());
    }

    #[test]
    fn a_file_in_the_config_dir_overrides_and_can_inherit_a_builtin() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("themes")).unwrap();
        std::fs::write(
            dir.path().join("themes/default.toml"),
            "\"ui.title\" = \"#010203\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("themes/ops.toml"),
            "inherits = \"mono\"\n\"expiry.ok\" = { modifiers = [\"italic\"] }\n",
        )
        .unwrap();
        let t = Theme::load("default", Some(dir.path())).unwrap();
        assert_eq!(t.style("ui.title").fg, Some(Color::Rgb(1, 2, 3)));
        let ops = Theme::load("ops", Some(dir.path())).unwrap();
        assert!(ops
            .style("expiry.ok")
            .add_modifier
            .contains(Modifier::ITALIC));
        assert!(ops
            .style("ui.selection")
            .add_modifier
            .contains(Modifier::REVERSED));
    }

    #[test]
    fn bad_themes_are_named_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("themes")).unwrap();
        std::fs::write(dir.path().join("themes/a.toml"), "inherits = \"b\"\n").unwrap();
        std::fs::write(dir.path().join("themes/b.toml"), "inherits = \"a\"\n").unwrap();
        std::fs::write(dir.path().join("themes/c.toml"), "\"x\" = \"nocolour\"\n").unwrap();
        std::fs::write(dir.path().join("themes/d.toml"), "\"x\" = {\n").unwrap();
        assert!(Theme::load("a", Some(dir.path()))
            .unwrap_err()
            .message
            .contains("loop"));
        assert!(Theme::load("c", Some(dir.path()))
            .unwrap_err()
            .message
            .contains("nocolour"));
        assert!(Theme::load("d", Some(dir.path()))
            .unwrap_err()
            .message
            .contains("line"));
        assert!(Theme::load("nope", None)
            .unwrap_err()
            .message
            .contains("no such theme"));
        assert!(Theme::load("../etc", None).is_err());
    }

    #[test]
    fn no_color_picks_mono_unless_a_theme_is_asked_for() {
        assert_eq!(Theme::choose(None, true, Some("light")), "mono");
        assert_eq!(Theme::choose(Some("light"), true, None), "light");
        assert_eq!(Theme::choose(None, false, Some("light")), "light");
        assert_eq!(Theme::choose(None, false, None), "default");
    }
}
