//! The exporter: per configuration, a durable plan of sequence ranges, objects named by the range
//! they hold (gzip NDJSON, or Parquet split by event date), a signed digest, and a checkpoint that
//! moves only after all are written.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::ExportError;
use super::config::{ExportFormat, now_text};
use super::digest::{
    DIGEST_FORMAT, Digest, DigestObject, SigningKey, digest_key, object_key, parquet_object_key,
    sha256_hex, signed_digest_file,
};
use super::parquet;
use super::sink::{Content, Sink};
use crate::log::{EventLog, Seq, SideWrite, StoredEvent};
use crate::own_events::OwnEvent;
use crate::store::{Sql, StoreError, values};

/// Events per exported object.
pub const EVENTS_PER_OBJECT: u64 = 50_000;
/// Ranges encoded at once: one being written, one being prepared.
const ENCODING_AHEAD: usize = 2;
/// Events read from the log at a time while writing an object.
const READ_BATCH: usize = 2_000;

/// Where an export run stands, as stored: the ranges to write, fixed before anything is written so
/// that a retry writes the very same objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Plan {
    /// `YYYY/MM/DD` of the run, part of every key.
    date: String,
    first_seq: Seq,
    last_seq: Seq,
    /// `(first, last)` of each range (one object, or one per event date for Parquet).
    objects: Vec<(Seq, Seq)>,
    /// What the run writes, fixed with the plan: a retry writes the same objects even when the
    /// configuration's format changed meanwhile. Plans stored before formats existed are NDJSON.
    #[serde(default = "ndjson")]
    format: String,
    /// When the run was planned, the digest's `createdAt`: fixed with the plan, so that a run
    /// resumed (on this node or another) writes the very same digest. Absent in plans stored by
    /// earlier versions.
    #[serde(default)]
    created_at: Option<String>,
}

fn ndjson() -> String {
    ExportFormat::NdjsonGzip.as_str().to_owned()
}

impl Plan {
    fn new(after: Seq, head: Seq, events_per_object: u64, format: ExportFormat) -> Plan {
        let mut objects = Vec::new();
        let mut first = after + 1;
        while first <= head {
            let last = (first + events_per_object - 1).min(head);
            objects.push((first, last));
            first = last + 1;
        }
        Plan {
            date: chrono::Utc::now().format("%Y/%m/%d").to_string(),
            first_seq: after + 1,
            last_seq: head,
            objects,
            format: format.as_str().to_owned(),
            created_at: Some(now_text()),
        }
    }
}

/// The progress of one configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportStatus {
    /// Every event up to this sequence number is exported.
    pub checkpoint_seq: Seq,
    /// Events exported in total.
    pub exported_events: u64,
    /// When the last run completed (RFC 3339).
    pub last_exported_at: Option<String>,
    /// When the last run started (RFC 3339).
    pub last_attempt_at: Option<String>,
    /// Error of the last run, when it failed.
    pub last_error: Option<String>,
    /// Failed runs since the last success.
    pub attempts: u64,
    /// The range of a run that started and has not completed.
    pub pending: Option<(Seq, Seq)>,
    /// Key of the last digest, relative to the configuration's path.
    pub last_digest_key: Option<String>,
    pending_plan: Option<Plan>,
    last_digest_sha256: Option<String>,
    /// "Export now" was asked (through any node) and no run has started since.
    pub run_requested: bool,
}

