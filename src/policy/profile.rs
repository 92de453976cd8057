//! Profiles as code: the TOML a policy directory holds, validated into [`Profile`]s and
//! [`MatchRule`]s. Loading is all-or-nothing: every problem in every file is reported
//! with its file, line, column and field, and a set with any problem is not loaded.

use crate::model::Environment;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::fmt;
use toml::Spanned;

/// One validated profile: what an issued certificate may look like.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub name: String,
    pub description: String,
    pub environment: Environment,
    /// Authority names this profile may issue from.
    pub authorities: Vec<String>,
    pub key_types: Vec<KeyType>,
    /// Signature algorithm families the certificate may carry (see [`SIGNATURE_NAMES`]).
    pub signature_algorithms: Vec<String>,
    /// Longest lifetime allowed; `None` = the CA/Browser Forum ceiling in force when the
    /// certificate starts.
    pub max_validity_days: Option<u32>,
    pub renew_before: RenewBefore,
    /// Extended key usages the certificate must carry (see [`EKU_NAMES`]).
    pub eku: Vec<String>,
    /// Key usages the certificate must carry (see [`KEY_USAGE_NAMES`]).
    pub key_usage: Vec<String>,
    pub owner_required: bool,
    /// Approvers needed before issuance (0 = none).
    pub approvals: u32,
    pub approver_role: Option<String>,
    /// Approvals needed before one of its certificates is revoked (0 = revoke at once).
    /// Profiles stored before the field existed read as the default, 1.
    #[serde(default = "default_revocation_approvals")]
    pub revocation_approvals: u32,
    /// Publicly trusted TLS: the CA/Browser Forum validity ceiling is an error, not advice.
    pub public: bool,
    pub sans: SanRules,
    /// File (as given to `policy load`) and line the profile starts on.
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SanRules {
    /// DNS names must equal or end in `.` + one of these (empty with no patterns = any).
    pub dns_suffixes: Vec<String>,
    /// Glob patterns where `*` stands for exactly one DNS label.
    pub patterns: Vec<String>,
    pub wildcards: bool,
    pub ip: bool,
    pub max: u32,
}

/// A certificate is revoked after one approval unless its profile says otherwise.
pub const DEFAULT_REVOCATION_APPROVALS: u32 = 1;

fn default_revocation_approvals() -> u32 {
    DEFAULT_REVOCATION_APPROVALS
}

/// When renewal is due: when this fraction of the lifetime remains, or this many days.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RenewBefore {
    Fraction { num: u32, den: u32 },
    Days(u32),
}

impl RenewBefore {
    /// Seconds before not-after at which renewal is due, for a certificate of this lifetime.
    pub fn lead_seconds(self, lifetime_seconds: i64) -> i64 {
        match self {
            RenewBefore::Fraction { num, den } => lifetime_seconds * num as i64 / den.max(1) as i64,
            RenewBefore::Days(d) => d as i64 * 86_400,
        }
    }
}

impl fmt::Display for RenewBefore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RenewBefore::Fraction { num, den } => write!(f, "{num}/{den}"),
            RenewBefore::Days(d) => write!(f, "{d}d"),
        }
    }
}

/// An allowed key: the algorithm and, for RSA, the exact modulus size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyType {
    Rsa2048,
    Rsa3072,
    Rsa4096,
    EcdsaP256,
    EcdsaP384,
    Ed25519,
}

