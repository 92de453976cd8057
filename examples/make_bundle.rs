//! Writes a large PEM bundle for scale measurements: one root, three issuing CAs and N
//! leaves (Ed25519, the fastest key type to sign with), CAs first and leaves after, two
//! SANs each, with the expiry spread of a real estate around the bundle's "now" (see
//! [`expiry_offset_days`]): most certificates healthy, a few percent due within any
//! 30-day window, a few long expired. Deterministic: the same N and now give the same
//! names, serials and dates (signatures differ: keys are generated each time).
//!
//!     cargo run --release --example make_bundle -- 100000 target/bench-data/bundle-v2-100000.pem
//!     cargo run --release --example make_bundle -- 100000 /tmp/b.pem 2026-11-29T00:00:00Z
//!
//! The third argument centres validity on another "now" than [`BUNDLE_NOW`]: release
//! builds run on the wall clock, so timing the real binary needs a bundle made around
//! today. `benches/import.rs` includes this file for [`bundle_path`], so the bundle is
//! made once and cached under `target/bench-data/`.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair, SanType,
    SerialNumber,
};
use std::path::{Path, PathBuf};
use time::{Duration, OffsetDateTime};

#[allow(dead_code)]
fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("N must be a number"))
        .unwrap_or(100_000);
    let out = std::env::args()
        .nth(2)
        .map(PathBuf::from)
        .unwrap_or_else(|| default_path(n));
    let now = std::env::args().nth(3).unwrap_or_else(|| BUNDLE_NOW.into());
    let started = std::time::Instant::now();
    write_bundle(&out, n, &now);
    println!(
        "{} certificates written to {} in {:.1?}",
        n + 4,
        out.display(),
        started.elapsed()
    );
}

/// The cached bundle of `n` leaves, made on first use.
#[allow(dead_code)]
pub fn bundle_path(n: usize) -> PathBuf {
    let p = default_path(n);
    if !p.exists() {
        write_bundle(&p, n, BUNDLE_NOW);
    }
    p
}

/// Versioned: a bundle cached by an older generator (another expiry spread) is not reused.
fn default_path(n: usize) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/bench-data")
        .join(format!("bundle-v2-{n}.pem"))
}

/// The certificates' "now": validity is spread around it.
pub const BUNDLE_NOW: &str = "2026-06-01T00:00:00Z";

fn write_bundle(out: &Path, n: usize, now: &str) {
    let now = OffsetDateTime::parse(now, &time::format_description::well_known::Rfc3339)
        .expect("now must be RFC 3339, like 2026-06-01T00:00:00Z");
    let root_key = KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("key");
    let root = ca("Bench Root CA", now, None);
    let root_issuer = Issuer::from_params(&root, &root_key);
    let mut text = root.self_signed(&root_key).expect("root").pem();
    let mut issuers = Vec::new();
    for i in 0..3 {
        let key = KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("key");
        let mut p = ca(&format!("Bench Issuing CA {}", i + 1), now, Some(i));
        p.use_authority_key_identifier_extension = true;
        text.push_str(&p.signed_by(&key, &root_issuer).expect("ca").pem());
        issuers.push((p, key));
    }
    // A few leaf keys shared across many certificates: key generation is not what an
    // import measures, and fingerprints stay distinct (serial, names and dates differ).
    let leaf_keys: Vec<KeyPair> = (0..16)
        .map(|_| KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("key"))
        .collect();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let chunk = n.div_ceil(threads).max(1);
    let parts: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .step_by(chunk)
            .map(|start| {
                let issuers = &issuers;
                let leaf_keys = &leaf_keys;
                s.spawn(move || {
                    let mut part = String::with_capacity(chunk * 700);
                    for i in start..(start + chunk).min(n) {
                        let (ca, ca_key) = &issuers[i % issuers.len()];
                        let issuer = Issuer::from_params(ca, ca_key);
                        let p = leaf(i, now);
                        let cert = p
                            .signed_by(&leaf_keys[i % leaf_keys.len()], &issuer)
                            .expect("leaf");
                        part.push_str(&cert.pem());
                    }
                    part
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("generator thread"))
            .collect()
    });
    for p in parts {
        text.push_str(&p);
    }
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).expect("bench-data dir");
    }
    let tmp = out.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write bundle");
    std::fs::rename(&tmp, out).expect("rename bundle");
}

fn ca(cn: &str, now: OffsetDateTime, serial: Option<u8>) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "certdeck bench");
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.not_before = now - Duration::days(365);
    p.not_after = now + Duration::days(3650);
    p.serial_number = Some(SerialNumber::from_slice(&[0x0c, serial.unwrap_or(0xff)]));
    p
}

fn leaf(i: usize, now: OffsetDateTime) -> CertificateParams {
    let mut p = CertificateParams::default();
    let host = format!("svc{i}.bench.example.com");
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "certdeck bench");
    dn.push(DnType::CommonName, host.as_str());
    p.distinguished_name = dn;
    p.subject_alt_names = vec![
        SanType::DnsName(host.as_str().try_into().expect("dns")),
        SanType::DnsName(
            format!("svc{i}.internal.example")
                .as_str()
                .try_into()
                .expect("dns"),
        ),
    ];
    p.use_authority_key_identifier_extension = true;
    p.serial_number = Some(SerialNumber::from((i as u64) + 0x1000));
    p.not_after = now + Duration::days(expiry_offset_days(i));
    p.not_before = p.not_after - Duration::days(397);
    p
}

/// Days from the bundle's "now" to leaf `i`'s not-after. An estate renewed on time has
/// its expiries spread evenly over the lifetime of its certificates, so any 30-day window
/// holds about 30/397 of them, less what was already renewed; plus a tail of expired
/// certificates nobody removed. Leaves are dealt into bands by `i * 37 % 100` (a
/// permutation of 0..100, so each band is an exact share of every 100 leaves):
///
/// | share | not-after |
/// |---|---|
/// | 2% | expired, 1 to 400 days ago |
/// | 3% | within 30 days (1 to 29 days ahead) |
/// | 95% | 31 to 396 days ahead |
pub fn expiry_offset_days(i: usize) -> i64 {
    let band = (i * 37) % 100;
    // A second, independent spread inside the band.
    let spread = ((i as u64).wrapping_mul(2_654_435_761) >> 7) as i64;
    match band {
        0..=1 => -1 - spread % 400,
        2..=4 => 1 + spread % 29,
        _ => 31 + spread % 366,
    }
}
