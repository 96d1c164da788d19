//! [`TestRequest`]: one request of a [`TestClient`] being built — headers, a JSON, form or
//! raw body, cookies — then sent as HTTP/1.1 bytes through the in-memory connection.

use serde::Serialize;

use super::TestClient;
use super::response::TestResponse;
use crate::proto::Method;

/// A request being built; [`send`](TestRequest::send) it. Made by
/// [`TestClient::get`] and its siblings.
#[derive(Debug)]
#[must_use = "a request does nothing until it is sent"]
pub struct TestRequest<'a> {
    client: &'a TestClient,
    method: Method,
    target: String,
    headers: Vec<(String, String)>,
    cookies: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl<'a> TestRequest<'a> {
    pub(super) fn new(client: &'a TestClient, method: Method, target: &str) -> TestRequest<'a> {
        TestRequest {
            client,
            method,
            target: target.to_owned(),
            headers: Vec::new(),
            cookies: Vec::new(),
            body: None,
        }
    }

    /// Adds a header field (a second one of the same name is added, not replaced).
    ///
    /// # Panics
    ///
    /// When the name or the value holds a line break (it would end the field).
    #[track_caller]
    pub fn header(mut self, name: &str, value: &str) -> TestRequest<'a> {
        assert!(
            !name.contains(['\r', '\n']) && !value.contains(['\r', '\n']),
            "a header field cannot hold a line break: {name:?}: {value:?}"
        );
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds `value`, form-encoded, to the target's query (`?a=1&b=2`).
    ///
    /// # Panics
    ///
    /// When `value` does not serialize as a query (not a struct or map of scalars).
    #[track_caller]
    pub fn query<T: Serialize + ?Sized>(mut self, value: &T) -> TestRequest<'a> {
        let query = serde_urlencoded::to_string(value)
            .unwrap_or_else(|e| panic!("the query does not serialize: {e}"));
        if !query.is_empty() {
            self.target
                .push(if self.target.contains('?') { '&' } else { '?' });
            self.target.push_str(&query);
        }
        self
    }

    /// The body `bytes`, as they are (set a `content-type` with [`header`](Self::header)).
    pub fn body(mut self, bytes: impl Into<Vec<u8>>) -> TestRequest<'a> {
        self.body = Some(bytes.into());
        self
    }

    /// `value` as a JSON body, with `content-type: application/json`.
    ///
    /// # Panics
    ///
    /// When `value` does not serialize.
    #[track_caller]
    pub fn json<T: Serialize + ?Sized>(self, value: &T) -> TestRequest<'a> {
        let bytes = serde_json::to_vec(value)
            .unwrap_or_else(|e| panic!("the body does not serialize: {e}"));
        self.header("content-type", "application/json").body(bytes)
    }

    /// `value` as a form body, with `content-type: application/x-www-form-urlencoded`.
    ///
    /// # Panics
    ///
    /// When `value` does not serialize as a form (not a struct or map of scalars).
    #[track_caller]
    pub fn form<T: Serialize + ?Sized>(self, value: &T) -> TestRequest<'a> {
        let body = serde_urlencoded::to_string(value)
            .unwrap_or_else(|e| panic!("the form does not serialize: {e}"));
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    }

    /// Sends the cookie `name=value` with this request, besides the client's jar (and
    /// instead of a jar cookie of the same name).
    pub fn cookie(mut self, name: &str, value: &str) -> TestRequest<'a> {
        self.cookies.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The request's bytes, as a client writes them.
    fn encode(&self) -> Vec<u8> {
        let mut head = format!("{} {} HTTP/1.1\r\n", self.method, self.target);
        if !self
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("host"))
        {
            head.push_str("host: localhost\r\n");
        }
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(cookie) = self.cookie_header() {
            head.push_str(&format!("cookie: {cookie}\r\n"));
        }
        let body = self.body.as_deref().unwrap_or_default();
        let framed = self.headers.iter().any(|(n, _)| {
            n.eq_ignore_ascii_case("content-length") || n.eq_ignore_ascii_case("transfer-encoding")
        });
        if !framed && (self.body.is_some() || self.method.as_str() == "POST") {
            head.push_str(&format!("content-length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body);
        bytes
    }

    /// The jar's cookies, with this request's own in place of any of the same name.
    fn cookie_header(&self) -> Option<String> {
        let jar = self.client.cookie_header();
        let mut pairs: Vec<String> = jar
            .iter()
            .flat_map(|h| h.split("; "))
            .filter(|pair| {
                let name = pair.split('=').next().unwrap_or("");
                !self.cookies.iter().any(|(n, _)| n == name)
            })
            .map(str::to_owned)
            .collect();
        pairs.extend(self.cookies.iter().map(|(n, v)| format!("{n}={v}")));
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    /// Sends the request through the application and reads its response. Runs on a Keel
    /// loop (inside `keel_runtime::block_on`, or a task).
    ///
    /// # Panics
    ///
    /// Off a Keel loop, or when the server's answer is not one well-formed response
    /// (a bug in Keel).
    pub async fn send(self) -> TestResponse {
        let head_request = self.method == Method::Head;
        let output = self.client.exchange(self.encode()).await;
        let response = TestResponse::parse(&output, head_request);
        self.client.store_cookies(&response);
        response
    }

    /// [`send`](Self::send) from a plain `#[test]`: runs a Keel loop on this thread until
    /// the response is in. Tasks the handler spawned and left running stop with it.
    ///
    /// # Panics
    ///
    /// On a Keel loop (await [`send`](Self::send) there), and as `send`.
    pub fn send_blocking(self) -> TestResponse {
        keel_runtime::block_on(self.send())
    }
}
