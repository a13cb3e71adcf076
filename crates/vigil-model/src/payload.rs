//! The event-type table: every UAM event type, its typed `auditPayload` and its legacy record types.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::admin_payloads::*;
use crate::error::{ModelError, parse_with_path};
use crate::query::QueryAuditPayload;
use crate::values::Id;

/// Builds [`EventType`] and [`AuditPayload`] from one table, so that an event type, its payload
/// struct and its legacy record types are always listed together.
macro_rules! event_types {
    ($($variant:ident($payload:ty) => [$($legacy:literal),*];)+) => {
        /// Every UAM event type vigil knows. The payload type name is the event type name followed
        /// by `AuditPayload` (`ApiKeyCreated` → `ApiKeyCreatedAuditPayload`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EventType {
            $($variant,)+
        }

        impl EventType {
            /// Every known event type.
            pub const ALL: &'static [EventType] = &[$(EventType::$variant,)+];

            /// The event type name, such as `DatasourceCreated`.
            pub fn name(self) -> &'static str {
                match self {
                    $(EventType::$variant => stringify!($variant),)+
                }
            }

            /// The `auditPayload.type` value, such as `DatasourceCreatedAuditPayload`.
            pub fn payload_type(self) -> &'static str {
                match self {
                    $(EventType::$variant => concat!(stringify!($variant), "AuditPayload"),)+
                }
            }

            /// The legacy record type(s) the seed names for this event type; empty where it says "None".
            pub fn legacy_record_types(self) -> &'static [&'static str] {
                match self {
                    $(EventType::$variant => &[$($legacy),*],)+
                }
            }

            /// Looks up an event type by its name (`UserCreated`).
            pub fn from_name(name: &str) -> Option<EventType> {
                match name {
                    $(stringify!($variant) => Some(EventType::$variant),)+
                    _ => None,
                }
            }

            /// Looks up an event type by its payload type name (`UserCreatedAuditPayload`).
            pub fn from_payload_type(payload_type: &str) -> Option<EventType> {
                EventType::from_name(payload_type.strip_suffix("AuditPayload")?)
            }

            fn parse_payload(self, raw: &RawValue) -> Result<AuditPayload, ModelError> {
                Ok(match self {
                    $(EventType::$variant => AuditPayload::$variant(Box::new(
                        parse_with_path::<$payload>(raw.get(), PAYLOAD_PATH)?,
                    )),)+
                })
            }
        }

        /// A typed `auditPayload`.
        #[derive(Debug, Clone)]
        pub enum AuditPayload {
            $(
                #[doc = concat!("`", stringify!($variant), "AuditPayload`.")]
                $variant(Box<$payload>),
            )+
            /// A payload whose type vigil does not know; it is kept as sent in the stored event.
            Unknown {
                /// The payload's `type`, when it has one.
                type_name: Option<String>,
            },
        }
    };
}

