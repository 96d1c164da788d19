//! Routing, extractors and the central JSON errors, over raw sockets: 404/405 (with
//! `Allow`), absolute-form targets, `HEAD` served by `GET`, `Path`/`Query`/`Json`/`Valid`
//! and their 400/415/422 answers, `X-Request-ID` echo and generation, and what production
//! and development show of a 5xx.

use keel_http::garde;
use keel_http::{
    AppError, Environment, Json, Path, Query, Router, ServerConfig, StatusCode, Valid,
};
use keel_testkit::TestServer;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
struct Search {
    q: String,
    page: Option<u32>,
}

#[derive(Deserialize, garde::Validate)]
struct NewUser {
    #[garde(length(min = 1, max = 8))]
    name: String,
    #[garde(email)]
    email: String,
    #[garde(range(min = 18))]
    age: u32,
}

async fn user(Path(id): Path<u64>) -> Json<Value> {
    Json(json!({ "id": id }))
}

async fn search(Query(s): Query<Search>) -> Json<Value> {
    Json(json!({ "q": s.q, "page": s.page }))
}

async fn echo_json(Json(v): Json<Value>) -> Json<Value> {
    Json(json!({ "got": v }))
}

async fn create_user(Valid(Json(u)): Valid<Json<NewUser>>) -> (StatusCode, Json<Value>) {
    (
        StatusCode::CREATED,
        Json(json!({ "name": u.name, "email": u.email, "age": u.age })),
    )
}

async fn boom() -> Result<&'static str, AppError> {
    Err(AppError::internal(
        "database password rejected for user admin",
    ))
}

async fn gone() -> Result<&'static str, AppError> {
    Err(AppError::new(
        StatusCode::GONE,
        "gone",
        "widget 9 was deleted",
    ))
}

fn app() -> Router {
    Router::new()
        .get("/hello", || async { "hello" })
        .get("/users/:id", user)
        .get("/search", search)
        .post("/json", echo_json)
        .post("/users", create_user)
        .get("/items", || async { "list" })
        .post("/items", || async { "created" })
        .get("/boom", boom)
        .get("/gone", gone)
}

fn server(env: Environment) -> TestServer {
    TestServer::start(ServerConfig::default().environment(env), app)
}

