//! One clock for the whole program (DESIGN.md rule 6): everything that asks "what time is
//! it" asks a `Clock`, so tests can fix and move time instead of sleeping.

use std::sync::{Arc, Mutex};
use time::OffsetDateTime;

pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

/// The wall clock, in UTC.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that stands still until a test moves it.
#[derive(Debug, Clone)]
pub struct FixedClock(Arc<Mutex<OffsetDateTime>>);

impl FixedClock {
    pub fn new(at: OffsetDateTime) -> Self {
        Self(Arc::new(Mutex::new(at)))
    }
    pub fn set(&self, at: OffsetDateTime) {
        *self.0.lock().expect("clock lock") = at;
    }
    pub fn advance(&self, by: time::Duration) {
        let mut t = self.0.lock().expect("clock lock");
        *t += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().expect("clock lock")
    }
}

/// The clock the binary runs on. Debug builds (the ones the test suite drives) honour
/// `CERTDECK_NOW=<RFC 3339>` so CLI tests are reproducible; release builds never do, so an
/// operator cannot backdate audit records by setting a variable.
pub fn from_env() -> Arc<dyn Clock> {
    if cfg!(debug_assertions) {
        if let Ok(v) = std::env::var("CERTDECK_NOW") {
            if let Ok(t) = OffsetDateTime::parse(&v, &time::format_description::well_known::Rfc3339)
            {
                return Arc::new(FixedClock::new(t));
            }
        }
    }
    Arc::new(SystemClock)
}

/// RFC 3339 in UTC, the one textual time format certdeck writes.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// Whole days from `now` until `t`, rounded down (negative once `t` has passed), the way
/// an operator reads "days left".
pub fn days_until(now: OffsetDateTime, t: OffsetDateTime) -> i64 {
    (t - now).whole_seconds().div_euclid(86_400)
}
