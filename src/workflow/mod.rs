//! Requests and their review: issuance, delegation, policy exception, CA source approval,
//! revocation. `pending → approved | denied | withdrawn | expired`, and an approved
//! issuance or revocation request can later be `revoked` (it then authorises nothing). The rules here are pure (a request,
//! a reviewer, a clock in; a decision out); `ops::workflow` loads, authorizes, applies and
//! audits in one transaction.
//!
//! Models: Teleport access requests (reviewers, thresholds, expiry), Azure PIM
//! (justification, ticket, bounded duration), cert-manager's approve/deny split.

use crate::access::{Activity, Role, Scope};
use crate::model::Environment;
use serde::{Deserialize, Serialize};
use std::fmt;
use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Issuance,
    Delegation,
    Exception,
    CaApproval,
    Revocation,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Issuance,
        Kind::Delegation,
        Kind::Exception,
        Kind::CaApproval,
        Kind::Revocation,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Issuance => "issuance",
            Kind::Delegation => "delegation",
            Kind::Exception => "exception",
            Kind::CaApproval => "ca_approval",
            Kind::Revocation => "revocation",
        }
    }
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
    /// The activity whose A approves this kind of request.
    pub fn activity(self) -> Activity {
        match self {
            Kind::Delegation => Activity::ApproveDelegation,
            Kind::CaApproval => Activity::ApproveCaSource,
            // Exceptions bend the constraints; issuance the gate held back is judged by
            // whoever defines the profiles it was held against.
            Kind::Exception | Kind::Issuance => Activity::DefineProfiles,
            // Revoking is part of failure response: its R asks, its A (platform by
            // default) decides, so no one takes a certificate out of service alone.
            Kind::Revocation => Activity::RenewalResponse,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Pending,
    Approved,
    Denied,
    Withdrawn,
    Expired,
    /// An approval taken back after the fact (issuance, revocation): it authorises nothing.
    Revoked,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Approved => "approved",
            State::Denied => "denied",
            State::Withdrawn => "withdrawn",
            State::Expired => "expired",
            State::Revoked => "revoked",
        }
    }
    pub fn parse(s: &str) -> Option<State> {
        [
            State::Pending,
            State::Approved,
            State::Denied,
            State::Withdrawn,
            State::Expired,
            State::Revoked,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is asked for, exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Payload {
    /// A role (with a scope) for an operator.
    Delegation {
        user: String,
        role: Role,
        #[serde(default)]
        scope: Scope,
    },
    /// Suppress one rule's finding on one object for a bounded time.
    Exception {
        rule: String,
        /// `certificate` (object = full SHA-256 fingerprint) or `identity` (its name).
        object_type: String,
        object_id: String,
        days: u32,
    },
    /// Use an authority for a profile.
    CaApproval { authority: String, profile: String },
    /// A certificate the issuance gate held for approval. Opened for an identity, it
    /// records the identity's names, profile and authority as they are: the approval
    /// covers exactly those.
    Issuance {
        identity: Option<String>,
        profile: Option<String>,
        authority: Option<String>,
        environment: Option<Environment>,
        sans: Vec<String>,
        validity_days: Option<u32>,
        /// The role the profile says approves (approvals from other roles do not count).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        approver_role: Option<String>,
    },
    /// Revoke one certificate (full SHA-256 fingerprint) for an RFC 5280 reason.
    Revocation {
        certificate: String,
        reason: String,
        /// The identity it serves, if any (for reviewers).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        identity: Option<String>,
    },
}

impl Payload {
    pub fn kind(&self) -> Kind {
        match self {
            Payload::Delegation { .. } => Kind::Delegation,
            Payload::Exception { .. } => Kind::Exception,
            Payload::CaApproval { .. } => Kind::CaApproval,
            Payload::Issuance { .. } => Kind::Issuance,
            Payload::Revocation { .. } => Kind::Revocation,
        }
    }

    /// One line an operator reads in a queue.
    pub fn summary(&self) -> String {
        match self {
            Payload::Delegation { user, role, scope } => {
                format!("{role} for {user} (scope {scope})")
            }
            Payload::Exception {
                rule,
                object_type,
                object_id,
                days,
            } => format!("except {rule} on {object_type} {object_id} for {days}d"),
            Payload::CaApproval { authority, profile } => {
                format!("use authority {authority} for profile {profile}")
            }
            Payload::Issuance {
                identity,
                profile,
                authority,
                sans,
                ..
            } => format!(
                "issue {} ({}) under {}{}",
                identity.as_deref().unwrap_or("-"),
                sans.join(","),
                profile.as_deref().unwrap_or("no profile"),
                authority
                    .as_deref()
                    .map(|a| format!(" from {a}"))
                    .unwrap_or_default()
            ),
            Payload::Revocation {
                certificate,
                reason,
                identity,
            } => format!(
                "revoke {}{} ({reason})",
                &certificate[..certificate.len().min(16)],
                identity
                    .as_deref()
                    .map(|i| format!(" of {i}"))
                    .unwrap_or_default()
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Approve,
    Deny,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Approve => "approve",
            Verdict::Deny => "deny",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Review {
    pub reviewer: String,
    /// The role the reviewer acted with (what counts for distinct-role thresholds).
    pub role: Role,
    pub verdict: Verdict,
    pub comment: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Request {
    pub id: i64,
    pub kind: Kind,
    pub state: State,
    pub requester: String,
    pub activity: Activity,
    pub payload: Payload,
    pub justification: String,
    pub ticket: Option<String>,
    pub approvals_required: u32,
    pub distinct_roles: bool,
    pub responsible_may_approve: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub decided_at: Option<OffsetDateTime>,
    pub decided_by: Option<String>,
    pub decision_comment: Option<String>,
    pub reviews: Vec<Review>,
    /// What approval applied (e.g. the grant or exception id), as JSON.
    pub result: Option<serde_json::Value>,
    /// When an approval that authorises one act (a revocation) was carried out.
    #[serde(with = "time::serde::rfc3339::option")]
    pub used_at: Option<OffsetDateTime>,
    pub used_by: Option<String>,
}

impl Request {
    /// The state as of `now`: a pending request past its expiry is expired even before
    /// anyone records it.
    pub fn effective_state(&self, now: OffsetDateTime) -> State {
        if self.state == State::Pending && now >= self.expires_at {
            State::Expired
        } else {
            self.state
        }
    }

    pub fn approvals(&self) -> impl Iterator<Item = &Review> {
        self.reviews
            .iter()
            .filter(|r| r.verdict == Verdict::Approve)
    }
}

/// Why a review cannot be recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    #[error("request {id} already decided by {by}: {state}")]
    AlreadyDecided { id: i64, state: State, by: String },
    #[error("request {id} expired at {at}; it can no longer be approved or denied")]
    Expired { id: i64, at: String },
    #[error("{reviewer} opened request {id}: nobody approves or denies their own request")]
    OwnRequest { id: i64, reviewer: String },
    #[error("{reviewer} already reviewed request {id}")]
    AlreadyReviewed { id: i64, reviewer: String },
    #[error(
        "request {id} needs approvals from distinct roles and {reviewer}'s roles ({roles}) already counted"
    )]
    RoleAlreadyCounted {
        id: i64,
        reviewer: String,
        roles: String,
    },
    #[error("a comment is required")]
    NoComment,
}

/// What a review does to the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// One more approval; still pending.
    Counted { have: u32, need: u32, role: Role },
    /// The threshold is met: apply the change, state approved.
    Approved { role: Role },
    /// One deny with a reason ends it.
    Denied { role: Role },
}

/// Decides what a review by `reviewer` (holding `roles` that may review this request)
/// does, at `now`. Does not check the roles themselves: `access::reviewer_role` does.
pub fn review(
    req: &Request,
    reviewer: &str,
    roles: &[Role],
    verdict: Verdict,
    comment: &str,
    now: OffsetDateTime,
) -> Result<Outcome, ReviewError> {
    if req.state != State::Pending {
        return Err(ReviewError::AlreadyDecided {
            id: req.id,
            state: req.state,
            by: req
                .decided_by
                .clone()
                .unwrap_or_else(|| "(expiry)".to_string()),
        });
    }
    if now >= req.expires_at {
        return Err(ReviewError::Expired {
            id: req.id,
            at: crate::clock::rfc3339(req.expires_at),
        });
    }
    if req.requester == reviewer {
        return Err(ReviewError::OwnRequest {
            id: req.id,
            reviewer: reviewer.into(),
        });
    }
    if req.reviews.iter().any(|r| r.reviewer == reviewer) {
        return Err(ReviewError::AlreadyReviewed {
            id: req.id,
            reviewer: reviewer.into(),
        });
    }
    if comment.trim().is_empty() {
        return Err(ReviewError::NoComment);
    }
    let used: Vec<Role> = req.approvals().map(|r| r.role).collect();
    let role = if req.distinct_roles && verdict == Verdict::Approve {
        *roles.iter().find(|r| !used.contains(r)).ok_or_else(|| {
            ReviewError::RoleAlreadyCounted {
                id: req.id,
                reviewer: reviewer.into(),
                roles: roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }
        })?
    } else {
        *roles.first().unwrap_or(&Role::ReadOnly)
    };
    Ok(match verdict {
        Verdict::Deny => Outcome::Denied { role },
        Verdict::Approve => {
            let have = used.len() as u32 + 1;
            if have >= req.approvals_required {
                Outcome::Approved { role }
            } else {
                Outcome::Counted {
                    have,
                    need: req.approvals_required,
                    role,
                }
            }
        }
    })
}

/// An issuance as the lifecycle engine is about to make it: what an approved issuance
/// request must cover.
#[derive(Debug, Clone)]
pub struct IssuanceSubject<'a> {
    pub identity: &'a str,
    pub sans: &'a [String],
    pub profile: &'a str,
    pub authority: &'a str,
    /// The profile's threshold as it stands now: approvals by `approver_role`.
    pub approvals: u32,
    pub approver_role: &'a str,
}

/// Names compared as a set: order, case and repeats do not make a different certificate.
pub fn san_set(sans: &[String]) -> Vec<String> {
    let mut v: Vec<String> = sans.iter().map(|s| s.trim().to_ascii_lowercase()).collect();
    v.sort();
    v.dedup();
    v
}

/// Whether issuance request `req` is about this issuance at all: it names the identity,
/// or (opened by names alone) asks for exactly its set of names.
pub fn issuance_names(req: &Request, s: &IssuanceSubject<'_>) -> bool {
    match &req.payload {
        Payload::Issuance { identity, sans, .. } => match identity {
            Some(i) => i == s.identity,
            None => san_set(sans) == san_set(s.sans),
        },
        _ => false,
    }
}

/// Whether `req` authorises issuing `s` at `now`. An approval covers the names, profile
/// and authority it recorded, by approvals that meet the profile's threshold *as it is
/// now* (raising the threshold calls for a new approval); it lapses `lapse` after it was
/// given (`None`: never). Only an approved request authorises: pending, denied,
/// withdrawn, expired and revoked ones do not. `Err` says why, in words an operator can
/// act on.
pub fn issuance_covers(
    req: &Request,
    s: &IssuanceSubject<'_>,
    now: OffsetDateTime,
    lapse: Option<time::Duration>,
) -> Result<(), String> {
    let Payload::Issuance {
        profile,
        authority,
        sans,
        ..
    } = &req.payload
    else {
        return Err(format!("request {} is not an issuance request", req.id));
    };
    let id = req.id;
    match req.effective_state(now) {
        State::Approved => {}
        State::Pending => {
            return Err(format!(
                "request {id} is pending ({}/{} approvals)",
                req.approvals().count(),
                req.approvals_required
            ))
        }
        st => return Err(format!("request {id} was {st}: it authorises nothing")),
    }
    let (asked, now_names) = (san_set(sans), san_set(s.sans));
    if !sans.is_empty() && asked != now_names {
        return Err(format!(
            "request {id} approved the names {}; {} now has {}: a change of names needs a new approval",
            asked.join(","),
            s.identity,
            now_names.join(",")
        ));
    }
    if let Some(p) = profile.as_deref().filter(|p| *p != s.profile) {
        return Err(format!(
            "request {id} was approved under profile {p}; {} is now under {}: a new approval is needed",
            s.identity, s.profile
        ));
    }
    if let Some(a) = authority.as_deref().filter(|a| *a != s.authority) {
        return Err(format!(
            "request {id} was approved for authority {a}, not {}: a new approval is needed",
            s.authority
        ));
    }
    let by_role = req
        .approvals()
        .filter(|r| r.role.as_str() == s.approver_role)
        .count() as u32;
    if by_role < s.approvals {
        return Err(format!(
            "request {id} has {by_role} approval(s) by {}; profile {} now wants {}",
            s.approver_role, s.profile, s.approvals
        ));
    }
    if let (Some(l), Some(at)) = (lapse, req.decided_at) {
        if now >= at + l {
            return Err(format!(
                "the approval of request {id} lapsed at {} ([workflow] issuance_approval_days)",
                crate::clock::rfc3339(at + l)
            ));
        }
    }
    Ok(())
}

/// Whether `actor` may withdraw: only the requester, only while pending.
pub fn withdraw(req: &Request, actor: &str, now: OffsetDateTime) -> Result<(), ReviewError> {
    if req.effective_state(now) != State::Pending {
        return Err(ReviewError::AlreadyDecided {
            id: req.id,
            state: req.effective_state(now),
            by: req.decided_by.clone().unwrap_or_else(|| "(expiry)".into()),
        });
    }
    if req.requester != actor {
        return Err(ReviewError::OwnRequest {
            id: req.id,
            reviewer: actor.into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-11-22 12:00 UTC);

    fn req(need: u32, distinct: bool) -> Request {
        Request {
            id: 7,
            kind: Kind::Delegation,
            state: State::Pending,
            requester: "alice".into(),
            activity: Activity::ApproveDelegation,
            payload: Payload::Delegation {
                user: "alice".into(),
                role: Role::Platform,
                scope: Scope::default(),
            },
            justification: "on call".into(),
            ticket: None,
            approvals_required: need,
            distinct_roles: distinct,
            responsible_may_approve: false,
            created_at: T0,
            expires_at: T0 + time::Duration::days(7),
            decided_at: None,
            decided_by: None,
            decision_comment: None,
            reviews: vec![],
            result: None,
            used_at: None,
            used_by: None,
        }
    }

    fn approved_by(r: &mut Request, who: &str, role: Role) {
        r.reviews.push(Review {
            reviewer: who.into(),
            role,
            verdict: Verdict::Approve,
            comment: "ok".into(),
            at: T0,
        });
    }

    #[test]
    fn nobody_reviews_their_own_request() {
        let r = req(1, false);
        let e = review(&r, "alice", &[Role::CentralPki], Verdict::Approve, "ok", T0);
        assert!(matches!(e, Err(ReviewError::OwnRequest { .. })));
        let e = review(&r, "alice", &[Role::CentralPki], Verdict::Deny, "no", T0);
        assert!(matches!(e, Err(ReviewError::OwnRequest { .. })));
    }

    #[test]
    fn one_approval_meets_a_threshold_of_one() {
        let r = req(1, false);
        assert_eq!(
            review(&r, "bob", &[Role::CentralPki], Verdict::Approve, "ok", T0),
            Ok(Outcome::Approved {
                role: Role::CentralPki
            })
        );
    }

    #[test]
    fn thresholds_count_distinct_reviewers() {
        let mut r = req(2, false);
        assert!(matches!(
            review(&r, "bob", &[Role::CentralPki], Verdict::Approve, "ok", T0),
            Ok(Outcome::Counted {
                have: 1,
                need: 2,
                ..
            })
        ));
        approved_by(&mut r, "bob", Role::CentralPki);
        assert!(matches!(
            review(
                &r,
                "bob",
                &[Role::CentralPki],
                Verdict::Approve,
                "again",
                T0
            ),
            Err(ReviewError::AlreadyReviewed { .. })
        ));
        assert!(matches!(
            review(&r, "carol", &[Role::CentralPki], Verdict::Approve, "ok", T0),
            Ok(Outcome::Approved { .. })
        ));
    }

    #[test]
    fn distinct_role_thresholds_refuse_a_second_approval_in_the_same_role() {
        let mut r = req(2, true);
        approved_by(&mut r, "bob", Role::CentralPki);
        assert!(matches!(
            review(&r, "carol", &[Role::CentralPki], Verdict::Approve, "ok", T0),
            Err(ReviewError::RoleAlreadyCounted { .. })
        ));
        assert_eq!(
            review(
                &r,
                "dave",
                &[Role::CentralPki, Role::Compliance],
                Verdict::Approve,
                "ok",
                T0
            ),
            Ok(Outcome::Approved {
                role: Role::Compliance
            })
        );
    }

    #[test]
    fn one_deny_ends_it_and_needs_a_reason() {
        let mut r = req(3, false);
        approved_by(&mut r, "bob", Role::CentralPki);
        assert!(matches!(
            review(&r, "carol", &[Role::CentralPki], Verdict::Deny, "  ", T0),
            Err(ReviewError::NoComment)
        ));
        assert!(matches!(
            review(
                &r,
                "carol",
                &[Role::CentralPki],
                Verdict::Deny,
                "too wide",
                T0
            ),
            Ok(Outcome::Denied { .. })
        ));
    }

    #[test]
    fn an_expired_or_decided_request_cannot_be_reviewed() {
        let r = req(1, false);
        let later = r.expires_at;
        assert_eq!(r.effective_state(later), State::Expired);
        assert!(matches!(
            review(
                &r,
                "bob",
                &[Role::CentralPki],
                Verdict::Approve,
                "ok",
                later
            ),
            Err(ReviewError::Expired { .. })
        ));
        let mut d = req(1, false);
        d.state = State::Approved;
        d.decided_by = Some("carol".into());
        let e = review(&d, "bob", &[Role::CentralPki], Verdict::Deny, "no", T0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "request 7 already decided by carol: approved"
        );
    }

    #[test]
    fn only_the_requester_withdraws_and_only_while_pending() {
        let r = req(1, false);
        assert!(withdraw(&r, "bob", T0).is_err());
        assert!(withdraw(&r, "alice", T0).is_ok());
        assert!(withdraw(&r, "alice", r.expires_at).is_err());
    }
}
