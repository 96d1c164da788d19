//! [`AppError`]: the one error type handlers return — status, machine-readable code,
//! message, whether the message is safe to show — and the central rendering of every
//! error into JSON `{error, code, requestId}`.
//!
//! An `AppError` converts into a [`Response`](crate::Response) that *carries* the error;
//! the server renders it last, once it knows the request id and the environment. In
//! production an error whose message is not marked safe (every 5xx by default) shows only
//! a generic text; in development the real message and details go out too.
//!
//! An error may carry a `Retry-After` hint ([`AppError::with_retry_after`]); the server
//! sends it as the header. Overload from Keel's own parts converts with `?`: a full
//! blocking or worker queue ([`JobError`]), and, with the `pool` feature, a connection
//! pool that cannot hand out a connection (`keel_pool::Error`), become `503` with
//! `Retry-After: 1` — the client is told to come back, and nothing waits.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use keel_runtime::blocking::JobError;

use serde_json::Value;

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
///
/// // Overloaded or down for now: 503 and a `Retry-After` header.
/// let err = AppError::service_unavailable("database unreachable");
/// assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE);
/// assert_eq!(err.retry_after(), Some(std::time::Duration::from_secs(1)));
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
    retry_after: Option<Duration>,
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
                retry_after: None,
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

    /// `503 unavailable` with `Retry-After: 1`: the service (or a part it depends on) is
    /// overloaded or down for now; the client should try again shortly.
    pub fn service_unavailable(message: impl Into<Cow<'static, str>>) -> AppError {
        AppError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
            .with_retry_after(UNAVAILABLE_RETRY_AFTER)
    }

    /// Sends `Retry-After` with the response, in whole seconds rounded up (at least 1),
    /// unless the handler set the header itself.
    pub fn with_retry_after(mut self, after: Duration) -> AppError {
        self.inner.retry_after = Some(after);
        self
    }

    /// The `Retry-After` hint, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after
    }

    /// The `Retry-After` header value: the hint in whole seconds, rounded up, at least 1.
    pub(crate) fn retry_after_header(&self) -> Option<String> {
        let after = self.inner.retry_after?;
        let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
        Some(secs.max(1).to_string())
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
            .field("retry_after", &self.inner.retry_after)
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

impl From<serde_json::Error> for AppError {
    fn from(e: serde_json::Error) -> AppError {
        AppError::internal(format!("JSON error: {e}"))
    }
}

/// The `Retry-After` that overload errors carry: [`AppError::service_unavailable`] and
/// the conversions from full queues and unavailable connection pools.
pub const UNAVAILABLE_RETRY_AFTER: Duration = Duration::from_secs(1);

/// A blocking or worker pool job that was refused or failed: a full queue, a job that
/// waited past its start deadline, or a pool that is shutting down is `503 overloaded`
/// (or `unavailable`) with `Retry-After: 1`; a panicked job or a bad pool setting is
/// `500 internal`.
impl From<JobError> for AppError {
    fn from(e: JobError) -> AppError {
        let code = if e.is_queue_full() || e.is_timed_out() {
            "overloaded"
        } else if e.is_shutdown() {
            "unavailable"
        } else {
            return AppError::internal(e.to_string());
        };
        AppError::new(StatusCode::SERVICE_UNAVAILABLE, code, e.to_string())
            .with_retry_after(UNAVAILABLE_RETRY_AFTER)
    }
}

/// A connection pool that could not hand out a connection — it timed out, the backend
/// refused (with [`fail_fast`](keel_pool::Builder::fail_fast)), or it is closed — is
/// `503 unavailable` with `Retry-After: 1`. The backend's error is the (internal)
/// message.
#[cfg(feature = "pool")]
impl<E: fmt::Display> From<keel_pool::Error<E>> for AppError {
    fn from(e: keel_pool::Error<E>) -> AppError {
        AppError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            e.to_string(),
        )
        .with_retry_after(UNAVAILABLE_RETRY_AFTER)
    }
}

impl From<std::io::Error> for AppError {
    fn from(e: std::io::Error) -> AppError {
        AppError::internal(format!("I/O error: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_is_503_with_retry_after() {
        let pool = keel_runtime::blocking::Builder::new()
            .threads(1)
            .queue_capacity(1)
            .build()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let running = pool.spawn(move || rx.recv()).unwrap();
        // One job runs (blocked), one may sit in the queue; the next is refused.
        let mut refused = None;
        let mut queued = Vec::new();
        for _ in 0..3 {
            match pool.spawn(|| ()) {
                Ok(h) => queued.push(h),
                Err(e) => {
                    refused = Some(e);
                    break;
                }
            }
        }
        let err = AppError::from(refused.expect("the queue fills"));
        assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(err.code(), "overloaded");
        assert_eq!(err.retry_after(), Some(UNAVAILABLE_RETRY_AFTER));
        assert_eq!(err.retry_after_header().as_deref(), Some("1"));
        assert!(!err.is_exposed());
        tx.send(()).unwrap();
        drop((running, queued));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let err = AppError::service_unavailable("down");
        assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(err.retry_after_header().as_deref(), Some("1"));
        let err = err.with_retry_after(Duration::from_millis(2500));
        assert_eq!(err.retry_after_header().as_deref(), Some("3"));
        let err = err.with_retry_after(Duration::ZERO);
        assert_eq!(err.retry_after_header().as_deref(), Some("1"));
        assert_eq!(AppError::internal("x").retry_after_header(), None);
    }

    #[cfg(feature = "pool")]
    #[test]
    fn an_unavailable_connection_pool_is_503() {
        let e: keel_pool::Error<std::io::Error> =
            keel_pool::Error::Backend(std::io::Error::other("connection refused"));
        let err = AppError::from(e);
        assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(err.code(), "unavailable");
        assert!(err.message().contains("connection refused"));
        assert_eq!(err.retry_after(), Some(UNAVAILABLE_RETRY_AFTER));
        let closed = AppError::from(keel_pool::Error::<std::io::Error>::Closed);
        assert_eq!(closed.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
