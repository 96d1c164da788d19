//! The few fields Keel reads out of an X.509 certificate (RFC 5280), by walking its DER
//! directly: the serial number and expiry (logs and the expiry gauge), the DNS names of
//! the subject alternative name extension (SNI), and the subject (a client certificate's
//! identity). rustls has already parsed and verified what it serves or accepts; this
//! reads, it does not check.

/// What Keel reads of one certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CertInfo {
    /// The serial number in hex (as `openssl x509 -serial` prints it).
    pub(crate) serial: String,
    /// The subject as an RFC 4514 string (`CN=alice,O=Keel`: the last RDN first).
    pub(crate) subject: String,
    /// The subject's common name, if it has one.
    pub(crate) common_name: Option<String>,
    /// `notAfter` in seconds since the Unix epoch.
    pub(crate) not_after: i64,
    /// The `dNSName` entries of the subject alternative name, lowercased.
    pub(crate) dns_names: Vec<String>,
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const OID: u8 = 0x06;
const OCTET_STRING: u8 = 0x04;
const BOOLEAN: u8 = 0x01;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
const VERSION: u8 = 0xa0;
const EXTENSIONS: u8 = 0xa3;
const DNS_NAME: u8 = 0x82;
/// 2.5.29.17, subjectAltName.
const SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];

/// Reads `der`'s fields; `None` when it is not a certificate this reader understands.
pub(crate) fn read(der: &[u8]) -> Option<CertInfo> {
    let (cert, _) = expect(der, SEQUENCE)?;
    let (mut tbs, _) = expect(cert, SEQUENCE)?;
    if tbs.first() == Some(&VERSION) {
        tbs = tlv(tbs)?.2;
    }
    let (serial, rest) = expect(tbs, INTEGER)?;
    let (_signature, rest) = expect(rest, SEQUENCE)?;
    let (_issuer, rest) = expect(rest, SEQUENCE)?;
    let (validity, rest) = expect(rest, SEQUENCE)?;
    let (subject, mut rest) = expect(rest, SEQUENCE)?;
    let (_not_before, after) = tlv(validity).map(|(_, v, r)| (v, r))?;
    let (tag, not_after, _) = tlv(after)?;
    let mut info = CertInfo {
        serial: hex(serial.strip_prefix(&[0]).unwrap_or(serial)),
        not_after: time(tag, not_after)?,
        ..CertInfo::default()
    };
    (info.subject, info.common_name) = name(subject)?;
    while !rest.is_empty() {
        let (tag, value, next) = tlv(rest)?;
        rest = next;
        if tag == EXTENSIONS {
            info.dns_names = dns_names(expect(value, SEQUENCE)?.0)?;
        }
    }
    Some(info)
}

/// One TLV: its tag, value and what follows (single-byte tags; definite lengths).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        rest = &rest[n..];
        len
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// A TLV that must have tag `tag`: its value and what follows.
fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, value, rest) = tlv(input)?;
    (t == tag).then_some((value, rest))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// A UTCTime (`YYMMDDHHMMSSZ`, years 1950–2049) or GeneralizedTime
/// (`YYYYMMDDHHMMSSZ`) as Unix seconds.
fn time(tag: u8, value: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(value).ok()?.strip_suffix('Z')?;
    let (year, rest) = match tag {
        UTC_TIME if text.len() == 12 => {
            let yy: i64 = text[..2].parse().ok()?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &text[2..])
        }
        GENERALIZED_TIME if text.len() == 14 => (text[..4].parse().ok()?, &text[4..]),
        _ => return None,
    };
    let field = |i: usize| rest.get(i..i + 2)?.parse::<i64>().ok();
    let (month, day) = (field(0)?, field(2)?);
    let (hour, minute, second) = (field(4)?, field(6)?, field(8)?);
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second)
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A Name as an RFC 4514 string, and its common name.
fn name(mut rdns: &[u8]) -> Option<(String, Option<String>)> {
    let mut parts = Vec::new();
    let mut common_name = None;
    while !rdns.is_empty() {
        let (mut set, rest) = expect(rdns, SET)?;
        rdns = rest;
        let mut rdn = Vec::new();
        while !set.is_empty() {
            let (attribute, rest) = expect(set, SEQUENCE)?;
            set = rest;
            let (oid, value) = expect(attribute, OID)?;
            let (_, value, _) = tlv(value)?;
            let value = String::from_utf8_lossy(value).into_owned();
            let label = attribute_label(oid);
            if label == "CN" && common_name.is_none() {
                common_name = Some(value.clone());
            }
            rdn.push(format!("{label}={}", escape(&value)));
        }
        parts.push(rdn.join("+"));
    }
    parts.reverse();
    Some((parts.join(","), common_name))
}

/// The short name of a common attribute type, else its dotted OID.
fn attribute_label(oid: &[u8]) -> String {
    match oid {
        [0x55, 0x04, 0x03] => "CN".into(),
        [0x55, 0x04, 0x06] => "C".into(),
        [0x55, 0x04, 0x07] => "L".into(),
        [0x55, 0x04, 0x08] => "ST".into(),
        [0x55, 0x04, 0x0a] => "O".into(),
        [0x55, 0x04, 0x0b] => "OU".into(),
        _ => dotted(oid),
    }
}

fn dotted(oid: &[u8]) -> String {
    let mut arcs = Vec::new();
    let mut value: u64 = 0;
    for &b in oid {
        value = (value << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (value / 40).min(2);
                arcs.push(first);
                arcs.push(value - first * 40);
            } else {
                arcs.push(value);
            }
            value = 0;
        }
    }
    arcs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// RFC 4514's escapes for the characters that would break the string's structure.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The `dNSName`s of the subject alternative name among `extensions`.
fn dns_names(mut extensions: &[u8]) -> Option<Vec<String>> {
    let mut names = Vec::new();
    while !extensions.is_empty() {
        let (extension, rest) = expect(extensions, SEQUENCE)?;
        extensions = rest;
        let (oid, mut value) = expect(extension, OID)?;
        if oid != SUBJECT_ALT_NAME {
            continue;
        }
        if value.first() == Some(&BOOLEAN) {
            value = tlv(value)?.2;
        }
        let (octets, _) = expect(value, OCTET_STRING)?;
        let (mut general_names, _) = expect(octets, SEQUENCE)?;
        while !general_names.is_empty() {
            let (tag, name, rest) = tlv(general_names)?;
            general_names = rest;
            if tag == DNS_NAME {
                names.push(String::from_utf8_lossy(name).to_ascii_lowercase());
            }
        }
    }
    Some(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(time(UTC_TIME, b"700101000000Z"), Some(0));
        assert_eq!(time(UTC_TIME, b"491231235959Z"), Some(2_524_607_999));
        assert_eq!(
            time(GENERALIZED_TIME, b"20381231000000Z"),
            Some(2_177_366_400)
        );
        assert_eq!(time(UTC_TIME, b"7001010000Z"), None);
    }

    #[test]
    fn dotted_oids() {
        assert_eq!(dotted(&[0x55, 0x04, 0x05]), "2.5.4.5");
        assert_eq!(
            dotted(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01]),
            "1.2.840.113549.1.9.1"
        );
    }

    #[test]
    fn not_a_certificate() {
        assert_eq!(read(b""), None);
        assert_eq!(read(&[0x30, 0x82, 0xff]), None);
        assert_eq!(read(&[0x30, 0x03, 0x02, 0x01, 0x01]), None);
    }
}
