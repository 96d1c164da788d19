//! [`SecurityHeaders`]: Helmet's default response headers (CSP, HSTS, nosniff, frame
//! options, referrer and cross-origin policies, …), each replaceable or disabled, built
//! once and added to every response.
//!
//! The server adds them itself, by default, to every response it writes — app routes,
//! the errors it renders, the ops endpoints — from a block encoded once
//! ([`ServerConfig::security_headers`](crate::ServerConfig::security_headers),
//! `KEEL_SECURITY_HEADERS`). As a middleware ([`Router::layer`](crate::Router::layer))
//! they can differ per router: a response that went through the middleware carries its
//! set instead of the server's, and `X-Powered-By` and `Server` set by a handler are
//! removed.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use crate::handler::BoxFuture;
use crate::header::{HeaderName, HeaderValue};
use crate::middleware::{Middleware, Next};
use crate::request::Request;
use crate::response::Response;
use keel_runtime::env::EnvError;

/// Helmet's default `Content-Security-Policy`.
pub const DEFAULT_CONTENT_SECURITY_POLICY: &str = "default-src 'self';base-uri 'self';\
font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';img-src 'self' data:;\
object-src 'none';script-src 'self';script-src-attr 'none';\
style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests";

/// The default `Strict-Transport-Security`: one year, subdomains, preload.
pub const DEFAULT_STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000; includeSubDomains; preload";

/// The headers [`SecurityHeaders::default`] sets, in order.
const DEFAULTS: [(&str, &str); 12] = [
    ("content-security-policy", DEFAULT_CONTENT_SECURITY_POLICY),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("origin-agent-cluster", "?1"),
    ("referrer-policy", "no-referrer"),
    (
        "strict-transport-security",
        DEFAULT_STRICT_TRANSPORT_SECURITY,
    ),
    ("x-content-type-options", "nosniff"),
    ("x-dns-prefetch-control", "off"),
    ("x-download-options", "noopen"),
    ("x-frame-options", "SAMEORIGIN"),
    ("x-permitted-cross-domain-policies", "none"),
    ("x-xss-protection", "0"),
];

/// Headers removed from every response: they only tell an attacker what runs here.
const REMOVED: [&str; 2] = ["x-powered-by", "server"];

/// Middleware adding security headers to every response (errors and 404s included).
///
/// A header the handler already set is left as the handler set it, so one route can
/// relax a policy. The header list is computed once, when the middleware is built; per
/// response it costs a reference-count increment, one scan of the response's headers per security header, and no
/// allocation for the default values. Cheap to clone (an `Arc`): build it once and
/// clone it into each loop's router.
///
/// # Default
///
/// Helmet's defaults, with HSTS at one year, `includeSubDomains` and `preload`:
/// `Content-Security-Policy` ([`DEFAULT_CONTENT_SECURITY_POLICY`]),
/// `Cross-Origin-Opener-Policy: same-origin`, `Cross-Origin-Resource-Policy: same-origin`,
/// `Origin-Agent-Cluster: ?1`, `Referrer-Policy: no-referrer`,
/// `Strict-Transport-Security` ([`DEFAULT_STRICT_TRANSPORT_SECURITY`]),
/// `X-Content-Type-Options: nosniff`, `X-DNS-Prefetch-Control: off`,
/// `X-Download-Options: noopen`, `X-Frame-Options: SAMEORIGIN`,
/// `X-Permitted-Cross-Domain-Policies: none`, `X-XSS-Protection: 0`.
///
/// # Examples
///
/// ```
/// use keel_http::Router;
/// use keel_http::middleware::SecurityHeaders;
///
/// let headers = SecurityHeaders::builder()
///     .frame_options("DENY")
///     .referrer_policy("strict-origin-when-cross-origin")
///     .disable("x-download-options")
///     .build()?;
/// let router = Router::new().get("/", || async { "hi" }).layer(headers);
/// # let _ = router;
/// # Ok::<(), keel_http::config::EnvError>(())
/// ```
#[derive(Debug, Clone)]
pub struct SecurityHeaders {
    headers: Arc<[(HeaderName, HeaderValue)]>,
    /// The headers as `name: value\r\n` lines, for the server to write in one copy.
    wire: Arc<[u8]>,
    /// Bit `n` is set when a header name of `n` bytes (below 64) is in the set: a
    /// response header of another length cannot collide with one of them.
    name_lengths: u64,
}

impl Default for SecurityHeaders {
    fn default() -> SecurityHeaders {
        SecurityHeaders::from_checked(
            DEFAULTS
                .iter()
                .map(|&(n, v)| (Cow::Borrowed(n), Cow::Borrowed(v)))
                .collect(),
        )
    }
}

impl SecurityHeaders {
    /// From headers already checked (lowercase token names, field-byte values).
    fn from_checked(headers: Vec<(HeaderName, HeaderValue)>) -> SecurityHeaders {
        let mut wire = Vec::new();
        let mut name_lengths = 0u64;
        for (name, value) in &headers {
            wire.extend_from_slice(name.as_bytes());
            wire.extend_from_slice(b": ");
            wire.extend_from_slice(value.as_bytes());
            wire.extend_from_slice(b"\r\n");
            name_lengths |= 1u64.checked_shl(name.len() as u32).unwrap_or(0);
        }
        SecurityHeaders {
            headers: headers.into(),
            wire: wire.into(),
            name_lengths,
        }
    }

