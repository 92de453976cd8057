//! Proving the endpoint serves the new certificate: a TLS handshake with SNI, then the
//! served leaf's SHA-256 compared with the one issued. Trust is not the question here
//! (the fingerprint is), so the handshake accepts any chain but still checks the
//! server's handshake signature with the leaf's key.

use crate::lifecycle::{Category, Diagnosis};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::io::Write;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// Parses `host:port` (IPv6 as `[::1]:443`).
pub fn parse_addr(s: &str) -> Result<(String, u16), String> {
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("{s:?} is not host:port"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("{s:?}: {port:?} is not a port number"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("{s:?} has no host"));
    }
    Ok((host.to_string(), port))
}

/// How hard to try before calling a mismatch a failure: servers reload gracefully, so
/// the old certificate may be served for a moment after the reload returns.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub attempts: u32,
    pub interval: Duration,
    pub timeout: Duration,
}

impl Default for Window {
    fn default() -> Self {
        Window {
            attempts: 10,
            interval: Duration::from_millis(500),
            timeout: Duration::from_secs(5),
        }
    }
}

/// The SHA-256 (lowercase hex) of the leaf `addr` serves for `sni`.
pub fn served_fingerprint(addr: &str, sni: &str, timeout: Duration) -> Result<String, Diagnosis> {
    let unreachable = |m: String| Diagnosis::new(Category::VerifyUnreachable, m);
    let (host, port) = parse_addr(addr).map_err(unreachable)?;
    let sock: SocketAddr = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| Diagnosis::new(Category::Dns, format!("resolving {host}: {e}")))?
        .next()
        .ok_or_else(|| Diagnosis::new(Category::Dns, format!("{host} resolves to nothing")))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| unreachable(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyChain(provider)))
        .with_no_client_auth();
    let name = ServerName::try_from(sni.to_string())
        .map_err(|e| unreachable(format!("{sni:?} cannot be sent as SNI: {e}")))?;
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name)
        .map_err(|e| unreachable(e.to_string()))?;
    let mut tcp = TcpStream::connect_timeout(&sock, timeout)
        .map_err(|e| unreachable(format!("connecting to {addr}: {e}")))?;
    let _ = tcp.set_read_timeout(Some(timeout));
    let _ = tcp.set_write_timeout(Some(timeout));
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp)
            .map_err(|e| unreachable(format!("TLS handshake with {addr} (SNI {sni}): {e}")))?;
    }
    let leaf = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .ok_or_else(|| unreachable(format!("{addr} sent no certificate")))?;
    let fp = crate::x509::sha256_hex(leaf.as_ref());
    conn.send_close_notify();
    let _ = conn.complete_io(&mut tcp);
    let _ = tcp.flush();
    Ok(fp)
}

/// Succeeds once `addr` serves `expected`; retries within `window`. Still another
/// certificate at the end is `verify_mismatch` ("issued but not served").
pub fn served(addr: &str, sni: &str, expected: &str, window: Window) -> Result<(), Diagnosis> {
    let mut last = None;
    for i in 0..window.attempts.max(1) {
        if i > 0 {
            std::thread::sleep(window.interval);
        }
        match served_fingerprint(addr, sni, window.timeout) {
            Ok(fp) if fp == expected => {
                // Old workers of a gracefully reloading server may still answer for a
                // moment: the new certificate must be served on consecutive handshakes.
                let stable = (0..2).all(|_| {
                    served_fingerprint(addr, sni, window.timeout).is_ok_and(|f| f == expected)
                });
                if stable {
                    return Ok(());
                }
                last = Some(Diagnosis::new(
                    Category::VerifyMismatch,
                    format!("{addr} (SNI {sni}) serves the new certificate only on some connections"),
                ));
            }
            Ok(fp) => {
                last = Some(Diagnosis::new(
                    Category::VerifyMismatch,
                    format!(
                        "{addr} (SNI {sni}) serves {} but the new certificate is {}: issued but not served",
                        &fp[..16],
                        &expected[..16.min(expected.len())]
                    ),
                ))
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.expect("at least one attempt"))
}

#[derive(Debug)]
struct AnyChain(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyChain {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_with_ports() {
        assert_eq!(
            parse_addr("127.0.0.1:8443").unwrap(),
            ("127.0.0.1".into(), 8443)
        );
        assert_eq!(parse_addr("[::1]:443").unwrap(), ("::1".into(), 443));
        assert!(parse_addr("host").is_err());
        assert!(parse_addr("host:http").is_err());
    }

    #[test]
    fn a_closed_port_is_verify_unreachable() {
        // Bind then drop to get a port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = served(
            &format!("127.0.0.1:{port}"),
            "www.example.test",
            "00",
            Window {
                attempts: 1,
                interval: Duration::ZERO,
                timeout: Duration::from_secs(1),
            },
        )
        .unwrap_err();
        assert_eq!(e.category, Category::VerifyUnreachable);
    }
}
