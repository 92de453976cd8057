//! The lifecycle engine's tables: targets, jobs, revocations, authority health, the
//! issuance ledger and alerts. Times certdeck compares are unix seconds.

use super::db::{Read, Result, Tx};
use crate::deploy::TargetSpec;
use crate::lifecycle::{Category, Job, JobState};
use crate::model::{AuthorityKind, Environment};
use rusqlite::{params, OptionalExtension, Row};
use std::collections::HashMap;
use time::OffsetDateTime;

fn ts(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

fn from_ts(s: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(s).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// An authority's circuit breaker, as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HealthRow {
    pub authority_id: i64,
    pub consecutive_failures: i64,
    /// closed | open | half_open
    pub state: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub opened_at: Option<OffsetDateTime>,
    pub last_failure: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AlertRow {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub kind: String,
    pub subject: String,
    pub message: String,
    pub resolved: bool,
}

/// One ledger entry the budgets count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRow {
    pub at: OffsetDateTime,
    pub authority_id: i64,
    pub identity_id: i64,
    pub kind: String,
    pub registered_domain: Option<String>,
    pub san_set: String,
}

/// A job that ended, with what an operator asks of it afterwards: when, which
/// certificate it produced, and whether that certificate was seen being served.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedJob {
    pub job: Job,
    pub finished_at: OffsetDateTime,
    /// SHA-256 of the certificate the job obtained (none for a job cancelled before).
    pub fingerprint: Option<String>,
    /// How many verify addresses served the new certificate, from the job's
    /// `job.verified` audit record (the record of the check); none when not verified.
    pub served_by: Option<i64>,
    /// The identity's deployment targets (as they are now).
    pub targets: i64,
}

const JOB_COLUMNS: &str = "j.id, j.identity_id, i.name, j.authority_id, a.name, j.reason, j.state,
    j.failed_step, j.diagnosis, j.message, j.attempts, j.next_attempt_at, j.order_ref,
    j.key_staging, j.certificate_id, j.actor, j.created_at, j.updated_at";

fn job_row(r: &Row<'_>) -> rusqlite::Result<Job> {
    let state: String = r.get(6)?;
    let failed: Option<String> = r.get(7)?;
    let diag: Option<String> = r.get(8)?;
    let next: Option<i64> = r.get(11)?;
    Ok(Job {
        id: r.get(0)?,
        identity_id: r.get(1)?,
        identity: r.get(2)?,
        authority_id: r.get(3)?,
        authority: r.get(4)?,
        reason: r.get(5)?,
        state: JobState::parse(&state).unwrap_or(JobState::Failed),
        failed_step: failed.as_deref().and_then(JobState::parse),
        diagnosis: diag.as_deref().and_then(Category::parse),
        message: r.get(9)?,
        attempts: r.get(10)?,
        next_attempt_at: next.map(from_ts),
        order_ref: r.get(12)?,
        key_staging: r.get(13)?,
        certificate_id: r.get(14)?,
        actor: r.get(15)?,
        created_at: from_ts(r.get(16)?),
        updated_at: from_ts(r.get(17)?),
    })
}

