//! [`TraceId`] and [`SpanId`]: the W3C Trace Context identifiers, their lowercase-hex
//! form, and new random ones.
//!
//! New ids come from a per-thread counter run through SipHash with keys drawn at random
//! per thread (std's `RandomState`, as request ids are made): unique on the thread,
//! unpredictable without the keys, no syscall and no lock per id.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;

/// A 16-byte trace id, never all zeros.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceId([u8; 16]);

/// An 8-byte span id, never all zeros.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanId([u8; 8]);

thread_local! {
    static KEYS: (RandomState, RandomState, Cell<u64>) =
        (RandomState::new(), RandomState::new(), const { Cell::new(0) });
}

/// Two fresh random words (never both zero).
fn random_words() -> (u64, u64) {
    KEYS.with(|(a, b, counter)| {
        loop {
            let n = counter.get().wrapping_add(1);
            counter.set(n);
            let words = (a.hash_one(n), b.hash_one(n));
            if words != (0, 0) {
                return words;
            }
        }
    })
}

impl TraceId {
    /// A new random trace id.
    pub fn random() -> TraceId {
        let (hi, lo) = random_words();
        let mut bytes = [0; 16];
        bytes[..8].copy_from_slice(&hi.to_be_bytes());
        bytes[8..].copy_from_slice(&lo.to_be_bytes());
        TraceId(bytes)
    }

    /// The id from its bytes; `None` for all zeros (the invalid id).
    pub fn from_bytes(bytes: [u8; 16]) -> Option<TraceId> {
        (bytes != [0; 16]).then_some(TraceId(bytes))
    }

    /// The 32 lowercase hex digits; `None` for anything else or all zeros.
    pub fn from_hex(hex: &str) -> Option<TraceId> {
        let mut bytes = [0; 16];
        decode_hex(hex, &mut bytes)?;
        TraceId::from_bytes(bytes)
    }

    /// The bytes.
    pub fn to_bytes(self) -> [u8; 16] {
        self.0
    }

    /// The low 8 bytes as a number: what a trace-id ratio sampler compares.
    pub(crate) fn low_u64(self) -> u64 {
        let mut low = [0; 8];
        low.copy_from_slice(&self.0[8..]);
        u64::from_be_bytes(low)
    }
}

impl SpanId {
    /// A new random span id.
    pub fn random() -> SpanId {
        let (hi, lo) = random_words();
        let id = if hi != 0 { hi } else { lo };
        SpanId(id.to_be_bytes())
    }

    /// The id from its bytes; `None` for all zeros (the invalid id).
    pub fn from_bytes(bytes: [u8; 8]) -> Option<SpanId> {
        (bytes != [0; 8]).then_some(SpanId(bytes))
    }

    /// The 16 lowercase hex digits; `None` for anything else or all zeros.
    pub fn from_hex(hex: &str) -> Option<SpanId> {
        let mut bytes = [0; 8];
        decode_hex(hex, &mut bytes)?;
        SpanId::from_bytes(bytes)
    }

    /// The bytes.
    pub fn to_bytes(self) -> [u8; 8] {
        self.0
    }
}

/// Decodes exactly `out.len() * 2` lowercase hex digits (W3C Trace Context allows no
/// uppercase).
pub(crate) fn decode_hex(hex: &str, out: &mut [u8]) -> Option<()> {
    let hex = hex.as_bytes();
    if hex.len() != out.len() * 2 {
        return None;
    }
    let digit = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    };
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(())
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for b in bytes {
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

impl fmt::Display for TraceId {
    /// 32 lowercase hex digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

impl fmt::Display for SpanId {
    /// 16 lowercase hex digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_rejects_bad_forms() {
        let t = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
        assert_eq!(t.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(TraceId::from_hex("4BF92F3577B34DA6A3CE929D0E0E4736").is_none());
        assert!(TraceId::from_hex(&"0".repeat(32)).is_none());
        assert!(TraceId::from_hex("4bf92f").is_none());
        let s = SpanId::from_hex("00f067aa0ba902b7").unwrap();
        assert_eq!(s.to_string(), "00f067aa0ba902b7");
        assert!(SpanId::from_hex("00f067aa0ba902bg").is_none());
        assert!(SpanId::from_hex(&"0".repeat(16)).is_none());
    }

    #[test]
    fn random_ids_differ() {
        assert_ne!(TraceId::random(), TraceId::random());
        assert_ne!(SpanId::random(), SpanId::random());
    }
}
