//! [`Cors`]: cross-origin resource sharing with an explicit list of origins — preflights
//! answered here (204, or 403 for an origin, method or header not on the lists), CORS
//! headers on the responses to listed origins only, and `*` with credentials refused when
//! the middleware is built.

use std::sync::Arc;
use std::time::Duration;

use crate::error::AppError;
use crate::handler::BoxFuture;
use crate::middleware::security_headers::is_token_byte;
use crate::middleware::{Middleware, Next, add_vary};
use crate::proto::method::Method;
use crate::request::Request;
use crate::response::{IntoResponse, Response};
use crate::status::StatusCode;
use keel_runtime::env::EnvError;

/// The methods allowed when none are given.
pub const DEFAULT_CORS_METHODS: [&str; 6] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];
/// The request headers allowed when none are given.
pub const DEFAULT_CORS_HEADERS: [&str; 3] = ["content-type", "authorization", "x-request-id"];
/// How long browsers may cache a preflight when not set.
pub const DEFAULT_CORS_MAX_AGE: Duration = Duration::from_secs(600);

/// CORS middleware. Build it with [`Cors::builder`].
///
/// * A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is
///   answered here without running the handler: `204` with
///   `Access-Control-Allow-Origin/-Methods/-Headers/-Max-Age` (and `-Credentials`), or a
///   JSON `403` when the origin, the method or a requested header is not allowed.
/// * Any other request runs; when its `Origin` is listed the response gets
///   `Access-Control-Allow-Origin` (the origin itself), `-Credentials` and
///   `-Expose-Headers`. An unlisted origin gets no CORS headers, so the browser blocks
///   the read.
/// * Responses carry `Vary: Origin` unless the origin list is `*`.
///
/// Cheap to clone (an `Arc`); the header values are joined once, when built.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use keel_http::Router;
/// use keel_http::middleware::Cors;
///
/// let cors = Cors::builder()
///     .allow_origins(["https://app.example.com"])
///     .allow_methods(["GET", "POST"])
///     .allow_headers(["content-type", "authorization"])
///     .expose_headers(["x-request-id"])
///     .allow_credentials(true)
///     .max_age(Duration::from_secs(3600))
///     .build()?;
/// let router = Router::new().get("/", || async { "hi" }).layer(cors);
/// # let _ = router;
/// // `*` with credentials is refused:
/// assert!(Cors::builder().allow_origins(["*"]).allow_credentials(true).build().is_err());
/// # Ok::<(), keel_http::config::EnvError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Cors {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// `None`: any origin (`*`).
    origins: Option<Box<[Box<str>]>>,
    methods: Box<[Box<str>]>,
    methods_value: String,
    /// Lowercased.
    headers: Box<[Box<str>]>,
    headers_value: String,
    expose_value: Option<String>,
    credentials: bool,
    max_age_value: String,
}

/// What a request's `Origin` is to the lists.
enum Allowed<'a> {
    /// No `Origin` header: not a CORS request.
    NoOrigin,
    /// Listed (or `*`): the value for `Access-Control-Allow-Origin`.
    Yes(&'a str),
    /// Not listed.
    No,
}

impl Cors {
    /// A builder: no origins, the default methods, headers and max-age, no credentials.
    pub fn builder() -> CorsBuilder {
        CorsBuilder {
            origins: Vec::new(),
            methods: DEFAULT_CORS_METHODS.iter().map(|&m| m.to_owned()).collect(),
            headers: DEFAULT_CORS_HEADERS.iter().map(|&h| h.to_owned()).collect(),
            expose: Vec::new(),
            credentials: false,
            max_age: DEFAULT_CORS_MAX_AGE,
        }
    }

