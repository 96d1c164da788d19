//! `ServeDir` and `ServeFile` over a real socket, with peers Keel did not write: curl
//! (types and validators, `304`s from `If-None-Match` and `If-Modified-Since`, `412`,
//! ranges with `206` and `416`, precompressed siblings decoded by curl's own brotli and
//! gzip, directories, the SPA fallback, a large file streamed), Python's `requests`
//! (conditional and range requests), and raw sockets for path traversal (curl would
//! normalize `..`): `..`, `%2e%2e`, `%2f`, backslashes, NUL and symlinks out of the root,
//! each a test that also checks the secret's bytes never come back; and the same
//! files over HTTP/2 (curl, prior knowledge).

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use keel_http::static_files::{ServeDir, ServeFile};
use keel_http::{Router, ServerConfig};
use keel_testkit::TestServer;
use keel_testkit::client::{Client, Response};

const SECRET: &str = "TOP-SECRET-OUTSIDE-THE-ROOT";
const INDEX: &str = "<!doctype html><title>home</title>";
const APP_JS: &str = "console.log('the original, uncompressed script');\n";
/// Above the 64 KiB read-whole size: streamed.
const BIG_LEN: usize = 1_000_003;

/// The files, made once per test process: `<tmp>/root` is served, `<tmp>/secret.txt`
/// and `<tmp>/outside/` are not, and symlinks in the root point at them.
fn fixture() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("keel-static-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let root = dir.join("root");
        std::fs::create_dir_all(root.join("docs")).unwrap();
        std::fs::create_dir_all(root.join("empty")).unwrap();
        std::fs::create_dir_all(dir.join("outside")).unwrap();
        std::fs::write(dir.join("secret.txt"), SECRET).unwrap();
        std::fs::write(dir.join("outside/secret.txt"), SECRET).unwrap();
        std::fs::write(root.join("index.html"), INDEX).unwrap();
        std::fs::write(root.join("docs/index.html"), "docs index").unwrap();
        std::fs::write(root.join("style.CSS"), "body{}").unwrap();
        std::fs::write(root.join("app.js"), APP_JS).unwrap();
        std::fs::write(root.join("app.js.gz"), gzip(APP_JS.as_bytes())).unwrap();
        std::fs::write(root.join("app.js.br"), brotli(APP_JS.as_bytes())).unwrap();
        std::fs::write(root.join("big.bin"), big()).unwrap();
        std::os::unix::fs::symlink(dir.join("secret.txt"), root.join("leak.txt")).unwrap();
        std::os::unix::fs::symlink(dir.join("outside"), root.join("leakdir")).unwrap();
        std::os::unix::fs::symlink(root.join("app.js"), root.join("alias.js")).unwrap();
        dir
    })
}

fn root() -> PathBuf {
    fixture().join("root")
}

fn big() -> Vec<u8> {
    (0..BIG_LEN).map(|i| (i * 7 % 251) as u8).collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn brotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut writer = brotli::CompressorWriter::new(&mut out, 4096, 11, 22);
    writer.write_all(data).unwrap();
    drop(writer);
    out
}

fn server() -> TestServer {
    let root = root();
    TestServer::start(ServerConfig::default(), move || {
        let assets = ServeDir::new(&root)
            .precompressed_br()
            .precompressed_gzip()
            .cache_control("public, max-age=60");
        let spa = Router::new().fallback(ServeDir::new(&root).spa_fallback(true));
        Router::new()
            .get("/api", || async { "api" })
            .get("/static/*path", assets)
            .get(
                "/one",
                ServeFile::new(root.join("app.js")).precompressed_gzip(),
            )
            .nest("/spa", spa)
    })
}

