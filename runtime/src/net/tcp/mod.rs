//! TCP: [`TcpSocket`] (socket options before bind/connect), [`TcpListener`] and
//! [`TcpStream`].

mod listener;
mod socket;
mod stream;

pub use self::listener::TcpListener;
pub use self::socket::{DEFAULT_BACKLOG, TcpSocket};
pub use self::stream::TcpStream;
