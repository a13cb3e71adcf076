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

mod datasources;
mod identifiers;
mod policies;
mod projects;
mod queries;
mod subscriptions;
mod users;

use datasources::*;
use identifiers::*;
use policies::*;
use projects::*;
use queries::*;
use subscriptions::*;
use users::*;

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

/// What the projection reads of a query payload: the user's project at the time of the query,
/// and which objects it wrote.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryPayload {
    access_controls: Option<QueryAccessControls>,
    #[serde(default)]
    objects_accessed: Vec<QueryObject>,
}

/// An element of `objectsAccessed`: its data source, and `accessType` (`READ` unless `WRITE`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryObject {
    datasource_id: Option<Value>,
    access_type: Option<String>,
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
/// Retention removed events `from_seq..=to_seq` from the log: their accesses leave the reports
/// too, and the reports' history starts at the cutoff. (Removed events are all older than the
/// cutoff, so only accesses before it are looked at.)
pub(super) fn forget_removed(
    conn: &Connection,
    removal: &crate::retention::RecordedRemoval,
) -> rusqlite::Result<()> {
    let cutoff = removal
        .cutoff
        .map_or(i64::MAX, |cutoff| cutoff.unix_micros());
    let forgotten = conn.execute(
        "DELETE FROM access WHERE ts < ?1 AND seq BETWEEN ?2 AND ?3",
        rusqlite::params![cutoff, removal.from_seq as i64, removal.to_seq as i64],
    )?;
    if let Some(cutoff) = removal.cutoff {
        conn.execute(
            "INSERT INTO meta(name, value) VALUES ('history_start', ?1)
             ON CONFLICT(name) DO UPDATE SET value = max(value, excluded.value)",
            [cutoff.unix_micros()],
        )?;
    }
    tracing::info!(
        from_seq = removal.from_seq,
        to_seq = removal.to_seq,
        accesses = forgotten,
        "governance projection: forgot the accesses of events removed by retention"
    );
    Ok(())
}

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
        // The late tables of a query stored without them: the accesses it made, at its time.
        T::Query | T::QueryLineageResolved => query(c, e),
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
