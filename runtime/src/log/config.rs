//! [`Config`]: the logger's settings — format, level filter, redacted names, buffer size,
//! writer — from code or from `LOG_FORMAT`, `LOG_LEVEL` and `LOG_REDACT`.

use std::fmt;
use std::io::Write;

use tracing_subscriber::EnvFilter;

use super::redact::DEFAULT_EXTRA;
use crate::env::{self, EnvError};

/// How lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// One JSON object per line (the default; `LOG_FORMAT=json`).
    #[default]
    Json,
    /// A readable line for development (`LOG_FORMAT=pretty`).
    Pretty,
}

/// The default number of lines the `keel-log` thread's buffer holds.
pub const DEFAULT_BUFFER: usize = 8192;

/// The logger's settings; see [`init`](super::init).
pub struct Config {
    pub(crate) format: Format,
    pub(crate) filter: String,
    pub(crate) redact: Vec<String>,
    pub(crate) buffer: usize,
    pub(crate) writer: Option<Box<dyn Write + Send>>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            format: Format::Json,
            filter: "info".to_owned(),
            redact: DEFAULT_EXTRA.iter().map(|s| (*s).to_owned()).collect(),
            buffer: DEFAULT_BUFFER,
            writer: None,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("format", &self.format)
            .field("filter", &self.filter)
            .field("redact", &self.redact)
            .field("buffer", &self.buffer)
            .field("writer", &self.writer.as_ref().map(|_| "custom"))
            .finish()
    }
}

impl Config {
    /// The defaults: JSON, `info`, redacting `password`, `token` and `secret` on top of
    /// the fixed names, 8192 buffered lines, standard output.
    pub fn new() -> Config {
        Config::default()
    }

    /// The defaults overridden by the environment: `LOG_FORMAT` (`json` or `pretty`),
    /// `LOG_LEVEL` (see [`level`](Config::level)) and `LOG_REDACT` (comma-separated
    /// field names redacted instead of the default extra ones).
    ///
    /// # Errors
    ///
    /// A bad value, naming its variable.
    pub fn from_env() -> Result<Config, EnvError> {
        let mut config = Config::default();
        if let Some(format) = env::var("LOG_FORMAT", parse_format)? {
            config.format = format;
        }
        if let Some(filter) = env::var("LOG_LEVEL", parse_level)? {
            config.filter = filter;
        }
        if let Some(names) = env::var("LOG_REDACT", |_, v| Ok(v.to_owned()))? {
            config.redact = names.split(',').map(|n| n.trim().to_owned()).collect();
        }
        Ok(config)
    }

    /// The line format.
    pub fn format(mut self, format: Format) -> Config {
        self.format = format;
        self
    }

    /// The filter: a level (`trace`, `debug`, `info`, `warn`, `error`, `off`) or
    /// `EnvFilter` directives (`info,keel_http=debug`).
    ///
    /// # Errors
    ///
    /// A value that is neither, as an [`EnvError`] naming `LOG_LEVEL`.
    pub fn level(mut self, filter: &str) -> Result<Config, EnvError> {
        self.filter = parse_level("LOG_LEVEL", filter)?;
        Ok(self)
    }

    /// Field names redacted on top of `authorization`, `cookie` and `set-cookie`
    /// (matched in any case, also as the last part of a name such as `db_password`);
    /// replaces the default `password`, `token`, `secret`.
    pub fn redact<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Config {
        self.redact = names.into_iter().map(Into::into).collect();
        self
    }

    /// How many lines the buffer to the `keel-log` thread holds before lines are
    /// dropped (at least 1).
    pub fn buffer(mut self, lines: usize) -> Config {
        self.buffer = lines.max(1);
        self
    }

    /// Writes lines to `writer` instead of standard output (tests, files).
    pub fn writer(mut self, writer: impl Write + Send + 'static) -> Config {
        self.writer = Some(Box::new(writer));
        self
    }

    /// The level filter as an `EnvFilter`.
    pub(crate) fn env_filter(&self) -> EnvFilter {
        EnvFilter::try_new(&self.filter).expect("validated by parse_level")
    }
}

/// `json` or `pretty`.
fn parse_format(name: &str, value: &str) -> Result<Format, EnvError> {
    match value.to_ascii_lowercase().as_str() {
        "json" => Ok(Format::Json),
        "pretty" | "text" => Ok(Format::Pretty),
        _ => Err(EnvError::new(name, value, "json or pretty")),
    }
}

/// A level or `EnvFilter` directives. A bare word that is not a level is refused: as a
/// directive it would silently mean "everything from target `word`" (`LOG_LEVEL=verbose`).
pub(crate) fn parse_level(name: &str, value: &str) -> Result<String, EnvError> {
    const EXPECTED: &str =
        "trace, debug, info, warn, error, off, or directives such as info,keel_http=debug";
    const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
    let err = || EnvError::new(name, value, EXPECTED);
    let value = value.trim();
    if value.is_empty() {
        return Err(err());
    }
    for directive in value.split(',') {
        let directive = directive.trim();
        let bare_word = !directive.contains(['=', '[', ':']);
        if bare_word && !LEVELS.contains(&directive.to_ascii_lowercase().as_str()) {
            return Err(err());
        }
    }
    EnvFilter::try_new(value).map_err(|_| err())?;
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels() {
        for good in [
            "info",
            "DEBUG",
            "warn,keel_http=trace",
            "keel_runtime::log=off",
        ] {
            assert!(parse_level("LOG_LEVEL", good).is_ok(), "{good}");
        }
        for bad in ["", "verbose", "info,loud", "keel=notalevel", "info,=x["] {
            let err = parse_level("LOG_LEVEL", bad).unwrap_err();
            assert_eq!(err.name(), "LOG_LEVEL", "{bad}");
        }
        assert_eq!(
            parse_format("LOG_FORMAT", "Pretty").unwrap(),
            Format::Pretty
        );
        assert_eq!(
            parse_format("LOG_FORMAT", "xml").unwrap_err().name(),
            "LOG_FORMAT"
        );
    }
}
