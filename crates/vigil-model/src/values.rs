//! Small value types shared by the model: identifiers, timestamps, schema versions.

use std::fmt;

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// An identifier that producers send either as a JSON string or as an integer (`"2034"` or `2034`).
/// It is kept as text either way.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(pub String);

impl Id {
    /// The identifier as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdVisitor;
        impl de::Visitor<'_> for IdVisitor {
            type Value = Id;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an identifier (a string or an integer)")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Id, E> {
                Ok(Id(text.to_owned()))
            }
            fn visit_string<E: de::Error>(self, text: String) -> Result<Id, E> {
                Ok(Id(text))
            }
            fn visit_i64<E: de::Error>(self, number: i64) -> Result<Id, E> {
                Ok(Id(number.to_string()))
            }
            fn visit_u64<E: de::Error>(self, number: u64) -> Result<Id, E> {
                Ok(Id(number.to_string()))
            }
        }
        deserializer.deserialize_any(IdVisitor)
    }
}

/// A point in time as sent, with its UTC offset (`2023-03-21T13:39:45.040598-04:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub DateTime<FixedOffset>);

impl Timestamp {
    /// The current time in UTC.
    pub fn now() -> Self {
        Timestamp(Utc::now().fixed_offset())
    }

    /// Parses an RFC 3339 timestamp.
    pub fn parse(text: &str) -> Result<Self, String> {
        DateTime::parse_from_rfc3339(text).map(Timestamp).map_err(|error| {
            format!("`{text}` is not an RFC 3339 timestamp such as 2023-06-27T11:03:59.000Z ({error})")
        })
    }

    /// Microseconds since the Unix epoch.
    pub fn unix_micros(&self) -> i64 {
        self.0.timestamp_micros()
    }

    /// Milliseconds since the Unix epoch.
    pub fn unix_millis(&self) -> i64 {
        self.0.timestamp_millis()
    }

    /// The RFC 3339 spelling in UTC with milliseconds, as vigil writes the timestamps it fills in.
    pub fn to_rfc3339_utc(&self) -> String {
        self.0
            .with_timezone(&Utc)
            .to_rfc3339_opts(SecondsFormat::Millis, true)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Timestamp::parse(&text).map_err(de::Error::custom)
    }
}

/// A payload or event schema version: the seed sends both `1` and `"1.0.0"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SchemaVersion {
    /// An integer version such as `1`.
    Number(i64),
    /// A textual version such as `"1.0.0"`.
    Text(String),
}

/// Deserializes a list that may be absent or `null` as an empty list.
pub(crate) fn nullable_vec<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_strings_and_integers() {
        let ids: Vec<Id> = serde_json::from_str(r#"["2034", 7]"#).unwrap();
        assert_eq!(ids, vec![Id("2034".into()), Id("7".into())]);
        assert!(serde_json::from_str::<Id>("true").is_err());
    }

    #[test]
    fn timestamps_keep_offsets_and_reject_garbage() {
        let ts = Timestamp::parse("2023-03-21T13:39:45.040598-04:00").unwrap();
        assert_eq!(ts.to_rfc3339_utc(), "2023-03-21T17:39:45.040Z");
        let error = Timestamp::parse("yesterday").unwrap_err();
        assert!(error.contains("RFC 3339"), "{error}");
    }
}
