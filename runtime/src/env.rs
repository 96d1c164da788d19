//! Typed environment variables: durations (`30s`, `500ms`, `2m`), byte sizes (`16KiB`,
//! `1MiB`, `512`), whole numbers and switches — each failure an [`EnvError`] that names
//! the variable, the value and what was expected, so a bad deployment stops at startup
//! with a message an operator can act on.
//!
//! [`EnvError`] is Keel's one "bad setting" error, for builder knobs as much as for
//! variables: a runtime's [`BuildError`](crate::BuildError) carries one, and keel-http's
//! `Config` and middleware builders return it.

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

/// A setting (an environment variable or a builder knob) with a bad value: names the
/// setting, the value and what was expected.
///
/// # Examples
///
/// ```
/// let err = keel_runtime::env::parse_duration("KEEL_SHUTDOWN_TIMEOUT", "soon").unwrap_err();
/// assert_eq!(err.name(), "KEEL_SHUTDOWN_TIMEOUT");
/// assert!(err.to_string().contains("\"soon\""));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvError {
    name: String,
    value: String,
    expected: Cow<'static, str>,
}

impl EnvError {
    /// An error for setting `name` holding `value`, which should have been `expected`.
    pub fn new(name: &str, value: &str, expected: impl Into<Cow<'static, str>>) -> EnvError {
        EnvError {
            name: name.to_owned(),
            value: value.to_owned(),
            expected: expected.into(),
        }
    }

    /// The setting's name (a variable such as `KEEL_LOOPS`, or a knob such as `loops`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value it held.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// What was expected instead.
    pub fn expected(&self) -> &str {
        &self.expected
    }
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid value for {}: {:?} (expected {})",
            self.name, self.value, self.expected
        )
    }
}

impl std::error::Error for EnvError {}

/// Reads `name` and parses it with `parse`; `Ok(None)` when unset (or empty).
///
/// # Errors
///
/// The parse error, or a value that is not valid Unicode.
///
/// # Examples
///
/// ```
/// use keel_runtime::env;
/// let timeout = env::var("KEEL_DOC_EXAMPLE_UNSET", env::parse_duration).unwrap();
/// assert_eq!(timeout, None);
/// ```
pub fn var<T>(
    name: &str,
    parse: impl FnOnce(&str, &str) -> Result<T, EnvError>,
) -> Result<Option<T>, EnvError> {
    match std::env::var(name) {
        Ok(value) if value.trim().is_empty() => Ok(None),
        Ok(value) => parse(name, value.trim()).map(Some),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(EnvError::new(name, "<not unicode>", "valid UTF-8 text"))
        }
    }
}

/// A duration: a number and a unit `us`, `ms`, `s`, `m` or `h` (`30s`, `500ms`, `1.5s`,
/// `50us`); a bare
/// number means seconds.
///
/// # Errors
///
/// Anything else, naming `name`.
pub fn parse_duration(name: &str, value: &str) -> Result<Duration, EnvError> {
    const EXPECTED: &str = "a duration such as 30s, 500ms, 2m or 1h";
    let err = || EnvError::new(name, value, EXPECTED);
    let (number, unit) = split_unit(value);
    let n: f64 = number.parse().map_err(|_| err())?;
    let secs = match unit.to_ascii_lowercase().as_str() {
        "" | "s" | "sec" | "secs" => n,
        "ms" => n / 1000.0,
        "us" | "µs" => n / 1_000_000.0,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(err()),
    };
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return Err(err());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A byte size: a whole number with an optional unit `B`, `KiB`, `MiB`, `GiB` (powers of
/// 1024) or `KB`, `MB`, `GB` (powers of 1000); `16KiB`, `1MiB`, `512`.
///
/// # Errors
///
/// Anything else, naming `name`.
pub fn parse_size(name: &str, value: &str) -> Result<u64, EnvError> {
    const EXPECTED: &str = "a size such as 512, 16KiB, 1MiB or 2GiB";
    let err = || EnvError::new(name, value, EXPECTED);
    let (number, unit) = split_unit(value);
    let n: u64 = number.parse().map_err(|_| err())?;
    let scale: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => return Err(err()),
    };
    n.checked_mul(scale).ok_or_else(err)
}

/// A whole number (`FromStr`).
///
/// # Errors
///
/// A value that does not parse, naming `name`.
pub fn parse_number<T: FromStr>(name: &str, value: &str) -> Result<T, EnvError> {
    value
        .parse()
        .map_err(|_| EnvError::new(name, value, "a whole number"))
}

/// An on/off switch: `on`, `true`, `yes` or `1`; `off`, `false`, `no` or `0` (any case).
/// Keel's one boolean parser, for its own variables and an application's.
///
/// # Errors
///
/// Anything else, naming `name`.
pub fn parse_switch(name: &str, value: &str) -> Result<bool, EnvError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" => Ok(true),
        "off" | "false" | "no" | "0" => Ok(false),
        _ => Err(EnvError::new(name, value, "on or off")),
    }
}

