//! JSON objects whose size is checked while they are read: a body of 10 MiB could otherwise
//! hold 800,000 keys, each allocated, then each checked and reported (seconds of CPU and
//! hundreds of MB per request). Past the limit, reading stops with a 422 naming the object.

use std::fmt;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

/// How a refusal for size starts (`extract::parse_json` answers it as `too_many`).
pub const TOO_MANY: &str = "too many ";

/// What a member's value may be.
pub trait MemberValues {
    /// A value as read (refused by its own `Deserialize`, so the error names its key).
    type Item: de::DeserializeOwned + Into<Value>;
    /// For the message: "at most N members".
    const WHAT: &'static str;
}

/// Any JSON value (email template variables may be lists and objects).
#[derive(Debug, Clone, Copy, Default)]
pub struct AnyValue;

impl MemberValues for AnyValue {
    type Item = Value;
    const WHAT: &'static str = "members";
}

/// A string, number, boolean or null (a certificate's declared fields: text, date, number,
/// base64 image). Lists and objects are refused while read, before any field is checked.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scalar;

impl MemberValues for Scalar {
    type Item = ScalarValue;
    const WHAT: &'static str = "fields";
}

/// A JSON string, number, boolean or null.
pub struct ScalarValue(Value);

impl From<ScalarValue> for Value {
    fn from(v: ScalarValue) -> Value {
        v.0
    }
}

impl<'de> Deserialize<'de> for ScalarValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Scalars;

        impl<'de> Visitor<'de> for Scalars {
            type Value = ScalarValue;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number, boolean or null")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<ScalarValue, E> {
                Ok(ScalarValue(v.into()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ScalarValue, E> {
                Ok(ScalarValue(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ScalarValue, E> {
                Ok(ScalarValue(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ScalarValue, E> {
                Ok(ScalarValue(v.into()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ScalarValue, E> {
                Ok(ScalarValue(v.into()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<ScalarValue, E> {
                Ok(ScalarValue(v.into()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<ScalarValue, E> {
                Ok(ScalarValue(Value::Null))
            }
            fn visit_none<E: de::Error>(self) -> Result<ScalarValue, E> {
                Ok(ScalarValue(Value::Null))
            }
        }

        deserializer.deserialize_any(Scalars)
    }
}

/// A JSON object with at most `MAX` members whose values `V` accepts.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct LimitedObject<const MAX: usize, V = AnyValue> {
    members: Map<String, Value>,
    #[serde(skip)]
    values: PhantomData<V>,
}

impl<const MAX: usize, V> Default for LimitedObject<MAX, V> {
    fn default() -> Self {
        Self {
            members: Map::new(),
            values: PhantomData,
        }
    }
}

impl<const MAX: usize, V> LimitedObject<MAX, V> {
    pub fn into_inner(self) -> Map<String, Value> {
        self.members
    }

    pub fn as_map(&self) -> &Map<String, Value> {
        &self.members
    }

    pub fn as_map_mut(&mut self) -> &mut Map<String, Value> {
        &mut self.members
    }
}

impl<const MAX: usize, V> From<Map<String, Value>> for LimitedObject<MAX, V> {
    fn from(members: Map<String, Value>) -> Self {
        Self {
            members,
            values: PhantomData,
        }
    }
}

impl<const MAX: usize, V> std::ops::Deref for LimitedObject<MAX, V> {
    type Target = Map<String, Value>;
    fn deref(&self) -> &Map<String, Value> {
        &self.members
    }
}

impl<'de, const MAX: usize, V: MemberValues> Deserialize<'de> for LimitedObject<MAX, V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Limited<const MAX: usize, V>(PhantomData<V>);

        impl<'de, const MAX: usize, V: MemberValues> Visitor<'de> for Limited<MAX, V> {
            type Value = LimitedObject<MAX, V>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "an object of at most {MAX} {}", V::WHAT)
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Map::new();
                while let Some(key) = map.next_key::<String>()? {
                    if members.len() == MAX {
                        return Err(de::Error::custom(format_args!(
                            "{TOO_MANY}{}: at most {MAX} are allowed",
                            V::WHAT
                        )));
                    }
                    let value: V::Item = map.next_value()?;
                    members.insert(key, value.into());
                }
                Ok(LimitedObject {
                    members,
                    values: PhantomData,
                })
            }
        }

        deserializer.deserialize_map(Limited::<MAX, V>(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_the_member_past_the_limit_while_reading() {
        let ok: LimitedObject<2> = serde_json::from_str(r#"{"a": 1, "b": [2]}"#).unwrap();
        assert_eq!(ok.len(), 2);
        let err = serde_json::from_str::<LimitedObject<2>>(r#"{"a": 1, "b": 2, "c": 3}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("too many members: at most 2"), "{err}");
    }

    #[test]
    fn scalar_members_refuse_lists_and_objects() {
        let ok: LimitedObject<5, Scalar> =
            serde_json::from_str(r#"{"a": "x", "b": 2, "c": true, "d": null}"#).unwrap();
        assert_eq!(ok.len(), 4);
        let err = serde_json::from_str::<LimitedObject<5, Scalar>>(r#"{"a": {"b": 1}}"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("expected a string, number, boolean or null"),
            "{err}"
        );
    }

    #[test]
    fn a_huge_object_stops_at_the_limit() {
        let mut body = String::from("{");
        for i in 0..200_000 {
            body.push_str(&format!("\"k{i}\":1,"));
        }
        body.push_str("\"end\":1}");
        let err = serde_json::from_str::<LimitedObject<50, Scalar>>(&body).unwrap_err();
        assert!(err.to_string().contains("too many fields: at most 50"));
        // Read up to key 51, not 200,000 (no timing assertion: the error position says it).
        assert!(err.column() < 1_000, "stopped at column {}", err.column());
    }
}
