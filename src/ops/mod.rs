//! The console's verbs. Each public function takes `(&mut Ctx, &Actor, args)` and does,
//! in ONE store transaction: authorize the actor for the op's activity, act, and append
//! the audit record(s). A denied attempt is itself audited (in its own transaction) and
//! returned as [`OpError::Denied`]. Front-ends call these and nothing below them.

pub mod access;
pub mod import;
pub mod inventory;
pub mod lifecycle;
pub mod policy;
pub mod revocation;
pub mod workflow;

use crate::access::{Activity, Denied};
use crate::audit::Entry;
use crate::clock::Clock;
use crate::config::Config;
use crate::model::Actor;
use crate::store::{Store, StoreError, Tx};
use std::sync::Arc;
use time::OffsetDateTime;

/// What every op runs with.
pub struct Ctx {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub config: Config,
}

impl Ctx {
    pub fn new(store: Store, clock: Arc<dyn Clock>, config: Config) -> Ctx {
        Ctx {
            store,
            clock,
            config,
        }
    }
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error("denied: {0}")]
    Denied(#[from] Denied),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for OpError {
    fn from(e: rusqlite::Error) -> Self {
        OpError::Store(StoreError::Sql(e))
    }
}

pub type OpResult<T> = Result<T, OpError>;

/// Runs `f` as one audited operation: authorize, then act, in one transaction. When the
/// actor is refused (up front, or by an object-scope check inside `f`), the refusal is
/// recorded in its own transaction (so a denied attempt is never invisible) and the
/// caller gets `OpError::Denied`.
pub fn run<T>(
    ctx: &mut Ctx,
    actor: &Actor,
    activity: Activity,
    action: &str,
    object: (&str, &str),
    f: impl FnOnce(&Tx<'_>, OffsetDateTime) -> OpResult<T>,
) -> OpResult<T> {
    run_checked(
        ctx,
        actor,
        |read, actor, now| crate::access::authorize(read, actor, activity, now),
        action,
        object,
        f,
    )
}

/// [`run`] with an authorization rule other than "R or A for one activity" (init, the
/// matrix, requests and reviews).
pub fn run_checked<T>(
    ctx: &mut Ctx,
    actor: &Actor,
    check: impl Fn(crate::store::Read<'_>, &Actor, OffsetDateTime) -> Result<(), Denied>,
    action: &str,
    object: (&str, &str),
    f: impl FnOnce(&Tx<'_>, OffsetDateTime) -> OpResult<T>,
) -> OpResult<T> {
    let now = ctx.now();
    let result = ctx.store.transaction(|tx| {
        // Authorized inside the acting transaction (taken with the write lock), so the
        // decision holds for the change it guards.
        check(tx.read(), actor, now)?;
        if actor.kind == crate::model::ActorKind::ServiceAccount {
            tx.touch_service_account(&actor.name, now)?;
        }
        f(tx, now)
    });
    match result {
        Err(OpError::Denied(d)) => {
            ctx.store.transaction(|tx| -> OpResult<()> {
                if actor.kind == crate::model::ActorKind::ServiceAccount {
                    // An attempt is a use: a retired account still trying shows up.
                    tx.touch_service_account(&actor.name, now)?;
                }
                tx.append_audit(
                    actor,
                    now,
                    &Entry::denied(action, object.0, object.1, d.reason.clone()),
                )?;
                Ok(())
            })?;
            Err(OpError::Denied(d))
        }
        other => other,
    }
}

/// Inside an op: refuses when `object` is outside the actor's scope for `activity`. The
/// refusal rolls the op back and is audited by [`run`].
pub fn check_object(
    tx: &Tx<'_>,
    actor: &Actor,
    activity: Activity,
    now: OffsetDateTime,
    object: &crate::access::ObjectRef,
) -> OpResult<()> {
    crate::access::authorize_object(tx.read(), actor, activity, now, object)?;
    Ok(())
}

/// What scopes see of a certificate: its owner, environment and DNS names (IP addresses,
/// e-mail addresses and URIs are not DNS names).
pub fn certificate_object(row: &crate::model::CertRow) -> crate::access::ObjectRef {
    crate::access::ObjectRef {
        owner: row.owner.clone(),
        environment: row.environment,
        dns_names: row
            .sans
            .iter()
            .filter(|s| {
                s.parse::<std::net::IpAddr>().is_err() && !s.contains('@') && !s.contains(':')
            })
            .cloned()
            .collect(),
    }
}
