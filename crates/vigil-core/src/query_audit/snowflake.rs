//! Snowflake: `SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY` joined with `ACCESS_HISTORY`, read through
//! the Snowflake SQL API (`POST /api/v2/statements`, polling a 202, fetching every partition),
//! authenticated by a key-pair JWT or an OAuth token. One event per registered table a registered
//! user's query read (`BASE_OBJECTS_ACCESSED`) or wrote (`OBJECTS_MODIFIED`), all with the query's
//! `queryId`; a query without an `ACCESS_HISTORY` row is stored without tables after a settle time.

use std::io::Read;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::source::{Page, PageSource, PullError, Row, RowOutcome};
use super::{QueryEvent, iso, object_accessed, parse_time, truncate_query};
use crate::registry::{Platform, RegisteredDatasource, Snapshot};

/// The query the integration runs; `?` is the start of the window (RFC 3339 text).
pub const STATEMENT: &str = "SELECT q.QUERY_ID, q.QUERY_TEXT, q.START_TIME, q.END_TIME, \
q.TOTAL_ELAPSED_TIME, q.USER_NAME, q.ROLE_NAME, q.WAREHOUSE_ID, q.WAREHOUSE_NAME, \
q.CLUSTER_NUMBER, q.ROWS_PRODUCED, q.EXECUTION_STATUS, q.ERROR_CODE, q.ERROR_MESSAGE, \
q.SESSION_ID, a.QUERY_ID AS ACCESS_HISTORY_QUERY_ID, a.DIRECT_OBJECTS_ACCESSED, \
a.BASE_OBJECTS_ACCESSED, a.OBJECTS_MODIFIED \
FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY q \
LEFT JOIN SNOWFLAKE.ACCOUNT_USAGE.ACCESS_HISTORY a ON a.QUERY_ID = q.QUERY_ID \
WHERE q.END_TIME >= TO_TIMESTAMP_LTZ(?) ORDER BY q.END_TIME";

/// How the integration signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SnowflakeAuth {
    /// A key-pair JWT; the secret is the PEM private key (PKCS#8 or PKCS#1, unencrypted).
    KeyPair,
    /// An OAuth access token; the secret is the token.
    Oauth,
}

/// A Snowflake integration's settings (its secret is stored apart, sealed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnowflakeSettings {
    /// `https://<account>.snowflakecomputing.com`.
    pub account_url: String,
    /// The account identifier for the JWT; by default the first label of the URL's host.
    #[serde(default)]
    pub account: Option<String>,
    /// The Snowflake user vigil signs in as.
    pub user: String,
    /// The warehouse that runs the audit query.
    pub warehouse: String,
    /// The role; the user's default when absent.
    #[serde(default)]
    pub role: Option<String>,
    /// `KEY_PAIR` or `OAUTH`.
    pub authentication: SnowflakeAuth,
    /// A query without an `ACCESS_HISTORY` row is held back this many minutes (that view lags
    /// `QUERY_HISTORY` by up to three hours), then stored without tables; by default the
    /// integration's overlap, at most 180.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_history_settle_minutes: Option<u32>,
}

impl SnowflakeSettings {
    /// Checks every field; the message names the field.
    pub fn validate(&self, overlap_minutes: u32) -> Result<(), String> {
        crate::outbound::validate_url("accountUrl", &self.account_url)?;
        if let Some(settle) = self.access_history_settle_minutes
            && settle > overlap_minutes
        {
            return Err(format!(
                "accessHistorySettleMinutes: {settle} is longer than overlapMinutes {overlap_minutes}; held-back queries would fall out of the next window"
            ));
        }
        for (field, value) in [("user", &self.user), ("warehouse", &self.warehouse)] {
            if value.trim().is_empty() {
                return Err(format!("{field}: is required"));
            }
        }
        Ok(())
    }

