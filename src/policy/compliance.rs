//! The compliance engine: every certificate against its profile plus the global rules,
//! into findings with stable rule ids (docs/policy.md lists them all). Pure: rows,
//! profiles and a time in; findings out. `ops::policy` stores what it returns.

use super::gate::max_validity;
use super::profile::{signature_family, KeyType, MatchRule, Profile, RenewBefore};
use crate::model::{CertRow, CertStatus, ExceptionNote, Finding, Severity};
use std::collections::HashMap;
use time::OffsetDateTime;

/// Every rule id the engine can emit, with its severity and what it means. The list is
/// the contract with docs/policy.md, `rule:` queries and exceptions: ids never change.
pub const RULES: &[(&str, Severity, &str)] = &[
    ("owner.missing", Severity::Error, "the certificate has no owner (warning for CA certificates, none when the profile sets owner_required = false)"),
    ("cert.expired", Severity::Error, "the certificate has expired and nothing newer replaces it"),
    ("renewal.due", Severity::Warning, "inside its renewal window (the profile's renew_before, default 1/3 of the lifetime) and no renewal exists"),
    ("key.weak", Severity::Error, "RSA or DSA key under 2048 bits, or EC key under 256 bits"),
    ("signature.weak", Severity::Error, "signed with SHA-1, MD5, MD4 or MD2 (self-signed roots excepted: their signature is never checked)"),
    ("validity.cabf", Severity::Error, "lifetime over the CA/Browser Forum ceiling in force when it started (398 days; 200 from 2026-03-15; 100 from 2027-03-15; 47 from 2029-03-15): error under a public profile, warning for an unprofiled TLS server certificate"),
    ("profile.missing", Severity::Warning, "a leaf certificate with no profile: neither its identity nor any assignment rule gives it one"),
    ("profile.environment", Severity::Error, "the certificate's environment differs from its profile's"),
    ("profile.authority", Severity::Error, "issued by an authority the profile does not approve (warning when the authority is unknown)"),
    ("profile.key_type", Severity::Error, "a key type the profile does not allow"),
    ("profile.signature", Severity::Error, "a signature algorithm the profile does not allow"),
    ("profile.validity", Severity::Error, "lifetime longer than the profile's max_validity_days"),
    ("profile.san.count", Severity::Error, "more SANs than the profile's sans.max"),
    ("profile.san.wildcard", Severity::Error, "a wildcard SAN where the profile sets sans.wildcards = false"),
    ("profile.san.ip", Severity::Error, "an IP SAN where the profile sets sans.ip = false"),
    ("profile.san.domain", Severity::Error, "a DNS SAN outside the profile's dns_suffixes and patterns"),
    ("profile.san.invalid", Severity::Error, "a DNS SAN that is not a valid host name"),
    ("profile.eku", Severity::Error, "an extended key usage the profile requires is missing"),
    ("profile.key_usage", Severity::Error, "a key usage the profile requires is missing"),
];

pub fn severity_of(rule: &str) -> Severity {
    RULES
        .iter()
        .find(|r| r.0 == rule)
        .map(|r| r.1)
        .unwrap_or(Severity::Error)
}

/// Extension facts the row does not carry, extracted once from the DER.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    pub eku: Vec<String>,
    pub key_usage: Vec<String>,
}

impl Usage {
    /// Reads EKU and key usage from a certificate's DER (empty when absent or unreadable).
    pub fn from_der(der: &[u8]) -> Usage {
        use x509_parser::prelude::*;
        match X509Certificate::from_der(der) {
            Ok((_, cert)) => Usage::of(&cert),
            Err(_) => Usage::default(),
        }
    }

    /// Reads EKU and key usage from a certificate already parsed (an import parses each
    /// certificate once).
    pub fn of(cert: &x509_parser::certificate::X509Certificate<'_>) -> Usage {
        let mut u = Usage::default();
        if let Ok(Some(e)) = cert.extended_key_usage() {
            let e = e.value;
            for (on, name) in [
                (e.server_auth, "server-auth"),
                (e.client_auth, "client-auth"),
                (e.code_signing, "code-signing"),
                (e.email_protection, "email-protection"),
                (e.time_stamping, "time-stamping"),
                (e.ocsp_signing, "ocsp-signing"),
            ] {
                if on {
                    u.eku.push(name.into());
                }
            }
        }
        if let Ok(Some(k)) = cert.key_usage() {
            let k = k.value;
            for (on, name) in [
                (k.digital_signature(), "digital-signature"),
                (k.non_repudiation(), "non-repudiation"),
                (k.key_encipherment(), "key-encipherment"),
                (k.data_encipherment(), "data-encipherment"),
                (k.key_agreement(), "key-agreement"),
                (k.key_cert_sign(), "key-cert-sign"),
                (k.crl_sign(), "crl-sign"),
            ] {
                if on {
                    u.key_usage.push(name.into());
                }
            }
        }
        u
    }
}

