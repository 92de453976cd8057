//! Approvals the lifecycle engine acts on, with the local CA: an issuance the profile
//! wants approved is held until another operator approves it, and the approval covers
//! the identity's names, profile and authority as approved; an authority the profile does
//! not list is usable once a CA-source approval says so; revocation goes through
//! approval unless the profile says otherwise; pending requests expire on schedule.

#[path = "support/servers.rs"]
mod servers;
mod support;

use certdeck::access::{Role, Scope};
use certdeck::ca::Standard;
use certdeck::lifecycle::estate::Estate;
use certdeck::lifecycle::{Category, JobState};
use certdeck::model::Actor;
use certdeck::ops::lifecycle::{self as lc, Revoked, RunOptions};
use certdeck::ops::{workflow, Ctx, OpError};
use certdeck::store::AuditQuery;
use certdeck::testing::{self, grant, operator};

use certdeck::workflow::{Payload, State};
use std::path::Path;
use time::macros::datetime;
use time::OffsetDateTime;

const T0: OffsetDateTime = datetime!(2026-11-29 12:00 UTC);

/// `held-tls` wants one central-pki approval before issuance; `open-tls` wants none and
/// lets its certificates be revoked without approval. Neither lists the `backup` CA.
fn policy(revocation_approvals: u32) -> String {
    format!(
        r#"
[[profile]]
name = "held-tls"
environment = "prod"
authorities = ["internal"]
key_types = ["ecdsa-p256"]
max_validity_days = 90
owner_required = true
approvals = 1
approver_role = "central-pki"
revocation_approvals = {revocation_approvals}
[profile.sans]
dns_suffixes = ["example.test"]

[[profile]]
name = "open-tls"
environment = "prod"
authorities = ["internal"]
key_types = ["ecdsa-p256"]
max_validity_days = 90
owner_required = true
revocation_approvals = 0
[profile.sans]
dns_suffixes = ["example.test"]
"#
    )
}

/// Two local CAs (`internal`, `backup`) and identity `www` under `profile`, issued by
/// `authority`, for `sans`, deployed to files.
fn estate(dir: &Path, profile: &str, authority: &str, sans: &[&str]) -> Estate {
    Estate::parse(
        &estate_text(dir, profile, authority, sans),
        Path::new("estate.toml"),
    )
    .expect("estate parses")
}

fn estate_text(dir: &Path, profile: &str, authority: &str, sans: &[&str]) -> String {
    let d = dir.display();
    let ca = |name: &str| {
        format!(
            r#"
[[authority]]
name = "{name}"
kind = "local"
ca_cert = "{d}/{name}/ca.pem"
credential = "file:{d}/{name}/ca.key"
validity_days = 30
environment = "prod"
"#
        )
    };
    let sans: Vec<String> = sans.iter().map(|s| format!("\"{s}\"")).collect();
    format!(
        r#"
[[owner]]
name = "edge-team"
{}{}
[[identity]]
name = "www"
owner = "edge-team"
profile = "{profile}"
authority = "{authority}"
environment = "prod"
sans = [{}]
key = "ecdsa-p256"

[[identity.target]]
cert = "{d}/deploy/www.pem"
key = "{d}/deploy/www.key"
reload = "true"
"#,
        ca("internal"),
        ca("backup"),
        sans.join(", ")
    )
}

/// `certdeck request issuance --identity www`, as JSON.
fn request_issuance_for_www(deck: &support::Deck) -> serde_json::Value {
    deck.json(&[
        "request",
        "issuance",
        "--identity",
        "www",
        "--justification",
        "new storefront",
        "--json",
    ])
}

/// A CLI deck with `policy` loaded and `www` (as in [`estate_text`], under `profile`)
/// applied.
fn cli_deck_with_www(policy: String, profile: &str) -> support::Deck {
    let deck = support::Deck::new();
    let dir = deck.dir.path();
    std::fs::create_dir_all(dir.join("policy")).unwrap();
    std::fs::write(dir.join("policy/p.toml"), policy).unwrap();
    assert_eq!(
        deck.run(&["policy", "load", dir.join("policy").to_str().unwrap()])
            .0,
        0
    );
    let file = dir.join("estate.toml");
    std::fs::write(
        &file,
        estate_text(dir, profile, "internal", &["www.example.test"]),
    )
    .unwrap();
    assert_eq!(deck.run(&["apply", file.to_str().unwrap()]).0, 0);
    deck
}

/// alice (the bootstrapped administrator, who renews) and bob (central-pki) share one
/// inventory; `www` is declared under `profile`.
fn team(
    dir: &Path,
    profile: &str,
    revocation_approvals: u32,
) -> (Ctx, certdeck::FixedClock, Actor, Actor) {
    let (ctx, clock, alice) = testing::ctx_at(T0);
    equip(ctx, clock, alice, dir, profile, revocation_approvals)
}

