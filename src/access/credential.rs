//! Credential references (DESIGN.md rule 7): `env:NAME`, `file:/path`, `exec:command`.
//! Only the reference is stored; the secret is resolved for the call that needs it, held
//! in zeroizing memory, and never reaches the store, the audit log or the screen.

use std::fmt;
use std::path::PathBuf;
use zeroize::Zeroizing;

#[derive(Clone, PartialEq, Eq)]
pub enum CredentialRef {
    Env(String),
    File(PathBuf),
    Exec(String),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CredentialError {
    #[error("credential reference {0:?} must start with env:, file: or exec:")]
    Syntax(String),
    #[error(
        "credential file {path} has mode {mode:o}: it must be 0600 or 0400 (chmod 600 {path})"
    )]
    Mode { path: String, mode: u32 },
    #[error("credential file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("credential variable {0} is not set")]
    EnvMissing(String),
    #[error("credential command failed: {0}")]
    Exec(String),
}

impl CredentialRef {
    /// Parses a reference. Only the shape is checked here; [`CredentialRef::check`]
    /// checks that a file reference is safe to use.
    pub fn parse(s: &str) -> Result<CredentialRef, CredentialError> {
        let bad = || CredentialError::Syntax(s.to_string());
        if let Some(v) = s.strip_prefix("env:") {
            let ok = !v.is_empty()
                && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !v.starts_with(|c: char| c.is_ascii_digit());
            return if ok {
                Ok(CredentialRef::Env(v.into()))
            } else {
                Err(bad())
            };
        }
        if let Some(v) = s.strip_prefix("file:") {
            return if v.starts_with('/') {
                Ok(CredentialRef::File(PathBuf::from(v)))
            } else {
                Err(bad())
            };
        }
        if let Some(v) = s.strip_prefix("exec:") {
            return if v.trim().is_empty() {
                Err(bad())
            } else {
                Ok(CredentialRef::Exec(v.trim().into()))
            };
        }
        Err(bad())
    }

    /// The kind of reference, for displays that show no more than that.
    pub fn kind(&self) -> &'static str {
        match self {
            CredentialRef::Env(_) => "env",
            CredentialRef::File(_) => "file",
            CredentialRef::Exec(_) => "exec",
        }
    }

    /// Refuses a file that others could read or write (mode must be 0600 or 0400) or that
    /// is not a regular file. Other kinds need nothing up front.
    pub fn check(&self) -> Result<(), CredentialError> {
        if let CredentialRef::File(p) = self {
            use std::os::unix::fs::PermissionsExt;
            let path = p.display().to_string();
            let m = std::fs::metadata(p).map_err(|e| CredentialError::File {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            if !m.is_file() {
                return Err(CredentialError::File {
                    path,
                    reason: "not a regular file".into(),
                });
            }
            let mode = m.permissions().mode() & 0o7777;
            if mode != 0o600 && mode != 0o400 {
                return Err(CredentialError::Mode { path, mode });
            }
        }
        Ok(())
    }

    /// The secret itself, for the duration of one call. Trailing newlines are dropped.
    pub fn resolve(&self) -> Result<Zeroizing<Vec<u8>>, CredentialError> {
        self.check()?;
        let mut v = match self {
            CredentialRef::Env(name) => std::env::var_os(name)
                .map(|v| Zeroizing::new(v.into_encoded_bytes()))
                .ok_or_else(|| CredentialError::EnvMissing(name.clone()))?,
            CredentialRef::File(p) => {
                Zeroizing::new(std::fs::read(p).map_err(|e| CredentialError::File {
                    path: p.display().to_string(),
                    reason: e.to_string(),
                })?)
            }
            CredentialRef::Exec(cmd) => {
                let out = std::process::Command::new("/bin/sh")
                    .arg("-c")
                    .arg(cmd)
                    .stdin(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .output()
                    .map_err(|e| CredentialError::Exec(e.to_string()))?;
                let stdout = Zeroizing::new(out.stdout);
                if !out.status.success() {
                    return Err(CredentialError::Exec(format!("exited with {}", out.status)));
                }
                Zeroizing::new(stdout.to_vec())
            }
        };
        while v.last() == Some(&b'\n') || v.last() == Some(&b'\r') {
            v.pop();
        }
        Ok(v)
    }
}

/// The reference as written (it names where the secret is, not the secret).
impl fmt::Display for CredentialRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialRef::Env(n) => write!(f, "env:{n}"),
            CredentialRef::File(p) => write!(f, "file:{}", p.display()),
            CredentialRef::Exec(c) => write!(f, "exec:{c}"),
        }
    }
}

impl fmt::Debug for CredentialRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CredentialRef({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn references_parse_by_kind() {
        assert_eq!(
            CredentialRef::parse("env:ACME_KEY").unwrap(),
            CredentialRef::Env("ACME_KEY".into())
        );
        assert_eq!(
            CredentialRef::parse("file:/etc/certdeck/token")
                .unwrap()
                .kind(),
            "file"
        );
        assert_eq!(
            CredentialRef::parse("exec:pass show x").unwrap().kind(),
            "exec"
        );
        for bad in [
            "ACME_KEY",
            "env:",
            "env:A-B",
            "file:relative",
            "exec:  ",
            "vault:x",
        ] {
            assert!(CredentialRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_file_readable_by_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("token");
        std::fs::write(&p, "s3cret\n").unwrap();
        let r = CredentialRef::File(p.clone());
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            r.check(),
            Err(CredentialError::Mode { mode: 0o644, .. })
        ));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(r.resolve().unwrap().as_slice(), b"s3cret");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert!(r.check().is_ok());
    }

    #[test]
    fn exec_references_run_the_command() {
        let r = CredentialRef::parse("exec:printf tok").unwrap();
        assert_eq!(r.resolve().unwrap().as_slice(), b"tok");
        assert!(CredentialRef::parse("exec:false")
            .unwrap()
            .resolve()
            .is_err());
    }
}