/// How a certificate got its profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Identity,
    Rule,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Identity => "identity",
            Via::Rule => "rule",
        }
    }
}

/// The profile a certificate is evaluated against: its identity's when it has one (even
/// when that names no profile: a managed identity is never silently matched by a rule),
/// else the first assignment rule all of whose criteria match.
pub fn resolve_profile<'a>(
    row: &CertRow,
    identity_profile: Option<Option<&'a str>>,
    rules: &'a [MatchRule],
) -> Option<(&'a str, Via)> {
    if let Some(ip) = identity_profile {
        return ip.map(|p| (p, Via::Identity));
    }
    if row.is_ca {
        return None;
    }
    rules
        .iter()
        .find(|r| rule_matches(r, row))
        .map(|r| (r.profile.as_str(), Via::Rule))
}

fn rule_matches(r: &MatchRule, row: &CertRow) -> bool {
    if let Some(a) = &r.authority {
        let hit = match &row.authority {
            Some(x) => x.eq_ignore_ascii_case(a),
            None => row
                .issuer_cn
                .as_deref()
                .is_some_and(|x| x.eq_ignore_ascii_case(a)),
        };
        if !hit {
            return false;
        }
    }
    if let Some(o) = &r.owner {
        if !row
            .owner
            .as_deref()
            .is_some_and(|x| x.eq_ignore_ascii_case(o))
        {
            return false;
        }
    }
    if let Some(e) = r.environment {
        if row.environment != Some(e) {
            return false;
        }
    }
    if let Some(sfx) = &r.san_suffix {
        let dns: Vec<&str> = row
            .sans
            .iter()
            .map(String::as_str)
            .filter(|s| {
                s.parse::<std::net::IpAddr>().is_err() && !s.contains('@') && !s.contains("://")
            })
            .collect();
        let names: Vec<&str> = if dns.is_empty() {
            row.subject_cn.as_deref().into_iter().collect()
        } else {
            dns
        };
        if names.is_empty()
            || !names
                .iter()
                .all(|n| super::has_suffix(n.strip_prefix("*.").unwrap_or(n), sfx))
        {
            return false;
        }
    }
    true
}

/// What "the same certificate, renewed" means for certificates without an identity: the
/// same subject CN and the same SAN set. With an identity, the identity.
pub fn renewal_key(row: &CertRow) -> String {
    match &row.identity {
        Some(i) => format!("identity\0{i}"),
        None => name_key(row),
    }
}

/// The subject CN and SAN set as a key, whatever the identity.
pub fn name_key(row: &CertRow) -> String {
    let mut sans: Vec<String> = row.sans.iter().map(|s| s.to_ascii_lowercase()).collect();
    sans.sort();
    format!(
        "name\0{}\0{}",
        row.subject_cn
            .as_deref()
            .unwrap_or(&row.subject)
            .to_ascii_lowercase(),
        sans.join(",")
    )
}

/// One certificate, with what the engine needs to know about it.
pub struct Subject<'a> {
    pub row: &'a CertRow,
    pub usage: Option<&'a Usage>,
    pub profile: Option<&'a Profile>,
    /// A newer certificate for the same identity (or name and SANs) exists.
    pub renewed: bool,
}

/// Evaluates one certificate. Superseded and revoked certificates are history, not
/// estate: they get no findings.
pub fn evaluate(s: &Subject<'_>, version: Option<&str>) -> Vec<Finding> {
    let mut out = findings(s, version);
    let lifetime = (s.row.not_after - s.row.not_before).whole_seconds();
    let rb = s
        .profile
        .map(|p| p.renew_before)
        .unwrap_or(RenewBefore::Fraction { num: 1, den: 3 });
    let due = s.row.not_after - time::Duration::seconds(rb.lead_seconds(lifetime));
    for f in &mut out {
        match f.rule {
            "renewal.due" => {
                f.applies_from = Some(due);
                f.applies_until = Some(s.row.not_after);
            }
            "cert.expired" => f.applies_from = Some(s.row.not_after),
            _ => {}
        }
    }
    out
}

