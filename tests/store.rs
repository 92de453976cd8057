//! The inventory file: where it lives, who may read it, how it is opened and migrated, and
//! the audit log's guarantees.

mod support;

use certdeck::model::Environment;
use certdeck::ops::import::{import, ImportOptions, Source};
use certdeck::ops::inventory::{add_authority, add_owner, adopt, assign, Assignment};
use certdeck::store::{RowSelect, Store, StoreError, MIGRATIONS};
use std::os::unix::fs::PermissionsExt;
use support::{ctx_on, fixture, now, Deck};

fn raw(path: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn import_fixture(
    ctx: &mut certdeck::ops::Ctx,
    actor: &certdeck::model::Actor,
    rel: &str,
) -> certdeck::ops::OpResult<certdeck::ops::import::ImportReport> {
    import(
        ctx,
        actor,
        vec![Source::Path(fixture(rel))],
        &ImportOptions::default(),
        &mut |_, _| {},
    )
}

#[test]
fn the_database_runs_in_wal_mode_with_foreign_keys_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    let (mut ctx, _, alice) = ctx_on(&path, now());
    import_fixture(&mut ctx, &alice, "chain/leaf.pem").unwrap();
    let mode: String = raw(&path)
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let page_size: i64 = raw(&path)
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap();
    assert_eq!(page_size, 16_384, "new databases use 16 KiB pages");
    // A reference to an owner that does not exist is refused by the store itself.
    let id = ctx
        .store
        .read()
        .certificate_rows(RowSelect::default())
        .unwrap()[0]
        .id;
    let err = ctx
        .store
        .transaction(|tx| tx.set_certificate_owner(id, Some(999_999)))
        .unwrap_err();
    assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
}

#[test]
fn every_migration_is_applied_once_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    drop(Store::open(&path).unwrap());
    drop(Store::open(&path).unwrap()); // reopening applies nothing twice
    let c = raw(&path);
    let mut st = c
        .prepare("SELECT version, name FROM schema_migrations ORDER BY version")
        .unwrap();
    let recorded: Vec<(i64, String)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut expected: Vec<(i64, String)> = MIGRATIONS
        .iter()
        .map(|(v, n, _)| (*v, n.to_string()))
        .collect();
    expected.sort();
    assert_eq!(recorded, expected);
    let user_version: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(user_version, expected.last().unwrap().0);
}

#[test]
fn a_database_from_a_newer_certdeck_is_refused_and_left_byte_identical() {
    let deck = Deck::new();
    deck.import(&["chain/root.pem"]);
    raw(&deck.db)
        .pragma_update(None, "user_version", 9_999)
        .unwrap();
    let before = std::fs::read(&deck.db).unwrap();

    match Store::open(&deck.db) {
        Err(e @ StoreError::NewerSchema { found: 9_999, .. }) => {
            assert!(e.to_string().contains("newer certdeck"), "{e}")
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a newer database was opened"),
    }
    for args in [
        &["list"][..],
        &["import", fixture("chain/leaf.pem").to_str().unwrap()][..],
    ] {
        let (code, _, err) = deck.run(args);
        assert_eq!(code, 1, "{args:?}");
        assert!(
            err.contains("newer certdeck") && err.contains("left untouched"),
            "{err}"
        );
    }
    assert!(
        std::fs::read(&deck.db).unwrap() == before,
        "the file changed"
    );
}

#[test]
fn the_database_file_is_readable_by_its_owner_only() {
    let deck = Deck::new();
    let nested = deck.dir.path().join("new/folder/inventory.db");
    let (code, _, err) = deck
        .bare()
        .arg("--db")
        .arg(&nested)
        .arg("list")
        .output()
        .map(|o| {
            (
                o.status.code(),
                o.stdout,
                String::from_utf8_lossy(&o.stderr).into_owned(),
            )
        })
        .unwrap();
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(mode(&nested), 0o600);
}

#[test]
fn in_a_group_shared_folder_the_database_is_group_writable() {
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("team");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o2770)).unwrap();
    let path = shared.join("inventory.db");
    drop(Store::open(&path).unwrap());
    assert_eq!(mode(&path), 0o660);
}

