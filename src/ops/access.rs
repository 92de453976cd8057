//! Operators, roles, the RACI matrix and service accounts.

use super::{run, run_checked, Ctx, OpError, OpResult};
use crate::access::{self, Activity, CredentialRef, Denied, Letters, Role, Scope};
use crate::audit::Entry;
use crate::model::{Actor, ActorKind, Environment};
use serde_json::json;
use time::OffsetDateTime;

/// Makes `actor` the first central-PKI administrator of a new database, plus the roles in
/// `also` (a small install where one person is also platform and app owner). Refused
/// once anyone holds a role: from then on roles are granted, not claimed.
pub fn init(ctx: &mut Ctx, actor: &Actor, also: &[Role]) -> OpResult<Vec<Role>> {
    if actor.kind != ActorKind::Operator {
        return Err(OpError::Invalid(
            "only an operator (a person's OS user) can initialize access".into(),
        ));
    }
    let mut roles = vec![Role::CentralPki];
    for r in also {
        if !roles.contains(r) {
            roles.push(*r);
        }
    }
    run_checked(
        ctx,
        actor,
        |read, actor, _| match read.access_initialized() {
            Ok(false) => Ok(()),
            Ok(true) => Err(Denied::new(
                actor,
                "initialize access",
                "access is already initialized: ask a central-pki operator for a grant",
            )),
            Err(e) => Err(Denied::new(actor, "initialize access", e.to_string())),
        },
        "access.init",
        ("operator", &actor.name),
        |tx, now| {
            tx.ensure_operator(&actor.name, Some(actor.uid), &actor.name, now)?;
            for r in &roles {
                tx.insert_grant(&actor.name, *r, &Scope::default(), &actor.name, now, None)?;
            }
            let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            tx.append_audit(
                actor,
                now,
                &Entry::success(
                    "access.init",
                    "operator",
                    &actor.name,
                    json!({"uid": actor.uid, "roles": names}),
                ),
            )?;
            Ok(roles.clone())
        },
    )
}

/// Grants `role` (within `scope`) to the operator `user`. The grantor needs R or A for
/// approving delegation, and a scope that contains the one granted.
pub fn grant(ctx: &mut Ctx, actor: &Actor, user: &str, role: Role, scope: Scope) -> OpResult<bool> {
    validate_user(user)?;
    let scope = scope.normalized();
    run(
        ctx,
        actor,
        Activity::ApproveDelegation,
        "access.grant",
        ("operator", user),
        |tx, now| apply_grant(tx, actor, now, user, role, &scope, None),
    )
}

/// The grant itself, shared by `access grant` and an approved delegation request.
pub(crate) fn apply_grant(
    tx: &crate::store::Tx<'_>,
    actor: &Actor,
    now: OffsetDateTime,
    user: &str,
    role: Role,
    scope: &Scope,
    request_id: Option<i64>,
) -> OpResult<bool> {
    require_containing_scope(tx, actor, scope)?;
    if tx.read().service_account(user)?.is_some() {
        return Err(OpError::Conflict(format!(
            "{user} is a service account: service accounts hold scopes, not roles"
        )));
    }
    tx.ensure_operator(user, None, &actor.name, now)?;
    let id = tx.insert_grant(user, role, scope, &actor.name, now, request_id)?;
    tx.append_audit(
        actor,
        now,
        &Entry::success(
            "access.grant",
            "operator",
            user,
            json!({"role": role.as_str(), "scope": scope, "request": request_id,
                   "already_held": id.is_none()}),
        ),
    )?;
    Ok(id.is_some())
}

/// A scoped delegation administrator can hand out only what lies inside their scope.
fn require_containing_scope(
    tx: &crate::store::Tx<'_>,
    actor: &Actor,
    scope: &Scope,
) -> OpResult<()> {
    if actor.kind != ActorKind::Operator {
        return Ok(());
    }
    let matrix = tx.read().raci_matrix()?;
    let grants = tx.read().grants_of(&actor.name)?;
    let ok = grants.iter().any(|g| {
        matrix
            .letters(Activity::ApproveDelegation, g.role)
            .may_act()
            && g.scope.contains(scope)
    });
    if ok {
        Ok(())
    } else {
        Err(Denied::new(
            actor,
            Activity::ApproveDelegation,
            format!("the scope granted ({scope}) is wider than the grantor's"),
        )
        .into())
    }
}

