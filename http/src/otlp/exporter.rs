//! [`OtlpExporter`]: POSTs each batch as OTLP/HTTP JSON to the collector, over a plain
//! blocking `std::net` connection — or, for an `https://` endpoint, a rustls session over
//! it (`rustls::StreamOwned`), verified like the HTTP client's — it runs on the
//! `keel-trace` thread, never on a loop, and needs no runtime of its own. One connection
//! per batch (`Connection: close`): batches are seconds apart, and a fresh connection
//! never meets a stale one.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;

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
    /// For an `https://` URL: the TLS settings the collector is verified with.
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl OtlpExporter {
    /// An exporter to the traces URL `url` (the full URL, `…/v1/traces`), sending these
    /// extra headers and resource attributes, with `timeout` for each export, over TLS
    /// with `tls` (set for an `https://` URL).
    pub(crate) fn new(
        url: Url,
        headers: Vec<(String, String)>,
        resource: Vec<(String, String)>,
        timeout: Duration,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> OtlpExporter {
        OtlpExporter {
            url,
            headers,
            resource,
            timeout,
            tls,
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
        match &self.tls {
            None => self.exchange(&mut stream, body),
            Some(config) => {
                let mut tls = self.handshake(config, stream)?;
                let result = self.exchange(&mut tls, body);
                tls.conn.send_close_notify();
                let _ = tls.flush();
                result
            }
        }
    }

    /// The TLS handshake on `tcp`, verifying the collector as the URL's host; a refusal
    /// names the host and the reason, and nothing is sent in plaintext.
    fn handshake(
        &self,
        config: &Arc<rustls::ClientConfig>,
        mut tcp: TcpStream,
    ) -> Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>, String> {
        let host = &self.url.host;
        let refused = |e: &dyn std::fmt::Display| format!("TLS with {host} failed: {e}");
        let name = ServerName::try_from(host.clone()).map_err(|e| refused(&e))?;
        let mut conn =
            rustls::ClientConnection::new(Arc::clone(config), name).map_err(|e| refused(&e))?;
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp).map_err(|e| refused(&e))?;
        }
        Ok(rustls::StreamOwned::new(conn, tcp))
    }

    /// Writes the request for `body` on `stream` and reads the answer; `Ok` on a 2xx.
    fn exchange(&self, stream: &mut impl ReadWrite, body: &[u8]) -> Result<(), String> {
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
        let answer = read_answer(stream);
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
fn read_answer(stream: &mut impl Read) -> Vec<u8> {
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

/// A byte stream the exporter speaks HTTP on: TCP, or TLS over it.
trait ReadWrite: Read + Write {}

impl<S: Read + Write> ReadWrite for S {}

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
            None,
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
        let mut exporter =
            OtlpExporter::new(url, Vec::new(), Vec::new(), Duration::from_secs(30), None);
        let err = exporter.export(one_span()).unwrap_err();
        assert!(err.contains("503") && err.contains("busy"), "{err}");
        got.join().unwrap();
        // Nobody listening: a connect error, not a hang.
        let down = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let url = Url::parse(&format!("http://{down}/v1/traces")).unwrap();
        let mut exporter =
            OtlpExporter::new(url, Vec::new(), Vec::new(), Duration::from_secs(30), None);
        assert!(exporter.export(one_span()).unwrap_err().contains("connect"));
    }

    /// A CA and a `localhost` certificate it signed, made by the `openssl` command in a
    /// fresh directory.
    fn certs() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("keel-otlp-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
        let script = format!(
            "openssl req -x509 -days 2 -subj '/CN=OTLP Test CA' {ec} -keyout ca.key -out ca.pem \
               -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
             && openssl req -subj /CN=localhost {ec} -keyout server.key -out server.csr \
             && printf 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n' > ext.cnf \
             && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
               -days 2 -extfile ext.cnf -out server.pem"
        );
        let out = std::process::Command::new("sh")
            .args(["-c", &script])
            .current_dir(&dir)
            .output()
            .expect("sh and the openssl command");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    }

    /// A TLS collector Keel did not write (Python's `http.server` in `ssl`): answers each
    /// POST 200 and prints its path and body size.
    fn python_collector(dir: &std::path::Path) -> (std::process::Child, u16) {
        use std::io::BufRead;
        let server = r#"
import http.server, ssl, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        print(self.path, len(body), self.headers["Content-Type"], flush=True)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain("server.pem", "server.key")
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;
        let mut child = std::process::Command::new("python3")
            .args(["-c", server])
            .current_dir(dir)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        out.read_line(&mut line).unwrap();
        let port = line.trim().parse().unwrap();
        child.stdout = Some(out.into_inner());
        (child, port)
    }

    #[test]
    fn exports_over_https_with_the_collector_ca_and_refuses_an_unknown_one() {
        use std::io::BufRead;
        let dir = certs();
        let (mut collector, port) = python_collector(&dir);
        let endpoint = format!("https://localhost:{port}");
        let ca = dir.join("ca.pem").display().to_string();
        let vars = |ca: Option<&str>| {
            let endpoint = endpoint.clone();
            let ca = ca.map(str::to_owned);
            move |name: &str| match name {
                "OTEL_EXPORTER_OTLP_ENDPOINT" => Some(endpoint.clone()),
                "OTEL_EXPORTER_OTLP_CERTIFICATE" => ca.clone(),
                _ => None,
            }
        };
        let exporter = |config: crate::otlp::OtlpConfig| {
            OtlpExporter::new(
                config.url,
                config.headers,
                config.resource,
                Duration::from_secs(30),
                config.tls,
            )
        };

        let config = crate::otlp::OtlpConfig::from_vars(vars(Some(&ca)))
            .unwrap()
            .unwrap();
        assert_eq!(config.traces_url(), format!("{endpoint}/v1/traces"));
        exporter(config).export(one_span()).unwrap();
        let mut line = String::new();
        std::io::BufReader::new(collector.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("/v1/traces "), "{line}");
        assert!(line.trim_end().ends_with(" application/json"), "{line}");

        // Without the collector's CA: refused, naming the host; nothing sent in plaintext.
        let config = crate::otlp::OtlpConfig::from_vars(vars(None))
            .unwrap()
            .unwrap();
        let err = exporter(config).export(one_span()).unwrap_err();
        assert!(
            err.contains("TLS with localhost failed") && err.contains("UnknownIssuer"),
            "{err}"
        );

        let _ = collector.kill();
        let _ = collector.wait();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
