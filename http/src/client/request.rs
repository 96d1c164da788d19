//! [`RequestBuilder`]: a request's method, URL, headers and body, checked as they are
//! set, then sent as an [`Exchange`] — directly, or through the client's resilience
//! tools (`resilient.rs`) when it has any.

use std::rc::Rc;
use std::time::Instant;

use serde::Serialize;

use super::error::ClientError;
use super::exchange::Exchange;
use super::inner::Inner;
use super::response::Response;
use super::url::Url;
use crate::proto::method::Method;

/// A request being built. Start from [`Client::get`](super::Client::get),
/// [`Client::post`](super::Client::post) or [`Client::request`](super::Client::request);
/// finish with [`send`](RequestBuilder::send).
///
/// Errors in the URL or headers are kept and returned by `send`, so calls chain.
#[derive(Debug)]
#[must_use = "a request does nothing until it is sent"]
pub struct RequestBuilder {
    client: Rc<Inner>,
    method: Method,
    url: Result<Url, ClientError>,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    error: Option<ClientError>,
}

impl RequestBuilder {
    pub(crate) fn new(client: Rc<Inner>, method: Method, url: &str) -> RequestBuilder {
        RequestBuilder {
            client,
            method,
            url: Url::parse(url),
            headers: Vec::new(),
            body: None,
            error: None,
        }
    }

    /// Adds a header field. `Host` replaces the one taken from the URL; `Content-Length`
    /// and `Transfer-Encoding` are refused (the client frames the body);
    /// `Connection: close` makes the connection close after this exchange.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if self.error.is_some() {
            return self;
        }
        let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if name.is_empty() || !name.bytes().all(token) {
            self.error = Some(ClientError::InvalidRequest(format!(
                "invalid header name `{name}`"
            )));
        } else if !value
            .bytes()
            .all(|b| b == b'\t' || (b >= b' ' && b != 0x7f))
        {
            self.error = Some(ClientError::InvalidRequest(format!(
                "invalid value for header `{name}` (control characters)"
            )));
        } else if name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
        {
            self.error = Some(ClientError::InvalidRequest(format!(
                "`{name}` is set by the client from the body"
            )));
        } else {
            self.headers.push((name.to_owned(), value.to_owned()));
        }
        self
    }

    /// Sets the body, as bytes. Sets no `Content-Type`; add one with
    /// [`header`](RequestBuilder::header).
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Sets the body to `text`, with `Content-Type: text/plain; charset=utf-8` unless one
    /// is set.
    pub fn text(self, text: impl Into<String>) -> Self {
        self.with_type("text/plain; charset=utf-8")
            .body(text.into().into_bytes())
    }

    /// Sets the body to `value` serialized as JSON, with `Content-Type: application/json`
    /// unless one is set.
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(bytes) => self.with_type("application/json").body(bytes),
            Err(e) => {
                self.error
                    .get_or_insert(ClientError::InvalidRequest(format!(
                        "body cannot be serialized as JSON: {e}"
                    )));
                self
            }
        }
    }

    fn with_type(mut self, content_type: &str) -> Self {
        if !self.has_header("content-type") {
            self.headers
                .push(("Content-Type".to_owned(), content_type.to_owned()));
        }
        self
    }

    fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// Sends the request and reads the response head; the body is read from the
    /// [`Response`].
    ///
    /// A request on a reused connection that the server had closed meanwhile (it closed
    /// before any byte of the response) is sent again once on a new connection, when its
    /// method is idempotent. Redirects are followed only when
    /// [`ClientBuilder::follow_redirects`](super::ClientBuilder::follow_redirects) allows.
    ///
    /// # Errors
    ///
    /// See [`ClientError`]: each variant names the phase that failed.
    pub async fn send(self) -> Result<Response, ClientError> {
        let start = Instant::now();
        if let Some(e) = self.error {
            return Err(e);
        }
        let exchange = Exchange::new(self.url?, self.method, self.headers, self.body);
        let client = self.client;
        if client.config.resilience.is_some() {
            return super::resilient::send(exchange, &client, start).await;
        }
        exchange.follow(&client, start).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_headers_are_kept_for_send() {
        let client = crate::client::Client::new();
        for (name, value) in [
            ("bad name", "v"),
            ("X", "a\r\nInjected: 1"),
            ("Content-Length", "5"),
            ("transfer-encoding", "chunked"),
        ] {
            let req = client.get("http://localhost/").header(name, value);
            assert!(
                matches!(req.error, Some(ClientError::InvalidRequest(_))),
                "{name}: {value:?}"
            );
        }
    }
}
