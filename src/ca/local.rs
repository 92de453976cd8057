//! The local private CA: a root and an issuing intermediate (generated on first use) or
//! an imported root or intermediate, whose key comes from the authority's credential
//! reference and is never stored. Issues with rcgen, and signs a round of certificates in
//! parallel; revocation rewrites the CRL. Every validity window is dated from the
//! caller's clock.

use super::{setting, Connector, Issued, OrderRequest, Revocation};
use crate::lifecycle::{credential, Category, Diagnosis};
use crate::model::Authority;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, RevokedCertParams,
    SerialNumber,
};
use std::path::PathBuf;
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

pub struct LocalCa {
    name: String,
    cert_path: PathBuf,
    /// The authority as configured, for generating the hierarchy on first use.
    authority: Authority,
    /// The issuing key and chain, read (or generated) on first use: generation needs the
    /// time, which comes from the caller's clock, never from the wall.
    loaded: std::sync::Mutex<Option<std::sync::Arc<Loaded>>>,
    crl: Option<PathBuf>,
    default_validity: Duration,
}

struct Loaded {
    issuer: Issuer<'static, KeyPair>,
    /// The issuing certificate and any chain above it (DER), sent with every leaf.
    chain: Vec<Vec<u8>>,
}

fn unavailable(a: &str, m: impl std::fmt::Display) -> Diagnosis {
    Diagnosis::new(Category::CaUnavailable, format!("local CA {a}: {m}"))
}

/// Lifetimes of a generated hierarchy: the root outlives the issuing CA, which outlives
/// any leaf it signs.
const ROOT_DAYS: i64 = 3650;
const ISSUING_DAYS: i64 = 1825;

impl LocalCa {
    /// Opens the CA named by `authority`: `ca_cert` (PEM: the issuing certificate, then
    /// the chain above it up to the root) and the issuing key by `credential`. When the
    /// certificate does not exist yet and the key reference is a `file:`, a two-level
    /// hierarchy is generated on first use: an ECDSA P-256 root (key at
    /// `root_credential`) and an issuing intermediate signed by it (key at `credential`).
    pub fn open(authority: &Authority) -> Result<LocalCa, Diagnosis> {
        let name = authority.name.as_str();
        let cert_path = setting(authority, "ca_cert")
            .map(PathBuf::from)
            .ok_or_else(|| unavailable(name, "no ca_cert path in the authority's settings"))?;
        key_reference(authority)?;
        let days = authority
            .settings
            .get("validity_days")
            .and_then(|v| v.as_i64())
            .unwrap_or(90);
        Ok(LocalCa {
            name: name.to_string(),
            cert_path,
            authority: authority.clone(),
            loaded: std::sync::Mutex::new(None),
            crl: setting(authority, "crl").map(PathBuf::from),
            default_validity: Duration::days(days),
        })
    }

