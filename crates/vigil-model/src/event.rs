//! The UAM event envelope, its validation, and `normalize`: from the JSON an event arrived with to
//! the JSON vigil stores.

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::enums::{Action, ActionStatus, ActorType, TargetType, Technology};
use crate::error::{ModelError, parse_with_path};
use crate::json::{MAX_NESTING, minify, string_literal, too_deep};
use crate::payload::{AuditPayload, EventType, parse_audit_payload, refuse_own_payload_type};
use crate::values::{Id, SchemaVersion, Timestamp, nullable_vec};

/// The longest event `id` accepted.
pub const MAX_EVENT_ID_CHARS: usize = 256;

/// A validated UAM event: a typed view of the stored JSON, which stays the record.
#[derive(Debug, Clone)]
pub struct UamEvent {
    /// `id`: unique per event; vigil assigns a UUID when it is missing.
    pub id: Option<String>,
    /// `action`.
    pub action: Action,
    /// `actor`: who acted.
    pub actor: Actor,
    /// `targetType`.
    pub target_type: Option<TargetType>,
    /// `targets`: the objects acted on.
    pub targets: Vec<Resource>,
    /// `relatedResources`.
    pub related_resources: Vec<Resource>,
    /// `actionStatus`.
    pub action_status: Option<ActionStatus>,
    /// `actionStatusReason`: null on success, else why not.
    pub action_status_reason: Option<serde_json::Value>,
    /// `eventTimestamp`: when it happened.
    pub event_timestamp: Timestamp,
    /// `receivedTimestamp`: when vigil (or the original service) stored it.
    pub received_timestamp: Option<Timestamp>,
    /// `tenantId`.
    pub tenant_id: Option<String>,
    /// `sessionId`.
    pub session_id: Option<Id>,
    /// `requestId`.
    pub request_id: Option<Id>,
    /// `actorIp`.
    pub actor_ip: Option<String>,
    /// `userAgent`.
    pub user_agent: Option<String>,
    /// `customerId`.
    pub customer_id: Option<Id>,
    /// `modifiedResourceType`.
    pub modified_resource_type: Option<TargetType>,
    /// Top-level `type`, which some events carry instead of a payload type.
    pub type_name: Option<String>,
    /// Top-level `version`.
    pub version: Option<SchemaVersion>,
    /// The event type, from the payload type or the top-level `type`; `None` when unknown.
    pub event_type: Option<EventType>,
    /// The typed `auditPayload`, when present.
    pub audit_payload: Option<AuditPayload>,
}

/// `actor`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Actor {
    /// `USER_ACTOR`, `SYSTEM_ACCOUNT`, …
    #[serde(rename = "type")]
    pub actor_type: Option<ActorType>,
    /// The user id (often an email).
    pub id: Option<Id>,
    /// Display name; `Unknown` for unregistered platform users.
    pub name: Option<String>,
    /// Identity provider (`bim`, …).
    pub identity_provider: Option<String>,
    /// Profile id.
    pub profile_id: Option<Id>,
    /// Who impersonated the actor, if anyone.
    pub impersonated_by: Option<serde_json::Value>,
}

/// An element of `targets` or `relatedResources`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    /// Kind of object.
    #[serde(rename = "type")]
    pub resource_type: Option<TargetType>,
    /// Identifier.
    pub id: Option<Id>,
    /// Name.
    pub name: Option<String>,
    /// Data platform, for data sources.
    pub technology: Option<Technology>,
    /// Identity provider, for users and groups.
    pub identity_provider: Option<String>,
    /// Profile id, for users.
    pub profile_id: Option<Id>,
    /// Project key.
    pub project_key: Option<String>,
    /// Policy key.
    pub policy_key: Option<String>,
    /// Connection key.
    pub connection_key: Option<String>,
    /// Domain type.
    pub domain_type: Option<String>,
    /// Tag source.
    pub source: Option<String>,
    /// Tag context.
    pub context: Option<String>,
    /// Attribute values.
    pub values: Option<Vec<String>>,
    /// Subscription: the subscriber.
    pub subscriber: Option<Box<Resource>>,
    /// Subscription: the data source or project subscribed to.
    pub model: Option<Box<Resource>>,
    /// The data source a column or policy belongs to.
    pub datasource: Option<Box<Resource>>,
}