event_types! {
    ApiKeyCreated(ApiKeyCreatedPayload) => ["apiKey"];
    ApiKeyDeleted(ApiKeyDeletedPayload) => ["apiKey"];
    AttributeApplied(AttributeAppliedPayload) => ["accessUser", "accessGroup"];
    AttributeRemoved(AttributeRemovedPayload) => ["accessUser", "accessGroup"];
    ConfigurationUpdated(ConfigurationUpdatedPayload) => ["configurationUpdate"];
    DatasourceAppliedToProject(DatasourceAppliedToProjectPayload) => ["addToProject"];
    DatasourceCatalogSynced(DatasourceCatalogSyncedPayload) => ["catalogUpdate"];
    DatasourceCreated(DatasourceCreatedPayload) => ["dataSourceCreate"];
    DatasourceDeleted(DatasourceDeletedPayload) => ["dataSourceDelete"];
    DatasourceDisabled(DatasourceDisabledPayload) => [];
    DatasourceGlobalPolicyApplied(DatasourceGlobalPolicyAppliedPayload) => ["globalPolicyApplied"];
    DatasourceGlobalPolicyConflictResolved(DatasourceGlobalPolicyConflictResolvedPayload) => ["globalPolicyConflictResolved"];
    DatasourceGlobalPolicyDisabled(DatasourceGlobalPolicyDisabledPayload) => ["globalPolicyDisabled"];
    DatasourceGlobalPolicyRemoved(DatasourceGlobalPolicyRemovedPayload) => ["globalPolicyRemoved"];
    DatasourcePolicyCertificationExpired(DatasourcePolicyCertificationExpiredPayload) => ["policyCertificationExpired"];
    DatasourcePolicyCertified(DatasourcePolicyCertifiedPayload) => ["globalPolicyCertify"];
    DatasourcePolicyDecertified(DatasourcePolicyDecertifiedPayload) => [];
    DatasourceRemovedFromProject(DatasourceRemovedFromProjectPayload) => ["removeFromProject"];
    DatasourceUpdated(DatasourceUpdatedPayload) => ["dataSourceUpdate", "dataSourceSave"];
    DomainCreated(DomainCreatedPayload) => ["collectionCreated"];
    DomainDataSourcesUpdated(DomainDataSourcesUpdatedPayload) => ["collectionDataSourceAdded", "collectionDataSourceRemoved", "collectionDataSourceUpdated"];
    DomainDeleted(DomainDeletedPayload) => ["collectionDeleted"];
    DomainPermissionsUpdated(DomainPermissionsUpdatedPayload) => ["collectionPermissionGranted", "collectionPermissionRevoked"];
    DomainUpdated(DomainUpdatedPayload) => ["collectionUpdated"];
    GlobalPolicyApprovalRescinded(GlobalPolicyApprovalRescindedPayload) => ["globalPolicyApprovalRescinded"];
    GlobalPolicyApproved(GlobalPolicyApprovedPayload) => ["globalPolicyApproved"];
    GlobalPolicyChangeRequested(GlobalPolicyChangeRequestedPayload) => ["globalPolicyChangeRequested"];
    GlobalPolicyCreated(GlobalPolicyCreatedPayload) => ["globalPolicyCreate"];
    GlobalPolicyDeleted(GlobalPolicyDeletedPayload) => ["globalPolicyDelete"];
    GlobalPolicyPromoted(GlobalPolicyPromotedPayload) => ["globalPolicyPromoted"];
    GlobalPolicyReviewRequested(GlobalPolicyReviewRequestedPayload) => ["globalPolicyReviewRequested"];
    GlobalPolicyUpdated(GlobalPolicyUpdatedPayload) => ["globalPolicyUpdate"];
    GroupCreated(GroupCreatedPayload) => ["accessGroup"];
    GroupDeleted(GroupDeletedPayload) => ["accessGroup"];
    GroupMemberAdded(GroupMemberAddedPayload) => ["accessGroup"];
    GroupMemberRemoved(GroupMemberRemovedPayload) => ["accessGroup"];
    GroupUpdated(GroupUpdatedPayload) => ["accessGroup"];
    LicenseCreated(LicenseCreatedPayload) => ["licenseCreate"];
    LicenseDeleted(LicenseDeletedPayload) => ["licenseDelete"];
    LocalPolicyCreated(LocalPolicyCreatedPayload) => ["policyHandlerCreate"];
    LocalPolicyUpdated(LocalPolicyUpdatedPayload) => ["policyHandlerUpdate"];
    PermissionApplied(PermissionAppliedPayload) => ["accessUser"];
    PermissionRemoved(PermissionRemovedPayload) => ["accessUser"];
    ProjectCreated(ProjectCreatedPayload) => ["projectCreate"];
    ProjectDeleted(ProjectDeletedPayload) => ["projectDelete"];
    ProjectDisabled(ProjectDisabledPayload) => [];
    ProjectPurposeApproved(ProjectPurposeApprovedPayload) => ["projectPurposeApprove"];
    ProjectPurposeDenied(ProjectPurposeDeniedPayload) => ["projectPurposeDeny"];
    ProjectPurposesAcknowledged(ProjectPurposesAcknowledgedPayload) => ["acknowledgePurposes"];
    // The seed names `projectPurposeDeny` here, a copy of the line above; the legacy API's own
    // record type for a project update is `projectUpdate`.
    ProjectUpdated(ProjectUpdatedPayload) => ["projectUpdate"];
    PurposeDeleted(PurposeDeletedPayload) => ["purposeDelete"];
    PurposeUpdated(PurposeUpdatedPayload) => ["purposeUpdate"];
    PurposeUpserted(PurposeUpsertedPayload) => ["purposeCreate"];
    SDDClassifierCreated(SDDClassifierCreatedPayload) => ["sddClassifierCreated"];
    SDDClassifierDeleted(SDDClassifierDeletedPayload) => ["sddClassifierDeleted"];
    SDDClassifierUpdated(SDDClassifierUpdatedPayload) => ["sddClassifierUpdated"];
    SubscriptionCreated(SubscriptionCreatedPayload) => ["dataSourceSubscription", "projectSubscription"];
    SubscriptionDeleted(SubscriptionDeletedPayload) => ["dataSourceSubscription", "projectSubscription"];
    SubscriptionRequestApproved(SubscriptionRequestApprovedPayload) => ["dataSourceSubscription", "projectSubscription"];
    SubscriptionRequestDenied(SubscriptionRequestDeniedPayload) => ["dataSourceSubscription", "projectSubscription"];
    SubscriptionRequested(SubscriptionRequestedPayload) => ["dataSourceSubscription", "projectSubscription"];
    SubscriptionUpdated(SubscriptionUpdatedPayload) => ["dataSourceSubscription", "projectSubscription"];
    TagApplied(TagAppliedPayload) => ["tagAdded"];
    TagCreated(TagCreatedPayload) => ["tagCreated"];
    TagDeleted(TagDeletedPayload) => ["tagDeleted"];
    TagRemoved(TagRemovedPayload) => ["tagRemoved"];
    TagUpdated(TagUpdatedPayload) => ["tagUpdated"];
    UserAuthenticated(UserAuthenticatedPayload) => ["authenticate"];
    UserCloned(UserClonedPayload) => ["accessUser"];
    UserCreated(UserCreatedPayload) => ["accessUser"];
    UserDeleted(UserDeletedPayload) => ["accessUser"];
    UserLogout(UserLogoutPayload) => [];
    UserOneTimeTokenCreated(UserOneTimeTokenCreatedPayload) => ["accessUser"];
    UserPasswordUpdated(UserPasswordUpdatedPayload) => ["accessUser"];
    UserUpdated(UserUpdatedPayload) => ["externalUserIdChanged"];
    WebhookCreated(WebhookCreatedPayload) => ["webhookCreate"];
    WebhookDeleted(WebhookDeletedPayload) => ["webhookDelete"];
    Query(QueryAuditPayload) => ["sqlQuery"];
    // vigil's own: the tables of a query stored without them, once its late lineage arrived.
    QueryLineageResolved(QueryAuditPayload) => [];
    LegacyRecord(LegacyRecordPayload) => [];
    AuditQuery(AuditQueryPayload) => ["auditQuery"];
    GovernanceReportRun(GovernanceReportRunPayload) => [];
    EventsRemoved(EventsRemovedPayload) => [];
}

