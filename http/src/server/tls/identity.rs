//! [`ClientIdentity`]: the verified client certificate of an mTLS connection, as a
//! handler sees it — an extractor, and an extension on every request of the connection.

use std::sync::Arc;

use super::x509;
use crate::error::AppError;
use crate::extract::FromRequestParts;
use crate::request::Request;

/// The client certificate a connection presented and the server verified against
/// `KEEL_TLS_CLIENT_CA` ([`TlsConfig::client_ca`](crate::TlsConfig::client_ca)).
///
/// Every request of such a connection carries it as an extension; as a handler argument
/// it answers `401` on a connection without one (a plaintext listener, or TLS without
/// client authentication). Cloning is cheap (one `Arc`).
///
/// # Examples
///
/// ```
/// use keel_http::{ClientIdentity, Router};
///
/// let app = Router::new().get("/whoami", |id: ClientIdentity| async move {
///     format!("{} ({})", id.common_name().unwrap_or("?"), id.subject())
/// });
/// # let _ = app;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity(Arc<Inner>);

#[derive(Debug, PartialEq, Eq)]
struct Inner {
    info: x509::CertInfo,
    der: Vec<u8>,
}

impl ClientIdentity {
    /// The identity of the verified leaf certificate `der`.
    pub(crate) fn from_der(der: &[u8]) -> ClientIdentity {
        ClientIdentity(Arc::new(Inner {
            info: x509::read(der).unwrap_or_default(),
            der: der.to_vec(),
        }))
    }

    /// The certificate's subject as an RFC 4514 string (`CN=alice,O=Example`).
    pub fn subject(&self) -> &str {
        &self.0.info.subject
    }

    /// The subject's common name (`alice`), if it has one.
    pub fn common_name(&self) -> Option<&str> {
        self.0.info.common_name.as_deref()
    }

    /// The DNS names of its subject alternative name, lowercased.
    pub fn dns_names(&self) -> &[String] {
        &self.0.info.dns_names
    }

    /// The serial number in hex, as `openssl x509 -serial` prints it.
    pub fn serial(&self) -> &str {
        &self.0.info.serial
    }

    /// When it expires (`notAfter`), in seconds since the Unix epoch.
    pub fn not_after(&self) -> i64 {
        self.0.info.not_after
    }

    /// The whole certificate (DER), to read what the accessors leave out.
    pub fn certificate_der(&self) -> &[u8] {
        &self.0.der
    }
}

impl FromRequestParts for ClientIdentity {
    fn from_request_parts(req: &Request) -> Result<Self, AppError> {
        req.extension::<ClientIdentity>()
            .cloned()
            .ok_or_else(|| AppError::unauthorized("a client certificate is required"))
    }
}