impl Tx<'_> {
    pub fn update_authority(
        &self,
        id: i64,
        kind: AuthorityKind,
        environment: Option<Environment>,
        settings: &serde_json::Value,
        credential_ref: Option<&str>,
    ) -> Result<()> {
        self.tx.execute(
            "UPDATE authorities SET kind = ?2, environment = ?3, settings = ?4, credential_ref = ?5 WHERE id = ?1",
            params![id, kind.as_str(), environment.map(|e| e.as_str()), settings.to_string(), credential_ref],
        )?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub fn update_identity(
        &self,
        id: i64,
        owner_id: Option<i64>,
        profile: Option<&str>,
        authority_id: Option<i64>,
        fallback_authority_id: Option<i64>,
        environment: Option<Environment>,
        sans: &[String],
        key_type: Option<&str>,
    ) -> Result<()> {
        self.tx.execute(
            "UPDATE identities SET owner_id = ?2, profile = ?3, authority_id = ?4,
                 fallback_authority_id = ?5, environment = ?6, sans = ?7, key_type = ?8,
                 managed_by = 'estate'
             WHERE id = ?1",
            params![
                id,
                owner_id,
                profile,
                authority_id,
                fallback_authority_id,
                environment.map(|e| e.as_str()),
                serde_json::to_string(sans).unwrap_or_else(|_| "[]".into()),
                key_type
            ],
        )?;
        Ok(())
    }

    pub fn replace_identity_targets(&self, identity_id: i64, targets: &[TargetSpec]) -> Result<()> {
        self.tx.execute(
            "DELETE FROM identity_targets WHERE identity_id = ?1",
            [identity_id],
        )?;
        let mut st = self.tx.prepare_cached(
            "INSERT INTO identity_targets (identity_id, position, kind, settings) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (n, t) in targets.iter().enumerate() {
            st.execute(params![
                identity_id,
                n as i64,
                t.kind,
                serde_json::to_string(t).unwrap_or_else(|_| "{}".into())
            ])?;
        }
        Ok(())
    }

    pub fn insert_job(
        &self,
        identity_id: i64,
        authority_id: i64,
        reason: &str,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<i64> {
        self.tx
            .prepare_cached(
                "INSERT INTO jobs (identity_id, authority_id, reason, state, actor, created_at, updated_at)
                 VALUES (?1, ?2, ?3, 'planned', ?4, ?5, ?5)",
            )?
            .execute(params![identity_id, authority_id, reason, actor, ts(now)])?;
        Ok(self.tx.last_insert_rowid())
    }

    /// Moves a job to `state` (clearing any failure: the step is being tried again).
    pub fn set_job_state(&self, id: i64, state: JobState, now: OffsetDateTime) -> Result<()> {
        let finished = state.is_final().then(|| ts(now));
        self.tx
            .prepare_cached(
                "UPDATE jobs SET state = ?2, failed_step = NULL, next_attempt_at = NULL,
                     updated_at = ?3, finished_at = COALESCE(?4, finished_at) WHERE id = ?1",
            )?
            .execute(params![id, state.as_str(), ts(now), finished])?;
        Ok(())
    }

    /// Ends an open job as `cancelled` with the operator's reason in `message`; keeps its
    /// last diagnosis and failed step as history. Returns false when the job had already
    /// ended (verified or cancelled), so a cancellation racing a finishing run changes
    /// nothing.
    pub fn cancel_job(&self, id: i64, reason: &str, now: OffsetDateTime) -> Result<bool> {
        let n = self
            .tx
            .prepare_cached(
                "UPDATE jobs SET state = 'cancelled', message = ?2, next_attempt_at = NULL,
                     updated_at = ?3, finished_at = ?3
                 WHERE id = ?1 AND state NOT IN ('verified', 'cancelled')",
            )?
            .execute(params![id, reason, ts(now)])?;
        Ok(n == 1)
    }

    pub fn set_job_authority(&self, id: i64, authority_id: i64) -> Result<()> {
        self.tx.execute(
            "UPDATE jobs SET authority_id = ?2 WHERE id = ?1",
            params![id, authority_id],
        )?;
        Ok(())
    }

    pub fn set_job_order_ref(&self, id: i64, order_ref: &str) -> Result<()> {
        self.tx.execute(
            "UPDATE jobs SET order_ref = ?2 WHERE id = ?1",
            params![id, order_ref],
        )?;
        Ok(())
    }

    /// Forgets a dead order (invalid at the CA) so the next attempt places a new one.
    pub fn clear_job_order_ref(&self, id: i64) -> Result<()> {
        self.tx
            .execute("UPDATE jobs SET order_ref = NULL WHERE id = ?1", [id])?;
        Ok(())
    }

    pub fn set_job_key_staging(&self, id: i64, path: Option<&str>) -> Result<()> {
        self.tx
            .prepare_cached("UPDATE jobs SET key_staging = ?2 WHERE id = ?1")?
            .execute(params![id, path])?;
        Ok(())
    }

    pub fn set_job_certificate(&self, id: i64, cert_id: i64) -> Result<()> {
        self.tx
            .prepare_cached("UPDATE jobs SET certificate_id = ?2 WHERE id = ?1")?
            .execute(params![id, cert_id])?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub fn fail_job(
        &self,
        id: i64,
        failed_step: JobState,
        category: Category,
        message: &str,
        attempts: i64,
        next_attempt_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.tx
            .prepare_cached(
                "UPDATE jobs SET state = 'failed', failed_step = ?2, diagnosis = ?3, message = ?4,
                     attempts = ?5, next_attempt_at = ?6, updated_at = ?7 WHERE id = ?1",
            )?
            .execute(params![
                id,
                failed_step.as_str(),
                category.as_str(),
                message,
                attempts,
                ts(next_attempt_at),
                ts(now)
            ])?;
        Ok(())
    }

    pub fn insert_revocation(
        &self,
        cert_id: i64,
        authority_id: Option<i64>,
        reason: &str,
        at: OffsetDateTime,
    ) -> Result<()> {
        self.tx.execute(
            "INSERT OR REPLACE INTO revocations (certificate_id, authority_id, reason, revoked_at) VALUES (?1, ?2, ?3, ?4)",
            params![cert_id, authority_id, reason, ts(at)],
        )?;
        Ok(())
    }

    pub fn set_authority_health(&self, h: &HealthRow, now: OffsetDateTime) -> Result<()> {
        self.tx.execute(
            "INSERT INTO authority_health (authority_id, consecutive_failures, state, opened_at, last_failure, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (authority_id) DO UPDATE SET consecutive_failures = excluded.consecutive_failures,
                 state = excluded.state, opened_at = excluded.opened_at,
                 last_failure = excluded.last_failure, updated_at = excluded.updated_at",
            params![h.authority_id, h.consecutive_failures, h.state, h.opened_at.map(ts), h.last_failure, ts(now)],
        )?;
        Ok(())
    }

    pub fn insert_ledger(&self, e: &LedgerRow) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO issuance_ledger (at, authority_id, identity_id, kind, registered_domain, san_set)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![ts(e.at), e.authority_id, e.identity_id, e.kind, e.registered_domain, e.san_set])?;
        Ok(())
    }

    pub fn insert_alert(
        &self,
        at: OffsetDateTime,
        kind: &str,
        subject: &str,
        message: &str,
    ) -> Result<i64> {
        self.tx.execute(
            "INSERT INTO alerts (at, kind, subject, message) VALUES (?1, ?2, ?3, ?4)",
            params![ts(at), kind, subject, message],
        )?;
        Ok(self.tx.last_insert_rowid())
    }

    pub fn resolve_alerts(&self, kind: &str, subject: &str, at: OffsetDateTime) -> Result<usize> {
        Ok(self.tx.execute(
            "UPDATE alerts SET resolved_at = ?3 WHERE kind = ?1 AND subject = ?2 AND resolved_at IS NULL",
            params![kind, subject, ts(at)],
        )?)
    }
}

