//! Who may do what. The actor is always the OS user of the real uid; what that actor may
//! do follows the RACI matrix (DESIGN.md §4), stored as data and checked inside `ops`, so
//! the CLI, the console and tests are refused the same way.
//!
//! An operator may perform an activity when one of their roles holds R or A for it in the
//! matrix; a scoped grant only counts for objects inside its scope. A reviewer approves
//! with A (or R where the workflow rule allows). Service accounts hold no roles: they may
//! renew and deploy, inside their own scopes, until they are retired.

pub mod actor;
pub mod credential;
pub mod raci;
pub mod service_account;

pub use actor::current_actor;
pub use credential::CredentialRef;
pub use raci::{Activity, Letters, Matrix};

use crate::model::{Actor, ActorKind, Environment};
use crate::store::Read;
use serde::{Deserialize, Serialize};
use std::fmt;
use time::OffsetDateTime;

/// Why an actor may not do something.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{actor} may not {activity}: {reason}")]
pub struct Denied {
    pub actor: String,
    pub activity: String,
    pub reason: String,
}

impl Denied {
    pub fn new(actor: &Actor, activity: impl fmt::Display, reason: impl Into<String>) -> Denied {
        Denied {
            actor: actor.name.clone(),
            activity: activity.to_string(),
            reason: reason.into(),
        }
    }
}

/// The roles of the RACI matrix, plus `read-only` (which holds no letter anywhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    CentralPki,
    Platform,
    AppOwner,
    Compliance,
    ReadOnly,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::CentralPki,
        Role::Platform,
        Role::AppOwner,
        Role::Compliance,
        Role::ReadOnly,
    ];
    /// The roles that appear as columns of the matrix.
    pub const MATRIX: [Role; 4] = [
        Role::CentralPki,
        Role::Platform,
        Role::AppOwner,
        Role::Compliance,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Role::CentralPki => "central-pki",
            Role::Platform => "platform",
            Role::AppOwner => "app-owner",
            Role::Compliance => "compliance",
            Role::ReadOnly => "read-only",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s || r.as_str().replace('-', "_") == s)
            .ok_or_else(|| {
                format!(
                    "unknown role {s:?} (expected central-pki, platform, app-owner, compliance or read-only)"
                )
            })
    }
}

/// Where a grant (or a service account) applies. An empty list puts no limit on that
/// dimension; every non-empty list must admit the object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scope {
    pub owners: Vec<String>,
    pub environments: Vec<Environment>,
    pub dns_suffixes: Vec<String>,
}

/// What an op touches, as far as scopes care.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectRef {
    pub owner: Option<String>,
    pub environment: Option<Environment>,
    pub dns_names: Vec<String>,
}

impl Scope {
    pub fn is_unrestricted(&self) -> bool {
        self.owners.is_empty() && self.environments.is_empty() && self.dns_suffixes.is_empty()
    }

    /// Sorted and deduplicated, so equal scopes are stored as equal text.
    pub fn normalized(mut self) -> Scope {
        for v in [&mut self.owners, &mut self.dns_suffixes] {
            for s in v.iter_mut() {
                *s = s.trim().trim_start_matches('.').to_ascii_lowercase();
            }
            v.retain(|s| !s.is_empty());
            v.sort();
            v.dedup();
        }
        // Owner names keep their case: only DNS suffixes are case-insensitive.
        self.environments.sort();
        self.environments.dedup();
        self
    }

    /// Whether an object lies inside this scope. An owner-scoped grant does not cover an
    /// object without owner, and an environment-scoped one not an object without one.
    pub fn covers(&self, o: &ObjectRef) -> bool {
        if !self.owners.is_empty() {
            match &o.owner {
                Some(owner) if self.owners.iter().any(|x| x.eq_ignore_ascii_case(owner)) => {}
                _ => return false,
            }
        }
        if !self.environments.is_empty() {
            match o.environment {
                Some(e) if self.environments.contains(&e) => {}
                _ => return false,
            }
        }
        if !self.dns_suffixes.is_empty()
            && !o
                .dns_names
                .iter()
                .all(|n| self.dns_suffixes.iter().any(|s| dns_under(n, s)))
        {
            return false;
        }
        true
    }