/// The envelope as it is read; the payload stays raw until its type is known.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    #[serde(default, deserialize_with = "event_id")]
    id: Option<Option<String>>,
    action: Option<Action>,
    actor: Option<Actor>,
    target_type: Option<TargetType>,
    #[serde(default, deserialize_with = "nullable_vec")]
    targets: Vec<Resource>,
    #[serde(default, deserialize_with = "nullable_vec")]
    related_resources: Vec<Resource>,
    action_status: Option<ActionStatus>,
    action_status_reason: Option<serde_json::Value>,
    event_timestamp: Option<Timestamp>,
    #[serde(default, deserialize_with = "present")]
    received_timestamp: Option<Option<Timestamp>>,
    tenant_id: Option<String>,
    session_id: Option<Id>,
    request_id: Option<Id>,
    actor_ip: Option<String>,
    user_agent: Option<String>,
    customer_id: Option<Id>,
    modified_resource_type: Option<TargetType>,
    #[serde(rename = "type")]
    type_name: Option<String>,
    version: Option<SchemaVersion>,
    #[serde(borrow)]
    audit_payload: Option<&'a RawValue>,
}

/// `id`: a JSON string or `null`, never a number or an object. A number would be stored under its
/// text while the stored JSON keeps the number, so the two could never be matched again.
fn event_id<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<String>>, D::Error> {
    struct EventIdVisitor;
    impl<'de> serde::de::Visitor<'de> for EventIdVisitor {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an event id as a JSON string")
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
            Ok(Some(text.to_owned()))
        }
        fn visit_string<E: serde::de::Error>(self, text: String) -> Result<Self::Value, E> {
            Ok(Some(text))
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    deserializer.deserialize_any(EventIdVisitor).map(Some)
}

/// Tells a key that is present with `null` (`Some(None)`) from a missing key (`None`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Some(Option::deserialize(deserializer)?))
}

impl UamEvent {
    /// Parses and validates one event from its JSON text.
    pub fn from_json(text: &str) -> Result<UamEvent, ModelError> {
        Ok(parse(text, Origin::Stored)?.0)
    }
}

struct KeyPresence {
    id: bool,
    received_timestamp: bool,
}

/// Whether an event is being submitted (and so may not pass for vigil's own) or read back.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    Submitted,
    Stored,
}

fn parse(text: &str, origin: Origin) -> Result<(UamEvent, KeyPresence), ModelError> {
    // Unknown fields are skipped without a depth limit; refuse what the other routes refuse.
    if let Some((line, column)) = too_deep(text) {
        return Err(ModelError::Syntax {
            line,
            column,
            message: format!(
                "recursion limit exceeded: arrays and objects nest deeper than {MAX_NESTING} levels"
            ),
        });
    }
    let envelope: Envelope<'_> = parse_with_path(text, "")?;

    let presence = KeyPresence {
        id: envelope.id.is_some(),
        received_timestamp: envelope.received_timestamp.is_some(),
    };
    let id = envelope.id.flatten();
    if let Some(id) = &id {
        validate_event_id(id)?;
    }
    let action = envelope
        .action
        .ok_or_else(|| ModelError::invalid("action", "is required"))?;
    let actor = envelope
        .actor
        .ok_or_else(|| ModelError::invalid("actor", "is required"))?;
    let event_timestamp = envelope
        .event_timestamp
        .ok_or_else(|| ModelError::invalid("eventTimestamp", "is required"))?;
    let (event_type, audit_payload) = match envelope.audit_payload {
        Some(raw) => {
            if origin == Origin::Submitted {
                refuse_own_payload_type(raw)?;
            }
            let parsed = parse_audit_payload(raw, envelope.type_name.as_deref())?;
            (parsed.event_type, Some(parsed.payload))
        }
        None => (
            envelope.type_name.as_deref().and_then(EventType::from_name),
            None,
        ),
    };
    let event = UamEvent {
        id,
        action,
        actor,
        target_type: envelope.target_type,
        targets: envelope.targets,
        related_resources: envelope.related_resources,
        action_status: envelope.action_status,
        action_status_reason: envelope.action_status_reason,
        event_timestamp,
        received_timestamp: envelope.received_timestamp.flatten(),
        tenant_id: envelope.tenant_id,
        session_id: envelope.session_id,
        request_id: envelope.request_id,
        actor_ip: envelope.actor_ip,
        user_agent: envelope.user_agent,
        customer_id: envelope.customer_id,
        modified_resource_type: envelope.modified_resource_type,
        type_name: envelope.type_name,
        version: envelope.version,
        event_type,
        audit_payload,
    };
    Ok((event, presence))
}

