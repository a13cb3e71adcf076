//! Reading the log: events by id, by sequence number and after a position, the head, and counts.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::{Backend, Codecs, EventLog, LogError, Seq, StoredEvent, pg};

impl EventLog {
    /// The stored event with this id.
    pub fn get(&self, event_id: &str) -> Result<Option<StoredEvent>, LogError> {
        if let Backend::Postgres(log) = &self.backend {
            let found = log.events(
                &self.codecs,
                "SELECT seq, event_id, body, chain_hash, submitter, codec FROM events WHERE event_id = ?1",
                vec![event_id.into()],
            )?;
            return Ok(found.into_iter().next());
        }
        self.read(|connection| {
            connection
                .prepare_cached(&format!("{SELECT_EVENT} WHERE event_id = ?1"))?
                .query_row([event_id], |row| {
                    stored_event_from_row(&self.codecs, connection, row)
                })
                .optional()
        })
    }

    /// Which of `event_ids` are stored (by the id index, without reading a body).
    pub fn stored_ids(
        &self,
        event_ids: &[String],
    ) -> Result<std::collections::HashSet<String>, LogError> {
        if let Backend::Postgres(log) = &self.backend {
            let ids = event_ids.to_vec();
            return Ok(log.pool.run(move |client| {
                let rows = client
                    .query(
                        "SELECT event_id FROM events WHERE event_id = ANY($1)",
                        &[&ids],
                    )
                    .map_err(|error| crate::store::postgres::classify(&error))?;
                Ok(rows.iter().map(|row| row.get::<_, String>(0)).collect())
            })?);
        }
        self.read(|connection| {
            let mut statement =
                connection.prepare_cached("SELECT 1 FROM events WHERE event_id = ?1")?;
            let mut stored = std::collections::HashSet::new();
            for id in event_ids {
                if statement.exists([id])? {
                    stored.insert(id.clone());
                }
            }
            Ok(stored)
        })
    }

    /// Up to `limit` stored events with `seq > after`, in order.
    pub fn read_after(&self, after: Seq, limit: usize) -> Result<Vec<StoredEvent>, LogError> {
        if let Backend::Postgres(log) = &self.backend {
            return log.events(
                &self.codecs,
                "SELECT seq, event_id, body, chain_hash, submitter, codec FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                vec![(after as i64).into(), (limit as i64).into()],
            );
        }
        self.read(|connection| {
            let mut statement = connection.prepare_cached(&format!(
                "{SELECT_EVENT} WHERE seq > ?1 ORDER BY seq LIMIT ?2"
            ))?;
            let rows = statement.query_map(params![after as i64, limit as i64], |row| {
                stored_event_from_row(&self.codecs, connection, row)
            })?;
            rows.collect()
        })
    }

    /// The stored events with these sequence numbers, in the order asked; missing ones are skipped.
    pub fn get_many(&self, seqs: &[Seq]) -> Result<Vec<StoredEvent>, LogError> {
        if let Backend::Postgres(log) = &self.backend {
            let wanted: Vec<i64> = seqs.iter().map(|seq| *seq as i64).collect();
            let codecs = self.codecs.clone();
            let mut found: HashMap<Seq, StoredEvent> = log
                .pool
                .run(move |client| {
                    let rows = client
                        .query(
                            "SELECT seq, event_id, body, chain_hash, submitter, codec FROM events WHERE seq = ANY($1)",
                            &[&wanted],
                        )
                        .map_err(|error| crate::store::postgres::classify(&error))?;
                    rows.iter()
                        .map(|row| pg::stored_event(client, &codecs, row))
                        .collect::<Result<Vec<_>, _>>()
                })?
                .into_iter()
                .map(|event| (event.seq, event))
                .collect();
            return Ok(seqs.iter().filter_map(|seq| found.remove(seq)).collect());
        }
        let mut events = self.read(|connection| {
            let mut statement =
                connection.prepare_cached(&format!("{SELECT_EVENT} WHERE seq = ?1"))?;
            let mut events = Vec::with_capacity(seqs.len());
            for seq in seqs {
                if let Some(event) = statement
                    .query_row([*seq as i64], |row| {
                        stored_event_from_row(&self.codecs, connection, row)
                    })
                    .optional()?
                {
                    events.push(event);
                }
            }
            Ok(events)
        })?;
        events.shrink_to_fit();
        Ok(events)
    }