/// The progress of configuration `id`.
pub fn read_status(log: &EventLog, id: &str) -> Result<ExportStatus, ExportError> {
    let wanted = id.to_owned();
    let row = log.query(move |db| {
        db.query_optional(
            "SELECT checkpoint_seq, exported_events, last_exported_at, last_attempt_at, last_error,
                    attempts, pending_plan, last_digest_key, last_digest_sha256, run_requested_at
             FROM export_state WHERE config_id = ?1",
            values![wanted],
        )?
        .map(|row| {
            Ok::<_, StoreError>((
                row.integer(0)? as Seq,
                row.integer(1)? as u64,
                row.optional_string(2)?,
                row.optional_string(3)?,
                row.optional_string(4)?,
                row.integer(5)? as u64,
                row.optional_string(6)?,
                row.optional_string(7)?,
                row.optional_string(8)?,
                row.optional_string(9)?.is_some(),
            ))
        })
        .transpose()
    })?;
    let row = row.ok_or_else(|| ExportError::NotFound(id.to_owned()))?;
    let pending_plan: Option<Plan> = match row.6 {
        Some(text) => Some(serde_json::from_str(&text).map_err(|error| {
            ExportError::Destination(format!("the stored export plan is unreadable: {error}"))
        })?),
        None => None,
    };
    Ok(ExportStatus {
        checkpoint_seq: row.0,
        exported_events: row.1,
        last_exported_at: row.2,
        last_attempt_at: row.3,
        last_error: row.4,
        attempts: row.5,
        pending: pending_plan
            .as_ref()
            .map(|plan| (plan.first_seq, plan.last_seq)),
        last_digest_key: row.7,
        pending_plan,
        last_digest_sha256: row.8,
        run_requested: row.9,
    })
}

async fn write_state(
    log: &EventLog,
    write: impl FnOnce(&mut dyn Sql) -> Result<u64, StoreError> + Send + 'static,
) -> Result<(), ExportError> {
    let side_write: SideWrite = Box::new(move |db| write(db).map(|_| ()));
    log.append_with(Vec::new(), Some(side_write)).await?;
    Ok(())
}

/// Records "export now" for whichever node runs configuration `id`.
pub(crate) async fn request_run(log: &EventLog, id: &str) -> Result<(), ExportError> {
    let (id, now) = (id.to_owned(), now_text());
    write_state(log, move |db| {
        db.execute(
            "UPDATE export_state SET run_requested_at = ?2 WHERE config_id = ?1",
            values![id, now],
        )
    })
    .await
}

/// Records a failed run.
pub(crate) async fn record_failure(
    log: &EventLog,
    id: &str,
    error: String,
) -> Result<(), ExportError> {
    let id = id.to_owned();
    let now = now_text();
    write_state(log, move |db| {
        db.execute(
            "UPDATE export_state SET last_error = ?2, attempts = attempts + 1, last_attempt_at = ?3
             WHERE config_id = ?1",
            values![id, error, now],
        )
    })
    .await
}

/// What a completed run exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSummary {
    /// First sequence number exported.
    pub first_seq: Seq,
    /// Last sequence number exported.
    pub last_seq: Seq,
    /// Events written.
    pub events: u64,
    /// Objects written (without the digest).
    pub objects: usize,
    /// Key of the digest, relative to the configuration's path.
    pub digest_key: String,
}

