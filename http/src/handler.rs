//! [`Handler`]: any `async fn` whose arguments are extractors and whose output converts
//! into a response. Handlers are erased into one boxed shape the router stores.

use std::any::TypeId;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use crate::extract::{FromRequest, FromRequestParts};
use crate::request::Request;
use crate::response::{IntoResponse, Response};

/// A boxed, loop-local future (handlers may hold `!Send` state).
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// A request handler. Implemented for `async fn`s (and closures returning futures) of up
/// to eight extractor arguments returning something [`IntoResponse`]: every argument but
/// the last reads only the head ([`FromRequestParts`]); the last may consume the body
/// ([`FromRequest`]). Arguments are extracted in order, and the first that fails answers.
///
/// # Examples
///
/// ```
/// use keel_http::{Json, Path, Request, Router};
///
/// async fn hello() -> &'static str { "hi" }
/// async fn user(Path(id): Path<u64>) -> String { format!("user {id}") }
/// async fn echo(req: Request) -> Vec<u8> { req.body().to_vec() }
/// async fn create(Json(v): Json<serde_json::Value>) -> Json<serde_json::Value> { Json(v) }
///
/// let router = Router::new()
///     .get("/", hello)
///     .get("/users/:id", user)
///     .post("/echo", echo)
///     .post("/things", create);
/// # let _ = router;
/// ```
pub trait Handler<Args>: Clone + 'static {
    /// Runs the handler on `req`.
    fn call(&self, req: Request) -> BoxFuture<Response>;

    /// The router states (type id and name) the handler's extractors read.
    #[doc(hidden)]
    fn required_states(&self) -> Vec<(TypeId, &'static str)> {
        Vec::new()
    }
}

/// The shape every handler is erased to.
pub(crate) type BoxedHandler = Rc<dyn Fn(Request) -> BoxFuture<Response>>;

/// Erases a handler.
pub(crate) fn boxed<H: Handler<A>, A>(handler: H) -> BoxedHandler {
    Rc::new(move |req| handler.call(req))
}

impl<F, Fut, R> Handler<()> for F
where
    F: Fn() -> Fut + Clone + 'static,
    Fut: Future<Output = R> + 'static,
    R: IntoResponse,
{
    fn call(&self, _req: Request) -> BoxFuture<Response> {
        let fut = (self)();
        Box::pin(async move { fut.await.into_response() })
    }
}

macro_rules! impl_handler {
    ([$($part:ident),*], $last:ident) => {
        impl<F, Fut, R, M, $($part,)* $last> Handler<(M, $($part,)* $last,)> for F
        where
            F: Fn($($part,)* $last) -> Fut + Clone + 'static,
            Fut: Future<Output = R> + 'static,
            R: IntoResponse,
            $($part: FromRequestParts + 'static,)*
            $last: FromRequest<M> + 'static,
        {
            #[allow(non_snake_case)]
            fn call(&self, mut req: Request) -> BoxFuture<Response> {
                $(
                    let $part = match $part::from_request_parts(&req) {
                        Ok(value) => value,
                        Err(err) => return Box::pin(std::future::ready(err.into_response())),
                    };
                )*
                let $last = match $last::from_request(&mut req) {
                    Ok(value) => value,
                    Err(err) => return Box::pin(std::future::ready(err.into_response())),
                };
                let fut = (self)($($part,)* $last);
                Box::pin(async move { fut.await.into_response() })
            }

            fn required_states(&self) -> Vec<(TypeId, &'static str)> {
                let mut states = Vec::new();
                $( states.extend(<$part as FromRequestParts>::required_state()); )*
                states.extend(<$last as FromRequest<M>>::required_state());
                states
            }
        }
    };
}

impl_handler!([], A1);
impl_handler!([A1], A2);
impl_handler!([A1, A2], A3);
impl_handler!([A1, A2, A3], A4);
impl_handler!([A1, A2, A3, A4], A5);
impl_handler!([A1, A2, A3, A4, A5], A6);
impl_handler!([A1, A2, A3, A4, A5, A6], A7);
impl_handler!([A1, A2, A3, A4, A5, A6, A7], A8);
