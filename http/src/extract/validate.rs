//! [`Valid`]: an extractor whose value is checked with [`garde`] rules before the
//! handler runs — the Zod step of a Node service. A failed rule is a 422 whose details
//! name every failing field.

use serde_json::{Map, Value};

use super::form::Form;
use super::simple::Query;
use super::{FromRequest, FromRequestParts};
use crate::error::AppError;
use crate::request::Request;
use crate::response::Json;

/// A value extracted by `E` and validated: `Valid<Json<T>>` and `Valid<Form<T>>` (body
/// extractors: the last argument) and `Valid<Query<T>>` (anywhere). A failed rule is a
/// 422 whose `details` name every failing field.
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
///
/// #[derive(serde::Deserialize, garde::Validate)]
/// struct Page {
///     #[garde(range(min = 1, max = 100))]
///     limit: u32,
/// }
///
/// async fn list(Valid(keel_http::Query(page)): Valid<keel_http::Query<Page>>) -> String {
///     format!("{} per page", page.limit)
/// }
/// # let _ = keel_http::Router::new().post("/users", create).get("/users", list);
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
        validate(value).map(|value| Valid(Json(value)))
    }
}

impl<T> FromRequest for Valid<Form<T>>
where
    Form<T>: FromRequest,
    T: garde::Validate,
    T::Context: Default,
{
    fn from_request(req: &mut Request) -> Result<Self, AppError> {
        let Form(value) = Form::<T>::from_request(req)?;
        validate(value).map(|value| Valid(Form(value)))
    }
}

impl<T> FromRequestParts for Valid<Query<T>>
where
    Query<T>: FromRequestParts,
    T: garde::Validate,
    T::Context: Default,
{
    fn from_request_parts(req: &Request) -> Result<Self, AppError> {
        let Query(value) = Query::<T>::from_request_parts(req)?;
        validate(value).map(|value| Valid(Query(value)))
    }
}

/// `value` when its rules pass, else the 422.
fn validate<T: garde::Validate>(value: T) -> Result<T, AppError>
where
    T::Context: Default,
{
    match value.validate() {
        Ok(()) => Ok(value),
        Err(report) => Err(validation_error(&report)),
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
