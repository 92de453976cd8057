//! Plain domain types shared by every layer. No I/O here.

use serde::{Deserialize, Serialize};
use std::fmt;
use time::OffsetDateTime;

/// Prod and non-prod are different worlds: different service accounts, different
/// authorities, different profiles. Nothing crosses between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Prod,
    Nonprod,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Prod => "prod",
            Environment::Nonprod => "nonprod",
        }
    }
    pub const ALL: [Environment; 2] = [Environment::Prod, Environment::Nonprod];
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Environment {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "prod" | "production" => Ok(Environment::Prod),
            "nonprod" | "non-prod" | "non_prod" => Ok(Environment::Nonprod),
            other => Err(format!(
                "unknown environment {other:?} (expected prod or nonprod)"
            )),
        }
    }
}

/// Lifecycle status of one observed certificate. `expired` is also derived from the
/// clock for display; the stored value changes only through `ops`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CertStatus {
    Active,
    Superseded,
    Revoked,
    Expired,
}

impl CertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CertStatus::Active => "active",
            CertStatus::Superseded => "superseded",
            CertStatus::Revoked => "revoked",
            CertStatus::Expired => "expired",
        }
    }
}

impl std::str::FromStr for CertStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "active" => Ok(CertStatus::Active),
            "superseded" => Ok(CertStatus::Superseded),
            "revoked" => Ok(CertStatus::Revoked),
            "expired" => Ok(CertStatus::Expired),
            other => Err(format!("unknown certificate status {other:?}")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SanKind {
    Dns,
    Ip,
    Email,
    Uri,
    Other,
}

impl SanKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SanKind::Dns => "dns",
            SanKind::Ip => "ip",
            SanKind::Email => "email",
            SanKind::Uri => "uri",
            SanKind::Other => "other",
        }
    }
    pub fn parse(s: &str) -> SanKind {
        match s {
            "dns" => SanKind::Dns,
            "ip" => SanKind::Ip,
            "email" => SanKind::Email,
            "uri" => SanKind::Uri,
            _ => SanKind::Other,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct San {
    pub kind: SanKind,
    pub value: String,
}

/// What certdeck keeps about one X.509 certificate, decoded once at import.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CertificateInfo {
    /// Lowercase hex SHA-256 of the DER: the certificate's identity in the inventory.
    pub fingerprint_sha256: String,
    /// Lowercase hex of the serial's DER content bytes (keeps sign and leading zeros).
    pub serial: String,
    pub subject: String,
    pub subject_cn: Option<String>,
    pub issuer: String,
    pub issuer_cn: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    pub sans: Vec<San>,
    /// `rsa`, `ecdsa`, `ed25519`, `ed448`, `dsa` or the OID when unknown.
    pub key_algorithm: String,
    pub key_bits: Option<u32>,
    /// Named curve for EC keys (`P-256`, `P-384`, ...).
    pub key_curve: Option<String>,
    /// e.g. `sha256WithRSAEncryption`, `ecdsa-with-SHA256`, `ED25519`.
    pub signature_algorithm: String,
    pub is_ca: bool,
    pub self_signed: bool,
    pub ski: Option<String>,
    pub aki: Option<String>,
}

/// One row of the inventory as the list, the console and exports show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CertRow {
    pub id: i64,
    pub fingerprint_sha256: String,
    pub serial: String,
    pub subject: String,
    pub subject_cn: Option<String>,
    pub issuer: String,
    pub issuer_cn: Option<String>,
    pub sans: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    pub key_algorithm: String,
    pub key_bits: Option<u32>,
    pub signature_algorithm: String,
    pub is_ca: bool,
    pub owner: Option<String>,
    pub authority: Option<String>,
    pub environment: Option<Environment>,
    pub identity: Option<String>,
    pub status: CertStatus,
    /// The policy profile the certificate is evaluated against: its identity's, else the
    /// first matching assignment rule's.
    pub profile: Option<String>,
    /// Stored compliance findings, each with the exception that covers it (if any).
    pub findings: Vec<Finding>,
}

impl CertRow {
    /// No open error finding at `now` (see [`is_compliant`]).
    pub fn is_compliant(&self, now: OffsetDateTime) -> bool {
        is_compliant(&self.findings, now)
    }

    /// The name an operator recognises a certificate by: CN, else the first SAN, else
    /// the subject.
    pub fn display_name(&self) -> &str {
        self.subject_cn
            .as_deref()
            .filter(|s| !s.is_empty())
            .or(self.sans.first().map(String::as_str))
            .unwrap_or(&self.subject)
    }

    pub fn days_left(&self, now: OffsetDateTime) -> i64 {
        crate::clock::days_until(now, self.not_after)
    }

    /// Status as seen now: an `active` certificate past its not-after shows as expired.
    pub fn effective_status(&self, now: OffsetDateTime) -> CertStatus {
        if self.status == CertStatus::Active && self.not_after <= now {
            CertStatus::Expired
        } else {
            self.status
        }
    }

