//! Requests and their review, at the `ops` level: the rules hold whoever calls them.
//! Two different operators are `testing::operator(name)` actors sharing one inventory.

mod support;

use certdeck::access::{self, Activity, Role, Scope};
use certdeck::model::{AuthorityKind, Environment};
use certdeck::ops::{access as access_ops, inventory, workflow, Ctx, OpError};
use certdeck::store::AuditQuery;
use certdeck::testing::{ctx_at, grant, operator};
use certdeck::workflow::{Payload, State};
use time::macros::datetime;

const NOW: time::OffsetDateTime = datetime!(2026-11-22 12:00 UTC);

/// alice (bootstrapped admin), bob and carol (central-pki), dave (app-owner for payments).
fn team() -> (Ctx, certdeck::FixedClock) {
    let (mut ctx, clock, alice) = ctx_at(NOW);
    grant(&mut ctx, &alice, "bob", Role::CentralPki, Scope::default());
    grant(
        &mut ctx,
        &alice,
        "carol",
        Role::CentralPki,
        Scope::default(),
    );
    grant(
        &mut ctx,
        &alice,
        "dave",
        Role::AppOwner,
        Scope {
            owners: vec!["payments".into()],
            ..Default::default()
        },
    );
    (ctx, clock)
}

fn delegation(user: &str, role: Role) -> Payload {
    Payload::Delegation {
        user: user.into(),
        role,
        scope: Scope::default(),
    }
}

