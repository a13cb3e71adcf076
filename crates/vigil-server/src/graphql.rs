//! GraphQL at `/api/audit/graphql`: the export configuration API with the specification's names
//! and shapes (`createS3AccessKeyExportConfiguration`, `getAllExportConfigurations`, …).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_graphql::{
    Context, EmptySubscription, ErrorExtensions, ID, InputObject, InputValueError,
    InputValueResult, Name, Object, Scalar, ScalarType, Schema, SimpleObject, Union, Value,
};
use vigil_core::export::{
    ConfigInput, Destination, ExportConfig, ExportError, ExportFormat, ExportService, ExportStatus,
    Interval,
};
use vigil_core::keys::KeyActor;

use crate::error::to_graphql;

/// The schema served at `/api/audit/graphql`.
pub type AuditSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// The deepest selection accepted (the deepest useful query, `exportStatus` of every
/// configuration, is 4 levels deep).
const MAX_QUERY_DEPTH: usize = 12;
/// The most fields one request may select, aliases counted one by one: about ten configurations
/// with every field. It bounds the work and the size of one answer.
const MAX_QUERY_COMPLEXITY: usize = 500;
/// The most calls to destinations one request may cause (connection tests, export runs started).
pub const MAX_OUTBOUND_CALLS_PER_REQUEST: usize = 3;

/// Builds the schema over the export service.
pub fn schema(exports: Arc<ExportService>) -> AuditSchema {
    Schema::build(QueryRoot, MutationRoot, EmptySubscription)
        .data(exports)
        .limit_depth(MAX_QUERY_DEPTH)
        .limit_complexity(MAX_QUERY_COMPLEXITY)
        .finish()
}

/// `interval`: `EVERY_2_HOURS` … `EVERY_24_HOURS`. Accepted as an enum value or, as the
/// specification's ADLS example sends it, as a string.
#[derive(Debug, Clone, Copy)]
pub struct ExportInterval(Interval);

#[Scalar(name = "ExportInterval")]
impl ScalarType for ExportInterval {
    fn parse(value: Value) -> InputValueResult<Self> {
        let name = match &value {
            Value::Enum(name) => name.as_str(),
            Value::String(text) => text.as_str(),
            _ => return Err(InputValueError::expected_type(value)),
        };
        Interval::parse(name)
            .map(ExportInterval)
            .map_err(|error| InputValueError::custom(error.to_string()))
    }

    fn to_value(&self) -> Value {
        Value::Enum(Name::new(self.0.as_str()))
    }
}

/// `format`: what an export configuration writes.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ExportFormat")]
pub enum ExportFormatName {
    /// Gzip NDJSON, one stored event a line (the default).
    NdjsonGzip,
    /// Parquet with zstd, partitioned by event date.
    Parquet,
}

impl From<ExportFormatName> for ExportFormat {
    fn from(name: ExportFormatName) -> Self {
        match name {
            ExportFormatName::NdjsonGzip => ExportFormat::NdjsonGzip,
            ExportFormatName::Parquet => ExportFormat::Parquet,
        }
    }
}

impl From<ExportFormat> for ExportFormatName {
    fn from(format: ExportFormat) -> Self {
        match format {
            ExportFormat::NdjsonGzip => ExportFormatName::NdjsonGzip,
            ExportFormat::Parquet => ExportFormatName::Parquet,
        }
    }
}

/// `endpointConfiguration` of an S3 access-key configuration.
#[derive(SimpleObject)]
#[graphql(name = "S3AccessKeyEndpointConfiguration")]
struct S3AccessKeyEndpoint {
    bucket: String,
    path: Option<String>,
    region: String,
    access_key_id: String,
    endpoint: Option<String>,
}

/// `endpointConfiguration` of an S3 assumed-role configuration.
#[derive(SimpleObject)]
#[graphql(name = "S3AssumedRoleEndpointConfiguration")]
struct S3AssumedRoleEndpoint {
    bucket: String,
    path: Option<String>,
    region: String,
    role_arn: String,
    endpoint: Option<String>,
}

