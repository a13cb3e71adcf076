//! `vigil verify`: recomputes the hash chain of a data directory, finds every break, and checks
//! the chain against the signed checkpoints in the log and in the files it is given.

use std::path::Path;

use rusqlite::types::ValueRef;
use serde::Deserialize;

use crate::chain::{ChainHash, GENESIS, body_digest, chain_hash, link_digest};
use crate::checkpoint::{CHECKPOINT_PAYLOAD_TYPE, Checkpoint};
use crate::error::LogError;
use crate::log::{Codecs, DATABASE_FILE, Seq, Submitter, open_connection};
use crate::retention::{ChainAnchor, REMOVAL_PAYLOAD_TYPE, SignedRemoval};
use crate::store::{Sql, Value};

/// What `verify` checks the chain against, beyond itself.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Checkpoints from outside the log (a file, a downloaded export), with where each came from.
    pub checkpoints: Vec<(String, Checkpoint)>,
    /// The public key (hex) that signs checkpoints; by default the data directory's own
    /// (`export-signing.key`). A copy kept elsewhere is the stronger check.
    pub public_key: Option<String>,
}

/// Breaks listed one by one; past this many they are only counted (a wholly rewritten log would
/// otherwise need memory for one entry per event).
pub const MAX_LISTED_BREAKS: usize = 10_000;

/// The result of a verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Events checked.
    pub events: u64,
    /// Where the check started: 1, or the first event kept after retention.
    pub first_seq: Seq,
    /// Last sequence number checked.
    pub last_seq: Seq,
    /// Every place where the chain breaks, in log order (the first [`MAX_LISTED_BREAKS`]).
    pub breaks: Vec<ChainBreak>,
    /// How many breaks there are in all, listed or not.
    pub break_count: u64,
    /// Signed checkpoints the chain was checked against (from the log and from outside).
    pub checkpoints_checked: usize,
    /// The newest checkpoint checked: its sequence number, when it was signed, where it came from.
    pub latest_checkpoint: Option<(Seq, String, String)>,
    /// What could not be checked, and why (no public key; an anchor from before removals were
    /// signed).
    pub notes: Vec<String>,
}

impl VerifyReport {
    /// The first break, if any.
    pub fn first_break(&self) -> Option<&ChainBreak> {
        self.breaks.first()
    }

    /// Whether the chain verified from end to end.
    pub fn is_intact(&self) -> bool {
        self.break_count == 0
    }

    fn record(&mut self, seq: Seq, reason: String) {
        self.break_count += 1;
        if self.breaks.len() < MAX_LISTED_BREAKS {
            self.breaks.push(ChainBreak { seq, reason });
        }
    }
}

/// Where and why the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    /// The sequence number of the event that does not verify.
    pub seq: Seq,
    /// Why.
    pub reason: String,
}

#[derive(Deserialize)]
struct IdProbe {
    id: Option<serde_json::Value>,
}

/// Whether the stored body's `id` is the id the event is indexed under. Earlier versions accepted
/// integer ids and indexed them by their decimal text; such events are not tampering.
fn id_matches(id: &serde_json::Value, event_id: &str) -> bool {
    match id {
        serde_json::Value::String(id) => id == event_id,
        serde_json::Value::Number(number) if number.is_i64() || number.is_u64() => {
            number.to_string() == event_id
        }
        _ => false,
    }
}

/// [`verify_with`] the checkpoints in the log and the data directory's public key.
pub fn verify(data_dir: &Path) -> Result<VerifyReport, LogError> {
    verify_with(data_dir, &VerifyOptions::default())
}

