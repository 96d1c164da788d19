//! [`File`]: an open file whose reads and writes at an offset run on the blocking pool.

use std::fs::Metadata;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use super::run;

/// An open file. Every operation is positioned (`pread`/`pwrite`), so there is no
/// cursor and a `File` can be shared between tasks (`Clone` shares the descriptor).
///
/// Buffers are owned (`Vec<u8>`) because the call runs on another thread.
///
/// # Examples
///
/// ```
/// use keel_runtime::fs::File;
///
/// keel_runtime::block_on(async {
///     let path = std::env::temp_dir().join(format!("keel-file-doc-{}", std::process::id()));
///     let file = File::create(&path).await.unwrap();
///     file.write_at(b"0123456789".to_vec(), 0).await.unwrap();
///     assert_eq!(file.read_at(4, 3).await.unwrap(), b"3456");
///     assert_eq!(file.metadata().await.unwrap().len(), 10);
///     keel_runtime::fs::remove_file(&path).await.unwrap();
/// });
/// ```
#[derive(Debug, Clone)]
pub struct File {
    std: Arc<std::fs::File>,
}

impl File {
    /// Opens an existing file for reading.
    ///
    /// # Errors
    ///
    /// `std::fs::File::open`'s errors, or a pool failure.
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        let path = path.as_ref().to_owned();
        run(move || std::fs::File::open(path))
            .await
            .map(File::from_std)
    }

    /// Opens a file for reading and writing, creating it or truncating it.
    ///
    /// # Errors
    ///
    /// `std::fs::OpenOptions::open`'s errors, or a pool failure.
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        let path = path.as_ref().to_owned();
        run(move || {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(path)
        })
        .await
        .map(File::from_std)
    }

    /// Wraps a file opened elsewhere.
    pub fn from_std(file: std::fs::File) -> File {
        File {
            std: Arc::new(file),
        }
    }

    /// Reads up to `len` bytes starting at `offset`; fewer only at the end of the file.
    ///
    /// # Errors
    ///
    /// `pread` errors, or a pool failure.
    pub async fn read_at(&self, len: usize, offset: u64) -> io::Result<Vec<u8>> {
        let file = self.std.clone();
        run(move || {
            let mut buf = vec![0; len];
            let mut filled = 0;
            while filled < len {
                match file.read_at(&mut buf[filled..], offset + filled as u64) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            buf.truncate(filled);
            Ok(buf)
        })
        .await
    }

    /// Writes all of `data` starting at `offset`, growing the file as needed.
    ///
    /// # Errors
    ///
    /// `pwrite` errors (a file opened read-only gives `EBADF`), or a pool failure.
    pub async fn write_at(&self, data: impl Into<Vec<u8>>, offset: u64) -> io::Result<()> {
        let (file, data) = (self.std.clone(), data.into());
        run(move || file.write_all_at(&data, offset)).await
    }

    /// The file's metadata.
    ///
    /// # Errors
    ///
    /// `fstat` errors, or a pool failure.
    pub async fn metadata(&self) -> io::Result<Metadata> {
        let file = self.std.clone();
        run(move || file.metadata()).await
    }

    /// Truncates or extends the file to `len` bytes.
    ///
    /// # Errors
    ///
    /// `ftruncate` errors, or a pool failure.
    pub async fn set_len(&self, len: u64) -> io::Result<()> {
        let file = self.std.clone();
        run(move || file.set_len(len)).await
    }

    /// Flushes data and metadata to the device (`fsync`).
    ///
    /// # Errors
    ///
    /// `fsync` errors, or a pool failure.
    pub async fn sync_all(&self) -> io::Result<()> {
        let file = self.std.clone();
        run(move || file.sync_all()).await
    }
}
