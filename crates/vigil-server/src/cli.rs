//! The offline commands of the `vigil` binary: `verify`, `import`, `keys`, `reindex`. They work
//! on the state of record directly — a data directory, or a cluster's PostgreSQL database — and
//! may run beside running servers (the log serializes the writers).

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use vigil_core::checkpoint::read_checkpoint_files;
use vigil_core::ingest::{self, PreparedItem};
use vigil_core::keys::{self, KeyActor, Permission};
use vigil_core::search::{self, SearchIndex};
use vigil_core::store::DatabaseUrl;
use vigil_core::{EventLog, LogEntry, VerifyOptions, verify_postgres, verify_with};
use vigil_model::{ModelError, Timestamp, normalize};

/// Lines per append when importing.
const IMPORT_BATCH_LINES: usize = 1_000;
/// How long an import waits for an indexer that makes no progress.
const INDEXING_STALLED: Duration = Duration::from_secs(60);
/// Rejected lines printed in full before the rest are only counted.
const IMPORT_MAX_PRINTED_REJECTIONS: usize = 20;

/// Where the offline commands find the state of record: the data directory, or the database of
/// a cluster (`--database-url`), with the data directory then holding only this machine's
/// derived views.
#[derive(Debug, Clone)]
pub struct Storage {
    /// `--data-dir`.
    pub data_dir: PathBuf,
    /// `--database-url`, parsed.
    pub database: Option<DatabaseUrl>,
}

impl Storage {
    /// `--data-dir` and `--database-url` as given; the URL's error never shows its password.
    pub fn new(data_dir: PathBuf, database_url: Option<&str>) -> anyhow::Result<Storage> {
        let database = database_url
            .map(DatabaseUrl::parse)
            .transpose()
            .map_err(|error| anyhow::anyhow!("--database-url (VIGIL_DATABASE_URL): {error}"))?;
        Ok(Storage { data_dir, database })
    }

    /// Opens the log, creating it when needed.
    pub fn open_log(&self) -> anyhow::Result<EventLog> {
        match &self.database {
            Some(url) => EventLog::open_postgres(url)
                .with_context(|| format!("opening the event log in {url}")),
            None => EventLog::open(&self.data_dir)
                .with_context(|| format!("opening the event log in {}", self.data_dir.display())),
        }
    }

    /// Opens a log that must exist already (a data directory `vigil serve` created, or a
    /// database; a database's schema is created by whoever opens it first).
    fn existing_log(&self) -> anyhow::Result<EventLog> {
        if self.database.is_none() && !self.data_dir.join(vigil_core::DATABASE_FILE).is_file() {
            bail!(
                "{}: not a vigil data directory (it has no {}); give the --data-dir (or VIGIL_DATA_DIR) that `vigil serve` uses, or start `vigil serve` once to create it",
                self.data_dir.display(),
                vigil_core::DATABASE_FILE
            );
        }
        self.open_log()
    }

    /// What the commands say they worked on.
    fn describe(&self) -> String {
        match &self.database {
            Some(url) => url.to_string(),
            None => self.data_dir.display().to_string(),
        }
    }
}