    /// The set without `name`.
    pub(crate) fn without(&self, name: &str) -> SecurityHeaders {
        let kept = self.headers.iter().filter(|(n, _)| n != name).cloned();
        SecurityHeaders::from_checked(kept.collect())
    }

    /// The index of the header named `name` (any case), if in the set. Cheap for the
    /// names nearly every response has: their lengths match none of the set's.
    #[inline]
    pub(crate) fn position(&self, name: &str) -> Option<usize> {
        let len = name.len();
        if len >= 64 || self.name_lengths & (1 << len) == 0 {
            return None;
        }
        self.headers
            .iter()
            .position(|(n, _)| n.len() == len && n.eq_ignore_ascii_case(name))
    }

    /// Every header as `name: value\r\n` lines.
    pub(crate) fn wire(&self) -> &[u8] {
        &self.wire
    }
    /// A builder starting from the defaults.
    pub fn builder() -> SecurityHeadersBuilder {
        SecurityHeadersBuilder {
            headers: SecurityHeaders::default().headers.to_vec(),
        }
    }

    /// The headers added, in order.
    pub fn headers(&self) -> &[(HeaderName, HeaderValue)] {
        &self.headers
    }

    fn apply(&self, res: &mut Response) {
        for name in REMOVED {
            if res.header(name).is_some() {
                res.remove_header(name);
            }
        }
        for (name, value) in self.headers.iter() {
            if res.header(name).is_none() {
                res.set_header(name.clone(), value.clone());
            }
        }
        // This set replaces the server's (including what it disabled).
        res.set_own_security_headers();
    }
}

impl Middleware for SecurityHeaders {
    fn call(&self, req: Request, next: Next) -> BoxFuture<Response> {
        let this = self.clone();
        Box::pin(async move {
            let mut res = next.run(req).await;
            this.apply(&mut res);
            res
        })
    }
}

/// Changes [`SecurityHeaders`]' defaults; [`build`](SecurityHeadersBuilder::build) checks
/// every value.
#[derive(Debug, Clone)]
pub struct SecurityHeadersBuilder {
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl SecurityHeadersBuilder {
    /// Sets header `name` to `value`, replacing the default of that name or adding a
    /// header of your own.
    pub fn header(
        mut self,
        name: impl Into<HeaderName>,
        value: impl Into<HeaderValue>,
    ) -> SecurityHeadersBuilder {
        let name = lowercase(name.into());
        let value = value.into();
        match self.headers.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.headers.push((name, value)),
        }
        self
    }

    /// Leaves header `name` out.
    pub fn disable(mut self, name: &str) -> SecurityHeadersBuilder {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    /// `Content-Security-Policy`.
    pub fn content_security_policy(self, value: impl Into<HeaderValue>) -> Self {
        self.header("content-security-policy", value)
    }

    /// `Strict-Transport-Security` from its parts.
    pub fn hsts(self, max_age: Duration, include_subdomains: bool, preload: bool) -> Self {
        let mut value = format!("max-age={}", max_age.as_secs());
        if include_subdomains {
            value.push_str("; includeSubDomains");
        }
        if preload {
            value.push_str("; preload");
        }
        self.header("strict-transport-security", value)
    }

    /// `X-Frame-Options` (`DENY` or `SAMEORIGIN`); set CSP's `frame-ancestors` to match.
    pub fn frame_options(self, value: impl Into<HeaderValue>) -> Self {
        self.header("x-frame-options", value)
    }

    /// `Referrer-Policy`.
    pub fn referrer_policy(self, value: impl Into<HeaderValue>) -> Self {
        self.header("referrer-policy", value)
    }

    /// `Cross-Origin-Opener-Policy`.
    pub fn cross_origin_opener_policy(self, value: impl Into<HeaderValue>) -> Self {
        self.header("cross-origin-opener-policy", value)
    }

    /// `Cross-Origin-Resource-Policy`.
    pub fn cross_origin_resource_policy(self, value: impl Into<HeaderValue>) -> Self {
        self.header("cross-origin-resource-policy", value)
    }

    /// The middleware.
    ///
    /// # Errors
    ///
    /// A header name that is not an HTTP token (or one the server writes itself:
    /// `content-length`, `transfer-encoding`, `connection`, `date`), or a value with
    /// control characters (CR, LF, NUL…), naming the header.
    pub fn build(self) -> Result<SecurityHeaders, EnvError> {
        for (name, value) in &self.headers {
            let owned = ["content-length", "transfer-encoding", "connection", "date"];
            if name.is_empty() || !name.bytes().all(is_token_byte) || owned.contains(&&**name) {
                return Err(EnvError::new("security header name", name, "an HTTP token"));
            }
            if !value.bytes().all(is_value_byte) {
                return Err(EnvError::new(
                    name,
                    value,
                    "a header value without control characters",
                ));
            }
        }
        Ok(SecurityHeaders::from_checked(self.headers))
    }
}

fn lowercase(name: HeaderName) -> HeaderName {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        name
    }
}

/// `tchar` of RFC 9110.
pub(crate) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A byte allowed in a field value (visible ASCII, space, tab, obs-text).
pub(crate) fn is_value_byte(b: u8) -> bool {
    b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80
}
