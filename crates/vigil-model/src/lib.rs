//! vigil-model: the Universal Audit Model (UAM) and the legacy audit record — types, validation,
//! the UAM ↔ legacy mapping. Plain Rust: no I/O, no HTTP, no storage.

mod admin_payloads;
mod enums;
mod error;
mod event;
pub mod fixtures;
pub mod json;
pub mod legacy;
mod payload;
mod query;
mod refs;
mod values;

pub use admin_payloads::*;
pub use enums::{
    Action, ActionStatus, ActorType, AuthenticationMethod, DatabricksService, LogoutReason,
    SensitivityScore, TargetType, Technology,
};
pub use error::{ModelError, parse_with_path};
pub use event::{
    Actor, FilledFields, MAX_EVENT_ID_CHARS, NormalizedEvent, Resource, UamEvent, normalize,
    submitted_part, validate_event_id,
};
pub use payload::*;
pub use query::*;
pub use refs::*;
pub use values::{Id, SchemaVersion, Timestamp};
