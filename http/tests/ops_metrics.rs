//! `/metrics` as Prometheus sees it: a running server is scraped and the text is parsed
//! by a real parser (Python's `prometheus_client`, which CI installs), then checked for
//! the process, runtime, heap and HTTP families and for values the test caused: requests
//! counted under their route pattern, a 431 under its reason, user metrics. Also the
//! bearer token (401 without or with a wrong one) and turning the endpoint off.

use std::io::Write;
use std::process::{Command, Stdio};

use keel_http::{Ops, Path, Router, Server, ServerConfig, metrics};
use keel_testkit::{Client, TestServer};
use serde_json::Value;

/// Parses exposition text with `prometheus_client` and checks what the parser alone
/// does not: one `# TYPE` per family, no duplicate series, and histograms with
/// cumulative buckets ending in `+Inf` equal to `_count`. Prints every sample as JSON
/// `[name, labels, value]`, and the families as `{name: type}`.
const PARSE: &str = r#"
import json, sys, math
from prometheus_client.parser import text_string_to_metric_families
text = sys.stdin.read()
types = [l.split()[2] for l in text.splitlines() if l.startswith('# TYPE ')]
assert len(types) == len(set(types)), 'a family is declared twice'
families, samples, seen = {}, [], set()
for f in text_string_to_metric_families(text):
    families[f.name] = f.type
    hist = {}
    for s in f.samples:
        key = (s.name, tuple(sorted(s.labels.items())))
        assert key not in seen, 'duplicate series %r' % (key,)
        seen.add(key)
        v = s.value
        samples.append([s.name, s.labels, 'NaN' if math.isnan(v) else ('+Inf' if v == math.inf else v)])
        if f.type == 'histogram':
            base = tuple(sorted((k, x) for k, x in s.labels.items() if k != 'le'))
            h = hist.setdefault(base, {'buckets': [], 'count': None})
            if s.name.endswith('_bucket'):
                le = float(s.labels['le'])
                h['buckets'].append((le, v))
            elif s.name.endswith('_count'):
                h['count'] = v
    for base, h in hist.items():
        b = h['buckets']
        assert b and b[-1][0] == math.inf, '%s%r has no +Inf bucket' % (f.name, base)
        assert all(b[i][0] < b[i+1][0] and b[i][1] <= b[i+1][1] for i in range(len(b) - 1)), \
            '%s%r buckets are not cumulative' % (f.name, base)
        assert b[-1][1] == h['count'], '%s%r +Inf != _count' % (f.name, base)
json.dump({'families': families, 'samples': samples}, sys.stdout)
"#;

/// What the parser made of a scrape.
struct Scrape {
    families: serde_json::Map<String, Value>,
    samples: Vec<(String, serde_json::Map<String, Value>, Value)>,
}

impl Scrape {
    fn parse(text: &str) -> Scrape {
        let mut child = Command::new("python3")
            .args(["-c", PARSE])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 must be installed (with prometheus_client; see .ci/run)");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "prometheus_client refused the exposition:\n{}\n--- text ---\n{text}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        let families = json["families"].as_object().unwrap().clone();
        let samples = json["samples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s[0].as_str().unwrap().to_owned(),
                    s[1].as_object().unwrap().clone(),
                    s[2].clone(),
                )
            })
            .collect();
        Scrape { families, samples }
    }

    /// Samples named `name` whose labels include all of `labels`.
    fn find(&self, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
        self.samples
            .iter()
            .filter(|(n, l, _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.get(*k).and_then(Value::as_str) == Some(*v))
            })
            .map(|(_, _, v)| v.as_f64().unwrap_or(f64::INFINITY))
            .collect()
    }

    /// The one sample named `name` whose labels include `labels` (or, when several do,
    /// the one with exactly `labels`).
    #[track_caller]
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let mut found = self.find(name, labels);
        if found.len() > 1 {
            found = self
                .samples
                .iter()
                .filter(|(n, l, _)| n == name && l.len() == labels.len())
                .filter(|(_, l, _)| {
                    labels
                        .iter()
                        .all(|(k, v)| l.get(*k).and_then(Value::as_str) == Some(*v))
                })
                .map(|(_, _, v)| v.as_f64().unwrap_or(f64::INFINITY))
                .collect();
        }
        assert_eq!(found.len(), 1, "{name}{labels:?}: {found:?}");
        found[0]
    }

    #[track_caller]
    fn family(&self, name: &str, kind: &str) {
        assert_eq!(
            self.families.get(name).and_then(Value::as_str),
            Some(kind),
            "family {name}"
        );
    }
}

fn scrape(client: &mut Client, token: Option<&str>) -> keel_testkit::Response {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    client.request(format!("GET /metrics HTTP/1.1\r\nHost: test\r\n{auth}\r\n"))
}

