//! `GET /api/audit/events` (UAM search with facets) and `GET /audit` (the legacy search of seeds
//! 002/003). Each search is itself recorded as an `auditQuery` event.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use vigil_core::export::parquet;
use vigil_core::search::{
    Cursor, FacetCounts, FacetField, Histogram, MAX_OFFSET, MAX_PAGE_SIZE, OWN_READ_ACTIONS,
    PAIR_SEPARATOR, SearchRequest, SearchResult, TimeField,
};
use vigil_core::{EventLog, OwnEvent, keys::Permission, keys::Principal};
use vigil_model::{Timestamp, UamEvent};

use crate::auth::Caller;
use crate::csv;
use crate::error::ApiError;
use crate::state::AppState;

/// The most facet values one facet may list.
const MAX_FACET_LIMIT: usize = 1_000;
/// The most buckets a histogram may have.
const MAX_HISTOGRAM_BUCKETS: usize = 1_000;

/// The query string as name/value pairs; every parameter must be taken, or it is reported.
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
    taken: Vec<bool>,
}

impl Params {
    fn parse(query: Option<&str>) -> Params {
        let pairs: Vec<(String, String)> =
            form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .map(|(name, value)| (name.trim_end_matches("[]").to_owned(), value.into_owned()))
                .collect();
        let taken = vec![false; pairs.len()];
        Params { pairs, taken }
    }

    /// Every value of `name`.
    fn all(&mut self, name: &str) -> Vec<String> {
        let mut values = Vec::new();
        for (index, (key, value)) in self.pairs.iter().enumerate() {
            if key == name {
                self.taken[index] = true;
                values.push(value.clone());
            }
        }
        values
    }

    /// The single value of `name`; given twice is an error.
    fn one(&mut self, name: &str) -> Result<Option<String>, ApiError> {
        let mut values = self.all(name);
        match values.len() {
            0 => Ok(None),
            1 => Ok(values.pop()),
            _ => Err(invalid(name, "is given more than once")),
        }
    }

    fn number(&mut self, name: &str, default: usize, max: usize) -> Result<usize, ApiError> {
        Ok(self.optional_number(name, 0, max)?.unwrap_or(default))
    }

    /// A number from `min` to `max`, when the parameter is given.
    fn optional_number(
        &mut self,
        name: &str,
        min: usize,
        max: usize,
    ) -> Result<Option<usize>, ApiError> {
        match self.one(name)? {
            None => Ok(None),
            Some(text) => match text.parse::<usize>() {
                Ok(number) if (min..=max).contains(&number) => Ok(Some(number)),
                _ => Err(invalid(
                    name,
                    &format!("must be a whole number from {min} to {max}, not `{text}`"),
                )),
            },
        }
    }

    fn time(&mut self, name: &str, end_of_day: bool) -> Result<Option<i64>, ApiError> {
        let Some(text) = self.one(name)? else {
            return Ok(None);
        };
        parse_time(&text, end_of_day)
            .map(Some)
            .ok_or_else(|| invalid(name, &format!("`{text}` is not a time: use RFC 3339 (2024-01-31T12:00:00Z), a date (2024-01-31), epoch milliseconds, or a time relative to now (now, now-15m, now-24h, now-7d, or 24h for 24 hours ago)")))
    }

    /// `asc` or `desc` (the default) → newest first?
    fn descending(&mut self, name: &str) -> Result<bool, ApiError> {
        match self.one(name)?.as_deref() {
            None | Some("desc") => Ok(true),
            Some("asc") => Ok(false),
            Some(other) => Err(invalid(
                name,
                &format!("must be asc or desc, not `{other}`"),
            )),
        }
    }

    /// An inclusive time range from two parameters; the start may not be after the end.
    fn time_range(&mut self, from: &str, to: &str) -> Result<(Option<i64>, Option<i64>), ApiError> {
        let range = (self.time(from, false)?, self.time(to, true)?);
        if let (Some(start), Some(end)) = range
            && start > end
        {
            return Err(invalid(from, &format!("is after `{to}`")));
        }
        Ok(range)
    }

