//! Databricks Unity Catalog: `system.query.history` joined with the tables each statement read
//! (`system.access.column_lineage`) and wrote (the `target_*` columns of `table_lineage`),
//! read through the SQL Statement Execution API (`POST /api/2.0/sql/statements` with
//! `EXTERNAL_LINKS`, polling a pending statement, following `next_chunk_internal_link` and
//! downloading each chunk from its presigned link). A window whose result is larger than
//! `rowsPerStatement` is narrowed by the pull service. Every user and table is audited; a user
//! vigil cannot name is the unknown user, with the Databricks username kept in
//! `technologyContext.account.username`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::source::{Page, PageSource, PullError, Row, RowOutcome};
use super::{QueryEvent, iso, object_accessed, parse_time, resolve_actor, truncate_query};
use crate::registry::{Platform, Snapshot};

/// A Unity Catalog integration's settings (its token is stored apart, sealed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatabricksSettings {
    /// `https://<deployment>.cloud.databricks.com`.
    pub host: String,
    /// The SQL warehouse that runs the audit query.
    pub warehouse_id: String,
    /// Only these workspaces (ids); all when empty.
    #[serde(default)]
    pub workspace_ids: Vec<String>,
    /// Queries that have no lineage yet are held back this many minutes, because lineage
    /// arrives late; after that they are stored without tables (cached results never get any).
    #[serde(default = "default_settle_minutes")]
    pub lineage_settle_minutes: u32,
    /// The most rows one audit statement may return: a window whose result is larger is
    /// narrowed (halved until it fits), so no run depends on one huge result.
    #[serde(default = "default_rows_per_statement")]
    pub rows_per_statement: u32,
}

fn default_settle_minutes() -> u32 {
    30
}

fn default_rows_per_statement() -> u32 {
    200_000
}

/// The bounds of `rowsPerStatement`.
const ROWS_PER_STATEMENT: std::ops::RangeInclusive<u32> = 100..=5_000_000;

