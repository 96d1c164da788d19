//! Cookies over a real socket with curl (its cookie engine, `-c`/`-b` jar files, as a
//! peer Keel did not write): a signed session cookie with Keel's secure defaults that
//! curl stores and sends back, refused once its value is tampered with in curl's jar; a
//! private cookie whose value never shows in the jar; a plain cookie whose value is
//! percent-encoded; removal. The key comes from a `KEEL_COOKIE_KEY`-style value.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use keel_http::config::parse_cookie_key;
use keel_http::{
    CookieJar, Form, PrivateCookieJar, Router, ServerConfig, SignedCookieJar, StatusCode,
    secure_cookie,
};
use keel_testkit::TestServer;
use serde::Deserialize;

/// 64 bytes, base64: what `openssl rand -base64 64` prints.
const KEY: &str =
    "q1x4n1Yx3m0pJg2cH0a7b9sKXlq3Q0m5yL2rT8eW6uV1oI9pA4sD7fG2hJ5kL8zX0cV3bN6mQ1wE4rT7yU0iOw==";

#[derive(Deserialize)]
struct Login {
    user: String,
}

fn app() -> Router {
    let key = parse_cookie_key("KEEL_COOKIE_KEY", KEY).expect("a valid key");
    Router::new()
        .post(
            "/login",
            |jar: SignedCookieJar, Form(login): Form<Login>| async move {
                (jar.add(secure_cookie("user", login.user)), "welcome")
            },
        )
        .get("/me", |jar: SignedCookieJar| async move {
            match jar.get("user") {
                Some(user) => (StatusCode::OK, user.value().to_owned()),
                None => (StatusCode::UNAUTHORIZED, "nobody".to_owned()),
            }
        })
        .post("/logout", |jar: SignedCookieJar| async move {
            (jar.remove("user"), "bye")
        })
        .post("/prefs", |jar: PrivateCookieJar| async move {
            (jar.add(secure_cookie("theme", "midnight-blue")), "saved")
        })
        .get("/prefs", |jar: PrivateCookieJar| async move {
            jar.get("theme")
                .map_or("none".to_owned(), |c| c.value().to_owned())
        })
        .get("/note", |jar: CookieJar| async move {
            let seen = jar.get("note").map(|c| c.value().to_owned());
            (
                jar.add(secure_cookie("note", "a b;c,d")),
                seen.unwrap_or_default(),
            )
        })
        .with_state(key)
}

/// Runs curl on `path` (through `localhost`, which curl lets `Secure` cookies use over
/// plain HTTP), reading and writing the cookie jar file `jar`; returns the status, the
/// response head and the body.
fn curl(addr: SocketAddr, jar: &Path, args: &[&str], path: &str) -> (u16, String, String) {
    let url = format!("http://localhost:{}{path}", addr.port());
    let resolve = format!("localhost:{}:127.0.0.1", addr.port());
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "-D", "-", "--resolve", &resolve])
        .arg("-b")
        .arg(jar)
        .arg("-c")
        .arg(jar)
        .args(args)
        .arg(&url)
        .output()
        .expect("curl runs (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "curl {args:?} {path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head");
    let status = head[9..12].parse().expect("a status");
    (status, head.to_owned(), body.to_owned())
}

fn jar_file(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("keel-cookies-{}-{name}.txt", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

#[test]
fn a_signed_session_cookie_round_trips_through_curl_and_resists_tampering() {
    let server = TestServer::start(ServerConfig::default(), app);
    let jar = jar_file("signed");
    assert_eq!(curl(server.addr, &jar, &[], "/me").0, 401);

    let (status, head, body) = curl(server.addr, &jar, &["-d", "user=ada"], "/login");
    assert_eq!((status, body.as_str()), (200, "welcome"));
    let set_cookie = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie: user="))
        .expect("a Set-Cookie for user");
    for attribute in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let (status, _, body) = curl(server.addr, &jar, &[], "/me");
    assert_eq!((status, body.as_str()), (200, "ada"));

    // Change the value in curl's jar, keeping the signature: the cookie reads as absent.
    let stored = std::fs::read_to_string(&jar).unwrap();
    assert!(stored.contains("ada"), "{stored}");
    std::fs::write(&jar, stored.replace("ada", "eve")).unwrap();
    assert_eq!(curl(server.addr, &jar, &[], "/me").0, 401);

    // Logging in again and out: curl drops the expired cookie.
    curl(server.addr, &jar, &["-d", "user=ada"], "/login");
    assert_eq!(curl(server.addr, &jar, &[], "/me").2, "ada");
    curl(server.addr, &jar, &["-X", "POST"], "/logout");
    assert!(!std::fs::read_to_string(&jar).unwrap().contains("\tuser\t"));
    assert_eq!(curl(server.addr, &jar, &[], "/me").0, 401);
    let _ = std::fs::remove_file(&jar);
}

#[test]
fn a_private_cookie_is_unreadable_in_the_jar_and_plain_values_are_encoded() {
    let server = TestServer::start(ServerConfig::default(), app);
    let jar = jar_file("private");
    assert_eq!(curl(server.addr, &jar, &[], "/prefs").2, "none");
    assert_eq!(
        curl(server.addr, &jar, &["-X", "POST"], "/prefs").2,
        "saved"
    );
    let stored = std::fs::read_to_string(&jar).unwrap();
    assert!(stored.contains("\ttheme\t"), "{stored}");
    assert!(
        !stored.contains("midnight"),
        "the value is encrypted: {stored}"
    );
    assert_eq!(curl(server.addr, &jar, &[], "/prefs").2, "midnight-blue");

    // A value with a space, a semicolon and a comma goes out percent-encoded and comes
    // back decoded.
    let (_, head, body) = curl(server.addr, &jar, &[], "/note");
    assert_eq!(body, "");
    assert!(head.contains("note=a%20b%3Bc%2Cd"), "{head}");
    assert_eq!(curl(server.addr, &jar, &[], "/note").2, "a b;c,d");
    let _ = std::fs::remove_file(&jar);
}
