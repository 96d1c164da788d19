//! [`TlsConfig`]: the server's certificates and keys (PEM, loaded and checked at startup,
//! reloaded when their files change; several chosen by SNI), the protocol versions (TLS
//! 1.2 and 1.3), ALPN (`h2`, `http/1.1`), session resumption, the optional client CA (mTLS),
//! the handshake timeout and the reload interval; [`TlsConfig::from_env`] reads
//! `KEEL_TLS_CERT`, `KEEL_TLS_KEY`, `KEEL_TLS_CLIENT_CA`, `KEEL_TLS_HANDSHAKE_TIMEOUT`
//! and `KEEL_TLS_RELOAD_INTERVAL`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};
use std::time::Duration;

use keel_runtime::env::{self, EnvError};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::server::{ServerSessionMemoryCache, WebPkiClientVerifier};

use super::certs::{CertFiles, CertStore, Stamps};

/// Default time a client has from its TCP connection to a finished TLS handshake
/// (`KEEL_TLS_HANDSHAKE_TIMEOUT`).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Default time between two looks at the certificate files (`KEEL_TLS_RELOAD_INTERVAL`).
pub const DEFAULT_RELOAD_INTERVAL: Duration = Duration::from_secs(5);

/// TLS 1.2 sessions remembered by ID for clients that take no ticket.
const SESSION_CACHE_SIZE: usize = 4096;

/// The protocols ALPN offers, preferred first: HTTP/2, then HTTP/1.1.
const ALPN_H2: &[u8] = b"h2";
const ALPN_HTTP11: &[u8] = b"http/1.1";

/// TLS settings for the server: set with [`ServerConfig::tls`](crate::ServerConfig::tls),
/// or from the environment by [`ServerConfig::from_env`](crate::ServerConfig::from_env).
///
/// The certificate and key are read, parsed and checked against each other when the
/// config is built, so a bad file stops startup rather than the first handshake. While
/// the server runs, the files are looked at every
/// [`reload_interval`](TlsConfig::reload_interval) and a changed pair is loaded for new
/// handshakes (a bad one is logged and the old one kept). TLS 1.3
/// and 1.2 are offered (rustls' cipher suites, `ring` provider: see
/// `docs/why-rustls.md`), ALPN offers `h2` and `http/1.1` (`http/1.1` only when the
/// server's [`H2Config`](crate::H2Config) is off), and sessions resume by stateless
/// tickets (TLS 1.3 and 1.2; keys rotated every 6 hours, per process) or, for TLS 1.2
/// clients without tickets, a session-ID cache of 4,096 entries.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use keel_http::{ServerConfig, TlsConfig};
///
/// let tls = TlsConfig::from_pem_files("/etc/tls/tls.crt", "/etc/tls/tls.key")?
///     .handshake_timeout(Duration::from_secs(5));
/// let config = ServerConfig::default().tls(Some(tls));
/// # let _ = config;
/// # Ok::<(), keel_http::config::EnvError>(())
/// ```
#[derive(Clone)]
pub struct TlsConfig {
    pub(crate) rustls: Arc<rustls::ServerConfig>,
    pub(crate) handshake_timeout: Duration,
    reload_interval: Duration,
    files: Vec<CertFiles>,
    client_ca: Option<ClientCa>,
    store: Arc<CertStore>,
    stamps: Arc<Stamps>,
    started: Arc<Once>,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("certificates", &self.store)
            .field(
                "alpn",
                &self
                    .rustls
                    .alpn_protocols
                    .iter()
                    .map(|p| String::from_utf8_lossy(p))
                    .collect::<Vec<_>>(),
            )
            .field("handshake_timeout", &self.handshake_timeout)
            .field("reload_interval", &self.reload_interval)
            .finish_non_exhaustive()
    }
}

impl TlsConfig {
    /// The same settings with ALPN offering `http/1.1` alone (a server whose HTTP/2 is
    /// off).
    pub(crate) fn http11_only(&self) -> TlsConfig {
        let mut rustls = (*self.rustls).clone();
        rustls.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
        TlsConfig {
            rustls: Arc::new(rustls),
            ..self.clone()
        }
    }

