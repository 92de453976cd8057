use super::db::{Read, Result, StoreError, Tx};
use crate::model::{CertRow, CertStatus, CertificateInfo, Environment};
use rusqlite::{params, OptionalExtension, Row};
use std::collections::HashMap;
use time::OffsetDateTime;

/// Where a certificate was seen on this import.
#[derive(Debug, Clone)]
pub struct NewSighting {
    /// `file`, `stdin`, `endpoint`, `issued`, `demo`.
    pub kind: String,
    pub location: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    New(i64),
    Existing(i64),
}

impl InsertOutcome {
    pub fn id(self) -> i64 {
        match self {
            InsertOutcome::New(id) | InsertOutcome::Existing(id) => id,
        }
    }
}

/// The issuer a certificate was linked to while it was stored (and the authority it
/// inherits from that issuer).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IssuerLink {
    pub issuer_id: Option<i64>,
    pub authority_id: Option<i64>,
}

/// A CA certificate of the inventory, as an import needs it to link what it stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerCandidate {
    pub id: i64,
    pub ski: Option<String>,
    pub subject: String,
    pub authority_id: Option<i64>,
    pub not_after: i64,
}

impl Tx<'_> {
    /// Stores a certificate once (deduplicated by SHA-256 fingerprint) and records where
    /// it was seen. Owner and environment are set only on a certificate that has none:
    /// changing an existing assignment is an explicit `assign`, not a side effect.
    #[allow(clippy::too_many_arguments)]
    pub fn insert_certificate(
        &self,
        info: &CertificateInfo,
        der: &[u8],
        source: &str,
        sighting: &NewSighting,
        owner_id: Option<i64>,
        environment: Option<Environment>,
        now: OffsetDateTime,
    ) -> Result<InsertOutcome> {
        self.insert_certificate_linked(
            info,
            der,
            IssuerLink::default(),
            source,
            sighting,
            owner_id,
            environment,
            &crate::clock::rfc3339(now),
        )
    }

    /// [`Tx::insert_certificate`] with the issuer already resolved (an import resolves
    /// it in memory, so the row is written once instead of written and then updated).
    #[allow(clippy::too_many_arguments)]
    pub fn insert_certificate_linked(
        &self,
        info: &CertificateInfo,
        der: &[u8],
        link: IssuerLink,
        source: &str,
        sighting: &NewSighting,
        owner_id: Option<i64>,
        environment: Option<Environment>,
        now: &str,
    ) -> Result<InsertOutcome> {
        let outcome =
            self.insert_certificate_unseen(info, der, link, source, owner_id, environment, now)?;
        match outcome {
            InsertOutcome::New(id) => self.record_new_sightings(&[id], sighting, now)?,
            InsertOutcome::Existing(id) => self.record_sighting(id, sighting, now)?,
        }
        Ok(outcome)
    }

    /// Records that certificates just stored (none seen anywhere yet) were seen at
    /// `sighting`, many to a statement.
    pub fn record_new_sightings(
        &self,
        ids: &[i64],
        sighting: &NewSighting,
        now: &str,
    ) -> Result<()> {
        self.insert_many(
            "INSERT INTO sightings (certificate_id, kind, location, first_seen, last_seen) VALUES",
            "(?, ?, ?, ?, ?)",
            5,
            256,
            ids,
            |st, offset, id| {
                st.raw_bind_parameter(offset + 1, *id)?;
                st.raw_bind_parameter(offset + 2, sighting.kind.as_str())?;
                st.raw_bind_parameter(offset + 3, sighting.location.as_str())?;
                st.raw_bind_parameter(offset + 4, now)?;
                st.raw_bind_parameter(offset + 5, now)
            },
        )
    }

    /// Records that a certificate already stored was seen (again) at `sighting`.
    pub fn record_sighting(&self, id: i64, sighting: &NewSighting, now: &str) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO sightings (certificate_id, kind, location, first_seen, last_seen)
                 VALUES (?1, ?2, ?3, ?4, ?4)
                 ON CONFLICT (certificate_id, kind, location) DO UPDATE SET last_seen = excluded.last_seen",
            )?
            .execute(params![id, sighting.kind, sighting.location, now])?;
        Ok(())
    }

    /// [`Tx::insert_certificate_linked`] without recording where the certificate was
    /// seen: the caller records it ([`Tx::record_new_sightings`] for new ones, many at a
    /// time; [`Tx::record_sighting`] for the others).
    #[allow(clippy::too_many_arguments)]
    pub fn insert_certificate_unseen(
        &self,
        info: &CertificateInfo,
        der: &[u8],
        link: IssuerLink,
        source: &str,
        owner_id: Option<i64>,
        environment: Option<Environment>,
        now: &str,
    ) -> Result<InsertOutcome> {
        let env = environment.map(|e| e.as_str());
        let sans_text = sans_text(info);
        // Insert first and look up only on conflict: in a large import almost every
        // certificate is new, so this saves an index probe per certificate.
        let inserted = self
            .tx
            .prepare_cached(
                "INSERT INTO certificates (fingerprint_sha256, der, serial, subject, subject_cn,
                     issuer, issuer_cn, sans, not_before, not_after, key_algorithm, key_bits,
                     key_curve, signature_algorithm, is_ca, self_signed, ski, aki, owner_id,
                     environment, status, source, first_seen, issuer_certificate_id, authority_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                     ?16, ?17, ?18, ?19, ?20, 'active', ?21, ?22, ?23, ?24)
                 ON CONFLICT (fingerprint_sha256) DO NOTHING",
            )?
            .execute(params![
                info.fingerprint_sha256,
                der,
                info.serial,
                info.subject,
                info.subject_cn,
                info.issuer,
                info.issuer_cn,
                sans_text,
                info.not_before.unix_timestamp(),
                info.not_after.unix_timestamp(),
                info.key_algorithm,
                info.key_bits,
                info.key_curve,
                info.signature_algorithm,
                info.is_ca,
                info.self_signed,
                info.ski,
                info.aki,
                owner_id,
                env,
                source,
                now,
                link.issuer_id,
                link.authority_id,
            ])?;
        let outcome = if inserted == 1 {
            let id = self.tx.last_insert_rowid();
            let mut st = self.tx.prepare_cached(
                "INSERT OR IGNORE INTO certificate_sans (certificate_id, kind, value) VALUES (?1, ?2, ?3)",
            )?;
            for san in &info.sans {
                st.execute(params![id, san.kind.as_str(), san.value])?;
            }
            InsertOutcome::New(id)
        } else {
            InsertOutcome::Existing(self.seen_again(
                &info.fingerprint_sha256,
                owner_id,
                environment,
            )?)
        };
        Ok(outcome)
    }

    /// The id of a certificate already stored, giving it `owner_id` and `environment`
    /// where it has none.
    fn seen_again(
        &self,
        fingerprint: &str,
        owner_id: Option<i64>,
        environment: Option<Environment>,
    ) -> Result<i64> {
        let id: i64 = self
            .tx
            .prepare_cached("SELECT id FROM certificates WHERE fingerprint_sha256 = ?1")?
            .query_row([fingerprint], |r| r.get(0))
            .optional()?
            .ok_or_else(|| {
                StoreError::Invalid(format!(
                    "certificate {fingerprint} could not be stored and is not in the inventory"
                ))
            })?;
        if owner_id.is_some() || environment.is_some() {
            self.tx
                .prepare_cached(
                    "UPDATE certificates SET owner_id = COALESCE(owner_id, ?2),
                         environment = COALESCE(environment, ?3)
                     WHERE id = ?1 AND (owner_id IS NULL OR environment IS NULL)",
                )?
                .execute(params![id, owner_id, environment.map(|e| e.as_str())])?;
        }
        Ok(id)
    }

    /// [`Tx::insert_certificate_unseen`] for many certificates at once (distinct
    /// fingerprints), many rows to a statement, their SANs too: the outcomes in the
    /// order given. For a bulk load with foreign keys off
    /// ([`super::Store::begin_bulk_load`]): then a statement of many rows needs no journal
    /// of its own, which is what makes it cheaper than a statement per row. (`OR
    /// IGNORE` skips a certificate already stored; one that could not be stored for
    /// another reason is found missing and reported.)
    pub fn insert_certificates_unseen(
        &self,
        certs: &[(&CertificateInfo, &[u8], IssuerLink)],
        source: &str,
        owner_id: Option<i64>,
        environment: Option<Environment>,
        now: &str,
    ) -> Result<Vec<InsertOutcome>> {
        let env = environment.map(|e| e.as_str());
        let mut ids: HashMap<&str, i64> = HashMap::with_capacity(certs.len());
        for part in certs.chunks(CERTIFICATES_PER_INSERT) {
            let tuple = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?, ?)";
            let sql = format!(
                "INSERT OR IGNORE INTO certificates (fingerprint_sha256, der, serial, subject,
                     subject_cn, issuer, issuer_cn, sans, not_before, not_after, key_algorithm,
                     key_bits, key_curve, signature_algorithm, is_ca, self_signed, ski, aki,
                     owner_id, environment, status, source, first_seen, issuer_certificate_id,
                     authority_id)
                 VALUES {} RETURNING id, fingerprint_sha256",
                vec![tuple; part.len()].join(", ")
            );
            let mut st = self.tx.prepare_cached(&sql)?;
            for (k, (info, der, link)) in part.iter().enumerate() {
                let o = k * 24;
                st.raw_bind_parameter(o + 1, info.fingerprint_sha256.as_str())?;
                st.raw_bind_parameter(o + 2, *der)?;
                st.raw_bind_parameter(o + 3, info.serial.as_str())?;
                st.raw_bind_parameter(o + 4, info.subject.as_str())?;
                st.raw_bind_parameter(o + 5, info.subject_cn.as_deref())?;
                st.raw_bind_parameter(o + 6, info.issuer.as_str())?;
                st.raw_bind_parameter(o + 7, info.issuer_cn.as_deref())?;
                st.raw_bind_parameter(o + 8, sans_text(info))?;
                st.raw_bind_parameter(o + 9, info.not_before.unix_timestamp())?;
                st.raw_bind_parameter(o + 10, info.not_after.unix_timestamp())?;
                st.raw_bind_parameter(o + 11, info.key_algorithm.as_str())?;
                st.raw_bind_parameter(o + 12, info.key_bits)?;
                st.raw_bind_parameter(o + 13, info.key_curve.as_deref())?;
                st.raw_bind_parameter(o + 14, info.signature_algorithm.as_str())?;
                st.raw_bind_parameter(o + 15, info.is_ca)?;
                st.raw_bind_parameter(o + 16, info.self_signed)?;
                st.raw_bind_parameter(o + 17, info.ski.as_deref())?;
                st.raw_bind_parameter(o + 18, info.aki.as_deref())?;
                st.raw_bind_parameter(o + 19, owner_id)?;
                st.raw_bind_parameter(o + 20, env)?;
                st.raw_bind_parameter(o + 21, source)?;
                st.raw_bind_parameter(o + 22, now)?;
                st.raw_bind_parameter(o + 23, link.issuer_id)?;
                st.raw_bind_parameter(o + 24, link.authority_id)?;
            }
            let mut rows = st.raw_query();
            while let Some(r) = rows.next()? {
                let id: i64 = r.get(0)?;
                let fp: String = r.get(1)?;
                if let Some((info, _, _)) = part.iter().find(|(i, _, _)| i.fingerprint_sha256 == fp)
                {
                    ids.insert(info.fingerprint_sha256.as_str(), id);
                }
            }
        }
        let mut sans: Vec<(i64, &'static str, &str)> = Vec::new();
        let mut out = Vec::with_capacity(certs.len());
        for (info, _, _) in certs {
            match ids.get(info.fingerprint_sha256.as_str()) {
                Some(id) => {
                    sans.extend(
                        info.sans
                            .iter()
                            .map(|s| (*id, s.kind.as_str(), s.value.as_str())),
                    );
                    out.push(InsertOutcome::New(*id));
                }
                None => out.push(InsertOutcome::Existing(self.seen_again(
                    &info.fingerprint_sha256,
                    owner_id,
                    environment,
                )?)),
            }
        }
        self.insert_many(
            "INSERT OR IGNORE INTO certificate_sans (certificate_id, kind, value) VALUES",
            "(?, ?, ?)",
            3,
            64,
            &sans,
            |st, offset, (id, kind, value)| {
                st.raw_bind_parameter(offset + 1, *id)?;
                st.raw_bind_parameter(offset + 2, *kind)?;
                st.raw_bind_parameter(offset + 3, *value)
            },
        )?;
        Ok(out)
    }

    /// Drops the indexes that are cheaper to build once over a large import than to keep
    /// up row by row (keyed by expiry: every certificate lands at a random place in
    /// them), returning their definitions for [`Tx::rebuild_indexes`]. Inside the
    /// import's transaction: if it fails, they were never dropped.
    pub fn defer_indexes_for_bulk_load(&self) -> Result<DeferredIndexes> {
        let mut deferred = Vec::new();
        for name in BULK_DEFERRED_INDEXES {
            let sql: Option<String> = self
                .tx
                .query_row(
                    "SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = ?1",
                    [name],
                    |r| r.get(0),
                )
                .optional()?
                .flatten();
            if let Some(sql) = sql {
                self.tx.execute_batch(&format!("DROP INDEX \"{name}\""))?;
                deferred.push(sql);
            }
        }
        Ok(DeferredIndexes(deferred))
    }

    /// Builds again, from their own definitions, the indexes
    /// [`Tx::defer_indexes_for_bulk_load`] dropped: the schema and the indexes' content
    /// end exactly as if they had been kept up all along.
    pub fn rebuild_indexes(&self, deferred: DeferredIndexes) -> Result<()> {
        for sql in deferred.0 {
            self.tx.execute_batch(&sql)?;
        }
        Ok(())
    }

    /// Gives SQLite more page cache for the rest of this connection's life (an import of
    /// a large bundle touches every page of the fingerprint and SAN indexes).
    pub fn widen_cache(&self, kib: i64) -> Result<()> {
        self.tx.pragma_update(None, "cache_size", -kib)?;
        Ok(())
    }

    /// Links every certificate whose issuer is now in the inventory: by AKI = SKI when
    /// both exist, else by issuer name = subject name. Then lets certificates inherit the
    /// authority of the CA that issued them. Returns how many links were made.
    pub fn link_issuers(&self) -> Result<usize> {
        // Only certificates still unlinked are visited (a partial index holds exactly
        // those), so this stays cheap however large the inventory is.
        let by_key = self.tx.execute(
            "UPDATE certificates SET issuer_certificate_id = (
                 SELECT ca.id FROM certificates ca
                 WHERE ca.is_ca = 1 AND ca.ski = certificates.aki AND ca.id <> certificates.id
                 ORDER BY ca.not_after DESC LIMIT 1)
             WHERE issuer_certificate_id IS NULL AND self_signed = 0 AND aki IS NOT NULL
               AND EXISTS (SELECT 1 FROM certificates ca
                           WHERE ca.is_ca = 1 AND ca.ski = certificates.aki AND ca.id <> certificates.id)",
            [],
        )?;
        let by_name = self.tx.execute(
            "UPDATE certificates SET issuer_certificate_id = (
                 SELECT ca.id FROM certificates ca
                 WHERE ca.is_ca = 1 AND ca.subject = certificates.issuer AND ca.id <> certificates.id
                 ORDER BY ca.not_after DESC LIMIT 1)
             WHERE issuer_certificate_id IS NULL AND self_signed = 0
               AND EXISTS (SELECT 1 FROM certificates ca
                           WHERE ca.is_ca = 1 AND ca.subject = certificates.issuer AND ca.id <> certificates.id)",
            [],
        )?;
        if by_key + by_name > 0 {
            self.inherit_authorities()?;
        }
        Ok(by_key + by_name)
    }

    /// A certificate issued by a CA that belongs to an authority belongs to it too
    /// ("issued by CA X"), down the chain (bounded depth: real chains are short).
    pub fn inherit_authorities(&self) -> Result<usize> {
        let mut total = 0;
        for _ in 0..8 {
            let n = self.tx.execute(
                "UPDATE certificates SET authority_id = (
                     SELECT ca.authority_id FROM certificates ca WHERE ca.id = certificates.issuer_certificate_id)
                 WHERE authority_id IS NULL AND issuer_certificate_id IS NOT NULL
                   AND (SELECT ca.authority_id FROM certificates ca
                        WHERE ca.id = certificates.issuer_certificate_id) IS NOT NULL",
                [],
            )?;
            total += n;
            if n == 0 {
                break;
            }
        }
        Ok(total)
    }

    pub fn set_certificate_owner(&self, id: i64, owner_id: Option<i64>) -> Result<usize> {
        Ok(self.tx.execute(
            "UPDATE certificates SET owner_id = ?2 WHERE id = ?1",
            params![id, owner_id],
        )?)
    }

    pub fn set_certificate_environment(&self, id: i64, env: Option<Environment>) -> Result<usize> {
        Ok(self.tx.execute(
            "UPDATE certificates SET environment = ?2 WHERE id = ?1",
            params![id, env.map(|e| e.as_str())],
        )?)
    }

    pub fn set_certificate_authority(&self, id: i64, authority_id: Option<i64>) -> Result<usize> {
        Ok(self
            .tx
            .prepare_cached("UPDATE certificates SET authority_id = ?2 WHERE id = ?1")?
            .execute(params![id, authority_id])?)
    }

    pub fn set_certificate_identity(&self, id: i64, identity_id: Option<i64>) -> Result<usize> {
        Ok(self
            .tx
            .prepare_cached("UPDATE certificates SET identity_id = ?2 WHERE id = ?1")?
            .execute(params![id, identity_id])?)
    }

    pub fn set_certificate_status(&self, id: i64, status: CertStatus) -> Result<usize> {
        Ok(self
            .tx
            .prepare_cached("UPDATE certificates SET status = ?2 WHERE id = ?1")?
            .execute(params![id, status.as_str()])?)
    }
}

