//! [`Response`]: a response head and its body, read on demand — whole ([`Response::bytes`],
//! [`Response::text`], [`Response::json`]) or chunk by chunk ([`Response::chunk`]) — with
//! the body limit and the call's deadline enforced. A connection goes back to the idle
//! pool only when its body was read to the end and neither side asked to close.

use std::rc::Rc;
use std::time::Instant;

use serde::de::DeserializeOwned;

use super::connection::Connection;
use super::error::{ClientError, TimeoutPhase};
use super::inner::Inner;
use super::pool::Key;
use crate::proto::decode::{DecodeErrorKind, Decoder};
use crate::proto::response::{ResponseBody, ResponseHead};
use crate::proto::{BodyLength, Version};
use crate::status::StatusCode;

/// A response from [`RequestBuilder::send`](super::RequestBuilder::send). Any status,
/// including 4xx and 5xx, is a `Response`; check [`Response::status`].
///
/// Dropping a response before its body is read closes the connection rather than reuse it.
#[derive(Debug)]
pub struct Response {
    status: StatusCode,
    version: Version,
    headers: Vec<(String, Vec<u8>)>,
    body: BodyReader,
}

/// How the rest of the body is found.
#[derive(Debug)]
enum Framing {
    Decoder(Decoder),
    /// Until the server closes; this many bytes so far.
    UntilClose(u64),
}

#[derive(Debug)]
struct BodyReader {
    /// `None` once the body is complete (the connection is then pooled or closed).
    conn: Option<Connection>,
    framing: Framing,
    limit: u64,
    /// Both sides allow the connection to be reused.
    reusable: bool,
    deadline: Option<(Instant, TimeoutPhase)>,
    client: Rc<Inner>,
    key: Key,
}

impl Response {
    pub(crate) fn new(
        head: ResponseHead,
        conn: Connection,
        request_close: bool,
        deadline: Option<(Instant, TimeoutPhase)>,
        client: Rc<Inner>,
        key: Key,
    ) -> Response {
        let limit = client.config.max_body_size;
        let framing = match head.body {
            ResponseBody::Framed(length) => Framing::Decoder(Decoder::new(length, limit)),
            ResponseBody::UntilClose => Framing::UntilClose(0),
        };
        let mut body = BodyReader {
            conn: Some(conn),
            framing,
            limit,
            reusable: head.keep_alive && !request_close,
            deadline,
            client,
            key,
        };
        if matches!(head.body, ResponseBody::Framed(BodyLength::Empty)) {
            body.finish();
        }
        Response {
            status: StatusCode::from_u16(head.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            version: head.version,
            headers: head.headers,
            body,
        }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The HTTP version the server answered with.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The header fields in the order received, names as sent.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.headers.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    /// The first value of header `name` (case-insensitive), if present and valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// The next run of body bytes, or `None` at the end of the body. Never an empty chunk.
    ///
    /// # Errors
    ///
    /// [`ClientError::BodyTooLarge`] past the body limit, [`ClientError::InvalidResponse`]
    /// for bad framing or a body cut short, [`ClientError::Timeout`] past the deadline,
    /// [`ClientError::Io`]. After an error the connection is closed.
    pub async fn chunk(&mut self) -> Result<Option<Vec<u8>>, ClientError> {
        let result = self.body.next().await;
        if result.is_err() {
            // A failed body cannot be resynchronized: close.
            self.body.conn = None;
        }
        result
    }

    /// The whole body.
    ///
    /// # Errors
    ///
    /// As [`Response::chunk`].
    pub async fn bytes(mut self) -> Result<Vec<u8>, ClientError> {
        let mut all = Vec::new();
        while let Some(chunk) = self.chunk().await? {
            if all.is_empty() {
                all = chunk;
            } else {
                all.extend_from_slice(&chunk);
            }
        }
        Ok(all)
    }

    /// The whole body as UTF-8 text.
    ///
    /// # Errors
    ///
    /// As [`Response::bytes`], and [`ClientError::Decode`] when it is not UTF-8.
    pub async fn text(self) -> Result<String, ClientError> {
        String::from_utf8(self.bytes().await?)
            .map_err(|e| ClientError::Decode(format!("body is not UTF-8: {e}")))
    }

    /// The whole body parsed as JSON.
    ///
    /// # Errors
    ///
    /// As [`Response::bytes`], and [`ClientError::Decode`] when it does not parse as `T`.
    pub async fn json<T: DeserializeOwned>(self) -> Result<T, ClientError> {
        let bytes = self.bytes().await?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode(e.to_string()))
    }
}

impl BodyReader {
    async fn next(&mut self) -> Result<Option<Vec<u8>>, ClientError> {
        loop {
            let Some(conn) = self.conn.as_mut() else {
                return Ok(None);
            };
            let mut data = Vec::new();
            let mut done = false;
            match &mut self.framing {
                Framing::Decoder(decoder) => {
                    let progress = decoder
                        .decode(&conn.buf, |d| data.extend_from_slice(d))
                        .map_err(|e| match e.kind() {
                            DecodeErrorKind::BodyTooLarge => ClientError::BodyTooLarge(self.limit),
                            _ => ClientError::InvalidResponse(e.reason().to_owned()),
                        })?;
                    conn.buf.drain(..progress.consumed);
                    done = progress.done;
                }
                Framing::UntilClose(received) => {
                    *received += conn.buf.len() as u64;
                    if *received > self.limit {
                        return Err(ClientError::BodyTooLarge(self.limit));
                    }
                    data = std::mem::take(&mut conn.buf);
                }
            }
            if done {
                self.finish();
            }
            if !data.is_empty() {
                return Ok(Some(data));
            }
            if done {
                return Ok(None);
            }
            if self.read_more().await? == 0 {
                return match self.framing {
                    Framing::UntilClose(_) => {
                        self.conn = None;
                        Ok(None)
                    }
                    Framing::Decoder(_) => Err(ClientError::InvalidResponse(
                        "connection closed before the end of the body".into(),
                    )),
                };
            }
        }
    }

    async fn read_more(&mut self) -> Result<usize, ClientError> {
        let conn = self.conn.as_mut().expect("read on a finished body");
        let result = match self.deadline {
            Some((deadline, phase)) => keel_runtime::time::timeout_at(deadline, conn.read_more())
                .await
                .map_err(|_| ClientError::Timeout(phase))?,
            None => conn.read_more().await,
        };
        result.map_err(ClientError::Io)
    }

    /// The body is complete: pool the connection if it may be reused, else close it.
    fn finish(&mut self) {
        if let Some(conn) = self.conn.take()
            && self.reusable
            && conn.buf.is_empty()
        {
            self.client.pool.put(self.key.clone(), conn);
        }
    }
}