/// One export run of configuration `id` to `sink`: resumes a pending plan or plans everything
/// after the checkpoint, writes the objects and the digest, then moves the checkpoint together
/// with an `AuditExportCompleted` event. `Ok(None)` when there was nothing to export.
pub async fn run_once(
    log: &Arc<EventLog>,
    sink: &Sink,
    id: &str,
    signing: &SigningKey,
    events_per_object: u64,
    format: ExportFormat,
    leases: &crate::cluster::Leases,
) -> Result<Option<RunSummary>, ExportError> {
    // Every write that moves the run on is refused once this node no longer holds the lease.
    let lease = super::lease_name(id);
    let status = {
        let log = log.clone();
        let id = id.to_owned();
        tokio::task::spawn_blocking(move || read_status(&log, &id)).await??
    };
    let started = now_text();
    let plan = match status.pending_plan.clone() {
        Some(plan) => plan,
        None => {
            let head = log.last_committed_seq();
            if head <= status.checkpoint_seq {
                let (id, started) = (id.to_owned(), started.clone());
                write_state(log, move |db| {
                    db.execute(
                        "UPDATE export_state SET last_attempt_at = ?2, run_requested_at = NULL WHERE config_id = ?1",
                        values![id, started],
                    )
                })
                .await?;
                return Ok(None);
            }
            let plan = Plan::new(
                status.checkpoint_seq,
                head,
                events_per_object.max(1),
                format,
            );
            let text = serde_json::to_string(&plan).expect("plan serializes");
            let id = id.to_owned();
            let started = started.clone();
            let (fence, lease) = (leases.fence_check(), lease.clone());
            write_state(log, move |db| {
                fence(db, &lease)?;
                db.execute(
                    "UPDATE export_state SET pending_plan = ?2, last_attempt_at = ?3, run_requested_at = NULL WHERE config_id = ?1",
                    values![id, text, started],
                )
            })
            .await?;
            plan
        }
    };
    let format = ExportFormat::parse(&plan.format)?;
    let content = match format {
        ExportFormat::NdjsonGzip => Content::GzipNdjson,
        ExportFormat::Parquet => Content::Parquet,
    };
    let encode = |(first, last): (Seq, Seq)| {
        let (log, date) = (log.clone(), plan.date.clone());
        tokio::task::spawn_blocking(move || match format {
            ExportFormat::NdjsonGzip => compress_range(&log, first, last)
                .map(|(bytes, events)| vec![(object_key(&date, first, last), bytes, events)]),
            ExportFormat::Parquet => parquet_range(&log, &date, first, last),
        })
    };
    // The next range is encoded while the current one is written (objects still go out in
    // order, one at a time).
    let mut objects = Vec::with_capacity(plan.objects.len());
    let mut ranges = plan.objects.iter().copied();
    let mut in_flight: std::collections::VecDeque<_> = ranges
        .by_ref()
        .take(ENCODING_AHEAD)
        .map(|range| (range, encode(range)))
        .collect();
    while let Some(((first, last), encoding)) = in_flight.pop_front() {
        let encoded = encoding.await??;
        if let Some(range) = ranges.next() {
            in_flight.push_back((range, encode(range)));
        }
        for (key, bytes, events) in encoded {
            let sha256 = sha256_hex(&bytes);
            sink.write(&key, bytes, content).await.map_err(|error| {
                ExportError::Destination(sink.redact(&format!("writing {key}: {error}")))
            })?;
            objects.push(DigestObject {
                key,
                sha256,
                events,
                first_seq: first,
                last_seq: last,
            });
        }
    }
    let digest = Digest {
        format: DIGEST_FORMAT.to_owned(),
        configuration_id: id.to_owned(),
        created_at: plan.created_at.clone().unwrap_or_else(now_text),
        first_seq: plan.first_seq,
        last_seq: plan.last_seq,
        objects,
        previous_digest_key: status.last_digest_key.clone(),
        previous_digest_sha256: status.last_digest_sha256.clone(),
        public_key: signing.public_key_hex(),
    };
    let digest_bytes = signed_digest_file(&digest, signing);
    let digest_sha256 = sha256_hex(&digest_bytes);
    let digest_key = digest_key(&plan.date, plan.first_seq, plan.last_seq);
    sink.write(&digest_key, digest_bytes, Content::Json)
        .await
        .map_err(|error| {
            ExportError::Destination(sink.redact(&format!("writing {digest_key}: {error}")))
        })?;
    let events: u64 = digest.objects.iter().map(|object| object.events).sum();
    let summary = RunSummary {
        first_seq: plan.first_seq,
        last_seq: plan.last_seq,
        events,
        objects: digest.objects.len(),
        digest_key: digest_key.clone(),
    };
    let event = OwnEvent {
        action: "EXPORT",
        target_type: "EXPORT_CONFIGURATION",
        actor: json!({ "type": "SYSTEM_ACCOUNT", "id": "vigil", "name": "vigil exporter" }),
        targets: json!([{ "type": "EXPORT_CONFIGURATION", "id": id }]),
        payload: json!({
            "type": "AuditExportCompletedAuditPayload",
            "exportConfigurationId": id,
            "firstSequence": summary.first_seq,
            "lastSequence": summary.last_seq,
            "events": summary.events,
            "objects": summary.objects,
            "digestKey": summary.digest_key,
            "digestSha256": digest_sha256,
            "version": 1,
        }),
    }
    .into_entry();
    let id = id.to_owned();
    let finished = now_text();
    let fence = leases.fence_check();
    let side_write: SideWrite = Box::new(move |db| {
        fence(db, &lease)?;
        db.execute(
            "UPDATE export_state SET checkpoint_seq = ?2, pending_plan = NULL, last_digest_key = ?3,
                 last_digest_sha256 = ?4, last_exported_at = ?5, last_error = NULL, attempts = 0,
                 exported_events = exported_events + ?6
             WHERE config_id = ?1",
            values![id, plan.last_seq, digest_key, digest_sha256, finished, events],
        )?;
        Ok(())
    });
    log.append_with(vec![event], Some(side_write)).await?;
    Ok(Some(summary))
}

