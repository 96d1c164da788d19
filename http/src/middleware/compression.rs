//! [`Compression`]: gzip for responses whose client accepts it, whose type compresses
//! and whose size is over a threshold; large bodies are compressed on the worker pool so
//! a loop never spends milliseconds in deflate.

use std::sync::Arc;

use flate2::Compression as Level;
use flate2::write::GzEncoder;

use crate::body::Body;
use crate::config::ConfigError;
use crate::handler::BoxFuture;
use crate::middleware::{Middleware, Next, add_vary};
use crate::proto::method::Method;
use crate::request::Request;
use crate::response::Response;

/// Bodies smaller than this are sent as they are, when not set.
pub const DEFAULT_COMPRESSION_MIN_SIZE: usize = 1024;
/// Bodies at least this large are compressed on the worker pool, when not set.
pub const DEFAULT_COMPRESSION_OFFLOAD_SIZE: usize = 64 * 1024;
/// The gzip level (0–9), when not set.
pub const DEFAULT_COMPRESSION_LEVEL: u32 = 6;

/// Gzip compression middleware.
///
/// A response is compressed when all hold: the request is not `HEAD`; its
/// `Accept-Encoding` accepts `gzip` (or `*`) with a non-zero `q`; the response has a
/// sized body of at least the minimum size, no `Content-Encoding`, no `Content-Range`,
/// no `Cache-Control: no-transform`, a status other than 1xx/204/206/304, and a
/// compressible `Content-Type` (`text/*`, JSON, JavaScript, XML, SVG, wasm, `+json`,
/// `+xml`…; never images, video, archives or a missing type). It then gets
/// `Content-Encoding: gzip`, and a strong `ETag` becomes weak. Every response that could
/// have been compressed gets `Vary: Accept-Encoding`, whether or not this client's was.
///
/// Bodies of at least the offload size are compressed on the worker pool
/// ([`keel_runtime::workers`]); if the pool cannot take the job the body is sent
/// uncompressed rather than compressed on the loop. Brotli is not implemented.
///
/// # Examples
///
/// ```
/// use keel_http::Router;
/// use keel_http::middleware::Compression;
///
/// let gzip = Compression::builder().min_size(2048).level(5).build()?;
/// let router = Router::new().get("/", || async { "hi" }).layer(gzip);
/// # let _ = router;
/// # Ok::<(), keel_http::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Compression {
    min_size: usize,
    offload_size: usize,
    level: u32,
}

impl Default for Compression {
    fn default() -> Compression {
        Compression {
            min_size: DEFAULT_COMPRESSION_MIN_SIZE,
            offload_size: DEFAULT_COMPRESSION_OFFLOAD_SIZE,
            level: DEFAULT_COMPRESSION_LEVEL,
        }
    }
}

impl Compression {
    /// A builder starting from the defaults.
    pub fn builder() -> CompressionBuilder {
        CompressionBuilder {
            settings: Compression::default(),
        }
    }

    /// Whether `res`'s body could be compressed (ignoring what the client accepts).
    fn eligible(&self, res: &Response) -> bool {
        let status = res.status().as_u16();
        if matches!(status, 100..=199 | 204 | 206 | 304) || res.error().is_some() {
            return false;
        }
        let sized = res.body().len().is_some_and(|n| n >= self.min_size as u64);
        sized
            && res.header("content-encoding").is_none()
            && res.header("content-range").is_none()
            && !res
                .header("cache-control")
                .is_some_and(|v| v.to_ascii_lowercase().contains("no-transform"))
            && res.header("content-type").is_some_and(is_compressible)
    }

    async fn compress(self, mut res: Response) -> Response {
        let body = match res.take_body() {
            Body::Bytes(bytes) => Source::Owned(Arc::new(bytes)),
            Body::Static(bytes) => Source::Static(bytes),
            other => {
                res.set_body(other);
                return res;
            }
        };
        let level = self.level;
        let compressed = if body.as_slice().len() >= self.offload_size {
            let job_body = body.clone();
            match keel_runtime::workers::run(move || gzip(job_body.as_slice(), level)) {
                Ok(handle) => handle.await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            }
        } else {
            Ok(gzip(body.as_slice(), level))
        };
        match compressed {
            Ok(gz) if gz.len() < body.as_slice().len() => {
                res.set_body(gz);
                res.set_header("content-encoding", "gzip");
                if let Some(etag) = res.header("etag").filter(|e| e.starts_with('"')) {
                    let weak = format!("W/{etag}");
                    res.set_header("etag", weak);
                }
            }
            Ok(_) => res.set_body(body.into_body()),
            Err(e) => {
                tracing::debug!(error = %e, "compression on the worker pool failed; sent uncompressed");
                res.set_body(body.into_body());
            }
        }
        res
    }
}