/// A certificate's SANs as the `sans` column keeps them (newline-joined, for display and
/// free text; `certificate_sans` indexes them one by one).
fn sans_text(info: &CertificateInfo) -> String {
    info.sans
        .iter()
        .map(|s| s.value.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Certificates per statement in [`Tx::insert_certificates_unseen`] (24 parameters
/// each: 1,536 in all, well under SQLite's limit of 32,766).
const CERTIFICATES_PER_INSERT: usize = 64;

/// Indexes a bulk load builds at its end (see [`Tx::defer_indexes_for_bulk_load`]).
const BULK_DEFERRED_INDEXES: &[&str] =
    &["certificates_expiry_owner", "certificates_expiry_authority"];

/// Index definitions dropped for a bulk load, to be rebuilt before it commits.
#[must_use = "deferred indexes must be rebuilt before the transaction commits"]
#[derive(Debug)]
pub struct DeferredIndexes(Vec<String>);

/// A coarse, indexed pre-selection for loading rows; the exact filtering is done by
/// [`crate::query::Filter`] so the CLI and the console mean the same thing by a query.
#[derive(Debug, Default, Clone, Copy)]
pub struct RowSelect {
    /// Only certificates with not_after strictly before this (unix seconds).
    pub not_after_before: Option<i64>,
    /// Only certificates with not_after strictly after this (unix seconds).
    pub not_after_after: Option<i64>,
}

pub(super) const ROW_SELECT: &str =
    "SELECT c.id, c.fingerprint_sha256, c.serial, c.subject, c.subject_cn,
        c.issuer, c.issuer_cn, c.sans, c.not_before, c.not_after, c.key_algorithm, c.key_bits,
        c.signature_algorithm, c.is_ca, o.name, a.name, c.environment, i.name, c.status,
        cp.profile
    FROM certificates c
    LEFT JOIN owners o ON o.id = c.owner_id
    LEFT JOIN authorities a ON a.id = c.authority_id
    LEFT JOIN identities i ON i.id = c.identity_id
    LEFT JOIN certificate_profiles cp ON cp.certificate_id = c.id";

pub(super) fn cert_row(r: &Row<'_>) -> rusqlite::Result<CertRow> {
    let sans: String = r.get(7)?;
    let env: Option<String> = r.get(16)?;
    let status: String = r.get(18)?;
    Ok(CertRow {
        id: r.get(0)?,
        fingerprint_sha256: r.get(1)?,
        serial: r.get(2)?,
        subject: r.get(3)?,
        subject_cn: r.get(4)?,
        issuer: r.get(5)?,
        issuer_cn: r.get(6)?,
        sans: if sans.is_empty() {
            Vec::new()
        } else {
            sans.split('\n').map(str::to_string).collect()
        },
        not_before: ts(r.get(8)?),
        not_after: ts(r.get(9)?),
        key_algorithm: r.get(10)?,
        key_bits: r.get(11)?,
        signature_algorithm: r.get(12)?,
        is_ca: r.get(13)?,
        owner: r.get(14)?,
        authority: r.get(15)?,
        environment: env.and_then(|e| e.parse().ok()),
        identity: r.get(17)?,
        status: status.parse().unwrap_or(CertStatus::Active),
        profile: r.get(19)?,
        findings: Vec::new(),
    })
}

/// The row [`Read::certificate_rows`] reads back for a certificate just stored by
/// [`Tx::insert_certificate_linked`] as new (no identity, status active, no stored
/// profile or findings yet), with the names its owner and authority ids stand for: an
/// import judges what it stored without reading it back.
pub fn row_as_stored(
    id: i64,
    info: CertificateInfo,
    owner: Option<String>,
    authority: Option<String>,
    environment: Option<Environment>,
) -> CertRow {
    // SANs are kept newline-joined: read back, they are split the same way (which
    // changes nothing unless a value holds a newline, or the only one is empty).
    let sans = if info.sans.iter().any(|s| s.value.contains('\n')) {
        let joined = info
            .sans
            .iter()
            .map(|s| s.value.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        joined.split('\n').map(str::to_string).collect()
    } else if info.sans.len() == 1 && info.sans[0].value.is_empty() {
        Vec::new()
    } else {
        info.sans.into_iter().map(|s| s.value).collect()
    };
    CertRow {
        id,
        fingerprint_sha256: info.fingerprint_sha256,
        serial: info.serial,
        subject: info.subject,
        subject_cn: info.subject_cn,
        issuer: info.issuer,
        issuer_cn: info.issuer_cn,
        sans,
        not_before: ts(info.not_before.unix_timestamp()),
        not_after: ts(info.not_after.unix_timestamp()),
        key_algorithm: info.key_algorithm,
        key_bits: info.key_bits,
        signature_algorithm: info.signature_algorithm,
        is_ca: info.is_ca,
        owner,
        authority,
        environment,
        identity: None,
        status: CertStatus::Active,
        profile: None,
        findings: Vec::new(),
    }
}

fn ts(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Where a certificate was seen.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sighting {
    pub kind: String,
    pub location: String,
    pub first_seen: String,
    pub last_seen: String,
}

impl Read<'_> {
    /// Ids of the certificates that name `value` (exactly, any kind) among their SANs.
    pub fn certificates_with_san(&self, value: &str) -> Result<Vec<i64>> {
        let mut st = self.c.prepare_cached(
            "SELECT DISTINCT certificate_id FROM certificate_sans WHERE value = ?1 ORDER BY 1",
        )?;
        let ids = st.query_map([value], |r| r.get(0))?;
        Ok(ids.collect::<rusqlite::Result<Vec<i64>>>()?)
    }

    /// Every CA certificate (a small set even in a large inventory).
    pub fn issuer_candidates(&self) -> Result<Vec<IssuerCandidate>> {
        let mut st = self.c.prepare_cached(
            "SELECT id, ski, subject, authority_id, not_after FROM certificates WHERE is_ca = 1",
        )?;
        let rows = st.query_map([], |r| {
            Ok(IssuerCandidate {
                id: r.get(0)?,
                ski: r.get(1)?,
                subject: r.get(2)?,
                authority_id: r.get(3)?,
                not_after: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    pub fn certificate_rows(&self, sel: RowSelect) -> Result<Vec<CertRow>> {
        let mut out = self.certificate_rows_without_findings(sel)?;
        self.attach_findings(&mut out)?;
        Ok(out)
    }

    /// [`Read::certificate_rows`] with `findings` left empty: a caller that filters
    /// first attaches findings ([`Read::attach_findings`]) to the rows it keeps.
    pub fn certificate_rows_without_findings(&self, sel: RowSelect) -> Result<Vec<CertRow>> {
        let rows = if sel.not_after_after.is_none() && sel.not_after_before.is_none() {
            let mut st = self
                .c
                .prepare_cached(&format!("{ROW_SELECT} ORDER BY c.id"))?;
            let rows = st.query_map([], cert_row)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        } else {
            // A range of the not_after index (the list's --expiring and --expired).
            let mut st = self.c.prepare_cached(&format!(
                "{ROW_SELECT} WHERE c.not_after > ?1 AND c.not_after < ?2 ORDER BY c.id"
            ))?;
            let lo = sel.not_after_after.unwrap_or(i64::MIN);
            let hi = sel.not_after_before.unwrap_or(i64::MAX);
            let rows = st.query_map(params![lo, hi], cert_row)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        };
        Ok(rows?)
    }

    pub fn certificate_row(&self, id: i64) -> Result<Option<CertRow>> {
        let row = self
            .c
            .prepare_cached(&format!("{ROW_SELECT} WHERE c.id = ?1"))?
            .query_row([id], cert_row)
            .optional()?;
        Ok(match row {
            Some(r) => {
                let mut one = [r];
                self.attach_findings(&mut one)?;
                let [r] = one;
                Some(r)
            }
            None => None,
        })
    }

    /// Certificates whose fingerprint starts with `prefix` (lowercase hex, colons removed).
    pub fn certificates_by_fingerprint_prefix(&self, prefix: &str) -> Result<Vec<i64>> {
        let upper = format!("{prefix}\u{10ffff}");
        let mut st = self.c.prepare_cached(
            "SELECT id FROM certificates WHERE fingerprint_sha256 >= ?1 AND fingerprint_sha256 < ?2 LIMIT 10",
        )?;
        let ids = st.query_map(params![prefix, upper], |r| r.get(0))?;
        Ok(ids.collect::<rusqlite::Result<Vec<i64>>>()?)
    }

    pub fn certificate_der(&self, id: i64) -> Result<Option<Vec<u8>>> {
        Ok(self
            .c
            .prepare_cached("SELECT der FROM certificates WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?)
    }

    pub fn sightings(&self, id: i64) -> Result<Vec<Sighting>> {
        let mut st = self.c.prepare_cached(
            "SELECT kind, location, first_seen, last_seen FROM sightings WHERE certificate_id = ?1 ORDER BY first_seen, location",
        )?;
        let rows = st.query_map([id], |r| {
            Ok(Sighting {
                kind: r.get(0)?,
                location: r.get(1)?,
                first_seen: r.get(2)?,
                last_seen: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The chain above a certificate, nearest issuer first, as far as the inventory knows
    /// it (stops at a self-signed root, an unknown issuer, or a loop).
    pub fn chain(&self, id: i64) -> Result<Vec<CertRow>> {
        let mut out: Vec<CertRow> = Vec::new();
        let mut next: Option<i64> = self
            .c
            .prepare_cached("SELECT issuer_certificate_id FROM certificates WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?
            .flatten();
        while let Some(cur) = next {
            if cur == id || out.iter().any(|r| r.id == cur) || out.len() > 16 {
                break;
            }
            let Some(row) = self.certificate_row(cur)? else {
                break;
            };
            out.push(row);
            next = self
                .c
                .prepare_cached("SELECT issuer_certificate_id FROM certificates WHERE id = ?1")?
                .query_row([cur], |r| r.get(0))
                .optional()?
                .flatten();
        }
        Ok(out)
    }

    /// The highest certificate id (0 for an empty inventory): certificates stored after
    /// this call get greater ids.
    pub fn max_certificate_id(&self) -> Result<i64> {
        Ok(self
            .c
            .query_row("SELECT COALESCE(MAX(id), 0) FROM certificates", [], |r| {
                r.get(0)
            })?)
    }

    /// Authority names of the certificates with an id above `id` that have one.
    pub fn authorities_above(&self, id: i64) -> Result<Vec<(i64, String)>> {
        let mut st = self.c.prepare_cached(
            "SELECT c.id, a.name FROM certificates c JOIN authorities a ON a.id = c.authority_id
             WHERE c.id > ?1",
        )?;
        let rows = st.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    pub fn certificate_count(&self) -> Result<i64> {
        Ok(self
            .c
            .query_row("SELECT COUNT(*) FROM certificates", [], |r| r.get(0))?)
    }

    /// Ids of every certificate issued (directly or down the chain) by `ca_id`.
    pub fn issued_by(&self, ca_id: i64) -> Result<Vec<i64>> {
        let mut st = self.c.prepare_cached(
            "WITH RECURSIVE below(id, depth) AS (
                 SELECT id, 1 FROM certificates WHERE issuer_certificate_id = ?1 AND id <> ?1
                 UNION SELECT c.id, below.depth + 1 FROM certificates c JOIN below ON c.issuer_certificate_id = below.id
                 WHERE below.depth < 8)
             SELECT DISTINCT id FROM below",
        )?;
        let ids = st.query_map([ca_id], |r| r.get(0))?;
        Ok(ids.collect::<rusqlite::Result<Vec<i64>>>()?)
    }
}
