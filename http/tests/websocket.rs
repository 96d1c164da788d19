//! WebSocket over HTTP/1.1's Upgrade, against clients Keel did not write — Python's
//! `websockets` (http/tests/ws/app.py: echo, fragments, a 200 kB message, ping, a
//! subprotocol, 1009, a server close with its code, 1011 after a panic, and `wss://`
//! over Keel's TLS) and Node's `ws` (http/tests/ws/client.mjs: a declined
//! permessage-deflate offer, the close handshake) — and against hand-made frames for
//! the RFC 6455 rules a polite client never breaks (unmasked frames, bad UTF-8,
//! reserved bits, oversize frames, fragmented control frames), the idle timeout and
//! keep-alive pings, the close code 1001 on a drain that waits for the socket, and the
//! `/metrics` families. `scripts/test.sh` provisions `websockets` (pip) and the Node
//! packages (npm, into http/tests/node).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use keel_http::ws::{Message, WebSocket, WebSocketUpgrade, close_code};
use keel_http::{Router, ServerConfig, TlsConfig};
use keel_testkit::TestServer;
use serde_json::Value;

async fn echo(mut socket: WebSocket) {
    while let Some(Ok(message)) = socket.recv().await {
        if matches!(message, Message::Close(_)) || socket.send(message).await.is_err() {
            break;
        }
    }
}

fn app() -> Router {
    Router::new()
        .get("/echo", |ws: WebSocketUpgrade| async move {
            ws.on_upgrade(echo)
        })
        .get("/small", |ws: WebSocketUpgrade| async move {
            ws.max_message_size(1024)
                .max_frame_size(1024)
                .on_upgrade(echo)
        })
        .get("/proto", |ws: WebSocketUpgrade| async move {
            ws.protocols(["chat.v1", "chat.v3"])
                .on_upgrade(|mut socket: WebSocket| async move {
                    let name = socket.protocol().unwrap_or("none").to_owned();
                    let _ = socket.send(Message::text(name)).await;
                    echo(socket).await;
                })
        })
        .get("/close", |ws: WebSocketUpgrade| async move {
            ws.on_upgrade(|socket: WebSocket| socket.close(4000, "policy says bye"))
        })
        .get("/panic", |ws: WebSocketUpgrade| async move {
            ws.on_upgrade(|_socket: WebSocket| async move { panic!("handler failed") })
        })
        .get("/idle", |ws: WebSocketUpgrade| async move {
            ws.ping_interval(Duration::from_millis(100))
                .idle_timeout(Duration::from_millis(400))
                .on_upgrade(echo)
        })
        .get("/plain", || async { "not a socket" })
}

fn server() -> TestServer {
    TestServer::start(ServerConfig::default(), app)
}

// ===== clients Keel did not write =====

/// Runs `cmd` (bounded by the scripts' own timeouts) and parses its JSON output.
fn json_of(mut cmd: Command) -> Value {
    let out = cmd.output().expect("the client runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/ws")
        .join(name)
}

/// The Node packages of http/tests/node, installed by `scripts/test.sh` (or here, once,
/// when a test runs without it).
pub fn node_modules() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/node");
    let modules = dir.join("node_modules");
    if !modules.join("ws").exists() || !modules.join("eventsource").exists() {
        let status = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefer-offline"])
            .current_dir(&dir)
            .status()
            .expect("npm (apt-get install npm; scripts/test.sh provisions it)");
        assert!(status.success(), "npm install in {}", dir.display());
    }
    modules
}

/// A self-signed certificate for 127.0.0.1 (openssl), in a fresh directory.
fn self_signed() -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("keel-ws-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
        ])
        .current_dir(&dir)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (dir.join("cert.pem"), dir.join("key.pem"))
}

