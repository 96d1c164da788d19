//! [`OtlpConfig`]: the standard OpenTelemetry variables, read and validated once at
//! startup like every Keel variable (a bad value names the variable).
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` | unset: tracing off | collector base URL; traces go to `{endpoint}/v1/traces` |
//! | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | — | the full traces URL (wins over the above) |
//! | `OTEL_EXPORTER_OTLP_CERTIFICATE` (`_TRACES_CERTIFICATE`) | none | PEM file of CAs trusted for an `https://` endpoint, besides the bundled roots and `KEEL_CLIENT_CA` |
//! | `OTEL_EXPORTER_OTLP_PROTOCOL` (`_TRACES_PROTOCOL`) | `http/json` | only `http/json` is supported |
//! | `OTEL_EXPORTER_OTLP_HEADERS` (`_TRACES_HEADERS`) | none | `key=value,…` sent with each export |
//! | `OTEL_EXPORTER_OTLP_TIMEOUT` (`_TRACES_TIMEOUT`) | 10000 (ms) | one export's time limit |
//! | `OTEL_SERVICE_NAME` | `unknown_service:<executable>` | the `service.name` resource attribute |
//! | `OTEL_RESOURCE_ATTRIBUTES` | none | more resource attributes, `key=value,…` |
//! | `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG` | `parentbased_always_on`, 1.0 | the sampler and its ratio |
//! | `OTEL_BSP_SCHEDULE_DELAY` | 5000 (ms) | the longest a finished span waits for export |
//! | `OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` | 2048, 512 | queue bound (more are dropped, counted) and batch size |
//! | `OTEL_SDK_DISABLED`, `OTEL_TRACES_EXPORTER` | `false`, `otlp` | `true` / `none` turn tracing off |

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use keel_runtime::env::EnvError;
use keel_runtime::trace::{BatchConfig, Sampler};

use crate::client::url::{Scheme, Url};

/// The default `OTEL_EXPORTER_OTLP_TIMEOUT`: 10 s.
pub const DEFAULT_EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// The exporter's settings, from [`OtlpConfig::from_env`].
#[derive(Debug, Clone)]
pub struct OtlpConfig {
    pub(crate) url: Url,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) resource: Vec<(String, String)>,
    pub(crate) timeout: Duration,
    pub(crate) sampler: Sampler,
    pub(crate) batch: BatchConfig,
    /// For an `https://` endpoint: the roots the collector is verified against.
    pub(crate) tls: Option<Arc<rustls::ClientConfig>>,
}