/// `endpointConfiguration` of an ADLS Gen2 SAS-token configuration.
#[derive(SimpleObject)]
#[graphql(name = "AdlsSasTokenEndpointConfiguration")]
struct AdlsSasTokenEndpoint {
    storage_account: String,
    file_system: String,
    path: Option<String>,
    endpoint: Option<String>,
}

/// Where a configuration exports to (never with its secret).
#[derive(Union)]
#[graphql(name = "EndpointConfiguration")]
enum EndpointConfiguration {
    S3AccessKey(S3AccessKeyEndpoint),
    S3AssumedRole(S3AssumedRoleEndpoint),
    AdlsSasToken(AdlsSasTokenEndpoint),
}

/// A 64-bit count or sequence number. GraphQL's `Int` is 32 bits; a log passes 2^31 events, so
/// these are `Long`, sent as a JSON number.
#[derive(Debug, Clone, Copy)]
pub struct Long(u64);

#[Scalar(name = "Long")]
impl ScalarType for Long {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::Number(number) => number
                .as_u64()
                .map(Long)
                .ok_or_else(|| InputValueError::custom("a Long is a whole number from 0")),
            Value::String(text) => text
                .parse()
                .map(Long)
                .map_err(|_| InputValueError::custom("a Long is a whole number from 0")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::Number(self.0.into())
    }
}

/// The progress of a configuration's exporter.
#[derive(SimpleObject)]
struct ExportProgress {
    /// Every event up to this sequence number is exported.
    last_exported_sequence: Long,
    /// Events exported in total.
    exported_events: Long,
    /// When the last run completed.
    last_exported_at: Option<String>,
    /// When the last run started or failed.
    last_attempt_at: Option<String>,
    /// The error of the last run, when it failed.
    last_error: Option<String>,
    /// Failed runs since the last success.
    attempts: Long,
    /// First sequence number of a run in progress or to be retried.
    pending_from_sequence: Option<Long>,
    /// Last sequence number of that run.
    pending_to_sequence: Option<Long>,
    /// The last digest written, relative to the configuration's path.
    last_digest_key: Option<String>,
}

/// An export configuration.
struct ExportConfiguration {
    config: ExportConfig,
    status: Option<ExportStatus>,
}

#[Object]
impl ExportConfiguration {
    async fn id(&self) -> ID {
        ID(self.config.id.clone())
    }
    async fn interval(&self) -> ExportInterval {
        ExportInterval(self.config.interval)
    }
    /// What the exporter writes.
    async fn format(&self) -> ExportFormatName {
        self.config.format.into()
    }
    async fn enabled(&self) -> bool {
        self.config.enabled
    }
    /// `SUCCESS`, or the error of the last connection test.
    async fn connection_status(&self) -> &str {
        &self.config.connection_status
    }
    async fn endpoint_configuration(&self) -> EndpointConfiguration {
        match self.config.destination.clone() {
            Destination::S3AccessKey {
                bucket,
                path,
                region,
                access_key_id,
                endpoint,
            } => EndpointConfiguration::S3AccessKey(S3AccessKeyEndpoint {
                bucket,
                path,
                region,
                access_key_id,
                endpoint,
            }),
            Destination::S3AssumedRole {
                bucket,
                path,
                region,
                role_arn,
                endpoint,
            } => EndpointConfiguration::S3AssumedRole(S3AssumedRoleEndpoint {
                bucket,
                path,
                region,
                role_arn,
                endpoint,
            }),
            Destination::AdlsSasToken {
                storage_account,
                file_system,
                path,
                endpoint,
            } => EndpointConfiguration::AdlsSasToken(AdlsSasTokenEndpoint {
                storage_account,
                file_system,
                path,
                endpoint,
            }),
        }
    }
    async fn created_at(&self) -> &str {
        &self.config.created_at
    }
    async fn updated_at(&self) -> &str {
        &self.config.updated_at
    }
    /// The exporter's progress.
    async fn export_status(&self, context: &Context<'_>) -> async_graphql::Result<ExportProgress> {
        let status = match &self.status {
            Some(status) => status.clone(),
            None => {
                service(context)?
                    .get(&self.config.id)
                    .await
                    .map_err(to_graphql)?
                    .1
            }
        };
        Ok(ExportProgress {
            last_exported_sequence: Long(status.checkpoint_seq),
            exported_events: Long(status.exported_events),
            last_exported_at: status.last_exported_at,
            last_attempt_at: status.last_attempt_at,
            last_error: status.last_error,
            attempts: Long(status.attempts),
            pending_from_sequence: status.pending.map(|(first, _)| Long(first)),
            pending_to_sequence: status.pending.map(|(_, last)| Long(last)),
            last_digest_key: status.last_digest_key,
        })
    }
}

