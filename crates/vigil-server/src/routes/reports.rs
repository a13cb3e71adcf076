//! Governance reports over HTTP: the catalog of report kinds, the entity name box with
//! suggestions, and running a report as JSON rows (100 by default, as the UI shows) or as a whole
//! CSV file. Every run is recorded as a `RUN_REPORT` event.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use vigil_core::governance::reports::{self, find, iso};
use vigil_core::governance::{
    CATALOG, Entity, EntityType, ReportError, ReportRequest, ReportTable, Scope,
};
use vigil_core::keys::{Permission, Principal};
use vigil_core::{EventLog, OwnEvent};

use super::body_text;
use super::search::parse_time;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// Rows a JSON answer holds unless `limit` says otherwise (the UI's 100).
const DEFAULT_JSON_LIMIT: usize = 100;
/// How long a report waits for the projection to reach the events already stored.
const CATCH_UP_WAIT: Duration = Duration::from_secs(10);
/// The parameters a run takes.
const RUN_PARAMETERS: [&str; 7] = [
    "entityType",
    "name",
    "report",
    "from",
    "to",
    "limit",
    "format",
];

/// `GET /api/audit/reports`: the entity types and every report kind with its columns.
#[utoipa::path(
    get,
    path = "/api/audit/reports",
    operation_id = "listReportKinds",
    tag = "reports",
    summary = "The entity types and every report kind with its columns (AUDIT)",
    responses((status = 200, description = "OK", body = Object), crate::openapi::Refused)
)]
pub async fn catalog(caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Audit)?;
    Ok(Json(json!({
        "entityTypes": EntityType::ALL.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
        "reports": &*CATALOG,
    })))
}

/// `GET /api/audit/reports/entities?entityType=user&q=tay`: entities whose name or id contains
/// `q`, for the name box.
#[utoipa::path(
    get,
    path = "/api/audit/reports/entities",
    operation_id = "findReportEntities",
    tag = "reports",
    summary = "Entities whose name or id contains q, for the name box (AUDIT)",
    params(("entityType" = inline(crate::openapi::EntityTypeName), Query, description = "The entity type"), ("q" = Option<String>, Query, description = "Part of a name or id")),
    responses((status = 200, description = "OK", body = Object), crate::openapi::Refused)
)]
pub async fn entities(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    caller.require(Permission::Audit)?;
    if let Some(unknown) = params
        .keys()
        .find(|k| !["entityType", "q", "limit"].contains(&k.as_str()))
    {
        return Err(ApiError::Invalid(format!(
            "query parameter `{unknown}` is not a known parameter (entityType, q, limit)"
        )));
    }
    let entity_type = match params.get("entityType") {
        Some(text) => EntityType::parse(text),
        None => {
            return Err(ApiError::Invalid(
                "query parameter `entityType` is required".into(),
            ));
        }
    };
    let entity_type = entity_type?;
    let limit = match params.get("limit") {
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| {
                ApiError::Invalid(format!(
                    "query parameter `limit` must be a number from 1 to 1000, not `{text}`"
                ))
            })?,
        None => 20,
    };
    let text = params.get("q").cloned().unwrap_or_default();
    state.governance.availability()?;
    let governance = state.governance.clone();
    let found = tokio::task::spawn_blocking(move || {
        reports::suggest(&governance, entity_type, &text, limit)
    })
    .await?;
    Ok(Json(json!({ "entities": found? })).into_response())
}

/// `GET /api/audit/reports/run?entityType=user&name=Taylor%20Smith&report=groups`.
#[utoipa::path(
    get,
    path = "/api/audit/reports/run",
    operation_id = "runReport",
    tag = "reports",
    summary = "Run a governance report (AUDIT)",
    params(crate::openapi::ReportParams),
    responses((status = 200, description = "The report's rows (JSON), or CSV with format=csv", content((Object = "application/json"), (String = "text/csv"))), crate::openapi::Refused)
)]
pub async fn run_get(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Query(params): Query<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    let key = caller.require(Permission::Audit)?.clone();
    run(state, key, &headers, params).await
}

