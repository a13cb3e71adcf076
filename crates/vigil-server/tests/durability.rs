//! Durability: a crash or a stop during ingest loses no acknowledged event and doubles none, and
//! `vigil verify` finds an altered byte.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use common::{ADMIN_KEY, Server, client, event, vigil};
use serde_json::Value;
use tokio::sync::Notify;

const CLIENTS: usize = 8;
const BATCHES_PER_CLIENT: usize = 200;
const EVENTS_PER_BATCH: usize = 25;
/// Stop the server once this many events are acknowledged, while the clients are still sending.
const STOP_AFTER_ACKNOWLEDGED: usize = 4_000;

fn batch_ids(client: usize, batch: usize) -> Vec<String> {
    (0..EVENTS_PER_BATCH)
        .map(|i| format!("c{client}-b{batch}-e{i}"))
        .collect()
}

fn batch_body(client: usize, batch: usize) -> String {
    Value::Array(
        batch_ids(client, batch)
            .iter()
            .map(|id| event(id))
            .collect(),
    )
    .to_string()
}

/// Posts a batch; `Some(ids)` when the server acknowledged every event of it as stored or duplicate.
async fn send(
    http: &reqwest::Client,
    base: &str,
    client: usize,
    batch: usize,
) -> Option<Vec<String>> {
    let response = http
        .post(format!("{base}/api/audit/events"))
        .header("Authorization", ADMIN_KEY)
        .body(batch_body(client, batch))
        .send()
        .await
        .ok()?;
    if response.status() != 200 {
        return None;
    }
    let report: Value = response.json().await.ok()?;
    assert_eq!(
        report["rejected"].as_array().map(Vec::len),
        Some(0),
        "{report}"
    );
    let acknowledged = report["stored"].as_array()?.len() + report["duplicates"].as_array()?.len();
    assert_eq!(acknowledged, EVENTS_PER_BATCH, "{report}");
    Some(batch_ids(client, batch))
}

enum Stop {
    Kill,
    Terminate,
}

async fn ingest_then_stop(stop: Stop) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let enough = Arc::new(Notify::new());
    let mut tasks = Vec::new();
    for client_number in 0..CLIENTS {
        let (base, acknowledged, enough) =
            (server.base.clone(), acknowledged.clone(), enough.clone());
        tasks.push(tokio::spawn(async move {
            let http = client();
            for batch in 0..BATCHES_PER_CLIENT {
                let Some(ids) = send(&http, &base, client_number, batch).await else {
                    break;
                };
                let mut all = acknowledged.lock().unwrap();
                all.extend(ids);
                if all.len() >= STOP_AFTER_ACKNOWLEDGED {
                    enough.notify_one();
                }
            }
        }));
    }
    enough.notified().await;
    match stop {
        Stop::Kill => server.kill(),
        Stop::Terminate => {
            let status = server.terminate();
            assert!(status.success(), "a graceful stop exits 0, got {status}");
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= STOP_AFTER_ACKNOWLEDGED);

    // Every acknowledged event survived.
    let server = Server::start(dir.path());
    let http = client();
    for id in &acknowledged {
        let response = http
            .get(server.url(&format!("/api/audit/events/{id}")))
            .header("Authorization", ADMIN_KEY)
            .send()
            .await;
        assert_eq!(
            response.unwrap().status(),
            200,
            "acknowledged event {id} is missing"
        );
    }
    // Resending everything (acknowledged or not) stores each event exactly once.
    let mut all_ids = HashSet::new();
    for client_number in 0..CLIENTS {
        for batch in 0..BATCHES_PER_CLIENT {
            assert!(
                send(&http, &server.base, client_number, batch)
                    .await
                    .is_some(),
                "resend failed"
            );
            all_ids.extend(batch_ids(client_number, batch));
        }
    }
    assert!(server.terminate().success());
    let output = vigil(&["verify", "--data-dir", dir.path().to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    // Plus the bootstrap key's ApiKeyCreated event and the signed checkpoints (one at each
    // graceful stop, one a minute while events arrive).
    // Read through the log: the bodies of a log this size are stored compressed.
    let log = vigil_core::EventLog::open(dir.path()).unwrap();
    let mut checkpoints = 0;
    let mut after = 0;
    while let Some(last) = {
        let page = log.read_after(after, 10_000).unwrap();
        checkpoints += page
            .iter()
            .filter(|event| {
                event.submitter.as_deref() == Some("vigil")
                    && event.json.contains("ChainCheckpointAuditPayload")
            })
            .count();
        page.last().map(|event| event.seq)
    } {
        after = last;
    }
    log.shutdown();
    assert!(
        checkpoints >= 1,
        "no checkpoint was signed at the graceful stop"
    );
    let expected = format!("OK: {} events", all_ids.len() + 1 + checkpoints);
    assert!(
        stdout.starts_with(&expected),
        "expected `{expected}`, got `{stdout}`"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_ingest_loses_no_acknowledged_event_and_doubles_none() {
    ingest_then_stop(Stop::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_during_ingest_finishes_in_flight_writes_and_exits_cleanly() {
    ingest_then_stop(Stop::Terminate).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_names_the_sequence_number_of_a_flipped_byte() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let mut events: Vec<Value> = (0..20).map(|i| event(&format!("flip-{i}"))).collect();
    events[13]["auditPayload"]["query"] = Value::from("SELECT marker_zq9 FROM payroll");
    let response = client()
        .post(server.url("/api/audit/events"))
        .header("Authorization", ADMIN_KEY)
        .body(Value::Array(events).to_string())
        .send()
        .await
        .unwrap();
    let report: Value = response.json().await.unwrap();
    let seq = report["stored"][13]["seq"].as_u64().unwrap();
    assert!(server.terminate().success());
    let data_dir = dir.path().to_str().unwrap();
    assert!(vigil(&["verify", "--data-dir", data_dir]).status.success());

    let database = dir.path().join(vigil_core::DATABASE_FILE);
    // A graceful stop leaves every event in the database file itself, none in the WAL.
    let wal = dir
        .path()
        .join(format!("{}-wal", vigil_core::DATABASE_FILE));
    assert!(
        std::fs::metadata(&wal).map_or(true, |m| m.len() == 0),
        "the WAL still holds frames"
    );
    let mut bytes = std::fs::read(&database).unwrap();
    let at = bytes
        .windows(10)
        .position(|window| window == b"marker_zq9")
        .expect("the event is in the file");
    bytes[at] = b'M';
    std::fs::write(&database, bytes).unwrap();

    let output = vigil(&["verify", "--data-dir", data_dir]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    assert!(
        stdout.starts_with(&format!("BROKEN at sequence number {seq}: hash mismatch")),
        "{stdout}"
    );
}