impl From<ExportConfig> for ExportConfiguration {
    fn from(config: ExportConfig) -> Self {
        ExportConfiguration {
            config,
            status: None,
        }
    }
}

/// Input of `createS3AccessKeyExportConfiguration`.
#[derive(InputObject)]
struct S3AccessKeyExportConfigurationInput {
    interval: ExportInterval,
    /// What the exporter writes: `NDJSON_GZIP` (default) or `PARQUET`.
    format: Option<ExportFormatName>,
    bucket: String,
    path: Option<String>,
    region: String,
    access_key_id: String,
    secret_access_key: String,
    /// An S3-compatible endpoint instead of AWS (default: `AWS_ENDPOINT_URL`).
    endpoint: Option<String>,
}

/// Input of `createS3AssumedRoleExportConfiguration`.
#[derive(InputObject)]
struct S3AssumedRoleExportConfigurationInput {
    interval: ExportInterval,
    /// What the exporter writes: `NDJSON_GZIP` (default) or `PARQUET`.
    format: Option<ExportFormatName>,
    bucket: String,
    path: Option<String>,
    region: String,
    role_arn: String,
    endpoint: Option<String>,
}

/// Input of `createAdlsSasTokenEndpointConfiguration`.
#[derive(InputObject)]
struct AdlsSasTokenExportConfigurationInput {
    interval: ExportInterval,
    /// What the exporter writes: `NDJSON_GZIP` (default) or `PARQUET`.
    format: Option<ExportFormatName>,
    storage_account: String,
    file_system: String,
    path: Option<String>,
    sas_token: String,
    /// A Blob endpoint instead of Azure's, such as Azurite's.
    endpoint: Option<String>,
}

/// Input of `updateS3AccessKeyExportConfiguration`: fields left out keep their value.
#[derive(InputObject)]
struct UpdateS3AccessKeyExportConfigurationInput {
    id: ID,
    interval: Option<ExportInterval>,
    /// What the exporter writes from now on (a run already planned finishes in its format).
    format: Option<ExportFormatName>,
    bucket: Option<String>,
    path: Option<String>,
    region: Option<String>,
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    endpoint: Option<String>,
}

/// Input of `updateS3AssumedRoleExportConfiguration`: fields left out keep their value.
#[derive(InputObject)]
struct UpdateS3AssumedRoleExportConfigurationInput {
    id: ID,
    interval: Option<ExportInterval>,
    /// What the exporter writes from now on (a run already planned finishes in its format).
    format: Option<ExportFormatName>,
    bucket: Option<String>,
    path: Option<String>,
    region: Option<String>,
    role_arn: Option<String>,
    endpoint: Option<String>,
}

/// Input of `updateAdlsSasTokenExportConfiguration`: fields left out keep their value.
#[derive(InputObject)]
struct UpdateAdlsSasTokenExportConfigurationInput {
    id: ID,
    interval: Option<ExportInterval>,
    /// What the exporter writes from now on (a run already planned finishes in its format).
    format: Option<ExportFormatName>,
    storage_account: Option<String>,
    file_system: Option<String>,
    path: Option<String>,
    sas_token: Option<String>,
    endpoint: Option<String>,
}

