//! A bad `KEEL_HEAP_LIMIT` stops the runtime from being built, with a message naming the
//! variable and the value. (Its own test binary: it sets process environment.)

#[test]
fn bad_heap_limit_names_the_variable() {
    // SAFETY: this test binary has this single test, so nothing reads the environment
    // concurrently.
    unsafe { std::env::set_var("KEEL_HEAP_LIMIT", "lots") };
    let err = keel_runtime::Builder::from_env().unwrap_err();
    assert_eq!(err.setting(), Some("KEEL_HEAP_LIMIT"));
    let message = err.to_string();
    assert!(
        message.contains("KEEL_HEAP_LIMIT") && message.contains("\"lots\""),
        "{message}"
    );

    // SAFETY: as above.
    unsafe { std::env::set_var("KEEL_HEAP_LIMIT", "1536MiB") };
    keel_runtime::Builder::from_env().expect("a valid limit is accepted");
    // SAFETY: as above.
    unsafe { std::env::remove_var("KEEL_HEAP_LIMIT") };
}