    /// Weak crypto by the global rules: RSA or DSA under 2048 bits, EC under 256, or a
    /// SHA-1 / MD5 / MD2 signature.
    pub fn is_weak(&self) -> bool {
        is_weak(
            &self.key_algorithm,
            self.key_bits,
            &self.signature_algorithm,
        )
    }
}

/// Whether [`weak_reason`] would name a reason, without building it: the console's
/// `weak` filter asks this of every row.
pub fn is_weak(key_algorithm: &str, key_bits: Option<u32>, sig: &str) -> bool {
    broken_signature(sig) || sha1_signature(sig) || weak_key(key_algorithm, key_bits)
}

fn broken_signature(sig: &str) -> bool {
    ["md5", "md2", "md4"]
        .iter()
        .any(|n| contains_ascii_ci(sig, n))
}

fn sha1_signature(sig: &str) -> bool {
    ["sha1", "sha-1"].iter().any(|n| contains_ascii_ci(sig, n))
}

fn weak_key(key_algorithm: &str, key_bits: Option<u32>) -> bool {
    match (key_algorithm, key_bits) {
        ("rsa" | "dsa", Some(b)) => b < 2048,
        ("ecdsa", Some(b)) => b < 256,
        _ => false,
    }
}

/// `hay.to_ascii_lowercase().contains(needle)` for an ASCII lower-case needle.
fn contains_ascii_ci(hay: &str, needle: &str) -> bool {
    hay.as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// Why a key/signature combination is weak, or `None` when it is not.
pub fn weak_reason(key_algorithm: &str, key_bits: Option<u32>, sig: &str) -> Option<String> {
    if broken_signature(sig) {
        return Some(format!("signature algorithm {sig} is broken"));
    }
    if sha1_signature(sig) {
        return Some(format!("signature algorithm {sig} uses SHA-1"));
    }
    match (key_algorithm, key_bits) {
        ("rsa" | "dsa", Some(b)) if b < 2048 => Some(format!("{key_algorithm} key of {b} bits")),
        ("ecdsa", Some(b)) if b < 256 => Some(format!("EC key of {b} bits")),
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Owner {
    pub id: i64,
    pub name: String,
    pub contact: Option<String>,
    pub business_unit: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthorityKind {
    Local,
    Acme,
    Vault,
    External,
}

impl AuthorityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthorityKind::Local => "local",
            AuthorityKind::Acme => "acme",
            AuthorityKind::Vault => "vault",
            AuthorityKind::External => "external",
        }
    }
}

impl std::str::FromStr for AuthorityKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "local" => Ok(AuthorityKind::Local),
            "acme" => Ok(AuthorityKind::Acme),
            "vault" => Ok(AuthorityKind::Vault),
            "external" => Ok(AuthorityKind::External),
            other => Err(format!(
                "unknown authority kind {other:?} (expected local, acme, vault or external)"
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Authority {
    pub id: i64,
    pub name: String,
    pub kind: AuthorityKind,
    pub environment: Option<Environment>,
    /// Non-secret connector settings (directory URL, role, ...), as JSON.
    pub settings: serde_json::Value,
    /// A reference (`env:`, `file:`, `exec:`) to the credential, never the credential.
    pub credential_ref: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Identity {
    pub id: i64,
    pub name: String,
    pub owner: Option<String>,
    pub profile: Option<String>,
    pub authority: Option<String>,
    pub environment: Option<Environment>,
    pub sans: Vec<String>,
    pub key_type: Option<String>,
    pub current_certificate_id: Option<i64>,
}

/// Who did something, and from where: the OS user of the real uid, never a name taken
/// from a flag or an environment variable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    pub name: String,
    pub uid: u32,
    pub kind: ActorKind,
    pub origin: Origin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    Operator,
    ServiceAccount,
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Operator => "operator",
            ActorKind::ServiceAccount => "service_account",
            ActorKind::System => "system",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Origin {
    pub host: Option<String>,
    pub tty: Option<String>,
    pub ssh_client: Option<String>,
    pub pid: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Denied,
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
            Outcome::Failed => "failed",
        }
    }
}

/// One audit record as written: what an operator (or auditor) needs to reconstruct who
/// did what to which object, when, from where, and whether it worked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRecord {
    pub seq: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor: String,
    pub actor_kind: String,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub outcome: String,
    pub reason: Option<String>,
    pub details: serde_json::Value,
    pub origin: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

/// How urgent a certificate's expiry is; the bands the dashboard counts and every view
/// marks with a symbol (never colour alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpiryBand {
    Expired,
    Within7Days,
    Within30Days,
    Ok,
}

impl ExpiryBand {
    pub fn of(now: OffsetDateTime, not_after: OffsetDateTime) -> ExpiryBand {
        let left = not_after - now;
        if left <= time::Duration::ZERO {
            ExpiryBand::Expired
        } else if left <= time::Duration::days(7) {
            ExpiryBand::Within7Days
        } else if left <= time::Duration::days(30) {
            ExpiryBand::Within30Days
        } else {
            ExpiryBand::Ok
        }
    }

    /// The symbol shown next to days left: Unicode, or ASCII when the terminal's locale
    /// is not UTF-8.
    pub fn symbol(self, unicode: bool) -> &'static str {
        match (self, unicode) {
            (ExpiryBand::Expired, true) => "✗",
            (ExpiryBand::Within7Days, true) => "‼",
            (ExpiryBand::Within30Days, true) => "▲",
            (ExpiryBand::Ok, true) => "✓",
            (ExpiryBand::Expired, false) => "X",
            (ExpiryBand::Within7Days, false) => "!!",
            (ExpiryBand::Within30Days, false) => "!",
            (ExpiryBand::Ok, false) => "ok",
        }
    }
}

