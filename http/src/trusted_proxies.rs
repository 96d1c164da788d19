//! [`TrustedProxies`]: which peers may tell us the client's address, and the walk that
//! finds that address in `X-Forwarded-For` (or RFC 7239 `Forwarded`) without believing
//! anything a client wrote itself (described on the type).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use keel_runtime::env::EnvError;

use crate::proto::RequestHead;

/// What [`TrustedProxies::parse`] accepts, for error messages.
const EXPECTED: &str = "a comma-separated list of IP addresses, CIDR ranges (10.0.0.0/8, fd00::/8) \
     or the names loopback, linklocal, uniquelocal";

/// Which header trusted proxies put the client's address in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (the de facto standard; nginx, HAProxy,
    /// cloud load balancers).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for="[2001:db8::1]:4711"`: its `for=` parameters.
    Forwarded,
}

impl ForwardedHeader {
    /// The header's name, lowercase.
    pub fn name(self) -> &'static str {
        match self {
            ForwardedHeader::XForwardedFor => "x-forwarded-for",
            ForwardedHeader::Forwarded => "forwarded",
        }
    }
}

/// An address range: an address and a prefix length.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }

    /// `10.0.0.0/8`, `::1`, `fd00::/8` (an IPv4-mapped IPv6 range is stored as IPv4).
    fn parse(text: &str) -> Option<Net> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr.trim().parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.trim().parse::<u8>().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(match addr {
            IpAddr::V6(v6) if prefix >= 96 && v6.to_ipv4_mapped().is_some() => Net {
                addr: addr.to_canonical(),
                prefix: prefix - 96,
            },
            _ => Net { addr, prefix },
        })
    }
}

impl fmt::Debug for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The ranges behind a name Express also accepts.
fn named(name: &str) -> Option<&'static [(IpAddr, u8)]> {
    const LOOPBACK: &[(IpAddr, u8)] = &[
        (IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)), 8),
        (IpAddr::V6(Ipv6Addr::LOCALHOST), 128),
    ];
    const LINKLOCAL: &[(IpAddr, u8)] = &[
        (IpAddr::V4(Ipv4Addr::new(169, 254, 0, 0)), 16),
        (IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0)), 10),
    ];
    const UNIQUELOCAL: &[(IpAddr, u8)] = &[
        (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 0)), 8),
        (IpAddr::V4(Ipv4Addr::new(172, 16, 0, 0)), 12),
        (IpAddr::V4(Ipv4Addr::new(192, 168, 0, 0)), 16),
        (IpAddr::V6(Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0)), 7),
    ];
    match name.to_ascii_lowercase().as_str() {
        "loopback" => Some(LOOPBACK),
        "linklocal" => Some(LINKLOCAL),
        "uniquelocal" => Some(UNIQUELOCAL),
        _ => None,
    }
}

/// The proxies (load balancers, ingress controllers) whose `X-Forwarded-For` is
/// believed, and which header they set. Empty by default: the client is the peer.
///
/// Set on [`ServerConfig::trusted_proxies`](crate::ServerConfig::trusted_proxies), or
/// with `KEEL_TRUSTED_PROXIES` (and `KEEL_FORWARDED_HEADER`). The address found is
/// [`Request::client_ip`](crate::Request::client_ip), the rate limiter's default key,
/// and the access log's `remote`.
///
/// # The walk
///
/// A proxy appends the address it received the request from to the header; a client can
/// put anything at the front. So the list is read from the right, as Express's
/// `trust proxy` and nginx's `real_ip_recursive on` do: start at the peer (the socket's
/// address); while the current address is a trusted proxy, step to the entry before it.
/// The first address that is not a trusted proxy is the client. Entries left of it were
/// written by the client or an untrusted hop and are never read. A malformed entry (or
/// `unknown`, or an obfuscated `Forwarded` identifier) stops the walk at the trusted hop
/// that passed it on. When every entry is a trusted proxy, the left-most is the client.
///
/// A peer that is not a trusted proxy is the client, whatever its headers say. With no
/// trusted proxies (the default) the headers are never read.
///
/// List every proxy hop in front of the server, and only those: a range that also holds
/// clients lets those clients choose their own address.
///
/// # Examples
///
/// ```
/// use std::net::IpAddr;
/// use keel_http::TrustedProxies;
///
/// let proxies = TrustedProxies::parse("10.0.0.0/8, loopback")?;
/// assert!(proxies.contains("10.1.2.3".parse::<IpAddr>().unwrap()));
/// assert!(proxies.contains("::1".parse::<IpAddr>().unwrap()));
/// assert!(!proxies.contains("203.0.113.9".parse::<IpAddr>().unwrap()));
///
/// // Read right to left: the proxy 10.0.0.2 got the request from 10.0.0.1 (trusted too),
/// // which got it from 198.51.100.7; "1.2.3.4" is whatever the client claimed.
/// let peer: IpAddr = "10.0.0.2".parse().unwrap();
/// let client = proxies.client_ip(peer, ["1.2.3.4, 198.51.100.7, 10.0.0.1"]);
/// assert_eq!(client, "198.51.100.7".parse::<IpAddr>().unwrap());
/// # Ok::<(), keel_runtime::env::EnvError>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Arc<[Net]>,
    header: ForwardedHeader,
}

