//! In-process fakes of the Snowflake SQL API and the Databricks SQL Statement Execution API,
//! shaped as their documentation shows: asynchronous statements (202 / PENDING), polling,
//! partitions (one gzip-compressed) and chunks, Databricks' 25 MiB INLINE limit and presigned
//! `EXTERNAL_LINKS` downloads, and a switch that fails one page once.

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// Running statements by id: polls so far, and the result's pages of rows.
type Statements = Mutex<HashMap<String, (usize, Vec<Vec<Vec<Value>>>)>>;

/// The key pair the Snowflake fake accepts.
pub const TEST_KEY_PEM: &str = include_str!("../fixtures/snowflake-test-key.pem");
/// `openssl rsa -in fixtures/snowflake-test-key.pem -pubout -outform DER | openssl dgst -sha256 -binary | base64`
pub const TEST_KEY_FINGERPRINT: &str = "SHA256:/+3RIpGUUD2aLtgWgN2NOn/alxtO1JnnXFpFYcfQTkk=";

/// Rows per Snowflake partition and per Databricks chunk, unless a fake is told otherwise.
const PAGE_ROWS: usize = 2;

/// A fake API server on a loopback port; stops when dropped.
pub struct Fake<S> {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// What the fake serves and saw.
    pub state: Arc<S>,
    handle: tokio::task::JoinHandle<()>,
}

impl<S> Drop for Fake<S> {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

pub async fn serve<S: Send + Sync + 'static>(router: Router, state: Arc<S>) -> Fake<S> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let handle = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    Fake {
        base,
        state,
        handle,
    }
}

/// Rows given by column name, sent in the order of `columns`.
fn to_arrays(columns: &[&str], rows: &[Value]) -> Vec<Vec<Value>> {
    rows.iter()
        .map(|row| {
            columns
                .iter()
                .map(|column| row.get(*column).cloned().unwrap_or(Value::Null))
                .collect()
        })
        .collect()
}

/// The columns of vigil's Snowflake statement.
pub const SNOWFLAKE_COLUMNS: [&str; 19] = [
    "QUERY_ID",
    "QUERY_TEXT",
    "START_TIME",
    "END_TIME",
    "TOTAL_ELAPSED_TIME",
    "USER_NAME",
    "ROLE_NAME",
    "WAREHOUSE_ID",
    "WAREHOUSE_NAME",
    "CLUSTER_NUMBER",
    "ROWS_PRODUCED",
    "EXECUTION_STATUS",
    "ERROR_CODE",
    "ERROR_MESSAGE",
    "SESSION_ID",
    "ACCESS_HISTORY_QUERY_ID",
    "DIRECT_OBJECTS_ACCESSED",
    "BASE_OBJECTS_ACCESSED",
    "OBJECTS_MODIFIED",
];

/// ACCESS_HISTORY's objects of a query that read the column DOB of `DB.PUBLIC.CASE`.
pub const CASE_ONLY: &str = r#"[{"objectDomain":"Table","objectId":1,"objectName":"DB.PUBLIC.CASE","columns":[{"columnId":1,"columnName":"DOB"}]}]"#;

/// The fake Snowflake account.
pub struct SnowflakeState {
    /// QUERY_HISTORY ⋈ ACCESS_HISTORY rows, by column name; `END_TIME` in epoch seconds.
    pub rows: Mutex<Vec<Value>>,
    /// Partition 1 answers 500 once.
    pub fail_partition_once: AtomicBool,
    /// Rows per partition.
    pub page_rows: AtomicUsize,
    /// The window starts vigil asked for.
    pub sinces: Mutex<Vec<String>>,
    /// Requests refused for their authentication, with why.
    pub auth_failures: Mutex<Vec<String>>,
    /// The PKCS#1 public key that must have signed the JWT.
    pub public_key: Vec<u8>,
    /// `SHA256:…` of the public key, computed by openssl when the fixture was made.
    pub fingerprint: String,
    /// `ACCOUNT.USER` expected in the JWT.
    pub subject: String,
    statements: Statements,
}

