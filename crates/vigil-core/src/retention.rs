//! Retention: removes the oldest part of the log — every event up to the first one still within
//! the retention period — and records where the kept chain starts, so that it still verifies.
//! The removal is itself recorded as an `EventsRemoved` event, in the same transaction.

use rusqlite::{OptionalExtension, params};
use serde_json::json;
use vigil_model::Timestamp;

use crate::chain::ChainHash;
use crate::error::LogError;
use crate::log::{EventLog, Seq, SideWrite};
use crate::own_events::OwnEvent;

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

/// The anchor of the log, if events were ever removed.
pub fn chain_anchor(connection: &rusqlite::Connection) -> rusqlite::Result<Option<ChainAnchor>> {
    connection
        .query_row(
            "SELECT first_seq, previous_hash FROM chain_anchor WHERE id = 1",
            [],
            |row| {
                let hash: Vec<u8> = row.get(1)?;
                Ok(ChainAnchor {
                    first_seq: row.get::<_, i64>(0)? as u64,
                    previous_hash: hash.try_into().unwrap_or([0; 32]),
                })
            },
        )
        .optional()
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
    cutoff: Timestamp,
    retention_days: u64,
) -> Result<Option<Removal>, LogError> {
    let cutoff_micros = cutoff.unix_micros();
    // Walk in seq order and stop at the first event to keep: only what is removed is read.
    let (first, first_kept) = log.read(|connection| {
        let first: Option<i64> =
            connection.query_row("SELECT min(seq) FROM events", [], |row| row.get(0))?;
        let first_kept: Option<i64> = connection
            .query_row(
                "SELECT seq FROM events WHERE event_time >= ?1 ORDER BY seq LIMIT 1",
                [cutoff_micros],
                |row| row.get(0),
            )
            .optional()?;
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
    let mut event = Some(
        OwnEvent {
            action: "DELETE",
            target_type: "AUDIT",
            actor: json!({ "type": "SYSTEM_ACCOUNT", "id": "vigil", "name": "vigil retention" }),
            targets: json!([]),
            payload: json!({
                "type": "EventsRemovedAuditPayload",
                "version": 1,
                "fromSeq": removal.from_seq,
                "toSeq": removal.to_seq,
                "cutoff": cutoff.to_rfc3339_utc(),
                "retentionDays": retention_days,
            }),
        }
        .into_entry(),
    );
    let mut from = first;
    while from < first_kept {
        let to = (from + DELETE_CHUNK - 1).min(first_kept - 1);
        let side_write: SideWrite = Box::new(move |connection| {
            let previous: Vec<u8> = connection.query_row(
                "SELECT chain_hash FROM events WHERE seq = ?1",
                [to],
                |row| row.get(0),
            )?;
            connection.execute(
                "DELETE FROM events WHERE seq BETWEEN ?1 AND ?2",
                params![from, to],
            )?;
            connection.execute(
                "INSERT INTO chain_anchor (id, first_seq, previous_hash) VALUES (1, ?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET first_seq = excluded.first_seq, previous_hash = excluded.previous_hash",
                params![to + 1, previous],
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
