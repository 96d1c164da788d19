//! A raw HTTP/1.1 client over a blocking `TcpStream` ([`Client`]) with a small response
//! reader (status line, headers, `Content-Length`, chunked or close-delimited bodies,
//! trailers) that hands back a [`Response`]. It sends exactly the bytes a test gives it,
//! malformed ones included, and every read and write is bounded by [`IO_TIMEOUT`] (or
//! the limit given to [`Client::connect_with_timeout`]).

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

use crate::IO_TIMEOUT;

/// One parsed response.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The status line as sent, without CRLF.
    pub status_line: String,
    /// Header fields in order, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body after transfer decoding.
    pub body: Vec<u8>,
    /// Whether the body came with chunked framing.
    pub chunked: bool,
    /// Trailer fields of a chunked body.
    pub trailers: Vec<(String, String)>,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// How many times header `name` appears.
    pub fn header_count(&self, name: &str) -> usize {
        let name = name.to_ascii_lowercase();
        self.headers.iter().filter(|(n, _)| *n == name).count()
    }

    /// Whether the server said it closes the connection.
    pub fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("body is UTF-8")
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.text()))
    }

    /// Asserts this is a central JSON error `{error, code, requestId}` with `status` and
    /// `code`, whose `requestId` matches the `x-request-id` header; returns the JSON.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) -> serde_json::Value {
        assert_eq!(self.status, status, "unexpected response: {self:?}");
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{self:?}"
        );
        let json = self.json();
        assert_eq!(json["code"], code, "{json}");
        assert!(json["error"].is_string(), "{json}");
        let id = json["requestId"].as_str().expect("requestId is a string");
        assert!(!id.is_empty());
        assert_eq!(self.header("x-request-id"), Some(id), "{self:?}");
        json
    }
}

/// A raw HTTP/1.1 client over a blocking `TcpStream`.
#[derive(Debug)]
pub struct Client {
    /// The socket.
    pub stream: TcpStream,
    /// Bytes read but not yet parsed.
    buf: Vec<u8>,
}

impl Client {
    /// Connects with [`IO_TIMEOUT`] on reads and writes.
    pub fn connect(addr: SocketAddr) -> Client {
        Client::connect_with_timeout(addr, IO_TIMEOUT)
    }

    /// Connects with `limit` on the connect, and on each read and write.
    pub fn connect_with_timeout(addr: SocketAddr, limit: Duration) -> Client {
        let stream = TcpStream::connect_timeout(&addr, limit).expect("connect");
        Client::with_timeout(stream, limit)
    }

    /// Wraps a connected socket, with [`IO_TIMEOUT`] on reads and writes.
    pub fn from_stream(stream: TcpStream) -> Client {
        Client::with_timeout(stream, IO_TIMEOUT)
    }

    fn with_timeout(stream: TcpStream, limit: Duration) -> Client {
        stream.set_read_timeout(Some(limit)).unwrap();
        stream.set_write_timeout(Some(limit)).unwrap();
        stream.set_nodelay(true).unwrap();
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    /// Writes all of `bytes`.
    pub fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.stream.write_all(bytes.as_ref()).expect("write");
    }

    /// Writes `bytes` in pieces of `piece` bytes with `pause` between them.
    pub fn send_slowly(&mut self, bytes: &[u8], piece: usize, pause: Duration) {
        for chunk in bytes.chunks(piece.max(1)) {
            self.send(chunk);
            thread::sleep(pause);
        }
    }

    /// Sends `bytes` and reads one response.
    #[track_caller]
    pub fn request(&mut self, bytes: impl AsRef<[u8]>) -> Response {
        self.send(bytes);
        self.read_response()
    }

    /// A `method path` request with `Host` and the extra header lines `headers`, answered.
    #[track_caller]
    pub fn request_with(&mut self, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
        self.request(request_text(method, path, headers))
    }

