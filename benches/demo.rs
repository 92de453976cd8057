//! The demo estate's budget: 2,000 certificates in about 1-2 s in release (DESIGN.md:
//! budgets live in benches, never in tests). Larger estates are measured with
//! `cargo run --release -- demo --size 100000 --no-tui --out /tmp/demo-100k.db`.

use certdeck::demo::{build_estate, prepare, DemoOptions};
use certdeck::testing::ctx_at;
use criterion::{criterion_group, criterion_main, Criterion};
use std::time::Duration;
use time::macros::datetime;

fn demo_estate(c: &mut Criterion) {
    let mut g = c.benchmark_group("demo");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    let opts = DemoOptions::default();
    g.bench_function("build_estate size 2000, in memory", |b| {
        b.iter(|| {
            let (mut ctx, _clock, actor) = ctx_at(datetime!(2026-06-01 0:00 UTC));
            prepare(&mut ctx, &actor).unwrap();
            build_estate(&mut ctx, &actor, &opts).unwrap()
        })
    });
    g.bench_function("build_estate size 2000, on disk", |b| {
        b.iter_with_setup(
            || tempfile::tempdir().unwrap(),
            |dir| {
                let (mut ctx, _clock, actor) = certdeck::testing::ctx_on(
                    &dir.path().join("demo.db"),
                    datetime!(2026-06-01 0:00 UTC),
                );
                prepare(&mut ctx, &actor).unwrap();
                build_estate(&mut ctx, &actor, &opts).unwrap()
            },
        )
    });
    g.finish();
}

criterion_group!(benches, demo_estate);
criterion_main!(benches);
