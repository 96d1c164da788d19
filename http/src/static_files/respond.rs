//! One static-file request answered: the method, the path checked, the lookup on the
//! blocking pool, then the HTTP of it — a redirect for a directory without its slash,
//! the SPA fallback, conditional requests (`304`, `412`), a byte range (`206`, `416`),
//! and the headers (`Content-Type`, `ETag`, `Last-Modified`, `Accept-Ranges`,
//! `Content-Encoding`, `Vary`, `Cache-Control`).

use std::path::PathBuf;
use std::sync::Arc;

use keel_runtime::blocking::{self, Class};

use super::conditional::{self, Precondition, Validators};
use super::open::{self, Found, Lookup, Opened, Sibling};
use super::path;
use super::range::{self, RangeAnswer};
use super::stream::FileStream;
use crate::body::Body;
use crate::error::AppError;
use crate::middleware::compression::accepted_weights;
use crate::proto::Method;
use crate::request::Request;
use crate::response::{IntoResponse, Response};
use crate::status::StatusCode;

/// What is served and how: the settings of a `ServeDir` or `ServeFile`.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) source: Source,
    /// The file a directory answers with (`index.html`); `None`: directories are 404s.
    pub(crate) index: Option<PathBuf>,
    /// Whether `.br` siblings are served to clients that accept brotli.
    pub(crate) brotli: bool,
    /// Whether `.gz` siblings are served to clients that accept gzip.
    pub(crate) gzip: bool,
    /// Whether a path with nothing to serve gets the root's index (a single-page app).
    pub(crate) spa: bool,
    /// The `Cache-Control` of every file answer.
    pub(crate) cache_control: Option<String>,
}

/// The file system side of the settings.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// Files below a directory, by the request's path.
    Dir(PathBuf),
    /// One file, whatever the path.
    File(PathBuf),
}

/// Answers `req` from `settings`.
pub(crate) async fn respond(settings: Arc<Settings>, req: Request) -> Response {
    let is_get = matches!(req.method(), Method::Get | Method::Head);
    if !is_get {
        let error = AppError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("{} is not allowed on static files", req.method()),
        );
        let mut res = error.into_response();
        res.set_header("allow", "GET, HEAD");
        return res;
    }
    let lookup = match lookup_for(&settings, &req) {
        Ok(lookup) => lookup,
        Err(res) => return *res,
    };
    let found = match find(lookup).await {
        Ok(found) => found,
        Err(res) => return *res,
    };
    let found = match (found, &settings.source, &settings.index) {
        (Found::Nothing, Source::Dir(root), Some(index)) if settings.spa => {
            let lookup = Lookup {
                root: Some(root.clone()),
                target: root.join(index),
                trailing_slash: false,
                index: None,
                siblings: siblings(&settings, &req),
            };
            match find(lookup).await {
                Ok(found) => found,
                Err(res) => return *res,
            }
        }
        (found, _, _) => found,
    };
    match found {
        Found::File(opened) => answer(&settings, &req, *opened),
        Found::Directory => {
            let location = match req.query() {
                Some(query) => format!("{}/?{query}", req.path()),
                None => format!("{}/", req.path()),
            };
            Response::new(StatusCode::PERMANENT_REDIRECT).with_header("location", location)
        }
        Found::Nothing => {
            AppError::not_found(format!("no file for {}", req.path())).into_response()
        }
    }
}

/// The lookup for `req`, or the `400` for a refused path.
fn lookup_for(settings: &Settings, req: &Request) -> Result<Lookup, Box<Response>> {
    let siblings = siblings(settings, req);
    match &settings.source {
        Source::File(file) => Ok(Lookup {
            root: None,
            target: file.clone(),
            trailing_slash: false,
            index: None,
            siblings,
        }),
        Source::Dir(root) => {
            let tail = path::tail(req.route(), req.path());
            let relative = path::relative(tail).map_err(|why| {
                tracing::debug!(
                    path = req.path(),
                    reason = why.message(),
                    "static path refused"
                );
                Box::new(
                    AppError::new(StatusCode::BAD_REQUEST, "bad_path", why.message())
                        .into_response(),
                )
            })?;
            Ok(Lookup {
                root: Some(root.clone()),
                target: root.join(&relative.path),
                trailing_slash: relative.trailing_slash,
                index: settings.index.clone(),
                siblings,
            })
        }
    }
}

