//! `keel_runtime::fs` on real files: write → read back, text, metadata, directories,
//! rename, positioned reads and writes through `File`, clear errors for missing files,
//! and the calls counted in the blocking pool's `fs` class.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use keel_runtime::blocking::{self, Class};
use keel_runtime::fs::{self, File};
use keel_runtime::time::timeout;

const LIMIT: Duration = Duration::from_secs(20);

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("keel-fs-{}-{n}", std::process::id()));
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn write_read_rename_remove() {
    let dir = TempDir::new();
    keel_runtime::block_on(async {
        timeout(LIMIT, async {
            let nested = dir.0.join("a/b/c");
            fs::create_dir_all(&nested).await.unwrap();
            assert!(fs::metadata(&nested).await.unwrap().is_dir());

            let file = nested.join("data.bin");
            let bytes: Vec<u8> = (0..=255).cycle().take(100_000).collect();
            fs::write(&file, bytes.clone()).await.unwrap();
            assert_eq!(fs::read(&file).await.unwrap(), bytes);
            assert_eq!(fs::metadata(&file).await.unwrap().len(), 100_000);

            let text = nested.join("note.txt");
            fs::write(&text, "héllo").await.unwrap();
            assert_eq!(fs::read_to_string(&text).await.unwrap(), "héllo");
            let err = fs::read_to_string(&file).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);

            let moved = dir.0.join("moved.txt");
            fs::rename(&text, &moved).await.unwrap();
            assert!(fs::metadata(&text).await.is_err());
            assert_eq!(fs::read(&moved).await.unwrap(), "héllo".as_bytes());

            fs::remove_file(&moved).await.unwrap();
            let err = fs::remove_file(&moved).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::NotFound);
        })
        .await
        .unwrap();
    });
    let m = blocking::metrics().expect("the global pool ran the calls");
    let fs_class = m.class(Class::Fs);
    assert!(fs_class.completed >= 12, "{fs_class:?}");
    assert_eq!(m.class(Class::User).submitted, 0);
}

#[test]
fn missing_file_is_a_clear_not_found() {
    keel_runtime::block_on(async {
        let missing = std::env::temp_dir().join("keel-fs-definitely-missing/file");
        let err = timeout(LIMIT, fs::read(&missing))
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
        let err = timeout(LIMIT, File::open(&missing))
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
    });
}

#[test]
fn file_reads_and_writes_at_offsets() {
    let dir = TempDir::new();
    keel_runtime::block_on(async {
        timeout(LIMIT, async {
            fs::create_dir_all(&dir.0).await.unwrap();
            let path = dir.0.join("positioned");
            let file = File::create(&path).await.unwrap();
            file.write_at(b"world".to_vec(), 6).await.unwrap();
            file.write_at(b"hello ".to_vec(), 0).await.unwrap();
            assert_eq!(file.read_at(11, 0).await.unwrap(), b"hello world");
            assert_eq!(file.read_at(5, 6).await.unwrap(), b"world");
            // Past the end: short read, then empty.
            assert_eq!(file.read_at(100, 9).await.unwrap(), b"ld");
            assert!(file.read_at(10, 500).await.unwrap().is_empty());
            file.set_len(5).await.unwrap();
            file.sync_all().await.unwrap();
            assert_eq!(file.metadata().await.unwrap().len(), 5);

            // A clone shares the descriptor; a read-only open refuses writes.
            let reader = File::open(&path).await.unwrap();
            assert_eq!(reader.clone().read_at(5, 0).await.unwrap(), b"hello");
            assert!(reader.write_at(b"x".to_vec(), 0).await.is_err());
        })
        .await
        .unwrap();
    });
}