    /// Whether every object `inner` admits is admitted here: a scoped grantor cannot hand
    /// out more than they hold.
    pub fn contains(&self, inner: &Scope) -> bool {
        let owners = self.owners.is_empty()
            || (!inner.owners.is_empty()
                && inner
                    .owners
                    .iter()
                    .all(|o| self.owners.iter().any(|x| x.eq_ignore_ascii_case(o))));
        let envs = self.environments.is_empty()
            || (!inner.environments.is_empty()
                && inner
                    .environments
                    .iter()
                    .all(|e| self.environments.contains(e)));
        let dns = self.dns_suffixes.is_empty()
            || (!inner.dns_suffixes.is_empty()
                && inner
                    .dns_suffixes
                    .iter()
                    .all(|d| self.dns_suffixes.iter().any(|s| dns_under(d, s))));
        owners && envs && dns
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_unrestricted() {
            return f.write_str("all");
        }
        let mut parts = Vec::new();
        if !self.owners.is_empty() {
            parts.push(format!("owners={}", self.owners.join(",")));
        }
        if !self.environments.is_empty() {
            let e: Vec<&str> = self.environments.iter().map(|e| e.as_str()).collect();
            parts.push(format!("env={}", e.join(",")));
        }
        if !self.dns_suffixes.is_empty() {
            parts.push(format!("dns={}", self.dns_suffixes.join(",")));
        }
        f.write_str(&parts.join(" "))
    }
}

/// `name` is `suffix` or a subdomain of it (label boundary respected: `evilexample.com`
/// is not under `example.com`). A wildcard name counts by its base.
pub fn dns_under(name: &str, suffix: &str) -> bool {
    let n = name
        .trim_end_matches('.')
        .trim_start_matches("*.")
        .to_ascii_lowercase();
    let s = suffix
        .trim_end_matches('.')
        .trim_start_matches('.')
        .to_ascii_lowercase();
    if s.is_empty() {
        return false;
    }
    n == s || n.ends_with(&format!(".{s}"))
}

/// One role held by one operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    pub id: i64,
    pub operator: String,
    pub role: Role,
    pub scope: Scope,
    pub granted_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub granted_at: OffsetDateTime,
    pub request_id: Option<i64>,
}

/// The activities service accounts exist for: renewing and deploying what they are scoped to.
pub const SERVICE_ACCOUNT_ACTIVITIES: [Activity; 2] =
    [Activity::RenewalResponse, Activity::ImplementDeployment];

/// Decides whether `actor` may perform `activity` at all (on some object). Object scope
/// is checked separately by [`authorize_object`] once the op knows what it touches.
pub fn authorize(
    read: Read<'_>,
    actor: &Actor,
    activity: Activity,
    now: OffsetDateTime,
) -> Result<(), Denied> {
    acting_grants(read, actor, activity, now, &[]).map(|_| ())
}

/// Decides whether `actor` may perform `activity` on `object`: some grant giving R or A
/// must have a scope that covers it (for a service account, its own scopes).
pub fn authorize_object(
    read: Read<'_>,
    actor: &Actor,
    activity: Activity,
    now: OffsetDateTime,
    object: &ObjectRef,
) -> Result<(), Denied> {
    acting_grants(read, actor, activity, now, std::slice::from_ref(object)).map(|_| ())
}

/// [`authorize_object`] for many objects at once: allowed when one acting grant (for a
/// service account, its own scopes) covers every one of them. Cheaper than one check per
/// object; a refusal does not say which object is outside, so callers that need that
/// check one by one after it.
pub fn authorize_objects(
    read: Read<'_>,
    actor: &Actor,
    activity: Activity,
    now: OffsetDateTime,
    objects: &[ObjectRef],
) -> Result<(), Denied> {
    acting_grants(read, actor, activity, now, objects).map(|_| ())
}

fn store_denied(actor: &Actor, activity: Activity, e: crate::store::StoreError) -> Denied {
    Denied::new(
        actor,
        activity,
        format!("authorization could not be checked: {e}"),
    )
}

