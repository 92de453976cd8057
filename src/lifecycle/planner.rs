//! The renewal planner: given every automated identity, the state of each authority and
//! the clock, decide what to renew now, what waits (and until when), and what is blocked
//! (and why). Pure: no store, no network, no wall clock, so it is tested exhaustively and
//! plans 100k identities in milliseconds.
//!
//! - **Due** when the remaining lifetime is at most the profile's lead (default: a third
//!   of the lifetime; half for lifetimes under 10 days), minus a deterministic
//!   per-identity jitter (up to a tenth of the lead, at most 24 h) so an estate issued on
//!   one day does not renew in one burst.
//! - **Budgets** per authority: new orders per account per 3 hours, certificates per
//!   registered domain per 7 days, duplicates (same name set) per 7 days. Spent in
//!   urgency order, so the most urgent renewals get the budget first.
//! - **Circuit breaker** per authority: open after N consecutive failures; after the
//!   cool-down one identity is let through as the half-open probe.
//! - **Backoff** per identity: a failed job waits for its next attempt time.
//! - **Fallback**: when the primary is open or out of budget and the identity may use its
//!   fallback authority, it is planned there.

use serde::Serialize;
use std::collections::HashMap;
use time::{Duration, OffsetDateTime};

/// One automated identity as the planner needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub identity_id: i64,
    pub name: String,
    pub authority_id: i64,
    pub fallback_authority_id: Option<i64>,
    pub allow_fallback: bool,
    /// Validity of the current certificate, when there is one.
    pub current: Option<(OffsetDateTime, OffsetDateTime)>,
    /// The profile's renewal lead, when it sets one.
    pub renew_before: Option<Duration>,
    pub registered_domain: Option<String>,
    /// Sorted, comma-joined names (for the duplicate budget).
    pub san_set: String,
    pub open_job: Option<OpenJob>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OpenJob {
    pub id: i64,
    pub failed: bool,
    pub next_attempt_at: Option<OffsetDateTime>,
}

/// Limits of one authority (defaults modelled on Let's Encrypt).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub orders_per_3h: usize,
    pub certs_per_domain_per_week: usize,
    pub duplicates_per_week: usize,
}

impl Limits {
    /// No budget at all.
    pub const NONE: Limits = Limits {
        orders_per_3h: usize::MAX,
        certs_per_domain_per_week: usize::MAX,
        duplicates_per_week: usize::MAX,
    };

    /// The budgets an authority of `kind` starts with. A public ACME CA enforces rate
    /// limits (Let's Encrypt's are the model); a private CA (local, Vault) has none to
    /// respect, and an estate that renews thousands of internal identities at once must
    /// not be throttled to 300 per 3 hours by a default meant for someone else's CA. The
    /// estate file can set any of them for any authority.
    pub fn for_kind(kind: crate::model::AuthorityKind) -> Limits {
        match kind {
            crate::model::AuthorityKind::Acme => Limits::default(),
            _ => Limits::NONE,
        }
    }
}

