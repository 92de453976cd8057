//! Read queries shaped by the console's screens: the dashboard's figures come from
//! aggregate SQL over indexed columns, so the first frame does not wait for the whole
//! inventory to be loaded.

use super::db::{Read, Result};
use rusqlite::params;
use time::OffsetDateTime;

/// The dashboard's counts, all at one instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EstateCounts {
    pub total: i64,
    pub expired: i64,
    /// Not yet expired, expiring within 7 days.
    pub within_7_days: i64,
    /// Not yet expired, expiring within 30 days (includes the 7-day ones).
    pub within_30_days: i64,
    pub unowned: i64,
    /// Weak by [`crate::model::weak_reason`]'s rules.
    pub weak: i64,
}

/// A name (owner or CA) with how many of its certificates expire soon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameCount {
    /// `None` for certificates without an owner / authority / issuer name.
    pub name: Option<String>,
    pub count: i64,
}

/// Everything the dashboard shows except the audit feed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dashboard {
    pub counts: EstateCounts,
    /// Certificates expiring in week 0, 1, ... after `now` (week 0 = the next 7 days).
    pub weekly_expiry: Vec<i64>,
    /// Owners with the most certificates expiring within `soon_days`, most first.
    pub top_owners: Vec<NameCount>,
    /// Authorities (else issuer CN) with the most certificates expiring within `soon_days`.
    pub top_authorities: Vec<NameCount>,
}

const WEEK: i64 = 7 * 86_400;

