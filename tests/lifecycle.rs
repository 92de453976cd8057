//! The lifecycle engine with the local CA and a real nginx: estate files, issuance,
//! deployment, reload, verification, and every way that can fail.

#[path = "support/servers.rs"]
mod servers;
mod support;

use certdeck::ca::Standard;
use certdeck::lifecycle::estate::Estate;
use certdeck::lifecycle::{Category, JobState};
use certdeck::ops::lifecycle::{self as lc, RunOptions};
use certdeck::ops::Ctx;
use certdeck::testing;
use servers::Nginx;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use time::macros::datetime;
use time::OffsetDateTime;

const T0: OffsetDateTime = datetime!(2026-11-29 12:00 UTC);

/// An estate with a generated local CA and one identity deployed to `nginx`.
fn estate_text(dir: &Path, nginx: Option<&Nginx>, reload: Option<&str>, extra: &str) -> String {
    let d = dir.display();
    let (cert, key, verify, reload) = match nginx {
        Some(n) => (
            n.cert_path().display().to_string(),
            n.key_path().display().to_string(),
            format!("verify = \"{}\"\n", n.addr()),
            reload
                .map(str::to_string)
                .unwrap_or_else(|| n.reload_command()),
        ),
        None => (
            format!("{d}/deploy/www.pem"),
            format!("{d}/deploy/www.key"),
            String::new(),
            reload.unwrap_or("true").to_string(),
        ),
    };
    format!(
        r#"
[[owner]]
name = "edge-team"
contact = "edge-oncall@example.com"

[[authority]]
name = "internal"
kind = "local"
ca_cert = "{d}/ca/ca.pem"
credential = "file:{d}/ca/ca.key"
crl = "{d}/ca/ca.crl"
validity_days = 30
environment = "prod"

[[identity]]
name = "www"
owner = "edge-team"
profile = "test-tls"
authority = "internal"
environment = "prod"
sans = ["www.example.test", "example.test"]
key = "ecdsa-p256"
{extra}
[[identity.target]]
cert = "{cert}"
key = "{key}"
reload = "{reload}"
{verify}"#
    )
}

/// A CLI deck with the suite's test profile loaded.
fn deck_with_test_profile() -> support::Deck {
    let deck = support::Deck::new();
    let policy = servers::write_test_profile(deck.dir.path());
    assert_eq!(deck.run(&["policy", "load", policy.to_str().unwrap()]).0, 0);
    deck
}

fn fast(ctx: &mut Ctx, verify_attempts: u32) -> RunOptions {
    ctx.config.lifecycle.verify_attempts = verify_attempts;
    ctx.config.lifecycle.verify_interval_ms = 100;
    ctx.config.lifecycle.verify_timeout_seconds = 2;
    RunOptions::from_ctx(ctx, false)
}

fn parse(text: &str) -> Estate {
    Estate::parse(text, Path::new("estate.toml")).expect("estate parses")
}

#[test]
fn applying_an_estate_file_twice_changes_nothing_the_second_time() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, _clock, alice) = testing::ctx_at(T0);
    servers::load_test_profile(&mut ctx, &alice);
    let estate = parse(&estate_text(dir.path(), None, None, ""));
    let plan = lc::plan_estate(&ctx, &estate).unwrap();
    assert_eq!(plan.changes().count(), 3, "{}", plan.render());
    assert!(plan.render().contains("+ identity www"));
    // A dry run (the plan alone) changed nothing.
    assert!(ctx.store.read().identity_by_name("www").unwrap().is_none());

    lc::apply_estate(&mut ctx, &alice, &estate).unwrap();
    let audit_after_first = ctx.store.read().audit_count().unwrap();
    let again = lc::apply_estate(&mut ctx, &alice, &estate).unwrap();
    assert!(again.is_empty(), "{}", again.render());
    assert_eq!(ctx.store.read().audit_count().unwrap(), audit_after_first);

    // export-config writes the same estate: applying the export changes nothing.
    let exported = lc::current_estate(ctx.store.read()).unwrap();
    let text = toml::to_string(&exported).unwrap();
    let reparsed = parse(&text);
    assert!(
        lc::plan_estate(&ctx, &reparsed).unwrap().is_empty(),
        "{text}"
    );

    // A changed field is an update naming the field.
    let changed = parse(
        &estate_text(dir.path(), None, None, "")
            .replace("\"example.test\"]", "\"api.example.test\"]"),
    );
    let plan = lc::plan_estate(&ctx, &changed).unwrap();
    let r = plan.render();
    assert!(r.contains("~ identity www") && r.contains("sans:"), "{r}");
}

#[test]
fn an_identity_is_issued_deployed_reloaded_and_verified_against_nginx() {
    let nginx = Nginx::start();
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, clock, alice) = testing::ctx_at(T0);
    servers::load_test_profile(&mut ctx, &alice);
    lc::apply_estate(
        &mut ctx,
        &alice,
        &parse(&estate_text(dir.path(), Some(&nginx), None, "")),
    )
    .unwrap();
    let opts = fast(&mut ctx, 100);
    let out = lc::renew(&mut ctx, &alice, "www", &opts, &Standard::default()).unwrap();
    assert!(
        out.diagnosis.is_none(),
        "{:?} / nginx: {}",
        out.diagnosis,
        nginx.error_log()
    );
    assert_eq!(out.job.state, JobState::Verified);
    assert_eq!(out.job.reason, "first");
    let fp = out.fingerprint.clone().unwrap();

    // nginx serves exactly the issued certificate.
    // A gracefully reloading nginx may answer from its old worker for a moment.
    nginx.assert_serves(&fp);
    // The key file is private, and the identity's current certificate is the new one.
    let mode = std::fs::metadata(nginx.key_path())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let ident = ctx.store.read().identity_by_name("www").unwrap().unwrap();
    let row = ctx
        .store
        .read()
        .certificate_row(ident.current_certificate_id.unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(row.fingerprint_sha256, fp);
    assert_eq!(row.identity.as_deref(), Some("www"));
    assert_eq!(row.owner.as_deref(), Some("edge-team"));
    assert!(row.sans.contains(&"example.test".to_string()));
    // No staged key is left behind.
    assert!(!Path::new(&format!("{}.certdeck-pending", nginx.key_path().display())).exists());

    // Renewing again replaces it; the old one is superseded, and nginx serves the new one.
    clock.advance(time::Duration::days(20));
    let out2 = lc::renew(&mut ctx, &alice, "www", &opts, &Standard::default()).unwrap();
    assert!(out2.diagnosis.is_none(), "{:?}", out2.diagnosis);
    let fp2 = out2.fingerprint.unwrap();
    assert_ne!(fp, fp2);
    assert_eq!(out2.job.reason, "manual");
    // A gracefully reloading nginx may answer from its old worker for a moment.
    nginx.assert_serves(&fp2);
    assert_eq!(row_status(&ctx, &fp), "superseded");

    // The private key never entered the store or the audit log.
    let key_pem = std::fs::read_to_string(nginx.key_path()).unwrap();
    let audit = ctx.store.read().audit_records(&Default::default()).unwrap();
    let all = serde_json::to_string(&audit).unwrap();
    assert!(!all.contains("PRIVATE KEY"));
    assert!(!all.contains(key_pem.lines().nth(1).unwrap()));
    let actions: Vec<&str> = audit.iter().map(|r| r.action.as_str()).collect();
    for a in [
        "job.plan",
        "job.ordering",
        "certificate.issue",
        "job.issued",
        "job.deploying",
        "job.deployed",
        "job.verifying",
        "job.verified",
    ] {
        assert!(actions.contains(&a), "audit lacks {a}: {actions:?}");
    }
}