impl KeyType {
    pub const ALL: [KeyType; 6] = [
        KeyType::Rsa2048,
        KeyType::Rsa3072,
        KeyType::Rsa4096,
        KeyType::EcdsaP256,
        KeyType::EcdsaP384,
        KeyType::Ed25519,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Rsa2048 => "rsa-2048",
            KeyType::Rsa3072 => "rsa-3072",
            KeyType::Rsa4096 => "rsa-4096",
            KeyType::EcdsaP256 => "ecdsa-p256",
            KeyType::EcdsaP384 => "ecdsa-p384",
            KeyType::Ed25519 => "ed25519",
        }
    }

    pub fn parse(s: &str) -> Option<KeyType> {
        KeyType::ALL
            .into_iter()
            .find(|k| k.as_str() == s.to_ascii_lowercase())
    }

    /// The key type of an observed key (`rsa`/`ecdsa`/`ed25519` and its size), when it
    /// is one a profile can allow.
    pub fn of(algorithm: &str, bits: Option<u32>) -> Option<KeyType> {
        match (algorithm, bits) {
            ("rsa", Some(2048)) => Some(KeyType::Rsa2048),
            ("rsa", Some(3072)) => Some(KeyType::Rsa3072),
            ("rsa", Some(4096)) => Some(KeyType::Rsa4096),
            ("ecdsa", Some(256)) => Some(KeyType::EcdsaP256),
            ("ecdsa", Some(384)) => Some(KeyType::EcdsaP384),
            ("ed25519", _) => Some(KeyType::Ed25519),
            _ => None,
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Signature algorithm families a profile may name; SHA-1 and MD5 are not among them.
pub const SIGNATURE_NAMES: &[&str] = &[
    "sha256-rsa",
    "sha384-rsa",
    "sha512-rsa",
    "rsa-pss",
    "ecdsa-sha256",
    "ecdsa-sha384",
    "ecdsa-sha512",
    "ed25519",
];

/// The family of a certificate's signature algorithm as decoded (`sha256WithRSAEncryption`,
/// `ecdsa-with-SHA384`, `ED25519`, ...), or `None` when it is none a profile can allow.
pub fn signature_family(decoded: &str) -> Option<&'static str> {
    let s = decoded.to_ascii_lowercase();
    Some(match s.as_str() {
        "sha256withrsaencryption" => "sha256-rsa",
        "sha384withrsaencryption" => "sha384-rsa",
        "sha512withrsaencryption" => "sha512-rsa",
        "rsassa-pss" | "rsassapss" | "1.2.840.113549.1.1.10" => "rsa-pss",
        "ecdsa-with-sha256" => "ecdsa-sha256",
        "ecdsa-with-sha384" => "ecdsa-sha384",
        "ecdsa-with-sha512" => "ecdsa-sha512",
        "ed25519" | "1.3.101.112" => "ed25519",
        _ => return None,
    })
}

pub const EKU_NAMES: &[&str] = &[
    "server-auth",
    "client-auth",
    "code-signing",
    "email-protection",
    "time-stamping",
    "ocsp-signing",
];

pub const KEY_USAGE_NAMES: &[&str] = &[
    "digital-signature",
    "non-repudiation",
    "key-encipherment",
    "data-encipherment",
    "key-agreement",
    "key-cert-sign",
    "crl-sign",
];

/// Attaches a profile to certificates that have no identity: every given criterion must
/// match; the first matching rule (file order, then operator-added order) wins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchRule {
    pub profile: String,
    pub authority: Option<String>,
    /// Every DNS SAN (or the CN when there is none) equals or ends in `.` + this.
    pub san_suffix: Option<String>,
    pub owner: Option<String>,
    pub environment: Option<Environment>,
}

/// A validated policy set: profiles, match rules, and the content hash of the files.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicySet {
    pub version: String,
    pub profiles: Vec<Profile>,
    pub rules: Vec<MatchRule>,
    pub files: Vec<String>,
}

impl PolicySet {
    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.name == name)
    }
}

/// One problem in a policy file, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// Dotted path of the field, e.g. `profile.key_types` (`-` when the file is not TOML).
    pub field: String,
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file, self.line, self.column, self.field, self.message
        )
    }
}

/// All problems found in a policy set; none of it was loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyErrors(pub Vec<PolicyError>);

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "policy not loaded ({} problem{}; nothing was changed):",
            self.0.len(),
            if self.0.len() == 1 { "" } else { "s" }
        )?;
        for e in &self.0 {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyErrors {}

// ---- the TOML as written ---------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    profile: Vec<Spanned<RawProfile>>,
    #[serde(default)]
    assign: Vec<Spanned<RawAssign>>,
}

