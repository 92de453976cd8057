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
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Terms {
    /// Requested lifetime (the local CA and Vault honour it; ACME CAs choose).
    pub validity: Option<Duration>,
    /// The longest lifetime the profile accepts from a CA.
    pub max_validity: Option<Duration>,
    /// Renew when this much lifetime remains (default: the planner's 1/3 rule).
    pub renew_before: Option<Duration>,
    /// Whether the identity may be issued by its fallback authority.
    pub allow_fallback: bool,
    /// Which profile decided, for the audit record.
    pub profile: Option<String>,
    /// The profile itself, to judge what the CA returns.
    pub policy: Option<crate::policy::profile::Profile>,
    /// The approved issuance request this issuance rests on, when the profile wants
    /// approval (cited in the job's audit record).
    pub approval: Option<i64>,
}

/// Decides whether `identity` may be issued a certificate by `authority` now, through
/// the policy issuance gate (`policy::gate`): the identity's profile, the environments,
/// the names, the key type, the requester's scopes. An authority the profile does not
/// list is usable when a CA-source approval covers it for the profile. When the profile
/// wants approval, an approved issuance request for this identity that still covers it
/// (names, profile, authority, threshold, not lapsed) lets it through; otherwise it is
/// held, `awaiting_approval`, naming the request to open, the pending one, or the one
/// that no longer covers it. Genuine profile violations stay `policy_denied`.
pub fn check(
    read: Read<'_>,
    identity: &Identity,
    authority: &Authority,
    actor: &crate::model::Actor,
    now: OffsetDateTime,
    workflow: &crate::config::WorkflowConfig,
) -> Result<Terms, Diagnosis> {
    use crate::policy::gate::{gate, GateDecision, IssuanceRequest, Requester, RequesterScope};
    let denied = |m: String| Diagnosis::new(Category::PolicyDenied, m);
    let key_type: KeyType = identity
        .key_type
        .as_deref()
        .unwrap_or("ecdsa-p256")
        .parse()
        .map_err(denied)?;
    let profile = match &identity.profile {
        Some(name) => read
            .profile(name)
            .map_err(|e| denied(format!("reading profile {name}: {e}")))?,
        None => None,
    };
    if let (Some(name), None) = (&identity.profile, &profile) {
        return Err(denied(format!(
            "identity {}: profile {name} is not loaded (`certdeck policy load`)",
            identity.name
        )));
    }
    let scope = match actor.kind {
        crate::model::ActorKind::ServiceAccount => match read.service_account(&actor.name) {
            Ok(Some(sa)) => RequesterScope {
                environments: vec![sa.environment],
                dns_suffixes: sa.dns_suffixes,
                profiles: sa.profiles,
            },
            _ => RequesterScope::default(),
        },
        _ => RequesterScope::default(),
    };
    let validity_days = profile
        .as_ref()
        .and_then(|p| p.max_validity_days)
        .unwrap_or(90);
    let authority_approved = match &profile {
        Some(p) if !p.authorities.contains(&authority.name) => read
            .authority_approved_for(&authority.name, &p.name)
            .map_err(|e| denied(format!("reading CA-source approvals: {e}")))?,
        _ => false,
    };
    let req = IssuanceRequest {
        sans: identity.sans.clone(),
        key_type: crate::policy::profile::KeyType::parse(key_type.as_str())
            .ok_or_else(|| denied(format!("key type {key_type} is unknown to policy")))?,
        validity_days,
        authority: authority.name.clone(),
        authority_approved,
        authority_environment: authority.environment,
        identity_environment: identity.environment,
        profile: profile.clone(),
        owner: identity.owner.clone(),
        requester: Requester {
            name: actor.name.clone(),
            kind: actor.kind,
            scope,
        },
        now,
    };
    let mut approval = None;
    match gate(&req) {
        GateDecision::Allow => {}
        GateDecision::NeedsApproval { approvals, role } => {
            let p = profile
                .as_ref()
                .expect("approval is only asked under a profile");
            approval = Some(approved_issuance(
                read, identity, authority, p, approvals, &role, now, workflow,
            )?);
        }
        GateDecision::Deny(reasons) => {
            return Err(denied(
                reasons
                    .iter()
                    .map(|r| r.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            ))
        }
    }
    let p = profile.expect("the gate allows nothing without a profile");
    Ok(Terms {
        validity: p.max_validity_days.map(|d| Duration::days(d as i64)),
        max_validity: None,
        renew_before: None,
        allow_fallback: true,
        profile: Some(p.name.clone()),
        policy: Some(p),
        approval,
    })
}

/// The approved issuance request that covers this issuance, or an `awaiting_approval`
/// diagnosis naming the request to open, the pending one and how many approvals it has,
/// or why the one on record no longer covers it (names, profile, authority, threshold,
/// lapse). Waiting on a reviewer is not a policy denial: nothing about the identity is
/// wrong, and the operator's advice differs.
#[allow(clippy::too_many_arguments)]
fn approved_issuance(
    read: Read<'_>,
    identity: &Identity,
    authority: &Authority,
    profile: &crate::policy::profile::Profile,
    approvals: u32,
    role: &str,
    now: OffsetDateTime,
    workflow: &crate::config::WorkflowConfig,
) -> Result<i64, Diagnosis> {
    use crate::workflow::{issuance_covers, issuance_names, IssuanceSubject, Kind, State};
    let subject = IssuanceSubject {
        identity: &identity.name,
        sans: &identity.sans,
        profile: &profile.name,
        authority: &authority.name,
        approvals,
        approver_role: role,
    };
    let lapse = (workflow.issuance_approval_days > 0)
        .then(|| Duration::days(workflow.issuance_approval_days as i64));
    let requests = read
        .requests(&crate::store::RequestFilter {
            kind: Some(Kind::Issuance),
            ..Default::default()
        })
        .map_err(|e| {
            Diagnosis::new(
                Category::PolicyDenied,
                format!("reading issuance requests: {e}"),
            )
        })?;
    // Newest first: the most recent word on this identity explains the hold, and a
    // pending request is the one to point at.
    let mut why = None;
    for r in requests.iter().filter(|r| issuance_names(r, &subject)) {
        match issuance_covers(r, &subject, now, lapse) {
            Ok(()) => return Ok(r.id),
            Err(e) => {
                let pending = r.effective_state(now) == State::Pending;
                if why.is_none() || pending {
                    why = Some((e, pending.then_some(r)));
                }
                if pending {
                    break;
                }
            }
        }
    }
    let awaiting = |m: String| {
        Diagnosis::new(
            Category::AwaitingApproval,
            format!("awaiting issuance approval: {m}"),
        )
    };
    let head = format!(
        "profile {} wants {approvals} approval(s) by {role} before issuing {}",
        profile.name, identity.name
    );
    let open = format!(
        "open one with `certdeck request issuance --identity {} --justification ...`",
        identity.name
    );
    Err(match why {
        Some((_, Some(r))) => {
            let by_role = r.approvals().filter(|v| v.role.as_str() == role).count();
            awaiting(format!(
                "request #{id} has {by_role} of {approvals} approval(s) by {role} (profile {}); \
                 it waits on a reviewer: `certdeck approve {id}`",
                profile.name,
                id = r.id
            ))
        }
        // What to do first (the console's narrow column shows the start), then why.
        Some((e, None)) => awaiting(format!("{e}; {open} ({head})")),
        None => awaiting(format!("no issuance request approves it: {open} ({head})")),
    })
}

/// Checks a certificate the CA returned against what was asked and what the profile
/// allows. A certificate that fails is recorded but never deployed (`policy_violation`).
pub fn check_issued(
    identity: &Identity,
    key_type: KeyType,
    terms: &Terms,
    cert: &CertificateInfo,
    der: Option<&[u8]>,
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
    if let (Some(p), Some(der)) = (&terms.policy, der) {
        let usage = crate::policy::compliance::Usage::from_der(der);
        crate::policy::gate::check_issued(cert, &usage.eku, p)
            .map_err(|v| Diagnosis::new(Category::PolicyViolation, v.to_string()))?;
    }
    Ok(())
}
