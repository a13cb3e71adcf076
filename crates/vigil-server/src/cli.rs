//! The offline commands of the `vigil` binary: `verify`, `import`, `keys`. They work on a data
//! directory directly and may run beside a running server (SQLite serializes the writers).

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use anyhow::{Context, bail};
use vigil_core::ingest::{self, PreparedItem};
use vigil_core::keys::{self, KeyActor, Permission};
use vigil_core::{EventLog, LogEntry, verify};
use vigil_model::{ModelError, Timestamp, normalize};

/// Lines per append when importing.
const IMPORT_BATCH_LINES: usize = 1_000;
/// Rejected lines printed in full before the rest are only counted.
const IMPORT_MAX_PRINTED_REJECTIONS: usize = 20;

/// `vigil verify`: prints the outcome; returns whether the chain is intact.
pub fn verify_command(data_dir: &Path) -> anyhow::Result<bool> {
    let report = verify(data_dir).with_context(|| format!("verifying {}", data_dir.display()))?;
    match report.first_break {
        None => {
            println!(
                "OK: {} events, hash chain intact through sequence number {}",
                report.events, report.last_seq
            );
            Ok(true)
        }
        Some(first_break) => {
            println!(
                "BROKEN at sequence number {}: {} ({} events before it verified)",
                first_break.seq, first_break.reason, report.events
            );
            Ok(false)
        }
    }
}

fn local_actor() -> KeyActor {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    KeyActor {
        actor_type: "SYSTEM_ACCOUNT",
        id: format!("vigil-cli:{user}"),
        name: format!("vigil CLI ({user})"),
    }
}

/// `vigil reindex`: rebuilds the search index from the log, with progress.
pub fn reindex_command(data_dir: &Path) -> anyhow::Result<()> {
    let progress = std::io::stderr().is_terminal();
    let started = std::time::Instant::now();
    let indexed = vigil_core::search::reindex(data_dir, |done, total| {
        if progress {
            let percent = (done * 100).checked_div(total).unwrap_or(100);
            eprint!("\rreindexing: {percent:>3}%  {done} of {total} events");
            let _ = std::io::stderr().flush();
        }
    })
    .with_context(|| format!("reindexing {}", data_dir.display()))?;
    if progress {
        eprintln!();
    }
    println!(
        "reindexed {indexed} events in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `vigil keys create`.
pub fn keys_create(data_dir: &Path, name: &str, permissions: &[String]) -> anyhow::Result<()> {
    let mut parsed = Vec::new();
    for text in permissions.iter().flat_map(|p| p.split(',')) {
        let permission = Permission::parse(text.trim())
            .with_context(|| format!("unknown permission `{text}`: use AUDIT, INGEST or ADMIN"))?;
        parsed.push(permission);
    }
    let log = EventLog::open(data_dir)?;
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
pub fn keys_list(data_dir: &Path) -> anyhow::Result<()> {
    let log = EventLog::open(data_dir)?;
    let keys = keys::list_keys(&log)?;
    println!(
        "{:<36}  {:<24}  {:<22}  CREATED",
        "ID", "NAME", "PERMISSIONS"
    );
    for key in keys {
        let names: Vec<&str> = key.permissions.iter().map(|p| p.as_str()).collect();
        println!(
            "{:<36}  {:<24}  {:<22}  {}",
            key.id,
            key.name,
            names.join(","),
            key.created_at
        );
    }
    Ok(())
}

/// `vigil keys delete`.
pub fn keys_delete(data_dir: &Path, id_or_name: &str) -> anyhow::Result<()> {
    let log = EventLog::open(data_dir)?;
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
pub fn import_command(data_dir: &Path, file: &Path) -> anyhow::Result<bool> {
    let input = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let size = input.metadata().map(|m| m.len()).unwrap_or(0);
    let log = EventLog::open(data_dir)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
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
            .map(LogEntry::from_normalized)
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