    /// The last stored sequence number (0 when empty); cheap, unlike [`EventLog::stats`].
    pub fn last_seq(&self) -> Result<Seq, LogError> {
        if let Backend::Postgres(log) = &self.backend {
            return Ok(log.integer("SELECT seq FROM log_head WHERE id = 1")? as Seq);
        }
        self.read(|connection| {
            connection.query_row("SELECT coalesce(max(seq), 0) FROM events", [], |row| {
                row.get::<_, i64>(0)
            })
        })
        .map(|seq| seq as Seq)
    }

    /// The first stored sequence number (0 when empty): 1, or where retention left the log.
    pub fn first_seq(&self) -> Result<Seq, LogError> {
        let first = self.query(|db| {
            db.query_optional("SELECT seq FROM events ORDER BY seq LIMIT 1", &[])?
                .map(|row| row.integer(0))
                .transpose()
        })?;
        Ok(first.unwrap_or(0) as Seq)
    }

    /// The number of stored events (a scan: for tests and tools) and the last sequence number.
    pub fn stats(&self) -> Result<LogStats, LogError> {
        if let Backend::Postgres(log) = &self.backend {
            return Ok(LogStats {
                events: log.integer("SELECT count(*) FROM events")? as u64,
                last_seq: log.integer("SELECT seq FROM log_head WHERE id = 1")? as Seq,
            });
        }
        self.read(|connection| {
            connection.query_row(
                "SELECT count(*), coalesce(max(seq), 0) FROM events",
                [],
                |row| {
                    Ok(LogStats {
                        events: row.get::<_, i64>(0)? as u64,
                        last_seq: row.get::<_, i64>(1)? as u64,
                    })
                },
            )
        })
    }

    /// How the compactor stands: the dictionary in use and the bodies still stored plain.
    pub fn compaction(&self) -> Result<CompactionStatus, LogError> {
        if let Backend::Postgres(log) = &self.backend {
            return Ok(CompactionStatus {
                dictionary: self.codecs.current_id(),
                plain_events: log.integer("SELECT count(*) FROM events WHERE codec = 0")? as u64,
            });
        }
        let plain = self.read(|connection| {
            connection.query_row("SELECT count(*) FROM events WHERE codec = 0", [], |row| {
                row.get::<_, i64>(0)
            })
        })?;
        Ok(CompactionStatus {
            dictionary: self.codecs.current_id(),
            plain_events: plain as u64,
        })
    }
}

/// Counts of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogStats {
    /// Events stored.
    pub events: u64,
    /// Last sequence number (0 when empty).
    pub last_seq: Seq,
}

/// How the compactor stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactionStatus {
    /// The dictionary new bodies are compressed with; `None` until one is trained.
    pub dictionary: Option<i64>,
    /// Events whose bodies are still stored as plain text.
    pub plain_events: u64,
}

/// The columns [`stored_event_from_row`] reads.
const SELECT_EVENT: &str = "SELECT seq, event_id, body, chain_hash, submitter, codec FROM events";

fn stored_event_from_row(
    codecs: &Codecs,
    connection: &Connection,
    row: &rusqlite::Row<'_>,
) -> rusqlite::Result<StoredEvent> {
    let hash: Vec<u8> = row.get(3)?;
    Ok(StoredEvent {
        seq: row.get::<_, i64>(0)? as u64,
        event_id: row.get(1)?,
        json: codecs.decode_text(connection, row.get(5)?, row.get_ref(2)?, 2)?,
        chain_hash: hash.try_into().unwrap_or([0; 32]),
        submitter: row.get(4)?,
    })
}
