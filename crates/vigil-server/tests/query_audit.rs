//! Query audit end to end: the Trino event listener's posts, the Spark plugin's UAM events, and
//! Snowflake and Unity Catalog pulls from in-process fakes of their APIs (paging, 202/polling, a
//! page that fails once), checked field by field against the seed's examples; user mapping,
//! unknown users, exactly-once over retries and overlaps.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::Utc;
use common::fakes::{self, CASE_ONLY, TEST_KEY_FINGERPRINT, TEST_KEY_PEM, snowflake_row};
use common::{ADMIN_KEY, Server, client};
use serde_json::{Value, json};

async fn send(
    method: reqwest::Method,
    server: &Server,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = client()
        .request(method, server.url(path))
        .header("Authorization", ADMIN_KEY);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn post(server: &Server, path: &str, body: Value) -> (u16, Value) {
    send(reqwest::Method::POST, server, path, Some(body)).await
}

async fn get(server: &Server, path: &str) -> (u16, Value) {
    send(reqwest::Method::GET, server, path, None).await
}

/// Registers users and data sources the way the governance platform reports them.
async fn register(server: &Server) {
    let user = |id: &str, name: &str, profile: &str| {
        json!({
            "id": format!("user-created-{id}"),
            "action": "CREATE", "actionStatus": "SUCCESS",
            "actor": { "name": "Immuta System Account", "id": "immuta_system_account", "type": "SYSTEM_ACCOUNT" },
            "targetType": "USER",
            "targets": [{ "name": name, "id": id, "identityProvider": "bim", "profileId": profile, "type": "USER" }],
            "relatedResources": [],
            "auditPayload": { "type": "UserCreatedAuditPayload", "version": 1, "name": name, "email": id },
            "eventTimestamp": "2024-02-01T13:16:26.541Z"
        })
    };
    let source = |id: &str,
                  name: &str,
                  technology: &str,
                  database: Option<&str>,
                  schema: &str,
                  table: &str| {
        let mut payload = json!({
            "type": "DatasourceCreatedAuditPayload", "version": 1, "technology": technology,
            "connectionId": "4", "table": table, "schema": schema
        });
        if let Some(database) = database {
            payload["database"] = json!(database);
        }
        json!({
            "id": format!("datasource-created-{id}"),
            "action": "CREATE", "actionStatus": "SUCCESS",
            "actor": { "name": "Taylor Smith", "id": "taylor@example.com", "type": "USER_ACTOR" },
            "targetType": "DATASOURCE",
            "targets": [{ "type": "DATASOURCE", "id": id, "name": name, "technology": technology }],
            "relatedResources": [],
            "auditPayload": payload,
            "eventTimestamp": "2024-02-22T13:59:04.681Z"
        })
    };
    let events = json!([
        user("taylor@example.com", "Taylor", "13"),
        source(
            "17",
            "Tiny Customer",
            "STARBURST_TRINO",
            Some("tpch"),
            "tiny",
            "customer"
        ),
        source(
            "13",
            "Tiny Orders",
            "STARBURST_TRINO",
            Some("tpch"),
            "tiny",
            "orders"
        ),
        source("3", "Case", "SNOWFLAKE", Some("DB"), "PUBLIC", "CASE"),
        source("4", "Other", "SNOWFLAKE", None, "PUBLIC", "OTHER"),
        source(
            "2034",
            "University Art Gallery Exhibition",
            "DATABRICKS",
            Some("catalog"),
            "audit_uc_test",
            "exhibition"
        ),
    ]);
    let (status, body) = post(server, "/api/audit/events", events).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], 6, "{body}");
}

/// Maps the Snowflake user TSMITH to Taylor (`taylor@example.com`).
async fn map_tsmith_to_taylor(server: &Server) {
    let (status, _) = send(
        reqwest::Method::PUT,
        server,
        "/api/audit/registry/users/taylor@example.com/external-ids/SNOWFLAKE",
        Some(json!({ "username": "TSMITH" })),
    )
    .await;
    assert_eq!(status, 200);
}

/// A Unity Catalog and a Snowflake integration on the fakes at these addresses.
async fn add_unity_catalog_and_snowflake(server: &Server, databricks: &str, snowflake: &str) {
    for integration in [
        json!({
            "type": "DATABRICKS_UNITY_CATALOG", "name": "uc", "host": databricks,
            "warehouseId": "559483c6eac0359f", "token": "dapi-test-token"
        }),
        json!({
            "type": "SNOWFLAKE", "name": "prod", "accountUrl": snowflake, "account": "acme",
            "user": "vigil_audit", "warehouse": "AUDIT_WH", "role": "AUDITOR",
            "authentication": { "type": "KEY_PAIR", "privateKey": TEST_KEY_PEM }
        }),
    ] {
        let (status, created) = post(server, "/api/audit/integrations", integration).await;
        assert_eq!(status, 201, "{created}");
    }
}

