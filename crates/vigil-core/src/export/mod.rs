//! Export of the log to S3 and ADLS Gen2: configurations with sealed secrets, one exporter task
//! per configuration, and signed, chained digests that make a downloaded export verifiable.

mod config;
mod digest;
mod exporter;
pub mod parquet;
mod secrets;
mod sink;
mod sts;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

pub use config::{
    ConfigInput, Destination, ExportConfig, ExportFormat, Interval, config_secret, delete_config,
    get_config, insert_config, list_configs,
};
pub use digest::{
    CONNECTION_TEST_OBJECT, DigestObject, ExportVerifyReport, SIGNING_KEY_FILE, SigningKey,
    verify_export_dir, verify_hex_signature,
};
pub use exporter::{EVENTS_PER_OBJECT, ExportStatus, RunSummary, read_status, run_once};
pub use secrets::{MASTER_KEY_FILE, MasterKey};
pub use sink::{CloudSettings, Content, ExportEnvironment, Sink, open_sink};

use crate::checkpoint::{self, Checkpoint};
use crate::cluster::Leases;
use crate::error::LogError;
use crate::keys::KeyActor;
use crate::log::{EventLog, Seq};
use crate::outbound::{self, OutboundPolicy};

/// Errors of export configuration and export runs.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The input is invalid; the message names the field.
    #[error("{0}")]
    Invalid(String),
    /// No configuration with this id.
    #[error("no export configuration with id {0}")]
    NotFound(String),
    /// A key (master key, signing key) is missing or unusable.
    #[error("{0}")]
    Key(String),
    /// Writing to the destination failed (the text carries no secret).
    #[error("{0}")]
    Destination(String),
    /// Asked again too soon (a connection test); the message says when to retry.
    #[error("{0}")]
    RateLimited(String),
    /// Storage failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// Reading or compressing failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// A blocking task failed.
    #[error("internal task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl crate::Classify for ExportError {
    fn kind(&self) -> crate::ErrorKind {
        use crate::ErrorKind;
        match self {
            ExportError::Invalid(_) => ErrorKind::Invalid,
            ExportError::NotFound(_) => ErrorKind::NotFound,
            ExportError::Key(_) => ErrorKind::Unavailable,
            ExportError::Destination(_) => ErrorKind::Upstream,
            ExportError::RateLimited(_) => ErrorKind::RateLimited,
            ExportError::Log(error) => crate::Classify::kind(error),
            ExportError::Io(_) | ExportError::Task(_) => ErrorKind::Internal,
        }
    }
}

/// How the export service runs.
#[derive(Debug, Clone)]
pub struct ExportSettings {
    /// `VIGIL_MASTER_KEY`: 64 hex characters; else the data directory's key file.
    pub master_key: Option<String>,
    /// Endpoint defaults and vigil's own AWS credentials.
    pub environment: ExportEnvironment,
    /// Events per exported object.
    pub events_per_object: u64,
    /// Which hosts a configuration's `endpoint` may name.
    pub outbound: OutboundPolicy,
}

/// The shortest time between two connection tests of one configuration: each is a call to the
/// destination, which one caller should not be able to repeat at will.
pub const MIN_CONNECTION_TEST_INTERVAL: Duration = Duration::from_secs(5);

struct ExportTask {
    wake: Arc<Notify>,
    run_now: Arc<AtomicBool>,
    handle: JoinHandle<()>,
}

/// Export configurations and their exporter tasks.
pub struct ExportService {
    log: Arc<EventLog>,
    /// Which node runs which configuration, in a cluster.
    leases: Arc<Leases>,
    master: MasterKey,
    signing: SigningKey,
    settings: ExportSettings,
    tasks: std::sync::Mutex<HashMap<String, ExportTask>>,
    /// When each configuration's connection was last tested on request.
    connection_tests: std::sync::Mutex<HashMap<String, std::time::Instant>>,
    shutdown: watch::Sender<bool>,
}

impl ExportService {
    /// Opens the keys of `data_dir`. Blocking. Call [`ExportService::start`] inside a runtime.
    pub fn open(
        log: Arc<EventLog>,
        data_dir: &Path,
        settings: ExportSettings,
        leases: Arc<Leases>,
    ) -> Result<Arc<ExportService>, ExportError> {
        let master = MasterKey::for_log(&log, data_dir, settings.master_key.as_deref())?;
        let signing = SigningKey::for_log(&log, data_dir, &master)?;
        Ok(Arc::new(ExportService {
            log,
            leases,
            master,
            signing,
            settings,
            tasks: Default::default(),
            connection_tests: Default::default(),
            shutdown: watch::channel(false).0,
        }))
    }

