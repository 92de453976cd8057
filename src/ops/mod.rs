//! The console's verbs. Each public function takes `(&mut Ctx, &Actor, args)` and does,
//! in ONE store transaction: authorize the actor for the op's activity, act, and append
//! the audit record(s). A denied attempt is itself audited (in its own transaction) and
//! returned as [`OpError::Denied`]. Front-ends call these and nothing below them.

pub mod import;
pub mod inventory;
pub mod policy;

use crate::access::{self, Activity, Denied};
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
/// actor is refused, the refusal is recorded (so a denied attempt is never invisible)
/// and the caller gets `OpError::Denied`.
pub fn run<T>(
    ctx: &mut Ctx,
    actor: &Actor,
    activity: Activity,
    action: &str,
    object: (&str, &str),
    f: impl FnOnce(&Tx<'_>, OffsetDateTime) -> OpResult<T>,
) -> OpResult<T> {
    let now = ctx.now();
    let denied = ctx.store.transaction(|tx| -> OpResult<Option<Denied>> {
        match access::authorize(tx.read(), actor, activity) {
            Ok(()) => Ok(None),
            Err(d) => {
                tx.append_audit(
                    actor,
                    now,
                    &Entry::denied(action, object.0, object.1, d.reason.clone()),
                )?;
                Ok(Some(d))
            }
        }
    });
    match denied {
        Ok(Some(d)) => return Err(OpError::Denied(d)),
        Ok(None) => {}
        Err(e) => return Err(e),
    }
    ctx.store.transaction(|tx| {
        // Authorize again inside the acting transaction: roles may have changed between
        // the two, and the decision must hold for the change it guards.
        access::authorize(tx.read(), actor, activity)?;
        f(tx, now)
    })
}
