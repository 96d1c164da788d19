//! A request body streamed to its handler on HTTP/2 (routes marked
//! `Router::streaming_body`): the handler's [`RequestBody`](crate::RequestBody) reads the
//! stream's DATA frames as it asks for chunks, and each chunk's bytes go back to the
//! client's flow-control window when the handler takes it — the client sends only as
//! fast as the handler consumes. The route's limit is counted as frames arrive (413).

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use h2::RecvStream;

use crate::error::AppError;
use crate::request_body::BodySource;
use crate::server::render::refusal;
use crate::status::StatusCode;

/// The DATA frames of one stream, within `limit` bytes.
pub(super) struct StreamBody {
    recv: RecvStream,
    limit: u64,
    received: u64,
    /// Set once the body broke: every later read repeats it.
    failed: Option<AppError>,
}

impl StreamBody {
    pub(super) fn new(recv: RecvStream, limit: u64) -> StreamBody {
        StreamBody {
            recv,
            limit,
            received: 0,
            failed: None,
        }
    }
}

impl BodySource for StreamBody {
    fn poll_chunk(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, AppError>>> {
        let this = self.get_mut();
        if let Some(err) = &this.failed {
            return Poll::Ready(Some(Err(err.clone())));
        }
        let outcome = match ready!(this.recv.poll_data(cx)) {
            None => return Poll::Ready(None),
            Some(Ok(data)) => {
                let _ = this.recv.flow_control().release_capacity(data.len());
                this.received += data.len() as u64;
                if this.received <= this.limit {
                    return Poll::Ready(Some(Ok(data)));
                }
                refusal(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("request body is over the limit of {} bytes", this.limit),
                )
            }
            Some(Err(e)) => {
                tracing::debug!(error = %e, "HTTP/2 request body ended early");
                refusal(
                    StatusCode::BAD_REQUEST,
                    "the stream ended before the request body did",
                )
            }
        };
        this.failed = Some(outcome.clone());
        Poll::Ready(Some(Err(outcome)))
    }
}
