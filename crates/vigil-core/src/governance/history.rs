//! Relations that change over time and that reports evaluate at the time of a query: a project's
//! purposes and a data source's tags. Each is kept as the list of its changes in event time;
//! the stretches of time in which it held (`…_spans`) and its current state follow from that list
//! alone, so they are the same whatever order the events arrived in (query events pulled hours
//! late, an admin event replayed after the queries it preceded).

use rusqlite::{Connection, params};

/// One change of a relation: at `(ts, seq)`, `holder` gained (`added`) or lost it. A data source
/// carries a tag through itself (holder `""`) or any of its columns.
struct Change {
    ts: i64,
    holder: String,
    added: bool,
    by: Option<String>,
}

/// One stretch in which the relation held: from `from` (with who made it hold) until `to`
/// (`None`: still holds).
#[derive(Debug, PartialEq, Eq)]
struct Span {
    from: i64,
    by: Option<String>,
    to: Option<i64>,
}

/// The stretches in which at least one holder has the relation, from changes in (ts, seq) order.
/// A change that repeats the holder's state (added twice) changes nothing.
fn spans(changes: &[Change]) -> Vec<Span> {
    let mut holding: Vec<&str> = Vec::new();
    let mut spans: Vec<Span> = Vec::new();
    for change in changes {
        let had = !holding.is_empty();
        let position = holding.iter().position(|holder| *holder == change.holder);
        match (change.added, position) {
            (true, None) => holding.push(&change.holder),
            (false, Some(index)) => {
                holding.swap_remove(index);
            }
            _ => continue,
        }
        match (had, holding.is_empty()) {
            (false, false) => spans.push(Span {
                from: change.ts,
                by: change.by.clone(),
                to: None,
            }),
            (true, true) => {
                if let Some(open) = spans.last_mut() {
                    open.to = Some(change.ts);
                }
            }
            _ => {}
        }
    }
    // A stretch that opened and closed at the same moment never held.
    spans.retain(|span| span.to != Some(span.from));
    spans
}

