//! An HTTP/2 request's head as Keel's [`RequestHead`]: the pseudo-header fields and
//! fields `h2` decoded are written out as an HTTP/1.1 head and parsed by Keel's own
//! strict parser ([`proto::parse`](crate::proto::parse)), so every rule it enforces — the
//! method token, the target's form, its length limit, header syntax, the field count —
//! holds for both protocols, and the request reads its headers from one buffer as an
//! HTTP/1.1 request does. The head is then marked [`Version::Http2`].
//!
//! Why not build the head's spans by hand: the spans index the head's bytes, which the
//! request needs anyway (its headers are read from them); writing those bytes and parsing
//! them costs one pass of httparse over a few hundred bytes (docs/why-h2.md), and keeps
//! one definition of a valid request.
//!
//! * `:authority` becomes `Host` (a `Host` field that disagrees with it is refused, as
//!   RFC 9113 §8.3.1 allows); without either the head is written as HTTP/1.0, the one
//!   version whose parser rules do not ask for a `Host`.
//! * `cookie` fields, which HTTP/2 lets a client split, are joined with `; ` (RFC 9113
//!   §8.2.3).
//! * `h2` already refused connection-specific fields (`Connection`, `Transfer-Encoding`,
//!   …) and malformed pseudo-header fields with a stream error.

use http::request::Parts;

use crate::error::AppError;
use crate::limits::Limits;
use crate::proto::parse::{Status, parse_request_into};
use crate::proto::{RequestHead, Version};
use crate::server::render::refusal;
use crate::status::StatusCode;

/// The head of `parts` in `bytes` (empty, reused), parsed into `head` (its index empty,
/// reused) under `limits`; a refusal to answer instead.
pub(super) fn write_and_parse(
    parts: &Parts,
    limits: &Limits,
    bytes: &mut Vec<u8>,
    head: &mut RequestHead,
) -> Result<(), AppError> {
    write_head(parts, bytes)?;
    // The header list was already bounded by SETTINGS_MAX_HEADER_LIST_SIZE; the body is
    // framed by DATA frames and its limit checked by the dispatch.
    let limits = Limits {
        max_head_size: bytes.len().max(limits.max_head_size),
        max_body_size: u64::MAX,
        ..*limits
    };
    match parse_request_into(bytes, &limits, head) {
        Ok(Status::Complete(_)) => {
            head.set_version(Version::Http2);
            Ok(())
        }
        Ok(Status::Partial) => Err(refusal(
            StatusCode::BAD_REQUEST,
            "the request head is incomplete",
        )),
        Err(e) => Err(refusal(
            StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
            e.reason(),
        )),
    }
}

/// Writes the request line and fields of `parts` as an HTTP/1.1 head.
fn write_head(parts: &Parts, out: &mut Vec<u8>) -> Result<(), AppError> {
    let authority = parts.uri.authority().map(|a| a.as_str().as_bytes());
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b' ');
    match parts.uri.path_and_query() {
        Some(target) => out.extend_from_slice(target.as_str().as_bytes()),
        // CONNECT: its target is the authority.
        None => out.extend_from_slice(authority.unwrap_or(b"/")),
    }
    let has_host = parts.headers.contains_key(http::header::HOST);
    if authority.is_none() && !has_host {
        out.extend_from_slice(b" HTTP/1.0\r\n");
    } else {
        out.extend_from_slice(b" HTTP/1.1\r\n");
    }
    if let Some(authority) = authority {
        if let Some(host) = parts.headers.get(http::header::HOST)
            && host.as_bytes() != authority
        {
            return Err(refusal(
                StatusCode::BAD_REQUEST,
                "the Host header differs from :authority",
            ));
        }
        field(out, b"host", authority);
    }
    let mut cookies = parts.headers.get_all(http::header::COOKIE).iter();
    if let Some(first) = cookies.next() {
        out.extend_from_slice(b"cookie: ");
        out.extend_from_slice(first.as_bytes());
        for more in cookies {
            out.extend_from_slice(b"; ");
            out.extend_from_slice(more.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
    }
    for (name, value) in &parts.headers {
        if name == http::header::COOKIE || (name == http::header::HOST && authority.is_some()) {
            continue;
        }
        field(out, name.as_str().as_bytes(), value.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    Ok(())
}

fn field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(req: http::Request<()>) -> Result<(Vec<u8>, RequestHead), AppError> {
        let (parts, ()) = req.into_parts();
        let mut bytes = Vec::new();
        let mut head = RequestHead::default();
        write_and_parse(&parts, &Limits::DEFAULT, &mut bytes, &mut head)?;
        Ok((bytes, head))
    }

    #[test]
    fn authority_becomes_host_and_cookies_join() {
        let req = http::Request::builder()
            .method("POST")
            .uri("https://example.com:8443/a/b?x=1")
            .header("cookie", "a=1")
            .header("x-one", "1")
            .header("cookie", "b=2")
            .body(())
            .unwrap();
        let (bytes, head) = parse(req).unwrap();
        assert_eq!(head.version(), Version::Http2);
        assert_eq!(head.path(&bytes), b"/a/b");
        assert_eq!(head.query(&bytes), Some(&b"x=1"[..]));
        assert_eq!(head.header(&bytes, "host"), Some(&b"example.com:8443"[..]));
        assert_eq!(head.header(&bytes, "cookie"), Some(&b"a=1; b=2"[..]));
        assert_eq!(head.header(&bytes, "x-one"), Some(&b"1"[..]));
    }

    #[test]
    fn a_host_that_disagrees_with_authority_is_refused() {
        let req = http::Request::builder()
            .uri("https://example.com/")
            .header("host", "other.example")
            .body(())
            .unwrap();
        assert_eq!(parse(req).unwrap_err().status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn no_authority_needs_no_host() {
        let req = http::Request::builder().uri("/only-path").body(()).unwrap();
        let (bytes, head) = parse(req).unwrap();
        assert_eq!(head.path(&bytes), b"/only-path");
        assert_eq!(head.version(), Version::Http2);
    }
}
