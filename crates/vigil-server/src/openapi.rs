//! The OpenAPI 3.1 contract of the HTTP API, generated from the code: every route is registered
//! through `utoipa_axum::routes!` from its handler's `#[utoipa::path]` (method, path,
//! parameters, body, answers), so the router and the document cannot drift apart. This module
//! holds what the handlers share: the error body, the parameter lists of search and reports, the
//! security schemes, and `GET /api/openapi.json`.

use std::sync::LazyLock;

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoParams, IntoResponses, Modify, OpenApi, PartialSchema, ToSchema};

/// Every refusal and failure answers this body (4xx: what is wrong and where; 5xx: no internal
/// detail).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    /// What is wrong, and where.
    error: String,
    /// For machines: `invalid_value`, `malformed_json`, `unauthenticated`, `forbidden`,
    /// `csrf_token_refused`, `not_found`, `conflict`, `payload_too_large`, `request_timeout`,
    /// `unavailable`, `internal`, …
    code: String,
    /// For an invalid value: the JSON path of the field.
    #[schema(nullable = false)]
    path: Option<String>,
    /// For malformed JSON: the line of the fault (1-based).
    #[schema(nullable = false)]
    line: Option<u64>,
    /// For malformed JSON: the column of the fault (1-based).
    #[schema(nullable = false)]
    column: Option<u64>,
}

/// Whether vigil's own reads are searched.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum OwnReads {
    Exclude,
    Include,
}

/// What a search answers: a page, or a download.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum SearchFormat {
    Json,
    Csv,
    Ndjson,
}

/// The time a search sorts and ranges on.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub enum SortField {
    EventTimestamp,
    ReceivedTimestamp,
}

/// A sort order.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum Order {
    Desc,
    Asc,
}

/// A closed list of names, as a string schema with an `enum`, taken from the core's own list so
/// the document follows it.
fn names(values: impl IntoIterator<Item = &'static str>) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .into()
}

/// The entity types of governance reports.
pub struct EntityTypeName;

impl PartialSchema for EntityTypeName {
    fn schema() -> RefOr<Schema> {
        names(vigil_core::governance::reports::EntityType::ALL.map(|entity| entity.as_str()))
    }
}

impl ToSchema for EntityTypeName {}

/// What a report answers.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum ReportFormat {
    Json,
    Csv,
}

/// The platforms a user's username is mapped on.
pub struct PlatformName;

impl PartialSchema for PlatformName {
    fn schema() -> RefOr<Schema> {
        names(vigil_core::registry::Platform::ALL.map(|platform| platform.as_str()))
    }
}

impl ToSchema for PlatformName {}

/// Refused (4xx: what is wrong and where) or failed (5xx).
#[derive(IntoResponses)]
#[response(status = "default")]
#[allow(dead_code)]
pub struct Refused(ErrorBody);

