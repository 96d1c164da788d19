//! Fuzzes the HTTP/1.1 request-head parser: any bytes, default and tiny limits.
#![no_main]

use keel_http::fuzzing::{Limits, parse_request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_request(data, &Limits::default());
    let tiny = Limits {
        max_head_size: 256,
        max_headers: 4,
        max_uri_len: 32,
        max_body_size: 8,
    };
    let _ = parse_request(data, &tiny);
});