impl Read<'_> {
    /// The dashboard at `now`: counts, `weeks` weekly expiry buckets, and the top `top`
    /// owners and authorities by certificates expiring within `soon_days`.
    pub fn dashboard(
        &self,
        now: OffsetDateTime,
        weeks: usize,
        soon_days: i64,
        top: usize,
    ) -> Result<Dashboard> {
        let t = now.unix_timestamp();
        let count = |sql: &str, args: &[i64]| -> Result<i64> {
            Ok(self
                .c
                .prepare_cached(sql)?
                .query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?)
        };
        let counts = EstateCounts {
            total: count("SELECT COUNT(*) FROM certificates", &[])?,
            expired: count(
                "SELECT COUNT(*) FROM certificates WHERE not_after <= ?1",
                &[t],
            )?,
            within_7_days: count(
                "SELECT COUNT(*) FROM certificates WHERE not_after > ?1 AND not_after <= ?2",
                &[t, t + 7 * 86_400],
            )?,
            within_30_days: count(
                "SELECT COUNT(*) FROM certificates WHERE not_after > ?1 AND not_after <= ?2",
                &[t, t + 30 * 86_400],
            )?,
            unowned: count(
                "SELECT COUNT(*) FROM certificates WHERE owner_id IS NULL",
                &[],
            )?,
            weak: self.weak_count()?,
        };
        let mut weekly_expiry = vec![0i64; weeks];
        {
            let mut st = self.c.prepare_cached(
                "SELECT (not_after - ?1 - 1) / ?3 AS week, COUNT(*) FROM certificates
                 WHERE not_after > ?1 AND not_after <= ?2 GROUP BY week",
            )?;
            let rows = st.query_map(params![t, t + weeks as i64 * WEEK, WEEK], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
            })?;
            for r in rows {
                let (w, n) = r?;
                if let Some(slot) = weekly_expiry.get_mut(w as usize) {
                    *slot += n;
                }
            }
        }
        let soon = t + soon_days * 86_400;
        let top_owners = self.top_names(
            "SELECT o.name, COUNT(*) AS n FROM certificates c LEFT JOIN owners o ON o.id = c.owner_id
             WHERE c.not_after > ?1 AND c.not_after <= ?2
             GROUP BY o.name ORDER BY n DESC, o.name LIMIT ?3",
            t,
            soon,
            top,
        )?;
        let top_authorities = self.top_names(
            "SELECT COALESCE(a.name, c.issuer_cn) AS ca, COUNT(*) AS n FROM certificates c
             LEFT JOIN authorities a ON a.id = c.authority_id
             WHERE c.not_after > ?1 AND c.not_after <= ?2
             GROUP BY ca ORDER BY n DESC, ca LIMIT ?3",
            t,
            soon,
            top,
        )?;
        Ok(Dashboard {
            counts,
            weekly_expiry,
            top_owners,
            top_authorities,
        })
    }

    /// Weak certificates, counted per distinct (key, size, signature) combination from a
    /// covering index and judged by `model::weak_reason` itself, so the rule lives in
    /// one place and the count never reads a certificate row.
    fn weak_count(&self) -> Result<i64> {
        let mut st = self.c.prepare_cached(
            "SELECT key_algorithm, key_bits, signature_algorithm, COUNT(*) FROM certificates
             GROUP BY key_algorithm, key_bits, signature_algorithm",
        )?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<u32>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?;
        let mut weak = 0;
        for r in rows {
            let (alg, bits, sig, n) = r?;
            if crate::model::weak_reason(&alg, bits, &sig).is_some() {
                weak += n;
            }
        }
        Ok(weak)
    }

    fn top_names(&self, sql: &str, from: i64, to: i64, top: usize) -> Result<Vec<NameCount>> {
        let mut st = self.c.prepare_cached(sql)?;
        let rows = st.query_map(params![from, to, top as i64], |r| {
            Ok(NameCount {
                name: r.get(0)?,
                count: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}

/// What the audit view asks for: words that must all match, each a case-insensitive
/// substring of its field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditSearch {
    pub actor: Vec<String>,
    pub action: Vec<String>,
    /// Matches `type:id` (e.g. `certificate:ab12…`, `owner:payments`).
    pub object: Vec<String>,
    pub outcome: Vec<String>,
    /// Matches actor, action or object.
    pub text: Vec<String>,
}

impl AuditSearch {
    /// `actor:alice action:owner object:payments outcome:denied free text`.
    pub fn parse(q: &str) -> std::result::Result<AuditSearch, String> {
        let mut s = AuditSearch::default();
        for word in q.split_whitespace() {
            match word.split_once(':') {
                Some(("actor", v)) if !v.is_empty() => s.actor.push(v.to_string()),
                Some(("action", v)) if !v.is_empty() => s.action.push(v.to_string()),
                Some(("object", v)) if !v.is_empty() => s.object.push(v.to_string()),
                Some(("outcome", v)) if !v.is_empty() => s.outcome.push(v.to_string()),
                Some(("actor" | "action" | "object" | "outcome", _)) => {
                    return Err(format!("query word {word:?}: empty value"))
                }
                _ => s.text.push(word.to_string()),
            }
        }
        Ok(s)
    }
}

fn like_pattern(v: &str) -> String {
    let mut p = String::from("%");
    for c in v.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

impl Read<'_> {
    /// The newest `limit` audit records matching `q`, newest first.
    pub fn audit_search(
        &self,
        q: &AuditSearch,
        limit: usize,
    ) -> Result<Vec<crate::model::AuditRecord>> {
        let mut sql = String::from(
            "SELECT seq, at, actor, actor_kind, action, object_type, object_id, outcome, reason,
                    details, origin, prev_hash, hash FROM audit_log WHERE 1=1",
        );
        let mut args: Vec<String> = Vec::new();
        let mut add = |expr: &str, v: &str, sql: &mut String| {
            args.push(like_pattern(v));
            let n = args.len();
            sql.push_str(&format!(" AND {}", expr.replace("?", &format!("?{n}"))));
        };
        for v in &q.actor {
            add("actor LIKE ? ESCAPE '\\'", v, &mut sql);
        }
        for v in &q.action {
            add("action LIKE ? ESCAPE '\\'", v, &mut sql);
        }
        for v in &q.object {
            add(
                "(object_type || ':' || object_id) LIKE ? ESCAPE '\\'",
                v,
                &mut sql,
            );
        }
        for v in &q.outcome {
            add("outcome LIKE ? ESCAPE '\\'", v, &mut sql);
        }
        for v in &q.text {
            add(
                "(actor || ' ' || action || ' ' || object_type || ':' || object_id) LIKE ? ESCAPE '\\'",
                v,
                &mut sql,
            );
        }
        sql.push_str(&format!(" ORDER BY seq DESC LIMIT {limit}"));
        let mut st = self.c.prepare(&sql)?;
        let rows = st.query_map(
            rusqlite::params_from_iter(args.iter()),
            super::audit::audit_row,
        )?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}
