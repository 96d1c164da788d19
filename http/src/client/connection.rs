//! [`Connection`]: one client-side connection (plain TCP or TLS: its [`Stream`]) and its
//! read buffer — writing a request, reading bytes, and reading a response head (skipping
//! interim `1xx` responses).

use std::io;
use std::sync::Arc;

use super::error::ClientError;
use super::stream::Stream;
use crate::proto::parse::Status;
use crate::proto::response::{ResponseError, ResponseHead, parse_response};

/// Bytes asked for per read.
const READ_CHUNK: usize = 16 * 1024;

/// A connection to one host, with the bytes read but not yet consumed.
#[derive(Debug)]
pub(crate) struct Connection {
    stream: Stream,
    /// Read and not yet consumed.
    pub(crate) buf: Vec<u8>,
    /// Some response byte arrived during the current exchange.
    pub(crate) received_any: bool,
}

impl Connection {
    /// Opens a connection to `host:port`, resolving the name on the blocking pool; with
    /// `tls`, a TLS session verifying the server as `host`.
    pub(crate) async fn connect(
        host: &str,
        port: u16,
        tls: Option<&Arc<rustls::ClientConfig>>,
    ) -> Result<Connection, ClientError> {
        let stream = Stream::connect(host, port, tls).await?;
        Ok(Connection {
            stream,
            buf: Vec::new(),
            received_any: false,
        })
    }

    /// The byte stream and the bytes read past the last response head.
    pub(crate) fn into_parts(self) -> (Stream, Vec<u8>) {
        (self.stream, self.buf)
    }

    /// Whether an idle connection still looks usable: the server has neither closed it nor
    /// sent anything unasked.
    pub(crate) fn is_idle_usable(&mut self) -> bool {
        self.buf.is_empty() && self.stream.is_idle_usable()
    }

    /// Writes all of `bytes`.
    pub(crate) async fn write_all(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.received_any = false;
        self.stream.write_all(bytes).await.map_err(ClientError::Io)
    }

    /// Reads more bytes onto the buffer; `Ok(0)` is the end of the stream.
    pub(crate) async fn read_more(&mut self) -> io::Result<usize> {
        self.buf.reserve(READ_CHUNK);
        let n = self.stream.read_buf(&mut self.buf).await?;
        if n > 0 {
            self.received_any = true;
        }
        Ok(n)
    }

    /// Reads the final response head (interim `1xx` heads are skipped) and consumes it
    /// from the buffer; the body, if any, starts at the front of [`Connection::buf`]. A
    /// `101` is final when the request asked to `upgrade`, an error otherwise.
    pub(crate) async fn read_head(
        &mut self,
        max_head_size: usize,
        max_headers: usize,
        head_request: bool,
        upgrade: bool,
    ) -> Result<ResponseHead, ClientError> {
        loop {
            match parse_response(&self.buf, max_head_size, max_headers, head_request) {
                Ok(Status::Complete(head)) => {
                    self.buf.drain(..head.head_len);
                    match head.status {
                        101 if upgrade => return Ok(head),
                        101 => {
                            return Err(ClientError::InvalidResponse(
                                "101 Switching Protocols without an upgrade request".into(),
                            ));
                        }
                        100..=199 => continue,
                        _ => return Ok(head),
                    }
                }
                Ok(Status::Partial) => {}
                Err(ResponseError::HeadTooLarge | ResponseError::TooManyHeaders) => {
                    return Err(ClientError::HeadTooLarge);
                }
                Err(e) => return Err(ClientError::InvalidResponse(e.to_string())),
            }
            match self.read_more().await {
                Ok(0) if self.buf.is_empty() => {
                    return Err(ClientError::Io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "connection closed before the response",
                    )));
                }
                Ok(0) => {
                    return Err(ClientError::InvalidResponse(
                        "connection closed inside the response head".into(),
                    ));
                }
                Ok(_) => {}
                Err(e) => return Err(ClientError::Io(e)),
            }
        }
    }
}