impl Middleware for Compression {
    fn call(&self, req: Request, next: Next) -> BoxFuture<Response> {
        if *req.method() == Method::Head {
            return next.run(req);
        }
        let accepts = accepts_gzip(req.header("accept-encoding"));
        let this = *self;
        Box::pin(async move {
            let mut res = next.run(req).await;
            if !this.eligible(&res) {
                return res;
            }
            add_vary(&mut res, "Accept-Encoding");
            if !accepts {
                return res;
            }
            this.compress(res).await
        })
    }
}

/// A body being compressed, shared with the worker job without a copy.
#[derive(Clone)]
enum Source {
    Static(&'static [u8]),
    Owned(Arc<Vec<u8>>),
}

impl Source {
    fn as_slice(&self) -> &[u8] {
        match self {
            Source::Static(b) => b,
            Source::Owned(b) => b,
        }
    }

    fn into_body(self) -> Body {
        match self {
            Source::Static(b) => Body::Static(b),
            Source::Owned(b) => Body::Bytes(Arc::try_unwrap(b).unwrap_or_else(|b| b.to_vec())),
        }
    }
}

fn gzip(data: &[u8], level: u32) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = GzEncoder::new(Vec::with_capacity(data.len() / 3 + 64), Level::new(level));
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

/// Whether `Accept-Encoding` allows gzip: `gzip`/`x-gzip` with `q > 0`, or, when gzip is
/// not named, `*` with `q > 0`.
fn accepts_gzip(header: Option<&str>) -> bool {
    let Some(header) = header else {
        return false;
    };
    let mut star = None;
    for item in header.split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim();
        let q_positive = parts
            .filter_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .or_else(|| p.trim().strip_prefix("Q="))
            })
            .all(|q| q.trim().parse::<f32>().is_ok_and(|q| q > 0.0));
        if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            return q_positive;
        }
        if coding == "*" {
            star = Some(q_positive);
        }
    }
    star.unwrap_or(false)
}

/// Whether a `Content-Type` is worth compressing.
fn is_compressible(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "text/event-stream" {
        return false;
    }
    essence.starts_with("text/")
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
        || matches!(
            essence.as_str(),
            "application/json"
                | "application/javascript"
                | "application/x-javascript"
                | "application/xml"
                | "application/wasm"
                | "application/x-ndjson"
                | "application/graphql"
                | "image/svg+xml"
                | "image/x-icon"
                | "image/bmp"
                | "font/ttf"
                | "font/otf"
                | "application/vnd.ms-fontobject"
        )
}

/// Configures [`Compression`]; [`build`](CompressionBuilder::build) checks the settings.
#[derive(Debug, Clone, Copy)]
pub struct CompressionBuilder {
    settings: Compression,
}

impl CompressionBuilder {
    /// Bodies smaller than this many bytes are not compressed.
    ///
    /// # Default
    ///
    /// [`DEFAULT_COMPRESSION_MIN_SIZE`].
    pub fn min_size(mut self, bytes: usize) -> CompressionBuilder {
        self.settings.min_size = bytes;
        self
    }

    /// Bodies of at least this many bytes are compressed on the worker pool.
    ///
    /// # Default
    ///
    /// [`DEFAULT_COMPRESSION_OFFLOAD_SIZE`].
    pub fn offload_size(mut self, bytes: usize) -> CompressionBuilder {
        self.settings.offload_size = bytes;
        self
    }

    /// The gzip level: 1 fastest … 9 smallest (0 stores without compressing).
    ///
    /// # Default
    ///
    /// [`DEFAULT_COMPRESSION_LEVEL`].
    pub fn level(mut self, level: u32) -> CompressionBuilder {
        self.settings.level = level;
        self
    }

    /// The middleware.
    ///
    /// # Errors
    ///
    /// A level above 9 (`compression.level`).
    pub fn build(self) -> Result<Compression, ConfigError> {
        if self.settings.level > 9 {
            return Err(ConfigError::new(
                "compression.level",
                &self.settings.level.to_string(),
                "0 to 9",
            ));
        }
        Ok(self.settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding_is_parsed_with_q_values() {
        assert!(accepts_gzip(Some("gzip")));
        assert!(accepts_gzip(Some("br, GZIP;q=0.5")));
        assert!(accepts_gzip(Some("*")));
        assert!(accepts_gzip(Some("x-gzip")));
        assert!(!accepts_gzip(None));
        assert!(!accepts_gzip(Some("identity")));
        assert!(!accepts_gzip(Some("gzip;q=0")));
        assert!(!accepts_gzip(Some("gzip;q=0.000, *")));
        assert!(!accepts_gzip(Some("*;q=0")));
        assert!(!accepts_gzip(Some("br")));
    }

    #[test]
    fn compressible_types() {
        for t in [
            "text/html; charset=utf-8",
            "application/json",
            "application/problem+json",
            "image/svg+xml",
        ] {
            assert!(is_compressible(t), "{t}");
        }
        for t in [
            "image/png",
            "application/zip",
            "video/mp4",
            "text/event-stream",
            "application/octet-stream",
        ] {
            assert!(!is_compressible(t), "{t}");
        }
    }
}
