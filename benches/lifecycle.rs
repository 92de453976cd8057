//! Scale budgets of the lifecycle engine (issue 6):
//! - planning over 100k identities ≤ 100 ms;
//! - local-CA issuance ≥ 2,000 ECDSA P-256 certificates/s end to end into the inventory.

use certdeck::ca::Standard;
use certdeck::lifecycle::estate::Estate;
use certdeck::lifecycle::planner::{self, AuthorityState, Candidate, OpenJob, Rules};
use certdeck::ops::lifecycle::{self as lc, RunOptions};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::collections::HashMap;
use std::path::Path;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-06-01 0:00 UTC);

fn candidates(n: usize) -> Vec<Candidate> {
    (0..n)
        .map(|i| {
            let left = Duration::hours((i % (90 * 24)) as i64);
            let na = NOW + left;
            Candidate {
                identity_id: i as i64,
                name: format!("svc-{i}"),
                authority_id: (i % 4) as i64,
                fallback_authority_id: Some(4),
                allow_fallback: i % 2 == 0,
                current: (i % 50 != 0).then(|| (na - Duration::days(90), na)),
                renew_before: None,
                registered_domain: Some(format!("team{}.example.com", i % 300)),
                san_set: format!("svc-{i}.team{}.example.com", i % 300),
                open_job: (i % 97 == 0).then(|| OpenJob {
                    id: i as i64,
                    failed: true,
                    next_attempt_at: Some(NOW + Duration::hours(1)),
                }),
            }
        })
        .collect()
}

fn planning(c: &mut Criterion) {
    let cands = candidates(100_000);
    let mut auths = HashMap::new();
    for a in 0..5 {
        auths.insert(
            a,
            AuthorityState {
                circuit_open_since: (a == 3).then_some(NOW - Duration::minutes(1)),
                ..Default::default()
            },
        );
    }
    let mut g = c.benchmark_group("planner");
    g.sample_size(20);
    g.throughput(Throughput::Elements(cands.len() as u64));
    g.bench_function("plan_100k_identities", |b| {
        b.iter(|| planner::plan(NOW, &cands, &auths, &Rules::default()))
    });
    g.finish();
}

fn issuance(c: &mut Criterion) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let text = format!(
        r#"
[[owner]]
name = "bench"
[[authority]]
name = "internal"
kind = "local"
environment = "prod"
ca_cert = "{d}/ca.pem"
credential = "file:{d}/ca.key"
[[identity]]
name = "svc"
owner = "bench"
profile = "bench-tls"
environment = "prod"
authority = "internal"
sans = ["svc.example.test"]
key = "ecdsa-p256"
"#
    );
    let estate = Estate::parse(&text, Path::new("bench.toml")).unwrap();
    let (mut ctx, _clock, alice) = certdeck::testing::ctx_at(NOW);
    let profile = r#"
[[profile]]
name = "bench-tls"
description = "bench"
environment = "prod"
authorities = ["internal"]
key_types = ["ecdsa-p256"]
max_validity_days = 90
renew_before = "1/3"
owner_required = true
public = false
approvals = 0
[profile.sans]
dns_suffixes = ["example.test"]
wildcards = false
ip = false
max = 10
"#;
    certdeck::ops::policy::load_files(&mut ctx, &alice, &[("bench.toml".into(), profile.into())])
        .unwrap();
    lc::apply_estate(&mut ctx, &alice, &estate).unwrap();
    let opts = RunOptions::from_ctx(&ctx, true);
    let connectors = Standard::default();
    let mut g = c.benchmark_group("local_ca");
    g.throughput(Throughput::Elements(1));
    g.bench_function("issue_p256_into_inventory", |b| {
        b.iter(|| {
            let o = lc::renew(&mut ctx, &alice, "svc", &opts, &connectors).unwrap();
            assert!(o.diagnosis.is_none());
        })
    });
    g.finish();
}

criterion_group!(benches, planning, issuance);
criterion_main!(benches);
