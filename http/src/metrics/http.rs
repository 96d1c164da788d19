//! HTTP RED figures of one loop ([`HttpStats`]): requests by method, route pattern and
//! status, their durations, requests in flight, bytes in and out, and rejections by
//! reason — counted in plain `Cell`s by the loop's connections, copied out at scrape
//! ([`HttpSnapshot`]) and merged over loops into the `http_*` families.
//!
//! # Cost per request
//!
//! One hash lookup keyed by `(method index, address of the route's interned pattern)`
//! with a multiply-shift hash, a short linear scan for the status, and a bucket
//! increment: no allocation once a (method, route, status) was seen. The pattern's `Rc`
//! is held by the entry, so its address cannot be reused for another pattern.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;
use std::time::Duration;

use super::text::{HistogramValue, Kind, MetricSet};
use crate::proto::method::Method;

/// Upper bounds of `http_request_duration_seconds`, 5 ms … 5 s.
pub const DURATION_BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// The `route` label of requests no route matched.
pub const UNMATCHED_ROUTE: &str = "<unmatched>";

const METHODS: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "OTHER",
];

/// The index of `method` in [`METHODS`]; every extension method is `OTHER`, so a
/// client cannot grow the label set.
fn method_index(method: &Method) -> u8 {
    match method {
        Method::Get => 0,
        Method::Head => 1,
        Method::Post => 2,
        Method::Put => 3,
        Method::Delete => 4,
        Method::Connect => 5,
        Method::Options => 6,
        Method::Trace => 7,
        Method::Patch => 8,
        _ => 9,
    }
}

/// A multiply-shift hasher for the small integer keys of [`HttpStats`].
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

#[derive(Debug)]
struct RouteStats {
    route: Rc<str>,
    statuses: Vec<(u16, u64)>,
    buckets: [u64; DURATION_BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// One loop's HTTP figures.
pub(crate) struct HttpStats {
    in_flight: Cell<u64>,
    bytes_in: Cell<u64>,
    bytes_out: Cell<u64>,
    routes: RefCell<HashMap<(u8, usize), RouteStats, BuildHasherDefault<KeyHasher>>>,
    /// `(status, reason, count)`; a handful of entries.
    rejections: RefCell<Vec<(u16, String, u64)>>,
    unmatched: Rc<str>,
}

impl std::fmt::Debug for HttpStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpStats")
            .field("in_flight", &self.in_flight.get())
            .field("routes", &self.routes.borrow().len())
            .finish_non_exhaustive()
    }
}

impl Default for HttpStats {
    fn default() -> HttpStats {
        HttpStats {
            in_flight: Cell::new(0),
            bytes_in: Cell::new(0),
            bytes_out: Cell::new(0),
            routes: RefCell::default(),
            rejections: RefCell::default(),
            unmatched: Rc::from(UNMATCHED_ROUTE),
        }
    }
}

impl HttpStats {
    /// A request reached the handler stage; counted in flight until the guard drops.
    pub(crate) fn start(self: &Rc<HttpStats>) -> InFlightCount {
        self.in_flight.set(self.in_flight.get() + 1);
        InFlightCount(self.clone())
    }

    /// A request was answered with `status` after `took`; `route` is its pattern
    /// (`None`: no route matched).
    pub(crate) fn request(
        &self,
        method: &Method,
        route: Option<&Rc<str>>,
        status: u16,
        took: Duration,
    ) {
        let route = route.unwrap_or(&self.unmatched);
        let key = (
            method_index(method),
            Rc::as_ptr(route).cast::<u8>() as usize,
        );
        let mut routes = self.routes.borrow_mut();
        let stats = routes.entry(key).or_insert_with(|| RouteStats {
            route: route.clone(),
            statuses: Vec::new(),
            buckets: [0; DURATION_BUCKETS.len()],
            sum: 0.0,
            count: 0,
        });
        match stats.statuses.iter_mut().find(|(s, _)| *s == status) {
            Some((_, n)) => *n += 1,
            None => stats.statuses.push((status, 1)),
        }
        let secs = took.as_secs_f64();
        if let Some(i) = DURATION_BUCKETS.iter().position(|&b| secs <= b) {
            stats.buckets[i] += 1;
        }
        stats.sum += secs;
        stats.count += 1;
    }

    /// A request was refused before any handler ran, answered with `status` for `reason`.
    pub(crate) fn reject(&self, status: u16, reason: &str) {
        let mut rejections = self.rejections.borrow_mut();
        match rejections
            .iter_mut()
            .find(|(s, r, _)| *s == status && r == reason)
        {
            Some((_, _, n)) => *n += 1,
            None => rejections.push((status, reason.to_owned(), 1)),
        }
    }

    /// `n` bytes read from clients.
    pub(crate) fn bytes_in(&self, n: usize) {
        self.bytes_in.set(self.bytes_in.get() + n as u64);
    }

    /// `n` bytes written to clients.
    pub(crate) fn bytes_out(&self, n: usize) {
        self.bytes_out.set(self.bytes_out.get() + n as u64);
    }

    /// A copy of the figures, for the scrape.
    pub(crate) fn snapshot(&self) -> HttpSnapshot {
        let mut snap = HttpSnapshot {
            in_flight: self.in_flight.get(),
            bytes_in: self.bytes_in.get(),
            bytes_out: self.bytes_out.get(),
            ..HttpSnapshot::default()
        };
        for (&(method, _), stats) in self.routes.borrow().iter() {
            let method = METHODS[usize::from(method)];
            let route = stats.route.to_string();
            for &(status, n) in &stats.statuses {
                *snap
                    .requests
                    .entry((method, route.clone(), status))
                    .or_insert(0) += n;
            }
            let d = snap.durations.entry((method, route)).or_default();
            d.add(&stats.buckets, stats.sum, stats.count);
        }
        for (status, reason, n) in self.rejections.borrow().iter() {
            *snap
                .rejections
                .entry((*status, reason.clone()))
                .or_insert(0) += n;
        }
        snap
    }
}

