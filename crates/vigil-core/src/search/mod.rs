//! The search index: a tantivy index derived from the event log. An indexer thread tails the log
//! by sequence number and commits at least every second, recording the last indexed sequence
//! number in the commit payload; a missing, corrupt or outdated index is rebuilt from the log,
//! also when it is deleted while the server runs (searches answer "rebuilding" meanwhile). An
//! index found ahead of the log, at start or later, raises an integrity alarm instead.

mod facets;
mod page;
mod query;
mod schema;
mod whole;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{QueryParser, RangeQuery};
use tantivy::{DocAddress, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};
use vigil_model::UamEvent;

pub use facets::{FacetCounts, FacetFruit, Histogram};
pub use query::{Cursor, MAX_OFFSET, MAX_PAGE_SIZE, OWN_READ_ACTIONS, SearchRequest, TimeField};
pub use schema::{FacetField, PAIR_SEPARATOR, SCHEMA_VERSION};
pub(crate) use schema::{Values, extract};

use crate::error::LogError;
use crate::log::{EventLog, Seq, StoredEvent};
use crate::view::{
    Progress, Step, Unavailable, View, ViewHealth, ahead_of_log_alarm, check_not_ahead,
};
use facets::FacetCollector;
use page::{SortKey, top_by_time};
use schema::{Fields, build_schema, document, register_tokenizers};
use whole::{WholeSegmentCounts, WholeSegments};

/// The index directory inside the data directory.
pub const INDEX_DIR: &str = "index";
/// Commit at least this often while events arrive, so they become searchable.
const COMMIT_INTERVAL: Duration = Duration::from_secs(1);
/// Events read from the log per step.
const READ_BATCH: usize = 5_000;
/// Memory for tantivy's indexing buffers.
const WRITER_MEMORY_BYTES: usize = 128 * 1024 * 1024;
/// The nice value of the indexer and the tantivy threads it starts: acknowledging durable writes
/// goes first, indexing uses what is left and catches up after a burst.
const INDEXER_NICE: i32 = 10;
/// How long the indexer waits before retrying after an error.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// How often a rebuild reports its progress.
const PROGRESS_EVERY: u64 = 100_000;

/// Errors of the search index.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// tantivy failed.
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    /// The log failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// Another process (a running server) is writing the index.
    #[error("the search index {0} is in use by a running vigil; stop it first")]
    InUse(PathBuf),
    /// The index does not answer now: it is being rebuilt, or it holds events the log no longer
    /// has (see [`SearchIndex::integrity_alarm`]).
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
    /// The index directory was deleted while the server ran; the indexer rebuilds it.
    #[error("the search index directory {0} was deleted")]
    Deleted(PathBuf),
    /// The index directory could not be prepared.
    #[error("search index directory {path}: {source}")]
    Directory {
        /// The directory.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
}

impl crate::Classify for SearchError {
    fn kind(&self) -> crate::ErrorKind {
        match self {
            SearchError::Log(error) => crate::Classify::kind(error),
            SearchError::Unavailable(unavailable) => crate::Classify::kind(unavailable),
            SearchError::InUse(_) => crate::ErrorKind::Conflict,
            _ => crate::ErrorKind::Internal,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            SearchError::Unavailable(unavailable) => crate::Classify::code(unavailable),
            other => crate::Classify::kind(other).code(),
        }
    }

    fn details(&self) -> Option<(&'static str, serde_json::Value)> {
        match self {
            SearchError::Unavailable(unavailable) => crate::Classify::details(unavailable),
            _ => None,
        }
    }
}

/// What a commit records.
#[derive(Debug, Serialize, Deserialize)]
struct CommitPayload {
    schema: u32,
    seq: Seq,
}

/// The result of a search.
#[derive(Debug, Clone)]
pub struct SearchResult {
    /// Exact number of matching events.
    pub total: u64,
    /// The page of hits, in order.
    pub hits: Vec<StoredEvent>,
    /// Facet counts and the time range of the matching events.
    pub facets: FacetFruit,
    /// Where the next page starts, when there may be one.
    pub next_cursor: Option<Cursor>,
}

/// The tantivy index in use and its reader: replaced when the directory is rebuilt.
struct Opened {
    index: Index,
    reader: IndexReader,
}

