//! `examples/redis_cache` as a real process against the local Redis (127.0.0.1:6379,
//! or `REDIS_ADDR`): a miss loads and stores the item with its TTL, the next read is a
//! hit with the same body, `DELETE` invalidates it, errors are not cached, readiness
//! PINGs Redis; with Redis unreachable, reads go through to the source (`bypass`) and
//! readiness fails. Two processes sharing the Redis-backed rate limiter enforce one
//! combined limit.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;

use support::{LIMIT, start, unique};

/// `TTL key` straight to Redis (an inline command), as the integer reply.
fn redis_ttl(key: &str) -> i64 {
    let addr = std::env::var("REDIS_ADDR").unwrap_or_else(|_| "127.0.0.1:6379".to_owned());
    let mut s = TcpStream::connect(addr).expect("connect to redis");
    s.set_read_timeout(Some(LIMIT)).unwrap();
    write!(s, "TTL {key}\r\n").unwrap();
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap();
    let reply = std::str::from_utf8(&buf[..n]).unwrap();
    reply
        .strip_prefix(':')
        .and_then(|r| r.trim_end().parse().ok())
        .unwrap_or_else(|| panic!("TTL reply {reply:?}"))
}

#[test]
fn miss_then_hit_then_invalidate() {
    let mut app = start(
        "redis_cache",
        &[("CACHE_TTL", "90s"), ("ITEM_LOAD_DELAY", "1ms")],
    );
    let ready = app.wait_ready().json();
    assert_eq!(ready["checks"]["redis"]["state"], "up", "{ready}");

    // An id no other run uses.
    let id = unique()
        .bytes()
        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
        % 1_000_000_000_000
        + 1;
    let path = format!("/items/{id}");

    let miss = app.request("GET", &path, None);
    assert_eq!(miss.status, 200, "{}", miss.body);
    assert_eq!(miss.header("x-cache"), Some("miss"));
    assert_eq!(miss.json()["id"], id);
    let ttl = redis_ttl(&format!("keel_example:item:{id}"));
    assert!((1..=90).contains(&ttl), "TTL {ttl}");

    let hit = app.request("GET", &path, None);
    assert_eq!(hit.status, 200);
    assert_eq!(hit.header("x-cache"), Some("hit"));
    assert_eq!(hit.header("content-type"), Some("application/json"));
    assert_eq!(hit.body, miss.body, "the cached copy, loadedAtMs included");

    assert_eq!(app.request("DELETE", &path, None).status, 204);
    let again = app.request("GET", &path, None);
    assert_eq!(again.header("x-cache"), Some("miss"));
    assert_ne!(again.json()["loadedAtMs"], serde_json::Value::Null);

    // Errors are not cached.
    for _ in 0..2 {
        let missing = app.request("GET", "/items/0", None);
        assert_eq!(missing.status, 404);
        assert_eq!(missing.json()["code"], "not_found");
    }
    assert_eq!(
        redis_ttl("keel_example:item:0"),
        -2,
        "no key for a failed load"
    );

    let metrics = app.request("GET", "/metrics", None);
    assert!(
        metrics.body.contains("keel_pool_max{pool=\"redis\""),
        "{}",
        metrics.body
    );

    let (status, stdout, stderr) = app.stop();
    assert_eq!(status.code(), Some(0), "stdout: {stdout}\nstderr: {stderr}");
}

#[test]
fn without_redis_reads_go_through_and_readiness_fails() {
    let mut app = start(
        "redis_cache",
        &[("REDIS_ADDR", "127.0.0.1:1"), ("ITEM_LOAD_DELAY", "1ms")],
    );
    let item = app.request("GET", "/items/5", None);
    assert_eq!(item.status, 200, "{}", item.body);
    assert_eq!(item.header("x-cache"), Some("bypass"));
    assert_eq!(item.json()["id"], 5);
    let ready = app.request("GET", "/health/ready", None);
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert_eq!(
        ready.json()["checks"]["redis"]["state"],
        "down",
        "{}",
        ready.body
    );
    let (status, _, stderr) = app.stop();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("cache unavailable"), "{stderr}");
}

#[test]
fn two_processes_share_one_rate_limit_through_redis() {
    // A key prefix no other run shares, so the count starts at zero.
    let prefix = format!("keel_test:rl:{}:", unique());
    let envs = [
        ("RATE_LIMIT", "6"),
        ("RATE_LIMIT_WINDOW", "10m"),
        ("RATE_LIMIT_PREFIX", prefix.as_str()),
        ("ITEM_LOAD_DELAY", "1ms"),
    ];
    let mut a = start("redis_cache", &envs);
    let mut b = start("redis_cache", &envs);
    assert_ne!(a.child.id(), b.child.id());
    assert_ne!(a.addr, b.addr);
    a.wait_ready();
    b.wait_ready();

    // Alternating between the processes, the remaining count goes down as one.
    for i in 0..6 {
        let app = if i % 2 == 0 { &a } else { &b };
        let reply = app.request("GET", "/items/7", None);
        assert_eq!(reply.status, 200, "request {i}: {}", reply.body);
        assert_eq!(reply.header("ratelimit-policy"), Some("6;w=600"));
        // `RateLimit: limit=6, remaining=5, reset=100` (draft 7).
        let field = reply.header("ratelimit").expect("RateLimit");
        let expected = format!("limit=6, remaining={}, ", 5 - i);
        assert!(field.starts_with(&expected), "request {i}: {field}");
    }
    // The seventh request is refused by either process.
    for app in [&a, &b] {
        let refused = app.request("GET", "/items/7", None);
        assert_eq!(refused.status, 429, "{}", refused.body);
        assert_eq!(refused.json()["code"], "rate_limited", "{}", refused.body);
        let field = refused.header("ratelimit").expect("RateLimit");
        assert!(field.starts_with("limit=6, remaining=0, "), "{field}");
        let retry: u64 = refused
            .header("retry-after")
            .expect("Retry-After")
            .parse()
            .expect("seconds");
        assert!((1..=600).contains(&retry), "Retry-After {retry}");
        // The ops endpoints are not limited.
        assert_eq!(app.request("GET", "/health/live", None).status, 200);
    }

    for app in [&mut a, &mut b] {
        let (status, stdout, stderr) = app.stop();
        assert_eq!(status.code(), Some(0), "stdout: {stdout}\nstderr: {stderr}");
    }
}
