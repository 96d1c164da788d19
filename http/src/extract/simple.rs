//! The small head extractors: [`Query`], [`RemoteAddr`], [`ClientIp`].

use std::net::{IpAddr, SocketAddr};

use serde::de::DeserializeOwned;

use super::FromRequestParts;
use crate::error::AppError;
use crate::request::Request;

/// The query string deserialized into `T` (`?page=2&sort=name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned> FromRequestParts for Query<T> {
    fn from_request_parts(req: &Request) -> Result<Self, AppError> {
        serde_urlencoded::from_str(req.query().unwrap_or(""))
            .map(Query)
            .map_err(|e| {
                AppError::new(
                    crate::StatusCode::BAD_REQUEST,
                    "invalid_query",
                    format!("invalid query string: {e}"),
                )
            })
    }
}

/// The peer's socket address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteAddr(pub SocketAddr);

/// The client's IP address, [`Request::client_ip`]: from a trusted proxy's
/// `X-Forwarded-For` when the peer is one, else the peer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts for ClientIp {
    fn from_request_parts(req: &Request) -> Result<Self, AppError> {
        req.client_ip()
            .map(ClientIp)
            .ok_or_else(|| AppError::internal("no peer address for this request"))
    }
}

impl FromRequestParts for RemoteAddr {
    fn from_request_parts(req: &Request) -> Result<Self, AppError> {
        req.remote_addr()
            .map(RemoteAddr)
            .ok_or_else(|| AppError::internal("no peer address for this request"))
    }
}
