//! [`Sampler`]: which new spans are recorded — OpenTelemetry's samplers as named by
//! `OTEL_TRACES_SAMPLER` (`always_on`, `always_off`, `traceidratio`, and the
//! `parentbased_*` forms that follow the parent's sampled flag when there is one).

use std::fmt;

use super::ids::TraceId;
use super::propagation::SpanContext;
use crate::env::EnvError;

/// Decides whether a new span is sampled.
///
/// # Examples
///
/// ```
/// use keel_runtime::trace::{Sampler, TraceId};
///
/// let s = Sampler::parse("OTEL_TRACES_SAMPLER", "parentbased_traceidratio", Some("0.25")).unwrap();
/// assert_eq!(s, Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(0.25))));
/// assert!(Sampler::AlwaysOn.should_sample(None, TraceId::random()));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Sampler {
    /// Every span.
    AlwaysOn,
    /// No span.
    AlwaysOff,
    /// A share of traces, chosen by trace id (so every service samples the same traces).
    TraceIdRatio(f64),
    /// The parent's decision when there is a parent; the inner sampler for a root span.
    ParentBased(Box<Sampler>),
}

impl Default for Sampler {
    /// `parentbased_always_on`, OpenTelemetry's default.
    fn default() -> Sampler {
        Sampler::ParentBased(Box::new(Sampler::AlwaysOn))
    }
}

impl Sampler {
    /// Whether a span with `parent` (or none: a root span) in trace `trace_id` is
    /// sampled.
    pub fn should_sample(&self, parent: Option<&SpanContext>, trace_id: TraceId) -> bool {
        match self {
            Sampler::AlwaysOn => true,
            Sampler::AlwaysOff => false,
            Sampler::TraceIdRatio(ratio) => {
                if *ratio >= 1.0 {
                    true
                } else if *ratio <= 0.0 {
                    false
                } else {
                    // The low 63 bits of the id against the ratio of 2^63.
                    let bound = (ratio * (1u64 << 63) as f64) as u64;
                    (trace_id.low_u64() >> 1) < bound
                }
            }
            Sampler::ParentBased(root) => match parent {
                Some(parent) => parent.is_sampled(),
                None => root.should_sample(None, trace_id),
            },
        }
    }

    /// The sampler named `value` (the `OTEL_TRACES_SAMPLER` names), with `arg` (the
    /// `OTEL_TRACES_SAMPLER_ARG` ratio, default 1.0) for the ratio samplers; `name` is
    /// the variable, for the error.
    ///
    /// # Errors
    ///
    /// An unknown sampler name, or a ratio that is not a number in `[0, 1]`.
    pub fn parse(name: &str, value: &str, arg: Option<&str>) -> Result<Sampler, EnvError> {
        let ratio = || -> Result<f64, EnvError> {
            match arg {
                None => Ok(1.0),
                Some(a) => a
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|r| (0.0..=1.0).contains(r))
                    .ok_or_else(|| {
                        EnvError::new("OTEL_TRACES_SAMPLER_ARG", a, "a ratio from 0 to 1")
                    }),
            }
        };
        let parent = |s| Sampler::ParentBased(Box::new(s));
        Ok(match value.trim() {
            "always_on" => Sampler::AlwaysOn,
            "always_off" => Sampler::AlwaysOff,
            "traceidratio" => Sampler::TraceIdRatio(ratio()?),
            "parentbased_always_on" => parent(Sampler::AlwaysOn),
            "parentbased_always_off" => parent(Sampler::AlwaysOff),
            "parentbased_traceidratio" => parent(Sampler::TraceIdRatio(ratio()?)),
            _ => {
                return Err(EnvError::new(
                    name,
                    value,
                    "always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio",
                ));
            }
        })
    }
}

impl fmt::Display for Sampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sampler::AlwaysOn => f.write_str("always_on"),
            Sampler::AlwaysOff => f.write_str("always_off"),
            Sampler::TraceIdRatio(r) => write!(f, "traceidratio({r})"),
            Sampler::ParentBased(root) => write!(f, "parentbased({root})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::SpanId;

    #[test]
    fn ratio_samples_about_its_share_and_follows_parents() {
        let s = Sampler::parse("S", "parentbased_traceidratio", Some("0.3")).unwrap();
        let sampled = (0..10_000)
            .filter(|_| s.should_sample(None, TraceId::random()))
            .count();
        assert!((2_500..3_500).contains(&sampled), "{sampled}");
        let yes = SpanContext::new(TraceId::random(), SpanId::random(), true);
        let no = SpanContext::new(TraceId::random(), SpanId::random(), false);
        assert!(s.should_sample(Some(&yes), yes.trace_id()));
        assert!(!s.should_sample(Some(&no), no.trace_id()));
        assert!(!Sampler::TraceIdRatio(0.0).should_sample(None, TraceId::random()));
    }

    #[test]
    fn bad_names_and_ratios_name_the_variable() {
        let e = Sampler::parse("OTEL_TRACES_SAMPLER", "sometimes", None).unwrap_err();
        assert_eq!(e.name(), "OTEL_TRACES_SAMPLER");
        let e = Sampler::parse("OTEL_TRACES_SAMPLER", "traceidratio", Some("2")).unwrap_err();
        assert_eq!(e.name(), "OTEL_TRACES_SAMPLER_ARG");
    }
}
