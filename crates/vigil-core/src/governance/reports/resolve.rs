//! Resolving what a user typed to one entity (an id, a name, an email, a key), and the suggestions of the name box.

use super::*;

/// (table, key column or NULL, id, name, extra names matched exactly, "live" condition).
pub(super) fn entity_source(entity: EntityType) -> Option<&'static str> {
    Some(match entity {
        EntityType::User => {
            "SELECT key, id, coalesce(name, id) AS name, email AS alt, deleted IS NULL AS live FROM users"
        }
        EntityType::Group => {
            "SELECT NULL AS key, id, coalesce(name, id) AS name, NULL AS alt, deleted IS NULL AS live FROM groups"
        }
        EntityType::Project => {
            "SELECT NULL AS key, id, coalesce(name, id) AS name, project_key AS alt, deleted IS NULL AS live FROM projects"
        }
        EntityType::Datasource => {
            "SELECT key, id, coalesce(name, id) AS name, NULL AS alt, deleted IS NULL AS live FROM datasources"
        }
        EntityType::Purpose => {
            "SELECT NULL AS key, id, coalesce(name, id) AS name, NULL AS alt, deleted IS NULL AS live FROM purposes"
        }
        EntityType::PolicyType => {
            "SELECT DISTINCT NULL AS key, policy_type AS id, policy_type AS name, NULL AS alt, 1 AS live FROM policy_types"
        }
        EntityType::GlobalPolicy => {
            "SELECT NULL AS key, id, coalesce(name, id) AS name, policy_key AS alt, deleted IS NULL AS live FROM global_policies"
        }
        EntityType::Connection => {
            "SELECT NULL AS key, id, coalesce(name, id) AS name, connection_key AS alt, 1 AS live FROM connections"
        }
        EntityType::Tag => {
            "SELECT NULL AS key, name AS id, name, NULL AS alt, deleted IS NULL AS live FROM tags
             UNION SELECT DISTINCT NULL, tag, tag, NULL, 1 FROM ds_tags"
        }
        EntityType::Sdd => return None,
    })
}

pub(super) fn entities(
    conn: &Connection,
    sql: &str,
    params: &[(&str, &str)],
) -> rusqlite::Result<Vec<Entity>> {
    let mut statement = conn.prepare(sql)?;
    for (name, value) in params {
        if let Some(index) = statement.parameter_index(name)? {
            statement.raw_bind_parameter(index, value)?;
        }
    }
    let mut rows = statement.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(Entity {
            key: row.get(0)?,
            id: row.get(1)?,
            name: row.get(2)?,
        });
    }
    Ok(out)
}

/// Entities of a type whose id or name contains `text` (any case): the "enter name" box.
pub fn suggest(
    governance: &Governance,
    entity: EntityType,
    text: &str,
    limit: usize,
) -> Result<Vec<Entity>, ReportError> {
    let Some(source) = entity_source(entity) else {
        return Ok(Vec::new());
    };
    let conn = governance.reader()?;
    let sql = format!(
        "SELECT key, id, name FROM ({source}) WHERE live AND (name LIKE :like ESCAPE '\\' OR id LIKE :like ESCAPE '\\' OR alt LIKE :like ESCAPE '\\')
         ORDER BY lower(name) <> lower(:text), instr(lower(name), lower(:text)), lower(name), id LIMIT {limit}"
    );
    let like = format!("%{}%", escape_like(text.trim()));
    Ok(
        entities(&conn, &sql, &[(":like", &like), (":text", text.trim())])
            .map_err(ProjectionError::from)?,
    )
}

/// The live entities closest to `text`: names (or ids) holding it first, by where it starts, then
/// the others by edit distance, at most a third of the typed length away (two at least); ties in
/// natural name order.
fn closest(
    conn: &rusqlite::Connection,
    source: &str,
    text: &str,
    limit: usize,
) -> Result<Vec<Entity>, ReportError> {
    let typed = text.trim().to_lowercase();
    let all = entities(
        conn,
        &format!("SELECT key, id, name FROM ({source}) WHERE live"),
        &[],
    )
    .map_err(ProjectionError::from)?;
    let most = (typed.chars().count() / 3).max(2);
    let mut ranked: Vec<((usize, usize), Entity)> = all
        .into_iter()
        .filter_map(|entity| {
            let name = entity.name.to_lowercase();
            let id = entity.id.to_lowercase();
            if let Some(at) = name.find(&typed).or_else(|| id.find(&typed)) {
                return Some(((0, at), entity));
            }
            let distance = edit_distance(&name, &typed).min(edit_distance(&id, &typed));
            (distance <= most).then_some(((1, distance), entity))
        })
        .collect();
    ranked.sort_by(|(a, x), (b, y)| {
        a.cmp(b)
            .then_with(|| super::natural_cmp(&x.name, &y.name))
            .then_with(|| x.id.cmp(&y.id))
    });
    Ok(ranked
        .into_iter()
        .take(limit)
        .map(|(_, entity)| entity)
        .collect())
}

/// Levenshtein distance in characters.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

pub(super) fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Resolves what the user typed: an id, else a name (or email, project key, policy key,
/// connection key) in any case. Several matches are ambiguous; none gives suggestions.
pub fn resolve(
    governance: &Governance,
    entity: EntityType,
    text: &str,
) -> Result<Entity, ReportError> {
    let Some(source) = entity_source(entity) else {
        return Err(ReportError::Name(
            "sdd reports are about every data source: give no name".into(),
        ));
    };
    let text = text.trim();
    if text.is_empty() {
        return Err(ReportError::Name(format!(
            "the {} name is empty",
            entity.as_str()
        )));
    }
    let conn = governance.reader()?;
    let by_id = entities(
        &conn,
        &format!(
            "SELECT key, id, name FROM ({source}) WHERE id = :text ORDER BY live DESC LIMIT 1"
        ),
        &[(":text", text)],
    )
    .map_err(ProjectionError::from)?;
    if let Some(found) = by_id.into_iter().next() {
        return Ok(found);
    }
    let by_name = entities(
        &conn,
        &format!(
            "SELECT key, id, name FROM ({source})
             WHERE (lower(name) = lower(:text) OR lower(alt) = lower(:text)) AND live ORDER BY id LIMIT 20"
        ),
        &[(":text", text)],
    ).map_err(ProjectionError::from)?;
    match by_name.len() {
        1 => Ok(by_name.into_iter().next().expect("one")),
        0 => {
            // The closest names: those holding what was typed, then by edit distance (a typo).
            let suggestions = closest(&conn, source, text, 10)?;
            Err(ReportError::NotFound {
                entity: entity.as_str(),
                name: text.to_owned(),
                suggestions,
            })
        }
        _ => Err(ReportError::Ambiguous {
            entity: entity.as_str(),
            name: text.to_owned(),
            candidates: by_name,
        }),
    }
}
