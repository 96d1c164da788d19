//! The access log: one line (`keel_http::access`, info) per answered request (method,
//! protocol, route or path, status, duration, bytes, remote address), under the
//! request's context so it carries the request id. Off with `KEEL_ACCESS_LOG=off`, or
//! filtered out like any other `tracing` target (`LOG_LEVEL=info,keel_http::access=off`).
//!
//! With Keel's logger installed the line is written straight into it
//! ([`keel_runtime::log::write_line`]: into the loop's batch, with no `tracing` event
//! dispatched and no allocation), after the filter was asked; other `tracing` layers do
//! not see it. Without Keel's logger (a subscriber of your own) it is an ordinary
//! `tracing` event with the same fields.

use std::fmt::{self, Write as _};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use keel_runtime::log;
use keel_runtime::task_context::{self, Context};
use tracing::Level;

use crate::proto::{Method, Version};

/// What one access log line says about a request.
pub(crate) struct AccessLine<'a> {
    /// The precise start, kept only when the access log is on.
    pub(crate) started: Option<Instant>,
    pub(crate) method: &'a Method,
    /// `HTTP/1.0`, `HTTP/1.1` or `HTTP/2`.
    pub(crate) protocol: Version,
    /// The route pattern it matched.
    pub(crate) route: Option<&'a str>,
    /// The path, for a request no route matched.
    pub(crate) path: Option<&'a str>,
    pub(crate) ctx: &'a Context,
    pub(crate) peer: SocketAddr,
    /// The client's address from a trusted proxy, when not the peer's.
    pub(crate) forwarded_ip: Option<IpAddr>,
    pub(crate) status: u16,
    /// Body bytes written.
    pub(crate) bytes: u64,
}

/// Whether lines would be written at all: the setting, and the `tracing` filter.
#[inline]
pub(crate) fn enabled(setting: bool) -> bool {
    setting && tracing::enabled!(target: "keel_http::access", Level::INFO)
}

/// Writes the line.
pub(crate) fn write(line: &AccessLine<'_>) {
    let duration: Duration = line.started.map_or(Duration::ZERO, |s| s.elapsed());
    let duration_ms = (duration.as_secs_f64() * 1e6).round() / 1e3;
    // `remote`: the client's address from a trusted proxy (no port), or the peer's
    // socket address.
    let remote = match line.forwarded_ip {
        Some(ip) => AddrText::new(ip, None),
        None => AddrText::new(line.peer.ip(), Some(line.peer.port())),
    };
    let proxy = line
        .forwarded_ip
        .map(|_| AddrText::new(line.peer.ip(), Some(line.peer.port())));
    let proxy = proxy.as_ref().map(AddrText::as_str);
    let written = log::write_line(
        Level::INFO,
        "keel_http::access",
        "request",
        Some(line.ctx),
        |fields| {
            fields.str("method", line.method.as_str());
            fields.str("protocol", line.protocol.as_str());
            fields.opt_str("route", line.route);
            fields.opt_str("path", line.path);
            fields.unsigned("status", line.status.into());
            fields.float("duration_ms", duration_ms);
            fields.unsigned("bytes", line.bytes);
            fields.str("remote", remote.as_str());
            fields.opt_str("proxy", proxy);
        },
    );
    if written {
        return;
    }
    task_context::enter(Some(line.ctx.clone()), || {
        tracing::info!(
            target: "keel_http::access",
            method = line.method.as_str(),
            protocol = line.protocol.as_str(),
            route = line.route,
            path = line.path,
            status = line.status,
            duration_ms,
            bytes = line.bytes,
            remote = remote.as_str(),
            proxy,
            "request"
        );
    });
}

/// An address as text (`127.0.0.1:8080`, `[::1]:8080`, or without the port), written
/// into a buffer on the stack: IPv4 by hand, IPv6 through `Display`.
struct AddrText {
    buf: [u8; 64],
    len: usize,
}

impl AddrText {
    fn new(ip: IpAddr, port: Option<u16>) -> AddrText {
        let mut text = AddrText {
            buf: [0; 64],
            len: 0,
        };
        match (ip, port) {
            (IpAddr::V4(v4), _) => {
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        text.push(b'.');
                    }
                    text.number(octet.into());
                }
                if let Some(port) = port {
                    text.push(b':');
                    text.number(port);
                }
            }
            (IpAddr::V6(v6), Some(port)) => {
                let _ = write!(text, "[{v6}]:{port}");
            }
            (IpAddr::V6(v6), None) => {
                let _ = write!(text, "{v6}");
            }
        }
        text
    }

    fn push(&mut self, b: u8) {
        if self.len < self.buf.len() {
            self.buf[self.len] = b;
            self.len += 1;
        }
    }

    fn number(&mut self, n: u16) {
        let mut started = false;
        for div in [10_000, 1000, 100, 10, 1] {
            let digit = (n / div % 10) as u8;
            if started || digit != 0 || div == 1 {
                self.push(b'0' + digit);
                started = true;
            }
        }
    }

    fn as_str(&self) -> &str {
        // Only ASCII was written.
        keel_runtime::ascii::as_str(&self.buf[..self.len]).unwrap_or("")
    }
}

impl fmt::Write for AddrText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        s.bytes().for_each(|b| self.push(b));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    #[test]
    fn addresses_as_display_writes_them() {
        let v4 = [
            Ipv4Addr::new(127, 0, 0, 1),
            Ipv4Addr::new(0, 0, 0, 0),
            Ipv4Addr::new(255, 10, 100, 9),
        ];
        for ip in v4 {
            for port in [0, 7, 80, 8080, 65535] {
                let addr = SocketAddr::from((ip, port));
                assert_eq!(
                    AddrText::new(addr.ip(), Some(port)).as_str(),
                    addr.to_string()
                );
            }
            assert_eq!(AddrText::new(ip.into(), None).as_str(), ip.to_string());
        }
        let v6: Ipv6Addr = "2001:db8::ff00:42:8329".parse().unwrap();
        let addr = SocketAddr::from((v6, 443));
        assert_eq!(
            AddrText::new(addr.ip(), Some(443)).as_str(),
            addr.to_string()
        );
        assert_eq!(AddrText::new(v6.into(), None).as_str(), v6.to_string());
    }
}
