//! The search index schema and how a stored event becomes an index document: exact keyword fields
//! for every filter and facet, full text for keyword search, and both timestamps.

use std::collections::BTreeSet;

use tantivy::TantivyDocument;
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TEXT, TextFieldIndexing,
    TextOptions,
};
use tantivy::tokenizer::{LowerCaser, RawTokenizer, TextAnalyzer};
use vigil_model::legacy::{legacy_record_types, outcome};
use vigil_model::{AuditPayload, Resource, TargetType, TechnologyContext, UamEvent};

/// Bumped whenever the schema or the extraction changes: an index of another version is rebuilt.
pub const SCHEMA_VERSION: u32 = 4;

/// Separates an id from its name in the paired facet values of the legacy API (`"3\u{1f}Sales"`).
pub const PAIR_SEPARATOR: char = '\u{1f}';

/// A keyword field that can be filtered on and counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FacetField {
    /// `action`.
    Action,
    /// `targetType`.
    TargetType,
    /// `actionStatus`.
    ActionStatus,
    /// `actor.id`.
    ActorId,
    /// `actor.name`.
    ActorName,
    /// `actor.type`.
    ActorType,
    /// `actor.profileId`.
    ProfileId,
    /// `actor.identityProvider`.
    IdentityProvider,
    /// `targets[].id`.
    TargetId,
    /// `targets[].name`.
    TargetName,
    /// `targets[].technology` and the query's context.
    Technology,
    /// Data source ids, from targets and `objectsAccessed`.
    DataSourceId,
    /// Data source names, from targets.
    DataSourceName,
    /// Project ids.
    ProjectId,
    /// Project names.
    ProjectName,
    /// Purpose ids and names.
    Purpose,
    /// `auditPayload.type`.
    PayloadType,
    /// The UAM event type (`DatasourceCreated`).
    EventType,
    /// The legacy record type(s).
    RecordType,
    /// The legacy outcome: `success` or the failure reason.
    Outcome,
    /// Table names accessed by a query.
    Table,
    /// Column names accessed by a query.
    Column,
    /// Tag names on targets, objects and columns.
    Tag,
    /// Sensitivity scores.
    Sensitivity,
    /// `tenantId`.
    TenantId,
    /// The platform username of a query (Snowflake, Databricks, Trino user).
    PlatformUser,
    /// Legacy `blobId`.
    BlobId,
    /// Legacy data source facet: `id␟name`.
    LegacyDataSource,
    /// Legacy project facet: `id␟name`.
    LegacyProject,
    /// Legacy user facet: `profileId␟userId`.
    LegacyUser,
    /// The event id.
    EventId,
    /// Who submitted the event: `vigil` (vigil's own), `key:<id>`, `cli:<user>`,
    /// `integration:<id>`, `demo`.
    SubmittedBy,
}