fn findings(s: &Subject<'_>, version: Option<&str>) -> Vec<Finding> {
    let row = s.row;
    let mut out: Vec<Finding> = Vec::new();
    if matches!(row.status, CertStatus::Superseded | CertStatus::Revoked) {
        return out;
    }
    let profile_name = s.profile.map(|p| p.name.clone());
    let mut push =
        |rule: &'static str, severity: Severity, message: String, value: Option<String>| {
            out.push(Finding {
                rule,
                severity,
                message,
                value,
                profile: profile_name.clone(),
                policy_version: version.map(str::to_string),
                applies_from: None,
                applies_until: None,
                exception: None,
            });
        };
    let self_signed_root = row.is_ca && row.issuer == row.subject;
    let lifetime = (row.not_after - row.not_before).whole_seconds();
    let lifetime_days = (lifetime + 86_399).div_euclid(86_400);

    // Owner.
    let owner_required = s.profile.is_none_or(|p| p.owner_required);
    if row.owner.is_none() && owner_required {
        push(
            "owner.missing",
            if row.is_ca {
                Severity::Warning
            } else {
                Severity::Error
            },
            "no owner: nobody is responsible for renewing it".into(),
            None,
        );
    }

    // Expiry and renewal: made with the time they start to apply, so findings read once
    // stay true as the clock moves (an expiry needs no re-evaluation to show).
    if !s.renewed {
        let rb = s
            .profile
            .map(|p| p.renew_before)
            .unwrap_or(RenewBefore::Fraction { num: 1, den: 3 });
        let due = row.not_after - time::Duration::seconds(rb.lead_seconds(lifetime));
        if !row.is_ca {
            push(
                "renewal.due",
                Severity::Warning,
                format!(
                    "renewal due since {} ({rb} before expiry) and no renewal exists",
                    due.date()
                ),
                Some(crate::clock::rfc3339(row.not_after)),
            );
        }
        push(
            "cert.expired",
            Severity::Error,
            format!("expired on {} and not renewed", row.not_after.date()),
            Some(crate::clock::rfc3339(row.not_after)),
        );
    }

    // Crypto.
    match (row.key_algorithm.as_str(), row.key_bits) {
        ("rsa" | "dsa", Some(b)) if b < 2048 => push(
            "key.weak",
            Severity::Error,
            format!(
                "{} key of {b} bits (at least 2048)",
                row.key_algorithm.to_ascii_uppercase()
            ),
            Some(format!("{}-{b}", row.key_algorithm)),
        ),
        ("ecdsa", Some(b)) if b < 256 => push(
            "key.weak",
            Severity::Error,
            format!("EC key of {b} bits (at least 256)"),
            Some(format!("ecdsa-{b}")),
        ),
        _ => {}
    }
    let sig = row.signature_algorithm.to_ascii_lowercase();
    if !self_signed_root
        && (sig.contains("sha1")
            || sig.contains("sha-1")
            || sig.contains("md5")
            || sig.contains("md2")
            || sig.contains("md4"))
    {
        push(
            "signature.weak",
            Severity::Error,
            "signature algorithm is broken (SHA-1 or MD5 family)".into(),
            Some(row.signature_algorithm.clone()),
        );
    }

    // Validity ceiling for public TLS.
    if !row.is_ca {
        let cabf = super::profile::cabf_ceiling_days(row.not_before);
        let over = lifetime > cabf as i64 * 86_400;
        let public = s.profile.map(|p| p.public);
        let server = s
            .usage
            .is_none_or(|u| u.eku.is_empty() || u.eku.iter().any(|e| e == "server-auth"));
        let severity = match public {
            Some(true) => Some(Severity::Error),
            None if server && !row.issuer.eq(&row.subject) => Some(Severity::Warning),
            _ => None,
        };
        if let (true, Some(sev)) = (over, severity) {
            push(
                "validity.cabf",
                sev,
                format!(
                    "valid for {lifetime_days} days; the CA/Browser Forum ceiling for public TLS starting {} is {cabf}",
                    row.not_before.date()
                ),
                Some(format!("{lifetime_days}d")),
            );
        }
    }

    let Some(p) = s.profile else {
        if !row.is_ca {
            push(
                "profile.missing",
                Severity::Warning,
                "no profile: assign one to its identity or add an assignment rule".into(),
                None,
            );
        }
        return out;
    };

    // Against the profile.
    if let Some(e) = row.environment {
        if e != p.environment {
            push(
                "profile.environment",
                Severity::Error,
                format!("{e} certificate under {} profile {}", p.environment, p.name),
                Some(e.to_string()),
            );
        }
    }
    match &row.authority {
        Some(a) if !p.authorities.iter().any(|x| x.eq_ignore_ascii_case(a)) => push(
            "profile.authority",
            Severity::Error,
            format!(
                "authority not approved for the profile (approved: {})",
                p.authorities.join(", ")
            ),
            Some(a.clone()),
        ),
        None if !p.authorities.iter().any(|x| {
            row.issuer_cn
                .as_deref()
                .is_some_and(|cn| cn.eq_ignore_ascii_case(x))
        }) =>
        {
            push(
                "profile.authority",
                Severity::Warning,
                "issuer is not a known authority; assign one with `certdeck assign --authority`"
                    .into(),
                row.issuer_cn.clone().or(Some(row.issuer.clone())),
            )
        }
        _ => {}
    }
    match KeyType::of(&row.key_algorithm, row.key_bits) {
        Some(k) if p.key_types.contains(&k) => {}
        k => push(
            "profile.key_type",
            Severity::Error,
            format!(
                "key type not allowed (allowed: {})",
                p.key_types
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some(
                k.map(|k| k.to_string())
                    .unwrap_or_else(|| match row.key_bits {
                        Some(b) => format!("{}-{b}", row.key_algorithm),
                        None => row.key_algorithm.clone(),
                    }),
            ),
        ),
    }
    match signature_family(&row.signature_algorithm) {
        Some(f) if p.signature_algorithms.iter().any(|x| x == f) => {}
        _ => push(
            "profile.signature",
            Severity::Error,
            format!(
                "signature algorithm not allowed (allowed: {})",
                p.signature_algorithms.join(", ")
            ),
            Some(row.signature_algorithm.clone()),
        ),
    }
    let max = max_validity(p, row.not_before);
    if lifetime > max as i64 * 86_400 {
        push(
            "profile.validity",
            Severity::Error,
            format!("valid for {lifetime_days} days, the profile allows {max}"),
            Some(format!("{lifetime_days}d")),
        );
    }
    for (rule, message, value) in super::check_sans(&p.sans, &row.sans) {
        push(rule, Severity::Error, message, Some(value));
    }
    if let Some(u) = s.usage {
        for want in &p.eku {
            if !u.eku.iter().any(|e| e == want) {
                push(
                    "profile.eku",
                    Severity::Error,
                    format!("extended key usage {want} required by the profile is missing"),
                    Some(if u.eku.is_empty() {
                        "(none)".into()
                    } else {
                        u.eku.join(",")
                    }),
                );
            }
        }
        for want in &p.key_usage {
            if !u.key_usage.iter().any(|e| e == want) {
                push(
                    "profile.key_usage",
                    Severity::Error,
                    format!("key usage {want} required by the profile is missing"),
                    Some(if u.key_usage.is_empty() {
                        "(none)".into()
                    } else {
                        u.key_usage.join(",")
                    }),
                );
            }
        }
    }
    out
}