/// Counts a request in flight until dropped (also when its connection task is).
#[derive(Debug)]
pub(crate) struct InFlightCount(Rc<HttpStats>);

impl Drop for InFlightCount {
    fn drop(&mut self) {
        self.0
            .in_flight
            .set(self.0.in_flight.get().saturating_sub(1));
    }
}

/// Per-bucket (not cumulative) counts, sum and count of request durations.
#[derive(Debug, Clone, Default)]
pub(crate) struct Durations {
    buckets: [u64; DURATION_BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Durations {
    fn add(&mut self, buckets: &[u64; DURATION_BUCKETS.len()], sum: f64, count: u64) {
        for (mine, theirs) in self.buckets.iter_mut().zip(buckets) {
            *mine += theirs;
        }
        self.sum += sum;
        self.count += count;
    }
}

/// The HTTP figures of one or more loops, mergeable.
#[derive(Debug, Clone, Default)]
pub(crate) struct HttpSnapshot {
    in_flight: u64,
    bytes_in: u64,
    bytes_out: u64,
    requests: BTreeMap<(&'static str, String, u16), u64>,
    durations: BTreeMap<(&'static str, String), Durations>,
    rejections: BTreeMap<(u16, String), u64>,
}

impl HttpSnapshot {
    /// Adds another loop's figures.
    pub(crate) fn merge(&mut self, other: HttpSnapshot) {
        self.in_flight += other.in_flight;
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
        for (k, n) in other.requests {
            *self.requests.entry(k).or_insert(0) += n;
        }
        for (k, d) in other.durations {
            self.durations
                .entry(k)
                .or_default()
                .add(&d.buckets, d.sum, d.count);
        }
        for (k, n) in other.rejections {
            *self.rejections.entry(k).or_insert(0) += n;
        }
    }

    /// Writes the `http_*` families.
    pub(crate) fn write(&self, set: &mut MetricSet) {
        const REQUESTS: &str = "HTTP requests answered, by method, route pattern and status.";
        const DURATION: &str =
            "Time from a request's complete head to its written response, by method and route.";
        const REJECTIONS: &str = "Requests refused before any handler ran, by status and reason.";
        set.gauge(
            "http_requests_in_flight",
            "Requests being handled now.",
            &[],
            self.in_flight as f64,
        );
        set.counter(
            "http_request_bytes_total",
            "Bytes read from HTTP clients.",
            &[],
            self.bytes_in as f64,
        );
        set.counter(
            "http_response_bytes_total",
            "Bytes written to HTTP clients.",
            &[],
            self.bytes_out as f64,
        );
        // Present (empty) even before the first request, so dashboards find them.
        set.declare("http_requests_total", REQUESTS, Kind::Counter);
        set.declare("http_request_duration_seconds", DURATION, Kind::Histogram);
        set.declare("http_rejections_total", REJECTIONS, Kind::Counter);
        for ((method, route, status), n) in &self.requests {
            let status = status.to_string();
            let labels = [
                ("method", *method),
                ("route", route.as_str()),
                ("status", &status),
            ];
            set.counter("http_requests_total", REQUESTS, &labels, *n as f64);
        }
        for ((method, route), d) in &self.durations {
            let mut cumulative = 0;
            let buckets = DURATION_BUCKETS
                .iter()
                .zip(d.buckets)
                .map(|(&bound, n)| {
                    cumulative += n;
                    (bound, cumulative)
                })
                .collect();
            let value = HistogramValue {
                buckets,
                sum: d.sum,
                count: d.count,
            };
            let labels = [("method", *method), ("route", route.as_str())];
            set.histogram("http_request_duration_seconds", DURATION, &labels, value);
        }
        for ((status, reason), n) in &self.rejections {
            let status = status.to_string();
            let labels = [("status", status.as_str()), ("reason", reason.as_str())];
            set.counter("http_rejections_total", REJECTIONS, &labels, *n as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_pattern_and_merges() {
        let a = Rc::new(HttpStats::default());
        let route: Rc<str> = Rc::from("/users/:id");
        {
            let _g = a.start();
            assert_eq!(a.snapshot().in_flight, 1);
        }
        a.request(&Method::Get, Some(&route), 200, Duration::from_millis(3));
        a.request(&Method::Get, Some(&route), 200, Duration::from_millis(30));
        a.request(&Method::Extension("BREW".into()), None, 404, Duration::ZERO);
        a.reject(431, "header_fields_too_large");
        let b = HttpStats::default();
        b.request(&Method::Get, Some(&route), 500, Duration::from_secs(9));
        let mut snap = a.snapshot();
        assert_eq!(snap.in_flight, 0);
        snap.merge(b.snapshot());
        assert_eq!(snap.requests[&("GET", "/users/:id".to_owned(), 200)], 2);
        assert_eq!(snap.requests[&("GET", "/users/:id".to_owned(), 500)], 1);
        assert_eq!(
            snap.requests[&("OTHER", UNMATCHED_ROUTE.to_owned(), 404)],
            1
        );
        let d = &snap.durations[&("GET", "/users/:id".to_owned())];
        assert_eq!((d.count, d.buckets[0], d.buckets[3]), (3, 1, 1));
        assert_eq!(
            snap.rejections[&(431, "header_fields_too_large".to_owned())],
            1
        );
    }
}
