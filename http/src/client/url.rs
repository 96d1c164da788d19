//! Splitting an `http://` or `https://` URL into what a request needs: the scheme, the
//! host and port to connect to, the `Host` header, and the origin-form target.

use super::error::ClientError;

/// How a connection to the URL's host speaks: plain TCP or TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Scheme {
    Http,
    Https,
}

impl Scheme {
    /// `http` or `https`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// The port a URL without one means: 80 or 443.
    pub(crate) fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// An `http://` or `https://` URL, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Url {
    pub(crate) scheme: Scheme,
    /// Host name or IP literal, lowercased, without IPv6 brackets.
    pub(crate) host: String,
    pub(crate) port: u16,
    /// The `Host` header: the authority as given (port omitted when it is the default).
    pub(crate) authority: String,
    /// Path and query (the origin form), `/` when empty; never the fragment.
    pub(crate) target: String,
}

impl Url {
    /// Parses `url`.
    ///
    /// # Errors
    ///
    /// [`ClientError::InvalidUrl`] for a scheme other than `http` or `https`, user info, an empty or
    /// malformed host or port, or bytes not allowed in a request-target.
    pub(crate) fn parse(url: &str) -> Result<Url, ClientError> {
        let bad = |reason: &str| ClientError::InvalidUrl(format!("{reason}: `{url}`"));
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(bad("no scheme (expected http:// or https://)"));
        };
        let scheme = if scheme.eq_ignore_ascii_case("http") {
            Scheme::Http
        } else if scheme.eq_ignore_ascii_case("https") {
            Scheme::Https
        } else {
            return Err(ClientError::InvalidUrl(format!(
                "unsupported scheme `{scheme}` in `{url}`: only http:// and https:// are supported"
            )));
        };
        let default_port = scheme.default_port();
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, target) = rest.split_at(split);
        if authority.contains('@') {
            return Err(bad("user info is not supported"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| bad("unclosed IPv6 literal"))?;
            if host.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(bad("invalid IPv6 literal"));
            }
            match after {
                "" => (host, None),
                _ => (
                    host,
                    Some(after.strip_prefix(':').ok_or_else(|| bad("invalid port"))?),
                ),
            }
        } else {
            match authority.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(bad("empty host"));
        }
        if !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b':'))
        {
            return Err(bad("invalid host"));
        }
        let port = match port {
            None | Some("") => default_port,
            Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse().map_err(|_| bad("invalid port"))?
            }
            Some(_) => return Err(bad("invalid port")),
        };
        // RFC 3986 characters only: no spaces or controls, which would break the request line.
        if !target.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad(
                "the path or query has a space or a non-ASCII byte (percent-encode it)",
            ));
        }
        let target = if target.starts_with('/') {
            target.to_owned()
        } else {
            format!("/{target}")
        };
        let authority = if port == default_port {
            authority
                .split(':')
                .next()
                .map_or_else(String::new, str::to_owned)
        } else {
            authority.to_owned()
        };
        // An IPv6 authority keeps its brackets and port as given.
        let authority = if host.contains(':') {
            if port == default_port {
                format!("[{host}]")
            } else {
                format!("[{host}]:{port}")
            }
        } else {
            authority
        };
        Ok(Url {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
            authority,
            target,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_http_urls() {
        let u = Url::parse("http://Example.com:8080/a/b?x=1#frag").unwrap();
        assert_eq!(u.host, "example.com");
        assert_eq!(u.port, 8080);
        assert_eq!(u.authority, "Example.com:8080");
        assert_eq!(u.target, "/a/b?x=1");

        let u = Url::parse("HTTP://localhost").unwrap();
        assert_eq!(u.scheme, Scheme::Http);
        assert_eq!(
            (u.port, u.target.as_str(), u.authority.as_str()),
            (80, "/", "localhost")
        );

        let u = Url::parse("http://h?q").unwrap();
        assert_eq!(u.target, "/?q");

        let u = Url::parse("https://Secure.example/x").unwrap();
        assert_eq!(
            (u.scheme, u.port, u.authority.as_str()),
            (Scheme::Https, 443, "Secure.example")
        );
        let u = Url::parse("HTTPS://h:80/").unwrap();
        assert_eq!(
            (u.scheme, u.port, u.authority.as_str()),
            (Scheme::Https, 80, "h:80")
        );
        let u = Url::parse("https://h:443/").unwrap();
        assert_eq!(u.authority, "h");

        let u = Url::parse("http://[::1]:9000/x").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.authority.as_str()),
            ("::1", 9000, "[::1]:9000")
        );
    }

    #[test]
    fn refuses_what_it_cannot_send() {
        for url in [
            "ftp://x/",
            "example.com/",
            "http:///path",
            "http://u:p@host/",
            "http://host:99999/",
            "http://host:8o/",
            "http://host/a b",
            "http://[::1/",
            "http://ho st/",
        ] {
            let err = Url::parse(url).unwrap_err();
            assert!(matches!(err, ClientError::InvalidUrl(_)), "{url}: {err}");
        }
        let err = Url::parse("ftp://example.com/").unwrap_err().to_string();
        assert!(err.contains("only http:// and https://"), "{err}");
    }
}