fn row_status(ctx: &Ctx, fp: &str) -> String {
    let id = ctx
        .store
        .read()
        .certificates_by_fingerprint_prefix(fp)
        .unwrap()[0];
    ctx.store
        .read()
        .certificate_row(id)
        .unwrap()
        .unwrap()
        .status
        .as_str()
        .to_string()
}

#[test]
fn a_failing_reload_is_reload_failed_backs_off_and_resumes_without_a_second_order() {
    let nginx = Nginx::start();
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, clock, alice) = testing::ctx_at(T0);
    servers::load_test_profile(&mut ctx, &alice);
    lc::apply_estate(
        &mut ctx,
        &alice,
        &parse(&estate_text(
            dir.path(),
            Some(&nginx),
            Some("echo no such service >&2; exit 4"),
            "",
        )),
    )
    .unwrap();
    let opts = fast(&mut ctx, 100);
    let out = lc::renew(&mut ctx, &alice, "www", &opts, &Standard::default()).unwrap();
    let d = out.diagnosis.expect("reload failure is diagnosed");
    assert_eq!(d.category, Category::ReloadFailed);
    assert!(d.message.contains("no such service"), "{}", d.message);
    assert_eq!(out.job.state, JobState::Failed);
    assert_eq!(out.job.failed_step, Some(JobState::Deploying));
    assert_eq!(out.job.attempts, 1);
    assert_eq!(out.job.next_attempt_at, Some(T0 + time::Duration::hours(1)));

    // Still backing off: a plain retry is refused, --now overrides.
    let err = lc::renew(&mut ctx, &alice, "www", &opts, &Standard::default()).unwrap_err();
    assert!(err.to_string().contains("backs off"), "{err}");
    // A second failure doubles the backoff.
    let now_opts = RunOptions {
        now: true,
        ..opts.clone()
    };
    let out = lc::renew(&mut ctx, &alice, "www", &now_opts, &Standard::default()).unwrap();
    assert_eq!(out.job.attempts, 2);
    assert_eq!(out.job.next_attempt_at, Some(T0 + time::Duration::hours(2)));

    // Fix the reload command; once the backoff has passed the same job resumes at
    // deploying with the certificate already issued.
    lc::apply_estate(
        &mut ctx,
        &alice,
        &parse(&estate_text(dir.path(), Some(&nginx), None, "")),
    )
    .unwrap();
    clock.advance(time::Duration::hours(3));
    let resumed = lc::renew(&mut ctx, &alice, "www", &opts, &Standard::default()).unwrap();
    assert!(resumed.diagnosis.is_none(), "{:?}", resumed.diagnosis);
    assert_eq!(resumed.job.id, out.job.id);
    assert_eq!(
        ctx.store.read().ledger_count("certificate").unwrap(),
        1,
        "exactly one certificate issued"
    );
}

#[test]
fn nginx_not_reloaded_is_verify_mismatch_never_success() {
    let nginx = Nginx::start();
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, _clock, alice) = testing::ctx_at(T0);
    servers::load_test_profile(&mut ctx, &alice);
    lc::apply_estate(
        &mut ctx,
        &alice,
        &parse(&estate_text(dir.path(), Some(&nginx), Some("true"), "")),
    )
    .unwrap();
    let opts = fast(&mut ctx, 2);
    let out = lc::renew(&mut ctx, &alice, "www", &opts, &Standard::default()).unwrap();
    let d = out.diagnosis.expect("mismatch is a failure");
    assert_eq!(d.category, Category::VerifyMismatch);
    assert!(d.message.contains("issued but not served"), "{}", d.message);
    // The certificate exists in the inventory but is not the identity's current one.
    let ident = ctx.store.read().identity_by_name("www").unwrap().unwrap();
    assert_eq!(ident.current_certificate_id, None);
    assert!(out.job.certificate_id.is_some());
}

#[test]
fn an_endpoint_that_does_not_answer_is_verify_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, _clock, alice) = testing::ctx_at(T0);
    servers::load_test_profile(&mut ctx, &alice);
    let port = servers::free_port();
    let text =
        estate_text(dir.path(), None, None, "") + &format!("verify = \"127.0.0.1:{port}\"\n");
    lc::apply_estate(&mut ctx, &alice, &parse(&text)).unwrap();
    let opts = fast(&mut ctx, 1);
    let out = lc::renew(&mut ctx, &alice, "www", &opts, &Standard::default()).unwrap();
    assert_eq!(out.diagnosis.unwrap().category, Category::VerifyUnreachable);
}

#[test]
fn an_unwritable_target_is_deploy_permission() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, _clock, alice) = testing::ctx_at(T0);
    servers::load_test_profile(&mut ctx, &alice);
    // A path below a regular file cannot be written, even by root.
    let text = estate_text(dir.path(), None, None, "").replace(
        &format!("{}/deploy/www.pem", dir.path().display()),
        "/dev/null/www.pem",
    );
    lc::apply_estate(&mut ctx, &alice, &parse(&text)).unwrap();
    let opts = fast(&mut ctx, 1);
    let out = lc::renew(&mut ctx, &alice, "www", &opts, &Standard::default()).unwrap();
    let d = out.diagnosis.unwrap();
    assert_eq!(d.category, Category::DeployPermission);
    assert!(d.message.contains("/dev/null/www.pem"), "{}", d.message);
}

#[test]
fn prod_identities_are_never_issued_by_a_nonprod_authority() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, _clock, alice) = testing::ctx_at(T0);
    servers::load_test_profile(&mut ctx, &alice);
    let text = estate_text(dir.path(), None, None, "").replace(
        "validity_days = 30\nenvironment = \"prod\"",
        "validity_days = 30\nenvironment = \"nonprod\"",
    );
    lc::apply_estate(&mut ctx, &alice, &parse(&text)).unwrap();
    let opts = fast(&mut ctx, 1);
    let out = lc::renew(&mut ctx, &alice, "www", &opts, &Standard::default()).unwrap();
    let d = out.diagnosis.unwrap();
    assert_eq!(d.category, Category::PolicyDenied);
    assert_eq!(out.job.failed_step, Some(JobState::Planned));
    assert_eq!(ctx.store.read().certificate_count().unwrap(), 0);
}

#[test]
fn every_key_type_is_issued_by_the_local_ca() {
    for key in ["ecdsa-p384", "ed25519", "rsa-2048"] {
        let dir = tempfile::tempdir().unwrap();
        let (mut ctx, _clock, alice) = testing::ctx_at(T0);
        servers::load_test_profile(&mut ctx, &alice);
        let text = estate_text(dir.path(), None, None, "")
            .replace("key = \"ecdsa-p256\"", &format!("key = \"{key}\""));
        lc::apply_estate(&mut ctx, &alice, &parse(&text)).unwrap();
        let opts = fast(&mut ctx, 1);
        let out = lc::renew(&mut ctx, &alice, "www", &opts, &Standard::default()).unwrap();
        assert!(out.diagnosis.is_none(), "{key}: {:?}", out.diagnosis);
        let key_file = dir.path().join("deploy/www.key");
        assert_eq!(
            std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(std::fs::read_to_string(&key_file)
            .unwrap()
            .contains("PRIVATE KEY"));
        // The full chain: the leaf and the issuing intermediate; the root is not sent.
        let chain = std::fs::read_to_string(dir.path().join("deploy/www.pem")).unwrap();
        assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2, "{key}");
    }
}

