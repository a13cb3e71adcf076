//! The compactor: a thread beside the writer that trains the log's first body dictionary once
//! enough events are stored, then rewrites every body still stored as plain text (events from
//! before the dictionary, or a data directory of an older vigil) compressed, a batch per
//! transaction through the writer. Each rewrite is checked to decode to the very bytes it
//! replaces before it is submitted, and changes a row only if it still holds those bytes. It
//! reads through the portable seam: on a shared log, one node's compactor works at a time, under
//! a session advisory lock that PostgreSQL releases when that node's connection ends.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::oneshot;

use super::codec::{self, Codecs};
use super::{CommitSignal, SideWrite, WriteJob};
use crate::error::LogError;
use crate::store::{Lite, Sql, StoreError, values};

/// The compactor's settings.
#[derive(Debug, Clone, Copy)]
pub struct CompactionOptions {
    /// Events stored before the first dictionary is trained, from the newest of them.
    pub train_after: u64,
    /// Bodies rewritten per transaction.
    pub batch: usize,
}

impl Default for CompactionOptions {
    fn default() -> Self {
        CompactionOptions {
            train_after: 4_000,
            batch: 2_000,
        }
    }
}

/// Newest events a dictionary is trained from (~8 MB of the seed's mix: zstd advises samples of
/// about a hundred times the dictionary).
const SAMPLE_EVENTS: i64 = 4_000;
/// How often the compactor looks for plain bodies once it has caught up (a body can be stored
/// plain when it was submitted just before the dictionary was installed).
const IDLE_RECHECK: Duration = Duration::from_secs(10);

/// Where the compactor reads the log.
pub(super) enum Source {
    /// The embedded database file.
    Sqlite(PathBuf),
    /// A cluster's database URL.
    Postgres(String),
}

/// The advisory lock held by the one compactor of a cluster that works.
const COMPACTOR_LOCK: i64 = 0x7669_6769_6c02;
/// How often a compactor that does not hold the lock tries again.
const LOCK_RETRY: Duration = Duration::from_secs(5);

/// What the compactor shares with the log.
pub(super) struct Shared {
    pub source: Source,
    pub commits: Arc<CommitSignal>,
    pub codecs: Arc<Codecs>,
    pub sender: mpsc::Sender<WriteJob>,
}

/// The running compactor.
pub(super) struct Handle {
    stop: Arc<AtomicBool>,
    commits: Arc<CommitSignal>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Handle {
    /// Stops the compactor after its current batch and waits for it.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        {
            let _last = self.commits.last_seq.lock().expect("commit signal lock");
            self.commits.changed.notify_all();
        }
        if let Some(thread) = self.thread.lock().expect("compactor lock").take() {
            let _ = thread.join();
        }
    }
}

pub(super) fn start(options: CompactionOptions, shared: Shared) -> std::io::Result<Handle> {
    let stop = Arc::new(AtomicBool::new(false));
    let commits = shared.commits.clone();
    let compactor = Compactor {
        options,
        shared,
        stop: stop.clone(),
    };
    let thread = std::thread::Builder::new()
        .name("vigil-log-compactor".into())
        .spawn(move || compactor.run())?;
    Ok(Handle {
        stop,
        commits,
        thread: Mutex::new(Some(thread)),
    })
}

struct Compactor {
    options: CompactionOptions,
    shared: Shared,
    stop: Arc<AtomicBool>,
}

impl Compactor {
    fn run(self) {
        match &self.shared.source {
            Source::Sqlite(path) => match super::open_connection(path, true) {
                Ok(connection) => self.work(&mut Lite(&connection)),
                Err(error) => {
                    tracing::warn!(%error, "the compactor cannot read the log; bodies stay as stored");
                }
            },
            Source::Postgres(url) => {
                while !self.stopping() {
                    match self.lock_postgres(url) {
                        Ok(Some(mut client)) => {
                            self.work(&mut crate::store::postgres::Pg(&mut client));
                            return;
                        }
                        Ok(None) => {}
                        Err(error) => {
                            tracing::debug!(%error, "the compactor cannot reach the database");
                        }
                    }
                    self.wait_for_commit(LOCK_RETRY);
                }
            }
        }
    }