    /// Fails naming the first parameter nobody took, and the `known` ones.
    fn finish(&self, known: &[String]) -> Result<(), ApiError> {
        match self
            .pairs
            .iter()
            .zip(&self.taken)
            .find(|(_, taken)| !**taken)
        {
            Some(((name, _), _)) => Err(invalid(
                name,
                &format!(
                    "is not a known parameter; the known ones are {}",
                    known.join(", ")
                ),
            )),
            None => Ok(()),
        }
    }

    fn as_json(&self) -> Value {
        let mut map = Map::new();
        for (name, value) in &self.pairs {
            let entry = map
                .entry(name.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(values) = entry {
                values.push(Value::from(value.clone()));
            }
        }
        Value::Object(map)
    }
}

fn invalid(name: &str, problem: &str) -> ApiError {
    ApiError::Invalid(format!("query parameter `{name}` {problem}"))
}

/// RFC 3339, a date (start or end of that day, UTC), epoch milliseconds, or a time relative to
/// now (`now`, `now-15m`, `now-24h`, `now-7d`, `now+1h`, or a bare duration `24h` meaning that long
/// ago; units s, m, h, d, w) → microseconds.
pub(crate) fn parse_time(text: &str, end_of_day: bool) -> Option<i64> {
    if let Ok(millis) = text.parse::<i64>() {
        return millis.checked_mul(1_000);
    }
    if let Ok(timestamp) = Timestamp::parse(text) {
        return Some(timestamp.unix_micros());
    }
    if let Some(relative) = relative_time(text, Timestamp::now().unix_micros()) {
        return Some(relative);
    }
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    let time = if end_of_day {
        date.and_hms_micro_opt(23, 59, 59, 999_999)?
    } else {
        date.and_hms_opt(0, 0, 0)?
    };
    Some(time.and_utc().timestamp_micros())
}

/// `now`, `now±DURATION` or a bare `DURATION` (that long before `now`), in microseconds.
fn relative_time(text: &str, now: i64) -> Option<i64> {
    let text = text.trim();
    let offset = match text.strip_prefix("now") {
        Some("") => 0,
        Some(rest) => match rest.split_at_checked(1)? {
            ("-", amount) => -duration_micros(amount)?,
            ("+", amount) => duration_micros(amount)?,
            _ => return None,
        },
        None => -duration_micros(text)?,
    };
    now.checked_add(offset)
}

/// `15m`, `24h`, `7d`, `2w`, `30s` → microseconds.
fn duration_micros(text: &str) -> Option<i64> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (amount, unit) = text.split_at(split);
    let amount: i64 = amount.parse().ok()?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return None,
    };
    amount.checked_mul(seconds)?.checked_mul(1_000_000)
}

async fn run_search(state: &AppState, request: SearchRequest) -> Result<SearchResult, ApiError> {
    let search = state.search.clone();
    tokio::task::spawn_blocking(move || search.search(&request))
        .await?
        .map_err(ApiError::from)
}

/// Records a search as an `auditQuery` event. It is appended in the background: the answer does
/// not wait for it, and a failure is logged.
fn record_audit_query(log: Arc<EventLog>, key: &Principal, path: &str, filters: Value, hits: u64) {
    let entry = OwnEvent {
        action: "AUDIT_QUERY",
        target_type: "AUDIT",
        actor: key.reader(),
        targets: json!([]),
        payload: json!({
            "type": "AuditQueryAuditPayload",
            "version": 1,
            "apiKeyId": key.session.is_none().then_some(&key.id),
            "path": path,
            "filters": filters,
            "hitCount": hits,
        }),
    }
    .into_entry_with(&vigil_core::Outcome {
        session_id: key.session_id(),
        ..vigil_core::Outcome::default()
    });
    tokio::spawn(async move {
        if let Err(error) = log.append(vec![entry]).await {
            tracing::error!(%error, "could not record an audit query");
        }
    });
}

fn facets_json(facets: &[FacetCounts]) -> Value {
    let mut map = Map::new();
    for facet in facets {
        let values: Vec<Value> = facet
            .values
            .iter()
            .map(|(value, count)| json!({ "value": value, "count": count }))
            .collect();
        map.insert(
            facet.field.name().to_owned(),
            json!({ "values": values, "distinct": facet.distinct, "events": facet.events }),
        );
    }
    Value::Object(map)
}

