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
mod catalog;
mod resolve;
mod run;

pub use catalog::CATALOG;
pub use resolve::{resolve, suggest};
use run::*;
pub use run::{COUNTED_ROWS, ReportSummary, run, run_each};

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
    /// Rows in all (counted up to [`COUNTED_ROWS`]; `None` past it).
    pub total_rows: Option<usize>,
    /// Whether more rows exist than the limit let through.
    pub truncated: bool,
    /// What the audit trail cannot supply, column by column.
    pub notes: Vec<String>,
    /// Where the report's history starts when retention removed older events (RFC 3339).
    pub history_starts_at: Option<String>,
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

impl crate::Classify for ReportError {
    fn kind(&self) -> crate::ErrorKind {
        use crate::ErrorKind;
        match self {
            ReportError::UnknownEntityType(_)
            | ReportError::UnknownReport { .. }
            | ReportError::Name(_)
            | ReportError::Range(_) => ErrorKind::Invalid,
            ReportError::NotFound { .. } => ErrorKind::NotFound,
            ReportError::Ambiguous { .. } => ErrorKind::Conflict,
            ReportError::TimedOut(_) => ErrorKind::Timeout,
            ReportError::Projection(_) => ErrorKind::Internal,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ReportError::UnknownEntityType(_) => "unknown_entity_type",
            ReportError::UnknownReport { .. } => "unknown_report",
            ReportError::Name(_) => "invalid_name",
            ReportError::NotFound { .. } => "unknown_entity",
            ReportError::Ambiguous { .. } => "ambiguous_name",
            ReportError::Range(_) => "invalid_date_range",
            ReportError::TimedOut(_) => "report_timeout",
            ReportError::Projection(_) => "internal",
        }
    }

    fn details(&self) -> Option<(&'static str, serde_json::Value)> {
        match self {
            ReportError::NotFound { suggestions, .. } => {
                Some(("suggestions", serde_json::json!(suggestions)))
            }
            ReportError::Ambiguous { candidates, .. } => {
                Some(("candidates", serde_json::json!(candidates)))
            }
            _ => None,
        }
    }
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
        .copied()
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

/// Prepares a reader connection for a report: the `iso`, `yesno` and `access_kind` functions and
/// the `NATSORT` collation (the shared views come with every reader).
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
    // Names in the order people read them ("User 2" before "User 10").
    conn.create_collation("NATSORT", natural_cmp)?;
    // The bits of `access.kind`: 1 read, 2 written.
    conn.create_scalar_function("access_kind", 1, flags, |ctx| {
        Ok(match ctx.get::<Option<i64>>(0)? {
            Some(2) => Some("write"),
            Some(3) => Some("read, write"),
            Some(_) => Some("read"),
            None => None,
        })
    })?;
    Ok(())
}

/// Orders names as people read them: runs of digits by their value ("User 2" before
/// "User 10"), the rest without regard to case, then exactly (so the order is total).
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (mut x, mut y) = (a.chars().peekable(), b.chars().peekable());
    loop {
        match (x.peek().copied(), y.peek().copied()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let take = |it: &mut std::iter::Peekable<std::str::Chars<'_>>| {
                    let mut digits = String::new();
                    while let Some(c) = it.peek().copied().filter(char::is_ascii_digit) {
                        digits.push(c);
                        it.next();
                    }
                    digits
                };
                let (m, n) = (take(&mut x), take(&mut y));
                let (m, n) = (m.trim_start_matches('0'), n.trim_start_matches('0'));
                let order = m.len().cmp(&n.len()).then_with(|| m.cmp(n));
                if order != Ordering::Equal {
                    return order;
                }
            }
            (Some(c), Some(d)) => {
                let order = c.to_lowercase().cmp(d.to_lowercase());
                if order != Ordering::Equal {
                    return order;
                }
                x.next();
                y.next();
            }
        }
    }
}

/// A time as reports show it: RFC 3339 in UTC with milliseconds.
pub fn iso(micros: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod natural_tests {
    #[test]
    fn names_sort_as_people_read_them() {
        let mut names = vec!["User 10", "user 2", "User 1", "Ann", "User 02", "ann", "B"];
        names.sort_by(|a, b| super::natural_cmp(a, b));
        assert_eq!(
            names,
            ["Ann", "ann", "B", "User 1", "User 02", "user 2", "User 10"]
        );
    }
}
