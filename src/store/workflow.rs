//! Requests, their reviews, and CA source approvals per profile.

use super::access::{parse_opt_time, parse_time};
use super::db::{Read, Result, Tx};
use crate::clock::rfc3339;
use crate::workflow::{Kind, Payload, Request, Review, State, Verdict};
use rusqlite::{params, OptionalExtension, Row};
use time::OffsetDateTime;

/// A request to be stored.
#[derive(Debug, Clone)]
pub struct NewRequest<'a> {
    pub requester: &'a str,
    pub payload: &'a Payload,
    pub justification: &'a str,
    pub ticket: Option<&'a str>,
    pub approvals_required: u32,
    pub distinct_roles: bool,
    pub responsible_may_approve: bool,
    pub expires_at: OffsetDateTime,
}

/// Which requests to list.
#[derive(Debug, Clone, Default)]
pub struct RequestFilter {
    pub requester: Option<String>,
    pub state: Option<State>,
    pub kind: Option<Kind>,
}

fn bad(msg: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        Box::<dyn std::error::Error + Send + Sync>::from(msg),
    )
}

const COLS: &str = "id, kind, state, requester, activity, payload, justification, ticket,
    approvals_required, distinct_roles, responsible_may_approve, created_at, expires_at,
    decided_at, decided_by, decision_comment, result, used_at, used_by";

fn request_row(r: &Row<'_>) -> rusqlite::Result<Request> {
    let kind: String = r.get(1)?;
    let state: String = r.get(2)?;
    let activity: String = r.get(4)?;
    let payload: String = r.get(5)?;
    let result: Option<String> = r.get(16)?;
    Ok(Request {
        id: r.get(0)?,
        kind: Kind::parse(&kind).ok_or_else(|| bad(format!("unknown request kind {kind}")))?,
        state: State::parse(&state).ok_or_else(|| bad(format!("unknown state {state}")))?,
        requester: r.get(3)?,
        activity: activity.parse().map_err(bad)?,
        payload: serde_json::from_str(&payload).map_err(|e| bad(e.to_string()))?,
        justification: r.get(6)?,
        ticket: r.get(7)?,
        approvals_required: r.get(8)?,
        distinct_roles: r.get(9)?,
        responsible_may_approve: r.get(10)?,
        created_at: parse_time(&r.get::<_, String>(11)?)?,
        expires_at: parse_time(&r.get::<_, String>(12)?)?,
        decided_at: parse_opt_time(r.get(13)?)?,
        decided_by: r.get(14)?,
        decision_comment: r.get(15)?,
        reviews: Vec::new(),
        result: result.and_then(|s| serde_json::from_str(&s).ok()),
        used_at: parse_opt_time(r.get(17)?)?,
        used_by: r.get(18)?,
    })
}

