//! Policy tables: loaded versions and profiles, assignment rules, extension facts,
//! evaluation verdicts (profile, renewed) per certificate and the findings derived from
//! them on read, exceptions.

use super::db::{Read, Result, StoreError, Tx};
use crate::model::{CertRow, Environment, Finding};
use crate::policy::compliance::{self, ExceptionRef, Usage, Verdict};
use crate::policy::exception::{Exception, ExceptionObject, NewException};
use crate::policy::{MatchRule, PolicySet, Profile};
use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use time::OffsetDateTime;

/// The policy set in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyVersion {
    pub version: String,
    pub loaded_at: String,
    pub loaded_by: String,
    pub files: Vec<String>,
    pub profile_count: i64,
}

/// An assignment rule as stored: file rules come from the loaded policy set, operator
/// rules from `policy assign`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredRule {
    pub id: i64,
    pub origin: String,
    #[serde(flatten)]
    pub rule: MatchRule,
}

fn ts(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

impl Tx<'_> {
    /// Makes `set` the policy in force: its version recorded (again, when reloaded), its
    /// profiles and file rules replacing the previous ones. Operator rules are kept.
    pub fn replace_policy(&self, set: &PolicySet, by: &str, now: OffsetDateTime) -> Result<()> {
        let now_s = crate::clock::rfc3339(now);
        self.tx
            .execute("UPDATE policy_versions SET current = 0", [])?;
        self.tx.execute(
            "INSERT INTO policy_versions (version, loaded_at, loaded_by, files, profile_count, current)
             VALUES (?1, ?2, ?3, ?4, ?5, 1)
             ON CONFLICT (version) DO UPDATE SET loaded_at = excluded.loaded_at,
                 loaded_by = excluded.loaded_by, files = excluded.files, current = 1",
            params![
                set.version,
                now_s,
                by,
                serde_json::to_string(&set.files).unwrap_or_default(),
                set.profiles.len() as i64
            ],
        )?;
        self.tx.execute("DELETE FROM profiles", [])?;
        let mut st = self.tx.prepare_cached(
            "INSERT INTO profiles (name, version, environment, source, definition) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for p in &set.profiles {
            let def = serde_json::to_string(p).map_err(|e| StoreError::Invalid(e.to_string()))?;
            st.execute(params![
                p.name,
                set.version,
                p.environment.as_str(),
                p.source,
                def
            ])?;
        }
        self.tx
            .execute("DELETE FROM profile_rules WHERE origin = 'file'", [])?;
        for r in &set.rules {
            self.insert_profile_rule(r, "file", now)?;
        }
        Ok(())
    }

    pub fn insert_profile_rule(
        &self,
        r: &MatchRule,
        origin: &str,
        now: OffsetDateTime,
    ) -> Result<i64> {
        self.tx
            .prepare_cached(
                "INSERT INTO profile_rules (origin, profile, authority, san_suffix, owner, environment, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                origin,
                r.profile,
                r.authority,
                r.san_suffix,
                r.owner,
                r.environment.map(|e| e.as_str()),
                crate::clock::rfc3339(now)
            ])?;
        Ok(self.tx.last_insert_rowid())
    }

    pub fn delete_profile_rule(&self, id: i64) -> Result<usize> {
        Ok(self.tx.execute(
            "DELETE FROM profile_rules WHERE id = ?1 AND origin = 'operator'",
            [id],
        )?)
    }

    pub fn set_identity_profile(&self, identity_id: i64, profile: Option<&str>) -> Result<()> {
        self.tx.execute(
            "UPDATE identities SET profile = ?2 WHERE id = ?1",
            params![identity_id, profile],
        )?;
        Ok(())
    }

    pub fn store_usage(&self, certificate_id: i64, u: &Usage) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT OR REPLACE INTO certificate_usage (certificate_id, eku, key_usage) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![certificate_id, u.eku.join(","), u.key_usage.join(",")])?;
        Ok(())
    }

    /// Forgets the stored verdicts of `ids` (all of them with `None`), before their new
    /// ones are stored with [`Tx::store_verdicts`]. One statement per table over the ids
    /// (as a JSON array), whatever their number.
    pub fn clear_evaluation(&self, ids: Option<&[i64]>) -> Result<()> {
        match ids {
            Some(ids) => {
                let list = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
                for table in ["certificate_profiles", "renewed_certificates"] {
                    self.tx.execute(
                        &format!(
                            "DELETE FROM {table} WHERE certificate_id IN (SELECT value FROM json_each(?1))"
                        ),
                        [&list],
                    )?;
                }
            }
            None => {
                self.tx.execute("DELETE FROM certificate_profiles", [])?;
                self.tx.execute("DELETE FROM renewed_certificates", [])?;
            }
        }
        Ok(())
    }

    /// Forgets the stored verdicts of every certificate with an id above `id` (a range
    /// of the primary key: nothing to do when they are all new).
    pub fn clear_evaluation_above(&self, id: i64) -> Result<()> {
        self.tx.execute(
            "DELETE FROM certificate_profiles WHERE certificate_id > ?1",
            [id],
        )?;
        self.tx.execute(
            "DELETE FROM renewed_certificates WHERE certificate_id > ?1",
            [id],
        )?;
        Ok(())
    }

    /// Stores verdicts (each certificate's previous one cleared first): its profile when
    /// it has one, and that it was renewed when it was. The findings are not stored:
    /// [`Read::attach_findings`] derives them from these.
    pub fn store_verdicts(&self, verdicts: &[Verdict]) -> Result<()> {
        let mut profile = self.tx.prepare_cached(
            "INSERT INTO certificate_profiles (certificate_id, profile, via) VALUES (?1, ?2, ?3)",
        )?;
        let mut renewed = self
            .tx
            .prepare_cached("INSERT INTO renewed_certificates (certificate_id) VALUES (?1)")?;
        for v in verdicts {
            if let Some((p, via)) = &v.profile {
                profile.execute(params![v.certificate_id, p, via.as_str()])?;
            }
            if v.renewed {
                renewed.execute([v.certificate_id])?;
            }
        }
        Ok(())
    }

    /// Stores the extension facts of certificates just stored (none has any yet), many
    /// to a statement.
    pub fn store_new_usages(&self, usages: &[(i64, &Usage)]) -> Result<()> {
        self.insert_many(
            "INSERT INTO certificate_usage (certificate_id, eku, key_usage) VALUES",
            "(?, ?, ?)",
            3,
            256,
            usages,
            |st, offset, (id, u)| {
                st.raw_bind_parameter(offset + 1, *id)?;
                st.raw_bind_parameter(offset + 2, u.eku.join(","))?;
                st.raw_bind_parameter(offset + 3, u.key_usage.join(","))
            },
        )
    }

    pub fn insert_exception(
        &self,
        e: &NewException,
        created_by: &str,
        now: OffsetDateTime,
    ) -> Result<i64> {
        self.tx
            .prepare_cached(
                "INSERT INTO exceptions (rule, object_type, object_id, reason, granted_by, expires_at,
                     created_at, created_by, request_ref)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                e.rule,
                e.object_type.as_str(),
                e.object_id,
                e.reason,
                e.granted_by,
                e.expires_at.unix_timestamp(),
                crate::clock::rfc3339(now),
                created_by,
                e.request_ref
            ])?;
        Ok(self.tx.last_insert_rowid())
    }

    pub fn revoke_exception(&self, id: i64, by: &str, now: OffsetDateTime) -> Result<usize> {
        Ok(self.tx.execute(
            "UPDATE exceptions SET revoked_at = ?2, revoked_by = ?3 WHERE id = ?1 AND revoked_at IS NULL",
            params![id, crate::clock::rfc3339(now), by],
        )?)
    }
}

