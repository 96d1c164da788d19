//! [`Path`]: the route's parameters deserialized with serde — one value, a tuple in
//! pattern order, or a struct (or map) by name — through a small deserializer over
//! [`Params`] that parses each value from its text (numbers, booleans, chars, unit enum
//! variants, anything built from a string).
//!
//! A value that does not parse is the client's fault: a 400 naming the parameter. A type
//! that does not fit the route (a single value on a route with two parameters, a tuple of
//! the wrong length, a struct field the route does not have) is the program's: a 500.

use std::fmt;

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{self, DeserializeOwned, DeserializeSeed, Visitor};

use super::FromRequestParts;
use crate::error::AppError;
use crate::params::Params;
use crate::request::Request;
use crate::status::StatusCode;

/// The route parameters deserialized into `T`.
///
/// * One value (`/users/:id` → `Path<u64>`): the route must have exactly one parameter.
/// * A tuple, in the order the pattern names them (`/orgs/:org/users/:id` →
///   `Path<(String, u64)>`); its length must be the number of parameters.
/// * A struct (or a map), by name: `#[derive(Deserialize)] struct Ids { org: String, id:
///   u64 }`; every field must be a parameter of the route (or optional).
///
/// Values are percent-decoded ([`Params`]). One that does not parse as its type is a 400
/// (`invalid_path_parameter`) naming the parameter; a type that does not fit the route is
/// a 500, a bug to fix in the handler.
///
/// # Examples
///
/// ```
/// use keel_http::{Path, Router};
/// use serde::Deserialize;
///
/// async fn user(Path(id): Path<u64>) -> String { format!("user {id}") }
///
/// async fn member(Path((org, id)): Path<(String, u64)>) -> String {
///     format!("member {id} of {org}")
/// }
///
/// #[derive(Deserialize)]
/// struct PostIds { id: u64, post: u32 }
///
/// async fn post(Path(ids): Path<PostIds>) -> String {
///     format!("post {} of user {}", ids.post, ids.id)
/// }
///
/// let router = Router::new()
///     .get("/users/:id", user)
///     .get("/orgs/:org/members/:id", member)
///     .get("/users/:id/posts/:post", post);
/// # let _ = router;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned> FromRequestParts for Path<T> {
    fn from_request_parts(req: &Request) -> Result<Self, AppError> {
        deserialize(req.params()).map(Path)
    }
}

/// `T` from `params`, or the error the client gets.
fn deserialize<T: DeserializeOwned>(params: &Params) -> Result<T, AppError> {
    T::deserialize(ParamsDeserializer { params }).map_err(|e| match e {
        PathError::Value {
            name,
            value,
            reason,
        } => AppError::new(
            StatusCode::BAD_REQUEST,
            "invalid_path_parameter",
            format!("path parameter {name} has an invalid value {value:?}: {reason}"),
        ),
        PathError::Shape(reason) => AppError::internal(format!(
            "Path<{}> does not fit the route's parameters {params:?}: {reason}",
            std::any::type_name::<T>()
        )),
    })
}

/// Why the parameters did not deserialize.
#[derive(Debug)]
enum PathError {
    /// A parameter's value does not parse as its type.
    Value {
        name: String,
        value: String,
        reason: String,
    },
    /// The type does not fit the route's parameters (or a value's type refused it, before
    /// [`PathError::for_param`] names the parameter).
    Shape(String),
}

impl PathError {
    /// Names the parameter an error from deserializing its value is about.
    fn for_param(self, name: &str, value: &str) -> PathError {
        match self {
            PathError::Shape(reason) => PathError::Value {
                name: name.to_owned(),
                value: value.to_owned(),
                reason,
            },
            named => named,
        }
    }
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathError::Value {
                name,
                value,
                reason,
            } => write!(f, "{name} = {value:?}: {reason}"),
            PathError::Shape(reason) => f.write_str(reason),
        }
    }
}

impl std::error::Error for PathError {}

impl de::Error for PathError {
    fn custom<M: fmt::Display>(msg: M) -> PathError {
        PathError::Shape(msg.to_string())
    }
}

/// Every parameter of a route.
struct ParamsDeserializer<'de> {
    params: &'de Params,
}

impl<'de> ParamsDeserializer<'de> {
    /// The only parameter, for a type that is one value.
    fn single(&self, kind: &str) -> Result<ValueDeserializer<'de>, PathError> {
        let mut all = self.params.iter();
        match (all.next(), all.next()) {
            (Some((name, value)), None) => Ok(ValueDeserializer { name, value }),
            _ => Err(PathError::Shape(format!(
                "{kind} takes exactly one route parameter and the route has {} (take a \
                 tuple or a struct)",
                self.params.len()
            ))),
        }
    }
}

