//! String enums of the UAM and the legacy record: open ones keep unknown values, closed ones reject them.

/// Defines an open string enum: the seed's values are variants, anything else is kept in `Other`
/// so that a newer producer's value is never dropped.
macro_rules! open_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)+
            /// A value the seed does not list, kept as sent.
            Other(String),
        }

        impl $name {
            /// Every value the seed lists.
            pub const KNOWN: &'static [&'static str] = &[$($text),+];

            /// The wire spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)+
                    Self::Other(text) => text,
                }
            }

            /// Parses the wire spelling; unknown values become `Other`.
            pub fn parse(text: &str) -> Self {
                match text {
                    $($text => Self::$variant,)+
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                if text.is_empty() {
                    return Err(serde::de::Error::custom(concat!(stringify!($name), " must not be empty")));
                }
                Ok(Self::parse(&text))
            }
        }
    };
}

/// Defines a closed string enum: only the listed values are accepted, and the error lists them.
macro_rules! closed_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)+
        }

        impl $name {
            /// Every accepted value.
            pub const ALL: &'static [&'static str] = &[$($text),+];

            /// The wire spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }

            /// Parses the wire spelling.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Self::parse(&text).ok_or_else(|| {
                    serde::de::Error::custom(format_args!(
                        "unknown value `{}`, expected one of: {}",
                        text,
                        Self::ALL.join(", ")
                    ))
                })
            }
        }
    };
}

pub(crate) use closed_enum;

open_enum! {
    /// `action`: the base action performed on the target.
    Action {
        AttributeApply = "ATTRIBUTE_APPLY",
        AttributeRemove = "ATTRIBUTE_REMOVE",
        AuditQuery = "AUDIT_QUERY",
        Authenticate = "AUTHENTICATE",
        CatalogSync = "CATALOG_SYNC",
        Clone = "CLONE",
        ConfigurationUpdated = "CONFIGURATION_UPDATED",
        Create = "CREATE",
        DatasourceApply = "DATASOURCE_APPLY",
        DatasourceRemove = "DATASOURCE_REMOVE",
        DecertifyPolicy = "DECERTIFY_POLICY",
        Delete = "DELETE",
        Disable = "DISABLE",
        GlobalPolicyApprovalRescinded = "GLOBAL_POLICY_APPROVAL_RESCINDED",
        GlobalPolicyApproved = "GLOBAL_POLICY_APPROVED",
        GlobalPolicyChangeRequested = "GLOBAL_POLICY_CHANGE_REQUESTED",
        GlobalPolicyPromoted = "GLOBAL_POLICY_PROMOTED",
        GlobalPolicyReviewRequested = "GLOBAL_POLICY_REVIEW_REQUESTED",
        Logout = "LOGOUT",
        MemberAdd = "MEMBER_ADD",
        MemberRemove = "MEMBER_REMOVE",
        ModifyDomain = "MODIFY_DOMAIN",
        NewToken = "NEW_TOKEN",
        PasswordUpdate = "PASSWORD_UPDATE",
        PermissionApply = "PERMISSION_APPLY",
        PermissionRemove = "PERMISSION_REMOVE",
        PolicyApplied = "POLICY_APPLIED",
        PolicyCertify = "POLICY_CERTIFY",
        PolicyConflictResolved = "POLICY_CONFLICT_RESOLVED",
        PolicyDisabled = "POLICY_DISABLED",
        PolicyRemoved = "POLICY_REMOVED",
        PurposeAcknowledge = "PURPOSE_ACKNOWLEDGE",
        PurposeApprove = "PURPOSE_APPROVE",
        PurposeDeny = "PURPOSE_DENY",
        Query = "QUERY",
        QueryLineageResolved = "QUERY_LINEAGE_RESOLVED",
        RunReport = "RUN_REPORT",
        SubscriptionRequested = "SUBSCRIPTION_REQUESTED",
        SubscriptionRequestApprove = "SUBSCRIPTION_REQUEST_APPROVE",
        SubscriptionRequestDeny = "SUBSCRIPTION_REQUEST_DENY",
        TagApply = "TAG_APPLY",
        TagRemove = "TAG_REMOVE",
        Update = "UPDATE",
        Upsert = "UPSERT",
    }
}

open_enum! {
    /// `targetType`, `targets[].type` and `relatedResources[].type`: the kind of object.
    TargetType {
        ApiKey = "APIKEY",
        Attribute = "ATTRIBUTE",
        Audit = "AUDIT",
        Configuration = "CONFIGURATION",
        Connection = "CONNECTION",
        Datasource = "DATASOURCE",
        Domain = "DOMAIN",
        GlobalPolicy = "GLOBAL_POLICY",
        Group = "GROUP",
        License = "LICENSE",
        LocalPolicy = "LOCAL_POLICY",
        Permission = "PERMISSION",
        Project = "PROJECT",
        Purpose = "PURPOSE",
        Report = "REPORT",
        SddClassifier = "SDD_CLASSIFIER",
        Subscription = "SUBSCRIPTION",
        Tag = "TAG",
        User = "USER",
        Webhook = "WEBHOOK",
    }
}

open_enum! {
    /// `actionStatus`: whether the action was allowed and succeeded.
    ActionStatus {
        Success = "SUCCESS",
        Failure = "FAILURE",
        Unauthorized = "UNAUTHORIZED",
    }
}

open_enum! {
    /// `actor.type`.
    ActorType {
        UserActor = "USER_ACTOR",
        SystemAccount = "SYSTEM_ACCOUNT",
        Unknown = "UNKNOWN",
    }
}

open_enum! {
    /// `targets[].technology`: the data platform of a data source.
    Technology {
        Databricks = "DATABRICKS",
        Postgresql = "POSTGRESQL",
        Snowflake = "SNOWFLAKE",
        StarburstTrino = "STARBURST_TRINO",
        Trino = "TRINO",
    }
}

open_enum! {
    /// `auditPayload.authenticationMethod` of sign-in and sign-out events.
    AuthenticationMethod {
        OAuth = "OAuth",
        OpenId = "OpenId",
        Saml = "SAML",
        ApiKey = "apiKey",
        Password = "password",
    }
}

open_enum! {
    /// `auditPayload.logoutReason`.
    LogoutReason {
        Expiration = "EXPIRATION",
        IdpInitiated = "IDP_INITIATED",
    }
}

open_enum! {
    /// `securityProfile.sensitivity.score` of a query, an object or a column.
    SensitivityScore {
        Indeterminate = "INDETERMINATE",
        Nonsensitive = "NONSENSITIVE",
        Sensitive = "SENSITIVE",
        HighlySensitive = "HIGHLY_SENSITIVE",
    }
}

open_enum! {
    /// `technologyContext.service` of a Databricks query.
    DatabricksService {
        Plugin = "PLUGIN",
        Cluster = "CLUSTER",
        Warehouse = "WAREHOUSE",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_enums_keep_unknown_values() {
        let action: Action = serde_json::from_str("\"FUTURE_ACTION\"").unwrap();
        assert_eq!(action, Action::Other("FUTURE_ACTION".into()));
        assert_eq!(serde_json::to_string(&action).unwrap(), "\"FUTURE_ACTION\"");
        assert_eq!(Action::parse("QUERY"), Action::Query);
    }

    #[test]
    fn open_enums_reject_empty_strings() {
        let error = serde_json::from_str::<ActionStatus>("\"\"").unwrap_err();
        assert!(error.to_string().contains("must not be empty"), "{error}");
    }
}
