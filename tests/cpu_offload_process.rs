//! `examples/cpu_offload` as a real process: on one loop with one worker thread, the
//! loop answers `/lag` and `/health/live` while four hashes are in flight on the worker
//! pool; offloaded and inline hashing compute the same argon2id hash; fresh salts
//! differ; bad input is a 422; `/lag` counts the hashes of each kind in its window.

mod support;

use std::thread;
use std::time::{Duration, Instant};

use support::{LIMIT, request, start};

const SALT: &str = "00112233445566778899aabbccddeeff";

fn body(password: &str, salt: Option<&str>) -> String {
    match salt {
        Some(salt) => format!(r#"{{"password":"{password}","salt":"{salt}"}}"#),
        None => format!(r#"{{"password":"{password}"}}"#),
    }
}

#[test]
fn the_loop_answers_while_hashes_run_on_the_workers() {
    let mut app = start(
        "cpu_offload",
        &[
            ("KEEL_LOOPS", "1"),
            ("KEEL_WORKER_THREADS", "1"),
            // Heavy enough that four hashes queued on one worker stay in flight while
            // the test looks (the assertions do not depend on how long they take).
            ("HASH_MEMORY_KIB", "65536"),
            ("HASH_ITERATIONS", "3"),
        ],
    );
    assert_eq!(app.request("GET", "/lag", None).status, 200); // opens a window

    let addr = app.addr;
    let hashes: Vec<_> = (0..4)
        .map(|_| {
            thread::spawn(move || {
                request(addr, "POST", "/hash", Some(&body("hunter2", Some(SALT))))
            })
        })
        .collect();
    // The one loop serves /lag while all four are in flight: it is not blocked.
    let deadline = Instant::now() + LIMIT;
    loop {
        let lag = app.request("GET", "/lag", None);
        assert_eq!(lag.status, 200);
        if lag.json()["hashesInFlight"] == 4 {
            break;
        }
        assert!(Instant::now() < deadline, "never 4 in flight: {}", lag.body);
        thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(app.request("GET", "/health/live", None).status, 200);

    let replies: Vec<_> = hashes.into_iter().map(|h| h.join().unwrap()).collect();
    let first = replies[0].json();
    for reply in &replies {
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.json()["hash"], first["hash"]);
        assert_eq!(reply.json()["offloaded"], true);
    }
    let hash = first["hash"].as_str().unwrap();
    assert_eq!(hash.len(), 64, "{hash}");

    let inline = app.request("POST", "/hash-inline", Some(&body("hunter2", Some(SALT))));
    assert_eq!(inline.status, 200, "{}", inline.body);
    assert_eq!(inline.json()["hash"], hash, "same input, same hash");
    assert_eq!(inline.json()["offloaded"], false);
    let other = app.request("POST", "/hash", Some(&body("hunter3", Some(SALT))));
    assert_ne!(other.json()["hash"], hash);

    let a = app
        .request("POST", "/hash", Some(&body("hunter2", None)))
        .json();
    let b = app
        .request("POST", "/hash", Some(&body("hunter2", None)))
        .json();
    assert_eq!(a["salt"].as_str().unwrap().len(), 32);
    assert_ne!(a["salt"], b["salt"], "fresh random salts");
    assert_ne!(a["hash"], b["hash"]);

    let window = app.request("GET", "/lag", None).json();
    assert_eq!(window["sinceLastCall"]["hashesOffloaded"], 7, "{window}");
    assert_eq!(window["sinceLastCall"]["hashesInline"], 1, "{window}");
    assert!(window["sinceStart"]["p99Ms"].is_number(), "{window}");

    for bad in [
        r#"{"password":""}"#.to_owned(),
        body("x", Some("00")),
        body("x", Some("0011223344556677889")),
        body("x", Some("zz112233445566778899aabbccddeeff")),
    ] {
        let reply = app.request("POST", "/hash", Some(&bad));
        assert_eq!(reply.status, 422, "{bad}: {}", reply.body);
        assert_eq!(reply.json()["code"], "validation_failed");
    }

    let (status, stdout, stderr) = app.stop();
    assert_eq!(status.code(), Some(0), "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stdout.contains("loop lag since start")
            && stdout.contains("(7 hashes offloaded, 1 inline)"),
        "{stdout}"
    );
}

#[test]
fn a_bad_cost_is_named_at_startup() {
    let (code, stderr) = support::run_to_exit("cpu_offload", &[("HASH_MEMORY_KIB", "4")]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("HASH_MEMORY_KIB"), "{stderr}");
}