/// Recomputes the chain of the log in `data_dir` from its first event. It goes on past a break,
/// linking the next event to the stored hash, so every break is found, each once. Then it checks
/// the chain against every signed checkpoint: one whose sequence number is past the end of the
/// log shows a cut; one whose hash differs from the stored one shows a rewrite.
pub fn verify_with(data_dir: &Path, options: &VerifyOptions) -> Result<VerifyReport, LogError> {
    let path = data_dir.join(DATABASE_FILE);
    if !path.exists() {
        return Err(LogError::DataDir {
            path,
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no event log here"),
        });
    }
    let mut connection = open_connection(&path, true)?;
    // After retention, the chain starts at the anchor instead of at the genesis.
    let anchor = crate::retention::chain_anchor(&mut connection)?;
    let mut walk = ChainWalk::new(anchor);
    let codecs = Codecs::load(&connection)?;
    let mut rows = RowReader::new(&connection)?;
    while let Some(row) = rows.next_row(&mut walk.report)? {
        let resumed = std::mem::take(&mut rows.resumed_after_hole);
        // The chain covers the JSON as stored before compression.
        let decoded = codecs.decode(&connection, row.codec, ValueRef::Blob(&row.body));
        walk.step(row, decoded, resumed);
    }
    drop(rows);
    walk.finish(
        &mut connection,
        public_key(Some(data_dir), options),
        options,
    )
}

/// [`verify_with`] for the log shared by a cluster, in the PostgreSQL database at `url`. The
/// public key is the one given in `options` (a cluster's key is not in any one data directory).
pub fn verify_postgres(
    url: &crate::store::DatabaseUrl,
    options: &VerifyOptions,
) -> Result<VerifyReport, LogError> {
    let crate::store::DatabaseUrl::Postgres(url) = url;
    let mut client = crate::store::postgres::connect(url, "vigil-verify")?;
    let classify =
        |error: postgres::Error| LogError::from(crate::store::postgres::classify(&error));
    // One snapshot for the whole walk: appends by the nodes meanwhile are not half seen.
    let mut transaction = client
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(classify)?;
    let anchor = {
        let mut sql = crate::store::postgres::Pg(&mut transaction);
        crate::retention::chain_anchor_in(&mut sql)?
    };
    let mut walk = ChainWalk::new(anchor);
    let dictionaries = transaction
        .query("SELECT id, bytes FROM body_dictionaries", &[])
        .map_err(classify)?
        .iter()
        .map(|row| (row.get::<_, i64>(0), row.get::<_, Vec<u8>>(1)))
        .collect::<Vec<_>>();
    let codecs = Codecs::from_stored(dictionaries);
    let mut after = 0_i64;
    loop {
        let rows = transaction
            .query(
                "SELECT seq, event_id, body, chain_hash, submitter, codec FROM events WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[&after, &ROWS_PER_QUERY],
            )
            .map_err(classify)?;
        let Some(last) = rows.last() else { break };
        after = last.get(0);
        for row in &rows {
            let row = StoredRow {
                seq: row.get::<_, i64>(0) as Seq,
                event_id: row.get(1),
                body: row.get(2),
                stored_hash: row.get(3),
                submitter: row.get(4),
                codec: row.get(5),
            };
            let decoded = codecs.decode_bytes(row.codec, &row.body, &mut |id| {
                Err(format!("dictionary {id} is not stored"))
            });
            walk.step(row, decoded, false);
        }
    }
    let mut sql = crate::store::postgres::Pg(&mut transaction);
    walk.finish(&mut sql, public_key(None, options), options)
}

/// The walk along the chain, fed one stored row at a time by either backend.
struct ChainWalk {
    report: VerifyReport,
    anchor: Option<ChainAnchor>,
    /// The hash the next event links to; `None` right after a stretch that could not be read:
    /// the next event is not checked against a hash nobody could read.
    previous: Option<ChainHash>,
    checkpoints: Vec<(String, Checkpoint)>,
    removals: Vec<(Seq, SignedRemoval)>,
    unsigned_removals: Vec<UnsignedRemoval>,
}

