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

/// Removes the events older than `cutoff` from the front of the log. Returns what was removed,
/// or `None` when the oldest event is within the period.
pub fn apply_retention(
    log: &EventLog,
    cutoff: Timestamp,
    retention_days: u64,
) -> Result<Option<Removal>, LogError> {
    let cutoff_micros = cutoff.unix_micros();
    // The candidate range, read first; the side write below re-reads it under the write lock.
    let (first, first_kept) = log.read(|connection| {
        let first: Option<i64> =
            connection.query_row("SELECT min(seq) FROM events", [], |row| row.get(0))?;
        let first_kept: Option<i64> = connection.query_row(
            "SELECT min(seq) FROM events WHERE event_time >= ?1",
            [cutoff_micros],
            |row| row.get(0),
        )?;
        Ok((first, first_kept))
    })?;
    let Some(first) = first else { return Ok(None) };
    // Everything old: remove all but the last event, which anchors the chain.
    let last = log.stats()?.last_seq as i64;
    let first_kept = first_kept.unwrap_or(last);
    if first_kept <= first {
        return Ok(None);
    }
    let removal = Removal {
        from_seq: first as u64,
        to_seq: first_kept as u64 - 1,
    };
    let entry = OwnEvent {
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
    .into_entry();
    let (from, to) = (removal.from_seq as i64, removal.to_seq as i64);
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
    log.append_blocking(vec![entry], Some(side_write))?;
    tracing::info!(
        from_seq = removal.from_seq,
        to_seq = removal.to_seq,
        "retention removed events"
    );
    Ok(Some(removal))
}
