//! The storage conformance suite: the same tests against the embedded log (SQLite in a data
//! directory) and the log a cluster shares (PostgreSQL, one database per test, dropped after).
//! Several `EventLog`s opened on one store stand for several nodes (quickwit's storage test
//! suite is the model: one body of tests, one module per backend).

mod support;

use std::sync::Arc;
use std::time::Duration;

use vigil_core::export::SigningKey;
use vigil_core::ingest::{BodyFormat, ingest, prepare, split_body};
use vigil_core::store::{DatabaseUrl, Sql, StoreError, Value};
use vigil_core::{
    AppendResult, CompactionOptions, EventLog, LogEntry, LogError, VerifyOptions, VerifyReport,
};
use vigil_model::Timestamp;

use support::postgres::TestDatabase;
use support::{entry, event_at};

/// One store under test.
enum Store {
    Sqlite(tempfile::TempDir),
    Postgres(TestDatabase),
}

impl Store {
    fn sqlite() -> Store {
        Store::Sqlite(tempfile::tempdir().unwrap())
    }

    fn postgres() -> Store {
        Store::Postgres(TestDatabase::create())
    }

    /// A node: the log opened on this store.
    fn open(&self) -> EventLog {
        self.open_with(CompactionOptions::default())
    }

    /// A node whose compactor has these settings.
    fn open_with(&self, options: CompactionOptions) -> EventLog {
        match self {
            Store::Sqlite(dir) => EventLog::open_with(dir.path(), options).unwrap(),
            Store::Postgres(database) => {
                EventLog::open_postgres_with(&DatabaseUrl::parse(&database.url).unwrap(), options)
                    .unwrap()
            }
        }
    }

    fn verify(&self) -> VerifyReport {
        self.verify_with(&VerifyOptions::default())
    }

    fn verify_with(&self, options: &VerifyOptions) -> VerifyReport {
        match self {
            Store::Sqlite(dir) => vigil_core::verify_with(dir.path(), options).unwrap(),
            Store::Postgres(database) => {
                vigil_core::verify_postgres(&DatabaseUrl::parse(&database.url).unwrap(), options)
                    .unwrap()
            }
        }
    }

