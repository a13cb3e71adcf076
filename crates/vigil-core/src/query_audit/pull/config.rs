//! The stored configuration of a pull integration: its kind, source settings, overlap and
//! lookback, and the input that creates or changes one.

use super::*;

/// The kind of a pull integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IntegrationKind {
    /// Snowflake.
    Snowflake,
    /// Databricks Unity Catalog.
    DatabricksUnityCatalog,
}

impl IntegrationKind {
    /// Both kinds.
    pub const ALL: [IntegrationKind; 2] = [
        IntegrationKind::Snowflake,
        IntegrationKind::DatabricksUnityCatalog,
    ];

    /// `SNOWFLAKE` or `DATABRICKS_UNITY_CATALOG`.
    pub fn as_str(self) -> &'static str {
        match self {
            IntegrationKind::Snowflake => "SNOWFLAKE",
            IntegrationKind::DatabricksUnityCatalog => "DATABRICKS_UNITY_CATALOG",
        }
    }

    /// Reads a kind name.
    pub fn parse(text: &str) -> Result<IntegrationKind, String> {
        IntegrationKind::ALL
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| {
                format!("type: `{text}` is not a pull integration; use SNOWFLAKE or DATABRICKS_UNITY_CATALOG")
            })
    }
}

/// Where a pull integration reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Source {
    /// Snowflake.
    Snowflake(SnowflakeSettings),
    /// Databricks Unity Catalog.
    DatabricksUnityCatalog(DatabricksSettings),
}

impl Source {
    /// The kind.
    pub fn kind(&self) -> IntegrationKind {
        match self {
            Source::Snowflake(_) => IntegrationKind::Snowflake,
            Source::DatabricksUnityCatalog(_) => IntegrationKind::DatabricksUnityCatalog,
        }
    }
}

/// A pull integration (without its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Integration {
    /// Id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Whether the schedule and manual loads run it.
    pub enabled: bool,
    /// Each run reads from the watermark minus this many minutes: the sources are late.
    pub overlap_minutes: u32,
    /// The first run reads this many hours back.
    pub initial_lookback_hours: u32,
    /// Where it reads.
    pub source: Source,
    /// When it was created.
    pub created_at: String,
    /// When it was last changed.
    pub updated_at: String,
}

pub(super) const DEFAULT_OVERLAP_MINUTES: u32 = 180;
pub(super) const DEFAULT_LOOKBACK_HOURS: u32 = 24;
/// The default schedule: hourly, as the seed says.
pub const DEFAULT_INTERVAL_MINUTES: u32 = 60;

impl Integration {
    /// The public JSON: every setting, never the secret.
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("id".into(), self.id.clone().into());
        let source = serde_json::to_value(&self.source).expect("source serializes");
        if let Value::Object(fields) = source {
            object.extend(fields);
        }
        if let Source::Snowflake(settings) = &self.source {
            object.insert(
                "authentication".into(),
                json!({ "type": settings.authentication }),
            );
        }
        object.insert("name".into(), self.name.clone().into());
        object.insert("enabled".into(), self.enabled.into());
        object.insert("overlapMinutes".into(), self.overlap_minutes.into());
        object.insert(
            "initialLookbackHours".into(),
            self.initial_lookback_hours.into(),
        );
        object.insert("createdAt".into(), self.created_at.clone().into());
        object.insert("updatedAt".into(), self.updated_at.clone().into());
        Value::Object(object)
    }
}

/// A create or update request, read and checked.
pub struct IntegrationInput {
    /// Display name.
    pub name: String,
    /// Enabled.
    pub enabled: bool,
    /// Overlap.
    pub overlap_minutes: u32,
    /// First-run lookback.
    pub initial_lookback_hours: u32,
    /// Where it reads.
    pub source: Source,
    /// The private key or token; `None` on an update keeps the stored one.
    pub secret: Option<String>,
}

pub(super) fn take_u32(
    object: &mut Map<String, Value>,
    field: &str,
    default: u32,
) -> Result<u32, String> {
    match object.remove(field) {
        None | Some(Value::Null) => Ok(default),
        Some(value) => value
            .as_u64()
            .and_then(|number| u32::try_from(number).ok())
            .ok_or_else(|| format!("{field}: must be a whole number of at least 0, not {value}")),
    }
}

