//! A job is one lifecycle run for one identity, persisted step by step:
//! planned → ordering → issued → deploying → deployed → verifying → verified, or
//! failed(diagnosis). A failed job remembers the step it failed in, so a retry resumes
//! there: a certificate already issued is deployed, never ordered again.

use super::diagnosis::Category;
use serde::Serialize;
use time::{Duration, OffsetDateTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Planned,
    Ordering,
    Issued,
    Deploying,
    Deployed,
    Verifying,
    Verified,
    Failed,
    Cancelled,
}

impl JobState {
    pub const STEPS: [JobState; 7] = [
        JobState::Planned,
        JobState::Ordering,
        JobState::Issued,
        JobState::Deploying,
        JobState::Deployed,
        JobState::Verifying,
        JobState::Verified,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Planned => "planned",
            JobState::Ordering => "ordering",
            JobState::Issued => "issued",
            JobState::Deploying => "deploying",
            JobState::Deployed => "deployed",
            JobState::Verifying => "verifying",
            JobState::Verified => "verified",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        [
            JobState::Planned,
            JobState::Ordering,
            JobState::Issued,
            JobState::Deploying,
            JobState::Deployed,
            JobState::Verifying,
            JobState::Verified,
            JobState::Failed,
            JobState::Cancelled,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    /// Whether the job is over (nothing more will happen to it).
    pub fn is_final(self) -> bool {
        matches!(self, JobState::Verified | JobState::Cancelled)
    }

    /// The step after this one on the happy path.
    pub fn next(self) -> Option<JobState> {
        let i = JobState::STEPS.iter().position(|s| *s == self)?;
        JobState::STEPS.get(i + 1).copied()
    }

    /// 1-based position among the seven steps (for "step 4/7" progress).
    pub fn step_number(self) -> Option<usize> {
        JobState::STEPS
            .iter()
            .position(|s| *s == self)
            .map(|i| i + 1)
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job as the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    pub id: i64,
    pub identity_id: i64,
    pub identity: String,
    pub authority_id: i64,
    pub authority: String,
    pub reason: String,
    pub state: JobState,
    /// For a failed job, the step it failed in (where a retry resumes).
    pub failed_step: Option<JobState>,
    pub diagnosis: Option<Category>,
    pub message: Option<String>,
    pub attempts: i64,
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    pub order_ref: Option<String>,
    pub key_staging: Option<String>,
    pub certificate_id: Option<i64>,
    pub actor: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl Job {
    /// The step a run of this job starts from.
    pub fn resume_step(&self) -> JobState {
        match self.state {
            JobState::Failed => self.failed_step.unwrap_or(JobState::Planned),
            s => s,
        }
    }

    pub fn is_open(&self) -> bool {
        !self.state.is_final()
    }

    /// Held by the issuance gate until a reviewer approves: stored as a stop at `planned`
    /// (state `failed`, so it resumes and backs off like any stop), but not a failure.
    pub fn awaiting_approval(&self) -> bool {
        self.state == JobState::Failed && self.diagnosis == Some(Category::AwaitingApproval)
    }

    /// Stopped by a real failure (not merely awaiting approval).
    pub fn is_failing(&self) -> bool {
        self.state == JobState::Failed && !self.awaiting_approval()
    }
}

/// Per-identity exponential backoff: `base` after the first failure, doubling, capped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::hours(1),
            cap: Duration::hours(32),
        }
    }
}

impl Backoff {
    /// The wait after the `attempts`-th consecutive failure (1-based).
    pub fn delay(&self, attempts: i64) -> Duration {
        let exp = (attempts.max(1) - 1).min(30) as u32;
        let secs = self.base.whole_seconds().saturating_mul(1i64 << exp);
        Duration::seconds(secs.min(self.cap.whole_seconds()))
    }

    /// When to try again: the backoff, or the CA's Retry-After when that is later.
    pub fn next_attempt(
        &self,
        now: OffsetDateTime,
        attempts: i64,
        retry_after_secs: Option<i64>,
    ) -> OffsetDateTime {
        let d = self.delay(attempts);
        let ra = Duration::seconds(retry_after_secs.unwrap_or(0).max(0));
        now + d.max(ra)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_happy_path_visits_every_step_in_order() {
        let mut s = JobState::Planned;
        let mut seen = vec![s];
        while let Some(n) = s.next() {
            seen.push(n);
            s = n;
        }
        assert_eq!(seen, JobState::STEPS.to_vec());
        assert!(JobState::Verified.is_final());
        assert!(!JobState::Failed.is_final());
    }

    #[test]
    fn backoff_doubles_from_one_hour_to_a_32_hour_cap() {
        let b = Backoff::default();
        let hours: Vec<i64> = (1..=8).map(|a| b.delay(a).whole_hours()).collect();
        assert_eq!(hours, vec![1, 2, 4, 8, 16, 32, 32, 32]);
    }

    #[test]
    fn retry_after_wins_when_longer_than_the_backoff() {
        let b = Backoff::default();
        let now = time::macros::datetime!(2026-01-01 0:00 UTC);
        assert_eq!(b.next_attempt(now, 1, Some(7200)), now + Duration::hours(2));
        assert_eq!(b.next_attempt(now, 1, Some(60)), now + Duration::hours(1));
    }
}
