//! The web UI end to end, in a real headless Chromium: sign-in (and its errors), the audit page's
//! time range, facet filters, keywords, paging and empty state, an event and its exact JSON, both
//! dashboards and their links into the audit page, the report builder and its CSV download, the
//! exports page, a narrow window, labels and keyboard use. Screenshots of every page are saved
//! under the cargo target's tmp directory (`ui-screenshots/`).

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use common::browser::{Browser, ENTER};
use common::emulators::Emulator;
use common::fakes::{self, TEST_KEY_FINGERPRINT, TEST_KEY_PEM, snowflake_row};
use common::{ADMIN_KEY, Server, client};
use serde_json::{Value, json};

fn ago(minutes: i64) -> String {
    (Utc::now() - chrono::Duration::minutes(minutes)).to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn screenshots() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots")
}

/// A query event. Jordan's read the sensitive column EMAIL of Visitors on Databricks; the rest
/// read Exhibitions on Snowflake.
fn query(id: &str, who: Option<(&str, &str)>, minutes_ago: i64, status: &str, text: &str) -> Value {
    let jordan = who.is_some_and(|(id, _)| id.starts_with("jordan"));
    let (ds_id, ds_name, technology) = if jordan {
        ("2035", "Visitors", "DATABRICKS")
    } else {
        ("2034", "Exhibitions", "SNOWFLAKE")
    };
    let actor = match who {
        Some((id, name)) => json!({ "type": "USER_ACTOR", "id": id, "name": name }),
        None => json!({ "type": "UNKNOWN", "id": "Unknown", "name": "Unknown" }),
    };
    let context = if jordan {
        json!({ "type": "DatabricksContext", "account": { "username": "jordan.dbx" } })
    } else {
        json!({ "type": "SnowflakeContext", "snowflakeUsername": if who.is_none() { "SVC_LOADER" } else { "TAYLOR_SF" } })
    };
    let score = if jordan { "SENSITIVE" } else { "NONSENSITIVE" };
    json!({
        "id": id, "action": "QUERY", "actor": actor, "actionStatus": status,
        "eventTimestamp": ago(minutes_ago), "targetType": "DATASOURCE",
        "targets": [{ "type": "DATASOURCE", "id": ds_id, "name": ds_name, "technology": technology }],
        "auditPayload": {
            "type": "QueryAuditPayload", "queryId": id, "query": text,
            "technologyContext": context,
            "objectsAccessed": [{
                "name": format!("DB.PUBLIC.{}", ds_name.to_uppercase()), "datasourceId": ds_id, "type": "TABLE",
                "columns": [{ "name": if jordan { "EMAIL" } else { "THEME" }, "tags": [],
                              "securityProfile": { "sensitivity": { "score": score } } }],
                "tags": [], "securityProfile": { "sensitivity": { "score": score } }
            }]
        }
    })
}

fn user_created(id: &str, name: &str) -> Value {
    json!({
        "id": format!("create-{id}"), "action": "CREATE", "targetType": "USER", "eventTimestamp": ago(3 * 24 * 60),
        "actor": { "type": "SYSTEM_ACCOUNT", "id": "immuta_system_account", "name": "Immuta System Account" },
        "targets": [{ "type": "USER", "id": id, "name": name }],
        "auditPayload": { "type": "UserCreatedAuditPayload", "version": 1, "name": name, "email": id },
    })
}

/// The fixture history. In the last 24 hours: 45 QUERY events (Taylor 30, Jordan 10 + 4
/// unauthorized, one by an unknown Snowflake user); in the last 2 hours 4 of them.
fn fixtures() -> Vec<Value> {
    let taylor = Some(("taylor@acme.example", "Taylor"));
    let jordan = Some(("jordan@acme.example", "Jordan"));
    let mut events = vec![
        user_created("taylor@acme.example", "Taylor"),
        user_created("jordan@acme.example", "Jordan"),
        user_created("pat@acme.example", "Smith, \"Pat\""),
    ];
    for i in 0..30 {
        let text = if i == 7 {
            "SELECT theme FROM exhibitions WHERE theme = 'zebracorn'".to_owned()
        } else {
            format!("SELECT theme FROM exhibitions WHERE id = {i}")
        };
        events.push(query(
            &format!("taylor-{i}"),
            taylor,
            30 + 40 * i,
            "SUCCESS",
            &text,
        ));
    }
    for i in 0..10 {
        events.push(query(
            &format!("jordan-{i}"),
            jordan,
            45 + 100 * i,
            "SUCCESS",
            "SELECT email FROM visitors",
        ));
    }
    for i in 0..4 {
        events.push(query(
            &format!("jordan-denied-{i}"),
            jordan,
            200 + 60 * i,
            "UNAUTHORIZED",
            "SELECT * FROM visitors",
        ));
    }
    events.push(query(
        "unknown-0",
        None,
        300,
        "SUCCESS",
        "COPY INTO exhibitions",
    ));
    for i in 0..3 {
        events.push(query(
            &format!("old-{i}"),
            taylor,
            3 * 24 * 60 + i,
            "SUCCESS",
            "SELECT 1",
        ));
    }
    events
}