/// Rows whose finding marks are derived together (see [`Read::attach_finding_marks`]).
const MARKS_ROUND: usize = 8192;

/// What deriving findings needs besides each row: the profiles in force by name, the
/// unrevoked exceptions and the current policy version (read once per call, however
/// many rows are judged).
struct Judging {
    profiles: HashMap<String, Profile>,
    exceptions: Vec<ExceptionRef>,
    version: Option<String>,
}

impl Judging {
    /// The findings of `row` under its stored verdict (its profile is the row's own
    /// `profile`, read with it; `renewed` from [`renewed_certificates`]).
    fn findings(&self, row: &CertRow, usage: Option<&Usage>, renewed: bool) -> Vec<Finding> {
        let profile = row.profile.as_deref().and_then(|p| self.profiles.get(p));
        compliance::judge(
            row,
            usage,
            profile,
            renewed,
            self.version.as_deref(),
            &self.exceptions,
        )
    }
}

fn exception(r: &Row<'_>) -> rusqlite::Result<Exception> {
    let ot: String = r.get(2)?;
    Ok(Exception {
        id: r.get(0)?,
        rule: r.get(1)?,
        object_type: ExceptionObject::parse(&ot).unwrap_or(ExceptionObject::Certificate),
        object_id: r.get(3)?,
        reason: r.get(4)?,
        granted_by: r.get(5)?,
        expires_at: ts(r.get(6)?),
        created_at: r.get(7)?,
        created_by: r.get(8)?,
        request_ref: r.get(9)?,
        revoked_at: r.get(10)?,
        revoked_by: r.get(11)?,
    })
}

