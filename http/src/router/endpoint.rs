//! [`Endpoint`]: one method's handler on one route, with the middleware scoped to it
//! ([`Router::route_layer`](super::Router::route_layer), a nested or merged router's
//! layers), folded into a single [`BoxedHandler`] when the router is built, so resolving
//! a request hands out one `Rc` whether the route has layers or not.

use std::any::TypeId;
use std::rc::Rc;

use crate::handler::BoxedHandler;
use crate::middleware::{Middleware, Next};

/// A handler, the layers around it (outermost first) and the router states it reads.
#[derive(Clone)]
pub(super) struct Endpoint {
    /// The handler alone.
    handler: BoxedHandler,
    /// Outermost first: the first runs first.
    layers: Vec<Rc<dyn Middleware>>,
    /// The router states (type id and name) the handler's extractors read.
    pub(super) states: Vec<(TypeId, &'static str)>,
    /// `handler` inside `layers`: what a request runs. The handler itself when there are
    /// no layers, so a route without them costs nothing more.
    built: BoxedHandler,
}

impl Endpoint {
    /// A handler without layers.
    pub(super) fn new(handler: BoxedHandler, states: Vec<(TypeId, &'static str)>) -> Endpoint {
        Endpoint {
            built: handler.clone(),
            handler,
            layers: Vec::new(),
            states,
        }
    }

    /// What a request to this endpoint runs.
    #[inline]
    pub(super) fn built(&self) -> &BoxedHandler {
        &self.built
    }

    /// Adds `layer` inside the layers already there (it runs after them).
    pub(super) fn push_inner(&mut self, layer: Rc<dyn Middleware>) {
        self.layers.push(layer);
        self.rebuild();
    }

    /// Puts `layers` outside the layers already there (they run first, in order).
    pub(super) fn wrap(&mut self, layers: &[Rc<dyn Middleware>]) {
        if layers.is_empty() {
            return;
        }
        self.layers.splice(0..0, layers.iter().cloned());
        self.rebuild();
    }

    fn rebuild(&mut self) {
        if self.layers.is_empty() {
            self.built = self.handler.clone();
            return;
        }
        let chain: Rc<[Rc<dyn Middleware>]> = self.layers.as_slice().into();
        let handler = self.handler.clone();
        self.built = Rc::new(move |req| Next::new(chain.clone(), handler.clone()).run(req));
    }
}
