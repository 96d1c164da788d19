//! [`TlsConfig`]: the server's certificate chain and key (PEM, loaded and checked once at
//! startup), the protocol versions (TLS 1.2 and 1.3), ALPN (`http/1.1`) and the handshake
//! timeout; [`TlsConfig::from_env`] reads `KEEL_TLS_CERT`, `KEEL_TLS_KEY` and
//! `KEEL_TLS_HANDSHAKE_TIMEOUT`.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use keel_runtime::env::{self, EnvError};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Default time a client has from its TCP connection to a finished TLS handshake
/// (`KEEL_TLS_HANDSHAKE_TIMEOUT`).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The protocol ALPN offers: HTTP/1.1 (`h2` joins it once Keel speaks HTTP/2).
const ALPN_HTTP11: &[u8] = b"http/1.1";

/// TLS settings for the server: set with [`ServerConfig::tls`](crate::ServerConfig::tls),
/// or from the environment by [`ServerConfig::from_env`](crate::ServerConfig::from_env).
///
/// The certificate and key are read, parsed and checked against each other when the
/// config is built, so a bad file stops startup rather than the first handshake. TLS 1.3
/// and 1.2 are offered (rustls' cipher suites, `ring` provider: see
/// `docs/why-rustls.md`), ALPN offers `http/1.1`, and session resumption uses rustls'
/// defaults (an in-memory session cache and TLS 1.3 tickets).
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
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("alpn", &"http/1.1")
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

impl TlsConfig {
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
        load(("tls cert", cert.as_ref()), ("tls key", key.as_ref()))
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

    /// `KEEL_TLS_CERT` and `KEEL_TLS_KEY` (PEM paths, both or neither) and
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
        let path = |_: &str, v: &str| Ok(v.to_owned());
        let cert = env::var("KEEL_TLS_CERT", path)?;
        let key = env::var("KEEL_TLS_KEY", path)?;
        let tls = match (cert, key) {
            (None, None) => return Ok(None),
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
            (Some(cert), Some(key)) => load(
                ("KEEL_TLS_CERT", Path::new(&cert)),
                ("KEEL_TLS_KEY", Path::new(&key)),
            )?,
        };
        Ok(Some(match timeout {
            Some(t) => tls.handshake_timeout(t),
            None => tls,
        }))
    }
}

/// Loads and checks a certificate chain and key; each error names its setting.
fn load(
    (cert_name, cert_path): (&str, &Path),
    (key_name, key_path): (&str, &Path),
) -> Result<TlsConfig, EnvError> {
    let shown = |p: &Path| p.display().to_string();
    let certs = CertificateDer::pem_file_iter(cert_path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            EnvError::new(
                cert_name,
                &shown(cert_path),
                format!("a readable PEM certificate file ({e})"),
            )
        })?;
    if certs.is_empty() {
        return Err(EnvError::new(
            cert_name,
            &shown(cert_path),
            "a PEM file with at least one CERTIFICATE block",
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| {
        EnvError::new(
            key_name,
            &shown(key_path),
            format!("a readable PEM private key file ({e})"),
        )
    })?;
    // rustls 0.23.48 deprecates the ring provider for lacking post-quantum key exchange
    // (X25519MLKEM768); aws-lc-rs has it but builds far heavier (docs/why-rustls.md).
    #[expect(
        deprecated,
        reason = "ring until aws-lc-rs is measured: docs/why-rustls.md"
    )]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| EnvError::new(cert_name, &shown(cert_path), format!("usable ({e})")))?;
    let mut config = builder
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            EnvError::new(
                key_name,
                &shown(key_path),
                format!("a private key that matches the certificate in {cert_name} ({e})"),
            )
        })?;
    config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
    Ok(TlsConfig {
        rustls: Arc::new(config),
        handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
    })
}