impl ChainWalk {
    fn new(anchor: Option<ChainAnchor>) -> ChainWalk {
        let first_seq = anchor.as_ref().map_or(1, |anchor| anchor.first_seq);
        ChainWalk {
            report: VerifyReport {
                events: 0,
                first_seq,
                last_seq: first_seq - 1,
                breaks: Vec::new(),
                break_count: 0,
                checkpoints_checked: 0,
                latest_checkpoint: None,
                notes: Vec::new(),
            },
            previous: Some(
                anchor
                    .as_ref()
                    .map_or(GENESIS, |anchor| anchor.previous_hash),
            ),
            anchor,
            checkpoints: Vec::new(),
            removals: Vec::new(),
            unsigned_removals: Vec::new(),
        }
    }

    /// Checks one row; `decoded` is its body as the JSON the chain covers (or why it is not).
    fn step(&mut self, row: StoredRow, decoded: Result<Vec<u8>, String>, resumed_after_hole: bool) {
        let StoredRow {
            seq,
            event_id,
            body,
            codec: _,
            stored_hash,
            submitter,
        } = row;
        if resumed_after_hole {
            self.previous = None;
        }
        let (body, undecodable) = match decoded {
            Ok(json) => (json, None),
            Err(problem) => (body, Some(problem)),
        };
        let report = &mut self.report;
        let link = link_digest(&body_digest(&body), submitter.as_deref());
        let expected_seq = report.last_seq + 1;
        let problem = if seq != expected_seq {
            Some(if seq > expected_seq {
                format!(
                    "sequence gap: expected {expected_seq}, found {seq} ({} events missing)",
                    seq - expected_seq
                )
            } else {
                format!("sequence out of order: expected {expected_seq}, found {seq}")
            })
        } else if let Some(problem) = undecodable {
            Some(format!(
                "hash mismatch: the stored body cannot be decoded ({problem}); the stored bytes or their dictionary were altered"
            ))
        } else if self
            .previous
            .is_some_and(|previous| chain_hash(&previous, seq, &link)[..] != stored_hash[..])
        {
            Some(
                "hash mismatch: the stored bytes, the submitter or the chain hash were altered"
                    .to_owned(),
            )
        } else {
            match serde_json::from_slice::<IdProbe>(&body) {
                Ok(IdProbe { id: Some(id) }) if id_matches(&id, &event_id) => None,
                Ok(_) => Some(format!(
                    "the event's id does not match the indexed id `{event_id}`"
                )),
                Err(error) => Some(format!("the stored event is not valid JSON: {error}")),
            }
        };
        if let Some(reason) = problem {
            report.record(expected_seq.min(seq), reason);
        }
        if submitter.as_deref() == Some(Submitter::VIGIL) {
            if let Some(checkpoint) = own_payload(&body, CHECKPOINT_PAYLOAD_TYPE) {
                self.checkpoints
                    .push((format!("the log (sequence number {seq})"), checkpoint));
            } else if let Some(removal) =
                own_payload::<serde_json::Value>(&body, REMOVAL_PAYLOAD_TYPE)
            {
                match serde_json::from_value::<SignedRemoval>(removal.clone()) {
                    Ok(signed) => self.removals.push((seq, signed)),
                    Err(_) => self
                        .unsigned_removals
                        .extend(serde_json::from_value(removal).ok()),
                }
            }
        }
        self.previous = Some(stored_hash.try_into().unwrap_or(GENESIS));
        report.events += 1;
        report.last_seq = report.last_seq.max(seq);
    }

    /// Checks the anchor and the checkpoints once every row is walked.
    fn finish(
        mut self,
        db: &mut dyn Sql,
        public_key: Option<String>,
        options: &VerifyOptions,
    ) -> Result<VerifyReport, LogError> {
        if let Some(anchor) = &self.anchor {
            check_anchor(
                db,
                anchor,
                &self.removals,
                &self.unsigned_removals,
                public_key.as_deref(),
                &mut self.report,
            )?;
        }
        self.checkpoints.extend(options.checkpoints.iter().cloned());
        check_checkpoints(
            db,
            public_key.as_deref(),
            self.checkpoints,
            &mut self.report,
        )?;
        Ok(self.report)
    }
}

