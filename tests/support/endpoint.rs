//! A TLS endpoint in the test process that serves whatever certificate and key files a
//! deployment last wrote (read again on every connection), so a renewal's "served by"
//! check runs for real without nginx. It answers handshakes only.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Starts serving `cert` (leaf first, then its chain) with `key` on a loopback port;
/// returns the `host:port` to verify against. The thread ends with the test process.
pub fn serve_files(cert: PathBuf, key: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(mut tcp) = tcp else { continue };
            let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
            // Nothing deployed yet: drop the connection, as a server without a
            // certificate would fail the handshake.
            let Some(config) = config(&cert, &key) else {
                continue;
            };
            let Ok(mut conn) = rustls::ServerConnection::new(Arc::new(config)) else {
                continue;
            };
            while conn.is_handshaking() {
                if conn.complete_io(&mut tcp).is_err() {
                    break;
                }
            }
            let _ = conn.complete_io(&mut tcp);
        }
    });
    addr
}

fn config(cert: &Path, key: &Path) -> Option<rustls::ServerConfig> {
    let certs: Vec<_> = rustls_pemfile::certs(&mut std::io::BufReader::new(
        std::fs::File::open(cert).ok()?,
    ))
    .collect::<Result<_, _>>()
    .ok()?;
    let key =
        rustls_pemfile::private_key(&mut std::io::BufReader::new(std::fs::File::open(key).ok()?))
            .ok()??;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .ok()
}