impl SnowflakeState {
    fn check_jwt(&self, headers: &HeaderMap) -> Result<(), String> {
        let token_type = headers
            .get("x-snowflake-authorization-token-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        if token_type != "KEYPAIR_JWT" {
            return Err(format!("token type {token_type}"));
        }
        let token = headers
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or("no bearer token")?;
        let parts: Vec<&str> = token.split('.').collect();
        let [header, claims, signature] = parts[..] else {
            return Err("not a JWT".into());
        };
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|e| e.to_string())?;
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            &self.public_key,
        )
        .verify(format!("{header}.{claims}").as_bytes(), &signature)
        .map_err(|_| "bad signature".to_owned())?;
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())?;
        let expected_issuer = format!("{}.{}", self.subject, self.fingerprint);
        if claims["iss"] != expected_issuer.as_str() || claims["sub"] != self.subject.as_str() {
            return Err(format!("claims {claims}"));
        }
        let now = chrono::Utc::now().timestamp();
        let exp = claims["exp"].as_i64().unwrap_or(0);
        if exp <= now || exp > now + 3600 + 60 {
            return Err(format!("exp {exp}"));
        }
        Ok(())
    }
}

fn snowflake_error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "code": code, "message": message }))).into_response()
}

async fn snowflake_submit(
    State(state): State<Arc<SnowflakeState>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(why) = state.check_jwt(&headers) {
        state.auth_failures.lock().unwrap().push(why);
        return snowflake_error(StatusCode::UNAUTHORIZED, "390144", "JWT token is invalid.");
    }
    let statement = body["statement"].as_str().unwrap_or_default();
    if !statement.contains("SNOWFLAKE.ACCOUNT_USAGE.ACCESS_HISTORY")
        || body["warehouse"] != "AUDIT_WH"
    {
        return snowflake_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "002003",
            "unexpected statement",
        );
    }
    let since = body["bindings"]["1"]["value"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    state.sinces.lock().unwrap().push(since.clone());
    let since = chrono::DateTime::parse_from_rfc3339(&since)
        .map(|time| time.timestamp_micros() as f64 / 1e6)
        .unwrap_or(0.0);
    let mut rows: Vec<Value> = state
        .rows
        .lock()
        .unwrap()
        .iter()
        .filter(|row| {
            row["END_TIME"]
                .as_str()
                .and_then(|text| text.parse::<f64>().ok())
                .is_some_and(|end| end >= since)
        })
        .cloned()
        .collect();
    rows.sort_by(|a, b| {
        let key = |row: &Value| {
            row["END_TIME"]
                .as_str()
                .unwrap_or_default()
                .parse::<f64>()
                .unwrap_or(0.0)
        };
        key(a).partial_cmp(&key(b)).unwrap()
    });
    let arrays = to_arrays(&SNOWFLAKE_COLUMNS, &rows);
    let partitions: Vec<Vec<Vec<Value>>> = if arrays.is_empty() {
        vec![Vec::new()]
    } else {
        arrays
            .chunks(state.page_rows.load(Ordering::SeqCst))
            .map(<[_]>::to_vec)
            .collect()
    };
    let handle = uuid::Uuid::new_v4().to_string();
    state
        .statements
        .lock()
        .unwrap()
        .insert(handle.clone(), (0, partitions));
    (
        StatusCode::ACCEPTED,
        Json(json!({
            "code": "333334",
            "message": "Asynchronous execution in progress. Use provided query id to perform query monitoring and management.",
            "statementHandle": handle,
            "statementStatusUrl": format!("/api/v2/statements/{handle}"),
        })),
    )
        .into_response()
}

