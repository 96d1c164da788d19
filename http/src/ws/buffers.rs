//! [`Buffers`]: the blocking-style byte stream tungstenite reads and writes — memory the
//! driver fills from the connection and drains into it. A read with nothing buffered
//! answers `WouldBlock` (tungstenite keeps its place and is called again once more
//! bytes are here); a write never blocks (the driver writes the bytes out before it
//! waits for anything else).

use std::io::{self, Read, Write};

/// The least spare room a socket read gets.
const READ_CHUNK: usize = 16 * 1024;

/// Bytes read from the connection and not yet taken by tungstenite, and bytes
/// tungstenite wrote and the connection has not.
#[derive(Debug, Default)]
pub(crate) struct Buffers {
    /// Unread bytes are `input[pos..]`.
    input: Vec<u8>,
    pos: usize,
    pub(crate) output: Vec<u8>,
}

impl Buffers {
    /// Buffers holding `leftover`: bytes read before the upgrade.
    pub(crate) fn new(leftover: Vec<u8>) -> Buffers {
        Buffers {
            input: leftover,
            pos: 0,
            output: Vec::new(),
        }
    }

    /// The input buffer, with spare room for a socket read at its end.
    pub(crate) fn input_for_read(&mut self) -> &mut Vec<u8> {
        if self.pos == self.input.len() {
            self.input.clear();
            self.pos = 0;
        } else if self.pos > 0 && self.input.capacity() - self.input.len() < READ_CHUNK {
            self.input.drain(..self.pos);
            self.pos = 0;
        }
        if self.input.capacity() - self.input.len() < READ_CHUNK {
            self.input.reserve(READ_CHUNK);
        }
        &mut self.input
    }
}

impl Read for Buffers {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let rest = &self.input[self.pos..];
        if rest.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}

impl Write for Buffers {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_was_put_in_then_would_block() {
        let mut b = Buffers::new(b"abc".to_vec());
        let mut out = [0; 2];
        assert_eq!(b.read(&mut out).unwrap(), 2);
        assert_eq!(&out, b"ab");
        assert_eq!(b.read(&mut out).unwrap(), 1);
        assert_eq!(
            b.read(&mut out).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        let input = b.input_for_read();
        assert!(input.is_empty() && input.capacity() >= READ_CHUNK);
        input.extend_from_slice(b"d");
        assert_eq!(b.read(&mut out).unwrap(), 1);
        assert_eq!(out[0], b'd');
        b.write_all(b"xy").unwrap();
        assert_eq!(b.output, b"xy");
    }
}