#[test]
fn python_websockets_over_tcp_and_tls() {
    let server = server();
    let (cert, key) = self_signed();
    let tls = TlsConfig::from_pem_files(&cert, &key).expect("the certificate loads");
    let tls_server = TestServer::start(ServerConfig::default().tls(Some(tls)), app);
    let mut cmd = Command::new("python3");
    cmd.arg(script("app.py"))
        .arg(format!("ws://{}", server.addr))
        .arg(tls_server.addr.port().to_string());
    let out = json_of(cmd);
    assert_eq!(out["text"], "hello");
    assert_eq!(out["binary"], serde_json::json!([0, 1, 255]));
    assert_eq!(out["fragmented"], "fragmented");
    assert_eq!(out["big_ok"], true);
    assert_eq!(out["pong"], true);
    assert_eq!(out["close_code"], 1000);
    // The server's preference among what the client offered.
    assert_eq!(out["subprotocol"], "chat.v1");
    assert_eq!(out["proto_text"], "chat.v1");
    assert_eq!(out["too_big_code"], 1009);
    assert_eq!(out["server_close_code"], 4000);
    assert_eq!(out["server_close_reason"], "policy says bye");
    assert_eq!(out["panic_code"], 1011);
    assert_eq!(out["tls_text"], "over tls");
    assert_eq!(out["tls_close_code"], 1000);
    let _ = std::fs::remove_dir_all(cert.parent().unwrap());
}

#[test]
fn node_ws_echo_and_close() {
    let server = server();
    let mut cmd = Command::new("node");
    cmd.arg(script("client.mjs"))
        .arg(format!("ws://{}", server.addr))
        .env("KEEL_NODE_MODULES", node_modules());
    let out = json_of(cmd);
    assert_eq!(
        out["received"],
        serde_json::json!(["hi from node", [1, 2, 3]])
    );
    // permessage-deflate was offered and declined: plain frames.
    assert_eq!(out["extensions"], "");
    assert_eq!(out["close_code"], 1000);
    assert_eq!(out["close_reason"], "bye");
}

// ===== hand-made frames: the rules polite clients never break =====

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// Opens a socket on `path`; returns the stream and the `101`'s head. `extra` is sent
/// right behind the handshake, in the same write.
fn open(addr: SocketAddr, path: &str, extra: &[u8]) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes();
    request.extend_from_slice(extra);
    stream.write_all(&request).unwrap();
    let mut head = Vec::new();
    let mut byte = [0];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    (stream, String::from_utf8(head).unwrap())
}

