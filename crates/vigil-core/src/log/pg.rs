//! The log on PostgreSQL, shared by every vigil node. Each node has one writer thread that
//! group-commits its pending appends, as the embedded log does; across nodes, every group commit
//! first locks the one row of `log_head`, so appends from all nodes form one gap-free sequence
//! and one hash chain, and an id stored by any node is a duplicate or a conflict on every other.
//! A commit notifies `vigil_log`; each node's listener (with a one-second poll as fallback) makes
//! events appended elsewhere visible to its derived views.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use ::postgres::{Client, GenericClient};

use super::*;
use crate::store::StoreError;
use crate::store::postgres::Pg;
use crate::store::postgres::{PgPool, classify, connect, migrate};

/// The channel every commit notifies, with the new head's sequence number as payload.
const CHANNEL: &str = "vigil_log";
/// How often a node reads the head when no notification came (a missed or lost LISTEN).
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How long the listener waits for a notification at a time (and so how long a shutdown waits).
const LISTEN_SLICE: Duration = Duration::from_millis(100);
/// Connections for reads.
const READ_CONNECTIONS: usize = 4;
/// How long an append waits for another node's group commit to release the head.
const LOCK_TIMEOUT: &str = "20s";
/// How a failed append says that the database could not be reached.
pub(super) const UNREACHABLE: &str = "the database is unreachable";

/// What the PostgreSQL log holds beside what every backend shares.
pub(super) struct PgLog {
    pub(super) url: String,
    pub(super) pool: PgPool,
    listener_stop: Arc<AtomicBool>,
    listener: Mutex<Option<JoinHandle<()>>>,
}

/// Connects, migrates the schema and reads the dictionaries and the head.
pub(super) fn open(url: &str) -> Result<(Codecs, Seq), LogError> {
    let mut client = connect(url, "vigil")?;
    migrate(&mut client)?;
    let dictionaries = client
        .query("SELECT id, bytes FROM body_dictionaries", &[])
        .map_err(|error| classify(&error))?
        .iter()
        .map(|row| (row.get::<_, i64>(0), row.get::<_, Vec<u8>>(1)))
        .collect::<Vec<_>>();
    let head: i64 = client
        .query_one("SELECT seq FROM log_head WHERE id = 1", &[])
        .map_err(|error| classify(&error))?
        .get(0);
    Ok((Codecs::from_stored(dictionaries), head as Seq))
}

impl PgLog {
    /// The pool and the listener of a log opened with [`open`].
    pub(super) fn start(
        url: &str,
        commits: Arc<CommitSignal>,
        codecs: Arc<Codecs>,
    ) -> Result<PgLog, LogError> {
        let listener_stop = Arc::new(AtomicBool::new(false));
        let stop = listener_stop.clone();
        let listen_url = url.to_owned();
        let listener = std::thread::Builder::new()
            .name("vigil-pg-listen".into())
            .spawn(move || listen_loop(&listen_url, &commits, &codecs, &stop))
            .map_err(|error| LogError::Backend(format!("cannot start the listener: {error}")))?;
        Ok(PgLog {
            url: url.to_owned(),
            pool: PgPool::new(url, READ_CONNECTIONS),
            listener_stop,
            listener: Mutex::new(Some(listener)),
        })
    }

    /// Stops the listener and the pool.
    pub(super) fn shutdown(&self) {
        self.listener_stop.store(true, Ordering::SeqCst);
        if let Some(listener) = self.listener.lock().expect("listener lock").take() {
            let _ = listener.join();
        }
        self.pool.shutdown();
    }

