//! Typed payloads of the governance-platform events (everything except queries), one struct per
//! `…AuditPayload` type in the seed. Every field is optional: producers omit what they do not know.

use serde::Deserialize;

use crate::refs::{
    AttributeValues, ClassifierConfig, ColumnTags, DomainRef, NamedRef, PermissionUpdate,
    PolicyDefinition, PurposeRef, TagRef, TargetTags, Webhook,
};
use crate::values::{Id, SchemaVersion};

/// `ApiKeyCreatedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyCreatedPayload {
    pub api_key_id: Option<Id>,
    pub name: Option<String>,
    pub version: Option<SchemaVersion>,
}

/// `ApiKeyDeletedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyDeletedPayload {
    pub api_key_id: Option<Id>,
    pub version: Option<SchemaVersion>,
}

/// `AttributeAppliedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttributeAppliedPayload {
    pub entity_type: Option<String>,
    pub version: Option<SchemaVersion>,
    pub attributes: Option<Vec<AttributeValues>>,
    pub entity_id_provider: Option<String>,
    pub entity_id: Option<Id>,
}

/// `AttributeRemovedAuditPayload`: the same fields as [`AttributeAppliedPayload`].
pub type AttributeRemovedPayload = AttributeAppliedPayload;

/// `ConfigurationUpdatedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigurationUpdatedPayload {
    pub version: Option<SchemaVersion>,
    pub change_set: Option<serde_json::Value>,
    pub configuration_id: Option<Id>,
}

/// `DatasourceAppliedToProjectAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasourceAppliedToProjectPayload {
    pub errors: Option<Vec<serde_json::Value>>,
    pub project_id: Option<Id>,
    pub version: Option<SchemaVersion>,
    pub datasources: Option<Vec<NamedRef>>,
}

/// `DatasourceCatalogSyncedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasourceCatalogSyncedPayload {
    pub datasource_id: Option<Id>,
    pub changes: Option<serde_json::Value>,
}

/// `DatasourceCreatedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasourceCreatedPayload {
    pub version: Option<SchemaVersion>,
    pub description: Option<String>,
    pub documentation: Option<String>,
    pub expiration: Option<String>,
    pub column_detection_enabled: Option<bool>,
    pub disabled: Option<bool>,
    pub technology: Option<String>,
    pub connection_id: Option<Id>,
    pub table: Option<String>,
    pub schema: Option<String>,
    pub sensitive_data_discovery_enabled: Option<bool>,
}

/// `DatasourceDeletedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasourceDeletedPayload {
    pub version: Option<SchemaVersion>,
    pub datasource_id: Option<Id>,
    pub name: Option<String>,
    pub technology: Option<String>,
}

/// `DatasourceDisabledAuditPayload`: the same fields as [`DatasourceDeletedPayload`].
pub type DatasourceDisabledPayload = DatasourceDeletedPayload;

/// `DatasourceGlobalPolicyAppliedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasourceGlobalPolicyAppliedPayload {
    pub conflict: Option<serde_json::Value>,
    pub version: Option<SchemaVersion>,
    pub policy: Option<PolicyDefinition>,
}

/// A payload that carries only its schema version: the event envelope says everything else.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionOnlyPayload {
    pub version: Option<SchemaVersion>,
}

/// `DatasourceGlobalPolicyConflictResolvedAuditPayload`: the same fields as [`VersionOnlyPayload`].
pub type DatasourceGlobalPolicyConflictResolvedPayload = VersionOnlyPayload;

/// `DatasourceGlobalPolicyDisabledAuditPayload`: the same fields as [`VersionOnlyPayload`].
pub type DatasourceGlobalPolicyDisabledPayload = VersionOnlyPayload;

/// `DatasourceGlobalPolicyRemovedAuditPayload`: the same fields as [`DatasourceGlobalPolicyAppliedPayload`].
pub type DatasourceGlobalPolicyRemovedPayload = DatasourceGlobalPolicyAppliedPayload;

/// `DatasourcePolicyCertificationExpiredAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasourcePolicyCertificationExpiredPayload {
    pub expiration_date: Option<String>,
    pub version: Option<SchemaVersion>,
}

/// `DatasourcePolicyCertifiedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasourcePolicyCertifiedPayload {
    pub columns: Option<Vec<ColumnTags>>,
    pub certification_date: Option<String>,
    pub version: Option<SchemaVersion>,
}

/// `DatasourcePolicyDecertifiedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasourcePolicyDecertifiedPayload {
    pub version: Option<SchemaVersion>,
    pub decertification_date: Option<String>,
}