#[test]
fn revoking_a_local_ca_certificate_after_approval_writes_a_crl_listing_it() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, _clock, alice) = testing::ctx_at(T0);
    servers::load_test_profile(&mut ctx, &alice);
    lc::apply_estate(
        &mut ctx,
        &alice,
        &parse(&estate_text(dir.path(), None, None, "")),
    )
    .unwrap();
    let opts = fast(&mut ctx, 1);
    let out = lc::renew(&mut ctx, &alice, "www", &opts, &Standard::default()).unwrap();
    let cert_id = out.job.certificate_id.unwrap();
    servers::revoke_with_approval(
        &mut ctx,
        &alice,
        cert_id,
        "key_compromise",
        &Standard::default(),
    );
    let row = ctx.store.read().certificate_row(cert_id).unwrap().unwrap();
    assert_eq!(row.status.as_str(), "revoked");
    let crl_pem = std::fs::read_to_string(dir.path().join("ca/ca.crl")).unwrap();
    let der = pem_body(&crl_pem);
    use x509_parser::prelude::FromDer;
    let (_, crl) = x509_parser::revocation_list::CertificateRevocationList::from_der(&der).unwrap();
    let serials: Vec<String> = crl
        .iter_revoked_certificates()
        .map(|r| hex::encode(r.raw_serial()))
        .collect();
    assert_eq!(serials, vec![row.serial.clone()]);
}

fn pem_body(pem: &str) -> Vec<u8> {
    use base64::Engine;
    let b: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD.decode(b).unwrap()
}

#[test]
fn a_process_killed_mid_job_resumes_and_orders_exactly_one_certificate() {
    let deck = deck_with_test_profile();
    let dir = deck.dir.path();
    let estate = dir.join("estate.toml");
    let run = |args: &[&str]| deck.cmd().args(args).output().unwrap();
    // The reload command kills certdeck itself (its parent): the job dies while deploying.
    std::fs::write(&estate, estate_text(dir, None, Some("kill -9 $PPID"), "")).unwrap();
    let (code, _, err) = deck.run(&["apply", estate.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let out = run(&["renew", "www"]);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&out.status),
        Some(9)
    );
    let jobs = deck.json(&["jobs", "--json"]);
    assert_eq!(jobs[0]["state"], "deploying", "{jobs}");

    // Fixed reload, run again: the same job finishes with the certificate it already had.
    std::fs::write(&estate, estate_text(dir, None, Some("true"), "")).unwrap();
    assert_eq!(deck.run(&["apply", estate.to_str().unwrap()]).0, 0);
    let (code, out, err) = deck.run(&["renew", "www"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("verified"), "{out}");
    let (ctx, _, _) = testing::ctx_on(&deck.db, T0);
    assert_eq!(ctx.store.read().ledger_count("certificate").unwrap(), 1);
    let jobs = ctx.store.read().jobs(false, false, 10).unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].state, JobState::Verified);
}

/// Two identities on the local CA, one of which may fall back to a second local CA.
fn two_identities(dir: &Path, primary_broken: bool) -> String {
    let d = dir.display();
    let primary_cert = if primary_broken {
        "/dev/null/broken/ca.pem".to_string()
    } else {
        format!("{d}/ca/ca.pem")
    };
    format!(
        r#"
[[owner]]
name = "edge-team"

[[authority]]
name = "internal"
kind = "local"
ca_cert = "{primary_cert}"
credential = "file:{d}/ca/ca.key"
validity_days = 30
environment = "prod"

[[authority]]
name = "backup"
kind = "local"
ca_cert = "{d}/backup/ca.pem"
credential = "file:{d}/backup/ca.key"
validity_days = 30
environment = "prod"

[[identity]]
name = "api"
owner = "edge-team"
profile = "test-tls"
environment = "prod"
authority = "internal"
fallback_authority = "backup"
sans = ["api.example.test"]
[[identity.target]]
cert = "{d}/deploy/api.pem"
key = "{d}/deploy/api.key"

[[identity]]
name = "www"
owner = "edge-team"
profile = "test-tls"
environment = "prod"
authority = "internal"
sans = ["www.example.test"]
[[identity.target]]
cert = "{d}/deploy/www.pem"
key = "{d}/deploy/www.key"
"#
    )
}

#[test]
fn renew_due_issues_first_certificates_then_waits_until_a_third_of_the_lifetime_is_left() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, clock, alice) = testing::ctx_at(T0);
    servers::load_test_profile(&mut ctx, &alice);
    lc::apply_estate(&mut ctx, &alice, &parse(&two_identities(dir.path(), false))).unwrap();
    let opts = fast(&mut ctx, 1);
    let dry = lc::renew_due(&mut ctx, &alice, &opts, &Standard::default(), true).unwrap();
    assert_eq!(dry.len(), 2);
    assert!(dry.iter().all(|r| r.outcome.is_none()));
    assert_eq!(
        ctx.store.read().jobs(false, false, 10).unwrap().len(),
        0,
        "a dry run does nothing"
    );

    let done = lc::renew_due(&mut ctx, &alice, &opts, &Standard::default(), false).unwrap();
    assert_eq!(done.len(), 2);
    assert!(done.iter().all(|r| r
        .outcome
        .as_ref()
        .is_some_and(|o| o.job.state == JobState::Verified)));

    // 30-day certificates: nothing due at day 15, both due once 10 days (+ jitter) are left.
    clock.advance(time::Duration::days(15));
    assert!(
        lc::renew_due(&mut ctx, &alice, &opts, &Standard::default(), true)
            .unwrap()
            .is_empty()
    );
    clock.advance(time::Duration::days(6));
    let due = lc::renew_due(&mut ctx, &alice, &opts, &Standard::default(), true).unwrap();
    assert_eq!(due.len(), 2);
}

#[test]
fn a_failing_authority_backs_off_opens_its_circuit_alerts_and_sends_work_to_the_fallback() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, clock, alice) = testing::ctx_at(T0);
    servers::load_test_profile(&mut ctx, &alice);
    ctx.config.lifecycle.circuit_failures = 2;
    lc::apply_estate(&mut ctx, &alice, &parse(&two_identities(dir.path(), true))).unwrap();
    let opts = fast(&mut ctx, 1);
    // "www" has no fallback: it fails with ca_unavailable and backs off.
    let mut opts_www = opts.clone();
    opts_www.now = true;
    let out = lc::renew(&mut ctx, &alice, "www", &opts_www, &Standard::default()).unwrap();
    assert_eq!(
        out.diagnosis.as_ref().unwrap().category,
        Category::CaUnavailable
    );
    assert_eq!(out.job.next_attempt_at, Some(T0 + time::Duration::hours(1)));
    assert!(ctx.store.read().alerts(true).unwrap().is_empty());
    let out = lc::renew(&mut ctx, &alice, "www", &opts_www, &Standard::default()).unwrap();
    assert_eq!(out.job.attempts, 2);
    // Two consecutive failures opened the circuit, with an alert (and its audit record).
    let alerts = ctx.store.read().alerts(true).unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].kind, "circuit_open");
    let audit = ctx.store.read().audit_records(&Default::default()).unwrap();
    assert!(audit.iter().any(|r| r.action == "alert.raise"));

    // The planner now sends "api" to its fallback and blocks "www" (backing off anyway).
    clock.advance(time::Duration::minutes(5));
    let results = lc::renew_due(&mut ctx, &alice, &opts, &Standard::default(), false).unwrap();
    let api = results
        .iter()
        .find(|r| r.planned.name == "api")
        .expect("api planned");
    let o = api.outcome.as_ref().expect("api ran");
    assert_eq!(o.job.state, JobState::Verified, "{:?}", o.diagnosis);
    assert_eq!(o.job.authority, "backup");
    assert!(
        results.iter().all(|r| r.planned.name != "www"),
        "www is still backing off"
    );
}

