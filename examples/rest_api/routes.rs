//! The route table: which controller answers which method and path, and the state the
//! controllers share. Built once per loop by the server's factory.

use keel::http::Router;

use crate::controllers;
use crate::services::UserService;

/// Every route of the API, over one loop's service.
pub(crate) fn router(users: UserService) -> Router {
    Router::new()
        .post("/users", controllers::create)
        .get("/users", controllers::list)
        .get("/users/:id", controllers::get)
        .patch("/users/:id", controllers::update)
        .put("/users/:id", controllers::update)
        .delete("/users/:id", controllers::delete)
        .with_state(users)
}
