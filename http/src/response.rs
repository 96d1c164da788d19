//! [`Response`] and [`IntoResponse`]: what handlers return, and everything that converts
//! into it (strings, bytes, JSON, `(status, body)`, `Result`s, errors).

use serde::Serialize;

use crate::body::Body;
use crate::error::AppError;
use crate::header::{HeaderName, HeaderValue};
use crate::status::StatusCode;
use crate::upgrade::OnUpgrade;

/// An HTTP response: status, headers and body. `Content-Length` (or chunked framing),
/// `Date` and `Connection` are added by the server; do not set them.
///
/// # Examples
///
/// ```
/// use keel_http::{Response, StatusCode};
///
/// let res = Response::text("created")
///     .with_status(StatusCode::CREATED)
///     .with_header("location", "/users/7");
/// assert_eq!(res.status(), StatusCode::CREATED);
/// assert_eq!(res.header("Location"), Some("/users/7"));
/// ```
#[derive(Debug)]
pub struct Response {
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Body,
    /// Set when the response stands for an error the server renders centrally.
    error: Option<AppError>,
    /// A [`SecurityHeaders`](crate::middleware::SecurityHeaders) middleware chose this
    /// response's security headers: the server adds none of its own.
    own_security_headers: bool,
    /// A `101 Switching Protocols`' continuation (a WebSocket's), run by the connection
    /// after the `101` is written. Boxed twice: one pointer in every response.
    upgrade: Option<Box<OnUpgrade>>,
}

impl Default for Response {
    fn default() -> Response {
        Response::new(StatusCode::OK)
    }
}

impl Response {
    /// An empty response with `status`.
    pub fn new(status: StatusCode) -> Response {
        Response {
            status,
            // A list a previous response was encoded from, when one is on the shelf.
            headers: crate::recycle::headers(),
            body: Body::Empty,
            error: None,
            own_security_headers: false,
            upgrade: None,
        }
    }

    /// A response standing for `error`; the server renders its body (see
    /// [`AppError`]).
    pub fn from_error(error: AppError) -> Response {
        let mut res = Response::new(error.status());
        res.error = Some(error);
        res
    }

    /// The error this response stands for, if any.
    pub fn error(&self) -> Option<&AppError> {
        self.error.as_ref()
    }

    /// `200`, `text/plain; charset=utf-8`.
    pub fn text(body: impl Into<Body>) -> Response {
        let mut res = Response::new(StatusCode::OK);
        res.headers
            .push(("content-type".into(), "text/plain; charset=utf-8".into()));
        res.body = body.into();
        res
    }

    /// `200`, `application/json`, the value serialized.
    ///
    /// A value that cannot be serialized (a map with non-string keys, a failing custom
    /// `Serialize`) becomes a 500 [`AppError`].
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Response {
        match serde_json::to_vec(value) {
            Ok(bytes) => Response::new(StatusCode::OK)
                .with_header("content-type", "application/json")
                .with_body(bytes),
            Err(e) => {
                AppError::internal(format!("response serialization failed: {e}")).into_response()
            }
        }
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Sets the status.
    pub fn set_status(&mut self, status: StatusCode) {
        self.status = status;
    }

    /// Sets the status, builder style.
    pub fn with_status(mut self, status: StatusCode) -> Response {
        self.status = status;
        self
    }

    /// Adds a header (a second header of the same name is added, not replaced).
    pub fn with_header(
        mut self,
        name: impl Into<HeaderName>,
        value: impl Into<HeaderValue>,
    ) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets a header, replacing any of the same name (case-insensitive).
    pub fn set_header(&mut self, name: impl Into<HeaderName>, value: impl Into<HeaderValue>) {
        let name = name.into();
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
        self.headers.push((name, value.into()));
    }

    /// Removes every header named `name` (case-insensitive).
    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }

    /// All headers in order.
    pub fn headers(&self) -> &[(HeaderName, HeaderValue)] {
        &self.headers
    }

    /// Sets the body, builder style.
    pub fn with_body(mut self, body: impl Into<Body>) -> Response {
        self.body = body.into();
        self
    }

    /// The body.
    pub fn body(&self) -> &Body {
        &self.body
    }

    /// Takes the body out, leaving it empty.
    pub fn take_body(&mut self) -> Body {
        std::mem::take(&mut self.body)
    }

    /// Replaces the body.
    pub fn set_body(&mut self, body: impl Into<Body>) {
        self.body = body.into();
    }

    /// Takes the error out (the server renders it into the body).
    pub(crate) fn take_error(&mut self) -> Option<AppError> {
        self.error.take()
    }

    /// Marks the response's security headers as chosen by a middleware.
    pub(crate) fn set_own_security_headers(&mut self) {
        self.own_security_headers = true;
    }

    /// Whether a middleware chose the response's security headers.
    pub(crate) fn has_own_security_headers(&self) -> bool {
        self.own_security_headers
    }

    /// Makes this response the switch to another protocol: `on_upgrade` runs on the
    /// connection once the response (a `101`) is written.
    pub(crate) fn set_upgrade(&mut self, on_upgrade: OnUpgrade) {
        self.upgrade = Some(Box::new(on_upgrade));
    }

    /// Whether the response switches protocols (carries a continuation).
    #[inline]
    pub(crate) fn is_upgrade(&self) -> bool {
        self.upgrade.is_some()
    }

    /// Takes the continuation out.
    pub(crate) fn take_upgrade(&mut self) -> Option<OnUpgrade> {
        self.upgrade.take().map(|b| *b)
    }

    #[inline]
    pub(crate) fn into_parts(self) -> (StatusCode, Vec<(HeaderName, HeaderValue)>, Body) {
        (self.status, self.headers, self.body)
    }
}

/// Anything a handler may return.
pub trait IntoResponse {
    /// Converts into a response.
    fn into_response(self) -> Response;
}

impl IntoResponse for Response {
    fn into_response(self) -> Response {
        self
    }
}

impl IntoResponse for &'static str {
    fn into_response(self) -> Response {
        Response::text(self)
    }
}

impl IntoResponse for String {
    fn into_response(self) -> Response {
        Response::text(self)
    }
}

impl IntoResponse for Vec<u8> {
    fn into_response(self) -> Response {
        Response::new(StatusCode::OK)
            .with_header("content-type", "application/octet-stream")
            .with_body(self)
    }
}

impl IntoResponse for () {
    fn into_response(self) -> Response {
        Response::new(StatusCode::NO_CONTENT)
    }
}

impl IntoResponse for StatusCode {
    fn into_response(self) -> Response {
        Response::new(self)
    }
}

impl<T: IntoResponse> IntoResponse for (StatusCode, T) {
    fn into_response(self) -> Response {
        self.1.into_response().with_status(self.0)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        Response::from_error(self)
    }
}

impl<T: IntoResponse, E: IntoResponse> IntoResponse for Result<T, E> {
    fn into_response(self) -> Response {
        match self {
            Ok(ok) => ok.into_response(),
            Err(err) => err.into_response(),
        }
    }
}

/// A JSON body: as a handler's return value it serializes `T`; as an extractor it parses
/// the request body into `T` (see [`FromRequest`](crate::FromRequest)).
///
/// # Examples
///
/// ```
/// use keel_http::{IntoResponse, Json};
/// let res = Json(serde_json::json!({"message": "Hello, World!"})).into_response();
/// assert_eq!(res.header("content-type"), Some("application/json"));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        Response::json(&self.0)
    }
}
