//! Fuzzes the chunked body decoder: the first byte picks a split point, and decoding the rest
//! in two pieces must give the same result as decoding it whole.
#![no_main]

use keel_http::fuzzing::Decoder;
use libfuzzer_sys::fuzz_target;

/// The body and the bytes consumed when complete, `None` on an error or when incomplete.
fn decode(pieces: &[&[u8]]) -> Option<(Vec<u8>, usize)> {
    let mut dec = Decoder::chunked(1 << 20);
    let (mut body, mut consumed) = (Vec::new(), 0);
    for piece in pieces {
        let progress = dec
            .decode(piece, |data| body.extend_from_slice(data))
            .ok()?;
        consumed += progress.consumed;
        if progress.done {
            return Some((body, consumed));
        }
    }
    None
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, data)) = data.split_first() else {
        return;
    };
    let at = usize::from(split) % (data.len() + 1);
    assert_eq!(decode(&[data]), decode(&[&data[..at], &data[at..]]));
});
