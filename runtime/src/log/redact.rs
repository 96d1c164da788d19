//! [`Redactor`]: which field names are secret, and the replacement of their values with
//! `[REDACTED]` — as a field of the event (`authorization`, `headers.cookie`,
//! `db_password`) and inside a formatted value or message that carries one nested
//! (`User { password: "x" }`, `{"token": "x"}`, `token=x`).

/// What a secret value is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Names that are always redacted, whatever the configuration.
pub const ALWAYS: [&str; 3] = ["authorization", "cookie", "set-cookie"];

/// Names redacted by default on top of [`ALWAYS`]; [`Config::redact`](super::Config::redact)
/// replaces them.
pub const DEFAULT_EXTRA: [&str; 3] = ["password", "token", "secret"];

/// The set of secret field names, lowercased.
#[derive(Debug, Clone)]
pub(crate) struct Redactor {
    names: Vec<String>,
    /// Which bytes (either case) a secret name starts with: a text where no byte can
    /// start one is passed over without comparing names.
    first: ByteSet,
    /// Which bytes (either case) a secret name ends with: most field names are told
    /// apart by their last byte.
    last: ByteSet,
}

/// A set of bytes.
#[derive(Clone)]
struct ByteSet([bool; 256]);

impl ByteSet {
    fn of(bytes: impl Iterator<Item = u8>) -> ByteSet {
        let mut set = [false; 256];
        for b in bytes {
            set[usize::from(b.to_ascii_lowercase())] = true;
            set[usize::from(b.to_ascii_uppercase())] = true;
        }
        ByteSet(set)
    }

    #[inline]
    fn contains(&self, b: u8) -> bool {
        self.0[usize::from(b)]
    }
}

impl std::fmt::Debug for ByteSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ByteSet")
    }
}

impl Redactor {
    /// The [`ALWAYS`] names plus `extra` (any case).
    pub(crate) fn new<S: AsRef<str>>(extra: &[S]) -> Redactor {
        let mut names: Vec<String> = ALWAYS.iter().map(|n| (*n).to_owned()).collect();
        for name in extra {
            let name = name.as_ref().trim().to_ascii_lowercase();
            if !name.is_empty() && !names.contains(&name) {
                names.push(name);
            }
        }
        let first = ByteSet::of(names.iter().filter_map(|n| n.bytes().next()));
        let last = ByteSet::of(names.iter().filter_map(|n| n.bytes().last()));
        Redactor { names, first, last }
    }

    /// Whether a field called `field` holds a secret: its name is a secret name (any
    /// case), or ends in one after a `.`, `_` or `-` (`headers.authorization`,
    /// `db_password`, `x-api-token`).
    #[inline]
    pub(crate) fn is_secret(&self, field: &str) -> bool {
        match field.as_bytes().last() {
            Some(&b) if self.last.contains(b) => self.ends_in_secret(field),
            _ => false,
        }
    }

    fn ends_in_secret(&self, field: &str) -> bool {
        self.names.iter().any(|name| {
            let (f, n) = (field.as_bytes(), name.as_bytes());
            if f.len() < n.len() || !f[f.len() - n.len()..].eq_ignore_ascii_case(n) {
                return false;
            }
            f.len() == n.len() || matches!(f[f.len() - n.len() - 1], b'.' | b'_' | b'-')
        })
    }

    /// `text` with the value after each nested secret key replaced: `name: value`,
    /// `name = value`, `"name": value` (Debug structs and maps, JSON, `key=value`).
    /// Returns `None` when nothing was redacted, the common case, without allocating.
    pub(crate) fn scrub(&self, text: &str) -> Option<String> {
        let bytes = text.as_bytes();
        // A nested secret needs its `:` or `=`.
        if !bytes.iter().any(|&b| b == b':' || b == b'=') {
            return None;
        }
        let mut out: Option<String> = None;
        let mut copied = 0;
        let mut i = 0;
        while i < bytes.len() {
            let Some((name_end, value_start)) = self.key_at(bytes, i) else {
                i += 1;
                continue;
            };
            let value_end = value_end(bytes, value_start);
            let quoted = bytes[value_start] == b'"';
            let buf = out.get_or_insert_with(|| String::with_capacity(text.len()));
            buf.push_str(&text[copied..value_start]);
            if quoted {
                buf.push('"');
                buf.push_str(REDACTED);
                buf.push('"');
            } else {
                buf.push_str(REDACTED);
            }
            copied = value_end;
            i = value_end.max(name_end);
        }
        let mut buf = out?;
        buf.push_str(&text[copied..]);
        Some(buf)
    }

