//! What the benchmarks share: a deterministic generator of realistic events, and running the
//! real `vigil` binary.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

/// The admin key the benchmark servers are bootstrapped with.
pub const KEY: &str = "bench-admin-key-0123456789";
/// Distinct users.
pub const USERS: u64 = 500;
/// Distinct data sources.
pub const DATA_SOURCES: u64 = 2_000;

/// splitmix64: a deterministic generator, so every run sends the same events.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Skewed towards small values: a few users and data sources do most of the work.
    pub fn skewed(&mut self, n: u64) -> u64 {
        let a = self.below(n);
        let b = self.below(n);
        a.min(b).min(self.below(n))
    }
}

/// The seed's event mix: mostly query events, the rest governance events.
pub struct Generator {
    queries: Vec<Value>,
    admin: Vec<Value>,
    pub rng: Rng,
    counter: u64,
}

impl Generator {
    pub fn new() -> Generator {
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

    /// An event of the query-heavy mix: 85% query events.
    pub fn event(&mut self) -> Value {
        self.event_with(85)
    }

    /// An event, a query event with probability `query_percent`%.
    fn event_with(&mut self, query_percent: u64) -> Value {
        self.counter += 1;
        let query = self.rng.below(100) < query_percent;
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

/// Which events a benchmark sends (`VIGIL_BENCH_MIX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mix {
    /// `queries` (the default): the seed's query events, ~1.9 kB each.
    Queries,
    /// `1k`: the seed's mix, ~1 kB each: each of the seed's examples as likely as any other (so
    /// mostly governance events), query events reading one table and a few of its columns, with
    /// their own query and session ids.
    Compact,
}

impl Mix {
    /// `VIGIL_BENCH_MIX`, `queries` unless it says `1k`.
    pub fn from_env() -> Mix {
        match std::env::var("VIGIL_BENCH_MIX").as_deref() {
            Ok("1k") => Mix::Compact,
            Ok("queries") | Err(_) => Mix::Queries,
            Ok(other) => panic!("VIGIL_BENCH_MIX={other}: use `queries` or `1k`"),
        }
    }
}

/// Column names the compact mix picks from.
const COLUMNS: [&str; 12] = [
    "ID",
    "EMAIL",
    "SSN",
    "DOB",
    "COUNTRY",
    "AMOUNT",
    "CREATED_AT",
    "STATUS",
    "REGION",
    "PHONE",
    "LASTNAME",
    "DEPARTMENT",
];

impl Generator {
    /// One event of `mix`.
    pub fn event_of(&mut self, mix: Mix) -> Value {
        match mix {
            Mix::Queries => loop {
                let event = self.event();
                if event["action"] == "QUERY" {
                    return event;
                }
            },
            Mix::Compact => {
                // Each of the seed's examples as likely as any other.
                let examples = (self.queries.len() + self.admin.len()) as u64;
                let mut event = self.event_with(self.queries.len() as u64 * 100 / examples);
                if event["action"] == "QUERY" {
                    let payload = &mut event["auditPayload"];
                    payload["queryId"] =
                        json!(format!("{:016x}-{:08x}", self.rng.next(), self.counter));
                    if let Some(objects) = payload["objectsAccessed"].as_array_mut() {
                        objects.truncate(1);
                        let keep = 1 + self.rng.below(4) as usize;
                        if let Some(columns) = objects[0]["columns"].as_array_mut() {
                            columns.truncate(keep);
                            for column in columns {
                                column["name"] = json!(COLUMNS[self.rng.below(12) as usize]);
                            }
                        }
                    }
                    event["sessionId"] = json!(self.rng.next().to_string());
                }
                event
            }
        }
    }
}

/// Reads a number from the environment.
pub fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `q`-th quantile of sorted durations, in milliseconds.
pub fn percentile_ms(sorted: &[std::time::Duration], q: f64) -> f64 {
    sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1].as_secs_f64()
        * 1e3
}

/// Bytes of all files below `path`.
pub fn tree_bytes(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => tree_bytes(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

/// CPU seconds (user + system) a process has used so far, from /proc.
pub fn cpu_seconds(pid: &str) -> f64 {
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

/// Peak resident memory of a process in bytes (VmHWM), from /proc.
pub fn peak_rss_bytes(pid: &str) -> u64 {
    status_bytes(pid, "VmHWM:")
}

/// Resident memory of a process now, in bytes (VmRSS), from /proc: its heap and the pages of the
/// files it maps (the log's and the index's, which the kernel may drop).
pub fn rss_bytes(pid: &str) -> u64 {
    status_bytes(pid, "VmRSS:")
}

/// Anonymous resident memory of a process now (RssAnon): what it allocated, without mapped files.
pub fn anon_rss_bytes(pid: &str) -> u64 {
    status_bytes(pid, "RssAnon:")
}

fn status_bytes(pid: &str, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kib| kib * 1024)
}

/// Starts `vigil serve` on a free loopback port; returns the child and its base URL.
pub fn start_server(data_dir: &Path) -> (Child, String) {
    start_server_with_env(data_dir, &[])
}

/// [`start_server`] with more environment variables (a cluster's database URL and master key).
pub fn start_server_with_env(data_dir: &Path, env: &[(&str, &str)]) -> (Child, String) {
    let mut server = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .envs(env.iter().copied())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        // The query-audit benchmark pulls from fakes on loopback.
        .arg("--allow-private-endpoints")
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
    (server, base)
}

/// Stops a server gracefully.
pub fn stop_server(mut server: Child) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(server.id() as i32, libc::SIGTERM) };
    server.wait().unwrap();
}

/// True when cargo runs this as a benchmark (`cargo bench` passes `--bench`); a test run over all
/// targets does not bench.
pub fn invoked_as_benchmark(name: &str) -> bool {
    let benching = std::env::args().any(|arg| arg == "--bench");
    if !benching {
        eprintln!("this is a benchmark: run it with `cargo bench -p vigil-server --bench {name}`");
    }
    benching
}

/// Pre-generated batches whose event ids (and, for a stream in time order, event times) are
/// rewritten in place for each send, so that sending millions of unique events costs the load
/// generator a copy, not a generation.
pub struct BatchPool {
    /// Each batch's bytes, the offsets of its id placeholders and of its event times.
    batches: Vec<(Vec<u8>, Vec<usize>, Vec<usize>)>,
    size: usize,
}

/// Event times for a stream in time order: event `n` (counted over every batch sent) happened at
/// `start + n · step`.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub start: chrono::DateTime<chrono::Utc>,
    pub step: chrono::Duration,
}