#[test]
fn run_once_renews_what_is_due_and_status_tells_monitoring_when_a_person_is_needed() {
    let deck = deck_with_test_profile();
    let dir = deck.dir.path();
    let estate = dir.join("estate.toml");
    std::fs::write(&estate, two_identities(dir, false)).unwrap();
    assert_eq!(deck.run(&["apply", estate.to_str().unwrap()]).0, 0);
    let (code, out, _) = deck.run(&["status"]);
    assert_eq!(
        code, 0,
        "first certificates are due, nothing needs a person: {out}"
    );
    assert!(out.contains("due now:        2"), "{out}");
    let (code, out, err) = deck.run(&["run", "--once"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.matches(": verified").count(), 2, "{out}");
    let st = deck.json(&["status", "--json"]);
    assert_eq!(st["due"], 0);
    assert_eq!(st["needs_attention"], false);

    // Revoke by identity name: the default policy wants one approval, so the first
    // `revoke` opens a request (exit 0, its id printed), a second operator (platform, on
    // the same database) approves, and the second `revoke` carries it out. The local CA
    // writes no CRL here (none configured).
    let asked = deck.json(&["revoke", "api", "--reason", "key_compromise", "--json"]);
    assert_eq!(asked["outcome"], "requested", "{asked}");
    let id = asked["request"]["id"].as_i64().expect("request id");
    {
        let (mut ctx, _clock, admin) = testing::ctx_on(&deck.db, support::now());
        testing::grant(
            &mut ctx,
            &admin,
            "pat",
            certdeck::access::Role::Platform,
            Default::default(),
        );
        certdeck::ops::workflow::approve(&mut ctx, &testing::operator("pat"), id, "confirmed")
            .unwrap();
    }
    let (code, out, err) = deck.run(&["revoke", "api", "--reason", "key_compromise"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("revoked certificate") && out.contains(&format!("request {id}")),
        "{out}"
    );
    let (code, _, err) = deck.run(&["revoke", "api", "--reason", "because"]);
    assert_ne!(code, 0);
    assert!(err.contains("unknown revocation reason"), "{err}");

    // A broken authority: failing jobs and an open circuit need a person (exit 3).
    std::fs::write(&estate, two_identities(dir, true)).unwrap();
    assert_eq!(deck.run(&["apply", estate.to_str().unwrap()]).0, 0);
    let (code, out, _) = deck.run(&["renew", "www", "--now"]);
    assert_eq!(code, 1);
    assert!(out.contains("ca_unavailable"), "{out}");
    let (code, out, _) = deck.run(&["status"]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("ATTENTION") && out.contains("www"), "{out}");
}

#[test]
fn a_high_failure_rate_raises_one_alert_and_resolves_it_when_jobs_succeed_again() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, clock, alice) = testing::ctx_at(T0);
    servers::load_test_profile(&mut ctx, &alice);
    ctx.config.lifecycle.alert_min_jobs = 2;
    ctx.config.lifecycle.circuit_failures = 100;
    lc::apply_estate(&mut ctx, &alice, &parse(&two_identities(dir.path(), true))).unwrap();
    let opts = RunOptions {
        now: true,
        ..fast(&mut ctx, 1)
    };
    for name in ["www", "api"] {
        let out = lc::renew(
            &mut ctx,
            &alice,
            name,
            &RunOptions {
                now: true,
                ..opts.clone()
            },
            &Standard::default(),
        );
        // api falls back only through the planner; a direct renew uses its primary.
        assert_eq!(
            out.unwrap().diagnosis.unwrap().category,
            Category::CaUnavailable
        );
    }
    assert!(lc::evaluate_alerts(&mut ctx, &alice).unwrap());
    assert!(
        !lc::evaluate_alerts(&mut ctx, &alice).unwrap(),
        "raised once"
    );
    let alerts = ctx.store.read().alerts(true).unwrap();
    assert_eq!(
        alerts.iter().filter(|a| a.kind == "failure_rate").count(),
        1
    );

    // The authority is repaired; both jobs finish; the alert resolves.
    lc::apply_estate(&mut ctx, &alice, &parse(&two_identities(dir.path(), false))).unwrap();
    clock.advance(time::Duration::hours(2));
    for name in ["www", "api"] {
        let out = lc::renew(&mut ctx, &alice, name, &opts, &Standard::default()).unwrap();
        assert!(out.diagnosis.is_none(), "{:?}", out.diagnosis);
    }
    lc::evaluate_alerts(&mut ctx, &alice).unwrap();
    assert!(ctx
        .store
        .read()
        .alerts(true)
        .unwrap()
        .iter()
        .all(|a| a.kind != "failure_rate"));
    let audit = ctx.store.read().audit_records(&Default::default()).unwrap();
    assert!(audit.iter().any(|r| r.action == "alert.resolve"));
}

#[test]
fn the_policy_gate_refuses_names_and_profiles_it_does_not_allow_before_any_ca_is_asked() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, _clock, alice) = testing::ctx_at(T0);
    servers::load_test_profile(&mut ctx, &alice);
    let text =
        estate_text(dir.path(), None, None, "").replace("\"example.test\"]", "\"example.org\"]");
    lc::apply_estate(&mut ctx, &alice, &parse(&text)).unwrap();
    let opts = fast(&mut ctx, 1);
    let out = lc::renew(&mut ctx, &alice, "www", &opts, &Standard::default()).unwrap();
    let d = out.diagnosis.unwrap();
    assert_eq!(d.category, Category::PolicyDenied);
    assert!(d.message.contains("example.org"), "{}", d.message);
    assert_eq!(ctx.store.read().certificate_count().unwrap(), 0);

    let text = estate_text(dir.path(), None, None, "")
        .replace("profile = \"test-tls\"", "profile = \"missing\"");
    lc::apply_estate(&mut ctx, &alice, &parse(&text)).unwrap();
    let out = lc::renew(
        &mut ctx,
        &alice,
        "www",
        &RunOptions { now: true, ..opts },
        &Standard::default(),
    )
    .unwrap();
    let d = out.diagnosis.unwrap();
    assert_eq!(d.category, Category::PolicyDenied);
    assert!(d.message.contains("not loaded"), "{}", d.message);
}

fn screen(term: &ratatui::Terminal<ratatui::backend::TestBackend>) -> String {
    let buf = term.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

#[test]
fn the_jobs_view_shows_failures_with_diagnosis_and_renews_after_a_confirmation() {
    use ratatui::crossterm::event::KeyCode;
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, _clock, alice) = testing::ctx_at(T0);
    servers::load_test_profile(&mut ctx, &alice);
    lc::apply_estate(&mut ctx, &alice, &parse(&two_identities(dir.path(), true))).unwrap();
    let opts = RunOptions {
        now: true,
        ..fast(&mut ctx, 1)
    };
    lc::renew(&mut ctx, &alice, "www", &opts, &Standard::default()).unwrap();
    let theme = certdeck::tui::theme::Theme::load("default", None).unwrap();
    let mut sh = certdeck::tui::shared(ctx, false, theme, true, "test.db".into());
    sh.actor = alice.clone();
    let mut app = certdeck::tui::app::App::new(sh, "jobs");
    app.settle();
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).unwrap();
    term.draw(|f| app.render(f)).unwrap();
    let s = screen(&term);
    assert!(s.contains("internal") && s.contains("circuit"), "{s}");
    assert!(
        s.contains("failed@ordering") && s.contains("ca_unavailable"),
        "{s}"
    );
    assert!(s.contains("api") && s.contains("due now"), "{s}");

    // Select "api" (after the failed www) and renew it: the confirmation names both.
    let api_row = s.lines().position(|l| l.contains("api ")).unwrap();
    let www_row = s
        .lines()
        .position(|l| l.contains("www ") && l.contains("failed"))
        .unwrap();
    if api_row > www_row {
        app.press(KeyCode::Char('j'));
    }
    app.press(KeyCode::Char('r'));
    term.draw(|f| app.render(f)).unwrap();
    let s = screen(&term);
    assert!(
        s.contains("Renew identity api now from authority internal?"),
        "{s}"
    );
    app.press(KeyCode::Char('n'));
    term.draw(|f| app.render(f)).unwrap();
    assert!(!screen(&term).contains("Renew identity api"));
}

