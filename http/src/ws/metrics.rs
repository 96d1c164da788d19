//! The WebSocket families on `/metrics`, per loop (label `loop`):
//! `keel_websockets_open` (sockets open now) and
//! `keel_websocket_messages_total{direction="in"|"out"}` (text and binary messages
//! received and sent; control frames are not counted). Plain loop-local cells, exported
//! by a local collector each loop registers once (when its server starts, so the
//! families are there, at zero, before the first socket).

use std::cell::Cell;

use crate::metrics::{MetricSet, register_local_collector};

thread_local! {
    static OPEN: Cell<u64> = const { Cell::new(0) };
    static IN: Cell<u64> = const { Cell::new(0) };
    static OUT: Cell<u64> = const { Cell::new(0) };
    static REGISTERED: Cell<bool> = const { Cell::new(false) };
}

/// Exports this loop's figures from now on (once per loop thread).
pub(crate) fn register() {
    if REGISTERED.with(|r| r.replace(true)) {
        return;
    }
    register_local_collector(write);
}

pub(crate) fn opened() {
    register();
    OPEN.with(|c| c.set(c.get() + 1));
}

pub(crate) fn closed() {
    OPEN.with(|c| c.set(c.get().saturating_sub(1)));
}

pub(crate) fn message_in() {
    IN.with(|c| c.set(c.get() + 1));
}

pub(crate) fn message_out() {
    OUT.with(|c| c.set(c.get() + 1));
}

fn write(set: &mut MetricSet) {
    let index = keel_runtime::current_loop().unwrap_or(0).to_string();
    let labels = [("loop", index.as_str())];
    set.gauge(
        "keel_websockets_open",
        "WebSocket connections open on this loop.",
        &labels,
        OPEN.with(Cell::get) as f64,
    );
    for (direction, cell) in [("in", &IN), ("out", &OUT)] {
        set.counter(
            "keel_websocket_messages_total",
            "WebSocket text and binary messages received (in) and sent (out) on this loop.",
            &[("loop", index.as_str()), ("direction", direction)],
            cell.with(Cell::get) as f64,
        );
    }
}
