//! [`Compression`]: brotli or gzip, whichever the client's `Accept-Encoding` prefers
//! (brotli on a tie), for responses whose type compresses and whose size is over a
//! threshold; large bodies are compressed on the worker pool so a loop never spends
//! milliseconds compressing.

use std::sync::Arc;

use flate2::Compression as Level;
use flate2::write::GzEncoder;

use crate::body::Body;
use crate::handler::BoxFuture;
use crate::middleware::{Middleware, Next, add_vary};
use crate::proto::method::Method;
use crate::request::Request;
use crate::response::Response;
use keel_runtime::env::EnvError;

/// Bodies smaller than this are sent as they are, when not set.
pub const DEFAULT_COMPRESSION_MIN_SIZE: usize = 1024;
/// Bodies at least this large are compressed on the worker pool, when not set.
pub const DEFAULT_COMPRESSION_OFFLOAD_SIZE: usize = 64 * 1024;
/// The gzip level (0–9), when not set.
pub const DEFAULT_COMPRESSION_LEVEL: u32 = 6;
/// The brotli quality (0–11), when not set: 4 compresses about as fast as gzip's level 6
/// and smaller; the top qualities are for static assets compressed ahead of time.
pub const DEFAULT_BROTLI_QUALITY: u32 = 4;
/// Brotli's largest window (log2 of its size in bytes): 4 MiB, the encoder's usual
/// choice; smaller bodies get a window their size.
const BROTLI_WINDOW: u32 = 22;

/// Response compression middleware: brotli (`br`) or gzip.
///
/// The coding is chosen from the request's `Accept-Encoding`: the one with the higher
/// `q` value among `br` and `gzip` (a coding not named takes the `q` of `*`, if any;
/// `q=0` refuses it), brotli when both are equal, nothing when neither is acceptable.
///
/// A response is compressed when all hold: the request is not `HEAD`; its
/// `Accept-Encoding` accepts `br` or `gzip` as above; the response has a
/// sized body of at least the minimum size, no `Content-Encoding`, no `Content-Range`,
/// no `Cache-Control: no-transform`, a status other than 1xx/204/206/304, and a
/// compressible `Content-Type` (`text/*`, JSON, JavaScript, XML, SVG, wasm, `+json`,
/// `+xml`…; never images, video, archives or a missing type). It then gets
/// `Content-Encoding: br` or `gzip`, and a strong `ETag` becomes weak. Every response that could
/// have been compressed gets `Vary: Accept-Encoding`, whether or not this client's was.
///
/// Bodies of at least the offload size are compressed on the worker pool
/// ([`keel_runtime::workers`]); if the pool cannot take the job the body is sent
/// uncompressed rather than compressed on the loop. A body that would not get smaller is
/// sent as it is.
///
/// # Examples
///
/// ```
/// use keel_http::Router;
/// use keel_http::middleware::Compression;
///
/// let compression = Compression::builder().min_size(2048).level(5).build()?;
/// let router = Router::new().get("/", || async { "hi" }).layer(compression);
/// # let _ = router;
/// # Ok::<(), keel_http::config::EnvError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Compression {
    min_size: usize,
    offload_size: usize,
    level: u32,
    brotli_quality: u32,
    brotli: bool,
}

/// A content coding this middleware produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Brotli,
    Gzip,
}

impl Coding {
    fn token(self) -> &'static str {
        match self {
            Coding::Brotli => "br",
            Coding::Gzip => "gzip",
        }
    }
}

