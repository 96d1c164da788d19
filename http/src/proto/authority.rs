//! Whether a `Host` field value is a valid authority (RFC 9110 §7.2, RFC 3986 §3.2):
//! `host [":" port]`, where host is an IP-literal (`[` IPv6 or IPvFuture `]`), an IPv4
//! address or a reg-name (unreserved, percent-encoded and sub-delims bytes), and port is
//! one to five digits up to 65535. No userinfo (`@`), no path, query or fragment, no
//! spaces or controls. An empty value is allowed: RFC 9110 has a client send one when
//! the target URI has no authority.

use std::cell::RefCell;
use std::net::Ipv6Addr;

/// The longest `Host` value the per-thread cache of [`is_valid_host`] remembers.
const CACHED_HOST_MAX: usize = 64;

thread_local! {
    /// The last `Host` value found valid on this thread (bytes and length): nearly every
    /// request repeats its connection's, so it is checked once, then compared.
    static LAST_VALID: RefCell<([u8; CACHED_HOST_MAX], usize)> =
        const { RefCell::new(([0; CACHED_HOST_MAX], 0)) };
}

/// Whether `value` (the field value, without surrounding whitespace) is a valid authority.
///
/// A `Host` is checked on every request: the value this thread last found valid is
/// remembered and compared first; otherwise one pass over a reg-name through a byte
/// table, and the rare IP-literal takes the slower path.
pub(crate) fn is_valid_host(value: &[u8]) -> bool {
    if value.is_empty() {
        return true;
    }
    let cacheable = value.len() <= CACHED_HOST_MAX;
    if cacheable && LAST_VALID.with_borrow(|(bytes, len)| &bytes[..*len] == value) {
        return true;
    }
    let valid = check(value);
    if valid && cacheable {
        LAST_VALID.with_borrow_mut(|(bytes, len)| {
            bytes[..value.len()].copy_from_slice(value);
            *len = value.len();
        });
    }
    valid
}

/// The grammar, byte by byte.
fn check(value: &[u8]) -> bool {
    if value[0] == b'[' {
        let Some(close) = value.iter().position(|&b| b == b']') else {
            return false;
        };
        return is_ip_literal(&value[1..close])
            && match &value[close + 1..] {
                [] => true,
                [b':', port @ ..] => is_port(port),
                _ => false,
            };
    }
    // Runs of reg-name bytes, scanned tightly; only `%` and `:` stop a run.
    let mut rest = value;
    loop {
        let run = rest
            .iter()
            .position(|&b| !REG_NAME[usize::from(b)])
            .unwrap_or(rest.len());
        rest = &rest[run..];
        match rest {
            [] => return true,
            [b'%', h, l, tail @ ..] if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                rest = tail;
            }
            // A host is not empty, and what follows the colon is the port.
            [b':', port @ ..] => return rest.len() < value.len() && is_port(port),
            _ => return false,
        }
    }
}

/// `1*5DIGIT`, at most 65535.
fn is_port(port: &[u8]) -> bool {
    if port.is_empty() || port.len() > 5 {
        return false;
    }
    let mut n = 0u32;
    for &b in port {
        if !b.is_ascii_digit() {
            return false;
        }
        n = n * 10 + u32::from(b - b'0');
    }
    n <= 65535
}

/// The bytes of a reg-name besides `%`: unreserved and sub-delims (RFC 3986 §3.2.2).
static REG_NAME: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
            );
        b += 1;
    }
    table
};

/// What is between the brackets: an IPv6 address, or `v` HEXDIG+ `.` followed by
/// unreserved, sub-delims or `:` (IPvFuture).
fn is_ip_literal(inner: &[u8]) -> bool {
    if let [b'v' | b'V', rest @ ..] = inner {
        let Some(dot) = rest.iter().position(|&b| b == b'.') else {
            return false;
        };
        let (version, tail) = (&rest[..dot], &rest[dot + 1..]);
        return !version.is_empty()
            && version.iter().all(u8::is_ascii_hexdigit)
            && !tail.is_empty()
            && tail.iter().all(|&b| REG_NAME[usize::from(b)] || b == b':');
    }
    std::str::from_utf8(inner)
        .ok()
        .is_some_and(|s| s.parse::<Ipv6Addr>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remembered_value_does_not_let_a_bad_one_through() {
        assert!(is_valid_host(b"example.com:8080"));
        assert!(is_valid_host(b"example.com:8080"));
        // Its prefixes and extensions are checked, not taken from the cache.
        assert!(!is_valid_host(b"example.com:80800"));
        assert!(!is_valid_host(b"example.com:8080/x"));
        assert!(!is_valid_host(b"example.com:"));
        assert!(is_valid_host(b"example.com:8080"));
    }

    #[test]
    fn valid_authorities() {
        for ok in [
            "",
            "example.com",
            "example.com:8080",
            "localhost:1",
            "127.0.0.1",
            "127.0.0.1:65535",
            "[::1]",
            "[::1]:3000",
            "[2001:db8::7]:443",
            "[v1.fe80::a+en1]",
            "xn--bcher-kva.example",
            "a%2Db.example",
            "under_score.example",
            "sub!$&'()*+,;=delims",
        ] {
            assert!(is_valid_host(ok.as_bytes()), "{ok:?} should be valid");
        }
    }

    #[test]
    fn each_class_of_bad_value_is_refused() {
        for (bad, why) in [
            ("user@example.com", "userinfo"),
            ("user:pw@example.com", "userinfo with a password"),
            ("example.com/path", "a path"),
            ("example.com?q", "a query"),
            ("example.com#f", "a fragment"),
            ("exa mple.com", "a space"),
            ("example.com\t", "a tab"),
            ("exa\"mple", "a quote"),
            ("example.com:", "an empty port"),
            ("example.com:80a", "a port with letters"),
            ("example.com:65536", "a port past 65535"),
            ("example.com:123456", "a port of six digits"),
            ("example.com:80:80", "two ports"),
            (":80", "a port without a host"),
            ("::1", "an IPv6 address without brackets"),
            ("[::1", "an unclosed bracket"),
            ("[::1]x", "bytes after the bracket"),
            ("[::g]", "an invalid IPv6 address"),
            ("[]", "an empty IP-literal"),
            ("[v.x]", "an IPvFuture without a version"),
            ("%zz.example", "a bad percent-encoding"),
            ("example%2", "a truncated percent-encoding"),
            ("ex\u{e9}mple.com", "a byte outside ASCII"),
            ("{example}", "braces"),
            ("example\\com", "a backslash"),
        ] {
            assert!(
                !is_valid_host(bad.as_bytes()),
                "{bad:?} ({why}) should be refused"
            );
        }
    }
}
