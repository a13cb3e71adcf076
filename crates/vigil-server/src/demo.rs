//! The demo's month: `serve --demo` loads, besides the specification's example events, a few
//! thousand realistic events dated over the 30 days before the first start, generated from a
//! fixed seed: users (with their platform usernames), groups, data sources with tags, projects
//! with purposes and subscriptions, and queries from Snowflake, Databricks (Unity Catalog and
//! Spark) and Starburst/Trino, failures, refusals and unknown platform users among them. Ids are
//! fixed, so a restart stores nothing twice (the month keeps the dates of the first start).

use chrono::{DateTime, Duration, SecondsFormat, Timelike, Utc};
use serde_json::{Value, json};

/// Days of history.
const DAYS: i64 = 30;

/// A tiny deterministic generator (SplitMix64): the same month every time.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

struct User {
    id: &'static str,
    name: &'static str,
    snowflake: &'static str,
    databricks: &'static str,
    trino: &'static str,
}

const USERS: [User; 8] = [
    User {
        id: "taylor@acme.example",
        name: "Taylor Smith",
        snowflake: "TSMITH",
        databricks: "taylor@acme.example",
        trino: "taylor",
    },
    User {
        id: "deepu@acme.example",
        name: "Deepu Murty",
        snowflake: "DMURTY",
        databricks: "deepu@acme.example",
        trino: "deepu",
    },
    User {
        id: "ann@acme.example",
        name: "Ann Lee",
        snowflake: "ALEE",
        databricks: "ann@acme.example",
        trino: "ann",
    },
    User {
        id: "jordan@acme.example",
        name: "Jordan Park",
        snowflake: "JPARK",
        databricks: "jordan@acme.example",
        trino: "jordan",
    },
    User {
        id: "maria@acme.example",
        name: "Maria Garcia",
        snowflake: "MGARCIA",
        databricks: "maria@acme.example",
        trino: "maria",
    },
    User {
        id: "sam@acme.example",
        name: "Sam Okafor",
        snowflake: "SOKAFOR",
        databricks: "sam@acme.example",
        trino: "sam",
    },
    User {
        id: "li@acme.example",
        name: "Li Wei",
        snowflake: "LWEI",
        databricks: "li@acme.example",
        trino: "li",
    },
    User {
        id: "priya@acme.example",
        name: "Priya Natarajan",
        snowflake: "PNATARAJAN",
        databricks: "priya@acme.example",
        trino: "priya",
    },
];

struct Source {
    id: &'static str,
    name: &'static str,
    technology: &'static str,
    database: &'static str,
    schema: &'static str,
    table: &'static str,
    columns: [&'static str; 3],
    tags: &'static [&'static str],
}

const SOURCES: [Source; 8] = [
    Source {
        id: "1001",
        name: "Sales Customers",
        technology: "SNOWFLAKE",
        database: "SALES",
        schema: "PUBLIC",
        table: "CUSTOMERS",
        columns: ["EMAIL", "NAME", "REGION"],
        tags: &["PII"],
    },
    Source {
        id: "1002",
        name: "Orders",
        technology: "SNOWFLAKE",
        database: "SALES",
        schema: "PUBLIC",
        table: "ORDERS",
        columns: ["ORDER_ID", "AMOUNT", "ORDERED_AT"],
        tags: &[],
    },
    Source {
        id: "1003",
        name: "Employees",
        technology: "SNOWFLAKE",
        database: "HR",
        schema: "PUBLIC",
        table: "EMPLOYEES",
        columns: ["SALARY", "NAME", "MANAGER"],
        tags: &["PII", "Confidential"],
    },
    Source {
        id: "1004",
        name: "Transactions",
        technology: "DATABRICKS",
        database: "main",
        schema: "finance",
        table: "transactions",
        columns: ["card_number", "amount", "merchant"],
        tags: &["Confidential"],
    },
    Source {
        id: "1005",
        name: "Claims",
        technology: "DATABRICKS",
        database: "main",
        schema: "insurance",
        table: "claims",
        columns: ["diagnosis", "amount", "member_id"],
        tags: &["PII"],
    },
    Source {
        id: "1006",
        name: "Web Events",
        technology: "DATABRICKS",
        database: "main",
        schema: "marketing",
        table: "web_events",
        columns: ["page", "referrer", "session_id"],
        tags: &[],
    },
    Source {
        id: "1007",
        name: "Lineitem",
        technology: "STARBURST_TRINO",
        database: "tpch",
        schema: "tiny",
        table: "lineitem",
        columns: ["orderkey", "quantity", "extendedprice"],
        tags: &[],
    },
    Source {
        id: "1008",
        name: "Suppliers",
        technology: "STARBURST_TRINO",
        database: "tpch",
        schema: "tiny",
        table: "supplier",
        columns: ["name", "phone", "acctbal"],
        tags: &["PII"],
    },
];

