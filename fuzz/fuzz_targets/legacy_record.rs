//! Fuzzes the legacy record parser of `POST /audit/createRecord`: an accepted record becomes a
//! UAM event that reads back, as the search indexer will read it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_model::legacy::LegacyRecord;
use vigil_model::{Timestamp, UamEvent};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(record) = LegacyRecord::from_json(text) else {
        return;
    };
    let event = record.to_uam("fuzz-id", Timestamp::now(), "fuzz-key");
    UamEvent::from_json(&event.to_string()).expect("the UAM event of a record reads back");
});
