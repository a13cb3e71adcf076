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
        self.into_entry_with(&Outcome::default())
    }

    /// The log entry of the event with its outcome and session.
    pub fn into_entry_with(self, outcome: &Outcome<'_>) -> LogEntry {
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
            "actionStatus": outcome.status,
            "actionStatusReason": outcome.reason,
            "eventTimestamp": time,
            "receivedTimestamp": time,
            "auditPayload": self.payload,
        });
        let mut json = json;
        if let Some(session) = outcome.session_id {
            json["sessionId"] = json!(session);
        }
        if let Some(ip) = outcome.actor_ip {
            json["actorIp"] = json!(ip);
        }
        let json = json.to_string();
        let length = json.len();
        LogEntry::new(id, json, length, now.unix_micros(), now.unix_micros())
            .submitted_by(Submitter::vigil())
    }
}

/// How an own event ended and in which session: `SUCCESS` outside any session by default.
pub struct Outcome<'a> {
    /// `actionStatus`.
    pub status: &'static str,
    /// `actionStatusReason`.
    pub reason: Option<&'a str>,
    /// `sessionId`: the session of the person who acted.
    pub session_id: Option<&'a str>,
    /// `actorIp`.
    pub actor_ip: Option<&'a str>,
}

impl Default for Outcome<'_> {
    fn default() -> Self {
        Outcome {
            status: "SUCCESS",
            reason: None,
            session_id: None,
            actor_ip: None,
        }
    }
}
