//! The `vigil` binary: `serve`, `verify`, `import`, `search`, `reindex`, `report`, `keys`, `audit exportConfig`,
//! `audit integration|schedule|load|users|datasources`, `export public-key`, `verify-export`,
//! `health` and `completions`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use vigil_server::export_cli::{self, ExportConfigAction, ExportKind};
use vigil_server::query_audit_cli::{self, Collection, QueryAuditAction, ResourceCommand};
use vigil_server::report_cli;
use vigil_server::{ServeConfig, cli, config, serve, shutdown_signal, telemetry};

/// vigil: a tamper-evident audit service for data platforms.
///
/// vigil keeps one audit trail of who touched which data, when, for which purpose and whether it
/// was allowed: admin actions of the governance platform and queries run in Snowflake, Databricks
/// and Starburst/Trino, in one Universal Audit Model. Every event is stored in a hash-chained log
/// (`vigil verify` proves nothing was altered), searchable on the audit page and the API, counted
/// in governance reports, and exported on schedule to S3 and ADLS Gen2 with signed digests.
///
/// Start it with `vigil serve` (add --demo for a month of example data) and open
/// http://127.0.0.1:8080. Commands that read or change a running server take --url (VIGIL_URL)
/// and --api-key (VIGIL_API_KEY), and say the permission the key needs; commands that work on
/// the data directory itself take --data-dir (VIGIL_DATA_DIR).
#[derive(Parser)]
#[command(name = "vigil", version, about, long_about)]
struct Cli {
    /// A TOML file with settings (`listen`, `data_dir`, `master_key`, … see `vigil config
    /// check`); flags and environment variables win over it.
    #[arg(long, env = "VIGIL_CONFIG", global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// How log lines are written: `text` for people, `json` (one object a line) for log shippers.
    #[arg(
        long,
        env = "VIGIL_LOG_FORMAT",
        value_enum,
        default_value_t,
        global = true
    )]
    log_format: telemetry::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct DataDir {
    /// The data directory (event log, keys, indexes).
    #[arg(
        long,
        env = "VIGIL_DATA_DIR",
        default_value = "./vigil-data",
        global = true
    )]
    data_dir: PathBuf,
    /// A PostgreSQL database shared by several vigil nodes (`postgres://user:password@host/db`,
    /// `?sslmode=require` for TLS, `&sslrootcert=FILE` for a private CA). It holds the log,
    /// keys, configurations and checkpoints; --data-dir then holds only this node's derived
    /// views. Default: everything in --data-dir.
    #[arg(
        long,
        env = "VIGIL_DATABASE_URL",
        hide_env_values = true,
        global = true,
        value_name = "URL"
    )]
    database_url: Option<String>,
}

impl DataDir {
    fn storage(&self) -> anyhow::Result<cli::Storage> {
        cli::Storage::new(self.data_dir.clone(), self.database_url.as_deref())
    }
}

/// The standard AWS and Azure settings exports use, under their usual environment variable
/// names (hidden flags: the variables are how they are given).
#[derive(Args)]
struct Cloud {
    #[arg(long, env = "AWS_ENDPOINT_URL", hide = true)]
    aws_endpoint_url: Option<String>,
    #[arg(long, env = "AWS_ENDPOINT_URL_S3", hide = true)]
    aws_endpoint_url_s3: Option<String>,
    #[arg(long, env = "AWS_ENDPOINT_URL_STS", hide = true)]
    aws_endpoint_url_sts: Option<String>,
    #[arg(long, env = "AWS_ACCESS_KEY_ID", hide = true)]
    aws_access_key_id: Option<String>,
    #[arg(
        long,
        env = "AWS_SECRET_ACCESS_KEY",
        hide = true,
        hide_env_values = true
    )]
    aws_secret_access_key: Option<String>,
    #[arg(long, env = "AWS_SESSION_TOKEN", hide = true, hide_env_values = true)]
    aws_session_token: Option<String>,
    /// `true` sends ADLS Gen2 exports to Azurite (`AZURITE_BLOB_STORAGE_URL`).
    #[arg(long, env = "AZURE_STORAGE_USE_EMULATOR", hide = true)]
    azure_storage_use_emulator: bool,
}

