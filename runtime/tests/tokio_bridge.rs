//! The tokio bridge (`Builder::tokio_threads`, `keel_runtime::tokio`): tokio's sockets,
//! timers and `tokio::spawn` work inside Keel tasks, the I/O on the bridge's reactor and
//! the spawned work on its `keel-tokio-N` workers while the awaiting task stays on its
//! loop; `keel_runtime::tokio::spawn` carries the request context; no bridge with 0
//! threads; the bridge's threads end with the runtime.

use std::time::{Duration, Instant};

use keel_runtime::task_context::{self, Context};
use keel_runtime::{Builder, Runtime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn runtime(loops: usize) -> Runtime {
    Builder::new().loops(loops).pin(false).build().unwrap()
}

fn thread_name() -> String {
    std::thread::current().name().unwrap_or("").to_owned()
}

#[test]
fn tokio_spawn_from_a_loop_runs_on_the_bridge_workers() {
    let rt = runtime(1);
    let (outer, inner) = rt.block_on(async {
        let inner = tokio::spawn(async { thread_name() }).await.unwrap();
        (thread_name(), inner)
    });
    assert_eq!(outer, "keel-loop-0");
    assert!(inner.starts_with("keel-tokio-"), "{inner}");
}

#[test]
fn tokio_sockets_and_timers_work_on_a_loop() {
    let rt = runtime(2);
    let (echoed, slept, names) = rt.block_on(async {
        // An echo server on the bridge's workers...
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        keel_runtime::tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut buf = [0u8; 64];
                    while let Ok(n) = socket.read(&mut buf).await {
                        if n == 0 || socket.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        // ...and a tokio client awaited on the loop: its readiness comes from the
        // bridge's reactor, its wakes through the loop's inject queue.
        let mut names = vec![thread_name()];
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        names.push(thread_name());
        let mut echoed = Vec::new();
        for word in ["one", "two", "three"] {
            stream.write_all(word.as_bytes()).await.unwrap();
            let mut buf = vec![0u8; word.len()];
            stream.read_exact(&mut buf).await.unwrap();
            names.push(thread_name());
            echoed.push(String::from_utf8(buf).unwrap());
        }
        let start = Instant::now();
        tokio::time::sleep(Duration::from_millis(30)).await;
        names.push(thread_name());
        (echoed, start.elapsed(), names)
    });
    assert_eq!(echoed, ["one", "two", "three"]);
    assert!(slept >= Duration::from_millis(30), "{slept:?}");
    assert!(names.iter().all(|n| n == "keel-loop-0"), "{names:?}");
}

#[test]
fn bridge_spawn_carries_the_request_context() {
    let rt = runtime(1);
    let (id, thread) = rt.block_on(task_context::scope(Context::new("req-42"), async {
        keel_runtime::tokio::spawn(async {
            tokio::time::sleep(Duration::from_millis(1)).await;
            (task_context::request_id(), thread_name())
        })
        .await
        .unwrap()
    }));
    assert_eq!(id.as_deref(), Some("req-42"));
    assert!(thread.starts_with("keel-tokio-"), "{thread}");
}

#[test]
fn zero_threads_start_no_bridge() {
    let rt = Builder::new()
        .loops(1)
        .pin(false)
        .tokio_threads(0)
        .build()
        .unwrap();
    assert!(rt.block_on(async { tokio::runtime::Handle::try_current().is_err() }));
}

/// The kernel's id of the calling thread, from `/proc/thread-self` (`<pid>/task/<tid>`).
fn tid() -> String {
    let link = std::fs::read_link("/proc/thread-self").unwrap();
    link.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn bridge_threads_end_with_the_runtime() {
    let rt = Builder::new()
        .loops(1)
        .pin(false)
        .tokio_threads(2)
        .build()
        .unwrap();
    let tid = rt.block_on(async { tokio::spawn(async { tid() }).await.unwrap() });
    let task = format!("/proc/self/task/{tid}");
    assert!(std::path::Path::new(&task).exists());
    drop(rt);
    assert!(
        !std::path::Path::new(&task).exists(),
        "the bridge thread {tid} outlived its runtime"
    );
}
