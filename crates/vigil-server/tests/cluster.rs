//! Several `vigil serve` nodes on one PostgreSQL database, end to end: one log and one chain
//! whatever node takes an event, every acknowledged event stored exactly once through a node's
//! SIGKILL and restart and through a restart of PostgreSQL itself (a server of the test's own),
//! every node's search in agreement, and keys in force on every node.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::postgres::ThrowawayServer;
use common::{ADMIN_KEY, Server, client, event};
use serde_json::Value;

/// Every node of a cluster is given the same master key.
const MASTER_KEY: &str = "5d6f8a1c2b3e4f506172839a0b1c2d3e4f5061728394a5b6c7d8e9f0a1b2c3d4";

fn start_node_on(url: &str, data_dir: &std::path::Path) -> Server {
    Server::start_with_env(
        data_dir,
        &[],
        &[("VIGIL_DATABASE_URL", url), ("VIGIL_MASTER_KEY", MASTER_KEY)],
    )
}

/// `clients` tasks, each sending `batches` batches of `per_batch` events with ids
/// `c{client}-{batch}-{i}` to its own node first, until acknowledged; counts finished batches in
/// `progress`. With `overlap`, every third batch is client 0's on every client: the same events
/// arrive through several nodes at once.
fn spawn_clients(
    bases: &Arc<Mutex<Vec<String>>>,
    clients: usize,
    (batches, per_batch): (usize, usize),
    overlap: bool,
    progress: &Arc<std::sync::atomic::AtomicUsize>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..clients)
        .map(|client_index| {
            let (bases, progress) = (bases.clone(), progress.clone());
            tokio::spawn(async move {
                for batch_index in 0..batches {
                    let owner = if overlap && batch_index % 3 == 0 {
                        0
                    } else {
                        client_index
                    };
                    let batch: Vec<Value> = (0..per_batch)
                        .map(|i| event(&format!("c{owner}-{batch_index}-{i}")))
                        .collect();
                    send_until_acknowledged(&bases, client_index, &Value::Array(batch)).await;
                    progress.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            })
        })
        .collect()
}

/// How many events with ids `c…-…-…` the log holds, how many distinct, and how many sequence
/// numbers are missing.
fn stored_counts(url: &str) -> (u64, u64, i64) {
    let mut db = ::postgres::Client::connect(url, ::postgres::NoTls).unwrap();
    let row = db
        .query_one(
            "SELECT count(*), count(DISTINCT event_id) FROM events WHERE event_id LIKE 'c%-%-%'",
            &[],
        )
        .unwrap();
    let gaps: i64 = db
        .query_one("SELECT max(seq) - count(*) FROM events", &[])
        .unwrap()
        .get(0);
    (row.get::<_, i64>(0) as u64, row.get::<_, i64>(1) as u64, gaps)
}