fn conflict<T: std::fmt::Debug>(r: Result<T, OpError>) -> String {
    match r {
        Err(OpError::Conflict(m)) => m,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

fn denied<T: std::fmt::Debug>(r: Result<T, OpError>) -> String {
    match r {
        Err(OpError::Denied(d)) => d.reason,
        other => panic!("expected a denial, got {other:?}"),
    }
}

#[test]
fn an_approved_delegation_grants_the_role_in_the_same_step() {
    let (mut ctx, _) = team();
    let dave = operator("dave");
    let req = workflow::open(
        &mut ctx,
        &dave,
        delegation("dave", Role::Platform),
        "on call for the edge",
        Some("INC-42"),
    )
    .unwrap();
    assert_eq!(req.state, State::Pending);
    assert!(!access::may(
        ctx.store.read(),
        &dave,
        Activity::ImplementDeployment,
        NOW
    ));
    let done = workflow::approve(
        &mut ctx,
        &operator("bob"),
        req.id,
        "agreed with the edge lead",
    )
    .unwrap();
    assert_eq!(done.state, State::Approved);
    assert_eq!(done.decided_by.as_deref(), Some("bob"));
    assert!(access::may(
        ctx.store.read(),
        &dave,
        Activity::ImplementDeployment,
        NOW
    ));
    let grant = ctx
        .store
        .read()
        .grants_of("dave")
        .unwrap()
        .into_iter()
        .find(|g| g.role == Role::Platform)
        .unwrap();
    assert_eq!(
        (grant.granted_by.as_str(), grant.request_id),
        ("bob", Some(req.id))
    );
}

#[test]
fn nobody_approves_their_own_request_and_the_refusal_is_audited() {
    let (mut ctx, _) = team();
    let bob = operator("bob");
    let req = workflow::open(
        &mut ctx,
        &bob,
        delegation("bob", Role::Compliance),
        "audit season",
        None,
    )
    .unwrap();
    let reason = denied(workflow::approve(&mut ctx, &bob, req.id, "fine by me"));
    assert!(reason.contains("own request"), "{reason}");
    let last = ctx
        .store
        .read()
        .audit_records(&AuditQuery {
            limit: Some(1),
            ..Default::default()
        })
        .unwrap()
        .remove(0);
    assert_eq!(
        (
            last.action.as_str(),
            last.outcome.as_str(),
            last.actor.as_str()
        ),
        ("request.approve", "denied", "bob")
    );
    assert_eq!(
        ctx.store.read().request(req.id).unwrap().unwrap().state,
        State::Pending
    );
}

#[test]
fn a_reviewer_without_the_accountable_role_is_refused() {
    let (mut ctx, _) = team();
    let req = workflow::open(
        &mut ctx,
        &operator("bob"),
        delegation("erin", Role::ReadOnly),
        "new hire",
        None,
    )
    .unwrap();
    // dave is an app owner: C for approving delegation, not A.
    let reason = denied(workflow::approve(&mut ctx, &operator("dave"), req.id, "ok"));
    assert!(reason.contains("needs A (central-pki)"), "{reason}");
    // Someone with no role at all, likewise.
    denied(workflow::deny(&mut ctx, &operator("zed"), req.id, "no"));
    assert_eq!(
        ctx.store.read().request(req.id).unwrap().unwrap().state,
        State::Pending
    );
}

#[test]
fn responsible_may_approve_when_the_rule_says_so() {
    let (mut ctx, _) = team();
    ctx.config.workflow.delegation.responsible_may_approve = true;
    access_ops::set_raci(
        &mut ctx,
        &operator("alice"),
        Activity::ApproveDelegation,
        Role::Platform,
        "R".parse().unwrap(),
    )
    .unwrap();
    grant(
        &mut ctx,
        &operator("alice"),
        "pia",
        Role::Platform,
        Scope::default(),
    );
    let req = workflow::open(
        &mut ctx,
        &operator("dave"),
        delegation("dave", Role::ReadOnly),
        "x",
        None,
    )
    .unwrap();
    assert_eq!(
        workflow::approve(&mut ctx, &operator("pia"), req.id, "ok")
            .unwrap()
            .state,
        State::Approved
    );
}

#[test]
fn a_scoped_reviewer_cannot_approve_a_wider_delegation() {
    let (mut ctx, _) = team();
    let alice = operator("alice");
    grant(
        &mut ctx,
        &alice,
        "nina",
        Role::CentralPki,
        Scope {
            environments: vec![Environment::Nonprod],
            ..Default::default()
        },
    );
    let wide = workflow::open(
        &mut ctx,
        &operator("dave"),
        delegation("dave", Role::Platform),
        "x",
        None,
    )
    .unwrap();
    denied(workflow::approve(
        &mut ctx,
        &operator("nina"),
        wide.id,
        "ok",
    ));
    let narrow = workflow::open(
        &mut ctx,
        &operator("dave"),
        Payload::Delegation {
            user: "dave".into(),
            role: Role::Platform,
            scope: Scope {
                environments: vec![Environment::Nonprod],
                ..Default::default()
            },
        },
        "x",
        None,
    )
    .unwrap();
    assert_eq!(
        workflow::approve(&mut ctx, &operator("nina"), narrow.id, "ok")
            .unwrap()
            .state,
        State::Approved
    );
}

#[test]
fn thresholds_are_counted_and_the_last_approval_applies() {
    let (mut ctx, _) = team();
    ctx.config.workflow.delegation.approvals = 2;
    let req = workflow::open(
        &mut ctx,
        &operator("dave"),
        delegation("dave", Role::Platform),
        "x",
        None,
    )
    .unwrap();
    assert_eq!(req.approvals_required, 2);
    let after_one = workflow::approve(&mut ctx, &operator("bob"), req.id, "ok").unwrap();
    assert_eq!(
        (after_one.state, after_one.approvals().count()),
        (State::Pending, 1)
    );
    assert!(ctx
        .store
        .read()
        .grants_of("dave")
        .unwrap()
        .iter()
        .all(|g| g.role != Role::Platform));
    // The same reviewer twice does not count twice.
    assert!(conflict(workflow::approve(
        &mut ctx,
        &operator("bob"),
        req.id,
        "again"
    ))
    .contains("already reviewed"));
    let done = workflow::approve(&mut ctx, &operator("carol"), req.id, "ok").unwrap();
    assert_eq!(done.state, State::Approved);
    assert!(ctx
        .store
        .read()
        .grants_of("dave")
        .unwrap()
        .iter()
        .any(|g| g.role == Role::Platform));
}

#[test]
fn distinct_role_thresholds_need_approvals_from_different_roles() {
    let (mut ctx, _) = team();
    ctx.config.workflow.delegation.approvals = 2;
    ctx.config.workflow.delegation.distinct_roles = true;
    let alice = operator("alice");
    // Compliance gets A on delegation for this install.
    access_ops::set_raci(
        &mut ctx,
        &alice,
        Activity::ApproveDelegation,
        Role::Compliance,
        "A".parse().unwrap(),
    )
    .unwrap();
    grant(&mut ctx, &alice, "cora", Role::Compliance, Scope::default());
    let req = workflow::open(
        &mut ctx,
        &operator("dave"),
        delegation("dave", Role::CentralPki),
        "x",
        None,
    )
    .unwrap();
    workflow::approve(&mut ctx, &operator("bob"), req.id, "ok").unwrap();
    assert!(conflict(workflow::approve(
        &mut ctx,
        &operator("carol"),
        req.id,
        "ok"
    ))
    .contains("distinct roles"));
    let done = workflow::approve(&mut ctx, &operator("cora"), req.id, "ok").unwrap();
    assert_eq!(done.state, State::Approved);
    let roles: Vec<Role> = done.approvals().map(|r| r.role).collect();
    assert_eq!(roles, vec![Role::CentralPki, Role::Compliance]);
}

#[test]
fn one_deny_with_a_reason_ends_the_request() {
    let (mut ctx, _) = team();
    ctx.config.workflow.delegation.approvals = 2;
    let req = workflow::open(
        &mut ctx,
        &operator("dave"),
        delegation("dave", Role::Platform),
        "x",
        None,
    )
    .unwrap();
    workflow::approve(&mut ctx, &operator("bob"), req.id, "ok").unwrap();
    assert!(matches!(
        workflow::deny(&mut ctx, &operator("carol"), req.id, "  "),
        Err(OpError::Invalid(_))
    ));
    let done = workflow::deny(
        &mut ctx,
        &operator("carol"),
        req.id,
        "platform is not yours",
    )
    .unwrap();
    assert_eq!(
        (done.state, done.decision_comment.as_deref()),
        (State::Denied, Some("platform is not yours"))
    );
    let m = conflict(workflow::approve(
        &mut ctx,
        &operator("alice"),
        req.id,
        "ok",
    ));
    assert!(m.contains("already decided by carol"), "{m}");
}

#[test]
fn an_expired_request_cannot_be_approved() {
    let (mut ctx, clock) = team();
    ctx.config.workflow.pending_expiry_hours = 24;
    let req = workflow::open(
        &mut ctx,
        &operator("dave"),
        delegation("dave", Role::Platform),
        "x",
        None,
    )
    .unwrap();
    clock.advance(time::Duration::hours(25));
    let m = conflict(workflow::approve(&mut ctx, &operator("bob"), req.id, "ok"));
    assert!(m.contains("expired"), "{m}");
    let stored = ctx.store.read().request(req.id).unwrap().unwrap();
    assert_eq!(stored.state, State::Expired);
    assert!(ctx
        .store
        .read()
        .grants_of("dave")
        .unwrap()
        .iter()
        .all(|g| g.role != Role::Platform));
}

#[test]
fn pending_requests_expire_on_their_own() {
    let (mut ctx, clock) = team();
    let a = workflow::open(
        &mut ctx,
        &operator("dave"),
        delegation("dave", Role::Platform),
        "x",
        None,
    )
    .unwrap();
    clock.advance(time::Duration::days(8));
    let b = workflow::open(
        &mut ctx,
        &operator("dave"),
        delegation("dave", Role::Compliance),
        "y",
        None,
    )
    .unwrap();
    assert_eq!(workflow::expire_due(&mut ctx, &operator("bob")).unwrap(), 1);
    assert_eq!(
        ctx.store.read().request(a.id).unwrap().unwrap().state,
        State::Expired
    );
    assert_eq!(
        ctx.store.read().request(b.id).unwrap().unwrap().state,
        State::Pending
    );
}

#[test]
fn only_the_requester_withdraws() {
    let (mut ctx, _) = team();
    let req = workflow::open(
        &mut ctx,
        &operator("dave"),
        delegation("dave", Role::Platform),
        "x",
        None,
    )
    .unwrap();
    denied(workflow::withdraw(&mut ctx, &operator("bob"), req.id));
    assert_eq!(
        workflow::withdraw(&mut ctx, &operator("dave"), req.id)
            .unwrap()
            .state,
        State::Withdrawn
    );
    assert!(
        conflict(workflow::approve(&mut ctx, &operator("bob"), req.id, "ok"))
            .contains("already decided")
    );
}

#[test]
fn users_without_a_role_cannot_open_requests() {
    let (mut ctx, _) = team();
    let r = workflow::open(
        &mut ctx,
        &operator("zed"),
        delegation("zed", Role::CentralPki),
        "let me in",
        None,
    );
    assert!(denied(r).contains("holds no role"));
    assert!(matches!(
        workflow::open(
            &mut ctx,
            &operator("dave"),
            delegation("dave", Role::Platform),
            "  ",
            None
        ),
        Err(OpError::Invalid(_))
    ));
}

#[test]
fn an_approved_ca_request_approves_the_authority_for_the_profile() {
    let (mut ctx, _) = team();
    let alice = operator("alice");
    inventory::add_authority(
        &mut ctx,
        &alice,
        "letsencrypt",
        AuthorityKind::Acme,
        Some(Environment::Prod),
        serde_json::json!({}),
        None,
    )
    .unwrap();
    let req = workflow::open(
        &mut ctx,
        &operator("dave"),
        Payload::CaApproval {
            authority: "letsencrypt".into(),
            profile: "public-tls".into(),
        },
        "public endpoints",
        None,
    )
    .unwrap();
    assert!(workflow::current_scope(ctx.store.read(), &req)
        .unwrap()
        .contains("no profile"));
    assert!(matches!(
        workflow::open(
            &mut ctx,
            &operator("dave"),
            Payload::CaApproval {
                authority: "nope".into(),
                profile: "x".into()
            },
            "x",
            None
        ),
        Err(OpError::NotFound(_))
    ));
    workflow::approve(&mut ctx, &operator("bob"), req.id, "ACME account reviewed").unwrap();
    assert!(ctx
        .store
        .read()
        .authority_approved_for("letsencrypt", "public-tls")
        .unwrap());
}

#[test]
fn the_queue_shows_what_waits_on_me_and_not_my_own() {
    let (mut ctx, _) = team();
    let a = workflow::open(
        &mut ctx,
        &operator("dave"),
        delegation("dave", Role::Platform),
        "x",
        None,
    )
    .unwrap();
    let b = workflow::open(
        &mut ctx,
        &operator("bob"),
        delegation("bob", Role::Compliance),
        "y",
        None,
    )
    .unwrap();
    let ids = |who: &str| -> Vec<i64> {
        workflow::waiting_on(ctx.store.read(), &operator(who), NOW)
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect()
    };
    assert_eq!(ids("bob"), vec![a.id]);
    assert_eq!(ids("carol"), vec![a.id, b.id]);
    assert!(ids("dave").is_empty());
}

#[test]
fn exceptions_are_bounded_by_the_configured_maximum() {
    let (mut ctx, _) = team();
    let r = workflow::open(
        &mut ctx,
        &operator("dave"),
        Payload::Exception {
            rule: "weak-key".into(),
            object_type: "identity".into(),
            object_id: "x".into(),
            days: 400,
        },
        "legacy device",
        None,
    );
    assert!(
        matches!(&r, Err(OpError::Invalid(m)) if m.contains("1 to 90 days")),
        "{r:?}"
    );
}

#[test]
fn cli_request_approve_and_self_approval_as_the_os_user() {
    // The CLI acts as the OS user running the suite; a second person is simulated at the
    // ops level (operator("dave")), sharing the same database file.
    let deck = support::Deck::new();
    let me = support::me();
    let out = deck
        .cmd()
        .args([
            "request",
            "delegation",
            "--user",
            "dave",
            "--role",
            "platform",
            "--env",
            "nonprod",
            "--justification",
            "edge on-call",
            "--json",
        ])
        .assert()
        .success();
    let req: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let id = req["id"].as_i64().unwrap().to_string();
    assert_eq!(req["requester"], me.as_str());
    // I opened it: I may not approve it.
    let out = deck
        .cmd()
        .args(["approve", &id, "--comment", "mine"])
        .assert()
        .code(1);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("own request"));
    // Someone else may.
    let (mut ctx, _clock, _alice) = certdeck::testing::ctx_on(&deck.db, support::now());
    grant(
        &mut ctx,
        &operator(&me),
        "bob",
        Role::CentralPki,
        Scope::default(),
    );
    workflow::approve(
        &mut ctx,
        &operator("bob"),
        id.parse().unwrap(),
        "ok for nonprod",
    )
    .unwrap();
    let out = deck
        .cmd()
        .args(["requests", "--mine", "--json"])
        .assert()
        .success();
    let list: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(list[0]["state"], "approved");
    assert_eq!(list[0]["decided_by"], "bob");
    // And approving it again is a clear error.
    let out = deck
        .cmd()
        .args(["deny", &id, "--comment", "late"])
        .assert()
        .code(1);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("already decided by bob"));
}

