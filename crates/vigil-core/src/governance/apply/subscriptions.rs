//! Subscriptions to data sources and projects: requests, approvals, denials, removals.

use super::*;

/// The subscription resource of an event (`targets` or `relatedResources`).
pub(super) fn subscription_resource<'e>(e: &'e Event<'_>) -> Option<&'e Resource> {
    e.resource(&TargetType::Subscription)
}

/// Where the subscriber and the model of a subscription come from: the subscription resource's
/// `subscriber` and `model`, else the payload's ids (a `subscriberId` is a user's profile id).
pub(super) struct Parties {
    model_type: Option<String>,
    model_id: Option<String>,
    subscriber_type: Option<String>,
    subscriber_id: Option<String>,
    subscriber_name: Option<String>,
}

pub(super) fn parties(
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

pub(super) fn subscription_id(
    e: &Event<'_>,
    payload_id: Option<&vigil_model::Id>,
) -> Option<String> {
    id_of(payload_id).or_else(|| subscription_resource(e).and_then(|r| id_of(r.id.as_ref())))
}

pub(super) fn upsert_subscription(c: &Connection, id: &str, p: &Parties) -> rusqlite::Result<()> {
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
pub(super) struct SubscriptionFields {
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
pub(super) fn subscription_row(
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

pub(super) fn subscription_requested(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
    if let Some((id, fields)) = subscription_row(c, e)? {
        c.prepare_cached(
            "UPDATE subscriptions SET status = coalesce(?2, 'PENDING'), requested = ?3 WHERE id = ?1",
        )?
        .execute(params![id, fields.status, e.ts])?;
    }
    Ok(())
}

pub(super) fn subscription_created(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
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

pub(super) fn subscription_approved(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
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
pub(super) fn subscription_ended(
    c: &Connection,
    e: &Event<'_>,
    status: &str,
) -> rusqlite::Result<()> {
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

pub(super) fn subscription_updated(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
    if let Some((id, fields)) = subscription_row(c, e)? {
        c.prepare_cached("UPDATE subscriptions SET role = coalesce(?2, role) WHERE id = ?1")?
            .execute(params![id, fields.role])?;
    }
    Ok(())
}
