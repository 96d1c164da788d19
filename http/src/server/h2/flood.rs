//! The flood guard of one HTTP/2 connection: it reads the frame headers going each way
//! (9 bytes per frame, no payload) as the bytes pass through [`H2Io`](super::io::H2Io),
//! and trips — the connection then ends with `GOAWAY(ENHANCE_YOUR_CALM)` — when a client
//! spends one of its budgets. The `h2` crate already refuses some floods itself (streams
//! reset before they are accepted, CONTINUATION frames past the header list size, empty
//! DATA frames); these are the ones it answers without limit:
//!
//! | budget | spent by (client → server) | refilled by | cap, per second |
//! |---|---|---|---|
//! | control | `PING`, `SETTINGS` (not acks), `PRIORITY`, unknown frame types | a `DATA` frame sent (a ping per data frame is what a BDP estimator sends) | 1000, 100/s |
//! | window updates | `WINDOW_UPDATE` | 10 per `DATA` frame sent | 1000, 100/s |
//! | resets | `RST_STREAM` (rapid reset, CVE-2023-44487) | a stream the server ended (`END_STREAM` sent) | 2 × max concurrent streams (at least 200), 50/s |
//! | unseen streams | a `HEADERS` frame that opened no stream the application saw (refused, reset or too large: an HPACK bomb) | — | 2 per accepted stream + max concurrent streams + 100 |
//!
//! Every count is a plain `Cell` on the connection's loop; a frame costs a few
//! comparisons.

use std::cell::Cell;

use keel_runtime::time::CoarseInstant;

/// The connection preface a client sends before its first frame.
pub(super) const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const PRIORITY: u8 = 0x2;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const WINDOW_UPDATE: u8 = 0x8;
const CONTINUATION: u8 = 0x9;
const GOAWAY: u8 = 0x7;
const PUSH_PROMISE: u8 = 0x5;

const FLAG_ACK: u8 = 0x1;
const FLAG_END_STREAM: u8 = 0x1;

/// A frame's 9-byte header: its type, flags and payload length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FrameHead {
    kind: u8,
    flags: u8,
}

/// Finds the frame headers in a byte stream fed in pieces of any size.
#[derive(Debug, Clone, Copy)]
struct FrameScanner {
    header: [u8; 9],
    have: usize,
    /// Payload (or preface) bytes still to pass over before the next header.
    skip: usize,
}

impl FrameScanner {
    fn new(skip: usize) -> FrameScanner {
        FrameScanner {
            header: [0; 9],
            have: 0,
            skip,
        }
    }

    fn feed(&mut self, mut bytes: &[u8], mut on_frame: impl FnMut(FrameHead)) {
        while !bytes.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(bytes.len());
                self.skip -= n;
                bytes = &bytes[n..];
                continue;
            }
            let n = (9 - self.have).min(bytes.len());
            self.header[self.have..self.have + n].copy_from_slice(&bytes[..n]);
            self.have += n;
            bytes = &bytes[n..];
            if self.have == 9 {
                let h = self.header;
                self.skip = usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
                self.have = 0;
                on_frame(FrameHead {
                    kind: h[3],
                    flags: h[4],
                });
            }
        }
    }
}

/// A count a client spends frame by frame, refilled over time and by useful work.
#[derive(Debug)]
struct Budget {
    left: Cell<u32>,
    cap: u32,
    per_second: u32,
    since: Cell<CoarseInstant>,
}

impl Budget {
    fn new(cap: u32, per_second: u32) -> Budget {
        Budget {
            left: Cell::new(cap),
            cap,
            per_second,
            since: Cell::new(CoarseInstant::now()),
        }
    }

    /// Spends one; `false` when none was left.
    fn spend(&self) -> bool {
        if self.left.get() == 0 {
            // Whole seconds since the last refill give their share back.
            let secs = self.since.get().elapsed().as_secs();
            if secs == 0 {
                return false;
            }
            let back = secs
                .saturating_mul(self.per_second.into())
                .min(self.cap.into());
            self.left.set(back as u32);
            self.since.set(CoarseInstant::now());
        }
        self.left.set(self.left.get() - 1);
        true
    }

    fn refill(&self, n: u32) {
        self.left
            .set(self.left.get().saturating_add(n).min(self.cap));
    }
}

/// Which budget a client spent, named in the log line of the connection it ends.
pub(super) type Flood = &'static str;

/// One connection's budgets and frame scanners (shared by its I/O and its driver).
#[derive(Debug)]
pub(super) struct FloodGuard {
    inbound: Cell<FrameScanner>,
    outbound: Cell<FrameScanner>,
    control: Budget,
    window_updates: Budget,
    resets: Budget,
    headers_in: Cell<u64>,
    accepted: Cell<u64>,
    max_concurrent: u64,
    tripped: Cell<Option<Flood>>,
}

