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
mod run;
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
}
