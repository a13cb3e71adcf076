//! Retention: removes the oldest part of the log — every event up to the first one still within
//! the retention period — and records where the kept chain starts, so that it still verifies.
//! The removal is itself recorded as an `EventsRemoved` event, in the same transaction, which
//! carries the anchor signed with the export signing key: `vigil verify` accepts an anchor only
//! with the signed event that set it, so a faked anchor (old rows deleted, the anchor table
//! written by hand) shows as a break.

use serde::{Deserialize, Serialize};
use serde_json::json;
use vigil_model::Timestamp;

use crate::chain::ChainHash;
use crate::error::LogError;
use crate::export::SigningKey;
use crate::log::{EventLog, Seq, SideWrite, StoredEvent, Submitter};
use crate::own_events::OwnEvent;
use crate::store::{StoreError, values};

/// Where the kept chain starts after a removal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainAnchor {
    /// The first sequence number kept.
    pub first_seq: Seq,
    /// The chain hash of the last removed event, which the first kept event links to.
    pub previous_hash: ChainHash,
}

/// What a retention run removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    /// First removed sequence number.
    pub from_seq: Seq,
    /// Last removed sequence number.
    pub to_seq: Seq,
}

/// The format name of a signed removal; also the first line of what is signed.
pub const REMOVAL_FORMAT: &str = "vigil-retention/1";
/// The payload type of the event that records a removal.
pub const REMOVAL_PAYLOAD_TYPE: &str = "EventsRemovedAuditPayload";

/// The signed part of an `EventsRemoved` event: events `from_seq..=to_seq` were removed, and the
/// kept chain starts after `anchor_hash`, the chain hash of `to_seq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedRemoval {
    /// [`REMOVAL_FORMAT`].
    pub format: String,
    /// First removed sequence number.
    pub from_seq: Seq,
    /// Last removed sequence number.
    pub to_seq: Seq,
    /// The chain hash of `to_seq`, hex: what the first kept event links to.
    pub anchor_hash: String,
    /// Events older than this were removed (RFC 3339).
    pub cutoff: String,
    /// When it was signed.
    pub signed_at: String,
    /// The Ed25519 public key that verifies it, hex.
    pub public_key: String,
    /// Ed25519 signature of [`SignedRemoval::signed_message`], hex.
    pub signature: String,
}

impl SignedRemoval {
    fn sign(removal: &Removal, anchor_hash: &[u8], cutoff: String, key: &SigningKey) -> Self {
        let mut signed = SignedRemoval {
            format: REMOVAL_FORMAT.to_owned(),
            from_seq: removal.from_seq,
            to_seq: removal.to_seq,
            anchor_hash: hex::encode(anchor_hash),
            cutoff,
            signed_at: Timestamp::now().to_rfc3339_utc(),
            public_key: key.public_key_hex(),
            signature: String::new(),
        };
        signed.signature = key.sign_hex(&signed.signed_message());
        signed
    }

    /// What is signed: the format, the range, the anchor hash, the cutoff and the time, one a line.
    pub fn signed_message(&self) -> Vec<u8> {
        format!(
            "{}\n{}\n{}\n{}\n{}\n{}",
            self.format, self.from_seq, self.to_seq, self.anchor_hash, self.cutoff, self.signed_at
        )
        .into_bytes()
    }

    /// Checks the signature with `public_key` (hex).
    pub fn verify_signature(&self, public_key: &str) -> Result<(), String> {
        if self.format != REMOVAL_FORMAT {
            return Err(format!("unknown removal format `{}`", self.format));
        }
        crate::export::verify_hex_signature(public_key, &self.signed_message(), &self.signature)
    }
}

/// What an `EventsRemoved` event records, as the derived views read it: the range removed and
/// the cutoff (absent in removals recorded before it was).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedRemoval {
    /// First removed sequence number.
    pub from_seq: Seq,
    /// Last removed sequence number.
    pub to_seq: Seq,
    /// Events older than this were removed.
    #[serde(default)]
    pub cutoff: Option<Timestamp>,
}

