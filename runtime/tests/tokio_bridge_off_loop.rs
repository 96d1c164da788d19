//! `keel_runtime::tokio::spawn` off a loop (a blocking-pool job) reaches the bridge of the
//! runtime still running, with the request context. Alone in its binary: off a loop, the
//! bridge is found process-wide (the most recently started runtime still running).

use keel_runtime::Builder;
use keel_runtime::task_context::{self, Context};

#[test]
fn bridge_spawn_off_a_loop_reaches_the_running_bridge() {
    let rt = Builder::new().loops(1).pin(false).build().unwrap();
    let (id, thread) = rt.block_on(task_context::scope(Context::new("req-43"), async {
        keel_runtime::blocking::spawn(|| {
            assert!(
                tokio::runtime::Handle::try_current().is_err(),
                "no context here"
            );
            let join = keel_runtime::tokio::spawn(async {
                let thread = std::thread::current().name().unwrap_or("").to_owned();
                (task_context::request_id(), thread)
            });
            keel_runtime::tokio::handle()
                .unwrap()
                .block_on(join)
                .unwrap()
        })
        .unwrap()
        .await
        .unwrap()
    }));
    assert_eq!(id.as_deref(), Some("req-43"));
    assert!(thread.starts_with("keel-tokio-"), "{thread}");
    drop(rt);
    assert!(
        keel_runtime::tokio::handle().is_none(),
        "the bridge is gone with its runtime"
    );
}
