//! The pieces the payloads share: references to named things, tags, domains, purposes,
//! policies and webhooks as the events carry them.

use serde::Deserialize;

use crate::values::Id;

/// `{ "id": …, "name": … }`, as in `auditPayload.datasources`.
#[derive(Debug, Clone, Deserialize)]
pub struct NamedRef {
    /// Identifier.
    pub id: Option<Id>,
    /// Name.
    pub name: Option<String>,
}

/// A tag as the payloads carry it.
#[derive(Debug, Clone, Deserialize)]
pub struct TagRef {
    /// Identifier.
    pub id: Option<Id>,
    /// Tag name, such as `Discovered.PII`.
    pub name: Option<String>,
    /// Kind, usually `TAG`.
    #[serde(rename = "type")]
    pub type_name: Option<String>,
    /// Where the tag comes from (`curated`, `collibra`, …).
    pub source: Option<String>,
    /// Context, such as `catalog`.
    pub context: Option<String>,
    /// Whether the tag was deleted.
    pub deleted: Option<bool>,
    /// Whether the tag is transient.
    pub transient: Option<bool>,
}

/// Tags applied to or removed from one target (`appliedTags`, `removedTags`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetTags {
    /// Name of the data source or column.
    pub target_name: Option<String>,
    /// Kind of target.
    pub target_type: Option<String>,
    /// The tags.
    pub tags: Option<Vec<TagRef>>,
}

/// An attribute with its values (`AttributeApplied`, `AttributeRemoved`).
#[derive(Debug, Clone, Deserialize)]
pub struct AttributeValues {
    /// Attribute name.
    pub attribute: Option<String>,
    /// Values applied or removed.
    pub values: Option<Vec<String>>,
}

/// A column with its tags (`DatasourcePolicyCertified`).
#[derive(Debug, Clone, Deserialize)]
pub struct ColumnTags {
    /// Column name.
    pub name: Option<String>,
    /// Column tags.
    pub tags: Option<Vec<TagRef>>,
}

/// A domain as the domain payloads carry it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DomainRef {
    /// Identifier.
    pub id: Option<Id>,
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Domain type.
    pub domain_type: Option<String>,
}

/// One permission change of `DomainPermissionsUpdated`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PermissionUpdate {
    /// Permission name.
    pub permission: Option<String>,
    /// Profile the permission was granted to or revoked from.
    pub profile_id: Option<Id>,
}

/// A purpose as `ProjectPurposesAcknowledged` carries it.
#[derive(Debug, Clone, Deserialize)]
pub struct PurposeRef {
    /// Identifier.
    pub id: Option<Id>,
    /// Name.
    pub name: Option<String>,
    /// The acknowledgement text.
    pub acknowledgement: Option<String>,
}

/// The configuration of a sensitive data discovery identifier.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassifierConfig {
    /// Regex over column names.
    pub column_name_regex: Option<String>,
    /// Regex over column values.
    pub regex: Option<String>,
    /// Dictionary values.
    pub values: Option<Vec<String>>,
    /// Tags the identifier applies.
    pub tags: Option<Vec<TagRef>>,
}

/// A webhook of `WebhookCreated`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    /// Identifier.
    pub id: Option<Id>,
    /// Name.
    pub name: Option<String>,
    /// Action type.
    pub action_type: Option<String>,
    /// Whether the webhook is global.
    pub global: Option<bool>,
    /// Target URL.
    pub url: Option<String>,
    /// Notification types.
    pub notification_type: Option<Vec<String>>,
}

/// A global or local policy definition as the policy payloads carry it.
#[derive(Debug, Clone, Deserialize)]
pub struct PolicyDefinition {
    /// Policy kind (`data`, `subscription`).
    #[serde(rename = "type")]
    pub type_name: Option<String>,
    /// The policy's actions and rules.
    pub actions: Option<Vec<serde_json::Value>>,
    /// When the policy applies.
    pub circumstance: Option<serde_json::Value>,
    /// Certification requirements.
    pub certification: Option<serde_json::Value>,
}
