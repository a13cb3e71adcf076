//! The reports about every user's or data source's subscriptions built whole, for full runs (CSV,
//! `limit=all`): each table is read once in one read transaction, joined in memory and sorted,
//! instead of a few indexed lookups per entity. The limited runs the UI makes stream through the
//! per-entity path instead, which gives the same rows in the same order (the governance tests
//! check it).

use std::collections::{BTreeMap, HashMap};

use rusqlite::Connection;
use serde_json::Value;

use super::{Emit, iso};

struct User {
    id: String,
    display: String,
    email: Option<String>,
}

struct Datasource {
    key: i64,
    id: String,
    display: String,
}

/// A live user's current subscription to a live data source (group subscriptions expanded to
/// the group's members), as the `user_subscriptions` view gives it.
struct Subscription {
    datasource: usize,
    user: i64,
    subscription_type: String,
    role: Option<String>,
    subscribed: Option<i64>,
    approved_by: Option<String>,
}

/// What the three reports read, from one snapshot.
struct Snapshot {
    users: HashMap<i64, User>,
    datasources: Vec<Datasource>,
    subscriptions: Vec<Subscription>,
    /// Live groups: id → display name.
    groups: HashMap<String, String>,
    /// Group id → member user keys.
    members: HashMap<String, Vec<i64>>,
}

fn text(value: Option<String>) -> Value {
    value.map_or(Value::Null, Value::String)
}

/// Runs `read` inside one read transaction, so every statement sees the same snapshot.
fn in_snapshot<T>(
    conn: &Connection,
    read: impl FnOnce() -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.execute_batch("BEGIN")?;
    let result = read();
    conn.execute_batch("COMMIT")?;
    result
}

