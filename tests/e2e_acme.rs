//! End to end against a real ACME server: Pebble (with pebble-challtestsrv as its DNS)
//! started on loopback ports for each test and stopped after it.

#[path = "support/servers.rs"]
mod servers;

use certdeck::ca::{Connector, Connectors, Standard};
use certdeck::lifecycle::estate::Estate;
use certdeck::lifecycle::{Category, Diagnosis, JobState};
use certdeck::model::Authority;
use certdeck::ops::lifecycle::{self as lc, RunOptions};
use certdeck::testing;
use servers::Pebble;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::rc::Rc;

fn now() -> time::OffsetDateTime {
    // Pebble issues from the wall clock; the inventory's clock follows it.
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap()
}

fn estate(dir: &Path, pebble: &Pebble, challenge: &str) -> Estate {
    let d = dir.display();
    let challenge = match challenge {
        "dns-01" => format!(
            "challenge = \"dns-01\"\ndns01_hook = \"{}\"",
            pebble.dns01_hook().display()
        ),
        _ => format!(
            "challenge = \"http-01\"\nhttp01_listen = \"{}\"",
            pebble.http01_listen()
        ),
    };
    let text = format!(
        r#"
[[owner]]
name = "edge-team"

[[authority]]
name = "pebble"
kind = "acme"
directory = "{dir_url}"
ca_bundle = "{bundle}"
credential = "file:{d}/acme/account.json"
environment = "prod"
contact = ["mailto:pki@example.test"]
{challenge}

[[identity]]
name = "www"
owner = "edge-team"
profile = "test-tls"
environment = "prod"
authority = "pebble"
sans = ["www.example.test", "example.test"]
key = "ecdsa-p256"

[[identity.target]]
cert = "{d}/deploy/www.pem"
key = "{d}/deploy/www.key"
"#,
        dir_url = pebble.directory(),
        bundle = pebble.ca_bundle().display(),
    );
    Estate::parse(&text, Path::new("estate.toml")).unwrap()
}

fn setup(
    challenge: &str,
) -> (
    Pebble,
    tempfile::TempDir,
    certdeck::ops::Ctx,
    certdeck::FixedClock,
    certdeck::model::Actor,
    RunOptions,
) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let pebble = Pebble::start();
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, clock, alice) = testing::ctx_at(now());
    servers::load_test_profile(&mut ctx, &alice);
    ctx.config.lifecycle.circuit_failures = 2;
    lc::apply_estate(&mut ctx, &alice, &estate(dir.path(), &pebble, challenge)).unwrap();
    let opts = RunOptions::from_ctx(&ctx, false);
    (pebble, dir, ctx, clock, alice, opts)
}

