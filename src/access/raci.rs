//! The activities of the RACI matrix (DESIGN.md §4). Every op declares which one it is.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Activity {
    DefineProfiles,
    ApproveDelegation,
    ApproveCaSource,
    ImplementDeployment,
    RenewalResponse,
    MaintainInventory,
    AuditEvidence,
    BreakGlass,
}

impl Activity {
    pub const ALL: [Activity; 8] = [
        Activity::DefineProfiles,
        Activity::ApproveDelegation,
        Activity::ApproveCaSource,
        Activity::ImplementDeployment,
        Activity::RenewalResponse,
        Activity::MaintainInventory,
        Activity::AuditEvidence,
        Activity::BreakGlass,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Activity::DefineProfiles => "define_profiles",
            Activity::ApproveDelegation => "approve_delegation",
            Activity::ApproveCaSource => "approve_ca_source",
            Activity::ImplementDeployment => "implement_deployment",
            Activity::RenewalResponse => "renewal_response",
            Activity::MaintainInventory => "maintain_inventory",
            Activity::AuditEvidence => "audit_evidence",
            Activity::BreakGlass => "break_glass",
        }
    }

    /// The activity as the matrix words it.
    pub fn description(self) -> &'static str {
        match self {
            Activity::DefineProfiles => "define profiles and constraints",
            Activity::ApproveDelegation => "approve delegation scope",
            Activity::ApproveCaSource => "approve CA source for use case",
            Activity::ImplementDeployment => "implement deployment mechanisms",
            Activity::RenewalResponse => "renewal and failure response",
            Activity::MaintainInventory => "maintain inventory accuracy",
            Activity::AuditEvidence => "audit evidence and reporting",
            Activity::BreakGlass => "break-glass execution and review",
        }
    }
}

impl std::str::FromStr for Activity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let k = s.replace('-', "_");
        Activity::ALL
            .into_iter()
            .find(|a| a.as_str() == k)
            .ok_or_else(|| {
                let all: Vec<&str> = Activity::ALL.iter().map(|a| a.as_str()).collect();
                format!(
                    "unknown activity {s:?} (expected one of {})",
                    all.join(", ")
                )
            })
    }
}

impl fmt::Display for Activity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// One cell of the matrix: Responsible, Accountable, Consulted, Informed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Letters {
    pub r: bool,
    pub a: bool,
    pub c: bool,
    pub i: bool,
}

impl Letters {
    /// R and A may act.
    pub fn may_act(self) -> bool {
        self.r || self.a
    }
}

impl std::str::FromStr for Letters {
    type Err = String;
    /// `R/A`, `RA`, `C`, `I`, `-` or empty for none.
    fn from_str(s: &str) -> Result<Self, String> {
        let mut l = Letters::default();
        for ch in s.chars() {
            match ch.to_ascii_uppercase() {
                'R' => l.r = true,
                'A' => l.a = true,
                'C' => l.c = true,
                'I' => l.i = true,
                '/' | ',' | ' ' | '-' => {}
                other => {
                    return Err(format!(
                        "unknown RACI letter {other:?} in {s:?} (expected R, A, C, I, e.g. R/A)"
                    ))
                }
            }
        }
        Ok(l)
    }
}

impl fmt::Display for Letters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        for (on, c) in [(self.r, "R"), (self.a, "A"), (self.c, "C"), (self.i, "I")] {
            if on {
                parts.push(c);
            }
        }
        if parts.is_empty() {
            f.write_str("-")
        } else {
            f.write_str(&parts.join("/"))
        }
    }
}

/// The whole matrix, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matrix {
    pub cells: std::collections::BTreeMap<(Activity, super::Role), Letters>,
}

impl Matrix {
    pub fn letters(&self, activity: Activity, role: super::Role) -> Letters {
        self.cells
            .get(&(activity, role))
            .copied()
            .unwrap_or_default()
    }
    /// Roles holding R or A for `activity`.
    pub fn acting_roles(&self, activity: Activity) -> Vec<super::Role> {
        super::Role::ALL
            .into_iter()
            .filter(|r| self.letters(activity, *r).may_act())
            .collect()
    }
    /// Roles that may approve requests for `activity`: A, or R too when allowed.
    pub fn approving_roles(&self, activity: Activity, responsible: bool) -> Vec<super::Role> {
        super::Role::ALL
            .into_iter()
            .filter(|r| {
                let l = self.letters(activity, *r);
                l.a || (responsible && l.r)
            })
            .collect()
    }
    /// Roles to consult (shown on requests) and to inform.
    pub fn consulted(&self, activity: Activity) -> Vec<super::Role> {
        super::Role::ALL
            .into_iter()
            .filter(|r| self.letters(activity, *r).c)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_read_and_print_like_the_matrix() {
        let l: Letters = "R/A".parse().unwrap();
        assert!(l.r && l.a && !l.c && l.may_act());
        assert_eq!(l.to_string(), "R/A");
        assert!(!"C".parse::<Letters>().unwrap().may_act());
        assert_eq!("".parse::<Letters>().unwrap().to_string(), "-");
        assert!("X".parse::<Letters>().is_err());
    }

    #[test]
    fn activities_parse_from_their_ids() {
        for a in Activity::ALL {
            assert_eq!(a.as_str().parse::<Activity>().unwrap(), a);
        }
        assert_eq!(
            "approve-delegation".parse::<Activity>().unwrap(),
            Activity::ApproveDelegation
        );
    }
}
