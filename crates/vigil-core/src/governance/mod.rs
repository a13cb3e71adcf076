//! The governance projection and its reports: a view derived from the log, like the search index.
//! A projector thread tails the log by sequence number and keeps entity tables in
//! `governance.db` (users, groups, data sources, projects, purposes, subscriptions, tags,
//! policies, identifiers, and the access facts of query events); each batch and the checkpoint
//! commit together. A missing, outdated or corrupt projection is rebuilt from the log, also when
//! it is deleted while the server runs (reports answer "rebuilding" meanwhile); one found ahead of
//! the log, at start or later, raises an integrity alarm instead.

mod apply;
mod history;
pub mod reports;
mod schema;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::error::LogError;
use crate::log::{EventLog, Seq};
use crate::view::{
    Progress, Step, Unavailable, View, ViewHealth, ahead_of_log_alarm, check_not_ahead,
};

pub use reports::{
    CATALOG, Entity, EntityType, ReportError, ReportKind, ReportRequest, ReportTable, Scope,
};

/// The projection's database inside the data directory.
pub const DATABASE_FILE: &str = "governance.db";
/// Held (`flock`) by the process that maintains the projection.
const LOCK_FILE: &str = "governance.lock";
/// Events read from the log at a time.
const READ_BATCH: usize = 5_000;
/// The most events one transaction applies when the projection is behind…
const TRANSACTION_EVENTS: usize = 100_000;
/// …and the longest it runs, so that progress is committed and seen at least this often.
const TRANSACTION_TIME: Duration = Duration::from_secs(2);
/// How long the projector waits for new events before looking again (other processes' appends).
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How long the projector waits before retrying after an error.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// How often a rebuild reports its progress.
const PROGRESS_EVERY: u64 = 100_000;
/// How much of the projection a report connection maps into memory (address space, not RAM).
const READER_MMAP_BYTES: i64 = 16 << 30;
/// The view's name in messages.
const VIEW: &str = "governance projection";
/// How an operator rebuilds the projection on purpose.
const REBUILD: &str = "vigil reindex --projection";

/// Errors of the governance projection.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// SQLite failed on the projection.
    #[error("governance projection: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The log failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// Another process maintains the projection.
    #[error("the governance projection {0} is in use by a running vigil; stop it first")]
    InUse(PathBuf),
    /// A file of the projection could not be prepared.
    #[error("governance projection {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
}

impl crate::Classify for ProjectionError {
    fn kind(&self) -> crate::ErrorKind {
        match self {
            ProjectionError::Log(error) => crate::Classify::kind(error),
            ProjectionError::InUse(_) => crate::ErrorKind::Conflict,
            ProjectionError::Sqlite(_) | ProjectionError::File { .. } => crate::ErrorKind::Internal,
        }
    }
}

fn file_error(path: &Path) -> impl FnOnce(std::io::Error) -> ProjectionError + '_ {
    move |source| ProjectionError::File {
        path: path.to_owned(),
        source,
    }
}

/// The governance projection of a data directory, kept up to date by its projector thread.
pub struct Governance {
    path: PathBuf,
    log: Arc<EventLog>,
    progress: Progress,
    stop: AtomicBool,
    worker: Mutex<Option<JoinHandle<()>>>,
    /// Held while this process maintains the projection.
    _lock: File,
    /// Serving, rebuilding, or stopped by an integrity alarm.
    health: ViewHealth,
}

/// The identity of the projection's file, to notice it being deleted or replaced.
fn file_identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path)
        .ok()
        .map(|metadata| (metadata.dev(), metadata.ino()))
}

/// Takes the projection's lock, or says who holds it.
fn lock(data_dir: &Path) -> Result<File, ProjectionError> {
    let path = data_dir.join(LOCK_FILE);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(file_error(&path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(ProjectionError::InUse(path)),
        Err(std::fs::TryLockError::Error(error)) => Err(file_error(&path)(error)),
    }
}

fn remove_database(path: &Path) -> Result<(), ProjectionError> {
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(file_error(&file)(error)),
        }
    }
    Ok(())
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // A derived view: after a crash it resumes from its last durable checkpoint.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // The access tables take inserts all over their B-trees: pages are read through the map
    // instead of copied into the cache first.
    conn.pragma_update(None, "cache_size", -65_536)?;
    conn.pragma_update(None, "mmap_size", READER_MMAP_BYTES)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    // Applying events runs a hundred or so different statements: kept prepared, they are not
    // parsed again for every event (rusqlite keeps 16 by default).
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}

/// Prepared statements the projection's writer keeps.
const STATEMENT_CACHE: usize = 256;

fn meta(conn: &Connection, name: &str) -> rusqlite::Result<Option<i64>> {
    conn.query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| {
        r.get(0)
    })
    .optional()
}