/// An exception as the engine needs it: rule, object, until, by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExceptionRef {
    pub id: i64,
    pub rule: String,
    /// `certificate` (object = SHA-256 fingerprint) or `identity` (object = name).
    pub object_type: String,
    pub object_id: String,
    pub until: OffsetDateTime,
    pub by: String,
}

/// The exception covering a finding of `rule` on `row`, if any (the one lasting longest).
pub fn exception_for<'a>(
    row: &CertRow,
    rule: &str,
    exceptions: &'a [ExceptionRef],
) -> Option<&'a ExceptionRef> {
    exceptions
        .iter()
        .filter(|e| {
            e.rule == rule
                && match e.object_type.as_str() {
                    "certificate" => e.object_id.eq_ignore_ascii_case(&row.fingerprint_sha256),
                    "identity" => row.identity.as_deref() == Some(e.object_id.as_str()),
                    _ => false,
                }
        })
        .max_by_key(|e| e.until)
}

/// The inputs for evaluating a whole inventory.
pub struct Inventory<'a> {
    pub rows: &'a [CertRow],
    pub usage: &'a HashMap<i64, Usage>,
    /// identity name → its profile (None = the identity has none).
    pub identity_profiles: &'a HashMap<String, Option<String>>,
    pub profiles: &'a [Profile],
    pub rules: &'a [MatchRule],
    pub exceptions: &'a [ExceptionRef],
    pub version: Option<&'a str>,
    /// Evaluate only these certificates (all others still count as renewals).
    pub only: Option<&'a std::collections::HashSet<i64>>,
}

/// The result for one certificate.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub certificate_id: i64,
    pub profile: Option<(String, Via)>,
    /// A newer certificate of the same identity (or name and SANs) exists.
    pub renewed: bool,
    pub findings: Vec<Finding>,
}

