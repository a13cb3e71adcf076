//! The schema of the shared PostgreSQL database, one migration per version (applied by
//! `postgres::migrate`; a new one is appended, never edited). It holds the state of record that
//! the embedded default keeps in `vigil.db`; derived views stay in each node's data directory.

/// The schema version this vigil writes.
pub(super) const SCHEMA_VERSION: i64 = 4;

/// Migration N (1-based) brings the database from version N - 1 to N.
pub(super) const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [
    // The log: events with their chain, the head every appender locks (one writer at a time across
    // every node, so sequence numbers stay gap-free and the chain single), the anchor left by
    // retention and the body dictionaries. Then the state of record beside it: API keys,
    // export configurations and their progress, pull integrations with their watermarks and
    // schedule, saved searches, and the registry of users and data sources (derived from the log
    // by every node alike, stored once, serialized with the appends). Leases say which node does
    // the work that must happen once; the cluster's keys (the export signing key, sealed with
    // the master key every node is given) are shared by every node.
    "CREATE TABLE events (
         seq BIGINT PRIMARY KEY,
         event_id TEXT NOT NULL UNIQUE,
         event_time BIGINT NOT NULL,
         received_time BIGINT NOT NULL,
         submitted_len BIGINT NOT NULL,
         body BYTEA NOT NULL,
         chain_hash BYTEA NOT NULL,
         submitter TEXT,
         codec BIGINT NOT NULL
     );
     -- Bodies are zstd frames already: compressing them again would only cost time.
     ALTER TABLE events ALTER COLUMN body SET STORAGE EXTERNAL;
     CREATE TABLE log_head (
         id INTEGER PRIMARY KEY CHECK (id = 1),
         seq BIGINT NOT NULL,
         chain_hash BYTEA NOT NULL
     );
     INSERT INTO log_head (id, seq, chain_hash) VALUES (1, 0, '\\x0000000000000000000000000000000000000000000000000000000000000000');
     CREATE TABLE chain_anchor (
         id INTEGER PRIMARY KEY CHECK (id = 1),
         first_seq BIGINT NOT NULL,
         previous_hash BYTEA NOT NULL
     );
     CREATE TABLE body_dictionaries (
         id BIGINT PRIMARY KEY,
         bytes BYTEA NOT NULL,
         trained_on BIGINT NOT NULL,
         created_at TEXT NOT NULL
     );
     CREATE TABLE api_keys (
         id TEXT PRIMARY KEY,
         name TEXT NOT NULL UNIQUE,
         secret_hash BYTEA NOT NULL UNIQUE,
         permissions TEXT NOT NULL,
         created_at TEXT NOT NULL
     );
     CREATE TABLE key_history (
         id INTEGER PRIMARY KEY CHECK (id = 1),
         first_key_at TEXT NOT NULL
     );
     CREATE TABLE export_configs (
         id TEXT PRIMARY KEY,
         kind TEXT NOT NULL,
         interval TEXT NOT NULL,
         enabled BIGINT NOT NULL,
         settings TEXT NOT NULL,
         sealed_secret BYTEA NOT NULL,
         connection_status TEXT NOT NULL,
         created_at TEXT NOT NULL,
         updated_at TEXT NOT NULL,
         format TEXT NOT NULL DEFAULT 'NDJSON_GZIP'
     );
     CREATE TABLE export_state (
         config_id TEXT PRIMARY KEY,
         checkpoint_seq BIGINT NOT NULL,
         pending_plan TEXT,
         last_digest_key TEXT,
         last_digest_sha256 TEXT,
         last_exported_at TEXT,
         last_attempt_at TEXT,
         last_error TEXT,
         attempts BIGINT NOT NULL,
         exported_events BIGINT NOT NULL,
         run_requested_at TEXT
     );
     CREATE TABLE integrations (
         id TEXT PRIMARY KEY,
         kind TEXT NOT NULL,
         settings TEXT NOT NULL,
         sealed_secret BYTEA NOT NULL,
         created_at TEXT NOT NULL,
         updated_at TEXT NOT NULL
     );
     CREATE TABLE integration_state (
         integration_id TEXT PRIMARY KEY,
         watermark_micros BIGINT,
         last_run_at TEXT,
         last_success_at TEXT,
         last_error TEXT,
         last_summary TEXT
     );
     CREATE TABLE integration_schedule (
         kind TEXT PRIMARY KEY,
         interval_minutes BIGINT NOT NULL
     );
     CREATE TABLE registry_users (
         id TEXT PRIMARY KEY,
         body TEXT NOT NULL
     );
     CREATE TABLE registry_datasources (
         id TEXT PRIMARY KEY,
         body TEXT NOT NULL
     );
     CREATE TABLE registry_state (
         id INTEGER PRIMARY KEY CHECK (id = 1),
         applied_seq BIGINT NOT NULL
     );
     CREATE TABLE leases (
         name TEXT PRIMARY KEY,
         holder TEXT NOT NULL,
         expires_at TIMESTAMPTZ NOT NULL
     );
     CREATE TABLE cluster_keys (
         name TEXT PRIMARY KEY,
         sealed BYTEA NOT NULL,
         public_key TEXT NOT NULL
     );
     CREATE TABLE saved_searches (
         id TEXT PRIMARY KEY,
         name TEXT NOT NULL UNIQUE,
         query TEXT NOT NULL,
         created_by TEXT NOT NULL,
         created_at TEXT NOT NULL
     );",
    // Forwarders to the SIEM with their sealed secrets, and each one's checkpoint.
    "CREATE TABLE forwarders (
         id TEXT PRIMARY KEY,
         settings TEXT NOT NULL,
         sealed_secret BYTEA NOT NULL,
         created_at TEXT NOT NULL,
         updated_at TEXT NOT NULL
     );
     CREATE TABLE forward_state (
         forwarder_id TEXT PRIMARY KEY,
         checkpoint_seq BIGINT NOT NULL,
         forwarded_events BIGINT NOT NULL,
         last_forwarded_at TEXT,
         last_error TEXT,
         attempts BIGINT NOT NULL
     );",
    // Alerts and how each one's evaluations went.
    "CREATE TABLE alerts (
         id TEXT PRIMARY KEY,
         settings TEXT NOT NULL,
         created_at TEXT NOT NULL,
         updated_at TEXT NOT NULL
     );
     CREATE TABLE alert_state (
         alert_id TEXT PRIMARY KEY,
         last_checked_at TEXT,
         last_count BIGINT,
         last_fired_at TEXT,
         firings BIGINT NOT NULL,
         last_error TEXT
     );",
    // Sessions of people signed in through OpenID Connect.
    "CREATE TABLE sessions (
         secret_hash BYTEA PRIMARY KEY,
         id TEXT NOT NULL UNIQUE,
         person TEXT NOT NULL,
         permissions TEXT NOT NULL,
         csrf_token TEXT NOT NULL,
         created_at BIGINT NOT NULL,
         expires_at BIGINT NOT NULL
     );",
];
