//! Forwarding to the SIEM: forwarders are derived consumers of the log, like exporters. Each has a
//! target (syslog over TCP or TLS, Splunk HEC, a signed webhook), a filter and a checkpoint; one
//! worker thread per enabled forwarder delivers in order and resumes after restarts and outages.

mod config;
mod format;
mod http;
mod run;
mod syslog;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use config::{
    Filter, ForwardStatus, Forwarder, ForwarderBody, ForwarderInput, StartAt, Target,
    get_forwarder, list_forwarders,
};
pub use format::{SD_ID, hec_event, syslog_frame, webhook_signature};

use crate::cluster::Leases;
use crate::error::LogError;
use crate::export::{ExportError, MasterKey};
use crate::keys::KeyActor;
use crate::log::{EventLog, SideWrite};
use crate::outbound::{self, OutboundPolicy};
use crate::store::values;

/// Events read from the log per batch at most.
pub const MAX_BATCH_EVENTS: usize = 500;
/// A batch stops growing past this many bytes.
pub const MAX_BATCH_BYTES: usize = 64 * 1024;

/// Errors of forwarder configuration.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// The input is invalid; the message names the field.
    #[error("{0}")]
    Invalid(String),
    /// No forwarder with this id.
    #[error("no forwarder with id {0}")]
    NotFound(String),
    /// The change would leave something that depends on the forwarder without it.
    #[error("{0}")]
    Conflict(String),
    /// The master key cannot seal or open a secret.
    #[error(transparent)]
    Key(#[from] ExportError),
    /// Storage failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// A blocking task failed.
    #[error("internal task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// vigil itself failed (a thread or client could not be made).
    #[error("{0}")]
    Internal(String),
}

impl crate::Classify for ForwardError {
    fn kind(&self) -> crate::ErrorKind {
        use crate::ErrorKind;
        match self {
            ForwardError::Invalid(_) => ErrorKind::Invalid,
            ForwardError::NotFound(_) => ErrorKind::NotFound,
            ForwardError::Conflict(_) => ErrorKind::Conflict,
            ForwardError::Key(error) => crate::Classify::kind(error),
            ForwardError::Log(error) => crate::Classify::kind(error),
            ForwardError::Task(_) | ForwardError::Internal(_) => ErrorKind::Internal,
        }
    }
}

impl From<crate::store::StoreError> for ForwardError {
    fn from(error: crate::store::StoreError) -> Self {
        ForwardError::Log(LogError::from(error))
    }
}

fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The lease under which one node runs forwarder `id`.
fn lease_name(id: &str) -> String {
    format!("forward:{id}")
}

struct Running {
    /// The `updatedAt` of the settings it runs with.
    version: String,
    stop: Arc<AtomicBool>,
    position: Arc<AtomicU64>,
    unstored: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

/// Forwarders and their workers.
pub struct ForwardService {
    log: Arc<EventLog>,
    leases: Arc<Leases>,
    master: MasterKey,
    data_dir: PathBuf,
    policy: OutboundPolicy,
    client: reqwest::Client,
    running: Mutex<HashMap<String, Running>>,
    stopping: AtomicBool,
}

impl ForwardService {
    /// Opens the master key of `data_dir`. Blocking. Call [`ForwardService::start`] inside a
    /// runtime.
    pub fn open(
        log: Arc<EventLog>,
        data_dir: &Path,
        master_key: Option<&str>,
        policy: OutboundPolicy,
        leases: Arc<Leases>,
    ) -> Result<Arc<ForwardService>, ForwardError> {
        let master = MasterKey::for_log(&log, data_dir, master_key)?;
        let client =
            outbound::http_client(policy, Duration::from_secs(10), Duration::from_secs(60))
                .map_err(|error| {
                    ForwardError::Internal(format!("could not build the HTTP client: {error}"))
                })?;
        Ok(Arc::new(ForwardService {
            log,
            leases,
            master,
            data_dir: data_dir.to_owned(),
            policy,
            client,
            running: Mutex::new(HashMap::new()),
            stopping: AtomicBool::new(false),
        }))
    }

