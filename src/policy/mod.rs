//! Policy as code: profiles loaded from TOML ([`profile`]), the compliance engine that
//! evaluates every certificate against its profile and the global rules ([`compliance`]),
//! and the issuance gate every issuance path must pass ([`gate`]). All pure: data and a
//! time in, decisions out; the store and `ops::policy` feed them.

pub mod compliance;
pub mod exception;
pub mod gate;
pub mod profile;

pub use compliance::{
    evaluate, evaluate_inventory, Evaluation, ExceptionRef, Inventory, Subject, Usage, Via, RULES,
};
pub use gate::{
    check_issued, gate, GateDecision, IssuanceRequest, Reason, Requester, RequesterScope,
};
pub use profile::{
    cabf_ceiling_days, parse_set, KeyType, MatchRule, PolicyError, PolicyErrors, PolicySet,
    Profile, RenewBefore, SanRules,
};

use std::net::IpAddr;

/// Whether `name` equals `suffix` or ends in `.suffix` (ASCII case-insensitive).
pub fn has_suffix(name: &str, suffix: &str) -> bool {
    let n = name.trim_end_matches('.');
    n.eq_ignore_ascii_case(suffix)
        || (n.len() > suffix.len()
            && n.as_bytes()[n.len() - suffix.len() - 1] == b'.'
            && n[n.len() - suffix.len()..].eq_ignore_ascii_case(suffix))
}

/// `*` in a pattern stands for exactly one label.
pub fn matches_pattern(name: &str, pattern: &str) -> bool {
    let n: Vec<&str> = name.trim_end_matches('.').split('.').collect();
    let p: Vec<&str> = pattern.split('.').collect();
    n.len() == p.len()
        && n.iter()
            .zip(&p)
            .all(|(a, b)| *b == "*" || a.eq_ignore_ascii_case(b))
}

/// One SAN problem: rule id, message, offending value.
pub(crate) type SanProblem = (&'static str, String, String);

/// Checks SANs (as strings; IP addresses are recognised by parsing) against a profile's
/// SAN rules. Shared by the gate (requested SANs) and the engine (observed SANs), so a
/// request and the certificate it yields are judged by the same rule.
pub(crate) fn check_sans(rules: &SanRules, sans: &[String]) -> Vec<SanProblem> {
    let mut out = Vec::new();
    if sans.len() > rules.max as usize {
        out.push((
            "profile.san.count",
            format!(
                "{} SANs, the profile allows at most {}",
                sans.len(),
                rules.max
            ),
            sans.len().to_string(),
        ));
    }
    for s in sans {
        if s.parse::<IpAddr>().is_ok() {
            if !rules.ip {
                out.push((
                    "profile.san.ip",
                    "IP address SANs are not allowed by the profile".into(),
                    s.clone(),
                ));
            }
            continue;
        }
        if s.contains('@') || s.contains("://") {
            // Email and URI SANs: the profile's DNS rules do not speak about them.
            continue;
        }
        let (wild, base) = match s.strip_prefix("*.") {
            Some(b) => (true, b),
            None => (false, s.as_str()),
        };
        if !profile::valid_dns_name(base.trim_end_matches('.')) {
            out.push((
                "profile.san.invalid",
                "not a valid DNS name".into(),
                s.clone(),
            ));
            continue;
        }
        if wild && !rules.wildcards {
            out.push((
                "profile.san.wildcard",
                "wildcard SANs are not allowed by the profile".into(),
                s.clone(),
            ));
        }
        let restricted = !rules.dns_suffixes.is_empty() || !rules.patterns.is_empty();
        if restricted
            && !rules.dns_suffixes.iter().any(|x| has_suffix(base, x))
            && !rules.patterns.iter().any(|p| matches_pattern(s, p))
        {
            out.push((
                "profile.san.domain",
                format!(
                    "not under an allowed DNS suffix ({})",
                    rules
                        .dns_suffixes
                        .iter()
                        .chain(&rules.patterns)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                s.clone(),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_match_on_label_boundaries() {
        assert!(has_suffix("api.example.com", "example.com"));
        assert!(has_suffix("example.com", "example.com"));
        assert!(has_suffix("API.Example.COM.", "example.com"));
        assert!(!has_suffix("badexample.com", "example.com"));
        assert!(!has_suffix("example.com.evil.net", "example.com"));
    }

    #[test]
    fn a_pattern_star_is_one_label() {
        assert!(matches_pattern("web.svc.internal", "*.svc.internal"));
        assert!(!matches_pattern("a.web.svc.internal", "*.svc.internal"));
        assert!(!matches_pattern("svc.internal", "*.svc.internal"));
    }
}
