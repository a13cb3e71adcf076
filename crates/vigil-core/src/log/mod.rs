//! The event log: the only source of truth. Append-only, durable before acknowledgement,
//! idempotent by event id, gap-free sequence numbers, hash-chained. SQLite in WAL mode with
//! `synchronous=FULL`; one writer thread group-commits concurrent appends into one fsync. Bodies
//! are stored compressed (see `codec`) once the compactor has trained a dictionary.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::thread::JoinHandle;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use tokio::sync::oneshot;

use crate::chain::{ChainHash, GENESIS, body_digest, chain_hash, link_digest};
use crate::error::LogError;
use crate::store::{Lite, Sql, StoreError};

mod codec;
mod compaction;
mod migrations;
mod pg;
mod read;
mod writer;

pub use codec::Codecs;
pub use compaction::CompactionOptions;
use migrations::migrate;
pub use read::{CompactionStatus, LogStats};
use writer::{
    CORRUPT, STORAGE_FULL, chain_head, check_pages, checkpoint_loop, is_damage, writer_loop,
};

/// The database file inside the data directory.
pub const DATABASE_FILE: &str = "vigil.db";
/// A group commit takes at most this many events (from several requests) into one transaction.
const GROUP_MAX_EVENTS: usize = 20_000;
/// Above this WAL size the writer checkpoints itself (blocking) instead of leaving it to the
/// checkpointer, so that the WAL cannot grow without bound under sustained load.
const WAL_HARD_LIMIT_BYTES: u64 = 256 * 1024 * 1024;
/// Page cache of the writer, in KiB: the id index is written at random places and must stay cached.
const WRITER_CACHE_KIB: i64 = 256 * 1024;
/// Page cache of each reader, in KiB.
const READER_CACHE_KIB: i64 = 16 * 1024;
/// Bytes of the database file mapped into memory for reads (fewer syscalls than read(2)).
const MMAP_BYTES: i64 = 4 * 1024 * 1024 * 1024;
/// How long a connection waits for another process's write lock before failing.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A sequence number: the position of an event in the log, from 1, without gaps.
pub type Seq = u64;

/// One event to append.
#[derive(Debug, Clone)]
pub struct LogEntry {
    /// The event id (unique in the log).
    pub event_id: String,
    /// The JSON to store.
    pub stored_json: String,
    /// Length of the part of `stored_json` that was submitted (see `vigil_model::submitted_part`).
    pub submitted_len: usize,
    /// `eventTimestamp` in microseconds since the epoch.
    pub event_time_micros: i64,
    /// `receivedTimestamp` in microseconds since the epoch.
    pub received_time_micros: i64,
    /// Who submitted the event (see [`Submitter`]); `None` only where no one can be named.
    pub submitter: Option<Submitter>,
    /// `sha256(stored_json)`, computed by [`LogEntry::new`] before the entry reaches the writer.
    body_digest: ChainHash,
    /// The body as stored when compressed: its codec and bytes (set at submission).
    encoded: Option<(i64, Vec<u8>)>,
}

/// Who submitted an event, recorded beside it and covered by the chain (it is not part of the
/// stored JSON, which stays as sent). `vigil` marks the events vigil records about itself and can
/// be made only inside this crate, so no caller can store an event that passes for vigil's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitter(String);

impl Submitter {
    /// The mark of vigil's own events.
    pub(crate) const VIGIL: &'static str = "vigil";

    pub(crate) fn vigil() -> Submitter {
        Submitter(Self::VIGIL.to_owned())
    }

    /// An API key, by its id: `key:<id>`.
    pub fn api_key(key_id: &str) -> Submitter {
        Submitter(format!("key:{key_id}"))
    }

    /// A person signed in through OpenID Connect, by their id: `person:<id>`.
    pub fn person(person_id: &str) -> Submitter {
        Submitter(format!("person:{person_id}"))
    }

    /// `vigil import` run by a local user: `cli:<user>`.
    pub fn cli(user: &str) -> Submitter {
        Submitter(format!("cli:{user}"))
    }

    /// A pull integration of vigil's, by its id: `integration:<id>`.
    pub fn integration(integration_id: &str) -> Submitter {
        Submitter(format!("integration:{integration_id}"))
    }

    /// The seed's example events loaded by `vigil serve --demo`.
    pub fn demo() -> Submitter {
        Submitter("demo".to_owned())
    }

