//! [`Request`]: one parsed request as a handler sees it — head, buffered body, route
//! parameters, peer address and typed extensions for middleware.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;

use keel_runtime::ascii::to_str;

use crate::params::Params;
use crate::proto::{Method, RequestHead, Version};
use crate::state_map::StateMap;

/// An HTTP request with its body already read (up to the route's body limit).
#[derive(Default)]
pub struct Request {
    /// The head's bytes; `head`'s spans point into it.
    buf: Vec<u8>,
    head: RequestHead,
    body: Vec<u8>,
    params: Params,
    route: Option<Rc<str>>,
    remote_addr: Option<SocketAddr>,
    /// The client's address from a trusted proxy's header, when it is not the peer's.
    forwarded_ip: Option<IpAddr>,
    extensions: Option<HashMap<TypeId, Box<dyn Any>>>,
    state: Option<Rc<StateMap>>,
}

impl Request {
    pub(crate) fn new(buf: Vec<u8>, head: RequestHead, remote_addr: Option<SocketAddr>) -> Request {
        Request {
            buf,
            head,
            body: Vec::new(),
            params: Params::default(),
            route: None,
            remote_addr,
            forwarded_ip: None,
            extensions: None,
            state: None,
        }
    }

    /// A request with every part the server knows before the handler runs, built in one
    /// go (no default fields written and then replaced).
    pub(crate) fn from_parts(
        buf: Vec<u8>,
        head: RequestHead,
        body: Vec<u8>,
        route: Option<(Rc<str>, Params)>,
        remote_addr: SocketAddr,
        state: Option<Rc<StateMap>>,
    ) -> Request {
        let (route, params) = match route {
            Some((pattern, params)) => (Some(pattern), params),
            None => (None, Params::default()),
        };
        Request {
            buf,
            head,
            body,
            params,
            route,
            remote_addr: Some(remote_addr),
            forwarded_ip: None,
            extensions: None,
            state,
        }
    }

    pub(crate) fn set_forwarded_ip(&mut self, ip: IpAddr) {
        self.forwarded_ip = Some(ip);
    }

    pub(crate) fn set_body(&mut self, body: Vec<u8>) {
        self.body = body;
    }

    /// The method.
    pub fn method(&self) -> &Method {
        self.head.method()
    }

    /// The HTTP version.
    pub fn version(&self) -> Version {
        self.head.version()
    }

    /// The path of the target, as sent (percent-encoded), without the query.
    pub fn path(&self) -> &str {
        to_str(self.head.path(&self.buf)).unwrap_or("/")
    }

    /// The query string after `?`, if any, as sent.
    pub fn query(&self) -> Option<&str> {
        self.head.query(&self.buf).and_then(|q| to_str(q).ok())
    }

    /// The first value of header `name` (case-insensitive), when it is valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_bytes(name).and_then(|v| to_str(v).ok())
    }

    /// The first value of header `name` (case-insensitive), as bytes.
    pub fn header_bytes(&self, name: &str) -> Option<&[u8]> {
        self.head.header(&self.buf, name)
    }

    /// Every header as `(name, value)`, in order.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.head.headers().iter().map(|h| {
            (
                to_str(h.name.of(&self.buf)).unwrap_or(""),
                h.value.of(&self.buf),
            )
        })
    }

    /// The body bytes.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Takes the body out, leaving it empty.
    pub fn take_body(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.body)
    }

    /// A route parameter by name (`:id` in `/users/:id`), percent-decoded.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name)
    }

    /// All route parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The route pattern that matched (`/users/:id`), for logs and metrics; `None` when
    /// no route matched.
    pub fn route(&self) -> Option<&str> {
        self.route.as_deref()
    }

    /// The peer's address: the client's, or the last proxy's behind a proxy.
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.remote_addr
    }

    /// The client's IP address: what a [trusted proxy](crate::TrustedProxies) says it is
    /// (from `X-Forwarded-For` or `Forwarded`) when the peer is one, else the peer's.
    pub fn client_ip(&self) -> Option<IpAddr> {
        self.forwarded_ip
            .or_else(|| self.remote_addr.map(|a| a.ip().to_canonical()))
    }

    /// Whether the client asked to keep the connection open.
    pub fn keep_alive(&self) -> bool {
        self.head.keep_alive()
    }

    /// Stores a typed value for later middleware or the handler (one per type).
    pub fn insert_extension<T: 'static>(&mut self, value: T) {
        self.extensions
            .get_or_insert_with(HashMap::new)
            .insert(TypeId::of::<T>(), Box::new(value));
    }

    /// The router's state of type `S` ([`Router::with_state`](crate::Router::with_state)),
    /// for middleware; handlers take the [`State`](crate::State) extractor.
    pub fn state<S: 'static>(&self) -> Option<&S> {
        self.state.as_deref()?.get()
    }

    /// Takes out the typed value stored by [`insert_extension`](Request::insert_extension).
    pub(crate) fn take_extension<T: 'static>(&mut self) -> Option<T> {
        let value = self.extensions.as_mut()?.remove(&TypeId::of::<T>())?;
        value.downcast().ok().map(|v| *v)
    }

    /// A typed value stored by [`insert_extension`](Request::insert_extension).
    pub fn extension<T: 'static>(&self) -> Option<&T> {
        self.extensions
            .as_ref()?
            .get(&TypeId::of::<T>())?
            .downcast_ref()
    }
}

/// The head and its bytes go back to the thread's shelves for the next request.
impl Drop for Request {
    fn drop(&mut self) {
        crate::recycle::give_request((std::mem::take(&mut self.buf), self.head.take_index()));
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", self.method())
            .field("path", &self.path())
            .field("query", &self.query())
            .field("version", &self.version())
            .field("body_len", &self.body.len())
            .finish()
    }
}
