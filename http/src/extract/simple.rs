//! The small extractors: [`Path`], [`Query`], [`RemoteAddr`], [`ClientIp`].

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use serde::de::DeserializeOwned;

use super::FromRequest;
use crate::error::AppError;
use crate::request::Request;

/// The first route parameter, parsed with `FromStr` (`/users/:id` → `Path<u64>`). For
/// several parameters take [`Params`](crate::Params).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Path<T>(pub T);

impl<T: FromStr> FromRequest for Path<T> {
    fn from_request(req: &mut Request) -> Result<Self, AppError> {
        let (name, raw) = req.params().iter().next().ok_or_else(|| {
            AppError::internal("Path extractor used on a route without parameters")
        })?;
        raw.parse().map(Path).map_err(|_| {
            AppError::new(
                crate::StatusCode::BAD_REQUEST,
                "invalid_path_parameter",
                format!("path parameter {name} has an invalid value: {raw:?}"),
            )
        })
    }
}

/// The query string deserialized into `T` (`?page=2&sort=name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Query<T> {
    fn from_request(req: &mut Request) -> Result<Self, AppError> {
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

impl FromRequest for ClientIp {
    fn from_request(req: &mut Request) -> Result<Self, AppError> {
        req.client_ip()
            .map(ClientIp)
            .ok_or_else(|| AppError::internal("no peer address for this request"))
    }
}

impl FromRequest for RemoteAddr {
    fn from_request(req: &mut Request) -> Result<Self, AppError> {
        req.remote_addr()
            .map(RemoteAddr)
            .ok_or_else(|| AppError::internal("no peer address for this request"))
    }
}
