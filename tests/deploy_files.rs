//! `docs/deploy/` against the code. Every YAML and JSON file there parses; the
//! Deployment's probe paths are ones the hello example serves (started as a process with
//! the Deployment's own variables), its container port is `PORT`, its variables are ones
//! Keel reads ([`keel::Config::VARIABLES`], itself checked against the source and
//! `docs/configuration.md`), its grace period outlasts the drain and its
//! `KEEL_HEAP_LIMIT` is 75% of the memory limit; the Service, autoscaler and disruption
//! budget select it; the alert rules and the Grafana dashboard name only metrics a real
//! `/metrics` serves (and, where promtool is installed, the rules pass its check and the
//! unit tests of `alerts_test.yml`); the Dockerfile builds hello and runs as a non-root
//! user.
//!
//! The hello binary is the one `cargo test` builds next to this test (with
//! `--test deploy_files` alone, run `cargo build --example hello` first).

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use keel::http::config::{parse_duration, parse_size};
use serde_norway::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn deploy_dir() -> PathBuf {
    root().join("docs/deploy")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Every YAML document of `docs/deploy/<name>`.
fn yaml(name: &str) -> Vec<Value> {
    let text = read(&deploy_dir().join(name));
    serde_norway::Deserializer::from_str(&text)
        .map(|doc| serde::Deserialize::deserialize(doc).unwrap_or_else(|e| panic!("{name}: {e}")))
        .collect()
}

/// The one document of `name`, of kind `kind`.
fn manifest(name: &str, kind: &str) -> Value {
    let docs = yaml(name);
    assert_eq!(docs.len(), 1, "{name}: one document");
    let doc = docs.into_iter().next().unwrap();
    assert_eq!(str_at(&doc, &["kind"]), kind, "{name}");
    doc
}

/// The value at `path` (map keys, or list indexes written as numbers).
fn at<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    let mut cur = v;
    for key in path {
        cur = match key.parse::<usize>() {
            Ok(i) => cur.get(i),
            Err(_) => cur.get(*key),
        }
        .unwrap_or_else(|| panic!("no {path:?} (stopped at {key:?})"));
    }
    cur
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    at(v, path)
        .as_str()
        .unwrap_or_else(|| panic!("{path:?} is not a string"))
}

fn int_at(v: &Value, path: &[&str]) -> u64 {
    at(v, path)
        .as_u64()
        .unwrap_or_else(|| panic!("{path:?} is not a whole number"))
}

fn deployment() -> Value {
    manifest("deployment.yaml", "Deployment")
}

fn container(dep: &Value) -> &Value {
    let containers = at(dep, &["spec", "template", "spec", "containers"]);
    assert_eq!(
        containers.as_sequence().map(Vec::len),
        Some(1),
        "one container"
    );
    &containers[0]
}

/// The container's variables with a literal value (`valueFrom` ones have none).
fn env(container: &Value) -> Vec<(String, Option<String>)> {
    at(container, &["env"])
        .as_sequence()
        .expect("env is a list")
        .iter()
        .map(|e| {
            let value = e
                .get("value")
                .map(|v| v.as_str().expect("quoted").to_owned());
            (str_at(e, &["name"]).to_owned(), value)
        })
        .collect()
}

fn env_value(container: &Value, name: &str) -> String {
    env(container)
        .into_iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, v)| v)
        .unwrap_or_else(|| panic!("the Deployment sets no {name}"))
}

/// A Kubernetes memory quantity (`1Gi`, `512Mi`, `1G`, `1073741824`) in bytes.
fn quantity_bytes(q: &str) -> u64 {
    let units: [(&str, u64); 8] = [
        ("Ki", 1 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("Ti", 1 << 40),
        ("k", 1_000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
        ("T", 1_000_000_000_000),
    ];
    for (suffix, mult) in units {
        if let Some(n) = q.strip_suffix(suffix) {
            return n.parse::<u64>().expect("a whole quantity") * mult;
        }
    }
    q.parse().expect("a memory quantity")
}

/// The names a `/metrics` text serves: every sample's name, and for each histogram
/// family its `_bucket`, `_sum` and `_count` (present even before a first sample).
fn served_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let (name, kind) = (parts.next().unwrap(), parts.next().unwrap());
            names.insert(name.to_owned());
            if kind == "histogram" {
                for suffix in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{name}{suffix}"));
                }
            }
        } else if !line.starts_with('#') && !line.is_empty() {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            names.insert(line[..end].to_owned());
        }
    }
    names
}

