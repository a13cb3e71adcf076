//! Search at scale against the real `vigil` binary: sustained ingest until searchable, freshness
//! of single events, audit-page / keyword / data-source / deep-page query latencies, disk bytes
//! per event and peak RSS. Run with `cargo bench -p vigil-server --bench search`.
//! VIGIL_BENCH_EVENTS sets the size (default 1000000); VIGIL_BENCH_DIR keeps the data directory
//! between runs (events already there are not sent again), so a 10M run is built once.
//! VIGIL_BENCH_MIX picks the events (`queries`, ~1.9 kB, or `1k`, the seed's mix at ~1 kB);
//! VIGIL_BENCH_DAYS spreads them over that many days at random (default 7), or, with
//! VIGIL_BENCH_STREAM=1, in time order over the last day as a live stream sends them (10M then is
//! 10M events per day). VIGIL_BENCH_DOWNLOADS=0 skips the downloads of every event.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{
    BatchPool, Clock, Generator, KEY, Mix, anon_rss_bytes, env_number, peak_rss_bytes,
    percentile_ms, rss_bytes, start_server, stop_server, tree_bytes,
};

/// Bytes of a file, or of a directory and everything in it.
fn tree_bytes_of(path: &std::path::Path) -> u64 {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => tree_bytes(path),
        Ok(meta) => meta.len(),
        Err(_) => 0,
    }
}

const BATCH_SIZE: usize = 1_000;
const CLIENTS: usize = 8;
const QUERY_RUNS: usize = 30;
const WARMUP_RUNS: usize = 3;
const FRESHNESS_SAMPLES: usize = 200;
/// Events are spread over this many days by default, so "the last 24 hours" holds a seventh of
/// them.
const DAYS: usize = 7;
/// Distinct batches generated before sending (200,000 events, ~400 MB).
const POOL_BATCHES: usize = 200;

