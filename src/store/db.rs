//! Opening the database: location, file mode, pragmas, migrations, and the refusal to
//! touch a database written by a newer certdeck.

use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};

/// Numbered migrations, applied in order, each recorded in `schema_migrations`.
/// Append only: never edit a migration that has shipped.
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "foundation",
        include_str!("migrations/0001_foundation.sql"),
    ),
    (2, "policy", include_str!("migrations/0002_policy.sql")),
    (3, "access", include_str!("migrations/0003_access.sql")),
    (
        4,
        "lifecycle",
        include_str!("migrations/0004_lifecycle.sql"),
    ),
    (5, "console", include_str!("migrations/0005_console.sql")),
    (
        8,
        "foundation-scale",
        include_str!("migrations/0008_foundation_scale.sql"),
    ),
    (6, "workflow", include_str!("migrations/0006_workflow.sql")),
    (
        9,
        "policy-verdicts",
        include_str!("migrations/0009_policy_verdicts.sql"),
    ),
    (
        10,
        "awaiting-approval",
        include_str!("migrations/0010_awaiting_approval.sql"),
    ),
    (
        11,
        "console-jobs",
        include_str!("migrations/0011_console_jobs.sql"),
    ),
];

/// How long a writer waits for another's transaction to end.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error(
        "database {path} was written by a newer certdeck (schema version {found}; this \
         build knows up to {known}); it was left untouched. Use a newer certdeck."
    )]
    NewerSchema {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("cannot create database {path}: {source}")]
    Create {
        path: String,
        source: std::io::Error,
    },
    #[error("database is read-only (opened with --readonly)")]
    ReadOnly,
    #[error("{0}")]
    Sql(#[from] rusqlite::Error),
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

pub struct Store {
    conn: Connection,
    path: Option<PathBuf>,
    readonly: bool,
}

/// A write transaction. Commit happens in [`Store::transaction`] when the closure returns
/// `Ok`; any error (including a failed audit write) rolls everything back.
pub struct Tx<'a> {
    pub(crate) tx: rusqlite::Transaction<'a>,
    /// The audit chain's head (seq, hash) as this transaction last wrote it, so a
    /// transaction appending many records reads the head once.
    pub(crate) audit_head: std::cell::RefCell<Option<(i64, String)>>,
}

/// Read access, from a store or from inside a transaction (to see its own writes).
#[derive(Clone, Copy)]
pub struct Read<'a> {
    pub(crate) c: &'a Connection,
}

