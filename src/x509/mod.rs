//! X.509 decoding: from bytes on disk to what the inventory keeps. Input is untrusted;
//! every failure names what was wrong so an import can report it and go on.

pub mod detail;
pub mod pem;

use crate::model::{CertificateInfo, San, SanKind};
use ::time::OffsetDateTime;
use sha2::{Digest, Sha256};
use x509_parser::prelude::*;

pub use pem::{read_blocks, Block, BlockKind};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("not a DER certificate: {0}")]
    Der(String),
    #[error("trailing {0} bytes after the certificate")]
    Trailing(usize),
    #[error("invalid validity time: {0}")]
    Time(String),
}

pub fn sha256_hex(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// Decodes one DER certificate. `allow_trailing` accepts data after the certificate
/// (OpenSSL's "TRUSTED CERTIFICATE" blocks carry trust settings there); the fingerprint
/// is always of the certificate alone.
pub fn parse_der(der: &[u8], allow_trailing: bool) -> Result<(CertificateInfo, usize), ParseError> {
    parse_der_with(der, allow_trailing, |_| ()).map(|(info, len, ())| (info, len))
}

/// [`parse_der`], also handing the parsed certificate to `extra` for whatever else the
/// caller reads from it (one parse instead of two).
pub fn parse_der_with<T>(
    der: &[u8],
    allow_trailing: bool,
    extra: impl FnOnce(&X509Certificate<'_>) -> T,
) -> Result<(CertificateInfo, usize, T), ParseError> {
    let (rest, cert) =
        X509Certificate::from_der(der).map_err(|e| ParseError::Der(short_err(&e)))?;
    if !rest.is_empty() && !allow_trailing {
        return Err(ParseError::Trailing(rest.len()));
    }
    let cert_len = der.len() - rest.len();
    let der = &der[..cert_len];
    Ok((info(der, &cert)?, cert_len, extra(&cert)))
}

fn short_err(e: &impl std::fmt::Display) -> String {
    let s = e.to_string();
    s.chars().take(160).collect()
}

fn info(der: &[u8], cert: &X509Certificate<'_>) -> Result<CertificateInfo, ParseError> {
    let tbs = &cert.tbs_certificate;
    let not_before = to_time(tbs.validity.not_before)?;
    let not_after = to_time(tbs.validity.not_after)?;
    let (key_algorithm, key_bits, key_curve) = key_info(cert.public_key());
    let mut sans = Vec::new();
    let mut ski = None;
    let mut aki = None;
    for ext in tbs.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                for gn in &san.general_names {
                    sans.push(general_name(gn));
                }
            }
            ParsedExtension::SubjectKeyIdentifier(k) => ski = Some(hex::encode(k.0)),
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                aki = a.key_identifier.as_ref().map(|k| hex::encode(k.0))
            }
            _ => {}
        }
    }
    let subject = name_to_string(tbs.subject());
    let issuer = name_to_string(tbs.issuer());
    let self_signed = tbs.subject().as_raw() == tbs.issuer().as_raw()
        && match (&ski, &aki) {
            (Some(s), Some(a)) => s == a,
            _ => true,
        };
    Ok(CertificateInfo {
        fingerprint_sha256: sha256_hex(der),
        serial: hex::encode(tbs.raw_serial()),
        subject_cn: common_name(tbs.subject()),
        issuer_cn: common_name(tbs.issuer()),
        subject,
        issuer,
        not_before,
        not_after,
        sans,
        key_algorithm,
        key_bits,
        key_curve,
        signature_algorithm: oid_name(&cert.signature_algorithm.algorithm),
        is_ca: tbs.is_ca(),
        self_signed,
        ski,
        aki,
    })
}

fn to_time(t: ASN1Time) -> Result<OffsetDateTime, ParseError> {
    let dt = t.to_datetime();
    // Keep the value exact; reject only what cannot be represented.
    OffsetDateTime::from_unix_timestamp(dt.unix_timestamp())
        .map_err(|e| ParseError::Time(e.to_string()))
}

pub(crate) fn oid_name(oid: &x509_parser::oid_registry::Oid<'_>) -> String {
    match x509_parser::objects::oid2sn(oid, x509_parser::objects::oid_registry()) {
        Ok(sn) => sn.to_string(),
        Err(_) => oid.to_id_string(),
    }
}

pub(crate) fn general_name(gn: &GeneralName<'_>) -> San {
    match gn {
        GeneralName::DNSName(s) => San {
            kind: SanKind::Dns,
            value: s.to_string(),
        },
        GeneralName::RFC822Name(s) => San {
            kind: SanKind::Email,
            value: s.to_string(),
        },
        GeneralName::URI(s) => San {
            kind: SanKind::Uri,
            value: s.to_string(),
        },
        GeneralName::IPAddress(b) => San {
            kind: SanKind::Ip,
            value: ip_to_string(b),
        },
        other => San {
            kind: SanKind::Other,
            value: format!("{other}"),
        },
    }
}

fn ip_to_string(b: &[u8]) -> String {
    match b.len() {
        4 => std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string(),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            std::net::Ipv6Addr::from(a).to_string()
        }
        _ => format!("#{}", hex::encode(b)),
    }
}