async fn snowflake_status(
    State(state): State<Arc<SnowflakeState>>,
    Path(handle): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(why) = state.check_jwt(&headers) {
        state.auth_failures.lock().unwrap().push(why);
        return snowflake_error(StatusCode::UNAUTHORIZED, "390144", "JWT token is invalid.");
    }
    let mut statements = state.statements.lock().unwrap();
    let Some((polls, partitions)) = statements.get_mut(&handle) else {
        return snowflake_error(StatusCode::NOT_FOUND, "000709", "Statement not found.");
    };
    if let Some(partition) = query.get("partition") {
        let index: usize = partition.parse().unwrap();
        if index == 1 && state.fail_partition_once.swap(false, Ordering::SeqCst) {
            return snowflake_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "000603",
                "Internal error.",
            );
        }
        let body = json!({ "data": partitions[index] }).to_string();
        if index == 2 {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(body.as_bytes()).unwrap();
            return (
                [
                    ("content-type", "application/json"),
                    ("content-encoding", "gzip"),
                ],
                encoder.finish().unwrap(),
            )
                .into_response();
        }
        return ([("content-type", "application/json")], body).into_response();
    }
    *polls += 1;
    if *polls < 2 {
        return (
            StatusCode::ACCEPTED,
            Json(json!({ "code": "333334", "message": "Asynchronous execution in progress.", "statementHandle": handle })),
        )
            .into_response();
    }
    let row_count: usize = partitions.iter().map(Vec::len).sum();
    Json(json!({
        "resultSetMetaData": {
            "numRows": row_count,
            "format": "jsonv2",
            "partitionInfo": partitions.iter().map(|part| json!({ "rowCount": part.len(), "uncompressedSize": 1000 })).collect::<Vec<_>>(),
            "rowType": SNOWFLAKE_COLUMNS.iter().map(|name| json!({ "name": name, "type": "text", "nullable": true })).collect::<Vec<_>>(),
        },
        "data": partitions[0],
        "code": "090001",
        "statementStatusUrl": format!("/api/v2/statements/{handle}"),
        "sqlState": "00000",
        "statementHandle": handle,
        "message": "Statement executed successfully.",
        "createdOn": 1_700_000_000_000_i64,
    }))
    .into_response()
}

/// Starts the fake Snowflake.
pub async fn snowflake(pem: &str, fingerprint: &str, subject: &str) -> Fake<SnowflakeState> {
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    let key = ring::rsa::KeyPair::from_pkcs8(&der).unwrap();
    let state = Arc::new(SnowflakeState {
        rows: Mutex::new(Vec::new()),
        fail_partition_once: AtomicBool::new(false),
        page_rows: AtomicUsize::new(PAGE_ROWS),
        sinces: Mutex::new(Vec::new()),
        auth_failures: Mutex::new(Vec::new()),
        public_key: ring::signature::KeyPair::public_key(&key).as_ref().to_vec(),
        fingerprint: fingerprint.to_owned(),
        subject: subject.to_owned(),
        statements: Mutex::new(HashMap::new()),
    });
    let router = Router::new()
        .route("/api/v2/statements", post(snowflake_submit))
        .route("/api/v2/statements/{handle}", get(snowflake_status))
        .with_state(state.clone());
    serve(router, state).await
}

/// The columns of vigil's Unity Catalog statement.
pub const DATABRICKS_COLUMNS: [&str; 22] = [
    "statement_id",
    "executed_by",
    "executed_by_user_id",
    "statement_text",
    "execution_status",
    "error_message",
    "compute_type",
    "warehouse_id",
    "cluster_id",
    "workspace_id",
    "start_time",
    "end_time",
    "total_duration_ms",
    "produced_rows",
    "notebook_id",
    "client_application",
    "session_id",
    "table_catalog",
    "table_schema",
    "table_name",
    "access_type",
    "columns",
];

/// The fake Databricks workspace.
pub struct DatabricksState {
    /// query.history ⋈ column_lineage rows, by column name; `end_time` RFC 3339.
    pub rows: Mutex<Vec<Value>>,
    /// Chunk 1 answers 503 once.
    pub fail_chunk_once: AtomicBool,
    /// Rows per chunk.
    pub page_rows: AtomicUsize,
    /// The window starts vigil asked for.
    pub sinces: Mutex<Vec<String>>,
    /// Every statement submitted: disposition, window and the rows its result had.
    pub submitted: Mutex<Vec<Submitted>>,
    /// Statements canceled by the client.
    pub canceled: AtomicUsize,
    /// Result downloads that carried an `Authorization` header (storage refuses them).
    pub authorized_downloads: AtomicUsize,
    /// The first download of each link fails as an expired link would, once.
    pub expire_links_once: AtomicBool,
    /// The token vigil must send.
    pub token: String,
    /// Requests refused for their token.
    pub auth_failures: AtomicUsize,
    /// Where the fake serves, for the links it hands out.
    base: Mutex<String>,
    statements: Mutex<HashMap<String, DatabricksStatement>>,
}

