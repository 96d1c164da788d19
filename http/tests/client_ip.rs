//! The client's address behind proxies, over real sockets: `X-Forwarded-For` (or
//! `Forwarded`) is read only when the peer is a configured trusted proxy, right to left,
//! so entries a client wrote itself are ignored; the address found is the extractor's,
//! the rate limiter's key and the access log's `remote`.

use std::time::Duration;

use keel_http::middleware::{MemoryStore, RateLimit};
use keel_http::{ClientIp, ForwardedHeader, Router, ServerConfig, TrustedProxies};
use keel_testkit::logs::keel_log;
use keel_testkit::{TestServer, eventually};
use serde_json::Value;

/// The access log line of the request `request_id` (a loop hands its lines to the log
/// thread in batches when it parks, so the line may arrive just after the response).
fn access_line(request_id: &str) -> Value {
    let find = || {
        keel_log()
            .lines()
            .0
            .into_iter()
            .find(|l| l["request_id"] == request_id && l["target"] == "keel_http::access")
    };
    eventually(Duration::from_secs(10), find).unwrap_or_else(|| {
        let (_, text) = keel_log().lines();
        panic!("no access line for {request_id} in {text}")
    })
}

/// A server whose `/ip` answers the client address it sees, behind `proxies`.
fn server(proxies: &str, header: ForwardedHeader) -> TestServer {
    let proxies = TrustedProxies::parse(proxies).unwrap().header(header);
    let config = ServerConfig::default().trusted_proxies(proxies);
    TestServer::start(config, || {
        Router::new().get(
            "/ip",
            |ClientIp(ip): ClientIp| async move { ip.to_string() },
        )
    })
}

/// `GET path` with `headers`, the request id `id`.
fn get(
    server: &TestServer,
    path: &str,
    id: &str,
    headers: &[(&str, &str)],
) -> keel_testkit::Response {
    let mut all = vec![("X-Request-ID", id)];
    all.extend_from_slice(headers);
    server.connect().request_with("GET", path, &all)
}

fn ip_of(server: &TestServer, headers: &[(&str, &str)]) -> String {
    let res = get(server, "/ip", "ip-probe", headers);
    assert_eq!(res.status, 200, "{res:?}");
    res.text().to_owned()
}

#[test]
fn an_untrusted_peers_forwarding_headers_are_ignored() {
    // The test client connects from 127.0.0.1, which is not in the list.
    let server = server("10.0.0.0/8", ForwardedHeader::XForwardedFor);
    assert_eq!(ip_of(&server, &[]), "127.0.0.1");
    assert_eq!(
        ip_of(&server, &[("X-Forwarded-For", "203.0.113.5")]),
        "127.0.0.1"
    );
    assert_eq!(
        ip_of(&server, &[("Forwarded", "for=203.0.113.5")]),
        "127.0.0.1"
    );
    // And with no trusted proxies at all (the default).
    let open = TestServer::start(ServerConfig::default(), || {
        Router::new().get(
            "/ip",
            |ClientIp(ip): ClientIp| async move { ip.to_string() },
        )
    });
    assert_eq!(
        ip_of(&open, &[("X-Forwarded-For", "203.0.113.5")]),
        "127.0.0.1"
    );
}

#[test]
fn a_trusted_peers_x_forwarded_for_is_honoured_right_to_left() {
    keel_log();
    // The client connects from 127.0.0.1 (a trusted proxy); 10.0.0.0/8 are the inner
    // proxies.
    let server = server("loopback, 10.0.0.0/8", ForwardedHeader::XForwardedFor);
    assert_eq!(
        ip_of(&server, &[("X-Forwarded-For", "203.0.113.5")]),
        "203.0.113.5"
    );
    // Spoofed left-most entries are never read: the first untrusted from the right wins.
    assert_eq!(
        ip_of(
            &server,
            &[(
                "X-Forwarded-For",
                "1.1.1.1, 6.6.6.6, 198.51.100.7, 10.0.0.3"
            )]
        ),
        "198.51.100.7"
    );
    // Two header lines are one list.
    assert_eq!(
        ip_of(
            &server,
            &[
                ("X-Forwarded-For", "6.6.6.6, 198.51.100.7"),
                ("X-Forwarded-For", "10.0.0.3")
            ]
        ),
        "198.51.100.7"
    );
    // A malformed entry stops the walk at the trusted hop that passed it on.
    assert_eq!(
        ip_of(
            &server,
            &[("X-Forwarded-For", "6.6.6.6, not-an-ip, 10.0.0.3")]
        ),
        "10.0.0.3"
    );
    // No header: the peer.
    assert_eq!(ip_of(&server, &[]), "127.0.0.1");
    // `Forwarded` is not the configured header: ignored.
    assert_eq!(
        ip_of(&server, &[("Forwarded", "for=203.0.113.5")]),
        "127.0.0.1"
    );

    // The access log's `remote` is the client; `proxy` the peer that told us.
    let res = get(
        &server,
        "/ip",
        "xff-access-1",
        &[("X-Forwarded-For", "203.0.113.77")],
    );
    assert_eq!(res.status, 200);
    let line = access_line("xff-access-1");
    assert_eq!(line["remote"], "203.0.113.77", "{line}");
    assert!(
        line["proxy"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{line}"
    );
    let res = get(&server, "/ip", "xff-access-2", &[]);
    assert_eq!(res.status, 200);
    let line = access_line("xff-access-2");
    assert!(
        line["remote"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{line}"
    );
    assert!(line.get("proxy").is_none(), "{line}");
}

#[test]
fn a_trusted_peers_forwarded_header_is_honoured() {
    let server = server("127.0.0.1", ForwardedHeader::Forwarded);
    assert_eq!(
        ip_of(
            &server,
            &[(
                "Forwarded",
                "for=6.6.6.6, for=\"[2001:db8:cafe::17]:4711\";proto=https"
            )]
        ),
        "2001:db8:cafe::17"
    );
    assert_eq!(ip_of(&server, &[("Forwarded", "for=_hidden")]), "127.0.0.1");
    // `X-Forwarded-For` is not the configured header: ignored.
    assert_eq!(
        ip_of(&server, &[("X-Forwarded-For", "203.0.113.5")]),
        "127.0.0.1"
    );
}

#[test]
fn the_rate_limiter_counts_per_forwarded_client_and_spoofing_does_not_escape_it() {
    let store = MemoryStore::new();
    let proxies = TrustedProxies::parse("127.0.0.1").unwrap();
    let config = ServerConfig::default().trusted_proxies(proxies);
    let server = TestServer::start(config, move || {
        let limit = RateLimit::builder(store.clone(), 2, Duration::from_secs(600))
            .build()
            .unwrap();
        Router::new().get("/", || async { "ok" }).layer(limit)
    });
    let status = |xff: &str| get(&server, "/", "rl", &[("X-Forwarded-For", xff)]).status;
    assert_eq!(status("198.51.100.1"), 200);
    // A different left-most (spoofed) entry is still the same client.
    assert_eq!(status("6.6.6.6, 198.51.100.1"), 200);
    assert_eq!(status("7.7.7.7, 198.51.100.1"), 429);
    // Another client has its own count.
    assert_eq!(status("198.51.100.2"), 200);
    // Requests with no header count under the proxy itself.
    assert_eq!(get(&server, "/", "rl", &[]).status, 200);
}
