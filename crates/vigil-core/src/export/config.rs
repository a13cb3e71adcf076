//! Export configurations: their validated domain types and their storage, each change committed
//! together with the audit event that records it.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use vigil_model::Timestamp;

use super::ExportError;
use super::secrets::MasterKey;
use crate::keys::KeyActor;
use crate::log::{EventLog, LogEntry, SideWrite};
use crate::own_events::OwnEvent;
use crate::store::{Row, StoreError, values};

/// How often a configuration exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    /// Every 2 hours.
    Every2Hours,
    /// Every 4 hours.
    Every4Hours,
    /// Every 6 hours.
    Every6Hours,
    /// Every 12 hours.
    Every12Hours,
    /// Every 24 hours.
    Every24Hours,
}

impl Interval {
    /// Every interval, with its name.
    pub const ALL: [(Interval, &'static str, u64); 5] = [
        (Interval::Every2Hours, "EVERY_2_HOURS", 2),
        (Interval::Every4Hours, "EVERY_4_HOURS", 4),
        (Interval::Every6Hours, "EVERY_6_HOURS", 6),
        (Interval::Every12Hours, "EVERY_12_HOURS", 12),
        (Interval::Every24Hours, "EVERY_24_HOURS", 24),
    ];

    /// The name, such as `EVERY_12_HOURS`.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(interval, _, _)| *interval == self)
            .map(|(_, name, _)| *name)
            .unwrap_or("EVERY_24_HOURS")
    }

    /// Parses a name such as `EVERY_12_HOURS`.
    pub fn parse(text: &str) -> Result<Interval, ExportError> {
        Self::ALL
            .iter()
            .find(|(_, name, _)| *name == text)
            .map(|(interval, _, _)| *interval)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|(_, name, _)| *name).collect();
                ExportError::Invalid(format!(
                    "interval: unknown value `{text}`, expected one of {}",
                    names.join(", ")
                ))
            })
    }

    /// The time between two exports.
    pub fn duration(self) -> Duration {
        let hours = Self::ALL
            .iter()
            .find(|(interval, _, _)| *interval == self)
            .map(|(_, _, hours)| *hours)
            .unwrap_or(24);
        Duration::from_secs(hours * 3600)
    }
}

/// What a configuration writes: gzip NDJSON objects (one stored event per line, as always) or
/// Parquet objects for a data lake (see `export::parquet`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExportFormat {
    /// `NDJSON_GZIP`: `YYYY/MM/DD/vigil-audit-….json.gz`.
    #[default]
    NdjsonGzip,
    /// `PARQUET`: `events/event_date=YYYY-MM-DD/vigil-audit-….parquet`.
    Parquet,
}

impl ExportFormat {
    /// Every format, with its name.
    pub const ALL: [(ExportFormat, &'static str); 2] = [
        (ExportFormat::NdjsonGzip, "NDJSON_GZIP"),
        (ExportFormat::Parquet, "PARQUET"),
    ];

    /// The name, such as `PARQUET`.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(format, _)| *format == self)
            .map_or("NDJSON_GZIP", |(_, name)| *name)
    }

    /// Parses a name such as `PARQUET`.
    pub fn parse(text: &str) -> Result<ExportFormat, ExportError> {
        Self::ALL
            .iter()
            .find(|(_, name)| *name == text)
            .map(|(format, _)| *format)
            .ok_or_else(|| {
                ExportError::Invalid(format!(
                    "format: unknown value `{text}`, expected NDJSON_GZIP or PARQUET"
                ))
            })
    }
}

