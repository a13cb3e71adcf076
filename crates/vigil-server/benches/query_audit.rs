//! Query-audit throughput against the real `vigil` binary: Trino `QueryCompletedEvent`s posted
//! one per request (as Trino's HTTP event listener does) by concurrent clients, then one pull run
//! of Snowflake and one of Unity Catalog over in-process fakes of their APIs.
//! Run with `cargo bench -p vigil-server --bench query_audit`. Sizes: VIGIL_BENCH_TRINO (posted
//! events, default 20000), VIGIL_BENCH_CLIENTS (concurrent posters, default 16),
//! VIGIL_BENCH_PULL_ROWS (rows per pull run, default 100000).

mod support;

#[allow(dead_code)]
#[path = "../tests/common/fakes.rs"]
mod fakes;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{KEY, cpu_seconds, env_number, percentile_ms, start_server, stop_server};

const USERS: usize = 500;
const TABLES: usize = 2_000;

fn registry_events() -> Value {
    let mut events = Vec::new();
    for user in 0..USERS {
        events.push(json!({
            "id": format!("bench-user-{user}"), "action": "CREATE", "actionStatus": "SUCCESS",
            "actor": { "type": "SYSTEM_ACCOUNT", "id": "immuta_system_account", "name": "Immuta System Account" },
            "targetType": "USER",
            "targets": [{ "type": "USER", "id": format!("user{user}@example.com"), "name": format!("User {user}"), "identityProvider": "bim", "profileId": user.to_string() }],
            "auditPayload": { "type": "UserCreatedAuditPayload", "version": 1, "name": format!("User {user}"), "email": format!("user{user}@example.com") },
            "eventTimestamp": "2024-02-01T13:16:26.541Z"
        }));
    }
    for table in 0..TABLES {
        for (technology, database) in [
            ("STARBURST_TRINO", "tpch"),
            ("SNOWFLAKE", "DB"),
            ("DATABRICKS", "main"),
        ] {
            events.push(json!({
                "id": format!("bench-source-{technology}-{table}"), "action": "CREATE", "actionStatus": "SUCCESS",
                "actor": { "type": "USER_ACTOR", "id": "admin@example.com", "name": "Admin" },
                "targetType": "DATASOURCE",
                "targets": [{ "type": "DATASOURCE", "id": format!("{technology}-{table}"), "name": format!("Table {table}"), "technology": technology }],
                "auditPayload": { "type": "DatasourceCreatedAuditPayload", "version": 1, "technology": technology, "database": database, "schema": "s", "table": format!("t{table}") },
                "eventTimestamp": "2024-02-22T13:59:04.681Z"
            }));
        }
    }
    Value::Array(events)
}

fn trino_event(n: usize) -> String {
    let table = |k: usize| format!("t{}", (n * 7 + k) % TABLES);
    json!({
        "metadata": {
            "queryId": format!("20261122_000000_{n:08}_bench"),
            "query": format!("select o.clerk, c.name from tpch.s.{} o join tpch.s.{} c on o.custkey = c.custkey where o.id = {n}", table(0), table(1)),
            "queryState": "FINISHED",
            "tables": [
                { "catalog": "tpch", "schema": "s", "table": table(0), "columns": [{ "column": "clerk" }, { "column": "custkey" }], "directlyReferenced": true },
                { "catalog": "tpch", "schema": "s", "table": table(1), "columns": [{ "column": "name" }, { "column": "custkey" }], "directlyReferenced": true }
            ]
        },
        "statistics": { "outputRows": 10, "wallTime": 0.4, "cpuTime": 0.1 },
        "context": { "user": format!("user{}@example.com", n % (USERS + 50)), "remoteClientAddress": "10.0.0.7", "userAgent": "StatementClientV1/444", "serverVersion": "444" },
        "ioMetadata": { "inputs": [
            { "catalogName": "tpch", "schema": "s", "table": table(0), "columns": [{ "name": "clerk", "type": "varchar" }, { "name": "custkey", "type": "bigint" }] },
            { "catalogName": "tpch", "schema": "s", "table": table(1), "columns": [{ "name": "name", "type": "varchar" }, { "name": "custkey", "type": "bigint" }] }
        ] },
        "failureInfo": null,
        "createTime": "2026-11-22T10:00:00.000Z",
        "endTime": "2026-11-22T10:00:00.417Z"
    })
    .to_string()
}