impl DatabricksSettings {
    /// Checks every field; the message names the field.
    pub fn validate(&self, overlap_minutes: u32) -> Result<(), String> {
        crate::outbound::validate_url("host", &self.host)?;
        if self.warehouse_id.trim().is_empty() {
            return Err("warehouseId: is required".into());
        }
        if let Some(bad) = self
            .workspace_ids
            .iter()
            .find(|id| id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()))
        {
            return Err(format!(
                "workspaceIds: `{bad}` is not a workspace id (digits only)"
            ));
        }
        if !ROWS_PER_STATEMENT.contains(&self.rows_per_statement) {
            return Err(format!(
                "rowsPerStatement: {} is outside {}..={}",
                self.rows_per_statement,
                ROWS_PER_STATEMENT.start(),
                ROWS_PER_STATEMENT.end()
            ));
        }
        if self.lineage_settle_minutes > overlap_minutes {
            return Err(format!(
                "lineageSettleMinutes: {} is longer than overlapMinutes {overlap_minutes}; held-back queries would fall out of the next window",
                self.lineage_settle_minutes
            ));
        }
        Ok(())
    }

    fn host_name(&self) -> String {
        reqwest::Url::parse(&self.host)
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned))
            .unwrap_or_else(|| self.host.clone())
    }

    /// The audit statement; `:since` and `:until` bound the window (`until` excluded).
    pub fn statement(&self) -> String {
        let workspaces = if self.workspace_ids.is_empty() {
            String::new()
        } else {
            // Digits only (validated), so they can be written into the statement.
            format!(
                " AND h.workspace_id IN ({})",
                self.workspace_ids
                    .iter()
                    .map(|id| format!("'{id}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        format!(
            "SELECT h.statement_id, h.executed_by, h.executed_by_user_id, h.statement_text, \
h.execution_status, h.error_message, h.compute.type AS compute_type, \
h.compute.warehouse_id AS warehouse_id, h.compute.cluster_id AS cluster_id, h.workspace_id, \
h.start_time, h.end_time, h.total_duration_ms, h.produced_rows, \
h.query_source.notebook_id AS notebook_id, h.client_application, h.session_id, \
l.table_catalog, l.table_schema, l.table_name, l.access_type, l.columns \
FROM system.query.history h \
LEFT JOIN (SELECT statement_id, source_table_catalog AS table_catalog, \
source_table_schema AS table_schema, source_table_name AS table_name, 'READ' AS access_type, \
to_json(collect_set(source_column_name)) AS columns FROM system.access.column_lineage \
WHERE event_time >= :since - INTERVAL 1 DAY AND statement_id IS NOT NULL \
AND source_table_name IS NOT NULL \
GROUP BY statement_id, source_table_catalog, source_table_schema, source_table_name \
UNION ALL SELECT DISTINCT statement_id, target_table_catalog, target_table_schema, \
target_table_name, 'WRITE', CAST(NULL AS STRING) FROM system.access.table_lineage \
WHERE event_time >= :since - INTERVAL 1 DAY AND statement_id IS NOT NULL \
AND target_table_name IS NOT NULL) l \
ON l.statement_id = h.statement_id \
WHERE h.end_time >= :since AND h.end_time < :until{workspaces} \
ORDER BY h.end_time, h.statement_id"
        )
    }
}

/// A running statement's result, chunk by chunk.
pub struct DatabricksPages {
    client: reqwest::Client,
    base: String,
    authorization: String,
    statement_id: String,
    columns: Vec<String>,
    first: Option<Chunk>,
    next_link: Option<String>,
}

/// What submitting a window's statement gave.
pub enum Opened {
    /// The result, ready to read.
    Pages(Box<DatabricksPages>),
    /// The result has more rows than `rowsPerStatement` (or was truncated): the statement was
    /// canceled, and the window must be narrowed.
    TooLarge {
        /// The rows the result had.
        rows: u64,
    },
}

#[derive(Deserialize)]
struct StatementAnswer {
    #[serde(default)]
    statement_id: Option<String>,
    #[serde(default)]
    status: Option<Status>,
    #[serde(default)]
    manifest: Option<Manifest>,
    #[serde(default)]
    result: Option<Chunk>,
}

#[derive(Deserialize)]
struct Status {
    state: String,
    #[serde(default)]
    error: Option<StatusError>,
}

#[derive(Deserialize)]
struct StatusError {
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize)]
struct Manifest {
    schema: Schema,
    #[serde(default)]
    total_row_count: Option<u64>,
    #[serde(default)]
    truncated: bool,
}

#[derive(Deserialize)]
struct Schema {
    #[serde(default)]
    columns: Vec<Column>,
}

#[derive(Deserialize)]
struct Column {
    name: String,
}

/// One chunk of a result: its rows inline (`INLINE`), or links to them (`EXTERNAL_LINKS`).
#[derive(Deserialize, Default)]
struct Chunk {
    #[serde(default)]
    chunk_index: Option<u64>,
    #[serde(default)]
    data_array: Option<Vec<Vec<Value>>>,
    #[serde(default)]
    external_links: Option<Vec<ExternalLink>>,
    #[serde(default)]
    next_chunk_internal_link: Option<String>,
}

/// A presigned link to a chunk's rows. The link and its headers carry a short-lived credential:
/// they are never logged, stored or shown.
#[derive(Deserialize)]
struct ExternalLink {
    external_link: String,
    #[serde(default)]
    http_headers: Option<std::collections::HashMap<String, String>>,
    #[serde(default)]
    next_chunk_internal_link: Option<String>,
}

/// The longest a statement may stay pending or running before the run gives up.
const STATEMENT_DEADLINE: Duration = Duration::from_secs(3600);

fn poll_delay(attempt: u32) -> Duration {
    Duration::from_millis((50u64 << attempt.min(7)).min(5_000))
}

impl DatabricksPages {
    /// Submits the audit statement for the window `[since, until)` and waits for its result.
    /// When `may_narrow` and the result is larger than `rowsPerStatement`, the statement is
    /// canceled and [`Opened::TooLarge`] returned; a truncated result is never read as whole.
    pub async fn open(
        client: &reqwest::Client,
        settings: &DatabricksSettings,
        token: &str,
        (since, until): (DateTime<Utc>, DateTime<Utc>),
        may_narrow: bool,
    ) -> Result<Opened, PullError> {
        let base = settings.host.trim_end_matches('/').to_owned();
        let authorization = format!("Bearer {}", token.trim());
        // EXTERNAL_LINKS: INLINE aborts any result above 25 MiB, which a busy workspace's window
        // exceeds; links have a 100 GiB limit and are read one chunk at a time.
        let body = json!({
            "statement": settings.statement(),
            "warehouse_id": settings.warehouse_id,
            "wait_timeout": "30s",
            "on_wait_timeout": "CONTINUE",
            "disposition": "EXTERNAL_LINKS",
            "format": "JSON_ARRAY",
            "parameters": [
                { "name": "since", "value": iso(since), "type": "TIMESTAMP" },
                { "name": "until", "value": iso(until), "type": "TIMESTAMP" },
            ],
        });
        let request = client
            .post(format!("{base}/api/2.0/sql/statements"))
            .header("Authorization", &authorization)
            .header("User-Agent", concat!("vigil/", env!("CARGO_PKG_VERSION")))
            .json(&body);
        let mut answer: StatementAnswer = send(request, "submitting the audit statement").await?;
        let deadline = tokio::time::Instant::now() + STATEMENT_DEADLINE;
        let mut attempt = 0;
        loop {
            let status = answer.status.as_ref().ok_or_else(|| {
                PullError::Source("Databricks' answer has no statement status".into())
            })?;
            match status.state.as_str() {
                "SUCCEEDED" => break,
                "PENDING" | "RUNNING" => {}
                state => {
                    let error = status.error.as_ref();
                    return Err(PullError::Source(format!(
                        "the audit statement ended {state}: {} {}",
                        error
                            .and_then(|error| error.error_code.as_deref())
                            .unwrap_or(""),
                        error
                            .and_then(|error| error.message.as_deref())
                            .unwrap_or("")
                    )));
                }
            }
            let id = answer.statement_id.clone().ok_or_else(|| {
                PullError::Source("Databricks answered a pending statement without its id".into())
            })?;
            if tokio::time::Instant::now() > deadline {
                return Err(PullError::Source(format!(
                    "the audit statement {id} was still running after {} s",
                    STATEMENT_DEADLINE.as_secs()
                )));
            }
            tokio::time::sleep(poll_delay(attempt)).await;
            attempt += 1;
            let poll = client
                .get(format!("{base}/api/2.0/sql/statements/{id}"))
                .header("Authorization", &authorization);
            answer = send(poll, "polling the audit statement").await?;
        }
        let statement_id = answer.statement_id.clone().unwrap_or_default();
        let manifest = answer
            .manifest
            .ok_or_else(|| PullError::Source("Databricks' answer has no manifest".into()))?;
        let rows = manifest.total_row_count.unwrap_or(0);
        let too_large = rows > u64::from(settings.rows_per_statement) || manifest.truncated;
        if too_large && may_narrow {
            // Frees the warehouse; the result is not read. A failed cancel changes nothing here.
            let cancel = client
                .post(format!(
                    "{base}/api/2.0/sql/statements/{statement_id}/cancel"
                ))
                .header("Authorization", &authorization)
                .send()
                .await;
            if let Err(error) = cancel {
                tracing::debug!(error = %super::source::describe(&error), "canceling an oversized audit statement failed");
            }
            return Ok(Opened::TooLarge { rows });
        }
        if manifest.truncated {
            return Err(PullError::Source(format!(
                "Databricks truncated the result of the audit statement for {} – {} at its byte limit, and the window cannot be narrowed further",
                iso(since),
                iso(until)
            )));
        }
        let columns = manifest
            .schema
            .columns
            .into_iter()
            .map(|column| column.name)
            .collect();
        Ok(Opened::Pages(Box::new(DatabricksPages {
            client: client.clone(),
            base,
            authorization,
            statement_id,
            columns,
            first: Some(answer.result.unwrap_or_default()),
            next_link: None,
        })))
    }

    /// A chunk's rows: inline, or downloaded from its presigned link. The download carries no
    /// Databricks token (the link holds its own credential, and storage refuses a second one). An
    /// expired or refused link is asked for again once.
    async fn rows_of(&self, chunk: Chunk) -> Result<(Vec<Vec<Value>>, Option<String>), PullError> {
        let mut next = chunk.next_chunk_internal_link.clone();
        let Some(links) = chunk.external_links else {
            return Ok((chunk.data_array.unwrap_or_default(), next));
        };
        let mut rows = Vec::new();
        for link in links {
            next = next.or_else(|| link.next_chunk_internal_link.clone());
            let index = chunk.chunk_index.unwrap_or(0);
            match self.download(&link).await {
                Ok(mut part) => rows.append(&mut part),
                Err(first_error) => {
                    tracing::debug!(chunk = index, error = %first_error, "a result link failed; asking for a new one");
                    let fresh: Chunk = send(
                        self.client
                            .get(format!(
                                "{}/api/2.0/sql/statements/{}/result/chunks/{index}",
                                self.base, self.statement_id
                            ))
                            .header("Authorization", &self.authorization),
                        &format!("renewing the link of result chunk {index}"),
                    )
                    .await?;
                    let renewed = fresh
                        .external_links
                        .into_iter()
                        .flatten()
                        .next()
                        .ok_or_else(|| {
                            PullError::Source(format!(
                                "Databricks gave no link to result chunk {index}"
                            ))
                        })?;
                    rows.append(&mut self.download(&renewed).await.map_err(|error| {
                        PullError::Source(format!("downloading result chunk {index}: {error}"))
                    })?);
                }
            }
        }
        Ok((rows, next))
    }

    async fn download(&self, link: &ExternalLink) -> Result<Vec<Vec<Value>>, String> {
        let mut request = self.client.get(&link.external_link);
        for (name, value) in link.http_headers.iter().flatten() {
            request = request.header(name, value);
        }
        let response = request
            .send()
            .await
            .map_err(|error| super::source::describe(&error))?;
        let status = response.status();
        if !status.is_success() {
            // Storage's error body may echo the signed request: not shown.
            return Err(format!("the result storage answered {status}"));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|error| format!("reading the chunk: {}", super::source::describe(&error)))?;
        serde_json::from_slice(&bytes)
            .map_err(|error| format!("the chunk is not a JSON array of rows ({error})"))
    }
}

async fn send<T: for<'de> Deserialize<'de>>(
    request: reqwest::RequestBuilder,
    what: &str,
) -> Result<T, PullError> {
    let response = request.send().await.map_err(|error| {
        PullError::Source(format!("{what}: {}", super::source::describe(&error)))
    })?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|error| PullError::Source(format!("{what}: reading the answer: {error}")))?;
    if !status.is_success() {
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|value| {
                Some(format!(
                    "{} {}",
                    value["error_code"].as_str().unwrap_or_default(),
                    value["message"].as_str()?
                ))
            })
            // A body in any other shape is never shown or stored: it may not come from Databricks.
            .unwrap_or_else(|| "the answer is not the API's error format (body not shown)".into());
        return Err(PullError::Source(format!(
            "{what}: Databricks answered {status}: {}",
            message.trim()
        )));
    }
    serde_json::from_str(&text).map_err(|error| {
        PullError::Source(format!(
            "{what}: Databricks' answer is not the API's JSON ({error})"
        ))
    })
}

