//! Signing the estate with rcgen: the CA hierarchy from the committed CA keys, then every
//! planned leaf, in parallel. Serials and times come from the plan (seed and clock), key
//! identifiers from the keys, and RSA PKCS#1 v1.5 and Ed25519 signatures are
//! deterministic, so the same plan always gives the same bytes.

use super::material::{ca_key, LEAF_KEYS};
use super::org::{self, DOMAIN};
use super::plan::{self, LeafPlan};
use rcgen::{
    BasicConstraints, CertificateParams, CrlDistributionPoint, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SanType,
    SerialNumber, SubjectPublicKeyInfo,
};
use time::{Duration, OffsetDateTime};

/// A CA of the demo hierarchy, by its index in [`CAS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct CaRef(pub usize);

/// How a CA's leaves look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LeafStyle {
    /// CN only, serverAuth: what a public ACME CA issues.
    Acme,
    /// CN only, serverAuth and clientAuth (mTLS between services).
    Workload,
    /// Full organisation DN and a CRL distribution point.
    Enterprise,
}

pub(crate) struct CaSpec {
    /// Stem of the key file in `fixtures/demo/ca/`.
    pub key: &'static str,
    pub common_name: &'static str,
    pub organization: &'static str,
    pub parent: Option<CaRef>,
    /// Index into [`org::AUTHORITIES`].
    pub authority: usize,
    /// Validity, in days before and after the clock's now.
    pub since_days: i64,
    pub until_days: i64,
    pub leaf_lifetime_days: i64,
    pub leaf_style: LeafStyle,
}

pub(crate) const ACME_ROOT: CaRef = CaRef(0);
pub(crate) const ACME_R10: CaRef = CaRef(1);
pub(crate) const ACME_R11: CaRef = CaRef(2);
pub(crate) const ACME_E5: CaRef = CaRef(3);
pub(crate) const ACME_E6: CaRef = CaRef(4);
pub(crate) const VAULT_ROOT: CaRef = CaRef(5);
pub(crate) const VAULT_INT: CaRef = CaRef(6);
pub(crate) const ENTERPRISE_ROOT: CaRef = CaRef(7);
pub(crate) const ENTERPRISE_01: CaRef = CaRef(8);
pub(crate) const LOCAL_ROOT: CaRef = CaRef(9);
pub(crate) const LOCAL_INT: CaRef = CaRef(10);

const fn ca(
    key: &'static str,
    common_name: &'static str,
    organization: &'static str,
    parent: Option<CaRef>,
    authority: usize,
    (since_days, until_days): (i64, i64),
    (leaf_lifetime_days, leaf_style): (i64, LeafStyle),
) -> CaSpec {
    CaSpec {
        key,
        common_name,
        organization,
        parent,
        authority,
        since_days,
        until_days,
        leaf_lifetime_days,
        leaf_style,
    }
}

/// The hierarchy, parents before children. The ACME names follow the pattern of a
/// public ACME CA (a root, "R" intermediates with RSA keys, "E" intermediates with
/// non-RSA keys); the "E" keys are Ed25519 rather than ECDSA because ECDSA signatures
/// are randomized and the estate must be reproducible.
pub(crate) const CAS: &[CaSpec] = &[
    ca(
        "acme-root-x1.key",
        "ACME Demo Root X1",
        "ACME Demo",
        None,
        org::ACME,
        (3650, 3650),
        (90, LeafStyle::Acme),
    ),
    ca(
        "acme-r10.key",
        "R10",
        "ACME Demo",
        Some(ACME_ROOT),
        org::ACME,
        (500, 595),
        (90, LeafStyle::Acme),
    ),
    ca(
        "acme-r11.key",
        "R11",
        "ACME Demo",
        Some(ACME_ROOT),
        org::ACME,
        (500, 595),
        (90, LeafStyle::Acme),
    ),
    ca(
        "acme-e5.key",
        "E5",
        "ACME Demo",
        Some(ACME_ROOT),
        org::ACME,
        (500, 595),
        (90, LeafStyle::Acme),
    ),
    ca(
        "acme-e6.key",
        "E6",
        "ACME Demo",
        Some(ACME_ROOT),
        org::ACME,
        (500, 595),
        (90, LeafStyle::Acme),
    ),
    ca(
        "vault-root.key",
        "Northwind Vault Root CA",
        "Northwind Traders",
        None,
        org::VAULT,
        (1500, 2100),
        (60, LeafStyle::Workload),
    ),
    ca(
        "vault-pki-int.key",
        "Northwind Vault PKI Intermediate",
        "Northwind Traders",
        Some(VAULT_ROOT),
        org::VAULT,
        (400, 1060),
        (60, LeafStyle::Workload),
    ),
    ca(
        "enterprise-root.key",
        "Northwind Enterprise Root CA",
        "Northwind Traders",
        None,
        org::ENTERPRISE,
        (2900, 4400),
        (397, LeafStyle::Enterprise),
    ),
    ca(
        "enterprise-issuing-01.key",
        "Northwind Issuing CA 01",
        "Northwind Traders",
        Some(ENTERPRISE_ROOT),
        org::ENTERPRISE,
        (1100, 725),
        (397, LeafStyle::Enterprise),
    ),
    ca(
        "local-root.key",
        "certdeck Local Root",
        "Northwind Traders (development)",
        None,
        org::LOCAL,
        (700, 2900),
        (365, LeafStyle::Workload),
    ),
    ca(
        "local-intermediate.key",
        "certdeck Local Intermediate",
        "Northwind Traders (development)",
        Some(LOCAL_ROOT),
        org::LOCAL,
        (300, 1500),
        (365, LeafStyle::Workload),
    ),
];

