//! Running a report over the projection: binding its parameters, streaming its rows with a limit and a timeout, and the reports that are built in Rust.

use super::*;

pub(super) fn bind(statement: &mut Statement<'_>, ctx: &Ctx<'_>) -> rusqlite::Result<()> {
    let entity = ctx.entity;
    let binds: [(&str, rusqlite::types::Value); 4] = [
        (
            ":id",
            entity.map_or(rusqlite::types::Value::Null, |e| e.id.clone().into()),
        ),
        (
            ":key",
            entity
                .and_then(|e| e.key)
                .map_or(rusqlite::types::Value::Null, Into::into),
        ),
        (":from", ctx.from.into()),
        (":to", ctx.to.into()),
    ];
    for (name, value) in binds {
        if let Some(index) = statement.parameter_index(name)? {
            statement.raw_bind_parameter(index, value)?;
        }
    }
    Ok(())
}

pub(super) fn json_value(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::from(i),
        ValueRef::Real(f) => Value::from(f),
        ValueRef::Text(t) | ValueRef::Blob(t) => {
            Value::from(String::from_utf8_lossy(t).into_owned())
        }
    }
}

/// Runs one statement, with `LIMIT` one past the limit to tell whether rows were cut.
pub(super) fn sql_rows(ctx: &Ctx<'_>, sql: &str, emit: &mut Emit<'_>) -> rusqlite::Result<()> {
    let sql = match ctx.limit {
        Some(limit) => format!("{sql}\nLIMIT {}", limit + 1),
        None => sql.to_owned(),
    };
    let mut statement = ctx.conn.prepare(&sql)?;
    bind(&mut statement, ctx)?;
    let width = statement.column_count();
    let mut rows = statement.raw_query();
    while let Some(row) = rows.next()? {
        if !emit(
            (0..width)
                .map(|i| json_value(row.get_ref_unwrap(i)))
                .collect(),
        ) {
            break;
        }
    }
    Ok(())
}

