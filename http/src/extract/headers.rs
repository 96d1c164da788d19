//! Header extractors, usable in any argument position: [`Headers`] (an owned copy of every
//! header with case-insensitive lookup) and [`Header<T>`] (one header parsed into a type
//! through [`FromHeader`], a 400 naming the header when it is missing or malformed).

use std::fmt;

use super::FromRequestParts;
use crate::error::AppError;
use crate::request::Request;
use crate::status::StatusCode;

/// Every header of the request, in order, owned (so it does not borrow the request and
/// may come before a body extractor). Lookups ignore ASCII case.
///
/// # Examples
///
/// ```
/// use keel_http::{Headers, Json, Router};
///
/// async fn create(headers: Headers, Json(body): Json<serde_json::Value>) -> String {
///     let agent = headers.get("user-agent").unwrap_or("unknown");
///     let tags: Vec<&str> = headers.get_all("x-tag").collect();
///     format!("{agent} sent {body} tagged {tags:?}")
/// }
/// # let _ = Router::new().post("/things", create);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers {
    /// `(name, value)` in arrival order, names as sent.
    fields: Vec<(String, Vec<u8>)>,
}

impl Headers {
    /// Copies the headers of `req`.
    pub fn from_request_ref(req: &Request) -> Headers {
        Headers {
            fields: req
                .headers()
                .map(|(name, value)| (name.to_owned(), value.to_vec()))
                .collect(),
        }
    }

    /// The first value of `name`, when it is valid UTF-8.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_bytes(name)
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The first value of `name`, as bytes.
    pub fn get_bytes(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// Every value of `name` that is valid UTF-8, in order (one per field line).
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.fields
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .filter_map(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// Whether a header `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get_bytes(name).is_some()
    }

    /// Every header as `(name, value)`, in order, names as the client sent them.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.fields.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    /// The number of header field lines.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether the request had no headers.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.fields
                    .iter()
                    .map(|(n, v)| (n, String::from_utf8_lossy(v))),
            )
            .finish()
    }
}

impl FromRequestParts for Headers {
    fn from_request_parts(req: &Request) -> Result<Self, AppError> {
        Ok(Headers::from_request_ref(req))
    }
}

/// A type read from one request header, for the [`Header`] extractor.
///
/// # Examples
///
/// ```
/// use keel_http::{FromHeader, Header, Router};
///
/// /// `X-Tenant-Id: 42`
/// struct TenantId(u64);
///
/// impl FromHeader for TenantId {
///     const NAME: &'static str = "x-tenant-id";
///
///     fn from_header(value: &str) -> Result<Self, String> {
///         value.trim().parse().map(TenantId).map_err(|e| format!("{e}"))
///     }
/// }
///
/// // A missing or unparsable `X-Tenant-Id` is a 400 naming the header; take
/// // `Option<Header<TenantId>>` to make it optional.
/// async fn orders(Header(TenantId(tenant)): Header<TenantId>) -> String {
///     format!("orders of tenant {tenant}")
/// }
/// # let _ = Router::new().get("/orders", orders);
/// ```
pub trait FromHeader: Sized {
    /// The header's name (matched ignoring ASCII case).
    const NAME: &'static str;

    /// Parses the header's value (leading and trailing whitespace already removed).
    ///
    /// # Errors
    ///
    /// Why the value is invalid; the client gets it in a 400.
    fn from_header(value: &str) -> Result<Self, String>;
}

/// One header parsed into `T` through [`FromHeader`].
///
/// The header is required: when it is missing, not UTF-8, or `T` refuses its value, the
/// client gets a 400 (`missing_header` or `invalid_header`) naming it. Take
/// `Option<Header<T>>` for an optional header (absent → `None`, malformed → 400). When the
/// header appears on several lines, `T` sees them joined with `", "` (RFC 9110 §5.3), so a
/// single-valued header sent twice is refused by its own parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<T>(pub T);

impl<T: FromHeader> FromRequestParts for Header<T> {
    fn from_request_parts(req: &Request) -> Result<Self, AppError> {
        match header_value::<T>(req)? {
            Some(value) => Ok(Header(value)),
            None => Err(AppError::new(
                StatusCode::BAD_REQUEST,
                "missing_header",
                format!("missing required header {}", T::NAME),
            )),
        }
    }
}

impl<T: FromHeader> FromRequestParts for Option<Header<T>> {
    fn from_request_parts(req: &Request) -> Result<Self, AppError> {
        Ok(header_value::<T>(req)?.map(Header))
    }
}

