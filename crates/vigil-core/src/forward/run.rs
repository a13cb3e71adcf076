//! A forwarder's worker: one thread that reads the log after the checkpoint, keeps the events
//! its filter passes, delivers them in order, and moves the checkpoint only past what the target
//! took (for syslog, past what the kernel was handed: see `syslog`).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::config::{Filter, Forwarder, Target};
use super::format::{self, syslog_frame};
use super::syslog::{self, Connection, Mark};
use super::{MAX_BATCH_BYTES, MAX_BATCH_EVENTS};
use crate::cluster::Leases;
use crate::log::{EventLog, Seq, SideWrite};
use crate::outbound::OutboundPolicy;
use crate::store::values;

/// How often a syslog forwarder stores its checkpoint in the database (the mark holds the exact
/// position in between).
const STORE_EVERY: Duration = Duration::from_secs(1);
/// How long a worker waits for new events before it looks at its stop flag again.
const IDLE_WAIT: Duration = Duration::from_millis(250);
/// How long an indexer acknowledgement may take before the batch is sent again.
const HEC_ACK_TIMEOUT: Duration = Duration::from_secs(120);

/// What a worker needs.
pub(super) struct Worker {
    pub log: Arc<EventLog>,
    pub leases: Arc<Leases>,
    pub forwarder: Forwarder,
    pub secret: Option<String>,
    pub policy: OutboundPolicy,
    pub client: reqwest::Client,
    pub runtime: tokio::runtime::Handle,
    pub mark_path: PathBuf,
    pub stop: Arc<AtomicBool>,
    /// The live position, for the status between stored checkpoints.
    pub position: Arc<AtomicU64>,
    /// Events delivered and not yet counted in the stored status.
    pub unstored: Arc<AtomicU64>,
}

/// The events after `after` that a batch holds: the formatted ones the filter passes, and the
/// last sequence number read (filtered-out events count as done).
struct Batch {
    bytes: Vec<u8>,
    events: u64,
    first: Seq,
    last: Seq,
}

