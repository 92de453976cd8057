//! Where certificates came from, as a question about the whole inventory.

use super::db::{Read, Result, StoreError};
use rusqlite::{Connection, OpenFlags};
use std::path::Path;

impl Read<'_> {
    /// How many certificates were not stored with source `source` (`import`, `demo`, ...).
    pub fn certificates_not_from(&self, source: &str) -> Result<i64> {
        Ok(self
            .c
            .prepare_cached("SELECT COUNT(*) FROM certificates WHERE source <> ?1")?
            .query_row([source], |r| r.get(0))?)
    }
}

/// (all certificates, those not from `source`) in the database file at `path`, read
/// without migrating or otherwise touching it, whatever certdeck version wrote it: lets
/// the demo tell its own database (even one from an older certdeck) from a real
/// inventory before replacing it.
pub fn peek_certificate_sources(path: &Path, source: &str) -> Result<(i64, i64)> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|source| StoreError::Open {
        path: path.display().to_string(),
        source,
    })?;
    Ok(conn.query_row(
        "SELECT COUNT(*), COALESCE(SUM(source <> ?1), 0) FROM certificates",
        [source],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?)
}