/// The parameters `GET /api/audit/events` knows, for the answer to an unknown one.
fn search_parameters() -> Vec<String> {
    let mut known: Vec<String> = [
        "q",
        "from",
        "to",
        "sort",
        "order",
        "size",
        "offset",
        "cursor",
        "facets",
        "facetLimit",
        "histogram",
        "ownReads",
        "format",
    ]
    .iter()
    .map(|name| name.to_string())
    .collect();
    for field in FacetField::ALL.iter().filter(|field| field.filterable()) {
        known.push(field.name().to_owned());
        known.push(format!("{}.not", field.name()));
    }
    known
}

/// A download of search results: its format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Download {
    /// RFC 4180 CSV with the columns of [`parquet::flat_columns`].
    Csv,
    /// The stored JSON of each event, one a line.
    Ndjson,
}

/// Events read per page while a download streams.
const EXPORT_PAGE: usize = 1_000;

/// A parsed `GET /api/audit/events`: the search, its parameters, and the download asked for (with
/// its cap), if any.
pub(crate) type Parsed = (SearchRequest, Params, Option<(Download, Option<usize>)>);

/// The search of a `GET /api/audit/events` query string, or a 400 naming the parameter.
pub(crate) fn parse_search(query: Option<&str>) -> Result<Parsed, ApiError> {
    let mut params = Params::parse(query);
    let mut request = SearchRequest::default();
    for field in FacetField::ALL {
        for (name, excluded) in [
            (field.name().to_owned(), false),
            (format!("{}.not", field.name()), true),
        ] {
            let values = params.all(&name);
            if values.is_empty() {
                continue;
            }
            if !field.filterable() {
                return Err(invalid(
                    &name,
                    "can be counted as a facet but not filtered on",
                ));
            }
            if excluded {
                request.exclusions.push((*field, values));
            } else {
                request.filters.push((*field, values));
            }
        }
    }
    // vigil's own reads (searches, report runs, result exports) are recorded but hidden unless
    // asked for: `ownReads=include`, or any filter on the fields that name them.
    let include_own_reads = match params.one("ownReads")?.as_deref() {
        None | Some("exclude") => false,
        Some("include") => true,
        Some(other) => {
            return Err(invalid(
                "ownReads",
                &format!("must be include or exclude, not `{other}`"),
            ));
        }
    };
    // A filter that names them shows them: their actions, event or payload types, record type,
    // the `vigil` submitter, or an event id.
    let names_own_reads = request.filters.iter().any(|(field, values)| {
        let names: &[&str] = match field {
            FacetField::Action => &OWN_READ_ACTIONS,
            FacetField::EventType => &["AuditQuery", "GovernanceReportRun"],
            FacetField::PayloadType => {
                &["AuditQueryAuditPayload", "GovernanceReportRunAuditPayload"]
            }
            FacetField::RecordType => &["auditQuery"],
            FacetField::SubmittedBy => &["vigil"],
            FacetField::EventId => return true,
            _ => &[],
        };
        values.iter().any(|value| names.contains(&value.as_str()))
    });
    if !include_own_reads && !names_own_reads {
        request.exclusions.push((
            FacetField::Action,
            OWN_READ_ACTIONS
                .iter()
                .map(|action| action.to_string())
                .collect(),
        ));
    }
    request.time_field = match params.one("sort")?.as_deref() {
        None | Some("eventTimestamp") => TimeField::Event,
        Some("receivedTimestamp") => TimeField::Received,
        Some(other) => {
            return Err(invalid(
                "sort",
                &format!("must be eventTimestamp or receivedTimestamp, not `{other}`"),
            ));
        }
    };
    request.descending = params.descending("order")?;
    (request.from, request.to) = params.time_range("from", "to")?;
    request.keywords = params.one("q")?;
    let format = match params.one("format")?.as_deref() {
        None | Some("json") => None,
        Some("csv") => Some(Download::Csv),
        Some("ndjson") => Some(Download::Ndjson),
        Some(other) => {
            return Err(invalid(
                "format",
                &format!("must be json, csv or ndjson, not `{other}`"),
            ));
        }
    };
    let mut limit = None;
    if format.is_some() {
        // A download is every match, or the first `size`; it is never paged by offset.
        limit = params.optional_number("size", 0, usize::MAX)?;
        if params.one("offset")?.is_some() {
            return Err(invalid(
                "offset",
                "does not apply to a csv or ndjson download, which holds every match (narrow it with from, to or filters, or cap it with size)",
            ));
        }
        request.size = EXPORT_PAGE;
    } else {
        request.size = params.number("size", 50, MAX_PAGE_SIZE)?;
        request.offset = params.number("offset", 0, MAX_OFFSET)?;
    }
    if let Some(cursor) = params.one("cursor")? {
        request.after = Some(
            Cursor::decode(&cursor)
                .ok_or_else(|| invalid("cursor", "is not a cursor this service gave out"))?,
        );
    }
    request.facet_limit = params.number("facetLimit", 100, MAX_FACET_LIMIT)?;
    request.facets = match params.one("facets")?.as_deref() {
        None => FacetField::AUDIT_PAGE.to_vec(),
        Some("none") | Some("") => Vec::new(),
        Some(list) => list
            .split(',')
            .map(|name| match FacetField::from_name(name.trim()) {
                Some(field) if field.countable() => Ok(field),
                Some(_) => Err(invalid(
                    "facets",
                    &format!("names `{name}`, which can be filtered on but not counted"),
                )),
                None => Err(invalid(
                    "facets",
                    &format!(
                        "names an unknown field `{name}`; the fields are {}",
                        FacetField::ALL
                            .iter()
                            .filter(|field| field.countable())
                            .map(|field| field.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )),
            })
            .collect::<Result<_, _>>()?,
    };
    if let Some(buckets) = params.optional_number("histogram", 1, MAX_HISTOGRAM_BUCKETS)? {
        let (Some(from), Some(to)) = (request.from, request.to) else {
            return Err(invalid("histogram", "needs both `from` and `to`"));
        };
        request.histogram = Some(Histogram::covering(from, to, buckets));
    }
    params.finish(&search_parameters())?;
    if format.is_some() {
        request.facets.clear();
        request.histogram = None;
    }
    Ok((request, params, format.map(|format| (format, limit))))
}

/// Searches UAM events: filters on every indexed field, a time range, keywords, sorting, paging
/// and facet counts.
#[utoipa::path(
    get,
    path = "/api/audit/events",
    operation_id = "searchEvents",
    tag = "search",
    summary = "Search events by filters, keywords and time, with facets, a histogram and paging, or download them (AUDIT)",
    params(crate::openapi::SearchParams),
    responses((status = 200, description = "A page of hits with the total and facets (format=json), or every matching event (format=csv, format=ndjson)", content((crate::openapi::SearchPage = "application/json"), (String = "text/csv"), (String = "application/x-ndjson"))), crate::openapi::Refused)
)]
pub async fn search_events(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let key = caller.require(Permission::Audit)?.clone();
    let (request, params, download) = parse_search(query.as_deref())?;
    if let Some((format, limit)) = download {
        return download_events(state, key, request, params, format, limit).await;
    }
    let histogram_spec = request.histogram;
    let result = run_search(&state, request).await?;
    record_audit_query(
        state.log.clone(),
        &key,
        "/api/audit/events",
        params.as_json(),
        result.total,
    );
    // Hits are the stored JSON, spliced in as is.
    let hits: Vec<&str> = result.hits.iter().map(|hit| hit.json.as_str()).collect();
    let histogram = match (&histogram_spec, &result.facets.histogram) {
        (Some(spec), Some(counts)) => format!(",\"histogram\":{}", histogram_json(spec, counts)),
        _ => String::new(),
    };
    let body = format!(
        "{{\"total\":{},\"hits\":[{}],\"facets\":{},\"nextCursor\":{}{histogram}}}",
        result.total,
        hits.join(","),
        facets_json(&result.facets.facets),
        json!(result.next_cursor.map(|cursor| cursor.encode())),
    );
    Ok(([(CONTENT_TYPE, "application/json")], body).into_response())
}

