//! Request ids the server generates ([`new_request_id`]) when a client sent no usable
//! `X-Request-ID`: 128 bits as 32 lowercase hex characters, built on the stack.
//!
//! # How an id is made
//!
//! Each thread keeps a counter and four keys drawn once from std's `RandomState` (the
//! OS's randomness). An id is two 64-bit halves, each the counter run through its own
//! two rounds of "xor a key, then the murmur3 finaliser". Every round is a bijection
//! of `u64`, so each half is a bijection of the counter: ids never repeat on a thread
//! (for 2⁶⁴ ids), and threads, with their own keys, collide with odds of 2⁻¹²⁸ per pair.
//! Without the keys the next id is not guessable from earlier ones in practice, but
//! this is not a cryptographic generator: an id correlates logs, it is no secret.
//!
//! Cost: a thread-local read, about 30 integer operations and a table-driven hex
//! encoding; no allocation, no `core::fmt`, no syscall.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

/// Length of a generated id in bytes.
const ID_LEN: usize = 32;

/// A generated request id: 32 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct RequestId([u8; ID_LEN]);

impl RequestId {
    /// The id as text.
    pub(crate) fn as_str(&self) -> &str {
        // Only `new_request_id` builds ids, from the ASCII table `HEX_PAIRS`; the
        // fallback is never taken.
        keel_runtime::ascii::as_str(&self.0).unwrap_or("0")
    }
}

impl std::fmt::Debug for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The two hex digits of every byte value.
static HEX_PAIRS: [[u8; 2]; 256] = {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut table = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = [DIGITS[i >> 4], DIGITS[i & 0xf]];
        i += 1;
    }
    table
};

/// Rounds per half.
const ROUNDS: usize = 2;

struct Generator {
    counter: Cell<u64>,
    keys: [[u64; ROUNDS]; 2],
}

thread_local! {
    static GENERATOR: Generator = Generator::new();
}

impl Generator {
    fn new() -> Generator {
        // One `RandomState` holds 128 random bits; each key hashes a distinct small
        // integer under a fresh one, so the keys are independent of each other.
        let mut keys = [[0u64; ROUNDS]; 2];
        for (half, row) in keys.iter_mut().enumerate() {
            for (round, key) in row.iter_mut().enumerate() {
                *key = RandomState::new().hash_one((half, round));
            }
        }
        Generator {
            counter: Cell::new(0),
            keys,
        }
    }

    fn next(&self) -> RequestId {
        let n = self.counter.get().wrapping_add(1);
        self.counter.set(n);
        let [a, b] = self
            .keys
            .map(|keys| keys.iter().fold(n, |x, &k| fmix64(x ^ k)));
        let bytes = (u128::from(a) << 64 | u128::from(b)).to_be_bytes();
        // Constant indices throughout: no bounds checks, no copies of two-byte slices.
        let mut out = [0u8; ID_LEN];
        for i in 0..ID_LEN / 2 {
            let [hi, lo] = HEX_PAIRS[usize::from(bytes[i])];
            out[2 * i] = hi;
            out[2 * i + 1] = lo;
        }
        RequestId(out)
    }
}

/// Murmur3's 64-bit finaliser: a bijection of `u64` with full avalanche.
fn fmix64(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// A new request id (see the module docs).
pub(crate) fn new_request_id() -> RequestId {
    GENERATOR.with(Generator::next)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn ids_are_32_lowercase_hex_and_distinct() {
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let id = new_request_id();
            let s = id.as_str();
            assert_eq!(s.len(), 32);
            assert!(
                s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
                "{s}"
            );
            assert!(seen.insert(s.to_owned()), "repeated id {s}");
        }
    }

    #[test]
    fn threads_draw_their_own_keys() {
        let here = new_request_id();
        let there = std::thread::spawn(new_request_id).join().unwrap();
        assert_ne!(here, there);
    }

    #[test]
    fn hex_table_matches_fmt() {
        for (i, pair) in HEX_PAIRS.iter().enumerate() {
            assert_eq!(std::str::from_utf8(pair).unwrap(), format!("{i:02x}"));
        }
    }

    #[test]
    fn fmix64_is_a_known_bijection_sample() {
        // Distinct inputs, distinct outputs, and 0 stays 0 (the finaliser's fixed point).
        assert_eq!(fmix64(0), 0);
        let outs: HashSet<u64> = (1..1000u64).map(fmix64).collect();
        assert_eq!(outs.len(), 999);
    }
}