impl Opened {
    fn new(mut index: Index) -> Result<Arc<Opened>, SearchError> {
        // Searches run over the segments on every core.
        index.set_default_multithread_executor()?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Arc::new(Opened { index, reader }))
    }
}

/// The search index of a data directory, kept up to date by its indexer thread.
pub struct SearchIndex {
    data_dir: PathBuf,
    opened: RwLock<Arc<Opened>>,
    fields: Fields,
    log: Arc<EventLog>,
    progress: Arc<Progress>,
    stop: Arc<AtomicBool>,
    indexer: Mutex<Option<JoinHandle<()>>>,
    /// Documents with a sequence number below this are to be deleted (retention).
    remove_below: AtomicU64,
    /// Serving, rebuilding, or stopped by an integrity alarm.
    health: ViewHealth,
    /// Facet counts of whole segments, for requests that filter on nothing but time.
    whole_counts: Arc<WholeSegmentCounts>,
}

/// The view's name in messages.
const VIEW: &str = "search index";
/// How an operator rebuilds the index on purpose.
const REBUILD: &str = "vigil reindex";

fn index_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(INDEX_DIR)
}

fn directory_error(path: &Path) -> impl FnOnce(std::io::Error) -> SearchError + '_ {
    move |source| SearchError::Directory {
        path: path.to_owned(),
        source,
    }
}

/// Opens the index if it is usable; otherwise creates it empty. Returns the index, the sequence
/// number it has indexed up to, and an integrity alarm when that is past the end of the log.
fn open_or_create(
    data_dir: &Path,
    log_last_seq: Seq,
) -> Result<(Index, Fields, Seq, Option<String>), SearchError> {
    let path = index_dir(data_dir);
    let (schema, fields) = build_schema();
    if path.exists() {
        let usable = Index::open_in_dir(&path).ok().and_then(|index| {
            let payload = index.load_metas().ok()?.payload?;
            let payload: CommitPayload = serde_json::from_str(&payload).ok()?;
            (payload.schema == SCHEMA_VERSION && index.schema() == schema)
                .then_some((index, payload.seq))
        });
        if let Some((index, seq)) = usable {
            register_tokenizers(&index);
            let alarm =
                (seq > log_last_seq).then(|| ahead_of_log_alarm(VIEW, seq, log_last_seq, REBUILD));
            return Ok((index, fields, seq, alarm));
        }
        tracing::warn!(path = %path.display(), "the search index is missing, outdated or corrupt; rebuilding it from the log");
        std::fs::remove_dir_all(&path).map_err(directory_error(&path))?;
    }
    let index = create_empty(&path)?;
    Ok((index, fields, 0, None))
}

/// Creates an empty index in `path`.
fn create_empty(path: &Path) -> Result<Index, SearchError> {
    std::fs::create_dir_all(path).map_err(directory_error(path))?;
    let index = Index::create_in_dir(path, build_schema().0)?;
    register_tokenizers(&index);
    Ok(index)
}

/// Whether the index directory still holds the index (someone may delete it while we run).
fn still_on_disk(path: &Path) -> bool {
    path.join("meta.json").exists()
}

fn commit(writer: &mut IndexWriter, seq: Seq) -> tantivy::Result<()> {
    let mut prepared = writer.prepare_commit()?;
    prepared.set_payload(
        &serde_json::to_string(&CommitPayload {
            schema: SCHEMA_VERSION,
            seq,
        })
        .expect("serializable"),
    );
    prepared.commit()?;
    Ok(())
}

fn index_document(fields: &Fields, event: &StoredEvent) -> TantivyDocument {
    match UamEvent::from_json(&event.json) {
        Ok(parsed) => document(fields, event.seq, &parsed, event.submitter.as_deref()),
        Err(error) => {
            // Stored events were validated on the way in; keep even an unreadable one findable by seq.
            tracing::warn!(seq = event.seq, %error, "stored event could not be read for indexing");
            let mut document = TantivyDocument::new();
            document.add_u64(fields.seq, event.seq);
            document
        }
    }
}

