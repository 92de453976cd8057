//! The local private CA: a root (generated on first use) or an imported root or
//! intermediate, whose key comes from the authority's credential reference and is never
//! stored. Issues with rcgen; revocation rewrites the CRL.

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
    issuer: Issuer<'static, KeyPair>,
    /// The issuing certificate and any chain above it (DER), sent with every leaf.
    chain: Vec<Vec<u8>>,
    crl: Option<PathBuf>,
    default_validity: Duration,
}

fn unavailable(a: &str, m: impl std::fmt::Display) -> Diagnosis {
    Diagnosis::new(Category::CaUnavailable, format!("local CA {a}: {m}"))
}

impl LocalCa {
    /// Opens the CA named by `authority`: `ca_cert` (PEM path) and the key by
    /// `credential`. When neither the certificate nor a `file:` key exists yet, a new
    /// ECDSA P-256 root is generated: key to the credential file (0600), certificate to
    /// `ca_cert`.
    pub fn open(authority: &Authority) -> Result<LocalCa, Diagnosis> {
        let name = authority.name.as_str();
        let cert_path = setting(authority, "ca_cert")
            .map(PathBuf::from)
            .ok_or_else(|| unavailable(name, "no ca_cert path in the authority's settings"))?;
        let key_ref = authority.credential_ref.as_deref().ok_or_else(|| {
            Diagnosis::new(
                Category::Unauthorized,
                format!("local CA {name}: no credential reference for the CA key"),
            )
        })?;
        {
            // Workers of one `certdeck run` may open the same new CA at once.
            static GENERATING: std::sync::Mutex<()> = std::sync::Mutex::new(());
            let _one = GENERATING.lock().unwrap_or_else(|e| e.into_inner());
            if !cert_path.exists() {
                Self::generate_root(authority, &cert_path, key_ref)?;
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
        let pem_text = std::fs::read_to_string(&cert_path)
            .map_err(|e| unavailable(name, format!("{}: {e}", cert_path.display())))?;
        let chain = pem_certificates(pem_text.as_bytes());
        let first = chain.first().ok_or_else(|| {
            unavailable(
                name,
                format!("{} holds no certificate", cert_path.display()),
            )
        })?;
        let issuer = Issuer::from_ca_cert_der(&first.as_slice().into(), kp)
            .map_err(|e| unavailable(name, format!("{}: {e}", cert_path.display())))?;
        let days = authority
            .settings
            .get("validity_days")
            .and_then(|v| v.as_i64())
            .unwrap_or(90);
        Ok(LocalCa {
            name: name.to_string(),
            issuer,
            chain,
            crl: setting(authority, "crl").map(PathBuf::from),
            default_validity: Duration::days(days),
        })
    }

    fn generate_root(
        authority: &Authority,
        cert_path: &std::path::Path,
        key_ref: &str,
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
        let mut generated: Option<KeyPair> = None;
        let (secret, created) = credential::resolve_or_create(key_ref, || {
            let kp = KeyPair::generate().map_err(|e| e.to_string())?;
            let pem = Zeroizing::new(kp.serialize_pem().into_bytes());
            generated = Some(kp);
            Ok(pem)
        })
        .map_err(|e| Diagnosis::new(Category::Unauthorized, format!("local CA {name} key: {e}")))?;
        let kp = match generated {
            Some(kp) if created => kp,
            _ => KeyPair::from_pem(secret.as_str().map_err(|e| unavailable(name, e))?)
                .map_err(|e| unavailable(name, e))?,
        };
        let cn = setting(authority, "common_name")
            .map(str::to_string)
            .unwrap_or_else(|| format!("certdeck local CA {name}"));
        let mut p = CertificateParams::default();
        p.distinguished_name = DistinguishedName::new();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = OffsetDateTime::now_utc();
        p.not_before = now - Duration::hours(1);
        p.not_after = now + Duration::days(3650);
        p.serial_number = Some(random_serial());
        let cert = p.self_signed(&kp).map_err(|e| unavailable(name, e))?;
        if let Some(dir) = cert_path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| unavailable(name, e))?;
        }
        crate::deploy::files::write_atomic(cert_path, cert.pem().as_bytes(), 0o644, None, None)
            .map_err(|e| unavailable(name, e.message))?;
        Ok(())
    }

    /// The CA certificate (DER) leaves chain to.
    pub fn certificate_der(&self) -> &[u8] {
        &self.chain[0]
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
            .signed_by(&self.issuer)
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

impl Connector for LocalCa {
    fn issue(
        &self,
        req: &OrderRequest<'_>,
        _record_order: &mut dyn FnMut(&str) -> Result<(), Diagnosis>,
    ) -> Result<Issued, Diagnosis> {
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
        p.not_before = req.now - Duration::minutes(5);
        // The authority's lifetime, never longer than the profile allows.
        p.not_after = req.now
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
            .signed_by(req.key.pair(), &self.issuer)
            .map_err(|e| unavailable(&self.name, format!("signing: {e}")))?;
        let mut chain = Vec::with_capacity(1 + self.chain.len());
        chain.push(cert.der().to_vec());
        chain.extend(self.chain.iter().cloned());
        Ok(Issued {
            chain,
            key_pem: None,
        })
    }

    fn revoke(&self, r: &Revocation<'_>) -> Result<(), Diagnosis> {
        self.write_crl(r.all_revoked, r.now).map(|_| ())
    }
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
