//! [`StatusCode`]: an HTTP status code with named constants.

use std::fmt;

/// An HTTP status code (100–999).
///
/// # Examples
///
/// ```
/// use keel_http::StatusCode;
/// assert_eq!(StatusCode::NOT_FOUND.as_u16(), 404);
/// assert!(StatusCode::BAD_REQUEST.is_client_error());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusCode(u16);

macro_rules! codes {
    ($($name:ident = $code:literal;)*) => {
        impl StatusCode {
            $(
                #[doc = concat!("`", stringify!($code), "`")]
                pub const $name: StatusCode = StatusCode($code);
            )*
        }
    };
}

codes! {
    CONTINUE = 100;
    SWITCHING_PROTOCOLS = 101;
    OK = 200;
    CREATED = 201;
    ACCEPTED = 202;
    NO_CONTENT = 204;
    PARTIAL_CONTENT = 206;
    MOVED_PERMANENTLY = 301;
    FOUND = 302;
    SEE_OTHER = 303;
    NOT_MODIFIED = 304;
    TEMPORARY_REDIRECT = 307;
    PERMANENT_REDIRECT = 308;
    BAD_REQUEST = 400;
    UNAUTHORIZED = 401;
    FORBIDDEN = 403;
    NOT_FOUND = 404;
    METHOD_NOT_ALLOWED = 405;
    REQUEST_TIMEOUT = 408;
    CONFLICT = 409;
    GONE = 410;
    LENGTH_REQUIRED = 411;
    PRECONDITION_FAILED = 412;
    PAYLOAD_TOO_LARGE = 413;
    URI_TOO_LONG = 414;
    UNSUPPORTED_MEDIA_TYPE = 415;
    RANGE_NOT_SATISFIABLE = 416;
    EXPECTATION_FAILED = 417;
    UNPROCESSABLE_ENTITY = 422;
    UPGRADE_REQUIRED = 426;
    TOO_MANY_REQUESTS = 429;
    REQUEST_HEADER_FIELDS_TOO_LARGE = 431;
    INTERNAL_SERVER_ERROR = 500;
    NOT_IMPLEMENTED = 501;
    BAD_GATEWAY = 502;
    SERVICE_UNAVAILABLE = 503;
    GATEWAY_TIMEOUT = 504;
    HTTP_VERSION_NOT_SUPPORTED = 505;
}

impl StatusCode {
    /// The code for `code`, or `None` outside 100–999.
    pub fn from_u16(code: u16) -> Option<StatusCode> {
        (100..=999).contains(&code).then_some(StatusCode(code))
    }

    /// The number.
    pub fn as_u16(self) -> u16 {
        self.0
    }

    /// 4xx.
    pub fn is_client_error(self) -> bool {
        (400..500).contains(&self.0)
    }

    /// 5xx.
    pub fn is_server_error(self) -> bool {
        (500..600).contains(&self.0)
    }

    /// 2xx.
    pub fn is_success(self) -> bool {
        (200..300).contains(&self.0)
    }

    /// The standard reason phrase, if this code has one Keel knows.
    pub fn reason(self) -> Option<&'static str> {
        crate::proto::encode::reason_phrase(self.0)
    }
}

impl fmt::Debug for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason() {
            Some(reason) => write!(f, "{} {reason}", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}
