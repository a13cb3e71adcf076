//! Data sources, connections, and the tags on data sources and columns.

use super::*;

/// The key of a data source, created when it is new; `name` and `technology` fill in or update.
pub(super) fn upsert_datasource(
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

pub(super) fn upsert_datasource_resource(
    c: &Connection,
    r: &Resource,
) -> rusqlite::Result<Option<i64>> {
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
pub(super) fn event_datasource(c: &Connection, e: &Event<'_>) -> rusqlite::Result<Option<i64>> {
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

pub(super) fn datasource_created(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
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

pub(super) fn datasource_updated(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
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

pub(super) fn datasource_flag(c: &Connection, e: &Event<'_>, flag: &str) -> rusqlite::Result<()> {
    if let Some(key) = event_datasource(c, e)? {
        let sql = match flag {
            "deleted" => "UPDATE datasources SET deleted = ?2 WHERE key = ?1",
            _ => "UPDATE datasources SET disabled = 1 WHERE key = ?1 AND ?2 IS NOT NULL",
        };
        c.prepare_cached(sql)?.execute(params![key, e.ts])?;
    }
    Ok(())
}

pub(super) fn upsert_tag(
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

pub(super) fn tag_created(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
    let payload: Option<TagCreatedPayload> = e.payload();
    for tag in payload.and_then(|p| p.tags).unwrap_or_default() {
        upsert_tag(c, &tag, Some(e.ts))?;
    }
    Ok(())
}

/// The target carries the tag's new name; the payload's tags its old one (the seed's example
/// renames "First name" to "TestTagUpdate"). Tag assignments follow the rename.
pub(super) fn tag_updated(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
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

pub(super) fn tag_deleted(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
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
pub(super) fn tags_on_datasource(
    c: &Connection,
    e: &Event<'_>,
    applied: bool,
) -> rusqlite::Result<()> {
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
