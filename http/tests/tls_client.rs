//! The HTTP client over TLS end to end, against Keel's own TLS server and servers Keel did
//! not write (Python's `http.server` wrapped in `ssl`, `openssl s_server -www`), with
//! certificates made at test time by the `openssl` command: a GET trusting the test CA;
//! two requests on one connection; an unknown CA and a certificate for another name
//! refused with [`ClientError::Tls`] naming the host; `http` and `https` to the same
//! host and port never sharing a pooled connection; a bad CA file refused naming it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use keel_http::client::{Client, ClientError};
use keel_http::{RemoteAddr, Router, ServerConfig, TlsConfig};
use keel_testkit::TestServer;

// ===== certificates =====

/// A CA; a certificate for `localhost` and `127.0.0.1` it signed (`server`); one for
/// `other.test` only (`other`), signed by the same CA.
struct Certs {
    dir: PathBuf,
}

impl Certs {
    fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
    fn cert(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.pem"))
    }
    fn key(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.key"))
    }
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const EC: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
];

fn make_certs() -> Certs {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "keel-tls-client-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let mut ca = vec![
        "req",
        "-x509",
        "-days",
        "2",
        "-subj",
        "/CN=Keel Client Test CA",
    ];
    ca.extend(EC);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(&dir, &ca);
    for (name, cn, san) in [
        ("server", "localhost", "DNS:localhost,IP:127.0.0.1"),
        ("other", "other.test", "DNS:other.test"),
    ] {
        let subject = format!("/CN={cn}");
        let key = format!("{name}.key");
        let csr = format!("{name}.csr");
        let mut req = vec!["req", "-subj", &subject, "-keyout", &key];
        req.extend(EC);
        req.extend(["-out", &csr]);
        openssl(&dir, &req);
        let ext = format!("{name}.cnf");
        std::fs::write(
            dir.join(&ext),
            format!(
                "subjectAltName={san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
            ),
        )
        .unwrap();
        let out = format!("{name}.pem");
        openssl(
            &dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &ext,
                "-out",
                &out,
            ],
        );
    }
    Certs { dir }
}

// ===== servers =====

/// Keel's TLS server (or a plain one): `/peer` answers the client's port, so two
/// answers with one port came over one connection.
fn keel_server(tls: Option<TlsConfig>) -> TestServer {
    TestServer::start(ServerConfig::default().tls(tls), || {
        Router::new().get("/peer", |RemoteAddr(peer): RemoteAddr| async move {
            peer.port().to_string()
        })
    })
}

fn keel_tls(certs: &Certs, name: &str) -> TestServer {
    let tls = TlsConfig::from_pem_files(certs.cert(name), certs.key(name)).unwrap();
    keel_server(Some(tls))
}

/// A server Keel did not write: Python's `http.server` (HTTP/1.1, keep-alive) in
/// `ssl`, answering every GET with the client's port.
struct Python {
    child: Child,
    port: u16,
}

const PYTHON_SERVER: &str = r#"
import http.server, ssl, sys
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = str(self.client_address[1]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[1], sys.argv[2])
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

impl Python {
    fn start(certs: &Certs, name: &str) -> Python {
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(PYTHON_SERVER)
            .arg(certs.cert(name))
            .arg(certs.key(name))
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().expect("the python server's port");
        Python { child, port }
    }
}

impl Drop for Python {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `openssl s_server -www`: a status page per request, HTTP/1.0, on a free port.
struct SServer {
    child: Child,
    port: u16,
}

impl SServer {
    fn start(certs: &Certs) -> SServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new("openssl")
            .args(["s_server", "-www", "-accept", &port.to_string(), "-cert"])
            .arg(certs.cert("server"))
            .arg("-key")
            .arg(certs.key("server"))
            .stdout(Stdio::piped())
            .stdin(Stdio::piped())
            .spawn()
            .expect("openssl s_server");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while !line.contains("ACCEPT") {
            line.clear();
            assert!(out.read_line(&mut line).unwrap() > 0, "s_server exited");
        }
        // Keep draining its output so it never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        SServer { child, port }
    }
}

impl Drop for SServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ===== the client =====

fn trusting(certs: &Certs) -> Client {
    Client::builder().add_ca_file(certs.ca()).unwrap().build()
}

/// GETs `url`: the status and body, or the error.
async fn get(client: &Client, url: &str) -> Result<(u16, String), ClientError> {
    let res = client.get(url).send().await?;
    let status = res.status().as_u16();
    Ok((status, res.text().await?))
}

/// Runs `f` on a one-off Keel loop (a client's pooled connections belong to its loop).
fn on_loop<F: Future>(f: F) -> F::Output {
    keel_runtime::block_on(f)
}

