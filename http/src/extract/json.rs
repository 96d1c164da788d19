//! The [`Json`] extractor: the body parsed into a `Deserialize` type, after checking the
//! content type and that the body is UTF-8.
//!
//! The UTF-8 check comes first because `serde_json::from_slice` checks only the strings
//! it keeps: a string inside a field the target type ignores may hold any bytes, and the
//! body would be taken as JSON although it is not (RFC 8259 §8.1; found by the
//! `json_extract` fuzz target). The check is one fast pass, and `from_str` then skips
//! the per-string checks.

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
        let body = std::str::from_utf8(req.body()).map_err(|e| {
            invalid_json(format!(
                "invalid JSON: the body is not UTF-8 (at byte {})",
                e.valid_up_to()
            ))
        })?;
        serde_json::from_str(body).map(Json).map_err(|e| {
            invalid_json(format!(
                "invalid JSON at line {} column {}: {e}",
                e.line(),
                e.column()
            ))
        })
    }
}

fn invalid_json(message: String) -> AppError {
    AppError::new(StatusCode::BAD_REQUEST, "invalid_json", message)
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
    use serde::Deserialize;

    use super::is_json;
    use crate::extract::FromRequest;
    use crate::response::Json;

    #[derive(Debug, Deserialize)]
    struct Named {
        #[allow(dead_code)] // read only through `Debug`
        name: String,
    }

    /// The input the `json_extract` fuzz target found: a string that is not UTF-8 inside
    /// a field the target type ignores. It was accepted.
    #[test]
    fn a_body_that_is_not_utf8_is_invalid_json_even_where_ignored() {
        let body = b"{\"name\":\"ann\",\"other\":{\"k\xff\xff\":1}}";
        let mut raw = format!(
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        raw.extend_from_slice(body);
        let mut req = crate::fuzzing::request(&raw).expect("a well-formed head");
        let err = Json::<Named>::from_request(&mut req).unwrap_err();
        assert_eq!(err.status().as_u16(), 400);
        assert_eq!(err.code(), "invalid_json");
        assert!(err.to_string().contains("not UTF-8 (at byte 25)"), "{err}");
        // The same body with the bytes made valid is accepted.
        let ok = String::from_utf8_lossy(body).into_owned();
        let raw = format!(
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{ok}",
            ok.len()
        );
        let mut req = crate::fuzzing::request(raw.as_bytes()).expect("a well-formed head");
        assert_eq!(Json::<Named>::from_request(&mut req).unwrap().0.name, "ann");
    }

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
