//! The legacy audit record of `POST /audit/createRecord` (seed 004): its fields and enums, its
//! validation, and its mapping to a UAM event whose payload keeps the record whole.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::enums::{ActionStatus, TargetType, closed_enum};
use crate::error::{ModelError, parse_with_path};
use crate::event::UamEvent;
use crate::payload::{AuditPayload, EventType};
use crate::values::Timestamp;

closed_enum! {
    /// `component`: the platform component that performed the action.
    Component {
        Console = "console",
        FeatureStore = "featureStore",
        DataSource = "dataSource",
        Bim = "bim",
        Audit = "audit",
        Policy = "policy",
        Project = "project",
        Plugin = "plugin",
        Governance = "governance",
        Admin = "admin",
        Tag = "tag",
    }
}

closed_enum! {
    /// `failureReason`.
    FailureReason {
        SystemError = "systemError",
        InsufficientAuthorizations = "insufficientAuthorizations",
        InsufficientPermissions = "insufficientPermissions",
        UserError = "userError",
    }
}

closed_enum! {
    /// `dataAccess.accessType`.
    DataAccessType {
        Blob = "blob",
        Query = "query",
    }
}

closed_enum! {
    /// `record.action`.
    GrantAction {
        Revoked = "revoked",
        Granted = "granted",
    }
}

closed_enum! {
    /// `record.subscriptionState`.
    SubscriptionState {
        Denied = "denied",
        Subscribed = "subscribed",
        Expert = "expert",
        Owner = "owner",
        Ingest = "ingest",
        Unsubscribed = "unsubscribed",
    }
}

closed_enum! {
    /// `record.accessedIdType`.
    AccessedIdType {
        User = "user",
        Group = "group",
    }
}

closed_enum! {
    /// `record.accessType`: how a user was accessed.
    UserAccessType {
        Update = "update",
        Get = "get",
        Search = "search",
        Create = "create",
        Delete = "delete",
        Complete = "complete",
        NewToken = "newToken",
        Clone = "clone",
        Disable = "disable",
    }
}

closed_enum! {
    /// `record.groupAccessType`.
    GroupAccessType {
        Update = "update",
        Get = "get",
        Search = "search",
        Create = "create",
        Delete = "delete",
        AddUser = "addUser",
        RemoveUser = "removeUser",
    }
}

closed_enum! {
    /// `record.keyAction`.
    KeyAction {
        Get = "get",
        Delete = "delete",
    }
}