    /// Stored events by a query whose columns are `read::SELECT_EVENT`'s.
    pub(super) fn events(
        &self,
        codecs: &Arc<Codecs>,
        sql: &'static str,
        params: Vec<crate::store::Value>,
    ) -> Result<Vec<StoredEvent>, LogError> {
        let codecs = codecs.clone();
        Ok(self.pool.run(move |client| {
            let sql = crate::store::postgres::placeholders(sql);
            let values: Vec<&(dyn ::postgres::types::ToSql + Sync)> = params
                .iter()
                .map(|value| value as &(dyn ::postgres::types::ToSql + Sync))
                .collect();
            let rows = client
                .query(sql.as_str(), &values)
                .map_err(|error| classify(&error))?;
            rows.iter()
                .map(|row| stored_event(client, &codecs, row))
                .collect()
        })?)
    }

    /// A query answering one integer.
    pub(super) fn integer(&self, sql: &'static str) -> Result<i64, LogError> {
        Ok(self.pool.run(move |client| {
            client
                .query_one(sql, &[])
                .and_then(|row| row.try_get::<_, i64>(0))
                .map_err(|error| classify(&error))
        })?)
    }
}

/// One row of `read::SELECT_EVENT`'s columns, its body decoded.
pub(super) fn stored_event(
    client: &mut impl GenericClient,
    codecs: &Codecs,
    row: &::postgres::Row,
) -> Result<StoredEvent, StoreError> {
    let seq: i64 = row.get(0);
    let body: Vec<u8> = row.get(2);
    let hash: Vec<u8> = row.get(3);
    let json = decode(client, codecs, row.get(5), &body)
        .and_then(|bytes| String::from_utf8(bytes).map_err(|error| error.to_string()))
        .map_err(|problem| {
            StoreError::Postgres(format!("the body at sequence number {seq}: {problem}"))
        })?;
    Ok(StoredEvent {
        seq: seq as Seq,
        event_id: row.get(1),
        json,
        chain_hash: hash.try_into().unwrap_or([0; 32]),
        submitter: row.get(4),
    })
}

/// A stored body as its JSON, reading a dictionary another node stored when first met.
pub(super) fn decode(
    client: &mut impl GenericClient,
    codecs: &Codecs,
    codec: i64,
    body: &[u8],
) -> Result<Vec<u8>, String> {
    codecs.decode_bytes(codec, body, &mut |id| {
        client
            .query_opt("SELECT bytes FROM body_dictionaries WHERE id = $1", &[&id])
            .map(|row| row.map(|row| row.get::<_, Vec<u8>>(0)))
            .map_err(|error| format!("dictionary {id} cannot be read: {error}"))
    })
}

/// The writer thread: one group commit per turn, on a connection opened again whenever it was
/// lost. While the database is unreachable, every append is answered at once with
/// [`UNREACHABLE`]; nothing waits longer than the connect timeout.
pub(super) fn writer_loop(
    url: &str,
    receiver: mpsc::Receiver<WriteJob>,
    commits: &CommitSignal,
    codecs: &Codecs,
) {
    let mut client: Option<Client> = None;
    while let Ok(first) = receiver.recv() {
        let jobs = writer::gather(first, &receiver);
        if client.as_ref().is_some_and(Client::is_closed) {
            client = None;
        }
        if client.is_none() {
            match writer_connection(url) {
                Ok(opened) => client = Some(opened),
                Err(error) => {
                    tracing::warn!(%error, "appends refused: the database is unreachable");
                    for job in jobs {
                        let _ = job.reply.send(Err(format!("{UNREACHABLE}: {error}")));
                    }
                    continue;
                }
            }
        }
        let connection = client.as_mut().expect("connected above");
        if let Err(StoreError::Unreachable(_)) = commit_group(connection, jobs, commits, codecs) {
            client = None;
        }
    }
}

fn writer_connection(url: &str) -> Result<Client, StoreError> {
    let mut client = connect(url, "vigil-writer")?;
    client
        .batch_execute(&format!("SET lock_timeout = '{LOCK_TIMEOUT}'"))
        .map_err(|error| classify(&error))?;
    Ok(client)
}

