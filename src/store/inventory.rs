//! Owners, authorities and identities: the names the inventory is organised by.

use super::db::{Read, Result, Tx};
use crate::model::{Authority, AuthorityKind, Environment, Identity, Owner};
use rusqlite::{params, OptionalExtension};
use time::OffsetDateTime;

impl Tx<'_> {
    pub fn insert_owner(
        &self,
        name: &str,
        contact: Option<&str>,
        business_unit: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<i64> {
        self.tx
            .prepare_cached(
                "INSERT INTO owners (name, contact, business_unit, created_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![name, contact, business_unit, crate::clock::rfc3339(now)])?;
        Ok(self.tx.last_insert_rowid())
    }

    pub fn update_owner(
        &self,
        id: i64,
        contact: Option<&str>,
        business_unit: Option<&str>,
    ) -> Result<()> {
        self.tx.execute(
            "UPDATE owners SET contact = COALESCE(?2, contact), business_unit = COALESCE(?3, business_unit) WHERE id = ?1",
            params![id, contact, business_unit],
        )?;
        Ok(())
    }

    pub fn insert_authority(
        &self,
        name: &str,
        kind: AuthorityKind,
        environment: Option<Environment>,
        settings: &serde_json::Value,
        credential_ref: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<i64> {
        self.tx
            .prepare_cached(
                "INSERT INTO authorities (name, kind, environment, settings, credential_ref, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                name,
                kind.as_str(),
                environment.map(|e| e.as_str()),
                settings.to_string(),
                credential_ref,
                crate::clock::rfc3339(now)
            ])?;
        Ok(self.tx.last_insert_rowid())
    }

    #[allow(clippy::too_many_arguments)]
    pub fn insert_identity(
        &self,
        name: &str,
        owner_id: Option<i64>,
        profile: Option<&str>,
        authority_id: Option<i64>,
        environment: Option<Environment>,
        sans: &[String],
        key_type: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<i64> {
        self.tx
            .prepare_cached(
                "INSERT INTO identities (name, owner_id, profile, authority_id, environment, sans, key_type, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                name,
                owner_id,
                profile,
                authority_id,
                environment.map(|e| e.as_str()),
                serde_json::to_string(sans).unwrap_or_else(|_| "[]".into()),
                key_type,
                crate::clock::rfc3339(now)
            ])?;
        Ok(self.tx.last_insert_rowid())
    }

    pub fn set_identity_current_certificate(
        &self,
        identity_id: i64,
        cert_id: Option<i64>,
    ) -> Result<()> {
        self.tx
            .prepare_cached("UPDATE identities SET current_certificate_id = ?2 WHERE id = ?1")?
            .execute(params![identity_id, cert_id])?;
        Ok(())
    }
}

impl Read<'_> {
    pub fn owner_by_name(&self, name: &str) -> Result<Option<Owner>> {
        Ok(self
            .c
            .prepare_cached("SELECT id, name, contact, business_unit FROM owners WHERE name = ?1")?
            .query_row([name], |r| {
                Ok(Owner {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    contact: r.get(2)?,
                    business_unit: r.get(3)?,
                })
            })
            .optional()?)
    }

    pub fn owners(&self) -> Result<Vec<Owner>> {
        let mut st = self
            .c
            .prepare_cached("SELECT id, name, contact, business_unit FROM owners ORDER BY name")?;
        let rows = st.query_map([], |r| {
            Ok(Owner {
                id: r.get(0)?,
                name: r.get(1)?,
                contact: r.get(2)?,
                business_unit: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    pub fn authority_by_name(&self, name: &str) -> Result<Option<Authority>> {
        Ok(self
            .authorities_where("WHERE name = ?1", &[name])?
            .into_iter()
            .next())
    }

    pub fn authorities(&self) -> Result<Vec<Authority>> {
        self.authorities_where("", &[])
    }

    fn authorities_where(&self, clause: &str, args: &[&str]) -> Result<Vec<Authority>> {
        let mut st = self.c.prepare_cached(&format!(
            "SELECT id, name, kind, environment, settings, credential_ref FROM authorities {clause} ORDER BY name"
        ))?;
        let rows = st.query_map(rusqlite::params_from_iter(args.iter()), |r| {
            let kind: String = r.get(2)?;
            let env: Option<String> = r.get(3)?;
            let settings: String = r.get(4)?;
            Ok(Authority {
                id: r.get(0)?,
                name: r.get(1)?,
                kind: kind.parse().unwrap_or(AuthorityKind::External),
                environment: env.and_then(|e| e.parse().ok()),
                settings: serde_json::from_str(&settings).unwrap_or(serde_json::Value::Null),
                credential_ref: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    pub fn identity_by_name(&self, name: &str) -> Result<Option<Identity>> {
        Ok(self
            .identities_where("WHERE i.name = ?1", &[name])?
            .into_iter()
            .next())
    }

    pub fn identities(&self) -> Result<Vec<Identity>> {
        self.identities_where("", &[])
    }

    fn identities_where(&self, clause: &str, args: &[&str]) -> Result<Vec<Identity>> {
        let mut st = self.c.prepare_cached(&format!(
            "SELECT i.id, i.name, o.name, i.profile, a.name, i.environment, i.sans, i.key_type,
                    i.current_certificate_id
             FROM identities i LEFT JOIN owners o ON o.id = i.owner_id
             LEFT JOIN authorities a ON a.id = i.authority_id {clause} ORDER BY i.name"
        ))?;
        let rows = st.query_map(rusqlite::params_from_iter(args.iter()), |r| {
            let env: Option<String> = r.get(5)?;
            let sans: String = r.get(6)?;
            Ok(Identity {
                id: r.get(0)?,
                name: r.get(1)?,
                owner: r.get(2)?,
                profile: r.get(3)?,
                authority: r.get(4)?,
                environment: env.and_then(|e| e.parse().ok()),
                sans: serde_json::from_str(&sans).unwrap_or_default(),
                key_type: r.get(7)?,
                current_certificate_id: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}
