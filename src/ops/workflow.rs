//! Requests: open, review (approve / deny), withdraw, expire. Approval applies the change
//! (the grant, the CA approval, the exception) in the same transaction as the decision,
//! so a request is never approved without its effect, nor the effect without the record.

use super::{run_checked, Ctx, OpError, OpResult};
use crate::access::{self, Denied, ObjectRef, Role, Scope};
use crate::audit::Entry;
use crate::model::Actor;
use crate::store::{NewRequest, Read, RequestFilter, Tx};
use crate::workflow::{self, Kind, Outcome, Payload, Request, Review, ReviewError, State, Verdict};
use serde_json::json;
use time::OffsetDateTime;

/// Opens a request. Any operator holding a role may ask (read-only included); what is
/// asked is validated now, so reviewers only see requests that could be applied.
pub fn open(
    ctx: &mut Ctx,
    actor: &Actor,
    payload: Payload,
    justification: &str,
    ticket: Option<&str>,
) -> OpResult<Request> {
    if justification.trim().is_empty() {
        return Err(OpError::Invalid("a justification is required".into()));
    }
    let payload = normalize(payload, ctx.config.workflow.exception_max_days)?;
    let kind = payload.kind();
    let rule = match kind {
        Kind::Issuance => ctx.config.workflow.issuance.clone(),
        Kind::Delegation => ctx.config.workflow.delegation.clone(),
        Kind::Exception => ctx.config.workflow.exception.clone(),
        Kind::CaApproval => ctx.config.workflow.ca_approval.clone(),
        Kind::Revocation => ctx.config.workflow.revocation.clone(),
    };
    let ttl = time::Duration::hours(ctx.config.workflow.pending_expiry_hours.max(1) as i64);
    run_checked(
        ctx,
        actor,
        |read, actor, _| access::authorize_requester(read, actor),
        "request.open",
        ("request", kind.as_str()),
        |tx, now| {
            // What is approved is fixed now, from the inventory as it is, and so is the
            // threshold when the profile sets it.
            let (payload, rule) = settle(tx.read(), payload, rule)?;
            // The request must be about something that exists.
            subject(tx.read(), &payload)?;
            let id = tx.insert_request(
                &NewRequest {
                    requester: &actor.name,
                    payload: &payload,
                    justification: justification.trim(),
                    ticket,
                    approvals_required: rule.approvals.max(1),
                    distinct_roles: rule.distinct_roles,
                    responsible_may_approve: rule.responsible_may_approve,
                    expires_at: now + ttl,
                },
                now,
            )?;
            tx.append_audit(
                actor,
                now,
                &Entry::success(
                    "request.open",
                    "request",
                    id.to_string(),
                    json!({"kind": kind.as_str(), "payload": payload,
                           "justification": justification.trim(), "ticket": ticket,
                           "approvals_required": rule.approvals.max(1),
                           "distinct_roles": rule.distinct_roles}),
                ),
            )?;
            Ok(tx.read().request(id)?.expect("just inserted"))
        },
    )
}

