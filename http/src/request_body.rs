//! [`RequestBody`]: a request body read as it arrives, chunk by chunk, with
//! backpressure — the connection reads from the client only as fast as the handler
//! asks for chunks — within the route's body limit.
//!
//! A route opts in with [`Router::streaming_body`](crate::Router::streaming_body): the
//! server then hands its handler the body unread, as a [`BodySource`] the protocol
//! implements (HTTP/1.1: `server/h1/stream_body.rs`, fed from the connection's read
//! buffer; HTTP/2: the stream's DATA frames, the window given back as each
//! chunk is taken). On any other route the body was read whole before the handler ran,
//! and a `RequestBody` yields it as one chunk.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;

use crate::error::AppError;
use crate::extract::FromRequest;
use crate::request::Request;

/// Where a streamed body's chunks come from: implemented by each protocol.
pub(crate) trait BodySource {
    /// The next chunk; `None` at the body's end. An error (over the limit: 413; too
    /// slow: 408; malformed framing: 400; the client left) ends the body.
    fn poll_chunk(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, AppError>>>;
}

/// The request body as a stream of chunks: a handler's last argument.
///
/// On a route marked with [`Router::streaming_body`](crate::Router::streaming_body) the
/// body is read from the client only as the handler asks for it (HTTP/1.1's
/// `100 Continue` goes out at the first ask), so a body of any size passes through in
/// bounded memory; the route's [`body_limit`](crate::Router::body_limit) still holds,
/// and a body over it ends in a 413 error from [`chunk`](RequestBody::chunk) (return it:
/// the client gets the 413). On other routes it yields the already-read body at once.
///
/// Read the body while the handler runs: once the response is returned, the
/// connection takes back its socket, and a body the handler did not read to its end
/// closes the HTTP/1.1 connection after the response.
///
/// # Examples
///
/// ```
/// use keel_http::{AppError, RequestBody, Router};
///
/// async fn count(mut body: RequestBody) -> Result<String, AppError> {
///     let mut total = 0;
///     while let Some(chunk) = body.chunk().await? {
///         total += chunk.len();
///     }
///     Ok(format!("{total} bytes"))
/// }
/// let _ = Router::new().post("/count", count).streaming_body("/count");
/// ```
pub struct RequestBody {
    source: Source,
}

enum Source {
    /// Read in full before the handler ran (taken at the first chunk).
    Buffered(Option<Bytes>),
    Streamed(Pin<Box<dyn BodySource>>),
}

impl RequestBody {
    /// A body read from `source` as the handler asks.
    pub(crate) fn streamed(source: impl BodySource + 'static) -> RequestBody {
        RequestBody {
            source: Source::Streamed(Box::pin(source)),
        }
    }

    /// A body already in memory, yielded as one chunk.
    pub fn from_bytes(bytes: impl Into<Bytes>) -> RequestBody {
        let bytes = bytes.into();
        RequestBody {
            source: Source::Buffered((!bytes.is_empty()).then_some(bytes)),
        }
    }

    /// The next chunk, or `None` at the end of the body.
    ///
    /// # Errors
    ///
    /// 413 when the body goes over the route's limit, 408 when it does not arrive
    /// within the request timeout, 400 for broken chunked framing, and 400 when the
    /// client goes away mid-body. Return the error from the handler to answer it.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, AppError> {
        std::future::poll_fn(|cx| self.poll_chunk(cx))
            .await
            .transpose()
    }

    /// Reads the whole body into memory, refusing it with 413 past `limit` bytes (the
    /// route's limit holds too).
    ///
    /// # Errors
    ///
    /// As [`chunk`](RequestBody::chunk), and 413 past `limit`.
    pub async fn to_vec(mut self, limit: usize) -> Result<Vec<u8>, AppError> {
        let mut out = Vec::new();
        while let Some(chunk) = self.chunk().await? {
            if out.len() + chunk.len() > limit {
                return Err(AppError::new(
                    crate::StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!("request body is over {limit} bytes"),
                ));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, AppError>>> {
        match &mut self.source {
            Source::Buffered(bytes) => Poll::Ready(bytes.take().map(Ok)),
            Source::Streamed(source) => source.as_mut().poll_chunk(cx),
        }
    }
}

/// The chunks as a [`Stream`](futures_core::Stream), for crates that read one (such as
/// [`multer`](https://docs.rs/multer), which parses `multipart/form-data` from one).
impl futures_core::Stream for RequestBody {
    type Item = Result<Bytes, AppError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_chunk(cx)
    }
}

impl FromRequest for RequestBody {
    fn from_request(req: &mut Request) -> Result<Self, AppError> {
        Ok(match req.take_extension::<RequestBody>() {
            Some(streamed) => streamed,
            None => RequestBody::from_bytes(req.take_body()),
        })
    }
}

impl fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::Buffered(b) => write!(
                f,
                "RequestBody::Buffered({} bytes)",
                b.as_ref().map_or(0, Bytes::len)
            ),
            Source::Streamed(_) => f.write_str("RequestBody::Streamed"),
        }
    }
}
