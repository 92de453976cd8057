//! The Vault connector against a local HTTP server that speaks Vault's documented PKI
//! shapes (`POST /v1/:mount/sign/:role`, `issue/:role`, `revoke`; `X-Vault-Token`;
//! `{"data": {...}}` on success, `{"errors": [...]}` with 400/403 on refusal).

#[path = "support/servers.rs"]
mod servers;

use certdeck::ca::Standard;
use certdeck::lifecycle::estate::Estate;
use certdeck::lifecycle::{Category, JobState};
use certdeck::ops::lifecycle::{self as lc, RunOptions};
use certdeck::testing;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, IsCa, Issuer, KeyPair,
};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use time::macros::datetime;

const TOKEN: &str = "s.test-token";

/// A fake Vault: signs CSRs for names under example.test with its own CA, remembers
/// revoked serials.
struct FakeVault {
    port: u16,
    revoked: Arc<Mutex<Vec<String>>>,
}

fn start_vault() -> FakeVault {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let revoked = Arc::new(Mutex::new(Vec::new()));
    let rv = revoked.clone();
    std::thread::spawn(move || {
        let ca_key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "Fake Vault Intermediate");
        let ca_pem = p.self_signed(&ca_key).unwrap().pem();
        let issuer = Issuer::new(p, ca_key);
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let (mut len, mut token) = (0usize, String::new());
            loop {
                let mut h = String::new();
                r.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                let (k, v) = h.split_once(':').unwrap_or(("", ""));
                match k.to_ascii_lowercase().as_str() {
                    "content-length" => len = v.trim().parse().unwrap_or(0),
                    "x-vault-token" => token = v.trim().to_string(),
                    _ => {}
                }
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let (status, out) = if token != TOKEN {
                (403, json!({"errors": ["permission denied"]}))
            } else if path == "/v1/pki/revoke" {
                rv.lock()
                    .unwrap()
                    .push(req["serial_number"].as_str().unwrap_or("").to_string());
                (200, json!({"data": {"revocation_time": 1}}))
            } else if path == "/v1/pki/sign/web" || path == "/v1/pki/issue/web" {
                let cn = req["common_name"].as_str().unwrap_or("");
                if cn.starts_with("forbidden.") {
                    (
                        400,
                        json!({"errors": [format!("common name {cn} not allowed by this role")]}),
                    )
                } else if path.contains("/sign/") {
                    let mut csr =
                        CertificateSigningRequestParams::from_pem(req["csr"].as_str().unwrap())
                            .unwrap();
                    let now = time::OffsetDateTime::now_utc();
                    csr.params.not_before = now;
                    csr.params.not_after = now + time::Duration::days(30);
                    let cert = csr.signed_by(&issuer).unwrap();
                    (
                        200,
                        json!({"data": {"certificate": cert.pem(), "issuing_ca": ca_pem, "ca_chain": [ca_pem], "serial_number": "00"}}),
                    )
                } else {
                    let key = KeyPair::generate().unwrap();
                    let mut params = CertificateParams::new(vec![cn.to_string()]).unwrap();
                    let now = time::OffsetDateTime::now_utc();
                    params.not_before = now;
                    params.not_after = now + time::Duration::days(30);
                    let cert = params.signed_by(&key, &issuer).unwrap();
                    (
                        200,
                        json!({"data": {"certificate": cert.pem(), "issuing_ca": ca_pem, "private_key": key.serialize_pem(), "private_key_type": "ec"}}),
                    )
                }
            } else {
                (404, json!({"errors": []}))
            };
            let text = out.to_string();
            let _ = write!(s, "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}", text.len());
        }
    });
    FakeVault { port, revoked }
}

fn estate(dir: &Path, vault: &FakeVault, token_ref: &str, endpoint: &str, san: &str) -> Estate {
    let d = dir.display();
    let text = format!(
        r#"
[[owner]]
name = "platform"
[[authority]]
name = "vault"
kind = "vault"
url = "http://127.0.0.1:{port}"
role = "web"
endpoint = "{endpoint}"
environment = "prod"
credential = "{token_ref}"
[[identity]]
name = "api"
owner = "platform"
profile = "test-tls"
environment = "prod"
authority = "vault"
sans = ["{san}"]
[[identity.target]]
cert = "{d}/api.pem"
key = "{d}/api.key"
"#,
        port = vault.port
    );
    Estate::parse(&text, Path::new("vault.toml")).unwrap()
}

