//! Keel's own families: the process (`process_*`, the standard names), the runtime's
//! loops, heap, blocking pool, worker pool and logger (`keel_*`).

use std::time::{Duration, UNIX_EPOCH};

use keel_runtime::histogram::HistogramSnapshot;
use keel_runtime::metrics::RuntimeMetrics;
use keel_runtime::{blocking, heap, log, process, workers};

use super::text::{HistogramValue, Kind, MetricSet};

/// `le` bounds (seconds) of the loop lag histogram.
const LAG_BUCKETS: [f64; 11] = [
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];
/// `le` bounds (seconds) of the task poll-duration histogram.
const POLL_BUCKETS: [f64; 9] = [0.00001, 0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0];
/// `le` bounds (seconds) of the pools' queue-wait and run-time histograms.
const JOB_BUCKETS: [f64; 10] = [0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0];

/// The `process_*` families.
pub(crate) fn write_process(set: &mut MetricSet) {
    let p = process::stats();
    set.counter(
        "process_cpu_seconds_total",
        "Total user and system CPU time spent in seconds.",
        &[],
        (p.cpu_user + p.cpu_system).as_secs_f64(),
    );
    set.gauge(
        "process_resident_memory_bytes",
        "Resident memory size in bytes.",
        &[],
        p.resident_bytes as f64,
    );
    set.gauge(
        "process_virtual_memory_bytes",
        "Virtual memory size in bytes.",
        &[],
        p.virtual_bytes as f64,
    );
    set.gauge(
        "process_open_fds",
        "Number of open file descriptors.",
        &[],
        p.open_fds as f64,
    );
    set.gauge(
        "process_max_fds",
        "Maximum number of open file descriptors.",
        &[],
        p.max_fds.map_or(f64::INFINITY, |n| n as f64),
    );
    if let Some(start) = p.start_time {
        let secs = start.duration_since(UNIX_EPOCH).unwrap_or_default();
        set.gauge(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            &[],
            secs.as_secs_f64(),
        );
    }
    set.gauge(
        "process_threads",
        "Number of OS threads in the process.",
        &[],
        p.threads as f64,
    );
}

/// A histogram (a loop's or a pool's) in `le` buckets.
fn histogram_value(h: &HistogramSnapshot, bounds: &[f64]) -> HistogramValue {
    let buckets = bounds
        .iter()
        .map(|&b| (b, h.count_at_most(Duration::from_secs_f64(b))))
        .collect();
    HistogramValue {
        buckets,
        sum: h.sum().as_secs_f64(),
        // From the buckets, so `+Inf` can never be below a bucket read a moment later.
        count: h.count_at_most(Duration::MAX),
    }
}