impl FacetField {
    /// Every field.
    pub const ALL: &'static [FacetField] = &[
        FacetField::Action,
        FacetField::TargetType,
        FacetField::ActionStatus,
        FacetField::ActorId,
        FacetField::ActorName,
        FacetField::ActorType,
        FacetField::ProfileId,
        FacetField::IdentityProvider,
        FacetField::TargetId,
        FacetField::TargetName,
        FacetField::Technology,
        FacetField::DataSourceId,
        FacetField::DataSourceName,
        FacetField::ProjectId,
        FacetField::ProjectName,
        FacetField::Purpose,
        FacetField::PayloadType,
        FacetField::EventType,
        FacetField::RecordType,
        FacetField::Outcome,
        FacetField::Table,
        FacetField::Column,
        FacetField::Tag,
        FacetField::Sensitivity,
        FacetField::TenantId,
        FacetField::PlatformUser,
        FacetField::BlobId,
        FacetField::LegacyDataSource,
        FacetField::LegacyProject,
        FacetField::LegacyUser,
        FacetField::EventId,
        FacetField::SubmittedBy,
    ];

    /// The facets the audit page shows.
    pub const AUDIT_PAGE: &'static [FacetField] = &[
        FacetField::Action,
        FacetField::TargetType,
        FacetField::ActionStatus,
        FacetField::ActorName,
        FacetField::Technology,
        FacetField::DataSourceName,
        FacetField::ProjectName,
        FacetField::Purpose,
        FacetField::EventType,
        FacetField::Tag,
        FacetField::Sensitivity,
    ];

    /// Whether events can be filtered on the field (it has an inverted index).
    pub fn filterable(self) -> bool {
        !matches!(
            self,
            FacetField::LegacyDataSource | FacetField::LegacyProject | FacetField::LegacyUser
        )
    }

    /// Whether the field can be counted as a facet (it has a fast column). Ids unique per event
    /// are not: their column would hold every event once.
    pub fn countable(self) -> bool {
        !matches!(self, FacetField::EventId | FacetField::BlobId)
    }

    /// Whether the field holds names, matched in any case (`taylor smith` finds `Taylor Smith`);
    /// ids and codes match exactly. The facet counts keep each name as it was written.
    pub fn case_insensitive(self) -> bool {
        matches!(
            self,
            FacetField::ActorName
                | FacetField::TargetName
                | FacetField::DataSourceName
                | FacetField::ProjectName
                | FacetField::Table
                | FacetField::Column
                | FacetField::PlatformUser
        )
    }

    /// A filter value as the inverted index holds it.
    pub fn indexed_value(self, value: &str) -> String {
        if self.case_insensitive() {
            value.to_lowercase()
        } else {
            value.to_owned()
        }
    }

    /// The query-parameter and index field name.
    pub fn name(self) -> &'static str {
        match self {
            FacetField::Action => "action",
            FacetField::TargetType => "targetType",
            FacetField::ActionStatus => "actionStatus",
            FacetField::ActorId => "actorId",
            FacetField::ActorName => "actorName",
            FacetField::ActorType => "actorType",
            FacetField::ProfileId => "profileId",
            FacetField::IdentityProvider => "identityProvider",
            FacetField::TargetId => "targetId",
            FacetField::TargetName => "targetName",
            FacetField::Technology => "technology",
            FacetField::DataSourceId => "dataSourceId",
            FacetField::DataSourceName => "dataSourceName",
            FacetField::ProjectId => "projectId",
            FacetField::ProjectName => "projectName",
            FacetField::Purpose => "purpose",
            FacetField::PayloadType => "payloadType",
            FacetField::EventType => "eventType",
            FacetField::RecordType => "recordType",
            FacetField::Outcome => "outcome",
            FacetField::Table => "table",
            FacetField::Column => "column",
            FacetField::Tag => "tag",
            FacetField::Sensitivity => "sensitivity",
            FacetField::TenantId => "tenantId",
            FacetField::PlatformUser => "platformUser",
            FacetField::BlobId => "blobId",
            FacetField::LegacyDataSource => "legacyDataSource",
            FacetField::LegacyProject => "legacyProject",
            FacetField::LegacyUser => "legacyUser",
            FacetField::EventId => "eventId",
            FacetField::SubmittedBy => "submittedBy",
        }
    }

    /// Looks a field up by name.
    pub fn from_name(name: &str) -> Option<FacetField> {
        FacetField::ALL
            .iter()
            .copied()
            .find(|field| field.name() == name)
    }
}

/// The schema's fields.
#[derive(Debug, Clone)]
pub struct Fields {
    /// Sequence number in the log (stored: a hit is fetched from the log by it).
    pub seq: Field,
    /// `eventTimestamp`, microseconds.
    pub event_time: Field,
    /// `receivedTimestamp`, microseconds.
    pub received_time: Field,
    /// Keywords over query text, names and ids.
    pub text: Field,
    keyword: Vec<(FacetField, Field)>,
}

impl Fields {
    /// The index field of a facet.
    pub fn keyword(&self, facet: FacetField) -> Field {
        self.keyword
            .iter()
            .find(|(f, _)| *f == facet)
            .map(|(_, field)| *field)
            .expect("every facet has a field")
    }
}

/// The tokenizer of name fields: the whole value as one token, lower-cased.
const LOWERCASE_RAW: &str = "vigil_lowercase_raw";

/// Registers the tokenizers the schema names; every opened index needs them.
pub fn register_tokenizers(index: &tantivy::Index) {
    index.tokenizers().register(
        LOWERCASE_RAW,
        TextAnalyzer::builder(RawTokenizer::default())
            .filter(LowerCaser)
            .build(),
    );
}

/// Builds the schema.
pub fn build_schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let seq = builder.add_u64_field("seq", INDEXED | FAST | STORED);
    let event_time = builder.add_i64_field("eventTime", INDEXED | FAST);
    let received_time = builder.add_i64_field("receivedTime", INDEXED | FAST);
    let text = builder.add_text_field("text", TEXT);
    // Names are indexed lower-cased (found in any case); their fast column, which the facets
    // count, keeps them as written.
    let names = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(LOWERCASE_RAW)
                .set_index_option(IndexRecordOption::Basic),
        )
        .set_fast(None);
    let keyword = FacetField::ALL
        .iter()
        .map(|facet| {
            let options = if facet.case_insensitive() {
                names.clone()
            } else {
                STRING | FAST
            };
            (*facet, builder.add_text_field(facet.name(), options))
        })
        .collect();
    (
        builder.build(),
        Fields {
            seq,
            event_time,
            received_time,
            text,
            keyword,
        },
    )
}