/// How many stored events contain `needle` (read from the database, as an auditor would).
fn count_events(server: &Server, needle: &str) -> usize {
    let connection = rusqlite::Connection::open_with_flags(
        server.data_dir.join("vigil.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    connection
        .query_row(
            "SELECT count(*) FROM events WHERE instr(body, ?1) > 0",
            [needle],
            |row| row.get::<_, i64>(0),
        )
        .unwrap() as usize
}

/// Every stored query event whose `auditPayload.queryId` is `query_id`.
fn query_events(server: &Server, query_id: &str) -> Vec<Value> {
    let connection = rusqlite::Connection::open_with_flags(
        server.data_dir.join("vigil.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let needle = format!("\"queryId\":\"{query_id}\"");
    let mut statement = connection
        .prepare("SELECT body FROM events WHERE instr(body, ?1) > 0 ORDER BY seq")
        .unwrap();
    statement
        .query_map([needle], |row| row.get::<_, String>(0))
        .unwrap()
        .map(|body| serde_json::from_str(&body.unwrap()).unwrap())
        .collect()
}

/// A `QueryCompletedEvent` as Trino 444's HTTP event listener posts it.
fn trino_completed(query_id: &str, user: &str) -> Value {
    json!({
        "metadata": {
            "queryId": query_id,
            "transactionId": "6cc2ab4e-1f0c-4e5a-9c1c-7f1bcbf3d2a1",
            "query": "select c.name, o.clerk from tpch.tiny.customer c join tpch.tiny.orders o on c.custkey = o.custkey limit 10",
            "queryState": "FINISHED",
            "tables": [
                { "catalog": "tpch", "schema": "tiny", "table": "customer", "authorization": "user",
                  "filters": [], "columns": [{ "column": "custkey" }, { "column": "name" }],
                  "directlyReferenced": true, "referenceChain": [] },
                { "catalog": "tpch", "schema": "tiny", "table": "orders", "authorization": "user",
                  "filters": [], "columns": [{ "column": "clerk" }, { "column": "custkey" }],
                  "directlyReferenced": true, "referenceChain": [] }
            ],
            "routines": [],
            "uri": "http://trino:8080/v1/query/20240417_193813_00005_67mum",
            "plan": null,
            "payload": null
        },
        "statistics": {
            "cpuTime": 0.081, "wallTime": 0.417, "queuedTime": 0.001, "analysisTime": 0.05,
            "peakUserMemoryBytes": 0, "totalBytes": 0, "totalRows": 1515, "outputBytes": 272,
            "outputRows": 10, "writtenBytes": 0, "writtenRows": 0, "cumulativeMemory": 0.0,
            "completedSplits": 23, "complete": true
        },
        "context": {
            "user": user, "principal": user, "groups": [], "remoteClientAddress": "10.0.0.7",
            "userAgent": "StatementClientV1/444", "source": "trino-cli", "catalog": "tpch",
            "schema": "tiny", "resourceGroupId": ["global"], "sessionProperties": {},
            "serverAddress": "10.0.0.2", "serverVersion": "444", "environment": "test",
            "queryType": "SELECT", "retryPolicy": "NONE"
        },
        "ioMetadata": {
            "inputs": [
                { "catalogName": "tpch", "schema": "tiny", "table": "customer",
                  "columns": [{ "name": "custkey", "type": "bigint" }, { "name": "name", "type": "varchar(25)" }],
                  "physicalInputBytes": 0, "physicalInputRows": 1500 },
                { "catalogName": "tpch", "schema": "tiny", "table": "orders",
                  "columns": [{ "name": "clerk", "type": "varchar(15)" }, { "name": "custkey", "type": "bigint" }],
                  "physicalInputBytes": 0, "physicalInputRows": 15 }
            ],
            "output": null
        },
        "failureInfo": null,
        "warnings": [],
        "createTime": "2024-04-17T19:38:13.651Z",
        "executionStartTime": "2024-04-17T19:38:13.700Z",
        "endTime": "2024-04-17T19:38:14.068Z"
    })
}

#[tokio::test]
async fn trino_listener_events_become_the_seeds_trino_events() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    register(&server).await;

    let posted = trino_completed("20240417_193813_00005_67mum", "taylor@example.com");
    let (status, body) = post(&server, "/api/audit/ingest/trino", posted.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["stored"], 1, "{body}");
    let (status, event) = get(&server, "/api/audit/events/20240417_193813_00005_67mum").await;
    assert_eq!(status, 200, "{event}");
    // Field by field against the seed's Starburst (Trino) example.
    assert_eq!(event["action"], "QUERY");
    assert_eq!(event["actionStatus"], "SUCCESS");
    assert_eq!(
        event["actor"],
        json!({ "type": "USER_ACTOR", "id": "taylor@example.com", "name": "Taylor", "identityProvider": "bim", "profileId": "13" })
    );
    assert_eq!(event["targetType"], "DATASOURCE");
    assert_eq!(
        event["targets"],
        json!([
            { "type": "DATASOURCE", "id": "17", "name": "Tiny Customer", "technology": "STARBURST_TRINO" },
            { "type": "DATASOURCE", "id": "13", "name": "Tiny Orders", "technology": "STARBURST_TRINO" }
        ])
    );
    assert_eq!(event["eventTimestamp"], "2024-04-17T19:38:13.651Z");
    assert!(event["receivedTimestamp"].is_string());
    let payload = &event["auditPayload"];
    assert_eq!(payload["type"], "QueryAuditPayload");
    assert_eq!(payload["version"], 1);
    assert_eq!(payload["queryId"], "20240417_193813_00005_67mum");
    assert_eq!(payload["query"], posted["metadata"]["query"]);
    assert_eq!(payload["startTime"], "2024-04-17T19:38:13.651Z");
    assert_eq!(payload["endTime"], "2024-04-17T19:38:14.068Z");
    assert_eq!(payload["duration"], 0.417);
    assert_eq!(payload["errorCode"], Value::Null);
    let customer = &payload["objectsAccessed"][0];
    assert_eq!(customer["name"], "\"tpch\".\"tiny\".\"customer\"");
    assert_eq!(customer["datasourceId"], "17");
    assert_eq!(customer["databaseName"], "tpch");
    assert_eq!(customer["schemaName"], "tiny");
    assert_eq!(customer["type"], "LOGICAL_TABLE");
    assert_eq!(customer["directlyReferenced"], true);
    assert_eq!(
        customer["columns"],
        json!([
            { "name": "custkey", "tags": [], "inferred": true },
            { "name": "name", "tags": [], "inferred": true }
        ])
    );
    assert_eq!(
        payload["objectsAccessed"][1]["name"],
        "\"tpch\".\"tiny\".\"orders\""
    );
    assert_eq!(payload["technologyContext"]["type"], "TrinoContext");
    assert_eq!(
        payload["technologyContext"]["trinoUsername"],
        "taylor@example.com"
    );
    assert_eq!(payload["technologyContext"]["rowsProduced"], 10);

    // Trino retries on 5xx: the same post again is a duplicate, not a second event.
    let (status, body) = post(&server, "/api/audit/ingest/trino", posted).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["stored"].clone(), body["duplicates"].clone()),
        (json!(0), json!(1))
    );
    assert_eq!(
        query_events(&server, "20240417_193813_00005_67mum").len(),
        1
    );

    // A failed query by a user vigil does not know, with epoch-second timestamps and without
    // the optional parts.
    let failed = json!({
        "metadata": { "queryId": "20240417_200000_00006_67mum", "query": "selec 1", "queryState": "FAILED" },
        "statistics": { "outputRows": 0 },
        "context": { "user": "bob" },
        "failureInfo": {
            "errorCode": { "code": 1, "name": "SYNTAX_ERROR", "type": "USER_ERROR" },
            "failureType": "io.trino.sql.parser.ParsingException",
            "failureMessage": "line 1:1: mismatched input 'selec'"
        },
        "createTime": 1713384000.25,
        "endTime": 1713384000.5
    });
    let (status, body) = post(&server, "/api/audit/ingest/trino", failed).await;
    assert_eq!(status, 200, "{body}");
    let (_, event) = get(&server, "/api/audit/events/20240417_200000_00006_67mum").await;
    assert_eq!(event["actionStatus"], "FAILURE");
    assert_eq!(
        event["actionStatusReason"],
        "line 1:1: mismatched input 'selec'"
    );
    assert_eq!(event["auditPayload"]["errorCode"], "SYNTAX_ERROR");
    assert_eq!(event["eventTimestamp"], "2024-04-17T20:00:00.250Z");
    assert_eq!(event["auditPayload"]["duration"], 0.25);
    assert_eq!(
        event["actor"],
        json!({ "type": "UNKNOWN", "id": "Unknown", "name": "Unknown" })
    );
    assert_eq!(
        event["auditPayload"]["technologyContext"]["trinoUsername"],
        "bob"
    );
    assert_eq!(event["targets"], json!([]));

    // Mapping bob's Trino username names him in events ingested after that; earlier ones stay.
    let (status, user) = send(
        reqwest::Method::PUT,
        &server,
        "/api/audit/registry/users/taylor@example.com/external-ids/trino",
        Some(json!({ "username": "bob" })),
    )
    .await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(
        user["externalUserIds"],
        json!([{ "technology": "STARBURST_TRINO", "username": "bob" }])
    );
    let (status, _) = post(
        &server,
        "/api/audit/ingest/trino",
        trino_completed("20240417_210000_00007_67mum", "bob"),
    )
    .await;
    assert_eq!(status, 200);
    let (_, event) = get(&server, "/api/audit/events/20240417_210000_00007_67mum").await;
    assert_eq!(event["actor"]["id"], "taylor@example.com");
    let (_, earlier) = get(&server, "/api/audit/events/20240417_200000_00006_67mum").await;
    assert_eq!(earlier["actor"]["name"], "Unknown");
    assert_eq!(count_events(&server, "\"UserUpdatedAuditPayload\""), 1);

    // Created events are acknowledged and ignored; malformed ones are refused, naming the field,
    // and nothing of them is stored.
    let created = json!({ "metadata": { "queryId": "20240417_220000_00008_67mum", "query": "select 1" },
        "context": { "user": "bob" }, "createTime": "2024-04-17T22:00:00Z" });
    let (status, body) = post(&server, "/api/audit/ingest/trino", created).await;
    assert_eq!(
        (status, body["ignored"].clone()),
        (200, json!(["QueryCreatedEvent"]))
    );
    let mut broken = trino_completed("20240417_230000_00009_67mum", "bob");
    broken["createTime"] = json!("yesterday");
    let (status, body) = post(&server, "/api/audit/ingest/trino", broken).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["path"], "createTime", "{body}");
    let mut broken = trino_completed("20240417_230000_00010_67mum", "bob");
    broken["metadata"]["tables"][0]["catalog"] = json!(7);
    let (status, body) = post(
        &server,
        "/api/audit/ingest/trino",
        json!([
            trino_completed("20240417_230000_00011_67mum", "bob"),
            broken
        ]),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["path"]
            .as_str()
            .unwrap()
            .starts_with("[1].metadata.tables"),
        "{body}"
    );
    assert_eq!(
        query_events(&server, "20240417_230000_00011_67mum").len(),
        0
    );
    let (status, _) = get(&server, "/api/audit/events/20240417_230000_00009_67mum").await;
    assert_eq!(status, 404);
    let (status, body) = post(&server, "/api/audit/ingest/trino", json!({ "hello": 1 })).await;
    assert_eq!(status, 400, "{body}");
    server.terminate();
}

