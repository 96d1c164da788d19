//! A bad `KEEL_HEAP_LIMIT` stops the runtime from being built (through `from_env` or a
//! plain builder), with a message naming the variable and the value. (Its own test binary: it sets process environment.)

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

    // A builder that never read the environment still refuses to start the runtime.
    let err = keel_runtime::Runtime::builder()
        .loops(1)
        .build()
        .unwrap_err();
    assert_eq!(err.setting(), Some("KEEL_HEAP_LIMIT"));
    assert!(err.to_string().contains("\"lots\""), "{err}");

    // SAFETY: as above.
    unsafe { std::env::set_var("KEEL_HEAP_LIMIT", "1536MiB") };
    keel_runtime::Builder::from_env().expect("a valid limit is accepted");
    let rt = keel_runtime::Runtime::builder().loops(1).build().unwrap();
    assert_eq!(
        keel_runtime::metrics().heap.limit,
        Some(1536 << 20),
        "the limit is in force"
    );
    drop(rt);
    // SAFETY: as above.
    unsafe { std::env::remove_var("KEEL_HEAP_LIMIT") };
}
