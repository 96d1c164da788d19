//! [`OtlpExporter`]: POSTs each batch as OTLP/HTTP JSON to the collector, over a plain
//! blocking `std::net` connection — it runs on the `keel-trace` thread, never on a loop,
//! and needs no runtime of its own. One connection per batch (`Connection: close`):
//! batches are seconds apart, and a fresh connection never meets a stale one.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use keel_runtime::trace::{SpanData, SpanExporter};

use super::json;
use crate::client::url::Url;

/// Exports batches of spans to an OTLP/HTTP collector with JSON encoding.
#[derive(Debug, Clone)]
pub struct OtlpExporter {
    url: Url,
    headers: Vec<(String, String)>,
    resource: Vec<(String, String)>,
    timeout: Duration,
}

impl OtlpExporter {
    /// An exporter to the traces URL `url` (the full URL, `…/v1/traces`), sending these
    /// extra headers and resource attributes, with `timeout` for each export.
    pub(crate) fn new(
        url: Url,
        headers: Vec<(String, String)>,
        resource: Vec<(String, String)>,
        timeout: Duration,
    ) -> OtlpExporter {
        OtlpExporter {
            url,
            headers,
            resource,
            timeout,
        }
    }

    /// POSTs `body`; `Ok` on a 2xx answer.
    fn post(&self, body: &[u8]) -> Result<(), String> {
        let addrs = (self.url.host.as_str(), self.url.port)
            .to_socket_addrs()
            .map_err(|e| format!("resolve {}: {e}", self.url.authority))?;
        let mut last = None;
        let mut stream = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, self.timeout) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let mut stream = stream.ok_or_else(|| match last {
            Some(e) => format!("connect {}: {e}", self.url.authority),
            None => format!("{} resolves to no address", self.url.authority),
        })?;
        stream
            .set_read_timeout(Some(self.timeout))
            .and_then(|()| stream.set_write_timeout(Some(self.timeout)))
            .map_err(|e| e.to_string())?;
        let mut head = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\nUser-Agent: keel-otlp/{}\r\n",
            self.url.target,
            self.url.authority,
            body.len(),
            env!("CARGO_PKG_VERSION"),
        );
        for (name, value) in &self.headers {
            head.push_str(name);
            head.push_str(": ");
            head.push_str(value);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.write_all(body))
            .map_err(|e| format!("send to {}: {e}", self.url.authority))?;
        let answer = read_answer(&mut stream);
        let text = String::from_utf8_lossy(&answer);
        let status = text
            .strip_prefix("HTTP/1.")
            .and_then(|rest| rest.get(2..5))
            .and_then(|code| code.parse::<u16>().ok())
            .ok_or_else(|| format!("no HTTP response from {}", self.url.authority))?;
        if (200..300).contains(&status) {
            Ok(())
        } else {
            let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
            Err(format!(
                "collector answered {status}: {}",
                body.chars().take(200).collect::<String>()
            ))
        }
    }
}

/// The answer's head and up to [`MAX_ANSWER`] bytes of it in all: read until the head
/// and its `Content-Length` body arrived, or the server closed (the read timeout bounds
/// a server that does neither).
fn read_answer(stream: &mut TcpStream) -> Vec<u8> {
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while answer.len() < MAX_ANSWER {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
        let text = String::from_utf8_lossy(&answer);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head.lines().find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.trim()
                    .eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())?
            });
            if length.is_some_and(|n| body.len() >= n.min(MAX_ANSWER)) {
                break;
            }
        }
    }
    answer
}

/// The most bytes of a collector's answer read.
const MAX_ANSWER: usize = 4096;

impl SpanExporter for OtlpExporter {
    fn export(&mut self, batch: Vec<SpanData>) -> Result<(), String> {
        self.post(&json::encode(&self.resource, &batch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_runtime::trace::{SpanId, SpanKind, TraceId};
    use std::net::TcpListener;

    /// A collector answering one request with `answer`; hands back what it received.
    fn collector(answer: &'static str) -> (Url, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let thread = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            // Head and body: until the announced body length arrived.
            loop {
                let n = s.read(&mut buf).unwrap();
                got.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&got).into_owned();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("Content-Length: "))
                        .unwrap()
                        .parse()
                        .unwrap();
                    if body.len() >= len {
                        s.write_all(answer.as_bytes()).unwrap();
                        return text;
                    }
                }
            }
        });
        (
            Url::parse(&format!("http://{addr}/v1/traces")).unwrap(),
            thread,
        )
    }

    fn one_span() -> Vec<SpanData> {
        vec![SpanData::new(
            TraceId::random(),
            SpanId::random(),
            "op",
            SpanKind::Internal,
        )]
    }

    #[test]
    fn posts_json_with_the_configured_headers() {
        let (url, got) = collector("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        let mut exporter = OtlpExporter::new(
            url,
            vec![("authorization".into(), "Bearer t".into())],
            vec![("service.name".into(), "svc".into())],
            Duration::from_secs(30),
        );
        exporter.export(one_span()).unwrap();
        let request = got.join().unwrap();
        assert!(
            request.starts_with("POST /v1/traces HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(request.contains("\r\nContent-Type: application/json\r\n"));
        assert!(request.contains("\r\nauthorization: Bearer t\r\n"));
        assert!(request.contains("\"resourceSpans\""));
    }

    #[test]
    fn a_refusal_is_an_error_naming_the_status() {
        let (url, got) = collector(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy",
        );
        let mut exporter = OtlpExporter::new(url, Vec::new(), Vec::new(), Duration::from_secs(30));
        let err = exporter.export(one_span()).unwrap_err();
        assert!(err.contains("503") && err.contains("busy"), "{err}");
        got.join().unwrap();
        // Nobody listening: a connect error, not a hang.
        let down = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let url = Url::parse(&format!("http://{down}/v1/traces")).unwrap();
        let mut exporter = OtlpExporter::new(url, Vec::new(), Vec::new(), Duration::from_secs(30));
        assert!(exporter.export(one_span()).unwrap_err().contains("connect"));
    }
}
