//! Forwarder configurations: the target (syslog, Splunk HEC, webhook), the filter, the sealed
//! secret; how a request body becomes one, how they are stored, and the events that record
//! their changes (never with the secret).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::ForwardError;
use crate::export::MasterKey;
use crate::keys::KeyActor;
use crate::log::{EventLog, LogEntry, Seq};
use crate::own_events::OwnEvent;
use crate::store::{Row, StoreError, values};

/// Where a forwarder sends events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Target {
    /// RFC 5424 messages over TCP (or TLS) with octet-counting framing (RFC 6587).
    #[serde(rename_all = "camelCase")]
    Syslog {
        /// Host name or address of the receiver.
        host: String,
        /// TCP port (514 is customary for plain TCP, 6514 for TLS).
        port: u16,
        /// Speak TLS (RFC 5425).
        #[serde(default)]
        tls: bool,
        /// PEM certificates to trust for the receiver instead of the system's roots.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ca_certificate: Option<String>,
    },
    /// Splunk's HTTP Event Collector; the secret is the HEC token.
    #[serde(rename_all = "camelCase")]
    SplunkHec {
        /// The collector's base URL, such as `https://splunk.example.com:8088`.
        url: String,
        /// The index to write to (the token's default when absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        index: Option<String>,
        /// The sourcetype of every event.
        #[serde(default = "default_sourcetype")]
        sourcetype: String,
        /// Wait for the collector's indexer acknowledgement before an event counts as delivered.
        #[serde(default = "yes")]
        acknowledgements: bool,
    },
    /// NDJSON batches POSTed to a URL, signed with HMAC-SHA256 of the secret.
    #[serde(rename_all = "camelCase")]
    Webhook {
        /// Where the batches go.
        url: String,
    },
}

fn default_sourcetype() -> String {
    "vigil:uam".into()
}

fn yes() -> bool {
    true
}

impl Target {
    /// `SYSLOG`, `SPLUNK_HEC` or `WEBHOOK`.
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Syslog { .. } => "SYSLOG",
            Target::SplunkHec { .. } => "SPLUNK_HEC",
            Target::Webhook { .. } => "WEBHOOK",
        }
    }

    /// What the secret is called for this kind, when it has one.
    fn secret_field(&self) -> Option<&'static str> {
        match self {
            Target::Syslog { .. } => None,
            Target::SplunkHec { .. } => Some("token"),
            Target::Webhook { .. } => Some("signingSecret"),
        }
    }

    /// Where the events go, as compared when a kept secret would follow a change: the whole
    /// endpoint, so that a secret is never sent to a place it was not given for.
    fn endpoint(&self) -> String {
        match self {
            Target::Syslog { host, port, .. } => format!("{host}:{port}"),
            Target::SplunkHec { url, .. } | Target::Webhook { url } => url.clone(),
        }
    }

    fn validate(&self) -> Result<(), ForwardError> {
        match self {
            Target::Syslog {
                host,
                port,
                ca_certificate,
                tls,
            } => {
                let bare = host.trim();
                if bare.is_empty() || bare.contains(['/', ' ', '@', '?', '#']) {
                    return Err(ForwardError::Invalid(format!(
                        "target.host: `{host}` is not a host name or address"
                    )));
                }
                if *port == 0 {
                    return Err(ForwardError::Invalid(
                        "target.port: must be 1 to 65535".into(),
                    ));
                }
                if let Some(pem) = ca_certificate {
                    if !tls {
                        return Err(ForwardError::Invalid(
                            "target.caCertificate: only meaningful with \"tls\": true".into(),
                        ));
                    }
                    super::syslog::parse_roots(pem).map_err(ForwardError::Invalid)?;
                }
                Ok(())
            }
            Target::SplunkHec {
                url, sourcetype, ..
            } => {
                crate::outbound::validate_url("target.url", url).map_err(ForwardError::Invalid)?;
                if sourcetype.trim().is_empty() {
                    return Err(ForwardError::Invalid(
                        "target.sourcetype: must not be empty".into(),
                    ));
                }
                Ok(())
            }
            Target::Webhook { url } => crate::outbound::validate_url("target.url", url)
                .map(|_| ())
                .map_err(ForwardError::Invalid),
        }
    }
}

