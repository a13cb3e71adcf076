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

/// The changes of one holder, as the changes of a relation with that one holder.
fn changes_of(changes: &[Change], holder: &str) -> Vec<Change> {
    changes
        .iter()
        .filter(|change| change.holder == holder)
        .map(|change| Change {
            ts: change.ts,
            holder: String::new(),
            added: change.added,
            by: change.by.clone(),
        })
        .collect()
}

/// The stretches in which at least one holder has the relation, from changes in (ts, seq) order.
/// A change that repeats the holder's state (added twice) changes nothing.
fn spans(changes: &[Change]) -> Vec<Span> {
    spans_from(Vec::new(), i64::MIN, changes)
}

/// [`spans`] from a point where `holding` have the relation already, in a stretch opened at
/// `open` (its `by` is not known here: `None`), which the first stretch then continues.
fn spans_from<'a>(mut holding: Vec<&'a str>, open: i64, changes: &'a [Change]) -> Vec<Span> {
    let mut spans: Vec<Span> = Vec::new();
    if !holding.is_empty() {
        spans.push(Span {
            from: open,
            by: None,
            to: None,
        });
    }
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
        project_purpose_late(c, project, purpose, ts)
    } else {
        project_purpose_moved_on(c, project, purpose, ts, added, by)
    }
}

/// What a late change's replay made of one holder's current state.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// It holds in the stretch it held in before the late change: its current row stays.
    Unchanged,
    /// It holds in a stretch opened at `from` by `by`.
    Holds { from: i64, by: Option<String> },
    /// It does not hold now.
    Released,
}

/// Replays `changes` (every change from a late change's time on, in order) from the holders
/// just before that time (`before`, in a stretch opened at `open`): the stretches from there on,
/// the first continuing the open one when any holder held, and what became of each holder the
/// changes touch. A late change so costs the changes after it, not the relation's history.
fn replay(before: &[String], open: i64, changes: &[Change]) -> (Vec<Span>, Vec<(String, Outcome)>) {
    let spans = spans_from(before.iter().map(String::as_str).collect(), open, changes);
    let mut touched: Vec<&str> = changes
        .iter()
        .map(|change| change.holder.as_str())
        .collect();
    touched.sort_unstable();
    touched.dedup();
    let outcomes = touched
        .into_iter()
        .map(|holder| {
            let held = before.iter().any(|other| other == holder);
            let own = changes_of(changes, holder);
            let initial = if held { vec![""] } else { Vec::new() };
            let own_spans = spans_from(initial, open, &own);
            let outcome = match own_spans.last() {
                Some(last) if last.to.is_none() && held && own_spans.len() == 1 => {
                    Outcome::Unchanged
                }
                Some(last) if last.to.is_none() => Outcome::Holds {
                    from: last.from,
                    by: last.by.clone(),
                },
                _ => Outcome::Released,
            };
            (holder.to_owned(), outcome)
        })
        .collect();
    (spans, outcomes)
}

/// The start of the stretch of `table` (key `columns`) that holds just before `ts`.
fn open_before(
    c: &Connection,
    table: &str,
    columns: [&str; 2],
    key: (&dyn rusqlite::ToSql, &dyn rusqlite::ToSql),
    ts: i64,
) -> rusqlite::Result<Option<i64>> {
    use rusqlite::OptionalExtension;
    c.prepare_cached(&format!(
        "SELECT from_ts FROM {table} WHERE {} = ?1 AND {} = ?2 AND from_ts < ?3
          ORDER BY from_ts DESC LIMIT 1",
        columns[0], columns[1]
    ))?
    .query_row(params![key.0, key.1, ts], |row| row.get(0))
    .optional()
}

/// The key columns of `ds_tag_spans`.
const DS_TAG_KEY: [&str; 2] = ["tag", "ds_key"];

/// Replaces the stretches of `table` (key `columns = key`) from `from` on with `spans`.
fn replace_spans(
    c: &Connection,
    table: &str,
    columns: [&str; 2],
    key: (&dyn rusqlite::ToSql, &dyn rusqlite::ToSql),
    from: i64,
    spans: &[Span],
) -> rusqlite::Result<()> {
    let [first, second] = columns;
    c.prepare_cached(&format!(
        "DELETE FROM {table} WHERE {first} = ?1 AND {second} = ?2 AND from_ts >= ?3"
    ))?
    .execute(params![key.0, key.1, from])?;
    let mut insert = c.prepare_cached(&format!(
        "INSERT INTO {table}({first}, {second}, from_ts, to_ts) VALUES (?1, ?2, ?3, ?4)"
    ))?;
    for span in spans {
        insert.execute(params![key.0, key.1, span.from, span.to])?;
    }
    Ok(())
}

/// A project's purpose changed at `ts`, before changes already applied: its stretches from
/// there on and its current state are replayed from its state just before `ts`.
fn project_purpose_late(
    c: &Connection,
    project: &str,
    purpose: &str,
    ts: i64,
) -> rusqlite::Result<()> {
    use rusqlite::OptionalExtension;
    let held: Option<bool> = c
        .prepare_cached(
            "SELECT added FROM project_purpose_changes WHERE project_id = ?1 AND purpose_id = ?2
                AND ts < ?3 ORDER BY ts DESC, seq DESC LIMIT 1",
        )?
        .query_row(params![project, purpose, ts], |row| row.get(0))
        .optional()?;
    let before = if held == Some(true) {
        vec![String::new()]
    } else {
        Vec::new()
    };
    let key = ["project_id", "purpose_id"];
    let open = if before.is_empty() {
        ts
    } else {
        match open_before(c, "project_purpose_spans", key, (&project, &purpose), ts)? {
            Some(open) => open,
            // The stretch that should hold is missing: recount from every change.
            None => return refresh_project_purpose(c, project, purpose, i64::MIN),
        }
    };
    let changes = project_purpose_changes(c, project, purpose, ts)?;
    let (spans, outcomes) = replay(&before, open, &changes);
    replace_spans(
        c,
        "project_purpose_spans",
        key,
        (&project, &purpose),
        open,
        &spans,
    )?;
    for (_, outcome) in outcomes {
        match outcome {
            Outcome::Unchanged => {}
            Outcome::Holds { from, by } => {
                c.prepare_cached(
                    "INSERT INTO project_purposes(project_id, purpose_id, added_by, added) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT DO UPDATE SET added_by = excluded.added_by, added = excluded.added",
                )?
                .execute(params![project, purpose, by, from])?;
            }
            Outcome::Released => {
                c.prepare_cached(
                    "DELETE FROM project_purposes WHERE project_id = ?1 AND purpose_id = ?2",
                )?
                .execute(params![project, purpose])?;
            }
        }
    }
    Ok(())
}

