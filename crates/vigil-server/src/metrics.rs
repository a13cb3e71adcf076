//! Prometheus metrics in the text exposition format: ingest outcomes, requests by route and
//! status, the log head and the search index lag.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters kept by the server.
#[derive(Default)]
pub struct Metrics {
    events_stored: AtomicU64,
    events_duplicate: AtomicU64,
    events_rejected: AtomicU64,
    requests: Mutex<BTreeMap<(String, u16), u64>>,
}

impl Metrics {
    /// Counts the outcome of an ingest request.
    pub fn count_ingest(&self, stored: usize, duplicates: usize, rejected: usize) {
        self.events_stored
            .fetch_add(stored as u64, Ordering::Relaxed);
        self.events_duplicate
            .fetch_add(duplicates as u64, Ordering::Relaxed);
        self.events_rejected
            .fetch_add(rejected as u64, Ordering::Relaxed);
    }

    /// Counts a finished request by its matched route and status.
    pub fn count_request(&self, path: &str, status: u16) {
        let mut requests = self.requests.lock().expect("metrics lock");
        *requests.entry((path.to_owned(), status)).or_default() += 1;
    }

    /// The exposition text, with the gauges read now.
    pub fn render(&self, log_last_seq: u64, indexed_seq: u64, integrity_alarms: usize) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        metric(
            "vigil_events_stored_total",
            "counter",
            "Events stored by ingest requests.",
            self.events_stored.load(Ordering::Relaxed),
        );
        metric(
            "vigil_events_duplicate_total",
            "counter",
            "Events sent again and not stored again.",
            self.events_duplicate.load(Ordering::Relaxed),
        );
        metric(
            "vigil_events_rejected_total",
            "counter",
            "Events refused (invalid or id conflict).",
            self.events_rejected.load(Ordering::Relaxed),
        );
        metric(
            "vigil_log_last_seq",
            "gauge",
            "Last sequence number committed by this server.",
            log_last_seq,
        );
        metric(
            "vigil_index_seq",
            "gauge",
            "Last sequence number searchable.",
            indexed_seq,
        );
        metric(
            "vigil_index_lag_events",
            "gauge",
            "Committed events not yet searchable.",
            log_last_seq.saturating_sub(indexed_seq),
        );
        metric(
            "vigil_integrity_alarms",
            "gauge",
            "Integrity alarms raised (the log's head went back, or a view is ahead of the log); see /readyz.",
            integrity_alarms as u64,
        );
        let _ = writeln!(
            out,
            "# HELP vigil_http_requests_total HTTP requests by route and status."
        );
        let _ = writeln!(out, "# TYPE vigil_http_requests_total counter");
        for ((path, status), count) in self.requests.lock().expect("metrics lock").iter() {
            let _ = writeln!(
                out,
                "vigil_http_requests_total{{path=\"{path}\",status=\"{status}\"}} {count}"
            );
        }
        out
    }
}