/// [`team`] on a database someone already opened (a file, for an upgrade).
fn equip(
    mut ctx: Ctx,
    clock: certdeck::FixedClock,
    alice: Actor,
    dir: &Path,
    profile: &str,
    revocation_approvals: u32,
) -> (Ctx, certdeck::FixedClock, Actor, Actor) {
    certdeck::ops::policy::load_files(
        &mut ctx,
        &alice,
        &[("policy.toml".into(), policy(revocation_approvals))],
    )
    .expect("policy loads");
    grant(&mut ctx, &alice, "bob", Role::CentralPki, Scope::default());
    lc::apply_estate(
        &mut ctx,
        &alice,
        &estate(dir, profile, "internal", &["www.example.test"]),
    )
    .unwrap();
    (ctx, clock, alice, operator("bob"))
}

fn issuance_for(identity: &str) -> Payload {
    Payload::Issuance {
        identity: Some(identity.into()),
        profile: None,
        authority: None,
        environment: None,
        sans: vec![],
        validity_days: None,
        approver_role: None,
    }
}

fn renew(ctx: &mut Ctx, who: &Actor) -> lc::RunOutcome {
    let opts = RunOptions::from_ctx(ctx, false);
    lc::renew(ctx, who, "www", &opts, &Standard::default()).unwrap()
}

/// `renew www --now`: ignoring the backoff of a job held earlier.
fn renew_now(ctx: &mut Ctx, who: &Actor) -> lc::RunOutcome {
    let opts = RunOptions {
        now: true,
        ..RunOptions::from_ctx(ctx, false)
    };
    lc::renew(ctx, who, "www", &opts, &Standard::default()).unwrap()
}

fn audited(ctx: &Ctx, action: &str) -> Vec<serde_json::Value> {
    ctx.store
        .read()
        .audit_records(&AuditQuery::default())
        .unwrap()
        .into_iter()
        .filter(|r| r.action == action && r.outcome.as_str() == "success")
        .map(|r| r.details)
        .collect()
}

#[test]
fn an_issuance_the_profile_holds_waits_for_another_operators_approval_and_then_renews_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, _clock, alice, bob) = team(dir.path(), "held-tls", 1);

    // Held before any CA is asked — awaiting approval, not refused by policy — with the
    // request to open named.
    let held = renew(&mut ctx, &alice);
    let d = held.diagnosis.expect("held for approval");
    assert_eq!(d.category, Category::AwaitingApproval);
    assert!(
        d.message.starts_with("awaiting issuance approval: ")
            && d.message.contains("wants 1 approval(s) by central-pki")
            && d.message
                .contains("certdeck request issuance --identity www"),
        "{}",
        d.message
    );
    assert_eq!(ctx.store.read().certificate_count().unwrap(), 0);

    // The request records what is approved: the identity as it stands, and the
    // profile's threshold and approving role.
    let req = workflow::open(&mut ctx, &alice, issuance_for("www"), "new site", None).unwrap();
    let Payload::Issuance {
        sans,
        profile,
        authority,
        approver_role,
        ..
    } = &req.payload
    else {
        panic!("issuance payload")
    };
    assert_eq!(sans, &vec!["www.example.test".to_string()]);
    assert_eq!(profile.as_deref(), Some("held-tls"));
    assert_eq!(authority.as_deref(), Some("internal"));
    assert_eq!(approver_role.as_deref(), Some("central-pki"));
    assert_eq!(req.approvals_required, 1);

    // Pending: still held, and the diagnosis points at the waiting request and how
    // many approvals it still lacks.
    let d = renew_now(&mut ctx, &alice).diagnosis.expect("still held");
    assert_eq!(d.category, Category::AwaitingApproval);
    assert!(
        d.message.contains(&format!(
            "request #{} has 0 of 1 approval(s) by central-pki",
            req.id
        )) && d.message.contains(&format!("certdeck approve {}", req.id)),
        "{}",
        d.message
    );

    // Nobody approves their own request.
    let e = workflow::approve(&mut ctx, &alice, req.id, "mine").unwrap_err();
    assert!(matches!(e, OpError::Denied(_)), "{e:?}");
    // The profile says central-pki approves: a platform operator may not.
    grant(&mut ctx, &alice, "carol", Role::Platform, Scope::default());
    let e = workflow::approve(&mut ctx, &operator("carol"), req.id, "ok").unwrap_err();
    assert!(e.to_string().contains("central-pki"), "{e}");

    workflow::approve(&mut ctx, &bob, req.id, "site reviewed").unwrap();
    // The held job was made due at once, not after its backoff.
    assert_eq!(audited(&ctx, "job.release").len(), 1);
    let out = renew(&mut ctx, &alice);
    assert!(out.diagnosis.is_none(), "{:?}", out.diagnosis);
    assert_eq!(out.job.state, JobState::Verified);
    let cited = audited(&ctx, "job.ordering");
    assert_eq!(cited.last().unwrap()["approval_request"], req.id);

    // A renewal with the same names needs no new approval, and cites the same request.
    let again = renew_now(&mut ctx, &alice);
    assert!(again.diagnosis.is_none(), "{:?}", again.diagnosis);
    assert_ne!(again.job.id, out.job.id);
    assert_eq!(
        audited(&ctx, "job.ordering").last().unwrap()["approval_request"],
        req.id
    );

    // A change of names is a different certificate: held again, naming the reason.
    lc::apply_estate(
        &mut ctx,
        &alice,
        &estate(
            dir.path(),
            "held-tls",
            "internal",
            &["www.example.test", "shop.example.test"],
        ),
    )
    .unwrap();
    let d = renew_now(&mut ctx, &alice)
        .diagnosis
        .expect("held after a change of names");
    assert_eq!(d.category, Category::AwaitingApproval);
    assert!(
        d.message.contains("a change of names needs a new approval")
            && d.message.contains("shop.example.test"),
        "{}",
        d.message
    );
}