/// What an evaluation decides about a certificate from the rest of the inventory and the
/// policy's rules, which its row alone does not say: the profile it is judged against
/// and whether it was renewed. The store keeps this, not the findings, which [`judge`]
/// derives from it on every read (a 100k-certificate import writes one small row for
/// each renewed or profiled certificate instead of four findings for each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub certificate_id: i64,
    pub profile: Option<(String, Via)>,
    pub renewed: bool,
}

/// Evaluates every certificate: resolves profiles, detects renewals, applies exceptions.
pub fn evaluate_inventory(inv: &Inventory<'_>) -> Vec<Evaluation> {
    let mut out = Vec::new();
    evaluate_inventory_each(inv, |e| {
        out.push(e);
        Ok::<(), std::convert::Infallible>(())
    })
    .unwrap_or_else(|never| match never {});
    out
}

/// Evaluates the inventory like [`evaluate_inventory`], handing each certificate's result
/// to `sink` as it is made: a caller that stores the results never holds the whole
/// inventory's findings at once (a large import evaluates 100k certificates).
pub fn evaluate_inventory_each<E>(
    inv: &Inventory<'_>,
    mut sink: impl FnMut(Evaluation) -> Result<(), E>,
) -> Result<(), E> {
    let judge = Evaluator::new(inv);
    for i in 0..inv.rows.len() {
        if let Some(e) = judge.evaluate(i) {
            sink(e)?;
        }
    }
    Ok(())
}

/// An inventory made ready for judging its rows one by one, in any order and from any
/// thread: profiles by name, and the newest not-after of each renewal group (what
/// "renewed" means) computed once.
pub struct Evaluator<'a> {
    inv: &'a Inventory<'a>,
    by_name: HashMap<&'a str, &'a Profile>,
    latest: HashMap<String, OffsetDateTime>,
    keys: Vec<String>,
}

impl<'a> Evaluator<'a> {
    pub fn new(inv: &'a Inventory<'a>) -> Evaluator<'a> {
        let by_name: HashMap<&str, &Profile> =
            inv.profiles.iter().map(|p| (p.name.as_str(), p)).collect();
        let mut latest: HashMap<String, OffsetDateTime> = HashMap::with_capacity(inv.rows.len());
        let keys: Vec<String> = inv.rows.iter().map(renewal_key).collect();
        for (row, key) in inv.rows.iter().zip(&keys) {
            if row.is_ca || row.status == CertStatus::Revoked {
                continue;
            }
            match latest.get_mut(key.as_str()) {
                Some(t) if row.not_after > *t => *t = row.not_after,
                Some(_) => {}
                None => {
                    latest.insert(key.clone(), row.not_after);
                }
            }
        }
        Evaluator {
            inv,
            by_name,
            latest,
            keys,
        }
    }

    /// How many rows the inventory holds (evaluated or only context).
    pub fn len(&self) -> usize {
        self.inv.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inv.rows.is_empty()
    }

    /// What the evaluation of row `index` decides from the whole inventory (its profile,
    /// through identity or rules, and whether it was renewed), or `None` when the
    /// inventory's `only` leaves it out. This is what the store keeps: the findings
    /// follow from it and the row ([`judge`]).
    pub fn verdict(&self, index: usize) -> Option<Verdict> {
        let inv = self.inv;
        let row = &inv.rows[index];
        if inv.only.is_some_and(|o| !o.contains(&row.id)) {
            return None;
        }
        let identity_profile = row
            .identity
            .as_ref()
            .map(|i| inv.identity_profiles.get(i).and_then(|p| p.as_deref()));
        let resolved = resolve_profile(row, identity_profile, inv.rules);
        let renewed = !row.is_ca
            && self
                .latest
                .get(self.keys[index].as_str())
                .is_some_and(|t| *t > row.not_after);
        Some(Verdict {
            certificate_id: row.id,
            profile: resolved.map(|(n, v)| (n.to_string(), v)),
            renewed,
        })
    }

    /// The evaluation of row `index`: its verdict and the findings that follow from it,
    /// or `None` when the inventory's `only` leaves it out.
    pub fn evaluate(&self, index: usize) -> Option<Evaluation> {
        let inv = self.inv;
        let verdict = self.verdict(index)?;
        let row = &inv.rows[index];
        let profile = verdict
            .profile
            .as_ref()
            .and_then(|(n, _)| self.by_name.get(n.as_str()).copied());
        let findings = judge(
            row,
            inv.usage.get(&row.id),
            profile,
            verdict.renewed,
            inv.version,
            inv.exceptions,
        );
        Some(Evaluation {
            certificate_id: row.id,
            profile: verdict.profile,
            renewed: verdict.renewed,
            findings,
        })
    }
}

