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
