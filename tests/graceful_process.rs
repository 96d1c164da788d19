//! `examples/graceful` as a real process: SIGTERM during a slow request lets the request
//! finish, then the shutdown hooks run (the counter lands in its file), the report is
//! printed and the exit code is 0; a hook that fails makes it 1.

mod support;

use std::thread;
use std::time::{Duration, Instant};

use support::{LIMIT, request, start, unique};

/// Waits until `/in-flight` says a `/slow` request is running.
fn wait_in_flight(app: &support::Example) {
    let deadline = Instant::now() + LIMIT;
    while app.request("GET", "/in-flight", None).body.trim() != "1" {
        assert!(Instant::now() < deadline, "the slow request never started");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_during_a_slow_request_lets_it_finish_then_runs_the_hooks() {
    let file = std::env::temp_dir().join(format!("keel-graceful-{}.txt", unique()));
    let mut app = start(
        "graceful",
        &[("GRACEFUL_COUNTER_FILE", file.to_str().unwrap())],
    );
    for n in 1..=3 {
        assert_eq!(app.request("GET", "/hit", None).body, format!("hits {n}\n"));
    }
    let addr = app.addr;
    // Long enough that SIGTERM surely lands while it runs (the wait below makes sure
    // it started); far below the default 30 s shutdown timeout.
    let slow = thread::spawn(move || request(addr, "GET", "/slow?ms=1500", None));
    wait_in_flight(&app);

    let (status, stdout, stderr) = app.stop();
    let slow = slow.join().expect("slow request thread");
    assert_eq!(slow.status, 200, "{slow:?}");
    assert_eq!(slow.body, "done after 1500 ms\n");
    assert_eq!(status.code(), Some(0), "stdout: {stdout}\nstderr: {stderr}");

    assert_eq!(std::fs::read_to_string(&file).unwrap(), "hits 3\n");
    let _ = std::fs::remove_file(&file);
    // Hooks ran last-registered first, and the report names them.
    let goodbye = stdout.find("running the shutdown hooks").expect(&stdout);
    let flushed = stdout.find("counter flushed").expect(&stdout);
    assert!(goodbye < flushed, "{stdout}");
    assert!(stdout.contains("outcome Clean"), "{stdout}");
    assert!(stdout.contains("hook \"flush counter\" done"), "{stdout}");
}

#[test]
fn a_failing_hook_makes_the_exit_code_1() {
    let mut app = start(
        "graceful",
        &[("GRACEFUL_COUNTER_FILE", "/nonexistent-dir/keel/counter.txt")],
    );
    assert_eq!(app.request("GET", "/hit", None).status, 200);
    let (status, stdout, stderr) = app.stop();
    assert_eq!(status.code(), Some(1), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("outcome HookFailed"), "{stdout}");
    assert!(
        stdout.contains("hook \"flush counter\" panicked: cannot write /nonexistent-dir"),
        "{stdout}"
    );
}
