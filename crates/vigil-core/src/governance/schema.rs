//! The tables of the governance projection (`governance.db`): entities as the audit trail last
//! described them, relations with the time and the actor that made them, and the access facts of
//! query events.

/// Bumped whenever the tables or what is derived into them change: an older projection is rebuilt.
pub const SCHEMA_VERSION: i64 = 6;

/// Times are microseconds since the epoch (UTC); "by" columns hold the actor's display name.
pub const TABLES: &str = "
CREATE TABLE meta(name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;

CREATE TABLE users(
    key INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    name TEXT, email TEXT, idp TEXT, profile_id TEXT,
    created INTEGER, deleted INTEGER, disabled INTEGER NOT NULL DEFAULT 0, last_login INTEGER,
    -- 0 for a platform user only query events name: not registered, in no report.
    registered INTEGER NOT NULL DEFAULT 1);
CREATE INDEX users_profile ON users(profile_id);
-- Reports about every user list them by display name.
CREATE INDEX users_display ON users(coalesce(name, id), id);

CREATE TABLE groups(
    id TEXT PRIMARY KEY, name TEXT, idp TEXT, created INTEGER, deleted INTEGER) WITHOUT ROWID;
CREATE TABLE group_members(
    group_id TEXT NOT NULL, user_key INTEGER NOT NULL, joined INTEGER,
    PRIMARY KEY(group_id, user_key)) WITHOUT ROWID;
CREATE INDEX group_members_user ON group_members(user_key, group_id);

CREATE TABLE attributes(
    entity_type TEXT NOT NULL, entity_id TEXT NOT NULL, attribute TEXT NOT NULL, value TEXT NOT NULL,
    applied INTEGER, PRIMARY KEY(entity_type, entity_id, attribute, value)) WITHOUT ROWID;

CREATE TABLE connections(id TEXT PRIMARY KEY, name TEXT, connection_key TEXT) WITHOUT ROWID;
CREATE TABLE datasources(
    key INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    name TEXT, technology TEXT, connection_id TEXT, schema_name TEXT, table_name TEXT,
    created INTEGER, created_by TEXT, deleted INTEGER, disabled INTEGER NOT NULL DEFAULT 0,
    -- 0 for a table only query events name: not registered, in no report.
    registered INTEGER NOT NULL DEFAULT 1);
CREATE INDEX datasources_connection ON datasources(connection_id);
CREATE INDEX datasources_display ON datasources(coalesce(name, id), id);

CREATE TABLE tags(name TEXT PRIMARY KEY, id TEXT, source TEXT, created INTEGER, deleted INTEGER) WITHOUT ROWID;
-- The tags a data source (column_name '') and its columns carry now; derived from ds_tag_changes.
CREATE TABLE ds_tags(
    ds_key INTEGER NOT NULL, column_name TEXT NOT NULL, tag TEXT NOT NULL,
    tagged_by TEXT, tagged INTEGER, PRIMARY KEY(ds_key, column_name, tag)) WITHOUT ROWID;
CREATE INDEX ds_tags_tag ON ds_tags(tag, ds_key);
-- Every tag applied to or removed from a data source or column, in event time (see history.rs).
CREATE TABLE ds_tag_changes(
    ds_key INTEGER NOT NULL, tag TEXT NOT NULL, column_name TEXT NOT NULL, ts INTEGER NOT NULL,
    seq INTEGER NOT NULL, added INTEGER NOT NULL, by TEXT,
    PRIMARY KEY(ds_key, tag, column_name, ts, seq)) WITHOUT ROWID;
CREATE INDEX ds_tag_changes_tag ON ds_tag_changes(tag);
-- Whether a change is the latest of its data source and tag, in event time.
CREATE INDEX ds_tag_changes_time ON ds_tag_changes(ds_key, tag, ts, seq);
-- The stretches of time in which a data source carried a tag, on itself or any column (to_ts
-- NULL: it still does).
CREATE TABLE ds_tag_spans(
    tag TEXT NOT NULL, ds_key INTEGER NOT NULL, from_ts INTEGER NOT NULL, to_ts INTEGER,
    PRIMARY KEY(tag, ds_key, from_ts)) WITHOUT ROWID;

CREATE TABLE purposes(id TEXT PRIMARY KEY, name TEXT, created INTEGER, deleted INTEGER) WITHOUT ROWID;
CREATE TABLE projects(
    id TEXT PRIMARY KEY, name TEXT, project_key TEXT, created INTEGER, created_by TEXT,
    deleted INTEGER, disabled INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
CREATE TABLE project_datasources(
    project_id TEXT NOT NULL, ds_key INTEGER NOT NULL, added_by TEXT, added INTEGER,
    PRIMARY KEY(project_id, ds_key)) WITHOUT ROWID;
CREATE INDEX project_datasources_ds ON project_datasources(ds_key, project_id);
-- The purposes a project has now; derived from project_purpose_changes.
CREATE TABLE project_purposes(
    project_id TEXT NOT NULL, purpose_id TEXT NOT NULL, added_by TEXT, added INTEGER,
    PRIMARY KEY(project_id, purpose_id)) WITHOUT ROWID;
CREATE INDEX project_purposes_purpose ON project_purposes(purpose_id, project_id);
-- Every purpose a project gained or lost, in event time (see history.rs).
CREATE TABLE project_purpose_changes(
    project_id TEXT NOT NULL, purpose_id TEXT NOT NULL, ts INTEGER NOT NULL, seq INTEGER NOT NULL,
    added INTEGER NOT NULL, by TEXT, PRIMARY KEY(project_id, purpose_id, ts, seq)) WITHOUT ROWID;
-- The stretches of time in which a project had a purpose (to_ts NULL: it still has it).
CREATE TABLE project_purpose_spans(
    project_id TEXT NOT NULL, purpose_id TEXT NOT NULL, from_ts INTEGER NOT NULL, to_ts INTEGER,
    PRIMARY KEY(project_id, purpose_id, from_ts)) WITHOUT ROWID;
CREATE INDEX project_purpose_spans_purpose ON project_purpose_spans(purpose_id, project_id);

CREATE TABLE subscriptions(
    id TEXT PRIMARY KEY,
    model_type TEXT, model_id TEXT,
    subscriber_type TEXT, subscriber_id TEXT, subscriber_name TEXT,
    role TEXT, status TEXT, requested INTEGER, subscribed INTEGER, approved_by TEXT,
    unsubscribed INTEGER, unsubscribe_reason TEXT) WITHOUT ROWID;
CREATE INDEX subscriptions_model ON subscriptions(model_type, model_id);
CREATE INDEX subscriptions_subscriber ON subscriptions(subscriber_type, subscriber_id);

CREATE TABLE global_policies(
    id TEXT PRIMARY KEY, name TEXT, policy_key TEXT, definition TEXT, policy_types TEXT,
    circumstance TEXT, created INTEGER, created_by TEXT, deleted INTEGER) WITHOUT ROWID;
CREATE TABLE policy_datasources(
    policy_id TEXT NOT NULL, ds_key INTEGER NOT NULL,
    state TEXT NOT NULL, applied INTEGER, applied_by TEXT, conflict TEXT,
    disabled INTEGER, disabled_by TEXT, justification TEXT,
    certified INTEGER, certified_by TEXT,
    PRIMARY KEY(policy_id, ds_key)) WITHOUT ROWID;
CREATE INDEX policy_datasources_ds ON policy_datasources(ds_key);
CREATE TABLE local_policies(
    ds_key INTEGER NOT NULL, kind TEXT NOT NULL, definition TEXT, policy_types TEXT,
    created INTEGER, created_by TEXT, PRIMARY KEY(ds_key, kind)) WITHOUT ROWID;
-- Policy types and tags of global ('G') and local ('L') policies; a local policy's id is
-- 'ds_key/kind'.
CREATE TABLE policy_types(
    policy_type TEXT NOT NULL, scope TEXT NOT NULL, policy_id TEXT NOT NULL,
    PRIMARY KEY(policy_type, scope, policy_id)) WITHOUT ROWID;
CREATE INDEX policy_types_policy ON policy_types(scope, policy_id);
CREATE TABLE policy_tags(
    tag TEXT NOT NULL, policy_id TEXT NOT NULL, PRIMARY KEY(tag, policy_id)) WITHOUT ROWID;
CREATE INDEX policy_tags_policy ON policy_tags(policy_id);

CREATE TABLE sdd_classifiers(
    id TEXT PRIMARY KEY, name TEXT, display_name TEXT, deleted INTEGER) WITHOUT ROWID;
CREATE TABLE sdd_classifier_tags(
    tag TEXT NOT NULL, classifier_id TEXT NOT NULL, PRIMARY KEY(tag, classifier_id)) WITHOUT ROWID;

-- One row per (successful query event, registered data source it read); seq finds the query text
-- in the log.
-- kind: 1 the query read the data source, 2 wrote it, 3 both.
CREATE TABLE access(
    user_key INTEGER NOT NULL, ts INTEGER NOT NULL, seq INTEGER NOT NULL, ds_key INTEGER NOT NULL,
    project_id TEXT, kind INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY(user_key, ts, seq, ds_key)) WITHOUT ROWID;
CREATE INDEX access_ds ON access(ds_key, ts, user_key, seq);
CREATE INDEX access_project ON access(project_id, ts);
";

/// Views the reports share: current subscriptions, and each user's current subscriptions with
/// group subscriptions expanded to the group's members (a member holds a group's subscription
/// from the later of joining the group and the group subscribing), in two join orders (SQLite keeps no
/// statistics here, so the order is spelled out with CROSS JOIN): `user_subscriptions` starts
/// from the subscriptions (for reports about what is subscribed to), `subscriptions_of_users`
/// from the users and their groups (for reports about who subscribes).
pub const VIEWS: &str = "
-- Seed 000: \"Non-registered users' activity will not appear in reports\"; \"Activity to
-- non-registered tables will not appear in the reports.\" Reports see only registered users and
-- data sources (these views come before the tables of the same name); the unregistered stay in
-- the projection, so a registration that arrives later counts their earlier queries.
CREATE TEMP VIEW users AS SELECT * FROM main.users WHERE registered;
CREATE TEMP VIEW datasources AS SELECT * FROM main.datasources WHERE registered;
-- The purposes each access ran under: those its project had at the time of the query, whatever
-- order the query and the project's changes arrived in.
CREATE TEMP VIEW access_purposes AS
    SELECT s.purpose_id, a.ts, a.seq, a.ds_key, a.user_key, a.project_id
      FROM access a JOIN project_purpose_spans s ON s.project_id = a.project_id
       AND a.ts >= s.from_ts AND (s.to_ts IS NULL OR a.ts < s.to_ts);
CREATE TEMP VIEW current_subscriptions AS
    SELECT * FROM subscriptions WHERE status = 'APPROVED' AND unsubscribed IS NULL;
CREATE TEMP VIEW user_subscriptions AS
    SELECT u.key AS user_key, 'Individual User' AS subscription_type, s.id, s.model_type,
           s.model_id, s.role, s.subscribed, s.approved_by
      FROM current_subscriptions s CROSS JOIN users u ON u.id = s.subscriber_id
     WHERE s.subscriber_type = 'USER'
    UNION ALL
    SELECT gm.user_key, 'Group: ' || coalesce(g.name, g.id), s.id, s.model_type, s.model_id,
           s.role, CASE WHEN gm.joined > s.subscribed THEN gm.joined ELSE s.subscribed END,
           s.approved_by
      FROM current_subscriptions s CROSS JOIN groups g ON g.id = s.subscriber_id
      CROSS JOIN group_members gm ON gm.group_id = g.id
     WHERE s.subscriber_type = 'GROUP' AND g.deleted IS NULL;
CREATE TEMP VIEW subscriptions_of_users AS
    SELECT u.key AS user_key, 'Individual User' AS subscription_type, s.id, s.model_type,
           s.model_id, s.role, s.subscribed, s.approved_by
      FROM users u CROSS JOIN current_subscriptions s
        ON s.subscriber_type = 'USER' AND s.subscriber_id = u.id
    UNION ALL
    SELECT gm.user_key, 'Group: ' || coalesce(g.name, g.id), s.id, s.model_type, s.model_id,
           s.role, CASE WHEN gm.joined > s.subscribed THEN gm.joined ELSE s.subscribed END,
           s.approved_by
      FROM group_members gm CROSS JOIN groups g ON g.id = gm.group_id
      CROSS JOIN current_subscriptions s ON s.subscriber_type = 'GROUP' AND s.subscriber_id = g.id
     WHERE g.deleted IS NULL;
";