/// One stored event as verify reads it.
struct StoredRow {
    seq: Seq,
    event_id: String,
    /// The body as stored (compressed or plain, as `codec` says).
    body: Vec<u8>,
    codec: i64,
    stored_hash: Vec<u8>,
    submitter: Option<String>,
}

/// The events after a sequence number, in order, a page at a time.
const ROWS_AFTER: &str = "SELECT seq, event_id, CAST(body AS BLOB), chain_hash, submitter, codec FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2";
/// The same in a log of schema 5 or older (opened read-only, never migrated): every body plain.
const ROWS_AFTER_UNCOMPRESSED: &str = "SELECT seq, event_id, CAST(body AS BLOB), chain_hash, submitter, 0 FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2";
/// Rows read per query: a damaged page ends a query, and reading resumes past it.
const ROWS_PER_QUERY: i64 = 10_000;

fn stored_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredRow> {
    Ok(StoredRow {
        seq: row.get::<_, i64>(0)? as u64,
        event_id: row.get(1)?,
        body: row.get(2)?,
        stored_hash: row.get(3)?,
        submitter: row.get(4)?,
        codec: row.get(5)?,
    })
}

/// Whether reading failed because the stored pages are damaged (not, say, a locked file).
fn is_unreadable(error: &rusqlite::Error) -> bool {
    error.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseCorrupt)
        || matches!(
            error,
            rusqlite::Error::InvalidColumnType(..)
                | rusqlite::Error::FromSqlConversionFailure(..)
                | rusqlite::Error::Utf8Error(..)
                | rusqlite::Error::IntegralValueOutOfRange(..)
        )
}

/// An unreadable stretch: it starts at `from`; reading resumes at `resume` (none: the rest of
/// the log could not be read).
struct Hole {
    from: Seq,
    resume: Option<Seq>,
    error: String,
}

/// Reads the events in sequence order and steps over what cannot be read (a damaged page),
/// recording each unreadable stretch as a break that names its sequence numbers.
struct RowReader<'c> {
    connection: &'c rusqlite::Connection,
    /// [`ROWS_AFTER`], or its form for a log from before compression.
    rows_after: &'static str,
    /// The last sequence number read (or stepped over).
    after: i64,
    buffer: std::collections::VecDeque<StoredRow>,
    hole: Option<Hole>,
    done: bool,
    /// Set when the next row is the first after an unreadable stretch.
    resumed_after_hole: bool,
}

impl<'c> RowReader<'c> {
    fn new(connection: &'c rusqlite::Connection) -> rusqlite::Result<Self> {
        let compressed = connection
            .prepare("SELECT 1 FROM pragma_table_info('events') WHERE name = 'codec'")?
            .exists([])?;
        Ok(RowReader {
            connection,
            rows_after: if compressed {
                ROWS_AFTER
            } else {
                ROWS_AFTER_UNCOMPRESSED
            },
            after: 0,
            buffer: std::collections::VecDeque::new(),
            hole: None,
            done: false,
            resumed_after_hole: false,
        })
    }

    fn next_row(&mut self, report: &mut VerifyReport) -> Result<Option<StoredRow>, LogError> {
        loop {
            if let Some(row) = self.buffer.pop_front() {
                return Ok(Some(row));
            }
            if let Some(Hole {
                from,
                resume,
                error,
            }) = self.hole.take()
            {
                let end = match resume {
                    Some(next) => format!("through {}", next - 1),
                    None => "to the end of the log".to_owned(),
                };
                report.record(
                    from,
                    format!(
                        "unreadable: the events from sequence number {from} {end} cannot be read ({error}); restore them from a backup or the export"
                    ),
                );
                match resume {
                    Some(next) => {
                        // The sequence check counts on from where reading resumes.
                        report.last_seq = next - 1;
                        self.after = next as i64 - 1;
                        self.resumed_after_hole = true;
                    }
                    None => self.done = true,
                }
                continue;
            }
            if self.done {
                return Ok(None);
            }
            self.read_page()?;
        }
    }

