//! [`Router`]: method + path patterns to handlers, with middleware around them.
//!
//! Matching is done by the path tree in `tree.rs` (static segments before `:params`
//! before a `*tail`); this file adds methods on top: `HEAD` is served by `GET` routes, an
//! unknown path is the fallback or a JSON 404, a known path with another method a JSON
//! 405 with `Allow`. Middleware scoped to routes is folded into their handlers
//! (`endpoint.rs`); nesting and merging routers is `compose.rs`.

mod compose;
mod endpoint;
mod tree;

use std::collections::HashMap;
use std::rc::Rc;

use self::endpoint::Endpoint;
pub use self::tree::{PathTree, RouteError};
use crate::error::AppError;
use crate::handler::{BoxedHandler, Handler, boxed};
use crate::middleware::Middleware;
use crate::params::Params;
use crate::proto::Method;
use crate::response::IntoResponse;
use crate::state_map::StateMap;
use crate::status::StatusCode;

/// Routes and middleware of an application. Built once per loop (see
/// [`Server::serve`](crate::Server::serve)), so handlers may own `!Send` state.
///
/// Routers compose: [`nest`](Router::nest) mounts one under a path prefix,
/// [`merge`](Router::merge) joins two, [`fallback`](Router::fallback) answers the paths
/// no route matches. Middleware wraps the whole application ([`layer`](Router::layer)),
/// a group of routes ([`route_layer`](Router::route_layer), or `layer` on a router that
/// is then nested or merged), or one route ([`layer_at`](Router::layer_at)).
///
/// # Panics
///
/// Adding an invalid or duplicate route panics with the pattern in the message: a
/// misdeclared route is a bug that must stop startup.
///
/// # Examples
///
/// ```
/// use keel_http::{Params, Router};
///
/// let router = Router::new()
///     .get("/users/:id", |p: Params| async move { format!("user {}", p.get("id").unwrap()) })
///     .post("/upload", |body: Vec<u8>| async move { format!("{} bytes", body.len()) })
///     .body_limit("/upload", 10 << 20);
/// assert_eq!(router.route_patterns().count(), 2);
/// ```
#[derive(Default)]
pub struct Router {
    tree: PathTree<usize>,
    routes: Vec<Route>,
    by_pattern: HashMap<String, usize>,
    layers: Vec<Rc<dyn Middleware>>,
    /// Empty until [`with_state`](Router::with_state) is called.
    state: Option<Rc<StateMap>>,
    /// What answers a path no route matches, instead of the 404.
    fallback: Option<Endpoint>,
}

struct Route {
    pattern: Rc<str>,
    /// The handler each method runs (its layers folded in): the hot path reads only this.
    methods: Vec<(Method, BoxedHandler)>,
    /// Parallel to `methods`: each handler's parts, to fold in more layers.
    endpoints: Vec<Endpoint>,
    /// What answers every method not in `methods` (a nested router's fallback).
    any: Option<Endpoint>,
    body_limit: Option<u64>,
    /// The handler reads the body as it arrives ([`Router::streaming_body`]).
    streams_body: bool,
}

impl Route {
    /// Folds `f`'s change to each endpoint into the handler the hot path reads.
    fn each_endpoint(&mut self, mut f: impl FnMut(&mut Endpoint)) {
        for (endpoint, (_, built)) in self.endpoints.iter_mut().zip(&mut self.methods) {
            f(endpoint);
            *built = endpoint.built().clone();
        }
    }
}

/// What a request's method and path resolve to.
pub(crate) enum Resolved {
    /// A handler.
    Found {
        handler: BoxedHandler,
        pattern: Rc<str>,
        params: Params,
        body_limit: Option<u64>,
        streams_body: bool,
    },
    /// An error response to give (404, 405), with the pattern when the path matched.
    Error(AppError, Option<Rc<str>>, Option<String>),
    /// No route matched the path: the router's [fallback](Router::fallback) answers.
    Fallback(BoxedHandler),
}

impl Router {
    /// An empty router: every request is a 404.
    pub fn new() -> Router {
        Router::default()
    }