#[test]
fn a_denied_withdrawn_or_expired_issuance_request_authorises_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, clock, alice, bob) = team(dir.path(), "held-tls", 1);
    let denied = workflow::open(&mut ctx, &alice, issuance_for("www"), "a", None).unwrap();
    workflow::deny(&mut ctx, &bob, denied.id, "not this quarter").unwrap();
    let d = renew(&mut ctx, &alice).diagnosis.unwrap();
    assert!(
        d.message
            .contains(&format!("request {} was denied", denied.id)),
        "{}",
        d.message
    );

    let withdrawn = workflow::open(&mut ctx, &alice, issuance_for("www"), "b", None).unwrap();
    workflow::withdraw(&mut ctx, &alice, withdrawn.id).unwrap();
    let expired = workflow::open(&mut ctx, &alice, issuance_for("www"), "c", None).unwrap();
    clock.advance(time::Duration::hours(
        ctx.config.workflow.pending_expiry_hours as i64 + 1,
    ));
    let out = renew_now(&mut ctx, &alice);
    let d = out.diagnosis.expect("nothing approves it");
    assert!(
        d.message
            .contains(&format!("request {} was expired", expired.id)),
        "{}",
        d.message
    );
    assert_eq!(ctx.store.read().certificate_count().unwrap(), 0);
}

#[test]
fn an_approval_lapses_after_the_configured_days_and_a_raised_threshold_needs_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, clock, alice, bob) = team(dir.path(), "held-tls", 1);
    ctx.config.workflow.issuance_approval_days = 30;
    let req = workflow::open(&mut ctx, &alice, issuance_for("www"), "site", None).unwrap();
    workflow::approve(&mut ctx, &bob, req.id, "ok").unwrap();
    assert!(renew(&mut ctx, &alice).diagnosis.is_none());

    clock.advance(time::Duration::days(31));
    let opts = RunOptions {
        now: true,
        ..RunOptions::from_ctx(&ctx, false)
    };
    let d = lc::renew(&mut ctx, &alice, "www", &opts, &Standard::default())
        .unwrap()
        .diagnosis
        .expect("lapsed");
    assert_eq!(
        d.category,
        Category::AwaitingApproval,
        "a lapse waits on a reviewer"
    );
    assert!(d.message.contains("lapsed"), "{}", d.message);

    // With no lapse configured the same approval stands again, until the profile asks
    // for more approvals than it got.
    ctx.config.workflow.issuance_approval_days = 0;
    let opts = RunOptions {
        now: true,
        ..RunOptions::from_ctx(&ctx, false)
    };
    assert!(
        lc::renew(&mut ctx, &alice, "www", &opts, &Standard::default())
            .unwrap()
            .diagnosis
            .is_none()
    );
    certdeck::ops::policy::load_files(
        &mut ctx,
        &alice,
        &[(
            "policy.toml".into(),
            policy(1).replace("approvals = 1\n", "approvals = 2\n"),
        )],
    )
    .unwrap();
    let d = lc::renew(&mut ctx, &alice, "www", &opts, &Standard::default())
        .unwrap()
        .diagnosis
        .expect("threshold raised");
    assert_eq!(d.category, Category::AwaitingApproval);
    assert!(
        d.message.contains("has 1 approval(s) by central-pki") && d.message.contains("now wants 2"),
        "{}",
        d.message
    );
}

#[test]
fn an_authority_the_profile_does_not_list_is_usable_once_a_ca_source_approval_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, _clock, alice, bob) = team(dir.path(), "open-tls", 0);
    lc::apply_estate(
        &mut ctx,
        &alice,
        &estate(dir.path(), "open-tls", "backup", &["www.example.test"]),
    )
    .unwrap();

    // Not listed, not approved: refused, saying how to ask.
    let d = renew(&mut ctx, &alice).diagnosis.expect("refused");
    assert_eq!(d.category, Category::PolicyDenied);
    assert!(
        d.message
            .contains("certdeck request ca-approval --authority backup --profile open-tls"),
        "{}",
        d.message
    );

    let req = workflow::open(
        &mut ctx,
        &alice,
        Payload::CaApproval {
            authority: "backup".into(),
            profile: "open-tls".into(),
        },
        "second CA for resilience",
        None,
    )
    .unwrap();
    workflow::approve(&mut ctx, &bob, req.id, "CA reviewed").unwrap();
    let out = renew_now(&mut ctx, &alice);
    assert!(out.diagnosis.is_none(), "{:?}", out.diagnosis);
    let row = ctx
        .store
        .read()
        .certificate_row(out.job.certificate_id.unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(row.authority.as_deref(), Some("backup"));
}

fn issued(ctx: &mut Ctx, alice: &Actor) -> i64 {
    let out = renew(ctx, alice);
    assert!(out.diagnosis.is_none(), "{:?}", out.diagnosis);
    out.job.certificate_id.unwrap()
}

