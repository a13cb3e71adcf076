//! The Parquet lake export end to end: a configuration created over GraphQL with
//! `format: PARQUET` exports to moto's S3; the objects, read back with pyarrow and with DuckDB
//! (installed by scripts/test.sh), hold every event exactly once, their typed columns equal to
//! the event's fields and their JSON column byte-identical to the stored event; and
//! `vigil verify-export` passes on them.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::emulators::{Emulator, download, moto_bucket, program};
use common::{ADMIN_KEY, Server, client, graphql};
use serde_json::{Value, json};

/// Reads `events/` under the directory given with pyarrow and with DuckDB; prints one JSON line
/// per row and engine. Timestamps as microseconds since the epoch, so nothing is lost.
const READER: &str = r#"
import json, sys
import pyarrow.dataset as ds
import duckdb

root = sys.argv[1] + "/events"
columns = ["seq", "id", "event_timestamp", "received_timestamp", "action", "action_status",
           "actor_id", "actor_name", "actor_type", "target_type", "technology", "data_source_ids",
           "data_source_names", "query_text", "tables", "columns", "tags", "submitted_by",
           "event_json", "event_date"]

def micros(value):
    if value is None:
        return None
    return int(value.timestamp() * 1_000_000) if hasattr(value, "timestamp") else value

table = ds.dataset(root, format="parquet", partitioning="hive").to_table()
for row in table.to_pylist():
    row = {name: row[name] for name in columns}
    row["engine"] = "pyarrow"
    row["event_date"] = str(row["event_date"])
    for name in ("event_timestamp", "received_timestamp"):
        row[name] = micros(row[name])
    print(json.dumps(row))

connection = duckdb.connect()
query = f"""SELECT seq, id, epoch_us(event_timestamp), epoch_us(received_timestamp), action,
    action_status, actor_id, actor_name, actor_type, target_type, technology, data_source_ids,
    data_source_names, query_text, tables, columns, tags, submitted_by, event_json,
    CAST(event_date AS VARCHAR)
    FROM read_parquet('{root}/**/*.parquet', hive_partitioning = true)"""
for values in connection.execute(query).fetchall():
    row = dict(zip(columns, values))
    row["engine"] = "duckdb"
    print(json.dumps(row))
"#;

/// The Python that has pyarrow and DuckDB.
fn python() -> std::path::PathBuf {
    let python = program("VIGIL_TEST_PYTHON", "python3");
    let check = std::process::Command::new(&python)
        .args(["-c", "import pyarrow, duckdb"])
        .output();
    match check {
        Ok(output) if output.status.success() => python,
        _ => panic!(
            "{} cannot import pyarrow and duckdb; `bash scripts/test.sh` installs them (VIGIL_TEST_PYTHON names its Python)",
            python.display()
        ),
    }
}

/// Events of every kind the seed shows, plus query events over three days.
fn events() -> Vec<Value> {
    let mut events: Vec<Value> =
        serde_json::from_str(vigil_model::fixtures::SEED_EXAMPLE_EVENTS).unwrap();
    // The seed reuses one id for two different events; the second is refused, as always.
    let mut seen = std::collections::HashSet::new();
    events.retain(|event| seen.insert(event["id"].as_str().unwrap().to_owned()));
    for n in 0..90 {
        let mut event = common::event(&format!("lake-{n}"));
        event["eventTimestamp"] = json!(format!("2026-11-{:02}T23:59:59.999Z", 20 + n % 3));
        event["auditPayload"]["objectsAccessed"] = json!([{
            "name": format!("SALES.PUBLIC.ORDERS_{n}"),
            "columns": [{ "name": "AMOUNT", "tags": [{ "name": "PII" }] }],
        }]);
        events.push(event);
    }
    events
}

