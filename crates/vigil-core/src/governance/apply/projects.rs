//! Projects and purposes: a project's data sources and purposes.

use super::*;

/// The project an event is about, created when new; returns its id.
pub(super) fn project_upsert(c: &Connection, e: &Event<'_>) -> rusqlite::Result<Option<String>> {
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

pub(super) fn upsert_purpose(c: &Connection, id: &str, name: Option<&str>) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO purposes(id, name) VALUES (?1, ?2)
         ON CONFLICT(id) DO UPDATE SET name = coalesce(excluded.name, name)",
    )?
    .execute(params![id, name])?;
    Ok(())
}

pub(super) fn add_project_purpose(
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

pub(super) fn add_project_datasource(
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

pub(super) fn project_created(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
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

pub(super) fn project_flag(c: &Connection, e: &Event<'_>, flag: &str) -> rusqlite::Result<()> {
    if let Some(id) = project_upsert(c, e)? {
        let sql = match flag {
            "deleted" => "UPDATE projects SET deleted = ?2 WHERE id = ?1",
            _ => "UPDATE projects SET disabled = 1 WHERE id = ?1 AND ?2 IS NOT NULL",
        };
        c.prepare_cached(sql)?.execute(params![id, e.ts])?;
    }
    Ok(())
}

pub(super) fn project_datasources(
    c: &Connection,
    e: &Event<'_>,
    added: bool,
) -> rusqlite::Result<()> {
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

pub(super) fn project_purpose(
    c: &Connection,
    e: &Event<'_>,
    approved: bool,
) -> rusqlite::Result<()> {
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

pub(super) fn purpose_upserted(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
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

pub(super) fn purpose_deleted(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
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