    /// The host written into `SnowflakeContext.host`.
    pub fn host(&self) -> String {
        reqwest::Url::parse(&self.account_url)
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned))
            .unwrap_or_else(|| self.account_url.clone())
    }

    /// How long a query without an `ACCESS_HISTORY` row is held back.
    pub fn access_history_settle(&self, overlap_minutes: u32) -> chrono::Duration {
        let minutes = self
            .access_history_settle_minutes
            .unwrap_or(overlap_minutes.min(180));
        chrono::Duration::minutes(minutes.into())
    }

    fn account_identifier(&self) -> String {
        self.account
            .clone()
            .unwrap_or_else(|| self.host().split('.').next().unwrap_or_default().to_owned())
            .to_uppercase()
    }
}

/// Checks a secret for `auth` before it is stored.
pub fn validate_secret(auth: SnowflakeAuth, secret: &str) -> Result<(), String> {
    match auth {
        SnowflakeAuth::KeyPair => RsaSigner::from_pem(secret).map(|_| ()),
        SnowflakeAuth::Oauth if secret.trim().is_empty() => {
            Err("authentication.token: is required".into())
        }
        SnowflakeAuth::Oauth => Ok(()),
    }
}

/// An RSA key that signs Snowflake JWTs.
pub struct RsaSigner {
    key: ring::rsa::KeyPair,
    fingerprint: String,
}

impl RsaSigner {
    /// Reads a PEM private key (`BEGIN PRIVATE KEY` or `BEGIN RSA PRIVATE KEY`).
    pub fn from_pem(pem: &str) -> Result<RsaSigner, String> {
        const FIELD: &str = "authentication.privateKey";
        if pem.contains("ENCRYPTED") {
            return Err(format!(
                "{FIELD}: encrypted keys are not supported; give the unencrypted PEM (it is stored sealed)"
            ));
        }
        let der = PrivateKeyDer::from_pem_slice(pem.as_bytes())
            .map_err(|error| format!("{FIELD}: not a PEM private key ({error})"))?;
        let key = match &der {
            PrivateKeyDer::Pkcs1(key) => ring::rsa::KeyPair::from_der(key.secret_pkcs1_der()),
            PrivateKeyDer::Pkcs8(key) => ring::rsa::KeyPair::from_pkcs8(key.secret_pkcs8_der()),
            _ => return Err(format!("{FIELD}: not an RSA private key")),
        }
        .map_err(|error| format!("{FIELD}: not a usable RSA private key ({error})"))?;
        let fingerprint = format!(
            "SHA256:{}",
            STANDARD.encode(Sha256::digest(spki_der(key.public().as_ref())?))
        );
        Ok(RsaSigner { key, fingerprint })
    }

    /// `SHA256:<base64>` of the public key, as Snowflake shows it in `RSA_PUBLIC_KEY_FP`.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// A JWT for `account` and `user`, valid one hour from `now`.
    pub fn jwt(&self, account: &str, user: &str, now: DateTime<Utc>) -> Result<String, String> {
        let qualified = format!("{account}.{}", user.to_uppercase());
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let claims = URL_SAFE_NO_PAD.encode(
            json!({
                "iss": format!("{qualified}.{}", self.fingerprint),
                "sub": qualified,
                "iat": now.timestamp(),
                "exp": now.timestamp() + 3600,
            })
            .to_string(),
        );
        let signing_input = format!("{header}.{claims}");
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| "could not sign the Snowflake JWT".to_owned())?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }
}

/// Wraps a PKCS#1 `RSAPublicKey` in a `SubjectPublicKeyInfo` (algorithm `rsaEncryption` with
/// NULL parameters, RFC 3279), the DER form Snowflake fingerprints.
pub fn spki_der(pkcs1: &[u8]) -> Result<Vec<u8>, String> {
    use spki::der::Encode;
    use spki::der::asn1::{AnyRef, BitStringRef};
    const RSA_ENCRYPTION: spki::ObjectIdentifier =
        spki::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
    let info = spki::SubjectPublicKeyInfoRef {
        algorithm: spki::AlgorithmIdentifierRef {
            oid: RSA_ENCRYPTION,
            parameters: Some(AnyRef::NULL),
        },
        subject_public_key: BitStringRef::from_bytes(pkcs1).map_err(|e| e.to_string())?,
    };
    info.to_der()
        .map_err(|error| format!("could not encode the public key ({error})"))
}

