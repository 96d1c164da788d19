//! The `/metrics` endpoint: checks the bearer token when one is configured (401
//! otherwise), gathers every family and answers in the text exposition format.

use std::rc::Rc;

use super::gather::gather;
use super::text::CONTENT_TYPE;
use crate::error::AppError;
use crate::handler::BoxedHandler;
use crate::proto::method::Method;
use crate::request::Request;
use crate::response::{IntoResponse, Response};
use crate::server::ServerConfig;
use crate::status::StatusCode;

/// The path the endpoint answers on.
pub const METRICS_PATH: &str = "/metrics";

/// The endpoint's handler when `method` and `path` ask for it and `config` enables it.
pub(crate) fn route(config: &ServerConfig, method: &Method, path: &str) -> Option<BoxedHandler> {
    if !config.metrics || path != METRICS_PATH || !matches!(method, Method::Get | Method::Head) {
        return None;
    }
    let token = config.metrics_token.clone();
    Some(Rc::new(move |req: Request| {
        let token = token.clone();
        Box::pin(async move {
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
        })
    }))
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
