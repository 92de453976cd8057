//! The audit log proves it was not edited: every record chains to the one before by a
//! SHA-256 over its canonical encoding, so an edit, deletion, insertion or reordering made
//! behind certdeck's back (triggers dropped, raw SQL) is caught at the first broken record.

mod support;

use certdeck::audit::{self, GENESIS};
use certdeck::ops::inventory;
use certdeck::testing::{ctx_on, operator};
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use time::macros::datetime;

const NOW: time::OffsetDateTime = datetime!(2026-11-22 12:00 UTC);

/// A file database with a handful of audited actions (init is record 1).
fn populated(deck: &support::Deck) -> PathBuf {
    let db = deck.db.clone();
    let (mut ctx, clock, alice) = ctx_on(&db, NOW);
    for name in ["payments", "search", "identity", "billing"] {
        clock.advance(time::Duration::minutes(1));
        inventory::add_owner(&mut ctx, &alice, name, Some("team@example.com"), None).unwrap();
    }
    // A refusal is recorded too.
    let _ = inventory::add_owner(&mut ctx, &operator("mallory"), "evil", None, None);
    db
}

fn verify(db: &Path) -> audit::Verification {
    let store = certdeck::store::Store::open(db).unwrap();
    audit::verify(store.read(), None).unwrap()
}

/// Raw access, as someone editing the file behind certdeck's back: triggers dropped.
fn tamper(db: &Path, sql: &str) {
    let c = Connection::open(db).unwrap();
    c.execute_batch(
        "DROP TRIGGER IF EXISTS audit_log_no_update; DROP TRIGGER IF EXISTS audit_log_no_delete;",
    )
    .unwrap();
    c.execute_batch(sql).unwrap();
}

#[test]
fn an_untouched_log_verifies_and_names_its_head() {
    let deck = support::Deck::uninitialized();
    let db = populated(&deck);
    let v = verify(&db);
    assert!(v.is_intact(), "{v:?}");
    assert_eq!(v.records, 6);
    assert_ne!(v.head, GENESIS);
    let store = certdeck::store::Store::open(&db).unwrap();
    let recs = store.read().audit_records(&Default::default()).unwrap();
    assert_eq!(v.head, recs[0].hash);
    assert_eq!(recs[0].outcome, "denied");
}

#[test]
fn the_triggers_refuse_update_and_delete() {
    let deck = support::Deck::uninitialized();
    let db = populated(&deck);
    let c = Connection::open(&db).unwrap();
    assert!(c
        .execute("UPDATE audit_log SET actor = 'x' WHERE seq = 2", [])
        .is_err());
    assert!(c
        .execute("DELETE FROM audit_log WHERE seq = 2", [])
        .is_err());
}

#[test]
fn an_altered_record_is_named() {
    let deck = support::Deck::uninitialized();
    let db = populated(&deck);
    tamper(&db, "UPDATE audit_log SET actor = 'bob' WHERE seq = 3");
    let b = verify(&db).broken.expect("broken");
    assert_eq!(b.seq, 3);
    assert!(b.reason.contains("altered"), "{}", b.reason);
}

#[test]
fn an_altered_detail_or_outcome_is_named() {
    let deck = support::Deck::uninitialized();
    let db = populated(&deck);
    tamper(
        &db,
        "UPDATE audit_log SET outcome = 'success', reason = NULL WHERE seq = 6",
    );
    assert_eq!(verify(&db).broken.unwrap().seq, 6);
}

#[test]
fn a_deleted_record_is_named() {
    let deck = support::Deck::uninitialized();
    let db = populated(&deck);
    tamper(&db, "DELETE FROM audit_log WHERE seq = 4");
    let b = verify(&db).broken.expect("broken");
    assert_eq!(b.seq, 5);
    assert!(b.reason.contains("missing"), "{}", b.reason);
}

#[test]
fn a_deletion_renumbered_to_hide_the_gap_is_named() {
    let deck = support::Deck::uninitialized();
    let db = populated(&deck);
    tamper(
        &db,
        "DELETE FROM audit_log WHERE seq = 4; UPDATE audit_log SET seq = seq - 1 WHERE seq > 4;",
    );
    let b = verify(&db).broken.expect("broken");
    assert_eq!(b.seq, 4);
}

#[test]
fn an_inserted_record_is_named() {
    let deck = support::Deck::uninitialized();
    let db = populated(&deck);
    // Make room after record 2 and insert a forged one that chains from record 2.
    tamper(
        &db,
        "UPDATE audit_log SET seq = seq + 100 WHERE seq > 2;
         UPDATE audit_log SET seq = seq - 99 WHERE seq > 100;
         INSERT INTO audit_log (seq, at, actor, actor_kind, action, object_type, object_id,
             outcome, reason, details, origin, prev_hash, hash)
         SELECT 3, at, 'mallory', 'operator', 'access.grant', 'operator', 'mallory', 'success',
             NULL, '{}', '{}', hash, 'forged' FROM audit_log WHERE seq = 2;",
    );
    let b = verify(&db).broken.expect("broken");
    assert_eq!(b.seq, 3);
}

