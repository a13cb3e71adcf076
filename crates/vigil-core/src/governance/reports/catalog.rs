//! The catalog of the 45 report kinds: columns, date ranges, the columns the trail cannot supply, and each kind's SQL or builder.

use super::*;

pub(super) const VISIBILITY: (&str, &str) = (
    "Public or private",
    "project events carry no public/private flag",
);
pub(super) const EXPIRES: (&str, &str) =
    ("Expires", "subscription events carry no expiration date");
pub(super) const REASON: (&str, &str) = (
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
        "(SELECT group_concat(coalesce(g.name, g.id), '; ' ORDER BY coalesce(g.name, g.id) COLLATE NATSORT)
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
                   FROM users u WHERE u.deleted IS NULL ORDER BY coalesce(u.name, u.id) COLLATE NATSORT, u.id"
            ),
            inner: "SELECT coalesce(ds.name, ds.id), us.role, us.subscription_type, iso(us.subscribed),
                           us.approved_by, NULL
                      FROM subscriptions_of_users us JOIN datasources ds ON ds.id = us.model_id
                     WHERE us.user_key = :outer AND us.model_type = 'DATASOURCE' AND ds.deleted IS NULL
                     ORDER BY coalesce(ds.name, ds.id) COLLATE NATSORT, ds.id, us.subscription_type",
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
               FROM users u WHERE u.deleted IS NULL ORDER BY coalesce(u.name, u.id) COLLATE NATSORT, u.id",
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
              WHERE gm.user_key = :key AND g.deleted IS NULL ORDER BY coalesce(g.name, g.id) COLLATE NATSORT, g.id",
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
              ORDER BY coalesce(ds.name, ds.id) COLLATE NATSORT, ds.id, us.subscription_type",
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
              ORDER BY coalesce(p.name, p.id) COLLATE NATSORT, p.id, us.subscription_type",
        ),
        post: None,
    },
    ReportKind {
        entity: EntityType::User,
        scope: Scope::One,
        key: "data-sources-accessed",
        title: "All data sources ever accessed by the user: first access (read date) and last access in the date range.",
        columns: &["Data source", "First access", "Last access", "Queries", "Access"],
        date_range: true,
        last_month_by_default: true,
        gaps: &[],
        source: Source::Sql(
            "SELECT coalesce(ds.name, ds.id), iso(min(a.ts)), iso(max(a.ts)), count(*), access_kind((sum(a.kind & 1) > 0) + 2 * (sum(a.kind & 2) > 0))
               FROM access a JOIN datasources ds ON ds.key = a.ds_key
              WHERE a.user_key = :key AND a.ts BETWEEN :from AND :to
              GROUP BY a.ds_key ORDER BY coalesce(ds.name, ds.id) COLLATE NATSORT, ds.id",
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
              GROUP BY ap.purpose_id, ap.project_id, ap.ds_key ORDER BY 1 COLLATE NATSORT, 2 COLLATE NATSORT, 3 COLLATE NATSORT",
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
              ORDER BY coalesce(g.name, g.id) COLLATE NATSORT, g.id, coalesce(ds.name, ds.id) COLLATE NATSORT, ds.id",
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
              WHERE gm.group_id = :id AND u.deleted IS NULL ORDER BY coalesce(u.name, u.id) COLLATE NATSORT, u.id",
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
              ORDER BY coalesce(ds.name, ds.id) COLLATE NATSORT, ds.id",
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
              ORDER BY coalesce(p.name, p.id) COLLATE NATSORT, p.id",
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
              ORDER BY coalesce(u.name, u.id) COLLATE NATSORT, u.id, us.subscription_type",
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
              WHERE pd.project_id = :id AND ds.deleted IS NULL ORDER BY coalesce(ds.name, ds.id) COLLATE NATSORT, ds.id",
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
              WHERE pp.project_id = :id AND pu.deleted IS NULL ORDER BY 1 COLLATE NATSORT",
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
                     ORDER BY coalesce(name, id) COLLATE NATSORT, id",
            inner: concat!(
                "SELECT coalesce(u.name, u.id), u.id, u.email, us.subscription_type,
                        us.role, iso(us.subscribed), us.approved_by, NULL, ", user_attributes!(), "
                   FROM user_subscriptions us JOIN users u ON u.key = us.user_key
                  WHERE us.model_id = :outer AND us.model_type = 'DATASOURCE' AND u.deleted IS NULL
                  ORDER BY coalesce(u.name, u.id) COLLATE NATSORT, u.id, us.subscription_type"
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
              ORDER BY coalesce(u.name, u.id) COLLATE NATSORT, u.id, us.subscription_type",
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
              WHERE pd.ds_key = :key AND p.deleted IS NULL ORDER BY coalesce(p.name, p.id) COLLATE NATSORT, p.id",
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
              ORDER BY 1 COLLATE NATSORT, 4 COLLATE NATSORT",
        ),
        post: None,
    },
    ReportKind {
        entity: EntityType::Datasource,
        scope: Scope::One,
        key: "users-accessed",
        title: "All users who have accessed the data source: username, email, latest query and date of last access, in the date range.",
        columns: &["User", "Username", "Email", "Latest query", "Last access", "Queries", "Access"],
        date_range: true,
        last_month_by_default: true,
        gaps: &[],
        // SQLite's bare columns come from the row holding max(ts): the latest query's seq (so
        // max() is the only min/max aggregate here; the access kinds are summed).
        source: Source::Sql(
            "SELECT coalesce(u.name, u.id), u.id, u.email, a.seq, iso(max(a.ts)), count(*), access_kind((sum(a.kind & 1) > 0) + 2 * (sum(a.kind & 2) > 0))
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
              ORDER BY 1 COLLATE NATSORT, 2 COLLATE NATSORT, 3 COLLATE NATSORT, 4 COLLATE NATSORT",
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
              ORDER BY coalesce(u.name, u.id) COLLATE NATSORT, u.id, coalesce(p.name, p.id) COLLATE NATSORT, us.subscription_type",
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
              ORDER BY coalesce(ds.name, ds.id) COLLATE NATSORT, ds.id, coalesce(p.name, p.id) COLLATE NATSORT"
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
              ORDER BY 1 COLLATE NATSORT, 2 COLLATE NATSORT",
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
              WHERE pp.purpose_id = :id AND p.deleted IS NULL ORDER BY coalesce(p.name, p.id) COLLATE NATSORT, p.id"
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
              GROUP BY ap.ds_key, ap.user_key, ap.project_id ORDER BY 1 COLLATE NATSORT, 2 COLLATE NATSORT, 3 COLLATE NATSORT, 4 COLLATE NATSORT"
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
              ORDER BY 1 COLLATE NATSORT, 4 COLLATE NATSORT",
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
              ORDER BY coalesce(gp.name, gp.id) COLLATE NATSORT, gp.id, coalesce(ds.name, ds.id) COLLATE NATSORT",
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
              ORDER BY coalesce(gp.name, gp.id) COLLATE NATSORT, gp.id, coalesce(ds.name, ds.id) COLLATE NATSORT",
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
              WHERE pd.policy_id = :id AND ds.deleted IS NULL ORDER BY coalesce(ds.name, ds.id) COLLATE NATSORT, ds.id",
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
                    (SELECT group_concat(coalesce(u.name, u.id), '; ' ORDER BY coalesce(u.name, u.id) COLLATE NATSORT)
                       FROM user_subscriptions us JOIN users u ON u.key = us.user_key
                      WHERE us.model_type = 'DATASOURCE' AND us.model_id = ds.id AND us.role = 'OWNER')
               FROM policy_datasources pd JOIN datasources ds ON ds.key = pd.ds_key
              WHERE pd.policy_id = :id AND pd.state = 'APPLIED' AND pd.certified IS NULL AND ds.deleted IS NULL
              ORDER BY coalesce(ds.name, ds.id) COLLATE NATSORT, ds.id",
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
              ORDER BY coalesce(ds.name, ds.id) COLLATE NATSORT, ds.id",
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
              ORDER BY coalesce(ds.name, ds.id) COLLATE NATSORT, ds.id",
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
              WHERE t.tag = :id AND ds.deleted IS NULL ORDER BY coalesce(ds.name, ds.id) COLLATE NATSORT, ds.id, t.column_name",
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
              GROUP BY ap.purpose_id, ap.ds_key ORDER BY 1 COLLATE NATSORT, 2 COLLATE NATSORT",
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
              GROUP BY a.user_key, a.ds_key ORDER BY 1 COLLATE NATSORT, 2 COLLATE NATSORT, 4 COLLATE NATSORT",
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
              WHERE p.deleted IS NULL AND ds.deleted IS NULL ORDER BY 1 COLLATE NATSORT, 4 COLLATE NATSORT",
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
              WHERE ds.deleted IS NULL ORDER BY coalesce(ds.name, ds.id) COLLATE NATSORT, ds.id, t.tag, t.column_name",
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
              WHERE p.deleted IS NULL AND ds.deleted IS NULL ORDER BY 1 COLLATE NATSORT, 2 COLLATE NATSORT, 3 COLLATE NATSORT",
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
                    (SELECT group_concat(coalesce(gp.name, gp.id), '; ' ORDER BY coalesce(gp.name, gp.id) COLLATE NATSORT)
                       FROM policy_tags pt JOIN global_policies gp ON gp.id = pt.policy_id
                      WHERE pt.tag = t.tag AND gp.deleted IS NULL)
               FROM ds_tags t JOIN datasources ds ON ds.key = t.ds_key
              WHERE t.column_name <> '' AND (t.tag = 'Discovered' OR t.tag LIKE 'Discovered.%') AND ds.deleted IS NULL
              ORDER BY coalesce(ds.name, ds.id) COLLATE NATSORT, ds.id, t.column_name, t.tag",
        ),
        post: None,
    },
];