/// Where a configuration exports to, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Destination {
    /// S3, authenticated with an access key (the secret access key is the sealed secret).
    #[serde(rename_all = "camelCase")]
    S3AccessKey {
        /// Bucket name.
        bucket: String,
        /// Folder in the bucket.
        path: Option<String>,
        /// AWS region.
        region: String,
        /// Access key id.
        access_key_id: String,
        /// Endpoint of an S3-compatible store, instead of AWS.
        endpoint: Option<String>,
    },
    /// S3, written with the temporary credentials of an assumed role.
    #[serde(rename_all = "camelCase")]
    S3AssumedRole {
        /// Bucket name.
        bucket: String,
        /// Folder in the bucket.
        path: Option<String>,
        /// AWS region.
        region: String,
        /// The role to assume; the configuration id is the external id.
        role_arn: String,
        /// Endpoint of an S3-compatible store, instead of AWS.
        endpoint: Option<String>,
    },
    /// ADLS Gen2 (Blob endpoint), authenticated with a SAS token (the sealed secret).
    #[serde(rename_all = "camelCase")]
    AdlsSasToken {
        /// Storage account name.
        storage_account: String,
        /// File system (container).
        file_system: String,
        /// Folder in the file system.
        path: Option<String>,
        /// Blob endpoint, such as `http://127.0.0.1:10000/devstoreaccount1`, instead of Azure's.
        endpoint: Option<String>,
    },
}

impl Destination {
    /// The kind's stored name.
    pub fn kind(&self) -> &'static str {
        match self {
            Destination::S3AccessKey { .. } => "s3AccessKey",
            Destination::S3AssumedRole { .. } => "s3AssumedRole",
            Destination::AdlsSasToken { .. } => "adlsSasToken",
        }
    }

    /// The folder objects are written under, without leading or trailing `/`.
    pub fn prefix(&self) -> &str {
        let path = match self {
            Destination::S3AccessKey { path, .. }
            | Destination::S3AssumedRole { path, .. }
            | Destination::AdlsSasToken { path, .. } => path.as_deref(),
        };
        path.unwrap_or("").trim_matches('/')
    }

    /// Whether `other` sends to the same place with the same credential as this destination:
    /// every field but `path` is equal. Only then may an update keep the stored secret; a
    /// secret is never sent to a host, account, bucket, container or region it was not given for.
    pub fn same_place(&self, other: &Destination) -> bool {
        let without_path = |destination: &Destination| {
            let mut destination = destination.clone();
            match &mut destination {
                Destination::S3AccessKey { path, .. }
                | Destination::S3AssumedRole { path, .. }
                | Destination::AdlsSasToken { path, .. } => *path = None,
            }
            destination
        };
        without_path(self) == without_path(other)
    }

    /// The endpoint given instead of the cloud's own, if any.
    pub fn endpoint(&self) -> Option<&str> {
        match self {
            Destination::S3AccessKey { endpoint, .. }
            | Destination::S3AssumedRole { endpoint, .. }
            | Destination::AdlsSasToken { endpoint, .. } => endpoint.as_deref(),
        }
    }

    /// The fields that must not change while a stored secret is kept, for messages.
    fn place_fields(&self) -> &'static str {
        match self {
            Destination::S3AccessKey { .. } => "bucket, region, endpoint or accessKeyId",
            Destination::S3AssumedRole { .. } => "bucket, region, endpoint or roleArn",
            Destination::AdlsSasToken { .. } => "storageAccount, fileSystem or endpoint",
        }
    }

    /// Checks every field; the message names the field.
    pub fn validate(&self) -> Result<(), ExportError> {
        match self {
            Destination::S3AccessKey {
                bucket,
                path,
                region,
                access_key_id,
                endpoint,
            } => {
                validate_bucket(bucket)?;
                validate_path(path)?;
                require("region", region)?;
                require("accessKeyId", access_key_id)?;
                validate_endpoint(endpoint)
            }
            Destination::S3AssumedRole {
                bucket,
                path,
                region,
                role_arn,
                endpoint,
            } => {
                validate_bucket(bucket)?;
                validate_path(path)?;
                require("region", region)?;
                validate_role_arn(role_arn)?;
                validate_endpoint(endpoint)
            }
            Destination::AdlsSasToken {
                storage_account,
                file_system,
                path,
                endpoint,
            } => {
                require("storageAccount", storage_account)?;
                require("fileSystem", file_system)?;
                validate_path(path)?;
                validate_endpoint(endpoint)
            }
        }
    }
}

