//! The user and data source registry: a view derived from the log (`UserCreated/Updated/Deleted`,
//! `DatasourceCreated/Updated/Deleted`), with the platform usernames mapped to each user. The
//! query-audit integrations ask it who a platform user is and which data source a table is.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::LogError;
use crate::keys::KeyActor;
use crate::log::{EventLog, Seq, SideWrite};
use crate::own_events::OwnEvent;
use crate::store::{Sql, StoreError, values};

/// Events read per catch-up step.
const CATCH_UP_BATCH: usize = 5_000;
/// The applied sequence number is stored at least this often, even without registry changes,
/// so that a restart does not rescan the whole log.
const CHECKPOINT_EVERY: Seq = 100_000;
/// Payload types the registry applies; anything else is skipped without being parsed.
const RELEVANT_PAYLOADS: [&str; 6] = [
    "\"UserCreatedAuditPayload\"",
    "\"UserUpdatedAuditPayload\"",
    "\"UserDeletedAuditPayload\"",
    "\"DatasourceCreatedAuditPayload\"",
    "\"DatasourceUpdatedAuditPayload\"",
    "\"DatasourceDeletedAuditPayload\"",
];

/// A data platform whose queries vigil audits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Platform {
    /// Snowflake.
    Snowflake,
    /// Databricks (Unity Catalog and Spark).
    Databricks,
    /// Starburst or Trino.
    StarburstTrino,
}

impl Platform {
    /// Every platform.
    pub const ALL: [Platform; 3] = [
        Platform::Snowflake,
        Platform::Databricks,
        Platform::StarburstTrino,
    ];

    /// The name vigil writes (`targets[].technology`): `SNOWFLAKE`, `DATABRICKS`, `STARBURST_TRINO`.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Snowflake => "SNOWFLAKE",
            Platform::Databricks => "DATABRICKS",
            Platform::StarburstTrino => "STARBURST_TRINO",
        }
    }

    /// Reads a platform name in any case, with the spellings users write (`trino`, `starburst`,
    /// `snowflakeUser`, `databricksUser`, `unity_catalog`).
    pub fn parse(text: &str) -> Option<Platform> {
        let lower = text.trim().to_ascii_lowercase();
        let lower = lower.strip_suffix("user").unwrap_or(&lower);
        match lower.trim_end_matches(['_', '-']) {
            "snowflake" => Some(Platform::Snowflake),
            "databricks" | "databricks_unity_catalog" | "unity_catalog" | "databricks_spark" => {
                Some(Platform::Databricks)
            }
            "starburst_trino" | "trino" | "starburst" | "starburst-trino" => {
                Some(Platform::StarburstTrino)
            }
            _ => None,
        }
    }

    /// The error text for a name that is not a platform.
    pub fn parse_error(text: &str) -> String {
        format!("`{text}` is not a platform; use SNOWFLAKE, DATABRICKS or STARBURST_TRINO")
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A platform username mapped to a user (`externalUserIds` of `UserUpdated`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalUserId {
    /// The platform.
    pub technology: Platform,
    /// The username on that platform.
    pub username: String,
}

/// A registered user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredUser {
    /// The user id (often an email).
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Identity provider (`bim`, `okta`, …).
    pub identity_provider: Option<String>,
    /// Profile id.
    pub profile_id: Option<String>,
    /// Whether the user is disabled.
    #[serde(default)]
    pub disabled: bool,
    /// Platform usernames mapped to this user.
    #[serde(default)]
    pub external_user_ids: Vec<ExternalUserId>,
}

impl RegisteredUser {
    /// The `actor` of an event by this user.
    pub fn actor(&self) -> Value {
        let mut actor = serde_json::Map::new();
        actor.insert("type".into(), "USER_ACTOR".into());
        actor.insert("id".into(), self.id.clone().into());
        actor.insert(
            "name".into(),
            self.name.clone().unwrap_or_else(|| self.id.clone()).into(),
        );
        if let Some(provider) = &self.identity_provider {
            actor.insert("identityProvider".into(), provider.clone().into());
        }
        if let Some(profile) = &self.profile_id {
            actor.insert("profileId".into(), profile.clone().into());
        }
        Value::Object(actor)
    }
}

/// The `actor` of a query by a platform user vigil cannot name: the seed's "Unknown" user. The
/// platform username stays in the event's technology context.
pub fn unknown_actor() -> Value {
    json!({ "type": "UNKNOWN", "id": "Unknown", "name": "Unknown" })
}

/// A registered data source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredDatasource {
    /// The data source id.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// `targets[].technology` or the payload's `technology` (`SNOWFLAKE`, …).
    pub technology: Option<String>,
    /// Database or catalog, when the creating event named it (`database`, `databaseName` or
    /// `catalog` in the payload: an extension of the seed's payload, which has none).
    pub database: Option<String>,
    /// Schema.
    pub schema: Option<String>,
    /// Table.
    pub table: Option<String>,
}