/// A project gained or lost a purpose at `(ts, seq)`.
pub(super) fn project_purpose_changed(
    c: &Connection,
    project: &str,
    purpose: &str,
    (ts, seq): (i64, i64),
    added: bool,
    by: Option<&str>,
) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO project_purpose_changes(project_id, purpose_id, ts, seq, added, by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
    )?
    .execute(params![project, purpose, ts, seq, added, by])?;
    let changes: Vec<Change> = c
        .prepare_cached(
            "SELECT ts, added, by FROM project_purpose_changes
              WHERE project_id = ?1 AND purpose_id = ?2 ORDER BY ts, seq",
        )?
        .query_map(params![project, purpose], |row| {
            Ok(Change {
                ts: row.get(0)?,
                holder: String::new(),
                added: row.get(1)?,
                by: row.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let spans = spans(&changes);
    c.prepare_cached(
        "DELETE FROM project_purpose_spans WHERE project_id = ?1 AND purpose_id = ?2",
    )?
    .execute(params![project, purpose])?;
    let mut insert = c.prepare_cached(
        "INSERT INTO project_purpose_spans(project_id, purpose_id, from_ts, to_ts) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for span in &spans {
        insert.execute(params![project, purpose, span.from, span.to])?;
    }
    // The current state: the last stretch, if it still holds.
    match spans.last().filter(|span| span.to.is_none()) {
        Some(current) => c
            .prepare_cached(
                "INSERT INTO project_purposes(project_id, purpose_id, added_by, added) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT DO UPDATE SET added_by = excluded.added_by, added = excluded.added",
            )?
            .execute(params![project, purpose, current.by, current.from])?,
        None => c
            .prepare_cached(
                "DELETE FROM project_purposes WHERE project_id = ?1 AND purpose_id = ?2",
            )?
            .execute(params![project, purpose])?,
    };
    Ok(())
}

/// A data source (`column` empty) or one of its columns gained or lost a tag at `(ts, seq)`.
pub(super) fn ds_tag_changed(
    c: &Connection,
    ds: i64,
    column: &str,
    tag: &str,
    (ts, seq): (i64, i64),
    added: bool,
    by: Option<&str>,
) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO ds_tag_changes(ds_key, tag, column_name, ts, seq, added, by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
    )?
    .execute(params![ds, tag, column, ts, seq, added, by])?;
    refresh_ds_tag(c, ds, tag)
}

/// Recomputes the stretches and the current columns of `tag` on `ds` from its changes.
fn refresh_ds_tag(c: &Connection, ds: i64, tag: &str) -> rusqlite::Result<()> {
    let changes: Vec<Change> = c
        .prepare_cached(
            "SELECT ts, column_name, added, by FROM ds_tag_changes
              WHERE ds_key = ?1 AND tag = ?2 ORDER BY ts, seq",
        )?
        .query_map(params![ds, tag], |row| {
            Ok(Change {
                ts: row.get(0)?,
                holder: row.get(1)?,
                added: row.get(2)?,
                by: row.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    c.prepare_cached("DELETE FROM ds_tag_spans WHERE tag = ?1 AND ds_key = ?2")?
        .execute(params![tag, ds])?;
    let mut insert = c.prepare_cached(
        "INSERT INTO ds_tag_spans(tag, ds_key, from_ts, to_ts) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for span in spans(&changes) {
        insert.execute(params![tag, ds, span.from, span.to])?;
    }
    // The current state, column by column.
    c.prepare_cached("DELETE FROM ds_tags WHERE ds_key = ?1 AND tag = ?2")?
        .execute(params![ds, tag])?;
    let mut columns: Vec<&str> = changes
        .iter()
        .map(|change| change.holder.as_str())
        .collect();
    columns.sort_unstable();
    columns.dedup();
    let mut insert = c.prepare_cached(
        "INSERT INTO ds_tags(ds_key, column_name, tag, tagged_by, tagged) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for column in columns {
        let of_column: Vec<Change> = changes
            .iter()
            .filter(|change| change.holder == column)
            .map(|change| Change {
                ts: change.ts,
                holder: String::new(),
                added: change.added,
                by: change.by.clone(),
            })
            .collect();
        if let Some(current) = spans(&of_column).last().filter(|span| span.to.is_none()) {
            insert.execute(params![ds, column, tag, current.by, current.from])?;
        }
    }
    Ok(())
}

/// A tag was renamed: its history follows it.
pub(super) fn tag_renamed(c: &Connection, old: &str, new: &str) -> rusqlite::Result<()> {
    for sql in [
        "UPDATE OR REPLACE ds_tag_changes SET tag = ?2 WHERE tag = ?1",
        "UPDATE OR REPLACE ds_tag_spans SET tag = ?2 WHERE tag = ?1",
        "UPDATE OR REPLACE ds_tags SET tag = ?2 WHERE tag = ?1",
    ] {
        c.prepare_cached(sql)?.execute(params![old, new])?;
    }
    Ok(())
}

/// A tag was deleted at `(ts, seq)`: every data source and column that ever carried it loses it
/// then.
pub(super) fn tag_deleted(c: &Connection, tag: &str, at: (i64, i64)) -> rusqlite::Result<()> {
    let holders: Vec<(i64, String)> = c
        .prepare_cached("SELECT DISTINCT ds_key, column_name FROM ds_tag_changes WHERE tag = ?1")?
        .query_map([tag], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (ds, column) in holders {
        ds_tag_changed(c, ds, &column, tag, at, false, None)?;
    }
    Ok(())
}

/// Whether a project had a purpose at `ts` (for tests and checks).
#[cfg(test)]
fn had_purpose(c: &Connection, project: &str, purpose: &str, ts: i64) -> rusqlite::Result<bool> {
    use rusqlite::OptionalExtension;
    c.query_row(
        "SELECT 1 FROM project_purpose_spans WHERE project_id = ?1 AND purpose_id = ?2
            AND from_ts <= ?3 AND (to_ts IS NULL OR ?3 < to_ts)",
        params![project, purpose, ts],
        |_| Ok(()),
    )
    .optional()
    .map(|found| found.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(ts: i64, holder: &str, added: bool) -> Change {
        Change {
            ts,
            holder: holder.into(),
            added,
            by: Some(format!("by-{ts}")),
        }
    }

    #[test]
    fn a_relation_holds_while_any_holder_has_it() {
        let changes = [
            change(10, "email", true),
            change(20, "", true),
            change(30, "email", false),
            change(40, "", false),
            change(50, "", false),
            change(60, "name", true),
            change(60, "name", true),
        ];
        let found = spans(&changes);
        assert_eq!(
            found,
            vec![
                Span {
                    from: 10,
                    by: Some("by-10".into()),
                    to: Some(40)
                },
                Span {
                    from: 60,
                    by: Some("by-60".into()),
                    to: None
                },
            ]
        );
    }

    #[test]
    fn the_purposes_of_a_project_do_not_depend_on_the_order_changes_arrive_in() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(super::super::schema::TABLES).unwrap();
        // Added on day 20, removed on day 30, added again on day 40: applied in two orders.
        let day = |d: i64| d * 86_400_000_000;
        let changes = [(day(20), 1, true), (day(30), 2, false), (day(40), 3, true)];
        for order in [[0, 1, 2], [2, 0, 1]] {
            c.execute_batch("DELETE FROM project_purpose_changes; DELETE FROM project_purposes;")
                .unwrap();
            for index in order {
                let (ts, seq, added) = changes[index];
                project_purpose_changed(&c, "pr", "pu", (ts, seq), added, Some("admin")).unwrap();
            }
            let at = |d| had_purpose(&c, "pr", "pu", day(d)).unwrap();
            assert_eq!(
                (at(10), at(20), at(29), at(30), at(39), at(41)),
                (false, true, true, false, false, true),
                "order {order:?}"
            );
            let added: i64 = c
                .query_row("SELECT added FROM project_purposes", [], |row| row.get(0))
                .unwrap();
            assert_eq!(added, day(40));
        }
    }
}
