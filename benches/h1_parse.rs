//! HTTP/1.1 request-head parsing: Keel's strict parser (`parse_request`, as each
//! connection calls it) against bare httparse on the same bytes, the floor Keel builds on.
//! The gap is the cost of Keel's checks (bare LF, framing headers, Host, limits) and of
//! recording the head as spans.
//!
//! Two heads: a short `GET /plaintext` as load generators send it, and a browser's
//! `GET` with eleven headers. Every parse must be complete at the head's full length.

mod common;

use std::hint::black_box;
use std::mem::MaybeUninit;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use keel_http::_benchable::Status;
use keel_http::fuzzing::{Limits, parse_request};

const SMALL: &str = "h1_parse_small";
const BROWSER: &str = "h1_parse_browser";

/// What wrk sends for TechEmpower's plaintext test.
const SMALL_REQ: &[u8] = b"GET /plaintext HTTP/1.1\r\n\
Host: localhost:8080\r\n\
Accept: text/plain,text/html;q=0.9,application/xhtml+xml;q=0.9,application/xml;q=0.8,*/*;q=0.7\r\n\
Connection: keep-alive\r\n\
\r\n";

/// A browser navigating to a page with a query, cookies and the usual client hints.
const BROWSER_REQ: &[u8] =
    b"GET /repos/rust-lang/rust/issues?state=open&sort=updated&page=2 HTTP/1.1\r\n\
Host: api.example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n\
Accept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Referer: https://api.example.com/repos/rust-lang/rust\r\n\
Connection: keep-alive\r\n\
Cookie: session=4f9c2a7b1e8d4c6f9a3b5d7e1f2a4c6b; theme=dark; _ga=GA1.2.1234567890.1700000000\r\n\
Upgrade-Insecure-Requests: 1\r\n\
Sec-Fetch-Dest: document\r\n\
Sec-Fetch-Mode: navigate\r\n\
\r\n";

/// Keel's parser, with the server's default limits.
fn keel(req: &'static [u8], headers: usize, path: &'static [u8], iters: u64) -> Duration {
    let limits = Limits::default();
    let start = Instant::now();
    for _ in 0..iters {
        match parse_request(black_box(req), &limits) {
            Ok(Status::Complete(head)) => {
                assert_eq!(head.head_len(), req.len());
                assert_eq!(head.headers().len(), headers);
                assert_eq!(head.path(req), path);
                black_box(head);
            }
            other => panic!("not a complete head: {other:?}"),
        }
    }
    start.elapsed()
}

/// httparse alone, with as many header slots as Keel's default allows (100).
fn httparse(req: &'static [u8], headers: usize, path: &'static str, iters: u64) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; 100];
        let mut parsed = httparse::Request::new(&mut []);
        let status = parsed
            .parse_with_uninit_headers(black_box(req), &mut slots)
            .expect("a valid head");
        assert_eq!(status, httparse::Status::Complete(req.len()));
        assert_eq!(parsed.headers.len(), headers);
        assert_eq!(parsed.path, Some(path));
        black_box(&parsed);
    }
    start.elapsed()
}

fn bench_head(c: &mut Criterion, group_name: &'static str, req: &'static [u8], headers: usize) {
    let text = std::str::from_utf8(req).expect("ASCII head");
    let target = text.split(' ').nth(1).expect("a request line");
    let path = target.split('?').next().expect("a path");
    let mut group = c.benchmark_group(group_name);
    common::configure(&mut group);
    group.throughput(Throughput::Bytes(req.len() as u64));
    group.bench_function("keel", |b| {
        b.iter_custom(|iters| {
            let elapsed = keel(req, headers, path.as_bytes(), iters);
            common::record(group_name, "keel", iters, elapsed)
        })
    });
    group.bench_function("httparse", |b| {
        b.iter_custom(|iters| {
            let elapsed = httparse(req, headers, target, iters);
            common::record(group_name, "httparse", iters, elapsed)
        })
    });
    group.finish();
}

fn bench_parse(c: &mut Criterion) {
    bench_head(c, SMALL, SMALL_REQ, 3);
    bench_head(c, BROWSER, BROWSER_REQ, 11);
}

criterion_group!(benches, bench_parse);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    common::print_ratio(SMALL, "httparse");
    common::print_ratio(BROWSER, "httparse");
}