/// The indexer: the search index as the shared follower drives it. Documents are added as events
/// are read and committed at least every [`COMMIT_INTERVAL`] (and whenever the log is caught up),
/// with `{schema, seq}` as the commit payload.
struct Indexer<'a> {
    search: &'a SearchIndex,
    opened: Arc<Opened>,
    /// Created on the indexer's thread (after lowering its priority, so that tantivy's indexing
    /// and merge threads inherit it), and again after a failure.
    writer: Option<IndexWriter>,
    /// The last sequence number added (committed or not).
    indexed: Seq,
    /// Changes not committed yet.
    pending: u64,
    last_commit: Instant,
    /// Retention's removals applied so far.
    removed_below: Seq,
}

impl Indexer<'_> {
    fn writer(&mut self) -> Result<&mut IndexWriter, SearchError> {
        if self.writer.is_none() {
            self.writer = Some(
                self.opened
                    .index
                    .writer::<TantivyDocument>(WRITER_MEMORY_BYTES)?,
            );
            // Events removed by retention while the index was not running.
            let first_kept = self.search.log.first_seq()?;
            self.search
                .remove_below
                .fetch_max(first_kept, Ordering::SeqCst);
            self.removed_below = 0;
        }
        Ok(self.writer.as_mut().expect("created above"))
    }

    /// Commits what is pending; the index must still be where it was.
    fn commit(&mut self) -> Result<Seq, SearchError> {
        let path = index_dir(&self.search.data_dir);
        if !still_on_disk(&path) {
            return Err(SearchError::Deleted(path));
        }
        let indexed = self.indexed;
        commit(self.writer()?, indexed)?;
        self.opened.reader.reload()?;
        self.pending = 0;
        self.last_commit = Instant::now();
        Ok(indexed)
    }
}

impl View for Indexer<'_> {
    type Error = SearchError;

    fn step(&mut self, log: &EventLog) -> Result<Step, SearchError> {
        let from = self.indexed;
        let fields = &self.search.fields;
        let last = index_batch(log, self.writer()?, fields, from)?;
        if let Some(last) = last {
            self.pending += last - self.indexed;
            self.indexed = last;
        }
        let remove_below = self.search.remove_below.load(Ordering::SeqCst);
        if remove_below > self.removed_below {
            let below = Term::from_field_u64(self.search.fields.seq, remove_below);
            self.writer()?.delete_query(Box::new(RangeQuery::new(
                std::ops::Bound::Unbounded,
                std::ops::Bound::Excluded(below),
            )))?;
            self.removed_below = remove_below;
            // Commit the deletion even if no event arrives.
            self.pending += 1;
        }
        let caught_up = last.is_none();
        if self.pending > 0 && (caught_up || self.last_commit.elapsed() >= COMMIT_INTERVAL) {
            let visible = self.commit()?;
            return Ok(Step::Moved {
                taken: self.indexed,
                visible: Some(visible),
            });
        }
        Ok(if caught_up {
            Step::CaughtUp
        } else {
            Step::Moved {
                taken: self.indexed,
                visible: None,
            }
        })
    }

    fn check(&mut self, log: &EventLog) -> Result<bool, SearchError> {
        // The index must be where it was, and the log must still hold what it indexed.
        let path = index_dir(&self.search.data_dir);
        if !still_on_disk(&path) {
            return Err(SearchError::Deleted(path));
        }
        check_not_ahead(&self.search.health, log, self.indexed, REBUILD).map_err(Into::into)
    }

    fn finish(&mut self) -> Result<Option<Seq>, SearchError> {
        if self.pending == 0 {
            return Ok(None);
        }
        self.commit().map(Some)
    }

    fn resume(&mut self) -> Result<(), SearchError> {
        // The writer goes first: a new one (or a new index) needs its lock.
        self.writer = None;
        self.pending = 0;
        let path = index_dir(&self.search.data_dir);
        if still_on_disk(&path) {
            self.indexed = self.search.indexed_seq();
        } else {
            self.search.recreate(&path)?;
            self.indexed = 0;
        }
        self.opened = self.search.opened();
        Ok(())
    }
}

/// Adds the events after `from` to `writer`, up to `READ_BATCH`; returns the last seq added.
fn index_batch(
    log: &EventLog,
    writer: &IndexWriter,
    fields: &Fields,
    from: Seq,
) -> Result<Option<Seq>, SearchError> {
    let events = log.read_after(from, READ_BATCH)?;
    let mut last = None;
    for event in &events {
        writer.add_document(index_document(fields, event))?;
        last = Some(event.seq);
    }
    Ok(last)
}

