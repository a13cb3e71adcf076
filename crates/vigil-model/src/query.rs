//! `QueryAuditPayload`: a query run in Snowflake, Databricks (Unity Catalog or Spark) or
//! Starburst/Trino, with its technology context and the objects and columns it accessed.

use serde::{Deserialize, Deserializer};

use crate::enums::{DatabricksService, SensitivityScore};
use crate::refs::TagRef;
use crate::values::{Id, SchemaVersion, nullable_vec};

/// The seed's limit on stored query text: "Immuta truncates the query text to the first 2048 characters".
pub const MAX_QUERY_TEXT_CHARS: usize = 2048;

/// `QueryAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryAuditPayload {
    /// Schema version.
    pub version: Option<SchemaVersion>,
    /// The query id, shared by the one-event-per-table events of one query.
    pub query_id: Option<String>,
    /// Query text, at most [`MAX_QUERY_TEXT_CHARS`] characters.
    pub query: Option<String>,
    /// When the query started.
    pub start_time: Option<String>,
    /// When the query ended.
    pub end_time: Option<String>,
    /// Duration in seconds.
    pub duration: Option<f64>,
    /// Error code of a failed query.
    pub error_code: Option<serde_json::Value>,
    /// Where and how the query ran.
    pub technology_context: Option<TechnologyContext>,
    /// Tables and views accessed.
    #[serde(default, deserialize_with = "nullable_vec")]
    pub objects_accessed: Vec<ObjectAccessed>,
    /// Sensitivity of the whole query.
    pub security_profile: Option<SecurityProfile>,
    /// Databricks Spark: the user's groups, attributes and project at query time.
    pub access_controls: Option<AccessControls>,
    /// Databricks Spark: the policies in force (may also sit inside `accessControls`).
    pub policy_set: Option<Vec<serde_json::Value>>,
    /// Starburst/Trino: the planning overhead of the governance plugin.
    pub immuta_planning_duration: Option<f64>,
}

/// Databricks Spark `accessControls`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessControls {
    /// Groups and attributes.
    pub entitlements: Option<serde_json::Value>,
    /// The user's current project.
    pub project: Option<serde_json::Value>,
    /// The policies in force.
    pub policy_set: Option<Vec<serde_json::Value>>,
}

/// `technologyContext`, selected by its `type`. An unknown context type is kept as sent in the
/// stored event; here only its type name and account are typed.
#[derive(Debug, Clone)]
pub enum TechnologyContext {
    /// `SnowflakeContext`.
    Snowflake(Box<SnowflakeContext>),
    /// `DatabricksContext`, for Unity Catalog and for Spark.
    Databricks(Box<DatabricksContext>),
    /// `TrinoContext`.
    Trino(Box<TrinoContext>),
    /// Another technology.
    Other {
        /// The context's `type`.
        type_name: Option<String>,
        /// `account`, when present.
        account: Option<PlatformAccount>,
        /// `rowsProduced`, when present.
        rows_produced: Option<i64>,
    },
}

/// Every field of every known context, read in one pass and then sorted out by `type`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnyContext {
    #[serde(rename = "type")]
    type_name: Option<String>,
    host: Option<String>,
    client_ip: Option<String>,
    snowflake_username: Option<String>,
    rows_produced: Option<i64>,
    role_name: Option<String>,
    warehouse_id: Option<Id>,
    warehouse_name: Option<String>,
    cluster_number: Option<i64>,
    cluster_id: Option<String>,
    cluster_name: Option<String>,
    workspace_id: Option<Id>,
    service: Option<DatabricksService>,
    query_language: Option<String>,
    notebook_id: Option<Id>,
    account: Option<PlatformAccount>,
    path_uris: Option<Vec<String>>,
    metastore_tables: Option<Vec<String>>,
    query_text: Option<String>,
    immuta_plugin_version: Option<String>,
    trino_username: Option<String>,
}

impl<'de> Deserialize<'de> for TechnologyContext {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let any = AnyContext::deserialize(deserializer)?;
        Ok(match any.type_name.as_deref() {
            Some("SnowflakeContext") => Self::Snowflake(Box::new(SnowflakeContext {
                host: any.host,
                client_ip: any.client_ip,
                snowflake_username: any.snowflake_username,
                rows_produced: any.rows_produced,
                role_name: any.role_name,
                warehouse_id: any.warehouse_id,
                warehouse_name: any.warehouse_name,
                cluster_number: any.cluster_number,
            })),
            Some("DatabricksContext") => Self::Databricks(Box::new(DatabricksContext {
                cluster_id: any.cluster_id,
                cluster_name: any.cluster_name,
                workspace_id: any.workspace_id,
                service: any.service,
                query_language: any.query_language,
                warehouse_id: any.warehouse_id.map(|id| id.0),
                notebook_id: any.notebook_id,
                account: any.account,
                host: any.host,
                rows_produced: any.rows_produced,
                path_uris: any.path_uris,
                metastore_tables: any.metastore_tables,
                query_text: any.query_text,
                immuta_plugin_version: any.immuta_plugin_version,
            })),
            Some("TrinoContext") => Self::Trino(Box::new(TrinoContext {
                trino_username: any.trino_username,
                immuta_plugin_version: any.immuta_plugin_version,
                rows_produced: any.rows_produced,
            })),
            _ => Self::Other {
                type_name: any.type_name,
                account: any.account,
                rows_produced: any.rows_produced,
            },
        })
    }
}

