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
    /// Who may do what beyond the RACI matrix (see docs/access.md).
    #[serde(default)]
    pub access: AccessConfig,
    /// Request thresholds and expiry (see docs/access.md).
    #[serde(default)]
    pub workflow: WorkflowConfig,
}

/// What users without any role may do.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Unassigned {
    /// Read the inventory and the audit log (the default).
    #[default]
    Read,
    /// Nothing at all.
    None,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AccessConfig {
    pub unassigned: Unassigned,
    /// A service account unused this many days is a finding.
    pub service_account_unused_days: i64,
}

impl Default for AccessConfig {
    fn default() -> Self {
        AccessConfig {
            unassigned: Unassigned::Read,
            service_account_unused_days: 90,
        }
    }
}

/// How one kind of request is decided.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ReviewRule {
    /// Approvals needed (each from a different reviewer).
    pub approvals: u32,
    /// The approvals must come from that many different roles.
    pub distinct_roles: bool,
    /// Holders of R (not only A) for the activity may approve.
    pub responsible_may_approve: bool,
}

impl Default for ReviewRule {
    fn default() -> Self {
        ReviewRule {
            approvals: 1,
            distinct_roles: false,
            responsible_may_approve: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct WorkflowConfig {
    /// A pending request expires after this many hours.
    pub pending_expiry_hours: u32,
    /// The longest exception anyone may ask for, in days (exceptions always expire).
    pub exception_max_days: u32,
    /// An approved issuance request authorises renewals (same names, profile, authority)
    /// for this many days after approval; then a new approval is needed. 0 = no lapse.
    pub issuance_approval_days: u32,
    pub issuance: ReviewRule,
    pub delegation: ReviewRule,
    pub exception: ReviewRule,
    pub ca_approval: ReviewRule,
    pub revocation: ReviewRule,
}

impl Default for WorkflowConfig {
    fn default() -> Self {
        WorkflowConfig {
            pending_expiry_hours: 7 * 24,
            exception_max_days: 90,
            issuance_approval_days: 365,
            issuance: ReviewRule::default(),
            delegation: ReviewRule::default(),
            exception: ReviewRule::default(),
            ca_approval: ReviewRule::default(),
            revocation: ReviewRule::default(),
        }
    }
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

    #[test]
    fn access_and_workflow_sections_load_with_defaults_for_the_rest() {
        let c = Config::parse(
            "[access]\nunassigned = \"none\"\n[workflow.delegation]\napprovals = 2\ndistinct_roles = true\n",
            Path::new("c"),
        )
        .unwrap();
        assert_eq!(c.access.unassigned, Unassigned::None);
        assert_eq!(c.workflow.delegation.approvals, 2);
        assert_eq!(c.workflow.exception.approvals, 1);
        assert_eq!(c.workflow.pending_expiry_hours, 168);
    }
}