/// The parameters of a search (`GET /api/audit/events`). Every filter is repeatable (its values
/// are alternatives) and has an exclusion twin, `FIELD.not`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct SearchParams {
    /// Filter on `action` (e.g. `QUERY`, `CREATE`).
    action: Option<Vec<String>>,
    /// Filter on `targetType`.
    #[param(rename = "targetType")]
    target_type: Option<Vec<String>>,
    /// Filter on `actionStatus` (`SUCCESS`, `FAILURE`, `UNAUTHORIZED`).
    #[param(rename = "actionStatus")]
    action_status: Option<Vec<String>>,
    /// Filter on `actor.id`.
    #[param(rename = "actorId")]
    actor_id: Option<Vec<String>>,
    /// Filter on `actor.name` (any case).
    #[param(rename = "actorName")]
    actor_name: Option<Vec<String>>,
    /// Filter on `actor.type`.
    #[param(rename = "actorType")]
    actor_type: Option<Vec<String>>,
    /// Filter on `actor.profileId`.
    #[param(rename = "profileId")]
    profile_id: Option<Vec<String>>,
    /// Filter on `actor.identityProvider`.
    #[param(rename = "identityProvider")]
    identity_provider: Option<Vec<String>>,
    /// Filter on a target's id.
    #[param(rename = "targetId")]
    target_id: Option<Vec<String>>,
    /// Filter on a target's name (any case).
    #[param(rename = "targetName")]
    target_name: Option<Vec<String>>,
    /// Filter on the technology (`SNOWFLAKE`, `DATABRICKS`, `TRINO`, …).
    technology: Option<Vec<String>>,
    /// Filter on a data source's id.
    #[param(rename = "dataSourceId")]
    data_source_id: Option<Vec<String>>,
    /// Filter on a data source's name (any case).
    #[param(rename = "dataSourceName")]
    data_source_name: Option<Vec<String>>,
    /// Filter on a project's id.
    #[param(rename = "projectId")]
    project_id: Option<Vec<String>>,
    /// Filter on a project's name (any case).
    #[param(rename = "projectName")]
    project_name: Option<Vec<String>>,
    /// Filter on a purpose.
    purpose: Option<Vec<String>>,
    /// Filter on `auditPayload.type`.
    #[param(rename = "payloadType")]
    payload_type: Option<Vec<String>>,
    /// Filter on the UAM event type (`DatasourceCreated`, `Query`, …).
    #[param(rename = "eventType")]
    event_type: Option<Vec<String>>,
    /// Filter on the legacy record type (`query`, `auditQuery`, …).
    #[param(rename = "recordType")]
    record_type: Option<Vec<String>>,
    /// Filter on the outcome.
    outcome: Option<Vec<String>>,
    /// Filter on a table a query read (any case).
    table: Option<Vec<String>>,
    /// Filter on a column a query read (any case).
    column: Option<Vec<String>>,
    /// Filter on a tag.
    tag: Option<Vec<String>>,
    /// Filter on a sensitivity.
    sensitivity: Option<Vec<String>>,
    /// Filter on `tenantId`.
    #[param(rename = "tenantId")]
    tenant_id: Option<Vec<String>>,
    /// Filter on the platform user (any case).
    #[param(rename = "platformUser")]
    platform_user: Option<Vec<String>>,
    /// Filter on a blob id.
    #[param(rename = "blobId")]
    blob_id: Option<Vec<String>>,
    /// Filter on the event's id.
    #[param(rename = "eventId")]
    event_id: Option<Vec<String>>,
    /// Filter on who submitted the event (`vigil`, `key:<id>`, `person:<id>`, `integration:<id>`,
    /// `cli:<user>`, `demo`).
    #[param(rename = "submittedBy")]
    submitted_by: Option<Vec<String>>,
    /// `exclude` (default) or `include` vigil's own reads (`AUDIT_QUERY`, `RUN_REPORT`).
    #[param(rename = "ownReads", inline)]
    own_reads: Option<OwnReads>,
    /// Start of the range (inclusive): RFC 3339, a date, epoch milliseconds, or relative
    /// (`now-24h`, `7d`).
    from: Option<String>,
    /// End of the range (inclusive), in the forms `from` takes.
    to: Option<String>,
    /// `json` (a page, the default), `csv` or `ndjson` (a download of every matching event).
    #[param(inline)]
    format: Option<SearchFormat>,
    /// Keywords over query text, names and actor ids; all must match.
    q: Option<String>,
    /// `eventTimestamp` (default) or `receivedTimestamp`.
    #[param(inline)]
    sort: Option<SortField>,
    /// `desc` (default) or `asc`.
    #[param(inline)]
    order: Option<Order>,
    /// Hits per page: 50 by default, at most 1,000; 0 answers the total and facets only.
    #[param(maximum = 1000)]
    size: Option<u32>,
    /// Hits to skip (at most 100,000).
    #[param(maximum = 100000)]
    offset: Option<u32>,
    /// The `nextCursor` of the previous page, for any depth.
    cursor: Option<String>,
    /// Comma-separated facet fields, or `none`.
    facets: Option<String>,
    /// Values per facet (100 by default).
    #[param(rename = "facetLimit")]
    facet_limit: Option<u32>,
    /// Equal time buckets between `from` and `to` (1–1,000; both required).
    #[param(minimum = 1, maximum = 1000)]
    histogram: Option<u32>,
}

/// The parameters of a report run: the query of `GET /api/audit/reports/run`, or the JSON object
/// `POST` sends.
#[derive(IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ReportParams {
    /// `user`, `group`, `project`, `datasource`, `purpose`, `tag`, … (`GET /api/audit/reports`).
    #[param(rename = "entityType", inline)]
    #[schema(schema_with = EntityTypeName::schema)]
    entity_type: EntityTypeName,
    /// The report kind's name, e.g. `data-sources-accessed`.
    report: String,
    /// The entity's name (or id); reports about every entity need none.
    name: Option<String>,
    /// Start of the range (inclusive).
    from: Option<String>,
    /// End of the range (inclusive).
    to: Option<String>,
    /// Rows at most.
    limit: Option<u32>,
    /// `json` (default) or `csv`.
    #[param(inline)]
    #[schema(inline)]
    format: Option<ReportFormat>,
}

