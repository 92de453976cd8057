//! Deployment: putting a certificate and its key where a server reads them, making the
//! server pick them up, and proving it serves them. Files are written to a temporary
//! file in the same directory and renamed, so a reader (or a crash) never sees half a
//! file. Issuance is not deployment: only [`verify::served`] says a renewal is done.

pub mod files;
pub mod reload;
pub mod verify;

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use zeroize::Zeroizing;

/// One deployment target as an estate file declares it (`[[identity.target]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    /// Only `file` today.
    #[serde(default = "file_kind")]
    pub kind: String,
    /// The certificate followed by its chain (what nginx, HAProxy and most servers read).
    pub cert: PathBuf,
    /// The private key (written with `key_mode`, default 0600).
    pub key: PathBuf,
    /// The leaf certificate alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaf: Option<PathBuf>,
    /// The intermediates alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<PathBuf>,
    /// Leaf and chain (the same content as `cert`, for servers that want both files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fullchain: Option<PathBuf>,
    /// Octal mode of certificate files (default "0644").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Octal mode of the key file (default "0600"; wider modes are refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_mode: Option<String>,
    /// Owner and group of the written files (applied only when certdeck runs as root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Command run (by `sh -c`) after the files are in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reload: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reload_timeout_seconds: Option<u64>,
    /// `host:port` to handshake with after the reload; SNI is the identity's first SAN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<String>,
}

fn file_kind() -> String {
    "file".into()
}

impl TargetSpec {
    /// Checks the fields that cannot be checked by their type; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.kind != "file" {
            return Err(format!(
                "kind: unknown target kind {:?} (expected file)",
                self.kind
            ));
        }
        for (field, p) in [("cert", Some(&self.cert)), ("key", Some(&self.key))]
            .into_iter()
            .chain([
                ("leaf", self.leaf.as_ref()),
                ("chain", self.chain.as_ref()),
                ("fullchain", self.fullchain.as_ref()),
            ])
        {
            if let Some(p) = p {
                if !p.is_absolute() {
                    return Err(format!("{field}: {} is not an absolute path", p.display()));
                }
            }
        }
        self.cert_mode()?;
        let km = self.key_mode()?;
        if km & 0o037 != 0 {
            return Err(format!(
                "key_mode: {km:04o} lets others read or change the private key; use 0600 (or 0640 for a server group)"
            ));
        }
        if let Some(v) = &self.verify {
            verify::parse_addr(v).map_err(|e| format!("verify: {e}"))?;
        }
        Ok(())
    }

    pub fn cert_mode(&self) -> Result<u32, String> {
        parse_mode("mode", self.mode.as_deref(), 0o644)
    }

    pub fn key_mode(&self) -> Result<u32, String> {
        parse_mode("key_mode", self.key_mode.as_deref(), 0o600)
    }

    /// Where a job keeps the new key between ordering and deployment: beside the key
    /// file, mode 0600, so the key never leaves the target's directory.
    pub fn staging_key_path(&self) -> PathBuf {
        let mut name = self
            .key
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        name.push(".certdeck-pending");
        self.key.with_file_name(name)
    }
}

fn parse_mode(field: &str, v: Option<&str>, default: u32) -> Result<u32, String> {
    match v {
        None => Ok(default),
        Some(s) => u32::from_str_radix(s.trim_start_matches("0o"), 8)
            .ok()
            .filter(|m| *m <= 0o777)
            .ok_or_else(|| format!("{field}: {s:?} is not an octal file mode like \"0644\"")),
    }
}

/// What is deployed: the certificate, its chain, and the key (wiped when dropped).
pub struct Material {
    pub leaf_pem: String,
    pub chain_pem: String,
    pub key_pem: Zeroizing<String>,
}

impl Material {
    pub fn fullchain(&self) -> String {
        format!("{}{}", self.leaf_pem, self.chain_pem)
    }
}

/// PEM for a list of DER certificates.
pub fn pem_certs(ders: &[Vec<u8>]) -> String {
    use base64::Engine;
    let mut out = String::new();
    for d in ders {
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        let b = base64::engine::general_purpose::STANDARD.encode(d);
        for chunk in b.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> TargetSpec {
        toml::from_str("cert = \"/t/c.pem\"\nkey = \"/t/k.pem\"\n").unwrap()
    }

    #[test]
    fn defaults_are_file_kind_and_private_key_mode() {
        let t = spec();
        assert_eq!(t.kind, "file");
        assert_eq!(t.key_mode().unwrap(), 0o600);
        assert_eq!(t.cert_mode().unwrap(), 0o644);
        assert_eq!(
            t.staging_key_path(),
            PathBuf::from("/t/k.pem.certdeck-pending")
        );
        t.validate().unwrap();
    }

    #[test]
    fn world_readable_keys_and_relative_paths_are_refused() {
        let mut t = spec();
        t.key_mode = Some("0644".into());
        assert!(t.validate().unwrap_err().starts_with("key_mode"));
        let mut t = spec();
        t.cert = "rel.pem".into();
        assert!(t.validate().unwrap_err().starts_with("cert"));
        let e = toml::from_str::<TargetSpec>("cert = \"/a\"\nkey = \"/b\"\ncertt = 1\n");
        assert!(e.is_err());
    }
}