fn split_unit(value: &str) -> (&str, &str) {
    let value = value.trim();
    let at = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    (value[..at].trim(), value[at..].trim())
}

/// A TCP port, 0 to 65535.
///
/// # Errors
///
/// Anything else, naming `name`.
pub fn parse_port(name: &str, value: &str) -> Result<u16, EnvError> {
    value
        .parse()
        .map_err(|_| EnvError::new(name, value, "a port number from 0 to 65535"))
}

/// A socket address (`0.0.0.0:9090`, `[::1]:9090`) or a bare port (`9090`, meaning all
/// IPv4 interfaces).
///
/// # Errors
///
/// Anything else, naming `name`.
pub fn parse_addr(name: &str, value: &str) -> Result<SocketAddr, EnvError> {
    if let Ok(addr) = value.parse::<SocketAddr>() {
        return Ok(addr);
    }
    value
        .parse::<u16>()
        .map(|port| SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port))
        .map_err(|_| EnvError::new(name, value, "an address such as 0.0.0.0:9090, or a port"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let d = |v| parse_duration("X", v);
        assert_eq!(d("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(d("30").unwrap(), Duration::from_secs(30));
        assert_eq!(d("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(d("50us").unwrap(), Duration::from_micros(50));
        assert_eq!(d("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(d("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(d("1.5s").unwrap(), Duration::from_millis(1500));
        for bad in ["", "s", "ten", "5 parsecs", "-1s", "1e99s"] {
            let e = d(bad).unwrap_err();
            assert_eq!(e.name(), "X", "{bad}");
        }
    }

    #[test]
    fn switches() {
        for on in ["on", "ON", "true", "yes", "1"] {
            assert!(parse_switch("Z", on).unwrap(), "{on}");
        }
        for off in ["off", "Off", "false", "no", "0"] {
            assert!(!parse_switch("Z", off).unwrap(), "{off}");
        }
        for bad in ["", "2", "enabled", "o n"] {
            assert_eq!(parse_switch("Z", bad).unwrap_err().name(), "Z", "{bad}");
        }
    }

    #[test]
    fn sizes() {
        let s = |v| parse_size("Y", v);
        assert_eq!(s("512").unwrap(), 512);
        assert_eq!(s("16KiB").unwrap(), 16 * 1024);
        assert_eq!(s("1MiB").unwrap(), 1 << 20);
        assert_eq!(s("1536MiB").unwrap(), 1536 << 20);
        assert_eq!(s("2GB").unwrap(), 2_000_000_000);
        for bad in ["", "MiB", "1.5MiB", "-1", "12XB", "99999999999999999999GiB"] {
            assert!(s(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn addresses_and_ports() {
        assert_eq!(
            parse_addr("A", "127.0.0.1:9090").unwrap(),
            "127.0.0.1:9090".parse().unwrap()
        );
        assert_eq!(parse_addr("A", "9090").unwrap().port(), 9090);
        assert_eq!(parse_addr("A", "nowhere").unwrap_err().name(), "A");
        assert_eq!(parse_port("PORT", "8080").unwrap(), 8080);
        assert_eq!(parse_port("PORT", "70000").unwrap_err().name(), "PORT");
    }
}