#[test]
fn the_database_is_found_by_flag_then_environment_then_config_then_xdg() {
    let deck = Deck::new();
    let d = deck.dir.path();
    let home = d.join("home");
    let root = fixture("chain/root.pem");
    // Each database found is a new one: it is initialized (roles are needed to write),
    // then imported into, both through the same resolution.
    let import = |c: &mut assert_cmd::Command| {
        let mut init = assert_cmd::Command::new(c.get_program());
        init.args(c.get_args());
        init.env_clear();
        for (k, v) in c.get_envs() {
            if let Some(v) = v {
                init.env(k, v);
            }
        }
        let out = init.args(["init", "--also", "app-owner"]).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = c.arg("import").arg(&root).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let xdg = home.join(".local/share/certdeck/certdeck.db");
    let from_env = d.join("env.db");
    let from_flag = d.join("flag.db");
    let from_config = d.join("config.db");

    import(&mut deck.bare());
    assert!(xdg.exists(), "XDG data dir is the default");

    let config = d.join("certdeck.toml");
    std::fs::write(
        &config,
        format!("database = {:?}\n", from_config.display().to_string()),
    )
    .unwrap();
    import(deck.bare().arg("--config").arg(&config));
    assert!(from_config.exists(), "the config's database beats XDG");

    import(
        deck.bare()
            .env("CERTDECK_DB", &from_env)
            .arg("--config")
            .arg(&config),
    );
    assert!(from_env.exists(), "CERTDECK_DB beats the config");

    import(
        deck.bare()
            .env("CERTDECK_DB", &from_env)
            .arg("--db")
            .arg(&from_flag),
    );
    assert!(from_flag.exists(), "--db beats CERTDECK_DB");
}

#[test]
fn config_file_errors_name_the_file_the_line_and_the_key() {
    let deck = Deck::new();
    let config = deck.dir.path().join("bad.toml");
    std::fs::write(&config, "theme = \"mono\"\ndatabse = \"/tmp/x.db\"\n").unwrap();
    let (code, _, err) = deck.run(&["--config", config.to_str().unwrap(), "list"]);
    assert_eq!(code, 2);
    assert!(err.contains(config.to_str().unwrap()), "{err}");
    assert!(err.contains("line 2") && err.contains("databse"), "{err}");

    // The default config file in the XDG config dir is checked the same way.
    let default = deck.dir.path().join("home/.config/certdeck/config.toml");
    std::fs::create_dir_all(default.parent().unwrap()).unwrap();
    std::fs::write(&default, "theme = [\n").unwrap();
    let (code, _, err) = deck.run(&["list"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("config.toml") && err.contains("line 1"),
        "{err}"
    );

    // An explicit config that does not exist is an error, not silently ignored.
    let (code, _, err) = deck.run(&["--config", "/nonexistent/certdeck.toml", "list"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/nonexistent/certdeck.toml"), "{err}");
}

#[test]
fn audit_records_cannot_be_changed_or_deleted() {
    let deck = Deck::new();
    deck.import(&["chain/root.pem"]);
    let c = raw(&deck.db);
    let n: i64 = c
        .query_row("SELECT COUNT(*) FROM audit_log", [], |r| r.get(0))
        .unwrap();
    assert!(n >= 1);
    let upd = c
        .execute("UPDATE audit_log SET actor = 'mallory'", [])
        .unwrap_err();
    assert!(upd.to_string().contains("append-only"), "{upd}");
    let del = c.execute("DELETE FROM audit_log", []).unwrap_err();
    assert!(del.to_string().contains("append-only"), "{del}");
    let after: i64 = c
        .query_row("SELECT COUNT(*) FROM audit_log", [], |r| r.get(0))
        .unwrap();
    assert_eq!(after, n);
}

#[test]
fn every_operation_writes_its_audit_record_in_the_same_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    let (mut ctx, _, alice) = ctx_on(&path, now());
    let audit_actions = |ctx: &certdeck::ops::Ctx| -> Vec<String> {
        let mut v: Vec<String> = ctx
            .store
            .read()
            .audit_records(&Default::default())
            .unwrap()
            .into_iter()
            .map(|r| r.action)
            .collect();
        v.reverse(); // oldest first
        v
    };
    let start = audit_actions(&ctx).len();

    import_fixture(&mut ctx, &alice, "chain").unwrap();
    add_owner(
        &mut ctx,
        &alice,
        "payments",
        Some("oncall@example.com"),
        None,
    )
    .unwrap();
    add_authority(
        &mut ctx,
        &alice,
        "fixture-pki",
        certdeck::model::AuthorityKind::Local,
        Some(Environment::Prod),
        serde_json::json!({}),
        None,
    )
    .unwrap();
    let rows = ctx
        .store
        .read()
        .certificate_rows(RowSelect::default())
        .unwrap();
    let leaf = rows
        .iter()
        .find(|r| r.subject_cn.as_deref() == Some("www.fixture.example"))
        .unwrap();
    assign(
        &mut ctx,
        &alice,
        &[leaf.id],
        &Assignment {
            owner: Some(Some("payments".into())),
            authority: Some("fixture-pki".into()),
            environment: Some(Environment::Prod),
        },
    )
    .unwrap();
    adopt(
        &mut ctx,
        &alice,
        leaf.id,
        "www",
        Some("payments"),
        Some(Environment::Prod),
    )
    .unwrap();
    let actions = audit_actions(&ctx)[start..].to_vec();
    assert_eq!(
        actions,
        [
            "import",
            "owner.create",
            "authority.add",
            "certificate.assign",
            "identity.create",
            "identity.adopt"
        ]
    );

    // When the audit record cannot be written, the change does not happen either.
    raw(&path)
        .execute_batch(
            "CREATE TRIGGER audit_refuses BEFORE INSERT ON audit_log
             BEGIN SELECT RAISE(ABORT, 'audit disk full'); END;",
        )
        .unwrap();
    let certs = ctx.store.read().certificate_count().unwrap();
    let err = import_fixture(&mut ctx, &alice, "keys").unwrap_err();
    assert!(err.to_string().contains("audit disk full"), "{err}");
    assert_eq!(ctx.store.read().certificate_count().unwrap(), certs);
    assert!(add_owner(&mut ctx, &alice, "ghosts", None, None).is_err());
    assert!(ctx.store.read().owner_by_name("ghosts").unwrap().is_none());
    let leaf_now = ctx.store.read().certificate_row(leaf.id).unwrap().unwrap();
    assert!(assign(
        &mut ctx,
        &alice,
        &[leaf.id],
        &Assignment {
            environment: Some(Environment::Nonprod),
            ..Default::default()
        },
    )
    .is_err());
    assert_eq!(
        ctx.store
            .read()
            .certificate_row(leaf.id)
            .unwrap()
            .unwrap()
            .environment,
        leaf_now.environment
    );
}

/// Certificates among megabytes of text around them (as `openssl x509 -text` leaves
/// it): input enough to count as a bulk load.
fn bulk_input(fixtures: &[&str]) -> Vec<u8> {
    let mut data = Vec::new();
    for f in fixtures {
        data.extend(std::fs::read(fixture(f)).unwrap());
    }
    data.extend(
        "Certificate: text an exporter left between the blocks\n"
            .repeat(90_000)
            .bytes(),
    );
    assert!(data.len() > 4 << 20);
    data
}

/// Imports `data` as the file `export.txt`.
fn import_export(
    ctx: &mut certdeck::ops::Ctx,
    actor: &certdeck::model::Actor,
    data: Vec<u8>,
) -> certdeck::ops::import::ImportReport {
    import(
        ctx,
        actor,
        vec![Source::Bytes {
            label: "export.txt".into(),
            kind: "file".into(),
            data,
        }],
        &ImportOptions::default(),
        &mut |_, _| {},
    )
    .unwrap()
}

/// An import much larger than the inventory builds the expiry indexes once at its end
/// instead of row by row; the schema it leaves is the one it found, and the rebuilt
/// indexes hold every certificate.
#[test]
fn a_bulk_import_leaves_the_schema_and_the_indexes_as_it_found_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    let (mut ctx, _, alice) = ctx_on(&path, now());
    let schema = || -> Vec<(String, String, Option<String>)> {
        let c = raw(&path);
        let mut st = c
            .prepare("SELECT type, name, sql FROM sqlite_schema ORDER BY type, name")
            .unwrap();
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap();
        rows.map(Result::unwrap).collect()
    };
    let before = schema();
    let data = bulk_input(&[
        "chain/fullchain.pem",
        "validity/expired.pem",
        "validity/expiring-soon.pem",
    ]);
    let report = import_export(&mut ctx, &alice, data);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.new, 4);
    assert_eq!(schema(), before);
    // It wrote through a rollback journal (it had the database to itself), and left the
    // database in WAL mode, as the next command expects to find it.
    assert!(ctx.store.in_wal_mode().unwrap());
    let c = raw(&path);
    let check: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    for index in ["certificates_expiry_owner", "certificates_expiry_authority"] {
        let n: i64 = c
            .query_row(
                &format!(
                    "SELECT count(*) FROM certificates INDEXED BY {index} WHERE not_after > -1e12"
                ),
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 4, "{index}");
    }
}

/// A bulk load writes through a rollback journal only when it has the database to
/// itself: with a console or `run` connected, it stays in WAL mode so they keep reading.
#[test]
fn a_bulk_load_leaves_wal_mode_only_when_no_one_else_has_the_database_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    let mut store = Store::open(&path).unwrap();
    {
        let console = Store::open(&path).unwrap();
        console.read().certificate_count().unwrap();
        assert!(!store.begin_bulk_load(), "another connection is open");
        assert!(store.in_wal_mode().unwrap());
        assert!(console.in_wal_mode().unwrap());
    }
    assert!(store.begin_bulk_load());
    assert!(!store.in_wal_mode().unwrap());
    store.end_bulk_load();
    assert!(store.in_wal_mode().unwrap());
    // Interrupted in the middle of a bulk load: WAL mode again at the next opening.
    assert!(store.begin_bulk_load());
    drop(store);
    assert!(Store::open(&path).unwrap().in_wal_mode().unwrap());
    let mode: String = raw(&path)
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

/// A bulk load that has the database to itself stores leaf certificates many to a
/// statement with foreign keys checked once at the end; one that shares the database
/// stores them one by one. Both must leave exactly the same inventory: every row of
/// every table an import writes, the same report and the same findings.
#[test]
fn a_bulk_load_alone_and_one_sharing_the_database_store_exactly_the_same_inventory() {
    // Leaves before the CAs that issued them, a certificate twice, one already stored,
    // keys, CRLs and a broken block among them.
    let data = bulk_input(&[
        "chain/leaf.pem",
        "chain/fullchain.pem",
        "byname/legacy-leaf.pem",
        "hostile/1000-sans.pem",
        "hostile/bidi-override.pem",
        "hostile/nul-cn.pem",
        "hostile/osc-title.pem",
        "keys/ed25519.pem",
        "keys/p384.pem",
        "keys/rsa-4096.pem",
        "serials/negative.pem",
        "serials/serial-20-bytes.pem",
        "validity/expired.pem",
        "validity/expiring-soon.pem",
        "validity/not-yet-valid.pem",
        "weak/rsa1024-sha1.pem",
        "bundles/mixed.pem",
        "bundles/one-broken-block.pem",
        "realworld/public-roots.pem",
        "chain/leaf.pem",
        "chain/root.pem",
        "byname/legacy-ca.pem",
    ]);

    let load = |share: bool| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let (mut ctx, _, alice) = ctx_on(&path, now());
        import_fixture(&mut ctx, &alice, "validity/expired.pem").unwrap();
        let other = share.then(|| Store::open(&path).unwrap());
        let report = import_export(&mut ctx, &alice, data.clone());
        drop(other);
        let c = raw(&path);
        let mut tables = Vec::new();
        for (table, order) in [
            ("certificates", "id"),
            ("certificate_sans", "value, kind, certificate_id"),
            ("sightings", "certificate_id, kind, location"),
            ("certificate_usage", "certificate_id"),
            ("certificate_profiles", "certificate_id"),
            ("renewed_certificates", "certificate_id"),
        ] {
            let mut st = c
                .prepare(&format!("SELECT * FROM {table} ORDER BY {order}"))
                .unwrap();
            let n = st.column_count();
            let rows: Vec<String> = st
                .query_map([], |r| {
                    Ok((0..n)
                        .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                        .collect::<Vec<_>>()
                        .join("|"))
                })
                .unwrap()
                .map(Result::unwrap)
                .collect();
            tables.push((table, rows));
        }
        let findings: Vec<String> = ctx
            .store
            .read()
            .certificate_rows(RowSelect::default())
            .unwrap()
            .iter()
            .map(|r| format!("{} {:?} {:?}", r.id, r.profile, r.findings))
            .collect();
        assert!(ctx.store.in_wal_mode().unwrap());
        (format!("{report:?}"), tables, findings)
    };
    let alone = load(false);
    let shared = load(true);
    assert!(
        alone.0.contains("new: ") && !alone.0.contains("new: 0,"),
        "{}",
        alone.0
    );
    assert!(alone.0.contains("duplicates: 4"), "{}", alone.0);
    assert_eq!(alone.0, shared.0);
    for ((table, a), (_, b)) in alone.1.iter().zip(&shared.1) {
        assert_eq!(a, b, "{table}");
    }
    assert!(alone.1[0].1.len() > 20, "{:?}", alone.1[0].1.len());
    assert_eq!(alone.2, shared.2);
}

