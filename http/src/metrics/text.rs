//! [`MetricSet`]: metric families gathered for one scrape, and their rendering in the
//! Prometheus text exposition format 0.0.4 (`# HELP`, `# TYPE`, escaped label values,
//! histograms as cumulative `_bucket{le=...}` series with `+Inf`, `_sum` and `_count`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The type of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A value that only goes up (name it `..._total`).
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// A distribution in cumulative buckets.
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// A histogram's figures: cumulative bucket counts by upper bound, sum and count.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramValue {
    /// `(upper bound, values at most that bound)`, bounds ascending, counts cumulative;
    /// the `+Inf` bucket is [`count`](HistogramValue::count) and is not listed.
    pub buckets: Vec<(f64, u64)>,
    /// Sum of the values.
    pub sum: f64,
    /// Number of values.
    pub count: u64,
}

#[derive(Debug, Clone)]
enum Value {
    Scalar(f64),
    Histogram(HistogramValue),
}

#[derive(Debug, Clone)]
struct Sample {
    labels: Vec<(String, String)>,
    value: Value,
}

#[derive(Debug, Clone)]
struct Family {
    help: String,
    kind: Kind,
    samples: Vec<Sample>,
}

/// Metric families for one scrape, rendered with [`render`](MetricSet::render).
///
/// Families come out sorted by name, each with its samples in the order they were
/// added. Adding to a family that exists with another type is ignored (and logged in
/// debug builds): one name, one type.
///
/// # Examples
///
/// ```
/// use keel_http::metrics::{HistogramValue, MetricSet};
///
/// let mut set = MetricSet::new();
/// set.counter("jobs_total", "Jobs run.", &[("queue", "a\"b")], 3.0);
/// set.histogram(
///     "job_seconds",
///     "Job durations.",
///     &[],
///     HistogramValue { buckets: vec![(0.1, 1), (1.0, 2)], sum: 0.7, count: 3 },
/// );
/// let text = set.render();
/// assert!(text.contains("# TYPE jobs_total counter\njobs_total{queue=\"a\\\"b\"} 3\n"));
/// assert!(text.contains("job_seconds_bucket{le=\"+Inf\"} 3\n"));
/// assert!(text.contains("job_seconds_sum 0.7\njob_seconds_count 3\n"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct MetricSet {
    families: BTreeMap<String, Family>,
}

impl MetricSet {
    /// An empty set.
    pub fn new() -> MetricSet {
        MetricSet::default()
    }

    /// Adds a counter sample.
    pub fn counter(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.push(name, help, Kind::Counter, labels, Value::Scalar(value));
    }

    /// Adds a gauge sample.
    pub fn gauge(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.push(name, help, Kind::Gauge, labels, Value::Scalar(value));
    }

    /// Adds a histogram sample (its `_bucket`, `_sum` and `_count` series).
    pub fn histogram(
        &mut self,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
        value: HistogramValue,
    ) {
        self.push(name, help, Kind::Histogram, labels, Value::Histogram(value));
    }

    /// Declares a family without samples yet (rendered with its `# HELP` and `# TYPE`
    /// lines only, until samples are added).
    pub fn declare(&mut self, name: &str, help: &str, kind: Kind) {
        self.families
            .entry(name.to_owned())
            .or_insert_with(|| Family {
                help: help.to_owned(),
                kind,
                samples: Vec::new(),
            });
    }

    /// Moves every family and sample of `other` into this set.
    pub fn append(&mut self, other: MetricSet) {
        for (name, family) in other.families {
            match self.families.get_mut(&name) {
                Some(mine) if mine.kind == family.kind => mine.samples.extend(family.samples),
                Some(_) => debug_assert!(false, "metric {name} added with two types"),
                None => {
                    self.families.insert(name, family);
                }
            }
        }
    }