#[tokio::test]
async fn trino_users_match_on_their_principal_and_the_listener_may_put() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    register(&server).await;
    // An OAuth2 setup: Trino's `QueryContext.getPrincipal()` is the token's subject and
    // `getUser()` the short name a user mapping rule made of it (trino-spi QueryContext).
    let mut event = trino_completed("20240418_080000_00001_67mum", "taylor");
    event["context"]["principal"] = json!("taylor@example.com");
    // `http-event-listener.connect-http-method=PUT` (Trino's HTTP event listener docs).
    let (status, body) = send(
        reqwest::Method::PUT,
        &server,
        "/api/audit/ingest/trino",
        Some(event),
    )
    .await;
    assert_eq!((status, body["stored"].clone()), (200, json!(1)), "{body}");
    let (_, stored) = get(&server, "/api/audit/events/20240418_080000_00001_67mum").await;
    assert_eq!(stored["actor"]["id"], "taylor@example.com", "{stored}");
    assert_eq!(
        stored["auditPayload"]["technologyContext"]["trinoUsername"],
        "taylor"
    );
    server.terminate();
}

#[tokio::test]
async fn spark_plugin_events_keep_every_field() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let examples: Vec<Value> =
        serde_json::from_str(vigil_model::fixtures::SEED_EXAMPLE_EVENTS).unwrap();
    let spark = examples
        .into_iter()
        .find(|event| event["auditPayload"].get("accessControls").is_some())
        .expect("the seed has a Spark example");
    let (status, body) = post(&server, "/api/audit/events", spark.clone()).await;
    assert_eq!(status, 200, "{body}");
    let id = spark["id"].as_str().unwrap();
    let (_, stored) = get(&server, &format!("/api/audit/events/{id}")).await;
    assert_eq!(stored, spark);
    assert!(
        stored["auditPayload"]["accessControls"].is_object(),
        "{stored}"
    );
    server.terminate();
}

const CASE_AND_OTHER: &str = r#"[{"objectDomain":"Table","objectId":1,"objectName":"DB.PUBLIC.CASE","columns":[{"columnId":1,"columnName":"DOB"},{"columnId":2,"columnName":"SSN"}]},{"objectDomain":"TABLE","objectId":"2","objectName":"DB.PUBLIC.OTHER","columns":[{"columnId":3,"columnName":"ID"}]},{"objectDomain":"Table","objectId":9,"objectName":"DB.PUBLIC.UNREGISTERED","columns":[]},{"objectDomain":"Stage","objectId":5,"objectName":"DB.PUBLIC.STAGE1"}]"#;

