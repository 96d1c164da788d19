//! The [`Json`] extractor: the body parsed into a `Deserialize` type, after checking the
//! content type.

use serde::de::DeserializeOwned;

use super::FromRequest;
use crate::error::AppError;
use crate::request::Request;
use crate::response::Json;
use crate::status::StatusCode;

impl<T: DeserializeOwned> FromRequest for Json<T> {
    fn from_request(req: &mut Request) -> Result<Self, AppError> {
        if !is_json(req.header("content-type")) {
            return Err(AppError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "expected a body with content-type application/json",
            ));
        }
        serde_json::from_slice(req.body()).map(Json).map_err(|e| {
            AppError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!(
                    "invalid JSON at line {} column {}: {e}",
                    e.line(),
                    e.column()
                ),
            )
        })
    }
}

/// `application/json` or any `application/*+json`, parameters ignored.
fn is_json(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return false };
    let mime = ct.split(';').next().unwrap_or("").trim();
    let Some((kind, sub)) = mime.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (sub.eq_ignore_ascii_case("json") || sub.to_ascii_lowercase().ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use super::is_json;

    #[test]
    fn json_content_types() {
        assert!(is_json(Some("application/json")));
        assert!(is_json(Some("Application/JSON; charset=utf-8")));
        assert!(is_json(Some("application/problem+json")));
        assert!(!is_json(Some("text/plain")));
        assert!(!is_json(Some("application/jsonx")));
        assert!(!is_json(None));
    }
}
