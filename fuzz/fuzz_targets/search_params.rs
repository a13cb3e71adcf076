//! Fuzzes the query-string parsers of `GET /api/audit/events` and the legacy `GET /audit`: any
//! input is a search or a 400, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = vigil_server::fuzzing::search_query(text);
    let _ = vigil_server::fuzzing::legacy_search_query(text);
});
