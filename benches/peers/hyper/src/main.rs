//! hyper 1.x on one tokio `current_thread` runtime: `GET /plaintext` and `GET /json` on
//! `127.0.0.1:PORT`, HTTP/1.1 keep-alive with `pipeline_flush` on. A peer for
//! `benches/load/run.sh`, written the way hyper's own examples serve.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

const PLAINTEXT: &[u8] = b"Hello, World!";

async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let response = match (req.method(), req.uri().path()) {
        (&Method::GET, "/plaintext") => {
            let mut r = Response::new(Full::new(Bytes::from_static(PLAINTEXT)));
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            r
        }
        (&Method::GET, "/json") => {
            // Serialised per request, as Keel's handler does.
            let body = serde_json::to_vec(&serde_json::json!({ "message": "Hello, World!" }))
                .expect("a literal JSON value serialises");
            let mut r = Response::new(Full::new(Bytes::from(body)));
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            r
        }
        _ => {
            let mut r = Response::new(Full::new(Bytes::new()));
            *r.status_mut() = StatusCode::NOT_FOUND;
            r
        }
    };
    Ok(response)
}

fn port() -> u16 {
    std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000)
}

fn main() -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    runtime.block_on(serve(SocketAddr::from(([127, 0, 0, 1], port()))))
}

async fn serve(addr: SocketAddr) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    println!("peer-hyper: listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        tokio::task::spawn(async move {
            let conn = http1::Builder::new()
                .keep_alive(true)
                .pipeline_flush(true)
                .serve_connection(TokioIo::new(stream), service_fn(handle));
            // A peer closing mid-request is normal under load; nothing to report.
            let _ = conn.await;
        });
    }
}