/// `DatasourceRemovedFromProjectAuditPayload`: the same fields as [`DatasourceAppliedToProjectPayload`].
pub type DatasourceRemovedFromProjectPayload = DatasourceAppliedToProjectPayload;

/// `DatasourceUpdatedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasourceUpdatedPayload {
    pub version: Option<SchemaVersion>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub documentation: Option<String>,
    pub expiration: Option<String>,
    pub column_detection_enabled: Option<bool>,
    pub disabled: Option<bool>,
    pub datasource_id: Option<Id>,
}

/// `DomainCreatedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DomainCreatedPayload {
    pub domain: Option<DomainRef>,
    pub version: Option<SchemaVersion>,
}

/// `DomainDataSourcesUpdatedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DomainDataSourcesUpdatedPayload {
    pub update_type: Option<String>,
    pub version: Option<SchemaVersion>,
}

/// `DomainDeletedAuditPayload`: the same fields as [`DomainCreatedPayload`].
pub type DomainDeletedPayload = DomainCreatedPayload;

/// `DomainPermissionsUpdatedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DomainPermissionsUpdatedPayload {
    pub update_type: Option<String>,
    pub version: Option<SchemaVersion>,
    pub permission_updates: Option<Vec<PermissionUpdate>>,
}

/// `DomainUpdatedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DomainUpdatedPayload {
    pub modified_fields: Option<Vec<String>>,
    pub domain: Option<DomainRef>,
    pub version: Option<SchemaVersion>,
}

/// `GlobalPolicyApprovalRescindedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GlobalPolicyApprovalRescindedPayload {
    pub comment: Option<String>,
    pub approval_request_id: Option<Id>,
    pub version: Option<SchemaVersion>,
}

/// `GlobalPolicyApprovedAuditPayload`: the same fields as [`GlobalPolicyApprovalRescindedPayload`].
pub type GlobalPolicyApprovedPayload = GlobalPolicyApprovalRescindedPayload;

/// `GlobalPolicyChangeRequestedAuditPayload`: the same fields as [`GlobalPolicyApprovalRescindedPayload`].
pub type GlobalPolicyChangeRequestedPayload = GlobalPolicyApprovalRescindedPayload;

/// `GlobalPolicyCreatedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GlobalPolicyCreatedPayload {
    pub policy: Option<PolicyDefinition>,
}

/// A payload that carries a policy definition: global policy deleted or updated, local policy created.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyChangePayload {
    pub version: Option<SchemaVersion>,
    pub policy: Option<PolicyDefinition>,
}

/// `GlobalPolicyDeletedAuditPayload`: the same fields as [`PolicyChangePayload`].
pub type GlobalPolicyDeletedPayload = PolicyChangePayload;

/// `GlobalPolicyPromotedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GlobalPolicyPromotedPayload {
    pub policy_name: Option<String>,
    pub version: Option<SchemaVersion>,
    pub policy_id: Option<Id>,
}

/// `GlobalPolicyReviewRequestedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GlobalPolicyReviewRequestedPayload {
    pub approval_request_id: Option<Id>,
    pub version: Option<SchemaVersion>,
}

/// `GlobalPolicyUpdatedAuditPayload`: the same fields as [`PolicyChangePayload`].
pub type GlobalPolicyUpdatedPayload = PolicyChangePayload;

/// `GroupCreatedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupCreatedPayload {
    pub version: Option<SchemaVersion>,
    pub group_id_provider: Option<String>,
    pub name: Option<String>,
    pub group_id: Option<Id>,
}

/// `GroupDeletedAuditPayload`: the same fields as [`GroupCreatedPayload`].
pub type GroupDeletedPayload = GroupCreatedPayload;

/// `GroupMemberAddedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupMemberAddedPayload {
    pub version: Option<SchemaVersion>,
    pub user_id_provider: Option<String>,
    pub group_id: Option<Id>,
    pub user_id: Option<Id>,
}

/// `GroupMemberRemovedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupMemberRemovedPayload {
    pub group_id: Option<Id>,
    pub version: Option<SchemaVersion>,
}

/// `GroupUpdatedAuditPayload`: the same fields as [`GroupCreatedPayload`].
pub type GroupUpdatedPayload = GroupCreatedPayload;

/// `LicenseCreatedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseCreatedPayload {
    pub version: Option<SchemaVersion>,
    pub license_key: Option<String>,
}