    /// A connection holding the cluster's compactor lock, or `None` while another node's
    /// compactor holds it.
    fn lock_postgres(&self, url: &str) -> Result<Option<::postgres::Client>, StoreError> {
        let mut client = crate::store::postgres::connect(url, "vigil-compactor")?;
        let locked: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&COMPACTOR_LOCK])
            .and_then(|row| row.try_get(0))
            .map_err(|error| crate::store::postgres::classify(&error))?;
        Ok(locked.then_some(client))
    }

    fn work(&self, db: &mut dyn Sql) {
        let mut train_after = self.options.train_after;
        while self.shared.codecs.current_id().is_none() {
            if self.stopping() {
                return;
            }
            match self.train(db, train_after) {
                Ok(true) => break,
                Ok(false) => {}
                Err(error) => {
                    // Too few or too alike samples: try again with more.
                    tracing::warn!(%error, "could not train a body dictionary yet");
                    train_after = train_after.saturating_mul(2);
                }
            }
            self.wait_for_commit(Duration::from_secs(1));
        }
        while !self.stopping() {
            match self.compress_plain_bodies(db) {
                Ok(()) => self.wait_for_commit(IDLE_RECHECK),
                Err(error) => {
                    tracing::warn!(%error, "compressing stored bodies failed; will retry");
                    self.wait_for_commit(IDLE_RECHECK);
                }
            }
        }
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst) || self.shared.commits.alarm().is_some()
    }

    /// Waits for the next commit, the stop, or `timeout`.
    fn wait_for_commit(&self, timeout: Duration) {
        let commits = &self.shared.commits;
        let last = commits.last_seq.lock().expect("commit signal lock");
        let seen = *last;
        let _ = commits
            .changed
            .wait_timeout_while(last, timeout, |last| {
                *last == seen && !self.stop.load(Ordering::SeqCst)
            })
            .expect("commit signal lock");
    }

    /// Trains and stores the first dictionary once `train_after` events are stored; `Ok(false)`
    /// while there are too few. A dictionary stored meanwhile by another process is taken as is.
    fn train(&self, db: &mut dyn Sql, train_after: u64) -> Result<bool, LogError> {
        if let Some((id, bytes)) = newest_dictionary(db)? {
            return Ok(self.shared.codecs.install(id, &bytes));
        }
        let rows = db.query(
            "SELECT body, codec FROM events ORDER BY seq DESC LIMIT ?1",
            values![SAMPLE_EVENTS],
        )?;
        let mut samples = Vec::with_capacity(rows.len());
        for row in &rows {
            let decoded = self
                .shared
                .codecs
                .decode_bytes(row.integer(1)?, row.bytes(0)?, &mut |id| {
                    Err(format!("dictionary {id} is not loaded"))
                })
                .map_err(StoreError::Unreadable)?;
            samples.push(decoded);
        }
        if (samples.len() as u64) < train_after {
            return Ok(false);
        }
        let started = std::time::Instant::now();
        let dictionary = codec::train(&samples).map_err(|error| {
            LogError::Append(format!("training a body dictionary failed: {error}"))
        })?;
        let id = 1 + db
            .query_optional("SELECT coalesce(max(id), 0) FROM body_dictionaries", &[])?
            .map(|row| row.integer(0))
            .transpose()?
            .unwrap_or(0);
        let stored = dictionary.clone();
        let trained_on = samples.len() as i64;
        self.write(Box::new(move |db| {
            db.execute(
                "INSERT INTO body_dictionaries (id, bytes, trained_on, created_at) VALUES (?1, ?2, ?3, ?4)",
                &[
                    id.into(),
                    stored.into(),
                    trained_on.into(),
                    chrono::Utc::now().to_rfc3339().into(),
                ],
            )?;
            Ok(())
        }))?;
        if !self.shared.codecs.install(id, &dictionary) {
            return Err(LogError::Append(format!(
                "the body dictionary just trained ({id}) cannot be loaded"
            )));
        }
        tracing::info!(
            dictionary = id,
            bytes = dictionary.len(),
            samples = trained_on,
            millis = started.elapsed().as_millis() as u64,
            "trained the event log's body dictionary; new bodies are stored compressed"
        );
        Ok(true)
    }

    /// Rewrites every body still stored plain, a batch per transaction, until none is left.
    fn compress_plain_bodies(&self, db: &mut dyn Sql) -> Result<(), LogError> {
        let total = db
            .query_optional("SELECT count(*) FROM events WHERE codec = 0", &[])?
            .map(|row| row.integer(0))
            .transpose()?
            .unwrap_or(0);
        if total == 0 {
            return Ok(());
        }
        tracing::info!(
            events = total,
            "compressing the bodies stored as plain text"
        );
        let started = std::time::Instant::now();
        let (mut done, mut plain_bytes, mut compressed_bytes) = (0i64, 0u64, 0u64);
        let mut reported_tenth = 0;
        let mut after = 0i64;
        loop {
            if self.stopping() {
                return Ok(());
            }
            let rows = db
                .query(
                    "SELECT seq, body FROM events WHERE codec = 0 AND seq > ?1 ORDER BY seq LIMIT ?2",
                    values![after, self.options.batch],
                )?
                .iter()
                .map(|row| {
                    let body = String::from_utf8(row.bytes(1)?.to_vec())
                        .map_err(|error| StoreError::Unreadable(error.to_string()))?;
                    Ok((row.integer(0)?, body))
                })
                .collect::<Result<Vec<(i64, String)>, StoreError>>()?;
            let Some(&(last, _)) = rows.last() else {
                break;
            };
            after = last;
            let mut rewrites = Vec::with_capacity(rows.len());
            for (seq, plain) in rows {
                let Some((codec, compressed)) = self.shared.codecs.encode(plain.as_bytes()) else {
                    return Ok(());
                };
                let decoded = self
                    .shared
                    .codecs
                    .decode_bytes(codec, &compressed, &mut |id| {
                        Err(format!("dictionary {id} is not loaded"))
                    });
                if decoded.as_deref() != Ok(plain.as_bytes()) {
                    tracing::warn!(seq, "a body does not survive compression; it stays plain");
                    continue;
                }
                plain_bytes += plain.len() as u64;
                compressed_bytes += compressed.len() as u64;
                rewrites.push((seq, plain, codec, compressed));
            }
            let count = rewrites.len() as i64;
            self.write(Box::new(move |db| {
                for (seq, plain, codec, compressed) in rewrites {
                    db.execute(
                        "UPDATE events SET body = ?1, codec = ?2 WHERE seq = ?3 AND codec = 0 AND body = ?4",
                        &[compressed.into(), codec.into(), seq.into(), plain.into()],
                    )?;
                }
                Ok(())
            }))?;
            done += count;
            let tenth = (done * 10 / total.max(1)).min(10);
            if tenth > reported_tenth {
                reported_tenth = tenth;
                tracing::info!(
                    done,
                    total,
                    percent = tenth * 10,
                    "compressing the bodies stored as plain text"
                );
            }
        }
        tracing::info!(
            events = done,
            plain_bytes,
            compressed_bytes,
            seconds = started.elapsed().as_secs_f64(),
            "compressed the bodies stored as plain text"
        );
        Ok(())
    }

    /// Runs `write` in the writer's next transaction and waits until it is durable.
    fn write(&self, write: SideWrite) -> Result<(), LogError> {
        let (reply, receiver) = oneshot::channel();
        self.shared
            .sender
            .send(WriteJob {
                entries: Vec::new(),
                side_write: Some(write),
                reply,
            })
            .map_err(|_| LogError::Closed)?;
        match receiver.blocking_recv() {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(message)) => Err(LogError::Append(message)),
            Err(_) => Err(LogError::Closed),
        }
    }
}

/// The newest stored dictionary, if any.
fn newest_dictionary(db: &mut dyn Sql) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
    db.query_optional(
        "SELECT id, bytes FROM body_dictionaries ORDER BY id DESC LIMIT 1",
        &[],
    )?
    .map(|row| Ok((row.integer(0)?, row.bytes(1)?.to_vec())))
    .transpose()
}