/// `vigil verify`: prints the outcome; returns whether the chain is intact and agrees with every
/// signed checkpoint.
pub fn verify_command(
    storage: &Storage,
    checkpoint_paths: &[std::path::PathBuf],
    public_key: Option<String>,
) -> anyhow::Result<bool> {
    let mut options = VerifyOptions {
        public_key,
        ..VerifyOptions::default()
    };
    for path in checkpoint_paths {
        let found = read_checkpoint_files(path).map_err(anyhow::Error::msg)?;
        if found.is_empty() {
            bail!(
                "no vigil checkpoint file (vigil-checkpoint-*.json) in {}",
                path.display()
            );
        }
        options.checkpoints.extend(found);
    }
    let report = match &storage.database {
        Some(url) => {
            if options.public_key.is_none() {
                // The cluster's signing key is in the database; its public half is stored beside
                // it. A copy kept elsewhere (--public-key) is the stronger check.
                let log = storage.open_log()?;
                options.public_key = vigil_core::export::SigningKey::cluster_public_key_hex(&log)?;
                log.shutdown();
            }
            verify_postgres(url, &options)
        }
        None => verify_with(&storage.data_dir, &options),
    }
    .with_context(|| format!("verifying {}", storage.describe()))?;
    let intact = report.is_intact();
    if intact {
        let range = if report.first_seq > 1 {
            format!(
                "from sequence number {} (earlier events removed by retention) through {}",
                report.first_seq, report.last_seq
            )
        } else {
            format!("through sequence number {}", report.last_seq)
        };
        println!("OK: {} events, hash chain intact {range}", report.events);
    }
    for chain_break in &report.breaks {
        println!(
            "BROKEN at sequence number {}: {}",
            chain_break.seq, chain_break.reason
        );
    }
    let unlisted = report.break_count - report.breaks.len() as u64;
    if unlisted > 0 {
        println!("… and {unlisted} more breaks not listed");
    }
    if !intact {
        let noun = if report.break_count == 1 {
            "break"
        } else {
            "breaks"
        };
        println!(
            "BROKEN: {} {noun} in {} events (sequence numbers {} through {})",
            report.break_count, report.events, report.first_seq, report.last_seq
        );
    }
    if let Some((seq, signed_at, source)) = &report.latest_checkpoint {
        println!(
            "checked against {} signed checkpoints; the newest covers sequence number {seq} (signed at {signed_at}, from {source})",
            report.checkpoints_checked
        );
    }
    for note in &report.notes {
        println!("note: {note}");
    }
    Ok(intact)
}

/// The local user running the CLI (`$USER`).
fn local_user() -> String {
    std::env::var("USER").unwrap_or_else(|_| "unknown".into())
}

fn local_actor() -> KeyActor {
    let user = local_user();
    KeyActor {
        actor_type: "SYSTEM_ACCOUNT",
        id: format!("vigil-cli:{user}"),
        name: format!("vigil CLI ({user})"),
        identity_provider: None,
    }
}

