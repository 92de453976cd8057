//! Scale budgets of the lifecycle engine (issue 6):
//! - planning over 100k identities ≤ 100 ms;
//! - local-CA issuance ≥ 2,000 ECDSA P-256 certificates/s end to end into the inventory.

use certdeck::ca::Standard;
use certdeck::lifecycle::estate::Estate;
use certdeck::lifecycle::planner::{self, AuthorityState, Candidate, OpenJob, Rules};
use certdeck::lifecycle::JobState;
use certdeck::ops::lifecycle::{self as lc, RunOptions};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode, Throughput};
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

/// How many identities one measured `renew --due` renews.
const ESTATE: usize = 1000;

/// An estate of `n` ECDSA P-256 identities on one generated local CA (budgets raised so
/// the planner lets a whole estate renew at once).
fn estate_text(dir: &Path, n: usize) -> String {
    let d = dir.display();
    let mut text = format!(
        r#"
[[owner]]
name = "bench"
[[authority]]
name = "internal"
kind = "local"
environment = "prod"
ca_cert = "{d}/ca.pem"
credential = "file:{d}/ca.key"
orders_per_3h = 100000000
certs_per_domain_per_week = 100000000
duplicates_per_week = 100000
"#
    );
    for i in 0..n {
        text.push_str(&format!(
            r#"
[[identity]]
name = "svc-{i}"
owner = "bench"
profile = "bench-tls"
environment = "prod"
authority = "internal"
sans = ["svc-{i}.team{t}.example.test"]
key = "ecdsa-p256"
"#,
            t = i % 50
        ));
    }
    text
}

const PROFILE: &str = r#"
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

/// Certificates each identity already has when the measured renewal starts.
const GENERATIONS: i64 = 2;

/// A copy of the prepared inventory, removed when the measurement is done with it.
struct Run {
    ctx: certdeck::ops::Ctx,
    alice: certdeck::model::Actor,
    path: std::path::PathBuf,
}

impl Drop for Run {
    fn drop(&mut self) {
        for ext in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{ext}", self.path.display()));
        }
    }
}

/// The ops path end to end, on a database file: plan → gate → key → sign → inventory
/// (rows, SANs, issuer links, compliance) → audit → job state, for a whole estate that is
/// due (`renew --due`: 1000 ECDSA P-256 identities renewed together), then for one
/// identity alone (`renew NAME`, a batch of one). Each measured renewal starts from a
/// copy of the same inventory (every identity with GENERATIONS certificates already), so
/// every sample does the same work.
fn issuance(c: &mut Criterion) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("template.db");
    let estate = Estate::parse(&estate_text(dir.path(), ESTATE), Path::new("bench.toml")).unwrap();
    let connectors = Standard::default();
    let renew_all = |ctx: &mut certdeck::ops::Ctx, alice: &certdeck::model::Actor| {
        let opts = RunOptions::from_ctx(ctx, false);
        let done = lc::renew_due(ctx, alice, &opts, &connectors, false).unwrap();
        assert_eq!(done.len(), ESTATE);
        for r in &done {
            let verified = r
                .outcome
                .as_ref()
                .is_some_and(|o| o.diagnosis.is_none() && o.job.state == JobState::Verified);
            assert!(verified, "{}", serde_json::to_string(r).unwrap());
        }
    };
    {
        let (mut ctx, clock, alice) = certdeck::testing::ctx_on(&template, NOW);
        certdeck::ops::policy::load_files(
            &mut ctx,
            &alice,
            &[("bench.toml".into(), PROFILE.into())],
        )
        .unwrap();
        lc::apply_estate(&mut ctx, &alice, &estate).unwrap();
        for _ in 0..GENERATIONS {
            renew_all(&mut ctx, &alice);
            // Two thirds of a 90-day lifetime later, the whole estate is due again.
            clock.advance(Duration::days(61));
        }
    }
    let at = NOW + Duration::days(61 * GENERATIONS);
    let mut copies = 0;
    let mut copy = || {
        copies += 1;
        let path = dir.path().join(format!("run-{copies}.db"));
        std::fs::copy(&template, &path).unwrap();
        let (ctx, _clock, alice) = certdeck::testing::ctx_on(&path, at);
        Run { ctx, alice, path }
    };
    let mut g = c.benchmark_group("local_ca");
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.measurement_time(std::time::Duration::from_secs(10));
    g.throughput(Throughput::Elements(ESTATE as u64));
    g.bench_function("issue_p256_into_inventory", |b| {
        b.iter_batched(
            &mut copy,
            |mut run| {
                renew_all(&mut run.ctx, &run.alice);
                run
            },
            BatchSize::PerIteration,
        )
    });
    g.throughput(Throughput::Elements(1));
    let mut one = copy();
    let opts_now = RunOptions::from_ctx(&one.ctx, true);
    g.bench_function("issue_p256_one_identity", |b| {
        b.iter(|| {
            let o = lc::renew(&mut one.ctx, &one.alice, "svc-0", &opts_now, &connectors).unwrap();
            assert!(o.diagnosis.is_none());
        })
    });
    g.finish();
}

criterion_group!(benches, planning, issuance);
criterion_main!(benches);