    /// Routes `method` on `pattern` to `handler`.
    ///
    /// Patterns: `/users`, `/users/:id` (one segment, named), `/files/*path` (the rest).
    ///
    /// # Panics
    ///
    /// When the pattern is invalid or `method` is already routed on it.
    #[track_caller]
    pub fn route<H: Handler<A>, A>(self, method: Method, pattern: &str, handler: H) -> Router {
        let endpoint = Endpoint::new(boxed(handler.clone()), handler.required_states());
        self.add(method, pattern, endpoint)
    }

    /// The route with `pattern`, added if missing.
    #[track_caller]
    fn route_mut(&mut self, pattern: &str) -> &mut Route {
        let index = match self.by_pattern.get(pattern) {
            Some(&index) => index,
            None => {
                let index = self.routes.len();
                if let Err(e) = self.tree.insert(pattern, index) {
                    panic!("invalid route {pattern:?}: {e}");
                }
                self.routes.push(Route {
                    pattern: pattern.into(),
                    methods: Vec::new(),
                    endpoints: Vec::new(),
                    any: None,
                    body_limit: None,
                    streams_body: false,
                });
                self.by_pattern.insert(pattern.to_owned(), index);
                index
            }
        };
        &mut self.routes[index]
    }

    /// Routes `method` on `pattern` to `endpoint`.
    #[track_caller]
    fn add(mut self, method: Method, pattern: &str, endpoint: Endpoint) -> Router {
        let route = self.route_mut(pattern);
        if route.methods.iter().any(|(m, _)| *m == method) {
            panic!("duplicate route: {method} {pattern} is already routed");
        }
        route.methods.push((method, endpoint.built().clone()));
        route.endpoints.push(endpoint);
        self
    }