/// A statement the fake was sent.
#[derive(Debug, Clone)]
pub struct Submitted {
    /// `INLINE` or `EXTERNAL_LINKS`.
    pub disposition: String,
    /// `:since`.
    pub since: String,
    /// `:until`.
    pub until: Option<String>,
    /// Rows in the result.
    pub rows: usize,
}

struct DatabricksStatement {
    polls: usize,
    chunks: Vec<Vec<Vec<Value>>>,
    external: bool,
    /// Why it failed (the INLINE size rule), if it did.
    failure: Option<Value>,
}

/// The documented INLINE limit: a larger result aborts the statement.
pub const INLINE_LIMIT_BYTES: usize = 25 * 1024 * 1024;

/// The 401 Databricks answers to a wrong token; `None` when the token is right.
fn databricks_auth(state: &DatabricksState, headers: &HeaderMap) -> Option<Response> {
    let expected = format!("Bearer {}", state.token);
    if headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(expected.as_str()) {
        None
    } else {
        state.auth_failures.fetch_add(1, Ordering::SeqCst);
        Some(
            (
                StatusCode::UNAUTHORIZED,
                Json(
                    json!({ "error_code": "UNAUTHENTICATED", "message": "Invalid access token." }),
                ),
            )
                .into_response(),
        )
    }
}

fn parse_end(row: &Value) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    let end = row["end_time"]
        .as_str()
        .unwrap_or_default()
        .replacen(' ', "T", 1);
    let end = if end.ends_with('Z') {
        end
    } else {
        format!("{end}Z")
    };
    chrono::DateTime::parse_from_rfc3339(&end).ok()
}

async fn databricks_submit(
    State(state): State<Arc<DatabricksState>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(response) = databricks_auth(&state, &headers) {
        return response;
    }
    let statement = body["statement"].as_str().unwrap_or_default();
    if !statement.contains("system.query.history") || body["warehouse_id"] != "559483c6eac0359f" {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error_code": "INVALID_PARAMETER_VALUE", "message": "unexpected statement" })),
        )
            .into_response();
    }
    let parameter = |name: &str| {
        body["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|parameter| parameter["name"] == name)
            .and_then(|parameter| parameter["value"].as_str())
            .map(str::to_owned)
    };
    let since = parameter("since").unwrap_or_default();
    let until = parameter("until");
    state.sinces.lock().unwrap().push(since.clone());
    let since_time = chrono::DateTime::parse_from_rfc3339(&since).unwrap();
    let until_time = until
        .as_deref()
        .map(|until| chrono::DateTime::parse_from_rfc3339(until).unwrap());
    let rows: Vec<Value> = state
        .rows
        .lock()
        .unwrap()
        .iter()
        .filter(|row| {
            parse_end(row)
                .is_some_and(|end| end >= since_time && until_time.is_none_or(|until| end < until))
        })
        .cloned()
        .collect();
    let disposition = body["disposition"].as_str().unwrap_or("INLINE").to_owned();
    let arrays = to_arrays(&DATABRICKS_COLUMNS, &rows);
    // INLINE: "If a given statement produces a result set with a size larger than 25 MiB, that
    // statement execution is aborted, and no result set will be available."
    let failure = (disposition == "INLINE"
        && serde_json::to_vec(&arrays).unwrap().len() > INLINE_LIMIT_BYTES)
        .then(|| {
            json!({
                "error_code": "BAD_REQUEST",
                "message": "The result set exceeds the INLINE disposition limit of 25 MiB; use EXTERNAL_LINKS."
            })
        });
    state.submitted.lock().unwrap().push(Submitted {
        disposition: disposition.clone(),
        since,
        until,
        rows: arrays.len(),
    });
    let chunks: Vec<Vec<Vec<Value>>> = if arrays.is_empty() {
        vec![Vec::new()]
    } else {
        arrays
            .chunks(state.page_rows.load(Ordering::SeqCst))
            .map(<[_]>::to_vec)
            .collect()
    };
    let id = format!("01ef-{}", uuid::Uuid::new_v4());
    state.statements.lock().unwrap().insert(
        id.clone(),
        DatabricksStatement {
            polls: 0,
            chunks,
            external: disposition == "EXTERNAL_LINKS",
            failure,
        },
    );
    Json(json!({ "statement_id": id, "status": { "state": "PENDING" } })).into_response()
}