    /// Reads the certificate chain (`cert`: the server's certificate first, then its
    /// intermediates) and its private key (`key`: PKCS#8, PKCS#1 or SEC1) from PEM files.
    ///
    /// # Errors
    ///
    /// An [`EnvError`] named `tls cert` or `tls key` with the path: a file that cannot be
    /// read, holds no certificate or key, or a key that does not match the certificate.
    pub fn from_pem_files(
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<TlsConfig, EnvError> {
        build(
            vec![files(
                ("tls cert", cert.as_ref()),
                ("tls key", key.as_ref()),
            )],
            None,
        )
    }

    /// Adds a certificate served to clients that ask for one of its DNS names (its
    /// subject alternative names, `*.` wildcards included) by SNI. The first
    /// certificate ([`from_pem_files`](TlsConfig::from_pem_files)) stays the default,
    /// served when the client sends no name or one no certificate covers; the others are
    /// tried in the order they were added. Each is reloaded when its files change.
    ///
    /// # Errors
    ///
    /// As [`from_pem_files`](TlsConfig::from_pem_files), for the new pair.
    pub fn with_cert(
        self,
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<TlsConfig, EnvError> {
        let mut all = self.files.clone();
        all.push(files(
            ("tls cert", cert.as_ref()),
            ("tls key", key.as_ref()),
        ));
        self.rebuild(all, self.client_ca.clone())
    }

    /// Requires every client to present a certificate that chains to one of the CAs in
    /// the PEM bundle `ca` (mutual TLS): a client without one, or with one the bundle
    /// does not vouch for, is refused during the handshake. The verified certificate is
    /// on every request of the connection ([`ClientIdentity`](crate::ClientIdentity)).
    /// The bundle is read once, at startup. # Default: none (env `KEEL_TLS_CLIENT_CA`).
    ///
    /// # Errors
    ///
    /// An [`EnvError`] named `tls client ca`: a file that cannot be read or holds no
    /// usable CA certificate.
    pub fn client_ca(self, ca: impl AsRef<Path>) -> Result<TlsConfig, EnvError> {
        let ca = ClientCa {
            path: ca.as_ref().to_path_buf(),
            setting: "tls client ca",
        };
        self.rebuild(self.files.clone(), Some(ca))
    }

    /// This config with other certificates or client CA, its timings kept.
    fn rebuild(
        &self,
        files: Vec<CertFiles>,
        client_ca: Option<ClientCa>,
    ) -> Result<TlsConfig, EnvError> {
        Ok(TlsConfig {
            handshake_timeout: self.handshake_timeout,
            reload_interval: self.reload_interval,
            ..build(files, client_ca)?
        })
    }

    /// How often the certificate files are looked at for a change (their device, inode,
    /// size and modification time, through symlinks); zero turns reloading off.
    /// # Default: 5 s (env `KEEL_TLS_RELOAD_INTERVAL`).
    pub fn reload_interval(mut self, interval: Duration) -> TlsConfig {
        self.reload_interval = interval;
        self
    }

    /// The reload interval ([`reload_interval`](TlsConfig::reload_interval)).
    pub fn get_reload_interval(&self) -> Duration {
        self.reload_interval
    }

    /// The served certificates, the stamps their files had when loaded, the reload
    /// interval, and whether the config's companions still have to be started (true
    /// once per config).
    pub(super) fn companions(&self) -> Option<(&Arc<CertStore>, &Arc<Stamps>, Duration)> {
        let mut first = false;
        self.started.call_once(|| first = true);
        first.then_some((&self.store, &self.stamps, self.reload_interval))
    }

    /// Time a client has from its TCP connection to a finished handshake; past it the
    /// connection is closed (it holds a connection slot until then, and the loop goes on
    /// serving others meanwhile). # Default: 10 s (env `KEEL_TLS_HANDSHAKE_TIMEOUT`).
    pub fn handshake_timeout(mut self, timeout: Duration) -> TlsConfig {
        self.handshake_timeout = timeout;
        self
    }

    /// The handshake timeout ([`handshake_timeout`](TlsConfig::handshake_timeout)).
    pub fn get_handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }

    /// `KEEL_TLS_CERT` and `KEEL_TLS_KEY` (PEM paths, both or neither; comma-separated lists pair several certificates, chosen by SNI) and
    /// `KEEL_TLS_HANDSHAKE_TIMEOUT` (a duration above zero, read and checked even
    /// without a certificate); `Ok(None)` when neither path is set.
    ///
    /// # Errors
    ///
    /// The variable at fault: one path without the other, a file that cannot be read or
    /// holds no certificate or key, a key that does not match the certificate, or a bad
    /// timeout.
    pub(crate) fn from_env() -> Result<Option<TlsConfig>, EnvError> {
        let timeout = env::var("KEEL_TLS_HANDSHAKE_TIMEOUT", env::parse_duration)?;
        if timeout.is_some_and(|t| t.is_zero()) {
            return Err(EnvError::new(
                "KEEL_TLS_HANDSHAKE_TIMEOUT",
                "0",
                "a duration above zero",
            ));
        }
        let reload_interval = env::var("KEEL_TLS_RELOAD_INTERVAL", env::parse_duration)?;
        let path = |_: &str, v: &str| Ok(v.to_owned());
        let cert = env::var("KEEL_TLS_CERT", path)?;
        let key = env::var("KEEL_TLS_KEY", path)?;
        let client_ca = env::var("KEEL_TLS_CLIENT_CA", path)?;
        let tls = match (cert, key) {
            (None, None) => {
                return match client_ca {
                    Some(ca) => Err(EnvError::new(
                        "KEEL_TLS_CLIENT_CA",
                        &ca,
                        "to be set with KEEL_TLS_CERT and KEEL_TLS_KEY (client certificates are asked for only over TLS)",
                    )),
                    None => Ok(None),
                };
            }
            (Some(cert), None) => {
                return Err(EnvError::new(
                    "KEEL_TLS_CERT",
                    &cert,
                    "to be set together with KEEL_TLS_KEY (the key's PEM path), or neither",
                ));
            }
            (None, Some(key)) => {
                return Err(EnvError::new(
                    "KEEL_TLS_KEY",
                    &key,
                    "to be set together with KEEL_TLS_CERT (the certificate's PEM path), or neither",
                ));
            }
            (Some(cert), Some(key)) => build(
                pair_lists(&cert, &key)?
                    .into_iter()
                    .map(|(cert, key)| {
                        files(
                            ("KEEL_TLS_CERT", Path::new(cert)),
                            ("KEEL_TLS_KEY", Path::new(key)),
                        )
                    })
                    .collect(),
                None,
            )?,
        };
        let tls = match client_ca {
            Some(ca) => {
                let files = tls.files.clone();
                let ca = ClientCa {
                    path: ca.into(),
                    setting: "KEEL_TLS_CLIENT_CA",
                };
                tls.rebuild(files, Some(ca))?
            }
            None => tls,
        };
        let tls = match timeout {
            Some(t) => tls.handshake_timeout(t),
            None => tls,
        };
        Ok(Some(match reload_interval {
            Some(i) => tls.reload_interval(i),
            None => tls,
        }))
    }
}

/// `KEEL_TLS_CERT` and `KEEL_TLS_KEY` as comma-separated lists of paths, paired in
/// order (the first pair the default certificate).
fn pair_lists<'a>(cert: &'a str, key: &'a str) -> Result<Vec<(&'a str, &'a str)>, EnvError> {
    let list = |v: &'a str| -> Vec<&'a str> {
        v.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect()
    };
    let (certs, keys) = (list(cert), list(key));
    if certs.is_empty() {
        return Err(EnvError::new(
            "KEEL_TLS_CERT",
            cert,
            "one or more PEM paths, comma-separated",
        ));
    }
    if certs.len() != keys.len() {
        return Err(EnvError::new(
            "KEEL_TLS_KEY",
            key,
            format!(
                "as many key paths as KEEL_TLS_CERT has certificates ({}), in the same order",
                certs.len()
            ),
        ));
    }
    Ok(certs.into_iter().zip(keys).collect())
}

