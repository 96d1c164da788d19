//! [`Inner`]: what the clones of one [`Client`](super::Client) share — its settings and
//! its idle connections, its TLS trust — and what each request and response holds on to.

use std::sync::Arc;

use super::builder::Config;
use super::pool::IdlePool;

/// What clones of a client share.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) pool: IdlePool,
    /// The TLS settings `https://` connections use, or why there are none (an unusable
    /// `KEEL_CLIENT_CA`): such requests fail, never fall back to plaintext.
    pub(crate) tls: Result<Arc<rustls::ClientConfig>, String>,
}

impl Inner {
    /// The shared part of a client running with `config`, with no idle connection yet.
    pub(crate) fn new(config: Config) -> Inner {
        let pool = IdlePool::new(config.max_idle_per_host, config.idle_timeout);
        let tls = super::tls::client_config(&config.extra_ca);
        Inner { config, pool, tls }
    }
}