impl Read<'_> {
    pub fn identity_targets(&self, identity_id: i64) -> Result<Vec<TargetSpec>> {
        let mut st = self.c.prepare_cached(
            "SELECT settings FROM identity_targets WHERE identity_id = ?1 ORDER BY position",
        )?;
        let rows = st.query_map([identity_id], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for s in rows {
            let s = s?;
            let t: TargetSpec = serde_json::from_str(&s).map_err(|e| {
                super::StoreError::Invalid(format!("stored target of identity {identity_id}: {e}"))
            })?;
            out.push(t);
        }
        Ok(out)
    }

    /// The identity's fallback authority name, when it has one.
    pub fn identity_fallback_authority(&self, identity_id: i64) -> Result<Option<String>> {
        Ok(self
            .c
            .prepare_cached(
                "SELECT a.name FROM identities i JOIN authorities a ON a.id = i.fallback_authority_id WHERE i.id = ?1",
            )?
            .query_row([identity_id], |r| r.get(0))
            .optional()?)
    }

    pub fn job(&self, id: i64) -> Result<Option<Job>> {
        Ok(self
            .c
            .prepare_cached(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs j JOIN identities i ON i.id = j.identity_id
                 JOIN authorities a ON a.id = j.authority_id WHERE j.id = ?1"
            ))?
            .query_row([id], job_row)
            .optional()?)
    }

    /// The jobs `ids`, in no particular order (one query for a whole round of jobs).
    pub fn jobs_by_id(&self, ids: &[i64]) -> Result<Vec<Job>> {
        let list = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
        let mut st = self.c.prepare_cached(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs j JOIN identities i ON i.id = j.identity_id
             JOIN authorities a ON a.id = j.authority_id
             WHERE j.id IN (SELECT value FROM json_each(?1))"
        ))?;
        let rows = st.query_map([list], job_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The authority each of `ids` renews from, by identity id (one query for a list
    /// of identities; those without an authority are absent).
    pub fn identity_authority_names(&self, ids: &[i64]) -> Result<HashMap<i64, String>> {
        let list = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
        let mut st = self.c.prepare_cached(
            "SELECT i.id, a.name FROM identities i JOIN authorities a ON a.id = i.authority_id
             WHERE i.id IN (SELECT value FROM json_each(?1))",
        )?;
        let rows = st.query_map([list], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<HashMap<_, _>>>()?)
    }

    /// A certificate's fingerprint and status, without the rest of its row.
    pub fn certificate_fingerprint_status(
        &self,
        id: i64,
    ) -> Result<Option<(String, crate::model::CertStatus)>> {
        Ok(self
            .c
            .prepare_cached("SELECT fingerprint_sha256, status FROM certificates WHERE id = ?1")?
            .query_row([id], |r| {
                let status: String = r.get(1)?;
                Ok((
                    r.get(0)?,
                    status.parse().unwrap_or(crate::model::CertStatus::Active),
                ))
            })
            .optional()?)
    }

    /// The identity's unfinished job, if any (at most one is ever open).
    pub fn open_job(&self, identity_id: i64) -> Result<Option<Job>> {
        Ok(self
            .c
            .prepare_cached(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs j JOIN identities i ON i.id = j.identity_id
                 JOIN authorities a ON a.id = j.authority_id
                 WHERE j.identity_id = ?1 AND j.state NOT IN ('verified', 'cancelled')
                 ORDER BY j.id DESC LIMIT 1"
            ))?
            .query_row([identity_id], job_row)
            .optional()?)
    }

    /// Jobs, newest first; `failed_only` keeps failed ones (not those merely awaiting
    /// approval: see [`Read::jobs_awaiting_approval`]); `open_only` unfinished ones.
    pub fn jobs(&self, failed_only: bool, open_only: bool, limit: i64) -> Result<Vec<Job>> {
        let clause = match (failed_only, open_only) {
            (true, _) => {
                "WHERE j.state = 'failed' AND COALESCE(j.diagnosis, '') <> 'awaiting_approval'"
            }
            (false, true) => "WHERE j.state NOT IN ('verified', 'cancelled')",
            _ => "",
        };
        // Open jobs are a few among every job ever run: `+j.id` keeps SQLite from walking
        // all ids newest-first, so it finds them through the partial index `jobs_open`
        // and sorts those (0.01 ms instead of 65 ms at 600k finished jobs; `:jobs` reads
        // them every second while a renewal runs).
        let order = if open_only && !failed_only {
            "+j.id"
        } else {
            "j.id"
        };
        let mut st = self.c.prepare(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs j JOIN identities i ON i.id = j.identity_id
             JOIN authorities a ON a.id = j.authority_id {clause} ORDER BY {order} DESC LIMIT ?1"
        ))?;
        let rows = st.query_map([limit], job_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Jobs that ended (verified or cancelled) at or after `since`, the most recent
    /// first, at most `limit`: what the console shows beside the open ones, so that a
    /// renewal does not vanish from view the moment it succeeds. Reads only the recent
    /// jobs (index `jobs_finished`), cheap enough for the console's one-second refresh.
    pub fn jobs_finished_since(
        &self,
        since: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<FinishedJob>> {
        let mut st = self.c.prepare_cached(&format!(
            "SELECT {JOB_COLUMNS}, j.finished_at, c.fingerprint_sha256,
                 (SELECT json_array_length(l.details, '$.verified_at') FROM audit_log l
                   WHERE l.object_type = 'job' AND l.object_id = CAST(j.id AS TEXT)
                     AND l.action = 'job.verified'
                   ORDER BY l.seq DESC LIMIT 1),
                 (SELECT COUNT(*) FROM identity_targets t WHERE t.identity_id = j.identity_id)
             FROM jobs j JOIN identities i ON i.id = j.identity_id
             JOIN authorities a ON a.id = j.authority_id
             LEFT JOIN certificates c ON c.id = j.certificate_id
             WHERE j.finished_at >= ?1
             ORDER BY j.finished_at DESC, j.id DESC LIMIT ?2"
        ))?;
        let rows = st.query_map(params![ts(since), limit], |r| {
            Ok(FinishedJob {
                job: job_row(r)?,
                finished_at: from_ts(r.get(18)?),
                fingerprint: r.get(19)?,
                served_by: r.get(20)?,
                targets: r.get(21)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Jobs the issuance gate holds until a reviewer approves, newest first.
    pub fn jobs_awaiting_approval(&self, limit: i64) -> Result<Vec<Job>> {
        let mut st = self.c.prepare_cached(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs j JOIN identities i ON i.id = j.identity_id
             JOIN authorities a ON a.id = j.authority_id
             WHERE j.state = 'failed' AND j.diagnosis = 'awaiting_approval'
             ORDER BY j.id DESC LIMIT ?1"
        ))?;
        let rows = st.query_map([limit], job_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Finished jobs of the last window (for the failure-rate alert): (verified, failed).
    /// A job awaiting issuance approval is neither: a reviewer is awaited, nothing failed,
    /// so a queue of held identities never raises the failure-rate alert.
    pub fn job_outcomes_since(&self, since: OffsetDateTime) -> Result<(i64, i64)> {
        Ok(self.c.query_row(
            "SELECT COALESCE(SUM(state = 'verified'), 0),
                    COALESCE(SUM(state = 'failed'
                                 AND COALESCE(diagnosis, '') <> 'awaiting_approval'), 0)
             FROM jobs WHERE updated_at >= ?1",
            [ts(since)],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }

    pub fn revocations_for_authority(
        &self,
        authority_id: i64,
    ) -> Result<Vec<crate::ca::RevokedEntry>> {
        let mut st = self.c.prepare_cached(
            "SELECT c.serial, r.revoked_at, r.reason FROM revocations r
             JOIN certificates c ON c.id = r.certificate_id WHERE r.authority_id = ?1 ORDER BY r.revoked_at",
        )?;
        let rows = st.query_map([authority_id], |r| {
            Ok(crate::ca::RevokedEntry {
                serial: r.get(0)?,
                revoked_at: from_ts(r.get(1)?),
                reason: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    pub fn authority_health(&self, authority_id: i64) -> Result<Option<HealthRow>> {
        Ok(self
            .c
            .prepare_cached(
                "SELECT authority_id, consecutive_failures, state, opened_at, last_failure
                 FROM authority_health WHERE authority_id = ?1",
            )?
            .query_row([authority_id], |r| {
                let opened: Option<i64> = r.get(3)?;
                Ok(HealthRow {
                    authority_id: r.get(0)?,
                    consecutive_failures: r.get(1)?,
                    state: r.get(2)?,
                    opened_at: opened.map(from_ts),
                    last_failure: r.get(4)?,
                })
            })
            .optional()?)
    }

    pub fn alerts(&self, unresolved_only: bool) -> Result<Vec<AlertRow>> {
        let clause = if unresolved_only {
            "WHERE resolved_at IS NULL"
        } else {
            ""
        };
        let mut st = self.c.prepare(&format!(
            "SELECT id, at, kind, subject, message, resolved_at FROM alerts {clause} ORDER BY id DESC LIMIT 500"
        ))?;
        let rows = st.query_map([], |r| {
            let resolved: Option<i64> = r.get(5)?;
            Ok(AlertRow {
                id: r.get(0)?,
                at: from_ts(r.get(1)?),
                kind: r.get(2)?,
                subject: r.get(3)?,
                message: r.get(4)?,
                resolved: resolved.is_some(),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Count of ledger rows (tests and benches check "exactly one order").
    pub fn ledger_count(&self, kind: &str) -> Result<i64> {
        Ok(self.c.query_row(
            "SELECT COUNT(*) FROM issuance_ledger WHERE kind = ?1",
            [kind],
            |r| r.get(0),
        )?)
    }
}

/// One automated identity with what the planner needs, read in one query.
#[derive(Debug, Clone)]
pub struct PlanRow {
    pub identity_id: i64,
    pub name: String,
    pub authority_id: i64,
    pub fallback_authority_id: Option<i64>,
    pub sans: Vec<String>,
    pub current: Option<(OffsetDateTime, OffsetDateTime)>,
    pub open_job: Option<(i64, String, Option<OffsetDateTime>)>,
    pub profile: Option<String>,
}

impl Read<'_> {
    /// Every identity with an authority (the automated ones), with its current
    /// certificate's validity and its open job.
    pub fn planning_rows(&self) -> Result<Vec<PlanRow>> {
        let mut st = self.c.prepare(
            "SELECT i.id, i.name, i.authority_id, i.fallback_authority_id, i.sans,
                    c.not_before, c.not_after, j.id, j.state, j.next_attempt_at, i.profile
             FROM identities i
             LEFT JOIN certificates c ON c.id = i.current_certificate_id
             LEFT JOIN jobs j ON j.id = (SELECT MAX(id) FROM jobs WHERE identity_id = i.id
                                          AND state NOT IN ('verified', 'cancelled'))
             WHERE i.authority_id IS NOT NULL ORDER BY i.id",
        )?;
        let rows = st.query_map([], |r| {
            let sans: String = r.get(4)?;
            let nb: Option<i64> = r.get(5)?;
            let na: Option<i64> = r.get(6)?;
            let jid: Option<i64> = r.get(7)?;
            let jstate: Option<String> = r.get(8)?;
            let jnext: Option<i64> = r.get(9)?;
            Ok(PlanRow {
                identity_id: r.get(0)?,
                name: r.get(1)?,
                authority_id: r.get(2)?,
                fallback_authority_id: r.get(3)?,
                sans: serde_json::from_str(&sans).unwrap_or_default(),
                current: nb.zip(na).map(|(a, b)| (from_ts(a), from_ts(b))),
                open_job: jid.map(|id| (id, jstate.unwrap_or_default(), jnext.map(from_ts))),
                profile: r.get(10)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Every authority's circuit state.
    pub fn authority_healths(&self) -> Result<Vec<HealthRow>> {
        let mut st = self.c.prepare(
            "SELECT authority_id, consecutive_failures, state, opened_at, last_failure FROM authority_health",
        )?;
        let rows = st.query_map([], |r| {
            let opened: Option<i64> = r.get(3)?;
            Ok(HealthRow {
                authority_id: r.get(0)?,
                consecutive_failures: r.get(1)?,
                state: r.get(2)?,
                opened_at: opened.map(from_ts),
                last_failure: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Every ledger entry since `since`, all authorities.
    pub fn ledger_all_since(&self, since: OffsetDateTime) -> Result<Vec<LedgerRow>> {
        let mut st = self.c.prepare_cached(
            "SELECT at, authority_id, identity_id, kind, registered_domain, san_set
             FROM issuance_ledger WHERE at >= ?1 ORDER BY at",
        )?;
        let rows = st.query_map([ts(since)], |r| {
            Ok(LedgerRow {
                at: from_ts(r.get(0)?),
                authority_id: r.get(1)?,
                identity_id: r.get(2)?,
                kind: r.get(3)?,
                registered_domain: r.get(4)?,
                san_set: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}
