//! One HTTP/2 stream, a task on its connection's loop: its head becomes Keel's request
//! head ([`request`](super::request)), then the same [`Exchange`] an HTTP/1.1 request
//! goes through — begin (context, span, route), the body within the route's limit and
//! the request's deadline, the middleware and handler with panics caught and the request
//! timeout, the rendered response ([`response`](super::response)), then finish (RED
//! metrics, span, the access log line with `HTTP/2`). A route that streams its body gets
//! it unread ([`request_body`](super::request_body)).
//!
//! A client that resets the stream while its handler runs drops the handler (as a
//! closed HTTP/1.1 connection would leave it unanswered); the request is logged with
//! status 499 (nginx's "client closed request").

use std::net::SocketAddr;
use std::rc::Rc;

use bytes::Bytes;
use h2::RecvStream;
use h2::server::SendResponse;
use keel_runtime::future::{Either, select, within};

use super::request::write_and_parse;
use super::request_body::StreamBody;
use super::response::{self, Sent};
use crate::error::AppError;
use crate::proto::{BodyLength, Method, RequestHead};
use crate::request_body::RequestBody;
use crate::response::Response;
use crate::server::LoopServer;
use crate::server::dispatch::{self, Exchange};
use crate::server::render::{refusal, timed_out};
use crate::server::request_id::new_request_id;
use crate::server::tls::ClientIdentity;
use crate::status::StatusCode;

/// The status logged for a request whose client reset its stream before the answer.
const CLIENT_CLOSED: u16 = 499;

/// Answers one stream.
pub(super) async fn serve(
    request: http::Request<RecvStream>,
    mut respond: SendResponse<Bytes>,
    server: Rc<LoopServer>,
    peer: SocketAddr,
    identity: Option<ClientIdentity>,
) {
    let (parts, mut recv) = request.into_parts();
    let (mut head_bytes, index) = crate::recycle::request();
    let mut head = RequestHead::default();
    head.set_index(index);
    if let Err(err) = write_and_parse(&parts, &server.config.limits, &mut head_bytes, &mut head) {
        // Refused before it is an exchange, as a malformed HTTP/1.1 head is.
        let request_id = new_request_id();
        let response = dispatch::refuse(&server, err, request_id.as_str());
        response::send(&mut respond, response, false, request_id.as_str(), &server).await;
        return;
    }
    let expects_continue = parts
        .headers
        .get(http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    drop(parts);
    let mut exchange = Exchange::new(server.clone(), peer);
    exchange.set_client_identity(identity);
    exchange.begin(&head, &head_bytes);
    let is_head = *head.method() == Method::Head;

    let call = if exchange.streams_body() && !recv.is_end_stream() {
        // The handler reads the body as it arrives.
        if let Err(err) = exchange.check_declared_length(head.body()) {
            let response = exchange.refuse(err);
            let sent = response::send(
                &mut respond,
                response,
                is_head,
                exchange.request_id(),
                &server,
            )
            .await;
            exchange.finish_refused(sent.status);
            return;
        }
        if expects_continue {
            send_continue(&mut respond);
        }
        // On the in-flight list from now on; the handler's reads are within its deadline.
        let _ = exchange.deadline();
        let body = RequestBody::streamed(StreamBody::new(recv, exchange.body_limit()));
        exchange.call_streaming(head_bytes, head, body)
    } else {
        let body = if recv.is_end_stream() {
            Vec::new()
        } else {
            let read = match exchange.check_declared_length(head.body()) {
                Ok(()) => {
                    let declared = head.body();
                    read_body(
                        &mut exchange,
                        &mut recv,
                        &mut respond,
                        declared,
                        expects_continue,
                    )
                    .await
                }
                Err(err) => Err(Some(err)),
            };
            match read {
                Ok(body) => body,
                Err(Some(err)) => {
                    let response = exchange.refuse(err);
                    let sent = response::send(
                        &mut respond,
                        response,
                        is_head,
                        exchange.request_id(),
                        &server,
                    )
                    .await;
                    exchange.finish_refused(sent.status);
                    return;
                }
                Err(None) => {
                    exchange.finish_refused(CLIENT_CLOSED);
                    return;
                }
            }
        };
        drop(recv);
        exchange.call(head_bytes, head, body)
    };
    let reset = std::future::poll_fn(|cx| respond.poll_reset(cx));
    let response: Response = match select(exchange.respond(call), reset).await {
        Either::Left(response) => response,
        Either::Right(_) => {
            exchange.finish(CLIENT_CLOSED, 0);
            return;
        }
    };
    let Sent { bytes, status } = response::send(
        &mut respond,
        response,
        is_head,
        exchange.request_id(),
        &server,
    )
    .await;
    exchange.finish(status, bytes);
}

/// Sends `100 Continue` (the client asked with `Expect: 100-continue`).
fn send_continue(respond: &mut SendResponse<Bytes>) {
    let mut head = http::Response::new(());
    *head.status_mut() = http::StatusCode::CONTINUE;
    let _ = respond.send_informational(head);
}

/// Reads the request body from its DATA frames within the route's limit and the
/// request's deadline, giving the window back as it is read. `Err(Some(e))`: answer
/// `e`; `Err(None)`: the client reset the stream (or the connection ended).
async fn read_body(
    exchange: &mut Exchange,
    recv: &mut RecvStream,
    respond: &mut SendResponse<Bytes>,
    declared: BodyLength,
    expects_continue: bool,
) -> Result<Vec<u8>, Option<AppError>> {
    let deadline = exchange.deadline();
    let limit = exchange.body_limit();
    if expects_continue {
        send_continue(respond);
    }
    let mut body = Vec::new();
    if let BodyLength::Known(n) = declared {
        body.reserve_exact(n.min(limit) as usize);
    }
    loop {
        let next = within(|| deadline, std::future::poll_fn(|cx| recv.poll_data(cx))).await;
        match next {
            Ok(Some(Ok(data))) => {
                let _ = recv.flow_control().release_capacity(data.len());
                if (body.len() + data.len()) as u64 > limit {
                    return Err(Some(refusal(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!("request body is over the limit of {limit} bytes"),
                    )));
                }
                body.extend_from_slice(&data);
            }
            Ok(None) => return Ok(body),
            Ok(Some(Err(e))) => {
                tracing::debug!(error = %e, "HTTP/2 request body ended early");
                return Err(None);
            }
            Err(_) => return Err(Some(timed_out("the request body did not arrive in time"))),
        }
    }
}