impl SearchIndex {
    /// Opens the index of `data_dir` (rebuilding it when needed) and starts its indexer.
    pub fn open(data_dir: &Path, log: Arc<EventLog>) -> Result<Arc<SearchIndex>, SearchError> {
        let log_last = log.last_seq()?;
        let (index, fields, mut indexed, alarm) = open_or_create(data_dir, log_last)?;
        if indexed == 0 && alarm.is_none() && log_last <= READ_BATCH as Seq {
            // A new index for a small log (a new data directory, the demo): filled before the
            // server answers, in one batch.
            let mut writer: IndexWriter = index.writer(WRITER_MEMORY_BYTES)?;
            if let Some(last) = index_batch(&log, &writer, &fields, 0)? {
                commit(&mut writer, last)?;
                indexed = last;
            }
            writer.wait_merging_threads()?;
        }
        let health = ViewHealth::serving(VIEW);
        match alarm {
            // Not indexing either: nothing in the index is changed until an operator decides.
            Some(alarm) => health.raise_alarm(alarm),
            // A new index for a log that has events: it answers once it has them all.
            None if indexed == 0 => health.start_rebuild(log_last),
            None => {}
        }
        let search = Arc::new(SearchIndex {
            data_dir: data_dir.to_owned(),
            opened: RwLock::new(Opened::new(index)?),
            fields,
            log,
            progress: Arc::new(Progress::new(indexed)),
            stop: Arc::new(AtomicBool::new(false)),
            indexer: Mutex::new(None),
            remove_below: AtomicU64::new(0),
            whole_counts: Arc::default(),
            health,
        });
        if search.health.integrity_alarm().is_some() {
            return Ok(search);
        }
        let worker = search.clone();
        let handle = std::thread::Builder::new()
            .name("vigil-indexer".into())
            .spawn(move || {
                lower_priority_of_this_thread();
                worker.index_until_stopped(indexed);
            })
            .map_err(directory_error(data_dir))?;
        *search.indexer.lock().expect("indexer lock") = Some(handle);
        Ok(search)
    }

    /// Runs the indexer until shutdown, on the shared follower. After an error it waits
    /// [`RETRY_AFTER`] and resumes from the last commit with a new writer: a transient failure
    /// must not leave search stale.
    fn index_until_stopped(&self, resume_from: Seq) {
        let mut indexer = Indexer {
            search: self,
            opened: self.opened(),
            writer: None,
            indexed: resume_from,
            pending: 0,
            last_commit: Instant::now(),
            removed_below: 0,
        };
        crate::view::follow(
            &mut indexer,
            &crate::view::Following {
                log: &self.log,
                health: &self.health,
                progress: &self.progress,
                stop: &self.stop,
                poll: COMMIT_INTERVAL,
                retry_after: RETRY_AFTER,
                log_every: PROGRESS_EVERY,
            },
        );
    }

    fn opened(&self) -> Arc<Opened> {
        self.opened.read().expect("index lock").clone()
    }

    /// The index directory was deleted: creates an empty index there, which the indexer fills
    /// from the start of the log; searches say so until it has caught up.
    fn recreate(&self, path: &Path) -> Result<(), SearchError> {
        let target = self.log.last_seq()?;
        tracing::warn!(path = %path.display(), target, "the search index was deleted while vigil ran; rebuilding it from the log");
        self.health.start_rebuild(target);
        let opened = Opened::new(create_empty(path)?)?;
        *self.opened.write().expect("index lock") = opened;
        self.progress.publish(0);
        Ok(())
    }

    /// Removes from the index the events below `first_kept` (after retention removed them from
    /// the log); the indexer applies it at its next step, which the `EventsRemoved` event that
    /// retention appends sets off.
    pub fn remove_below(&self, first_kept: Seq) {
        self.remove_below.fetch_max(first_kept, Ordering::SeqCst);
    }

    /// The last sequence number searchable.
    pub fn indexed_seq(&self) -> Seq {
        self.progress.get()
    }

    /// Waits until everything up to `seq` is searchable or `timeout` passes; true when it is.
    pub fn wait_until_indexed(&self, seq: Seq, timeout: Duration) -> bool {
        self.progress.wait_until(seq, timeout)
    }

