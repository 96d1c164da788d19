//! The database stopped and started again mid-run: while it is down, `get()` fails with
//! the server's connect error and the pool reports unhealthy; when it is back, the pool
//! recovers by itself.
//!
//! To stay away from the shared server (other tests use it concurrently), the test
//! runs its own throw-away PostgreSQL cluster: `initdb` in a temporary directory, on a
//! free port, stopped and started with `pg_ctl`. It needs the server binaries
//! (`/usr/lib/postgresql/<version>/bin`) and to run as root (the cluster runs as user
//! `postgres` through `runuser`) or as the `postgres` user, hence `#[ignore]`; run it
//! with `cargo test -p keel-pool --test postgres_restart -- --ignored`.

use std::io;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use keel_pool::Pool;
use keel_pool::postgres::tokio_postgres::Config;
use keel_pool::postgres::{Error as PgError, PgManager};
use keel_runtime::time::sleep;

/// A private PostgreSQL cluster; stopped and deleted on drop.
struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl Cluster {
    fn new() -> Cluster {
        let version = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL server binaries in /usr/lib/postgresql")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .max_by_key(|v| v.parse::<u32>().unwrap_or(0))
            .expect("a PostgreSQL version");
        let bin = PathBuf::from(format!("/usr/lib/postgresql/{version}/bin"));
        let dir = std::env::temp_dir().join(format!("keel-pool-restart-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        if is_root() {
            run(Command::new("chown").arg("postgres:postgres").arg(&dir));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Cluster { bin, dir, port };
        let data = cluster.data();
        run(cluster
            .as_postgres("initdb")
            .args(["-U", "postgres", "--auth=trust", "-N", "-E", "UTF8", "-D"])
            .arg(&data));
        cluster.start();
        cluster
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// `tool` from the server binaries, run as `postgres` when we are root.
    fn as_postgres(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        if is_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        run(self
            .as_postgres("pg_ctl")
            .args(["-w", "-t", "60", "-o", &options, "-l"])
            .arg(self.dir.join("log"))
            .arg("-D")
            .arg(self.data())
            .arg("start"));
    }

    fn stop(&self) {
        run(self
            .as_postgres("pg_ctl")
            .args(["-w", "-t", "60", "-m", "fast", "-D"])
            .arg(self.data())
            .arg("stop"));
    }

    fn config(&self) -> Config {
        let mut config = Config::new();
        config
            .host("127.0.0.1")
            .port(self.port)
            .user("postgres")
            .dbname("postgres");
        config
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self
            .as_postgres("pg_ctl")
            .args(["-m", "immediate", "-D"])
            .arg(self.data())
            .arg("stop")
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.starts_with(b"0\n"))
}

fn run(command: &mut Command) {
    let out = command.output().expect("run a PostgreSQL tool");
    assert!(
        out.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether `err` is the server refusing connections (nothing listening).
fn refused(err: &PgError) -> bool {
    matches!(err, PgError::Io(e) if e.kind() == io::ErrorKind::ConnectionRefused)
}

/// `get()` and one query, errors as text.
async fn answer(pool: &Pool<PgManager>) -> Result<i32, String> {
    let conn = pool.get().await.map_err(|e| e.to_string())?;
    let row = conn
        .query_one("SELECT 40 + $1::int", &[&2i32])
        .await
        .map_err(|e| e.to_string())?;
    Ok(row.get(0))
}

#[test]
#[ignore = "starts a private PostgreSQL cluster: needs the server binaries and root or the postgres user"]
fn the_pool_fails_fast_while_the_database_is_down_and_recovers_after() {
    let cluster = Cluster::new();
    keel_runtime::block_on(async {
        let pool = Pool::builder(PgManager::new(cluster.config()))
            .max(2)
            .acquire_timeout(Duration::from_secs(1))
            .backoff(Duration::from_millis(10), Duration::from_millis(100))
            .build();
        let fail_fast = Pool::builder(PgManager::new(cluster.config()))
            .fail_fast(true)
            .build();
        assert_eq!(answer(&pool).await, Ok(42));
        assert_eq!(answer(&fail_fast).await, Ok(42));
        assert!(pool.health().healthy);

        cluster.stop();
        // Let the connections' drivers see their sockets close.
        sleep(Duration::from_millis(100)).await;

        // Connections that died with the server cost at most one error each; then
        // `get()` itself fails, with the connect error, within the acquire timeout.
        let mut seen = None;
        for _ in 0..4 {
            let start = Instant::now();
            match pool.get().await {
                Ok(conn) => assert!(conn.query_one("SELECT 1", &[]).await.is_err()),
                Err(e) => {
                    assert!(start.elapsed() < Duration::from_secs(5), "{e}");
                    seen = Some(e);
                    break;
                }
            }
        }
        let err = seen.expect("get() fails while the database is down");
        assert!(err.is_timeout(), "{err}");
        assert!(refused(err.backend().expect("the connect error")), "{err}");
        let health = pool.health();
        assert!(!health.healthy && health.down_since.is_some(), "{health:?}");
        assert!(
            health
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("refused")),
            "{health:?}"
        );

        // With fail_fast, the backend error comes back at once, not as a timeout.
        let mut fast = None;
        for _ in 0..3 {
            match fail_fast.get().await {
                Ok(conn) => assert!(conn.query_one("SELECT 1", &[]).await.is_err()),
                Err(e) => {
                    fast = Some(e);
                    break;
                }
            }
        }
        let fast = fast.expect("fail_fast get() fails while the database is down");
        assert!(fast.is_backend(), "{fast}");
        assert!(refused(fast.backend().unwrap()), "{fast}");

        cluster.start();
        // No restart, no manual reset: the next acquires connect again.
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut last = answer(&pool).await;
        while last.is_err() && Instant::now() < deadline {
            sleep(Duration::from_millis(50)).await;
            last = answer(&pool).await;
        }
        assert_eq!(last, Ok(42));
        assert!(pool.health().healthy);
        assert_eq!(answer(&fail_fast).await, Ok(42));
        for _ in 0..5 {
            assert_eq!(answer(&pool).await, Ok(42));
        }
    });
}
