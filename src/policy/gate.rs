//! The issuance gate: the ONE decision every issuance path asks before a CA is contacted
//! (enrollment, renewal, requests, break-glass re-issue). Callers build an
//! [`IssuanceRequest`], call [`gate`], and issue only on [`GateDecision::Allow`] (or after
//! the approvals [`GateDecision::NeedsApproval`] names were granted). When the CA answers,
//! [`check_issued`] judges the certificate it returned: a `policy_violation` must never
//! be deployed.
//!
//! Pure: no store, no clock (the request carries `now`), so every rule is a table test.

use super::profile::{cabf_ceiling_days, signature_family, KeyType, Profile};
use crate::model::{ActorKind, CertificateInfo, Environment, SanKind};
use serde::Serialize;
use std::fmt;
use time::OffsetDateTime;

/// What the requester may ask for, as the access module's scopes say. For a service
/// account every list is a whitelist (empty = nothing). For an operator an empty list
/// means "not restricted by scope" (the RACI roles already decided they may request).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RequesterScope {
    pub environments: Vec<Environment>,
    pub dns_suffixes: Vec<String>,
    pub profiles: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Requester {
    pub name: String,
    pub kind: ActorKind,
    pub scope: RequesterScope,
}

/// A certificate someone (or some automation) wants issued.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IssuanceRequest {
    /// DNS names, IP addresses (as text), `*.` wildcards.
    pub sans: Vec<String>,
    pub key_type: KeyType,
    pub validity_days: u32,
    pub authority: String,
    /// The authority holds an approved CA-source approval for the profile (an approved
    /// `ca-approval` request): usable as if the profile listed it.
    #[serde(default)]
    pub authority_approved: bool,
    /// The authority's environment; `None` (not declared) is never trusted.
    pub authority_environment: Option<Environment>,
    pub identity_environment: Option<Environment>,
    /// The identity's approved profile. `None` = never issued.
    pub profile: Option<Profile>,
    pub owner: Option<String>,
    pub requester: Requester,
    /// When the certificate would start (for the CA/Browser Forum ceiling in force).
    pub now: OffsetDateTime,
}

/// Why a request (or an issued certificate) is refused: a stable code and a sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    pub code: String,
    pub message: String,
}