impl OtlpConfig {
    /// Reads the `OTEL_*` variables; `Ok(None)` when tracing is off (no endpoint, or
    /// switched off).
    ///
    /// # Errors
    ///
    /// A variable with a bad value, named.
    pub fn from_env() -> Result<Option<OtlpConfig>, EnvError> {
        OtlpConfig::from_vars(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    }

    /// As [`from_env`](OtlpConfig::from_env), reading variables through `var`.
    ///
    /// # Errors
    ///
    /// A variable with a bad value, named.
    ///
    /// # Examples
    ///
    /// ```
    /// use keel_http::otlp::OtlpConfig;
    ///
    /// let vars = |name: &str| match name {
    ///     "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("http://collector:4318/".to_owned()),
    ///     "OTEL_SERVICE_NAME" => Some("checkout".to_owned()),
    ///     _ => None,
    /// };
    /// let config = OtlpConfig::from_vars(vars).unwrap().unwrap();
    /// assert_eq!(config.traces_url(), "http://collector:4318/v1/traces");
    /// assert_eq!(config.service_name(), "checkout");
    /// assert!(OtlpConfig::from_vars(|_| None).unwrap().is_none());
    /// ```
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Option<OtlpConfig>, EnvError> {
        if let Some(v) = var("OTEL_SDK_DISABLED")
            && keel_runtime::env::parse_switch("OTEL_SDK_DISABLED", &v)?
        {
            return Ok(None);
        }
        if let Some(v) = var("OTEL_TRACES_EXPORTER") {
            match v.trim() {
                "none" => return Ok(None),
                "otlp" => {}
                _ => return Err(EnvError::new("OTEL_TRACES_EXPORTER", &v, "otlp or none")),
            }
        }
        let (name, url) = match var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            Some(url) => ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url.trim().to_owned()),
            None => match var("OTEL_EXPORTER_OTLP_ENDPOINT") {
                Some(base) => (
                    "OTEL_EXPORTER_OTLP_ENDPOINT",
                    format!("{}/v1/traces", base.trim().trim_end_matches('/')),
                ),
                None => return Ok(None),
            },
        };
        let url = Url::parse(&url)
            .ok()
            .ok_or_else(|| EnvError::new(name, &url, "an http:// or https:// URL"))?;
        for name in [
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ] {
            if let Some(v) = var(name) {
                if v.trim() != "http/json" {
                    return Err(EnvError::new(
                        name,
                        &v,
                        "http/json (the only OTLP encoding Keel exports)",
                    ));
                }
                break;
            }
        }
        let specific = |traces: &str, general: &str| {
            var(traces)
                .map(|v| (traces.to_owned(), v))
                .or_else(|| var(general).map(|v| (general.to_owned(), v)))
        };
        let headers = match specific(
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            "OTEL_EXPORTER_OTLP_HEADERS",
        ) {
            Some((name, v)) => parse_pairs(&name, &v)?,
            None => Vec::new(),
        };
        // The collector's CAs: read and checked whenever set, used for `https://`.
        let mut cas = crate::client::tls::env_ca(&var)?;
        if let Some((name, path)) = specific(
            "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
        ) {
            cas.extend(crate::client::tls::read_ca_file(
                &name,
                Path::new(path.trim()),
            )?);
        }
        let tls =
            match url.scheme {
                Scheme::Http => None,
                Scheme::Https => Some(crate::client::tls::build(&cas, &[]).map_err(|e| {
                    EnvError::new(name, &url_text(&url), format!("usable TLS ({e})"))
                })?),
            };
        let timeout = match specific(
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
            "OTEL_EXPORTER_OTLP_TIMEOUT",
        ) {
            Some((name, v)) => Duration::from_millis(millis(&name, &v)?),
            None => DEFAULT_EXPORT_TIMEOUT,
        };
        let mut resource = match var("OTEL_RESOURCE_ATTRIBUTES") {
            Some(v) => parse_pairs("OTEL_RESOURCE_ATTRIBUTES", &v)?,
            None => Vec::new(),
        };
        let service = var("OTEL_SERVICE_NAME")
            .map(|s| s.trim().to_owned())
            .or_else(|| {
                resource
                    .iter()
                    .find(|(k, _)| k == "service.name")
                    .map(|(_, v)| v.clone())
            })
            .unwrap_or_else(default_service_name);
        resource.retain(|(k, _)| k != "service.name");
        resource.splice(
            0..0,
            [
                ("service.name".to_owned(), service),
                ("telemetry.sdk.name".to_owned(), "keel".to_owned()),
                ("telemetry.sdk.language".to_owned(), "rust".to_owned()),
                (
                    "telemetry.sdk.version".to_owned(),
                    env!("CARGO_PKG_VERSION").to_owned(),
                ),
            ],
        );
        let sampler = match var("OTEL_TRACES_SAMPLER") {
            Some(v) => Sampler::parse(
                "OTEL_TRACES_SAMPLER",
                &v,
                var("OTEL_TRACES_SAMPLER_ARG").as_deref(),
            )?,
            None => Sampler::default(),
        };
        let mut batch = BatchConfig::default();
        if let Some(v) = var("OTEL_BSP_SCHEDULE_DELAY") {
            batch.schedule_delay = Duration::from_millis(millis("OTEL_BSP_SCHEDULE_DELAY", &v)?);
        }
        if let Some(v) = var("OTEL_BSP_MAX_QUEUE_SIZE") {
            batch.max_queue = count("OTEL_BSP_MAX_QUEUE_SIZE", &v)?;
        }
        if let Some(v) = var("OTEL_BSP_MAX_EXPORT_BATCH_SIZE") {
            batch.max_batch = count("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", &v)?;
        }
        Ok(Some(OtlpConfig {
            url,
            headers,
            resource,
            timeout,
            sampler,
            batch,
            tls,
        }))
    }

    /// The URL spans are POSTed to.
    pub fn traces_url(&self) -> String {
        url_text(&self.url)
    }

    /// The `service.name` reported.
    pub fn service_name(&self) -> &str {
        &self.resource[0].1
    }

    /// The sampler.
    pub fn sampler(&self) -> &Sampler {
        &self.sampler
    }

    /// The batching settings.
    pub fn batch(&self) -> BatchConfig {
        self.batch
    }
}

/// `url` as text.
fn url_text(url: &Url) -> String {
    format!("{}://{}{}", url.scheme.as_str(), url.authority, url.target)
}

/// `unknown_service:<executable name>`, as the specification asks.
fn default_service_name() -> String {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
    match exe {
        Some(name) => format!("unknown_service:{name}"),
        None => "unknown_service".to_owned(),
    }
}