/// The values one event contributes to each field: what the index holds of it, and what the
/// Parquet export's typed columns hold.
#[derive(Debug, Default)]
pub struct Values {
    keyword: Vec<(FacetField, String)>,
    text: Vec<String>,
}

impl Values {
    fn add(&mut self, facet: FacetField, value: impl Into<String>) {
        let value = value.into();
        if !value.is_empty() {
            self.keyword.push((facet, value));
        }
    }

    fn add_opt(&mut self, facet: FacetField, value: Option<impl AsRef<str>>) {
        if let Some(value) = value {
            self.add(facet, value.as_ref());
        }
    }

    /// The distinct values of one field, in the order first met.
    pub fn of(&self, facet: FacetField) -> Vec<&str> {
        let mut seen = BTreeSet::new();
        self.keyword
            .iter()
            .filter(|(field, value)| *field == facet && seen.insert(value.as_str()))
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// The first value of one field.
    pub fn first(&self, facet: FacetField) -> Option<&str> {
        self.keyword
            .iter()
            .find(|(field, _)| *field == facet)
            .map(|(_, value)| value.as_str())
    }
}

fn add_resource(values: &mut Values, resource: &Resource, is_target: bool) {
    let id = resource.id.as_ref().map(|id| id.as_str());
    let name = resource.name.as_deref();
    if is_target {
        values.add_opt(FacetField::TargetId, id);
        values.add_opt(FacetField::TargetName, name);
    }
    if let Some(technology) = &resource.technology {
        values.add(FacetField::Technology, technology.as_str());
    }
    match resource.resource_type {
        Some(TargetType::Datasource) => {
            values.add_opt(FacetField::DataSourceId, id);
            values.add_opt(FacetField::DataSourceName, name);
            if let Some(id) = id {
                values.add(
                    FacetField::LegacyDataSource,
                    format!("{id}{PAIR_SEPARATOR}{}", name.unwrap_or_default()),
                );
            }
        }
        Some(TargetType::Project) => {
            values.add_opt(FacetField::ProjectId, id);
            values.add_opt(FacetField::ProjectName, name);
            if let Some(id) = id {
                values.add(
                    FacetField::LegacyProject,
                    format!("{id}{PAIR_SEPARATOR}{}", name.unwrap_or_default()),
                );
            }
        }
        Some(TargetType::Purpose) => {
            values.add_opt(FacetField::Purpose, id);
            values.add_opt(FacetField::Purpose, name);
        }
        Some(TargetType::Tag) => values.add_opt(FacetField::Tag, name),
        _ => {}
    }
    for nested in [&resource.model, &resource.datasource]
        .into_iter()
        .flatten()
    {
        add_resource(values, nested, false);
    }
    values.text.extend(name.map(str::to_owned));
}

fn add_query(values: &mut Values, payload: &vigil_model::QueryAuditPayload) {
    values.text.extend(payload.query.clone());
    values.add_opt(
        FacetField::Sensitivity,
        payload.security_profile.as_ref().and_then(sensitivity),
    );
    if let Some(context) = &payload.technology_context {
        values.add_opt(FacetField::PlatformUser, context.platform_username());
        let technology = match context {
            TechnologyContext::Snowflake(_) => Some("SNOWFLAKE"),
            TechnologyContext::Databricks(_) => Some("DATABRICKS"),
            TechnologyContext::Trino(_) => Some("STARBURST_TRINO"),
            TechnologyContext::Other { .. } => None,
        };
        values.add_opt(FacetField::Technology, technology);
        if let TechnologyContext::Databricks(context) = context {
            values.text.extend(context.query_text.clone());
            for table in context.metastore_tables.iter().flatten() {
                values.add(FacetField::Table, table.as_str());
            }
        }
    }
    for object in &payload.objects_accessed {
        values.add_opt(
            FacetField::DataSourceId,
            object.datasource_id.as_ref().map(|id| id.as_str()),
        );
        values.add_opt(FacetField::Table, object.name.as_deref());
        values.add_opt(
            FacetField::Sensitivity,
            object.security_profile.as_ref().and_then(sensitivity),
        );
        for tag in &object.tags {
            values.add_opt(FacetField::Tag, tag.name.as_deref());
        }
        for column in &object.columns {
            values.add_opt(FacetField::Column, column.name.as_deref());
            values.add_opt(
                FacetField::Sensitivity,
                column.security_profile.as_ref().and_then(sensitivity),
            );
            for tag in &column.tags {
                values.add_opt(FacetField::Tag, tag.name.as_deref());
            }
        }
    }
}

fn sensitivity(profile: &vigil_model::SecurityProfile) -> Option<String> {
    Some(
        profile
            .sensitivity
            .as_ref()?
            .score
            .as_ref()?
            .as_str()
            .to_owned(),
    )
}

/// The index document of a stored event, submitted by `submitter` (`None` before submitters were
/// recorded).
pub fn document(
    fields: &Fields,
    seq: u64,
    event: &UamEvent,
    submitter: Option<&str>,
) -> TantivyDocument {
    let values = extract(event, submitter);
    let mut document = TantivyDocument::new();
    document.add_u64(fields.seq, seq);
    document.add_i64(fields.event_time, event.event_timestamp.unix_micros());
    let received = event.received_timestamp.unwrap_or(event.event_timestamp);
    document.add_i64(fields.received_time, received.unix_micros());
    // One value per field and event: facet counts count events, not mentions.
    let mut seen = BTreeSet::new();
    for (facet, value) in values.keyword {
        if seen.insert((facet.name(), value.clone())) {
            document.add_text(fields.keyword(facet), &value);
        }
    }
    for text in values.text {
        document.add_text(fields.text, &text);
    }
    document
}

/// The values of every field of a stored event, submitted by `submitter`.
pub fn extract(event: &UamEvent, submitter: Option<&str>) -> Values {
    let mut values = Values::default();
    values.add_opt(FacetField::EventId, event.id.as_deref());
    values.add_opt(FacetField::SubmittedBy, submitter);
    values.add(FacetField::Action, event.action.as_str());
    values.add_opt(
        FacetField::TargetType,
        event.target_type.as_ref().map(|t| t.as_str()),
    );
    values.add_opt(
        FacetField::ActionStatus,
        event.action_status.as_ref().map(|s| s.as_str()),
    );
    let actor = &event.actor;
    let actor_id = actor.id.as_ref().map(|id| id.as_str());
    values.add_opt(FacetField::ActorId, actor_id);
    values.add_opt(FacetField::ActorName, actor.name.as_deref());
    values.add_opt(
        FacetField::ActorType,
        actor.actor_type.as_ref().map(|t| t.as_str()),
    );
    values.add_opt(
        FacetField::ProfileId,
        actor.profile_id.as_ref().map(|id| id.as_str()),
    );
    values.add_opt(
        FacetField::IdentityProvider,
        actor.identity_provider.as_deref(),
    );
    if let Some(profile_id) = &actor.profile_id {
        values.add(
            FacetField::LegacyUser,
            format!(
                "{profile_id}{PAIR_SEPARATOR}{}",
                actor_id.unwrap_or_default()
            ),
        );
    }
    values.text.extend(actor.name.clone());
    values.text.extend(actor_id.map(str::to_owned));
    values.add_opt(FacetField::TenantId, event.tenant_id.as_deref());
    for target in &event.targets {
        add_resource(&mut values, target, true);
    }
    for related in &event.related_resources {
        add_resource(&mut values, related, false);
    }
    match &event.audit_payload {
        Some(AuditPayload::Query(payload) | AuditPayload::QueryLineageResolved(payload)) => {
            add_query(&mut values, payload)
        }
        Some(AuditPayload::LegacyRecord(payload)) => {
            let record = &payload.legacy_record;
            let text_of = |value: Option<&serde_json::Value>| {
                value.map(|v| v.to_string().trim_matches('"').to_owned())
            };
            values.add_opt(
                FacetField::BlobId,
                record
                    .pointer("/dataAccess/blobId")
                    .and_then(|b| b.as_str()),
            );
            values.text.extend(
                record
                    .pointer("/dataAccess/query")
                    .and_then(|q| q.as_str())
                    .map(str::to_owned),
            );
            values.add_opt(
                FacetField::Table,
                record
                    .pointer("/dataAccess/dataSourceTableName")
                    .and_then(|t| t.as_str()),
            );
            for purpose in record
                .get("purposeIds")
                .and_then(|p| p.as_array())
                .into_iter()
                .flatten()
            {
                values.add_opt(FacetField::Purpose, text_of(Some(purpose)));
            }
        }
        _ => {}
    }
    if let Some(payload_type) = payload_type(event) {
        values.add(FacetField::PayloadType, payload_type);
    }
    values.add_opt(FacetField::EventType, event.event_type.map(|t| t.name()));
    for record_type in legacy_record_types(event) {
        values.add(FacetField::RecordType, record_type);
    }
    values.add(FacetField::Outcome, outcome(event));
    values
}

fn payload_type(event: &UamEvent) -> Option<String> {
    match (&event.audit_payload, event.event_type) {
        (Some(AuditPayload::Unknown { type_name }), _) => type_name.clone(),
        (_, Some(event_type)) => Some(event_type.payload_type().to_owned()),
        _ => None,
    }
}