fn normalize(p: Payload, max_days: u32) -> OpResult<Payload> {
    Ok(match p {
        Payload::Delegation { user, role, scope } => {
            if user.trim().is_empty() {
                return Err(OpError::Invalid("delegation: --user is required".into()));
            }
            Payload::Delegation {
                user: user.trim().into(),
                role,
                scope: scope.normalized(),
            }
        }
        Payload::Exception {
            rule,
            object_type,
            object_id,
            days,
        } => {
            if rule.trim().is_empty() || object_id.trim().is_empty() {
                return Err(OpError::Invalid(
                    "exception: --rule and --object are required".into(),
                ));
            }
            if days == 0 || days > max_days {
                return Err(OpError::Invalid(format!(
                    "exception: duration must be 1 to {max_days} days (exceptions always expire); asked {days}"
                )));
            }
            if !crate::policy::RULES.iter().any(|r| r.0 == rule.trim()) {
                return Err(OpError::Invalid(format!(
                    "exception: unknown rule {:?} (see `certdeck policy rules`)",
                    rule.trim()
                )));
            }
            if object_type != "certificate" && object_type != "identity" {
                return Err(OpError::Invalid(format!(
                    "exception: object type must be certificate or identity, not {object_type}"
                )));
            }
            Payload::Exception {
                rule: rule.trim().into(),
                object_id: if object_type == "certificate" {
                    object_id
                        .trim()
                        .trim_start_matches("sha256:")
                        .replace(':', "")
                        .to_ascii_lowercase()
                } else {
                    object_id.trim().into()
                },
                object_type,
                days,
            }
        }
        Payload::Issuance {
            identity,
            profile,
            authority,
            environment,
            sans,
            validity_days,
            approver_role,
        } => {
            if identity.is_none() && sans.is_empty() {
                return Err(OpError::Invalid(
                    "issuance: give --identity or at least one --san".into(),
                ));
            }
            Payload::Issuance {
                identity,
                profile,
                authority,
                environment,
                sans: sans
                    .into_iter()
                    .map(|s| s.trim().to_ascii_lowercase())
                    .collect(),
                validity_days,
                approver_role,
            }
        }
        Payload::Revocation {
            certificate,
            reason,
            identity,
        } => {
            if !crate::ops::lifecycle::REVOCATION_REASONS.contains(&reason.as_str()) {
                return Err(OpError::Invalid(format!(
                    "unknown revocation reason {reason:?} (expected one of: {})",
                    crate::ops::lifecycle::REVOCATION_REASONS.join(", ")
                )));
            }
            Payload::Revocation {
                certificate: certificate
                    .trim()
                    .trim_start_matches("sha256:")
                    .replace(':', "")
                    .to_ascii_lowercase(),
                reason,
                identity,
            }
        }
        p @ Payload::CaApproval { .. } => p,
    })
}

/// Fixes what an issuance or revocation request approves from the inventory as it is,
/// and takes the threshold from the profile when it sets one. An issuance request for an
/// identity records its names, profile and authority (the approval covers exactly those)
/// and needs the profile's `approvals` by its `approver_role`; a revocation needs the
/// certificate's profile's `revocation_approvals`.
fn settle(
    read: Read<'_>,
    p: Payload,
    mut rule: crate::config::ReviewRule,
) -> OpResult<(Payload, crate::config::ReviewRule)> {
    match p {
        Payload::Issuance {
            identity,
            profile,
            authority,
            environment,
            sans,
            validity_days,
            ..
        } => {
            let ident = match &identity {
                Some(n) => Some(
                    read.identity_by_name(n)?
                        .ok_or_else(|| OpError::NotFound(format!("identity {n}")))?,
                ),
                None => {
                    let want = workflow::san_set(&sans);
                    let mut same: Vec<_> = read
                        .identities()?
                        .into_iter()
                        .filter(|i| workflow::san_set(&i.sans) == want)
                        .collect();
                    if same.len() == 1 {
                        same.pop()
                    } else {
                        None
                    }
                }
            };
            let (profile, authority, environment, sans) = match &ident {
                Some(i) => {
                    for (what, asked, has) in [
                        ("profile", &profile, &i.profile),
                        ("authority", &authority, &i.authority),
                    ] {
                        if let Some(a) = asked.as_deref().filter(|a| Some(*a) != has.as_deref()) {
                            return Err(OpError::Invalid(format!(
                                "identity {} has {what} {}, not {a}: change the identity first \
                                 (the approval covers the identity as it will be issued)",
                                i.name,
                                has.as_deref().unwrap_or("(none)")
                            )));
                        }
                    }
                    (
                        i.profile.clone(),
                        i.authority.clone(),
                        i.environment.or(environment),
                        if sans.is_empty() {
                            i.sans.clone()
                        } else {
                            sans
                        },
                    )
                }
                None => (profile, authority, environment, sans),
            };
            let mut approver_role = None;
            if let Some(pr) = profile.as_deref().map(|n| read.profile(n)).transpose()? {
                if let Some(pr) = pr.filter(|pr| pr.approvals > 0) {
                    rule.approvals = pr.approvals;
                    // One role approves: distinct roles could never be met.
                    rule.distinct_roles = false;
                    approver_role = pr.approver_role.clone();
                }
            }
            Ok((
                Payload::Issuance {
                    identity: ident.map(|i| i.name).or(identity),
                    profile,
                    authority,
                    environment,
                    sans,
                    validity_days,
                    approver_role,
                },
                rule,
            ))
        }
        Payload::Revocation {
            certificate,
            reason,
            ..
        } => {
            let row = certificate_by_fingerprint(read, &certificate)?;
            rule.approvals = super::revocation::approvals_needed(read, &row)?.max(1);
            Ok((
                Payload::Revocation {
                    certificate: row.fingerprint_sha256.clone(),
                    reason,
                    identity: row.identity.clone(),
                },
                rule,
            ))
        }
        p => Ok((p, rule)),
    }
}