/// The grants with R or A for `activity` that cover every object in `objects`; an error
/// naming what is missing when there are none.
fn acting_grants(
    read: Read<'_>,
    actor: &Actor,
    activity: Activity,
    now: OffsetDateTime,
    objects: &[ObjectRef],
) -> Result<Vec<Grant>, Denied> {
    match actor.kind {
        ActorKind::System => Ok(Vec::new()),
        ActorKind::ServiceAccount => {
            service_account::authorize(read, actor, activity, now, objects).map(|_| Vec::new())
        }
        ActorKind::Operator => {
            let grants = read
                .grants_of(&actor.name)
                .map_err(|e| store_denied(actor, activity, e))?;
            if grants.is_empty() {
                let initialized = read
                    .access_initialized()
                    .map_err(|e| store_denied(actor, activity, e))?;
                return Err(Denied::new(
                    actor,
                    activity,
                    if initialized {
                        format!("{} holds no role", actor.name)
                    } else {
                        "no operator holds a role yet: run `certdeck init` first".to_string()
                    },
                ));
            }
            let matrix = read
                .raci_matrix()
                .map_err(|e| store_denied(actor, activity, e))?;
            let acting: Vec<Grant> = grants
                .iter()
                .filter(|g| matrix.letters(activity, g.role).may_act())
                .cloned()
                .collect();
            if acting.is_empty() {
                let held: Vec<&str> = grants.iter().map(|g| g.role.as_str()).collect();
                let needed: Vec<&str> = matrix
                    .acting_roles(activity)
                    .iter()
                    .map(|r| r.as_str())
                    .collect();
                return Err(Denied::new(
                    actor,
                    activity,
                    format!(
                        "needs R or A ({}); {} holds {}",
                        if needed.is_empty() {
                            "no role has it".to_string()
                        } else {
                            needed.join(", ")
                        },
                        actor.name,
                        held.join(", ")
                    ),
                ));
            }
            let covering: Vec<Grant> = acting
                .iter()
                .filter(|g| objects.iter().all(|o| g.scope.covers(o)))
                .cloned()
                .collect();
            if covering.is_empty() {
                let scopes: Vec<String> = acting
                    .iter()
                    .map(|g| format!("{} ({})", g.role, g.scope))
                    .collect();
                return Err(Denied::new(
                    actor,
                    activity,
                    format!(
                        "{} is outside the scope of {}",
                        describe_objects(objects),
                        scopes.join(", ")
                    ),
                ));
            }
            Ok(covering)
        }
    }
}

fn describe_objects(objects: &[ObjectRef]) -> String {
    let mut parts = Vec::new();
    for o in objects {
        let mut p = Vec::new();
        p.push(format!("owner {}", o.owner.as_deref().unwrap_or("(none)")));
        if let Some(e) = o.environment {
            p.push(format!("env {e}"));
        }
        if !o.dns_names.is_empty() {
            p.push(format!("names {}", o.dns_names.join(",")));
        }
        parts.push(p.join(" "));
    }
    if parts.is_empty() {
        "the object".into()
    } else {
        parts.join("; ")
    }
}

/// Decides whether `actor` may review (approve or deny) a request for `activity`, and
/// with which roles: A is needed (or R when `responsible_may_approve`), from a grant whose
/// scope `admits` what the request is about.
pub fn reviewer_roles(
    read: Read<'_>,
    actor: &Actor,
    activity: Activity,
    responsible_may_approve: bool,
    admits: &dyn Fn(&Scope) -> bool,
    about: &str,
) -> Result<Vec<Role>, Denied> {
    let what = format!("review requests to {activity}");
    if actor.kind != ActorKind::Operator {
        return Err(Denied::new(actor, what, "only operators review requests"));
    }
    let grants = read
        .grants_of(&actor.name)
        .map_err(|e| store_denied(actor, activity, e))?;
    let matrix = read
        .raci_matrix()
        .map_err(|e| store_denied(actor, activity, e))?;
    let mut roles: Vec<Role> = grants
        .iter()
        .filter(|g| {
            let l = matrix.letters(activity, g.role);
            (l.a || (responsible_may_approve && l.r)) && admits(&g.scope)
        })
        .map(|g| g.role)
        .collect();
    roles.sort();
    roles.dedup();
    if roles.is_empty() {
        let needed: Vec<&str> = matrix
            .approving_roles(activity, responsible_may_approve)
            .iter()
            .map(|r| r.as_str())
            .collect();
        return Err(Denied::new(
            actor,
            what,
            format!(
                "needs {} ({}) with a scope covering {about}",
                if responsible_may_approve {
                    "A or R"
                } else {
                    "A"
                },
                if needed.is_empty() {
                    "no role has it".to_string()
                } else {
                    needed.join(", ")
                },
            ),
        ));
    }
    Ok(roles)
}

/// [`reviewer_roles`] for a request about one object.
pub fn reviewer_role(
    read: Read<'_>,
    actor: &Actor,
    activity: Activity,
    responsible_may_approve: bool,
    object: &ObjectRef,
) -> Result<Vec<Role>, Denied> {
    reviewer_roles(
        read,
        actor,
        activity,
        responsible_may_approve,
        &|s: &Scope| s.covers(object),
        &describe_objects(std::slice::from_ref(object)),
    )
}

