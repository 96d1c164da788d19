//! [`FileStream`]: a byte range of an open file as a streamed body, read in chunks on the
//! blocking pool (`keel_runtime::fs::File::read_at`), one chunk at a time, so a large
//! file never sits in memory whole and the socket's pace sets the reads' pace.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use keel_runtime::fs::File;

use crate::body::BodyStream;

/// Bytes per read (and per chunk written).
pub(crate) const CHUNK: u64 = 64 * 1024;

type Read = Pin<Box<dyn Future<Output = io::Result<Vec<u8>>>>>;

/// `len` bytes of `file` from `offset`, as a body of known length.
pub(crate) struct FileStream {
    file: File,
    offset: u64,
    remaining: u64,
    len: u64,
    reading: Option<Read>,
}

impl FileStream {
    /// The range `offset..offset + len` of `file`.
    pub(crate) fn new(file: File, offset: u64, len: u64) -> FileStream {
        FileStream {
            file,
            offset,
            remaining: len,
            len,
            reading: None,
        }
    }
}

impl BodyStream for FileStream {
    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Vec<u8>, io::Error>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let this = &mut *self;
        let read = this.reading.get_or_insert_with(|| {
            let (file, offset) = (this.file.clone(), this.offset);
            let want = this.remaining.min(CHUNK) as usize;
            Box::pin(async move { file.read_at(want, offset).await })
        });
        let result = std::task::ready!(read.as_mut().poll(cx));
        this.reading = None;
        Poll::Ready(Some(match result {
            Ok(chunk) if chunk.is_empty() => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file became shorter while it was sent",
            )),
            Ok(chunk) => {
                let n = (chunk.len() as u64).min(this.remaining);
                this.offset += n;
                this.remaining -= n;
                Ok(chunk)
            }
            Err(e) => Err(e),
        }))
    }

    fn exact_len(&self) -> Option<u64> {
        Some(self.len)
    }
}