    /// Starts a worker for every enabled forwarder; on a shared log, forwarders created through
    /// other nodes are picked up every few seconds.
    pub async fn start(self: &Arc<Self>) -> Result<(), ForwardError> {
        self.reconcile().await?;
        if self.log.is_shared() {
            let service = Arc::downgrade(self);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(crate::export::RECONCILE_EVERY).await;
                    let Some(service) = service.upgrade() else {
                        return;
                    };
                    if service.stopping.load(Ordering::SeqCst) {
                        return;
                    }
                    if let Err(error) = service.reconcile().await {
                        tracing::debug!(%error, "could not list the forwarders");
                    }
                }
            });
        }
        Ok(())
    }

    /// Makes the running workers match the stored forwarders (changed through another node, in
    /// a cluster): stops those deleted or disabled, restarts those changed.
    async fn reconcile(self: &Arc<Self>) -> Result<(), ForwardError> {
        let forwarders = self.blocking(list_forwarders).await??;
        let wanted: HashMap<&str, &Forwarder> = forwarders
            .iter()
            .filter(|forwarder| forwarder.enabled)
            .map(|forwarder| (forwarder.id.as_str(), forwarder))
            .collect();
        let gone: Vec<String> = self
            .running
            .lock()
            .expect("running lock")
            .keys()
            .filter(|id| !wanted.contains_key(id.as_str()))
            .cloned()
            .collect();
        for id in gone {
            self.stop_worker(&id).await;
        }
        for (id, forwarder) in wanted {
            let current = self
                .running
                .lock()
                .expect("running lock")
                .get(id)
                .is_some_and(|running| {
                    !running.thread.is_finished() && running.version == forwarder.updated_at
                });
            if !current {
                self.restart(id).await?;
            }
        }
        Ok(())
    }

    /// Every forwarder with its progress.
    pub async fn list(&self) -> Result<Vec<(Forwarder, ForwardStatus)>, ForwardError> {
        let forwarders = self.blocking(list_forwarders).await??;
        let mut out = Vec::with_capacity(forwarders.len());
        for forwarder in forwarders {
            let status = self.status(&forwarder.id).await?;
            out.push((forwarder, status));
        }
        Ok(out)
    }

    /// One forwarder with its progress.
    pub async fn get(&self, id: &str) -> Result<(Forwarder, ForwardStatus), ForwardError> {
        let wanted = id.to_owned();
        let forwarder = self
            .blocking(move |log| get_forwarder(log, &wanted))
            .await??;
        Ok((forwarder, self.status(id).await?))
    }

    async fn status(&self, id: &str) -> Result<ForwardStatus, ForwardError> {
        let wanted = id.to_owned();
        let head = self.log.last_committed_seq();
        let mut status = self
            .blocking(move |log| config::read_status(log, &wanted, head))
            .await??;
        // A syslog worker stores its checkpoint every second; its live position is newer.
        if let Some(running) = self.running.lock().expect("running lock").get(id) {
            let live = running.position.load(Ordering::SeqCst);
            if live > status.checkpoint_seq {
                status.checkpoint_seq = live;
                status.lag = head.saturating_sub(live);
            }
            status.forwarded_events += running.unstored.load(Ordering::SeqCst);
        }
        Ok(status)
    }

    async fn check_target(&self, target: &Target) -> Result<(), ForwardError> {
        let checked = match target {
            Target::Syslog { host, port, .. } => {
                outbound::check_host("target.host", host, *port, self.policy).await
            }
            Target::SplunkHec { url, .. } | Target::Webhook { url } => {
                outbound::check_destination("target.url", url, self.policy).await
            }
        };
        checked.map_err(ForwardError::Invalid)
    }

    /// Stores a new forwarder with a `ForwarderCreated` event, and starts it.
    pub async fn create(
        self: &Arc<Self>,
        input: ForwarderInput,
        actor: &KeyActor,
    ) -> Result<Forwarder, ForwardError> {
        self.check_target(&input.target).await?;
        let now = now_text();
        let forwarder = Forwarder {
            id: uuid::Uuid::new_v4().to_string(),
            name: input.name,
            enabled: input.enabled,
            target: input.target,
            filter: input.filter,
            created_at: now.clone(),
            updated_at: now,
        };
        let sealed = match &input.secret {
            Some(secret) => self.master.seal(&forwarder.id, secret)?,
            None => Vec::new(),
        };
        let start = match input.start_at {
            StartAt::Beginning => 0,
            StartAt::Now => self.log.last_committed_seq(),
        };
        let row = forwarder.clone();
        let event =
            config::forwarder_event("CREATE", "ForwarderCreatedAuditPayload", &forwarder, actor);
        let side_write: SideWrite = Box::new(move |db| {
            db.execute(
                "INSERT INTO forwarders (id, settings, sealed_secret, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                values![
                    &row.id,
                    serde_json::to_string(&row).expect("forwarder serializes"),
                    sealed,
                    &row.created_at,
                    &row.updated_at
                ],
            )?;
            db.execute(
                "INSERT INTO forward_state (forwarder_id, checkpoint_seq, forwarded_events, attempts)
                 VALUES (?1, ?2, 0, 0)",
                values![&row.id, start as i64],
            )?;
            Ok(())
        });
        self.log.append_with(vec![event], Some(side_write)).await?;
        if forwarder.enabled {
            self.restart(&forwarder.id).await?;
        }
        Ok(forwarder)
    }

    /// Replaces a forwarder's settings (same target type); without a secret the stored one stays,
    /// only while the endpoint stays the same. Its worker restarts from its checkpoint.
    pub async fn update(
        self: &Arc<Self>,
        id: &str,
        input: ForwarderInput,
        actor: &KeyActor,
    ) -> Result<Forwarder, ForwardError> {
        let (current, _) = self.get(id).await?;
        input.check_kept_secret(&current)?;
        self.check_target(&input.target).await?;
        let current_enabled = current.enabled;
        let forwarder = Forwarder {
            name: input.name,
            enabled: input.enabled,
            target: input.target,
            filter: input.filter,
            updated_at: now_text(),
            ..current
        };
        let sealed = match &input.secret {
            Some(secret) => Some(self.master.seal(&forwarder.id, secret)?),
            None => None,
        };
        let row = forwarder.clone();
        let event =
            config::forwarder_event("UPDATE", "ForwarderUpdatedAuditPayload", &forwarder, actor);
        let side_write: SideWrite = Box::new(move |db| {
            let changed = db.execute(
                "UPDATE forwarders SET settings = ?2, sealed_secret = coalesce(?3, sealed_secret),
                     updated_at = ?4 WHERE id = ?1",
                values![
                    &row.id,
                    serde_json::to_string(&row).expect("forwarder serializes"),
                    sealed,
                    &row.updated_at
                ],
            )?;
            if changed == 0 {
                return Err(crate::store::StoreError::Refused(format!(
                    "no forwarder with id {}",
                    row.id
                )));
            }
            Ok(())
        });
        let was_enabled = current_enabled;
        self.stop_worker(id).await;
        if let Err(error) = self.log.append_with(vec![event], Some(side_write)).await {
            if was_enabled {
                self.restart(id).await?;
            }
            return Err(error.into());
        }
        if forwarder.enabled {
            self.restart(id).await?;
        }
        Ok(forwarder)
    }

    /// Deletes a forwarder with a `ForwarderDeleted` event; what it delivered stays delivered.
    pub async fn delete(&self, id: &str, actor: &KeyActor) -> Result<Forwarder, ForwardError> {
        let (forwarder, _) = self.get(id).await?;
        // An alert's firings would otherwise go nowhere, silently.
        let alerts = self
            .blocking(crate::alerts::list)
            .await?
            .map_err(|error| match error {
                crate::alerts::AlertError::Log(error) => ForwardError::Log(error),
                other => ForwardError::Internal(other.to_string()),
            })?;
        let notifying: Vec<&str> = alerts
            .iter()
            .filter(|alert| alert.forwarder_ids.iter().any(|named| named == id))
            .map(|alert| alert.name.as_str())
            .collect();
        if !notifying.is_empty() {
            return Err(ForwardError::Conflict(format!(
                "forwarder {id} is notified by the alerts {}; point them at another forwarder (or delete them) first",
                notifying.join(", ")
            )));
        }
        self.stop_worker(id).await;
        let event =
            config::forwarder_event("DELETE", "ForwarderDeletedAuditPayload", &forwarder, actor);
        let wanted = id.to_owned();
        let side_write: SideWrite = Box::new(move |db| {
            db.execute("DELETE FROM forwarders WHERE id = ?1", values![&wanted])?;
            db.execute(
                "DELETE FROM forward_state WHERE forwarder_id = ?1",
                values![&wanted],
            )?;
            Ok(())
        });
        self.log.append_with(vec![event], Some(side_write)).await?;
        let _ = std::fs::remove_file(self.mark_path(id));
        let (leases, name) = (self.leases.clone(), lease_name(id));
        let _ = tokio::task::spawn_blocking(move || leases.release(&name)).await;
        Ok(forwarder)
    }

    fn mark_path(&self, id: &str) -> PathBuf {
        self.data_dir.join("forwarders").join(format!("{id}.mark"))
    }

    /// Stops the worker of `id`, if one runs, and waits for it.
    async fn stop_worker(&self, id: &str) {
        let running = self.running.lock().expect("running lock").remove(id);
        if let Some(running) = running {
            running.stop.store(true, Ordering::SeqCst);
            let _ = tokio::task::spawn_blocking(move || running.thread.join()).await;
        }
    }

    /// (Re)starts the worker of `id` with its stored settings.
    async fn restart(self: &Arc<Self>, id: &str) -> Result<(), ForwardError> {
        self.stop_worker(id).await;
        if self.stopping.load(Ordering::SeqCst) {
            return Ok(());
        }
        let service = self.clone();
        let wanted = id.to_owned();
        let (forwarder, secret) = self
            .blocking(move |log| {
                Ok::<_, ForwardError>((
                    get_forwarder(log, &wanted)?,
                    config::forwarder_secret(log, &service.master, &wanted)?,
                ))
            })
            .await??;
        let stop = Arc::new(AtomicBool::new(false));
        let position = Arc::new(AtomicU64::new(0));
        let unstored = Arc::new(AtomicU64::new(0));
        let version = forwarder.updated_at.clone();
        let worker = run::Worker {
            log: self.log.clone(),
            leases: self.leases.clone(),
            mark_path: self.mark_path(id),
            forwarder,
            secret,
            policy: self.policy,
            client: self.client.clone(),
            runtime: tokio::runtime::Handle::current(),
            stop: stop.clone(),
            position: position.clone(),
            unstored: unstored.clone(),
        };
        let thread = std::thread::Builder::new()
            .name(format!("vigil-forward-{}", &id[..id.len().min(8)]))
            .spawn(move || worker.run())
            .map_err(|error| ForwardError::Internal(format!("cannot start a worker: {error}")))?;
        self.running.lock().expect("running lock").insert(
            id.to_owned(),
            Running {
                version,
                stop,
                position,
                unstored,
                thread,
            },
        );
        Ok(())
    }

    /// Stops every worker (each stores its checkpoint) and waits for them.
    pub async fn shutdown(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        let ids: Vec<String> = self
            .running
            .lock()
            .expect("running lock")
            .keys()
            .cloned()
            .collect();
        for id in ids {
            self.stop_worker(&id).await;
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&EventLog) -> T + Send + 'static,
    ) -> Result<T, ForwardError> {
        let log = self.log.clone();
        Ok(tokio::task::spawn_blocking(move || work(&log)).await?)
    }
}
