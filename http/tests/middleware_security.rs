//! The security middleware set over real sockets: security headers, CORS, rate limiting
//! (in memory, and in the real Redis on 127.0.0.1:6379). Compression has its own file,
//! `middleware_compression.rs`.

use std::time::Duration;

use keel_http::middleware::{
    Cors, DEFAULT_CONTENT_SECURITY_POLICY, MemoryStore, RateLimit, RateLimitHeaders,
    SecurityHeaders,
};
use keel_http::{Response, Router, ServerConfig};
use keel_testkit::TestServer;

// ---- security headers ----

const HELMET: [(&str, &str); 12] = [
    ("content-security-policy", DEFAULT_CONTENT_SECURITY_POLICY),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("origin-agent-cluster", "?1"),
    ("referrer-policy", "no-referrer"),
    (
        "strict-transport-security",
        "max-age=31536000; includeSubDomains; preload",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-dns-prefetch-control", "off"),
    ("x-download-options", "noopen"),
    ("x-frame-options", "SAMEORIGIN"),
    ("x-permitted-cross-domain-policies", "none"),
    ("x-xss-protection", "0"),
];

fn leaky() -> Response {
    Response::text("leaky")
        .with_header("X-Powered-By", "Express")
        .with_header("Server", "nginx/1.0")
}

#[test]
fn security_headers_are_present_by_default_on_every_response() {
    let server = TestServer::start(ServerConfig::default(), || {
        Router::new()
            .get("/", || async { "hi" })
            .get("/leaky", || async { leaky() })
            .layer(SecurityHeaders::default())
    });
    let mut c = server.connect();
    // A route, a 404 and a response that advertises its stack.
    for path in ["/", "/missing", "/leaky"] {
        let res = c.get(path);
        for (name, value) in HELMET {
            assert_eq!(res.header(name), Some(value), "{path}: {name}: {res:?}");
            assert_eq!(res.header_count(name), 1, "{path}: {name}");
        }
        assert_eq!(res.header("x-powered-by"), None, "{path}: {res:?}");
        assert_eq!(res.header("server"), None, "{path}: {res:?}");
    }
    assert_eq!(c.get("/missing").status, 404);
}

/// Asserts every default security header, once each, on `res`; `hsts`: whether
/// `Strict-Transport-Security` is expected.
fn assert_helmet(res: &keel_testkit::Response, what: &str, hsts: bool) {
    for (name, value) in HELMET {
        if name == "strict-transport-security" && !hsts {
            assert_eq!(res.header(name), None, "{what}: {name}: {res:?}");
            continue;
        }
        assert_eq!(res.header(name), Some(value), "{what}: {name}: {res:?}");
        assert_eq!(res.header_count(name), 1, "{what}: {name}");
    }
}

fn app_with_errors() -> Router {
    Router::new()
        .get("/", || async { "hi" })
        .post("/", |body: Vec<u8>| async move { body.len().to_string() })
        .get("/fails", || async {
            Err::<&str, _>(keel_http::AppError::internal("db down"))
        })
        .get("/panics", || async {
            if true {
                panic!("boom");
            }
            "unreachable"
        })
        .get("/framed", || async {
            Response::text("framed").with_header("x-frame-options", "DENY")
        })
}

#[test]
fn security_headers_are_on_every_response_without_code() {
    let config = ServerConfig::default().max_body_size(16);
    let server = TestServer::start(config, app_with_errors);
    let mut c = server.connect();
    for (what, request) in [
        ("a route", "GET / HTTP/1.1\r\nHost: t\r\n\r\n".to_owned()),
        (
            "a 404",
            "GET /missing HTTP/1.1\r\nHost: t\r\n\r\n".to_owned(),
        ),
        ("a 405", "DELETE / HTTP/1.1\r\nHost: t\r\n\r\n".to_owned()),
        ("a 500", "GET /fails HTTP/1.1\r\nHost: t\r\n\r\n".to_owned()),
        (
            "a panic's 500",
            "GET /panics HTTP/1.1\r\nHost: t\r\n\r\n".to_owned(),
        ),
        (
            "the liveness probe",
            "GET /health/live HTTP/1.1\r\nHost: t\r\n\r\n".to_owned(),
        ),
        (
            "/metrics",
            "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n".to_owned(),
        ),
    ] {
        let res = c.request(request);
        assert_helmet(&res, what, true);
    }
    // Refusals that close the connection: the parser's 400, and a 413.
    let res = server
        .connect()
        .request("GET / HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\n");
    assert_eq!(res.status, 400);
    assert_helmet(&res, "the parser's 400", true);
    let res = server
        .connect()
        .request("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 17\r\n\r\n");
    assert_eq!(res.status, 413);
    assert_helmet(&res, "a 413", true);
    // A handler's own value wins, once.
    let res = c.get("/framed");
    assert_eq!(res.header("x-frame-options"), Some("DENY"));
    assert_eq!(res.header_count("x-frame-options"), 1);
    assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
}

#[test]
fn security_headers_can_be_turned_off_and_development_leaves_out_hsts() {
    let off = TestServer::start(
        ServerConfig::default().security_headers(None),
        app_with_errors,
    );
    let mut c = off.connect();
    for path in ["/", "/missing", "/health/live"] {
        let res = c.get(path);
        for (name, _) in HELMET {
            assert_eq!(res.header(name), None, "{path}: {name}: {res:?}");
        }
    }
    let dev = TestServer::start(
        ServerConfig::default().environment(keel_http::Environment::Development),
        app_with_errors,
    );
    let res = dev.connect().get("/missing");
    assert_helmet(&res, "development", false);
}

#[test]
fn security_headers_are_configurable_and_a_handler_may_override_one() {
    let server = TestServer::start(ServerConfig::default(), || {
        let headers = SecurityHeaders::builder()
            .content_security_policy("default-src 'none'")
            .hsts(std::time::Duration::from_secs(600), false, false)
            .frame_options("DENY")
            .referrer_policy("strict-origin-when-cross-origin")
            .cross_origin_opener_policy("same-origin-allow-popups")
            .cross_origin_resource_policy("cross-origin")
            .disable("X-Download-Options")
            .disable("x-xss-protection")
            .header("Permissions-Policy", "geolocation=()")
            .build()
            .expect("valid settings");
        Router::new()
            .get("/", || async { "hi" })
            .get("/framed", || async {
                Response::text("framed").with_header("x-frame-options", "SAMEORIGIN")
            })
            .layer(headers)
    });
    let mut c = server.connect();
    let res = c.get("/");
    assert_eq!(
        res.header("content-security-policy"),
        Some("default-src 'none'")
    );
    assert_eq!(res.header("strict-transport-security"), Some("max-age=600"));
    assert_eq!(res.header("x-frame-options"), Some("DENY"));
    assert_eq!(
        res.header("referrer-policy"),
        Some("strict-origin-when-cross-origin")
    );
    assert_eq!(
        res.header("cross-origin-opener-policy"),
        Some("same-origin-allow-popups")
    );
    assert_eq!(
        res.header("cross-origin-resource-policy"),
        Some("cross-origin")
    );
    assert_eq!(res.header("permissions-policy"), Some("geolocation=()"));
    assert_eq!(res.header("x-download-options"), None);
    assert_eq!(res.header("x-xss-protection"), None);
    // Untouched defaults stay.
    assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
    // The handler's own value wins over the middleware's.
    let res = c.get("/framed");
    assert_eq!(res.header("x-frame-options"), Some("SAMEORIGIN"));
    assert_eq!(res.header_count("x-frame-options"), 1);
}

#[test]
fn security_header_values_with_control_characters_are_refused() {
    let err = SecurityHeaders::builder()
        .content_security_policy("default-src 'self'\r\nSet-Cookie: x=1")
        .build()
        .unwrap_err();
    assert_eq!(err.name(), "content-security-policy");
    let err = SecurityHeaders::builder()
        .header("bad name", "v")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("bad name"), "{err}");
}

