//! CA connectors behind one trait: the local private CA (rcgen), ACME (instant-acme) and
//! Vault PKI (reqwest). A connector turns a CSR into a certificate chain, and revokes;
//! every failure comes back as a [`Diagnosis`] so the engine can back off, trip the
//! authority's circuit, or tell a person what to fix.

pub mod acme;
pub mod local;
pub mod vault;

use crate::lifecycle::{Diagnosis, PrivateKey};
use crate::model::{Authority, AuthorityKind};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use time::{Duration, OffsetDateTime};

/// What the engine asks a CA for.
pub struct OrderRequest<'a> {
    pub identity: &'a str,
    pub sans: &'a [String],
    pub key: &'a PrivateKey,
    pub csr_der: &'a [u8],
    /// Requested lifetime, for CAs that let the requester choose.
    pub validity: Option<Duration>,
    pub now: OffsetDateTime,
    /// The CA's handle on an order placed by an earlier, interrupted run of the same job:
    /// the connector resumes that order instead of placing a new one.
    pub order_ref: Option<&'a str>,
}

/// A certificate chain, leaf first, as DER.
#[derive(Debug, Clone)]
pub struct Issued {
    pub chain: Vec<Vec<u8>>,
    /// The private key, only from a CA that generates keys itself (Vault `issue`);
    /// wiped when dropped, written only to the job's staged key file.
    pub key_pem: Option<zeroize::Zeroizing<String>>,
}

/// A certificate revoked earlier, for CAs that publish a CRL.
#[derive(Debug, Clone)]
pub struct RevokedEntry {
    /// Hex of the serial's content bytes, as the inventory keeps it.
    pub serial: String,
    pub revoked_at: OffsetDateTime,
    pub reason: String,
}

pub struct Revocation<'a> {
    pub leaf_der: &'a [u8],
    pub reason: &'a str,
    pub now: OffsetDateTime,
    /// Every revocation of this authority including this one (for the CRL).
    pub all_revoked: &'a [RevokedEntry],
}

pub trait Connector {
    /// Obtains a certificate for `req`. A connector that places an order with a remote CA
    /// calls `record_order` with the order's handle before waiting on it, so a crash after
    /// that point resumes the order rather than placing another.
    fn issue(
        &self,
        req: &OrderRequest<'_>,
        record_order: &mut dyn FnMut(&str) -> Result<(), Diagnosis>,
    ) -> Result<Issued, Diagnosis>;

    fn revoke(&self, r: &Revocation<'_>) -> Result<(), Diagnosis>;

    /// `Some` when issuing is local computation (nothing remote, no order to record): the
    /// engine then asks for a whole round of certificates at once.
    fn batch(&self) -> Option<&dyn BatchIssuer> {
        None
    }
}

/// A connector that can issue many certificates in one call (signing them in parallel).
/// Only for CAs with no order to record: a crash mid-call leaves every job in `ordering`
/// with no certificate, and the retry simply signs again.
pub trait BatchIssuer: Sync {
    /// One result per request, in order.
    fn issue_many(&self, reqs: &[OrderRequest<'_>]) -> Vec<Result<Issued, Diagnosis>>;
}

/// Where the engine gets a connector for an authority. Tests substitute their own.
pub trait Connectors {
    fn connector(&self, authority: &Authority) -> Result<Rc<dyn Connector>, Diagnosis>;
}

/// The connectors certdeck ships, built once per authority per process.
#[derive(Default)]
pub struct Standard {
    cache: RefCell<HashMap<String, Rc<dyn Connector>>>,
}

impl Connectors for Standard {
    fn connector(&self, authority: &Authority) -> Result<Rc<dyn Connector>, Diagnosis> {
        if let Some(c) = self.cache.borrow().get(&authority.name) {
            return Ok(c.clone());
        }
        let c: Rc<dyn Connector> = match authority.kind {
            AuthorityKind::Local => Rc::new(local::LocalCa::open(authority)?),
            AuthorityKind::Acme => Rc::new(acme::AcmeCa::open(authority)?),
            AuthorityKind::Vault => Rc::new(vault::VaultCa::open(authority)?),
            other => {
                return Err(Diagnosis::new(
                    crate::lifecycle::Category::CaUnavailable,
                    format!(
                        "authority {}: certdeck has no {} connector in this build",
                        authority.name,
                        other.as_str()
                    ),
                ))
            }
        };
        self.cache
            .borrow_mut()
            .insert(authority.name.clone(), c.clone());
        Ok(c)
    }
}

/// A string setting of an authority.
pub fn setting<'a>(a: &'a Authority, key: &str) -> Option<&'a str> {
    a.settings.get(key).and_then(|v| v.as_str())
}