#[test]
fn cli_to_review_lists_what_waits_on_me() {
    let deck = support::Deck::new();
    let me = support::me();
    let (mut ctx, _clock, _alice) = certdeck::testing::ctx_on(&deck.db, support::now());
    grant(
        &mut ctx,
        &operator(&me),
        "dave",
        Role::ReadOnly,
        Scope::default(),
    );
    let req = workflow::open(
        &mut ctx,
        &operator("dave"),
        delegation("dave", Role::Platform),
        "please",
        None,
    )
    .unwrap();
    let out = deck
        .cmd()
        .args(["requests", "--to-review"])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(
        text.contains("platform for dave") && text.contains("please"),
        "{text}"
    );
    deck.cmd()
        .args(["approve", &req.id.to_string(), "--comment", "ok"])
        .assert()
        .success();
    let out = deck
        .cmd()
        .args(["requests", "--to-review", "--json"])
        .assert()
        .success();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&out.get_output().stdout).unwrap(),
        serde_json::json!([])
    );
}

#[test]
fn an_approved_exception_suppresses_the_finding_until_it_expires() {
    let (mut ctx, clock) = team();
    let alice = operator("alice");
    certdeck::ops::policy::load_starter(&mut ctx, &alice).unwrap();
    let pem = rcgen::generate_simple_self_signed(vec!["legacy.example.com".into()])
        .unwrap()
        .cert
        .pem();
    certdeck::ops::import::import(
        &mut ctx,
        &alice,
        vec![certdeck::ops::import::Source::Bytes {
            label: "legacy.pem".into(),
            kind: "file".into(),
            data: pem.into_bytes(),
        }],
        &Default::default(),
        &mut |_, _| {},
    )
    .unwrap();
    let row = ctx
        .store
        .read()
        .certificate_rows(Default::default())
        .unwrap()
        .remove(0);
    let open = |ctx: &Ctx| -> Vec<String> {
        let row = ctx.store.read().certificate_row(row.id).unwrap().unwrap();
        row.findings
            .iter()
            .filter(|f| f.is_open(ctx.now()))
            .map(|f| f.rule.to_string())
            .collect()
    };
    assert!(
        open(&ctx).contains(&"owner.missing".to_string()),
        "{:?}",
        open(&ctx)
    );
    grant(&mut ctx, &alice, "dave", Role::ReadOnly, Scope::default());
    let req = workflow::open(
        &mut ctx,
        &operator("dave"),
        Payload::Exception {
            rule: "owner.missing".into(),
            object_type: "certificate".into(),
            object_id: row.fingerprint_sha256.clone(),
            days: 30,
        },
        "legacy appliance, owner being found",
        Some("RISK-7"),
    )
    .unwrap();
    // Still open while the request waits.
    assert!(open(&ctx).contains(&"owner.missing".to_string()));
    let done =
        workflow::approve(&mut ctx, &operator("bob"), req.id, "30 days, then it goes").unwrap();
    assert_eq!(done.state, State::Approved);
    assert!(
        !open(&ctx).contains(&"owner.missing".to_string()),
        "{:?}",
        open(&ctx)
    );
    let exc = ctx.store.read().exceptions().unwrap().remove(0);
    assert_eq!(exc.granted_by, "bob");
    assert_eq!(
        exc.request_ref.as_deref(),
        Some(format!("request {}", req.id).as_str())
    );
    clock.advance(time::Duration::days(31));
    assert!(
        open(&ctx).contains(&"owner.missing".to_string()),
        "the expired exception brings it back"
    );
}

#[test]
fn an_exception_must_name_a_known_rule() {
    let (mut ctx, _) = team();
    let r = workflow::open(
        &mut ctx,
        &operator("dave"),
        Payload::Exception {
            rule: "owner.absent".into(),
            object_type: "identity".into(),
            object_id: "x".into(),
            days: 10,
        },
        "x",
        None,
    );
    assert!(
        matches!(&r, Err(OpError::Invalid(m)) if m.contains("unknown rule")),
        "{r:?}"
    );
}
