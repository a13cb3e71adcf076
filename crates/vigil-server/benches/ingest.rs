//! Durable ingest over HTTP against the real `vigil` binary: batches of 1,000 events, then single
//! events under concurrency (p50/p95/p99). Run with `cargo bench -p vigil-server --bench ingest`.
//! Sizes: VIGIL_BENCH_EVENTS (batched events, default 300000), VIGIL_BENCH_SINGLE (single-event
//! requests, default 20000), VIGIL_BENCH_CLIENTS (concurrent single-event clients, default 32),
//! VIGIL_BENCH_BATCH_CLIENTS (concurrent batch clients, default 8).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const KEY: &str = "bench-admin-key-0123456789";
const BATCH_SIZE: usize = 1_000;
const USERS: u64 = 500;
const DATA_SOURCES: u64 = 2_000;

/// splitmix64: a deterministic generator, so every run sends the same events.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Skewed towards small values: a few users and data sources do most of the work.
    fn skewed(&mut self, n: u64) -> u64 {
        let a = self.below(n);
        let b = self.below(n);
        a.min(b).min(self.below(n))
    }
}

/// The seed's event mix: mostly query events, the rest governance events.
struct Generator {
    queries: Vec<Value>,
    admin: Vec<Value>,
    rng: Rng,
    counter: u64,
}

impl Generator {
    fn new() -> Generator {
        let examples: Vec<Value> =
            serde_json::from_str(vigil_model::fixtures::SEED_EXAMPLE_EVENTS).unwrap();
        let (queries, admin) = examples.into_iter().partition(|e| e["action"] == "QUERY");
        Generator {
            queries,
            admin,
            rng: Rng(42),
            counter: 0,
        }
    }