const EXCEPTION_SELECT: &str = "SELECT id, rule, object_type, object_id, reason, granted_by,
    expires_at, created_at, created_by, request_ref, revoked_at, revoked_by FROM exceptions";

impl Read<'_> {
    /// Every certificate row without its findings: what the engine evaluates.
    pub fn policy_rows(&self) -> Result<Vec<CertRow>> {
        let mut st = self.c.prepare_cached(&format!(
            "{} ORDER BY c.id",
            super::certificates::ROW_SELECT
        ))?;
        let rows = st.query_map([], super::certificates::cert_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The rows of `ids` and of every certificate that could share a renewal group with
    /// one of them: the same identity, or the same subject CN (a superset of "same CN and
    /// SANs"), so a partial evaluation sees each group whole.
    pub fn policy_rows_around(&self, ids: &[i64]) -> Result<Vec<CertRow>> {
        let list = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
        let mut st = self.c.prepare_cached(&format!(
            "{} WHERE c.id IN (SELECT value FROM json_each(?1))
                OR c.identity_id IN (SELECT t.identity_id FROM certificates t
                    WHERE t.id IN (SELECT value FROM json_each(?1)) AND t.identity_id IS NOT NULL)
                OR lower(COALESCE(c.subject_cn, c.subject)) IN (SELECT lower(COALESCE(t.subject_cn, t.subject))
                    FROM certificates t WHERE t.id IN (SELECT value FROM json_each(?1)))
             ORDER BY c.id",
            super::certificates::ROW_SELECT
        ))?;
        let rows = st.query_map([list], super::certificates::cert_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// [`Read::policy_rows_around`] among the certificates with an id up to `max_id`
    /// (those an import found in the inventory; it has the rows it stored in memory).
    pub fn policy_rows_around_up_to(&self, ids: &[i64], max_id: i64) -> Result<Vec<CertRow>> {
        let list = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
        let mut st = self.c.prepare_cached(&format!(
            "{} WHERE c.id <= ?2 AND (c.id IN (SELECT value FROM json_each(?1))
                OR c.identity_id IN (SELECT t.identity_id FROM certificates t
                    WHERE t.id IN (SELECT value FROM json_each(?1)) AND t.identity_id IS NOT NULL)
                OR lower(COALESCE(c.subject_cn, c.subject)) IN (SELECT lower(COALESCE(t.subject_cn, t.subject))
                    FROM certificates t WHERE t.id IN (SELECT value FROM json_each(?1))))
             ORDER BY c.id",
            super::certificates::ROW_SELECT
        ))?;
        let rows = st.query_map(params![list, max_id], super::certificates::cert_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Which of `ids` are CA certificates.
    pub fn ca_ids_among(&self, ids: &[i64]) -> Result<Vec<i64>> {
        let list = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
        let mut st = self.c.prepare_cached(
            "SELECT id FROM certificates WHERE is_ca = 1 AND id IN (SELECT value FROM json_each(?1))",
        )?;
        let rows = st.query_map([list], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<Vec<i64>>>()?)
    }

    /// Fills each row's `findings`: derived from its stored verdict (profile, renewed)
    /// by the evaluation's own rules, each with the exception that covers it (whether it
    /// is still in force is decided when read, against the clock).
    pub fn attach_findings(&self, rows: &mut [CertRow]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let judging = self.judging()?;
        let mut ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        ids.dedup();
        let usage = self.usage_for(&ids)?;
        let renewed = self.renewed_among(&ids)?;
        for row in rows.iter_mut() {
            row.findings = judging.findings(row, usage.get(&row.id), renewed.contains(&row.id));
        }
        Ok(())
    }

    /// Every row's findings, keeping of each what lists, filters and counts read (rule,
    /// severity, window, exception) and not its message, value, profile (the row has
    /// its own) or policy version: the console holds the whole inventory in memory, and on 100k
    /// certificates those texts are tens of megabytes it never shows in a list (the
    /// detail and an export read them with [`Read::attach_findings`]). One thread
    /// judges them all: marks made on other threads would stay in those threads' heaps.
    pub fn attach_finding_marks(&self, rows: &mut [CertRow]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let judging = self.judging()?;
        let renewed = self.renewed_among_all()?;
        // A slice of rows at a time, with only its extension facts in memory (the
        // console's budget has no room for all 100k at once).
        for part in rows.chunks_mut(MARKS_ROUND) {
            let ids: Vec<i64> = part.iter().map(|r| r.id).collect();
            let usage = self.usage_for(&ids)?;
            for row in part.iter_mut() {
                let mut findings =
                    judging.findings(row, usage.get(&row.id), renewed.contains(&row.id));
                for f in &mut findings {
                    f.message = String::new();
                    f.value = None;
                    f.profile = None;
                    f.policy_version = None;
                }
                findings.shrink_to_fit();
                row.findings = findings;
            }
        }
        Ok(())
    }

    fn judging(&self) -> Result<Judging> {
        Ok(Judging {
            profiles: self
                .profiles()?
                .into_iter()
                .map(|p| (p.name.clone(), p))
                .collect(),
            exceptions: self.exception_refs()?,
            version: self.current_policy_version()?.map(|v| v.version),
        })
    }

    /// Which of `ids` the last evaluation found renewed.
    fn renewed_among(&self, ids: &[i64]) -> Result<HashSet<i64>> {
        if ids.len() > 4096 {
            return self.renewed_among_all();
        }
        let list = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
        let mut st = self.c.prepare_cached(
            "SELECT certificate_id FROM renewed_certificates
             WHERE certificate_id IN (SELECT value FROM json_each(?1))",
        )?;
        let rows = st.query_map([list], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<HashSet<i64>>>()?)
    }

    fn renewed_among_all(&self) -> Result<HashSet<i64>> {
        let mut st = self
            .c
            .prepare_cached("SELECT certificate_id FROM renewed_certificates")?;
        let rows = st.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<HashSet<i64>>>()?)
    }

    /// Whether any exception has not been revoked (expired ones included: whether an
    /// exception is still in force is decided against the clock when findings are read).
    pub fn has_unrevoked_exceptions(&self) -> Result<bool> {
        Ok(self
            .c
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM exceptions WHERE revoked_at IS NULL)")?
            .query_row([], |r| r.get(0))?)
    }

    pub fn current_policy_version(&self) -> Result<Option<PolicyVersion>> {
        Ok(self
            .c
            .prepare_cached(
                "SELECT version, loaded_at, loaded_by, files, profile_count FROM policy_versions WHERE current = 1",
            )?
            .query_row([], |r| {
                let files: String = r.get(3)?;
                Ok(PolicyVersion {
                    version: r.get(0)?,
                    loaded_at: r.get(1)?,
                    loaded_by: r.get(2)?,
                    files: serde_json::from_str(&files).unwrap_or_default(),
                    profile_count: r.get(4)?,
                })
            })
            .optional()?)
    }

    pub fn profiles(&self) -> Result<Vec<Profile>> {
        let mut st = self
            .c
            .prepare_cached("SELECT definition FROM profiles ORDER BY name")?;
        let defs = st
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        defs.iter()
            .map(|d| {
                serde_json::from_str(d)
                    .map_err(|e| StoreError::Invalid(format!("stored profile unreadable: {e}")))
            })
            .collect()
    }

    pub fn profile(&self, name: &str) -> Result<Option<Profile>> {
        let def: Option<String> = self
            .c
            .prepare_cached("SELECT definition FROM profiles WHERE name = ?1")?
            .query_row([name], |r| r.get(0))
            .optional()?;
        def.map(|d| {
            serde_json::from_str(&d)
                .map_err(|e| StoreError::Invalid(format!("stored profile unreadable: {e}")))
        })
        .transpose()
    }

    /// Assignment rules in the order they are tried: the policy files' first, then the
    /// operators', each in the order they were made.
    pub fn profile_rules(&self) -> Result<Vec<StoredRule>> {
        let mut st = self.c.prepare_cached(
            "SELECT id, origin, profile, authority, san_suffix, owner, environment FROM profile_rules
             ORDER BY origin = 'operator', id",
        )?;
        let rows = st.query_map([], |r| {
            let env: Option<String> = r.get(6)?;
            Ok(StoredRule {
                id: r.get(0)?,
                origin: r.get(1)?,
                rule: MatchRule {
                    profile: r.get(2)?,
                    authority: r.get(3)?,
                    san_suffix: r.get(4)?,
                    owner: r.get(5)?,
                    environment: env.and_then(|e| e.parse::<Environment>().ok()),
                },
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Certificates whose extension facts have not been extracted yet, with their DER.
    pub fn certificates_without_usage(&self) -> Result<Vec<(i64, Vec<u8>)>> {
        let mut st = self.c.prepare_cached(
            "SELECT c.id, c.der FROM certificates c
             WHERE NOT EXISTS (SELECT 1 FROM certificate_usage u WHERE u.certificate_id = c.id)",
        )?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    pub fn usage_map(&self) -> Result<HashMap<i64, Usage>> {
        self.usage_where("", None)
    }

    /// Extension facts of `ids` only.
    pub fn usage_for(&self, ids: &[i64]) -> Result<HashMap<i64, Usage>> {
        let list = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
        self.usage_where(
            "WHERE certificate_id IN (SELECT value FROM json_each(?1))",
            Some(list),
        )
    }

    fn usage_where(&self, clause: &str, arg: Option<String>) -> Result<HashMap<i64, Usage>> {
        let mut st = self.c.prepare_cached(&format!(
            "SELECT certificate_id, eku, key_usage FROM certificate_usage {clause}"
        ))?;
        let split = |s: String| -> Vec<String> {
            if s.is_empty() {
                Vec::new()
            } else {
                s.split(',').map(str::to_string).collect()
            }
        };
        let mut out = HashMap::new();
        let params: Vec<String> = arg.into_iter().collect();
        for r in st.query_map(rusqlite::params_from_iter(params.iter()), |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })? {
            let (id, eku, ku) = r?;
            out.insert(
                id,
                Usage {
                    eku: split(eku),
                    key_usage: split(ku),
                },
            );
        }
        Ok(out)
    }

    /// identity name → the profile it names (None when it names none).
    pub fn identity_profiles(&self) -> Result<HashMap<String, Option<String>>> {
        let mut st = self
            .c
            .prepare_cached("SELECT name, profile FROM identities")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<HashMap<_, _>>>()?)
    }

    pub fn exceptions(&self) -> Result<Vec<Exception>> {
        let mut st = self
            .c
            .prepare_cached(&format!("{EXCEPTION_SELECT} ORDER BY id"))?;
        let rows = st.query_map([], exception)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    pub fn exception(&self, id: i64) -> Result<Option<Exception>> {
        Ok(self
            .c
            .prepare_cached(&format!("{EXCEPTION_SELECT} WHERE id = ?1"))?
            .query_row([id], exception)
            .optional()?)
    }

    /// Unrevoked exceptions as the engine matches them (expiry is judged when read).
    pub fn exception_refs(&self) -> Result<Vec<ExceptionRef>> {
        Ok(self
            .exceptions()?
            .into_iter()
            .filter(|e| e.revoked_at.is_none())
            .map(|e| ExceptionRef {
                id: e.id,
                rule: e.rule,
                object_type: e.object_type.as_str().to_string(),
                object_id: e.object_id,
                until: e.expires_at,
                by: e.granted_by,
            })
            .collect())
    }
}
