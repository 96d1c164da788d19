//! Writing a rendered [`Response`] on an HTTP/2 stream: its head as a HEADERS frame (the
//! same extra fields an HTTP/1.1 response gets — `X-Request-ID`, the security headers,
//! `Server` — and none of the connection-specific ones HTTP/2 forbids), its body as DATA
//! frames sent only as the client's flow-control window opens (so a client that does
//! not read costs at most the window, never the whole body), then the body stream's
//! trailers, if any, as a last HEADERS frame.
//!
//! Each wait for window is bounded by the request timeout (as each HTTP/1.1 write is):
//! past it the stream is reset (`CANCEL`).

use std::pin::Pin;
use std::time::Instant;

use bytes::Bytes;
use h2::SendStream;
use h2::server::SendResponse;
use http::{HeaderMap, HeaderName, HeaderValue};
use keel_runtime::future::within;

use crate::body::{Body, BodyStream};
use crate::response::Response;
use crate::server::LoopServer;

/// How much of a body is offered to `h2` at once: its default frame size times four.
const SEND_CHUNK: usize = 64 * 1024;

/// Fields HTTP/2 forbids in a message (RFC 9113 §8.2.2); a response carrying them (from
/// a handler written for HTTP/1.1) is sent without them.
const CONNECTION_SPECIFIC: [&str; 5] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
];

/// How a response's sending ended, for the access log.
pub(super) struct Sent {
    /// Body bytes the client was given.
    pub(super) bytes: u64,
    /// The status actually sent (a response with a bad header field goes out as a 500).
    pub(super) status: u16,
}

/// Sends `response` on `respond` (a `HEAD` request's without its body); `request_id` is
/// echoed unless the response set its own.
pub(super) async fn send(
    respond: &mut SendResponse<Bytes>,
    response: Response,
    is_head: bool,
    request_id: &str,
    server: &LoopServer,
) -> Sent {
    let own_security = response.has_own_security_headers();
    let (status, headers, body) = response.into_parts();
    let mut head = http::Response::new(());
    *head.status_mut() = http::StatusCode::from_u16(status.as_u16())
        .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let fields = head.headers_mut();
    let security = server.security_headers.as_ref().filter(|_| !own_security);
    let mut taken = 0u64;
    let mut bad_header = false;
    for (name, value) in &headers {
        if CONNECTION_SPECIFIC
            .iter()
            .any(|c| name.eq_ignore_ascii_case(c))
        {
            continue;
        }
        if let Some(i) = security.and_then(|s| s.position(name)) {
            taken |= 1u64.checked_shl(i as u32).unwrap_or(0);
        }
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            (Ok(name), Ok(value)) => {
                fields.append(name, value);
            }
            _ => {
                bad_header = true;
                break;
            }
        }
    }
    crate::recycle::give_headers(headers);
    if bad_header {
        tracing::error!("response header with invalid characters; answered 500");
        return send_internal_error(respond, is_head).await;
    }
    if !fields.contains_key("x-request-id")
        && let Ok(id) = HeaderValue::from_str(request_id)
    {
        fields.insert("x-request-id", id);
    }
    if let Some(security) = security {
        for (i, (name, value)) in security.headers().iter().enumerate() {
            if taken & 1u64.checked_shl(i as u32).unwrap_or(0) == 0 {
                // Checked when configured.
                if let (Ok(name), Ok(value)) = (
                    HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_str(value),
                ) {
                    fields.append(name, value);
                }
            }
        }
    }
    if let Some(name) = &server.config.server_header
        && !fields.contains_key(http::header::SERVER)
        && let Ok(value) = HeaderValue::from_str(name)
    {
        fields.insert(http::header::SERVER, value);
    }
    let status = head.status().as_u16();
    let timeout = server.config.request_timeout;
    let bytes = match body {
        Body::Stream(stream) => {
            if let Some(len) = stream.exact_len()
                && let Ok(len) = HeaderValue::from_str(&len.to_string())
            {
                head.headers_mut().insert(http::header::CONTENT_LENGTH, len);
            }
            if is_head {
                let _ = respond.send_response(head, true);
                return Sent { bytes: 0, status };
            }
            match respond.send_response(head, false) {
                Ok(mut out) => stream_body(&mut out, stream, timeout).await,
                Err(_) => 0,
            }
        }
        sized => {
            let data = match sized {
                Body::Static(b) => Bytes::from_static(b),
                Body::Bytes(b) => Bytes::from(b),
                _ => Bytes::new(),
            };
            if let Ok(len) = HeaderValue::from_str(&data.len().to_string()) {
                head.headers_mut().insert(http::header::CONTENT_LENGTH, len);
            }
            let end = is_head || data.is_empty();
            match respond.send_response(head, end) {
                Ok(mut out) if !end => send_data(&mut out, data, true, timeout).await,
                _ => 0,
            }
        }
    };
    Sent { bytes, status }
}

