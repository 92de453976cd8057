//! The audit log: every lifecycle action, every decision and every refusal, in a
//! hash chain. Each record's hash covers a canonical encoding of its fields and the
//! previous record's hash, so an edit, deletion, insertion or reordering made behind
//! certdeck's back breaks the chain at a record `verify` can name.

use crate::model::{Actor, Outcome};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The hash the first record chains from.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An audit record to be written. `ops` builds these; the store assigns seq, time and
/// hashes inside the same transaction as the change they describe.
#[derive(Debug, Clone)]
pub struct Entry {
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub outcome: Outcome,
    pub reason: Option<String>,
    pub details: Value,
}

impl Entry {
    pub fn success(
        action: &str,
        object_type: &str,
        object_id: impl Into<String>,
        details: Value,
    ) -> Entry {
        Entry {
            action: action.into(),
            object_type: object_type.into(),
            object_id: object_id.into(),
            outcome: Outcome::Success,
            reason: None,
            details,
        }
    }
    pub fn denied(
        action: &str,
        object_type: &str,
        object_id: impl Into<String>,
        reason: impl Into<String>,
    ) -> Entry {
        Entry {
            action: action.into(),
            object_type: object_type.into(),
            object_id: object_id.into(),
            outcome: Outcome::Denied,
            reason: Some(reason.into()),
            details: Value::Object(Default::default()),
        }
    }
    pub fn failed(
        action: &str,
        object_type: &str,
        object_id: impl Into<String>,
        reason: impl Into<String>,
        details: Value,
    ) -> Entry {
        Entry {
            action: action.into(),
            object_type: object_type.into(),
            object_id: object_id.into(),
            outcome: Outcome::Failed,
            reason: Some(reason.into()),
            details,
        }
    }
}

/// The stored text fields of a record, exactly as they are hashed.
pub struct Canonical<'a> {
    pub seq: i64,
    pub at: &'a str,
    pub actor: &'a str,
    pub actor_kind: &'a str,
    pub action: &'a str,
    pub object_type: &'a str,
    pub object_id: &'a str,
    pub outcome: &'a str,
    pub reason: Option<&'a str>,
    pub details: &'a str,
    pub origin: &'a str,
}

/// SHA-256 over the previous hash and a length-prefixed encoding of every field, so no
/// two different records can encode the same way.
pub fn chain_hash(prev_hash: &str, r: &Canonical<'_>) -> String {
    let mut h = Sha256::new();
    let mut field = |s: &str| {
        h.update((s.len() as u64).to_be_bytes());
        h.update(s.as_bytes());
    };
    field("certdeck-audit-v1");
    field(prev_hash);
    field(&r.seq.to_string());
    field(r.at);
    field(r.actor);
    field(r.actor_kind);
    field(r.action);
    field(r.object_type);
    field(r.object_id);
    field(r.outcome);
    match r.reason {
        Some(x) => {
            field("1");
            field(x);
        }
        None => field("0"),
    }
    field(r.details);
    field(r.origin);
    hex::encode(h.finalize())
}

/// The outcome of checking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verification {
    /// Records checked (up to and including the first broken one).
    pub records: i64,
    /// The hash of the last record ([`GENESIS`] for an empty log): keep it elsewhere, and
    /// pass it back with `--anchor` to also catch records removed from the end or a chain
    /// rewritten from scratch.
    pub head: String,
    pub broken: Option<Break>,
}

/// The first record at which the chain does not hold, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Break {
    pub seq: i64,
    pub reason: String,
}

impl Verification {
    pub fn is_intact(&self) -> bool {
        self.broken.is_none()
    }
}

/// Walks records in `seq` order and checks, for each: it follows its predecessor with no
/// gap, it names its predecessor's hash, and its own hash matches its content. Any edit,
/// deletion, insertion or reordering made behind certdeck's back fails one of these at
/// the first affected record. With `anchor` (a head hash kept elsewhere), the chain must
/// also still contain that record.
pub struct Verifier<'a> {
    anchor: Option<&'a str>,
    anchor_seen: bool,
    expected_seq: i64,
    prev_hash: String,
    records: i64,
    broken: Option<Break>,
}

impl<'a> Verifier<'a> {
    pub fn new(anchor: Option<&'a str>) -> Self {
        Verifier {
            anchor,
            anchor_seen: false,
            expected_seq: 1,
            prev_hash: GENESIS.to_string(),
            records: 0,
            broken: None,
        }
    }

    /// Checks the next record, given its stored hashes and its canonical fields.
    pub fn check(&mut self, prev_hash: &str, hash: &str, c: &Canonical<'_>) {
        if self.broken.is_some() {
            return;
        }
        self.records += 1;
        let fail = |reason: String| Some(Break { seq: c.seq, reason });
        if c.seq != self.expected_seq {
            self.broken = if c.seq > self.expected_seq {
                fail(format!(
                    "records {}..{} are missing (deleted), or this one was renumbered",
                    self.expected_seq,
                    c.seq - 1
                ))
            } else {
                fail(format!(
                    "out of order: expected record {}",
                    self.expected_seq
                ))
            };
            return;
        }
        let computed = chain_hash(prev_hash, c);
        if computed != hash {
            self.broken = fail(
                "content does not match its hash: the record was altered (or moved)".to_string(),
            );
            return;
        }
        if prev_hash != self.prev_hash {
            self.broken = fail(format!(
                "does not chain from record {}: a record before it was deleted, inserted or reordered",
                c.seq - 1
            ));
            return;
        }
        if self.anchor == Some(hash) {
            self.anchor_seen = true;
        }
        self.prev_hash = hash.to_string();
        self.expected_seq += 1;
    }

    pub fn finish(mut self) -> Verification {
        if self.broken.is_none() {
            if let Some(a) = self.anchor {
                if !self.anchor_seen && a != GENESIS {
                    self.broken = Some(Break {
                        seq: self.expected_seq,
                        reason: format!(
                            "the anchored head {a} is not in the log: records were removed from the end or the chain was rewritten"
                        ),
                    });
                }
            }
        }
        Verification {
            records: self.records,
            head: self.prev_hash,
            broken: self.broken,
        }
    }
}

/// Verifies the whole audit log of a store.
pub fn verify(
    read: crate::store::Read<'_>,
    anchor: Option<&str>,
) -> Result<Verification, crate::store::StoreError> {
    let mut v = Verifier::new(anchor);
    read.audit_scan(|rec, canon| v.check(&rec.prev_hash, &rec.hash, canon))?;
    Ok(v.finish())
}

/// The origin as recorded: where the actor acted from.
pub fn origin_json(actor: &Actor) -> Value {
    serde_json::to_value(&actor.origin).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec<'a>(details: &'a str, reason: Option<&'a str>) -> Canonical<'a> {
        Canonical {
            seq: 1,
            at: "2026-11-22T00:00:00Z",
            actor: "alice",
            actor_kind: "operator",
            action: "import",
            object_type: "certificate",
            object_id: "abc",
            outcome: "success",
            reason,
            details,
            origin: "{}",
        }
    }

    #[test]
    fn any_field_change_changes_the_hash() {
        let base = chain_hash(GENESIS, &rec("{}", None));
        assert_ne!(base, chain_hash(GENESIS, &rec("{\"a\":1}", None)));
        assert_ne!(base, chain_hash(GENESIS, &rec("{}", Some(""))));
        assert_ne!(base, chain_hash(&"1".repeat(64), &rec("{}", None)));
        assert_eq!(base, chain_hash(GENESIS, &rec("{}", None)));
    }
}
