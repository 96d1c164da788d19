//! A streamed response body for tests ([`SlowChunks`]): fixed chunks handed out one at a
//! time, each after a pause on the runtime's timer, so the connection has to await the
//! stream between them (and a client sees them as separate reads).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use keel_http::BodyStream;
use keel_runtime::time::{Sleep, sleep};

/// `chunks`, one per poll that finds its pause over.
#[derive(Debug)]
pub struct SlowChunks {
    chunks: VecDeque<Vec<u8>>,
    pause: Duration,
    delay: Option<Pin<Box<Sleep>>>,
}

impl SlowChunks {
    /// Streams `chunks`, waiting `pause` before each one.
    pub fn new(chunks: VecDeque<Vec<u8>>, pause: Duration) -> SlowChunks {
        SlowChunks {
            chunks,
            pause,
            delay: None,
        }
    }
}

impl BodyStream for SlowChunks {
    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Vec<u8>, std::io::Error>>> {
        let this = &mut *self;
        let pause = this.pause;
        let delay = this.delay.get_or_insert_with(|| Box::pin(sleep(pause)));
        if delay.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        this.delay = None;
        Poll::Ready(this.chunks.pop_front().map(Ok))
    }
}