/// Streams every match (or the first `limit`) as CSV or NDJSON, a page of [`EXPORT_PAGE`] events
/// at a time, in the search's order: memory stays bounded at any size. The first page is read
/// before answering, so a failing search is an error status, not a broken file. The download is
/// recorded as a read, like a search.
async fn download_events(
    state: AppState,
    key: Principal,
    request: SearchRequest,
    params: Params,
    format: Download,
    limit: Option<usize>,
) -> Result<Response, ApiError> {
    let first = run_search(&state, request.clone()).await?;
    let total = limit.map_or(first.total, |limit| first.total.min(limit as u64));
    record_audit_query(
        state.log.clone(),
        &key,
        "/api/audit/events",
        params.as_json(),
        total,
    );
    struct Progress {
        state: AppState,
        request: SearchRequest,
        page: Option<SearchResult>,
        left: usize,
        header: bool,
    }
    let progress = Progress {
        state,
        request,
        page: Some(first),
        left: limit.unwrap_or(usize::MAX),
        header: format == Download::Csv,
    };
    let stream = futures::stream::unfold(progress, move |mut progress| async move {
        let page = match progress.page.take() {
            Some(page) => page,
            None => return None,
        };
        let mut out = String::new();
        if progress.header {
            csv::header(&mut out, &parquet::flat_columns());
            progress.header = false;
        }
        for hit in page.hits.into_iter().take(progress.left) {
            progress.left -= 1;
            match format {
                Download::Ndjson => {
                    out.push_str(&hit.json);
                    out.push('\n');
                }
                Download::Csv => csv::record(&mut out, &parquet::LakeEvent::new(hit).flat_row()),
            }
        }
        if let Some(cursor) = page.next_cursor.filter(|_| progress.left > 0) {
            progress.request.after = Some(cursor);
            match run_search(&progress.state, progress.request.clone()).await {
                Ok(next) => progress.page = Some(next),
                Err(error) => {
                    tracing::error!(%error, "a download stopped: the next page could not be read");
                    return Some((Err(std::io::Error::other(error.to_string())), progress));
                }
            }
        }
        Some((
            Ok::<_, std::io::Error>(axum::body::Bytes::from(out)),
            progress,
        ))
    });
    let (content_type, file) = match format {
        Download::Csv => ("text/csv; charset=utf-8", "vigil-audit-events.csv"),
        Download::Ndjson => ("application/x-ndjson", "vigil-audit-events.ndjson"),
    };
    Ok((
        [
            (CONTENT_TYPE, content_type.to_owned()),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        axum::body::Body::from_stream(stream),
    )
        .into_response())
}

/// The histogram: each bucket's start and count, and the bucket width in milliseconds.
fn histogram_json(spec: &Histogram, counts: &[u64]) -> Value {
    let buckets: Vec<Value> = counts
        .iter()
        .enumerate()
        .map(|(index, count)| {
            json!({
                "start": millis_to_iso(spec.from + spec.width * index as i64),
                "count": count,
            })
        })
        .collect();
    json!({ "bucketMillis": spec.width / 1_000, "buckets": buckets })
}

/// Legacy facet entries: `{name, id, count}` with the count as a string, as in seed 002.
fn legacy_facet(facet: Option<&FacetCounts>, paired: bool) -> Value {
    let values = facet
        .map(|facet| facet.values.as_slice())
        .unwrap_or_default();
    Value::Array(
        values
            .iter()
            .map(|(value, count)| {
                if paired {
                    let (id, name) = value.split_once(PAIR_SEPARATOR).unwrap_or((value, ""));
                    let id = id
                        .parse::<i64>()
                        .map(Value::from)
                        .unwrap_or_else(|_| Value::from(id));
                    json!({ "name": name, "id": id, "count": count.to_string() })
                } else {
                    json!({ "name": value, "count": count.to_string() })
                }
            })
            .collect(),
    )
}

fn millis_to_iso(micros: i64) -> Value {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|time| Value::from(time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)))
        .unwrap_or(Value::Null)
}

