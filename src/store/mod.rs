//! All SQL lives here (DESIGN.md rule 4). Functions are shaped by the domain's questions
//! ("certificates expiring before T", "append an audit record"), not by SQLite, so a
//! PostgreSQL store can follow.

mod access;
mod audit;
mod certificates;
mod console;
mod db;
mod inventory;
mod lifecycle;
mod policy;
mod sources;
mod workflow;

pub use access::Operator;
pub use audit::AuditQuery;
pub use certificates::{
    row_as_stored, DeferredIndexes, InsertOutcome, IssuerCandidate, IssuerLink, NewSighting,
    RowSelect, Sighting,
};
pub use console::{AuditSearch, Dashboard, EstateCounts, NameCount};
pub use db::{Read, Store, StoreError, Tx, MIGRATIONS};
pub use lifecycle::{AlertRow, FinishedJob, HealthRow, LedgerRow, PlanRow};
pub use policy::{PolicyVersion, StoredRule};
pub use sources::peek_certificate_sources;
pub use workflow::{NewRequest, RequestFilter};