/// `T` from the request's `T::NAME` lines: `None` when there are none.
fn header_value<T: FromHeader>(req: &Request) -> Result<Option<T>, AppError> {
    let invalid = |why: String| {
        AppError::new(
            StatusCode::BAD_REQUEST,
            "invalid_header",
            format!("invalid header {}: {why}", T::NAME),
        )
    };
    let mut joined: Option<String> = None;
    for (name, value) in req.headers() {
        if !name.eq_ignore_ascii_case(T::NAME) {
            continue;
        }
        let value = std::str::from_utf8(value)
            .map_err(|_| invalid("the value is not valid UTF-8".to_owned()))?
            .trim();
        match &mut joined {
            Some(all) => {
                all.push_str(", ");
                all.push_str(value);
            }
            None => joined = Some(value.to_owned()),
        }
    }
    joined
        .map(|v| T::from_header(&v).map_err(invalid))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limits;
    use crate::proto::parse::{Status, parse_request};

    fn request(head: &str) -> Request {
        let buf = head.as_bytes().to_vec();
        let Ok(Status::Complete(parsed)) = parse_request(&buf, &Limits::DEFAULT) else {
            panic!("not a complete head: {head:?}");
        };
        Request::new(buf, parsed, None)
    }

    #[derive(Debug)]
    struct Port(u16);

    impl FromHeader for Port {
        const NAME: &'static str = "X-Port";

        fn from_header(value: &str) -> Result<Self, String> {
            value.parse().map(Port).map_err(|e| format!("{e}"))
        }
    }

    #[test]
    fn headers_lookup_ignores_case_and_keeps_every_line() {
        let req =
            request("GET / HTTP/1.1\r\nHost: h\r\nX-Tag: a\r\nx-tag: b\r\nAccept: */*\r\n\r\n");
        let headers = Headers::from_request_parts(&req).unwrap();
        assert_eq!(headers.len(), 4);
        assert!(!headers.is_empty());
        assert_eq!(headers.get("X-TAG"), Some("a"));
        assert_eq!(headers.get_all("x-Tag").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(headers.get_bytes("accept"), Some(&b"*/*"[..]));
        assert!(headers.contains("HOST"));
        assert!(!headers.contains("cookie"));
        assert_eq!(headers.get("cookie"), None);
        let names: Vec<&str> = headers.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["Host", "X-Tag", "x-tag", "Accept"]);
    }

    #[test]
    fn typed_header_parses_trimmed_value() {
        let req = request("GET / HTTP/1.1\r\nHost: h\r\nx-port:  8080 \r\n\r\n");
        let Header(Port(port)) = Header::<Port>::from_request_parts(&req).unwrap();
        assert_eq!(port, 8080);
        let opt = Option::<Header<Port>>::from_request_parts(&req).unwrap();
        assert_eq!(opt.map(|Header(Port(p))| p), Some(8080));
    }

    #[test]
    fn missing_typed_header_is_a_400_naming_it() {
        let req = request("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
        let err = Header::<Port>::from_request_parts(&req).unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        assert_eq!(err.code(), "missing_header");
        assert!(err.message().contains("X-Port"), "{}", err.message());
        assert!(
            Option::<Header<Port>>::from_request_parts(&req)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn malformed_or_repeated_typed_header_is_a_400_naming_it() {
        for head in [
            "GET / HTTP/1.1\r\nHost: h\r\nX-Port: http\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nX-Port: 1\r\nX-Port: 2\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nX-Port: 99999\r\n\r\n",
        ] {
            let req = request(head);
            let err = Header::<Port>::from_request_parts(&req).unwrap_err();
            assert_eq!(err.status(), StatusCode::BAD_REQUEST, "{head:?}");
            assert_eq!(err.code(), "invalid_header");
            assert!(err.message().contains("X-Port"), "{}", err.message());
            // Optional does not hide a malformed value.
            let err = Option::<Header<Port>>::from_request_parts(&req).unwrap_err();
            assert_eq!(err.code(), "invalid_header");
        }
        // Non-UTF-8 bytes (obs-text) are refused too.
        let mut buf = b"GET / HTTP/1.1\r\nHost: h\r\nX-Port: 8\xff\r\n\r\n".to_vec();
        let Ok(Status::Complete(parsed)) = parse_request(&buf, &Limits::DEFAULT) else {
            panic!("obs-text is a valid header value byte");
        };
        let req = Request::new(std::mem::take(&mut buf), parsed, None);
        let err = Header::<Port>::from_request_parts(&req).unwrap_err();
        assert!(err.message().contains("UTF-8"), "{}", err.message());
    }
}
