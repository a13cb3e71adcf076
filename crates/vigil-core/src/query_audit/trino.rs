//! Starburst/Trino: a `QueryCompletedEvent` as Trino's HTTP event listener posts it
//! (`event-listener.name=http`) becomes one `QUERY` event whose id is the Trino query id; the
//! table a write targets (`ioMetadata.output`) is in `objectsAccessed` with `accessType: WRITE`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use vigil_model::ModelError;

use super::{
    QueryEvent, is_registered, iso, object_accessed, parse_time, resolve_actor, truncate_query,
};
use crate::registry::{Platform, Snapshot};

/// What one posted listener event is.
#[derive(Debug)]
pub enum TrinoEvent {
    /// A completed query: its UAM event.
    Completed(Box<QueryEvent>),
    /// A `QueryCreatedEvent` or `SplitCompletedEvent`: nothing to audit (the completed event
    /// follows); the name says which.
    Ignored(&'static str),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Completed {
    metadata: Metadata,
    #[serde(default)]
    statistics: Option<Statistics>,
    context: Context,
    #[serde(default)]
    io_metadata: Option<IoMetadata>,
    #[serde(default)]
    failure_info: Option<FailureInfo>,
    create_time: Value,
    #[serde(default)]
    end_time: Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    query_id: String,
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    query_state: Option<String>,
    #[serde(default)]
    tables: Option<Vec<TableInfo>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TableInfo {
    catalog: String,
    schema: String,
    table: String,
    #[serde(default)]
    columns: Option<Vec<ColumnRef>>,
    #[serde(default)]
    directly_referenced: Option<bool>,
}

/// A column: `{"column": "custkey", "mask": …}` (Trino ≥ 370), `{"name": …, "type": …}`
/// (`ioMetadata`) or a bare name (older releases).
#[derive(Deserialize)]
#[serde(untagged)]
enum ColumnRef {
    Name(String),
    Column {
        column: String,
    },
    Named {
        name: String,
    },
    /// `OutputColumnMetadata`: `{"columnName": …, "sourceColumns": […]}`.
    Output {
        #[serde(rename = "columnName")]
        column_name: String,
    },
}

impl ColumnRef {
    fn name(&self) -> &str {
        match self {
            ColumnRef::Name(name) => name,
            ColumnRef::Column { column } => column,
            ColumnRef::Named { name } => name,
            ColumnRef::Output { column_name } => column_name,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Statistics {
    #[serde(default)]
    output_rows: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Context {
    user: String,
    /// The authenticated principal (`QueryContext.getPrincipal()`), which OAuth2/JWT and Kerberos
    /// setups map to the shorter `user`.
    #[serde(default)]
    principal: Option<String>,
    #[serde(default)]
    user_agent: Option<String>,
    #[serde(default)]
    remote_client_address: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IoMetadata {
    #[serde(default)]
    inputs: Option<Vec<Input>>,
    /// The table an INSERT, CREATE TABLE AS, MERGE, UPDATE or DELETE wrote
    /// (`io.trino.spi.eventlistener.QueryOutputMetadata`).
    #[serde(default)]
    output: Option<Output>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Output {
    catalog_name: String,
    schema: String,
    table: String,
    #[serde(default)]
    columns: Option<Vec<ColumnRef>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Input {
    catalog_name: String,
    schema: String,
    table: String,
    #[serde(default)]
    columns: Option<Vec<ColumnRef>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FailureInfo {
    #[serde(default)]
    error_code: Option<ErrorCode>,
    #[serde(default)]
    failure_message: Option<String>,
    #[serde(default)]
    failure_type: Option<String>,
}

#[derive(Deserialize)]
struct ErrorCode {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    code: Option<i64>,
}

/// One table the query read, merged from `metadata.tables` and `ioMetadata.inputs`.
#[derive(Default)]
struct TableAccess {
    columns: Vec<String>,
    directly_referenced: Option<bool>,
}

/// Translates one listener event (the JSON of one POST). Errors name the field.
pub fn translate(body: &str, registry: &Snapshot) -> Result<TrinoEvent, ModelError> {
    let value: Value =
        serde_json::from_str(body).map_err(|error| ModelError::from_json(&error, ""))?;
    let Some(object) = value.as_object() else {
        return Err(ModelError::invalid(
            "",
            "a Trino event listener event must be a JSON object",
        ));
    };
    if object.contains_key("stageId") || object.contains_key("taskId") {
        return Ok(TrinoEvent::Ignored("SplitCompletedEvent"));
    }
    if !object.contains_key("statistics") && !object.contains_key("endTime") {
        if object.contains_key("metadata") && object.contains_key("createTime") {
            return Ok(TrinoEvent::Ignored("QueryCreatedEvent"));
        }
        return Err(ModelError::invalid(
            "",
            "not a Trino QueryCompletedEvent: expected `metadata`, `context`, `createTime` and `endTime`",
        ));
    }
    let completed: Completed = vigil_model::parse_with_path(body, "")?;
    let create_time = parse_time(&completed.create_time)
        .map_err(|message| ModelError::invalid("createTime", message))?;
    let end_time = match &completed.end_time {
        Value::Null => None,
        value => {
            Some(parse_time(value).map_err(|message| ModelError::invalid("endTime", message))?)
        }
    };
    if completed.metadata.query_id.trim().is_empty() {
        return Err(ModelError::invalid("metadata.queryId", "must not be empty"));
    }
    Ok(TrinoEvent::Completed(Box::new(build(
        completed,
        create_time,
        end_time,
        registry,
    ))))
}

fn build(
    completed: Completed,
    create_time: DateTime<Utc>,
    end_time: Option<DateTime<Utc>>,
    registry: &Snapshot,
) -> QueryEvent {
    let Completed {
        metadata,
        statistics,
        context,
        io_metadata,
        failure_info,
        ..
    } = completed;
    let mut tables: BTreeMap<(String, String, String), TableAccess> = BTreeMap::new();
    let mut order: Vec<(String, String, String)> = Vec::new();
    let mut touch = |key: (String, String, String), columns: &[ColumnRef], direct: Option<bool>| {
        let entry = tables.entry(key.clone()).or_insert_with(|| {
            order.push(key);
            TableAccess::default()
        });
        for column in columns {
            if !entry.columns.iter().any(|known| known == column.name()) {
                entry.columns.push(column.name().to_owned());
            }
        }
        if direct.is_some() {
            entry.directly_referenced = direct;
        }
    };
    for table in metadata.tables.iter().flatten() {
        touch(
            (
                table.catalog.clone(),
                table.schema.clone(),
                table.table.clone(),
            ),
            table.columns.as_deref().unwrap_or_default(),
            table.directly_referenced,
        );
    }
    for input in io_metadata.iter().flat_map(|io| io.inputs.iter().flatten()) {
        touch(
            (
                input.catalog_name.clone(),
                input.schema.clone(),
                input.table.clone(),
            ),
            input.columns.as_deref().unwrap_or_default(),
            None,
        );
    }
    let output = io_metadata.as_ref().and_then(|io| io.output.as_ref());
    let output_key = output.map(|output| {
        (
            output.catalog_name.clone(),
            output.schema.clone(),
            output.table.clone(),
        )
    });
    let read_inputs: Vec<(String, String, String)> = io_metadata
        .iter()
        .flat_map(|io| io.inputs.iter().flatten())
        .map(|input| {
            (
                input.catalog_name.clone(),
                input.schema.clone(),
                input.table.clone(),
            )
        })
        .collect();
    let mut targets = Vec::new();
    let mut objects = Vec::new();
    for key in &order {
        let (catalog, schema, table) = key;
        let access = &tables[key];
        // Trino lists a write's target among `metadata.tables` with no columns: only written.
        if output_key.as_ref() == Some(key)
            && access.columns.is_empty()
            && !read_inputs.contains(key)
        {
            continue;
        }
        let source = registry.resolve_table(Platform::StarburstTrino, Some(catalog), schema, table);
        if let Some(source) = source
            && !targets
                .iter()
                .any(|target: &Value| target["id"] == source.id.as_str())
        {
            targets.push(source.target(Platform::StarburstTrino));
        }
        let mut object = object_accessed(
            format!("\"{catalog}\".\"{schema}\".\"{table}\""),
            source.map(|source| source.id.as_str()),
            Some(catalog),
            Some(schema),
            "LOGICAL_TABLE",
            &access.columns,
            true,
        );
        if let Some(direct) = access.directly_referenced {
            object["directlyReferenced"] = direct.into();
        }
        objects.push(object);
    }
    if let Some(output) = output {
        let source = registry.resolve_table(
            Platform::StarburstTrino,
            Some(&output.catalog_name),
            &output.schema,
            &output.table,
        );
        if let Some(source) = source
            && !targets
                .iter()
                .any(|target: &Value| target["id"] == source.id.as_str())
        {
            targets.push(source.target(Platform::StarburstTrino));
        }
        let columns: Vec<String> = output
            .columns
            .iter()
            .flatten()
            .map(|column| column.name().to_owned())
            .collect();
        let mut object = object_accessed(
            format!(
                "\"{}\".\"{}\".\"{}\"",
                output.catalog_name, output.schema, output.table
            ),
            source.map(|source| source.id.as_str()),
            Some(&output.catalog_name),
            Some(&output.schema),
            "LOGICAL_TABLE",
            &columns,
            false,
        );
        object["accessType"] = "WRITE".into();
        objects.push(object);
    }
    let failed = failure_info.is_some()
        || metadata
            .query_state
            .as_deref()
            .is_some_and(|state| state.eq_ignore_ascii_case("FAILED"));
    let error_code = failure_info.as_ref().and_then(|failure| {
        let code = failure.error_code.as_ref()?;
        code.name
            .clone()
            .map(Value::from)
            .or_else(|| code.code.map(Value::from))
    });
    let reason = failure_info.as_ref().and_then(|failure| {
        failure
            .failure_message
            .clone()
            .or_else(|| failure.failure_type.clone())
    });
    let mut payload = Map::new();
    payload.insert("queryId".into(), metadata.query_id.clone().into());
    payload.insert(
        "query".into(),
        metadata.query.as_deref().map(truncate_query).into(),
    );
    payload.insert("startTime".into(), iso(create_time).into());
    payload.insert("endTime".into(), end_time.map(iso).into());
    payload.insert(
        "duration".into(),
        end_time
            .map(|end| super::seconds_between(create_time, end))
            .into(),
    );
    payload.insert("errorCode".into(), error_code.unwrap_or(Value::Null));
    payload.insert("objectsAccessed".into(), objects.into());
    payload.insert(
        "technologyContext".into(),
        json!({
            "type": "TrinoContext",
            "trinoUsername": context.user,
            "rowsProduced": statistics.and_then(|statistics| statistics.output_rows).unwrap_or(0),
            "clientIp": context.remote_client_address,
        }),
    );
    // The user as Trino names it, else the authenticated principal: a mapping may name either.
    let actor = match context.principal.as_deref() {
        Some(principal)
            if !is_registered(registry, Platform::StarburstTrino, Some(&context.user)) =>
        {
            resolve_actor(registry, Platform::StarburstTrino, Some(principal))
        }
        _ => resolve_actor(registry, Platform::StarburstTrino, Some(&context.user)),
    };
    QueryEvent {
        id: metadata.query_id,
        actor,
        action_status: if failed { "FAILURE" } else { "SUCCESS" },
        action_status_reason: if failed { reason } else { None },
        event_time: create_time,
        session_id: None,
        user_agent: context.user_agent,
        targets,
        payload,
        twin: None,
        resolves: None,
    }
}
