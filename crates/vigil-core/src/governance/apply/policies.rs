//! Global and local policies and their state on each data source.

use super::*;

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
pub(super) fn policy_tag_names(definition: &Value) -> Vec<String> {
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
pub(super) fn payload_policy(e: &Event<'_>) -> Option<(Value, PolicyDefinition)> {
    #[derive(Deserialize)]
    struct WithPolicy {
        policy: Option<Value>,
    }
    let raw = e.payload::<WithPolicy>()?.policy?;
    let typed = serde_json::from_value(raw.clone()).ok()?;
    Some((raw, typed))
}

pub(super) fn set_policy_index(
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

pub(super) fn upsert_global_policy(
    c: &Connection,
    r: &Resource,
) -> rusqlite::Result<Option<String>> {
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

pub(super) fn global_policy_upserted(
    c: &Connection,
    e: &Event<'_>,
    created: bool,
) -> rusqlite::Result<()> {
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

pub(super) fn global_policy_deleted(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
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
pub(super) fn policy_pair(
    c: &Connection,
    e: &Event<'_>,
) -> rusqlite::Result<Option<(String, i64)>> {
    let Some(policy) = e.resource(&TargetType::GlobalPolicy) else {
        return Ok(None);
    };
    let Some(policy) = upsert_global_policy(c, policy)? else {
        return Ok(None);
    };
    Ok(event_datasource(c, e)?.map(|ds| (policy, ds)))
}

pub(super) fn policy_applied(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
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

pub(super) fn policy_conflict_resolved(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
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
pub(super) fn policy_disabled(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
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

pub(super) fn policy_removed(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
    if let Some((policy, ds)) = policy_pair(c, e)? {
        c.prepare_cached("DELETE FROM policy_datasources WHERE policy_id = ?1 AND ds_key = ?2")?
            .execute(params![policy, ds])?;
    }
    Ok(())
}

pub(super) fn policy_certified(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
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

pub(super) fn policy_decertified(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
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
pub(super) fn local_policy(c: &Connection, e: &Event<'_>) -> rusqlite::Result<()> {
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