type S<T> = Spanned<T>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    name: S<String>,
    #[serde(default)]
    description: Option<S<String>>,
    environment: S<String>,
    authorities: S<Vec<S<String>>>,
    key_types: S<Vec<S<String>>>,
    #[serde(default)]
    signature_algorithms: Option<S<Vec<S<String>>>>,
    #[serde(default)]
    max_validity_days: Option<S<i64>>,
    #[serde(default)]
    renew_before: Option<S<String>>,
    #[serde(default)]
    eku: Option<S<Vec<S<String>>>>,
    #[serde(default)]
    key_usage: Option<S<Vec<S<String>>>>,
    #[serde(default)]
    owner_required: Option<bool>,
    #[serde(default)]
    approvals: Option<S<i64>>,
    #[serde(default)]
    approver_role: Option<S<String>>,
    #[serde(default)]
    revocation_approvals: Option<S<i64>>,
    #[serde(default)]
    public: Option<bool>,
    #[serde(default)]
    sans: Option<S<RawSans>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSans {
    #[serde(default)]
    dns_suffixes: Option<S<Vec<S<String>>>>,
    #[serde(default)]
    patterns: Option<S<Vec<S<String>>>>,
    #[serde(default)]
    wildcards: Option<bool>,
    #[serde(default)]
    ip: Option<bool>,
    #[serde(default)]
    max: Option<S<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAssign {
    profile: S<String>,
    #[serde(default)]
    authority: Option<S<String>>,
    #[serde(default)]
    san_suffix: Option<S<String>>,
    #[serde(default)]
    owner: Option<S<String>>,
    #[serde(default)]
    environment: Option<S<String>>,
}

/// The CA/Browser Forum ceiling for a publicly trusted TLS certificate that starts on
/// `not_before` (ballot SC-081): 398 days before 2026-03-15, then 200, 100, and 47 days.
pub fn cabf_ceiling_days(not_before: time::OffsetDateTime) -> u32 {
    use time::macros::datetime;
    if not_before >= datetime!(2029-03-15 0:00 UTC) {
        47
    } else if not_before >= datetime!(2027-03-15 0:00 UTC) {
        100
    } else if not_before >= datetime!(2026-03-15 0:00 UTC) {
        200
    } else {
        398
    }
}

/// Parses and validates a set of policy files `(name, text)`, all or nothing.
pub fn parse_set(files: &[(String, String)]) -> Result<PolicySet, PolicyErrors> {
    let mut errors = Vec::new();
    let mut profiles: Vec<(Profile, String, usize, usize)> = Vec::new();
    let mut rules: Vec<(MatchRule, String, usize, usize, std::ops::Range<usize>)> = Vec::new();
    let mut sorted: Vec<&(String, String)> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut hasher = Sha256::new();
    for (name, text) in &sorted {
        hasher.update((name.len() as u64).to_be_bytes());
        hasher.update(name.as_bytes());
        hasher.update((text.len() as u64).to_be_bytes());
        hasher.update(text.as_bytes());
        let mut file = FileCheck {
            file: name,
            text,
            errors: &mut errors,
        };
        let raw: RawFile = match toml::from_str(text) {
            Ok(r) => r,
            Err(e) => {
                file.toml_error(&e);
                continue;
            }
        };
        for p in raw.profile {
            let span = p.span();
            if let Some(profile) = file.profile(p.into_inner(), span.start) {
                let (l, c) = crate::config::line_col(text, span.start);
                profiles.push((profile, name.to_string(), l, c));
            }
        }
        for a in raw.assign {
            let span = a.span();
            if let Some(rule) = file.assign(a.into_inner()) {
                let (l, c) = crate::config::line_col(text, span.start);
                rules.push((rule, name.to_string(), l, c, span));
            }
        }
    }
    // Names are unique across the whole set.
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    for (p, file, line, column) in &profiles {
        if !seen.insert(&p.name) {
            errors.push(PolicyError {
                file: file.clone(),
                line: *line,
                column: *column,
                field: "profile.name".into(),
                message: format!("profile {:?} is defined more than once", p.name),
            });
        }
    }
    for (r, file, line, column, _) in &rules {
        if !seen.contains(r.profile.as_str()) {
            errors.push(PolicyError {
                file: file.clone(),
                line: *line,
                column: *column,
                field: "assign.profile".into(),
                message: format!("no profile named {:?} in this policy set", r.profile),
            });
        }
    }
    if !errors.is_empty() {
        return Err(PolicyErrors(errors));
    }
    Ok(PolicySet {
        version: hex::encode(hasher.finalize()),
        profiles: profiles.into_iter().map(|p| p.0).collect(),
        rules: rules.into_iter().map(|r| r.0).collect(),
        files: sorted.iter().map(|f| f.0.clone()).collect(),
    })
}

struct FileCheck<'a> {
    file: &'a str,
    text: &'a str,
    errors: &'a mut Vec<PolicyError>,
}