/// The record types of seed 004, each with the UAM `action` and `targetType` its events get.
/// `accessUser`, `accessGroup` and `apiKey` refine the action from the record (see [`uam_action`]).
const RECORD_TYPES: &[(&str, &str, &str)] = &[
    ("auditQuery", "AUDIT_QUERY", "AUDIT"),
    ("blobVisibility", "BLOB_VISIBILITY", "DATASOURCE"),
    ("blobFetch", "BLOB_FETCH", "DATASOURCE"),
    ("blobIndex", "BLOB_INDEX", "DATASOURCE"),
    ("blobDelete", "BLOB_DELETE", "DATASOURCE"),
    ("blobUpdateFeatures", "BLOB_UPDATE_FEATURES", "DATASOURCE"),
    ("blobUpdateTags", "BLOB_UPDATE_TAGS", "DATASOURCE"),
    ("sqlAccess", "QUERY", "DATASOURCE"),
    ("spark", "QUERY", "DATASOURCE"),
    ("sqlCreateUser", "CREATE", "SQL_USER"),
    ("sqlDeleteUser", "DELETE", "SQL_USER"),
    ("sqlResetPassword", "PASSWORD_UPDATE", "SQL_USER"),
    ("featureList", "LIST", "DATASOURCE"),
    ("sqlQuery", "QUERY", "DATASOURCE"),
    ("dataSourceCreate", "CREATE", "DATASOURCE"),
    ("dataSourceDelete", "DELETE", "DATASOURCE"),
    ("dataSourceExpired", "EXPIRE", "DATASOURCE"),
    ("dataSourceSave", "UPDATE", "DATASOURCE"),
    ("dataSourceGet", "GET", "DATASOURCE"),
    ("dataSourceListMine", "LIST", "DATASOURCE"),
    ("dataSourceSubscription", "UPDATE", "SUBSCRIPTION"),
    ("dataSourceTestQuery", "QUERY", "DATASOURCE"),
    ("dictionaryCreate", "CREATE", "DICTIONARY"),
    ("dictionaryDelete", "DELETE", "DICTIONARY"),
    ("dictionaryUpdate", "UPDATE", "DICTIONARY"),
    ("projectCreate", "CREATE", "PROJECT"),
    ("projectUpdate", "UPDATE", "PROJECT"),
    ("projectDelete", "DELETE", "PROJECT"),
    ("addToProject", "DATASOURCE_APPLY", "PROJECT"),
    ("removeFromProject", "DATASOURCE_REMOVE", "PROJECT"),
    ("projectSubscription", "UPDATE", "SUBSCRIPTION"),
    ("acknowledgePurposes", "PURPOSE_ACKNOWLEDGE", "PROJECT"),
    ("accessUser", "ACCESS", "USER"),
    ("accessGroup", "ACCESS", "GROUP"),
    ("apiKey", "ACCESS", "APIKEY"),
    ("tagAdded", "TAG_APPLY", "DATASOURCE"),
    ("tagCreated", "CREATE", "TAG"),
    ("tagDeleted", "DELETE", "TAG"),
    ("tagUpdated", "UPDATE", "TAG"),
    ("tagRemoved", "TAG_REMOVE", "DATASOURCE"),
    ("userKernelCreate", "CREATE", "KERNEL"),
    ("userKernelUpdate", "UPDATE", "KERNEL"),
    ("userKernelDelete", "DELETE", "KERNEL"),
    ("querySampleData", "QUERY", "DATASOURCE"),
    ("authenticate", "AUTHENTICATE", "USER"),
    (
        "checkPendingRequest",
        "CHECK_PENDING_REQUEST",
        "SUBSCRIPTION",
    ),
    ("policyExemption", "POLICY_EXEMPTION", "DATASOURCE"),
    ("governanceUpdate", "UPDATE", "CONFIGURATION"),
    ("purposeCreate", "UPSERT", "PURPOSE"),
    ("purposeUpdate", "UPDATE", "PURPOSE"),
    ("purposeDelete", "DELETE", "PURPOSE"),
    ("licenseCreate", "CREATE", "LICENSE"),
    ("licenseDelete", "DELETE", "LICENSE"),
    ("copySubscribers", "COPY_SUBSCRIBERS", "DATASOURCE"),
    ("policyHandlerCreate", "CREATE", "LOCAL_POLICY"),
    ("policyHandlerUpdate", "UPDATE", "LOCAL_POLICY"),
    ("globalPolicyCreate", "CREATE", "GLOBAL_POLICY"),
    ("globalPolicyUpdate", "UPDATE", "GLOBAL_POLICY"),
    ("globalPolicyDelete", "DELETE", "GLOBAL_POLICY"),
    (
        "globalPolicyConflictResolved",
        "POLICY_CONFLICT_RESOLVED",
        "DATASOURCE",
    ),
    ("globalPolicyDisabled", "POLICY_DISABLED", "DATASOURCE"),
    ("globalPolicyApplied", "POLICY_APPLIED", "DATASOURCE"),
    ("hdfsUserChanged", "UPDATE", "USER"),
    ("externalQuery", "QUERY", "DATASOURCE"),
];

/// Every record type `POST /audit/createRecord` accepts.
pub fn record_types() -> impl Iterator<Item = &'static str> {
    RECORD_TYPES.iter().map(|(record_type, _, _)| *record_type)
}

fn record_type_entry(
    record_type: &str,
) -> Option<&'static (&'static str, &'static str, &'static str)> {
    RECORD_TYPES
        .iter()
        .find(|(name, _, _)| *name == record_type)
}

/// `dataAccess`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataAccess {
    /// `blob` or `query`.
    pub access_type: Option<DataAccessType>,
    /// Blob accessed.
    pub blob_id: Option<String>,
    /// Query text.
    pub query: Option<String>,
    /// Table queried.
    pub data_source_table_name: Option<String>,
}

