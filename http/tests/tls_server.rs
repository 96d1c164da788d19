//! The TLS server end to end, with real peers and certificates made at test time by the
//! `openssl` command (a CA and a `localhost` certificate it signs): curl (GET, a POST
//! with a body, two requests on one connection), `openssl s_client` (TLS 1.2 and 1.3,
//! ALPN), Python's `ssl`; plaintext HTTP to the TLS port answered 400; a client that
//! never finishes its handshake closed at the handshake timeout while others are served;
//! garbage closed; the separate ops listener plaintext; bad files refused naming the
//! setting.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use keel_http::{Ops, Router, Server, ServerConfig, TlsConfig};
use keel_testkit::TestServer;

// ===== certificates =====

/// A CA, and a certificate for `localhost` and `127.0.0.1` it signed, with its key; and a
/// key of another pair, which matches no certificate here.
struct Certs {
    dir: PathBuf,
}

impl Certs {
    fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
    fn cert(&self) -> PathBuf {
        self.dir.join("server.pem")
    }
    fn key(&self) -> PathBuf {
        self.dir.join("server.key")
    }
    fn other_key(&self) -> PathBuf {
        self.dir.join("other.key")
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

fn make_certs() -> Certs {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "keel-tls-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509", "-days", "2", "-subj", "/CN=Keel Test CA"];
    ca.extend(ec);
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
    let mut csr = vec!["req", "-subj", "/CN=localhost", "-keyout", "server.key"];
    csr.extend(ec);
    csr.extend(["-out", "server.csr"]);
    openssl(&dir, &csr);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            "server.pem",
        ],
    );
    openssl(
        &dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-out",
            "other.key",
        ],
    );
    Certs { dir }
}

/// Issues another certificate from the test CA into `<stem>.pem` and `<stem>.key` of the
/// certificates' folder: subject `CN=<cn>`, valid for `days` days and the DNS names
/// `names` (with `127.0.0.1`).
fn issue(certs: &Certs, stem: &str, cn: &str, days: u32, names: &[&str]) {
    let dir = &certs.dir;
    let (key, csr, pem) = (
        format!("{stem}.key"),
        format!("{stem}.csr"),
        format!("{stem}.pem"),
    );
    let subject = format!("/CN={cn}");
    openssl(
        dir,
        &[
            "req",
            "-subj",
            &subject,
            "-keyout",
            &key,
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-out",
            &csr,
        ],
    );
    let sans: Vec<String> = names.iter().map(|n| format!("DNS:{n}")).collect();
    let ext = format!("{stem}.cnf");
    std::fs::write(
        dir.join(&ext),
        format!(
            "subjectAltName={},IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n",
            sans.join(",")
        ),
    )
    .unwrap();
    let days = days.to_string();
    openssl(
        dir,
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
            &days,
            "-extfile",
            &ext,
            "-out",
            &pem,
        ],
    );
}

// ===== the server =====

fn app() -> Router {
    Router::new()
        .get("/", || async { "hello over tls" })
        .post("/len", |body: Vec<u8>| async move {
            format!("{} bytes", body.len())
        })
}

fn tls_config(certs: &Certs) -> TlsConfig {
    TlsConfig::from_pem_files(certs.cert(), certs.key()).expect("the test certificate loads")
}

fn start(certs: &Certs, tls: TlsConfig) -> TestServer {
    let _ = certs;
    TestServer::start(ServerConfig::default().tls(Some(tls)), app)
}

fn url(addr: SocketAddr, path: &str) -> String {
    format!("https://localhost:{}{path}", addr.port())
}

