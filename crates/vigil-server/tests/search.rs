//! Search over HTTP against the real binary: the legacy `GET /audit` of the seed, UAM search,
//! the service recording its own reads, freshness, bad parameters, and recovery of the index.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{ADMIN_KEY, Server, client, event, fixture};
use serde_json::{Value, json};

/// How long an acknowledged event may take to become searchable in these tests (the target is
/// 2 s; tests on a loaded machine get more room).
const SEARCHABLE_WITHIN: Duration = Duration::from_secs(20);

async fn get(server: &Server, path_and_query: &str) -> (u16, Value) {
    let response = client()
        .get(server.url(path_and_query))
        .header("Authorization", ADMIN_KEY)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn post(server: &Server, body: String) -> Value {
    let response = client()
        .post(server.url("/api/audit/events"))
        .header("Authorization", ADMIN_KEY)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Polls a search until `done` holds for its answer, or fails after `SEARCHABLE_WITHIN`. An
/// index being rebuilt answers 503 `rebuilding` meanwhile.
async fn wait_for(server: &Server, path_and_query: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + SEARCHABLE_WITHIN;
    loop {
        let (status, body) = get(server, path_and_query).await;
        if status == 503 {
            assert_eq!(body["code"], "rebuilding", "{body}");
        } else {
            assert_eq!(status, 200, "{body}");
        }
        if status == 200 && done(&body) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{path_and_query} did not reach the expected state: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn load_seed(server: &Server) {
    let text = std::fs::read_to_string(fixture("uam-examples.json")).unwrap();
    let report = post(server, text).await;
    assert_eq!(report["accepted"], 77);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_seed_legacy_request_returns_the_documented_shape() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    load_seed(&server).await;
    // 77 seed events and the bootstrap key's ApiKeyCreated event.
    wait_for(&server, "/audit?recordType=apiKey", |body| {
        body["count"] == 3
    })
    .await;

    // The seed's curl: a bare key in Authorization, Content-Type on a GET.
    let response = client()
        .get(server.url("/audit?sortField=dateTime&sortOrder=desc"))
        .header("Content-Type", "application/json")
        .header("Authorization", ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let total = body["count"].as_u64().unwrap();
    assert!(total >= 78, "{total}");
    let hits = body["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 50, "size defaults to 50");
    for key in [
        "dateTime",
        "dataSourceName",
        "projectName",
        "recordType",
        "blobId",
        "userId",
        "profileId",
        "purposeIds",
        "success",
        "failureReason",
        "warning",
        "id",
        "fingerprintVersionName",
        "email",
    ] {
        assert!(hits[0].get(key).is_some(), "hits lack `{key}`: {}", hits[0]);
    }
    let times: Vec<u64> = hits
        .iter()
        .map(|hit| hit["dateTime"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|pair| pair[0] >= pair[1]),
        "newest first"
    );
    for facet in [
        "datasources",
        "projects",
        "recordTypes",
        "users",
        "outcomes",
    ] {
        assert!(body["facets"][facet].is_array(), "facets lack `{facet}`");
    }
    let gallery = body["facets"]["datasources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == 2034)
        .unwrap();
    assert_eq!(gallery["name"], "University Art Gallery Exhibition");
    assert!(
        gallery["count"].is_string(),
        "counts are strings, as in the seed"
    );
    assert!(body["minDate"].as_str().unwrap().ends_with('Z') && body["maxDate"].is_string());

    // Filters: a data source, a record type.
    // Only the Snowflake example names data source 2034 (the Databricks one is malformed).
    let (_, body) = get(&server, "/audit?dataSourceId=2034&dataSourceId[]=99999").await;
    assert_eq!(body["count"], 1);
    assert!(
        body["hits"]
            .as_array()
            .unwrap()
            .iter()
            .all(|hit| hit["dataSourceName"] == "University Art Gallery Exhibition")
    );
    let (_, body) = get(&server, "/audit?recordType=dataSourceCreate").await;
    assert_eq!(body["count"], 1);
    assert_eq!(body["hits"][0]["recordType"], "dataSourceCreate");
    // The seed's text holds the web page's placeholder, not an address: no email is claimed.
    assert_eq!(body["hits"][0]["userId"], "[email protected]");
    assert_eq!(body["hits"][0]["email"], Value::Null);
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_paging_with_size_and_offset_returns_each_record_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    load_seed(&server).await;
    // Only the seed's own events: the searches below add auditQuery events of their own.
    let filter = "outcome=success&minDate=2020-01-01&maxDate=2025-12-31";
    let first = wait_for(&server, &format!("/audit?{filter}"), |body| {
        body["count"] == 77
    })
    .await;
    let total = first["count"].as_u64().unwrap() as usize;
    let mut ids = Vec::new();
    for offset in (0..total).step_by(8) {
        let (status, page) = get(
            &server,
            &format!("/audit?{filter}&size=8&offset={offset}&sortOrder=asc"),
        )
        .await;
        assert_eq!(status, 200);
        ids.extend(
            page["hits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|hit| hit["id"].as_str().unwrap().to_owned()),
        );
    }
    assert_eq!(ids.len(), total);
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        total,
        "a record appeared twice"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn searches_are_recorded_as_audit_query_events() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let (status, _) = get(&server, "/api/audit/events?action=QUERY&q=payroll").await;
    assert_eq!(status, 200);
    let body = wait_for(
        &server,
        "/api/audit/events?recordType=auditQuery&facets=none",
        |body| {
            body["hits"]
                .as_array()
                .unwrap()
                .iter()
                .any(|hit| hit["auditPayload"]["filters"]["q"] == json!(["payroll"]))
        },
    )
    .await;
    let recorded = body["hits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|hit| hit["auditPayload"]["filters"]["q"] == json!(["payroll"]))
        .unwrap();
    assert_eq!(recorded["actor"]["id"], "admin");
    assert_eq!(
        recorded["auditPayload"]["filters"]["action"],
        json!(["QUERY"])
    );
    assert_eq!(recorded["auditPayload"]["hitCount"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_acknowledged_event_becomes_searchable_with_its_fields() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let mut fresh = event("fresh-1");
    fresh["auditPayload"]["query"] = json!("SELECT salary FROM hr.payroll");
    post(&server, fresh.to_string()).await;
    let body = wait_for(
        &server,
        "/api/audit/events?q=payroll&facets=actorName,technology",
        |body| body["total"] == 1,
    )
    .await;
    let mut expected = fresh.clone();
    expected["receivedTimestamp"] = body["hits"][0]["receivedTimestamp"].clone();
    assert_eq!(body["hits"][0], expected, "a hit is the stored event");
    assert_eq!(
        body["facets"]["actorName"]["values"],
        json!([{ "value": "Taylor", "count": 1 }])
    );
    assert_eq!(
        body["facets"]["technology"]["values"],
        json!([{ "value": "SNOWFLAKE", "count": 1 }])
    );
    let (_, body) = get(
        &server,
        "/api/audit/events?dataSourceId=2034&actionStatus=SUCCESS&eventId=fresh-1",
    )
    .await;
    assert_eq!(body["total"], 1);
    let (_, body) = get(
        &server,
        "/api/audit/events?eventId=fresh-1&from=2024-03-22&facets=none",
    )
    .await;
    assert_eq!(
        body["total"], 0,
        "from is inclusive of the day, the event is on 2024-03-21"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_bad_parameter_gets_a_400_that_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let cases = [
        ("/api/audit/events?colour=red", "`colour`"),
        ("/api/audit/events?size=ten", "`size`"),
        ("/api/audit/events?size=5000", "`size`"),
        ("/api/audit/events?offset=-1", "`offset`"),
        ("/api/audit/events?from=yesterday", "`from`"),
        ("/api/audit/events?from=2024-02-01&to=2024-01-01", "`from`"),
        ("/api/audit/events?cursor=abc", "`cursor`"),
        ("/api/audit/events?facets=action,flavour", "`facets`"),
        ("/api/audit/events?facets=eventId", "`facets`"),
        ("/api/audit/events?legacyUser=1", "`legacyUser`"),
        ("/api/audit/events?sort=name", "`sort`"),
        ("/api/audit/events?order=up", "`order`"),
        ("/api/audit/events?q=a&q=b", "`q`"),
        ("/audit?sortField=name", "`sortField`"),
        ("/audit?sortOrder=sideways", "`sortOrder`"),
        ("/audit?outcome=meh", "`outcome`"),
        ("/audit?minDate=soon", "`minDate`"),
        ("/audit?size=many", "`size`"),
        ("/audit?dataSource=1", "`dataSource`"),
        ("/api/audit/events?histogram=10", "`histogram`"),
        (
            "/api/audit/events?from=2024-01-01&histogram=10",
            "`histogram`",
        ),
        (
            "/api/audit/events?from=2024-01-01&to=2024-01-02&histogram=5000",
            "`histogram`",
        ),
    ];
    for (path, named) in cases {
        let (status, body) = get(&server, path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(named),
            "{path}: {body}"
        );
    }
    assert_eq!(get(&server, "/healthz").await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_server_during_indexing_ends_with_an_index_equal_to_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let mut stored = 0;
    for batch in 0..20 {
        let events: Vec<Value> = (0..1_000)
            .map(|i| event(&format!("k-{batch}-{i}")))
            .collect();
        stored += post(&server, Value::Array(events).to_string()).await["accepted"]
            .as_u64()
            .unwrap();
    }
    server.kill();
    let server = Server::start(dir.path());
    let expected = stored + 1; // and the bootstrap key's event
    let body = wait_for(
        &server,
        "/api/audit/events?facets=eventType&size=1",
        |body| body["total"].as_u64() >= Some(expected),
    )
    .await;
    // auditQuery events of the polling above may be indexed too: count the query events exactly.
    let types = &body["facets"]["eventType"]["values"];
    let query_events = types
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["value"] == "Query")
        .unwrap();
    assert_eq!(query_events["count"], stored);

    // Deleting the index directory rebuilds it on the next start.
    assert!(server.terminate().success());
    std::fs::remove_dir_all(dir.path().join("index")).unwrap();
    let server = Server::start(dir.path());
    let body = wait_for(
        &server,
        "/api/audit/events?facets=eventType&size=1&eventType=Query",
        |body| body["total"] == stored,
    )
    .await;
    assert_eq!(body["facets"]["eventType"]["values"][0]["count"], stored);
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_removes_old_events_from_log_and_index_and_records_it() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let file = dir.path().join("history.ndjson");
    let long_ago = (chrono::Utc::now() - chrono::Duration::days(400)).to_rfc3339();
    let lines: Vec<String> = (0..5)
        .map(|i| {
            let mut old = event(&format!("ancient-{i}"));
            old["eventTimestamp"] = json!(long_ago);
            old.to_string()
        })
        .chain(std::iter::once({
            let mut recent = event("recent");
            recent["eventTimestamp"] = json!(chrono::Utc::now().to_rfc3339());
            recent.to_string()
        }))
        .collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    let imported = common::vigil(&[
        "import",
        file.to_str().unwrap(),
        "--data-dir",
        data_dir.to_str().unwrap(),
    ]);
    assert!(imported.status.success(), "{imported:?}");

    let server = Server::start_with(&data_dir, &["--retention-days", "30"]);
    let body = wait_for(
        &server,
        "/api/audit/events?eventType=EventsRemoved&facets=none",
        |body| body["total"] == 1,
    )
    .await;
    assert_eq!(body["hits"][0]["auditPayload"]["fromSeq"], 1);
    assert_eq!(body["hits"][0]["auditPayload"]["toSeq"], 5);
    wait_for(
        &server,
        "/api/audit/events?eventId=ancient-0&facets=none",
        |body| body["total"] == 0,
    )
    .await;
    let response = client()
        .get(server.url("/api/audit/events/ancient-3"))
        .header("Authorization", ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let (_, body) = get(&server, "/api/audit/events?eventId=recent&facets=none").await;
    assert_eq!(body["total"], 1);
    assert!(server.terminate().success());

    let verified = common::vigil(&["verify", "--data-dir", data_dir.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&verified.stdout);
    assert!(verified.status.success(), "{stdout}");
    assert!(
        stdout.contains("from sequence number 6 (earlier events removed by retention)"),
        "{stdout}"
    );
}

/// `vigil import` indexes what it stores: a server started on the directory finds every event in
/// its first answer, without indexing them again (more than one read batch of the indexer, which
/// a server would fill in the background).
#[tokio::test(flavor = "multi_thread")]
async fn an_import_leaves_its_events_searchable_when_the_server_starts() {
    const IMPORTED: usize = 6_000;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let file = dir.path().join("history.ndjson");
    let lines: Vec<String> = (0..IMPORTED)
        .map(|i| event(&format!("imported-{i}")).to_string())
        .collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    let imported = common::vigil(&[
        "import",
        file.to_str().unwrap(),
        "--data-dir",
        data_dir.to_str().unwrap(),
    ]);
    assert!(imported.status.success(), "{imported:?}");
    // The index's last commit says it holds every imported event.
    let meta: Value =
        serde_json::from_slice(&std::fs::read(data_dir.join("index/meta.json")).unwrap()).unwrap();
    let payload: Value = serde_json::from_str(meta["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload["seq"], IMPORTED, "{payload}");

    let server = Server::start(&data_dir);
    let (status, body) = get(&server, "/api/audit/events?action=QUERY&facets=none&size=1").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["total"], IMPORTED, "{body}");
    assert!(server.terminate().success());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_search_command_prints_a_table_or_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let events: Vec<Value> = (0..3).map(|i| event(&format!("cli-{i}"))).collect();
    post(&server, Value::Array(events).to_string()).await;
    wait_for(
        &server,
        "/api/audit/events?action=QUERY&facets=none",
        |body| body["total"] == 3,
    )
    .await;
    let base = server.base.clone();
    let run = move |extra: &[&str]| {
        let mut args = vec!["search", "--url", &base, "--api-key", ADMIN_KEY];
        args.extend_from_slice(extra);
        common::vigil(&args)
    };
    let output = tokio::task::spawn_blocking({
        let run = run.clone();
        move || run(&["-f", "action=QUERY", "--json"])
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{output:?}");
    let lines: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert!(lines.iter().all(|event| event["action"] == "QUERY"));

    let output = tokio::task::spawn_blocking({
        let run = run.clone();
        move || run(&["--filter", "actorName=Taylor", "--size", "2"])
    })
    .await
    .unwrap();
    let table = String::from_utf8(output.stdout).unwrap();
    assert!(table.starts_with("EVENT TIME"), "{table}");
    assert!(
        table.trim_end().ends_with("2 of 3 matching events"),
        "{table}"
    );

    let output = tokio::task::spawn_blocking(move || run(&["--filter", "colour=red"]))
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("`colour` is not a known parameter"),
        "{output:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_ingest_requests_and_index_lag() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let batch = json!([event("m-1"), event("m-2"), event("m-1"), { "action": "QUERY" }]);
    post(&server, batch.to_string()).await;
    wait_for(
        &server,
        "/api/audit/events?eventId=m-2&facets=none",
        |body| body["total"] == 1,
    )
    .await;
    let metrics = |key: Option<&'static str>| {
        let mut request = client().get(server.url("/metrics"));
        if let Some(key) = key {
            request = request.header("Authorization", key);
        }
        request.send()
    };
    assert_eq!(metrics(None).await.unwrap().status(), 401);
    let text = metrics(Some(ADMIN_KEY))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for expected in [
        "vigil_events_stored_total 2\n",
        "vigil_events_duplicate_total 1\n",
        "vigil_events_rejected_total 1\n",
        "# TYPE vigil_index_lag_events gauge\n",
        "vigil_http_requests_total{path=\"/api/audit/events\",status=\"200\"}",
        "vigil_http_request_duration_seconds_count{path=\"/api/audit/events\"}",
        "# EOF\n",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reindex_refuses_a_running_server_and_rebuilds_a_stopped_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    post(&server, json!([event("r-1"), event("r-2")]).to_string()).await;
    wait_for(
        &server,
        "/api/audit/events?action=QUERY&facets=none",
        |body| body["total"] == 2,
    )
    .await;
    let data_dir = dir.path().to_str().unwrap().to_owned();
    let busy = common::vigil(&["reindex", "--data-dir", &data_dir]);
    assert!(!busy.status.success());
    assert!(
        String::from_utf8_lossy(&busy.stderr).contains("in use by a running vigil"),
        "{busy:?}"
    );
    assert!(server.terminate().success());

    let rebuilt = common::vigil(&["reindex", "--data-dir", &data_dir]);
    assert!(rebuilt.status.success(), "{rebuilt:?}");
    assert!(
        String::from_utf8_lossy(&rebuilt.stdout).starts_with("reindexed "),
        "{rebuilt:?}"
    );
    let server = Server::start(dir.path());
    let (_, body) = get(&server, "/api/audit/events?action=QUERY&facets=none").await;
    assert_eq!(body["total"], 2, "the rebuilt index serves at once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_histogram_counts_the_matching_events_per_time_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    // Three events on 2024-03-01, one on the 2nd, one on the 4th; one outside the range.
    let events: Vec<Value> = [
        ("h1", "2024-03-01T01:00:00Z"),
        ("h2", "2024-03-01T12:00:00Z"),
        ("h3", "2024-03-01T23:59:59.999Z"),
        ("h4", "2024-03-02T00:00:00Z"),
        ("h5", "2024-03-04T10:00:00Z"),
        ("h6", "2024-03-09T10:00:00Z"),
    ]
    .into_iter()
    .map(|(id, time)| {
        let mut event = event(id);
        event["eventTimestamp"] = json!(time);
        event
    })
    .collect();
    post(&server, Value::from(events).to_string()).await;
    let path = "/api/audit/events?action=QUERY&from=2024-03-01T00:00:00Z&to=2024-03-04T23:59:59.999Z&histogram=4&facets=none";
    let body = wait_for(&server, path, |body| body["total"] == 5).await;
    let histogram = &body["histogram"];
    assert_eq!(histogram["bucketMillis"], 86_400_000, "{histogram}");
    let buckets: Vec<(String, u64)> = histogram["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["start"].as_str().unwrap().to_owned(),
                b["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        buckets,
        [
            ("2024-03-01T00:00:00.000Z".to_owned(), 3),
            ("2024-03-02T00:00:00.000Z".to_owned(), 1),
            ("2024-03-03T00:00:00.000Z".to_owned(), 0),
            ("2024-03-04T00:00:00.000Z".to_owned(), 1),
        ]
    );
    // Without the parameter there is no histogram.
    let (_, plain) = get(&server, "/api/audit/events?action=QUERY&facets=none").await;
    assert!(plain.get("histogram").is_none(), "{plain}");
}

/// Events for the filter tests: three actors (names in several cases), two actions, two data
/// sources, and times relative to now.
fn daily_events(now: chrono::DateTime<chrono::Utc>) -> Vec<Value> {
    let mut events = Vec::new();
    for i in 0..30 {
        let (actor_id, actor_name) = match i % 3 {
            0 => ("taylor@example.com", "Taylor Smith"),
            1 => ("ann@example.com", "ann lee"),
            _ => ("bob@example.com", "BOB STONE"),
        };
        let (source_id, source_name) = if i % 2 == 0 {
            ("7", "Payroll")
        } else {
            ("8", "Customers")
        };
        events.push(json!({
            "id": format!("daily-{i:02}"),
            "action": if i % 5 == 0 { "UPDATE" } else { "QUERY" },
            "actor": { "type": "USER_ACTOR", "id": actor_id, "name": actor_name },
            "targetType": "DATASOURCE",
            "targets": [{ "type": "DATASOURCE", "id": source_id, "name": source_name, "technology": "SNOWFLAKE" }],
            "actionStatus": "SUCCESS",
            // Every 10 minutes back from now.
            "eventTimestamp": (now - chrono::Duration::minutes(10 * i)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "auditPayload": { "type": "QueryAuditPayload", "queryId": format!("q{i}"), "query": format!("SELECT {i}") }
        }));
    }
    events
}

/// How many of `events` hold for `keep`.
fn count(events: &[Value], keep: impl Fn(&Value) -> bool) -> u64 {
    events.iter().filter(|event| keep(event)).count() as u64
}

/// The count of `value` in facet `field` of a search answer.
fn facet_count(body: &Value, field: &str, value: &str) -> u64 {
    body["facets"][field]["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["value"] == value)
        .map_or(0, |entry| entry["count"].as_u64().unwrap())
}

/// Daily use of the search API: vigil's own reads out of the way unless asked for, exclusions,
/// disjunctive facets, names in any case, relative times, `size=0`, unknown names listed; every
/// count checked against the stored JSON.
#[tokio::test(flavor = "multi_thread")]
async fn filters_people_expect_count_what_the_stored_events_say() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let now = chrono::Utc::now();
    let events = daily_events(now);
    post(&server, Value::Array(events.clone()).to_string()).await;
    // The posted events (the server's bootstrap key has an `ApiKeyCreated` event of its own).
    let window = "from=now-6h&to=now&targetType=DATASOURCE";
    wait_for(
        &server,
        &format!("/api/audit/events?{window}&size=0"),
        |body| body["total"] == 30,
    )
    .await;
    // The searches above were recorded; they are hidden from the page unless asked for.
    wait_for(
        &server,
        "/api/audit/events?action=AUDIT_QUERY&size=0&facets=none",
        |body| body["total"].as_u64().unwrap() >= 1,
    )
    .await;
    let (_, plain) = get(&server, "/api/audit/events?size=100&facets=action").await;
    assert_eq!(facet_count(&plain, "action", "AUDIT_QUERY"), 0, "{plain}");
    assert_eq!(facet_count(&plain, "action", "QUERY"), 24, "{plain}");
    let (_, shown) = get(
        &server,
        "/api/audit/events?size=0&facets=action&ownReads=include",
    )
    .await;
    let own = facet_count(&shown, "action", "AUDIT_QUERY");
    assert!(own >= 1, "{shown}");
    assert_eq!(
        shown["total"].as_u64().unwrap() - own,
        plain["total"].as_u64().unwrap(),
        "{shown}"
    );

    // Exclusions, repeatable.
    let (_, body) = get(
        &server,
        &format!("/api/audit/events?{window}&size=0&facets=none&action.not=UPDATE&actorId.not=bob@example.com"),
    )
    .await;
    assert_eq!(
        body["total"].as_u64().unwrap(),
        count(&events, |e| e["action"] != "UPDATE"
            && e["actor"]["id"] != "bob@example.com")
    );
    // Disjunctive facets: the action facet counts as if its own filter were absent; two values
    // of one facet add up.
    let (_, body) = get(
        &server,
        &format!("/api/audit/events?{window}&size=0&facets=action,dataSourceName&action=UPDATE&dataSourceName=Payroll"),
    )
    .await;
    let payroll = |e: &Value| e["targets"][0]["name"] == "Payroll";
    assert_eq!(
        body["total"].as_u64().unwrap(),
        count(&events, |e| e["action"] == "UPDATE" && payroll(e))
    );
    assert_eq!(
        facet_count(&body, "action", "QUERY"),
        count(&events, |e| e["action"] == "QUERY" && payroll(e)),
        "{body}"
    );
    assert_eq!(
        facet_count(&body, "dataSourceName", "Customers"),
        count(&events, |e| e["action"] == "UPDATE" && !payroll(e)),
        "{body}"
    );
    let (_, both) = get(
        &server,
        &format!("/api/audit/events?{window}&size=0&facets=none&action=UPDATE&action=QUERY"),
    )
    .await;
    assert_eq!(both["total"], 30);
    // Names in any case; ids exactly.
    for (query, expected) in [
        (
            "actorName=taylor%20smith",
            count(&events, |e| e["actor"]["name"] == "Taylor Smith"),
        ),
        (
            "actorName=Bob%20Stone",
            count(&events, |e| e["actor"]["name"] == "BOB STONE"),
        ),
        ("dataSourceName=PAYROLL", count(&events, payroll)),
        (
            "actorName.not=ANN%20LEE",
            count(&events, |e| e["actor"]["name"] != "ann lee"),
        ),
        ("actorId=TAYLOR@EXAMPLE.COM", 0),
        (
            "actorId=taylor@example.com",
            count(&events, |e| e["actor"]["id"] == "taylor@example.com"),
        ),
    ] {
        let (status, body) = get(
            &server,
            &format!("/api/audit/events?{window}&size=0&facets=none&{query}"),
        )
        .await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(body["total"].as_u64().unwrap(), expected, "{query}: {body}");
    }
    // The facet keeps the name as written.
    let (_, body) = get(
        &server,
        &format!("/api/audit/events?{window}&size=0&facets=actorName"),
    )
    .await;
    assert_eq!(facet_count(&body, "actorName", "BOB STONE"), 10, "{body}");
    // Relative times: the last 55 minutes hold the events of 0, 10, … 50 minutes ago.
    for (query, expected) in [
        ("from=now-55m", 6),
        ("from=55m", 6),
        ("from=now-125m&to=now-61m", 6),
        ("from=now-1d", 30),
    ] {
        let (status, body) = get(
            &server,
            &format!("/api/audit/events?{query}&targetType=DATASOURCE&size=0&facets=none"),
        )
        .await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(body["total"], expected, "{query}: {body}");
    }
    // size=0: no hits. Unknown names: the valid ones are listed.
    let (_, body) = get(&server, &format!("/api/audit/events?{window}&size=0")).await;
    assert_eq!(body["hits"], json!([]));
    let (status, body) = get(&server, "/api/audit/events?colour=red").await;
    assert_eq!(status, 400);
    let message = body["error"].as_str().unwrap();
    assert!(
        message.contains("`colour` is not a known parameter"),
        "{message}"
    );
    assert!(message.contains("actorName.not"), "{message}");
    let (status, body) = get(&server, "/api/audit/events?facets=colour").await;
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap().contains("dataSourceName"),
        "{body}"
    );
    let (status, body) = get(&server, "/api/audit/events?from=now-5x").await;
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap().contains("now-15m"),
        "{body}"
    );
}

/// `GET /audit` (the seed's sample lists `auditQuery` records): a reader paging with size and
/// offset, pausing until its previous read is recorded and searchable, gets each record once.
#[tokio::test(flavor = "multi_thread")]
async fn legacy_paging_is_not_shifted_by_the_readers_own_reads() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let events: Vec<Value> = (0..25).map(|i| event(&format!("page-{i:02}"))).collect();
    post(&server, Value::Array(events).to_string()).await;
    wait_for(&server, "/api/audit/events?action=QUERY&size=0", |body| {
        body["total"] == 25
    })
    .await;
    let reads = |body: &Value| body["total"].as_u64().unwrap();
    let mut ids = Vec::new();
    let mut total = None;
    for page in 0.. {
        let before = reads(
            &get(
                &server,
                "/api/audit/events?action=AUDIT_QUERY&size=0&facets=none",
            )
            .await
            .1,
        );
        let (status, body) = get(&server, &format!("/audit?size=10&offset={}", page * 10)).await;
        assert_eq!(status, 200, "{body}");
        total.get_or_insert(body["count"].as_u64().unwrap());
        assert_eq!(
            Some(body["count"].as_u64().unwrap()),
            total,
            "the count moved: {body}"
        );
        let hits = body["hits"].as_array().unwrap();
        if hits.is_empty() {
            break;
        }
        ids.extend(
            hits.iter()
                .map(|hit| hit["id"].as_str().unwrap().to_owned()),
        );
        // Pause until this read (and the count above) are recorded and searchable.
        wait_for(
            &server,
            "/api/audit/events?action=AUDIT_QUERY&size=0&facets=none",
            |body| reads(body) >= before + 2,
        )
        .await;
    }
    assert_eq!(ids.len() as u64, total.unwrap());
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        ids.len(),
        "a record came twice: {ids:?}"
    );
    assert!(
        ids.iter().filter(|id| id.starts_with("page-")).count() == 25,
        "{ids:?}"
    );
}

/// Results taken away: every match as CSV or NDJSON, streamed in the search's order; CSV has the
/// documented columns; the download is recorded like a read; the CLI streams the same.
#[tokio::test(flavor = "multi_thread")]
async fn matching_events_download_as_csv_and_ndjson() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let now = chrono::Utc::now();
    // More than one page of the download (1,000 events a page).
    let mut events = daily_events(now);
    for i in 0..1_500 {
        let mut event = event(&format!("bulk-{i:04}"));
        event["eventTimestamp"] =
            json!((now - chrono::Duration::seconds(7 * 3600 + i)).to_rfc3339());
        events.push(event);
    }
    for chunk in events.chunks(500) {
        post(&server, Value::Array(chunk.to_vec()).to_string()).await;
    }
    wait_for(
        &server,
        "/api/audit/events?targetType=DATASOURCE&size=0&facets=none",
        |body| body["total"] == 1_530,
    )
    .await;
    let download = |query: &'static str| {
        let url = server.url(&format!("/api/audit/events?{query}"));
        async move {
            let response = client()
                .get(url)
                .header("Authorization", ADMIN_KEY)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            let content_type = response.headers()["content-type"]
                .to_str()
                .unwrap()
                .to_owned();
            (content_type, response.text().await.unwrap())
        }
    };
    let (content_type, ndjson) = download("format=ndjson&order=asc&targetType=DATASOURCE").await;
    assert_eq!(content_type, "application/x-ndjson");
    let lines: Vec<Value> = ndjson
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 1_530);
    let times: Vec<&str> = lines
        .iter()
        .map(|e| e["eventTimestamp"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "ascending order");
    // Each line is the stored JSON.
    let (_, stored) = get(&server, "/api/audit/events/daily-03").await;
    assert!(lines.contains(&stored));

    let (content_type, csv) = download("format=csv&actorName=taylor%20smith").await;
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let mut rows = csv.split("\r\n").filter(|row| !row.is_empty());
    let header = rows.next().unwrap();
    assert!(
        header.starts_with("seq,id,event_timestamp,received_timestamp,action,"),
        "{header}"
    );
    assert!(!header.contains("event_json"));
    let rows: Vec<&str> = rows.collect();
    assert_eq!(rows.len(), 10, "{csv}");
    assert!(
        rows.iter().all(|row| row.contains(",Taylor Smith,")),
        "{csv}"
    );

    let (_, capped) = download("format=ndjson&size=7").await;
    assert_eq!(capped.lines().count(), 7);
    let (status, body) = get(&server, "/api/audit/events?format=csv&offset=10").await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("`offset`"),
        "{body}"
    );

    // Recorded as reads, with the format.
    wait_for(
        &server,
        "/api/audit/events?action=AUDIT_QUERY&size=100&facets=none",
        |body| {
            body["hits"]
                .as_array()
                .unwrap()
                .iter()
                .any(|hit| hit["auditPayload"]["filters"]["format"] == json!(["csv"]))
        },
    )
    .await;

    // The CLI streams the same download.
    let base = server.base.clone();
    let output = tokio::task::spawn_blocking(move || {
        common::vigil(&[
            "search",
            "--url",
            &base,
            "--api-key",
            ADMIN_KEY,
            "--all",
            "--csv",
            "-f",
            "actorName=TAYLOR SMITH",
        ])
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8(output.stdout).unwrap(), csv);
}

/// Saved searches: shared by every key with AUDIT, named uniquely, each save and delete recorded
/// as an event; bad input gets a 400 naming the field, and their payload types cannot be ingested.
#[tokio::test(flavor = "multi_thread")]
async fn saved_searches_are_shared_recorded_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let reader = common::create_key(&server, "reader", &["AUDIT"]);
    let writer = common::create_key(&server, "writer", &["INGEST"]);
    let send = |method: reqwest::Method, path: &str, key: &str, body: Option<Value>| {
        let mut request = client()
            .request(method, server.url(path))
            .header("Authorization", format!("Bearer {key}"));
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let query = "range=7d&f=action:QUERY&x=actorId:svc@acme.example&q=payroll";
    let (status, created) = send(
        reqwest::Method::POST,
        "/api/audit/saved-searches",
        ADMIN_KEY,
        Some(json!({ "name": "Payroll reads", "query": query })),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["query"], query);
    assert_eq!(created["createdBy"], "admin");
    // Another key with AUDIT sees it; a key without AUDIT does not.
    let (status, listed) = send(
        reqwest::Method::GET,
        "/api/audit/saved-searches",
        &reader,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(listed, json!([created]));
    let (status, _) = send(
        reqwest::Method::GET,
        "/api/audit/saved-searches",
        &writer,
        None,
    )
    .await;
    assert_eq!(status, 403);
    // Names are unique; a name is required; unknown fields are refused.
    for (body, expected_status, expected) in [
        (
            json!({ "name": "Payroll reads", "query": "" }),
            409,
            "already exists",
        ),
        (json!({ "name": "  ", "query": "" }), 400, "name:"),
        (
            json!({ "name": "x", "query": "", "colour": 1 }),
            400,
            "colour",
        ),
        (
            json!({ "name": "x".repeat(201), "query": "" }),
            400,
            "name:",
        ),
    ] {
        let (status, answer) = send(
            reqwest::Method::POST,
            "/api/audit/saved-searches",
            &reader,
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, expected_status, "{body}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(expected),
            "{body}: {answer}"
        );
    }
    let id = created["id"].as_str().unwrap();
    let (status, deleted) = send(
        reqwest::Method::DELETE,
        &format!("/api/audit/saved-searches/{id}"),
        &reader,
        None,
    )
    .await;
    assert_eq!(status, 200, "{deleted}");
    let (status, _) = send(
        reqwest::Method::DELETE,
        &format!("/api/audit/saved-searches/{id}"),
        &reader,
        None,
    )
    .await;
    assert_eq!(status, 404);
    // Both changes are in the log, with who made them.
    let recorded = wait_for(
        &server,
        "/api/audit/events?submittedBy=vigil&payloadType=SavedSearchCreatedAuditPayload&payloadType=SavedSearchDeletedAuditPayload&facets=none",
        |body| body["total"] == 2,
    )
    .await;
    let by: Vec<&Value> = recorded["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| &hit["actor"]["name"])
        .collect();
    assert_eq!(by, [&json!("reader"), &json!("admin")], "{recorded}");
    // Nobody can submit one of these payload types.
    let forged = json!([{
        "id": "forged", "action": "CREATE", "actor": { "id": "x" }, "eventTimestamp": "2024-01-01T00:00:00Z",
        "auditPayload": { "type": "SavedSearchCreatedAuditPayload", "name": "fake" }
    }]);
    let response = client()
        .post(server.url("/api/audit/events"))
        .header("Authorization", ADMIN_KEY)
        .json(&forged)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert!(status == 400 || body["rejected"] == 1, "{status} {body}");
}
