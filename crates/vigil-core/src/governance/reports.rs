//! The governance reports of the seed ("Governance Report Types"): the catalog of the 45 report
//! kinds with their columns, resolving an entity by name, and running a report over the
//! projection with a limit and a timeout.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::functions::FunctionFlags;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, Statement};
use serde::Serialize;
use serde_json::Value;

use super::{Governance, ProjectionError};

mod bulk;

/// The kinds of entity a report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntityType {
    /// Users.
    User,
    /// Groups.
    Group,
    /// Projects.
    Project,
    /// Data sources.
    Datasource,
    /// Purposes.
    Purpose,
    /// Policy types (`MASKING`, `SUBSCRIPTION`, …).
    PolicyType,
    /// Global policies.
    GlobalPolicy,
    /// Connections.
    Connection,
    /// Tags.
    Tag,
    /// Sensitive data discovery.
    Sdd,
}

impl EntityType {
    /// Every entity type, in the report builder's order.
    pub const ALL: [EntityType; 10] = [
        EntityType::User,
        EntityType::Group,
        EntityType::Project,
        EntityType::Datasource,
        EntityType::Purpose,
        EntityType::PolicyType,
        EntityType::GlobalPolicy,
        EntityType::Connection,
        EntityType::Tag,
        EntityType::Sdd,
    ];

    /// The name used in the API and the CLI (`user`, `datasource`, `global-policy`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            EntityType::User => "user",
            EntityType::Group => "group",
            EntityType::Project => "project",
            EntityType::Datasource => "datasource",
            EntityType::Purpose => "purpose",
            EntityType::PolicyType => "policy-type",
            EntityType::GlobalPolicy => "global-policy",
            EntityType::Connection => "connection",
            EntityType::Tag => "tag",
            EntityType::Sdd => "sdd",
        }
    }

    /// Reads an entity type in any case, with `-`, `_` or nothing between words and an optional
    /// plural `s` (`Data Source`, `data_sources`, `GLOBAL_POLICY`).
    pub fn parse(text: &str) -> Result<EntityType, ReportError> {
        let squashed: String = text
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        let squashed = squashed.strip_suffix('s').unwrap_or(&squashed);
        EntityType::ALL
            .into_iter()
            .find(|t| t.as_str().replace('-', "") == squashed)
            .or(match squashed {
                "policie" | "globalpolicie" => Some(EntityType::GlobalPolicy),
                "policytype" | "policytypes" => Some(EntityType::PolicyType),
                "sensitivedatadiscovery" | "sd" => Some(EntityType::Sdd),
                _ => None,
            })
            .ok_or_else(|| ReportError::UnknownEntityType(text.to_owned()))
    }
}

/// Whether a report is about every entity of its type or about one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Every entity ("All users").
    All,
    /// One named entity.
    One,
}

/// Takes the rows of a report, in order, one at a time; returns whether to go on.
type Emit<'e> = dyn FnMut(Vec<Value>) -> bool + 'e;
/// Takes the column names of a report built in code, before its first row.
type Header<'h> = dyn FnMut(Vec<String>) + 'h;
/// Rewrites rows after the query.
type Post = fn(&Ctx<'_>, &mut [Vec<Value>]) -> Result<(), ProjectionError>;

/// How a report gets its rows.
enum Source {
    /// One SQL statement over the projection; `:id`, `:key`, `:from` and `:to` are bound when
    /// present.
    Sql(&'static str),
    /// A report about every entity, streamed in report order instead of sorted whole: `outer`
    /// lists the entities in order (from an index), `inner` gives one entity's rows in order,
    /// with the outer row's first column bound as `:outer`. A row is the outer row's next `lead`
    /// columns, the inner row, then the outer row's remaining columns: what belongs to the
    /// entity is read once per entity, not once per row. The first rows come at once, and the
    /// whole costs a few indexed lookups per entity. A full run (no limit) calls `whole`
    /// instead, which reads each table once and gives the same rows.
    PerEntity {
        outer: &'static str,
        inner: &'static str,
        lead: usize,
        whole: fn(&Connection, &mut Emit<'_>) -> rusqlite::Result<()>,
    },
    /// Code (a pivot): it gives its columns, then its rows.
    Custom(fn(&Ctx<'_>, &mut Header<'_>, &mut Emit<'_>) -> rusqlite::Result<()>),
}

/// One report kind of the catalog.
pub struct ReportKind {
    /// The entity type.
    pub entity: EntityType,
    /// All entities or one.
    pub scope: Scope,
    /// The report's key (`data-sources-accessed`).
    pub key: &'static str,
    /// The seed's description.
    pub title: &'static str,
    /// The columns, in order.
    pub columns: &'static [&'static str],
    /// Whether the report takes a date range.
    pub date_range: bool,
    /// Whether, without `from`, the range is the last month (the seed: "By default, this report
    /// only displays the last month of results"); otherwise the whole history. A CSV export is
    /// always the full report ("You can download the full report by clicking Export to CSV").
    pub last_month_by_default: bool,
    /// Columns the audit trail cannot supply, with the reason; they are always empty.
    pub gaps: &'static [(&'static str, &'static str)],
    source: Source,
    /// Rewrites rows after the query (the latest query's text from the log).
    post: Option<Post>,
}

impl Serialize for ReportKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Gap<'a> {
            column: &'a str,
            reason: &'a str,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire<'a> {
            entity_type: EntityType,
            scope: Scope,
            report: &'a str,
            title: &'a str,
            columns: &'a [&'a str],
            date_range: bool,
            last_month_by_default: bool,
            gaps: Vec<Gap<'a>>,
        }
        Wire {
            entity_type: self.entity,
            scope: self.scope,
            report: self.key,
            title: self.title,
            columns: self.columns,
            date_range: self.date_range,
            last_month_by_default: self.last_month_by_default,
            gaps: self
                .gaps
                .iter()
                .map(|(column, reason)| Gap { column, reason })
                .collect(),
        }
        .serialize(serializer)
    }
}

/// An entity a report is about, as resolved from what the user typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entity {
    /// Its id (a user's id, a data source's id, a tag's or policy type's name).
    pub id: String,
    /// Its display name.
    pub name: String,
    /// The row key of users and data sources.
    #[serde(skip)]
    pub key: Option<i64>,
}

/// What to run.
#[derive(Clone)]
pub struct ReportRequest<'a> {
    /// The report kind.
    pub kind: &'a ReportKind,
    /// The entity, for a `One` report.
    pub entity: Option<Entity>,
    /// Start of the date range (microseconds, inclusive), for reports that take one.
    pub from: i64,
    /// End of the date range (microseconds, inclusive).
    pub to: i64,
    /// At most this many rows; `None` for all.
    pub limit: Option<usize>,
    /// Cancel the report after this long.
    pub timeout: Duration,
}

/// A report's result.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportTable {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows: strings, numbers or null.
    pub rows: Vec<Vec<Value>>,
    /// Whether more rows exist than the limit let through.
    pub truncated: bool,
    /// What the audit trail cannot supply, column by column.
    pub notes: Vec<String>,
}

