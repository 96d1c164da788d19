//! The HTTP/2 floods, each sent by a raw client (Python's `h2` and `hyperframe`, frames
//! made by hand in `h2_floods.py`) on one connection while a well-behaved client on
//! another connection to the same loop keeps making requests: the attacking connection
//! gets `GOAWAY` (`ENHANCE_YOUR_CALM`, or `PROTOCOL_ERROR` where the protocol names the
//! fault) and is closed, and every request of the well-behaved client is answered.
//!
//! Rapid reset (CVE-2023-44487), a CONTINUATION flood (CVE-2024-27316), SETTINGS, PING
//! and WINDOW_UPDATE floods, an HPACK bomb, and a client that never opens its window
//! (its stream reset at the request timeout, then the idle connection told to go away).

use std::process::Command;
use std::time::Duration;

use keel_http::{H2Config, Response, Router, ServerConfig, StatusCode};
use keel_testkit::TestServer;
use serde_json::Value;

const ENHANCE_YOUR_CALM: u64 = 0xb;
const PROTOCOL_ERROR: u64 = 0x1;
const NO_ERROR: u64 = 0x0;
const CANCEL: u64 = 0x8;

fn server() -> TestServer {
    let config = ServerConfig::default()
        .request_timeout(Duration::from_secs(1))
        .h2(H2Config::default().idle_timeout(Duration::from_secs(1)));
    // One loop: the attacker and the well-behaved client share it.
    TestServer::start_with_loops(1, config, || {
        Router::new()
            .get("/hello", || async { "hello" })
            .get("/big", || async {
                Response::new(StatusCode::OK).with_body(vec![b'z'; 1 << 20])
            })
    })
}

/// Runs `attack` against a fresh server; the script's verdict.
fn attack(attack: &str) -> Value {
    let server = server();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/h2_floods.py");
    let out = Command::new("python3")
        .args([script, &server.addr.port().to_string(), attack])
        .output()
        .expect("python3 (scripts/test.sh installs it with the h2 package)");
    assert!(
        out.status.success(),
        "{attack}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verdict: Value = serde_json::from_slice(&out.stdout).expect("the script's JSON");
    assert!(
        verdict["benign_ok"].as_u64().unwrap() > 0 && verdict["benign_failed"] == 0,
        "{attack}: the well-behaved client was not served: {verdict}"
    );
    verdict
}

/// The attacker got `GOAWAY(code)` and was closed, well within the attack's 20 s.
fn assert_sent_away(verdict: &Value, code: u64) {
    assert_eq!(verdict["goaway"]["code"], code, "{verdict}");
    assert_eq!(verdict["closed"], true, "{verdict}");
    assert!(verdict["seconds"].as_f64().unwrap() < 15.0, "{verdict}");
}

#[test]
fn rapid_reset_is_sent_away() {
    assert_sent_away(&attack("rapid_reset"), ENHANCE_YOUR_CALM);
}

#[test]
fn a_continuation_flood_is_sent_away() {
    let verdict = attack("continuation_flood");
    // `h2` names a header block past the list size a protocol error.
    let code = verdict["goaway"]["code"].as_u64().unwrap_or(u64::MAX);
    assert!(
        code == PROTOCOL_ERROR || code == ENHANCE_YOUR_CALM,
        "{verdict}"
    );
    assert_eq!(verdict["closed"], true, "{verdict}");
}

#[test]
fn a_settings_flood_is_sent_away() {
    assert_sent_away(&attack("settings_flood"), ENHANCE_YOUR_CALM);
}

#[test]
fn a_ping_flood_is_sent_away() {
    assert_sent_away(&attack("ping_flood"), ENHANCE_YOUR_CALM);
}

#[test]
fn a_window_update_flood_is_sent_away() {
    assert_sent_away(&attack("window_update_flood"), ENHANCE_YOUR_CALM);
}

#[test]
fn an_hpack_bomb_is_refused_then_sent_away() {
    assert_sent_away(&attack("hpack_bomb"), ENHANCE_YOUR_CALM);
}

#[test]
fn a_reader_that_never_opens_its_window_is_reset_then_sent_away() {
    let verdict = attack("zero_window");
    // Not one body byte (the window stayed 0); the stream reset at the request timeout,
    // then the idle connection closed with a clean GOAWAY.
    assert_eq!(verdict["data_frames"], 0, "{verdict}");
    assert_eq!(
        verdict["resets"][0],
        serde_json::json!([1, CANCEL]),
        "{verdict}"
    );
    assert_sent_away(&verdict, NO_ERROR);
}