#[async_trait::async_trait]
impl PageSource for DatabricksPages {
    async fn next_page(&mut self) -> Result<Option<Page>, PullError> {
        let chunk = if let Some(chunk) = self.first.take() {
            chunk
        } else if let Some(link) = self.next_link.take() {
            let request = self
                .client
                .get(format!("{}{link}", self.base))
                .header("Authorization", &self.authorization);
            send(request, &format!("fetching {link}")).await?
        } else {
            return Ok(None);
        };
        let (rows, next) = self.rows_of(chunk).await?;
        self.next_link = next;
        Ok(Some(Page::new(&self.columns, rows)))
    }
}

/// Whether an error text says the user lacked permission (the seed: unauthorized events are
/// recognized from Unity Catalog's error messages).
pub fn is_permission_error(message: &str) -> bool {
    let upper = message.to_ascii_uppercase();
    [
        "INSUFFICIENT_PERMISSIONS",
        "PERMISSION_DENIED",
        "INSUFFICIENT PRIVILEGES",
        "NOT AUTHORIZED",
        "ACCESS DENIED",
    ]
    .iter()
    .any(|needle| upper.contains(needle))
}

/// The bracketed error class at the start of a Databricks error (`[INSUFFICIENT_PERMISSIONS] …`).
fn error_class(message: &str) -> Option<String> {
    let rest = message.trim_start().strip_prefix('[')?;
    let (class, _) = rest.split_once(']')?;
    (!class.is_empty()).then(|| class.to_owned())
}