/// Opens the projection's database if it is usable; otherwise creates it empty. Returns the
/// writer connection, the sequence number projected up to, and an integrity alarm when that is
/// past the end of the log.
fn open_or_create(
    path: &Path,
    log_last: Seq,
) -> Result<(Connection, Seq, Option<String>), ProjectionError> {
    if path.exists() {
        let usable = Connection::open(path).ok().and_then(|conn| {
            let version = meta(&conn, "schema").ok()??;
            let seq = meta(&conn, "seq").ok()?? as Seq;
            (version == schema::SCHEMA_VERSION).then_some((conn, seq))
        });
        if let Some((conn, seq)) = usable {
            configure(&conn)?;
            let alarm = (seq > log_last).then(|| ahead_of_log_alarm(VIEW, seq, log_last, REBUILD));
            return Ok((conn, seq, alarm));
        }
        tracing::warn!(path = %path.display(), "the governance projection is missing, outdated or corrupt; rebuilding it from the log");
        remove_database(path)?;
    }
    let conn = Connection::open(path)?;
    configure(&conn)?;
    conn.execute_batch(schema::TABLES)?;
    conn.execute(
        "INSERT INTO meta(name, value) VALUES ('schema', ?1), ('seq', 0)",
        [schema::SCHEMA_VERSION],
    )?;
    Ok((conn, 0, None))
}

/// Where the projection's history starts: the newest cutoff retention removed events before
/// (microseconds), if it ever did.
pub(crate) fn history_start(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    use rusqlite::OptionalExtension;
    conn.query_row(
        "SELECT value FROM meta WHERE name = 'history_start'",
        [],
        |row| row.get(0),
    )
    .optional()
}

/// Applies the next batch of events after `after`; returns the last sequence number applied, or
/// `None` when the log has nothing newer.
fn apply_batch(
    conn: &mut Connection,
    log: &EventLog,
    after: Seq,
) -> Result<Option<Seq>, ProjectionError> {
    let mut events = log.read_after(after, READ_BATCH)?;
    if events.is_empty() {
        return Ok(None);
    }
    // Far behind (a rebuild, a long stop), one transaction takes several reads: the pages the
    // inserts touch all over the access tables' B-trees are then written to the WAL once per
    // transaction instead of once per read.
    let started = Instant::now();
    let tx = conn.transaction()?;
    let mut last = after;
    let mut applied = 0;
    loop {
        for event in &events {
            if let Some(removal) = crate::retention::recorded_removal(event) {
                apply::forget_removed(&tx, &removal)?;
            }
            apply::apply(&tx, event.seq, &event.json)?;
            last = event.seq;
        }
        applied += events.len();
        if events.len() < READ_BATCH
            || applied >= TRANSACTION_EVENTS
            || started.elapsed() >= TRANSACTION_TIME
        {
            break;
        }
        events = log.read_after(last, READ_BATCH)?;
        if events.is_empty() {
            break;
        }
    }
    tx.execute(
        "UPDATE meta SET value = ?1 WHERE name = 'seq'",
        [last as i64],
    )?;
    tx.commit()?;
    Ok(Some(last))
}

impl Governance {
    /// Opens the projection of `data_dir` (rebuilding it when needed) and starts its projector.
    pub fn open(data_dir: &Path, log: Arc<EventLog>) -> Result<Arc<Governance>, ProjectionError> {
        let lock = lock(data_dir)?;
        let path = data_dir.join(DATABASE_FILE);
        let log_last = log.last_seq()?;
        let (mut conn, mut projected, alarm) = open_or_create(&path, log_last)?;
        let health = ViewHealth::serving(VIEW);
        match alarm {
            // Not projecting either: nothing is changed until an operator decides.
            Some(alarm) => health.raise_alarm(alarm),
            None if projected == 0 && log_last <= READ_BATCH as Seq => {
                // A new projection of a small log: filled before the server answers.
                projected = apply_batch(&mut conn, &log, 0)?.unwrap_or(0);
            }
            // A new projection for a log that has events: it answers once it has them all.
            None if projected == 0 => health.start_rebuild(log_last),
            None => {}
        }
        let governance = Arc::new(Governance {
            path,
            log,
            progress: Progress::new(projected),
            stop: AtomicBool::new(false),
            worker: Mutex::new(None),
            _lock: lock,
            health,
        });
        if governance.health.integrity_alarm().is_some() {
            return Ok(governance);
        }
        let worker = governance.clone();
        let handle = std::thread::Builder::new()
            .name("vigil-governance".into())
            .spawn(move || worker.project_until_stopped(conn))
            .map_err(file_error(data_dir))?;
        *governance.worker.lock().expect("worker lock") = Some(handle);
        Ok(governance)
    }

    /// Why the projection does not serve, when it was found ahead of the log.
    pub fn integrity_alarm(&self) -> Option<String> {
        self.health.integrity_alarm()
    }

    /// Whether reports can be answered now; if not, why (rebuilding, with progress; an alarm).
    pub fn availability(&self) -> Result<(), Unavailable> {
        self.health.check()
    }

