//! Forwarding to the SIEM against real peers: Debian's rsyslogd over TCP and over TLS (every
//! event exactly once after vigil is SIGKILLed mid-stream), a Splunk HEC receiver following
//! Splunk's acknowledgement protocol, and a webhook receiver checking the HMAC signature.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::rsyslog::Rsyslog;
use common::{
    ADMIN_KEY, Server, certificates, client, event, get_json, head_seq, send_json, vigil,
};
use reqwest::Method;
use serde_json::{Value, json};

/// How long delivery may take to catch up in these tests.
const CATCH_UP: Duration = Duration::from_secs(120);

async fn create_forwarder(server: &Server, body: Value) -> Value {
    let (status, answer) = send_json(server, Method::POST, "/api/audit/forwarders", &body).await;
    assert_eq!(status, 201, "{answer}");
    answer
}

async fn forwarder(server: &Server, id: &str) -> Value {
    get_json(server, &format!("/api/audit/forwarders/{id}")).await
}

/// Waits until the forwarder's checkpoint reaches the log's head; returns the head.
async fn wait_caught_up(server: &Server, id: &str) -> u64 {
    let started = Instant::now();
    loop {
        let head = head_seq(server).await;
        let state = forwarder(server, id).await;
        if state["status"]["checkpointSeq"].as_u64() == Some(head) {
            assert_eq!(state["status"]["lag"], 0, "{state}");
            return head;
        }
        assert!(
            started.elapsed() < CATCH_UP,
            "the forwarder did not catch up with {head}: {state}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn ingest(server: &Server, events: Vec<Value>) -> reqwest::Result<reqwest::Response> {
    client()
        .post(server.url("/api/audit/events"))
        .header("Authorization", ADMIN_KEY)
        .body(Value::Array(events).to_string())
        .send()
        .await
}

/// The `seq` parameter of vigil's structured data in a syslog message.
fn seq_of(message: &str) -> u64 {
    let start = message.find("seq=\"").expect("vigil's structured data") + 5;
    let end = start + message[start..].find('"').unwrap();
    message[start..end].parse().unwrap()
}

/// Waits until the receiver holds every sequence number up to `head`; returns how often it holds
/// each.
async fn wait_received(receiver: &Rsyslog, head: u64) -> HashMap<u64, usize> {
    let started = Instant::now();
    loop {
        let mut counts: HashMap<u64, usize> = HashMap::new();
        for message in receiver.messages() {
            *counts.entry(seq_of(&message)).or_default() += 1;
        }
        let missing = (1..=head).filter(|seq| !counts.contains_key(seq)).count();
        if missing == 0 {
            return counts;
        }
        assert!(
            started.elapsed() < CATCH_UP,
            "{missing} of {head} events never reached rsyslog"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Streams events into vigil, SIGKILLs it once rsyslog has some of them, restarts it, and checks
/// that rsyslog got every event of the log exactly once, each as a valid RFC 5424 message.
async fn syslog_exactly_once_across_a_kill(tls: bool) {
    let dir = tempfile::tempdir().unwrap();
    let files = tls.then(|| certificates(dir.path(), "syslog"));
    let receiver = Rsyslog::start(dir.path(), files.as_ref());
    let data = dir.path().join("data");
    let server = Server::start(&data);
    let mut target =
        json!({ "type": "SYSLOG", "host": "127.0.0.1", "port": receiver.port, "tls": tls });
    if let Some((ca, _, _)) = &files {
        target["caCertificate"] = json!(std::fs::read_to_string(ca).unwrap());
    }
    let created = create_forwarder(
        &server,
        json!({ "name": "rsyslog", "target": target, "startAt": "BEGINNING" }),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["target"]["type"], "SYSLOG");

    // A client streams batches until vigil dies under it.
    let stop = Arc::new(AtomicBool::new(false));
    let base = server.base.clone();
    let streaming = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut batch = 0;
            while !stop.load(Ordering::SeqCst) && batch < 200 {
                let events: Vec<Value> = (0..100)
                    .map(|n| event(&format!("stream-{batch}-{n}")))
                    .collect();
                let sent = client()
                    .post(format!("{base}/api/audit/events"))
                    .header("Authorization", ADMIN_KEY)
                    .body(Value::Array(events).to_string())
                    .send()
                    .await;
                if sent.is_err() {
                    return;
                }
                batch += 1;
            }
        })
    };
    let started = Instant::now();
    while receiver.messages().len() < 2_000 {
        assert!(started.elapsed() < CATCH_UP, "rsyslog received too little");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let still_streaming = !streaming.is_finished();
    server.kill();
    stop.store(true, Ordering::SeqCst);
    let _ = streaming.await;
    assert!(
        still_streaming,
        "the kill came while events were streaming in and out"
    );

    let server = Server::start(&data);
    // More events after the restart, so the stream goes on past the kill.
    assert!(
        ingest(
            &server,
            (0..50).map(|n| event(&format!("after-{n}"))).collect()
        )
        .await
        .unwrap()
        .status()
        .is_success()
    );
    let head = wait_caught_up(&server, &id).await;
    let counts = wait_received(&receiver, head).await;
    let mut doubled: Vec<u64> = counts
        .iter()
        .filter(|(_, count)| **count > 1)
        .map(|(seq, _)| *seq)
        .collect();
    doubled.sort();
    assert!(
        doubled.is_empty(),
        "{} events doubled, from seq {:?}",
        doubled.len(),
        doubled.first()
    );
    // Each message is RFC 5424 with the stored event as its message.
    let messages = receiver.messages();
    let sample = messages
        .iter()
        .find(|message| message.contains("stream-0-0"))
        .unwrap();
    assert!(
        sample.starts_with("<109>1 2024-03-21T13:39:45.040000Z "),
        "{sample}"
    );
    assert!(sample.contains(" vigil - QUERY [vigil@32473 seq=\""));
    let json_start = sample.find("{\"").unwrap();
    let stored: Value = serde_json::from_str(&sample[json_start..]).unwrap();
    assert_eq!(stored["id"], "stream-0-0");
    assert_eq!(stored["actor"]["name"], "Taylor");
    let state = forwarder(&server, &id).await;
    assert!(state["status"]["forwardedEvents"].as_u64().unwrap() > 0);
    assert_eq!(state["status"]["lastError"], Value::Null, "{state}");
    server.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syslog_over_tcp_delivers_every_event_exactly_once_across_a_sigkill() {
    syslog_exactly_once_across_a_kill(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syslog_over_tls_delivers_every_event_exactly_once_across_a_sigkill() {
    syslog_exactly_once_across_a_kill(true).await;
}

fn unauthorized_query(id: &str) -> Value {
    let mut event = event(id);
    event["actionStatus"] = json!("UNAUTHORIZED");
    event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn splunk_hec_indexes_the_filtered_events_once_after_acknowledgement() {
    let dir = tempfile::tempdir().unwrap();
    let hec = common::siem::splunk_hec("hec-token-1").await;
    let server = Server::start(dir.path());
    let mut events = Vec::new();
    for n in 0..120 {
        events.push(unauthorized_query(&format!("denied-{n}")));
        events.push(event(&format!("allowed-{n}")));
    }
    assert!(ingest(&server, events).await.unwrap().status().is_success());
    let created = create_forwarder(
        &server,
        json!({
            "name": "splunk",
            "target": { "type": "SPLUNK_HEC", "url": hec.base, "index": "audit" },
            "token": "hec-token-1",
            "filter": { "actions": ["query"], "actionStatuses": ["UNAUTHORIZED"] },
            "startAt": "BEGINNING",
        }),
    )
    .await;
    assert_eq!(created["secretSet"], true);
    assert!(
        !created.to_string().contains("hec-token-1"),
        "the token is never returned"
    );
    assert_eq!(created["filter"]["actions"], json!(["QUERY"]));
    let id = created["id"].as_str().unwrap();
    wait_caught_up(&server, id).await;
    let indexed = hec.state.indexed();
    let mut ids: Vec<String> = indexed
        .iter()
        .map(|item| item["event"]["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    let mut expected: Vec<String> = (0..120).map(|n| format!("denied-{n}")).collect();
    expected.sort();
    assert_eq!(ids, expected, "every UNAUTHORIZED query once, nothing else");
    let first = &indexed[0];
    assert_eq!(first["index"], "audit");
    assert_eq!(first["sourcetype"], "vigil:uam");
    assert_eq!(first["source"], "vigil");
    assert_eq!(first["time"], json!(1711028385.04));
    let state = forwarder(&server, id).await;
    assert_eq!(state["status"]["forwardedEvents"], 120, "{state}");
    server.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_batches_are_signed_and_arrive_once_through_a_failed_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = common::siem::webhook_receiver("hook-secret-1").await;
    let server = Server::start(&dir.path().join("data"));
    let events: Vec<Value> = (0..1_500).map(|n| event(&format!("hook-{n}"))).collect();
    assert!(ingest(&server, events).await.unwrap().status().is_success());

    // Created with the CLI, from a file.
    let file = dir.path().join("forwarder.json");
    let url = format!("{}/hook", receiver.base);
    std::fs::write(
        &file,
        json!({
            "name": "hook",
            "target": { "type": "WEBHOOK", "url": url },
            "signingSecret": "hook-secret-1",
            "filter": { "actions": ["QUERY"] },
            "startAt": "BEGINNING",
        })
        .to_string(),
    )
    .unwrap();
    let output = vigil(&[
        "audit",
        "forwarder",
        "create",
        file.to_str().unwrap(),
        "--url",
        &server.base,
        "--api-key",
        ADMIN_KEY,
    ]);
    assert!(output.status.success(), "{output:?}");
    let created: Value = serde_json::from_slice(&output.stdout).unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    wait_caught_up(&server, &id).await;
    let mut ids: Vec<String> = receiver
        .state
        .events()
        .iter()
        .map(|event| event["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    let mut expected: Vec<String> = (0..1_500).map(|n| format!("hook-{n}")).collect();
    expected.sort();
    assert_eq!(ids, expected);
    assert!(
        receiver
            .state
            .deliveries()
            .iter()
            .all(|delivery| delivery.starts_with(&format!("{id}/"))),
        "{:?}",
        receiver.state.deliveries()
    );
    let listed = vigil(&[
        "audit",
        "forwarder",
        "list",
        "--url",
        &server.base,
        "--api-key",
        ADMIN_KEY,
    ]);
    assert!(listed.status.success(), "{listed:?}");
    let text = String::from_utf8(listed.stdout).unwrap();
    assert!(text.contains(&id) && !text.contains("hook-secret-1"));

    // A kept secret never follows the forwarder to another endpoint.
    let (status, moved) = send_json(
        &server,
        Method::PUT,
        &format!("/api/audit/forwarders/{id}"),
        &json!({ "name": "hook", "target": { "type": "WEBHOOK", "url": "http://127.0.0.1:9/elsewhere" } }),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        moved["error"].as_str().unwrap().contains("signingSecret"),
        "{moved}"
    );
    server.terminate();
}

#[tokio::test]
async fn forwarder_requests_with_mistakes_are_refused_with_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let cases = [
        (
            json!({ "name": "x", "target": { "type": "SPLUNK_HEC", "url": "https://splunk.example.com:8088" } }),
            "token: is required",
        ),
        (
            json!({ "name": "x", "target": { "type": "KAFKA" } }),
            "target",
        ),
        (
            json!({ "name": "x", "target": { "type": "SYSLOG", "host": "siem.example.com", "port": 0 } }),
            "target.port",
        ),
        (
            json!({ "name": "x", "target": { "type": "SYSLOG", "host": "siem.example.com", "port": 514 }, "filter": { "actionStatuses": ["not allowed!"] } }),
            "filter.actionStatuses",
        ),
        (
            json!({ "name": "x", "target": { "type": "WEBHOOK", "url": "ftp://example.com" }, "signingSecret": "s" }),
            "target.url",
        ),
    ];
    for (body, expected) in cases {
        let (status, answer) =
            send_json(&server, Method::POST, "/api/audit/forwarders", &body).await;
        assert_eq!(status, 400, "{body}");
        let text = answer["error"].as_str().unwrap_or_default();
        assert!(text.contains(expected), "{body}: {answer}");
    }
    let listed = get_json(&server, "/api/audit/forwarders").await;
    assert_eq!(
        listed,
        json!([]),
        "nothing from a refused request is stored"
    );
    server.terminate();
}

/// An UNAUTHORIZED query happening now.
fn refused_now(id: &str) -> Value {
    let mut event = unauthorized_query(id);
    event["eventTimestamp"] = json!(chrono::Utc::now().to_rfc3339());
    event
}

async fn alert_state(server: &Server, id: &str) -> Value {
    get_json(server, &format!("/api/audit/alerts/{id}")).await
}

/// Waits until the alert has been evaluated after `after` (its `lastCheckedAt`), and returns it.
async fn evaluated_after(server: &Server, id: &str, after: &str) -> Value {
    let started = Instant::now();
    loop {
        let state = alert_state(server, id).await;
        if state["status"]["lastCheckedAt"]
            .as_str()
            .is_some_and(|checked| checked > after)
        {
            return state;
        }
        assert!(
            started.elapsed() < CATCH_UP,
            "the alert was not evaluated: {state}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_fires_once_past_its_threshold_and_its_forwarder_delivers_the_firing() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = common::siem::webhook_receiver("alert-secret").await;
    let server = Server::start(dir.path());
    // The forwarder's own filter passes nothing here: the firing reaches it as the alert's.
    let forwarder = create_forwarder(
        &server,
        json!({
            "name": "on-call",
            "target": { "type": "WEBHOOK", "url": format!("{}/hook", receiver.base) },
            "signingSecret": "alert-secret",
            "filter": { "actionStatuses": ["FAILURE"] },
        }),
    )
    .await;
    let (_, saved) = send_json(
        &server,
        Method::POST,
        "/api/audit/saved-searches",
        &json!({ "name": "Refused queries", "query": "range=24h&f=action:QUERY&f=actionStatus:UNAUTHORIZED" }),
    )
    .await;
    let (status, alert) = send_json(
        &server,
        Method::POST,
        "/api/audit/alerts",
        &json!({
            "name": "More than 5 refused queries in 10 minutes",
            "savedSearchId": saved["id"],
            "threshold": 5,
            "windowMinutes": 10,
            "forwarderIds": [forwarder["id"]],
        }),
    )
    .await;
    assert_eq!(status, 201, "{alert}");
    let id = alert["id"]
        .as_str()
        .expect("the alert is created")
        .to_owned();

    // Five is not more than five.
    let events: Vec<Value> = (0..5)
        .map(|n| refused_now(&format!("refused-{n}")))
        .collect();
    assert!(ingest(&server, events).await.unwrap().status().is_success());
    let started = Instant::now();
    loop {
        let state = alert_state(&server, &id).await;
        if state["status"]["lastCount"] == 5 {
            assert_eq!(state["status"]["firings"], 0, "{state}");
            break;
        }
        assert!(started.elapsed() < CATCH_UP, "never counted five: {state}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The sixth fires it.
    assert!(
        ingest(&server, vec![refused_now("refused-5")])
            .await
            .unwrap()
            .status()
            .is_success()
    );
    let started = Instant::now();
    let firing = loop {
        let events = receiver.state.events();
        if let Some(firing) = events
            .iter()
            .find(|event| event["auditPayload"]["type"] == "AlertFiredAuditPayload")
        {
            break firing.clone();
        }
        assert!(started.elapsed() < CATCH_UP, "the firing never arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(firing["action"], "ALERT");
    let payload = &firing["auditPayload"];
    assert_eq!(payload["alertId"], id.as_str());
    assert_eq!(payload["count"], 6);
    assert_eq!(payload["threshold"], 5);
    assert_eq!(payload["savedSearchName"], "Refused queries");
    assert!(
        payload["sampleEventIds"]
            .as_array()
            .unwrap()
            .contains(&json!("refused-5"))
    );
    // It fires once per window, however often it is evaluated.
    let fired_at = alert_state(&server, &id).await["status"]["lastFiredAt"]
        .as_str()
        .unwrap()
        .to_owned();
    let later = evaluated_after(&server, &id, &fired_at).await;
    assert_eq!(later["status"]["firings"], 1, "{later}");
    assert_eq!(later["status"]["lastCount"], 6);
    assert_eq!(
        receiver
            .state
            .events()
            .iter()
            .filter(|event| event["auditPayload"]["type"] == "AlertFiredAuditPayload")
            .count(),
        1
    );
    // Nothing else reached the forwarder, and nobody can submit a firing of their own.
    assert!(
        receiver
            .state
            .events()
            .iter()
            .all(|event| event["action"] == "ALERT")
    );
    // The forwarder cannot be deleted from under the alert.
    let refused = client()
        .delete(server.url(&format!(
            "/api/audit/forwarders/{}",
            forwarder["id"].as_str().unwrap()
        )))
        .header("Authorization", ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 409);
    let refused: Value = refused.json().await.unwrap();
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("More than 5 refused queries"),
        "{refused}"
    );
    let mut forged = event("forged-firing");
    forged["auditPayload"] =
        json!({ "type": "AlertFiredAuditPayload", "forwarderIds": [forwarder["id"]] });
    assert_eq!(ingest(&server, vec![forged]).await.unwrap().status(), 400);
    server.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_syslog_receiver_outage_is_shown_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut receiver = Rsyslog::start(dir.path(), None);
    let server = Server::start(&dir.path().join("data"));
    let created = create_forwarder(
        &server,
        json!({
            "name": "rsyslog",
            "target": { "type": "SYSLOG", "host": "127.0.0.1", "port": receiver.port },
            "startAt": "BEGINNING",
        }),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let batch = |from: usize| -> Vec<Value> {
        (from..from + 500)
            .map(|n| event(&format!("outage-{n}")))
            .collect()
    };
    assert!(
        ingest(&server, batch(0))
            .await
            .unwrap()
            .status()
            .is_success()
    );
    wait_received(&receiver, wait_caught_up(&server, &id).await).await;

    // The receiver stops; what is stored meanwhile waits, and the status says why.
    receiver.stop();
    for from in [500, 1_000, 1_500] {
        assert!(
            ingest(&server, batch(from))
                .await
                .unwrap()
                .status()
                .is_success()
        );
    }
    let started = Instant::now();
    let during = loop {
        let state = forwarder(&server, &id).await;
        if state["status"]["lastError"].is_string() && state["status"]["lag"].as_u64() > Some(0) {
            break state;
        }
        assert!(
            started.elapsed() < CATCH_UP,
            "the outage was never shown: {state}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        during["status"]["attempts"].as_u64().unwrap() >= 1,
        "{during}"
    );

    // Back: every event arrives.
    receiver.restart();
    let head = wait_caught_up(&server, &id).await;
    let counts = wait_received(&receiver, head).await;
    let ids: std::collections::HashSet<String> = receiver
        .messages()
        .iter()
        .filter_map(|message| {
            let start = message.find("{\"")?;
            let event: Value = serde_json::from_str(&message[start..]).ok()?;
            event["id"].as_str().map(str::to_owned)
        })
        .collect();
    assert!((0..2_000).all(|n| ids.contains(&format!("outage-{n}"))));
    assert!(counts.len() as u64 >= head);
    // Once delivering again, the error is cleared.
    let started = Instant::now();
    loop {
        let state = forwarder(&server, &id).await;
        if state["status"]["lastError"].is_null() {
            assert_eq!(state["status"]["attempts"], 0, "{state}");
            break;
        }
        assert!(started.elapsed() < CATCH_UP, "the error stayed: {state}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.terminate();
}