/// One certificate by its full SHA-256 fingerprint.
fn certificate_by_fingerprint(read: Read<'_>, fp: &str) -> OpResult<crate::model::CertRow> {
    let ids = read.certificates_by_fingerprint_prefix(fp)?;
    match ids.as_slice() {
        [id] if fp.len() == 64 => read.certificate_row(*id)?,
        _ => None,
    }
    .ok_or_else(|| {
        OpError::NotFound(format!(
            "certificate with SHA-256 fingerprint {fp} (give all 64 hex digits)"
        ))
    })
}

/// What a request is about, as scopes see it. Errors when it names nothing that exists.
fn subject(read: Read<'_>, p: &Payload) -> OpResult<Subject> {
    Ok(match p {
        Payload::Delegation { scope, .. } => Subject::Scope(scope.clone()),
        Payload::CaApproval { authority, .. } => {
            let a = read
                .authority_by_name(authority)?
                .ok_or_else(|| OpError::NotFound(format!("authority {authority}")))?;
            Subject::Object(ObjectRef {
                owner: None,
                environment: a.environment,
                dns_names: vec![],
            })
        }
        Payload::Exception {
            object_type,
            object_id,
            ..
        } => {
            if object_type == "identity" {
                let i = read
                    .identity_by_name(object_id)?
                    .ok_or_else(|| OpError::NotFound(format!("identity {object_id}")))?;
                Subject::Object(ObjectRef {
                    owner: i.owner,
                    environment: i.environment,
                    dns_names: i.sans,
                })
            } else {
                let row = certificate_by_fingerprint(read, object_id)?;
                Subject::Object(super::certificate_object(&row))
            }
        }
        Payload::Revocation { certificate, .. } => {
            let row = certificate_by_fingerprint(read, certificate)?;
            Subject::Object(super::certificate_object(&row))
        }
        Payload::Issuance {
            identity,
            environment,
            sans,
            ..
        } => {
            let i = match identity {
                Some(n) => Some(
                    read.identity_by_name(n)?
                        .ok_or_else(|| OpError::NotFound(format!("identity {n}")))?,
                ),
                None => None,
            };
            Subject::Object(ObjectRef {
                owner: i.as_ref().and_then(|i| i.owner.clone()),
                environment: environment.or(i.as_ref().and_then(|i| i.environment)),
                dns_names: if sans.is_empty() {
                    i.map(|i| i.sans).unwrap_or_default()
                } else {
                    sans.clone()
                },
            })
        }
    })
}

enum Subject {
    /// A delegation: the reviewer's scope must contain the one asked for.
    Scope(Scope),
    Object(ObjectRef),
}

/// The roles `actor` may review `req` with, or why not.
pub fn reviewer_roles(read: Read<'_>, actor: &Actor, req: &Request) -> Result<Vec<Role>, Denied> {
    let subj = subject(read, &req.payload)
        .map_err(|e| Denied::new(actor, "review this request", e.to_string()))?;
    match subj {
        Subject::Scope(s) => access::reviewer_roles(
            read,
            actor,
            req.activity,
            req.responsible_may_approve,
            &|mine: &Scope| mine.contains(&s),
            &format!("scope {s}"),
        ),
        Subject::Object(o) => match &req.payload {
            // The profile names who approves its issuance (it was written by whoever
            // holds A for defining profiles): the holders of that role, within scope.
            Payload::Issuance {
                approver_role: Some(r),
                ..
            } => {
                let role: Role = r
                    .parse()
                    .map_err(|e: String| Denied::new(actor, "review this request", e))?;
                access::holder_roles(read, actor, role, &o)
            }
            _ => access::reviewer_role(read, actor, req.activity, req.responsible_may_approve, &o),
        },
    }
}

/// Approves request `id` (with a required comment). When this approval meets the
/// threshold, the change is applied in the same transaction.
pub fn approve(ctx: &mut Ctx, actor: &Actor, id: i64, comment: &str) -> OpResult<Request> {
    decide(ctx, actor, id, Verdict::Approve, comment)
}

