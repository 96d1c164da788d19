//! The serde extractors through the in-memory [`TestClient`] (the server's own HTTP/1.1
//! code): `Path` of one value, a tuple and a struct (400 naming a bad parameter, 500 for
//! a type that does not fit the route), `Form` (415 for another content type, 400 for a
//! body that does not fit), `Valid<Query<T>>` and `Valid<Form<T>>` (422 naming every
//! failing field), and a head extractor before a body extractor.

use keel_http::garde::Validate;
use keel_http::{Form, Headers, Path, Query, Router, StatusCode, TestClient, Valid};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
struct PostIds {
    user: u64,
    post: String,
}

#[derive(Deserialize, Validate)]
struct Page {
    #[garde(range(min = 1, max = 100))]
    limit: u32,
    #[garde(length(min = 1, max = 20))]
    sort: String,
}

#[derive(Deserialize, Validate)]
struct SignUp {
    #[garde(email)]
    email: String,
    #[garde(length(min = 12))]
    password: String,
    #[garde(skip)]
    newsletter: Option<bool>,
}

fn app() -> Router {
    Router::new()
        .get("/n/:n", |Path(n): Path<i32>| async move { n.to_string() })
        .get(
            "/u/:user/p/:post",
            |Path((u, p)): Path<(u64, String)>| async move { format!("tuple {u} {p}") },
        )
        .get("/s/:user/p/:post", |Path(ids): Path<PostIds>| async move {
            format!("struct {} {}", ids.user, ids.post)
        })
        .get(
            "/wrong/:a/:b",
            |Path(n): Path<u64>| async move { n.to_string() },
        )
        .get("/page", |Valid(Query(p)): Valid<Query<Page>>| async move {
            format!("{} by {}", p.limit, p.sort)
        })
        .post("/form", |Form(v): Form<Value>| async move { v.to_string() })
        .post(
            "/sign-up",
            |headers: Headers, Valid(Form(s)): Valid<Form<SignUp>>| async move {
                format!(
                    "{} {:?} {}",
                    s.email,
                    s.newsletter,
                    headers.get("x-via").unwrap_or("-")
                )
            },
        )
}

#[test]
fn path_of_one_value_a_tuple_or_a_struct() {
    let client = TestClient::new(app());
    assert_eq!(client.get("/n/-7").send_blocking().text(), "-7");
    assert_eq!(
        client.get("/u/3/p/hello%20world").send_blocking().text(),
        "tuple 3 hello world"
    );
    assert_eq!(client.get("/s/3/p/x").send_blocking().text(), "struct 3 x");

    let bad = client.get("/u/three/p/x").send_blocking();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let json: Value = bad.json();
    assert_eq!(json["code"], "invalid_path_parameter");
    assert!(json["error"].as_str().unwrap().contains("user"), "{json}");

    // A single value on a route with two parameters is the program's bug: a 500, whose
    // message production hides.
    let wrong = client.get("/wrong/1/2").send_blocking();
    assert_eq!(wrong.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(wrong.json::<Value>()["code"], "internal");
}

#[test]
fn valid_query_checks_the_rules_after_parsing() {
    let client = TestClient::new(app());
    let ok = client
        .get("/page")
        .query(&json!({"limit": 10, "sort": "name"}))
        .send_blocking();
    assert_eq!(ok.text(), "10 by name");
    let res = client.get("/page?limit=500&sort=").send_blocking();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let json: Value = res.json();
    assert_eq!(json["code"], "validation_failed");
    assert!(json["details"]["limit"].is_array(), "{json}");
    assert!(json["details"]["sort"].is_array(), "{json}");
    // Not parseable at all: the query's own 400.
    let res = client.get("/page?limit=many&sort=x").send_blocking();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.json::<Value>()["code"], "invalid_query");
}

#[test]
fn form_bodies_and_their_rules() {
    let client = TestClient::new(app());
    let res = client
        .post("/form")
        .form(&[("a", "1"), ("b", "x y&z")])
        .send_blocking();
    assert_eq!(res.json::<Value>(), json!({"a": "1", "b": "x y&z"}));
    let res = client.post("/form").json(&json!({"a": 1})).send_blocking();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let res = client
        .post("/sign-up")
        .header("x-via", "test")
        .form(&[
            ("email", "ada@example.com"),
            ("password", "correct horse battery"),
            ("newsletter", "true"),
        ])
        .send_blocking();
    assert_eq!(res.text(), "ada@example.com Some(true) test");
    let res = client
        .post("/sign-up")
        .form(&[("email", "not-an-email"), ("password", "short")])
        .send_blocking();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let details = &res.json::<Value>()["details"];
    assert!(
        details["email"].is_array() && details["password"].is_array(),
        "{details}"
    );
    // A field that does not fit its type: the form's 400.
    let res = client
        .post("/sign-up")
        .form(&[
            ("email", "a@b.c"),
            ("password", "long enough pass"),
            ("newsletter", "maybe"),
        ])
        .send_blocking();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.json::<Value>()["code"], "invalid_form");
}
