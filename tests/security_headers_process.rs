//! Secure by default, over every example process: each response — an application
//! route, a 404 Keel renders, a health probe — carries the security headers without a
//! line of code in the example; `KEEL_SECURITY_HEADERS=off` turns them off.

mod support;

use support::{Reply, start};

/// The headers checked on every response, with Helmet's default values.
const EXPECTED: [(&str, &str); 6] = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "SAMEORIGIN"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-opener-policy", "same-origin"),
    (
        "strict-transport-security",
        "max-age=31536000; includeSubDomains; preload",
    ),
    (
        "content-security-policy",
        "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests",
    ),
];

/// Each example with one of its own routes.
const EXAMPLES: [(&str, &str); 7] = [
    ("hello", "/plaintext"),
    ("getting_started", "/"),
    ("rest_api", "/users"),
    ("graceful", "/hit"),
    ("cpu_offload", "/lag"),
    ("redis_cache", "/items/1"),
    ("gateway", "/upstream/items/1"),
];

fn assert_secured(example: &str, what: &str, reply: &Reply) {
    for (name, value) in EXPECTED {
        assert_eq!(
            reply.header(name),
            Some(value),
            "{example} {what} ({}): {name}",
            reply.status
        );
    }
}

#[test]
fn every_example_sends_the_security_headers_on_every_response() {
    for (example, route) in EXAMPLES {
        let mut app = start(example, &[]);
        let ready = app.wait_ready();
        assert_secured(example, "/health/ready", &ready);
        let own = app.request("GET", route, None);
        assert_secured(example, route, &own);
        let missing = app.request("GET", "/no/such/path", None);
        assert_eq!(missing.status, 404, "{example}");
        assert_secured(example, "a 404", &missing);
        let (status, stdout, stderr) = app.stop();
        assert_eq!(
            status.code(),
            Some(0),
            "{example}: stdout: {stdout}\nstderr: {stderr}"
        );
    }
}

#[test]
fn keel_security_headers_off_turns_them_off() {
    let mut app = start("hello", &[("KEEL_SECURITY_HEADERS", "off")]);
    for path in ["/plaintext", "/no/such/path", "/health/live"] {
        let reply = app.request("GET", path, None);
        for (name, _) in EXPECTED {
            assert_eq!(reply.header(name), None, "{path}: {name}");
        }
    }
    let (status, _, _) = app.stop();
    assert_eq!(status.code(), Some(0));
}
