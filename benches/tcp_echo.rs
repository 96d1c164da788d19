//! TCP echo round trip of `MSG` bytes over loopback on one connection, with the client
//! and the echo server as tasks of the same single loop — on Keel and on tokio's
//! `current_thread` runtime. Every echo is compared with what was sent.

mod common;

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use keel::runtime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const GROUP: &str = "tcp_echo_64b";

/// Bytes per round trip.
const MSG: usize = 64;

/// The message of round `n`: varies per round, so a stale echo cannot pass.
fn message(n: u64) -> [u8; MSG] {
    std::array::from_fn(|i| (n as u8).wrapping_add(i as u8))
}

fn keel_echo(iters: u64) -> Duration {
    runtime::block_on(async move {
        let listener = runtime::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let server = runtime::spawn_local(async move {
            let (stream, _) = listener.accept().await.expect("accept");
            stream.set_nodelay(true).expect("nodelay");
            let mut buf = [0; MSG];
            for _ in 0..iters {
                stream.read_exact(&mut buf).await.expect("server read");
                stream.write_all(&buf).await.expect("server write");
            }
            iters
        });
        let client = runtime::net::TcpStream::connect(addr)
            .await
            .expect("connect");
        client.set_nodelay(true).expect("nodelay");
        let mut back = [0; MSG];
        let start = Instant::now();
        for n in 0..iters {
            let msg = message(n);
            client.write_all(&msg).await.expect("client write");
            client.read_exact(&mut back).await.expect("client read");
            assert_eq!(back, msg, "echo differs in round {n}");
        }
        let elapsed = start.elapsed();
        assert_eq!(server.await.expect("server failed"), iters);
        elapsed
    })
}

fn tokio_echo(rt: &tokio::runtime::Runtime, iters: u64) -> Duration {
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.expect("accept");
            stream.set_nodelay(true).expect("nodelay");
            let mut buf = [0; MSG];
            for _ in 0..iters {
                stream.read_exact(&mut buf).await.expect("server read");
                stream.write_all(&buf).await.expect("server write");
            }
            iters
        });
        let mut client = tokio::net::TcpStream::connect(addr).await.expect("connect");
        client.set_nodelay(true).expect("nodelay");
        let mut back = [0; MSG];
        let start = Instant::now();
        for n in 0..iters {
            let msg = message(n);
            client.write_all(&msg).await.expect("client write");
            client.read_exact(&mut back).await.expect("client read");
            assert_eq!(back, msg, "echo differs in round {n}");
        }
        let elapsed = start.elapsed();
        assert_eq!(server.await.expect("server failed"), iters);
        elapsed
    })
}

fn bench_echo(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut group = c.benchmark_group(GROUP);
    common::configure(&mut group);
    group.throughput(Throughput::Bytes(MSG as u64));
    group.bench_function("keel", |b| {
        b.iter_custom(|iters| common::record(GROUP, "keel", iters, keel_echo(iters)))
    });
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| common::record(GROUP, "tokio", iters, tokio_echo(&rt, iters)))
    });
    group.finish();
}

criterion_group!(benches, bench_echo);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    common::print_ratio(GROUP, "tokio");
}