struct Project {
    id: &'static str,
    name: &'static str,
    purpose_id: &'static str,
    purpose: &'static str,
    sources: &'static [&'static str],
    members: &'static [usize],
}

const PROJECTS: [Project; 3] = [
    Project {
        id: "501",
        name: "Fraud Analytics",
        purpose_id: "601",
        purpose: "Fraud Detection",
        sources: &["1001", "1004", "1005"],
        members: &[0, 1, 3],
    },
    Project {
        id: "502",
        name: "Marketing Insights",
        purpose_id: "602",
        purpose: "Marketing Analysis",
        sources: &["1002", "1006"],
        members: &[2, 4, 5],
    },
    Project {
        id: "503",
        name: "HR Reporting",
        purpose_id: "603",
        purpose: "Human Resources Use",
        sources: &["1003"],
        members: &[6, 7],
    },
];

const ADMIN: (&str, &str) = ("admin@acme.example", "Avery Admin");

fn iso(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn admin_actor() -> Value {
    json!({ "type": "USER_ACTOR", "id": ADMIN.0, "name": ADMIN.1, "identityProvider": "okta" })
}

fn system_actor() -> Value {
    json!({ "type": "SYSTEM_ACCOUNT", "id": "immuta_system_account", "name": "Immuta System Account" })
}

fn user_actor(user: &User) -> Value {
    json!({ "type": "USER_ACTOR", "id": user.id, "name": user.name, "identityProvider": "okta" })
}

fn source_ref(source: &Source) -> Value {
    json!({ "type": "DATASOURCE", "id": source.id, "name": source.name, "technology": source.technology })
}

fn source(id: &str) -> &'static Source {
    SOURCES
        .iter()
        .find(|s| s.id == id)
        .expect("a demo data source")
}

/// An admin event of the governance platform.
#[allow(clippy::too_many_arguments)] // one argument per envelope field, in their order
fn admin(
    id: String,
    action: &str,
    actor: Value,
    target_type: &str,
    targets: Value,
    related: Value,
    payload: Value,
    time: DateTime<Utc>,
) -> Value {
    json!({
        "id": id, "action": action, "actionStatus": "SUCCESS", "actor": actor,
        "targetType": target_type, "targets": targets, "relatedResources": related,
        "auditPayload": payload, "eventTimestamp": iso(time), "tenantId": "acme.example",
    })
}

