//! Scale budgets of issue 2, measured on a generated 100,000-certificate PEM bundle
//! (made once by examples/make_bundle.rs and cached under target/bench-data/; its expiry
//! spread is a real estate's: 3% of leaves expire within 30 days of the bench clock, 2%
//! have expired):
//!
//! - import into a fresh file database: ≥ 50,000 certificates/s end to end (parse,
//!   fingerprint, SAN index, issuer links, policy findings, commit);
//! - `list --expiring 30 --json` over the 100k inventory: ≤ 300 ms (query, findings of
//!   the listed rows, JSON streamed to a sink, as the binary streams it to stdout);
//! - the database for 100k certificates: ≤ 300 MB (printed, not timed).
//!
//! The clock is the bundle's fixed "now" (`make_bundle::BUNDLE_NOW`): release builds of
//! the binary run on the wall clock only, so this bench is where the list figure is
//! reproducible. Peak RSS is measured outside criterion, with `/usr/bin/time -v
//! certdeck import` (docs/getting-started.md, "Scale").
//!
//!     cargo bench --bench import            # CERTDECK_BENCH_N=20000 for a quicker run

#[path = "../examples/make_bundle.rs"]
mod make_bundle;

use certdeck::cli::list::{write_list, ListArgs};
use certdeck::ops::import::{import, ImportOptions, Source};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::time::Duration;

fn n() -> usize {
    std::env::var("CERTDECK_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::parse(
        make_bundle::BUNDLE_NOW,
        &time::format_description::well_known::Rfc3339,
    )
    .expect("bundle time")
}

fn import_bundle(db: &std::path::Path, bundle: &std::path::Path) -> certdeck::ops::Ctx {
    let (mut ctx, _, actor) = certdeck::testing::ctx_on(db, now());
    let report = import(
        &mut ctx,
        &actor,
        vec![Source::Path(bundle.to_path_buf())],
        &ImportOptions::default(),
        &mut |_, _| {},
    )
    .expect("import");
    assert_eq!(report.new, n() + 4, "{report:?}");
    assert!(report.errors.is_empty());
    ctx
}

fn benches(c: &mut Criterion) {
    let bundle = make_bundle::bundle_path(n());
    let mut g = c.benchmark_group("import");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(30))
        .throughput(Throughput::Elements((n() + 4) as u64));
    g.bench_function(format!("{}_certificates_into_a_fresh_file_db", n()), |b| {
        b.iter_batched(
            || tempfile::tempdir().expect("tempdir"),
            |dir| {
                let ctx = import_bundle(&dir.path().join("bench.db"), &bundle);
                drop(ctx);
                dir
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();

    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("bench.db");
    // Closed and opened again, as the next `certdeck` command finds it: the import's
    // write-ahead log checkpointed into the database file.
    drop(import_bundle(&db, &bundle));
    let (ctx, _, _) = certdeck::testing::ctx_on(&db, now());
    let size: u64 = ["", "-wal"]
        .iter()
        .filter_map(|s| std::fs::metadata(format!("{}{s}", db.display())).ok())
        .map(|m| m.len())
        .sum();
    eprintln!(
        "database for {} certificates: {:.1} MB",
        n() + 4,
        size as f64 / 1e6
    );

    let mut g = c.benchmark_group("list");
    g.sample_size(20);
    let args = ListArgs {
        expiring: Some(30),
        json: true,
        ..ListArgs::default()
    };
    let mut rows = 0usize;
    g.bench_function(format!("expiring_30_json_over_{}", n()), |b| {
        b.iter(|| {
            let mut out = std::io::BufWriter::new(std::io::sink());
            rows = write_list(&ctx, &args, &mut out, None).expect("list");
            out
        })
    });
    eprintln!("list --expiring 30 --json returned {rows} certificates");
    g.finish();
}

criterion_group!(import_benches, benches);
criterion_main!(import_benches);