fn assert_refused(result: Result<(u16, String), ClientError>, host: &str, why: &str) {
    let err = result.expect_err("the handshake must be refused");
    assert!(err.is_tls(), "not a TLS error: {err:?}");
    match &err {
        ClientError::Tls {
            host: named,
            reason,
        } => {
            assert_eq!(named, host);
            assert!(reason.contains(why), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains(host) && message.contains(why), "{message}");
}

// ===== against Keel's TLS server =====

#[test]
fn keel_server_get_and_keep_alive() {
    on_loop(async {
        let certs = make_certs();
        let server = keel_tls(&certs, "server");
        let client = trusting(&certs);
        let url = format!("https://localhost:{}/peer", server.addr.port());
        let (status, first) = get(&client, &url).await.unwrap();
        assert_eq!(status, 200);
        assert_eq!(client.idle_connections(), 1);
        let (_, second) = get(&client, &url).await.unwrap();
        assert_eq!(first, second, "two requests, one connection");
        assert_eq!(client.idle_connections(), 1);
        // By IP address: verified against the certificate's IP entry.
        let by_ip = format!("https://127.0.0.1:{}/peer", server.addr.port());
        assert_eq!(get(&client, &by_ip).await.unwrap().0, 200);
    });
}

#[test]
fn keel_server_unknown_ca_and_wrong_name_are_refused() {
    on_loop(async {
        let certs = make_certs();
        let server = keel_tls(&certs, "server");
        let url = format!("https://localhost:{}/peer", server.addr.port());
        // The test CA is not among the bundled roots.
        assert_refused(
            get(&Client::new(), &url).await,
            "localhost",
            "UnknownIssuer",
        );

        let other = keel_tls(&certs, "other");
        let url = format!("https://localhost:{}/peer", other.addr.port());
        assert_refused(
            get(&trusting(&certs), &url).await,
            "localhost",
            "not valid for name",
        );
    });
}

#[test]
fn http_and_https_to_one_port_never_share_a_connection() {
    on_loop(async {
        let certs = make_certs();
        let client = trusting(&certs);

        // A TLS port: the pooled TLS connection is not used for `http://`, which reaches the
        // port in plaintext and gets Keel's answer to that.
        let tls = keel_tls(&certs, "server");
        let port = tls.addr.port();
        let (_, first) = get(&client, &format!("https://localhost:{port}/peer"))
            .await
            .unwrap();
        assert_eq!(client.idle_connections(), 1);
        let (status, body) = get(&client, &format!("http://localhost:{port}/peer"))
            .await
            .unwrap();
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("plain HTTP request"), "{body}");
        let (_, again) = get(&client, &format!("https://localhost:{port}/peer"))
            .await
            .unwrap();
        assert_eq!(first, again, "the TLS connection was kept for https");

        // A plaintext port: `https://` does not ride the pooled plaintext connection, and
        // never falls back to plaintext.
        let plain = keel_server(None);
        let port = plain.addr.port();
        let (status, _) = get(&client, &format!("http://localhost:{port}/peer"))
            .await
            .unwrap();
        assert_eq!(status, 200);
        assert_eq!(client.idle_connections(), 2);
        let err = get(&client, &format!("https://localhost:{port}/peer"))
            .await
            .unwrap_err();
        assert!(err.is_tls(), "{err:?}");
        assert_eq!(client.idle_connections(), 2);
    });
}

#[test]
fn a_bad_ca_file_is_refused_naming_it() {
    let err = Client::builder()
        .add_ca_file("/nonexistent/keel-ca.pem")
        .unwrap_err();
    assert_eq!(err.name(), "client ca");
    assert!(
        err.to_string().contains("/nonexistent/keel-ca.pem"),
        "{err}"
    );
    let err = Client::builder().add_ca_file("Cargo.toml").unwrap_err();
    assert!(err.to_string().contains("CERTIFICATE"), "{err}");
}

// ===== against servers Keel did not write =====

#[test]
fn python_server_get_keep_alive_and_refusals() {
    on_loop(async {
        let certs = make_certs();
        let server = Python::start(&certs, "server");
        let client = trusting(&certs);
        let url = format!("https://localhost:{}/", server.port);
        let (status, first) = get(&client, &url).await.unwrap();
        assert_eq!(status, 200);
        let (_, second) = get(&client, &url).await.unwrap();
        assert_eq!(first, second, "two requests, one connection");

        assert_refused(
            get(&Client::new(), &url).await,
            "localhost",
            "UnknownIssuer",
        );
        let other = Python::start(&certs, "other");
        let url = format!("https://localhost:{}/", other.port);
        assert_refused(get(&client, &url).await, "localhost", "not valid for name");
    });
}

#[test]
fn openssl_s_server_get() {
    on_loop(async {
        let certs = make_certs();
        let server = SServer::start(&certs);
        let url = format!("https://localhost:{}/", server.port);
        let (status, body) = get(&trusting(&certs), &url).await.unwrap();
        assert_eq!(status, 200);
        assert!(body.contains("s_server"), "{body}");
        assert_refused(
            get(&Client::new(), &url).await,
            "localhost",
            "UnknownIssuer",
        );
    });
}