/// The month: setup events (users, groups, data sources, tags, projects, subscriptions) in its
/// first days, then queries every day up to `now`.
pub fn month(now: DateTime<Utc>) -> Vec<Value> {
    let now = now
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(now);
    let start = now - Duration::days(DAYS);
    let mut events = Vec::new();
    let at = |minutes: i64| start + Duration::minutes(minutes);
    let mut minute = 0;
    let mut next = || {
        minute += 7;
        at(minute)
    };
    for (n, user) in USERS.iter().enumerate() {
        let target = json!([{ "type": "USER", "id": user.id, "name": user.name, "identityProvider": "okta", "profileId": format!("{}", 20 + n) }]);
        events.push(admin(
            format!("demo-user-created-{n}"), "CREATE", system_actor(), "USER", target.clone(), json!([]), json!({ "type": "UserCreatedAuditPayload", "version": 1, "name": user.name, "email": user.id }),
            next(),
        ));
        events.push(admin(
            format!("demo-user-mapped-{n}"), "UPDATE", admin_actor(), "USER", target, json!([]), json!({
                "type": "UserUpdatedAuditPayload", "version": 1, "userId": user.id, "userIdProvider": "okta",
                "externalUserIds": [
                    { "technology": "SNOWFLAKE", "username": user.snowflake },
                    { "technology": "DATABRICKS", "username": user.databricks },
                    { "technology": "STARBURST_TRINO", "username": user.trino },
                ],
            }),
            next(),
        ));
    }
    for (n, (group_id, group, members)) in [
        ("701", "Analysts", &[0usize, 1, 2, 3, 4][..]),
        ("702", "People Team", &[6, 7][..]),
    ]
    .into_iter()
    .enumerate()
    {
        let target =
            json!([{ "type": "GROUP", "id": group_id, "name": group, "identityProvider": "okta" }]);
        events.push(admin(
            format!("demo-group-{n}"), "CREATE", admin_actor(), "GROUP", target.clone(), json!([]), json!({ "type": "GroupCreatedAuditPayload", "version": 1, "groupId": group_id, "name": group, "groupIdProvider": "okta" }),
            next(),
        ));
        for &member in members {
            let user = &USERS[member];
            events.push(admin(
                format!("demo-group-{n}-member-{member}"), "MEMBER_ADD", admin_actor(), "GROUP", target.clone(),
                json!([{ "type": "USER", "id": user.id, "name": user.name, "identityProvider": "okta" }]),
                json!({ "type": "GroupMemberAddedAuditPayload", "version": 1, "groupId": group_id, "userId": user.id, "userIdProvider": "okta" }),
                next(),
            ));
        }
    }
    for (n, tag) in ["PII", "Confidential"].iter().enumerate() {
        events.push(admin(
            format!("demo-tag-{n}"), "CREATE", admin_actor(), "TAG",
            json!([{ "type": "TAG", "id": format!("80{n}"), "name": tag, "source": "curated" }]), json!([]),
            json!({ "type": "TagCreatedAuditPayload", "version": 1, "tags": [{ "id": format!("80{n}"), "name": tag, "source": "curated", "type": "TAG" }] }),
            next(),
        ));
    }
    for source in &SOURCES {
        events.push(admin(
            format!("demo-datasource-{}", source.id), "CREATE", admin_actor(), "DATASOURCE",
            json!([source_ref(source)]), json!([]),
            json!({
                "type": "DatasourceCreatedAuditPayload", "version": 1, "technology": source.technology,
                "connectionId": "1", "database": source.database, "schema": source.schema, "table": source.table,
                "columnDetectionEnabled": true, "disabled": false, "sensitiveDataDiscoveryEnabled": true,
            }),
            next(),
        ));
        for tag in source.tags {
            let tag_id = if *tag == "PII" { "800" } else { "801" };
            events.push(admin(
                format!("demo-datasource-{}-tag-{tag_id}", source.id), "TAG_APPLY", admin_actor(), "DATASOURCE",
                json!([source_ref(source)]),
                json!([{ "type": "TAG", "id": tag_id, "name": tag, "source": "curated", "context": "manual" }]),
                json!({ "type": "TagAppliedAuditPayload", "version": 1, "appliedTags": [{ "targetName": source.name, "targetType": "DATASOURCE",
                    "tags": [{ "type": "TAG", "id": tag_id, "name": tag, "source": "curated", "context": "manual" }] }] }),
                next(),
            ));
        }
    }
    // Every user subscribes to the data sources of their platform work; owners are Taylor and Li.
    for (n, user) in USERS.iter().enumerate() {
        for source in SOURCES
            .iter()
            .filter(|s| !(s.id.as_bytes()[3] as usize + n).is_multiple_of(3))
        {
            let subscriber = json!({ "type": "USER", "id": user.id, "name": user.name, "identityProvider": "okta" });
            events.push(admin(
                format!("demo-subscription-{n}-{}", source.id), "CREATE", admin_actor(), "SUBSCRIPTION",
                json!([{ "type": "SUBSCRIPTION", "id": format!("9{n}{}", source.id), "name": format!("9{n}{}", source.id),
                         "subscriber": subscriber, "model": source_ref(source) }]),
                json!([source_ref(source), subscriber]),
                json!({ "type": "SubscriptionCreatedAuditPayload", "modelType": "DATASOURCE", "modelId": source.id,
                        "subscriberType": "USER", "subscriberId": user.id, "status": "APPROVED",
                        "role": if n == 0 || n == 6 { "OWNER" } else { "SUBSCRIBED" }, "isEntitlementsPolicyOverride": false }),
                next(),
            ));
        }
    }
    for project in &PROJECTS {
        let target = json!([{ "type": "PROJECT", "id": project.id, "name": project.name, "projectKey": project.name.to_lowercase().replace(' ', "-") }]);
        let purpose =
            json!({ "type": "PURPOSE", "id": project.purpose_id, "name": project.purpose });
        events.push(admin(
            format!("demo-purpose-{}", project.purpose_id), "UPSERT", admin_actor(), "PURPOSE",
            json!([purpose.clone()]), json!([]),
            json!({ "type": "PurposeUpsertedAuditPayload", "name": project.purpose,
                    "description": format!("Data used for {}.", project.purpose.to_lowercase()),
                    "acknowledgement": "I will use this data only for this purpose.", "subpurposes": [] }),
            next(),
        ));
        events.push(admin(
            format!("demo-project-{}", project.id), "CREATE", admin_actor(), "PROJECT", target.clone(), json!([]), json!({ "type": "ProjectCreatedAuditPayload", "version": 1, "projectId": project.id, "name": project.name,
                    "projectKey": project.name.to_lowercase().replace(' ', "-"), "purposes": [], "stagedPurposes": [],
                    "datasources": [], "tags": [], "disabled": false, "allowMaskedJoins": false, "description": null,
                    "documentation": null, "equalization": null }),
            next(),
        ));
        events.push(admin(
            format!("demo-project-{}-purpose", project.id), "PURPOSE_APPROVE", admin_actor(), "PROJECT", target.clone(),
            json!([purpose]),
            json!({ "type": "ProjectPurposeApprovedAuditPayload", "version": 1, "projectId": project.id, "purposeId": project.purpose_id }),
            next(),
        ));
        events.push(admin(
            format!("demo-project-{}-sources", project.id), "DATASOURCE_APPLY", admin_actor(), "PROJECT", target.clone(),
            json!(project.sources.iter().map(|id| source_ref(source(id))).collect::<Vec<_>>()),
            json!({ "type": "DatasourceAppliedToProjectAuditPayload", "version": 1, "projectId": project.id, "errors": [],
                    "datasources": project.sources.iter().map(|id| json!({ "id": id, "name": source(id).name })).collect::<Vec<_>>() }),
            next(),
        ));
        for &member in project.members {
            let user = &USERS[member];
            let subscriber = json!({ "type": "USER", "id": user.id, "name": user.name, "identityProvider": "okta" });
            events.push(admin(
                format!("demo-project-{}-member-{member}", project.id), "CREATE", admin_actor(), "SUBSCRIPTION",
                json!([{ "type": "SUBSCRIPTION", "id": format!("8{member}{}", project.id), "name": format!("8{member}{}", project.id),
                         "subscriber": subscriber, "model": { "type": "PROJECT", "id": project.id, "name": project.name } }]),
                json!([{ "type": "PROJECT", "id": project.id, "name": project.name }, subscriber]),
                json!({ "type": "SubscriptionCreatedAuditPayload", "modelType": "PROJECT", "modelId": project.id,
                        "subscriberType": "USER", "subscriberId": user.id, "status": "APPROVED", "role": "SUBSCRIBED",
                        "isEntitlementsPolicyOverride": false }),
                next(),
            ));
        }
    }
    // Department attributes of the users.
    for (n, user) in USERS.iter().enumerate() {
        let department = [
            "Finance",
            "Risk",
            "Marketing",
            "Risk",
            "Marketing",
            "Marketing",
            "People",
            "People",
        ][n];
        events.push(admin(
            format!("demo-attribute-{n}"), "ATTRIBUTE_APPLY", admin_actor(), "USER",
            json!([{ "type": "USER", "id": user.id, "name": user.name, "identityProvider": "okta" }]),
            json!([{ "type": "ATTRIBUTE", "id": "department", "name": "Department", "values": [department] }]),
            json!({ "type": "AttributeAppliedAuditPayload", "version": 1, "entityType": "USER", "entityId": user.id,
                    "entityIdProvider": "okta", "attributes": [{ "attribute": "Department", "values": [department] }] }),
            next(),
        ));
    }
    // The Analysts group subscribes to Orders and to the Marketing Insights project.
    let analysts =
        json!({ "type": "GROUP", "id": "701", "name": "Analysts", "identityProvider": "okta" });
    for (n, model, model_type) in [
        (0, source_ref(source("1002")), "DATASOURCE"),
        (
            1,
            json!({ "type": "PROJECT", "id": "502", "name": "Marketing Insights" }),
            "PROJECT",
        ),
    ] {
        let model_id = model["id"].clone();
        events.push(admin(
            format!("demo-group-subscription-{n}"), "CREATE", admin_actor(), "SUBSCRIPTION",
            json!([{ "type": "SUBSCRIPTION", "id": format!("77{n}"), "name": format!("77{n}"), "subscriber": analysts, "model": model }]),
            json!([model, analysts]),
            json!({ "type": "SubscriptionCreatedAuditPayload", "modelType": model_type, "modelId": model_id,
                    "subscriberType": "GROUP", "subscriberId": "701", "status": "APPROVED", "role": "SUBSCRIBED",
                    "isEntitlementsPolicyOverride": false }),
            next(),
        ));
    }
    // A second purpose for Fraud Analytics: its accesses run under both.
    let fraud = json!([{ "type": "PROJECT", "id": "501", "name": "Fraud Analytics", "projectKey": "fraud-analytics" }]);
    let risk = json!({ "type": "PURPOSE", "id": "604", "name": "Risk Reporting" });
    events.push(admin(
        "demo-purpose-604".into(), "UPSERT", admin_actor(), "PURPOSE", json!([risk.clone()]), json!([]),
        json!({ "type": "PurposeUpsertedAuditPayload", "name": "Risk Reporting", "description": "Regulatory risk reports.",
                "acknowledgement": "I will use this data only for risk reporting.", "subpurposes": [] }),
        next(),
    ));
    events.push(admin(
        "demo-project-501-purpose-604".into(), "PURPOSE_APPROVE", admin_actor(), "PROJECT", fraud, json!([risk]),
        json!({ "type": "ProjectPurposeApprovedAuditPayload", "version": 1, "projectId": "501", "purposeId": "604" }),
        next(),
    ));
    // Global policies: masking PII everywhere it is tagged, certified on one source; a row
    // filter on Transactions, later disabled there.
    for (policy_id, name, kind) in [
        ("901", "Mask PII columns", "MASKING"),
        ("902", "Only own region", "ROW_RESTRICTION"),
    ] {
        events.push(admin(
            format!("demo-policy-{policy_id}"), "CREATE", admin_actor(), "GLOBAL_POLICY",
            json!([{ "type": "GLOBAL_POLICY", "id": policy_id, "name": name, "policyKey": name.to_lowercase() }]),
            json!([]),
            json!({ "type": "GlobalPolicyCreatedAuditPayload", "policy": { "type": "DATA", "actions": [{ "type": "DATA",
                    "dataPolicyType": kind, "rules": [], "rationale": null }],
                    "circumstance": { "type": "CONDITIONAL", "operator": "any", "conditions": [{ "type": "TAG", "tagType": "COLUMN", "tag": "PII" }] } } }),
            next(),
        ));
    }
    let policy = |id: &str, name: &str| json!([{ "type": "GLOBAL_POLICY", "id": id, "name": name, "policyKey": name.to_lowercase() }]);
    for source in SOURCES.iter().filter(|s| s.tags.contains(&"PII")) {
        events.push(admin(
            format!("demo-policy-901-on-{}", source.id), "POLICY_APPLIED", system_actor(), "DATASOURCE",
            json!([source_ref(source)]), policy("901", "Mask PII columns"),
            json!({ "type": "DatasourceGlobalPolicyAppliedAuditPayload", "version": 1, "conflict": null,
                    "policy": { "type": "DATA", "actions": [{ "type": "DATA", "dataPolicyType": "MASKING", "global": true, "rules": [] }] } }),
            next(),
        ));
    }
    let certified = iso(next());
    events.push(admin(
        "demo-policy-901-certified".into(), "POLICY_CERTIFY", admin_actor(), "DATASOURCE",
        json!([source_ref(source("1003"))]), policy("901", "Mask PII columns"),
        json!({ "type": "DatasourcePolicyCertifiedAuditPayload", "version": 1, "certificationDate": certified,
                "columns": [{ "name": "SALARY", "tags": [{ "type": "TAG", "id": "800", "name": "PII", "source": "curated", "context": "manual" }] }] }),
        next(),
    ));
    for (n, action, payload) in [
        (
            0,
            "POLICY_APPLIED",
            json!({ "type": "DatasourceGlobalPolicyAppliedAuditPayload", "version": 1, "conflict": null,
            "policy": { "type": "DATA", "actions": [{ "type": "DATA", "dataPolicyType": "ROW_RESTRICTION", "global": true, "rules": [] }] } }),
        ),
        (
            1,
            "POLICY_DISABLED",
            json!({ "type": "DatasourceGlobalPolicyDisabledAuditPayload", "version": 1 }),
        ),
    ] {
        events.push(admin(
            format!("demo-policy-902-on-1004-{n}"),
            action,
            admin_actor(),
            "DATASOURCE",
            json!([source_ref(source("1004"))]),
            policy("902", "Only own region"),
            payload,
            next(),
        ));
    }
    // Sensitive data discovery tagged columns; the row filter conflicts on Claims.
    for (source_id, column, tag) in [
        ("1001", "EMAIL", "Discovered.Email"),
        ("1003", "NAME", "Discovered.Person Name"),
        ("1005", "member_id", "Discovered.Identifier"),
    ] {
        let tagged = json!([{ "type": "TAG", "name": tag, "source": "sdd", "context": "sdd" }]);
        events.push(admin(
            format!("demo-discovered-{source_id}"), "TAG_APPLY", system_actor(), "DATASOURCE",
            json!([source_ref(source(source_id))]), tagged.clone(),
            json!({ "type": "TagAppliedAuditPayload", "version": 1,
                    "appliedTags": [{ "targetName": column, "targetType": "COLUMN", "tags": tagged }] }),
            next(),
        ));
    }
    events.push(admin(
        "demo-policy-902-on-1005".into(), "POLICY_APPLIED", system_actor(), "DATASOURCE",
        json!([source_ref(source("1005"))]), policy("902", "Only own region"),
        json!({ "type": "DatasourceGlobalPolicyAppliedAuditPayload", "version": 1,
                "conflict": { "policies": ["Only own region", "Mask PII columns"], "reason": "two row restrictions" },
                "policy": { "type": "DATA", "actions": [{ "type": "DATA", "dataPolicyType": "ROW_RESTRICTION", "global": true, "rules": [] }] } }),
        next(),
    ));
    events.push(admin(
        "demo-group-attribute".into(), "ATTRIBUTE_APPLY", admin_actor(), "GROUP",
        json!([{ "type": "GROUP", "id": "701", "name": "Analysts", "identityProvider": "okta" }]),
        json!([{ "type": "ATTRIBUTE", "id": "clearance", "name": "Clearance", "values": ["Internal"] }]),
        json!({ "type": "AttributeAppliedAuditPayload", "version": 1, "entityType": "GROUP", "entityId": "701",
                "entityIdProvider": "okta", "attributes": [{ "attribute": "Clearance", "values": ["Internal"] }] }),
        next(),
    ));
    events.extend(queries(start + Duration::hours(12), now));
    events
}

