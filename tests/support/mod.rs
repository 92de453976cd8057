//! The one place integration tests get a fresh inventory. CLI tests drive the real binary
//! through [`Deck`] (its own `--db` in a temporary folder, a fixed clock through
//! `CERTDECK_NOW`, no user config or data dir leaking in); library tests use
//! `certdeck::testing`, re-exported here, so bootstrapping changes in one place.
#![allow(dead_code, unused_imports)]

pub use certdeck::testing::*;

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};
use tempfile::TempDir;
use time::{macros::datetime, OffsetDateTime};

/// The tests' "now". The fixtures' validity is laid out around it (fixtures/README.md).
pub const NOW: &str = "2026-06-01T00:00:00Z";

pub fn now() -> OffsetDateTime {
    datetime!(2026-06-01 0:00 UTC)
}

/// A committed fixture, by path relative to `fixtures/`.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

/// A fresh, empty inventory driven through the certdeck binary.
pub struct Deck {
    pub dir: TempDir,
    pub db: PathBuf,
}

impl Default for Deck {
    fn default() -> Self {
        Self::new()
    }
}

impl Deck {
    /// A fresh inventory, initialized (`certdeck init`) by the OS user running the suite,
    /// who also holds platform, app-owner and compliance: every activity of the default
    /// matrix is theirs, as on a one-person install.
    pub fn new() -> Deck {
        let deck = Deck::uninitialized();
        let (code, _, err) = deck.run(&[
            "init",
            "--also",
            "platform",
            "--also",
            "app-owner",
            "--also",
            "compliance",
        ]);
        assert_eq!(code, 0, "certdeck init failed: {err}");
        deck
    }

    /// A database path nobody has initialized (no roles yet: writes are refused).
    pub fn uninitialized() -> Deck {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("inventory.db");
        Deck { dir, db }
    }

    /// `certdeck` with this deck's database and clock, and nothing from the environment
    /// of whoever runs the suite.
    pub fn cmd(&self) -> Command {
        let mut c = self.bare();
        c.arg("--db").arg(&self.db);
        c
    }

    /// `certdeck` with the clock and a private home, but no `--db`: for tests of how the
    /// database location is resolved.
    pub fn bare(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_certdeck"));
        let home = self.dir.path().join("home");
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("CERTDECK_NOW", NOW)
            .env("LANG", "C.UTF-8");
        c
    }

    /// Runs `certdeck ARGS` and returns (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.cmd().args(args).output().expect("run certdeck");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs a command that must succeed and print JSON; returns the JSON.
    pub fn json(&self, args: &[&str]) -> Value {
        let (code, out, err) = self.run(args);
        assert_eq!(code, 0, "certdeck {args:?} failed: {err}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
    }

    /// Imports fixtures (paths relative to `fixtures/`) and returns the JSON summary.
    pub fn import(&self, fixtures: &[&str]) -> (i32, Value) {
        let mut args = vec!["import".to_string(), "--json".to_string()];
        args.extend(fixtures.iter().map(|f| fixture(f).display().to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out, err) = self.run(&args);
        let v =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}\n{err}"));
        (code, v)
    }

    /// `list --json` with extra arguments.
    pub fn list(&self, extra: &[&str]) -> Vec<Value> {
        let mut args = vec!["list", "--json"];
        args.extend_from_slice(extra);
        match self.json(&args) {
            Value::Array(a) => a,
            other => panic!("list --json is not an array: {other}"),
        }
    }

    /// The subject CNs `list --json` returns, in order.
    pub fn names(&self, extra: &[&str]) -> Vec<String> {
        self.list(extra)
            .iter()
            .map(|c| {
                c["common_name"]
                    .as_str()
                    .unwrap_or(c["subject"].as_str().unwrap_or(""))
                    .to_string()
            })
            .collect()
    }
}

/// Reads a library-level store for assertions after CLI runs.
pub fn open(db: &Path) -> certdeck::store::Store {
    certdeck::store::Store::open(db).expect("open store")
}

/// The OS user of the real uid: who the binary acts as.
pub fn me() -> String {
    certdeck::access::current_actor().name
}
