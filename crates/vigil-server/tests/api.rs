//! The HTTP API against the real binary: the seed's examples, errors, authentication.

mod common;

use common::{ADMIN_KEY, Server, client, event, fixture, vigil};
use serde_json::{Value, json};

/// The three seed examples that share one id (PurposeDeleted, PurposeUpdated, PurposeUpserted).
const SHARED_SEED_ID: &str = "eafa29d6-d61f-4aab-a958-106f25bbfa0b";

async fn post_events(server: &Server, body: String, content_type: &str) -> (u16, Value) {
    let response = client()
        .post(server.url("/api/audit/events"))
        .header("Authorization", format!("Bearer {ADMIN_KEY}"))
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn get_event(server: &Server, id: &str) -> (u16, Value) {
    let response = client()
        .get(server.url(&format!("/api/audit/events/{id}")))
        .header("Authorization", ADMIN_KEY)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn every_seed_example_is_accepted_and_read_back_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let text = std::fs::read_to_string(fixture("uam-examples.json")).unwrap();
    let examples: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(examples.len(), 79);

    let (status, report) = post_events(&server, text.clone(), "application/json").await;
    assert_eq!(status, 200, "{report}");
    // The seed gives three different Purpose events the same id: the first is stored, the other
    // two are refused as id conflicts rather than silently dropped as duplicates.
    assert_eq!(report["accepted"], 77, "{report}");
    let rejected = report["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2, "{report}");
    for item in rejected {
        assert_eq!(item["id"], SHARED_SEED_ID);
        assert!(
            item["reason"].as_str().unwrap().starts_with("id conflict"),
            "{item}"
        );
    }
    let conflicting: Vec<usize> = rejected
        .iter()
        .map(|item| item["index"].as_u64().unwrap() as usize)
        .collect();

    for (index, example) in examples.iter().enumerate() {
        if conflicting.contains(&index) {
            continue;
        }
        let id = example["id"].as_str().unwrap();
        let (status, stored) = get_event(&server, id).await;
        assert_eq!(status, 200, "{id}");
        assert_eq!(&stored, example, "event {index} ({id}) changed in storage");
    }

    // Each of the two refused examples is accepted, and read back unchanged, by a log of its own.
    for index in conflicting {
        let dir = tempfile::tempdir().unwrap();
        let other = Server::start(dir.path());
        let (status, report) =
            post_events(&other, examples[index].to_string(), "application/json").await;
        assert_eq!(
            (status, report["accepted"].clone()),
            (200, json!(1)),
            "{report}"
        );
        assert_eq!(
            get_event(&other, SHARED_SEED_ID).await,
            (200, examples[index].clone())
        );
    }

    // Sending everything again stores nothing new: duplicates, reported as such.
    let (status, report) = post_events(&server, text, "application/json").await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            report["accepted"].clone(),
            report["duplicates"].as_array().unwrap().len()
        ),
        (json!(0), 77)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_malformed_seed_examples_get_400_with_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    for (name, line) in [("uam-malformed-1.json", 39), ("uam-malformed-2.json", 15)] {
        let body = std::fs::read_to_string(fixture(name)).unwrap();
        let (status, error) = post_events(&server, body, "application/json").await;
        assert_eq!(status, 400, "{error}");
        assert_eq!(error["code"], "malformed_json");
        assert_eq!(
            (error["line"].clone(), error["column"].clone()),
            (json!(line), json!(1)),
            "{error}"
        );
        assert!(
            error["error"].as_str().unwrap().contains("expected `,`"),
            "{error}"
        );
    }
    let stats = vigil(&["verify", "--data-dir", dir.path().to_str().unwrap()]);
    // Only the bootstrap key's ApiKeyCreated event is stored.
    assert!(
        String::from_utf8_lossy(&stats.stdout).starts_with("OK: 1 events"),
        "{stats:?}"
    );
}

async fn create_record(server: &Server, body: String) -> (u16, Value) {
    let response = client()
        .post(server.url("/audit/createRecord"))
        .header("Content-Type", "application/json")
        .header("Authorization", format!("Bearer {ADMIN_KEY}"))
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_create_record_examples_behave_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    for number in 1..=3 {
        let pasted =
            std::fs::read_to_string(fixture(&format!("create-record-{number}.json"))).unwrap();
        // As pasted: the seed misses a comma after `"recordType": "externalQuery"`.
        let (status, error) = create_record(&server, pasted.clone()).await;
        assert_eq!(status, 400, "{error}");
        assert_eq!(
            (error["line"].clone(), error["column"].clone()),
            (json!(4), json!(1)),
            "{error}"
        );
        assert!(
            error["error"].as_str().unwrap().contains("near `"),
            "{error}"
        );

        let fixed = pasted.replace(
            "\"recordType\": \"externalQuery\"\n",
            "\"recordType\": \"externalQuery\",\n",
        );
        let (status, answer) = create_record(&server, fixed).await;
        if number == 3 {
            // The third example also names `recordType` twice, with two values: ambiguous.
            assert_eq!(status, 400, "{answer}");
            let reason = answer["failure"][0]["error"].as_str().unwrap();
            assert!(reason.contains("duplicate field `recordType`"), "{reason}");
            continue;
        }
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["failure"], json!([]));
        let record = &answer["success"][0];
        assert_eq!(record["recordType"], "externalQuery");
        let (status, stored) = get_event(&server, record["id"].as_str().unwrap()).await;
        assert_eq!(status, 200);
        assert_eq!(stored["action"], "QUERY");
        assert_eq!(
            stored["targets"][0],
            json!({ "type": "DATASOURCE", "id": "1" })
        );
        assert_eq!(
            stored["auditPayload"]["legacyRecord"]["dataAccess"]["query"],
            "SELECT * FROM my_data_source"
        );
        if number == 2 {
            assert_eq!(
                stored["relatedResources"],
                json!([{ "type": "PROJECT", "id": "1" }])
            );
        }
    }
    // An invalid enum is named.
    let (status, answer) = create_record(
        &server,
        r#"{"component":"spreadsheet","recordType":"sqlQuery","success":true}"#.into(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        answer["failure"][0]["error"]
            .as_str()
            .unwrap()
            .contains("`component`"),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_and_permissions_are_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let data_dir = dir.path().to_str().unwrap();
    // Keys created by the CLI while the server runs work at once.
    let mut secrets = Vec::new();
    for (name, permission) in [("reader", "AUDIT"), ("writer", "INGEST")] {
        let output = vigil(&[
            "keys",
            "create",
            "--name",
            name,
            "--permission",
            permission,
            "--data-dir",
            data_dir,
        ]);
        assert!(output.status.success(), "{output:?}");
        let stdout = String::from_utf8(output.stdout).unwrap();
        secrets.push(stdout.lines().last().unwrap().to_owned());
    }
    let (reader, writer) = (&secrets[0], &secrets[1]);
    let http = client();
    let post = |key: Option<&str>| {
        let mut request = http
            .post(server.url("/api/audit/events"))
            .body(event("perm-1").to_string());
        if let Some(key) = key {
            request = request.header("Authorization", key);
        }
        request.send()
    };
    let status_and_code = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        (status, body["code"].as_str().unwrap_or_default().to_owned())
    };
    assert_eq!(
        status_and_code(post(None).await.unwrap()).await,
        (401, "unauthenticated".into())
    );
    assert_eq!(
        status_and_code(post(Some("wrong-key")).await.unwrap()).await,
        (401, "unauthenticated".into())
    );
    assert_eq!(
        status_and_code(post(Some(reader)).await.unwrap()).await,
        (403, "forbidden".into())
    );
    assert_eq!(
        post(Some(&format!("Bearer {writer}")))
            .await
            .unwrap()
            .status(),
        200
    );
    let read = |key: &str| {
        http.get(server.url("/api/audit/events/perm-1"))
            .header("Authorization", key)
            .send()
    };
    assert_eq!(
        status_and_code(read(writer).await.unwrap()).await,
        (403, "forbidden".into())
    );
    assert_eq!(read(reader).await.unwrap().status(), 200);
    // /healthz needs no key.
    assert_eq!(
        http.get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // Listing never shows secrets; deleting a key revokes it at once.
    let listing = vigil(&["keys", "list", "--data-dir", data_dir]);
    let listing = String::from_utf8(listing.stdout).unwrap();
    assert!(
        listing.contains("reader") && listing.contains("writer") && listing.contains("admin"),
        "{listing}"
    );
    assert!(
        !listing.contains(reader.as_str()) && !listing.contains(ADMIN_KEY),
        "{listing}"
    );
    assert!(
        vigil(&["keys", "delete", "reader", "--data-dir", data_dir])
            .status
            .success()
    );
    assert_eq!(read(reader).await.unwrap().status(), 401);
    let missing = vigil(&["keys", "delete", "reader", "--data-dir", data_dir]);
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("no API key"),
        "{missing:?}"
    );
    let bad = vigil(&[
        "keys",
        "create",
        "--name",
        "x",
        "--permission",
        "READ",
        "--data-dir",
        data_dir,
    ]);
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("unknown permission `READ`"),
        "{bad:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn batches_report_every_item_and_store_only_valid_ones() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let mut no_id = event("x");
    no_id.as_object_mut().unwrap().remove("id");
    let mut bad_time = event("bad-time");
    bad_time["eventTimestamp"] = json!("yesterday");
    let mut bad_rows = event("bad-rows");
    bad_rows["auditPayload"]["objectsAccessed"] = json!("not a list");
    let batch = json!([
        event("a-1"),
        no_id,
        bad_time,
        event("a-2"),
        bad_rows,
        event("a-1")
    ]);
    let (status, report) = post_events(&server, batch.to_string(), "application/json").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["accepted"], 3);
    let rejected = report["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2);
    assert_eq!(rejected[0]["index"], 2);
    assert!(
        rejected[0]["reason"]
            .as_str()
            .unwrap()
            .contains("`eventTimestamp`"),
        "{report}"
    );
    assert_eq!(rejected[1]["index"], 4);
    assert!(
        rejected[1]["reason"]
            .as_str()
            .unwrap()
            .contains("`auditPayload.objectsAccessed`"),
        "{report}"
    );
    assert_eq!(
        report["duplicates"],
        json!([{ "index": 5, "id": "a-1", "seq": 2 }])
    );
    // The event sent without an id got one, and a receivedTimestamp.
    let assigned = report["stored"][1]["id"].as_str().unwrap();
    let (status, stored) = get_event(&server, assigned).await;
    assert_eq!(status, 200);
    assert!(stored["receivedTimestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(get_event(&server, "bad-time").await.0, 404);

    // NDJSON: a broken line is reported with its line number; the others are stored.
    let ndjson = format!(
        "{}\n\n{{\"id\": \"nd-2\",\n{}\n",
        event("nd-1"),
        event("nd-3")
    );
    let (status, report) = post_events(&server, ndjson, "application/x-ndjson").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["accepted"], 2);
    let reason = report["rejected"][0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("malformed JSON at line 3, column"),
        "{reason}"
    );

    // A single invalid event is a plain 400 naming the field; nothing is stored.
    let (status, error) = post_events(&server, bad_time_single(), "application/json").await;
    assert_eq!(
        (status, error["path"].clone()),
        (400, json!("eventTimestamp")),
        "{error}"
    );
    let (status, error) = post_events(&server, "[]".into(), "application/json").await;
    assert_eq!(status, 400, "{error}");
}

fn bad_time_single() -> String {
    let mut value = event("single-bad");
    value["eventTimestamp"] = json!(12);
    value.to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_body_gets_413_and_the_service_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let huge = format!(
        "[{}]",
        "0,".repeat(vigil_server::MAX_BODY_BYTES / 2 + 1) + "0"
    );
    let response = client()
        .post(server.url("/api/audit/events"))
        .header("Authorization", ADMIN_KEY)
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["code"], "payload_too_large");
    let (status, _) =
        post_events(&server, event("after-413").to_string(), "application/json").await;
    assert_eq!(status, 200);
    assert_eq!(get_event(&server, "after-413").await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_mode_loads_the_seed_examples() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(dir.path(), &["--demo"]);
    let (status, stored) = get_event(&server, "20240221_200952_00200_qhadw").await;
    assert_eq!(status, 200);
    assert_eq!(
        stored["auditPayload"]["technologyContext"]["type"],
        "TrinoContext"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn import_loads_ndjson_through_the_ingest_path_and_names_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let file = dir.path().join("events.ndjson");
    let mut bad_field = event("imp-bad");
    bad_field["actor"] = json!("not an object");
    let lines = [
        event("imp-1").to_string(),
        String::new(),
        "{\"id\": ".into(),
        bad_field.to_string(),
        event("imp-2").to_string(),
    ];
    std::fs::write(&file, lines.join("\n")).unwrap();
    let args = [
        "import",
        file.to_str().unwrap(),
        "--data-dir",
        data_dir.to_str().unwrap(),
    ];

    let output = vigil(&args);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(
        !output.status.success(),
        "a rejected line makes the import fail"
    );
    assert!(
        stdout.contains("4 lines, 2 stored, 0 duplicates, 2 rejected"),
        "{stdout}"
    );
    assert!(
        stderr.contains("line 3: malformed JSON at line 3"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 4: invalid value at `actor`"),
        "{stderr}"
    );

    // Importing again stores nothing new.
    let output = vigil(&args);
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("0 stored, 2 duplicates"),
        "{output:?}"
    );

    let server = Server::start(&data_dir);
    assert_eq!(get_event(&server, "imp-2").await.0, 200);
    assert!(server.terminate().success());
    let verified = vigil(&["verify", "--data-dir", data_dir.to_str().unwrap()]);
    assert!(
        // The bootstrap key's event, the two imported, and the checkpoint signed at shutdown.
        String::from_utf8_lossy(&verified.stdout).starts_with("OK: 4 events"),
        "{verified:?}"
    );

    let missing = vigil(&[
        "verify",
        "--data-dir",
        dir.path().join("nowhere").to_str().unwrap(),
    ]);
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("no event log here"),
        "{missing:?}"
    );
}

/// Sends a request to `/api/audit/graphql`; returns the status, the Content-Type and the JSON.
async fn graphql_http(request: reqwest::RequestBuilder) -> (u16, String, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let media = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, media, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn graphql_over_http_works_as_clients_speak_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let url = server.url("/api/audit/graphql");
    let keyed = |request: reqwest::RequestBuilder| request.header("Authorization", ADMIN_KEY);

    // Request errors in GraphQL's `errors` shape (graphql-js and Apollo clients read
    // `errors[].extensions.code`), with the status of the GraphQL-over-HTTP specification.
    let (status, _, body) = graphql_http(
        client()
            .post(&url)
            .json(&json!({ "query": "{ exportPublicKey }" })),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{body}"
    );
    assert!(body["errors"][0]["message"].is_string(), "{body}");
    let (status, _, body) = graphql_http(
        keyed(client().post(&url))
            .header("content-type", "application/json")
            .body("{\"query\": "),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_REQUEST",
        "{body}"
    );
    // A request without a document is malformed, not a GraphQL error (schemathesis found it).
    for missing in [
        json!({ "variables": {} }),
        json!([{ "query": "{ exportPublicKey }" }, {}]),
    ] {
        let (status, _, body) = graphql_http(keyed(client().post(&url)).json(&missing)).await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("`query`"),
            "{body}"
        );
    }

    // A batch, as Apollo's BatchHttpLink sends: an array in, an array out.
    let (status, _, body) = graphql_http(keyed(client().post(&url)).json(&json!([
        { "query": "{ exportPublicKey }" },
        { "query": "query All { getAllExportConfigurations { id } }", "operationName": "All" }
    ])))
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body[0]["data"]["exportPublicKey"].is_string(), "{body}");
    assert_eq!(
        body[1]["data"]["getAllExportConfigurations"],
        json!([]),
        "{body}"
    );

    // An `application/graphql` body is the query itself.
    let (status, _, body) = graphql_http(
        keyed(client().post(&url))
            .header("content-type", "application/graphql")
            .body("{ exportPublicKey }"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["data"]["exportPublicKey"].is_string(), "{body}");

    // GET for queries, in the media type the client accepts; a mutation over GET is refused.
    let (status, media, body) = graphql_http(
        keyed(client().get(&url))
            .header("accept", "application/graphql-response+json")
            .query(&[
                ("query", "query Key { exportPublicKey }"),
                ("operationName", "Key"),
            ]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(media, "application/graphql-response+json");
    assert!(body["data"]["exportPublicKey"].is_string(), "{body}");
    let (status, _, body) = graphql_http(
        keyed(client().get(&url)).query(&[("query", "mutation { exportNow(id: \"x\") { id } }")]),
    )
    .await;
    assert_eq!(status, 405, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "METHOD_NOT_ALLOWED"
    );

    // Ids are `ID`; 64-bit counters are `Long`, not a 32-bit `Int`.
    let (_, _, body) = graphql_http(keyed(client().post(&url)).json(&json!({ "query":
        "{ config: __type(name: \"ExportConfiguration\") { fields { name type { name ofType { name } } } }
           progress: __type(name: \"ExportProgress\") { fields { name type { name ofType { name } } } } }"
    })))
    .await;
    let type_of = |object: &str, field: &str| -> String {
        let fields = body["data"][object]["fields"].as_array().unwrap();
        let found = fields.iter().find(|f| f["name"] == field).unwrap();
        found["type"]["ofType"]["name"]
            .as_str()
            .or(found["type"]["name"].as_str())
            .unwrap()
            .to_owned()
    };
    assert_eq!(type_of("config", "id"), "ID", "{body}");
    assert_eq!(type_of("progress", "exportedEvents"), "Long", "{body}");
    assert_eq!(
        type_of("progress", "lastExportedSequence"),
        "Long",
        "{body}"
    );
    assert!(server.terminate().success());
}

/// `VIGIL_LOG_FORMAT=json`: every log line on stderr is one JSON object with the level, the
/// message and its fields, as log shippers take them.
#[test]
fn json_logs_are_one_object_a_line() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("VIGIL_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            if lines.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let serving = loop {
        let line = received
            .recv_timeout(std::time::Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no `vigil is serving` line; saw {seen:#?}"));
        let parsed: Value = serde_json::from_str(&line)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {line}"));
        assert!(parsed["level"].is_string(), "{line}");
        if parsed["message"] == "vigil is serving" {
            break parsed;
        }
        seen.push(line);
    };
    assert_eq!(serving["level"], "INFO");
    assert!(
        serving["address"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:"),
        "{serving}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
