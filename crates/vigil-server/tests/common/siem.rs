//! Receivers for the forwarding tests: a Splunk HTTP Event Collector following Splunk's
//! documented protocol (token, request channel, `ackId`, acknowledgement polling, "server is
//! busy"), and a webhook receiver that checks the HMAC signature.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use super::fakes::{Fake, serve};

/// What the collector saw.
#[derive(Default)]
pub struct HecState {
    /// The token it accepts.
    pub token: String,
    inner: Mutex<HecInner>,
}

#[derive(Default)]
struct HecInner {
    next_ack: u64,
    /// Batches received, by ackId: their events and the polls so far.
    pending: HashMap<u64, (Vec<Value>, u32)>,
    /// Events whose batch was acknowledged as indexed.
    indexed: Vec<Value>,
    /// Event requests answered so far.
    requests: u64,
}

impl HecState {
    /// The events indexed (acknowledged) so far.
    pub fn indexed(&self) -> Vec<Value> {
        self.inner.lock().unwrap().indexed.clone()
    }
}

fn hec_answer(status: StatusCode, text: &str, code: u64) -> Response {
    (status, axum::Json(json!({ "text": text, "code": code }))).into_response()
}

/// The refusal of a request without the token or the channel, if it is one.
fn hec_refusal(state: &HecState, headers: &HeaderMap) -> Option<Response> {
    let authorization = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok());
    if authorization != Some(&format!("Splunk {}", state.token)) {
        return Some(hec_answer(
            StatusCode::UNAUTHORIZED,
            "Invalid authorization",
            3,
        ));
    }
    if headers.get("x-splunk-request-channel").is_none() {
        return Some(hec_answer(
            StatusCode::BAD_REQUEST,
            "Data channel is missing",
            10,
        ));
    }
    None
}

async fn hec_event(
    State(state): State<Arc<HecState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = hec_refusal(&state, &headers) {
        return refused;
    }
    let mut inner = state.inner.lock().unwrap();
    inner.requests += 1;
    if inner.requests == 1 {
        // The first request meets a busy indexer: it must come again.
        return hec_answer(StatusCode::SERVICE_UNAVAILABLE, "Server is busy", 9);
    }
    let mut events = Vec::new();
    for item in serde_json::Deserializer::from_slice(&body).into_iter::<Value>() {
        match item {
            Ok(item) if item.get("event").is_some() => events.push(item),
            _ => return hec_answer(StatusCode::BAD_REQUEST, "Invalid data format", 6),
        }
    }
    let ack_id = inner.next_ack;
    inner.next_ack += 1;
    inner.pending.insert(ack_id, (events, 0));
    axum::Json(json!({ "text": "Success", "code": 0, "ackId": ack_id })).into_response()
}

async fn hec_ack(State(state): State<Arc<HecState>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(refused) = hec_refusal(&state, &headers) {
        return refused;
    }
    let Ok(query) = serde_json::from_slice::<Value>(&body) else {
        return hec_answer(StatusCode::BAD_REQUEST, "Invalid data format", 6);
    };
    let mut inner = state.inner.lock().unwrap();
    let mut acks = serde_json::Map::new();
    for id in query["acks"].as_array().cloned().unwrap_or_default() {
        let Some(id) = id.as_u64() else { continue };
        // Indexed on the second poll: the first answer is `false`.
        let done = match inner.pending.get_mut(&id) {
            Some((_, polls)) if *polls >= 1 => true,
            Some((_, polls)) => {
                *polls += 1;
                false
            }
            None => false,
        };
        if done {
            let (events, _) = inner.pending.remove(&id).unwrap();
            inner.indexed.extend(events);
        }
        acks.insert(id.to_string(), Value::Bool(done));
    }
    axum::Json(json!({ "acks": acks })).into_response()
}

/// A collector accepting `token`.
pub async fn splunk_hec(token: &str) -> Fake<HecState> {
    let state = Arc::new(HecState {
        token: token.to_owned(),
        ..Default::default()
    });
    let router = Router::new()
        .route("/services/collector/event", post(hec_event))
        .route("/services/collector/ack", post(hec_ack))
        .with_state(state.clone());
    serve(router, state).await
}

/// What the webhook receiver saw.
#[derive(Default)]
pub struct WebhookState {
    secret: String,
    inner: Mutex<WebhookInner>,
}

#[derive(Default)]
struct WebhookInner {
    requests: u64,
    events: Vec<Value>,
    deliveries: Vec<String>,
}

impl WebhookState {
    /// The events of the batches it accepted.
    pub fn events(&self) -> Vec<Value> {
        self.inner.lock().unwrap().events.clone()
    }

    /// The `X-Vigil-Delivery` of each accepted batch.
    pub fn deliveries(&self) -> Vec<String> {
        self.inner.lock().unwrap().deliveries.clone()
    }
}

async fn webhook(
    State(state): State<Arc<WebhookState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let signature = header("x-vigil-signature");
    let Some((time, tag)) = signature
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
    else {
        return (StatusCode::UNAUTHORIZED, "no signature").into_response();
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, state.secret.as_bytes());
    let mut signed = format!("{time}.").into_bytes();
    signed.extend_from_slice(&body);
    let valid = hex::decode(tag)
        .ok()
        .is_some_and(|tag| ring::hmac::verify(&key, &signed, &tag).is_ok());
    let fresh = time
        .parse::<i64>()
        .is_ok_and(|time| (chrono::Utc::now().timestamp() - time).abs() < 300);
    if !valid || !fresh {
        return (StatusCode::UNAUTHORIZED, "bad signature").into_response();
    }
    if header("content-type") != "application/x-ndjson" {
        return (StatusCode::UNSUPPORTED_MEDIA_TYPE, "NDJSON expected").into_response();
    }
    let mut inner = state.inner.lock().unwrap();
    inner.requests += 1;
    if inner.requests == 1 {
        // The first batch meets a failing receiver: it must come again.
        return (StatusCode::INTERNAL_SERVER_ERROR, "try again").into_response();
    }
    for line in body
        .split(|byte| *byte == b'\n')
        .filter(|line| !line.is_empty())
    {
        match serde_json::from_slice::<Value>(line) {
            Ok(event) => inner.events.push(event),
            Err(_) => return (StatusCode::BAD_REQUEST, "not NDJSON").into_response(),
        }
    }
    inner.deliveries.push(header("x-vigil-delivery"));
    StatusCode::NO_CONTENT.into_response()
}

/// A webhook receiver checking signatures made with `secret`.
pub async fn webhook_receiver(secret: &str) -> Fake<WebhookState> {
    let state = Arc::new(WebhookState {
        secret: secret.to_owned(),
        ..Default::default()
    });
    let router = Router::new()
        .route("/hook", post(webhook))
        .with_state(state.clone());
    serve(router, state).await
}
