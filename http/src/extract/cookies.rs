//! Cookies: [`CookieJar`] (the request's cookies, and the ones a handler sets or removes),
//! [`SignedCookieJar`] (tamper-proof: HMAC-signed) and [`PrivateCookieJar`] (encrypted and
//! authenticated), keyed by the router's [`CookieKey`]; [`secure_cookie`], a cookie with
//! secure defaults. A handler returns `(jar, body)` and the jar's changes go out as
//! `Set-Cookie` fields (percent-encoded).

use std::any::{TypeId, type_name};

use cookie::{Cookie, CookieBuilder, SameSite};

use super::FromRequestParts;
use super::cookie_key::{COOKIE_KEY_VAR, CookieKey};
use crate::error::AppError;
use crate::request::Request;
use crate::response::{IntoResponse, Response};

/// A cookie with Keel's secure defaults, to finish and add to a jar: `HttpOnly` (no
/// script reads it), `Secure` (only over HTTPS; browsers treat `http://localhost` as
/// secure), `SameSite=Lax` (not sent on cross-site subrequests and posts) and `Path=/`.
/// Override any of them on the builder.
///
/// # Examples
///
/// ```
/// use keel_http::cookie::time::Duration;
/// use keel_http::{CookieJar, secure_cookie};
///
/// async fn remember(jar: CookieJar) -> (CookieJar, &'static str) {
///     let theme = secure_cookie("theme", "dark").max_age(Duration::days(365));
///     (jar.add(theme), "saved")
/// }
///
/// let cookie = secure_cookie("theme", "dark").build();
/// assert_eq!(cookie.to_string(), "theme=dark; HttpOnly; SameSite=Lax; Secure; Path=/");
/// # let _ = keel_http::Router::new().post("/theme", remember);
/// ```
pub fn secure_cookie(
    name: impl Into<std::borrow::Cow<'static, str>>,
    value: impl Into<std::borrow::Cow<'static, str>>,
) -> CookieBuilder<'static> {
    Cookie::build((name, value))
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Lax)
        .path("/")
}

/// The request's cookies, and the changes the handler makes: return `(jar, body)` (or
/// `(status, (jar, body))`) and each cookie added or removed is a `Set-Cookie` field of
/// the response. Values are percent-decoded on the way in and encoded on the way out.
///
/// Nothing stops a client from writing any value into a plain cookie: for a value the
/// server must trust, use [`SignedCookieJar`] or [`PrivateCookieJar`].
///
/// # Examples
///
/// ```
/// use keel_http::{CookieJar, Router, secure_cookie};
///
/// async fn visit(jar: CookieJar) -> (CookieJar, String) {
///     let visits: u32 = jar.get("visits").and_then(|c| c.value().parse().ok()).unwrap_or(0);
///     let jar = jar.add(secure_cookie("visits", (visits + 1).to_string()));
///     (jar, format!("visit {}", visits + 1))
/// }
///
/// async fn forget(jar: CookieJar) -> (CookieJar, &'static str) {
///     (jar.remove("visits"), "forgotten")
/// }
/// # let _ = Router::new().get("/", visit).delete("/", forget);
/// ```
#[derive(Debug, Clone, Default)]
pub struct CookieJar {
    jar: cookie::CookieJar,
}

impl CookieJar {
    /// An empty jar (for a response to a request whose cookies do not matter).
    pub fn new() -> CookieJar {
        CookieJar::default()
    }

    /// The cookie `name`: one the handler added, else the request's.
    pub fn get(&self, name: &str) -> Option<&Cookie<'static>> {
        self.jar.get(name)
    }

    /// Adds (or replaces) a cookie, to be set by the response.
    #[must_use = "the jar must be returned for its cookies to be set"]
    #[allow(clippy::should_implement_trait)] // axum-extra's name, which users know
    pub fn add(mut self, cookie: impl Into<Cookie<'static>>) -> CookieJar {
        self.jar.add(cookie);
        self
    }

    /// Removes the cookie `name` (with `Path=/`): the response expires it.
    #[must_use = "the jar must be returned for its cookies to be removed"]
    pub fn remove(mut self, name: impl Into<Cookie<'static>>) -> CookieJar {
        self.jar.remove(name);
        self
    }

    /// Every cookie of the jar (the request's and the added ones, less the removed).
    pub fn iter(&self) -> impl Iterator<Item = &Cookie<'static>> {
        self.jar.iter()
    }
}

impl FromRequestParts for CookieJar {
    fn from_request_parts(req: &Request) -> Result<Self, AppError> {
        Ok(CookieJar {
            jar: request_jar(req),
        })
    }
}

impl<T: IntoResponse> IntoResponse for (CookieJar, T) {
    fn into_response(self) -> Response {
        with_changes(&self.0.jar, self.1.into_response())
    }
}

/// Cookies signed with the router's [`CookieKey`] (HMAC-SHA256): the client can read
/// them but not change them. A cookie whose signature does not verify reads as absent.
///
/// # Examples
///
/// ```
/// use keel_http::{CookieKey, Router, SignedCookieJar, secure_cookie};
///
/// async fn login(jar: SignedCookieJar) -> (SignedCookieJar, &'static str) {
///     (jar.add(secure_cookie("user", "ada")), "welcome")
/// }
///
/// async fn whoami(jar: SignedCookieJar) -> String {
///     jar.get("user").map(|c| c.value().to_owned()).unwrap_or_else(|| "nobody".into())
/// }
///
/// let router = Router::new()
///     .post("/login", login)
///     .get("/me", whoami)
///     .with_state(CookieKey::generate()); // in a service: from KEEL_COOKIE_KEY
/// # let _ = router;
/// ```
#[derive(Debug, Clone)]
pub struct SignedCookieJar {
    jar: cookie::CookieJar,
    key: CookieKey,
}