/// The CA bundle client certificates must chain to, and the setting that named it.
#[derive(Debug, Clone)]
struct ClientCa {
    path: PathBuf,
    setting: &'static str,
}

impl ClientCa {
    /// Reads the bundle into a verifier that requires a client certificate.
    fn verifier(
        &self,
        provider: Arc<CryptoProvider>,
    ) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, EnvError> {
        let shown = self.path.display().to_string();
        let bad = |why: String| EnvError::new(self.setting, &shown, why);
        let certs = CertificateDer::pem_file_iter(&self.path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| bad(format!("a readable PEM file of CA certificates ({e})")))?;
        let mut roots = rustls::RootCertStore::empty();
        let (added, _ignored) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(bad(
                "a PEM file with at least one usable CA CERTIFICATE block".into(),
            ));
        }
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| bad(format!("a usable CA bundle ({e})")))
    }
}

/// The files of one certificate, named by their settings.
fn files(
    (cert_setting, cert): (&'static str, &Path),
    (key_setting, key): (&'static str, &Path),
) -> CertFiles {
    CertFiles {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        cert_setting,
        key_setting,
    }
}

/// The ticket encrypter for resumption, on ring.
fn ticketer() -> Result<Arc<dyn rustls::server::ProducesTickets>, rustls::Error> {
    rustls::crypto::ring::Ticketer::new()
}

/// The crypto provider: ring.
fn provider() -> Arc<CryptoProvider> {
    // rustls 0.23.48 deprecates the ring provider for lacking post-quantum key exchange
    // (X25519MLKEM768); aws-lc-rs has it but builds far heavier (docs/why-rustls.md).
    #[expect(
        deprecated,
        reason = "ring until aws-lc-rs is measured: docs/why-rustls.md"
    )]
    let provider = rustls::crypto::ring::default_provider();
    Arc::new(provider)
}