    /// Stops the indexer after a last commit.
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.indexer.lock().expect("indexer lock").take() {
            let _ = handle.join();
        }
    }

    /// Why the index does not serve, when it was found ahead of the log.
    pub fn integrity_alarm(&self) -> Option<String> {
        self.health.integrity_alarm()
    }

    /// Whether the index answers now; if not, why (rebuilding, with progress; an alarm).
    pub fn availability(&self) -> Result<(), Unavailable> {
        self.health.check()
    }

    /// Runs a search. Blocking: call it from a blocking context.
    pub fn search(&self, request: &SearchRequest) -> Result<SearchResult, SearchError> {
        self.health.check()?;
        let opened = self.opened();
        let searcher = opened.reader.searcher();
        let mut parser = QueryParser::for_index(&opened.index, vec![self.fields.text]);
        parser.set_conjunction_by_default();
        let query = query::build_query(request, &self.fields, &parser);
        let time_name = match request.time_field {
            TimeField::Event => "eventTime",
            TimeField::Received => "receivedTime",
        };
        let descending = request.descending;
        let whole = self.whole_segments(request, &searcher);
        // The kept counts are taken per segment by the facet collector's own pass: combined with
        // others in one collector, it would be handed every document instead.
        let separate_facets = whole.is_some();
        let facet_collector = FacetCollector {
            fields: request.facets.clone(),
            limit: request.facet_limit,
            histogram: request.histogram,
            whole,
        };
        // No hits asked for: the count and facets alone.
        if request.size == 0 {
            let (total, mut facets) = if separate_facets {
                // The facet pass counts too: whole segments from their kept summaries.
                let facets = searcher.search(&query, &facet_collector)?;
                (facets.total as usize, facets)
            } else {
                searcher.search(&query, &(Count, facet_collector))?
            };
            self.count_disjunctive_facets(request, &searcher, &parser, &mut facets)?;
            return Ok(SearchResult {
                total: total as u64,
                hits: Vec::new(),
                facets,
                next_cursor: None,
            });
        }
        let size = request.size.min(MAX_PAGE_SIZE);
        let offset = request.offset.min(MAX_OFFSET);
        let by_time = |limit: usize, offset: usize| {
            TopDocs::with_limit(limit).and_offset(offset).custom_score(
                move |segment: &tantivy::SegmentReader| {
                    let times = segment
                        .fast_fields()
                        .i64(time_name)
                        .expect("the time column exists");
                    let seqs = segment
                        .fast_fields()
                        .u64("seq")
                        .expect("the seq column exists");
                    move |doc: tantivy::DocId| {
                        let key = (
                            times.first(doc).unwrap_or(i64::MIN),
                            seqs.first(doc).unwrap_or(0),
                        );
                        if descending {
                            SortKey::Descending(key)
                        } else {
                            SortKey::Ascending(std::cmp::Reverse(key))
                        }
                    }
                },
            )
        };
        let (total, top, mut facets): (usize, Vec<(SortKey, DocAddress)>, FacetFruit) =
            if separate_facets {
                let facets = searcher.search(&query, &facet_collector)?;
                let wanted = by_time(size + offset, 0);
                let top = top_by_time(
                    &searcher,
                    &*query,
                    &wanted,
                    size + offset,
                    time_name,
                    descending,
                )?;
                let page = top.into_iter().skip(offset).collect();
                (facets.total as usize, page, facets)
            } else {
                searcher.search(&query, &(Count, by_time(size, offset), facet_collector))?
            };
        self.count_disjunctive_facets(request, &searcher, &parser, &mut facets)?;
        let keys: Vec<(i64, Seq)> = top.iter().map(|(key, _)| key.time_and_seq()).collect();
        let seqs: Vec<Seq> = keys.iter().map(|(_, seq)| *seq).collect();
        let hits = self.log.get_many(&seqs)?;
        let next_cursor = (keys.len() == size)
            .then(|| {
                keys.last().map(|(time, seq)| Cursor {
                    time: *time,
                    seq: *seq,
                })
            })
            .flatten();
        Ok(SearchResult {
            total: total as u64,
            hits,
            facets,
            next_cursor,
        })
    }

    /// For a request that filters on nothing but time, less excluded values (the audit page's
    /// usual request): the kept whole-segment counts, which the segments inside the range take.
    fn whole_segments(
        &self,
        request: &SearchRequest,
        searcher: &tantivy::Searcher,
    ) -> Option<WholeSegments> {
        let only_time = request.filters.is_empty()
            && request.hide_reads_of.is_none()
            && request.after.is_none()
            && request
                .keywords
                .as_deref()
                .is_none_or(|keywords| keywords.trim().is_empty());
        only_time.then(|| {
            let live = searcher
                .segment_readers()
                .iter()
                .map(|segment| segment.segment_id())
                .collect();
            self.whole_counts.retain(&live);
            WholeSegments {
                counts: self.whole_counts.clone(),
                time_field: match request.time_field {
                    TimeField::Event => "eventTime",
                    TimeField::Received => "receivedTime",
                },
                from: request.from,
                to: request.to,
                exclusions: Arc::new(request.exclusions.clone()),
            }
        })
    }

    /// Recounts each requested facet that is also filtered as if its own filter were absent, so
    /// that a reader can pick a second value of it (a disjunctive facet: the other filters still
    /// apply). One more pass per such facet.
    fn count_disjunctive_facets(
        &self,
        request: &SearchRequest,
        searcher: &tantivy::Searcher,
        parser: &QueryParser,
        facets: &mut FacetFruit,
    ) -> Result<(), SearchError> {
        for (position, field) in request.facets.iter().enumerate() {
            if !request
                .filters
                .iter()
                .any(|(filtered, _)| filtered == field)
            {
                continue;
            }
            let mut without = request.clone();
            without.filters.retain(|(filtered, _)| filtered != field);
            without.after = None;
            let query = query::build_query(&without, &self.fields, parser);
            let collector = FacetCollector {
                fields: vec![*field],
                limit: request.facet_limit,
                histogram: None,
                whole: self.whole_segments(&without, searcher),
            };
            let mut fruit = searcher.search(&query, &collector)?;
            if let (Some(slot), Some(counts)) =
                (facets.facets.get_mut(position), fruit.facets.pop())
            {
                *slot = counts;
            }
        }
        Ok(())
    }

    /// Sets how many counted events make a segment taken whole join the counts merged across
    /// requests (20,000 by default); tests, whose segments are small, lower it.
    pub fn merge_whole_segments_from(&self, events: u64) {
        self.whole_counts.merge_from(events);
    }

    /// Documents in the searchable index (for tests and statistics).
    pub fn document_count(&self) -> u64 {
        self.opened().reader.searcher().num_docs()
    }
}

