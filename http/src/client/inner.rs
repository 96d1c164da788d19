//! [`Inner`]: what the clones of one [`Client`](super::Client) share — its settings and
//! its idle connections — and what each request and response holds on to.

use super::builder::Config;
use super::pool::IdlePool;

/// What clones of a client share.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) pool: IdlePool,
}

impl Inner {
    /// The shared part of a client running with `config`, with no idle connection yet.
    pub(crate) fn new(config: Config) -> Inner {
        let pool = IdlePool::new(config.max_idle_per_host, config.idle_timeout);
        Inner { config, pool }
    }
}