/// A running statement's result, partition by partition.
pub struct SnowflakePages {
    client: reqwest::Client,
    base: String,
    authorization: String,
    token_type: &'static str,
    handle: String,
    columns: Vec<String>,
    first: Option<Vec<Vec<Value>>>,
    next_partition: usize,
    partitions: usize,
}

/// The SQL API's answer to a statement, or to a poll of it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatementAnswer {
    #[serde(default)]
    statement_handle: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    result_set_meta_data: Option<ResultSetMetaData>,
    #[serde(default)]
    data: Option<Vec<Vec<Value>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResultSetMetaData {
    #[serde(default)]
    row_type: Vec<RowType>,
    #[serde(default)]
    partition_info: Vec<Value>,
}

#[derive(Deserialize)]
struct RowType {
    name: String,
}

/// How long to wait between polls of a running statement: starts short, doubles, at most 5 s.
fn poll_delay(attempt: u32) -> Duration {
    Duration::from_millis((50u64 << attempt.min(7)).min(5_000))
}

/// The longest a statement may keep answering 202 before the run gives up.
const STATEMENT_DEADLINE: Duration = Duration::from_secs(3600);

impl SnowflakePages {
    /// Submits the audit statement for the window starting at `since` and waits for its result.
    pub async fn start(
        client: &reqwest::Client,
        settings: &SnowflakeSettings,
        secret: &str,
        since: DateTime<Utc>,
    ) -> Result<SnowflakePages, PullError> {
        let (authorization, token_type) = match settings.authentication {
            SnowflakeAuth::KeyPair => {
                let signer = RsaSigner::from_pem(secret).map_err(PullError::Config)?;
                let jwt = signer
                    .jwt(&settings.account_identifier(), &settings.user, Utc::now())
                    .map_err(PullError::Config)?;
                (format!("Bearer {jwt}"), "KEYPAIR_JWT")
            }
            SnowflakeAuth::Oauth => (format!("Bearer {}", secret.trim()), "OAUTH"),
        };
        let base = settings.account_url.trim_end_matches('/').to_owned();
        let mut body = json!({
            "statement": STATEMENT,
            "timeout": 3600,
            "warehouse": settings.warehouse,
            "bindings": { "1": { "type": "TEXT", "value": iso(since) } },
        });
        if let Some(role) = &settings.role {
            body["role"] = role.clone().into();
        }
        let request_id = uuid::Uuid::new_v4();
        let request = client
            .post(format!("{base}/api/v2/statements?requestId={request_id}"))
            .header("Authorization", &authorization)
            .header("X-Snowflake-Authorization-Token-Type", token_type)
            .header("Accept", "application/json")
            .header("User-Agent", concat!("vigil/", env!("CARGO_PKG_VERSION")))
            .json(&body);
        let mut answer = send(request, "submitting the audit statement").await?;
        let deadline = tokio::time::Instant::now() + STATEMENT_DEADLINE;
        let mut attempt = 0;
        while answer.0 == StatusCode::ACCEPTED {
            let handle = answer.1.statement_handle.clone().ok_or_else(|| {
                PullError::Source("Snowflake answered 202 without a statementHandle".into())
            })?;
            if tokio::time::Instant::now() > deadline {
                return Err(PullError::Source(format!(
                    "the audit statement {handle} was still running after {} s",
                    STATEMENT_DEADLINE.as_secs()
                )));
            }
            tokio::time::sleep(poll_delay(attempt)).await;
            attempt += 1;
            let poll = client
                .get(format!("{base}/api/v2/statements/{handle}"))
                .header("Authorization", &authorization)
                .header("X-Snowflake-Authorization-Token-Type", token_type)
                .header("Accept", "application/json");
            answer = send(poll, "polling the audit statement").await?;
        }
        let (_, answer) = answer;
        let handle = answer.statement_handle.unwrap_or_default();
        let meta = answer.result_set_meta_data.ok_or_else(|| {
            PullError::Source("Snowflake's answer has no resultSetMetaData".into())
        })?;
        Ok(SnowflakePages {
            client: client.clone(),
            base,
            authorization,
            token_type,
            handle,
            columns: meta.row_type.into_iter().map(|row| row.name).collect(),
            first: Some(answer.data.unwrap_or_default()),
            next_partition: 1,
            partitions: meta.partition_info.len().max(1),
        })
    }
}

