//! Name resolution off the loop: [`lookup_host`] runs `getaddrinfo` as a
//! [`Class::Dns`](crate::blocking::Class::Dns) job on the blocking pool (capped at half
//! the pool by default, so slow lookups cannot starve the file system), and
//! [`ToSocketAddrs`], the argument type of [`lookup_host`] and
//! [`TcpStream::connect`](super::TcpStream::connect), which tells addresses that need
//! no lookup from host names that do.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::blocking::{self, Class};
use crate::fs::job_error;

/// Resolves `host` (`"example.com:443"`, `("example.com", 443)`, or an address) to
/// socket addresses. Addresses and IP literals are returned at once; host names are
/// looked up with the OS resolver on the blocking pool's DNS class, waiting for room
/// when its queue is full.
///
/// # Errors
///
/// A string without a valid `:port`, the resolver's error (for an unknown host), or a
/// pool failure (kind `Other`, source the pool error).
///
/// # Examples
///
/// ```
/// keel_runtime::block_on(async {
///     let addrs = keel_runtime::net::lookup_host("localhost:80").await.unwrap();
///     assert!(addrs.iter().all(|a| a.port() == 80 && a.ip().is_loopback()));
/// });
/// ```
pub async fn lookup_host(host: impl ToSocketAddrs) -> io::Result<Vec<SocketAddr>> {
    match host.to_target()? {
        Target::Ready(addrs) => Ok(addrs),
        Target::Lookup(host, port) => {
            let permit = blocking::reserve(Class::Dns).await.map_err(job_error)?;
            let job = permit.spawn(move || {
                std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
                    .map(Iterator::collect)
            });
            job.await.map_err(job_error)?
        }
    }
}

use self::sealed::Target;

/// Public items in a private module: nameable by no one outside, so the set of
/// implementations and their one method can change freely (tokio's pattern).
mod sealed {
    use std::net::SocketAddr;

    /// What a [`ToSocketAddrs`](super::ToSocketAddrs) value needs: nothing, or a lookup
    /// of a host name and port.
    #[derive(Debug)]
    pub enum Target {
        Ready(Vec<SocketAddr>),
        Lookup(String, u16),
    }

    /// The one method of [`ToSocketAddrs`](super::ToSocketAddrs).
    pub trait Sealed {
        #[doc(hidden)]
        fn to_target(&self) -> std::io::Result<Target>;
    }
}

/// Values that name a socket address, perhaps by host name: socket addresses,
/// `(ip, port)`, `(host, port)`, and `"host:port"` strings. The async counterpart of
/// `std::net::ToSocketAddrs`; host names are resolved on the blocking pool. Sealed.
///
/// # Examples
///
/// ```
/// use keel_runtime::net::lookup_host;
///
/// keel_runtime::block_on(async {
///     let literal = lookup_host("127.0.0.1:8080").await.unwrap();
///     assert_eq!(literal, vec!["127.0.0.1:8080".parse().unwrap()]);
///     let pair = lookup_host(("127.0.0.1", 9)).await.unwrap();
///     assert_eq!(pair[0].port(), 9);
/// });
/// ```
pub trait ToSocketAddrs: sealed::Sealed {}

fn ready(addr: impl Into<SocketAddr>) -> io::Result<Target> {
    Ok(Target::Ready(vec![addr.into()]))
}

fn host_port(host: &str, port: u16) -> io::Result<Target> {
    match host.parse::<IpAddr>() {
        Ok(ip) => ready((ip, port)),
        Err(_) => Ok(Target::Lookup(host.to_owned(), port)),
    }
}

fn host_and_port(s: &str) -> io::Result<Target> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return ready(addr);
    }
    let invalid = || io::Error::new(io::ErrorKind::InvalidInput, "invalid socket address");
    let (host, port) = s.rsplit_once(':').ok_or_else(invalid)?;
    let port: u16 = port.parse().map_err(|_| invalid())?;
    host_port(host, port)
}

macro_rules! impl_to_socket_addrs {
    ($($ty:ty => |$v:ident| $body:expr;)*) => {$(
        impl sealed::Sealed for $ty {
            fn to_target(&self) -> io::Result<Target> {
                let $v = self;
                $body
            }
        }
        impl ToSocketAddrs for $ty {}
    )*};
}

impl_to_socket_addrs! {
    SocketAddr => |a| ready(*a);
    SocketAddrV4 => |a| ready(*a);
    SocketAddrV6 => |a| ready(*a);
    (IpAddr, u16) => |a| ready(*a);
    (Ipv4Addr, u16) => |a| ready(*a);
    (Ipv6Addr, u16) => |a| ready(*a);
    (&str, u16) => |a| host_port(a.0, a.1);
    (String, u16) => |a| host_port(&a.0, a.1);
    str => |s| host_and_port(s);
    String => |s| host_and_port(s);
    [SocketAddr] => |s| Ok(Target::Ready(s.to_vec()));
    Vec<SocketAddr> => |s| Ok(Target::Ready(s.clone()));
}

impl<T: ToSocketAddrs + ?Sized> sealed::Sealed for &T {
    fn to_target(&self) -> io::Result<Target> {
        (**self).to_target()
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}

#[cfg(test)]
mod tests {
    use super::sealed::Sealed;
    use super::*;

    #[test]
    fn literals_need_no_lookup() {
        for s in ["127.0.0.1:80", "[::1]:443"] {
            assert!(matches!(s.to_target().unwrap(), Target::Ready(_)), "{s}");
        }
        assert!(matches!(
            ("10.0.0.1", 5).to_target().unwrap(),
            Target::Ready(_)
        ));
        match "example.com:443".to_target().unwrap() {
            Target::Lookup(host, port) => assert_eq!((host.as_str(), port), ("example.com", 443)),
            other => panic!("{other:?}"),
        }
        for bad in ["example.com", "example.com:http", "example.com:70000"] {
            let err = bad.to_target().unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad}");
        }
    }
}
