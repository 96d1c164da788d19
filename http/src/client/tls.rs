//! The client's TLS trust: the root store it verifies servers against (the Mozilla roots
//! bundled by `webpki-roots`: docs/tls.md says why), extra CA certificates from
//! `KEEL_CLIENT_CA` and [`ClientBuilder::add_ca_file`](super::ClientBuilder::add_ca_file),
//! and the rustls `ClientConfig` built from them (TLS 1.3 and 1.2, ALPN `http/1.1`, the
//! `ring` provider as the server's). The OTLP exporter uses the same trust.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use keel_runtime::env::EnvError;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// The variable naming a PEM file of extra CA certificates every client trusts.
pub(crate) const CLIENT_CA_VAR: &str = "KEEL_CLIENT_CA";

/// The protocol the client offers with ALPN.
const ALPN_HTTP11: &[u8] = b"http/1.1";

/// Reads the CA certificates in the PEM file at `path`; errors name `name`, the
/// setting it came from.
///
/// # Errors
///
/// A file that cannot be read, holds no certificate, or a certificate rustls cannot use
/// as a trust anchor.
pub(crate) fn read_ca_file(
    name: &str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, EnvError> {
    let shown = path.display().to_string();
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| EnvError::new(name, &shown, format!("a readable PEM CA file ({e})")))?;
    if certs.is_empty() {
        return Err(EnvError::new(
            name,
            &shown,
            "a PEM file with at least one CERTIFICATE block",
        ));
    }
    let mut roots = rustls::RootCertStore::empty();
    for cert in &certs {
        roots.add(cert.clone()).map_err(|e| {
            EnvError::new(
                name,
                &shown,
                format!("CA certificates rustls can use ({e})"),
            )
        })?;
    }
    Ok(certs)
}

/// The CA certificates `KEEL_CLIENT_CA` names, read through `var`; none when unset.
///
/// # Errors
///
/// `KEEL_CLIENT_CA`, named, when its file is unusable.
pub(crate) fn env_ca(
    var: impl Fn(&str) -> Option<String>,
) -> Result<Vec<CertificateDer<'static>>, EnvError> {
    match var(CLIENT_CA_VAR) {
        Some(path) => read_ca_file(CLIENT_CA_VAR, Path::new(path.trim())),
        None => Ok(Vec::new()),
    }
}

/// `KEEL_CLIENT_CA` of this process, read once.
///
/// # Errors
///
/// As [`env_ca`]; [`Config::from_env`](crate::Config::from_env) returns it at startup.
pub(crate) fn process_ca() -> Result<&'static [CertificateDer<'static>], EnvError> {
    static CA: OnceLock<Result<Vec<CertificateDer<'static>>, EnvError>> = OnceLock::new();
    CA.get_or_init(|| env_ca(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty())))
        .as_ref()
        .map(Vec::as_slice)
        .map_err(Clone::clone)
}

/// A rustls client config trusting the bundled roots, `KEEL_CLIENT_CA` and `extra`.
///
/// # Errors
///
/// `KEEL_CLIENT_CA`'s error, as text.
pub(crate) fn client_config(
    extra: &[CertificateDer<'static>],
) -> Result<Arc<rustls::ClientConfig>, String> {
    static DEFAULT: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    if extra.is_empty() {
        return DEFAULT
            .get_or_init(|| build(process_ca().map_err(|e| e.to_string())?, &[]))
            .clone();
    }
    build(process_ca().map_err(|e| e.to_string())?, extra)
}

/// A rustls client config trusting the bundled roots and every certificate of `cas`.
pub(crate) fn build(
    env: &[CertificateDer<'static>],
    extra: &[CertificateDer<'static>],
) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for cert in env.iter().chain(extra) {
        // Checked when read (`read_ca_file`).
        roots.add(cert.clone()).map_err(|e| e.to_string())?;
    }
    // The server's provider (docs/why-rustls.md).
    #[expect(
        deprecated,
        reason = "ring until aws-lc-rs is measured: docs/why-rustls.md"
    )]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
    Ok(Arc::new(config))
}