/// Appends every job of a group in one transaction that holds the head's lock, then answers.
/// A job with a side write runs in a savepoint of its own, so that its failure leaves the
/// group's other jobs intact.
fn commit_group(
    client: &mut Client,
    jobs: Vec<WriteJob>,
    commits: &CommitSignal,
    codecs: &Codecs,
) -> Result<Seq, StoreError> {
    let started = std::time::Instant::now();
    let event_count: usize = jobs.iter().map(|job| job.entries.len()).sum();
    let mut pending = jobs;
    let mut job_results: Vec<Result<Vec<AppendResult>, String>> = Vec::with_capacity(pending.len());
    let outcome = (|| -> Result<Seq, StoreError> {
        let mut transaction = client.transaction().map_err(|error| classify(&error))?;
        let head = transaction
            .query_one(
                "SELECT seq, chain_hash FROM log_head WHERE id = 1 FOR UPDATE",
                &[],
            )
            .map_err(|error| classify(&error))?;
        let mut last_seq = head.get::<_, i64>(0) as Seq;
        let mut last_hash: ChainHash = head.get::<_, Vec<u8>>(1).try_into().unwrap_or(GENESIS);
        let published = commits.published();
        if last_seq < published {
            let alarm = format!(
                "integrity alarm: the log's newest sequence number went back from {published} to {last_seq}: events were removed behind vigil's back (or the database was restored from an older backup); appends are refused (run vigil verify, then restart vigil)"
            );
            tracing::error!(published, found = last_seq, "{alarm}");
            *commits.alarm.lock().expect("alarm lock") = Some(alarm.clone());
            return Err(StoreError::Postgres(alarm));
        }
        let first_seq = last_seq;
        for job in &mut pending {
            let entries = std::mem::take(&mut job.entries);
            let Some(side_write) = job.side_write.take() else {
                let results = append_job(
                    &mut transaction,
                    codecs,
                    entries,
                    &mut last_seq,
                    &mut last_hash,
                )?;
                job_results.push(Ok(results));
                continue;
            };
            // A side write and its events stand or fall together, without the group's others.
            let saved = (last_seq, last_hash);
            let mut savepoint = transaction
                .savepoint("job")
                .map_err(|error| classify(&error))?;
            let outcome = side_write(&mut Pg(&mut savepoint)).and_then(|()| {
                append_job(
                    &mut savepoint,
                    codecs,
                    entries,
                    &mut last_seq,
                    &mut last_hash,
                )
            });
            match outcome {
                Ok(results) => {
                    savepoint.commit().map_err(|error| classify(&error))?;
                    job_results.push(Ok(results));
                }
                Err(error @ StoreError::Unreachable(_)) => return Err(error),
                Err(error) => {
                    savepoint.rollback().map_err(|error| classify(&error))?;
                    (last_seq, last_hash) = saved;
                    tracing::error!(%error, "append failed; the request stored nothing");
                    job_results.push(Err(error.to_string()));
                }
            }
        }
        if last_seq > first_seq {
            transaction
                .execute(
                    "UPDATE log_head SET seq = $1, chain_hash = $2 WHERE id = 1",
                    &[&(last_seq as i64), &&last_hash[..]],
                )
                .map_err(|error| classify(&error))?;
            transaction
                .execute(
                    "SELECT pg_notify($1, $2)",
                    &[&CHANNEL, &last_seq.to_string()],
                )
                .map_err(|error| classify(&error))?;
        }
        transaction.commit().map_err(|error| classify(&error))?;
        Ok(last_seq)
    })();
    tracing::debug!(
        events = event_count,
        micros = started.elapsed().as_micros() as u64,
        "group commit (PostgreSQL)"
    );
    match &outcome {
        Ok(seq) => {
            commits.publish(*seq);
            for (job, results) in pending.into_iter().zip(job_results) {
                let _ = job.reply.send(results);
            }
        }
        Err(error) => {
            tracing::error!(%error, "group commit failed; no event of the group was stored");
            let text = match error {
                StoreError::Unreachable(cause) => format!("{UNREACHABLE}: {cause}"),
                StoreError::Postgres(text) => text.clone(),
                other => other.to_string(),
            };
            for job in pending {
                let _ = job.reply.send(Err(text.clone()));
            }
        }
    }
    outcome
}