impl Worker {
    fn lease(&self) -> String {
        super::lease_name(&self.forwarder.id)
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Waits `time`, or less when asked to stop.
    fn pause(&self, time: Duration) {
        let until = Instant::now() + time;
        while !self.stopped() {
            let now = Instant::now();
            if now >= until {
                return;
            }
            std::thread::sleep((until - now).min(Duration::from_millis(100)));
        }
    }

    /// The next batch after `after`, `None` when the log holds nothing newer. Each event is
    /// formatted by `encode`.
    fn next_batch(
        &self,
        after: Seq,
        encode: &mut dyn FnMut(&Value, &str, Seq) -> Vec<u8>,
    ) -> Result<Option<Batch>, String> {
        let events = self
            .log
            .read_after(after, MAX_BATCH_EVENTS)
            .map_err(|error| format!("reading the log: {error}"))?;
        if events.is_empty() {
            return Ok(None);
        }
        let mut batch = Batch {
            bytes: Vec::new(),
            events: 0,
            first: events[0].seq,
            last: after,
        };
        let filter: &Filter = &self.forwarder.filter;
        for event in &events {
            if batch.events > 0 && batch.bytes.len() >= MAX_BATCH_BYTES {
                break;
            }
            batch.last = event.seq;
            let parsed: Value = match serde_json::from_str(&event.json) {
                Ok(parsed) => parsed,
                Err(error) => {
                    tracing::error!(seq = event.seq, %error, "a stored event is not JSON; it is not forwarded");
                    continue;
                }
            };
            // An alert's firing goes to the forwarders it names, whatever their filters.
            if filter.matches(&parsed)
                || crate::alerts::fired_for(&parsed, event.submitter.as_deref(), &self.forwarder.id)
            {
                batch
                    .bytes
                    .extend_from_slice(&encode(&parsed, &event.json, event.seq));
                batch.events += 1;
            }
        }
        Ok(Some(batch))
    }

    /// Stores the checkpoint `seq` with `events` more delivered; refused once another node holds
    /// the lease.
    fn store_checkpoint(&self, seq: Seq, events: u64) -> Result<(), String> {
        let (id, lease, now) = (self.forwarder.id.clone(), self.lease(), super::now_text());
        let fence = self.leases.fence_check();
        let delivered_at = (events > 0).then_some(now);
        let side_write: SideWrite = Box::new(move |db| {
            fence(db, &lease)?;
            db.execute(
                "UPDATE forward_state SET checkpoint_seq = ?2, forwarded_events = forwarded_events + ?3,
                     last_forwarded_at = coalesce(?4, last_forwarded_at), last_error = NULL, attempts = 0
                 WHERE forwarder_id = ?1",
                values![id, seq as i64, events as i64, delivered_at],
            )?;
            Ok(())
        });
        self.log
            .append_blocking(Vec::new(), Some(side_write))
            .map(|_| ())
            .map_err(|error| format!("storing the checkpoint: {error}"))
    }

    /// Records a failed attempt.
    fn record_failure(&self, error: &str) {
        tracing::warn!(forwarder = %self.forwarder.id, %error, "forwarding failed; will retry");
        let (id, error) = (self.forwarder.id.clone(), error.to_owned());
        let side_write: SideWrite = Box::new(move |db| {
            db.execute(
                "UPDATE forward_state SET last_error = ?2, attempts = attempts + 1 WHERE forwarder_id = ?1",
                values![id, error],
            )?;
            Ok(())
        });
        if let Err(error) = self.log.append_blocking(Vec::new(), Some(side_write)) {
            tracing::error!(forwarder = %self.forwarder.id, %error, "cannot record the forwarding failure");
        }
    }

    fn stored_checkpoint(&self) -> Result<Seq, String> {
        super::config::read_status(&self.log, &self.forwarder.id, 0)
            .map(|status| status.checkpoint_seq)
            .map_err(|error| error.to_string())
    }

    /// Runs until stopped (or the forwarder is gone).
    pub fn run(self) {
        let mut failures = 0u64;
        while !self.stopped() {
            if !self.leases.holds(&self.lease()) {
                self.pause(crate::cluster::RENEW_EVERY);
                continue;
            }
            let outcome = match &self.forwarder.target {
                Target::Syslog { .. } => self.run_syslog(),
                Target::SplunkHec { .. } | Target::Webhook { .. } => self.run_http(),
            };
            match outcome {
                Ok(()) => failures = 0,
                Err(error) => {
                    if matches!(
                        super::config::get_forwarder(&self.log, &self.forwarder.id),
                        Err(super::ForwardError::NotFound(_))
                    ) {
                        return;
                    }
                    self.record_failure(&error);
                    failures += 1;
                    self.pause(
                        Duration::from_secs(1 << failures.min(6)).min(Duration::from_secs(60)),
                    );
                }
            }
        }
    }

    /// One syslog connection's life: resumes from the mark, sends until stopped or broken.
    fn run_syslog(&self) -> Result<(), String> {
        let Target::Syslog {
            host,
            port,
            tls,
            ca_certificate,
        } = &self.forwarder.target
        else {
            unreachable!("a syslog target");
        };
        let mut mark =
            Mark::open(&self.mark_path).map_err(|error| format!("opening the mark: {error}"))?;
        let stored = self.stored_checkpoint()?;
        let mut position = mark.resume_after().max(stored);
        mark.reset(position);
        self.position.store(position, Ordering::SeqCst);
        let tls = if *tls {
            Some(syslog::tls_config(ca_certificate.as_deref())?)
        } else {
            None
        };
        let mut connection = Connection::open(host, *port, tls, self.policy)?;
        let hostname = format::hostname();
        let mut encode =
            |event: &Value, json: &str, seq: Seq| syslog_frame(event, json, seq, &hostname);
        let (mut acknowledged, mut delivered, mut stored_seq) = (stored, 0u64, stored);
        let mut last_store = Instant::now();
        let mut result = Ok(());
        while !self.stopped() {
            match connection.poll_acknowledged() {
                Ok(Some((seq, events))) => {
                    mark.acknowledged(seq);
                    mark.set_acknowledging(true);
                    acknowledged = seq;
                    delivered += events;
                }
                Ok(None) => {
                    if connection.stalled_for(syslog::STALL) {
                        mark.set_acknowledging(false);
                    }
                    if connection.given_up() {
                        result = Err(format!(
                            "{host}:{port} acknowledged nothing for 30 s; reconnecting"
                        ));
                        break;
                    }
                }
                Err(error) => {
                    result = Err(error);
                    break;
                }
            }
            if !connection.in_flight() {
                // Everything handed is acknowledged: the position is exact.
                acknowledged = position;
                mark.acknowledged(position);
            }
            self.position.store(acknowledged, Ordering::SeqCst);
            self.unstored.store(delivered, Ordering::SeqCst);
            if last_store.elapsed() >= STORE_EVERY && (acknowledged > stored_seq || delivered > 0) {
                self.store_checkpoint(acknowledged, delivered)?;
                mark.flush();
                (stored_seq, delivered) = (acknowledged, 0);
                self.unstored.store(0, Ordering::SeqCst);
                last_store = Instant::now();
            }
            if !connection.has_room()? {
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            let Some(batch) = self.next_batch(position, &mut encode)? else {
                if connection.in_flight() {
                    std::thread::sleep(Duration::from_millis(1));
                } else {
                    self.log.wait_for_commit_after(position, IDLE_WAIT);
                }
                continue;
            };
            if batch.events == 0 {
                if !connection.in_flight() {
                    mark.reset(batch.last);
                }
                position = batch.last;
                continue;
            }
            if let Err(error) = connection.send(&batch.bytes, batch.last, batch.events, &mut mark) {
                result = Err(error);
                break;
            }
            position = batch.last;
        }
        if result.is_ok() {
            // Stopping: wait a little for what is in flight, then store what was acknowledged.
            let until = Instant::now() + Duration::from_secs(5);
            while connection.in_flight() && Instant::now() < until {
                match connection.poll_acknowledged() {
                    Ok(Some((seq, events))) => {
                        mark.acknowledged(seq);
                        acknowledged = seq;
                        delivered += events;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(2)),
                    Err(_) => break,
                }
            }
            if !connection.in_flight() {
                acknowledged = position;
                mark.reset(position);
            }
            connection.close();
        } else {
            // The connection broke: what it did not acknowledge goes again on the next one.
            mark.reset(acknowledged);
        }
        mark.flush();
        if acknowledged > stored_seq || delivered > 0 {
            self.store_checkpoint(acknowledged, delivered)?;
        }
        self.unstored.store(0, Ordering::SeqCst);
        result
    }

    /// Splunk HEC and webhooks: one request per batch; the checkpoint moves when the target
    /// took it (for HEC with acknowledgements, when the indexer acknowledged it).
    fn run_http(&self) -> Result<(), String> {
        let hostname = format::hostname();
        let mut position = self.stored_checkpoint()?;
        self.position.store(position, Ordering::SeqCst);
        let channel = uuid::Uuid::new_v4().to_string();
        let mut encode = |event: &Value, json: &str, seq: Seq| -> Vec<u8> {
            let mut line = match &self.forwarder.target {
                Target::SplunkHec {
                    sourcetype, index, ..
                } => format::hec_event(event, json, seq, &hostname, sourcetype, index.as_deref())
                    .into_bytes(),
                _ => json.as_bytes().to_vec(),
            };
            line.push(b'\n');
            line
        };
        while !self.stopped() {
            let Some(batch) = self.next_batch(position, &mut encode)? else {
                self.log.wait_for_commit_after(position, IDLE_WAIT);
                continue;
            };
            if batch.events > 0 {
                let delivery = self.runtime.block_on(self.deliver(&batch, &channel));
                delivery?;
            }
            self.store_checkpoint(batch.last, batch.events)?;
            position = batch.last;
            self.position.store(position, Ordering::SeqCst);
        }
        Ok(())
    }

    async fn deliver(&self, batch: &Batch, channel: &str) -> Result<(), String> {
        let secret = self.secret.as_deref().unwrap_or_default();
        match &self.forwarder.target {
            Target::SplunkHec {
                url,
                acknowledgements,
                ..
            } => {
                super::http::send_hec(
                    &self.client,
                    url,
                    secret,
                    channel,
                    batch.bytes.clone(),
                    *acknowledgements,
                    HEC_ACK_TIMEOUT,
                    &self.stop,
                )
                .await
            }
            Target::Webhook { url } => {
                let delivery = format!("{}/{}-{}", self.forwarder.id, batch.first, batch.last);
                super::http::send_webhook(&self.client, url, secret, &delivery, batch.bytes.clone())
                    .await
            }
            Target::Syslog { .. } => unreachable!("syslog is not sent over HTTP"),
        }
    }
}
