//! Reading a request body from the connection: decoded (`Content-Length` or chunked)
//! out of the read buffer into the request's own buffer, within the route's limit and
//! the request's deadline; a client that sent `Expect: 100-continue` gets its
//! `100 Continue` first.

use std::io;

use super::{Conn, Read};
use crate::error::AppError;
use crate::proto::BodyLength;
use crate::proto::decode::Decoder;
use crate::proto::encode::CONTINUE;
use crate::server::render::{refusal, timed_out};
use crate::server::transport::Transport;
use crate::status::StatusCode;

impl<S: Transport> Conn<S> {
    /// Reads a body of `framing` within the exchange's limit and deadline.
    /// `Ok(Err(Some(e)))`: answer `e` and close; `Ok(Err(None))`: close silently (the
    /// peer left or the server is closing).
    pub(super) async fn read_body(
        &mut self,
        framing: BodyLength,
        expect_continue: bool,
    ) -> io::Result<Result<Vec<u8>, Option<AppError>>> {
        let deadline = self.exchange.deadline();
        if expect_continue && self.start == self.rbuf.len() {
            self.wbuf.extend_from_slice(CONTINUE);
            self.flush().await?;
        }
        let mut decoder = Decoder::new(framing, self.exchange.body_limit());
        let mut body = Vec::new();
        if let BodyLength::Known(n) = framing {
            body.reserve_exact(n as usize);
        }
        loop {
            let input = &self.rbuf[self.start..];
            match decoder.decode(input, |data| body.extend_from_slice(data)) {
                Ok(progress) => {
                    self.start += progress.consumed;
                    if progress.done {
                        return Ok(Ok(body));
                    }
                }
                Err(e) => {
                    let status =
                        StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
                    return Ok(Err(Some(refusal(status, e.reason()))));
                }
            }
            match self.read_until(deadline).await? {
                Read::Data => {}
                Read::Eof | Read::Draining => return Ok(Err(None)),
                Read::TimedOut => {
                    return Ok(Err(Some(timed_out(
                        "the request body did not arrive in time",
                    ))));
                }
            }
        }
    }
}
