//! [`Body`]: what a response carries — nothing, bytes (static or owned), or a stream of
//! chunks sent with chunked framing.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A source of body chunks for a streamed response. Each `Some(Ok(chunk))` is written as
/// one HTTP chunk; `None` ends the body; an error aborts the connection (the client sees
/// a truncated chunked body, never a silently short one).
pub trait BodyStream {
    /// Polls for the next chunk.
    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Vec<u8>, std::io::Error>>>;

    /// Whether the server ends this body (cleanly, as if the stream had ended) when it
    /// drains: for streams that never end on their own, such as server-sent events,
    /// which would otherwise hold the drain to its deadline. # Default: `false` (the
    /// drain waits for the body).
    fn ends_on_drain(&self) -> bool {
        false
    }
}

/// A response body.
///
/// # Examples
///
/// ```
/// use keel_http::Body;
/// let body = Body::from("hello");
/// assert_eq!(body.len(), Some(5));
/// assert_eq!(Body::empty().len(), Some(0));
/// ```
#[derive(Default)]
pub enum Body {
    /// No body (`Content-Length: 0`).
    #[default]
    Empty,
    /// Bytes that live for the whole program: no copy, no allocation.
    Static(&'static [u8]),
    /// Owned bytes.
    Bytes(Vec<u8>),
    /// Chunks produced over time (`Transfer-Encoding: chunked`).
    Stream(Pin<Box<dyn BodyStream>>),
}

impl Body {
    /// No body.
    pub fn empty() -> Body {
        Body::Empty
    }

    /// A streamed body.
    pub fn stream(stream: impl BodyStream + 'static) -> Body {
        Body::Stream(Box::pin(stream))
    }

    /// The size when known up front; `None` for streams.
    pub fn len(&self) -> Option<u64> {
        match self {
            Body::Empty => Some(0),
            Body::Static(b) => Some(b.len() as u64),
            Body::Bytes(b) => Some(b.len() as u64),
            Body::Stream(_) => None,
        }
    }

    /// Whether the body is known to be empty.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// The bytes of a sized body (`None` for streams).
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Body::Empty => Some(&[]),
            Body::Static(b) => Some(b),
            Body::Bytes(b) => Some(b),
            Body::Stream(_) => None,
        }
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Body::Empty => f.write_str("Body::Empty"),
            Body::Static(b) => write!(f, "Body::Static({} bytes)", b.len()),
            Body::Bytes(b) => write!(f, "Body::Bytes({} bytes)", b.len()),
            Body::Stream(_) => f.write_str("Body::Stream"),
        }
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Body {
        Body::Static(s.as_bytes())
    }
}

impl From<&'static [u8]> for Body {
    fn from(b: &'static [u8]) -> Body {
        Body::Static(b)
    }
}

impl From<String> for Body {
    fn from(s: String) -> Body {
        Body::Bytes(s.into_bytes())
    }
}

impl From<Vec<u8>> for Body {
    fn from(b: Vec<u8>) -> Body {
        Body::Bytes(b)
    }
}
