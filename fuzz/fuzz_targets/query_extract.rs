//! Fuzzes the `Query` extractor through the request parser: the input is the query string
//! of a `GET` request. Nothing may panic; a refusal is the central 400 `invalid_query`;
//! and a query that extracts to a map extracts to the same map again after re-encoding.
#![no_main]

use std::collections::BTreeMap;

use keel_http::fuzzing::request;
use keel_http::{FromRequest, Query};
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;

/// A typed target: numbers, flags and optional fields, as handlers declare them.
#[derive(Debug, Deserialize)]
#[allow(dead_code)] // read only through `Debug`
struct Page {
    page: Option<u32>,
    per_page: Option<u8>,
    sort: Option<String>,
    desc: Option<bool>,
    ratio: Option<f64>,
}

/// The `Query<T>` of `GET /?{query}`, `None` when the parser refuses the request line.
fn extract<T: serde::de::DeserializeOwned>(query: &[u8]) -> Option<Result<T, u16>> {
    let mut raw = b"GET /?".to_vec();
    raw.extend_from_slice(query);
    raw.extend_from_slice(b" HTTP/1.1\r\nHost: h\r\n\r\n");
    let mut req = request(&raw)?;
    Some(
        Query::<T>::from_request(&mut req)
            .map(|Query(value)| value)
            .map_err(|err| {
                assert_eq!(err.code(), "invalid_query");
                err.status().as_u16()
            }),
    )
}

fuzz_target!(|data: &[u8]| {
    if let Some(Err(status)) = extract::<Page>(data) {
        assert_eq!(status, 400);
    }
    match extract::<BTreeMap<String, String>>(data) {
        Some(Ok(map)) => {
            let encoded = serde_urlencoded::to_string(&map).expect("a map of strings encodes");
            let again = extract::<BTreeMap<String, String>>(encoded.as_bytes())
                .expect("an encoded query is a valid request target")
                .expect("an encoded query extracts");
            assert_eq!(map, again, "{encoded}");
        }
        Some(Err(status)) => assert_eq!(status, 400),
        None => {}
    }
});