fn load(conn: &Connection) -> rusqlite::Result<Snapshot> {
    let mut users = HashMap::new();
    let mut user_by_id = HashMap::new();
    let mut statement =
        conn.prepare("SELECT key, id, coalesce(name, id), email FROM users WHERE deleted IS NULL")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let key: i64 = row.get(0)?;
        let id: String = row.get(1)?;
        user_by_id.insert(id.clone(), key);
        users.insert(
            key,
            User {
                id,
                display: row.get(2)?,
                email: row.get(3)?,
            },
        );
    }
    let mut datasources = Vec::new();
    let mut datasource_by_id = HashMap::new();
    let mut statement =
        conn.prepare("SELECT key, id, coalesce(name, id) FROM datasources WHERE deleted IS NULL")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let id: String = row.get(1)?;
        datasource_by_id.insert(id.clone(), datasources.len());
        datasources.push(Datasource {
            key: row.get(0)?,
            id,
            display: row.get(2)?,
        });
    }
    let mut groups = HashMap::new();
    let mut statement =
        conn.prepare("SELECT id, coalesce(name, id) FROM groups WHERE deleted IS NULL")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        groups.insert(row.get::<_, String>(0)?, row.get::<_, String>(1)?);
    }
    let mut members: HashMap<String, Vec<i64>> = HashMap::new();
    let mut statement = conn.prepare("SELECT group_id, user_key FROM group_members")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        members.entry(row.get(0)?).or_default().push(row.get(1)?);
    }
    let mut subscriptions = Vec::new();
    let mut statement = conn.prepare(
        // One pass over the table (NOT INDEXED): an index would cost a lookup per row.
        "SELECT model_id, subscriber_type, subscriber_id, role, subscribed, approved_by
           FROM subscriptions NOT INDEXED
          WHERE status = 'APPROVED' AND unsubscribed IS NULL AND model_type = 'DATASOURCE'",
    )?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        // Borrowed until a row is kept: most of the cost here is per row.
        let Some(&datasource) =
            datasource_by_id.get(row.get_ref(0)?.as_str_or_null()?.unwrap_or_default())
        else {
            continue;
        };
        let subscriber_id = row.get_ref(2)?.as_str_or_null()?.unwrap_or_default();
        let subscriber_type = row.get_ref(1)?.as_str_or_null()?;
        let mut add = |user: i64, subscription_type: String| -> rusqlite::Result<()> {
            subscriptions.push(Subscription {
                datasource,
                user,
                subscription_type,
                role: row.get(3)?,
                subscribed: row.get(4)?,
                approved_by: row.get(5)?,
            });
            Ok(())
        };
        match subscriber_type {
            Some("USER") => {
                if let Some(&user) = user_by_id.get(subscriber_id) {
                    add(user, "Individual User".to_owned())?;
                }
            }
            Some("GROUP") => {
                if let Some(display) = groups.get(subscriber_id) {
                    for &user in members.get(subscriber_id).into_iter().flatten() {
                        if users.contains_key(&user) {
                            add(user, format!("Group: {display}"))?;
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(Snapshot {
        users,
        datasources,
        subscriptions,
        groups,
        members,
    })
}

/// Each user's attributes as `attribute: value; …`, ordered as the SQL reports order them.
fn user_attributes(conn: &Connection) -> rusqlite::Result<HashMap<String, String>> {
    let mut attributes: HashMap<String, String> = HashMap::new();
    let mut statement = conn.prepare(
        "SELECT entity_id, attribute, value FROM attributes WHERE entity_type = 'USER'
          ORDER BY entity_id, attribute, value",
    )?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let entry = attributes.entry(row.get(0)?).or_default();
        if !entry.is_empty() {
            entry.push_str("; ");
        }
        entry.push_str(&row.get::<_, String>(1)?);
        entry.push_str(": ");
        entry.push_str(&row.get::<_, String>(2)?);
    }
    Ok(attributes)
}

impl Snapshot {
    /// Each user's place in display order (display name in natural order, then id), as the
    /// reports sort users.
    fn user_ranks(&self) -> HashMap<i64, usize> {
        let mut keys: Vec<(&str, &str, i64)> = self
            .users
            .iter()
            .map(|(key, user)| (user.display.as_str(), user.id.as_str(), *key))
            .collect();
        keys.sort_unstable_by(|a, b| {
            super::natural_cmp(a.0, b.0)
                .then_with(|| a.1.cmp(b.1))
                .then_with(|| a.2.cmp(&b.2))
        });
        keys.into_iter()
            .enumerate()
            .map(|(rank, (_, _, key))| (key, rank))
            .collect()
    }

    /// Each data source's place in display order, by its index.
    fn datasource_ranks(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.datasources.len()).collect();
        order.sort_unstable_by(|a, b| {
            let (a, b) = (&self.datasources[*a], &self.datasources[*b]);
            super::natural_cmp(&a.display, &b.display).then_with(|| a.id.cmp(&b.id))
        });
        let mut ranks = vec![0; order.len()];
        for (rank, index) in order.into_iter().enumerate() {
            ranks[index] = rank;
        }
        ranks
    }

    /// The subscriptions in report order: by the two ranks `key` gives (from the users' and the
    /// data sources' display order), then by subscription type.
    fn sorted(
        &self,
        key: impl Fn(&HashMap<i64, usize>, &[usize], &Subscription) -> (usize, usize),
    ) -> Vec<&Subscription> {
        let (users, datasources) = (self.user_ranks(), self.datasource_ranks());
        let mut keys: Vec<(usize, usize, &Subscription)> = self
            .subscriptions
            .iter()
            .map(|s| {
                let (first, second) = key(&users, &datasources, s);
                (first, second, s)
            })
            .collect();
        keys.sort_unstable_by(|a, b| {
            (a.0, a.1)
                .cmp(&(b.0, b.1))
                .then_with(|| a.2.subscription_type.cmp(&b.2.subscription_type))
        });
        keys.into_iter().map(|(_, _, s)| s).collect()
    }

    fn user(&self, subscription: &Subscription) -> &User {
        &self.users[&subscription.user]
    }

    fn datasource(&self, subscription: &Subscription) -> &Datasource {
        &self.datasources[subscription.datasource]
    }

    /// Each live user's live groups, by display name, joined with `; `.
    fn user_groups(&self) -> HashMap<i64, String> {
        let mut names: HashMap<i64, Vec<&str>> = HashMap::new();
        for (group, display) in &self.groups {
            for &user in self.members.get(group).into_iter().flatten() {
                names.entry(user).or_default().push(display);
            }
        }
        names
            .into_iter()
            .map(|(user, mut list)| {
                list.sort_unstable_by(|a, b| super::natural_cmp(a, b));
                (user, list.join("; "))
            })
            .collect()
    }
}

/// Hands on one row per subscription, in order, until `emit` has enough.
fn emit_each(
    order: Vec<&Subscription>,
    emit: &mut Emit<'_>,
    row: impl Fn(&Subscription) -> Vec<Value>,
) {
    for s in order {
        if !emit(row(s)) {
            break;
        }
    }
}

/// User / all / data-sources-subscribed, whole.
pub(super) fn user_data_sources_subscribed(
    conn: &Connection,
    emit: &mut Emit<'_>,
) -> rusqlite::Result<()> {
    in_snapshot(conn, || {
        let snapshot = load(conn)?;
        let attributes = user_attributes(conn)?;
        let groups = snapshot.user_groups();
        let order =
            snapshot.sorted(|users, datasources, s| (users[&s.user], datasources[s.datasource]));
        emit_each(order, emit, |s| {
            let user = snapshot.user(s);
            vec![
                Value::from(user.display.clone()),
                Value::from(user.id.clone()),
                text(user.email.clone()),
                Value::from(snapshot.datasource(s).display.clone()),
                text(s.role.clone()),
                Value::from(s.subscription_type.clone()),
                text(s.subscribed.map(iso)),
                text(s.approved_by.clone()),
                Value::Null,
                text(attributes.get(&user.id).cloned()),
                text(groups.get(&s.user).cloned()),
            ]
        });
        Ok(())
    })
}

/// Data source / all / subscribers, whole.
pub(super) fn datasource_subscribers(
    conn: &Connection,
    emit: &mut Emit<'_>,
) -> rusqlite::Result<()> {
    in_snapshot(conn, || {
        let snapshot = load(conn)?;
        let attributes = user_attributes(conn)?;
        let order =
            snapshot.sorted(|users, datasources, s| (datasources[s.datasource], users[&s.user]));
        emit_each(order, emit, |s| {
            let user = snapshot.user(s);
            vec![
                Value::from(snapshot.datasource(s).display.clone()),
                Value::from(user.display.clone()),
                Value::from(user.id.clone()),
                text(user.email.clone()),
                Value::from(s.subscription_type.clone()),
                text(s.role.clone()),
                text(s.subscribed.map(iso)),
                text(s.approved_by.clone()),
                Value::Null,
                text(attributes.get(&user.id).cloned()),
            ]
        });
        Ok(())
    })
}

/// Tag / all / users-subscribed, whole: one row per user and subscription type, with one
/// true/false cell per tag of `columns` (tag → its position among the tag cells).
pub(super) fn users_subscribed_any_tag(
    conn: &Connection,
    columns: &BTreeMap<&str, usize>,
    emit: &mut Emit<'_>,
) -> rusqlite::Result<()> {
    in_snapshot(conn, || {
        let snapshot = load(conn)?;
        let mut tags: HashMap<i64, Vec<usize>> = HashMap::new();
        let mut statement = conn.prepare("SELECT ds_key, tag FROM ds_tags")?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            if let Some(&column) = columns.get(row.get_ref(1)?.as_str()?) {
                tags.entry(row.get(0)?).or_default().push(column);
            }
        }
        let users = snapshot.user_ranks();
        let mut cells: BTreeMap<(usize, &str), (i64, Vec<bool>)> = BTreeMap::new();
        for s in &snapshot.subscriptions {
            let (_, flags) = cells
                .entry((users[&s.user], &s.subscription_type))
                .or_insert_with(|| (s.user, vec![false; columns.len()]));
            for &column in tags.get(&snapshot.datasource(s).key).into_iter().flatten() {
                flags[column] = true;
            }
        }
        for ((_, subscription_type), (user, flags)) in cells {
            let user = &snapshot.users[&user];
            let mut row = Vec::with_capacity(3 + flags.len());
            row.push(Value::from(user.display.clone()));
            row.push(text(user.email.clone()));
            row.push(Value::from(subscription_type));
            row.extend(flags.into_iter().map(Value::Bool));
            if !emit(row) {
                break;
            }
        }
        Ok(())
    })
}