impl RegisteredDatasource {
    /// The `targets[]` element of a query on this data source.
    pub fn target(&self, platform: Platform) -> Value {
        json!({
            "type": "DATASOURCE",
            "id": self.id,
            "name": self.name.clone().or_else(|| self.table.clone()).unwrap_or_else(|| self.id.clone()),
            "technology": self.technology.clone().unwrap_or_else(|| platform.as_str().to_owned()),
        })
    }

    fn platform(&self) -> Option<Platform> {
        Platform::parse(self.technology.as_deref()?)
    }
}

/// The registry at one point of the log, with its lookup indexes.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    users: BTreeMap<String, RegisteredUser>,
    datasources: BTreeMap<String, RegisteredDatasource>,
    by_platform_name: HashMap<(Platform, String), String>,
    by_identity: HashMap<String, String>,
    by_table: HashMap<(Platform, String, String), Vec<String>>,
}

impl Snapshot {
    fn new(
        users: BTreeMap<String, RegisteredUser>,
        datasources: BTreeMap<String, RegisteredDatasource>,
    ) -> Snapshot {
        let mut snapshot = Snapshot {
            users,
            datasources,
            ..Snapshot::default()
        };
        for user in snapshot.users.values() {
            for external in &user.external_user_ids {
                snapshot.by_platform_name.insert(
                    (external.technology, external.username.to_lowercase()),
                    user.id.clone(),
                );
            }
            for identity in [Some(&user.id), user.email.as_ref()].into_iter().flatten() {
                snapshot
                    .by_identity
                    .entry(identity.to_lowercase())
                    .or_insert_with(|| user.id.clone());
            }
        }
        for source in snapshot.datasources.values() {
            if let (Some(platform), Some(schema), Some(table)) =
                (source.platform(), &source.schema, &source.table)
            {
                snapshot
                    .by_table
                    .entry((platform, schema.to_lowercase(), table.to_lowercase()))
                    .or_default()
                    .push(source.id.clone());
            }
        }
        snapshot
    }

    /// Every user, by id.
    pub fn users(&self) -> impl Iterator<Item = &RegisteredUser> {
        self.users.values()
    }

    /// Every data source, by id.
    pub fn datasources(&self) -> impl Iterator<Item = &RegisteredDatasource> {
        self.datasources.values()
    }

    /// A user by id.
    pub fn user(&self, id: &str) -> Option<&RegisteredUser> {
        self.users.get(id)
    }

    /// The user a platform username belongs to: the user it is mapped to, else the user whose
    /// id or email is that username (any case). Disabled users are still named: the query ran.
    pub fn resolve_user(&self, platform: Platform, username: &str) -> Option<&RegisteredUser> {
        let lower = username.to_lowercase();
        let id = self
            .by_platform_name
            .get(&(platform, lower.clone()))
            .or_else(|| self.by_identity.get(&lower))?;
        self.users.get(id)
    }

