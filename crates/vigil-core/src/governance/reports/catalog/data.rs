//! Report kinds about projects and data sources.

use super::*;

pub(super) static DATA: &[ReportKind] = &[
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
];
