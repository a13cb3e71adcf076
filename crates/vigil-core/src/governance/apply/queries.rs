//! Query events: the access facts reports are built from.

use super::*;

/// The id of the project in `accessControls.project` or `accessControls.entitlements.project`:
/// an object with `id`, or a bare id.
pub(super) fn query_project(payload: Option<QueryPayload>) -> Option<String> {
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