    /// Gives the handlers a state: every [`State<S>`](crate::State) argument gets a clone
    /// of `state`. One value per type (a second `S` replaces the first); order with the
    /// routes does not matter.
    ///
    /// The router is built once per loop, so the factory decides what is shared: pass a
    /// clone of an `Arc<T>` built outside it for one state shared by every loop, or build
    /// the state inside it for one per loop (no lock needed; it need not be `Send`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use std::sync::Arc;
    ///
    /// use keel_http::{Router, State};
    ///
    /// struct Config { name: String }
    ///
    /// async fn name(State(config): State<Arc<Config>>) -> String { config.name.clone() }
    /// async fn count(State(hits): State<Rc<Cell<u64>>>) -> String {
    ///     hits.set(hits.get() + 1);
    ///     hits.get().to_string()
    /// }
    ///
    /// let config = Arc::new(Config { name: "keel".into() }); // shared by all loops
    /// let make_app = move || {
    ///     Router::new()
    ///         .get("/name", name)
    ///         .get("/count", count)
    ///         .with_state(config.clone())
    ///         .with_state(Rc::new(Cell::new(0u64))) // this loop's own counter
    /// };
    /// # let _ = make_app();
    /// ```
    pub fn with_state<S: Clone + 'static>(mut self, state: S) -> Router {
        Rc::make_mut(self.state.get_or_insert_with(Rc::default)).insert(state);
        self
    }

    /// The state store handed to every request, if any state was given.
    pub(crate) fn state(&self) -> Option<Rc<StateMap>> {
        self.state.clone()
    }

    /// Checks that every state a handler reads was given.
    ///
    /// # Errors
    ///
    /// A message naming the first missing state type and a route that needs it.
    pub(crate) fn check_states(&self) -> Result<(), String> {
        let routes = self.routes.iter().flat_map(|route| {
            let methods = route.methods.iter().map(|(m, _)| m.as_str());
            let any = route.any.iter().map(|_| "any method");
            let endpoints = route.endpoints.iter().chain(&route.any);
            methods
                .chain(any)
                .zip(endpoints)
                .map(|(method, endpoint)| (format!("{method} {}", route.pattern), endpoint))
        });
        let fallback = self.fallback.iter().map(|e| ("the fallback".to_owned(), e));
        for (route, endpoint) in routes.chain(fallback) {
            for (id, name) in &endpoint.states {
                if !self.state.as_ref().is_some_and(|s| s.contains(*id)) {
                    return Err(format!(
                        "route {route} takes State<{name}> but the router has no state of \
                         that type (add it with Router::with_state)"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Routes `GET` (and so `HEAD`).
    #[track_caller]
    pub fn get<H: Handler<A>, A>(self, pattern: &str, handler: H) -> Router {
        self.route(Method::Get, pattern, handler)
    }

    /// Routes `POST`.
    #[track_caller]
    pub fn post<H: Handler<A>, A>(self, pattern: &str, handler: H) -> Router {
        self.route(Method::Post, pattern, handler)
    }

    /// Routes `PUT`.
    #[track_caller]
    pub fn put<H: Handler<A>, A>(self, pattern: &str, handler: H) -> Router {
        self.route(Method::Put, pattern, handler)
    }

    /// Routes `PATCH`.
    #[track_caller]
    pub fn patch<H: Handler<A>, A>(self, pattern: &str, handler: H) -> Router {
        self.route(Method::Patch, pattern, handler)
    }

    /// Routes `DELETE`.
    #[track_caller]
    pub fn delete<H: Handler<A>, A>(self, pattern: &str, handler: H) -> Router {
        self.route(Method::Delete, pattern, handler)
    }

    /// Routes `OPTIONS`.
    #[track_caller]
    pub fn options<H: Handler<A>, A>(self, pattern: &str, handler: H) -> Router {
        self.route(Method::Options, pattern, handler)
    }

    /// Sets the body size limit of the route with `pattern`, replacing the server's
    /// default (`KEEL_MAX_BODY`) for it. Declared sizes above it are refused with 413
    /// before any of the body is read.
    ///
    /// # Panics
    ///
    /// When no route has `pattern` yet.
    #[track_caller]
    pub fn body_limit(mut self, pattern: &str, bytes: u64) -> Router {
        match self.by_pattern.get(pattern) {
            Some(&index) => self.routes[index].body_limit = Some(bytes),
            None => panic!("body_limit: no route {pattern:?} (add the route first)"),
        }
        self
    }

    /// Marks the route with `pattern` as reading its request body as it arrives: its
    /// handler takes a [`RequestBody`](crate::RequestBody) as its last argument, and
    /// the server reads from
    /// the client only as fast as the handler consumes, so a body of any size passes
    /// in bounded memory. The route's [`body_limit`](Router::body_limit) still holds
    /// (413 mid-stream). On such a route the buffered body extractors (`Json`,
    /// `String`, `Vec<u8>`, …) see an empty body: use `RequestBody::to_vec` there.
    ///
    /// # Panics
    ///
    /// When no route has `pattern` yet.
    #[track_caller]
    pub fn streaming_body(mut self, pattern: &str) -> Router {
        match self.by_pattern.get(pattern) {
            Some(&index) => self.routes[index].streams_body = true,
            None => panic!("streaming_body: no route {pattern:?} (add the route first)"),
        }
        self
    }

    /// Wraps every route (and the fallback, the 404 and 405 answers) in `middleware`.
    /// The first layer added runs first. Once this router is [nested](Router::nest) or
    /// [merged](Router::merge) into another, its layers wrap only its own routes and
    /// fallback.
    pub fn layer(mut self, middleware: impl Middleware) -> Router {
        self.layers.push(Rc::new(middleware));
        self
    }

    /// Wraps the routes added so far, and only them, in `middleware`: not the routes
    /// added after, not the fallback, and not the 404 or 405 answers (axum's
    /// `route_layer`). Runs after the router's [`layer`](Router::layer)s; among route
    /// layers, the first added runs first.
    ///
    /// The layer is folded into each route's handler when it is added: routes without
    /// route layers pay nothing for it.
    ///
    /// # Examples
    ///
    /// ```
    /// use keel_http::{AppError, Next, Request, Response, Router};
    ///
    /// async fn require_token(req: Request, next: Next) -> Response {
    ///     match req.header("authorization") {
    ///         Some("Bearer let-me-in") => next.run(req).await,
    ///         _ => Response::from_error(AppError::unauthorized("a bearer token is required")),
    ///     }
    /// }
    ///
    /// let admin = Router::new()
    ///     .get("/stats", || async { "stats" })
    ///     .delete("/cache", || async { "flushed" })
    ///     .route_layer(require_token); // both routes above; an unknown path stays a 404
    /// let app = Router::new().get("/", || async { "public" }).nest("/admin", admin);
    /// # let _ = app;
    /// ```
    pub fn route_layer(mut self, middleware: impl Middleware) -> Router {
        let layer: Rc<dyn Middleware> = Rc::new(middleware);
        for route in &mut self.routes {
            route.each_endpoint(|e| e.push_inner(layer.clone()));
        }
        self
    }

    /// Wraps the route with `pattern` (every method routed on it so far) in
    /// `middleware`, like [`route_layer`](Router::route_layer) for one route.
    ///
    /// # Panics
    ///
    /// When no route has `pattern` yet.
    #[track_caller]
    pub fn layer_at(mut self, pattern: &str, middleware: impl Middleware) -> Router {
        let Some(&index) = self.by_pattern.get(pattern) else {
            panic!("layer_at: no route {pattern:?} (add the route first)");
        };
        let layer: Rc<dyn Middleware> = Rc::new(middleware);
        self.routes[index].each_endpoint(|e| e.push_inner(layer.clone()));
        self
    }

    /// Answers every request whose path no route matches with `handler`, instead of the
    /// JSON 404 (a path that matches a route but not its method is still a 405). The
    /// router's layers wrap it; its metrics and logs carry no route label, like the 404.
    ///
    /// A nested router's fallback answers the paths under its prefix that none of its
    /// routes match.
    ///
    /// # Panics
    ///
    /// When the router already has a fallback.
    ///
    /// # Examples
    ///
    /// ```
    /// use keel_http::{Request, Router, StatusCode};
    ///
    /// let app = Router::new()
    ///     .get("/", || async { "home" })
    ///     .fallback(|req: Request| async move {
    ///         (StatusCode::NOT_FOUND, format!("nothing at {}", req.path()))
    ///     });
    /// # let _ = app;
    /// ```
    #[track_caller]
    pub fn fallback<H: Handler<A>, A>(mut self, handler: H) -> Router {
        if self.fallback.is_some() {
            panic!("fallback: the router already has a fallback");
        }
        self.fallback = Some(Endpoint::new(
            boxed(handler.clone()),
            handler.required_states(),
        ));
        self
    }

    /// The route patterns, in the order they were added.
    pub fn route_patterns(&self) -> impl Iterator<Item = &str> {
        self.routes.iter().map(|r| &*r.pattern)
    }

    pub(crate) fn layers(&self) -> &[Rc<dyn Middleware>] {
        &self.layers
    }

    /// Finds the handler for `method` on `path`.
    pub(crate) fn resolve(&self, method: &Method, path: &str) -> Resolved {
        let Some((&index, params)) = self.tree.at(path) else {
            if let Some(fallback) = &self.fallback {
                return Resolved::Fallback(fallback.built().clone());
            }
            return Resolved::Error(
                AppError::not_found(format!("no route for {method} {path}")),
                None,
                None,
            );
        };
        let route = &self.routes[index];
        let found = route.methods.iter().find(|(m, _)| m == method).or_else(|| {
            (*method == Method::Head)
                .then(|| route.methods.iter().find(|(m, _)| *m == Method::Get))
                .flatten()
        });
        let handler = found
            .map(|(_, handler)| handler)
            .or_else(|| route.any.as_ref().map(Endpoint::built));
        match handler {
            Some(handler) => Resolved::Found {
                handler: handler.clone(),
                pattern: route.pattern.clone(),
                params,
                body_limit: route.body_limit,
                streams_body: route.streams_body,
            },
            None => {
                let mut allow: Vec<&str> = route.methods.iter().map(|(m, _)| m.as_str()).collect();
                if allow.contains(&"GET") && !allow.contains(&"HEAD") {
                    allow.push("HEAD");
                }
                let allow = allow.join(", ");
                Resolved::Error(
                    AppError::new(
                        StatusCode::METHOD_NOT_ALLOWED,
                        "method_not_allowed",
                        format!(
                            "{method} is not allowed on {}; allowed: {allow}",
                            route.pattern
                        ),
                    ),
                    Some(route.pattern.clone()),
                    Some(allow),
                )
            }
        }
    }
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("routes", &self.route_patterns().collect::<Vec<_>>())
            .field("layers", &self.layers.len())
            .field("fallback", &self.fallback.is_some())
            .finish()
    }
}

/// The endpoint for a request that matched no handler: answers `error` (with `Allow` for
/// a 405).
pub(crate) fn error_endpoint(error: AppError, allow: Option<String>) -> BoxedHandler {
    Rc::new(move |_req| {
        let mut res = error.clone().into_response();
        if let Some(allow) = &allow {
            res.set_header("allow", allow.clone());
        }
        Box::pin(std::future::ready(res))
    })
}
