//! Users and groups: users, their logins and attributes, groups and members.

use super::*;

/// A user as some resource names it; returns its key, creating the row when it is new and
/// filling in what the resource adds.
pub(super) fn upsert_user(
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

pub(super) fn upsert_user_resource(c: &Connection, r: &Resource) -> rusqlite::Result<Option<i64>> {
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
pub(super) fn user_key_by_profile(
    c: &Connection,
    profile: &str,
) -> rusqlite::Result<Option<(i64, String)>> {
    c.prepare_cached("SELECT key, id FROM users WHERE profile_id = ?1 ORDER BY key LIMIT 1")?
        .query_row([profile], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
}

pub(super) fn target_user<'e>(e: &'e Event<'_>) -> Option<&'e Resource> {
    e.resource(&TargetType::User)
}

pub(super) fn user_created(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
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

pub(super) fn user_updated(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
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

pub(super) fn user_deleted(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
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
pub(super) fn user_authenticated(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
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

pub(super) fn group_id(e: &Event<'_>, payload_id: Option<&vigil_model::Id>) -> Option<String> {
    id_of(payload_id).or_else(|| e.resource_id(&TargetType::Group))
}

pub(super) fn group_upserted(c: &Connection, e: &Event<'_>, created: bool) -> rusqlite::Result<()> {
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

pub(super) fn ensure_group(c: &Connection, id: &str, name: Option<&str>) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO groups(id, name) VALUES (?1, ?2)
         ON CONFLICT(id) DO UPDATE SET name = coalesce(name, excluded.name)",
    )?
    .execute(params![id, name])?;
    Ok(())
}

pub(super) fn group_deleted(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
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
pub(super) fn group_member(c: &Connection, e: &Event<'_>, added: bool) -> rusqlite::Result<()> {
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

pub(super) fn attributes(c: &Connection, e: &Event<'_>, applied: bool) -> rusqlite::Result<()> {
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
