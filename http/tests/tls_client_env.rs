//! `KEEL_CLIENT_CA` honoured by a client built with the defaults: with the test CA named
//! by the variable, `Client::new()` verifies Keel's TLS server; `Config::from_env`
//! accepts the file. One test in this binary, so nothing else reads the environment
//! while it is set (and the client's process-wide copy of the variable is read after).

use std::path::PathBuf;
use std::process::Command;

use keel_http::client::Client;
use keel_http::{Config, RemoteAddr, Router, ServerConfig, TlsConfig};
use keel_testkit::TestServer;

/// A CA and a `localhost` certificate it signed, made by the `openssl` command.
fn certs() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("keel-client-ca-env-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    let script = format!(
        "openssl req -x509 -days 2 -subj '/CN=Env Test CA' {ec} -keyout ca.key -out ca.pem \
           -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
         && openssl req -subj /CN=localhost {ec} -keyout server.key -out server.csr \
         && printf 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n' > ext.cnf \
         && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
           -days 2 -extfile ext.cnf -out server.pem"
    );
    let out = Command::new("sh")
        .args(["-c", &script])
        .current_dir(&dir)
        .output()
        .expect("sh and the openssl command");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

#[test]
fn keel_client_ca_is_trusted_by_default_clients() {
    let dir = certs();
    // SAFETY: this binary's only test runs on one thread and no other thread reads or
    // writes the environment while it does (set before the server's threads start).
    unsafe { std::env::set_var("KEEL_CLIENT_CA", dir.join("ca.pem")) };
    let tls = TlsConfig::from_pem_files(dir.join("server.pem"), dir.join("server.key")).unwrap();
    let server = TestServer::start(ServerConfig::default().tls(Some(tls)), || {
        Router::new().get("/", |RemoteAddr(_): RemoteAddr| async { "trusted" })
    });
    assert!(Config::from_env().is_ok());
    let url = format!("https://localhost:{}/", server.addr.port());
    let body = keel_runtime::block_on(async move {
        let res = Client::new().get(&url).send().await?;
        res.text().await
    })
    .expect("the CA named by KEEL_CLIENT_CA is trusted");
    assert_eq!(body, "trusted");
    let _ = std::fs::remove_dir_all(&dir);
}
