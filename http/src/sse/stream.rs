//! [`Sse`]: a `text/event-stream` response over any [`Stream`] of [`Event`]s, with
//! keep-alive comments while the stream is quiet — a [`Body::Stream`], so it is written
//! chunked like any streamed body. Ends when the stream does, the client goes away, or
//! the server drains (the browser reconnects elsewhere with `Last-Event-ID`). Also
//! [`unfold`] and [`iter`], two ways to make such a stream without another crate.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_core::Stream;
use keel_runtime::time::{Sleep, sleep_until};

use super::event::Event;
use crate::body::{Body, BodyStream};
use crate::response::{IntoResponse, Response};
use crate::status::StatusCode;

/// Default time between keep-alive comments on a quiet stream: proxies and load
/// balancers commonly close a connection silent for 30–60 s.
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// A server-sent events response: `200`, `text/event-stream`, `Cache-Control: no-cache`,
/// and the events as they come.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use keel_http::sse::{self, Event, Sse};
///
/// async fn countdown() -> Sse {
///     Sse::new(sse::unfold(3u32, |n| async move {
///         keel_runtime::time::sleep(Duration::from_millis(100)).await;
///         (n > 0).then(|| (Event::new().id(&n.to_string()).data("tick"), n - 1))
///     }))
///     .keep_alive(Duration::from_secs(10))
/// }
/// # let _ = keel_http::Router::new().get("/countdown", countdown);
/// ```
pub struct Sse {
    events: Pin<Box<dyn Stream<Item = Event>>>,
    keep_alive: Duration,
}

impl Sse {
    /// The response for `events`.
    pub fn new(events: impl Stream<Item = Event> + 'static) -> Sse {
        Sse {
            events: Box::pin(events),
            keep_alive: DEFAULT_KEEP_ALIVE,
        }
    }

    /// A comment line (`:`) after this long without an event; zero: none. # Default:
    /// 15 s.
    pub fn keep_alive(mut self, interval: Duration) -> Sse {
        self.keep_alive = interval;
        self
    }
}

impl fmt::Debug for Sse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sse")
            .field("keep_alive", &self.keep_alive)
            .finish_non_exhaustive()
    }
}

impl IntoResponse for Sse {
    fn into_response(self) -> Response {
        Response::new(StatusCode::OK)
            .with_header("content-type", "text/event-stream")
            .with_header("cache-control", "no-cache")
            // nginx would otherwise buffer the stream.
            .with_header("x-accel-buffering", "no")
            .with_body(Body::stream(EventBody {
                events: self.events,
                keep_alive: self.keep_alive,
                timer: None,
            }))
    }
}

/// The events, encoded, as a response body.
struct EventBody {
    events: Pin<Box<dyn Stream<Item = Event>>>,
    keep_alive: Duration,
    /// Armed at the first poll (on the connection's loop), reset after each chunk.
    timer: Option<Sleep>,
}

impl EventBody {
    fn rearm(&mut self) {
        if let Some(timer) = &mut self.timer {
            timer.reset(Instant::now() + self.keep_alive);
        }
    }
}

impl BodyStream for EventBody {
    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Vec<u8>, std::io::Error>>> {
        let this = &mut *self;
        match this.events.as_mut().poll_next(cx) {
            Poll::Ready(Some(event)) => {
                this.rearm();
                return Poll::Ready(Some(Ok(event.into_bytes())));
            }
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => {}
        }
        if this.keep_alive.is_zero() {
            return Poll::Pending;
        }
        let keep_alive = this.keep_alive;
        let timer = this
            .timer
            .get_or_insert_with(|| sleep_until(Instant::now() + keep_alive));
        match Pin::new(timer).poll(cx) {
            Poll::Ready(()) => {
                this.rearm();
                Poll::Ready(Some(Ok(b":\n\n".to_vec())))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn ends_on_drain(&self) -> bool {
        true
    }
}

/// A stream made by a loop-local `async` step function: `f(state)` yields the next event
/// and the next state, or `None` to end (like `futures::stream::unfold`).
pub fn unfold<T, F, Fut>(state: T, f: F) -> Unfold<T, F, Fut>
where
    F: FnMut(T) -> Fut,
    Fut: Future<Output = Option<(Event, T)>>,
{
    Unfold {
        state: Some(state),
        f,
        pending: None,
    }
}

/// The stream of [`unfold`].
pub struct Unfold<T, F, Fut> {
    state: Option<T>,
    f: F,
    pending: Option<Pin<Box<Fut>>>,
}

impl<T, F, Fut> fmt::Debug for Unfold<T, F, Fut> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Unfold")
    }
}

impl<T, F, Fut> Stream for Unfold<T, F, Fut>
where
    F: FnMut(T) -> Fut,
    Fut: Future<Output = Option<(Event, T)>>,
{
    type Item = Event;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        // The step's future is boxed: nothing here is pinned in place.
        let this = self.get_mut();
        if this.pending.is_none() {
            let Some(state) = this.state.take() else {
                return Poll::Ready(None);
            };
            this.pending = Some(Box::pin((this.f)(state)));
        }
        let pending = this.pending.as_mut().expect("a step is pending");
        match pending.as_mut().poll(cx) {
            Poll::Ready(step) => {
                this.pending = None;
                match step {
                    Some((event, state)) => {
                        this.state = Some(state);
                        Poll::Ready(Some(event))
                    }
                    None => Poll::Ready(None),
                }
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T, F, Fut> Unpin for Unfold<T, F, Fut> {}

/// The events of `events`, all at once.
pub fn iter<I: IntoIterator<Item = Event>>(events: I) -> Iter<I::IntoIter> {
    Iter(events.into_iter())
}

/// The stream of [`iter`].
#[derive(Debug)]
pub struct Iter<I>(I);

impl<I: Iterator<Item = Event> + Unpin> Stream for Iter<I> {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Event>> {
        Poll::Ready(self.0.next())
    }
}
