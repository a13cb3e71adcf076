//! Applies one stored event to the governance tables: who, what, when and by whom, as the audit
//! trail says it. Events that failed (`actionStatus` other than `SUCCESS`) change nothing.

use std::borrow::Cow;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;
use vigil_model::{
    Actor, AttributeAppliedPayload, DatasourceAppliedToProjectPayload, DatasourceCreatedPayload,
    DatasourceGlobalPolicyAppliedPayload, DatasourcePolicyCertifiedPayload,
    DatasourceUpdatedPayload, EventType, GroupCreatedPayload, GroupMemberAddedPayload,
    LocalPolicyUpdatedPayload, PolicyDefinition, ProjectCreatedPayload,
    ProjectPurposeApprovedPayload, PurposeDeletedPayload, Resource, SDDClassifierCreatedPayload,
    SDDClassifierDeletedPayload, TagAppliedPayload, TagCreatedPayload, TagRemovedPayload,
    TagUpdatedPayload, TargetType, Timestamp, UserCreatedPayload, UserDeletedPayload,
    UserUpdatedPayload,
};

use super::history;
use crate::log::Seq;

/// The envelope fields the projection reads; the payload stays raw until its type is known.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    actor: Option<Actor>,
    targets: Option<Vec<Resource>>,
    related_resources: Option<Vec<Resource>>,
    #[serde(borrow)]
    action_status: Option<Cow<'a, str>>,
    event_timestamp: Option<Timestamp>,
    #[serde(rename = "type", borrow)]
    type_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    audit_payload: Option<&'a RawValue>,
}

/// Only the `type` of a payload.
#[derive(Deserialize)]
struct PayloadType<'a> {
    #[serde(rename = "type", borrow)]
    type_name: Option<Cow<'a, str>>,
}

/// What the projection reads of a query payload: the user's project at the time of the query.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryPayload {
    access_controls: Option<QueryAccessControls>,
}

#[derive(Deserialize)]
struct QueryAccessControls {
    project: Option<Value>,
    entitlements: Option<QueryEntitlements>,
}

/// Seed 001 lists `project` among the user's entitlements at the time of the query.
#[derive(Deserialize)]
struct QueryEntitlements {
    project: Option<Value>,
}

/// One event being applied.
struct Event<'a> {
    seq: Seq,
    ts: i64,
    actor: Option<Actor>,
    targets: Vec<Resource>,
    related: Vec<Resource>,
    payload: Option<&'a RawValue>,
}

impl Event<'_> {
    /// The actor's display name: its name, else its id.
    fn by(&self) -> Option<String> {
        let actor = self.actor.as_ref()?;
        actor
            .name
            .clone()
            .or_else(|| actor.id.as_ref().map(|id| id.0.clone()))
    }

    /// The first target or related resource of `kind`, targets first.
    fn resource(&self, kind: &TargetType) -> Option<&Resource> {
        self.targets
            .iter()
            .chain(&self.related)
            .find(|r| r.resource_type.as_ref() == Some(kind))
    }

    fn resources<'s>(&'s self, kind: &'s TargetType) -> impl Iterator<Item = &'s Resource> + 's {
        self.targets
            .iter()
            .chain(&self.related)
            .filter(move |r| r.resource_type.as_ref() == Some(kind))
    }

    fn payload<T: DeserializeOwned>(&self) -> Option<T> {
        let raw = self.payload?;
        match serde_json::from_str(raw.get()) {
            Ok(payload) => Some(payload),
            Err(error) => {
                tracing::debug!(seq = self.seq, %error, "governance projection: unreadable payload");
                None
            }
        }
    }

    fn resource_id(&self, kind: &TargetType) -> Option<String> {
        self.resource(kind).and_then(|r| id_of(r.id.as_ref()))
    }
}

fn id_of(id: Option<&vigil_model::Id>) -> Option<String> {
    id.map(|id| id.0.clone()).filter(|id| !id.is_empty())
}

/// Applies one stored event. An event the projection cannot read is skipped (and logged): it was
/// validated when it was stored, so this only happens for shapes the projection does not know.
pub(super) fn apply(conn: &Connection, seq: Seq, json: &str) -> rusqlite::Result<()> {
    let envelope: Envelope<'_> = match serde_json::from_str(json) {
        Ok(envelope) => envelope,
        Err(error) => {
            tracing::debug!(seq, %error, "governance projection: unreadable event");
            return Ok(());
        }
    };
    if envelope
        .action_status
        .as_deref()
        .is_some_and(|status| status != "SUCCESS")
    {
        return Ok(());
    }
    let Some(time) = envelope.event_timestamp else {
        return Ok(());
    };
    let payload_type = envelope
        .audit_payload
        .and_then(|raw| serde_json::from_str::<PayloadType<'_>>(raw.get()).ok())
        .and_then(|probe| probe.type_name);
    let event_type = payload_type
        .as_deref()
        .and_then(|name| EventType::from_payload_type(name).or_else(|| EventType::from_name(name)))
        .or_else(|| {
            let name = envelope.type_name.as_deref()?;
            EventType::from_name(name).or_else(|| EventType::from_payload_type(name))
        });
    let Some(event_type) = event_type else {
        return Ok(());
    };
    let event = Event {
        seq,
        ts: time.unix_micros(),
        actor: envelope.actor,
        targets: envelope.targets.unwrap_or_default(),
        related: envelope.related_resources.unwrap_or_default(),
        payload: envelope.audit_payload,
    };
    apply_typed(conn, event_type, &event)
}