/// Denies request `id`; the comment is the reason, and one deny ends the request.
pub fn deny(ctx: &mut Ctx, actor: &Actor, id: i64, comment: &str) -> OpResult<Request> {
    decide(ctx, actor, id, Verdict::Deny, comment)
}

fn decide(
    ctx: &mut Ctx,
    actor: &Actor,
    id: i64,
    verdict: Verdict,
    comment: &str,
) -> OpResult<Request> {
    if comment.trim().is_empty() {
        return Err(OpError::Invalid(format!(
            "a comment is required to {} a request",
            verdict.as_str()
        )));
    }
    let action = format!("request.{}", verdict.as_str());
    let object_id = id.to_string();
    let outcome = run_checked(
        ctx,
        actor,
        |read, actor, _| match read.request(id) {
            // A decided request is reported as such by the op (and the late decision
            // recorded), whoever asks.
            Ok(Some(req)) if req.state != State::Pending => Ok(()),
            Ok(Some(req)) => {
                if req.requester == actor.name {
                    return Err(Denied::new(
                        actor,
                        format!("{} request {id}", verdict.as_str()),
                        "nobody approves or denies their own request",
                    ));
                }
                reviewer_roles(read, actor, &req).map(|_| ())
            }
            // Not found is reported by the op itself.
            _ => Ok(()),
        },
        &action,
        ("request", &object_id),
        |tx, now| {
            let req = tx
                .read()
                .request(id)?
                .ok_or_else(|| OpError::NotFound(format!("request {id}")))?;
            let roles = if req.state == State::Pending {
                reviewer_roles(tx.read(), actor, &req)?
            } else {
                Vec::new()
            };
            match workflow::review(&req, &actor.name, &roles, verdict, comment.trim(), now) {
                Ok(o) => apply_review(tx, actor, now, &req, verdict, comment.trim(), o).map(Ok),
                Err(e) => {
                    // Recorded (and committed) even though nothing changes: a late or
                    // repeated decision is part of the story.
                    if let ReviewError::Expired { .. } = e {
                        tx.decide_request(id, State::Expired, None, None, None, now)?;
                        tx.append_audit(
                            actor,
                            now,
                            &Entry::success(
                                "request.expire",
                                "request",
                                id.to_string(),
                                json!({"expired_at": crate::clock::rfc3339(req.expires_at)}),
                            ),
                        )?;
                    }
                    tx.append_audit(
                        actor,
                        now,
                        &Entry::failed(
                            &action,
                            "request",
                            id.to_string(),
                            e.to_string(),
                            json!({}),
                        ),
                    )?;
                    Ok(Err(e))
                }
            }
        },
    )?;
    outcome.map_err(|e| match e {
        ReviewError::NoComment => OpError::Invalid(e.to_string()),
        other => OpError::Conflict(other.to_string()),
    })
}

fn apply_review(
    tx: &Tx<'_>,
    actor: &Actor,
    now: OffsetDateTime,
    req: &Request,
    verdict: Verdict,
    comment: &str,
    o: Outcome,
) -> OpResult<Request> {
    let role = match &o {
        Outcome::Counted { role, .. } | Outcome::Approved { role } | Outcome::Denied { role } => {
            *role
        }
    };
    tx.insert_review(
        req.id,
        &Review {
            reviewer: actor.name.clone(),
            role,
            verdict,
            comment: comment.into(),
            at: now,
        },
    )?;
    let id = req.id.to_string();
    match o {
        Outcome::Counted { have, need, .. } => {
            tx.append_audit(
                actor,
                now,
                &Entry::success(
                    "request.approve",
                    "request",
                    &id,
                    json!({"role": role, "comment": comment, "approvals": have, "required": need}),
                ),
            )?;
        }
        Outcome::Denied { .. } => {
            if !tx.decide_request(
                req.id,
                State::Denied,
                Some(&actor.name),
                Some(comment),
                None,
                now,
            )? {
                return Err(OpError::Conflict(format!(
                    "request {id} was decided meanwhile"
                )));
            }
            tx.append_audit(
                actor,
                now,
                &Entry::success(
                    "request.deny",
                    "request",
                    &id,
                    json!({"role": role, "comment": comment, "kind": req.kind}),
                ),
            )?;
        }
        Outcome::Approved { .. } => {
            let result = apply(tx, actor, now, req)?;
            if !tx.decide_request(
                req.id,
                State::Approved,
                Some(&actor.name),
                Some(comment),
                Some(&result),
                now,
            )? {
                return Err(OpError::Conflict(format!(
                    "request {id} was decided meanwhile"
                )));
            }
            tx.append_audit(
                actor,
                now,
                &Entry::success(
                    "request.approve",
                    "request",
                    &id,
                    json!({"role": role, "comment": comment, "kind": req.kind,
                           "approvals": req.approvals().count() + 1,
                           "required": req.approvals_required, "applied": result}),
                ),
            )?;
        }
    }
    Ok(tx.read().request(req.id)?.expect("exists"))
}

