//! Revocation: taking a certificate out of service at its authority. Unless the
//! certificate's profile says `revocation_approvals = 0`, nobody revokes alone: the first
//! `certdeck revoke` opens a revocation request, someone accountable approves it, and the
//! next `certdeck revoke` (or `certdeck run`) carries it out and marks the approval used,
//! in the same transaction as the revocation record and its audit.

use super::{run_checked, Ctx, OpError, OpResult};
use crate::access::Activity;
use crate::audit::Entry;
use crate::ca::Connectors;
use crate::model::{Actor, AuthorityKind, CertRow, CertStatus};
use crate::store::Read;
use crate::workflow::{Payload, Request};
use serde::Serialize;
use serde_json::json;

/// The RFC 5280 reasons `revoke --reason` accepts.
pub const REVOCATION_REASONS: [&str; 7] = [
    "unspecified",
    "key_compromise",
    "ca_compromise",
    "affiliation_changed",
    "superseded",
    "cessation_of_operation",
    "privilege_withdrawn",
];

/// What `revoke` did.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Revoked {
    /// Revoked at the authority and recorded; `request` is the approval it carried out
    /// (none when the profile needs no approval).
    Revoked {
        certificate: String,
        reason: String,
        request: Option<i64>,
    },
    /// Approval is needed: this request was opened (or was already waiting).
    Requested {
        request: Box<Request>,
        /// False when an earlier request for the same certificate is still pending.
        opened: bool,
    },
}

/// Approvals the certificate's profile wants before it is revoked: its identity's
/// profile, else the one policy evaluation assigned; the default when it has none (or
/// its profile is not loaded).
pub fn approvals_needed(read: Read<'_>, row: &CertRow) -> OpResult<u32> {
    let name = match &row.identity {
        Some(i) => read.identity_by_name(i)?.and_then(|i| i.profile),
        None => None,
    }
    .or_else(|| row.profile.clone());
    let profile = match name {
        Some(n) => read.profile(&n)?,
        None => None,
    };
    Ok(profile
        .map(|p| p.revocation_approvals)
        .unwrap_or(crate::policy::profile::DEFAULT_REVOCATION_APPROVALS))
}

/// Revokes certificate `cert_id` for `reason`, through approval unless its profile says
/// otherwise: with `revocation_approvals = 0` at once; with an approved, unused revocation
/// request for it, by carrying that out; else by opening a revocation request (with
/// `justification`, or the reason when none is given) and returning it.
pub fn revoke(
    ctx: &mut Ctx,
    actor: &Actor,
    cert_id: i64,
    reason: &str,
    justification: Option<&str>,
    connectors: &dyn Connectors,
) -> OpResult<Revoked> {
    check_reason(reason)?;
    let row = revocable(ctx, cert_id)?;
    authorize(ctx, actor, &row)?;
    if approvals_needed(ctx.store.read(), &row)? == 0 {
        return carry_out(ctx, actor, &row, reason, None, connectors);
    }
    let now = ctx.now();
    let fp = row.fingerprint_sha256.clone();
    if let Some(r) = super::workflow::approved_revocation(ctx.store.read(), &fp, now)? {
        let Payload::Revocation {
            reason: approved, ..
        } = &r.payload
        else {
            unreachable!("a revocation request")
        };
        if approved != reason {
            return Err(OpError::Conflict(format!(
                "request {} approved revoking this certificate for {approved}, not {reason}: \
                 run `certdeck revoke {} --reason {approved}`, or open a new request",
                r.id,
                &fp[..16]
            )));
        }
        return carry_out(ctx, actor, &row, reason, Some(r.id), connectors);
    }
    if let Some(r) = super::workflow::pending_revocation(ctx.store.read(), &fp, now)? {
        return Ok(Revoked::Requested {
            request: Box::new(r),
            opened: false,
        });
    }
    let why = justification
        .map(str::trim)
        .filter(|j| !j.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| format!("revoke for {reason}"));
    let r = super::workflow::open(
        ctx,
        actor,
        Payload::Revocation {
            certificate: fp,
            reason: reason.to_string(),
            identity: row.identity.clone(),
        },
        &why,
        None,
    )?;
    Ok(Revoked::Requested {
        request: Box::new(r),
        opened: true,
    })
}