/// An identifier: text, or a whole number (stored as its decimal text).
fn id_schema() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([
            Type::String,
            Type::Integer,
            Type::Null,
        ]))
        .into()
}

/// Who acted.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Actor {
    /// `USER_ACTOR`, `SYSTEM_ACCOUNT`, `API_KEY`, `UNKNOWN`, …
    #[schema(rename = "type")]
    actor_type: Option<String>,
    /// The actor's id (often an e-mail address).
    #[schema(schema_with = id_schema)]
    id: Option<String>,
    /// The actor's name.
    name: Option<String>,
    /// The identity provider that vouched for a person.
    identity_provider: Option<String>,
    /// The person's profile id.
    #[schema(schema_with = id_schema)]
    profile_id: Option<String>,
    /// Who impersonated the actor, when someone did.
    impersonated_by: Option<serde_json::Value>,
}

/// An object an event acted on (a target) or concerned (a related resource).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Resource {
    /// `DATASOURCE`, `USER`, `GROUP`, `TAG`, `PROJECT`, …
    #[schema(rename = "type")]
    resource_type: Option<String>,
    /// Its id.
    #[schema(schema_with = id_schema)]
    id: Option<String>,
    /// Its name.
    name: Option<String>,
    /// For data sources: `SNOWFLAKE`, `DATABRICKS`, `TRINO`, …
    technology: Option<String>,
}

/// A Universal Audit Model event, as a producer sends it and as vigil returns it (with the
/// fields vigil fills in: `id`, `receivedTimestamp`). `auditPayload` depends on the event type
/// (its `type`, such as `QueryAuditPayload`); the specification lists each.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct UamEvent {
    /// The event's id (a UUID is given when absent).
    #[schema(schema_with = id_schema)]
    id: Option<String>,
    /// The base action: `QUERY`, `CREATE`, `UPDATE`, `DELETE`, `AUTHENTICATE`, …
    action: String,
    /// Who acted.
    actor: Actor,
    /// The kind of the targets.
    target_type: Option<String>,
    /// What was acted on.
    #[schema(value_type = Option<Vec<Resource>>)]
    targets: Option<Vec<Resource>>,
    /// What else the event concerns.
    #[schema(value_type = Option<Vec<Resource>>)]
    related_resources: Option<Vec<Resource>>,
    /// `SUCCESS`, `FAILURE` or `UNAUTHORIZED`.
    action_status: Option<String>,
    /// Why, when it did not succeed: any JSON (text, usually).
    action_status_reason: Option<serde_json::Value>,
    /// When it happened (RFC 3339).
    #[schema(format = DateTime)]
    event_timestamp: String,
    /// When the producer's audit service received it (RFC 3339); vigil fills it in when absent.
    #[schema(format = DateTime)]
    received_timestamp: Option<String>,
    /// The tenant.
    tenant_id: Option<String>,
    /// The session of the actor.
    #[schema(schema_with = id_schema)]
    session_id: Option<String>,
    /// The request.
    #[schema(schema_with = id_schema)]
    request_id: Option<String>,
    /// The actor's address.
    actor_ip: Option<String>,
    /// The actor's client.
    user_agent: Option<String>,
    /// The event's details; `type` names their shape.
    #[schema(value_type = Option<Object>)]
    audit_payload: Option<serde_json::Value>,
}

/// A page of search results.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct SearchPage {
    /// How many events match.
    total: u64,
    /// This page's events, in the search's order.
    hits: Vec<UamEvent>,
    /// Per facet field: its most active values with their counts, `distinct` and `events`.
    #[schema(value_type = Object)]
    facets: serde_json::Value,
    /// Send it as `cursor` for the next page; `null` on the last.
    next_cursor: Option<String>,
    /// With `histogram=N`: `{"bucketMillis": …, "buckets": [{"start": …, "count": n}, …]}`.
    #[schema(value_type = Option<Object>)]
    histogram: Option<serde_json::Value>,
}