fn require(field: &str, value: &str) -> Result<(), ExportError> {
    if value.trim().is_empty() {
        return Err(ExportError::Invalid(format!("{field}: must not be empty")));
    }
    if value.chars().any(char::is_control) {
        return Err(ExportError::Invalid(format!(
            "{field}: must not contain control characters"
        )));
    }
    Ok(())
}

fn validate_bucket(bucket: &str) -> Result<(), ExportError> {
    require("bucket", bucket)?;
    if bucket.contains('/') {
        return Err(ExportError::Invalid(format!(
            "bucket: `{bucket}` is not a bucket name (put folders in `path`)"
        )));
    }
    Ok(())
}

fn validate_path(path: &Option<String>) -> Result<(), ExportError> {
    if let Some(path) = path {
        if path.chars().any(char::is_control) {
            return Err(ExportError::Invalid(
                "path: must not contain control characters".into(),
            ));
        }
        if path.split('/').any(|part| part == "." || part == "..") {
            return Err(ExportError::Invalid(format!(
                "path: `{path}` must not contain `.` or `..` segments"
            )));
        }
    }
    Ok(())
}

fn validate_endpoint(endpoint: &Option<String>) -> Result<(), ExportError> {
    match endpoint {
        Some(endpoint) => crate::outbound::validate_url("endpoint", endpoint)
            .map(|_| ())
            .map_err(ExportError::Invalid),
        None => Ok(()),
    }
}

/// `arn:<partition>:iam::<account>:role/<name>`.
fn validate_role_arn(arn: &str) -> Result<(), ExportError> {
    require("roleArn", arn)?;
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let well_formed = parts.len() == 6
        && parts[0] == "arn"
        && !parts[1].is_empty()
        && parts[2] == "iam"
        && parts[3].is_empty()
        && !parts[4].is_empty()
        && parts[5]
            .strip_prefix("role/")
            .is_some_and(|name| !name.is_empty());
    if well_formed {
        Ok(())
    } else {
        Err(ExportError::Invalid(format!(
            "roleArn: `{arn}` is not a role ARN; expected arn:aws:iam::<account id>:role/<role name>"
        )))
    }
}

/// An export configuration as stored (its secret stays sealed in the database).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportConfig {
    /// Id; also the external id when assuming a role.
    pub id: String,
    /// How often it exports.
    pub interval: Interval,
    /// What it writes.
    pub format: ExportFormat,
    /// Whether the exporter runs.
    pub enabled: bool,
    /// Where it exports to.
    pub destination: Destination,
    /// `SUCCESS` or the error of the last connection test.
    pub connection_status: String,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
}

/// A new configuration or a full replacement of one: destination plus its secret.
#[derive(Debug, Clone)]
pub struct ConfigInput {
    /// How often it exports.
    pub interval: Interval,
    /// What it writes.
    pub format: ExportFormat,
    /// Where it exports to.
    pub destination: Destination,
    /// `secretAccessKey` or `sasToken`; `None` for an assumed role, or to keep the stored one
    /// on update.
    pub secret: Option<String>,
}

const SELECT_CONFIG: &str = "SELECT id, interval, enabled, settings, connection_status, created_at, updated_at, format FROM export_configs";

fn config_from_row(row: &Row) -> Result<ExportConfig, StoreError> {
    let bad =
        |what: String| StoreError::Unreadable(format!("a stored export configuration: {what}"));
    Ok(ExportConfig {
        id: row.string(0)?,
        interval: Interval::parse(row.text(1)?).map_err(|error| bad(error.to_string()))?,
        format: ExportFormat::parse(row.text(7)?).map_err(|error| bad(error.to_string()))?,
        enabled: row.integer(2)? != 0,
        destination: serde_json::from_str(row.text(3)?).map_err(|error| bad(error.to_string()))?,
        connection_status: row.string(4)?,
        created_at: row.string(5)?,
        updated_at: row.string(6)?,
    })
}

/// Every configuration, oldest first.
pub fn list_configs(log: &EventLog) -> Result<Vec<ExportConfig>, ExportError> {
    Ok(log.query(|db| {
        db.query(&format!("{SELECT_CONFIG} ORDER BY created_at, id"), &[])?
            .iter()
            .map(config_from_row)
            .collect()
    })?)
}

