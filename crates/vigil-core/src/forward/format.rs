//! How one stored event is written for each target: an RFC 5424 syslog message framed by octet
//! counting (RFC 6587), a Splunk HEC event, an NDJSON line; and the webhook's HMAC signature.

use serde_json::Value;

use crate::log::Seq;

/// Facility 13, "log audit" (RFC 5424, table 1).
const FACILITY_LOG_AUDIT: u8 = 13;
/// The SD-ID of vigil's structured data: a private name under the example enterprise number of
/// RFC 5612 (documentation use), as RFC 5424 §7.2.2 allows.
pub const SD_ID: &str = "vigil@32473";

/// The host name this machine gives itself, as syslog's HOSTNAME and HEC's `host`.
pub fn hostname() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_default();
    let clean: String = name
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(255)
        .collect();
    if clean.is_empty() { "-".into() } else { clean }
}

/// The severity of an event: warning for `UNAUTHORIZED`, error for `FAILURE`, notice otherwise.
fn severity(event: &Value) -> u8 {
    match event["actionStatus"].as_str() {
        Some("UNAUTHORIZED") => 4,
        Some("FAILURE") => 3,
        _ => 5,
    }
}

/// The event time as RFC 5424's TIMESTAMP (UTC, at most 6 fractional digits), or `-`.
fn timestamp(event: &Value) -> String {
    event["eventTimestamp"]
        .as_str()
        .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
        .map(|time| time.to_utc().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
        .unwrap_or_else(|| "-".into())
}

/// A header field of printable ASCII without spaces, at most `max` long, or `-`.
fn header_field(text: Option<&str>, max: usize) -> String {
    let clean: String = text
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if clean.is_empty() { "-".into() } else { clean }
}

/// An SD-PARAM value with `"`, `\` and `]` escaped (RFC 5424 §6.3.3).
fn param_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One syslog frame: `LEN SP SYSLOG-MSG`, where the message is
/// `<PRI>1 TIMESTAMP HOSTNAME vigil - MSGID [vigil@32473 seq=… id=… status=…] {event JSON}`.
/// MSGID is the event's `action`; the message is the stored UAM event, whole.
pub fn syslog_frame(event: &Value, json: &str, seq: Seq, hostname: &str) -> Vec<u8> {
    let pri = FACILITY_LOG_AUDIT * 8 + severity(event);
    let mut structured = format!("[{SD_ID} seq=\"{seq}\"");
    for (name, field) in [
        ("id", "id"),
        ("status", "actionStatus"),
        ("targetType", "targetType"),
    ] {
        if let Some(value) = event[field].as_str() {
            structured.push_str(&format!(" {name}=\"{}\"", param_value(value)));
        }
    }
    if let Some(actor) = event["actor"]["name"]
        .as_str()
        .or(event["actor"]["id"].as_str())
    {
        structured.push_str(&format!(" actor=\"{}\"", param_value(actor)));
    }
    structured.push(']');
    let message = format!(
        "<{pri}>1 {} {hostname} vigil - {} {structured} {json}",
        timestamp(event),
        header_field(event["action"].as_str(), 32),
    );
    let mut frame = format!("{} ", message.len()).into_bytes();
    frame.extend_from_slice(message.as_bytes());
    frame
}

/// One Splunk HEC event (`/services/collector/event`): the UAM event whole under `event`, its
/// time in epoch seconds, and vigil's sequence number as an indexed field.
pub fn hec_event(
    event: &Value,
    json: &str,
    seq: Seq,
    hostname: &str,
    sourcetype: &str,
    index: Option<&str>,
) -> String {
    let quoted = |text: &str| Value::from(text).to_string();
    let mut out = String::with_capacity(json.len() + 160);
    out.push('{');
    if let Some(micros) = event["eventTimestamp"]
        .as_str()
        .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
        .map(|time| time.timestamp_micros())
    {
        let sign = if micros < 0 { "-" } else { "" };
        let micros = micros.unsigned_abs();
        out.push_str(&format!(
            "\"time\":{sign}{}.{:06},",
            micros / 1_000_000,
            micros % 1_000_000
        ));
    }
    out.push_str(&format!(
        "\"host\":{},\"source\":\"vigil\",\"sourcetype\":{},",
        quoted(hostname),
        quoted(sourcetype)
    ));
    if let Some(index) = index {
        out.push_str(&format!("\"index\":{},", quoted(index)));
    }
    // The event goes out as stored, not re-encoded.
    out.push_str(&format!(
        "\"fields\":{{\"vigil_seq\":{seq}}},\"event\":{json}}}"
    ));
    out
}

/// The webhook signature header's value: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`,
/// as a receiver recomputes it with the shared secret (and refuses an old `t`, a replay).
pub fn webhook_signature(secret: &str, unix_seconds: i64, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let mut context = ring::hmac::Context::with_key(&key);
    context.update(unix_seconds.to_string().as_bytes());
    context.update(b".");
    context.update(body);
    format!(
        "t={unix_seconds},v1={}",
        hex::encode(context.sign().as_ref())
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_syslog_frame_counts_its_octets_and_escapes_its_parameters() {
        let event = json!({
            "id": "e-1",
            "action": "QUERY",
            "actionStatus": "UNAUTHORIZED",
            "targetType": "DATASOURCE",
            "actor": {"name": "Ann \"the\" ]admin\\"},
            "eventTimestamp": "2024-03-04T05:06:07.123456789+01:00",
        });
        let json = event.to_string();
        let frame = syslog_frame(&event, &json, 42, "host-1");
        let text = String::from_utf8(frame).unwrap();
        let (length, message) = text.split_once(' ').unwrap();
        assert_eq!(length.parse::<usize>().unwrap(), message.len());
        assert!(
            message.starts_with("<108>1 2024-03-04T04:06:07.123456Z host-1 vigil - QUERY "),
            "{message}"
        );
        assert!(message.contains(
            "[vigil@32473 seq=\"42\" id=\"e-1\" status=\"UNAUTHORIZED\" targetType=\"DATASOURCE\" actor=\"Ann \\\"the\\\" \\]admin\\\\\"]"
        ));
        assert!(message.ends_with(&json));
    }

    #[test]
    fn a_hec_event_carries_the_stored_event_whole() {
        let event = json!({"id": "e-2", "eventTimestamp": "2024-03-04T05:06:07.5Z"});
        let json = "{\"id\":\"e-2\",\"eventTimestamp\":\"2024-03-04T05:06:07.5Z\"}";
        let text = hec_event(&event, json, 7, "h", "vigil:uam", Some("audit"));
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["event"], event);
        assert_eq!(parsed["time"], json!(1709528767.5));
        assert_eq!(parsed["index"], "audit");
        assert_eq!(parsed["fields"]["vigil_seq"], 7);
    }

    #[test]
    fn the_webhook_signature_is_the_hmac_of_time_and_body() {
        let signature = webhook_signature("Jefe", 1700000000, b"{\"id\":1}\n");
        let hex_tag = signature.strip_prefix("t=1700000000,v1=").unwrap();
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"Jefe");
        let tag = hex::decode(hex_tag).unwrap();
        ring::hmac::verify(&key, b"1700000000.{\"id\":1}\n", &tag).unwrap();
        assert!(ring::hmac::verify(&key, b"1700000001.{\"id\":1}\n", &tag).is_err());
    }
}
