//! `docs/getting-started.md`, run: its service is `examples/getting_started.rs` line for
//! line (checked here), and the guide's commands run against that example as a process —
//! each `curl` of "Run it" (its output and status as the comment says), and each
//! configuration of "Configure it" (the variables are ones Keel reads, the service starts
//! with them, and `KEEL_METRICS_TOKEN` guards `/metrics` as said); Ctrl-C/SIGTERM exits 0.
//! `cargo new` and `cargo add` are not run (a fresh dependency build takes minutes); the
//! example compiling inside this workspace stands for them.
//!
//! Needs `curl` on the PATH. The example binary is the one `cargo test` builds next to this
//! test (with `--test getting_started_doc` alone, run `cargo build --example
//! getting_started` first).

mod support;

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn guide() -> String {
    std::fs::read_to_string(root().join("docs/getting-started.md")).expect("the guide")
}

/// The body of the first fenced block opening with `fence` after the heading `heading`.
fn block(text: &str, heading: &str, fence: &str) -> String {
    let from = text
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading:?}"));
    let rest = &text[from..];
    let open = rest
        .find(fence)
        .unwrap_or_else(|| panic!("no {fence} block"))
        + fence.len();
    let body = &rest[open..];
    let close = body.find("\n```").expect("a closed block");
    body[..=close].trim_start_matches('\n').to_owned()
}

/// The lines of every `sh` block in the section under `heading` (up to the next `## `).
fn shell_lines(text: &str, heading: &str) -> Vec<String> {
    let from = text
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading:?}"))
        + heading.len();
    let section = &text[from..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let mut lines = Vec::new();
    let mut in_sh = false;
    for line in section.lines() {
        match (in_sh, line.trim_end()) {
            (false, "```sh") => in_sh = true,
            (true, "```") => in_sh = false,
            (true, l) => lines.push(l.to_owned()),
            _ => {}
        }
    }
    lines
}

/// Runs `command` (a `curl` line of the guide, address substituted) through `sh` with
/// curl's status code appended; returns (output, status).
fn curl(command: &str) -> (String, u16) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{command} -sS --max-time 60 -w '\\n%{{http_code}}'"
        ))
        .output()
        .expect("run sh (and curl)");
    assert!(
        out.status.success(),
        "{command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (body.to_owned(), code.trim().parse().unwrap())
}

#[test]
fn the_guides_code_is_the_example() {
    let shown = block(&guide(), "## 2. The service", "```rust,no_run\n");
    let example = std::fs::read_to_string(root().join("examples/getting_started.rs")).unwrap();
    let code: Vec<&str> = example
        .lines()
        .skip_while(|l| l.starts_with("//!"))
        .skip_while(|l| l.is_empty())
        .collect();
    assert_eq!(
        code.join("\n") + "\n",
        shown,
        "examples/getting_started.rs differs from the guide's code"
    );
}

#[test]
fn the_guides_curl_commands_answer_as_shown() {
    let guide = guide();
    let commands = shell_lines(&guide, "## 3. Run it");
    let mut service = support::start("getting_started", &[]);
    let addr = service.addr.to_string();
    let mut ran = 0;
    for line in commands.iter().filter(|l| l.starts_with("curl ")) {
        let (command, comment) = line.split_once('#').expect("a comment saying the result");
        let (command, comment) = (command.trim(), comment.trim());
        assert!(command.contains("localhost:3000"), "{command}");
        let (output, status) = curl(&command.replace("localhost:3000", &addr));
        if let Some(rest) = comment.strip_prefix("404 with ") {
            // `curl -i`: the head, then the body; the comment shows the body, "…" standing
            // for the request id.
            assert_eq!(status, 404, "{command}");
            let body = output.rsplit("\r\n\r\n").next().unwrap();
            let (before, after) = rest.split_once('…').unwrap_or((rest, ""));
            assert!(
                body.starts_with(before) && body.ends_with(after),
                "{command}: {body} is not {rest}"
            );
        } else {
            assert_eq!(status, 200, "{command}: {output}");
            if comment.starts_with('{') || comment == "Hello, World!" {
                assert_eq!(output, comment, "{command}");
            }
            if command.ends_with("/metrics") {
                for family in ["keel_loop_lag_seconds", "keel_heap_", "http_requests_total"] {
                    assert!(output.contains(family), "/metrics has no {family}");
                }
            }
        }
        ran += 1;
    }
    assert_eq!(ran, 7, "the guide's curl commands");
    // "Stop it with Ctrl-C (or kill -TERM <pid>) … and the process exits 0."
    let (status, _, stderr) = service.stop();
    assert!(status.success(), "{status}: {stderr}");
}

#[test]
fn the_guides_configurations_start_and_do_what_they_say() {
    let guide = guide();
    let commands = shell_lines(&guide, "## 4. Configure it");
    let mut ran = 0;
    for line in commands.iter().filter(|l| l.contains("cargo run")) {
        let (vars, _) = line.split_once("cargo run").unwrap();
        let mut envs = Vec::new();
        for pair in vars.split_whitespace() {
            let (name, value) = pair.split_once('=').expect("NAME=value");
            assert!(
                keel::Config::VARIABLES.contains(&name),
                "{line}: Keel does not read {name}"
            );
            // A free port for the test instead of the guide's fixed ones.
            let value = match name {
                "PORT" => continue,
                "KEEL_OPS_ADDR" => "127.0.0.1:0",
                _ => value,
            };
            envs.push((name, value));
        }
        let mut service = support::start("getting_started", &envs);
        if let Some((_, token)) = envs.iter().find(|(n, _)| *n == "KEEL_METRICS_TOKEN") {
            let url = format!("http://{}/metrics", service.addr);
            let (_, status) = curl(&format!("curl -o /dev/null {url}"));
            assert_eq!(status, 401, "/metrics without the token");
            let with = format!("curl -o /dev/null -H 'Authorization: Bearer {token}' {url}");
            assert_eq!(curl(&with).1, 200, "/metrics with the token");
        }
        let reply = service.request("GET", "/", None);
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (200, "Hello, World!"),
            "{line}"
        );
        // Secure by default, unless the line turns the security headers off.
        let off = envs.contains(&("KEEL_SECURITY_HEADERS", "off"));
        let secured = reply.header("x-content-type-options") == Some("nosniff");
        assert_eq!(secured, !off, "{line}: {:?}", reply.headers);
        let (status, _, stderr) = service.stop();
        assert!(status.success(), "{line}: {status}: {stderr}");
        ran += 1;
    }
    assert_eq!(ran, 5, "the guide's configurations");
}