async fn wait_for_load(server: &Server, job: &Value) -> Value {
    let path = format!("/api/audit/load/{}", job["id"].as_str().unwrap());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (status, job) = get(server, &path).await;
        assert_eq!(status, 200, "{job}");
        if job["state"] != "RUNNING" {
            return job;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the load did not end: {job}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn load(server: &Server) -> Value {
    let (status, job) = post(server, "/api/audit/load", json!({})).await;
    assert_eq!(status, 202, "{job}");
    wait_for_load(server, &job).await
}

#[tokio::test]
async fn snowflake_pull_stores_each_query_once_through_failures_and_overlaps() {
    let fake = fakes::snowflake(TEST_KEY_PEM, TEST_KEY_FINGERPRINT, "ACME.VIGIL_AUDIT").await;
    let now = Utc::now();
    *fake.state.rows.lock().unwrap() = vec![
        snowflake_row(
            "01a9c8f5-0602-eeb3-0040-d203014c166a",
            "TSMITH",
            now - chrono::Duration::minutes(100),
            CASE_AND_OTHER,
        ),
        snowflake_row(
            "01a9c8f5-0000-0000-0000-000000000002",
            "NOBODY",
            now - chrono::Duration::minutes(90),
            CASE_ONLY,
        ),
        {
            let mut row = snowflake_row(
                "01a9c8f5-0000-0000-0000-000000000003",
                "TSMITH",
                now - chrono::Duration::minutes(80),
                CASE_ONLY,
            );
            row["BASE_OBJECTS_ACCESSED"] = json!("[{not json");
            row
        },
        {
            let mut row = snowflake_row(
                "01a9c8f5-0000-0000-0000-000000000004",
                "taylor@example.com",
                now - chrono::Duration::minutes(70),
                CASE_ONLY,
            );
            row["EXECUTION_STATUS"] = json!("FAIL");
            row["ERROR_CODE"] = json!("002003");
            row["ERROR_MESSAGE"] =
                json!("SQL compilation error: Object 'CASE' does not exist or not authorized.");
            row
        },
        {
            let mut row = snowflake_row(
                "01a9c8f5-0000-0000-0000-000000000005",
                "TSMITH",
                now - chrono::Duration::minutes(60),
                CASE_ONLY,
            );
            row["ROWS_PRODUCED"] = json!("0");
            row["QUERY_TEXT"] = json!("x".repeat(3000));
            row
        },
        {
            // QUERY_HISTORY's ROWS_PRODUCED is NULL for statements without a result set
            // (Snowflake's QUERY_HISTORY view reference).
            let mut row = snowflake_row(
                "01a9c8f5-0000-0000-0000-000000000006",
                "TSMITH",
                now - chrono::Duration::minutes(50),
                CASE_ONLY,
            );
            row["ROWS_PRODUCED"] = Value::Null;
            row
        },
    ];
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    register(&server).await;
    map_tsmith_to_taylor(&server).await;

    // Bad configurations are refused, naming the field.
    let integration = json!({
        "type": "SNOWFLAKE", "name": "prod",
        "accountUrl": fake.base, "account": "acme", "user": "vigil_audit",
        "warehouse": "AUDIT_WH", "role": "AUDITOR",
        "authentication": { "type": "KEY_PAIR", "privateKey": TEST_KEY_PEM }
    });
    for (field, value, expected) in [
        ("accountUrl", json!("not a url"), "accountUrl:"),
        ("warehouse", json!(" "), "warehouse:"),
        ("wharehouse", json!("typo"), "wharehouse:"),
        (
            "authentication",
            json!({ "type": "KEY_PAIR", "privateKey": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----" }),
            "authentication.privateKey:",
        ),
        ("overlapMinutes", json!(-5), "overlapMinutes:"),
    ] {
        let mut bad = integration.clone();
        bad[field] = value;
        let (status, body) = post(&server, "/api/audit/integrations", bad).await;
        assert_eq!(status, 400, "{field}: {body}");
        assert!(
            body["error"].as_str().unwrap().starts_with(expected),
            "{field}: {body}"
        );
    }
    let (status, created) = post(&server, "/api/audit/integrations", integration).await;
    assert_eq!(status, 201, "{created}");
    assert!(!created.to_string().contains("PRIVATE KEY"), "{created}");
    assert_eq!(created["authentication"], json!({ "type": "KEY_PAIR" }));

    // The first load fails on the second partition: what was read before is stored, the
    // watermark does not move.
    fake.state.fail_partition_once.store(true, Ordering::SeqCst);
    let job = load(&server).await;
    assert_eq!(job["state"], "FAILED", "{job}");
    let run = &job["integrations"][0]["run"];
    assert!(run["error"].as_str().unwrap().contains("500"), "{job}");
    assert!(!run["error"].as_str().unwrap().contains("BEGIN"), "{job}");
    assert_eq!(run["eventsStored"], 2, "{job}");
    let (_, status_after_failure) = get(
        &server,
        &format!(
            "/api/audit/integrations/{}",
            created["id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(
        status_after_failure["status"]["watermark"],
        Value::Null,
        "{status_after_failure}"
    );

    // The second load reads the whole window again: each query ends up stored exactly once.
    let job = load(&server).await;
    assert_eq!(job["state"], "SUCCEEDED", "{job}");
    let run = &job["integrations"][0]["run"];
    assert_eq!(run["rowsRead"], 6, "{job}");
    assert_eq!(run["duplicates"], 2, "{job}");
    assert_eq!(run["malformed"], 1, "{job}");
    assert_eq!(run["skipped"], 1, "{job}");
    assert!(
        fake.state.auth_failures.lock().unwrap().is_empty(),
        "{:?}",
        fake.state.auth_failures.lock().unwrap()
    );

    // One event per registered base table, sharing the query id: field by field against the
    // seed's Snowflake example.
    let events = query_events(&server, "01a9c8f5-0602-eeb3-0040-d203014c166a");
    assert_eq!(events.len(), 2, "{events:?}");
    let case = events
        .iter()
        .find(|event| event["targets"][0]["id"] == "3")
        .unwrap();
    assert_eq!(case["action"], "QUERY");
    assert_eq!(
        case["actor"],
        json!({ "type": "USER_ACTOR", "id": "taylor@example.com", "name": "Taylor", "identityProvider": "bim", "profileId": "13" })
    );
    assert_eq!(case["sessionId"], "18245308848957358");
    assert_eq!(case["actionStatus"], "SUCCESS");
    assert_eq!(case["targetType"], "DATASOURCE");
    assert_eq!(
        case["targets"],
        json!([{ "type": "DATASOURCE", "id": "3", "name": "Case", "technology": "SNOWFLAKE" }])
    );
    let payload = &case["auditPayload"];
    assert_eq!(payload["type"], "QueryAuditPayload");
    assert_eq!(payload["queryId"], "01a9c8f5-0602-eeb3-0040-d203014c166a");
    assert_eq!(payload["duration"], 0.557);
    assert_eq!(payload["errorCode"], Value::Null);
    let context = &payload["technologyContext"];
    assert_eq!(context["type"], "SnowflakeContext");
    assert_eq!(context["host"], "127.0.0.1");
    assert_eq!(context["snowflakeUsername"], "TSMITH");
    assert_eq!(context["rowsProduced"], 3);
    assert_eq!(context["roleName"], "ACCOUNTADMIN");
    assert_eq!(context["warehouseId"], "3");
    assert_eq!(context["warehouseName"], "DETECT_WH");
    assert_eq!(context["clusterNumber"], 1);
    let object = &payload["objectsAccessed"][0];
    assert_eq!(object["name"], "DB.PUBLIC.CASE");
    assert_eq!(object["datasourceId"], "3");
    assert_eq!(object["databaseName"], "DB");
    assert_eq!(object["schemaName"], "PUBLIC");
    assert_eq!(object["type"], "TABLE");
    assert_eq!(
        object["columns"],
        json!([
            { "name": "DOB", "tags": [], "inferred": false },
            { "name": "SSN", "tags": [], "inferred": false }
        ])
    );
    assert_eq!(payload["objectsAccessed"].as_array().unwrap().len(), 1);
    assert_eq!(case["eventTimestamp"], payload["startTime"]);
    // Unregistered user: not audited, as the seed says for Snowflake. Malformed row: skipped.
    assert!(query_events(&server, "01a9c8f5-0000-0000-0000-000000000002").is_empty());
    assert!(query_events(&server, "01a9c8f5-0000-0000-0000-000000000003").is_empty());
    let failed = &query_events(&server, "01a9c8f5-0000-0000-0000-000000000004")[0];
    assert_eq!(failed["actionStatus"], "FAILURE");
    assert_eq!(failed["auditPayload"]["errorCode"], "002003");
    let no_result_set = &query_events(&server, "01a9c8f5-0000-0000-0000-000000000006")[0];
    assert_eq!(
        no_result_set["auditPayload"]["technologyContext"]["rowsProduced"],
        Value::Null,
        "a NULL ROWS_PRODUCED is not 0"
    );
    let cached = &query_events(&server, "01a9c8f5-0000-0000-0000-000000000005")[0];
    assert_eq!(
        cached["auditPayload"]["technologyContext"]["rowsProduced"],
        0
    );
    assert_eq!(
        cached["auditPayload"]["query"]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        2048
    );
    for id in [
        "01a9c8f5-0000-0000-0000-000000000004",
        "01a9c8f5-0000-0000-0000-000000000005",
        "01a9c8f5-0000-0000-0000-000000000006",
    ] {
        assert_eq!(query_events(&server, id).len(), 1, "{id}");
    }

    // A third load reads from the watermark minus the overlap: all duplicates, no doubles.
    let job = load(&server).await;
    assert_eq!(job["state"], "SUCCEEDED", "{job}");
    assert_eq!(job["integrations"][0]["run"]["eventsStored"], 0, "{job}");
    assert_eq!(job["integrations"][0]["run"]["duplicates"], 5, "{job}");
    let sinces = fake.state.sinces.lock().unwrap().clone();
    let watermark = chrono::DateTime::parse_from_rfc3339(&sinces[2]).unwrap();
    let expected = now - chrono::Duration::minutes(50) - chrono::Duration::minutes(180);
    assert!(
        (watermark.timestamp_millis() - expected.timestamp_millis()).abs() < 2,
        "{sinces:?}"
    );
    assert_eq!(count_events(&server, "\"type\":\"SnowflakeContext\""), 5);
    server.terminate();
}

fn databricks_row(
    statement: &str,
    user: &str,
    end: chrono::DateTime<Utc>,
    table: Option<(&str, &str, &str, &str)>,
) -> Value {
    let start = end - chrono::Duration::milliseconds(23_568);
    let mut row = json!({
        "statement_id": statement,
        "executed_by": user,
        "executed_by_user_id": "52e863bc-ea7f-46a9-8e17-6aed7541832d",
        "statement_text": "SELECT VERSION AS `version` FROM `sample-data`.`__immuta_version`",
        "execution_status": "FINISHED",
        "error_message": null,
        "compute_type": "WAREHOUSE",
        "warehouse_id": "559483c6eac0359f",
        "cluster_id": null,
        "workspace_id": "3841033049363283",
        "start_time": start.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "end_time": end.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "total_duration_ms": "23568",
        "produced_rows": "2",
        "notebook_id": null,
        "client_application": "Databricks SQL Editor",
        "session_id": "01ee14d9-cab3-1ef6-9cc4-f0c315a53788",
    });
    if let Some((catalog, schema, name, columns)) = table {
        row["table_catalog"] = json!(catalog);
        row["table_schema"] = json!(schema);
        row["table_name"] = json!(name);
        row["access_type"] = json!("READ");
        row["columns"] = json!(columns);
    }
    row
}

#[tokio::test]
async fn unity_catalog_pull_audits_every_user_and_table_once() {
    let fake = fakes::databricks("dapi-test-token").await;
    let now = Utc::now();
    let exhibition = Some((
        "catalog",
        "audit_uc_test",
        "exhibition",
        r#"["status_description","id"]"#,
    ));
    *fake.state.rows.lock().unwrap() = vec![
        databricks_row(
            "01ee14da-517a-1670-afce-0c3e0fdcf7d4",
            "taylor@example.com",
            now - chrono::Duration::minutes(120),
            exhibition,
        ),
        databricks_row(
            "01ee14da-517a-1670-afce-0c3e0fdcf7d4",
            "taylor@example.com",
            now - chrono::Duration::minutes(120),
            Some(("main", "sales", "orders", r#"["amount"]"#)),
        ),
        databricks_row(
            "01ee14da-0000-0000-0000-000000000002",
            "stranger@example.com",
            now - chrono::Duration::minutes(110),
            exhibition,
        ),
        {
            let mut row = databricks_row(
                "01ee14da-0000-0000-0000-000000000003",
                "taylor@example.com",
                now - chrono::Duration::minutes(100),
                exhibition,
            );
            row["execution_status"] = json!("FAILED");
            row["error_message"] = json!(
                "[INSUFFICIENT_PERMISSIONS] Insufficient privileges: User does not have SELECT on Table 'catalog.audit_uc_test.exhibition'."
            );
            row
        },
        {
            let mut row = databricks_row(
                "01ee14da-0000-0000-0000-000000000004",
                "taylor@example.com",
                now - chrono::Duration::minutes(95),
                None,
            );
            row["execution_status"] = json!("FAILED");
            row["error_message"] = json!("[TABLE_OR_VIEW_NOT_FOUND] The table cannot be found.");
            row
        },
        {
            let mut row = databricks_row(
                "01ee14da-0000-0000-0000-000000000005",
                "taylor@example.com",
                now - chrono::Duration::minutes(90),
                exhibition,
            );
            row["start_time"] = json!("last tuesday");
            row
        },
        {
            // Refused: Unity Catalog writes no lineage row for it, and the error names the table
            // (Databricks error class INSUFFICIENT_PERMISSIONS).
            let mut row = databricks_row(
                "01ee14da-0000-0000-0000-000000000007",
                "taylor@example.com",
                now - chrono::Duration::minutes(85),
                None,
            );
            row["execution_status"] = json!("FAILED");
            row["error_message"] = json!(
                "[INSUFFICIENT_PERMISSIONS] Insufficient privileges: User does not have SELECT on Table 'catalog.audit_uc_test.exhibition'."
            );
            row
        },
        {
            // system.query.history's execution_status CANCELED, without an error message.
            let mut row = databricks_row(
                "01ee14da-0000-0000-0000-000000000008",
                "taylor@example.com",
                now - chrono::Duration::minutes(84),
                None,
            );
            row["execution_status"] = json!("CANCELED");
            row
        },
        // No lineage yet and recent: held back until its lineage has had time to arrive.
        databricks_row(
            "01ee14da-0000-0000-0000-000000000006",
            "taylor@example.com",
            now - chrono::Duration::minutes(5),
            None,
        ),
    ];
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    register(&server).await;
    let integration = json!({
        "type": "DATABRICKS_UNITY_CATALOG", "name": "uc",
        "host": fake.base, "warehouseId": "559483c6eac0359f", "token": "dapi-test-token",
        "workspaceIds": ["3841033049363283"], "overlapMinutes": 180
    });
    let (status, created) = post(&server, "/api/audit/integrations", integration).await;
    assert_eq!(status, 201, "{created}");
    assert!(
        !created.to_string().contains("dapi-test-token"),
        "{created}"
    );

    fake.state.fail_chunk_once.store(true, Ordering::SeqCst);
    let job = load(&server).await;
    assert_eq!(job["state"], "FAILED", "{job}");
    assert!(
        job["integrations"][0]["run"]["error"]
            .as_str()
            .unwrap()
            .contains("503"),
        "{job}"
    );
    let job = load(&server).await;
    assert_eq!(job["state"], "SUCCEEDED", "{job}");
    let run = &job["integrations"][0]["run"];
    assert_eq!(run["rowsRead"], 9, "{job}");
    assert_eq!(run["malformed"], 1, "{job}");
    assert_eq!(run["deferred"], 1, "{job}");
    assert_eq!(fake.state.auth_failures.load(Ordering::SeqCst), 0);

    let events = query_events(&server, "01ee14da-517a-1670-afce-0c3e0fdcf7d4");
    assert_eq!(events.len(), 2, "one event per table: {events:?}");
    let event = events
        .iter()
        .find(|event| event["targets"].as_array().unwrap().len() == 1)
        .unwrap();
    // Field by field against the seed's Unity Catalog example.
    assert_eq!(event["action"], "QUERY");
    assert_eq!(event["actor"]["id"], "taylor@example.com");
    assert_eq!(event["actor"]["name"], "Taylor");
    assert_eq!(event["sessionId"], "01ee14d9-cab3-1ef6-9cc4-f0c315a53788");
    assert_eq!(event["actionStatus"], "SUCCESS");
    assert_eq!(event["actionStatusReason"], Value::Null);
    assert_eq!(
        event["targets"],
        json!([{ "type": "DATASOURCE", "id": "2034", "name": "University Art Gallery Exhibition", "technology": "DATABRICKS" }])
    );
    let payload = &event["auditPayload"];
    assert_eq!(payload["queryId"], "01ee14da-517a-1670-afce-0c3e0fdcf7d4");
    assert_eq!(
        payload["query"],
        "SELECT VERSION AS `version` FROM `sample-data`.`__immuta_version`"
    );
    assert_eq!(payload["duration"], 23.568);
    assert_eq!(payload["version"], 1);
    let context = &payload["technologyContext"];
    assert_eq!(context["type"], "DatabricksContext");
    assert_eq!(context["clusterId"], Value::Null);
    assert_eq!(context["workspaceId"], "3841033049363283");
    assert_eq!(context["service"], "WAREHOUSE");
    assert_eq!(context["queryLanguage"], "sql");
    assert_eq!(context["warehouseId"], "559483c6eac0359f");
    assert_eq!(context["notebookId"], Value::Null);
    assert_eq!(
        context["account"],
        json!({ "id": "52e863bc-ea7f-46a9-8e17-6aed7541832d", "username": "taylor@example.com" })
    );
    assert_eq!(context["host"], "127.0.0.1");
    assert_eq!(context["rowsProduced"], 2);
    let object = &payload["objectsAccessed"][0];
    assert_eq!(object["name"], "catalog.audit_uc_test.exhibition");
    assert_eq!(object["datasourceId"], "2034");
    assert_eq!(object["databaseName"], "catalog");
    assert_eq!(object["schemaName"], "audit_uc_test");
    assert_eq!(object["columns"][0]["name"], "status_description");
    // The unregistered table is audited too, without a data source.
    let other = events
        .iter()
        .find(|event| event["targets"] == json!([]))
        .unwrap();
    assert_eq!(
        other["auditPayload"]["objectsAccessed"][0]["datasourceId"],
        Value::Null
    );

    // Unknown users: the Databricks username stays in technologyContext.account.username.
    let stranger = &query_events(&server, "01ee14da-0000-0000-0000-000000000002")[0];
    assert_eq!(
        stranger["actor"],
        json!({ "type": "UNKNOWN", "id": "Unknown", "name": "Unknown" })
    );
    assert_eq!(
        stranger["auditPayload"]["technologyContext"]["account"]["username"],
        "stranger@example.com"
    );
    let denied = &query_events(&server, "01ee14da-0000-0000-0000-000000000003")[0];
    assert_eq!(denied["actionStatus"], "UNAUTHORIZED");
    assert_eq!(
        denied["auditPayload"]["errorCode"],
        "INSUFFICIENT_PERMISSIONS"
    );
    assert!(
        denied["actionStatusReason"]
            .as_str()
            .unwrap()
            .contains("Insufficient privileges")
    );
    let refused = &query_events(&server, "01ee14da-0000-0000-0000-000000000007")[0];
    assert_eq!(refused["actionStatus"], "UNAUTHORIZED");
    assert_eq!(
        refused["targets"],
        json!([{ "type": "DATASOURCE", "id": "2034", "name": "University Art Gallery Exhibition", "technology": "DATABRICKS" }]),
        "{refused}"
    );
    assert_eq!(
        refused["auditPayload"]["objectsAccessed"][0]["name"],
        "catalog.audit_uc_test.exhibition"
    );
    let canceled = &query_events(&server, "01ee14da-0000-0000-0000-000000000008")[0];
    assert_eq!(canceled["actionStatus"], "FAILURE");
    assert_eq!(canceled["auditPayload"]["errorCode"], "CANCELED");
    assert_eq!(canceled["actionStatusReason"], "the statement was canceled");
    let failed = &query_events(&server, "01ee14da-0000-0000-0000-000000000004")[0];
    assert_eq!(failed["actionStatus"], "FAILURE");
    assert_eq!(failed["auditPayload"]["objectsAccessed"], json!([]));
    assert!(query_events(&server, "01ee14da-0000-0000-0000-000000000005").is_empty());
    assert!(query_events(&server, "01ee14da-0000-0000-0000-000000000006").is_empty());
    for id in [
        "01ee14da-0000-0000-0000-000000000002",
        "01ee14da-0000-0000-0000-000000000003",
        "01ee14da-0000-0000-0000-000000000004",
    ] {
        assert_eq!(query_events(&server, id).len(), 1, "{id}");
    }

    // The overlap adds no doubles.
    let job = load(&server).await;
    assert_eq!(job["integrations"][0]["run"]["eventsStored"], 0, "{job}");
    assert_eq!(count_events(&server, "\"type\":\"DatabricksContext\""), 7);
    server.terminate();
}

#[tokio::test]
async fn the_schedule_is_one_interval_per_integration_type() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let (status, schedule) = get(&server, "/api/audit/integrations/schedule").await;
    assert_eq!(status, 200);
    assert_eq!(
        schedule,
        json!({ "SNOWFLAKE": { "intervalMinutes": 60 }, "DATABRICKS_UNITY_CATALOG": { "intervalMinutes": 60 } })
    );
    let (status, schedule) = send(
        reqwest::Method::PUT,
        &server,
        "/api/audit/integrations/schedule",
        Some(json!({ "SNOWFLAKE": { "intervalMinutes": 30 } })),
    )
    .await;
    assert_eq!(status, 200, "{schedule}");
    assert_eq!(schedule["SNOWFLAKE"]["intervalMinutes"], 30);
    assert_eq!(schedule["DATABRICKS_UNITY_CATALOG"]["intervalMinutes"], 60);
    for bad in [
        json!({ "SNOWFLAKE": { "intervalMinutes": 0 } }),
        json!({ "REDSHIFT": { "intervalMinutes": 60 } }),
        json!({}),
    ] {
        let (status, body) = send(
            reqwest::Method::PUT,
            &server,
            "/api/audit/integrations/schedule",
            Some(bad.clone()),
        )
        .await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    // It survives a restart.
    let status = server.terminate();
    assert!(status.success());
    let server = Server::start(data.path());
    let (_, schedule) = get(&server, "/api/audit/integrations/schedule").await;
    assert_eq!(schedule["SNOWFLAKE"]["intervalMinutes"], 30);
    // The CLI shows it too.
    let output = common::vigil(&[
        "audit",
        "schedule",
        "--url",
        &server.base,
        "--api-key",
        ADMIN_KEY,
    ]);
    assert!(output.status.success(), "{output:?}");
    let shown: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(shown["SNOWFLAKE"]["intervalMinutes"], 30);
    server.terminate();
}

/// A Unity Catalog window whose result is far above Databricks' 25 MiB INLINE limit (the
/// Statement Execution API reference, `disposition`: "If a given statement produces a result set
/// with a size larger than 25 MiB, that statement execution is aborted") is read through
/// `EXTERNAL_LINKS`, whose presigned links are downloaded without the Databricks token ("you must
/// not set an Authorization header"), narrowed while a part has more than `rowsPerStatement`
/// rows, and bounded per run: two runs store every statement once.
#[tokio::test]
async fn unity_catalog_pull_reads_a_window_larger_than_the_inline_limit() {
    let fake = fakes::databricks("dapi-test-token").await;
    let now = Utc::now();
    const STATEMENTS: usize = 1_600;
    let long_text = format!(
        "SELECT * FROM main.sales.orders WHERE note = '{}'",
        "x".repeat(20_000)
    );
    let rows: Vec<Value> = (0..STATEMENTS)
        .map(|n| {
            let mut row = databricks_row(
                &format!("01ef0000-0000-0000-0000-{n:012}"),
                "analyst@example.com",
                now - chrono::Duration::minutes(20 * 60) + chrono::Duration::seconds(n as i64 * 40),
                Some(("main", "sales", "orders", r#"["amount"]"#)),
            );
            row["statement_text"] = json!(long_text);
            row
        })
        .collect();
    let total_bytes = serde_json::to_vec(&rows).unwrap().len();
    assert!(total_bytes > fakes::INLINE_LIMIT_BYTES, "{total_bytes}");
    *fake.state.rows.lock().unwrap() = rows;
    fake.state.page_rows.store(40, Ordering::SeqCst);
    fake.state.expire_links_once.store(true, Ordering::SeqCst);

    // The fake enforces the INLINE rule: the old request fails on this data.
    let inline = client()
        .post(format!("{}/api/2.0/sql/statements", fake.base))
        .header("Authorization", "Bearer dapi-test-token")
        .json(&json!({
            "statement": "SELECT … FROM system.query.history …", "warehouse_id": "559483c6eac0359f",
            "disposition": "INLINE", "format": "JSON_ARRAY",
            "parameters": [{ "name": "since", "value": (now - chrono::Duration::days(1)).to_rfc3339(), "type": "TIMESTAMP" }]
        }))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let id = inline["statement_id"].as_str().unwrap();
    let mut state = Value::Null;
    for _ in 0..2 {
        state = client()
            .get(format!("{}/api/2.0/sql/statements/{id}", fake.base))
            .header("Authorization", "Bearer dapi-test-token")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    }
    assert_eq!(state["status"]["state"], "FAILED", "{state}");
    fake.state.submitted.lock().unwrap().clear();

    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let integration = json!({
        "type": "DATABRICKS_UNITY_CATALOG", "name": "busy",
        "host": fake.base, "warehouseId": "559483c6eac0359f", "token": "dapi-test-token",
        "rowsPerStatement": 100
    });
    let (status, created) = post(&server, "/api/audit/integrations", integration).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["rowsPerStatement"], 100, "{created}");

    // A run reads at most ten statements' worth (1,000 rows here) once it has moved the
    // watermark, and says there is more.
    let job = load(&server).await;
    assert_eq!(job["state"], "SUCCEEDED", "{job}");
    let run = &job["integrations"][0]["run"];
    assert_eq!(run["moreToRead"], true, "{job}");
    assert!(run["narrowings"].as_u64().unwrap() >= 1, "{job}");
    assert!(run["statements"].as_u64().unwrap() >= 10, "{job}");
    let first_rows = run["rowsRead"].as_u64().unwrap();
    assert!((1_000..STATEMENTS as u64).contains(&first_rows), "{job}");
    assert!(run["windowEnd"].is_string(), "{job}");

    let job = load(&server).await;
    assert_eq!(job["state"], "SUCCEEDED", "{job}");
    let run = &job["integrations"][0]["run"];
    assert_eq!(run["moreToRead"], false, "{job}");
    assert_eq!(
        count_events(&server, "\"type\":\"DatabricksContext\""),
        STATEMENTS
    );
    for n in [0, 799, STATEMENTS - 1] {
        let id = format!("01ef0000-0000-0000-0000-{n:012}");
        let events = query_events(&server, &id);
        assert_eq!(events.len(), 1, "{id}");
        assert_eq!(
            events[0]["auditPayload"]["query"]
                .as_str()
                .unwrap()
                .chars()
                .count(),
            vigil_model::MAX_QUERY_TEXT_CHARS
        );
    }

    let submitted = fake.state.submitted.lock().unwrap().clone();
    assert!(
        submitted.iter().all(|statement| statement.disposition == "EXTERNAL_LINKS"
            && statement.until.is_some()),
        "{submitted:?}"
    );
    // Every result read was within the bound; the larger ones were canceled unread.
    let canceled = fake.state.canceled.load(Ordering::SeqCst);
    assert_eq!(
        submitted
            .iter()
            .filter(|statement| statement.rows > 100)
            .count(),
        canceled,
        "{submitted:?}"
    );
    assert!(canceled >= 1);
    assert_eq!(fake.state.authorized_downloads.load(Ordering::SeqCst), 0);
    assert!(!fake.state.expire_links_once.load(Ordering::SeqCst));
    assert_eq!(fake.state.auth_failures.load(Ordering::SeqCst), 0);
    server.terminate();
}

/// Polls `GET path` until `done` holds (the index follows the log in the background).
async fn search_until(server: &Server, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = get(server, path).await;
        if status == 200 && done(&body) {
            return body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{path}: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Lineage that arrives after the settle time never makes a second `QUERY`: Unity Catalog writes
/// `system.access.column_lineage` rows after `system.query.history` rows, and Snowflake's
/// ACCESS_HISTORY lags QUERY_HISTORY by up to three hours (Snowflake's "Access History" guide:
/// latency up to 180 minutes) and has no row at all on Standard Edition. The statement is stored
/// without tables, and its tables come later as `QUERY_LINEAGE_RESOLVED` events naming it, which
/// reports count as the statement's accesses and search finds by table.
#[tokio::test]
async fn late_lineage_completes_a_statement_instead_of_counting_it_twice() {
    let databricks = fakes::databricks("dapi-test-token").await;
    let snowflake = fakes::snowflake(TEST_KEY_PEM, TEST_KEY_FINGERPRINT, "ACME.VIGIL_AUDIT").await;
    let now = Utc::now();
    const LATE: &str = "01ee14da-0000-0000-0000-00000000late";
    const FAILED: &str = "01ee14da-0000-0000-0000-0000000fail";
    let exhibition = ("catalog", "audit_uc_test", "exhibition", r#"["id"]"#);
    *databricks.state.rows.lock().unwrap() = vec![
        databricks_row(
            LATE,
            "taylor@example.com",
            now - chrono::Duration::minutes(60),
            None,
        ),
        {
            // A statement that failed gets no lineage: stored at once, not held back.
            let mut row = databricks_row(
                FAILED,
                "taylor@example.com",
                now - chrono::Duration::minutes(2),
                None,
            );
            row["execution_status"] = json!("FAILED");
            row["error_message"] = json!("[DIVIDE_BY_ZERO] Division by zero.");
            row
        },
    ];
    let no_access_history = |id: &str, minutes: i64| {
        let mut row = snowflake_row(
            id,
            "TSMITH",
            now - chrono::Duration::minutes(minutes),
            CASE_ONLY,
        );
        for column in [
            "ACCESS_HISTORY_QUERY_ID",
            "DIRECT_OBJECTS_ACCESSED",
            "BASE_OBJECTS_ACCESSED",
        ] {
            row[column] = Value::Null;
        }
        row
    };
    *snowflake.state.rows.lock().unwrap() = vec![
        no_access_history("01a9c8f5-0000-0000-0000-00000000late", 200),
        no_access_history("01a9c8f5-0000-0000-0000-0000000fresh", 30),
    ];

    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    register(&server).await;
    map_tsmith_to_taylor(&server).await;
    add_unity_catalog_and_snowflake(&server, &databricks.base, &snowflake.base).await;
    let (status, refused) = post(
        &server,
        "/api/audit/integrations",
        json!({
            "type": "SNOWFLAKE", "name": "bad", "accountUrl": snowflake.base, "user": "u",
            "warehouse": "AUDIT_WH", "overlapMinutes": 60, "accessHistorySettleMinutes": 90,
            "authentication": { "type": "OAUTH", "token": "t" }
        }),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .starts_with("accessHistorySettleMinutes:"),
        "{refused}"
    );

    // First runs: past the settle time, the statements are stored without tables; the fresh
    // Snowflake query is held back; the failed statement is stored at once.
    let job = load(&server).await;
    assert_eq!(job["state"], "SUCCEEDED", "{job}");
    let untabled = query_events(&server, LATE);
    assert_eq!(untabled.len(), 1, "{untabled:?}");
    assert_eq!(untabled[0]["action"], "QUERY");
    assert_eq!(untabled[0]["auditPayload"]["objectsAccessed"], json!([]));
    assert_eq!(query_events(&server, FAILED).len(), 1);
    let snowflake_untabled = query_events(&server, "01a9c8f5-0000-0000-0000-00000000late");
    assert_eq!(snowflake_untabled.len(), 1, "{snowflake_untabled:?}");
    assert_eq!(snowflake_untabled[0]["targets"], json!([]));
    assert_eq!(
        snowflake_untabled[0]["auditPayload"]["technologyContext"]["type"],
        "SnowflakeContext"
    );
    assert!(query_events(&server, "01a9c8f5-0000-0000-0000-0000000fresh").is_empty());
    let snowflake_run = job["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["kind"] == "SNOWFLAKE" || item["type"] == "SNOWFLAKE")
        .unwrap()["run"]
        .clone();
    assert_eq!(snowflake_run["deferred"], 1, "{job}");

    // The lineage and the access history arrive.
    *databricks.state.rows.lock().unwrap() = vec![
        databricks_row(
            LATE,
            "taylor@example.com",
            now - chrono::Duration::minutes(60),
            Some(exhibition),
        ),
        databricks_row(
            LATE,
            "taylor@example.com",
            now - chrono::Duration::minutes(60),
            Some(("main", "sales", "orders", r#"["amount"]"#)),
        ),
    ];
    *snowflake.state.rows.lock().unwrap() = vec![snowflake_row(
        "01a9c8f5-0000-0000-0000-00000000late",
        "TSMITH",
        now - chrono::Duration::minutes(200),
        CASE_ONLY,
    )];
    for _ in 0..2 {
        // The second load re-reads the same window: nothing new.
        let job = load(&server).await;
        assert_eq!(job["state"], "SUCCEEDED", "{job}");
    }
    let events = query_events(&server, LATE);
    assert_eq!(events.len(), 3, "{events:?}");
    let queries: Vec<&Value> = events.iter().filter(|e| e["action"] == "QUERY").collect();
    assert_eq!(queries.len(), 1, "one statement, one QUERY: {events:?}");
    let resolved: Vec<&Value> = events
        .iter()
        .filter(|e| e["action"] == "QUERY_LINEAGE_RESOLVED")
        .collect();
    assert_eq!(resolved.len(), 2, "{events:?}");
    for event in &resolved {
        let payload = &event["auditPayload"];
        assert_eq!(payload["type"], "QueryLineageResolvedAuditPayload");
        assert_eq!(payload["resolvesEventId"], queries[0]["id"]);
        assert_eq!(payload["objectsAccessed"].as_array().unwrap().len(), 1);
        assert_eq!(event["eventTimestamp"], queries[0]["eventTimestamp"]);
    }
    let snowflake_events = query_events(&server, "01a9c8f5-0000-0000-0000-00000000late");
    assert_eq!(snowflake_events.len(), 2, "{snowflake_events:?}");
    assert_eq!(snowflake_events[1]["action"], "QUERY_LINEAGE_RESOLVED");
    assert_eq!(
        snowflake_events[1]["targets"],
        json!([{ "type": "DATASOURCE", "id": "3", "name": "Case", "technology": "SNOWFLAKE" }])
    );

    // Search finds the statement by its late table; the QUERY count stays one per statement.
    let found = search_until(
        &server,
        "/api/audit/events?dataSourceId=2034&size=10&facets=action&from=2000-01-01",
        |body| body["hits"][0]["action"] == "QUERY_LINEAGE_RESOLVED",
    )
    .await;
    // The data source's own CREATE event, and the late access.
    assert_eq!(
        found["facets"]["action"]["values"],
        json!([{ "count": 1, "value": "CREATE" }, { "count": 1, "value": "QUERY_LINEAGE_RESOLVED" }]),
        "{found}"
    );
    // Reports count the late access once, at the statement's time.
    let (status, report) = get(
        &server,
        "/api/audit/reports/run?entityType=datasource&name=University%20Art%20Gallery%20Exhibition&report=users-accessed&from=2000-01-01&to=2100-01-01",
    )
    .await;
    assert_eq!(status, 200, "{report}");
    // User, Username, Email, Latest query, Last access, Queries.
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{report}");
    assert_eq!(rows[0][1], "taylor@example.com", "{report}");
    assert_eq!(rows[0][5], 1, "{report}");
    server.terminate();
}

/// Writes are audited with the table written: Trino's `ioMetadata.output`
/// (`io.trino.spi.eventlistener.QueryOutputMetadata`; the target is also in `metadata.tables`, with
/// no columns), Snowflake's `ACCESS_HISTORY.OBJECTS_MODIFIED` (a `COPY INTO` whose only base object
/// is a stage), and the `target_*` columns of Unity Catalog's `system.access.table_lineage`. The
/// written table is in `objectsAccessed` with `accessType: WRITE` and in `targets` when
/// registered; the access reports say read or write.
#[tokio::test]
async fn writes_are_audited_with_the_table_written() {
    let databricks = fakes::databricks("dapi-test-token").await;
    let snowflake = fakes::snowflake(TEST_KEY_PEM, TEST_KEY_FINGERPRINT, "ACME.VIGIL_AUDIT").await;
    let now = Utc::now();
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    register(&server).await;
    map_tsmith_to_taylor(&server).await;

    // Trino: INSERT INTO tpch.tiny.orders SELECT … FROM tpch.tiny.customer.
    let mut insert = trino_completed("20240419_090000_00001_67mum", "taylor@example.com");
    insert["metadata"]["query"] =
        json!("insert into tpch.tiny.orders (clerk) select name from tpch.tiny.customer");
    insert["metadata"]["tables"] = json!([
        { "catalog": "tpch", "schema": "tiny", "table": "customer", "authorization": "user",
          "filters": [], "columns": [{ "column": "name" }], "directlyReferenced": true, "referenceChain": [] },
        { "catalog": "tpch", "schema": "tiny", "table": "orders", "authorization": "user",
          "filters": [], "columns": [], "directlyReferenced": true, "referenceChain": [] }
    ]);
    insert["ioMetadata"] = json!({
        "inputs": [{ "catalogName": "tpch", "schema": "tiny", "table": "customer",
                     "columns": [{ "name": "name", "type": "varchar(25)" }],
                     "physicalInputBytes": 0, "physicalInputRows": 1500 }],
        "output": {
            "catalogName": "tpch", "catalogVersion": "default", "schema": "tiny", "table": "orders",
            "columns": [{ "columnName": "clerk", "sourceColumns": [
                { "catalog": "tpch", "schema": "tiny", "table": "customer", "columnName": "name" }] }],
            "connectorOutputMetadata": null, "jsonLengthLimitExceeded": null
        }
    });
    insert["context"]["queryType"] = json!("INSERT");
    let (status, body) = post(&server, "/api/audit/ingest/trino", insert).await;
    assert_eq!(status, 200, "{body}");
    let (_, stored) = get(&server, "/api/audit/events/20240419_090000_00001_67mum").await;
    let objects = stored["auditPayload"]["objectsAccessed"]
        .as_array()
        .unwrap();
    assert_eq!(objects.len(), 2, "{stored}");
    assert_eq!(objects[0]["name"], "\"tpch\".\"tiny\".\"customer\"");
    assert!(objects[0].get("accessType").is_none(), "{stored}");
    assert_eq!(objects[1]["name"], "\"tpch\".\"tiny\".\"orders\"");
    assert_eq!(objects[1]["accessType"], "WRITE");
    assert_eq!(objects[1]["datasourceId"], "13");
    assert_eq!(objects[1]["columns"][0]["name"], "clerk");
    let targets: Vec<&Value> = stored["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["id"])
        .collect();
    assert_eq!(targets, [&json!("17"), &json!("13")], "{stored}");

    // Snowflake: COPY INTO DB.PUBLIC.CASE FROM @STAGE1 reads only a stage and writes the table.
    let mut copy = snowflake_row(
        "01a9c8f5-0000-0000-0000-00000000copy",
        "TSMITH",
        now - chrono::Duration::minutes(30),
        r#"[{"objectDomain":"Stage","objectId":5,"objectName":"DB.PUBLIC.STAGE1","stageKind":"Internal Named"}]"#,
    );
    copy["QUERY_TEXT"] = json!("COPY INTO DB.PUBLIC.CASE FROM @DB.PUBLIC.STAGE1");
    copy["OBJECTS_MODIFIED"] = json!(
        r#"[{"objectDomain":"Table","objectId":1,"objectName":"DB.PUBLIC.CASE","columns":[{"columnId":1,"columnName":"DOB","baseSources":[],"directSources":[]}]}]"#
    );
    *snowflake.state.rows.lock().unwrap() = vec![copy];
    // Unity Catalog: INSERT INTO catalog.audit_uc_test.exhibition SELECT … FROM main.sales.orders.
    const WRITER: &str = "01ee14da-0000-0000-0000-00000000copy";
    let mut written = databricks_row(
        WRITER,
        "taylor@example.com",
        now - chrono::Duration::minutes(60),
        Some(("catalog", "audit_uc_test", "exhibition", "")),
    );
    written["access_type"] = json!("WRITE");
    written["columns"] = Value::Null;
    *databricks.state.rows.lock().unwrap() = vec![
        databricks_row(
            WRITER,
            "taylor@example.com",
            now - chrono::Duration::minutes(60),
            Some(("main", "sales", "orders", r#"["amount"]"#)),
        ),
        written,
    ];
    add_unity_catalog_and_snowflake(&server, &databricks.base, &snowflake.base).await;
    let job = load(&server).await;
    assert_eq!(job["state"], "SUCCEEDED", "{job}");

    let copied = query_events(&server, "01a9c8f5-0000-0000-0000-00000000copy");
    assert_eq!(copied.len(), 1, "{copied:?}");
    assert_eq!(
        copied[0]["targets"],
        json!([{ "type": "DATASOURCE", "id": "3", "name": "Case", "technology": "SNOWFLAKE" }])
    );
    assert_eq!(
        copied[0]["auditPayload"]["objectsAccessed"],
        json!([{ "name": "DB.PUBLIC.CASE", "datasourceId": "3", "databaseName": "DB",
                 "schemaName": "PUBLIC", "type": "TABLE", "accessType": "WRITE",
                 "columns": [{ "name": "DOB", "tags": [], "inferred": false }], "tags": [] }])
    );
    let statement = query_events(&server, WRITER);
    assert_eq!(statement.len(), 2, "a read and a write: {statement:?}");
    let write = statement
        .iter()
        .find(|event| event["auditPayload"]["objectsAccessed"][0]["accessType"] == "WRITE")
        .expect("the write");
    assert_eq!(
        write["targets"],
        json!([{ "type": "DATASOURCE", "id": "2034", "name": "University Art Gallery Exhibition", "technology": "DATABRICKS" }])
    );
    assert_ne!(statement[0]["id"], statement[1]["id"]);

    // The access report says which data sources Taylor read and which she wrote.
    let (status, report) = get(
        &server,
        "/api/audit/reports/run?entityType=user&name=taylor@example.com&report=data-sources-accessed&from=2000-01-01&to=2100-01-01",
    )
    .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["columns"][4], "Access", "{report}");
    let access: Vec<(String, String)> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row[0].as_str().unwrap().to_owned(),
                row[4].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        access,
        [
            ("Case".to_owned(), "write".to_owned()),
            ("Tiny Customer".to_owned(), "read".to_owned()),
            ("Tiny Orders".to_owned(), "write".to_owned()),
            (
                "University Art Gallery Exhibition".to_owned(),
                "write".to_owned()
            ),
        ],
        "{report}"
    );
    server.terminate();
}
