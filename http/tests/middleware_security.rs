//! The security middleware set over real sockets: security headers, CORS, rate limiting
//! (in memory and on the Redis at `REDIS_URL`'s address, 127.0.0.1:6379 by default) and
//! gzip compression.

mod util;

use keel_http::middleware::{Cors, DEFAULT_CONTENT_SECURITY_POLICY, SecurityHeaders};
use keel_http::{Response, Router, ServerConfig};
use util::{Client, TestServer};

/// A request `method path` with `Host` and the extra header lines `headers`.
fn request(method: &str, path: &str, headers: &[(&str, &str)]) -> String {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: test\r\n");
    for (name, value) in headers {
        req.push_str(&format!("{name}: {value}\r\n"));
    }
    req.push_str("\r\n");
    req
}

fn send(c: &mut Client, method: &str, path: &str, headers: &[(&str, &str)]) -> util::Response {
    c.request(request(method, path, headers))
}

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
    assert_eq!(res.header("content-security-policy"), Some("default-src 'none'"));
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
    let res = send(
        &mut c,
        "OPTIONS",
        "/items",
        &[
            ("Origin", APP),
            ("Access-Control-Request-Method", "DELETE"),
            ("Access-Control-Request-Headers", "content-type, authorization"),
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
        let res = send(&mut c, "OPTIONS", "/items", headers);
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

    let res = send(&mut c, "GET", "/items", &[("Origin", APP)]);
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
    let res = send(&mut c, "POST", "/items", &[("Origin", "http://LOCALHOST:3000")]);
    assert_eq!(res.text(), "created");
    assert_eq!(
        res.header("access-control-allow-origin"),
        Some("http://LOCALHOST:3000")
    );

    // An unlisted origin is served (the browser blocks the read) without CORS headers.
    let res = send(&mut c, "GET", "/items", &[("Origin", EVIL)]);
    assert_eq!(res.status, 200);
    assert_eq!(res.header("access-control-allow-origin"), None);
    assert_eq!(res.header("access-control-allow-credentials"), None);
    assert_eq!(res.header("access-control-expose-headers"), None);
    assert_eq!(res.header("vary"), Some("Origin"));

    // No Origin: not a CORS request; a plain OPTIONS goes to the router.
    let res = c.get("/items");
    assert_eq!(res.header("access-control-allow-origin"), None);
    let res = send(&mut c, "OPTIONS", "/items", &[]);
    assert_eq!(res.status, 405, "{res:?}");
}

#[test]
fn cors_wildcard_allows_any_origin_without_credentials() {
    let server = TestServer::start(ServerConfig::default(), || {
        let cors = Cors::builder().allow_origins(["*"]).build().unwrap();
        Router::new().get("/", || async { "hi" }).layer(cors)
    });
    let mut c = server.connect();
    let res = send(&mut c, "GET", "/", &[("Origin", EVIL)]);
    assert_eq!(res.header("access-control-allow-origin"), Some("*"));
    assert_eq!(res.header("access-control-allow-credentials"), None);
    let res = send(
        &mut c,
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
        let err = Cors::builder().allow_origins(origins.iter().copied()).build();
        assert_eq!(err.unwrap_err().name(), "cors.allow_origins", "{origins:?}");
    }
    let err = Cors::builder().allow_methods(["GET POST"]).build().unwrap_err();
    assert_eq!(err.name(), "cors.allow_methods");
}
