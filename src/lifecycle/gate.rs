//! The one place the lifecycle engine asks "may this be issued?" and "is what the CA
//! returned acceptable?". Profiles belong to `policy/`; until its issuance gate is on
//! main this module applies the rules that hold whatever the profile says (an owner, the
//! environment boundary, a key type), and the terms default. Every issuance decision
//! goes through [`check`], so wiring the policy gate in is a change here only.

use super::diagnosis::{Category, Diagnosis};
use super::keys::KeyType;
use crate::model::{Authority, CertificateInfo, Identity, SanKind};
use crate::store::Read;
use time::{Duration, OffsetDateTime};

/// What the identity's profile says about its certificates, as the engine needs it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Terms {
    /// Requested lifetime (the local CA and Vault honour it; ACME CAs choose).
    pub validity: Option<Duration>,
    /// The longest lifetime the profile accepts from a CA.
    pub max_validity: Option<Duration>,
    /// Renew when this much lifetime remains (default: the planner's 1/3 rule).
    pub renew_before: Option<Duration>,
    /// Whether the identity may be issued by its fallback authority.
    pub allow_fallback: bool,
    /// Which profile (and version hash) decided, for the audit record.
    pub profile: Option<String>,
}

/// Decides whether `identity` may be issued a certificate by `authority` now.
pub fn check(
    _read: Read<'_>,
    identity: &Identity,
    authority: &Authority,
    _now: OffsetDateTime,
) -> Result<Terms, Diagnosis> {
    if identity.owner.is_none() {
        return Err(Diagnosis::new(
            Category::PolicyDenied,
            format!("identity {} has no owner", identity.name),
        ));
    }
    if identity.sans.is_empty() {
        return Err(Diagnosis::new(
            Category::PolicyDenied,
            format!(
                "identity {} names no subject alternative names",
                identity.name
            ),
        ));
    }
    if let (Some(ie), Some(ae)) = (identity.environment, authority.environment) {
        if ie != ae {
            return Err(Diagnosis::new(
                Category::PolicyDenied,
                format!(
                    "identity {} is {ie} but authority {} serves {ae}: prod and non-prod never cross",
                    identity.name, authority.name
                ),
            ));
        }
    }
    if let Some(k) = &identity.key_type {
        k.parse::<KeyType>()
            .map_err(|e| Diagnosis::new(Category::PolicyDenied, e))?;
    }
    Ok(Terms {
        allow_fallback: true,
        profile: identity.profile.clone(),
        ..Terms::default()
    })
}

/// Checks a certificate the CA returned against what was asked and what the profile
/// allows. A certificate that fails is recorded but never deployed (`policy_violation`).
pub fn check_issued(
    identity: &Identity,
    key_type: KeyType,
    terms: &Terms,
    cert: &CertificateInfo,
) -> Result<(), Diagnosis> {
    let violation = |m: String| Err(Diagnosis::new(Category::PolicyViolation, m));
    for want in &identity.sans {
        let covered = cert.sans.iter().any(|s| {
            matches!(s.kind, SanKind::Dns | SanKind::Ip) && s.value.eq_ignore_ascii_case(want)
        });
        if !covered {
            return violation(format!("the certificate does not cover {want}"));
        }
    }
    let (alg, bits) = key_type.inventory_terms();
    if cert.key_algorithm != alg || cert.key_bits.is_some_and(|b| b != bits) {
        return violation(format!(
            "the certificate's key is {} {:?}, not the {} the identity asked for",
            cert.key_algorithm, cert.key_bits, key_type
        ));
    }
    if let Some(max) = terms.max_validity {
        let lifetime = cert.not_after - cert.not_before;
        if lifetime > max + Duration::hours(1) {
            return violation(format!(
                "the certificate is valid for {} days; the profile allows at most {}",
                lifetime.whole_days(),
                max.whole_days()
            ));
        }
    }
    if cert.is_ca {
        return violation("the CA returned a CA certificate for a leaf identity".into());
    }
    Ok(())
}
