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

/// Runs a test's body on a runtime of its own; the database helpers, whose client blocks, stay
/// outside it.
fn block_on<F: std::future::Future>(body: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
        .block_on(body)
}

/// Every node of a cluster is given the same master key.
const MASTER_KEY: &str = "5d6f8a1c2b3e4f506172839a0b1c2d3e4f5061728394a5b6c7d8e9f0a1b2c3d4";

fn start_node_on(url: &str, data_dir: &std::path::Path) -> Server {
    Server::start_with_env(
        data_dir,
        &[],
        &[
            ("VIGIL_DATABASE_URL", url),
            ("VIGIL_MASTER_KEY", MASTER_KEY),
        ],
    )
}

/// `clients` tasks, each sending `batches` batches of `per_batch` events with ids
/// `load-{client}-{batch}-{i}` to its own node first, until acknowledged; counts finished batches in
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
                        .map(|i| event(&format!("load-{owner}-{batch_index}-{i}")))
                        .collect();
                    send_until_acknowledged(&bases, client_index, &Value::Array(batch)).await;
                    progress.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            })
        })
        .collect()
}

/// How many events with ids `load-…` the log holds, how many distinct, and how many sequence
/// numbers are missing.
fn stored_counts(url: &str) -> (u64, u64, i64) {
    let mut db = ::postgres::Client::connect(url, ::postgres::NoTls).unwrap();
    let row = db
        .query_one(
            "SELECT count(*), count(DISTINCT event_id) FROM events WHERE event_id LIKE 'load-%'",
            &[],
        )
        .unwrap();
    let gaps: i64 = db
        .query_one("SELECT max(seq) - count(*) FROM events", &[])
        .unwrap()
        .get(0);
    (
        row.get::<_, i64>(0) as u64,
        row.get::<_, i64>(1) as u64,
        gaps,
    )
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
    block_on(three_nodes(&server, &url));
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
    assert!(
        answers.windows(2).all(|pair| pair[0] == pair[1]),
        "{answers:?}"
    );
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

/// An export run cut off by its node's death is completed by another node: every event arrives
/// once, the digests verify with the cluster's key, and no object key was ever written with two
/// different contents (moto keeps every version).
#[test]
fn an_export_cut_off_by_a_node_kill_is_completed_by_another_node() {
    let database = common::database::TestDatabase::create();
    block_on(export_failover(&database.url));
}

async fn export_failover(url: &str) {
    let moto = common::emulators::Emulator::moto();
    moto.create_bucket("audit-lake").await;
    let versioning = reqwest::Client::new()
        .put(format!("{}/audit-lake?versioning", moto.url()))
        .body("<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>")
        .send()
        .await
        .unwrap();
    assert!(versioning.status().is_success());
    let moto_url = moto.url();
    let env = [
        ("VIGIL_DATABASE_URL", url),
        ("VIGIL_MASTER_KEY", MASTER_KEY),
        ("AWS_ENDPOINT_URL", moto_url.as_str()),
    ];
    let start =
        |dir: &std::path::Path| Server::start_with_env(dir, &["--export-object-events", "5"], &env);
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    // Node A alone: it takes the configuration's lease.
    let a = start(dirs[0].path());
    const EVENTS: usize = 3000;
    let bases = Mutex::new(vec![a.base.clone()]);
    for chunk in 0..EVENTS / 500 {
        let batch: Vec<Value> = (0..500).map(|i| event(&format!("x-{chunk}-{i}"))).collect();
        send_until_acknowledged(&bases, 0, &Value::Array(batch)).await;
    }
    let created = common::graphql(
        &a,
        r#"mutation { createS3AccessKeyExportConfiguration(data: {interval: EVERY_12_HOURS, bucket: "audit-lake", path: "vigil", region: "us-east-1", accessKeyId: "AKIAEXAMPLE", secretAccessKey: "example/secret"}) { id connectionStatus } }"#,
    )
    .await;
    let config = &created["data"]["createS3AccessKeyExportConfiguration"];
    assert_eq!(config["connectionStatus"], "SUCCESS", "{created}");
    let id = config["id"].as_str().unwrap().to_owned();
    let now = common::graphql(
        &a,
        &format!(r#"mutation {{ exportNow(id: "{id}") {{ id }} }}"#),
    )
    .await;
    assert_eq!(now["data"]["exportNow"]["id"], id.as_str(), "{now}");

    // Kill node A as soon as its run has a plan: mid-run.
    let deadline = Instant::now() + Duration::from_secs(60);
    let pending = |url: &str, id: &str| {
        let mut db = ::postgres::Client::connect(url, ::postgres::NoTls).unwrap();
        let row = db
            .query_one(
                "SELECT pending_plan, checkpoint_seq FROM export_state WHERE config_id = $1",
                &[&id],
            )
            .unwrap();
        (row.get::<_, Option<String>>(0), row.get::<_, i64>(1))
    };
    loop {
        let (plan, _) = tokio::task::block_in_place(|| pending(url, &id));
        if plan.is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "node A never planned a run");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    a.kill();
    let (plan, checkpoint) = tokio::task::block_in_place(|| pending(url, &id));
    assert!(
        plan.is_some() && checkpoint == 0,
        "the run finished before node A was killed; the test needs a longer run"
    );

    // Nodes B and C start; one of them takes the lease over once A's expires, resumes the plan
    // and completes it.
    let b = start(dirs[1].path());
    let c = start(dirs[2].path());
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (plan, checkpoint) = tokio::task::block_in_place(|| pending(url, &id));
        if plan.is_none() && checkpoint > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "no other node completed the run");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Every object key has one content across all its versions.
    let versions = reqwest::Client::new()
        .get(format!("{}/audit-lake?versions", moto.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut etags: std::collections::HashMap<String, std::collections::HashSet<String>> =
        Default::default();
    for version in versions.split("<Version>").skip(1) {
        let field = |name: &str| {
            let start = version.find(&format!("<{name}>")).unwrap() + name.len() + 2;
            let end = version.find(&format!("</{name}>")).unwrap();
            version[start..end].to_owned()
        };
        etags.entry(field("Key")).or_default().insert(field("ETag"));
    }
    assert!(etags.len() > 100, "{} objects", etags.len());
    let rewritten: Vec<&String> = etags
        .iter()
        .filter(|(_, tags)| tags.len() > 1)
        .map(|(key, _)| key)
        .collect();
    assert!(
        rewritten.is_empty(),
        "written twice with different content: {rewritten:?}"
    );

    // The download verifies with the cluster's key, every event exactly once.
    let download = tempfile::tempdir().unwrap();
    let store = common::emulators::moto_bucket(&moto, "audit-lake");
    common::emulators::download(&store, "vigil", download.path()).await;
    let verified = common::vigil(&[
        "verify-export",
        "--dir",
        download.path().to_str().unwrap(),
        "--data-dir",
        dirs[1].path().to_str().unwrap(),
        "--database-url",
        url,
    ]);
    assert!(verified.status.success(), "{verified:?}");
    let mut seen = std::collections::HashMap::<String, usize>::new();
    let mut stack = vec![download.path().to_owned()];
    while let Some(next) = stack.pop() {
        for entry in std::fs::read_dir(next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with(".json.gz") {
                let mut text = String::new();
                std::io::Read::read_to_string(
                    &mut flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap()),
                    &mut text,
                )
                .unwrap();
                for line in text.lines() {
                    let value: Value = serde_json::from_str(line).unwrap();
                    *seen
                        .entry(value["id"].as_str().unwrap().to_owned())
                        .or_default() += 1;
                }
            }
        }
    }
    for chunk in 0..EVENTS / 500 {
        for i in 0..500 {
            assert_eq!(
                seen.get(&format!("x-{chunk}-{i}")),
                Some(&1),
                "x-{chunk}-{i}"
            );
        }
    }
    b.terminate();
    c.terminate();
}

/// Loads asked through three nodes at once read Snowflake once: the node holding the
/// integration's lease runs, the others say that another node does; every query is stored once.
#[test]
fn a_snowflake_pull_runs_on_one_node_only() {
    let database = common::database::TestDatabase::create();
    block_on(pull_on_one_node(&database.url));
}

async fn pull_on_one_node(url: &str) {
    use common::fakes::{self, CASE_ONLY, TEST_KEY_FINGERPRINT, TEST_KEY_PEM, snowflake_row};
    let fake = fakes::snowflake(TEST_KEY_PEM, TEST_KEY_FINGERPRINT, "ACME.VIGIL_AUDIT").await;
    let now = chrono::Utc::now();
    *fake.state.rows.lock().unwrap() = (1..=3)
        .map(|n| {
            snowflake_row(
                &format!("01a9c8f5-0000-0000-0000-00000000000{n}"),
                "TSMITH",
                now - chrono::Duration::minutes(90 - n),
                CASE_ONLY,
            )
        })
        .collect();
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let nodes: Vec<Server> = dirs
        .iter()
        .map(|dir| start_node_on(url, dir.path()))
        .collect();
    let send = |method: reqwest::Method, node: usize, path: &str, body: Value| {
        let request = client()
            .request(method, nodes[node].url(path))
            .header("Authorization", ADMIN_KEY)
            .json(&body);
        async move {
            let answer = request.send().await.unwrap();
            let status = answer.status().as_u16();
            (status, answer.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    // Taylor, the Snowflake table DB.PUBLIC.CASE, and TSMITH mapped to Taylor, through node 0.
    let registry = serde_json::json!([
        {
            "id": "user-created-taylor", "action": "CREATE", "targetType": "USER",
            "actor": { "type": "SYSTEM_ACCOUNT", "id": "immuta_system_account", "name": "Immuta System Account" },
            "targets": [{ "type": "USER", "id": "taylor@example.com", "name": "Taylor" }],
            "auditPayload": { "type": "UserCreatedAuditPayload", "version": 1, "name": "Taylor", "email": "taylor@example.com" },
            "eventTimestamp": "2024-02-01T13:16:26.541Z"
        },
        {
            "id": "datasource-created-3", "action": "CREATE", "targetType": "DATASOURCE",
            "actor": { "type": "USER_ACTOR", "id": "taylor@example.com", "name": "Taylor" },
            "targets": [{ "type": "DATASOURCE", "id": "3", "name": "Case", "technology": "SNOWFLAKE" }],
            "auditPayload": { "type": "DatasourceCreatedAuditPayload", "version": 1, "technology": "SNOWFLAKE", "connectionId": "4", "database": "DB", "schema": "PUBLIC", "table": "CASE" },
            "eventTimestamp": "2024-02-22T13:59:04.681Z"
        }
    ]);
    let (status, body) = send(reqwest::Method::POST, 0, "/api/audit/events", registry).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = send(
        reqwest::Method::PUT,
        0,
        "/api/audit/registry/users/taylor@example.com/external-ids/SNOWFLAKE",
        serde_json::json!({ "username": "TSMITH" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let integration = serde_json::json!({
        "type": "SNOWFLAKE", "name": "prod",
        "accountUrl": fake.base, "account": "acme", "user": "vigil_audit",
        "warehouse": "AUDIT_WH", "role": "AUDITOR",
        "authentication": { "type": "KEY_PAIR", "privateKey": TEST_KEY_PEM }
    });
    let (status, created) = send(
        reqwest::Method::POST,
        0,
        "/api/audit/integrations",
        integration,
    )
    .await;
    assert_eq!(status, 201, "{created}");

    // A load asked through each node at the same moment.
    let ((status_a, job_a), (status_b, job_b)) = tokio::join!(
        send(
            reqwest::Method::POST,
            0,
            "/api/audit/load",
            serde_json::json!({})
        ),
        send(
            reqwest::Method::POST,
            1,
            "/api/audit/load",
            serde_json::json!({})
        )
    );
    assert_eq!((status_a, status_b), (202, 202), "{job_a} {job_b}");
    let mut finished = Vec::new();
    for (node, job) in [(0, job_a), (1, job_b)] {
        let path = format!("/api/audit/load/{}", job["id"].as_str().unwrap());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (_, job) = send(reqwest::Method::GET, node, &path, Value::Null).await;
            if job["state"] != "RUNNING" {
                finished.push(job);
                break;
            }
            assert!(Instant::now() < deadline, "the load did not end: {job}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let states: Vec<&str> = finished
        .iter()
        .map(|job| job["state"].as_str().unwrap())
        .collect();
    assert!(
        states.contains(&"SUCCEEDED") && states.contains(&"FAILED"),
        "{finished:?}"
    );
    let refused = finished
        .iter()
        .find(|job| job["state"] == "FAILED")
        .unwrap();
    assert!(
        refused
            .to_string()
            .contains("another vigil node runs integration"),
        "{refused}"
    );
    assert_eq!(
        fake.state.sinces.lock().unwrap().len(),
        1,
        "Snowflake was read more than once"
    );
    let bases: Vec<String> = nodes.iter().map(|node| node.base.clone()).collect();
    wait_until_searchable(&bases, 3).await;
    for node in nodes {
        node.terminate();
    }
}
