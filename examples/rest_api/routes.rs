//! The route table: which controller answers which method and path, the state the
//! controllers share, the CORS policy and the auth routes' rate limit. Built once per
//! loop by the server's factory. (The security headers need no code: the server sends
//! them on every response.)

use std::time::Duration;

use keel::http::Router;
use keel::http::middleware::{Cors, MemoryStore, RateLimit, client_ip};

use crate::controllers;
use crate::services::UserService;

/// The seed's limit on auth routes: this many requests per client IP …
pub(crate) const AUTH_LIMIT: u32 = 10;
/// … per this window.
pub(crate) const AUTH_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Every route of the API, over one loop's service. `auth_store` is shared by every
/// loop (clones share their counts), so the limit holds per process; several instances
/// would share a `RedisStore` instead (`examples/redis_cache`). `cors` lets the
/// front ends of `CORS_ORIGINS` (and no other origin) call the API from a browser.
pub(crate) fn router(users: UserService, auth_store: MemoryStore, cors: Cors) -> Router {
    let auth_limit = RateLimit::builder(auth_store, AUTH_LIMIT, AUTH_WINDOW)
        .name("auth")
        .key(|req| {
            let on_auth = req.route().is_some_and(|r| r.starts_with("/auth/"));
            on_auth.then(|| client_ip(req))
        })
        .build()
        .expect("a valid rate limit");
    Router::new()
        .post("/auth/login", controllers::login)
        .post("/users", controllers::create)
        .get("/users", controllers::list)
        .get("/users/:id", controllers::get)
        .patch("/users/:id", controllers::update)
        .put("/users/:id", controllers::update)
        .delete("/users/:id", controllers::delete)
        .with_state(users)
        .layer(auth_limit)
        .layer(cors)
}
