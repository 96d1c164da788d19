//! Errors rendered in one place: every refusal the server makes itself (a malformed
//! head, a body over its limit, a timeout) and every [`AppError`] a handler, extractor
//! or middleware answers with becomes the same JSON response here, whatever the
//! protocol. The protocols only encode the finished [`Response`].
//!
//! * [`refusal`]: the one table from a refusal's status to its machine-readable code.
//! * [`render`]: an error the response carries becomes its JSON body
//!   (`{error, code, requestId[, details]}`), with `Retry-After` when the error has a
//!   hint; a 5xx is logged with the request id.

use std::borrow::Cow;

use super::config::Environment;
use crate::error::AppError;
use crate::response::Response;
use crate::status::StatusCode;

/// A refusal the server makes before (or instead of) the application: its status, the
/// code for that status, and `reason` as the message.
pub(crate) fn refusal(status: StatusCode, reason: impl Into<Cow<'static, str>>) -> AppError {
    let code = match status.as_u16() {
        408 => "request_timeout",
        413 => "payload_too_large",
        414 => "uri_too_long",
        431 => "header_fields_too_large",
        501 => "not_implemented",
        505 => "http_version_not_supported",
        _ => "bad_request",
    };
    AppError::new(status, code, reason)
}

/// The refusal for a request that ran out of time: `what` says what was late.
pub(crate) fn timed_out(what: &'static str) -> AppError {
    refusal(StatusCode::REQUEST_TIMEOUT, what)
}

/// Renders the error `response` carries, if any, into its JSON body. `environment`
/// decides whether hidden messages show. (Inline: nearly every response carries none.)
#[inline]
pub(crate) fn render(response: &mut Response, request_id: &str, environment: Environment) {
    if let Some(err) = response.take_error() {
        render_error(response, err, request_id, environment);
    }
}

#[cold]
fn render_error(
    response: &mut Response,
    err: AppError,
    request_id: &str,
    environment: Environment,
) {
    if err.status().is_server_error() {
        tracing::error!(
            request_id,
            code = err.code(),
            message = err.message(),
            "request failed"
        );
    }
    if let Some(after) = err.retry_after_header()
        && response.header("retry-after").is_none()
    {
        response.set_header("retry-after", after);
    }
    response.set_header("content-type", "application/json");
    let show_internal = environment == Environment::Development;
    response.set_body(err.to_json(request_id, show_internal));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::IntoResponse;

    #[test]
    fn refusals_name_their_status() {
        for (status, code) in [
            (400, "bad_request"),
            (408, "request_timeout"),
            (413, "payload_too_large"),
            (414, "uri_too_long"),
            (431, "header_fields_too_large"),
            (501, "not_implemented"),
            (505, "http_version_not_supported"),
        ] {
            let err = refusal(StatusCode::from_u16(status).unwrap(), "why");
            assert_eq!((err.status().as_u16(), err.code()), (status, code));
        }
    }

    #[test]
    fn a_carried_error_becomes_json_with_its_retry_hint() {
        let mut res = AppError::service_unavailable("db down").into_response();
        render(&mut res, "req-1", Environment::Production);
        assert_eq!(res.header("content-type"), Some("application/json"));
        assert_eq!(res.header("retry-after"), Some("1"));
        let body: serde_json::Value =
            serde_json::from_slice(res.body().as_bytes().unwrap()).unwrap();
        assert_eq!(body["code"], "unavailable");
        assert_eq!(body["requestId"], "req-1");
    }
}