/// The payload types of the events vigil records about itself. None is in the specification, so
/// no producer has a reason to send one; refusing them on ingest keeps vigil's own records
/// unmistakable (the `vigil` submitter mark beside each event is the proof).
pub const VIGIL_OWN_PAYLOAD_TYPES: [&str; 21] = [
    "ChainCheckpointAuditPayload",
    "AuditQueryAuditPayload",
    "GovernanceReportRunAuditPayload",
    "EventsRemovedAuditPayload",
    "AuditExportCompletedAuditPayload",
    "ExportConfigurationCreatedAuditPayload",
    "ExportConfigurationUpdatedAuditPayload",
    "ExportConfigurationDeletedAuditPayload",
    "QueryAuditIntegrationCreatedAuditPayload",
    "QueryAuditIntegrationUpdatedAuditPayload",
    "QueryAuditIntegrationDeletedAuditPayload",
    "QueryAuditScheduleUpdatedAuditPayload",
    "SavedSearchCreatedAuditPayload",
    "SavedSearchDeletedAuditPayload",
    "ForwarderCreatedAuditPayload",
    "ForwarderUpdatedAuditPayload",
    "ForwarderDeletedAuditPayload",
    "AlertCreatedAuditPayload",
    "AlertUpdatedAuditPayload",
    "AlertDeletedAuditPayload",
    "AlertFiredAuditPayload",
];

/// Refuses a submitted payload whose `type` is one of [`VIGIL_OWN_PAYLOAD_TYPES`].
pub(crate) fn refuse_own_payload_type(raw: &RawValue) -> Result<(), ModelError> {
    let probe: PayloadTypeProbe<'_> = match serde_json::from_str(raw.get()) {
        Ok(probe) => probe,
        Err(_) => return Ok(()),
    };
    match probe.type_name.as_deref() {
        Some(name) if VIGIL_OWN_PAYLOAD_TYPES.contains(&name) => Err(ModelError::invalid(
            "auditPayload.type",
            format!("`{name}` is reserved for the events vigil records about itself"),
        )),
        _ => Ok(()),
    }
}