    /// Runs a statement on the store behind vigil's back (to tamper with it).
    fn tamper(&self, sql: &str, params: &[Value]) -> u64 {
        match self {
            Store::Sqlite(dir) => {
                let mut connection =
                    rusqlite::Connection::open(dir.path().join(vigil_core::DATABASE_FILE)).unwrap();
                Sql::execute(&mut connection, sql, params).unwrap()
            }
            Store::Postgres(database) => {
                let mut client =
                    ::postgres::Client::connect(&database.url, ::postgres::NoTls).unwrap();
                vigil_core::store::postgres::Pg(&mut client)
                    .execute(sql, params)
                    .unwrap()
            }
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn seqs(log: &EventLog, after: u64) -> Vec<u64> {
    log.read_after(after, 100)
        .unwrap()
        .iter()
        .map(|event| event.seq)
        .collect()
}

fn appends_get_gap_free_sequence_numbers_and_a_verifiable_chain(store: &Store) {
    let log = store.open();
    let results = log
        .append_blocking(vec![entry("a", ""), entry("b", ""), entry("c", "")], None)
        .unwrap();
    assert_eq!(
        results,
        vec![
            AppendResult::Stored(1),
            AppendResult::Stored(2),
            AppendResult::Stored(3)
        ]
    );
    let results = log.append_blocking(vec![entry("d", "")], None).unwrap();
    assert_eq!(results, vec![AppendResult::Stored(4)]);
    let c = log.get("c").unwrap().unwrap();
    assert_eq!(
        (c.seq, c.json.as_str()),
        (3, entry("c", "").stored_json.as_str())
    );
    assert!(log.get("nope").unwrap().is_none());
    assert_eq!(seqs(&log, 2), vec![3, 4]);
    let many: Vec<u64> = log
        .get_many(&[4, 9, 1])
        .unwrap()
        .iter()
        .map(|event| event.seq)
        .collect();
    assert_eq!(many, vec![4, 1]);
    let stored = log
        .stored_ids(&["a".into(), "x".into(), "d".into()])
        .unwrap();
    assert_eq!(stored.len(), 2);
    assert!(stored.contains("a") && stored.contains("d"));
    assert_eq!(log.last_seq().unwrap(), 4);
    assert_eq!(log.stats().unwrap().events, 4);
    log.shutdown();
    let report = store.verify();
    assert_eq!(
        (report.events, report.last_seq, report.break_count),
        (4, 4, 0)
    );
}

fn the_same_event_again_is_a_duplicate_and_different_content_is_a_conflict(store: &Store) {
    let log = store.open();
    log.append_blocking(vec![entry("a", "")], None).unwrap();
    let results = log
        .append_blocking(
            vec![
                entry("a", ""),
                entry("a", r#","x":1"#),
                entry("b", ""),
                entry("b", ""),
                entry("b", r#","x":2"#),
            ],
            None,
        )
        .unwrap();
    assert_eq!(
        results,
        vec![
            AppendResult::Duplicate(1),
            AppendResult::Conflict(1),
            AppendResult::Stored(2),
            AppendResult::Duplicate(2),
            AppendResult::Conflict(2)
        ]
    );
    assert_eq!(log.stats().unwrap().events, 2);
    // The first content stays the record.
    assert_eq!(
        log.get("b").unwrap().unwrap().json,
        entry("b", "").stored_json
    );
}

fn a_duplicate_that_only_differs_in_key_order_or_spacing_is_still_a_duplicate(store: &Store) {
    let log = store.open();
    let runtime = runtime();
    let first =
        r#"{"id":"k","action":"QUERY","actor":{"id":"x"},"eventTimestamp":"2024-01-01T00:00:00Z"}"#;
    let again = r#"{ "eventTimestamp": "2024-01-01T00:00:00Z", "actor": {"id": "x"}, "action": "QUERY", "id": "k" }"#;
    for (text, stored, duplicates) in [(first, 1, 0), (again, 0, 1)] {
        let items = prepare(
            split_body(text, BodyFormat::Json).unwrap(),
            Timestamp::now(),
            &vigil_core::Submitter::cli("test"),
        );
        let report = runtime.block_on(ingest(&log, items)).unwrap();
        assert_eq!(
            (report.stored.len(), report.duplicates.len()),
            (stored, duplicates),
            "{report:?}"
        );
    }
}

/// Eight clients spread over three nodes send the same 200 ids in different orders: each id is
/// stored once, the sequence has no gap and one chain covers every node's appends.
fn concurrent_batches_on_several_nodes_store_each_id_once(store: &Store) {
    let nodes: Vec<Arc<EventLog>> = (0..3).map(|_| Arc::new(store.open())).collect();
    let runtime = runtime();
    runtime.block_on(async {
        let mut tasks = Vec::new();
        for client in 0..8 {
            let log = nodes[client % nodes.len()].clone();
            tasks.push(tokio::spawn(async move {
                let mut ids: Vec<usize> = (0..200).collect();
                ids.rotate_left(client * 25);
                let mut stored = 0;
                for chunk in ids.chunks(50) {
                    let entries = chunk
                        .iter()
                        .map(|i| entry(&format!("id-{i}"), ""))
                        .collect();
                    stored += log
                        .append(entries)
                        .await
                        .unwrap()
                        .iter()
                        .filter(|result| matches!(result, AppendResult::Stored(_)))
                        .count();
                }
                stored
            }));
        }
        let mut total = 0;
        for task in tasks {
            total += task.await.unwrap();
        }
        assert_eq!(total, 200);
    });
    for node in &nodes {
        assert_eq!(
            node.stats().unwrap(),
            vigil_core::LogStats {
                events: 200,
                last_seq: 200
            }
        );
        node.shutdown();
    }
    assert!(store.verify().is_intact());
}

fn a_reopened_log_continues_its_chain(store: &Store) {
    let log = store.open();
    log.append_blocking(vec![entry("a", ""), entry("b", "")], None)
        .unwrap();
    log.shutdown();
    drop(log);
    let log = store.open();
    assert_eq!(log.last_committed_seq(), 2);
    assert_eq!(
        log.append_blocking(vec![entry("b", ""), entry("c", "")], None)
            .unwrap(),
        vec![AppendResult::Duplicate(2), AppendResult::Stored(3)]
    );
    log.shutdown();
    assert!(store.verify().is_intact());
}

fn verify_names_an_altered_body_a_forged_submitter_and_a_removed_event(store: &Store) {
    let log = store.open();
    let entries = (0..8).map(|i| entry(&format!("e{i}"), "")).collect();
    log.append_blocking(entries, None).unwrap();
    log.shutdown();
    assert!(store.verify().is_intact());
    let altered = entry("e2", r#","x":"forged""#).stored_json.into_bytes();
    assert_eq!(
        store.tamper(
            "UPDATE events SET body = ?1 WHERE seq = ?2",
            &[Value::Blob(altered), Value::Integer(3)]
        ),
        1
    );
    store.tamper(
        "UPDATE events SET submitter = ?1 WHERE seq = ?2",
        &["vigil".into(), Value::Integer(5)],
    );
    store.tamper("DELETE FROM events WHERE seq = ?1", &[Value::Integer(7)]);
    let report = store.verify();
    let breaks: Vec<(u64, &str)> = report
        .breaks
        .iter()
        .map(|found| (found.seq, found.reason.as_str()))
        .collect();
    assert_eq!(report.break_count, 3, "{breaks:?}");
    assert_eq!(breaks[0].0, 3);
    assert!(breaks[0].1.starts_with("hash mismatch"), "{breaks:?}");
    assert_eq!(breaks[1].0, 5);
    assert!(breaks[1].1.starts_with("hash mismatch"), "{breaks:?}");
    assert_eq!(breaks[2].0, 7);
    assert!(breaks[2].1.starts_with("sequence gap"), "{breaks:?}");
}

fn a_failing_side_write_stores_nothing_and_later_appends_continue_the_chain(store: &Store) {
    let log = store.open();
    log.append_blocking(vec![entry("a", "")], None).unwrap();
    let failing: vigil_core::SideWrite = Box::new(|db| {
        db.execute(
            "INSERT INTO saved_searches (id, name, query, created_by, created_at) VALUES ('s', 'n', 'q', 'c', 't')",
            &[],
        )?;
        Err(StoreError::Refused("refused on purpose".into()))
    });
    let error = log
        .append_blocking(vec![entry("b", "")], Some(failing))
        .unwrap_err();
    assert!(error.to_string().contains("refused on purpose"), "{error}");
    assert!(log.get("b").unwrap().is_none());
    let saved = log
        .query(|db| Ok(db.query("SELECT id FROM saved_searches", &[])?.len()))
        .unwrap();
    assert_eq!(saved, 0, "the side write's own insert must be rolled back");
    assert_eq!(
        log.append_blocking(vec![entry("c", "")], None).unwrap(),
        vec![AppendResult::Stored(2)]
    );
    log.shutdown();
    assert!(store.verify().is_intact());
}

/// Keys are created, found by secret, listed and deleted on every node alike; a name is taken
/// once across nodes; each change is an event in the one chain.
fn keys_work_across_nodes(store: &Store) {
    use vigil_core::keys::{self, KeyActor, KeyError, Permission};
    let a = store.open();
    let b = store.open();
    let actor = KeyActor {
        actor_type: "USER",
        id: "tester".into(),
        name: "tester".into(),
        identity_provider: None,
    };
    let created = keys::create_key(&a, "ci", &[Permission::Ingest], None, &actor).unwrap();
    let found = keys::authenticate(&b, &created.secret).unwrap().unwrap();
    assert_eq!(
        (found.id.as_str(), found.name.as_str()),
        (created.info.id.as_str(), "ci")
    );
    assert!(keys::authenticate(&b, "not-a-secret").unwrap().is_none());
    assert!(matches!(
        keys::create_key(&b, "ci", &[Permission::Audit], None, &actor),
        Err(KeyError::NameTaken(_))
    ));
    assert_eq!(keys::list_keys(&b).unwrap().len(), 1);
    keys::delete_key(&b, "ci", &actor).unwrap();
    assert!(keys::authenticate(&a, &created.secret).unwrap().is_none());
    assert!(matches!(
        keys::delete_key(&a, "ci", &actor),
        Err(KeyError::NotFound(_))
    ));
    // A log that had keys never bootstraps one again.
    assert_eq!(
        keys::bootstrap(&a, None).unwrap(),
        keys::Bootstrap::AllKeysDeleted
    );
    assert_eq!(a.stats().unwrap().events, 2);
    a.shutdown();
    b.shutdown();
    assert!(store.verify().is_intact());
}

/// Waits until `log` has a dictionary and no body is left plain.
fn wait_until_compacted(log: &EventLog) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let status = log.compaction().unwrap();
        if status.dictionary.is_some() && status.plain_events == 0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the compactor did not finish: {status:?}"
        );
        log.wait_for_commit_after(log.last_committed_seq(), Duration::from_millis(100));
    }
}

fn varied(i: usize, note: &str) -> LogEntry {
    // Stored as sent: key order, spacing and non-ASCII text must come back exactly.
    let json = format!(
        "{{\"id\":\"e{i}\", \"action\":\"QUERY\",\"eventTimestamp\":\"2024-01-01T00:00:00Z\",\n \"actor\":{{\"id\":\"user{u}@example.com\",\"name\":\"Zoë {u}\"}},\"auditPayload\":{{\"query\":\"SELECT * FROM sales.orders_{i} WHERE note = '{note}'\"}}}}",
        u = i % 7
    );
    LogEntry::new(format!("e{i}"), json.clone(), json.len(), 0, 0)
}

/// Once enough events are stored, a dictionary is trained and every body is stored compressed;
/// each reads back byte for byte, duplicates and conflicts are still told apart, and the chain
/// still verifies.
fn compressed_bodies_read_back_exactly_and_still_tell_duplicates_from_conflicts(store: &Store) {
    let options = CompactionOptions {
        train_after: 100,
        batch: 16,
    };
    let log = store.open_with(options);
    let first: Vec<LogEntry> = (0..150).map(|i| varied(i, "first")).collect();
    log.append_blocking(first.clone(), None).unwrap();
    wait_until_compacted(&log);
    // Stored after the dictionary: compressed as they are appended.
    let second: Vec<LogEntry> = (150..300).map(|i| varied(i, "second — ünïcode")).collect();
    log.append_blocking(second.clone(), None).unwrap();
    assert_eq!(log.compaction().unwrap().plain_events, 0);
    let stored = log.read_after(0, 1_000).unwrap();
    assert_eq!(stored.len(), 300);
    for (entry, event) in first.iter().chain(&second).zip(&stored) {
        assert_eq!(event.json, entry.stored_json);
    }
    let again = log
        .append_blocking(vec![varied(3, "first"), varied(200, "changed")], None)
        .unwrap();
    assert_eq!(
        again,
        vec![AppendResult::Duplicate(4), AppendResult::Conflict(201)]
    );
    // Another node learns the dictionary and compresses what it stores with it.
    let other = store.open_with(options);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while other.compaction().unwrap().dictionary.is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "node B has no dictionary"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    other
        .append_blocking(vec![varied(300, "from node B")], None)
        .unwrap();
    assert_eq!(other.compaction().unwrap().plain_events, 0);
    assert_eq!(
        log.get("e300").unwrap().unwrap().json,
        varied(300, "from node B").stored_json
    );
    other.shutdown();
    log.shutdown();
    assert!(store.verify().is_intact());
}

/// Verify options that check signatures with `key`'s public half.
fn checked_with(key: &SigningKey) -> VerifyOptions {
    VerifyOptions {
        public_key: Some(key.public_key_hex()),
        ..VerifyOptions::default()
    }
}

/// Retention removes the oldest events, records the removal signed, and moves the chain's
/// anchor: what is kept still verifies, the anchor proven by the signed removal.
fn retention_removes_the_oldest_events_and_the_rest_still_verifies(store: &Store) {
    let log = store.open();
    let keys = tempfile::tempdir().unwrap();
    let key = SigningKey::load(keys.path()).unwrap();
    let day: i64 = 86_400_000_000;
    let now = Timestamp::now().unix_micros();
    // Six old events, then a recent one, then an old one that arrived late (kept: it is behind
    // a recent event), then recent ones.
    let mut entries: Vec<LogEntry> = (0..6)
        .map(|i| event_at(&format!("old-{i}"), now - 100 * day + i))
        .collect();
    entries.push(event_at("recent-0", now - day));
    entries.push(event_at("late-old", now - 200 * day));
    entries.push(event_at("recent-1", now));
    log.append_blocking(entries, None).unwrap();
    let cutoff = Timestamp(
        chrono::DateTime::from_timestamp_micros(now - 30 * day)
            .unwrap()
            .fixed_offset(),
    );
    let removal = vigil_core::apply_retention(&log, &key, cutoff, 30)
        .unwrap()
        .expect("old events to remove");
    assert_eq!((removal.from_seq, removal.to_seq), (1, 6));
    assert!(log.get("old-3").unwrap().is_none());
    assert!(log.get("late-old").unwrap().is_some());
    assert_eq!(log.first_seq().unwrap(), 7);
    assert_eq!(
        vigil_core::apply_retention(&log, &key, cutoff, 30).unwrap(),
        None,
        "nothing more to remove"
    );
    log.append_blocking(vec![entry("after", "")], None).unwrap();
    let removed_event = log.read_after(9, 1).unwrap().remove(0);
    assert!(
        removed_event.json.contains("EventsRemovedAuditPayload"),
        "{}",
        removed_event.json
    );
    log.shutdown();
    let options = checked_with(&key);
    let report = store.verify_with(&options);
    assert!(report.is_intact(), "{:?}", report.breaks);
    assert!(report.notes.is_empty(), "{:?}", report.notes);
    assert_eq!(report.first_seq, 7);
    // recent-0, late-old, recent-1, the EventsRemoved event, after.
    assert_eq!((report.events, report.last_seq), (5, 11));
    // An anchor moved behind vigil's back is a forgery.
    store.tamper(
        "UPDATE chain_anchor SET first_seq = ?1 WHERE id = 1",
        &[Value::Integer(8)],
    );
    store.tamper("DELETE FROM events WHERE seq = ?1", &[Value::Integer(7)]);
    let report = store.verify_with(&options);
    assert!(
        report
            .breaks
            .iter()
            .any(|found| found.reason.starts_with("forged anchor")),
        "{:?}",
        report.breaks
    );
}

/// A signed checkpoint of the head is recorded in the log; verify checks the chain against it
/// and names a rewrite of the hash it covers.
fn signed_checkpoints_verify_and_show_a_rewrite(store: &Store) {
    let log = store.open();
    let keys = tempfile::tempdir().unwrap();
    let key = SigningKey::load(keys.path()).unwrap();
    log.append_blocking((0..5).map(|i| entry(&format!("k{i}"), "")).collect(), None)
        .unwrap();
    let (checkpoint, covered) = vigil_core::checkpoint::checkpoint_head(&log, &key, 0)
        .unwrap()
        .expect("a checkpoint of a moved head");
    assert_eq!((checkpoint.sequence_number, covered), (5, 6));
    assert!(
        vigil_core::checkpoint::checkpoint_head(&log, &key, covered)
            .unwrap()
            .is_none(),
        "the head did not move"
    );
    log.shutdown();
    let options = checked_with(&key);
    let report = store.verify_with(&options);
    assert!(report.is_intact(), "{:?}", report.breaks);
    assert_eq!(report.checkpoints_checked, 1);
    store.tamper(
        "UPDATE events SET chain_hash = ?1 WHERE seq = ?2",
        &[Value::Blob(vec![7; 32]), Value::Integer(5)],
    );
    let report = store.verify_with(&options);
    assert!(
        report
            .breaks
            .iter()
            .any(|found| found.reason.starts_with("rewritten")),
        "{:?}",
        report.breaks
    );
}

/// Export configurations, their sealed secrets and their progress are the same on every node.
fn export_configurations_are_shared_by_every_node(store: &Store) {
    use vigil_core::export::{
        Destination, ExportConfig, ExportFormat, Interval, MasterKey, config_secret, get_config,
        insert_config, list_configs, read_status,
    };
    let (a, b) = (store.open(), store.open());
    let keys = tempfile::tempdir().unwrap();
    let master = MasterKey::load(keys.path(), Some(&"ab".repeat(32))).unwrap();
    let actor = vigil_core::keys::KeyActor {
        actor_type: "USER_ACTOR",
        id: "tester".into(),
        name: "tester".into(),
        identity_provider: None,
    };
    let config = ExportConfig {
        id: "config-1".into(),
        interval: Interval::Every2Hours,
        format: ExportFormat::Parquet,
        enabled: true,
        destination: Destination::S3AccessKey {
            bucket: "bucket".into(),
            path: Some("audit".into()),
            region: "us-east-1".into(),
            access_key_id: "AKIA".into(),
            endpoint: None,
        },
        connection_status: "SUCCESS".into(),
        created_at: "2026-11-22T00:00:00Z".into(),
        updated_at: "2026-11-22T00:00:00Z".into(),
    };
    insert_config(&a, &master, &config, Some("the secret"), &actor).unwrap();
    let seen = get_config(&b, "config-1").unwrap();
    assert_eq!(seen.format, ExportFormat::Parquet);
    assert!(seen.enabled);
    assert_eq!(
        config_secret(&b, &master, "config-1").unwrap().as_deref(),
        Some("the secret")
    );
    assert_eq!(read_status(&b, "config-1").unwrap().checkpoint_seq, 0);
    assert_eq!(list_configs(&b).unwrap().len(), 1);
    vigil_core::export::delete_config(&b, "config-1", &actor).unwrap();
    assert!(get_config(&a, "config-1").is_err());
    a.shutdown();
    b.shutdown();
    assert!(store.verify().is_intact());
}

macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $test() { super::$test(&super::Store::sqlite()); })*
        }
        mod postgres {
            $(#[test] fn $test() { super::$test(&super::Store::postgres()); })*
        }
    };
}

