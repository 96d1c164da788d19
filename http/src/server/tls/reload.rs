//! Reloading the served certificates when their files change, without a restart:
//! cert-manager and Kubernetes Secrets replace them in place, often by swapping a
//! symlink. One small thread per TLS config looks at the files' identity (device,
//! inode, size, modification time, through symlinks) every reload interval; on a change
//! the pair is read and checked as at startup, then swapped in for new handshakes
//! (connections already open keep their session). A bad new pair is logged and counted,
//! and the old certificate stays in use until a good one appears.

use std::sync::{Arc, Weak};
use std::time::Duration;

use super::certs::{CertStore, Stamp, Stamps};
use super::metrics;

/// Reloads every certificate whose files changed since `stamps` were taken; the number
/// reloaded well.
pub(crate) fn check(store: &CertStore, stamps: &Stamps) -> usize {
    let mut stamps = stamps.lock();
    let mut reloaded = 0;
    for (entry, last) in store.entries.iter().zip(stamps.iter_mut()) {
        let now = Stamp::of(&entry.files);
        if now == *last {
            continue;
        }
        *last = now;
        let cert = entry.files.cert.display();
        match store.reload(&entry.files) {
            Ok(loaded) => {
                tracing::info!(
                    %cert,
                    serial = %loaded.info.serial,
                    subject = %loaded.info.subject,
                    not_after = loaded.info.not_after,
                    "TLS certificate reloaded"
                );
                entry.replace(loaded);
                metrics::reloaded(true);
                reloaded += 1;
            }
            Err(e) => {
                tracing::warn!(
                    %cert,
                    error = %e,
                    "TLS certificate reload failed; the previous certificate stays in use"
                );
                metrics::reloaded(false);
            }
        }
    }
    reloaded
}

/// Looks at `store`'s files every `interval` on a thread of its own, until the store
/// is dropped (the server stopped).
pub(crate) fn watch(store: &Arc<CertStore>, stamps: Arc<Stamps>, interval: Duration) {
    let store: Weak<CertStore> = Arc::downgrade(store);
    let spawned = std::thread::Builder::new()
        .name("keel-tls-reload".into())
        .spawn(move || {
            loop {
                std::thread::sleep(interval);
                let Some(store) = store.upgrade() else { return };
                check(&store, &stamps);
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "could not start the TLS certificate reload thread; certificates will not be reloaded");
    }
}