/// Who is calling: set per HTTP request from the API key (shared by the requests of a batch).
#[derive(Clone)]
pub struct GraphqlCaller {
    /// The actor of the events the request records.
    pub actor: KeyActor,
    /// Whether the key may change export configurations (EXPORT_ADMIN or ADMIN), not only read
    /// them (AUDIT).
    pub may_manage_exports: bool,
    /// Calls to destinations this HTTP request (with every request of a batch) has caused so far.
    outbound_calls: Arc<AtomicUsize>,
}

impl GraphqlCaller {
    /// The caller of one request.
    pub fn new(actor: KeyActor, may_manage_exports: bool) -> GraphqlCaller {
        GraphqlCaller {
            actor,
            may_manage_exports,
            outbound_calls: Arc::new(AtomicUsize::new(0)),
        }
    }
}

fn service<'a>(context: &Context<'a>) -> async_graphql::Result<&'a Arc<ExportService>> {
    context.data::<Arc<ExportService>>()
}

fn coded_error(code: &'static str, message: impl Into<String>) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, extensions| extensions.set("code", code))
}

/// The actor of a change to export configurations, once the key is known to be allowed it. A
/// change decides where the whole log is sent, which is more than reading it.
fn manager<'a>(context: &Context<'a>) -> async_graphql::Result<&'a KeyActor> {
    let caller = context.data::<GraphqlCaller>()?;
    if caller.may_manage_exports {
        Ok(&caller.actor)
    } else {
        Err(coded_error(
            "FORBIDDEN",
            "this API key may read export configurations but not change them: that needs the EXPORT_ADMIN or ADMIN permission",
        ))
    }
}

/// Counts one call to a destination against the request's budget, so that one request (with
/// aliases) cannot fan out into many outbound calls.
fn spend_outbound_call(context: &Context<'_>) -> async_graphql::Result<()> {
    let caller = context.data::<GraphqlCaller>()?;
    let spent = caller.outbound_calls.fetch_add(1, Ordering::Relaxed);
    if spent >= MAX_OUTBOUND_CALLS_PER_REQUEST {
        return Err(coded_error(
            "TOO_MANY_OUTBOUND_CALLS",
            format!(
                "one request may test or run at most {MAX_OUTBOUND_CALLS_PER_REQUEST} export configurations; send the rest in another request"
            ),
        ));
    }
    Ok(())
}

/// Queries.
pub struct QueryRoot;

#[Object]
impl QueryRoot {
    /// Every export configuration.
    async fn get_all_export_configurations(
        &self,
        context: &Context<'_>,
    ) -> async_graphql::Result<Vec<ExportConfiguration>> {
        let all = service(context)?.list().await.map_err(to_graphql)?;
        Ok(all
            .into_iter()
            .map(|(config, status)| ExportConfiguration {
                config,
                status: Some(status),
            })
            .collect())
    }