/// `n` identities on one generated local CA, each deployed to its own files and reloaded
/// with `reload`; identity `bad` (when asked for) has a name the profile refuses.
fn estate_of(dir: &Path, n: usize, reload: &str, bad: bool) -> String {
    let d = dir.display();
    let mut text = format!(
        r#"
[[owner]]
name = "edge-team"

[[authority]]
name = "internal"
kind = "local"
ca_cert = "{d}/ca/ca.pem"
credential = "file:{d}/ca/ca.key"
validity_days = 30
environment = "prod"
"#
    );
    let mut names: Vec<(String, String)> = (0..n)
        .map(|i| (format!("svc{i:02}"), format!("svc{i:02}.example.test")))
        .collect();
    if bad {
        names.push(("bad".into(), "bad.example.org".into()));
    }
    for (name, san) in names {
        text.push_str(&format!(
            r#"
[[identity]]
name = "{name}"
owner = "edge-team"
profile = "test-tls"
environment = "prod"
authority = "internal"
sans = ["{san}"]
[[identity.target]]
cert = "{d}/deploy/{name}.pem"
key = "{d}/deploy/{name}.key"
reload = "{reload}"
"#
        ));
    }
    text
}

#[test]
fn a_private_ca_is_not_throttled_by_a_public_cas_rate_limits_unless_the_estate_says_so() {
    use certdeck::lifecycle::planner::Decision;
    let renewing = |extra: &str| {
        let dir = tempfile::tempdir().unwrap();
        let (mut ctx, _clock, alice) = testing::ctx_at(T0);
        servers::load_test_profile(&mut ctx, &alice);
        // 60 identities under one registered domain, more than Let's Encrypt's 50 a week.
        let text = estate_of(dir.path(), 60, "true", false).replacen(
            "environment = \"prod\"\n",
            &format!("environment = \"prod\"\n{extra}"),
            1,
        );
        lc::apply_estate(&mut ctx, &alice, &parse(&text)).unwrap();
        let plan = lc::plan_renewals(&ctx, false).unwrap();
        let blocked: Vec<String> = plan
            .iter()
            .filter_map(|p| match &p.decision {
                Decision::Blocked { reason } => Some(reason.clone()),
                _ => None,
            })
            .collect();
        let renew = plan
            .iter()
            .filter(|p| matches!(p.decision, Decision::Renew { .. }))
            .count();
        (renew, blocked)
    };
    let (renew, blocked) = renewing("");
    assert_eq!((renew, blocked.len()), (60, 0), "{blocked:?}");

    let (renew, blocked) = renewing("certs_per_domain_per_week = 50\n");
    assert_eq!((renew, blocked.len()), (50, 10));
    assert!(
        blocked[0].contains("certificates for example.test in 7 days (limit 50)"),
        "{blocked:?}"
    );
}

#[test]
fn renew_due_runs_many_jobs_together_each_with_its_own_steps_audit_and_diagnosis() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, _clock, alice) = testing::ctx_at(T0);
    servers::load_test_profile(&mut ctx, &alice);
    lc::apply_estate(
        &mut ctx,
        &alice,
        &parse(&estate_of(dir.path(), 12, "true", true)),
    )
    .unwrap();
    let opts = fast(&mut ctx, 1);
    let done = lc::renew_due(&mut ctx, &alice, &opts, &Standard::default(), false).unwrap();
    assert_eq!(done.len(), 13);

    // The refused identity fails alone, diagnosed, before any CA was asked for it.
    let bad = done.iter().find(|r| r.planned.name == "bad").unwrap();
    let bad = bad.outcome.as_ref().unwrap();
    assert_eq!(
        bad.diagnosis.as_ref().unwrap().category,
        Category::PolicyDenied
    );
    assert_eq!(bad.job.failed_step, Some(JobState::Planned));
    assert!(!dir.path().join("deploy/bad.pem").exists());

    // Every other job went all the way, with its own certificate, files and key.
    let read = ctx.store.read();
    for r in done.iter().filter(|r| r.planned.name != "bad") {
        let o = r.outcome.as_ref().unwrap();
        assert_eq!(
            o.job.state,
            JobState::Verified,
            "{}: {:?}",
            r.planned.name,
            o.diagnosis
        );
        let ident = read.identity_by_name(&r.planned.name).unwrap().unwrap();
        let row = read
            .certificate_row(ident.current_certificate_id.unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(Some(&row.fingerprint_sha256), o.fingerprint.as_ref());
        assert_eq!(row.identity.as_deref(), Some(r.planned.name.as_str()));
        // Judged by policy in the transaction that recorded it.
        assert_eq!(row.profile.as_deref(), Some("test-tls"));
        let pem =
            std::fs::read_to_string(dir.path().join(format!("deploy/{}.pem", r.planned.name)));
        assert_eq!(pem.unwrap().matches("BEGIN CERTIFICATE").count(), 2);
        assert!(!dir
            .path()
            .join(format!("deploy/{}.key.certdeck-pending", r.planned.name))
            .exists());
    }
    assert_eq!(read.ledger_count("certificate").unwrap(), 12);
    // A batch-signed order is counted against the order budget like a remote one.
    assert_eq!(read.ledger_count("order").unwrap(), 12);

    // Each job has its own trail, step by step, in order; the chain holds.
    let audit = read.audit_records(&Default::default()).unwrap();
    for r in done.iter().filter(|r| r.planned.name != "bad") {
        let job_id = r.outcome.as_ref().unwrap().job.id;
        let id = job_id.to_string();
        let trail: Vec<&str> = audit
            .iter()
            .rev()
            .filter(|a| {
                (a.object_type == "job" && a.object_id == id)
                    || (a.action == "certificate.issue" && a.details["job"] == job_id)
            })
            .map(|a| a.action.as_str())
            .collect();
        assert_eq!(
            trail,
            [
                "job.plan",
                "job.ordering",
                "certificate.issue",
                "job.issued",
                "job.deploying",
                "job.deployed",
                "job.verifying",
                "job.verified"
            ],
            "job {id}"
        );
    }
    let v = certdeck::audit::verify(read, None).unwrap();
    assert!(v.broken.is_none(), "{:?}", v.broken);
}

#[test]
fn a_process_killed_mid_batch_resumes_every_job_and_orders_one_certificate_each() {
    let deck = deck_with_test_profile();
    let dir = deck.dir.path();
    let estate = dir.join("estate.toml");
    // The first reload kills certdeck (its parent) while the batch is deploying.
    std::fs::write(&estate, estate_of(dir, 3, "kill -9 $PPID", false)).unwrap();
    assert_eq!(deck.run(&["apply", estate.to_str().unwrap()]).0, 0);
    let out = deck.cmd().args(["renew", "--due"]).output().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&out.status),
        Some(9)
    );
    let jobs = deck.json(&["jobs", "--json"]);
    let states: Vec<&str> = jobs
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["deploying"; 3], "{jobs}");

    std::fs::write(&estate, estate_of(dir, 3, "true", false)).unwrap();
    assert_eq!(deck.run(&["apply", estate.to_str().unwrap()]).0, 0);
    let (code, out, err) = deck.run(&["renew", "--due"]);
    assert_eq!(code, 0, "{out}{err}");
    let (ctx, _, _) = testing::ctx_on(&deck.db, T0);
    let read = ctx.store.read();
    assert_eq!(read.ledger_count("certificate").unwrap(), 3);
    let jobs = read.jobs(false, false, 10).unwrap();
    assert_eq!(jobs.len(), 3);
    assert!(jobs.iter().all(|j| j.state == JobState::Verified));
    assert!(certdeck::audit::verify(read, None)
        .unwrap()
        .broken
        .is_none());
}