impl TrustedProxies {
    /// No trusted proxies: the client is always the peer.
    pub fn none() -> TrustedProxies {
        TrustedProxies::default()
    }

    /// Parses a comma-separated list of addresses (`10.0.0.7`, `::1`), CIDR ranges
    /// (`10.0.0.0/8`, `fd00::/8`) and the names `loopback`, `linklocal` and
    /// `uniquelocal` (the private ranges: 10/8, 172.16/12, 192.168/16, fc00::/7).
    ///
    /// # Errors
    ///
    /// An entry that is none of those (the error names `KEEL_TRUSTED_PROXIES`).
    pub fn parse(list: &str) -> Result<TrustedProxies, EnvError> {
        TrustedProxies::parse_var("KEEL_TRUSTED_PROXIES", list)
    }

    /// [`parse`](TrustedProxies::parse), naming `name` in the error: the shape of
    /// [`Config::var`](crate::Config::var)'s parsers.
    ///
    /// # Errors
    ///
    /// As for [`parse`](TrustedProxies::parse).
    pub fn parse_var(name: &str, list: &str) -> Result<TrustedProxies, EnvError> {
        let mut nets = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if let Some(ranges) = named(entry) {
                nets.extend(ranges.iter().map(|&(addr, prefix)| Net { addr, prefix }));
                continue;
            }
            match Net::parse(entry) {
                Some(net) => nets.push(net),
                None => return Err(EnvError::new(name, list, EXPECTED)),
            }
        }
        Ok(TrustedProxies {
            nets: nets.into(),
            header: ForwardedHeader::default(),
        })
    }

    /// Reads the client's address from `header` instead.
    ///
    /// # Default
    ///
    /// [`ForwardedHeader::XForwardedFor`].
    pub fn header(mut self, header: ForwardedHeader) -> TrustedProxies {
        self.header = header;
        self
    }

    /// The header read.
    pub fn forwarded_header(&self) -> ForwardedHeader {
        self.header
    }

    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.nets.iter().any(|net| net.contains(ip))
    }

    /// The client's address for a request from `peer` whose forwarding header lines (in
    /// the order received) are `values`: the walk described on [`TrustedProxies`].
    pub fn client_ip<'a>(
        &self,
        peer: IpAddr,
        values: impl IntoIterator<Item = &'a str, IntoIter: DoubleEndedIterator>,
    ) -> IpAddr {
        let mut current = peer.to_canonical();
        if !self.contains(current) {
            return current;
        }
        for value in values.into_iter().rev() {
            for entry in value.rsplit(',') {
                let parsed = match self.header {
                    ForwardedHeader::XForwardedFor => parse_xff_entry(entry),
                    ForwardedHeader::Forwarded => parse_forwarded_element(entry),
                };
                match parsed {
                    Some(ip) => current = ip.to_canonical(),
                    None => return current,
                }
                if !self.contains(current) {
                    return current;
                }
            }
        }
        current
    }

    /// The client's address for a parsed request head from `peer`; `None` when it is the
    /// peer's.
    pub(crate) fn resolve(&self, peer: IpAddr, head: &RequestHead, buf: &[u8]) -> Option<IpAddr> {
        if !self.contains(peer) {
            return None;
        }
        let name = self.header.name().as_bytes();
        let values = head
            .header_pairs(buf)
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| std::str::from_utf8(v).unwrap_or(""))
            // Small and only built for a trusted peer's request.
            .collect::<Vec<_>>();
        let client = self.client_ip(peer, values);
        (client != peer.to_canonical()).then_some(client)
    }
}

