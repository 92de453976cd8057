//! Operators, role grants, the RACI matrix and service accounts.

use super::db::{Read, Result, StoreError, Tx};
use crate::access::service_account::ServiceAccount;
use crate::access::{Activity, Grant, Letters, Matrix, Role, Scope};
use crate::clock::rfc3339;
use crate::model::Environment;
use rusqlite::{params, OptionalExtension, Row};
use time::OffsetDateTime;

pub(crate) fn parse_time(s: &str) -> rusqlite::Result<OffsetDateTime> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

pub(crate) fn parse_opt_time(s: Option<String>) -> rusqlite::Result<Option<OffsetDateTime>> {
    s.as_deref().map(parse_time).transpose()
}

fn conversion(e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct TextError(String);

fn scope_text(scope: &Scope) -> String {
    if scope.is_unrestricted() {
        "{}".into()
    } else {
        serde_json::to_string(scope).unwrap_or_else(|_| "{}".into())
    }
}

/// One operator as listed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Operator {
    pub name: String,
    pub uid: Option<u32>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: String,
    pub grants: Vec<Grant>,
}

const GRANT_COLS: &str = "id, operator, role, scope, granted_by, granted_at, request_id";

fn grant_row(r: &Row<'_>) -> rusqlite::Result<Grant> {
    let role: String = r.get(2)?;
    let scope: String = r.get(3)?;
    Ok(Grant {
        id: r.get(0)?,
        operator: r.get(1)?,
        role: role.parse().map_err(|e| conversion(TextError(e)))?,
        scope: serde_json::from_str(&scope).map_err(conversion)?,
        granted_by: r.get(4)?,
        granted_at: parse_time(&r.get::<_, String>(5)?)?,
        request_id: r.get(6)?,
    })
}

impl Tx<'_> {
    /// Records an operator the first time they are named (by a grant or `init`).
    pub fn ensure_operator(
        &self,
        name: &str,
        uid: Option<u32>,
        by: &str,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.tx.execute(
            "INSERT INTO operators (name, uid, created_at, created_by) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name) DO UPDATE SET uid = COALESCE(operators.uid, excluded.uid)",
            params![name, uid, rfc3339(now), by],
        )?;
        Ok(())
    }

    /// Adds a grant; `None` when the operator already holds that exact role and scope.
    pub fn insert_grant(
        &self,
        operator: &str,
        role: Role,
        scope: &Scope,
        by: &str,
        now: OffsetDateTime,
        request_id: Option<i64>,
    ) -> Result<Option<i64>> {
        let n = self.tx.execute(
            "INSERT INTO role_grants (operator, role, scope, granted_by, granted_at, request_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
            params![
                operator,
                role.as_str(),
                scope_text(scope),
                by,
                rfc3339(now),
                request_id
            ],
        )?;
        Ok((n == 1).then(|| self.tx.last_insert_rowid()))
    }

    /// Removes grants of `role` from `operator`: the one with exactly `scope`, or all of
    /// that role when `scope` is `None`. Returns the removed grants.
    pub fn delete_grants(
        &self,
        operator: &str,
        role: Role,
        scope: Option<&Scope>,
    ) -> Result<Vec<Grant>> {
        let all = self.read().grants_of(operator)?;
        let gone: Vec<Grant> = all
            .into_iter()
            .filter(|g| g.role == role && scope.is_none_or(|s| *s == g.scope))
            .collect();
        for g in &gone {
            self.tx
                .execute("DELETE FROM role_grants WHERE id = ?1", [g.id])?;
        }
        Ok(gone)
    }

    pub fn set_raci(&self, activity: Activity, role: Role, letters: Letters) -> Result<()> {
        self.tx.execute(
            "INSERT INTO raci (activity, role, letters) VALUES (?1, ?2, ?3)
             ON CONFLICT (activity, role) DO UPDATE SET letters = excluded.letters",
            params![activity.as_str(), role.as_str(), letters.to_string()],
        )?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub fn insert_service_account(
        &self,
        name: &str,
        environment: Environment,
        owner_id: Option<i64>,
        os_user: Option<&str>,
        profiles: &[String],
        dns_suffixes: &[String],
        credential_ref: &str,
        rotate_by: Option<OffsetDateTime>,
        retire_at: Option<OffsetDateTime>,
        by: &str,
        now: OffsetDateTime,
    ) -> Result<i64> {
        self.tx.execute(
            "INSERT INTO service_accounts (name, environment, owner_id, os_user, profiles,
                 dns_suffixes, credential_ref, created_at, created_by, rotate_by, retire_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                name,
                environment.as_str(),
                owner_id,
                os_user,
                serde_json::to_string(profiles).unwrap_or_else(|_| "[]".into()),
                serde_json::to_string(dns_suffixes).unwrap_or_else(|_| "[]".into()),
                credential_ref,
                rfc3339(now),
                by,
                rotate_by.map(rfc3339),
                retire_at.map(rfc3339),
            ],
        )?;
        Ok(self.tx.last_insert_rowid())
    }

    /// A rotation: new reference (or the same one, rotated in place), new rotate-by date.
    pub fn rotate_service_account(
        &self,
        name: &str,
        credential_ref: &str,
        rotate_by: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.tx.execute(
            "UPDATE service_accounts SET credential_ref = ?2, rotate_by = ?3, rotated_at = ?4
             WHERE name = ?1",
            params![name, credential_ref, rotate_by.map(rfc3339), rfc3339(now)],
        )?;
        Ok(())
    }

    pub fn retire_service_account(&self, name: &str, at: OffsetDateTime) -> Result<()> {
        self.tx.execute(
            "UPDATE service_accounts SET retired_at = ?2 WHERE name = ?1 AND retired_at IS NULL",
            params![name, rfc3339(at)],
        )?;
        Ok(())
    }

    /// Records that the account acted (or tried to), for the "unused" and "retired but
    /// used" findings.
    pub fn touch_service_account(&self, name: &str, now: OffsetDateTime) -> Result<()> {
        self.tx.execute(
            "UPDATE service_accounts SET last_used = ?2 WHERE name = ?1",
            params![name, rfc3339(now)],
        )?;
        Ok(())
    }
}

