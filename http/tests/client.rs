//! `keel_http::client` end to end: against a Keel server started in the test (text, JSON,
//! POST echo, chunked bodies streamed and whole, keep-alive reuse counted by peer port,
//! timeouts, the body limit) and against raw sockets that answer exactly what the test
//! writes (smuggling-shaped and malformed responses, stale pooled connections).

use std::future::Future;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use keel_http::client::{Client, ClientError, TimeoutPhase};
use keel_http::{Body, Json, RemoteAddr, Response, Router, ServerConfig, StatusCode};
use keel_testkit::SlowChunks;
use keel_testkit::TestServer;
use serde_json::{Value, json};

fn app() -> Router {
    Router::new()
        .get("/text", || async { "hello, client" })
        .get("/json", || async {
            Json(json!({ "name": "keel", "n": [1, 2, 3] }))
        })
        .post("/echo", |Json(v): Json<Value>| async move {
            Json(json!({ "echo": v }))
        })
        .get("/peer", |RemoteAddr(peer): RemoteAddr| async move {
            peer.port().to_string()
        })
        .get("/chunked", || async {
            let chunks = ["alpha,", "beta,", "gamma"]
                .iter()
                .map(|s| s.as_bytes().to_vec())
                .collect();
            // A little apart, so they reach the client as separate reads.
            let chunks = SlowChunks::new(chunks, Duration::from_millis(20));
            Response::new(StatusCode::OK).with_body(Body::stream(chunks))
        })
        .get("/big", || async { "x".repeat(100_000) })
        .get("/slow", || async {
            keel_runtime::time::sleep(Duration::from_secs(3)).await;
            "late"
        })
        .get("/redirect", || async { redirect(302, "/text") })
        .post("/submit", || async { redirect(303, "/text") })
        .get("/loop", || async { redirect(307, "/loop") })
        .get("/missing-is-404", || async {
            (StatusCode::NOT_FOUND, "nope")
        })
}

fn redirect(status: u16, to: &'static str) -> Response {
    Response::new(StatusCode::from_u16(status).unwrap()).with_header("location", to)
}

fn server() -> TestServer {
    TestServer::start(ServerConfig::default(), app)
}

/// Runs `f` on a one-off Keel loop.
fn on_loop<F: Future>(f: F) -> F::Output {
    keel_runtime::block_on(f)
}