/// The answer to a response whose own head could not be sent (a header field with
/// invalid characters).
async fn send_internal_error(respond: &mut SendResponse<Bytes>, is_head: bool) -> Sent {
    let body: &'static [u8] = b"{\"error\":\"Internal Server Error\",\"code\":\"internal\"}";
    let mut head = http::Response::new(());
    *head.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
    head.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(mut out) = respond.send_response(head, is_head)
        && !is_head
    {
        let _ = out.send_data(Bytes::from_static(body), true);
    }
    Sent {
        bytes: 0,
        status: 500,
    }
}

/// Sends `data` as the client's window allows, ending the stream after it when `end`;
/// returns the bytes sent (all of them, unless the stream was reset or ran out of time).
async fn send_data(
    out: &mut SendStream<Bytes>,
    mut data: Bytes,
    end: bool,
    timeout: std::time::Duration,
) -> u64 {
    let mut sent = 0;
    while !data.is_empty() {
        out.reserve_capacity(data.len().min(SEND_CHUNK));
        let capacity = within(
            || Instant::now() + timeout,
            std::future::poll_fn(|cx| out.poll_capacity(cx)),
        )
        .await;
        let n = match capacity {
            Ok(Some(Ok(n))) => n.min(data.len()),
            // The stream was reset or the connection ended.
            Ok(_) => return sent,
            Err(_) => {
                tracing::debug!("HTTP/2 client did not open its window in time; stream reset");
                out.send_reset(h2::Reason::CANCEL);
                return sent;
            }
        };
        if n == 0 {
            continue;
        }
        let chunk = data.split_to(n);
        let last = end && data.is_empty();
        if out.send_data(chunk, last).is_err() {
            return sent;
        }
        sent += n as u64;
    }
    if end && sent == 0 {
        let _ = out.send_data(Bytes::new(), true);
    }
    sent
}

/// Sends a streamed body chunk by chunk, then its trailers (or the end of the stream).
async fn stream_body(
    out: &mut SendStream<Bytes>,
    mut stream: Pin<Box<dyn BodyStream>>,
    timeout: std::time::Duration,
) -> u64 {
    let mut sent = 0;
    loop {
        let chunk = std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await;
        match chunk {
            Some(Ok(chunk)) => {
                if chunk.is_empty() {
                    continue;
                }
                let len = chunk.len() as u64;
                let n = send_data(out, Bytes::from(chunk), false, timeout).await;
                sent += n;
                if n < len {
                    return sent;
                }
            }
            Some(Err(e)) => {
                tracing::debug!(error = %e, "response body stream failed; HTTP/2 stream reset");
                out.send_reset(h2::Reason::INTERNAL_ERROR);
                return sent;
            }
            None => {
                let trailers = stream.as_mut().trailers().unwrap_or_default();
                if trailers.is_empty() {
                    let _ = out.send_data(Bytes::new(), true);
                } else {
                    let mut map = HeaderMap::with_capacity(trailers.len());
                    for (name, value) in &trailers {
                        match (
                            HeaderName::from_bytes(name.as_bytes()),
                            HeaderValue::from_bytes(value.as_bytes()),
                        ) {
                            (Ok(name), Ok(value)) => {
                                map.append(name, value);
                            }
                            _ => {
                                tracing::error!(
                                    "trailer field with invalid characters; stream reset"
                                );
                                out.send_reset(h2::Reason::INTERNAL_ERROR);
                                return sent;
                            }
                        }
                    }
                    let _ = out.send_trailers(map);
                }
                return sent;
            }
        }
    }
}
