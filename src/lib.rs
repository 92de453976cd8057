//! certdeck: a terminal operations console for the certificate lifecycle of a whole
//! organisation. See `../shared/DESIGN.md` for the picture this crate follows: front-ends
//! (`tui`, `cli`) call `ops`; `ops` authorizes, acts and audits in one store transaction;
//! domain modules hold the rules; `store` holds all SQL.

pub mod access;
pub mod audit;
pub mod breakglass;
pub mod ca;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod deploy;
pub mod discovery;
pub mod lifecycle;
pub mod model;
pub mod ops;
pub mod policy;
pub mod query;
pub mod sanitize;
pub mod store;
#[doc(hidden)]
pub mod testing;
pub mod tui;
pub mod workflow;
pub mod x509;

pub use clock::{Clock, FixedClock, SystemClock};
