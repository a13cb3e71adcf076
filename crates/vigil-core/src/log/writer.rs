//! The writer side of the log: the writer thread's group commit (every pending job in one
//! transaction, each in its own savepoint), appending with the chain link, telling duplicates
//! from conflicts, the checkpointer thread, and how a failed append is answered.

use super::*;

/// Copies committed WAL frames into the database file whenever the writer signals a commit.
pub(super) fn checkpoint_loop(connection: Connection, commits: mpsc::Receiver<()>) {
    while commits.recv().is_ok() {
        // PASSIVE: never blocks the writer or readers.
        if let Err(error) = connection.execute_batch("PRAGMA wal_checkpoint(PASSIVE);") {
            tracing::warn!(%error, "checkpoint failed; will retry after the next commit");
        }
    }
}

pub(super) fn writer_loop(
    mut connection: Connection,
    receiver: mpsc::Receiver<WriteJob>,
    checkpoint: mpsc::SyncSender<()>,
    wal_path: &Path,
    commits: &CommitSignal,
    codecs: &Codecs,
) -> Connection {
    // Ends when every sender is dropped and the queue is empty.
    while let Ok(first) = receiver.recv() {
        let jobs = gather(first, &receiver);
        commit_group(&mut connection, jobs, commits, codecs);
        // Wake the checkpointer; if it is busy it will see this commit's frames on its next pass.
        let _ = checkpoint.try_send(());
        let wal_bytes = std::fs::metadata(wal_path).map(|m| m.len()).unwrap_or(0);
        if wal_bytes > WAL_HARD_LIMIT_BYTES
            && let Err(error) = connection.execute_batch("PRAGMA wal_checkpoint(RESTART);")
        {
            tracing::warn!(%error, wal_bytes, "blocking checkpoint failed");
        }
    }
    drop(checkpoint);
    connection
}

/// `first` and the jobs waiting behind it, up to [`GROUP_MAX_EVENTS`] events: one group commit.
pub(super) fn gather(first: WriteJob, receiver: &mpsc::Receiver<WriteJob>) -> Vec<WriteJob> {
    let mut events = first.entries.len();
    let mut jobs = vec![first];
    while events < GROUP_MAX_EVENTS {
        match receiver.try_recv() {
            Ok(job) => {
                events += job.entries.len();
                jobs.push(job);
            }
            Err(_) => break,
        }
    }
    jobs
}

/// Appends every job of a group in one transaction (one fsync), each job in its own savepoint so
/// that a job that fails leaves the others intact; publishes the new head, then replies. Returns
/// the last sequence number when the group committed.
pub(super) fn commit_group(
    connection: &mut Connection,
    jobs: Vec<WriteJob>,
    commits: &CommitSignal,
    codecs: &Codecs,
) -> Option<Seq> {
    let started = std::time::Instant::now();
    let job_count = jobs.len();
    let event_count: usize = jobs.iter().map(|job| job.entries.len()).sum();
    let mut replies = Vec::with_capacity(jobs.len());
    let mut inserted_at = None;
    let mut committed_seq = 0;
    let outcome = (|| -> rusqlite::Result<()> {
        let mut transaction =
            connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Read the head inside the write lock: another process (the CLI) may have appended.
        let (mut last_seq, mut last_hash) = chain_head(&transaction)?;
        let published = commits.published();
        if last_seq < published {
            // Appending now would reuse sequence numbers and hide the cut: refuse, loudly.
            let alarm = format!(
                "integrity alarm: the log's newest sequence number went back from {published} to {last_seq}: events were removed behind vigil's back; appends are refused (run vigil verify with the export checkpoints, then restart vigil)"
            );
            tracing::error!(published, found = last_seq, "{alarm}");
            *commits.alarm.lock().expect("alarm lock") = Some(alarm.clone());
            for job in jobs {
                replies.push((job.reply, Err(alarm.clone())));
            }
            return Err(rusqlite::Error::UserFunctionError(alarm.into()));
        }
        for job in jobs {
            let saved = (last_seq, last_hash);
            let mut savepoint = transaction.savepoint()?;
            let result = append_job(
                &savepoint,
                codecs,
                job.entries,
                job.side_write,
                &mut last_seq,
                &mut last_hash,
            );
            match result {
                Ok(results) => {
                    savepoint.commit()?;
                    replies.push((job.reply, Ok(results)));
                }
                Err(error) => {
                    savepoint.rollback()?;
                    drop(savepoint);
                    (last_seq, last_hash) = saved;
                    tracing::error!(%error, "append failed; the request stored nothing");
                    replies.push((job.reply, Err(failure_text(&error, commits))));
                }
            }
        }
        inserted_at = Some(started.elapsed());
        committed_seq = last_seq;
        transaction.commit()
    })();
    tracing::debug!(
        jobs = job_count,
        events = event_count,
        insert_micros = inserted_at.unwrap_or_default().as_micros() as u64,
        micros = started.elapsed().as_micros() as u64,
        "group commit"
    );
    match outcome {
        Ok(()) => {
            // Published before anyone is answered: a caller that saw its append succeed also sees
            // it in `last_committed_seq`.
            commits.publish(committed_seq);
            commits.storage_full.store(false, Ordering::SeqCst);
            for (reply, result) in replies {
                let _ = reply.send(result);
            }
            Some(committed_seq)
        }
        Err(error) => {
            tracing::error!(%error, "group commit failed; no event of the group was stored");
            let text = failure_text(&error, commits);
            for (reply, result) in replies {
                // An integrity alarm keeps its own text; every other failure is the group's.
                let text = match result {
                    Err(alarm) if commits.alarm().as_deref() == Some(alarm.as_str()) => alarm,
                    _ => text.clone(),
                };
                let _ = reply.send(Err(text));
            }
            None
        }
    }
}