conformance!(
    appends_get_gap_free_sequence_numbers_and_a_verifiable_chain,
    the_same_event_again_is_a_duplicate_and_different_content_is_a_conflict,
    a_duplicate_that_only_differs_in_key_order_or_spacing_is_still_a_duplicate,
    concurrent_batches_on_several_nodes_store_each_id_once,
    a_reopened_log_continues_its_chain,
    verify_names_an_altered_body_a_forged_submitter_and_a_removed_event,
    a_failing_side_write_stores_nothing_and_later_appends_continue_the_chain,
    keys_work_across_nodes,
    compressed_bodies_read_back_exactly_and_still_tell_duplicates_from_conflicts,
    retention_removes_the_oldest_events_and_the_rest_still_verifies,
    signed_checkpoints_verify_and_show_a_rewrite,
    export_configurations_are_shared_by_every_node,
);

/// What only a shared log does: an event appended on one node wakes the views of another.
#[test]
fn an_append_on_one_node_is_announced_on_every_other() {
    let store = Store::postgres();
    let a = store.open();
    let b = store.open();
    assert_eq!(b.last_committed_seq(), 0);
    a.append_blocking(vec![entry("x", "")], None).unwrap();
    let seen = b.wait_for_commit_after(0, Duration::from_secs(5));
    assert_eq!(seen, 1, "node B did not hear of node A's commit");
    assert_eq!(b.get("x").unwrap().unwrap().seq, 1);
}

/// A newer vigil's schema is refused with a message that says so, and nothing is changed.
#[test]
fn a_database_migrated_by_a_newer_vigil_is_refused() {
    let store = Store::postgres();
    store.open().shutdown();
    store.tamper("UPDATE vigil_schema SET version = 99 WHERE id = 1", &[]);
    let Store::Postgres(database) = &store else {
        unreachable!()
    };
    let error = EventLog::open_postgres(&DatabaseUrl::parse(&database.url).unwrap())
        .err()
        .expect("a newer schema must be refused");
    assert!(
        matches!(error, LogError::SchemaTooNew { found: 99, .. }),
        "{error}"
    );
}

/// A database that cannot be reached refuses the open with a clear error, within the connect
/// timeout, and never with a hang.
#[test]
fn an_unreachable_database_is_said_so() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let url = DatabaseUrl::parse(&format!(
        "postgres://vigil:secret@127.0.0.1:{port}/vigil?sslmode=disable"
    ))
    .unwrap();
    let error = EventLog::open_postgres(&url)
        .err()
        .expect("nothing listens there");
    assert!(matches!(error, LogError::Unavailable(_)), "{error:?}");
    assert!(!error.to_string().contains("secret"), "{error}");
}
