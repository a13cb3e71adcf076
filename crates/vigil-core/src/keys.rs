//! API keys: stored as SHA-256 hashes with their permissions. Creating and deleting a key is
//! recorded as an `ApiKeyCreated` / `ApiKeyDeleted` event in the same transaction.

use std::fmt;

use rusqlite::OptionalExtension;
use serde_json::json;
use sha2::{Digest, Sha256};
use vigil_model::Timestamp;

use crate::error::LogError;
use crate::log::{EventLog, LogEntry, SideWrite};
use crate::own_events::OwnEvent;
use crate::store::{Row, StoreError, Value};

/// Shortest secret accepted for a key given by the operator (`VIGIL_BOOTSTRAP_API_KEY`).
pub const MIN_SECRET_CHARS: usize = 16;
/// Prefix of generated secrets, so a leaked one is recognisable.
const SECRET_PREFIX: &str = "vgl_";

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    /// Read audit data, including export configurations.
    Audit,
    /// Write events.
    Ingest,
    /// Manage keys and integrations (and, like EXPORT_ADMIN, export configurations).
    Admin,
    /// Create, change, delete, enable, disable, test and run export configurations: where the
    /// whole log is sent, so more than reading it.
    ExportAdmin,
}

impl Permission {
    /// Every permission.
    pub const ALL: [Permission; 4] = [
        Permission::Audit,
        Permission::Ingest,
        Permission::Admin,
        Permission::ExportAdmin,
    ];

    /// The name, as in `--permission AUDIT`.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Audit => "AUDIT",
            Permission::Ingest => "INGEST",
            Permission::Admin => "ADMIN",
            Permission::ExportAdmin => "EXPORT_ADMIN",
        }
    }

    /// Parses a name, case-insensitively.
    pub fn parse(text: &str) -> Option<Permission> {
        Permission::ALL
            .into_iter()
            .find(|permission| permission.as_str().eq_ignore_ascii_case(text))
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyInfo {
    /// Key id.
    pub id: String,
    /// Name, unique.
    pub name: String,
    /// Permissions.
    pub permissions: Vec<Permission>,
    /// When it was created (RFC 3339).
    pub created_at: String,
}

impl ApiKeyInfo {
    /// The actor of what this key does.
    pub fn actor(&self) -> KeyActor {
        KeyActor {
            actor_type: "API_KEY",
            id: self.id.clone(),
            name: self.name.clone(),
            identity_provider: None,
        }
    }

    /// Whether the key has `permission` (ADMIN does not imply the others).
    pub fn allows(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }
}

/// Who performs a key change, for the audit event.
#[derive(Debug, Clone)]
pub struct KeyActor {
    /// `USER_ACTOR` or `SYSTEM_ACCOUNT`.
    pub actor_type: &'static str,
    /// Actor id.
    pub id: String,
    /// Actor name.
    pub name: String,
    /// `identityProvider`: the issuer that vouched for a person signed in; `None` otherwise.
    pub identity_provider: Option<String>,
}

impl KeyActor {
    /// The `actor` of an event by this key.
    pub fn to_json(&self) -> serde_json::Value {
        let mut actor =
            serde_json::json!({ "type": self.actor_type, "id": self.id, "name": self.name });
        if let Some(provider) = &self.identity_provider {
            actor["identityProvider"] = serde_json::json!(provider);
        }
        actor
    }
}

/// Who makes a request: an API key, or a person signed in through OpenID Connect.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The key's id, or the person's id (their e-mail address, else their subject).
    pub id: String,
    /// The key's name, or the person's name: who their reads are recorded as.
    pub name: String,
    /// What the principal may do.
    pub permissions: Vec<Permission>,
    /// The session of a person signed in; `None` for a key.
    pub session: Option<crate::sessions::Session>,
}

impl Principal {
    /// The principal of an API key.
    pub fn key(info: ApiKeyInfo) -> Principal {
        Principal {
            id: info.id,
            name: info.name,
            permissions: info.permissions,
            session: None,
        }
    }

    /// The principal of a person's session.
    pub fn person(session: crate::sessions::Session) -> Principal {
        Principal {
            id: session.person.id.clone(),
            name: session.person.name.clone(),
            permissions: session.permissions.clone(),
            session: Some(session),
        }
    }

    /// Whether the principal has `permission` (ADMIN does not imply the others).
    pub fn allows(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }

    /// The actor of the changes this principal makes.
    pub fn actor(&self) -> KeyActor {
        match &self.session {
            Some(session) => session.person.actor(),
            None => KeyActor {
                actor_type: "API_KEY",
                id: self.id.clone(),
                name: self.name.clone(),
                identity_provider: None,
            },
        }
    }

    /// The actor of the reads (searches, reports) this principal makes: a key is named by its
    /// name, as its reads always were.
    pub fn reader(&self) -> serde_json::Value {
        match &self.session {
            Some(session) => session.person.actor().to_json(),
            None => serde_json::json!({ "type": "API_KEY", "id": self.name, "name": self.name }),
        }
    }

