//! The config file (TOML, in the XDG config dir, or `--config PATH`). Unknown keys are
//! errors that name the file, line and key, so a typo never silently changes behaviour.

use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Database file; `--db` and `CERTDECK_DB` take precedence.
    pub database: Option<PathBuf>,
    /// Console theme name (see `themes/`); `--theme` takes precedence.
    pub theme: Option<String>,
    /// Directory of policy profiles (`*.toml`).
    pub policy_dir: Option<PathBuf>,
    /// The lifecycle engine's timings and thresholds (`[lifecycle]`).
    #[serde(default)]
    pub lifecycle: crate::lifecycle::Settings,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config {path}: {message}")]
    Parse { path: String, message: String },
}

pub fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "certdeck")
}

/// The default config file location (it need not exist).
pub fn default_config_path() -> Option<PathBuf> {
    project_dirs().map(|d| d.config_dir().join("config.toml"))
}

/// The default database location when neither `--db`, `CERTDECK_DB` nor the config name one.
pub fn default_database_path() -> PathBuf {
    project_dirs()
        .map(|d| d.data_dir().join("certdeck.db"))
        .unwrap_or_else(|| PathBuf::from("certdeck.db"))
}

impl Config {
    /// Loads `explicit` (an error if missing) or the default file (fine if missing).
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let (path, required) = match explicit {
            Some(p) => (p.to_path_buf(), true),
            None => match default_config_path() {
                Some(p) => (p, false),
                None => return Ok(Config::default()),
            },
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                return Ok(Config::default())
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.display().to_string(),
                    source,
                })
            }
        };
        Self::parse(&text, &path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.display().to_string(),
            message: located_toml_error(text, &e),
        })
    }
}

/// Formats a TOML error as `line L, column C: message`, the way every certdeck file
/// error is located.
pub fn located_toml_error(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim().to_string();
    match e.span() {
        Some(span) => {
            let (line, col) = line_col(text, span.start);
            format!("line {line}, column {col}: {msg}")
        }
        None => msg,
    }
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_located_errors() {
        let err = Config::parse(
            "theme = \"light\"\ndatabse = \"x\"\n",
            Path::new("/etc/c.toml"),
        )
        .unwrap_err();
        let s = err.to_string();
        assert!(
            s.contains("/etc/c.toml") && s.contains("line 2") && s.contains("databse"),
            "{s}"
        );
    }

    #[test]
    fn a_valid_file_loads() {
        let c = Config::parse(
            "theme = \"mono\"\npolicy_dir = \"/etc/certdeck/policy\"\n",
            Path::new("c"),
        )
        .unwrap();
        assert_eq!(c.theme.as_deref(), Some("mono"));
    }
}
