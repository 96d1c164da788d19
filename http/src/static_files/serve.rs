//! [`ServeDir`] and [`ServeFile`]: the public services, their builder methods, and their
//! [`Handler`] implementations (which hand each request to `respond.rs`).

use std::path::PathBuf;
use std::sync::Arc;

use super::respond::{Settings, Source, respond};
use crate::handler::{BoxFuture, Handler};
use crate::request::Request;
use crate::response::Response;

/// The handler-argument marker of [`ServeDir`] and [`ServeFile`] (they take the whole
/// request).
#[doc(hidden)]
#[derive(Debug)]
pub struct StaticFiles;

/// Serves the files below a directory, by the request's path: mount it on a route
/// ending in a `*tail` (`.get("/assets/*path", ServeDir::new("public"))`, the tail is the
/// file's path below the directory) or as a router's
/// [`fallback`](crate::Router::fallback) (the whole path is).
///
/// Answers `GET` and `HEAD` (others get a `405`) with the file's `Content-Type` (by
/// extension), a strong `ETag` and `Last-Modified` (`304` to `If-None-Match` and
/// `If-Modified-Since`, `412` to a failed `If-Match` or `If-Unmodified-Since`), one byte
/// range (`206`; `416` when it starts past the end; several ranges get the whole file,
/// `200`) and `Accept-Ranges: bytes`. A directory asked for with its trailing slash
/// answers its `index.html`; without it, a `308` to the path with the slash.
///
/// Paths are checked as received: a `..` or `.` segment (`%2e%2e` too), an encoded
/// slash (`%2F`), a backslash (raw or `%5C`), a NUL (`%00`), an empty segment or a bad
/// escape is a `400`; a file or symlink that resolves outside the directory is a `404`.
/// Files are opened and read on the blocking pool, never on the loop; files over 64 KiB
/// stream in 64 KiB chunks with `Content-Length`.
///
/// See `docs/static-files.md`.
///
/// # Examples
///
/// ```
/// use keel_http::Router;
/// use keel_http::static_files::ServeDir;
///
/// let app = Router::new()
///     .get("/api/health", || async { "ok" })
///     .get("/assets/*path", ServeDir::new("public/assets").precompressed_br().precompressed_gzip())
///     .fallback(ServeDir::new("public/app").spa_fallback(true));
/// # let _ = app;
/// ```
#[derive(Debug, Clone)]
pub struct ServeDir {
    settings: Arc<Settings>,
}

impl ServeDir {
    /// Serves the files below `root` (relative to the working directory, or absolute).
    /// Directories answer with `index.html`; no precompressed siblings, no SPA fallback,
    /// no `Cache-Control`.
    pub fn new(root: impl Into<PathBuf>) -> ServeDir {
        ServeDir {
            settings: Arc::new(Settings {
                source: Source::Dir(root.into()),
                index: Some(PathBuf::from("index.html")),
                brotli: false,
                gzip: false,
                spa: false,
                cache_control: None,
            }),
        }
    }

    fn settings(&mut self) -> &mut Settings {
        Arc::make_mut(&mut self.settings)
    }

    /// The file a directory answers with (default `index.html`); `None`: a directory is
    /// a `404` (there are no listings).
    pub fn index_file(mut self, name: Option<&str>) -> ServeDir {
        self.settings().index = name.map(PathBuf::from);
        self
    }

    /// Serves `name.br`, when it exists, to clients whose `Accept-Encoding` takes `br`,
    /// with `Content-Encoding: br` and the original's `Content-Type`. Responses then
    /// carry `Vary: Accept-Encoding`.
    pub fn precompressed_br(mut self) -> ServeDir {
        self.settings().brotli = true;
        self
    }

    /// Serves `name.gz`, when it exists, to clients whose `Accept-Encoding` takes `gzip`
    /// (like [`precompressed_br`](ServeDir::precompressed_br); with both, the client's
    /// higher `q` wins, brotli on a tie).
    pub fn precompressed_gzip(mut self) -> ServeDir {
        self.settings().gzip = true;
        self
    }

    /// With `true`, a path with nothing to serve answers the directory's root index file
    /// (`index.html`, `200`) instead of a `404`: a single-page app's client-side routes.
    /// Refused paths are still `400`s.
    pub fn spa_fallback(mut self, on: bool) -> ServeDir {
        self.settings().spa = on;
        self
    }

    /// The `Cache-Control` value of every file answer (`"public, max-age=31536000,
    /// immutable"` for hashed asset names, say). None by default.
    pub fn cache_control(mut self, value: impl Into<String>) -> ServeDir {
        self.settings().cache_control = Some(value.into());
        self
    }
}

impl Handler<StaticFiles> for ServeDir {
    fn call(&self, req: Request) -> BoxFuture<Response> {
        Box::pin(respond(self.settings.clone(), req))
    }
}

/// Serves one file, whatever the path (`.get("/favicon.ico", ServeFile::new(...))`),
/// with everything [`ServeDir`] does for a file: type, validators, `304`s, ranges and
/// precompressed siblings.
///
/// # Examples
///
/// ```
/// use keel_http::Router;
/// use keel_http::static_files::ServeFile;
///
/// let app = Router::new().get("/robots.txt", ServeFile::new("public/robots.txt"));
/// # let _ = app;
/// ```
#[derive(Debug, Clone)]
pub struct ServeFile {
    settings: Arc<Settings>,
}

impl ServeFile {
    /// Serves the file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> ServeFile {
        ServeFile {
            settings: Arc::new(Settings {
                source: Source::File(path.into()),
                index: None,
                brotli: false,
                gzip: false,
                spa: false,
                cache_control: None,
            }),
        }
    }

    /// Serves `path.br` to clients that accept brotli (see [`ServeDir::precompressed_br`]).
    pub fn precompressed_br(mut self) -> ServeFile {
        Arc::make_mut(&mut self.settings).brotli = true;
        self
    }

    /// Serves `path.gz` to clients that accept gzip (see
    /// [`ServeDir::precompressed_gzip`]).
    pub fn precompressed_gzip(mut self) -> ServeFile {
        Arc::make_mut(&mut self.settings).gzip = true;
        self
    }

    /// The `Cache-Control` value of the answer.
    pub fn cache_control(mut self, value: impl Into<String>) -> ServeFile {
        Arc::make_mut(&mut self.settings).cache_control = Some(value.into());
        self
    }
}

impl Handler<StaticFiles> for ServeFile {
    fn call(&self, req: Request) -> BoxFuture<Response> {
        Box::pin(respond(self.settings.clone(), req))
    }
}
