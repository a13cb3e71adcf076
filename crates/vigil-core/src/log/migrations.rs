//! The schema of `vigil.db`: one migration per version, walked at open by one loop; a binary
//! older than the database refuses it.

use super::*;

/// The schema version this vigil writes.
pub(super) const SCHEMA_VERSION: i64 = 12;

/// The schema of `vigil.db`, one migration per version, oldest first: migration N (1-based) brings
/// a database from version N - 1 to N. Each runs in its own transaction with the version it sets;
/// a new one is appended, never edited.
pub(super) const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [
    // The event log, the API keys and the chain anchor.
    "CREATE TABLE IF NOT EXISTS events (
         seq INTEGER PRIMARY KEY,
         event_id TEXT NOT NULL UNIQUE,
         event_time INTEGER NOT NULL,
         received_time INTEGER NOT NULL,
         submitted_len INTEGER NOT NULL,
         body TEXT NOT NULL,
         chain_hash BLOB NOT NULL
     );
     CREATE TABLE IF NOT EXISTS api_keys (
         id TEXT PRIMARY KEY,
         name TEXT NOT NULL UNIQUE,
         secret_hash BLOB NOT NULL UNIQUE,
         permissions TEXT NOT NULL,
         created_at TEXT NOT NULL
     );
     CREATE TABLE IF NOT EXISTS chain_anchor (
         id INTEGER PRIMARY KEY CHECK (id = 1),
         first_seq INTEGER NOT NULL,
         previous_hash BLOB NOT NULL
     );",
    // Export configurations (secrets sealed) and each one's progress.
    "CREATE TABLE IF NOT EXISTS export_configs (
         id TEXT PRIMARY KEY,
         kind TEXT NOT NULL,
         interval TEXT NOT NULL,
         enabled INTEGER NOT NULL,
         settings TEXT NOT NULL,
         sealed_secret BLOB NOT NULL,
         connection_status TEXT NOT NULL,
         created_at TEXT NOT NULL,
         updated_at TEXT NOT NULL
     );
     CREATE TABLE IF NOT EXISTS export_state (
         config_id TEXT PRIMARY KEY,
         checkpoint_seq INTEGER NOT NULL,
         pending_plan TEXT,
         last_digest_key TEXT,
         last_digest_sha256 TEXT,
         last_exported_at TEXT,
         last_attempt_at TEXT,
         last_error TEXT,
         attempts INTEGER NOT NULL,
         exported_events INTEGER NOT NULL
     );",
    // The user and data source registry (a view derived from the log, with its checkpoint), and
    // the query-audit pull integrations with their watermarks and schedule.
    "CREATE TABLE IF NOT EXISTS registry_users (
         id TEXT PRIMARY KEY,
         body TEXT NOT NULL
     );
     CREATE TABLE IF NOT EXISTS registry_datasources (
         id TEXT PRIMARY KEY,
         body TEXT NOT NULL
     );
     CREATE TABLE IF NOT EXISTS registry_state (
         id INTEGER PRIMARY KEY CHECK (id = 1),
         applied_seq INTEGER NOT NULL
     );
     CREATE TABLE IF NOT EXISTS integrations (
         id TEXT PRIMARY KEY,
         kind TEXT NOT NULL,
         settings TEXT NOT NULL,
         sealed_secret BLOB NOT NULL,
         created_at TEXT NOT NULL,
         updated_at TEXT NOT NULL
     );
     CREATE TABLE IF NOT EXISTS integration_state (
         integration_id TEXT PRIMARY KEY,
         watermark_micros INTEGER,
         last_run_at TEXT,
         last_success_at TEXT,
         last_error TEXT,
         last_summary TEXT
     );
     CREATE TABLE IF NOT EXISTS integration_schedule (
         kind TEXT PRIMARY KEY,
         interval_minutes INTEGER NOT NULL
     );",
    // Whether this log ever had an API key: `VIGIL_BOOTSTRAP_API_KEY` creates the first key only
    // in a log that never had one, so deleting every key cannot be undone by a restart. A log
    // whose keys were all deleted before this table existed is recognised by its `ApiKeyCreated`
    // events when the server next bootstraps (`keys::bootstrap`).
    "CREATE TABLE IF NOT EXISTS key_history (
         id INTEGER PRIMARY KEY CHECK (id = 1),
         first_key_at TEXT NOT NULL
     );
     INSERT OR IGNORE INTO key_history (id, first_key_at)
         SELECT 1, min(created_at) FROM api_keys HAVING count(*) > 0;",
    // Who submitted each event (an API key, the CLI, an integration, or vigil itself), covered by
    // the chain; NULL for events stored before it was recorded.
    "ALTER TABLE events ADD COLUMN submitter TEXT;",
    // Compressed bodies: `codec` names how `body` is stored (0: plain JSON text; otherwise zstd
    // with that dictionary). Existing rows stay plain until the compactor rewrites them; the
    // partial index finds the plain ones without a scan.
    "ALTER TABLE events ADD COLUMN codec INTEGER NOT NULL DEFAULT 0;
     CREATE TABLE IF NOT EXISTS body_dictionaries (
         id INTEGER PRIMARY KEY,
         bytes BLOB NOT NULL,
         trained_on INTEGER NOT NULL,
         created_at TEXT NOT NULL
     );
     CREATE INDEX IF NOT EXISTS events_plain ON events (seq) WHERE codec = 0;",
    // What an export configuration writes: `NDJSON_GZIP` (what every earlier one writes) or
    // `PARQUET`.
    "ALTER TABLE export_configs ADD COLUMN format TEXT NOT NULL DEFAULT 'NDJSON_GZIP';",
    // Saved searches of the audit page, shared by every key with AUDIT.
    "CREATE TABLE IF NOT EXISTS saved_searches (
         id TEXT PRIMARY KEY,
         name TEXT NOT NULL UNIQUE,
         query TEXT NOT NULL,
         created_by TEXT NOT NULL,
         created_at TEXT NOT NULL
     );",
    // "Export now" asked through any node of a cluster reaches the node that runs the
    // configuration: the request is stored, and cleared when a run starts.
    "ALTER TABLE export_state ADD COLUMN run_requested_at TEXT;",
    // Forwarders to the SIEM (syslog, Splunk HEC, webhook) with their sealed secrets, and each
    // one's checkpoint.
    "CREATE TABLE IF NOT EXISTS forwarders (
         id TEXT PRIMARY KEY,
         settings TEXT NOT NULL,
         sealed_secret BLOB NOT NULL,
         created_at TEXT NOT NULL,
         updated_at TEXT NOT NULL
     );
     CREATE TABLE IF NOT EXISTS forward_state (
         forwarder_id TEXT PRIMARY KEY,
         checkpoint_seq INTEGER NOT NULL,
         forwarded_events INTEGER NOT NULL,
         last_forwarded_at TEXT,
         last_error TEXT,
         attempts INTEGER NOT NULL
     );",
    // Alerts (a saved search, a threshold, a window, the forwarders to notify) and how each one's
    // evaluations went.
    "CREATE TABLE IF NOT EXISTS alerts (
         id TEXT PRIMARY KEY,
         settings TEXT NOT NULL,
         created_at TEXT NOT NULL,
         updated_at TEXT NOT NULL
     );
     CREATE TABLE IF NOT EXISTS alert_state (
         alert_id TEXT PRIMARY KEY,
         last_checked_at TEXT,
         last_count INTEGER,
         last_fired_at TEXT,
         firings INTEGER NOT NULL,
         last_error TEXT
     );",
    // Sessions of people signed in through OpenID Connect: the hash of the cookie's secret, the
    // person, the permissions their claims gave and when the session ends.
    "CREATE TABLE IF NOT EXISTS sessions (
         secret_hash BLOB PRIMARY KEY,
         id TEXT NOT NULL UNIQUE,
         person TEXT NOT NULL,
         permissions TEXT NOT NULL,
         csrf_token TEXT NOT NULL,
         created_at INTEGER NOT NULL,
         expires_at INTEGER NOT NULL
     );",
];

pub(super) fn migrate(connection: &Connection) -> Result<(), LogError> {
    let version: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(LogError::SchemaTooNew {
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    for (done, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        connection.execute_batch(&format!(
            "BEGIN IMMEDIATE;\n{migration}\nPRAGMA user_version = {};\nCOMMIT;",
            done + 1
        ))?;
    }
    Ok(())
}
