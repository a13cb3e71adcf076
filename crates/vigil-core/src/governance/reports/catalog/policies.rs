//! Report kinds about purposes, policy types, global policies and connections.

use super::*;

pub(super) static POLICIES: &[ReportKind] = &[
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
];