/// Revokes `role` from `user` (only the grant with exactly `scope` when given). The last
/// unscoped central-PKI grant cannot be revoked: someone must be able to administer.
pub fn revoke(
    ctx: &mut Ctx,
    actor: &Actor,
    user: &str,
    role: Role,
    scope: Option<Scope>,
) -> OpResult<usize> {
    let scope = scope.map(Scope::normalized);
    run(
        ctx,
        actor,
        Activity::ApproveDelegation,
        "access.revoke",
        ("operator", user),
        |tx, now| {
            let targets: Vec<Scope> = tx
                .read()
                .grants_of(user)?
                .into_iter()
                .filter(|g| g.role == role && scope.as_ref().is_none_or(|s| *s == g.scope))
                .map(|g| g.scope)
                .collect();
            for s in &targets {
                require_containing_scope(tx, actor, s)?;
            }
            let gone = tx.delete_grants(user, role, scope.as_ref())?;
            if gone.is_empty() {
                return Err(OpError::NotFound(format!(
                    "{user} holds no {role} grant{}",
                    scope
                        .as_ref()
                        .map(|s| format!(" with scope {s}"))
                        .unwrap_or_default()
                )));
            }
            let admins_left = tx
                .read()
                .grants()?
                .iter()
                .any(|g| g.role == Role::CentralPki && g.scope.is_unrestricted());
            if !admins_left {
                return Err(OpError::Conflict(
                    "this would leave nobody holding central-pki without scope".into(),
                ));
            }
            let scopes: Vec<&Scope> = gone.iter().map(|g| &g.scope).collect();
            tx.append_audit(
                actor,
                now,
                &Entry::success(
                    "access.revoke",
                    "operator",
                    user,
                    json!({"role": role.as_str(), "scopes": scopes}),
                ),
            )?;
            Ok(gone.len())
        },
    )
}

/// Changes one cell of the RACI matrix. A central-PKI action whatever the matrix says.
pub fn set_raci(
    ctx: &mut Ctx,
    actor: &Actor,
    activity: Activity,
    role: Role,
    letters: Letters,
) -> OpResult<()> {
    if role == Role::ReadOnly && letters != Letters::default() {
        return Err(OpError::Invalid(
            "read-only holds no letter in the matrix".into(),
        ));
    }
    let object = format!("{}/{}", activity.as_str(), role.as_str());
    run_checked(
        ctx,
        actor,
        |read, actor, _| access::authorize_matrix_change(read, actor),
        "access.raci.set",
        ("raci", &object),
        |tx, now| {
            let before = tx.read().raci_matrix()?.letters(activity, role);
            tx.set_raci(activity, role, letters)?;
            tx.append_audit(
                actor,
                now,
                &Entry::success(
                    "access.raci.set",
                    "raci",
                    &object,
                    json!({"before": before.to_string(), "after": letters.to_string()}),
                ),
            )?;
            Ok(())
        },
    )
}

/// A new service account.
#[derive(Debug, Clone)]
pub struct NewServiceAccount {
    pub name: String,
    pub environment: Environment,
    pub owner: Option<String>,
    pub os_user: Option<String>,
    pub profiles: Vec<String>,
    pub dns_suffixes: Vec<String>,
    pub credential_ref: String,
    pub rotate_by: Option<OffsetDateTime>,
    pub retire_at: Option<OffsetDateTime>,
}