/// Lowers the scheduling priority of the calling thread (and of the threads it starts).
fn lower_priority_of_this_thread() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid and setpriority have no memory preconditions; on Linux, PRIO_PROCESS
        // with a thread id applies to that thread only.
        let result = unsafe {
            let thread_id = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, thread_id, INDEXER_NICE)
        };
        if result != 0 {
            tracing::warn!(error = %std::io::Error::last_os_error(), "could not lower the indexer's priority");
        }
    }
}

impl Drop for SearchIndex {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Whether another process (a running server) holds the writer of `data_dir`'s index.
pub fn index_in_use(data_dir: &Path) -> bool {
    Index::open_in_dir(index_dir(data_dir)).is_ok_and(|index| {
        matches!(
            index.writer::<TantivyDocument>(WRITER_MEMORY_BYTES),
            Err(tantivy::TantivyError::LockFailure(..))
        )
    })
}

/// Deletes the index of `data_dir` and builds it again from the log, calling `progress` with the
/// number of events indexed and the total. Run it while no server uses the directory.
pub fn reindex(
    data_dir: &Path,
    log: &EventLog,
    mut progress: impl FnMut(u64, u64),
) -> Result<u64, SearchError> {
    let path = index_dir(data_dir);
    // A running server holds the index writer's lock: refuse rather than delete its index.
    if index_in_use(data_dir) {
        return Err(SearchError::InUse(path));
    }
    let total = log.last_seq()?;
    if path.exists() {
        std::fs::remove_dir_all(&path).map_err(directory_error(&path))?;
    }
    let (index, fields, _, _) = open_or_create(data_dir, total)?;
    let mut writer: IndexWriter = index.writer(WRITER_MEMORY_BYTES)?;
    let mut indexed = 0;
    while let Some(last) = index_batch(log, &writer, &fields, indexed)? {
        indexed = last;
        progress(indexed, total);
    }
    commit(&mut writer, indexed)?;
    writer.wait_merging_threads()?;
    Ok(indexed)
}