/// The table a permission error names (`… on Table 'main.sales.orders'.`, or with backticks), as
/// catalog, schema and table: a refused statement has no lineage row, and the message is the only
/// place that says what it tried to read.
fn refused_table(message: &str) -> Option<(Option<String>, String, String)> {
    let lower = message.to_ascii_lowercase();
    let at = lower.find(" on table ")? + " on table ".len();
    let rest = message[at..].trim_start();
    let quote = rest
        .chars()
        .next()
        .filter(|c| matches!(c, '\'' | '`' | '"'))?;
    // `'main.sales.orders'`, or each part quoted: `` `sales`.`orders` ``.
    let name = if quote == '`' {
        rest.split_whitespace()
            .next()?
            .trim_end_matches(['.', ',', ';'])
    } else {
        let inner = &rest[1..];
        &inner[..inner.find(quote)?]
    };
    let parts: Vec<String> = name
        .split('.')
        .map(|part| part.trim_matches('`').to_owned())
        .collect();
    match parts.as_slice() {
        [catalog, schema, table] => Some((Some(catalog.clone()), schema.clone(), table.clone())),
        [schema, table] => Some((None, schema.clone(), table.clone())),
        _ => None,
    }
}

/// Translates one row (one statement and at most one table it read or wrote) into its event.
pub fn translate_row(
    row: &Row<'_>,
    settings: &DatabricksSettings,
    integration_id: &str,
    registry: &Snapshot,
    now: DateTime<Utc>,
) -> RowOutcome {
    let Some(statement_id) = row.text("statement_id") else {
        return RowOutcome::Malformed("statement_id: is missing".into());
    };
    let times = (|| {
        let start =
            parse_time(row.get("start_time")).map_err(|error| format!("start_time: {error}"))?;
        let end = parse_time(row.get("end_time")).map_err(|error| format!("end_time: {error}"))?;
        Ok::<_, String>((start, end))
    })();
    let (start, end) = match times {
        Ok(times) => times,
        Err(error) => return RowOutcome::Malformed(format!("statement {statement_id}: {error}")),
    };
    let columns: Vec<String> = match row.get("columns") {
        Value::Null => Vec::new(),
        Value::String(text) => match serde_json::from_str(text) {
            Ok(columns) => columns,
            Err(error) => {
                return RowOutcome::Malformed(format!(
                    "statement {statement_id}: columns: not a JSON array of names ({error})"
                ));
            }
        },
        _ => {
            return RowOutcome::Malformed(format!(
                "statement {statement_id}: columns: not a JSON array of names"
            ));
        }
    };
    let lineage_table = row.text("table_name");
    let written = row
        .text("access_type")
        .is_some_and(|kind| kind.eq_ignore_ascii_case("WRITE"));
    let status = row.text("execution_status").unwrap_or_default();
    // Only a statement that ran can still get lineage; a failed or canceled one is stored now.
    let succeeded = matches!(
        status.to_ascii_uppercase().as_str(),
        "FINISHED" | "SUCCEEDED" | "SUCCESS"
    );
    if lineage_table.is_none()
        && succeeded
        && now - end < chrono::Duration::minutes(settings.lineage_settle_minutes.into())
    {
        return RowOutcome::Deferred;
    }
    let error_message = row.text("error_message");
    // Without lineage, a refused statement is attributed to the table its error names.
    let refused = lineage_table
        .is_none()
        .then_some(error_message.as_deref())
        .flatten()
        .filter(|message| is_permission_error(message))
        .and_then(refused_table);
    let (catalog, schema, table) = match refused {
        Some((catalog, schema, table)) => (catalog, Some(schema), Some(table)),
        None => (
            row.text("table_catalog"),
            row.text("table_schema"),
            lineage_table.clone(),
        ),
    };
    let (action_status, error_code) = match status.to_ascii_uppercase().as_str() {
        "FINISHED" | "SUCCEEDED" | "SUCCESS" => ("SUCCESS", None),
        // Canceled by the user or an administrator: a failure with its own code.
        "CANCELED" | "CANCELLED" => ("FAILURE", Some("CANCELED".to_owned())),
        _ => {
            let message = error_message.as_deref().unwrap_or("");
            let status = if is_permission_error(message) {
                "UNAUTHORIZED"
            } else {
                "FAILURE"
            };
            (status, error_class(message).or(Some(status.to_owned())))
        }
    };
    let canceled = error_code.as_deref() == Some("CANCELED");
    let username = row.text("executed_by");
    let compute_type = row
        .text("compute_type")
        .map(|kind| kind.to_ascii_uppercase());
    let warehouse_id = row.text("warehouse_id");
    let cluster_id = row.text("cluster_id");
    let service = match (compute_type.as_deref(), &warehouse_id, &cluster_id) {
        (Some(kind), _, _) if kind.contains("SERVERLESS") => "SERVERLESS_COMPUTE",
        (_, Some(_), _) => "WAREHOUSE",
        (_, _, Some(_)) => "CLUSTER",
        (Some(kind), _, _) if kind.contains("WAREHOUSE") => "WAREHOUSE",
        _ => "CLUSTER",
    };
    let mut targets = Vec::new();
    let mut objects = Vec::new();
    if let Some(table) = &table {
        let source = schema.as_deref().and_then(|schema| {
            registry.resolve_table(Platform::Databricks, catalog.as_deref(), schema, table)
        });
        if let Some(source) = source {
            targets.push(source.target(Platform::Databricks));
        }
        let name = [catalog.as_deref(), schema.as_deref(), Some(table.as_str())]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(".");
        let mut object = object_accessed(
            name,
            source.map(|source| source.id.as_str()),
            catalog.as_deref(),
            schema.as_deref(),
            "TABLE",
            &columns,
            false,
        );
        if written {
            object["accessType"] = "WRITE".into();
        }
        objects.push(object);
    }
    let mut payload = Map::new();
    payload.insert("queryId".into(), statement_id.clone().into());
    payload.insert(
        "query".into(),
        row.text("statement_text")
            .as_deref()
            .map(truncate_query)
            .into(),
    );
    payload.insert("startTime".into(), iso(start).into());
    payload.insert("endTime".into(), iso(end).into());
    payload.insert(
        "duration".into(),
        row.number("total_duration_ms")
            .map(|millis| millis / 1000.0)
            .unwrap_or_else(|| super::seconds_between(start, end))
            .into(),
    );
    payload.insert("errorCode".into(), error_code.into());
    payload.insert(
        "technologyContext".into(),
        json!({
            "type": "DatabricksContext",
            "clusterId": cluster_id,
            "workspaceId": row.text("workspace_id"),
            "service": service,
            "queryLanguage": "sql",
            "warehouseId": warehouse_id,
            "notebookId": row.text("notebook_id"),
            "account": { "id": row.text("executed_by_user_id"), "username": username },
            "host": settings.host_name(),
            "rowsProduced": row.integer("produced_rows").unwrap_or(0),
        }),
    );
    payload.insert("objectsAccessed".into(), objects.into());
    // The id follows the lineage row only, as it always has: a refused statement keeps the id it
    // had before its table was read from the error.
    let table_key = match &lineage_table {
        Some(table) => format!(
            "{}.{}.{table}",
            catalog.as_deref().unwrap_or_default(),
            schema.as_deref().unwrap_or_default()
        ),
        None => String::new(),
    };
    RowOutcome::Events {
        events: vec![QueryEvent {
            // A write of a table is its own access; a read keeps the id reads always had.
            id: if written {
                super::derived_id(&[
                    "databricks",
                    integration_id,
                    &statement_id,
                    &table_key,
                    "WRITE",
                ])
            } else {
                super::derived_id(&["databricks", integration_id, &statement_id, &table_key])
            },
            actor: resolve_actor(registry, Platform::Databricks, username.as_deref()),
            action_status,
            action_status_reason: match action_status {
                "SUCCESS" => None,
                _ if canceled => {
                    Some(error_message.unwrap_or_else(|| "the statement was canceled".to_owned()))
                }
                _ => error_message,
            },
            event_time: start,
            session_id: row.text("session_id"),
            user_agent: row.text("client_application"),
            targets,
            payload,
            twin: lineage_table
                .is_some()
                .then(|| super::derived_id(&["databricks", integration_id, &statement_id, ""])),
            resolves: None,
        }],
        end_time: end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_tables_are_read_from_the_error() {
        // Unity Catalog's error texts (Databricks error classes INSUFFICIENT_PERMISSIONS and
        // PERMISSION_DENIED).
        assert_eq!(
            refused_table(
                "[INSUFFICIENT_PERMISSIONS] Insufficient privileges: User does not have SELECT on Table 'main.sales.orders'."
            ),
            Some((Some("main".into()), "sales".into(), "orders".into()))
        );
        assert_eq!(
            refused_table("PERMISSION_DENIED: User does not have MODIFY on table `sales`.`orders`"),
            Some((None, "sales".into(), "orders".into()))
        );
        assert_eq!(
            refused_table(
                "PERMISSION_DENIED: User does not have USE SCHEMA on Schema 'main.sales'"
            ),
            None
        );
    }

    #[test]
    fn permission_errors_are_recognized() {
        assert!(is_permission_error(
            "[INSUFFICIENT_PERMISSIONS] Insufficient privileges: User does not have SELECT on Table 'main.sales.orders'."
        ));
        assert!(!is_permission_error(
            "[TABLE_OR_VIEW_NOT_FOUND] The table cannot be found."
        ));
        assert_eq!(
            error_class("[INSUFFICIENT_PERMISSIONS] x").as_deref(),
            Some("INSUFFICIENT_PERMISSIONS")
        );
        assert_eq!(error_class("plain"), None);
    }

    #[test]
    fn workspaces_are_filtered_in_the_statement() {
        let settings = DatabricksSettings {
            host: "https://x.cloud.databricks.com".into(),
            warehouse_id: "w".into(),
            workspace_ids: vec!["123".into(), "456".into()],
            lineage_settle_minutes: 30,
            rows_per_statement: 200_000,
        };
        assert!(
            settings
                .statement()
                .contains("h.workspace_id IN ('123', '456')")
        );
        let mut bad = settings.clone();
        bad.workspace_ids = vec!["1' OR '1'='1".into()];
        assert!(bad.validate(180).unwrap_err().starts_with("workspaceIds:"));
    }
}
