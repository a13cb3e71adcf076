//! Delivery over HTTP: Splunk's HTTP Event Collector (events, then the indexer acknowledgement
//! polled on the request channel) and the generic webhook (an NDJSON batch, HMAC-signed).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::format::webhook_signature;
use crate::outbound::without_response_body;

/// What a HEC status code means, in Splunk's words (its documented codes; the server's own text
/// is not repeated).
fn hec_code(code: i64) -> &'static str {
    match code {
        1 => "token disabled",
        2 => "token is required",
        3 => "invalid authorization",
        4 => "invalid token",
        5 => "no data",
        6 => "invalid data format",
        7 => "incorrect index",
        8 => "internal server error",
        9 => "server is busy",
        10 => "data channel is missing",
        11 => "invalid data channel",
        12 => "event field is required",
        13 => "event field cannot be blank",
        14 => "ACK is disabled",
        _ => "error",
    }
}

fn collector(url: &str, path: &str) -> String {
    format!("{}/services/collector/{path}", url.trim_end_matches('/'))
}

async fn post_hec(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    channel: &str,
    body: Vec<u8>,
) -> Result<Value, String> {
    let response = client
        .post(url)
        .header("Authorization", format!("Splunk {token}"))
        .header("X-Splunk-Request-Channel", channel)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|error| without_response_body(&format!("HEC: {error}")))?;
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    let code = answer["code"].as_i64();
    if !status.is_success() || code.is_some_and(|code| code != 0) {
        return Err(match code {
            Some(code) => format!("HEC answered {status}, code {code} ({})", hec_code(code)),
            None => format!("HEC answered {status}"),
        });
    }
    Ok(answer)
}

/// Sends one batch of HEC events; with `acknowledgements`, returns only when the indexer
/// acknowledged it (an acknowledgement that does not come within `timeout` is an error: the
/// batch goes again).
#[allow(clippy::too_many_arguments)]
pub(super) async fn send_hec(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    channel: &str,
    body: Vec<u8>,
    acknowledgements: bool,
    timeout: Duration,
    stop: &AtomicBool,
) -> Result<(), String> {
    let answer = post_hec(client, &collector(url, "event"), token, channel, body).await?;
    let Some(ack_id) = answer["ackId"].as_u64().filter(|_| acknowledgements) else {
        // Acknowledgement is off (here or on the token): accepted is delivered.
        return Ok(());
    };
    let started = Instant::now();
    let mut wait = Duration::from_millis(100);
    loop {
        tokio::time::sleep(wait).await;
        let query = serde_json::to_vec(&json!({ "acks": [ack_id] })).expect("JSON");
        let answer = post_hec(client, &collector(url, "ack"), token, channel, query).await?;
        if answer["acks"][ack_id.to_string()].as_bool() == Some(true) {
            return Ok(());
        }
        if started.elapsed() >= timeout {
            return Err(format!(
                "HEC did not acknowledge ackId {ack_id} within {} s; the batch is sent again",
                timeout.as_secs()
            ));
        }
        if stop.load(Ordering::SeqCst) {
            return Err("stopping before HEC acknowledged the batch; it is sent again".into());
        }
        wait = (wait * 2).min(Duration::from_secs(2));
    }
}

/// POSTs one NDJSON batch, signed: `X-Vigil-Signature: t=…,v1=…` (HMAC-SHA256 of
/// `t.body` with the secret), and `X-Vigil-Delivery` naming the batch (forwarder and sequence
/// range; a batch sent again after a failure carries the events' same ids).
pub(super) async fn send_webhook(
    client: &reqwest::Client,
    url: &str,
    secret: &str,
    delivery: &str,
    body: Vec<u8>,
) -> Result<(), String> {
    let now = chrono::Utc::now().timestamp();
    let signature = webhook_signature(secret, now, &body);
    let response = client
        .post(url)
        .header("Content-Type", "application/x-ndjson")
        .header("X-Vigil-Signature", signature)
        .header("X-Vigil-Delivery", delivery)
        .body(body)
        .send()
        .await
        .map_err(|error| without_response_body(&format!("webhook: {error}")))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("the webhook answered {status}"));
    }
    Ok(())
}