/// Walks the entities `outer` lists, in its order, and the rows `inner` gives for each (with
/// `:outer` bound to the outer row's first column); `each` sees every (entity, inner row) pair
/// and returns whether to go on.
pub(super) fn per_entity(
    ctx: &Ctx<'_>,
    outer: &str,
    inner: &str,
    mut each: impl FnMut(&rusqlite::Row<'_>, &rusqlite::Row<'_>) -> rusqlite::Result<bool>,
) -> rusqlite::Result<()> {
    let mut outer = ctx.conn.prepare(outer)?;
    bind(&mut outer, ctx)?;
    let mut inner = ctx.conn.prepare(inner)?;
    bind(&mut inner, ctx)?;
    let slot = inner
        .parameter_index(":outer")?
        .expect("a per-entity statement binds :outer");
    let mut entities = outer.raw_query();
    while let Some(entity) = entities.next()? {
        inner.raw_bind_parameter(slot, entity.get::<_, rusqlite::types::Value>(0)?)?;
        let mut rows = inner.raw_query();
        while let Some(row) = rows.next()? {
            if !each(entity, row)? {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// The rows of a [`Source::PerEntity`] report.
pub(super) fn per_entity_rows(
    ctx: &Ctx<'_>,
    outer: &str,
    inner: &str,
    lead: usize,
    emit: &mut Emit<'_>,
) -> rusqlite::Result<()> {
    let mut entity_key: Option<rusqlite::types::Value> = None;
    let mut entity_cells: Vec<Value> = Vec::new();
    per_entity(ctx, outer, inner, |entity, row| {
        let key = entity.get::<_, rusqlite::types::Value>(0)?;
        if entity_key.as_ref() != Some(&key) {
            let width = entity.as_ref().column_count();
            entity_cells = (1..width)
                .map(|i| json_value(entity.get_ref_unwrap(i)))
                .collect();
            entity_key = Some(key);
        }
        let width = row.as_ref().column_count();
        let mut cells = Vec::with_capacity(entity_cells.len() + width);
        cells.extend_from_slice(&entity_cells[..lead]);
        cells.extend((0..width).map(|i| json_value(row.get_ref_unwrap(i))));
        cells.extend_from_slice(&entity_cells[lead..]);
        Ok(emit(cells))
    })
}

/// Runs a report. Blocking: call it from a blocking context. The SQL is interrupted when the
/// timeout passes.
pub fn run(
    governance: &Governance,
    request: &ReportRequest<'_>,
) -> Result<ReportTable, ReportError> {
    let mut columns = Vec::new();
    let mut rows = Vec::new();
    let summary = run_each(
        governance,
        request,
        &mut |names: &[String]| columns = names.to_vec(),
        &mut |row| rows.push(row),
    )?;
    Ok(ReportTable {
        columns,
        rows,
        total_rows: summary.total_rows,
        truncated: summary.truncated,
        notes: summary.notes,
        history_starts_at: summary.history_starts_at,
    })
}

/// How many rows a limited report counts in all before it stops counting.
pub const COUNTED_ROWS: usize = 100_000;

/// What [`run_each`] tells besides the rows.
#[derive(Debug, Clone)]
pub struct ReportSummary {
    /// Rows handed on.
    pub rows: usize,
    /// Rows the report has in all, counted past the limit up to [`COUNTED_ROWS`]; `None` when
    /// it has more.
    pub total_rows: Option<usize>,
    /// Whether more rows exist than the limit let through.
    pub truncated: bool,
    /// What the audit trail cannot supply, column by column.
    pub notes: Vec<String>,
    /// Where the report's history starts when retention removed older events (RFC 3339).
    pub history_starts_at: Option<String>,
}

/// Runs a report, handing its column names to `header` and then each row, in order, to `row`,
/// instead of holding them all: a whole report for CSV can be large. On an error the rows handed
/// on so far are not the report. Blocking, with the timeout of [`run`].
pub fn run_each(
    governance: &Governance,
    request: &ReportRequest<'_>,
    header: &mut dyn FnMut(&[String]),
    row: &mut dyn FnMut(Vec<Value>),
) -> Result<ReportSummary, ReportError> {
    let kind = request.kind;
    match (kind.scope, &request.entity) {
        (Scope::One, None) => {
            return Err(ReportError::Name(format!(
                "the {} report `{}` is about one {0}: give its name",
                kind.entity.as_str(),
                kind.key
            )));
        }
        (Scope::All, Some(_)) => {
            return Err(ReportError::Name(format!(
                "the {} report `{}` is about every {0}: give no name",
                kind.entity.as_str(),
                kind.key
            )));
        }
        _ => {}
    }
    if kind.date_range && request.from > request.to {
        return Err(ReportError::Range(format!(
            "the date range starts ({}) after it ends ({})",
            iso(request.from),
            iso(request.to)
        )));
    }
    let conn = governance.reader()?;
    prepare(&conn).map_err(ProjectionError::from)?;
    let ctx = Ctx {
        conn: &conn,
        governance,
        entity: request.entity.as_ref(),
        from: request.from,
        to: request.to,
        limit: request.limit,
    };
    // The watchdog interrupts the statement running when the timeout passes.
    let interrupt = conn.get_interrupt_handle();
    let (done, finished) = mpsc::channel::<()>();
    let timeout = request.timeout;
    let watchdog = std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(timeout) {
            interrupt.interrupt();
            true
        } else {
            false
        }
    });
    let mut count = 0;
    let mut total = 0;
    let mut truncated = false;
    // Rows a post-processing step rewrites are held until it has run; the others go on at once.
    let mut held: Vec<Vec<Value>> = Vec::new();
    let hold = kind.post.is_some();
    let mut emit = |cells: Vec<Value>| {
        total += 1;
        if request.limit.is_some_and(|limit| count >= limit) {
            truncated = true;
            // Rows past the limit are counted (not kept), up to a bound.
            return total < COUNTED_ROWS;
        }
        count += 1;
        if hold {
            held.push(cells);
        } else {
            row(cells);
        }
        true
    };
    let fixed: Vec<String> = kind.columns.iter().map(|c| (*c).to_owned()).collect();
    let outcome = match &kind.source {
        Source::Sql(sql) => {
            header(&fixed);
            sql_rows(&ctx, sql, &mut emit)
        }
        Source::PerEntity {
            outer,
            inner,
            lead,
            whole,
        } => {
            header(&fixed);
            match ctx.limit {
                Some(_) => per_entity_rows(&ctx, outer, inner, *lead, &mut emit),
                None => whole(ctx.conn, &mut emit),
            }
        }
        Source::Custom(build) => build(&ctx, &mut |names| header(&names), &mut emit),
    };
    drop(done);
    let timed_out = watchdog.join().unwrap_or(false);
    match outcome {
        Ok(()) => {}
        Err(rusqlite::Error::SqliteFailure(error, _))
            if timed_out && error.code == rusqlite::ErrorCode::OperationInterrupted =>
        {
            return Err(ReportError::TimedOut(timeout));
        }
        Err(error) => return Err(ProjectionError::from(error).into()),
    }
    if let Some(post) = kind.post {
        post(&ctx, &mut held)?;
        for cells in held {
            row(cells);
        }
    }
    let mut notes: Vec<String> = kind
        .gaps
        .iter()
        .map(|(column, reason)| format!("{column}: {reason}"))
        .collect();
    let history_starts_at = crate::governance::history_start(ctx.conn)
        .map_err(ProjectionError::from)?
        .map(iso);
    if let Some(start) = &history_starts_at {
        notes.push(format!(
            "history: retention removed the events before {start}; nothing before it is counted"
        ));
    }
    Ok(ReportSummary {
        rows: count,
        total_rows: (total < COUNTED_ROWS).then_some(total),
        truncated,
        notes,
        history_starts_at,
    })
}

/// Replaces the sequence number in column `column` with the query text of that event.
pub(super) fn query_text_at(
    ctx: &Ctx<'_>,
    rows: &mut [Vec<Value>],
    column: usize,
) -> Result<(), ProjectionError> {
    let seqs: Vec<u64> = rows
        .iter()
        .filter_map(|row| row.get(column)?.as_u64())
        .collect();
    let events = ctx.governance.log().get_many(&seqs)?;
    let texts: BTreeMap<u64, Value> = events
        .into_iter()
        .map(|event| {
            let text = serde_json::from_str::<Value>(&event.json)
                .ok()
                .and_then(|body| body.pointer("/auditPayload/query").cloned())
                .unwrap_or(Value::Null);
            (event.seq, text)
        })
        .collect();
    for row in rows {
        if let Some(seq) = row.get(column).and_then(Value::as_u64) {
            row[column] = texts.get(&seq).cloned().unwrap_or(Value::Null);
        }
    }
    Ok(())
}

pub(super) fn latest_query_in_column_3(
    ctx: &Ctx<'_>,
    rows: &mut [Vec<Value>],
) -> Result<(), ProjectionError> {
    query_text_at(ctx, rows, 3)
}

/// Users × every tag: whether each user (per subscription type) is subscribed to at least one
/// data source with that tag.
pub(super) fn users_subscribed_any_tag(
    ctx: &Ctx<'_>,
    header: &mut Header<'_>,
    emit: &mut Emit<'_>,
) -> rusqlite::Result<()> {
    let mut tags_statement = ctx.conn.prepare(
        "SELECT name FROM tags WHERE deleted IS NULL UNION SELECT tag FROM ds_tags ORDER BY 1",
    )?;
    let tags: Vec<String> = tags_statement
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let index: BTreeMap<&str, usize> = tags
        .iter()
        .enumerate()
        .map(|(i, t)| (t.as_str(), i))
        .collect();
    let mut columns = vec![
        "User".to_owned(),
        "Email".to_owned(),
        "Subscription type".to_owned(),
    ];
    columns.extend(tags.iter().cloned());
    header(columns);
    if ctx.limit.is_none() {
        return bulk::users_subscribed_any_tag(ctx.conn, &index, emit);
    }
    // Each user's current data source subscriptions and their tags, user by user in report
    // order; a row is complete when the (user, subscription type) changes.
    let mut current: Option<(i64, String, Vec<Value>)> = None;
    let mut going = true;
    per_entity(
        ctx,
        "SELECT key, coalesce(name, id), email FROM users WHERE deleted IS NULL
          ORDER BY coalesce(name, id), id",
        "SELECT us.subscription_type, t.tag
           FROM subscriptions_of_users us JOIN datasources ds ON ds.id = us.model_id AND ds.deleted IS NULL
           LEFT JOIN ds_tags t ON t.ds_key = ds.key
          WHERE us.user_key = :outer AND us.model_type = 'DATASOURCE'
          ORDER BY us.subscription_type",
        |user_row, row| {
            let user: i64 = user_row.get(0)?;
            let subscription_type: String = row.get(0)?;
            if current
                .as_ref()
                .is_none_or(|(u, s, _)| *u != user || *s != subscription_type)
            {
                if let Some((_, _, done)) = current.take()
                    && !emit(done)
                {
                    going = false;
                    return Ok(false);
                }
                let mut cells = Vec::with_capacity(3 + tags.len());
                cells.push(json_value(user_row.get_ref(1)?));
                cells.push(json_value(user_row.get_ref(2)?));
                cells.push(Value::from(subscription_type.clone()));
                cells.resize(3 + tags.len(), Value::Bool(false));
                current = Some((user, subscription_type, cells));
            }
            if let Some(tag) = row.get_ref(1)?.as_str_or_null()?
                && let Some(i) = index.get(tag)
                && let Some((_, _, cells)) = current.as_mut()
            {
                cells[3 + i] = Value::Bool(true);
            }
            Ok(true)
        },
    )?;
    if going && let Some((_, _, done)) = current {
        emit(done);
    }
    Ok(())
}