#[test]
fn scrape_parses_and_holds_every_family() {
    let lookups = metrics::counter("test_user_lookups_total", "Users looked up.");
    let by_kind = lookups.with(&[("kind", "vip \"gold\"\\")]);
    let size = metrics::histogram("test_user_id_size", "Ids seen.", &[1.0, 10.0]);
    let cache = metrics::gauge("test_cache_entries", "Entries cached.");
    let server = TestServer::start(ServerConfig::default(), move || {
        let size = size.clone();
        Router::new().get("/users/:id", move |Path(id): Path<u64>| {
            lookups.inc();
            by_kind.add(2);
            size.observe(id as f64);
            cache.inc();
            async move { format!("user {id}") }
        })
    });

    // Separate connections, so the kernel may spread them over both loops.
    for id in 1..=3 {
        let res = server.connect().get(&format!("/users/{id}"));
        assert_eq!(res.status, 200);
    }
    assert_eq!(server.connect().get("/nowhere/42").status, 404);
    let mut c = server.connect();
    let mut huge = b"GET /users/1 HTTP/1.1\r\nHost: h\r\nX-Pad: ".to_vec();
    huge.resize(keel_http::DEFAULT_MAX_HEAD_SIZE + 100, b'p');
    huge.extend_from_slice(b"\r\n\r\n");
    assert_eq!(c.request(huge).status, 431);

    // A job on each pool, so their families are there.
    keel_runtime::block_on(async {
        let job = keel_runtime::blocking::spawn(|| 1).expect("blocking pool");
        assert_eq!(job.await.unwrap(), 1);
        let job = keel_runtime::workers::spawn(|| 2).expect("worker pool");
        assert_eq!(job.await.unwrap(), 2);
    });

    let mut c = server.connect();
    let res = scrape(&mut c, None);
    assert_eq!(res.status, 200);
    assert_eq!(res.header("content-type"), Some(metrics::CONTENT_TYPE));
    let s = Scrape::parse(res.text());

    // HTTP RED, by route pattern.
    let users = [
        ("method", "GET"),
        ("route", "/users/:id"),
        ("status", "200"),
    ];
    assert_eq!(s.value("http_requests_total", &users), 3.0);
    assert_eq!(
        s.value(
            "http_requests_total",
            &[("route", metrics::UNMATCHED_ROUTE), ("status", "404")]
        ),
        1.0
    );
    for (_, labels, _) in &s.samples {
        let route = labels.get("route").and_then(Value::as_str).unwrap_or("");
        assert!(
            !route.contains("/users/1") && !route.contains("42"),
            "raw path as label: {route}"
        );
    }
    let route = [("route", "/users/:id")];
    assert_eq!(s.value("http_request_duration_seconds_count", &route), 3.0);
    assert_eq!(
        s.value(
            "http_request_duration_seconds_bucket",
            &[("route", "/users/:id"), ("le", "5")]
        ),
        3.0
    );
    assert_eq!(
        s.value(
            "http_rejections_total",
            &[("status", "431"), ("reason", "header_fields_too_large")]
        ),
        1.0
    );
    // This scrape is in flight while it is gathered.
    assert!(s.value("http_requests_in_flight", &[]) >= 1.0);
    assert!(s.value("http_request_bytes_total", &[]) > keel_http::DEFAULT_MAX_HEAD_SIZE as f64);
    assert!(s.value("http_response_bytes_total", &[]) > 0.0);
    s.family("http_request_duration_seconds", "histogram");

    // User metrics, merged over loops.
    assert_eq!(s.value("test_user_lookups_total", &[]), 3.0);
    assert_eq!(
        s.value("test_user_lookups_total", &[("kind", "vip \"gold\"\\")]),
        6.0
    );
    assert_eq!(s.value("test_user_id_size_bucket", &[("le", "1")]), 1.0);
    assert_eq!(s.value("test_user_id_size_bucket", &[("le", "10")]), 3.0);
    assert_eq!(s.value("test_user_id_size_sum", &[]), 6.0);
    assert_eq!(s.value("test_cache_entries", &[]), 3.0);

    // Process.
    assert!(s.value("process_cpu_seconds_total", &[]) > 0.0);
    assert!(s.value("process_resident_memory_bytes", &[]) > 1e5);
    assert!(
        s.value("process_virtual_memory_bytes", &[])
            >= s.value("process_resident_memory_bytes", &[])
    );
    assert!(s.value("process_open_fds", &[]) >= 3.0);
    assert!(s.value("process_max_fds", &[]) >= s.value("process_open_fds", &[]));
    let start = s.value("process_start_time_seconds", &[]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        start > now - 86_400.0 && start <= now + 1.0,
        "start {start}, now {now}"
    );
    assert!(s.value("process_threads", &[]) >= 3.0);

    // Runtime, per loop. Loops publish their figures when they park (histograms at most
    // every 10 ms), so a loop that was idle until the scrape woke it may show its
    // figures only on a later scrape.
    let deadline = std::time::Instant::now() + keel_testkit::IO_TIMEOUT;
    let s = loop {
        let s = Scrape::parse(scrape(&mut c, None).text());
        let ready = ["0", "1"].iter().all(|lp| {
            s.value("keel_loop_lag_seconds_count", &[("loop", lp)]) > 0.0
                && s.value("keel_tasks_alive", &[("loop", lp)]) >= 1.0
        });
        if ready || std::time::Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    for lp in ["0", "1"] {
        let l = [("loop", lp)];
        assert!(s.value("keel_loop_lag_seconds_count", &l) > 0.0);
        let elu = s.value("keel_loop_utilization", &l);
        assert!((0.0..=1.0).contains(&elu), "{elu}");
        assert!(s.value("keel_task_polls_total", &l) > 0.0);
        assert!(s.value("keel_tasks_alive", &l) >= 1.0);
        s.value("keel_task_poll_duration_seconds_count", &l);
        s.value("keel_connections_open", &l);
        s.value("keel_watchdog_reports_total", &l);
        s.value("keel_loop_stalls_total", &l);
    }
    let accepted: f64 = s.find("keel_connections_accepted_total", &[]).iter().sum();
    assert!(accepted >= 6.0, "{accepted}");
    s.family("keel_task_stalls", "counter");

    // Blocking and worker pools (other tests may use them too: at least our jobs).
    let user = [("class", "user"), ("outcome", "completed")];
    assert!(s.value("keel_blocking_jobs_finished_total", &user) >= 1.0);
    assert!(s.value("keel_blocking_run_seconds_count", &[("class", "user")]) >= 1.0);
    assert_eq!(s.find("keel_blocking_class_cap", &[]).len(), 3);
    let done = [("outcome", "completed")];
    assert!(s.value("keel_workers_jobs_finished_total", &done) >= 1.0);
    assert!(s.value("keel_workers_run_seconds_count", &[]) >= 1.0);
    assert!(s.value("keel_workers_threads", &[]) >= 1.0);

    // The logger (no logger runs in this test process: nothing dropped).
    assert_eq!(s.value("keel_log_dropped_lines_total", &[]), 0.0);

    // Heap.
    assert_eq!(s.value("keel_memory_pressure", &[]), 0.0);
    s.value("keel_heap_used_bytes", &[]);
    s.value("keel_heap_peak_bytes", &[]);
    assert_eq!(s.find("keel_heap_loop_net_bytes", &[]).len(), 2);

    // Later scrapes count the earlier ones under the endpoint's own route.
    let before = s.value(
        "http_requests_total",
        &[("route", "/metrics"), ("status", "200")],
    );
    let s2 = Scrape::parse(scrape(&mut c, None).text());
    assert!(before >= 1.0);
    assert_eq!(
        s2.value(
            "http_requests_total",
            &[("route", "/metrics"), ("status", "200")]
        ),
        before + 1.0
    );
}

#[test]
fn token_guards_the_endpoint() {
    let server = ops_server(Ops::new().metrics_token("s3cret-token"));
    let server = TestServer::start_server(2, server, || Router::new().get("/", || async { "hi" }));
    let mut c = server.connect();
    let res = scrape(&mut c, None);
    res.assert_error(401, "unauthorized");
    assert_eq!(res.header("www-authenticate"), Some("Bearer"));
    assert_eq!(scrape(&mut c, Some("wrong")).status, 401);
    assert_eq!(scrape(&mut c, Some("s3cret-token-and-more")).status, 401);
    let res = scrape(&mut c, Some("s3cret-token"));
    assert_eq!(res.status, 200);
    let s = Scrape::parse(res.text());
    s.family("process_cpu_seconds", "counter");
    // The refused scrapes were answered (401) and counted like any request.
    assert_eq!(
        s.value(
            "http_requests_total",
            &[("route", "/metrics"), ("status", "401")]
        ),
        3.0
    );
}

#[test]
fn endpoint_can_be_turned_off() {
    let server = ops_server(Ops::new().metrics(false));
    let server = TestServer::start_server(2, server, || {
        Router::new().get("/metrics", || async { "the app's own" })
    });
    let res = server.connect().get("/metrics");
    assert_eq!((res.status, res.text()), (200, "the app's own"));
}

/// A server on a free port with `ops` as its ops endpoints.
fn ops_server(ops: Ops) -> Server {
    Server::bind("127.0.0.1:0")
        .expect("bind")
        .handle_signals(false)
        .ops(ops)
}
