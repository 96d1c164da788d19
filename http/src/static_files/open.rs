//! Finding and opening the file that answers a request, in one job on the blocking pool
//! (`keel_runtime::fs`): the directory's index, a precompressed sibling the client
//! accepts, the check that what was opened lies inside the root (symlinks included),
//! its metadata, and — for a small file — its bytes.

use std::fs::{File, Metadata};
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use super::mime;

/// Files up to this size are read whole in the job that opens them (one trip to the
/// blocking pool per request); larger ones stream.
pub(crate) const READ_WHOLE_MAX: u64 = 64 * 1024;

/// A precompressed sibling's content coding and file suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sibling {
    /// `name.br`, `Content-Encoding: br`.
    Brotli,
    /// `name.gz`, `Content-Encoding: gzip`.
    Gzip,
}

impl Sibling {
    /// The `Content-Encoding` token.
    pub(crate) fn token(self) -> &'static str {
        match self {
            Sibling::Brotli => "br",
            Sibling::Gzip => "gzip",
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Sibling::Brotli => ".br",
            Sibling::Gzip => ".gz",
        }
    }
}

/// What to look for.
#[derive(Debug, Clone)]
pub(crate) struct Lookup {
    /// The directory every opened file must lie in (after symlinks), or `None` for one
    /// file the application named.
    pub(crate) root: Option<PathBuf>,
    /// The file or directory asked for.
    pub(crate) target: PathBuf,
    /// Whether the request named a directory (a trailing `/`).
    pub(crate) trailing_slash: bool,
    /// The file a directory answers with (`index.html`), if any.
    pub(crate) index: Option<PathBuf>,
    /// Siblings to try, in the client's order of preference.
    pub(crate) siblings: Vec<Sibling>,
}

/// What the lookup found.
#[derive(Debug)]
pub(crate) enum Found {
    /// A file to answer with.
    File(Box<Opened>),
    /// A directory asked for without its trailing slash: redirect.
    Directory,
    /// Nothing to serve (missing, outside the root, a directory without index, …).
    Nothing,
}

/// An open file and what the response needs of it.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) file: File,
    pub(crate) meta: Metadata,
    /// By the original file's extension, also for a sibling.
    pub(crate) content_type: &'static str,
    /// The sibling served, if one was.
    pub(crate) sibling: Option<Sibling>,
    /// The whole content, when at most [`READ_WHOLE_MAX`] bytes.
    pub(crate) bytes: Option<Vec<u8>>,
}

/// Runs the lookup (blocking: call it on the blocking pool).
///
/// # Errors
///
/// I/O errors other than the ones that mean "nothing to serve" (not found, permission
/// denied, not a directory, a name too long, a symlink loop).
pub(crate) fn find(lookup: &Lookup) -> io::Result<Found> {
    match find_inner(lookup) {
        Err(e) if means_not_found(&e) => Ok(Found::Nothing),
        other => other,
    }
}

fn find_inner(lookup: &Lookup) -> io::Result<Found> {
    let root = match &lookup.root {
        Some(root) => Some(root.canonicalize()?),
        None => None,
    };
    let mut target = lookup.target.clone();
    let meta = std::fs::metadata(&target)?;
    if meta.is_dir() {
        if !lookup.trailing_slash {
            // Only once it is known to be inside the root.
            if let Some(root) = &root
                && !target.canonicalize()?.starts_with(root)
            {
                return Ok(Found::Nothing);
            }
            return Ok(Found::Directory);
        }
        match &lookup.index {
            Some(index) => target.push(index),
            None => return Ok(Found::Nothing),
        }
    } else if lookup.trailing_slash && lookup.root.is_some() {
        // `file.txt/` names no directory.
        return Ok(Found::Nothing);
    }
    let content_type = mime::content_type(&target);
    for &sibling in &lookup.siblings {
        let mut name = target.clone().into_os_string();
        name.push(sibling.suffix());
        match open_inside(Path::new(&name), root.as_deref()) {
            Ok(Some((file, meta))) => return opened(file, meta, content_type, Some(sibling)),
            Ok(None) => {}
            Err(e) if means_not_found(&e) => {}
            Err(e) => return Err(e),
        }
    }
    match open_inside(&target, root.as_deref())? {
        Some((file, meta)) => opened(file, meta, content_type, None),
        None => Ok(Found::Nothing),
    }
}

fn opened(
    file: File,
    meta: Metadata,
    content_type: &'static str,
    sibling: Option<Sibling>,
) -> io::Result<Found> {
    let bytes = if meta.len() <= READ_WHOLE_MAX {
        Some(read_all(&file, meta.len())?)
    } else {
        None
    };
    Ok(Found::File(Box::new(Opened {
        file,
        meta,
        content_type,
        sibling,
        bytes,
    })))
}

/// Opens `path` and checks, on the open descriptor, that it is a regular file inside
/// `root` (symlinks resolved: the kernel's name for the descriptor, so a symlink swapped
/// after the check cannot point it elsewhere). `None`: not a regular file, or outside.
fn open_inside(path: &Path, root: Option<&Path>) -> io::Result<Option<(File, Metadata)>> {
    let file = File::open(path)?;
    if let Some(root) = root {
        let real = match std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())) {
            Ok(real) => real,
            // No /proc: resolve the name instead.
            Err(_) => path.canonicalize()?,
        };
        if !real.starts_with(root) {
            tracing::debug!(path = %path.display(), "static file outside the root refused");
            return Ok(None);
        }
    }
    let meta = file.metadata()?;
    Ok(meta.is_file().then_some((file, meta)))
}

/// Reads the whole of a small file (it may have changed size since `fstat`: read what
/// is there now, up to the limit).
fn read_all(file: &File, len: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(READ_WHOLE_MAX + 1).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Linux's "too many levels of symbolic links".
const ELOOP: i32 = 40;

/// Whether `e` means there is nothing to serve rather than a failure.
fn means_not_found(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound
            | io::ErrorKind::PermissionDenied
            | io::ErrorKind::NotADirectory
            | io::ErrorKind::InvalidFilename
    ) || e.raw_os_error() == Some(ELOOP)
}
