//! Asymmetric fences with `membarrier(2)`: a hot side that pays only a compiler fence,
//! and a rare side that makes every running thread of the process execute a full memory
//! barrier (`MEMBARRIER_CMD_PRIVATE_EXPEDITED`, Linux 4.14+), as liburcu and folly's
//! `asymmetricHeavyBarrier` do.
//!
//! The pair replaces two `SeqCst` fences in a Dekker-style handshake (one thread stores
//! A then loads B, the other stores B then loads A, and at least one must see the
//! other's store): the hot thread puts [`light`] between its store and its load, the
//! rare one [`heavy`]. The barrier `heavy` forces on the hot thread lands either after
//! its store — which is then visible to the rare thread's load — or before it, and then
//! the hot thread's load comes after the rare thread's store, which `heavy` (a full
//! fence on the caller too) made visible first.
//!
//! Where the kernel lacks the command, [`available`] is false and callers keep their
//! `SeqCst` handshake; the answer is fixed on first use, so both sides of a handshake
//! always agree on which one they run.

use std::sync::OnceLock;
use std::sync::atomic::{Ordering, compiler_fence};

/// `MEMBARRIER_CMD_PRIVATE_EXPEDITED` (linux/membarrier.h).
const CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
/// `MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED`: required once before the command above.
const CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

static AVAILABLE: OnceLock<bool> = OnceLock::new();

fn membarrier(cmd: libc::c_long) -> bool {
    // SAFETY: membarrier takes two integers (command, flags) and, for these commands,
    // touches no memory of ours; an unsupported command fails with ENOSYS or EINVAL.
    unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0 as libc::c_long) == 0 }
}

/// Whether [`heavy`] works in this process; registers the process on the first call
/// (every later call is one atomic load). Both sides of a handshake call this and run
/// the asymmetric protocol only when it says yes.
#[inline]
pub(crate) fn available() -> bool {
    *AVAILABLE.get_or_init(|| {
        membarrier(CMD_REGISTER_PRIVATE_EXPEDITED) && membarrier(CMD_PRIVATE_EXPEDITED)
    })
}

/// The hot side: keeps the compiler from moving memory accesses across this point; the
/// CPU-level ordering comes from [`heavy`] on the other thread.
#[inline(always)]
pub(crate) fn light() {
    compiler_fence(Ordering::SeqCst);
}

/// The rare side: a full memory barrier on every running thread of the process, this
/// one included. False if the kernel refused (then the handshake must not rely on it).
pub(crate) fn heavy() -> bool {
    membarrier(CMD_PRIVATE_EXPEDITED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heavy_works_whenever_available_says_so() {
        if available() {
            assert!(heavy());
        }
        // The answer is fixed once known.
        assert_eq!(available(), available());
    }
}