/// Queries from every platform, mostly in working hours, about 100 a day.
fn queries(from: DateTime<Utc>, now: DateTime<Utc>) -> Vec<Value> {
    let mut rng = Rng(0x5EED_0FD3_3000);
    let mut events = Vec::new();
    let span = (now - from).num_minutes().max(1) as u64;
    let count = (DAYS as u64) * 100;
    for n in 0..count {
        // Times spread over the month, pulled into working hours (08:00–19:00 UTC) mostly.
        let mut time = from + Duration::minutes(rng.below(span) as i64);
        if rng.chance(80) {
            let hour = 8 + rng.below(11) as u32;
            time = time.with_hour(hour).unwrap_or(time);
            if time > now {
                time -= Duration::days(1);
            }
        }
        let source = rng.pick(&SOURCES);
        let user_index = rng.below(USERS.len() as u64) as usize;
        let user = &USERS[user_index];
        let unknown = rng.chance(3);
        let roll = rng.below(100);
        let column = *rng.pick(&source.columns);
        let text = match rng.below(4) {
            0 => format!(
                "SELECT {column} FROM {}.{}.{} LIMIT 100",
                source.database, source.schema, source.table
            ),
            1 => format!(
                "SELECT count(*) FROM {}.{}.{} WHERE {column} IS NOT NULL",
                source.database, source.schema, source.table
            ),
            2 => format!(
                "SELECT {column}, count(*) FROM {}.{}.{} GROUP BY {column}",
                source.database, source.schema, source.table
            ),
            _ => format!(
                "SELECT * FROM {}.{}.{} ORDER BY 1 DESC LIMIT 20",
                source.database, source.schema, source.table
            ),
        };
        let duration = 0.2 + rng.below(9_000) as f64 / 1000.0;
        let project = PROJECTS
            .iter()
            .find(|p| p.members.contains(&user_index) && p.sources.contains(&source.id));
        events.push(query(
            n, source, user, unknown, roll, column, &text, time, duration, project,
        ));
    }
    events
}

