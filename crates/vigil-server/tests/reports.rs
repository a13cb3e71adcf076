//! Governance reports over HTTP and the CLI: the catalog, JSON rows with a limit, CSV that opens
//! correctly with commas, quotes and line breaks in names, the errors that say what is wrong, and
//! each run recorded as an audit event.

mod common;

use std::time::{Duration, Instant};

use common::{ADMIN_KEY, Server, client, member_added, user_created, vigil};
use serde_json::{Value, json};

/// Parses RFC 4180 CSV: quoted fields may hold commas, doubled quotes and line breaks.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(
        field.is_empty() && record.is_empty(),
        "the CSV ends with CRLF"
    );
    records
}

/// Stores `events` with the admin key; the answer must be 200.
async fn store(server: &Server, events: &[Value]) {
    let response = client()
        .post(server.url("/api/audit/events"))
        .header("Authorization", ADMIN_KEY)
        .json(events)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn get(server: &Server, path: &str) -> (u16, Value) {
    let response = client()
        .get(server.url(path))
        .header("Authorization", ADMIN_KEY)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn reports_answer_as_json_and_csv_refuse_bad_requests_clearly_and_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let names = [
        ("a@acme.example", "Smith, Taylor"),
        ("b@acme.example", "Deepu \"DJ\" Murty"),
        ("c@acme.example", "Ann\nO'Brien"),
    ];
    let mut events = Vec::new();
    for (i, (id, name)) in names.iter().enumerate() {
        events.push(user_created(
            id,
            name,
            &format!("2026-10-0{}T08:00:00.000Z", i + 1),
        ));
        events.push(member_added(
            id,
            name,
            &format!("2026-10-0{}T09:00:00.000Z", i + 1),
        ));
    }
    store(&server, &events).await;

    // The catalog: 45 report kinds, each with its columns.
    let (status, catalog) = get(&server, "/api/audit/reports").await;
    assert_eq!(status, 200);
    assert_eq!(catalog["reports"].as_array().unwrap().len(), 45);
    assert!(
        catalog["entityTypes"]
            .as_array()
            .unwrap()
            .contains(&json!("global-policy"))
    );

    // The name box.
    let (status, found) = get(
        &server,
        "/api/audit/reports/entities?entityType=group&q=audit",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        found["entities"],
        json!([{ "id": "g1", "name": "Audit, \"Core\"" }])
    );

    // JSON rows, with a limit.
    let path = "/api/audit/reports/run?entityType=group&name=Audit,%20%22Core%22&report=members";
    let (status, report) = get(&server, &format!("{path}&limit=2")).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        report["columns"],
        json!(["User", "Username", "Email", "Joined"])
    );
    assert_eq!(report["rows"].as_array().unwrap().len(), 2);
    assert_eq!(report["truncated"], true);
    assert_eq!(
        report["entity"],
        json!({ "id": "g1", "name": "Audit, \"Core\"" })
    );

    // The whole report as CSV: the same rows, whatever the names hold.
    let response = client()
        .get(server.url(path))
        .header("Authorization", ADMIN_KEY)
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = parse_csv(&response.text().await.unwrap());
    assert_eq!(
        csv,
        vec![
            vec!["User", "Username", "Email", "Joined"],
            vec![
                "Ann\nO'Brien",
                "c@acme.example",
                "c@acme.example",
                "2026-10-03T09:00:00.000Z"
            ],
            vec![
                "Deepu \"DJ\" Murty",
                "b@acme.example",
                "b@acme.example",
                "2026-10-02T09:00:00.000Z"
            ],
            vec![
                "Smith, Taylor",
                "a@acme.example",
                "a@acme.example",
                "2026-10-01T09:00:00.000Z"
            ],
        ]
    );

    // Bad requests: 4xx saying which part is wrong.
    for (query, status, code, says) in [
        (
            "entityType=warehouse&report=members",
            400,
            "unknown_entity_type",
            "warehouse",
        ),
        (
            "entityType=group&name=g1&report=owners",
            400,
            "unknown_report",
            "owners",
        ),
        (
            "entityType=group&name=Nobody&report=members",
            404,
            "unknown_entity",
            "Nobody",
        ),
        (
            "entityType=user&name=a@acme.example&report=data-sources-accessed&from=2026-10-05&to=2026-10-01",
            400,
            "invalid_date_range",
            "after it ends",
        ),
        (
            "entityType=user&name=a@acme.example&report=data-sources-accessed&from=yesterday",
            400,
            "invalid_request",
            "`from`",
        ),
        (
            "entityType=user&report=groups",
            400,
            "invalid_name",
            "give its name",
        ),
    ] {
        let (got, body) = get(&server, &format!("/api/audit/reports/run?{query}")).await;
        assert_eq!(
            (got, body["code"].as_str().unwrap()),
            (status, code),
            "{query}: {body}"
        );
        assert!(
            body["error"].as_str().unwrap().contains(says),
            "{query}: {body}"
        );
    }
    let (_, missing) = get(
        &server,
        "/api/audit/reports/run?entityType=user&name=smith&report=groups",
    )
    .await;
    assert_eq!(missing["suggestions"][0]["id"], "a@acme.example");

    // The CLI: a CSV of the same report, and a clear error with a non-zero exit.
    let base = server.base.clone();
    let output = vigil(&[
        "report",
        "run",
        "--url",
        &base,
        "--api-key",
        ADMIN_KEY,
        "--entity",
        "group",
        "--name",
        "g1",
        "--report",
        "members",
        "--csv",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(parse_csv(&String::from_utf8(output.stdout).unwrap()), csv);
    let output = vigil(&[
        "report",
        "run",
        "--url",
        &base,
        "--api-key",
        ADMIN_KEY,
        "--entity",
        "group",
        "--name",
        "Nobody",
        "--report",
        "members",
    ]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no group named `Nobody`"));

    // Each run is an audit event.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, found) = get(&server, "/api/audit/events?action=RUN_REPORT&size=50").await;
        let runs = found["total"].as_u64().unwrap_or(0);
        if runs >= 3 {
            let hit = &found["hits"][0];
            assert_eq!(hit["targetType"], "REPORT");
            assert_eq!(
                hit["auditPayload"]["type"],
                "GovernanceReportRunAuditPayload"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the report runs were not recorded: {found}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.terminate();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_csv_export_is_the_full_report_and_reports_without_a_default_range_cover_everything() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let now = chrono::Utc::now();
    let at = |days_ago: i64| (now - chrono::Duration::days(days_ago)).to_rfc3339();
    let exhibitions = json!({ "type": "DATASOURCE", "id": "2034", "name": "Exhibitions", "technology": "SNOWFLAKE" });
    let mut events = vec![
        user_created("taylor@example.com", "Taylor", &at(200)),
        user_created("deepu@example.com", "Deepu", &at(200)),
        json!({
            "id": "ds-created", "action": "CREATE", "targetType": "DATASOURCE", "eventTimestamp": at(200),
            "actor": { "type": "USER_ACTOR", "id": "admin@example.com", "name": "Admin" },
            "targets": [exhibitions],
            "auditPayload": { "type": "DatasourceCreatedAuditPayload", "version": 1, "technology": "SNOWFLAKE" }
        }),
        json!({
            "id": "tagged", "action": "TAG_APPLY", "targetType": "DATASOURCE", "eventTimestamp": at(150),
            "actor": { "type": "USER_ACTOR", "id": "admin@example.com", "name": "Admin" },
            "targets": [exhibitions],
            "auditPayload": { "type": "TagAppliedAuditPayload", "version": 1,
                "appliedTags": [{ "targetName": "Exhibitions", "targetType": "DATASOURCE", "tags": [{ "id": "t1", "name": "PII" }] }] }
        }),
    ];
    for (id, who, days_ago) in [
        ("old", "taylor@example.com", 90),
        ("recent", "taylor@example.com", 3),
        ("deepu-old", "deepu@example.com", 60),
    ] {
        let mut query = common::event(id);
        query["actor"]["id"] = json!(who);
        query["eventTimestamp"] = json!(at(days_ago));
        events.push(query);
    }
    store(&server, &events).await;
    let accessed = "/api/audit/reports/run?entityType=user&name=taylor@example.com&report=data-sources-accessed";
    let deadline = Instant::now() + Duration::from_secs(30);
    let json_rows = loop {
        let (status, report) = get(&server, accessed).await;
        if status == 200
            && report["rows"]
                .as_array()
                .is_some_and(|rows| !rows.is_empty())
        {
            break report["rows"].clone();
        }
        assert!(Instant::now() < deadline, "{report}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Seed 000: "By default, this report only displays the last month of results."
    assert_eq!(json_rows[0][3], 1, "{json_rows}");
    // "(You can download the full report by clicking Export to CSV.)"
    let csv = client()
        .get(server.url(accessed))
        .header("Authorization", ADMIN_KEY)
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let records = parse_csv(&csv);
    assert_eq!(records[1][3], "2", "{csv}");
    assert!(
        records[1][1].starts_with(&at(90)[..10]),
        "first access 90 days ago: {csv}"
    );

    // "Users who have accessed data sources containing this tag" has no default range in the
    // seed: every user who ever did, Deepu (60 days ago) included.
    let (status, tagged) = get(
        &server,
        "/api/audit/reports/run?entityType=tag&name=PII&report=users-accessed",
    )
    .await;
    assert_eq!(status, 200, "{tagged}");
    let users: Vec<&str> = tagged["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row[1].as_str().unwrap())
        .collect();
    assert_eq!(
        users,
        ["deepu@example.com", "taylor@example.com"],
        "{tagged}"
    );
    assert!(server.terminate().success());
}

/// Names in reports sort as people read them, in the SQL reports and in the bulk ones (a whole
/// report); an unknown name is answered with the closest names first, a typo included.
#[tokio::test(flavor = "multi_thread")]
async fn names_sort_naturally_and_unknown_names_get_the_closest_suggestions() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let users: Vec<Value> = ["User 10", "User 2", "user 1", "Useless Bot"]
        .iter()
        .enumerate()
        .map(|(n, name)| user_created(&format!("u{n}@acme.example"), name, "2026-10-01T08:00:00Z"))
        .collect();
    store(&server, &users).await;
    for limit in ["100", "all"] {
        let (status, report) = get(
            &server,
            &format!("/api/audit/reports/run?entityType=user&report=status&limit={limit}"),
        )
        .await;
        assert_eq!(status, 200, "{report}");
        let names: Vec<&str> = report["rows"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|row| row[0].as_str())
            .filter(|name| name.to_lowercase().starts_with("use"))
            .collect();
        assert_eq!(
            names,
            ["Useless Bot", "user 1", "User 2", "User 10"],
            "{limit}: {report}"
        );
    }
    // A typo: "Usre 2" is two edits from "User 2".
    let (status, answer) = get(
        &server,
        "/api/audit/reports/run?entityType=user&name=Usre%202&report=groups",
    )
    .await;
    assert_eq!(status, 404, "{answer}");
    let suggestions: Vec<&str> = answer["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(suggestions.first(), Some(&"User 2"), "{answer}");
}