/// `POST /api/audit/reports/run` with the same parameters as a JSON object.
#[utoipa::path(
    post,
    path = "/api/audit/reports/run",
    operation_id = "runReportPost",
    tag = "reports",
    summary = "Run a governance report, its parameters as a JSON object (AUDIT)",
    request_body(content = crate::openapi::ReportParams, description = "The parameters of GET /api/audit/reports/run as an object"),
    responses((status = 200, description = "The report's rows (JSON), or CSV with format=csv", content((Object = "application/json"), (String = "text/csv"))), crate::openapi::Refused)
)]
pub async fn run_post(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let key = caller.require(Permission::Audit)?.clone();
    let text = body_text(body)?;
    let object: serde_json::Map<String, Value> = serde_json::from_str(&text)
        .map_err(|error| vigil_model::ModelError::from_json_in(&error, &text))?;
    let mut params = BTreeMap::new();
    for (name, value) in object {
        let text = match value {
            Value::Null => continue,
            Value::String(text) => text,
            Value::Number(number) => number.to_string(),
            other => {
                return Err(ApiError::Invalid(format!(
                    "`{name}` must be a string or a number, not {other}"
                )));
            }
        };
        params.insert(name, text);
    }
    run(state, key, &headers, params).await
}

/// What a run asked for, checked.
struct RunInput {
    entity_type: EntityType,
    name: Option<String>,
    report: String,
    from: Option<i64>,
    to: Option<i64>,
    limit: Option<usize>,
    csv: bool,
}

fn run_input(headers: &HeaderMap, params: BTreeMap<String, String>) -> Result<RunInput, ApiError> {
    let invalid = ApiError::Invalid;
    if let Some(unknown) = params
        .keys()
        .find(|k| !RUN_PARAMETERS.contains(&k.as_str()))
    {
        return Err(invalid(format!(
            "`{unknown}` is not a known parameter ({})",
            RUN_PARAMETERS.join(", ")
        )));
    }
    let entity_type = params
        .get("entityType")
        .ok_or_else(|| invalid("`entityType` is required".into()))?;
    let entity_type = EntityType::parse(entity_type)?;
    let report = params
        .get("report")
        .cloned()
        .ok_or_else(|| invalid("`report` is required".into()))?;
    let time = |name: &str, end_of_day: bool| {
        match params.get(name) {
        Some(text) => parse_time(text.trim(), end_of_day).map(Some).ok_or_else(|| {
            invalid(format!(
                "`{name}` must be an RFC 3339 time, a date (YYYY-MM-DD) or epoch milliseconds, not `{text}`"
            ))
        }),
        None => Ok(None),
    }
    };
    let from = time("from", false)?;
    let to = time("to", true)?;
    let csv = match params.get("format").map(|f| f.to_ascii_lowercase()) {
        Some(format) if format == "csv" => true,
        Some(format) if format == "json" => false,
        Some(format) => {
            return Err(invalid(format!(
                "`format` must be json or csv, not `{format}`"
            )));
        }
        None => headers
            .get(header::ACCEPT)
            .and_then(|accept| accept.to_str().ok())
            .is_some_and(|accept| accept.contains("text/csv")),
    };
    let limit =
        match params.get("limit").map(|l| l.trim().to_ascii_lowercase()) {
            Some(all) if all == "all" => None,
            Some(text) => Some(text.parse::<usize>().ok().filter(|n| *n >= 1).ok_or_else(
                || {
                    invalid(format!(
                        "`limit` must be a positive number or `all`, not `{text}`"
                    ))
                },
            )?),
            None if csv => None,
            None => Some(DEFAULT_JSON_LIMIT),
        };
    Ok(RunInput {
        entity_type,
        name: params.get("name").cloned().filter(|n| !n.trim().is_empty()),
        report,
        from,
        to,
        limit,
        csv,
    })
}

/// The date range: `to` defaults to now and `from` to one month before `to`.
/// The range a report covers: `from`/`to` as given; `to` defaults to now, and `from` to one
/// month before `to` when `last_month` (the seed's default for most access reports), otherwise
/// to the beginning (the whole history: the reports the seed gives no default, and every CSV
/// export, "the full report").
fn date_range(
    from: Option<i64>,
    to: Option<i64>,
    last_month: bool,
) -> Result<(i64, i64), ReportError> {
    let to = to.unwrap_or_else(|| chrono::Utc::now().timestamp_micros());
    let from = match from {
        Some(from) => from,
        None if !last_month => WHOLE_HISTORY_FROM.min(to),
        None => chrono::DateTime::from_timestamp_micros(to)
            .and_then(|t| t.checked_sub_months(chrono::Months::new(1)))
            .map(|t| t.timestamp_micros())
            .ok_or_else(|| ReportError::Range(format!("`to` ({}) is out of range", iso(to))))?,
    };
    if from > to {
        return Err(ReportError::Range(format!(
            "the date range starts ({}) after it ends ({})",
            iso(from),
            iso(to)
        )));
    }
    Ok((from, to))
}

/// Where a range without `from` starts when it covers the whole history: 1970-01-01.
const WHOLE_HISTORY_FROM: i64 = 0;

/// A report's answer: rows for JSON, or the CSV text with its row count.
enum Output {
    Table(ReportTable),
    Csv { body: String, rows: usize },
}

