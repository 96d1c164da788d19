//! The business rules, between the controllers (HTTP) and the repository (SQL): emails
//! are compared lower-cased, names trimmed, a missing user is a 404 and a taken email a
//! 409. Nothing here knows about requests or SQL text.

use keel::http::AppError;
use serde_json::json;

use super::errors::DbError;
use super::repositories::{User, UserRepository};

/// The most users one list call returns.
pub(crate) const MAX_PAGE: i64 = 100;

/// The users use cases of one loop.
#[derive(Clone)]
pub(crate) struct UserService {
    repo: UserRepository,
}

impl UserService {
    /// A service storing users in `repo`.
    pub(crate) fn new(repo: UserRepository) -> UserService {
        UserService { repo }
    }

    /// Registers a user; 409 when the email is taken.
    pub(crate) async fn create(&self, name: &str, email: &str) -> Result<User, AppError> {
        self.repo
            .insert(name.trim(), &email.trim().to_lowercase())
            .await
            .map_err(email_taken)
    }

    /// The user with `id`; 404 when there is none.
    pub(crate) async fn get(&self, id: i64) -> Result<User, AppError> {
        self.repo.find(id).await?.ok_or_else(|| missing(id))
    }

    /// The user signing in with `email`; 401 when no user has it (the same answer as a
    /// wrong password would get, so the route does not tell which emails exist).
    pub(crate) async fn login(&self, email: &str) -> Result<User, AppError> {
        self.repo
            .find_by_email(&email.trim().to_lowercase())
            .await?
            .ok_or_else(|| AppError::unauthorized("invalid credentials"))
    }

    /// A page of users after id `after`; 422 for a page size outside 1..=100.
    pub(crate) async fn list(&self, after: i64, limit: i64) -> Result<Vec<User>, AppError> {
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(AppError::validation(
                "request validation failed",
                json!({ "limit": [format!("must be between 1 and {MAX_PAGE}")] }),
            ));
        }
        Ok(self.repo.list(after, limit).await?)
    }

    /// Changes the fields given; 404 when there is no such user, 409 when the new email
    /// is taken.
    pub(crate) async fn update(
        &self,
        id: i64,
        name: Option<&str>,
        email: Option<&str>,
    ) -> Result<User, AppError> {
        let email = email.map(|e| e.trim().to_lowercase());
        self.repo
            .update(id, name.map(str::trim), email.as_deref())
            .await
            .map_err(email_taken)?
            .ok_or_else(|| missing(id))
    }

    /// Deletes the user; 404 when there is none.
    pub(crate) async fn delete(&self, id: i64) -> Result<(), AppError> {
        if self.repo.delete(id).await? {
            Ok(())
        } else {
            Err(missing(id))
        }
    }
}

fn missing(id: i64) -> AppError {
    AppError::not_found(format!("user {id} does not exist"))
}

fn email_taken(e: DbError) -> AppError {
    match e {
        DbError::UniqueViolation(_) => AppError::conflict("a user with this email already exists"),
        other => other.into(),
    }
}
