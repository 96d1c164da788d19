//! A panicking task: its join handle reports the panic with its message, and the loop
//! it ran on keeps serving tasks, timers and sockets; `Runtime::block_on` and
//! `Runtime::run` pass the panic on.

mod util;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use keel_runtime::net::{TcpListener, TcpStream};
use keel_runtime::{current_loop, spawn_local};
use util::{keel_test, within};

/// Binds, accepts one connection and echoes it, all on the calling loop.
async fn echo_once_on_this_loop() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = spawn_local(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut buf = [0; 16];
        let n = stream.read(&mut buf).await.unwrap();
        stream.write_all(&buf[..n]).await.unwrap();
    });
    let client = TcpStream::connect(addr).await.unwrap();
    client.write_all(b"still alive").await.unwrap();
    let mut buf = [0; 11];
    client.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"still alive");
    within("the echo server", server).await.unwrap();
}

keel_test! {
    async fn panic_is_reported_with_its_message(handle) {
        let n = std::hint::black_box(42);
        let err = spawn_local(async move { panic!("boom {n}") }).await.unwrap_err();
        assert!(err.is_panic(), "{err:?}");
        assert!(!err.is_cancelled());
        assert_eq!(err.panic_message(), Some("boom 42"));
        assert!(err.to_string().contains("boom 42"), "{err}");
        let payload = err.try_into_panic().expect("a panic payload");
        assert_eq!(payload.downcast_ref::<String>().map(String::as_str), Some("boom 42"));

        let err = spawn_local(async { panic!("static message") }).await.unwrap_err();
        assert_eq!(err.panic_message(), Some("static message"));
    }
}

keel_test! {
    async fn loop_keeps_serving_after_a_panic(handle) {
        let target = handle.loops() - 1;
        let err = within("the panicking task", handle.spawn_on(target, async {
            panic!("task failure");
        }))
        .await
        .unwrap_err();
        assert_eq!(err.panic_message(), Some("task failure"));

        // Same loop: a plain task, a timer and a socket still work.
        let after = handle.spawn_on(target, async { current_loop() });
        assert_eq!(within("a task after the panic", after).await.unwrap(), Some(target));
        let echo = handle.spawn_local_on(target, || async {
            keel_runtime::time::sleep(Duration::from_millis(1)).await;
            echo_once_on_this_loop().await;
            current_loop()
        });
        assert_eq!(within("an echo after the panic", echo).await.unwrap(), Some(target));
    }
}

keel_test! {
    async fn panic_in_one_task_does_not_cancel_its_neighbours(handle) {
        let (tx, rx) = util::oneshot::<u32>();
        let waiting = spawn_local(rx);
        let err = spawn_local(async { panic!("neighbour") }).await.unwrap_err();
        assert!(err.is_panic());
        tx.send(9);
        assert_eq!(within("the neighbour", waiting).await.unwrap(), Some(9));
    }
}

#[test]
fn runtime_block_on_resumes_the_panic_and_the_runtime_lives_on() {
    let _watchdog = util::watchdog("block_on_resumes_panic", util::WATCHDOG);
    let rt = util::runtime(2);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(async { panic!("from block_on") });
    }))
    .unwrap_err();
    assert_eq!(caught.downcast_ref::<&str>(), Some(&"from block_on"));
    assert_eq!(rt.block_on(async { current_loop() }), Some(0));
}

#[test]
fn runtime_run_reports_a_panicking_instance() {
    let _watchdog = util::watchdog("run_reports_panic", util::WATCHDOG);
    let rt = util::runtime(2);
    let err = rt
        .run(|ctx| async move {
            if ctx.index() == 1 {
                panic!("instance 1 failed");
            }
        })
        .unwrap_err();
    assert!(err.is_panic());
    assert_eq!(err.panic_message(), Some("instance 1 failed"));
    // Both loops still run work.
    rt.run(|ctx| async move { assert_eq!(current_loop(), Some(ctx.index())) })
        .unwrap();
}
