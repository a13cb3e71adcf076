//! vigil-server: the HTTP API, authentication and wiring of the `vigil` binary. The only crate that
//! knows HTTP.

mod auth;
pub mod cli;
pub mod config;
mod csv;
mod demo;
mod error;
pub mod export_cli;
#[doc(hidden)]
pub mod fuzzing;
mod graphql;
mod listener;
mod metrics;
pub mod oidc;
mod openapi;
pub mod query_audit_cli;
pub mod report_cli;
mod routes;
mod state;
mod table;
pub mod telemetry;
mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use vigil_core::EventLog;
use vigil_core::export::{ExportEnvironment, ExportService, ExportSettings, MasterKey, SigningKey};
use vigil_core::forward::ForwardService;
use vigil_core::ingest::{self, BodyFormat};
use vigil_core::keys;
use vigil_core::outbound::OutboundPolicy;
use vigil_core::query_audit::pull::PullService;
use vigil_core::registry::Registry;
use vigil_core::search::SearchIndex;
use vigil_model::Timestamp;

pub use auth::secret_from_header;
pub use routes::{MAX_BODY_BYTES, openapi, router};
pub use state::AppState;

/// How `vigil serve` runs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The data directory: everything, or (with `database`) this node's derived views.
    pub data_dir: PathBuf,
    /// The PostgreSQL database a cluster of nodes shares; `None`: everything in `data_dir`.
    pub database: Option<vigil_core::store::DatabaseUrl>,
    /// Load the seed's example events at start.
    pub demo: bool,
    /// The secret of the first admin key, when no key exists yet.
    pub bootstrap_api_key: Option<String>,
    /// Remove events older than this many days; `None` keeps everything.
    pub retention_days: Option<u64>,
    /// `VIGIL_MASTER_KEY`: seals export secrets instead of the data directory's key file.
    pub master_key: Option<String>,
    /// Events per exported object.
    pub export_object_events: u64,
    /// A governance report running longer than this is cancelled.
    pub report_timeout: std::time::Duration,
    /// Let export endpoints and integration hosts be loopback, private or link-local addresses.
    pub allow_private_endpoints: bool,
    /// How often the chain head is signed (when it moved) and copied to the export destinations.
    pub checkpoint_interval: std::time::Duration,
    /// TLS: the certificate chain and private key files (PEM), read again when they change.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Single sign-on for people through an OpenID provider; `None`: API keys only.
    pub oidc: Option<oidc::OidcSettings>,
    /// Endpoint defaults and vigil's own AWS credential for exports.
    pub environment: ExportEnvironment,
}

/// Signs the chain head every `interval` when it has moved, records the checkpoint in the log and
/// copies it to every enabled export destination; at shutdown, signs it once more (in the log
/// only: no calls out while stopping).
async fn checkpoint_loop(
    exports: Arc<ExportService>,
    leases: Arc<vigil_core::cluster::Leases>,
    interval: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut covered = 0;
    loop {
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = stop.changed() => break,
        }
        // One node of a cluster signs; the others would only repeat it.
        let keeper = leases.clone();
        let held = tokio::task::spawn_blocking(move || keeper.holds(CHECKPOINT_LEASE))
            .await
            .unwrap_or(false);
        if !held {
            continue;
        }
        match exports.checkpoint(covered, true).await {
            Ok(seq) => covered = seq,
            Err(error) => tracing::warn!(%error, "could not sign a checkpoint; will retry"),
        }
    }
    let keeper = leases.clone();
    let held = tokio::task::spawn_blocking(move || keeper.holds(CHECKPOINT_LEASE))
        .await
        .unwrap_or(false);
    if held && let Err(error) = exports.checkpoint(covered, false).await {
        tracing::warn!(%error, "could not sign the checkpoint at shutdown");
    }
}

/// The lease of the node that signs checkpoints.
const CHECKPOINT_LEASE: &str = "checkpoint";
/// The lease of the node that applies retention.
const RETENTION_LEASE: &str = "retention";

/// How often retention looks for events to remove.
const RETENTION_INTERVAL: std::time::Duration = std::time::Duration::from_secs(3600);

