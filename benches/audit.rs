//! Audit log budgets: appending a record inside a transaction (every op pays this), and
//! verifying a whole chain (what `certdeck audit verify` costs on a big log).

use certdeck::audit::{self, Entry};
use certdeck::store::{Store, StoreError};
use certdeck::testing::operator;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use serde_json::json;
use time::macros::datetime;

fn fill(store: &mut Store, n: usize) {
    let actor = operator("bench");
    let at = datetime!(2026-11-22 12:00 UTC);
    store
        .transaction(|tx| -> Result<(), StoreError> {
            for i in 0..n {
                tx.append_audit(
                    &actor,
                    at,
                    &Entry::success(
                        "owner.create",
                        "owner",
                        format!("team-{i}"),
                        json!({"contact": "team@example.com", "business_unit": "retail"}),
                    ),
                )?;
            }
            Ok(())
        })
        .unwrap();
}

fn append(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("bench.db")).unwrap();
    fill(&mut store, 1_000);
    let actor = operator("bench");
    let at = datetime!(2026-11-22 12:00 UTC);
    let mut g = c.benchmark_group("audit");
    g.throughput(Throughput::Elements(1));
    // One record in its own committed transaction on a WAL file: the cost one op adds.
    g.bench_function("append_one_committed", |b| {
        b.iter(|| {
            store
                .transaction(|tx| {
                    tx.append_audit(
                        &actor,
                        at,
                        &Entry::success("owner.create", "owner", "x", json!({"k": "v"})),
                    )
                })
                .unwrap()
        })
    });
    g.finish();
}

fn verify(c: &mut Criterion) {
    let mut g = c.benchmark_group("audit");
    g.sample_size(10);
    let n = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("verify.db")).unwrap();
    fill(&mut store, n);
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("verify_100k", |b| {
        b.iter_batched(
            || (),
            |_| {
                let v = audit::verify(store.read(), None).unwrap();
                assert!(v.is_intact());
                v.records
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, append, verify);
criterion_main!(benches);