/// Why a report cannot run.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Not an entity type.
    #[error(
        "unknown entity type `{0}`; expected one of user, group, project, datasource, purpose, policy-type, global-policy, connection, tag, sdd"
    )]
    UnknownEntityType(String),
    /// Not a report of this entity type and scope.
    #[error("unknown report `{report}` for {scope}; the reports are: {known}")]
    UnknownReport {
        /// What was asked.
        report: String,
        /// "every user", "one user".
        scope: String,
        /// The reports there are.
        known: String,
    },
    /// The report needs an entity name, or takes none.
    #[error("{0}")]
    Name(String),
    /// No entity has this name.
    #[error("no {entity} named `{name}`{}", suggestions_text(.suggestions))]
    NotFound {
        /// The entity type.
        entity: &'static str,
        /// What was typed.
        name: String,
        /// Entities whose name contains it.
        suggestions: Vec<Entity>,
    },
    /// Several entities have this name.
    #[error("{} {entity}s are named `{name}`; give the id of one of them{}", .candidates.len(), suggestions_text(.candidates))]
    Ambiguous {
        /// The entity type.
        entity: &'static str,
        /// What was typed.
        name: String,
        /// The entities with that name.
        candidates: Vec<Entity>,
    },
    /// A bad date range.
    #[error("{0}")]
    Range(String),
    /// The report ran past its timeout and was cancelled.
    #[error(
        "the report ran longer than its timeout of {} s and was cancelled; narrow the date range or raise VIGIL_REPORT_TIMEOUT_SECS",
        .0.as_secs()
    )]
    TimedOut(Duration),
    /// The projection failed.
    #[error(transparent)]
    Projection(#[from] ProjectionError),
}

fn suggestions_text(entities: &[Entity]) -> String {
    if entities.is_empty() {
        return String::new();
    }
    let names: Vec<String> = entities
        .iter()
        .map(|e| {
            if e.id == e.name {
                e.name.clone()
            } else {
                format!("{} (id {})", e.name, e.id)
            }
        })
        .collect();
    format!("; did you mean: {}", names.join(", "))
}

impl From<rusqlite::Error> for ReportError {
    fn from(error: rusqlite::Error) -> Self {
        ReportError::Projection(ProjectionError::Sqlite(error))
    }
}

impl ReportError {
    /// Whether the caller asked for something wrong (as opposed to vigil failing).
    pub fn is_caller_error(&self) -> bool {
        !matches!(self, ReportError::Projection(_) | ReportError::TimedOut(_))
    }
}

/// What a report's query sees.
pub(super) struct Ctx<'a> {
    conn: &'a Connection,
    governance: &'a Governance,
    entity: Option<&'a Entity>,
    from: i64,
    to: i64,
    limit: Option<usize>,
}

/// Finds a report kind; the error lists the reports of that entity type and scope.
pub fn find(
    entity: EntityType,
    scope: Scope,
    key: &str,
) -> Result<&'static ReportKind, ReportError> {
    let wanted = key.trim().to_ascii_lowercase().replace('_', "-");
    let mut same_scope = CATALOG
        .iter()
        .filter(|k| k.entity == entity && k.scope == scope);
    if let Some(kind) = same_scope.clone().find(|k| k.key == wanted) {
        return Ok(kind);
    }
    let other = if scope == Scope::All {
        Scope::One
    } else {
        Scope::All
    };
    if CATALOG
        .iter()
        .any(|k| k.entity == entity && k.scope == other && k.key == wanted)
    {
        return Err(ReportError::Name(match scope {
            Scope::All => format!(
                "the {} report `{wanted}` is about one {0}: give its name",
                entity.as_str()
            ),
            Scope::One => format!(
                "the {} report `{wanted}` is about every {0}: give no name",
                entity.as_str()
            ),
        }));
    }
    let known: Vec<&str> = same_scope.by_ref().map(|k| k.key).collect();
    let scope_text = match scope {
        Scope::All => format!("every {}", entity.as_str()),
        Scope::One => format!("one {}", entity.as_str()),
    };
    Err(ReportError::UnknownReport {
        report: key.to_owned(),
        scope: scope_text,
        known: if known.is_empty() {
            "none (this entity type has no such reports)".to_owned()
        } else {
            known.join(", ")
        },
    })
}

/// Prepares a reader connection for a report: the `iso` and `yesno` functions (the shared views
/// come with every reader).
fn prepare(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("iso", 1, flags, |ctx| {
        Ok(ctx.get::<Option<i64>>(0)?.map(iso))
    })?;
    conn.create_scalar_function("yesno", 1, flags, |ctx| {
        Ok(match ctx.get::<Option<i64>>(0)? {
            Some(0) => Some("False"),
            Some(_) => Some("True"),
            None => None,
        })
    })?;
    Ok(())
}