    /// The data source registered for a table of `platform`. Names compare in any case; the
    /// database must match when the data source names one.
    pub fn resolve_table(
        &self,
        platform: Platform,
        database: Option<&str>,
        schema: &str,
        table: &str,
    ) -> Option<&RegisteredDatasource> {
        let ids = self
            .by_table
            .get(&(platform, schema.to_lowercase(), table.to_lowercase()))?;
        ids.iter()
            .filter_map(|id| self.datasources.get(id))
            .find(|source| match (&source.database, database) {
                (Some(registered), Some(asked)) => registered.eq_ignore_ascii_case(asked),
                _ => true,
            })
    }
}

/// The registry: the current snapshot, and how far into the log it has read.
pub struct Registry {
    snapshot: RwLock<Arc<Snapshot>>,
    progress: Mutex<Progress>,
}

struct Progress {
    applied: Seq,
    stored: Seq,
}

/// One change the registry makes.
enum Change {
    PutUser(RegisteredUser),
    DeleteUser(String),
    PutDatasource(RegisteredDatasource),
    DeleteDatasource(String),
}

impl Registry {
    /// Loads the stored registry of `log`. Blocking.
    pub fn open(log: &EventLog) -> Result<Registry, LogError> {
        let (users, datasources, applied) = log.query(|db| {
            let users = load_bodies::<RegisteredUser>(db, "registry_users")?;
            let datasources = load_bodies::<RegisteredDatasource>(db, "registry_datasources")?;
            let applied = db
                .query_optional("SELECT applied_seq FROM registry_state WHERE id = 1", &[])?
                .map(|row| row.integer(0))
                .transpose()?;
            Ok((users, datasources, applied.unwrap_or(0) as Seq))
        })?;
        Ok(Registry {
            snapshot: RwLock::new(Arc::new(Snapshot::new(users, datasources))),
            progress: Mutex::new(Progress {
                applied,
                stored: applied,
            }),
        })
    }