/// What an id offered in this group is already known as.
enum Known {
    /// Stored before: its sequence number, stored JSON and submitted length.
    Stored(Seq, String, usize),
    /// Stored by an earlier entry of this group, at this sequence number.
    Earlier(Seq, usize),
}

/// Appends one job's entries: the ids already stored are looked up in one query (exact, since
/// the head's lock keeps every other appender out), the new ones inserted in one statement.
fn append_job(
    transaction: &mut ::postgres::Transaction<'_>,
    codecs: &Codecs,
    entries: Vec<LogEntry>,
    last_seq: &mut Seq,
    last_hash: &mut ChainHash,
) -> Result<Vec<AppendResult>, StoreError> {
    let ids: Vec<&str> = entries
        .iter()
        .map(|entry| entry.event_id.as_str())
        .collect();
    let rows = transaction
        .query(
            "SELECT event_id, seq, body, submitted_len, codec FROM events WHERE event_id = ANY($1)",
            &[&ids],
        )
        .map_err(|error| classify(&error))?;
    let mut known: HashMap<String, Known> = HashMap::with_capacity(rows.len());
    for row in &rows {
        let seq = row.get::<_, i64>(1) as Seq;
        let body: Vec<u8> = row.get(2);
        let json = decode(transaction, codecs, row.get(4), &body)
            .and_then(|bytes| String::from_utf8(bytes).map_err(|error| error.to_string()))
            .map_err(|problem| {
                StoreError::Postgres(format!("the body at sequence number {seq}: {problem}"))
            })?;
        let length = row.get::<_, i64>(3) as usize;
        known.insert(row.get(0), Known::Stored(seq, json, length));
    }
    let mut columns = Columns::default();
    let mut results = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        match known.get(&entry.event_id) {
            Some(Known::Stored(seq, json, length)) => {
                results.push(writer::duplicate_or_conflict(json, *length, *seq, entry));
            }
            Some(Known::Earlier(seq, earlier)) => {
                let earlier = &entries[*earlier];
                results.push(writer::duplicate_or_conflict(
                    &earlier.stored_json,
                    earlier.submitted_len,
                    *seq,
                    entry,
                ));
            }
            None => {
                let seq = *last_seq + 1;
                let hash = chain_hash(last_hash, seq, &entry.link_digest());
                columns.push(seq, entry, &hash);
                *last_seq = seq;
                *last_hash = hash;
                known.insert(entry.event_id.clone(), Known::Earlier(seq, index));
                results.push(AppendResult::Stored(seq));
            }
        }
    }
    if !columns.seq.is_empty() {
        transaction
            .execute(
                "INSERT INTO events (seq, event_id, event_time, received_time, submitted_len, body, chain_hash, submitter, codec)
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bytea[], $7::bytea[], $8::text[], $9::bigint[])",
                &[
                    &columns.seq,
                    &columns.event_id,
                    &columns.event_time,
                    &columns.received_time,
                    &columns.submitted_len,
                    &columns.body,
                    &columns.chain_hash,
                    &columns.submitter,
                    &columns.codec,
                ],
            )
            .map_err(|error| classify(&error))?;
    }
    Ok(results)
}

/// The new rows of one job, column by column, for one `unnest` insert.
#[derive(Default)]
struct Columns<'a> {
    seq: Vec<i64>,
    event_id: Vec<&'a str>,
    event_time: Vec<i64>,
    received_time: Vec<i64>,
    submitted_len: Vec<i64>,
    body: Vec<&'a [u8]>,
    chain_hash: Vec<Vec<u8>>,
    submitter: Vec<Option<&'a str>>,
    codec: Vec<i64>,
}

