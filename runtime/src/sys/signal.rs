//! Unix signal plumbing for `crate::signal`: the process-wide self-pipe, `sigaction`
//! installation, and the async-signal-safe handler.
//!
//! # What this file provides
//!
//! - [`self_pipe`] creates the pipe once (`O_CLOEXEC` on both ends, `O_NONBLOCK` on the write
//!   end) and returns the same [`PipeReader`] on every later call. Neither end is ever closed.
//! - [`install_handler`] points one signal at [`handler`] with `SA_RESTART`. It refuses to run
//!   before the pipe exists, so the handler always has somewhere to write.
//! - [`take_pending`] swaps one signal's pending flag to `false` and reports whether it was set.
//! - [`PipeReader::wait`] blocks until at least one wake byte arrives and drains a batch.
//!
//! # Handler protocol
//!
//! The handler only touches lock-free atomics and calls `write(2)`, all of which are
//! async-signal-safe. It saves `errno`, stores `true` into `PENDING[signo]`, writes one byte
//! to the pipe, and restores `errno`. A failed write (`EAGAIN` on a full pipe) is ignored: a
//! full pipe already guarantees the reader will wake. Because the flag is set *before* the
//! byte is written, and the reader swaps flags *after* it reads, a signal is never left with
//! its flag set and no byte behind it.

use std::io;
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use libc::c_int;
use parking_lot::Mutex;

/// One pending flag per signal number. 65 covers every standard and real-time signal on
/// Linux (`SIGRTMAX` is 64); larger numbers are rejected by [`install_handler`].
const MAX_SIGNO: usize = 65;

/// Bytes drained from the pipe per [`PipeReader::wait`]. More pending bytes just make the
/// next `wait` return at once.
const DRAIN_BYTES: usize = 128;

/// `PENDING[signo]` is set by the handler and cleared by [`take_pending`].
static PENDING: [AtomicBool; MAX_SIGNO] = [const { AtomicBool::new(false) }; MAX_SIGNO];

/// The pipe's write end, or -1 before [`self_pipe`] succeeds. Read by the handler.
static WRITE_FD: AtomicI32 = AtomicI32::new(-1);

/// The pipe's read end once created. The lock only serialises creation.
static READER: Mutex<Option<PipeReader>> = Mutex::new(None);

/// The read end of the self-pipe. `Copy` because the descriptor is never closed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PipeReader {
    /// INVARIANT: an open, blocking pipe read end that is never closed.
    fd: RawFd,
}

/// Returns the process-wide self-pipe's read end, creating the pipe on the first call.
///
/// # Errors
///
/// Returns the OS error if `pipe2` or `fcntl` fails (for example `EMFILE`). A later call
/// tries again.
pub(crate) fn self_pipe() -> io::Result<PipeReader> {
    let mut reader = READER.lock();
    if let Some(existing) = *reader {
        return Ok(existing);
    }
    let (read, write) = create_pipe()?;
    set_nonblocking(&write)?;
    // Both ends are deliberately leaked: the handler may write at any moment, for the rest
    // of the process's life.
    let read = read.into_raw_fd();
    WRITE_FD.store(write.into_raw_fd(), Ordering::Release);
    let created = PipeReader { fd: read };
    *reader = Some(created);
    Ok(created)
}

/// Creates a pipe with `O_CLOEXEC` on both ends.
fn create_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds: [c_int; 2] = [-1, -1];
    // SAFETY: `fds` is a writable array of two `c_int`s, which is what `pipe2` fills in.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: `pipe2` succeeded, so both descriptors are open and owned by nobody else; each
    // is wrapped exactly once.
    let ends = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok(ends)
}

/// Adds `O_NONBLOCK` to `fd`'s status flags.
fn set_nonblocking(fd: &OwnedFd) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let raw = fd.as_raw_fd();
    // SAFETY: `raw` is open for the duration of the borrow; F_GETFL takes no pointer argument.
    let flags = cvt(unsafe { libc::fcntl(raw, libc::F_GETFL) })?;
    // SAFETY: as above; F_SETFL takes an integer argument.
    cvt(unsafe { libc::fcntl(raw, libc::F_SETFL, flags | libc::O_NONBLOCK) })?;
    Ok(())
}

impl PipeReader {
    /// Blocks until at least one wake byte is readable, then drains up to [`DRAIN_BYTES`].
    ///
    /// # Errors
    ///
    /// `EINTR` is retried. Any other read error is returned, as is end-of-file (which cannot
    /// happen while the write end stays open) as `UnexpectedEof`.
    pub(crate) fn wait(self) -> io::Result<()> {
        let mut buf = [0u8; DRAIN_BYTES];
        loop {
            // SAFETY: `buf` is valid for writes of `buf.len()` bytes; `self.fd` is an open
            // pipe read end (type invariant).
            let n = unsafe { libc::read(self.fd, buf.as_mut_ptr().cast(), buf.len()) };
            match n {
                1.. => return Ok(()),
                0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                _ => {
                    let err = io::Error::last_os_error();
                    if err.kind() != io::ErrorKind::Interrupted {
                        return Err(err);
                    }
                }
            }
        }
    }
}

