//! Sessions of people signed in through OpenID Connect: kept in the store of record (so every node
//! of a cluster knows them) by the hash of the cookie's secret, with the person, the permissions
//! their claims gave and when the session ends. Every sign-in, refused sign-in and sign-out is
//! recorded as a `UserAuthenticated` / `UserLogout` event in the same transaction.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::error::LogError;
use crate::keys::{KeyActor, Permission};
use crate::log::{EventLog, SideWrite};
use crate::own_events::{Outcome, OwnEvent};
use crate::store::{Row, StoreError, Value};

/// `authenticationMethod` of a person signed in through OpenID Connect, as the specification
/// names it.
pub const AUTHENTICATION_METHOD: &str = "OpenId";

/// A person, as their identity provider vouched for them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    /// Their e-mail address when the provider gives one, else their subject.
    pub id: String,
    /// Their name, else their e-mail address, else their subject.
    pub name: String,
    /// `sub`: the provider's stable identifier of the person.
    pub subject: String,
    /// The issuer URL of the provider.
    pub identity_provider: String,
}

impl Person {
    /// The actor of what the person does.
    pub fn actor(&self) -> KeyActor {
        KeyActor {
            actor_type: "USER_ACTOR",
            id: self.id.clone(),
            name: self.name.clone(),
            identity_provider: Some(self.identity_provider.clone()),
        }
    }

    /// The person as a `USER` target.
    fn target(&self) -> serde_json::Value {
        json!({
            "type": "USER",
            "id": self.id,
            "name": self.name,
            "profileId": self.subject,
            "identityProvider": self.identity_provider,
        })
    }
}

/// A signed-in session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The session's id, recorded as `sessionId` on the events it causes (never its secret).
    pub id: String,
    /// Who signed in.
    pub person: Person,
    /// What their claims gave them.
    pub permissions: Vec<Permission>,
    /// The token a state-changing request must echo in `X-CSRF-Token`.
    pub csrf_token: String,
    /// When the session was made, in microseconds since the epoch.
    pub created_at: i64,
    /// When the session ends, in microseconds since the epoch.
    pub expires_at: i64,
}

/// A session just made: its secret goes into the cookie and is never stored.
pub struct NewSession {
    /// The cookie's value.
    pub secret: String,
    /// The session.
    pub session: Session,
}

/// Where a sign-in came from, for the event.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// The client's address.
    pub ip: Option<String>,
}

fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).expect("the operating system provides randomness");
    hex::encode(buffer)
}

fn permission_names(permissions: &[Permission]) -> Vec<&'static str> {
    permissions.iter().map(|p| p.as_str()).collect()
}

/// Makes a session for `person` with `permissions`, ending `lifetime` from now, and records the
/// sign-in.
pub fn sign_in(
    log: &EventLog,
    person: Person,
    permissions: Vec<Permission>,
    lifetime: std::time::Duration,
    origin: &Origin,
) -> Result<NewSession, LogError> {
    let now = chrono::Utc::now().timestamp_micros();
    let session = Session {
        id: random_hex(16),
        person,
        permissions,
        csrf_token: random_hex(32),
        created_at: now,
        expires_at: now.saturating_add(i64::try_from(lifetime.as_micros()).unwrap_or(i64::MAX)),
    };
    let secret = random_hex(32);
    let event = OwnEvent {
        action: "AUTHENTICATE",
        target_type: "USER",
        actor: session.person.actor().to_json(),
        targets: json!([session.person.target()]),
        payload: json!({
            "type": "UserAuthenticatedAuditPayload",
            "version": 1,
            "authenticationMethod": AUTHENTICATION_METHOD,
            "permissions": permission_names(&session.permissions),
        }),
    }
    .into_entry_with(&Outcome {
        session_id: Some(&session.id),
        actor_ip: origin.ip.as_deref(),
        ..Outcome::default()
    });
    let row = [
        Value::Blob(hash_secret(&secret)),
        session.id.clone().into(),
        serde_json::to_string(&session.person)
            .expect("a person serializes")
            .into(),
        permission_names(&session.permissions).join(",").into(),
        session.csrf_token.clone().into(),
        session.created_at.into(),
        session.expires_at.into(),
    ];
    let side_write: SideWrite = Box::new(move |db| {
        db.execute(
            "INSERT INTO sessions (secret_hash, id, person, permissions, csrf_token, created_at, \
             expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            &row,
        )?;
        Ok(())
    });
    log.append_blocking(vec![event], Some(side_write))?;
    Ok(NewSession { secret, session })
}

