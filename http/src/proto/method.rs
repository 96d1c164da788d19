//! The request method: the RFC 9110 methods as unit variants, anything else as an extension
//! token.

use std::fmt;

/// A request method (RFC 9110 §9).
///
/// The standard methods are unit variants, so matching on them costs nothing. Any other
/// valid token (for example WebDAV's `PROPFIND`) is kept as [`Method::Extension`]. Methods
/// are case-sensitive: `get` is an extension method, not [`Method::Get`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
    /// `CONNECT`
    Connect,
    /// `OPTIONS`
    Options,
    /// `TRACE`
    Trace,
    /// `PATCH` (RFC 5789)
    Patch,
    /// Any other method token, as sent.
    Extension(Box<str>),
}

impl Method {
    /// Maps a method token to a `Method`. Allocates only for extension methods.
    ///
    /// The caller has checked that `token` is a valid RFC 9110 token (httparse does).
    pub(crate) fn from_token(token: &str) -> Method {
        match token.as_bytes() {
            b"GET" => Method::Get,
            b"POST" => Method::Post,
            b"HEAD" => Method::Head,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"OPTIONS" => Method::Options,
            b"PATCH" => Method::Patch,
            b"CONNECT" => Method::Connect,
            b"TRACE" => Method::Trace,
            _ => Method::Extension(token.into()),
        }
    }

    /// The method as it appears on the wire, e.g. `"GET"`.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Connect => "CONNECT",
            Method::Options => "OPTIONS",
            Method::Trace => "TRACE",
            Method::Patch => "PATCH",
            Method::Extension(token) => token,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Method;

    #[test]
    fn standard_methods_round_trip() {
        for name in [
            "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
        ] {
            let m = Method::from_token(name);
            assert!(!matches!(m, Method::Extension(_)), "{name}");
            assert_eq!(m.as_str(), name);
        }
    }

    #[test]
    fn other_tokens_are_extensions_and_case_sensitive() {
        assert_eq!(
            Method::from_token("PROPFIND"),
            Method::Extension("PROPFIND".into())
        );
        assert_eq!(Method::from_token("get"), Method::Extension("get".into()));
        assert_eq!(Method::from_token("get").to_string(), "get");
    }
}
