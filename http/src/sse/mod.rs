//! Server-sent events: [`Sse`], a `text/event-stream` response over a stream of
//! [`Event`]s (`event`, `id`, `retry` and `data` fields, keep-alive comments while
//! quiet), and [`LastEventId`], the header a reconnecting browser resumes with.
//!
//! * [`event`]: [`Event`] and its encoding;
//! * [`stream`]: [`Sse`], its body, and [`unfold`]/[`iter`] to make event streams;
//! * [`last_event_id`]: the [`LastEventId`] extractor.
//!
//! An `Sse` is a streamed body ([`Body::Stream`](crate::Body::Stream)): written chunked
//! on HTTP/1.1, through every middleware, counted by the dispatch like any response. It
//! ends when the server drains (browsers reconnect, to another instance, with
//! `Last-Event-ID`). See `docs/websocket.md#server-sent-events`.

pub mod event;
pub mod last_event_id;
pub mod stream;

pub use self::event::Event;
pub use self::last_event_id::LastEventId;
pub use self::stream::{DEFAULT_KEEP_ALIVE, Iter, Sse, Unfold, iter, unfold};