impl Store {
    /// Opens (creating when missing) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Store> {
        Store::open_waiting(path, &mut || {})
    }

    /// [`Store::open`], calling `waiting` once if the opening has to wait for another
    /// connection's bulk load ([`Store::begin_bulk_load`]) to end (a command can say so).
    pub fn open_waiting(path: &Path, waiting: &mut dyn FnMut()) -> Result<Store> {
        let display = path.display().to_string();
        if !path.exists() {
            create_file(path).map_err(|source| StoreError::Create {
                path: display.clone(),
                source,
            })?;
        }
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: display.clone(),
            source,
        })?;
        refuse_newer(&conn, &display)?;
        let mut store = Store {
            conn,
            path: Some(path.to_path_buf()),
            readonly: false,
        };
        store.configure(waiting)?;
        store.migrate()?;
        Ok(store)
    }

    /// Opens an existing database without the ability to change it (`--readonly`).
    pub fn open_readonly(path: &Path) -> Result<Store> {
        let display = path.display().to_string();
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Open {
            path: display.clone(),
            source,
        })?;
        refuse_newer(&conn, &display)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let v = schema_version(&conn)?;
        if v < latest() {
            return Err(StoreError::Invalid(format!(
                "database {display} has schema version {v}; open it once without --readonly to upgrade it"
            )));
        }
        Ok(Store {
            conn,
            path: Some(path.to_path_buf()),
            readonly: true,
        })
    }

    /// A private in-memory database, for tests and benches.
    pub fn open_in_memory() -> Result<Store> {
        let conn = Connection::open_in_memory()?;
        let mut store = Store {
            conn,
            path: None,
            readonly: false,
        };
        store.configure(&mut || {})?;
        store.migrate()?;
        Ok(store)
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub fn is_readonly(&self) -> bool {
        self.readonly
    }

    fn configure(&mut self, waiting: &mut dyn FnMut()) -> Result<()> {
        self.conn.busy_timeout(BUSY_TIMEOUT)?;
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        // 16 KiB pages for a new database (it can only be chosen before the first write):
        // fewer, fuller pages make a 100k-certificate import about a fifth cheaper.
        let pages: i64 = self
            .conn
            .pragma_query_value(None, "page_count", |r| r.get(0))?;
        if pages == 0 {
            self.conn.pragma_update(None, "page_size", 16_384)?;
        }
        if self.path.is_some() {
            self.enter_wal_waiting(waiting)?;
        }
        self.conn.pragma_update(None, "temp_store", "MEMORY")?;
        self.conn.set_prepared_statement_cache_capacity(64);
        Ok(())
    }

    fn migrate(&mut self) -> Result<()> {
        self.conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
        )?;
        // Each migration is applied when its version is not recorded yet (not merely when
        // it is above the highest recorded one): features land in parallel, so a database
        // may have 1 and 3 and still need 2.
        for (version, name, sql) in MIGRATIONS {
            if applied(&self.conn, *version)? {
                continue;
            }
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            // Another process may have migrated while we waited for the lock.
            if applied(&tx, *version)? {
                continue;
            }
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                rusqlite::params![
                    version,
                    name,
                    crate::clock::rfc3339(time::OffsetDateTime::now_utc())
                ],
            )?;
            let highest = schema_version(&tx)?.max(*version);
            tx.pragma_update(None, "user_version", highest)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Runs `f` in one IMMEDIATE transaction (the write lock is taken up front so two
    /// processes never both read-then-write the same row): commit on `Ok`, roll back on
    /// `Err`. This is the only way `ops` changes the store.
    pub fn transaction<T, E>(&mut self, f: impl FnOnce(&Tx<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        if self.readonly {
            return Err(StoreError::ReadOnly.into());
        }
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(StoreError::from)?;
        let tx = Tx {
            tx,
            audit_head: std::cell::RefCell::new(None),
        };
        let out = f(&tx)?;
        tx.tx.commit().map_err(StoreError::from)?;
        Ok(out)
    }

    pub fn read(&self) -> Read<'_> {
        Read { c: &self.conn }
    }

    /// Prepares for a bulk load (one transaction writing most of the database): a
    /// rollback journal instead of the write-ahead log, when no other connection has the
    /// database open, and foreign keys checked by the load before it commits
    /// ([`Tx::check_foreign_keys`]) rather than by each statement. Returns whether it
    /// switched; [`Store::end_bulk_load`] switches back.
    ///
    /// In WAL mode every page is written twice, to the log and then to the database by
    /// the checkpoint; a rollback journal writes new pages once, straight into the file,
    /// and journals only the pages that existed before. It is as crash-safe
    /// (synchronous FULL while it lasts): a crash leaves a hot journal that the next
    /// opening rolls back. With another connection open (a console, `run`), the switch
    /// is refused at once and the load runs in WAL mode as usual. During the load, a
    /// certdeck command that opens the database waits for it (up to its busy timeout)
    /// rather than reading alongside.
    pub fn begin_bulk_load(&mut self) -> bool {
        if self.path.is_none() || self.readonly {
            return false;
        }
        let switch = || -> Result<bool> {
            self.conn.busy_timeout(std::time::Duration::ZERO)?;
            let mode: String =
                self.conn
                    .pragma_update_and_check(None, "journal_mode", "DELETE", |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("delete") {
                return Ok(false);
            }
            self.conn.pragma_update(None, "synchronous", "FULL")?;
            // Checked once before commit instead (Tx::check_foreign_keys), so that
            // statements of many rows need no journal of their own.
            self.conn.pragma_update(None, "foreign_keys", "OFF")?;
            Ok(true)
        };
        let switched = match switch() {
            Ok(switched) => switched,
            Err(e) => {
                // Half switched: back to what every other command expects.
                tracing::warn!(error = %e, "bulk load stays in WAL mode");
                self.end_bulk_load();
                false
            }
        };
        let _ = self.conn.busy_timeout(BUSY_TIMEOUT);
        tracing::debug!(switched, "bulk load through a rollback journal");
        switched
    }

    /// Back to WAL mode after [`Store::begin_bulk_load`] switched away from it (every
    /// opening sets it too, so a failure here only lasts until the next command).
    pub fn end_bulk_load(&mut self) {
        if let Err(e) = self.conn.pragma_update(None, "foreign_keys", "ON") {
            tracing::warn!(error = %e, "could not turn foreign keys back on after a bulk load");
        }
        if let Err(e) = self.enter_wal_waiting(&mut || {}) {
            tracing::warn!(error = %e, "could not return to WAL mode after a bulk load");
        }
    }

    /// [`Store::enter_wal`], waiting (up to the busy timeout) while another connection
    /// holds a bulk load's write lock. SQLite answers a journal-mode change that cannot
    /// take its lock with "database is locked" at once, without its busy handler: a
    /// command opened during someone's bulk import would fail instead of waiting.
    fn enter_wal_waiting(&mut self, waiting: &mut dyn FnMut()) -> Result<()> {
        let since = std::time::Instant::now();
        let mut told = false;
        loop {
            match self.enter_wal() {
                Err(StoreError::Sql(rusqlite::Error::SqliteFailure(e, _)))
                    if e.code == rusqlite::ErrorCode::DatabaseBusy
                        && since.elapsed() < BUSY_TIMEOUT =>
                {
                    if !told {
                        waiting();
                        told = true;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => return other,
            }
        }
    }

    fn enter_wal(&mut self) -> Result<()> {
        self.conn.pragma_update(None, "journal_mode", "WAL")?;
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(())
    }

    /// Whether the database is in WAL mode now (false during a bulk load that has it to
    /// itself: [`Store::begin_bulk_load`]).
    pub fn in_wal_mode(&self) -> Result<bool> {
        let mode: String = self
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))?;
        Ok(mode.eq_ignore_ascii_case("wal"))
    }

    /// Pages the WAL may grow to before SQLite checkpoints it (for this connection).
    pub fn set_wal_autocheckpoint(&self, pages: i64) -> Result<()> {
        self.conn.pragma_update(None, "wal_autocheckpoint", pages)?;
        Ok(())
    }

    /// The schema version this database is at.
    pub fn schema_version(&self) -> Result<i64> {
        schema_version(&self.conn)
    }
}

impl Tx<'_> {
    pub fn read(&self) -> Read<'_> {
        Read { c: &self.tx }
    }

    /// Refuses (and so rolls back) a transaction that left a reference to a row that
    /// does not exist in one of `tables`: what foreign keys enforce statement by
    /// statement, checked once for a bulk load that turned them off.
    pub fn check_foreign_keys(&self, tables: &[&str]) -> Result<()> {
        for table in tables {
            let mut st = self
                .tx
                .prepare(&format!("PRAGMA foreign_key_check(\"{table}\")"))?;
            let mut rows = st.query([])?;
            if let Some(r) = rows.next()? {
                let rowid: Option<i64> = r.get(1)?;
                let parent: String = r.get(2)?;
                return Err(StoreError::Invalid(format!(
                    "{table} row {} refers to a {parent} row that does not exist",
                    rowid.map_or_else(|| "?".to_string(), |v| v.to_string())
                )));
            }
        }
        Ok(())
    }

    /// Inserts `items` with `per` rows to a statement (`{head} {tuple}, {tuple}, ...`),
    /// the rest one by one; `bind` binds one item's `columns` parameters from `offset + 1`.
    /// For bulk writes that land at the end of their tables: a statement writing several
    /// rows journals the pages it changes (to undo itself alone), cheap when those are a
    /// table's last pages, dear when rows land all over an index.
    pub(crate) fn insert_many<T>(
        &self,
        head: &str,
        tuple: &str,
        columns: usize,
        per: usize,
        items: &[T],
        bind: impl Fn(&mut rusqlite::CachedStatement<'_>, usize, &T) -> rusqlite::Result<()>,
    ) -> Result<()> {
        let mut chunks = items.chunks_exact(per);
        if chunks.len() > 0 {
            let sql = format!("{head} {}", vec![tuple; per].join(", "));
            let mut st = self.tx.prepare_cached(&sql)?;
            for chunk in &mut chunks {
                for (k, item) in chunk.iter().enumerate() {
                    bind(&mut st, k * columns, item)?;
                }
                st.raw_execute()?;
            }
        }
        let mut st = self.tx.prepare_cached(&format!("{head} {tuple}"))?;
        for item in chunks.remainder() {
            bind(&mut st, 0, item)?;
            st.raw_execute()?;
        }
        Ok(())
    }
}

pub(crate) fn latest() -> i64 {
    // The highest number, whatever order parallel features appended their migrations in.
    MIGRATIONS.iter().map(|m| m.0).max().unwrap_or(0)
}

fn applied(c: &Connection, version: i64) -> Result<bool> {
    Ok(c.query_row(
        "SELECT EXISTS(SELECT 1 FROM schema_migrations WHERE version = ?1)",
        [version],
        |r| r.get(0),
    )?)
}

fn schema_version(c: &Connection) -> Result<i64> {
    Ok(c.pragma_query_value(None, "user_version", |r| r.get(0))?)
}

fn refuse_newer(c: &Connection, path: &str) -> Result<()> {
    let found = schema_version(c)?;
    if found > latest() {
        return Err(StoreError::NewerSchema {
            path: path.to_string(),
            found,
            known: latest(),
        });
    }
    Ok(())
}

/// Creates the database file before SQLite does, so its mode is ours: 0600, or 0660 when
/// the folder is group-shared (setgid bit set), so a team on one jump host can share it.
fn create_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let shared = std::fs::metadata(dir)
        .map(|m| m.permissions().mode() & 0o2000 != 0)
        .unwrap_or(false);
    let mode = if shared { 0o660 } else { 0o600 };
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    // The umask may have narrowed the mode; set it exactly.
    f.set_permissions(std::fs::Permissions::from_mode(mode))?;
    Ok(())
}
