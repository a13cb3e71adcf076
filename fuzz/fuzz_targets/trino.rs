//! Fuzzes the Trino translator of `POST /api/audit/ingest/trino`: a `QueryCompletedEvent` becomes
//! a query event that validates like any ingested event, or a clear error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_core::query_audit::trino::{TrinoEvent, translate};
use vigil_core::registry::Snapshot;
use vigil_model::{Timestamp, UamEvent};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(TrinoEvent::Completed(event)) = translate(text, &Snapshot::default()) else {
        return;
    };
    if let Ok(entry) = event.into_entry(Timestamp::now()) {
        UamEvent::from_json(&entry.stored_json).expect("a translated query event reads back");
    }
});