async fn ingest(server: &Server, events: &[Value]) {
    let response = client()
        .post(server.url("/api/audit/events"))
        .header("Authorization", ADMIN_KEY)
        .json(&events)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

async fn api_get(server: &Server, path: &str) -> reqwest::Response {
    client()
        .get(server.url(path))
        .header("Authorization", ADMIN_KEY)
        .send()
        .await
        .unwrap()
}

/// Waits until search and the projection have every stored event.
async fn wait_until_derived(server: &Server) {
    let started = Instant::now();
    loop {
        let status: Value = api_get(server, "/api/audit/status")
            .await
            .json()
            .await
            .unwrap();
        let last = status["lastSequence"].as_u64().unwrap();
        if status["indexedSequence"].as_u64().unwrap() >= last
            && status["projectedSequence"].as_u64().unwrap() >= last
        {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "not derived: {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn text_of(browser: &Browser, selector: &str) -> String {
    let element = browser.find(selector).await;
    browser.text(&element).await
}

/// Opens `url`, signs in with the admin key and waits for the audit page.
async fn sign_in(browser: &Browser, url: &str) {
    browser.open(url).await;
    browser
        .type_into(&browser.find("#api-key").await, ADMIN_KEY)
        .await;
    browser.press(ENTER).await;
    browser.wait_ready("audit").await;
}

/// Waits until `#total` reads `expected`.
async fn wait_total(browser: &Browser, expected: &str) {
    browser
        .wait_for(
            &format!("a total of `{expected}`"),
            &format!(
                "const m = document.getElementById('main'); const t = document.getElementById('total'); \
                 return m.dataset.ready === 'audit' && t && t.textContent.startsWith('{expected}')"
            ),
        )
        .await;
}

/// Fails when an input or select of the page has no label.
async fn assert_labelled(browser: &Browser, page: &str) {
    let unlabelled = browser
        .script(
            "return [...document.querySelectorAll('input:not([type=hidden]), select')] \
               .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')) \
               .map(e => e.outerHTML)",
            vec![],
        )
        .await;
    assert_eq!(
        unlabelled,
        json!([]),
        "inputs without a label on the {page} page"
    );
}

/// Clicks the facet value button of `field` whose value is `value`.
async fn click_facet(browser: &Browser, field: &str, value: &str) {
    let found = browser
        .wait_for(
            &format!("the facet value {field}={value}"),
            &format!(
                "const b = [...document.querySelectorAll('details[data-facet={field}] li > button:first-child')] \
                   .find(b => b.querySelector('.value').textContent === {value:?}); \
                 if (b) {{ b.click(); return true; }} return false"
            ),
        )
        .await;
    assert_eq!(found, json!(true));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_web_ui_works_end_to_end_in_a_real_browser() {
    let moto = Emulator::moto();
    moto.create_bucket("ui-bucket").await;
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    ingest(&server, &fixtures()).await;
    wait_until_derived(&server).await;
    let shots = screenshots();
    let downloads = tempfile::tempdir().unwrap();
    let browser = Browser::start(downloads.path(), 1280, 800).await;

    // Without a key, any page shows the sign-in form, never a blank page.
    browser.open(&server.url("/#/audit")).await;
    let key = browser.find("#api-key").await;
    assert_labelled(&browser, "sign-in").await;
    // No key says so; a wrong one is refused by the server.
    browser.click(&browser.find("#sign-in").await).await;
    let error = text_of(&browser, "#sign-in-error .error").await;
    assert!(error.contains("Enter an API key"), "{error}");
    browser.type_into(&key, "not-a-key").await;
    browser.click(&browser.find("#sign-in").await).await;
    let error = browser
        .wait_for(
            "the refusal",
            "const e = document.querySelector('#sign-in-error .error'); return e && e.textContent.includes('not accepted') && e.textContent",
        )
        .await;
    assert!(error.as_str().unwrap().contains("not accepted"), "{error}");
    browser
        .screenshot(&shots.join("01-sign-in-error.png"))
        .await;
    // The key never shows up in a URL.
    let url = browser.script("return location.href", vec![]).await;
    assert!(!url.as_str().unwrap().contains("not-a-key"));

    // Sign in with the keyboard: type the key and press Enter.
    browser.type_into(&key, ADMIN_KEY).await;
    browser.press(ENTER).await;
    browser.wait_ready("audit").await;
    let who = text_of(&browser, "#who").await;
    assert!(who.contains("Signed in as"), "{who}");
    assert_labelled(&browser, "audit").await;
    let rows = browser.find_all("#events tbody tr").await;
    assert!(!rows.is_empty());
    // Newest first: the first row is the newest QUERY (Taylor's, 30 minutes ago) or a newer own event.
    let times = browser
        .script(
            "return [...document.querySelectorAll('#events tbody tr')].map(r => r.textContent)",
            vec![],
        )
        .await;
    assert!(times.to_string().contains("Taylor"), "{times}");
    // The unknown user is shown as Unknown with the platform username.
    let unknown = browser
        .script("return [...document.querySelectorAll('#events tbody tr td:nth-child(2)')].map(c => c.textContent).find(t => t.startsWith('Unknown'))", vec![])
        .await;
    assert!(
        unknown.as_str().is_some_and(|t| t.contains("SVC_LOADER")),
        "{unknown}"
    );
    browser.screenshot(&shots.join("02-audit.png")).await;

    // Filter by a facet, then a second one; remove it with its ×.
    click_facet(&browser, "action", "QUERY").await;
    wait_total(&browser, "45 events").await;
    click_facet(&browser, "actorName", "Jordan").await;
    wait_total(&browser, "14 events").await;
    let chips = text_of(&browser, ".chips").await;
    assert!(
        chips.contains("User: Jordan") && chips.contains("Action: QUERY"),
        "{chips}"
    );
    let users = browser
        .script("return [...document.querySelectorAll('#events tbody tr td:nth-child(2)')].map(c => c.textContent)", vec![])
        .await;
    assert_eq!(users.as_array().unwrap().len(), 14);
    assert!(
        users
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u == "Jordanjordan@acme.example"),
        "the name, with the actor's id under it: {users}"
    );
    browser
        .screenshot(&shots.join("03-audit-filtered.png"))
        .await;
    browser
        .click(
            &browser
                .find("button[aria-label='Remove filter User: Jordan']")
                .await,
        )
        .await;
    wait_total(&browser, "45 events").await;

    // Paging: 45 events, 50 a page: no older page. Keywords, typed and submitted with Enter.
    let next = browser
        .script("return document.getElementById('next').disabled", vec![])
        .await;
    assert_eq!(next, json!(true));
    let keywords = browser.find("#q").await;
    browser.type_into(&keywords, "zebracorn").await;
    browser.press(ENTER).await;
    wait_total(&browser, "1 event").await;

    // Open the event: its fields, then its exact stored JSON.
    browser
        .click(&browser.find("#events a.event-link").await)
        .await;
    browser.wait_ready("event").await;
    let fields = text_of(&browser, "#event-fields").await;
    assert!(
        fields.contains("taylor-7") && fields.contains("QUERY") && fields.contains("Taylor"),
        "{fields}"
    );
    let details = text_of(&browser, "#event-details").await;
    assert!(
        details.contains("zebracorn") && details.contains("TAYLOR_SF"),
        "{details}"
    );
    assert!(
        !browser
            .text(&browser.find("#main").await)
            .await
            .contains("[object")
    );
    browser.click(&browser.find("#view-json").await).await;
    let shown = browser
        .wait_for(
            "the event's JSON",
            "const j = document.getElementById('event-json'); return !j.hidden && j.textContent",
        )
        .await;
    let stored = api_get(&server, "/api/audit/events/taylor-7")
        .await
        .text()
        .await
        .unwrap();
    // Indented for reading, every value as stored.
    let shown = shown.as_str().unwrap();
    assert!(shown.contains("\n  \"action\": \"QUERY\""), "{shown}");
    assert_eq!(
        serde_json::from_str::<Value>(shown).unwrap(),
        serde_json::from_str::<Value>(&stored).unwrap()
    );
    let without_layout: String = shown
        .lines()
        .map(str::trim_start)
        .collect::<Vec<_>>()
        .join("");
    assert_eq!(without_layout.replace("\": ", "\":"), stored);
    let copy_shown = browser
        .script(
            "return !document.getElementById('copy-json').hidden",
            vec![],
        )
        .await;
    assert_eq!(copy_shown, json!(true));
    browser.screenshot(&shots.join("04-event-json.png")).await;

    // An empty result shows an empty state.
    browser
        .open(&server.url("/#/audit?q=nothingmatchesthisword"))
        .await;
    browser.wait_ready("audit").await;
    let empty = text_of(&browser, "#empty").await;
    assert!(empty.contains("No events match"), "{empty}");

    // A custom number of hours: the last 2 hours hold 4 queries.
    browser.open(&server.url("/#/audit?f=action:QUERY")).await;
    browser.wait_ready("audit").await;
    browser.choose(&browser.find("#range").await, "hours").await;
    let hours = browser.find("#hours").await;
    browser.type_into(&hours, "2").await;
    browser.click(&browser.find("#search").await).await;
    wait_total(&browser, "4 events").await;
    // A custom date range: the day three days ago holds the 3 old queries and 3 user creations.
    let from = (Utc::now() - chrono::Duration::days(4))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let to = (Utc::now() - chrono::Duration::days(2))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    browser
        .choose(&browser.find("#range").await, "custom")
        .await;
    // datetime-local takes local time; the browser's zone is the machine's, as chrono's Local.
    let local = |text: &str| {
        let utc = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
            .unwrap()
            .and_utc();
        utc.with_timezone(&chrono::Local)
            .format("%Y-%m-%dT%H:%M")
            .to_string()
    };
    browser
        .script(
            "document.getElementById('from').value = arguments[0]; document.getElementById('to').value = arguments[1]",
            vec![json!(local(&from)), json!(local(&to))],
        )
        .await;
    browser.click(&browser.find("#search").await).await;
    wait_total(&browser, "3 events").await;

    // User activity dashboard: four charts; a bar leads to the filtered audit page.
    browser.open(&server.url("/#/dashboards/user")).await;
    browser.wait_ready("dashboard").await;
    assert_labelled(&browser, "user activity").await;
    for chart in [
        "#chart-events svg",
        "#chart-datasources svg",
        "#chart-purposes",
        "#chart-failures svg",
    ] {
        browser.find(chart).await;
    }
    let bars = browser.find_all("#chart-events svg a").await;
    assert_eq!(bars.len(), 48);
    // Failures by reason, in words, and by user; time ticks along the axis.
    let failures = text_of(&browser, "#chart-failures").await;
    assert!(failures.contains("Refused: not authorized"), "{failures}");
    let by_user = text_of(&browser, "#chart-failures-by-user").await;
    assert!(
        by_user.contains("Jordan") && !by_user.contains("Taylor"),
        "{by_user}"
    );
    let ticks = browser.find_all("#chart-events svg text.tick").await;
    assert_eq!(ticks.len(), 5);
    browser
        .screenshot(&shots.join("05-dashboard-user.png"))
        .await;
    browser
        .click(
            &browser
                .find("#chart-datasources a[aria-label^='Visitors']")
                .await,
        )
        .await;
    wait_total(&browser, "14 events").await;
    assert!(
        text_of(&browser, ".chips")
            .await
            .contains("Data source: Visitors")
    );

    // The dashboards take the audit page's time range and filters, through the navigation.
    browser
        .open(&server.url("/#/audit?range=7d&f=actionStatus:UNAUTHORIZED"))
        .await;
    browser.wait_ready("audit").await;
    browser
        .click(&browser.find("#nav a[data-page=user]").await)
        .await;
    browser.wait_ready("dashboard").await;
    assert!(
        text_of(&browser, ".chips")
            .await
            .contains("Status: UNAUTHORIZED")
    );
    let range = browser
        .script("return document.getElementById('range').value", vec![])
        .await;
    assert_eq!(range, json!("7d"));
    let sources = text_of(&browser, "#chart-datasources").await;
    assert!(
        sources.contains("Visitors") && !sources.contains("Exhibitions"),
        "{sources}"
    );

    // One user's activity.
    browser
        .open(&server.url("/#/dashboards/user?user=Taylor"))
        .await;
    browser.wait_ready("dashboard").await;
    let sources = text_of(&browser, "#chart-datasources").await;
    assert!(
        sources.contains("Exhibitions") && !sources.contains("Visitors"),
        "{sources}"
    );

    // Data activity dashboard.
    browser.open(&server.url("/#/dashboards/data")).await;
    browser.wait_ready("dashboard").await;
    let users = text_of(&browser, "#chart-users").await;
    assert!(
        users.contains("Taylor") && users.contains("Jordan"),
        "{users}"
    );
    let columns = text_of(&browser, "#chart-columns").await;
    assert!(
        columns.contains("EMAIL") && !columns.contains("THEME"),
        "{columns}"
    );
    let technologies = text_of(&browser, "#chart-technologies").await;
    assert!(
        technologies.contains("SNOWFLAKE") && technologies.contains("DATABRICKS"),
        "{technologies}"
    );
    browser
        .screenshot(&shots.join("06-dashboard-data.png"))
        .await;
    browser
        .click(&browser.find("#chart-queries svg a:last-of-type").await)
        .await;
    browser.wait_ready("audit").await;
    assert!(text_of(&browser, ".chips").await.contains("Action: QUERY"));

    // Report builder: a report about every user, its rows, its CSV.
    browser.open(&server.url("/#/reports")).await;
    browser.wait_ready("reports").await;
    assert_labelled(&browser, "report builder").await;
    browser
        .screenshot(&shots.join("07-report-builder.png"))
        .await;
    browser
        .click(
            &browser
                .find(".tile[data-report='status'][data-scope='all']")
                .await,
        )
        .await;
    browser.wait_ready("report").await;
    let page = text_of(&browser, "#main").await;
    assert!(
        !page.contains("null") && !page.contains("[object"),
        "{page}"
    );
    let rows = text_of(&browser, "#report-rows").await;
    assert!(
        rows.contains("Smith, \"Pat\"") && rows.contains("jordan@acme.example"),
        "{rows}"
    );
    browser.screenshot(&shots.join("08-report.png")).await;
    browser.click(&browser.find("#export-csv").await).await;
    let csv_path = downloads.path().join("user-status.csv");
    let started = Instant::now();
    while !csv_path.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the CSV was not downloaded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let downloaded = std::fs::read_to_string(&csv_path).unwrap();
    let expected = api_get(
        &server,
        "/api/audit/reports/run?entityType=user&report=status&format=csv",
    )
    .await
    .text()
    .await
    .unwrap();
    assert_eq!(downloaded, expected);
    assert!(
        downloaded.contains("\"Smith, \"\"Pat\"\"\""),
        "{downloaded}"
    );

    // Back to the builder; a report about one user, typed in the name box, that has no rows.
    browser.click(&browser.find("#back-to-builder").await).await;
    browser.wait_ready("reports").await;
    let name = browser.find("#entity-name").await;
    browser.type_into(&name, "Jordan").await;
    browser
        .click(
            &browser
                .find(".tile[data-report='groups'][data-scope='one']")
                .await,
        )
        .await;
    browser.wait_ready("report").await;
    assert!(text_of(&browser, "#empty").await.contains("no rows"));
    // An unknown name says so, with suggestions.
    browser
        .open(&server.url("/#/reports?entity=user&report=groups&scope=one&name=Jordn"))
        .await;
    let error = text_of(&browser, "#main .error").await;
    assert!(
        error.contains("Jordn") && error.contains("Jordan"),
        "{error}"
    );

    // Exports: a configuration created from the page, its state, an export now, then disabling
    // it; one whose bucket does not exist is shown failing, with the cause in words.
    browser.open(&server.url("/#/exports")).await;
    browser.wait_ready("exports").await;
    let fill = |fields: Vec<(&'static str, String)>| {
        let browser = &browser;
        async move {
            browser.click(&browser.find("#new-export").await).await;
            browser.find("#export-form").await;
            browser
                .choose(&browser.find("#export-interval").await, "EVERY_2_HOURS")
                .await;
            for (name, value) in fields {
                browser
                    .type_into(&browser.find(&format!("#export-{name}")).await, &value)
                    .await;
            }
            browser.click(&browser.find("#export-save").await).await;
            // The page comes back with what the save did.
            browser
                .wait_for(
                    "the saved configuration",
                    "const m = document.getElementById('export-message'); \
                     return document.getElementById('main').dataset.ready === 'exports' && m && m.textContent.includes('connection test')",
                )
                .await;
        }
    };
    let s3 = |bucket: &str| {
        vec![
            ("bucket", bucket.to_owned()),
            ("path", "audit".to_owned()),
            ("region", "us-east-1".to_owned()),
            ("accessKeyId", "AKID".to_owned()),
            ("secretAccessKey", "SECRET/KEY".to_owned()),
            ("endpoint", moto.url()),
        ]
    };
    fill(s3("no-such-bucket")).await;
    let notice = text_of(&browser, "#export-message").await;
    assert!(
        notice.contains("Its connection test failed")
            && notice.contains("the bucket does not exist"),
        "{notice}"
    );
    let failing = text_of(&browser, "#exports tbody tr td.connection").await;
    assert!(
        failing.contains("Failing: S3 using AccessKey - the bucket does not exist"),
        "{failing}"
    );
    // Deleting takes a second click.
    browser.click(&browser.find("#exports .delete").await).await;
    assert_eq!(
        text_of(&browser, "#exports .delete").await,
        "Confirm delete"
    );
    browser.click(&browser.find("#exports .delete").await).await;
    browser.wait_ready("exports").await;
    browser.find("#empty").await;
    fill(s3("ui-bucket")).await;
    let notice = text_of(&browser, "#export-message").await;
    assert!(notice.contains("Its connection test succeeded"), "{notice}");
    let table = text_of(&browser, "#exports").await;
    assert!(
        table.contains("s3://ui-bucket/audit")
            && table.contains("Enabled")
            && table.contains("Working"),
        "{table}"
    );
    assert!(!table.contains("SECRET"), "the secret is never shown");
    assert_labelled(&browser, "exports").await;
    browser
        .click(&browser.find("#exports .export-now").await)
        .await;
    browser.wait_ready("exports").await;
    // Refresh until the run has finished and its time shows.
    browser
        .wait_for(
            "a finished export",
            "const cell = document.querySelector('#exports tbody tr td:nth-child(5)'); \
             if (cell && cell.textContent !== '—') return true; \
             if (document.getElementById('main').dataset.ready === 'exports') { location.hash = '#/exports?r=' + Date.now(); } \
             return false",
        )
        .await;
    browser.screenshot(&shots.join("09-exports.png")).await;
    browser.click(&browser.find("#exports .toggle").await).await;
    browser
        .wait_for("the disabled state", "const t = document.getElementById('exports'); return t && t.textContent.includes('Disabled')")
        .await;
    // Test the connection again, then edit the interval (the secret is kept when left empty).
    browser
        .click(&browser.find("#exports .test-connection").await)
        .await;
    browser
        .wait_for(
            "the connection test",
            "const m = document.getElementById('export-message'); return m && m.textContent.includes('The connection to s3://ui-bucket/audit works')",
        )
        .await;
    browser.click(&browser.find("#exports .edit").await).await;
    browser
        .choose(&browser.find("#export-interval").await, "EVERY_6_HOURS")
        .await;
    browser.click(&browser.find("#export-save").await).await;
    browser
        .wait_for(
            "the edited interval",
            "const t = document.getElementById('exports'); const m = document.getElementById('export-message'); \
             return t && t.textContent.includes('Every 6 hours') && m.textContent.includes('Its connection test succeeded')",
        )
        .await;

    // A narrow window: the audit page fits without sideways scrolling.
    browser.set_size(420, 860).await;
    browser.open(&server.url("/#/audit")).await;
    browser.wait_ready("audit").await;
    let fits = browser
        .script(
            "return [document.documentElement.scrollWidth, window.innerWidth]",
            vec![],
        )
        .await;
    assert!(
        fits[0].as_u64() <= fits[1].as_u64().map(|w| w + 1),
        "the page is wider than the window: {fits}"
    );
    browser.screenshot(&shots.join("10-audit-narrow.png")).await;

    // Nothing was loaded from anywhere but vigil.
    let foreign = browser
        .script("return performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith(location.origin))", vec![])
        .await;
    assert_eq!(foreign, json!([]));

    // Signing out forgets the key: the next page asks for it again.
    browser.click(&browser.find("#sign-out").await).await;
    browser.find("#api-key").await;
    let stored = browser
        .script("return sessionStorage.getItem('vigil.apiKey')", vec![])
        .await;
    assert_eq!(stored, Value::Null);
}

/// "Load Audit Events" starts the pull integrations, shows their progress, and the pulled
/// queries appear on the audit page.
#[tokio::test(flavor = "multi_thread")]
async fn load_audit_events_pulls_the_integrations_and_shows_the_new_queries() {
    let fake = fakes::snowflake(TEST_KEY_PEM, TEST_KEY_FINGERPRINT, "ACME.VIGIL_AUDIT").await;
    let case = r#"[{"objectDomain":"Table","objectId":1,"objectName":"DB.PUBLIC.CASE","columns":[{"columnId":1,"columnName":"DOB"}]}]"#;
    *fake.state.rows.lock().unwrap() = vec![
        snowflake_row(
            "01a9c8f5-0000-0000-0000-0000000000a1",
            "TAYLOR_SF",
            Utc::now() - chrono::Duration::minutes(20),
            case,
        ),
        snowflake_row(
            "01a9c8f5-0000-0000-0000-0000000000a2",
            "TAYLOR_SF",
            Utc::now() - chrono::Duration::minutes(10),
            case,
        ),
    ];
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    ingest(&server, &[
        user_created("taylor@acme.example", "Taylor"),
        json!({
            "id": "datasource-created-3", "action": "CREATE", "targetType": "DATASOURCE", "eventTimestamp": ago(60),
            "actor": { "type": "USER_ACTOR", "id": "taylor@acme.example", "name": "Taylor" },
            "targets": [{ "type": "DATASOURCE", "id": "3", "name": "Case", "technology": "SNOWFLAKE" }],
            "auditPayload": { "type": "DatasourceCreatedAuditPayload", "version": 1, "technology": "SNOWFLAKE",
                              "connectionId": "4", "database": "DB", "schema": "PUBLIC", "table": "CASE" }
        }),
    ])
    .await;
    let mapped = client()
        .put(server.url("/api/audit/registry/users/taylor@acme.example/external-ids/SNOWFLAKE"))
        .header("Authorization", ADMIN_KEY)
        .json(&json!({ "username": "TAYLOR_SF" }))
        .send()
        .await
        .unwrap();
    assert_eq!(mapped.status(), 200);
    let created = client()
        .post(server.url("/api/audit/integrations"))
        .header("Authorization", ADMIN_KEY)
        .json(&json!({
            "type": "SNOWFLAKE", "name": "prod", "accountUrl": fake.base, "account": "acme",
            "user": "vigil_audit", "warehouse": "AUDIT_WH", "role": "AUDITOR",
            "authentication": { "type": "KEY_PAIR", "privateKey": TEST_KEY_PEM }
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    wait_until_derived(&server).await;

    let downloads = tempfile::tempdir().unwrap();
    let browser = Browser::start(downloads.path(), 1280, 800).await;
    sign_in(&browser, &server.url("/#/audit?f=action:QUERY")).await;
    assert!(
        text_of(&browser, "#empty")
            .await
            .contains("No events match")
    );
    browser.click(&browser.find("#load").await).await;
    let status = browser
        .wait_for(
            "the load to finish",
            "const s = document.getElementById('load-status'); \
             return document.getElementById('main').dataset.ready === 'audit' && s && s.textContent.startsWith('Loaded') && s.textContent",
        )
        .await;
    assert_eq!(status, json!("Loaded 2 new events."));
    wait_total(&browser, "2 events").await;
    let users = browser
        .script("return [...document.querySelectorAll('#events tbody tr td:nth-child(2)')].map(c => c.firstChild.firstChild.textContent + ' / ' + c.querySelector('.actor-id').textContent)", vec![])
        .await;
    // The user's name, and the id under it.
    assert_eq!(
        users,
        json!([
            "Taylor / taylor@acme.example",
            "Taylor / taylor@acme.example"
        ])
    );
    browser
        .screenshot(&screenshots().join("12-audit-loaded.png"))
        .await;
}

/// The audit page over many events: how long until its first results show. Loads
/// `VIGIL_UI_EVENTS` query events (20,000 by default; the README's figure is for 1,000,000) and
/// prints the time from navigation to the first rendered page of results.
#[tokio::test(flavor = "multi_thread")]
async fn the_audit_page_shows_its_first_results_over_many_events() {
    let count: usize = std::env::var("VIGIL_UI_EVENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let users = [
        ("taylor@acme.example", "Taylor"),
        ("jordan@acme.example", "Jordan"),
        ("sam@acme.example", "Sam"),
    ];
    let started = Instant::now();
    let mut batch = Vec::new();
    for n in 0..count {
        let minutes = (n as i64 * 23 * 60 / count.max(1) as i64) + 1;
        let who = users[n % users.len()];
        batch.push(query(
            &format!("bulk-{n}"),
            Some(who),
            minutes,
            "SUCCESS",
            &format!("SELECT theme FROM exhibitions WHERE id = {n}"),
        ));
        if batch.len() == 5_000 {
            ingest(&server, &batch).await;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        ingest(&server, &batch).await;
    }
    wait_until_derived(&server).await;
    println!(
        "{count} events stored and indexed in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let downloads = tempfile::tempdir().unwrap();
    let browser = Browser::start(downloads.path(), 1280, 800).await;
    sign_in(&browser, &server.url("/")).await;
    // Measure a fresh load of the page, signed in.
    let mut timings = Vec::new();
    for _ in 0..3 {
        browser.open("about:blank").await;
        browser.open(&server.url("/#/audit")).await;
        browser.wait_ready("audit").await;
        let timing = browser
            .script(
                "const m = document.getElementById('main').dataset; return [Number(m.renderedAtMs), Number(m.firstResultsMs)]",
                vec![],
            )
            .await;
        timings.push(timing);
    }
    let rows = browser.find_all("#events tbody tr").await;
    assert_eq!(rows.len(), 50);
    let total = text_of(&browser, "#total").await;
    let shown: u64 = total
        .split_whitespace()
        .next()
        .unwrap()
        .replace([',', '.', '\u{a0}', '\u{202f}'], "")
        .parse()
        .unwrap();
    assert!(shown >= count as u64, "{total}");
    browser
        .screenshot(&screenshots().join("11-audit-many-events.png"))
        .await;
    println!(
        "audit page over {count} events: [ms since navigation, ms for the search and rendering] per load: {}",
        Value::from(timings)
    );
}

/// Daily use of the audit page: vigil's own reads hidden and shown, an exclusion, two values of
/// one facet, "Export results" (the downloaded CSV equals the API's), and the time-zone toggle
/// remembered by the browser.
#[tokio::test(flavor = "multi_thread")]
async fn the_audit_page_serves_daily_use() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    ingest(&server, &fixtures()).await;
    wait_until_derived(&server).await;
    let downloads = tempfile::tempdir().unwrap();
    let browser = Browser::start(downloads.path(), 1400, 900).await;
    sign_in(&browser, &server.url("/")).await;
    // The last 24 hours: the 45 queries and the bootstrap key's `ApiKeyCreated`; the page's own
    // searches are recorded but hidden.
    wait_total(&browser, "46 events").await;
    let started = Instant::now();
    loop {
        let body: Value = api_get(
            &server,
            "/api/audit/events?action=AUDIT_QUERY&size=0&facets=none",
        )
        .await
        .json()
        .await
        .unwrap();
        if body["total"].as_u64().unwrap() >= 1 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no own read recorded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    browser.click(&browser.find("#own-reads").await).await;
    let shown = browser
        .wait_for(
            "own reads shown",
            "const t = document.getElementById('total'); const m = document.getElementById('main'); \
             return m.dataset.ready === 'audit' && new URLSearchParams(location.hash.split('?')[1]).get('own') === '1' \
               && t && !t.textContent.startsWith('46 ') && t.textContent",
        )
        .await;
    assert!(shown.as_str().unwrap().contains("event"), "{shown}");
    let facet = text_of(&browser, "details[data-facet=action]").await;
    assert!(facet.contains("AUDIT_QUERY"), "{facet}");
    browser.click(&browser.find("#own-reads").await).await;
    wait_total(&browser, "46 events").await;

    // Two users of one facet: any of them matches.
    click_facet(&browser, "actorName", "Taylor").await;
    wait_total(&browser, "30 events").await;
    click_facet(&browser, "actorName", "Jordan").await;
    wait_total(&browser, "44 events").await;
    // Excluding a status: Jordan's 4 unauthorized queries go.
    let excluded = browser
        .wait_for(
            "the not button of UNAUTHORIZED",
            "const b = [...document.querySelectorAll('details[data-facet=actionStatus] li')] \
               .find(li => li.querySelector('.value').textContent === 'UNAUTHORIZED'); \
             if (b) { b.querySelector('button.not').click(); return true; } return false",
        )
        .await;
    assert_eq!(excluded, json!(true));
    wait_total(&browser, "40 events").await;
    let chips = text_of(&browser, ".chips").await;
    assert!(chips.contains("Status is not: UNAUTHORIZED"), "{chips}");
    browser
        .screenshot(&screenshots().join("12-audit-daily-use.png"))
        .await;

    // Export results: every matching event as CSV, the same file the API gives.
    browser.click(&browser.find("#export-results").await).await;
    let csv_path = downloads.path().join("vigil-audit-events.csv");
    let started = Instant::now();
    while !csv_path.exists() || std::fs::metadata(&csv_path).unwrap().len() == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the CSV was not downloaded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    browser
        .wait_for(
            "the download's end",
            "return !!document.getElementById('export-done')",
        )
        .await;
    let downloaded = std::fs::read_to_string(&csv_path).unwrap();
    let hash = browser.script("return location.hash", vec![]).await;
    assert!(hash.as_str().unwrap().contains("x=actionStatus"), "{hash}");
    let rows: Vec<&str> = downloaded
        .split("\r\n")
        .filter(|row| !row.is_empty())
        .collect();
    assert_eq!(rows.len(), 41, "a header and 40 events: {downloaded}");
    let expected = api_get(
        &server,
        &format!(
            "/api/audit/events?format=csv&actorName=Taylor&actorName=Jordan&actionStatus.not=UNAUTHORIZED&from={}",
            urlencode(&ago(24 * 60 - 5))
        ),
    )
    .await
    .text()
    .await
    .unwrap();
    assert_eq!(downloaded, expected);

    // A relative range: since two hours ago, as the API counts it.
    browser.open(&server.url("/#/audit")).await;
    wait_total(&browser, "46 events").await;
    browser.choose(&browser.find("#range").await, "since").await;
    let since = browser.find("#since").await;
    browser
        .script("document.getElementById('since').value = ''", vec![])
        .await;
    browser.type_into(&since, "now-2h").await;
    browser.click(&browser.find("#search").await).await;
    let expected: Value = api_get(&server, "/api/audit/events?from=now-2h&size=0&facets=none")
        .await
        .json()
        .await
        .unwrap();
    let relative = browser
        .wait_for(
            "the relative range",
            "const t = document.getElementById('total'); return document.getElementById('main').dataset.ready === 'audit' \
             && location.hash.includes('since=now-2h') && t && t.textContent",
        )
        .await;
    assert!(
        relative
            .as_str()
            .unwrap()
            .starts_with(&format!("{} event", expected["total"]))
            && relative.as_str().unwrap().contains("Since now-2h"),
        "{relative} vs {expected}"
    );

    // The timeline: brushing its second quarter narrows the range to what was covered.
    browser.open(&server.url("/#/audit")).await;
    wait_total(&browser, "46 events").await;
    let bars = browser.find_all("#timeline-chart a rect").await;
    assert_eq!(bars.len(), 60);
    // The last 24 hours are asked for in whole minutes from a whole minute (24-minute bars), the
    // histogram the server answers from its kept minutes instead of every event's time.
    let starts = browser
        .script(
            "return [...document.querySelectorAll('#timeline-chart a')].slice(0, 2) \
             .map((a) => new URLSearchParams(a.getAttribute('href').split('?')[1]).get('from'))",
            vec![],
        )
        .await;
    let starts: Vec<i64> = starts
        .as_array()
        .unwrap()
        .iter()
        .map(|start| {
            chrono::DateTime::parse_from_rfc3339(start.as_str().unwrap())
                .unwrap()
                .timestamp_millis()
        })
        .collect();
    assert_eq!(
        starts[0] % 60_000,
        0,
        "the first bar starts on a minute: {starts:?}"
    );
    assert_eq!(
        starts[1] - starts[0],
        24 * 60_000,
        "24-minute bars: {starts:?}"
    );
    browser
        .script(
            "const svg = document.getElementById('timeline-chart'); const box = svg.getBoundingClientRect(); \
             const at = (f) => ({ clientX: box.left + box.width * f, clientY: box.top + 10, bubbles: true, pointerId: 1 }); \
             svg.dispatchEvent(new PointerEvent('pointerdown', at(0.25))); \
             svg.dispatchEvent(new PointerEvent('pointermove', at(0.4))); \
             svg.dispatchEvent(new PointerEvent('pointerup', at(0.5))); return true",
            vec![],
        )
        .await;
    let brushed = browser
        .wait_for(
            "the brushed range",
            "const p = new URLSearchParams(location.hash.split('?')[1] || ''); const m = document.getElementById('main'); \
             return m.dataset.ready === 'audit' && p.get('range') === 'custom' && [p.get('from'), p.get('to'), document.getElementById('total').textContent]",
        )
        .await;
    let (from, to) = (brushed[0].as_str().unwrap(), brushed[1].as_str().unwrap());
    let hours = (chrono::DateTime::parse_from_rfc3339(to).unwrap()
        - chrono::DateTime::parse_from_rfc3339(from).unwrap())
    .num_minutes();
    assert!(
        (355..=365).contains(&hours),
        "a quarter of 24 hours: {brushed}"
    );
    let expected: Value = api_get(
        &server,
        &format!(
            "/api/audit/events?size=0&facets=none&from={}&to={}",
            urlencode(from),
            urlencode(to)
        ),
    )
    .await
    .json()
    .await
    .unwrap();
    let shown = brushed[2].as_str().unwrap();
    assert!(
        shown.starts_with(&format!("{} event", expected["total"])),
        "{shown} vs {expected}"
    );
    browser
        .screenshot(&screenshots().join("14-audit-brushed.png"))
        .await;

    // Keywords are marked; the actor's id is shown; a chosen column stays chosen.
    browser.open(&server.url("/#/audit?q=zebracorn")).await;
    wait_total(&browser, "1 event").await;
    browser.click(&browser.find("#columns summary").await).await;
    browser
        .click(&browser.find("#columns input[data-column=query]").await)
        .await;
    browser
        .wait_for(
            "the query column",
            "return document.getElementById('main').dataset.ready === 'audit' && !!document.querySelector('#events th[data-column=query]')",
        )
        .await;
    assert_eq!(
        text_of(&browser, "#events td.query mark").await,
        "zebracorn"
    );
    assert_eq!(
        text_of(&browser, "#events .actor-id").await,
        "taylor@acme.example"
    );

    // Saved searches: saved with a name, reopened from its link in a fresh page.
    browser
        .type_into(&browser.find("#saved-name").await, "Mythical creatures")
        .await;
    browser
        .click(&browser.find("#save-search-button").await)
        .await;
    let link = browser
        .wait_for(
            "the saved search's link",
            "const a = document.getElementById('saved-link'); return a && a.href",
        )
        .await;
    browser.open("about:blank").await;
    browser.open(link.as_str().unwrap()).await;
    wait_total(&browser, "1 event").await;
    let hash = browser.script("return location.hash", vec![]).await;
    assert!(hash.as_str().unwrap().contains("q=zebracorn"), "{hash}");
    assert!(
        browser
            .find_all("#events th[data-column=query]")
            .await
            .len()
            == 1
    );
    let saved = text_of(&browser, "#saved-searches").await;
    assert!(saved.contains("Mythical creatures (by admin)"), "{saved}");
    browser
        .screenshot(&screenshots().join("15-audit-saved-and-columns.png"))
        .await;

    // Times in UTC, remembered after a reload.
    let header = text_of(&browser, "#events thead").await;
    assert!(header.contains("Time (local, "), "{header}");
    browser.click(&browser.find("#zone").await).await;
    browser
        .wait_for(
            "the UTC header",
            "const t = document.querySelector('#events thead'); return document.getElementById('main').dataset.ready === 'audit' && t && t.textContent.includes('(UTC)')",
        )
        .await;
    browser.open("about:blank").await;
    browser.open(&server.url("/#/audit")).await;
    browser.wait_ready("audit").await;
    let header = text_of(&browser, "#events thead").await;
    assert!(header.contains("Time (UTC)"), "{header}");
    assert_eq!(text_of(&browser, "#zone").await, "Times: UTC");
    browser
        .screenshot(&screenshots().join("13-audit-utc.png"))
        .await;

    // Every page at 1400×900 and 420 px wide, saved for a look; none is wider than its window.
    let pages = [
        ("audit", "#/audit", "audit"),
        ("event", "#/event/taylor-7", "event"),
        ("user-activity", "#/dashboards/user", "dashboard"),
        ("data-activity", "#/dashboards/data", "dashboard"),
        ("reports", "#/reports", "reports"),
        (
            "report",
            "#/reports?entity=user&report=status&scope=all",
            "report",
        ),
        ("exports", "#/exports", "exports"),
    ];
    for (width, height) in [(1400, 900), (420, 900)] {
        browser.set_size(width, height).await;
        for (name, path, ready) in pages {
            browser.open("about:blank").await;
            browser.open(&server.url(&format!("/{path}"))).await;
            browser.wait_ready(ready).await;
            let fits = browser
                .script(
                    "return [document.documentElement.scrollWidth, window.innerWidth]",
                    vec![],
                )
                .await;
            browser
                .screenshot(&screenshots().join(format!("page-{name}-{width}.png")))
                .await;
            let widest = browser
                .script(
                    "return [...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 3).map(e => e.tagName + '.' + e.className + '#' + e.id)",
                    vec![],
                )
                .await;
            assert!(
                fits[0].as_u64() <= fits[1].as_u64().map(|w| w + 1),
                "the {name} page is wider than a {width} px window: {fits} ({widest})"
            );
        }
    }
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forwarder_made_on_the_exports_page_sends_and_shows_its_progress() {
    let receiver = common::siem::webhook_receiver("ui-hook-secret").await;
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let mut events = Vec::new();
    for n in 0..30 {
        let status = if n % 3 == 0 {
            "UNAUTHORIZED"
        } else {
            "SUCCESS"
        };
        events.push(query(&format!("q-{n}"), None, 30, status, "SELECT 1"));
    }
    ingest(&server, &events).await;
    let downloads = tempfile::tempdir().unwrap();
    let browser = Browser::start(downloads.path(), 1280, 800).await;
    sign_in(&browser, &server.url("/#/audit")).await;
    browser.open(&server.url("/#/exports")).await;
    browser.wait_ready("exports").await;
    browser.find("#no-forwarders").await;
    browser.click(&browser.find("#new-forwarder").await).await;
    browser
        .choose(&browser.find("#forwarder-type").await, "WEBHOOK")
        .await;
    browser
        .type_into(&browser.find("#forwarder-name").await, "Refused queries")
        .await;
    browser
        .type_into(
            &browser.find("#forwarder-url").await,
            &format!("{}/hook", receiver.base),
        )
        .await;
    browser
        .type_into(&browser.find("#forwarder-secret").await, "ui-hook-secret")
        .await;
    browser
        .type_into(&browser.find("#forwarder-statuses").await, "unauthorized")
        .await;
    browser
        .choose(&browser.find("#forwarder-start").await, "BEGINNING")
        .await;
    assert_labelled(&browser, "exports (new forwarder)").await;
    browser.click(&browser.find("#forwarder-save").await).await;
    browser
        .wait_for(
            "the created forwarder",
            "const m = document.getElementById('export-message'); \
             return document.getElementById('main').dataset.ready === 'exports' && m && m.textContent.includes('Created the forwarder')",
        )
        .await;
    // The receiver gets the ten refused queries; the page shows them sent, none behind.
    let started = Instant::now();
    while receiver.state.events().len() < 10 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the webhook got too little"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    browser
        .wait_for(
            "the forwarder caught up",
            "const c = document.querySelector('#forwarders .forwarder-lag'); \
             if (c && c.textContent.startsWith('0 events behind') && c.textContent.includes('10 sent')) return true; \
             if (document.getElementById('main').dataset.ready === 'exports') { location.hash = '#/exports?r=' + Date.now(); } \
             return false",
        )
        .await;
    let table = text_of(&browser, "#forwarders").await;
    assert!(
        table.contains("Refused queries")
            && table.contains("status UNAUTHORIZED")
            && table.contains("Enabled"),
        "{table}"
    );
    assert!(
        !table.contains("ui-hook-secret"),
        "the secret is never shown"
    );
    let mut ids: Vec<String> = receiver
        .state
        .events()
        .iter()
        .map(|event| event["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    let mut expected: Vec<String> = (0..30).step_by(3).map(|n| format!("q-{n}")).collect();
    expected.sort();
    assert_eq!(ids, expected);
    browser
        .screenshot(&screenshots().join("09b-forwarders.png"))
        .await;
    // Disabled from the page (its secret stays: the endpoint did not change).
    browser
        .click(&browser.find("#forwarders .toggle").await)
        .await;
    browser
        .wait_for(
            "the disabled forwarder",
            "const t = document.getElementById('forwarders'); return t && t.textContent.includes('Disabled')",
        )
        .await;
    let listed: Value = api_get(&server, "/api/audit/forwarders")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["enabled"], false);
    assert_eq!(listed[0]["secretSet"], true);
    server.terminate();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_reference_page_shows_every_operation_of_the_contract() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let document: Value = reqwest::get(server.url("/api/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let operations: usize = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    let downloads = tempfile::tempdir().unwrap();
    let browser = Browser::start(downloads.path(), 1280, 900).await;
    sign_in(&browser, &server.url("/#/audit")).await;
    browser
        .click(&browser.find("#nav a[data-page=api]").await)
        .await;
    browser.wait_ready("api").await;
    assert_eq!(
        browser.find_all("section.operation").await.len(),
        operations,
        "one section per operation of /api/openapi.json"
    );
    let search = browser.text(&browser.find("#op-searchEvents").await).await;
    for expected in [
        "GET",
        "/api/audit/events",
        "actorId",
        "histogram",
        "default",
    ] {
        assert!(search.contains(expected), "{expected} in: {search}");
    }
    let error = browser.text(&browser.find("#error-body").await).await;
    assert!(error.contains("code"), "{error}");
    browser
        .screenshot(&screenshots().join("api-reference.png"))
        .await;
}
