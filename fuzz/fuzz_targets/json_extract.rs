//! Fuzzes the `Json` extractor through the request parser: the input is the body of a
//! `POST` with `content-type: application/json`. Nothing may panic; extraction agrees
//! with `serde_json` on what is valid; a refusal is the central 400 `invalid_json`; and
//! the same body under another content type is a 415.
#![no_main]

use keel_http::fuzzing::request;
use keel_http::{FromRequest, Json};
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;

/// A typed target with nesting, numbers of several widths and optional fields.
#[derive(Debug, Deserialize)]
#[allow(dead_code)] // read only through `Debug`
struct User {
    name: String,
    age: u8,
    tags: Vec<String>,
    score: Option<f64>,
    address: Option<Address>,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Address {
    city: String,
    zip: Option<u32>,
}

/// `Json<T>` of a `POST` carrying `body` with `content_type`; `Err` holds the status and
/// code the client would get.
fn extract<T: serde::de::DeserializeOwned>(
    content_type: &str,
    body: &[u8],
) -> Result<T, (u16, String)> {
    let mut raw = format!(
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    let mut req = request(&raw).expect("a well-formed POST head parses");
    Json::<T>::from_request(&mut req)
        .map(|Json(value)| value)
        .map_err(|err| (err.status().as_u16(), err.code().to_owned()))
}

fuzz_target!(|data: &[u8]| {
    let value = extract::<serde_json::Value>("application/json", data);
    match (&value, serde_json::from_slice::<serde_json::Value>(data)) {
        (Ok(got), Ok(want)) => assert_eq!(*got, want),
        (Err(got), Err(_)) => assert_eq!(*got, (400, "invalid_json".to_owned())),
        (got, want) => panic!("extractor {got:?} but serde_json {want:?}"),
    }
    match extract::<User>("application/problem+json; charset=utf-8", data) {
        Ok(_) => assert!(value.is_ok(), "a typed value from invalid JSON"),
        Err(got) => assert_eq!(got, (400, "invalid_json".to_owned())),
    }
    assert_eq!(
        extract::<serde_json::Value>("text/plain", data).err(),
        Some((415, "unsupported_media_type".to_owned()))
    );
});
