//! Redis through the pool against the real server on 127.0.0.1:6379: a round trip,
//! a pipeline, SELECT on connect, PING recycling and broken connections.

use std::time::Duration;

use keel_pool::Pool;
use keel_pool::redis::{Error, RedisManager, Value};

fn manager() -> RedisManager {
    RedisManager::new("127.0.0.1:6379".parse().unwrap())
}

fn key(name: &str) -> String {
    format!("keel-pool-test:{}:{name}", std::process::id())
}

#[test]
fn round_trip_through_the_pool() {
    keel_runtime::block_on(async {
        let pool = Pool::builder(manager()).max(2).build();
        let k = key("round-trip");
        let mut conn = pool.get().await.unwrap();
        assert_eq!(
            conn.cmd(&["SET", &k, "v"]).await.unwrap(),
            Value::Simple("OK".into())
        );
        assert_eq!(
            conn.cmd(&["GET", &k]).await.unwrap(),
            Value::Bulk(b"v".to_vec())
        );
        assert_eq!(conn.cmd(&["DEL", &k]).await.unwrap(), Value::Int(1));
        assert_eq!(conn.cmd(&["GET", &k]).await.unwrap(), Value::Nil);
        let err = conn.cmd(&["NOSUCHCOMMAND"]).await.unwrap_err();
        assert!(
            matches!(err, Error::Server(ref m) if m.starts_with("ERR")),
            "{err:?}"
        );
        assert!(
            !conn.is_broken(),
            "an error reply keeps the connection in step"
        );
    });
}

#[test]
fn pipeline_through_the_pool() {
    keel_runtime::block_on(async {
        let pool = Pool::new(manager());
        let k = key("pipeline");
        let mut conn = pool.get().await.unwrap();
        let del = ["DEL", k.as_str()];
        let incr = ["INCR", k.as_str()];
        let get = ["GET", k.as_str()];
        let cmds: Vec<&[&str]> = vec![&del, &incr, &incr, &incr, &["BOGUS"], &get, &del];
        let replies = conn.pipeline(&cmds).await.unwrap();
        assert_eq!(replies.len(), 7);
        assert_eq!(
            &replies[1..4],
            &[Value::Int(1), Value::Int(2), Value::Int(3)]
        );
        assert!(matches!(replies[4], Value::Error(_)));
        assert_eq!(replies[5], Value::Bulk(b"3".to_vec()));
        assert_eq!(replies[6], Value::Int(1));
        // A large value crosses several reads.
        let big = "x".repeat(200_000);
        conn.cmd(&["SET", &k, &big]).await.unwrap();
        assert_eq!(
            conn.cmd(&["GET", &k])
                .await
                .unwrap()
                .as_bytes()
                .unwrap()
                .len(),
            200_000
        );
        conn.cmd(&["DEL", &k]).await.unwrap();
    });
}

#[test]
fn select_on_connect_and_ping_on_recycle() {
    keel_runtime::block_on(async {
        let pool = Pool::builder(manager().db(1))
            .max(1)
            .validation_window(Duration::from_millis(10))
            .build();
        let k = key("select");
        {
            let mut conn = pool.get().await.unwrap();
            conn.cmd(&["SET", &k, "db1"]).await.unwrap();
        }
        keel_runtime::time::sleep(Duration::from_millis(30)).await;
        let mut conn = pool.get().await.unwrap(); // PING first: idle past the window
        let db: Value = conn.cmd(&["CLIENT", "INFO"]).await.unwrap();
        assert!(db.as_str().unwrap().contains(" db=1 "), "{db:?}");
        assert_eq!(
            conn.cmd(&["GET", &k]).await.unwrap(),
            Value::Bulk(b"db1".to_vec())
        );
        conn.cmd(&["DEL", &k]).await.unwrap();
        assert_eq!(pool.metrics().creates, 1);
    });
}

#[test]
fn a_cancelled_command_breaks_the_connection_and_the_pool_replaces_it() {
    keel_runtime::block_on(async {
        let pool = Pool::builder(manager()).max(1).build();
        {
            let mut conn = pool.get().await.unwrap();
            // BLPOP on an empty list waits 1 s; cut it off half-way.
            let k = key("blpop");
            let cut = keel_runtime::time::timeout(
                Duration::from_millis(20),
                conn.cmd(&["BLPOP", &k, "1"]),
            )
            .await;
            assert!(cut.is_err());
            assert!(conn.is_broken());
        }
        let mut conn = pool.get().await.unwrap();
        assert_eq!(
            conn.cmd(&["PING"]).await.unwrap(),
            Value::Simple("PONG".into())
        );
        let m = pool.metrics();
        assert_eq!((m.creates, m.closed.broken), (2, 1));
    });
}

#[test]
fn a_command_past_the_command_timeout_fails_and_the_pool_replaces_the_connection() {
    keel_runtime::block_on(async {
        let manager = manager().command_timeout(Some(Duration::from_millis(200)));
        let pool = Pool::builder(manager).max(1).build();
        let k = key("command-timeout");
        let mut conn = pool.get().await.unwrap();
        // The server holds BLPOP's reply for 2 s: past the command timeout.
        let started = std::time::Instant::now();
        let err = conn.cmd(&["BLPOP", &k, "2"]).await.unwrap_err();
        let took = started.elapsed();
        assert!(
            matches!(err, Error::Timeout(t) if t == Duration::from_millis(200)),
            "{err:?}"
        );
        assert!(
            took >= Duration::from_millis(200) && took < Duration::from_millis(1500),
            "{took:?}"
        );
        assert!(conn.is_broken(), "the reply is still owed: out of step");
        drop(conn);
        // The pool closed it and lends a new one that answers.
        let mut conn = pool.get().await.unwrap();
        assert_eq!(
            conn.cmd(&["PING"]).await.unwrap(),
            Value::Simple("PONG".into())
        );
        assert_eq!(pool.metrics().closed.broken, 1);
    });
}

#[test]
fn commands_are_bounded_by_default_and_none_lets_them_wait() {
    keel_runtime::block_on(async {
        let k = key("no-command-timeout");
        let mut conn = keel_pool::redis::Connection::connect("127.0.0.1:6379".parse().unwrap())
            .await
            .unwrap();
        // The default (3 s) leaves a 1 s BLPOP alone...
        assert_eq!(conn.cmd(&["BLPOP", &k, "1"]).await.unwrap(), Value::Nil);
        // ...and `None` waits for any reply.
        conn.set_command_timeout(None);
        assert_eq!(conn.cmd(&["BLPOP", &k, "1"]).await.unwrap(), Value::Nil);
        conn.set_command_timeout(Some(Duration::from_millis(100)));
        assert!(matches!(
            conn.cmd(&["BLPOP", &k, "1"]).await.unwrap_err(),
            Error::Timeout(_)
        ));
    });
}