    /// The projection's file was deleted or replaced: starts a new one, which the projector
    /// fills from the start of the log; reports say so until it has caught up.
    fn recreate(&self) -> Result<Connection, ProjectionError> {
        let target = self.log.last_seq()?;
        tracing::warn!(path = %self.path.display(), target, "the governance projection was deleted while vigil ran; rebuilding it from the log");
        self.health.start_rebuild(target);
        remove_database(&self.path)?;
        let (conn, _, _) = open_or_create(&self.path, target)?;
        self.progress.publish(0);
        Ok(conn)
    }

    /// When the projector has caught up: whether its file is still the one it writes and the log
    /// still holds what it applied. Returns a new connection when the file had to be recreated,
    /// and whether the projector must stop (an integrity alarm).
    fn check_in_place(
        &self,
        identity: &mut Option<(u64, u64)>,
        projected: Seq,
    ) -> Result<(Option<Connection>, bool), ProjectionError> {
        if check_not_ahead(&self.health, &self.log, projected, REBUILD)? {
            return Ok((None, true));
        }
        if file_identity(&self.path) == *identity {
            return Ok((None, false));
        }
        let conn = self.recreate()?;
        *identity = file_identity(&self.path);
        Ok((Some(conn), false))
    }

    fn project_until_stopped(&self, conn: Connection) {
        let mut projector = Projector {
            governance: self,
            conn,
            identity: file_identity(&self.path),
        };
        crate::view::follow(
            &mut projector,
            &crate::view::Following {
                log: &self.log,
                health: &self.health,
                progress: &self.progress,
                stop: &self.stop,
                poll: POLL_INTERVAL,
                retry_after: RETRY_AFTER,
                log_every: PROGRESS_EVERY,
            },
        );
    }

    /// The last sequence number the reports reflect.
    pub fn projected_seq(&self) -> Seq {
        self.progress.get()
    }

    /// Waits until everything up to `seq` is projected or `timeout` passes; true when it is.
    pub fn wait_until_projected(&self, seq: Seq, timeout: Duration) -> bool {
        self.progress.wait_until(seq, timeout)
    }

    /// A read-only connection for running reports, with the shared views (which show only
    /// registered users and data sources).
    pub fn reader(&self) -> Result<Connection, ProjectionError> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "cache_size", -65_536)?;
        // Reports read from the operating system's page cache directly: a fresh connection per
        // report would otherwise copy every page it reads into its own cache first.
        conn.pragma_update(None, "mmap_size", READER_MMAP_BYTES)?;
        conn.execute_batch(schema::VIEWS)?;
        Ok(conn)
    }

    /// The event log the projection derives from (reports read query texts from it).
    pub fn log(&self) -> &EventLog {
        &self.log
    }

    /// Stops the projector after its current batch.
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.worker.lock().expect("worker lock").take() {
            let _ = handle.join();
        }
    }
}

impl Drop for Governance {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// The projector: the governance projection as the shared follower drives it.
struct Projector<'a> {
    governance: &'a Governance,
    conn: Connection,
    /// The projection file's identity, to notice it was deleted or replaced.
    identity: Option<(u64, u64)>,
}

impl View for Projector<'_> {
    type Error = ProjectionError;

    fn step(&mut self, log: &EventLog) -> Result<Step, ProjectionError> {
        // Each batch commits: what is taken in is visible at once.
        Ok(
            match apply_batch(&mut self.conn, log, self.governance.projected_seq())? {
                Some(last) => Step::Moved {
                    taken: last,
                    visible: Some(last),
                },
                None => Step::CaughtUp,
            },
        )
    }

    fn check(&mut self, _log: &EventLog) -> Result<bool, ProjectionError> {
        let projected = self.governance.projected_seq();
        let (new, stop) = self
            .governance
            .check_in_place(&mut self.identity, projected)?;
        if let Some(new) = new {
            self.conn = new;
        }
        Ok(stop)
    }

    fn finish(&mut self) -> Result<Option<Seq>, ProjectionError> {
        Ok(None)
    }

    fn resume(&mut self) -> Result<(), ProjectionError> {
        Ok(())
    }
}

/// Deletes the projection of `data_dir` and builds it again from the log, calling `progress`
/// with the sequence number reached and the last one. Refuses while a server maintains it.
pub fn rebuild(
    data_dir: &Path,
    log: &EventLog,
    mut progress: impl FnMut(u64, u64),
) -> Result<u64, ProjectionError> {
    let _lock = lock(data_dir)?;
    let total = log.last_seq()?;
    let path = data_dir.join(DATABASE_FILE);
    remove_database(&path)?;
    let (mut conn, mut projected, _) = open_or_create(&path, total)?;
    while let Some(last) = apply_batch(&mut conn, log, projected)? {
        projected = last;
        progress(projected, total);
    }
    drop(conn);
    Ok(projected)
}