/// `LicenseDeletedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseDeletedPayload {
    pub version: Option<SchemaVersion>,
    pub id: Option<Id>,
}

/// `LocalPolicyCreatedAuditPayload`: the same fields as [`PolicyChangePayload`].
pub type LocalPolicyCreatedPayload = PolicyChangePayload;

/// `LocalPolicyUpdatedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalPolicyUpdatedPayload {
    pub version: Option<SchemaVersion>,
    pub policy_handler_update_action: Option<String>,
    pub policy: Option<PolicyDefinition>,
    pub policy_update_type: Option<String>,
}

/// `PermissionAppliedAuditPayload`: the same fields as [`VersionOnlyPayload`].
pub type PermissionAppliedPayload = VersionOnlyPayload;

/// `PermissionRemovedAuditPayload`: the same fields as [`VersionOnlyPayload`].
pub type PermissionRemovedPayload = VersionOnlyPayload;

/// `ProjectCreatedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectCreatedPayload {
    pub equalization: Option<serde_json::Value>,
    pub project_key: Option<String>,
    pub purposes: Option<Vec<PurposeRef>>,
    pub disabled: Option<bool>,
    pub datasources: Option<Vec<NamedRef>>,
    pub allow_masked_joins: Option<bool>,
    pub staged_purposes: Option<Vec<serde_json::Value>>,
    pub project_id: Option<Id>,
    pub version: Option<SchemaVersion>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub tags: Option<Vec<TagRef>>,
    pub documentation: Option<String>,
}

/// `ProjectDeletedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectDeletedPayload {
    pub project_id: Option<Id>,
    pub project_key: Option<String>,
    pub name: Option<String>,
}

/// `ProjectDisabledAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectDisabledPayload {
    pub project_key: Option<String>,
    pub version: Option<SchemaVersion>,
    pub project_id: Option<Id>,
    pub name: Option<String>,
}

/// `ProjectPurposeApprovedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectPurposeApprovedPayload {
    pub purpose_id: Option<Id>,
    pub project_id: Option<Id>,
    pub version: Option<SchemaVersion>,
}

/// `ProjectPurposeDeniedAuditPayload`: the same fields as [`ProjectPurposeApprovedPayload`].
pub type ProjectPurposeDeniedPayload = ProjectPurposeApprovedPayload;

/// `ProjectPurposesAcknowledgedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectPurposesAcknowledgedPayload {
    pub purposes: Option<Vec<PurposeRef>>,
    pub subscription_id: Option<Id>,
    pub version: Option<SchemaVersion>,
    pub project_id: Option<Id>,
}

/// `ProjectUpdatedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectUpdatedPayload {
    pub equalization: Option<serde_json::Value>,
    pub project_id: Option<Id>,
    pub version: Option<SchemaVersion>,
}

/// `PurposeDeletedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PurposeDeletedPayload {
    pub id: Option<Id>,
    pub name: Option<String>,
}

/// `PurposeUpdatedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PurposeUpdatedPayload {
    pub description: Option<String>,
    pub name: Option<String>,
    pub acknowledgement: Option<String>,
    pub subpurposes: Option<Vec<serde_json::Value>>,
}

/// `PurposeUpsertedAuditPayload`: the same fields as [`PurposeUpdatedPayload`].
pub type PurposeUpsertedPayload = PurposeUpdatedPayload;

/// `SDDClassifierCreatedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SDDClassifierCreatedPayload {
    pub display_name: Option<String>,
    pub name: Option<String>,
    pub classifier_id: Option<Id>,
    pub config: Option<ClassifierConfig>,
    pub version: Option<SchemaVersion>,
}

/// `SDDClassifierDeletedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SDDClassifierDeletedPayload {
    pub classifier_id: Option<Id>,
    pub name: Option<String>,
    pub version: Option<SchemaVersion>,
}

/// `SDDClassifierUpdatedAuditPayload`: the same fields as [`SDDClassifierCreatedPayload`].
pub type SDDClassifierUpdatedPayload = SDDClassifierCreatedPayload;

/// `SubscriptionCreatedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionCreatedPayload {
    pub model_type: Option<String>,
    pub subscriber_id: Option<Id>,
    pub subscriber_type: Option<String>,
    pub model_id: Option<Id>,
    pub role: Option<String>,
    pub is_entitlements_policy_override: Option<bool>,
    pub status: Option<String>,
}

/// `SubscriptionDeletedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionDeletedPayload {
    pub subscription_id: Option<Id>,
    pub subscriber_type: Option<String>,
    pub subscriber_id: Option<Id>,
    pub model_type: Option<String>,
    pub model_id: Option<Id>,
    pub denial_reason: Option<String>,
}

/// `SubscriptionRequestApprovedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionRequestApprovedPayload {
    pub version: Option<SchemaVersion>,
    pub subscription_id: Option<Id>,
    pub status: Option<String>,
    pub approver_permissions: Option<Vec<String>>,
}

/// `SubscriptionRequestDeniedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionRequestDeniedPayload {
    pub subscriber_id: Option<Id>,
    pub subscriber_type: Option<String>,
    pub subscription_id: Option<Id>,
    pub model_type: Option<String>,
    pub model_id: Option<Id>,
    pub denial_reason: Option<String>,
    pub version: Option<SchemaVersion>,
    pub approver_permissions: Option<Vec<String>>,
}

/// `SubscriptionRequestedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionRequestedPayload {
    pub status: Option<String>,
    pub version: Option<SchemaVersion>,
    pub model_id: Option<Id>,
    pub model_type: Option<String>,
    pub subscriber_type: Option<String>,
    pub subscriber_id: Option<Id>,
    pub subscription_id: Option<Id>,
}

/// `SubscriptionUpdatedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionUpdatedPayload {
    pub subscription_id: Option<Id>,
    pub role: Option<String>,
    pub version: Option<SchemaVersion>,
}

/// `TagAppliedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagAppliedPayload {
    pub version: Option<SchemaVersion>,
    pub applied_tags: Option<Vec<TargetTags>>,
}

/// `TagCreatedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagCreatedPayload {
    pub version: Option<SchemaVersion>,
    pub tags: Option<Vec<TagRef>>,
}

/// `TagRemovedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagRemovedPayload {
    pub version: Option<SchemaVersion>,
    pub removed_tags: Option<Vec<TargetTags>>,
}

/// `TagUpdatedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagUpdatedPayload {
    pub version: Option<SchemaVersion>,
    pub root_tag: Option<String>,
    pub delete_hierarchy: Option<bool>,
    pub tags: Option<Vec<TagRef>>,
}

/// `UserAuthenticatedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserAuthenticatedPayload {
    pub authentication_method: Option<String>,
}

/// `UserClonedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserClonedPayload {
    pub version: Option<SchemaVersion>,
    pub failed_user_ids: Option<Vec<Id>>,
    pub new_user_ids: Option<Vec<Id>>,
    pub cloned_user_id: Option<Id>,
    pub cloned_user_iam_provider: Option<String>,
}

/// `UserCreatedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserCreatedPayload {
    pub version: Option<SchemaVersion>,
    pub name: Option<String>,
    pub email: Option<String>,
}

/// `UserDeletedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserDeletedPayload {
    pub version: Option<SchemaVersion>,
    pub user_id: Option<Id>,
    pub user_id_provider: Option<String>,
}

/// `UserLogoutAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserLogoutPayload {
    pub logout_reason: Option<String>,
    pub authentication_method: Option<String>,
    pub impersonated_id: Option<Id>,
    pub impersonated_id_provider: Option<String>,
    pub version: Option<SchemaVersion>,
}

/// `UserOneTimeTokenCreatedAuditPayload`: the same fields as [`VersionOnlyPayload`].
pub type UserOneTimeTokenCreatedPayload = VersionOnlyPayload;

/// `UserPasswordUpdatedAuditPayload`: the same fields as [`VersionOnlyPayload`].
pub type UserPasswordUpdatedPayload = VersionOnlyPayload;

/// `UserUpdatedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserUpdatedPayload {
    pub version: Option<SchemaVersion>,
    pub user_id: Option<Id>,
    pub user_id_provider: Option<String>,
    pub external_user_ids: Option<Vec<serde_json::Value>>,
    pub disabled: Option<bool>,
}

/// `WebhookCreatedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookCreatedPayload {
    pub version: Option<SchemaVersion>,
    pub webhooks: Option<Vec<Webhook>>,
}

/// `WebhookDeletedAuditPayload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDeletedPayload {
    pub name: Option<String>,
    pub webhook_id: Option<Id>,
    pub version: Option<SchemaVersion>,
}

/// `TagDeletedAuditPayload` (the seed lists the event without an example; shaped like `TagUpdated`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagDeletedPayload {
    pub version: Option<SchemaVersion>,
    pub root_tag: Option<String>,
    pub delete_hierarchy: Option<bool>,
    pub tags: Option<Vec<TagRef>>,
}
