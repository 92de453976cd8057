//! The exception record: a finding of one rule on one object is suppressed until a date,
//! by someone. Exceptions always expire; an expired (or revoked) one suppresses nothing,
//! so the finding comes back without anyone touching it. Who may grant one, and how it
//! is approved, is the workflow's business: it ends by writing this record through
//! `ops::policy::record_exception`.

use serde::Serialize;
use time::OffsetDateTime;

/// What an exception names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExceptionObject {
    /// Object id = the certificate's SHA-256 fingerprint (lowercase hex).
    Certificate,
    /// Object id = the identity's name: covers every certificate of the identity.
    Identity,
}

impl ExceptionObject {
    pub fn as_str(self) -> &'static str {
        match self {
            ExceptionObject::Certificate => "certificate",
            ExceptionObject::Identity => "identity",
        }
    }
    pub fn parse(s: &str) -> Option<ExceptionObject> {
        match s {
            "certificate" => Some(ExceptionObject::Certificate),
            "identity" => Some(ExceptionObject::Identity),
            _ => None,
        }
    }
}

/// An exception to be recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewException {
    pub rule: String,
    pub object_type: ExceptionObject,
    pub object_id: String,
    pub reason: String,
    /// Who granted it (the approver); the actor recording it is kept separately.
    pub granted_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// The request or ticket it came from, when a workflow granted it.
    pub request_ref: Option<String>,
}

/// An exception as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exception {
    pub id: i64,
    pub rule: String,
    pub object_type: ExceptionObject,
    pub object_id: String,
    pub reason: String,
    pub granted_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub created_at: String,
    pub created_by: String,
    pub request_ref: Option<String>,
    pub revoked_at: Option<String>,
    pub revoked_by: Option<String>,
}

impl Exception {
    /// In force at `now`: not revoked and not expired.
    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}