    /// One export configuration.
    async fn get_export_configuration(
        &self,
        context: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<ExportConfiguration> {
        let (config, status) = service(context)?.get(&id).await.map_err(to_graphql)?;
        Ok(ExportConfiguration {
            config,
            status: Some(status),
        })
    }

    /// The Ed25519 public key (hex) that verifies export digests.
    async fn export_public_key(&self, context: &Context<'_>) -> async_graphql::Result<String> {
        Ok(service(context)?.public_key_hex())
    }
}

/// Mutations.
pub struct MutationRoot;

async fn create(
    context: &Context<'_>,
    input: ConfigInput,
) -> async_graphql::Result<ExportConfiguration> {
    let actor = manager(context)?;
    spend_outbound_call(context)?;
    let created = service(context)?
        .create(input, actor)
        .await
        .map_err(to_graphql)?;
    Ok(created.into())
}

/// Applies an update to the stored configuration `id`.
async fn update(
    context: &Context<'_>,
    id: &str,
    change: impl FnOnce(&ExportConfig) -> Result<ConfigInput, ExportError>,
) -> async_graphql::Result<ExportConfiguration> {
    let actor = manager(context)?;
    spend_outbound_call(context)?;
    let exports = service(context)?;
    let (current, _) = exports.get(id).await.map_err(to_graphql)?;
    let input = change(&current).map_err(to_graphql)?;
    let updated = exports.update(id, input, actor).await.map_err(to_graphql)?;
    Ok(updated.into())
}

fn wrong_kind(current: &ExportConfig, wanted: &str) -> ExportError {
    ExportError::Invalid(format!(
        "export configuration {} is of kind {}, not {wanted}",
        current.id,
        current.destination.kind()
    ))
}

#[Object]
impl MutationRoot {
    async fn create_s3_access_key_export_configuration(
        &self,
        context: &Context<'_>,
        data: S3AccessKeyExportConfigurationInput,
    ) -> async_graphql::Result<ExportConfiguration> {
        create(
            context,
            ConfigInput {
                interval: data.interval.0,
                format: data
                    .format
                    .map_or(ExportFormat::NdjsonGzip, ExportFormat::from),
                destination: Destination::S3AccessKey {
                    bucket: data.bucket,
                    path: data.path,
                    region: data.region,
                    access_key_id: data.access_key_id,
                    endpoint: data.endpoint,
                },
                secret: Some(data.secret_access_key),
            },
        )
        .await
    }

    async fn create_s3_assumed_role_export_configuration(
        &self,
        context: &Context<'_>,
        data: S3AssumedRoleExportConfigurationInput,
    ) -> async_graphql::Result<ExportConfiguration> {
        create(
            context,
            ConfigInput {
                interval: data.interval.0,
                format: data
                    .format
                    .map_or(ExportFormat::NdjsonGzip, ExportFormat::from),
                destination: Destination::S3AssumedRole {
                    bucket: data.bucket,
                    path: data.path,
                    region: data.region,
                    role_arn: data.role_arn,
                    endpoint: data.endpoint,
                },
                secret: None,
            },
        )
        .await
    }

    /// The specification's name for creating an ADLS configuration.
    async fn create_adls_sas_token_endpoint_configuration(
        &self,
        context: &Context<'_>,
        data: AdlsSasTokenExportConfigurationInput,
    ) -> async_graphql::Result<ExportConfiguration> {
        create(
            context,
            ConfigInput {
                interval: data.interval.0,
                format: data
                    .format
                    .map_or(ExportFormat::NdjsonGzip, ExportFormat::from),
                destination: Destination::AdlsSasToken {
                    storage_account: data.storage_account,
                    file_system: data.file_system,
                    path: data.path,
                    endpoint: data.endpoint,
                },
                secret: Some(data.sas_token),
            },
        )
        .await
    }

    /// Same as `createAdlsSasTokenEndpointConfiguration`, named like its siblings.
    async fn create_adls_sas_token_export_configuration(
        &self,
        context: &Context<'_>,
        data: AdlsSasTokenExportConfigurationInput,
    ) -> async_graphql::Result<ExportConfiguration> {
        self.create_adls_sas_token_endpoint_configuration(context, data)
            .await
    }

    async fn update_s3_access_key_export_configuration(
        &self,
        context: &Context<'_>,
        data: UpdateS3AccessKeyExportConfigurationInput,
    ) -> async_graphql::Result<ExportConfiguration> {
        let id = data.id.clone();
        update(context, &id, move |current| {
            match current.destination.clone() {
                Destination::S3AccessKey {
                    bucket,
                    path,
                    region,
                    access_key_id,
                    endpoint,
                } => Ok(ConfigInput {
                    interval: data.interval.map_or(current.interval, |i| i.0),
                    format: data.format.map_or(current.format, ExportFormat::from),
                    destination: Destination::S3AccessKey {
                        bucket: data.bucket.unwrap_or(bucket),
                        path: data.path.or(path),
                        region: data.region.unwrap_or(region),
                        access_key_id: data.access_key_id.unwrap_or(access_key_id),
                        endpoint: data.endpoint.or(endpoint),
                    },
                    secret: data.secret_access_key,
                }),
                _ => Err(wrong_kind(current, "s3AccessKey")),
            }
        })
        .await
    }

