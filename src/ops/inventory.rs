//! Keeping the inventory accurate: owners, authorities, assignments, adoption.

use super::{run, Ctx, OpError, OpResult};
use crate::access::Activity;
use crate::audit::Entry;
use crate::model::{Actor, AuthorityKind, Environment};
use crate::store::Tx;
use serde_json::json;
use time::OffsetDateTime;

/// Creates an owner, or updates its contact and business unit when it exists.
pub fn add_owner(
    ctx: &mut Ctx,
    actor: &Actor,
    name: &str,
    contact: Option<&str>,
    business_unit: Option<&str>,
) -> OpResult<i64> {
    validate_name("owner", name)?;
    run(
        ctx,
        actor,
        Activity::MaintainInventory,
        "owner.add",
        ("owner", name),
        |tx, now| match tx.read().owner_by_name(name)? {
            Some(o) => {
                tx.update_owner(o.id, contact, business_unit)?;
                tx.append_audit(
                    actor,
                    now,
                    &Entry::success(
                        "owner.update",
                        "owner",
                        name,
                        json!({"contact": contact, "business_unit": business_unit}),
                    ),
                )?;
                Ok(o.id)
            }
            None => create_owner(tx, actor, now, name, contact, business_unit),
        },
    )
}

pub(crate) fn create_owner(
    tx: &Tx<'_>,
    actor: &Actor,
    now: OffsetDateTime,
    name: &str,
    contact: Option<&str>,
    business_unit: Option<&str>,
) -> OpResult<i64> {
    let id = tx.insert_owner(name, contact, business_unit, now)?;
    tx.append_audit(
        actor,
        now,
        &Entry::success(
            "owner.create",
            "owner",
            name,
            json!({"contact": contact, "business_unit": business_unit}),
        ),
    )?;
    Ok(id)
}

/// The owner's id, creating the owner (audited) when it does not exist yet.
pub(crate) fn owner_id_or_create(
    tx: &Tx<'_>,
    actor: &Actor,
    now: OffsetDateTime,
    name: &str,
) -> OpResult<i64> {
    validate_name("owner", name)?;
    match tx.read().owner_by_name(name)? {
        Some(o) => Ok(o.id),
        None => create_owner(tx, actor, now, name, None, None),
    }
}

pub fn add_authority(
    ctx: &mut Ctx,
    actor: &Actor,
    name: &str,
    kind: AuthorityKind,
    environment: Option<Environment>,
    settings: serde_json::Value,
    credential_ref: Option<&str>,
) -> OpResult<i64> {
    validate_name("authority", name)?;
    run(
        ctx,
        actor,
        Activity::ApproveCaSource,
        "authority.add",
        ("authority", name),
        |tx, now| {
            if tx.read().authority_by_name(name)?.is_some() {
                return Err(OpError::Conflict(format!(
                    "authority {name} already exists"
                )));
            }
            let id =
                tx.insert_authority(name, kind, environment, &settings, credential_ref, now)?;
            tx.append_audit(
                actor,
                now,
                &Entry::success(
                    "authority.add",
                    "authority",
                    name,
                    json!({
                        "kind": kind.as_str(), "environment": environment, "settings": settings,
                        "credential_ref": credential_ref.map(|_| "(reference set)"),
                    }),
                ),
            )?;
            Ok(id)
        },
    )
}

/// What to change on a set of certificates.
#[derive(Debug, Clone, Default)]
pub struct Assignment {
    /// `Some(None)` clears the owner.
    pub owner: Option<Option<String>>,
    pub authority: Option<String>,
    pub environment: Option<Environment>,
}

/// Assigns owner / authority / environment to certificates. Assigning an authority to a
/// CA certificate also gives it to every certificate below that CA that has none, so
/// "issued by CA X" holds for the whole subtree.
pub fn assign(ctx: &mut Ctx, actor: &Actor, cert_ids: &[i64], a: &Assignment) -> OpResult<usize> {
    if cert_ids.is_empty() {
        return Err(OpError::Invalid("no certificates given".into()));
    }
    if a.owner.is_none() && a.authority.is_none() && a.environment.is_none() {
        return Err(OpError::Invalid(
            "nothing to assign: give --owner, --authority or --env".into(),
        ));
    }
    let object = if cert_ids.len() == 1 {
        cert_ids[0].to_string()
    } else {
        format!("{} certificates", cert_ids.len())
    };
    run(
        ctx,
        actor,
        Activity::MaintainInventory,
        "certificate.assign",
        ("certificate", &object),
        |tx, now| {
            let owner_id = match &a.owner {
                Some(Some(name)) => Some(Some(owner_id_or_create(tx, actor, now, name)?)),
                Some(None) => Some(None),
                None => None,
            };
            let authority_id = match &a.authority {
                Some(name) => Some(
                    tx.read()
                        .authority_by_name(name)?
                        .ok_or_else(|| {
                            OpError::NotFound(format!(
                                "authority {name} (add it with `certdeck authority add`)"
                            ))
                        })?
                        .id,
                ),
                None => None,
            };
            let mut changed = 0;
            for &id in cert_ids {
                let row = tx
                    .read()
                    .certificate_row(id)?
                    .ok_or_else(|| OpError::NotFound(format!("certificate {id}")))?;
                // Scope: the certificate as it is, and as it will be.
                let mut object = super::certificate_object(&row);
                super::check_object(tx, actor, Activity::MaintainInventory, now, &object)?;
                if let Some(o) = &a.owner {
                    object.owner = o.clone();
                }
                if let Some(env) = a.environment {
                    object.environment = Some(env);
                }
                super::check_object(tx, actor, Activity::MaintainInventory, now, &object)?;
                let mut changes = serde_json::Map::new();
                if let Some(o) = owner_id {
                    tx.set_certificate_owner(id, o)?;
                    changes.insert(
                        "owner".into(),
                        json!({"from": row.owner, "to": a.owner.clone().flatten()}),
                    );
                }
                if let Some(env) = a.environment {
                    tx.set_certificate_environment(id, Some(env))?;
                    changes.insert(
                        "environment".into(),
                        json!({"from": row.environment, "to": env}),
                    );
                }
                if let Some(auth) = authority_id {
                    tx.set_certificate_authority(id, Some(auth))?;
                    changes.insert(
                        "authority".into(),
                        json!({"from": row.authority, "to": a.authority}),
                    );
                    if row.is_ca {
                        let below = tx.inherit_authorities()?;
                        changes.insert("inherited_by".into(), json!(below));
                    }
                }
                tx.append_audit(
                    actor,
                    now,
                    &Entry::success(
                        "certificate.assign",
                        "certificate",
                        row.fingerprint_sha256.clone(),
                        serde_json::Value::Object(changes),
                    ),
                )?;
                changed += 1;
            }
            super::policy::recompute_certificates_in(tx, now, cert_ids)?;
            Ok(changed)
        },
    )
}

