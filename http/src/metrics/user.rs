//! The metrics API for applications: [`counter`], [`gauge`] and [`histogram`] register a
//! family once (process-wide) and return a small `Copy` handle; `with` interns a label
//! set into another handle of the same family. Recording through a handle on a loop is a
//! thread-local `Vec` update — no lock, no shared atomic, no allocation once the loop's
//! slot exists; off a loop it takes a process-wide lock. At scrape every loop's values
//! (and the off-loop ones) are summed per series.
//!
//! A scrape visits the loops of the runtime serving it: values recorded on a thread
//! that runs a loop of another runtime (a `block_on` thread, say) stay on that thread.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::text::{HistogramValue, Kind, MetricSet, valid_label_name, valid_metric_name};

/// Default histogram bounds (seconds): Prometheus' defaults, 5 ms … 10 s.
pub const DEFAULT_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug)]
struct FamilyDesc {
    name: String,
    help: String,
    kind: Kind,
    /// Histogram bounds (empty for counters and gauges).
    bounds: Arc<[f64]>,
}

#[derive(Debug)]
struct SeriesDesc {
    family: usize,
    labels: Vec<(String, String)>,
}

#[derive(Debug, Default)]
struct Registry {
    families: Vec<FamilyDesc>,
    series: Vec<SeriesDesc>,
    by_name: HashMap<String, usize>,
    by_labels: HashMap<(usize, Vec<(String, String)>), usize>,
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

/// Values recorded off every loop (on other threads), merged at scrape like a loop's.
static OFF_LOOP: Mutex<Values> = Mutex::new(Values(Vec::new()));

fn with_registry<T>(f: impl FnOnce(&mut Registry) -> T) -> T {
    f(REGISTRY.lock().get_or_insert_with(Registry::default))
}

/// Registers (or finds) the family `name` and its unlabelled series.
#[track_caller]
fn family(name: &str, help: &str, kind: Kind, bounds: &[f64]) -> Series {
    assert!(valid_metric_name(name), "invalid metric name {name:?}");
    let family = with_registry(|r| {
        if let Some(&i) = r.by_name.get(name) {
            let f = &r.families[i];
            assert!(
                f.kind == kind && *f.bounds == *bounds,
                "metric {name:?} registered twice with different types or buckets"
            );
            return i;
        }
        r.families.push(FamilyDesc {
            name: name.to_owned(),
            help: help.to_owned(),
            kind,
            bounds: bounds.into(),
        });
        r.by_name.insert(name.to_owned(), r.families.len() - 1);
        r.families.len() - 1
    });
    series(family, &[])
}

/// Interns the label set `labels` of `family`.
#[track_caller]
fn series(family: usize, labels: &[(&str, &str)]) -> Series {
    for (k, _) in labels {
        assert!(valid_label_name(k), "invalid label name {k:?}");
    }
    let mut labels: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    labels.sort();
    let id = with_registry(|r| {
        let key = (family, labels);
        if let Some(&id) = r.by_labels.get(&key) {
            return id;
        }
        r.series.push(SeriesDesc {
            family,
            labels: key.1.clone(),
        });
        r.by_labels.insert(key, r.series.len() - 1);
        r.series.len() - 1
    });
    Series { family, id }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Series {
    family: usize,
    id: usize,
}

/// One series' value in one place (a loop, or off-loop).
#[derive(Debug, Clone, Default)]
enum Slot {
    #[default]
    Empty,
    Scalar(f64),
    Histogram {
        /// Per-bucket counts, the last one for values above every bound.
        counts: Vec<u64>,
        sum: f64,
    },
}

/// Values by series id.
#[derive(Debug, Clone, Default)]
pub(crate) struct Values(Vec<Slot>);

impl Values {
    fn slot(&mut self, id: usize) -> &mut Slot {
        if id >= self.0.len() {
            self.0.resize(id + 1, Slot::Empty);
        }
        &mut self.0[id]
    }

    fn add(&mut self, id: usize, v: f64) {
        match self.slot(id) {
            Slot::Scalar(x) => *x += v,
            slot => *slot = Slot::Scalar(v),
        }
    }

    fn set(&mut self, id: usize, v: f64) {
        *self.slot(id) = Slot::Scalar(v);
    }

    fn observe(&mut self, id: usize, bounds: &[f64], v: f64) {
        let slot = self.slot(id);
        if !matches!(slot, Slot::Histogram { .. }) {
            *slot = Slot::Histogram {
                counts: vec![0; bounds.len() + 1],
                sum: 0.0,
            };
        }
        if let Slot::Histogram { counts, sum } = slot {
            let i = bounds.iter().position(|&b| v <= b).unwrap_or(bounds.len());
            counts[i] += 1;
            *sum += v;
        }
    }

    /// Adds another place's values.
    pub(crate) fn merge(&mut self, other: &Values) {
        for (id, theirs) in other.0.iter().enumerate() {
            let mine = self.slot(id);
            match (mine, theirs) {
                (_, Slot::Empty) => {}
                (mine @ Slot::Empty, theirs) => *mine = theirs.clone(),
                (Slot::Scalar(a), Slot::Scalar(b)) => *a += b,
                (
                    Slot::Histogram { counts, sum },
                    Slot::Histogram {
                        counts: theirs,
                        sum: their_sum,
                    },
                ) => {
                    for (a, b) in counts.iter_mut().zip(theirs) {
                        *a += b;
                    }
                    *sum += their_sum;
                }
                _ => {}
            }
        }
    }

    /// Writes every registered family, with a sample for each of its series (zero for
    /// series never recorded).
    pub(crate) fn write(&self, set: &mut MetricSet) {
        let registry = REGISTRY.lock();
        let Some(r) = registry.as_ref() else { return };
        for f in &r.families {
            set.declare(&f.name, &f.help, f.kind);
        }
        for (id, s) in r.series.iter().enumerate() {
            let f = &r.families[s.family];
            let labels: Vec<(&str, &str)> = s
                .labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let slot = self.0.get(id).cloned().unwrap_or_default();
            match f.kind {
                Kind::Counter | Kind::Gauge => {
                    let v = match slot {
                        Slot::Scalar(v) => v,
                        _ => 0.0,
                    };
                    if f.kind == Kind::Counter {
                        set.counter(&f.name, &f.help, &labels, v);
                    } else {
                        set.gauge(&f.name, &f.help, &labels, v);
                    }
                }
                Kind::Histogram => {
                    let (counts, sum) = match slot {
                        Slot::Histogram { counts, sum } => (counts, sum),
                        _ => (vec![0; f.bounds.len() + 1], 0.0),
                    };
                    let mut cumulative = 0;
                    let buckets = f
                        .bounds
                        .iter()
                        .zip(&counts)
                        .map(|(&b, &n)| {
                            cumulative += n;
                            (b, cumulative)
                        })
                        .collect();
                    let count = counts.iter().sum();
                    let value = HistogramValue {
                        buckets,
                        sum,
                        count,
                    };
                    set.histogram(&f.name, &f.help, &labels, value);
                }
            }
        }
    }
}

thread_local! {
    static LOCAL: RefCell<Values> = const { RefCell::new(Values(Vec::new())) };
}

/// Runs `f` on this loop's values, or on the off-loop values under their lock.
fn record(f: impl FnOnce(&mut Values)) {
    if keel_runtime::current_loop().is_some() {
        LOCAL.with(|v| f(&mut v.borrow_mut()));
    } else {
        f(&mut OFF_LOOP.lock());
    }
}

/// This loop's values (called on the loop at scrape).
pub(crate) fn local_values() -> Values {
    LOCAL.with(|v| v.borrow().clone())
}

/// The values recorded off every loop.
pub(crate) fn off_loop_values() -> Values {
    OFF_LOOP.lock().clone()
}

fn bounds_of(family: usize) -> Arc<[f64]> {
    with_registry(|r| r.families[family].bounds.clone())
}

/// A counter: a value that only goes up, exported as the sum over loops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter(Series);

/// A gauge: a value that goes up and down. Each loop (and the off-loop threads
/// together) holds its own value; the exposition shows their sum, so
/// [`set`](Gauge::set) suits figures each loop owns a share of (its cache's size, its
/// queue) and [`add`](Gauge::add) suits counts of things in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gauge(Series);

/// A histogram with fixed bucket bounds, merged over loops.
#[derive(Debug, Clone)]
pub struct Histogram {
    series: Series,
    bounds: Arc<[f64]>,
}

/// Registers the counter `name` (or finds it, when registered before) and returns its
/// unlabelled series.
///
/// # Panics
///
/// When `name` is not a valid metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`), or was
/// registered as another type.
///
/// # Examples
///
/// ```
/// use keel_http::metrics;
///
/// let jobs = metrics::counter("app_jobs_total", "Jobs processed.");
/// let failed = jobs.with(&[("outcome", "failed")]); // intern once, use many times
/// jobs.inc();
/// failed.add(2);
///
/// let queue = metrics::gauge("app_queue_depth", "Items queued.");
/// queue.set(7.0);
///
/// let took = metrics::histogram("app_job_seconds", "Job durations.", &[0.01, 0.1, 1.0]);
/// took.observe(0.05);
///
/// let text = metrics::gather_local().render();
/// assert!(text.contains("app_jobs_total{outcome=\"failed\"} 2\n"));
/// assert!(text.contains("app_queue_depth 7\n"));
/// assert!(text.contains("app_job_seconds_bucket{le=\"0.1\"} 1\n"));
/// ```
#[track_caller]
pub fn counter(name: &str, help: &str) -> Counter {
    Counter(family(name, help, Kind::Counter, &[]))
}

/// Registers (or finds) the gauge `name`; see [`counter`] for an example.
///
/// # Panics
///
/// As [`counter`].
#[track_caller]
pub fn gauge(name: &str, help: &str) -> Gauge {
    Gauge(family(name, help, Kind::Gauge, &[]))
}

/// Registers (or finds) the histogram `name` with ascending upper `bounds` (the `+Inf`
/// bucket is implicit; [`DEFAULT_BUCKETS`] suits seconds); see [`counter`] for an
/// example.
///
/// # Panics
///
/// As [`counter`], and when `bounds` is not strictly ascending or holds NaN.
#[track_caller]
pub fn histogram(name: &str, help: &str, bounds: &[f64]) -> Histogram {
    assert!(
        bounds.windows(2).all(|w| w[0] < w[1]) && bounds.iter().all(|b| b.is_finite()),
        "histogram {name:?} bounds must be finite and strictly ascending"
    );
    let series = family(name, help, Kind::Histogram, bounds);
    Histogram {
        bounds: bounds_of(series.family),
        series,
    }
}

impl Counter {
    /// The series of this counter with `labels` (interned: call it once, keep the
    /// handle).
    ///
    /// # Panics
    ///
    /// When a label name is invalid (`[a-zA-Z_][a-zA-Z0-9_]*`, not `le`, not `__`-prefixed).
    #[track_caller]
    pub fn with(&self, labels: &[(&str, &str)]) -> Counter {
        Counter(series(self.0.family, labels))
    }

    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }

    /// Adds `n`.
    pub fn add(&self, n: u64) {
        record(|v| v.add(self.0.id, n as f64));
    }
}

impl Gauge {
    /// The series of this gauge with `labels`; see [`Counter::with`].
    ///
    /// # Panics
    ///
    /// As [`Counter::with`].
    #[track_caller]
    pub fn with(&self, labels: &[(&str, &str)]) -> Gauge {
        Gauge(series(self.0.family, labels))
    }

    /// Sets this loop's value.
    pub fn set(&self, v: f64) {
        record(|vals| vals.set(self.0.id, v));
    }

    /// Adds `d` (negative to subtract) to this loop's value.
    pub fn add(&self, d: f64) {
        record(|vals| vals.add(self.0.id, d));
    }

    /// Adds one.
    pub fn inc(&self) {
        self.add(1.0);
    }

    /// Subtracts one.
    pub fn dec(&self) {
        self.add(-1.0);
    }
}

impl Histogram {
    /// The series of this histogram with `labels`; see [`Counter::with`].
    ///
    /// # Panics
    ///
    /// As [`Counter::with`].
    #[track_caller]
    pub fn with(&self, labels: &[(&str, &str)]) -> Histogram {
        Histogram {
            series: series(self.series.family, labels),
            bounds: self.bounds.clone(),
        }
    }

    /// Records one value.
    pub fn observe(&self, v: f64) {
        record(|vals| vals.observe(self.series.id, &self.bounds, v));
    }

    /// Records a duration in seconds.
    pub fn observe_duration(&self, d: Duration) {
        self.observe(d.as_secs_f64());
    }
}