/// The `result` object of chunk `index`: its rows inline, or a presigned link to them (the next
/// chunk's link then sits in the link object, as the API documents).
fn chunk_json(base: &str, id: &str, statement: &DatabricksStatement, index: usize) -> Value {
    let chunks = &statement.chunks;
    let offset: usize = chunks[..index].iter().map(Vec::len).sum();
    let mut chunk = json!({
        "chunk_index": index,
        "row_offset": offset,
        "row_count": chunks[index].len(),
    });
    let next = (index + 1 < chunks.len()).then(|| {
        (
            index + 1,
            format!("/api/2.0/sql/statements/{id}/result/chunks/{}", index + 1),
        )
    });
    if statement.external {
        let mut link = json!({
            "chunk_index": index,
            "row_offset": offset,
            "row_count": chunks[index].len(),
            "byte_count": serde_json::to_vec(&chunks[index]).unwrap().len(),
            "external_link": format!("{base}/storage/{id}/{index}?X-Amz-Signature=fake-presigned-{index}"),
            "expiration": (chrono::Utc::now() + chrono::Duration::minutes(15)).to_rfc3339(),
        });
        if let Some((next_index, next_link)) = next {
            link["next_chunk_index"] = json!(next_index);
            link["next_chunk_internal_link"] = json!(next_link);
        }
        chunk["external_links"] = json!([link]);
    } else {
        chunk["data_array"] = json!(chunks[index]);
        if let Some((next_index, next_link)) = next {
            chunk["next_chunk_index"] = json!(next_index);
            chunk["next_chunk_internal_link"] = json!(next_link);
        }
    }
    chunk
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "error_code": "NOT_FOUND" })),
    )
        .into_response()
}

async fn databricks_status(
    State(state): State<Arc<DatabricksState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(response) = databricks_auth(&state, &headers) {
        return response;
    }
    let base = state.base.lock().unwrap().clone();
    let mut statements = state.statements.lock().unwrap();
    let Some(statement) = statements.get_mut(&id) else {
        return not_found();
    };
    statement.polls += 1;
    if statement.polls < 2 {
        return Json(json!({ "statement_id": id, "status": { "state": "RUNNING" } }))
            .into_response();
    }
    if let Some(error) = &statement.failure {
        return Json(
            json!({ "statement_id": id, "status": { "state": "FAILED", "error": error } }),
        )
        .into_response();
    }
    let total: usize = statement.chunks.iter().map(Vec::len).sum();
    Json(json!({
        "statement_id": id,
        "status": { "state": "SUCCEEDED" },
        "manifest": {
            "format": "JSON_ARRAY",
            "schema": {
                "column_count": DATABRICKS_COLUMNS.len(),
                "columns": DATABRICKS_COLUMNS.iter().enumerate().map(|(position, name)| json!({ "name": name, "type_name": "STRING", "position": position })).collect::<Vec<_>>(),
            },
            "total_chunk_count": statement.chunks.len(),
            "total_row_count": total,
            "truncated": false,
        },
        "result": chunk_json(&base, &id, statement, 0),
    }))
    .into_response()
}

async fn databricks_chunk(
    State(state): State<Arc<DatabricksState>>,
    Path((id, index)): Path<(String, usize)>,
    headers: HeaderMap,
) -> Response {
    if let Some(response) = databricks_auth(&state, &headers) {
        return response;
    }
    if index == 1 && state.fail_chunk_once.swap(false, Ordering::SeqCst) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "error_code": "TEMPORARILY_UNAVAILABLE", "message": "try again" })),
        )
            .into_response();
    }
    let base = state.base.lock().unwrap().clone();
    let statements = state.statements.lock().unwrap();
    match statements.get(&id) {
        Some(statement) if index < statement.chunks.len() => {
            Json(chunk_json(&base, &id, statement, index)).into_response()
        }
        _ => not_found(),
    }
}