impl Default for Compression {
    fn default() -> Compression {
        Compression {
            min_size: DEFAULT_COMPRESSION_MIN_SIZE,
            offload_size: DEFAULT_COMPRESSION_OFFLOAD_SIZE,
            level: DEFAULT_COMPRESSION_LEVEL,
            brotli_quality: DEFAULT_BROTLI_QUALITY,
            brotli: true,
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

    /// Compresses `data` with `coding` at the configured level.
    fn encode(self, coding: Coding, data: &[u8]) -> Vec<u8> {
        match coding {
            Coding::Gzip => gzip(data, self.level),
            Coding::Brotli => brotli(data, self.brotli_quality),
        }
    }

    async fn compress(self, coding: Coding, mut res: Response) -> Response {
        let body = match res.take_body() {
            Body::Bytes(bytes) => Source::Owned(Arc::new(bytes)),
            Body::Static(bytes) => Source::Static(bytes),
            other => {
                res.set_body(other);
                return res;
            }
        };
        let compressed = if body.as_slice().len() >= self.offload_size {
            let job_body = body.clone();
            match keel_runtime::workers::spawn(move || self.encode(coding, job_body.as_slice())) {
                Ok(handle) => handle.await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            }
        } else {
            Ok(self.encode(coding, body.as_slice()))
        };
        match compressed {
            Ok(encoded) if encoded.len() < body.as_slice().len() => {
                res.set_body(encoded);
                res.set_header("content-encoding", coding.token());
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
        let coding = choose(req.header("accept-encoding"), self.brotli);
        let this = *self;
        Box::pin(async move {
            let mut res = next.run(req).await;
            if !this.eligible(&res) {
                return res;
            }
            add_vary(&mut res, "Accept-Encoding");
            match coding {
                Some(coding) => this.compress(coding, res).await,
                None => res,
            }
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

fn brotli(data: &[u8], quality: u32) -> Vec<u8> {
    use std::io::Write;
    let params = ::brotli::enc::BrotliEncoderParams {
        quality: quality as i32,
        lgwin: brotli_window(data.len()),
        size_hint: data.len(),
        ..Default::default()
    };
    let out = Vec::with_capacity(data.len() / 4 + 64);
    let mut encoder = ::brotli::CompressorWriter::with_params(out, 4096, &params);
    // Writing into a Vec cannot fail; `into_inner` finishes the stream.
    let _ = encoder.write_all(data);
    encoder.into_inner()
}

/// Brotli's window for a body of `len` bytes (log2): just large enough to hold the body,
/// so a small response does not get the encoder's buffers for 4 MiB; from brotli's
/// minimum (10) to [`BROTLI_WINDOW`].
fn brotli_window(len: usize) -> i32 {
    let bits = usize::BITS - len.saturating_sub(1).leading_zeros();
    bits.clamp(10, BROTLI_WINDOW) as i32
}

/// The coding to use for a request's `Accept-Encoding` (RFC 9110 §12.5.3): the higher
/// `q` of `br` and `gzip`/`x-gzip`, each taking `*`'s when not named; brotli on a tie
/// (when `brotli` is on); `None` when neither has `q > 0` or there is no header.
fn choose(header: Option<&str>, brotli: bool) -> Option<Coding> {
    let (br, gzip) = accepted_weights(header?);
    let br = if brotli { br } else { 0.0 };
    if br <= 0.0 && gzip <= 0.0 {
        None
    } else if br >= gzip {
        Some(Coding::Brotli)
    } else {
        Some(Coding::Gzip)
    }
}

/// The `q` weights an `Accept-Encoding` value gives `br` and `gzip` (`x-gzip`), each
/// taking `*`'s when not named, `0` when refused or absent. Also used to pick a static
/// file's precompressed sibling.
pub(crate) fn accepted_weights(header: &str) -> (f32, f32) {
    let (mut br, mut gzip, mut star) = (None, None, None);
    for item in header.split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim();
        let q = parts.fold(1.0, |q, param| {
            let (name, value) = param.split_once('=').unwrap_or((param, ""));
            if name.trim().eq_ignore_ascii_case("q") {
                parse_q(value.trim())
            } else {
                q
            }
        });
        let slot = if coding.eq_ignore_ascii_case("br") {
            &mut br
        } else if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            &mut gzip
        } else if coding == "*" {
            &mut star
        } else {
            continue;
        };
        // A coding listed twice keeps its highest weight.
        *slot = Some(slot.map_or(q, |old: f32| old.max(q)));
    }
    (br.or(star).unwrap_or(0.0), gzip.or(star).unwrap_or(0.0))
}

/// A `q` value (`0` to `1`, at most three decimals); anything malformed counts as `0`,
/// "not acceptable".
fn parse_q(value: &str) -> f32 {
    match value.parse::<f32>() {
        Ok(q) if (0.0..=1.0).contains(&q) => q,
        _ => 0.0,
    }
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

    /// The brotli quality: 0 fastest … 11 smallest (and very slow).
    ///
    /// # Default
    ///
    /// [`DEFAULT_BROTLI_QUALITY`].
    pub fn brotli_quality(mut self, quality: u32) -> CompressionBuilder {
        self.settings.brotli_quality = quality;
        self
    }

    /// Whether brotli is offered at all; off, only gzip is used.
    ///
    /// # Default
    ///
    /// On.
    pub fn brotli(mut self, on: bool) -> CompressionBuilder {
        self.settings.brotli = on;
        self
    }

    /// The middleware.
    ///
    /// # Errors
    ///
    /// A gzip level above 9 (`compression.level`) or a brotli quality above 11
    /// (`compression.brotli_quality`).
    pub fn build(self) -> Result<Compression, EnvError> {
        if self.settings.level > 9 {
            return Err(EnvError::new(
                "compression.level",
                &self.settings.level.to_string(),
                "0 to 9",
            ));
        }
        if self.settings.brotli_quality > 11 {
            return Err(EnvError::new(
                "compression.brotli_quality",
                &self.settings.brotli_quality.to_string(),
                "0 to 11",
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
        let br = Some(Coding::Brotli);
        let gz = Some(Coding::Gzip);
        let cases = [
            (None, None),
            (Some(""), None),
            (Some("identity"), None),
            (Some("gzip"), gz),
            (Some("x-gzip"), gz),
            (Some("GZIP;Q=0.5"), gz),
            (Some("br"), br),
            (Some("gzip, br"), br),
            (Some("br;q=0.5, gzip;q=0.5"), br),
            (Some("br;q=0.4, gzip;q=0.5"), gz),
            (Some("br;q=1.0, gzip;q=0.8"), br),
            (Some("br;q=0, gzip"), gz),
            (Some("gzip;q=0"), None),
            (Some("gzip;q=0.000, *"), br),
            (Some("gzip;q=0.000, br;q=0"), None),
            (Some("*"), br),
            (Some("*;q=0"), None),
            (Some("*;q=0.5, gzip"), gz),
            (Some("gzip;q=bad"), None),
            (Some("gzip;q=2"), None),
            (Some("deflate, gzip ; q=0.9"), gz),
        ];
        for (header, expected) in cases {
            assert_eq!(choose(header, true), expected, "{header:?}");
        }
        // Brotli switched off: gzip or nothing.
        assert_eq!(choose(Some("br, gzip;q=0.1"), false), gz);
        assert_eq!(choose(Some("br"), false), None);
        assert_eq!(choose(Some("*"), false), gz);
    }

    #[test]
    fn the_brotli_window_fits_the_body() {
        assert_eq!(brotli_window(0), 10);
        assert_eq!(brotli_window(1000), 10);
        assert_eq!(brotli_window(1024), 10);
        assert_eq!(brotli_window(1025), 11);
        assert_eq!(brotli_window(64 * 1024), 16);
        assert_eq!(brotli_window(usize::MAX), 22);
    }

    #[test]
    fn both_codings_round_trip() {
        use std::io::Read;
        let c = Compression::default();
        // Small and large windows, including a body of exactly a window's size.
        for len in [0, 100, 1024, 5000, 65536, 300_000] {
            let data: Vec<u8> = "the quick brown fox jumps over the lazy dog "
                .bytes()
                .cycle()
                .enumerate()
                .map(|(i, b)| b ^ (i / 7919) as u8)
                .take(len)
                .collect();
            let mut plain = Vec::new();
            ::brotli::Decompressor::new(&c.encode(Coding::Brotli, &data)[..], 4096)
                .read_to_end(&mut plain)
                .unwrap();
            assert_eq!(plain, data, "{len}");
        }
        let data = "the quick brown fox jumps over the lazy dog ".repeat(200);
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&c.encode(Coding::Gzip, data.as_bytes())[..])
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, data.as_bytes());
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