    fn check_origin<'a>(&self, origin: Option<&'a str>) -> Allowed<'a> {
        let Some(origin) = origin else {
            return Allowed::NoOrigin;
        };
        match &self.inner.origins {
            None => Allowed::Yes("*"),
            Some(list) if list.iter().any(|o| o.eq_ignore_ascii_case(origin)) => {
                Allowed::Yes(origin)
            }
            Some(_) => Allowed::No,
        }
    }

    fn preflight(&self, req: &Request, origin: Allowed<'_>, method: &str) -> Response {
        let inner = &self.inner;
        let deny = |what: String| {
            let mut res = AppError::new(StatusCode::FORBIDDEN, "cors_denied", what).into_response();
            self.vary(&mut res);
            res
        };
        let origin = match origin {
            Allowed::Yes(origin) => origin,
            _ => return deny("origin not allowed by the CORS policy".to_owned()),
        };
        if !inner.methods.iter().any(|m| **m == *method) {
            return deny(format!("method {method} not allowed by the CORS policy"));
        }
        if let Some(requested) = req.header("access-control-request-headers") {
            for name in requested
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
            {
                if !inner.headers.iter().any(|h| h.eq_ignore_ascii_case(name)) {
                    return deny(format!("header {name} not allowed by the CORS policy"));
                }
            }
        }
        let mut res = Response::new(StatusCode::NO_CONTENT)
            .with_header("access-control-allow-origin", origin.to_owned())
            .with_header("access-control-allow-methods", inner.methods_value.clone())
            .with_header("access-control-max-age", inner.max_age_value.clone());
        if !inner.headers.is_empty() {
            res.set_header("access-control-allow-headers", inner.headers_value.clone());
        }
        if inner.credentials {
            res.set_header("access-control-allow-credentials", "true");
        }
        self.vary(&mut res);
        add_vary(&mut res, "Access-Control-Request-Method");
        add_vary(&mut res, "Access-Control-Request-Headers");
        res
    }

    fn decorate(&self, res: &mut Response, origin: Allowed<'_>) {
        self.vary(res);
        let Allowed::Yes(origin) = origin else {
            return;
        };
        res.set_header("access-control-allow-origin", origin.to_owned());
        if self.inner.credentials {
            res.set_header("access-control-allow-credentials", "true");
        }
        if let Some(expose) = &self.inner.expose_value {
            res.set_header("access-control-expose-headers", expose.clone());
        }
    }

    fn vary(&self, res: &mut Response) {
        if self.inner.origins.is_some() {
            add_vary(res, "Origin");
        }
    }
}

impl Middleware for Cors {
    fn call(&self, req: Request, next: Next) -> BoxFuture<Response> {
        let origin = req.header("origin");
        let allowed = self.check_origin(origin);
        if *req.method() == Method::Options
            && !matches!(allowed, Allowed::NoOrigin)
            && let Some(method) = req.header("access-control-request-method")
        {
            let res = self.preflight(&req, allowed, method.trim());
            return Box::pin(std::future::ready(res));
        }
        // Keep only what the response needs past the handler: the allowed origin.
        let allowed = match allowed {
            Allowed::Yes(o) => Some(o.to_owned()),
            Allowed::No | Allowed::NoOrigin => None,
        };
        let this = self.clone();
        Box::pin(async move {
            let mut res = next.run(req).await;
            let allowed = match &allowed {
                Some(o) => Allowed::Yes(o),
                None => Allowed::No,
            };
            this.decorate(&mut res, allowed);
            res
        })
    }
}

/// Configures [`Cors`]; [`build`](CorsBuilder::build) checks the settings.
#[derive(Debug, Clone)]
pub struct CorsBuilder {
    origins: Vec<String>,
    methods: Vec<String>,
    headers: Vec<String>,
    expose: Vec<String>,
    credentials: bool,
    max_age: Duration,
}