/// The removal `event` records, when it is vigil's own `EventsRemoved` event (an event anyone
/// else submitted with that payload type records nothing).
pub(crate) fn recorded_removal(event: &StoredEvent) -> Option<RecordedRemoval> {
    if event.submitter.as_deref() != Some(Submitter::VIGIL)
        || !event.json.contains(REMOVAL_PAYLOAD_TYPE)
    {
        return None;
    }
    #[derive(Deserialize)]
    struct Payload {
        #[serde(rename = "type")]
        type_name: String,
        #[serde(flatten)]
        removal: RecordedRemoval,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Envelope {
        audit_payload: Payload,
    }
    let envelope: Envelope = serde_json::from_str(&event.json).ok()?;
    (envelope.audit_payload.type_name == REMOVAL_PAYLOAD_TYPE)
        .then_some(envelope.audit_payload.removal)
}

/// The anchor of the log, if events were ever removed.
pub fn chain_anchor(
    db: &mut dyn crate::store::Sql,
) -> Result<Option<ChainAnchor>, crate::store::StoreError> {
    chain_anchor_in(db)
}

/// [`chain_anchor`], for the crate.
pub(crate) fn chain_anchor_in(
    db: &mut dyn crate::store::Sql,
) -> Result<Option<ChainAnchor>, crate::store::StoreError> {
    let row = db.query_optional(
        "SELECT first_seq, previous_hash FROM chain_anchor WHERE id = 1",
        &[],
    )?;
    row.map(|row| {
        Ok(ChainAnchor {
            first_seq: row.integer(0)? as u64,
            previous_hash: row.bytes(1)?.try_into().unwrap_or([0; 32]),
        })
    })
    .transpose()
}

/// Rows deleted per transaction, so that a large removal never holds the writer for long.
const DELETE_CHUNK: i64 = 10_000;

/// Removes the events older than `cutoff` from the front of the log. Returns what was removed,
/// or `None` when the oldest event is within the period.
///
/// The `EventsRemoved` event, with the whole range, commits with the first chunk; every chunk
/// moves the anchor with its deletion. A crash midway leaves a log that verifies, and the next
/// run removes the rest.
pub fn apply_retention(
    log: &EventLog,
    key: &SigningKey,
    cutoff: Timestamp,
    retention_days: u64,
) -> Result<Option<Removal>, LogError> {
    let cutoff_micros = cutoff.unix_micros();
    // Walk in seq order and stop at the first event to keep: only what is removed is read.
    let (first, first_kept) = log.query(move |db| {
        let first = db
            .query_optional("SELECT seq FROM events ORDER BY seq LIMIT 1", &[])?
            .map(|row| row.integer(0))
            .transpose()?;
        let first_kept = db
            .query_optional(
                "SELECT seq FROM events WHERE event_time >= ?1 ORDER BY seq LIMIT 1",
                values![cutoff_micros],
            )?
            .map(|row| row.integer(0))
            .transpose()?;
        Ok((first, first_kept))
    })?;
    let Some(first) = first else { return Ok(None) };
    // Everything old: remove all but the last event, which anchors the chain.
    let first_kept = match first_kept {
        Some(seq) => seq,
        None => log.last_seq()? as i64,
    };
    if first_kept <= first {
        return Ok(None);
    }
    let removal = Removal {
        from_seq: first as u64,
        to_seq: first_kept as u64 - 1,
    };
    // The anchor the removal ends with: the chain hash of the last removed event.
    let last_removed = removal.to_seq;
    let anchor_hash: Vec<u8> = log.query(move |db| {
        db.query_optional(
            "SELECT chain_hash FROM events WHERE seq = ?1",
            values![last_removed],
        )?
        .ok_or_else(|| StoreError::Refused(format!("event {last_removed} is gone")))?
        .bytes(0)
        .map(<[u8]>::to_vec)
    })?;
    let signed = SignedRemoval::sign(&removal, &anchor_hash, cutoff.to_rfc3339_utc(), key);
    let mut payload = serde_json::to_value(&signed).expect("a removal serializes");
    payload["type"] = json!(REMOVAL_PAYLOAD_TYPE);
    payload["version"] = json!(2);
    payload["retentionDays"] = json!(retention_days);
    let mut event = Some(
        OwnEvent {
            action: "DELETE",
            target_type: "AUDIT",
            actor: json!({ "type": "SYSTEM_ACCOUNT", "id": "vigil", "name": "vigil retention" }),
            targets: json!([]),
            payload,
        }
        .into_entry(),
    );
    let mut from = first;
    while from < first_kept {
        let to = (from + DELETE_CHUNK - 1).min(first_kept - 1);
        let side_write: SideWrite = Box::new(move |db| {
            let previous = db
                .query_optional("SELECT chain_hash FROM events WHERE seq = ?1", values![to])?
                .ok_or_else(|| {
                    StoreError::Refused(format!("event {to} is gone: removed meanwhile"))
                })?
                .bytes(0)?
                .to_vec();
            db.execute(
                "DELETE FROM events WHERE seq BETWEEN ?1 AND ?2",
                values![from, to],
            )?;
            db.execute(
                "INSERT INTO chain_anchor (id, first_seq, previous_hash) VALUES (1, ?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET first_seq = excluded.first_seq, previous_hash = excluded.previous_hash",
                values![to + 1, previous],
            )?;
            Ok(())
        });
        log.append_blocking(event.take().into_iter().collect(), Some(side_write))?;
        from = to + 1;
    }
    tracing::info!(
        from_seq = removal.from_seq,
        to_seq = removal.to_seq,
        "retention removed events"
    );
    Ok(Some(removal))
}
