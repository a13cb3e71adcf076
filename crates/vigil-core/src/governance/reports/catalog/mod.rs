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

mod data;
mod people;
mod policies;
mod tags;

/// The 45 report kinds of the seed, in the order they are listed.
pub static CATALOG: std::sync::LazyLock<Vec<&'static ReportKind>> =
    std::sync::LazyLock::new(|| {
        [people::PEOPLE, data::DATA, policies::POLICIES, tags::TAGS]
            .into_iter()
            .flatten()
            .collect()
    });