/// A budget figure for people: "no limit" when unlimited.
pub fn limit_text(n: usize) -> String {
    if n == usize::MAX {
        "no limit".into()
    } else {
        n.to_string()
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            orders_per_3h: 300,
            certs_per_domain_per_week: 50,
            duplicates_per_week: 5,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Circuit {
    Closed,
    Open,
    HalfOpen,
}

/// One authority's state at planning time: circuit and what the budgets already spent.
#[derive(Debug, Clone, Default)]
pub struct AuthorityState {
    pub limits: Limits,
    pub circuit_open_since: Option<OffsetDateTime>,
    /// Order times within the last 3 hours.
    pub recent_orders: usize,
    /// Certificates per registered domain within the last 7 days.
    pub domain_certs: HashMap<String, usize>,
    /// Certificates per exact name set within the last 7 days.
    pub duplicates: HashMap<String, usize>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rules {
    pub circuit_cooldown: Duration,
    /// `--now`: backoff is ignored (circuits and budgets are not).
    pub ignore_backoff: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            circuit_cooldown: Duration::minutes(30),
            ignore_backoff: false,
        }
    }
}

/// What the planner decided for one identity.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Renew now at `authority_id` (the fallback when `fallback`).
    Renew {
        authority_id: i64,
        fallback: bool,
        /// `first`, `due`, `resume`, `retry`, `probe`.
        reason: &'static str,
    },
    /// Nothing to do until `at`.
    Wait {
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
        reason: &'static str,
    },
    /// Due, but neither the authority nor a fallback can take it now.
    Blocked { reason: String },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Planned {
    pub identity_id: i64,
    pub name: String,
    #[serde(flatten)]
    pub decision: Decision,
}

/// The lead before expiry at which a certificate of this lifetime is due.
pub fn lead(lifetime: Duration, renew_before: Option<Duration>) -> Duration {
    match renew_before {
        Some(l) => l.min(lifetime),
        None if lifetime < Duration::days(10) => lifetime / 2i32,
        None => lifetime / 3i32,
    }
}

/// A stable per-identity offset in `[0, min(lead/10, 24h))` (FNV-1a of the name).
pub fn jitter(name: &str, lead: Duration) -> Duration {
    let span = (lead / 10i32).min(Duration::hours(24)).whole_seconds();
    if span <= 0 {
        return Duration::ZERO;
    }
    let mut h: u64 = 0xcbf29ce484222325;
    for b in name.as_bytes() {
        h ^= *b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    Duration::seconds((h % span as u64) as i64)
}

/// When the identity's current certificate becomes due.
pub fn due_at(c: &Candidate) -> Option<OffsetDateTime> {
    let (nb, na) = c.current?;
    let l = lead(na - nb, c.renew_before);
    Some(na - l - jitter(&c.name, l))
}

fn circuit(a: &AuthorityState, now: OffsetDateTime, rules: &Rules) -> Circuit {
    match a.circuit_open_since {
        None => Circuit::Closed,
        Some(t) if now < t + rules.circuit_cooldown => Circuit::Open,
        Some(_) => Circuit::HalfOpen,
    }
}

/// Plans every candidate. The result is in urgency order (earliest due first).
pub fn plan(
    now: OffsetDateTime,
    candidates: &[Candidate],
    authorities: &HashMap<i64, AuthorityState>,
    rules: &Rules,
) -> Vec<Planned> {
    // Urgency first: a missing certificate, then the earliest due time.
    // The sort key is the due instant as plain nanoseconds: comparing `OffsetDateTime`s
    // normalises offsets on every comparison, which dominated the sort at 100k.
    let dues: Vec<Option<OffsetDateTime>> = candidates.iter().map(due_at).collect();
    let mut order: Vec<(bool, i128, usize)> = dues
        .iter()
        .enumerate()
        .map(|(i, d)| (d.is_some(), d.map_or(0, |d| d.unix_timestamp_nanos()), i))
        .collect();
    order.sort_unstable();
    let mut spent: HashMap<i64, Spent> = HashMap::new();
    let empty = AuthorityState::default();
    let mut out = Vec::with_capacity(candidates.len());
    for (_, _, i) in order {
        let (c, due) = (&candidates[i], dues[i]);
        let decision = decide(c, due, now, authorities, &empty, &mut spent, rules);
        out.push(Planned {
            identity_id: c.identity_id,
            name: c.name.clone(),
            decision,
        });
    }
    out
}

/// Budget spent by this plan on top of what the authority already spent. Keys borrow
/// from the candidates, so spending a budget allocates nothing per identity.
#[derive(Default)]
struct Spent<'c> {
    orders: usize,
    domains: HashMap<&'c str, usize>,
    duplicates: HashMap<&'c str, usize>,
    probe_used: bool,
}

fn decide<'c>(
    c: &'c Candidate,
    due: Option<OffsetDateTime>,
    now: OffsetDateTime,
    authorities: &HashMap<i64, AuthorityState>,
    empty: &AuthorityState,
    spent: &mut HashMap<i64, Spent<'c>>,
    rules: &Rules,
) -> Decision {
    let mut reason = match (&c.open_job, due) {
        (Some(j), _) if j.failed => match j.next_attempt_at {
            Some(t) if t > now && !rules.ignore_backoff => {
                return Decision::Wait {
                    at: t,
                    reason: "backoff",
                }
            }
            _ => "retry",
        },
        (Some(_), _) => "resume",
        (None, None) => "first",
        (None, Some(d)) if d <= now => "due",
        (None, Some(d)) => {
            return Decision::Wait {
                at: d,
                reason: "not_due",
            }
        }
    };
    let mut why_not = Vec::new();
    let options = std::iter::once((c.authority_id, false)).chain(
        c.fallback_authority_id
            .filter(|_| c.allow_fallback)
            .map(|f| (f, true)),
    );
    for (aid, fallback) in options {
        let a = authorities.get(&aid).unwrap_or(empty);
        let s = spent.entry(aid).or_default();
        match circuit(a, now, rules) {
            Circuit::Open => {
                why_not.push(format!("authority {aid}: circuit open"));
                continue;
            }
            Circuit::HalfOpen if s.probe_used => {
                why_not.push(format!(
                    "authority {aid}: circuit half-open, probe already planned"
                ));
                continue;
            }
            Circuit::HalfOpen => {
                s.probe_used = true;
                reason = "probe";
            }
            Circuit::Closed => {}
        }
        if a.recent_orders + s.orders >= a.limits.orders_per_3h {
            why_not.push(format!(
                "authority {aid}: {} orders in 3 h (limit {})",
                a.recent_orders + s.orders,
                a.limits.orders_per_3h
            ));
            continue;
        }
        if let Some(d) = &c.registered_domain {
            let used = a.domain_certs.get(d).copied().unwrap_or(0)
                + s.domains.get(d.as_str()).copied().unwrap_or(0);
            if used >= a.limits.certs_per_domain_per_week {
                why_not.push(format!(
                    "authority {aid}: {used} certificates for {d} in 7 days (limit {})",
                    a.limits.certs_per_domain_per_week
                ));
                continue;
            }
        }
        let dups = a.duplicates.get(&c.san_set).copied().unwrap_or(0)
            + s.duplicates.get(c.san_set.as_str()).copied().unwrap_or(0);
        if dups >= a.limits.duplicates_per_week {
            why_not.push(format!(
                "authority {aid}: {dups} duplicate certificates in 7 days (limit {})",
                a.limits.duplicates_per_week
            ));
            continue;
        }
        s.orders += 1;
        if let Some(d) = &c.registered_domain {
            *s.domains.entry(d.as_str()).or_default() += 1;
        }
        *s.duplicates.entry(c.san_set.as_str()).or_default() += 1;
        return Decision::Renew {
            authority_id: aid,
            fallback,
            reason,
        };
    }
    Decision::Blocked {
        reason: why_not.join("; "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-06-01 0:00 UTC);

    fn cand(name: &str, days_total: i64, days_left: i64) -> Candidate {
        let na = NOW + Duration::days(days_left);
        Candidate {
            identity_id: name.len() as i64,
            name: name.into(),
            authority_id: 1,
            fallback_authority_id: Some(2),
            allow_fallback: true,
            current: Some((na - Duration::days(days_total), na)),
            renew_before: None,
            registered_domain: Some("example.com".into()),
            san_set: format!("{name}.example.com"),
            open_job: None,
        }
    }

    fn one(c: Candidate, auths: &HashMap<i64, AuthorityState>) -> Decision {
        plan(NOW, &[c], auths, &Rules::default()).remove(0).decision
    }

    #[test]
    fn a_90_day_certificate_is_due_with_a_third_left_and_not_before() {
        let none = HashMap::new();
        assert!(matches!(
            one(cand("a", 90, 29), &none),
            Decision::Renew { reason: "due", .. }
        ));
        match one(cand("a", 90, 40), &none) {
            Decision::Wait {
                at,
                reason: "not_due",
            } => {
                assert!(at <= NOW + Duration::days(10) && at > NOW + Duration::days(9))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn short_lifetimes_renew_at_half() {
        let none = HashMap::new();
        assert!(matches!(
            one(cand("s", 6, 2), &none),
            Decision::Renew { .. }
        ));
        // 4 of 6 days left is more than half: not due (a third would be 2 days).
        assert!(matches!(one(cand("s", 6, 4), &none), Decision::Wait { .. }));
        assert_eq!(lead(Duration::days(6), None), Duration::days(3));
        assert_eq!(lead(Duration::days(90), None), Duration::days(30));
        assert_eq!(
            lead(Duration::days(90), Some(Duration::days(14))),
            Duration::days(14)
        );
    }

    #[test]
    fn jitter_is_stable_per_identity_bounded_and_spreads_an_estate() {
        let l = Duration::days(30);
        assert_eq!(jitter("www", l), jitter("www", l));
        let distinct: std::collections::HashSet<i64> = (0..100)
            .map(|i| jitter(&format!("id{i}"), l).whole_seconds())
            .collect();
        assert!(distinct.len() > 90);
        assert!((0..1000).all(|i| jitter(&format!("x{i}"), l) < Duration::hours(24)));
        assert!(jitter("a", Duration::hours(10)) < Duration::hours(1));
    }

    #[test]
    fn an_identity_without_a_certificate_gets_its_first_one() {
        let mut c = cand("new", 90, 0);
        c.current = None;
        assert!(matches!(
            one(c, &HashMap::new()),
            Decision::Renew {
                reason: "first",
                ..
            }
        ));
    }

    #[test]
    fn a_failed_job_waits_for_its_backoff_unless_forced() {
        let mut c = cand("f", 90, 5);
        c.open_job = Some(OpenJob {
            id: 1,
            failed: true,
            next_attempt_at: Some(NOW + Duration::hours(2)),
        });
        assert_eq!(
            one(c.clone(), &HashMap::new()),
            Decision::Wait {
                at: NOW + Duration::hours(2),
                reason: "backoff"
            }
        );
        let forced = plan(
            NOW,
            &[c],
            &HashMap::new(),
            &Rules {
                ignore_backoff: true,
                ..Rules::default()
            },
        );
        assert!(matches!(
            forced[0].decision,
            Decision::Renew {
                reason: "retry",
                ..
            }
        ));
    }

    #[test]
    fn an_open_circuit_sends_identities_to_the_fallback_or_blocks_them() {
        let mut auths = HashMap::new();
        auths.insert(
            1,
            AuthorityState {
                circuit_open_since: Some(NOW - Duration::minutes(5)),
                ..Default::default()
            },
        );
        assert!(matches!(
            one(cand("a", 90, 1), &auths),
            Decision::Renew {
                authority_id: 2,
                fallback: true,
                ..
            }
        ));
        let mut no_fallback = cand("a", 90, 1);
        no_fallback.allow_fallback = false;
        match one(no_fallback, &auths) {
            Decision::Blocked { reason } => assert!(reason.contains("circuit open")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn after_the_cool_down_exactly_one_probe_goes_through() {
        let mut auths = HashMap::new();
        auths.insert(
            1,
            AuthorityState {
                circuit_open_since: Some(NOW - Duration::hours(1)),
                ..Default::default()
            },
        );
        let mut cs: Vec<Candidate> = (0..3).map(|i| cand(&format!("p{i}"), 90, 1)).collect();
        for c in &mut cs {
            c.allow_fallback = false;
        }
        let p = plan(NOW, &cs, &auths, &Rules::default());
        let probes = p
            .iter()
            .filter(|p| {
                matches!(
                    p.decision,
                    Decision::Renew {
                        reason: "probe",
                        ..
                    }
                )
            })
            .count();
        let blocked = p
            .iter()
            .filter(|p| matches!(p.decision, Decision::Blocked { .. }))
            .count();
        assert_eq!((probes, blocked), (1, 2));
    }

    #[test]
    fn budgets_are_spent_most_urgent_first_then_overflow_to_the_fallback() {
        let mut auths = HashMap::new();
        auths.insert(
            1,
            AuthorityState {
                limits: Limits {
                    certs_per_domain_per_week: 50,
                    ..Default::default()
                },
                domain_certs: [("example.com".to_string(), 48)].into(),
                ..Default::default()
            },
        );
        let cs = vec![
            cand("late", 90, 20),
            cand("urgent", 90, 1),
            cand("mid", 90, 10),
        ];
        let p = plan(NOW, &cs, &auths, &Rules::default());
        let names: Vec<&str> = p.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["urgent", "mid", "late"]);
        assert!(matches!(
            p[0].decision,
            Decision::Renew {
                authority_id: 1,
                ..
            }
        ));
        assert!(matches!(
            p[1].decision,
            Decision::Renew {
                authority_id: 1,
                ..
            }
        ));
        assert!(matches!(
            p[2].decision,
            Decision::Renew {
                authority_id: 2,
                fallback: true,
                ..
            }
        ));
    }

    #[test]
    fn order_and_duplicate_budgets_block_with_a_reason() {
        let mut auths = HashMap::new();
        auths.insert(
            1,
            AuthorityState {
                recent_orders: 300,
                ..Default::default()
            },
        );
        let mut c = cand("a", 90, 1);
        c.allow_fallback = false;
        match one(c.clone(), &auths) {
            Decision::Blocked { reason } => assert!(reason.contains("orders in 3 h"), "{reason}"),
            other => panic!("{other:?}"),
        }
        let mut auths = HashMap::new();
        auths.insert(
            1,
            AuthorityState {
                duplicates: [(c.san_set.clone(), 5)].into(),
                ..Default::default()
            },
        );
        match one(c, &auths) {
            Decision::Blocked { reason } => assert!(reason.contains("duplicate"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_a_public_acme_ca_starts_with_rate_limit_budgets() {
        use crate::model::AuthorityKind;
        assert_eq!(Limits::for_kind(AuthorityKind::Acme), Limits::default());
        assert_eq!(Limits::for_kind(AuthorityKind::Local), Limits::NONE);
        assert_eq!(Limits::for_kind(AuthorityKind::Vault), Limits::NONE);
        assert_eq!(limit_text(300), "300");
        assert_eq!(limit_text(usize::MAX), "no limit");
    }
}
