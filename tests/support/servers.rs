//! Real servers for end-to-end tests, started on loopback ports in a temporary directory
//! and stopped when dropped: nginx (the endpoint that must serve the new certificate) and
//! Pebble with pebble-challtestsrv (a real ACME server whose DNS answers 127.0.0.1).
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind an ephemeral port")
        .local_addr()
        .expect("local addr")
        .port()
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