/// Hands each stored event of `first..=last` to `each`, in sequence order.
fn for_each_in_range(
    log: &EventLog,
    first: Seq,
    last: Seq,
    mut each: impl FnMut(StoredEvent) -> Result<(), ExportError>,
) -> Result<(), ExportError> {
    let mut after = first - 1;
    loop {
        let batch = log.read_after(after, READ_BATCH)?;
        if batch.is_empty() {
            return Ok(());
        }
        for event in batch {
            if event.seq > last {
                return Ok(());
            }
            after = event.seq;
            each(event)?;
        }
    }
}

/// The events `first..=last` as gzip NDJSON (one stored event per line), and how many there are.
/// The same range always gives the same bytes.
fn compress_range(log: &EventLog, first: Seq, last: Seq) -> Result<(Vec<u8>, u64), ExportError> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    let mut count = 0u64;
    for_each_in_range(log, first, last, |event| {
        encoder.write_all(event.json.as_bytes())?;
        encoder.write_all(b"\n")?;
        count += 1;
        Ok(())
    })?;
    Ok((encoder.finish()?, count))
}

/// The events `first..=last` as Parquet, one object per event date (key, bytes, events). A range
/// without events (all removed by retention) is one empty object in the partition of the run's
/// date, so every range of the plan is in the digest. The same range always gives the same
/// objects.
fn parquet_range(
    log: &EventLog,
    run_date: &str,
    first: Seq,
    last: Seq,
) -> Result<Vec<(String, Vec<u8>, u64)>, ExportError> {
    let mut events = Vec::new();
    for_each_in_range(log, first, last, |event| {
        events.push(event);
        Ok(())
    })?;
    let mut groups = parquet::group_by_date(events);
    if groups.is_empty() {
        groups.insert(run_date.replace('/', "-"), Vec::new());
    }
    groups
        .into_iter()
        .map(|(date, events)| {
            let count = events.len() as u64;
            let bytes = parquet::write(events).map_err(|error| {
                ExportError::Destination(format!("writing Parquet for {first}..{last}: {error}"))
            })?;
            Ok((parquet_object_key(&date, first, last), bytes, count))
        })
        .collect()
}

/// The delay before retry number `attempts` (1-based) of a failed run.
pub fn backoff(attempts: u64) -> Duration {
    const FIRST: Duration = Duration::from_secs(1);
    const MAX: Duration = Duration::from_secs(300);
    FIRST
        .saturating_mul(1u32 << attempts.saturating_sub(1).min(16))
        .min(MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_cut_ranges_into_objects() {
        let plan = Plan::new(10, 25, 5, ExportFormat::NdjsonGzip);
        assert_eq!(plan.objects, vec![(11, 15), (16, 20), (21, 25)]);
        assert_eq!((plan.first_seq, plan.last_seq), (11, 25));
        assert_eq!(
            Plan::new(0, 3, 50_000, ExportFormat::Parquet).objects,
            vec![(1, 3)]
        );
    }

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(4), Duration::from_secs(8));
        assert_eq!(backoff(60), Duration::from_secs(300));
    }
}
