//! Domain types: validating newtypes, the report document, runs, acknowledgements, audit events
//! and principals. An invalid value of any of these cannot be constructed.

mod ack;
mod audit;
mod auth;
mod chain;
mod check;
mod completion;
mod connection;
mod error;
mod flow;
mod ids;
mod reason;
mod report;
mod run;
mod stored;
mod time;

pub use ack::*;
pub use audit::*;
pub use auth::*;
pub use chain::*;
pub use check::*;
pub use completion::*;
pub use connection::*;
pub use error::*;
pub use flow::*;
pub use ids::*;
pub use reason::*;
pub use report::*;
pub use run::*;
pub use stored::*;
pub use time::*;
