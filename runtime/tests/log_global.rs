//! Keel's logger installed as the global subscriber: a line logged from a worker-pool
//! job started by a request carries that request's id; the panic hook reports the
//! request id of a task that panics; `LOG_*` variables are checked at startup.

mod util;

use std::time::Duration;

use keel_runtime::log::{self, Config};
use keel_runtime::task_context::{self, Context};
use keel_testkit::logs::{Capture, json_lines};

#[test]
fn worker_job_and_panic_lines_carry_the_request_id() {
    let out = Capture::default();
    let guard = log::init(Config::new().writer(out.clone())).unwrap();
    assert!(matches!(
        log::init(Config::new()),
        Err(log::LogError::AlreadySet)
    ));
    let rt = keel_runtime::Runtime::builder().loops(1).build().unwrap();
    rt.block_on(task_context::scope(Context::new("req-w"), async {
        keel_runtime::workers::spawn(|| tracing::info!(job = "resize", "worker job ran"))
            .unwrap()
            .await
            .unwrap();
        let panicked = keel_runtime::spawn_local(async { panic!("handler bug") }).await;
        assert!(panicked.is_err());
    }));
    assert!(guard.flush(Duration::from_secs(30)));
    let text = out.text();
    let lines = json_lines(&text);
    let job = lines
        .iter()
        .find(|l| l["msg"] == "worker job ran")
        .expect(&text);
    assert_eq!(job["request_id"], "req-w");
    assert!(job.get("loop").is_none(), "a worker thread is not a loop");
    let panic = lines
        .iter()
        .find(|l| l["panic_message"] == "handler bug")
        .expect(&text);
    assert_eq!(panic["field.request_id"], "req-w", "{text}");
    assert_eq!(panic["request_id"], "req-w");
}

/// `LOG_*` variables are read in a child process (setting variables in a threaded
/// test process is unsound).
#[test]
fn bad_environment_values_name_their_variable() {
    if std::env::var_os("KEEL_LOG_ENV_CHILD").is_some() {
        match Config::from_env() {
            Ok(c) => println!("OK {c:?}"),
            Err(e) => println!("ERR {} {e}", e.name()),
        }
        return;
    }
    let run = |name: &str, value: &str| {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "bad_environment_values_name_their_variable",
                "--nocapture",
            ])
            .env("KEEL_LOG_ENV_CHILD", "1")
            .env(name, value)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(run("LOG_LEVEL", "verbose").contains("ERR LOG_LEVEL"));
    assert!(run("LOG_FORMAT", "xml").contains("ERR LOG_FORMAT"));
    let ok = run("LOG_LEVEL", "debug,keel_http=trace");
    assert!(
        ok.contains("OK") && ok.contains("debug,keel_http=trace"),
        "{ok}"
    );
    assert!(run("LOG_FORMAT", "pretty").contains("Pretty"));
}