    /// A `GET path` with `Host`, answered.
    #[track_caller]
    pub fn get(&mut self, path: &str) -> Response {
        self.request(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n"))
    }

    /// Reads one response (a `100 Continue` counts as one).
    #[track_caller]
    pub fn read_response(&mut self) -> Response {
        self.try_read_response(false)
            .unwrap_or_else(|e| panic!("reading a response: {e}"))
    }

    /// Reads one response to a `HEAD` request: headers only, whatever they declare.
    #[track_caller]
    pub fn read_head_response(&mut self) -> Response {
        self.try_read_response(true)
            .unwrap_or_else(|e| panic!("reading a HEAD response: {e}"))
    }

    /// Reads one response; errors on EOF, timeout or bytes that are not a response.
    pub fn try_read_response(&mut self, to_head: bool) -> io::Result<Response> {
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            self.fill()?;
        };
        let head = String::from_utf8(self.buf[..head_end - 4].to_vec())
            .map_err(|_| bad("response head is not UTF-8"))?;
        self.buf.drain(..head_end);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default().to_owned();
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default();
        if version != "HTTP/1.1" && version != "HTTP/1.0" {
            return Err(bad(format!("bad status line {status_line:?}")));
        }
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad(format!("bad status line {status_line:?}")))?;
        let mut headers = Vec::new();
        for line in lines {
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| bad(format!("bad header line {line:?}")))?;
            headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
        }
        let mut res = Response {
            status,
            status_line,
            headers,
            body: Vec::new(),
            chunked: false,
            trailers: Vec::new(),
        };
        if to_head || matches!(status, 100..=199 | 204 | 304) {
            return Ok(res);
        }
        let te = res.header("transfer-encoding").map(str::to_owned);
        let cl = res.header("content-length").map(str::to_owned);
        if let Some(te) = te {
            if !te.eq_ignore_ascii_case("chunked") {
                return Err(bad(format!("unexpected transfer-encoding {te:?}")));
            }
            res.chunked = true;
            self.read_chunked(&mut res)?;
        } else if let Some(cl) = cl {
            let n: usize = cl.parse().map_err(|_| bad("bad content-length"))?;
            while self.buf.len() < n {
                self.fill()?;
            }
            res.body = self.buf.drain(..n).collect();
        } else {
            // Close-delimited.
            loop {
                match self.fill() {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                    Err(e) => return Err(e),
                }
            }
            res.body = std::mem::take(&mut self.buf);
        }
        Ok(res)
    }

    fn read_chunked(&mut self, res: &mut Response) -> io::Result<()> {
        loop {
            let line = self.read_line()?;
            let size = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size, 16)
                .map_err(|_| bad(format!("bad chunk size line {line:?}")))?;
            if size == 0 {
                loop {
                    let line = self.read_line()?;
                    if line.is_empty() {
                        return Ok(());
                    }
                    let (n, v) = line.split_once(':').ok_or_else(|| bad("bad trailer"))?;
                    res.trailers
                        .push((n.to_ascii_lowercase(), v.trim().to_owned()));
                }
            }
            while self.buf.len() < size + 2 {
                self.fill()?;
            }
            if &self.buf[size..size + 2] != b"\r\n" {
                return Err(bad("chunk data not followed by CRLF"));
            }
            res.body.extend(self.buf.drain(..size));
            self.buf.drain(..2);
        }
    }

    fn read_line(&mut self) -> io::Result<String> {
        loop {
            if let Some(i) = find(&self.buf, b"\r\n") {
                let line = String::from_utf8(self.buf[..i].to_vec())
                    .map_err(|_| bad("line is not UTF-8"))?;
                self.buf.drain(..i + 2);
                return Ok(line);
            }
            self.fill()?;
        }
    }

    /// One `read` into the buffer; EOF is `UnexpectedEof`.
    fn fill(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "server closed",
            ));
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// One raw `read` (bounded by the read timeout), for tests about how responses are
    /// batched. Returns what this single read got, after any bytes already buffered.
    pub fn read_once(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.buf);
        let mut chunk = vec![0u8; 256 * 1024];
        let n = self.stream.read(&mut chunk).expect("read");
        out.extend_from_slice(&chunk[..n]);
        out
    }

    /// Puts bytes back in front of the unparsed buffer.
    pub fn unread(&mut self, mut bytes: Vec<u8>) {
        bytes.extend_from_slice(&self.buf);
        self.buf = bytes;
    }

    /// Asserts the server closes the connection (EOF or reset) within [`IO_TIMEOUT`]
    /// without sending any more bytes.
    #[track_caller]
    pub fn assert_closed(&mut self) {
        assert!(
            self.buf.is_empty(),
            "unparsed bytes before close: {:?}",
            String::from_utf8_lossy(&self.buf)
        );
        let mut chunk = [0u8; 4096];
        match self.stream.read(&mut chunk) {
            Ok(0) => {}
            Ok(n) => panic!(
                "expected close, got {n} bytes: {:?}",
                String::from_utf8_lossy(&chunk[..n])
            ),
            Err(e) if is_reset(&e) => {}
            Err(e) => panic!("expected close, got {e} (kind {:?})", e.kind()),
        }
    }

    /// Whether the server closed the connection: `true` on EOF or reset, `false` when a
    /// response-looking read succeeded. Sends `request` first (a write error counts as
    /// closed).
    pub fn is_refused(&mut self, request: &[u8]) -> bool {
        if self.stream.write_all(request).is_err() {
            return true;
        }
        match self.try_read_response(false) {
            Ok(_) => false,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof || is_reset(&e) => true,
            Err(e) => panic!("neither a response nor a close: {e}"),
        }
    }

    /// Half-closes the write side.
    pub fn shutdown_write(&self) {
        self.stream
            .shutdown(Shutdown::Write)
            .expect("shutdown(Write)");
    }
}

/// The text of a request `method path` with `Host` and the extra header lines `headers`
/// (no body).
pub fn request_text(method: &str, path: &str, headers: &[(&str, &str)]) -> String {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: test\r\n");
    for (name, value) in headers {
        req.push_str(&format!("{name}: {value}\r\n"));
    }
    req.push_str("\r\n");
    req
}

/// Whether an I/O error means the peer reset or closed the connection.
pub fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}