/// The precompressed siblings to try for `req`, most preferred first.
fn siblings(settings: &Settings, req: &Request) -> Vec<Sibling> {
    let Some(header) = req.header("accept-encoding") else {
        return Vec::new();
    };
    if !settings.brotli && !settings.gzip {
        return Vec::new();
    }
    let (br, gzip) = accepted_weights(header);
    let br = if settings.brotli { br } else { 0.0 };
    let gzip = if settings.gzip { gzip } else { 0.0 };
    let mut out = Vec::with_capacity(2);
    let (first, second) = if br >= gzip {
        ((br, Sibling::Brotli), (gzip, Sibling::Gzip))
    } else {
        ((gzip, Sibling::Gzip), (br, Sibling::Brotli))
    };
    for (q, sibling) in [first, second] {
        if q > 0.0 {
            out.push(sibling);
        }
    }
    out
}

/// Runs the lookup on the blocking pool; a failure is a `500`.
async fn find(lookup: Lookup) -> Result<Found, Box<Response>> {
    let failed = |what: String| Box::new(AppError::internal(what).into_response());
    let permit = blocking::reserve(Class::Fs)
        .await
        .map_err(|e| failed(format!("static file lookup: {e}")))?;
    let target = lookup.target.clone();
    match permit.spawn(move || open::find(&lookup)).await {
        Ok(Ok(found)) => Ok(found),
        Ok(Err(e)) => Err(failed(format!("static file {}: {e}", target.display()))),
        Err(e) => Err(failed(format!("static file lookup: {e}"))),
    }
}

/// The answer for an opened file.
fn answer(settings: &Settings, req: &Request, opened: Opened) -> Response {
    let Opened {
        file,
        meta,
        content_type,
        sibling,
        bytes,
    } = opened;
    let validators = Validators::of(&meta, sibling.map(Sibling::token));
    let mut res = Response::new(StatusCode::OK);
    res.set_header("etag", validators.etag.clone());
    if let Some(date) = validators.last_modified() {
        res.set_header("last-modified", date);
    }
    if settings.brotli || settings.gzip {
        res.set_header("vary", "accept-encoding");
    }
    if let Some(cache_control) = &settings.cache_control {
        res.set_header("cache-control", cache_control.clone());
    }
    match conditional::evaluate(req, &validators) {
        Precondition::Proceed => {}
        Precondition::NotModified => {
            res.set_status(StatusCode::NOT_MODIFIED);
            return res;
        }
        Precondition::Failed => {
            return AppError::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition_failed",
                "the file does not match the request's preconditions",
            )
            .into_response();
        }
    }
    res.set_header("content-type", content_type);
    res.set_header("accept-ranges", "bytes");
    if let Some(sibling) = sibling {
        res.set_header("content-encoding", sibling.token());
    }
    let len = bytes.as_ref().map_or(meta.len(), |b| b.len() as u64);
    let range = match req.header("range") {
        Some(header) if conditional::if_range_holds(req, &validators) => range::parse(header, len),
        _ => RangeAnswer::Whole,
    };
    let (start, end) = match range {
        RangeAnswer::Whole => (0, len),
        RangeAnswer::Part { start, end } => {
            res.set_status(StatusCode::PARTIAL_CONTENT);
            res.set_header("content-range", format!("bytes {start}-{end}/{len}"));
            (start, end + 1)
        }
        RangeAnswer::Unsatisfiable => {
            let mut refused = AppError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range_not_satisfiable",
                format!("the range is outside the file's {len} bytes"),
            )
            .into_response();
            refused.set_header("content-range", format!("bytes */{len}"));
            return refused;
        }
    };
    let body = match bytes {
        Some(mut bytes) => {
            bytes.truncate(end as usize);
            bytes.drain(..start as usize);
            Body::Bytes(bytes)
        }
        None => Body::stream(FileStream::new(
            keel_runtime::fs::File::from_std(file),
            start,
            end - start,
        )),
    };
    res.with_body(body)
}
