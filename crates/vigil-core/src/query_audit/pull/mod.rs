//! Pull integrations (Snowflake, Databricks Unity Catalog): their stored configurations with
//! sealed secrets, the run that reads a window from the source and appends its events before it
//! moves the watermark, the hourly schedule (one interval per integration type) and the manual
//! "Load Audit Events" job.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio::sync::{Notify, watch};

use super::databricks::{self, DatabricksPages, DatabricksSettings, Opened};
use super::snowflake::{self, SnowflakePages, SnowflakeSettings};
use super::{QueryEvent, iso, store_events};
use crate::cluster::Leases;
use crate::export::MasterKey;
use crate::keys::KeyActor;
use crate::log::{EventLog, LogEntry, SideWrite, Submitter};
use crate::outbound::{self, OutboundPolicy};
use crate::own_events::OwnEvent;
use crate::registry::Registry;
use crate::store::values;

mod config;
mod store;

pub use super::source::{Page, PageSource, PullError, Row, RowOutcome, describe};
pub use config::*;
pub use store::*;

/// A manual load: one run of every enabled pull integration, in the background.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadJob {
    /// Id.
    pub id: String,
    /// `RUNNING`, `SUCCEEDED` or `FAILED` (at least one integration failed).
    pub state: &'static str,
    /// When it started.
    pub started_at: String,
    /// When it ended.
    pub finished_at: Option<String>,
    /// One entry per integration.
    pub integrations: Vec<LoadJobItem>,
}

/// One integration of a load.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadJobItem {
    /// Integration id.
    pub id: String,
    /// Integration name.
    pub name: String,
    /// Integration type.
    #[serde(rename = "type")]
    pub kind: IntegrationKind,
    /// `PENDING`, `RUNNING`, `SUCCEEDED` or `FAILED`.
    pub state: &'static str,
    /// Progress so far.
    pub run: RunSummary,
}

/// Loads kept for `GET /api/audit/load/{id}`.
const KEPT_LOAD_JOBS: usize = 50;

/// The narrowest window a Unity Catalog statement is narrowed to; a window this short is read
/// whole, however many rows it has.
const MIN_WINDOW: chrono::Duration = chrono::Duration::minutes(1);

/// A run reads at most this many times `rowsPerStatement` rows (once it has moved the watermark).
const RUN_BUDGET_STATEMENTS: u64 = 10;

/// One run in progress: what it reports, and the watermark it has reached.
struct RunState<'a> {
    integration: &'a Integration,
    progress: &'a Mutex<RunSummary>,
    on_progress: &'a (dyn Fn() + Sync),
    watermark: Option<DateTime<Utc>>,
    shutdown: watch::Receiver<bool>,
}

/// The pull integrations, their schedule and their runs.
pub struct PullService {
    log: Arc<EventLog>,
    registry: Arc<Registry>,
    master: MasterKey,
    client: reqwest::Client,
    wake: Notify,
    running: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    jobs: Mutex<Vec<Arc<Mutex<LoadJob>>>>,
    shutdown: watch::Sender<bool>,
    scheduler: Mutex<Option<tokio::task::JoinHandle<()>>>,
    outbound: OutboundPolicy,
    /// Which node runs which integration, in a cluster.
    leases: Arc<Leases>,
}

/// The lease under which one node runs integration `id`.
fn lease_name(id: &str) -> String {
    format!("pull:{id}")
}

impl PullService {
    /// Opens the service (loads the master key). Blocking; call [`PullService::start`] in a runtime.
    pub fn open(
        log: Arc<EventLog>,
        registry: Arc<Registry>,
        data_dir: &Path,
        master_key: Option<&str>,
        outbound: OutboundPolicy,
        leases: Arc<Leases>,
    ) -> Result<Arc<PullService>, PullError> {
        let master = MasterKey::for_log(&log, data_dir, master_key)?;
        let client =
            outbound::http_client(outbound, Duration::from_secs(10), Duration::from_secs(300))
                .map_err(|error| {
                    PullError::Config(format!("could not build the HTTP client: {error}"))
                })?;
        Ok(Arc::new(PullService {
            log,
            registry,
            master,
            client,
            wake: Notify::new(),
            running: Default::default(),
            jobs: Default::default(),
            shutdown: watch::channel(false).0,
            scheduler: Mutex::new(None),
            outbound,
            leases,
        }))
    }