/// Whether the locale promises UTF-8 (LC_ALL, else LC_CTYPE, else LANG).
pub fn locale_is_utf8() -> bool {
    for var in ["LC_ALL", "LC_CTYPE", "LANG"] {
        if let Ok(v) = std::env::var(var) {
            if !v.is_empty() {
                let v = v.to_ascii_lowercase();
                return v.contains("utf-8") || v.contains("utf8");
            }
        }
    }
    false
}

/// How much a policy finding matters: `error` fails `policy check` (exit 1) and blocks
/// deployment; `warning` and `info` are shown, never block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
    pub fn parse(s: &str) -> Severity {
        match s {
            "error" => Severity::Error,
            "warning" => Severity::Warning,
            _ => Severity::Info,
        }
    }
}

/// One way a certificate breaks policy: a stable rule id (documented in docs/policy.md),
/// what is wrong, and the offending value. `exception` is the exception that covers it,
/// if any; whether it still suppresses the finding depends on the time it is read at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// One of [`crate::policy::compliance::RULES`] (a name, not text from anywhere
    /// else: the console holds one per finding of 100k certificates).
    pub rule: &'static str,
    pub severity: Severity,
    pub message: String,
    pub value: Option<String>,
    /// The profile the certificate was evaluated against (none for global rules on an
    /// unprofiled certificate).
    pub profile: Option<String>,
    /// Content hash of the policy set the evaluation used.
    pub policy_version: Option<String>,
    /// Time-bound findings (expiry, renewal due) are made ahead and apply only within
    /// this window, so findings read once stay true as the clock moves.
    #[serde(with = "time::serde::rfc3339::option")]
    pub applies_from: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub applies_until: Option<OffsetDateTime>,
    /// Boxed: most findings have none, and the console holds every finding's mark.
    pub exception: Option<Box<ExceptionNote>>,
}

/// "excepted until DATE by WHOM".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExceptionNote {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub until: OffsetDateTime,
    pub by: String,
}

impl Finding {
    /// Whether the finding applies at `now` (time-bound ones only within their window).
    pub fn applies(&self, now: OffsetDateTime) -> bool {
        self.applies_from.is_none_or(|t| t <= now) && self.applies_until.is_none_or(|t| now < t)
    }

    /// Open = applies at `now` and is not covered by an exception still in force. An
    /// expired exception brings the finding back without anyone touching it.
    pub fn is_open(&self, now: OffsetDateTime) -> bool {
        self.applies(now) && self.exception.as_ref().is_none_or(|e| e.until <= now)
    }
}

/// Whether a certificate's findings make it non-compliant now: any open finding of
/// severity error.
pub fn is_compliant(findings: &[Finding], now: OffsetDateTime) -> bool {
    !findings
        .iter()
        .any(|f| f.severity == Severity::Error && f.is_open(now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_weak_agrees_with_weak_reason() {
        let sigs = [
            "sha256WithRSAEncryption",
            "sha1WithRSAEncryption",
            "SHA-1 with DSA",
            "md5WithRSAEncryption",
            "MD2withRSA",
            "ecdsa-with-SHA384",
            "",
        ];
        for sig in sigs {
            for (alg, bits) in [
                ("rsa", Some(1024)),
                ("rsa", Some(2048)),
                ("dsa", Some(1024)),
                ("ecdsa", Some(224)),
                ("ecdsa", Some(256)),
                ("ed25519", None),
                ("rsa", None),
            ] {
                assert_eq!(
                    is_weak(alg, bits, sig),
                    weak_reason(alg, bits, sig).is_some(),
                    "{alg} {bits:?} {sig}"
                );
            }
        }
        assert!(is_weak("rsa", Some(4096), "sha1WithRSAEncryption"));
        assert!(!is_weak("ecdsa", Some(256), "ecdsa-with-SHA256"));
    }
}
