//! The governance projection and its 45 reports over a realistic history (the seed's example
//! events, then users, groups, data sources, tags, projects, purposes, subscriptions, policies
//! and queries), each report checked against rows worked out by hand from that history; and a
//! rebuild from the log giving the same results.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use vigil_core::EventLog;
use vigil_core::governance::reports::{self, find};
use vigil_core::governance::{
    CATALOG, EntityType, Governance, ReportError, ReportRequest, ReportTable, Scope, rebuild,
};
use vigil_core::ingest::{BodyFormat, ingest, prepare, split_body};
use vigil_model::Timestamp;
use vigil_model::fixtures::SEED_EXAMPLE_EVENTS;

/// A user resource (targets, relatedResources, subscribers, actors).
fn user(id: &str, name: &str, profile: &str) -> Value {
    json!({ "type": "USER", "id": id, "name": name, "identityProvider": "okta", "profileId": profile })
}

fn actor(id: &str, name: &str, profile: &str) -> Value {
    json!({ "type": "USER_ACTOR", "id": id, "name": name, "identityProvider": "okta", "profileId": profile })
}

fn taylor() -> Value {
    actor("taylor@acme.example", "Taylor Smith", "101")
}
fn deepu() -> Value {
    actor("deepu@acme.example", "Deepu Murty", "102")
}
fn ann() -> Value {
    actor("ann@acme.example", "O'Brien, \"Ann\"", "103")
}
fn system() -> Value {
    json!({ "type": "SYSTEM_ACCOUNT", "id": "immuta_system_account", "name": "Immuta System Account" })
}

fn ds(id: &str, name: &str, technology: &str) -> Value {
    json!({ "type": "DATASOURCE", "id": id, "name": name, "technology": technology })
}
fn customers() -> Value {
    ds("5001", "Customers", "SNOWFLAKE")
}
fn orders() -> Value {
    ds("5002", "Orders", "SNOWFLAKE")
}
fn payroll() -> Value {
    ds("5003", "Payroll, \"2026\"", "DATABRICKS")
}
fn group(id: &str, name: &str) -> Value {
    json!({ "type": "GROUP", "id": id, "name": name, "identityProvider": "okta" })
}
fn project(id: &str, name: &str) -> Value {
    json!({ "type": "PROJECT", "id": id, "name": name, "projectKey": id })
}
fn purpose(id: &str, name: &str) -> Value {
    json!({ "type": "PURPOSE", "id": id, "name": name })
}
fn policy(id: &str, name: &str) -> Value {
    json!({ "type": "GLOBAL_POLICY", "id": id, "name": name, "policyKey": name.to_lowercase() })
}
fn tag(id: &str, name: &str) -> Value {
    json!({ "type": "TAG", "id": id, "name": name, "source": "curated", "context": "manual" })
}

/// Builds the history, one event per call, with increasing timestamps in October 2026.
struct History {
    events: Vec<Value>,
    minute: u32,
}