/// Where payload errors point.
const PAYLOAD_PATH: &str = "auditPayload";

/// Only the `type` of a payload, read before the payload itself.
#[derive(Deserialize)]
struct PayloadTypeProbe<'a> {
    #[serde(rename = "type", borrow, default)]
    type_name: Option<std::borrow::Cow<'a, str>>,
}

/// Where the event type of an event came from.
pub(crate) struct PayloadParse {
    pub event_type: Option<EventType>,
    pub payload: AuditPayload,
}

/// Types a raw `auditPayload`. The payload's own `type` names the event type; when it has none,
/// the event's top-level `type` does (the seed's `PurposeDeleted` example).
pub(crate) fn parse_audit_payload(
    raw: &RawValue,
    envelope_type: Option<&str>,
) -> Result<PayloadParse, ModelError> {
    let probe: PayloadTypeProbe<'_> = match serde_json::from_str(raw.get()) {
        Ok(probe) => probe,
        // Not an object, or a non-string `type`: let the typed parse report where.
        Err(_) => PayloadTypeProbe { type_name: None },
    };
    let event_type = match probe.type_name.as_deref() {
        Some(name) => EventType::from_payload_type(name).or_else(|| EventType::from_name(name)),
        None => envelope_type.and_then(|name| {
            EventType::from_name(name).or_else(|| EventType::from_payload_type(name))
        }),
    };
    match event_type {
        Some(event_type) => Ok(PayloadParse {
            event_type: Some(event_type),
            payload: event_type.parse_payload(raw)?,
        }),
        None => {
            // Still require an object: a payload is never a bare string or number.
            parse_with_path::<serde::de::IgnoredAny>(raw.get(), PAYLOAD_PATH)?;
            if !raw.get().starts_with('{') {
                return Err(ModelError::Invalid {
                    path: PAYLOAD_PATH.into(),
                    message: "must be a JSON object".into(),
                });
            }
            Ok(PayloadParse {
                event_type: None,
                payload: AuditPayload::Unknown {
                    type_name: probe.type_name.map(|name| name.into_owned()),
                },
            })
        }
    }
}

/// `LegacyRecordAuditPayload`: a record received on the legacy `POST /audit/createRecord` API,
/// kept whole under `legacyRecord`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LegacyRecordPayload {
    /// The legacy record exactly as it was posted.
    pub legacy_record: serde_json::Value,
}

/// `AuditQueryAuditPayload`: a search of the audit log, recorded by vigil itself.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditQueryPayload {
    /// The filters of the search.
    pub filters: Option<serde_json::Value>,
    /// How many events matched.
    pub hit_count: Option<u64>,
}

/// `GovernanceReportRunAuditPayload`: a governance report was run, recorded by vigil itself.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GovernanceReportRunPayload {
    /// The entity type (`user`, `datasource`, …).
    pub entity_type: Option<String>,
    /// The report kind.
    pub report: Option<String>,
    /// The entity the report is about; absent for reports about every entity.
    pub entity_id: Option<Id>,
    /// Start of the date range.
    pub from: Option<String>,
    /// End of the date range.
    pub to: Option<String>,
    /// How many rows were returned.
    pub row_count: Option<u64>,
    /// `json` or `csv`.
    pub format: Option<String>,
}

/// `EventsRemovedAuditPayload`: retention removed the oldest events of the log, recorded by vigil.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventsRemovedPayload {
    /// First removed sequence number.
    pub from_seq: Option<u64>,
    /// Last removed sequence number.
    pub to_seq: Option<u64>,
    /// Events older than this were removed.
    pub cutoff: Option<String>,
    /// The retention period in days.
    pub retention_days: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_round_trips_through_its_names() {
        for event_type in EventType::ALL {
            assert_eq!(EventType::from_name(event_type.name()), Some(*event_type));
            assert_eq!(
                EventType::from_payload_type(event_type.payload_type()),
                Some(*event_type)
            );
        }
        assert_eq!(
            EventType::DatasourceCreated.legacy_record_types(),
            &["dataSourceCreate"]
        );
        assert_eq!(
            EventType::UserAuthenticated.legacy_record_types(),
            &["authenticate"]
        );
    }
}
