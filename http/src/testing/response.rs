//! [`TestResponse`]: what the application answered a [`TestRequest`](super::TestRequest),
//! parsed back from the bytes the server wrote (status, headers, the body unframed from
//! `Content-Length` or chunked coding), with helpers for JSON, text and cookies.

use cookie::Cookie;
use serde::de::DeserializeOwned;

use crate::proto::BodyLength;
use crate::proto::decode::Decoder;
use crate::proto::parse::Status;
use crate::proto::response::{ResponseBody, parse_response};
use crate::status::StatusCode;

/// A response as the client read it.
#[derive(Debug, Clone)]
pub struct TestResponse {
    status: StatusCode,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl TestResponse {
    /// Reads the one response in `bytes`.
    ///
    /// # Panics
    ///
    /// When `bytes` are not one well-formed response.
    pub(super) fn parse(bytes: &[u8], head_request: bool) -> TestResponse {
        let head = match parse_response(bytes, usize::MAX, 1000, head_request) {
            Ok(Status::Complete(head)) => head,
            Ok(Status::Partial) => panic!(
                "the server's answer ended before its head did: {:?}",
                String::from_utf8_lossy(bytes)
            ),
            Err(e) => panic!(
                "the server's answer is not a response ({e}): {:?}",
                String::from_utf8_lossy(bytes)
            ),
        };
        let rest = &bytes[head.head_len..];
        let body = match head.body {
            ResponseBody::UntilClose => rest.to_vec(),
            ResponseBody::Framed(length) => unframe(length, rest),
        };
        let headers = head
            .headers
            .into_iter()
            .map(|(n, v)| (n, String::from_utf8_lossy(&v).into_owned()))
            .collect();
        TestResponse {
            status: StatusCode::from_u16(head.status).unwrap_or_else(|| {
                panic!(
                    "the server answered a status Keel does not know: {}",
                    head.status
                )
            }),
            headers,
            body,
        }
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name` (case-insensitive), in order.
    pub fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header field, in order, as sent (`Date`, `Content-Length` and the security
    /// headers the server adds included).
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The body, unframed.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as text.
    ///
    /// # Panics
    ///
    /// When it is not UTF-8.
    #[track_caller]
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body)
            .unwrap_or_else(|e| panic!("the body is not UTF-8 ({e}): {:?}", self.body))
    }

    /// The body parsed as JSON into `T` (`serde_json::Value` for any JSON).
    ///
    /// # Panics
    ///
    /// When it is not JSON of that shape; the message shows the body.
    #[track_caller]
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "the body is not JSON of that shape ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The cookies the response sets (its `Set-Cookie` fields, parsed; percent-encoded
    /// values decoded). Unparseable fields are skipped.
    pub fn cookies(&self) -> Vec<Cookie<'static>> {
        self.header_all("set-cookie")
            .filter_map(|v| Cookie::parse_encoded(v.to_owned()).ok())
            .collect()
    }

    /// The cookie `name` the response sets, with its attributes.
    pub fn cookie(&self, name: &str) -> Option<Cookie<'static>> {
        self.cookies().into_iter().find(|c| c.name() == name)
    }

    /// The request id the server answered with (`X-Request-ID`).
    pub fn request_id(&self) -> Option<&str> {
        self.header("x-request-id")
    }
}

/// The body bytes of a `Content-Length` or chunked body.
fn unframe(length: BodyLength, bytes: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut decoder = Decoder::new(length, u64::MAX);
    match decoder.decode(bytes, |data| body.extend_from_slice(data)) {
        Ok(progress) if progress.done => body,
        Ok(_) => panic!(
            "the server's answer ended inside its body ({} bytes read)",
            body.len()
        ),
        Err(e) => panic!("the server's answer has a malformed body: {}", e.reason()),
    }
}
