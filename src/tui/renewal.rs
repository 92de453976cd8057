//! `r` on an identity (in the inventory, the certificate detail and `:jobs`): renew it
//! now through `ops::lifecycle::renew`, after a confirmation naming the identity and its
//! authority. The renewal runs as a background task on its own connection (ordering,
//! deploying and verifying take network time), so the console keeps answering keys; the
//! result comes back as a message, and the job is in `:jobs` like any other.

use super::action::Action;
use super::app::{Shared, Task};
use super::keymap::Binding;
use super::views::{Confirm, Flow};
use crate::access::{self, Activity};
use crate::model::Actor;
use crate::ops::lifecycle as lc;
use crate::ops::Ctx;
use crate::sanitize::sanitize;

/// The key, marked dangerous: hidden in `--readonly`; views offer it only when the
/// actor may renew at all ([`may_renew`]).
pub const BINDING: Binding = Binding::new(
    Action::View("renew"),
    &["r"],
    "renew the identity now (asks to confirm)",
)
.hinted()
.dangerous();

/// Whether the operator at the keyboard (or the service account bound to their OS user)
/// may renew anything: front-ends decide which keys to show with it, `ops` decides for
/// real, object by object.
pub fn may_renew(sh: &Shared) -> bool {
    if sh.readonly {
        return false;
    }
    let read = sh.ctx.store.read();
    let actor = access::acting_as(read, &sh.actor);
    access::may(read, &actor, Activity::RenewalResponse, sh.now())
}

/// The confirmation for renewing `identity`, naming it and the authority it renews from.
pub fn ask(sh: &Shared, identity: &str) -> Flow {
    let read = sh.ctx.store.read();
    let ident = match read.identity_by_name(identity) {
        Ok(Some(i)) => i,
        Ok(None) => return Flow::Error(format!("no identity {} any more", sanitize(identity))),
        Err(e) => return Flow::Error(sanitize(&e.to_string()).into_owned()),
    };
    let Some(authority) = ident.authority.clone() else {
        return Flow::Error(format!(
            "identity {} has no authority to renew from (set one in the estate file)",
            sanitize(identity)
        ));
    };
    let targets = read
        .identity_targets(ident.id)
        .map(|t| t.len())
        .unwrap_or(0);
    let actor = access::acting_as(read, &sh.actor);
    let name = sanitize(identity).into_owned();
    let auth = sanitize(&authority).into_owned();
    let or_none = |s: &Option<String>| s.as_deref().map(|s| sanitize(s).into_owned());
    let first = ident.current_certificate_id.is_none();
    Flow::Confirm(Box::new(Confirm {
        title: "Confirm renewal".into(),
        question: format!("Renew identity {name} now from authority {auth}?"),
        consequences: vec![
            format!(
                "Owner {}, profile {}, environment {}.",
                or_none(&ident.owner).unwrap_or_else(|| "(none)".into()),
                or_none(&ident.profile).unwrap_or_else(|| "(none)".into()),
                ident.environment.map(|e| e.as_str()).unwrap_or("-"),
            ),
            format!(
                "Orders {} certificate from {auth} (through the issuance gate), deploys it to \
                 {targets} target{} and verifies it is served.",
                if first { "its first" } else { "a new" },
                if targets == 1 { "" } else { "s" },
            ),
            format!(
                "Runs in the background as {}, audited; progress and outcome in :jobs.",
                sanitize(&actor.name)
            ),
        ],
        yes: format!("renew {name}"),
        cancelled: format!("renewal of {name} cancelled"),
        task: Task::Renew {
            identity: identity.to_string(),
            authority,
            actor,
        },
    }))
}

/// The background task's body: the renewal through `ops`, summed up for the status line.
pub fn run(ctx: &mut Ctx, actor: &Actor, identity: &str) -> Result<String, String> {
    let name = sanitize(identity).into_owned();
    let opts = lc::RunOptions::from_ctx(ctx, true);
    let o = lc::renew(ctx, actor, identity, &opts, &crate::ca::Standard::default())
        .map_err(|e| format!("{name}: renewal refused: {}", sanitize(&e.to_string())))?;
    match o.diagnosis {
        None => Ok(format!("{name}: job {} {}", o.job.id, o.job.state)),
        Some(d) => Err(format!(
            "{name}: job {} failed: {}: {}",
            o.job.id,
            d.category,
            sanitize(&d.message)
        )),
    }
}