    /// The mark on the events this principal submits.
    pub fn submitter(&self) -> crate::log::Submitter {
        match &self.session {
            Some(session) => crate::log::Submitter::person(&session.person.id),
            None => crate::log::Submitter::api_key(&self.id),
        }
    }

    /// `sessionId` of the events this principal causes.
    pub fn session_id(&self) -> Option<&str> {
        self.session.as_ref().map(|session| session.id.as_str())
    }
}

/// Errors of key management.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Storage failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// A key with this name exists.
    #[error("an API key named `{0}` already exists")]
    NameTaken(String),
    /// No such key.
    #[error("no API key with id or name `{0}`")]
    NotFound(String),
    /// The request is invalid.
    #[error("{0}")]
    Invalid(String),
}

impl crate::Classify for KeyError {
    fn kind(&self) -> crate::ErrorKind {
        match self {
            KeyError::Log(error) => crate::Classify::kind(error),
            KeyError::NameTaken(_) => crate::ErrorKind::Conflict,
            KeyError::NotFound(_) => crate::ErrorKind::NotFound,
            KeyError::Invalid(_) => crate::ErrorKind::Invalid,
        }
    }
}

/// A newly created key: its secret is shown once and never stored.
pub struct CreatedKey {
    /// The key.
    pub info: ApiKeyInfo,
    /// The secret to send in `Authorization`.
    pub secret: String,
}

fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    format!("{SECRET_PREFIX}{}", hex::encode(bytes))
}

fn parse_permissions(text: &str) -> Vec<Permission> {
    text.split(',').filter_map(Permission::parse).collect()
}

fn info_from_row(row: &Row) -> Result<ApiKeyInfo, StoreError> {
    Ok(ApiKeyInfo {
        id: row.text(0)?.to_owned(),
        name: row.text(1)?.to_owned(),
        permissions: parse_permissions(row.text(2)?),
        created_at: row.text(3)?.to_owned(),
    })
}

/// Finds the key whose secret this is.
pub fn authenticate(log: &EventLog, secret: &str) -> Result<Option<ApiKeyInfo>, LogError> {
    let hash = hash_secret(secret);
    log.query(move |db| {
        db.query_optional(
            "SELECT id, name, permissions, created_at FROM api_keys WHERE secret_hash = ?1",
            &[Value::Blob(hash)],
        )?
        .as_ref()
        .map(info_from_row)
        .transpose()
    })
}

/// Every key, by name.
pub fn list_keys(log: &EventLog) -> Result<Vec<ApiKeyInfo>, LogError> {
    log.query(|db| {
        db.query(
            "SELECT id, name, permissions, created_at FROM api_keys ORDER BY name",
            &[],
        )?
        .iter()
        .map(info_from_row)
        .collect()
    })
}

/// Creates a key and records `ApiKeyCreated`. `secret` is the operator's own (bootstrap) or
/// `None` to generate one.
pub fn create_key(
    log: &EventLog,
    name: &str,
    permissions: &[Permission],
    secret: Option<String>,
    actor: &KeyActor,
) -> Result<CreatedKey, KeyError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(KeyError::Invalid("the key name must not be empty".into()));
    }
    if permissions.is_empty() {
        return Err(KeyError::Invalid(
            "a key needs at least one permission (AUDIT, INGEST, ADMIN, EXPORT_ADMIN)".into(),
        ));
    }
    if let Some(secret) = &secret
        && secret.chars().count() < MIN_SECRET_CHARS
    {
        return Err(KeyError::Invalid(format!(
            "an API key secret needs at least {MIN_SECRET_CHARS} characters"
        )));
    }
    let wanted = name.to_owned();
    let exists = log.query(move |db| {
        Ok(db
            .query_optional("SELECT 1 FROM api_keys WHERE name = ?1", &[wanted.into()])?
            .is_some())
    })?;
    if exists {
        return Err(KeyError::NameTaken(name.to_owned()));
    }
    let secret = secret.unwrap_or_else(generate_secret);
    let mut permissions = permissions.to_vec();
    permissions.sort();
    permissions.dedup();
    let now = Timestamp::now();
    let info = ApiKeyInfo {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.to_owned(),
        permissions,
        created_at: now.to_rfc3339_utc(),
    };
    let permission_names: Vec<&str> = info.permissions.iter().map(|p| p.as_str()).collect();
    let event = key_event(
        "CREATE",
        json!({
            "type": "ApiKeyCreatedAuditPayload",
            "apiKeyId": info.id,
            "name": info.name,
            "permissions": permission_names,
            "version": 1,
        }),
        &info,
        actor,
    );
    let row = (
        info.id.clone(),
        info.name.clone(),
        permission_names.join(","),
        info.created_at.clone(),
    );
    let hash = hash_secret(&secret);
    let side_write: SideWrite = Box::new(move |db| {
        db.execute(
            "INSERT INTO api_keys (id, name, secret_hash, permissions, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            &[
                row.0.into(),
                row.1.into(),
                Value::Blob(hash),
                row.2.into(),
                row.3.clone().into(),
            ],
        )?;
        db.execute(
            "INSERT INTO key_history (id, first_key_at) VALUES (1, ?1) ON CONFLICT (id) DO NOTHING",
            &[row.3.into()],
        )?;
        Ok(())
    });
    match log.append_blocking(vec![event], Some(side_write)) {
        Ok(_) => Ok(CreatedKey { info, secret }),
        Err(LogError::Append(message))
            if message.contains("UNIQUE") || message.contains("unique constraint") =>
        {
            Err(KeyError::NameTaken(name.to_owned()))
        }
        Err(error) => Err(error.into()),
    }
}

