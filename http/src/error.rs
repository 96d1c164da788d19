//! [`AppError`]: the one error type handlers return — status, machine-readable code,
//! message, whether the message is safe to show — and the central rendering of every
//! error into JSON `{error, code, requestId}`.
//!
//! An `AppError` converts into a [`Response`] that *carries* the error; the server
//! renders it last, once it knows the request id and the environment. In production an
//! error whose message is not marked safe (every 5xx by default) shows only a generic
//! text; in development the real message and details go out too.

use std::borrow::Cow;
use std::fmt;

use serde_json::Value;

use crate::response::{IntoResponse, Response};
use crate::status::StatusCode;

/// An error a handler (or extractor, or the server) answers with.
///
/// # Examples
///
/// ```
/// use keel_http::{AppError, StatusCode};
///
/// let err = AppError::not_found("user 7 does not exist");
/// assert_eq!(err.status(), StatusCode::NOT_FOUND);
/// assert_eq!(err.code(), "not_found");
/// assert!(err.is_exposed());
///
/// let err = AppError::internal("db password rejected");
/// assert!(!err.is_exposed()); // production clients see "Internal Server Error"
/// ```
#[derive(Clone)]
pub struct AppError {
    inner: Box<Inner>,
}

#[derive(Clone)]
struct Inner {
    status: StatusCode,
    code: Cow<'static, str>,
    message: Cow<'static, str>,
    expose: bool,
    details: Option<Value>,
}

impl AppError {
    /// An error with every field chosen. The message is exposed for 4xx, hidden for 5xx
    /// (change with [`expose`](AppError::expose)).
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> AppError {
        AppError {
            inner: Box::new(Inner {
                status,
                code: code.into(),
                message: message.into(),
                expose: !status.is_server_error(),
                details: None,
            }),
        }
    }

    /// `400 bad_request`.
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> AppError {
        AppError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// `401 unauthorized`.
    pub fn unauthorized(message: impl Into<Cow<'static, str>>) -> AppError {
        AppError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// `403 forbidden`.
    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> AppError {
        AppError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// `404 not_found`.
    pub fn not_found(message: impl Into<Cow<'static, str>>) -> AppError {
        AppError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// `409 conflict`.
    pub fn conflict(message: impl Into<Cow<'static, str>>) -> AppError {
        AppError::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// `422 validation_failed` with field-level `details`.
    pub fn validation(message: impl Into<Cow<'static, str>>, details: Value) -> AppError {
        AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            message,
        )
        .with_details(details)
    }

    /// `500 internal` — the message is logged, never shown in production.
    pub fn internal(message: impl Into<Cow<'static, str>>) -> AppError {
        AppError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// Marks the message safe (or not) to send to clients in production.
    pub fn expose(mut self, expose: bool) -> AppError {
        self.inner.expose = expose;
        self
    }

    /// Attaches structured details (shown when the message is).
    pub fn with_details(mut self, details: Value) -> AppError {
        self.inner.details = Some(details);
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.inner.status
    }

    /// The machine-readable code.
    pub fn code(&self) -> &str {
        &self.inner.code
    }

    /// The message (possibly internal: check [`is_exposed`](AppError::is_exposed)).
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// Whether the message may be sent to clients in production.
    pub fn is_exposed(&self) -> bool {
        self.inner.expose
    }

    /// The details, if any.
    pub fn details(&self) -> Option<&Value> {
        self.inner.details.as_ref()
    }

    /// The JSON body: `{error, code, requestId[, details]}`. `show_internal` is true in
    /// development, where hidden messages are shown too.
    pub fn to_json(&self, request_id: &str, show_internal: bool) -> Vec<u8> {
        let show = self.inner.expose || show_internal;
        let message: &str = if show {
            &self.inner.message
        } else {
            self.inner
                .status
                .reason()
                .unwrap_or("Internal Server Error")
        };
        let mut body = serde_json::json!({
            "error": message,
            "code": self.inner.code,
            "requestId": request_id,
        });
        if let (true, Some(details)) = (show, &self.inner.details) {
            body["details"] = details.clone();
        }
        serde_json::to_vec(&body)
            .unwrap_or_else(|_| b"{\"error\":\"Internal Server Error\"}".to_vec())
    }
}

impl fmt::Debug for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppError")
            .field("status", &self.inner.status)
            .field("code", &self.inner.code)
            .field("message", &self.inner.message)
            .field("expose", &self.inner.expose)
            .finish()
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.inner.status.as_u16(),
            self.inner.code,
            self.inner.message
        )
    }
}

impl std::error::Error for AppError {}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        Response::from_error(self)
    }
}

impl From<serde_json::Error> for AppError {
    fn from(e: serde_json::Error) -> AppError {
        AppError::internal(format!("JSON error: {e}"))
    }
}

impl From<std::io::Error> for AppError {
    fn from(e: std::io::Error) -> AppError {
        AppError::internal(format!("I/O error: {e}"))
    }
}
