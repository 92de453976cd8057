//! The console's budgets on a 100k-certificate inventory (issue 3):
//! - first frame after start ≤ 200 ms (the dashboard, from aggregate queries run as a
//!   background task; the full inventory loads in the background meanwhile);
//! - the dashboard never blocks input: what a refresh (the clock's tick) costs on the
//!   input path, apart from the figures computed off it, is measured separately;
//! - applying a `/` filter over 100k certificates and redrawing ≤ 16 ms median;
//! - ≤ 200 MB resident with the 100k inventory loaded (printed, not timed).
//!
//! The 100k database is the demo estate (seed 7) built once and cached under
//! `target/bench-data/`; delete the file to rebuild it. It is opened read-only, as
//! `certdeck --readonly` opens it, so measuring never changes it.

use certdeck::clock::FixedClock;
use certdeck::config::Config;
use certdeck::demo::{build_estate, prepare, DemoOptions};
use certdeck::ops::Ctx;
use certdeck::store::Store;
use certdeck::tui::app::{App, Event, Task};
use certdeck::tui::theme::Theme;
use criterion::{criterion_group, criterion_main, Criterion};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::macros::datetime;
use time::OffsetDateTime;

const NOW: OffsetDateTime = datetime!(2026-11-22 12:00 UTC);
const SIZE: usize = 100_000;

fn bench_db() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    let path = dir.join(format!("demo-{SIZE}-seed7.db"));
    if path.exists() {
        // Brings a database cached by an older build up to the current schema.
        drop(Store::open(&path).unwrap());
        return path;
    }
    std::fs::create_dir_all(&dir).unwrap();
    let tmp = dir.join(format!("demo-{SIZE}-seed7.db.building"));
    let _ = std::fs::remove_file(&tmp);
    eprintln!(
        "building the {SIZE}-certificate demo estate once into {}",
        path.display()
    );
    {
        let (mut ctx, _clock, actor) = certdeck::testing::ctx_on(&tmp, NOW);
        prepare(&mut ctx, &actor).unwrap();
        build_estate(
            &mut ctx,
            &actor,
            &DemoOptions {
                size: SIZE,
                seed: 7,
            },
        )
        .unwrap();
    }
    for ext in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", tmp.display()));
    }
    std::fs::rename(&tmp, &path).unwrap();
    path
}

fn console(path: &Path) -> App {
    let store = Store::open_readonly(path).unwrap();
    let ctx = Ctx::new(store, Arc::new(FixedClock::new(NOW)), Config::default());
    let theme = Theme::load("default", None).unwrap();
    App::new(
        certdeck::tui::shared(ctx, true, theme, true, "bench".into()),
        "dash",
    )
}

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn console_budgets(c: &mut Criterion) {
    let path = bench_db();
    let mut g = c.benchmark_group("console 100k");
    g.sample_size(20).measurement_time(Duration::from_secs(10));

    // Start to first frame with the figures: open the database, build the app, run the
    // dashboard's task (on its own thread in the console), draw.
    g.bench_function("first frame (dashboard)", |b| {
        b.iter(|| {
            let mut app = console(&path);
            app.settle_where(|t| matches!(t, Task::Dashboard { .. }));
            let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
            term.draw(|f| app.render(f)).unwrap();
            app
        })
    });
    // The dashboard's aggregate queries alone: the background task's cost.
    {
        let store = Store::open_readonly(&path).unwrap();
        g.bench_function("dashboard figures (background task)", |b| {
            b.iter(|| certdeck::tui::views::dashboard::Figures::load(store.read(), NOW).unwrap())
        });
    }

    // What the background load costs before the table can show all 100k rows.
    g.sample_size(10);
    g.bench_function("load inventory and draw :certs", |b| {
        b.iter(|| {
            let mut app = console(&path);
            app.settle();
            app.run_command("certs");
            let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
            term.draw(|f| app.render(f)).unwrap();
            app
        })
    });
    g.sample_size(50);

    let mut app = console(&path);
    app.settle();
    app.run_command("certs");
    let mut term = Terminal::new(TestBackend::new(160, 48)).unwrap();
    term.draw(|f| app.render(f)).unwrap();
    eprintln!(
        "RSS with {SIZE} certificates loaded: {} MiB (peak {} MiB)",
        rss_kib("VmRSS:") / 1024,
        rss_kib("VmHWM:") / 1024
    );
    for q in [
        "northwind",
        "owner:payments-platform expires<30d",
        "ca:vault !expired",
        "weak",
        "san:shop env:prod expires<90d",
    ] {
        // From a cleared filter each time (untimed), so every sample parses the query
        // and tests all 100k rows.
        g.bench_function(format!("filter + redraw: {q}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    app.apply_filter("").unwrap();
                    let t = Instant::now();
                    app.apply_filter(q).unwrap();
                    term.draw(|f| app.render(f)).unwrap();
                    total += t.elapsed();
                }
                total
            })
        });
    }
    g.bench_function("scroll one page + redraw", |b| {
        b.iter(|| {
            app.perform(certdeck::tui::action::Action::PageDown);
            term.draw(|f| app.render(f)).unwrap();
        })
    });

    // The dashboard with 100k loaded: a redraw, and a refresh (the clock's tick) as the
    // input path sees it; the figures it asks for are computed off the input path.
    app.run_command("dash");
    app.settle();
    term.draw(|f| app.render(f)).unwrap();
    g.bench_function("dashboard redraw (100k loaded)", |b| {
        b.iter(|| {
            term.draw(|f| app.render(f)).unwrap();
        })
    });
    g.bench_function("dashboard tick on the input path + redraw", |b| {
        b.iter(|| {
            app.handle(Event::Tick);
            let queued = app.take_tasks();
            term.draw(|f| app.render(f)).unwrap();
            queued
        })
    });
    // The in-memory index built with the rows at load (folded text, groups, expiry),
    // part of the background load above; last, so its copies of the rows do not count
    // in the resident memory printed above.
    {
        let rows = Store::open_readonly(&path)
            .unwrap()
            .read()
            .certificate_rows(certdeck::store::RowSelect::default())
            .unwrap();
        g.bench_function("index 100k rows at load (haystacks + groups)", |b| {
            b.iter_batched(
                || rows.clone(),
                certdeck::tui::app::LoadedInventory::of,
                criterion::BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, console_budgets);
criterion_main!(benches);
