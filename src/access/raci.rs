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

impl fmt::Display for Activity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}