fn micros(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap()
        .timestamp_micros()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|values| {
            values
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_parquet_export_reads_back_in_pyarrow_and_duckdb_with_every_event_once() {
    let python = python();
    let moto = Emulator::moto();
    moto.create_bucket("lake").await;
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(
        data.path(),
        &["--export-object-events", "40"],
        &[("AWS_ENDPOINT_URL", &moto.url())],
    );
    let sent = events();
    let response = client()
        .post(server.url("/api/audit/events"))
        .header("Authorization", ADMIN_KEY)
        .json(&sent)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());

    let created = graphql(
        &server,
        r#"mutation { createS3AccessKeyExportConfiguration(data: {
            interval: EVERY_24_HOURS, format: PARQUET, bucket: "lake", path: "vigil",
            region: "us-east-1", accessKeyId: "lake-key", secretAccessKey: "lake-secret" })
            { id format connectionStatus } }"#,
    )
    .await;
    let config = &created["data"]["createS3AccessKeyExportConfiguration"];
    assert_eq!(config["connectionStatus"], "SUCCESS", "{created}");
    assert_eq!(config["format"], "PARQUET");
    let id = config["id"].as_str().unwrap().to_owned();
    // Done when the checkpoint reaches the head as it was before the run (read before asking
    // for it: what the run itself records comes after).
    let head = common::head_seq(&server).await;
    graphql(
        &server,
        &format!(r#"mutation {{ exportNow(id: "{id}") {{ id }} }}"#),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let answer = graphql(
            &server,
            &format!(
                r#"{{ getExportConfiguration(id: "{id}") {{ exportStatus {{ lastExportedSequence lastError }} }} }}"#
            ),
        )
        .await;
        let status = &answer["data"]["getExportConfiguration"]["exportStatus"];
        if status["lastExportedSequence"].as_u64() >= Some(head) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the export did not finish: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let dir = tempfile::tempdir().unwrap();
    download(&moto_bucket(&moto, "lake"), "vigil", dir.path()).await;
    let partitions: Vec<String> = std::fs::read_dir(dir.path().join("events"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        partitions.iter().any(|p| p == "event_date=2026-11-21"),
        "{partitions:?}"
    );
    let verified = common::vigil(&[
        "verify-export",
        "--dir",
        dir.path().to_str().unwrap(),
        "--data-dir",
        data.path().to_str().unwrap(),
    ]);
    assert!(
        verified.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verified.stdout),
        String::from_utf8_lossy(&verified.stderr)
    );

    let output = std::process::Command::new(&python)
        .args(["-c", READER, dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    for engine in ["pyarrow", "duckdb"] {
        let mut by_id: HashMap<String, Vec<&Value>> = HashMap::new();
        for row in rows.iter().filter(|row| row["engine"] == engine) {
            by_id
                .entry(row["id"].as_str().unwrap().to_owned())
                .or_default()
                .push(row);
        }
        // Every event sent, and vigil's own events up to the head, each exactly once.
        assert_eq!(
            by_id.values().map(Vec::len).sum::<usize>() as u64,
            head,
            "{engine}"
        );
        for event in &sent {
            let id = event["id"].as_str().unwrap();
            let found = by_id.get(id).map_or(0, Vec::len);
            assert_eq!(found, 1, "{engine}: event {id} found {found} times");
            let row = by_id[id][0];
            let stored = common::get_text(&server, &format!("/api/audit/events/{id}")).await;
            assert_eq!(
                row["event_json"].as_str().unwrap(),
                stored,
                "{engine}: {id}"
            );
            let stored: Value = serde_json::from_str(&stored).unwrap();
            let at = stored["eventTimestamp"].as_str().unwrap();
            assert_eq!(row["event_timestamp"], json!(micros(at)), "{engine}: {id}");
            assert_eq!(
                row["received_timestamp"],
                json!(micros(stored["receivedTimestamp"].as_str().unwrap())),
                "{engine}: {id}"
            );
            let date = chrono::DateTime::parse_from_rfc3339(at)
                .unwrap()
                .with_timezone(&chrono::Utc)
                .format("%Y-%m-%d")
                .to_string();
            assert_eq!(row["event_date"], json!(date), "{engine}: {id}");
            for (column, field) in [
                ("action", &stored["action"]),
                ("action_status", &stored["actionStatus"]),
                ("actor_id", &stored["actor"]["id"]),
                ("actor_name", &stored["actor"]["name"]),
                ("actor_type", &stored["actor"]["type"]),
                ("target_type", &stored["targetType"]),
            ] {
                assert_eq!(&row[column], field, "{engine}: {id}: {column}");
            }
            if let Some(query) = stored["auditPayload"]["query"].as_str() {
                assert_eq!(row["query_text"], json!(query), "{engine}: {id}");
            }
            let data_sources = strings(&row["data_source_ids"]);
            for target in stored["targets"].as_array().into_iter().flatten() {
                if target["type"] == "DATASOURCE" {
                    let target_id = target["id"].to_string().trim_matches('"').to_owned();
                    assert!(
                        data_sources.contains(&target_id),
                        "{engine}: {id}: {data_sources:?}"
                    );
                }
            }
            let tables = strings(&row["tables"]);
            let columns = strings(&row["columns"]);
            for object in stored["auditPayload"]["objectsAccessed"]
                .as_array()
                .into_iter()
                .flatten()
            {
                if let Some(name) = object["name"].as_str() {
                    assert!(
                        tables.iter().any(|t| t == name),
                        "{engine}: {id}: {tables:?}"
                    );
                }
                for column in object["columns"].as_array().into_iter().flatten() {
                    let name = column["name"].as_str().unwrap();
                    assert!(
                        columns.iter().any(|c| c == name),
                        "{engine}: {id}: {columns:?}"
                    );
                }
            }
        }
        let lake_3 = by_id["lake-3"][0];
        assert_eq!(lake_3["tags"], json!(["PII"]), "{engine}");
        assert_eq!(lake_3["technology"], json!("SNOWFLAKE"), "{engine}");
    }
    drop(server);
}
