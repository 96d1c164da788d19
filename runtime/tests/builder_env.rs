//! `Builder::from_env` and `Runtime::new`: `KEEL_LOOPS` (else `WEB_CONCURRENCY`) sets the
//! loop count, and a bad value is an error naming the variable. Environment variables are
//! process-wide, so these tests live alone in this binary and take a lock around every
//! change.

use std::sync::{Mutex, MutexGuard};

use keel_runtime::{Builder, Runtime};

static ENV: Mutex<()> = Mutex::new(());

/// Holds the lock and sets the two variables; restores "unset" on drop.
struct Env {
    _lock: MutexGuard<'static, ()>,
}

impl Env {
    fn set(keel_loops: Option<&str>, web_concurrency: Option<&str>) -> Env {
        let lock = ENV.lock().unwrap_or_else(|e| e.into_inner());
        write_var("KEEL_LOOPS", keel_loops);
        write_var("WEB_CONCURRENCY", web_concurrency);
        Env { _lock: lock }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        write_var("KEEL_LOOPS", None);
        write_var("WEB_CONCURRENCY", None);
    }
}

fn write_var(name: &str, value: Option<&str>) {
    // SAFETY: every test in this binary changes or reads the environment only while
    // holding `ENV`, and the runtime's own threads never read it (only `from_env` does,
    // on the calling thread, under the lock).
    unsafe {
        match value {
            Some(v) => std::env::set_var(name, v),
            None => std::env::remove_var(name),
        }
    }
}

#[test]
fn non_numeric_keel_loops_is_named_in_the_error() {
    let _env = Env::set(Some("abc"), None);
    let err = Builder::from_env().unwrap_err();
    assert!(err.is_invalid_value());
    assert_eq!(err.setting(), Some("KEEL_LOOPS"));
    let text = err.to_string();
    assert!(
        text.contains("KEEL_LOOPS") && text.contains("abc"),
        "{text}"
    );
    let err = Runtime::new().unwrap_err();
    assert_eq!(err.setting(), Some("KEEL_LOOPS"));
}

#[test]
fn zero_keel_loops_is_refused() {
    let _env = Env::set(Some("0"), None);
    assert_eq!(
        Builder::from_env().unwrap_err().setting(),
        Some("KEEL_LOOPS")
    );
}

#[test]
fn bad_web_concurrency_is_named_in_the_error() {
    let _env = Env::set(None, Some("many"));
    let err = Builder::from_env().unwrap_err();
    assert_eq!(err.setting(), Some("WEB_CONCURRENCY"));
    assert!(err.to_string().contains("WEB_CONCURRENCY"), "{err}");
}

#[test]
fn keel_loops_sets_the_loop_count() {
    let _env = Env::set(Some("3"), None);
    let rt = Builder::from_env().unwrap().pin(false).build().unwrap();
    assert_eq!(rt.handle().loops(), 3);
}

#[test]
fn web_concurrency_is_the_fallback_and_keel_loops_wins() {
    {
        let _env = Env::set(None, Some("2"));
        let rt = Builder::from_env().unwrap().pin(false).build().unwrap();
        assert_eq!(rt.handle().loops(), 2);
    }
    let _env = Env::set(Some("1"), Some("2"));
    let rt = Builder::from_env().unwrap().pin(false).build().unwrap();
    assert_eq!(rt.handle().loops(), 1);
}

#[test]
fn explicit_loops_override_the_environment() {
    let _env = Env::set(Some("3"), None);
    let rt = Builder::from_env()
        .unwrap()
        .loops(1)
        .pin(false)
        .build()
        .unwrap();
    assert_eq!(rt.handle().loops(), 1);
}

#[test]
fn keel_poll_timing_is_a_switch_named_in_errors() {
    let _env = Env::set(Some("1"), None);
    write_var("KEEL_POLL_TIMING", Some("sometimes"));
    let err = Builder::from_env().unwrap_err();
    assert_eq!(err.setting(), Some("KEEL_POLL_TIMING"));
    assert!(err.to_string().contains("sometimes"), "{err}");
    write_var("KEEL_POLL_TIMING", Some("off"));
    let rt = Builder::from_env().unwrap().build().unwrap();
    let handle = rt.handle().clone();
    rt.block_on(async {
        keel_runtime::time::sleep(std::time::Duration::from_millis(5)).await;
    });
    let m = handle.metrics();
    assert!(m.loops[0].polls > 0);
    assert_eq!(m.loops[0].poll_time.count(), 0, "poll timing is off");
    write_var("KEEL_POLL_TIMING", None);
}

/// How many CPUs the calling thread may run on.
fn cpus_allowed_here() -> usize {
    // SAFETY: `set` is a plain bit mask, valid zeroed; `sched_getaffinity(0, ..)` writes at
    // most `size_of::<cpu_set_t>()` bytes into it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        assert_eq!(
            libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set),
            0
        );
        libc::CPU_COUNT(&set) as usize
    }
}

#[test]
fn keel_pin_switches_pinning_and_is_named_in_errors() {
    let _env = Env::set(Some("1"), None);
    write_var("KEEL_PIN", Some("maybe"));
    let err = Builder::from_env().unwrap_err();
    assert_eq!(err.setting(), Some("KEEL_PIN"));
    assert!(err.to_string().contains("maybe"), "{err}");

    let available = cpus_allowed_here();
    let loop_cpus = |pin: &str| {
        write_var("KEEL_PIN", Some(pin));
        let rt = Builder::from_env().unwrap().build().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        rt.handle()
            .spawn(async move { tx.send(cpus_allowed_here()).unwrap() });
        rx.recv_timeout(std::time::Duration::from_secs(30)).unwrap()
    };
    assert_eq!(
        loop_cpus("off"),
        available,
        "an unpinned loop may run anywhere"
    );
    if available > 1 {
        assert_eq!(loop_cpus("on"), 1, "a pinned loop runs on one CPU");
    }
    write_var("KEEL_PIN", None);
}

#[test]
fn keel_tokio_threads_sizes_the_bridge_and_is_named_in_errors() {
    let _env = Env::set(Some("1"), None);
    write_var("KEEL_TOKIO_THREADS", Some("many"));
    let err = Builder::from_env().unwrap_err();
    assert_eq!(err.setting(), Some("KEEL_TOKIO_THREADS"));
    assert!(err.to_string().contains("many"), "{err}");

    let bridged = |threads: &str| {
        write_var("KEEL_TOKIO_THREADS", Some(threads));
        let rt = Builder::from_env().unwrap().build().unwrap();
        rt.block_on(async { tokio::runtime::Handle::try_current().is_ok() })
    };
    assert!(!bridged("0"), "KEEL_TOKIO_THREADS=0 starts no bridge");
    assert!(bridged("2"));
    write_var("KEEL_TOKIO_THREADS", None);
}