/// Loads and checks every certificate (the first the default), and makes the rustls
/// config that serves them; each error names its setting.
fn build(files: Vec<CertFiles>, client_ca: Option<ClientCa>) -> Result<TlsConfig, EnvError> {
    let provider = provider();
    let stamps = Stamps::of(&files);
    let store = Arc::new(CertStore::load(files.clone(), provider.clone())?);
    let first = &files[0];
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| {
            EnvError::new(
                first.cert_setting,
                &first.cert.display().to_string(),
                format!("usable ({e})"),
            )
        })?;
    let builder = match &client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => builder.with_client_cert_verifier(ca.verifier(provider.clone())?),
    };
    let mut config = builder.with_cert_resolver(store.clone());
    config.alpn_protocols = vec![ALPN_H2.to_vec(), ALPN_HTTP11.to_vec()];
    // Resumption without a shared lock on the handshake path: stateless tickets (TLS 1.3,
    // and TLS 1.2 clients that offer the extension), encrypted with keys that rotate
    // every 6 hours; the session-ID cache (its own lock) only for TLS 1.2 clients that
    // do not take tickets.
    config.ticketer = ticketer().map_err(|e| {
        EnvError::new(
            first.cert_setting,
            &first.cert.display().to_string(),
            format!("usable (session tickets: {e})"),
        )
    })?;
    config.session_storage = ServerSessionMemoryCache::new(SESSION_CACHE_SIZE);
    Ok(TlsConfig {
        rustls: Arc::new(config),
        handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        reload_interval: DEFAULT_RELOAD_INTERVAL,
        files,
        client_ca,
        store,
        stamps: Arc::new(stamps),
        started: Arc::new(Once::new()),
    })
}

#[cfg(test)]
mod tests {
    use super::pair_lists;

    #[test]
    fn lists_pair_in_order() {
        assert_eq!(
            pair_lists("a.pem, b.pem", "a.key,b.key").unwrap(),
            [("a.pem", "a.key"), ("b.pem", "b.key")]
        );
        assert_eq!(pair_lists("a.pem", "a.key").unwrap(), [("a.pem", "a.key")]);
        let err = pair_lists("a.pem,b.pem", "a.key").unwrap_err();
        assert_eq!(err.name(), "KEEL_TLS_KEY");
        assert_eq!(
            pair_lists(" , ", "a.key").unwrap_err().name(),
            "KEEL_TLS_CERT"
        );
    }
}