impl Reason {
    fn new(code: &str, message: impl Into<String>) -> Reason {
        Reason {
            code: code.to_string(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum GateDecision {
    Allow,
    /// Everything is within the profile, and the profile wants `approvals` people holding
    /// `role` (other than the requester) to approve first.
    NeedsApproval {
        approvals: u32,
        role: String,
    },
    /// Every reason, not just the first, so the requester fixes them all at once.
    Deny(Vec<Reason>),
}

impl GateDecision {
    pub fn is_allow(&self) -> bool {
        matches!(self, GateDecision::Allow)
    }
    pub fn reasons(&self) -> &[Reason] {
        match self {
            GateDecision::Deny(r) => r,
            _ => &[],
        }
    }
}

/// Decides whether `req` may be issued. Prod never crosses to non-prod and the reverse:
/// profile, authority, identity and (service-account) requester must all be on one side.
pub fn gate(req: &IssuanceRequest) -> GateDecision {
    let mut deny: Vec<Reason> = Vec::new();
    let Some(p) = &req.profile else {
        return GateDecision::Deny(vec![Reason::new(
            "no-profile",
            "the identity has no approved profile: nothing is issued without one",
        )]);
    };
    let sa = req.requester.kind == ActorKind::ServiceAccount;
    let scope = &req.requester.scope;

    // Environments: one side only.
    match req.authority_environment {
        None => deny.push(Reason::new(
            "authority-environment",
            format!(
                "authority {} has no declared environment; it cannot be used for {} issuance",
                req.authority, p.environment
            ),
        )),
        Some(e) if e != p.environment => deny.push(Reason::new(
            "environment-crossing",
            format!(
                "authority {} is {e}, profile {} is {}",
                req.authority, p.name, p.environment
            ),
        )),
        _ => {}
    }
    match req.identity_environment {
        None => deny.push(Reason::new(
            "identity-environment",
            "the identity has no environment (prod or nonprod); set it before issuing",
        )),
        Some(e) if e != p.environment => deny.push(Reason::new(
            "environment-crossing",
            format!("identity is {e}, profile {} is {}", p.name, p.environment),
        )),
        _ => {}
    }
    if (sa || !scope.environments.is_empty()) && !scope.environments.contains(&p.environment) {
        deny.push(Reason::new(
            "requester-environment",
            format!(
                "{} may act in {} only, not {}",
                req.requester.name,
                list(scope.environments.iter().map(|e| e.to_string())),
                p.environment
            ),
        ));
    }
    if (sa || !scope.profiles.is_empty()) && !scope.profiles.contains(&p.name) {
        deny.push(Reason::new(
            "requester-profile",
            format!(
                "{} may use profiles {} only, not {}",
                req.requester.name,
                list(scope.profiles.iter().cloned()),
                p.name
            ),
        ));
    }

    // The profile's constraints.
    if !p.authorities.contains(&req.authority) && !req.authority_approved {
        deny.push(Reason::new(
            "authority",
            format!(
                "authority {a} is not approved for profile {p} (listed: {}); ask for it with \
                 `certdeck request ca-approval --authority {a} --profile {p} --justification ...`",
                if p.authorities.is_empty() {
                    "none".to_string()
                } else {
                    p.authorities.join(", ")
                },
                a = req.authority,
                p = p.name,
            ),
        ));
    }
    if !p.key_types.contains(&req.key_type) {
        deny.push(Reason::new(
            "key-type",
            format!(
                "key {} is not allowed by profile {} (allowed: {})",
                req.key_type,
                p.name,
                list(p.key_types.iter().map(|k| k.to_string()))
            ),
        ));
    }
    if req.validity_days == 0 {
        deny.push(Reason::new("validity", "validity of 0 days"));
    }
    let max = max_validity(p, req.now);
    if req.validity_days > max {
        deny.push(Reason::new(
            "validity",
            format!(
                "{} days requested, profile {} allows at most {max}",
                req.validity_days, p.name
            ),
        ));
    }
    if req.sans.is_empty() {
        deny.push(Reason::new("sans", "no SANs requested"));
    }
    for (rule, message, value) in super::check_sans(&p.sans, &req.sans) {
        deny.push(Reason::new(
            rule.trim_start_matches("profile."),
            format!("{value}: {message}"),
        ));
    }
    if sa || !scope.dns_suffixes.is_empty() {
        for s in &req.sans {
            let base = s.strip_prefix("*.").unwrap_or(s);
            if !scope
                .dns_suffixes
                .iter()
                .any(|x| super::has_suffix(base, x))
            {
                deny.push(Reason::new(
                    "requester-domain",
                    format!(
                        "{s}: {} may request names under {} only",
                        req.requester.name,
                        list(scope.dns_suffixes.iter().cloned())
                    ),
                ));
            }
        }
    }
    if p.owner_required && req.owner.as_deref().is_none_or(|o| o.trim().is_empty()) {
        deny.push(Reason::new(
            "owner",
            format!(
                "profile {} requires an owner; the identity has none",
                p.name
            ),
        ));
    }

    if !deny.is_empty() {
        return GateDecision::Deny(deny);
    }
    if p.approvals > 0 {
        return GateDecision::NeedsApproval {
            approvals: p.approvals,
            role: p.approver_role.clone().unwrap_or_default(),
        };
    }
    GateDecision::Allow
}

/// The longest validity the profile allows for a certificate starting at `start`: its own
/// maximum, further capped by the CA/Browser Forum ceiling when it is public (and used as
/// the maximum when the profile names none).
pub fn max_validity(p: &Profile, start: OffsetDateTime) -> u32 {
    let cabf = cabf_ceiling_days(start);
    match (p.max_validity_days, p.public) {
        (Some(m), true) => m.min(cabf),
        (Some(m), false) => m,
        (None, _) => cabf,
    }
}

/// A certificate a CA returned in breach of its profile: flag it, never deploy it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("policy_violation: the CA returned a certificate in breach of profile {profile}: {}", list(.reasons.iter().map(|r| r.to_string())))]
pub struct PolicyViolation {
    pub profile: String,
    pub reasons: Vec<Reason>,
}

/// Judges a certificate the CA returned against the profile it was requested under.
/// `eku` are the extended key usages it carries (as [`super::profile::EKU_NAMES`]).
pub fn check_issued(
    cert: &CertificateInfo,
    eku: &[String],
    profile: &Profile,
) -> Result<(), PolicyViolation> {
    let mut reasons = Vec::new();
    let lifetime = (cert.not_after - cert.not_before).whole_seconds();
    let max = max_validity(profile, cert.not_before);
    if lifetime > max as i64 * 86_400 {
        reasons.push(Reason::new(
            "validity",
            format!(
                "valid for {} days, the profile allows {max}",
                (lifetime + 86_399) / 86_400
            ),
        ));
    }
    match KeyType::of(&cert.key_algorithm, cert.key_bits) {
        Some(k) if profile.key_types.contains(&k) => {}
        k => reasons.push(Reason::new(
            "key-type",
            format!(
                "key {} is not allowed",
                k.map(|k| k.to_string())
                    .unwrap_or_else(|| format!("{}/{:?}", cert.key_algorithm, cert.key_bits))
            ),
        )),
    }
    match signature_family(&cert.signature_algorithm) {
        Some(f) if profile.signature_algorithms.iter().any(|s| s == f) => {}
        _ => reasons.push(Reason::new(
            "signature",
            format!("signature {} is not allowed", cert.signature_algorithm),
        )),
    }
    let sans: Vec<String> = cert
        .sans
        .iter()
        .filter(|s| matches!(s.kind, SanKind::Dns | SanKind::Ip))
        .map(|s| s.value.clone())
        .collect();
    for (rule, message, value) in super::check_sans(&profile.sans, &sans) {
        reasons.push(Reason::new(
            rule.trim_start_matches("profile."),
            format!("{value}: {message}"),
        ));
    }
    for want in &profile.eku {
        if !eku.iter().any(|e| e == want) {
            reasons.push(Reason::new(
                "eku",
                format!("missing extended key usage {want}"),
            ));
        }
    }
    if cert.is_ca {
        reasons.push(Reason::new("ca", "the certificate is a CA certificate"));
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(PolicyViolation {
            profile: profile.name.clone(),
            reasons,
        })
    }
}

fn list(items: impl Iterator<Item = String>) -> String {
    let v: Vec<String> = items.collect();
    if v.is_empty() {
        "(none)".into()
    } else {
        v.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::profile::{RenewBefore, SanRules};
    use proptest::prelude::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-29 12:00 UTC);

    fn profile(env: Environment) -> Profile {
        Profile {
            name: format!("{env}-tls"),
            description: String::new(),
            environment: env,
            authorities: vec![format!("{env}-ca")],
            key_types: vec![KeyType::EcdsaP256, KeyType::Rsa3072],
            signature_algorithms: vec!["ecdsa-sha256".into(), "sha256-rsa".into()],
            max_validity_days: Some(90),
            renew_before: RenewBefore::Fraction { num: 1, den: 3 },
            eku: vec!["server-auth".into()],
            key_usage: vec![],
            owner_required: true,
            approvals: 0,
            approver_role: None,
            revocation_approvals: 1,
            public: false,
            sans: SanRules {
                dns_suffixes: vec!["example.com".into()],
                patterns: vec![],
                wildcards: false,
                ip: false,
                max: 3,
            },
            source: "test".into(),
        }
    }

    fn request(env: Environment) -> IssuanceRequest {
        IssuanceRequest {
            sans: vec!["api.example.com".into()],
            key_type: KeyType::EcdsaP256,
            validity_days: 90,
            authority: format!("{env}-ca"),
            authority_approved: false,
            authority_environment: Some(env),
            identity_environment: Some(env),
            profile: Some(profile(env)),
            owner: Some("payments".into()),
            requester: Requester {
                name: "renewer".into(),
                kind: ActorKind::ServiceAccount,
                scope: RequesterScope {
                    environments: vec![env],
                    dns_suffixes: vec!["example.com".into()],
                    profiles: vec![format!("{env}-tls")],
                },
            },
            now: NOW,
        }
    }

    fn codes(d: &GateDecision) -> Vec<&str> {
        d.reasons().iter().map(|r| r.code.as_str()).collect()
    }

    #[test]
    fn table() {
        use Environment::*;
        type Change = fn(&mut IssuanceRequest);
        let cases: Vec<(&str, Change, Vec<&str>)> = vec![
            ("a request inside its profile", |_| {}, vec![]),
            ("no profile", |r| r.profile = None, vec!["no-profile"]),
            (
                "prod authority for a nonprod profile",
                |r| {
                    r.profile = Some(profile(Nonprod));
                    r.identity_environment = Some(Nonprod);
                    r.requester.scope.environments = vec![Nonprod];
                    r.requester.scope.profiles = vec!["nonprod-tls".into()];
                },
                vec!["environment-crossing", "authority"],
            ),
            (
                "nonprod authority for a prod profile",
                |r| {
                    r.authority_environment = Some(Nonprod);
                },
                vec!["environment-crossing"],
            ),
            (
                "authority with no environment",
                |r| r.authority_environment = None,
                vec!["authority-environment"],
            ),
            (
                "nonprod identity on a prod profile",
                |r| r.identity_environment = Some(Nonprod),
                vec!["environment-crossing"],
            ),
            (
                "identity with no environment",
                |r| r.identity_environment = None,
                vec!["identity-environment"],
            ),
            (
                "nonprod service account asking for prod",
                |r| r.requester.scope.environments = vec![Nonprod],
                vec!["requester-environment"],
            ),
            (
                "service account with an empty scope",
                |r| r.requester.scope = RequesterScope::default(),
                vec![
                    "requester-environment",
                    "requester-profile",
                    "requester-domain",
                ],
            ),
            (
                "operator with an empty scope",
                |r| {
                    r.requester.kind = ActorKind::Operator;
                    r.requester.scope = RequesterScope::default();
                },
                vec![],
            ),
            (
                "operator scoped to nonprod",
                |r| {
                    r.requester.kind = ActorKind::Operator;
                    r.requester.scope = RequesterScope {
                        environments: vec![Nonprod],
                        ..Default::default()
                    };
                },
                vec!["requester-environment"],
            ),
            (
                "unapproved authority",
                |r| r.authority = "prod-other".into(),
                vec!["authority"],
            ),
            (
                "an authority the profile does not list but a CA-source approval covers",
                |r| {
                    r.authority = "prod-other".into();
                    r.authority_approved = true;
                },
                vec![],
            ),
            (
                "disallowed key",
                |r| r.key_type = KeyType::Rsa2048,
                vec!["key-type"],
            ),
            ("too long", |r| r.validity_days = 91, vec!["validity"]),
            ("zero days", |r| r.validity_days = 0, vec!["validity"]),
            ("no SANs", |r| r.sans.clear(), vec!["sans"]),
            (
                "foreign domain",
                |r| r.sans = vec!["api.example.org".into()],
                vec!["san.domain", "requester-domain"],
            ),
            (
                "wildcard",
                |r| r.sans = vec!["*.example.com".into()],
                vec!["san.wildcard"],
            ),
            (
                "IP SAN",
                |r| r.sans = vec!["10.0.0.1".into()],
                vec!["san.ip", "requester-domain"],
            ),
            (
                "too many SANs",
                |r| r.sans = (0..4).map(|i| format!("h{i}.example.com")).collect(),
                vec!["san.count"],
            ),
            ("no owner", |r| r.owner = None, vec!["owner"]),
            (
                "everything wrong at once",
                |r| {
                    r.key_type = KeyType::Ed25519;
                    r.validity_days = 400;
                    r.owner = Some(" ".into());
                },
                vec!["key-type", "validity", "owner"],
            ),
        ];
        for (name, change, want) in cases {
            let mut r = request(Prod);
            change(&mut r);
            let d = gate(&r);
            assert_eq!(codes(&d), want, "{name}: {d:?}");
            if want.is_empty() {
                assert_eq!(d, GateDecision::Allow, "{name}");
            }
        }
    }

    #[test]
    fn a_profile_with_approvers_needs_their_approval() {
        let mut r = request(Environment::Prod);
        if let Some(p) = r.profile.as_mut() {
            p.approvals = 2;
            p.approver_role = Some("central-pki".into());
        }
        assert_eq!(
            gate(&r),
            GateDecision::NeedsApproval {
                approvals: 2,
                role: "central-pki".into()
            }
        );
        r.validity_days = 1000;
        assert_eq!(
            codes(&gate(&r)),
            vec!["validity"],
            "denial wins over approval"
        );
    }

    #[test]
    fn public_profiles_follow_the_cabf_schedule() {
        let mut r = request(Environment::Prod);
        if let Some(p) = r.profile.as_mut() {
            p.public = true;
            p.max_validity_days = None;
        }
        r.validity_days = 200;
        assert!(gate(&r).is_allow());
        r.now = datetime!(2027-03-15 0:00 UTC);
        assert_eq!(codes(&gate(&r)), vec!["validity"]);
        r.validity_days = 100;
        assert!(gate(&r).is_allow());
        r.now = datetime!(2029-03-15 0:00 UTC);
        assert_eq!(codes(&gate(&r)), vec!["validity"]);
    }

    fn issued(days: i64) -> CertificateInfo {
        CertificateInfo {
            fingerprint_sha256: "00".into(),
            serial: "01".into(),
            subject: "CN=api.example.com".into(),
            subject_cn: Some("api.example.com".into()),
            issuer: "CN=prod-ca".into(),
            issuer_cn: Some("prod-ca".into()),
            not_before: NOW,
            not_after: NOW + time::Duration::days(days) - time::Duration::seconds(1),
            sans: vec![crate::model::San {
                kind: SanKind::Dns,
                value: "api.example.com".into(),
            }],
            key_algorithm: "ecdsa".into(),
            key_bits: Some(256),
            key_curve: Some("P-256".into()),
            signature_algorithm: "ecdsa-with-SHA256".into(),
            is_ca: false,
            self_signed: false,
            ski: None,
            aki: None,
        }
    }

    #[test]
    fn a_certificate_returned_in_breach_of_its_profile_is_a_violation() {
        let p = profile(Environment::Prod);
        let eku = vec!["server-auth".to_string()];
        assert_eq!(check_issued(&issued(90), &eku, &p), Ok(()));
        let v = check_issued(&issued(365), &eku, &p).unwrap_err();
        assert_eq!(v.reasons[0].code, "validity");
        assert!(v.to_string().starts_with("policy_violation"));
        let mut sha1 = issued(30);
        sha1.signature_algorithm = "sha1WithRSAEncryption".into();
        let v = check_issued(&sha1, &[], &p).unwrap_err();
        let c: Vec<&str> = v.reasons.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(c, vec!["signature", "eku"]);
    }

    fn arb_env() -> impl Strategy<Value = Environment> {
        prop_oneof![Just(Environment::Prod), Just(Environment::Nonprod)]
    }

    proptest! {
        /// Whatever else the request says, a profile on one side and an authority on the
        /// other is never allowed nor sent for approval.
        #[test]
        fn environments_never_cross(
            profile_env in arb_env(), authority_env in arb_env(), identity_env in arb_env(),
            days in 0u32..500, operator in any::<bool>(), approvals in 0u32..3,
        ) {
            let mut r = request(profile_env);
            r.authority_environment = Some(authority_env);
            r.identity_environment = Some(identity_env);
            r.validity_days = days;
            if operator { r.requester.kind = ActorKind::Operator; r.requester.scope = RequesterScope::default(); }
            if let Some(p) = r.profile.as_mut() { p.approvals = approvals; p.approver_role = Some("pki".into()); }
            let d = gate(&r);
            if authority_env != profile_env || identity_env != profile_env {
                prop_assert!(matches!(d, GateDecision::Deny(_)), "{:?}", d);
                prop_assert!(codes(&d).contains(&"environment-crossing"));
            }
        }

        /// No profile, no certificate.
        #[test]
        fn no_profile_is_always_denied(days in 0u32..1000, sans in proptest::collection::vec("[a-z]{1,8}\\.example\\.com", 0..4)) {
            let mut r = request(Environment::Prod);
            r.profile = None;
            r.validity_days = days;
            r.sans = sans;
            let d = gate(&r);
            prop_assert_eq!(codes(&d), vec!["no-profile"]);
        }

        /// Allowed requests never exceed the profile's validity, and denial lists every
        /// broken constraint (a request is allowed iff no reason applies).
        #[test]
        fn allow_implies_within_profile(days in 0u32..400, label in "[a-z*]{1,6}", suffix in prop_oneof![Just("example.com"), Just("example.org")]) {
            let mut r = request(Environment::Nonprod);
            r.validity_days = days;
            r.sans = vec![format!("{label}.{suffix}")];
            let d = gate(&r);
            if d.is_allow() {
                prop_assert!((1..=90).contains(&days));
                prop_assert!(r.sans[0].ends_with(".example.com") && !r.sans[0].starts_with("*."));
            } else {
                prop_assert!(!d.reasons().is_empty());
            }
        }
    }
}