/// Adopts an observed certificate into a managed identity (created when missing, with
/// an owner from the start). The identity's current certificate becomes the newest one
/// it holds; the certificate takes the identity's owner and environment.
pub fn adopt(
    ctx: &mut Ctx,
    actor: &Actor,
    cert_id: i64,
    identity: &str,
    owner: Option<&str>,
    environment: Option<Environment>,
) -> OpResult<i64> {
    validate_name("identity", identity)?;
    run(
        ctx,
        actor,
        Activity::MaintainInventory,
        "identity.adopt",
        ("identity", identity),
        |tx, now| {
            let row = tx
                .read()
                .certificate_row(cert_id)?
                .ok_or_else(|| OpError::NotFound(format!("certificate {cert_id}")))?;
            if let Some(other) = &row.identity {
                if other != identity {
                    return Err(OpError::Conflict(format!(
                        "certificate {} already belongs to identity {other}",
                        &row.fingerprint_sha256[..16]
                    )));
                }
            }
            let existing = tx.read().identity_by_name(identity)?;
            let (identity_id, owner_name, env) = match existing {
                Some(i) => (
                    i.id,
                    i.owner,
                    i.environment.or(environment).or(row.environment),
                ),
                None => {
                    let owner_name = owner
                    .map(str::to_string)
                    .or(row.owner.clone())
                    .ok_or_else(|| OpError::Invalid(format!(
                        "identity {identity} needs an owner from the start: give --owner (the certificate has none)"
                    )))?;
                    let owner_id = owner_id_or_create(tx, actor, now, &owner_name)?;
                    let env = environment.or(row.environment);
                    let authority_id = match &row.authority {
                        Some(a) => tx.read().authority_by_name(a)?.map(|a| a.id),
                        None => None,
                    };
                    let sans: Vec<String> = row.sans.clone();
                    let id = tx.insert_identity(
                        identity,
                        Some(owner_id),
                        None,
                        authority_id,
                        env,
                        &sans,
                        None,
                        now,
                    )?;
                    tx.append_audit(
                        actor,
                        now,
                        &Entry::success(
                            "identity.create",
                            "identity",
                            identity,
                            json!({"owner": owner_name, "environment": env, "sans": sans}),
                        ),
                    )?;
                    (id, Some(owner_name), env)
                }
            };
            let mut object = super::certificate_object(&row);
            super::check_object(tx, actor, Activity::MaintainInventory, now, &object)?;
            object.owner = owner_name.clone();
            object.environment = env;
            super::check_object(tx, actor, Activity::MaintainInventory, now, &object)?;
            tx.set_certificate_identity(cert_id, Some(identity_id))?;
            if let Some(o) = &owner_name {
                let oid = owner_id_or_create(tx, actor, now, o)?;
                tx.set_certificate_owner(cert_id, Some(oid))?;
            }
            if env.is_some() {
                tx.set_certificate_environment(cert_id, env)?;
            }
            // The identity's current certificate is the one that lasts longest.
            let current = tx
                .read()
                .identity_by_name(identity)?
                .and_then(|i| i.current_certificate_id);
            let newer = match current {
                Some(cur) if cur != cert_id => tx
                    .read()
                    .certificate_row(cur)?
                    .map(|c| row.not_after > c.not_after)
                    .unwrap_or(true),
                _ => true,
            };
            if newer {
                tx.set_identity_current_certificate(identity_id, Some(cert_id))?;
            }
            tx.append_audit(actor, now, &Entry::success("identity.adopt", "certificate", row.fingerprint_sha256.clone(),
            json!({"identity": identity, "owner": owner_name, "environment": env, "current": newer})))?;
            super::policy::recompute_certificates_in(tx, now, &[cert_id])?;
            Ok(identity_id)
        },
    )
}

fn validate_name(what: &str, name: &str) -> OpResult<()> {
    if name.trim().is_empty() {
        return Err(OpError::Invalid(format!("{what} name is empty")));
    }
    if name.len() > 128 {
        return Err(OpError::Invalid(format!(
            "{what} name is longer than 128 characters"
        )));
    }
    if name.chars().any(|c| c.is_control()) {
        return Err(OpError::Invalid(format!(
            "{what} name {:?} contains control characters",
            crate::sanitize::sanitize(name)
        )));
    }
    Ok(())
}
