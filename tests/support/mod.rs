//! The one way CLI tests get a fresh database: created, migrated, and initialized by the
//! OS user running the suite (the actor is always the real uid's user), holding every
//! role the default matrix needs to act.
#![allow(dead_code)]

use assert_cmd::Command;
use std::path::{Path, PathBuf};

pub const NOW: &str = "2026-11-22T12:00:00Z";

/// `certdeck` against `db`, at the fixed test time.
pub fn certdeck(db: &Path) -> Command {
    let mut c = Command::cargo_bin("certdeck").expect("binary");
    c.arg("--db")
        .arg(db)
        .env("CERTDECK_NOW", NOW)
        .env_remove("CERTDECK_DB")
        .env(
            "XDG_CONFIG_HOME",
            db.parent().unwrap_or(Path::new("/nonexistent")),
        );
    c
}

/// A fresh, initialized database in `dir`.
pub fn fresh_db(dir: &Path) -> PathBuf {
    let db = dir.join("certdeck.db");
    certdeck(&db)
        .args([
            "init",
            "--also",
            "platform",
            "--also",
            "app-owner",
            "--also",
            "compliance",
        ])
        .assert()
        .success();
    db
}

/// The OS user of the real uid: who the binary acts as.
pub fn me() -> String {
    certdeck::access::current_actor().name
}
