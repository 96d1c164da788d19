//! Builder validation: a bad knob is refused with an error that names it and its value;
//! good values build a runtime with exactly what was asked.

use keel_runtime::{Builder, MAX_LOOPS, Runtime};

#[test]
fn zero_loops_is_refused_by_name() {
    let err = Runtime::builder().loops(0).build().unwrap_err();
    assert!(err.is_invalid_value());
    assert_eq!(err.setting(), Some("loops"));
    let text = err.to_string();
    assert!(text.contains("loops") && text.contains('0'), "{text}");
}

#[test]
fn too_many_loops_is_refused_by_name() {
    let err = Builder::new().loops(MAX_LOOPS + 1).build().unwrap_err();
    assert_eq!(err.setting(), Some("loops"));
    assert!(
        err.to_string().contains(&(MAX_LOOPS + 1).to_string()),
        "{err}"
    );
}

#[test]
fn zero_event_interval_is_refused_by_name() {
    let err = Builder::new()
        .loops(1)
        .event_interval(0)
        .build()
        .unwrap_err();
    assert!(err.is_invalid_value());
    assert_eq!(err.setting(), Some("event_interval"));
    assert!(err.to_string().contains("event_interval"), "{err}");
}

#[test]
fn build_error_is_an_error_with_no_source_for_bad_values() {
    let err = Builder::new().loops(0).build().unwrap_err();
    let as_error: &dyn std::error::Error = &err;
    assert!(as_error.source().is_none());
    assert!(format!("{err:?}").contains("loops"));
}

#[test]
fn valid_settings_build_what_was_asked() {
    for loops in [1, 3] {
        let rt = Builder::new()
            .loops(loops)
            .pin(false)
            .event_interval(1)
            .build()
            .unwrap();
        assert_eq!(rt.handle().loops(), loops);
        assert_eq!(rt.handle().metrics().loops.len(), loops);
    }
}
