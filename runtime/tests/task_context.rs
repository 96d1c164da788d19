//! The request context follows a request's async chain: into tasks spawned from it (on
//! the same loop and on another), into blocking and worker pool jobs, and not beyond
//! its scope.

use keel_runtime::task_context::{self, Context};
use keel_runtime::{Runtime, blocking, workers};

#[test]
fn context_reaches_spawned_tasks_and_pool_jobs() {
    let rt = Runtime::builder().loops(2).build().unwrap();
    let handle = rt.handle().clone();
    rt.block_on(async move {
        let ctx = Context::new("req-7").with_field("user", "ann");
        let seen = task_context::scope(ctx, async move {
            let mut seen = vec![task_context::request_id()];
            seen.push(
                keel_runtime::spawn_local(async {
                    // Grandchild: inherits through its parent.
                    keel_runtime::spawn_local(async { task_context::request_id() })
                        .await
                        .unwrap()
                })
                .await
                .unwrap(),
            );
            seen.push(
                handle
                    .spawn_on(1, async {
                        assert_eq!(keel_runtime::current_loop(), Some(1));
                        task_context::request_id()
                    })
                    .await
                    .unwrap(),
            );
            seen.push(
                keel_runtime::spawn(async { task_context::request_id() })
                    .await
                    .unwrap(),
            );
            seen.push(
                blocking::spawn(task_context::request_id)
                    .unwrap()
                    .await
                    .unwrap(),
            );
            seen.push(
                workers::spawn(|| {
                    task_context::with_current(|c| {
                        assert_eq!(c.unwrap().field("user"), Some("ann"));
                        c.map(|c| c.request_id().to_owned())
                    })
                })
                .unwrap()
                .await
                .unwrap(),
            );
            seen
        })
        .await;
        assert_eq!(seen.len(), 6);
        for (i, id) in seen.iter().enumerate() {
            assert_eq!(id.as_deref(), Some("req-7"), "step {i}");
        }
        // Outside the scope, and in tasks spawned outside it, there is none.
        assert_eq!(task_context::request_id(), None);
        let outside = keel_runtime::spawn_local(async { task_context::request_id() });
        assert_eq!(outside.await.unwrap(), None);
        let job = workers::spawn(task_context::request_id).unwrap();
        assert_eq!(job.await.unwrap(), None);
    });
}

#[test]
fn interleaved_scopes_on_one_loop_keep_their_own_ids() {
    keel_runtime::block_on(async {
        let a = keel_runtime::spawn_local(task_context::scope(Context::new("a"), async {
            let mut ids = Vec::new();
            for _ in 0..3 {
                ids.push(task_context::request_id().unwrap());
                keel_runtime::task::yield_now().await;
            }
            ids
        }));
        let b = keel_runtime::spawn_local(task_context::scope(Context::new("b"), async {
            let mut ids = Vec::new();
            for _ in 0..3 {
                ids.push(task_context::request_id().unwrap());
                keel_runtime::task::yield_now().await;
            }
            ids
        }));
        assert_eq!(a.await.unwrap(), ["a", "a", "a"]);
        assert_eq!(b.await.unwrap(), ["b", "b", "b"]);
        assert_eq!(task_context::request_id(), None);
    });
}