/// Carries out every approved, unused revocation request `actor` may act on (what
/// `certdeck run` does each round). Returns each request with its result.
pub fn revoke_approved(
    ctx: &mut Ctx,
    actor: &Actor,
    connectors: &dyn Connectors,
) -> OpResult<Vec<(i64, OpResult<Revoked>)>> {
    let now = ctx.now();
    let approved: Vec<Request> = ctx
        .store
        .read()
        .requests(&crate::store::RequestFilter {
            kind: Some(crate::workflow::Kind::Revocation),
            state: Some(crate::workflow::State::Approved),
            ..Default::default()
        })?
        .into_iter()
        .filter(|r| r.used_at.is_none())
        .collect();
    let mut out = Vec::new();
    for r in approved.into_iter().rev() {
        let Payload::Revocation {
            certificate,
            reason,
            ..
        } = &r.payload
        else {
            continue;
        };
        let ids = ctx
            .store
            .read()
            .certificates_by_fingerprint_prefix(certificate)?;
        let Some(&id) = ids.first() else { continue };
        // Already revoked (by other means): nothing left to carry out.
        let Ok(row) = revocable(ctx, id) else {
            continue;
        };
        // Out of the actor's scope: left for someone whose scope covers it.
        if crate::access::authorize_object(
            ctx.store.read(),
            actor,
            Activity::RenewalResponse,
            now,
            &super::certificate_object(&row),
        )
        .is_err()
        {
            continue;
        }
        let res = carry_out(ctx, actor, &row, reason, Some(r.id), connectors);
        out.push((r.id, res));
    }
    Ok(out)
}

fn check_reason(reason: &str) -> OpResult<()> {
    if REVOCATION_REASONS.contains(&reason) {
        Ok(())
    } else {
        Err(OpError::Invalid(format!(
            "unknown revocation reason {reason:?} (expected one of: {})",
            REVOCATION_REASONS.join(", ")
        )))
    }
}

fn revocable(ctx: &Ctx, cert_id: i64) -> OpResult<CertRow> {
    let row = ctx
        .store
        .read()
        .certificate_row(cert_id)?
        .ok_or_else(|| OpError::NotFound(format!("certificate {cert_id}")))?;
    if row.status == CertStatus::Revoked {
        return Err(OpError::Conflict(format!(
            "certificate {} is already revoked",
            &row.fingerprint_sha256[..16]
        )));
    }
    Ok(row)
}

/// R or A for renewal and failure response, within scope of the certificate; a refusal
/// is audited.
fn authorize(ctx: &mut Ctx, actor: &Actor, row: &CertRow) -> OpResult<()> {
    let object = super::certificate_object(row);
    run_checked(
        ctx,
        actor,
        |read, actor, now| {
            crate::access::authorize_object(read, actor, Activity::RenewalResponse, now, &object)
        },
        "certificate.revoke",
        ("certificate", &row.fingerprint_sha256),
        |_, _| Ok(()),
    )
}

/// Revokes at the authority (the local CA rewrites its CRL; a certificate of no known or
/// an `external` authority is only marked revoked), then records the revocation, its
/// audit record and (when it rests on one) the approval's use in one transaction.
fn carry_out(
    ctx: &mut Ctx,
    actor: &Actor,
    row: &CertRow,
    reason: &str,
    request: Option<i64>,
    connectors: &dyn Connectors,
) -> OpResult<Revoked> {
    let read = ctx.store.read();
    let authority = match &row.authority {
        Some(a) => read.authority_by_name(a)?,
        None => None,
    };
    let der = read.certificate_der(row.id)?.unwrap_or_default();
    let now = ctx.now();
    if let Some(a) = &authority {
        if a.kind != AuthorityKind::External {
            let mut all = read.revocations_for_authority(a.id)?;
            all.push(crate::ca::RevokedEntry {
                serial: row.serial.clone(),
                revoked_at: now,
                reason: reason.to_string(),
            });
            let connector = connectors
                .connector(a)
                .map_err(|d| OpError::Invalid(d.to_string()))?;
            connector
                .revoke(&crate::ca::Revocation {
                    leaf_der: &der,
                    reason,
                    now,
                    all_revoked: &all,
                })
                .map_err(|d| OpError::Invalid(format!("{d} — {}", d.next_step())))?;
        }
    }
    let authority_id = authority.as_ref().map(|a| a.id);
    let cert_id = row.id;
    let object = super::certificate_object(row);
    run_checked(
        ctx,
        actor,
        |read, actor, now| {
            crate::access::authorize_object(read, actor, Activity::RenewalResponse, now, &object)
        },
        "certificate.revoke",
        ("certificate", &row.fingerprint_sha256),
        |tx, now| {
            if let Some(id) = request {
                if !tx.use_request(id, &actor.name, now)? {
                    return Err(OpError::Conflict(format!(
                        "request {id} was already carried out (or taken back) meanwhile"
                    )));
                }
                tx.append_audit(
                    actor,
                    now,
                    &Entry::success(
                        "request.use",
                        "request",
                        id.to_string(),
                        json!({"kind": "revocation", "certificate": row.fingerprint_sha256}),
                    ),
                )?;
            }
            tx.insert_revocation(cert_id, authority_id, reason, now)?;
            tx.set_certificate_status(cert_id, CertStatus::Revoked)?;
            tx.append_audit(
                actor,
                now,
                &Entry::success(
                    "certificate.revoke",
                    "certificate",
                    row.fingerprint_sha256.clone(),
                    json!({"reason": reason, "authority": row.authority, "identity": row.identity,
                           "serial": row.serial, "request": request}),
                ),
            )?;
            Ok(())
        },
    )?;
    Ok(Revoked::Revoked {
        certificate: row.fingerprint_sha256.clone(),
        reason: reason.to_string(),
        request,
    })
}
