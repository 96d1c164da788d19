//! The server's real connection code ([`Conn`]) over an in-memory byte stream, so bytes
//! go in → parse → route → middleware + handler → encoded response out without sockets:
//! [`MemoryConnection`] for the benches, [`serve_bytes`] for the public test client
//! ([`TestClient`](crate::TestClient)).

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;

use super::LoopServer;
use super::config::ServerConfig;
use super::h1::Conn;
use super::transport::Transport;
use crate::router::Router;

/// The peer address requests served in memory report.
pub(crate) const PEER: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 1);

/// A byte stream that reads what a test put in, then its end, and keeps what is written.
#[derive(Debug, Default)]
struct MemoryStream {
    input: Vec<u8>,
    read: usize,
    output: Vec<u8>,
}

impl MemoryStream {
    /// Moves what is left of the input into `buf`'s spare capacity.
    fn take_into(&mut self, buf: &mut Vec<u8>) -> usize {
        let rest = &self.input[self.read..];
        let n = rest.len().min(buf.capacity() - buf.len());
        buf.extend_from_slice(&rest[..n]);
        self.read += n;
        n
    }
}

impl Transport for MemoryStream {
    async fn read_buf(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        Ok(self.take_into(buf))
    }

    async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.output.extend_from_slice(buf);
        Ok(())
    }

    fn try_read_buf(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        Ok(self.take_into(buf))
    }
}

/// Serves `input` on a fresh connection of `server` from `peer`, whose client sends all
/// of it at once and then half-closes; returns every byte the server wrote back.
///
/// # Errors
///
/// What the connection's task would log as an I/O error (none arise in memory today).
pub(crate) async fn serve_bytes(
    server: Rc<LoopServer>,
    peer: SocketAddr,
    input: Vec<u8>,
) -> io::Result<Vec<u8>> {
    let stream = MemoryStream {
        input,
        read: 0,
        output: Vec::new(),
    };
    let mut conn = Conn::new(stream, peer, server);
    conn.run().await?;
    Ok(std::mem::take(&mut conn.stream_mut().output))
}

/// One server connection whose peer is memory: [`serve`](MemoryConnection::serve) hands
/// it a client's bytes and returns the server's. It runs the code a TCP connection runs
/// (keep-alive, pipelining, limits, middleware, error rendering) and reuses its buffers
/// between calls. Not a stable API: it exists for `benches/`.
///
/// It must be driven on a Keel loop (`keel_runtime::block_on`), whose timers back the
/// connection's timeouts.
pub struct MemoryConnection {
    conn: Conn<MemoryStream>,
}

impl MemoryConnection {
    /// A connection served by `router` with `config`, from the peer `127.0.0.1:1`.
    pub fn new(router: Router, config: ServerConfig) -> MemoryConnection {
        let server = Rc::new(LoopServer::new(router, config, None));
        MemoryConnection {
            conn: Conn::new(MemoryStream::default(), PEER, server),
        }
    }

    /// Serves `input` as a fresh connection whose client sends all of it at once and then
    /// half-closes, and returns every byte the server wrote back.
    ///
    /// # Errors
    ///
    /// What the connection's task would log as an I/O error (none arise in memory today).
    pub async fn serve(&mut self, input: &[u8]) -> io::Result<&[u8]> {
        self.conn.reset();
        let stream = self.conn.stream_mut();
        stream.input.clear();
        stream.input.extend_from_slice(input);
        stream.read = 0;
        stream.output.clear();
        self.conn.run().await?;
        Ok(&self.conn.stream_mut().output)
    }
}

impl std::fmt::Debug for MemoryConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryConnection").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(haystack: &[u8], needle: &[u8]) -> usize {
        haystack
            .windows(needle.len())
            .filter(|w| *w == needle)
            .count()
    }

    #[test]
    fn serves_pipelined_requests_and_reuses_the_connection() {
        let router = Router::new().get("/hi/:name", |p: crate::Params| async move {
            format!("hi {}", p.get("name").unwrap_or("?"))
        });
        let mut conn = MemoryConnection::new(router, ServerConfig::default());
        keel_runtime::block_on(async {
            let two = b"GET /hi/a HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n";
            let out = conn.serve(two).await.expect("serve").to_vec();
            assert!(out.starts_with(b"HTTP/1.1 200 OK\r\n"), "{out:?}");
            assert_eq!(count(&out, b"HTTP/1.1 "), 2);
            assert!(count(&out, b"\r\n\r\nhi a") == 1);
            assert!(count(&out, b"HTTP/1.1 404 ") == 1);

            // A second call is a fresh connection: an unfinished head left no trace.
            let partial = conn
                .serve(b"GET /hi/b HTTP/1.1\r\nHo")
                .await
                .expect("serve");
            assert!(partial.is_empty(), "{partial:?}");
            let out = conn
                .serve(b"GET /hi/c HTTP/1.0\r\n\r\n")
                .await
                .expect("serve");
            assert!(out.starts_with(b"HTTP/1.1 200 OK\r\n"), "{out:?}");
            assert!(out.ends_with(b"\r\n\r\nhi c"), "{out:?}");
        });
    }
}