impl fmt::Debug for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedProxies")
            .field("nets", &self.nets)
            .field("header", &self.header)
            .finish()
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:80`,
/// `[::1]:80`) or in brackets.
fn parse_xff_entry(entry: &str) -> Option<IpAddr> {
    parse_node(entry.trim())
}

/// An address, `addr:port`, `[v6]` or `[v6]:port`.
fn parse_node(text: &str) -> Option<IpAddr> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    text.strip_prefix('[')?.strip_suffix(']')?.parse().ok()
}

/// The `for=` node of one `Forwarded` element (`for=192.0.2.60;proto=http;by=…`), with
/// its quotes removed; `None` when missing, `unknown` or obfuscated (`_hidden`).
fn parse_forwarded_element(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("for") {
            return None;
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        parse_node(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_and_names_parse() {
        let p = TrustedProxies::parse(" 10.0.0.0/8 ,192.168.1.7, fd00::/8, loopback,").unwrap();
        for yes in ["10.255.0.1", "192.168.1.7", "fd12::1", "127.0.0.2", "::1"] {
            assert!(p.contains(ip(yes)), "{yes}");
        }
        for no in ["11.0.0.1", "192.168.1.8", "fe00::1", "::2", "8.8.8.8"] {
            assert!(!p.contains(ip(no)), "{no}");
        }
        // An IPv4-mapped peer is its IPv4 address.
        assert!(p.contains(ip("::ffff:10.1.1.1")));
        let p = TrustedProxies::parse("::ffff:10.0.0.0/104").unwrap();
        assert!(p.contains(ip("10.9.9.9")));
        // /0 trusts everything of that family.
        let p = TrustedProxies::parse("0.0.0.0/0").unwrap();
        assert!(p.contains(ip("1.2.3.4")) && !p.contains(ip("::1")));
        assert!(TrustedProxies::parse("").unwrap().is_empty());
        let p = TrustedProxies::parse("uniquelocal, LinkLocal").unwrap();
        assert!(p.contains(ip("172.31.0.1")) && p.contains(ip("169.254.1.1")));
        assert!(!p.contains(ip("172.32.0.1")));
    }

    #[test]
    fn bad_entries_are_refused_naming_the_variable() {
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "10.0.0",
            "example.com",
            "10.0.0.1/x",
            "lan",
        ] {
            let err = TrustedProxies::parse(bad).unwrap_err();
            assert_eq!(err.name(), "KEEL_TRUSTED_PROXIES", "{bad}");
        }
    }

    #[test]
    fn the_walk_goes_right_to_left_over_trusted_hops() {
        let p = TrustedProxies::parse("10.0.0.0/8").unwrap();
        // An untrusted peer's header is ignored.
        assert_eq!(
            p.client_ip(ip("203.0.113.1"), ["1.1.1.1"]),
            ip("203.0.113.1")
        );
        // A trusted peer: the entry it appended.
        assert_eq!(p.client_ip(ip("10.0.0.1"), ["1.1.1.1"]), ip("1.1.1.1"));
        // Spoofed entries left of the first untrusted address are never read.
        assert_eq!(
            p.client_ip(ip("10.0.0.1"), ["6.6.6.6, 2.2.2.2, 10.0.0.9"]),
            ip("2.2.2.2")
        );
        // Several header lines are one list, in order.
        assert_eq!(
            p.client_ip(ip("10.0.0.1"), ["6.6.6.6, 2.2.2.2", "10.0.0.9"]),
            ip("2.2.2.2")
        );
        // Every hop trusted: the left-most.
        assert_eq!(
            p.client_ip(ip("10.0.0.1"), ["10.0.0.3, 10.0.0.2"]),
            ip("10.0.0.3")
        );
        // No header: the peer.
        assert_eq!(p.client_ip(ip("10.0.0.1"), []), ip("10.0.0.1"));
        // A malformed entry stops at the hop that passed it on.
        assert_eq!(
            p.client_ip(ip("10.0.0.1"), ["2.2.2.2, garbage, 10.0.0.2"]),
            ip("10.0.0.2")
        );
        assert_eq!(p.client_ip(ip("10.0.0.1"), [""]), ip("10.0.0.1"));
        // Ports and brackets.
        assert_eq!(p.client_ip(ip("10.0.0.1"), ["1.2.3.4:5678"]), ip("1.2.3.4"));
        assert_eq!(
            p.client_ip(ip("10.0.0.1"), ["[2001:db8::1]:80"]),
            ip("2001:db8::1")
        );
        assert_eq!(
            p.client_ip(ip("10.0.0.1"), ["2001:db8::1"]),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn the_forwarded_header_is_read_by_its_for_parameters() {
        let p = TrustedProxies::parse("10.0.0.0/8")
            .unwrap()
            .header(ForwardedHeader::Forwarded);
        assert_eq!(
            p.client_ip(
                ip("10.0.0.1"),
                ["for=6.6.6.6, for=192.0.2.60;proto=http;by=203.0.113.43, For=\"10.0.0.5:80\""]
            ),
            ip("192.0.2.60")
        );
        assert_eq!(
            p.client_ip(ip("10.0.0.1"), ["for=\"[2001:db8:cafe::17]:4711\""]),
            ip("2001:db8:cafe::17")
        );
        // Hidden or unknown: stop at the proxy.
        assert_eq!(p.client_ip(ip("10.0.0.1"), ["for=_hidden"]), ip("10.0.0.1"));
        assert_eq!(p.client_ip(ip("10.0.0.1"), ["for=unknown"]), ip("10.0.0.1"));
        assert_eq!(p.client_ip(ip("10.0.0.1"), ["proto=https"]), ip("10.0.0.1"));
    }
}