impl<'a> Columns<'a> {
    fn push(&mut self, seq: Seq, entry: &'a LogEntry, hash: &ChainHash) {
        let (codec, body) = match &entry.encoded {
            Some((codec, bytes)) => (*codec, bytes.as_slice()),
            None => (codec::PLAIN, entry.stored_json.as_bytes()),
        };
        self.seq.push(seq as i64);
        self.event_id.push(&entry.event_id);
        self.event_time.push(entry.event_time_micros);
        self.received_time.push(entry.received_time_micros);
        self.submitted_len.push(entry.submitted_len as i64);
        self.body.push(body);
        self.chain_hash.push(hash.to_vec());
        self.submitter
            .push(entry.submitter.as_ref().map(Submitter::as_str));
        self.codec.push(codec);
    }
}

/// Publishes the head committed by any node: on every notification, and every second without
/// one (notifications are lost while the listening connection is down). Installs a body
/// dictionary another node's compactor trained, so this node compresses with it too.
fn listen_loop(url: &str, commits: &CommitSignal, codecs: &Codecs, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        let mut client = match connect(url, "vigil-listen") {
            Ok(client) => client,
            Err(error) => {
                tracing::debug!(%error, "the log's listener cannot connect; trying again");
                std::thread::sleep(POLL_INTERVAL);
                continue;
            }
        };
        if let Err(error) = client.batch_execute(&format!("LISTEN {CHANNEL}")) {
            tracing::debug!(%error, "LISTEN failed; trying again");
            std::thread::sleep(POLL_INTERVAL);
            continue;
        }
        let mut heard = true;
        let mut last_read = std::time::Instant::now();
        while !stop.load(Ordering::SeqCst) {
            if heard || last_read.elapsed() >= POLL_INTERVAL {
                match client
                    .query_one(
                        "SELECT seq, (SELECT coalesce(max(id), 0) FROM body_dictionaries) FROM log_head WHERE id = 1",
                        &[],
                    )
                    .and_then(|row| Ok((row.try_get::<_, i64>(0)?, row.try_get::<_, i64>(1)?)))
                {
                    Ok((seq, dictionary)) => {
                        if dictionary > codecs.current_id().unwrap_or(0) {
                            install_dictionary(&mut client, codecs, dictionary);
                        }
                        commits.publish(seq as Seq)
                    }
                    Err(error) => {
                        tracing::debug!(%error, "the log's listener lost its connection");
                        break;
                    }
                }
                last_read = std::time::Instant::now();
            }
            // Short waits, so a shutdown is not held up; every notification already delivered is
            // taken at once (the head read next covers them all).
            let mut notifications = client.notifications();
            let mut waiting = notifications.timeout_iter(LISTEN_SLICE);
            match ::postgres::fallible_iterator::FallibleIterator::next(&mut waiting) {
                Ok(first) => heard = first.is_some(),
                Err(error) => {
                    tracing::debug!(%error, "the log's listener lost its connection");
                    break;
                }
            }
            drop(waiting);
            let mut pending = notifications.iter();
            while let Ok(Some(_)) =
                ::postgres::fallible_iterator::FallibleIterator::next(&mut pending)
            {}
        }
    }
}

/// Loads dictionary `id` from the database and makes it the one new bodies are compressed with.
fn install_dictionary(client: &mut Client, codecs: &Codecs, id: i64) {
    match client.query_opt("SELECT bytes FROM body_dictionaries WHERE id = $1", &[&id]) {
        Ok(Some(row)) => {
            if codecs.install(id, &row.get::<_, Vec<u8>>(0)) {
                tracing::info!(dictionary = id, "new bodies are stored compressed");
            }
        }
        Ok(None) => {}
        Err(error) => tracing::debug!(%error, "could not read a new body dictionary"),
    }
}