#[derive(Debug, thiserror::Error)]
#[error("demo CA {ca}: {source}")]
pub(crate) struct IssueError {
    ca: &'static str,
    source: rcgen::Error,
}

/// The signed CA certificates and the issuers that sign leaves.
pub(crate) struct Hierarchy {
    pub certificates: Vec<Vec<u8>>,
    issuers: Vec<Issuer<'static, KeyPair>>,
}

fn ca_dn(spec: &CaSpec) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CountryName,
        if spec.authority == org::ACME {
            "US"
        } else {
            "GB"
        },
    );
    dn.push(DnType::OrganizationName, spec.organization);
    dn.push(DnType::CommonName, spec.common_name);
    dn
}

/// Signs the CA hierarchy at `now`; CA serials come from the seed's own stream.
pub(crate) fn hierarchy(seed: u64, now: OffsetDateTime) -> Result<Hierarchy, IssueError> {
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let mut rng = plan::rng(seed, 1);
    let mut certificates = Vec::with_capacity(CAS.len());
    let mut issuers: Vec<Issuer<'static, KeyPair>> = Vec::with_capacity(CAS.len());
    for spec in CAS {
        let err = |source| IssueError {
            ca: spec.common_name,
            source,
        };
        let key = KeyPair::from_pem(ca_key(spec.key)).map_err(err)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = ca_dn(spec);
        params.serial_number = Some(SerialNumber::from_slice(&plan::serial(&mut rng)));
        params.not_before = now - Duration::days(spec.since_days);
        params.not_after = now + Duration::days(spec.until_days);
        params.is_ca = IsCa::Ca(match spec.parent {
            None => BasicConstraints::Unconstrained,
            Some(_) => BasicConstraints::Constrained(0),
        });
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
        ];
        let der = match spec.parent {
            Some(p) => {
                params.use_authority_key_identifier_extension = true;
                params.signed_by(&key, &issuers[p.0]).map_err(err)?
            }
            None => params.self_signed(&key).map_err(err)?,
        };
        certificates.push(der.der().to_vec());
        issuers.push(Issuer::new(params, key));
    }
    Ok(Hierarchy {
        certificates,
        issuers,
    })
}

/// The pool's public keys, parsed once.
fn leaf_keys() -> Result<Vec<SubjectPublicKeyInfo>, IssueError> {
    LEAF_KEYS
        .iter()
        .map(|(name, pem, _)| {
            SubjectPublicKeyInfo::from_pem(pem).map_err(|source| IssueError { ca: name, source })
        })
        .collect()
}

fn sign_leaf(
    h: &Hierarchy,
    keys: &[SubjectPublicKeyInfo],
    leaf: &LeafPlan,
) -> Result<Vec<u8>, IssueError> {
    let spec = &CAS[leaf.ca.0];
    let err = |source| IssueError {
        ca: spec.common_name,
        source,
    };
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    if spec.leaf_style == LeafStyle::Enterprise {
        dn.push(DnType::CountryName, "GB");
        dn.push(DnType::OrganizationName, "Northwind Traders");
        if let Some(t) = leaf.team {
            dn.push(DnType::OrganizationalUnitName, org::TEAMS[t].business_unit);
        }
    }
    dn.push(DnType::CommonName, leaf.common_name.as_str());
    params.distinguished_name = dn;
    params.subject_alt_names = leaf
        .sans
        .iter()
        .map(|s| Ok(SanType::DnsName(s.as_str().try_into()?)))
        .collect::<Result<_, rcgen::Error>>()
        .map_err(err)?;
    params.serial_number = Some(SerialNumber::from_slice(&leaf.serial));
    params.not_before = leaf.not_before;
    params.not_after = leaf.not_after;
    params.use_authority_key_identifier_extension = true;
    let key = &keys[leaf.key];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    if key.algorithm() == &rcgen::PKCS_RSA_SHA256 {
        params.key_usages.push(KeyUsagePurpose::KeyEncipherment);
    }
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    match spec.leaf_style {
        LeafStyle::Acme => {}
        LeafStyle::Workload => params
            .extended_key_usages
            .push(ExtendedKeyUsagePurpose::ClientAuth),
        LeafStyle::Enterprise => {
            params.crl_distribution_points = vec![CrlDistributionPoint {
                uris: vec![format!("http://pki.{DOMAIN}/crl/issuing-ca-01.crl")],
            }]
        }
    }
    Ok(params
        .signed_by(key, &h.issuers[leaf.ca.0])
        .map_err(err)?
        .der()
        .to_vec())
}

/// Signs every planned leaf, on every core, keeping the plan's order; `progress(done)`
/// is told after each slice.
pub(crate) fn sign_all(
    h: &Hierarchy,
    leaves: &[LeafPlan],
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<Vec<u8>>, IssueError> {
    const SLICE: usize = 4_096;
    let keys = leaf_keys()?;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut out = Vec::with_capacity(leaves.len());
    for slice in leaves.chunks(SLICE) {
        if slice.len() < 64 || threads < 2 {
            for l in slice {
                out.push(sign_leaf(h, &keys, l)?);
            }
        } else {
            let chunk = slice.len().div_ceil(threads);
            let keys = &keys;
            std::thread::scope(|s| {
                let handles: Vec<_> = slice
                    .chunks(chunk)
                    .map(|c| {
                        s.spawn(move || {
                            c.iter()
                                .map(|l| sign_leaf(h, keys, l))
                                .collect::<Result<Vec<_>, _>>()
                        })
                    })
                    .collect();
                for handle in handles {
                    out.extend(handle.join().expect("demo signing thread panicked")?);
                }
                Ok::<_, IssueError>(())
            })?;
        }
        progress(out.len());
    }
    Ok(out)
}