impl From<Cloud> for vigil_core::export::CloudSettings {
    fn from(cloud: Cloud) -> Self {
        vigil_core::export::CloudSettings {
            aws_endpoint_url: cloud.aws_endpoint_url,
            aws_endpoint_url_s3: cloud.aws_endpoint_url_s3,
            aws_endpoint_url_sts: cloud.aws_endpoint_url_sts,
            aws_access_key_id: cloud.aws_access_key_id,
            aws_secret_access_key: cloud.aws_secret_access_key,
            aws_session_token: cloud.aws_session_token,
            azure_storage_use_emulator: cloud.azure_storage_use_emulator,
        }
    }
}

#[derive(Args)]
struct Remote {
    /// The server.
    #[arg(
        long,
        env = "VIGIL_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    url: String,
    /// An API key with the AUDIT permission.
    #[arg(long, env = "VIGIL_API_KEY", hide_env_values = true, global = true)]
    api_key: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service: the API, the web UI, the exporters and the pull integrations.
    ///
    /// Works on --data-dir (VIGIL_DATA_DIR). The first start prints an admin key once, or takes
    /// VIGIL_BOOTSTRAP_API_KEY. Other settings: VIGIL_RETENTION_DAYS, VIGIL_MASTER_KEY,
    /// VIGIL_EXPORT_OBJECT_EVENTS, VIGIL_REPORT_TIMEOUT_SECS, AWS_ENDPOINT_URL, RUST_LOG,
    /// VIGIL_LOG_FORMAT (see README).
    Serve {
        /// Address to listen on.
        #[arg(long, env = "VIGIL_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        #[command(flatten)]
        data_dir: DataDir,
        /// Load example data at start: the specification's example events and a realistic month of
        /// users, data sources, projects and queries from every platform, dated up to now.
        #[arg(long)]
        demo: bool,
        /// Remove events older than this many days (default: keep everything).
        #[arg(long, env = "VIGIL_RETENTION_DAYS", value_parser = clap::value_parser!(u64).range(1..))]
        retention_days: Option<u64>,
        /// Events per exported object.
        #[arg(long, env = "VIGIL_EXPORT_OBJECT_EVENTS", default_value_t = vigil_core::export::EVENTS_PER_OBJECT, value_parser = clap::value_parser!(u64).range(1..))]
        export_object_events: u64,
        /// Cancel a governance report that runs longer than this many seconds (the seed's 9 minutes).
        #[arg(long, env = "VIGIL_REPORT_TIMEOUT_SECS", default_value_t = 540, value_parser = clap::value_parser!(u64).range(1..))]
        report_timeout_secs: u64,
        /// Let export endpoints and integration hosts be loopback, private or link-local
        /// addresses (emulators, MinIO on the same network); refused by default.
        #[arg(long, env = "VIGIL_ALLOW_PRIVATE_ENDPOINTS")]
        allow_private_endpoints: bool,
        /// Sign the chain head this often (seconds) when it has moved, and copy the checkpoint to
        /// every export destination.
        #[arg(long, env = "VIGIL_CHECKPOINT_INTERVAL_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
        checkpoint_interval_secs: u64,
        /// Serve HTTPS with this certificate chain (PEM); read again when it changes, so a
        /// rotated certificate needs no restart. Needs --tls-key. Plain HTTP without it.
        #[arg(long, env = "VIGIL_TLS_CERT", requires = "tls_key", value_name = "PEM")]
        tls_cert: Option<PathBuf>,
        /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
        #[arg(long, env = "VIGIL_TLS_KEY", requires = "tls_cert", value_name = "PEM")]
        tls_key: Option<PathBuf>,
        /// The admin key to create on the first start, instead of printing a new one. A
        /// secret: give it as VIGIL_BOOTSTRAP_API_KEY (or …_FILE), not as a flag, which the
        /// process list shows.
        #[arg(
            long,
            env = "VIGIL_BOOTSTRAP_API_KEY",
            hide = true,
            hide_env_values = true
        )]
        bootstrap_api_key: Option<String>,
        /// The key that encrypts the kept export and integration secrets. A secret: give it as
        /// VIGIL_MASTER_KEY (or …_FILE), not as a flag.
        #[arg(long, env = "VIGIL_MASTER_KEY", hide = true, hide_env_values = true)]
        master_key: Option<String>,
        #[command(flatten)]
        cloud: Cloud,
        #[command(flatten)]
        oidc: Box<vigil_server::oidc::OidcArgs>,
    },
    /// Recompute the hash chain of the event log and report every break.
    ///
    /// Reads --data-dir (VIGIL_DATA_DIR) directly; no key is needed (whoever can read the files
    /// can check them). Exits 1 when the chain is broken.
    Verify {
        #[command(flatten)]
        data_dir: DataDir,
        /// Also check against the signed checkpoints in this file or folder (a downloaded export's
        /// `checkpoints/`, or the whole download); repeatable. Those in the log are always checked.
        #[arg(long = "checkpoint", value_name = "PATH")]
        checkpoints: Vec<std::path::PathBuf>,
        /// The public key (hex, from `vigil export public-key`, kept elsewhere) that checkpoints must
        /// verify with; by default the data directory's own.
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Search the events of a running server (the key needs AUDIT).
    ///
    /// Prints a table, JSON lines or CSV; with --all, every matching event is streamed.
    Search {
        /// The server.
        #[arg(long, env = "VIGIL_URL", default_value = "http://127.0.0.1:8080")]
        url: String,
        /// An API key with the AUDIT permission.
        #[arg(long, env = "VIGIL_API_KEY", hide_env_values = true)]
        api_key: String,
        /// FIELD=VALUE, repeatable (action=QUERY, dataSourceId=7, actorName=Taylor, …);
        /// FIELD.not=VALUE excludes (action.not=QUERY).
        #[arg(long = "filter", short = 'f')]
        filters: Vec<String>,
        /// Keywords over query text and names.
        #[arg(long, short = 'q')]
        query: Option<String>,
        /// Events at or after this time: RFC 3339, a date, epoch milliseconds, or relative to
        /// now (now-15m, now-24h, now-7d, or 24h for 24 hours ago).
        #[arg(long)]
        from: Option<String>,
        /// Events at or before this time (the same forms; now by default).
        #[arg(long)]
        to: Option<String>,
        /// How many events (with --all: every matching event).
        #[arg(long, default_value_t = 50)]
        size: usize,
        /// Print the events as JSON lines (the stored JSON).
        #[arg(long, alias = "json", conflicts_with = "csv")]
        ndjson: bool,
        /// Print the events as CSV (the columns README lists under "Take results away").
        #[arg(long)]
        csv: bool,
        /// Every matching event, streamed (with --csv or --ndjson; NDJSON by default).
        #[arg(long)]
        all: bool,
        /// Also vigil's own reads (searches and report runs), hidden by default.
        #[arg(long)]
        own_reads: bool,
    },
    /// Rebuild the search index, or with --projection the governance projection, from the event
    /// log.
    ///
    /// Works on --data-dir (VIGIL_DATA_DIR) while no server uses it (stop the server first); no key
    /// is needed.
    Reindex {
        #[command(flatten)]
        data_dir: DataDir,
        /// Rebuild the governance projection (the reports' tables) instead of the search index.
        #[arg(long)]
        projection: bool,
    },
    /// Governance reports of a running server (the key needs AUDIT; --url/VIGIL_URL,
    /// --api-key/VIGIL_API_KEY).
    Report {
        #[command(subcommand)]
        command: ReportCommand,
        #[command(flatten)]
        remote: Remote,
    },
    /// Load UAM events from an NDJSON file (one event per line) into --data-dir (VIGIL_DATA_DIR).
    ///
    /// Goes through the same checks as the API; works while no server uses the directory. Exits 1
    /// when a line was rejected.
    Import {
        /// The NDJSON file.
        file: PathBuf,
        #[command(flatten)]
        data_dir: DataDir,
    },
    /// Audit administration on a running server (the specification's CLI; --url/VIGIL_URL,
    /// --api-key/VIGIL_API_KEY).
    ///
    /// Listing needs AUDIT; changing export configurations needs EXPORT_ADMIN or ADMIN;
    /// integrations, the schedule and user mappings need ADMIN; a load needs AUDIT.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
        #[command(flatten)]
        remote: Remote,
    },
    /// Export keys: print the public key that verifies export digests (--data-dir,
    /// VIGIL_DATA_DIR; no API key needed).
    Export {
        #[command(subcommand)]
        command: ExportCommand,
        #[command(flatten)]
        data_dir: DataDir,
    },
    /// Check a downloaded export against its signed digests (no server and no API key needed;
    /// exits 1 on any missing, altered or unlisted object).
    VerifyExport {
        /// The downloaded copy of the configuration's path.
        #[arg(long)]
        dir: PathBuf,
        /// The public key (hex) from `vigil export public-key`; default: this data directory's.
        #[arg(long)]
        public_key: Option<String>,
        #[command(flatten)]
        data_dir: DataDir,
    },
    /// Manage API keys in --data-dir (VIGIL_DATA_DIR), which must already be a data directory.
    ///
    /// Works on the files directly, like an operator's console: whoever runs it must be able to
    /// write the data directory. Each change is recorded as an event.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
        #[command(flatten)]
        data_dir: DataDir,
    },
    /// Ask a running server whether it is alive (`GET /healthz`, no key needed): exits 0 when it
    /// answers 200, 1 otherwise. For container health checks and scripts.
    Health {
        /// The server.
        #[arg(long, env = "VIGIL_URL", default_value = "http://127.0.0.1:8080")]
        url: String,
    },
    /// The settings: `vigil config check` validates the config file and the environment, and
    /// prints the effective settings with secrets masked (no key needed).
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Print the shell completion script for bash, zsh or fish (for example
    /// `vigil completions bash > /etc/bash_completion.d/vigil`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate the settings as `vigil serve` would take them and print them, secrets masked.
    Check,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key; its secret is printed once.
    Create {
        /// A unique name.
        #[arg(long)]
        name: String,
        /// AUDIT, INGEST, ADMIN or EXPORT_ADMIN; repeat or separate with commas.
        #[arg(long = "permission", required = true)]
        permissions: Vec<String>,
    },
    /// List keys (never their secrets).
    List,
    /// Delete a key by id or name.
    Delete {
        /// Key id or name.
        key: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Export configurations: create, update, list, enable, disable, delete, export now.
    #[command(name = "exportConfig")]
    ExportConfig {
        #[command(subcommand)]
        command: ExportConfigCommand,
    },
    /// Query-audit pull integrations (Snowflake, Databricks Unity Catalog).
    Integration {
        #[command(subcommand)]
        command: ResourceCommand,
    },
    /// Forwarders to the SIEM (syslog over TCP or TLS, Splunk HEC, signed webhook).
    Forwarder {
        #[command(subcommand)]
        command: ResourceCommand,
    },
    /// Alerts: a saved search, a threshold and a window; firings go out through forwarders.
    Alert {
        #[command(subcommand)]
        command: ResourceCommand,
    },
    /// Show the pull schedule, or set the minutes between runs per integration type.
    Schedule {
        /// Minutes between Snowflake runs.
        #[arg(long)]
        snowflake_minutes: Option<u32>,
        /// Minutes between Databricks Unity Catalog runs.
        #[arg(long)]
        unity_catalog_minutes: Option<u32>,
    },
    /// Load Audit Events: run every enabled pull integration now.
    Load {
        /// Wait until the load ends; exit non-zero when an integration failed.
        #[arg(long)]
        wait: bool,
    },
    /// Registered users and their platform usernames.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Registered data sources.
    Datasources,
}

#[derive(Subcommand)]
enum UsersCommand {
    /// List registered users.
    List,
    /// Map a platform username to a user.
    Map {
        /// The user id.
        user: String,
        /// SNOWFLAKE, DATABRICKS or STARBURST_TRINO.
        #[arg(long)]
        technology: String,
        /// The username on that platform.
        #[arg(long)]
        username: String,
    },
    /// Remove a user's username on a platform.
    Unmap {
        /// The user id.
        user: String,
        /// SNOWFLAKE, DATABRICKS or STARBURST_TRINO.
        #[arg(long)]
        technology: String,
    },
}

impl AuditCommand {
    fn query_audit_action(self) -> Option<QueryAuditAction> {
        use QueryAuditAction as A;
        Some(match self {
            AuditCommand::ExportConfig { .. } => return None,
            AuditCommand::Integration { command } => command.action(Collection::Integrations),
            AuditCommand::Forwarder { command } => command.action(Collection::Forwarders),
            AuditCommand::Alert { command } => command.action(Collection::Alerts),
            AuditCommand::Schedule {
                snowflake_minutes,
                unity_catalog_minutes,
            } => A::Schedule {
                snowflake: snowflake_minutes,
                unity_catalog: unity_catalog_minutes,
            },
            AuditCommand::Load { wait } => A::Load { wait },
            AuditCommand::Users { command } => match command {
                UsersCommand::List => A::ListUsers,
                UsersCommand::Map {
                    user,
                    technology,
                    username,
                } => A::MapUser {
                    user,
                    technology,
                    username,
                },
                UsersCommand::Unmap { user, technology } => A::UnmapUser { user, technology },
            },
            AuditCommand::Datasources => A::ListDatasources,
        })
    }
}

#[derive(Subcommand)]
enum ExportConfigCommand {
    /// Create an S3 configuration with an access key from a JSON file.
    #[command(name = "create:s3:accessKey")]
    CreateS3AccessKey { file: PathBuf },
    /// Create an S3 configuration with an assumed role from a JSON file.
    #[command(name = "create:s3:assumedRole")]
    CreateS3AssumedRole { file: PathBuf },
    /// Create an ADLS Gen2 configuration with a SAS token from a JSON file.
    #[command(name = "create:adls:sasToken")]
    CreateAdlsSasToken { file: PathBuf },
    /// Update an S3 access-key configuration (the file holds its `id`).
    #[command(name = "update:s3:accessKey")]
    UpdateS3AccessKey { file: PathBuf },
    /// Update an S3 assumed-role configuration (the file holds its `id`).
    #[command(name = "update:s3:assumedRole")]
    UpdateS3AssumedRole { file: PathBuf },
    /// Update an ADLS configuration (the file holds its `id`).
    #[command(name = "update:adls:sasToken")]
    UpdateAdlsSasToken { file: PathBuf },
    /// List configurations with their connection status and export progress.
    List,
    /// Enable a configuration.
    Enable { id: String },
    /// Disable a configuration.
    Disable { id: String },
    /// Delete a configuration.
    Delete { id: String },
    /// Export now, in the background.
    #[command(name = "exportNow")]
    ExportNow { id: String },
    /// Test the connection again.
    #[command(name = "testConnection")]
    TestConnection { id: String },
}

#[derive(Subcommand)]
enum ExportCommand {
    /// Print the public key (hex) that verifies export digests.
    PublicKey,
}

impl ExportConfigCommand {
    fn action(self) -> ExportConfigAction {
        use ExportConfigAction as A;
        match self {
            Self::CreateS3AccessKey { file } => A::Create(ExportKind::S3AccessKey, file),
            Self::CreateS3AssumedRole { file } => A::Create(ExportKind::S3AssumedRole, file),
            Self::CreateAdlsSasToken { file } => A::Create(ExportKind::AdlsSasToken, file),
            Self::UpdateS3AccessKey { file } => A::Update(ExportKind::S3AccessKey, file),
            Self::UpdateS3AssumedRole { file } => A::Update(ExportKind::S3AssumedRole, file),
            Self::UpdateAdlsSasToken { file } => A::Update(ExportKind::AdlsSasToken, file),
            Self::List => A::List,
            Self::Enable { id } => A::Enable(id),
            Self::Disable { id } => A::Disable(id),
            Self::Delete { id } => A::Delete(id),
            Self::ExportNow { id } => A::ExportNow(id),
            Self::TestConnection { id } => A::TestConnection(id),
        }
    }
}

#[derive(Subcommand)]
enum ReportCommand {
    /// List the report kinds (all 45, or one entity type's).
    List {
        /// Only this entity type's reports (user, group, project, datasource, purpose,
        /// policy-type, global-policy, connection, tag, sdd).
        #[arg(long)]
        entity: Option<String>,
    },
    /// Run a report.
    Run {
        /// The entity type (user, group, project, datasource, purpose, policy-type,
        /// global-policy, connection, tag, sdd).
        #[arg(long)]
        entity: String,
        /// The entity's name or id; leave it out for the reports about every entity.
        #[arg(long)]
        name: Option<String>,
        /// The report (see `vigil report list`).
        #[arg(long)]
        report: String,
        /// Start of the date range of access reports (RFC 3339, date, epoch ms); default: a month before --to.
        #[arg(long)]
        from: Option<String>,
        /// End of the date range (default: now).
        #[arg(long)]
        to: Option<String>,
        /// Rows to show (a number or `all`; default 100, or all with --csv).
        #[arg(long)]
        limit: Option<String>,
        /// Print the whole report as CSV.
        #[arg(long, conflicts_with = "json")]
        csv: bool,
        /// Print the JSON answer.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    // The config file and `…_FILE` secrets become environment variables first (flags > environment
    // > file > defaults), while no other thread runs.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let applied = match config::apply(&args) {
        Ok(applied) => applied,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let cli = Cli::parse_from(&args);
    telemetry::init(cli.log_format);
    let outcome = match cli.command {
        Command::Serve {
            listen,
            data_dir,
            demo,
            retention_days,
            export_object_events,
            report_timeout_secs,
            allow_private_endpoints,
            checkpoint_interval_secs,
            tls_cert,
            tls_key,
            bootstrap_api_key,
            master_key,
            cloud,
            oidc,
        } => {
            let settings = data_dir.storage().map_err(|error| format!("{error:#}"));
            let (storage, oidc) = match settings.and_then(|s| Ok((s, oidc.settings()?))) {
                Ok(settings) => settings,
                Err(error) => {
                    eprintln!("error: {error}");
                    return ExitCode::FAILURE;
                }
            };
            let config = ServeConfig {
                listen,
                data_dir: storage.data_dir,
                database: storage.database,
                demo,
                bootstrap_api_key: bootstrap_api_key.filter(|s| !s.is_empty()),
                retention_days,
                master_key: master_key.filter(|s| !s.is_empty()),
                export_object_events,
                report_timeout: std::time::Duration::from_secs(report_timeout_secs),
                allow_private_endpoints,
                checkpoint_interval: std::time::Duration::from_secs(checkpoint_interval_secs),
                tls: tls_cert.zip(tls_key),
                oidc,
                environment: vigil_core::export::ExportEnvironment::new(cloud.into()),
            };
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(anyhow::Error::from)
                .and_then(|runtime| runtime.block_on(serve(config, shutdown_signal())))
                .map(|()| true)
        }
        Command::Verify {
            data_dir,
            checkpoints,
            public_key,
        } => data_dir
            .storage()
            .and_then(|storage| cli::verify_command(&storage, &checkpoints, public_key)),
        Command::Search {
            url,
            api_key,
            filters,
            query,
            from,
            to,
            size,
            ndjson,
            csv,
            all,
            own_reads,
        } => cli::search_command(cli::SearchArgs {
            url,
            api_key,
            filters,
            keywords: query,
            from,
            to,
            size,
            output: match (csv, ndjson || all) {
                (true, _) => cli::SearchOutput::Csv,
                (false, true) => cli::SearchOutput::Ndjson,
                (false, false) => cli::SearchOutput::Table,
            },
            all,
            own_reads,
        })
        .map(|()| true),
        Command::Reindex {
            data_dir,
            projection: false,
        } => data_dir
            .storage()
            .and_then(|storage| cli::reindex_command(&storage))
            .map(|()| true),
        Command::Reindex {
            data_dir,
            projection: true,
        } => data_dir
            .storage()
            .and_then(|storage| cli::rebuild_projection_command(&storage))
            .map(|()| true),
        Command::Report { command, remote } => match remote.api_key {
            None => Err(anyhow::anyhow!(
                "an API key is needed: --api-key or VIGIL_API_KEY"
            )),
            Some(api_key) => match command {
                ReportCommand::List { entity } => {
                    report_cli::list_command(&remote.url, &api_key, entity.as_deref())
                }
                ReportCommand::Run {
                    entity,
                    name,
                    report,
                    from,
                    to,
                    limit,
                    csv,
                    json,
                } => report_cli::run_command(
                    &remote.url,
                    &api_key,
                    report_cli::RunArgs {
                        entity,
                        name,
                        report,
                        from,
                        to,
                        limit,
                        csv,
                        json,
                    },
                ),
            }
            .map(|()| true),
        },
        Command::Import { file, data_dir } => data_dir
            .storage()
            .and_then(|storage| cli::import_command(&storage, &file)),
        Command::Audit { command, remote } => match remote.api_key {
            None => Err(anyhow::anyhow!(
                "an API key is needed: --api-key or VIGIL_API_KEY"
            )),
            Some(api_key) => match command {
                AuditCommand::ExportConfig { command } => {
                    export_cli::export_config_command(&remote.url, &api_key, command.action())
                        .map(|()| true)
                }
                other => query_audit_cli::query_audit_command(
                    &remote.url,
                    &api_key,
                    other.query_audit_action().expect("not an export command"),
                ),
            },
        },
        Command::Export {
            command: ExportCommand::PublicKey,
            data_dir,
        } => data_dir
            .storage()
            .and_then(|storage| export_cli::public_key_command(&storage))
            .map(|()| true),
        Command::VerifyExport {
            dir,
            public_key,
            data_dir,
        } => data_dir
            .storage()
            .and_then(|storage| export_cli::verify_export_command(&dir, public_key, &storage)),
        Command::Health { url } => cli::health_command(&url),
        Command::Config {
            command: ConfigCommand::Check,
        } => {
            print!("{}", config::check(&applied));
            // The settings `serve` would run with, checked as it checks them.
            let checked = Cli::try_parse_from(["vigil", "serve"])
                .map_err(|error| error.to_string().trim().to_owned())
                .and_then(|cli| match cli.command {
                    Command::Serve { oidc, .. } => oidc.settings().map(drop),
                    _ => Ok(()),
                });
            checked
                .map_err(|error| anyhow::anyhow!("the settings are not valid: {error}"))
                .map(|()| println!("the settings are valid"))
                .map(|()| true)
        }
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, "vigil", &mut script);
            // A closed pipe (`| head`) is no error worth a panic.
            match std::io::Write::write_all(&mut std::io::stdout(), &script) {
                Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(error.into()),
                _ => Ok(true),
            }
        }
        Command::Keys { command, data_dir } => match data_dir.storage() {
            Err(error) => Err(error),
            Ok(storage) => match command {
                KeysCommand::Create { name, permissions } => {
                    cli::keys_create(&storage, &name, &permissions)
                }
                KeysCommand::List => cli::keys_list(&storage),
                KeysCommand::Delete { key } => cli::keys_delete(&storage, &key),
            },
        }
        .map(|()| true),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