impl CorsBuilder {
    /// The origins allowed, such as `https://app.example.com` (scheme, host, optional
    /// port; no path). `*` alone allows any origin, and cannot be combined with
    /// credentials.
    ///
    /// # Default
    ///
    /// None: no cross-origin request is allowed.
    pub fn allow_origins<I, S>(mut self, origins: I) -> CorsBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.origins = origins.into_iter().map(Into::into).collect();
        self
    }

    /// The methods a preflight may ask for.
    ///
    /// # Default
    ///
    /// [`DEFAULT_CORS_METHODS`].
    pub fn allow_methods<I, S>(mut self, methods: I) -> CorsBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.methods = methods.into_iter().map(Into::into).collect();
        self
    }

    /// The request headers a preflight may ask for (case-insensitive).
    ///
    /// # Default
    ///
    /// [`DEFAULT_CORS_HEADERS`].
    pub fn allow_headers<I, S>(mut self, headers: I) -> CorsBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.headers = headers.into_iter().map(Into::into).collect();
        self
    }

    /// The response headers the browser lets scripts read
    /// (`Access-Control-Expose-Headers`).
    ///
    /// # Default
    ///
    /// None.
    pub fn expose_headers<I, S>(mut self, headers: I) -> CorsBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.expose = headers.into_iter().map(Into::into).collect();
        self
    }

    /// Whether cookies and `Authorization` may be sent
    /// (`Access-Control-Allow-Credentials: true`).
    ///
    /// # Default
    ///
    /// `false`.
    pub fn allow_credentials(mut self, allow: bool) -> CorsBuilder {
        self.credentials = allow;
        self
    }

    /// How long a browser may cache a preflight (`Access-Control-Max-Age`, whole
    /// seconds).
    ///
    /// # Default
    ///
    /// [`DEFAULT_CORS_MAX_AGE`].
    pub fn max_age(mut self, max_age: Duration) -> CorsBuilder {
        self.max_age = max_age;
        self
    }

    /// The middleware.
    ///
    /// # Errors
    ///
    /// `*` with credentials; `*` mixed with origins; an origin that is not
    /// `scheme://host[:port]`; a method or header that is not an HTTP token. The error
    /// names the setting (`cors.allow_origins`, …).
    pub fn build(self) -> Result<Cors, EnvError> {
        let wildcard = self.origins.iter().any(|o| o == "*");
        let origins = if wildcard {
            if self.credentials {
                return Err(EnvError::new(
                    "cors.allow_origins",
                    "*",
                    "explicit origins when cors.allow_credentials is true \
                     (browsers refuse `*` with credentials)",
                ));
            }
            if self.origins.len() > 1 {
                return Err(EnvError::new(
                    "cors.allow_origins",
                    &self.origins.join(","),
                    "either `*` alone or a list of origins",
                ));
            }
            None
        } else {
            for origin in &self.origins {
                if !is_origin(origin) {
                    return Err(EnvError::new(
                        "cors.allow_origins",
                        origin,
                        "an origin such as https://app.example.com (no path, no trailing /)",
                    ));
                }
            }
            Some(self.origins.iter().map(|o| o.as_str().into()).collect())
        };
        check_tokens("cors.allow_methods", &self.methods)?;
        check_tokens("cors.allow_headers", &self.headers)?;
        check_tokens("cors.expose_headers", &self.expose)?;
        let headers: Box<[Box<str>]> = self
            .headers
            .iter()
            .map(|h| h.to_ascii_lowercase().into())
            .collect();
        Ok(Cors {
            inner: Arc::new(Inner {
                origins,
                methods_value: self.methods.join(", "),
                methods: self.methods.iter().map(|m| m.as_str().into()).collect(),
                headers_value: headers.join(", "),
                headers,
                expose_value: (!self.expose.is_empty()).then(|| self.expose.join(", ")),
                credentials: self.credentials,
                max_age_value: self.max_age.as_secs().to_string(),
            }),
        })
    }
}

fn check_tokens(setting: &str, values: &[String]) -> Result<(), EnvError> {
    for value in values {
        if value.is_empty() || !value.bytes().all(is_token_byte) {
            return Err(EnvError::new(setting, value, "an HTTP token"));
        }
    }
    Ok(())
}

/// `scheme://host[:port]` with a letter-led scheme and no path, query or userinfo.
fn is_origin(origin: &str) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    let host_ok = !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b));
    scheme_ok && host_ok
}
