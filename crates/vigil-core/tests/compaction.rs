//! Compressed bodies: a data directory of the previous schema opens and keeps every event
//! byte for byte; bodies are compressed with a trained dictionary and read back unchanged;
//! duplicates and conflicts are still told apart; altering a compressed body or its dictionary
//! is a break `vigil verify` names.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use vigil_core::{AppendResult, CompactionOptions, EventLog, LogEntry, verify};

/// A data directory written by vigil at schema 5 (before compression): the seed's 77 example
/// events imported with `vigil import`, then an API key created with `vigil keys create`.
const OLD_DIRECTORY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/v5-data");

fn small_dictionary_after(events: u64) -> CompactionOptions {
    CompactionOptions {
        train_after: events,
        batch: 16,
    }
}

/// Waits until the compactor has a dictionary and no body is left plain.
fn wait_until_compacted(log: &EventLog) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = log.compaction().unwrap();
        if status.dictionary.is_some() && status.plain_events == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the compactor did not finish: {status:?}"
        );
        log.wait_for_commit_after(log.last_committed_seq(), Duration::from_millis(100));
    }
}

/// Every row's (seq, id, codec, stored bytes) as the database holds them.
fn raw_rows(dir: &Path) -> Vec<(i64, String, i64, Vec<u8>)> {
    let connection = Connection::open(dir.join(vigil_core::DATABASE_FILE)).unwrap();
    let codec_column = connection
        .prepare("SELECT 1 FROM pragma_table_info('events') WHERE name = 'codec'")
        .unwrap()
        .exists([])
        .unwrap();
    let codec = if codec_column { "codec" } else { "0" };
    let mut statement = connection
        .prepare(&format!(
            "SELECT seq, event_id, {codec}, CAST(body AS BLOB) FROM events ORDER BY seq"
        ))
        .unwrap();
    statement
        .query_map([], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

#[test]
fn a_data_directory_of_the_previous_schema_opens_and_keeps_every_event() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        Path::new(OLD_DIRECTORY).join(vigil_core::DATABASE_FILE),
        dir.path().join(vigil_core::DATABASE_FILE),
    )
    .unwrap();
    let before = raw_rows(dir.path());
    assert_eq!(before.len(), 78);
    assert!(before.iter().all(|(_, _, codec, _)| *codec == 0));

    let log = EventLog::open_with(dir.path(), small_dictionary_after(50)).unwrap();
    wait_until_compacted(&log);
    for (seq, id, _, json) in &before {
        let stored = log.get(id).unwrap().expect("every event is kept");
        assert_eq!(stored.seq, *seq as u64);
        assert_eq!(stored.json.as_bytes(), &json[..], "event {seq} changed");
    }
    let read: Vec<String> = log
        .read_after(0, 1_000)
        .unwrap()
        .into_iter()
        .map(|event| event.json)
        .collect();
    assert_eq!(read.len(), before.len());
    // The log goes on: a new event links to the migrated chain.
    let json = r#"{"id":"after-migration","action":"QUERY","actor":{"id":"a"},"eventTimestamp":"2024-01-01T00:00:00Z"}"#;
    let results = log
        .append_blocking(
            vec![LogEntry::new(
                "after-migration".into(),
                json.into(),
                json.len(),
                0,
                0,
            )],
            None,
        )
        .unwrap();
    assert_eq!(results, vec![AppendResult::Stored(79)]);
    log.shutdown();
    drop(log);

    let after = raw_rows(dir.path());
    assert!(
        after.iter().all(|(_, _, codec, _)| *codec == 1),
        "every body compressed with the first dictionary"
    );
    let plain: usize = before.iter().map(|row| row.3.len()).sum();
    let compressed: usize = after[..78].iter().map(|row| row.3.len()).sum();
    assert!(
        compressed * 2 < plain,
        "bodies take {compressed} bytes compressed against {plain} plain"
    );
    let report = verify(dir.path()).unwrap();
    assert!(report.is_intact(), "{:?}", report.breaks);
    assert_eq!(report.events, 79);
}

fn event(i: usize, note: &str) -> LogEntry {
    // Stored as sent: key order, spacing and non-ASCII text must come back exactly.
    let json = format!(
        "{{\"id\":\"e{i}\", \"action\":\"QUERY\",\"eventTimestamp\":\"2024-01-01T00:00:00Z\",\n \"actor\":{{\"id\":\"user{u}@example.com\",\"name\":\"Zoë {u}\"}},\"auditPayload\":{{\"query\":\"SELECT * FROM sales.orders_{i} WHERE note = '{note}'\"}}}}",
        u = i % 7
    );
    LogEntry::new(format!("e{i}"), json.clone(), json.len(), 0, 0)
}

#[test]
fn an_altered_compressed_body_or_dictionary_is_a_break() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open_with(dir.path(), small_dictionary_after(100)).unwrap();
    log.append_blocking((0..120).map(|i| event(i, "x")).collect(), None)
        .unwrap();
    wait_until_compacted(&log);
    log.shutdown();
    drop(log);
    let connection = Connection::open(dir.path().join(vigil_core::DATABASE_FILE)).unwrap();

    // A body recompressed from altered JSON with the same dictionary still decodes: the chain
    // finds it. A body whose bytes were flipped does not decode: verify says so.
    let mut frame: Vec<u8> = connection
        .query_row("SELECT body FROM events WHERE seq = 40", [], |row| {
            row.get(0)
        })
        .unwrap();
    let last = frame.len() - 1;
    frame[last] ^= 0x55;
    connection
        .execute("UPDATE events SET body = ?1 WHERE seq = 40", [frame])
        .unwrap();
    let altered = event(69, "y").stored_json;
    connection
        .execute(
            "UPDATE events SET body = ?1, codec = 0 WHERE seq = 70",
            [altered],
        )
        .unwrap();
    let report = verify(dir.path()).unwrap();
    let found: Vec<u64> = report.breaks.iter().map(|b| b.seq).collect();
    assert_eq!(found, vec![40, 70], "{:?}", report.breaks);
    assert!(
        report
            .breaks
            .iter()
            .all(|b| b.reason.contains("hash mismatch"))
    );

    // A dictionary replaced after the fact breaks every body made with it (and the altered
    // plain one stays a break).
    connection
        .execute(
            "UPDATE body_dictionaries SET bytes = zeroblob(length(bytes))",
            [],
        )
        .unwrap();
    let report = verify(dir.path()).unwrap();
    assert_eq!(report.break_count, 120, "{:?}", report.breaks);
}
