//! [`State`]: application state given to the router with
//! [`Router::with_state`](crate::Router::with_state) and handed to handlers by clone (the
//! per-router store it lives in is `state_map.rs`).

use std::any::{TypeId, type_name};
use std::ops::{Deref, DerefMut};

use super::FromRequestParts;
use crate::error::AppError;
use crate::request::Request;

/// A clone of the router's state of type `S`.
///
/// The app is built once per loop by the factory given to
/// [`Server::serve`](crate::Server::serve), so the state is chosen there:
///
/// * shared by every loop: build it once outside the factory behind an
///   [`Arc`](std::sync::Arc), and give each loop's router a clone — `State<Arc<T>>`;
/// * one per loop, lock-free: build it inside the factory (an `Rc<RefCell<T>>` is fine,
///   state need not be `Send`).
///
/// Every handler taking `State<S>` needs a router with a state of type `S`: the server
/// refuses to start without it (`serve` returns an `InvalidInput` error naming the type
/// and the route).
///
/// # Examples
///
/// ```no_run
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// use keel_http::{Router, Server, State};
/// use keel_runtime::Runtime;
///
/// struct AppState {
///     greeting: String,
///     hits: AtomicU64,
/// }
///
/// async fn hello(State(app): State<Arc<AppState>>) -> String {
///     let n = app.hits.fetch_add(1, Ordering::Relaxed) + 1;
///     format!("{} (visit {n})", app.greeting)
/// }
///
/// let shared = Arc::new(AppState { greeting: "hello".into(), hits: AtomicU64::new(0) });
/// let runtime = Runtime::new()?;
/// Server::bind("0.0.0.0:3000")?.serve(&runtime, move || {
///     // Once per loop: every loop's router holds a clone of the same Arc.
///     Router::new().get("/", hello).with_state(shared.clone())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct State<S>(pub S);

impl<S> Deref for State<S> {
    type Target = S;

    fn deref(&self) -> &S {
        &self.0
    }
}

impl<S> DerefMut for State<S> {
    fn deref_mut(&mut self) -> &mut S {
        &mut self.0
    }
}

impl<S: Clone + 'static> FromRequestParts for State<S> {
    fn from_request_parts(req: &Request) -> Result<Self, AppError> {
        // The server checks at startup that every route's state is there, so this is
        // only reached through a hand-written extractor that wraps `State`.
        req.state::<S>().cloned().map(State).ok_or_else(|| {
            AppError::internal(format!(
                "no state of type {} (add it with Router::with_state)",
                type_name::<S>()
            ))
        })
    }

    fn required_state() -> Option<(TypeId, &'static str)> {
        Some((TypeId::of::<S>(), type_name::<S>()))
    }
}