/// The search of a legacy `GET /audit` query string (seeds 002/003), or a 400 naming the
/// parameter.
pub(crate) fn parse_legacy_search(
    query: Option<&str>,
) -> Result<(SearchRequest, Params), ApiError> {
    let mut params = Params::parse(query);
    let mut request = SearchRequest::default();
    let filters = [
        ("dataSourceId", FacetField::DataSourceId),
        ("projectId", FacetField::ProjectId),
        ("profileId", FacetField::ProfileId),
        ("recordType", FacetField::RecordType),
        ("outcome", FacetField::Outcome),
        ("blobId", FacetField::BlobId),
        ("purpose", FacetField::Purpose),
    ];
    for (name, field) in filters {
        // Arrays come as repeated parameters, `name[]=`, or comma-separated.
        let values: Vec<String> = params
            .all(name)
            .iter()
            .flat_map(|value| value.split(','))
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
            .collect();
        if !values.is_empty() {
            request.filters.push((field, values));
        }
    }
    const OUTCOMES: [&str; 6] = [
        "success",
        "userError",
        "systemError",
        "insufficientAuthorizations",
        "failure",
        "insufficientPermissions",
    ];
    if let Some((_, values)) = request
        .filters
        .iter()
        .find(|(field, _)| *field == FacetField::Outcome)
        && let Some(bad) = values
            .iter()
            .find(|value| !OUTCOMES.contains(&value.as_str()))
    {
        return Err(invalid(
            "outcome",
            &format!("must be one of {}, not `{bad}`", OUTCOMES.join(", ")),
        ));
    }
    (request.from, request.to) = params.time_range("minDate", "maxDate")?;
    request.size = params.number("size", 50, MAX_PAGE_SIZE)?;
    request.offset = params.number("offset", 0, MAX_OFFSET)?;
    match params.one("sortField")?.as_deref() {
        None | Some("dateTime") => {}
        Some(other) => {
            return Err(invalid(
                "sortField",
                &format!("must be dateTime, not `{other}`"),
            ));
        }
    }
    request.descending = params.descending("sortOrder")?;
    request.facets = vec![
        FacetField::LegacyDataSource,
        FacetField::LegacyProject,
        FacetField::RecordType,
        FacetField::LegacyUser,
        FacetField::Outcome,
    ];
    let known: Vec<String> = filters
        .iter()
        .map(|(name, _)| *name)
        .chain([
            "minDate",
            "maxDate",
            "size",
            "offset",
            "sortField",
            "sortOrder",
        ])
        .map(str::to_owned)
        .collect();
    params.finish(&known)?;
    Ok((request, params))
}