impl SignedCookieJar {
    /// The cookie `name`, when its signature verifies (its value without the signature).
    pub fn get(&self, name: &str) -> Option<Cookie<'static>> {
        self.jar.signed(&self.key.0).get(name)
    }

    /// Adds (or replaces) a cookie, signed, to be set by the response.
    #[must_use = "the jar must be returned for its cookies to be set"]
    #[allow(clippy::should_implement_trait)] // axum-extra's name, which users know
    pub fn add(mut self, cookie: impl Into<Cookie<'static>>) -> SignedCookieJar {
        self.jar.signed_mut(&self.key.0).add(cookie);
        self
    }

    /// Removes the cookie `name` (with `Path=/`): the response expires it.
    #[must_use = "the jar must be returned for its cookies to be removed"]
    pub fn remove(mut self, name: impl Into<Cookie<'static>>) -> SignedCookieJar {
        self.jar.signed_mut(&self.key.0).remove(name);
        self
    }
}

impl FromRequestParts for SignedCookieJar {
    fn from_request_parts(req: &Request) -> Result<Self, AppError> {
        Ok(SignedCookieJar {
            jar: request_jar(req),
            key: router_key(req)?,
        })
    }

    fn required_state() -> Option<(TypeId, &'static str)> {
        Some((TypeId::of::<CookieKey>(), type_name::<CookieKey>()))
    }
}

impl<T: IntoResponse> IntoResponse for (SignedCookieJar, T) {
    fn into_response(self) -> Response {
        with_changes(&self.0.jar, self.1.into_response())
    }
}

/// Cookies encrypted with the router's [`CookieKey`] (AES-256-GCM, the name bound in as
/// associated data): the client can neither read nor change them. A cookie that does not
/// decrypt reads as absent.
#[derive(Debug, Clone)]
pub struct PrivateCookieJar {
    jar: cookie::CookieJar,
    key: CookieKey,
}

impl PrivateCookieJar {
    /// The cookie `name`, decrypted, when it decrypts and authenticates.
    pub fn get(&self, name: &str) -> Option<Cookie<'static>> {
        self.jar.private(&self.key.0).get(name)
    }

    /// Adds (or replaces) a cookie, encrypted, to be set by the response.
    #[must_use = "the jar must be returned for its cookies to be set"]
    #[allow(clippy::should_implement_trait)] // axum-extra's name, which users know
    pub fn add(mut self, cookie: impl Into<Cookie<'static>>) -> PrivateCookieJar {
        self.jar.private_mut(&self.key.0).add(cookie);
        self
    }

    /// Removes the cookie `name` (with `Path=/`): the response expires it.
    #[must_use = "the jar must be returned for its cookies to be removed"]
    pub fn remove(mut self, name: impl Into<Cookie<'static>>) -> PrivateCookieJar {
        self.jar.private_mut(&self.key.0).remove(name);
        self
    }
}

impl FromRequestParts for PrivateCookieJar {
    fn from_request_parts(req: &Request) -> Result<Self, AppError> {
        Ok(PrivateCookieJar {
            jar: request_jar(req),
            key: router_key(req)?,
        })
    }

    fn required_state() -> Option<(TypeId, &'static str)> {
        Some((TypeId::of::<CookieKey>(), type_name::<CookieKey>()))
    }
}

impl<T: IntoResponse> IntoResponse for (PrivateCookieJar, T) {
    fn into_response(self) -> Response {
        with_changes(&self.0.jar, self.1.into_response())
    }
}

/// The cookies of every `Cookie` field of `req`, as the jar's originals; pairs that do
/// not parse are skipped.
fn request_jar(req: &Request) -> cookie::CookieJar {
    let mut jar = cookie::CookieJar::new();
    for (name, value) in req.headers() {
        if !name.eq_ignore_ascii_case("cookie") {
            continue;
        }
        let Ok(value) = std::str::from_utf8(value) else {
            continue;
        };
        for cookie in Cookie::split_parse_encoded(value.to_owned()).flatten() {
            jar.add_original(cookie);
        }
    }
    jar
}

/// The router's key (checked at startup, so missing only through a hand-written
/// extractor).
fn router_key(req: &Request) -> Result<CookieKey, AppError> {
    req.state::<CookieKey>().cloned().ok_or_else(|| {
        AppError::internal(format!(
            "no CookieKey: give the router one with Router::with_state (from {COOKIE_KEY_VAR})"
        ))
    })
}

/// `res` with a `Set-Cookie` field for each change made to `jar`.
fn with_changes(jar: &cookie::CookieJar, mut res: Response) -> Response {
    for cookie in jar.delta() {
        res = res.with_cookie(cookie);
    }
    res
}

impl Response {
    /// Adds a `Set-Cookie` field for `cookie` (its value percent-encoded). Build it with
    /// [`secure_cookie`] for Keel's secure defaults.
    ///
    /// # Examples
    ///
    /// ```
    /// use keel_http::{Response, secure_cookie};
    ///
    /// let res = Response::text("hi").with_cookie(&secure_cookie("lang", "en gb").build());
    /// assert_eq!(
    ///     res.header("set-cookie"),
    ///     Some("lang=en%20gb; HttpOnly; SameSite=Lax; Secure; Path=/")
    /// );
    /// ```
    pub fn with_cookie(self, cookie: &Cookie<'_>) -> Response {
        self.with_header("set-cookie", cookie.encoded().to_string())
    }
}