/// The roles `actor` may review a request with when the request itself names the role
/// that approves (an issuance request under a profile with `approver_role`): a grant of
/// exactly that role whose scope covers the object. The RACI letters do not matter here:
/// the profile, written by the A of *define profiles*, already said who decides.
pub fn holder_roles(
    read: Read<'_>,
    actor: &Actor,
    role: Role,
    object: &ObjectRef,
) -> Result<Vec<Role>, Denied> {
    let what = "review this issuance request";
    if actor.kind != ActorKind::Operator {
        return Err(Denied::new(actor, what, "only operators review requests"));
    }
    let grants = read
        .grants_of(&actor.name)
        .map_err(|e| Denied::new(actor, what, e.to_string()))?;
    if grants
        .iter()
        .any(|g| g.role == role && g.scope.covers(object))
    {
        Ok(vec![role])
    } else {
        Err(Denied::new(
            actor,
            what,
            format!(
                "the profile says {role} approves; needs {role} with a scope covering {}",
                describe_objects(std::slice::from_ref(object))
            ),
        ))
    }
}

/// Whether changing the matrix is allowed: only an unscoped central-PKI operator may,
/// whatever the matrix itself says (so the matrix cannot lock its administrators out).
pub fn authorize_matrix_change(read: Read<'_>, actor: &Actor) -> Result<(), Denied> {
    let what = "change the RACI matrix";
    if actor.kind != ActorKind::Operator {
        return Err(Denied::new(actor, what, "only operators change the matrix"));
    }
    let grants = read
        .grants_of(&actor.name)
        .map_err(|e| Denied::new(actor, what, e.to_string()))?;
    if grants
        .iter()
        .any(|g| g.role == Role::CentralPki && g.scope.is_unrestricted())
    {
        Ok(())
    } else {
        Err(Denied::new(
            actor,
            what,
            "needs the central-pki role without scope",
        ))
    }
}

/// Whether `actor` may open requests: any operator with a role (read-only included: a
/// request is how a reader asks for more). Users without a role may read at most.
pub fn authorize_requester(read: Read<'_>, actor: &Actor) -> Result<(), Denied> {
    let what = "open requests";
    if actor.kind != ActorKind::Operator {
        return Err(Denied::new(actor, what, "only operators open requests"));
    }
    let grants = read
        .grants_of(&actor.name)
        .map_err(|e| Denied::new(actor, what, e.to_string()))?;
    if grants.is_empty() {
        return Err(Denied::new(
            actor,
            what,
            format!(
                "{} holds no role (ask a central-pki operator for read-only)",
                actor.name
            ),
        ));
    }
    Ok(())
}

/// Whether `actor` may read the inventory: any role does; without a role it depends on
/// the config (`[access] unassigned = "read" | "none"`). A database nobody has
/// initialized yet is readable by whoever can open it.
pub fn may_read(
    read: Read<'_>,
    actor: &Actor,
    config: &crate::config::Config,
) -> Result<(), Denied> {
    if actor.kind != ActorKind::Operator {
        return Ok(());
    }
    let err = |e: crate::store::StoreError| Denied::new(actor, "read the inventory", e.to_string());
    if !read.grants_of(&actor.name).map_err(err)?.is_empty() {
        return Ok(());
    }
    if config.access.unassigned == crate::config::Unassigned::Read
        || !read.access_initialized().map_err(err)?
    {
        return Ok(());
    }
    Err(Denied::new(
        actor,
        "read the inventory",
        format!(
            "{} holds no role and this installation does not let users without a role read",
            actor.name
        ),
    ))
}

/// Whether `actor` may perform `activity` at all, for front-ends deciding which keys to
/// show (the op still decides for real).
pub fn may(read: Read<'_>, actor: &Actor, activity: Activity, now: OffsetDateTime) -> bool {
    authorize(read, actor, activity, now).is_ok()
}

