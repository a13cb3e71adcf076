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
    let inserted = c
        .prepare_cached(
            "INSERT INTO project_purpose_changes(project_id, purpose_id, ts, seq, added, by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
        )?
        .execute(params![project, purpose, ts, seq, added, by])?;
    if inserted == 0 {
        // Applied before (a replay): nothing changes.
        return Ok(());
    }
    let later = c
        .prepare_cached(
            "SELECT 1 FROM project_purpose_changes WHERE project_id = ?1 AND purpose_id = ?2
                AND (ts > ?3 OR (ts = ?3 AND seq > ?4)) LIMIT 1",
        )?
        .exists(params![project, purpose, ts, seq])?;
    if later {
        let start = replay_start(
            c,
            "project_purpose_spans",
            ["project_id", "purpose_id"],
            (&project, &purpose),
            ts,
        )?;
        refresh_project_purpose(c, project, purpose, start)
    } else {
        project_purpose_moved_on(c, project, purpose, ts, added, by)
    }
}

/// Where a late change at `ts` makes a relation's history change: the start of the stretch that
/// began before `ts` and still held at `ts` (or closed exactly then), or `ts` itself when none
/// did. Just before that point nothing held, so the changes from it on, replayed from nothing,
/// give the stretches from it on and the current state: a late change costs its stretch, not
/// the relation's whole history.
fn replay_start(
    c: &Connection,
    table: &str,
    columns: [&str; 2],
    key: (&dyn rusqlite::ToSql, &dyn rusqlite::ToSql),
    ts: i64,
) -> rusqlite::Result<i64> {
    use rusqlite::OptionalExtension;
    let latest: Option<(i64, Option<i64>)> = c
        .prepare_cached(&format!(
            "SELECT from_ts, to_ts FROM {table} WHERE {} = ?1 AND {} = ?2 AND from_ts < ?3
              ORDER BY from_ts DESC LIMIT 1",
            columns[0], columns[1]
        ))?
        .query_row(params![key.0, key.1, ts], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    Ok(latest
        .filter(|(_, to)| to.is_none_or(|to| to >= ts))
        .map_or(ts, |(from, _)| from))
}

/// Recomputes the stretches from `start` on and the current state of a project's purpose from
/// its changes from `start` on (`i64::MIN`: all of them).
fn refresh_project_purpose(
    c: &Connection,
    project: &str,
    purpose: &str,
    start: i64,
) -> rusqlite::Result<()> {
    let changes: Vec<Change> = c
        .prepare_cached(
            "SELECT ts, added, by FROM project_purpose_changes
              WHERE project_id = ?1 AND purpose_id = ?2 AND ts >= ?3 ORDER BY ts, seq",
        )?
        .query_map(params![project, purpose, start], |row| {
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
        "DELETE FROM project_purpose_spans WHERE project_id = ?1 AND purpose_id = ?2 AND from_ts >= ?3",
    )?
    .execute(params![project, purpose, start])?;
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

/// A project's purpose changed after every change known before (the usual order): the current
/// state and the open stretch move on by this change alone, as [`spans`] would have it, instead
/// of every change of the pair being read again for each new one.
fn project_purpose_moved_on(
    c: &Connection,
    project: &str,
    purpose: &str,
    ts: i64,
    added: bool,
    by: Option<&str>,
) -> rusqlite::Result<()> {
    let holds = c
        .prepare_cached("SELECT 1 FROM project_purposes WHERE project_id = ?1 AND purpose_id = ?2")?
        .exists(params![project, purpose])?;
    match (added, holds) {
        (true, false) => {
            c.prepare_cached(
                "INSERT INTO project_purposes(project_id, purpose_id, added_by, added) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![project, purpose, by, ts])?;
            c.prepare_cached(
                "INSERT INTO project_purpose_spans(project_id, purpose_id, from_ts, to_ts) VALUES (?1, ?2, ?3, NULL)
                 ON CONFLICT DO UPDATE SET to_ts = NULL",
            )?
            .execute(params![project, purpose, ts])?;
        }
        (false, true) => {
            c.prepare_cached(
                "DELETE FROM project_purposes WHERE project_id = ?1 AND purpose_id = ?2",
            )?
            .execute(params![project, purpose])?;
            close_span(
                c,
                "project_purpose_spans",
                ["project_id", "purpose_id"],
                (&project, &purpose),
                ts,
            )?;
        }
        // Added while held, removed while not held: nothing changes.
        _ => {}
    }
    Ok(())
}

/// Closes at `ts` the open stretch of `table` for the key `columns = (first, second)`; a
/// stretch that would close where it opened never held, and goes.
fn close_span(
    c: &Connection,
    table: &str,
    columns: [&str; 2],
    key: (&dyn rusqlite::ToSql, &dyn rusqlite::ToSql),
    ts: i64,
) -> rusqlite::Result<()> {
    let open = format!(
        "{} = ?1 AND {} = ?2 AND to_ts IS NULL",
        columns[0], columns[1]
    );
    c.prepare_cached(&format!(
        "DELETE FROM {table} WHERE {open} AND from_ts >= ?3"
    ))?
    .execute(params![key.0, key.1, ts])?;
    c.prepare_cached(&format!("UPDATE {table} SET to_ts = ?3 WHERE {open}"))?
        .execute(params![key.0, key.1, ts])?;
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
    let inserted = c
        .prepare_cached(
            "INSERT INTO ds_tag_changes(ds_key, tag, column_name, ts, seq, added, by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
        )?
        .execute(params![ds, tag, column, ts, seq, added, by])?;
    if inserted == 0 {
        // Applied before (a replay): nothing changes.
        return Ok(());
    }
    let later = c
        .prepare_cached(
            "SELECT 1 FROM ds_tag_changes WHERE ds_key = ?1 AND tag = ?2
                AND (ts > ?3 OR (ts = ?3 AND seq > ?4)) LIMIT 1",
        )?
        .exists(params![ds, tag, ts, seq])?;
    if later {
        let start = replay_start(c, "ds_tag_spans", ["tag", "ds_key"], (&tag, &ds), ts)?;
        refresh_ds_tag(c, ds, tag, start)
    } else {
        ds_tag_moved_on(c, ds, column, tag, ts, added, by)
    }
}

/// A tag of a data source changed after every change known before (the usual order): the
/// current columns and the open stretch move on by this change alone, as [`refresh_ds_tag`]
/// would have them.
fn ds_tag_moved_on(
    c: &Connection,
    ds: i64,
    column: &str,
    tag: &str,
    ts: i64,
    added: bool,
    by: Option<&str>,
) -> rusqlite::Result<()> {
    let holders: Vec<String> = c
        .prepare_cached("SELECT column_name FROM ds_tags WHERE ds_key = ?1 AND tag = ?2")?
        .query_map(params![ds, tag], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let holds = holders.iter().any(|holder| holder == column);
    match (added, holds) {
        (true, false) => {
            c.prepare_cached(
                "INSERT INTO ds_tags(ds_key, column_name, tag, tagged_by, tagged) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![ds, column, tag, by, ts])?;
            if holders.is_empty() {
                c.prepare_cached(
                    "INSERT INTO ds_tag_spans(tag, ds_key, from_ts, to_ts) VALUES (?1, ?2, ?3, NULL)
                     ON CONFLICT DO UPDATE SET to_ts = NULL",
                )?
                .execute(params![tag, ds, ts])?;
            }
        }
        (false, true) => {
            c.prepare_cached(
                "DELETE FROM ds_tags WHERE ds_key = ?1 AND column_name = ?2 AND tag = ?3",
            )?
            .execute(params![ds, column, tag])?;
            if holders.len() == 1 {
                close_span(c, "ds_tag_spans", ["tag", "ds_key"], (&tag, &ds), ts)?;
            }
        }
        // Added while held, removed while not held: nothing changes.
        _ => {}
    }
    Ok(())
}

/// Recomputes the stretches from `start` on and the current columns of `tag` on `ds` from its
/// changes from `start` on (`i64::MIN`: all of them).
fn refresh_ds_tag(c: &Connection, ds: i64, tag: &str, start: i64) -> rusqlite::Result<()> {
    let changes: Vec<Change> = c
        .prepare_cached(
            "SELECT ts, column_name, added, by FROM ds_tag_changes
              WHERE ds_key = ?1 AND tag = ?2 AND ts >= ?3 ORDER BY ts, seq",
        )?
        .query_map(params![ds, tag, start], |row| {
            Ok(Change {
                ts: row.get(0)?,
                holder: row.get(1)?,
                added: row.get(2)?,
                by: row.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    c.prepare_cached("DELETE FROM ds_tag_spans WHERE tag = ?1 AND ds_key = ?2 AND from_ts >= ?3")?
        .execute(params![tag, ds, start])?;
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

    /// The projection's relation tables, in a stable order.
    fn relation_tables(c: &Connection) -> Vec<String> {
        let mut rows = Vec::new();
        for table in [
            "ds_tags",
            "ds_tag_spans",
            "project_purposes",
            "project_purpose_spans",
        ] {
            let mut statement = c
                .prepare(&format!("SELECT * FROM {table} ORDER BY 1, 2, 3"))
                .unwrap();
            let width = statement.column_count();
            let mut found = statement.query([]).unwrap();
            while let Some(row) = found.next().unwrap() {
                let values: Vec<String> = (0..width)
                    .map(|i| format!("{:?}", row.get_ref(i).unwrap()))
                    .collect();
                rows.push(format!("{table}: {}", values.join(", ")));
            }
        }
        rows
    }

    /// Changes mostly in event order (moved on one at a time), some late (recomputed from the
    /// stretch they fall in) and some replayed: the tables equal a recount from every change.
    #[test]
    fn changes_in_order_move_the_state_on_as_a_recount_would() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(super::super::schema::TABLES).unwrap();
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let columns = ["", "email", "name"];
        for round in 0..200 {
            c.execute_batch(
                "DELETE FROM ds_tag_changes; DELETE FROM ds_tags; DELETE FROM ds_tag_spans;
                 DELETE FROM project_purpose_changes; DELETE FROM project_purposes;
                 DELETE FROM project_purpose_spans;",
            )
            .unwrap();
            let mut now = 100;
            // First a stretch that closes and opens again at one moment, then a late change at
            // that moment, before the close: the stretch never closed.
            let mut applied = if round == 0 {
                vec![
                    (10, 1, "email", true),
                    (20, 3, "email", false),
                    (20, 4, "email", true),
                    (20, 2, "name", true),
                ]
            } else {
                Vec::new()
            };
            for seq in (0..30).filter(|_| round > 0) {
                // Several changes share a time; one in five arrives late.
                now += next(3) as i64;
                let ts = if next(5) == 0 {
                    now - next(10) as i64
                } else {
                    now
                };
                let change = (ts, seq, columns[next(3) as usize], next(2) == 0);
                applied.push(change);
                if next(8) == 0 {
                    applied.push(applied[next(applied.len() as u64) as usize]);
                }
            }
            for (ts, seq, column, added) in applied {
                let by = format!("by-{seq}");
                ds_tag_changed(&c, 1, column, "pii", (ts, seq), added, Some(&by)).unwrap();
                project_purpose_changed(&c, "pr", "pu", (ts, seq), added, Some(&by)).unwrap();
            }
            let moved_on = relation_tables(&c);
            refresh_ds_tag(&c, 1, "pii", i64::MIN).unwrap();
            refresh_project_purpose(&c, "pr", "pu", i64::MIN).unwrap();
            assert_eq!(relation_tables(&c), moved_on, "round {round}");
        }
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
