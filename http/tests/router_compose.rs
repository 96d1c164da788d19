//! Router composition through the in-memory [`TestClient`] (the server's own HTTP/1.1
//! code, no socket): `nest` (static and parameterized prefixes, the nested `/`), `merge`,
//! `fallback` (top level and nested; a 405 stays a 405), `route_layer` and `layer_at`
//! (only the routes they were given, never the 404), a nested router's `layer` wrapping
//! only its own routes, the order layers run in, states and body limits carried over.

use std::cell::RefCell;
use std::rc::Rc;

use keel_http::{
    AppError, Next, Params, Path, Request, Response, Router, State, StatusCode, TestClient,
};
use serde_json::Value;

/// A middleware that appends `name` to the response's `x-trace` header.
fn tag(name: &'static str) -> impl Fn(Request, Next) -> keel_http::BoxFuture<Response> {
    move |req, next| {
        Box::pin(async move {
            let mut res = next.run(req).await;
            let trace = match res.header("x-trace") {
                Some(t) => format!("{name},{t}"),
                None => name.to_owned(),
            };
            res.set_header("x-trace", trace);
            res
        })
    }
}

async fn require_token(req: Request, next: Next) -> Response {
    match req.header("authorization") {
        Some("Bearer ok") => next.run(req).await,
        _ => Response::from_error(AppError::unauthorized("a token is required")),
    }
}

#[test]
fn nested_routes_answer_under_their_prefix_with_all_parameters() {
    let members = Router::new()
        .get("/", || async { "all" })
        .get("/:id", |Path((org, id)): Path<(String, u64)>| async move {
            format!("{org}/{id}")
        })
        .get("/:id/params", |p: Params| async move { format!("{p:?}") });
    let app = Router::new()
        .get("/", || async { "root" })
        .nest("/orgs/:org/members", members);
    let client = TestClient::new(app);
    assert_eq!(client.get("/").send_blocking().text(), "root");
    assert_eq!(
        client.get("/orgs/acme/members").send_blocking().text(),
        "all"
    );
    assert_eq!(
        client.get("/orgs/acme/members/7").send_blocking().text(),
        "acme/7"
    );
    assert_eq!(
        client
            .get("/orgs/a%20b/members/7/params")
            .send_blocking()
            .text(),
        r#"{"org": "a b", "id": "7"}"#
    );
    // HEAD is served by the nested GET route, without a body.
    let head = client.head("/orgs/acme/members/7").send_blocking();
    assert_eq!(head.status(), StatusCode::OK);
    assert!(head.body().is_empty());
    // The nested "/" is the prefix itself, not the prefix with a slash.
    assert_eq!(
        client.get("/orgs/acme/members/").send_blocking().status(),
        StatusCode::NOT_FOUND
    );
    // A bad parameter is a 400 naming it.
    let bad = client.get("/orgs/acme/members/x").send_blocking();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(
        bad.json::<Value>()["error"]
            .as_str()
            .unwrap()
            .contains("id"),
        "{}",
        bad.text()
    );
}

#[test]
fn merged_routers_share_patterns_by_method_and_keep_their_states() {
    #[derive(Clone)]
    struct Greeting(&'static str);
    let reads = Router::new()
        .get("/items", |State(g): State<Greeting>| async move { g.0 })
        .with_state(Greeting("from reads"));
    let writes = Router::new().post("/items", || async { (StatusCode::CREATED, "made") });
    let app = Router::new().merge(reads).merge(writes);
    let client = TestClient::new(app);
    assert_eq!(client.get("/items").send_blocking().text(), "from reads");
    let made = client.post("/items").send_blocking();
    assert_eq!(made.status(), StatusCode::CREATED);
    let wrong = client.delete("/items").send_blocking();
    assert_eq!(wrong.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong.header("allow"), Some("GET, POST, HEAD"));
}

#[test]
#[should_panic(expected = "duplicate route: GET /a")]
fn merging_the_same_method_twice_panics() {
    let _ = Router::new()
        .get("/a", || async { "1" })
        .merge(Router::new().get("/a", || async { "2" }));
}

#[test]
#[should_panic(expected = "must start with '/'")]
fn a_nest_prefix_must_be_a_path() {
    let _ = Router::new().nest("api", Router::new());
}

#[test]
fn the_fallback_answers_unmatched_paths_but_not_wrong_methods() {
    let app = Router::new()
        .get("/known", || async { "known" })
        .fallback(|req: Request| async move {
            (
                StatusCode::NOT_FOUND,
                format!("fallback for {}", req.path()),
            )
        })
        .layer(tag("outer"));
    let client = TestClient::new(app);
    let res = client.get("/nowhere?x=1").send_blocking();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(res.text(), "fallback for /nowhere");
    // The router's layers wrap the fallback.
    assert_eq!(res.header("x-trace"), Some("outer"));
    // A known path with another method is still the JSON 405.
    let res = client.post("/known").send_blocking();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.json::<Value>()["code"], "method_not_allowed");
}

