//! The whole story from the command line: an operator declares an identity in an estate
//! file, `certdeck renew www` gets its certificate from a real ACME server (Pebble),
//! deploys it to a real nginx, reloads it and proves nginx serves it.

#[path = "support/servers.rs"]
mod servers;
mod support;

use servers::{Nginx, Pebble};
use std::path::Path;

fn estate(dir: &Path, pebble: &Pebble, nginx: &Nginx, reload: &str) -> String {
    format!(
        r#"
[[owner]]
name = "edge-team"
contact = "edge-oncall@example.com"

[[authority]]
name = "pebble"
kind = "acme"
directory = "{dir_url}"
ca_bundle = "{bundle}"
challenge = "http-01"
http01_listen = "{listen}"
credential = "file:{d}/pebble-account.json"
environment = "prod"

[[identity]]
name = "www"
owner = "edge-team"
profile = "test-tls"
authority = "pebble"
environment = "prod"
sans = ["www.example.test"]
key = "ecdsa-p256"

[[identity.target]]
kind = "file"
cert = "{cert}"
key = "{key}"
reload = "{reload}"
verify = "{verify}"
"#,
        dir_url = pebble.directory(),
        bundle = pebble.ca_bundle().display(),
        listen = pebble.http01_listen(),
        d = dir.display(),
        cert = nginx.cert_path().display(),
        key = nginx.key_path().display(),
        verify = nginx.addr(),
    )
}

fn served(nginx: &Nginx) -> String {
    certdeck::deploy::verify::served_fingerprint(
        &nginx.addr(),
        "www.example.test",
        std::time::Duration::from_secs(3),
    )
    .unwrap()
}

fn deployed_leaf(nginx: &Nginx) -> String {
    let pem = std::fs::read(nginx.cert_path()).unwrap();
    let ders = certdeck::ca::local::pem_certificates(&pem);
    certdeck::x509::sha256_hex(&ders[0])
}

#[test]
fn renew_gets_a_certificate_from_pebble_deploys_it_to_nginx_and_proves_it_is_served() {
    let pebble = Pebble::start();
    let nginx = Nginx::start();
    let deck = support::Deck::new();
    let policy = servers::write_test_profile(deck.dir.path());
    assert_eq!(deck.run(&["policy", "load", policy.to_str().unwrap()]).0, 0);
    let file = deck.dir.path().join("estate.toml");
    // A generous verify window: nginx reloads slowly on a loaded machine.
    let config = deck.dir.path().join("home/.config/certdeck/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(
        &config,
        "[lifecycle]\nverify_attempts = 60\nverify_interval_ms = 250\n",
    )
    .unwrap();
    std::fs::write(
        &file,
        estate(deck.dir.path(), &pebble, &nginx, &nginx.reload_command()),
    )
    .unwrap();

    let (code, plan, err) = deck.run(&["apply", file.to_str().unwrap(), "--dry-run"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        plan.contains("+ identity www") && plan.contains("dry run"),
        "{plan}"
    );
    assert_eq!(deck.run(&["apply", file.to_str().unwrap()]).0, 0);

    let before = served(&nginx);
    let (code, out, err) = deck.run(&["renew", "www"]);
    assert_eq!(code, 0, "{out}{err}\n{}", pebble.log());
    assert!(out.contains("www: verified"), "{out}");
    let now_served = deployed_leaf(&nginx);
    assert_ne!(before, now_served);
    // A gracefully reloading nginx may answer from its old worker for a moment.
    nginx.assert_serves(&now_served);

    let jobs = deck.json(&["jobs", "--json"]);
    assert_eq!(jobs[0]["state"], "verified");
    assert_eq!(jobs[0]["reason"], "first");

    // Renewal replaces what nginx serves.
    let (code, out, err) = deck.run(&["renew", "www"]);
    assert_eq!(code, 0, "{out}{err}");
    let renewed = deployed_leaf(&nginx);
    assert_ne!(renewed, now_served);
    nginx.assert_serves(&renewed);
}

#[test]
fn a_reload_that_does_not_reload_is_verify_mismatch_and_a_failing_one_reload_failed() {
    let pebble = Pebble::start();
    let nginx = Nginx::start();
    let deck = support::Deck::new();
    let policy = servers::write_test_profile(deck.dir.path());
    assert_eq!(deck.run(&["policy", "load", policy.to_str().unwrap()]).0, 0);
    let file = deck.dir.path().join("estate.toml");
    // The config's verify window is shortened so the mismatch is called quickly.
    let config = deck.dir.path().join("home/.config/certdeck/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(
        &config,
        "[lifecycle]\nverify_attempts = 2\nverify_interval_ms = 100\n",
    )
    .unwrap();

    std::fs::write(&file, estate(deck.dir.path(), &pebble, &nginx, "true")).unwrap();
    assert_eq!(deck.run(&["apply", file.to_str().unwrap()]).0, 0);
    let (code, out, _) = deck.run(&["renew", "www"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("verify_mismatch") && out.contains("issued but not served"),
        "{out}"
    );
    assert!(out.contains("next step:"), "{out}");

    std::fs::write(&file, estate(deck.dir.path(), &pebble, &nginx, "exit 7")).unwrap();
    assert_eq!(deck.run(&["apply", file.to_str().unwrap()]).0, 0);
    let (code, out, _) = deck.run(&["renew", "www", "--now"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("reload_failed"), "{out}");
    let failed = deck.json(&["jobs", "--failed", "--json"]);
    assert_eq!(failed[0]["diagnosis"], "reload_failed");
    assert_eq!(failed[0]["attempts"], 2);
    // Still only one certificate was ordered for the job.
    assert!(failed[0]["certificate_id"].is_number());
}