/// `record`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordDetails {
    /// Size of the blob fetched.
    pub blob_size: Option<i64>,
    /// User whose access is manipulated.
    pub sql_user: Option<String>,
    /// `granted` or `revoked`.
    pub action: Option<GrantAction>,
    /// New subscription state.
    pub subscription_state: Option<SubscriptionState>,
    /// User acted upon.
    pub accessed_id: Option<i64>,
    /// `user` or `group`.
    pub accessed_id_type: Option<AccessedIdType>,
    /// Hard delete.
    pub hard_delete: Option<bool>,
    /// When the action expires.
    pub expiration_date: Option<String>,
    /// How the user was accessed.
    pub access_type: Option<UserAccessType>,
    /// IAM id of the user accessed.
    pub accessed_iam_id: Option<String>,
    /// User accessed.
    pub accessed_user_id: Option<String>,
    /// How the group was accessed.
    pub group_access_type: Option<GroupAccessType>,
    /// IAM id of the group.
    pub group_iam_id: Option<String>,
    /// Group accessed.
    pub accessed_group_id: Option<i64>,
    /// `get` or `delete`.
    pub key_action: Option<KeyAction>,
    /// API key id.
    pub key_id: Option<i64>,
    /// IAM of the key's owner.
    pub key_iam_id: Option<String>,
    /// The key's owner.
    pub key_user_id: Option<String>,
}

/// One `createRecord` request body.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateRecordRequest {
    /// Profile of the user generating the action.
    pub profile_id: Option<i64>,
    /// Required: the component used.
    pub component: Option<Component>,
    /// Database user performing the action.
    pub sql_user: Option<String>,
    /// Data source accessed.
    pub data_source_id: Option<i64>,
    /// Project used.
    pub project_id: Option<i64>,
    /// Purposes used (the seed writes `[1]`; a single integer is accepted too).
    #[serde(default, deserialize_with = "one_or_many")]
    pub purpose_ids: Vec<i64>,
    /// Global policy.
    pub policy_id: Option<i64>,
    /// Access to a blob or a query.
    pub data_access: Option<DataAccess>,
    /// Required: whether the action succeeded.
    pub success: Option<bool>,
    /// Why it failed (only when `success` is false).
    pub failure_reason: Option<FailureReason>,
    /// Failure details (only when `success` is false).
    pub failure_details: Option<String>,
    /// Required: the record type.
    pub record_type: Option<String>,
    /// Record details.
    pub record: Option<RecordDetails>,
    /// Anything else to keep.
    pub extra: Option<Value>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(i64),
        Many(Vec<i64>),
    }
    Ok(match Option::<OneOrMany>::deserialize(deserializer) {
        Ok(Some(OneOrMany::One(id))) => vec![id],
        Ok(Some(OneOrMany::Many(ids))) => ids,
        Ok(None) => Vec::new(),
        Err(_) => {
            return Err(serde::de::Error::custom(
                "expected an integer or a list of integers",
            ));
        }
    })
}

/// A validated legacy record: the request and the exact JSON it came as.
#[derive(Debug, Clone)]
pub struct LegacyRecord {
    /// The typed request.
    pub request: CreateRecordRequest,
    /// The record as sent.
    pub original: Value,
    /// The record type.
    pub record_type: &'static str,
}

impl LegacyRecord {
    /// Parses and validates one record from its JSON text.
    pub fn from_json(text: &str) -> Result<LegacyRecord, ModelError> {
        let request: CreateRecordRequest = parse_with_path(text, "")?;
        let original: Value =
            serde_json::from_str(text).map_err(|error| ModelError::from_json(&error, ""))?;
        let record_type = validate(&request)?;
        Ok(LegacyRecord {
            request,
            original,
            record_type,
        })
    }

    /// The UAM action and target type this record is stored with.
    pub fn uam_action_and_target(&self) -> (String, &'static str) {
        let (_, action, target) =
            record_type_entry(self.record_type).expect("validated record type");
        (
            uam_action(self.record_type, action, self.request.record.as_ref()),
            target,
        )
    }