/// The change an approved request makes.
fn apply(
    tx: &Tx<'_>,
    actor: &Actor,
    now: OffsetDateTime,
    req: &Request,
) -> OpResult<serde_json::Value> {
    match &req.payload {
        Payload::Delegation { user, role, scope } => {
            let new = super::access::apply_grant(tx, actor, now, user, *role, scope, Some(req.id))?;
            Ok(json!({"granted": new, "user": user, "role": role, "scope": scope}))
        }
        Payload::CaApproval { authority, profile } => {
            let a = tx
                .read()
                .authority_by_name(authority)?
                .ok_or_else(|| OpError::NotFound(format!("authority {authority}")))?;
            let new =
                tx.approve_authority_for_profile(a.id, profile, &actor.name, Some(req.id), now)?;
            tx.append_audit(
                actor,
                now,
                &Entry::success(
                    "authority.approve",
                    "authority",
                    authority,
                    json!({"profile": profile, "request": req.id, "already_approved": !new}),
                ),
            )?;
            Ok(json!({"authority": authority, "profile": profile}))
        }
        Payload::Exception { .. } => apply_exception(tx, actor, now, req),
        Payload::Issuance { identity, sans, .. } => {
            // The approval is the permission the issuance gate looks for. A job the gate
            // held for it is made due now rather than after its backoff.
            // A request opened by names alone (no identity had them yet) covers whichever
            // identity has exactly those names now: its held job is released too.
            let holders: Vec<String> = match identity {
                Some(i) => vec![i.clone()],
                None => {
                    let want = workflow::san_set(sans);
                    let mut names = Vec::new();
                    for job in tx.read().jobs_awaiting_approval(10_000)? {
                        let same = tx
                            .read()
                            .identity_by_name(&job.identity)?
                            .is_some_and(|i| workflow::san_set(&i.sans) == want);
                        if same && !names.contains(&job.identity) {
                            names.push(job.identity);
                        }
                    }
                    names
                }
            };
            let mut released = Vec::new();
            for name in &holders {
                for job in tx.release_held_jobs(name, now)? {
                    tx.append_audit(
                        actor,
                        now,
                        &Entry::success(
                            "job.release",
                            "job",
                            job.to_string(),
                            json!({"identity": name, "request": req.id}),
                        ),
                    )?;
                    released.push(job);
                }
            }
            Ok(
                json!({"approved_for_issuance": true, "identity": identity, "sans": sans,
                      "released_jobs": released}),
            )
        }
        Payload::Revocation {
            certificate,
            reason,
            ..
        } => {
            // Carried out by `certdeck revoke` (or `certdeck run`), which marks it used:
            // the CA is never contacted inside this transaction.
            Ok(json!({"authorised_revocation": certificate, "reason": reason}))
        }
    }
}

/// The exception record (the policy module's), granted by the approver, expiring
/// `days` after approval, naming the request it came from.
fn apply_exception(
    tx: &Tx<'_>,
    actor: &Actor,
    now: OffsetDateTime,
    req: &Request,
) -> OpResult<serde_json::Value> {
    use crate::policy::exception::{ExceptionObject, NewException};
    let Payload::Exception {
        rule,
        object_type,
        object_id,
        days,
    } = &req.payload
    else {
        return Err(OpError::Invalid("not an exception request".into()));
    };
    let e = NewException {
        rule: rule.clone(),
        object_type: ExceptionObject::parse(object_type)
            .ok_or_else(|| OpError::Invalid(format!("unknown object type {object_type}")))?,
        object_id: object_id.clone(),
        reason: req.justification.clone(),
        granted_by: actor.name.clone(),
        expires_at: now + time::Duration::days(*days as i64),
        request_ref: Some(format!("request {}", req.id)),
    };
    let id = super::policy::record_exception(tx, actor, now, &e)?;
    Ok(json!({"exception": id, "rule": rule, "object": object_id,
              "expires_at": crate::clock::rfc3339(e.expires_at)}))
}

