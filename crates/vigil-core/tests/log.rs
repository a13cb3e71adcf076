//! The embedded event log against a real SQLite file: side writes, verify of damaged and
//! altered files, retention, keys. What every backend must do is in `storage.rs`.

use vigil_core::export::SigningKey;
mod support;

use support::{entry, event_at};
use vigil_core::{EventLog, LogEntry, verify};
use vigil_model::Timestamp;

#[test]
fn verify_names_every_altered_or_missing_event() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path()).unwrap();
    let entries = (0..12).map(|i| entry(&format!("e{i}"), "")).collect();
    log.append_blocking(entries, None).unwrap();
    log.shutdown();
    drop(log);
    let connection =
        rusqlite::Connection::open(dir.path().join(vigil_core::DATABASE_FILE)).unwrap();
    connection
        .execute(
            "UPDATE events SET body = replace(body, 'QUERY', 'QUERX') WHERE seq IN (3, 7)",
            [],
        )
        .unwrap();
    connection
        .execute("DELETE FROM events WHERE seq IN (9, 10)", [])
        .unwrap();
    drop(connection);
    let report = verify(dir.path()).unwrap();
    let found: Vec<(u64, bool)> = report
        .breaks
        .iter()
        .map(|chain_break| {
            (
                chain_break.seq,
                chain_break.reason.contains("hash mismatch"),
            )
        })
        .collect();
    // Each break is reported once: the events after an altered one link to its stored hash.
    assert_eq!(
        found,
        vec![(3, true), (7, true), (9, false)],
        "{:?}",
        report.breaks
    );
    assert!(
        report.breaks[2]
            .reason
            .contains("sequence gap: expected 9, found 11 (2 events missing)"),
        "{}",
        report.breaks[2].reason
    );
    assert_eq!(
        (report.break_count, report.events, report.last_seq),
        (3, 10, 12)
    );
}

#[test]
fn integer_ids_stored_by_earlier_versions_verify() {
    // Before ids had to be strings, `{"id": 12345}` was stored under the id text `12345`.
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path()).unwrap();
    let old = |id: &str| {
        let json = format!(
            r#"{{"id":{id},"action":"QUERY","actor":{{}},"eventTimestamp":"2024-01-01T00:00:00Z"}}"#
        );
        LogEntry::new(id.into(), json.clone(), json.len(), 0, 0)
    };
    log.append_blocking(
        vec![entry("a", ""), old("12345"), old("-7"), entry("b", "")],
        None,
    )
    .unwrap();
    log.shutdown();
    drop(log);
    let report = verify(dir.path()).unwrap();
    assert!(report.is_intact(), "{:?}", report.breaks);
    assert_eq!(report.events, 4);
}

#[test]
fn a_removal_larger_than_one_chunk_is_recorded_once_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path()).unwrap();
    let key = SigningKey::load(dir.path()).unwrap();
    let day: i64 = 86_400_000_000;
    let now = Timestamp::now().unix_micros();
    let old: Vec<LogEntry> = (0..25_000)
        .map(|i| event_at(&format!("old-{i}"), now - 90 * day + i))
        .collect();
    log.append_blocking(old, None).unwrap();
    log.append_blocking(vec![event_at("new", now)], None)
        .unwrap();
    let cutoff = Timestamp(
        chrono::DateTime::from_timestamp_micros(now - 30 * day)
            .unwrap()
            .fixed_offset(),
    );
    let removal = vigil_core::apply_retention(&log, &key, cutoff, 30)
        .unwrap()
        .unwrap();
    assert_eq!((removal.from_seq, removal.to_seq), (1, 25_000));
    let kept = log.read_after(0, 10).unwrap();
    assert_eq!(kept.len(), 2, "the new event and one EventsRemoved event");
    assert_eq!(kept[0].event_id, "new");
    assert!(kept[1].json.contains("\"toSeq\":25000"), "{}", kept[1].json);
    log.shutdown();
    let report = verify(dir.path()).unwrap();
    assert_eq!(
        (report.first_seq, report.events, report.break_count),
        (25_001, 2, 0)
    );
}