/// A time as reports show it: RFC 3339 in UTC with milliseconds.
pub fn iso(micros: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// (table, key column or NULL, id, name, extra names matched exactly, "live" condition).
fn entity_source(entity: EntityType) -> Option<&'static str> {
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

fn entities(
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
    Ok(entities(
        &conn,
        &sql,
        &[(":like", &like), (":text", text.trim())],
    )?)
}

fn escape_like(text: &str) -> String {
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
    )?;
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
    )?;
    match by_name.len() {
        1 => Ok(by_name.into_iter().next().expect("one")),
        0 => {
            // Names holding what was typed; failing that (a typo), names sharing its first half.
            let mut suggestions = suggest(governance, entity, text, 10)?;
            let chars = text.chars().count();
            if suggestions.is_empty() && chars >= 4 {
                let half: String = text.chars().take(chars.div_ceil(2)).collect();
                suggestions = suggest(governance, entity, &half, 10)?;
            }
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

fn bind(statement: &mut Statement<'_>, ctx: &Ctx<'_>) -> rusqlite::Result<()> {
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

fn json_value(value: ValueRef<'_>) -> Value {
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
fn sql_rows(ctx: &Ctx<'_>, sql: &str, emit: &mut Emit<'_>) -> rusqlite::Result<()> {
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
fn per_entity(
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
fn per_entity_rows(
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
        truncated: summary.truncated,
        notes: summary.notes,
    })
}

/// What [`run_each`] tells besides the rows.
#[derive(Debug, Clone)]
pub struct ReportSummary {
    /// Rows handed on.
    pub rows: usize,
    /// Whether more rows exist than the limit let through.
    pub truncated: bool,
    /// What the audit trail cannot supply, column by column.
    pub notes: Vec<String>,
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
    prepare(&conn)?;
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
    let mut truncated = false;
    // Rows a post-processing step rewrites are held until it has run; the others go on at once.
    let mut held: Vec<Vec<Value>> = Vec::new();
    let hold = kind.post.is_some();
    let mut emit = |cells: Vec<Value>| {
        if request.limit.is_some_and(|limit| count >= limit) {
            truncated = true;
            return false;
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
        Err(error) => return Err(error.into()),
    }
    if let Some(post) = kind.post {
        post(&ctx, &mut held)?;
        for cells in held {
            row(cells);
        }
    }
    let notes = kind
        .gaps
        .iter()
        .map(|(column, reason)| format!("{column}: {reason}"))
        .collect();
    Ok(ReportSummary {
        rows: count,
        truncated,
        notes,
    })
}

/// Replaces the sequence number in column `column` with the query text of that event.
fn query_text_at(
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

fn latest_query_in_column_3(ctx: &Ctx<'_>, rows: &mut [Vec<Value>]) -> Result<(), ProjectionError> {
    query_text_at(ctx, rows, 3)
}

/// Users × every tag: whether each user (per subscription type) is subscribed to at least one
/// data source with that tag.
fn users_subscribed_any_tag(
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

// ---------------------------------------------------------------------------------------------
// The catalog

const VISIBILITY: (&str, &str) = (
    "Public or private",
    "project events carry no public/private flag",
);
const EXPIRES: (&str, &str) = ("Expires", "subscription events carry no expiration date");
const REASON: (&str, &str) = (
    "Reason",
    "subscription and project events carry no reason given by the user",
);

/// Attributes of the user in `u`, as `attribute: value; …`.
macro_rules! user_attributes {
    () => {
        "(SELECT group_concat(a.attribute || ': ' || a.value, '; ' ORDER BY a.attribute, a.value)
            FROM attributes a WHERE a.entity_type = 'USER' AND a.entity_id = u.id)"
    };
}

/// The groups of the user in `u`.
macro_rules! user_groups {
    () => {
        "(SELECT group_concat(coalesce(g.name, g.id), '; ' ORDER BY coalesce(g.name, g.id))
            FROM group_members gm JOIN groups g ON g.id = gm.group_id
           WHERE gm.user_key = u.key AND g.deleted IS NULL)"
    };
}

/// Whether the project in `p` has purposes other than `:id`.
macro_rules! other_purposes {
    () => {
        "yesno(EXISTS(SELECT 1 FROM project_purposes o WHERE o.project_id = p.id AND o.purpose_id <> :id))"
    };
}

/// The 45 report kinds of the seed.
pub static CATALOG: &[ReportKind] = &[
    // ----- users
    ReportKind {
        entity: EntityType::User,
        scope: Scope::All,
        key: "data-sources-subscribed",
        title: "Data sources subscribed to: each user's data sources, with role, subscription type, when last subscribed, approver, expiry, attributes and groups.",
        columns: &["User", "Username", "Email", "Data source", "Role", "Subscription type", "Last subscribed", "Approved by", "Expires", "Attributes", "Groups"],
        date_range: false,
        last_month_by_default: false,
        gaps: &[EXPIRES],
        source: Source::PerEntity {
            outer: concat!(
                "SELECT u.key, coalesce(u.name, u.id), u.id, u.email, ", user_attributes!(), ", ", user_groups!(), "
                   FROM users u WHERE u.deleted IS NULL ORDER BY coalesce(u.name, u.id), u.id"
            ),
            inner: "SELECT coalesce(ds.name, ds.id), us.role, us.subscription_type, iso(us.subscribed),
                           us.approved_by, NULL
                      FROM subscriptions_of_users us JOIN datasources ds ON ds.id = us.model_id
                     WHERE us.user_key = :outer AND us.model_type = 'DATASOURCE' AND ds.deleted IS NULL
                     ORDER BY coalesce(ds.name, ds.id), ds.id, us.subscription_type",
            lead: 3,
            whole: bulk::user_data_sources_subscribed,
        },
        post: None,
    },
    ReportKind {
        entity: EntityType::User,
        scope: Scope::All,
        key: "status",
        title: "Status of all users: full name, username, email, IAM, HDFS principal, last login and status.",
        columns: &["Full name", "Username", "Email", "IAM", "HDFS principal", "Last login", "Status"],
        date_range: false,
        last_month_by_default: false,
        gaps: &[("HDFS principal", "no audit event carries HDFS principals")],
        source: Source::Sql(
            "SELECT u.name, u.id, u.email, u.idp, NULL, iso(u.last_login),
                    CASE WHEN u.disabled THEN 'Disabled' ELSE 'Active' END
               FROM users u WHERE u.deleted IS NULL ORDER BY coalesce(u.name, u.id), u.id",
        ),
        post: None,
    },
    ReportKind {
        entity: EntityType::User,
        scope: Scope::One,
        key: "groups",
        title: "Groups the user belongs to, and when each was joined.",
        columns: &["Group", "Joined"],
        date_range: false,
        last_month_by_default: false,
        gaps: &[],
        source: Source::Sql(
            "SELECT coalesce(g.name, g.id), iso(gm.joined) FROM group_members gm
               JOIN groups g ON g.id = gm.group_id
              WHERE gm.user_key = :key AND g.deleted IS NULL ORDER BY coalesce(g.name, g.id), g.id",
        ),
        post: None,
    },
    ReportKind {
        entity: EntityType::User,
        scope: Scope::One,
        key: "data-sources-subscribed",
        title: "Data sources the user subscribes to: role, when last subscribed, approver, expiry and reason.",
        columns: &["Data source", "Role", "Subscription type", "Last subscribed", "Approved by", "Expires", "Reason"],
        date_range: false,
        last_month_by_default: false,
        gaps: &[EXPIRES, REASON],
        source: Source::Sql(
            "SELECT coalesce(ds.name, ds.id), us.role, us.subscription_type, iso(us.subscribed),
                    us.approved_by, NULL, NULL
               FROM subscriptions_of_users us JOIN datasources ds ON ds.id = us.model_id
              WHERE us.user_key = :key AND us.model_type = 'DATASOURCE' AND ds.deleted IS NULL
              ORDER BY coalesce(ds.name, ds.id), ds.id, us.subscription_type",
        ),
        post: None,
    },
    ReportKind {
        entity: EntityType::User,
        scope: Scope::One,
        key: "projects",
        title: "Projects the user is currently a member of: visibility, role, creator, creation date and when the user joined.",
        columns: &["Project", "Public or private", "Role", "Created by", "Created", "Joined", "Subscription type"],
        date_range: false,
        last_month_by_default: false,
        gaps: &[VISIBILITY],
        source: Source::Sql(
            "SELECT coalesce(p.name, p.id), NULL, us.role, p.created_by, iso(p.created),
                    iso(us.subscribed), us.subscription_type
               FROM subscriptions_of_users us JOIN projects p ON p.id = us.model_id
              WHERE us.user_key = :key AND us.model_type = 'PROJECT' AND p.deleted IS NULL
              ORDER BY coalesce(p.name, p.id), p.id, us.subscription_type",
        ),
        post: None,
    },
    ReportKind {
        entity: EntityType::User,
        scope: Scope::One,
        key: "data-sources-accessed",
        title: "All data sources ever accessed by the user: first access (read date) and last access in the date range.",
        columns: &["Data source", "First access", "Last access", "Queries"],
        date_range: true,
        last_month_by_default: true,
        gaps: &[],
        source: Source::Sql(
            "SELECT coalesce(ds.name, ds.id), iso(min(a.ts)), iso(max(a.ts)), count(*)
               FROM access a JOIN datasources ds ON ds.key = a.ds_key
              WHERE a.user_key = :key AND a.ts BETWEEN :from AND :to
              GROUP BY a.ds_key ORDER BY coalesce(ds.name, ds.id), ds.id",
        ),
        post: None,
    },
    ReportKind {
        entity: EntityType::User,
        scope: Scope::One,
        key: "attributes",
        title: "Attributes the user has, with their values.",
        columns: &["Attribute", "Value"],
        date_range: false,
        last_month_by_default: false,
        gaps: &[],
        source: Source::Sql(
            "SELECT attribute, value FROM attributes WHERE entity_type = 'USER' AND entity_id = :id
              ORDER BY attribute, value",
        ),
        post: None,
    },
    ReportKind {
        entity: EntityType::User,
        scope: Scope::One,
        key: "purposes-accessed",
        title: "Purposes for accessing data: every purpose under which the user accessed data sources in the date range.",
        columns: &["Purpose", "Project", "Data source", "First access", "Last access"],
        date_range: true,
        last_month_by_default: true,
        gaps: &[],
        source: Source::Sql(
            "SELECT coalesce(pu.name, ap.purpose_id), coalesce(p.name, ap.project_id),
                    coalesce(ds.name, ds.id), iso(min(ap.ts)), iso(max(ap.ts))
               FROM access_purposes ap LEFT JOIN purposes pu ON pu.id = ap.purpose_id
               LEFT JOIN projects p ON p.id = ap.project_id JOIN datasources ds ON ds.key = ap.ds_key
              WHERE ap.user_key = :key AND ap.ts BETWEEN :from AND :to
              GROUP BY ap.purpose_id, ap.project_id, ap.ds_key ORDER BY 1, 2, 3",
        ),
        post: None,
    },
    // ----- groups
    ReportKind {
        entity: EntityType::Group,
        scope: Scope::All,
        key: "data-sources-subscribed",
        title: "Data sources that groups are subscribed to: the group's role, when last subscribed, approver, expiry and reason.",
        columns: &["Group", "Data source", "Role", "Last subscribed", "Approved by", "Expires", "Reason"],
        date_range: false,
        last_month_by_default: false,
        gaps: &[EXPIRES, REASON],
        source: Source::Sql(
            "SELECT coalesce(g.name, g.id), coalesce(ds.name, ds.id), s.role, iso(s.subscribed),
                    s.approved_by, NULL, NULL
               FROM current_subscriptions s JOIN groups g ON g.id = s.subscriber_id
               JOIN datasources ds ON ds.id = s.model_id
              WHERE s.subscriber_type = 'GROUP' AND s.model_type = 'DATASOURCE'
                AND g.deleted IS NULL AND ds.deleted IS NULL
              ORDER BY coalesce(g.name, g.id), g.id, coalesce(ds.name, ds.id), ds.id",
        ),
        post: None,
    },
    ReportKind {
        entity: EntityType::Group,
        scope: Scope::One,
        key: "members",
        title: "Users who belong to the group, and when they joined.",
        columns: &["User", "Username", "Email", "Joined"],
        date_range: false,
        last_month_by_default: false,
        gaps: &[],
        source: Source::Sql(
            "SELECT coalesce(u.name, u.id), u.id, u.email, iso(gm.joined)
               FROM group_members gm JOIN users u ON u.key = gm.user_key
              WHERE gm.group_id = :id AND u.deleted IS NULL ORDER BY coalesce(u.name, u.id), u.id",
        ),
        post: None,
    },
    ReportKind {
        entity: EntityType::Group,
        scope: Scope::One,
        key: "data-sources-subscribed",
        title: "Data sources this group is subscribed to: role, when last subscribed, approver, expiry and reason.",
        columns: &["Data source", "Role", "Last subscribed", "Approved by", "Expires", "Reason"],
        date_range: false,
        last_month_by_default: false,
        gaps: &[EXPIRES, REASON],
        source: Source::Sql(
            "SELECT coalesce(ds.name, ds.id), s.role, iso(s.subscribed), s.approved_by, NULL, NULL
               FROM current_subscriptions s JOIN datasources ds ON ds.id = s.model_id
              WHERE s.subscriber_type = 'GROUP' AND s.subscriber_id = :id
                AND s.model_type = 'DATASOURCE' AND ds.deleted IS NULL
              ORDER BY coalesce(ds.name, ds.id), ds.id",
        ),
        post: None,
    },
    ReportKind {
        entity: EntityType::Group,
        scope: Scope::One,
        key: "projects",
        title: "Projects the group is a member of: visibility, the group's role, creator, creation date and when the group joined.",
        columns: &["Project", "Public or private", "Role", "Created by", "Created", "Joined"],
        date_range: false,
        last_month_by_default: false,
        gaps: &[VISIBILITY],
        source: Source::Sql(
            "SELECT coalesce(p.name, p.id), NULL, s.role, p.created_by, iso(p.created), iso(s.subscribed)
               FROM current_subscriptions s JOIN projects p ON p.id = s.model_id
              WHERE s.subscriber_type = 'GROUP' AND s.subscriber_id = :id
                AND s.model_type = 'PROJECT' AND p.deleted IS NULL
              ORDER BY coalesce(p.name, p.id), p.id",
        ),
        post: None,
    },
    ReportKind {
        entity: EntityType::Group,
        scope: Scope::One,
        key: "attributes",
        title: "Attributes of the group.",
        columns: &["Attribute", "Value"],
        date_range: false,
        last_month_by_default: false,
        gaps: &[],
        source: Source::Sql(
            "SELECT attribute, value FROM attributes WHERE entity_type = 'GROUP' AND entity_id = :id
              ORDER BY attribute, value",
        ),
        post: None,
    },
    // ----- projects
    ReportKind {
        entity: EntityType::Project,
        scope: Scope::One,
        key: "members",
        title: "Users and groups who are members of the project: username, email, role, when joined, and subscription type (Individual User, or Group with its name).",
        columns: &["User", "Username", "Email", "Role", "Joined", "Subscription type"],
        date_range: false,
        last_month_by_default: false,
        gaps: &[],
        source: Source::Sql(
            "SELECT coalesce(u.name, u.id), u.id, u.email, us.role, iso(us.subscribed), us.subscription_type
               FROM user_subscriptions us JOIN users u ON u.key = us.user_key
              WHERE us.model_type = 'PROJECT' AND us.model_id = :id AND u.deleted IS NULL
              ORDER BY coalesce(u.name, u.id), u.id, us.subscription_type",
        ),
        post: None,
    },
    ReportKind {
        entity: EntityType::Project,
        scope: Scope::One,
        key: "data-sources",
        title: "Data sources that are part of the project: reason, who added each and when.",
        columns: &["Data source", "Reason", "Added by", "Added"],
        date_range: false,
        last_month_by_default: false,
        gaps: &[REASON],
        source: Source::Sql(
            "SELECT coalesce(ds.name, ds.id), NULL, pd.added_by, iso(pd.added)
               FROM project_datasources pd JOIN datasources ds ON ds.key = pd.ds_key
              WHERE pd.project_id = :id AND ds.deleted IS NULL ORDER BY coalesce(ds.name, ds.id), ds.id",
        ),
        post: None,
    },
    ReportKind {
        entity: EntityType::Project,
        scope: Scope::One,
        key: "purposes",
        title: "Purposes of the project: who added each and when.",
        columns: &["Purpose", "Added by", "Added"],
        date_range: false,
        last_month_by_default: false,
        gaps: &[],
        source: Source::Sql(
            "SELECT coalesce(pu.name, pp.purpose_id), pp.added_by, iso(pp.added)
               FROM project_purposes pp LEFT JOIN purposes pu ON pu.id = pp.purpose_id
              WHERE pp.project_id = :id AND pu.deleted IS NULL ORDER BY 1",
        ),
        post: None,
    },
    // ----- data sources
    ReportKind {
        entity: EntityType::Datasource,
        scope: Scope::All,
        key: "subscribers",
        title: "Users and groups subscribed to every data source: username, email, subscription type, role, subscription date, approver, expiry and user attributes.",
        columns: &["Data source", "User", "Username", "Email", "Subscription type", "Role", "Subscribed", "Approved by", "Expires", "Attributes"],
        date_range: false,
        last_month_by_default: false,
        gaps: &[EXPIRES],
        source: Source::PerEntity {
            outer: "SELECT id, coalesce(name, id) FROM datasources WHERE deleted IS NULL
                     ORDER BY coalesce(name, id), id",
            inner: concat!(
                "SELECT coalesce(u.name, u.id), u.id, u.email, us.subscription_type,
                        us.role, iso(us.subscribed), us.approved_by, NULL, ", user_attributes!(), "
                   FROM user_subscriptions us JOIN users u ON u.key = us.user_key
                  WHERE us.model_id = :outer AND us.model_type = 'DATASOURCE' AND u.deleted IS NULL
                  ORDER BY coalesce(u.name, u.id), u.id, us.subscription_type"
            ),
            lead: 1,
            whole: bulk::datasource_subscribers,
        },
        post: None,
    },
    ReportKind {
        entity: EntityType::Datasource,
        scope: Scope::One,
        key: "subscribers",
        title: "Users and groups subscribed to the data source: reason, role, email, when last subscribed, approver, expiry and subscription type (Individual User, or Group with its name).",
        columns: &["User", "Username", "Reason", "Role", "Email", "Last subscribed", "Approved by", "Expires", "Subscription type"],
        date_range: false,
        last_month_by_default: false,
        gaps: &[REASON, EXPIRES],
        source: Source::Sql(
            "SELECT coalesce(u.name, u.id), u.id, NULL, us.role, u.email, iso(us.subscribed),
                    us.approved_by, NULL, us.subscription_type
               FROM user_subscriptions us JOIN users u ON u.key = us.user_key
              WHERE us.model_type = 'DATASOURCE' AND us.model_id = :id AND u.deleted IS NULL
              ORDER BY coalesce(u.name, u.id), u.id, us.subscription_type",
        ),
        post: None,
    },
    ReportKind {
        entity: EntityType::Datasource,
        scope: Scope::One,
        key: "projects",
        title: "Projects that contain the data source: who added it and when, reason, visibility, project creator and creation date.",
        columns: &["Project", "Added by", "Added", "Reason", "Public or private", "Created by", "Created"],
        date_range: false,
        last_month_by_default: false,
        gaps: &[REASON, VISIBILITY],
        source: Source::Sql(
            "SELECT coalesce(p.name, p.id), pd.added_by, iso(pd.added), NULL, NULL, p.created_by, iso(p.created)
               FROM project_datasources pd JOIN projects p ON p.id = pd.project_id
              WHERE pd.ds_key = :key AND p.deleted IS NULL ORDER BY coalesce(p.name, p.id), p.id",
        ),
        post: None,
    },
    ReportKind {
        entity: EntityType::Datasource,
        scope: Scope::One,
        key: "project-purposes",
        title: "Purposes of all projects that contain the data source: who assigned each and when, project, reason, visibility, project creator and creation date.",
        columns: &["Purpose", "Assigned by", "Assigned", "Project", "Reason", "Public or private", "Project created by", "Project created"],
        date_range: false,
        last_month_by_default: false,
        gaps: &[REASON, VISIBILITY],
        source: Source::Sql(
            "SELECT coalesce(pu.name, pp.purpose_id), pp.added_by, iso(pp.added), coalesce(p.name, p.id),
                    NULL, NULL, p.created_by, iso(p.created)
               FROM project_datasources pd JOIN projects p ON p.id = pd.project_id
               JOIN project_purposes pp ON pp.project_id = p.id
               LEFT JOIN purposes pu ON pu.id = pp.purpose_id
              WHERE pd.ds_key = :key AND p.deleted IS NULL AND pu.deleted IS NULL
              ORDER BY 1, 4",
        ),
        post: None,
    },
    ReportKind {
        entity: EntityType::Datasource,
        scope: Scope::One,
        key: "users-accessed",
        title: "All users who have accessed the data source: username, email, latest query and date of last access, in the date range.",
        columns: &["User", "Username", "Email", "Latest query", "Last access", "Queries"],
        date_range: true,
        last_month_by_default: true,
        gaps: &[],
        // SQLite's bare columns come from the row holding max(ts): the latest query's seq.
        source: Source::Sql(
            "SELECT coalesce(u.name, u.id), u.id, u.email, a.seq, iso(max(a.ts)), count(*)
               FROM access a JOIN users u ON u.key = a.user_key
              WHERE a.ds_key = :key AND a.ts BETWEEN :from AND :to
              GROUP BY a.user_key ORDER BY max(a.ts) DESC, u.id",
        ),
        post: Some(latest_query_in_column_3),
    },
    ReportKind {
        entity: EntityType::Datasource,
        scope: Scope::One,
        key: "access-purposes",
        title: "All purposes for data source access: the users who accessed it and the purposes they worked under, in the date range (no purpose: the user had no project).",
        columns: &["User", "Username", "Purpose", "Project", "Last access"],
        date_range: true,
        last_month_by_default: true,
        gaps: &[],
        source: Source::Sql(
            "SELECT * FROM (
               SELECT coalesce(u.name, u.id), u.id, coalesce(pu.name, ap.purpose_id), coalesce(p.name, ap.project_id),
                      iso(max(ap.ts))
                 FROM access_purposes ap JOIN users u ON u.key = ap.user_key
                 LEFT JOIN purposes pu ON pu.id = ap.purpose_id LEFT JOIN projects p ON p.id = ap.project_id
                WHERE ap.ds_key = :key AND ap.ts BETWEEN :from AND :to
                GROUP BY ap.user_key, ap.purpose_id, ap.project_id
               UNION ALL
               SELECT coalesce(u.name, u.id), u.id, NULL, NULL, iso(max(a.ts))
                 FROM access a JOIN users u ON u.key = a.user_key
                WHERE a.ds_key = :key AND a.ts BETWEEN :from AND :to AND a.project_id IS NULL
                GROUP BY a.user_key)
              ORDER BY 1, 2, 3, 4",
        ),
        post: None,
    },
    ReportKind {
        entity: EntityType::Datasource,
        scope: Scope::One,
        key: "subscription-history",
        title: "All users who have subscribed to the data source: when they subscribed, reason, approver, expiry, and when and why they unsubscribed, for subscriptions that began or ended in the date range (a pending or denied request is not a subscription and is not listed).",
        columns: &["Subscriber", "Subscriber type", "Email", "Subscribed", "Reason", "Approved by", "Expires", "Unsubscribed", "Unsubscribe reason", "Status"],
        date_range: true,
        last_month_by_default: true,
        gaps: &[REASON, EXPIRES],
        source: Source::Sql(
            "SELECT coalesce(s.subscriber_name, u.name, g.name, s.subscriber_id), s.subscriber_type, u.email,
                    iso(s.subscribed), NULL, s.approved_by, NULL, iso(s.unsubscribed), s.unsubscribe_reason, s.status
               FROM subscriptions s LEFT JOIN users u ON s.subscriber_type = 'USER' AND u.id = s.subscriber_id
               LEFT JOIN groups g ON s.subscriber_type = 'GROUP' AND g.id = s.subscriber_id
              WHERE s.model_type = 'DATASOURCE' AND s.model_id = :id AND s.subscribed IS NOT NULL
                AND (s.subscribed BETWEEN :from AND :to OR s.unsubscribed BETWEEN :from AND :to)
              ORDER BY s.subscribed DESC, s.id",
        ),
        post: None,
    },
    ReportKind {
        entity: EntityType::Datasource,
        scope: Scope::One,
        key: "column-identifiers",
        title: "All identifiers that matched a column of the data source through sensitive data discovery: column, identifier, hit percentage and rows sampled.",
        columns: &["Column", "Identifier", "Tag", "Tagged", "Hit percentage", "Rows sampled"],
        date_range: false,
        last_month_by_default: false,
        gaps: &[
            ("Hit percentage", "identification runs are not audit events; only the Discovered tags they apply are"),
            ("Rows sampled", "identification runs are not audit events; only the Discovered tags they apply are"),
        ],
        source: Source::Sql(
            "SELECT t.column_name,
                    (SELECT group_concat(coalesce(c.display_name, c.name, c.id), '; ')
                       FROM sdd_classifier_tags ct JOIN sdd_classifiers c ON c.id = ct.classifier_id
                      WHERE ct.tag = t.tag AND c.deleted IS NULL),
                    t.tag, iso(t.tagged), NULL, NULL
               FROM ds_tags t
              WHERE t.ds_key = :key AND t.column_name <> '' AND (t.tag = 'Discovered' OR t.tag LIKE 'Discovered.%')
              ORDER BY t.column_name, t.tag",
        ),
        post: None,
    },
    ReportKind {
        entity: EntityType::Datasource,
        scope: Scope::One,
        key: "identification-stats",
        title: "The statistics of the last identification run on the data source: each column with the tags discovered and when.",
        columns: &["Column", "Discovered tags", "Last identified", "Score"],
        date_range: false,
        last_month_by_default: false,
        gaps: &[("Score", "identification runs are not audit events; their scores are not recorded")],
        source: Source::Sql(
            "SELECT t.column_name, group_concat(t.tag, '; ' ORDER BY t.tag), iso(max(t.tagged)), NULL
               FROM ds_tags t
              WHERE t.ds_key = :key AND t.column_name <> '' AND (t.tag = 'Discovered' OR t.tag LIKE 'Discovered.%')
              GROUP BY t.column_name ORDER BY t.column_name",
        ),
        post: None,
    },
    // ----- purposes
    ReportKind {
        entity: EntityType::Purpose,
        scope: Scope::One,
        key: "members",
        title: "Users who are members of projects with this purpose: username, email, role, project, visibility, project creator, creation date, when joined and subscription type.",
        columns: &["User", "Username", "Email", "Role", "Project", "Public or private", "Project created by", "Project created", "Joined", "Subscription type"],
        date_range: false,
        last_month_by_default: false,
        gaps: &[VISIBILITY],
        source: Source::Sql(
            "SELECT coalesce(u.name, u.id), u.id, u.email, us.role, coalesce(p.name, p.id), NULL,
                    p.created_by, iso(p.created), iso(us.subscribed), us.subscription_type
               FROM project_purposes pp JOIN projects p ON p.id = pp.project_id
               JOIN user_subscriptions us ON us.model_type = 'PROJECT' AND us.model_id = p.id
               JOIN users u ON u.key = us.user_key
              WHERE pp.purpose_id = :id AND p.deleted IS NULL AND u.deleted IS NULL
              ORDER BY coalesce(u.name, u.id), u.id, coalesce(p.name, p.id), us.subscription_type",
        ),
        post: None,
    },
    ReportKind {
        entity: EntityType::Purpose,
        scope: Scope::One,
        key: "data-sources",
        title: "Data sources that are part of projects with this purpose: data source creator, project, visibility, project creator, whether the project has other purposes (True/False) and when it was created.",
        columns: &["Data source", "Data source created by", "Project", "Public or private", "Project created by", "Other purposes", "Project created"],
        date_range: false,
        last_month_by_default: false,
        gaps: &[VISIBILITY],
        source: Source::Sql(concat!(
            "SELECT coalesce(ds.name, ds.id), ds.created_by, coalesce(p.name, p.id), NULL, p.created_by, ",
            other_purposes!(), ", iso(p.created)
               FROM project_purposes pp JOIN projects p ON p.id = pp.project_id
               JOIN project_datasources pd ON pd.project_id = p.id JOIN datasources ds ON ds.key = pd.ds_key
              WHERE pp.purpose_id = :id AND p.deleted IS NULL AND ds.deleted IS NULL
              ORDER BY coalesce(ds.name, ds.id), ds.id, coalesce(p.name, p.id)"
        )),
        post: None,
    },
    ReportKind {
        entity: EntityType::Purpose,
        scope: Scope::One,
        key: "combined-purposes",
        title: "Other purposes combined with this purpose: the project where they are combined, who added each purpose, project creator, visibility and creation date.",
        columns: &["Purpose", "Project", "Added by", "Project created by", "Public or private", "Project created"],
        date_range: false,
        last_month_by_default: false,
        gaps: &[VISIBILITY],
        source: Source::Sql(
            "SELECT coalesce(pu.name, o.purpose_id), coalesce(p.name, p.id), o.added_by, p.created_by, NULL, iso(p.created)
               FROM project_purposes pp JOIN projects p ON p.id = pp.project_id
               JOIN project_purposes o ON o.project_id = p.id AND o.purpose_id <> pp.purpose_id
               LEFT JOIN purposes pu ON pu.id = o.purpose_id
              WHERE pp.purpose_id = :id AND p.deleted IS NULL AND pu.deleted IS NULL
              ORDER BY 1, 2",
        ),
        post: None,
    },
    ReportKind {
        entity: EntityType::Purpose,
        scope: Scope::One,
        key: "projects",
        title: "Projects that have this purpose: who added the purpose, visibility, project creator, whether the project has other purposes and when it was created.",
        columns: &["Project", "Added by", "Public or private", "Created by", "Other purposes", "Created"],
        date_range: false,
        last_month_by_default: false,
        gaps: &[VISIBILITY],
        source: Source::Sql(concat!(
            "SELECT coalesce(p.name, p.id), pp.added_by, NULL, p.created_by, ", other_purposes!(), ", iso(p.created)
               FROM project_purposes pp JOIN projects p ON p.id = pp.project_id
              WHERE pp.purpose_id = :id AND p.deleted IS NULL ORDER BY coalesce(p.name, p.id), p.id"
        )),
        post: None,
    },
    ReportKind {
        entity: EntityType::Purpose,
        scope: Scope::One,
        key: "data-sources-accessed",
        title: "Data sources accessed for this purpose: the users who accessed them, the project, and whether the project has other purposes, in the date range.",
        columns: &["Data source", "User", "Username", "Project", "Other purposes", "Last access"],
        date_range: true,
        last_month_by_default: true,
        gaps: &[],
        source: Source::Sql(concat!(
            "SELECT coalesce(ds.name, ds.id), coalesce(u.name, u.id), u.id, coalesce(p.name, ap.project_id), ",
            other_purposes!(), ", iso(max(ap.ts))
               FROM access_purposes ap JOIN datasources ds ON ds.key = ap.ds_key
               JOIN users u ON u.key = ap.user_key LEFT JOIN projects p ON p.id = ap.project_id
              WHERE ap.purpose_id = :id AND ap.ts BETWEEN :from AND :to
              GROUP BY ap.ds_key, ap.user_key, ap.project_id ORDER BY 1, 2, 3, 4"
        )),
        post: None,
    },
    // ----- policy types
    ReportKind {
        entity: EntityType::PolicyType,
        scope: Scope::One,
        key: "data-sources",
        title: "Data sources with this policy type: when each was created and by whom, the policy, who created the policy and when.",
        columns: &["Data source", "Data source created", "Data source created by", "Policy", "Policy scope", "Policy created by", "Policy created"],
        date_range: false,
        last_month_by_default: false,
        gaps: &[],
        source: Source::Sql(
            "SELECT * FROM (
               SELECT coalesce(ds.name, ds.id), iso(ds.created), ds.created_by, coalesce(gp.name, gp.id), 'Global',
                      gp.created_by, iso(gp.created)
                 FROM policy_types pt JOIN policy_datasources pd ON pd.policy_id = pt.policy_id
                 JOIN global_policies gp ON gp.id = pt.policy_id JOIN datasources ds ON ds.key = pd.ds_key
                WHERE pt.policy_type = :id AND pt.scope = 'G' AND pd.state = 'APPLIED'
                  AND gp.deleted IS NULL AND ds.deleted IS NULL
               UNION ALL
               SELECT coalesce(ds.name, ds.id), iso(ds.created), ds.created_by, 'Local ' || lower(lp.kind) || ' policy',
                      'Local', lp.created_by, iso(lp.created)
                 FROM policy_types pt JOIN local_policies lp ON pt.policy_id = lp.ds_key || '/' || lp.kind
                 JOIN datasources ds ON ds.key = lp.ds_key
                WHERE pt.policy_type = :id AND pt.scope = 'L' AND ds.deleted IS NULL)
              ORDER BY 1, 4",
        ),
        post: None,
    },
    // ----- global policies
    ReportKind {
        entity: EntityType::GlobalPolicy,
        scope: Scope::All,
        key: "disabled",
        title: "Global policies that have been disabled: the policy, its type, the data source, who disabled it and when, the justification, the policy's creator and creation date, and how it was associated with the data source.",
        columns: &["Policy", "Policy definition", "Policy type", "Data source", "Disabled by", "Disabled", "Justification", "Created by", "Created", "Association"],
        date_range: false,
        last_month_by_default: false,
        gaps: &[("Justification", "the seed's DatasourceGlobalPolicyDisabled payload has none; shown when a producer sends `justification` or `comment`")],
        source: Source::Sql(
            "SELECT coalesce(gp.name, gp.id), gp.definition, gp.policy_types, coalesce(ds.name, ds.id),
                    pd.disabled_by, iso(pd.disabled), pd.justification, gp.created_by, iso(gp.created), gp.circumstance
               FROM policy_datasources pd JOIN global_policies gp ON gp.id = pd.policy_id
               JOIN datasources ds ON ds.key = pd.ds_key
              WHERE pd.state = 'DISABLED' AND gp.deleted IS NULL AND ds.deleted IS NULL
              ORDER BY coalesce(gp.name, gp.id), gp.id, coalesce(ds.name, ds.id)",
        ),
        post: None,
    },
    ReportKind {
        entity: EntityType::GlobalPolicy,
        scope: Scope::All,
        key: "cannot-be-applied",
        title: "Global policies that cannot currently be applied: the policy, its type, the data source and its creation date, the policy's creation date, why it cannot be applied, its creator and how it is associated.",
        columns: &["Policy", "Policy definition", "Policy type", "Data source", "Data source created", "Policy created", "Reason", "Created by", "Association"],
        date_range: false,
        last_month_by_default: false,
        gaps: &[],
        source: Source::Sql(
            "SELECT coalesce(gp.name, gp.id), gp.definition, gp.policy_types, coalesce(ds.name, ds.id),
                    iso(ds.created), iso(gp.created), pd.conflict, gp.created_by, gp.circumstance
               FROM policy_datasources pd JOIN global_policies gp ON gp.id = pd.policy_id
               JOIN datasources ds ON ds.key = pd.ds_key
              WHERE pd.state = 'CONFLICT' AND gp.deleted IS NULL AND ds.deleted IS NULL
              ORDER BY coalesce(gp.name, gp.id), gp.id, coalesce(ds.name, ds.id)",
        ),
        post: None,
    },
    ReportKind {
        entity: EntityType::GlobalPolicy,
        scope: Scope::One,
        key: "data-sources",
        title: "Data sources impacted by the policy: when each was created and whether the policy is fully applied.",
        columns: &["Data source", "Data source created", "Fully applied", "State"],
        date_range: false,
        last_month_by_default: false,
        gaps: &[],
        source: Source::Sql(
            "SELECT coalesce(ds.name, ds.id), iso(ds.created), yesno(pd.state = 'APPLIED'), pd.state
               FROM policy_datasources pd JOIN datasources ds ON ds.key = pd.ds_key
              WHERE pd.policy_id = :id AND ds.deleted IS NULL ORDER BY coalesce(ds.name, ds.id), ds.id",
        ),
        post: None,
    },
    ReportKind {
        entity: EntityType::GlobalPolicy,
        scope: Scope::One,
        key: "not-certified",
        title: "Data sources impacted by the policy that have not been certified: when the policy was applied, and the data owner.",
        columns: &["Data source", "Applied", "Data owner"],
        date_range: false,
        last_month_by_default: false,
        gaps: &[],
        source: Source::Sql(
            "SELECT coalesce(ds.name, ds.id), iso(pd.applied),
                    (SELECT group_concat(coalesce(u.name, u.id), '; ' ORDER BY coalesce(u.name, u.id))
                       FROM user_subscriptions us JOIN users u ON u.key = us.user_key
                      WHERE us.model_type = 'DATASOURCE' AND us.model_id = ds.id AND us.role = 'OWNER')
               FROM policy_datasources pd JOIN datasources ds ON ds.key = pd.ds_key
              WHERE pd.policy_id = :id AND pd.state = 'APPLIED' AND pd.certified IS NULL AND ds.deleted IS NULL
              ORDER BY coalesce(ds.name, ds.id), ds.id",
        ),
        post: None,
    },
    ReportKind {
        entity: EntityType::GlobalPolicy,
        scope: Scope::One,
        key: "certified",
        title: "Data sources impacted by the policy that have been certified: who certified each, when the policy was applied and when it was certified.",
        columns: &["Data source", "Certified by", "Applied", "Certified"],
        date_range: false,
        last_month_by_default: false,
        gaps: &[],
        source: Source::Sql(
            "SELECT coalesce(ds.name, ds.id), pd.certified_by, iso(pd.applied), iso(pd.certified)
               FROM policy_datasources pd JOIN datasources ds ON ds.key = pd.ds_key
              WHERE pd.policy_id = :id AND pd.certified IS NOT NULL AND ds.deleted IS NULL
              ORDER BY coalesce(ds.name, ds.id), ds.id",
        ),
        post: None,
    },
    // ----- connections
    ReportKind {
        entity: EntityType::Connection,
        scope: Scope::One,
        key: "data-sources",
        title: "Data sources of this connection: creator, creation date, and the table used.",
        columns: &["Data source", "Created by", "Created", "Table"],
        date_range: false,
        last_month_by_default: false,
        gaps: &[],
        source: Source::Sql(
            "SELECT coalesce(ds.name, ds.id), ds.created_by, iso(ds.created),
                    CASE WHEN ds.schema_name IS NOT NULL THEN ds.schema_name || '.' || ds.table_name ELSE ds.table_name END
               FROM datasources ds WHERE ds.connection_id = :id AND ds.deleted IS NULL
              ORDER BY coalesce(ds.name, ds.id), ds.id",
        ),
        post: None,
    },
    // ----- tags
    ReportKind {
        entity: EntityType::Tag,
        scope: Scope::One,
        key: "data-sources",
        title: "Data sources this tag has been assigned to: the columns tagged, who tagged them and when, and when the data sources were created.",
        columns: &["Data source", "Column", "Value type", "Tagged by", "Tagged", "Data source created"],
        date_range: false,
        last_month_by_default: false,
        gaps: &[("Value type", "tag events do not carry the type of the tagged column's data")],
        source: Source::Sql(
            "SELECT coalesce(ds.name, ds.id), nullif(t.column_name, ''), NULL, t.tagged_by, iso(t.tagged), iso(ds.created)
               FROM ds_tags t JOIN datasources ds ON ds.key = t.ds_key
              WHERE t.tag = :id AND ds.deleted IS NULL ORDER BY coalesce(ds.name, ds.id), ds.id, t.column_name",
        ),
        post: None,
    },
    ReportKind {
        entity: EntityType::Tag,
        scope: Scope::One,
        key: "access-purposes",
        title: "Purposes under which users accessed data sources containing this tag, in the date range.",
        columns: &["Purpose", "Data source", "Users", "Last access"],
        date_range: true,
        last_month_by_default: true,
        gaps: &[],
        source: Source::Sql(
            "SELECT coalesce(pu.name, ap.purpose_id), coalesce(ds.name, ds.id), count(DISTINCT ap.user_key), iso(max(ap.ts))
               FROM ds_tag_spans t
               JOIN access_purposes ap ON ap.ds_key = t.ds_key
                AND ap.ts >= t.from_ts AND (t.to_ts IS NULL OR ap.ts < t.to_ts)
               JOIN datasources ds ON ds.key = t.ds_key JOIN users u ON u.key = ap.user_key
               LEFT JOIN purposes pu ON pu.id = ap.purpose_id
              WHERE t.tag = :id AND ap.ts BETWEEN :from AND :to
              GROUP BY ap.purpose_id, ap.ds_key ORDER BY 1, 2",
        ),
        post: None,
    },
    ReportKind {
        entity: EntityType::Tag,
        scope: Scope::One,
        key: "users-accessed",
        title: "Users who have accessed data sources containing this tag: email, when they queried the data, and when the data sources were created, in the date range.",
        columns: &["User", "Username", "Email", "Data source", "Last queried", "Data source created"],
        date_range: true,
        last_month_by_default: false,
        gaps: &[],
        source: Source::Sql(
            "SELECT coalesce(u.name, u.id), u.id, u.email, coalesce(ds.name, ds.id), iso(max(a.ts)), iso(ds.created)
               FROM ds_tag_spans t
               JOIN access a ON a.ds_key = t.ds_key
                AND a.ts >= t.from_ts AND (t.to_ts IS NULL OR a.ts < t.to_ts)
               JOIN datasources ds ON ds.key = t.ds_key
               JOIN users u ON u.key = a.user_key
              WHERE t.tag = :id AND a.ts BETWEEN :from AND :to
              GROUP BY a.user_key, a.ds_key ORDER BY 1, 2, 4",
        ),
        post: None,
    },
    ReportKind {
        entity: EntityType::Tag,
        scope: Scope::One,
        key: "projects",
        title: "Projects that contain data with this tag: visibility, creation date, the data sources and when they were created.",
        columns: &["Project", "Public or private", "Project created", "Data source", "Data source created"],
        date_range: false,
        last_month_by_default: false,
        gaps: &[VISIBILITY],
        source: Source::Sql(
            "SELECT coalesce(p.name, p.id), NULL, iso(p.created), coalesce(ds.name, ds.id), iso(ds.created)
               FROM (SELECT DISTINCT ds_key FROM ds_tags WHERE tag = :id) t
               JOIN project_datasources pd ON pd.ds_key = t.ds_key JOIN projects p ON p.id = pd.project_id
               JOIN datasources ds ON ds.key = t.ds_key
              WHERE p.deleted IS NULL AND ds.deleted IS NULL ORDER BY 1, 4",
        ),
        post: None,
    },
    ReportKind {
        entity: EntityType::Tag,
        scope: Scope::All,
        key: "users-subscribed",
        title: "Users subscribed to data sources with any tag: each user and subscription type, and for every tag whether the user is subscribed to at least one data source where it is applied (one column per tag, true or false; True/False in CSV).",
        columns: &["User", "Email", "Subscription type", "(one column per tag)"],
        date_range: false,
        last_month_by_default: false,
        gaps: &[],
        source: Source::Custom(users_subscribed_any_tag),
        post: None,
    },
    ReportKind {
        entity: EntityType::Tag,
        scope: Scope::All,
        key: "data-sources",
        title: "Data sources any tag has been applied to: the tags and the columns they are applied to.",
        columns: &["Data source", "Tag", "Column"],
        date_range: false,
        last_month_by_default: false,
        gaps: &[],
        source: Source::Sql(
            "SELECT coalesce(ds.name, ds.id), t.tag, nullif(t.column_name, '')
               FROM ds_tags t JOIN datasources ds ON ds.key = t.ds_key
              WHERE ds.deleted IS NULL ORDER BY coalesce(ds.name, ds.id), ds.id, t.tag, t.column_name",
        ),
        post: None,
    },
    ReportKind {
        entity: EntityType::Tag,
        scope: Scope::All,
        key: "projects",
        title: "Projects that contain a data source with any tag: the data sources and the tags applied to them.",
        columns: &["Project", "Data source", "Tag"],
        date_range: false,
        last_month_by_default: false,
        gaps: &[],
        source: Source::Sql(
            "SELECT DISTINCT coalesce(p.name, p.id), coalesce(ds.name, ds.id), t.tag
               FROM project_datasources pd JOIN projects p ON p.id = pd.project_id
               JOIN datasources ds ON ds.key = pd.ds_key JOIN ds_tags t ON t.ds_key = pd.ds_key
              WHERE p.deleted IS NULL AND ds.deleted IS NULL ORDER BY 1, 2, 3",
        ),
        post: None,
    },
    // ----- sensitive data discovery
    ReportKind {
        entity: EntityType::Sdd,
        scope: Scope::All,
        key: "columns",
        title: "Columns with SDD tags applied: every Discovered tag applied to a column, the data source, and the active global policies that use the tag.",
        columns: &["Data source", "Column", "Tag", "Tagged", "Active policies"],
        date_range: false,
        last_month_by_default: false,
        gaps: &[],
        source: Source::Sql(
            "SELECT coalesce(ds.name, ds.id), t.column_name, t.tag, iso(t.tagged),
                    (SELECT group_concat(coalesce(gp.name, gp.id), '; ' ORDER BY coalesce(gp.name, gp.id))
                       FROM policy_tags pt JOIN global_policies gp ON gp.id = pt.policy_id
                      WHERE pt.tag = t.tag AND gp.deleted IS NULL)
               FROM ds_tags t JOIN datasources ds ON ds.key = t.ds_key
              WHERE t.column_name <> '' AND (t.tag = 'Discovered' OR t.tag LIKE 'Discovered.%') AND ds.deleted IS NULL
              ORDER BY coalesce(ds.name, ds.id), ds.id, t.column_name, t.tag",
        ),
        post: None,
    },
];