/// Waits until every node's search finds `expected` events of action QUERY; returns each node's
/// facets.
async fn wait_until_searchable(bases: &[String], expected: u64) -> Vec<Value> {
    let query = "action=QUERY&facets=actorName,technology&size=1";
    let mut answers = Vec::new();
    for base in bases {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let body = search(base, query).await;
            if body["total"].as_u64() == Some(expected) {
                answers.push(body["facets"].clone());
                break;
            }
            assert!(
                Instant::now() < deadline,
                "node {base} finds {} of {expected} events",
                body["total"]
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    answers
}

/// Sends one batch to the node `first` (or, when it does not answer, the next ones) until some
/// node acknowledges it with 200; returns how many tries it took.
async fn send_until_acknowledged(bases: &Mutex<Vec<String>>, first: usize, batch: &Value) -> u32 {
    let client = client();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut attempt = 0u32;
    loop {
        let base = {
            let bases = bases.lock().unwrap();
            bases[(first + attempt as usize) % bases.len()].clone()
        };
        attempt += 1;
        let answer = client
            .post(format!("{base}/api/audit/events"))
            .header("Authorization", ADMIN_KEY)
            .json(batch)
            .send()
            .await;
        if let Ok(answer) = answer
            && answer.status() == 200
        {
            let body: Value = answer.json().await.unwrap();
            assert!(body["rejected"].as_array().unwrap().is_empty(), "{body}");
            return attempt;
        }
        assert!(
            Instant::now() < deadline,
            "no node acknowledged a batch within two minutes"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn search(server_base: &str, query: &str) -> Value {
    let answer = client()
        .get(format!("{server_base}/api/audit/events?{query}"))
        .header("Authorization", ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    answer.json().await.unwrap()
}

/// Three nodes under concurrent ingest; node 1 is SIGKILLed and restarted, then PostgreSQL is
/// stopped (appends answer 503 with the reason, promptly; `/readyz` says so) and started again
/// (the nodes recover by themselves). The database runs outside the async runtime (its client
/// blocks); the nodes and clients inside it.
#[test]
fn three_nodes_keep_every_acknowledged_event_once_through_a_node_kill_and_a_database_restart() {
    let server = ThrowawayServer::start();
    let url = server.create_database("vigil");
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
        .block_on(three_nodes(&server, &url));
}

async fn three_nodes(server: &ThrowawayServer, url: &str) {
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut nodes: Vec<Option<Server>> = dirs
        .iter()
        .map(|dir| Some(start_node_on(url, dir.path())))
        .collect();
    let bases = Arc::new(Mutex::new(
        nodes
            .iter()
            .map(|node| node.as_ref().unwrap().base.clone())
            .collect::<Vec<_>>(),
    ));
    // Three clients, one per node; a third of the batches arrive through two nodes at once.
    const BATCHES: usize = 30;
    const PER_BATCH: usize = 40;
    let progress = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let clients = spawn_clients(&bases, 3, (BATCHES, PER_BATCH), true, &progress);
    let reached = |count: usize| {
        let progress = progress.clone();
        async move {
            while progress.load(std::sync::atomic::Ordering::SeqCst) < count {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };

    // A node dies mid-load and comes back on the same data directory.
    reached(BATCHES).await;
    nodes[1].take().unwrap().kill();
    let restarted = start_node_on(url, dirs[1].path());
    bases.lock().unwrap()[1] = restarted.base.clone();
    nodes[1] = Some(restarted);

    // The database goes down mid-load: refused with 503 and the reason, within the connect
    // timeout, and the nodes are not ready.
    reached(BATCHES * 3 / 2).await;
    tokio::task::block_in_place(|| server.stop());
    let started = Instant::now();
    let answer = client()
        .post(nodes[0].as_ref().unwrap().url("/api/audit/events"))
        .header("Authorization", ADMIN_KEY)
        .json(&event("probe-while-down"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 503);
    let body: Value = answer.json().await.unwrap();
    assert!(
        body.to_string().contains("database is unreachable"),
        "{body}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the refusal took {:?}",
        started.elapsed()
    );
    let ready = client()
        .get(nodes[2].as_ref().unwrap().url("/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    tokio::task::block_in_place(|| server.start_again());
    for client in clients {
        client.await.unwrap();
    }

    // Distinct ids sent: client 0's batches, and two thirds of each other client's.
    let expected: u64 = (0..3)
        .map(|client_index| {
            (0..BATCHES)
                .filter(|batch| batch % 3 != 0 || client_index == 0)
                .count() as u64
        })
        .sum::<u64>()
        * PER_BATCH as u64;
    // Exactly once in the shared log, without a gap; every node's own index finds them all,
    // with the same facet counts; every node is ready again.
    let counts = tokio::task::block_in_place(|| stored_counts(url));
    assert_eq!(counts, (expected, expected, 0));
    let bases_now = bases.lock().unwrap().clone();
    let answers = wait_until_searchable(&bases_now, expected).await;
    assert!(answers.windows(2).all(|pair| pair[0] == pair[1]), "{answers:?}");
    for base in &bases_now {
        let ready = client().get(format!("{base}/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 200, "{base}");
    }

    // A key created in the database (the CLI, beside the running nodes) works at once on every
    // node, and is refused everywhere once deleted.
    let created = common::vigil(&[
        "keys",
        "create",
        "--name",
        "reader",
        "--permission",
        "AUDIT",
        "--data-dir",
        dirs[0].path().to_str().unwrap(),
        "--database-url",
        url,
    ]);
    assert!(created.status.success(), "{created:?}");
    let stdout = String::from_utf8_lossy(&created.stdout);
    let secret = stdout.lines().last().unwrap().trim().to_owned();
    let status_with = |base: String, key: String| async move {
        client()
            .get(format!("{base}/api/audit/events?size=1"))
            .header("Authorization", key)
            .send()
            .await
            .unwrap()
            .status()
    };
    for node in nodes.iter().flatten() {
        assert_eq!(status_with(node.base.clone(), secret.clone()).await, 200);
    }
    let deleted = common::vigil(&[
        "keys",
        "delete",
        "reader",
        "--data-dir",
        dirs[0].path().to_str().unwrap(),
        "--database-url",
        url,
    ]);
    assert!(deleted.status.success(), "{deleted:?}");
    for node in nodes.iter().flatten() {
        assert_eq!(status_with(node.base.clone(), secret.clone()).await, 401);
    }

    // A saved search made through one node is listed by another.
    let saved = client()
        .post(nodes[0].as_ref().unwrap().url("/api/audit/saved-searches"))
        .header("Authorization", ADMIN_KEY)
        .json(&serde_json::json!({ "name": "Queries", "query": "action=QUERY" }))
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 201);
    let listed: Value = client()
        .get(nodes[2].as_ref().unwrap().url("/api/audit/saved-searches"))
        .header("Authorization", ADMIN_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(listed.to_string().contains("\"Queries\""), "{listed}");

    // One chain across every node, verified from the database.
    for node in nodes.iter_mut() {
        node.take().unwrap().terminate();
    }
    let verified = common::vigil(&[
        "verify",
        "--data-dir",
        dirs[0].path().to_str().unwrap(),
        "--database-url",
        url,
    ]);
    let stdout = String::from_utf8_lossy(&verified.stdout);
    assert!(verified.status.success(), "{stdout}");
    assert!(stdout.starts_with("OK: "), "{stdout}");
}