/// Records a refused sign-in: `person` when the provider vouched for them but their claims give
/// no permission, `None` when it did not vouch (a failed exchange, a bad token).
pub fn refuse_sign_in(
    log: &EventLog,
    person: Option<&Person>,
    reason: &str,
    origin: &Origin,
) -> Result<(), LogError> {
    let (actor, targets) = match person {
        Some(person) => (person.actor().to_json(), json!([person.target()])),
        None => (crate::registry::unknown_actor(), json!([])),
    };
    let event = OwnEvent {
        action: "AUTHENTICATE",
        target_type: "USER",
        actor,
        targets,
        payload: json!({
            "type": "UserAuthenticatedAuditPayload",
            "version": 1,
            "authenticationMethod": AUTHENTICATION_METHOD,
        }),
    }
    .into_entry_with(&Outcome {
        status: "UNAUTHORIZED",
        reason: Some(reason),
        actor_ip: origin.ip.as_deref(),
        ..Outcome::default()
    });
    log.append_blocking(vec![event], None)?;
    Ok(())
}

fn session_from_row(row: &Row) -> Result<Session, StoreError> {
    let person = serde_json::from_str(row.text(1)?)
        .map_err(|error| StoreError::Refused(format!("a stored session is unreadable: {error}")))?;
    Ok(Session {
        id: row.string(0)?,
        person,
        permissions: row
            .text(2)?
            .split(',')
            .filter_map(Permission::parse)
            .collect(),
        csrf_token: row.string(3)?,
        created_at: row.integer(4)?,
        expires_at: row.integer(5)?,
    })
}

const SELECT: &str =
    "SELECT id, person, permissions, csrf_token, created_at, expires_at FROM sessions";

/// The live session whose cookie holds `secret`. A session found past its end is ended (recorded
/// as a sign-out by `EXPIRATION`) and not returned.
pub fn find(log: &EventLog, secret: &str, now_micros: i64) -> Result<Option<Session>, LogError> {
    let hash = hash_secret(secret);
    let found = log.query(move |db| {
        db.query_optional(
            &format!("{SELECT} WHERE secret_hash = ?1"),
            &[Value::Blob(hash)],
        )?
        .as_ref()
        .map(session_from_row)
        .transpose()
    })?;
    match found {
        Some(session) if session.expires_at <= now_micros => {
            end(log, &session, "EXPIRATION")?;
            Ok(None)
        }
        other => Ok(other),
    }
}

/// Ends the session whose cookie holds `secret` (the person signed out) and records it; `None`
/// when there is no such session.
pub fn sign_out(log: &EventLog, secret: &str) -> Result<Option<Session>, LogError> {
    let now = chrono::Utc::now().timestamp_micros();
    let Some(session) = find(log, secret, now)? else {
        return Ok(None);
    };
    Ok(end(log, &session, "USER_LOGOUT_TRIGGERED")?.then_some(session))
}

/// Ends every session past its end, recording each; returns how many ended.
pub fn end_expired(log: &EventLog, now_micros: i64) -> Result<usize, LogError> {
    let expired = log.query(move |db| {
        db.query(
            &format!("{SELECT} WHERE expires_at <= ?1 ORDER BY expires_at"),
            &[now_micros.into()],
        )?
        .iter()
        .map(session_from_row)
        .collect::<Result<Vec<_>, _>>()
    })?;
    let mut ended = 0;
    for session in &expired {
        ended += usize::from(end(log, session, "EXPIRATION")?);
    }
    Ok(ended)
}

/// Deletes the session and records the sign-out in one transaction; `false` when another request
/// (or node) ended it first, so the sign-out is recorded exactly once.
fn end(log: &EventLog, session: &Session, reason: &str) -> Result<bool, LogError> {
    let event = OwnEvent {
        action: "LOGOUT",
        target_type: "USER",
        actor: session.person.actor().to_json(),
        targets: json!([session.person.target()]),
        payload: json!({
            "type": "UserLogoutAuditPayload",
            "version": 1,
            "logoutReason": reason,
            "authenticationMethod": AUTHENTICATION_METHOD,
        }),
    }
    .into_entry_with(&Outcome {
        session_id: Some(&session.id),
        ..Outcome::default()
    });
    let id = session.id.clone();
    let side_write: SideWrite = Box::new(move |db| {
        match db.execute("DELETE FROM sessions WHERE id = ?1", &[id.into()])? {
            1 => Ok(()),
            _ => Err(StoreError::Refused("the session ended meanwhile".into())),
        }
    });
    match log.append_blocking(vec![event], Some(side_write)) {
        Ok(_) => Ok(true),
        Err(LogError::Append(_)) => Ok(false),
        Err(error) => Err(error),
    }
}