    /// The registry as of the last catch-up.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.read().expect("registry lock").clone()
    }

    /// The last sequence number applied.
    pub fn applied_seq(&self) -> Seq {
        self.progress
            .lock()
            .expect("registry progress lock")
            .applied
    }

    /// Applies every committed event not applied yet; returns the snapshot that includes them.
    /// Blocking. Cheap when nothing is new.
    pub fn catch_up(&self, log: &EventLog) -> Result<Arc<Snapshot>, LogError> {
        let mut progress = self.progress.lock().expect("registry progress lock");
        let head = log.last_committed_seq();
        while progress.applied < head {
            let batch = log.read_after(progress.applied, CATCH_UP_BATCH)?;
            let Some(last) = batch.last().map(|event| event.seq) else {
                break;
            };
            // Changes apply in log order to a working copy, so that a later event of the same
            // batch sees an earlier one (a user created, then mapped).
            let mut working: Option<(Users, Datasources)> = None;
            let mut changes = Vec::new();
            for event in &batch {
                if !RELEVANT_PAYLOADS
                    .iter()
                    .any(|name| event.json.contains(name))
                {
                    continue;
                }
                let (users, datasources) = working.get_or_insert_with(|| {
                    let current = self.snapshot();
                    (current.users.clone(), current.datasources.clone())
                });
                if let Some(change) = change_of(&event.json, users, datasources) {
                    match &change {
                        Change::PutUser(user) => {
                            users.insert(user.id.clone(), user.clone());
                        }
                        Change::DeleteUser(id) => {
                            users.remove(id);
                        }
                        Change::PutDatasource(source) => {
                            datasources.insert(source.id.clone(), source.clone());
                        }
                        Change::DeleteDatasource(id) => {
                            datasources.remove(id);
                        }
                    }
                    changes.push(change);
                }
            }
            if !changes.is_empty() || last - progress.stored >= CHECKPOINT_EVERY {
                self.store(log, &changes, last)?;
                progress.stored = last;
            }
            if let Some((users, datasources)) = working.filter(|_| !changes.is_empty()) {
                *self.snapshot.write().expect("registry lock") =
                    Arc::new(Snapshot::new(users, datasources));
            }
            progress.applied = last;
        }
        Ok(self.snapshot())
    }

    fn store(&self, log: &EventLog, changes: &[Change], applied: Seq) -> Result<(), LogError> {
        let rows: Vec<(bool, bool, String, Option<String>)> = changes
            .iter()
            .map(|change| match change {
                Change::PutUser(user) => (
                    true,
                    true,
                    user.id.clone(),
                    Some(serde_json::to_string(user).expect("user serializes")),
                ),
                Change::DeleteUser(id) => (true, false, id.clone(), None),
                Change::PutDatasource(source) => (
                    false,
                    true,
                    source.id.clone(),
                    Some(serde_json::to_string(source).expect("data source serializes")),
                ),
                Change::DeleteDatasource(id) => (false, false, id.clone(), None),
            })
            .collect();
        let side_write: SideWrite = Box::new(move |db| {
            // Every node of a cluster follows the log and stores the same registry; writes beside
            // appends are serialized, so a node that finds a newer registry stored leaves it.
            let stored = db
                .query_optional("SELECT applied_seq FROM registry_state WHERE id = 1", &[])?
                .map(|row| row.integer(0))
                .transpose()?;
            if stored.is_some_and(|stored| stored as Seq >= applied) {
                return Ok(());
            }
            for (is_user, put, id, body) in &rows {
                let table = if *is_user {
                    "registry_users"
                } else {
                    "registry_datasources"
                };
                if *put {
                    db.execute(
                        &format!(
                            "INSERT INTO {table} (id, body) VALUES (?1, ?2)
                             ON CONFLICT (id) DO UPDATE SET body = excluded.body"
                        ),
                        values![id, body.clone()],
                    )?;
                } else {
                    db.execute(&format!("DELETE FROM {table} WHERE id = ?1"), values![id])?;
                }
            }
            db.execute(
                "INSERT INTO registry_state (id, applied_seq) VALUES (1, ?1)
                 ON CONFLICT (id) DO UPDATE SET applied_seq = excluded.applied_seq",
                values![applied],
            )?;
            Ok(())
        });
        log.append_blocking(Vec::new(), Some(side_write))?;
        Ok(())
    }

    /// Maps (or, with `None`, unmaps) the username of `user_id` on `platform`, recording a
    /// `UserUpdated` event by `actor`; returns the user as it is now. Blocking.
    pub fn map_username(
        &self,
        log: &EventLog,
        user_id: &str,
        platform: Platform,
        username: Option<&str>,
        actor: &KeyActor,
    ) -> Result<Option<RegisteredUser>, LogError> {
        let snapshot = self.catch_up(log)?;
        let Some(user) = snapshot.user(user_id) else {
            return Ok(None);
        };
        let mut external: Vec<ExternalUserId> = user
            .external_user_ids
            .iter()
            .filter(|entry| entry.technology != platform)
            .cloned()
            .collect();
        if let Some(username) = username {
            external.push(ExternalUserId {
                technology: platform,
                username: username.to_owned(),
            });
        }
        let mut target = json!({ "type": "USER", "id": user.id, "name": user.name });
        if let Some(provider) = &user.identity_provider {
            target["identityProvider"] = provider.clone().into();
        }
        if let Some(profile) = &user.profile_id {
            target["profileId"] = profile.clone().into();
        }
        let event = OwnEvent {
            action: "UPDATE",
            target_type: "USER",
            actor: actor.to_json(),
            targets: json!([target]),
            payload: json!({
                "type": "UserUpdatedAuditPayload",
                "version": 1,
                "userId": user.id,
                "userIdProvider": user.identity_provider,
                "externalUserIds": external,
                "disabled": user.disabled,
            }),
        };
        log.append_blocking(vec![event.into_entry()], None)?;
        Ok(self.catch_up(log)?.user(user_id).cloned())
    }
}

