//! Routing: a REST API's table of 44 routes on 39 patterns (static segments, `:params`, two `*tails`)
//! and 13 requests across it — static, one to three parameters, a wildcard, a static
//! route beside a parameter, a 404 and a 405.
//!
//! * `keel`: `Router::resolve`, what the server does per request (path tree, then the
//!   method, `HEAD` falling back to `GET`, the 404/405 errors).
//! * `tree`: the bare path tree (`PathTree::at`) on the same paths, the floor under it.
//!
//! Every lookup is checked: the route's pattern and its parameter values, or the status.

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use keel_http::_benchable::resolve;
use keel_http::fuzzing::PathTree;
use keel_http::{Method, Router};

const GROUP: &str = "router_resolve";

/// The route table, as `(method, pattern)`.
const ROUTES: &[(Method, &str)] = &[
    (Method::Get, "/"),
    (Method::Get, "/health"),
    (Method::Get, "/metrics"),
    (Method::Get, "/plaintext"),
    (Method::Get, "/json"),
    (Method::Get, "/users"),
    (Method::Post, "/users"),
    (Method::Get, "/users/me"),
    (Method::Get, "/users/:id"),
    (Method::Put, "/users/:id"),
    (Method::Delete, "/users/:id"),
    (Method::Get, "/users/:id/repos"),
    (Method::Get, "/users/:id/followers"),
    (Method::Get, "/users/:id/following"),
    (Method::Get, "/repos/:owner/:repo"),
    (Method::Patch, "/repos/:owner/:repo"),
    (Method::Get, "/repos/:owner/:repo/issues"),
    (Method::Post, "/repos/:owner/:repo/issues"),
    (Method::Get, "/repos/:owner/:repo/issues/:number"),
    (Method::Get, "/repos/:owner/:repo/issues/:number/comments"),
    (Method::Get, "/repos/:owner/:repo/pulls"),
    (Method::Get, "/repos/:owner/:repo/pulls/:number"),
    (Method::Get, "/repos/:owner/:repo/pulls/:number/files"),
    (Method::Get, "/repos/:owner/:repo/commits"),
    (Method::Get, "/repos/:owner/:repo/commits/:sha"),
    (Method::Get, "/repos/:owner/:repo/branches"),
    (Method::Get, "/repos/:owner/:repo/branches/:branch"),
    (Method::Get, "/repos/:owner/:repo/contents/*path"),
    (Method::Get, "/orgs/:org"),
    (Method::Get, "/orgs/:org/members"),
    (Method::Get, "/orgs/:org/repos"),
    (Method::Get, "/orgs/:org/teams/:team"),
    (Method::Get, "/search/repositories"),
    (Method::Get, "/search/issues"),
    (Method::Get, "/search/users"),
    (Method::Get, "/notifications"),
    (Method::Get, "/gists"),
    (Method::Get, "/gists/:id"),
    (Method::Get, "/gists/:id/comments"),
    (Method::Post, "/auth/login"),
    (Method::Post, "/auth/logout"),
    (Method::Get, "/static/*file"),
    (Method::Get, "/api/v1/status"),
    (Method::Get, "/api/v1/events/:id"),
];