fn status(ctx: &Ctx, id: i64) -> String {
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
fn revoking_opens_a_request_and_the_approved_request_is_carried_out_once() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, _clock, alice, _bob) = team(dir.path(), "open-tls", 1);
    // open-tls without the field: the default, one approval before revoking.
    let policy_text = policy(1).replace("revocation_approvals = 0\n", "");
    certdeck::ops::policy::load_files(&mut ctx, &alice, &[("policy.toml".into(), policy_text)])
        .unwrap();
    let cert = issued(&mut ctx, &alice);

    // Not revoked: a request is opened and named.
    let first = lc::revoke(
        &mut ctx,
        &alice,
        cert,
        "key_compromise",
        Some("key left on a laptop"),
        &Standard::default(),
    )
    .unwrap();
    let Revoked::Requested { request, opened } = first else {
        panic!("{first:?}")
    };
    assert!(opened);
    assert_eq!(request.kind.as_str(), "revocation");
    assert_eq!(status(&ctx, cert), "active");
    // Asking again points at the same request.
    let Revoked::Requested {
        request: same,
        opened,
    } = lc::revoke(
        &mut ctx,
        &alice,
        cert,
        "key_compromise",
        None,
        &Standard::default(),
    )
    .unwrap()
    else {
        panic!()
    };
    assert!(!opened);
    assert_eq!(same.id, request.id);

    // Self-approval is refused; central-pki is only C for failure response, so bob may
    // not approve either; a platform operator (A) does.
    assert!(workflow::approve(&mut ctx, &alice, request.id, "mine").is_err());
    let e = workflow::approve(&mut ctx, &operator("bob"), request.id, "ok").unwrap_err();
    assert!(matches!(e, OpError::Denied(_)), "{e:?}");
    grant(&mut ctx, &alice, "pat", Role::Platform, Scope::default());
    workflow::approve(
        &mut ctx,
        &operator("pat"),
        request.id,
        "confirmed with owner",
    )
    .unwrap();
    assert_eq!(
        status(&ctx, cert),
        "active",
        "approval alone revokes nothing"
    );

    let done = lc::revoke(
        &mut ctx,
        &alice,
        cert,
        "key_compromise",
        None,
        &Standard::default(),
    )
    .unwrap();
    assert!(
        matches!(done, Revoked::Revoked { request: Some(id), .. } if id == request.id),
        "{done:?}"
    );
    assert_eq!(status(&ctx, cert), "revoked");
    let used = ctx.store.read().request(request.id).unwrap().unwrap();
    assert_eq!(used.state, State::Approved);
    assert!(used.used_at.is_some());
    assert_eq!(used.used_by.as_deref(), Some("alice"));
    let revoke_audit = audited(&ctx, "certificate.revoke");
    assert_eq!(revoke_audit.last().unwrap()["request"], request.id);
    assert_eq!(audited(&ctx, "request.use").len(), 1);
}

#[test]
fn a_profile_with_no_revocation_approvals_revokes_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, _clock, alice, _bob) = team(dir.path(), "open-tls", 0);
    let cert = issued(&mut ctx, &alice);
    let out = lc::revoke(
        &mut ctx,
        &alice,
        cert,
        "superseded",
        None,
        &Standard::default(),
    )
    .unwrap();
    assert!(
        matches!(out, Revoked::Revoked { request: None, .. }),
        "{out:?}"
    );
    assert_eq!(status(&ctx, cert), "revoked");
    assert!(ctx
        .store
        .read()
        .requests(&Default::default())
        .unwrap()
        .is_empty());
}