/// Installs [`handler`] for `signo` with `SA_RESTART`, replacing its previous disposition
/// (including the default action). Installing twice is harmless.
///
/// # Errors
///
/// `InvalidInput` if `signo` is out of range, an error if [`self_pipe`] has not succeeded
/// yet, or the OS error from `sigaction` (for example `EINVAL` for `SIGKILL`).
pub(crate) fn install_handler(signo: c_int) -> io::Result<()> {
    if usize::try_from(signo).map_or(true, |i| i == 0 || i >= MAX_SIGNO) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("signal number {signo} is out of range"),
        ));
    }
    if WRITE_FD.load(Ordering::Acquire) < 0 {
        return Err(io::Error::other(
            "signal handler installed before the self-pipe",
        ));
    }
    // SAFETY: `libc::sigaction` is a plain C struct of integers, a function address and a
    // `sigset_t`; all-zero is a valid value for each field.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = handler as extern "C" fn(c_int) as libc::sighandler_t;
    action.sa_flags = libc::SA_RESTART;
    // SAFETY: `action.sa_mask` is a valid, exclusively borrowed `sigset_t`.
    cvt(unsafe { libc::sigemptyset(&mut action.sa_mask) })?;
    // SAFETY: `action` is fully initialised; without SA_SIGINFO, `sa_sigaction` holds a
    // one-argument handler, which `handler` is; `handler` only calls async-signal-safe
    // functions; a null `oldact` is allowed.
    cvt(unsafe { libc::sigaction(signo, &action, ptr::null_mut()) })?;
    Ok(())
}

/// Clears `signo`'s pending flag and returns whether it was set. Out-of-range numbers
/// return `false`.
pub(crate) fn take_pending(signo: c_int) -> bool {
    usize::try_from(signo)
        .ok()
        .and_then(|i| PENDING.get(i))
        .is_some_and(|flag| flag.swap(false, Ordering::AcqRel))
}

/// The process signal handler. Async-signal-safe: atomics, `write(2)` and `errno` only.
extern "C" fn handler(signo: c_int) {
    let errno = errno_location();
    // SAFETY: `errno_location` returns the calling thread's `errno`, valid for the thread's
    // lifetime; a signal handler runs on that thread.
    let saved = unsafe { *errno };

    if let Some(flag) = usize::try_from(signo).ok().and_then(|i| PENDING.get(i)) {
        flag.store(true, Ordering::Release);
    }
    let fd = WRITE_FD.load(Ordering::Acquire);
    if fd >= 0 {
        let byte = 1u8;
        // SAFETY: `write` is async-signal-safe; `byte` is a valid one-byte buffer; `fd` is
        // the pipe's write end, which is never closed. The result is ignored on purpose:
        // EAGAIN means the pipe is full, so a wake is already pending.
        let _ = unsafe { libc::write(fd, (&raw const byte).cast(), 1) };
    }

    // SAFETY: as for the read above.
    unsafe { *errno = saved };
}

/// The calling thread's `errno` location.
fn errno_location() -> *mut c_int {
    // SAFETY: these functions have no preconditions; they return a pointer to the calling
    // thread's `errno`.
    unsafe {
        #[cfg(any(target_os = "linux", target_os = "redox"))]
        let p = libc::__errno_location();
        #[cfg(target_os = "android")]
        let p = libc::__errno();
        #[cfg(any(target_os = "freebsd", target_os = "dragonfly"))]
        let p = libc::__error();
        p
    }
}

/// Turns a `-1` return into the current OS error.
fn cvt(ret: c_int) -> io::Result<c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Sends `signo` to this process with `kill(getpid(), signo)`. Test support only.
#[cfg(test)]
pub(crate) fn kill_self(signo: c_int) -> io::Result<()> {
    // SAFETY: `getpid` and `kill` take no pointers and have no preconditions; callers only
    // send signals whose handler is installed.
    cvt(unsafe { libc::kill(libc::getpid(), signo) })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real-time signal number no test subscribes to, so its flag is ours alone.
    const UNUSED_SIGNO: c_int = 40;

    #[test]
    fn handler_sets_flag_and_preserves_errno() {
        self_pipe().unwrap();
        let errno = errno_location();
        // SAFETY: this thread's errno pointer, written on this thread.
        unsafe { *errno = 1234 };
        handler(UNUSED_SIGNO);
        // SAFETY: as above.
        assert_eq!(unsafe { *errno }, 1234);
        assert!(take_pending(UNUSED_SIGNO));
        assert!(!take_pending(UNUSED_SIGNO));
    }

    #[test]
    fn self_pipe_is_created_once() {
        assert_eq!(self_pipe().unwrap().fd, self_pipe().unwrap().fd);
    }

    #[test]
    fn install_rejects_out_of_range() {
        self_pipe().unwrap();
        assert_eq!(
            install_handler(0).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(
            install_handler(MAX_SIGNO as c_int).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert!(install_handler(libc::SIGKILL).is_err());
    }
}