/// Which events a forwarder sends: each list, when not empty, must name the event's value (an
/// event passes when it passes every list).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Filter {
    /// `action` values, such as `QUERY`.
    #[serde(default)]
    pub actions: Vec<String>,
    /// `actionStatus` values: `SUCCESS`, `FAILURE`, `UNAUTHORIZED`.
    #[serde(default)]
    pub action_statuses: Vec<String>,
    /// `targetType` values, such as `DATASOURCE`.
    #[serde(default)]
    pub target_types: Vec<String>,
}

impl Filter {
    fn normalize(mut self) -> Result<Filter, ForwardError> {
        for (field, list) in [
            ("filter.actions", &mut self.actions),
            ("filter.actionStatuses", &mut self.action_statuses),
            ("filter.targetTypes", &mut self.target_types),
        ] {
            for value in list.iter_mut() {
                let upper = value.trim().to_ascii_uppercase();
                if upper.is_empty()
                    || !upper.bytes().all(|byte| {
                        byte.is_ascii_uppercase() || byte.is_ascii_digit() || byte == b'_'
                    })
                {
                    return Err(ForwardError::Invalid(format!(
                        "{field}: `{value}` is not a value of the audit model (such as QUERY or UNAUTHORIZED)"
                    )));
                }
                *value = upper;
            }
            list.sort();
            list.dedup();
        }
        Ok(self)
    }

    /// Whether the event (its stored JSON, parsed) passes.
    pub fn matches(&self, event: &Value) -> bool {
        let passes = |list: &[String], field: &str| {
            list.is_empty()
                || event[field]
                    .as_str()
                    .is_some_and(|value| list.iter().any(|wanted| wanted == value))
        };
        passes(&self.actions, "action")
            && passes(&self.action_statuses, "actionStatus")
            && passes(&self.target_types, "targetType")
    }
}

/// Where a new forwarder starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StartAt {
    /// Every event in the log, oldest first.
    Beginning,
    /// Events stored from its creation on.
    Now,
}

/// A forwarder as stored and shown (never with its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Forwarder {
    /// A UUID, given at creation.
    pub id: String,
    /// A name people recognise.
    pub name: String,
    /// Whether it runs.
    pub enabled: bool,
    /// Where it sends.
    pub target: Target,
    /// What it sends.
    pub filter: Filter,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When it was last changed (RFC 3339).
    pub updated_at: String,
}

/// What a create or update request gives; the fields without a comment are [`Forwarder`]'s.
#[derive(Debug, Clone)]
pub struct ForwarderInput {
    pub name: String,
    pub enabled: bool,
    pub target: Target,
    pub filter: Filter,
    /// The HEC token or the webhook's signing secret; on update, `None` keeps the stored one
    /// (only while the endpoint stays the same).
    pub secret: Option<String>,
    /// Where a new forwarder starts (`NOW` unless given).
    pub start_at: StartAt,
}

/// A forwarder as a create or update request gives it.
#[derive(Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForwarderBody {
    /// A name people recognise.
    name: String,
    /// Whether it runs (default true).
    #[serde(default = "yes")]
    enabled: bool,
    /// Where it sends.
    target: Target,
    /// What it sends (everything by default).
    #[serde(default)]
    filter: Filter,
    /// `SPLUNK_HEC`: the HEC token (sealed, never returned; on update, absent keeps it).
    #[serde(default)]
    token: Option<String>,
    /// `WEBHOOK`: the HMAC key of `X-Vigil-Signature` (sealed, never returned).
    #[serde(default)]
    signing_secret: Option<String>,
    /// On create: `NOW` (default) or `BEGINNING`.
    #[serde(default)]
    start_at: Option<StartAt>,
}

