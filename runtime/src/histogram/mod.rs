//! Keel's one histogram of durations: one bucket layout, two ways to record, one
//! read-out.
//!
//! # Buckets (`buckets.rs`)
//!
//! Values are nanoseconds (`u64`). Values below 16 get a bucket each; above, every power
//! of two `[2^e, 2^(e+1))` is split into 16 equal sub-buckets. A percentile therefore
//! comes back within 1/16 (6.25%) of the true value, over the whole `u64` range, with 976
//! buckets (7.8 KiB of counters) and no configuration. This is the HdrHistogram layout
//! with one significant hex digit, kept small enough to own one per pool class or per
//! loop.
//!
//! # Recording
//!
//! * [`Histogram`] (`atomic.rs`): relaxed atomics, for figures many threads record
//!   into (the blocking and worker pools' queue wait and run time).
//! * `LocalHistogram` and `SharedHistogram` (`local.rs`, crate-internal): a loop's lag,
//!   timer lateness and poll time, counted in plain memory by the owning loop and
//!   copied to atomics at most every 10 ms, so the loop's hot path writes no shared
//!   memory.
//!
//! # Reading (`snapshot.rs`)
//!
//! Both give a [`HistogramSnapshot`]: count, min, max, mean, standard deviation,
//! percentiles and cumulative counts for Prometheus `le` buckets, mergeable across
//! threads, pools and loops.

mod atomic;
mod buckets;
pub(crate) mod local;
mod snapshot;

pub use self::atomic::Histogram;
pub use self::snapshot::HistogramSnapshot;