#[test]
fn cli_an_issuance_held_for_approval_renews_once_another_operator_approves() {
    let deck = cli_deck_with_www(policy(1), "held-tls");

    let (code, out, _) = deck.run(&["renew", "www"]);
    assert_eq!(code, 1, "not renewed: {out}");
    assert!(
        out.contains("www: awaiting_approval")
            && out.contains("certdeck request issuance --identity www")
            && !out.contains("failed"),
        "{out}"
    );
    let req = request_issuance_for_www(&deck);
    let id = req["id"].as_i64().unwrap();
    assert_eq!(
        req["payload"]["sans"],
        serde_json::json!(["www.example.test"])
    );

    // The OS user who asked cannot approve; a second operator (central-pki) on the same
    // database can.
    let (code, _, err) = deck.run(&["approve", &id.to_string(), "--comment", "mine"]);
    assert_ne!(code, 0);
    assert!(err.contains("own request"), "{err}");
    {
        let (mut ctx, _clock, admin) = testing::ctx_on(&deck.db, support::now());
        grant(&mut ctx, &admin, "bob", Role::CentralPki, Scope::default());
        workflow::approve(&mut ctx, &operator("bob"), id, "storefront reviewed").unwrap();
    }
    let (code, out, err) = deck.run(&["renew", "www"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("www: verified"), "{out}");
}

#[test]
fn cli_run_marks_pending_requests_past_their_expiry_as_expired() {
    let deck = support::Deck::new();
    let req = deck.json(&[
        "request",
        "delegation",
        "--user",
        "dave",
        "--role",
        "platform",
        "--justification",
        "on call",
        "--json",
    ]);
    let id = req["id"].as_i64().unwrap();
    let (code, _, err) = deck.run(&["run", "--once"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        deck.json(&["requests", "--json"])[0]["state"],
        "pending",
        "not yet due"
    );

    // Eight days later (requests expire after 168 hours by default).
    let out = deck
        .cmd()
        .env("CERTDECK_NOW", "2026-06-09T00:00:00Z")
        .args(["run", "--once"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (ctx, _clock, _) = testing::ctx_on(&deck.db, support::now());
    let stored = ctx.store.read().request(id).unwrap().unwrap();
    assert_eq!(stored.state, State::Expired, "recorded, not only computed");
    let expiries: Vec<_> = ctx
        .store
        .read()
        .audit_records(&AuditQuery::default())
        .unwrap()
        .into_iter()
        .filter(|r| r.action == "request.expire")
        .collect();
    assert_eq!(expiries.len(), 1);
    assert_eq!(expiries[0].object_id, id.to_string());
}

#[test]
fn an_issuance_approval_taken_back_authorises_nothing_more() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, _clock, alice, bob) = team(dir.path(), "held-tls", 1);
    let req = workflow::open(&mut ctx, &alice, issuance_for("www"), "site", None).unwrap();
    workflow::approve(&mut ctx, &bob, req.id, "ok").unwrap();
    assert!(renew(&mut ctx, &alice).diagnosis.is_none());

    // Someone without a say cannot take it back; the approver can.
    grant(&mut ctx, &alice, "erin", Role::ReadOnly, Scope::default());
    let e = workflow::withdraw(&mut ctx, &operator("erin"), req.id).unwrap_err();
    assert!(matches!(e, OpError::Denied(_)), "{e:?}");
    let back = workflow::withdraw(&mut ctx, &bob, req.id).unwrap();
    assert_eq!(back.state, State::Revoked);
    assert_eq!(audited(&ctx, "request.revoke").len(), 1);

    let d = renew_now(&mut ctx, &alice).diagnosis.expect("held again");
    assert!(
        d.message
            .contains(&format!("request {} was revoked", req.id)),
        "{}",
        d.message
    );
}

#[test]
fn a_revocation_approval_can_be_taken_back_until_it_is_carried_out() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, _clock, alice, _bob) = team(dir.path(), "held-tls", 1);
    let req = workflow::open(&mut ctx, &alice, issuance_for("www"), "site", None).unwrap();
    workflow::approve(&mut ctx, &operator("bob"), req.id, "ok").unwrap();
    let cert = issued(&mut ctx, &alice);
    grant(&mut ctx, &alice, "pat", Role::Platform, Scope::default());
    let pat = operator("pat");

    let ask = |ctx: &mut Ctx| match lc::revoke(
        ctx,
        &alice,
        cert,
        "superseded",
        None,
        &Standard::default(),
    )
    .unwrap()
    {
        Revoked::Requested { request, .. } => request.id,
        other => panic!("{other:?}"),
    };
    let first = ask(&mut ctx);
    workflow::approve(&mut ctx, &pat, first, "ok").unwrap();
    workflow::withdraw(&mut ctx, &alice, first).unwrap();
    // Taken back: the next revoke asks again instead of revoking.
    let second = ask(&mut ctx);
    assert_ne!(second, first);
    assert_eq!(status(&ctx, cert), "active");

    workflow::approve(&mut ctx, &pat, second, "ok").unwrap();
    // `certdeck run` carries out approved revocations.
    let done = lc::revoke_approved(&mut ctx, &pat, &Standard::default()).unwrap();
    assert_eq!(done.len(), 1);
    assert!(done[0].1.is_ok(), "{done:?}");
    assert_eq!(status(&ctx, cert), "revoked");
    let e = workflow::withdraw(&mut ctx, &alice, second).unwrap_err();
    assert!(e.to_string().contains("carried out"), "{e}");
}

#[test]
fn requests_reviews_and_ca_approvals_from_before_schema_6_survive_the_upgrade() {
    use certdeck::store::{Store, MIGRATIONS};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        // A database as schema 5 left it, with one approved CA-source request.
        let c = rusqlite::Connection::open(&path).unwrap();
        c.pragma_update(None, "foreign_keys", "ON").unwrap();
        c.execute_batch(
            "CREATE TABLE schema_migrations (
                 version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
        )
        .unwrap();
        for (v, name, sql) in MIGRATIONS.iter().filter(|m| m.0 <= 5) {
            c.execute_batch(sql).unwrap();
            c.execute(
                "INSERT INTO schema_migrations VALUES (?1, ?2, '2026-11-01T00:00:00Z')",
                rusqlite::params![v, name],
            )
            .unwrap();
        }
        c.pragma_update(None, "user_version", 5).unwrap();
        c.execute_batch(
            r#"INSERT INTO authorities (id, name, kind, created_at)
                   VALUES (1, 'letsencrypt', 'acme', '2026-11-01T00:00:00Z');
               INSERT INTO requests (id, kind, state, requester, activity, payload, justification,
                   approvals_required, distinct_roles, created_at, expires_at, decided_by)
                   VALUES (7, 'ca_approval', 'approved', 'dave', 'approve_ca_source',
                   '{"kind":"ca_approval","authority":"letsencrypt","profile":"public-tls"}',
                   'public endpoints', 1, 0, '2026-11-01T00:00:00Z', '2026-11-08T00:00:00Z', 'bob');
               INSERT INTO request_reviews VALUES (7, 'bob', 'central-pki', 'approve', 'ok',
                   '2026-11-01T01:00:00Z');
               INSERT INTO authority_approvals VALUES (1, 'public-tls', 'bob',
                   '2026-11-01T01:00:00Z', 7);"#,
        )
        .unwrap();
    }
    let store = Store::open(&path).unwrap();
    let read = store.read();
    let req = read.request(7).unwrap().expect("kept");
    assert_eq!(req.state, State::Approved);
    assert_eq!(req.reviews.len(), 1);
    assert_eq!(req.reviews[0].reviewer, "bob");
    assert!(req.used_at.is_none());
    assert!(read
        .authority_approved_for("letsencrypt", "public-tls")
        .unwrap());
}

