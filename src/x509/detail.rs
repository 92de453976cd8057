//! The full decode an operator expects from `show` and the console's detail view: every
//! extension, named, with its value in words. Values are exact (not sanitized); whoever
//! prints them sanitizes.

use super::{general_name, name_to_string, oid_name, sha256_hex};
use serde::Serialize;
use sha1::Sha1;
use sha2::Digest;
use x509_parser::prelude::*;

#[derive(Debug, Clone, Serialize)]
pub struct Extension {
    pub name: String,
    pub oid: String,
    pub critical: bool,
    /// One entry per logical value (each EKU, each distribution point, ...).
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CertificateDetail {
    pub version: u32,
    pub serial: String,
    pub subject: String,
    pub issuer: String,
    pub not_before: String,
    pub not_after: String,
    pub public_key: String,
    pub spki_sha256: String,
    pub signature_algorithm: String,
    pub fingerprint_sha256: String,
    pub fingerprint_sha1: String,
    pub extensions: Vec<Extension>,
}

/// Colon-separated uppercase hex, as operators compare serials and fingerprints.
pub fn colon_hex(hex_str: &str) -> String {
    hex_str
        .as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).unwrap_or("").to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(":")
}

pub fn decode(der: &[u8]) -> Result<CertificateDetail, super::ParseError> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|e| super::ParseError::Der(e.to_string()))?;
    let tbs = &cert.tbs_certificate;
    let (info, _) = super::parse_der(der, true)?;
    let mut public_key = info.key_algorithm.to_ascii_uppercase();
    if let Some(b) = info.key_bits {
        public_key.push_str(&format!(" {b} bits"));
    }
    if let Some(c) = &info.key_curve {
        public_key.push_str(&format!(" ({c})"));
    }
    let extensions = tbs.extensions().iter().map(extension).collect();
    Ok(CertificateDetail {
        version: tbs.version.0 + 1,
        serial: colon_hex(&info.serial),
        subject: name_to_string(tbs.subject()),
        issuer: name_to_string(tbs.issuer()),
        not_before: crate::clock::rfc3339(info.not_before),
        not_after: crate::clock::rfc3339(info.not_after),
        public_key,
        spki_sha256: sha256_hex(tbs.subject_pki.raw),
        signature_algorithm: info.signature_algorithm,
        fingerprint_sha256: info.fingerprint_sha256,
        fingerprint_sha1: hex::encode(Sha1::digest(der)),
        extensions,
    })
}