fn apply_typed(c: &Connection, event_type: EventType, e: &Event<'_>) -> rusqlite::Result<()> {
    use EventType as T;
    match event_type {
        T::Query => query(c, e),
        T::UserCreated => user_created(c, e),
        T::UserUpdated => user_updated(c, e),
        T::UserDeleted => user_deleted(c, e),
        T::UserAuthenticated => user_authenticated(c, e),
        T::GroupCreated | T::GroupUpdated => group_upserted(c, e, event_type == T::GroupCreated),
        T::GroupDeleted => group_deleted(c, e),
        T::GroupMemberAdded => group_member(c, e, true),
        T::GroupMemberRemoved => group_member(c, e, false),
        T::AttributeApplied => attributes(c, e, true),
        T::AttributeRemoved => attributes(c, e, false),
        T::DatasourceCreated => datasource_created(c, e),
        T::DatasourceUpdated => datasource_updated(c, e),
        T::DatasourceDeleted => datasource_flag(c, e, "deleted"),
        T::DatasourceDisabled => datasource_flag(c, e, "disabled"),
        T::TagCreated => tag_created(c, e),
        T::TagUpdated => tag_updated(c, e),
        T::TagDeleted => tag_deleted(c, e),
        T::TagApplied => tags_on_datasource(c, e, true),
        T::TagRemoved => tags_on_datasource(c, e, false),
        T::ProjectCreated => project_created(c, e),
        T::ProjectUpdated => project_upsert(c, e).map(|_| ()),
        T::ProjectDeleted => project_flag(c, e, "deleted"),
        T::ProjectDisabled => project_flag(c, e, "disabled"),
        T::DatasourceAppliedToProject => project_datasources(c, e, true),
        T::DatasourceRemovedFromProject => project_datasources(c, e, false),
        T::ProjectPurposeApproved => project_purpose(c, e, true),
        T::ProjectPurposeDenied => project_purpose(c, e, false),
        T::PurposeUpserted | T::PurposeUpdated => purpose_upserted(c, e),
        T::PurposeDeleted => purpose_deleted(c, e),
        T::SubscriptionRequested => subscription_requested(c, e),
        T::SubscriptionCreated => subscription_created(c, e),
        T::SubscriptionRequestApproved => subscription_approved(c, e),
        T::SubscriptionRequestDenied => subscription_ended(c, e, "DENIED"),
        T::SubscriptionDeleted => subscription_ended(c, e, "REMOVED"),
        T::SubscriptionUpdated => subscription_updated(c, e),
        T::GlobalPolicyCreated | T::GlobalPolicyUpdated => {
            global_policy_upserted(c, e, event_type == T::GlobalPolicyCreated)
        }
        T::GlobalPolicyDeleted => global_policy_deleted(c, e),
        T::DatasourceGlobalPolicyApplied => policy_applied(c, e),
        T::DatasourceGlobalPolicyConflictResolved => policy_conflict_resolved(c, e),
        T::DatasourceGlobalPolicyDisabled => policy_disabled(c, e),
        T::DatasourceGlobalPolicyRemoved => policy_removed(c, e),
        T::DatasourcePolicyCertified => policy_certified(c, e),
        T::DatasourcePolicyDecertified | T::DatasourcePolicyCertificationExpired => {
            policy_decertified(c, e)
        }
        T::LocalPolicyCreated | T::LocalPolicyUpdated => local_policy(c, e),
        T::SDDClassifierCreated | T::SDDClassifierUpdated => classifier_upserted(c, e),
        T::SDDClassifierDeleted => classifier_deleted(c, e),
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Users and groups

/// A user as some resource names it; returns its key, creating the row when it is new and
/// filling in what the resource adds.
fn upsert_user(
    c: &Connection,
    id: &str,
    name: Option<&str>,
    idp: Option<&str>,
    profile: Option<&str>,
) -> rusqlite::Result<i64> {
    c.prepare_cached(
        "INSERT INTO users(id, name, idp, profile_id) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(id) DO UPDATE SET name = coalesce(excluded.name, name),
             idp = coalesce(excluded.idp, idp), profile_id = coalesce(excluded.profile_id, profile_id),
             registered = 1
         RETURNING key",
    )?
    .query_row(params![id, name, idp, profile], |r| r.get(0))
}

fn upsert_user_resource(c: &Connection, r: &Resource) -> rusqlite::Result<Option<i64>> {
    let Some(id) = id_of(r.id.as_ref()) else {
        return Ok(None);
    };
    upsert_user(
        c,
        &id,
        r.name.as_deref(),
        r.identity_provider.as_deref(),
        r.profile_id.as_ref().map(|p| p.as_str()),
    )
    .map(Some)
}

/// The key of a user known by id, or by profile id (the subscription payloads' `subscriberId`).
fn user_key_by_profile(c: &Connection, profile: &str) -> rusqlite::Result<Option<(i64, String)>> {
    c.prepare_cached("SELECT key, id FROM users WHERE profile_id = ?1 ORDER BY key LIMIT 1")?
        .query_row([profile], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
}

fn target_user<'e>(e: &'e Event<'_>) -> Option<&'e Resource> {
    e.resource(&TargetType::User)
}

fn user_created(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
    let payload: Option<UserCreatedPayload> = e.payload();
    let Some(target) = target_user(e) else {
        return Ok(());
    };
    let Some(key) = upsert_user_resource(c, target)? else {
        return Ok(());
    };
    let name = payload.as_ref().and_then(|p| p.name.clone());
    let email = payload.and_then(|p| p.email);
    c.prepare_cached(
        "UPDATE users SET name = coalesce(?2, name), email = coalesce(?3, email), created = ?4,
             deleted = NULL WHERE key = ?1",
    )?
    .execute(params![key, name, email, e.ts])?;
    Ok(())
}

fn user_updated(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
    let payload: Option<UserUpdatedPayload> = e.payload();
    let key = match target_user(e) {
        Some(target) => upsert_user_resource(c, target)?,
        None => match payload.as_ref().and_then(|p| id_of(p.user_id.as_ref())) {
            Some(id) => Some(upsert_user(c, &id, None, None, None)?),
            None => None,
        },
    };
    if let (Some(key), Some(disabled)) = (key, payload.and_then(|p| p.disabled)) {
        c.prepare_cached("UPDATE users SET disabled = ?2 WHERE key = ?1")?
            .execute(params![key, disabled])?;
    }
    Ok(())
}

fn user_deleted(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
    let payload: Option<UserDeletedPayload> = e.payload();
    let id = target_user(e)
        .and_then(|r| id_of(r.id.as_ref()))
        .or_else(|| payload.and_then(|p| id_of(p.user_id.as_ref())));
    if let Some(id) = id {
        c.prepare_cached("UPDATE users SET deleted = ?2 WHERE id = ?1")?
            .execute(params![id, e.ts])?;
    }
    Ok(())
}

/// A user's own authentication is their login; a system account's is not a user's.
fn user_authenticated(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
    let Some(actor) = &e.actor else {
        return Ok(());
    };
    if actor.actor_type.as_ref().map(|t| t.as_str()) != Some("USER_ACTOR") {
        return Ok(());
    }
    let Some(id) = id_of(actor.id.as_ref()) else {
        return Ok(());
    };
    let key = upsert_user(
        c,
        &id,
        actor.name.as_deref(),
        actor.identity_provider.as_deref(),
        actor.profile_id.as_ref().map(|p| p.as_str()),
    )?;
    c.prepare_cached(
        "UPDATE users SET last_login = max(coalesce(last_login, ?2), ?2) WHERE key = ?1",
    )?
    .execute(params![key, e.ts])?;
    Ok(())
}

fn group_id(e: &Event<'_>, payload_id: Option<&vigil_model::Id>) -> Option<String> {
    id_of(payload_id).or_else(|| e.resource_id(&TargetType::Group))
}

fn group_upserted(c: &Connection, e: &Event<'_>, created: bool) -> rusqlite::Result<()> {
    let payload: Option<GroupCreatedPayload> = e.payload();
    let target = e.resource(&TargetType::Group);
    let Some(id) = group_id(e, payload.as_ref().and_then(|p| p.group_id.as_ref())) else {
        return Ok(());
    };
    let name = payload
        .as_ref()
        .and_then(|p| p.name.clone())
        .or_else(|| target.and_then(|t| t.name.clone()));
    let idp = payload
        .and_then(|p| p.group_id_provider)
        .or_else(|| target.and_then(|t| t.identity_provider.clone()));
    c.prepare_cached(
        "INSERT INTO groups(id, name, idp, created) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(id) DO UPDATE SET name = coalesce(excluded.name, name),
             idp = coalesce(excluded.idp, idp), created = coalesce(excluded.created, created),
             deleted = CASE WHEN excluded.created IS NULL THEN deleted END",
    )?
    .execute(params![id, name, idp, created.then_some(e.ts)])?;
    Ok(())
}

fn ensure_group(c: &Connection, id: &str, name: Option<&str>) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO groups(id, name) VALUES (?1, ?2)
         ON CONFLICT(id) DO UPDATE SET name = coalesce(name, excluded.name)",
    )?
    .execute(params![id, name])?;
    Ok(())
}

fn group_deleted(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
    let payload: Option<GroupCreatedPayload> = e.payload();
    if let Some(id) = group_id(e, payload.as_ref().and_then(|p| p.group_id.as_ref())) {
        c.prepare_cached("UPDATE groups SET deleted = ?2 WHERE id = ?1")?
            .execute(params![id, e.ts])?;
        c.prepare_cached("DELETE FROM group_members WHERE group_id = ?1")?
            .execute([id])?;
    }
    Ok(())
}

/// `GroupMemberAdded` names the user in `relatedResources` and `userId`; `GroupMemberRemoved`
/// only where the producer adds the user resource (the seed's example has none, and then there
/// is nothing to remove).
fn group_member(c: &Connection, e: &Event<'_>, added: bool) -> rusqlite::Result<()> {
    let payload: Option<GroupMemberAddedPayload> = e.payload();
    let Some(group) = group_id(e, payload.as_ref().and_then(|p| p.group_id.as_ref())) else {
        return Ok(());
    };
    let group_name = e
        .resource(&TargetType::Group)
        .and_then(|g| g.name.as_deref());
    ensure_group(c, &group, group_name)?;
    let mut users = Vec::new();
    for resource in e.resources(&TargetType::User) {
        if let Some(key) = upsert_user_resource(c, resource)? {
            users.push(key);
        }
    }
    if users.is_empty()
        && let Some(id) = payload.and_then(|p| id_of(p.user_id.as_ref()))
    {
        users.push(upsert_user(c, &id, None, None, None)?);
    }
    for user in users {
        if added {
            c.prepare_cached(
                "INSERT INTO group_members(group_id, user_key, joined) VALUES (?1, ?2, ?3)
                 ON CONFLICT DO NOTHING",
            )?
            .execute(params![group, user, e.ts])?;
        } else {
            c.prepare_cached("DELETE FROM group_members WHERE group_id = ?1 AND user_key = ?2")?
                .execute(params![group, user])?;
        }
    }
    Ok(())
}

fn attributes(c: &Connection, e: &Event<'_>, applied: bool) -> rusqlite::Result<()> {
    let Some(payload) = e.payload::<AttributeAppliedPayload>() else {
        return Ok(());
    };
    let entity_type = payload
        .entity_type
        .clone()
        .or_else(|| {
            e.targets
                .first()?
                .resource_type
                .as_ref()
                .map(|t| t.as_str().to_owned())
        })
        .unwrap_or_else(|| "USER".to_owned())
        .to_ascii_uppercase();
    let entity_id = id_of(payload.entity_id.as_ref())
        .or_else(|| e.targets.first().and_then(|t| id_of(t.id.as_ref())));
    let Some(entity_id) = entity_id else {
        return Ok(());
    };
    if entity_type == "USER" {
        match target_user(e) {
            Some(target) => upsert_user_resource(c, target)?,
            None => Some(upsert_user(c, &entity_id, None, None, None)?),
        };
    }
    for attribute in payload.attributes.unwrap_or_default() {
        let Some(name) = attribute.attribute else {
            continue;
        };
        for value in attribute.values.unwrap_or_default() {
            if applied {
                c.prepare_cached(
                    "INSERT INTO attributes(entity_type, entity_id, attribute, value, applied)
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                )?
                .execute(params![entity_type, entity_id, name, value, e.ts])?;
            } else {
                c.prepare_cached(
                    "DELETE FROM attributes WHERE entity_type = ?1 AND entity_id = ?2
                         AND attribute = ?3 AND value = ?4",
                )?
                .execute(params![entity_type, entity_id, name, value])?;
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Data sources, connections, tags

/// The key of a data source, created when it is new; `name` and `technology` fill in or update.
fn upsert_datasource(
    c: &Connection,
    id: &str,
    name: Option<&str>,
    technology: Option<&str>,
) -> rusqlite::Result<i64> {
    c.prepare_cached(
        "INSERT INTO datasources(id, name, technology) VALUES (?1, ?2, ?3)
         ON CONFLICT(id) DO UPDATE SET name = coalesce(excluded.name, name),
             technology = coalesce(excluded.technology, technology), registered = 1
         RETURNING key",
    )?
    .query_row(params![id, name, technology], |r| r.get(0))
}

fn upsert_datasource_resource(c: &Connection, r: &Resource) -> rusqlite::Result<Option<i64>> {
    let Some(id) = id_of(r.id.as_ref()) else {
        return Ok(None);
    };
    upsert_datasource(
        c,
        &id,
        r.name.as_deref(),
        r.technology.as_ref().map(|t| t.as_str()),
    )
    .map(Some)
}

/// The data source an event is about: a `DATASOURCE` target or related resource, or the data
/// source a column or local policy target belongs to.
fn event_datasource(c: &Connection, e: &Event<'_>) -> rusqlite::Result<Option<i64>> {
    if let Some(r) = e.resource(&TargetType::Datasource) {
        return upsert_datasource_resource(c, r);
    }
    for r in e.targets.iter().chain(&e.related) {
        if let Some(ds) = &r.datasource {
            return upsert_datasource_resource(c, ds);
        }
    }
    Ok(None)
}

fn datasource_created(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
    let Some(key) = event_datasource(c, e)? else {
        return Ok(());
    };
    let payload: Option<DatasourceCreatedPayload> = e.payload();
    let connection = e.resource(&TargetType::Connection);
    let connection_id = connection.and_then(|r| id_of(r.id.as_ref())).or_else(|| {
        payload
            .as_ref()
            .and_then(|p| id_of(p.connection_id.as_ref()))
    });
    if let Some(connection_id) = &connection_id {
        c.prepare_cached(
            "INSERT INTO connections(id, name, connection_key) VALUES (?1, ?2, ?3)
             ON CONFLICT(id) DO UPDATE SET name = coalesce(excluded.name, name),
                 connection_key = coalesce(excluded.connection_key, connection_key)",
        )?
        .execute(params![
            connection_id,
            connection.and_then(|r| r.name.as_deref()),
            connection.and_then(|r| r.connection_key.as_deref())
        ])?;
    }
    let (technology, schema, table) = match payload {
        Some(p) => (p.technology, p.schema, p.table),
        None => (None, None, None),
    };
    c.prepare_cached(
        "UPDATE datasources SET technology = coalesce(?2, technology), connection_id = ?3,
             schema_name = ?4, table_name = ?5, created = ?6, created_by = ?7, deleted = NULL
         WHERE key = ?1",
    )?
    .execute(params![
        key,
        technology,
        connection_id,
        schema,
        table,
        e.ts,
        e.by()
    ])?;
    Ok(())
}

fn datasource_updated(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
    let payload: Option<DatasourceUpdatedPayload> = e.payload();
    let key = match event_datasource(c, e)? {
        Some(key) => Some(key),
        None => match payload
            .as_ref()
            .and_then(|p| id_of(p.datasource_id.as_ref()))
        {
            Some(id) => Some(upsert_datasource(c, &id, None, None)?),
            None => None,
        },
    };
    let Some(key) = key else { return Ok(()) };
    if let Some(p) = payload {
        c.prepare_cached(
            "UPDATE datasources SET name = coalesce(?2, name), disabled = coalesce(?3, disabled)
             WHERE key = ?1",
        )?
        .execute(params![key, p.name, p.disabled])?;
    }
    Ok(())
}

fn datasource_flag(c: &Connection, e: &Event<'_>, flag: &str) -> rusqlite::Result<()> {
    if let Some(key) = event_datasource(c, e)? {
        let sql = match flag {
            "deleted" => "UPDATE datasources SET deleted = ?2 WHERE key = ?1",
            _ => "UPDATE datasources SET disabled = 1 WHERE key = ?1 AND ?2 IS NOT NULL",
        };
        c.prepare_cached(sql)?.execute(params![key, e.ts])?;
    }
    Ok(())
}

fn upsert_tag(
    c: &Connection,
    tag: &vigil_model::TagRef,
    created: Option<i64>,
) -> rusqlite::Result<()> {
    let Some(name) = &tag.name else { return Ok(()) };
    c.prepare_cached(
        "INSERT INTO tags(name, id, source, created) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(name) DO UPDATE SET id = coalesce(excluded.id, id),
             source = coalesce(excluded.source, source), created = coalesce(created, excluded.created),
             deleted = NULL",
    )?
    .execute(params![name, tag.id.as_ref().map(|i| i.as_str()), tag.source, created])?;
    Ok(())
}

fn tag_created(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
    let payload: Option<TagCreatedPayload> = e.payload();
    for tag in payload.and_then(|p| p.tags).unwrap_or_default() {
        upsert_tag(c, &tag, Some(e.ts))?;
    }
    Ok(())
}

/// The target carries the tag's new name; the payload's tags its old one (the seed's example
/// renames "First name" to "TestTagUpdate"). Tag assignments follow the rename.
fn tag_updated(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
    let payload: Option<TagUpdatedPayload> = e.payload();
    let Some(target) = e.resource(&TargetType::Tag) else {
        return Ok(());
    };
    let Some(new_name) = target.name.clone() else {
        return Ok(());
    };
    let target_id = id_of(target.id.as_ref());
    for old in payload.and_then(|p| p.tags).unwrap_or_default() {
        let Some(old_name) = old.name.clone() else {
            continue;
        };
        let same = target_id.is_some() && id_of(old.id.as_ref()) == target_id;
        if !same || old_name == new_name {
            continue;
        }
        c.prepare_cached("UPDATE OR REPLACE tags SET name = ?2 WHERE name = ?1")?
            .execute(params![old_name, new_name])?;
        history::tag_renamed(c, &old_name, &new_name)?;
    }
    let tag = vigil_model::TagRef {
        id: target.id.clone(),
        name: Some(new_name),
        type_name: None,
        source: target.source.clone(),
        context: None,
        deleted: None,
        transient: None,
    };
    upsert_tag(c, &tag, None)
}

fn tag_deleted(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
    let payload: Option<TagUpdatedPayload> = e.payload();
    let mut names: Vec<String> = payload
        .and_then(|p| p.tags)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|t| t.name)
        .collect();
    names.extend(e.resources(&TargetType::Tag).filter_map(|t| t.name.clone()));
    for name in names {
        c.prepare_cached("UPDATE tags SET deleted = ?2 WHERE name = ?1")?
            .execute(params![name, e.ts])?;
        history::tag_deleted(c, &name, (e.ts, e.seq as i64))?;
    }
    Ok(())
}

/// `appliedTags` / `removedTags`: a `DATASOURCE` entry tags the data source, a `COLUMN` entry
/// the column of that name.
fn tags_on_datasource(c: &Connection, e: &Event<'_>, applied: bool) -> rusqlite::Result<()> {
    let Some(ds) = event_datasource(c, e)? else {
        return Ok(());
    };
    let entries = if applied {
        e.payload::<TagAppliedPayload>()
            .and_then(|p| p.applied_tags)
    } else {
        e.payload::<TagRemovedPayload>()
            .and_then(|p| p.removed_tags)
    };
    for entry in entries.unwrap_or_default() {
        let column = match entry.target_type.as_deref() {
            Some(kind) if kind.eq_ignore_ascii_case("COLUMN") => {
                entry.target_name.clone().unwrap_or_default()
            }
            _ => String::new(),
        };
        for tag in entry.tags.unwrap_or_default() {
            let Some(name) = tag.name.clone() else {
                continue;
            };
            if applied {
                upsert_tag(c, &tag, None)?;
            }
            history::ds_tag_changed(
                c,
                ds,
                &column,
                &name,
                (e.ts, e.seq as i64),
                applied,
                e.by().as_deref(),
            )?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Projects and purposes

/// The project an event is about, created when new; returns its id.
fn project_upsert(c: &Connection, e: &Event<'_>) -> rusqlite::Result<Option<String>> {
    let target = e.resource(&TargetType::Project);
    let payload_id = e
        .payload::<ProjectPurposeApprovedPayload>()
        .and_then(|p| id_of(p.project_id.as_ref()));
    let Some(id) = target.and_then(|t| id_of(t.id.as_ref())).or(payload_id) else {
        return Ok(None);
    };
    c.prepare_cached(
        "INSERT INTO projects(id, name, project_key) VALUES (?1, ?2, ?3)
         ON CONFLICT(id) DO UPDATE SET name = coalesce(excluded.name, name),
             project_key = coalesce(excluded.project_key, project_key)",
    )?
    .execute(params![
        id,
        target.and_then(|t| t.name.as_deref()),
        target.and_then(|t| t.project_key.as_deref())
    ])?;
    Ok(Some(id))
}

fn upsert_purpose(c: &Connection, id: &str, name: Option<&str>) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO purposes(id, name) VALUES (?1, ?2)
         ON CONFLICT(id) DO UPDATE SET name = coalesce(excluded.name, name)",
    )?
    .execute(params![id, name])?;
    Ok(())
}

fn add_project_purpose(
    c: &Connection,
    project: &str,
    purpose: &str,
    e: &Event<'_>,
) -> rusqlite::Result<()> {
    history::project_purpose_changed(
        c,
        project,
        purpose,
        (e.ts, e.seq as i64),
        true,
        e.by().as_deref(),
    )
}

fn add_project_datasource(
    c: &Connection,
    project: &str,
    ds: i64,
    e: &Event<'_>,
) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO project_datasources(project_id, ds_key, added_by, added) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT DO NOTHING",
    )?
    .execute(params![project, ds, e.by(), e.ts])?;
    Ok(())
}

fn project_created(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
    let payload: Option<ProjectCreatedPayload> = e.payload();
    let Some(id) = project_upsert(c, e)?
        .or_else(|| payload.as_ref().and_then(|p| id_of(p.project_id.as_ref())))
    else {
        return Ok(());
    };
    let (name, key) = payload
        .as_ref()
        .map(|p| (p.name.clone(), p.project_key.clone()))
        .unwrap_or_default();
    c.prepare_cached(
        "INSERT INTO projects(id, name, project_key, created, created_by) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(id) DO UPDATE SET name = coalesce(excluded.name, name),
             project_key = coalesce(excluded.project_key, project_key),
             created = excluded.created, created_by = excluded.created_by, deleted = NULL",
    )?
    .execute(params![id, name, key, e.ts, e.by()])?;
    let Some(payload) = payload else {
        return Ok(());
    };
    for purpose in payload.purposes.unwrap_or_default() {
        if let Some(purpose_id) = id_of(purpose.id.as_ref()) {
            upsert_purpose(c, &purpose_id, purpose.name.as_deref())?;
            add_project_purpose(c, &id, &purpose_id, e)?;
        }
    }
    for ds in payload.datasources.unwrap_or_default() {
        if let Some(ds_id) = id_of(ds.id.as_ref()) {
            let key = upsert_datasource(c, &ds_id, ds.name.as_deref(), None)?;
            add_project_datasource(c, &id, key, e)?;
        }
    }
    Ok(())
}

fn project_flag(c: &Connection, e: &Event<'_>, flag: &str) -> rusqlite::Result<()> {
    if let Some(id) = project_upsert(c, e)? {
        let sql = match flag {
            "deleted" => "UPDATE projects SET deleted = ?2 WHERE id = ?1",
            _ => "UPDATE projects SET disabled = 1 WHERE id = ?1 AND ?2 IS NOT NULL",
        };
        c.prepare_cached(sql)?.execute(params![id, e.ts])?;
    }
    Ok(())
}

fn project_datasources(c: &Connection, e: &Event<'_>, added: bool) -> rusqlite::Result<()> {
    let payload: Option<DatasourceAppliedToProjectPayload> = e.payload();
    let project = match project_upsert(c, e)? {
        Some(id) => id,
        None => match payload.as_ref().and_then(|p| id_of(p.project_id.as_ref())) {
            Some(id) => id,
            None => return Ok(()),
        },
    };
    let mut keys = Vec::new();
    for ds in payload.and_then(|p| p.datasources).unwrap_or_default() {
        if let Some(id) = id_of(ds.id.as_ref()) {
            keys.push(upsert_datasource(c, &id, ds.name.as_deref(), None)?);
        }
    }
    for r in e.resources(&TargetType::Datasource) {
        if let Some(key) = upsert_datasource_resource(c, r)?
            && !keys.contains(&key)
        {
            keys.push(key);
        }
    }
    for key in keys {
        if added {
            add_project_datasource(c, &project, key, e)?;
        } else {
            c.prepare_cached(
                "DELETE FROM project_datasources WHERE project_id = ?1 AND ds_key = ?2",
            )?
            .execute(params![project, key])?;
        }
    }
    Ok(())
}

fn project_purpose(c: &Connection, e: &Event<'_>, approved: bool) -> rusqlite::Result<()> {
    let Some(project) = project_upsert(c, e)? else {
        return Ok(());
    };
    let purpose = e.resource(&TargetType::Purpose);
    let purpose_id = purpose.and_then(|p| id_of(p.id.as_ref())).or_else(|| {
        e.payload::<ProjectPurposeApprovedPayload>()
            .and_then(|p| id_of(p.purpose_id.as_ref()))
    });
    let Some(purpose_id) = purpose_id else {
        return Ok(());
    };
    upsert_purpose(c, &purpose_id, purpose.and_then(|p| p.name.as_deref()))?;
    history::project_purpose_changed(
        c,
        &project,
        &purpose_id,
        (e.ts, e.seq as i64),
        approved,
        e.by().as_deref(),
    )
}

fn purpose_upserted(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
    if let Some(target) = e.resource(&TargetType::Purpose)
        && let Some(id) = id_of(target.id.as_ref())
    {
        upsert_purpose(c, &id, target.name.as_deref())?;
        c.prepare_cached(
            "UPDATE purposes SET created = coalesce(created, ?2), deleted = NULL WHERE id = ?1",
        )?
        .execute(params![id, e.ts])?;
    }
    Ok(())
}

fn purpose_deleted(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
    let id = e.resource_id(&TargetType::Purpose).or_else(|| {
        e.payload::<PurposeDeletedPayload>()
            .and_then(|p| id_of(p.id.as_ref()))
    });
    if let Some(id) = id {
        c.prepare_cached("UPDATE purposes SET deleted = ?2 WHERE id = ?1")?
            .execute(params![id, e.ts])?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Subscriptions (to data sources and projects)

/// The subscription resource of an event (`targets` or `relatedResources`).
fn subscription_resource<'e>(e: &'e Event<'_>) -> Option<&'e Resource> {
    e.resource(&TargetType::Subscription)
}

/// Where the subscriber and the model of a subscription come from: the subscription resource's
/// `subscriber` and `model`, else the payload's ids (a `subscriberId` is a user's profile id).
struct Parties {
    model_type: Option<String>,
    model_id: Option<String>,
    subscriber_type: Option<String>,
    subscriber_id: Option<String>,
    subscriber_name: Option<String>,
}

fn parties(
    c: &Connection,
    e: &Event<'_>,
    model_type: Option<&str>,
    model_id: Option<&vigil_model::Id>,
    subscriber_type: Option<&str>,
    subscriber_id: Option<&vigil_model::Id>,
) -> rusqlite::Result<Parties> {
    let resource = subscription_resource(e);
    let model = resource.and_then(|r| r.model.as_deref());
    let subscriber = resource.and_then(|r| r.subscriber.as_deref());
    let model_type = model
        .and_then(|m| m.resource_type.as_ref().map(|t| t.as_str().to_owned()))
        .or_else(|| model_type.map(str::to_owned));
    let model_id = model
        .and_then(|m| id_of(m.id.as_ref()))
        .or_else(|| id_of(model_id));
    if let (Some(kind), Some(model)) = (model_type.as_deref(), model) {
        if kind == "DATASOURCE" {
            upsert_datasource_resource(c, model)?;
        } else if kind == "PROJECT" {
            let id = id_of(model.id.as_ref());
            if let Some(id) = id {
                c.prepare_cached(
                    "INSERT INTO projects(id, name, project_key) VALUES (?1, ?2, ?3)
                     ON CONFLICT(id) DO UPDATE SET name = coalesce(excluded.name, name)",
                )?
                .execute(params![id, model.name, model.project_key])?;
            }
        }
    }
    let subscriber_type = subscriber
        .and_then(|s| s.resource_type.as_ref().map(|t| t.as_str().to_owned()))
        .or_else(|| subscriber_type.map(str::to_owned));
    let mut subscriber_name = subscriber.and_then(|s| s.name.clone());
    let mut resolved_id = subscriber.and_then(|s| id_of(s.id.as_ref()));
    match (subscriber_type.as_deref(), subscriber) {
        (Some("USER"), Some(s)) => {
            upsert_user_resource(c, s)?;
        }
        (Some("GROUP"), Some(s)) => {
            if let Some(id) = &resolved_id {
                ensure_group(c, id, s.name.as_deref())?;
            }
        }
        (Some("USER"), None) => {
            if let Some(profile) = id_of(subscriber_id)
                && let Some((_, id)) = user_key_by_profile(c, &profile)?
            {
                resolved_id = Some(id);
            }
        }
        _ => {}
    }
    if resolved_id.is_none() {
        resolved_id = id_of(subscriber_id);
    }
    if subscriber_name.is_none()
        && subscriber_type.as_deref() == Some("USER")
        && let Some(id) = &resolved_id
    {
        subscriber_name = c
            .prepare_cached("SELECT name FROM users WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?
            .flatten();
    }
    Ok(Parties {
        model_type,
        model_id,
        subscriber_type,
        subscriber_id: resolved_id,
        subscriber_name,
    })
}

fn subscription_id(e: &Event<'_>, payload_id: Option<&vigil_model::Id>) -> Option<String> {
    id_of(payload_id).or_else(|| subscription_resource(e).and_then(|r| id_of(r.id.as_ref())))
}

fn upsert_subscription(c: &Connection, id: &str, p: &Parties) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO subscriptions(id, model_type, model_id, subscriber_type, subscriber_id,
             subscriber_name) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(id) DO UPDATE SET model_type = coalesce(excluded.model_type, model_type),
             model_id = coalesce(excluded.model_id, model_id),
             subscriber_type = coalesce(excluded.subscriber_type, subscriber_type),
             subscriber_id = coalesce(excluded.subscriber_id, subscriber_id),
             subscriber_name = coalesce(excluded.subscriber_name, subscriber_name)",
    )?
    .execute(params![
        id,
        p.model_type,
        p.model_id,
        p.subscriber_type,
        p.subscriber_id,
        p.subscriber_name
    ])?;
    Ok(())
}

/// The fields the subscription payloads share (each carries some of them).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubscriptionFields {
    subscription_id: Option<vigil_model::Id>,
    model_type: Option<String>,
    model_id: Option<vigil_model::Id>,
    subscriber_type: Option<String>,
    subscriber_id: Option<vigil_model::Id>,
    status: Option<String>,
    role: Option<String>,
    denial_reason: Option<String>,
}

/// Reads a subscription event's payload, records the subscription's parties, and returns its
/// id with the payload; `None` when the event names no subscription.
fn subscription_row(
    c: &Connection,
    e: &Event<'_>,
) -> rusqlite::Result<Option<(String, SubscriptionFields)>> {
    let Some(fields) = e.payload::<SubscriptionFields>() else {
        return Ok(None);
    };
    let Some(id) = subscription_id(e, fields.subscription_id.as_ref()) else {
        return Ok(None);
    };
    let parties = parties(
        c,
        e,
        fields.model_type.as_deref(),
        fields.model_id.as_ref(),
        fields.subscriber_type.as_deref(),
        fields.subscriber_id.as_ref(),
    )?;
    upsert_subscription(c, &id, &parties)?;
    Ok(Some((id, fields)))
}

fn subscription_requested(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
    if let Some((id, fields)) = subscription_row(c, e)? {
        c.prepare_cached(
            "UPDATE subscriptions SET status = coalesce(?2, 'PENDING'), requested = ?3 WHERE id = ?1",
        )?
        .execute(params![id, fields.status, e.ts])?;
    }
    Ok(())
}

fn subscription_created(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
    let Some((id, fields)) = subscription_row(c, e)? else {
        return Ok(());
    };
    let status = fields.status.unwrap_or_else(|| "APPROVED".to_owned());
    let approved = status == "APPROVED";
    c.prepare_cached(
        "UPDATE subscriptions SET role = coalesce(?2, role), status = ?3,
             requested = coalesce(requested, ?4),
             subscribed = CASE WHEN ?5 THEN ?4 ELSE subscribed END,
             approved_by = CASE WHEN ?5 THEN ?6 ELSE approved_by END,
             unsubscribed = NULL, unsubscribe_reason = NULL
         WHERE id = ?1",
    )?
    .execute(params![id, fields.role, status, e.ts, approved, e.by()])?;
    Ok(())
}

/// The role of a subscription granted by approving a request: neither the request nor the
/// approval carries one, and an approved requester becomes a subscriber.
pub(super) const APPROVED_REQUEST_ROLE: &str = "SUBSCRIBED";

fn subscription_approved(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
    if let Some((id, _)) = subscription_row(c, e)? {
        c.prepare_cached(
            "UPDATE subscriptions SET status = 'APPROVED', subscribed = ?2, approved_by = ?3,
                 requested = coalesce(requested, ?2), unsubscribed = NULL, unsubscribe_reason = NULL,
                 role = coalesce(role, ?4)
             WHERE id = ?1",
        )?
        .execute(params![id, e.ts, e.by(), APPROVED_REQUEST_ROLE])?;
    }
    Ok(())
}

/// A denied request or a removed subscription: the row stays for the subscription history. A
/// denied request never was a subscription: it gets no unsubscribe date or reason.
fn subscription_ended(c: &Connection, e: &Event<'_>, status: &str) -> rusqlite::Result<()> {
    if let Some((id, fields)) = subscription_row(c, e)? {
        c.prepare_cached(
            "UPDATE subscriptions SET status = ?2,
                 unsubscribed = CASE WHEN subscribed IS NULL THEN NULL ELSE ?3 END,
                 unsubscribe_reason = CASE WHEN subscribed IS NULL THEN NULL ELSE ?4 END
             WHERE id = ?1",
        )?
        .execute(params![id, status, e.ts, fields.denial_reason])?;
    }
    Ok(())
}

fn subscription_updated(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
    if let Some((id, fields)) = subscription_row(c, e)? {
        c.prepare_cached("UPDATE subscriptions SET role = coalesce(?2, role) WHERE id = ?1")?
            .execute(params![id, fields.role])?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Policies

/// The policy types of a definition: each action's `dataPolicyType` (`MASKING`,
/// `ROW_REDACTION`, …), `SUBSCRIPTION` for subscription actions, else the policy's own `type`.
pub(super) fn policy_types(definition: &PolicyDefinition) -> Vec<String> {
    let mut types = Vec::new();
    for action in definition.actions.iter().flatten() {
        let kind = action
            .get("dataPolicyType")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| {
                let kind = action.get("type").and_then(Value::as_str)?;
                Some(kind.to_owned())
            });
        if let Some(kind) = kind
            && !types.contains(&kind)
        {
            types.push(kind);
        }
    }
    if types.is_empty()
        && let Some(kind) = &definition.type_name
    {
        types.push(kind.clone());
    }
    types
}

/// Every tag a policy definition names (`tags: [..]`, `tag: ".."`), sorted and unique.
fn policy_tag_names(definition: &Value) -> Vec<String> {
    fn walk(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("tag", Value::String(tag)) => out.push(tag.clone()),
                        ("tags", Value::Array(tags)) => {
                            out.extend(tags.iter().filter_map(|t| t.as_str().map(str::to_owned)))
                        }
                        _ => walk(value, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(definition, &mut out);
    out.sort();
    out.dedup();
    out
}

/// The raw `policy` of a payload, kept as text, with its typed view.
fn payload_policy(e: &Event<'_>) -> Option<(Value, PolicyDefinition)> {
    #[derive(Deserialize)]
    struct WithPolicy {
        policy: Option<Value>,
    }
    let raw = e.payload::<WithPolicy>()?.policy?;
    let typed = serde_json::from_value(raw.clone()).ok()?;
    Some((raw, typed))
}

fn set_policy_index(
    c: &Connection,
    scope: &str,
    id: &str,
    raw: &Value,
    typed: &PolicyDefinition,
) -> rusqlite::Result<Vec<String>> {
    c.prepare_cached("DELETE FROM policy_types WHERE scope = ?1 AND policy_id = ?2")?
        .execute(params![scope, id])?;
    let types = policy_types(typed);
    for kind in &types {
        c.prepare_cached(
            "INSERT INTO policy_types(policy_type, scope, policy_id) VALUES (?1, ?2, ?3)
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![kind, scope, id])?;
    }
    if scope == "G" {
        c.prepare_cached("DELETE FROM policy_tags WHERE policy_id = ?1")?
            .execute([id])?;
        for tag in policy_tag_names(raw) {
            c.prepare_cached(
                "INSERT INTO policy_tags(tag, policy_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            )?
            .execute(params![tag, id])?;
        }
    }
    Ok(types)
}

fn upsert_global_policy(c: &Connection, r: &Resource) -> rusqlite::Result<Option<String>> {
    let Some(id) = id_of(r.id.as_ref()) else {
        return Ok(None);
    };
    c.prepare_cached(
        "INSERT INTO global_policies(id, name, policy_key) VALUES (?1, ?2, ?3)
         ON CONFLICT(id) DO UPDATE SET name = coalesce(excluded.name, name),
             policy_key = coalesce(excluded.policy_key, policy_key)",
    )?
    .execute(params![id, r.name, r.policy_key])?;
    Ok(Some(id))
}

fn global_policy_upserted(c: &Connection, e: &Event<'_>, created: bool) -> rusqlite::Result<()> {
    let Some(target) = e.resource(&TargetType::GlobalPolicy) else {
        return Ok(());
    };
    let Some(id) = upsert_global_policy(c, target)? else {
        return Ok(());
    };
    if created {
        c.prepare_cached(
            "UPDATE global_policies SET created = ?2, created_by = ?3, deleted = NULL WHERE id = ?1",
        )?
        .execute(params![id, e.ts, e.by()])?;
    }
    if let Some((raw, typed)) = payload_policy(e) {
        let types = set_policy_index(c, "G", &id, &raw, &typed)?;
        let circumstance = typed
            .circumstance
            .as_ref()
            .and_then(|c| c.get("type"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        c.prepare_cached(
            "UPDATE global_policies SET definition = ?2, policy_types = ?3, circumstance = ?4
             WHERE id = ?1",
        )?
        .execute(params![id, raw.to_string(), types.join(", "), circumstance])?;
    }
    Ok(())
}

fn global_policy_deleted(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
    if let Some(target) = e.resource(&TargetType::GlobalPolicy)
        && let Some(id) = upsert_global_policy(c, target)?
    {
        c.prepare_cached("UPDATE global_policies SET deleted = ?2 WHERE id = ?1")?
            .execute(params![id, e.ts])?;
        c.prepare_cached("DELETE FROM policy_datasources WHERE policy_id = ?1")?
            .execute([id])?;
    }
    Ok(())
}

/// The (policy, data source) pair of a `Datasource…Policy…` event: the data source is the
/// target, the global policy a related resource.
fn policy_pair(c: &Connection, e: &Event<'_>) -> rusqlite::Result<Option<(String, i64)>> {
    let Some(policy) = e.resource(&TargetType::GlobalPolicy) else {
        return Ok(None);
    };
    let Some(policy) = upsert_global_policy(c, policy)? else {
        return Ok(None);
    };
    Ok(event_datasource(c, e)?.map(|ds| (policy, ds)))
}

fn policy_applied(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
    let Some((policy, ds)) = policy_pair(c, e)? else {
        return Ok(());
    };
    let conflict = e
        .payload::<DatasourceGlobalPolicyAppliedPayload>()
        .and_then(|p| p.conflict)
        .filter(|c| !c.is_null())
        .map(|c| match c {
            Value::String(text) => text,
            other => other.to_string(),
        });
    let state = if conflict.is_some() {
        "CONFLICT"
    } else {
        "APPLIED"
    };
    c.prepare_cached(
        "INSERT INTO policy_datasources(policy_id, ds_key, state, applied, applied_by, conflict)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(policy_id, ds_key) DO UPDATE SET state = excluded.state,
             applied = excluded.applied, applied_by = excluded.applied_by,
             conflict = excluded.conflict, disabled = NULL, disabled_by = NULL, justification = NULL",
    )?
    .execute(params![policy, ds, state, e.ts, e.by(), conflict])?;
    Ok(())
}

fn policy_conflict_resolved(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
    if let Some((policy, ds)) = policy_pair(c, e)? {
        c.prepare_cached(
            "UPDATE policy_datasources SET state = 'APPLIED', conflict = NULL
             WHERE policy_id = ?1 AND ds_key = ?2 AND state = 'CONFLICT'",
        )?
        .execute(params![policy, ds])?;
    }
    Ok(())
}

/// The seed's payload carries no justification; a producer that adds `justification` (or
/// `comment`) to the payload has it reported.
fn policy_disabled(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
    #[derive(Deserialize)]
    struct Justified {
        justification: Option<String>,
        comment: Option<String>,
    }
    let Some((policy, ds)) = policy_pair(c, e)? else {
        return Ok(());
    };
    let justification = e
        .payload::<Justified>()
        .and_then(|p| p.justification.or(p.comment));
    c.prepare_cached(
        "INSERT INTO policy_datasources(policy_id, ds_key, state, disabled, disabled_by, justification)
         VALUES (?1, ?2, 'DISABLED', ?3, ?4, ?5)
         ON CONFLICT(policy_id, ds_key) DO UPDATE SET state = 'DISABLED', disabled = excluded.disabled,
             disabled_by = excluded.disabled_by, justification = excluded.justification",
    )?
    .execute(params![policy, ds, e.ts, e.by(), justification])?;
    Ok(())
}

fn policy_removed(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
    if let Some((policy, ds)) = policy_pair(c, e)? {
        c.prepare_cached("DELETE FROM policy_datasources WHERE policy_id = ?1 AND ds_key = ?2")?
            .execute(params![policy, ds])?;
    }
    Ok(())
}

fn policy_certified(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
    let Some((policy, ds)) = policy_pair(c, e)? else {
        return Ok(());
    };
    let certified = e
        .payload::<DatasourcePolicyCertifiedPayload>()
        .and_then(|p| p.certification_date)
        .and_then(|date| Timestamp::parse(&date).ok())
        .map(|t| t.unix_micros())
        .unwrap_or(e.ts);
    c.prepare_cached(
        "INSERT INTO policy_datasources(policy_id, ds_key, state, certified, certified_by)
         VALUES (?1, ?2, 'APPLIED', ?3, ?4)
         ON CONFLICT(policy_id, ds_key) DO UPDATE SET certified = excluded.certified,
             certified_by = excluded.certified_by",
    )?
    .execute(params![policy, ds, certified, e.by()])?;
    Ok(())
}

fn policy_decertified(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
    if let Some((policy, ds)) = policy_pair(c, e)? {
        c.prepare_cached(
            "UPDATE policy_datasources SET certified = NULL, certified_by = NULL
             WHERE policy_id = ?1 AND ds_key = ?2",
        )?
        .execute(params![policy, ds])?;
    }
    Ok(())
}

/// A data source has one local policy of each kind (`DATA`, `SUBSCRIPTION`); a
/// `policyHandlerUpdateAction` of `DELETE` removes it.
fn local_policy(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
    let Some(ds) = event_datasource(c, e)? else {
        return Ok(());
    };
    let Some((raw, typed)) = payload_policy(e) else {
        return Ok(());
    };
    let update: Option<LocalPolicyUpdatedPayload> = e.payload();
    let kind = update
        .as_ref()
        .and_then(|u| u.policy_update_type.clone())
        .or_else(|| typed.type_name.clone())
        .unwrap_or_else(|| "DATA".to_owned())
        .to_ascii_uppercase();
    let policy_id = format!("{ds}/{kind}");
    let deleted = update
        .and_then(|u| u.policy_handler_update_action)
        .is_some_and(|a| a.eq_ignore_ascii_case("DELETE"));
    if deleted {
        c.prepare_cached("DELETE FROM local_policies WHERE ds_key = ?1 AND kind = ?2")?
            .execute(params![ds, kind])?;
        c.prepare_cached("DELETE FROM policy_types WHERE scope = 'L' AND policy_id = ?1")?
            .execute([&policy_id])?;
        return Ok(());
    }
    let types = set_policy_index(c, "L", &policy_id, &raw, &typed)?;
    c.prepare_cached(
        "INSERT INTO local_policies(ds_key, kind, definition, policy_types, created, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(ds_key, kind) DO UPDATE SET definition = excluded.definition,
             policy_types = excluded.policy_types",
    )?
    .execute(params![
        ds,
        kind,
        raw.to_string(),
        types.join(", "),
        e.ts,
        e.by()
    ])?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Sensitive data discovery identifiers

fn classifier_upserted(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
    let Some(payload) = e.payload::<SDDClassifierCreatedPayload>() else {
        return Ok(());
    };
    let id =
        id_of(payload.classifier_id.as_ref()).or_else(|| e.resource_id(&TargetType::SddClassifier));
    let Some(id) = id else { return Ok(()) };
    c.prepare_cached(
        "INSERT INTO sdd_classifiers(id, name, display_name) VALUES (?1, ?2, ?3)
         ON CONFLICT(id) DO UPDATE SET name = coalesce(excluded.name, name),
             display_name = coalesce(excluded.display_name, display_name), deleted = NULL",
    )?
    .execute(params![id, payload.name, payload.display_name])?;
    if let Some(tags) = payload.config.and_then(|config| config.tags) {
        c.prepare_cached("DELETE FROM sdd_classifier_tags WHERE classifier_id = ?1")?
            .execute([&id])?;
        for tag in tags {
            if let Some(name) = tag.name {
                c.prepare_cached(
                    "INSERT INTO sdd_classifier_tags(tag, classifier_id) VALUES (?1, ?2)
                     ON CONFLICT DO NOTHING",
                )?
                .execute(params![name, id])?;
            }
        }
    }
    Ok(())
}

fn classifier_deleted(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
    let id = e
        .payload::<SDDClassifierDeletedPayload>()
        .and_then(|p| id_of(p.classifier_id.as_ref()))
        .or_else(|| e.resource_id(&TargetType::SddClassifier));
    if let Some(id) = id {
        c.prepare_cached("UPDATE sdd_classifiers SET deleted = ?2 WHERE id = ?1")?
            .execute(params![id, e.ts])?;
        c.prepare_cached("DELETE FROM sdd_classifier_tags WHERE classifier_id = ?1")?
            .execute([id])?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Queries

/// The id of the project in `accessControls.project` or `accessControls.entitlements.project`:
/// an object with `id`, or a bare id.
fn query_project(payload: Option<QueryPayload>) -> Option<String> {
    let controls = payload?.access_controls?;
    let project = controls
        .project
        .filter(|project| !project.is_null())
        .or_else(|| controls.entitlements.and_then(|e| e.project))?;
    match project {
        Value::Object(map) => match map.get("id")? {
            Value::String(id) => Some(id.clone()),
            Value::Number(id) => Some(id.to_string()),
            _ => None,
        },
        Value::String(id) => Some(id),
        Value::Number(id) => Some(id.to_string()),
        _ => None,
    }
    .filter(|id| !id.is_empty())
}

/// A registered user's successful query of registered data sources: one access row per data
/// source, and one per purpose of the user's current project. The seed's `Unknown` actor (an
/// unregistered platform user) is not a user and appears in no report.
fn query(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
    let Some(actor) = &e.actor else { return Ok(()) };
    if actor.actor_type.as_ref().map(|t| t.as_str()) == Some("UNKNOWN") {
        return Ok(());
    }
    let Some(user_id) = id_of(actor.id.as_ref()).filter(|id| id != "Unknown") else {
        return Ok(());
    };
    let mut datasources = Vec::new();
    for target in e.resources(&TargetType::Datasource) {
        if let Some(id) = id_of(target.id.as_ref()) {
            datasources.push((id, target));
        }
    }
    // Databricks Spark events name the data source without a `type`.
    if datasources.is_empty() {
        for target in e.targets.iter().filter(|t| t.resource_type.is_none()) {
            if let Some(id) = id_of(target.id.as_ref()) {
                datasources.push((id, target));
            }
        }
    }
    if datasources.is_empty() {
        return Ok(());
    }
    let user = match c
        .prepare_cached("SELECT key FROM users WHERE id = ?1")?
        .query_row([&user_id], |r| r.get::<_, i64>(0))
        .optional()?
    {
        Some(key) => key,
        // Named only by a query so far: not registered (until an admin event names it).
        None => c
            .prepare_cached(
                "INSERT INTO users(id, name, idp, profile_id, registered) VALUES (?1, ?2, ?3, ?4, 0)
                 RETURNING key",
            )?
            .query_row(
                params![
                    user_id,
                    actor.name,
                    actor.identity_provider,
                    actor.profile_id.as_ref().map(|p| p.as_str())
                ],
                |r| r.get(0),
            )?,
    };
    // The purposes it ran under follow from the project's history (`access_purposes`).
    let project = query_project(e.payload());
    for (id, target) in datasources {
        let ds = match c
            .prepare_cached("SELECT key FROM datasources WHERE id = ?1")?
            .query_row([&id], |r| r.get::<_, i64>(0))
            .optional()?
        {
            Some(key) => key,
            None => c
                .prepare_cached(
                    "INSERT INTO datasources(id, name, technology, registered) VALUES (?1, ?2, ?3, 0)
                     RETURNING key",
                )?
                .query_row(
                    params![
                        id,
                        target.name,
                        target.technology.as_ref().map(|t| t.as_str())
                    ],
                    |r| r.get(0),
                )?,
        };
        c.prepare_cached(
            "INSERT INTO access(user_key, ts, seq, ds_key, project_id) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![user, e.ts, e.seq as i64, ds, project])?;
    }
    Ok(())
}
