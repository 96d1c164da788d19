//! [`Form`]: an `application/x-www-form-urlencoded` body (an HTML form's POST)
//! deserialized with serde, after checking the content type; as a response, the value
//! form-encoded.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::FromRequest;
use crate::error::AppError;
use crate::request::Request;
use crate::response::{IntoResponse, Response};
use crate::status::StatusCode;

/// A form body: as an extractor (the last argument: it takes the body) the request body
/// deserialized into `T`; as a response, `T` form-encoded.
///
/// A body with another content type is a 415; one that does not deserialize into `T`, a
/// 400 (`invalid_form`). For a query string, take [`Query`](crate::Query); to check the
/// value's rules, [`Valid<Form<T>>`](crate::Valid).
///
/// # Examples
///
/// ```
/// use keel_http::{Form, Router};
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct SignUp { email: String, newsletter: Option<bool> }
///
/// async fn sign_up(Form(form): Form<SignUp>) -> String {
///     format!("{} (newsletter: {})", form.email, form.newsletter.unwrap_or(false))
/// }
/// # let _ = Router::new().post("/sign-up", sign_up);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Form<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Form<T> {
    fn from_request(req: &mut Request) -> Result<Self, AppError> {
        if !is_form(req.header("content-type")) {
            return Err(AppError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "expected a body with content-type application/x-www-form-urlencoded",
            ));
        }
        serde_urlencoded::from_bytes(req.body())
            .map(Form)
            .map_err(|e| {
                AppError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_form",
                    format!("invalid form body: {e}"),
                )
            })
    }
}

impl<T: Serialize> IntoResponse for Form<T> {
    fn into_response(self) -> Response {
        match serde_urlencoded::to_string(&self.0) {
            Ok(body) => Response::new(StatusCode::OK)
                .with_header("content-type", "application/x-www-form-urlencoded")
                .with_body(body),
            Err(e) => AppError::internal(format!("form serialization failed: {e}")).into_response(),
        }
    }
}

/// `application/x-www-form-urlencoded`, parameters ignored.
fn is_form(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_content_types() {
        assert!(is_form(Some("application/x-www-form-urlencoded")));
        assert!(is_form(Some(
            "Application/X-WWW-Form-Urlencoded; charset=utf-8"
        )));
        assert!(!is_form(Some("multipart/form-data; boundary=x")));
        assert!(!is_form(Some("application/json")));
        assert!(!is_form(None));
    }
}