// ---- CORS ----

const APP: &str = "https://app.example.com";
const EVIL: &str = "https://evil.example.net";

fn cors_server() -> TestServer {
    TestServer::start(ServerConfig::default(), || {
        let cors = Cors::builder()
            .allow_origins([APP, "http://localhost:3000"])
            .allow_methods(["GET", "POST", "DELETE"])
            .allow_headers(["Content-Type", "Authorization"])
            .expose_headers(["x-request-id", "ratelimit-remaining"])
            .allow_credentials(true)
            .max_age(std::time::Duration::from_secs(1234))
            .build()
            .expect("valid CORS settings");
        Router::new()
            .get("/items", || async { "items" })
            .post("/items", || async { "created" })
            .layer(cors)
    })
}

#[test]
fn cors_preflight_from_a_listed_origin_is_answered_204() {
    let server = cors_server();
    let mut c = server.connect();
    let res = c.request_with(
        "OPTIONS",
        "/items",
        &[
            ("Origin", APP),
            ("Access-Control-Request-Method", "DELETE"),
            (
                "Access-Control-Request-Headers",
                "content-type, authorization",
            ),
        ],
    );
    assert_eq!(res.status, 204, "{res:?}");
    assert_eq!(res.header("access-control-allow-origin"), Some(APP));
    assert_eq!(
        res.header("access-control-allow-methods"),
        Some("GET, POST, DELETE")
    );
    assert_eq!(
        res.header("access-control-allow-headers"),
        Some("content-type, authorization")
    );
    assert_eq!(res.header("access-control-max-age"), Some("1234"));
    assert_eq!(res.header("access-control-allow-credentials"), Some("true"));
    let vary = res.header("vary").unwrap_or_default();
    assert!(vary.contains("Origin"), "{vary}");
    // The same connection keeps serving.
    assert_eq!(c.get("/items").text(), "items");
}