/// One configuration, or [`ExportError::NotFound`].
pub fn get_config(log: &EventLog, id: &str) -> Result<ExportConfig, ExportError> {
    read_config(log, id)?.ok_or_else(|| ExportError::NotFound(id.to_owned()))
}

fn read_config(log: &EventLog, id: &str) -> Result<Option<ExportConfig>, ExportError> {
    let id = id.to_owned();
    Ok(log.query(move |db| {
        db.query_optional(&format!("{SELECT_CONFIG} WHERE id = ?1"), values![id])?
            .as_ref()
            .map(config_from_row)
            .transpose()
    })?)
}

/// The unsealed secret of a configuration (`None` for an assumed role).
pub fn config_secret(
    log: &EventLog,
    master: &MasterKey,
    id: &str,
) -> Result<Option<String>, ExportError> {
    let wanted = id.to_owned();
    let sealed: Option<Vec<u8>> = log.query(move |db| {
        db.query_optional(
            "SELECT sealed_secret FROM export_configs WHERE id = ?1",
            values![wanted],
        )?
        .map(|row| row.bytes(0).map(<[u8]>::to_vec))
        .transpose()
    })?;
    let sealed = sealed.ok_or_else(|| ExportError::NotFound(id.to_owned()))?;
    if sealed.is_empty() {
        return Ok(None);
    }
    master.open(id, &sealed).map(Some)
}

/// The audit event recording a change of a configuration: never with its secret.
fn config_event(
    action: &'static str,
    payload_type: &str,
    config: &ExportConfig,
    actor: &KeyActor,
) -> LogEntry {
    OwnEvent {
        action,
        target_type: "EXPORT_CONFIGURATION",
        actor: actor.to_json(),
        targets: json!([{ "type": "EXPORT_CONFIGURATION", "id": config.id, "name": config.destination.kind() }]),
        payload: json!({
            "type": payload_type,
            "exportConfigurationId": config.id,
            "interval": config.interval.as_str(),
            "format": config.format.as_str(),
            "enabled": config.enabled,
            "connectionStatus": config.connection_status,
            "endpointConfiguration": config.destination,
            "version": 1,
        }),
    }
    .into_entry()
}

fn check_secret(input: &ConfigInput, required: bool) -> Result<(), ExportError> {
    let field = match input.destination {
        Destination::S3AccessKey { .. } => "secretAccessKey",
        Destination::AdlsSasToken { .. } => "sasToken",
        Destination::S3AssumedRole { .. } => return Ok(()),
    };
    match &input.secret {
        Some(secret) => require(field, secret),
        None if required => Err(ExportError::Invalid(format!("{field}: is required"))),
        None => Ok(()),
    }
}

/// Checks a new configuration before anything is tested or stored.
pub fn validate_new(input: &ConfigInput) -> Result<(), ExportError> {
    input.destination.validate()?;
    check_secret(input, true)
}

/// Checks a replacement of `current`: same kind, valid fields, and the secret given again when
/// the destination moves (a kept secret never follows a changed destination).
pub fn validate_update(current: &ExportConfig, input: &ConfigInput) -> Result<(), ExportError> {
    if current.destination.kind() != input.destination.kind() {
        return Err(ExportError::Invalid(format!(
            "configuration {} is of kind {}, not {}; delete it and create a new one to change the kind",
            current.id,
            current.destination.kind(),
            input.destination.kind()
        )));
    }
    input.destination.validate()?;
    let moved = !current.destination.same_place(&input.destination);
    check_secret(input, moved).map_err(|error| match error {
        ExportError::Invalid(message) if moved && input.secret.is_none() => {
            ExportError::Invalid(format!(
                "{message} when {} change: the stored secret is never sent to a new destination",
                input.destination.place_fields()
            ))
        }
        other => other,
    })
}

