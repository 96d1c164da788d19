//! [`HeaderName`] and [`HeaderValue`]: how a response stores its header fields, shared by
//! [`Response`](crate::Response), the middleware that set headers and the per-thread
//! shelves that recycle header lists.

use std::borrow::Cow;

/// A header name as stored in a response.
pub type HeaderName = Cow<'static, str>;
/// A header value as stored in a response.
pub type HeaderValue = Cow<'static, str>;
