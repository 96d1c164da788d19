//! File system calls off the loop: each function runs its `std::fs` call as a
//! [`crate::blocking::Class::Fs`] job on the process-wide
//! [blocking pool](crate::blocking), and awaits the result.
//!
//! These wait for room when the pool's queue is full (backpressure rather than
//! `QueueFull` errors). Pool failures — shutdown, a bad pool setting, a panic — come back
//! as `io::Error`s of kind `Other` whose source is the [`JobError`].
//!
//! ```
//! keel_runtime::block_on(async {
//!     let path = std::env::temp_dir().join(format!("keel-fs-doc-{}", std::process::id()));
//!     keel_runtime::fs::write(&path, "hello").await.unwrap();
//!     assert_eq!(keel_runtime::fs::read_to_string(&path).await.unwrap(), "hello");
//!     keel_runtime::fs::remove_file(&path).await.unwrap();
//! });
//! ```

mod file;

use std::fs::Metadata;
use std::io;
use std::path::{Path, PathBuf};

pub use self::file::File;
use crate::blocking::{self, Class, JobError};

/// Runs `f` as an fs job on the global blocking pool, waiting for room in its queue.
pub(crate) async fn run<F, T>(f: F) -> io::Result<T>
where
    F: FnOnce() -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    let permit = blocking::reserve(Class::Fs).await.map_err(job_error)?;
    permit.spawn(f).await.map_err(job_error)?
}

/// A pool failure as an `io::Error` (kind `Other`, source the [`JobError`]).
pub(crate) fn job_error(e: JobError) -> io::Error {
    io::Error::other(e)
}

fn owned(path: impl AsRef<Path>) -> PathBuf {
    path.as_ref().to_owned()
}

/// Reads a whole file.
///
/// # Errors
///
/// `std::fs::read`'s errors (for example `NotFound`, with the path not included), or
/// a pool failure.
///
/// # Examples
///
/// ```
/// keel_runtime::block_on(async {
///     let err = keel_runtime::fs::read("/no/such/keel/file").await.unwrap_err();
///     assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
/// });
/// ```
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let path = owned(path);
    run(move || std::fs::read(path)).await
}

/// Reads a whole file as UTF-8 text.
///
/// # Errors
///
/// `std::fs::read_to_string`'s errors (`InvalidData` for text that is not UTF-8), or a
/// pool failure.
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    let path = owned(path);
    run(move || std::fs::read_to_string(path)).await
}

/// Writes `contents` to a file, creating it or truncating it.
///
/// # Errors
///
/// `std::fs::write`'s errors, or a pool failure.
pub async fn write(path: impl AsRef<Path>, contents: impl Into<Vec<u8>>) -> io::Result<()> {
    let (path, contents) = (owned(path), contents.into());
    run(move || std::fs::write(path, contents)).await
}

/// The metadata of a path, following symlinks.
///
/// # Errors
///
/// `std::fs::metadata`'s errors, or a pool failure.
///
/// # Examples
///
/// ```
/// keel_runtime::block_on(async {
///     assert!(keel_runtime::fs::metadata("/").await.unwrap().is_dir());
/// });
/// ```
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = owned(path);
    run(move || std::fs::metadata(path)).await
}

/// Creates a directory and any missing parents.
///
/// # Errors
///
/// `std::fs::create_dir_all`'s errors, or a pool failure.
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = owned(path);
    run(move || std::fs::create_dir_all(path)).await
}

/// Removes a file.
///
/// # Errors
///
/// `std::fs::remove_file`'s errors, or a pool failure.
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    let path = owned(path);
    run(move || std::fs::remove_file(path)).await
}

/// Renames a file or directory, replacing `to` if it is a file.
///
/// # Errors
///
/// `std::fs::rename`'s errors, or a pool failure.
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let (from, to) = (owned(from), owned(to));
    run(move || std::fs::rename(from, to)).await
}