#[test]
fn a_record_inserted_with_a_correct_hash_still_breaks_its_successor() {
    let deck = support::Deck::uninitialized();
    let db = populated(&deck);
    // The forger computes a valid hash for the inserted record; the next one no longer
    // chains from its predecessor.
    let c = Connection::open(&db).unwrap();
    let prev: String = c
        .query_row("SELECT hash FROM audit_log WHERE seq = 2", [], |r| r.get(0))
        .unwrap();
    let canon = audit::Canonical {
        seq: 3,
        at: "2026-11-22T12:01:30Z",
        actor: "mallory",
        actor_kind: "operator",
        action: "access.grant",
        object_type: "operator",
        object_id: "mallory",
        outcome: "success",
        reason: None,
        details: "{}",
        origin: "{}",
    };
    let hash = audit::chain_hash(&prev, &canon);
    tamper(
        &db,
        &format!(
            "UPDATE audit_log SET seq = seq + 100 WHERE seq > 2;
             UPDATE audit_log SET seq = seq - 99 WHERE seq > 100;
             INSERT INTO audit_log (seq, at, actor, actor_kind, action, object_type, object_id,
                 outcome, reason, details, origin, prev_hash, hash)
             VALUES (3, '2026-11-22T12:01:30Z', 'mallory', 'operator', 'access.grant',
                 'operator', 'mallory', 'success', NULL, '{{}}', '{{}}', '{prev}', '{hash}');"
        ),
    );
    let b = verify(&db).broken.expect("broken");
    assert_eq!(b.seq, 4, "{}", b.reason);
}

#[test]
fn reordered_records_are_named() {
    let deck = support::Deck::uninitialized();
    let db = populated(&deck);
    tamper(
        &db,
        "UPDATE audit_log SET seq = 1000 WHERE seq = 3;
         UPDATE audit_log SET seq = 3 WHERE seq = 4;
         UPDATE audit_log SET seq = 4 WHERE seq = 1000;",
    );
    assert_eq!(verify(&db).broken.expect("broken").seq, 3);
}

#[test]
fn records_cut_from_the_end_are_caught_against_a_kept_head() {
    let deck = support::Deck::uninitialized();
    let db = populated(&deck);
    let head = verify(&db).head;
    tamper(&db, "DELETE FROM audit_log WHERE seq >= 5");
    // Without the anchor the shorter chain is self-consistent...
    assert!(verify(&db).is_intact());
    // ...with the head kept elsewhere it is not.
    let store = certdeck::store::Store::open(&db).unwrap();
    let v = audit::verify(store.read(), Some(&head)).unwrap();
    assert!(v.broken.unwrap().reason.contains("anchored head"));
}

#[test]
fn a_failed_change_leaves_no_record() {
    let deck = support::Deck::uninitialized();
    let db = populated(&deck);
    let (mut ctx, _clock, alice) = ctx_on(&db, NOW);
    let before = verify(&db).records;
    // A grant that cannot be made (the invalid name) writes nothing.
    assert!(certdeck::ops::access::grant(
        &mut ctx,
        &alice,
        "bad name",
        certdeck::access::Role::Platform,
        Default::default()
    )
    .is_err());
    assert_eq!(verify(&db).records, before);
}

#[test]
fn cli_verify_exits_0_with_the_head_and_1_naming_the_broken_record() {
    let deck = support::Deck::new();
    let db = deck.db.clone();
    deck.cmd()
        .args(["owner", "add", "payments"])
        .assert()
        .success();
    let out = deck.cmd().args(["audit", "verify"]).assert().success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(text.contains("intact: 2 records, head "), "{text}");
    tamper(&db, "UPDATE audit_log SET details = '{}' WHERE seq = 2");
    let out = deck.cmd().args(["audit", "verify"]).assert().code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("broken at record 2"), "{err}");
}

#[test]
fn cli_export_writes_jsonl_and_csv_within_the_window() {
    let deck = support::Deck::uninitialized();
    populated(&deck);
    let out = deck
        .cmd()
        .args([
            "audit",
            "export",
            "--since",
            "2026-11-22T12:02:00Z",
            "--until",
            "2026-11-22T12:04:00Z",
            "--format",
            "jsonl",
        ])
        .assert()
        .success();
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.get_output().stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["object_id"], "search");
    assert!(lines[0]["hash"].as_str().unwrap().len() == 64);
    let out = deck
        .cmd()
        .args(["audit", "export", "--format", "csv"])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(rdr.headers().unwrap().get(0), Some("seq"));
    assert_eq!(rdr.records().count(), 6);
}

#[test]
fn cli_tail_shows_the_latest_records_with_refusals_marked() {
    let deck = support::Deck::uninitialized();
    populated(&deck);
    let out = deck
        .cmd()
        .args(["audit", "tail", "-n", "2"])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(
        lines[1].contains("mallory") && lines[1].contains("DENIED"),
        "{text}"
    );
}
