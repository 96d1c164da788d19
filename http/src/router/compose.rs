//! Routers built from routers: [`Router::nest`] (another router's routes under a path
//! prefix) and [`Router::merge`] (another router's routes beside these). The other
//! router's layers, route layers, body limits, fallback and states come along; its
//! layers end up folded into its own routes only.

use std::rc::Rc;

use super::endpoint::Endpoint;
use super::{Route, Router};

impl Router {
    /// Mounts `other`'s routes under `prefix`: `/users/:id` nested at `/api` is
    /// `/api/users/:id`, and `other`'s `/` is `prefix` itself. The prefix may hold
    /// parameters (`/orgs/:org`), which come before the route's own.
    ///
    /// `other`'s [`layer`](Router::layer)s wrap only its routes (and its fallback), inside
    /// this router's; its fallback, when it has one, answers every path under `prefix/`
    /// that none of its routes match (as the route `prefix/*rest`, any method); its
    /// states are added to this router's (for a type both have, this router's is kept);
    /// its body limits are kept.
    ///
    /// # Panics
    ///
    /// When `prefix` does not start with `/`, ends with `/` or is `/` (use
    /// [`merge`](Router::merge) for that), or when a route clashes with one already here.
    ///
    /// # Examples
    ///
    /// ```
    /// use keel_http::{Path, Router};
    ///
    /// async fn member(Path((org, id)): Path<(String, u64)>) -> String {
    ///     format!("member {id} of {org}")
    /// }
    ///
    /// let members = Router::new().get("/", || async { "all members" }).get("/:id", member);
    /// let app = Router::new().nest("/orgs/:org/members", members);
    /// assert_eq!(
    ///     app.route_patterns().collect::<Vec<_>>(),
    ///     ["/orgs/:org/members", "/orgs/:org/members/:id"]
    /// );
    /// ```
    #[track_caller]
    pub fn nest(self, prefix: &str, other: Router) -> Router {
        if !prefix.starts_with('/') || prefix.ends_with('/') {
            panic!(
                "nest: the prefix {prefix:?} must start with '/' and not end with one \
                 (merge the router to mount it at the root)"
            );
        }
        let (mut router, fallback) = self.join(other, |pattern| match pattern {
            "/" => prefix.to_owned(),
            _ => format!("{prefix}{pattern}"),
        });
        if let Some(fallback) = fallback {
            let pattern = format!("{prefix}/*rest");
            let route = router.route_mut(&pattern);
            if route.any.is_some() {
                panic!("nest: {pattern} already has a fallback");
            }
            route.any = Some(fallback);
        }
        router
    }

    /// Adds `other`'s routes to this router's. A pattern both route must route
    /// different methods (`GET /users` from one, `POST /users` from the other).
    ///
    /// `other`'s [`layer`](Router::layer)s wrap only its routes (and its fallback),
    /// inside this router's; its fallback becomes this router's; its states are added to
    /// this router's (for a type both have, this router's is kept); its body limits are
    /// kept.
    ///
    /// # Panics
    ///
    /// When a method is routed on the same pattern by both, both set a different body
    /// limit on one pattern, or both have a fallback.
    ///
    /// # Examples
    ///
    /// ```
    /// use keel_http::Router;
    ///
    /// let users = Router::new().get("/users", || async { "users" });
    /// let health = Router::new().get("/ping", || async { "pong" });
    /// let app = Router::new().merge(users).merge(health);
    /// assert_eq!(app.route_patterns().collect::<Vec<_>>(), ["/users", "/ping"]);
    /// ```
    #[track_caller]
    pub fn merge(self, other: Router) -> Router {
        let (mut merged, fallback) = self.join(other, str::to_owned);
        if let Some(fallback) = fallback {
            if merged.fallback.is_some() {
                panic!("merge: both routers have a fallback");
            }
            merged.fallback = Some(fallback);
        }
        merged
    }

    /// Adds `other`'s routes under the patterns `rename` gives, its layers folded into
    /// them, and its states; returns its fallback (with its layers) for the caller.
    #[track_caller]
    fn join(
        mut self,
        other: Router,
        rename: impl Fn(&str) -> String,
    ) -> (Router, Option<Endpoint>) {
        let Router {
            routes,
            layers,
            state,
            fallback,
            ..
        } = other;
        for route in routes {
            let Route {
                pattern,
                methods,
                endpoints,
                any,
                body_limit,
                streams_body,
            } = route;
            let pattern = rename(&pattern);
            for ((method, _), mut endpoint) in methods.into_iter().zip(endpoints) {
                endpoint.wrap(&layers);
                self = self.add(method, &pattern, endpoint);
            }
            let target = self.route_mut(&pattern);
            if let Some(mut any) = any {
                if target.any.is_some() {
                    panic!("both routers answer any method on {pattern}");
                }
                any.wrap(&layers);
                target.any = Some(any);
            }
            target.streams_body |= streams_body;
            if let Some(limit) = body_limit {
                match target.body_limit {
                    Some(mine) if mine != limit => panic!(
                        "both routers set a body limit on {pattern}, and they differ \
                         ({mine} and {limit} bytes)"
                    ),
                    _ => target.body_limit = Some(limit),
                }
            }
        }
        if let Some(theirs) = state {
            let mine = Rc::make_mut(self.state.get_or_insert_with(Rc::default));
            mine.fill_from(&theirs);
        }
        let fallback = fallback.map(|mut endpoint| {
            endpoint.wrap(&layers);
            endpoint
        });
        (self, fallback)
    }
}
