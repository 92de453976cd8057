//! The `[lifecycle]` section of the config file: timings and thresholds of the engine.
//! Every field has a default, so the section is optional.

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// First retry delay after a failure, in minutes (doubles per failure).
    pub backoff_base_minutes: i64,
    /// Longest retry delay, in hours.
    pub backoff_cap_hours: i64,
    /// Consecutive CA-side failures that open an authority's circuit.
    pub circuit_failures: i64,
    /// Minutes an open circuit waits before one probe is let through (half-open).
    pub circuit_cooldown_minutes: i64,
    /// How many handshakes verification tries before calling a mismatch a failure.
    pub verify_attempts: u32,
    pub verify_interval_ms: u64,
    pub verify_timeout_seconds: u64,
    pub reload_timeout_seconds: u64,
    /// Jobs `certdeck run` executes at once.
    pub concurrency: usize,
    /// Alert when more than this fraction of jobs finished in the window failed.
    pub alert_failure_rate: f64,
    pub alert_window_hours: i64,
    /// Do not alert on a failure rate computed from fewer jobs than this.
    pub alert_min_jobs: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            backoff_base_minutes: 60,
            backoff_cap_hours: 32,
            circuit_failures: 5,
            circuit_cooldown_minutes: 30,
            verify_attempts: 10,
            verify_interval_ms: 500,
            verify_timeout_seconds: 5,
            reload_timeout_seconds: 60,
            concurrency: 4,
            alert_failure_rate: 0.5,
            alert_window_hours: 24,
            alert_min_jobs: 4,
        }
    }
}

impl Settings {
    pub fn backoff(&self) -> super::job::Backoff {
        super::job::Backoff {
            base: time::Duration::minutes(self.backoff_base_minutes.max(1)),
            cap: time::Duration::hours(self.backoff_cap_hours.max(1)),
        }
    }

    pub fn verify_window(&self) -> crate::deploy::verify::Window {
        crate::deploy::verify::Window {
            attempts: self.verify_attempts.max(1),
            interval: std::time::Duration::from_millis(self.verify_interval_ms),
            timeout: std::time::Duration::from_secs(self.verify_timeout_seconds.max(1)),
        }
    }
}