/// curl against the server, `localhost` resolved to it, trusting the test CA.
fn curl(certs: &Certs, addr: SocketAddr, args: &[&str]) -> Output {
    let resolve = format!("localhost:{}:127.0.0.1", addr.port());
    let ca = certs.ca();
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20", "--resolve", &resolve, "--cacert"])
        .arg(&ca)
        .args(args)
        .output()
        .expect("curl");
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

// ===== real clients =====

#[test]
fn curl_gets_posts_and_reuses_the_connection() {
    let certs = make_certs();
    let server = start(&certs, tls_config(&certs));
    let get = curl(
        &certs,
        server.addr,
        &["--http1.1", "-i", &url(server.addr, "/")],
    );
    let text = stdout(&get);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.ends_with("hello over tls"), "{text}");

    let body = "x".repeat(100_000);
    let post = curl(
        &certs,
        server.addr,
        &[
            "--http1.1",
            "--data-binary",
            &body,
            &url(server.addr, "/len"),
        ],
    );
    assert_eq!(stdout(&post), "100000 bytes");

    // Two URLs, one connection: the second transfer makes no new connection.
    let both = curl(
        &certs,
        server.addr,
        &[
            "--http1.1",
            "-w",
            "|connects=%{num_connects}|version=%{http_version}\n",
            &url(server.addr, "/"),
            &url(server.addr, "/"),
        ],
    );
    assert_eq!(
        stdout(&both),
        "hello over tls|connects=1|version=1.1\nhello over tls|connects=0|version=1.1\n"
    );
}

