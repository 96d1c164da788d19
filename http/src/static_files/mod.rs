//! Static files: [`ServeDir`] (the files below a directory) and [`ServeFile`] (one
//! file), handlers mounted like any other (`Router::get("/assets/*path", dir)`, or
//! `Router::fallback(dir)`). The user's guide is `docs/static-files.md`.
//!
//! * `serve.rs`: the two public types and their settings;
//! * `respond.rs`: one request answered (method, redirect, SPA fallback, `304`/`412`,
//!   `206`/`416`, headers);
//! * `path.rs`: the request path checked and decoded (traversal refused);
//! * `open.rs`: the lookup on the blocking pool (index, precompressed siblings, the
//!   root check on the open descriptor, small files read whole);
//! * `stream.rs`: large files as a streamed body of known length;
//! * `conditional.rs`: `ETag`, `Last-Modified` and the conditional headers;
//! * `range.rs`: the `Range` header;
//! * `mime.rs`: `Content-Type` by extension.

mod conditional;
mod mime;
mod open;
mod path;
mod range;
mod respond;
mod serve;
mod stream;

pub use self::serve::{ServeDir, ServeFile, StaticFiles};