/// Sends a request; a status other than 200 or 202 is an error carrying Snowflake's message.
async fn send(
    request: reqwest::RequestBuilder,
    what: &str,
) -> Result<(StatusCode, StatementAnswer), PullError> {
    let response = request.send().await.map_err(|error| {
        PullError::Source(format!("{what}: {}", super::source::describe(&error)))
    })?;
    let status = response.status();
    let text = body_text(response).await?;
    let answer: Option<StatementAnswer> = serde_json::from_str(&text).ok();
    if status == StatusCode::OK || status == StatusCode::ACCEPTED {
        return answer.map(|answer| (status, answer)).ok_or_else(|| {
            PullError::Source(format!(
                "{what}: Snowflake's answer is not the SQL API's JSON"
            ))
        });
    }
    let detail = answer
        .map(|answer| {
            format!(
                "{} (code {})",
                answer.message.unwrap_or_default(),
                answer.code.unwrap_or_default()
            )
        })
        // A body in any other shape is never shown or stored: it may not come from Snowflake.
        .unwrap_or_else(|| "the answer is not the SQL API's error format (body not shown)".into());
    Err(PullError::Source(format!(
        "{what}: Snowflake answered {status}: {detail}"
    )))
}

/// The body as text; partitions may come gzip-compressed whatever the request asked.
async fn body_text(response: reqwest::Response) -> Result<String, PullError> {
    let gzip = response
        .headers()
        .get("content-encoding")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.eq_ignore_ascii_case("gzip"));
    let bytes = response
        .bytes()
        .await
        .map_err(|error| PullError::Source(format!("reading Snowflake's answer: {error}")))?;
    if gzip {
        let mut text = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .map_err(|error| PullError::Source(format!("decompressing a partition: {error}")))?;
        Ok(text)
    } else {
        String::from_utf8(bytes.to_vec())
            .map_err(|_| PullError::Source("Snowflake's answer is not UTF-8".into()))
    }
}

#[async_trait::async_trait]
impl PageSource for SnowflakePages {
    async fn next_page(&mut self) -> Result<Option<Page>, PullError> {
        let rows = if let Some(rows) = self.first.take() {
            rows
        } else if self.next_partition < self.partitions {
            let partition = self.next_partition;
            let request = self
                .client
                .get(format!(
                    "{}/api/v2/statements/{}?partition={partition}",
                    self.base, self.handle
                ))
                .header("Authorization", &self.authorization)
                .header("X-Snowflake-Authorization-Token-Type", self.token_type)
                .header("Accept", "application/json");
            let what = format!("fetching partition {partition}");
            let (_, answer) = send(request, &what).await?;
            self.next_partition += 1;
            answer.data.unwrap_or_default()
        } else {
            return Ok(None);
        };
        Ok(Some(Page::new(&self.columns, rows)))
    }
}

/// One element of `DIRECT_OBJECTS_ACCESSED` / `BASE_OBJECTS_ACCESSED`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccessedObject {
    #[serde(default)]
    object_domain: Option<String>,
    #[serde(default)]
    object_name: Option<String>,
    #[serde(default)]
    columns: Option<Vec<AccessedColumn>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccessedColumn {
    #[serde(default)]
    column_name: Option<String>,
}

/// Splits `DB.SCHEMA.TABLE`, where a part may be double-quoted and contain dots.
pub fn split_object_name(name: &str) -> Option<(String, String, String)> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                current.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            '.' if !quoted => parts.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    parts.push(current);
    match <[String; 3]>::try_from(parts) {
        Ok([database, schema, table]) if !table.is_empty() => Some((database, schema, table)),
        _ => None,
    }
}

/// Domains of `BASE_OBJECTS_ACCESSED` that are tables (any case: Snowflake writes `Table`).
fn is_table_domain(domain: Option<&str>) -> bool {
    domain.is_none_or(|domain| {
        let domain = domain.to_ascii_lowercase();
        domain.contains("table") || domain.contains("view")
    })
}