/// Stores a new configuration (already validated and tested) with its `…Created` event.
pub fn insert_config(
    log: &EventLog,
    master: &MasterKey,
    config: &ExportConfig,
    secret: Option<&str>,
    actor: &KeyActor,
) -> Result<(), ExportError> {
    let sealed = match secret {
        Some(secret) => master.seal(&config.id, secret)?,
        None => Vec::new(),
    };
    let settings = serde_json::to_string(&config.destination).expect("destination serializes");
    let row = config.clone();
    let side_write: SideWrite = Box::new(move |db| {
        db.execute(
            "INSERT INTO export_configs (id, kind, interval, enabled, settings, sealed_secret, connection_status, created_at, updated_at, format)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            values![
                &row.id,
                row.destination.kind(),
                row.interval.as_str(),
                row.enabled,
                settings,
                sealed,
                &row.connection_status,
                &row.created_at,
                &row.updated_at,
                row.format.as_str()
            ],
        )?;
        db.execute(
            "INSERT INTO export_state (config_id, checkpoint_seq, attempts, exported_events) VALUES (?1, 0, 0, 0)",
            values![row.id],
        )?;
        Ok(())
    });
    let event = config_event(
        "CREATE",
        "ExportConfigurationCreatedAuditPayload",
        config,
        actor,
    );
    log.append_blocking(vec![event], Some(side_write))?;
    Ok(())
}

/// Stores a changed configuration with its `…Updated` event; a `None` secret keeps the stored one.
pub fn replace_config(
    log: &EventLog,
    master: &MasterKey,
    config: &ExportConfig,
    secret: Option<&str>,
    actor: &KeyActor,
) -> Result<(), ExportError> {
    let sealed = match secret {
        Some(secret) => Some(master.seal(&config.id, secret)?),
        None => None,
    };
    let settings = serde_json::to_string(&config.destination).expect("destination serializes");
    let row = config.clone();
    let side_write: SideWrite = Box::new(move |db| {
        db.execute(
            "UPDATE export_configs SET interval = ?2, enabled = ?3, settings = ?4,
                 sealed_secret = coalesce(?5, sealed_secret), connection_status = ?6, updated_at = ?7,
                 format = ?8
             WHERE id = ?1",
            values![
                row.id,
                row.interval.as_str(),
                row.enabled,
                settings,
                sealed,
                row.connection_status,
                row.updated_at,
                row.format.as_str()
            ],
        )?;
        Ok(())
    });
    let event = config_event(
        "UPDATE",
        "ExportConfigurationUpdatedAuditPayload",
        config,
        actor,
    );
    log.append_blocking(vec![event], Some(side_write))?;
    Ok(())
}

/// Deletes a configuration and its progress, with its `…Deleted` event.
pub fn delete_config(
    log: &EventLog,
    id: &str,
    actor: &KeyActor,
) -> Result<ExportConfig, ExportError> {
    let config = get_config(log, id)?;
    let config_id = config.id.clone();
    let side_write: SideWrite = Box::new(move |db| {
        db.execute(
            "DELETE FROM export_configs WHERE id = ?1",
            values![&config_id],
        )?;
        db.execute(
            "DELETE FROM export_state WHERE config_id = ?1",
            values![config_id],
        )?;
        Ok(())
    });
    let event = config_event(
        "DELETE",
        "ExportConfigurationDeletedAuditPayload",
        &config,
        actor,
    );
    log.append_blocking(vec![event], Some(side_write))?;
    Ok(config)
}