#[test]
fn cli_run_carries_out_an_approved_revocation() {
    // open-tls without the field: one approval before revoking.
    let deck = cli_deck_with_www(
        policy(1).replace("revocation_approvals = 0\n", ""),
        "open-tls",
    );
    let (code, out, err) = deck.run(&["run", "--once"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("www: verified"), "{out}");

    let (code, out, _) = deck.run(&["revoke", "www", "--reason", "cessation_of_operation"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("needs approval") && out.contains("opened"),
        "{out}"
    );
    let id = deck.json(&["requests", "--json"])[0]["id"]
        .as_i64()
        .unwrap();
    {
        let (mut ctx, _clock, admin) = testing::ctx_on(&deck.db, support::now());
        grant(&mut ctx, &admin, "pat", Role::Platform, Scope::default());
        workflow::approve(&mut ctx, &operator("pat"), id, "site closed").unwrap();
    }
    let (code, out, err) = deck.run(&["run", "--once"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("request {id}: revocation carried out")),
        "{out}{err}"
    );
    let (ctx, _clock, _) = testing::ctx_on(&deck.db, support::now());
    let req = ctx.store.read().request(id).unwrap().unwrap();
    assert!(req.used_at.is_some(), "marked used");
    let Payload::Revocation { certificate, .. } = &req.payload else {
        panic!()
    };
    let ids = ctx
        .store
        .read()
        .certificates_by_fingerprint_prefix(certificate)
        .unwrap();
    assert_eq!(status(&ctx, ids[0]), "revoked");
    // Nothing left to do on the next round.
    let (_, out, _) = deck.run(&["run", "--once"]);
    assert!(!out.contains("revocation carried out"), "{out}");
}

// ------------------------------------------------------- awaiting approval is not failure

/// `www` as in [`estate_text`], plus `shop` under the same profile with a name outside
/// its DNS suffixes: a genuine policy denial beside an approval hold.
fn estate_with_a_denied_shop(dir: &Path) -> String {
    let d = dir.display();
    estate_text(dir, "held-tls", "internal", &["www.example.test"])
        + &format!(
            r#"
[[identity]]
name = "shop"
owner = "edge-team"
profile = "held-tls"
authority = "internal"
environment = "prod"
sans = ["shop.example.org"]
key = "ecdsa-p256"

[[identity.target]]
cert = "{d}/deploy/shop.pem"
key = "{d}/deploy/shop.key"
reload = "true"
"#
        )
}

fn renew_named(ctx: &mut Ctx, who: &Actor, name: &str) -> lc::RunOutcome {
    let opts = RunOptions {
        now: true,
        ..RunOptions::from_ctx(ctx, false)
    };
    lc::renew(ctx, who, name, &opts, &Standard::default()).unwrap()
}

/// Applies [`estate_with_a_denied_shop`] and asks to renew both: `www` is held for
/// approval, `shop` is refused by its profile. Returns their outcomes.
fn hold_www_and_deny_shop(
    ctx: &mut Ctx,
    alice: &Actor,
    dir: &Path,
) -> (lc::RunOutcome, lc::RunOutcome) {
    lc::apply_estate(
        ctx,
        alice,
        &Estate::parse(&estate_with_a_denied_shop(dir), Path::new("e.toml")).unwrap(),
    )
    .unwrap();
    let www = renew_named(ctx, alice, "www");
    let shop = renew_named(ctx, alice, "shop");
    (www, shop)
}

#[test]
fn a_held_identity_awaits_approval_while_a_name_the_profile_refuses_stays_policy_denied() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, _clock, alice, bob) = team(dir.path(), "held-tls", 1);
    let (www, shop) = hold_www_and_deny_shop(&mut ctx, &alice, dir.path());
    assert_eq!(www.diagnosis.unwrap().category, Category::AwaitingApproval);
    let denied = shop.diagnosis.unwrap();
    assert_eq!(denied.category, Category::PolicyDenied);
    assert!(
        denied.message.contains("shop.example.org"),
        "{}",
        denied.message
    );

    // Status lists the two apart: the hold is not a failure, yet an approver is a person,
    // so status still says someone is needed.
    let st = lc::status(&ctx).unwrap();
    let names = |jobs: &[certdeck::lifecycle::Job]| -> Vec<String> {
        jobs.iter().map(|j| j.identity.clone()).collect()
    };
    assert_eq!(names(&st.awaiting_approval), ["www"]);
    assert_eq!(names(&st.failing), ["shop"]);
    assert!(st.needs_attention);

    // The approval releases the held job only: the refused one keeps its backoff.
    let req = workflow::open(&mut ctx, &alice, issuance_for("www"), "site", None).unwrap();
    let approved = workflow::approve(&mut ctx, &bob, req.id, "ok").unwrap();
    let released = audited(&ctx, "job.release");
    assert_eq!(released.len(), 1, "{released:?}");
    assert_eq!(released[0]["identity"], "www");
    assert_eq!(approved.state, State::Approved);
    let shop_job = ctx
        .store
        .read()
        .jobs(true, false, 10)
        .unwrap()
        .into_iter()
        .find(|j| j.identity == "shop")
        .expect("shop still failing");
    assert!(shop_job.next_attempt_at.unwrap() > T0, "not released");

    // The released job renews on the approval.
    let out = renew(&mut ctx, &alice);
    assert!(out.diagnosis.is_none(), "{:?}", out.diagnosis);
    assert_eq!(out.job.state, JobState::Verified);
    assert!(lc::status(&ctx).unwrap().awaiting_approval.is_empty());
}

