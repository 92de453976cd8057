//! The fixed material the demo is built from, compiled in from `fixtures/demo/` (made once
//! by `fixtures/demo/make-fixtures.sh`): CA private keys, the pool of leaf public keys and
//! the legacy SHA-1 certificates. Because none of it is generated at run time, the only
//! inputs of an estate are the seed and the clock.

/// A committed CA key (PKCS#8 PEM), by file stem.
pub(crate) fn ca_key(name: &str) -> &'static str {
    CA_KEYS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, pem)| *pem)
        .unwrap_or_else(|| panic!("no demo CA key {name} in fixtures/demo/ca"))
}

macro_rules! fixture {
    ($dir:literal, $name:literal) => {
        (
            $name,
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/fixtures/demo/",
                $dir,
                "/",
                $name,
                ".pem"
            )),
        )
    };
}

const CA_KEYS: &[(&str, &str)] = &[
    fixture!("ca", "acme-root-x1.key"),
    fixture!("ca", "acme-r10.key"),
    fixture!("ca", "acme-r11.key"),
    fixture!("ca", "acme-e5.key"),
    fixture!("ca", "acme-e6.key"),
    fixture!("ca", "vault-root.key"),
    fixture!("ca", "vault-pki-int.key"),
    fixture!("ca", "enterprise-root.key"),
    fixture!("ca", "enterprise-issuing-01.key"),
    fixture!("ca", "local-root.key"),
    fixture!("ca", "local-intermediate.key"),
];

/// What a leaf key is, for choosing which CA would plausibly certify it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyClass {
    Rsa2048,
    RsaLarge,
    Ec,
    Ed25519,
    /// RSA-1024: weak by every policy, still found in real estates.
    RsaWeak,
}

macro_rules! leaf {
    ($name:literal, $class:ident) => {{
        let (name, pem) = fixture!("leaf-keys", $name);
        (name, pem, KeyClass::$class)
    }};
}

/// The leaf key pool: SubjectPublicKeyInfo PEMs (no private key is kept for a leaf).
pub(crate) const LEAF_KEYS: &[(&str, &str, KeyClass)] = &[
    leaf!("p256-1", Ec),
    leaf!("p256-2", Ec),
    leaf!("p256-3", Ec),
    leaf!("p256-4", Ec),
    leaf!("p256-5", Ec),
    leaf!("p256-6", Ec),
    leaf!("p384-1", Ec),
    leaf!("p384-2", Ec),
    leaf!("rsa2048-1", Rsa2048),
    leaf!("rsa2048-2", Rsa2048),
    leaf!("rsa2048-3", Rsa2048),
    leaf!("rsa2048-4", Rsa2048),
    leaf!("rsa3072-1", RsaLarge),
    leaf!("rsa4096-1", RsaLarge),
    leaf!("ed25519-1", Ed25519),
    leaf!("rsa1024-1", RsaWeak),
    leaf!("rsa1024-2", RsaWeak),
];

/// Indices of the pool's keys of one class, in pool order.
pub(crate) fn keys_of(class: KeyClass) -> Vec<usize> {
    LEAF_KEYS
        .iter()
        .enumerate()
        .filter(|(_, (_, _, c))| *c == class)
        .map(|(i, _)| i)
        .collect()
}

/// The legacy CA and its leaves, signed with SHA-1 by openssl (rcgen cannot sign SHA-1).
/// The first certificate is the legacy root.
pub(crate) const LEGACY_SHA1_PEM: &str = fixture!("legacy", "sha1").1;