/// The legacy `GET /audit`: the same parameters and response shape as the original service.
#[utoipa::path(
    get,
    path = "/audit",
    operation_id = "legacySearch",
    tag = "legacy",
    summary = "The original service's search: its parameters and its answer (AUDIT)",
    responses((status = 200, description = "OK", body = Object), crate::openapi::Refused)
)]
pub async fn legacy_search(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let key = caller.require(Permission::Audit)?.clone();
    let (mut request, params) = parse_legacy_search(query.as_deref())?;
    // The caller's own earlier reads are not in its pages: paging through a quiet log, each
    // record comes once, however long the reader pauses (its reads would otherwise land on top).
    request.hide_reads_of = Some(key.name.clone());
    let result = run_search(&state, request).await?;
    record_audit_query(
        state.log.clone(),
        &key,
        "/audit",
        params.as_json(),
        result.total,
    );
    let mut hits = Vec::with_capacity(result.hits.len());
    for hit in &result.hits {
        let event =
            UamEvent::from_json(&hit.json).map_err(|error| ApiError::Internal(error.into()))?;
        hits.push(vigil_model::legacy::legacy_hit(&event));
    }
    let facet = |field: FacetField| {
        result
            .facets
            .facets
            .iter()
            .find(|facet| facet.field == field)
    };
    let (min_date, max_date) = match result.facets.time_range {
        Some((min, max)) => (millis_to_iso(min), millis_to_iso(max)),
        None => (Value::Null, Value::Null),
    };
    let body = json!({
        "hits": hits,
        "facets": {
            "datasources": legacy_facet(facet(FacetField::LegacyDataSource), true),
            "projects": legacy_facet(facet(FacetField::LegacyProject), true),
            "recordTypes": legacy_facet(facet(FacetField::RecordType), false),
            "users": legacy_user_facet(facet(FacetField::LegacyUser)),
            "outcomes": legacy_facet(facet(FacetField::Outcome), false),
        },
        "minDate": min_date,
        "maxDate": max_date,
        "count": result.total,
    });
    Ok(axum::Json(body).into_response())
}

/// Users are `profileId␟userId`: the seed shows `{name: userId, id: profileId}`.
fn legacy_user_facet(facet: Option<&FacetCounts>) -> Value {
    legacy_facet(facet, true)
}