    /// Starts the scheduler task.
    pub fn start(self: &Arc<Self>) {
        let service = self.clone();
        let handle = tokio::spawn(async move { service.schedule_loop().await });
        *self.scheduler.lock().expect("scheduler lock") = Some(handle);
    }

    /// Stops the scheduler and waits for it (a run in progress ends at its next page).
    pub async fn shutdown(&self) {
        let _ = self.shutdown.send(true);
        let handle = self.scheduler.lock().expect("scheduler lock").take();
        if let Some(handle) = handle {
            let _ = handle.await;
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&EventLog) -> Result<T, PullError> + Send + 'static,
    ) -> Result<T, PullError> {
        let log = self.log.clone();
        tokio::task::spawn_blocking(move || work(&log)).await?
    }

    /// Every integration with its status.
    pub async fn list(&self) -> Result<Vec<(Integration, IntegrationStatus)>, PullError> {
        self.blocking(|log| {
            list_integrations(log)?
                .into_iter()
                .map(|integration| {
                    let status = read_status(log, &integration.id)?;
                    Ok((integration, status))
                })
                .collect()
        })
        .await
    }

    /// One integration with its status.
    pub async fn get(&self, id: &str) -> Result<(Integration, IntegrationStatus), PullError> {
        let id = id.to_owned();
        self.blocking(move |log| Ok((get_integration(log, &id)?, read_status(log, &id)?)))
            .await
    }