/// With foreign keys off for a bulk load, what they would have refused row by row is
/// refused before commit, and nothing of the load is kept.
#[test]
fn a_bulk_load_never_commits_a_reference_to_a_row_that_does_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    let mut store = Store::open(&path).unwrap();
    // Certificate 999 does not exist.
    let seen_nowhere = |tx: &certdeck::store::Tx<'_>| {
        tx.record_sighting(
            999,
            &certdeck::store::NewSighting {
                kind: "file".into(),
                location: "/etc/ssl/a.pem".into(),
            },
            "2026-06-01T00:00:00Z",
        )
    };
    assert!(store.begin_bulk_load());
    let err = store
        .transaction(|tx| {
            seen_nowhere(tx)?;
            tx.check_foreign_keys(&["sightings"])
        })
        .unwrap_err();
    store.end_bulk_load();
    assert!(
        err.to_string().contains("sightings") && err.to_string().contains("certificates"),
        "{err}"
    );
    let kept: i64 = raw(&path)
        .query_row("SELECT count(*) FROM sightings", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kept, 0);
    // Foreign keys are enforced again, statement by statement, after the load.
    let err = store.transaction(seen_nowhere).unwrap_err();
    assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
}

/// A command started while a bulk load has the database to itself waits for it to end
/// (SQLite refuses its switch to WAL mode at once, without a busy handler), then opens
/// the database in WAL mode as usual.
#[test]
fn opening_the_database_during_someone_elses_bulk_load_waits_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    let mut loader = Store::open(&path).unwrap();
    assert!(loader.begin_bulk_load());
    let (told, waited) = std::sync::mpsc::channel();
    let opener = std::thread::spawn({
        let path = path.clone();
        move || {
            Store::open_waiting(&path, &mut || told.send(()).unwrap()).and_then(|s| s.in_wal_mode())
        }
    });
    // The load's transaction holds the write lock until the other opening has waited.
    loader
        .transaction(|_| {
            waited
                .recv()
                .map_err(|e| StoreError::Invalid(e.to_string()))
        })
        .unwrap();
    loader.end_bulk_load();
    assert!(opener.join().unwrap().unwrap(), "opened in WAL mode");
    assert!(loader.in_wal_mode().unwrap());
}