/// `vigil reindex`: rebuilds the search index from the log, with progress.
pub fn reindex_command(storage: &Storage) -> anyhow::Result<()> {
    let data_dir = &storage.data_dir;
    let progress = std::io::stderr().is_terminal();
    let started = std::time::Instant::now();
    let log = storage.existing_log()?;
    let indexed = vigil_core::search::reindex(data_dir, &log, |done, total| {
        if progress {
            let percent = (done * 100).checked_div(total).unwrap_or(100);
            eprint!("\rreindexing: {percent:>3}%  {done} of {total} events");
            let _ = std::io::stderr().flush();
        }
    })
    .with_context(|| format!("reindexing {}", data_dir.display()))?;
    log.shutdown();
    if progress {
        eprintln!();
    }
    println!(
        "reindexed {indexed} events in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `vigil reindex --projection`: rebuilds the governance projection from the log, with progress.
pub fn rebuild_projection_command(storage: &Storage) -> anyhow::Result<()> {
    let data_dir = &storage.data_dir;
    let progress = std::io::stderr().is_terminal();
    let started = std::time::Instant::now();
    let log = storage.existing_log()?;
    let projected = vigil_core::governance::rebuild(data_dir, &log, |done, total| {
        if progress {
            let percent = (done * 100).checked_div(total).unwrap_or(100);
            eprint!(
                "\rrebuilding the governance projection: {percent:>3}%  {done} of {total} events"
            );
            let _ = std::io::stderr().flush();
        }
    })
    .with_context(|| {
        format!(
            "rebuilding the governance projection of {}",
            data_dir.display()
        )
    })?;
    log.shutdown();
    if progress {
        eprintln!();
    }
    println!(
        "rebuilt the governance projection up to event {projected} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// What `vigil search` asks for.
pub struct SearchArgs {
    /// The server.
    pub url: String,
    /// The API key.
    pub api_key: String,
    /// `field=value` filters.
    pub filters: Vec<String>,
    /// Keywords.
    pub keywords: Option<String>,
    /// Range start.
    pub from: Option<String>,
    /// Range end.
    pub to: Option<String>,
    /// Hits (ignored with `all`).
    pub size: usize,
    /// How the events are printed.
    pub output: SearchOutput,
    /// Every matching event, streamed.
    pub all: bool,
    /// Also vigil's own reads.
    pub own_reads: bool,
}

/// How `vigil search` prints events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchOutput {
    /// An aligned table.
    Table,
    /// The stored JSON, one event a line.
    Ndjson,
    /// CSV with a header row.
    Csv,
}

/// `vigil search`: searches a running server and prints a table or JSON lines.
pub fn search_command(args: SearchArgs) -> anyhow::Result<()> {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for filter in &args.filters {
        let (field, value) = filter.split_once('=').with_context(|| {
            format!("--filter `{filter}` is not FIELD=VALUE (for example action=QUERY)")
        })?;
        query.append_pair(field.trim(), value.trim());
    }
    for (name, value) in [
        ("q", &args.keywords),
        ("from", &args.from),
        ("to", &args.to),
    ] {
        if let Some(value) = value {
            query.append_pair(name, value);
        }
    }
    if args.own_reads {
        query.append_pair("ownReads", "include");
    }
    let download = match args.output {
        SearchOutput::Table if !args.all => None,
        SearchOutput::Csv => Some("csv"),
        _ => Some("ndjson"),
    };
    if !args.all {
        query.append_pair("size", &args.size.to_string());
    }
    match download {
        Some(format) => query.append_pair("format", format),
        None => query.append_pair("facets", "none"),
    };
    let url = format!(
        "{}/api/audit/events?{}",
        args.url.trim_end_matches('/'),
        query.finish()
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    if download.is_some() {
        // Streamed to stdout as it arrives: memory stays flat at any number of events.
        return runtime.block_on(async {
            use std::io::Write;
            let mut response = reqwest::Client::new()
                .get(&url)
                .header("Authorization", format!("Bearer {}", args.api_key))
                .send()
                .await
                .with_context(|| format!("connecting to {}", args.url))?;
            let status = response.status();
            if !status.is_success() {
                let body: serde_json::Value = response.json().await.unwrap_or_default();
                bail!(
                    "the server answered {status}: {}",
                    body["error"].as_str().unwrap_or("(no message)")
                );
            }
            let mut stdout = std::io::stdout().lock();
            while let Some(chunk) = response
                .chunk()
                .await
                .context("reading the events (the download stopped)")?
            {
                stdout.write_all(&chunk)?;
            }
            stdout.flush()?;
            Ok(())
        });
    }
    let body: serde_json::Value = runtime.block_on(async {
        let response = reqwest::Client::new()
            .get(&url)
            .header("Authorization", format!("Bearer {}", args.api_key))
            .send()
            .await
            .with_context(|| format!("connecting to {}", args.url))?;
        let status = response.status();
        let body: serde_json::Value = response.json().await.context("reading the answer")?;
        if !status.is_success() {
            bail!(
                "the server answered {status}: {}",
                body["error"].as_str().unwrap_or("(no message)")
            );
        }
        Ok(body)
    })?;
    let hits = body["hits"].as_array().cloned().unwrap_or_default();
    let text = |value: &serde_json::Value| value.as_str().unwrap_or("-").to_owned();
    crate::table::print(
        &[
            "EVENT TIME",
            "ACTION",
            "STATUS",
            "ACTOR",
            "TARGET",
            "EVENT TYPE",
        ],
        hits.iter().map(|hit| {
            let target = hit["targets"]
                .get(0)
                .map(|t| text(&t["name"]))
                .unwrap_or_else(|| "-".into());
            let event_type = hit["auditPayload"]["type"]
                .as_str()
                .unwrap_or("-")
                .trim_end_matches("AuditPayload")
                .to_owned();
            let actor = match hit["actor"]["name"].as_str() {
                Some(name) => name.to_owned(),
                None => text(&hit["actor"]["id"]),
            };
            vec![
                text(&hit["eventTimestamp"]),
                text(&hit["action"]),
                text(&hit["actionStatus"]),
                truncate(&actor, 40),
                truncate(&target, 40),
                event_type,
            ]
        }),
    );
    println!("{} of {} matching events", hits.len(), body["total"]);
    Ok(())
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(width - 1).collect::<String>())
    }
}

/// `vigil keys create`.
pub fn keys_create(storage: &Storage, name: &str, permissions: &[String]) -> anyhow::Result<()> {
    let mut parsed = Vec::new();
    for text in permissions.iter().flat_map(|p| p.split(',')) {
        let permission = Permission::parse(text.trim()).with_context(|| {
            format!("unknown permission `{text}`: use AUDIT, INGEST, ADMIN or EXPORT_ADMIN")
        })?;
        parsed.push(permission);
    }
    let log = storage.existing_log()?;
    let created = keys::create_key(&log, name, &parsed, None, &local_actor())?;
    let names: Vec<&str> = created
        .info
        .permissions
        .iter()
        .map(|p| p.as_str())
        .collect();
    println!(
        "created API key `{}` (id {}) with {}",
        created.info.name,
        created.info.id,
        names.join(", ")
    );
    println!("its secret is shown only this once:");
    println!("{}", created.secret);
    Ok(())
}

/// `vigil keys list`.
pub fn keys_list(storage: &Storage) -> anyhow::Result<()> {
    let log = storage.existing_log()?;
    let keys = keys::list_keys(&log)?;
    crate::table::print(
        &["ID", "NAME", "PERMISSIONS", "CREATED"],
        keys.into_iter().map(|key| {
            let names: Vec<&str> = key.permissions.iter().map(|p| p.as_str()).collect();
            vec![key.id, key.name, names.join(","), key.created_at]
        }),
    );
    Ok(())
}

/// `vigil keys delete`.
pub fn keys_delete(storage: &Storage, id_or_name: &str) -> anyhow::Result<()> {
    let log = storage.existing_log()?;
    let deleted = keys::delete_key(&log, id_or_name, &local_actor())?;
    println!("deleted API key `{}` (id {})", deleted.name, deleted.id);
    Ok(())
}

/// Totals of an import.
#[derive(Debug, Default)]
struct ImportTotals {
    lines: usize,
    stored: usize,
    duplicates: usize,
    rejected: usize,
}

/// `vigil import FILE.ndjson`: loads events through the same path as the HTTP API. Returns
/// whether every line was stored or was a duplicate.
pub fn import_command(storage: &Storage, file: &Path) -> anyhow::Result<bool> {
    let input = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let size = input.metadata().map(|m| m.len()).unwrap_or(0);
    let log = Arc::new(storage.open_log()?);
    // The search index of a data directory is built while the events are stored, on the core
    // the import leaves free, so they are searchable when `serve` starts. A running server
    // indexes them itself; a cluster's nodes each index their own copy.
    let search = if storage.database.is_none() && !search::index_in_use(&storage.data_dir) {
        Some(
            SearchIndex::open(&storage.data_dir, log.clone()).with_context(|| {
                format!("opening the search index in {}", storage.data_dir.display())
            })?,
        )
    } else {
        None
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let submitter = vigil_core::Submitter::cli(&local_user());
    let progress = std::io::stderr().is_terminal();
    let mut reader = std::io::BufReader::new(input);
    let mut totals = ImportTotals::default();
    let mut read_bytes = 0u64;
    let mut line_number = 0usize;
    loop {
        let mut batch: Vec<(usize, PreparedItem)> = Vec::with_capacity(IMPORT_BATCH_LINES);
        let arrival = Timestamp::now();
        let mut line = String::new();
        while batch.len() < IMPORT_BATCH_LINES {
            line.clear();
            let read = reader
                .read_line(&mut line)
                .with_context(|| format!("reading {}", file.display()))?;
            if read == 0 {
                break;
            }
            read_bytes += read as u64;
            line_number += 1;
            if line.trim().is_empty() {
                continue;
            }
            let item = normalize(
                line.trim_end(),
                || uuid::Uuid::new_v4().to_string(),
                arrival,
            )
            .map(|event| LogEntry::from_normalized(event).submitted_by(submitter.clone()))
            .map_err(|error| match error {
                ModelError::Syntax {
                    column, message, ..
                } => ModelError::Syntax {
                    line: line_number,
                    column,
                    message,
                },
                other => other,
            });
            batch.push((line_number, item));
        }
        if batch.is_empty() {
            break;
        }
        let lines: Vec<usize> = batch.iter().map(|(line, _)| *line).collect();
        let items = batch.into_iter().map(|(_, item)| item).collect();
        let report = runtime
            .block_on(ingest::ingest(&log, items))
            .context("storing events")?;
        totals.lines += lines.len();
        totals.stored += report.stored.len();
        totals.duplicates += report.duplicates.len();
        for (index, _, reason) in &report.rejected {
            totals.rejected += 1;
            if totals.rejected <= IMPORT_MAX_PRINTED_REJECTIONS {
                eprintln!("{}: line {}: {reason}", file.display(), lines[*index]);
            }
        }
        if progress {
            let percent = (read_bytes * 100).checked_div(size).unwrap_or(100);
            eprint!(
                "\rimporting: {percent:>3}%  {} events stored, {} duplicates, {} rejected",
                totals.stored, totals.duplicates, totals.rejected
            );
            let _ = std::io::stderr().flush();
        }
    }
    if progress {
        eprintln!();
    }
    if let Some(search) = search {
        wait_until_searchable(&search, log.last_seq()?, progress);
        search.shutdown();
    }
    log.shutdown();
    if totals.rejected > IMPORT_MAX_PRINTED_REJECTIONS {
        eprintln!(
            "… and {} more rejected lines",
            totals.rejected - IMPORT_MAX_PRINTED_REJECTIONS
        );
    }
    println!(
        "imported {}: {} lines, {} stored, {} duplicates, {} rejected",
        file.display(),
        totals.lines,
        totals.stored,
        totals.duplicates,
        totals.rejected
    );
    if totals.lines == 0 {
        bail!("{} holds no events", file.display());
    }
    Ok(totals.rejected == 0)
}

/// Waits until the import's events are searchable. An indexer that stops moving (the index
/// found ahead of the log, a failing disk) is left to the server, which says why.
fn wait_until_searchable(search: &SearchIndex, last: u64, progress: bool) {
    let mut seen = (search.indexed_seq(), std::time::Instant::now());
    while !search.wait_until_indexed(last, Duration::from_secs(1)) {
        let indexed = search.indexed_seq();
        if progress {
            eprint!("\rindexing: {indexed} of {last} events searchable");
            let _ = std::io::stderr().flush();
        }
        if indexed > seen.0 {
            seen = (indexed, std::time::Instant::now());
        } else if search.integrity_alarm().is_some() || seen.1.elapsed() > INDEXING_STALLED {
            eprintln!(
                "\nthe search index stopped at event {indexed} of {last}; `vigil serve` indexes the rest and says why it stopped"
            );
            return;
        }
    }
    if progress {
        eprintln!("\rindexing: all {last} events searchable");
    }
}

/// `vigil health`: whether the server at `url` answers `GET /healthz` with 200 (in 5 s).
pub fn health_command(url: &str) -> anyhow::Result<bool> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let answer = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .build()?
            .get(format!("{}/healthz", url.trim_end_matches('/')))
            .send()
            .await;
        match answer {
            Ok(response) if response.status().is_success() => {
                println!("healthy: {url}");
                Ok(true)
            }
            Ok(response) => {
                eprintln!("unhealthy: {url} answered {}", response.status());
                Ok(false)
            }
            Err(error) => {
                eprintln!("unhealthy: {url} did not answer ({error})");
                Ok(false)
            }
        }
    })
}