/// Deletes a key by id or name and records `ApiKeyDeleted`.
pub fn delete_key(
    log: &EventLog,
    id_or_name: &str,
    actor: &KeyActor,
) -> Result<ApiKeyInfo, KeyError> {
    let wanted = id_or_name.to_owned();
    let found = log.query(move |db| {
        db.query_optional(
            "SELECT id, name, permissions, created_at FROM api_keys WHERE id = ?1 OR name = ?1",
            &[wanted.into()],
        )?
        .as_ref()
        .map(info_from_row)
        .transpose()
    })?;
    let info = found.ok_or_else(|| KeyError::NotFound(id_or_name.to_owned()))?;
    let event = key_event(
        "DELETE",
        json!({ "type": "ApiKeyDeletedAuditPayload", "apiKeyId": info.id, "version": 1 }),
        &info,
        actor,
    );
    let key_id = info.id.clone();
    let side_write: SideWrite = Box::new(move |db| {
        match db.execute("DELETE FROM api_keys WHERE id = ?1", &[key_id.into()])? {
            1 => Ok(()),
            // Deleted concurrently: store no event either.
            _ => Err(StoreError::Refused("the key was deleted meanwhile".into())),
        }
    });
    match log.append_blocking(vec![event], Some(side_write)) {
        Ok(_) => Ok(info),
        Err(LogError::Append(_)) => Err(KeyError::NotFound(id_or_name.to_owned())),
        Err(error) => Err(error.into()),
    }
}

/// What [`bootstrap`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Bootstrap {
    /// The log has keys, or had some: nothing was created.
    NotNeeded,
    /// Every key of this log was deleted; a deleted key stays deleted, so none was created.
    AllKeysDeleted,
    /// The first key was created with the operator's secret.
    Created,
    /// The first key was created with this generated secret (to be printed once).
    Generated(String),
}

/// Creates the first admin key, only in a log that never had a key.
pub fn bootstrap(log: &EventLog, operator_secret: Option<String>) -> Result<Bootstrap, KeyError> {
    let (had_keys, keys_now) = log.query(|db| {
        let had = db
            .query_optional("SELECT 1 FROM key_history", &[])?
            .is_some();
        let now = db
            .query_optional("SELECT 1 FROM api_keys LIMIT 1", &[])?
            .is_some();
        Ok((had, now))
    })?;
    if keys_now {
        return Ok(Bootstrap::NotNeeded);
    }
    if had_keys || created_keys_before(log)? {
        return Ok(Bootstrap::AllKeysDeleted);
    }
    let generated = operator_secret.is_none();
    let actor = KeyActor {
        actor_type: "SYSTEM_ACCOUNT",
        id: "vigil".into(),
        name: "vigil bootstrap".into(),
        identity_provider: None,
    };
    let created = match create_key(log, "admin", &Permission::ALL, operator_secret, &actor) {
        // Another node of the cluster, starting at the same moment, created it.
        Err(KeyError::NameTaken(_)) if log.is_shared() => return Ok(Bootstrap::NotNeeded),
        other => other?,
    };
    Ok(if generated {
        Bootstrap::Generated(created.secret)
    } else {
        Bootstrap::Created
    })
}

/// Whether the log holds an `ApiKeyCreated` event of vigil's own, for logs written before
/// `key_history` existed; it records the answer there, so the log is read through at most once.
fn created_keys_before(log: &EventLog) -> Result<bool, LogError> {
    if log.is_shared() {
        // A shared log was created with `key_history`: nothing from before it to look for.
        return Ok(false);
    }
    let found: Option<String> = log.read(|connection| {
        connection
            .query_row(
                "SELECT received_time FROM events
                 WHERE body LIKE '%\"type\":\"ApiKeyCreatedAuditPayload\"%' LIMIT 1",
                [],
                |row| row.get::<_, i64>(0),
            )
            .optional()
            .map(|found| found.map(|micros| micros.to_string()))
    })?;
    let Some(at) = found else {
        return Ok(false);
    };
    let side_write: SideWrite = Box::new(move |db| {
        db.execute(
            "INSERT INTO key_history (id, first_key_at) VALUES (1, ?1) ON CONFLICT (id) DO NOTHING",
            &[at.into()],
        )?;
        Ok(())
    });
    log.append_blocking(Vec::new(), Some(side_write))?;
    Ok(true)
}

fn key_event(
    action: &'static str,
    payload: serde_json::Value,
    info: &ApiKeyInfo,
    actor: &KeyActor,
) -> LogEntry {
    OwnEvent {
        action,
        target_type: "APIKEY",
        actor: actor.to_json(),
        targets: json!([{ "type": "APIKEY", "id": info.id, "name": info.name }]),
        payload,
    }
    .into_entry()
}