    /// Creates an integration, with its `…Created` event.
    pub async fn create(
        &self,
        input: IntegrationInput,
        actor: KeyActor,
    ) -> Result<Integration, PullError> {
        self.check_host(&input.source)
            .await
            .map_err(PullError::Invalid)?;
        let now = now_text();
        let integration = Integration {
            id: uuid::Uuid::new_v4().to_string(),
            name: input.name,
            enabled: input.enabled,
            overlap_minutes: input.overlap_minutes,
            initial_lookback_hours: input.initial_lookback_hours,
            source: input.source,
            created_at: now.clone(),
            updated_at: now,
        };
        let secret = input.secret.unwrap_or_default();
        let sealed = self.master.seal(&integration.id, &secret)?;
        let row = integration.clone();
        let event = integration_event(
            "CREATE",
            "QueryAuditIntegrationCreatedAuditPayload",
            &integration,
            &actor,
        );
        let side_write: SideWrite = Box::new(move |db| {
            db.execute(
                "INSERT INTO integrations (id, kind, settings, sealed_secret, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                values![
                    &row.id,
                    row.source.kind().as_str(),
                    serde_json::to_string(&row).expect("integration serializes"),
                    sealed,
                    &row.created_at,
                    &row.updated_at
                ],
            )?;
            Ok(())
        });
        self.log.append_with(vec![event], Some(side_write)).await?;
        self.wake.notify_one();
        Ok(integration)
    }

    /// Replaces an integration's settings (same type); a missing secret keeps the stored one.
    pub async fn update(
        &self,
        id: &str,
        input: IntegrationInput,
        actor: KeyActor,
    ) -> Result<Integration, PullError> {
        let (current, _) = self.get(id).await?;
        self.check_host(&input.source)
            .await
            .map_err(PullError::Invalid)?;
        if current.source.kind() != input.source.kind() {
            return Err(PullError::Invalid(format!(
                "type: integration {id} is {}, not {}; delete it and create a new one to change the type",
                current.source.kind().as_str(),
                input.source.kind().as_str()
            )));
        }
        if let (Source::Snowflake(old), Source::Snowflake(new), None) =
            (&current.source, &input.source, &input.secret)
            && old.authentication != new.authentication
        {
            return Err(PullError::Invalid(
                "authentication: changing the authentication type needs its new secret".into(),
            ));
        }
        let integration = Integration {
            name: input.name,
            enabled: input.enabled,
            overlap_minutes: input.overlap_minutes,
            initial_lookback_hours: input.initial_lookback_hours,
            source: input.source,
            updated_at: now_text(),
            ..current
        };
        let sealed = match &input.secret {
            Some(secret) => Some(self.master.seal(&integration.id, secret)?),
            None => None,
        };
        let row = integration.clone();
        let event = integration_event(
            "UPDATE",
            "QueryAuditIntegrationUpdatedAuditPayload",
            &integration,
            &actor,
        );
        let side_write: SideWrite = Box::new(move |db| {
            db.execute(
                "UPDATE integrations SET settings = ?2, sealed_secret = coalesce(?3, sealed_secret),
                     updated_at = ?4 WHERE id = ?1",
                values![
                    &row.id,
                    serde_json::to_string(&row).expect("integration serializes"),
                    sealed,
                    &row.updated_at
                ],
            )?;
            Ok(())
        });
        self.log.append_with(vec![event], Some(side_write)).await?;
        self.wake.notify_one();
        Ok(integration)
    }

    /// Deletes an integration and its state, with its `…Deleted` event. Events it stored stay.
    pub async fn delete(&self, id: &str, actor: KeyActor) -> Result<Integration, PullError> {
        let (integration, _) = self.get(id).await?;
        let lock = self.run_lock(id);
        let _running = lock.lock().await;
        let event = integration_event(
            "DELETE",
            "QueryAuditIntegrationDeletedAuditPayload",
            &integration,
            &actor,
        );
        let row_id = integration.id.clone();
        let side_write: SideWrite = Box::new(move |db| {
            db.execute("DELETE FROM integrations WHERE id = ?1", values![&row_id])?;
            db.execute(
                "DELETE FROM integration_state WHERE integration_id = ?1",
                values![row_id],
            )?;
            Ok(())
        });
        self.log.append_with(vec![event], Some(side_write)).await?;
        let (leases, name) = (self.leases.clone(), lease_name(id));
        let _ = tokio::task::spawn_blocking(move || leases.release(&name)).await;
        Ok(integration)
    }

    /// The schedule.
    pub async fn schedule(&self) -> Result<HashMap<IntegrationKind, u32>, PullError> {
        self.blocking(read_schedule).await
    }

    /// Changes the schedule, with a `QueryAuditScheduleUpdated` event.
    pub async fn set_schedule(
        &self,
        changes: Vec<(IntegrationKind, u32)>,
        actor: KeyActor,
    ) -> Result<HashMap<IntegrationKind, u32>, PullError> {
        let mut schedule = self.schedule().await?;
        for (kind, minutes) in &changes {
            schedule.insert(*kind, *minutes);
        }
        let event = OwnEvent {
            action: "UPDATE",
            target_type: "CONFIGURATION",
            actor: actor.to_json(),
            targets: json!([{ "type": "CONFIGURATION", "id": "queryAuditSchedule", "name": "Query audit schedule" }]),
            payload: json!({
                "type": "QueryAuditScheduleUpdatedAuditPayload",
                "version": 1,
                "schedule": schedule_json(&schedule),
            }),
        }
        .into_entry();
        let side_write: SideWrite = Box::new(move |db| {
            for (kind, minutes) in &changes {
                db.execute(
                    "INSERT INTO integration_schedule (kind, interval_minutes) VALUES (?1, ?2)
                     ON CONFLICT (kind) DO UPDATE SET interval_minutes = excluded.interval_minutes",
                    values![kind.as_str(), i64::from(*minutes)],
                )?;
            }
            Ok(())
        });
        self.log.append_with(vec![event], Some(side_write)).await?;
        self.wake.notify_one();
        Ok(schedule)
    }

    /// Whether this node holds the lease of integration `id` (always, on the embedded log).
    async fn holds_lease(&self, id: &str) -> bool {
        let (leases, name) = (self.leases.clone(), lease_name(id));
        tokio::task::spawn_blocking(move || leases.holds(&name))
            .await
            .unwrap_or(false)
    }

    fn run_lock(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.running
            .lock()
            .expect("run locks")
            .entry(id.to_owned())
            .or_default()
            .clone()
    }

    /// Refuses a host the outbound policy does not allow (loopback, private or link-local, unless
    /// the operator allowed those).
    async fn check_host(&self, source: &Source) -> Result<(), String> {
        let (field, url) = match source {
            Source::Snowflake(settings) => ("accountUrl", settings.account_url.as_str()),
            Source::DatabricksUnityCatalog(settings) => ("host", settings.host.as_str()),
        };
        outbound::check_destination(field, url, self.outbound).await
    }

    /// Starts a manual load of every enabled pull integration; returns at once with the job. While
    /// one is running, asking again answers that job instead of starting another: one load in
    /// flight at a time.
    pub async fn load(self: &Arc<Self>) -> Result<LoadJob, PullError> {
        let integrations: Vec<Integration> = self
            .blocking(list_integrations)
            .await?
            .into_iter()
            .filter(|integration| integration.enabled)
            .collect();
        let job = Arc::new(Mutex::new(LoadJob {
            id: uuid::Uuid::new_v4().to_string(),
            state: "RUNNING",
            started_at: now_text(),
            finished_at: None,
            integrations: integrations
                .iter()
                .map(|integration| LoadJobItem {
                    id: integration.id.clone(),
                    name: integration.name.clone(),
                    kind: integration.source.kind(),
                    state: "PENDING",
                    run: RunSummary::default(),
                })
                .collect(),
        }));
        {
            let mut jobs = self.jobs.lock().expect("load jobs");
            let running = jobs
                .iter()
                .map(|job| job.lock().expect("load job").clone())
                .find(|job| job.state == "RUNNING");
            if let Some(running) = running {
                return Ok(running);
            }
            jobs.push(job.clone());
            let excess = jobs.len().saturating_sub(KEPT_LOAD_JOBS);
            jobs.drain(..excess);
        }
        let service = self.clone();
        let background = job.clone();
        tokio::spawn(async move {
            let mut failed = false;
            for (index, integration) in integrations.iter().enumerate() {
                background.lock().expect("load job").integrations[index].state = "RUNNING";
                let progress = Arc::new(Mutex::new(RunSummary::default()));
                let watcher = {
                    let progress = progress.clone();
                    let background = background.clone();
                    move || {
                        let current = progress.lock().expect("run progress").clone();
                        background.lock().expect("load job").integrations[index].run = current;
                    }
                };
                let result = service.run(integration, &progress, &watcher).await;
                watcher();
                let mut job = background.lock().expect("load job");
                job.integrations[index].state = if result.is_ok() {
                    "SUCCEEDED"
                } else {
                    failed = true;
                    "FAILED"
                };
            }
            let mut job = background.lock().expect("load job");
            job.state = if failed { "FAILED" } else { "SUCCEEDED" };
            job.finished_at = Some(now_text());
        });
        let snapshot = job.lock().expect("load job").clone();
        Ok(snapshot)
    }

    /// A load job by id.
    pub fn load_job(&self, id: &str) -> Option<LoadJob> {
        self.jobs
            .lock()
            .expect("load jobs")
            .iter()
            .find(|job| job.lock().expect("load job").id == id)
            .map(|job| job.lock().expect("load job").clone())
    }

    /// Runs one integration now (waiting for a run of it already going), recording the outcome.
    async fn run(
        &self,
        integration: &Integration,
        progress: &Mutex<RunSummary>,
        on_progress: &(dyn Fn() + Sync),
    ) -> Result<(), PullError> {
        let lock = self.run_lock(&integration.id);
        let _running = lock.lock().await;
        if !self.holds_lease(&integration.id).await {
            // Not this node's to run: say so in the run, and leave the integration's state to
            // the node that runs it.
            let refused = format!(
                "another vigil node runs integration {} now (it holds its lease); its runs are shown there, and this node takes over if that node stops",
                integration.id
            );
            progress.lock().expect("run progress").error = Some(refused.clone());
            return Err(PullError::Source(refused));
        }
        // It may have been changed or deleted while this run waited.
        let id = integration.id.clone();
        let integration = self.blocking(move |log| get_integration(log, &id)).await?;
        let started = now_text();
        progress.lock().expect("run progress").started_at = Some(started.clone());
        let result = match self.check_host(&integration.source).await {
            Ok(()) => self.run_locked(&integration, progress, on_progress).await,
            Err(refused) => Err(PullError::Source(refused)),
        };
        let mut summary = progress.lock().expect("run progress").clone();
        summary.finished_at = Some(now_text());
        if let Err(error) = &result {
            summary.error = Some(error.to_string());
            tracing::warn!(integration = %integration.id, %error, "query-audit run failed");
        } else {
            tracing::info!(
                integration = %integration.id,
                rows = summary.rows_read,
                stored = summary.events_stored,
                duplicates = summary.duplicates,
                malformed = summary.malformed,
                "query-audit run finished"
            );
        }
        *progress.lock().expect("run progress") = summary.clone();
        let watermark = match &result {
            Ok(watermark) => *watermark,
            Err(_) => None,
        };
        let id = integration.id.clone();
        let ok = result.is_ok();
        let fence = self.leases.fence_check();
        let lease = lease_name(&id);
        let side_write: SideWrite = Box::new(move |db| {
            // A node that lost the lease meanwhile never moves the new holder's watermark.
            fence(db, &lease)?;
            db.execute(
                "INSERT INTO integration_state (integration_id, watermark_micros, last_run_at, last_success_at, last_error, last_summary)
                 VALUES (?1, ?2, ?3, CASE WHEN ?4 THEN ?3 END, ?5, ?6)
                 ON CONFLICT (integration_id) DO UPDATE SET
                     watermark_micros = coalesce(excluded.watermark_micros, integration_state.watermark_micros),
                     last_run_at = excluded.last_run_at,
                     last_success_at = coalesce(excluded.last_success_at, integration_state.last_success_at),
                     last_error = excluded.last_error,
                     last_summary = excluded.last_summary",
                values![
                    id,
                    watermark.map(|time: DateTime<Utc>| time.timestamp_micros()),
                    started,
                    ok,
                    summary.error.clone(),
                    serde_json::to_string(&summary).expect("summary serializes"),
                ],
            )?;
            Ok(())
        });
        // Deleting an integration takes its run lock, so it cannot vanish before this write.
        self.log.append_with(Vec::new(), Some(side_write)).await?;
        result.map(|_| ())
    }

    /// Reads the window and stores its events page by page; returns the new watermark. The
    /// watermark is written by the caller, after every event is durable.
    async fn run_locked(
        &self,
        integration: &Integration,
        progress: &Mutex<RunSummary>,
        on_progress: &(dyn Fn() + Sync),
    ) -> Result<Option<DateTime<Utc>>, PullError> {
        let id = integration.id.clone();
        let status = self.blocking(move |log| read_status(log, &id)).await?;
        let id = integration.id.clone();
        let sealed = self.blocking(move |log| sealed_secret(log, &id)).await?;
        let secret = self.master.open(&integration.id, &sealed)?;
        let previous = status
            .watermark_micros
            .and_then(DateTime::<Utc>::from_timestamp_micros);
        let since = match previous {
            Some(watermark) => {
                watermark - chrono::Duration::minutes(integration.overlap_minutes.into())
            }
            None => Utc::now() - chrono::Duration::hours(integration.initial_lookback_hours.into()),
        };
        progress.lock().expect("run progress").window_start = Some(iso(since));
        on_progress();
        let mut run = RunState {
            integration,
            progress,
            on_progress,
            watermark: previous,
            shutdown: self.shutdown.subscribe(),
        };
        match &integration.source {
            Source::Snowflake(settings) => {
                let mut pages =
                    SnowflakePages::start(&self.client, settings, &secret, since).await?;
                self.read_pages(&mut pages, &mut run).await?;
            }
            Source::DatabricksUnityCatalog(settings) => {
                self.read_databricks(settings, &secret, since, &mut run)
                    .await?;
            }
        }
        Ok(run.watermark)
    }

    /// Reads `[since, now)` from Unity Catalog in parts: a part whose result has more than
    /// `rowsPerStatement` rows is halved until it fits (down to [`MIN_WINDOW`]), a part with few
    /// rows lets the next one double. A run stops once it has read
    /// [`RUN_BUDGET_STATEMENTS`] × `rowsPerStatement` rows and moved the watermark; the next run
    /// goes on from there.
    async fn read_databricks(
        &self,
        settings: &DatabricksSettings,
        secret: &str,
        since: DateTime<Utc>,
        run: &mut RunState<'_>,
    ) -> Result<(), PullError> {
        let now = Utc::now();
        let limit = u64::from(settings.rows_per_statement);
        let previous = run.watermark;
        let mut start = since;
        let mut span = (now - since).max(MIN_WINDOW);
        let mut read = 0;
        loop {
            let end = (start + span)
                .min(now)
                .max(start + chrono::Duration::milliseconds(1));
            let may_narrow = end - start > MIN_WINDOW;
            let opened =
                DatabricksPages::open(&self.client, settings, secret, (start, end), may_narrow)
                    .await?;
            match opened {
                Opened::TooLarge { rows } => {
                    span = (end - start) / 2;
                    tracing::info!(
                        integration = %run.integration.id,
                        rows,
                        from = %iso(start),
                        to = %iso(end),
                        "the window's result is larger than rowsPerStatement; reading it in halves"
                    );
                    run.progress.lock().expect("run progress").narrowings += 1;
                    (run.on_progress)();
                    continue;
                }
                Opened::Pages(mut pages) => {
                    let rows = self.read_pages(pages.as_mut(), run).await?;
                    read += rows;
                    if rows < limit / 4 {
                        span = (span * 2).min(now - since).max(MIN_WINDOW);
                    }
                    let mut summary = run.progress.lock().expect("run progress");
                    summary.statements += 1;
                    summary.window_end = Some(iso(end));
                }
            }
            (run.on_progress)();
            start = end;
            if start >= now {
                return Ok(());
            }
            if *run.shutdown.borrow_and_update() {
                return Err(PullError::Source(
                    "vigil is shutting down; the run stopped".into(),
                ));
            }
            if read >= limit * RUN_BUDGET_STATEMENTS && run.watermark > previous {
                run.progress.lock().expect("run progress").more_to_read = true;
                tracing::info!(
                    integration = %run.integration.id,
                    rows = read,
                    until = %iso(start),
                    "the run read its bound; the next run goes on from the watermark"
                );
                return Ok(());
            }
        }
    }

    /// Translates and stores every page of a result, moving `run.watermark`; returns the rows read.
    async fn read_pages(
        &self,
        pages: &mut dyn PageSource,
        run: &mut RunState<'_>,
    ) -> Result<u64, PullError> {
        let integration = run.integration;
        let mut read = 0;
        while let Some(page) = pages.next_page().await? {
            if *run.shutdown.borrow_and_update() {
                return Err(PullError::Source(
                    "vigil is shutting down; the run stopped".into(),
                ));
            }
            let log = self.log.clone();
            let registry = self.registry.clone();
            let snapshot = tokio::task::spawn_blocking(move || registry.catch_up(&log)).await??;
            let arrival = vigil_model::Timestamp::now();
            let now = Utc::now();
            let mut pending = Vec::new();
            let mut entries = Vec::new();
            let mut counts = RunSummary::default();
            for row in page.rows() {
                counts.rows_read += 1;
                let outcome = match &integration.source {
                    Source::Snowflake(settings) => snowflake::translate_row(
                        &row,
                        settings,
                        &integration.id,
                        &snapshot,
                        (
                            now,
                            settings.access_history_settle(integration.overlap_minutes),
                        ),
                    ),
                    Source::DatabricksUnityCatalog(settings) => {
                        databricks::translate_row(&row, settings, &integration.id, &snapshot, now)
                    }
                };
                match outcome {
                    RowOutcome::Events { events, end_time } => {
                        pending.extend(events);
                        run.watermark = run.watermark.max(Some(end_time));
                    }
                    RowOutcome::Skipped { end_time } => {
                        counts.skipped += 1;
                        run.watermark = run.watermark.max(Some(end_time));
                    }
                    RowOutcome::Deferred => counts.deferred += 1,
                    RowOutcome::Malformed(reason) => {
                        counts.malformed += 1;
                        tracing::warn!(integration = %integration.id, %reason, "skipping a malformed row");
                    }
                }
            }
            self.resolve_late_lineage(&mut pending).await?;
            for event in pending {
                let id = event.id.clone();
                match event.into_entry(arrival) {
                    Ok(entry) => {
                        entries.push(entry.submitted_by(Submitter::integration(&integration.id)))
                    }
                    Err(error) => {
                        counts.malformed += 1;
                        tracing::warn!(integration = %integration.id, event = %id, %error, "skipping a query event that does not validate");
                    }
                }
            }
            read += counts.rows_read;
            let stored = store_events(&self.log, entries).await?;
            let mut summary = run.progress.lock().expect("run progress");
            summary.rows_read += counts.rows_read;
            summary.skipped += counts.skipped;
            summary.deferred += counts.deferred;
            summary.malformed += counts.malformed;
            summary.events_stored += stored.stored;
            summary.duplicates += stored.duplicates;
            summary.watermark = run.watermark.map(iso);
            drop(summary);
            (run.on_progress)();
        }
        Ok(read)
    }

    /// Marks the events whose statement was already stored without tables (its lineage, or its
    /// `ACCESS_HISTORY` row, came after the settle time): they become `QUERY_LINEAGE_RESOLVED`
    /// events naming that event, so one statement stays one `QUERY` and its tables are not lost.
    async fn resolve_late_lineage(&self, events: &mut [QueryEvent]) -> Result<(), PullError> {
        let twins: Vec<String> = events
            .iter()
            .filter_map(|event| event.twin.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if twins.is_empty() {
            return Ok(());
        }
        let log = self.log.clone();
        let stored = tokio::task::spawn_blocking(move || log.stored_ids(&twins)).await??;
        for event in events {
            if let Some(twin) = &event.twin
                && stored.contains(twin)
            {
                event.resolves = Some(twin.clone());
            }
        }
        Ok(())
    }

    async fn schedule_loop(self: Arc<Self>) {
        let mut shutdown = self.shutdown.subscribe();
        loop {
            let next = match self.run_due().await {
                Ok(next) => next,
                Err(error) => {
                    tracing::warn!(%error, "the query-audit scheduler could not read its integrations");
                    Utc::now() + chrono::Duration::minutes(1)
                }
            };
            let wait = (next - Utc::now()).to_std().unwrap_or(Duration::ZERO);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.wake.notified() => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }

    /// Runs every enabled integration whose time has come; returns when the next one is due. An
    /// integration first runs one interval after it was created (or on a manual load).
    async fn run_due(&self) -> Result<DateTime<Utc>, PullError> {
        let schedule = self.schedule().await?;
        let mut next = Utc::now() + chrono::Duration::hours(1);
        for (integration, status) in self.list().await? {
            if !integration.enabled {
                continue;
            }
            let interval = chrono::Duration::minutes(
                schedule
                    .get(&integration.source.kind())
                    .copied()
                    .unwrap_or(DEFAULT_INTERVAL_MINUTES)
                    .into(),
            );
            let last = status
                .last_run_at
                .as_deref()
                .unwrap_or(&integration.created_at);
            let due = DateTime::parse_from_rfc3339(last)
                .map(|time| time.with_timezone(&Utc))
                .unwrap_or_else(|_| Utc::now())
                + interval;
            if self.log.is_shared() && !self.holds_lease(&integration.id).await {
                // Another node runs it; look again soon, to take over if that node stops.
                next = next.min(Utc::now() + crate::cluster::RENEW_EVERY);
                continue;
            }
            if due <= Utc::now() {
                let progress = Mutex::new(RunSummary::default());
                // The outcome is recorded in the integration's state.
                let _ = self.run(&integration, &progress, &|| {}).await;
                next = next.min(Utc::now() + interval);
            } else {
                next = next.min(due);
            }
        }
        Ok(next)
    }
}
