//! The route table: which controller answers which method and path (a router per group,
//! nested under its prefix), the state the controllers share, the CORS policy and the
//! auth group's rate limit. Built once per
//! loop by the server's factory. (The security headers need no code: the server sends
//! them on every response.)

use std::time::Duration;

use keel::http::Router;
use keel::http::middleware::{Cors, MemoryStore, RateLimit};

use super::controllers;
use super::services::UserService;

/// The seed's limit on auth routes: this many requests per client IP …
pub(crate) const AUTH_LIMIT: u32 = 10;
/// … per this window.
pub(crate) const AUTH_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Every route of the API, over one loop's service: the auth group (`/auth/*`, with its
/// own rate limit) and the users group (`/users/*`), each a router nested under its
/// prefix. `auth_store` is shared by every loop (clones share their counts), so the limit
/// holds per process; several instances would share a `RedisStore` instead
/// (`examples/redis_cache`). `cors` lets the front ends of `CORS_ORIGINS` (and no other
/// origin) call the API from a browser.
pub(crate) fn router(users: UserService, auth_store: MemoryStore, cors: Cors) -> Router {
    // Counted per client IP (the limiter's default key), on the auth group's routes only:
    // a route layer wraps the routes it was given and nothing else.
    let auth_limit = RateLimit::builder(auth_store, AUTH_LIMIT, AUTH_WINDOW)
        .name("auth")
        .build()
        .expect("a valid rate limit");
    let auth = Router::new()
        .post("/login", controllers::login)
        .route_layer(auth_limit);
    let users_routes = Router::new()
        .post("/", controllers::create)
        .get("/", controllers::list)
        .get("/:id", controllers::get)
        .patch("/:id", controllers::update)
        .put("/:id", controllers::update)
        .delete("/:id", controllers::delete);
    Router::new()
        .nest("/auth", auth)
        .nest("/users", users_routes)
        .with_state(users)
        .layer(cors)
}