async fn databricks_cancel(
    State(state): State<Arc<DatabricksState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(response) = databricks_auth(&state, &headers) {
        return response;
    }
    if state.statements.lock().unwrap().remove(&id).is_none() {
        return not_found();
    }
    state.canceled.fetch_add(1, Ordering::SeqCst);
    Json(json!({})).into_response()
}

/// The cloud storage a presigned link points to: it refuses a request that carries an
/// `Authorization` header besides the signature in the URL, as S3 does.
async fn databricks_storage(
    State(state): State<Arc<DatabricksState>>,
    Path((id, index)): Path<(String, usize)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if headers.contains_key("authorization") {
        state.authorized_downloads.fetch_add(1, Ordering::SeqCst);
        return (
            StatusCode::BAD_REQUEST,
            "<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed</Message></Error>",
        )
            .into_response();
    }
    if query.get("X-Amz-Signature") != Some(&format!("fake-presigned-{index}"))
        || state.expire_links_once.swap(false, Ordering::SeqCst)
    {
        return (
            StatusCode::FORBIDDEN,
            "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
        )
            .into_response();
    }
    let statements = state.statements.lock().unwrap();
    match statements.get(&id) {
        Some(statement) if index < statement.chunks.len() => {
            Json(statement.chunks[index].clone()).into_response()
        }
        _ => (
            StatusCode::NOT_FOUND,
            "<Error><Code>NoSuchKey</Code></Error>",
        )
            .into_response(),
    }
}

/// Starts the fake Databricks workspace.
pub async fn databricks(token: &str) -> Fake<DatabricksState> {
    let state = Arc::new(DatabricksState {
        rows: Mutex::new(Vec::new()),
        fail_chunk_once: AtomicBool::new(false),
        page_rows: AtomicUsize::new(PAGE_ROWS),
        sinces: Mutex::new(Vec::new()),
        submitted: Mutex::new(Vec::new()),
        canceled: AtomicUsize::new(0),
        authorized_downloads: AtomicUsize::new(0),
        expire_links_once: AtomicBool::new(false),
        token: token.to_owned(),
        auth_failures: AtomicUsize::new(0),
        base: Mutex::new(String::new()),
        statements: Mutex::new(HashMap::new()),
    });
    let router = Router::new()
        .route("/api/2.0/sql/statements", post(databricks_submit))
        .route("/api/2.0/sql/statements/{id}", get(databricks_status))
        .route(
            "/api/2.0/sql/statements/{id}/cancel",
            post(databricks_cancel),
        )
        .route(
            "/api/2.0/sql/statements/{id}/result/chunks/{index}",
            get(databricks_chunk),
        )
        .route("/storage/{id}/{index}", get(databricks_storage))
        .with_state(state.clone());
    let fake = serve(router, state).await;
    *fake.state.base.lock().unwrap() = fake.base.clone();
    fake
}

/// A row of Snowflake's `QUERY_HISTORY` joined with `ACCESS_HISTORY`, as the pull reads it.
pub fn snowflake_row(
    query_id: &str,
    user: &str,
    end: chrono::DateTime<chrono::Utc>,
    base_objects: &str,
) -> Value {
    let start = end - chrono::Duration::milliseconds(557);
    let epoch = |time: chrono::DateTime<chrono::Utc>| {
        format!("{}.{:09}", time.timestamp(), time.timestamp_subsec_nanos())
    };
    json!({
        "QUERY_ID": query_id,
        "QUERY_TEXT": format!("SELECT * FROM DB.PUBLIC.CASE /* {query_id} */"),
        "START_TIME": epoch(start),
        "END_TIME": epoch(end),
        "TOTAL_ELAPSED_TIME": "557",
        "USER_NAME": user,
        "ROLE_NAME": "ACCOUNTADMIN",
        "WAREHOUSE_ID": "3",
        "WAREHOUSE_NAME": "DETECT_WH",
        "CLUSTER_NUMBER": "1",
        "ROWS_PRODUCED": "3",
        "EXECUTION_STATUS": "SUCCESS",
        "ERROR_CODE": null,
        "ERROR_MESSAGE": null,
        "SESSION_ID": "18245308848957358",
        "ACCESS_HISTORY_QUERY_ID": query_id,
        "DIRECT_OBJECTS_ACCESSED": base_objects,
        "BASE_OBJECTS_ACCESSED": base_objects,
    })
}