impl TechnologyContext {
    /// The platform username the context names (`snowflakeUsername`, `trinoUsername`,
    /// `account.username`), used for events of users the platform does not know.
    pub fn platform_username(&self) -> Option<&str> {
        match self {
            Self::Snowflake(context) => context.snowflake_username.as_deref(),
            Self::Databricks(context) => context.account.as_ref()?.username.as_deref(),
            Self::Trino(context) => context.trino_username.as_deref(),
            Self::Other { account, .. } => account.as_ref()?.username.as_deref(),
        }
    }

    /// Rows the query produced, when the context says.
    pub fn rows_produced(&self) -> Option<i64> {
        match self {
            Self::Snowflake(context) => context.rows_produced,
            Self::Databricks(context) => context.rows_produced,
            Self::Trino(context) => context.rows_produced,
            Self::Other { rows_produced, .. } => *rows_produced,
        }
    }
}

/// `SnowflakeContext`.
#[derive(Debug, Clone)]
pub struct SnowflakeContext {
    /// Account host.
    pub host: Option<String>,
    /// Client IP address.
    pub client_ip: Option<String>,
    /// The Snowflake user.
    pub snowflake_username: Option<String>,
    /// Rows produced (0 for a cached result).
    pub rows_produced: Option<i64>,
    /// Role the query ran with.
    pub role_name: Option<String>,
    /// Warehouse id.
    pub warehouse_id: Option<Id>,
    /// Warehouse name.
    pub warehouse_name: Option<String>,
    /// Cluster number.
    pub cluster_number: Option<i64>,
}

/// `DatabricksContext`, for Unity Catalog and Spark.
#[derive(Debug, Clone)]
pub struct DatabricksContext {
    /// Cluster id.
    pub cluster_id: Option<String>,
    /// Cluster name (Spark).
    pub cluster_name: Option<String>,
    /// Workspace id.
    pub workspace_id: Option<Id>,
    /// `PLUGIN`, `CLUSTER` or `WAREHOUSE`.
    pub service: Option<DatabricksService>,
    /// `sql`, `python`, `scala`, `r` or `jdbc`.
    pub query_language: Option<String>,
    /// Warehouse id.
    pub warehouse_id: Option<String>,
    /// Notebook id.
    pub notebook_id: Option<Id>,
    /// The Databricks account of the actor.
    pub account: Option<PlatformAccount>,
    /// Workspace host.
    pub host: Option<String>,
    /// Rows produced.
    pub rows_produced: Option<i64>,
    /// Storage URIs (Spark).
    pub path_uris: Option<Vec<String>>,
    /// Metastore tables (Spark).
    pub metastore_tables: Option<Vec<String>>,
    /// The notebook cell or SQL text (Spark).
    pub query_text: Option<String>,
    /// Plugin version (Spark).
    pub immuta_plugin_version: Option<String>,
}

/// A platform account: `technologyContext.account`.
#[derive(Debug, Clone, Deserialize)]
pub struct PlatformAccount {
    /// Account id.
    pub id: Option<Id>,
    /// Platform username, such as the Databricks email.
    pub username: Option<String>,
}

/// `TrinoContext`.
#[derive(Debug, Clone)]
pub struct TrinoContext {
    /// The Trino user.
    pub trino_username: Option<String>,
    /// Plugin version.
    pub immuta_plugin_version: Option<String>,
    /// Rows produced.
    pub rows_produced: Option<i64>,
}

/// One table or view a query accessed.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectAccessed {
    /// Fully qualified name.
    pub name: Option<String>,
    /// Registered data source, if any.
    pub datasource_id: Option<Id>,
    /// Database or catalog.
    pub database_name: Option<String>,
    /// Schema.
    pub schema_name: Option<String>,
    /// `TABLE`, `LOGICAL_TABLE`, `VIEW`, …
    #[serde(rename = "type")]
    pub type_name: Option<String>,
    /// Columns accessed.
    #[serde(default, deserialize_with = "nullable_vec")]
    pub columns: Vec<ColumnAccessed>,
    /// Tags on the object.
    #[serde(default, deserialize_with = "nullable_vec")]
    pub tags: Vec<TagRef>,
    /// Sensitivity of the object.
    pub security_profile: Option<SecurityProfile>,
    /// Whether the query named the object itself (Trino).
    pub directly_referenced: Option<bool>,
}

/// One column a query accessed.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ColumnAccessed {
    /// Column name.
    pub name: Option<String>,
    /// Column tags.
    #[serde(default, deserialize_with = "nullable_vec")]
    pub tags: Vec<TagRef>,
    /// Sensitivity of the column.
    pub security_profile: Option<SecurityProfile>,
    /// True when the column was inferred rather than read from the platform's lineage.
    pub inferred: Option<bool>,
}

/// `securityProfile`.
#[derive(Debug, Clone, Deserialize)]
pub struct SecurityProfile {
    /// `sensitivity`.
    pub sensitivity: Option<Sensitivity>,
}

/// `securityProfile.sensitivity`.
#[derive(Debug, Clone, Deserialize)]
pub struct Sensitivity {
    /// `score`.
    pub score: Option<SensitivityScore>,
}
