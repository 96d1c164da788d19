//! The examples' in-memory tests (`TestClient`: the server's own HTTP/1.1 code, no
//! socket). Each example is compiled in here as a module, so its `#[cfg(test)]` tests run
//! with `cargo test` while the example itself stays an executable for the process tests
//! (`test = true` on an example would build only its test harness).

#![allow(dead_code)]

#[path = "../examples/hello.rs"]
mod hello;

#[path = "../examples/rest_api/main.rs"]
mod rest_api;
