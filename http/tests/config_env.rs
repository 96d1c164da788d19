//! `Config::from_env` against the real process environment: every variable of the table
//! with a bad value stops it with an error naming the variable and the value; good values
//! land in the settings; the metrics token never shows in `Debug`. One test in this
//! binary, so nothing else reads the environment while it changes.

use std::time::Duration;

use keel_http::{Config, Environment, ForwardedHeader};

fn set(name: &str, value: &str) {
    // SAFETY: this binary's only test runs on one thread and no other thread reads or
    // writes the environment while it does.
    unsafe { std::env::set_var(name, value) }
}

fn unset(name: &str) {
    // SAFETY: as in `set`.
    unsafe { std::env::remove_var(name) }
}

#[test]
fn bad_values_fail_naming_the_variable_and_good_values_are_read() {
    let bad = [
        ("PORT", "http"),
        ("PORT", "65536"),
        ("KEEL_LOOPS", "0"),
        ("WEB_CONCURRENCY", "many"),
        ("KEEL_BLOCKING_THREADS", "0"),
        ("KEEL_WORKER_THREADS", "lots"),
        ("KEEL_HEAP_LIMIT", "1.5GB"),
        ("KEEL_HEAP_LIMIT", "0"),
        ("KEEL_HEADERS_TIMEOUT", "0"),
        ("KEEL_REQUEST_TIMEOUT", "soon"),
        ("KEEL_KEEPALIVE_TIMEOUT", "5 parsecs"),
        ("KEEL_MAX_BODY", "big"),
        ("KEEL_MAX_HEADER_SIZE", "10"),
        ("KEEL_MAX_CONNECTIONS", "0"),
        ("KEEL_SHUTDOWN_TIMEOUT", "-1s"),
        ("KEEL_SHUTDOWN_DELAY", "later"),
        ("KEEL_OPS_ADDR", "nowhere"),
        ("KEEL_ENV", "staging"),
        ("KEEL_METRICS_TOKEN", "has space"),
        // Not base64, and base64 of too few bytes (16).
        ("KEEL_COOKIE_KEY", "hunter2-is-my-password"),
        ("KEEL_COOKIE_KEY", "MDEyMzQ1Njc4OWFiY2RlZg=="),
        ("KEEL_ACCESS_LOG", "sometimes"),
        ("KEEL_TRUSTED_PROXIES", "10.0.0.0/33"),
        ("KEEL_TRUSTED_PROXIES", "10.0.0.1, proxy.internal"),
        ("KEEL_FORWARDED_HEADER", "x-real-ip"),
        ("KEEL_SERVER_HEADER", "kéel"),
        ("KEEL_SECURITY_HEADERS", "sometimes"),
        ("KEEL_TLS_HANDSHAKE_TIMEOUT", "0"),
        ("KEEL_TLS_HANDSHAKE_TIMEOUT", "a while"),
        ("KEEL_TLS_RELOAD_INTERVAL", "soon"),
        ("KEEL_H2", "maybe"),
        ("KEEL_H2_MAX_CONCURRENT_STREAMS", "0"),
        ("KEEL_H2_MAX_CONCURRENT_STREAMS", "many"),
        ("KEEL_H2_MAX_HEADER_LIST_SIZE", "100"),
        ("KEEL_H2_INITIAL_STREAM_WINDOW", "1000"),
        ("KEEL_H2_INITIAL_CONNECTION_WINDOW", "4294967296"),
        ("KEEL_H2_MAX_FRAME_SIZE", "1024"),
        ("KEEL_H2_IDLE_TIMEOUT", "0"),
        ("KEEL_H2_IDLE_TIMEOUT", "forever"),
        // Client certificates without TLS.
        ("KEEL_TLS_CLIENT_CA", "/etc/tls/ca.crt"),
        // One of the pair without the other.
        ("KEEL_TLS_CERT", "/etc/tls/tls.crt"),
        ("KEEL_TLS_KEY", "/etc/tls/tls.key"),
        ("KEEL_CLIENT_CA", "/nonexistent/keel-client-ca.pem"),
        // A readable file without a certificate.
        ("KEEL_CLIENT_CA", "Cargo.toml"),
    ];
    assert!(Config::from_env().is_ok(), "the defaults must be valid");
    for (name, value) in bad {
        set(name, value);
        let err = Config::from_env().expect_err(&format!("{name}={value} was accepted"));
        unset(name);
        assert_eq!(err.name(), name, "{err}");
        let message = err.to_string();
        assert!(message.contains(name), "{message}");
        if name != "KEEL_METRICS_TOKEN" && name != "KEEL_COOKIE_KEY" {
            assert!(message.contains(value), "{message}");
        } else {
            assert!(!message.contains(value), "the secret leaked: {message}");
        }
        assert!(message.contains("expected"), "{message}");
    }

    let good = [
        ("HOST", "127.0.0.1"),
        ("PORT", "8080"),
        ("KEEL_LOOPS", "3"),
        ("KEEL_SHUTDOWN_TIMEOUT", "10s"),
        ("KEEL_SHUTDOWN_DELAY", "1500ms"),
        ("KEEL_MAX_BODY", "2MiB"),
        ("KEEL_OPS_ADDR", "127.0.0.1:9091"),
        ("KEEL_METRICS_TOKEN", "s3cret-token"),
        // 51 bytes, base64.
        (
            "KEEL_COOKIE_KEY",
            "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNl",
        ),
        ("KEEL_ENV", "development"),
        ("KEEL_ACCESS_LOG", "off"),
        ("KEEL_TRUSTED_PROXIES", "10.0.0.0/8, loopback"),
        ("KEEL_FORWARDED_HEADER", "Forwarded"),
        ("KEEL_TLS_HANDSHAKE_TIMEOUT", "3s"),
        ("KEEL_TLS_RELOAD_INTERVAL", "0s"),
        ("KEEL_H2_MAX_CONCURRENT_STREAMS", "250"),
        ("KEEL_H2_INITIAL_STREAM_WINDOW", "1MiB"),
        ("KEEL_H2_MAX_FRAME_SIZE", "64KiB"),
        ("KEEL_H2_IDLE_TIMEOUT", "2m"),
        ("APP_CACHE_TTL", "90s"),
    ];
    for (name, value) in good {
        set(name, value);
    }
    let config = Config::from_env().expect("good values");
    let ttl = Config::var("APP_CACHE_TTL", keel_http::config::parse_duration).unwrap();
    for (name, _) in good {
        unset(name);
    }
    assert_eq!(config.addr(), ("127.0.0.1", 8080));
    assert_eq!(
        config.server().get_shutdown_timeout(),
        Duration::from_secs(10)
    );
    assert_eq!(
        config.server().get_shutdown_delay(),
        Duration::from_millis(1500)
    );
    assert_eq!(config.server().limits().max_body_size, 2 << 20);
    assert_eq!(config.ops_addr(), Some("127.0.0.1:9091".parse().unwrap()));
    assert_eq!(config.metrics_token(), Some("s3cret-token"));
    assert!(config.cookie_key().is_some());
    assert_eq!(config.environment(), Environment::Development);
    assert_eq!(ttl, Some(Duration::from_secs(90)));
    let proxies = config.server().get_trusted_proxies();
    assert!(proxies.contains("10.2.3.4".parse().unwrap()));
    assert!(proxies.contains("::1".parse().unwrap()));
    assert!(!proxies.contains("203.0.113.1".parse().unwrap()));
    assert_eq!(proxies.forwarded_header(), ForwardedHeader::Forwarded);
    let rt = config.runtime().pin(false).build().expect("runtime");
    assert_eq!(rt.handle().loops(), 3);
    let debug = format!("{config:?}");
    assert!(!debug.contains("s3cret"), "{debug}");
    assert!(!debug.contains("c2VjcmV0"), "{debug}");
    assert!(debug.contains("REDACTED"), "{debug}");
    assert!(debug.contains("access_log: false"), "{debug}");
    let h2 = config.server().get_h2();
    assert!(h2.is_enabled());
    assert_eq!(h2.get_max_concurrent_streams(), 250);
    assert_eq!(h2.get_initial_stream_window(), 1 << 20);
    assert_eq!(h2.get_max_frame_size(), 64 << 10);
    assert_eq!(h2.get_idle_timeout(), Duration::from_secs(120));
    // The timeout alone is checked but turns nothing on: no paths, plain HTTP.
    assert!(config.server().get_tls().is_none());
}
