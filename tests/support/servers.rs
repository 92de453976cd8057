//! Real servers for end-to-end tests, started on loopback ports in a temporary directory
//! and stopped when dropped: nginx (the endpoint that must serve the new certificate) and
//! Pebble with pebble-challtestsrv (a real ACME server whose DNS answers 127.0.0.1).
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A loopback port nothing listens on right now, never the same one twice in a process
/// (servers started in parallel tests must not be handed each other's ports).
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("bind an ephemeral port")
            .local_addr()
            .expect("local addr")
            .port();
        let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// Waits until something accepts TCP connections on `port` (servers take a moment).
pub fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{what} did not start listening on 127.0.0.1:{port}");
}

/// A self-signed certificate and key (PEM) for `names`, for servers that need one to start.
pub fn self_signed(names: &[&str]) -> (String, String) {
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let ck = rcgen::generate_simple_self_signed(names).expect("self-signed certificate");
    (ck.cert.pem(), ck.signing_key.serialize_pem())
}

/// nginx serving TLS on a loopback port from `cert` and `key` in its own directory.
pub struct Nginx {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Child,
}

impl Nginx {
    /// Waits (bounded, as certdeck's own verify does) until nginx serves `fingerprint`
    /// for www.example.test on consecutive handshakes: the old worker of a graceful
    /// reload may still answer briefly.
    pub fn assert_serves(&self, fingerprint: &str) {
        certdeck::deploy::verify::served(
            &self.addr(),
            "www.example.test",
            fingerprint,
            certdeck::deploy::verify::Window {
                attempts: 40,
                interval: Duration::from_millis(100),
                timeout: Duration::from_secs(3),
            },
        )
        .expect("nginx serves the certificate certdeck deployed");
    }

    pub fn start() -> Nginx {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let tls = dir.path().join("tls");
        std::fs::create_dir_all(&tls).unwrap();
        let (cert, key) = self_signed(&["placeholder.invalid"]);
        std::fs::write(tls.join("cert.pem"), cert).unwrap();
        std::fs::write(tls.join("key.pem"), key).unwrap();
        let d = dir.path().display();
        let conf = format!(
            "daemon off;\nmaster_process on;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/tmp_body;\n  proxy_temp_path {d}/tmp_proxy;\n\
               fastcgi_temp_path {d}/tmp_fcgi;\n  uwsgi_temp_path {d}/tmp_uwsgi;\n  scgi_temp_path {d}/tmp_scgi;\n\
               server {{\n    listen 127.0.0.1:{port} ssl;\n    server_name _;\n\
                 ssl_certificate {d}/tls/cert.pem;\n    ssl_certificate_key {d}/tls/key.pem;\n\
                 location / {{ return 200 \"ok\\n\"; }}\n  }}\n}}\n"
        );
        std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
        let child = Command::new("nginx")
            .args(["-p", &d.to_string(), "-c", "nginx.conf", "-e", "error.log"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx (Debian package nginx)");
        let n = Nginx { dir, port, child };
        wait_for_port(port, "nginx");
        n
    }

    pub fn cert_path(&self) -> PathBuf {
        self.dir.path().join("tls/cert.pem")
    }
    pub fn key_path(&self) -> PathBuf {
        self.dir.path().join("tls/key.pem")
    }
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The command that makes this nginx re-read its certificate.
    pub fn reload_command(&self) -> String {
        format!(
            "nginx -p {d} -c nginx.conf -e error.log -s reload",
            d = self.dir.path().display()
        )
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGQUIT is nginx's graceful stop; then make sure.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGQUIT,
        );
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Path helper for tests writing estate files.
pub fn toml_path(p: &Path) -> String {
    p.display().to_string().replace('\\', "\\\\")
}

/// A private CA and a leaf for 127.0.0.1/localhost signed by it (PEM): Pebble's own
/// HTTPS certificate (the Debian package ships none) and the bundle that trusts it.
pub fn https_identity() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::default();
    ca.distinguished_name
        .push(DnType::CommonName, "certdeck test HTTPS CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    (ca_cert.pem(), leaf.pem(), leaf_key.serialize_pem())
}

/// Pebble (a real ACME server) with pebble-challtestsrv as its DNS, which answers
/// 127.0.0.1 for every name and serves the TXT records a DNS-01 hook sets.
pub struct Pebble {
    pub dir: tempfile::TempDir,
    pub port: u16,
    /// Where Pebble's VA connects for HTTP-01 (certdeck's responder listens here).
    pub http01_port: u16,
    pub dns_port: u16,
    pub challtest_mgmt_port: u16,
    pebble: Option<Child>,
    challtest: Child,
}

impl Pebble {
    pub fn start() -> Pebble {
        let dir = tempfile::tempdir().expect("tempdir");
        let (ca, cert, key) = https_identity();
        std::fs::write(dir.path().join("https-ca.pem"), ca).unwrap();
        std::fs::write(dir.path().join("cert.pem"), cert).unwrap();
        std::fs::write(dir.path().join("key.pem"), key).unwrap();
        let (port, mgmt, http01_port, tls_port, dns_port, challtest_mgmt_port) = (
            free_port(),
            free_port(),
            free_port(),
            free_port(),
            free_port(),
            free_port(),
        );
        let d = dir.path().display();
        let config = format!(
            r#"{{"pebble": {{"listenAddress": "127.0.0.1:{port}", "managementListenAddress": "127.0.0.1:{mgmt}",
                "certificate": "{d}/cert.pem", "privateKey": "{d}/key.pem", "httpPort": {http01_port},
                "tlsPort": {tls_port}, "ocspResponderURL": "", "externalAccountBindingRequired": false}}}}"#
        );
        std::fs::write(dir.path().join("pebble.json"), config).unwrap();
        let challtest = Command::new("pebble-challtestsrv")
            .args([
                "-defaultIPv4",
                "127.0.0.1",
                "-defaultIPv6",
                "",
                "-dns01",
                &format!("127.0.0.1:{dns_port}"),
                "-http01",
                "",
                "-https01",
                "",
                "-tlsalpn01",
                "",
                "-management",
                &format!("127.0.0.1:{challtest_mgmt_port}"),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pebble-challtestsrv (Debian package pebble)");
        wait_for_port(challtest_mgmt_port, "pebble-challtestsrv");
        let mut p = Pebble {
            dir,
            port,
            http01_port,
            dns_port,
            challtest_mgmt_port,
            pebble: None,
            challtest,
        };
        p.start_pebble();
        p
    }

    fn start_pebble(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("pebble.log")).unwrap();
        let child = Command::new("pebble")
            .args([
                "-config",
                &self.dir.path().join("pebble.json").display().to_string(),
                "-dnsserver",
                &format!("127.0.0.1:{}", self.dns_port),
            ])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start pebble (Debian package pebble)");
        self.pebble = Some(child);
        wait_for_port(self.port, "pebble");
    }

