//! Extractors: the typed arguments of a handler. Each implements [`FromRequest`] and
//! either yields its value or answers with an [`AppError`] (400, 415, 422, …) before the
//! handler runs.
//!
//! | extractor | from | error |
//! |---|---|---|
//! | [`Request`] | the whole request (must be last) | — |
//! | [`Headers`] | every header, owned, case-insensitive lookup | — |
//! | [`Header<T>`] | one header parsed by [`FromHeader`] (`Option<Header<T>>` when optional) | 400 naming the header |
//! | [`State<S>`] | a clone of the router's state ([`Router::with_state`](crate::Router::with_state)) | — (checked at startup) |
//! | [`Json<T>`](crate::Json) | body, `application/json` | 415 wrong type, 400 with line and column |
//! | [`Valid<Json<T>>`] | JSON body, then its `garde` rules | 422 with field details |
//! | [`Query<T>`] | query string (serde) | 400 |
//! | [`Path<T>`] | the first route parameter (`FromStr`) | 400 |
//! | [`Params`] | all route parameters | — |
//! | [`RemoteAddr`] | peer address | — |
//! | [`ClientIp`] | client address, through [trusted proxies](crate::TrustedProxies) (Express's `req.ip`) | — |
//! | `String` / `Vec<u8>` | body | 400 when not UTF-8 |

mod headers;
mod json;
mod simple;
mod state;
mod validate;

use std::any::TypeId;

pub use self::headers::{FromHeader, Header, Headers};
pub use self::simple::{ClientIp, Path, Query, RemoteAddr};
pub use self::state::State;
pub use self::validate::Valid;

use crate::error::AppError;
use crate::params::Params;
use crate::request::Request;

/// Builds a handler argument from the request.
pub trait FromRequest: Sized {
    /// Extracts the value; may take parts of the request (the body, for instance).
    ///
    /// # Errors
    ///
    /// The error the client gets instead of the handler running.
    fn from_request(req: &mut Request) -> Result<Self, AppError>;

    /// The type (id and name) of the router state this extractor reads, if any, so the
    /// server can refuse to start when a route's state is missing. Only [`State`] has one.
    #[doc(hidden)]
    fn required_state() -> Option<(TypeId, &'static str)> {
        None
    }
}

impl FromRequest for Request {
    fn from_request(req: &mut Request) -> Result<Self, AppError> {
        Ok(std::mem::take(req))
    }
}

impl FromRequest for Params {
    fn from_request(req: &mut Request) -> Result<Self, AppError> {
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