/// One authenticated API call; the answer's JSON.
async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<&Value>,
) -> Value {
    let mut request = http.request(method, url).header("Authorization", KEY);
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.unwrap().json().await.unwrap()
}

async fn wait_for_load(http: &reqwest::Client, base: &str, job: Value) -> Value {
    let url = format!("{base}/api/audit/load/{}", job["id"].as_str().unwrap());
    loop {
        let job = call(http, reqwest::Method::GET, &url, None).await;
        if job["state"] != "RUNNING" {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn pull_run(
    http: &reqwest::Client,
    base: &str,
    integration: Value,
    rows: usize,
    label: &str,
) {
    let integrations = format!("{base}/api/audit/integrations");
    let created = call(
        http,
        reqwest::Method::POST,
        &integrations,
        Some(&integration),
    )
    .await;
    let id = created["id"]
        .as_str()
        .expect("integration created")
        .to_owned();
    let started = Instant::now();
    let load = format!("{base}/api/audit/load");
    let job = call(http, reqwest::Method::POST, &load, None).await;
    let job = wait_for_load(http, base, job).await;
    let seconds = started.elapsed().as_secs_f64();
    let run = job["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["id"] == id.as_str())
        .unwrap()["run"]
        .clone();
    assert_eq!(job["state"], "SUCCEEDED", "{job}");
    assert_eq!(run["rowsRead"], rows as u64, "{job}");
    println!(
        "{label} pull: {rows} rows in {seconds:.2} s = {:.0} rows/s translated and stored ({} events stored, {} skipped)",
        rows as f64 / seconds,
        run["eventsStored"],
        run["skipped"]
    );
    call(
        http,
        reqwest::Method::DELETE,
        &format!("{integrations}/{id}"),
        None,
    )
    .await;
}

fn main() {
    if !support::invoked_as_benchmark("query_audit") {
        return;
    }
    let trino_events = env_number("VIGIL_BENCH_TRINO", 20_000);
    let clients = env_number("VIGIL_BENCH_CLIENTS", 16);
    let pull_rows = env_number("VIGIL_BENCH_PULL_ROWS", 100_000);
    let dir = tempfile::tempdir().unwrap();
    let (server, base) = start_server(dir.path());
    let server_pid = server.id().to_string();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let http = reqwest::Client::new();
        let response = http
            .post(format!("{base}/api/audit/events"))
            .header("Authorization", KEY)
            .json(&registry_events())
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());

        // Trino: one event per request, as the HTTP event listener sends them.
        let bodies: Arc<Vec<String>> = Arc::new((0..trino_events).map(trino_event).collect());
        let next = Arc::new(AtomicUsize::new(0));
        let (server_cpu, started) = (cpu_seconds(&server_pid), Instant::now());
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let (http, bodies, next, url) = (
                http.clone(),
                bodies.clone(),
                next.clone(),
                format!("{base}/api/audit/ingest/trino"),
            );
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(index) else {
                        return latencies;
                    };
                    let sent = Instant::now();
                    let response = http
                        .post(&url)
                        .header("Authorization", KEY)
                        .header("Content-Type", "application/json")
                        .body(body.clone())
                        .send()
                        .await
                        .unwrap();
                    assert!(response.status().is_success(), "{}", response.text().await.unwrap());
                    latencies.push(sent.elapsed());
                }
            }));
        }
        let mut latencies = Vec::new();
        for task in tasks {
            latencies.extend(task.await.unwrap());
        }
        let seconds = started.elapsed().as_secs_f64();
        latencies.sort();
        println!(
            "trino push: {trino_events} events, one per request, {clients} clients: {:.0} events/s, p50 {:.1} ms, p99 {:.1} ms, server CPU {:.1} s",
            trino_events as f64 / seconds,
            percentile_ms(&latencies, 0.50),
            percentile_ms(&latencies, 0.99),
            cpu_seconds(&server_pid) - server_cpu
        );

        // Snowflake: QUERY_HISTORY ⋈ ACCESS_HISTORY rows, partitions of 10,000.
        let fake = fakes::snowflake(
            include_str!("../tests/fixtures/snowflake-test-key.pem"),
            "SHA256:/+3RIpGUUD2aLtgWgN2NOn/alxtO1JnnXFpFYcfQTkk=",
            "ACME.VIGIL_AUDIT",
        )
        .await;
        fake.state.page_rows.store(10_000, Ordering::SeqCst);
        let end = chrono::Utc::now().timestamp() - 3600;
        *fake.state.rows.lock().unwrap() = (0..pull_rows)
            .map(|n| {
                let objects = format!(
                    r#"[{{"objectDomain":"Table","objectId":{n},"objectName":"DB.S.T{}","columns":[{{"columnId":1,"columnName":"ID"}},{{"columnId":2,"columnName":"EMAIL"}}]}}]"#,
                    n % TABLES
                );
                json!({
                    "QUERY_ID": format!("01b0-bench-{n:08}"), "QUERY_TEXT": format!("SELECT ID, EMAIL FROM DB.S.T{} WHERE ID = {n}", n % TABLES),
                    "START_TIME": format!("{}.000000000", end - 1), "END_TIME": format!("{end}.{:09}", n),
                    "TOTAL_ELAPSED_TIME": "812", "USER_NAME": format!("USER{}@EXAMPLE.COM", n % USERS),
                    "ROLE_NAME": "ANALYST", "WAREHOUSE_ID": "3", "WAREHOUSE_NAME": "WH", "CLUSTER_NUMBER": "1",
                    "ROWS_PRODUCED": "42", "EXECUTION_STATUS": "SUCCESS", "SESSION_ID": "1824530884895",
                    "DIRECT_OBJECTS_ACCESSED": objects, "BASE_OBJECTS_ACCESSED": objects,
                })
            })
            .collect();
        pull_run(
            &http,
            &base,
            json!({
                "type": "SNOWFLAKE", "accountUrl": fake.base, "account": "acme", "user": "vigil_audit",
                "warehouse": "AUDIT_WH", "authentication": { "type": "KEY_PAIR", "privateKey": include_str!("../tests/fixtures/snowflake-test-key.pem") }
            }),
            pull_rows,
            "snowflake",
        )
        .await;

        // Unity Catalog: query.history ⋈ column_lineage rows, chunks of 10,000.
        let fake = fakes::databricks("dapi-bench").await;
        fake.state.page_rows.store(10_000, Ordering::SeqCst);
        let end = chrono::Utc::now() - chrono::Duration::hours(1);
        *fake.state.rows.lock().unwrap() = (0..pull_rows)
            .map(|n| {
                json!({
                    "statement_id": format!("01ef-bench-{n:08}"), "executed_by": format!("user{}@example.com", n % (USERS + 50)),
                    "executed_by_user_id": "52e863bc", "statement_text": format!("SELECT id, email FROM main.s.t{} WHERE id = {n}", n % TABLES),
                    "execution_status": "FINISHED", "compute_type": "WAREHOUSE", "warehouse_id": "559483c6eac0359f",
                    "workspace_id": "3841033049363283", "start_time": end.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    "end_time": end.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    "total_duration_ms": "812", "produced_rows": "42", "session_id": "01ee14d9",
                    "table_catalog": "main", "table_schema": "s", "table_name": format!("t{}", n % TABLES), "access_type": "READ",
                    "columns": r#"["id","email"]"#,
                })
            })
            .collect();
        pull_run(
            &http,
            &base,
            json!({ "type": "DATABRICKS_UNITY_CATALOG", "host": fake.base, "warehouseId": "559483c6eac0359f", "token": "dapi-bench" }),
            pull_rows,
            "unity catalog",
        )
        .await;
    });
    stop_server(server);
}
