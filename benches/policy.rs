//! Budget (issue 4): evaluating 100k certificates against their profiles and the global
//! rules in at most 1 s. Measures the pure engine over an in-memory estate shaped like a
//! real one (three profiles by rule, a mix of compliant and broken certificates).

use certdeck::model::{CertRow, CertStatus, Environment};
use certdeck::policy::compliance::{evaluate_inventory, Inventory, Usage};
use certdeck::policy::parse_set;
use criterion::{criterion_group, criterion_main, Criterion};
use std::collections::HashMap;
use time::macros::datetime;
use time::Duration;

fn estate(n: usize) -> (Vec<CertRow>, HashMap<i64, Usage>) {
    let now = datetime!(2026-11-29 12:00 UTC);
    let mut rows = Vec::with_capacity(n);
    let mut usage = HashMap::with_capacity(n);
    for i in 0..n {
        let (authority, suffix, env) = match i % 4 {
            0 => ("letsencrypt", "example.com", Environment::Prod),
            1 => ("internal-ca", "internal.example.com", Environment::Prod),
            2 => ("staging-ca", "test.example.com", Environment::Nonprod),
            _ => ("unknown-ca", "example.net", Environment::Prod),
        };
        let name = format!("host{i}.{suffix}");
        let not_before = now - Duration::days((i % 300) as i64);
        let days = [30, 90, 200, 398][(i / 3) % 4];
        rows.push(CertRow {
            id: i as i64,
            fingerprint_sha256: format!("{i:064x}"),
            serial: format!("{i:x}"),
            subject: format!("CN={name}"),
            subject_cn: Some(name.clone()),
            issuer: format!("CN={authority}"),
            issuer_cn: Some(authority.into()),
            sans: if i % 10 == 0 {
                vec![name, "10.0.0.1".into(), format!("*.{suffix}")]
            } else {
                vec![name]
            },
            not_before,
            not_after: not_before + Duration::days(days),
            key_algorithm: if i % 7 == 0 { "rsa" } else { "ecdsa" }.into(),
            key_bits: Some(if i % 7 == 0 { 2048 } else { 256 }),
            signature_algorithm: if i % 7 == 0 {
                "sha256WithRSAEncryption"
            } else {
                "ecdsa-with-SHA256"
            }
            .into(),
            is_ca: false,
            owner: (i % 9 != 0).then(|| format!("team{}", i % 40)),
            authority: Some(authority.into()),
            environment: Some(env),
            identity: None,
            status: CertStatus::Active,
            profile: None,
            findings: vec![],
        });
        usage.insert(
            i as i64,
            Usage {
                eku: vec!["server-auth".into(), "client-auth".into()],
                key_usage: vec!["digital-signature".into()],
            },
        );
    }
    (rows, usage)
}

fn bench(c: &mut Criterion) {
    let files: Vec<(String, String)> = certdeck::ops::policy::STARTER
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    let set = parse_set(&files).expect("starter set");
    let (rows, usage) = estate(100_000);
    let identities = HashMap::new();
    let mut g = c.benchmark_group("policy");
    g.sample_size(10);
    g.bench_function("evaluate 100k certificates", |b| {
        b.iter(|| {
            let ev = evaluate_inventory(&Inventory {
                rows: &rows,
                usage: &usage,
                identity_profiles: &identities,
                profiles: &set.profiles,
                rules: &set.rules,
                exceptions: &[],
                version: Some(&set.version),
                only: None,
            });
            assert_eq!(ev.len(), 100_000);
            ev
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
