//! vigil nodes sharing one PostgreSQL database: durable ingest in batches of 1,000 through 1 and
//! through 2 nodes, single-event acknowledgement latency, the time from an acknowledgement on
//! one node to the event being searchable on the other, and the bytes per event PostgreSQL
//! holds once the bodies are compressed. The nodes, PostgreSQL and this load generator share the
//! machine. Run with `cargo bench -p vigil-server --bench cluster`. Sizes: VIGIL_BENCH_EVENTS
//! (batched events per run, default 200000), VIGIL_BENCH_SINGLE (single-event requests, default
//! 5000), VIGIL_BENCH_PROBES (acknowledged→searchable probes, default 200); the server:
//! VIGIL_BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres).

mod support;

use std::process::Child;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Generator, KEY, env_number, percentile_ms, start_server_with_env, stop_server};

const BATCH_SIZE: usize = 1_000;
const MASTER_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

fn admin_url() -> String {
    std::env::var("VIGIL_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh database for one run; dropped by [`drop_database`].
fn create_database(name: &str) -> String {
    let mut admin = postgres::Client::connect(&admin_url(), postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let base = admin_url();
    format!(
        "{}/{name}?sslmode=disable",
        &base[..base.rfind('/').unwrap()]
    )
}

fn drop_database(name: &str) {
    let mut admin = postgres::Client::connect(&admin_url(), postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .unwrap();
}

struct Cluster {
    nodes: Vec<(Child, String)>,
    _dirs: Vec<tempfile::TempDir>,
    url: String,
}

fn start_cluster(url: &str, count: usize) -> Cluster {
    let dirs: Vec<tempfile::TempDir> = (0..count).map(|_| tempfile::tempdir().unwrap()).collect();
    let nodes = dirs
        .iter()
        .map(|dir| {
            start_server_with_env(
                dir.path(),
                &[
                    ("VIGIL_DATABASE_URL", url),
                    ("VIGIL_MASTER_KEY", MASTER_KEY),
                ],
            )
        })
        .collect();
    Cluster {
        nodes,
        _dirs: dirs,
        url: url.to_owned(),
    }
}

impl Cluster {
    fn stop(self) {
        for (node, _) in self.nodes {
            stop_server(node);
        }
    }

    fn bases(&self) -> Vec<String> {
        self.nodes.iter().map(|(_, base)| base.clone()).collect()
    }
}

/// Sends every batch, from 4 clients per node; returns events/s acknowledged.
async fn batched_ingest(bases: &[String], batches: Arc<Vec<String>>) -> f64 {
    let http = reqwest::Client::new();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..4 * bases.len() {
        let url = format!("{}/api/audit/events", bases[client % bases.len()]);
        let (http, batches, next) = (http.clone(), batches.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(body) = batches.get(index) else {
                    break;
                };
                let response = http
                    .post(&url)
                    .header("Authorization", KEY)
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
                let report: Value = response.json().await.unwrap();
                assert_eq!(report["accepted"], BATCH_SIZE);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    (batches.len() * BATCH_SIZE) as f64 / started.elapsed().as_secs_f64()
}

/// Single events from 16 clients spread over the nodes; returns the sorted latencies.
async fn single_events(bases: &[String], singles: Arc<Vec<String>>) -> Vec<Duration> {
    let http = reqwest::Client::new();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for client in 0..16 {
        let url = format!("{}/api/audit/events", bases[client % bases.len()]);
        let (http, singles, next) = (http.clone(), singles.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(body) = singles.get(index) else {
                    break;
                };
                let sent = Instant::now();
                let response = http
                    .post(&url)
                    .header("Authorization", KEY)
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
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
    latencies.sort();
    latencies
}

/// Appends one event on node A, then asks node B until it finds it; the time between.
async fn acknowledged_to_searchable(
    bases: &[String],
    generator: &mut Generator,
    probes: usize,
) -> Vec<Duration> {
    let http = reqwest::Client::new();
    let mut delays = Vec::with_capacity(probes);
    for _ in 0..probes {
        let event = generator.event();
        let id = event["id"].as_str().unwrap().to_owned();
        let sent = Instant::now();
        let response = http
            .post(format!("{}/api/audit/events", bases[0]))
            .header("Authorization", KEY)
            .json(&event)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let acknowledged = Instant::now();
        let search = format!(
            "{}/api/audit/events?eventId={id}&facets=none&size=1",
            bases[1]
        );
        loop {
            let body: Value = http
                .get(&search)
                .header("Authorization", KEY)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if body["total"] == 1 {
                break;
            }
            assert!(
                sent.elapsed() < Duration::from_secs(30),
                "never searchable on node B"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        delays.push(acknowledged.elapsed());
    }
    delays.sort();
    delays
}

/// Waits until the compactor left no body plain; then the database's bytes per event.
fn bytes_per_event(url: &str) -> (u64, u64, u64) {
    let mut db = postgres::Client::connect(url, postgres::NoTls).unwrap();
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let plain: i64 = db
            .query_one("SELECT count(*) FROM events WHERE codec = 0", &[])
            .unwrap()
            .get(0);
        if plain == 0 || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    db.batch_execute("VACUUM events").unwrap();
    let row = db
        .query_one(
            "SELECT count(*), pg_total_relation_size('events'), pg_database_size(current_database()) FROM events",
            &[],
        )
        .unwrap();
    let events = row.get::<_, i64>(0) as u64;
    (
        events,
        row.get::<_, i64>(1) as u64 / events,
        row.get::<_, i64>(2) as u64 / events,
    )
}

fn main() {
    if !support::invoked_as_benchmark("cluster") {
        return;
    }
    let batched_events = env_number("VIGIL_BENCH_EVENTS", 200_000);
    let single_requests = env_number("VIGIL_BENCH_SINGLE", 5_000);
    let probes = env_number("VIGIL_BENCH_PROBES", 200);
    let mut generator = Generator::new();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "vigil cluster benchmark: nodes, PostgreSQL and the load generator share this machine's {} cores",
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    for node_count in [1, 2] {
        let name = format!("vigil_bench_cluster_{node_count}");
        let url = create_database(&name);
        let cluster = start_cluster(&url, node_count);
        let batches: Vec<String> = (0..batched_events.div_ceil(BATCH_SIZE))
            .map(|_| Value::Array((0..BATCH_SIZE).map(|_| generator.event()).collect()).to_string())
            .collect();
        let wire = batches.iter().map(String::len).sum::<usize>() / (batches.len() * BATCH_SIZE);
        let singles: Vec<String> = (0..single_requests)
            .map(|_| generator.event().to_string())
            .collect();
        let bases = cluster.bases();
        runtime.block_on(async {
            let rate = batched_ingest(&bases, Arc::new(batches)).await;
            println!(
                "{node_count} node(s): batched ingest {rate:.0} events/s acknowledged durable (batches of {BATCH_SIZE}, {wire} bytes/event on the wire)"
            );
            let latencies = single_events(&bases, Arc::new(singles)).await;
            println!(
                "{node_count} node(s): single events from 16 clients: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms",
                percentile_ms(&latencies, 0.50),
                percentile_ms(&latencies, 0.95),
                percentile_ms(&latencies, 0.99)
            );
            if node_count > 1 {
                let delays = acknowledged_to_searchable(&bases, &mut generator, probes).await;
                println!(
                    "{node_count} nodes: acknowledged on node A → searchable on node B: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({probes} probes)",
                    percentile_ms(&delays, 0.50),
                    percentile_ms(&delays, 0.99),
                    delays.last().unwrap().as_secs_f64() * 1e3
                );
            }
        });
        let (events, table, database) = bytes_per_event(&cluster.url);
        println!(
            "{node_count} node(s): PostgreSQL holds {events} events: {table} bytes/event in the events table with its indexes, {database} bytes/event in the whole database"
        );
        cluster.stop();
        drop_database(&name);
    }
}
