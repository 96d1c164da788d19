//! Writing responses on an HTTP/1.x connection: the head and a sized body are encoded
//! into the write buffer (pipelined answers share one write), a streamed body goes out
//! chunk by chunk (chunked on HTTP/1.1, close-delimited on HTTP/1.0), and every write to
//! a peer that stops reading is bounded by the request timeout.

use std::borrow::Cow;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::Instant;

use keel_runtime::future::{Either, select, within};

use super::Conn;
use super::keep_alive::{After, KeepAlive};
use crate::body::{Body, BodyStream};
use crate::proto::Version;
use crate::proto::encode::{BodyEncoder, Framing, HeadEncoder};
use crate::response::Response;
use crate::server::transport::Transport;

/// A streamed response body still to be written, with its chunk encoder.
type PendingStream = (Pin<Box<dyn BodyStream>>, BodyEncoder);

impl<S: Transport> Conn<S> {
    /// Writes `response` (already rendered by the dispatch): a sized body joins `wbuf`,
    /// a streamed one is written out now. Returns what comes after it and the body
    /// bytes written (for the access log).
    ///
    /// Not an `async fn`: the response is encoded before the future exists, so its
    /// bytes are never copied into the future's state (a `memcpy` per request).
    pub(super) fn write_response(
        &mut self,
        response: Response,
        is_head: bool,
        version: Version,
        keep_alive: KeepAlive,
    ) -> impl Future<Output = io::Result<(After, u64)>> + '_ {
        let (next, bytes, stream) = self.encode(response, is_head, version, keep_alive, None);
        async move {
            let mut written = bytes;
            if let Some((stream, encoder)) = stream {
                self.flush().await?;
                written = self.stream_body(stream, encoder).await?;
            }
            Ok((next, written))
        }
    }

    /// Encodes status, headers (echoing the request id — `request_id`, else the
    /// exchange's — unless the response set its own) and a sized body into `wbuf`; a
    /// streamed body is handed back with its encoder. Also returns the sized body's
    /// length (0 for `HEAD`).
    pub(super) fn encode(
        &mut self,
        response: Response,
        is_head: bool,
        version: Version,
        keep_alive: KeepAlive,
        request_id: Option<&str>,
    ) -> (After, u64, Option<PendingStream>) {
        let request_id = request_id.unwrap_or_else(|| self.exchange.request_id());
        let own_security = response.has_own_security_headers();
        let (status, headers, body) = response.into_parts();
        // A stream of a length known up front is framed by `Content-Length`.
        let (streamed, stream_len) = match &body {
            Body::Stream(stream) => (stream.exact_len().is_none(), stream.exact_len()),
            _ => (false, None),
        };
        let (connection, next) = keep_alive.framing(version, streamed);
        let mark = self.wbuf.len();
        let mut encoder = HeadEncoder::new(&mut self.wbuf, status.as_u16(), is_head);
        let mut bad_header = false;
        // The request id, the configured `Server` and the security headers, unless the
        // response set its own of that name (`taken`: bit `i` for security header `i`).
        let (mut has_id, mut has_server) = (false, false);
        let security = self
            .server
            .security_headers
            .as_ref()
            .filter(|_| !own_security);
        let mut taken = 0u64;
        let mut checked = self.server.checked_statics.borrow_mut();
        for (name, value) in &headers {
            match name.len() {
                12 => has_id |= name.eq_ignore_ascii_case("x-request-id"),
                6 => has_server |= name.eq_ignore_ascii_case("server"),
                _ => {}
            }
            if let Some(i) = security.and_then(|s| s.position(name)) {
                taken |= 1u64.checked_shl(i as u32).unwrap_or(0);
            }
            let written = match (name, value) {
                (Cow::Borrowed(name), Cow::Borrowed(value)) => {
                    encoder.static_header(name, value, &mut checked)
                }
                _ => encoder.header(name.as_bytes(), value.as_bytes()),
            };
            if written.is_err() {
                bad_header = true;
                break;
            }
        }
        drop(checked);
        if !bad_header && !has_id {
            // Valid by construction: a generated id, or a client's that passed the
            // dispatch's check.
            encoder.trusted_header(b"x-request-id", request_id.as_bytes());
        }
        if let Some(security) = security
            && !bad_header
        {
            if taken == 0 {
                // Checked when configured, encoded once.
                encoder.trusted_fields(security.wire());
            } else {
                for (i, (name, value)) in security.headers().iter().enumerate() {
                    if taken & 1u64.checked_shl(i as u32).unwrap_or(0) == 0 {
                        encoder.trusted_header(name.as_bytes(), value.as_bytes());
                    }
                }
            }
        }
        if let Some(server) = &self.server.config.server_header
            && !bad_header
            && !has_server
        {
            // Checked when configured.
            encoder.trusted_header(b"server", server.as_bytes());
        }
        crate::recycle::give_headers(headers);
        if bad_header {
            self.wbuf.truncate(mark);
            tracing::error!("response header with invalid characters; answered 500");
            let mut encoder = HeadEncoder::new(&mut self.wbuf, 500, is_head);
            let _ = encoder.header(b"content-type", b"application/json");
            let body: &[u8] = b"{\"error\":\"Internal Server Error\",\"code\":\"internal\"}";
            let (connection, _) = KeepAlive::CLOSE.framing(version, false);
            let mut b = encoder.finish(Framing::Length(body.len() as u64), connection);
            let _ = b.encode(&mut self.wbuf, body);
            let _ = b.finish(&mut self.wbuf);
            return (After::Close, 0, None);
        }
        match body {
            Body::Stream(stream) => {
                let framing = if let Some(len) = stream_len {
                    Framing::Length(len)
                } else if version == Version::Http11 {
                    Framing::Chunked
                } else {
                    Framing::CloseDelimited
                };
                let encoder = encoder.finish(framing, connection);
                if is_head {
                    return (next, 0, None);
                }
                (next, 0, Some((stream, encoder)))
            }
            sized => {
                let bytes = sized.as_bytes().unwrap_or_default();
                let mut body_encoder =
                    encoder.finish(Framing::Length(bytes.len() as u64), connection);
                let _ = body_encoder.encode(&mut self.wbuf, bytes);
                let _ = body_encoder.finish(&mut self.wbuf);
                let written = if is_head { 0 } else { bytes.len() as u64 };
                (next, written, None)
            }
        }
    }

    /// Writes a streamed body chunk by chunk; returns its length.
    async fn stream_body(
        &mut self,
        mut stream: Pin<Box<dyn BodyStream>>,
        mut encoder: BodyEncoder,
    ) -> io::Result<u64> {
        let mut written = 0;
        // A stream that never ends on its own (server-sent events) ends when the drain
        // starts; any other is waited for.
        let ends_on_drain = stream.ends_on_drain();
        let server = self.server.clone();
        loop {
            let next = std::future::poll_fn(|cx| stream.as_mut().poll_next(cx));
            let chunk = if ends_on_drain {
                match select(next, server.drain.wait()).await {
                    Either::Left(chunk) => chunk,
                    Either::Right(()) => None,
                }
            } else {
                next.await
            };
            match chunk {
                Some(Ok(chunk)) => {
                    if chunk.is_empty() {
                        continue;
                    }
                    encoder
                        .encode(&mut self.wbuf, &chunk)
                        .map_err(|e| io::Error::other(format!("{e:?}")))?;
                    written += chunk.len() as u64;
                    self.flush().await?;
                }
                Some(Err(e)) => {
                    // Abort without the final chunk: the client sees a truncated body.
                    return Err(e);
                }
                None => {
                    encoder
                        .finish(&mut self.wbuf)
                        .map_err(|e| io::Error::other(format!("{e:?}")))?;
                    self.flush().await?;
                    return Ok(written);
                }
            }
        }
    }

    /// Writes `wbuf` out, within the request timeout.
    pub(super) async fn flush(&mut self) -> io::Result<()> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        let request_timeout = self.server.config.request_timeout;
        let written = within(
            || Instant::now() + request_timeout,
            self.stream.write_all(&self.wbuf),
        )
        .await;
        if matches!(written, Ok(Ok(()))) {
            self.server.stats.bytes_out(self.wbuf.len());
        }
        self.wbuf.clear();
        match written {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "peer stopped reading",
            )),
        }
    }
}