fn pem_blocks(path: &Path) -> Vec<Vec<u8>> {
    certdeck::ca::local::pem_certificates(&std::fs::read(path).unwrap())
}

/// Whether `fullchain` (leaf first) verifies for `name` up to `root` at `at`, as a TLS
/// client holding only the root would check it.
fn chains_to(
    root: &[u8],
    fullchain: &[Vec<u8>],
    name: &str,
    at: OffsetDateTime,
) -> Result<(), String> {
    use rustls::client::danger::ServerCertVerifier;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(root.to_vec())).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
        std::sync::Arc::new(roots),
        provider,
    )
    .build()
    .unwrap();
    let ders: Vec<CertificateDer<'_>> = fullchain
        .iter()
        .map(|d| CertificateDer::from(d.clone()))
        .collect();
    verifier
        .verify_server_cert(
            &ders[0],
            &ders[1..],
            &ServerName::try_from(name.to_string()).unwrap(),
            &[],
            UnixTime::since_unix_epoch(std::time::Duration::from_secs(at.unix_timestamp() as u64)),
        )
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[test]
fn the_generated_local_ca_is_a_root_and_an_issuing_intermediate_dated_by_the_clock() {
    // Far from the wall clock, so a validity taken from the wall would show.
    let at = datetime!(2031-03-01 12:00 UTC);
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, _clock, alice) = testing::ctx_at(at);
    servers::load_test_profile(&mut ctx, &alice);
    lc::apply_estate(
        &mut ctx,
        &alice,
        &parse(&estate_text(dir.path(), None, None, "")),
    )
    .unwrap();
    let opts = fast(&mut ctx, 1);
    let out = lc::renew(&mut ctx, &alice, "www", &opts, &Standard::default()).unwrap();
    assert!(out.diagnosis.is_none(), "{:?}", out.diagnosis);

    use x509_parser::prelude::{FromDer, X509Certificate};
    let ca = pem_blocks(&dir.path().join("ca/ca.pem"));
    assert_eq!(ca.len(), 2, "issuing CA, then the root");
    let (_, issuing) = X509Certificate::from_der(&ca[0]).unwrap();
    let (_, root) = X509Certificate::from_der(&ca[1]).unwrap();
    assert_eq!(root.subject(), root.issuer());
    assert_eq!(issuing.issuer(), root.subject());
    assert!(issuing.is_ca() && root.is_ca());
    let path_len = |c: &X509Certificate<'_>| {
        c.basic_constraints()
            .unwrap()
            .unwrap()
            .value
            .path_len_constraint
    };
    assert_eq!((path_len(&root), path_len(&issuing)), (Some(1), Some(0)));
    for c in [&root, &issuing] {
        assert_eq!(
            c.validity().not_before.timestamp(),
            (at - time::Duration::hours(1)).unix_timestamp()
        );
    }
    assert!(issuing.validity().not_after < root.validity().not_after);
    for key in ["ca/ca.key", "ca/ca-root.key"] {
        let mode = std::fs::metadata(dir.path().join(key))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{key}");
    }

    // The deployed full chain is leaf + issuing CA, and verifies up to the root alone.
    let full = pem_blocks(&dir.path().join("deploy/www.pem"));
    assert_eq!(full.len(), 2);
    assert_eq!(full[1], ca[0]);
    let (_, leaf) = X509Certificate::from_der(&full[0]).unwrap();
    assert_eq!(
        leaf.validity().not_before.timestamp(),
        (at - time::Duration::minutes(5)).unix_timestamp()
    );
    chains_to(&ca[1], &full, "www.example.test", at).unwrap();
    // Without the intermediate, a client holding the root could not build the path.
    assert!(chains_to(&ca[1], &full[..1], "www.example.test", at).is_err());
}

#[test]
fn an_imported_intermediate_issues_and_a_key_that_is_not_its_own_is_refused() {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let dir = tempfile::tempdir().unwrap();
    let ca_dir = dir.path().join("ca");
    std::fs::create_dir_all(&ca_dir).unwrap();
    let ca = |cn: &str| {
        let mut p = CertificateParams::default();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.not_before = T0 - time::Duration::days(1);
        p.not_after = T0 + time::Duration::days(900);
        p
    };
    let root_key = KeyPair::generate().unwrap();
    let root_params = ca("Imported Root");
    let root = root_params.self_signed(&root_key).unwrap();
    let inter_key = KeyPair::generate().unwrap();
    let inter = ca("Imported Issuing CA")
        .signed_by(&inter_key, &Issuer::new(root_params, &root_key))
        .unwrap();
    std::fs::write(
        ca_dir.join("ca.pem"),
        format!("{}{}", inter.pem(), root.pem()),
    )
    .unwrap();
    let write_key = |k: &KeyPair| {
        let p = ca_dir.join("ca.key");
        let _ = std::fs::remove_file(&p);
        std::fs::write(&p, k.serialize_pem()).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    write_key(&inter_key);

    let (mut ctx, _clock, alice) = testing::ctx_at(T0);
    servers::load_test_profile(&mut ctx, &alice);
    lc::apply_estate(
        &mut ctx,
        &alice,
        &parse(&estate_text(dir.path(), None, None, "")),
    )
    .unwrap();
    let opts = fast(&mut ctx, 1);
    let out = lc::renew(&mut ctx, &alice, "www", &opts, &Standard::default()).unwrap();
    assert!(out.diagnosis.is_none(), "{:?}", out.diagnosis);
    let full = pem_blocks(&dir.path().join("deploy/www.pem"));
    assert_eq!(full[1], inter.der().to_vec());
    chains_to(root.der(), &full, "www.example.test", T0).unwrap();
    assert!(
        !ca_dir.join("ca-root.key").exists(),
        "nothing generated for an imported CA"
    );

    // The root's key where the issuing key belongs: refused, naming the mix-up.
    write_key(&root_key);
    let out = lc::renew(
        &mut ctx,
        &alice,
        "www",
        &RunOptions { now: true, ..opts },
        &Standard::default(),
    )
    .unwrap();
    let d = out.diagnosis.unwrap();
    assert_eq!(d.category, Category::Unauthorized);
    assert!(
        d.message
            .contains("is not the key of the first certificate"),
        "{}",
        d.message
    );
}

#[test]
fn after_batched_renewals_the_stored_compliance_is_what_a_full_evaluation_finds() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, clock, alice) = testing::ctx_at(T0);
    servers::load_test_profile(&mut ctx, &alice);
    lc::apply_estate(
        &mut ctx,
        &alice,
        &parse(&estate_of(dir.path(), 9, "true", false)),
    )
    .unwrap();
    let opts = fast(&mut ctx, 1);
    // First certificates, then renewals that supersede them.
    for _ in 0..2 {
        let done = lc::renew_due(&mut ctx, &alice, &opts, &Standard::default(), false).unwrap();
        assert_eq!(done.len(), 9);
        clock.advance(time::Duration::days(21));
    }
    let snapshot = |ctx: &Ctx| -> Vec<String> {
        let read = ctx.store.read();
        (1..=read.certificate_count().unwrap())
            .filter_map(|id| read.certificate_row(id).unwrap())
            .map(|r| format!("{} {:?} {:?} {:?}", r.id, r.status, r.profile, r.findings))
            .collect()
    };
    let stored = snapshot(&ctx);
    assert!(stored.iter().any(|r| r.contains("Superseded")));
    certdeck::ops::policy::evaluate(&mut ctx, &alice).unwrap();
    assert_eq!(stored, snapshot(&ctx));
}