/// Metric names in a PromQL expression (or any text): the words that start with one of
/// Keel's prefixes.
fn metric_names(expr: &str) -> BTreeSet<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|w| {
            ["keel_", "http_", "process_"]
                .iter()
                .any(|p| w.starts_with(p))
        })
        .map(str::to_owned)
        .collect()
}

/// A trivial pool manager, so the pool families can be rendered in-process.
struct Unit;

impl keel::pool::Manager for Unit {
    type Connection = ();
    type Error = std::convert::Infallible;

    async fn create(&self) -> Result<(), Self::Error> {
        Ok(())
    }

    async fn recycle(&self, _: &mut ()) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Every metric name Keel serves: hello's real `/metrics` (after a request, with the
/// Deployment's variables), and the families hello has no use for — a connection pool,
/// a circuit breaker, a bulkhead, the blocking and worker pools — rendered in this
/// process by the same code after registering one of each.
fn all_served_names() -> (BTreeSet<String>, BTreeSet<String>) {
    let c = deployment();
    let envs = deployment_envs(container(&c));
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut hello = support::start("hello", &envs);
    assert_eq!(hello.request("GET", "/plaintext", None).status, 200);
    let metrics = hello.request("GET", "/metrics", None);
    assert_eq!(metrics.status, 200);
    let mut names = served_names(&metrics.body);
    let mut families = families(&metrics.body);
    let (status, _, stderr) = hello.stop();
    assert!(status.success(), "hello: {status}; stderr: {stderr}");

    let breaker = keel::resilience::CircuitBreaker::builder("deploy-files")
        .build()
        .unwrap();
    keel::metrics::register_breaker(&breaker);
    let bulkhead = keel::resilience::Bulkhead::builder("deploy-files")
        .max_concurrent(2)
        .build()
        .unwrap();
    keel::metrics::register_bulkhead(&bulkhead);
    let local = keel::runtime::block_on(async {
        let pool = keel::pool::Pool::builder(Unit).max(2).build();
        keel::metrics::register_pool("db", &pool);
        drop(pool.get().await.unwrap());
        keel::fs::metadata("/").await.unwrap(); // starts the blocking pool
        keel::runtime::workers::spawn(|| 1 + 1)
            .unwrap()
            .await
            .unwrap(); // and the worker pool
        keel::metrics::gather_local().render()
    });
    names.extend(served_names(&local));
    families.extend(self::families(&local));
    (names, families)
}

/// The family names (`# TYPE` lines) of a `/metrics` text.
fn families(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// The Deployment's literal variables, with `HOST` and `PORT` left to the test's
/// launcher (`127.0.0.1`, a free port).
fn deployment_envs(container: &Value) -> Vec<(String, String)> {
    env(container)
        .into_iter()
        .filter(|(n, _)| n != "HOST" && n != "PORT")
        .filter_map(|(n, v)| Some((n, v?)))
        .collect()
}

#[test]
fn every_file_parses() {
    let mut seen = BTreeSet::new();
    for entry in std::fs::read_dir(deploy_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        match path.extension().and_then(|e| e.to_str()) {
            Some("yaml" | "yml") => {
                for doc in yaml(&name) {
                    assert!(
                        doc.get("kind").is_some()
                            || doc.get("groups").is_some()
                            || doc.get("rule_files").is_some(),
                        "{name}: neither a manifest, a rule file nor a rule test"
                    );
                }
            }
            Some("json") => {
                serde_json::from_str::<serde_json::Value>(&read(&path))
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            _ => {}
        }
        seen.insert(name);
    }
    for expected in [
        "Dockerfile",
        "deployment.yaml",
        "service.yaml",
        "hpa.yaml",
        "pdb.yaml",
        "alerts.yml",
        "alerts_test.yml",
        "grafana-dashboard.json",
    ] {
        assert!(seen.contains(expected), "docs/deploy/{expected} is missing");
    }
}

#[test]
fn probes_port_and_variables_match_what_hello_serves_and_reads() {
    let dep = deployment();
    let c = container(&dep);

    // The container port is PORT, and the probes use it (by name or number).
    let port = env_value(c, "PORT");
    let port_entry = at(c, &["ports", "0"]);
    assert_eq!(int_at(port_entry, &["containerPort"]).to_string(), port);
    let port_name = str_at(port_entry, &["name"]);
    let mut paths = Vec::new();
    for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
        let get = at(c, &[probe, "httpGet"]);
        let probe_port = at(get, &["port"]);
        assert!(
            probe_port.as_str() == Some(port_name)
                || probe_port.as_u64().map(|p| p.to_string()) == Some(port.clone()),
            "{probe} port {probe_port:?}"
        );
        paths.push(str_at(get, &["path"]).to_owned());
    }
    assert_eq!(
        paths,
        ["/health/startup", "/health/ready", "/health/live"],
        "one probe each"
    );

    // Every variable is one Keel reads.
    for (name, _) in env(c) {
        assert!(
            keel::Config::VARIABLES.contains(&name.as_str()),
            "the Deployment sets {name}, which Keel does not read"
        );
    }

    // hello, with the Deployment's variables, answers every probe with 200 and applies
    // the heap limit.
    let envs = deployment_envs(c);
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut hello = support::start("hello", &envs);
    for path in &paths {
        let reply = hello.request("GET", path, None);
        assert_eq!(reply.status, 200, "GET {path}: {}", reply.body);
    }
    let limit = parse_size("KEEL_HEAP_LIMIT", &env_value(c, "KEEL_HEAP_LIMIT")).unwrap();
    let metrics = hello.request("GET", "/metrics", None).body;
    assert!(
        metrics.contains(&format!("\nkeel_heap_limit_bytes {limit}\n")),
        "keel_heap_limit_bytes is not {limit}"
    );
    let (status, _, stderr) = hello.stop();
    assert!(status.success(), "hello: {status}; stderr: {stderr}");
}

#[test]
fn grace_period_outlasts_the_drain_and_heap_limit_is_75_percent() {
    let dep = deployment();
    let c = container(&dep);
    let grace = int_at(
        &dep,
        &["spec", "template", "spec", "terminationGracePeriodSeconds"],
    );
    let timeout = parse_duration(
        "KEEL_SHUTDOWN_TIMEOUT",
        &env_value(c, "KEEL_SHUTDOWN_TIMEOUT"),
    );
    let delay = env(c)
        .into_iter()
        .find(|(n, _)| n == "KEEL_SHUTDOWN_DELAY")
        .and_then(|(_, v)| v)
        .map_or(Duration::ZERO, |v| {
            parse_duration("KEEL_SHUTDOWN_DELAY", &v).unwrap()
        });
    let drain = timeout.unwrap() + delay;
    assert!(
        Duration::from_secs(grace) > drain,
        "terminationGracePeriodSeconds {grace} must exceed KEEL_SHUTDOWN_DELAY + KEEL_SHUTDOWN_TIMEOUT ({drain:?})"
    );

    let limit = quantity_bytes(str_at(c, &["resources", "limits", "memory"]));
    let heap = parse_size("KEEL_HEAP_LIMIT", &env_value(c, "KEEL_HEAP_LIMIT")).unwrap();
    assert_eq!(heap, limit * 75 / 100, "KEEL_HEAP_LIMIT is 75% of {limit}");
    for resource in ["cpu", "memory"] {
        at(c, &["resources", "requests", resource]);
        at(c, &["resources", "limits", resource]);
    }
}

#[test]
fn rollout_service_autoscaler_and_budget_fit_the_deployment() {
    let dep = deployment();
    let name = str_at(&dep, &["metadata", "name"]);
    let labels = at(&dep, &["spec", "template", "metadata", "labels"]);
    assert_eq!(at(&dep, &["spec", "selector", "matchLabels"]), labels);
    let rolling = at(&dep, &["spec", "strategy", "rollingUpdate"]);
    assert_eq!(int_at(rolling, &["maxUnavailable"]), 0);
    let sc = at(&dep, &["spec", "template", "spec", "securityContext"]);
    assert_eq!(at(sc, &["runAsNonRoot"]).as_bool(), Some(true));
    assert_ne!(int_at(sc, &["runAsUser"]), 0);

    let svc = manifest("service.yaml", "Service");
    assert_eq!(at(&svc, &["spec", "selector"]), labels);
    let port_name = str_at(container(&dep), &["ports", "0", "name"]);
    assert_eq!(
        str_at(&svc, &["spec", "ports", "0", "targetPort"]),
        port_name
    );

    let hpa = manifest("hpa.yaml", "HorizontalPodAutoscaler");
    assert_eq!(
        str_at(&hpa, &["spec", "scaleTargetRef", "kind"]),
        "Deployment"
    );
    assert_eq!(str_at(&hpa, &["spec", "scaleTargetRef", "name"]), name);
    let cpu = at(&hpa, &["spec", "metrics", "0", "resource"]);
    assert_eq!(str_at(cpu, &["name"]), "cpu");
    assert_eq!(int_at(cpu, &["target", "averageUtilization"]), 60);

    let pdb = manifest("pdb.yaml", "PodDisruptionBudget");
    assert_eq!(int_at(&pdb, &["spec", "minAvailable"]), 2);
    assert_eq!(at(&pdb, &["spec", "selector", "matchLabels"]), labels);
    // The autoscaler never goes below what lets one pod be evicted.
    assert!(int_at(&hpa, &["spec", "minReplicas"]) > 2);
}

#[test]
fn alerts_dashboard_and_metrics_doc_name_only_served_metrics() {
    let (served, families) = all_served_names();
    // A sanity check of the collection itself.
    for family in [
        "keel_loop_lag_seconds_bucket",
        "http_requests_total",
        "keel_pool_waiting",
        "keel_breaker_state",
        "keel_blocking_jobs_rejected_total",
        "keel_workers_jobs_rejected_total",
    ] {
        assert!(served.contains(family), "{family} not served");
    }
    let check = |source: &str, text: &str| {
        let names = metric_names(text);
        for name in &names {
            assert!(
                served.contains(name),
                "{source} names {name}, which /metrics does not serve"
            );
        }
        names
    };

    // alerts.yml: every expression and annotation; the seed's four alerts are there
    // with their thresholds.
    let rules = yaml("alerts.yml").remove(0);
    let mut alerts = Vec::new();
    for group in at(&rules, &["groups"]).as_sequence().unwrap() {
        for rule in at(group, &["rules"]).as_sequence().unwrap() {
            let alert = str_at(rule, &["alert"]).to_owned();
            let expr = str_at(rule, &["expr"]);
            assert!(!check(&alert, expr).is_empty(), "{alert} names no metric");
            if let Some(annotations) = rule.get("annotations") {
                check(&alert, &serde_norway::to_string(annotations).unwrap());
            }
            alerts.push((alert, expr.to_owned()));
        }
    }
    for (alert, threshold) in [
        ("KeelHighErrorRate", "> 0.01"),
        ("KeelHighLatencyP99", ") > 1\n"),
        ("KeelHeapHigh", "> 0.8"),
        ("KeelLoopLagHigh", ") > 0.1"),
    ] {
        let (_, expr) = alerts
            .iter()
            .find(|(a, _)| a == alert)
            .unwrap_or_else(|| panic!("alerts.yml has no {alert}"));
        assert!(expr.contains(threshold), "{alert}: {expr}");
    }

    // The dashboard: every panel's queries and the variables' queries.
    let dash: serde_json::Value =
        serde_json::from_str(&read(&deploy_dir().join("grafana-dashboard.json"))).unwrap();
    let mut seen = BTreeSet::new();
    for panel in dash["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().expect("a target's expr");
            let title = panel["title"].as_str().unwrap_or("?");
            let names = check(title, expr);
            assert!(!names.is_empty(), "{title}: no metric in {expr}");
            seen.extend(names);
        }
    }
    for var in dash["templating"]["list"].as_array().unwrap() {
        if let Some(q) = var["definition"].as_str() {
            seen.extend(check("templating", q));
        }
    }
    // Lag, ELU, heap, RED and pools each have a panel.
    for needed in [
        "keel_loop_lag_seconds_bucket",
        "keel_loop_busy_seconds_total",
        "keel_heap_used_bytes",
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "keel_pool_connections",
    ] {
        assert!(
            seen.contains(needed),
            "the dashboard has no panel on {needed}"
        );
    }

    // docs/metrics.md: names only served metrics (words ending in `_` are prefixes such
    // as `keel_blocking_*`; the label section is left out, its values are not metrics),
    // and documents every family served.
    let doc = read(&root().join("docs/metrics.md"));
    let labels = doc.find("## Labels you will see").expect("a label section");
    let after = labels + doc[labels..].find("\n## ").expect("a section after it");
    let doc = format!("{}{}", &doc[..labels], &doc[after..]);
    let documented: BTreeSet<String> = metric_names(&doc)
        .into_iter()
        .filter(|n| !n.ends_with('_'))
        .collect();
    for name in &documented {
        assert!(
            served.contains(name),
            "docs/metrics.md names {name}, which /metrics does not serve"
        );
    }
    for family in &families {
        assert!(
            documented.contains(family),
            "docs/metrics.md does not document {family}"
        );
    }
}

#[test]
fn dockerfile_builds_hello_and_runs_as_non_root() {
    let text = read(&deploy_dir().join("Dockerfile"));
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .collect();
    let froms = lines.iter().filter(|l| l.starts_with("FROM ")).count();
    assert!(froms >= 2, "a multi-stage build");
    assert!(text.contains("cargo build --release"));
    assert!(text.contains("--example hello"));
    // The final stage's user.
    let last_from = lines.iter().rposition(|l| l.starts_with("FROM ")).unwrap();
    let user = lines[last_from..]
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER line in the final stage");
    let user = user.split(':').next().unwrap().trim();
    assert!(
        user != "root" && user != "0" && !user.is_empty(),
        "USER {user}"
    );
    // The user agrees with the Deployment's securityContext.
    let dep = deployment();
    let run_as = int_at(
        &dep,
        &["spec", "template", "spec", "securityContext", "runAsUser"],
    );
    assert_eq!(user, run_as.to_string());
    // ENV names are Keel's variables; EXPOSE is PORT.
    let env_line = text
        .split("\nENV ")
        .nth(1)
        .expect("an ENV instruction")
        .split("\n\n")
        .next()
        .unwrap()
        .replace("\\\n", " ");
    let mut port = None;
    for pair in env_line.lines().next().unwrap().split_whitespace() {
        let (name, value) = pair.split_once('=').expect("NAME=value");
        assert!(keel::Config::VARIABLES.contains(&name), "ENV {name}");
        if name == "PORT" {
            port = Some(value.to_owned());
        }
    }
    let expose = lines
        .iter()
        .find_map(|l| l.strip_prefix("EXPOSE "))
        .expect("EXPOSE");
    assert_eq!(Some(expose.trim().to_owned()), port);
}

/// The string literals naming Keel variables (`KEEL_*`, `LOG_*`, `WEB_CONCURRENCY`) in
/// the crates' non-test, non-comment source.
fn variables_in_source() -> BTreeSet<String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap();
            if path.is_dir() {
                if name != "tests" && name != "loom" {
                    walk(&path, out);
                }
            } else if name.ends_with(".rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    for krate in ["runtime/src", "http/src", "pool/src", "src"] {
        walk(&root().join(krate), &mut files);
    }
    let mut found = BTreeSet::new();
    for file in files {
        let text = read(&file);
        let code = text.split("#[cfg(test)]").next().unwrap();
        for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for literal in line.split('"').skip(1).step_by(2) {
                let is_var = literal.starts_with("KEEL_")
                    || literal.starts_with("LOG_")
                    || literal == "WEB_CONCURRENCY";
                if is_var
                    && literal
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit())
                {
                    found.insert(literal.to_owned());
                }
            }
        }
    }
    found
}

