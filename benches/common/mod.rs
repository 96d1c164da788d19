//! What the runtime benches share: the short measurement settings, a recorder for the
//! samples each benchmark measures, and the keel/tokio ratio printed after criterion.
//!
//! Every benchmark here uses `iter_custom` and passes its measured time through
//! [`record`]. Criterion runs a benchmark's warm-up first and its `SAMPLE_SIZE` measured
//! samples last, so the last `SAMPLE_SIZE` records of an id are exactly the samples
//! criterion analysed; [`print_ratio`] compares the medians of their per-iteration times.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use criterion::BenchmarkGroup;
use criterion::measurement::WallTime;

/// Samples per benchmark (criterion's minimum is 10).
pub(crate) const SAMPLE_SIZE: usize = 30;

/// `(iterations, elapsed)` per call of a benchmark's routine, keyed by `group/function`.
static SAMPLES: Mutex<BTreeMap<String, Vec<(u64, Duration)>>> = Mutex::new(BTreeMap::new());

/// Applies the suite's short settings (1 s warm-up, 3 s measurement, `SAMPLE_SIZE`
/// samples) so that `cargo bench --features bench` takes minutes, not hours.
pub(crate) fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(SAMPLE_SIZE);
}

/// Notes one call of the routine of benchmark `group/function` and hands `elapsed` back,
/// for `iter_custom` to return.
pub(crate) fn record(group: &str, function: &str, iters: u64, elapsed: Duration) -> Duration {
    SAMPLES
        .lock()
        .expect("sample store poisoned")
        .entry(format!("{group}/{function}"))
        .or_default()
        .push((iters, elapsed));
    elapsed
}

/// Median time per iteration over the measured samples of `group/function`; `None` when
/// the benchmark did not run its full measurement (filtered out, `--test` mode).
fn median_per_iter(group: &str, function: &str) -> Option<f64> {
    let samples = SAMPLES.lock().expect("sample store poisoned");
    let all = samples.get(&format!("{group}/{function}"))?;
    if all.len() < SAMPLE_SIZE {
        return None;
    }
    let mut per_iter: Vec<f64> = all[all.len() - SAMPLE_SIZE..]
        .iter()
        .map(|&(iters, elapsed)| elapsed.as_nanos() as f64 / iters as f64)
        .collect();
    per_iter.sort_by(f64::total_cmp);
    let mid = per_iter.len() / 2;
    Some(if per_iter.len().is_multiple_of(2) {
        (per_iter[mid - 1] + per_iter[mid]) / 2.0
    } else {
        per_iter[mid]
    })
}

/// Prints `ratio <group> keel/<peer>: <r>x (time)` from the two medians; below 1 means
/// Keel took less time. Prints nothing when either side did not run fully.
pub(crate) fn print_ratio(group: &str, peer: &str) {
    let (Some(keel), Some(other)) = (median_per_iter(group, "keel"), median_per_iter(group, peer))
    else {
        return;
    };
    println!(
        "ratio {group} keel/{peer}: {:.2}x (time; median per iteration: keel {}, {peer} {})",
        keel / other,
        human(keel),
        human(other),
    );
}

/// Nanoseconds as criterion prints them.
fn human(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.3} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

/// A routine of a bench, by `group/function` id, for [`run_once`].
#[allow(
    dead_code,
    reason = "only the benches with an instruction-count mode use it"
)]
pub(crate) type Routine<'a> = (String, Box<dyn Fn(u64) + 'a>);

/// The instruction-count mode of `benches/callgrind.sh`: with `KEEL_BENCH_ONCE` set to
/// `group/function:iterations`, runs that one routine once with that many iterations and
/// returns true, and the bench's `main` skips criterion. Callgrind counts instructions,
/// which the machine's other load does not change, so two runs of different lengths
/// give a routine's exact cost per iteration.
///
/// # Panics
///
/// On a malformed value or an id that is not among `routines`.
#[allow(
    dead_code,
    reason = "only the benches with an instruction-count mode use it"
)]
pub(crate) fn run_once(routines: &[Routine<'_>]) -> bool {
    let Ok(spec) = std::env::var("KEEL_BENCH_ONCE") else {
        return false;
    };
    let (id, iters) = spec
        .rsplit_once(':')
        .expect("KEEL_BENCH_ONCE is group/function:iterations");
    let iters: u64 = iters.parse().expect("KEEL_BENCH_ONCE: iterations");
    let Some((_, run)) = routines.iter().find(|(name, _)| name == id) else {
        let known: Vec<&str> = routines.iter().map(|(name, _)| name.as_str()).collect();
        panic!("KEEL_BENCH_ONCE: no benchmark {id}; this bench has {known:?}");
    };
    run(iters);
    true
}