/// The findings of one certificate given its verdict: [`evaluate`] with each finding's
/// exception noted. A pure function of the row, its extension facts, its profile, the
/// verdict and the exceptions, so findings read back from the store ([`Verdict`]s are
/// what is stored) are exactly the ones the evaluation made.
pub fn judge(
    row: &CertRow,
    usage: Option<&Usage>,
    profile: Option<&Profile>,
    renewed: bool,
    version: Option<&str>,
    exceptions: &[ExceptionRef],
) -> Vec<Finding> {
    let mut findings = evaluate(
        &Subject {
            row,
            usage,
            profile,
            renewed,
        },
        version,
    );
    if !exceptions.is_empty() {
        for f in &mut findings {
            f.exception = exception_for(row, f.rule, exceptions).map(|e| {
                Box::new(ExceptionNote {
                    id: e.id,
                    until: e.until,
                    by: e.by.clone(),
                })
            });
        }
    }
    findings
}

/// Non-compliance across certificate rows at `now`, for dashboards and the policy view:
/// certificates with an open error finding, counted by rule, owner and profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Noncompliance {
    pub certificates: usize,
    /// (rule, certificates with an open error finding of it), most first.
    pub by_rule: Vec<(String, usize)>,
    /// (owner, non-compliant certificates), most first; `None` = unowned.
    pub by_owner: Vec<(Option<String>, usize)>,
    /// profile → (certificates, non-compliant, open warnings).
    pub by_profile: HashMap<String, (usize, usize, usize)>,
}