    /// Starts one exporter task per stored configuration. In a cluster, configurations created
    /// through other nodes get their task here within [`RECONCILE_EVERY`]; each task runs only
    /// while this node holds the configuration's lease.
    pub async fn start(self: &Arc<Self>) -> Result<(), ExportError> {
        self.reconcile().await?;
        if self.log.is_shared() {
            let service = self.clone();
            let mut shutdown = self.shutdown.subscribe();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        () = tokio::time::sleep(RECONCILE_EVERY) => {}
                        _ = shutdown.changed() => return,
                    }
                    if let Err(error) = service.reconcile().await {
                        tracing::debug!(%error, "could not list the export configurations");
                    }
                }
            });
        }
        Ok(())
    }

    /// Starts a task for every stored configuration that has none.
    async fn reconcile(self: &Arc<Self>) -> Result<(), ExportError> {
        let configs = self.blocking(list_configs).await??;
        for config in configs {
            let known = self
                .tasks
                .lock()
                .expect("tasks lock")
                .get(&config.id)
                .is_some_and(|task| !task.handle.is_finished());
            if !known {
                self.spawn_task(&config.id);
            }
        }
        Ok(())
    }

    /// Whether this node holds the lease of configuration `id` (always, on the embedded log).
    async fn holds_lease(&self, id: &str) -> bool {
        let (leases, name) = (self.leases.clone(), lease_name(id));
        tokio::task::spawn_blocking(move || leases.holds(&name))
            .await
            .unwrap_or(false)
    }

    /// Signs the log's head and records the checkpoint in the log when the head has moved past
    /// `covered_through` (see [`checkpoint::checkpoint_head`]); with `publish`, also writes a copy
    /// to every enabled destination (a failed copy is logged: the next one may succeed). Returns
    /// the new `covered_through`.
    pub async fn checkpoint(
        self: &Arc<Self>,
        covered_through: Seq,
        publish: bool,
    ) -> Result<Seq, ExportError> {
        let service = self.clone();
        let signed = tokio::task::spawn_blocking(move || {
            checkpoint::checkpoint_head(&service.log, &service.signing, covered_through)
        })
        .await??;
        let Some((checkpoint, covered)) = signed else {
            return Ok(covered_through);
        };
        if publish {
            for (config, _) in self.list().await? {
                if !config.enabled {
                    continue;
                }
                if let Err(error) = self.publish_checkpoint(&config, &checkpoint).await {
                    tracing::warn!(configuration = %config.id, %error, "could not copy the checkpoint to the destination");
                }
            }
        }
        Ok(covered)
    }

    async fn publish_checkpoint(
        self: &Arc<Self>,
        config: &ExportConfig,
        checkpoint: &Checkpoint,
    ) -> Result<(), ExportError> {
        self.check_endpoint(&config.destination)
            .await
            .map_err(ExportError::Destination)?;
        let secret = self.secret_of(&config.id).await?;
        let sink = open_sink(
            config,
            secret,
            &self.settings.environment,
            self.settings.outbound,
        )?;
        sink.write(
            &checkpoint.object_key(),
            checkpoint.to_json_bytes(),
            Content::Json,
        )
        .await
        .map_err(|error| ExportError::Destination(sink.redact(&error.to_string())))
    }

    /// The public key that verifies digests, hex.
    pub fn public_key_hex(&self) -> String {
        self.signing.public_key_hex()
    }

    /// Every configuration with its progress.
    pub async fn list(&self) -> Result<Vec<(ExportConfig, ExportStatus)>, ExportError> {
        self.blocking(|log| {
            list_configs(log)?
                .into_iter()
                .map(|config| {
                    let status = read_status(log, &config.id)?;
                    Ok((config, status))
                })
                .collect()
        })
        .await?
    }

    /// One configuration with its progress.
    pub async fn get(&self, id: &str) -> Result<(ExportConfig, ExportStatus), ExportError> {
        let id = id.to_owned();
        self.blocking(move |log| Ok((get_config(log, &id)?, read_status(log, &id)?)))
            .await?
    }

    /// Validates, tests the connection (a failed test is reported in `connectionStatus`, not as
    /// an error), stores with a `…Created` event, and starts the exporter.
    pub async fn create(
        self: &Arc<Self>,
        input: ConfigInput,
        actor: &KeyActor,
    ) -> Result<ExportConfig, ExportError> {
        config::validate_new(&input)?;
        self.check_endpoint(&input.destination)
            .await
            .map_err(ExportError::Invalid)?;
        let now = config::now_text();
        let mut config = ExportConfig {
            id: uuid::Uuid::new_v4().to_string(),
            interval: input.interval,
            format: input.format,
            enabled: true,
            destination: input.destination,
            connection_status: String::new(),
            created_at: now.clone(),
            updated_at: now,
        };
        config.connection_status = self.test_connection(&config, input.secret.clone()).await;
        let (stored, actor) = (config.clone(), actor.clone());
        self.with_keys(move |log, master| {
            config::insert_config(log, master, &stored, input.secret.as_deref(), &actor)
        })
        .await?;
        self.spawn_task(&config.id);
        Ok(config)
    }

    /// Replaces configuration `id` (same kind; `secret: None` keeps the stored one), tests it
    /// again and records an `…Updated` event.
    pub async fn update(
        self: &Arc<Self>,
        id: &str,
        input: ConfigInput,
        actor: &KeyActor,
    ) -> Result<ExportConfig, ExportError> {
        let (current, _) = self.get(id).await?;
        config::validate_update(&current, &input)?;
        self.check_endpoint(&input.destination)
            .await
            .map_err(ExportError::Invalid)?;
        let secret = match input.secret.clone() {
            Some(secret) => Some(secret),
            None => self.secret_of(id).await?,
        };
        let mut config = ExportConfig {
            interval: input.interval,
            format: input.format,
            destination: input.destination,
            updated_at: config::now_text(),
            ..current
        };
        config.connection_status = self.test_connection(&config, secret).await;
        let (stored, actor) = (config.clone(), actor.clone());
        self.with_keys(move |log, master| {
            config::replace_config(log, master, &stored, input.secret.as_deref(), &actor)
        })
        .await?;
        self.wake(id, false);
        Ok(config)
    }

    /// Tests configuration `id` again and stores the new `connectionStatus`.
    pub async fn retest(
        self: &Arc<Self>,
        id: &str,
        actor: &KeyActor,
    ) -> Result<ExportConfig, ExportError> {
        let (current, _) = self.get(id).await?;
        self.throttle_connection_test(id)?;
        let secret = self.secret_of(id).await?;
        let connection_status = self.test_connection(&current, secret).await;
        self.change(id, actor, move |config| {
            config.connection_status = connection_status
        })
        .await
    }

    /// Enables or disables configuration `id`.
    pub async fn set_enabled(
        self: &Arc<Self>,
        id: &str,
        enabled: bool,
        actor: &KeyActor,
    ) -> Result<ExportConfig, ExportError> {
        self.change(id, actor, move |config| config.enabled = enabled)
            .await
    }

    async fn change(
        self: &Arc<Self>,
        id: &str,
        actor: &KeyActor,
        change: impl FnOnce(&mut ExportConfig) + Send + 'static,
    ) -> Result<ExportConfig, ExportError> {
        let (id, actor) = (id.to_owned(), actor.clone());
        let config = self
            .with_keys(move |log, master| {
                let mut config = get_config(log, &id)?;
                change(&mut config);
                config.updated_at = config::now_text();
                config::replace_config(log, master, &config, None, &actor)?;
                Ok(config)
            })
            .await?;
        self.wake(&config.id, false);
        Ok(config)
    }

    /// Deletes configuration `id` and stops its exporter; what it exported stays where it is.
    pub async fn delete(
        self: &Arc<Self>,
        id: &str,
        actor: &KeyActor,
    ) -> Result<ExportConfig, ExportError> {
        let (id, actor) = (id.to_owned(), actor.clone());
        let config = self
            .blocking(move |log| config::delete_config(log, &id, &actor))
            .await??;
        let task = self.tasks.lock().expect("tasks lock").remove(&config.id);
        if let Some(task) = task {
            task.handle.abort();
        }
        Ok(config)
    }

    /// Asks the exporter of `id` to run now (in the background).
    pub async fn export_now(&self, id: &str) -> Result<ExportConfig, ExportError> {
        let (config, _) = self.get(id).await?;
        if !config.enabled {
            return Err(ExportError::Invalid(format!(
                "export configuration {id} is disabled; enable it first"
            )));
        }
        if self.log.is_shared() {
            // The node holding the configuration's lease may be another one: it sees this.
            exporter::request_run(&self.log, id).await?;
        }
        self.wake(id, true);
        Ok(config)
    }

    /// Stops every exporter task (a run in progress is abandoned; its plan is resumed at the next
    /// start) and waits for them.
    pub async fn shutdown(&self) {
        let _ = self.shutdown.send(true);
        let tasks: Vec<ExportTask> = self
            .tasks
            .lock()
            .expect("tasks lock")
            .drain()
            .map(|(_, task)| task)
            .collect();
        for task in tasks {
            let _ = task.handle.await;
        }
    }

    /// Refuses an `endpoint` the outbound policy does not allow (a loopback, private or link-local
    /// host, unless the operator allowed those). Without one, the cloud's own endpoint (or the
    /// operator's `AWS_ENDPOINT_URL`) is used.
    async fn check_endpoint(&self, destination: &Destination) -> Result<(), String> {
        match destination.endpoint() {
            Some(endpoint) => {
                outbound::check_destination("endpoint", endpoint, self.settings.outbound).await
            }
            None => Ok(()),
        }
    }

    fn throttle_connection_test(&self, id: &str) -> Result<(), ExportError> {
        let now = std::time::Instant::now();
        let mut tests = self.connection_tests.lock().expect("connection tests lock");
        if let Some(last) = tests.get(id) {
            let since = now.duration_since(*last);
            if since < MIN_CONNECTION_TEST_INTERVAL {
                let wait = (MIN_CONNECTION_TEST_INTERVAL - since).as_secs() + 1;
                return Err(ExportError::RateLimited(format!(
                    "the connection of export configuration {id} was tested moments ago; test it again in {wait} s"
                )));
            }
        }
        tests.insert(id.to_owned(), now);
        Ok(())
    }

    async fn test_connection(&self, config: &ExportConfig, secret: Option<String>) -> String {
        if let Err(refused) = self.check_endpoint(&config.destination).await {
            return format!(
                "Error testing access to {} - {refused}",
                sink::access_label(&config.destination)
            );
        }
        let secrets: Vec<String> = secret.iter().cloned().collect();
        match open_sink(
            config,
            secret,
            &self.settings.environment,
            self.settings.outbound,
        ) {
            Ok(sink) => sink.test_connection(config).await,
            Err(error) => format!(
                "Error testing access to {} - {}",
                sink::access_label(&config.destination),
                sink::redact(&error.to_string(), &secrets)
            ),
        }
    }

    async fn secret_of(self: &Arc<Self>, id: &str) -> Result<Option<String>, ExportError> {
        let id = id.to_owned();
        self.with_keys(move |log, master| config::config_secret(log, master, &id))
            .await
    }

    fn wake(&self, id: &str, run_now: bool) {
        if let Some(task) = self.tasks.lock().expect("tasks lock").get(id) {
            if run_now {
                task.run_now.store(true, Ordering::SeqCst);
            }
            task.wake.notify_one();
        }
    }

    fn spawn_task(self: &Arc<Self>, id: &str) {
        let wake = Arc::new(Notify::new());
        let run_now = Arc::new(AtomicBool::new(false));
        let handle = tokio::spawn(export_loop(
            self.clone(),
            id.to_owned(),
            wake.clone(),
            run_now.clone(),
            self.shutdown.subscribe(),
        ));
        self.tasks.lock().expect("tasks lock").insert(
            id.to_owned(),
            ExportTask {
                wake,
                run_now,
                handle,
            },
        );
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&EventLog) -> T + Send + 'static,
    ) -> Result<T, ExportError> {
        let log = self.log.clone();
        Ok(tokio::task::spawn_blocking(move || work(&log)).await?)
    }

    async fn with_keys<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&EventLog, &MasterKey) -> Result<T, ExportError> + Send + 'static,
    ) -> Result<T, ExportError> {
        let service = self.clone();
        tokio::task::spawn_blocking(move || work(&service.log, &service.master)).await?
    }

    /// One run of configuration `id`, now.
    async fn run(self: &Arc<Self>, id: &str) -> Result<Option<RunSummary>, ExportError> {
        let (config, _) = self.get(id).await?;
        self.check_endpoint(&config.destination)
            .await
            .map_err(ExportError::Destination)?;
        let secret = self.secret_of(id).await?;
        let sink = open_sink(
            &config,
            secret,
            &self.settings.environment,
            self.settings.outbound,
        )?;
        run_once(
            &self.log,
            &sink,
            id,
            &self.signing,
            self.settings.events_per_object,
            config.format,
            &self.leases,
        )
        .await
    }
}