/// Forwards each single-value method to the only parameter's value.
macro_rules! single_value {
    ($($method:ident),*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
                let value = self.single("a single value")?;
                let (name, raw) = (value.name, value.value);
                value.$method(visitor).map_err(|e| e.for_param(name, raw))
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for ParamsDeserializer<'de> {
    type Error = PathError;

    single_value!(
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_option,
        deserialize_unit,
        deserialize_identifier
    );

    /// One parameter: its value; several: a map by name.
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        if self.params.len() == 1 {
            let value = self.single("a value")?;
            let (name, raw) = (value.name, value.value);
            return value
                .deserialize_any(visitor)
                .map_err(|e| e.for_param(name, raw));
        }
        self.deserialize_map(visitor)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, PathError> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, PathError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        visitor.visit_seq(ParamsAccess::new(self.params))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, PathError> {
        if len != self.params.len() {
            return Err(PathError::Shape(format!(
                "a tuple of {len} takes {len} route parameters and the route has {}",
                self.params.len()
            )));
        }
        visitor.visit_seq(ParamsAccess::new(self.params))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, PathError> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        visitor.visit_map(ParamsAccess::new(self.params))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, PathError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, PathError> {
        let value = self.single("an enum")?;
        let (param, raw) = (value.name, value.value);
        value
            .deserialize_enum(name, variants, visitor)
            .map_err(|e| e.for_param(param, raw))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        visitor.visit_unit()
    }
}

/// The parameters one after the other: a sequence of values, or a map of names to values.
struct ParamsAccess<'de> {
    params: Box<dyn Iterator<Item = (&'de str, &'de str)> + 'de>,
    /// The parameter whose value the map hands out next.
    pending: Option<(&'de str, &'de str)>,
}

impl<'de> ParamsAccess<'de> {
    fn new(params: &'de Params) -> ParamsAccess<'de> {
        ParamsAccess {
            params: Box::new(params.iter()),
            pending: None,
        }
    }
}

impl<'de> de::SeqAccess<'de> for ParamsAccess<'de> {
    type Error = PathError;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, PathError> {
        match self.params.next() {
            Some((name, value)) => seed
                .deserialize(ValueDeserializer { name, value })
                .map(Some)
                .map_err(|e| e.for_param(name, value)),
            None => Ok(None),
        }
    }
}

impl<'de> de::MapAccess<'de> for ParamsAccess<'de> {
    type Error = PathError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, PathError> {
        match self.params.next() {
            Some((name, value)) => {
                self.pending = Some((name, value));
                seed.deserialize(BorrowedStrDeserializer::new(name))
                    .map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, PathError> {
        let Some((name, value)) = self.pending.take() else {
            return Err(PathError::Shape("a value asked before its name".to_owned()));
        };
        seed.deserialize(ValueDeserializer { name, value })
            .map_err(|e| e.for_param(name, value))
    }
}

/// One parameter's value, parsed from its text as the type asks.
struct ValueDeserializer<'de> {
    name: &'de str,
    value: &'de str,
}

impl ValueDeserializer<'_> {
    fn invalid(&self, reason: impl fmt::Display) -> PathError {
        PathError::Value {
            name: self.name.to_owned(),
            value: self.value.to_owned(),
            reason: reason.to_string(),
        }
    }
}

/// Parses the value with `FromStr` and hands it to the visitor.
macro_rules! parse_value {
    ($($method:ident => $visit:ident),*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
                match self.value.parse() {
                    Ok(parsed) => visitor.$visit(parsed),
                    Err(e) => Err(self.invalid(e)),
                }
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for ValueDeserializer<'de> {
    type Error = PathError;

    parse_value!(
        deserialize_bool => visit_bool,
        deserialize_i8 => visit_i8,
        deserialize_i16 => visit_i16,
        deserialize_i32 => visit_i32,
        deserialize_i64 => visit_i64,
        deserialize_i128 => visit_i128,
        deserialize_u8 => visit_u8,
        deserialize_u16 => visit_u16,
        deserialize_u32 => visit_u32,
        deserialize_u64 => visit_u64,
        deserialize_u128 => visit_u128,
        deserialize_f32 => visit_f32,
        deserialize_f64 => visit_f64,
        deserialize_char => visit_char
    );

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        visitor.visit_borrowed_str(self.value)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        visitor.visit_borrowed_str(self.value)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        visitor.visit_borrowed_str(self.value)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        visitor.visit_borrowed_str(self.value)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        visitor.visit_borrowed_bytes(self.value.as_bytes())
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        visitor.visit_borrowed_bytes(self.value.as_bytes())
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        visitor.visit_some(self)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, PathError> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, PathError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, PathError> {
        visitor.visit_enum(BorrowedStrDeserializer::new(self.value))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        visitor.visit_unit()
    }

    fn deserialize_seq<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, PathError> {
        Err(self.compound())
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        _visitor: V,
    ) -> Result<V::Value, PathError> {
        Err(self.compound())
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        _visitor: V,
    ) -> Result<V::Value, PathError> {
        Err(self.compound())
    }

    fn deserialize_map<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, PathError> {
        Err(self.compound())
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, PathError> {
        Err(self.compound())
    }
}

impl ValueDeserializer<'_> {
    /// A parameter is one value: a sequence or a map inside one is the type's mistake.
    fn compound(&self) -> PathError {
        PathError::Shape(format!(
            "route parameter {} is one value, not a sequence or a map",
            self.name
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde::Deserialize;

    use super::*;
    use crate::router::PathTree;

    /// The parameters `pattern` captures from `path`.
    fn params(pattern: &str, path: &str) -> Params {
        let mut tree = PathTree::new();
        tree.insert(pattern, ()).unwrap();
        tree.at(path).expect("the path matches").1
    }

    fn get<T: DeserializeOwned>(pattern: &str, path: &str) -> Result<T, AppError> {
        deserialize(&params(pattern, path))
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Ids {
        org: String,
        id: u64,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        Admin,
        Member,
    }

    #[test]
    fn one_value_tuples_structs_and_maps() {
        assert_eq!(get::<u64>("/u/:id", "/u/42").unwrap(), 42);
        assert_eq!(get::<String>("/u/:id", "/u/a%20b").unwrap(), "a b");
        assert_eq!(get::<Kind>("/k/:kind", "/k/admin").unwrap(), Kind::Admin);
        assert_eq!(get::<Option<i8>>("/n/:n", "/n/-3").unwrap(), Some(-3));
        assert!(get::<bool>("/b/:b", "/b/true").unwrap());
        assert_eq!(
            get::<(String, u64)>("/o/:org/u/:id", "/o/acme/u/7").unwrap(),
            ("acme".to_owned(), 7)
        );
        assert_eq!(
            get::<Ids>("/o/:org/u/:id", "/o/acme/u/7").unwrap(),
            Ids {
                org: "acme".into(),
                id: 7
            }
        );
        let map = get::<HashMap<String, String>>("/o/:org/*rest", "/o/x/a/b").unwrap();
        assert_eq!(map["org"], "x");
        assert_eq!(map["rest"], "a/b");
        assert_eq!(
            get::<Vec<u32>>("/:a/:b/:c", "/1/2/3").unwrap(),
            vec![1, 2, 3]
        );
    }

    #[test]
    fn a_value_that_does_not_parse_is_a_400_naming_the_parameter() {
        for err in [
            get::<u64>("/u/:id", "/u/x").unwrap_err(),
            get::<(String, u64)>("/o/:org/u/:id", "/o/a/u/-1").unwrap_err(),
            get::<Ids>("/o/:org/u/:id", "/o/a/u/1.5").unwrap_err(),
        ] {
            assert_eq!(err.status(), StatusCode::BAD_REQUEST);
            assert_eq!(err.code(), "invalid_path_parameter");
            assert!(
                err.message().contains("path parameter id"),
                "{}",
                err.message()
            );
        }
        let err = get::<Kind>("/k/:kind", "/k/owner").unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        assert!(
            err.message().contains("kind") && err.message().contains("owner"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn a_type_that_does_not_fit_the_route_is_a_500() {
        for err in [
            get::<u64>("/o/:org/u/:id", "/o/a/u/1").unwrap_err(),
            get::<u64>("/static", "/static").unwrap_err(),
            get::<(u64, u64, u64)>("/o/:org/u/:id", "/o/a/u/1").unwrap_err(),
            get::<Ids>("/o/:org", "/o/a").unwrap_err(),
        ] {
            assert_eq!(
                err.status(),
                StatusCode::INTERNAL_SERVER_ERROR,
                "{}",
                err.message()
            );
            assert!(err.message().contains("does not fit"), "{}", err.message());
        }
    }
}
