//! Fuzzes the ingest parser: a request body split as JSON and as NDJSON, each item normalized.
//! Beyond "no panic": what is accepted keeps the submitted bytes (minus whitespace) and reads
//! back as an event, as the search indexer will read it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_core::ingest::{BodyFormat, split_body};
use vigil_model::{Timestamp, UamEvent, normalize};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let arrival = Timestamp::now();
    for format in [BodyFormat::Json, BodyFormat::Ndjson] {
        let Ok(items) = split_body(text, format) else {
            continue;
        };
        for item in items.into_iter().flatten() {
            let Ok(normalized) = normalize(item, || "fuzz-id".to_owned(), arrival) else {
                continue;
            };
            let stored: serde_json::Value =
                serde_json::from_str(&normalized.stored_json).expect("the stored JSON is JSON");
            assert_eq!(stored["id"].as_str(), Some(normalized.id.as_str()));
            let event = UamEvent::from_json(&normalized.stored_json)
                .expect("what ingest accepted reads back as an event");
            assert_eq!(event.id.as_deref(), Some(normalized.id.as_str()));
            let _ = normalized.submitted_json();
        }
    }
});
