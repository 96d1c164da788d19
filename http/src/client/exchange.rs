//! [`Exchange`]: one request on the wire — encoded to HTTP/1.1 and sent on an idle pooled
//! connection when there is one, else on a new connection, under the connect, request and
//! total timeouts — and the redirects it follows as the client allows.

use std::rc::Rc;
use std::time::Instant;

use keel_runtime::time::timeout_at;
use keel_runtime::trace::SpanContext;

use super::builder::Config;
use super::connection::Connection;
use super::error::{ClientError, TimeoutPhase};
use super::inner::Inner;
use super::response::Response;
use super::url::{Scheme, Url};
use crate::proto::method::Method;

/// One request as sent on the wire, changed by each redirect.
#[derive(Clone)]
pub(crate) struct Exchange {
    url: Url,
    method: Method,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl Exchange {
    /// The request `method url` with `headers` and `body`, as the caller built it.
    pub(crate) fn new(
        url: Url,
        method: Method,
        headers: Vec<(String, String)>,
        body: Option<Vec<u8>>,
    ) -> Exchange {
        Exchange {
            url,
            method,
            headers,
            body,
        }
    }

    /// The method.
    pub(crate) fn method(&self) -> &Method {
        &self.method
    }

    /// Sends the request, following redirects as the client allows; `start` is when
    /// the call began (the total timeout counts from it).
    pub(crate) async fn follow(
        mut self,
        client: &Rc<Inner>,
        start: Instant,
    ) -> Result<Response, ClientError> {
        let total = client
            .config
            .total_timeout
            .map(|t| (start + t, TimeoutPhase::Total));
        let mut redirects = 0;
        loop {
            let res = self.send_once(client, total).await?;
            let Some(location) = redirect_location(&res) else {
                return Ok(res);
            };
            if client.config.max_redirects == 0 {
                return Ok(res);
            }
            if redirects == client.config.max_redirects {
                return Err(ClientError::TooManyRedirects(redirects));
            }
            redirects += 1;
            let status = res.status().as_u16();
            let next = resolve(&self.url, &location)?;
            // Read the redirect's body so its connection can be reused; a failure there
            // only costs the connection.
            let _ = res.bytes().await;
            self.redirect(status, next);
        }
    }

    /// One request on the wire, inside its client span when tracing is on.
    async fn send_once(
        &self,
        client: &Rc<Inner>,
        total: Option<(Instant, TimeoutPhase)>,
    ) -> Result<Response, ClientError> {
        let Some(span) = super::span::start(&self.method, &self.url, &self.headers) else {
            return self.exchange(client, total, None).await;
        };
        let result = self.exchange(client, total, Some(span.context())).await;
        super::span::end(span, &result);
        result
    }

    /// Sends the request on a pooled or new connection and reads the response head;
    /// `trace` is written as its `traceparent`.
    async fn exchange(
        &self,
        client: &Rc<Inner>,
        total: Option<(Instant, TimeoutPhase)>,
        trace: Option<&SpanContext>,
    ) -> Result<Response, ClientError> {
        let config = &client.config;
        let url = &self.url;
        let request_close = self.headers.iter().any(|(n, v)| {
            n.eq_ignore_ascii_case("connection")
                && v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close"))
        });
        let bytes = encode(
            &self.method,
            url,
            &self.headers,
            self.body.as_deref(),
            config,
            trace,
        );
        let head_request = self.method == Method::Head;
        let idempotent = matches!(
            self.method,
            Method::Get
                | Method::Head
                | Method::Put
                | Method::Delete
                | Method::Options
                | Method::Trace
        );
        let key = (url.scheme, url.host.clone(), url.port);
        let tls = match url.scheme {
            Scheme::Http => None,
            Scheme::Https => Some(client.tls.as_ref().map_err(|reason| ClientError::Tls {
                host: url.host.clone(),
                reason: reason.clone(),
            })?),
        };

        let mut may_reuse = true;
        loop {
            let pooled = if may_reuse {
                client.pool.take(&key)
            } else {
                None
            };
            let reused = pooled.is_some();
            let mut conn = match pooled {
                Some(conn) => conn,
                None => {
                    let deadline = earliest(
                        (
                            Instant::now() + config.connect_timeout,
                            TimeoutPhase::Connect,
                        ),
                        total,
                    );
                    let connect = Connection::connect(&url.host, url.port, tls);
                    match timeout_at(deadline.0, connect).await {
                        Err(_) => return Err(ClientError::Timeout(deadline.1)),
                        Ok(Err(e)) => return Err(e),
                        Ok(Ok(conn)) => conn,
                    }
                }
            };
            let deadline = earliest(
                (
                    Instant::now() + config.request_timeout,
                    TimeoutPhase::Request,
                ),
                total,
            );
            let exchange = async {
                conn.write_all(&bytes).await?;
                conn.read_head(
                    config.max_head_size,
                    config.max_headers,
                    head_request,
                    false,
                )
                .await
            };
            match timeout_at(deadline.0, exchange).await {
                Err(_) => return Err(ClientError::Timeout(deadline.1)),
                Ok(Ok(head)) => {
                    return Ok(Response::new(
                        head,
                        conn,
                        request_close,
                        Some(deadline),
                        Rc::clone(client),
                        key,
                    ));
                }
                Ok(Err(ClientError::Io(_))) if reused && idempotent && !conn.received_any => {
                    // The server closed the idle connection as we reused it: try a new one.
                    may_reuse = false;
                }
                Ok(Err(e)) => return Err(e),
            }
        }
    }

    /// Becomes the request a `status` redirect to `next` asks for (RFC 9110 §15.4): `303`
    /// (and `301`/`302` after a `POST`) turn into a bodiless `GET`; `307`/`308` keep the
    /// method and body. Credentials are not carried to another origin (scheme, host or
    /// port).
    fn redirect(&mut self, status: u16, next: Url) {
        let to_get = (status == 303 && self.method != Method::Head)
            || (matches!(status, 301 | 302) && self.method == Method::Post);
        if to_get {
            self.method = Method::Get;
            self.body = None;
            self.headers
                .retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
        }
        if (next.scheme, next.host.as_str(), next.port)
            != (self.url.scheme, self.url.host.as_str(), self.url.port)
        {
            self.headers.retain(|(n, _)| {
                !["authorization", "cookie", "proxy-authorization", "host"]
                    .iter()
                    .any(|h| n.eq_ignore_ascii_case(h))
            });
        }
        self.url = next;
    }
}

/// The `Location` of a redirect response (`301`, `302`, `303`, `307`, `308`).
fn redirect_location(res: &Response) -> Option<String> {
    match res.status().as_u16() {
        301 | 302 | 303 | 307 | 308 => res.header("location").map(str::to_owned),
        _ => None,
    }
}

/// `location` resolved against `base`: absolute, scheme-relative (`//host/p`),
/// absolute-path (`/p`) or relative to the base path's directory (`p`).
fn resolve(base: &Url, location: &str) -> Result<Url, ClientError> {
    let location = location.trim();
    if location.contains("://") {
        return Url::parse(location);
    }
    let scheme = base.scheme.as_str();
    let origin = format!("{scheme}://{}", base.authority);
    if let Some(rest) = location.strip_prefix("//") {
        return Url::parse(&format!("{scheme}://{rest}"));
    }
    if location.starts_with('/') {
        return Url::parse(&format!("{origin}{location}"));
    }
    let path = base.target.split('?').next().unwrap_or("/");
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    Url::parse(&format!("{origin}{dir}{location}"))
}

/// The earlier of a phase deadline and the total deadline.
fn earliest(
    phase: (Instant, TimeoutPhase),
    total: Option<(Instant, TimeoutPhase)>,
) -> (Instant, TimeoutPhase) {
    match total {
        Some(total) if total.0 <= phase.0 => total,
        _ => phase,
    }
}

/// The request as sent: request line, `Host`, `User-Agent`, the caller's fields,
/// `traceparent` and `tracestate` for `trace`, `Content-Length`, then the body.
fn encode(
    method: &Method,
    url: &Url,
    headers: &[(String, String)],
    body: Option<&[u8]>,
    config: &Config,
    trace: Option<&SpanContext>,
) -> Vec<u8> {
    let body_len = body.map_or(0, <[u8]>::len);
    let mut out = Vec::with_capacity(128 + url.target.len() + body_len);
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(url.target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let mut line = |name: &str, value: &str| {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    };
    let has = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    if !has("host") {
        line("Host", &url.authority);
    }
    if let Some(agent) = &config.user_agent
        && !has("user-agent")
    {
        line("User-Agent", agent);
    }
    for (name, value) in headers {
        line(name, value);
    }
    if let Some(trace) = trace {
        line("traceparent", &trace.traceparent());
        if let Some(state) = trace.tracestate()
            && !has("tracestate")
        {
            line("tracestate", state);
        }
    }
    // A body, or a method that defines one (RFC 9110 §8.6: send 0 rather than nothing).
    if body.is_some() || matches!(method, Method::Post | Method::Put | Method::Patch) {
        line("Content-Length", &body_len.to_string());
    }
    out.extend_from_slice(b"\r\n");
    if let Some(body) = body {
        out.extend_from_slice(body);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientBuilder;

    #[test]
    fn encodes_request_line_host_and_framing() {
        let config = ClientBuilder::new().user_agent(None).build();
        let url = Url::parse("http://example.com:8080/a?b=1").unwrap();
        let bytes = encode(
            &Method::Post,
            &url,
            &[("X-Id".into(), "7".into())],
            Some(b"hi"),
            &config.inner.config,
            None,
        );
        assert_eq!(
            bytes,
            b"POST /a?b=1 HTTP/1.1\r\nHost: example.com:8080\r\nX-Id: 7\r\nContent-Length: 2\r\n\r\nhi"
        );
        let bytes = encode(&Method::Get, &url, &[], None, &config.inner.config, None);
        assert_eq!(
            bytes,
            b"GET /a?b=1 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n"
        );
    }

    #[test]
    fn trace_context_is_written_after_the_callers_fields() {
        let config = ClientBuilder::new().user_agent(None).build();
        let url = Url::parse("http://up/x").unwrap();
        let trace = SpanContext::parse_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .unwrap()
        .with_tracestate(Some("a=1"));
        let bytes = encode(
            &Method::Get,
            &url,
            &[],
            None,
            &config.inner.config,
            Some(&trace),
        );
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "GET /x HTTP/1.1\r\nHost: up\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\ntracestate: a=1\r\n\r\n"
        );
        // A caller's own tracestate is kept, not doubled.
        let own = [("tracestate".to_owned(), "mine=2".to_owned())];
        let bytes = encode(
            &Method::Get,
            &url,
            &own,
            None,
            &config.inner.config,
            Some(&trace),
        );
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(text.matches("tracestate").count(), 1, "{text}");
        assert!(text.contains("tracestate: mine=2\r\n"));
    }

    #[test]
    fn redirect_locations_resolve_against_the_request() {
        let base = Url::parse("http://api:8080/v1/items/7?x=1").unwrap();
        let target = |loc: &str| {
            let u = resolve(&base, loc).unwrap();
            format!("{}:{}{}", u.host, u.port, u.target)
        };
        assert_eq!(target("http://other/a"), "other:80/a");
        assert_eq!(target("//other:81/b"), "other:81/b");
        assert_eq!(target("/root?q"), "api:8080/root?q");
        assert_eq!(target("8"), "api:8080/v1/items/8");
        assert!(matches!(
            resolve(&base, "ftp://files/"),
            Err(ClientError::InvalidUrl(_))
        ));
        let secure = Url::parse("https://api/v1/x").unwrap();
        let next = resolve(&secure, "//other/y").unwrap();
        assert_eq!((next.scheme, next.port), (Scheme::Https, 443));
        let next = resolve(&secure, "/z").unwrap();
        assert_eq!((next.scheme, next.target.as_str()), (Scheme::Https, "/z"));
    }

    #[test]
    fn redirects_change_method_and_drop_credentials_across_hosts() {
        let mut ex = Exchange {
            url: Url::parse("http://a/login").unwrap(),
            method: Method::Post,
            headers: vec![
                ("Authorization".into(), "Bearer t".into()),
                ("Content-Type".into(), "application/json".into()),
                ("X-Keep".into(), "1".into()),
            ],
            body: Some(b"{}".to_vec()),
        };
        ex.redirect(307, Url::parse("http://a/again").unwrap());
        assert_eq!(
            (&ex.method, ex.body.is_some(), ex.headers.len()),
            (&Method::Post, true, 3)
        );
        // Same host, another scheme: another origin, so the credentials stay behind.
        let mut to_plain = ex.clone();
        to_plain.redirect(307, Url::parse("https://a/again").unwrap());
        assert_eq!(to_plain.headers.len(), 2);
        ex.redirect(303, Url::parse("http://b/done").unwrap());
        assert_eq!(ex.method, Method::Get);
        assert!(ex.body.is_none());
        assert_eq!(ex.headers, vec![("X-Keep".to_owned(), "1".to_owned())]);
    }
}