#[test]
fn get_text_and_json() {
    let server = server();
    let base = format!("http://{}", server.addr);
    on_loop(async {
        let client = Client::new();
        let res = client.get(&format!("{base}/text")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(res.text().await.unwrap(), "hello, client");

        let res = client.get(&format!("{base}/json")).send().await.unwrap();
        let v: Value = res.json().await.unwrap();
        assert_eq!(v, json!({ "name": "keel", "n": [1, 2, 3] }));

        // A status is a response, not an error.
        let res = client
            .get(&format!("{base}/missing-is-404"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert_eq!(res.text().await.unwrap(), "nope");
    });
}

#[test]
fn host_names_resolve_through_the_runtime() {
    let server = server();
    let url = format!("http://localhost:{}/text", server.addr.port());
    on_loop(async {
        let res = Client::new().get(&url).send().await.unwrap();
        assert_eq!(res.text().await.unwrap(), "hello, client");
    });
}

#[test]
fn post_json_echo_and_text_body() {
    let server = server();
    let url = format!("http://{}/echo", server.addr);
    on_loop(async {
        let client = Client::new();
        let res = client
            .post(&url)
            .header("x-trace", "abc")
            .json(&json!({ "a": [1, "two"], "b": null }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let v: Value = res.json().await.unwrap();
        assert_eq!(v, json!({ "echo": { "a": [1, "two"], "b": null } }));

        // A raw body with an explicit type goes through the same extractor.
        let res = client
            .post(&url)
            .header("content-type", "application/json")
            .body(&b"[true]"[..])
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.json::<Value>().await.unwrap(),
            json!({ "echo": [true] })
        );

        // Text is not JSON: the server's 4xx comes back as a response.
        let res = client.post(&url).text("not json").send().await.unwrap();
        assert!(res.status().is_client_error(), "{:?}", res.status());
    });
}

#[test]
fn chunked_response_whole_and_streamed() {
    let server = server();
    let url = format!("http://{}/chunked", server.addr);
    on_loop(async {
        let client = Client::new();
        let res = client.get(&url).send().await.unwrap();
        assert_eq!(res.header("transfer-encoding"), Some("chunked"));
        assert_eq!(res.bytes().await.unwrap(), b"alpha,beta,gamma");

        let mut res = client.get(&url).send().await.unwrap();
        let mut pieces = Vec::new();
        while let Some(chunk) = res.chunk().await.unwrap() {
            assert!(!chunk.is_empty());
            pieces.push(String::from_utf8(chunk).unwrap());
        }
        assert_eq!(pieces.concat(), "alpha,beta,gamma");
        assert!(pieces.len() >= 2, "the chunks arrived apart: {pieces:?}");
        assert!(res.chunk().await.unwrap().is_none());
        // Both chunked exchanges ended cleanly on one kept-alive connection.
        assert_eq!(client.idle_connections(), 1);
    });
}

#[test]
fn connections_are_reused_only_when_allowed() {
    let server = server();
    let url = format!("http://{}/peer", server.addr);
    on_loop(async {
        let client = Client::new();
        let mut ports = Vec::new();
        for _ in 0..4 {
            let res = client.get(&url).send().await.unwrap();
            ports.push(res.text().await.unwrap());
        }
        assert!(
            ports.iter().all(|p| *p == ports[0]),
            "one connection: {ports:?}"
        );
        assert_eq!(client.idle_connections(), 1);

        // Two responses held at once need two connections; both go back afterwards.
        let a = client.get(&url).send().await.unwrap();
        let b = client.get(&url).send().await.unwrap();
        let (pa, pb) = (a.text().await.unwrap(), b.text().await.unwrap());
        assert_ne!(pa, pb);
        assert!(pa == ports[0] || pb == ports[0]);
        assert_eq!(client.idle_connections(), 2);

        // A response dropped unread closes its connection.
        let unread = client.get(&url).send().await.unwrap();
        drop(unread);
        assert_eq!(client.idle_connections(), 1);

        // `Connection: close` from the caller: the connection is not kept.
        client.clear_idle();
        let res = client
            .get(&url)
            .header("connection", "close")
            .send()
            .await
            .unwrap();
        let closed_port = res.text().await.unwrap();
        assert_eq!(client.idle_connections(), 0);
        let res = client.get(&url).send().await.unwrap();
        assert_ne!(res.text().await.unwrap(), closed_port);

        // Reuse off.
        let no_reuse = Client::builder().max_idle_per_host(0).build();
        let first = no_reuse
            .get(&url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let second = no_reuse
            .get(&url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_ne!(first, second);
        assert_eq!(no_reuse.idle_connections(), 0);
    });
}

#[test]
fn closed_port_is_a_connect_error() {
    let addr = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    on_loop(async {
        let client = Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build();
        let err = client
            .get(&format!("http://{addr}/"))
            .send()
            .await
            .unwrap_err();
        assert!(err.is_connect(), "{err:?}");
        assert!(matches!(err, ClientError::Connect(_)), "{err:?}");
        assert!(std::error::Error::source(&err).is_some());
    });
}

#[test]
fn request_and_total_timeouts_name_their_phase() {
    let server = server();
    let url = format!("http://{}/slow", server.addr);
    on_loop(async {
        let client = Client::builder()
            .request_timeout(Duration::from_millis(300))
            .build();
        let err = client.get(&url).send().await.unwrap_err();
        assert_eq!(err.timeout_phase(), Some(TimeoutPhase::Request), "{err:?}");

        let client = Client::builder()
            .request_timeout(Duration::from_secs(30))
            .total_timeout(Duration::from_millis(300))
            .build();
        let err = client.get(&url).send().await.unwrap_err();
        assert_eq!(err.timeout_phase(), Some(TimeoutPhase::Total), "{err:?}");
        assert!(err.to_string().contains("total"), "{err}");
    });
}

#[test]
fn a_body_over_the_limit_errors() {
    let server = server();
    let base = format!("http://{}", server.addr);
    on_loop(async {
        let client = Client::builder().max_body_size(1000).build();
        // Content-Length over the limit.
        let res = client.get(&format!("{base}/big")).send().await.unwrap();
        let err = res.bytes().await.unwrap_err();
        assert!(matches!(err, ClientError::BodyTooLarge(1000)), "{err:?}");
        // Chunked, found over the limit as it arrives.
        let client = Client::builder().max_body_size(8).build();
        let res = client.get(&format!("{base}/chunked")).send().await.unwrap();
        let err = res.bytes().await.unwrap_err();
        assert!(matches!(err, ClientError::BodyTooLarge(8)), "{err:?}");
        assert_eq!(client.idle_connections(), 0);
        // At the limit, fine; one byte under it, too large.
        for (limit, ok) in [(100_001, true), (100_000, true), (99_999, false)] {
            let res = Client::builder()
                .max_body_size(limit)
                .build()
                .get(&format!("{base}/big"))
                .send()
                .await
                .unwrap();
            match res.bytes().await {
                Ok(body) if ok => assert_eq!(body.len(), 100_000),
                Err(ClientError::BodyTooLarge(l)) if !ok => assert_eq!(l, limit),
                other => panic!("limit {limit}: {:?}", other.map(|b| b.len())),
            }
        }
    });
}

#[test]
fn only_http_and_https_urls() {
    // `https://` is tested in tls_client.rs.
    on_loop(async {
        let err = Client::new()
            .get("ftp://example.com/")
            .send()
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::InvalidUrl(_)), "{err:?}");
        assert!(err.to_string().contains("https://"), "{err}");
    });
}

/// A raw server: for each connection, reads one request head and writes the next canned
/// response, then closes. Returns its address and a count of accepted connections.
fn raw_server(responses: Vec<Vec<u8>>) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    thread::spawn(move || {
        for response in responses {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            count.fetch_add(1, Ordering::SeqCst);
            stream
                .set_read_timeout(Some(keel_testkit::IO_TIMEOUT))
                .unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                match stream.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            let _ = stream.write_all(&response);
            // Dropped: closed.
        }
    });
    (addr, accepted)
}

async fn fetch(addr: SocketAddr) -> Result<Vec<u8>, ClientError> {
    Client::new()
        .get(&format!("http://{addr}/"))
        .send()
        .await?
        .bytes()
        .await
}

#[test]
fn malformed_responses_are_rejected() {
    let cases: &[(&[u8], &str)] = &[
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "Content-Length with Transfer-Encoding",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello",
            "invalid Content-Length",
        ),
        (
            b"HTTP/1.1 200 OK\nContent-Length: 2\n\nhi",
            "invalid line ending",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhi\r\n0\r\n\r\n",
            "chunk",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
            "closed before the end",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-",
            "closed inside the response head",
        ),
    ];
    let (addr, _) = raw_server(cases.iter().map(|(r, _)| r.to_vec()).collect());
    on_loop(async {
        for (response, reason) in cases {
            let err = fetch(addr).await.unwrap_err();
            match &err {
                ClientError::InvalidResponse(r) => assert!(
                    r.contains(reason),
                    "{:?}: {r}",
                    String::from_utf8_lossy(response)
                ),
                other => panic!("{:?}: {other:?}", String::from_utf8_lossy(response)),
            }
        }
    });
}

#[test]
fn oversized_heads_and_close_delimited_bodies() {
    let huge = format!(
        "HTTP/1.1 200 OK\r\nX-Big: {}\r\nContent-Length: 0\r\n\r\n",
        "a".repeat(100_000)
    );
    let (addr, _) = raw_server(vec![
        huge.into_bytes(),
        b"HTTP/1.0 200 OK\r\n\r\nuntil the end".to_vec(),
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec(),
    ]);
    on_loop(async {
        let err = fetch(addr).await.unwrap_err();
        assert!(matches!(err, ClientError::HeadTooLarge), "{err:?}");
        assert_eq!(fetch(addr).await.unwrap(), b"until the end");
        assert_eq!(fetch(addr).await.unwrap(), b"ok");
    });
}

#[test]
fn a_pooled_connection_the_server_closed_is_not_reused() {
    // Each connection answers one keep-alive response, then the server closes it.
    let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec();
    let (addr, accepted) = raw_server(vec![ok.clone(), ok]);
    on_loop(async {
        let client = Client::new();
        let url = format!("http://{addr}/");
        let first = client
            .get(&url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(first, b"ok");
        assert_eq!(client.idle_connections(), 1);
        // Wait until the server's close has reached the client's socket.
        keel_runtime::time::sleep(Duration::from_millis(200)).await;
        let second = client
            .get(&url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(second, b"ok");
    });
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[test]
fn redirects_are_followed_only_when_asked() {
    let server = server();
    let base = format!("http://{}", server.addr);
    on_loop(async {
        let res = Client::new()
            .get(&format!("{base}/redirect"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 302);
        assert_eq!(res.header("location"), Some("/text"));

        let client = Client::builder().follow_redirects(3).build();
        let res = client
            .get(&format!("{base}/redirect"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.text().await.unwrap(), "hello, client");

        // 303 after a POST: the next hop is a GET (a POST to /text would be a 405).
        let res = client
            .post(&format!("{base}/submit"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.text().await.unwrap(), "hello, client");

        let err = client
            .get(&format!("{base}/loop"))
            .send()
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::TooManyRedirects(3)), "{err:?}");
        // Every hop's body was read, so one connection carried them all.
        assert_eq!(client.idle_connections(), 1);
    });
}
