//! vigil-core: the event log and what is derived from it. Plain Rust with plain errors: it does
//! not know about HTTP, GraphQL or HTML.

pub mod alerts;
mod chain;
pub mod checkpoint;
pub mod cluster;
mod error;
pub mod export;
pub mod forward;
pub mod governance;
pub mod ingest;
pub mod keys;
mod log;
pub mod outbound;
mod own_events;
pub mod query_audit;
pub mod registry;
mod retention;
pub mod saved_searches;
pub mod search;
pub mod sessions;
pub mod store;
mod verify;
pub mod view;

pub use chain::{ChainHash, GENESIS, body_digest, chain_hash, link_digest};
pub use error::{Classify, ErrorKind, LogError};
pub use log::{
    AppendResult, CompactionOptions, CompactionStatus, DATABASE_FILE, EventLog, LogEntry, LogStats,
    Seq, SideWrite, StoredEvent, Submitter,
};
pub use own_events::{Outcome, OwnEvent};
pub use retention::{ChainAnchor, Removal, apply_retention, chain_anchor};
pub use verify::{ChainBreak, VerifyOptions, VerifyReport, verify, verify_postgres, verify_with};