    /// The issuing key and chain; generates the hierarchy (dated `now`) when missing.
    fn loaded(&self, now: OffsetDateTime) -> Result<std::sync::Arc<Loaded>, Diagnosis> {
        let mut slot = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(l) = slot.as_ref() {
            return Ok(l.clone());
        }
        let name = self.name.as_str();
        let key_ref = key_reference(&self.authority)?;
        {
            // Workers of one `certdeck run` may open the same new CA at once.
            static GENERATING: std::sync::Mutex<()> = std::sync::Mutex::new(());
            let _one = GENERATING.lock().unwrap_or_else(|e| e.into_inner());
            if !self.cert_path.exists() {
                generate_hierarchy(&self.authority, &self.cert_path, key_ref, now)?;
            }
        }
        let key = credential::resolve(key_ref).map_err(|e| {
            Diagnosis::new(Category::Unauthorized, format!("local CA {name} key: {e}"))
        })?;
        let key_pem = key
            .as_str()
            .map_err(|e| Diagnosis::new(Category::Unauthorized, e))?;
        let kp = KeyPair::from_pem(key_pem).map_err(|e| {
            Diagnosis::new(Category::Unauthorized, format!("local CA {name} key: {e}"))
        })?;
        let pem_text = std::fs::read_to_string(&self.cert_path)
            .map_err(|e| unavailable(name, format!("{}: {e}", self.cert_path.display())))?;
        let chain = pem_certificates(pem_text.as_bytes());
        let first = chain.first().ok_or_else(|| {
            unavailable(
                name,
                format!("{} holds no certificate", self.cert_path.display()),
            )
        })?;
        if rcgen::PublicKeyData::der_bytes(&kp) != public_key_of(first).unwrap_or_default() {
            return Err(Diagnosis::new(
                Category::Unauthorized,
                format!(
                    "local CA {name}: the key at {key_ref} is not the key of the first certificate in {} (the issuing CA comes first, then its chain)",
                    self.cert_path.display()
                ),
            ));
        }
        let issuer = Issuer::from_ca_cert_der(&first.as_slice().into(), kp)
            .map_err(|e| unavailable(name, format!("{}: {e}", self.cert_path.display())))?;
        let l = std::sync::Arc::new(Loaded { issuer, chain });
        *slot = Some(l.clone());
        Ok(l)
    }

    /// The certificate (DER) leaves chain to: the issuing CA.
    pub fn certificate_der(&self, now: OffsetDateTime) -> Result<Vec<u8>, Diagnosis> {
        Ok(self.loaded(now)?.chain[0].clone())
    }

    /// The issuing CA and the chain above it (DER), issuing CA first.
    pub fn chain(&self, now: OffsetDateTime) -> Result<Vec<Vec<u8>>, Diagnosis> {
        Ok(self.loaded(now)?.chain.clone())
    }

    /// Signs a CRL listing `revoked` and writes it (PEM) to the authority's `crl` path.
    pub fn write_crl(
        &self,
        revoked: &[super::RevokedEntry],
        now: OffsetDateTime,
    ) -> Result<Option<PathBuf>, Diagnosis> {
        let Some(path) = &self.crl else {
            return Ok(None);
        };
        let revoked_certs = revoked
            .iter()
            .map(|r| RevokedCertParams {
                serial_number: SerialNumber::from_slice(
                    &hex::decode(&r.serial).unwrap_or_default(),
                ),
                revocation_time: r.revoked_at,
                reason_code: Some(reason_code(&r.reason)),
                invalidity_date: None,
            })
            .collect();
        let params = CertificateRevocationListParams {
            this_update: now,
            next_update: now + Duration::days(7),
            crl_number: SerialNumber::from(now.unix_timestamp() as u64),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        let crl = params
            .signed_by(&self.loaded(now)?.issuer)
            .map_err(|e| unavailable(&self.name, format!("signing the CRL: {e}")))?;
        let pem = crl
            .pem()
            .map_err(|e| unavailable(&self.name, format!("encoding the CRL: {e}")))?;
        crate::deploy::files::write_atomic(path, pem.as_bytes(), 0o644, None, None)?;
        Ok(Some(path.clone()))
    }
}

/// RFC 5280 reason names (as `certdeck revoke --reason` takes them).
pub fn reason_code(reason: &str) -> rcgen::RevocationReason {
    use rcgen::RevocationReason as R;
    match reason {
        "key_compromise" | "keyCompromise" => R::KeyCompromise,
        "ca_compromise" | "cACompromise" => R::CaCompromise,
        "affiliation_changed" | "affiliationChanged" => R::AffiliationChanged,
        "superseded" => R::Superseded,
        "cessation_of_operation" | "cessationOfOperation" => R::CessationOfOperation,
        "privilege_withdrawn" | "privilegeWithdrawn" => R::PrivilegeWithdrawn,
        _ => R::Unspecified,
    }
}

fn random_serial() -> SerialNumber {
    let mut b: [u8; 16] = rand::random();
    b[0] &= 0x7f;
    b[0] |= 0x01;
    SerialNumber::from_slice(&b)
}

impl LocalCa {
    fn sign(&self, loaded: &Loaded, req: &OrderRequest<'_>) -> Result<Issued, Diagnosis> {
        let mut p = CertificateParams::new(req.sans.to_vec()).map_err(|e| {
            Diagnosis::new(
                Category::PolicyDenied,
                format!("bad subject alternative names: {e}"),
            )
        })?;
        p.distinguished_name = DistinguishedName::new();
        if let Some(first) = req.sans.first() {
            p.distinguished_name.push(DnType::CommonName, first.clone());
        }
        // Backdated a little for clocks that run behind; the lifetime counts from there, so
        // it is the authority's, never longer than the profile allows.
        p.not_before = req.now - Duration::minutes(5);
        p.not_after = p.not_before
            + req
                .validity
                .map_or(self.default_validity, |v| v.min(self.default_validity));
        p.serial_number = Some(random_serial());
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        if req.key.pair().algorithm() == &rcgen::PKCS_RSA_SHA256 {
            p.key_usages.push(KeyUsagePurpose::KeyEncipherment);
        }
        p.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        p.use_authority_key_identifier_extension = true;
        let cert = p
            .signed_by(req.key.pair(), &loaded.issuer)
            .map_err(|e| unavailable(&self.name, format!("signing: {e}")))?;
        let mut chain = Vec::with_capacity(1 + loaded.chain.len());
        chain.push(cert.der().to_vec());
        chain.extend(loaded.chain.iter().cloned());
        Ok(Issued {
            chain,
            key_pem: None,
        })
    }
}

impl Connector for LocalCa {
    fn issue(
        &self,
        req: &OrderRequest<'_>,
        _record_order: &mut dyn FnMut(&str) -> Result<(), Diagnosis>,
    ) -> Result<Issued, Diagnosis> {
        let loaded = self.loaded(req.now)?;
        self.sign(&loaded, req)
    }

