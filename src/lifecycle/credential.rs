//! Credential references (DESIGN.md rule 7): `env:NAME`, `file:/path` (refused unless
//! mode 0600 or 0400) or `exec:command`. The store keeps the reference; the secret is
//! resolved for the call, held in a wiped buffer, and never printed.

use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use zeroize::Zeroizing;

/// A resolved secret. `Debug` never shows it.
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
    pub fn as_str(&self) -> Result<&str, String> {
        std::str::from_utf8(&self.0).map_err(|_| "credential is not UTF-8 text".to_string())
    }
    /// The secret as text without its trailing newline (tokens in files usually end with one).
    pub fn trimmed(&self) -> Result<&str, String> {
        Ok(self.as_str()?.trim_end_matches(['\n', '\r']))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

/// Checks that a reference is well formed, without resolving it.
pub fn validate(reference: &str) -> Result<(), String> {
    match reference.split_once(':') {
        Some(("env", n)) if !n.is_empty() => Ok(()),
        Some(("file", p)) if p.starts_with('/') => Ok(()),
        Some(("exec", c)) if !c.trim().is_empty() => Ok(()),
        _ => Err(format!(
            "credential reference {reference:?} must be env:NAME, file:/absolute/path or exec:command"
        )),
    }
}

/// Resolves a reference to its secret.
pub fn resolve(reference: &str) -> Result<Secret, String> {
    validate(reference)?;
    let (kind, rest) = reference.split_once(':').expect("validated");
    match kind {
        "env" => std::env::var(rest)
            .map(|v| Secret(Zeroizing::new(v.into_bytes())))
            .map_err(|_| format!("environment variable {rest} is not set")),
        "file" => {
            let p = Path::new(rest);
            let meta = std::fs::metadata(p).map_err(|e| format!("{rest}: {e}"))?;
            let mode = meta.permissions().mode() & 0o777;
            if mode != 0o600 && mode != 0o400 {
                return Err(format!(
                    "{rest} has mode {mode:04o}; a credential file must be 0600 or 0400"
                ));
            }
            std::fs::read(p)
                .map(|b| Secret(Zeroizing::new(b)))
                .map_err(|e| format!("{rest}: {e}"))
        }
        _ => {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(rest)
                .stdin(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .output()
                .map_err(|e| format!("running the credential command: {e}"))?;
            if !out.status.success() {
                return Err(format!("the credential command exited with {}", out.status));
            }
            Ok(Secret(Zeroizing::new(out.stdout)))
        }
    }
}

/// Resolves a reference, creating the secret on first use when the reference is a file
/// that does not exist yet (a generated CA key, an ACME account key). Returns whether it
/// was created.
pub fn resolve_or_create(
    reference: &str,
    create: impl FnOnce() -> Result<Zeroizing<Vec<u8>>, String>,
) -> Result<(Secret, bool), String> {
    validate(reference)?;
    if let Some(path) = reference.strip_prefix("file:") {
        let p = Path::new(path);
        if !p.exists() {
            let bytes = create()?;
            if let Some(dir) = p.parent() {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(p)
                .map_err(|e| format!("{path}: {e}"))?;
            std::io::Write::write_all(&mut f, &bytes).map_err(|e| format!("{path}: {e}"))?;
            f.sync_all().map_err(|e| format!("{path}: {e}"))?;
            return Ok((Secret(bytes), true));
        }
    }
    resolve(reference).map(|s| (s, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_references_must_be_private() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        std::fs::write(&p, "s3cret\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let r = format!("file:{}", p.display());
        assert!(resolve(&r).unwrap_err().contains("0644"));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(resolve(&r).unwrap().trimmed().unwrap(), "s3cret");
    }

    #[test]
    fn exec_and_malformed_references() {
        assert_eq!(resolve("exec:printf tok").unwrap().as_str().unwrap(), "tok");
        assert!(validate("plain-secret").is_err());
        assert!(validate("file:relative").is_err());
        assert_eq!(
            format!("{:?}", resolve("exec:echo x").unwrap()),
            "Secret(redacted)"
        );
    }

    #[test]
    fn a_missing_file_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/acct.key");
        let r = format!("file:{}", p.display());
        let (_, created) = resolve_or_create(&r, || Ok(Zeroizing::new(b"k1".to_vec()))).unwrap();
        assert!(created);
        let (s, created) = resolve_or_create(&r, || Ok(Zeroizing::new(b"k2".to_vec()))).unwrap();
        assert!(!created);
        assert_eq!(s.bytes(), b"k1");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