/// How often a cluster node looks for configurations created through other nodes.
pub const RECONCILE_EVERY: Duration = Duration::from_secs(1);

/// The lease under which one node runs configuration `id`.
fn lease_name(id: &str) -> String {
    format!("export:{id}")
}

impl ExportService {
    async fn release_lease(&self, id: &str) {
        let (leases, name) = (self.leases.clone(), lease_name(id));
        let _ = tokio::task::spawn_blocking(move || leases.release(&name)).await;
    }
}

/// When the next run of a configuration is due, and whether it is due now.
fn next_run_delay(config: &ExportConfig, status: &ExportStatus) -> Duration {
    if status.pending.is_some() && status.attempts == 0 {
        // A run was cut off (a restart): resume it at once.
        return Duration::ZERO;
    }
    let since = |text: &Option<String>| {
        text.as_deref()
            .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
            .map(|time| {
                (chrono::Utc::now() - time.to_utc())
                    .to_std()
                    .unwrap_or_default()
            })
    };
    let wait = if status.attempts > 0 {
        exporter::backoff(status.attempts)
    } else {
        config.interval.duration()
    };
    let elapsed = since(&status.last_attempt_at)
        .or_else(|| since(&Some(config.created_at.clone())))
        .unwrap_or_default();
    wait.saturating_sub(elapsed)
}

