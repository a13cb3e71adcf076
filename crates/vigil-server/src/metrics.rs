//! Prometheus metrics through `prometheus-client`, in the OpenMetrics text format: ingest
//! outcomes, requests and their latency by route and status, the log head and the search index
//! lag.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A request's route (the matched path pattern, never the path itself: ids would make one series
/// per event) and status.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    path: String,
    status: u16,
}

/// A request's route, for its latency.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    path: String,
}

/// Latency buckets in seconds: 1 ms doubling to about 16 s, enough to tell a 20 ms audit page
/// from a 2 s report.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// The server's metrics. Counters and histograms are atomics behind the label families' maps;
/// the gauges are read when the metrics are rendered.
pub struct Metrics {
    registry: Registry,
    events_stored: Counter,
    events_duplicate: Counter,
    events_rejected: Counter,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    log_last_seq: Gauge,
    index_seq: Gauge,
    index_lag: Gauge,
    integrity_alarms: Gauge,
}

/// Registers a new metric of type `M` under `name` and returns it (a handle on the same value).
fn registered<M: Clone + prometheus_client::registry::Metric>(
    registry: &mut Registry,
    name: &str,
    help: &str,
    metric: M,
) -> M {
    registry.register(name, help, metric.clone());
    metric
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let r = &mut registry;
        // Counters get their `_total` suffix from the encoder.
        let events_stored = registered(
            r,
            "vigil_events_stored",
            "Events stored by ingest requests.",
            Counter::default(),
        );
        let events_duplicate = registered(
            r,
            "vigil_events_duplicate",
            "Events sent again and not stored again.",
            Counter::default(),
        );
        let events_rejected = registered(
            r,
            "vigil_events_rejected",
            "Events refused (invalid or id conflict).",
            Counter::default(),
        );
        let requests = registered(
            r,
            "vigil_http_requests",
            "HTTP requests by route and status.",
            Family::default(),
        );
        let latency = registered(
            r,
            "vigil_http_request_duration_seconds",
            "Time to answer HTTP requests (until the response's head), by route.",
            Family::new_with_constructor(latency_histogram as fn() -> Histogram),
        );
        let log_last_seq = registered(
            r,
            "vigil_log_last_seq",
            "Last sequence number committed by this server.",
            Gauge::default(),
        );
        let index_seq = registered(
            r,
            "vigil_index_seq",
            "Last sequence number searchable.",
            Gauge::default(),
        );
        let index_lag = registered(
            r,
            "vigil_index_lag_events",
            "Committed events not yet searchable.",
            Gauge::default(),
        );
        let integrity_alarms = registered(
            r,
            "vigil_integrity_alarms",
            "Integrity alarms raised (the log's head went back, or a view is ahead of the log); see /readyz.",
            Gauge::default(),
        );
        Metrics {
            registry,
            events_stored,
            events_duplicate,
            events_rejected,
            requests,
            latency,
            log_last_seq,
            index_seq,
            index_lag,
            integrity_alarms,
        }
    }
}

impl Metrics {
    /// Counts the outcome of an ingest request.
    pub fn count_ingest(&self, stored: usize, duplicates: usize, rejected: usize) {
        self.events_stored.inc_by(stored as u64);
        self.events_duplicate.inc_by(duplicates as u64);
        self.events_rejected.inc_by(rejected as u64);
    }

    /// Counts a finished request by its matched route and status, and records how long it took.
    pub fn count_request(&self, path: &str, status: u16, seconds: f64) {
        let path = path.to_owned();
        self.latency
            .get_or_create(&RouteLabels { path: path.clone() })
            .observe(seconds);
        self.requests
            .get_or_create(&RequestLabels { path, status })
            .inc();
    }

    /// The exposition text, with the gauges read now.
    pub fn render(&self, log_last_seq: u64, indexed_seq: u64, integrity_alarms: usize) -> String {
        let gauge = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        self.log_last_seq.set(gauge(log_last_seq));
        self.index_seq.set(gauge(indexed_seq));
        self.index_lag
            .set(gauge(log_last_seq.saturating_sub(indexed_seq)));
        self.integrity_alarms.set(gauge(integrity_alarms as u64));
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String does not fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Metrics;

    #[test]
    fn requests_are_counted_and_timed_by_route() {
        let metrics = Metrics::default();
        metrics.count_ingest(2, 1, 0);
        metrics.count_request("/api/audit/events", 200, 0.003);
        metrics.count_request("/api/audit/events", 200, 0.5);
        metrics.count_request("/api/audit/events", 400, 0.001);
        let text = metrics.render(10, 7, 0);
        for expected in [
            "vigil_events_stored_total 2\n",
            "vigil_events_duplicate_total 1\n",
            "vigil_http_requests_total{path=\"/api/audit/events\",status=\"200\"} 2\n",
            "vigil_http_requests_total{path=\"/api/audit/events\",status=\"400\"} 1\n",
            "# TYPE vigil_http_request_duration_seconds histogram\n",
            "vigil_http_request_duration_seconds_count{path=\"/api/audit/events\"} 3\n",
            // 3 ms and 1 ms are at or under 4 ms; 0.5 s is not.
            "vigil_http_request_duration_seconds_bucket{le=\"0.004\",path=\"/api/audit/events\"} 2\n",
            "vigil_index_lag_events 3\n",
            "# EOF\n",
        ] {
            assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
        }
    }
}