#[test]
fn variable_list_matches_the_source_and_the_docs() {
    let listed: BTreeSet<String> = keel::Config::VARIABLES
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let mut in_source = variables_in_source();
    in_source.extend(["HOST".to_owned(), "PORT".to_owned()]);
    assert_eq!(
        listed, in_source,
        "keel::Config::VARIABLES and the variables the source reads differ"
    );
    let docs = read(&root().join("docs/configuration.md"));
    for name in &listed {
        assert!(
            docs.contains(&format!("`{name}`")),
            "docs/configuration.md does not document {name}"
        );
    }
}

#[test]
fn alert_rules_pass_promtool_when_it_is_installed() {
    let check = |args: &[&str]| {
        std::process::Command::new("promtool")
            .args(args)
            .current_dir(deploy_dir())
            .output()
    };
    let Ok(out) = check(&["check", "rules", "alerts.yml"]) else {
        eprintln!("SKIPPED: promtool is not installed (apt-get install prometheus)");
        return;
    };
    let text = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    assert!(out.status.success(), "promtool check rules: {}", text(&out));
    // alerts_test.yml: the seed's alerts fire when they should and not otherwise.
    let out = check(&["test", "rules", "alerts_test.yml"]).unwrap();
    assert!(out.status.success(), "promtool test rules: {}", text(&out));
}