// ---------------------------------------------------------------- cancelling a job

/// `www` verified once at T0, then (25 days on, due) its renewal fails at deploying
/// because the estate now points its target at an unwritable path. Returns the verified
/// job's id and the failed one.
fn www_with_a_failing_renewal(
    dir: &Path,
) -> (Ctx, certdeck::FixedClock, certdeck::model::Actor, i64, i64) {
    let (mut ctx, clock, alice) = testing::ctx_at(T0);
    servers::load_test_profile(&mut ctx, &alice);
    let good = estate_text(dir, None, None, "");
    lc::apply_estate(&mut ctx, &alice, &parse(&good)).unwrap();
    let opts = fast(&mut ctx, 1);
    let first = lc::renew(&mut ctx, &alice, "www", &opts, &Standard::default()).unwrap();
    assert!(first.diagnosis.is_none(), "{:?}", first.diagnosis);
    let broken = good.replace(
        &format!("{}/deploy/www.pem", dir.display()),
        "/dev/null/www.pem",
    );
    lc::apply_estate(&mut ctx, &alice, &parse(&broken)).unwrap();
    clock.advance(time::Duration::days(25));
    let failing = lc::renew(&mut ctx, &alice, "www", &opts, &Standard::default()).unwrap();
    assert_eq!(
        failing.diagnosis.map(|d| d.category),
        Some(Category::DeployPermission)
    );
    assert_eq!(failing.job.failed_step, Some(JobState::Deploying));
    (ctx, clock, alice, first.job.id, failing.job.id)
}

fn audit_of_job(ctx: &Ctx, id: i64) -> Vec<certdeck::model::AuditRecord> {
    ctx.store
        .read()
        .audit_records(&certdeck::store::AuditQuery {
            object_type: Some("job".into()),
            object_id: Some(id.to_string()),
            ..Default::default()
        })
        .unwrap()
}

#[test]
fn a_cancelled_job_records_its_reason_is_never_resumed_and_the_identity_renews_with_a_new_job() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, _clock, alice, _verified, failing) = www_with_a_failing_renewal(dir.path());
    let before = ctx.store.read().identity_by_name("www").unwrap().unwrap();
    let staged = ctx.store.read().job(failing).unwrap().unwrap().key_staging;

    // Addressed by the identity: its open job is the one cancelled.
    let out = lc::cancel_job(
        &mut ctx,
        &alice,
        &lc::JobSelector::OpenJobOf("www".into()),
        "host web-3 is being decommissioned",
    )
    .unwrap();
    assert_eq!(out.job.id, failing);
    assert_eq!(out.was, "failed@deploying");
    let job = ctx.store.read().job(failing).unwrap().unwrap();
    assert_eq!(job.state, JobState::Cancelled);
    assert_eq!(
        job.message.as_deref(),
        Some("host web-3 is being decommissioned")
    );
    assert_eq!(job.next_attempt_at, None);
    let finished = ctx.store.read().jobs_finished_since(ctx.now(), 10).unwrap();
    assert!(
        finished.iter().any(|f| f.job.id == failing),
        "finished_at is set"
    );
    if let Some(p) = staged {
        assert!(!Path::new(&p).exists(), "the staged key {p} is removed");
    }

    // Audited, with the reason and where the job stood.
    let rec = &audit_of_job(&ctx, failing)[0];
    assert_eq!(rec.action, "job.cancel");
    assert_eq!(rec.outcome, "success");
    assert_eq!(rec.actor, "alice");
    assert_eq!(rec.details["reason"], "host web-3 is being decommissioned");
    assert_eq!(rec.details["state"], "failed@deploying");
    assert_eq!(rec.details["diagnosis"], "deploy_permission");

    // The identity keeps the certificate it had.
    let after = ctx.store.read().identity_by_name("www").unwrap().unwrap();
    assert_eq!(after.current_certificate_id, before.current_certificate_id);
    assert_eq!(ctx.store.read().open_job(after.id).unwrap(), None);

    // The next `renew --due` (the target fixed) does not touch the cancelled job: it
    // opens a new one, which renews the identity.
    lc::apply_estate(
        &mut ctx,
        &alice,
        &parse(&estate_text(dir.path(), None, None, "")),
    )
    .unwrap();
    let records_before = audit_of_job(&ctx, failing).len();
    let opts = fast(&mut ctx, 1);
    let due = lc::renew_due(&mut ctx, &alice, &opts, &Standard::default(), false).unwrap();
    let renewed = due
        .iter()
        .find_map(|r| r.outcome.as_ref())
        .expect("www is due and renewed");
    assert_ne!(renewed.job.id, failing, "a new job, not the cancelled one");
    assert!(renewed.diagnosis.is_none(), "{:?}", renewed.diagnosis);
    assert_eq!(renewed.job.state, JobState::Verified);
    let job = ctx.store.read().job(failing).unwrap().unwrap();
    assert_eq!(job.state, JobState::Cancelled);
    assert_eq!(audit_of_job(&ctx, failing).len(), records_before);
    assert_ne!(
        ctx.store
            .read()
            .identity_by_name("www")
            .unwrap()
            .unwrap()
            .current_certificate_id,
        before.current_certificate_id
    );

    // Running the cancelled job by id does nothing either.
    let again = lc::execute(&mut ctx, &alice, failing, &opts, &Standard::default()).unwrap();
    assert_eq!(again.job.state, JobState::Cancelled);
    assert_eq!(audit_of_job(&ctx, failing).len(), records_before);
}

#[test]
fn only_an_open_job_with_a_reason_can_be_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, _clock, alice, verified, failing) = www_with_a_failing_renewal(dir.path());
    let audit = ctx.store.read().audit_count().unwrap();

    let err =
        lc::cancel_job(&mut ctx, &alice, &lc::JobSelector::Id(verified), "tidy up").unwrap_err();
    assert!(
        matches!(err, certdeck::ops::OpError::Conflict(_))
            && err.to_string().contains("already verified"),
        "{err}"
    );
    for blank in ["", "   "] {
        let err =
            lc::cancel_job(&mut ctx, &alice, &lc::JobSelector::Id(failing), blank).unwrap_err();
        assert!(err.to_string().contains("a reason is required"), "{err}");
    }
    let err = lc::cancel_job(&mut ctx, &alice, &lc::JobSelector::Id(9999), "x").unwrap_err();
    assert!(err.to_string().contains("job 9999"), "{err}");
    // Nothing changed, nothing recorded.
    assert_eq!(ctx.store.read().audit_count().unwrap(), audit);
    assert_eq!(
        ctx.store.read().job(failing).unwrap().unwrap().state,
        JobState::Failed
    );

    // Once cancelled, a second cancellation is refused: the identity has no open job.
    lc::cancel_job(&mut ctx, &alice, &lc::JobSelector::Id(failing), "first").unwrap();
    let err = lc::cancel_job(
        &mut ctx,
        &alice,
        &lc::JobSelector::OpenJobOf("www".into()),
        "second",
    )
    .unwrap_err();
    assert!(err.to_string().contains("no open job"), "{err}");
    let err =
        lc::cancel_job(&mut ctx, &alice, &lc::JobSelector::Id(failing), "second").unwrap_err();
    assert!(err.to_string().contains("already cancelled"), "{err}");
}