#[test]
fn cors_preflight_is_refused_for_an_unlisted_origin_method_or_header() {
    let server = cors_server();
    let mut c = server.connect();
    let cases: [&[(&str, &str)]; 3] = [
        &[("Origin", EVIL), ("Access-Control-Request-Method", "GET")],
        &[("Origin", APP), ("Access-Control-Request-Method", "PUT")],
        &[
            ("Origin", APP),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "x-secret"),
        ],
    ];
    for headers in cases {
        let res = c.request_with("OPTIONS", "/items", headers);
        res.assert_error(403, "cors_denied");
        assert_eq!(res.header("access-control-allow-origin"), None, "{res:?}");
        assert_eq!(res.header("access-control-allow-methods"), None, "{res:?}");
        assert_eq!(res.header("access-control-allow-credentials"), None);
    }
}

#[test]
fn cors_simple_requests_get_headers_only_for_listed_origins() {
    let server = cors_server();
    let mut c = server.connect();

    let res = c.request_with("GET", "/items", &[("Origin", APP)]);
    assert_eq!(res.status, 200);
    assert_eq!(res.text(), "items");
    assert_eq!(res.header("access-control-allow-origin"), Some(APP));
    assert_eq!(res.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(
        res.header("access-control-expose-headers"),
        Some("x-request-id, ratelimit-remaining")
    );
    assert_eq!(res.header("vary"), Some("Origin"));

    // Origins compare case-insensitively; the answer echoes the request's.
    let res = c.request_with("POST", "/items", &[("Origin", "http://LOCALHOST:3000")]);
    assert_eq!(res.text(), "created");
    assert_eq!(
        res.header("access-control-allow-origin"),
        Some("http://LOCALHOST:3000")
    );

    // An unlisted origin is served (the browser blocks the read) without CORS headers.
    let res = c.request_with("GET", "/items", &[("Origin", EVIL)]);
    assert_eq!(res.status, 200);
    assert_eq!(res.header("access-control-allow-origin"), None);
    assert_eq!(res.header("access-control-allow-credentials"), None);
    assert_eq!(res.header("access-control-expose-headers"), None);
    assert_eq!(res.header("vary"), Some("Origin"));

    // No Origin: not a CORS request; a plain OPTIONS goes to the router.
    let res = c.get("/items");
    assert_eq!(res.header("access-control-allow-origin"), None);
    let res = c.request_with("OPTIONS", "/items", &[]);
    assert_eq!(res.status, 405, "{res:?}");
}

#[test]
fn cors_wildcard_allows_any_origin_without_credentials() {
    let server = TestServer::start(ServerConfig::default(), || {
        let cors = Cors::builder().allow_origins(["*"]).build().unwrap();
        Router::new().get("/", || async { "hi" }).layer(cors)
    });
    let mut c = server.connect();
    let res = c.request_with("GET", "/", &[("Origin", EVIL)]);
    assert_eq!(res.header("access-control-allow-origin"), Some("*"));
    assert_eq!(res.header("access-control-allow-credentials"), None);
    let res = c.request_with(
        "OPTIONS",
        "/",
        &[("Origin", EVIL), ("Access-Control-Request-Method", "GET")],
    );
    assert_eq!(res.status, 204);
    assert_eq!(res.header("access-control-allow-origin"), Some("*"));
}

#[test]
fn cors_wildcard_with_credentials_is_refused_at_build() {
    let err = Cors::builder()
        .allow_origins(["*"])
        .allow_credentials(true)
        .build()
        .unwrap_err();
    assert_eq!(err.name(), "cors.allow_origins");
    assert!(err.to_string().contains("credentials"), "{err}");
    // Malformed origins and mixing `*` with a list are refused too.
    for origins in [
        &["https://app.example.com/"][..],
        &["app.example.com"][..],
        &["*", APP][..],
    ] {
        let err = Cors::builder()
            .allow_origins(origins.iter().copied())
            .build();
        assert_eq!(err.unwrap_err().name(), "cors.allow_origins", "{origins:?}");
    }
    let err = Cors::builder()
        .allow_methods(["GET POST"])
        .build()
        .unwrap_err();
    assert_eq!(err.name(), "cors.allow_methods");
}

// ---- rate limiting ----

/// A server limiting `/` to `limit` requests per `window` per `x-api-key` header (the
/// client IP when absent), counted in `store`.
fn limited_server(store: MemoryStore, limit: u32, window: Duration) -> TestServer {
    TestServer::start(ServerConfig::default(), move || {
        let limiter = RateLimit::builder(store.clone(), limit, window)
            .key(|req| {
                Some(match req.header("x-api-key") {
                    Some(key) => format!("api:{key}"),
                    None => keel_http::middleware::client_ip(req),
                })
            })
            .build()
            .expect("valid limiter");
        Router::new().get("/", || async { "ok" }).layer(limiter)
    })
}

/// `GET /` on a fresh connection (so requests spread over the server's loops).
fn get_fresh(server: &TestServer, headers: &[(&str, &str)]) -> keel_testkit::Response {
    server.connect().request_with("GET", "/", headers)
}

/// The `limit`, `remaining` and `reset` of a response's `RateLimit` field (draft 7:
/// `limit=3, remaining=2, reset=600`).
#[track_caller]
fn ratelimit(res: &keel_testkit::Response) -> (u32, u32, u64) {
    let field = res.header("ratelimit").expect("a RateLimit field");
    let mut parts = [None; 3];
    for item in field.split(',') {
        let (name, value) = item.trim().split_once('=').expect("name=value");
        let slot = match name {
            "limit" => 0,
            "remaining" => 1,
            "reset" => 2,
            other => panic!("unexpected {other} in {field}"),
        };
        parts[slot] = Some(value.parse::<u64>().expect("a number"));
    }
    let [Some(limit), Some(remaining), Some(reset)] = parts else {
        panic!("incomplete RateLimit field {field}");
    };
    (limit as u32, remaining as u32, reset)
}

#[track_caller]
fn assert_limited(res: &keel_testkit::Response, limit: u32) {
    res.assert_error(429, "rate_limited");
    let retry: u64 = res
        .header("retry-after")
        .expect("retry-after")
        .parse()
        .expect("retry-after in seconds");
    assert!(retry >= 1, "{res:?}");
    let (l, remaining, reset) = ratelimit(res);
    assert_eq!((l, remaining), (limit, 0), "{res:?}");
    assert!(reset >= 1, "{res:?}");
}

#[test]
fn rate_limit_refuses_the_request_past_the_limit_across_loops() {
    let server = limited_server(MemoryStore::new(), 3, Duration::from_secs(600));
    for expected_remaining in [2, 1, 0] {
        let res = get_fresh(&server, &[]);
        assert_eq!(res.status, 200, "{res:?}");
        let (limit, remaining, reset) = ratelimit(&res);
        assert_eq!((limit, remaining), (3, expected_remaining), "{res:?}");
        // The bucket is full again 200 s per request taken.
        let taken = u64::from(3 - expected_remaining);
        assert!((taken * 200 - 1..=taken * 200).contains(&reset), "{res:?}");
        assert_eq!(res.header("ratelimit-policy"), Some("3;w=600"));
        // Draft 6's separate fields are not sent by default.
        assert_eq!(res.header("ratelimit-remaining"), None);
    }
    let res = get_fresh(&server, &[]);
    assert_limited(&res, 3);
    // 600 s / 3: one request is back after 200 s.
    let retry: u64 = res.header("retry-after").unwrap().parse().unwrap();
    assert!((199..=200).contains(&retry), "{res:?}");
    // Still refused, on any connection.
    assert_limited(&get_fresh(&server, &[]), 3);
}

#[test]
fn rate_limit_can_answer_with_draft_6_fields() {
    let store = MemoryStore::new();
    let server = TestServer::start(ServerConfig::default(), move || {
        let limiter = RateLimit::builder(store.clone(), 2, Duration::from_secs(60))
            .headers(RateLimitHeaders::Draft6)
            .build()
            .unwrap();
        Router::new().get("/", || async { "ok" }).layer(limiter)
    });
    for remaining in ["1", "0"] {
        let res = get_fresh(&server, &[]);
        assert_eq!(res.status, 200, "{res:?}");
        assert_eq!(res.header("ratelimit-limit"), Some("2"));
        assert_eq!(res.header("ratelimit-remaining"), Some(remaining));
        assert!(res.header("ratelimit-reset").is_some(), "{res:?}");
        assert_eq!(res.header("ratelimit-policy"), Some("2;w=60"));
        assert_eq!(res.header("ratelimit"), None);
    }
    let res = get_fresh(&server, &[]);
    res.assert_error(429, "rate_limited");
    assert_eq!(res.header("ratelimit-remaining"), Some("0"));
    assert!(res.header("retry-after").is_some());
}

#[test]
fn rate_limit_keys_are_independent() {
    let server = limited_server(MemoryStore::new(), 2, Duration::from_secs(600));
    for _ in 0..2 {
        assert_eq!(get_fresh(&server, &[("x-api-key", "a")]).status, 200);
    }
    assert_limited(&get_fresh(&server, &[("x-api-key", "a")]), 2);
    // Key b and the IP key have their own quotas.
    for _ in 0..2 {
        assert_eq!(get_fresh(&server, &[("x-api-key", "b")]).status, 200);
        assert_eq!(get_fresh(&server, &[]).status, 200);
    }
    assert_limited(&get_fresh(&server, &[("x-api-key", "b")]), 2);
    assert_limited(&get_fresh(&server, &[]), 2);
}

#[test]
fn rate_limit_resets_after_the_window() {
    // 2 per 3 s: the bucket refills one request every 1.5 s, all of it in 3 s.
    let server = limited_server(MemoryStore::new(), 2, Duration::from_secs(3));
    let started = std::time::Instant::now();
    assert_eq!(get_fresh(&server, &[]).status, 200);
    assert_eq!(get_fresh(&server, &[]).status, 200);
    let third = get_fresh(&server, &[]);
    if started.elapsed() < Duration::from_millis(1400) {
        assert_limited(&third, 2);
    }
    std::thread::sleep(Duration::from_millis(3100));
    for _ in 0..2 {
        let res = get_fresh(&server, &[]);
        assert_eq!(res.status, 200, "{res:?}");
    }
}

#[test]
fn rate_limit_settings_are_checked() {
    let err = RateLimit::builder(MemoryStore::new(), 0, Duration::from_secs(1))
        .build()
        .unwrap_err();
    assert_eq!(err.name(), "rate_limit.limit");
    let err = RateLimit::builder(MemoryStore::new(), 5, Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(err.name(), "rate_limit.window");
}

#[cfg(feature = "redis-rate-limit")]
mod redis {
    use super::*;
    use keel_http::middleware::RedisStore;
    use keel_pool::Pool;
    use keel_pool::redis::RedisManager;

    const REDIS: &str = "127.0.0.1:6379";

    /// A key prefix no other test run shares.
    fn unique_prefix() -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        format!("keel-test:{}:{nanos}:", std::process::id())
    }

    /// A server limiting `/` to `limit` per 10 minutes in the Redis at `addr` under
    /// `prefix`, failing closed when asked.
    fn redis_server(addr: &str, prefix: &str, limit: u32, fail_closed: bool) -> TestServer {
        redis_server_window(addr, prefix, limit, Duration::from_secs(600), fail_closed)
    }

    /// As [`redis_server`], `limit` per `window`.
    fn redis_server_window(
        addr: &str,
        prefix: &str,
        limit: u32,
        window: Duration,
        fail_closed: bool,
    ) -> TestServer {
        let addr: std::net::SocketAddr = addr.parse().unwrap();
        let prefix = prefix.to_owned();
        TestServer::start(ServerConfig::default(), move || {
            let pool = Pool::builder(RedisManager::new(addr))
                .max(2)
                .acquire_timeout(Duration::from_millis(300))
                .build();
            let limiter = RateLimit::builder(RedisStore::new(pool, prefix.clone()), limit, window)
                .fail_closed(fail_closed)
                .store_timeout(Duration::from_secs(5))
                .build()
                .expect("valid limiter");
            Router::new().get("/", || async { "ok" }).layer(limiter)
        })
    }

    #[test]
    fn redis_store_shares_the_count_between_two_servers() {
        let prefix = unique_prefix();
        let a = redis_server(REDIS, &prefix, 4, false);
        let b = redis_server(REDIS, &prefix, 4, false);
        assert_ne!(a.addr, b.addr);
        let mut remaining = Vec::new();
        for server in [&a, &b, &a, &b] {
            let res = get_fresh(server, &[]);
            assert_eq!(res.status, 200, "{res:?}");
            remaining.push(ratelimit(&res).1);
        }
        assert_eq!(remaining, [3, 2, 1, 0]);
        assert_limited(&get_fresh(&a, &[]), 4);
        assert_limited(&get_fresh(&b, &[]), 4);

        // A server under another prefix counts apart.
        let c = redis_server(REDIS, &unique_prefix(), 4, false);
        assert_eq!(get_fresh(&c, &[]).status, 200);
    }

    #[test]
    fn redis_store_is_a_token_bucket_that_refills_over_the_window() {
        // 2 per 3 s: one request comes back every 1.5 s, both after 3 s.
        let prefix = unique_prefix();
        let server = redis_server_window(REDIS, &prefix, 2, Duration::from_secs(3), false);
        let started = std::time::Instant::now();
        assert_eq!(get_fresh(&server, &[]).status, 200);
        assert_eq!(get_fresh(&server, &[]).status, 200);
        let third = get_fresh(&server, &[]);
        if started.elapsed() < Duration::from_millis(1400) {
            assert_limited(&third, 2);
            let retry: u64 = third.header("retry-after").unwrap().parse().unwrap();
            assert!((1..=2).contains(&retry), "{third:?}");
            assert_eq!(third.header("ratelimit-policy"), Some("2;w=3"));
        }
        std::thread::sleep(Duration::from_millis(3100));
        for _ in 0..2 {
            let res = get_fresh(&server, &[]);
            assert_eq!(res.status, 200, "{res:?}");
        }
    }

    #[test]
    fn redis_store_down_fails_open_by_default_and_closed_when_asked() {
        // Nothing listens on port 1.
        let open = redis_server("127.0.0.1:1", &unique_prefix(), 1, false);
        for _ in 0..3 {
            let res = get_fresh(&open, &[]);
            assert_eq!(res.status, 200, "{res:?}");
            assert_eq!(res.text(), "ok");
            assert_eq!(res.header("ratelimit"), None);
        }
        let closed = redis_server("127.0.0.1:1", &unique_prefix(), 1, true);
        get_fresh(&closed, &[]).assert_error(503, "rate_limit_unavailable");
    }
}
