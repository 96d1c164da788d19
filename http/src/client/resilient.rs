//! A request sent through the client's resilience tools — retry → circuit breaker →
//! bulkhead → the request, the order `keel_runtime::resilience` recommends — with each
//! attempt's outcome classified: which failures are worth another attempt, which count
//! against the breaker, and how long the server asked us to wait (`Retry-After`).
//!
//! | outcome | retried | breaker failure |
//! |---|---|---|
//! | connect failure or timeout | yes | yes |
//! | request or breaker timeout, reset before the response | idempotent methods | yes |
//! | 429, 503 (with `Retry-After` honoured) | yes | yes |
//! | 502, 504 | idempotent methods | yes |
//! | other 5xx | no | yes |
//! | 4xx other than 429, 1xx–3xx | no (a success) | no |
//! | any other error (bad response, body limit, bad URL) | no | no |
//!
//! When the attempts run out, the last outcome is returned as it was: a response for a
//! status (a 503 stays a 503 [`Response`]), else the error.

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use keel_runtime::resilience::{Error, Transient};

use super::builder::Resilience;
use super::error::{ClientError, TimeoutPhase};
use super::exchange::Exchange;
use super::inner::Inner;
use super::response::Response;
use crate::proto::method::Method;

/// One attempt that did not give a final answer.
pub(crate) struct Failure {
    outcome: Outcome,
    transient: bool,
    retry_after: Option<Duration>,
}

enum Outcome {
    Error(ClientError),
    /// A 429 or 5xx response (boxed: a response is large, an error small).
    Status(Box<Response>),
}

impl Transient for Failure {
    fn is_transient(&self) -> bool {
        self.transient
    }

    fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

impl Failure {
    /// Whether the breaker counts it: the dependency failed (not our request).
    fn is_breaker_failure(&self) -> bool {
        match &self.outcome {
            Outcome::Status(_) => true,
            Outcome::Error(e) => e.is_transient(),
        }
    }

    fn into_result(self) -> Result<Response, ClientError> {
        match self.outcome {
            Outcome::Status(res) => Ok(*res),
            Outcome::Error(e) => Err(e),
        }
    }
}

/// Sends `exchange` through the client's tools.
pub(crate) async fn send(
    exchange: Exchange,
    client: &Rc<Inner>,
    start: Instant,
) -> Result<Response, ClientError> {
    let tools = client
        .config
        .resilience
        .as_ref()
        .expect("resilient::send needs tools");
    let ex = &exchange;
    let result = match &tools.retry {
        Some(retry) => retry
            .run(|| guarded(ex, client, start, tools))
            .await
            .map_err(Error::flatten),
        None => guarded(ex, client, start, tools).await,
    };
    match result {
        Ok(res) => Ok(res),
        Err(Error::Inner { source, .. } | Error::BudgetExhausted { last: source, .. }) => {
            source.into_result()
        }
        Err(Error::Open { dependency }) => Err(ClientError::CircuitOpen(dependency)),
        Err(Error::Full { dependency }) => Err(ClientError::BulkheadFull(dependency)),
        Err(Error::TimedOut { .. }) => Err(ClientError::Timeout(TimeoutPhase::Breaker)),
    }
}

/// One attempt through the breaker (if any) and the bulkhead (if any).
async fn guarded(
    ex: &Exchange,
    client: &Rc<Inner>,
    start: Instant,
    tools: &Resilience,
) -> Result<Response, Error<Failure>> {
    match &tools.breaker {
        Some(breaker) => breaker
            .call_filtered(
                |e: &Error<Failure>| match e {
                    Error::Inner { source, .. } => source.is_breaker_failure(),
                    _ => false,
                },
                || bulkheaded(ex, client, start, tools),
            )
            .await
            .map_err(Error::flatten),
        None => bulkheaded(ex, client, start, tools).await,
    }
}

async fn bulkheaded(
    ex: &Exchange,
    client: &Rc<Inner>,
    start: Instant,
    tools: &Resilience,
) -> Result<Response, Error<Failure>> {
    match &tools.bulkhead {
        Some(bulkhead) => bulkhead.call(|| attempt(ex, client, start)).await,
        None => attempt(ex, client, start)
            .await
            .map_err(|source| Error::Inner {
                dependency: Arc::from(""),
                source,
            }),
    }
}

/// Sends the request once (following redirects as configured) and classifies the
/// outcome.
async fn attempt(ex: &Exchange, client: &Rc<Inner>, start: Instant) -> Result<Response, Failure> {
    let idempotent = matches!(
        ex.method(),
        Method::Get | Method::Head | Method::Put | Method::Delete | Method::Options | Method::Trace
    );
    match ex.clone().follow(client, start).await {
        Ok(res) => {
            let status = res.status().as_u16();
            if status != 429 && status < 500 {
                return Ok(res);
            }
            let transient = match status {
                429 | 503 => true,
                502 | 504 => idempotent,
                _ => false,
            };
            let retry_after = res
                .header("retry-after")
                .and_then(|v| parse_retry_after(v, SystemTime::now()));
            Err(Failure {
                outcome: Outcome::Status(Box::new(res)),
                transient,
                retry_after,
            })
        }
        Err(e) => Err(Failure {
            transient: e.is_transient() && (idempotent || e.is_connect()),
            outcome: Outcome::Error(e),
            retry_after: None,
        }),
    }
}

/// A `Retry-After` value (RFC 9110 §10.2.3): delay-seconds, or an HTTP-date (IMF-fixdate,
/// `Sun, 06 Nov 1994 08:49:37 GMT`) turned into the wait from `now` (zero when past).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse().ok().map(Duration::from_secs);
    }
    let at = crate::proto::date::parse(value)?;
    let now = now.duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(at.saturating_sub(now)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        for bad in ["", "-1", "1.5", "soon", "Sunday, 06-Nov-94 08:49:37 GMT"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }
}