fn extension(ext: &X509Extension<'_>) -> Extension {
    let oid = ext.oid.to_id_string();
    let name = match oid.as_str() {
        "2.5.29.17" => "Subject Alternative Name".to_string(),
        "2.5.29.15" => "Key Usage".to_string(),
        "2.5.29.37" => "Extended Key Usage".to_string(),
        "2.5.29.19" => "Basic Constraints".to_string(),
        "2.5.29.14" => "Subject Key Identifier".to_string(),
        "2.5.29.35" => "Authority Key Identifier".to_string(),
        "2.5.29.31" => "CRL Distribution Points".to_string(),
        "1.3.6.1.5.5.7.1.1" => "Authority Information Access".to_string(),
        "2.5.29.32" => "Certificate Policies".to_string(),
        "2.5.29.30" => "Name Constraints".to_string(),
        "1.3.6.1.4.1.11129.2.4.2" => "Signed Certificate Timestamps".to_string(),
        "1.3.6.1.5.5.7.1.24" => "TLS Feature (OCSP Must-Staple)".to_string(),
        _ => oid_name(&ext.oid),
    };
    let values = match ext.parsed_extension() {
        ParsedExtension::SubjectAlternativeName(san) => san
            .general_names
            .iter()
            .map(|g| {
                let s = general_name(g);
                format!("{}:{}", s.kind.as_str().to_ascii_uppercase(), s.value)
            })
            .collect(),
        ParsedExtension::KeyUsage(ku) => ku.to_string().split(", ").map(str::to_string).collect(),
        ParsedExtension::ExtendedKeyUsage(eku) => {
            let mut v = Vec::new();
            if eku.any {
                v.push("any".into())
            }
            if eku.server_auth {
                v.push("serverAuth".into())
            }
            if eku.client_auth {
                v.push("clientAuth".into())
            }
            if eku.code_signing {
                v.push("codeSigning".into())
            }
            if eku.email_protection {
                v.push("emailProtection".into())
            }
            if eku.time_stamping {
                v.push("timeStamping".into())
            }
            if eku.ocsp_signing {
                v.push("OCSPSigning".into())
            }
            v.extend(eku.other.iter().map(oid_name));
            v
        }
        ParsedExtension::BasicConstraints(bc) => {
            let mut v = vec![format!("CA:{}", if bc.ca { "TRUE" } else { "FALSE" })];
            if let Some(p) = bc.path_len_constraint {
                v.push(format!("pathlen:{p}"));
            }
            v
        }
        ParsedExtension::SubjectKeyIdentifier(k) => vec![colon_hex(&hex::encode(k.0))],
        ParsedExtension::AuthorityKeyIdentifier(a) => {
            let mut v = Vec::new();
            if let Some(k) = &a.key_identifier {
                v.push(format!("keyid:{}", colon_hex(&hex::encode(k.0))));
            }
            if let Some(issuer) = &a.authority_cert_issuer {
                v.extend(
                    issuer
                        .iter()
                        .map(|g| format!("issuer:{}", general_name(g).value)),
                );
            }
            if let Some(s) = a.authority_cert_serial {
                v.push(format!("serial:{}", colon_hex(&hex::encode(s))));
            }
            v
        }
        ParsedExtension::CRLDistributionPoints(points) => points
            .iter()
            .flat_map(|p| match &p.distribution_point {
                Some(DistributionPointName::FullName(names)) => names
                    .iter()
                    .map(|g| general_name(g).value)
                    .collect::<Vec<_>>(),
                Some(DistributionPointName::NameRelativeToCRLIssuer(_)) => {
                    vec!["(name relative to CRL issuer)".to_string()]
                }
                None => vec![],
            })
            .collect(),
        ParsedExtension::AuthorityInfoAccess(aia) => aia
            .accessdescs
            .iter()
            .map(|d| {
                let method = match d.access_method.to_id_string().as_str() {
                    "1.3.6.1.5.5.7.48.1" => "OCSP".to_string(),
                    "1.3.6.1.5.5.7.48.2" => "CA Issuers".to_string(),
                    _ => oid_name(&d.access_method),
                };
                format!("{method} - {}", general_name(&d.access_location).value)
            })
            .collect(),
        ParsedExtension::CertificatePolicies(policies) => policies
            .iter()
            .map(|p| {
                let id = p.policy_id.to_id_string();
                let known = match id.as_str() {
                    "2.23.140.1.2.1" => " (CA/B domain validated)",
                    "2.23.140.1.2.2" => " (CA/B organization validated)",
                    "2.23.140.1.1" => " (CA/B extended validation)",
                    "2.5.29.32.0" => " (any policy)",
                    _ => "",
                };
                format!("{id}{known}")
            })
            .collect(),
        ParsedExtension::NameConstraints(nc) => {
            let mut v = Vec::new();
            for s in nc.permitted_subtrees.iter().flatten() {
                v.push(format!("permitted {}", general_name(&s.base).value));
            }
            for s in nc.excluded_subtrees.iter().flatten() {
                v.push(format!("excluded {}", general_name(&s.base).value));
            }
            v
        }
        ParsedExtension::UnsupportedExtension { .. } | ParsedExtension::Unparsed => {
            vec![format!("{} bytes", ext.value.len())]
        }
        ParsedExtension::ParseError { error } => vec![format!("unparseable: {error}")],
        other => vec![format!("{other:?}").chars().take(200).collect()],
    };
    Extension {
        name,
        oid,
        critical: ext.critical,
        values,
    }
}

/// The subject as certdeck prints it (kept next to `decode` for callers that only have DER).
pub fn subject_of(der: &[u8]) -> Option<String> {
    X509Certificate::from_der(der)
        .ok()
        .map(|(_, c)| name_to_string(c.subject()))
}