fn objects(row: &Row<'_>, column: &str) -> Result<Vec<AccessedObject>, String> {
    match row.get(column) {
        Value::Null => Ok(Vec::new()),
        Value::String(text) => serde_json::from_str(text)
            .map_err(|error| format!("{column}: not a JSON array of objects ({error})")),
        value => serde_json::from_value(value.clone())
            .map_err(|error| format!("{column}: not an array of objects ({error})")),
    }
}

/// Translates one row: one event per registered base table, or why there is none.
pub fn translate_row(
    row: &Row<'_>,
    settings: &SnowflakeSettings,
    integration_id: &str,
    registry: &Snapshot,
    (now, settle): (DateTime<Utc>, chrono::Duration),
) -> RowOutcome {
    let query_id = match row.text("QUERY_ID") {
        Some(id) => id,
        None => return RowOutcome::Malformed("QUERY_ID: is missing".into()),
    };
    let times = (|| {
        let start =
            parse_time(row.get("START_TIME")).map_err(|error| format!("START_TIME: {error}"))?;
        let end = parse_time(row.get("END_TIME")).map_err(|error| format!("END_TIME: {error}"))?;
        Ok::<_, String>((start, end))
    })();
    let (start, end) = match times {
        Ok(times) => times,
        Err(error) => return RowOutcome::Malformed(format!("query {query_id}: {error}")),
    };
    let base = match objects(row, "BASE_OBJECTS_ACCESSED") {
        Ok(objects) => objects,
        Err(error) => return RowOutcome::Malformed(format!("query {query_id}: {error}")),
    };
    if let Err(error) = objects(row, "DIRECT_OBJECTS_ACCESSED") {
        return RowOutcome::Malformed(format!("query {query_id}: {error}"));
    }
    let modified = match objects(row, "OBJECTS_MODIFIED") {
        Ok(objects) => objects,
        Err(error) => return RowOutcome::Malformed(format!("query {query_id}: {error}")),
    };
    let username = row.text("USER_NAME");
    let Some(user) = username
        .as_deref()
        .and_then(|name| registry.resolve_user(Platform::Snowflake, name))
    else {
        return RowOutcome::Skipped { end_time: end };
    };
    let failed = row
        .text("EXECUTION_STATUS")
        .is_some_and(|status| !status.eq_ignore_ascii_case("SUCCESS"));
    let duration = row
        .number("TOTAL_ELAPSED_TIME")
        .map(|millis| millis / 1000.0);
    let mut payload = Map::new();
    payload.insert("queryId".into(), query_id.clone().into());
    payload.insert(
        "query".into(),
        row.text("QUERY_TEXT").as_deref().map(truncate_query).into(),
    );
    payload.insert("startTime".into(), iso(start).into());
    payload.insert("endTime".into(), iso(end).into());
    payload.insert("duration".into(), duration.into());
    payload.insert(
        "errorCode".into(),
        if failed {
            row.text("ERROR_CODE").into()
        } else {
            Value::Null
        },
    );
    payload.insert(
        "technologyContext".into(),
        json!({
            "type": "SnowflakeContext",
            "host": settings.host(),
            "snowflakeUsername": username,
            // NULL (a statement that produces no result set) stays null, not 0.
            "rowsProduced": row.integer("ROWS_PRODUCED"),
            "roleName": row.text("ROLE_NAME"),
            "warehouseId": row.text("WAREHOUSE_ID"),
            "warehouseName": row.text("WAREHOUSE_NAME"),
            "clusterNumber": row.integer("CLUSTER_NUMBER"),
        }),
    );
    let event = |id: String, targets: Vec<Value>, objects: Value, twin: Option<String>| {
        let mut payload = payload.clone();
        payload.insert("objectsAccessed".into(), objects);
        QueryEvent {
            id,
            actor: user.actor(),
            action_status: if failed { "FAILURE" } else { "SUCCESS" },
            action_status_reason: if failed {
                row.text("ERROR_MESSAGE")
            } else {
                None
            },
            event_time: start,
            session_id: row.text("SESSION_ID"),
            user_agent: None,
            targets,
            payload,
            twin,
            resolves: None,
        }
    };
    // The id the query's event without tables has: stored when ACCESS_HISTORY has no row for it
    // (Standard Edition, or a query that touched no object) once the settle time has passed.
    let untabled_id = super::derived_id(&["snowflake", integration_id, &query_id, ""]);
    let has_access_history = row.text("ACCESS_HISTORY_QUERY_ID").is_some()
        || !row.get("BASE_OBJECTS_ACCESSED").is_null()
        || !row.get("OBJECTS_MODIFIED").is_null();
    if !has_access_history {
        // ACCESS_HISTORY lags QUERY_HISTORY by up to three hours; a failed query gets no row.
        if !failed && now - end < settle {
            return RowOutcome::Deferred;
        }
        return RowOutcome::Events {
            events: vec![event(untabled_id, Vec::new(), json!([]), None)],
            end_time: end,
        };
    }
    // One event per registered data source: what the query read of it (BASE_OBJECTS_ACCESSED)
    // and what it wrote (OBJECTS_MODIFIED, marked `accessType: WRITE`).
    let mut per_source: Vec<(&RegisteredDatasource, Vec<Value>)> = Vec::new();
    let accesses = base
        .iter()
        .map(|object| (object, false))
        .chain(modified.iter().map(|object| (object, true)));
    for (object, written) in accesses {
        if !is_table_domain(object.object_domain.as_deref()) {
            continue;
        }
        let Some(name) = &object.object_name else {
            continue;
        };
        let Some((database, schema, table)) = split_object_name(name) else {
            continue;
        };
        let Some(source) =
            registry.resolve_table(Platform::Snowflake, Some(&database), &schema, &table)
        else {
            continue;
        };
        let columns: Vec<String> = object
            .columns
            .iter()
            .flatten()
            .filter_map(|column| column.column_name.clone())
            .collect();
        let mut accessed = object_accessed(
            name.clone(),
            Some(&source.id),
            Some(&database),
            Some(&schema),
            "TABLE",
            &columns,
            false,
        );
        if written {
            accessed["accessType"] = "WRITE".into();
        }
        match per_source
            .iter_mut()
            .find(|(known, _)| known.id == source.id)
        {
            // A second base object of the same data source adds nothing; a write of it does.
            Some((_, objects)) if written => objects.push(accessed),
            Some(_) => {}
            None => per_source.push((source, vec![accessed])),
        }
    }
    let events: Vec<QueryEvent> = per_source
        .into_iter()
        .map(|(source, objects)| {
            event(
                super::derived_id(&["snowflake", integration_id, &query_id, &source.id]),
                vec![source.target(Platform::Snowflake)],
                objects.into(),
                Some(untabled_id.clone()),
            )
        })
        .collect();
    if events.is_empty() {
        RowOutcome::Skipped { end_time: end }
    } else {
        RowOutcome::Events {
            events,
            end_time: end,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_split_with_quotes() {
        assert_eq!(
            split_object_name("DB.PUBLIC.CASE"),
            Some(("DB".into(), "PUBLIC".into(), "CASE".into()))
        );
        assert_eq!(
            split_object_name(r#""my.db"."Sch""ema".T"#),
            Some(("my.db".into(), "Sch\"ema".into(), "T".into()))
        );
        assert_eq!(split_object_name("A.B"), None);
    }

    /// A 2048-bit public key's SPKI: a long-form length (`30 82 01 22`), the rsaEncryption
    /// algorithm with NULL parameters, then the key as a bit string with no unused bits.
    #[test]
    fn public_keys_are_wrapped_as_snowflake_fingerprints_them() {
        let pkcs1 = [vec![0x30, 0x82, 0x01, 0x0a], vec![0x55; 0x10a]].concat();
        let der = spki_der(&pkcs1).unwrap();
        assert_eq!(der.len(), 0x126);
        assert_eq!(
            &der[..24],
            &[
                0x30, 0x82, 0x01, 0x22, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
                0x01, 0x01, 0x01, 0x05, 0x00, 0x03, 0x82, 0x01, 0x0f, 0x00
            ]
        );
        assert_eq!(&der[24..], &pkcs1[..]);
    }
}