/// Withdraws a pending request: only its requester may.
pub fn withdraw(ctx: &mut Ctx, actor: &Actor, id: i64) -> OpResult<Request> {
    if let Some(req) = ctx.store.read().request(id)? {
        if takes_back(&req) {
            return revoke_approval(ctx, actor, id);
        }
        if let (Some(at), Some(by)) = (req.used_at, &req.used_by) {
            return Err(OpError::Conflict(format!(
                "request {id} was approved and carried out by {by} at {}: nothing to withdraw",
                crate::clock::rfc3339(at)
            )));
        }
    }
    let object_id = id.to_string();
    run_checked(
        ctx,
        actor,
        |read, actor, _| match read.request(id) {
            Ok(Some(req)) if req.requester != actor.name => Err(Denied::new(
                actor,
                format!("withdraw request {id}"),
                format!("only its requester ({}) may withdraw it", req.requester),
            )),
            _ => Ok(()),
        },
        "request.withdraw",
        ("request", &object_id),
        |tx, now| {
            let req = tx
                .read()
                .request(id)?
                .ok_or_else(|| OpError::NotFound(format!("request {id}")))?;
            workflow::withdraw(&req, &actor.name, now)
                .map_err(|e| OpError::Conflict(e.to_string()))?;
            tx.decide_request(id, State::Withdrawn, Some(&actor.name), None, None, now)?;
            tx.append_audit(
                actor,
                now,
                &Entry::success("request.withdraw", "request", &object_id, json!({})),
            )?;
            Ok(tx.read().request(id)?.expect("exists"))
        },
    )
}

/// An approval that stands until someone takes it back: an issuance approval (used for
/// every renewal it covers), or a revocation approval not yet carried out.
fn takes_back(req: &Request) -> bool {
    req.state == State::Approved
        && match req.kind {
            Kind::Issuance => true,
            Kind::Revocation => req.used_at.is_none(),
            _ => false,
        }
}

/// Takes back an approved issuance request, or a revocation approval not yet carried
/// out (state `revoked`): from then on it authorises nothing. Its requester, or anyone
/// who may review it, may.
pub fn revoke_approval(ctx: &mut Ctx, actor: &Actor, id: i64) -> OpResult<Request> {
    let object_id = id.to_string();
    run_checked(
        ctx,
        actor,
        |read, actor, _| match read.request(id) {
            Ok(Some(req)) if req.requester != actor.name => {
                reviewer_roles(read, actor, &req).map(|_| ()).map_err(|d| {
                    Denied::new(
                        actor,
                        format!("take back the approval of request {id}"),
                        format!(
                            "only its requester ({}) or someone who may review it: {}",
                            req.requester, d.reason
                        ),
                    )
                })
            }
            _ => Ok(()),
        },
        "request.revoke",
        ("request", &object_id),
        |tx, now| {
            let req = tx
                .read()
                .request(id)?
                .ok_or_else(|| OpError::NotFound(format!("request {id}")))?;
            if !takes_back(&req)
                || !tx.revoke_request(id, &actor.name, "approval taken back", now)?
            {
                return Err(OpError::Conflict(format!(
                    "request {id} is {}{}: only an approval still standing can be taken back",
                    req.state,
                    if req.used_at.is_some() {
                        " and carried out"
                    } else {
                        ""
                    }
                )));
            }
            tx.append_audit(
                actor,
                now,
                &Entry::success(
                    "request.revoke",
                    "request",
                    &object_id,
                    json!({"kind": req.kind, "payload": req.payload}),
                ),
            )?;
            Ok(tx.read().request(id)?.expect("exists"))
        },
    )
}