/// A client frame: masked unless `unmasked`.
fn frame(first: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut out = vec![first];
    let mask_bit = if masked { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(mask_bit | n as u8),
        n if n < 65536 => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if masked {
        let mask = [0x12, 0x34, 0x56, 0x78];
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

/// Reads one server frame: (FIN and opcode byte, payload). Server frames are unmasked.
fn read_frame(stream: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut head = [0; 2];
    stream.read_exact(&mut head).unwrap();
    assert_eq!(head[1] & 0x80, 0, "a server frame is never masked");
    let len = match head[1] & 0x7f {
        126 => {
            let mut b = [0; 2];
            stream.read_exact(&mut b).unwrap();
            u64::from(u16::from_be_bytes(b))
        }
        127 => {
            let mut b = [0; 8];
            stream.read_exact(&mut b).unwrap();
            u64::from_be_bytes(b)
        }
        n => u64::from(n),
    };
    let mut payload = vec![0; len as usize];
    stream.read_exact(&mut payload).unwrap();
    (head[0], payload)
}

/// Reads frames until a close frame (skipping pings); its code and reason.
fn read_close(stream: &mut TcpStream) -> (u16, String) {
    loop {
        let (first, payload) = read_frame(stream);
        match first & 0x0f {
            0x8 => {
                let code = u16::from_be_bytes([payload[0], payload[1]]);
                return (code, String::from_utf8_lossy(&payload[2..]).into_owned());
            }
            0x9 | 0xA => continue,
            op => panic!("expected a close frame, got opcode {op:#x}"),
        }
    }
}

/// The server closes the TCP connection next.
fn assert_eof(stream: &mut TcpStream) {
    let mut rest = Vec::new();
    match stream.read_to_end(&mut rest) {
        Ok(_) => assert!(rest.is_empty(), "bytes after the close: {rest:?}"),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
}

#[test]
fn handshake_answer_and_a_frame_sent_with_it() {
    let server = server();
    // A text frame in the same packet as the handshake: the HTTP/1.1 connection read it
    // past the request and hands it over.
    let (mut s, head) = open(server.addr, "/echo", &frame(0x81, b"early", true));
    let lower = head.to_ascii_lowercase();
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
    // RFC 6455 §1.3's example key and answer.
    assert!(
        lower.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=\r\n"),
        "{head}"
    );
    assert!(lower.contains("upgrade: websocket\r\n"), "{head}");
    assert!(lower.contains("connection: upgrade\r\n"), "{head}");
    assert!(
        !lower.contains("content-length"),
        "a 101 has no body: {head}"
    );
    assert!(!lower.contains("connection: close"), "{head}");
    assert!(!lower.contains("sec-websocket-extensions"), "{head}");
    assert!(
        lower.contains("x-request-id: "),
        "the dispatch answered it: {head}"
    );
    assert_eq!(read_frame(&mut s), (0x81, b"early".to_vec()));
    // A ping is answered with a pong carrying its payload.
    s.write_all(&frame(0x89, b"p1", true)).unwrap();
    assert_eq!(read_frame(&mut s), (0x8A, b"p1".to_vec()));
    // A close is answered with the same code, then the server closes the connection.
    let mut close = 1000u16.to_be_bytes().to_vec();
    close.extend_from_slice(b"done");
    s.write_all(&frame(0x88, &close, true)).unwrap();
    assert_eq!(read_close(&mut s).0, 1000);
    assert_eof(&mut s);
}

#[test]
fn handshakes_that_are_refused() {
    let server = server();
    let mut client = server.connect();
    // A plain GET on a socket route.
    client
        .request("GET /echo HTTP/1.1\r\nHost: t\r\n\r\n")
        .assert_error(426, "websocket_handshake");
    let wrong_version = format!(
        "GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 8\r\n\r\n"
    );
    client
        .request(wrong_version)
        .assert_error(426, "websocket_handshake");
    let bad_key = "GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n\r\n";
    client
        .request(bad_key)
        .assert_error(400, "invalid_websocket_key");
    // The connection is still a plain HTTP/1.1 one.
    assert_eq!(client.get("/plain").text(), "not a socket");
}

/// Sends `bytes` on a fresh socket to `path`; the close code the server answers with,
/// after which it closes the connection.
fn close_code_for(addr: SocketAddr, path: &str, bytes: &[u8]) -> u16 {
    let (mut s, _) = open(addr, path, &[]);
    s.write_all(bytes).unwrap();
    let (code, _) = read_close(&mut s);
    assert_eof(&mut s);
    code
}

#[test]
fn protocol_violations_close_with_their_codes() {
    let server = server();
    let addr = server.addr;
    // §5.1: a client frame must be masked.
    assert_eq!(
        close_code_for(addr, "/echo", &frame(0x81, b"hi", false)),
        1002
    );
    // §5.2: reserved bits without an extension.
    assert_eq!(
        close_code_for(addr, "/echo", &frame(0xC1, b"hi", true)),
        1002
    );
    // §5.2: a reserved opcode.
    assert_eq!(
        close_code_for(addr, "/echo", &frame(0x83, b"hi", true)),
        1002
    );
    // §5.4: a continuation frame without a message to continue.
    assert_eq!(
        close_code_for(addr, "/echo", &frame(0x80, b"hi", true)),
        1002
    );
    // §5.5: a fragmented control frame.
    assert_eq!(
        close_code_for(addr, "/echo", &frame(0x09, b"hi", true)),
        1002
    );
    // §5.5: a control frame over 125 bytes.
    assert_eq!(
        close_code_for(addr, "/echo", &frame(0x89, &[0; 126], true)),
        1002
    );
    // §5.6/§8.1: a text message that is not UTF-8.
    assert_eq!(
        close_code_for(addr, "/echo", &frame(0x81, &[0xff, 0xfe], true)),
        1007
    );
    // §10.4: a frame over the limit (1 KiB on /small), refused from its header.
    assert_eq!(
        close_code_for(addr, "/small", &frame(0x82, &[0; 2000], true)),
        1009
    );
    // A message over the limit in small frames.
    let mut parts = frame(0x02, &[0; 700], true);
    parts.extend(frame(0x80, &[0; 700], true));
    assert_eq!(close_code_for(addr, "/small", &parts), 1009);
}

#[test]
fn fragments_interleaved_with_a_ping_make_one_message() {
    let server = server();
    let (mut s, _) = open(server.addr, "/echo", &[]);
    let mut bytes = frame(0x01, b"hel", true);
    // §5.4: control frames may come between the fragments of a message.
    bytes.extend(frame(0x89, b"", true));
    bytes.extend(frame(0x80, b"lo", true));
    s.write_all(&bytes).unwrap();
    assert_eq!(read_frame(&mut s), (0x8A, Vec::new()));
    assert_eq!(read_frame(&mut s), (0x81, b"hello".to_vec()));
}

#[test]
fn a_quiet_peer_is_pinged_then_closed_with_1001() {
    let server = server();
    let (mut s, _) = open(server.addr, "/idle", &[]);
    let started = Instant::now();
    // Pings every 100 ms; this client never answers them.
    let (first, _) = read_frame(&mut s);
    assert_eq!(first, 0x89, "a keep-alive ping");
    let (code, reason) = read_close(&mut s);
    assert_eq!((code, reason.as_str()), (1001, "idle timeout"));
    assert!(started.elapsed() < Duration::from_secs(3));
    // Our answer to the close ends it.
    s.write_all(&frame(0x88, &1001u16.to_be_bytes(), true))
        .unwrap();
    assert_eof(&mut s);
}

#[test]
fn a_peer_that_answers_pings_stays_open() {
    let server = server();
    let (mut s, _) = open(server.addr, "/idle", &[]);
    let until = Instant::now() + Duration::from_millis(1000);
    while Instant::now() < until {
        let (first, payload) = read_frame(&mut s);
        assert_eq!(first, 0x89, "only pings while quiet");
        s.write_all(&frame(0x8A, &payload, true)).unwrap();
    }
    s.write_all(&frame(0x81, b"still here", true)).unwrap();
    loop {
        let (first, payload) = read_frame(&mut s);
        if first == 0x89 {
            s.write_all(&frame(0x8A, &payload, true)).unwrap();
            continue;
        }
        assert_eq!((first, payload.as_slice()), (0x81, &b"still here"[..]));
        break;
    }
}

#[test]
fn the_drain_closes_sockets_with_1001_and_waits_for_them() {
    let server = TestServer::start(
        ServerConfig::default().shutdown_timeout(Duration::from_secs(10)),
        app,
    );
    let (mut a, _) = open(server.addr, "/echo", &[]);
    let (mut b, _) = open(server.addr, "/echo", &[]);
    a.write_all(&frame(0x81, b"before", true)).unwrap();
    assert_eq!(read_frame(&mut a), (0x81, b"before".to_vec()));
    let started = Instant::now();
    server.handle.shutdown();
    let (code, reason) = read_close(&mut a);
    assert_eq!(
        (code, reason.as_str()),
        (close_code::GOING_AWAY, "server shutting down")
    );
    // The drain waits for the handshake to finish: `a` answers at once.
    a.write_all(&frame(0x88, &1001u16.to_be_bytes(), true))
        .unwrap();
    assert_eof(&mut a);
    // `b` answers late, still within the close timeout.
    assert_eq!(read_close(&mut b).0, 1001);
    std::thread::sleep(Duration::from_millis(300));
    b.write_all(&frame(0x88, &1001u16.to_be_bytes(), true))
        .unwrap();
    assert_eof(&mut b);
    let report = server.stop().unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn metrics_count_sockets_and_messages() {
    let server = TestServer::start_with_loops(1, ServerConfig::default(), app);
    let (mut s, _) = open(server.addr, "/echo", &[]);
    for _ in 0..3 {
        s.write_all(&frame(0x81, b"m", true)).unwrap();
        read_frame(&mut s);
    }
    let metrics = server.connect().get("/metrics").text().to_owned();
    let line = |name: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in\n{metrics}"))
            .to_owned()
    };
    assert_eq!(
        line("keel_websockets_open{loop=\"0\"}"),
        "keel_websockets_open{loop=\"0\"} 1"
    );
    assert_eq!(
        line("keel_websocket_messages_total{loop=\"0\",direction=\"in\"}"),
        "keel_websocket_messages_total{loop=\"0\",direction=\"in\"} 3"
    );
    assert_eq!(
        line("keel_websocket_messages_total{loop=\"0\",direction=\"out\"}"),
        "keel_websocket_messages_total{loop=\"0\",direction=\"out\"} 3"
    );
    // The handshake is a request like any other: counted as a 101 under its route.
    assert!(
        metrics.contains("route=\"/echo\",status=\"101\""),
        "{}",
        metrics
            .lines()
            .filter(|l| l.contains("/echo"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    drop(s);
}

#[test]
fn extractor_refuses_outside_a_handshake_and_sends_from_split_halves() {
    // A handler may split the socket and send from one half while reading the other.
    let server = TestServer::start(ServerConfig::default(), || {
        Router::new().get("/split", |ws: WebSocketUpgrade| async move {
            ws.on_upgrade(|socket: WebSocket| async move {
                let (mut tx, mut rx) = socket.split();
                while let Some(Ok(Message::Text(t))) = rx.recv().await {
                    if tx.send(format!("got {t}")).await.is_err() {
                        break;
                    }
                }
            })
        })
    });
    let (mut s, _) = open(server.addr, "/split", &[]);
    s.write_all(&frame(0x81, b"x", true)).unwrap();
    assert_eq!(read_frame(&mut s), (0x81, b"got x".to_vec()));
}

// ===== Keel's client =====

#[test]
fn keel_client_against_python_websockets_server() {
    use std::io::BufRead;
    use std::process::Stdio;

    use keel_http::client::Client;

    let mut server = Command::new("python3")
        .arg(script("echo_server.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 with websockets");
    let mut line = String::new();
    std::io::BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line.trim().parse().expect("the server's port");
    keel_runtime::block_on(async move {
        let client = Client::new();
        let url = format!("ws://127.0.0.1:{port}/anything");
        let mut socket = client.websocket(&url, &["echo.v1"]).await.unwrap();
        assert_eq!(socket.protocol(), Some("echo.v1"));
        socket.send(Message::text("from keel")).await.unwrap();
        assert_eq!(
            socket.recv().await.unwrap().unwrap(),
            Message::text("from keel")
        );
        let big = vec![7u8; 100_000];
        socket.send(Message::Binary(big.clone())).await.unwrap();
        assert_eq!(socket.recv().await.unwrap().unwrap(), Message::Binary(big));
        socket.close(close_code::NORMAL, "bye").await;
        // A server that answers with something other than a 101 (here: no subprotocol
        // in common) is an error naming the status.
        let err = client
            .websocket(&format!("http://127.0.0.1:{port}/"), &["other"])
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("answered 400 to a WebSocket handshake"),
            "{err}"
        );
    });
    drop(server.stdin.take());
    let _ = server.wait();
}

#[test]
fn keel_client_against_keel_server_over_tls() {
    use keel_http::client::Client;

    let (cert, key) = self_signed();
    let tls = TlsConfig::from_pem_files(&cert, &key).expect("the certificate loads");
    let server = TestServer::start(ServerConfig::default().tls(Some(tls)), app);
    let port = server.addr.port();
    let ca = cert.clone();
    keel_runtime::block_on(async move {
        let client = Client::builder().add_ca_file(&ca).unwrap().build();
        let mut socket = client
            .websocket(&format!("wss://localhost:{port}/proto"), &["chat.v1"])
            .await
            .unwrap();
        assert_eq!(socket.protocol(), Some("chat.v1"));
        assert_eq!(
            socket.recv().await.unwrap().unwrap(),
            Message::text("chat.v1")
        );
        socket.send(Message::text("secure")).await.unwrap();
        assert_eq!(
            socket.recv().await.unwrap().unwrap(),
            Message::text("secure")
        );
        socket.close(close_code::NORMAL, "").await;
    });
    let _ = std::fs::remove_dir_all(cert.parent().unwrap());
}