/// `key=value,key2=value2` (W3C Baggage-like, as the OTel variables use), values
/// percent-decoded.
fn parse_pairs(name: &str, value: &str) -> Result<Vec<(String, String)>, EnvError> {
    let mut out = Vec::new();
    for item in value.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let Some((k, v)) = item.split_once('=') else {
            return Err(EnvError::new(
                name,
                value,
                "key=value pairs separated by commas",
            ));
        };
        let k = k.trim();
        let v = percent_decode(v.trim());
        let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if k.is_empty() || !k.bytes().all(token) || v.bytes().any(|b| b < b' ' || b == 0x7f) {
            return Err(EnvError::new(
                name,
                value,
                "key=value pairs separated by commas",
            ));
        }
        out.push((k.to_owned(), v));
    }
    Ok(out)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(byte) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn millis(name: &str, value: &str) -> Result<u64, EnvError> {
    value
        .trim()
        .parse()
        .map_err(|_| EnvError::new(name, value, "a whole number of milliseconds"))
}

fn count(name: &str, value: &str) -> Result<usize, EnvError> {
    value
        .trim()
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| EnvError::new(name, value, "a whole number above 0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(list: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            list.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn reads_the_standard_variables() {
        let c = OtlpConfig::from_vars(vars(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
            ("OTEL_SERVICE_NAME", "gateway"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment=prod,service.name=ignored",
            ),
            ("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20abc"),
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.5"),
            ("OTEL_BSP_SCHEDULE_DELAY", "200"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(c.traces_url(), "http://127.0.0.1:4318/v1/traces");
        assert_eq!(c.service_name(), "gateway");
        assert!(
            c.resource
                .contains(&("deployment.environment".into(), "prod".into()))
        );
        assert_eq!(
            c.resource
                .iter()
                .filter(|(k, _)| k == "service.name")
                .count(),
            1
        );
        assert_eq!(
            c.headers,
            [("authorization".to_owned(), "Bearer abc".to_owned())]
        );
        assert_eq!(
            c.sampler,
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(0.5)))
        );
        assert_eq!(c.batch.schedule_delay, Duration::from_millis(200));
        let full = OtlpConfig::from_vars(vars(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:9/custom"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(full.traces_url(), "http://c:9/custom");
        assert!(full.tls.is_none());
        let secure = OtlpConfig::from_vars(vars(&[(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "https://collector.example",
        )]))
        .unwrap()
        .unwrap();
        assert_eq!(secure.traces_url(), "https://collector.example/v1/traces");
        assert_eq!(secure.url.port, 443);
        assert!(secure.tls.is_some());
    }

    #[test]
    fn off_switches_and_bad_values() {
        let on = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318");
        assert!(
            OtlpConfig::from_vars(vars(&[on, ("OTEL_SDK_DISABLED", "true")]))
                .unwrap()
                .is_none()
        );
        assert!(
            OtlpConfig::from_vars(vars(&[on, ("OTEL_TRACES_EXPORTER", "none")]))
                .unwrap()
                .is_none()
        );
        for (bad, name) in [
            (
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://c:4318"),
                "OTEL_EXPORTER_OTLP_ENDPOINT",
            ),
            (
                (
                    "OTEL_EXPORTER_OTLP_CERTIFICATE",
                    "/nonexistent/collector-ca.pem",
                ),
                "OTEL_EXPORTER_OTLP_CERTIFICATE",
            ),
            (
                ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "Cargo.toml"),
                "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
            ),
            (
                ("KEEL_CLIENT_CA", "/nonexistent/client-ca.pem"),
                "KEEL_CLIENT_CA",
            ),
            (
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                "OTEL_EXPORTER_OTLP_PROTOCOL",
            ),
            (("OTEL_TRACES_SAMPLER", "sometimes"), "OTEL_TRACES_SAMPLER"),
            (
                ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
                "OTEL_TRACES_SAMPLER_ARG",
            ),
            (("OTEL_BSP_MAX_QUEUE_SIZE", "0"), "OTEL_BSP_MAX_QUEUE_SIZE"),
            (
                ("OTEL_EXPORTER_OTLP_HEADERS", "novalue"),
                "OTEL_EXPORTER_OTLP_HEADERS",
            ),
        ] {
            let mut list = vec![on, bad];
            if bad.0 == "OTEL_TRACES_SAMPLER_ARG" {
                list.push(("OTEL_TRACES_SAMPLER", "traceidratio"));
            }
            if bad.0 == "OTEL_EXPORTER_OTLP_ENDPOINT" {
                list.remove(0);
            }
            let err = OtlpConfig::from_vars(vars(&list)).unwrap_err();
            assert_eq!(err.name(), name, "{err}");
        }
    }
}