    /// The recorded text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl LogEntry {
    /// An entry; hashes its JSON (call this where the work can run in parallel).
    pub fn new(
        event_id: String,
        stored_json: String,
        submitted_len: usize,
        event_time_micros: i64,
        received_time_micros: i64,
    ) -> LogEntry {
        let body_digest = body_digest(stored_json.as_bytes());
        LogEntry {
            event_id,
            stored_json,
            submitted_len,
            event_time_micros,
            received_time_micros,
            submitter: None,
            body_digest,
            encoded: None,
        }
    }

    /// The same entry, recorded as submitted by `submitter`.
    pub fn submitted_by(mut self, submitter: Submitter) -> LogEntry {
        self.submitter = Some(submitter);
        self
    }

    /// The digest the chain links for this entry.
    fn link_digest(&self) -> ChainHash {
        link_digest(
            &self.body_digest,
            self.submitter.as_ref().map(Submitter::as_str),
        )
    }
}

/// What happened to one appended event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendResult {
    /// Stored now, at this sequence number.
    Stored(Seq),
    /// The same event was stored before, at this sequence number; nothing was stored now.
    Duplicate(Seq),
    /// Another event with the same id but different content is stored at this sequence number;
    /// nothing was stored now.
    Conflict(Seq),
}

/// An extra write run in the same transaction as an append (e.g. creating an API key together
/// with its `ApiKeyCreated` event), so both are stored or neither.
/// Written in portable SQL, so it runs on either backend.
pub type SideWrite = Box<dyn FnOnce(&mut dyn Sql) -> Result<(), StoreError> + Send>;

struct WriteJob {
    entries: Vec<LogEntry>,
    side_write: Option<SideWrite>,
    reply: oneshot::Sender<Result<Vec<AppendResult>, String>>,
}

/// A stored event.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// Sequence number.
    pub seq: Seq,
    /// Event id.
    pub event_id: String,
    /// The stored JSON.
    pub json: String,
    /// Chain hash after this event.
    pub chain_hash: ChainHash,
    /// Who submitted it (`vigil`, `key:<id>`, `cli:<user>`, `integration:<id>`, `demo`); `None`
    /// for events stored before submitters were recorded.
    pub submitter: Option<String>,
}

/// The last committed sequence number, with a condition to wait for a newer one.
#[derive(Default)]
struct CommitSignal {
    last_seq: Mutex<Seq>,
    changed: Condvar,
    /// Set when the log's head went back below what this process committed: events were removed
    /// behind its back. Appends are refused from then on.
    alarm: Mutex<Option<String>>,
    /// Set while appends fail because the disk is full; cleared by the next commit.
    storage_full: std::sync::atomic::AtomicBool,
}

impl CommitSignal {
    fn published(&self) -> Seq {
        *self.last_seq.lock().expect("commit signal lock")
    }

    fn alarm(&self) -> Option<String> {
        self.alarm.lock().expect("alarm lock").clone()
    }

    /// A page of the database is damaged: appends are refused from now on. Returns the alarm.
    fn raise_corruption_alarm(&self, problem: &str) -> String {
        let alarm = format!(
            "integrity alarm: the log's database {CORRUPT}: {problem}; appends are refused (run vigil verify to see which sequence numbers cannot be read, then restore the data directory from a backup or the export)"
        );
        tracing::error!("{alarm}");
        self.alarm
            .lock()
            .expect("alarm lock")
            .get_or_insert(alarm)
            .clone()
    }

    fn publish(&self, seq: Seq) {
        let mut last = self.last_seq.lock().expect("commit signal lock");
        if seq > *last {
            *last = seq;
            self.changed.notify_all();
        }
    }
}

/// The event log: of one data directory (SQLite, the embedded default) or shared by every node
/// of a cluster (PostgreSQL).
pub struct EventLog {
    commits: Arc<CommitSignal>,
    codecs: Arc<Codecs>,
    sender: Mutex<Option<mpsc::Sender<WriteJob>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    compactor: compaction::Handle,
    backend: Backend,
}

/// Where the log is stored, with what only that backend has.
enum Backend {
    Sqlite {
        path: PathBuf,
        readers: Mutex<Vec<Connection>>,
    },
    Postgres(pg::PgLog),
}

impl EventLog {
    /// Opens (creating if needed) the log in `data_dir` and starts its writer and compactor.
    pub fn open(data_dir: &Path) -> Result<EventLog, LogError> {
        EventLog::open_with(data_dir, CompactionOptions::default())
    }

