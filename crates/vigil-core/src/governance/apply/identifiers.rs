//! Sensitive data discovery identifiers (classifiers) and the tags they apply.

use super::*;

pub(super) fn classifier_upserted(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
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

pub(super) fn classifier_deleted(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
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
