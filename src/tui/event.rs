//! The event loop: one tokio task multiplexes terminal input (read on its own thread, so
//! a slow terminal never stalls anything), a tick, signals (SIGTERM, SIGHUP from an SSH
//! drop) and the results of background queries; the app handles one event at a time and
//! the screen is redrawn after each. Queries for big views run on blocking threads with
//! their own read-only connection, so the UI never waits on the database.

use super::app::{run_task, task_failed, App, Event, Task, TaskResult};
use crate::ops::Ctx;
use crate::store::Store;
use ratatui::crossterm::event as ct;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Runs the app on the real terminal until it quits; returns why it quit.
pub fn run(mut app: App, terminal: &mut ratatui::DefaultTerminal) -> std::io::Result<String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let (tx, mut rx) = mpsc::channel::<Event>(256);
        let stop = Arc::new(AtomicBool::new(false));
        spawn_input(tx.clone(), stop.clone());
        spawn_signals(tx.clone())?;
        {
            let tx = tx.clone();
            tokio::spawn(async move {
                let period = Duration::from_secs(30);
                let mut tick =
                    tokio::time::interval_at(tokio::time::Instant::now() + period, period);
                loop {
                    tick.tick().await;
                    if tx.send(Event::Tick).await.is_err() {
                        break;
                    }
                }
            });
        }
        let db: Option<PathBuf> = app.sh.ctx.store.path().map(|p| p.to_path_buf());
        let result = loop {
            dispatch(&mut app, &tx, db.as_ref());
            terminal.draw(|f| app.render(f))?;
            if let Some(why) = app.quit.take() {
                break Ok(why);
            }
            // While a renewal runs in the background, wake every second so `:jobs` can
            // show the step it has reached.
            let ev = if app.sh.renewing.is_empty() {
                rx.recv().await
            } else {
                match tokio::time::timeout(Duration::from_secs(1), rx.recv()).await {
                    Ok(ev) => ev,
                    Err(_) => Some(Event::Progress),
                }
            };
            let Some(ev) = ev else {
                break Ok("input closed".to_string());
            };
            app.handle(ev);
            // Drain what queued meanwhile (key repeat, a burst of paste) before drawing.
            while let Ok(ev) = rx.try_recv() {
                app.handle(ev);
                if app.quit.is_some() {
                    break;
                }
            }
        };
        stop.store(true, Ordering::Relaxed);
        result
    })
}

/// Starts pending tasks: on a blocking thread with a connection of its own when the
/// database is a file (read-only, or read-write for a task that writes, such as a
/// renewal: its steps go through `ops` like the CLI's), else inline.
fn dispatch(app: &mut App, tx: &mpsc::Sender<Event>, db: Option<&PathBuf>) {
    for task in app.take_tasks() {
        match db {
            Some(path) => {
                let path = path.clone();
                let tx = tx.clone();
                let clock = app.sh.ctx.clock.clone();
                let config = app.sh.ctx.config.clone();
                tokio::task::spawn_blocking(move || {
                    let result = run_detached(&path, clock, config, &task);
                    let _ = tx.blocking_send(Event::Task(result));
                });
            }
            None => {
                let r = app.run_task_inline(&task);
                app.handle(Event::Task(r));
            }
        }
    }
}

/// Runs `task` on a connection of its own to the database at `path`: what a background
/// thread does while the app keeps handling keys.
pub fn run_detached(
    path: &Path,
    clock: Arc<dyn crate::clock::Clock>,
    config: crate::config::Config,
    task: &Task,
) -> TaskResult {
    if let Task::Compliance { ticket, rows } = task {
        return super::app::compliance(*ticket, rows, clock.now());
    }
    let store = if task.writes() {
        Store::open(path)
    } else {
        Store::open_readonly(path)
    };
    match store {
        Ok(store) => run_task(&mut Ctx::new(store, clock, config), task),
        Err(e) => task_failed(task, crate::sanitize::sanitize(&e.to_string()).into_owned()),
    }
}

fn spawn_input(tx: mpsc::Sender<Event>, stop: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            match ct::poll(Duration::from_millis(200)) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(_) => break,
            }
            let ev = match ct::read() {
                Ok(ct::Event::Key(k)) => Event::Key(k),
                Ok(ct::Event::Resize(w, h)) => Event::Resize(w, h),
                Ok(_) => continue,
                Err(_) => break,
            };
            if tx.blocking_send(ev).is_err() {
                break;
            }
        }
    });
}

fn spawn_signals(tx: mpsc::Sender<Event>) -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    for (kind, name) in [
        (SignalKind::terminate(), "SIGTERM"),
        (SignalKind::hangup(), "SIGHUP"),
        (SignalKind::interrupt(), "SIGINT"),
    ] {
        let mut s = signal(kind)?;
        let tx = tx.clone();
        tokio::spawn(async move {
            if s.recv().await.is_some() {
                let _ = tx.send(Event::Signal(name)).await;
            }
        });
    }
    Ok(())
}