    fn revoke(&self, r: &Revocation<'_>) -> Result<(), Diagnosis> {
        self.write_crl(r.all_revoked, r.now).map(|_| ())
    }

    fn batch(&self) -> Option<&dyn super::BatchIssuer> {
        Some(self)
    }
}

impl super::BatchIssuer for LocalCa {
    fn issue_many(&self, reqs: &[OrderRequest<'_>]) -> Vec<Result<Issued, Diagnosis>> {
        let Some(first) = reqs.first() else {
            return Vec::new();
        };
        match self.loaded(first.now) {
            Ok(loaded) => crate::lifecycle::par_map(reqs, |r| self.sign(&loaded, r)),
            Err(d) => reqs.iter().map(|_| Err(d.clone())).collect(),
        }
    }
}

/// The issuing key's reference (required: the key is never stored).
fn key_reference(authority: &Authority) -> Result<&str, Diagnosis> {
    authority.credential_ref.as_deref().ok_or_else(|| {
        Diagnosis::new(
            Category::Unauthorized,
            format!(
                "local CA {}: no credential reference for the CA key",
                authority.name
            ),
        )
    })
}

/// Where a generated root's key goes: `root_credential`, else beside the issuing key
/// (`ca.key` → `ca-root.key`).
fn root_key_reference(authority: &Authority, key_ref: &str) -> String {
    if let Some(r) = setting(authority, "root_credential") {
        return r.to_string();
    }
    match key_ref.strip_suffix(".key") {
        Some(stem) => format!("{stem}-root.key"),
        None => format!("{key_ref}.root"),
    }
}

/// The public key bits of a certificate (the subjectPublicKey BIT STRING's content).
fn public_key_of(der: &[u8]) -> Option<Vec<u8>> {
    use x509_parser::prelude::FromDer;
    let (_, c) = x509_parser::certificate::X509Certificate::from_der(der).ok()?;
    Some(c.public_key().subject_public_key.data.to_vec())
}

/// A key from `reference`, created (and written, 0600) when the file does not exist.
fn key_at(name: &str, reference: &str) -> Result<KeyPair, Diagnosis> {
    let mut generated: Option<KeyPair> = None;
    let (secret, created) = credential::resolve_or_create(reference, || {
        let kp = KeyPair::generate().map_err(|e| e.to_string())?;
        let pem = Zeroizing::new(kp.serialize_pem().into_bytes());
        generated = Some(kp);
        Ok(pem)
    })
    .map_err(|e| Diagnosis::new(Category::Unauthorized, format!("local CA {name} key: {e}")))?;
    match generated {
        Some(kp) if created => Ok(kp),
        _ => KeyPair::from_pem(secret.as_str().map_err(|e| unavailable(name, e))?)
            .map_err(|e| unavailable(name, e)),
    }
}

/// Generates a root and an issuing intermediate, dated from `now` (the caller's clock),
/// and writes the issuing certificate followed by the root to `cert_path`.
fn generate_hierarchy(
    authority: &Authority,
    cert_path: &std::path::Path,
    key_ref: &str,
    now: OffsetDateTime,
) -> Result<(), Diagnosis> {
    let name = authority.name.as_str();
    if !key_ref.starts_with("file:") {
        return Err(unavailable(
            name,
            format!(
                "{} does not exist and the key reference is not a file certdeck may create; import the CA certificate or use a file: reference",
                cert_path.display()
            ),
        ));
    }
    let root_ref = root_key_reference(authority, key_ref);
    if !root_ref.starts_with("file:") {
        return Err(unavailable(
            name,
            format!("root_credential {root_ref} is not a file: reference certdeck may create"),
        ));
    }
    let root_key = key_at(name, &root_ref)?;
    let issuing_key = key_at(name, key_ref)?;
    let cn = setting(authority, "common_name")
        .map(str::to_string)
        .unwrap_or_else(|| format!("certdeck local CA {name}"));
    let ca = |cn: String, path_len: u8, days: i64| {
        let mut p = CertificateParams::default();
        p.distinguished_name = DistinguishedName::new();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.is_ca = IsCa::Ca(BasicConstraints::Constrained(path_len));
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        p.not_before = now - Duration::hours(1);
        p.not_after = now + Duration::days(days);
        p.serial_number = Some(random_serial());
        p
    };
    let root_params = ca(format!("{cn} root"), 1, ROOT_DAYS);
    let root = root_params
        .self_signed(&root_key)
        .map_err(|e| unavailable(name, e))?;
    let root_issuer = Issuer::new(root_params, &root_key);
    let mut issuing_params = ca(cn, 0, ISSUING_DAYS);
    issuing_params.use_authority_key_identifier_extension = true;
    let issuing = issuing_params
        .signed_by(&issuing_key, &root_issuer)
        .map_err(|e| unavailable(name, e))?;
    if let Some(dir) = cert_path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| unavailable(name, e))?;
    }
    let pem = format!("{}{}", issuing.pem(), root.pem());
    crate::deploy::files::write_atomic(cert_path, pem.as_bytes(), 0o644, None, None)
        .map_err(|e| unavailable(name, e.message))?;
    Ok(())
}

/// The certificates of a PEM file (or DER file), in order.
pub fn pem_certificates(data: &[u8]) -> Vec<Vec<u8>> {
    match crate::x509::read_blocks(data) {
        crate::x509::pem::Contents::Pem(blocks) => blocks
            .into_iter()
            .filter(|b| matches!(b.kind, crate::x509::BlockKind::Certificate))
            .filter_map(|b| b.der.ok())
            .collect(),
        crate::x509::pem::Contents::Der(d) => vec![d],
        _ => Vec::new(),
    }
}
