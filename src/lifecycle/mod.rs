//! The lifecycle engine's rules: what a job is and how it moves, what a failure means and
//! what to do about it, which keys exist, what an estate file declares, and when
//! something is due. Pure where it can be; the I/O (CA connectors, deployment) lives in
//! `ca/` and `deploy/`, and the steps that change the store live in `ops::lifecycle`.

pub mod credential;
pub mod diagnosis;
pub mod estate;
pub mod gate;
pub mod job;
pub mod keys;
pub mod planner;
pub mod settings;

pub use diagnosis::{Category, Diagnosis};
pub use job::{Job, JobState};
pub use keys::{KeyType, PrivateKey};
pub use settings::Settings;

/// Maps `f` over `items` on every available core (scoped threads; results in order).
/// Key generation and signing are CPU-bound and independent per job, so a round of them
/// is split into one chunk per core. Small rounds stay on the calling thread: spawning
/// costs more than a handful of signatures.
pub fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores <= 1 || items.len() < 8 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(cores);
    let f = &f;
    std::thread::scope(|s| {
        let workers: Vec<_> = items
            .chunks(chunk)
            .map(|c| s.spawn(move || c.iter().map(f).collect::<Vec<R>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}