    async fn update_s3_assumed_role_export_configuration(
        &self,
        context: &Context<'_>,
        data: UpdateS3AssumedRoleExportConfigurationInput,
    ) -> async_graphql::Result<ExportConfiguration> {
        let id = data.id.clone();
        update(context, &id, move |current| {
            match current.destination.clone() {
                Destination::S3AssumedRole {
                    bucket,
                    path,
                    region,
                    role_arn,
                    endpoint,
                } => Ok(ConfigInput {
                    interval: data.interval.map_or(current.interval, |i| i.0),
                    format: data.format.map_or(current.format, ExportFormat::from),
                    destination: Destination::S3AssumedRole {
                        bucket: data.bucket.unwrap_or(bucket),
                        path: data.path.or(path),
                        region: data.region.unwrap_or(region),
                        role_arn: data.role_arn.unwrap_or(role_arn),
                        endpoint: data.endpoint.or(endpoint),
                    },
                    secret: None,
                }),
                _ => Err(wrong_kind(current, "s3AssumedRole")),
            }
        })
        .await
    }

    async fn update_adls_sas_token_export_configuration(
        &self,
        context: &Context<'_>,
        data: UpdateAdlsSasTokenExportConfigurationInput,
    ) -> async_graphql::Result<ExportConfiguration> {
        let id = data.id.clone();
        update(context, &id, move |current| {
            match current.destination.clone() {
                Destination::AdlsSasToken {
                    storage_account,
                    file_system,
                    path,
                    endpoint,
                } => Ok(ConfigInput {
                    interval: data.interval.map_or(current.interval, |i| i.0),
                    format: data.format.map_or(current.format, ExportFormat::from),
                    destination: Destination::AdlsSasToken {
                        storage_account: data.storage_account.unwrap_or(storage_account),
                        file_system: data.file_system.unwrap_or(file_system),
                        path: data.path.or(path),
                        endpoint: data.endpoint.or(endpoint),
                    },
                    secret: data.sas_token,
                }),
                _ => Err(wrong_kind(current, "adlsSasToken")),
            }
        })
        .await
    }

    async fn enable_export_configuration(
        &self,
        context: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<ExportConfiguration> {
        let config = service(context)?
            .set_enabled(&id, true, manager(context)?)
            .await
            .map_err(to_graphql)?;
        Ok(config.into())
    }

    async fn disable_export_configuration(
        &self,
        context: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<ExportConfiguration> {
        let config = service(context)?
            .set_enabled(&id, false, manager(context)?)
            .await
            .map_err(to_graphql)?;
        Ok(config.into())
    }

    async fn delete_export_configuration(
        &self,
        context: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<ExportConfiguration> {
        let config = service(context)?
            .delete(&id, manager(context)?)
            .await
            .map_err(to_graphql)?;
        Ok(ExportConfiguration {
            config,
            status: Some(ExportStatus::default()),
        })
    }

    /// Tests the connection again (writing `.immuta.export.log`) and stores `connectionStatus`.
    async fn test_export_configuration_connection(
        &self,
        context: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<ExportConfiguration> {
        let actor = manager(context)?;
        spend_outbound_call(context)?;
        let config = service(context)?
            .retest(&id, actor)
            .await
            .map_err(to_graphql)?;
        Ok(config.into())
    }

    /// Starts an export run now, in the background; follow it in `exportStatus`.
    async fn export_now(
        &self,
        context: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<ExportConfiguration> {
        manager(context)?;
        spend_outbound_call(context)?;
        let config = service(context)?
            .export_now(&id)
            .await
            .map_err(to_graphql)?;
        Ok(config.into())
    }
}