#[test]
fn cancelling_needs_renewal_rights_within_scope_and_a_denial_is_audited() {
    use certdeck::access::{Role, Scope};
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, _clock, alice, _verified, failing) = www_with_a_failing_renewal(dir.path());
    // Central PKI is only consulted (C) on renewal and failure response.
    testing::grant(
        &mut ctx,
        &alice,
        "carol",
        Role::CentralPki,
        Scope::default(),
    );
    // An app owner may act (R), but only on their own team's identities.
    testing::grant(
        &mut ctx,
        &alice,
        "bob",
        Role::AppOwner,
        Scope {
            owners: vec!["payments".into()],
            ..Default::default()
        },
    );
    for who in ["carol", "bob"] {
        let err = lc::cancel_job(
            &mut ctx,
            &testing::operator(who),
            &lc::JobSelector::Id(failing),
            "not mine to cancel",
        )
        .unwrap_err();
        assert!(
            matches!(err, certdeck::ops::OpError::Denied(_)),
            "{who}: {err}"
        );
        let rec = &audit_of_job(&ctx, failing)[0];
        assert_eq!(
            (
                rec.action.as_str(),
                rec.outcome.as_str(),
                rec.actor.as_str()
            ),
            ("job.cancel", "denied", who)
        );
    }
    assert_eq!(
        ctx.store.read().job(failing).unwrap().unwrap().state,
        JobState::Failed
    );
    // The same app owner scoped to the identity's owner may.
    testing::grant(
        &mut ctx,
        &alice,
        "dana",
        Role::AppOwner,
        Scope {
            owners: vec!["edge-team".into()],
            ..Default::default()
        },
    );
    lc::cancel_job(
        &mut ctx,
        &testing::operator("dana"),
        &lc::JobSelector::Id(failing),
        "edge-team retires it",
    )
    .unwrap();
}

#[test]
fn jobs_cancel_on_the_command_line_cancels_by_identity_or_id_and_refuses_what_it_cannot() {
    let deck = deck_with_test_profile();
    let dir = deck.dir.path();
    let estate = dir.join("estate.toml");
    std::fs::write(&estate, two_identities(dir, true)).unwrap();
    assert_eq!(deck.run(&["apply", estate.to_str().unwrap()]).0, 0);
    assert_eq!(
        deck.run(&["renew", "www", "--now"]).0,
        1,
        "the CA is broken"
    );

    // Usage: no reason, or an empty one.
    assert_eq!(deck.run(&["jobs", "cancel", "www"]).0, 2);
    let (code, _, err) = deck.run(&["jobs", "cancel", "www", "--reason", " "]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("a reason is required"), "{err}");

    let (code, out, err) = deck.run(&["jobs", "cancel", "www", "--reason", "moving to the new CA"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("(www) cancelled (was failed@ordering): moving to the new CA"),
        "{out}"
    );
    let jobs = deck.json(&["jobs", "--json"]);
    let job = &jobs.as_array().unwrap()[0];
    assert_eq!(job["identity"], "www");
    assert_eq!(job["state"], "cancelled");
    assert_eq!(job["message"], "moving to the new CA");
    let id = job["id"].as_i64().unwrap().to_string();

    // Refused (exit 1): the job is over, and the identity has no open job left.
    let (code, _, err) = deck.run(&["jobs", "cancel", &id, "--reason", "again"]);
    assert_eq!(code, 1);
    assert!(err.contains("already cancelled"), "{err}");
    let (code, _, err) = deck.run(&["jobs", "cancel", "www", "--reason", "again"]);
    assert_eq!(code, 1);
    assert!(err.contains("no open job"), "{err}");

    // `jobs` and its filters behave as before.
    let (code, out, _) = deck.run(&["jobs", "--failed"]);
    assert_eq!(code, 0);
    assert!(!out.contains("www"), "{out}");
    let (code, out, _) = deck.run(&["jobs"]);
    assert_eq!(code, 0);
    let line = out.lines().find(|l| l.contains(" www ")).unwrap_or(&out);
    assert!(
        line.contains("cancelled") && line.ends_with("moving to the new CA"),
        "{out}"
    );
}

#[test]
fn a_job_cancelled_while_it_runs_stays_cancelled_and_its_run_records_no_further_step() {
    // The reload command cancels the job from a second process while `renew` is between
    // deploying and deployed (no transaction is held across the reload).
    let deck = deck_with_test_profile();
    let dir = deck.dir.path();
    let cancel = format!(
        "{} --db {} jobs cancel www --reason 'cancelled mid-run'",
        env!("CARGO_BIN_EXE_certdeck"),
        deck.db.display()
    );
    let estate = dir.join("estate.toml");
    std::fs::write(&estate, estate_text(dir, None, Some(&cancel), "")).unwrap();
    assert_eq!(deck.run(&["apply", estate.to_str().unwrap()]).0, 0);

    let (code, out, err) = deck.run(&["renew", "www"]);
    assert_eq!(code, 1, "a cancelled renewal did not complete: {out}{err}");
    assert!(
        out.contains("www: cancelled (job 1): cancelled mid-run"),
        "{out}"
    );
    let jobs = deck.json(&["jobs", "--json"]);
    let job = &jobs.as_array().unwrap()[0];
    assert_eq!(job["state"], "cancelled");
    assert_eq!(job["message"], "cancelled mid-run");
    // The run recorded nothing for the job after the cancellation.
    let (ctx, _clock, _admin) = testing::ctx_on(&deck.db, support::now());
    let actions: Vec<String> = ctx
        .store
        .read()
        .audit_records(&certdeck::store::AuditQuery {
            object_type: Some("job".into()),
            object_id: Some("1".into()),
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|r| r.action)
        .collect();
    assert_eq!(actions[0], "job.cancel", "{actions:?}");
    assert!(
        !actions.contains(&"job.deployed".to_string()),
        "{actions:?}"
    );
    let www = ctx.store.read().identity_by_name("www").unwrap().unwrap();
    assert_eq!(www.current_certificate_id, None);
    // A new run is a new job.
    std::fs::write(&estate, estate_text(dir, None, None, "")).unwrap();
    assert_eq!(deck.run(&["apply", estate.to_str().unwrap()]).0, 0);
    let (code, out, _) = deck.run(&["renew", "www"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("www: verified (job 2"), "{out}");
}

#[test]
fn a_job_held_for_an_approval_nobody_will_give_can_be_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, _clock, alice, _verified, failing) = www_with_a_failing_renewal(dir.path());
    // Stored the way the gate holds a job: a stop at `planned`, diagnosis awaiting_approval.
    let now = ctx.now();
    ctx.store
        .transaction(|tx| {
            tx.fail_job(
                failing,
                JobState::Planned,
                Category::AwaitingApproval,
                "awaiting issuance approval: no issuance request approves it",
                1,
                now + time::Duration::hours(1),
                now,
            )
        })
        .unwrap();
    assert!(ctx
        .store
        .read()
        .job(failing)
        .unwrap()
        .unwrap()
        .awaiting_approval());
    let by_name = lc::JobSelector::parse(ctx.store.read(), "www").unwrap();
    assert_eq!(by_name, lc::JobSelector::OpenJobOf("www".into()));
    let out = lc::cancel_job(&mut ctx, &alice, &by_name, "the team chose another profile").unwrap();
    assert_eq!(out.was, "awaiting_approval");
    assert_eq!(
        audit_of_job(&ctx, failing)[0].details["state"],
        "awaiting_approval"
    );
    // No longer held: the job is over, not awaiting anything.
    assert!(ctx
        .store
        .read()
        .jobs_awaiting_approval(10)
        .unwrap()
        .is_empty());
    // `#N` and `N` address the job by id.
    assert_eq!(
        lc::JobSelector::parse(ctx.store.read(), &format!("#{failing}")).unwrap(),
        lc::JobSelector::Id(failing)
    );
}