impl IntegrationInput {
    /// Reads a request body. `require_secret` is true when creating.
    pub fn parse(body: &Value, require_secret: bool) -> Result<IntegrationInput, PullError> {
        Self::parse_inner(body, require_secret).map_err(PullError::Invalid)
    }

    fn parse_inner(body: &Value, require_secret: bool) -> Result<IntegrationInput, String> {
        let mut object = body
            .as_object()
            .cloned()
            .ok_or("the body must be a JSON object with the integration's fields")?;
        object.remove("id");
        object.remove("createdAt");
        object.remove("updatedAt");
        object.remove("status");
        let kind = match object.remove("type") {
            Some(Value::String(kind)) => IntegrationKind::parse(&kind)?,
            _ => return Err("type: is required (SNOWFLAKE or DATABRICKS_UNITY_CATALOG)".into()),
        };
        let name = match object.remove("name") {
            Some(Value::String(name)) if !name.trim().is_empty() => name.trim().to_owned(),
            None | Some(Value::Null) => kind.as_str().to_lowercase(),
            Some(_) => return Err("name: must be a non-empty string".into()),
        };
        let enabled = match object.remove("enabled") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(flag)) => flag,
            Some(_) => return Err("enabled: must be true or false".into()),
        };
        let overlap_minutes = take_u32(&mut object, "overlapMinutes", DEFAULT_OVERLAP_MINUTES)?;
        let initial_lookback_hours =
            take_u32(&mut object, "initialLookbackHours", DEFAULT_LOOKBACK_HOURS)?;
        let (source, secret) = match kind {
            IntegrationKind::Snowflake => {
                let (auth_type, secret) = match object.remove("authentication") {
                    Some(Value::Object(mut auth)) => {
                        let auth_type = match auth.remove("type") {
                            Some(Value::String(kind)) => kind,
                            _ => {
                                return Err(
                                    "authentication.type: is required (KEY_PAIR or OAUTH)".into()
                                );
                            }
                        };
                        let mut secret = None;
                        for key in ["privateKey", "token"] {
                            match auth.remove(key) {
                                None | Some(Value::Null) => {}
                                Some(Value::String(text)) => {
                                    secret.get_or_insert(text);
                                }
                                // Not ignored: on an update, an ignored secret would silently
                                // keep the stored one.
                                Some(_) => {
                                    return Err(format!("authentication.{key}: must be a string"));
                                }
                            }
                        }
                        (auth_type, secret)
                    }
                    _ => {
                        return Err(
                            "authentication: is required, e.g. {\"type\": \"KEY_PAIR\", \"privateKey\": \"-----BEGIN PRIVATE KEY-----…\"}".into(),
                        );
                    }
                };
                object.insert("authentication".into(), auth_type.into());
                let settings: SnowflakeSettings = from_fields(object)?;
                settings.validate(overlap_minutes)?;
                if let Some(secret) = &secret {
                    snowflake::validate_secret(settings.authentication, secret)?;
                }
                (Source::Snowflake(settings), secret)
            }
            IntegrationKind::DatabricksUnityCatalog => {
                let secret = match object.remove("token") {
                    Some(Value::String(token)) if !token.trim().is_empty() => Some(token),
                    None | Some(Value::Null) => None,
                    Some(_) => return Err("token: must be a non-empty string".into()),
                };
                let settings: DatabricksSettings = from_fields(object)?;
                settings.validate(overlap_minutes)?;
                (Source::DatabricksUnityCatalog(settings), secret)
            }
        };
        if require_secret && secret.is_none() {
            return Err(match kind {
                IntegrationKind::Snowflake => {
                    "authentication.privateKey (KEY_PAIR) or authentication.token (OAUTH): is required"
                }
                IntegrationKind::DatabricksUnityCatalog => "token: is required",
            }
            .into());
        }
        Ok(IntegrationInput {
            name,
            enabled,
            overlap_minutes,
            initial_lookback_hours,
            source,
            secret,
        })
    }
}