impl ForwarderInput {
    /// Reads and checks a request body; `creating` requires the secret its target needs.
    pub fn parse(body: &Value, creating: bool) -> Result<ForwarderInput, ForwardError> {
        let body: ForwarderBody = serde_path_to_error::deserialize(body).map_err(|error| {
            let path = error.path().to_string();
            let at = if path == "." {
                String::new()
            } else {
                format!("{path}: ")
            };
            ForwardError::Invalid(format!("{at}{}", error.inner()))
        })?;
        let name = body.name.trim().to_owned();
        if name.is_empty() || name.len() > 200 {
            return Err(ForwardError::Invalid(
                "name: must be 1 to 200 characters".into(),
            ));
        }
        body.target.validate()?;
        let filter = body.filter.normalize()?;
        let field = body.target.secret_field();
        let (token, signing) = (body.token, body.signing_secret);
        let secret = match field {
            None => {
                if token.is_some() || signing.is_some() {
                    return Err(ForwardError::Invalid(format!(
                        "a {} forwarder takes no token or signing secret",
                        body.target.kind()
                    )));
                }
                None
            }
            Some(field) => {
                let (given, other) = if field == "token" {
                    (token, signing)
                } else {
                    (signing, token)
                };
                if other.is_some() {
                    return Err(ForwardError::Invalid(format!(
                        "a {} forwarder's secret is `{field}`",
                        body.target.kind()
                    )));
                }
                match given {
                    Some(secret) if secret.trim().is_empty() => {
                        return Err(ForwardError::Invalid(format!("{field}: must not be empty")));
                    }
                    None if creating => {
                        return Err(ForwardError::Invalid(format!(
                            "{field}: is required for a {} forwarder",
                            body.target.kind()
                        )));
                    }
                    given => given,
                }
            }
        };
        if !creating && body.start_at.is_some() {
            return Err(ForwardError::Invalid(
                "startAt: only a new forwarder has a start; an existing one goes on from its checkpoint".into(),
            ));
        }
        Ok(ForwarderInput {
            name,
            enabled: body.enabled,
            target: body.target,
            filter,
            secret,
            start_at: body.start_at.unwrap_or(StartAt::Now),
        })
    }

    /// Refuses an update whose endpoint differs from `current`'s without its secret again: a
    /// kept secret never follows a forwarder to another place.
    pub fn check_kept_secret(&self, current: &Forwarder) -> Result<(), ForwardError> {
        if current.target.kind() != self.target.kind() {
            return Err(ForwardError::Invalid(format!(
                "target.type: forwarder {} is {}; delete it and create a new one to change the type",
                current.id,
                current.target.kind()
            )));
        }
        if let Some(field) = self.target.secret_field()
            && self.secret.is_none()
            && current.target.endpoint() != self.target.endpoint()
        {
            return Err(ForwardError::Invalid(format!(
                "{field}: give it again to send to another endpoint ({} instead of {}); the kept one only goes where it was given for",
                self.target.endpoint(),
                current.target.endpoint()
            )));
        }
        Ok(())
    }
}

impl Forwarder {
    /// The JSON the API answers: the configuration, `secretSet`, and the status when given.
    pub fn to_json(&self, status: Option<&ForwardStatus>) -> Value {
        let mut value = json!(self);
        value["secretSet"] = json!(self.target.secret_field().is_some());
        if let Some(status) = status {
            value["status"] = json!(status);
        }
        value
    }
}

/// The progress of a forwarder.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ForwardStatus {
    /// Every event up to this sequence number is delivered (or filtered out).
    pub checkpoint_seq: Seq,
    /// Events delivered in total.
    pub forwarded_events: u64,
    /// Events in the log after the checkpoint.
    pub lag: u64,
    /// When events were last delivered (RFC 3339).
    pub last_forwarded_at: Option<String>,
    /// Why the last attempt failed, when it did.
    pub last_error: Option<String>,
    /// Failed attempts since the last delivery.
    pub attempts: u64,
}

