//! Query events: the access facts reports are built from.

use super::*;

/// The id of the project in `accessControls.project` or `accessControls.entitlements.project`:
/// an object with `id`, or a bare id.
pub(super) fn query_project(payload: Option<&QueryPayload>) -> Option<String> {
    let controls = payload?.access_controls.as_ref()?;
    let project = controls
        .project
        .clone()
        .filter(|project| !project.is_null())
        .or_else(|| {
            controls
                .entitlements
                .as_ref()
                .and_then(|e| e.project.clone())
        })?;
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

/// How a query used data source `id`: 1 read, 2 written, 3 both (`objectsAccessed[].accessType`;
/// an object without one, or a data source no object names, was read).
fn access_kind(payload: Option<&QueryPayload>, id: &str) -> i64 {
    let mut kind = 0;
    for object in payload.into_iter().flat_map(|p| &p.objects_accessed) {
        let names = match &object.datasource_id {
            Some(Value::String(ds)) => ds == id,
            Some(Value::Number(ds)) => ds.to_string() == id,
            _ => false,
        };
        if names {
            kind |= match object.access_type.as_deref() {
                Some(t) if t.eq_ignore_ascii_case("WRITE") => 2,
                _ => 1,
            };
        }
    }
    if kind == 0 { 1 } else { kind }
}

/// A registered user's successful query of registered data sources: one access row per data
/// source, and one per purpose of the user's current project. The seed's `Unknown` actor (an
/// unregistered platform user) is not a user and appears in no report.
pub(super) fn query(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
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
    let payload: Option<QueryPayload> = e.payload();
    let project = query_project(payload.as_ref());
    for (id, target) in datasources {
        let kind = access_kind(payload.as_ref(), &id);
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
            "INSERT INTO access(user_key, ts, seq, ds_key, project_id, kind)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT DO UPDATE SET kind = kind | excluded.kind",
        )?
        .execute(params![user, e.ts, e.seq as i64, ds, project, kind])?;
    }
    Ok(())
}