/// What `POST /api/audit/events` takes as JSON: one event, or an array of them.
pub struct EventOrEvents;

impl PartialSchema for EventOrEvents {
    fn schema() -> RefOr<Schema> {
        let event = Ref::from_schema_name(UamEvent::name());
        OneOfBuilder::new()
            .item(event.clone())
            .item(event.to_array_builder())
            .into()
    }
}

impl ToSchema for EventOrEvents {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((UamEvent::name().into_owned(), UamEvent::schema()));
        UamEvent::schemas(schemas);
    }
}

/// How a Snowflake integration signs in: a key pair (`privateKey`, PKCS#8 PEM) or OAuth
/// (`token`). Secrets are sealed and never returned; on update, absent keeps the stored one.
#[derive(serde::Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct SnowflakeAuthentication {
    /// `KEY_PAIR` or `OAUTH`.
    #[serde(rename = "type")]
    auth_type: String,
    /// KEY_PAIR: the private key (PEM).
    private_key: Option<String>,
    /// OAUTH: the token.
    token: Option<String>,
}

/// A Snowflake pull integration: `ACCOUNT_USAGE.QUERY_HISTORY` and `ACCESS_HISTORY`.
#[derive(serde::Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct SnowflakeIntegration {
    /// The account's URL, `https://<account>.snowflakecomputing.com`.
    account_url: String,
    /// The account identifier, when the URL does not show it.
    account: Option<String>,
    /// The user vigil signs in as.
    user: String,
    /// The warehouse its queries run on.
    warehouse: String,
    /// The role, when not the user's default.
    role: Option<String>,
    /// How it signs in.
    authentication: SnowflakeAuthentication,
    /// How long ACCESS_HISTORY may lag QUERY_HISTORY, in minutes.
    access_history_settle_minutes: Option<u32>,
}

/// A Databricks Unity Catalog pull integration: `system.query.history` and lineage.
#[derive(serde::Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct DatabricksIntegration {
    /// The workspace host, `https://<workspace>.cloud.databricks.com`.
    host: String,
    /// The SQL warehouse the system tables are read through.
    warehouse_id: String,
    /// Only these workspaces (all by default).
    workspace_ids: Option<Vec<String>>,
    /// How long lineage may lag the query history, in minutes.
    lineage_settle_minutes: Option<u32>,
    /// Rows per statement page.
    rows_per_statement: Option<u32>,
    /// The access token (sealed, never returned; on update, absent keeps the stored one).
    token: Option<String>,
}

/// Where a pull integration reads, by `type`.
#[derive(serde::Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(dead_code)]
pub enum IntegrationSource {
    /// Snowflake.
    Snowflake(SnowflakeIntegration),
    /// Databricks Unity Catalog.
    DatabricksUnityCatalog(DatabricksIntegration),
}

/// A pull integration as a request gives it and as vigil answers it (with `id`, `createdAt`,
/// `updatedAt` and `status`, and never a secret).
#[derive(serde::Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Integration {
    /// What people call it (the type's name by default).
    name: Option<String>,
    /// Whether the schedule and loads run it (default true).
    enabled: Option<bool>,
    /// Each run reads from the watermark minus this many minutes (the sources are late).
    overlap_minutes: Option<u32>,
    /// The first run reads this many hours back.
    initial_lookback_hours: Option<u32>,
    /// The source and its settings.
    #[serde(flatten)]
    source: IntegrationSource,
}

/// `PUT /api/audit/registry/users/{user_id}/external-ids/{technology}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UsernameBody {
    /// The user's name on the platform.
    #[schema(min_length = 1)]
    username: String,
}

/// Minutes between the pull runs of one integration type.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Interval {
    /// From 5 minutes to a week.
    #[schema(minimum = 5, maximum = 10080)]
    interval_minutes: u32,
}

/// `PUT /api/audit/integrations/schedule`: the types to change, at least one.
#[derive(ToSchema)]
#[schema(min_properties = 1)]
#[allow(dead_code, non_snake_case)]
pub struct ScheduleBody {
    /// Snowflake's interval.
    SNOWFLAKE: Option<Interval>,
    /// Databricks Unity Catalog's interval.
    DATABRICKS_UNITY_CATALOG: Option<Interval>,
}

/// A GraphQL request.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct GraphqlRequest {
    /// The query or mutation.
    #[schema(min_length = 1)]
    query: String,
    /// Its variables.
    #[schema(value_type = Option<Object>)]
    variables: Option<serde_json::Value>,
    /// Which operation of the query to run.
    operation_name: Option<String>,
}

