//! Who may do what. The actor is always the OS user of the real uid; what that actor may
//! do follows the RACI matrix (DESIGN.md §4), checked inside `ops` so the CLI, the
//! console and tests are refused the same way.

pub mod actor;
pub mod raci;

pub use actor::current_actor;
pub use raci::Activity;

use crate::model::Actor;
use crate::store::Read;

/// Why an actor may not do something.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{actor} may not {activity}: {reason}")]
pub struct Denied {
    pub actor: String,
    pub activity: String,
    pub reason: String,
}

/// Decides whether `actor` may perform `activity`.
///
/// Foundation stage: role assignments do not exist yet (the access workflow adds them),
/// so every actor who can open the database for writing may act; read-only openings are
/// refused by the store itself. The access issue replaces this body with the RACI check;
/// every op already calls it with its activity.
pub fn authorize(_read: Read<'_>, _actor: &Actor, _activity: Activity) -> Result<(), Denied> {
    Ok(())
}