#[test]
fn an_identity_awaiting_approval_raises_no_failure_rate_alert_however_often_it_is_asked() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, clock, alice, _bob) = team(dir.path(), "held-tls", 1);
    ctx.config.lifecycle.alert_min_jobs = 1;
    for _ in 0..3 {
        let d = renew_now(&mut ctx, &alice).diagnosis.unwrap();
        assert_eq!(d.category, Category::AwaitingApproval);
        assert!(!lc::evaluate_alerts(&mut ctx, &alice).unwrap());
        clock.advance(time::Duration::hours(1));
    }
    assert!(ctx.store.read().alerts(true).unwrap().is_empty());
    // Each hold is audited as a hold, not as a failed job.
    let holds = ctx
        .store
        .read()
        .audit_records(&AuditQuery::default())
        .unwrap()
        .into_iter()
        .filter(|r| r.action == "job.hold")
        .count();
    assert_eq!(holds, 3);
    assert!(audited(&ctx, "job.fail").is_empty());
}

#[test]
fn a_job_held_as_policy_denied_before_the_upgrade_is_awaiting_approval_after_it_and_is_released() {
    use certdeck::store::Store;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inventory.db");
    {
        let (ctx, clock, alice) = testing::ctx_on(&db, T0);
        let (mut ctx, _clock, alice, _bob) = equip(ctx, clock, alice, dir.path(), "held-tls", 1);
        hold_www_and_deny_shop(&mut ctx, &alice, dir.path());
    }
    {
        // Put the database back as schema 9 left it: the old gate recorded the hold as
        // `policy_denied`, in its own words.
        let c = rusqlite::Connection::open(&db).unwrap();
        let n = c
            .execute(
                "UPDATE jobs SET diagnosis = 'policy_denied',
                     message = 'profile held-tls wants 1 approval(s) by central-pki before \
                         issuing www: no issuance request approves it; open one with \
                         `certdeck request issuance --identity www --justification ...`'
                 WHERE diagnosis = 'awaiting_approval'",
                [],
            )
            .unwrap();
        assert_eq!(n, 1);
        c.execute("DELETE FROM schema_migrations WHERE version = 10", [])
            .unwrap();
        let old: String = c
            .query_row(
                "SELECT message FROM jobs j JOIN identities i ON i.id = j.identity_id
                 WHERE i.name = 'www'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(
            old.starts_with("profile held-tls wants 1 approval(s)"),
            "{old}"
        );
    }
    let store = Store::open(&db).unwrap();
    let jobs = store.read().jobs(false, false, 10).unwrap();
    let by = |name: &str| jobs.iter().find(|j| j.identity == name).unwrap().clone();
    assert_eq!(by("www").diagnosis, Some(Category::AwaitingApproval));
    assert!(by("www")
        .message
        .unwrap()
        .starts_with("awaiting issuance approval: profile held-tls"));
    assert_eq!(
        by("shop").diagnosis,
        Some(Category::PolicyDenied),
        "a genuine denial is left as it was"
    );
    drop(store);

    let (mut ctx, _clock, alice) = testing::ctx_on(&db, T0);
    let req = workflow::open(&mut ctx, &alice, issuance_for("www"), "site", None).unwrap();
    workflow::approve(&mut ctx, &operator("bob"), req.id, "ok").unwrap();
    assert_eq!(audited(&ctx, "job.release").len(), 1);
    let out = renew(&mut ctx, &alice);
    assert!(out.diagnosis.is_none(), "{:?}", out.diagnosis);
    assert_eq!(out.job.state, JobState::Verified);
}

#[test]
fn cli_status_and_jobs_show_a_held_identity_as_awaiting_approval_not_failing() {
    let deck = cli_deck_with_www(policy(1), "held-tls");
    // `renew --due` holds it and does not call that a failure (exit 0); `status` reports it.
    let (code, out, err) = deck.run(&["renew", "--due"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("www: awaiting_approval"), "{out}");
    let req = request_issuance_for_www(&deck);
    let id = req["id"].as_i64().unwrap();
    let (code, _, err) = deck.run(&["renew", "www", "--now"]);
    assert_eq!(code, 1, "{err}");

    // status: exit 3 (an approver is a person), under its own heading, saying approval.
    let (code, out, _) = deck.run(&["status", "--json"]);
    assert_eq!(code, 3, "{out}");
    let st: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(st["failing"], serde_json::json!([]), "{st}");
    assert_eq!(st["awaiting_approval"][0]["identity"], "www");
    assert_eq!(st["awaiting_approval"][0]["diagnosis"], "awaiting_approval");
    let msg = st["awaiting_approval"][0]["message"].as_str().unwrap();
    assert!(
        msg.contains(&format!("request #{id} has 0 of 1 approval(s)")),
        "{msg}"
    );
    let (code, out, _) = deck.run(&["status"]);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("failing jobs:   0")
            && out.contains("awaiting approval: 1")
            && out.contains(&format!(
                "www (internal): awaiting issuance approval: request #{id}"
            ))
            && out
                .contains("ATTENTION: an approver is needed: 1 identity awaits issuance approval"),
        "{out}"
    );

    // jobs: the held job says so; `--failed` leaves it out, `--awaiting-approval` keeps it.
    let jobs = deck.json(&["jobs", "--json"]);
    assert_eq!(jobs[0]["diagnosis"], "awaiting_approval", "{jobs}");
    let (_, out, _) = deck.run(&["jobs"]);
    let row = out.lines().find(|l| l.contains("www")).unwrap();
    assert!(
        row.contains("awaiting") && row.contains("awaiting_approval") && !row.contains("failed@"),
        "{out}"
    );
    assert_eq!(
        deck.json(&["jobs", "--failed", "--json"]),
        serde_json::json!([])
    );
    assert_eq!(
        deck.json(&["jobs", "--awaiting-approval", "--json"])[0]["identity"],
        "www"
    );
}

#[test]
fn the_jobs_view_shows_a_held_identity_as_awaiting_approval_and_a_refused_one_as_failed() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, _clock, alice, _bob) = team(dir.path(), "held-tls", 1);
    hold_www_and_deny_shop(&mut ctx, &alice, dir.path());
    let theme = certdeck::tui::theme::Theme::load("default", None).unwrap();
    let mut sh = certdeck::tui::shared(ctx, false, theme, true, "test.db".into());
    sh.actor = alice;
    let mut app = certdeck::tui::app::App::new(sh, "jobs");
    app.settle();
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).unwrap();
    term.draw(|f| app.render(f)).unwrap();
    let buf = term.backend().buffer();
    let mut s = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        for x in 0..buf.area.width {
            line.push_str(buf[(x, y)].symbol());
        }
        s.push_str(line.trim_end());
        s.push('\n');
    }
    let www = s.lines().find(|l| l.contains("www ")).unwrap();
    assert!(
        www.contains("⧗ awaiting approval") && !www.contains("✗"),
        "{s}"
    );
    let shop = s.lines().find(|l| l.contains("shop ")).unwrap();
    assert!(shop.contains("✗ failed@planned"), "{s}");
    insta::assert_snapshot!("jobs_awaiting_approval_80x24", s);
}