    /// The UAM event this record is stored as. `submitted_by` names the API key that posted it.
    pub fn to_uam(&self, event_id: &str, now: Timestamp, submitted_by: &str) -> Value {
        let request = &self.request;
        let (action, target_type) = self.uam_action_and_target();
        let actor = match request.profile_id {
            Some(profile_id) => json!({
                "type": "USER_ACTOR",
                "id": profile_id.to_string(),
                "profileId": profile_id.to_string(),
            }),
            None => json!({ "type": "SYSTEM_ACCOUNT", "id": submitted_by, "name": submitted_by }),
        };
        let mut targets = Vec::new();
        let mut related = Vec::new();
        let record = request.record.as_ref();
        let target_id = match target_type {
            "DATASOURCE" => request.data_source_id.map(|id| id.to_string()),
            "PROJECT" => request.project_id.map(|id| id.to_string()),
            "GLOBAL_POLICY" => request.policy_id.map(|id| id.to_string()),
            "USER" => record.and_then(|r| {
                r.accessed_user_id
                    .clone()
                    .or(r.accessed_id.map(|id| id.to_string()))
            }),
            "GROUP" => record.and_then(|r| r.accessed_group_id.map(|id| id.to_string())),
            "APIKEY" => record.and_then(|r| r.key_id.map(|id| id.to_string())),
            _ => None,
        };
        if let Some(id) = target_id {
            targets.push(json!({ "type": target_type, "id": id }));
        }
        let mut relate = |resource_type: &str, id: Option<i64>| {
            if let Some(id) = id
                && resource_type != target_type
            {
                related.push(json!({ "type": resource_type, "id": id.to_string() }));
            }
        };
        relate("DATASOURCE", request.data_source_id);
        relate("PROJECT", request.project_id);
        relate("GLOBAL_POLICY", request.policy_id);
        for purpose_id in &request.purpose_ids {
            relate("PURPOSE", Some(*purpose_id));
        }
        let success = request.success.unwrap_or(false);
        let status = match (success, request.failure_reason) {
            (true, _) => "SUCCESS",
            (
                false,
                Some(
                    FailureReason::InsufficientAuthorizations
                    | FailureReason::InsufficientPermissions,
                ),
            ) => "UNAUTHORIZED",
            (false, _) => "FAILURE",
        };
        let reason = match (&request.failure_details, request.failure_reason) {
            (Some(details), _) => Value::from(details.clone()),
            (None, Some(reason)) => Value::from(reason.as_str()),
            (None, None) => Value::Null,
        };
        let now = now.to_rfc3339_utc();
        json!({
            "id": event_id,
            "action": action,
            "actor": actor,
            "targetType": target_type,
            "targets": targets,
            "relatedResources": related,
            "actionStatus": status,
            "actionStatusReason": reason,
            "eventTimestamp": now,
            "receivedTimestamp": now,
            "auditPayload": {
                "type": "LegacyRecordAuditPayload",
                "version": 1,
                "legacyRecord": self.original,
            },
        })
    }
}

/// The UAM action of a legacy record: the table's, refined by what the record says was done.
fn uam_action(record_type: &str, table_action: &str, record: Option<&RecordDetails>) -> String {
    let refined = match record_type {
        "accessUser" => record
            .and_then(|r| r.access_type)
            .map(|access| match access {
                UserAccessType::NewToken => "NEW_TOKEN".to_owned(),
                other => other.as_str().to_ascii_uppercase(),
            }),
        "accessGroup" => record
            .and_then(|r| r.group_access_type)
            .map(|access| match access {
                GroupAccessType::AddUser => "MEMBER_ADD".to_owned(),
                GroupAccessType::RemoveUser => "MEMBER_REMOVE".to_owned(),
                other => other.as_str().to_ascii_uppercase(),
            }),
        "apiKey" => record
            .and_then(|r| r.key_action)
            .map(|action| action.as_str().to_ascii_uppercase()),
        _ => None,
    };
    refined.unwrap_or_else(|| table_action.to_owned())
}

