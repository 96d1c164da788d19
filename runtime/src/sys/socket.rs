//! `recv(2)` into memory that need not be initialised: a `Vec`'s spare capacity, or
//! tokio's `ReadBuf` (feature `tokio-io`). Callers with spare capacity then skip zeroing
//! it before every read; the kernel writes it directly.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::AsRawFd;

/// `recv(2)` into `buf`, which need not be initialised; returns how many bytes were
/// written at its front.
fn recv_uninit(stream: &mio::net::TcpStream, buf: &mut [MaybeUninit<u8>]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the whole call and
    // `recv` writes at most that many into it (it never reads them, so they may be
    // uninitialised); the descriptor is the stream's own, open while it is borrowed.
    let n = unsafe { libc::recv(stream.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Receives into the spare capacity of `buf`, appending what arrived; returns how many
/// bytes that was (0 at the end of the stream, or when `buf` has no spare capacity).
pub(crate) fn recv_append(stream: &mio::net::TcpStream, buf: &mut Vec<u8>) -> io::Result<usize> {
    let n = recv_uninit(stream, buf.spare_capacity_mut())?;
    // SAFETY: `recv` initialised the first `n` bytes of the spare capacity, which
    // directly follow the vector's `len` initialised bytes, and `n` is at most the spare
    // capacity's length.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}

/// Receives into the unfilled part of `buf` and marks what arrived as filled; returns
/// how many bytes that was. The unfilled part is not zeroed first
/// (`initialize_unfilled` would clear the whole spare capacity, 8 KiB for tokio-util's
/// codecs, on every read).
#[cfg(feature = "tokio-io")]
pub(crate) fn recv_read_buf(
    stream: &mio::net::TcpStream,
    buf: &mut tokio::io::ReadBuf<'_>,
) -> io::Result<usize> {
    // SAFETY: nothing de-initialises a byte through this slice: the kernel only writes
    // into it, and `ReadBuf`'s initialised part is left as it was.
    let unfilled = unsafe { buf.unfilled_mut() };
    let n = recv_uninit(stream, unfilled)?;
    // SAFETY: `recv` wrote the first `n` bytes of the unfilled part.
    unsafe { buf.assume_init(n) };
    buf.advance(n);
    Ok(n)
}