    /// Stops Pebble (the CA becomes unavailable); challtestsrv keeps running.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.pebble.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn directory(&self) -> String {
        format!("https://127.0.0.1:{}/dir", self.port)
    }
    pub fn ca_bundle(&self) -> PathBuf {
        self.dir.path().join("https-ca.pem")
    }
    pub fn http01_listen(&self) -> String {
        format!("127.0.0.1:{}", self.http01_port)
    }
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pebble.log")).unwrap_or_default()
    }

    /// A DNS-01 hook (`HOOK set|clear NAME VALUE`) that writes TXT records into
    /// challtestsrv through its management API.
    pub fn dns01_hook(&self) -> PathBuf {
        let p = self.dir.path().join("dns01-hook.sh");
        let script = format!(
            "#!/bin/sh\nset -e\nname=\"$2.\"\ncase \"$1\" in\n  set) curl -sf -X POST -d \"{{\\\"host\\\":\\\"$name\\\",\\\"value\\\":\\\"$3\\\"}}\" http://127.0.0.1:{m}/set-txt ;;\n  clear) curl -sf -X POST -d \"{{\\\"host\\\":\\\"$name\\\"}}\" http://127.0.0.1:{m}/clear-txt ;;\nesac\n",
            m = self.challtest_mgmt_port
        );
        std::fs::write(&p, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        self.stop();
        let _ = self.challtest.kill();
        let _ = self.challtest.wait();
    }
}

/// The profile the lifecycle tests issue under: prod, names under example.test, every
/// key type, five-year certificates allowed (Pebble issues those).
pub const TEST_PROFILE: &str = r#"
[[profile]]
name = "test-tls"
description = "lifecycle tests"
environment = "prod"
authorities = ["internal", "backup", "pebble", "vault"]
key_types = ["ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072", "rsa-4096", "ed25519"]
max_validity_days = 1900
renew_before = "1/3"
owner_required = true
public = false
approvals = 0
[profile.sans]
dns_suffixes = ["example.test"]
wildcards = false
ip = false
max = 10
"#;

/// Loads [`TEST_PROFILE`] into an in-process inventory.
pub fn load_test_profile(ctx: &mut certdeck::ops::Ctx, actor: &certdeck::model::Actor) {
    certdeck::ops::policy::load_files(
        ctx,
        actor,
        &[("test-tls.toml".to_string(), TEST_PROFILE.to_string())],
    )
    .expect("test profile loads");
}

/// Writes [`TEST_PROFILE`] into `dir/policy` (for `certdeck policy load DIR`).
pub fn write_test_profile(dir: &Path) -> PathBuf {
    let p = dir.join("policy");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("test-tls.toml"), TEST_PROFILE).unwrap();
    p
}

/// Revokes `cert_id` the way the default policy wants (one approval): `requester` asks,
/// a second operator holding platform (A for renewal and failure response) approves, and
/// the requester's second `revoke` carries it out. Returns the approving request's id.
pub fn revoke_with_approval(
    ctx: &mut certdeck::ops::Ctx,
    requester: &certdeck::model::Actor,
    cert_id: i64,
    reason: &str,
    connectors: &dyn certdeck::ca::Connectors,
) -> i64 {
    use certdeck::ops::lifecycle::{revoke, Revoked};
    let asked = revoke(ctx, requester, cert_id, reason, Some("test"), connectors).unwrap();
    let Revoked::Requested { request, .. } = asked else {
        panic!("revocation needs an approval first, got {asked:?}")
    };
    let approver = certdeck::testing::operator("revocation-approver");
    certdeck::testing::grant(
        ctx,
        requester,
        &approver.name,
        certdeck::access::Role::Platform,
        Default::default(),
    );
    certdeck::ops::workflow::approve(ctx, &approver, request.id, "checked").unwrap();
    match revoke(ctx, requester, cert_id, reason, None, connectors).unwrap() {
        Revoked::Revoked {
            request: Some(id), ..
        } => id,
        other => panic!("the approved revocation is carried out, got {other:?}"),
    }
}