    /// Buffers the next page of rows; at a damaged page, notes the hole and where reading
    /// resumes.
    fn read_page(&mut self) -> Result<(), LogError> {
        let mut statement = self.connection.prepare_cached(self.rows_after)?;
        let mut rows = statement.query(rusqlite::params![self.after, ROWS_PER_QUERY])?;
        let mut read = 0;
        let failure = loop {
            match rows.next().and_then(|row| row.map(stored_row).transpose()) {
                Ok(Some(row)) => {
                    self.after = row.seq as i64;
                    self.buffer.push_back(row);
                    read += 1;
                }
                Ok(None) => break None,
                Err(error) if is_unreadable(&error) => break Some(error),
                Err(error) => return Err(error.into()),
            }
        };
        drop(rows);
        match failure {
            Some(error) => {
                self.hole = Some(Hole {
                    from: self.after as u64 + 1,
                    resume: self.next_readable(self.after)?,
                    error: error.to_string(),
                });
            }
            None if read < ROWS_PER_QUERY => self.done = true,
            None => {}
        }
        Ok(())
    }

    /// Whether the first event at or after `from` can be read: its sequence number, `None` past
    /// the end, an error when it cannot.
    fn first_from(&self, from: i64) -> rusqlite::Result<Option<Seq>> {
        let mut statement = self.connection.prepare_cached(self.rows_after)?;
        let mut rows = statement.query(rusqlite::params![from - 1, 1])?;
        match rows.next()? {
            Some(row) => Ok(Some(stored_row(row)?.seq)),
            None => Ok(None),
        }
    }

    /// The first readable event after the damage that follows `after`: probes further and further
    /// ahead, then narrows down to the first position that reads.
    fn next_readable(&self, after: i64) -> Result<Option<Seq>, LogError> {
        let mut failed = after + 1;
        let mut step = 1;
        let (mut readable, mut found) = loop {
            let probe = failed.saturating_add(step);
            match self.first_from(probe) {
                Ok(Some(seq)) => break (probe, seq),
                Ok(None) => return Ok(None),
                Err(error) if is_unreadable(&error) => {
                    failed = probe;
                    step = step.saturating_mul(2);
                }
                Err(error) => return Err(error.into()),
            }
        };
        while readable - failed > 1 {
            let middle = failed + (readable - failed) / 2;
            match self.first_from(middle) {
                Ok(Some(seq)) => (readable, found) = (middle, seq),
                Ok(None) => failed = middle,
                Err(error) if is_unreadable(&error) => failed = middle,
                Err(error) => return Err(error.into()),
            }
        }
        Ok(Some(found))
    }
}

/// The `auditPayload` of a stored body of vigil's own, if its payload type is `payload_type`.
fn own_payload<T: serde::de::DeserializeOwned>(body: &[u8], payload_type: &str) -> Option<T> {
    let marker = payload_type.as_bytes();
    if !body.windows(marker.len()).any(|window| window == marker) {
        return None;
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Event<T> {
        audit_payload: T,
    }
    serde_json::from_slice::<Event<T>>(body)
        .ok()
        .map(|event| event.audit_payload)
}

/// A removal recorded by a version that did not sign removals: only its range.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UnsignedRemoval {
    from_seq: Seq,
    to_seq: Seq,
}

/// The public key checkpoints and removals are checked with: the given one, or the data
/// directory's own.
fn public_key(data_dir: Option<&Path>, options: &VerifyOptions) -> Option<String> {
    options.public_key.clone().or_else(|| {
        crate::export::SigningKey::existing_public_key_hex(data_dir?)
            .ok()
            .flatten()
    })
}

/// The chain hash stored after `seq`, if that event is stored.
fn stored_hash(db: &mut dyn Sql, seq: Seq) -> Result<Option<Vec<u8>>, LogError> {
    let row = db.query_optional(
        "SELECT chain_hash FROM events WHERE seq = ?1",
        &[Value::Integer(seq as i64)],
    )?;
    Ok(row
        .map(|row| row.bytes(0).map(<[u8]>::to_vec))
        .transpose()?)
}