    fn event(&mut self) -> Value {
        self.counter += 1;
        let query = self.rng.below(100) < 85;
        let pool = if query { &self.queries } else { &self.admin };
        let mut event = pool[self.rng.below(pool.len() as u64) as usize].clone();
        let user = self.rng.skewed(USERS);
        let source = self.rng.skewed(DATA_SOURCES);
        let seconds_ago = self.rng.below(86_400);
        let when = chrono::Utc::now() - chrono::Duration::seconds(seconds_ago as i64);
        event["id"] = json!(format!("bench-{}-{:x}", self.counter, self.rng.next()));
        event["eventTimestamp"] = json!(when.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        event.as_object_mut().unwrap().remove("receivedTimestamp");
        event["actor"]["id"] = json!(format!("user{user}@example.com"));
        event["actor"]["name"] = json!(format!("User {user}"));
        if query {
            event["targets"][0]["id"] = json!(source.to_string());
            event["targets"][0]["name"] = json!(format!("Data source {source}"));
            event["auditPayload"]["queryId"] = json!(format!("q-{}", self.counter));
            event["auditPayload"]["query"] = json!(format!(
                "SELECT id, amount FROM sales.orders_{source} WHERE customer = {}",
                self.rng.below(10_000)
            ));
        }
        event
    }
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn directory_bytes(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// CPU seconds (user + system) a process has used so far, from /proc.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: f64 = fields.get(11).zip(fields.get(12)).map_or(0.0, |(u, s)| {
        u.parse::<f64>().unwrap_or(0.0) + s.parse::<f64>().unwrap_or(0.0)
    });
    // SAFETY: sysconf has no preconditions.
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

fn main() {
    // `cargo bench` passes `--bench`; anything else (a test run over all targets) does not bench.
    if !std::env::args().any(|arg| arg == "--bench") {
        eprintln!("this is a benchmark: run it with `cargo bench -p vigil-server --bench ingest`");
        return;
    }
    let batched_events = env_number("VIGIL_BENCH_EVENTS", 300_000);
    let single_requests = env_number("VIGIL_BENCH_SINGLE", 20_000);
    let single_clients = env_number("VIGIL_BENCH_CLIENTS", 32);
    let batch_clients = env_number("VIGIL_BENCH_BATCH_CLIENTS", 8);
    let dir = tempfile::tempdir().unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("VIGIL_BOOTSTRAP_API_KEY", KEY)
        .env(
            "RUST_LOG",
            std::env::var("VIGIL_BENCH_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdout(Stdio::piped())
        .spawn()
        .expect("vigil starts");
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let base = loop {
        let line = lines.next().expect("vigil prints its address").unwrap();
        if let Some(address) = line.strip_prefix("vigil listening on ") {
            break address.to_owned();
        }
    };

    let mut generator = Generator::new();
    let batches: Vec<String> = (0..batched_events.div_ceil(BATCH_SIZE))
        .map(|_| Value::Array((0..BATCH_SIZE).map(|_| generator.event()).collect()).to_string())
        .collect();
    let singles: Vec<String> = (0..single_requests)
        .map(|_| generator.event().to_string())
        .collect();
    let body_bytes: usize = batches.iter().map(String::len).sum();
    println!(
        "vigil ingest benchmark: {} events in {} batches of {BATCH_SIZE} ({} bytes/event on the wire)",
        batches.len() * BATCH_SIZE,
        batches.len(),
        body_bytes / (batches.len() * BATCH_SIZE)
    );

    let server_pid = server.id().to_string();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let http = reqwest::Client::new();
        let url = format!("{base}/api/audit/events");

        // Batches of 1,000 from `batch_clients` clients at once.
        let batches = Arc::new(batches);
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (server_cpu, client_cpu) = (cpu_seconds(&server_pid), cpu_seconds("self"));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..batch_clients {
            let (http, url, batches, next) = (http.clone(), url.clone(), batches.clone(), next.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(body) = batches.get(index) else { break };
                    let response =
                        http.post(&url).header("Authorization", KEY).body(body.clone()).send().await.unwrap();
                    assert_eq!(response.status(), 200);
                    let report: Value = response.json().await.unwrap();
                    assert_eq!(report["accepted"], BATCH_SIZE);
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let elapsed = started.elapsed();
        let events = batches.len() * BATCH_SIZE;
        println!(
            "batched ingest: {events} events acknowledged durable in {:.2} s = {:.0} events/s ({batch_clients} clients)",
            elapsed.as_secs_f64(),
            events as f64 / elapsed.as_secs_f64()
        );
        let server_used = cpu_seconds(&server_pid) - server_cpu;
        println!(
            "  server CPU {:.1} µs/event (= {:.0} events/s per core); load generator used {:.1} CPU s of the same 2 cores",
            server_used * 1e6 / events as f64,
            events as f64 / server_used,
            cpu_seconds("self") - client_cpu
        );

        // Single-event requests from many clients.
        let singles = Arc::new(singles);
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..single_clients {
            let (http, url, singles, next) = (http.clone(), url.clone(), singles.clone(), next.clone());
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(body) = singles.get(index) else { break };
                    let sent = Instant::now();
                    let response =
                        http.post(&url).header("Authorization", KEY).body(body.clone()).send().await.unwrap();
                    assert_eq!(response.status(), 200);
                    response.bytes().await.unwrap();
                    latencies.push(sent.elapsed());
                }
                latencies
            }));
        }
        let mut latencies = Vec::new();
        for task in tasks {
            latencies.extend(task.await.unwrap());
        }
        let elapsed = started.elapsed();
        latencies.sort();
        println!(
            "single events: {} requests from {single_clients} clients in {:.2} s = {:.0} events/s; \
             acknowledgement latency p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            latencies.len(),
            elapsed.as_secs_f64(),
            latencies.len() as f64 / elapsed.as_secs_f64(),
            percentile(&latencies, 0.50).as_secs_f64() * 1e3,
            percentile(&latencies, 0.95).as_secs_f64() * 1e3,
            percentile(&latencies, 0.99).as_secs_f64() * 1e3,
            latencies.last().unwrap().as_secs_f64() * 1e3,
        );
    });
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(server.id() as i32, libc::SIGTERM) };
    server.wait().unwrap();
    let total = batched_events.div_ceil(BATCH_SIZE) * BATCH_SIZE + single_requests;
    println!(
        "disk: {} bytes/event in the data directory",
        directory_bytes(dir.path()) / total as u64
    );
}