fn validate(request: &CreateRecordRequest) -> Result<&'static str, ModelError> {
    if request.component.is_none() {
        return Err(ModelError::invalid(
            "component",
            format!("is required; one of: {}", Component::ALL.join(", ")),
        ));
    }
    let record_type = request
        .record_type
        .as_deref()
        .ok_or_else(|| ModelError::invalid("recordType", "is required"))?;
    let (record_type, _, _) = record_type_entry(record_type).ok_or_else(|| {
        ModelError::invalid(
            "recordType",
            format!(
                "unknown value `{record_type}`, expected one of: {}",
                record_types().collect::<Vec<_>>().join(", ")
            ),
        )
    })?;
    let success = request
        .success
        .ok_or_else(|| ModelError::invalid("success", "is required"))?;
    if success && request.failure_reason.is_some() {
        return Err(ModelError::invalid(
            "failureReason",
            "is only allowed when `success` is false",
        ));
    }
    if success && request.failure_details.is_some() {
        return Err(ModelError::invalid(
            "failureDetails",
            "is only allowed when `success` is false",
        ));
    }
    if let Some(data_access) = &request.data_access {
        let access_type = data_access.access_type.ok_or_else(|| {
            ModelError::invalid("dataAccess.accessType", "is required; one of: blob, query")
        })?;
        if access_type == DataAccessType::Blob && data_access.query.is_some() {
            return Err(ModelError::invalid(
                "dataAccess.query",
                "is only allowed when accessType is `query`",
            ));
        }
        if access_type == DataAccessType::Query && data_access.blob_id.is_some() {
            return Err(ModelError::invalid(
                "dataAccess.blobId",
                "is only allowed when accessType is `blob`",
            ));
        }
    }
    if let Some(expiration) = request
        .record
        .as_ref()
        .and_then(|r| r.expiration_date.as_deref())
    {
        Timestamp::parse(expiration)
            .map_err(|message| ModelError::invalid("record.expirationDate", message))?;
    }
    Ok(record_type)
}

/// The legacy record an event was created from, if it came through `createRecord`.
pub fn legacy_record_of(event: &UamEvent) -> Option<&Value> {
    match &event.audit_payload {
        Some(AuditPayload::LegacyRecord(payload)) => Some(&payload.legacy_record),
        _ => None,
    }
}

/// The legacy outcome of an event: `success`, or why not.
pub fn outcome(event: &UamEvent) -> String {
    if let Some(record) = legacy_record_of(event) {
        if record.get("success").and_then(|s| s.as_bool()) == Some(true) {
            return "success".into();
        }
        return record
            .get("failureReason")
            .and_then(|r| r.as_str())
            .unwrap_or("failure")
            .to_owned();
    }
    match &event.action_status {
        None | Some(ActionStatus::Success) => "success".into(),
        Some(ActionStatus::Unauthorized) => "insufficientAuthorizations".into(),
        Some(_) => "failure".into(),
    }
}

/// The legacy record types of an event, the most specific first.
pub fn legacy_record_types(event: &UamEvent) -> Vec<String> {
    if let Some(record_type) = legacy_record_of(event)
        .and_then(|r| r.get("recordType"))
        .and_then(|t| t.as_str())
    {
        return vec![record_type.to_owned()];
    }
    let Some(event_type) = event.event_type else {
        return Vec::new();
    };
    let types = event_type.legacy_record_types();
    let chosen: Vec<&str> = match (event_type, types) {
        // Choose between the user and the group variant from what the event targets.
        (EventType::AttributeApplied | EventType::AttributeRemoved, _) => {
            if event.target_type == Some(TargetType::Group) {
                vec!["accessGroup"]
            } else {
                vec!["accessUser"]
            }
        }
        (_, ["dataSourceSubscription", "projectSubscription"]) => {
            if subscribes_to_project(event) {
                vec!["projectSubscription"]
            } else {
                vec!["dataSourceSubscription"]
            }
        }
        (_, []) => vec![event_type.name()],
        (_, types) => types.to_vec(),
    };
    chosen.into_iter().map(str::to_owned).collect()
}

fn subscribes_to_project(event: &UamEvent) -> bool {
    let model_is_project = event
        .targets
        .iter()
        .filter_map(|target| target.model.as_deref())
        .any(|model| model.resource_type == Some(TargetType::Project));
    let payload_says_project = match &event.audit_payload {
        Some(AuditPayload::SubscriptionCreated(p)) => p.model_type.as_deref() == Some("PROJECT"),
        Some(AuditPayload::SubscriptionDeleted(p)) => p.model_type.as_deref() == Some("PROJECT"),
        Some(AuditPayload::SubscriptionRequestDenied(p)) => {
            p.model_type.as_deref() == Some("PROJECT")
        }
        Some(AuditPayload::SubscriptionRequested(p)) => p.model_type.as_deref() == Some("PROJECT"),
        _ => false,
    };
    model_is_project || payload_says_project
}