impl FileCheck<'_> {
    /// A whole number that must lie in `lo..=hi`; out of range is an error at its
    /// position (and the value is clamped so the rest of the file is still checked).
    fn bounded(&mut self, v: &S<i64>, lo: i64, hi: i64, field: &str, unit: &str) -> u32 {
        let n = *v.get_ref();
        if !(lo..=hi).contains(&n) {
            self.err(
                v.span().start,
                field,
                format!("{n}: must be between {lo} and {hi}{unit}"),
            );
        }
        n.clamp(lo, hi) as u32
    }

    fn err(&mut self, offset: usize, field: &str, message: impl Into<String>) {
        let (line, column) = crate::config::line_col(self.text, offset);
        self.errors.push(PolicyError {
            file: self.file.to_string(),
            line,
            column,
            field: field.to_string(),
            message: message.into(),
        });
    }

    fn toml_error(&mut self, e: &toml::de::Error) {
        let offset = e.span().map(|s| s.start).unwrap_or(0);
        let msg = e.message().trim().to_string();
        let field = field_of_error(&msg)
            .or_else(|| self.key_at(offset))
            .unwrap_or_else(|| "-".into());
        self.err(offset, &field, msg);
    }

    /// The dotted key path at `offset`: the innermost table header above it plus the key
    /// on its line, so an error inside `[profile.sans]` names `profile.sans.max`.
    fn key_at(&self, offset: usize) -> Option<String> {
        let before = &self.text[..offset.min(self.text.len())];
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let line_end = self.text[line_start..]
            .find('\n')
            .map(|i| line_start + i)
            .unwrap_or(self.text.len());
        let line = &self.text[line_start..line_end];
        let key = line.split_once('=').map(|(k, _)| k.trim().to_string());
        let table = before[..line_start].lines().rev().find_map(|l| {
            let l = l.trim();
            l.strip_prefix("[[")
                .and_then(|r| r.strip_suffix("]]"))
                .or_else(|| l.strip_prefix('[').and_then(|r| r.strip_suffix(']')))
                .map(|t| t.trim().to_string())
        });
        match (table, key) {
            (Some(t), Some(k)) if !k.is_empty() && !k.starts_with('[') => Some(format!("{t}.{k}")),
            (None, Some(k)) if !k.is_empty() && !k.starts_with('[') => Some(k),
            (Some(t), _) => Some(t),
            _ => None,
        }
    }

    fn profile(&mut self, r: RawProfile, start: usize) -> Option<Profile> {
        let before = self.errors.len();
        let name = r.name.get_ref().trim().to_string();
        if !valid_name(&name) {
            self.err(
                r.name.span().start,
                "profile.name",
                format!(
                    "{name:?} is not a profile name (letters, digits, - _ . ; 1-64 characters)"
                ),
            );
        }
        let environment = match r.environment.get_ref().as_str() {
            "prod" => Environment::Prod,
            "nonprod" => Environment::Nonprod,
            other => {
                self.err(
                    r.environment.span().start,
                    "profile.environment",
                    format!("{other:?}: expected \"prod\" or \"nonprod\" (a profile is on one side only)"),
                );
                Environment::Nonprod
            }
        };
        let authorities: Vec<String> = r
            .authorities
            .get_ref()
            .iter()
            .map(|a| a.get_ref().trim().to_string())
            .collect();
        if authorities.is_empty() {
            self.err(
                r.authorities.span().start,
                "profile.authorities",
                "at least one authority is required (a profile with none can never issue)",
            );
        }
        for a in r.authorities.get_ref() {
            if a.get_ref().trim().is_empty() {
                self.err(
                    a.span().start,
                    "profile.authorities",
                    "empty authority name",
                );
            }
        }
        let mut key_types = Vec::new();
        for k in r.key_types.get_ref() {
            match KeyType::parse(k.get_ref()) {
                Some(t) => key_types.push(t),
                None => {
                    let v = k.get_ref().to_ascii_lowercase();
                    let why =
                        if v.starts_with("rsa-") && v[4..].parse::<u32>().is_ok_and(|b| b < 2048) {
                            "RSA keys must be at least 2048 bits".to_string()
                        } else {
                            format!(
                                "unknown key type (one of {})",
                                KeyType::ALL.map(|k| k.as_str()).join(", ")
                            )
                        };
                    self.err(k.span().start, "profile.key_types", format!("{v:?}: {why}"));
                }
            }
        }
        if r.key_types.get_ref().is_empty() {
            self.err(
                r.key_types.span().start,
                "profile.key_types",
                "at least one key type is required",
            );
        }
        let signature_algorithms = match &r.signature_algorithms {
            None => SIGNATURE_NAMES.iter().map(|s| s.to_string()).collect(),
            Some(list) => {
                let mut out = Vec::new();
                for s in list.get_ref() {
                    let v = s.get_ref().to_ascii_lowercase();
                    if v.contains("sha1") || v.contains("sha-1") || v.contains("md5") {
                        self.err(
                            s.span().start,
                            "profile.signature_algorithms",
                            format!("{v:?}: SHA-1 and MD5 signatures are never allowed"),
                        );
                    } else if SIGNATURE_NAMES.contains(&v.as_str()) {
                        out.push(v);
                    } else {
                        self.err(
                            s.span().start,
                            "profile.signature_algorithms",
                            format!(
                                "{v:?}: unknown signature algorithm (one of {})",
                                SIGNATURE_NAMES.join(", ")
                            ),
                        );
                    }
                }
                if list.get_ref().is_empty() {
                    self.err(
                        list.span().start,
                        "profile.signature_algorithms",
                        "empty list: leave the field out for the default set",
                    );
                }
                out
            }
        };
        let max_validity_days = r
            .max_validity_days
            .as_ref()
            .map(|d| self.bounded(d, 1, 3650, "profile.max_validity_days", " days"));
        let renew_before = match &r.renew_before {
            None => RenewBefore::Fraction { num: 1, den: 3 },
            Some(s) => match parse_renew_before(s.get_ref()) {
                Ok(rb) => rb,
                Err(m) => {
                    self.err(s.span().start, "profile.renew_before", m);
                    RenewBefore::Fraction { num: 1, den: 3 }
                }
            },
        };
        if let (RenewBefore::Days(d), Some(max), Some(s)) =
            (renew_before, max_validity_days, &r.renew_before)
        {
            if d >= max {
                self.err(
                    s.span().start,
                    "profile.renew_before",
                    format!("{d}d is not shorter than max_validity_days ({max}): renewal would always be due"),
                );
            }
        }
        let eku = self.names(&r.eku, EKU_NAMES, "profile.eku");
        let key_usage = self.names(&r.key_usage, KEY_USAGE_NAMES, "profile.key_usage");
        let approvals = r
            .approvals
            .as_ref()
            .map_or(0, |a| self.bounded(a, 0, 10, "profile.approvals", ""));
        let approver_role = r
            .approver_role
            .as_ref()
            .map(|s| s.get_ref().trim().to_string());
        if let (Some(raw), Some(role)) = (&r.approver_role, approver_role.as_deref()) {
            let known = ["central-pki", "platform", "app-owner", "compliance"];
            if !role.is_empty() && !known.contains(&role) {
                self.err(
                    raw.span().start,
                    "profile.approver_role",
                    format!(
                        "{role:?}: not a role that approves (one of {})",
                        known.join(", ")
                    ),
                );
            }
        }
        let revocation_approvals =
            r.revocation_approvals
                .as_ref()
                .map_or(DEFAULT_REVOCATION_APPROVALS, |a| {
                    self.bounded(
                        a,
                        0,
                        10,
                        "profile.revocation_approvals",
                        " (0 = revoke without approval)",
                    )
                });
        if approvals > 0 && approver_role.as_deref().is_none_or(str::is_empty) {
            let at = r
                .approvals
                .as_ref()
                .map(|a| a.span().start)
                .unwrap_or(start);
            self.err(
                at,
                "profile.approver_role",
                format!("{approvals} approval(s) required but no approver_role says who approves"),
            );
        }
        let sans = match &r.sans {
            None => SanRules {
                dns_suffixes: Vec::new(),
                patterns: Vec::new(),
                wildcards: false,
                ip: false,
                max: 100,
            },
            Some(s) => self.sans(s.get_ref()),
        };
        if self.errors.len() > before {
            return None;
        }
        let (line, _) = crate::config::line_col(self.text, start);
        Some(Profile {
            name,
            description: r
                .description
                .map(|d| d.into_inner().trim().to_string())
                .unwrap_or_default(),
            environment,
            authorities,
            key_types,
            signature_algorithms,
            max_validity_days,
            renew_before,
            eku,
            key_usage,
            owner_required: r.owner_required.unwrap_or(true),
            approvals,
            approver_role: approver_role.filter(|s| !s.is_empty()),
            revocation_approvals,
            public: r.public.unwrap_or(false),
            sans,
            source: format!("{}:{line}", self.file),
        })
    }

    fn names(
        &mut self,
        list: &Option<S<Vec<S<String>>>>,
        known: &[&str],
        field: &str,
    ) -> Vec<String> {
        let mut out = Vec::new();
        for s in list.iter().flat_map(|l| l.get_ref()) {
            let v = s.get_ref().to_ascii_lowercase().replace('_', "-");
            if known.contains(&v.as_str()) {
                out.push(v);
            } else {
                self.err(
                    s.span().start,
                    field,
                    format!("{:?}: unknown (one of {})", s.get_ref(), known.join(", ")),
                );
            }
        }
        out
    }

    fn sans(&mut self, s: &RawSans) -> SanRules {
        let mut dns_suffixes = Vec::new();
        for d in s.dns_suffixes.iter().flat_map(|l| l.get_ref()) {
            let v = d
                .get_ref()
                .trim()
                .trim_start_matches('.')
                .to_ascii_lowercase();
            if !valid_dns_name(&v) {
                self.err(
                    d.span().start,
                    "profile.sans.dns_suffixes",
                    format!("{:?} is not a DNS suffix like example.com", d.get_ref()),
                );
            } else {
                dns_suffixes.push(v);
            }
        }
        let mut patterns = Vec::new();
        for p in s.patterns.iter().flat_map(|l| l.get_ref()) {
            let v = p.get_ref().trim().to_ascii_lowercase();
            let ok = !v.is_empty() && v.split('.').all(|l| l == "*" || valid_dns_name(l));
            if !ok {
                self.err(
                    p.span().start,
                    "profile.sans.patterns",
                    format!(
                        "{:?} is not a pattern like *.svc.example.com (* = one label)",
                        p.get_ref()
                    ),
                );
            } else {
                patterns.push(v);
            }
        }
        let max = s
            .max
            .as_ref()
            .map_or(100, |m| self.bounded(m, 1, 1000, "profile.sans.max", ""));
        SanRules {
            dns_suffixes,
            patterns,
            wildcards: s.wildcards.unwrap_or(false),
            ip: s.ip.unwrap_or(false),
            max,
        }
    }

    fn assign(&mut self, a: RawAssign) -> Option<MatchRule> {
        let before = self.errors.len();
        let environment = match &a.environment {
            None => None,
            Some(e) => match e.get_ref().as_str() {
                "prod" => Some(Environment::Prod),
                "nonprod" => Some(Environment::Nonprod),
                other => {
                    self.err(
                        e.span().start,
                        "assign.environment",
                        format!("{other:?}: expected \"prod\" or \"nonprod\""),
                    );
                    None
                }
            },
        };
        let san_suffix = a.san_suffix.as_ref().map(|s| {
            let v = s
                .get_ref()
                .trim()
                .trim_start_matches('.')
                .to_ascii_lowercase();
            if !valid_dns_name(&v) {
                self.err(
                    s.span().start,
                    "assign.san_suffix",
                    format!("{:?} is not a DNS suffix", s.get_ref()),
                );
            }
            v
        });
        let rule = MatchRule {
            profile: a.profile.get_ref().trim().to_string(),
            authority: a.authority.map(|s| s.into_inner()),
            san_suffix,
            owner: a.owner.map(|s| s.into_inner()),
            environment,
        };
        if rule.authority.is_none()
            && rule.san_suffix.is_none()
            && rule.owner.is_none()
            && rule.environment.is_none()
        {
            self.err(
                a.profile.span().start,
                "assign",
                "a rule needs at least one of authority, san_suffix, owner, environment",
            );
        }
        (self.errors.len() == before).then_some(rule)
    }
}

