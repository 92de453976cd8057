//! Service accounts: the identities automation acts as. One environment each (prod and
//! non-prod are always distinct accounts), scoped to profiles and DNS suffixes, owned,
//! with a rotation date and a retirement date. Findings say which need a person.

use super::{dns_under, Activity, Denied, ObjectRef, SERVICE_ACCOUNT_ACTIVITIES};
use crate::model::{Actor, Environment};
use crate::store::Read;
use serde::Serialize;
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceAccount {
    pub id: i64,
    pub name: String,
    pub environment: Environment,
    pub owner: Option<String>,
    /// The OS user automation runs as; a process of that user acts as this account.
    pub os_user: Option<String>,
    pub profiles: Vec<String>,
    pub dns_suffixes: Vec<String>,
    /// The reference (`env:`, `file:`, `exec:`), never the secret.
    pub credential_ref: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub rotated_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub rotate_by: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub retire_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub retired_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used: Option<OffsetDateTime>,
}

impl ServiceAccount {
    /// Retired explicitly, or past its retirement date.
    pub fn is_retired(&self, now: OffsetDateTime) -> bool {
        self.retired_at.is_some() || self.retire_at.is_some_and(|t| t <= now)
    }

    /// When it stopped being allowed to act, if it did.
    pub fn retired_since(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        match (self.retired_at, self.retire_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (Some(a), None) => Some(a),
            (None, Some(b)) if b <= now => Some(b),
            _ => None,
        }
    }

    /// Whether the account's own scopes admit the object: its environment (an object with
    /// no environment is not admitted) and its DNS suffixes. Like the issuance gate, a
    /// service account's lists are whitelists: no suffix admits no name.
    pub fn covers(&self, o: &ObjectRef) -> bool {
        o.environment == Some(self.environment)
            && o.dns_names
                .iter()
                .all(|n| self.dns_suffixes.iter().any(|s| dns_under(n, s)))
    }

    /// What needs a person about this account, now.
    pub fn findings(&self, now: OffsetDateTime, unused_days: i64) -> Vec<Finding> {
        let mut out = Vec::new();
        if let Some(since) = self.retired_since(now) {
            if self.last_used.is_some_and(|u| u > since) {
                out.push(Finding {
                    rule: "sa.retired-but-used",
                    message: format!(
                        "retired since {} but used at {}",
                        crate::clock::rfc3339(since),
                        crate::clock::rfc3339(self.last_used.unwrap_or(since))
                    ),
                });
            }
            return out;
        }
        if self.owner.is_none() {
            out.push(Finding {
                rule: "sa.no-owner",
                message: "has no owner".into(),
            });
        }
        if let Some(t) = self.rotate_by.filter(|t| *t <= now) {
            out.push(Finding {
                rule: "sa.rotation-overdue",
                message: format!(
                    "credential rotation overdue since {}",
                    crate::clock::rfc3339(t)
                ),
            });
        }
        let since = self.last_used.unwrap_or(self.created_at);
        if (now - since).whole_days() >= unused_days {
            out.push(Finding {
                rule: "sa.unused",
                message: match self.last_used {
                    Some(t) => format!("unused since {}", crate::clock::rfc3339(t)),
                    None => format!(
                        "never used since its creation on {}",
                        crate::clock::rfc3339(self.created_at)
                    ),
                },
            });
        }
        out
    }
}

/// Something about a service account that needs a person. Rule ids are stable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub message: String,
}

/// Default "unused for N days" threshold.
pub const DEFAULT_UNUSED_DAYS: i64 = 90;

pub(super) fn authorize(
    read: Read<'_>,
    actor: &Actor,
    activity: Activity,
    now: OffsetDateTime,
    objects: &[ObjectRef],
) -> Result<(), Denied> {
    let sa = read
        .service_account(&actor.name)
        .map_err(|e| Denied::new(actor, activity, e.to_string()))?
        .ok_or_else(|| Denied::new(actor, activity, "unknown service account"))?;
    if let Some(since) = sa.retired_since(now) {
        return Err(Denied::new(
            actor,
            activity,
            format!(
                "service account retired since {}",
                crate::clock::rfc3339(since)
            ),
        ));
    }
    if !SERVICE_ACCOUNT_ACTIVITIES.contains(&activity) {
        return Err(Denied::new(
            actor,
            activity,
            "service accounts only renew and deploy",
        ));
    }
    if let Some(o) = objects.iter().find(|o| !sa.covers(o)) {
        return Err(Denied::new(
            actor,
            activity,
            format!(
                "outside the service account's scope (env {}, dns {}): object env {}, names {}",
                sa.environment,
                if sa.dns_suffixes.is_empty() {
                    "none".to_string()
                } else {
                    sa.dns_suffixes.join(",")
                },
                o.environment.map(|e| e.as_str()).unwrap_or("(none)"),
                o.dns_names.join(",")
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn sa() -> ServiceAccount {
        ServiceAccount {
            id: 1,
            name: "renew-prod".into(),
            environment: Environment::Prod,
            owner: Some("platform".into()),
            os_user: None,
            profiles: vec!["public-tls".into()],
            dns_suffixes: vec!["example.com".into()],
            credential_ref: "env:TOKEN".into(),
            created_at: datetime!(2026-01-01 0:00 UTC),
            created_by: "alice".into(),
            rotated_at: None,
            rotate_by: Some(datetime!(2026-06-01 0:00 UTC)),
            retire_at: None,
            retired_at: None,
            last_used: Some(datetime!(2026-05-01 0:00 UTC)),
        }
    }

    fn rules(f: Vec<Finding>) -> Vec<&'static str> {
        f.into_iter().map(|f| f.rule).collect()
    }

    #[test]
    fn a_healthy_account_has_no_findings() {
        assert!(sa().findings(datetime!(2026-05-10 0:00 UTC), 90).is_empty());
    }

    #[test]
    fn overdue_rotation_missing_owner_and_disuse_are_findings() {
        let mut a = sa();
        a.owner = None;
        assert_eq!(
            rules(a.findings(datetime!(2026-09-01 0:00 UTC), 90)),
            vec!["sa.no-owner", "sa.rotation-overdue", "sa.unused"]
        );
    }

    #[test]
    fn use_after_retirement_is_a_finding() {
        let mut a = sa();
        a.retire_at = Some(datetime!(2026-04-01 0:00 UTC));
        assert_eq!(
            rules(a.findings(datetime!(2026-05-10 0:00 UTC), 90)),
            vec!["sa.retired-but-used"]
        );
        a.last_used = Some(datetime!(2026-03-01 0:00 UTC));
        assert!(a.findings(datetime!(2026-05-10 0:00 UTC), 90).is_empty());
    }

    #[test]
    fn the_account_covers_only_its_environment_and_suffixes() {
        let a = sa();
        let o = |env, n: &str| ObjectRef {
            owner: None,
            environment: env,
            dns_names: vec![n.into()],
        };
        assert!(a.covers(&o(Some(Environment::Prod), "api.example.com")));
        assert!(!a.covers(&o(Some(Environment::Nonprod), "api.example.com")));
        assert!(!a.covers(&o(None, "api.example.com")));
        assert!(!a.covers(&o(Some(Environment::Prod), "api.example.org")));
    }
}