/// (algorithm, bits, curve) of a subject public key.
fn key_info(spki: &SubjectPublicKeyInfo<'_>) -> (String, Option<u32>, Option<String>) {
    use x509_parser::public_key::PublicKey;
    let alg_oid = &spki.algorithm.algorithm;
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .map(|oid| curve_name(&oid));
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => ("rsa".into(), Some(rsa.key_size() as u32), None),
        Ok(PublicKey::EC(ec)) => ("ecdsa".into(), Some(ec.key_size() as u32), curve),
        Ok(PublicKey::DSA(y)) => ("dsa".into(), Some((significant_len(y) * 8) as u32), None),
        _ => {
            let id = alg_oid.to_id_string();
            match id.as_str() {
                "1.3.101.112" => ("ed25519".into(), Some(256), None),
                "1.3.101.113" => ("ed448".into(), Some(456), None),
                "1.2.840.113549.1.1.10" => ("rsa-pss".into(), None, None),
                _ => (oid_name(alg_oid), None, curve),
            }
        }
    }
}

fn significant_len(b: &[u8]) -> usize {
    b.iter().skip_while(|x| **x == 0).count()
}

fn curve_name(oid: &x509_parser::oid_registry::Oid<'_>) -> String {
    match oid.to_id_string().as_str() {
        "1.2.840.10045.3.1.7" => "P-256".into(),
        "1.3.132.0.34" => "P-384".into(),
        "1.3.132.0.35" => "P-521".into(),
        "1.3.132.0.10" => "secp256k1".into(),
        "1.2.840.10045.3.1.1" => "P-192".into(),
        other => other.into(),
    }
}

/// The first CN, exactly as encoded (it may hold anything, including NUL and ESC; it is
/// sanitized where it is shown, not here).
pub fn common_name(name: &X509Name<'_>) -> Option<String> {
    name.iter_common_name().next().map(attr_value)
}

fn attr_value(attr: &AttributeTypeAndValue<'_>) -> String {
    match attr.as_str() {
        Ok(s) => s.to_string(),
        Err(_) => {
            let data = attr.attr_value().data;
            // BMPString (UTF-16BE) and UniversalString show up in old enterprise CAs.
            match attr.attr_value().tag() {
                x509_parser::der_parser::asn1_rs::Tag::BmpString if data.len() % 2 == 0 => {
                    let units: Vec<u16> = data
                        .chunks(2)
                        .map(|c| u16::from_be_bytes([c[0], c[1]]))
                        .collect();
                    String::from_utf16_lossy(&units)
                }
                _ => match std::str::from_utf8(data) {
                    Ok(s) => s.to_string(),
                    Err(_) => format!("#{}", hex::encode(data)),
                },
            }
        }
    }
}

/// RFC 4514-style, most significant RDN first as OpenSSL prints (`CN=..., O=..., C=..`
/// is reversed; we print in certificate order: `C=.., O=.., CN=..`), values exact.
pub fn name_to_string(name: &X509Name<'_>) -> String {
    let mut parts = Vec::new();
    for rdn in name.iter() {
        for attr in rdn.iter() {
            let key = match x509_parser::objects::oid2abbrev(
                attr.attr_type(),
                x509_parser::objects::oid_registry(),
            ) {
                Ok(a) => a.to_string(),
                Err(_) => oid_name(attr.attr_type()),
            };
            parts.push(format!("{key}={}", attr_value(attr)));
        }
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed(cn: &str, sans: Vec<String>) -> Vec<u8> {
        let mut params = rcgen::CertificateParams::new(sans).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn decodes_the_fields_the_inventory_keeps() {
        let der = self_signed(
            "www.example.com",
            vec!["www.example.com".into(), "10.0.0.1".into()],
        );
        let (info, len) = parse_der(&der, false).unwrap();
        assert_eq!(len, der.len());
        assert_eq!(info.subject_cn.as_deref(), Some("www.example.com"));
        assert_eq!(info.key_algorithm, "ecdsa");
        assert_eq!(info.key_bits, Some(256));
        assert_eq!(info.key_curve.as_deref(), Some("P-256"));
        assert_eq!(info.signature_algorithm, "ecdsa-with-SHA256");
        assert!(info.self_signed);
        assert_eq!(info.fingerprint_sha256, sha256_hex(&der));
        assert!(info.sans.contains(&San {
            kind: SanKind::Dns,
            value: "www.example.com".into()
        }));
        assert!(info.sans.contains(&San {
            kind: SanKind::Ip,
            value: "10.0.0.1".into()
        }));
    }

    #[test]
    fn trailing_bytes_are_refused_unless_allowed() {
        let mut der = self_signed("x", vec![]);
        der.extend_from_slice(b"junk");
        assert_eq!(parse_der(&der, false).unwrap_err(), ParseError::Trailing(4));
        assert!(parse_der(&der, true).is_ok());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse_der(b"", false).is_err());
        assert!(parse_der(&[0x30, 0x82, 0xff, 0xff, 0x00], false).is_err());
    }
}
