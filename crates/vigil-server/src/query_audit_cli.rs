//! The REST-backed `vigil audit` commands: `integration …`, `forwarder …`, `schedule`, `load`,
//! `users …` and `datasources`, against a running server's REST API.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::Method;
use serde_json::{Value, json};

/// A collection the API manages with create, update, list, get and delete.
#[derive(Debug, Clone, Copy)]
pub enum Collection {
    /// Pull integrations, `/api/audit/integrations`.
    Integrations,
    /// Forwarders to the SIEM, `/api/audit/forwarders`.
    Forwarders,
    /// Alerts, `/api/audit/alerts`.
    Alerts,
}

impl Collection {
    fn path(self) -> &'static str {
        match self {
            Collection::Integrations => "/api/audit/integrations",
            Collection::Forwarders => "/api/audit/forwarders",
            Collection::Alerts => "/api/audit/alerts",
        }
    }
}

/// The subcommands of a collection: `vigil audit integration|forwarder …`.
#[derive(Debug, clap::Subcommand)]
pub enum ResourceCommand {
    /// Create one from a JSON file (the body of the API's POST).
    Create { file: PathBuf },
    /// Replace its settings from a JSON file (without a secret the stored one stays).
    Update { id: String, file: PathBuf },
    /// List them with their progress.
    List,
    /// Show one.
    Get { id: String },
    /// Delete one (the events stay).
    Delete { id: String },
}

impl ResourceCommand {
    /// The action on `collection`.
    pub fn action(self, collection: Collection) -> QueryAuditAction {
        use QueryAuditAction as A;
        match self {
            ResourceCommand::Create { file } => A::Create(collection, file),
            ResourceCommand::Update { id, file } => A::Update(collection, id, file),
            ResourceCommand::List => A::List(collection),
            ResourceCommand::Get { id } => A::Get(collection, id),
            ResourceCommand::Delete { id } => A::Delete(collection, id),
        }
    }
}

/// What a query-audit command does.
#[derive(Debug, Clone)]
pub enum QueryAuditAction {
    /// `integration|forwarder create FILE`.
    Create(Collection, PathBuf),
    /// `integration|forwarder update ID FILE`.
    Update(Collection, String, PathBuf),
    /// `integration|forwarder list`.
    List(Collection),
    /// `integration|forwarder get ID`.
    Get(Collection, String),
    /// `integration|forwarder delete ID`.
    Delete(Collection, String),
    /// `schedule` with the intervals to set (none: show it).
    Schedule {
        /// Minutes between Snowflake runs.
        snowflake: Option<u32>,
        /// Minutes between Unity Catalog runs.
        unity_catalog: Option<u32>,
    },
    /// `load [--wait]`.
    Load {
        /// Wait for the load to end and fail when an integration failed.
        wait: bool,
    },
    /// `users list`.
    ListUsers,
    /// `users map USER --technology T --username U`.
    MapUser {
        /// User id.
        user: String,
        /// Platform.
        technology: String,
        /// Platform username.
        username: String,
    },
    /// `users unmap USER --technology T`.
    UnmapUser {
        /// User id.
        user: String,
        /// Platform.
        technology: String,
    },
    /// `datasources`.
    ListDatasources,
}

/// Percent-encodes one path segment.
fn segment(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'@' => {
                (byte as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn read_file(file: &PathBuf) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    serde_json::from_str(&text).map_err(|error| {
        anyhow::anyhow!(
            "{}: invalid JSON at line {}, column {}: {error}",
            file.display(),
            error.line(),
            error.column()
        )
    })
}

/// Runs a query-audit command against the server at `url`; prints the answer as JSON.
pub fn query_audit_command(
    url: &str,
    api_key: &str,
    action: QueryAuditAction,
) -> anyhow::Result<bool> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client = Client {
            http: reqwest::Client::new(),
            base: url.trim_end_matches('/').to_owned(),
            api_key: api_key.to_owned(),
        };
        use QueryAuditAction as A;
        let answer = match action {
            A::Create(collection, file) => {
                client
                    .call(Method::POST, collection.path(), Some(read_file(&file)?))
                    .await?
            }
            A::Update(collection, id, file) => {
                let path = format!("{}/{}", collection.path(), segment(&id));
                client
                    .call(Method::PUT, &path, Some(read_file(&file)?))
                    .await?
            }
            A::List(collection) => client.call(Method::GET, collection.path(), None).await?,
            A::Get(collection, id) => {
                let path = format!("{}/{}", collection.path(), segment(&id));
                client.call(Method::GET, &path, None).await?
            }
            A::Delete(collection, id) => {
                let path = format!("{}/{}", collection.path(), segment(&id));
                client.call(Method::DELETE, &path, None).await?
            }
            A::Schedule {
                snowflake,
                unity_catalog,
            } => {
                let mut changes = serde_json::Map::new();
                if let Some(minutes) = snowflake {
                    changes.insert("SNOWFLAKE".into(), json!({ "intervalMinutes": minutes }));
                }
                if let Some(minutes) = unity_catalog {
                    changes.insert(
                        "DATABRICKS_UNITY_CATALOG".into(),
                        json!({ "intervalMinutes": minutes }),
                    );
                }
                let path = "/api/audit/integrations/schedule";
                if changes.is_empty() {
                    client.call(Method::GET, path, None).await?
                } else {
                    client
                        .call(Method::PUT, path, Some(Value::Object(changes)))
                        .await?
                }
            }
            A::Load { wait } => {
                let mut job = client.call(Method::POST, "/api/audit/load", None).await?;
                if wait {
                    let path = format!(
                        "/api/audit/load/{}",
                        segment(job["id"].as_str().unwrap_or_default())
                    );
                    while job["state"] == "RUNNING" {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        job = client.call(Method::GET, &path, None).await?;
                    }
                    println!("{}", serde_json::to_string_pretty(&job)?);
                    return Ok(job["state"] != "FAILED");
                }
                job
            }
            A::ListUsers => {
                client
                    .call(Method::GET, "/api/audit/registry/users", None)
                    .await?
            }
            A::MapUser {
                user,
                technology,
                username,
            } => {
                let path = format!(
                    "/api/audit/registry/users/{}/external-ids/{}",
                    segment(&user),
                    segment(&technology)
                );
                client
                    .call(Method::PUT, &path, Some(json!({ "username": username })))
                    .await?
            }
            A::UnmapUser { user, technology } => {
                let path = format!(
                    "/api/audit/registry/users/{}/external-ids/{}",
                    segment(&user),
                    segment(&technology)
                );
                client.call(Method::DELETE, &path, None).await?
            }
            A::ListDatasources => {
                client
                    .call(Method::GET, "/api/audit/registry/datasources", None)
                    .await?
            }
        };
        println!("{}", serde_json::to_string_pretty(&answer)?);
        Ok(true)
    })
}

struct Client {
    http: reqwest::Client,
    base: String,
    api_key: String,
}

impl Client {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {}", self.api_key));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("connecting to {}", self.base))?;
        let status = response.status();
        let body: Value = response.json().await.context("reading the answer")?;
        if !status.is_success() {
            bail!(
                "the server answered {status}: {}",
                body["error"].as_str().unwrap_or("(no message)")
            );
        }
        Ok(body)
    }
}