fn token_file(dir: &Path, token: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join("vault-token");
    std::fs::write(&p, format!("{token}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    format!("file:{}", p.display())
}

#[test]
fn vault_signs_our_csr_and_revokes_by_serial() {
    let vault = start_vault();
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, _clock, alice) = testing::ctx_at(datetime!(2026-06-01 0:00 UTC));
    servers::load_test_profile(&mut ctx, &alice);
    let token = token_file(dir.path(), TOKEN);
    lc::apply_estate(
        &mut ctx,
        &alice,
        &estate(dir.path(), &vault, &token, "sign", "api.example.test"),
    )
    .unwrap();
    let opts = RunOptions::from_ctx(&ctx, false);
    let out = lc::renew(&mut ctx, &alice, "api", &opts, &Standard::default()).unwrap();
    assert!(out.diagnosis.is_none(), "{:?}", out.diagnosis);
    assert_eq!(out.job.state, JobState::Verified);
    let row = ctx
        .store
        .read()
        .certificate_row(out.job.certificate_id.unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(row.issuer_cn.as_deref(), Some("Fake Vault Intermediate"));
    servers::revoke_with_approval(&mut ctx, &alice, row.id, "superseded", &Standard::default());
    let revoked = vault.revoked.lock().unwrap().clone();
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].replace(':', ""), row.serial);
}

#[test]
fn a_key_vault_generates_is_deployed_but_never_stored() {
    let vault = start_vault();
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, _clock, alice) = testing::ctx_at(datetime!(2026-06-01 0:00 UTC));
    servers::load_test_profile(&mut ctx, &alice);
    let token = token_file(dir.path(), TOKEN);
    lc::apply_estate(
        &mut ctx,
        &alice,
        &estate(dir.path(), &vault, &token, "issue", "api.example.test"),
    )
    .unwrap();
    let opts = RunOptions::from_ctx(&ctx, false);
    let out = lc::renew(&mut ctx, &alice, "api", &opts, &Standard::default()).unwrap();
    assert!(out.diagnosis.is_none(), "{:?}", out.diagnosis);
    // The deployed key is the one matching the certificate Vault issued.
    let key_pem = std::fs::read_to_string(dir.path().join("api.key")).unwrap();
    let key = KeyPair::from_pem(&key_pem).unwrap();
    let der = ctx
        .store
        .read()
        .certificate_der(out.job.certificate_id.unwrap())
        .unwrap()
        .unwrap();
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    assert_eq!(
        cert.public_key().subject_public_key.data.as_ref(),
        key.public_key_raw()
    );
}

#[test]
fn a_bad_token_is_unauthorized_and_a_name_the_role_refuses_is_policy_denied() {
    let vault = start_vault();
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, _clock, alice) = testing::ctx_at(datetime!(2026-06-01 0:00 UTC));
    servers::load_test_profile(&mut ctx, &alice);
    let bad = token_file(dir.path(), "s.wrong");
    lc::apply_estate(
        &mut ctx,
        &alice,
        &estate(dir.path(), &vault, &bad, "sign", "api.example.test"),
    )
    .unwrap();
    let opts = RunOptions {
        now: true,
        ..RunOptions::from_ctx(&ctx, false)
    };
    let out = lc::renew(&mut ctx, &alice, "api", &opts, &Standard::default()).unwrap();
    let d = out.diagnosis.unwrap();
    assert_eq!(d.category, Category::Unauthorized);
    assert!(
        d.message.contains("permission denied") && !d.message.contains("s.wrong"),
        "{}",
        d.message
    );

    let good = token_file(dir.path(), TOKEN);
    lc::apply_estate(
        &mut ctx,
        &alice,
        &estate(dir.path(), &vault, &good, "sign", "forbidden.example.test"),
    )
    .unwrap();
    let out = lc::renew(&mut ctx, &alice, "api", &opts, &Standard::default()).unwrap();
    let d = out.diagnosis.unwrap();
    assert_eq!(d.category, Category::PolicyDenied);
    assert!(
        d.message.contains("not allowed by this role"),
        "{}",
        d.message
    );
}