/// curl's status, head (names lowercased) and body for `path` with `args`.
fn curl(addr: SocketAddr, args: &[&str], path: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let dir = fixture().join(format!("curl-{}", rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    let (head, body) = (dir.join("head"), dir.join("body"));
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20", "-o"])
        .arg(&body)
        .arg("-D")
        .arg(&head)
        .args(args)
        .arg(format!("http://{addr}{path}"))
        .output()
        .expect("curl runs (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let head = std::fs::read_to_string(head).unwrap();
    let body = std::fs::read(body).unwrap_or_default();
    // With -L, the head file holds every response's head: read the last.
    let last = head.rfind("HTTP/").unwrap();
    let mut lines = head[last..].lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body)
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn types_validators_and_headers_with_curl() {
    let server = server();
    let (status, head, body) = curl(server.addr, &[], "/static/index.html");
    assert_eq!(status, 200);
    assert_eq!(body, INDEX.as_bytes());
    assert_eq!(
        header(&head, "content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(header(&head, "accept-ranges"), Some("bytes"));
    assert_eq!(header(&head, "cache-control"), Some("public, max-age=60"));
    assert_eq!(header(&head, "vary"), Some("accept-encoding"));
    let etag = header(&head, "etag").unwrap();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert!(header(&head, "last-modified").unwrap().ends_with(" GMT"));
    let (_, head, _) = curl(server.addr, &[], "/static/style.CSS");
    assert_eq!(
        header(&head, "content-type"),
        Some("text/css; charset=utf-8")
    );
    let (_, head, _) = curl(server.addr, &[], "/static/big.bin");
    assert_eq!(
        header(&head, "content-type"),
        Some("application/octet-stream")
    );
    // A symlink inside the root to a file inside it is served.
    let (status, _, body) = curl(server.addr, &[], "/static/alias.js");
    assert_eq!((status, body), (200, APP_JS.as_bytes().to_vec()));
    let (status, _, body) = curl(server.addr, &[], "/one");
    assert_eq!((status, body), (200, APP_JS.as_bytes().to_vec()));
    let (status, _, _) = curl(server.addr, &[], "/static/missing.txt");
    assert_eq!(status, 404);
}

#[test]
fn conditional_requests_answer_304_and_412_with_curl() {
    let server = server();
    let (_, head, _) = curl(server.addr, &[], "/static/app.js");
    let etag = header(&head, "etag").unwrap().to_owned();
    let modified = header(&head, "last-modified").unwrap().to_owned();

    let inm = format!("If-None-Match: {etag}");
    let (status, head, body) = curl(server.addr, &["-H", &inm], "/static/app.js");
    assert_eq!(status, 304);
    assert!(body.is_empty());
    assert_eq!(header(&head, "etag"), Some(etag.as_str()));
    let weak = format!("If-None-Match: \"nope\", W/{etag}");
    assert_eq!(curl(server.addr, &["-H", &weak], "/static/app.js").0, 304);
    let other = "If-None-Match: \"something-else\"";
    assert_eq!(curl(server.addr, &["-H", other], "/static/app.js").0, 200);

    // curl -z sends If-Modified-Since.
    assert_eq!(
        curl(server.addr, &["-z", &modified], "/static/app.js").0,
        304
    );
    let old = "Sun, 06 Nov 1994 08:49:37 GMT";
    assert_eq!(curl(server.addr, &["-z", old], "/static/app.js").0, 200);
    // If-None-Match wins over If-Modified-Since.
    let ims = format!("If-Modified-Since: {modified}");
    let args = ["-H", other, "-H", ims.as_str()];
    assert_eq!(curl(server.addr, &args, "/static/app.js").0, 200);

    let if_match = "If-Match: \"something-else\"";
    assert_eq!(
        curl(server.addr, &["-H", if_match], "/static/app.js").0,
        412
    );
    let if_match = format!("If-Match: {etag}");
    assert_eq!(
        curl(server.addr, &["-H", &if_match], "/static/app.js").0,
        200
    );
}

#[test]
fn ranges_answer_206_and_416_with_curl() {
    let server = server();
    let big = big();
    let (status, head, body) = curl(server.addr, &["-r", "0-99"], "/static/big.bin");
    assert_eq!(status, 206);
    assert_eq!(body, big[..100]);
    let range = format!("bytes 0-99/{BIG_LEN}");
    assert_eq!(header(&head, "content-range"), Some(range.as_str()));
    assert_eq!(header(&head, "content-length"), Some("100"));

    // A range across several 64 KiB chunks of the streamed file.
    let (status, _, body) = curl(server.addr, &["-r", "100000-299999"], "/static/big.bin");
    assert_eq!(status, 206);
    assert_eq!(body, big[100_000..300_000]);
    // A suffix range, and an open-ended one.
    let (status, _, body) = curl(server.addr, &["-r", "-10"], "/static/big.bin");
    assert_eq!((status, body), (206, big[BIG_LEN - 10..].to_vec()));
    let (status, _, body) = curl(server.addr, &["-r", "999990-"], "/static/big.bin");
    assert_eq!((status, body), (206, big[999_990..].to_vec()));
    // On a small file (read whole).
    let (status, _, body) = curl(server.addr, &["-r", "8-10"], "/static/app.js");
    assert_eq!((status, body), (206, APP_JS.as_bytes()[8..11].to_vec()));

    let (status, head, _) = curl(server.addr, &["-r", "2000000-"], "/static/big.bin");
    assert_eq!(status, 416);
    let star = format!("bytes */{BIG_LEN}");
    assert_eq!(header(&head, "content-range"), Some(star.as_str()));

    // Several ranges: the whole file, 200.
    let (status, _, body) = curl(server.addr, &["-r", "0-1,5-6"], "/static/app.js");
    assert_eq!((status, body), (200, APP_JS.as_bytes().to_vec()));
    // An If-Range that no longer matches: the whole file.
    let args = ["-r", "0-1", "-H", "If-Range: \"stale\""];
    let (status, _, body) = curl(server.addr, &args, "/static/app.js");
    assert_eq!((status, body), (200, APP_JS.as_bytes().to_vec()));
}

#[test]
fn a_large_file_streams_whole_with_its_length() {
    let server = server();
    let (status, head, body) = curl(server.addr, &[], "/static/big.bin");
    assert_eq!(status, 200);
    assert_eq!(header(&head, "content-length"), Some("1000003"));
    assert_eq!(header(&head, "transfer-encoding"), None);
    assert!(body == big(), "the streamed body differs");
    // HEAD gets the length too (curl -I writes the head where the body would go).
    let (status, head, _) = curl(server.addr, &["-I"], "/static/big.bin");
    assert_eq!(status, 200);
    assert_eq!(header(&head, "content-length"), Some("1000003"));
    // Keep-alive holds across a streamed file: two on one connection.
    let mut client = Client::connect(server.addr);
    for _ in 0..2 {
        let res = client.get("/static/big.bin");
        assert_eq!(res.status, 200);
        assert_eq!(res.body.len(), BIG_LEN);
        assert!(!res.chunked);
    }
}

#[test]
fn precompressed_siblings_follow_accept_encoding_with_curl() {
    let server = server();
    let js = "/static/app.js";
    let (status, head, body) = curl(server.addr, &["-H", "Accept-Encoding: br"], js);
    assert_eq!(status, 200);
    assert_eq!(header(&head, "content-encoding"), Some("br"));
    assert_eq!(
        header(&head, "content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(header(&head, "vary"), Some("accept-encoding"));
    assert_eq!(body, brotli(APP_JS.as_bytes()));
    let br_etag = header(&head, "etag").unwrap().to_owned();

    let (_, head, body) = curl(server.addr, &["-H", "Accept-Encoding: gzip"], js);
    assert_eq!(header(&head, "content-encoding"), Some("gzip"));
    assert_eq!(body, gzip(APP_JS.as_bytes()));
    assert_ne!(header(&head, "etag"), Some(br_etag.as_str()));
    let prefer_gzip = "Accept-Encoding: br;q=0.5, gzip";
    let (_, head, _) = curl(server.addr, &["-H", prefer_gzip], js);
    assert_eq!(header(&head, "content-encoding"), Some("gzip"));

    let (_, head, body) = curl(server.addr, &["-H", "Accept-Encoding: identity"], js);
    assert_eq!(header(&head, "content-encoding"), None);
    assert_eq!(header(&head, "vary"), Some("accept-encoding"));
    assert_eq!(body, APP_JS.as_bytes());

    // curl --compressed asks for both and decodes what it gets with its own brotli/zlib.
    let (_, head, body) = curl(server.addr, &["--compressed"], js);
    assert_eq!(header(&head, "content-encoding"), Some("br"));
    assert_eq!(body, APP_JS.as_bytes());
    // ServeFile with only gzip siblings on.
    let (_, head, body) = curl(server.addr, &["--compressed"], "/one");
    assert_eq!(header(&head, "content-encoding"), Some("gzip"));
    assert_eq!(body, APP_JS.as_bytes());
    // No sibling: the file as it is.
    let (_, head, _) = curl(server.addr, &["--compressed"], "/static/index.html");
    assert_eq!(header(&head, "content-encoding"), None);
}

#[test]
fn directories_answer_their_index_or_redirect() {
    let server = server();
    let (status, _, body) = curl(server.addr, &[], "/static/docs/");
    assert_eq!((status, body), (200, b"docs index".to_vec()));
    let (status, _, body) = curl(server.addr, &[], "/static/");
    assert_eq!((status, body), (200, INDEX.as_bytes().to_vec()));
    let (status, head, _) = curl(server.addr, &[], "/static/docs?x=1");
    assert_eq!(status, 308);
    assert_eq!(header(&head, "location"), Some("/static/docs/?x=1"));
    let (status, _, body) = curl(server.addr, &["-L"], "/static/docs");
    assert_eq!((status, body), (200, b"docs index".to_vec()));
    // A directory without an index, and a file named as a directory.
    assert_eq!(curl(server.addr, &[], "/static/empty/").0, 404);
    assert_eq!(curl(server.addr, &[], "/static/app.js/").0, 404);
}

#[test]
fn the_spa_fallback_answers_unknown_paths_with_the_index() {
    let server = server();
    let (status, head, body) = curl(server.addr, &[], "/spa/users/42/settings");
    assert_eq!((status, body), (200, INDEX.as_bytes().to_vec()));
    assert_eq!(
        header(&head, "content-type"),
        Some("text/html; charset=utf-8")
    );
    let (status, _, body) = curl(server.addr, &[], "/spa/app.js");
    assert_eq!((status, body), (200, APP_JS.as_bytes().to_vec()));
    // Routes beside it still win; a refused path is still refused.
    assert_eq!(curl(server.addr, &[], "/api").2, b"api");
    assert_eq!(
        curl(server.addr, &["--path-as-is"], "/spa/../secret.txt").0,
        400
    );
    // Mounted as a fallback it sees every method: only GET and HEAD are served.
    let (status, head, _) = curl(server.addr, &["-X", "POST"], "/spa/x");
    assert_eq!(status, 405);
    assert_eq!(header(&head, "allow"), Some("GET, HEAD"));
}

#[test]
fn python_requests_conditional_and_range() {
    let server = server();
    let script = r#"
import sys, requests
base = sys.argv[1]
r = requests.get(base + "/static/app.js", headers={"Accept-Encoding": "identity"})
assert r.status_code == 200, r.status_code
assert r.text == open(sys.argv[2]).read()
etag, modified = r.headers["ETag"], r.headers["Last-Modified"]
# The tag is the identity representation's: the gzip sibling has its own.
r2 = requests.get(base + "/static/app.js", headers={"If-None-Match": etag, "Accept-Encoding": "identity"})
assert r2.status_code == 304 and r2.content == b"", r2.status_code
r3 = requests.get(base + "/static/app.js", headers={"If-Modified-Since": modified})
assert r3.status_code == 304, r3.status_code
r4 = requests.get(base + "/static/big.bin", headers={"Range": "bytes=65530-65545"})
assert r4.status_code == 206, r4.status_code
assert r4.content == bytes((i * 7 % 251) for i in range(65530, 65546)), r4.content
assert r4.headers["Content-Range"] == "bytes 65530-65545/1000003"
r5 = requests.get(base + "/static/big.bin", headers={"Range": "bytes=5000000-"})
assert r5.status_code == 416 and r5.headers["Content-Range"] == "bytes */1000003"
r6 = requests.get(base + "/static/app.js")  # requests accepts gzip and decodes it
assert r6.headers.get("Content-Encoding") in ("gzip", "br") and r6.text == r.text
print("ok")
"#;
    let out = Command::new("timeout")
        .args(["30", "python3", "-c", script])
        .arg(format!("http://{}", server.addr))
        .arg(root().join("app.js"))
        .output()
        .expect("python3 runs (scripts/test.sh installs requests)");
    assert!(
        out.status.success(),
        "python requests failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Sends `GET <target>` as raw bytes (no client normalizes it) and reads the answer.
fn raw_get(server: &TestServer, target: &[u8]) -> Response {
    let mut client = Client::connect(server.addr);
    let mut request = b"GET ".to_vec();
    request.extend_from_slice(target);
    request.extend_from_slice(b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    client.request(request)
}

/// Each target is refused (`expect`) and the secret never comes back.
fn assert_refused(targets: &[&str], expect: u16) {
    let server = server();
    for target in targets {
        let res = raw_get(&server, target.as_bytes());
        assert_eq!(res.status, expect, "{target}: {}", res.text());
        assert!(
            !String::from_utf8_lossy(&res.body).contains(SECRET),
            "{target} leaked the secret"
        );
    }
}

#[test]
fn traversal_dot_dot_is_refused() {
    assert_refused(
        &[
            "/static/../secret.txt",
            "/static/docs/../../secret.txt",
            "/static/./app.js",
            "/spa/../secret.txt",
        ],
        400,
    );
}

#[test]
fn traversal_percent_encoded_dots_is_refused() {
    assert_refused(
        &[
            "/static/%2e%2e/secret.txt",
            "/static/%2E%2E/secret.txt",
            "/static/.%2e/secret.txt",
            "/static/docs/%2e%2e/%2e%2e/secret.txt",
        ],
        400,
    );
}

#[test]
fn traversal_encoded_slashes_is_refused() {
    assert_refused(
        &[
            "/static/..%2fsecret.txt",
            "/static/%2e%2e%2fsecret.txt",
            "/static/docs%2Findex.html",
            "/static/..%2F..%2Fsecret.txt",
        ],
        400,
    );
}

#[test]
fn traversal_backslashes_is_refused() {
    // A raw backslash in the request target is refused by the parser or by the static
    // files; either way a 400.
    assert_refused(
        &[
            "/static/..\\secret.txt",
            "/static/..%5csecret.txt",
            "/static/..%5C..%5Csecret.txt",
        ],
        400,
    );
}

#[test]
fn traversal_nul_bytes_are_refused() {
    assert_refused(&["/static/app.js%00.html", "/static/%00"], 400);
}

#[test]
fn traversal_symlinks_out_of_the_root_are_refused() {
    assert_refused(
        &[
            "/static/leak.txt",
            "/static/leakdir/secret.txt",
            "/static/leakdir/",
        ],
        404,
    );
    // Under the SPA fallback, a file outside the root is "nothing to serve": the index.
    let server = server();
    let res = raw_get(&server, b"/spa/leakdir/secret.txt");
    assert_eq!((res.status, res.text()), (200, INDEX));
    // curl, --path-as-is, for good measure.
    let (status, _, body) = curl(server.addr, &["--path-as-is"], "/static/../secret.txt");
    assert_eq!(status, 400);
    assert!(!String::from_utf8_lossy(&body).contains(SECRET));
}

#[test]
fn over_http2_with_curl() {
    let server = server();
    let h2 = ["--http2-prior-knowledge"];
    let (status, head, body) = curl(server.addr, &h2, "/static/big.bin");
    assert_eq!(status, 200);
    assert_eq!(header(&head, "content-length"), Some("1000003"));
    assert!(body == big(), "the streamed body differs over HTTP/2");
    let args = ["--http2-prior-knowledge", "-r", "70000-70009"];
    let (status, _, body) = curl(server.addr, &args, "/static/big.bin");
    assert_eq!((status, body), (206, big()[70_000..70_010].to_vec()));
    let args = ["--http2-prior-knowledge", "--compressed"];
    let (_, head, body) = curl(server.addr, &args, "/static/app.js");
    assert_eq!(header(&head, "content-encoding"), Some("br"));
    assert_eq!(body, APP_JS.as_bytes());
}