/// Checks that the anchor the kept chain starts from was set by a removal vigil signed: one that
/// ends just before it with the same hash, or (a removal still in progress) one whose range
/// holds it and whose signed hash is the stored hash of its last event.
fn check_anchor(
    db: &mut dyn Sql,
    anchor: &ChainAnchor,
    removals: &[(Seq, SignedRemoval)],
    unsigned: &[UnsignedRemoval],
    public_key: Option<&str>,
    report: &mut VerifyReport,
) -> Result<(), LogError> {
    let last_removed = anchor.first_seq - 1;
    let Some(public_key) = public_key else {
        report.notes.push(format!(
            "the retention anchor at sequence number {} was not checked: no public key (give --public-key)",
            anchor.first_seq
        ));
        return Ok(());
    };
    let anchor_hash = hex::encode(anchor.previous_hash);
    for (recorded_at, removal) in removals {
        if !(removal.from_seq..=removal.to_seq).contains(&last_removed) {
            continue;
        }
        if let Err(problem) = removal.verify_signature(public_key) {
            report.record(
                *recorded_at,
                format!("the EventsRemoved event is not vigil's: {problem}"),
            );
            continue;
        }
        let consistent = if removal.to_seq == last_removed {
            removal.anchor_hash == anchor_hash
        } else {
            let stored = stored_hash(db, removal.to_seq)?;
            stored.map(hex::encode).as_deref() == Some(removal.anchor_hash.as_str())
        };
        if consistent {
            return Ok(());
        }
    }
    if unsigned
        .iter()
        .any(|removal| (removal.from_seq..=removal.to_seq).contains(&last_removed))
    {
        report.notes.push(format!(
            "the retention anchor at sequence number {} was set by a version of vigil that did not sign removals; its EventsRemoved event is in the chain but the anchor's hash cannot be proven",
            anchor.first_seq
        ));
        return Ok(());
    }
    report.record(
        anchor.first_seq,
        format!(
            "forged anchor: the chain starts after sequence number {last_removed}, but no EventsRemoved event signed by vigil records removing it with this hash"
        ),
    );
    Ok(())
}

fn check_checkpoints(
    db: &mut dyn Sql,
    public_key: Option<&str>,
    checkpoints: Vec<(String, Checkpoint)>,
    report: &mut VerifyReport,
) -> Result<(), LogError> {
    if checkpoints.is_empty() {
        return Ok(());
    }
    let Some(public_key) = public_key else {
        report.notes.push(format!(
            "{} signed checkpoints were not checked: no public key (give --public-key)",
            checkpoints.len()
        ));
        return Ok(());
    };
    for (source, checkpoint) in checkpoints {
        let seq = checkpoint.sequence_number;
        let signed_at = &checkpoint.signed_at;
        if let Err(problem) = checkpoint.verify_signature(public_key) {
            report.record(
                seq,
                format!(
                    "the checkpoint from {source} signed at {signed_at} is not vigil's: {problem}"
                ),
            );
            continue;
        }
        report.checkpoints_checked += 1;
        if report
            .latest_checkpoint
            .as_ref()
            .is_none_or(|(latest, _, _)| *latest < seq)
        {
            report.latest_checkpoint = Some((seq, signed_at.clone(), source.clone()));
        }
        if seq < report.first_seq {
            continue;
        }
        if seq > report.last_seq {
            report.record(
                report.last_seq + 1,
                format!(
                    "truncated: the log ends at sequence number {}, but the checkpoint from {source} signed at {signed_at} covers sequence number {seq}",
                    report.last_seq
                ),
            );
            continue;
        }
        let stored = stored_hash(db, seq)?;
        if stored.as_deref().map(hex::encode).as_deref() != Some(checkpoint.chain_hash.as_str()) {
            report.record(
                seq,
                format!(
                    "rewritten: the chain hash after sequence number {seq} is not the one the checkpoint from {source} signed at {signed_at}"
                ),
            );
        }
    }
    Ok(())
}