/// Removes the events `from..=to` and points the anchor past them, by hand, as someone with write
/// access to `vigil.db` could.
fn forge_anchor(data_dir: &std::path::Path, from: u64, to: u64) {
    let connection = rusqlite::Connection::open(data_dir.join(vigil_core::DATABASE_FILE)).unwrap();
    connection
        .execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS chain_anchor (id INTEGER PRIMARY KEY, first_seq INTEGER NOT NULL, previous_hash BLOB NOT NULL);
             INSERT INTO chain_anchor (id, first_seq, previous_hash)
               SELECT 1, {next}, chain_hash FROM events WHERE seq = {to}
               ON CONFLICT (id) DO UPDATE SET first_seq = excluded.first_seq, previous_hash = excluded.previous_hash;
             DELETE FROM events WHERE seq BETWEEN {from} AND {to};",
            next = to + 1
        ))
        .unwrap();
}

#[test]
fn an_anchor_without_its_signed_removal_is_a_forgery() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path()).unwrap();
    let key = SigningKey::load(dir.path()).unwrap();
    let day: i64 = 86_400_000_000;
    let now = Timestamp::now().unix_micros();
    let entries: Vec<LogEntry> = (0..4)
        .map(|i| event_at(&format!("old-{i}"), now - 100 * day + i))
        .chain((0..4).map(|i| event_at(&format!("new-{i}"), now - i)))
        .collect();
    log.append_blocking(entries, None).unwrap();
    let cutoff = Timestamp(
        chrono::DateTime::from_timestamp_micros(now - 30 * day)
            .unwrap()
            .fixed_offset(),
    );
    vigil_core::apply_retention(&log, &key, cutoff, 30)
        .unwrap()
        .expect("old events to remove");
    log.shutdown();
    drop(log);
    assert!(
        verify(dir.path()).unwrap().is_intact(),
        "a real removal verifies"
    );

    // Someone deletes two more of the oldest kept events (new-0, new-1) and moves the anchor.
    forge_anchor(dir.path(), 5, 6);
    let report = verify(dir.path()).unwrap();
    assert_eq!(report.break_count, 1, "{:?}", report.breaks);
    assert_eq!(report.breaks[0].seq, 7);
    assert!(
        report.breaks[0].reason.starts_with("forged anchor"),
        "{:?}",
        report.breaks
    );

    // A log that never had a removal: the forged anchor has no EventsRemoved event at all.
    let fresh = tempfile::tempdir().unwrap();
    let log = EventLog::open(fresh.path()).unwrap();
    SigningKey::load(fresh.path()).unwrap();
    let entries = (0..5).map(|i| entry(&format!("e-{i}"), "")).collect();
    log.append_blocking(entries, None).unwrap();
    log.shutdown();
    drop(log);
    forge_anchor(fresh.path(), 1, 2);
    let report = verify(fresh.path()).unwrap();
    assert_eq!(
        (report.break_count, report.first_seq),
        (1, 3),
        "{:?}",
        report.breaks
    );
    assert!(report.breaks[0].reason.starts_with("forged anchor"));
}

/// A SQLite varint at the start of `bytes`: its value and length.
fn varint(bytes: &[u8]) -> (u64, usize) {
    let mut value = 0u64;
    for (index, byte) in bytes.iter().enumerate().take(9) {
        if index == 8 {
            return ((value << 8) | u64::from(*byte), 9);
        }
        value = (value << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            return (value, index + 1);
        }
    }
    (value, 9)
}

/// Damages one leaf page of the events table past the middle of `vigil.db` (its page type byte
/// becomes invalid) and returns the sequence numbers (row ids) it held.
fn damage_an_events_page(data_dir: &std::path::Path) -> (u64, u64) {
    let path = data_dir.join(vigil_core::DATABASE_FILE);
    let mut file = std::fs::read(&path).unwrap();
    let page_size = match u16::from_be_bytes([file[16], file[17]]) {
        1 => 65_536,
        size => usize::from(size),
    };
    let pages = file.len() / page_size;
    for page in pages / 2..pages {
        let start = page * page_size;
        let header = &file[start..start + page_size];
        if header[0] != 0x0d {
            continue; // not a table leaf
        }
        let cells = usize::from(u16::from_be_bytes([header[3], header[4]]));
        let rowids: Vec<u64> = (0..cells)
            .map(|cell| {
                let pointer = usize::from(u16::from_be_bytes([
                    header[8 + 2 * cell],
                    header[9 + 2 * cell],
                ]));
                let (_, length) = varint(&header[pointer..]);
                varint(&header[pointer + length..]).0
            })
            .collect();
        let (Some(first), Some(last)) = (rowids.iter().min(), rowids.iter().max()) else {
            continue;
        };
        let range = (*first, *last);
        file[start] = 0xff;
        std::fs::write(&path, file).unwrap();
        return range;
    }
    panic!("no leaf page of the events table found");
}