/// Deserializes the remaining fields, refusing unknown ones, naming the field that is wrong.
pub(super) fn from_fields<T: Serialize + for<'de> Deserialize<'de>>(
    object: Map<String, Value>,
) -> Result<T, String> {
    let known: T = serde_path_to_error::deserialize(Value::Object(object.clone()))
        .map_err(|error| format!("{}: {}", error.path(), error.inner()))?;
    // Refuse fields the type does not read: a typo must not silently fall back to a default.
    if let Ok(Value::Object(read)) = serde_json::to_value(&known)
        && let Some(unknown) = object.keys().find(|key| !read.contains_key(*key))
    {
        return Err(format!(
            "{unknown}: is not a field of this integration type"
        ));
    }
    Ok(known)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn databricks(extra: Value) -> Value {
        let mut body = json!({
            "type": "DATABRICKS_UNITY_CATALOG",
            "host": "https://dbc-1.cloud.databricks.com",
            "warehouseId": "559483c6eac0359f",
            "token": "dapi-secret",
        });
        if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
            body.extend(extra);
        }
        body
    }

    fn refusal(body: Value, require_secret: bool) -> String {
        match IntegrationInput::parse(&body, require_secret) {
            Ok(_) => panic!("accepted: {body}"),
            Err(error) => error.to_string(),
        }
    }

    /// A minimal configuration takes the defaults; the token is the secret, kept apart from the
    /// settings the public JSON shows.
    #[test]
    fn a_minimal_configuration_takes_the_defaults_and_keeps_the_secret_apart() {
        let input = IntegrationInput::parse(&databricks(json!({})), true).unwrap();
        assert_eq!(input.name, "databricks_unity_catalog");
        assert!(input.enabled);
        assert_eq!(input.overlap_minutes, DEFAULT_OVERLAP_MINUTES);
        assert_eq!(input.initial_lookback_hours, DEFAULT_LOOKBACK_HOURS);
        assert_eq!(input.secret.as_deref(), Some("dapi-secret"));
        let Source::DatabricksUnityCatalog(settings) = &input.source else {
            panic!("not a Databricks source: {:?}", input.source);
        };
        assert_eq!(settings.warehouse_id, "559483c6eac0359f");
        let integration = Integration {
            id: "i1".into(),
            name: input.name,
            enabled: input.enabled,
            overlap_minutes: input.overlap_minutes,
            initial_lookback_hours: input.initial_lookback_hours,
            source: input.source,
            created_at: "2026-11-29T00:00:00Z".into(),
            updated_at: "2026-11-29T00:00:00Z".into(),
        };
        let shown = integration.to_json().to_string();
        assert!(!shown.contains("dapi-secret"), "{shown}");
        assert!(
            shown.contains("\"type\":\"DATABRICKS_UNITY_CATALOG\""),
            "{shown}"
        );
    }

    /// Each refusal names the field that is wrong.
    #[test]
    fn refusals_name_the_field() {
        let cases = [
            (json!({ "type": null }), "type:"),
            (json!({ "type": "ORACLE" }), "ORACLE"),
            (json!({ "name": 7 }), "name:"),
            (json!({ "enabled": "yes" }), "enabled:"),
            (json!({ "overlapMinutes": -5 }), "overlapMinutes:"),
            (
                json!({ "warehouseld": "typo" }),
                "warehouseld: is not a field",
            ),
            (json!({ "workspaceIds": ["12a"] }), "workspaceIds:"),
            (json!({ "rowsPerStatement": 10 }), "rowsPerStatement:"),
            (json!({ "token": "" }), "token:"),
            (json!({ "host": "ftp://example.com" }), "host"),
        ];
        for (extra, named) in cases {
            let message = refusal(databricks(extra.clone()), true);
            assert!(message.contains(named), "{extra}: {message}");
        }
        assert!(refusal(json!([1]), true).contains("JSON object"));
        let snowflake = json!({ "type": "SNOWFLAKE", "account": "acme" });
        assert!(refusal(snowflake, true).contains("authentication:"));
        // A secret that is no string is refused, not taken as "keep the stored one" (found while
        // writing its OpenAPI schema).
        let wrong = json!({
            "type": "SNOWFLAKE",
            "accountUrl": "https://acme.snowflakecomputing.com",
            "user": "VIGIL",
            "warehouse": "AUDIT_WH",
            "authentication": { "type": "KEY_PAIR", "privateKey": 5 },
        });
        assert!(
            refusal(wrong, false).contains("authentication.privateKey: must be a string"),
            "a number is no private key"
        );
    }

    /// Creating needs the secret; an update without one keeps the stored secret.
    #[test]
    fn only_a_create_needs_the_secret() {
        let mut body = databricks(json!({}));
        body.as_object_mut().unwrap().remove("token");
        assert!(refusal(body.clone(), true).contains("token: is required"));
        let update = IntegrationInput::parse(&body, false).unwrap();
        assert_eq!(update.secret, None);
    }
}
