//! Support for tests, benches and the demo: the one place that knows how to make a
//! ready-to-use context. Every test and bench builds its `Ctx` through here, so when
//! bootstrapping a database changes (roles, starter policy), it changes in one place.

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

/// Prepares a fresh database so `actor` may perform every ordinary activity (the state
/// `certdeck init` plus the grants a test or the demo needs).
pub fn bootstrap(_ctx: &mut Ctx, _actor: &Actor) -> OpResult<()> {
    Ok(())
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
