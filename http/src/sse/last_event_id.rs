//! [`LastEventId`]: the `Last-Event-ID` header a reconnecting `EventSource` sends (the
//! `id` of the last event it received), as an extractor.

use crate::error::AppError;
use crate::extract::FromRequestParts;
use crate::request::Request;

/// The id of the last event the client received before it reconnected (its
/// `Last-Event-ID` header), when it sent one: the stream resumes after it.
///
/// # Examples
///
/// ```
/// use keel_http::sse::{Event, LastEventId, Sse};
///
/// async fn events(LastEventId(last): LastEventId) -> Sse {
///     let start: u64 = last.and_then(|id| id.parse().ok()).map_or(0, |id: u64| id + 1);
///     Sse::new(keel_http::sse::iter((start..start + 3).map(|i| Event::new().id(&i.to_string()).data("tick"))))
/// }
/// # let _ = keel_http::Router::new().get("/events", events);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LastEventId(pub Option<String>);

impl FromRequestParts for LastEventId {
    fn from_request_parts(req: &Request) -> Result<Self, AppError> {
        Ok(LastEventId(req.header("last-event-id").map(str::to_owned)))
    }
}