/// `GET path` with the benchmark's key, as JSON.
async fn get_json(http: &reqwest::Client, base: &str, path: &str) -> Value {
    http.get(format!("{base}{path}"))
        .header("Authorization", KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn total(http: &reqwest::Client, base: &str, query: &str) -> u64 {
    let body = get_json(http, base, &format!("/api/audit/events?{query}")).await;
    body["total"].as_u64().unwrap()
}

/// Posts a marker event and waits until it is searchable. The indexer works in sequence order,
/// so then every event acknowledged before the marker is searchable too. Polls one id: cheap.
async fn wait_until_everything_searchable(http: &reqwest::Client, base: &str, name: &str) {
    let mut marker = Generator::new().event();
    let id = format!("marker-{}-{name}", std::process::id());
    marker["id"] = Value::from(id.clone());
    let response = http
        .post(format!("{base}/api/audit/events"))
        .header("Authorization", KEY)
        .body(marker.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    while total(http, base, &format!("eventId={id}&facets=none&size=1")).await == 0 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until the governance projection has every event of the log.
async fn wait_until_projected(http: &reqwest::Client, base: &str) {
    loop {
        let status = get_json(http, base, "/api/audit/status").await;
        // Reading the status may itself be recorded (vigil audits its own reads): one behind is
        // caught up.
        let (projected, last) = (
            status["projectedSequence"].as_u64().unwrap(),
            status["lastSequence"].as_u64().unwrap(),
        );
        if projected + 1 >= last {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn time_query(http: &reqwest::Client, base: &str, name: &str, query: &str) {
    let url = format!("{base}/api/audit/events?{query}");
    let mut latencies = Vec::new();
    let mut hits = 0;
    for run in 0..WARMUP_RUNS + QUERY_RUNS {
        let started = Instant::now();
        let response = http
            .get(&url)
            .header("Authorization", KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{url}");
        let body: Value = response.json().await.unwrap();
        if run >= WARMUP_RUNS {
            latencies.push(started.elapsed());
        }
        hits = body["total"].as_u64().unwrap();
    }
    latencies.sort();
    println!(
        "  {name:<34} p50 {:>7.1} ms  p95 {:>7.1} ms  p99 {:>7.1} ms  ({hits} matching)",
        percentile_ms(&latencies, 0.50),
        percentile_ms(&latencies, 0.95),
        percentile_ms(&latencies, 0.99)
    );
}

fn main() {
    if !support::invoked_as_benchmark("search") {
        return;
    }
    let target = env_number("VIGIL_BENCH_EVENTS", 1_000_000) as u64;
    let mix = Mix::from_env();
    let days = env_number("VIGIL_BENCH_DAYS", DAYS);
    let stream = env_number("VIGIL_BENCH_STREAM", 0) == 1;
    let downloads = env_number("VIGIL_BENCH_DOWNLOADS", 1) == 1;
    let temporary = tempfile::tempdir().unwrap();
    let dir = std::env::var("VIGIL_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| temporary.path().to_owned());
    let (server, base) = start_server(&dir);
    let pid = server.id().to_string();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let http = reqwest::Client::new();
        // An index that lags the log (a previous run stopped mid-way) must catch up before counting.
        let caught_up = Instant::now();
        wait_until_everything_searchable(&http, &base, "start").await;
        // Query events only, so the markers of earlier runs do not count (every event of the
        // compact mix counts).
        let counted = match mix {
            Mix::Queries => "eventType=Query&facets=none&size=1",
            Mix::Compact => "facets=none&size=1",
        };
        let existing = total(&http, &base, counted).await;
        println!("index caught up with the log in {:.1} s", caught_up.elapsed().as_secs_f64());
        let missing = target.saturating_sub(existing) as usize;
        println!("vigil search benchmark: {target} events ({mix:?} mix) wanted, {existing} present, sending {missing}");
        if missing > 0 {
            let batches = missing.div_ceil(BATCH_SIZE);
            println!("generating a pool of {POOL_BATCHES} batches (ids are rewritten per send)...");
            let pool = Arc::new(BatchPool::new(POOL_BATCHES, BATCH_SIZE, days as u64, mix));
            // Continue the numbering of earlier runs over the same directory.
            let first = existing as usize / BATCH_SIZE;
            // A stream: the events of the whole run in time order over the last day.
            // Batch `first` starts at the start of the last day.
            let clock = stream.then(|| {
                let step = chrono::Duration::microseconds(86_400_000_000 / target.max(1) as i64);
                let start = chrono::Utc::now() - chrono::Duration::hours(24);
                Clock { start: start - step * (first * BATCH_SIZE) as i32, step }
            });
            let next = Arc::new(AtomicUsize::new(first));
            let started = Instant::now();
            let mut tasks = Vec::new();
            for _ in 0..CLIENTS {
                let (http, base, next, pool) = (http.clone(), base.clone(), next.clone(), pool.clone());
                tasks.push(tokio::spawn(async move {
                    let mut sent = 0;
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        if index >= first + batches {
                            break;
                        }
                        let response = http
                            .post(format!("{base}/api/audit/events"))
                            .header("Authorization", KEY)
                            .body(pool.batch_at(index, clock))
                            .send()
                            .await
                            .unwrap();
                        assert_eq!(response.status(), 200);
                        let report: Value = response.json().await.unwrap();
                        sent += report["accepted"].as_u64().unwrap() as usize;
                    }
                    sent
                }));
            }
            let mut sent = 0;
            for task in tasks {
                sent += task.await.unwrap();
            }
            let acknowledged = started.elapsed();
            wait_until_everything_searchable(&http, &base, "end").await;
            let searchable = started.elapsed();
            println!(
                "ingest: {sent} events acknowledged in {:.1} s ({:.0}/s), all searchable after {:.1} s ({:.0}/s sustained), index lag at the end {:.1} s",
                acknowledged.as_secs_f64(),
                sent as f64 / acknowledged.as_secs_f64(),
                searchable.as_secs_f64(),
                sent as f64 / searchable.as_secs_f64(),
                (searchable - acknowledged).as_secs_f64()
            );
        }

        // Freshness: one event at a time, polled until searchable.
        let mut generator = Generator::new();
        generator.rng.0 = std::process::id() as u64;
        let mut delays = Vec::new();
        for sample in 0..FRESHNESS_SAMPLES {
            let mut event = generator.event();
            let id = format!("fresh-{}-{sample}", std::process::id());
            event["id"] = Value::from(id.clone());
            let started = Instant::now();
            let response =
                http.post(format!("{base}/api/audit/events")).header("Authorization", KEY).body(event.to_string()).send().await.unwrap();
            assert_eq!(response.status(), 200);
            while total(&http, &base, &format!("eventId={id}&facets=none&size=1")).await == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            delays.push(started.elapsed());
        }
        delays.sort();
        println!(
            "freshness: acknowledged to searchable p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({FRESHNESS_SAMPLES} events)",
            percentile_ms(&delays, 0.5),
            percentile_ms(&delays, 0.99),
            delays.last().unwrap().as_secs_f64() * 1e3
        );

        // Timed at rest: the governance projection (busy with the compact mix's governance
        // events) catches up first.
        let settled = Instant::now();
        wait_until_projected(&http, &base).await;
        println!("governance projection caught up {:.1} s after the index", settled.elapsed().as_secs_f64());

        let day_ago = (chrono::Utc::now() - chrono::Duration::hours(24)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        println!("queries ({QUERY_RUNS} runs each after {WARMUP_RUNS} warm-up runs, default audit-page facets unless said):");
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        time_query(&http, &base, "audit page: last 24 h, 50 newest", &format!("from={day_ago}&size=50")).await;
        // As the web UI asks: up to now, with its 60-bucket timeline.
        time_query(&http, &base, "  … with a timeline (histogram=60)", &format!("from={day_ago}&to={now}&size=50&histogram=60")).await;
        // As the web UI asks since it aligns its presets: 24 h ending with the current minute,
        // 60 buckets of 24 whole minutes, which sealed segments answer from their kept minutes.
        let minute_end = (chrono::Utc::now().timestamp() / 60 + 1) * 60;
        let aligned = |seconds: i64, millis: i64| {
            (chrono::DateTime::from_timestamp(seconds, 0).unwrap() + chrono::Duration::milliseconds(millis))
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        };
        let (from, to) = (aligned(minute_end - 86_400, 0), aligned(minute_end, -1));
        time_query(&http, &base, "  … with the UI's timeline (whole minutes)", &format!("from={from}&to={to}&size=50&histogram=60")).await;
        time_query(&http, &base, "audit page: all time, 50 newest", "size=50").await;
        time_query(&http, &base, "keyword in query text", "q=orders_17&size=50").await;
        time_query(&http, &base, "one data source", "dataSourceId=7&size=50").await;
        time_query(&http, &base, "deep page (offset 10000, no facets)", "offset=10000&size=50&facets=none").await;
        time_query(&http, &base, "legacy GET /audit (50 newest)", "eventType=Query&size=50&facets=recordType,outcome").await;

        // Downloads of every event, streamed; the server's memory is sampled meanwhile: its
        // allocations (RssAnon) and all it has resident (VmRSS, which also counts the pages of the
        // log and index files it maps and reads).
        for format in ["ndjson", "csv"].into_iter().filter(|_| downloads) {
            let (idle_anon, idle_rss) = (anon_rss_bytes(&pid), rss_bytes(&pid));
            let peaks = Arc::new((
                std::sync::atomic::AtomicU64::new(idle_anon),
                std::sync::atomic::AtomicU64::new(idle_rss),
            ));
            let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let sampler = {
                let (pid, peaks, done) = (pid.clone(), peaks.clone(), done.clone());
                std::thread::spawn(move || {
                    while !done.load(Ordering::Relaxed) {
                        peaks.0.fetch_max(anon_rss_bytes(&pid), Ordering::Relaxed);
                        peaks.1.fetch_max(rss_bytes(&pid), Ordering::Relaxed);
                        std::thread::sleep(Duration::from_millis(20));
                    }
                })
            };
            let started = Instant::now();
            let mut response = http
                .get(format!("{base}/api/audit/events?format={format}&from=2000-01-01"))
                .header("Authorization", KEY)
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success(), "{}", response.status());
            let (mut bytes, mut lines) = (0u64, 0u64);
            while let Some(chunk) = response.chunk().await.unwrap() {
                bytes += chunk.len() as u64;
                lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
            }
            done.store(true, Ordering::Relaxed);
            sampler.join().unwrap();
            let seconds = started.elapsed().as_secs_f64();
            let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
            println!(
                "download {format}: {lines} lines, {:.0} MB in {seconds:.1} s ({:.0} events/s); server memory: allocations at most {:.0} MiB above the {:.0} MiB before, resident (with mapped files) {:.0} MiB above {:.0} MiB",
                bytes as f64 / 1e6,
                lines as f64 / seconds,
                mib(peaks.0.load(Ordering::Relaxed).saturating_sub(idle_anon)),
                mib(idle_anon),
                mib(peaks.1.load(Ordering::Relaxed).saturating_sub(idle_rss)),
                mib(idle_rss),
            );
        }
    });
    let rss = peak_rss_bytes(&pid);
    stop_server(server);
    let events = target.max(1);
    println!(
        "disk: {:.0} bytes/event (log, index and projection); server peak RSS {:.0} MiB",
        tree_bytes(&dir) as f64 / events as f64,
        rss as f64 / (1024.0 * 1024.0)
    );
    let mut parts: Vec<(String, u64)> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|entry| {
            (
                entry.file_name().to_string_lossy().into_owned(),
                tree_bytes_of(&entry.path()),
            )
        })
        .filter(|(_, bytes)| *bytes > 0)
        .collect();
    parts.sort();
    for (name, bytes) in parts {
        println!("  {name}: {:.0} bytes/event", bytes as f64 / events as f64);
    }
}
