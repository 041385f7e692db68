//! Domain types: validating newtypes, the report document, runs, acknowledgements, audit events,
//! principals, schedules and webhooks. An invalid value of any of these cannot be constructed.

mod ack;
mod audit;
mod auth;
mod chain;
mod check;
mod completion;
mod connection;
mod delivery;
mod error;
mod fleet;
mod flow;
mod ids;
mod reason;
mod report;
mod run;
mod schedule;
mod stored;
mod time;
mod webhook;

pub use ack::*;
pub use audit::*;
pub use auth::*;
pub use chain::*;
pub use check::*;
pub use completion::*;
pub use connection::*;
pub use delivery::*;
pub use error::*;
pub use fleet::*;
pub use flow::*;
pub use ids::*;
pub use reason::*;
pub use report::*;
pub use run::*;
pub use schedule::*;
pub use stored::*;
pub use time::*;
pub use webhook::*;
