//! Where certificates came from, as a question about the whole inventory.

use super::db::{Read, Result};

impl Read<'_> {
    /// How many certificates were not stored with source `source` (`import`, `demo`, ...):
    /// lets the demo tell its own database from a real inventory before replacing it.
    pub fn certificates_not_from(&self, source: &str) -> Result<i64> {
        Ok(self
            .c
            .prepare_cached("SELECT COUNT(*) FROM certificates WHERE source <> ?1")?
            .query_row([source], |r| r.get(0))?)
    }
}