const SELECT_FORWARDER: &str = "SELECT settings FROM forwarders";

fn forwarder_from_row(row: &Row) -> Result<Forwarder, StoreError> {
    let text = row.string(0)?;
    serde_json::from_str(&text)
        .map_err(|error| StoreError::Refused(format!("a stored forwarder is unreadable: {error}")))
}

/// Every forwarder, oldest first.
pub fn list_forwarders(log: &EventLog) -> Result<Vec<Forwarder>, ForwardError> {
    Ok(log.query(|db| {
        db.query(&format!("{SELECT_FORWARDER} ORDER BY created_at, id"), &[])?
            .iter()
            .map(forwarder_from_row)
            .collect()
    })?)
}

/// One forwarder, or [`ForwardError::NotFound`].
pub fn get_forwarder(log: &EventLog, id: &str) -> Result<Forwarder, ForwardError> {
    let wanted = id.to_owned();
    log.query(move |db| {
        db.query_optional(
            &format!("{SELECT_FORWARDER} WHERE id = ?1"),
            values![wanted],
        )?
        .as_ref()
        .map(forwarder_from_row)
        .transpose()
    })?
    .ok_or_else(|| ForwardError::NotFound(id.to_owned()))
}

/// The unsealed secret of a forwarder (`None` for syslog).
pub fn forwarder_secret(
    log: &EventLog,
    master: &MasterKey,
    id: &str,
) -> Result<Option<String>, ForwardError> {
    let wanted = id.to_owned();
    let sealed: Option<Vec<u8>> = log.query(move |db| {
        db.query_optional(
            "SELECT sealed_secret FROM forwarders WHERE id = ?1",
            values![wanted],
        )?
        .map(|row| row.bytes(0).map(<[u8]>::to_vec))
        .transpose()
    })?;
    let sealed = sealed.ok_or_else(|| ForwardError::NotFound(id.to_owned()))?;
    if sealed.is_empty() {
        return Ok(None);
    }
    Ok(Some(master.open(id, &sealed)?))
}

/// The progress of forwarder `id` (`lag` against `head`).
pub fn read_status(log: &EventLog, id: &str, head: Seq) -> Result<ForwardStatus, ForwardError> {
    let wanted = id.to_owned();
    let row = log.query(move |db| {
        db.query_optional(
            "SELECT checkpoint_seq, forwarded_events, last_forwarded_at, last_error, attempts
             FROM forward_state WHERE forwarder_id = ?1",
            values![wanted],
        )?
        .map(|row| {
            Ok::<_, StoreError>(ForwardStatus {
                checkpoint_seq: row.integer(0)? as Seq,
                forwarded_events: row.integer(1)? as u64,
                lag: 0,
                last_forwarded_at: row.optional_string(2)?,
                last_error: row.optional_string(3)?,
                attempts: row.integer(4)? as u64,
            })
        })
        .transpose()
    })?;
    let mut status = row.ok_or_else(|| ForwardError::NotFound(id.to_owned()))?;
    status.lag = head.saturating_sub(status.checkpoint_seq);
    Ok(status)
}

/// The audit event recording a change of a forwarder: never with its secret.
pub(super) fn forwarder_event(
    action: &'static str,
    payload_type: &str,
    forwarder: &Forwarder,
    actor: &KeyActor,
) -> LogEntry {
    OwnEvent {
        action,
        target_type: "FORWARDER",
        actor: actor.to_json(),
        targets: json!([{ "type": "FORWARDER", "id": forwarder.id, "name": forwarder.name }]),
        payload: json!({
            "type": payload_type,
            "version": 1,
            "forwarder": forwarder,
        }),
    }
    .into_entry()
}