/// The per-loop `keel_*` families.
pub(crate) fn write_runtime(set: &mut MetricSet, m: &RuntimeMetrics) {
    set.declare(
        "keel_task_stalls_total",
        "Task polls longer than the stall threshold, by loop and task name.",
        Kind::Counter,
    );
    for l in &m.loops {
        let index = l.index.to_string();
        let lp = [("loop", index.as_str())];
        let lbl = &lp[..];
        set.histogram(
            "keel_loop_lag_seconds",
            "How long a loop ran between two looks at I/O and timers, one sample per turn.",
            lbl,
            histogram_value(&l.lag, &LAG_BUCKETS),
        );
        set.gauge(
            "keel_loop_utilization",
            "Event-loop utilization over the loop's life: busy / (busy + idle).",
            lbl,
            l.utilization(),
        );
        set.counter(
            "keel_loop_busy_seconds_total",
            "Time a loop spent outside epoll_wait (rate it for a recent utilization).",
            lbl,
            l.busy.as_secs_f64(),
        );
        set.counter(
            "keel_loop_idle_seconds_total",
            "Time a loop spent waiting in epoll_wait.",
            lbl,
            l.idle.as_secs_f64(),
        );
        set.gauge(
            "keel_tasks_alive",
            "Tasks alive on a loop.",
            lbl,
            l.tasks_alive as f64,
        );
        set.counter(
            "keel_tasks_spawned_total",
            "Tasks spawned onto a loop.",
            lbl,
            l.tasks_spawned as f64,
        );
        set.counter(
            "keel_task_polls_total",
            "Task polls run by a loop.",
            lbl,
            l.polls as f64,
        );
        set.histogram(
            "keel_task_poll_duration_seconds",
            "Duration of task polls (sampled: one poll in 16, plus every slow poll).",
            lbl,
            histogram_value(&l.poll_time, &POLL_BUCKETS),
        );
        set.counter(
            "keel_loop_stalls_total",
            "Task polls longer than the stall threshold, by loop.",
            lbl,
            l.stalls as f64,
        );
        for (task, n) in &l.stalls_by_task {
            set.counter(
                "keel_task_stalls_total",
                "Task polls longer than the stall threshold, by loop and task name.",
                &[("loop", index.as_str()), ("task", task.as_str())],
                *n as f64,
            );
        }
        set.counter(
            "keel_watchdog_reports_total",
            "Times the watchdog found a loop stuck in one poll.",
            lbl,
            l.watchdog_reports as f64,
        );
        set.counter(
            "keel_connections_accepted_total",
            "TCP connections accepted by a loop.",
            lbl,
            l.connections_accepted as f64,
        );
        set.gauge(
            "keel_connections_open",
            "TCP streams open on a loop.",
            lbl,
            l.connections_open as f64,
        );
        set.gauge(
            "keel_loop_inject_queue_depth",
            "Items waiting in a loop's inject queue at its last park.",
            lbl,
            l.inject_depth as f64,
        );
        set.gauge(
            "keel_loop_timers",
            "Timers registered on a loop.",
            lbl,
            l.timers as f64,
        );
        set.gauge(
            "keel_heap_loop_net_bytes",
            "Bytes allocated minus bytes freed by a loop's thread (needs heap::Tracked).",
            lbl,
            l.heap_net_bytes as f64,
        );
    }
}

/// The heap families.
pub(crate) fn write_heap(set: &mut MetricSet) {
    let h = heap::stats();
    set.gauge(
        "keel_heap_tracked",
        "1 when the heap::Tracked allocator is installed (else the heap figures are 0).",
        &[],
        f64::from(u8::from(h.tracked)),
    );
    set.gauge(
        "keel_heap_used_bytes",
        "Heap bytes in use.",
        &[],
        h.used as f64,
    );
    set.gauge(
        "keel_heap_peak_bytes",
        "The most heap bytes in use at once so far.",
        &[],
        h.peak as f64,
    );
    if let Some(limit) = h.limit {
        set.gauge(
            "keel_heap_limit_bytes",
            "The heap limit.",
            &[],
            limit as f64,
        );
    }
    set.counter(
        "keel_heap_allocations_total",
        "Heap allocations so far.",
        &[],
        h.allocations as f64,
    );
    set.gauge(
        "keel_memory_pressure",
        "1 while the process is under memory pressure (heap over its limit).",
        &[],
        f64::from(u8::from(h.under_pressure)),
    );
}

/// The blocking pool's families, when it was started.
pub(crate) fn write_blocking(set: &mut MetricSet) {
    let Some(m) = blocking::metrics() else { return };
    set.gauge(
        "keel_blocking_threads",
        "Blocking pool threads.",
        &[],
        m.threads as f64,
    );
    set.gauge(
        "keel_blocking_threads_max",
        "Blocking pool thread cap.",
        &[],
        m.max_threads as f64,
    );
    set.gauge(
        "keel_blocking_threads_busy",
        "Blocking pool threads running a job.",
        &[],
        m.busy as f64,
    );
    set.gauge(
        "keel_blocking_queue_depth",
        "Jobs queued in the blocking pool.",
        &[],
        m.queue_depth as f64,
    );
    set.gauge(
        "keel_blocking_queue_capacity",
        "Capacity of the blocking pool's queue.",
        &[],
        m.queue_capacity as f64,
    );
    for c in &m.classes {
        let class = c.class.name();
        let lbl = [("class", class)];
        set.gauge(
            "keel_blocking_class_cap",
            "Threads a class may use at once.",
            &lbl,
            c.cap as f64,
        );
        set.gauge(
            "keel_blocking_class_running",
            "Jobs of a class running.",
            &lbl,
            c.running as f64,
        );
        set.gauge(
            "keel_blocking_class_queued",
            "Jobs of a class queued.",
            &lbl,
            c.queued as f64,
        );
        set.counter(
            "keel_blocking_jobs_submitted_total",
            "Jobs submitted to the blocking pool, by class.",
            &lbl,
            c.submitted as f64,
        );
        set.counter(
            "keel_blocking_jobs_rejected_total",
            "Jobs refused because the queue was full, by class.",
            &lbl,
            c.rejected as f64,
        );
        for (outcome, n) in [
            ("completed", c.completed),
            ("panicked", c.panicked),
            ("cancelled", c.cancelled),
        ] {
            set.counter(
                "keel_blocking_jobs_finished_total",
                "Blocking jobs finished, by class and outcome.",
                &[("class", class), ("outcome", outcome)],
                n as f64,
            );
        }
        set.histogram(
            "keel_blocking_queue_wait_seconds",
            "Time blocking jobs waited in the queue, by class.",
            &lbl,
            histogram_value(&c.queue_wait, &JOB_BUCKETS),
        );
        set.histogram(
            "keel_blocking_run_seconds",
            "Time blocking jobs ran, by class.",
            &lbl,
            histogram_value(&c.run_time, &JOB_BUCKETS),
        );
    }
}