/// Checks an event id: not blank, no surrounding whitespace, not `.` or `..` (which cannot name
/// an event in a URL path), not too long, no control characters.
pub fn validate_event_id(id: &str) -> Result<(), ModelError> {
    if id.trim().is_empty() {
        return Err(ModelError::invalid("id", "must not be empty or blank"));
    }
    if id.trim() != id {
        return Err(ModelError::invalid(
            "id",
            "must not begin or end with whitespace",
        ));
    }
    if id == "." || id == ".." {
        return Err(ModelError::invalid(
            "id",
            format!("`{id}` cannot be used as an id: it cannot be read back by URL"),
        ));
    }
    if id.chars().count() > MAX_EVENT_ID_CHARS {
        return Err(ModelError::invalid(
            "id",
            format!("is longer than {MAX_EVENT_ID_CHARS} characters"),
        ));
    }
    if id.chars().any(char::is_control) {
        return Err(ModelError::invalid(
            "id",
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// What vigil filled in when an event arrived without it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FilledFields {
    /// `id` was missing and a UUID was assigned.
    pub id: bool,
    /// `receivedTimestamp` was missing and set to the arrival time.
    pub received_timestamp: bool,
}

/// An event ready for the log.
#[derive(Debug, Clone)]
pub struct NormalizedEvent {
    /// The event id (sent or assigned).
    pub id: String,
    /// The typed view.
    pub event: UamEvent,
    /// The JSON to store: the text as sent, minified, with the filled fields added at the front.
    pub stored_json: String,
    /// The JSON as sent, minified: what a retry of the same event must match.
    pub submitted_json_len: usize,
    /// Which fields vigil filled in.
    pub filled: FilledFields,
}

impl NormalizedEvent {
    /// The stored JSON without the fields vigil filled in, i.e. as it was submitted (minified).
    pub fn submitted_json(&self) -> std::borrow::Cow<'_, str> {
        submitted_part(&self.stored_json, self.submitted_json_len)
    }
}

/// Given a stored JSON and the length of its submitted part, returns the submitted part.
pub fn submitted_part(stored_json: &str, submitted_len: usize) -> std::borrow::Cow<'_, str> {
    // Filled fields are inserted right after the opening brace; the submitted text is the opening
    // brace plus the last `submitted_len - 1` bytes.
    if stored_json.len() == submitted_len {
        std::borrow::Cow::Borrowed(stored_json)
    } else {
        std::borrow::Cow::Owned(format!(
            "{{{}",
            &stored_json[stored_json.len() - (submitted_len - 1)..]
        ))
    }
}

/// Validates an event and produces the JSON to store. `new_id` is called only when the event has
/// no id; `arrival` becomes `receivedTimestamp` when the event has none.
pub fn normalize(
    text: &str,
    new_id: impl FnOnce() -> String,
    arrival: Timestamp,
) -> Result<NormalizedEvent, ModelError> {
    let (mut event, presence) = parse(text, Origin::Submitted)?;
    let submitted = minify(text);
    let mut filled = FilledFields::default();
    let mut prefix = String::new();
    let id = match event.id.clone() {
        Some(id) => id,
        None => {
            let id = new_id();
            prefix.push_str(&format!("\"id\":{},", string_literal(&id)));
            event.id = Some(id.clone());
            filled.id = true;
            id
        }
    };
    if event.received_timestamp.is_none() {
        prefix.push_str(&format!(
            "\"receivedTimestamp\":{},",
            string_literal(&arrival.to_rfc3339_utc())
        ));
        event.received_timestamp = Some(arrival);
        filled.received_timestamp = true;
    }
    let null_key_filled =
        (filled.id && presence.id) || (filled.received_timestamp && presence.received_timestamp);
    let submitted_json_len = submitted.len();
    let stored_json = if prefix.is_empty() {
        submitted
    } else if null_key_filled {
        // A key was sent as `null`: replace its value rather than adding a second key.
        let mut value: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&submitted).map_err(|error| ModelError::from_json(&error, ""))?;
        if filled.id {
            value.insert("id".into(), id.clone().into());
        }
        if filled.received_timestamp {
            value.insert("receivedTimestamp".into(), arrival.to_rfc3339_utc().into());
        }
        let json = serde_json::to_string(&value).expect("a map always serializes");
        return Ok(NormalizedEvent {
            id,
            event,
            submitted_json_len: json.len(),
            stored_json: json,
            filled: FilledFields::default(),
        });
    } else {
        format!("{{{prefix}{}", &submitted[1..])
    };
    Ok(NormalizedEvent {
        id,
        event,
        submitted_json_len,
        stored_json,
        filled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{"action":"QUERY","actor":{"type":"USER_ACTOR","id":"a@b.c"},"eventTimestamp":"2024-01-01T00:00:00Z","extra":{"kept":1.50}}"#;

    fn arrival() -> Timestamp {
        Timestamp::parse("2024-02-02T10:00:00.123Z").unwrap()
    }

    #[test]
    fn normalize_fills_missing_id_and_received_timestamp_at_the_front() {
        let normalized = normalize(MINIMAL, || "fixed-id".into(), arrival()).unwrap();
        assert_eq!(normalized.id, "fixed-id");
        assert_eq!(
            normalized.stored_json,
            format!(
                "{{\"id\":\"fixed-id\",\"receivedTimestamp\":\"2024-02-02T10:00:00.123Z\",{}",
                &MINIMAL[1..]
            )
        );
        assert_eq!(normalized.submitted_json(), MINIMAL);
        assert_eq!(
            normalized.filled,
            FilledFields {
                id: true,
                received_timestamp: true
            }
        );
    }

    #[test]
    fn normalize_keeps_complete_events_byte_for_byte() {
        let text = r#"{"id":"x","receivedTimestamp":"2024-01-01T00:00:01Z","action":"QUERY","actor":{},"eventTimestamp":"2024-01-01T00:00:00Z"}"#;
        let normalized = normalize(text, || unreachable!(), arrival()).unwrap();
        assert_eq!(normalized.stored_json, text);
        assert_eq!(normalized.filled, FilledFields::default());
    }

    #[test]
    fn normalize_replaces_null_ids_instead_of_duplicating_the_key() {
        let text =
            r#"{"id":null,"action":"QUERY","actor":{},"eventTimestamp":"2024-01-01T00:00:00Z"}"#;
        let normalized = normalize(text, || "new".into(), arrival()).unwrap();
        let value: serde_json::Value = serde_json::from_str(&normalized.stored_json).unwrap();
        assert_eq!(value["id"], "new");
        assert_eq!(normalized.stored_json.matches("\"id\"").count(), 1);
    }

    #[test]
    fn errors_name_the_field() {
        let error = UamEvent::from_json(r#"{"action":"QUERY","actor":{}}"#).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid value at `eventTimestamp`: is required"
        );
        let error = UamEvent::from_json(
            r#"{"action":"QUERY","actor":{},"eventTimestamp":"2024-01-01T00:00:00Z","auditPayload":{"type":"QueryAuditPayload","technologyContext":{"type":"TrinoContext","rowsProduced":"many"}}}"#,
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid value at `auditPayload.technologyContext.rowsProduced`: invalid type: string \"many\", expected i64"
        );
        let error = UamEvent::from_json(r#"{"action":"QUERY","actor":{},"eventTimestamp":"noon"}"#)
            .unwrap_err();
        assert!(error.to_string().contains("eventTimestamp"), "{error}");
    }

    #[test]
    fn unknown_payload_types_are_kept() {
        let event = UamEvent::from_json(
            r#"{"action":"NEW","actor":{},"eventTimestamp":"2024-01-01T00:00:00Z","auditPayload":{"type":"FutureAuditPayload","x":1}}"#,
        )
        .unwrap();
        assert!(event.event_type.is_none());
        assert!(matches!(
            event.audit_payload,
            Some(AuditPayload::Unknown { type_name: Some(ref name) }) if name == "FutureAuditPayload"
        ));
    }

    #[test]
    fn ids_are_non_blank_strings_that_a_url_can_name() {
        let event = |id: &str| {
            format!(
                r#"{{"id":{id},"action":"QUERY","actor":{{}},"eventTimestamp":"2024-01-01T00:00:00Z"}}"#
            )
        };
        for bad in [
            "12345", "-7", "1.5", "{}", "[]", "true", r#""""#, r#"" ""#, r#"" x""#, r#""x ""#,
            r#"".""#, r#""..""#,
        ] {
            let error = UamEvent::from_json(&event(bad)).unwrap_err().to_string();
            assert!(error.starts_with("invalid value at `id`"), "{bad}: {error}");
        }
        let error = UamEvent::from_json(&event("12345"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("expected an event id as a JSON string"),
            "{error}"
        );
        for good in [r#""12345""#, r#""a b""#, r#"".x""#, r#""...""#] {
            assert!(UamEvent::from_json(&event(good)).is_ok(), "{good}");
        }
        assert_eq!(UamEvent::from_json(&event("null")).unwrap().id, None);
    }
}