/// An event in the record shape of the legacy `GET /audit` (seed 002).
pub fn legacy_hit(event: &UamEvent) -> Value {
    let record = legacy_record_of(event);
    let resource_name = |kind: TargetType| {
        event
            .targets
            .iter()
            .chain(&event.related_resources)
            .find(|resource| resource.resource_type.as_ref() == Some(&kind))
            .and_then(|resource| resource.name.clone())
    };
    let data_source_name = resource_name(TargetType::Datasource).or_else(|| {
        record
            .and_then(|r| r.pointer("/dataAccess/dataSourceTableName"))
            .and_then(|n| n.as_str())
            .map(str::to_owned)
    });
    let user_id = event.actor.id.as_ref().map(|id| id.as_str().to_owned());
    let profile_id = event
        .actor
        .profile_id
        .as_ref()
        .map(|id| match id.as_str().parse::<i64>() {
            Ok(number) => Value::from(number),
            Err(_) => Value::from(id.as_str()),
        });
    let outcome = outcome(event);
    let success = outcome == "success";
    json!({
        "dateTime": event.event_timestamp.unix_millis().to_string(),
        "dataSourceName": data_source_name,
        "projectName": resource_name(TargetType::Project),
        "recordType": legacy_record_types(event).into_iter().next(),
        "blobId": record.and_then(|r| r.pointer("/dataAccess/blobId")).cloned(),
        "userId": user_id,
        "profileId": profile_id,
        "purposeIds": record.and_then(|r| r.get("purposeIds")).cloned(),
        "success": success,
        "failureReason": (!success).then_some(outcome),
        "warning": null,
        "id": event.id,
        "fingerprintVersionName": null,
        "email": user_id.filter(|id| id.contains('@')),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_query_record_maps_to_a_query_event() {
        let record = LegacyRecord::from_json(
            r#"{"component":"featureStore","recordType":"externalQuery","profileId":1,"dataSourceId":1,"dataAccess":{"accessType":"query","query":"SELECT 1"},"success":true}"#,
        )
        .unwrap();
        let now = Timestamp::parse("2024-01-01T00:00:00Z").unwrap();
        let uam = record.to_uam("e1", now, "key");
        assert_eq!(uam["action"], "QUERY");
        assert_eq!(uam["targets"][0], json!({"type": "DATASOURCE", "id": "1"}));
        assert_eq!(uam["actionStatus"], "SUCCESS");
        assert_eq!(uam["auditPayload"]["legacyRecord"], record.original);
        crate::UamEvent::from_json(&uam.to_string())
            .expect("the mapped event is a valid UAM event");
    }

    #[test]
    fn failures_map_to_unauthorized_or_failure() {
        let record = LegacyRecord::from_json(
            r#"{"component":"plugin","recordType":"sqlQuery","success":false,"failureReason":"insufficientPermissions"}"#,
        )
        .unwrap();
        let uam = record.to_uam("e2", Timestamp::now(), "key");
        assert_eq!(uam["actionStatus"], "UNAUTHORIZED");
        assert_eq!(uam["actor"]["type"], "SYSTEM_ACCOUNT");
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (r#"{"recordType":"sqlQuery","success":true}"#, "component"),
            (
                r#"{"component":"nope","recordType":"sqlQuery","success":true}"#,
                "component",
            ),
            (
                r#"{"component":"plugin","recordType":"bogus","success":true}"#,
                "recordType",
            ),
            (
                r#"{"component":"plugin","recordType":"sqlQuery"}"#,
                "success",
            ),
            (
                r#"{"component":"plugin","recordType":"sqlQuery","success":true,"failureReason":"userError"}"#,
                "failureReason",
            ),
            (
                r#"{"component":"plugin","recordType":"sqlQuery","success":false,"failureReason":"oops"}"#,
                "failureReason",
            ),
            (
                r#"{"component":"plugin","recordType":"sqlQuery","success":true,"dataAccess":{"accessType":"file"}}"#,
                "dataAccess.accessType",
            ),
            (
                r#"{"component":"plugin","recordType":"accessUser","success":true,"record":{"accessType":"poke"}}"#,
                "record.accessType",
            ),
            (
                r#"{"component":"plugin","recordType":"sqlQuery","success":true,"recordType":"spark"}"#,
                "duplicate field",
            ),
        ];
        for (text, expected) in cases {
            let error = LegacyRecord::from_json(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