    /// If a secret name starts at `i` as a whole key followed by `:` or `=`, the end of
    /// the name and where its value starts.
    fn key_at(&self, bytes: &[u8], i: usize) -> Option<(usize, usize)> {
        if !self.first.contains(bytes[i]) || (i > 0 && is_ident(bytes[i - 1])) {
            return None;
        }
        let name = self.names.iter().find(|n| {
            let n = n.as_bytes();
            bytes.len() >= i + n.len() && bytes[i..i + n.len()].eq_ignore_ascii_case(n)
        })?;
        let name_end = i + name.len();
        let mut j = name_end;
        if j < bytes.len() && is_ident(bytes[j]) {
            return None;
        }
        if j < bytes.len() && bytes[j] == b'"' {
            j += 1;
        }
        while j < bytes.len() && bytes[j] == b' ' {
            j += 1;
        }
        if j >= bytes.len() || !matches!(bytes[j], b':' | b'=') {
            return None;
        }
        j += 1;
        while j < bytes.len() && bytes[j] == b' ' {
            j += 1;
        }
        (j < bytes.len()).then_some((name_end, j))
    }
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Where the value starting at `start` ends: after its closing quote when quoted (escapes
/// honoured), else at the first `,`, `;`, `&`, space or closing bracket outside brackets
/// (`Some("x")` and `[1, 2]` are one value).
fn value_end(bytes: &[u8], start: usize) -> usize {
    if bytes[start] == b'"' {
        let mut j = start + 1;
        while j < bytes.len() {
            match bytes[j] {
                b'\\' => j += 2,
                b'"' => return j + 1,
                _ => j += 1,
            }
        }
        return bytes.len();
    }
    let mut depth = 0usize;
    let mut j = start;
    let mut in_quote = false;
    while j < bytes.len() {
        let b = bytes[j];
        if in_quote {
            match b {
                b'\\' => j += 1,
                b'"' => in_quote = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_quote = true,
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' if depth == 0 => return j,
                b')' | b']' | b'}' => depth -= 1,
                b',' | b';' | b'&' | b' ' if depth == 0 => return j,
                _ => {}
            }
        }
        j += 1;
    }
    bytes.len().min(j)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default() -> Redactor {
        Redactor::new(&DEFAULT_EXTRA)
    }

    #[test]
    fn field_names() {
        let r = default();
        for secret in [
            "authorization",
            "Authorization",
            "COOKIE",
            "set-cookie",
            "headers.authorization",
            "db_password",
            "x-api-token",
            "client.Secret",
        ] {
            assert!(r.is_secret(secret), "{secret}");
        }
        for plain in [
            "user",
            "tokens",
            "cookies",
            "passwordless",
            "authorization_url",
        ] {
            assert!(!r.is_secret(plain), "{plain}");
        }
        let custom = Redactor::new(&["pin"]);
        assert!(custom.is_secret("card.PIN"));
        assert!(!custom.is_secret("password"), "the defaults were replaced");
        assert!(custom.is_secret("authorization"), "the fixed names stay");
    }

    #[test]
    fn nested_values() {
        let r = default();
        let user = r#"User { name: "ann", password: "hunter2", id: 7 }"#;
        assert_eq!(
            r.scrub(user).unwrap(),
            r#"User { name: "ann", password: "[REDACTED]", id: 7 }"#
        );
        let map = r#"{"Authorization": "Bearer abc", "accept": "*/*"}"#;
        assert_eq!(
            r.scrub(map).unwrap(),
            r#"{"Authorization": "[REDACTED]", "accept": "*/*"}"#
        );
        assert_eq!(
            r.scrub("login failed token=abc123 user=ann").unwrap(),
            "login failed token=[REDACTED] user=ann"
        );
        assert_eq!(
            r.scrub("Creds { token: Some(\"t\"), ok: true }").unwrap(),
            "Creds { token: [REDACTED], ok: true }"
        );
        assert_eq!(r.scrub("a token was refreshed"), None);
        assert_eq!(r.scrub("tokens: 3"), None);
    }
}