/// Records every pending request past its expiry as expired (audited, one record each).
/// Returns how many. Any operator with a role may run it; automation does.
pub fn expire_due(ctx: &mut Ctx, actor: &Actor) -> OpResult<usize> {
    run_checked(
        ctx,
        actor,
        |read, actor, now| match actor.kind {
            crate::model::ActorKind::Operator => access::authorize_requester(read, actor),
            _ => access::authorize(read, actor, access::Activity::RenewalResponse, now),
        },
        "request.expire",
        ("request", "due"),
        |tx, now| {
            let pending = tx.read().requests(&RequestFilter {
                state: Some(State::Pending),
                ..Default::default()
            })?;
            let mut n = 0;
            for r in pending
                .iter()
                .filter(|r| r.effective_state(now) == State::Expired)
            {
                tx.decide_request(r.id, State::Expired, None, None, None, now)?;
                tx.append_audit(
                    actor,
                    now,
                    &Entry::success(
                        "request.expire",
                        "request",
                        r.id.to_string(),
                        json!({"expired_at": crate::clock::rfc3339(r.expires_at)}),
                    ),
                )?;
                n += 1;
            }
            Ok(n)
        },
    )
}

/// Pending requests `actor` could review now (not their own, not already reviewed by
/// them, within their roles and scopes), oldest first: the approvals queue.
pub fn waiting_on(read: Read<'_>, actor: &Actor, now: OffsetDateTime) -> OpResult<Vec<Request>> {
    let mut out: Vec<Request> = read
        .requests(&RequestFilter {
            state: Some(State::Pending),
            ..Default::default()
        })?
        .into_iter()
        .filter(|r| r.effective_state(now) == State::Pending)
        .filter(|r| r.requester != actor.name)
        .filter(|r| !r.reviews.iter().any(|v| v.reviewer == actor.name))
        .filter(|r| reviewer_roles(read, actor, r).is_ok())
        .collect();
    out.reverse();
    Ok(out)
}

/// What the subject of a request holds today, to show beside what is asked: for a
/// delegation, the user's current grants.
pub fn current_scope(read: Read<'_>, req: &Request) -> OpResult<String> {
    Ok(match &req.payload {
        Payload::Delegation { user, .. } => {
            let g = read.grants_of(user)?;
            if g.is_empty() {
                "no role".into()
            } else {
                g.iter()
                    .map(|g| format!("{} ({})", g.role, g.scope))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        }
        Payload::CaApproval { authority, .. } => {
            let p = read.authority_approvals(authority)?;
            if p.is_empty() {
                "approved for no profile".into()
            } else {
                format!("approved for {}", p.join(", "))
            }
        }
        Payload::Issuance {
            identity: Some(i), ..
        } => match read.identity_by_name(i)? {
            Some(i) => format!(
                "{} ({}) under {}, {} certificate",
                i.name,
                i.sans.join(","),
                i.profile.as_deref().unwrap_or("no profile"),
                if i.current_certificate_id.is_some() {
                    "has a"
                } else {
                    "no"
                }
            ),
            None => "identity not found".into(),
        },
        Payload::Revocation { certificate, .. } => {
            match certificate_by_fingerprint(read, certificate) {
                Ok(row) => format!(
                    "{} {}, expires {}",
                    row.display_name(),
                    row.status.as_str(),
                    crate::clock::rfc3339(row.not_after)
                ),
                Err(e) => e.to_string(),
            }
        }
        Payload::Exception { .. } | Payload::Issuance { .. } => "-".into(),
    })
}

/// The approved, not yet used revocation request for certificate `fingerprint`, if any
/// (oldest first: the first approval is the one carried out).
pub fn approved_revocation(
    read: Read<'_>,
    fingerprint: &str,
    now: OffsetDateTime,
) -> OpResult<Option<Request>> {
    revocation_in(read, fingerprint, State::Approved, now)
}

/// A pending revocation request for certificate `fingerprint`, if any (so asking twice
/// points at the first request instead of opening another).
pub fn pending_revocation(
    read: Read<'_>,
    fingerprint: &str,
    now: OffsetDateTime,
) -> OpResult<Option<Request>> {
    revocation_in(read, fingerprint, State::Pending, now)
}

/// The oldest unused revocation request for `fingerprint` that is in `state` now.
fn revocation_in(
    read: Read<'_>,
    fingerprint: &str,
    state: State,
    now: OffsetDateTime,
) -> OpResult<Option<Request>> {
    let found = read.requests(&RequestFilter {
        kind: Some(Kind::Revocation),
        state: Some(state),
        ..Default::default()
    })?;
    // Listed newest first.
    Ok(found.into_iter().rev().find(|r| {
        r.used_at.is_none()
            && r.effective_state(now) == state
            && matches!(&r.payload, Payload::Revocation { certificate, .. } if certificate == fingerprint)
    }))
}