/// The text a failed append is answered with; a full disk is said in words (and remembered until
/// the next commit succeeds).
pub(super) fn failure_text(error: &rusqlite::Error, commits: &CommitSignal) -> String {
    match error.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DiskFull) => {
            commits.storage_full.store(true, Ordering::SeqCst);
            format!("{STORAGE_FULL}: the disk holding the event log is full ({error})")
        }
        _ if is_damage(error) => commits.raise_corruption_alarm(&error.to_string()),
        _ => error.to_string(),
    }
}

/// Whether SQLite says the database file is damaged.
pub(super) fn is_damage(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
    )
}

/// How the alarm about a damaged database says it.
pub(super) const CORRUPT: &str = "has a damaged page";

/// `PRAGMA quick_check` of the database at `path`: `None` when every page is intact, otherwise
/// what SQLite found (its first lines).
pub(super) fn check_pages(path: &Path) -> Result<Option<String>, LogError> {
    let connection = open_connection(path, true)?;
    let mut statement = connection.prepare("PRAGMA quick_check(20)")?;
    let lines: Vec<String> = statement
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok((lines != ["ok"]).then(|| lines.join("; ")))
}

/// How a failure because of a full disk begins.
pub(super) const STORAGE_FULL: &str = "storage full";

pub(super) fn chain_head(connection: &Connection) -> rusqlite::Result<(Seq, ChainHash)> {
    let head = connection
        .query_row(
            "SELECT seq, chain_hash FROM events ORDER BY seq DESC LIMIT 1",
            [],
            |row| {
                let hash: Vec<u8> = row.get(1)?;
                Ok((row.get::<_, i64>(0)? as u64, hash))
            },
        )
        .optional()?;
    Ok(match head {
        Some((seq, hash)) => (seq, hash.try_into().unwrap_or(GENESIS)),
        None => (0, GENESIS),
    })
}

pub(super) fn append_job(
    transaction: &Connection,
    codecs: &Codecs,
    entries: Vec<LogEntry>,
    side_write: Option<SideWrite>,
    last_seq: &mut Seq,
    last_hash: &mut ChainHash,
) -> rusqlite::Result<Vec<AppendResult>> {
    if let Some(side_write) = side_write {
        side_write(&mut Lite(transaction)).map_err(|error| match error {
            StoreError::Sqlite(error) => error,
            other => rusqlite::Error::UserFunctionError(other.to_string().into()),
        })?;
    }
    let mut insert = transaction.prepare_cached(
        "INSERT INTO events (seq, event_id, event_time, received_time, submitted_len, body, chain_hash, submitter, codec)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (event_id) DO NOTHING",
    )?;
    let mut results = Vec::with_capacity(entries.len());
    for entry in entries {
        let seq = *last_seq + 1;
        let hash = chain_hash(last_hash, seq, &entry.link_digest());
        let (codec, body) = match &entry.encoded {
            Some((codec, bytes)) => (*codec, ToSqlOutput::Borrowed(ValueRef::Blob(bytes))),
            None => (
                codec::PLAIN,
                ToSqlOutput::Borrowed(ValueRef::Text(entry.stored_json.as_bytes())),
            ),
        };
        let inserted = insert.execute(params![
            seq as i64,
            entry.event_id,
            entry.event_time_micros,
            entry.received_time_micros,
            entry.submitted_len as i64,
            body,
            &hash[..],
            entry.submitter.as_ref().map(Submitter::as_str),
            codec,
        ])?;
        if inserted == 1 {
            *last_seq = seq;
            *last_hash = hash;
            results.push(AppendResult::Stored(seq));
        } else {
            results.push(compare_with_stored(transaction, codecs, &entry)?);
        }
    }
    Ok(results)
}

/// An id that is already stored: the same event again is a duplicate, a different one a conflict.
pub(super) fn compare_with_stored(
    transaction: &Connection,
    codecs: &Codecs,
    entry: &LogEntry,
) -> rusqlite::Result<AppendResult> {
    let (seq, body, submitted_len): (i64, String, i64) = transaction
        .prepare_cached("SELECT seq, body, submitted_len, codec FROM events WHERE event_id = ?1")?
        .query_row([&entry.event_id], |row| {
            let body = codecs.decode_text(transaction, row.get(3)?, row.get_ref(1)?, 1)?;
            Ok((row.get(0)?, body, row.get(2)?))
        })?;
    Ok(duplicate_or_conflict(
        &body,
        submitted_len as usize,
        seq as u64,
        entry,
    ))
}

/// `entry` offered again with an id stored at `seq` (its stored JSON and submitted length): the
/// same submitted content is a duplicate, different content a conflict.
pub(super) fn duplicate_or_conflict(
    stored_json: &str,
    stored_len: usize,
    seq: Seq,
    entry: &LogEntry,
) -> AppendResult {
    let stored = vigil_model::submitted_part(stored_json, stored_len);
    let offered = vigil_model::submitted_part(&entry.stored_json, entry.submitted_len);
    if stored == offered || same_json(&stored, &offered) {
        AppendResult::Duplicate(seq)
    } else {
        AppendResult::Conflict(seq)
    }
}

pub(super) fn same_json(left: &str, right: &str) -> bool {
    match (
        serde_json::from_str::<serde_json::Value>(left),
        serde_json::from_str::<serde_json::Value>(right),
    ) {
        (Ok(left), Ok(right)) => left == right,
        _ => false,
    }
}
