//! vigil-core: the event log and what is derived from it. Plain Rust with plain errors: it does
//! not know about HTTP, GraphQL or HTML.

mod chain;
mod error;
pub mod ingest;
pub mod keys;
mod log;
pub mod search;
mod verify;

pub use chain::{ChainHash, GENESIS, body_digest, chain_hash};
pub use error::LogError;
pub use log::{
    AppendResult, DATABASE_FILE, EventLog, LogEntry, LogStats, Seq, SideWrite, StoredEvent,
};
pub use verify::{ChainBreak, VerifyReport, verify};