#[test]
fn curl_and_httpx_speak_h2_by_alpn() {
    let certs = make_certs();
    let server = start(&certs, tls_config(&certs));
    // curl offers h2 and http/1.1; the server picks h2.
    let get = curl(
        &certs,
        server.addr,
        &["--http2", "-i", &url(server.addr, "/")],
    );
    let text = stdout(&get);
    assert!(text.starts_with("HTTP/2 200"), "{text}");
    assert!(text.contains("strict-transport-security: "), "{text}");
    assert!(text.ends_with("hello over tls"), "{text}");
    let body = "x".repeat(100_000);
    let both = curl(
        &certs,
        server.addr,
        &[
            "--http2",
            "-w",
            "|connects=%{num_connects}|version=%{http_version}\n",
            &url(server.addr, "/"),
            &url(server.addr, "/"),
        ],
    );
    assert_eq!(
        stdout(&both),
        "hello over tls|connects=1|version=2\nhello over tls|connects=0|version=2\n"
    );
    let post = curl(
        &certs,
        server.addr,
        &["--http2", "--data-binary", &body, &url(server.addr, "/len")],
    );
    assert_eq!(stdout(&post), "100000 bytes");
    // httpx with HTTP/2 over TLS, several streams on one connection.
    let script = r#"
import httpx, sys
with httpx.Client(http2=True, verify=sys.argv[1], timeout=20) as c:
    for _ in range(3):
        r = c.get(sys.argv[2])
        print(r.http_version, r.status_code, r.text)
    r = c.post(sys.argv[3], content=b"y" * 300000)
    print(r.http_version, r.status_code, r.text)
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(certs.ca())
        .arg(url(server.addr, "/"))
        .arg(url(server.addr, "/len"))
        .env("no_proxy", "*")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // (httpx resolves localhost itself: the server listens on 127.0.0.1 only.)
    assert_eq!(
        stdout(&out),
        "HTTP/2 200 hello over tls\n".repeat(3) + "HTTP/2 200 300000 bytes\n"
    );
    // openssl names the protocol ALPN chose.
    let connect = format!("127.0.0.1:{}", server.addr.port());
    let out = Command::new("openssl")
        .args(["s_client", "-connect", &connect, "-alpn", "h2,http/1.1"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("ALPN protocol: h2"), "{text}");
}

#[test]
fn with_h2_off_alpn_offers_http11_alone() {
    let certs = make_certs();
    let tls = tls_config(&certs);
    let server = TestServer::start(
        ServerConfig::default()
            .tls(Some(tls))
            .h2(keel_http::H2Config::default().enabled(false)),
        app,
    );
    let both = curl(
        &certs,
        server.addr,
        &["--http2", "-w", "|%{http_version}", &url(server.addr, "/")],
    );
    assert_eq!(stdout(&both), "hello over tls|1.1");
}

/// `openssl s_client` with `flags`, sending one request; its whole output.
fn s_client(certs: &Certs, addr: SocketAddr, flags: &[&str]) -> String {
    s_client_named(certs, addr, Some("localhost"), flags)
}

/// `openssl s_client` asking for `servername` by SNI (none: `-noservername`).
fn s_client_named(
    certs: &Certs,
    addr: SocketAddr,
    servername: Option<&str>,
    flags: &[&str],
) -> String {
    let connect = format!("127.0.0.1:{}", addr.port());
    let sni = match servername {
        Some(name) => vec!["-servername", name],
        None => vec!["-noservername"],
    };
    let mut child = Command::new("openssl")
        .args(["s_client", "-connect", &connect])
        .args(sni)
        .arg("-CAfile")
        .arg(certs.ca())
        .args(["-verify_return_error", "-ign_eof"])
        .args(flags)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl s_client");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    text
}

#[test]
fn openssl_s_client_speaks_tls_1_2_and_1_3_with_alpn() {
    let certs = make_certs();
    let server = start(&certs, tls_config(&certs));
    for (flag, version) in [("-tls1_3", "TLSv1.3"), ("-tls1_2", "TLSv1.2")] {
        let text = s_client(&certs, server.addr, &[flag, "-alpn", "http/1.1"]);
        assert!(
            text.contains(&format!("Protocol  : {version}")),
            "{flag}: {text}"
        );
        assert!(text.contains("ALPN protocol: http/1.1"), "{flag}: {text}");
        assert!(
            text.contains("Verify return code: 0 (ok)"),
            "{flag}: {text}"
        );
        assert!(text.contains("HTTP/1.1 200 OK"), "{flag}: {text}");
        assert!(text.contains("hello over tls"), "{flag}: {text}");
    }
    // A client offering only a protocol the server does not speak is refused (RFC 7301).
    let connect = format!("127.0.0.1:{}", server.addr.port());
    let out = Command::new("openssl")
        .args(["s_client", "-connect", &connect, "-alpn", "h3"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("no application protocol"), "{text}");
}

#[test]
fn python_ssl_gets_an_answer() {
    let certs = make_certs();
    let server = start(&certs, tls_config(&certs));
    let script = r#"
import http.client, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
conn = http.client.HTTPSConnection("localhost", int(sys.argv[2]), context=ctx, timeout=20)
conn.request("GET", "/")
r = conn.getresponse()
print(r.status, r.read().decode(), conn.sock.version(), conn.sock.selected_alpn_protocol())
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(certs.ca())
        .arg(server.addr.port().to_string())
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Python's http.client offers no ALPN by default.
    assert_eq!(stdout(&out).trim(), "200 hello over tls TLSv1.3 None");
}

// ===== what is not TLS =====

/// Reads until the server closes (or 10 s pass: then the test fails); what it sent.
fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return got,
            Err(e) => panic!("the server did not close: {e} (after {got:?})"),
        }
    }
}

#[test]
fn plain_http_to_the_tls_port_gets_400_and_a_close() {
    let certs = make_certs();
    let server = start(&certs, tls_config(&certs));
    let mut plain = TcpStream::connect(server.addr).unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let answer = String::from_utf8(read_until_closed(&mut plain)).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(answer.contains("connection: close\r\n"), "{answer}");
    assert!(
        answer.contains("The plain HTTP request was sent to the HTTPS port"),
        "{answer}"
    );
    assert!(answer.contains("\"code\":\"bad_request\""), "{answer}");

    // curl with http:// sees the same answer.
    let out = Command::new("curl")
        .args(["-s", "--max-time", "10", "-w", "%{http_code}"])
        .arg(format!("http://127.0.0.1:{}/", server.addr.port()))
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(text.ends_with("400"), "{text}");
    assert!(text.contains("HTTPS port"), "{text}");
}