/// The changes of a project's purpose from `start` on, in order.
fn project_purpose_changes(
    c: &Connection,
    project: &str,
    purpose: &str,
    start: i64,
) -> rusqlite::Result<Vec<Change>> {
    c.prepare_cached(
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
    .collect()
}

/// A tag of a data source changed at `ts`, before changes already applied: its stretches from
/// there on and the current state of the columns those changes touch are replayed from the
/// holders just before `ts` (a holder's state is what its last change made it).
fn ds_tag_late(c: &Connection, ds: i64, tag: &str, ts: i64) -> rusqlite::Result<()> {
    use rusqlite::OptionalExtension;
    let changes = ds_tag_changes(c, ds, tag, ts)?;
    let current: Vec<String> = c
        .prepare_cached("SELECT column_name FROM ds_tags WHERE ds_key = ?1 AND tag = ?2")?
        .query_map(params![ds, tag], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let touched = |holder: &str| changes.iter().any(|change| change.holder == holder);
    // Holders the changes do not touch hold now as they did then.
    let mut before: Vec<String> = current.into_iter().filter(|h| !touched(h)).collect();
    let mut last_before = c.prepare_cached(
        "SELECT added FROM ds_tag_changes WHERE ds_key = ?1 AND tag = ?2 AND column_name = ?3
            AND ts < ?4 ORDER BY ts DESC, seq DESC LIMIT 1",
    )?;
    let mut seen: Vec<&str> = Vec::new();
    for change in &changes {
        if seen.contains(&change.holder.as_str()) {
            continue;
        }
        seen.push(&change.holder);
        let held: Option<bool> = last_before
            .query_row(params![ds, tag, change.holder, ts], |row| row.get(0))
            .optional()?;
        if held == Some(true) {
            before.push(change.holder.clone());
        }
    }
    let open = if before.is_empty() {
        ts
    } else {
        match open_before(c, "ds_tag_spans", DS_TAG_KEY, (&tag, &ds), ts)? {
            Some(open) => open,
            // The stretch that should hold is missing: recount from every change.
            None => return refresh_ds_tag(c, ds, tag, i64::MIN),
        }
    };
    let (spans, outcomes) = replay(&before, open, &changes);
    replace_spans(c, "ds_tag_spans", DS_TAG_KEY, (&tag, &ds), open, &spans)?;
    for (column, outcome) in outcomes {
        match outcome {
            Outcome::Unchanged => {}
            Outcome::Holds { from, by } => {
                c.prepare_cached(
                    "INSERT INTO ds_tags(ds_key, column_name, tag, tagged_by, tagged) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT DO UPDATE SET tagged_by = excluded.tagged_by, tagged = excluded.tagged",
                )?
                .execute(params![ds, column, tag, by, from])?;
            }
            Outcome::Released => {
                c.prepare_cached(
                    "DELETE FROM ds_tags WHERE ds_key = ?1 AND column_name = ?2 AND tag = ?3",
                )?
                .execute(params![ds, column, tag])?;
            }
        }
    }
    Ok(())
}

/// The changes of a tag on a data source and its columns from `start` on, in order.
fn ds_tag_changes(c: &Connection, ds: i64, tag: &str, start: i64) -> rusqlite::Result<Vec<Change>> {
    c.prepare_cached(
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
    .collect()
}

/// Recomputes the stretches from `start` on and the current state of a project's purpose from
/// its changes from `start` on (`i64::MIN`: all of them).
fn refresh_project_purpose(
    c: &Connection,
    project: &str,
    purpose: &str,
    start: i64,
) -> rusqlite::Result<()> {
    let changes = project_purpose_changes(c, project, purpose, start)?;
    let spans = spans(&changes);
    replace_spans(
        c,
        "project_purpose_spans",
        ["project_id", "purpose_id"],
        (&project, &purpose),
        start,
        &spans,
    )?;
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
        ds_tag_late(c, ds, tag, ts)
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
                close_span(c, "ds_tag_spans", DS_TAG_KEY, (&tag, &ds), ts)?;
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
    let changes = ds_tag_changes(c, ds, tag, start)?;
    replace_spans(
        c,
        "ds_tag_spans",
        DS_TAG_KEY,
        (&tag, &ds),
        start,
        &spans(&changes),
    )?;
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
        let of_column = changes_of(&changes, column);
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

    /// Changes mostly in event order (moved on one at a time), some late (replayed from the
    /// state just before them) and some replayed: the tables equal a recount from every change.
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
                // Several changes share a time; one in five arrives late (in odd rounds one
                // in two, up to 40 back: late changes in and across each other's stretches).
                now += next(3) as i64;
                let (late_one_in, back) = if round % 2 == 0 { (5, 10) } else { (2, 40) };
                let ts = if next(late_one_in) == 0 {
                    now - next(back) as i64
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
