//! Report kinds about people: users and groups.

use super::*;

pub(super) static PEOPLE: &[ReportKind] = &[
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
];
