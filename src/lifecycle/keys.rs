//! Private keys for identities: generated here, per the identity's key type, held in
//! memory only as long as the job step needs them (zeroized on drop), and written only
//! to deployment targets with mode 0600. They never enter the store or the audit log.

use zeroize::{Zeroize, Zeroizing};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum KeyType {
    #[serde(rename = "ecdsa-p256")]
    EcdsaP256,
    #[serde(rename = "ecdsa-p384")]
    EcdsaP384,
    #[serde(rename = "rsa-2048")]
    Rsa2048,
    #[serde(rename = "rsa-3072")]
    Rsa3072,
    #[serde(rename = "rsa-4096")]
    Rsa4096,
    #[serde(rename = "ed25519")]
    Ed25519,
}

impl KeyType {
    pub const ALL: [KeyType; 6] = [
        KeyType::EcdsaP256,
        KeyType::EcdsaP384,
        KeyType::Rsa2048,
        KeyType::Rsa3072,
        KeyType::Rsa4096,
        KeyType::Ed25519,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::EcdsaP256 => "ecdsa-p256",
            KeyType::EcdsaP384 => "ecdsa-p384",
            KeyType::Rsa2048 => "rsa-2048",
            KeyType::Rsa3072 => "rsa-3072",
            KeyType::Rsa4096 => "rsa-4096",
            KeyType::Ed25519 => "ed25519",
        }
    }

    /// The (algorithm, bits) the inventory records for a certificate with this key.
    pub fn inventory_terms(self) -> (&'static str, u32) {
        match self {
            KeyType::EcdsaP256 => ("ecdsa", 256),
            KeyType::EcdsaP384 => ("ecdsa", 384),
            KeyType::Rsa2048 => ("rsa", 2048),
            KeyType::Rsa3072 => ("rsa", 3072),
            KeyType::Rsa4096 => ("rsa", 4096),
            KeyType::Ed25519 => ("ed25519", 256),
        }
    }

    fn algorithm(self) -> &'static rcgen::SignatureAlgorithm {
        match self {
            KeyType::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            KeyType::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096 => &rcgen::PKCS_RSA_SHA256,
            KeyType::Ed25519 => &rcgen::PKCS_ED25519,
        }
    }

    /// Generates a fresh key of this type.
    pub fn generate(self) -> Result<PrivateKey, String> {
        let kp = match self {
            KeyType::Rsa2048 => {
                rcgen::KeyPair::generate_rsa_for(self.algorithm(), rcgen::RsaKeySize::_2048)
            }
            KeyType::Rsa3072 => {
                rcgen::KeyPair::generate_rsa_for(self.algorithm(), rcgen::RsaKeySize::_3072)
            }
            KeyType::Rsa4096 => {
                rcgen::KeyPair::generate_rsa_for(self.algorithm(), rcgen::RsaKeySize::_4096)
            }
            _ => rcgen::KeyPair::generate_for(self.algorithm()),
        }
        .map_err(|e| format!("generating a {} key: {e}", self.as_str()))?;
        Ok(PrivateKey { pair: kp })
    }
}

impl std::str::FromStr for KeyType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        KeyType::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown key type {s:?} (expected one of: {})",
                    KeyType::ALL.map(|k| k.as_str()).join(", ")
                )
            })
    }
}

impl std::fmt::Display for KeyType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A private key in memory. Its serialized form is wiped when it is dropped; `Debug`
/// never prints it.
pub struct PrivateKey {
    pair: rcgen::KeyPair,
}

impl PrivateKey {
    /// Reads a key back from PEM (the staged key of a resumed job).
    pub fn from_pem(pem: &str) -> Result<PrivateKey, String> {
        rcgen::KeyPair::from_pem(pem)
            .map(|pair| PrivateKey { pair })
            .map_err(|e| format!("not a usable private key: {e}"))
    }

    pub fn pair(&self) -> &rcgen::KeyPair {
        &self.pair
    }

    /// PKCS#8 PEM, in a buffer that is wiped when dropped.
    pub fn pem(&self) -> Zeroizing<String> {
        Zeroizing::new(self.pair.serialize_pem())
    }

    /// A CSR for `sans` (DER), signed with this key.
    pub fn csr_der(&self, sans: &[String]) -> Result<Vec<u8>, String> {
        let mut params = rcgen::CertificateParams::new(sans.to_vec())
            .map_err(|e| format!("bad subject alternative names: {e}"))?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        if let Some(first) = sans.first() {
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, first.clone());
        }
        let csr = params
            .serialize_request(&self.pair)
            .map_err(|e| format!("building the CSR: {e}"))?;
        Ok(csr.der().to_vec())
    }
}

impl Drop for PrivateKey {
    fn drop(&mut self) {
        self.pair.zeroize();
    }
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey({:?}, redacted)", self.pair.algorithm())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_fast_key_type_generates_and_round_trips_through_pem() {
        for kt in [KeyType::EcdsaP256, KeyType::EcdsaP384, KeyType::Ed25519] {
            let k = kt.generate().unwrap();
            let back = PrivateKey::from_pem(&k.pem()).unwrap();
            assert_eq!(back.pair().public_key_raw(), k.pair().public_key_raw());
            assert!(!format!("{k:?}").contains("PRIVATE"));
        }
    }

    #[test]
    fn key_type_names_parse() {
        for kt in KeyType::ALL {
            assert_eq!(kt.as_str().parse::<KeyType>(), Ok(kt));
        }
        assert!("dsa-1024".parse::<KeyType>().is_err());
    }
}