impl History {
    fn at(&mut self, day: u32, hour: u32) -> String {
        self.minute += 1;
        format!("2026-10-{day:02}T{hour:02}:{:02}:00.000Z", self.minute % 60)
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        day: u32,
        action: &str,
        target_type: &str,
        actor: Value,
        targets: Value,
        related: Value,
        payload: Value,
    ) {
        let time = self.at(day, 8);
        self.push_at(
            &time,
            action,
            target_type,
            actor,
            targets,
            related,
            payload,
            "SUCCESS",
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn push_at(
        &mut self,
        time: &str,
        action: &str,
        target_type: &str,
        actor: Value,
        targets: Value,
        related: Value,
        payload: Value,
        status: &str,
    ) {
        self.events.push(json!({
            "id": format!("history-{}", self.events.len()),
            "action": action,
            "actor": actor,
            "targetType": target_type,
            "targets": targets,
            "relatedResources": related,
            "actionStatus": status,
            "eventTimestamp": time,
            "auditPayload": payload,
        }));
    }

    fn query(
        &mut self,
        time: &str,
        who: Value,
        targets: Value,
        project: Option<&str>,
        text: &str,
        status: &str,
    ) {
        let mut payload = json!({
            "type": "QueryAuditPayload", "version": 1, "queryId": format!("q-{}", self.events.len()),
            "query": text, "startTime": time,
            "technologyContext": { "type": "SnowflakeContext", "snowflakeUsername": "X" },
        });
        if let Some(project) = project {
            payload["accessControls"] = json!({ "project": { "id": project, "name": "?" } });
        }
        self.push_at(
            time,
            "QUERY",
            "DATASOURCE",
            who,
            targets,
            json!([]),
            payload,
            status,
        );
    }
}

/// The history the expectations below are worked out from.
fn history() -> Vec<Value> {
    let mut h = History {
        events: Vec::new(),
        minute: 0,
    };
    let (t, d, a) = (taylor(), deepu(), ann());
    let taylor_user = user("taylor@acme.example", "Taylor Smith", "101");
    let deepu_user = user("deepu@acme.example", "Deepu Murty", "102");
    let ann_user = user("ann@acme.example", "O'Brien, \"Ann\"", "103");
    // Users.
    for (u, name, email) in [
        (&taylor_user, "Taylor Smith", "taylor@acme.example"),
        (&deepu_user, "Deepu Murty", "deepu@acme.example"),
        (&ann_user, "O'Brien, \"Ann\"", "ann@acme.example"),
    ] {
        h.push(1, "CREATE", "USER", system(), json!([u]), json!([]),
            json!({ "type": "UserCreatedAuditPayload", "version": 1, "name": name, "email": email }));
    }
    let gone = user("gone@acme.example", "Gone User", "104");
    h.push(1, "CREATE", "USER", system(), json!([gone]), json!([]),
        json!({ "type": "UserCreatedAuditPayload", "version": 1, "name": "Gone User", "email": "gone@acme.example" }));
    h.push(
        2,
        "DELETE",
        "USER",
        t.clone(),
        json!([gone]),
        json!([]),
        json!({ "type": "UserDeletedAuditPayload", "version": 1, "userId": "gone@acme.example" }),
    );
    h.push_at(
        "2026-10-03T09:00:00.000Z",
        "AUTHENTICATE",
        "USER",
        t.clone(),
        json!([]),
        json!([]),
        json!({ "type": "UserAuthenticatedAuditPayload", "authenticationMethod": "password" }),
        "SUCCESS",
    );
    h.push_at(
        "2026-10-20T09:30:00.000Z",
        "AUTHENTICATE",
        "USER",
        t.clone(),
        json!([]),
        json!([]),
        json!({ "type": "UserAuthenticatedAuditPayload", "authenticationMethod": "password" }),
        "SUCCESS",
    );
    h.push(2, "UPDATE", "USER", t.clone(), json!([deepu_user]), json!([]),
        json!({ "type": "UserUpdatedAuditPayload", "version": 1, "userId": "deepu@acme.example", "disabled": true }));
    // Groups and members.
    let analysts = group("g-analysts", "Analysts");
    let hr = group("g-hr", "HR Team");
    for g in [&analysts, &hr] {
        h.push(2, "CREATE", "GROUP", t.clone(), json!([g]), json!([]),
            json!({ "type": "GroupCreatedAuditPayload", "version": 1, "groupId": g["id"], "name": g["name"], "groupIdProvider": "okta" }));
    }
    h.push_at("2026-10-02T10:00:00.000Z", "MEMBER_ADD", "GROUP", t.clone(), json!([analysts]), json!([deepu_user]),
        json!({ "type": "GroupMemberAddedAuditPayload", "version": 1, "groupId": "g-analysts", "userId": "deepu@acme.example" }), "SUCCESS");
    h.push_at("2026-10-02T10:05:00.000Z", "MEMBER_ADD", "GROUP", t.clone(), json!([analysts]), json!([ann_user]),
        json!({ "type": "GroupMemberAddedAuditPayload", "version": 1, "groupId": "g-analysts", "userId": "ann@acme.example" }), "SUCCESS");
    h.push_at("2026-10-02T10:10:00.000Z", "MEMBER_ADD", "GROUP", t.clone(), json!([hr]), json!([taylor_user]),
        json!({ "type": "GroupMemberAddedAuditPayload", "version": 1, "groupId": "g-hr", "userId": "taylor@acme.example" }), "SUCCESS");
    h.push(
        25,
        "MEMBER_REMOVE",
        "GROUP",
        t.clone(),
        json!([analysts]),
        json!([ann_user]),
        json!({ "type": "GroupMemberRemovedAuditPayload", "version": 1, "groupId": "g-analysts" }),
    );
    // Attributes.
    for (action, value) in [
        ("ATTRIBUTE_APPLY", "Product"),
        ("ATTRIBUTE_APPLY", "Finance"),
        ("ATTRIBUTE_REMOVE", "Finance"),
    ] {
        let kind = if action == "ATTRIBUTE_APPLY" {
            "AttributeAppliedAuditPayload"
        } else {
            "AttributeRemovedAuditPayload"
        };
        h.push(2, action, "USER", t.clone(), json!([taylor_user]), json!([]),
            json!({ "type": kind, "version": 1, "entityType": "USER", "entityId": "taylor@acme.example", "entityIdProvider": "okta",
                    "attributes": [{ "attribute": "Department", "values": [value] }] }));
    }
    h.push(2, "ATTRIBUTE_APPLY", "GROUP", t.clone(), json!([analysts]), json!([]),
        json!({ "type": "AttributeAppliedAuditPayload", "version": 1, "entityType": "GROUP", "entityId": "g-analysts",
                "attributes": [{ "attribute": "Clearance", "values": ["Secret"] }] }));
    // Data sources.
    let connection = json!({ "type": "CONNECTION", "id": "c-sf", "name": "snowflake-prod", "connectionKey": "sf-prod" });
    for (source, by, table, conn) in [
        (customers(), &t, "CUSTOMERS", Some(&connection)),
        (orders(), &d, "ORDERS", Some(&connection)),
        (payroll(), &t, "payroll", None),
        (
            ds("5004", "Old Table", "SNOWFLAKE"),
            &t,
            "OLD",
            Some(&connection),
        ),
    ] {
        let related = conn.map_or(json!([]), |c| json!([c]));
        h.push_at("2026-10-03T08:00:00.000Z", "CREATE", "DATASOURCE", by.clone(), json!([source]), related,
            json!({ "type": "DatasourceCreatedAuditPayload", "version": 1, "technology": source["technology"],
                    "connectionId": conn.map(|c| c["id"].clone()), "schema": "PUBLIC", "table": table }), "SUCCESS");
    }
    h.push(4, "DELETE", "DATASOURCE", t.clone(), json!([ds("5004", "Old Table", "SNOWFLAKE")]), json!([]),
        json!({ "type": "DatasourceDeletedAuditPayload", "version": 1, "datasourceId": "5004", "name": "Old Table" }));
    // Tags and an identifier.
    h.push(4, "CREATE", "TAG", t.clone(), json!([tag("t1", "PII")]), json!([]),
        json!({ "type": "TagCreatedAuditPayload", "version": 1, "tags": [{ "id": "t1", "name": "PII", "source": "curated" }] }));
    h.push(4, "CREATE", "SDD_CLASSIFIER", t.clone(), json!([{ "type": "SDD_CLASSIFIER", "id": "c1", "name": "EMAIL_IDENTIFIER" }]), json!([]),
        json!({ "type": "SDDClassifierCreatedAuditPayload", "version": 1, "classifierId": "c1", "name": "EMAIL_IDENTIFIER",
                "displayName": "Email address", "config": { "tags": [{ "name": "Discovered.Email", "id": "t2" }] } }));
    let applied = |target: &str, kind: &str, name: &str, id: &str| {
        json!({ "type": "TagAppliedAuditPayload", "version": 1,
                "appliedTags": [{ "targetName": target, "targetType": kind, "tags": [{ "type": "TAG", "id": id, "name": name }] }] })
    };
    h.push_at(
        "2026-10-04T12:00:00.000Z",
        "TAG_APPLY",
        "DATASOURCE",
        t.clone(),
        json!([customers()]),
        json!([tag("t1", "PII")]),
        applied("Customers", "DATASOURCE", "PII", "t1"),
        "SUCCESS",
    );
    h.push_at(
        "2026-10-04T12:30:00.000Z",
        "TAG_APPLY",
        "DATASOURCE",
        system(),
        json!([customers()]),
        json!([]),
        applied("EMAIL", "COLUMN", "Discovered.Email", "t2"),
        "SUCCESS",
    );
    h.push_at(
        "2026-10-04T12:45:00.000Z",
        "TAG_APPLY",
        "DATASOURCE",
        system(),
        json!([orders()]),
        json!([]),
        applied("CUSTOMER_EMAIL", "COLUMN", "Discovered.Email", "t2"),
        "SUCCESS",
    );
    h.push(
        5,
        "TAG_APPLY",
        "DATASOURCE",
        t.clone(),
        json!([payroll()]),
        json!([]),
        applied("Payroll", "DATASOURCE", "PII", "t1"),
    );
    h.push(5, "TAG_REMOVE", "DATASOURCE", t.clone(), json!([payroll()]), json!([]),
        json!({ "type": "TagRemovedAuditPayload", "version": 1,
                "removedTags": [{ "targetName": "Payroll", "targetType": "DATASOURCE", "tags": [{ "id": "t1", "name": "PII" }] }] }));
    // Purposes and projects.
    for (id, name) in [
        ("p-fraud", "Fraud Detection"),
        ("p-mkt", "Marketing"),
        ("p-old", "Retired"),
    ] {
        h.push(
            5,
            "UPSERT",
            "PURPOSE",
            t.clone(),
            json!([purpose(id, name)]),
            json!([]),
            json!({ "type": "PurposeUpsertedAuditPayload", "name": name, "description": "d" }),
        );
    }
    h.push(
        5,
        "DELETE",
        "PURPOSE",
        t.clone(),
        json!([purpose("p-old", "Retired")]),
        json!([]),
        json!({ "id": "p-old", "name": "Retired" }),
    );
    let fraud = project("pr-1", "Fraud Analytics");
    let campaigns = project("pr-2", "Campaigns");
    h.push_at("2026-10-06T08:00:00.000Z", "CREATE", "PROJECT", t.clone(), json!([fraud]), json!([]),
        json!({ "type": "ProjectCreatedAuditPayload", "version": 1, "projectId": "pr-1", "name": "Fraud Analytics", "projectKey": "pr-1",
                "purposes": [{ "id": "p-fraud", "name": "Fraud Detection" }], "datasources": [{ "id": "5001", "name": "Customers" }] }), "SUCCESS");
    h.push_at("2026-10-06T09:00:00.000Z", "CREATE", "PROJECT", d.clone(), json!([campaigns]), json!([]),
        json!({ "type": "ProjectCreatedAuditPayload", "version": 1, "projectId": "pr-2", "name": "Campaigns", "purposes": [], "datasources": [] }), "SUCCESS");
    h.push_at("2026-10-06T10:00:00.000Z", "DATASOURCE_APPLY", "PROJECT", d.clone(), json!([fraud]), json!([orders()]),
        json!({ "type": "DatasourceAppliedToProjectAuditPayload", "version": 1, "projectId": "pr-1", "datasources": [{ "id": "5002", "name": "Orders" }] }), "SUCCESS");
    h.push_at("2026-10-06T11:00:00.000Z", "DATASOURCE_APPLY", "PROJECT", d.clone(), json!([campaigns]), json!([orders()]),
        json!({ "type": "DatasourceAppliedToProjectAuditPayload", "version": 1, "projectId": "pr-2", "datasources": [{ "id": "5002", "name": "Orders" }] }), "SUCCESS");
    h.push_at("2026-10-06T12:00:00.000Z", "PURPOSE_APPROVE", "PROJECT", t.clone(), json!([fraud]), json!([purpose("p-mkt", "Marketing")]),
        json!({ "type": "ProjectPurposeApprovedAuditPayload", "version": 1, "projectId": "pr-1", "purposeId": "p-mkt" }), "SUCCESS");
    h.push_at("2026-10-06T13:00:00.000Z", "PURPOSE_APPROVE", "PROJECT", t.clone(), json!([campaigns]), json!([purpose("p-mkt", "Marketing")]),
        json!({ "type": "ProjectPurposeApprovedAuditPayload", "version": 1, "projectId": "pr-2", "purposeId": "p-mkt" }), "SUCCESS");
    h.push(6, "PURPOSE_DENY", "PROJECT", t.clone(), json!([campaigns]), json!([purpose("p-fraud", "Fraud Detection")]),
        json!({ "type": "ProjectPurposeDeniedAuditPayload", "version": 1, "projectId": "pr-2", "purposeId": "p-fraud" }));
    let sunset = project("pr-3", "Sunset");
    h.push(6, "CREATE", "PROJECT", t.clone(), json!([sunset]), json!([]),
        json!({ "type": "ProjectCreatedAuditPayload", "version": 1, "projectId": "pr-3", "name": "Sunset", "datasources": [{ "id": "5001" }] }));
    h.push(
        6,
        "DELETE",
        "PROJECT",
        t.clone(),
        json!([sunset]),
        json!([]),
        json!({ "type": "ProjectDeletedAuditPayload", "projectId": "pr-3", "name": "Sunset" }),
    );
    // Subscriptions.
    let subscription = |id: &str, subscriber: &Value, model: &Value| json!([{ "type": "SUBSCRIPTION", "id": id, "name": id, "subscriber": subscriber, "model": model }]);
    let created = |kind: &str, role: &str| json!({ "type": "SubscriptionCreatedAuditPayload", "modelType": kind, "role": role, "status": "APPROVED" });
    h.push_at(
        "2026-10-07T08:00:00.000Z",
        "CREATE",
        "SUBSCRIPTION",
        t.clone(),
        subscription("s1", &deepu_user, &customers()),
        json!([]),
        created("DATASOURCE", "SUBSCRIBED"),
        "SUCCESS",
    );
    h.push_at("2026-10-07T09:00:00.000Z", "SUBSCRIPTION_REQUESTED", "DATASOURCE", a.clone(), json!([customers()]),
        subscription("s2", &ann_user, &customers()),
        json!({ "type": "SubscriptionRequestedAuditPayload", "version": 1, "status": "PENDING", "modelId": "5001", "modelType": "DATASOURCE",
                "subscriberType": "USER", "subscriberId": "103", "subscriptionId": "s2" }), "SUCCESS");
    h.push_at("2026-10-07T10:00:00.000Z", "SUBSCRIPTION_REQUEST_APPROVE", "SUBSCRIPTION", t.clone(), subscription("s2", &ann_user, &customers()), json!([]),
        json!({ "type": "SubscriptionRequestApprovedAuditPayload", "version": 1, "subscriptionId": "s2", "status": "APPROVED" }), "SUCCESS");
    h.push_at(
        "2026-10-07T11:00:00.000Z",
        "CREATE",
        "SUBSCRIPTION",
        t.clone(),
        subscription("s3", &analysts, &orders()),
        json!([]),
        created("DATASOURCE", "SUBSCRIBED"),
        "SUCCESS",
    );
    h.push_at(
        "2026-10-07T12:00:00.000Z",
        "CREATE",
        "SUBSCRIPTION",
        t.clone(),
        subscription("s4", &taylor_user, &customers()),
        json!([]),
        created("DATASOURCE", "OWNER"),
        "SUCCESS",
    );
    h.push_at(
        "2026-10-07T13:00:00.000Z",
        "CREATE",
        "SUBSCRIPTION",
        t.clone(),
        subscription("s5", &deepu_user, &orders()),
        json!([]),
        created("DATASOURCE", "SUBSCRIBED"),
        "SUCCESS",
    );
    h.push_at("2026-10-08T13:00:00.000Z", "DELETE", "SUBSCRIPTION", t.clone(), subscription("s5", &deepu_user, &orders()), json!([]),
        json!({ "type": "SubscriptionDeletedAuditPayload", "subscriptionId": "s5", "modelType": "DATASOURCE", "modelId": "5002",
                "subscriberType": "USER", "denialReason": "Subscription policy removed" }), "SUCCESS");
    h.push_at(
        "2026-10-07T14:00:00.000Z",
        "CREATE",
        "SUBSCRIPTION",
        t.clone(),
        subscription("s6", &taylor_user, &fraud),
        json!([]),
        created("PROJECT", "OWNER"),
        "SUCCESS",
    );
    h.push_at(
        "2026-10-07T15:00:00.000Z",
        "CREATE",
        "SUBSCRIPTION",
        t.clone(),
        subscription("s7", &analysts, &fraud),
        json!([]),
        created("PROJECT", "SUBSCRIBED"),
        "SUCCESS",
    );
    h.push_at(
        "2026-10-07T16:00:00.000Z",
        "CREATE",
        "SUBSCRIPTION",
        d.clone(),
        subscription("s8", &deepu_user, &campaigns),
        json!([]),
        created("PROJECT", "OWNER"),
        "SUCCESS",
    );
    h.push(8, "SUBSCRIPTION_REQUESTED", "PROJECT", a.clone(), json!([campaigns]), subscription("s9", &ann_user, &campaigns),
        json!({ "type": "SubscriptionRequestedAuditPayload", "version": 1, "status": "PENDING", "modelType": "PROJECT", "modelId": "pr-2",
                "subscriberType": "USER", "subscriptionId": "s9" }));
    h.push(8, "SUBSCRIPTION_REQUEST_DENY", "SUBSCRIPTION", d.clone(), subscription("s9", &ann_user, &campaigns), json!([]),
        json!({ "type": "SubscriptionRequestDeniedAuditPayload", "version": 1, "subscriptionId": "s9", "denialReason": "Not in marketing" }));
    h.push(8, "UPDATE", "SUBSCRIPTION", t.clone(), subscription("s1", &deepu_user, &customers()), json!([]),
        json!({ "type": "SubscriptionUpdatedAuditPayload", "version": 1, "subscriptionId": "s1", "role": "EXPERT" }));
    // Policies.
    h.push_at("2026-10-09T08:00:00.000Z", "CREATE", "GLOBAL_POLICY", t.clone(), json!([policy("gp-1", "Mask PII")]), json!([]),
        json!({ "type": "GlobalPolicyCreatedAuditPayload", "policy": { "type": "DATA",
                "actions": [{ "type": "DATA", "dataPolicyType": "MASKING", "rules": [{ "type": "MASKING_HASH", "columnCondition": { "type": "TAG", "tags": ["Discovered.Email"] } }] }],
                "circumstance": { "type": "CONDITIONAL", "conditions": [{ "type": "TAG", "tag": "PII" }] } } }), "SUCCESS");
    h.push_at("2026-10-09T09:00:00.000Z", "CREATE", "GLOBAL_POLICY", d.clone(), json!([policy("gp-2", "Fraud rows")]), json!([]),
        json!({ "type": "GlobalPolicyCreatedAuditPayload", "policy": { "type": "DATA",
                "actions": [{ "type": "DATA", "dataPolicyType": "ROW_REDACTION" }], "circumstance": { "type": "WHEN_SELECTED" } } }), "SUCCESS");
    let applied_policy = json!({ "type": "DatasourceGlobalPolicyAppliedAuditPayload", "version": 1, "conflict": null });
    h.push_at(
        "2026-10-09T10:00:00.000Z",
        "POLICY_APPLIED",
        "DATASOURCE",
        system(),
        json!([customers()]),
        json!([policy("gp-1", "Mask PII")]),
        applied_policy.clone(),
        "SUCCESS",
    );
    h.push_at(
        "2026-10-09T10:05:00.000Z",
        "POLICY_APPLIED",
        "DATASOURCE",
        system(),
        json!([orders()]),
        json!([policy("gp-1", "Mask PII")]),
        applied_policy.clone(),
        "SUCCESS",
    );
    h.push_at("2026-10-09T11:00:00.000Z", "POLICY_CERTIFY", "DATASOURCE", t.clone(), json!([customers()]), json!([policy("gp-1", "Mask PII")]),
        json!({ "type": "DatasourcePolicyCertifiedAuditPayload", "version": 1, "certificationDate": "2026-10-09T11:00:00.000Z" }), "SUCCESS");
    h.push_at("2026-10-09T12:00:00.000Z", "POLICY_DISABLED", "DATASOURCE", d.clone(), json!([orders()]), json!([policy("gp-1", "Mask PII")]),
        json!({ "type": "DatasourceGlobalPolicyDisabledAuditPayload", "version": 1, "justification": "Not needed, for orders" }), "SUCCESS");
    h.push_at("2026-10-09T13:00:00.000Z", "POLICY_APPLIED", "DATASOURCE", system(), json!([payroll()]), json!([policy("gp-2", "Fraud rows")]),
        json!({ "type": "DatasourceGlobalPolicyAppliedAuditPayload", "version": 1, "conflict": "conflicts with the local row policy" }), "SUCCESS");
    h.push_at(
        "2026-10-09T13:30:00.000Z",
        "POLICY_APPLIED",
        "DATASOURCE",
        system(),
        json!([customers()]),
        json!([policy("gp-2", "Fraud rows")]),
        applied_policy.clone(),
        "SUCCESS",
    );
    h.push_at("2026-10-09T14:00:00.000Z", "CREATE", "LOCAL_POLICY", d.clone(),
        json!([{ "type": "LOCAL_POLICY", "id": "9", "name": "9", "datasource": orders() }]), json!([orders()]),
        json!({ "type": "LocalPolicyCreatedAuditPayload", "version": 1,
                "policy": { "type": "SUBSCRIPTION", "actions": [{ "type": "SUBSCRIPTION", "subscriptionPolicyType": "MANUAL" }] } }), "SUCCESS");
    // Queries.
    h.query(
        "2026-10-10T10:00:00.000Z",
        d.clone(),
        json!([customers()]),
        Some("pr-1"),
        "SELECT * FROM customers",
        "SUCCESS",
    );
    h.query(
        "2026-10-12T09:00:00.000Z",
        d.clone(),
        json!([customers()]),
        None,
        "SELECT email FROM customers",
        "SUCCESS",
    );
    h.query(
        "2026-10-11T09:00:00.000Z",
        d.clone(),
        json!([orders()]),
        Some("pr-2"),
        "SELECT * FROM orders",
        "SUCCESS",
    );
    h.query(
        "2026-10-15T09:00:00.000Z",
        t.clone(),
        json!([customers(), orders()]),
        Some("pr-1"),
        "SELECT 1 FROM customers JOIN orders",
        "SUCCESS",
    );
    h.query(
        "2026-09-01T09:00:00.000Z",
        a.clone(),
        json!([orders()]),
        None,
        "SELECT old FROM orders",
        "SUCCESS",
    );
    h.query(
        "2026-10-16T09:00:00.000Z",
        json!({ "type": "UNKNOWN", "id": "Unknown", "name": "Unknown" }),
        json!([customers()]),
        None,
        "SELECT x",
        "SUCCESS",
    );
    h.query(
        "2026-10-17T09:00:00.000Z",
        a.clone(),
        json!([customers()]),
        None,
        "SELECT denied",
        "UNAUTHORIZED",
    );
    h.events
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Stores a JSON array of events; returns how many were rejected.
fn store(log: &EventLog, body: &str) -> usize {
    let report = runtime()
        .block_on(ingest(
            log,
            prepare(
                split_body(body, BodyFormat::Json).unwrap(),
                Timestamp::now(),
                &vigil_core::Submitter::cli("test"),
            ),
        ))
        .unwrap();
    report.rejected.len()
}

const FROM: i64 = 1_790_812_800_000_000; // 2026-10-01T00:00:00Z
const TO: i64 = 1_793_491_199_999_999; // 2026-10-31T23:59:59.999999Z

/// Runs one report of the catalog; `name` None for the reports about every entity.
fn run(
    governance: &Governance,
    entity: EntityType,
    name: Option<&str>,
    key: &str,
) -> Result<ReportTable, ReportError> {
    run_with_limit(governance, entity, name, key, None)
}

fn run_with_limit(
    governance: &Governance,
    entity: EntityType,
    name: Option<&str>,
    key: &str,
    limit: Option<usize>,
) -> Result<ReportTable, ReportError> {
    run_in(governance, entity, name, key, limit, (FROM, TO))
}

fn run_in(
    governance: &Governance,
    entity: EntityType,
    name: Option<&str>,
    key: &str,
    limit: Option<usize>,
    (from, to): (i64, i64),
) -> Result<ReportTable, ReportError> {
    let scope = if name.is_some() {
        Scope::One
    } else {
        Scope::All
    };
    let kind = find(entity, scope, key)?;
    let entity = match name {
        Some(name) => Some(reports::resolve(governance, entity, name)?),
        None => None,
    };
    reports::run(
        governance,
        &ReportRequest {
            kind,
            entity,
            from,
            to,
            limit,
            timeout: Duration::from_secs(60),
        },
    )
}

fn rows(table: &ReportTable) -> Vec<Vec<String>> {
    table
        .rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|v| match v {
                    Value::Null => "-".to_owned(),
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

fn r(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| (*c).to_owned()).collect()
}

/// A report to run (entity type, name, report key) and the rows it must give.
type Expectation = (
    EntityType,
    Option<&'static str>,
    &'static str,
    Vec<Vec<String>>,
);

/// Every report, with its name argument and the rows expected from [`history`] (and, for the
/// reports about every entity, from the seed's examples, whose placeholder ids all collapse into
/// one deleted user).
fn expectations() -> Vec<Expectation> {
    use EntityType as E;
    let (taylor, deepu, ann) = ("Taylor Smith", "Deepu Murty", "O'Brien, \"Ann\"");
    let payroll = "Payroll, \"2026\"";
    let mask = r#"{"actions":[{"dataPolicyType":"MASKING","rules":[{"columnCondition":{"tags":["Discovered.Email"],"type":"TAG"},"type":"MASKING_HASH"}],"type":"DATA"}],"circumstance":{"conditions":[{"tag":"PII","type":"TAG"}],"type":"CONDITIONAL"},"type":"DATA"}"#;
    let fraud_rows = r#"{"actions":[{"dataPolicyType":"ROW_REDACTION","type":"DATA"}],"circumstance":{"type":"WHEN_SELECTED"},"type":"DATA"}"#;
    vec![
        // ----- users
        (
            E::User,
            None,
            "data-sources-subscribed",
            vec![
                r(&[
                    deepu,
                    "deepu@acme.example",
                    "deepu@acme.example",
                    "Customers",
                    "EXPERT",
                    "Individual User",
                    "2026-10-07T08:00:00.000Z",
                    taylor,
                    "-",
                    "-",
                    "Analysts",
                ]),
                r(&[
                    deepu,
                    "deepu@acme.example",
                    "deepu@acme.example",
                    "Orders",
                    "SUBSCRIBED",
                    "Group: Analysts",
                    "2026-10-07T11:00:00.000Z",
                    taylor,
                    "-",
                    "-",
                    "Analysts",
                ]),
                // Seed 000 lists "user roles"; Ann subscribed by a request that was approved, and
                // neither event carries a role: an approved requester is a subscriber.
                r(&[
                    ann,
                    "ann@acme.example",
                    "ann@acme.example",
                    "Customers",
                    "SUBSCRIBED",
                    "Individual User",
                    "2026-10-07T10:00:00.000Z",
                    taylor,
                    "-",
                    "-",
                    "-",
                ]),
                r(&[
                    taylor,
                    "taylor@acme.example",
                    "taylor@acme.example",
                    "Customers",
                    "OWNER",
                    "Individual User",
                    "2026-10-07T12:00:00.000Z",
                    taylor,
                    "-",
                    "Department: Product",
                    "HR Team",
                ]),
            ],
        ),
        (
            E::User,
            None,
            "status",
            vec![
                r(&[
                    deepu,
                    "deepu@acme.example",
                    "deepu@acme.example",
                    "okta",
                    "-",
                    "-",
                    "Disabled",
                ]),
                r(&[
                    ann,
                    "ann@acme.example",
                    "ann@acme.example",
                    "okta",
                    "-",
                    "-",
                    "Active",
                ]),
                r(&[
                    taylor,
                    "taylor@acme.example",
                    "taylor@acme.example",
                    "okta",
                    "-",
                    "2026-10-20T09:30:00.000Z",
                    "Active",
                ]),
            ],
        ),
        (
            E::User,
            Some("Deepu Murty"),
            "groups",
            vec![r(&["Analysts", "2026-10-02T10:00:00.000Z"])],
        ),
        (
            E::User,
            Some("deepu@acme.example"),
            "data-sources-subscribed",
            vec![
                r(&[
                    "Customers",
                    "EXPERT",
                    "Individual User",
                    "2026-10-07T08:00:00.000Z",
                    taylor,
                    "-",
                    "-",
                ]),
                r(&[
                    "Orders",
                    "SUBSCRIBED",
                    "Group: Analysts",
                    "2026-10-07T11:00:00.000Z",
                    taylor,
                    "-",
                    "-",
                ]),
            ],
        ),
        (
            E::User,
            Some("deepu murty"),
            "projects",
            vec![
                r(&[
                    "Campaigns",
                    "-",
                    "OWNER",
                    deepu,
                    "2026-10-06T09:00:00.000Z",
                    "2026-10-07T16:00:00.000Z",
                    "Individual User",
                ]),
                r(&[
                    "Fraud Analytics",
                    "-",
                    "SUBSCRIBED",
                    taylor,
                    "2026-10-06T08:00:00.000Z",
                    "2026-10-07T15:00:00.000Z",
                    "Group: Analysts",
                ]),
            ],
        ),
        (
            E::User,
            Some("Deepu Murty"),
            "data-sources-accessed",
            vec![
                r(&[
                    "Customers",
                    "2026-10-10T10:00:00.000Z",
                    "2026-10-12T09:00:00.000Z",
                    "2",
                    "read",
                ]),
                r(&[
                    "Orders",
                    "2026-10-11T09:00:00.000Z",
                    "2026-10-11T09:00:00.000Z",
                    "1",
                    "read",
                ]),
            ],
        ),
        (
            E::User,
            Some("Taylor Smith"),
            "attributes",
            vec![r(&["Department", "Product"])],
        ),
        (
            E::User,
            Some("Deepu Murty"),
            "purposes-accessed",
            vec![
                r(&[
                    "Fraud Detection",
                    "Fraud Analytics",
                    "Customers",
                    "2026-10-10T10:00:00.000Z",
                    "2026-10-10T10:00:00.000Z",
                ]),
                r(&[
                    "Marketing",
                    "Campaigns",
                    "Orders",
                    "2026-10-11T09:00:00.000Z",
                    "2026-10-11T09:00:00.000Z",
                ]),
                r(&[
                    "Marketing",
                    "Fraud Analytics",
                    "Customers",
                    "2026-10-10T10:00:00.000Z",
                    "2026-10-10T10:00:00.000Z",
                ]),
            ],
        ),
        // ----- groups
        (
            E::Group,
            None,
            "data-sources-subscribed",
            vec![r(&[
                "Analysts",
                "Orders",
                "SUBSCRIBED",
                "2026-10-07T11:00:00.000Z",
                taylor,
                "-",
                "-",
            ])],
        ),
        (
            E::Group,
            Some("Analysts"),
            "members",
            vec![r(&[
                deepu,
                "deepu@acme.example",
                "deepu@acme.example",
                "2026-10-02T10:00:00.000Z",
            ])],
        ),
        (
            E::Group,
            Some("g-analysts"),
            "data-sources-subscribed",
            vec![r(&[
                "Orders",
                "SUBSCRIBED",
                "2026-10-07T11:00:00.000Z",
                taylor,
                "-",
                "-",
            ])],
        ),
        (
            E::Group,
            Some("Analysts"),
            "projects",
            vec![r(&[
                "Fraud Analytics",
                "-",
                "SUBSCRIBED",
                taylor,
                "2026-10-06T08:00:00.000Z",
                "2026-10-07T15:00:00.000Z",
            ])],
        ),
        (
            E::Group,
            Some("Analysts"),
            "attributes",
            vec![r(&["Clearance", "Secret"])],
        ),
        // ----- projects
        (
            E::Project,
            Some("Fraud Analytics"),
            "members",
            vec![
                r(&[
                    deepu,
                    "deepu@acme.example",
                    "deepu@acme.example",
                    "SUBSCRIBED",
                    "2026-10-07T15:00:00.000Z",
                    "Group: Analysts",
                ]),
                r(&[
                    taylor,
                    "taylor@acme.example",
                    "taylor@acme.example",
                    "OWNER",
                    "2026-10-07T14:00:00.000Z",
                    "Individual User",
                ]),
            ],
        ),
        (
            E::Project,
            Some("pr-1"),
            "data-sources",
            vec![
                r(&["Customers", "-", taylor, "2026-10-06T08:00:00.000Z"]),
                r(&["Orders", "-", deepu, "2026-10-06T10:00:00.000Z"]),
            ],
        ),
        (
            E::Project,
            Some("Campaigns"),
            "purposes",
            vec![r(&["Marketing", taylor, "2026-10-06T13:00:00.000Z"])],
        ),
        // ----- data sources
        (
            E::Datasource,
            None,
            "subscribers",
            vec![
                r(&[
                    "Customers",
                    deepu,
                    "deepu@acme.example",
                    "deepu@acme.example",
                    "Individual User",
                    "EXPERT",
                    "2026-10-07T08:00:00.000Z",
                    taylor,
                    "-",
                    "-",
                ]),
                r(&[
                    "Customers",
                    ann,
                    "ann@acme.example",
                    "ann@acme.example",
                    "Individual User",
                    "SUBSCRIBED",
                    "2026-10-07T10:00:00.000Z",
                    taylor,
                    "-",
                    "-",
                ]),
                r(&[
                    "Customers",
                    taylor,
                    "taylor@acme.example",
                    "taylor@acme.example",
                    "Individual User",
                    "OWNER",
                    "2026-10-07T12:00:00.000Z",
                    taylor,
                    "-",
                    "Department: Product",
                ]),
                r(&[
                    "Orders",
                    deepu,
                    "deepu@acme.example",
                    "deepu@acme.example",
                    "Group: Analysts",
                    "SUBSCRIBED",
                    "2026-10-07T11:00:00.000Z",
                    taylor,
                    "-",
                    "-",
                ]),
            ],
        ),
        (
            E::Datasource,
            Some("5001"),
            "subscribers",
            vec![
                r(&[
                    deepu,
                    "deepu@acme.example",
                    "-",
                    "EXPERT",
                    "deepu@acme.example",
                    "2026-10-07T08:00:00.000Z",
                    taylor,
                    "-",
                    "Individual User",
                ]),
                r(&[
                    ann,
                    "ann@acme.example",
                    "-",
                    "SUBSCRIBED",
                    "ann@acme.example",
                    "2026-10-07T10:00:00.000Z",
                    taylor,
                    "-",
                    "Individual User",
                ]),
                r(&[
                    taylor,
                    "taylor@acme.example",
                    "-",
                    "OWNER",
                    "taylor@acme.example",
                    "2026-10-07T12:00:00.000Z",
                    taylor,
                    "-",
                    "Individual User",
                ]),
            ],
        ),
        (
            E::Datasource,
            Some("Orders"),
            "projects",
            vec![
                r(&[
                    "Campaigns",
                    deepu,
                    "2026-10-06T11:00:00.000Z",
                    "-",
                    "-",
                    deepu,
                    "2026-10-06T09:00:00.000Z",
                ]),
                r(&[
                    "Fraud Analytics",
                    deepu,
                    "2026-10-06T10:00:00.000Z",
                    "-",
                    "-",
                    taylor,
                    "2026-10-06T08:00:00.000Z",
                ]),
            ],
        ),
        (
            E::Datasource,
            Some("Orders"),
            "project-purposes",
            vec![
                r(&[
                    "Fraud Detection",
                    taylor,
                    "2026-10-06T08:00:00.000Z",
                    "Fraud Analytics",
                    "-",
                    "-",
                    taylor,
                    "2026-10-06T08:00:00.000Z",
                ]),
                r(&[
                    "Marketing",
                    taylor,
                    "2026-10-06T13:00:00.000Z",
                    "Campaigns",
                    "-",
                    "-",
                    deepu,
                    "2026-10-06T09:00:00.000Z",
                ]),
                r(&[
                    "Marketing",
                    taylor,
                    "2026-10-06T12:00:00.000Z",
                    "Fraud Analytics",
                    "-",
                    "-",
                    taylor,
                    "2026-10-06T08:00:00.000Z",
                ]),
            ],
        ),
        (
            E::Datasource,
            Some("5001"),
            "users-accessed",
            vec![
                r(&[
                    taylor,
                    "taylor@acme.example",
                    "taylor@acme.example",
                    "SELECT 1 FROM customers JOIN orders",
                    "2026-10-15T09:00:00.000Z",
                    "1",
                    "read",
                ]),
                r(&[
                    deepu,
                    "deepu@acme.example",
                    "deepu@acme.example",
                    "SELECT email FROM customers",
                    "2026-10-12T09:00:00.000Z",
                    "2",
                    "read",
                ]),
            ],
        ),
        (
            E::Datasource,
            Some("5001"),
            "access-purposes",
            vec![
                r(&[
                    deepu,
                    "deepu@acme.example",
                    "-",
                    "-",
                    "2026-10-12T09:00:00.000Z",
                ]),
                r(&[
                    deepu,
                    "deepu@acme.example",
                    "Fraud Detection",
                    "Fraud Analytics",
                    "2026-10-10T10:00:00.000Z",
                ]),
                r(&[
                    deepu,
                    "deepu@acme.example",
                    "Marketing",
                    "Fraud Analytics",
                    "2026-10-10T10:00:00.000Z",
                ]),
                r(&[
                    taylor,
                    "taylor@acme.example",
                    "Fraud Detection",
                    "Fraud Analytics",
                    "2026-10-15T09:00:00.000Z",
                ]),
                r(&[
                    taylor,
                    "taylor@acme.example",
                    "Marketing",
                    "Fraud Analytics",
                    "2026-10-15T09:00:00.000Z",
                ]),
            ],
        ),
        (
            E::Datasource,
            Some("Orders"),
            "subscription-history",
            vec![
                r(&[
                    deepu,
                    "USER",
                    "deepu@acme.example",
                    "2026-10-07T13:00:00.000Z",
                    "-",
                    taylor,
                    "-",
                    "2026-10-08T13:00:00.000Z",
                    "Subscription policy removed",
                    "REMOVED",
                ]),
                r(&[
                    "Analysts",
                    "GROUP",
                    "-",
                    "2026-10-07T11:00:00.000Z",
                    "-",
                    taylor,
                    "-",
                    "-",
                    "-",
                    "APPROVED",
                ]),
            ],
        ),
        (
            E::Datasource,
            Some("5001"),
            "column-identifiers",
            vec![r(&[
                "EMAIL",
                "Email address",
                "Discovered.Email",
                "2026-10-04T12:30:00.000Z",
                "-",
                "-",
            ])],
        ),
        (
            E::Datasource,
            Some("Orders"),
            "identification-stats",
            vec![r(&[
                "CUSTOMER_EMAIL",
                "Discovered.Email",
                "2026-10-04T12:45:00.000Z",
                "-",
            ])],
        ),
        // ----- purposes
        (
            E::Purpose,
            Some("Marketing"),
            "members",
            vec![
                r(&[
                    deepu,
                    "deepu@acme.example",
                    "deepu@acme.example",
                    "OWNER",
                    "Campaigns",
                    "-",
                    deepu,
                    "2026-10-06T09:00:00.000Z",
                    "2026-10-07T16:00:00.000Z",
                    "Individual User",
                ]),
                r(&[
                    deepu,
                    "deepu@acme.example",
                    "deepu@acme.example",
                    "SUBSCRIBED",
                    "Fraud Analytics",
                    "-",
                    taylor,
                    "2026-10-06T08:00:00.000Z",
                    "2026-10-07T15:00:00.000Z",
                    "Group: Analysts",
                ]),
                r(&[
                    taylor,
                    "taylor@acme.example",
                    "taylor@acme.example",
                    "OWNER",
                    "Fraud Analytics",
                    "-",
                    taylor,
                    "2026-10-06T08:00:00.000Z",
                    "2026-10-07T14:00:00.000Z",
                    "Individual User",
                ]),
            ],
        ),
        (
            E::Purpose,
            Some("Marketing"),
            "data-sources",
            vec![
                r(&[
                    "Customers",
                    taylor,
                    "Fraud Analytics",
                    "-",
                    taylor,
                    "True",
                    "2026-10-06T08:00:00.000Z",
                ]),
                r(&[
                    "Orders",
                    deepu,
                    "Campaigns",
                    "-",
                    deepu,
                    "False",
                    "2026-10-06T09:00:00.000Z",
                ]),
                r(&[
                    "Orders",
                    deepu,
                    "Fraud Analytics",
                    "-",
                    taylor,
                    "True",
                    "2026-10-06T08:00:00.000Z",
                ]),
            ],
        ),
        (
            E::Purpose,
            Some("Marketing"),
            "combined-purposes",
            vec![r(&[
                "Fraud Detection",
                "Fraud Analytics",
                taylor,
                taylor,
                "-",
                "2026-10-06T08:00:00.000Z",
            ])],
        ),
        (
            E::Purpose,
            Some("Fraud Detection"),
            "projects",
            vec![r(&[
                "Fraud Analytics",
                taylor,
                "-",
                taylor,
                "True",
                "2026-10-06T08:00:00.000Z",
            ])],
        ),
        (
            E::Purpose,
            Some("Marketing"),
            "data-sources-accessed",
            vec![
                r(&[
                    "Customers",
                    deepu,
                    "deepu@acme.example",
                    "Fraud Analytics",
                    "True",
                    "2026-10-10T10:00:00.000Z",
                ]),
                r(&[
                    "Customers",
                    taylor,
                    "taylor@acme.example",
                    "Fraud Analytics",
                    "True",
                    "2026-10-15T09:00:00.000Z",
                ]),
                r(&[
                    "Orders",
                    deepu,
                    "deepu@acme.example",
                    "Campaigns",
                    "False",
                    "2026-10-11T09:00:00.000Z",
                ]),
                r(&[
                    "Orders",
                    taylor,
                    "taylor@acme.example",
                    "Fraud Analytics",
                    "True",
                    "2026-10-15T09:00:00.000Z",
                ]),
            ],
        ),
        // ----- policy types
        (
            E::PolicyType,
            Some("masking"),
            "data-sources",
            vec![
                r(&[
                    "Customers",
                    "2026-10-03T08:00:00.000Z",
                    taylor,
                    "Mask PII",
                    "Global",
                    taylor,
                    "2026-10-09T08:00:00.000Z",
                ]),
                // The seed's LocalPolicyCreated example: k-anonymization masking on data source 129.
                r(&[
                    "Public case",
                    "-",
                    "-",
                    "Local data policy",
                    "Local",
                    taylor,
                    "2023-10-13T18:16:19.643Z",
                ]),
            ],
        ),
        // ----- global policies
        (
            E::GlobalPolicy,
            None,
            "disabled",
            vec![r(&[
                "Mask PII",
                mask,
                "MASKING",
                "Orders",
                deepu,
                "2026-10-09T12:00:00.000Z",
                "Not needed, for orders",
                taylor,
                "2026-10-09T08:00:00.000Z",
                "CONDITIONAL",
            ])],
        ),
        (
            E::GlobalPolicy,
            None,
            "cannot-be-applied",
            vec![r(&[
                "Fraud rows",
                fraud_rows,
                "ROW_REDACTION",
                payroll,
                "2026-10-03T08:00:00.000Z",
                "2026-10-09T09:00:00.000Z",
                "conflicts with the local row policy",
                deepu,
                "WHEN_SELECTED",
            ])],
        ),
        (
            E::GlobalPolicy,
            Some("gp-1"),
            "data-sources",
            vec![
                r(&["Customers", "2026-10-03T08:00:00.000Z", "True", "APPLIED"]),
                r(&["Orders", "2026-10-03T08:00:00.000Z", "False", "DISABLED"]),
            ],
        ),
        (
            E::GlobalPolicy,
            Some("Fraud rows"),
            "not-certified",
            vec![r(&["Customers", "2026-10-09T13:30:00.000Z", taylor])],
        ),
        (
            E::GlobalPolicy,
            Some("gp-1"),
            "certified",
            vec![r(&[
                "Customers",
                taylor,
                "2026-10-09T10:00:00.000Z",
                "2026-10-09T11:00:00.000Z",
            ])],
        ),
        // ----- connections
        (
            E::Connection,
            Some("snowflake-prod"),
            "data-sources",
            vec![
                r(&[
                    "Customers",
                    taylor,
                    "2026-10-03T08:00:00.000Z",
                    "PUBLIC.CUSTOMERS",
                ]),
                r(&["Orders", deepu, "2026-10-03T08:00:00.000Z", "PUBLIC.ORDERS"]),
            ],
        ),
        // ----- tags
        (
            E::Tag,
            Some("PII"),
            "data-sources",
            vec![r(&[
                "Customers",
                "-",
                "-",
                taylor,
                "2026-10-04T12:00:00.000Z",
                "2026-10-03T08:00:00.000Z",
            ])],
        ),
        (
            E::Tag,
            Some("Discovered.Email"),
            "access-purposes",
            vec![
                r(&[
                    "Fraud Detection",
                    "Customers",
                    "2",
                    "2026-10-15T09:00:00.000Z",
                ]),
                r(&["Fraud Detection", "Orders", "1", "2026-10-15T09:00:00.000Z"]),
                r(&["Marketing", "Customers", "2", "2026-10-15T09:00:00.000Z"]),
                r(&["Marketing", "Orders", "2", "2026-10-15T09:00:00.000Z"]),
            ],
        ),
        (
            E::Tag,
            Some("PII"),
            "users-accessed",
            vec![
                r(&[
                    deepu,
                    "deepu@acme.example",
                    "deepu@acme.example",
                    "Customers",
                    "2026-10-12T09:00:00.000Z",
                    "2026-10-03T08:00:00.000Z",
                ]),
                r(&[
                    taylor,
                    "taylor@acme.example",
                    "taylor@acme.example",
                    "Customers",
                    "2026-10-15T09:00:00.000Z",
                    "2026-10-03T08:00:00.000Z",
                ]),
            ],
        ),
        (
            E::Tag,
            Some("Discovered.Email"),
            "projects",
            vec![
                r(&[
                    "Campaigns",
                    "-",
                    "2026-10-06T09:00:00.000Z",
                    "Orders",
                    "2026-10-03T08:00:00.000Z",
                ]),
                r(&[
                    "Fraud Analytics",
                    "-",
                    "2026-10-06T08:00:00.000Z",
                    "Customers",
                    "2026-10-03T08:00:00.000Z",
                ]),
                r(&[
                    "Fraud Analytics",
                    "-",
                    "2026-10-06T08:00:00.000Z",
                    "Orders",
                    "2026-10-03T08:00:00.000Z",
                ]),
            ],
        ),
        // Columns: User, Email, Subscription type, then the tags in name order: Discovered (the
        // seed's, applied and removed), Discovered.Email, PII, TestTagUpdate (the seed's "First
        // name", renamed).
        (
            E::Tag,
            None,
            "users-subscribed",
            vec![
                r(&[
                    deepu,
                    "deepu@acme.example",
                    "Group: Analysts",
                    "false",
                    "true",
                    "false",
                    "false",
                ]),
                r(&[
                    deepu,
                    "deepu@acme.example",
                    "Individual User",
                    "false",
                    "true",
                    "true",
                    "false",
                ]),
                r(&[
                    ann,
                    "ann@acme.example",
                    "Individual User",
                    "false",
                    "true",
                    "true",
                    "false",
                ]),
                r(&[
                    taylor,
                    "taylor@acme.example",
                    "Individual User",
                    "false",
                    "true",
                    "true",
                    "false",
                ]),
            ],
        ),
        (
            E::Tag,
            None,
            "data-sources",
            vec![
                r(&["Customers", "Discovered.Email", "EMAIL"]),
                r(&["Customers", "PII", "-"]),
                r(&["Orders", "Discovered.Email", "CUSTOMER_EMAIL"]),
            ],
        ),
        (
            E::Tag,
            None,
            "projects",
            vec![
                r(&["Campaigns", "Orders", "Discovered.Email"]),
                r(&["Fraud Analytics", "Customers", "Discovered.Email"]),
                r(&["Fraud Analytics", "Customers", "PII"]),
                r(&["Fraud Analytics", "Orders", "Discovered.Email"]),
            ],
        ),
        // ----- sensitive data discovery
        (
            E::Sdd,
            None,
            "columns",
            vec![
                r(&[
                    "Customers",
                    "EMAIL",
                    "Discovered.Email",
                    "2026-10-04T12:30:00.000Z",
                    "Mask PII",
                ]),
                r(&[
                    "Orders",
                    "CUSTOMER_EMAIL",
                    "Discovered.Email",
                    "2026-10-04T12:45:00.000Z",
                    "Mask PII",
                ]),
            ],
        ),
    ]
}

fn open(dir: &std::path::Path) -> (Arc<EventLog>, Arc<Governance>) {
    let log = Arc::new(EventLog::open(dir).unwrap());
    let governance = Governance::open(dir, log.clone()).unwrap();
    let last = log.last_seq().unwrap();
    assert!(governance.wait_until_projected(last, Duration::from_secs(60)));
    (log, governance)
}

fn all_results(governance: &Governance) -> BTreeMap<String, (Vec<String>, Vec<Vec<String>>)> {
    all_results_in(governance, (FROM, TO))
}

fn all_results_in(
    governance: &Governance,
    range: (i64, i64),
) -> BTreeMap<String, (Vec<String>, Vec<Vec<String>>)> {
    expectations()
        .into_iter()
        .map(|(entity, name, key, _)| {
            let table = run_in(governance, entity, name, key, None, range)
                .unwrap_or_else(|error| panic!("{} {key}: {error}", entity.as_str()));
            (
                format!("{}/{key}/{name:?}", entity.as_str()),
                (table.columns.clone(), rows(&table)),
            )
        })
        .collect()
}

#[test]
fn every_report_kind_gives_the_rows_worked_out_from_the_history_and_a_rebuild_gives_the_same() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = EventLog::open(dir.path()).unwrap();
        // The seed's examples reuse one id for different events: those are refused, as always.
        assert_eq!(store(&log, SEED_EXAMPLE_EVENTS), 2);
        assert_eq!(store(&log, &Value::Array(history()).to_string()), 0);
        log.shutdown();
    }
    let expectations = expectations();
    // Every report kind of the catalog is checked, once.
    let mut covered: Vec<(EntityType, Scope, &str)> = expectations
        .iter()
        .map(|(entity, name, key, _)| {
            (
                *entity,
                if name.is_some() {
                    Scope::One
                } else {
                    Scope::All
                },
                *key,
            )
        })
        .collect();
    covered.sort_by_key(|(e, s, k)| (e.as_str(), *s == Scope::One, *k));
    covered.dedup();
    assert_eq!(CATALOG.len(), 45);
    assert_eq!(covered.len(), CATALOG.len());
    let (log, governance) = open(dir.path());
    let mut failures = Vec::new();
    for (entity, name, key, expected) in &expectations {
        let table = run(&governance, *entity, *name, key)
            .unwrap_or_else(|error| panic!("{} {key}: {error}", entity.as_str()));
        let kind = CATALOG
            .iter()
            .find(|k| k.entity == *entity && k.key == *key)
            .unwrap();
        if kind.key != "users-subscribed" {
            assert_eq!(
                table.columns.len(),
                table.rows.first().map_or(table.columns.len(), Vec::len)
            );
        }
        let got = rows(&table);
        // A limited run (the UI's) gives the same rows, in the same order, as a full one (CSV):
        // some reports take another path for each.
        let limited = run_with_limit(&governance, *entity, *name, key, Some(100_000)).unwrap();
        assert_eq!(limited.columns, table.columns, "{} {key}", entity.as_str());
        assert_eq!(
            rows(&limited),
            got,
            "{} {key}: limited run",
            entity.as_str()
        );
        if &got != expected {
            failures.push(format!(
                "{} {name:?} {key}:\n  expected {expected:?}\n  got      {got:?}",
                entity.as_str()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let before = all_results(&governance);
    governance.shutdown();
    drop(governance);
    log.shutdown();
    drop(log);
    let log = EventLog::open(dir.path()).unwrap();
    rebuild(dir.path(), &log, |_, _| {}).unwrap();
    log.shutdown();
    drop(log);
    let (log, governance) = open(dir.path());
    assert_eq!(all_results(&governance), before);
    governance.shutdown();
    log.shutdown();
}

/// Queries that test when things held: Deepu queries Customers in the Fraud Analytics project
/// on 10-06 at 11:00 (the project has had Fraud Detection since 08:00 that day; Marketing comes
/// at 12:00), and Customers before the PII tag was applied to it (10-04 at 11:00). And Taylor
/// queries Orders in Campaigns, named under `accessControls.entitlements` as seed 001's example
/// puts a user's entitlements.
fn queries_at_the_edges() -> Vec<Value> {
    let mut h = History {
        events: Vec::new(),
        minute: 0,
    };
    h.query(
        "2026-10-06T11:00:00.000Z",
        deepu(),
        json!([customers()]),
        Some("pr-1"),
        "SELECT before_marketing FROM customers",
        "SUCCESS",
    );
    h.query(
        "2026-10-04T11:00:00.000Z",
        ann(),
        json!([customers()]),
        None,
        "SELECT before_pii FROM customers",
        "SUCCESS",
    );
    h.query(
        "2026-10-20T10:00:00.000Z",
        taylor(),
        json!([orders()]),
        None,
        "SELECT campaign FROM orders",
        "SUCCESS",
    );
    let last = h.events.last_mut().unwrap();
    last["auditPayload"]["accessControls"] = json!({
        "entitlements": { "project": { "id": "pr-2", "name": "Campaigns" }, "groups": [], "attributes": [] }
    });
    for (index, event) in h.events.iter_mut().enumerate() {
        event["id"] = json!(format!("edge-{index}"));
    }
    h.events
}

/// Every report, from `events` stored in the order given.
fn results_of(events: &[Value]) -> BTreeMap<String, (Vec<String>, Vec<Vec<String>>)> {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = EventLog::open(dir.path()).unwrap();
        assert_eq!(store(&log, &Value::Array(events.to_vec()).to_string()), 0);
        log.shutdown();
    }
    let (log, governance) = open(dir.path());
    let mut results = all_results(&governance);
    // Taylor's purposes, which only the edge queries give.
    let (entity, name, key) = (EntityType::User, Some("Taylor Smith"), "purposes-accessed");
    let table = run(&governance, entity, name, key).unwrap();
    results.insert(
        format!("{}/{key}/{name:?}", entity.as_str()),
        (table.columns.clone(), rows(&table)),
    );
    governance.shutdown();
    log.shutdown();
    results
}

#[test]
fn reports_do_not_depend_on_the_order_events_arrive_in() {
    // Seed 000: "purposes ... under which the user accessed data", "users who have accessed data
    // sources containing this tag": what held when the query ran, not when it was stored.
    let mut events = history();
    events.extend(queries_at_the_edges());
    let time = |event: &Value| event["eventTimestamp"].as_str().unwrap().to_owned();
    let mut in_time_order = events.clone();
    in_time_order.sort_by_key(time);
    let in_order = results_of(&in_time_order);

    // The same history with every query last, shuffled, as pulled query audit delivers them.
    let (mut queries, admin): (Vec<Value>, Vec<Value>) = in_time_order
        .iter()
        .cloned()
        .partition(|event| event["action"] == "QUERY");
    let mut state = 7u64;
    for index in (1..queries.len()).rev() {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        queries.swap(index, (state >> 33) as usize % (index + 1));
    }
    let queries_last: Vec<Value> = admin.into_iter().chain(queries).collect();
    let late = results_of(&queries_last);
    let differences: Vec<String> = in_order
        .iter()
        .filter(|(key, result)| late.get(*key) != Some(*result))
        .map(|(key, result)| {
            format!(
                "{key}:\n  in order    {result:?}\n  queries last {:?}",
                late.get(key)
            )
        })
        .collect();
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    // Every report kind with a date range is among them.
    for kind in CATALOG.iter().filter(|kind| kind.date_range) {
        assert!(
            in_order.keys().any(|key| key.starts_with(&format!(
                "{}/{}/",
                kind.entity.as_str(),
                kind.key
            ))),
            "{} {} is not compared",
            kind.entity.as_str(),
            kind.key
        );
    }

    // The query before Marketing was approved ran under Fraud Detection only.
    let rows_of = |entity: EntityType, key: &str, name: &str| {
        &in_order[&format!("{}/{key}/{:?}", entity.as_str(), Some(name))].1
    };
    let purposes = rows_of(EntityType::User, "purposes-accessed", "Deepu Murty");
    let marketing_first = purposes
        .iter()
        .find(|row| row[0] == "Marketing" && row[1] == "Fraud Analytics" && row[2] == "Customers")
        .map(|row| row[3].clone());
    assert_eq!(
        marketing_first.as_deref(),
        Some("2026-10-10T10:00:00.000Z"),
        "{purposes:?}"
    );
    let fraud_first = purposes
        .iter()
        .find(|row| row[0] == "Fraud Detection" && row[2] == "Customers")
        .map(|row| row[3].clone());
    assert_eq!(
        fraud_first.as_deref(),
        Some("2026-10-06T11:00:00.000Z"),
        "{purposes:?}"
    );
    // Seed 001: "entitlements ... project: The user's current project."
    let taylor_purposes = rows_of(EntityType::User, "purposes-accessed", "Taylor Smith");
    assert!(
        taylor_purposes
            .iter()
            .any(|row| row[..3] == ["Marketing", "Campaigns", "Orders"]),
        "{taylor_purposes:?}"
    );
    // Customers carried no PII tag when Ann queried it on 10-04.
    let pii_users = rows_of(EntityType::Tag, "users-accessed", "PII");
    assert!(
        !pii_users.iter().any(|row| row[1] == "ann@acme.example"),
        "{pii_users:?}"
    );
}

#[test]
fn names_are_resolved_with_suggestions_and_bad_requests_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = EventLog::open(dir.path()).unwrap();
        assert_eq!(store(&log, &Value::Array(history()).to_string()), 0);
        log.shutdown();
    }
    let (log, governance) = open(dir.path());
    match reports::resolve(&governance, EntityType::User, "tay") {
        Err(ReportError::NotFound { suggestions, .. }) => {
            assert_eq!(
                suggestions
                    .iter()
                    .map(|e| e.id.as_str())
                    .collect::<Vec<_>>(),
                ["taylor@acme.example"]
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        reports::resolve(&governance, EntityType::User, "Gone User"),
        Err(ReportError::NotFound { .. })
    ));
    assert!(matches!(
        find(EntityType::User, Scope::All, "groups"),
        Err(ReportError::Name(_))
    ));
    match find(EntityType::Group, Scope::One, "nope") {
        Err(ReportError::UnknownReport { known, .. }) => assert_eq!(
            known,
            "members, data-sources-subscribed, projects, attributes"
        ),
        other => panic!("{}", other.is_ok()),
    }
    assert!(matches!(
        EntityType::parse("Data Sources"),
        Ok(EntityType::Datasource)
    ));
    assert!(matches!(
        EntityType::parse("warehouse"),
        Err(ReportError::UnknownEntityType(_))
    ));
    let kind = find(EntityType::User, Scope::One, "data-sources-accessed").unwrap();
    let entity = reports::resolve(&governance, EntityType::User, "Deepu Murty").unwrap();
    let backwards = ReportRequest {
        kind,
        entity: Some(entity.clone()),
        from: TO,
        to: FROM,
        limit: None,
        timeout: Duration::from_secs(5),
    };
    assert!(matches!(
        reports::run(&governance, &backwards),
        Err(ReportError::Range(_))
    ));
    let limited = ReportRequest {
        kind,
        entity: Some(entity),
        from: FROM,
        to: TO,
        limit: Some(1),
        timeout: Duration::from_secs(5),
    };
    let table = reports::run(&governance, &limited).unwrap();
    assert_eq!(table.rows.len(), 1);
    assert!(table.truncated);
    governance.shutdown();
    log.shutdown();
}

#[test]
fn a_report_past_its_timeout_is_cancelled_and_the_next_one_still_runs() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = EventLog::open(dir.path()).unwrap();
        assert_eq!(store(&log, &Value::Array(history()).to_string()), 0);
        log.shutdown();
    }
    let (log, governance) = open(dir.path());
    // Two million more access facts for one user, so that the report has real work to do.
    let conn = rusqlite::Connection::open(dir.path().join("governance.db")).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.execute(
        "INSERT INTO access(user_key, ts, seq, ds_key, project_id)
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000000)
         SELECT (SELECT key FROM users WHERE id = 'deepu@acme.example'), ?1 + i, 10000000 + i,
                (SELECT key FROM datasources WHERE id = '5002'), NULL FROM n",
        [FROM],
    )
    .unwrap();
    drop(conn);
    let kind = find(EntityType::User, Scope::One, "data-sources-accessed").unwrap();
    let entity = reports::resolve(&governance, EntityType::User, "Deepu Murty").unwrap();
    let request = |timeout| ReportRequest {
        kind,
        entity: Some(entity.clone()),
        from: FROM,
        to: TO,
        limit: None,
        timeout,
    };
    match reports::run(&governance, &request(Duration::from_millis(1))) {
        Err(error @ ReportError::TimedOut(_)) => assert!(error.to_string().contains("timeout")),
        other => panic!("expected a timeout, got {:?}", other.map(|t| t.rows.len())),
    }
    let table = reports::run(&governance, &request(Duration::from_secs(120))).unwrap();
    assert_eq!(table.rows[1][0], "Orders");
    assert_eq!(table.rows[1][3], 2_000_001);
    governance.shutdown();
    log.shutdown();
}

/// Fails when a row has `value` in column `column`.
fn assert_no_row(rows: &[Vec<String>], column: usize, value: &str) {
    assert!(
        !rows.iter().any(|row| row[column] == value),
        "a row with {value}: {rows:?}"
    );
}

/// Runs a report over `[from, to]`.
fn run_range(
    governance: &Governance,
    entity: EntityType,
    name: Option<&str>,
    key: &str,
    (from, to): (&str, &str),
) -> Vec<Vec<String>> {
    let scope = if name.is_some() {
        Scope::One
    } else {
        Scope::All
    };
    let entity_ref = name.map(|name| reports::resolve(governance, entity, name).unwrap());
    let table = reports::run(
        governance,
        &ReportRequest {
            kind: find(entity, scope, key).unwrap(),
            entity: entity_ref,
            from: Timestamp::parse(from).unwrap().unix_micros(),
            to: Timestamp::parse(to).unwrap().unix_micros(),
            limit: None,
            timeout: Duration::from_secs(60),
        },
    )
    .unwrap();
    rows(&table)
}

#[test]
fn unregistered_users_and_tables_stay_out_joined_dates_are_true_and_history_is_about_subscriptions()
{
    let mut h = History {
        events: Vec::new(),
        minute: 0,
    };
    // A platform user no admin event names, and a table no admin event registers.
    let stranger = actor("stranger@acme.example", "Stranger", "999");
    h.query(
        "2026-10-14T09:00:00.000Z",
        stranger,
        json!([customers()]),
        None,
        "SELECT * FROM customers",
        "SUCCESS",
    );
    h.query(
        "2026-10-14T10:00:00.000Z",
        deepu(),
        json!([ds("9999", "Scratch", "SNOWFLAKE")]),
        None,
        "SELECT * FROM scratch",
        "SUCCESS",
    );
    // Ann rejoins Analysts on 10-26, after the group joined Fraud Analytics (10-07).
    let ann_user = user("ann@acme.example", "O'Brien, \"Ann\"", "103");
    h.push_at("2026-10-26T10:00:00.000Z", "MEMBER_ADD", "GROUP", taylor(), json!([group("g-analysts", "Analysts")]), json!([ann_user]),
        json!({ "type": "GroupMemberAddedAuditPayload", "version": 1, "groupId": "g-analysts", "userId": "ann@acme.example" }), "SUCCESS");
    // A data source request that is denied, and one still pending.
    let request = |id: &str, who: &Value| json!([{ "type": "SUBSCRIPTION", "id": id, "name": id, "subscriber": who, "model": orders() }]);
    let deepu_user = user("deepu@acme.example", "Deepu Murty", "102");
    h.push_at("2026-10-20T09:00:00.000Z", "SUBSCRIPTION_REQUESTED", "DATASOURCE", deepu(), json!([orders()]), request("s20", &deepu_user),
        json!({ "type": "SubscriptionRequestedAuditPayload", "version": 1, "status": "PENDING", "modelId": "5002", "modelType": "DATASOURCE",
                "subscriberType": "USER", "subscriptionId": "s20" }), "SUCCESS");
    h.push_at("2026-10-21T09:00:00.000Z", "SUBSCRIPTION_REQUEST_DENY", "SUBSCRIPTION", taylor(), request("s20", &deepu_user), json!([]),
        json!({ "type": "SubscriptionRequestDeniedAuditPayload", "version": 1, "subscriptionId": "s20", "denialReason": "No" }), "SUCCESS");
    h.push_at("2026-10-22T09:00:00.000Z", "SUBSCRIPTION_REQUESTED", "DATASOURCE", ann(), json!([orders()]), request("s21", &ann_user),
        json!({ "type": "SubscriptionRequestedAuditPayload", "version": 1, "status": "PENDING", "modelId": "5002", "modelType": "DATASOURCE",
                "subscriberType": "USER", "subscriptionId": "s21" }), "SUCCESS");
    for (index, event) in h.events.iter_mut().enumerate() {
        event["id"] = json!(format!("more-{index}"));
    }
    let dir = tempfile::tempdir().unwrap();
    {
        let log = EventLog::open(dir.path()).unwrap();
        assert_eq!(store(&log, &Value::Array(history()).to_string()), 0);
        assert_eq!(store(&log, &Value::Array(h.events).to_string()), 0);
        log.shutdown();
    }
    let (log, governance) = open(dir.path());
    let october = ("2026-10-01T00:00:00Z", "2026-10-31T23:59:59Z");

    // Seed 000: "Non-registered users' activity will not appear in reports."
    let status = run_range(&governance, EntityType::User, None, "status", october);
    assert_no_row(&status, 1, "stranger@acme.example");
    let customers_users = run_range(
        &governance,
        EntityType::Datasource,
        Some("5001"),
        "users-accessed",
        october,
    );
    assert_no_row(&customers_users, 1, "stranger@acme.example");
    assert!(
        reports::resolve(&governance, EntityType::User, "stranger@acme.example").is_err(),
        "an unregistered user cannot be chosen"
    );
    // "Activity to non-registered tables will not appear in the reports."
    let deepu_sources = run_range(
        &governance,
        EntityType::User,
        Some("Deepu Murty"),
        "data-sources-accessed",
        october,
    );
    assert_no_row(&deepu_sources, 0, "Scratch");

    // Seed 000: "Users and groups who are members of the project ... when the users joined, and
    // the subscription types ... Group subscriptions occur when an entire group is added to a
    // project." A member who reached the project through a group joined it when both held.
    let members = run_range(
        &governance,
        EntityType::Project,
        Some("pr-1"),
        "members",
        october,
    );
    let ann_via_group = members
        .iter()
        .find(|row| row[1] == "ann@acme.example" && row[5] == "Group: Analysts")
        .unwrap_or_else(|| panic!("{members:?}"));
    assert_eq!(ann_via_group[4], "2026-10-26T10:00:00.000Z", "{members:?}");

    // Seed 000: "All users who have subscribed to the data source ... when users subscribed ...
    // and the dates and reasons users unsubscribed ... By default, this report only displays the
    // last month of results." Subscriptions that began or ended in the range; a denied or
    // pending request is not a subscription.
    let orders_history = run_range(
        &governance,
        EntityType::Datasource,
        Some("5002"),
        "subscription-history",
        ("2026-10-08T00:00:00Z", "2026-10-31T23:59:59Z"),
    );
    assert_eq!(
        orders_history
            .iter()
            .map(|row| (row[0].as_str(), row[9].as_str()))
            .collect::<Vec<_>>(),
        [("Deepu Murty", "REMOVED")],
        "only Deepu's subscription, removed on 10-08: {orders_history:?}"
    );
    governance.shutdown();
    drop(governance);
    log.shutdown();
    drop(log);

    // Registered later (the admin event arrives after the queries): the earlier queries count.
    let log = EventLog::open(dir.path()).unwrap();
    let registered = json!([{
        "id": "stranger-created", "action": "CREATE", "targetType": "USER", "eventTimestamp": "2026-10-13T09:00:00.000Z",
        "actor": system(), "targets": [user("stranger@acme.example", "Stranger", "999")], "relatedResources": [],
        "auditPayload": { "type": "UserCreatedAuditPayload", "version": 1, "name": "Stranger", "email": "stranger@acme.example" }
    }]);
    assert_eq!(store(&log, &registered.to_string()), 0);
    log.shutdown();
    drop(log);
    let (log, governance) = open(dir.path());
    let customers_users = run_range(
        &governance,
        EntityType::Datasource,
        Some("5001"),
        "users-accessed",
        october,
    );
    assert!(
        customers_users
            .iter()
            .any(|row| row[1] == "stranger@acme.example"),
        "{customers_users:?}"
    );
    governance.shutdown();
    log.shutdown();
}

/// Retention removes the oldest events from the log; the projection forgets their accesses, so
/// that over any range every report gives what it gives for a log that never had them, and says
/// where its history starts. Two September queries are stored first, then the October history;
/// retention with an October cutoff removes just the two.
#[test]
fn after_retention_no_report_counts_an_access_of_a_removed_event() {
    const SEPTEMBER: i64 = 1_788_220_800_000_000; // 2026-09-01T00:00:00Z
    let range = (SEPTEMBER, TO);
    let history = Value::Array(history()).to_string();
    let reference_dir = tempfile::tempdir().unwrap();
    {
        let log = EventLog::open(reference_dir.path()).unwrap();
        assert_eq!(store(&log, &history), 0);
        log.shutdown();
    }
    let (log, governance) = open(reference_dir.path());
    let reference = all_results_in(&governance, range);
    governance.shutdown();
    log.shutdown();

    let dir = tempfile::tempdir().unwrap();
    let mut old = History {
        events: Vec::new(),
        minute: 0,
    };
    old.query(
        "2026-09-10T10:00:00.000Z",
        taylor(),
        json!([customers()]),
        None,
        "SELECT 'old 1'",
        "SUCCESS",
    );
    old.query(
        "2026-09-11T10:00:00.000Z",
        deepu(),
        json!([orders()]),
        Some("pr-1"),
        "SELECT 'old 2'",
        "SUCCESS",
    );
    {
        let log = EventLog::open(dir.path()).unwrap();
        for (i, event) in old.events.iter_mut().enumerate() {
            event["id"] = json!(format!("september-{i}"));
        }
        assert_eq!(store(&log, &Value::Array(old.events).to_string()), 0);
        assert_eq!(store(&log, &history), 0);
        log.shutdown();
    }
    let (log, governance) = open(dir.path());
    let before = all_results_in(&governance, range);
    let differing: Vec<&String> = before
        .iter()
        .filter(|(report, result)| reference.get(*report) != Some(*result))
        .map(|(report, _)| report)
        .collect();
    // The September accesses count before retention: in Customers' users and purposes of
    // access, and in Deepu's data sources accessed.
    assert_eq!(differing.len(), 3, "{differing:?}");

    let key = vigil_core::export::SigningKey::load(dir.path()).unwrap();
    let cutoff = Timestamp::parse("2026-10-01T00:00:00Z").unwrap();
    let removal = vigil_core::apply_retention(&log, &key, cutoff, 30)
        .unwrap()
        .expect("the September queries are removed");
    assert_eq!((removal.from_seq, removal.to_seq), (1, 2));
    assert!(governance.wait_until_projected(log.last_seq().unwrap(), Duration::from_secs(60)));
    let after = all_results_in(&governance, range);
    for (report, result) in &reference {
        assert_eq!(after.get(report), Some(result), "{report}");
    }
    let table = run_in(
        &governance,
        EntityType::User,
        Some("Taylor Smith"),
        "data-sources-accessed",
        None,
        range,
    )
    .unwrap();
    assert_eq!(
        table.history_starts_at.as_deref(),
        Some("2026-10-01T00:00:00.000Z")
    );
    assert!(
        table
            .notes
            .iter()
            .any(|note| note.contains("retention removed the events before 2026-10-01")),
        "{:?}",
        table.notes
    );

    // A projection rebuilt from the kept log agrees.
    governance.shutdown();
    drop(governance);
    log.shutdown();
    drop(log);
    let log = EventLog::open(dir.path()).unwrap();
    rebuild(dir.path(), &log, |_, _| {}).unwrap();
    log.shutdown();
    drop(log);
    let (log, governance) = open(dir.path());
    assert_eq!(all_results_in(&governance, range), after);
    governance.shutdown();
    log.shutdown();
}