#[test]
fn a_nested_fallback_answers_under_its_prefix_only() {
    let api = Router::new()
        .get("/users", || async { "users" })
        .fallback(|| async { (StatusCode::NOT_FOUND, "api fallback") })
        .layer(tag("api"));
    let app = Router::new()
        .nest("/api", api)
        .fallback(|| async { (StatusCode::NOT_FOUND, "site fallback") });
    let client = TestClient::new(app);
    assert_eq!(client.get("/api/users").send_blocking().text(), "users");
    let res = client.post("/api/no/such/thing").send_blocking();
    assert_eq!(res.text(), "api fallback");
    assert_eq!(res.header("x-trace"), Some("api"));
    assert_eq!(
        client.get("/elsewhere").send_blocking().text(),
        "site fallback"
    );
    // A nested route with another method is a 405, not the fallback.
    assert_eq!(
        client.post("/api/users").send_blocking().status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[test]
fn route_layers_wrap_only_the_routes_added_before_them() {
    let app = Router::new()
        .get("/admin/stats", || async { "stats" })
        .delete("/admin/cache", || async { "flushed" })
        .route_layer(require_token)
        .get("/public", || async { "public" });
    let client = TestClient::new(app);
    assert_eq!(
        client.get("/admin/stats").send_blocking().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        client.delete("/admin/cache").send_blocking().status(),
        StatusCode::UNAUTHORIZED
    );
    let ok = client
        .get("/admin/stats")
        .header("authorization", "Bearer ok")
        .send_blocking();
    assert_eq!(ok.text(), "stats");
    assert_eq!(client.get("/public").send_blocking().text(), "public");
    // The 404 and the 405 are not the route layer's: no token asked.
    assert_eq!(
        client.get("/admin/nope").send_blocking().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        client.post("/admin/stats").send_blocking().status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[test]
fn layer_at_wraps_one_route_and_layers_run_outermost_first() {
    let order = Rc::new(RefCell::new(Vec::<&'static str>::new()));
    let record = |name: &'static str| {
        let order = order.clone();
        move |req: Request, next: Next| {
            order.borrow_mut().push(name);
            next.run(req)
        }
    };
    let group = Router::new()
        .get("/a", || async { "a" })
        .get("/b", || async { "b" })
        .layer_at("/a", record("at-a"))
        .route_layer(record("group-route-layer"))
        .layer(record("group-layer"));
    let app = Router::new()
        .nest("/g", group)
        .get("/top", || async { "top" })
        .layer(record("app-layer"));
    let client = TestClient::new(app);
    assert_eq!(client.get("/g/a").send_blocking().text(), "a");
    assert_eq!(
        order.take(),
        ["app-layer", "group-layer", "at-a", "group-route-layer"]
    );
    assert_eq!(client.get("/g/b").send_blocking().text(), "b");
    assert_eq!(
        order.take(),
        ["app-layer", "group-layer", "group-route-layer"]
    );
    // The group's layers stay with the group's routes.
    assert_eq!(client.get("/top").send_blocking().text(), "top");
    assert_eq!(order.take(), ["app-layer"]);
    // And off the 404, which only the application's layer sees.
    client.get("/g/zzz").send_blocking();
    assert_eq!(order.take(), ["app-layer"]);
}

#[test]
fn nested_body_limits_and_missing_states_carry_over() {
    let uploads = Router::new()
        .post(
            "/big",
            |body: Vec<u8>| async move { body.len().to_string() },
        )
        .body_limit("/big", 8);
    let client = TestClient::new(Router::new().nest("/up", uploads));
    assert_eq!(
        client
            .post("/up/big")
            .body("12345678")
            .send_blocking()
            .text(),
        "8"
    );
    let too_big = client.post("/up/big").body("123456789").send_blocking();
    assert_eq!(too_big.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // A nested handler's state is checked like a top-level one, naming its full path.
    let needs = Router::new().get("/x", |State(n): State<u32>| async move { n.to_string() });
    let app = Router::new().nest("/n", needs);
    let message = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| TestClient::new(app)))
        .err()
        .and_then(|e| e.downcast::<String>().ok())
        .expect("a missing state stops the client");
    assert!(
        message.contains("GET /n/x") && message.contains("State<u32>"),
        "{message}"
    );
    // Given to the outer router, it reaches the nested handler.
    let needs = Router::new().get("/x", |State(n): State<u32>| async move { n.to_string() });
    let client = TestClient::new(Router::new().nest("/n", needs).with_state(7u32));
    assert_eq!(client.get("/n/x").send_blocking().text(), "7");
}