fn post_json(path: &str, content_type: Option<&str>, body: &str) -> String {
    let ct = content_type
        .map(|ct| format!("Content-Type: {ct}\r\n"))
        .unwrap_or_default();
    format!(
        "POST {path} HTTP/1.1\r\nHost: test\r\n{ct}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn routes_by_path_and_method() {
    let server = server(Environment::Production);
    let mut c = server.connect();
    let res = c.get("/hello");
    assert_eq!(res.status, 200);
    assert_eq!(res.text(), "hello");
    assert_eq!(res.header("content-length"), Some("5"));
    assert_eq!(
        res.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert!(res.header("date").is_some());
    assert!(!res.closes());

    assert_eq!(c.get("/items").text(), "list");
    let res = c.request("POST /items HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n\r\n");
    assert_eq!((res.status, res.text()), (200, "created"));
}

#[test]
fn absolute_form_target_is_routed_by_its_path() {
    let server = server(Environment::Production);
    let mut c = server.connect();
    let res = c.request("GET http://example.com/users/7 HTTP/1.1\r\nHost: example.com\r\n\r\n");
    assert_eq!(res.status, 200, "{res:?}");
    assert_eq!(res.json(), json!({ "id": 7 }));
    // Port in the authority, and the query goes to the Query extractor.
    let res = c.request(
        "GET http://example.com:8080/search?q=rust&page=2 HTTP/1.1\r\nHost: example.com\r\n\r\n",
    );
    assert_eq!(res.json(), json!({ "q": "rust", "page": 2 }));
    // The scheme is case-insensitive; the method still picks the handler.
    let res = c.request(
        "POST HTTPS://example.com/items HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!((res.status, res.text()), (200, "created"));
    // An unknown path in absolute form is a 404 naming the path, not the whole URI.
    let res = c.request("GET http://example.com/nope HTTP/1.1\r\nHost: example.com\r\n\r\n");
    let body = res.assert_error(404, "not_found");
    let message = body["error"].as_str().unwrap();
    assert!(
        message.contains("/nope") && !message.contains("example.com"),
        "{message}"
    );
    assert!(!res.closes());
}

#[test]
fn unknown_path_is_a_json_404() {
    let server = server(Environment::Production);
    let mut c = server.connect();
    let res = c.get("/nope");
    let json = res.assert_error(404, "not_found");
    assert!(json["error"].as_str().unwrap().contains("/nope"), "{json}");
    assert!(res.header("allow").is_none());
    // The connection carries on.
    assert_eq!(c.get("/hello").status, 200);
}

#[test]
fn known_path_with_other_method_is_a_json_405_with_allow() {
    let server = server(Environment::Production);
    let mut c = server.connect();
    let res = c.request("DELETE /items HTTP/1.1\r\nHost: test\r\n\r\n");
    res.assert_error(405, "method_not_allowed");
    let mut allow: Vec<&str> = res
        .header("allow")
        .expect("405 carries Allow")
        .split(',')
        .map(str::trim)
        .collect();
    allow.sort_unstable();
    assert_eq!(allow, ["GET", "HEAD", "POST"]);

    // A POST-only set of methods does not advertise HEAD.
    let res = c.request("GET /json HTTP/1.1\r\nHost: test\r\n\r\n");
    res.assert_error(405, "method_not_allowed");
    assert_eq!(res.header("allow"), Some("POST"));
    assert_eq!(c.get("/hello").status, 200);
}

#[test]
fn head_is_served_by_get_with_length_and_no_body() {
    let server = server(Environment::Production);
    let mut c = server.connect();
    // HEAD and GET pipelined: if any body bytes followed the HEAD response, the GET's
    // status line would not be where the reader expects it.
    c.send(
        "HEAD /hello HTTP/1.1\r\nHost: test\r\n\r\n\
         GET /users/7 HTTP/1.1\r\nHost: test\r\n\r\n",
    );
    let head = c.read_head_response();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("5"));
    let get = c.read_response();
    assert_eq!(get.status, 200);
    assert_eq!(get.json(), json!({ "id": 7 }));

    // A HEAD of an error keeps its framing headers and drops the body too.
    c.send(
        "HEAD /nope HTTP/1.1\r\nHost: test\r\n\r\n\
         GET /hello HTTP/1.1\r\nHost: test\r\n\r\n",
    );
    let head = c.read_head_response();
    assert_eq!(head.status, 404);
    let n: usize = head.header("content-length").unwrap().parse().unwrap();
    assert!(n > 0);
    assert_eq!(c.read_response().text(), "hello");
}

#[test]
fn path_extractor() {
    let server = server(Environment::Production);
    let mut c = server.connect();
    assert_eq!(c.get("/users/42").json(), json!({ "id": 42 }));
    let res = c.get("/users/abc");
    let json = res.assert_error(400, "invalid_path_parameter");
    assert!(json["error"].as_str().unwrap().contains("abc"), "{json}");
    assert_eq!(c.get("/users/0").json(), json!({ "id": 0 }));
}

#[test]
fn query_extractor() {
    let server = server(Environment::Production);
    let mut c = server.connect();
    assert_eq!(
        c.get("/search?q=rust%20lang&page=3").json(),
        json!({ "q": "rust lang", "page": 3 })
    );
    assert_eq!(
        c.get("/search?q=x").json(),
        json!({ "q": "x", "page": null })
    );
    c.get("/search?q=x&page=minus-one")
        .assert_error(400, "invalid_query");
    c.get("/search").assert_error(400, "invalid_query");
}

#[test]
fn json_extractor_parses_and_checks_content_type() {
    let server = server(Environment::Production);
    let mut c = server.connect();
    let res = c.request(post_json(
        "/json",
        Some("application/json"),
        r#"{"a":[1,2]}"#,
    ));
    assert_eq!(res.status, 200);
    assert_eq!(res.json(), json!({ "got": { "a": [1, 2] } }));
    let res = c.request(post_json(
        "/json",
        Some("application/merge-patch+json; charset=utf-8"),
        "true",
    ));
    assert_eq!(res.json(), json!({ "got": true }));

    c.request(post_json("/json", Some("text/plain"), "{}"))
        .assert_error(415, "unsupported_media_type");
    c.request(post_json("/json", None, "{}"))
        .assert_error(415, "unsupported_media_type");
    // Still usable after the 415s.
    assert_eq!(c.get("/hello").status, 200);
}

#[test]
fn invalid_json_is_a_400_with_its_position() {
    let server = server(Environment::Production);
    let mut c = server.connect();
    let body = "{\n  \"a\": 1,\n  \"b\": ]\n}";
    let res = c.request(post_json("/json", Some("application/json"), body));
    let json = res.assert_error(400, "invalid_json");
    let msg = json["error"].as_str().unwrap();
    assert!(msg.contains("line 3 column 8"), "{msg}");
}

#[test]
fn validation_failure_is_a_422_with_field_details() {
    let server = server(Environment::Production);
    let mut c = server.connect();
    let ok = r#"{"name":"ada","email":"ada@example.com","age":36}"#;
    let res = c.request(post_json("/users", Some("application/json"), ok));
    assert_eq!(res.status, 201);
    assert_eq!(res.json()["name"], "ada");

    let bad = r#"{"name":"much-too-long","email":"not-an-email","age":36}"#;
    let res = c.request(post_json("/users", Some("application/json"), bad));
    let json = res.assert_error(422, "validation_failed");
    let details = json["details"].as_object().expect("details object");
    let mut fields: Vec<&str> = details.keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["email", "name"], "{json}");
    for (field, messages) in details {
        let messages = messages.as_array().expect("a list of messages");
        assert!(!messages.is_empty(), "{field}");
        assert!(messages.iter().all(Value::is_string), "{field}");
    }

    // Valid<Json> still answers 415 and 400 before validating.
    c.request(post_json("/users", Some("text/plain"), ok))
        .assert_error(415, "unsupported_media_type");
    c.request(post_json("/users", Some("application/json"), "{\"name\":"))
        .assert_error(400, "invalid_json");
    // A missing field is a deserialization error, not a validation one.
    c.request(post_json(
        "/users",
        Some("application/json"),
        r#"{"name":"a"}"#,
    ))
    .assert_error(400, "invalid_json");
}

#[test]
fn request_id_is_echoed_or_generated() {
    let server = server(Environment::Production);
    let mut c = server.connect();
    let res = c.request("GET /nope HTTP/1.1\r\nHost: test\r\nX-Request-ID: abc-123_x.y:z\r\n\r\n");
    let json = res.assert_error(404, "not_found");
    assert_eq!(json["requestId"], "abc-123_x.y:z");
    assert_eq!(res.header_count("x-request-id"), 1);

    // No id, or one we refuse (bad characters, too long): a fresh 32-hex id each time.
    let mut seen = Vec::new();
    for extra in [
        String::new(),
        "X-Request-ID: has space\r\n".to_owned(),
        format!("X-Request-ID: {}\r\n", "a".repeat(129)),
    ] {
        let res = c.request(format!("GET /nope HTTP/1.1\r\nHost: test\r\n{extra}\r\n"));
        let json = res.assert_error(404, "not_found");
        let id = json["requestId"].as_str().unwrap().to_owned();
        assert_eq!(id.len(), 32, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        assert!(!seen.contains(&id), "ids repeat: {id}");
        seen.push(id);
    }
}

#[test]
fn production_hides_5xx_messages() {
    let server = server(Environment::Production);
    let mut c = server.connect();
    let res = c.get("/boom");
    let json = res.assert_error(500, "internal");
    assert_eq!(json["error"], "Internal Server Error");
    assert!(!res.text().contains("password"), "{}", res.text());
    // 4xx messages are meant for clients and stay.
    let json = c.get("/gone").assert_error(410, "gone");
    assert_eq!(json["error"], "widget 9 was deleted");
    // The connection survives a 500.
    assert_eq!(c.get("/hello").status, 200);
}

#[test]
fn development_shows_5xx_messages() {
    let server = server(Environment::Development);
    let mut c = server.connect();
    let json = c.get("/boom").assert_error(500, "internal");
    assert_eq!(json["error"], "database password rejected for user admin");
    let json = c.get("/gone").assert_error(410, "gone");
    assert_eq!(json["error"], "widget 9 was deleted");
}

#[test]
fn the_server_header_is_a_setting_off_by_default() {
    let app = || {
        Router::new()
            .get("/", || async { "hi" })
            .get("/own", || async {
                let mut res = keel_http::Response::new(StatusCode::OK);
                res.set_header("server", "the handler's");
                res
            })
    };
    let quiet = TestServer::start(ServerConfig::default(), app);
    let res = quiet.connect().get("/");
    assert_eq!((res.status, res.header("server")), (200, None));

    let named = TestServer::start(ServerConfig::default().server_header(Some("keel")), app);
    let mut c = named.connect();
    assert_eq!(c.get("/").header("server"), Some("keel"));
    // Errors rendered by Keel carry it too; a handler's own wins.
    let missing = c.get("/missing");
    assert_eq!(
        (missing.status, missing.header("server")),
        (404, Some("keel"))
    );
    assert_eq!(c.get("/own").header("server"), Some("the handler's"));
}
