//! The compression middleware over real sockets: brotli or gzip chosen by
//! `Accept-Encoding`, bodies decoded back with real gzip and brotli decoders, on the loop
//! and on the worker pool; and what is never compressed.

use std::io::Read;

use keel_http::middleware::Compression;
use keel_http::{Response, Router, ServerConfig};
use keel_testkit::{Client, TestServer};

/// A JSON document of about `items` × 60 bytes.
fn big_json(items: usize) -> serde_json::Value {
    let list: Vec<_> = (0..items)
        .map(|i| serde_json::json!({ "id": i, "name": format!("item number {i}"), "ok": i % 2 == 0 }))
        .collect();
    serde_json::json!({ "items": list })
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("a valid gzip stream");
    out
}

fn unbrotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(bytes, 4096)
        .read_to_end(&mut out)
        .expect("a valid brotli stream");
    out
}

/// The body decoded by its `Content-Encoding`.
fn decode(res: &keel_testkit::Response) -> Vec<u8> {
    match res.header("content-encoding") {
        Some("gzip") => gunzip(&res.body),
        Some("br") => unbrotli(&res.body),
        None => res.body.clone(),
        Some(other) => panic!("unexpected coding {other}"),
    }
}

fn compression_server() -> TestServer {
    TestServer::start(ServerConfig::default(), || {
        let compression = Compression::builder()
            .min_size(1024)
            .offload_size(256 * 1024)
            .build()
            .unwrap();
        Router::new()
            .get("/big", || async { keel_http::Json(big_json(200)) })
            .get("/huge", || async { keel_http::Json(big_json(20_000)) })
            .get("/small", || async { keel_http::Json(big_json(1)) })
            .get("/png", || async {
                Response::new(keel_http::StatusCode::OK)
                    .with_header("content-type", "image/png")
                    .with_body(vec![7u8; 8192])
            })
            .get("/encoded", || async {
                Response::text("x".repeat(8192)).with_header("content-encoding", "br")
            })
            .get("/etag", || async {
                Response::text("y".repeat(8192)).with_header("etag", "\"v1\"")
            })
            .layer(compression)
    })
}

/// Runs `/big` and `/huge` with `accept`, checks the coding is `coding` and the body
/// decodes back; returns how many jobs went to the worker pool meanwhile.
fn round_trip(c: &mut Client, accept: &str, coding: &str) -> u64 {
    let submitted = || keel_runtime::workers::metrics().map_or(0, |m| m.submitted);
    let before = submitted();
    // `/huge` (over 1 MB) is compressed on the worker pool, `/big` on the loop.
    for (path, items) in [("/big", 200), ("/huge", 20_000)] {
        let res = c.request_with("GET", path, &[("Accept-Encoding", accept)]);
        assert_eq!(res.status, 200, "{path}");
        assert_eq!(
            res.header("content-encoding"),
            Some(coding),
            "{accept} {path}: {res:?}"
        );
        assert_eq!(res.header("vary"), Some("Accept-Encoding"), "{path}");
        assert_eq!(res.header("content-type"), Some("application/json"));
        let expected = serde_json::to_vec(&big_json(items)).unwrap();
        assert!(
            res.body.len() < expected.len() / 2,
            "{path}: {} bytes",
            res.body.len()
        );
        assert_eq!(
            res.header("content-length"),
            Some(res.body.len().to_string().as_str())
        );
        assert_eq!(decode(&res), expected, "{accept} {path}");
    }
    submitted() - before
}

