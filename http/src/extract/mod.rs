//! Extractors: the typed arguments of a handler. Each either yields its value or answers
//! with an [`AppError`] (400, 415, 422, …) before the handler runs.
//!
//! Two kinds, as in axum: those that read only the request's head implement
//! [`FromRequestParts`] and go in any position; those that consume the body (or take the
//! whole request) implement [`FromRequest`] and only the **last** argument may be one.
//! A body extractor anywhere else is a compile error, not a silently empty body:
//!
//! ```compile_fail,E0277
//! use keel_http::{Headers, Router};
//!
//! // `String` takes the body: it must come last.
//! async fn handler(body: String, headers: Headers) -> String {
//!     format!("{body} from {}", headers.get("user-agent").unwrap_or("?"))
//! }
//! let _ = Router::new().post("/", handler);
//! ```
//!
//! ```
//! use keel_http::{Headers, Router};
//!
//! async fn handler(headers: Headers, body: String) -> String {
//!     format!("{body} from {}", headers.get("user-agent").unwrap_or("?"))
//! }
//! let _ = Router::new().post("/", handler);
//! ```
//!
//! | extractor | from | error |
//! |---|---|---|
//! | [`Request`] | the whole request (body extractor: last) | — |
//! | [`Headers`] | every header, owned, case-insensitive lookup | — |
//! | [`Header<T>`] | one header parsed by [`FromHeader`] (`Option<Header<T>>` when optional) | 400 naming the header |
//! | [`State<S>`] | a clone of the router's state ([`Router::with_state`](crate::Router::with_state)) | — (checked at startup) |
//! | [`Json<T>`](crate::Json) | body (last), `application/json` | 415 wrong type, 400 with line and column |
//! | [`Form<T>`] | body (last), `application/x-www-form-urlencoded` (serde) | 415 wrong type, 400 |
//! | [`Valid<E>`] | `Valid<Json<T>>`, `Valid<Form<T>>` (last), `Valid<Query<T>>`: then the value's `garde` rules | 422 with field details |
//! | [`Query<T>`] | query string (serde) | 400 |
//! | [`Path<T>`] | the route parameters: one value, a tuple in order, or a struct by name (serde) | 400 naming the parameter |
//! | [`Params`] | all route parameters | — |
//! | [`RemoteAddr`] | peer address | — |
//! | [`ClientIp`] | client address, through [trusted proxies](crate::TrustedProxies) (Express's `req.ip`) | — |
//! | [`CookieJar`], [`SignedCookieJar`], [`PrivateCookieJar`] | the `Cookie` header (signed, encrypted jars keyed from `KEEL_COOKIE_KEY`) | — |
//! | `String` / `Vec<u8>` | body (last) | 400 when not UTF-8 |

mod cookie_key;
mod cookies;
mod form;
mod headers;
mod json;
mod path;
mod simple;
mod state;
mod validate;

use std::any::TypeId;

pub(crate) use self::cookie_key::COOKIE_KEY_VAR;
pub use self::cookie_key::{CookieKey, parse_cookie_key};
pub use self::cookies::{CookieJar, PrivateCookieJar, SignedCookieJar, secure_cookie};
pub use self::form::Form;
pub use self::headers::{FromHeader, Header, Headers};
pub use self::path::Path;
pub use self::simple::{ClientIp, Query, RemoteAddr};
pub use self::state::State;
pub use self::validate::Valid;

use crate::error::AppError;
use crate::params::Params;
use crate::request::Request;

/// Builds a handler argument from the request's head — method, target, headers, route
/// parameters, state, extensions — without touching the body. Such an extractor may go
/// in any position.
pub trait FromRequestParts: Sized {
    /// Extracts the value.
    ///
    /// # Errors
    ///
    /// The error the client gets instead of the handler running.
    fn from_request_parts(req: &Request) -> Result<Self, AppError>;

    /// The type (id and name) of the router state this extractor reads, if any, so the
    /// server can refuse to start when a route's state is missing. Only [`State`] has one.
    #[doc(hidden)]
    fn required_state() -> Option<(TypeId, &'static str)> {
        None
    }
}

/// Builds a handler's last argument, which may consume the body or take the whole
/// request. Every [`FromRequestParts`] extractor is one too (through the marker `M`,
/// which callers never name).
pub trait FromRequest<M = private::ViaRequest>: Sized {
    /// Extracts the value; may take parts of the request (the body, for instance).
    ///
    /// # Errors
    ///
    /// The error the client gets instead of the handler running.
    fn from_request(req: &mut Request) -> Result<Self, AppError>;

    /// As [`FromRequestParts::required_state`].
    #[doc(hidden)]
    fn required_state() -> Option<(TypeId, &'static str)> {
        None
    }
}

/// The markers that keep the two ways to be a [`FromRequest`] apart.
mod private {
    /// Through its own `FromRequest` impl (a body extractor).
    #[derive(Debug, Clone, Copy)]
    pub enum ViaRequest {}

    /// Through its `FromRequestParts` impl.
    #[derive(Debug, Clone, Copy)]
    pub enum ViaParts {}
}

impl<T: FromRequestParts> FromRequest<private::ViaParts> for T {
    fn from_request(req: &mut Request) -> Result<Self, AppError> {
        T::from_request_parts(req)
    }

    fn required_state() -> Option<(TypeId, &'static str)> {
        T::required_state()
    }
}

impl FromRequest for Request {
    fn from_request(req: &mut Request) -> Result<Self, AppError> {
        Ok(std::mem::take(req))
    }
}

impl FromRequestParts for Params {
    fn from_request_parts(req: &Request) -> Result<Self, AppError> {
        Ok(req.params().clone())
    }
}

impl FromRequest for Vec<u8> {
    fn from_request(req: &mut Request) -> Result<Self, AppError> {
        Ok(req.take_body())
    }
}

impl FromRequest for String {
    fn from_request(req: &mut Request) -> Result<Self, AppError> {
        String::from_utf8(req.take_body())
            .map_err(|e| AppError::bad_request(format!("body is not valid UTF-8: {e}")))
    }
}