    /// [`EventLog::open`] with the compactor's settings.
    pub fn open_with(data_dir: &Path, compaction: CompactionOptions) -> Result<EventLog, LogError> {
        std::fs::create_dir_all(data_dir).map_err(|source| LogError::DataDir {
            path: data_dir.to_owned(),
            source,
        })?;
        let path = data_dir.join(DATABASE_FILE);
        let connection = open_connection(&path, false)?;
        migrate(&connection)?;
        let codecs = Arc::new(Codecs::load(&connection)?);
        // Checkpoints run on their own thread, off the acknowledgement path.
        connection.pragma_update(None, "wal_autocheckpoint", 0)?;
        let checkpoint_connection = open_connection(&path, false)?;
        let (checkpoint_sender, checkpoint_receiver) = mpsc::sync_channel::<()>(1);
        let checkpointer = std::thread::Builder::new()
            .name("vigil-log-checkpointer".into())
            .spawn(move || checkpoint_loop(checkpoint_connection, checkpoint_receiver))
            .map_err(|source| LogError::DataDir {
                path: data_dir.to_owned(),
                source,
            })?;
        let commits = Arc::new(CommitSignal::default());
        commits.publish(chain_head(&connection)?.0);
        let writer_commits = commits.clone();
        let writer_codecs = codecs.clone();
        let (sender, receiver) = mpsc::channel();
        let wal_path = wal_path(&path);
        let writer = std::thread::Builder::new()
            .name("vigil-log-writer".into())
            .spawn(move || {
                let connection = writer_loop(
                    connection,
                    receiver,
                    checkpoint_sender,
                    &wal_path,
                    &writer_commits,
                    &writer_codecs,
                );
                // The checkpointer stops once its sender is gone; only then can the final
                // checkpoint take the whole WAL.
                let _ = checkpointer.join();
                // A clean stop leaves everything in the database file itself.
                if let Err(error) = connection.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);") {
                    tracing::warn!(%error, "could not checkpoint the write-ahead log at shutdown");
                }
            })
            .map_err(|source| LogError::DataDir {
                path: data_dir.to_owned(),
                source,
            })?;
        let compactor = compaction::start(
            compaction,
            compaction::Shared {
                source: compaction::Source::Sqlite(path.clone()),
                commits: commits.clone(),
                codecs: codecs.clone(),
                sender: sender.clone(),
            },
        )
        .map_err(|source| LogError::DataDir {
            path: data_dir.to_owned(),
            source,
        })?;
        Ok(EventLog {
            commits,
            codecs,
            sender: Mutex::new(Some(sender)),
            writer: Mutex::new(Some(writer)),
            compactor,
            backend: Backend::Sqlite {
                path,
                readers: Mutex::new(Vec::new()),
            },
        })
    }

    /// Opens the log shared by a cluster in the PostgreSQL database at `url` (migrating its
    /// schema first) and starts this node's writer and listener.
    pub fn open_postgres(url: &crate::store::DatabaseUrl) -> Result<EventLog, LogError> {
        EventLog::open_postgres_with(url, CompactionOptions::default())
    }

    /// [`EventLog::open_postgres`] with the compactor's settings.
    pub fn open_postgres_with(
        url: &crate::store::DatabaseUrl,
        compaction: CompactionOptions,
    ) -> Result<EventLog, LogError> {
        let crate::store::DatabaseUrl::Postgres(url) = url;
        let (codecs, head) = pg::open(url)?;
        let codecs = Arc::new(codecs);
        let commits = Arc::new(CommitSignal::default());
        commits.publish(head);
        let (sender, receiver) = mpsc::channel();
        let writer_commits = commits.clone();
        let writer_codecs = codecs.clone();
        let writer_url = url.clone();
        let writer = std::thread::Builder::new()
            .name("vigil-log-writer".into())
            .spawn(move || {
                pg::writer_loop(&writer_url, receiver, &writer_commits, &writer_codecs);
            })
            .map_err(|error| LogError::Backend(format!("cannot start the writer: {error}")))?;
        let backend = pg::PgLog::start(url, commits.clone(), codecs.clone())?;
        // Every node runs a compactor; one at a time works (an advisory lock), the others wait
        // to take over.
        let compactor = compaction::start(
            compaction,
            compaction::Shared {
                source: compaction::Source::Postgres(url.clone()),
                commits: commits.clone(),
                codecs: codecs.clone(),
                sender: sender.clone(),
            },
        )
        .map_err(|error| LogError::Backend(format!("cannot start the compactor: {error}")))?;
        Ok(EventLog {
            commits,
            codecs,
            sender: Mutex::new(Some(sender)),
            writer: Mutex::new(Some(writer)),
            compactor,
            backend: Backend::Postgres(backend),
        })
    }

    /// The database file, for the embedded log; `None` for a shared one.
    pub fn path(&self) -> Option<&Path> {
        match &self.backend {
            Backend::Sqlite { path, .. } => Some(path),
            Backend::Postgres(_) => None,
        }
    }

    /// The shared database's URL (password masked), for a log on PostgreSQL.
    pub fn database(&self) -> Option<String> {
        match &self.backend {
            Backend::Sqlite { .. } => None,
            Backend::Postgres(log) => Some(crate::store::redact(&log.url)),
        }
    }

    /// Appends events; returns once they are durable (fsync'd), with one result per entry.
    /// Either every entry's outcome holds or the call fails and nothing was stored.
    pub async fn append(&self, entries: Vec<LogEntry>) -> Result<Vec<AppendResult>, LogError> {
        self.append_with(entries, None).await
    }

    /// Like [`EventLog::append`], also running `side_write` in the same transaction.
    pub async fn append_with(
        &self,
        entries: Vec<LogEntry>,
        side_write: Option<SideWrite>,
    ) -> Result<Vec<AppendResult>, LogError> {
        let receiver = self.submit(entries, side_write)?;
        match receiver.await {
            Ok(Ok(results)) => Ok(results),
            Ok(Err(message)) => Err(self.append_error(message)),
            Err(_) => Err(LogError::Closed),
        }
    }

    /// [`EventLog::append_with`] for code outside an async runtime (the CLI).
    pub fn append_blocking(
        &self,
        entries: Vec<LogEntry>,
        side_write: Option<SideWrite>,
    ) -> Result<Vec<AppendResult>, LogError> {
        let receiver = self.submit(entries, side_write)?;
        match receiver.blocking_recv() {
            Ok(Ok(results)) => Ok(results),
            Ok(Err(message)) => Err(self.append_error(message)),
            Err(_) => Err(LogError::Closed),
        }
    }

    fn submit(
        &self,
        mut entries: Vec<LogEntry>,
        side_write: Option<SideWrite>,
    ) -> Result<oneshot::Receiver<Result<Vec<AppendResult>, String>>, LogError> {
        if let Some(alarm) = self.commits.alarm() {
            return Err(LogError::IntegrityAlarm(alarm));
        }
        // Compressed here, on the caller's thread, so the writer's transaction stays short.
        for entry in &mut entries {
            entry.encoded = self.codecs.encode(entry.stored_json.as_bytes());
        }
        let (reply, receiver) = oneshot::channel();
        let sender = self
            .sender
            .lock()
            .expect("sender lock")
            .clone()
            .ok_or(LogError::Closed)?;
        sender
            .send(WriteJob {
                entries,
                side_write,
                reply,
            })
            .map_err(|_| LogError::Closed)?;
        Ok(receiver)
    }

    /// The error of a failed append: the integrity alarm or a full disk when that is why.
    fn append_error(&self, message: String) -> LogError {
        match self.commits.alarm() {
            Some(alarm) if alarm == message => LogError::IntegrityAlarm(message),
            _ if message.starts_with(STORAGE_FULL) => LogError::StorageFull(message),
            _ if message.starts_with(pg::UNREACHABLE) => LogError::Unavailable(
                message[pg::UNREACHABLE.len()..]
                    .trim_start_matches(": ")
                    .to_owned(),
            ),
            _ => LogError::Append(message),
        }
    }

    /// Whether the last append failed because the disk is full (until one succeeds again).
    pub fn storage_full(&self) -> bool {
        self.commits.storage_full.load(Ordering::SeqCst)
    }

    /// Why appends are refused, when the log's head went back below what this process had
    /// committed (events removed behind its back).
    pub fn integrity_alarm(&self) -> Option<String> {
        self.commits.alarm()
    }

    /// Reads every page of the database (`PRAGMA quick_check`) on a thread of its own, so a
    /// large log does not delay the start. A damaged page raises the integrity alarm: appends are
    /// refused and `/readyz` says why, until the log is restored. Returns the thread.
    /// A shared log has no pages of its own to read: PostgreSQL checks its own (data checksums),
    /// and `None` is returned.
    pub fn check_pages_in_background(&self) -> std::io::Result<Option<JoinHandle<()>>> {
        let Backend::Sqlite { path, .. } = &self.backend else {
            return Ok(None);
        };
        let path = path.clone();
        let commits = self.commits.clone();
        std::thread::Builder::new()
            .name("vigil-log-check".into())
            .spawn(move || {
                let started = std::time::Instant::now();
                let problem = match check_pages(&path) {
                    Ok(None) => {
                        let seconds = started.elapsed().as_secs_f64();
                        tracing::info!(seconds, "the log's pages are intact");
                        return;
                    }
                    Ok(Some(problem)) => problem,
                    Err(LogError::Database(error)) if is_damage(&error) => error.to_string(),
                    Err(error) => {
                        tracing::warn!(%error, "could not check the log's pages");
                        return;
                    }
                };
                commits.raise_corruption_alarm(&problem);
            })
            .map(Some)
    }

    /// Runs `read` on a pooled read-only connection of the embedded database. Blocking: call
    /// from a blocking context. The stores not yet moved behind the portable seam use it; on a
    /// shared log it fails with [`LogError::Backend`].
    pub fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, LogError> {
        let Backend::Sqlite { path, readers, .. } = &self.backend else {
            return Err(LogError::Backend(
                "this store is kept in the embedded database only, so far".into(),
            ));
        };
        let pooled = readers.lock().expect("reader pool lock").pop();
        let connection = match pooled {
            Some(connection) => connection,
            None => open_connection(path, true)?,
        };
        let result = read(&connection);
        readers.lock().expect("reader pool lock").push(connection);
        Ok(result?)
    }

    /// Runs `read`, in portable SQL, on a pooled connection of whichever backend holds the log.
    /// Blocking: call from a blocking context (never holds an async worker on PostgreSQL: the
    /// statements run on a connection thread of their own, answered within a bound).
    pub fn query<T: Send + 'static>(
        &self,
        read: impl FnOnce(&mut dyn Sql) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, LogError> {
        match &self.backend {
            Backend::Sqlite { path, readers, .. } => {
                let pooled = readers.lock().expect("reader pool lock").pop();
                let connection = match pooled {
                    Some(connection) => connection,
                    None => open_connection(path, true)?,
                };
                let result = read(&mut Lite(&connection));
                readers.lock().expect("reader pool lock").push(connection);
                Ok(result?)
            }
            Backend::Postgres(log) => Ok(log
                .pool
                .run(move |client| read(&mut crate::store::postgres::Pg(client)))?),
        }
    }

    /// Whether the log is shared by a cluster (PostgreSQL) rather than embedded.
    pub fn is_shared(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// The last sequence number committed by this process's writer (or found at open).
    pub fn last_committed_seq(&self) -> Seq {
        *self.commits.last_seq.lock().expect("commit signal lock")
    }

    /// Waits until this process commits past `seq`, or `timeout` passes; returns the last
    /// committed sequence number. (Appends by other processes are seen by reading, not here.)
    pub fn wait_for_commit_after(&self, seq: Seq, timeout: std::time::Duration) -> Seq {
        let last = self.commits.last_seq.lock().expect("commit signal lock");
        let (last, _) = self
            .commits
            .changed
            .wait_timeout_while(last, timeout, |last| *last <= seq)
            .expect("commit signal lock");
        *last
    }

    /// Stops the compactor, then the writer after it has finished every job already submitted.
    /// Appends after this fail.
    pub fn shutdown(&self) {
        self.compactor.stop();
        if let Backend::Sqlite { readers, .. } = &self.backend {
            readers.lock().expect("reader pool lock").clear();
        }
        self.sender.lock().expect("sender lock").take();
        if let Some(writer) = self.writer.lock().expect("writer lock").take() {
            let _ = writer.join();
        }
        if let Backend::Postgres(log) = &self.backend {
            log.shutdown();
        }
    }
}

impl Drop for EventLog {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Opens a connection with the log's settings.
pub(crate) fn open_connection(path: &Path, read_only: bool) -> Result<Connection, LogError> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let connection = Connection::open_with_flags(path, flags)?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    if !read_only {
        connection.pragma_update(None, "journal_mode", "WAL")?;
    }
    // FULL: a commit is on disk (WAL fsync'd) before it returns, so an acknowledged event survives
    // a crash or power loss.
    connection.pragma_update(None, "synchronous", "FULL")?;
    let cache_kib = if read_only {
        READER_CACHE_KIB
    } else {
        WRITER_CACHE_KIB
    };
    connection.pragma_update(None, "cache_size", -cache_kib)?;
    connection.pragma_update(None, "mmap_size", MMAP_BYTES)?;
    Ok(connection)
}

fn wal_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}