fn load_bodies<T: for<'de> Deserialize<'de>>(
    db: &mut dyn Sql,
    table: &str,
) -> Result<BTreeMap<String, T>, StoreError> {
    let mut loaded = BTreeMap::new();
    for row in db.query(&format!("SELECT id, body FROM {table}"), &[])? {
        let id = row.string(0)?;
        match serde_json::from_str(row.text(1)?) {
            Ok(value) => {
                loaded.insert(id, value);
            }
            Err(error) => tracing::warn!(%id, %error, "skipping an unreadable registry row"),
        }
    }
    Ok(loaded)
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

type Users = BTreeMap<String, RegisteredUser>;
type Datasources = BTreeMap<String, RegisteredDatasource>;

/// What one stored event changes in the registry; `None` when it changes nothing.
fn change_of(json: &str, users: &Users, datasources: &Datasources) -> Option<Change> {
    let event: Value = serde_json::from_str(json).ok()?;
    if let Some(status) = event.get("actionStatus").and_then(Value::as_str)
        && status != "SUCCESS"
    {
        return None;
    }
    let payload = event.get("auditPayload")?;
    let target = event
        .get("targets")
        .and_then(Value::as_array)
        .and_then(|targets| targets.first())
        .cloned()
        .unwrap_or(Value::Null);
    let target_id = text(&target["id"]);
    let change = match payload.get("type")?.as_str()? {
        "UserCreatedAuditPayload" => {
            let id = target_id.or_else(|| text(&payload["email"]))?;
            let existing = users.get(&id);
            Change::PutUser(RegisteredUser {
                name: text(&payload["name"]).or_else(|| text(&target["name"])),
                email: text(&payload["email"]),
                identity_provider: text(&target["identityProvider"]),
                profile_id: text(&target["profileId"]),
                disabled: false,
                external_user_ids: existing
                    .map(|user| user.external_user_ids.clone())
                    .unwrap_or_default(),
                id,
            })
        }
        "UserUpdatedAuditPayload" => {
            let id = text(&payload["userId"]).or(target_id)?;
            let mut user = users.get(&id).cloned().unwrap_or(RegisteredUser {
                id: id.clone(),
                name: text(&target["name"]),
                email: None,
                identity_provider: text(&payload["userIdProvider"])
                    .or_else(|| text(&target["identityProvider"])),
                profile_id: text(&target["profileId"]),
                disabled: false,
                external_user_ids: Vec::new(),
            });
            if let Some(external) = payload.get("externalUserIds").filter(|v| !v.is_null()) {
                user.external_user_ids = parse_external_user_ids(external);
            }
            if let Some(disabled) = payload.get("disabled").and_then(Value::as_bool) {
                user.disabled = disabled;
            }
            Change::PutUser(user)
        }
        "UserDeletedAuditPayload" => Change::DeleteUser(text(&payload["userId"]).or(target_id)?),
        "DatasourceCreatedAuditPayload" => {
            let id = target_id.or_else(|| text(&payload["datasourceId"]))?;
            Change::PutDatasource(RegisteredDatasource {
                name: text(&target["name"]).or_else(|| text(&payload["name"])),
                technology: text(&payload["technology"]).or_else(|| text(&target["technology"])),
                database: ["database", "databaseName", "catalog"]
                    .iter()
                    .find_map(|key| text(&payload[key])),
                schema: text(&payload["schema"]),
                table: text(&payload["table"]),
                id,
            })
        }
        "DatasourceUpdatedAuditPayload" => {
            let id = text(&payload["datasourceId"]).or(target_id)?;
            let mut source = datasources.get(&id).cloned()?;
            if let Some(name) = text(&payload["name"]) {
                source.name = Some(name);
            }
            for (key, field) in [
                ("schema", &mut source.schema),
                ("table", &mut source.table),
                ("database", &mut source.database),
            ] {
                if let Some(value) = text(&payload[key]) {
                    *field = Some(value);
                }
            }
            Change::PutDatasource(source)
        }
        "DatasourceDeletedAuditPayload" => {
            Change::DeleteDatasource(text(&payload["datasourceId"]).or(target_id)?)
        }
        _ => return None,
    };
    Some(change)
}

/// Reads `externalUserIds` in the shapes it is written in: vigil's
/// `[{"technology": "SNOWFLAKE", "username": "TAYLOR"}]`, elements keyed `type`/`platform` and
/// `id`/`value`/`userName`, `"SNOWFLAKE:TAYLOR"` strings, or an object `{"snowflake": "TAYLOR"}`.
/// Entries naming no known platform are skipped.
pub fn parse_external_user_ids(value: &Value) -> Vec<ExternalUserId> {
    let pair = |platform: &str, username: Option<String>| {
        Some(ExternalUserId {
            technology: Platform::parse(platform)?,
            username: username?,
        })
    };
    match value {
        Value::Array(items) => items
            .iter()
            .filter_map(|item| match item {
                Value::String(text) => {
                    let (platform, username) = text.split_once(':')?;
                    pair(platform, Some(username.to_owned()))
                }
                Value::Object(object) => {
                    let platform = ["technology", "type", "platform"]
                        .iter()
                        .find_map(|key| object.get(*key)?.as_str())?;
                    let username = ["username", "userName", "id", "value"]
                        .iter()
                        .find_map(|key| object.get(*key).and_then(text));
                    pair(platform, username)
                }
                _ => None,
            })
            .collect(),
        Value::Object(object) => object
            .iter()
            .filter_map(|(platform, username)| pair(platform, text(username)))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_parse_in_the_spellings_users_write() {
        assert_eq!(Platform::parse("trino"), Some(Platform::StarburstTrino));
        assert_eq!(Platform::parse("snowflakeUser"), Some(Platform::Snowflake));
        assert_eq!(
            Platform::parse("DATABRICKS_UNITY_CATALOG"),
            Some(Platform::Databricks)
        );
        assert_eq!(Platform::parse("redshift"), None);
    }

    #[test]
    fn external_user_ids_are_read_in_every_shape() {
        let expected = vec![ExternalUserId {
            technology: Platform::Snowflake,
            username: "TAYLOR".into(),
        }];
        for shape in [
            json!([{"technology": "SNOWFLAKE", "username": "TAYLOR"}]),
            json!([{"type": "snowflakeUser", "value": "TAYLOR"}]),
            json!(["snowflake:TAYLOR"]),
            json!({"snowflake": "TAYLOR"}),
            json!([{"type": "redshift", "id": "x"}, "SNOWFLAKE:TAYLOR"]),
        ] {
            assert_eq!(parse_external_user_ids(&shape), expected, "{shape}");
        }
    }

    #[test]
    fn users_resolve_by_mapping_then_by_id_or_email() {
        let mut users = BTreeMap::new();
        users.insert(
            "taylor@example.com".to_owned(),
            RegisteredUser {
                id: "taylor@example.com".into(),
                name: Some("Taylor".into()),
                email: Some("taylor@example.com".into()),
                identity_provider: Some("bim".into()),
                profile_id: Some("10".into()),
                disabled: false,
                external_user_ids: vec![ExternalUserId {
                    technology: Platform::Snowflake,
                    username: "TSMITH".into(),
                }],
            },
        );
        let snapshot = Snapshot::new(users, BTreeMap::new());
        let by_mapping = snapshot
            .resolve_user(Platform::Snowflake, "tsmith")
            .unwrap();
        assert_eq!(by_mapping.actor()["profileId"], "10");
        assert!(
            snapshot
                .resolve_user(Platform::StarburstTrino, "tsmith")
                .is_none()
        );
        assert!(
            snapshot
                .resolve_user(Platform::StarburstTrino, "TAYLOR@example.com")
                .is_some()
        );
    }
}
