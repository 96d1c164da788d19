//! The in-memory [`TestClient`]: the same answers as over a socket (security headers,
//! request ids, rendered errors, a panic's 500, the request timeout's 408, the body
//! limit's 413, HEAD without a body), the ops endpoints before the application, a jar
//! that keeps the cookies responses set, and `send().await` on a loop as well as
//! `send_blocking` from a plain test.

use std::net::SocketAddr;
use std::time::Duration;

use keel_http::{
    ClientIp, CookieJar, Json, Ops, Request, Router, ServerConfig, StatusCode, TestClient,
    TrustedProxies, secure_cookie,
};
use serde_json::{Value, json};

fn app() -> Router {
    Router::new()
        .get("/", || async { "home" })
        .post("/echo", |Json(v): Json<Value>| async move { Json(v) })
        .get("/panic", || async {
            panic!("exploded");
            #[allow(unreachable_code)]
            "never"
        })
        .get("/slow", || async {
            keel_runtime::time::sleep(Duration::from_secs(5)).await;
            "late"
        })
        .get(
            "/ip",
            |ClientIp(ip): ClientIp| async move { ip.to_string() },
        )
        .post("/login", |jar: CookieJar| async move {
            (jar.add(secure_cookie("session", "s1")), "in")
        })
        .get("/whoami", |jar: CookieJar| async move {
            jar.get("session")
                .map_or("nobody".to_owned(), |c| c.value().to_owned())
        })
        .post("/logout", |jar: CookieJar| async move {
            (jar.remove("session"), "out")
        })
        .get("/headers", |req: Request| async move {
            req.header("x-custom").unwrap_or("-").to_owned()
        })
}

#[test]
fn answers_as_a_socket_would() {
    let client = TestClient::new(app());
    let res = client.get("/").send_blocking();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text(), "home");
    assert_eq!(
        res.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
    assert!(res.request_id().is_some_and(|id| !id.is_empty()));
    // A client request id is echoed.
    let res = client
        .get("/")
        .header("x-request-id", "test-123")
        .send_blocking();
    assert_eq!(res.request_id(), Some("test-123"));
    assert_eq!(
        client
            .get("/headers")
            .header("X-Custom", "v")
            .send_blocking()
            .text(),
        "v"
    );

    let res = client
        .post("/echo")
        .json(&json!({"a": [1, 2]}))
        .send_blocking();
    assert_eq!(res.json::<Value>(), json!({"a": [1, 2]}));
    let res = client
        .post("/echo")
        .body("{")
        .header("content-type", "application/json")
        .send_blocking();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.json::<Value>()["code"], "invalid_json");

    let res = client.get("/panic").send_blocking();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        !res.text().contains("exploded"),
        "production hides it: {}",
        res.text()
    );

    let head = client.head("/").send_blocking();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.header("content-length"), Some("4"));
    assert!(head.body().is_empty());
}

#[test]
fn limits_and_timeouts_come_from_the_config() {
    let config = ServerConfig::default()
        .request_timeout(Duration::from_millis(100))
        .max_body_size(16);
    let client = TestClient::builder(app()).config(config).build();
    let started = std::time::Instant::now();
    let res = client.get("/slow").send_blocking();
    assert_eq!(res.status(), StatusCode::REQUEST_TIMEOUT);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let res = client
        .post("/echo")
        .json(&json!({"far": "more than sixteen bytes"}))
        .send_blocking();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[test]
fn the_peer_and_trusted_proxies() {
    let proxy: SocketAddr = "10.0.0.5:4000".parse().unwrap();
    let config =
        ServerConfig::default().trusted_proxies(TrustedProxies::parse("10.0.0.0/8").unwrap());
    let client = TestClient::builder(app())
        .config(config)
        .peer(proxy)
        .build();
    let res = client
        .get("/ip")
        .header("x-forwarded-for", "203.0.113.9")
        .send_blocking();
    assert_eq!(res.text(), "203.0.113.9");
    assert_eq!(
        TestClient::new(app()).get("/ip").send_blocking().text(),
        "127.0.0.1"
    );
}

#[test]
fn the_jar_keeps_set_cookies_and_drops_removed_ones() {
    let client = TestClient::new(app());
    assert_eq!(client.get("/whoami").send_blocking().text(), "nobody");
    let res = client.post("/login").send_blocking();
    let cookie = res.cookie("session").expect("a session cookie");
    assert_eq!(cookie.value(), "s1");
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(cookie.secure(), Some(true));
    assert_eq!(cookie.same_site(), Some(keel_http::cookie::SameSite::Lax));
    assert_eq!(client.cookie("session").as_deref(), Some("s1"));
    assert_eq!(client.get("/whoami").send_blocking().text(), "s1");
    // A request's own cookie wins over the jar's.
    assert_eq!(
        client
            .get("/whoami")
            .cookie("session", "other")
            .send_blocking()
            .text(),
        "other"
    );
    let res = client.post("/logout").send_blocking();
    assert_eq!(
        res.cookie("session").and_then(|c| c.max_age()),
        Some(keel_http::cookie::time::Duration::ZERO)
    );
    assert_eq!(client.cookie("session"), None);
    assert_eq!(client.get("/whoami").send_blocking().text(), "nobody");
}

#[test]
fn ops_endpoints_come_before_the_application() {
    let client = TestClient::builder(Router::new().get("/", || async { "app" }))
        .ops(Ops::new())
        .build();
    for probe in ["/health/live", "/health/ready", "/health/startup"] {
        let res = client.get(probe).send_blocking();
        assert_eq!(res.status(), StatusCode::OK, "{probe}: {}", res.text());
    }
    client.get("/").send_blocking();
    let metrics = client.get("/metrics").send_blocking();
    assert_eq!(metrics.status(), StatusCode::OK);
    assert!(
        metrics
            .text()
            .contains(r#"http_request_duration_seconds_count{method="GET",route="/"} 1"#),
        "{}",
        metrics.text()
    );
    // A failing readiness check shows.
    let client = TestClient::builder(Router::new())
        .ops(Ops::new().readiness_check("db", || async { Err("down".to_owned()) }))
        .build();
    assert_eq!(
        client.get("/health/ready").send_blocking().status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    // Without ops, the paths are the application's (a 404 here).
    let client = TestClient::new(Router::new());
    assert_eq!(
        client.get("/health/ready").send_blocking().status(),
        StatusCode::NOT_FOUND
    );
}

#[test]
fn send_awaits_on_a_loop() {
    keel_runtime::block_on(async {
        let client = TestClient::new(app());
        for _ in 0..3 {
            assert_eq!(client.get("/").send().await.text(), "home");
        }
    });
}