const SA_COLS: &str = "s.id, s.name, s.environment, o.name, s.os_user, s.profiles, s.dns_suffixes,
    s.credential_ref, s.created_at, s.created_by, s.rotated_at, s.rotate_by, s.retire_at,
    s.retired_at, s.last_used";

fn sa_row(r: &Row<'_>) -> rusqlite::Result<ServiceAccount> {
    let env: String = r.get(2)?;
    let profiles: String = r.get(5)?;
    let dns: String = r.get(6)?;
    Ok(ServiceAccount {
        id: r.get(0)?,
        name: r.get(1)?,
        environment: env.parse().map_err(|e| conversion(TextError(e)))?,
        owner: r.get(3)?,
        os_user: r.get(4)?,
        profiles: serde_json::from_str(&profiles).map_err(conversion)?,
        dns_suffixes: serde_json::from_str(&dns).map_err(conversion)?,
        credential_ref: r.get(7)?,
        created_at: parse_time(&r.get::<_, String>(8)?)?,
        created_by: r.get(9)?,
        rotated_at: parse_opt_time(r.get(10)?)?,
        rotate_by: parse_opt_time(r.get(11)?)?,
        retire_at: parse_opt_time(r.get(12)?)?,
        retired_at: parse_opt_time(r.get(13)?)?,
        last_used: parse_opt_time(r.get(14)?)?,
    })
}

impl Read<'_> {
    /// Whether `certdeck init` has run: some operator holds a role.
    pub fn access_initialized(&self) -> Result<bool> {
        Ok(self
            .c
            .query_row("SELECT EXISTS(SELECT 1 FROM role_grants)", [], |r| r.get(0))?)
    }

    pub fn grants_of(&self, operator: &str) -> Result<Vec<Grant>> {
        let mut st = self.c.prepare_cached(&format!(
            "SELECT {GRANT_COLS} FROM role_grants WHERE operator = ?1 ORDER BY role, id"
        ))?;
        let rows = st.query_map([operator], grant_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    pub fn grants(&self) -> Result<Vec<Grant>> {
        let mut st = self.c.prepare_cached(&format!(
            "SELECT {GRANT_COLS} FROM role_grants ORDER BY operator, role, id"
        ))?;
        let rows = st.query_map([], grant_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Every known operator with their grants, by name.
    pub fn operators(&self) -> Result<Vec<Operator>> {
        let mut st = self
            .c
            .prepare("SELECT name, uid, created_at, created_by FROM operators ORDER BY name")?;
        let rows = st.query_map([], |r| {
            Ok(Operator {
                name: r.get(0)?,
                uid: r.get(1)?,
                created_at: parse_time(&r.get::<_, String>(2)?)?,
                created_by: r.get(3)?,
                grants: Vec::new(),
            })
        })?;
        let mut ops = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        let grants = self.grants()?;
        for o in &mut ops {
            o.grants = grants
                .iter()
                .filter(|g| g.operator == o.name)
                .cloned()
                .collect();
        }
        Ok(ops)
    }

    pub fn raci_matrix(&self) -> Result<Matrix> {
        let mut st = self
            .c
            .prepare_cached("SELECT activity, role, letters FROM raci")?;
        let mut rows = st.query([])?;
        let mut m = Matrix::default();
        while let Some(r) = rows.next()? {
            let a: String = r.get(0)?;
            let role: String = r.get(1)?;
            let l: String = r.get(2)?;
            // Rows this build does not know (a newer activity) are ignored, not fatal.
            if let (Ok(a), Ok(role), Ok(l)) = (
                a.parse::<Activity>(),
                role.parse::<Role>(),
                l.parse::<Letters>(),
            ) {
                m.cells.insert((a, role), l);
            }
        }
        Ok(m)
    }

    pub fn service_account(&self, name: &str) -> Result<Option<ServiceAccount>> {
        Ok(self
            .c
            .prepare_cached(&format!(
                "SELECT {SA_COLS} FROM service_accounts s LEFT JOIN owners o ON o.id = s.owner_id
                 WHERE s.name = ?1"
            ))?
            .query_row([name], sa_row)
            .optional()?)
    }

    pub fn service_account_by_os_user(&self, os_user: &str) -> Result<Option<ServiceAccount>> {
        Ok(self
            .c
            .prepare_cached(&format!(
                "SELECT {SA_COLS} FROM service_accounts s LEFT JOIN owners o ON o.id = s.owner_id
                 WHERE s.os_user = ?1"
            ))?
            .query_row([os_user], sa_row)
            .optional()?)
    }

    pub fn service_accounts(&self) -> Result<Vec<ServiceAccount>> {
        let mut st = self.c.prepare(&format!(
            "SELECT {SA_COLS} FROM service_accounts s LEFT JOIN owners o ON o.id = s.owner_id
             ORDER BY s.name"
        ))?;
        let rows = st.query_map([], sa_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}

impl From<crate::access::credential::CredentialError> for StoreError {
    fn from(e: crate::access::credential::CredentialError) -> Self {
        StoreError::Invalid(e.to_string())
    }
}