#[test]
fn an_approval_asked_by_names_alone_releases_the_identity_that_later_took_those_names() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, _clock, alice, bob) = team(dir.path(), "held-tls", 1);
    let names = ["www.example.test", "shop.example.test"];
    // Asked before any identity has these names: the request names none.
    let req = workflow::open(
        &mut ctx,
        &alice,
        Payload::Issuance {
            identity: None,
            profile: Some("held-tls".into()),
            authority: Some("internal".into()),
            environment: None,
            sans: names.iter().map(|s| s.to_string()).collect(),
            validity_days: None,
            approver_role: None,
        },
        "storefront launch",
        None,
    )
    .unwrap();
    lc::apply_estate(
        &mut ctx,
        &alice,
        &estate(dir.path(), "held-tls", "internal", &names),
    )
    .unwrap();
    let d = renew(&mut ctx, &alice).diagnosis.expect("held");
    assert_eq!(d.category, Category::AwaitingApproval);
    assert!(
        d.message
            .contains(&format!("request #{} has 0 of 1", req.id)),
        "{}",
        d.message
    );

    workflow::approve(&mut ctx, &bob, req.id, "launch reviewed").unwrap();
    let released = audited(&ctx, "job.release");
    assert_eq!(released.len(), 1, "{released:?}");
    assert_eq!(released[0]["identity"], "www");
    let out = renew(&mut ctx, &alice);
    assert!(out.diagnosis.is_none(), "{:?}", out.diagnosis);
    assert_eq!(out.job.state, JobState::Verified);
}

#[test]
fn renewing_a_held_identity_again_before_its_recheck_says_it_awaits_approval_not_that_it_failed() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, _clock, alice, _bob) = team(dir.path(), "held-tls", 1);
    renew(&mut ctx, &alice);
    let opts = RunOptions::from_ctx(&ctx, false);
    let e = lc::renew(&mut ctx, &alice, "www", &opts, &Standard::default()).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("is awaiting issuance approval")
            && text.contains("the approval releases it at once")
            && !text.contains("failed"),
        "{text}"
    );
}