/// `unknown field `x`` / `missing field `x``: the field toml's message names.
fn field_of_error(msg: &str) -> Option<String> {
    for prefix in [
        "unknown field `",
        "missing field `",
        "duplicate key `",
        "duplicate field `",
    ] {
        if let Some(rest) = msg.split(prefix).nth(1) {
            return rest.split('`').next().map(str::to_string);
        }
    }
    None
}

pub fn parse_renew_before(s: &str) -> Result<RenewBefore, String> {
    let t = s.trim();
    if let Some((a, b)) = t.split_once('/') {
        let num: u32 = a.trim().parse().map_err(|_| bad_renew(s))?;
        let den: u32 = b.trim().parse().map_err(|_| bad_renew(s))?;
        if num == 0 || den == 0 || num >= den {
            return Err(format!(
                "{s:?}: the fraction must be between 0 and 1, like \"1/3\""
            ));
        }
        return Ok(RenewBefore::Fraction { num, den });
    }
    if let Some(d) = t.strip_suffix('d') {
        let days: u32 = d.trim().parse().map_err(|_| bad_renew(s))?;
        if days == 0 {
            return Err(format!("{s:?}: at least 1 day"));
        }
        return Ok(RenewBefore::Days(days));
    }
    Err(bad_renew(s))
}

