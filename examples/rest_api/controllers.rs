//! The HTTP edge: handlers that take typed, validated input (garde rules through
//! [`Valid`]), call the service and shape the response (201 on create, 204 on delete).
//! Every failure is an [`AppError`], rendered centrally as `{error, code, requestId}`.

use keel::http::garde::Validate;
use keel::http::{AppError, Json, Path, Query, State, StatusCode, Valid};
use serde::Deserialize;

use super::repositories::User;
use super::services::UserService;

/// The body of `POST /users`.
#[derive(Debug, Deserialize, Validate)]
pub(crate) struct NewUser {
    #[garde(length(chars, min = 1, max = 100))]
    name: String,
    #[garde(email, length(max = 254))]
    email: String,
}

/// The body of `PATCH /users/:id`: the fields to change.
#[derive(Debug, Deserialize, Validate)]
pub(crate) struct UserPatch {
    #[garde(length(chars, min = 1, max = 100))]
    name: Option<String>,
    #[garde(email, length(max = 254))]
    email: Option<String>,
}

/// The body of `POST /auth/login`.
#[derive(Debug, Deserialize, Validate)]
pub(crate) struct Login {
    #[garde(email, length(max = 254))]
    email: String,
}

/// The query of `GET /users`: keyset pagination.
#[derive(Debug, Deserialize)]
pub(crate) struct Page {
    #[serde(default)]
    after: i64,
    #[serde(default = "default_limit")]
    limit: i64,
}

fn default_limit() -> i64 {
    20
}

/// `POST /users` → 201 and the user.
pub(crate) async fn create(
    State(users): State<UserService>,
    Valid(Json(new)): Valid<Json<NewUser>>,
) -> Result<(StatusCode, Json<User>), AppError> {
    let user = users.create(&new.name, &new.email).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// `GET /users/:id` → the user, or 404.
pub(crate) async fn get(
    State(users): State<UserService>,
    Path(id): Path<i64>,
) -> Result<Json<User>, AppError> {
    Ok(Json(users.get(id).await?))
}

/// `GET /users?after=&limit=` → a page of users.
pub(crate) async fn list(
    State(users): State<UserService>,
    Query(page): Query<Page>,
) -> Result<Json<Vec<User>>, AppError> {
    Ok(Json(users.list(page.after, page.limit).await?))
}

/// `PATCH /users/:id` → the updated user, or 404/409.
pub(crate) async fn update(
    State(users): State<UserService>,
    Path(id): Path<i64>,
    Valid(Json(patch)): Valid<Json<UserPatch>>,
) -> Result<Json<User>, AppError> {
    let user = users
        .update(id, patch.name.as_deref(), patch.email.as_deref())
        .await?;
    Ok(Json(user))
}

/// `DELETE /users/:id` → 204, or 404.
pub(crate) async fn delete(
    State(users): State<UserService>,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    users.delete(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /auth/login` → the user with that email, or 401. A stand-in for a real sign-in
/// (this example stores no passwords: a real one verifies a password hash on the worker
/// pool, as `examples/cpu_offload` shows, and issues a session); what it shows is the
/// route's own rate limit (`routes.rs`).
pub(crate) async fn login(
    State(users): State<UserService>,
    Valid(Json(login)): Valid<Json<Login>>,
) -> Result<Json<User>, AppError> {
    Ok(Json(users.login(&login.email).await?))
}
