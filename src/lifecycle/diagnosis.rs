//! Every failure ends in one of a fixed set of categories, so an operator (and the
//! planner) knows whether to wait, fix DNS, call the CA, or fix a deployment, instead of
//! reading a stack of error text.

use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Dns,
    CaUnavailable,
    RateLimited,
    ChallengeFailed,
    Unauthorized,
    PolicyDenied,
    /// The profile wants issuance approved and no approved request covers it (none yet,
    /// one pending, or one that lapsed or no longer covers the names, profile or
    /// authority). Not a failure: the identity waits on a reviewer, and the approval
    /// releases the job (`job.release`).
    AwaitingApproval,
    PolicyViolation,
    DeployPermission,
    ReloadFailed,
    VerifyUnreachable,
    VerifyMismatch,
}

impl Category {
    pub const ALL: [Category; 12] = [
        Category::Dns,
        Category::CaUnavailable,
        Category::RateLimited,
        Category::ChallengeFailed,
        Category::Unauthorized,
        Category::PolicyDenied,
        Category::AwaitingApproval,
        Category::PolicyViolation,
        Category::DeployPermission,
        Category::ReloadFailed,
        Category::VerifyUnreachable,
        Category::VerifyMismatch,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Dns => "dns",
            Category::CaUnavailable => "ca_unavailable",
            Category::RateLimited => "rate_limited",
            Category::ChallengeFailed => "challenge_failed",
            Category::Unauthorized => "unauthorized",
            Category::PolicyDenied => "policy_denied",
            Category::AwaitingApproval => "awaiting_approval",
            Category::PolicyViolation => "policy_violation",
            Category::DeployPermission => "deploy_permission",
            Category::ReloadFailed => "reload_failed",
            Category::VerifyUnreachable => "verify_unreachable",
            Category::VerifyMismatch => "verify_mismatch",
        }
    }

    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// What a person should do next; shown beside every failure.
    pub fn next_step(self) -> &'static str {
        match self {
            Category::Dns => "check that the names resolve (and that the DNS-01 hook can write TXT records); certdeck retries with backoff",
            Category::CaUnavailable => "the CA did not answer; certdeck retries with backoff and opens the authority's circuit after repeated failures; check the CA's status page or network path",
            Category::RateLimited => "the CA's rate limit was hit; certdeck waits for the Retry-After time; reduce churn or use the fallback authority",
            Category::ChallengeFailed => "the CA could not validate control of the names: check the HTTP-01 responder or webroot is reachable on port 80, or the DNS-01 TXT record",
            Category::Unauthorized => "the CA refused the account or credential: check the credential reference and the account's authorization for these names",
            Category::PolicyDenied => "the identity's profile does not allow this issuance: change the request or ask for an exception",
            Category::AwaitingApproval => "nothing is wrong with the identity: its profile wants issuance approved; a reviewer holding the profile's approver role approves the issuance request (`certdeck requests`, `certdeck approve ID`, or the console's :approvals), and the approval releases the job at once",
            Category::PolicyViolation => "the CA returned a certificate that breaks the profile; it was not deployed: check the CA's profile configuration",
            Category::DeployPermission => "certdeck could not write the target files: check directory ownership and modes for the user running certdeck",
            Category::ReloadFailed => "the files were written but the reload command failed: run it by hand to see why, then `certdeck renew IDENTITY --now` resumes",
            Category::VerifyUnreachable => "the endpoint did not answer a TLS handshake: check the service is up and the verify address is right",
            Category::VerifyMismatch => "the endpoint still serves another certificate (issued but not served): check the reload really reloads and the target paths are the ones the server reads",
        }
    }

    /// Failures the CA side causes count against the authority's circuit breaker;
    /// deployment failures do not (the CA worked).
    pub fn counts_against_authority(self) -> bool {
        matches!(self, Category::CaUnavailable | Category::RateLimited)
    }

    /// Whether this is a failure at all: a job awaiting approval is held by design, so it
    /// is listed apart from failures, never counted in the failure rate, and shown as
    /// waiting rather than failed.
    pub fn is_failure(self) -> bool {
        self != Category::AwaitingApproval
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure, explained: category, the underlying message, and (for rate limits) when
/// the CA said to come back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    pub category: Category,
    pub message: String,
    /// Seconds the CA asked us to wait (Retry-After), when it said.
    pub retry_after_secs: Option<i64>,
    /// The time the CA named for a retry in its problem text ("retry after 2026-12-01
    /// 08:00:00 UTC"), when it named one: absolute, so it needs no clock to read.
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub retry_at: Option<time::OffsetDateTime>,
}

impl Diagnosis {
    pub fn new(category: Category, message: impl Into<String>) -> Diagnosis {
        Diagnosis {
            category,
            message: message.into(),
            retry_after_secs: None,
            retry_at: None,
        }
    }
    pub fn with_retry_after(mut self, secs: Option<i64>) -> Diagnosis {
        self.retry_after_secs = secs;
        self
    }
    pub fn next_step(&self) -> &'static str {
        self.category.next_step()
    }

    /// When to try again after this failure: the backoff's time for `attempts`, unless the
    /// CA asked for later (Retry-After, or a time named in its problem).
    pub fn next_attempt(
        &self,
        backoff: &super::job::Backoff,
        now: time::OffsetDateTime,
        attempts: i64,
    ) -> time::OffsetDateTime {
        let by_backoff = backoff.next_attempt(now, attempts, self.retry_after_secs);
        self.retry_at.map_or(by_backoff, |at| at.max(by_backoff))
    }
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.category, self.message)
    }
}

impl std::error::Error for Diagnosis {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_category_round_trips_and_has_a_next_step() {
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(c));
            assert!(!c.next_step().is_empty());
        }
        assert_eq!(Category::parse("nope"), None);
    }

    #[test]
    fn awaiting_approval_is_the_one_stop_that_is_not_a_failure_and_advises_approval() {
        let not_failures: Vec<Category> = Category::ALL
            .into_iter()
            .filter(|c| !c.is_failure())
            .collect();
        assert_eq!(not_failures, [Category::AwaitingApproval]);
        assert!(!Category::AwaitingApproval.counts_against_authority());
        let advice = Category::AwaitingApproval.next_step();
        assert!(advice.contains("certdeck approve") && !advice.contains("exception"));
        assert!(Category::PolicyDenied.next_step().contains("exception"));
    }
}
