//! [`Body`]: what a response carries — nothing, bytes (static or owned), or a stream of
//! chunks sent with chunked framing (HTTP/1.1) or as DATA frames (HTTP/2), optionally
//! ending in trailer fields ([`BodyStream::trailers`], [`Body::with_trailers`]).

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::header::{HeaderName, HeaderValue};

/// A source of body chunks for a streamed response. Each `Some(Ok(chunk))` is written as
/// one HTTP chunk (HTTP/2: DATA frames, as the client's flow-control window allows);
/// `None` ends the body; an error aborts the connection (HTTP/2: resets the stream), so
/// the client sees a truncated body, never a silently short one.
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

    /// The body's exact length, when the stream knows it up front (a file's range, say):
    /// HTTP/1.1 then frames it with `Content-Length` instead of chunks (so `HEAD` and
    /// HTTP/1.0 clients see the size and the connection stays open), and HTTP/2 sends
    /// `content-length`. A stream that then yields more or fewer bytes aborts the
    /// connection. # Default: `None` (unknown).
    fn exact_len(&self) -> Option<u64> {
        None
    }

    /// Trailer fields sent after the last chunk (asked once, after `poll_next` gave
    /// `None`), e.g. gRPC's `grpc-status`. Sent over HTTP/2 as a final HEADERS frame;
    /// HTTP/1.1 responses leave them out. # Default: none.
    fn trailers(self: Pin<&mut Self>) -> Option<Vec<(HeaderName, HeaderValue)>> {
        None
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

    /// `body` followed by the trailer fields `trailers` (gRPC's `grpc-status` and
    /// `grpc-message`, say): a stream of one chunk (see [`BodyStream::trailers`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use keel_http::Body;
    /// let body = Body::with_trailers(vec![0, 0, 0, 0, 0], vec![("grpc-status".into(), "0".into())]);
    /// assert_eq!(body.len(), None);
    /// ```
    pub fn with_trailers(
        body: impl Into<Vec<u8>>,
        trailers: Vec<(HeaderName, HeaderValue)>,
    ) -> Body {
        Body::stream(WithTrailers {
            body: Some(body.into()),
            trailers: Some(trailers),
        })
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

/// A body of one chunk, then trailers ([`Body::with_trailers`]).
struct WithTrailers {
    body: Option<Vec<u8>>,
    trailers: Option<Vec<(HeaderName, HeaderValue)>>,
}

impl BodyStream for WithTrailers {
    fn poll_next(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Vec<u8>, std::io::Error>>> {
        Poll::Ready(self.body.take().map(Ok))
    }

    fn trailers(mut self: Pin<&mut Self>) -> Option<Vec<(HeaderName, HeaderValue)>> {
        self.trailers.take()
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