/// Now, as stored in configurations.
pub(crate) fn now_text() -> String {
    Timestamp::now().to_rfc3339_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_parse_by_name_and_reject_others() {
        assert_eq!(
            Interval::parse("EVERY_2_HOURS").unwrap(),
            Interval::Every2Hours
        );
        assert_eq!(
            Interval::Every12Hours.duration(),
            Duration::from_secs(12 * 3600)
        );
        let error = Interval::parse("EVERY_3_HOURS").unwrap_err().to_string();
        assert!(
            error.contains("EVERY_3_HOURS") && error.contains("EVERY_24_HOURS"),
            "{error}"
        );
    }

    #[test]
    fn role_arns_are_checked_for_shape() {
        assert!(validate_role_arn("arn:aws:iam::123456789012:role/export").is_ok());
        // The seed's placeholder has the right shape; AWS itself will refuse it.
        assert!(
            validate_role_arn("arn:aws:iam::<Your AWS Account ID>:role/<the prepared role>")
                .is_ok()
        );
        for bad in [
            "",
            "role/export",
            "arn:aws:s3:::bucket",
            "arn:aws:iam::123:user/x",
            "arn:aws:iam::123:role/",
        ] {
            assert!(validate_role_arn(bad).is_err(), "{bad}");
        }
    }

    fn config(destination: Destination) -> ExportConfig {
        ExportConfig {
            id: "c1".into(),
            interval: Interval::Every24Hours,
            format: ExportFormat::NdjsonGzip,
            enabled: true,
            destination,
            connection_status: "SUCCESS".into(),
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn a_kept_secret_never_follows_a_changed_destination() {
        let adls = Destination::AdlsSasToken {
            storage_account: "acme".into(),
            file_system: "audit".into(),
            path: Some("vigil".into()),
            endpoint: None,
        };
        let current = config(adls.clone());
        let update = |destination: Destination, secret: Option<&str>| ConfigInput {
            interval: Interval::Every2Hours,
            format: ExportFormat::Parquet,
            destination,
            secret: secret.map(str::to_owned),
        };
        // The interval and the folder may change with the stored secret kept.
        let mut moved_folder = adls.clone();
        if let Destination::AdlsSasToken { path, .. } = &mut moved_folder {
            *path = Some("elsewhere".into());
        }
        assert!(validate_update(&current, &update(moved_folder, None)).is_ok());
        // Another host, account or container needs the secret again.
        for change in 0..3 {
            let mut moved = adls.clone();
            if let Destination::AdlsSasToken {
                storage_account,
                file_system,
                endpoint,
                ..
            } = &mut moved
            {
                match change {
                    0 => *endpoint = Some("https://attacker.example/acme".into()),
                    1 => *storage_account = "other".into(),
                    _ => *file_system = "other".into(),
                }
            }
            let error = validate_update(&current, &update(moved.clone(), None))
                .unwrap_err()
                .to_string();
            assert!(
                error.starts_with(
                    "sasToken: is required when storageAccount, fileSystem or endpoint change"
                ),
                "{error}"
            );
            assert!(validate_update(&current, &update(moved, Some("sv=new"))).is_ok());
        }
        let s3 = Destination::S3AccessKey {
            bucket: "audit".into(),
            path: None,
            region: "us-east-1".into(),
            access_key_id: "AKIA1".into(),
            endpoint: None,
        };
        let current = config(s3.clone());
        for change in 0..4 {
            let mut moved = s3.clone();
            if let Destination::S3AccessKey {
                bucket,
                region,
                access_key_id,
                endpoint,
                ..
            } = &mut moved
            {
                match change {
                    0 => *bucket = "exfiltrate".into(),
                    1 => *region = "eu-west-1".into(),
                    2 => *access_key_id = "AKIA2".into(),
                    _ => *endpoint = Some("http://127.0.0.1:9".into()),
                }
            }
            let error = validate_update(&current, &update(moved, None))
                .unwrap_err()
                .to_string();
            assert!(
                error.starts_with("secretAccessKey: is required when"),
                "{error}"
            );
        }
    }

    #[test]
    fn destinations_name_the_bad_field() {
        let destination = Destination::S3AccessKey {
            bucket: " ".into(),
            path: None,
            region: "us-east-1".into(),
            access_key_id: "AKIA".into(),
            endpoint: None,
        };
        assert!(
            destination
                .validate()
                .unwrap_err()
                .to_string()
                .starts_with("bucket:")
        );
        let destination = Destination::AdlsSasToken {
            storage_account: "account".into(),
            file_system: "audit".into(),
            path: Some("a/../b".into()),
            endpoint: None,
        };
        assert!(
            destination
                .validate()
                .unwrap_err()
                .to_string()
                .starts_with("path:")
        );
    }
}