pub fn noncompliance(rows: &[CertRow], now: OffsetDateTime) -> Noncompliance {
    let mut rule: HashMap<&str, usize> = HashMap::new();
    let mut owner: HashMap<Option<&str>, usize> = HashMap::new();
    let mut out = Noncompliance::default();
    for r in rows {
        let mut bad = false;
        let mut warnings = 0;
        let mut seen: Vec<&str> = Vec::new();
        for f in r.findings.iter().filter(|f| f.is_open(now)) {
            match f.severity {
                Severity::Error => {
                    bad = true;
                    if !seen.contains(&f.rule) {
                        seen.push(f.rule);
                        *rule.entry(f.rule).or_default() += 1;
                    }
                }
                Severity::Warning => warnings += 1,
                Severity::Info => {}
            }
        }
        if bad {
            out.certificates += 1;
            *owner.entry(r.owner.as_deref()).or_default() += 1;
        }
        if let Some(p) = &r.profile {
            let e = out.by_profile.entry(p.clone()).or_default();
            e.0 += 1;
            e.1 += usize::from(bad);
            e.2 += warnings;
        }
    }
    out.by_rule = rule.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    out.by_rule
        .sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    out.by_owner = owner
        .into_iter()
        .map(|(k, v)| (k.map(str::to_string), v))
        .collect();
    out.by_owner
        .sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Environment;
    use crate::policy::profile::{parse_set, SanRules};
    use time::macros::datetime;
    use time::Duration;

    const NOW: OffsetDateTime = datetime!(2026-11-29 12:00 UTC);

    fn row() -> CertRow {
        CertRow {
            id: 1,
            fingerprint_sha256: "ab".repeat(32),
            serial: "01".into(),
            subject: "CN=api.example.com".into(),
            subject_cn: Some("api.example.com".into()),
            issuer: "CN=R11".into(),
            issuer_cn: Some("R11".into()),
            sans: vec!["api.example.com".into()],
            not_before: NOW - Duration::days(10),
            not_after: NOW + Duration::days(80),
            key_algorithm: "ecdsa".into(),
            key_bits: Some(256),
            signature_algorithm: "ecdsa-with-SHA256".into(),
            is_ca: false,
            owner: Some("web".into()),
            authority: Some("letsencrypt".into()),
            environment: Some(Environment::Prod),
            identity: None,
            status: CertStatus::Active,
            profile: None,
            findings: vec![],
        }
    }

    fn profile() -> Profile {
        Profile {
            name: "public-tls".into(),
            description: String::new(),
            environment: Environment::Prod,
            authorities: vec!["letsencrypt".into()],
            key_types: vec![KeyType::EcdsaP256, KeyType::Rsa2048],
            signature_algorithms: vec!["ecdsa-sha256".into(), "sha256-rsa".into()],
            max_validity_days: Some(90),
            renew_before: RenewBefore::Fraction { num: 1, den: 3 },
            eku: vec!["server-auth".into()],
            key_usage: vec![],
            owner_required: true,
            approvals: 0,
            approver_role: None,
            revocation_approvals: 1,
            public: true,
            sans: SanRules {
                dns_suffixes: vec!["example.com".into()],
                patterns: vec![],
                wildcards: false,
                ip: false,
                max: 5,
            },
            source: "t".into(),
        }
    }

    fn server() -> Usage {
        Usage {
            eku: vec!["server-auth".into()],
            key_usage: vec!["digital-signature".into()],
        }
    }

    fn rules_of(r: &CertRow, p: Option<&Profile>, renewed: bool) -> Vec<String> {
        let u = server();
        evaluate(
            &Subject {
                row: r,
                usage: Some(&u),
                profile: p,
                renewed,
            },
            Some("v1"),
        )
        .into_iter()
        .filter(|f| f.applies(NOW))
        .map(|f| f.rule.to_string())
        .collect()
    }

    #[test]
    fn table() {
        type Change = fn(&mut CertRow);
        let cases: Vec<(&str, Change, bool, Vec<&str>)> = vec![
            ("compliant", |_| {}, false, vec![]),
            ("no owner", |r| r.owner = None, false, vec!["owner.missing"]),
            (
                "expired",
                |r| r.not_after = NOW - Duration::days(1),
                false,
                vec!["cert.expired"],
            ),
            (
                "expired but renewed",
                |r| r.not_after = NOW - Duration::days(1),
                true,
                vec![],
            ),
            (
                "inside the renewal window",
                |r| {
                    r.not_before = NOW - Duration::days(70);
                    r.not_after = NOW + Duration::days(20);
                },
                false,
                vec!["renewal.due"],
            ),
            (
                "inside the window, renewed",
                |r| {
                    r.not_before = NOW - Duration::days(70);
                    r.not_after = NOW + Duration::days(20);
                },
                true,
                vec![],
            ),
            (
                "RSA-1024",
                |r| {
                    r.key_algorithm = "rsa".into();
                    r.key_bits = Some(1024);
                    r.signature_algorithm = "sha256WithRSAEncryption".into();
                },
                false,
                vec!["key.weak", "profile.key_type"],
            ),
            (
                "SHA-1",
                |r| r.signature_algorithm = "sha1WithRSAEncryption".into(),
                false,
                vec!["signature.weak", "profile.signature"],
            ),
            (
                "over the CA/B ceiling and the profile",
                |r| r.not_after = r.not_before + Duration::days(365),
                false,
                vec!["validity.cabf", "profile.validity"],
            ),
            (
                "nonprod certificate under a prod profile",
                |r| r.environment = Some(Environment::Nonprod),
                false,
                vec!["profile.environment"],
            ),
            (
                "other authority",
                |r| r.authority = Some("digicert".into()),
                false,
                vec!["profile.authority"],
            ),
            (
                "wildcard, IP and foreign domain",
                |r| {
                    r.sans = vec![
                        "*.example.com".into(),
                        "10.1.1.1".into(),
                        "x.example.org".into(),
                    ]
                },
                false,
                vec![
                    "profile.san.wildcard",
                    "profile.san.ip",
                    "profile.san.domain",
                ],
            ),
            (
                "too many SANs",
                |r| r.sans = (0..6).map(|i| format!("h{i}.example.com")).collect(),
                false,
                vec!["profile.san.count"],
            ),
            (
                "superseded certificates are history",
                |r| {
                    r.status = CertStatus::Superseded;
                    r.owner = None;
                },
                false,
                vec![],
            ),
        ];
        let p = profile();
        for (name, change, renewed, want) in cases {
            let mut r = row();
            change(&mut r);
            assert_eq!(rules_of(&r, Some(&p), renewed), want, "{name}");
        }
    }

    #[test]
    fn unprofiled_certificates_get_the_global_rules_and_a_missing_profile() {
        let mut r = row();
        r.not_after = r.not_before + Duration::days(365);
        let u = server();
        let f = evaluate(
            &Subject {
                row: &r,
                usage: Some(&u),
                profile: None,
                renewed: false,
            },
            None,
        );
        let f: Vec<&Finding> = f.iter().filter(|f| f.applies(NOW)).collect();
        let got: Vec<(&str, Severity)> = f.iter().map(|f| (f.rule, f.severity)).collect();
        assert_eq!(
            got,
            vec![
                ("validity.cabf", Severity::Warning),
                ("profile.missing", Severity::Warning)
            ]
        );
        assert_eq!(f[0].value.as_deref(), Some("365d"));
    }

    #[test]
    fn a_required_eku_missing_is_a_finding_with_the_value_found() {
        let r = row();
        let u = Usage {
            eku: vec!["client-auth".into()],
            key_usage: vec![],
        };
        let p = profile();
        let f = evaluate(
            &Subject {
                row: &r,
                usage: Some(&u),
                profile: Some(&p),
                renewed: false,
            },
            None,
        );
        let f: Vec<&Finding> = f.iter().filter(|f| f.applies(NOW)).collect();
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].rule, f[0].value.as_deref()),
            ("profile.eku", Some("client-auth"))
        );
    }

    #[test]
    fn self_signed_roots_are_not_blamed_for_their_sha1_self_signature() {
        let mut r = row();
        r.is_ca = true;
        r.issuer = r.subject.clone();
        r.signature_algorithm = "sha1WithRSAEncryption".into();
        r.not_after = NOW + Duration::days(3000);
        assert!(rules_of(&r, None, false).is_empty());
    }

    #[test]
    fn profiles_resolve_by_identity_first_then_the_first_matching_rule() {
        let set = parse_set(&[(
            "p.toml".into(),
            r#"
[[profile]]
name = "a"
environment = "prod"
authorities = ["letsencrypt"]
key_types = ["ecdsa-p256"]
[[profile]]
name = "b"
environment = "prod"
authorities = ["letsencrypt"]
key_types = ["ecdsa-p256"]
[[assign]]
profile = "a"
san_suffix = "internal.example.com"
[[assign]]
profile = "b"
authority = "letsencrypt"
owner = "web"
"#
            .into(),
        )])
        .unwrap();
        let r = row();
        assert_eq!(
            resolve_profile(&r, None, &set.rules),
            Some(("b", Via::Rule))
        );
        let mut internal = row();
        internal.sans = vec!["x.internal.example.com".into()];
        assert_eq!(
            resolve_profile(&internal, None, &set.rules),
            Some(("a", Via::Rule))
        );
        assert_eq!(
            resolve_profile(&r, Some(Some("a")), &set.rules),
            Some(("a", Via::Identity))
        );
        assert_eq!(
            resolve_profile(&r, Some(None), &set.rules),
            None,
            "an identity without a profile is not matched by rules"
        );
        let mut other = row();
        other.owner = Some("payments".into());
        assert_eq!(resolve_profile(&other, None, &set.rules), None);
    }

    #[test]
    fn exceptions_suppress_until_they_expire() {
        let mut r = row();
        r.owner = None;
        let rows = vec![r.clone()];
        let exc = vec![ExceptionRef {
            id: 7,
            rule: "owner.missing".into(),
            object_type: "certificate".into(),
            object_id: r.fingerprint_sha256.clone(),
            until: NOW + Duration::days(3),
            by: "carol".into(),
        }];
        let empty_usage = HashMap::new();
        let ids = HashMap::new();
        let ev = evaluate_inventory(&Inventory {
            rows: &rows,
            usage: &empty_usage,
            identity_profiles: &ids,
            profiles: &[],
            rules: &[],
            exceptions: &exc,
            version: None,
            only: None,
        });
        let f = &ev[0].findings[0];
        assert_eq!(f.rule, "owner.missing");
        assert!(!f.is_open(NOW));
        assert!(
            f.is_open(NOW + Duration::days(3)),
            "expired exception brings it back"
        );
        let other_rule = ev[0]
            .findings
            .iter()
            .find(|f| f.rule == "profile.missing")
            .unwrap();
        assert!(other_rule.is_open(NOW), "an exception names one rule only");
    }

    #[test]
    fn a_newer_certificate_for_the_same_names_is_a_renewal() {
        let mut old = row();
        old.not_before = NOW - Duration::days(70);
        old.not_after = NOW + Duration::days(20);
        let mut new = row();
        new.id = 2;
        new.fingerprint_sha256 = "cd".repeat(32);
        new.not_before = NOW - Duration::days(1);
        new.not_after = NOW + Duration::days(89);
        let rows = vec![old, new];
        let empty = HashMap::new();
        let ids = HashMap::new();
        let ev = evaluate_inventory(&Inventory {
            rows: &rows,
            usage: &empty,
            identity_profiles: &ids,
            profiles: &[],
            rules: &[],
            exceptions: &[],
            version: None,
            only: None,
        });
        assert!(ev.iter().all(|e| e
            .findings
            .iter()
            .all(|f| f.rule != "renewal.due" || !f.applies(NOW))));
        assert!(
            ev[0].findings.iter().all(|f| f.rule != "renewal.due"),
            "the renewed one never becomes due"
        );
    }

    #[test]
    fn every_rule_is_documented() {
        let doc = include_str!("../../docs/policy.md");
        for (id, _, _) in RULES {
            assert!(
                doc.contains(&format!("`{id}`")),
                "docs/policy.md lacks {id}"
            );
        }
    }
}