/// The exporter task of one configuration: waits for its interval (or the backoff after a
/// failure, or "export now"), runs, and repeats until the configuration is deleted or vigil stops.
async fn export_loop(
    service: Arc<ExportService>,
    id: String,
    wake: Arc<Notify>,
    run_now: Arc<AtomicBool>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        let delay = match service.get(&id).await {
            Ok((config, status)) if config.enabled && status.run_requested => Duration::ZERO,
            Ok((config, status)) if config.enabled => next_run_delay(&config, &status),
            Ok(_) => Duration::MAX,
            Err(ExportError::NotFound(_)) => {
                service.release_lease(&id).await;
                return;
            }
            Err(error) => {
                tracing::error!(configuration = %id, %error, "cannot read the export configuration");
                Duration::from_secs(5)
            }
        };
        if !service.holds_lease(&id).await {
            // Another node runs this configuration; look again, to take over if it stops.
            tokio::select! {
                _ = tokio::time::sleep(crate::cluster::RENEW_EVERY) => {}
                _ = shutdown.changed() => return,
            }
            continue;
        }
        let forced = run_now.swap(false, Ordering::SeqCst);
        if !forced && !delay.is_zero() {
            // In a cluster, look again every few seconds: "export now" may be asked through
            // another node, and this node's lease must stay held.
            let longest = if service.log.is_shared() {
                crate::cluster::RENEW_EVERY
            } else {
                Duration::from_secs(24 * 3600)
            };
            let sleep = tokio::time::sleep(delay.min(longest));
            tokio::select! {
                _ = sleep => {}
                _ = wake.notified() => {}
                _ = shutdown.changed() => return,
            }
            continue;
        }
        let outcome = tokio::select! {
            outcome = service.run(&id) => outcome,
            _ = shutdown.changed() => return,
        };
        match outcome {
            Ok(Some(summary)) => tracing::info!(
                configuration = %id,
                first_seq = summary.first_seq,
                last_seq = summary.last_seq,
                events = summary.events,
                objects = summary.objects,
                "export run completed"
            ),
            Ok(None) => tracing::debug!(configuration = %id, "export run: nothing new"),
            Err(ExportError::NotFound(_)) => {
                service.release_lease(&id).await;
                return;
            }
            Err(error) => {
                tracing::warn!(configuration = %id, %error, "export run failed; will retry");
                if let Err(error) =
                    exporter::record_failure(&service.log, &id, error.to_string()).await
                {
                    tracing::error!(configuration = %id, %error, "cannot record the export failure");
                }
            }
        }
    }
}
