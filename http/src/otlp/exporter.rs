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
        // The status line, and a little of the body for the error message.
        let mut answer = Vec::new();
        let _ = stream.take(4096).read_to_end(&mut answer);
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

impl SpanExporter for OtlpExporter {
    fn export(&mut self, batch: Vec<SpanData>) -> Result<(), String> {
        self.post(&json::encode(&self.resource, &batch))
    }
}
