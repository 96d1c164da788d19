//! The route table in memory, through `TestClient` (the server's own HTTP/1.1 code, no
//! socket, no process): validation, routing errors, CORS and the auth group's rate limit
//! are all answered before a handler's first query, so the pool here points at a port
//! where nothing listens and is never asked for a connection. The database paths are
//! `tests/rest_api_process.rs`'s, against the real PostgreSQL.

use std::time::Duration;

use keel::http::middleware::{Cors, MemoryStore};
use keel::http::{StatusCode, TestClient};
use keel::pool::Pool;
use keel::pool::postgres::{PgManager, tokio_postgres};
use serde_json::{Value, json};

use super::repositories::UserRepository;
use super::routes::{self, AUTH_LIMIT};
use super::services::UserService;

const ORIGIN: &str = "http://localhost:5173";

fn client() -> TestClient {
    let mut config = tokio_postgres::Config::new();
    config
        .host("127.0.0.1")
        .port(1)
        .connect_timeout(Duration::from_millis(200));
    let pool = Pool::builder(PgManager::new(config)).max(1).build();
    let cors = Cors::builder().allow_origins([ORIGIN]).build().unwrap();
    TestClient::new(routes::router(
        UserService::new(UserRepository::new(pool)),
        MemoryStore::new(),
        cors,
    ))
}

#[test]
fn invalid_input_is_refused_before_the_database() {
    let client = client();
    let res = client
        .post("/users")
        .json(&json!({"name": "", "email": "not-an-email"}))
        .send_blocking();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let details = &res.json::<Value>()["details"];
    assert!(
        details["name"].is_array() && details["email"].is_array(),
        "{details}"
    );

    let res = client.get("/users/seven").send_blocking();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.json::<Value>()["code"], "invalid_path_parameter");
    assert_eq!(
        client.get("/nowhere").send_blocking().status(),
        StatusCode::NOT_FOUND
    );
    let res = client.post("/users/7").send_blocking();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.header("allow"), Some("GET, PATCH, PUT, DELETE, HEAD"));
}

#[test]
fn the_auth_group_alone_is_rate_limited() {
    let client = client();
    // Invalid logins: refused by validation, still counted by the group's limit.
    for i in 0..AUTH_LIMIT {
        let res = client
            .post("/auth/login")
            .json(&json!({"email": "x"}))
            .send_blocking();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "login {i}");
        assert!(res.header("ratelimit").is_some(), "{:?}", res.headers());
    }
    let limited = client
        .post("/auth/login")
        .json(&json!({"email": "x"}))
        .send_blocking();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.header("retry-after").is_some());
    // The users group has no limit, and no rate-limit headers.
    for _ in 0..=AUTH_LIMIT {
        let res = client.post("/users").json(&json!({})).send_blocking();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert!(res.header("ratelimit").is_none());
    }
}

#[test]
fn cors_answers_preflights_for_the_allowed_origin_only() {
    let client = client();
    let preflight = |origin: &str| {
        client
            .options("/users")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send_blocking()
    };
    let ok = preflight(ORIGIN);
    assert_eq!(ok.header("access-control-allow-origin"), Some(ORIGIN));
    let other = preflight("https://evil.example");
    assert_eq!(other.header("access-control-allow-origin"), None);
}