#[test]
fn garbage_is_closed() {
    let certs = make_certs();
    let server = start(&certs, tls_config(&certs));
    // Neither TLS nor HTTP: closed without an answer.
    let mut garbage = TcpStream::connect(server.addr).unwrap();
    garbage.write_all(b"\x00\x01\x02 not tls at all").unwrap();
    assert_eq!(read_until_closed(&mut garbage), b"");
    // A handshake record of nonsense: rustls refuses it, with an alert, and closes.
    let mut bad = TcpStream::connect(server.addr).unwrap();
    bad.write_all(b"\x16\x03\x01\x00\x05hello").unwrap();
    let got = read_until_closed(&mut bad);
    assert!(
        got.is_empty() || got[0] == 0x15,
        "an alert record or nothing: {got:?}"
    );
    // The server is fine.
    let ok = curl(&certs, server.addr, &[&url(server.addr, "/")]);
    assert_eq!(stdout(&ok), "hello over tls");
}

#[test]
fn a_stalled_handshake_is_closed_at_the_timeout_while_others_are_served() {
    let certs = make_certs();
    let timeout = Duration::from_millis(800);
    let server = start(&certs, tls_config(&certs).handshake_timeout(timeout));
    let started = Instant::now();
    // One client connects and never says a word; another sends half a ClientHello.
    let mut silent = TcpStream::connect(server.addr).unwrap();
    let mut half = TcpStream::connect(server.addr).unwrap();
    half.write_all(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        .unwrap();
    // Meanwhile a well-behaved client is served at once.
    let ok = curl(&certs, server.addr, &[&url(server.addr, "/")]);
    assert_eq!(stdout(&ok), "hello over tls");
    assert!(
        started.elapsed() < timeout,
        "the curl waited on the stalled clients"
    );
    for stalled in [&mut silent, &mut half] {
        assert_eq!(read_until_closed(stalled), b"");
    }
    let took = started.elapsed();
    assert!(
        took >= timeout && took < timeout + Duration::from_secs(3),
        "closed after {took:?} (timeout {timeout:?})"
    );
}

// ===== ops and metrics =====

#[test]
fn the_ops_listener_stays_plaintext_and_counts_handshakes() {
    let certs = make_certs();
    let server = Server::bind("127.0.0.1:0")
        .unwrap()
        .handle_signals(false)
        .config(ServerConfig::default().tls(Some(tls_config(&certs))))
        .ops(Ops::new().listen("127.0.0.1:0").unwrap());
    let server = TestServer::start_server(1, server, app);
    let ops = server.ops_addr.expect("an ops address");
    let ok = curl(&certs, server.addr, &[&url(server.addr, "/")]);
    assert_eq!(stdout(&ok), "hello over tls");

    // Plain HTTP on the ops address: the probes and /metrics, no certificate needed.
    let live = Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .arg(format!("http://{ops}/health/live"))
        .output()
        .unwrap();
    assert!(stdout(&live).contains("\"status\""), "{}", stdout(&live));
    let metrics = Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .arg(format!("http://{ops}/metrics"))
        .output()
        .unwrap();
    let text = stdout(&metrics);
    let line = text
        .lines()
        .find(|l| l.starts_with("keel_tls_handshakes_total{outcome=\"ok\",version=\"TLSv1.3\"}"))
        .unwrap_or_else(|| panic!("no handshake counter in {text}"));
    let count: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 1.0, "{line}");
    assert!(
        text.contains("# TYPE keel_tls_handshakes_total counter"),
        "{text}"
    );
    // TLS on the ops address is not spoken: a handshake there gets an HTTP 400.
    let mut tls_to_ops = TcpStream::connect(ops).unwrap();
    tls_to_ops.write_all(b"\x16\x03\x01\x00\x05hello").unwrap();
    let answer = String::from_utf8_lossy(&read_until_closed(&mut tls_to_ops)).into_owned();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
}

// ===== bad files =====