#[test]
fn verify_names_the_sequence_numbers_on_a_damaged_page_and_checks_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path()).unwrap();
    let padding = format!(r#","note":"{}""#, "x".repeat(300));
    let entries = (0..3_000)
        .map(|i| entry(&format!("page-{i}"), &padding))
        .collect();
    log.append_blocking(entries, None).unwrap();
    log.shutdown();
    drop(log);
    let (first, last) = damage_an_events_page(dir.path());
    assert!(
        first > 1 && last < 3_000 && first <= last,
        "{first}..{last}"
    );

    let report = verify(dir.path()).unwrap();
    assert_eq!(report.break_count, 1, "{:?}", report.breaks);
    let unreadable = &report.breaks[0];
    assert_eq!(unreadable.seq, first);
    let prefix = format!("unreadable: the events from sequence number {first} through ");
    let end: u64 = unreadable
        .reason
        .strip_prefix(&prefix)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|end| end.parse().ok())
        .unwrap_or_else(|| panic!("{unreadable:?}"));
    // The page's rows, and at most the next one: SQLite seeks by the divider key above the page,
    // which may be one past its last row.
    assert!(
        last <= end && end <= last + 1,
        "{first}..{last}: {unreadable:?}"
    );
    assert!(
        unreadable.reason.contains("cannot be read"),
        "{unreadable:?}"
    );
    // Every other event was read and checked.
    assert_eq!(report.events, 3_000 - (end - first + 1));
    assert_eq!(report.last_seq, 3_000);

    // A running log that meets the damage refuses appends with an integrity alarm.
    let log = EventLog::open(dir.path()).unwrap();
    log.check_pages_in_background()
        .unwrap()
        .expect("the embedded log checks its pages")
        .join()
        .unwrap();
    let alarm = log.integrity_alarm().expect("an alarm");
    assert!(alarm.contains("has a damaged page"), "{alarm}");
    let refused = log.append_blocking(vec![entry("after-damage", "")], None);
    assert!(
        matches!(refused, Err(vigil_core::LogError::IntegrityAlarm(_))),
        "{refused:?}"
    );
    log.shutdown();
}

#[test]
fn the_bootstrap_key_is_created_only_in_a_log_that_never_had_a_key() {
    use vigil_core::keys::{self, Bootstrap};
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path()).unwrap();
    let secret = || Some("operator-secret-0123456789".to_owned());
    assert_eq!(keys::bootstrap(&log, secret()).unwrap(), Bootstrap::Created);
    assert_eq!(
        keys::bootstrap(&log, secret()).unwrap(),
        Bootstrap::NotNeeded
    );
    let actor = keys::KeyActor {
        actor_type: "SYSTEM_ACCOUNT",
        id: "test".into(),
        name: "test".into(),
        identity_provider: None,
    };
    keys::delete_key(&log, "admin", &actor).unwrap();
    assert_eq!(
        keys::bootstrap(&log, secret()).unwrap(),
        Bootstrap::AllKeysDeleted
    );
    assert!(keys::list_keys(&log).unwrap().is_empty());
    log.shutdown();
    drop(log);

    // A log whose keys were all deleted by a version without `key_history` is recognised by
    // its `ApiKeyCreated` events.
    let connection =
        rusqlite::Connection::open(dir.path().join(vigil_core::DATABASE_FILE)).unwrap();
    connection
        .execute_batch(
            "DROP TABLE key_history; DROP INDEX events_plain; DROP TABLE body_dictionaries;
             ALTER TABLE events DROP COLUMN codec; ALTER TABLE events DROP COLUMN submitter;
             ALTER TABLE export_configs DROP COLUMN format; DROP TABLE saved_searches;
             ALTER TABLE export_state DROP COLUMN run_requested_at;
             PRAGMA user_version = 3;",
        )
        .unwrap();
    drop(connection);
    let log = EventLog::open(dir.path()).unwrap();
    assert_eq!(
        keys::bootstrap(&log, secret()).unwrap(),
        Bootstrap::AllKeysDeleted
    );
    assert!(keys::list_keys(&log).unwrap().is_empty());
    log.shutdown();
}
