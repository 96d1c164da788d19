//! TCP on the loop: [`TcpListener`] and [`TcpStream`].
//!
//! Sockets are registered with the epoll instance of the loop that creates them and stay
//! there: they are `!Send`, like the tasks that own them (see
//! `docs/why-thread-per-core.md`). Each loop binds its own listener on the shared port
//! (`SO_REUSEPORT`) and the kernel spreads new connections across the loops.

mod lookup;
mod registration;
pub(crate) mod scheduled_io;
mod tcp;

pub use self::lookup::{ToSocketAddrs, lookup_host};
pub use self::tcp::{DEFAULT_BACKLOG, TcpListener, TcpSocket, TcpStream};