/// One query event shaped like the integration for its technology would store it.
#[allow(clippy::too_many_arguments)]
fn query(
    n: u64,
    source: &Source,
    user: &User,
    unknown: bool,
    roll: u64,
    column: &str,
    text: &str,
    time: DateTime<Utc>,
    duration: f64,
    project: Option<&Project>,
) -> Value {
    let id = format!("demo-query-{n:05}");
    let end = time + Duration::milliseconds((duration * 1000.0) as i64);
    let platform_user = match source.technology {
        "SNOWFLAKE" => {
            if unknown {
                "SVC_LOADER"
            } else {
                user.snowflake
            }
        }
        "DATABRICKS" => {
            if unknown {
                "etl-service@acme.example"
            } else {
                user.databricks
            }
        }
        _ => {
            if unknown {
                "batch"
            } else {
                user.trino
            }
        }
    };
    let actor = if unknown {
        json!({ "type": "UNKNOWN", "id": "Unknown", "name": "Unknown" })
    } else {
        user_actor(user)
    };
    // Refusals happen where the platform reports them (Unity Catalog); failures everywhere.
    let (status, reason, code) = match (source.technology, roll) {
        ("DATABRICKS", 0..=3) => (
            "UNAUTHORIZED",
            Some(format!(
                "[INSUFFICIENT_PERMISSIONS] Insufficient privileges: User does not have SELECT on Table '{}.{}.{}'.",
                source.database, source.schema, source.table
            )),
            Some("INSUFFICIENT_PERMISSIONS"),
        ),
        (_, 4..=6) => (
            "FAILURE",
            Some(format!(
                "SQL compilation error: invalid identifier '{}'",
                column.to_uppercase() + "_OLD"
            )),
            Some("000904"),
        ),
        _ => ("SUCCESS", None, None),
    };
    let spark = source.technology == "DATABRICKS" && n.is_multiple_of(3);
    let context = match source.technology {
        "SNOWFLAKE" => json!({
            "type": "SnowflakeContext", "host": "acme.snowflakecomputing.com", "snowflakeUsername": platform_user,
            "rowsProduced": if status == "SUCCESS" { json!(20 + n % 480) } else { Value::Null },
            "roleName": "ANALYST", "warehouseId": "3", "warehouseName": "ANALYTICS_WH", "clusterNumber": 1,
        }),
        "DATABRICKS" if spark => json!({
            "type": "DatabricksContext", "clusterId": "0312-093018-demo", "clusterName": "analytics",
            "workspaceId": "3841033049363283", "service": "CLUSTER", "queryLanguage": "python",
            "account": { "id": format!("{n}"), "username": platform_user }, "host": "dbc-demo.cloud.databricks.com",
            "metastoreTables": [format!("{}.{}.{}", source.database, source.schema, source.table)],
            "rowsProduced": 100,
        }),
        "DATABRICKS" => json!({
            "type": "DatabricksContext", "clusterId": null, "workspaceId": "3841033049363283", "service": "WAREHOUSE",
            "queryLanguage": "sql", "warehouseId": "559483c6eac0359f", "notebookId": null,
            "account": { "id": format!("{n}"), "username": platform_user }, "host": "dbc-demo.cloud.databricks.com",
            "rowsProduced": 100,
        }),
        _ => json!({
            "type": "TrinoContext", "trinoUsername": platform_user, "rowsProduced": 25, "clientIp": format!("10.0.{}.{}", n % 7, 10 + n % 200),
        }),
    };
    let mut payload = json!({
        "type": "QueryAuditPayload", "version": 1, "queryId": id, "query": text,
        "startTime": iso(time), "endTime": iso(end), "duration": duration, "errorCode": code,
        "technologyContext": context,
        "objectsAccessed": [{
            "name": format!("{}.{}.{}", source.database, source.schema, source.table), "datasourceId": source.id,
            "databaseName": source.database, "schemaName": source.schema, "type": "TABLE",
            "columns": [{ "name": column, "tags": [], "inferred": false }],
            "tags": source.tags.iter().map(|tag| json!({ "name": tag })).collect::<Vec<_>>(),
            "securityProfile": { "sensitivity": { "score": if source.tags.is_empty() { "NONSENSITIVE" } else { "SENSITIVE" } } },
        }],
    });
    if spark && let Some(project) = project {
        payload["accessControls"] =
            json!({ "project": { "id": project.id, "name": project.name }, "entitlements": {} });
    }
    json!({
        "id": id, "action": "QUERY", "actor": actor, "actionStatus": status, "actionStatusReason": reason,
        "eventTimestamp": iso(time), "targetType": "DATASOURCE", "targets": [source_ref(source)],
        "relatedResources": [], "sessionId": format!("demo-session-{}", n / 5), "auditPayload": payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_month_is_the_same_every_time_and_valid_uam() {
        let now = "2026-11-29T12:34:56Z".parse().unwrap();
        let first = month(now);
        assert_eq!(first, month(now));
        assert!(first.len() > 3_000, "{}", first.len());
        let mut ids = std::collections::HashSet::new();
        for event in &first {
            assert!(
                ids.insert(event["id"].as_str().unwrap().to_owned()),
                "{event}"
            );
            let text = event.to_string();
            vigil_model::UamEvent::from_json(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
            assert!(
                event["eventTimestamp"].as_str().unwrap() <= "2026-11-29T12:34:00.000Z",
                "{event}"
            );
        }
        let statuses: std::collections::HashSet<&str> = first
            .iter()
            .filter_map(|e| e["actionStatus"].as_str())
            .collect();
        assert_eq!(statuses.len(), 3, "{statuses:?}");
        assert!(first.iter().any(|e| e["actor"]["type"] == "UNKNOWN"));
    }
}