/// What a request must resolve to.
enum Want {
    /// The route with this pattern, with these parameters in order.
    Route(&'static str, &'static [(&'static str, &'static str)]),
    /// No route for the path (`tree` finds nothing either).
    NotFound,
    /// The path's route does not take the method (`tree` finds the pattern).
    MethodNotAllowed(&'static str),
}

/// The requests of one iteration.
const LOOKUPS: &[(Method, &str, Want)] = &[
    (Method::Get, "/health", Want::Route("/health", &[])),
    (Method::Get, "/users/me", Want::Route("/users/me", &[])),
    (
        Method::Get,
        "/users/12345",
        Want::Route("/users/:id", &[("id", "12345")]),
    ),
    (
        Method::Delete,
        "/users/7",
        Want::Route("/users/:id", &[("id", "7")]),
    ),
    (
        Method::Get,
        "/users/12345/repos",
        Want::Route("/users/:id/repos", &[("id", "12345")]),
    ),
    (
        Method::Head,
        "/repos/rust-lang/rust/pulls",
        Want::Route(
            "/repos/:owner/:repo/pulls",
            &[("owner", "rust-lang"), ("repo", "rust")],
        ),
    ),
    (
        Method::Get,
        "/repos/rust-lang/rust/issues/4242/comments",
        Want::Route(
            "/repos/:owner/:repo/issues/:number/comments",
            &[("owner", "rust-lang"), ("repo", "rust"), ("number", "4242")],
        ),
    ),
    (
        Method::Get,
        "/repos/rust-lang/rust/contents/library/core/src/lib.rs",
        Want::Route(
            "/repos/:owner/:repo/contents/*path",
            &[
                ("owner", "rust-lang"),
                ("repo", "rust"),
                ("path", "library/core/src/lib.rs"),
            ],
        ),
    ),
    (
        Method::Get,
        "/static/css/site.min.css",
        Want::Route("/static/*file", &[("file", "css/site.min.css")]),
    ),
    (
        Method::Get,
        "/orgs/keel/teams/core",
        Want::Route(
            "/orgs/:org/teams/:team",
            &[("org", "keel"), ("team", "core")],
        ),
    ),
    (
        Method::Get,
        "/search/issues",
        Want::Route("/search/issues", &[]),
    ),
    (Method::Get, "/nope/not/here", Want::NotFound),
    (Method::Post, "/health", Want::MethodNotAllowed("/health")),
];

fn router() -> Router {
    ROUTES
        .iter()
        .fold(Router::new(), |router, (method, pattern)| {
            router.route(method.clone(), pattern, || async { "" })
        })
}

/// The same patterns (each once) in a bare tree, valued by pattern.
fn tree() -> PathTree<&'static str> {
    let mut tree = PathTree::new();
    for (_, pattern) in ROUTES {
        if !tree.patterns().any(|p| p == *pattern) {
            tree.insert(pattern, *pattern).expect("a valid pattern");
        }
    }
    tree
}

fn check_params(got: &keel_http::Params, want: &[(&str, &str)]) {
    assert!(got.iter().eq(want.iter().copied()), "{got:?} != {want:?}");
}

fn keel(router: &Router, iters: u64) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        for (method, path, want) in LOOKUPS {
            let got = resolve(router, method, black_box(path));
            match (&got, want) {
                (Ok((pattern, params)), Want::Route(want, want_params)) => {
                    assert_eq!(&**pattern, *want);
                    check_params(params, want_params);
                }
                (Err(404), Want::NotFound) | (Err(405), Want::MethodNotAllowed(_)) => {}
                _ => panic!("{method} {path} resolved to {got:?}"),
            }
            let _ = black_box(got);
        }
    }
    start.elapsed()
}

fn bare_tree(tree: &PathTree<&'static str>, iters: u64) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        for (_, path, want) in LOOKUPS {
            let got = tree.at(black_box(path));
            match (&got, want) {
                (Some((pattern, params)), Want::Route(want, want_params)) => {
                    assert_eq!(*pattern, want);
                    check_params(params, want_params);
                }
                (Some((pattern, _)), Want::MethodNotAllowed(want)) => assert_eq!(*pattern, want),
                (None, Want::NotFound) => {}
                _ => panic!("{path} matched {:?}", got.as_ref().map(|(p, _)| p)),
            }
            let _ = black_box(got);
        }
    }
    start.elapsed()
}

fn bench_router(c: &mut Criterion) {
    let router = router();
    assert_eq!(router.route_patterns().count(), 39);
    let tree = tree();
    let mut group = c.benchmark_group(GROUP);
    common::configure(&mut group);
    group.throughput(Throughput::Elements(LOOKUPS.len() as u64));
    group.bench_function("keel", |b| {
        b.iter_custom(|iters| common::record(GROUP, "keel", iters, keel(&router, iters)))
    });
    group.bench_function("tree", |b| {
        b.iter_custom(|iters| common::record(GROUP, "tree", iters, bare_tree(&tree, iters)))
    });
    group.finish();
}

criterion_group!(benches, bench_router);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    common::print_ratio(GROUP, "tree");
}