impl Tx<'_> {
    pub fn insert_request(&self, n: &NewRequest<'_>, now: OffsetDateTime) -> Result<i64> {
        let kind = n.payload.kind();
        self.tx.execute(
            "INSERT INTO requests (kind, requester, activity, payload, justification, ticket,
                 approvals_required, distinct_roles, responsible_may_approve, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                kind.as_str(),
                n.requester,
                kind.activity().as_str(),
                serde_json::to_string(n.payload).unwrap_or_default(),
                n.justification,
                n.ticket,
                n.approvals_required,
                n.distinct_roles,
                n.responsible_may_approve,
                rfc3339(now),
                rfc3339(n.expires_at),
            ],
        )?;
        Ok(self.tx.last_insert_rowid())
    }

    pub fn insert_review(&self, request_id: i64, r: &Review) -> Result<()> {
        self.tx.execute(
            "INSERT INTO request_reviews (request_id, reviewer, role, verdict, comment, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                request_id,
                r.reviewer,
                r.role.as_str(),
                r.verdict.as_str(),
                r.comment,
                rfc3339(r.at)
            ],
        )?;
        Ok(())
    }

    /// Ends a pending request. Returns false when it was no longer pending (someone else
    /// decided first), so the caller never overwrites another decision.
    pub fn decide_request(
        &self,
        id: i64,
        state: State,
        by: Option<&str>,
        comment: Option<&str>,
        result: Option<&serde_json::Value>,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let n = self.tx.execute(
            "UPDATE requests SET state = ?2, decided_by = ?3, decision_comment = ?4, result = ?5,
                 decided_at = ?6
             WHERE id = ?1 AND state = 'pending'",
            params![
                id,
                state.as_str(),
                by,
                comment,
                result.map(|r| r.to_string()),
                rfc3339(now)
            ],
        )?;
        Ok(n == 1)
    }

    /// Takes back an approval (issuance, revocation) that has not been used. Returns
    /// false when the request was not approved, or already used.
    pub fn revoke_request(
        &self,
        id: i64,
        by: &str,
        comment: &str,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let n = self.tx.execute(
            "UPDATE requests SET state = 'revoked', decided_by = ?2, decision_comment = ?3,
                 decided_at = ?4
             WHERE id = ?1 AND state = 'approved' AND used_at IS NULL",
            params![id, by, comment, rfc3339(now)],
        )?;
        Ok(n == 1)
    }

    /// Records that an approval authorising one act was carried out. Returns false when
    /// it was already used (or is not approved), so it is never used twice.
    pub fn use_request(&self, id: i64, by: &str, now: OffsetDateTime) -> Result<bool> {
        let n = self.tx.execute(
            "UPDATE requests SET used_at = ?2, used_by = ?3
             WHERE id = ?1 AND state = 'approved' AND used_at IS NULL",
            params![id, rfc3339(now), by],
        )?;
        Ok(n == 1)
    }

    /// Makes an identity's job that the issuance gate held (`awaiting_approval`) due at
    /// once, so an approval is acted on without waiting out the backoff. A job refused by
    /// policy (`policy_denied`) is not touched: an approval does not change its profile's
    /// verdict. (Holds recorded as `policy_denied` before the category existed were
    /// reclassified by migration 10.) Returns the jobs released.
    pub fn release_held_jobs(&self, identity: &str, now: OffsetDateTime) -> Result<Vec<i64>> {
        let mut st = self.tx.prepare_cached(
            "UPDATE jobs SET next_attempt_at = ?2
             WHERE state = 'failed' AND diagnosis = 'awaiting_approval'
               AND identity_id IN (SELECT id FROM identities WHERE name = ?1)
             RETURNING id",
        )?;
        let rows = st.query_map(params![identity, now.unix_timestamp()], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<Vec<i64>>>()?)
    }

    pub fn approve_authority_for_profile(
        &self,
        authority_id: i64,
        profile: &str,
        by: &str,
        request_id: Option<i64>,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let n = self.tx.execute(
            "INSERT INTO authority_approvals (authority_id, profile, approved_by, approved_at, request_id)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
            params![authority_id, profile, by, rfc3339(now), request_id],
        )?;
        Ok(n == 1)
    }
}

impl Read<'_> {
    pub fn request(&self, id: i64) -> Result<Option<Request>> {
        let req = self
            .c
            .prepare_cached(&format!("SELECT {COLS} FROM requests WHERE id = ?1"))?
            .query_row([id], request_row)
            .optional()?;
        match req {
            Some(mut r) => {
                r.reviews = self.reviews(id)?;
                Ok(Some(r))
            }
            None => Ok(None),
        }
    }

    fn reviews(&self, id: i64) -> Result<Vec<Review>> {
        let mut st = self.c.prepare_cached(
            "SELECT reviewer, role, verdict, comment, at FROM request_reviews
             WHERE request_id = ?1 ORDER BY at, reviewer",
        )?;
        let rows = st.query_map([id], |r| {
            let role: String = r.get(1)?;
            let verdict: String = r.get(2)?;
            Ok(Review {
                reviewer: r.get(0)?,
                role: role.parse().map_err(bad)?,
                verdict: if verdict == "approve" {
                    Verdict::Approve
                } else {
                    Verdict::Deny
                },
                comment: r.get(3)?,
                at: parse_time(&r.get::<_, String>(4)?)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Requests, newest first, with their reviews.
    pub fn requests(&self, f: &RequestFilter) -> Result<Vec<Request>> {
        let mut st = self.c.prepare_cached(&format!(
            "SELECT {COLS} FROM requests
             WHERE (?1 IS NULL OR requester = ?1) AND (?2 IS NULL OR state = ?2)
               AND (?3 IS NULL OR kind = ?3)
             ORDER BY id DESC"
        ))?;
        let rows = st.query_map(
            params![
                f.requester,
                f.state.map(|s| s.as_str()),
                f.kind.map(|k| k.as_str())
            ],
            request_row,
        )?;
        let mut out = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        for r in &mut out {
            r.reviews = self.reviews(r.id)?;
        }
        Ok(out)
    }

    /// Profiles an authority is approved for.
    pub fn authority_approvals(&self, authority: &str) -> Result<Vec<String>> {
        let mut st = self.c.prepare_cached(
            "SELECT aa.profile FROM authority_approvals aa JOIN authorities a ON a.id = aa.authority_id
             WHERE a.name = ?1 ORDER BY aa.profile",
        )?;
        let rows = st.query_map([authority], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Whether an authority is approved for a profile.
    pub fn authority_approved_for(&self, authority: &str, profile: &str) -> Result<bool> {
        Ok(self
            .authority_approvals(authority)?
            .iter()
            .any(|p| p == profile))
    }
}