/// Applies retention at start and then every [`RETENTION_INTERVAL`], until `stop` says so.
fn retention_loop(
    log: Arc<EventLog>,
    search: Arc<SearchIndex>,
    key: SigningKey,
    days: u64,
    leases: &vigil_core::cluster::Leases,
    stop: std::sync::mpsc::Receiver<()>,
) {
    loop {
        let cutoff =
            Timestamp((chrono::Utc::now() - chrono::Duration::days(days as i64)).fixed_offset());
        // One node of a cluster removes; every node's index follows the removal from the log.
        let outcome = if leases.holds(RETENTION_LEASE) {
            vigil_core::apply_retention(&log, &key, cutoff, days)
        } else {
            Ok(None)
        };
        match outcome {
            Ok(Some(removal)) => search.remove_below(removal.to_seq + 1),
            Ok(None) => {}
            Err(error) => tracing::error!(%error, "retention failed; will retry"),
        }
        // Another node's lease ends when that node stops: look again sooner in a cluster.
        let wait = if log.is_shared() && !leases.holds(RETENTION_LEASE) {
            vigil_core::cluster::LEASE_TTL
        } else {
            RETENTION_INTERVAL
        };
        if !matches!(
            stop.recv_timeout(wait),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout)
        ) {
            return;
        }
    }
}

/// Evaluates the alerts every [`alerts::EVALUATE_EVERY`] on the node holding their lease, until
/// `stop` says so.
fn alert_loop(
    log: Arc<EventLog>,
    search: Arc<SearchIndex>,
    leases: Arc<vigil_core::cluster::Leases>,
    stop: std::sync::mpsc::Receiver<()>,
) {
    use vigil_core::alerts;
    loop {
        if leases.holds(alerts::LEASE) {
            let now = chrono::Utc::now().timestamp_micros();
            match alerts::evaluate(&log, &search, &leases, &routes::saved_search_request, now) {
                Ok(0) => {}
                Ok(fired) => tracing::info!(fired, "alerts fired"),
                Err(error) => tracing::warn!(%error, "the alerts could not be evaluated"),
            }
        }
        if !matches!(
            stop.recv_timeout(alerts::EVALUATE_EVERY),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout)
        ) {
            return;
        }
    }
}

/// The lease of the node that ends expired sessions.
const SESSIONS_LEASE: &str = "sessions";

/// Ends the sessions past their end every minute (recording each as a sign-out by
/// `EXPIRATION`), on the node holding their lease, until `stop` says so.
async fn session_expiry_loop(
    log: Arc<EventLog>,
    leases: Arc<vigil_core::cluster::Leases>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(std::time::Duration::from_secs(60)) => {}
            _ = stop.changed() => return,
        }
        let (log, leases) = (log.clone(), leases.clone());
        let ended = tokio::task::spawn_blocking(move || {
            if !leases.holds(SESSIONS_LEASE) {
                return Ok(0);
            }
            vigil_core::sessions::end_expired(&log, chrono::Utc::now().timestamp_micros())
        })
        .await;
        match ended {
            Ok(Ok(0)) => {}
            Ok(Ok(ended)) => tracing::info!(ended, "expired sessions ended"),
            Ok(Err(error)) => tracing::warn!(%error, "expired sessions could not be ended"),
            Err(error) => tracing::warn!(%error, "expired sessions could not be ended"),
        }
    }
}