#[test]
fn http01_issues_renews_and_revokes_through_pebble() {
    let (pebble, dir, mut ctx, clock, alice, opts) = setup("http-01");
    let out = lc::renew(&mut ctx, &alice, "www", &opts, &Standard::default()).unwrap();
    assert!(
        out.diagnosis.is_none(),
        "{:?}\n{}",
        out.diagnosis,
        pebble.log()
    );
    assert_eq!(out.job.state, JobState::Verified);
    // The account key was created on first use, private.
    let acct = dir.path().join("acme/account.json");
    assert_eq!(
        std::fs::metadata(&acct).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let first = ctx
        .store
        .read()
        .certificate_row(out.job.certificate_id.unwrap())
        .unwrap()
        .unwrap();
    assert!(first.issuer.contains("Pebble"), "{}", first.issuer);
    assert!(first.sans.contains(&"example.test".to_string()));
    let deployed = std::fs::read_to_string(dir.path().join("deploy/www.pem")).unwrap();
    assert!(
        deployed.matches("BEGIN CERTIFICATE").count() >= 2,
        "leaf and chain"
    );

    // Renewal: a new certificate, the old one superseded, the same account.
    clock.advance(time::Duration::minutes(1));
    let again = lc::renew(&mut ctx, &alice, "www", &opts, &Standard::default()).unwrap();
    assert!(again.diagnosis.is_none(), "{:?}", again.diagnosis);
    assert_ne!(again.job.certificate_id, out.job.certificate_id);
    let old = ctx.store.read().certificate_row(first.id).unwrap().unwrap();
    assert_eq!(old.status.as_str(), "superseded");
    assert_eq!(ctx.store.read().ledger_count("order").unwrap(), 2);

    // Revocation at the CA, once a second operator approved it.
    servers::revoke_with_approval(
        &mut ctx,
        &alice,
        again.job.certificate_id.unwrap(),
        "superseded",
        &Standard::default(),
    );
    let row = ctx
        .store
        .read()
        .certificate_row(again.job.certificate_id.unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(row.status.as_str(), "revoked");
    // Revoking twice is refused by certdeck before the CA is asked.
    assert!(lc::revoke(
        &mut ctx,
        &alice,
        row.id,
        "superseded",
        None,
        &Standard::default()
    )
    .is_err());
}

#[test]
fn dns01_issues_through_a_hook_that_sets_txt_records() {
    let (pebble, _dir, mut ctx, _clock, alice, opts) = setup("dns-01");
    let out = lc::renew(&mut ctx, &alice, "www", &opts, &Standard::default()).unwrap();
    assert!(
        out.diagnosis.is_none(),
        "{:?}\n{}",
        out.diagnosis,
        pebble.log()
    );
    assert_eq!(out.job.state, JobState::Verified);
}

#[test]
fn pebble_stopped_is_ca_unavailable_backs_off_and_opens_the_circuit() {
    let (mut pebble, _dir, mut ctx, clock, alice, opts) = setup("http-01");
    pebble.stop();
    let out = lc::renew(&mut ctx, &alice, "www", &opts, &Standard::default()).unwrap();
    let d = out.diagnosis.unwrap();
    assert_eq!(d.category, Category::CaUnavailable, "{d}");
    assert_eq!(
        out.job.next_attempt_at,
        Some(clock_now(&ctx) + time::Duration::hours(1))
    );
    assert!(ctx.store.read().alerts(true).unwrap().is_empty());
    let forced = RunOptions { now: true, ..opts };
    let out = lc::renew(&mut ctx, &alice, "www", &forced, &Standard::default()).unwrap();
    assert_eq!(out.job.attempts, 2);
    assert_eq!(
        out.job.next_attempt_at,
        Some(clock_now(&ctx) + time::Duration::hours(2))
    );
    let alerts = ctx.store.read().alerts(true).unwrap();
    assert_eq!(alerts.len(), 1, "circuit opened after 2 failures");
    assert_eq!(alerts[0].kind, "circuit_open");
    let plan = lc::plan_renewals(&ctx, true).unwrap();
    assert!(
        matches!(&plan[0].decision, certdeck::lifecycle::planner::Decision::Blocked { reason } if reason.contains("circuit open"))
    );
    let _ = clock;
}

fn clock_now(ctx: &certdeck::ops::Ctx) -> time::OffsetDateTime {
    ctx.now()
}

/// Wraps the real connectors; "crashes" (panics) right after the order is recorded.
struct CrashAfterOrder(Standard);

struct Crashing(Rc<dyn Connector>);

impl Connectors for CrashAfterOrder {
    fn connector(&self, a: &Authority) -> Result<Rc<dyn Connector>, Diagnosis> {
        Ok(Rc::new(Crashing(self.0.connector(a)?)))
    }
}

impl Connector for Crashing {
    fn issue(
        &self,
        req: &certdeck::ca::OrderRequest<'_>,
        record: &mut dyn FnMut(&str) -> Result<(), Diagnosis>,
    ) -> Result<certdeck::ca::Issued, Diagnosis> {
        self.0.issue(req, &mut |url| {
            record(url)?;
            panic!("simulated crash after the order was placed");
        })
    }
    fn revoke(&self, r: &certdeck::ca::Revocation<'_>) -> Result<(), Diagnosis> {
        self.0.revoke(r)
    }
}

#[test]
fn a_run_killed_after_ordering_resumes_the_same_order_and_orders_exactly_once() {
    let (pebble, _dir, mut ctx, _clock, alice, opts) = setup("http-01");
    let crashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        lc::renew(
            &mut ctx,
            &alice,
            "www",
            &opts,
            &CrashAfterOrder(Standard::default()),
        )
    }));
    assert!(crashed.is_err(), "the run died mid-order");
    let job = ctx.store.read().jobs(false, true, 1).unwrap().remove(0);
    assert_eq!(job.state, JobState::Ordering);
    let order_url = job
        .order_ref
        .clone()
        .expect("order recorded before the crash");

    let out = lc::renew(&mut ctx, &alice, "www", &opts, &Standard::default()).unwrap();
    assert!(
        out.diagnosis.is_none(),
        "{:?}\n{}",
        out.diagnosis,
        pebble.log()
    );
    assert_eq!(out.job.id, job.id);
    assert_eq!(out.job.order_ref.as_deref(), Some(order_url.as_str()));
    assert_eq!(
        ctx.store.read().ledger_count("order").unwrap(),
        1,
        "exactly one order placed"
    );
    assert_eq!(ctx.store.read().ledger_count("certificate").unwrap(), 1);
}
