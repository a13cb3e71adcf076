//! The events vigil records about itself (key changes, retention, searches): one envelope,
//! built in one place.

use serde_json::{Value, json};
use vigil_model::Timestamp;

use crate::log::{LogEntry, Submitter};

/// An event vigil records about its own use.
pub struct OwnEvent {
    /// `action`, such as `CREATE` or `AUDIT_QUERY`.
    pub action: &'static str,
    /// `targetType`.
    pub target_type: &'static str,
    /// `actor`: `{type, id, name}`.
    pub actor: Value,
    /// `targets`.
    pub targets: Value,
    /// `auditPayload`, with its `type`.
    pub payload: Value,
}

impl OwnEvent {
    /// The log entry of the event, with a new id and the current time.
    pub fn into_entry(self) -> LogEntry {
        let now = Timestamp::now();
        let id = uuid::Uuid::new_v4().to_string();
        let time = now.to_rfc3339_utc();
        let json = json!({
            "id": id,
            "action": self.action,
            "actor": self.actor,
            "targetType": self.target_type,
            "targets": self.targets,
            "relatedResources": [],
            "actionStatus": "SUCCESS",
            "actionStatusReason": null,
            "eventTimestamp": time,
            "receivedTimestamp": time,
            "auditPayload": self.payload,
        })
        .to_string();
        let length = json.len();
        LogEntry::new(id, json, length, now.unix_micros(), now.unix_micros())
            .submitted_by(Submitter::vigil())
    }
}