/// What `actor` may ask the issuance gate for, from its scopes.
///
/// A service account: exactly its environment, DNS suffixes and profiles (whitelists:
/// an empty list allows nothing). An operator: the union of the scopes of the grants
/// that may act on renewal and failure response (R or A); a dimension any such grant
/// leaves open stays open (empty = not restricted), and profiles are never restricted
/// for operators (grants have no profile scope). The union is coarser than the grants
/// themselves; object-level checks in `ops` still apply each grant on its own.
pub fn gate_requester(
    read: Read<'_>,
    actor: &Actor,
) -> Result<crate::policy::gate::RequesterScope, crate::store::StoreError> {
    use crate::policy::gate::RequesterScope;
    match actor.kind {
        ActorKind::ServiceAccount => Ok(match read.service_account(&actor.name)? {
            Some(sa) => RequesterScope {
                environments: vec![sa.environment],
                dns_suffixes: sa.dns_suffixes,
                profiles: sa.profiles,
            },
            // An unknown account may ask for nothing.
            None => RequesterScope {
                environments: Vec::new(),
                dns_suffixes: Vec::new(),
                profiles: Vec::new(),
            },
        }),
        ActorKind::System => Ok(RequesterScope::default()),
        ActorKind::Operator => {
            let matrix = read.raci_matrix()?;
            let acting: Vec<Grant> = read
                .grants_of(&actor.name)?
                .into_iter()
                .filter(|g| matrix.letters(Activity::RenewalResponse, g.role).may_act())
                .collect();
            let mut out = RequesterScope::default();
            if acting.iter().all(|g| !g.scope.environments.is_empty()) {
                out.environments = acting
                    .iter()
                    .flat_map(|g| g.scope.environments.iter().copied())
                    .collect();
                out.environments.sort();
                out.environments.dedup();
            }
            if acting.iter().all(|g| !g.scope.dns_suffixes.is_empty()) {
                out.dns_suffixes = acting
                    .iter()
                    .flat_map(|g| g.scope.dns_suffixes.iter().cloned())
                    .collect();
                out.dns_suffixes.sort();
                out.dns_suffixes.dedup();
            }
            Ok(out)
        }
    }
}

/// The actor a process acts as: a service account when the OS user is bound to one
/// (`access sa add --os-user`), else the operator itself.
pub fn acting_as(read: Read<'_>, os_actor: &Actor) -> Actor {
    if os_actor.kind != ActorKind::Operator {
        return os_actor.clone();
    }
    match read.service_account_by_os_user(&os_actor.name) {
        Ok(Some(sa)) => Actor {
            name: sa.name,
            uid: os_actor.uid,
            kind: ActorKind::ServiceAccount,
            origin: os_actor.origin.clone(),
        },
        _ => os_actor.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(owner: Option<&str>, env: Option<Environment>, names: &[&str]) -> ObjectRef {
        ObjectRef {
            owner: owner.map(String::from),
            environment: env,
            dns_names: names.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn an_unrestricted_scope_covers_everything() {
        assert!(Scope::default().covers(&obj(None, None, &["a.example.com"])));
    }

    #[test]
    fn owner_scope_covers_only_that_owners_objects() {
        let s = Scope {
            owners: vec!["payments".into()],
            ..Default::default()
        };
        assert!(s.covers(&obj(Some("payments"), None, &[])));
        assert!(!s.covers(&obj(Some("search"), None, &[])));
        assert!(!s.covers(&obj(None, None, &[])));
    }

    #[test]
    fn dns_suffixes_respect_label_boundaries() {
        assert!(dns_under("api.example.com", "example.com"));
        assert!(dns_under("*.example.com", ".example.com"));
        assert!(dns_under("example.com", "example.com"));
        assert!(!dns_under("evilexample.com", "example.com"));
        let s = Scope {
            dns_suffixes: vec!["example.com".into()],
            ..Default::default()
        };
        assert!(s.covers(&obj(None, None, &["a.example.com", "b.example.com"])));
        assert!(!s.covers(&obj(None, None, &["a.example.com", "a.example.org"])));
    }

    #[test]
    fn a_scoped_grantor_cannot_hand_out_more_than_it_holds() {
        let mine = Scope {
            environments: vec![Environment::Nonprod],
            ..Default::default()
        };
        assert!(mine.contains(&Scope {
            environments: vec![Environment::Nonprod],
            owners: vec!["x".into()],
            ..Default::default()
        }));
        assert!(!mine.contains(&Scope::default()));
        assert!(Scope::default().contains(&mine));
    }

    #[test]
    fn roles_parse_from_their_names() {
        assert_eq!("central-pki".parse::<Role>().unwrap(), Role::CentralPki);
        assert_eq!("app_owner".parse::<Role>().unwrap(), Role::AppOwner);
        assert!("admin".parse::<Role>().is_err());
    }
}
