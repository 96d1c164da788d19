//! [`CertStore`]: the certificates the server serves, each loaded from its PEM files and
//! replaceable while the server runs, as rustls' certificate resolver. A handshake takes
//! one read lock per certificate it looks at (held for an `Arc` clone: uncontended but
//! for the instant a reload swaps one in); [`reload`](super::reload) replaces them when
//! their files' [`Stamp`] changes.

use std::fmt;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use keel_runtime::env::EnvError;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::x509::{self, CertInfo};

/// Where one certificate comes from: its PEM files and the settings that named them
/// (for error messages).
#[derive(Debug, Clone)]
pub(crate) struct CertFiles {
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
    pub(crate) cert_setting: &'static str,
    pub(crate) key_setting: &'static str,
}

/// A certificate chain and key as served, with what Keel read of the leaf.
pub(crate) struct Loaded {
    pub(crate) key: Arc<CertifiedKey>,
    pub(crate) info: CertInfo,
}

/// One served certificate: its files and what they held when last loaded well.
pub(crate) struct Entry {
    pub(crate) files: CertFiles,
    current: RwLock<Arc<Loaded>>,
}

impl Entry {
    /// What this certificate serves now.
    pub(crate) fn current(&self) -> Arc<Loaded> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Serves `loaded` from the next handshake on.
    pub(crate) fn replace(&self, loaded: Loaded) {
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(loaded);
    }
}

/// The served certificates: the first is the default (a client that sends no SNI, or a
/// name none of them covers, gets it); the others are chosen by SNI against their DNS
/// names (exact, or a `*.` wildcard covering one label).
pub(crate) struct CertStore {
    pub(crate) entries: Vec<Entry>,
    provider: Arc<CryptoProvider>,
}

impl fmt::Debug for CertStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|e| &e.files.cert))
            .finish()
    }
}

impl CertStore {
    /// Loads every certificate, or says which setting holds a bad one.
    pub(crate) fn load(
        files: Vec<CertFiles>,
        provider: Arc<CryptoProvider>,
    ) -> Result<CertStore, EnvError> {
        let mut entries = Vec::with_capacity(files.len());
        for files in files {
            let loaded = load(&files, &provider)?;
            entries.push(Entry {
                files,
                current: RwLock::new(Arc::new(loaded)),
            });
        }
        Ok(CertStore { entries, provider })
    }

    /// Reads `files` again (for a reload), checked as at startup.
    pub(crate) fn reload(&self, files: &CertFiles) -> Result<Loaded, EnvError> {
        load(files, &self.provider)
    }

    /// The certificate for the server name `sni` (lowercase ASCII), else the default.
    fn choose(&self, sni: Option<&str>) -> &Entry {
        if let Some(sni) = sni
            && self.entries.len() > 1
        {
            for entry in &self.entries {
                let current = entry.current();
                if current.info.dns_names.iter().any(|n| covers(n, sni)) {
                    return entry;
                }
            }
        }
        &self.entries[0]
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let sni = hello.server_name().map(str::to_ascii_lowercase);
        Some(self.choose(sni.as_deref()).current().key.clone())
    }
}

/// Whether the certificate name `name` (lowercase) covers the server name `sni`.
fn covers(name: &str, sni: &str) -> bool {
    match name.strip_prefix("*.") {
        Some(suffix) => sni
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
        None => name == sni,
    }
}

/// Reads and checks one certificate chain and key; each error names its setting.
fn load(files: &CertFiles, provider: &CryptoProvider) -> Result<Loaded, EnvError> {
    let shown = |p: &Path| p.display().to_string();
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            EnvError::new(
                files.cert_setting,
                &shown(&files.cert),
                format!("a readable PEM certificate file ({e})"),
            )
        })?;
    let Some(leaf) = certs.first() else {
        return Err(EnvError::new(
            files.cert_setting,
            &shown(&files.cert),
            "a PEM file with at least one CERTIFICATE block",
        ));
    };
    let info = x509::read(leaf).ok_or_else(|| {
        EnvError::new(
            files.cert_setting,
            &shown(&files.cert),
            "an X.509 certificate first in the file",
        )
    })?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| {
        EnvError::new(
            files.key_setting,
            &shown(&files.key),
            format!("a readable PEM private key file ({e})"),
        )
    })?;
    let mismatch = |e: rustls::Error| {
        EnvError::new(
            files.key_setting,
            &shown(&files.key),
            format!(
                "a private key that matches the certificate in {} ({e})",
                files.cert_setting
            ),
        )
    };
    let key = CertifiedKey::from_der(certs, key, provider).map_err(mismatch)?;
    Ok(Loaded {
        key: Arc::new(key),
        info,
    })
}

/// What identifies the contents of a certificate's two files: a change in any part
/// means they may hold something new.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Stamp([Option<FileStamp>; 2]);

/// One file's device, inode, size and modification time (seconds, nanoseconds).
type FileStamp = (u64, u64, u64, i64, i64);

impl Stamp {
    /// The files' identity now (`None` for a file that cannot be read).
    pub(crate) fn of(files: &CertFiles) -> Stamp {
        Stamp([file(&files.cert), file(&files.key)])
    }
}

fn file(path: &Path) -> Option<FileStamp> {
    let m = fs::metadata(path).ok()?;
    Some((m.dev(), m.ino(), m.size(), m.mtime(), m.mtime_nsec()))
}

/// The stamps the files had when each certificate was last looked at, in the store's
/// order.
pub(crate) struct Stamps(Mutex<Vec<Stamp>>);

impl Stamps {
    /// The stamps of `files` now (taken before they are read: a change made while
    /// they are read is seen at the next look).
    pub(crate) fn of(files: &[CertFiles]) -> Stamps {
        Stamps(Mutex::new(files.iter().map(Stamp::of).collect()))
    }
}

impl Stamps {
    /// The stamps, for the reload thread.
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Stamp>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::covers;

    #[test]
    fn names_and_wildcards() {
        assert!(covers("api.example.com", "api.example.com"));
        assert!(!covers("api.example.com", "www.example.com"));
        assert!(covers("*.example.com", "www.example.com"));
        assert!(!covers("*.example.com", "example.com"));
        assert!(!covers("*.example.com", "a.b.example.com"));
        assert!(!covers("*.example.com", ".example.com"));
    }
}