impl FloodGuard {
    /// A guard for a connection allowing `max_concurrent` streams, whose client has yet
    /// to send its preface.
    pub(super) fn new(max_concurrent: u32) -> FloodGuard {
        FloodGuard {
            inbound: Cell::new(FrameScanner::new(PREFACE.len())),
            outbound: Cell::new(FrameScanner::new(0)),
            control: Budget::new(1000, 100),
            window_updates: Budget::new(1000, 100),
            resets: Budget::new(max_concurrent.saturating_mul(2).max(200), 50),
            headers_in: Cell::new(0),
            accepted: Cell::new(0),
            max_concurrent: max_concurrent.into(),
            tripped: Cell::new(None),
        }
    }

    /// The flood that tripped the guard, if any.
    pub(super) fn tripped(&self) -> Option<Flood> {
        self.tripped.get()
    }

    /// The application saw a new stream.
    pub(super) fn accepted(&self) {
        self.accepted.set(self.accepted.get() + 1);
    }

    /// Bytes read from the client.
    pub(super) fn inbound(&self, bytes: &[u8]) {
        let mut scanner = self.inbound.get();
        scanner.feed(bytes, |frame| self.received(frame));
        self.inbound.set(scanner);
    }

    /// Bytes written to the client.
    pub(super) fn outbound(&self, bytes: &[u8]) {
        let mut scanner = self.outbound.get();
        scanner.feed(bytes, |frame| self.sent(frame));
        self.outbound.set(scanner);
    }

    fn received(&self, frame: FrameHead) {
        let (budget, flood) = match frame.kind {
            DATA | CONTINUATION | GOAWAY => return,
            HEADERS => {
                let n = self.headers_in.get() + 1;
                self.headers_in.set(n);
                if n > 2 * self.accepted.get() + self.max_concurrent + 100 {
                    self.trip("unseen streams");
                }
                return;
            }
            SETTINGS | PING if frame.flags & FLAG_ACK != 0 => return,
            RST_STREAM => (&self.resets, "rapid reset"),
            WINDOW_UPDATE => (&self.window_updates, "window update"),
            PING => (&self.control, "ping"),
            SETTINGS => (&self.control, "settings"),
            PRIORITY | PUSH_PROMISE => (&self.control, "priority"),
            _ => (&self.control, "unknown frames"),
        };
        if !budget.spend() {
            self.trip(flood);
        }
    }

    fn sent(&self, frame: FrameHead) {
        match frame.kind {
            DATA => {
                self.control.refill(1);
                self.window_updates.refill(10);
                if frame.flags & FLAG_END_STREAM != 0 {
                    self.resets.refill(1);
                }
            }
            HEADERS if frame.flags & FLAG_END_STREAM != 0 => self.resets.refill(1),
            _ => {}
        }
    }

    /// Records the first flood.
    fn trip(&self, flood: Flood) {
        if self.tripped.get().is_none() {
            self.tripped.set(Some(flood));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
        let len = payload.len();
        let mut f = vec![
            (len >> 16) as u8,
            (len >> 8) as u8,
            len as u8,
            kind,
            flags,
            0,
            0,
            0,
            1,
        ];
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn frames_are_found_across_any_split() {
        let mut bytes = PREFACE.to_vec();
        bytes.extend(frame(SETTINGS, 0, &[0; 6]));
        bytes.extend(frame(PING, 0, &[7; 8]));
        bytes.extend(frame(DATA, 1, &[1; 300]));
        for split in 1..bytes.len() {
            let mut scanner = FrameScanner::new(PREFACE.len());
            let mut seen = Vec::new();
            scanner.feed(&bytes[..split], |f| seen.push(f.kind));
            scanner.feed(&bytes[split..], |f| seen.push(f.kind));
            assert_eq!(seen, [SETTINGS, PING, DATA], "split at {split}");
        }
    }

    #[test]
    fn a_ping_flood_trips_and_acks_do_not_count() {
        let guard = FloodGuard::new(100);
        guard.inbound(PREFACE);
        for _ in 0..5000 {
            guard.inbound(&frame(PING, FLAG_ACK, &[0; 8]));
        }
        assert_eq!(guard.tripped(), None);
        for _ in 0..1001 {
            guard.inbound(&frame(PING, 0, &[0; 8]));
        }
        assert_eq!(guard.tripped(), Some("ping"));
    }

    #[test]
    fn window_updates_are_paid_for_by_data_sent() {
        let guard = FloodGuard::new(100);
        guard.inbound(PREFACE);
        for _ in 0..3000 {
            guard.outbound(&frame(DATA, 0, &[0; 16]));
            guard.inbound(&frame(WINDOW_UPDATE, 0, &[0, 0, 1, 0]));
        }
        assert_eq!(guard.tripped(), None);
        for _ in 0..1001 {
            guard.inbound(&frame(WINDOW_UPDATE, 0, &[0, 0, 1, 0]));
        }
        assert_eq!(guard.tripped(), Some("window update"));
    }

    #[test]
    fn streams_the_application_never_saw_trip() {
        let guard = FloodGuard::new(100);
        guard.inbound(PREFACE);
        for _ in 0..150 {
            guard.inbound(&frame(HEADERS, 5, &[0x82]));
            guard.accepted();
        }
        assert_eq!(guard.tripped(), None);
        for _ in 0..600 {
            guard.inbound(&frame(HEADERS, 5, &[0x82]));
        }
        assert_eq!(guard.tripped(), Some("unseen streams"));
    }
}