/// Creates a service account. Service accounts are how automation acts, so they are
/// platform business (implement deployment mechanisms). The credential reference is
/// checked (a file must be mode 0600 or 0400) but never resolved here.
pub fn add_service_account(ctx: &mut Ctx, actor: &Actor, sa: &NewServiceAccount) -> OpResult<i64> {
    validate_user(&sa.name)?;
    let cred =
        CredentialRef::parse(&sa.credential_ref).map_err(|e| OpError::Invalid(e.to_string()))?;
    cred.check().map_err(|e| OpError::Invalid(e.to_string()))?;
    let suffixes: Vec<String> = sa
        .dns_suffixes
        .iter()
        .map(|s| s.trim().trim_start_matches('.').to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    run(
        ctx,
        actor,
        Activity::ImplementDeployment,
        "service_account.add",
        ("service_account", &sa.name),
        |tx, now| {
            let read = tx.read();
            if read.service_account(&sa.name)?.is_some() {
                return Err(OpError::Conflict(format!(
                    "service account {} already exists",
                    sa.name
                )));
            }
            if !read.grants_of(&sa.name)?.is_empty() {
                return Err(OpError::Conflict(format!(
                    "{} is an operator; a service account needs its own name",
                    sa.name
                )));
            }
            let owner_id = match &sa.owner {
                Some(o) => Some(
                    read.owner_by_name(o)?
                        .ok_or_else(|| OpError::NotFound(format!("owner {o}")))?
                        .id,
                ),
                None => None,
            };
            super::check_object(
                tx,
                actor,
                Activity::ImplementDeployment,
                now,
                &access::ObjectRef {
                    owner: sa.owner.clone(),
                    environment: Some(sa.environment),
                    dns_names: suffixes.clone(),
                },
            )?;
            let id = tx.insert_service_account(
                &sa.name,
                sa.environment,
                owner_id,
                sa.os_user.as_deref(),
                &sa.profiles,
                &suffixes,
                &cred.to_string(),
                sa.rotate_by,
                sa.retire_at,
                &actor.name,
                now,
            )?;
            tx.append_audit(
                actor,
                now,
                &Entry::success(
                    "service_account.add",
                    "service_account",
                    &sa.name,
                    json!({
                        "environment": sa.environment, "owner": sa.owner, "os_user": sa.os_user,
                        "profiles": sa.profiles, "dns_suffixes": suffixes,
                        "credential": cred.kind(),
                        "rotate_by": sa.rotate_by.map(crate::clock::rfc3339),
                        "retire_at": sa.retire_at.map(crate::clock::rfc3339),
                    }),
                ),
            )?;
            Ok(id)
        },
    )
}

/// Records a credential rotation: optionally a new reference, and the next rotate-by date.
pub fn rotate_service_account(
    ctx: &mut Ctx,
    actor: &Actor,
    name: &str,
    new_ref: Option<&str>,
    rotate_by: Option<OffsetDateTime>,
) -> OpResult<()> {
    let cred = new_ref
        .map(|r| {
            let c = CredentialRef::parse(r).map_err(|e| OpError::Invalid(e.to_string()))?;
            c.check().map_err(|e| OpError::Invalid(e.to_string()))?;
            Ok::<_, OpError>(c)
        })
        .transpose()?;
    run(
        ctx,
        actor,
        Activity::ImplementDeployment,
        "service_account.rotate",
        ("service_account", name),
        |tx, now| {
            let sa = tx
                .read()
                .service_account(name)?
                .ok_or_else(|| OpError::NotFound(format!("service account {name}")))?;
            if sa.is_retired(now) {
                return Err(OpError::Conflict(format!(
                    "service account {name} is retired"
                )));
            }
            check_sa_scope(tx, actor, now, &sa)?;
            let reference = cred
                .as_ref()
                .map(|c| c.to_string())
                .unwrap_or(sa.credential_ref);
            tx.rotate_service_account(name, &reference, rotate_by, now)?;
            tx.append_audit(
                actor,
                now,
                &Entry::success(
                    "service_account.rotate",
                    "service_account",
                    name,
                    json!({"new_reference": cred.is_some(),
                           "rotate_by": rotate_by.map(crate::clock::rfc3339)}),
                ),
            )?;
            Ok(())
        },
    )
}

/// Retires a service account now: from this moment it may not act, and any later use
/// is a finding.
pub fn retire_service_account(ctx: &mut Ctx, actor: &Actor, name: &str) -> OpResult<()> {
    run(
        ctx,
        actor,
        Activity::ImplementDeployment,
        "service_account.retire",
        ("service_account", name),
        |tx, now| {
            let sa = tx
                .read()
                .service_account(name)?
                .ok_or_else(|| OpError::NotFound(format!("service account {name}")))?;
            if sa.retired_at.is_some() {
                return Err(OpError::Conflict(format!(
                    "service account {name} is already retired"
                )));
            }
            check_sa_scope(tx, actor, now, &sa)?;
            tx.retire_service_account(name, now)?;
            tx.append_audit(
                actor,
                now,
                &Entry::success("service_account.retire", "service_account", name, json!({})),
            )?;
            Ok(())
        },
    )
}

fn check_sa_scope(
    tx: &crate::store::Tx<'_>,
    actor: &Actor,
    now: OffsetDateTime,
    sa: &access::service_account::ServiceAccount,
) -> OpResult<()> {
    super::check_object(
        tx,
        actor,
        Activity::ImplementDeployment,
        now,
        &access::ObjectRef {
            owner: sa.owner.clone(),
            environment: Some(sa.environment),
            dns_names: sa.dns_suffixes.clone(),
        },
    )
}

fn validate_user(name: &str) -> OpResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@' | '$'));
    if ok {
        Ok(())
    } else {
        Err(OpError::Invalid(format!(
            "{:?} is not a valid user or account name (letters, digits, - _ . @)",
            crate::sanitize::sanitize(name)
        )))
    }
}