/// The worker pool's families, when it was started.
pub(crate) fn write_workers(set: &mut MetricSet) {
    let Some(m) = workers::metrics() else { return };
    set.gauge(
        "keel_workers_threads",
        "Worker pool threads.",
        &[],
        m.threads as f64,
    );
    set.gauge(
        "keel_workers_threads_busy",
        "Worker threads running a job.",
        &[],
        m.busy as f64,
    );
    set.gauge(
        "keel_workers_queue_depth",
        "Jobs queued in the worker pool.",
        &[],
        m.queue_depth as f64,
    );
    set.gauge(
        "keel_workers_queue_capacity",
        "Capacity of the worker pool's queue.",
        &[],
        m.queue_capacity as f64,
    );
    set.counter(
        "keel_workers_jobs_submitted_total",
        "Jobs submitted to the worker pool.",
        &[],
        m.submitted as f64,
    );
    set.counter(
        "keel_workers_jobs_rejected_total",
        "Jobs refused because the queue was full.",
        &[],
        m.rejected as f64,
    );
    for (outcome, n) in [
        ("completed", m.completed),
        ("panicked", m.panicked),
        ("cancelled", m.cancelled),
        ("timed_out", m.timed_out),
    ] {
        set.counter(
            "keel_workers_jobs_finished_total",
            "Worker jobs finished, by outcome.",
            &[("outcome", outcome)],
            n as f64,
        );
    }
    set.histogram(
        "keel_workers_queue_wait_seconds",
        "Time worker jobs waited in the queue.",
        &[],
        histogram_value(&m.queue_wait, &JOB_BUCKETS),
    );
    set.histogram(
        "keel_workers_run_seconds",
        "Time worker jobs ran.",
        &[],
        histogram_value(&m.run_time, &JOB_BUCKETS),
    );
}

/// The logger's family: lines dropped because the `keel-log` thread's buffer was full.
pub(crate) fn write_log(set: &mut MetricSet) {
    set.counter(
        "keel_log_dropped_lines_total",
        "Log lines dropped because the keel-log thread's buffer was full.",
        &[],
        log::dropped_lines() as f64,
    );
}

/// The trace pipeline's family, once tracing was turned on: spans exported, dropped
/// (the queue was full) and lost in failed exports, and spans queued now.
pub(crate) fn write_trace(set: &mut MetricSet) {
    let stats = keel_runtime::trace::stats();
    if stats == keel_runtime::trace::TraceStats::default() && !keel_runtime::trace::enabled() {
        return;
    }
    for (outcome, n) in [
        ("exported", stats.exported),
        ("dropped", stats.dropped),
        ("failed", stats.failed),
    ] {
        set.counter(
            "keel_trace_spans_total",
            "Finished spans by fate: exported, dropped (queue full), failed (export refused).",
            &[("outcome", outcome)],
            n as f64,
        );
    }
    set.gauge(
        "keel_trace_queue_spans",
        "Finished spans waiting for export.",
        &[],
        stats.queued as f64,
    );
}
