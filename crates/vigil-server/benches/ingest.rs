//! Durable ingest over HTTP against the real `vigil` binary: batches of 1,000 events, then single
//! events under concurrency (p50/p95/p99). Run with `cargo bench -p vigil-server --bench ingest`.
//! Sizes: VIGIL_BENCH_EVENTS (batched events, default 300000), VIGIL_BENCH_SINGLE (single-event
//! requests, default 20000), VIGIL_BENCH_CLIENTS (concurrent single-event clients, default 32),
//! VIGIL_BENCH_BATCH_CLIENTS (concurrent batch clients, default 8).

mod support;

use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;
use support::{Generator, KEY, cpu_seconds, env_number, percentile_ms, start_server, stop_server};

const BATCH_SIZE: usize = 1_000;

fn main() {
    if !support::invoked_as_benchmark("ingest") {
        return;
    }
    let batched_events = env_number("VIGIL_BENCH_EVENTS", 300_000);
    let single_requests = env_number("VIGIL_BENCH_SINGLE", 20_000);
    let single_clients = env_number("VIGIL_BENCH_CLIENTS", 32);
    let batch_clients = env_number("VIGIL_BENCH_BATCH_CLIENTS", 8);
    let dir = tempfile::tempdir().unwrap();
    let (server, base) = start_server(dir.path());

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
            percentile_ms(&latencies, 0.50),
            percentile_ms(&latencies, 0.95),
            percentile_ms(&latencies, 0.99),
            latencies.last().unwrap().as_secs_f64() * 1e3,
        );
    });
    stop_server(server);
    let total = batched_events.div_ceil(BATCH_SIZE) * BATCH_SIZE + single_requests;
    println!(
        "disk: {} bytes/event in the data directory",
        support::tree_bytes(dir.path()) / total as u64
    );
}