async fn run(
    state: AppState,
    key: Principal,
    headers: &HeaderMap,
    params: BTreeMap<String, String>,
) -> Result<Response, ApiError> {
    let input = run_input(headers, params)?;
    let csv = input.csv;
    state.governance.availability()?;
    let governance = state.governance.clone();
    let log = state.log.clone();
    let timeout = state.report_timeout;
    let outcome = tokio::task::spawn_blocking(move || {
        let scope = if input.name.is_some() {
            Scope::One
        } else {
            Scope::All
        };
        let kind = find(input.entity_type, scope, &input.report)?;
        let (from, to) = if kind.date_range {
            date_range(
                input.from,
                input.to,
                kind.last_month_by_default && !input.csv,
            )?
        } else {
            (0, 0)
        };
        // Reports reflect every event stored before the request, unless the projection is far
        // behind (a rebuild): then they say how far they reach.
        governance.wait_until_projected(log.last_committed_seq(), CATCH_UP_WAIT);
        let entity = match &input.name {
            Some(name) => Some(reports::resolve(&governance, input.entity_type, name)?),
            None => None,
        };
        let request = ReportRequest {
            kind,
            entity: entity.clone(),
            from,
            to,
            limit: input.limit,
            timeout,
        };
        let output = if input.csv {
            // Written as the rows come: a whole report is never held as rows.
            let body = std::cell::RefCell::new(String::new());
            let summary = reports::run_each(
                &governance,
                &request,
                &mut |columns| crate::csv::header(&mut body.borrow_mut(), columns),
                &mut |row| crate::csv::record(&mut body.borrow_mut(), &row),
            )?;
            Output::Csv {
                body: body.into_inner(),
                rows: summary.rows,
            }
        } else {
            Output::Table(reports::run(&governance, &request)?)
        };
        Ok::<_, ReportError>((kind, entity, from, to, output, governance.projected_seq()))
    })
    .await?;
    let (kind, entity, from, to, output, as_of) = outcome?;
    let range = kind.date_range.then(|| (iso(from), iso(to)));
    record_run(
        state.log.clone(),
        &key,
        json!({
            "type": "GovernanceReportRunAuditPayload",
            "version": 1,
            "entityType": kind.entity.as_str(),
            "report": kind.key,
            "entityId": entity.as_ref().map(|e| e.id.clone()),
            "entityName": entity.as_ref().map(|e| e.name.clone()),
            "from": range.as_ref().map(|r| r.0.clone()),
            "to": range.as_ref().map(|r| r.1.clone()),
            "rowCount": match &output {
                Output::Table(table) => table.rows.len(),
                Output::Csv { rows, .. } => *rows,
            },
            "format": if csv { "csv" } else { "json" },
        }),
        entity.as_ref(),
    );
    let table = match output {
        Output::Table(table) => table,
        Output::Csv { body, .. } => {
            let file = format!("{}-{}.csv", kind.entity.as_str(), kind.key);
            return Ok((
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{file}\""),
                    ),
                ],
                body,
            )
                .into_response());
        }
    };
    let ReportTable {
        columns,
        rows,
        total_rows,
        truncated,
        notes,
        history_starts_at,
    } = table;
    Ok(Json(json!({
        "entityType": kind.entity.as_str(),
        "scope": kind.scope,
        "report": kind.key,
        "title": kind.title,
        "entity": entity,
        "from": range.as_ref().map(|r| r.0.clone()),
        "to": range.as_ref().map(|r| r.1.clone()),
        "columns": columns,
        "rows": rows,
        "totalRows": total_rows,
        "truncated": truncated,
        "notes": notes,
        "historyStartsAt": history_starts_at,
        "asOfSeq": as_of,
    }))
    .into_response())
}

/// Records a run as a `RUN_REPORT` event, in the background: the answer does not wait for it,
/// and a failure is logged.
fn record_run(
    log: std::sync::Arc<EventLog>,
    key: &Principal,
    payload: Value,
    entity: Option<&Entity>,
) {
    let entry = OwnEvent {
        action: "RUN_REPORT",
        target_type: "REPORT",
        actor: key.reader(),
        targets: json!([{
            "type": "REPORT",
            "id": format!("{}/{}", payload["entityType"].as_str().unwrap_or_default(), payload["report"].as_str().unwrap_or_default()),
            "name": entity.map(|e| e.name.clone()),
        }]),
        payload,
    }
    .into_entry_with(&vigil_core::Outcome {
        session_id: key.session_id(),
        ..vigil_core::Outcome::default()
    });
    tokio::spawn(async move {
        if let Err(error) = log.append(vec![entry]).await {
            tracing::error!(%error, "could not record a report run");
        }
    });
}
