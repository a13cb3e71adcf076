//! Hardening against the real binary: event ids that `vigil verify` can always follow, export
//! secrets that never follow a changed destination, permissions for export management, the
//! bootstrap key, CSV cells that cannot become formulas, and consistent answers to edge input.

mod common;

use common::{ADMIN_KEY, Server, certificates, client, create_key, event, vigil};
use serde_json::{Value, json};

async fn post_events(server: &Server, key: &str, body: String) -> (u16, Value) {
    let response = client()
        .post(server.url("/api/audit/events"))
        .header("Authorization", key)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn get_json(server: &Server, key: &str, path: &str) -> (u16, Value) {
    let response = client()
        .get(server.url(path))
        .header("Authorization", key)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn event_ids_are_strings_and_verify_sees_past_them() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let (status, report) = post_events(&server, ADMIN_KEY, event("before").to_string()).await;
    assert_eq!(status, 200, "{report}");
    // Numbers, objects, blank ids, ids with surrounding spaces and the two path segments that a
    // URL cannot name: each is refused with a 400 naming `id`, alone or in a batch.
    for id in [
        json!(12345),
        json!(-7),
        json!({"a": 1}),
        json!(""),
        json!("  "),
        json!(" x"),
        json!(".."),
        json!("."),
    ] {
        let mut bad = event("ignored");
        bad["id"] = id.clone();
        let (status, error) = post_events(&server, ADMIN_KEY, bad.to_string()).await;
        assert_eq!(
            (status, error["path"].clone()),
            (400, json!("id")),
            "{id}: {error}"
        );
        let batch = json!([bad, event(&format!("kept-{}", id.to_string().len()))]);
        let (status, report) = post_events(&server, ADMIN_KEY, batch.to_string()).await;
        assert_eq!(status, 200, "{report}");
        assert_eq!(report["rejected"][0]["index"], 0, "{report}");
        assert!(
            report["rejected"][0]["reason"]
                .as_str()
                .unwrap()
                .contains("`id`"),
            "{report}"
        );
    }
    let (status, report) = post_events(&server, ADMIN_KEY, event("after").to_string()).await;
    assert_eq!(status, 200, "{report}");
    // The numeric id was never stored under its text.
    assert_eq!(
        get_json(&server, ADMIN_KEY, "/api/audit/events/12345")
            .await
            .0,
        404
    );
    assert!(server.terminate().success());
    let output = vigil(&["verify", "--data-dir", dir.path().to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.starts_with("OK: "), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_lists_every_break_with_a_count() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let batch: Vec<Value> = (0..10).map(|i| event(&format!("chain-{i}"))).collect();
    let (status, report) = post_events(&server, ADMIN_KEY, json!(batch).to_string()).await;
    assert_eq!(status, 200, "{report}");
    let seqs: Vec<u64> = report["stored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["seq"].as_u64().unwrap())
        .collect();
    assert!(server.terminate().success());
    let connection =
        rusqlite::Connection::open(dir.path().join(vigil_core::DATABASE_FILE)).unwrap();
    for seq in [seqs[2], seqs[6]] {
        connection
            .execute(
                "UPDATE events SET body = replace(body, 'SELECT 1', 'SELECT 2') WHERE seq = ?1",
                [seq as i64],
            )
            .unwrap();
    }
    connection
        .execute("DELETE FROM events WHERE seq = ?1", [seqs[8] as i64])
        .unwrap();
    drop(connection);
    let output = vigil(&["verify", "--data-dir", dir.path().to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|line| line.starts_with("BROKEN"))
        .collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert!(
        lines[0].starts_with(&format!(
            "BROKEN at sequence number {}: hash mismatch",
            seqs[2]
        )),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with(&format!(
            "BROKEN at sequence number {}: hash mismatch",
            seqs[6]
        )),
        "{stdout}"
    );
    assert!(
        lines[2].starts_with(&format!(
            "BROKEN at sequence number {}: sequence gap",
            seqs[8]
        )),
        "{stdout}"
    );
    assert!(lines[3].starts_with("BROKEN: 3 breaks in "), "{stdout}");
}

async fn graphql_as(server: &Server, key: &str, query: &str) -> Value {
    let response = client()
        .post(server.url("/api/audit/graphql"))
        .header("Authorization", key)
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// A host that records every byte sent to it and answers 403: where a redirected export would go.
struct CapturingHost {
    address: String,
    received: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl CapturingHost {
    fn start() -> CapturingHost {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = received.clone();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().map_while(Result::ok) {
                stream
                    .set_read_timeout(Some(std::time::Duration::from_millis(500)))
                    .unwrap();
                let mut buffer = [0u8; 4096];
                // The request line and headers carry the URL (with a SAS token) and any keys.
                if let Ok(read) = stream.read(&mut buffer) {
                    sink.lock().unwrap().extend_from_slice(&buffer[..read]);
                }
                let _ = stream.write_all(
                    b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        CapturingHost { address, received }
    }

    fn saw(&self, text: &str) -> bool {
        let received = self.received.lock().unwrap();
        String::from_utf8_lossy(&received).contains(text)
    }
}

fn update_adls(id: &str, fields: &str) -> String {
    format!(
        r#"mutation {{ updateAdlsSasTokenExportConfiguration(data: {{id: "{id}", {fields}}}) {{
             id connectionStatus endpointConfiguration {{ ... on AdlsSasTokenEndpointConfiguration {{ endpoint path }} }} }} }}"#
    )
}

fn error_code(answer: &Value) -> &str {
    answer["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kept_export_secret_never_follows_a_changed_destination() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    // The attacker's host is bound while the closed port is still held: it cannot get the same
    // port, which would make its endpoint no change at all.
    let attacker = CapturingHost::start();
    drop(closed);
    let created = graphql_as(
        &server,
        ADMIN_KEY,
        &format!(
            r#"mutation {{ createAdlsSasTokenEndpointConfiguration(data: {{interval: EVERY_24_HOURS,
                storageAccount: "devstoreaccount1", fileSystem: "audit", path: "vigil",
                sasToken: "sv=2024-01-01&sig=KEPTSECRET123",
                endpoint: "http://127.0.0.1:{closed_port}/devstoreaccount1"}}) {{ id connectionStatus }} }}"#
        ),
    )
    .await;
    let id = created["data"]["createAdlsSasTokenEndpointConfiguration"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_owned();
    let attacker_endpoint = format!("http://{}/devstoreaccount1", attacker.address);

    // A reader may list configurations but not change or run them.
    let reader = create_key(&server, "reader", &["AUDIT"]);
    let listed = graphql_as(&server, &reader, "{ getAllExportConfigurations { id } }").await;
    assert_eq!(
        listed["data"]["getAllExportConfigurations"][0]["id"], id,
        "{listed}"
    );
    for mutation in [
        update_adls(&id, &format!(r#"endpoint: "{attacker_endpoint}""#)),
        format!(r#"mutation {{ exportNow(id: "{id}") {{ id }} }}"#),
        format!(r#"mutation {{ disableExportConfiguration(id: "{id}") {{ id }} }}"#),
        format!(r#"mutation {{ deleteExportConfiguration(id: "{id}") {{ id }} }}"#),
        format!(r#"mutation {{ testExportConfigurationConnection(id: "{id}") {{ id }} }}"#),
    ] {
        let answer = graphql_as(&server, &reader, &mutation).await;
        assert_eq!(error_code(&answer), "FORBIDDEN", "{mutation}: {answer}");
        assert!(
            answer["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("EXPORT_ADMIN"),
            "{answer}"
        );
    }

    // Even an export administrator cannot move the stored token to another host without giving
    // it again.
    let manager = create_key(&server, "exports", &["AUDIT", "EXPORT_ADMIN"]);
    let answer = graphql_as(
        &server,
        &manager,
        &update_adls(&id, &format!(r#"endpoint: "{attacker_endpoint}""#)),
    )
    .await;
    assert_eq!(error_code(&answer), "BAD_USER_INPUT", "{answer}");
    let message = answer["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("sasToken: is required when"),
        "{message}"
    );
    for fields in [r#"storageAccount: "other""#, r#"fileSystem: "other""#] {
        let answer = graphql_as(&server, &manager, &update_adls(&id, fields)).await;
        assert_eq!(error_code(&answer), "BAD_USER_INPUT", "{fields}: {answer}");
    }
    // The folder may change with the token kept.
    let answer = graphql_as(&server, &manager, &update_adls(&id, r#"path: "moved""#)).await;
    assert_eq!(
        answer["data"]["updateAdlsSasTokenExportConfiguration"]["endpointConfiguration"]["path"],
        "moved",
        "{answer}"
    );
    // With a token given for the new host, the move is the manager's decision.
    let answer = graphql_as(
        &server,
        &manager,
        &update_adls(
            &id,
            &format!(
                r#"endpoint: "{attacker_endpoint}", sasToken: "sv=2024-01-01&sig=NEWTOKEN456""#
            ),
        ),
    )
    .await;
    assert!(answer["errors"].is_null(), "{answer}");
    assert!(
        attacker.saw("NEWTOKEN456"),
        "the connection test reached the new host"
    );
    assert!(
        !attacker.saw("KEPTSECRET123"),
        "the kept token reached another host"
    );
}

/// Deletes key `name` through the CLI, stops the server and starts it again.
fn delete_key_and_restart(server: Server, name: &str) -> Server {
    let data_dir = server.data_dir.clone();
    let deleted = vigil(&[
        "keys",
        "delete",
        name,
        "--data-dir",
        data_dir.to_str().unwrap(),
    ]);
    assert!(deleted.status.success(), "{deleted:?}");
    assert!(server.terminate().success());
    Server::start(&data_dir)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_bootstrap_key_stays_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let server = Server::start(dir.path());
    let operator = create_key(&server, "operator", &["ADMIN", "AUDIT"]);
    // Each restart still has VIGIL_BOOTSTRAP_API_KEY set (the harness always sets it).
    let server = delete_key_and_restart(server, "admin");
    assert_eq!(
        get_json(&server, ADMIN_KEY, "/api/audit/session").await.0,
        401
    );
    assert_eq!(
        get_json(&server, &operator, "/api/audit/session").await.0,
        200
    );
    // With no key left at all, a restart creates none either.
    let server = delete_key_and_restart(server, "operator");
    assert_eq!(
        get_json(&server, ADMIN_KEY, "/api/audit/session").await.0,
        401
    );
    let listed = vigil(&["keys", "list", "--data-dir", data_dir]);
    assert!(listed.status.success(), "{listed:?}");
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert!(!stdout.contains("admin"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn report_csv_cells_cannot_become_formulas() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let names = [
        (
            "a@acme.example",
            "=HYPERLINK(\"http://evil.example\",\"open\")",
        ),
        ("b@acme.example", "@SUM(1+1)"),
        ("c@acme.example", "-2+3"),
        ("d@acme.example", "Plain Name"),
    ];
    let mut events = Vec::new();
    for (i, (id, name)) in names.iter().enumerate() {
        events.push(common::user_created(
            id,
            name,
            &format!("2026-10-0{}T08:00:00.000Z", i + 1),
        ));
        events.push(common::member_added(
            id,
            name,
            &format!("2026-10-0{}T09:00:00.000Z", i + 1),
        ));
    }
    let (status, report) = post_events(&server, ADMIN_KEY, json!(events).to_string()).await;
    assert_eq!(status, 200, "{report}");
    let response = client()
        .get(
            server.url("/api/audit/reports/run?entityType=group&name=g1&report=members&format=csv"),
        )
        .header("Authorization", ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let csv = response.text().await.unwrap();
    assert!(
        csv.contains("\r\n\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"open\"\")\","),
        "{csv}"
    );
    assert!(csv.contains("\r\n\"'@SUM(1+1)\","), "{csv}");
    assert!(csv.contains("\r\n\"'-2+3\","), "{csv}");
    assert!(csv.contains("\r\nPlain Name,"), "{csv}");
    // No record starts with a bare formula character.
    for line in csv.split("\r\n") {
        assert!(!line.starts_with(['=', '+', '-', '@']), "{line}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn edge_input_gets_consistent_answers() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let batch: Vec<Value> = ["edge-1", "edge-2", "we?ird/id %", "edge-3"]
        .iter()
        .map(|id| event(id))
        .collect();
    let (status, report) = post_events(&server, ADMIN_KEY, json!(batch).to_string()).await;
    assert_eq!(status, 200, "{report}");
    let wait_until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (_, found) = get_json(
            &server,
            ADMIN_KEY,
            "/api/audit/events?size=0&facets=none&from=2024-01-01&to=2024-12-31",
        )
        .await;
        if found["total"] == 4 {
            break;
        }
        assert!(
            std::time::Instant::now() < wait_until,
            "not searchable: {found}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // size=0: the count and facets, no hits (not one hit, as before).
    let (status, answer) = get_json(
        &server,
        ADMIN_KEY,
        "/api/audit/events?size=0&from=2024-01-01&to=2024-12-31&facets=action",
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        (answer["total"].clone(), answer["hits"].clone()),
        (json!(4), json!([])),
        "{answer}"
    );
    assert_eq!(
        answer["facets"]["action"]["values"][0]["count"], 4,
        "{answer}"
    );
    assert_eq!(answer["nextCursor"], Value::Null);
    let (status, answer) = get_json(&server, ADMIN_KEY, "/audit?size=0").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["hits"], json!([]), "{answer}");
    assert!(answer["count"].as_u64().unwrap() >= 4, "{answer}");

    // histogram=0 names the parameter, as any other value out of range does.
    for query in ["histogram=0", "histogram=1001", "histogram=x"] {
        let (status, answer) = get_json(
            &server,
            ADMIN_KEY,
            &format!("/api/audit/events?{query}&from=2024-01-01&to=2024-12-31"),
        )
        .await;
        assert_eq!(status, 400, "{query}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains("`histogram`"),
            "{answer}"
        );
    }

    // Every id the API serves can be read by the query form the web UI uses, with the same bytes.
    let (status, by_path) =
        get_json(&server, ADMIN_KEY, "/api/audit/events/we%3Fird%2Fid%20%25").await;
    assert_eq!(status, 200, "{by_path}");
    let (status, by_query) = get_json(
        &server,
        ADMIN_KEY,
        "/api/audit/event?id=we%3Fird%2Fid%20%25",
    )
    .await;
    assert_eq!((status, &by_query), (200, &by_path));
    let (status, answer) = get_json(&server, ADMIN_KEY, "/api/audit/event").await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(
        get_json(&server, ADMIN_KEY, "/api/audit/event?id=..")
            .await
            .0,
        404
    );

    // 100k-deep nesting inside an unknown field: refused like on every other route, with where.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let mut single = event("deep-1").to_string();
    single.insert_str(single.len() - 1, &format!(",\"extra\":{deep}"));
    let (status, error) = post_events(&server, ADMIN_KEY, single.clone()).await;
    assert_eq!(status, 400, "{error}");
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("recursion limit exceeded"),
        "{error}"
    );
    let (status, report) = post_events(
        &server,
        ADMIN_KEY,
        format!("[{single},{}]", event("deep-ok")),
    )
    .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        (
            report["accepted"].clone(),
            report["rejected"][0]["index"].clone()
        ),
        (json!(1), json!(0)),
        "{report}"
    );
    assert_eq!(
        get_json(&server, ADMIN_KEY, "/api/audit/events/deep-1")
            .await
            .0,
        404
    );
    let (status, error) = post_events(
        &server,
        ADMIN_KEY,
        format!("{{\"recordType\":\"login\",\"extra\":{deep}}}"),
    )
    .await;
    assert_eq!(status, 400, "{error}");
}

/// Raises this test process's soft limit on open files to its hard limit (it opens many sockets).
fn raise_own_open_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = limit.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
}

fn address(server: &Server) -> String {
    server.base.trim_start_matches("http://").to_owned()
}

/// Waits until the server closes `stream` (a read returns end of file or an error).
fn closed_by_server_within(stream: &mut std::net::TcpStream, limit: std::time::Duration) -> bool {
    use std::io::Read;
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buffer = [0u8; 1024];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(error) => {
                return !matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_and_slow_connections_cannot_starve_the_service() {
    use std::io::Write;
    use std::time::{Duration, Instant};
    raise_own_open_file_limit();
    let dir = tempfile::tempdir().unwrap();
    // As a service manager may start it: a soft limit of 1,024 open files.
    let server = Server::start_with_open_file_limit(dir.path(), 1_024);
    let target: std::net::SocketAddr = address(&server).parse().unwrap();
    let idle: Vec<std::net::TcpStream> = (0..1_100)
        .filter_map(|_| std::net::TcpStream::connect_timeout(&target, Duration::from_secs(2)).ok())
        .collect();
    assert!(
        idle.len() >= 1_000,
        "only {} connections opened",
        idle.len()
    );

    // With 1,100 idle connections open, health and ingest still answer.
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let health = quick.get(server.url("/healthz")).send().await;
    assert_eq!(
        health.map(|response| response.status().as_u16()).ok(),
        Some(200)
    );
    let stored = quick
        .post(server.url("/api/audit/events"))
        .header("Authorization", ADMIN_KEY)
        .json(&event("during-flood"))
        .send()
        .await;
    assert_eq!(
        stored.map(|response| response.status().as_u16()).ok(),
        Some(200)
    );

    // A slowloris connection (one header byte at a time) and an idle one are closed by the server.
    let mut slow = std::net::TcpStream::connect(target).unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: vigil\r\n")
        .unwrap();
    let dripping = {
        let mut writer = slow.try_clone().unwrap();
        std::thread::spawn(move || {
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(40) {
                if writer.write_all(b"X").is_err() {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(250));
            }
            false
        })
    };
    let mut idle = idle;
    let mut first_idle = idle.swap_remove(0);
    assert!(
        closed_by_server_within(&mut first_idle, Duration::from_secs(30)),
        "an idle connection stayed open"
    );
    assert!(
        closed_by_server_within(&mut slow, Duration::from_secs(30)),
        "a slowloris connection stayed open"
    );
    drop(dripping);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_that_stops_arriving_is_answered_408_and_stores_nothing() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let mut stream = std::net::TcpStream::connect(address(&server)).unwrap();
    let body = event("never-complete").to_string();
    stream
        .write_all(
            format!(
                "POST /api/audit/events HTTP/1.1\r\nHost: vigil\r\nAuthorization: {ADMIN_KEY}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
                body.len(),
                &body[..body.len() / 2]
            )
            .as_bytes(),
        )
        .unwrap();
    // Half the body, then nothing: the server gives up after its body timeout (10 s).
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut answer = Vec::new();
    // Read to the end: the server closes the connection after its answer.
    let closed = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("stopped arriving"), "{answer}");
    assert!(closed.is_ok(), "the connection stayed open: {closed:?}");
    let (status, _) = get_json(&server, ADMIN_KEY, "/api/audit/events/never-complete").await;
    assert_eq!(status, 404, "nothing of the request is stored");
    let (status, _) = post_events(&server, ADMIN_KEY, event("after-408").to_string()).await;
    assert_eq!(status, 200, "the service keeps serving");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_declared_oversize_body_is_refused_before_it_is_read() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let mut stream = std::net::TcpStream::connect(address(&server)).unwrap();
    stream
        .write_all(
            format!(
                "POST /api/audit/events HTTP/1.1\r\nHost: vigil\r\nAuthorization: {ADMIN_KEY}\r\nContent-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n[{{"
            )
            .as_bytes(),
        )
        .unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut answer = vec![0u8; 4096];
    let read = stream
        .read(&mut answer)
        .expect("an answer without sending the body");
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    // The service keeps serving.
    let (status, _) = post_events(&server, ADMIN_KEY, event("after-413").to_string()).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn graphql_requests_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    // 100,000 aliases: refused at once by the complexity limit, with a short answer.
    let aliases: String = (0..100_000)
        .map(|i| format!("a{i}: exportPublicKey "))
        .collect();
    let started = std::time::Instant::now();
    let response = client()
        .post(server.url("/api/audit/graphql"))
        .header("Authorization", ADMIN_KEY)
        .json(&json!({ "query": format!("{{ {aliases} }}") }))
        .send()
        .await
        .unwrap();
    let text = response.text().await.unwrap();
    assert!(text.len() < 10_000, "an answer of {} bytes", text.len());
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert!(answer["data"].is_null(), "{answer}");
    assert!(
        answer["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("complex"),
        "{answer}"
    );

    // One request may not fan out into many outbound calls.
    let mut ids = Vec::new();
    for _ in 0..6 {
        let created = graphql_as(
            &server,
            ADMIN_KEY,
            r#"mutation { createS3AssumedRoleExportConfiguration(data: {interval: EVERY_24_HOURS,
                bucket: "audit", region: "us-east-1", roleArn: "arn:aws:iam::123456789012:role/export",
                endpoint: "http://127.0.0.1:9"}) { id } }"#,
        )
        .await;
        ids.push(
            created["data"]["createS3AssumedRoleExportConfiguration"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{created}"))
                .to_owned(),
        );
    }
    let tests: String = ids
        .iter()
        .enumerate()
        .map(|(i, id)| format!(r#"t{i}: testExportConfigurationConnection(id: "{id}") {{ id }} "#))
        .collect();
    let answer = graphql_as(&server, ADMIN_KEY, &format!("mutation {{ {tests} }}")).await;
    let refused: Vec<&Value> = answer["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"))
        .iter()
        .filter(|error| error["extensions"]["code"] == "TOO_MANY_OUTBOUND_CALLS")
        .collect();
    assert_eq!(refused.len(), 3, "{answer}");

    // A connection tested moments ago is not tested again at once.
    let again = graphql_as(
        &server,
        ADMIN_KEY,
        &format!(
            r#"mutation {{ testExportConfigurationConnection(id: "{}") {{ id }} }}"#,
            ids[0]
        ),
    )
    .await;
    assert_eq!(error_code(&again), "RATE_LIMITED", "{again}");
}

#[tokio::test(flavor = "multi_thread")]
async fn outbound_calls_go_only_where_the_operator_allows() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_strict(dir.path());
    // Loopback, link-local (cloud metadata) and private endpoints are refused by default.
    for endpoint in [
        "http://127.0.0.1:9000",
        "http://169.254.169.254/latest",
        "http://10.0.0.5:9000",
        "http://localhost:10000/devstoreaccount1",
    ] {
        let answer = graphql_as(
            &server,
            ADMIN_KEY,
            &format!(
                r#"mutation {{ createS3AccessKeyExportConfiguration(data: {{interval: EVERY_24_HOURS,
                    bucket: "audit", region: "us-east-1", accessKeyId: "AKIA", secretAccessKey: "s",
                    endpoint: "{endpoint}"}}) {{ id }} }}"#
            ),
        )
        .await;
        assert_eq!(
            error_code(&answer),
            "BAD_USER_INPUT",
            "{endpoint}: {answer}"
        );
        assert!(
            answer["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("--allow-private-endpoints"),
            "{answer}"
        );
    }
    // Credentials in an endpoint URL are refused (they belong in sealed fields).
    let answer = graphql_as(
        &server,
        ADMIN_KEY,
        r#"mutation { createAdlsSasTokenEndpointConfiguration(data: {interval: EVERY_24_HOURS,
            storageAccount: "acme", fileSystem: "audit", sasToken: "sv=1",
            endpoint: "https://user:password@acme.blob.core.windows.net"}) { id } }"#,
    )
    .await;
    assert_eq!(error_code(&answer), "BAD_USER_INPUT", "{answer}");
    assert!(
        answer["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("credentials"),
        "{answer}"
    );
    let listed = graphql_as(&server, ADMIN_KEY, "{ getAllExportConfigurations { id } }").await;
    assert_eq!(
        listed["data"]["getAllExportConfigurations"],
        json!([]),
        "{listed}"
    );

    // The same rule holds for integration hosts.
    let response = client()
        .post(server.url("/api/audit/integrations"))
        .header("Authorization", ADMIN_KEY)
        .json(&json!({
            "type": "DATABRICKS_UNITY_CATALOG", "name": "uc", "host": "http://169.254.169.254",
            "warehouseId": "w", "token": "dapi-secret", "workspaceIds": ["1"]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("--allow-private-endpoints"),
        "{error}"
    );
}

/// Waits until the search index has caught up with the log.
async fn wait_until_indexed(server: &Server) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (_, status) = get_json(server, ADMIN_KEY, "/api/audit/status").await;
        if status["indexedSequence"] == status["lastSequence"] {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not indexed: {status}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn vigils_own_events_cannot_be_forged_and_every_event_names_its_submitter() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let writer = create_key(&server, "writer", &["INGEST"]);
    let (_, session) = get_json(&server, &writer, "/api/audit/session").await;
    let writer_id = session["id"].as_str().unwrap().to_owned();

    // Payload types only vigil writes are refused, naming the field.
    for payload_type in [
        "EventsRemovedAuditPayload",
        "AuditQueryAuditPayload",
        "AuditExportCompletedAuditPayload",
    ] {
        let mut forged = event(&format!("forged-{payload_type}"));
        forged["auditPayload"] = json!({ "type": payload_type, "fromSeq": 1, "toSeq": 99 });
        let (status, error) = post_events(&server, &writer, forged.to_string()).await;
        assert_eq!(
            (status, error["path"].clone()),
            (400, json!("auditPayload.type")),
            "{error}"
        );
        assert!(
            error["error"].as_str().unwrap().contains("reserved"),
            "{error}"
        );
    }

    // An event of a type the specification gives producers (ApiKeyCreated) is stored, but it is
    // recorded as the writer's, never as vigil's.
    let lookalike = json!({
        "id": "lookalike-key-created", "action": "CREATE", "targetType": "APIKEY",
        "actor": { "type": "SYSTEM_ACCOUNT", "id": "vigil", "name": "vigil bootstrap" },
        "targets": [{ "type": "APIKEY", "id": "k1", "name": "admin" }],
        "eventTimestamp": "2026-01-01T00:00:00.000Z",
        "auditPayload": { "type": "ApiKeyCreatedAuditPayload", "apiKeyId": "k1", "name": "admin", "version": 1 }
    });
    let (status, report) = post_events(&server, &writer, lookalike.to_string()).await;
    assert_eq!(status, 200, "{report}");
    let submitted_by = |response: &reqwest::Response| {
        response
            .headers()
            .get("vigil-submitted-by")
            .map(|value| value.to_str().unwrap().to_owned())
    };
    let response = client()
        .get(server.url("/api/audit/events/lookalike-key-created"))
        .header("Authorization", ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(submitted_by(&response), Some(format!("key:{writer_id}")));

    // vigil's own record of the writer key's creation carries the mark.
    wait_until_indexed(&server).await;
    let (status, own) = get_json(
        &server,
        ADMIN_KEY,
        "/api/audit/events?submittedBy=vigil&eventType=ApiKeyCreated&facets=submittedBy",
    )
    .await;
    assert_eq!(status, 200, "{own}");
    let ids: Vec<&str> = own["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| hit["auditPayload"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["writer", "admin"], "{own}");
    let own_id = own["hits"][0]["id"].as_str().unwrap().to_owned();
    let response = client()
        .get(server.url(&format!("/api/audit/events/{own_id}")))
        .header("Authorization", ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(submitted_by(&response).as_deref(), Some("vigil"));
    let (_, forged) = get_json(
        &server,
        ADMIN_KEY,
        &format!("/api/audit/events?submittedBy=key:{writer_id}&facets=none"),
    )
    .await;
    assert_eq!(forged["total"], 1, "{forged}");

    // The record of who submitted an event is covered by the chain.
    assert!(server.terminate().success());
    let connection =
        rusqlite::Connection::open(dir.path().join(vigil_core::DATABASE_FILE)).unwrap();
    let changed = connection
        .execute(
            "UPDATE events SET submitter = 'vigil' WHERE event_id = 'lookalike-key-created'",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(connection);
    let output = vigil(&["verify", "--data-dir", dir.path().to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    assert!(stdout.contains("hash mismatch"), "{stdout}");
}

/// The checkpoint copies under `prefix` at a destination, downloaded into `dir`; the highest
/// sequence number among them.
async fn download_checkpoints(
    store: &dyn object_store::ObjectStore,
    prefix: &str,
    dir: &std::path::Path,
) -> u64 {
    common::emulators::download(store, prefix, dir).await;
    let mut newest = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let checkpoint: Value =
            serde_json::from_slice(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
        newest = newest.max(checkpoint["sequenceNumber"].as_u64().unwrap());
    }
    newest
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_checkpoints_reveal_a_cut_or_a_rewritten_log() {
    use common::emulators::Emulator;
    let moto = Emulator::moto();
    moto.create_bucket("audit").await;
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(
        data.path(),
        &["--checkpoint-interval-secs", "1"],
        &[("AWS_ENDPOINT_URL", &moto.url())],
    );
    let batch: Vec<Value> = (0..20).map(|i| event(&format!("kept-{i}"))).collect();
    let (status, report) = post_events(&server, ADMIN_KEY, json!(batch).to_string()).await;
    assert_eq!(status, 200, "{report}");
    let created = graphql_as(
        &server,
        ADMIN_KEY,
        r#"mutation { createS3AccessKeyExportConfiguration(data: {interval: EVERY_24_HOURS,
            bucket: "audit", path: "vigil", region: "us-east-1", accessKeyId: "test",
            secretAccessKey: "test"}) { id connectionStatus } }"#,
    )
    .await;
    assert_eq!(
        created["data"]["createS3AccessKeyExportConfiguration"]["connectionStatus"], "SUCCESS",
        "{created}"
    );
    let (_, status) = get_json(&server, ADMIN_KEY, "/api/audit/status").await;
    let head = status["lastSequence"].as_u64().unwrap();

    // A copy of a checkpoint covering the head reaches the destination by itself.
    let store = common::emulators::moto_bucket(&moto, "audit");
    let copies = tempfile::tempdir().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while download_checkpoints(&store, "vigil/checkpoints", copies.path()).await < head {
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint covering {head} arrived"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(server.terminate().success());
    let data_dir = data.path().to_str().unwrap();
    let copies_dir = copies.path().to_str().unwrap();
    let output = vigil(&["verify", "--data-dir", data_dir, "--checkpoint", copies_dir]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("checked against"), "{stdout}");

    // A rewrite before a checkpoint, with every later hash recomputed: the chain alone would
    // verify, the checkpoints in the log do not.
    let rewritten = tempfile::tempdir().unwrap();
    for file in [vigil_core::DATABASE_FILE, "export-signing.key"] {
        std::fs::copy(data.path().join(file), rewritten.path().join(file)).unwrap();
    }
    let connection =
        rusqlite::Connection::open(rewritten.path().join(vigil_core::DATABASE_FILE)).unwrap();
    connection
        .execute(
            "UPDATE events SET body = replace(body, 'SELECT 1', 'SELECT 2') WHERE event_id = 'kept-3'",
            [],
        )
        .unwrap();
    let rows: Vec<(i64, String, Option<String>)> = connection
        .prepare("SELECT seq, body, submitter FROM events ORDER BY seq")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut previous = vigil_core::GENESIS;
    for (seq, body, submitter) in rows {
        let link = vigil_core::link_digest(
            &vigil_core::body_digest(body.as_bytes()),
            submitter.as_deref(),
        );
        previous = vigil_core::chain_hash(&previous, seq as u64, &link);
        connection
            .execute(
                "UPDATE events SET chain_hash = ?1 WHERE seq = ?2",
                rusqlite::params![&previous[..], seq],
            )
            .unwrap();
    }
    drop(connection);
    let output = vigil(&["verify", "--data-dir", rewritten.path().to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    assert!(
        stdout.contains("rewritten: the chain hash after sequence number"),
        "{stdout}"
    );

    // The newest events cut: the chain verifies, the copy at the destination does not.
    let connection =
        rusqlite::Connection::open(data.path().join(vigil_core::DATABASE_FILE)).unwrap();
    connection
        .execute("DELETE FROM events WHERE seq >= ?1", [(head - 3) as i64])
        .unwrap();
    drop(connection);
    let output = vigil(&["verify", "--data-dir", data_dir]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let output = vigil(&["verify", "--data-dir", data_dir, "--checkpoint", copies_dir]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "truncated: the log ends at sequence number {}",
            head - 4
        )),
        "{stdout}"
    );
}

/// Waits until the search index and the governance projection have caught up with the log.
async fn wait_until_views_caught_up(server: &Server) -> u64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (_, status) = get_json(server, ADMIN_KEY, "/api/audit/status").await;
        let last = status["lastSequence"].clone();
        if status["indexedSequence"] == last && status["projectedSequence"] == last {
            return last.as_u64().unwrap();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "views behind: {status}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Polls `/readyz` until `done` holds for its body.
async fn wait_for_readyz(server: &Server, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (_, ready) = get_json(server, ADMIN_KEY, "/readyz").await;
        if done(&ready) {
            return ready;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "/readyz stayed {ready}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Polls `path` until `done` holds for a 200 answer. Every answer on the way is either that or
/// a 503 saying the view is rebuilding, with its progress: never an error, never a partial answer
/// (`partial` says whether a 200 answer is one).
async fn wait_through_rebuild(
    server: &Server,
    path: &str,
    partial: impl Fn(&Value) -> bool,
    done: impl Fn(&Value) -> bool,
) -> (Value, usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut rebuilding_answers = 0;
    loop {
        let (status, body) = get_json(server, ADMIN_KEY, path).await;
        match status {
            200 => {
                assert!(
                    !partial(&body),
                    "a partial answer during the rebuild: {body}"
                );
                if done(&body) {
                    return (body, rebuilding_answers);
                }
            }
            503 => {
                assert_eq!(body["code"], "rebuilding", "{body}");
                let progress = &body["progress"];
                assert!(
                    progress["targetSequence"].as_u64() > Some(0)
                        && progress["percent"].as_u64() <= Some(100),
                    "{body}"
                );
                rebuilding_answers += 1;
            }
            _ => panic!("{path} answered {status} during the rebuild: {body}"),
        }
        assert!(std::time::Instant::now() < deadline, "{path} stayed {body}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_view_deleted_while_the_server_runs_is_rebuilt_and_says_so_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let users: Vec<Value> = (0..300)
        .map(|i| {
            common::user_created(
                &format!("user-{i}"),
                &format!("User {i}"),
                "2024-03-01T10:00:00Z",
            )
        })
        .collect();
    let (status, report) = post_events(&server, ADMIN_KEY, json!(users).to_string()).await;
    assert_eq!(status, 200, "{report}");
    wait_until_views_caught_up(&server).await;

    std::fs::remove_dir_all(dir.path().join("index")).unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.path().join(format!("governance.db{suffix}")));
    }
    let late = common::user_created("user-late", "User Late", "2024-03-02T10:00:00Z");
    let (status, report) = post_events(&server, ADMIN_KEY, late.to_string()).await;
    assert_eq!(status, 200, "{report}");

    // Search: every user, and the one stored after the deletion, once the rebuild is done.
    let (found, _) = wait_through_rebuild(
        &server,
        "/api/audit/events?eventType=UserCreated&facets=none&size=1",
        |body| body["total"].as_u64() < Some(300),
        |body| body["total"] == 301,
    )
    .await;
    assert_eq!(found["total"], 301, "{found}");
    assert!(dir.path().join("index").join("meta.json").exists());

    // Reports: the projection is back, with the late user.
    let rows = |body: &Value| body["rows"].as_array().map_or(0, Vec::len);
    let (report, _) = wait_through_rebuild(
        &server,
        "/api/audit/reports/run?entityType=user&report=status&limit=1000",
        |body| rows(body) < 300,
        |body| rows(body) == 301,
    )
    .await;
    assert!(report.to_string().contains("User Late"), "{report}");
    assert!(dir.path().join("governance.db").exists());
    let (status, ready) = get_json(&server, ADMIN_KEY, "/readyz").await;
    assert_eq!((status, ready.get("rebuilding")), (200, None), "{ready}");
    assert!(server.terminate().success());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_damaged_page_refuses_writes_says_so_and_verify_names_what_it_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let mut batch = Vec::new();
    for i in 0..2_000 {
        let mut item = event(&format!("page-{i}"));
        item["auditPayload"]["note"] = json!("x".repeat(300));
        batch.push(item);
    }
    let (status, report) = post_events(&server, ADMIN_KEY, json!(batch).to_string()).await;
    assert_eq!(status, 200, "{report}");
    assert!(server.terminate().success());

    // One leaf page of the events table, past the middle of the file, gets an invalid type byte.
    let path = dir.path().join(vigil_core::DATABASE_FILE);
    let mut file = std::fs::read(&path).unwrap();
    let page_size = usize::from(u16::from_be_bytes([file[16], file[17]]));
    let page = (file.len() / page_size / 2..file.len() / page_size)
        .find(|page| file[page * page_size] == 0x0d)
        .expect("a table leaf page");
    file[page * page_size] = 0xff;
    std::fs::write(&path, file).unwrap();

    let server = Server::start(dir.path());
    let ready = wait_for_readyz(&server, |ready| {
        ready["alarms"].to_string().contains("has a damaged page")
    })
    .await;
    assert_eq!(ready["status"], "integrity alarm", "{ready}");
    let (status, error) = post_events(&server, ADMIN_KEY, event("after-damage").to_string()).await;
    assert_eq!(status, 503, "{error}");
    assert!(
        error["error"].as_str().unwrap().contains("damaged page"),
        "{error}"
    );
    assert!(server.terminate().success());

    let output = vigil(&["verify", "--data-dir", dir.path().to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    assert!(
        stdout.contains("unreadable: the events from sequence number"),
        "{stdout}"
    );
}

fn delete_events_from(data_dir: &std::path::Path, first: u64) {
    let connection = rusqlite::Connection::open(data_dir.join(vigil_core::DATABASE_FILE)).unwrap();
    let removed = connection
        .execute("DELETE FROM events WHERE seq >= ?1", [first as i64])
        .unwrap();
    assert!(removed > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cut_log_raises_an_integrity_alarm_instead_of_a_quiet_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let batch: Vec<Value> = (0..10).map(|i| event(&format!("cut-{i}"))).collect();
    let (status, report) = post_events(&server, ADMIN_KEY, json!(batch).to_string()).await;
    assert_eq!(status, 200, "{report}");
    let head = wait_until_views_caught_up(&server).await;
    assert_eq!(get_json(&server, ADMIN_KEY, "/readyz").await.0, 200);

    // Cut behind the running server's back: its next append is refused, not given reused numbers.
    delete_events_from(dir.path(), head - 2);
    let (status, error) = post_events(&server, ADMIN_KEY, event("after-cut").to_string()).await;
    assert_eq!(status, 503, "{error}");
    assert!(
        error["error"].as_str().unwrap().contains("integrity alarm"),
        "{error}"
    );
    let (status, ready) = get_json(&server, ADMIN_KEY, "/readyz").await;
    assert_eq!(status, 503, "{ready}");
    let (status, again) = post_events(&server, ADMIN_KEY, event("after-cut-2").to_string()).await;
    assert_eq!(status, 503, "{again}");
    // The running index and projection notice it too, without a restart, and stop serving.
    let ready = wait_for_readyz(&server, |ready| {
        ready["alarms"]
            .as_array()
            .is_some_and(|alarms| alarms.len() == 3)
    })
    .await;
    let alarms = ready["alarms"].to_string();
    assert!(
        alarms.contains("the search index holds events up to"),
        "{ready}"
    );
    assert!(
        alarms.contains("the governance projection holds events up to"),
        "{ready}"
    );
    let (status, error) = get_json(&server, ADMIN_KEY, "/api/audit/events?q=select").await;
    assert_eq!(status, 503, "{error}");
    drop(server);

    // At the next start, the index and the projection are ahead of the log: they keep what they
    // hold and do not serve, instead of rebuilding to match the cut log.
    let server = Server::start(dir.path());
    let (status, ready) = get_json(&server, ADMIN_KEY, "/readyz").await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["alarms"].as_array().unwrap().len(), 2, "{ready}");
    let (status, error) = get_json(&server, ADMIN_KEY, "/api/audit/events?q=select").await;
    assert_eq!(status, 503, "{error}");
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("search index holds events up to"),
        "{error}"
    );
    let (status, error) = get_json(
        &server,
        ADMIN_KEY,
        "/api/audit/reports/run?entityType=user&report=status",
    )
    .await;
    assert_eq!(status, 503, "{error}");
    let metrics = common::get_text(&server, "/metrics").await;
    assert!(metrics.contains("vigil_integrity_alarms 2"), "{metrics}");
    assert!(server.terminate().success());

    // Rebuilt on purpose, the views serve the log as it now is.
    let data_dir = dir.path().to_str().unwrap();
    for args in [
        vec!["reindex", "--data-dir", data_dir],
        vec!["reindex", "--projection", "--data-dir", data_dir],
    ] {
        let output = vigil(&args);
        assert!(output.status.success(), "{output:?}");
    }
    let server = Server::start(dir.path());
    assert_eq!(get_json(&server, ADMIN_KEY, "/readyz").await.0, 200);
    let (status, found) =
        get_json(&server, ADMIN_KEY, "/api/audit/events?q=select&facets=none").await;
    assert_eq!(status, 200, "{found}");
}

/// A small tmpfs mounted for one test (which needs root, as the test command's installs do),
/// unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(megabytes: u32) -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        let size = format!("size={megabytes}m");
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &size, "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("mount runs");
        assert!(
            status.success(),
            "this test mounts a {megabytes} MB tmpfs to fill a disk, which needs root"
        );
        SmallDisk { dir }
    }

    fn grow(&self, megabytes: u32) {
        let options = format!("remount,size={megabytes}m");
        let status = std::process::Command::new("mount")
            .args(["-o", &options])
            .arg(self.dir.path())
            .status()
            .expect("mount runs");
        assert!(status.success(), "remounting the tmpfs failed");
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_answers_507_loses_nothing_and_recovers() {
    let disk = SmallDisk::mount(24);
    let data_dir = disk.path().join("data");
    let server = Server::start(&data_dir);
    let padding = "x".repeat(2_000);
    let mut acknowledged = 0usize;
    let mut refusal = None;
    for request in 0..200 {
        let batch: Vec<Value> = (0..250)
            .map(|i| {
                let mut value = event(&format!("full-{request}-{i}"));
                value["auditPayload"]["query"] = json!(format!("SELECT '{padding}'"));
                value
            })
            .collect();
        let (status, answer) = post_events(&server, ADMIN_KEY, json!(batch).to_string()).await;
        if status == 200 {
            acknowledged += answer["accepted"].as_u64().unwrap() as usize;
            continue;
        }
        refusal = Some((status, answer));
        break;
    }
    let (status, answer) = refusal.expect("the disk never filled");
    assert_eq!(
        (status, answer["code"].clone()),
        (507, json!("storage_full")),
        "{answer}"
    );
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .starts_with("storage full"),
        "{answer}"
    );
    assert!(acknowledged > 0);
    let (status, ready) = get_json(&server, ADMIN_KEY, "/readyz").await;
    assert_eq!(status, 503, "{ready}");
    assert!(
        ready["storage"]
            .as_str()
            .unwrap()
            .starts_with("storage full"),
        "{ready}"
    );
    let (status, health) = get_json(&server, ADMIN_KEY, "/healthz").await;
    assert_eq!(status, 200);
    assert!(health["storage"].is_string(), "{health}");
    // Reads go on.
    assert_eq!(
        get_json(&server, ADMIN_KEY, "/api/audit/events/full-0-0")
            .await
            .0,
        200
    );

    // Space again: appends succeed and the node is ready.
    disk.grow(256);
    let (status, answer) = post_events(&server, ADMIN_KEY, event("after-full").to_string()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(get_json(&server, ADMIN_KEY, "/readyz").await.0, 200);
    assert!(server.terminate().success());

    // Every acknowledged event is there once, and the chain verifies.
    let connection = rusqlite::Connection::open(data_dir.join(vigil_core::DATABASE_FILE)).unwrap();
    let stored: usize = connection
        .query_row(
            "SELECT count(*) FROM events WHERE event_id LIKE 'full-%'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(stored, acknowledged);
    drop(connection);
    let output = vigil(&["verify", "--data-dir", data_dir.to_str().unwrap()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

/// A mistyped data directory or a taken address leaves nothing behind: the key commands refuse
/// a directory that is not a data directory (instead of creating an empty log there), and
/// `serve` fails on a taken address before it creates a data directory or prints a first key.
#[test]
fn a_wrong_data_directory_or_a_taken_address_creates_nothing() {
    let parent = tempfile::tempdir().unwrap();
    let missing = parent.path().join("typo");
    let missing_text = missing.to_str().unwrap();
    for args in [
        vec!["keys", "list", "--data-dir", missing_text],
        vec!["keys", "delete", "admin", "--data-dir", missing_text],
        vec![
            "keys",
            "create",
            "--name",
            "n",
            "--permission",
            "AUDIT",
            "--data-dir",
            missing_text,
        ],
    ] {
        let output = vigil(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?}");
        assert!(
            stderr.contains("not a vigil data directory"),
            "{args:?}: {stderr}"
        );
        assert!(!missing.exists(), "{args:?} created {missing_text}");
    }

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let output = vigil(&["serve", "--listen", &address, "--data-dir", missing_text]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains(&address), "{stderr}");
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("API key"),
        "a first key was printed"
    );
    assert!(!missing.exists(), "serve created {missing_text}");
}

/// Settings come from flags, then the environment, then the config file, then defaults; secrets
/// may come from `…_FILE` variables; `vigil config check` shows the effective settings with
/// secrets masked and refuses what `serve` would refuse.
#[test]
fn settings_layer_flags_environment_file_and_secret_files() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vigil.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:18443\"\nretention_days = 30\nallow_private_endpoints = true\n\
         master_key = \"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"\n",
    )
    .unwrap();
    let secret_file = dir.path().join("bootstrap.key");
    std::fs::write(&secret_file, "a-secret-from-a-file-0123456789\n").unwrap();
    let check = |args: &[&str], env: &[(&str, &str)]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_vigil"));
        command.args(args).env_remove("VIGIL_CONFIG");
        for setting in [
            "VIGIL_LISTEN",
            "VIGIL_RETENTION_DAYS",
            "VIGIL_BOOTSTRAP_API_KEY",
            "VIGIL_MASTER_KEY",
        ] {
            command.env_remove(setting);
        }
        command.envs(env.iter().copied());
        command.output().unwrap()
    };
    let output = check(
        &["--config", file.to_str().unwrap(), "config", "check"],
        &[
            ("VIGIL_RETENTION_DAYS", "7"),
            (
                "VIGIL_BOOTSTRAP_API_KEY_FILE",
                secret_file.to_str().unwrap(),
            ),
        ],
    );
    assert!(output.status.success(), "{output:?}");
    let shown = String::from_utf8(output.stdout).unwrap();
    let line = |key: &str| {
        shown
            .lines()
            .find(|line| line.split_whitespace().next() == Some(key))
            .unwrap_or_else(|| panic!("no {key} in {shown}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(
        line("listen"),
        "listen 127.0.0.1:18443 from the config file (VIGIL_LISTEN)"
    );
    assert_eq!(
        line("retention_days"),
        "retention_days 7 from the environment (VIGIL_RETENTION_DAYS)"
    );
    assert_eq!(
        line("bootstrap_api_key"),
        "bootstrap_api_key *** from a …_FILE variable (VIGIL_BOOTSTRAP_API_KEY)"
    );
    assert_eq!(
        line("master_key"),
        "master_key *** from the config file (VIGIL_MASTER_KEY)"
    );
    assert_eq!(
        line("report_timeout_secs"),
        "report_timeout_secs 540 default (VIGIL_REPORT_TIMEOUT_SECS)"
    );
    assert!(
        !shown.contains("a-secret-from-a-file") && !shown.contains("00112233"),
        "{shown}"
    );
    assert!(shown.contains("the settings are valid"), "{shown}");

    // The file through VIGIL_CONFIG; a setting it does not know is refused, naming it.
    std::fs::write(&file, "colour = \"red\"\n").unwrap();
    let output = check(
        &["config", "check"],
        &[("VIGIL_CONFIG", file.to_str().unwrap())],
    );
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(
        error.contains("`colour` is not a setting") && error.contains("data_dir"),
        "{error}"
    );
    // A value serve would refuse is refused here too.
    std::fs::write(&file, "listen = \"nowhere\"\n").unwrap();
    let output = check(
        &["--config", file.to_str().unwrap(), "config", "check"],
        &[],
    );
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("'nowhere' for '--listen"),
        "{output:?}"
    );
    // A secret both given and given as a file is ambiguous.
    let output = check(
        &["config", "check"],
        &[
            ("VIGIL_MASTER_KEY", "x"),
            ("VIGIL_MASTER_KEY_FILE", secret_file.to_str().unwrap()),
        ],
    );
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("VIGIL_MASTER_KEY and VIGIL_MASTER_KEY_FILE are both set"),
        "{output:?}"
    );
}

/// A server takes its settings from the config file: the key from a `…_FILE` secret opens it.
#[tokio::test(flavor = "multi_thread")]
async fn a_server_runs_on_its_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = common::emulators::free_port();
    let file = dir.path().join("vigil.toml");
    std::fs::write(
        &file,
        format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = \"{}\"\n",
            data.display()
        ),
    )
    .unwrap();
    let secret_file = dir.path().join("bootstrap.key");
    std::fs::write(&secret_file, "config-file-key-0123456789\n").unwrap();
    /// Kills the server if the test fails before it stops it.
    struct Running(std::process::Child);
    impl Drop for Running {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Running(
        std::process::Command::new(env!("CARGO_BIN_EXE_vigil"))
            .args(["--config", file.to_str().unwrap(), "serve"])
            .env_remove("VIGIL_BOOTSTRAP_API_KEY")
            .env_remove("VIGIL_LISTEN")
            .env_remove("VIGIL_DATA_DIR")
            .env("VIGIL_BOOTSTRAP_API_KEY_FILE", &secret_file)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let url = format!("http://127.0.0.1:{port}/api/audit/session");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let session = loop {
        if let Ok(response) = client()
            .get(&url)
            .header("Authorization", "config-file-key-0123456789")
            .send()
            .await
        {
            break response;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not start"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(session.status(), 200);
    assert!(
        data.join("vigil.db").exists(),
        "the data directory of the file is used"
    );
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.0.id() as i32, libc::SIGTERM) };
    assert!(child.0.wait().unwrap().success());
}

/// `GET /healthz` over HTTPS, trusting only `ca`, on a new connection: the status, or the error.
async fn https_health(port: u16, ca: &std::path::Path) -> Result<u16, String> {
    let client = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap())
        .pool_max_idle_per_host(0)
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .unwrap();
    client
        .get(format!("https://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .map(|response| response.status().as_u16())
        .map_err(|error| format!("{error:?}"))
}

/// TLS: `--tls-cert`/`--tls-key` serve HTTPS; a certificate rotated in place is served to new
/// connections without a restart; plain HTTP is not answered on the TLS port.
#[tokio::test(flavor = "multi_thread")]
async fn tls_is_served_and_a_rotated_certificate_is_taken_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path(), "first");
    let (served_cert, served_key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    std::fs::copy(&cert, &served_cert).unwrap();
    std::fs::copy(&key, &served_key).unwrap();
    let server = Server::start_with(
        &dir.path().join("data"),
        &[
            "--tls-cert",
            served_cert.to_str().unwrap(),
            "--tls-key",
            served_key.to_str().unwrap(),
        ],
    );
    assert!(server.base.starts_with("https://"), "{}", server.base);
    let port: u16 = server.base.rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(https_health(port, &ca).await, Ok(200));
    // Plain HTTP gets no answer from the TLS port.
    assert!(
        client()
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            .is_err()
    );

    // Rotation: a new pair replaces the files (key first, as a renewal tool may); new
    // connections get the new certificate, and the old one is no longer served.
    let (next_ca, next_cert, next_key) = certificates(dir.path(), "second");
    std::fs::copy(&next_key, dir.path().join("next.key")).unwrap();
    std::fs::rename(dir.path().join("next.key"), &served_key).unwrap();
    std::fs::copy(&next_cert, dir.path().join("next.crt")).unwrap();
    std::fs::rename(dir.path().join("next.crt"), &served_cert).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while https_health(port, &next_ca).await != Ok(200) {
        assert!(
            std::time::Instant::now() < deadline,
            "the new certificate was not taken"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        https_health(port, &cert).await.is_err(),
        "the old certificate is still served"
    );
    assert!(server.terminate().success());
}
