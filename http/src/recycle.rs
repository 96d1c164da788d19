//! Per-thread shelves of the buffers every request needs — the parsed head's header
//! index, the copy of the head's bytes, the response's header list — so that a loop
//! serving steadily allocates none of them: a [`Request`](crate::Request) puts its
//! buffers back when it drops, the connection puts a response's header list back once
//! it is encoded, and the next request takes them from the shelf.
//!
//! A shelf keeps at most [`MAX_KEPT`] buffers, each emptied and no larger than a small
//! cap, so an unusual request (hundreds of headers, a 16 KiB head) never pins its
//! memory. Buffers dropped on another thread land on that thread's shelf or are freed:
//! nothing is shared, nothing locks. Taking from an empty shelf is a plain `new()`.

use std::cell::RefCell;

use crate::header::{HeaderName, HeaderValue};
use crate::proto::HeaderSpan;

/// Buffers kept per shelf and thread: enough for the requests one loop has in flight
/// at once in the common case (one per pipelined request being answered).
const MAX_KEPT: usize = 32;
/// Largest head-bytes buffer kept (bytes).
const MAX_BYTES: usize = 4 * 1024;
/// Largest header index or header list kept (entries).
const MAX_ENTRIES: usize = 64;

/// A response's header list.
pub(crate) type HeaderList = Vec<(HeaderName, HeaderValue)>;

/// What a request gives back: its head's bytes and its header index.
pub(crate) type RequestBuffers = (Vec<u8>, Vec<HeaderSpan>);

struct Shelves {
    requests: RefCell<Vec<RequestBuffers>>,
    headers: RefCell<Vec<HeaderList>>,
}

thread_local! {
    static SHELVES: Shelves = const {
        Shelves {
            requests: RefCell::new(Vec::new()),
            headers: RefCell::new(Vec::new()),
        }
    };
}

fn take<T: Default>(shelf: impl FnOnce(&Shelves) -> &RefCell<Vec<T>>) -> T {
    SHELVES
        .try_with(|s| shelf(s).borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_default()
}

fn give<T>(shelf: impl FnOnce(&Shelves) -> &RefCell<Vec<T>>, item: T) {
    // During thread exit the shelf may be gone: the item is simply freed.
    let _ = SHELVES.try_with(|s| {
        let mut shelf = shelf(s).borrow_mut();
        if shelf.len() < MAX_KEPT {
            shelf.push(item);
        }
    });
}

/// Empty buffers for a request: one for its head's bytes, one for its header index.
pub(crate) fn request() -> RequestBuffers {
    take(|s| &s.requests)
}

/// Puts a request's buffers back, emptied; one too large to keep is freed (and replaced
/// by an empty one).
pub(crate) fn give_request((mut bytes, mut index): RequestBuffers) {
    if bytes.capacity() == 0 && index.capacity() == 0 {
        return;
    }
    if bytes.capacity() > MAX_BYTES {
        bytes = Vec::new();
    }
    if index.capacity() > MAX_ENTRIES {
        index = Vec::new();
    }
    bytes.clear();
    index.clear();
    give(|s| &s.requests, (bytes, index));
}

/// An empty header list for a response.
pub(crate) fn headers() -> HeaderList {
    take(|s| &s.headers)
}

/// Puts a response's header list back, emptied (its names and values drop here).
pub(crate) fn give_headers(mut headers: HeaderList) {
    if headers.capacity() > 0 && headers.capacity() <= MAX_ENTRIES {
        headers.clear();
        give(|s| &s.headers, headers);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_empty_with_their_memory() {
        let (mut b, i) = request();
        b.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
        let ptr = b.as_ptr();
        give_request((b, i));
        let (again, _) = request();
        assert!(again.is_empty());
        assert_eq!(again.as_ptr(), ptr, "the same allocation is reused");

        let mut h = headers();
        h.push(("a".into(), "b".into()));
        give_headers(h);
        let h = headers();
        assert!(h.is_empty() && h.capacity() > 0);
    }

    #[test]
    fn large_buffers_and_full_shelves_are_freed() {
        give_request((Vec::with_capacity(MAX_BYTES + 1), Vec::with_capacity(4)));
        let (bytes, index) = request();
        assert_eq!(bytes.capacity(), 0, "too large to keep");
        assert!(index.capacity() >= 4, "the index is kept");

        for _ in 0..MAX_KEPT + 10 {
            give_request((Vec::with_capacity(16), Vec::new()));
        }
        let kept = SHELVES.with(|s| s.requests.borrow().len());
        assert_eq!(kept, MAX_KEPT);
    }
}