    /// Whether the set holds a family named `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.families.contains_key(name)
    }

    fn push(&mut self, name: &str, help: &str, kind: Kind, labels: &[(&str, &str)], value: Value) {
        let family = self
            .families
            .entry(name.to_owned())
            .or_insert_with(|| Family {
                help: help.to_owned(),
                kind,
                samples: Vec::new(),
            });
        if family.kind != kind {
            debug_assert!(
                false,
                "metric {name} added as {kind:?} and {:?}",
                family.kind
            );
            return;
        }
        family.samples.push(Sample {
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            value,
        });
    }

    /// The text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(self.families.len() * 256);
        for (name, family) in &self.families {
            out.push_str("# HELP ");
            out.push_str(name);
            out.push(' ');
            escape_help(&mut out, &family.help);
            out.push_str("\n# TYPE ");
            out.push_str(name);
            out.push(' ');
            out.push_str(family.kind.as_str());
            out.push('\n');
            for sample in &family.samples {
                match &sample.value {
                    Value::Scalar(v) => line(&mut out, name, "", &sample.labels, None, *v),
                    Value::Histogram(h) => {
                        let mut le = String::new();
                        for &(bound, n) in &h.buckets {
                            le.clear();
                            number(&mut le, bound);
                            line(
                                &mut out,
                                name,
                                "_bucket",
                                &sample.labels,
                                Some(&le),
                                n as f64,
                            );
                        }
                        let count = h.count as f64;
                        line(
                            &mut out,
                            name,
                            "_bucket",
                            &sample.labels,
                            Some("+Inf"),
                            count,
                        );
                        line(&mut out, name, "_sum", &sample.labels, None, h.sum);
                        line(&mut out, name, "_count", &sample.labels, None, count);
                    }
                }
            }
        }
        out
    }
}

/// One sample line: `name{labels,le="..."} value`.
fn line(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: &[(String, String)],
    le: Option<&str>,
    value: f64,
) {
    out.push_str(name);
    out.push_str(suffix);
    if !labels.is_empty() || le.is_some() {
        out.push('{');
        let mut first = true;
        let pairs = labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(le.map(|le| ("le", le)));
        for (k, v) in pairs {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(k);
            out.push_str("=\"");
            escape_label(out, v);
            out.push('"');
        }
        out.push('}');
    }
    out.push(' ');
    number(out, value);
    out.push('\n');
}

/// A sample value: integers without a fraction, `+Inf`, `-Inf`, `NaN`.
fn number(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        let _ = write!(out, "{v}");
    }
}

/// Label values escape backslash, double quote and line feed.
fn escape_label(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Help text escapes backslash and line feed.
fn escape_help(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Whether `name` is a valid metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub(crate) fn valid_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b':')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// Whether `name` is a valid label name: `[a-zA-Z_][a-zA-Z0-9_]*`, not `__`-prefixed
/// and not `le` (reserved for histogram buckets).
pub(crate) fn valid_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.starts_with("__")
        && name != "le"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_numbers() {
        let mut set = MetricSet::new();
        set.gauge("g", "a\\b\nc", &[("l", "x\\y\"z\nw")], f64::NAN);
        set.gauge("h", "h", &[], f64::INFINITY);
        set.counter("c_total", "c", &[], 1.5);
        let text = set.render();
        assert_eq!(
            text,
            "# HELP c_total c\n# TYPE c_total counter\nc_total 1.5\n\
             # HELP g a\\\\b\\nc\n# TYPE g gauge\ng{l=\"x\\\\y\\\"z\\nw\"} NaN\n\
             # HELP h h\n# TYPE h gauge\nh +Inf\n"
        );
    }

    #[test]
    fn names() {
        assert!(valid_metric_name("http_requests_total"));
        assert!(valid_metric_name("a:b"));
        assert!(!valid_metric_name("1a"));
        assert!(!valid_metric_name(""));
        assert!(!valid_metric_name("a-b"));
        assert!(valid_label_name("route"));
        assert!(!valid_label_name("le"));
        assert!(!valid_label_name("__x"));
        assert!(!valid_label_name("a:b"));
    }
}
