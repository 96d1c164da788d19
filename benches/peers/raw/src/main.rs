//! A raw mio responder: the practical HTTP ceiling of this machine, not a server.
//!
//! One thread, one `mio::Poll`, `127.0.0.1:PORT`. It never parses a request: it counts the
//! `\r\n\r\n` head terminators in what each read returns (carrying a partial match across
//! reads, so pipelined requests split anywhere are still counted once) and answers each with
//! the same canned `HTTP/1.1 200 OK` plaintext bytes. Whatever a real server does per request
//! costs more than this, so `benches/load/run.sh` reads Keel's figure as a share of this one.

use std::collections::HashMap;
use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

/// The same header set Keel and hyper send for `/plaintext`, with a fixed `Date`.
const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 13\r\n\
date: Wed, 25 Nov 2026 12:00:00 GMT\r\n\r\nHello, World!";
const TERMINATOR: &[u8; 4] = b"\r\n\r\n";
const LISTENER: Token = Token(usize::MAX);

/// One connection: its socket, how much of `\r\n\r\n` the last read ended in, and the
/// response bytes the socket has not taken yet.
struct Conn {
    stream: TcpStream,
    matched: usize,
    out: Vec<u8>,
}

impl Conn {
    /// Counts the request heads that end in `buf`, carrying a partial terminator over.
    fn count_heads(&mut self, buf: &[u8]) -> usize {
        let mut heads = 0;
        for &b in buf {
            self.matched = if b == TERMINATOR[self.matched] {
                self.matched + 1
            } else if b == b'\r' {
                1
            } else {
                0
            };
            if self.matched == TERMINATOR.len() {
                heads += 1;
                self.matched = 0;
            }
        }
        heads
    }

    /// Reads until the socket is drained, then writes what it owes. `Ok(false)`: closed.
    fn on_ready(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        loop {
            match self.stream.read(buf) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    let heads = self.count_heads(&buf[..n]);
                    for _ in 0..heads {
                        self.out.extend_from_slice(RESPONSE);
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        while !self.out.is_empty() {
            match self.stream.write(&self.out) {
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}

fn port() -> u16 {
    std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000)
}

fn main() -> io::Result<()> {
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port())))?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    println!("peer-raw: listening on http://{}", listener.local_addr()?);

    let mut conns: HashMap<usize, Conn> = HashMap::new();
    let mut next = 0usize;
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for event in &events {
            if event.token() == LISTENER {
                loop {
                    match listener.accept() {
                        Ok((mut stream, _)) => {
                            stream.set_nodelay(true)?;
                            let token = Token(next);
                            next += 1;
                            poll.registry().register(
                                &mut stream,
                                token,
                                Interest::READABLE | Interest::WRITABLE,
                            )?;
                            let conn = Conn {
                                stream,
                                matched: 0,
                                out: Vec::with_capacity(16 * RESPONSE.len()),
                            };
                            conns.insert(token.0, conn);
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    }
                }
                continue;
            }
            let key = event.token().0;
            let open = match conns.get_mut(&key) {
                Some(conn) => conn.on_ready(&mut buf).unwrap_or(false),
                None => continue,
            };
            if !open {
                if let Some(mut conn) = conns.remove(&key) {
                    let _ = poll.registry().deregister(&mut conn.stream);
                }
            }
        }
    }
}