fn bad_renew(s: &str) -> String {
    format!("{s:?}: expected a fraction of the lifetime like \"1/3\" or days like \"30d\"")
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A DNS name or suffix of LDH labels (no wildcard).
pub fn valid_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"[[profile]]
name = "public-tls"
description = "Public web TLS through ACME"
environment = "prod"                       # prod | nonprod
authorities = ["letsencrypt"]
key_types = ["ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072", "rsa-4096"]
max_validity_days = 200
renew_before = "1/3"                       # fraction of lifetime remaining, or "30d"
eku = ["server-auth"]
owner_required = true
approvals = 0                              # approvers needed for issuance
approver_role = "central-pki"
[profile.sans]
dns_suffixes = ["example.com"]
wildcards = false
ip = false
max = 100
"#;

    fn one(text: &str) -> Result<PolicySet, PolicyErrors> {
        parse_set(&[("p.toml".to_string(), text.to_string())])
    }

    fn only_error(text: &str) -> PolicyError {
        let e = one(text).unwrap_err();
        assert_eq!(e.0.len(), 1, "{e}");
        e.0[0].clone()
    }

    #[test]
    fn the_issue_example_loads_with_every_field() {
        let set = one(EXAMPLE).unwrap();
        let p = set.profile("public-tls").unwrap();
        assert_eq!(p.environment, Environment::Prod);
        assert_eq!(p.authorities, vec!["letsencrypt"]);
        assert_eq!(p.key_types.len(), 5);
        assert_eq!(p.max_validity_days, Some(200));
        assert_eq!(p.renew_before, RenewBefore::Fraction { num: 1, den: 3 });
        assert_eq!(p.eku, vec!["server-auth"]);
        assert_eq!(p.sans.dns_suffixes, vec!["example.com"]);
        assert_eq!(p.sans.max, 100);
        assert!(p.owner_required);
        assert_eq!(p.source, "p.toml:1");
        assert_eq!(set.version.len(), 64);
    }

    #[test]
    fn the_version_is_the_content_hash() {
        let a = one(EXAMPLE).unwrap().version;
        let b = one(&EXAMPLE.replace("Public web", "Public"))
            .unwrap()
            .version;
        assert_ne!(a, b);
        assert_eq!(a, one(EXAMPLE).unwrap().version);
    }

    #[test]
    fn an_unknown_key_is_located_and_named() {
        let e = only_error(&EXAMPLE.replace("wildcards = false", "wildcard = false"));
        assert_eq!(
            (e.file.as_str(), e.line, e.field.as_str()),
            ("p.toml", 15, "wildcard")
        );
        assert!(e.column >= 1);
        assert!(e.message.contains("unknown field"), "{e}");
    }

    #[test]
    fn a_weak_key_type_is_refused_where_it_is_written() {
        let e = only_error(&EXAMPLE.replace("\"rsa-2048\"", "\"rsa-1024\""));
        assert_eq!((e.line, e.field.as_str()), (6, "profile.key_types"));
        assert_eq!(e.column, 42);
        assert!(e.message.contains("at least 2048"), "{e}");
    }

    #[test]
    fn sha1_signatures_are_never_allowed() {
        let e = only_error(
            &EXAMPLE.replace("eku = [", "signature_algorithms = [\"sha1-rsa\"]\neku = ["),
        );
        assert_eq!(
            (e.line, e.field.as_str()),
            (9, "profile.signature_algorithms")
        );
    }

    #[test]
    fn a_wrong_type_names_the_field() {
        let e = only_error(&EXAMPLE.replace("max = 100", "max = \"many\""));
        assert_eq!(e.line, 17);
        assert!(e.field.ends_with("max"), "{e}");
    }

    #[test]
    fn bad_environment_renewal_and_approvals_are_all_reported_at_once() {
        let text = EXAMPLE
            .replace("\"prod\"", "\"production\"")
            .replace("\"1/3\"", "\"soon\"")
            .replace("approvals = 0", "approvals = 2")
            .replace("approver_role = \"central-pki\"\n", "");
        let e = one(&text).unwrap_err();
        let fields: Vec<&str> = e.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "profile.environment",
                "profile.renew_before",
                "profile.approver_role"
            ]
        );
    }

    #[test]
    fn revocation_approvals_default_to_one_and_bad_values_name_their_line() {
        let set = one(EXAMPLE).unwrap();
        assert_eq!(set.profiles[0].revocation_approvals, 1);
        let zero = EXAMPLE.replace("approvals = 0 ", "revocation_approvals = 0\napprovals = 0 ");
        assert_eq!(one(&zero).unwrap().profiles[0].revocation_approvals, 0);
        let bad = EXAMPLE.replace(
            "approvals = 0 ",
            "revocation_approvals = 11\napprovals = 0 ",
        );
        let e = one(&bad).unwrap_err();
        assert_eq!(e.0.len(), 1, "{e:?}");
        assert_eq!(e.0[0].field, "profile.revocation_approvals");
        assert_eq!(e.0[0].line, 11, "{e:?}");
        assert!(e.0[0].message.contains("between 0 and 10"), "{e:?}");
    }

    #[test]
    fn an_approver_role_must_be_a_role_that_approves() {
        let bad = EXAMPLE.replace("approver_role = \"central-pki\"", "approver_role = \"pki\"");
        let e = one(&bad).unwrap_err();
        assert_eq!(e.0[0].field, "profile.approver_role");
        assert!(e.0[0].message.contains("\"pki\""), "{e:?}");
    }

    #[test]
    fn duplicate_names_and_dangling_assignments_are_errors() {
        let second = "[[profile]]\nname = \"public-tls\"\nenvironment = \"nonprod\"\nauthorities = [\"x\"]\nkey_types = [\"ed25519\"]\n\n[[assign]]\nprofile = \"nope\"\nowner = \"web\"\n";
        let e = parse_set(&[
            ("a.toml".into(), EXAMPLE.into()),
            ("b.toml".into(), second.into()),
        ])
        .unwrap_err();
        assert_eq!(e.0.len(), 2, "{e}");
        assert_eq!((e.0[0].file.as_str(), e.0[0].line), ("b.toml", 1));
        assert_eq!((e.0[1].field.as_str(), e.0[1].line), ("assign.profile", 7));
    }

    #[test]
    fn not_toml_at_all_is_located() {
        let e = only_error("[[profile]\nname = ");
        assert_eq!(e.line, 1);
    }

    #[test]
    fn renew_before_takes_a_fraction_or_days() {
        assert_eq!(parse_renew_before("30d"), Ok(RenewBefore::Days(30)));
        assert_eq!(
            parse_renew_before("1/4"),
            Ok(RenewBefore::Fraction { num: 1, den: 4 })
        );
        assert!(parse_renew_before("3/2").is_err());
        assert!(parse_renew_before("0d").is_err());
        assert_eq!(
            RenewBefore::Fraction { num: 1, den: 3 }.lead_seconds(90),
            30
        );
    }

    #[test]
    fn the_cabf_schedule() {
        use time::macros::datetime;
        assert_eq!(cabf_ceiling_days(datetime!(2026-03-14 23:59 UTC)), 398);
        assert_eq!(cabf_ceiling_days(datetime!(2026-03-15 0:00 UTC)), 200);
        assert_eq!(cabf_ceiling_days(datetime!(2027-03-15 0:00 UTC)), 100);
        assert_eq!(cabf_ceiling_days(datetime!(2029-03-15 0:00 UTC)), 47);
    }
}