/// The API key in `Authorization` (bare or `Bearer`), or a signed-in person's session cookie.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "apiKey",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "An API key, bare or as `Bearer <key>`.",
            ))),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "vigil_session",
                "A person's single sign-on session; a change must also echo the session's \
                 csrfToken in X-CSRF-Token.",
            ))),
        );
        openapi.security = Some(vec![
            SecurityRequirement::new("apiKey", Vec::<String>::new()),
            SecurityRequirement::new("session", Vec::<String>::new()),
        ]);
    }
}

/// The document's frame; the paths come from the handlers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "vigil",
        description = "The audit service's HTTP API: the Universal Audit Model's events, search, \
                       governance reports, exports (GraphQL), query-audit integrations, SIEM \
                       forwarders and alerts. Permissions: AUDIT reads, INGEST writes events, \
                       EXPORT_ADMIN and ADMIN change configurations.",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    modifiers(&Security),
    components(schemas(ErrorBody)),
    tags(
        (name = "events", description = "Storing and reading UAM events"),
        (name = "search", description = "Keyword and facet search"),
        (name = "reports", description = "Governance reports"),
        (name = "exports", description = "Export configurations (GraphQL)"),
        (name = "query-audit", description = "Query audit: Trino, Snowflake, Databricks"),
        (name = "forwarding", description = "Forwarders to the SIEM and alerts"),
        (name = "sign-in", description = "Who is calling, and single sign-on"),
        (name = "service", description = "Health, readiness, status and metrics"),
        (name = "web-ui", description = "The web UI's assets"),
        (name = "legacy", description = "The original service's legacy API"),
    )
)]
pub struct ApiDoc;

/// The document as served, made once.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    crate::routes::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serializes")
});

/// The OpenAPI 3.1 document of this API.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    operation_id = "openapi",
    tag = "service",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object))
)]
pub async fn document() -> Response {
    (
        [
            (CONTENT_TYPE, "application/json"),
            (CACHE_CONTROL, "no-cache"),
        ],
        DOCUMENT.as_str(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use serde_json::Value;

    #[test]
    fn every_operation_is_named_once_declares_its_path_parameters_and_answers() {
        let document = serde_json::to_value(crate::routes::openapi()).unwrap();
        assert_eq!(document["openapi"], "3.1.0");
        let mut ids = HashSet::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let id = operation["operationId"].as_str().unwrap();
                assert!(ids.insert(id.to_owned()), "operationId {id} twice");
                let declared: Vec<&str> = operation["parameters"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .filter(|p| p["in"] == "path")
                    .filter_map(|p| p["name"].as_str())
                    .collect();
                for name in path.split('{').skip(1).filter_map(|p| p.split('}').next()) {
                    assert!(
                        declared.contains(&name),
                        "{method} {path} does not declare its path parameter {name}"
                    );
                }
                let responses = operation["responses"].as_object().unwrap();
                assert!(!responses.is_empty(), "{method} {path} answers nothing");
                assert!(
                    operation["summary"].as_str().is_some_and(|s| !s.is_empty()),
                    "{method} {path} has no summary"
                );
            }
        }
        // Spot checks: the search's parameters, a public route, the error body.
        let search = &document["paths"]["/api/audit/events"]["get"];
        let names: Vec<&Value> = search["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| &p["name"])
            .collect();
        for name in ["actorId", "from", "to", "q", "cursor", "histogram"] {
            assert!(names.iter().any(|n| *n == name), "search lacks {name}");
        }
        assert_eq!(
            document["paths"]["/healthz"]["get"]["security"],
            serde_json::json!([{}])
        );
        assert!(document["components"]["schemas"]["ErrorBody"].is_object());
    }

    #[test]
    fn every_route_is_registered_from_its_annotation() {
        // The router is built only through `routes!`, so it serves nothing the document lacks.
        let source = include_str!("routes/mod.rs");
        for plain in [
            ".route(",
            ".route_service(",
            ".nest(",
            ".merge(",
            ".fallback(",
        ] {
            assert!(
                !source.contains(plain),
                "routes/mod.rs registers a route with `{plain}`: use `.routes(routes!(handler))` \
                 with a #[utoipa::path] on the handler, so the OpenAPI document has it"
            );
        }
    }
}
