//! `examples/rest_api` as a real process against the local PostgreSQL
//! (`PGHOST`/`PGPORT`/… or 127.0.0.1:5432, user postgres, database test): the users
//! CRUD with its error codes (422 validation, 404, 409 on a taken email), readiness
//! tied to the pool, the pool on `/metrics`, and a clean exit on SIGTERM; the auth
//! route's rate limit (10 per 15 minutes per client, then a JSON 429 with `Retry-After`,
//! other routes unaffected) and the request ids in the JSON access log; an unreachable
//! database or a bad variable stops it at startup.

mod support;

use support::{access_log, run_to_exit, start, unique};

#[test]
fn users_crud_with_error_codes_readiness_and_metrics() {
    let mut app = start("rest_api", &[]);
    assert!(app.banner.contains("keel_example_users"), "{}", app.banner);

    let ready = app.wait_ready().json();
    assert_eq!(ready["checks"]["postgres"]["state"], "up", "{ready}");

    let email = format!("ada-{}@example.com", unique());
    let body = format!(r#"{{"name":" Ada ","email":"{}"}}"#, email.to_uppercase());
    let created = app.request("POST", "/users", Some(&body));
    assert_eq!(created.status, 201, "{}", created.body);
    let user = created.json();
    let id = user["id"].as_i64().expect("an id");
    assert_eq!(user["name"], "Ada");
    assert_eq!(
        user["email"],
        email.as_str(),
        "emails are stored lower-cased"
    );

    let got = app.request("GET", &format!("/users/{id}"), None);
    assert_eq!(got.status, 200);
    assert_eq!(got.json(), user);

    // The same email in another case is taken.
    let dup = app.request("POST", "/users", Some(&body.to_lowercase()));
    assert_eq!(dup.status, 409, "{}", dup.body);
    assert_eq!(dup.json()["code"], "conflict");

    let bad = app.request("POST", "/users", Some(r#"{"name":"","email":"nope"}"#));
    assert_eq!(bad.status, 422, "{}", bad.body);
    let bad = bad.json();
    assert_eq!(bad["code"], "validation_failed");
    assert!(bad["details"]["name"].is_array(), "{bad}");
    assert!(bad["details"]["email"].is_array(), "{bad}");

    let page = app.request("GET", &format!("/users?after={}&limit=5", id - 1), None);
    assert_eq!(page.status, 200);
    assert_eq!(page.json()[0]["id"], id, "{}", page.body);
    assert_eq!(app.request("GET", "/users?limit=0", None).status, 422);

    let patched = app.request(
        "PATCH",
        &format!("/users/{id}"),
        Some(r#"{"name":"Ada Lovelace"}"#),
    );
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.json()["name"], "Ada Lovelace");
    assert_eq!(patched.json()["email"], email.as_str());
    assert_eq!(
        app.request("GET", &format!("/users/{id}"), None).json()["name"],
        "Ada Lovelace"
    );

    let metrics = app.request("GET", "/metrics", None);
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.body.contains("keel_pool_max{pool=\"postgres\""),
        "{}",
        metrics.body
    );

    assert_eq!(
        app.request("DELETE", &format!("/users/{id}"), None).status,
        204
    );
    let gone = app.request("GET", &format!("/users/{id}"), None);
    assert_eq!(gone.status, 404);
    assert_eq!(gone.json()["code"], "not_found");
    assert_eq!(
        app.request("DELETE", &format!("/users/{id}"), None).status,
        404
    );
    assert_eq!(
        app.request("PATCH", &format!("/users/{id}"), Some(r#"{"name":"x"}"#))
            .status,
        404
    );

    let (status, stdout, stderr) = app.stop();
    assert_eq!(status.code(), Some(0), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("drained"), "{stdout}");
}

#[test]
fn the_auth_route_is_rate_limited_and_logs_carry_request_ids() {
    let mut app = start("rest_api", &[]);
    app.wait_ready();
    let email = format!("grace-{}@example.com", unique());
    let body = format!(r#"{{"name":"Grace","email":"{email}"}}"#);
    let created = app.request("POST", "/users", Some(&body));
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.json()["id"].as_i64().expect("an id");

    // The limit is 10 per 15 minutes per client IP, on /auth routes only.
    let login = format!(r#"{{"email":"{}"}}"#, email.to_uppercase());
    let ok = app.request("POST", "/auth/login", Some(&login));
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.json()["id"], id);
    assert!(
        ok.header("ratelimit")
            .is_some_and(|v| v.starts_with("limit=10, remaining=9")),
        "{:?}",
        ok.headers
    );
    let unknown = r#"{"email":"nobody-here@example.com"}"#;
    let denied = app.request("POST", "/auth/login", Some(unknown));
    assert_eq!(denied.status, 401, "{}", denied.body);
    assert_eq!(denied.json()["code"], "unauthorized");
    for _ in 2..10 {
        let reply = app.request("POST", "/auth/login", Some(&login));
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let limited = app.request("POST", "/auth/login", Some(&login));
    assert_eq!(limited.status, 429, "{}", limited.body);
    let retry_after: u64 = limited
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=15 * 60).contains(&retry_after), "{retry_after}");
    assert!(limited.json()["requestId"].is_string(), "{}", limited.body);
    // Other routes are not limited.
    let got = app.request("GET", &format!("/users/{id}"), None);
    assert_eq!(got.status, 200, "{}", got.body);
    let request_id = got.header("x-request-id").expect("X-Request-ID").to_owned();
    assert_eq!(
        app.request("DELETE", &format!("/users/{id}"), None).status,
        204
    );

    let (status, stdout, stderr) = app.stop();
    assert_eq!(status.code(), Some(0), "stdout: {stdout}\nstderr: {stderr}");
    // The access log: JSON lines, the GET's under the id its response carried.
    let access = access_log(&stdout);
    let line = access
        .iter()
        .find(|l| l["request_id"] == request_id.as_str())
        .unwrap_or_else(|| panic!("no access line for {request_id} in {stdout}"));
    assert_eq!(line["route"], "/users/:id");
    assert_eq!(line["status"], 200);
    let limited_lines = access
        .iter()
        .filter(|l| l["route"] == "/auth/login" && l["status"] == 429)
        .count();
    assert_eq!(limited_lines, 1, "{stdout}");
}

#[test]
fn an_unreachable_database_stops_startup_naming_it() {
    // Port 1 on localhost: nothing listens there.
    let (code, stderr) = run_to_exit("rest_api", &[("PGHOST", "127.0.0.1"), ("PGPORT", "1")]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("127.0.0.1:1"), "{stderr}");
}

#[test]
fn a_bad_database_variable_is_named() {
    let (code, stderr) = run_to_exit("rest_api", &[("PGPORT", "postgres")]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("PGPORT"), "{stderr}");
}

/// Sends `request` on a fresh connection and returns the whole response, lower-cased.
fn raw(addr: std::net::SocketAddr, request: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, support::LIMIT).expect("connect");
    s.set_read_timeout(Some(support::LIMIT)).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    text.to_ascii_lowercase()
}

#[test]
fn cors_allows_only_the_origins_of_cors_origins() {
    let mut app = start(
        "rest_api",
        &[(
            "CORS_ORIGINS",
            "https://app.example.com, https://admin.example.com",
        )],
    );
    app.wait_ready();
    let preflight = |origin: &str| {
        raw(
            app.addr,
            &format!(
                "OPTIONS /users HTTP/1.1\r\nHost: t\r\nOrigin: {origin}\r\n\
                 Access-Control-Request-Method: POST\r\n\
                 Access-Control-Request-Headers: content-type\r\nConnection: close\r\n\r\n"
            ),
        )
    };
    let allowed = preflight("https://admin.example.com");
    assert!(allowed.starts_with("http/1.1 204"), "{allowed}");
    assert!(
        allowed.contains("access-control-allow-origin: https://admin.example.com\r\n"),
        "{allowed}"
    );
    let denied = preflight("https://evil.example.net");
    assert!(denied.starts_with("http/1.1 403"), "{denied}");
    assert!(!denied.contains("access-control-allow-origin"), "{denied}");
    // A simple request from a listed origin is answered with its origin, and carries
    // the security headers like every response.
    let listed = raw(
        app.addr,
        "GET /users HTTP/1.1\r\nHost: t\r\nOrigin: https://app.example.com\r\nConnection: close\r\n\r\n",
    );
    assert!(
        listed.contains("access-control-allow-origin: https://app.example.com\r\n"),
        "{listed}"
    );
    assert!(
        listed.contains("x-content-type-options: nosniff\r\n"),
        "{listed}"
    );
    let (status, _, _) = app.stop();
    assert_eq!(status.code(), Some(0));
}
