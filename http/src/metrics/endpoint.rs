//! The `/metrics` endpoint's handler, mounted by the ops endpoints ([`Ops`](crate::Ops))
//! beside the health probes: checks the bearer token when one is configured (401
//! otherwise), gathers every family and answers in the text exposition format.

use std::sync::Arc;

use super::gather::gather;
use super::text::CONTENT_TYPE;
use crate::error::AppError;
use crate::request::Request;
use crate::response::{IntoResponse, Response};
use crate::status::StatusCode;

/// The path the endpoint answers on.
pub const METRICS_PATH: &str = "/metrics";

/// The endpoint's handler, for the ops router (`GET`, and so `HEAD`, on
/// [`METRICS_PATH`]): with a `token`, a request without `Authorization: Bearer <token>`
/// gets 401.
pub(crate) async fn serve(req: Request, token: Option<Arc<str>>) -> Response {
    if let Some(token) = token
        && !authorized(req.header("authorization"), &token)
    {
        let mut res = AppError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required for /metrics",
        )
        .into_response();
        res.set_header("www-authenticate", "Bearer");
        return res;
    }
    scrape().await
}

async fn scrape() -> Response {
    let text = gather().await.render();
    let mut res = text.into_response();
    res.set_header("content-type", CONTENT_TYPE);
    res.set_header("cache-control", "no-store");
    res
}

/// Whether `header` is `Bearer <token>`, compared in constant time.
fn authorized(header: Option<&str>, token: &str) -> bool {
    let Some(given) = header.and_then(|h| {
        let (scheme, rest) = h.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
    }) else {
        return false;
    };
    let (a, b) = (given.as_bytes(), token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer() {
        assert!(authorized(Some("Bearer s3cret"), "s3cret"));
        assert!(authorized(Some("bearer s3cret"), "s3cret"));
        assert!(!authorized(Some("Bearer s3cre"), "s3cret"));
        assert!(!authorized(Some("Basic s3cret"), "s3cret"));
        assert!(!authorized(None, "s3cret"));
    }
}
