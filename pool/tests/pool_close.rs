//! `close()` under load against the real PostgreSQL server: waiters get `Closed`,
//! idle connections close at once, checked-out ones when returned.

mod util;

use std::time::Duration;

use keel_pool::Pool;
use util::{admin, app_name, pg_manager, wait_for_backends};

#[test]
fn close_under_load_ends_every_task_and_connection() {
    keel_runtime::block_on(async {
        let app = app_name("close");
        let pool = Pool::builder(pg_manager(&app).await).max(3).build();
        let tasks: Vec<_> = (0..40)
            .map(|_| {
                let pool = pool.clone();
                keel_runtime::spawn_local(async move {
                    let mut served = 0u32;
                    loop {
                        match pool.get().await {
                            Ok(conn) => {
                                conn.query_one("SELECT pg_sleep(0.001)::text", &[])
                                    .await
                                    .unwrap();
                                served += 1;
                            }
                            Err(e) => {
                                assert!(e.is_closed(), "{e:?}");
                                return served;
                            }
                        }
                    }
                })
            })
            .collect();
        keel_runtime::time::sleep(Duration::from_millis(150)).await;
        assert!(pool.status().waiting > 0);
        pool.close();
        assert_eq!(pool.status().waiting, 0);
        let mut served = 0;
        for task in tasks {
            served += task.await.unwrap();
        }
        assert!(served > 0);
        let s = pool.status();
        assert_eq!((s.size, s.idle, s.in_use, s.waiting), (0, 0, 0, 0), "{s:?}");
        assert!(pool.get().await.unwrap_err().is_closed());
        assert!(pool.try_get().is_none());
        let m = pool.metrics();
        assert_eq!(m.closed.pool_closed, m.creates, "{m:?}");
        let admin = admin().await;
        assert_eq!(wait_for_backends(&admin, &app, 0).await, 0);
    });
}
