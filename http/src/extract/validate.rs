//! [`Valid`]: an extractor whose value is checked with [`garde`] rules before the
//! handler runs — the Zod step of a Node service. A failed rule is a 422 whose details
//! name every failing field.

use serde_json::{Map, Value};

use super::FromRequest;
use crate::error::AppError;
use crate::request::Request;
use crate::response::Json;

/// A value extracted by `E` and validated.
///
/// # Examples
///
/// ```
/// use keel_http::{Json, Valid};
/// use keel_http::garde;
///
/// #[derive(serde::Deserialize, garde::Validate)]
/// struct NewUser {
///     #[garde(length(min = 1, max = 64))]
///     name: String,
///     #[garde(email)]
///     email: String,
/// }
///
/// async fn create(Valid(Json(user)): Valid<Json<NewUser>>) -> String {
///     format!("welcome {}", user.name)
/// }
/// # let _ = keel_http::Router::new().post("/users", create);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Valid<E>(pub E);

impl<T> FromRequest for Valid<Json<T>>
where
    Json<T>: FromRequest,
    T: garde::Validate,
    T::Context: Default,
{
    fn from_request(req: &mut Request) -> Result<Self, AppError> {
        let Json(value) = Json::<T>::from_request(req)?;
        match value.validate() {
            Ok(()) => Ok(Valid(Json(value))),
            Err(report) => Err(validation_error(&report)),
        }
    }
}

/// `{ "field.path": ["message", …], … }` as a 422.
fn validation_error(report: &garde::Report) -> AppError {
    let mut fields = Map::new();
    for (path, error) in report.iter() {
        let key = match path.to_string() {
            p if p.is_empty() => "value".to_owned(),
            p => p,
        };
        let entry = fields
            .entry(key)
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = entry {
            list.push(Value::String(error.message().to_owned()));
        }
    }
    AppError::validation("request validation failed", Value::Object(fields))
}
