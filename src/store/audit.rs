use super::db::{Read, Result, Tx};
use crate::audit::{chain_hash, Canonical, Entry, GENESIS};
use crate::model::{Actor, AuditRecord};
use rusqlite::{params, OptionalExtension, Row};
use time::OffsetDateTime;

impl Tx<'_> {
    /// Appends one record to the chain, in this transaction: if the change it describes
    /// rolls back, so does the record, and the other way round.
    pub fn append_audit(
        &self,
        actor: &Actor,
        at: OffsetDateTime,
        e: &Entry,
    ) -> Result<AuditRecord> {
        let cached = self.audit_head.borrow_mut().take();
        let (prev_seq, prev_hash): (i64, String) = match cached {
            Some(head) => head,
            None => self
                .tx
                .prepare_cached("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")?
                .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?
                .unwrap_or((0, GENESIS.to_string())),
        };
        let seq = prev_seq + 1;
        let at_s = crate::clock::rfc3339(at);
        let details = serde_json::to_string(&e.details).unwrap_or_else(|_| "{}".into());
        let origin = serde_json::to_string(&crate::audit::origin_json(actor))
            .unwrap_or_else(|_| "{}".into());
        let canon = Canonical {
            seq,
            at: &at_s,
            actor: &actor.name,
            actor_kind: actor.kind.as_str(),
            action: &e.action,
            object_type: &e.object_type,
            object_id: &e.object_id,
            outcome: e.outcome.as_str(),
            reason: e.reason.as_deref(),
            details: &details,
            origin: &origin,
        };
        let hash = chain_hash(&prev_hash, &canon);
        self.tx
            .prepare_cached(
                "INSERT INTO audit_log (seq, at, actor, actor_kind, action, object_type, object_id,
                     outcome, reason, details, origin, prev_hash, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?
            .execute(params![
                seq,
                at_s,
                actor.name,
                actor.kind.as_str(),
                e.action,
                e.object_type,
                e.object_id,
                e.outcome.as_str(),
                e.reason,
                details,
                origin,
                prev_hash,
                hash
            ])?;
        *self.audit_head.borrow_mut() = Some((seq, hash.clone()));
        Ok(AuditRecord {
            seq,
            at,
            actor: actor.name.clone(),
            actor_kind: actor.kind.as_str().into(),
            action: e.action.clone(),
            object_type: e.object_type.clone(),
            object_id: e.object_id.clone(),
            outcome: e.outcome.as_str().into(),
            reason: e.reason.clone(),
            details: e.details.clone(),
            origin: crate::audit::origin_json(actor),
            prev_hash,
            hash,
        })
    }
}

/// Which audit records to read.
#[derive(Debug, Default, Clone)]
pub struct AuditQuery {
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub actor: Option<String>,
    pub action: Option<String>,
    /// Newest first, at most this many.
    pub limit: Option<usize>,
}

impl Read<'_> {
    pub fn audit_records(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>> {
        let mut sql = String::from(
            "SELECT seq, at, actor, actor_kind, action, object_type, object_id, outcome, reason,
                    details, origin, prev_hash, hash FROM audit_log WHERE 1=1",
        );
        let mut args: Vec<String> = Vec::new();
        for (col, v) in [
            ("object_type", &q.object_type),
            ("object_id", &q.object_id),
            ("actor", &q.actor),
            ("action", &q.action),
        ] {
            if let Some(v) = v {
                args.push(v.clone());
                sql.push_str(&format!(" AND {col} = ?{}", args.len()));
            }
        }
        sql.push_str(" ORDER BY seq DESC");
        if let Some(n) = q.limit {
            sql.push_str(&format!(" LIMIT {n}"));
        }
        let mut st = self.c.prepare(&sql)?;
        let rows = st.query_map(rusqlite::params_from_iter(args.iter()), audit_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Every record in chain order, for verification and export; `f` sees each record's
    /// stored text exactly as it was hashed.
    pub fn audit_scan(&self, mut f: impl FnMut(&AuditRecord, &Canonical<'_>)) -> Result<()> {
        let mut st = self.c.prepare(
            "SELECT seq, at, actor, actor_kind, action, object_type, object_id, outcome, reason,
                    details, origin, prev_hash, hash FROM audit_log ORDER BY seq",
        )?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let rec = audit_row(r)?;
            let at: String = r.get(1)?;
            let details: String = r.get(9)?;
            let origin: String = r.get(10)?;
            let canon = Canonical {
                seq: rec.seq,
                at: &at,
                actor: &rec.actor,
                actor_kind: &rec.actor_kind,
                action: &rec.action,
                object_type: &rec.object_type,
                object_id: &rec.object_id,
                outcome: &rec.outcome,
                reason: rec.reason.as_deref(),
                details: &details,
                origin: &origin,
            };
            f(&rec, &canon);
        }
        Ok(())
    }

    pub fn audit_count(&self) -> Result<i64> {
        Ok(self
            .c
            .query_row("SELECT COUNT(*) FROM audit_log", [], |r| r.get(0))?)
    }
}

pub(super) fn audit_row(r: &Row<'_>) -> rusqlite::Result<AuditRecord> {
    let at: String = r.get(1)?;
    let details: String = r.get(9)?;
    let origin: String = r.get(10)?;
    Ok(AuditRecord {
        seq: r.get(0)?,
        at: OffsetDateTime::parse(&at, &time::format_description::well_known::Rfc3339)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH),
        actor: r.get(2)?,
        actor_kind: r.get(3)?,
        action: r.get(4)?,
        object_type: r.get(5)?,
        object_id: r.get(6)?,
        outcome: r.get(7)?,
        reason: r.get(8)?,
        details: serde_json::from_str(&details).unwrap_or(serde_json::Value::String(details)),
        origin: serde_json::from_str(&origin).unwrap_or(serde_json::Value::String(origin)),
        prev_hash: r.get(11)?,
        hash: r.get(12)?,
    })
}

impl Read<'_> {
    /// Records with `since <= at < until`, in chain order, for evidence exports.
    pub fn audit_range(
        &self,
        since: Option<OffsetDateTime>,
        until: Option<OffsetDateTime>,
        mut f: impl FnMut(&AuditRecord),
    ) -> Result<()> {
        let mut st = self.c.prepare(
            "SELECT seq, at, actor, actor_kind, action, object_type, object_id, outcome, reason,
                    details, origin, prev_hash, hash FROM audit_log
             WHERE (?1 IS NULL OR at >= ?1) AND (?2 IS NULL OR at < ?2) ORDER BY seq",
        )?;
        let mut rows = st.query(params![
            since.map(crate::clock::rfc3339),
            until.map(crate::clock::rfc3339)
        ])?;
        while let Some(r) = rows.next()? {
            f(&audit_row(r)?);
        }
        Ok(())
    }
}
