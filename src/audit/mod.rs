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
