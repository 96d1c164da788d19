//! RESP2 framing, sans I/O: [`Value`], [`encode`] a command, [`parse`] one reply
//! from a buffer (`Ok(None)` = need more bytes, which is not an error).

use std::fmt;

/// Replies nested deeper than this are refused (a guard against hostile input).
pub const MAX_DEPTH: usize = 32;
/// Bulk strings and arrays longer than this are refused: 512 MiB (Redis's own limit).
pub const MAX_LEN: usize = 512 * 1024 * 1024;

/// A RESP2 reply.
///
/// # Examples
///
/// ```
/// use keel_pool::redis::Value;
/// assert_eq!(Value::Bulk(b"v".to_vec()).as_bytes(), Some(&b"v"[..]));
/// assert_eq!(Value::Int(3).as_int(), Some(3));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A null bulk string or null array.
    Nil,
    /// `:` an integer.
    Int(i64),
    /// `+` a simple string, such as `OK` or `PONG`.
    Simple(String),
    /// `-` an error reply (inside a pipeline; a lone command returns it as an error).
    Error(String),
    /// `$` a bulk string.
    Bulk(Vec<u8>),
    /// `*` an array.
    Array(Vec<Value>),
}

impl Value {
    /// The bytes of a bulk or simple string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bulk(b) => Some(b),
            Value::Simple(s) => Some(s.as_bytes()),
            _ => None,
        }
    }

    /// The integer of an integer reply.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// A bulk or simple string as UTF-8 text.
    pub fn as_str(&self) -> Option<&str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }
}

/// The server sent bytes that are not RESP2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub(crate) &'static str);

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RESP protocol error: {}", self.0)
    }
}

impl std::error::Error for ProtocolError {}

/// Appends `args` as a RESP array of bulk strings.
pub(crate) fn encode<A: AsRef<[u8]>>(out: &mut Vec<u8>, args: &[A]) {
    out.push(b'*');
    out.extend_from_slice(args.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for arg in args {
        let arg = arg.as_ref();
        out.push(b'$');
        out.extend_from_slice(arg.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// Parses one reply from the front of `buf`: `Ok(Some((value, consumed)))`, or
/// `Ok(None)` when `buf` holds only part of it.
pub(crate) fn parse(buf: &[u8]) -> Result<Option<(Value, usize)>, ProtocolError> {
    parse_at(buf, 0, 0)
}

fn parse_at(buf: &[u8], at: usize, depth: usize) -> Result<Option<(Value, usize)>, ProtocolError> {
    if depth > MAX_DEPTH {
        return Err(ProtocolError("reply nested too deeply"));
    }
    let Some(line_end) = find_crlf(buf, at + 1) else {
        return Ok(None);
    };
    let Some(&kind) = buf.get(at) else {
        return Ok(None);
    };
    let line = &buf[at + 1..line_end];
    let next = line_end + 2;
    match kind {
        b'+' => Ok(Some((Value::Simple(text(line)?), next))),
        b'-' => Ok(Some((Value::Error(text(line)?), next))),
        b':' => Ok(Some((Value::Int(int(line)?), next))),
        b'$' => {
            let len = int(line)?;
            if len < 0 {
                return Ok(Some((Value::Nil, next)));
            }
            let len = checked_len(len)?;
            if buf.len() < next + len + 2 {
                return Ok(None);
            }
            if &buf[next + len..next + len + 2] != b"\r\n" {
                return Err(ProtocolError("bulk string not followed by CRLF"));
            }
            Ok(Some((
                Value::Bulk(buf[next..next + len].to_vec()),
                next + len + 2,
            )))
        }
        b'*' => {
            let len = int(line)?;
            if len < 0 {
                return Ok(Some((Value::Nil, next)));
            }
            let len = checked_len(len)?;
            let mut items = Vec::with_capacity(len.min(1024));
            let mut pos = next;
            for _ in 0..len {
                match parse_at(buf, pos, depth + 1)? {
                    Some((value, after)) => {
                        items.push(value);
                        pos = after;
                    }
                    None => return Ok(None),
                }
            }
            Ok(Some((Value::Array(items), pos)))
        }
        _ => Err(ProtocolError("unknown reply type byte")),
    }
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|i| from + i)
}

fn text(line: &[u8]) -> Result<String, ProtocolError> {
    String::from_utf8(line.to_vec()).map_err(|_| ProtocolError("status line is not UTF-8"))
}

fn int(line: &[u8]) -> Result<i64, ProtocolError> {
    std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(ProtocolError("bad integer"))
}

fn checked_len(len: i64) -> Result<usize, ProtocolError> {
    usize::try_from(len)
        .ok()
        .filter(|&n| n <= MAX_LEN)
        .ok_or(ProtocolError("length over the limit"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_a_command() {
        let mut out = Vec::new();
        encode(&mut out, &["SET", "k", "v"]);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
    }

    #[test]
    fn parses_each_kind() {
        assert_eq!(parse(b"+OK\r\n"), Ok(Some((Value::Simple("OK".into()), 5))));
        assert_eq!(
            parse(b"-ERR x\r\n"),
            Ok(Some((Value::Error("ERR x".into()), 8)))
        );
        assert_eq!(parse(b":-12\r\n"), Ok(Some((Value::Int(-12), 6))));
        assert_eq!(parse(b"$-1\r\n"), Ok(Some((Value::Nil, 5))));
        assert_eq!(
            parse(b"$3\r\na\r\n\r\n"),
            Ok(Some((Value::Bulk(b"a\r\n".to_vec()), 9)))
        );
        let arr = b"*2\r\n$1\r\na\r\n*1\r\n:1\r\n";
        assert_eq!(
            parse(arr),
            Ok(Some((
                Value::Array(vec![
                    Value::Bulk(b"a".to_vec()),
                    Value::Array(vec![Value::Int(1)])
                ]),
                arr.len()
            )))
        );
    }

    #[test]
    fn partial_input_is_not_an_error() {
        let full = b"*2\r\n$5\r\nhello\r\n:1\r\n";
        for cut in 0..full.len() {
            assert_eq!(parse(&full[..cut]), Ok(None), "cut at {cut}");
        }
        assert!(parse(full).unwrap().is_some());
    }

    #[test]
    fn rejects_garbage_and_deep_nesting() {
        assert!(parse(b"?x\r\n").is_err());
        assert!(parse(b":x\r\n").is_err());
        assert!(parse(b"$2\r\nabcd").is_err());
        let deep = "*1\r\n".repeat(MAX_DEPTH + 2);
        assert!(parse(deep.as_bytes()).is_err());
    }
}