/// The placeholder in every pooled id (`bench-00000000-17`), replaced by the round number.
const ROUND_PLACEHOLDER: &str = "00000000";

impl BatchPool {
    /// `count` batches of `size` events of `mix`, spread over the last `days` days.
    pub fn new(count: usize, size: usize, days: u64, mix: Mix) -> BatchPool {
        let mut generator = Generator::new();
        let mut number = 0u64;
        let batches = (0..count)
            .map(|_| {
                let mut events = Vec::with_capacity(size);
                while events.len() < size {
                    let mut event = generator.event_of(mix);
                    let seconds_ago = generator.rng.below(days * 86_400);
                    let when = chrono::Utc::now() - chrono::Duration::seconds(seconds_ago as i64);
                    event["eventTimestamp"] = json!(time_text(when));
                    number += 1;
                    event["id"] = json!(format!("bench-{ROUND_PLACEHOLDER}-{number}"));
                    events.push(event);
                }
                let bytes = Value::Array(events).to_string().into_bytes();
                let ids = offsets_of(
                    &bytes,
                    &format!("\"bench-{ROUND_PLACEHOLDER}-"),
                    "\"bench-".len(),
                );
                let time = "\"eventTimestamp\":\"";
                let times = offsets_of(&bytes, time, time.len());
                assert_eq!(times.len(), size, "one event time per event");
                (bytes, ids, times)
            })
            .collect();
        BatchPool { batches, size }
    }

    /// The `index`-th batch to send: every id carries the round number, so ids never repeat.
    pub fn batch(&self, index: usize) -> Vec<u8> {
        self.batch_at(index, None)
    }

    /// [`BatchPool::batch`], with event times from `clock` when given (a stream in time order).
    pub fn batch_at(&self, index: usize, clock: Option<Clock>) -> Vec<u8> {
        let (bytes, ids, times) = &self.batches[index % self.batches.len()];
        let round = format!("{:08x}", index / self.batches.len());
        let mut batch = bytes.clone();
        for offset in ids {
            batch[*offset..*offset + ROUND_PLACEHOLDER.len()].copy_from_slice(round.as_bytes());
        }
        if let Some(clock) = clock {
            for (n, offset) in times.iter().enumerate() {
                let event = (index * self.size + n) as i32;
                let text = time_text(clock.start + clock.step * event);
                batch[*offset..*offset + text.len()].copy_from_slice(text.as_bytes());
            }
        }
        batch
    }
}

/// An event time as the generator writes it: always 24 characters, so it is rewritten in place.
fn time_text(when: chrono::DateTime<chrono::Utc>) -> String {
    when.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Where each `marker` in `bytes` starts, plus `skip`.
fn offsets_of(bytes: &[u8], marker: &str, skip: usize) -> Vec<usize> {
    bytes
        .windows(marker.len())
        .enumerate()
        .filter(|(_, window)| *window == marker.as_bytes())
        .map(|(at, _)| at + skip)
        .collect()
}