/// Runs the service until `shutdown` completes, then finishes in-flight requests and writes.
pub async fn serve(
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // Bound first: a taken address fails before a data directory is created or a first key is
    // printed. Connections wait in the backlog until the service below is ready.
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    // So are unreadable TLS files.
    let tls = match &config.tls {
        Some((cert, key)) => {
            Some(tls::Tls::open(cert.clone(), key.clone()).map_err(anyhow::Error::msg)?)
        }
        None => None,
    };
    let storage = cli::Storage {
        data_dir: config.data_dir.clone(),
        database: config.database.clone(),
    };
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating the data directory {}", config.data_dir.display()))?;
    let log = Arc::new(tokio::task::spawn_blocking(move || storage.open_log()).await??);
    let leases = vigil_core::cluster::Leases::start(log.clone(), vigil_core::cluster::node_name());
    // A damaged page raises the integrity alarm (appends refused, /readyz says so) once found.
    log.check_pages_in_background()
        .context("starting the check of the log's pages")?;
    let bootstrap_log = log.clone();
    let operator_secret = config.bootstrap_api_key.clone();
    let bootstrapped =
        tokio::task::spawn_blocking(move || keys::bootstrap(&bootstrap_log, operator_secret))
            .await?
            .context("creating the first API key")?;
    match bootstrapped {
        keys::Bootstrap::Generated(secret) => {
            println!(
                "created the first API key `admin` (AUDIT, INGEST, ADMIN, EXPORT_ADMIN); it is shown only this once:"
            );
            println!("{secret}");
        }
        keys::Bootstrap::AllKeysDeleted => tracing::warn!(
            "every API key of this log was deleted, and a deleted key stays deleted: no key was created (VIGIL_BOOTSTRAP_API_KEY applies only to a log that never had one); create one with `vigil keys create --data-dir …`"
        ),
        keys::Bootstrap::Created | keys::Bootstrap::NotNeeded => {}
    }
    if config.demo {
        load_demo(&log).await?;
    }
    let search_dir = config.data_dir.clone();
    let search_log = log.clone();
    let search = tokio::task::spawn_blocking(move || SearchIndex::open(&search_dir, search_log))
        .await?
        .context("opening the search index")?;
    let retention = match config.retention_days {
        Some(days) => {
            let (stop, stopped) = std::sync::mpsc::channel::<()>();
            let (log, search) = (log.clone(), search.clone());
            let key = {
                let (log, data_dir, given) = (
                    log.clone(),
                    config.data_dir.clone(),
                    config.master_key.clone(),
                );
                tokio::task::spawn_blocking(move || {
                    let master = MasterKey::for_log(&log, &data_dir, given.as_deref())?;
                    SigningKey::for_log(&log, &data_dir, &master)
                })
                .await?
                .context("loading the signing key that signs removals")?
            };
            let leases = leases.clone();
            let handle = std::thread::Builder::new()
                .name("vigil-retention".into())
                .spawn(move || retention_loop(log, search, key, days, &leases, stopped))
                .context("starting retention")?;
            Some((stop, handle))
        }
        None => None,
    };
    let alerting = {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let (log, search, leases) = (log.clone(), search.clone(), leases.clone());
        let handle = std::thread::Builder::new()
            .name("vigil-alerts".into())
            .spawn(move || alert_loop(log, search, leases, stopped))
            .context("starting the alerts")?;
        (stop, handle)
    };
    let export_log = log.clone();
    let export_dir = config.data_dir.clone();
    let outbound = OutboundPolicy {
        allow_private: config.allow_private_endpoints,
    };
    let export_settings = ExportSettings {
        master_key: config.master_key.clone(),
        environment: config.environment.clone(),
        events_per_object: config.export_object_events,
        outbound,
    };
    let export_leases = leases.clone();
    let exports = tokio::task::spawn_blocking(move || {
        ExportService::open(export_log, &export_dir, export_settings, export_leases)
    })
    .await?
    .context("opening the export keys")?;
    exports.start().await.context("starting the exporters")?;
    let (stop_checkpoints, checkpoints_stopped) = tokio::sync::watch::channel(false);
    let checkpointer = tokio::spawn(checkpoint_loop(
        exports.clone(),
        leases.clone(),
        config.checkpoint_interval,
        checkpoints_stopped,
    ));
    let registry_log = log.clone();
    let registry = Arc::new(
        tokio::task::spawn_blocking(move || Registry::open(&registry_log))
            .await?
            .context("opening the user and data source registry")?,
    );
    {
        // Catch up with the log in the background; the first request that needs it waits.
        let (registry, log) = (registry.clone(), log.clone());
        tokio::task::spawn_blocking(move || {
            if let Err(error) = registry.catch_up(&log) {
                tracing::warn!(%error, "the registry could not catch up with the log");
            }
        });
    }
    let (pull_log, pull_registry, pull_dir, pull_key, pull_leases) = (
        log.clone(),
        registry.clone(),
        config.data_dir.clone(),
        config.master_key.clone(),
        leases.clone(),
    );
    let pulls = tokio::task::spawn_blocking(move || {
        PullService::open(
            pull_log,
            pull_registry,
            &pull_dir,
            pull_key.as_deref(),
            outbound,
            pull_leases,
        )
    })
    .await?
    .context("opening the query-audit integrations")?;
    pulls.start();
    let (forward_log, forward_dir, forward_key, forward_leases) = (
        log.clone(),
        config.data_dir.clone(),
        config.master_key.clone(),
        leases.clone(),
    );
    let forwards = tokio::task::spawn_blocking(move || {
        ForwardService::open(
            forward_log,
            &forward_dir,
            forward_key.as_deref(),
            outbound,
            forward_leases,
        )
    })
    .await?
    .context("opening the forwarders")?;
    forwards.start().await.context("starting the forwarders")?;
    let governance_dir = config.data_dir.clone();
    let governance_log = log.clone();
    let governance = tokio::task::spawn_blocking(move || {
        vigil_core::governance::Governance::open(&governance_dir, governance_log)
    })
    .await?
    .context("opening the governance projection")?;
    let address = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    match log.database() {
        Some(database) => {
            tracing::info!(%address, scheme, data_dir = %config.data_dir.display(), %database, node = leases.holder(), "vigil is serving (cluster node)")
        }
        None => {
            tracing::info!(%address, scheme, data_dir = %config.data_dir.display(), "vigil is serving")
        }
    }
    println!("vigil listening on {scheme}://{address}");
    let oidc = config.oidc.clone().map(oidc::Oidc::new).transpose()?;
    let (stop_sessions, sessions_stopped) = tokio::sync::watch::channel(false);
    let session_keeper = tokio::spawn(session_expiry_loop(
        log.clone(),
        leases.clone(),
        sessions_stopped,
    ));
    let app = router(AppState {
        log: log.clone(),
        search: search.clone(),
        metrics: Default::default(),
        exports: exports.clone(),
        registry,
        pulls: pulls.clone(),
        forwards: forwards.clone(),
        governance: governance.clone(),
        report_timeout: config.report_timeout,
        oidc: oidc.map(Arc::new),
        graphql: graphql::schema(exports.clone()),
    });
    let max_connections = listener::connection_cap();
    tracing::info!(max_connections, "accepting connections");
    let (stop_tls, tls_stopped) = tokio::sync::watch::channel(false);
    if let Some(tls) = &tls {
        tokio::spawn(tls.clone().watch(tls_stopped));
    }
    listener::serve(listener, app, max_connections, tls, shutdown).await;
    let _ = stop_tls.send(true);
    let _ = stop_sessions.send(true);
    let _ = session_keeper.await;
    // In-flight requests are done: the head is signed once more, exporters stop (a cut-off run
    // resumes at the next start), retention stops, the indexer commits, then the writer finishes
    // what it was given.
    let _ = stop_checkpoints.send(true);
    let _ = checkpointer.await;
    exports.shutdown().await;
    pulls.shutdown().await;
    forwards.shutdown().await;
    tokio::task::spawn_blocking(move || {
        drop(alerting.0);
        let _ = alerting.1.join();
        if let Some((stop, handle)) = retention {
            drop(stop);
            let _ = handle.join();
        }
        search.shutdown();
        governance.shutdown();
        // Leases are given up last: another node takes the work at once.
        leases.shutdown();
        log.shutdown();
    })
    .await?;
    tracing::info!("vigil stopped");
    Ok(())
}

