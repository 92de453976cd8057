//! Support for tests, benches and the demo: the one place that knows how to make a
//! ready-to-use context. Every test and bench builds its `Ctx` through here, so when
//! bootstrapping a database changes (roles, starter policy), it changes in one place.

use crate::access::{Role, Scope};
use crate::clock::FixedClock;
use crate::config::Config;
use crate::model::{Actor, ActorKind, Origin};
use crate::ops::{Ctx, OpResult};
use crate::store::Store;
use std::path::Path;
use std::sync::Arc;
use time::OffsetDateTime;

/// A named operator for tests, distinct from whoever runs the suite.
pub fn operator(name: &str) -> Actor {
    Actor {
        name: name.to_string(),
        uid: 10_000,
        kind: ActorKind::Operator,
        origin: Origin {
            host: Some("jump-test".into()),
            tty: None,
            ssh_client: None,
            pid: std::process::id(),
        },
    }
}

/// Prepares a fresh database so `actor` may perform every ordinary activity: `certdeck
/// init` as central PKI, also holding platform, app-owner and compliance (so every
/// activity of the default matrix has an R or A for them). On a database already
/// initialized it grants the same roles instead.
pub fn bootstrap(ctx: &mut Ctx, actor: &Actor) -> OpResult<()> {
    let also = [Role::Platform, Role::AppOwner, Role::Compliance];
    if ctx.store.read().access_initialized()? {
        let admin = ctx
            .store
            .read()
            .grants()?
            .into_iter()
            .find(|g| g.role == Role::CentralPki && g.scope.is_unrestricted())
            .map(|g| operator(&g.operator))
            .unwrap_or_else(|| actor.clone());
        for r in std::iter::once(Role::CentralPki).chain(also) {
            crate::ops::access::grant(ctx, &admin, &actor.name, r, Scope::default())?;
        }
        return Ok(());
    }
    crate::ops::access::init(ctx, actor, &also)?;
    Ok(())
}

/// Grants `role` (within `scope`) to `user`, as the bootstrapped administrator `admin`:
/// the usual first step of a test about a second operator.
pub fn grant(ctx: &mut Ctx, admin: &Actor, user: &str, role: Role, scope: Scope) {
    crate::ops::access::grant(ctx, admin, user, role, scope).expect("grant");
}

/// An in-memory inventory at a fixed time, bootstrapped for `operator("alice")`.
pub fn ctx_at(now: OffsetDateTime) -> (Ctx, FixedClock, Actor) {
    let store = Store::open_in_memory().expect("in-memory store");
    with_store(store, now)
}

/// A file-backed inventory at a fixed time, bootstrapped for `operator("alice")`.
pub fn ctx_on(path: &Path, now: OffsetDateTime) -> (Ctx, FixedClock, Actor) {
    let store = Store::open(path).expect("store file");
    with_store(store, now)
}

fn with_store(store: Store, now: OffsetDateTime) -> (Ctx, FixedClock, Actor) {
    let clock = FixedClock::new(now);
    let mut ctx = Ctx::new(store, Arc::new(clock.clone()), Config::default());
    let actor = operator("alice");
    bootstrap(&mut ctx, &actor).expect("bootstrap");
    (ctx, clock, actor)
}