#[test]
fn bad_files_are_refused_naming_the_setting() {
    let certs = make_certs();
    let missing = certs.dir.join("missing.pem");
    let err = TlsConfig::from_pem_files(&missing, certs.key()).unwrap_err();
    assert_eq!(err.name(), "tls cert", "{err}");
    assert!(err.to_string().contains("missing.pem"), "{err}");

    // A key is not a certificate.
    let err = TlsConfig::from_pem_files(certs.key(), certs.key()).unwrap_err();
    assert_eq!(err.name(), "tls cert", "{err}");

    let err = TlsConfig::from_pem_files(certs.cert(), certs.cert()).unwrap_err();
    assert_eq!(err.name(), "tls key", "{err}");

    let err = TlsConfig::from_pem_files(certs.cert(), certs.other_key()).unwrap_err();
    assert_eq!(err.name(), "tls key", "{err}");
    assert!(
        err.to_string().contains("does not match") || err.to_string().contains("match"),
        "{err}"
    );
}

// ===== rotation =====

/// Points `live/..data` at `live/<generation>` holding copies of `cert` and `key`, by
/// a rename over the old link (as the kubelet updates a mounted Secret); `live/tls.crt`
/// and `live/tls.key` link through `..data`.
fn publish(certs: &Certs, generation: &str, cert: &Path, key: &Path) -> (PathBuf, PathBuf) {
    let live = certs.dir.join("live");
    let target = live.join(generation);
    std::fs::create_dir_all(&target).unwrap();
    std::fs::copy(cert, target.join("tls.crt")).unwrap();
    std::fs::copy(key, target.join("tls.key")).unwrap();
    let tmp = live.join("..data_tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(generation, &tmp).unwrap();
    std::fs::rename(&tmp, live.join("..data")).unwrap();
    for name in ["tls.crt", "tls.key"] {
        let link = live.join(name);
        if link.symlink_metadata().is_err() {
            std::os::unix::fs::symlink(format!("..data/{name}"), &link).unwrap();
        }
    }
    (live.join("tls.crt"), live.join("tls.key"))
}

/// The subject line of the certificate the server presents to a new connection
/// (`subject=CN=...`).
fn served_subject(certs: &Certs, addr: SocketAddr, flags: &[&str]) -> String {
    subject_for(certs, addr, Some("localhost"), flags)
}

/// The subject line of the certificate served for `servername`.
fn subject_for(
    certs: &Certs,
    addr: SocketAddr,
    servername: Option<&str>,
    flags: &[&str],
) -> String {
    let text = s_client_named(certs, addr, servername, flags);
    text.lines()
        .find(|l| l.starts_with("subject="))
        .unwrap_or_else(|| panic!("no subject in {text}"))
        .replace(' ', "")
}

/// The value of the `/metrics` line that starts with `series` (0 when absent).
fn metric(series: &str) -> f64 {
    let text = keel_http::metrics::gather_local().render();
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .map_or(0.0, |l| l.rsplit(' ').next().unwrap().parse().unwrap())
}

/// A certificate's `notAfter` as Unix seconds, read by openssl and Python.
fn not_after(cert: &Path) -> f64 {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-enddate", "-in"])
        .arg(cert)
        .output()
        .unwrap();
    let date = stdout(&out)
        .trim()
        .trim_start_matches("notAfter=")
        .to_owned();
    let out = Command::new("python3")
        .args([
            "-c",
            "import ssl, sys; print(ssl.cert_time_to_seconds(sys.argv[1]))",
        ])
        .arg(&date)
        .output()
        .unwrap();
    stdout(&out).trim().parse().unwrap()
}

#[test]
fn swapped_files_are_served_to_new_connections_and_a_bad_pair_keeps_the_old() {
    let certs = make_certs();
    issue(&certs, "rotated", "keel rotated", 30, &["localhost"]);
    let (cert, key) = publish(&certs, "..gen1", &certs.cert(), &certs.key());
    let tls = TlsConfig::from_pem_files(&cert, &key)
        .unwrap()
        .reload_interval(Duration::from_millis(100));
    let server = start(&certs, tls);
    assert_eq!(
        served_subject(&certs, server.addr, &[]),
        "subject=CN=localhost"
    );
    let gauge = format!(
        "keel_tls_certificate_expiry_timestamp_seconds{{certificate=\"{}\"}}",
        cert.display()
    );
    assert_eq!(metric(&gauge), not_after(&certs.cert()));

    // A connection opened before the swap keeps its session.
    let before = curl(&certs, server.addr, &[&url(server.addr, "/")]);
    assert_eq!(stdout(&before), "hello over tls");
    let ok_before = metric("keel_tls_reloads_total{outcome=\"ok\"}");
    let rotated = (certs.dir.join("rotated.pem"), certs.dir.join("rotated.key"));
    publish(&certs, "..gen2", &rotated.0, &rotated.1);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let subject = served_subject(&certs, server.addr, &[]);
        if subject == "subject=CN=keelrotated" {
            break;
        }
        assert!(Instant::now() < deadline, "still serving {subject}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(metric("keel_tls_reloads_total{outcome=\"ok\"}") > ok_before);
    assert_eq!(metric(&gauge), not_after(&rotated.0));

    // A key that does not match: logged, counted, and the rotated certificate stays.
    let error_before = metric("keel_tls_reloads_total{outcome=\"error\"}");
    publish(&certs, "..gen3", &certs.cert(), &certs.other_key());
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric("keel_tls_reloads_total{outcome=\"error\"}") <= error_before {
        assert!(Instant::now() < deadline, "the bad pair was not noticed");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        served_subject(&certs, server.addr, &[]),
        "subject=CN=keelrotated"
    );
    let ok = curl(&certs, server.addr, &[&url(server.addr, "/")]);
    assert_eq!(stdout(&ok), "hello over tls");
    assert_eq!(metric(&gauge), not_after(&rotated.0));

    // A garbage certificate file: the same.
    std::fs::write(certs.dir.join("garbage.pem"), "not a certificate").unwrap();
    let error_before = metric("keel_tls_reloads_total{outcome=\"error\"}");
    publish(&certs, "..gen4", &certs.dir.join("garbage.pem"), &rotated.1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric("keel_tls_reloads_total{outcome=\"error\"}") <= error_before {
        assert!(Instant::now() < deadline, "the garbage was not noticed");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        served_subject(&certs, server.addr, &[]),
        "subject=CN=keelrotated"
    );

    // Then a good pair again is picked up.
    publish(&certs, "..gen5", &certs.cert(), &certs.key());
    let deadline = Instant::now() + Duration::from_secs(10);
    while served_subject(&certs, server.addr, &[]) != "subject=CN=localhost" {
        assert!(Instant::now() < deadline, "the good pair was not picked up");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn tls_metrics_have_a_handshake_histogram() {
    let certs = make_certs();
    let server = start(&certs, tls_config(&certs));
    let before = metric("keel_tls_handshake_duration_seconds_count");
    let ok = curl(&certs, server.addr, &[&url(server.addr, "/")]);
    assert_eq!(stdout(&ok), "hello over tls");
    assert!(metric("keel_tls_handshake_duration_seconds_count") > before);
    let inf = metric("keel_tls_handshake_duration_seconds_bucket{le=\"+Inf\"}");
    assert_eq!(inf, metric("keel_tls_handshake_duration_seconds_count"));
    // Locally a handshake takes well under a second.
    assert!(metric("keel_tls_handshake_duration_seconds_bucket{le=\"1\"}") >= 1.0);
    let text = keel_http::metrics::gather_local().render();
    assert!(
        text.contains("# TYPE keel_tls_handshake_duration_seconds histogram"),
        "{text}"
    );
}

// ===== SNI =====

#[test]
fn sni_chooses_the_certificate_and_the_first_is_the_default() {
    let certs = make_certs();
    issue(&certs, "api", "api", 30, &["api.test"]);
    issue(
        &certs,
        "apps",
        "apps wildcard",
        30,
        &["*.apps.test", "apps.test"],
    );
    let pem = |stem: &str| certs.dir.join(format!("{stem}.pem"));
    let key = |stem: &str| certs.dir.join(format!("{stem}.key"));
    let tls = tls_config(&certs)
        .with_cert(pem("api"), key("api"))
        .unwrap()
        .with_cert(pem("apps"), key("apps"))
        .unwrap();
    let server = start(&certs, tls);
    let subject = |name: Option<&str>| subject_for(&certs, server.addr, name, &[]);
    assert_eq!(subject(Some("api.test")), "subject=CN=api");
    assert_eq!(subject(Some("API.Test")), "subject=CN=api");
    assert_eq!(subject(Some("x.apps.test")), "subject=CN=appswildcard");
    assert_eq!(subject(Some("apps.test")), "subject=CN=appswildcard");
    // One label only under a wildcard; unknown names and no SNI get the default.
    assert_eq!(subject(Some("a.b.apps.test")), "subject=CN=localhost");
    assert_eq!(subject(Some("other.test")), "subject=CN=localhost");
    assert_eq!(subject(None), "subject=CN=localhost");
    assert_eq!(subject(Some("localhost")), "subject=CN=localhost");
    // curl checks the name against the certificate it gets.
    let resolve = format!("api.test:{}:127.0.0.1", server.addr.port());
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20", "--resolve", &resolve, "--cacert"])
        .arg(certs.ca())
        .arg(format!("https://api.test:{}/", server.addr.port()))
        .output()
        .unwrap();
    assert_eq!(
        stdout(&out),
        "hello over tls",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ===== resumption =====

#[test]
fn sessions_resume_with_tls_1_3_and_1_2() {
    let certs = make_certs();
    let server = start(&certs, tls_config(&certs));
    for (flag, version) in [("-tls1_3", "TLSv1.3"), ("-tls1_2", "TLSv1.2")] {
        let session = certs.dir.join(format!("session{flag}.pem"));
        let session = session.to_str().unwrap();
        let first = s_client(&certs, server.addr, &[flag, "-sess_out", session]);
        assert!(
            first.contains(&format!("New, {version}")),
            "{flag}: {first}"
        );
        let again = s_client(&certs, server.addr, &[flag, "-sess_in", session]);
        assert!(
            again.contains(&format!("Reused, {version}")),
            "{flag}: {again}"
        );
        assert!(again.contains("hello over tls"), "{flag}: {again}");
        // Without the saved session, a full handshake.
        let fresh = s_client(&certs, server.addr, &[flag]);
        assert!(
            fresh.contains(&format!("New, {version}")),
            "{flag}: {fresh}"
        );
    }
    // TLS 1.2 without tickets: resumed from the session-ID cache.
    let session = certs.dir.join("session-id.pem");
    let session = session.to_str().unwrap();
    let flags = ["-tls1_2", "-no_ticket"];
    let first = s_client(
        &certs,
        server.addr,
        &[&flags[..], &["-sess_out", session]].concat(),
    );
    assert!(first.contains("New, TLSv1.2"), "{first}");
    let again = s_client(
        &certs,
        server.addr,
        &[&flags[..], &["-sess_in", session]].concat(),
    );
    assert!(again.contains("Reused, TLSv1.2"), "{again}");
}

// ===== mTLS =====

fn whoami_app() -> Router {
    app().get("/whoami", |id: keel_http::ClientIdentity| async move {
        format!(
            "{}|{}|{}",
            id.subject(),
            id.common_name().unwrap_or("-"),
            id.serial()
        )
    })
}

/// curl with `args`, its exit status, output and error text.
fn curl_raw(certs: &Certs, addr: SocketAddr, args: &[&str]) -> (bool, String, String) {
    let resolve = format!("localhost:{}:127.0.0.1", addr.port());
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20", "--resolve", &resolve, "--cacert"])
        .arg(certs.ca())
        .args(args)
        .output()
        .expect("curl");
    (
        out.status.success(),
        stdout(&out),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn mtls_accepts_a_client_the_ca_vouches_for_and_refuses_others() {
    let certs = make_certs();
    issue(&certs, "alice", "alice/O=Keel Test", 30, &["alice.test"]);
    // A client certificate no trusted CA signed.
    openssl(
        &certs.dir,
        &[
            "req",
            "-x509",
            "-days",
            "2",
            "-subj",
            "/CN=mallory",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "mallory.key",
            "-out",
            "mallory.pem",
            "-addext",
            "extendedKeyUsage=clientAuth",
        ],
    );
    let tls = tls_config(&certs).client_ca(certs.ca()).unwrap();
    let server = TestServer::start(ServerConfig::default().tls(Some(tls)), whoami_app);
    let whoami = url(server.addr, "/whoami");
    let (alice_pem, alice_key) = (certs.dir.join("alice.pem"), certs.dir.join("alice.key"));
    let (alice_pem, alice_key) = (alice_pem.to_str().unwrap(), alice_key.to_str().unwrap());
    let serial = {
        let out = Command::new("openssl")
            .args(["x509", "-noout", "-serial", "-in", alice_pem])
            .output()
            .unwrap();
        stdout(&out).trim().trim_start_matches("serial=").to_owned()
    };

    for version in ["--tlsv1.3", "--tlsv1.2"] {
        let max = if version == "--tlsv1.2" { "1.2" } else { "1.3" };
        let (ok, body, err) = curl_raw(
            &certs,
            server.addr,
            &[
                version,
                "--tls-max",
                max,
                "--cert",
                alice_pem,
                "--key",
                alice_key,
                &whoami,
            ],
        );
        assert!(ok, "{version}: {err}");
        assert_eq!(
            body,
            format!("O=Keel Test,CN=alice|alice|{serial}"),
            "{version}"
        );

        // No certificate, or one the CA did not sign: refused in the handshake.
        let (ok, body, err) = curl_raw(&certs, server.addr, &[version, "--tls-max", max, &whoami]);
        assert!(
            !ok && body.is_empty(),
            "{version}: served without a certificate: {body}"
        );
        assert!(!err.is_empty(), "{version}");
        let mallory = certs.dir.join("mallory.pem");
        let mallory_key = certs.dir.join("mallory.key");
        let (ok, body, err) = curl_raw(
            &certs,
            server.addr,
            &[
                version,
                "--tls-max",
                max,
                "--cert",
                mallory.to_str().unwrap(),
                "--key",
                mallory_key.to_str().unwrap(),
                &whoami,
            ],
        );
        assert!(!ok && body.is_empty(), "{version}: served mallory: {body}");
        assert!(!err.is_empty(), "{version}");
    }

    // openssl s_client: with the certificate, served; without, the alert says why.
    let served = s_client(
        &certs,
        server.addr,
        &["-cert", alice_pem, "-key", alice_key],
    );
    assert!(served.contains("HTTP/1.1 200 OK"), "{served}");
    let connect = format!("127.0.0.1:{}", server.addr.port());
    let mut child = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &connect,
            "-servername",
            "localhost",
            "-ign_eof",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(!text.contains("HTTP/1.1 200"), "{text}");
    assert!(text.contains("certificate required"), "{text}");
}

#[test]
fn without_mtls_the_identity_extractor_answers_401() {
    let certs = make_certs();
    let server = TestServer::start(
        ServerConfig::default().tls(Some(tls_config(&certs))),
        whoami_app,
    );
    let (ok, body, err) = curl_raw(
        &certs,
        server.addr,
        &["-w", "|%{http_code}", &url(server.addr, "/whoami")],
    );
    assert!(ok, "{err}");
    assert!(body.ends_with("|401"), "{body}");
    assert!(body.contains("a client certificate is required"), "{body}");
    // A bad CA bundle is refused naming the setting.
    let err = tls_config(&certs).client_ca(certs.key()).unwrap_err();
    assert_eq!(err.name(), "tls client ca", "{err}");
}