/// Loads the seed's example events and the demo's month through the normal ingest path.
async fn load_demo(log: &EventLog) -> anyhow::Result<()> {
    let items = ingest::split_body(vigil_model::fixtures::SEED_EXAMPLE_EVENTS, BodyFormat::Json)
        .map_err(|error| anyhow::anyhow!("the embedded seed examples are invalid: {error}"))?;
    let prepared = ingest::prepare(items, Timestamp::now(), &vigil_core::Submitter::demo());
    let report = ingest::ingest(log, prepared).await?;
    tracing::info!(
        stored = report.stored.len(),
        duplicates = report.duplicates.len(),
        rejected = report.rejected.len(),
        "loaded the seed's example events"
    );
    for (index, _, reason) in &report.rejected {
        tracing::info!(index, reason, "seed example not loaded");
    }
    // A month of realistic activity, dated up to now (fixed ids: a restart stores nothing twice).
    let month = serde_json::to_string(&demo::month(chrono::Utc::now()))?;
    let items = ingest::split_body(&month, BodyFormat::Json)
        .map_err(|error| anyhow::anyhow!("the demo month is invalid: {error}"))?;
    let prepared = ingest::prepare(items, Timestamp::now(), &vigil_core::Submitter::demo());
    let report = ingest::ingest(log, prepared).await?;
    tracing::info!(
        stored = report.stored.len(),
        already_there = report.duplicates.len(),
        rejected = report.rejected.len(),
        "loaded the demo's month of activity"
    );
    if let Some((index, _, reason)) = report.rejected.first() {
        anyhow::bail!("a demo event was rejected (#{index}): {reason}");
    }
    Ok(())
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
