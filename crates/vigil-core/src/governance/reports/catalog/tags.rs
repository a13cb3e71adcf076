//! Report kinds about tags and sensitive data discovery.

use super::*;

pub(super) static TAGS: &[ReportKind] = &[
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