// Both tests that reach the worker pool are in one test, so the pool's count is only
// theirs.
#[test]
fn large_json_is_compressed_with_the_preferred_coding_and_decodes_back() {
    let server = compression_server();
    let mut c = server.connect();
    // Brotli when the client prefers it or weighs both the same; gzip when it prefers
    // gzip. Only `/huge` goes to the worker pool, once per round.
    assert_eq!(round_trip(&mut c, "br;q=1.0, gzip;q=0.8", "br"), 1);
    assert_eq!(round_trip(&mut c, "gzip, deflate, br", "br"), 1);
    assert_eq!(round_trip(&mut c, "gzip;q=1, br;q=0.5", "gzip"), 1);
    assert_eq!(round_trip(&mut c, "gzip", "gzip"), 1);
    assert_eq!(round_trip(&mut c, "br", "br"), 1);
    assert_eq!(round_trip(&mut c, "*", "br"), 1);
    // A strong ETag becomes weak on the compressed variant, with either coding.
    for (accept, coding) in [("gzip", "gzip"), ("br", "br")] {
        let res = c.request_with("GET", "/etag", &[("Accept-Encoding", accept)]);
        assert_eq!(res.header("content-encoding"), Some(coding));
        assert_eq!(res.header("etag"), Some("W/\"v1\""));
        assert_eq!(decode(&res), "y".repeat(8192).into_bytes());
    }
}

#[test]
fn gzip_only_when_brotli_is_switched_off() {
    let server = TestServer::start(ServerConfig::default(), || {
        let gzip_only = Compression::builder().brotli(false).build().unwrap();
        Router::new()
            .get("/big", || async { keel_http::Json(big_json(200)) })
            .layer(gzip_only)
    });
    let mut c = server.connect();
    let expected = serde_json::to_vec(&big_json(200)).unwrap();
    let res = c.request_with("GET", "/big", &[("Accept-Encoding", "br, gzip;q=0.5")]);
    assert_eq!(res.header("content-encoding"), Some("gzip"));
    assert_eq!(gunzip(&res.body), expected);
    let res = c.request_with("GET", "/big", &[("Accept-Encoding", "br")]);
    assert_eq!(res.header("content-encoding"), None);
    assert_eq!(res.body, expected);
}

#[test]
fn small_bodies_and_clients_that_accept_neither_coding_are_not_compressed() {
    let server = compression_server();
    let mut c = server.connect();
    let expected = serde_json::to_vec(&big_json(200)).unwrap();
    for accept in [
        None,
        Some("identity"),
        Some("gzip;q=0"),
        Some("br;q=0, gzip;q=0"),
        Some("*;q=0"),
        Some("deflate"),
    ] {
        let headers: Vec<(&str, &str)> =
            accept.map(|a| ("Accept-Encoding", a)).into_iter().collect();
        let res = c.request_with("GET", "/big", &headers);
        assert_eq!(res.header("content-encoding"), None, "{accept:?}");
        // The response still varies by Accept-Encoding, for caches.
        assert_eq!(res.header("vary"), Some("Accept-Encoding"), "{accept:?}");
        assert_eq!(res.body, expected, "{accept:?}");
    }
    for accept in ["gzip", "br"] {
        let headers = [("Accept-Encoding", accept)];
        // Under the size threshold.
        let res = c.request_with("GET", "/small", &headers);
        assert_eq!(res.header("content-encoding"), None);
        assert_eq!(res.json(), big_json(1));
        // Not a compressible type.
        let res = c.request_with("GET", "/png", &headers);
        assert_eq!(res.header("content-encoding"), None);
        assert_eq!(res.body, vec![7u8; 8192]);
        // Already encoded: left alone.
        let res = c.request_with("GET", "/encoded", &headers);
        assert_eq!(res.header("content-encoding"), Some("br"));
        assert_eq!(res.body, "x".repeat(8192).into_bytes());
        // HEAD: no compression, and the same connection goes on.
        c.send(keel_testkit::request_text("HEAD", "/big", &headers));
        let res = c.read_head_response();
        assert_eq!(res.status, 200);
        assert_eq!(res.header("content-encoding"), None);
        assert_eq!(
            res.header("content-length"),
            Some(expected.len().to_string().as_str())
        );
        assert_eq!(
            c.request_with("GET", "/big", &headers)
                .header("content-encoding"),
            Some(accept)
        );
    }
}

#[test]
fn compression_levels_are_checked() {
    let err = Compression::builder().level(10).build().unwrap_err();
    assert_eq!(err.name(), "compression.level");
    let err = Compression::builder()
        .brotli_quality(12)
        .build()
        .unwrap_err();
    assert_eq!(err.name(), "compression.brotli_quality");
    assert!(Compression::builder().brotli_quality(11).build().is_ok());
}
