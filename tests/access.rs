//! Who may do what: roles, scopes, the RACI matrix as data, service accounts. Every rule
//! is checked at the `ops` level, so the CLI and the console are refused the same way.

mod support;

use certdeck::access::{self, Activity, Letters, Role, Scope};
use certdeck::model::{ActorKind, AuthorityKind, Environment};
use certdeck::ops::{self, access as access_ops, inventory, OpError};
use certdeck::store::AuditQuery;
use certdeck::testing::{ctx_at, grant, operator};
use time::macros::datetime;

const NOW: time::OffsetDateTime = datetime!(2026-11-22 12:00 UTC);

fn denied<T: std::fmt::Debug>(r: Result<T, OpError>) -> String {
    match r {
        Err(OpError::Denied(d)) => d.reason,
        other => panic!("expected a denial, got {other:?}"),
    }
}

/// Two fresh self-signed certificates in the inventory; their ids.
fn import_two(ctx: &mut ops::Ctx, actor: &certdeck::model::Actor) -> Vec<i64> {
    use certdeck::ops::import::{import, ImportOptions, Source};
    let sources = ["a.example.com", "b.example.com"]
        .iter()
        .map(|n| Source::Bytes {
            label: format!("{n}.pem"),
            kind: "file".into(),
            data: rcgen::generate_simple_self_signed(vec![n.to_string()])
                .unwrap()
                .cert
                .pem()
                .into_bytes(),
        })
        .collect();
    import(
        ctx,
        actor,
        sources,
        &ImportOptions::default(),
        &mut |_, _| {},
    )
    .unwrap();
    ctx.store
        .read()
        .certificate_rows(Default::default())
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect()
}

fn last_audit(ctx: &ops::Ctx) -> certdeck::model::AuditRecord {
    ctx.store
        .read()
        .audit_records(&AuditQuery {
            limit: Some(1),
            ..Default::default()
        })
        .unwrap()
        .remove(0)
}

#[test]
fn init_makes_the_invoker_the_first_central_pki_administrator_and_is_audited() {
    let store = certdeck::store::Store::open_in_memory().unwrap();
    let clock = certdeck::FixedClock::new(NOW);
    let mut ctx = ops::Ctx::new(
        store,
        std::sync::Arc::new(clock),
        certdeck::config::Config::default(),
    );
    let root = operator("root-admin");
    let roles = access_ops::init(&mut ctx, &root, &[Role::Platform]).unwrap();
    assert_eq!(roles, vec![Role::CentralPki, Role::Platform]);
    let rec = last_audit(&ctx);
    assert_eq!(
        (rec.action.as_str(), rec.actor.as_str()),
        ("access.init", "root-admin")
    );
    // Once initialized, nobody can claim roles by running init again.
    let again = access_ops::init(&mut ctx, &operator("mallory"), &[]);
    assert!(denied(again).contains("already initialized"));
    assert!(ctx.store.read().grants_of("mallory").unwrap().is_empty());
}

#[test]
fn before_init_no_one_may_write_and_the_refusal_says_to_run_init() {
    let store = certdeck::store::Store::open_in_memory().unwrap();
    let mut ctx = ops::Ctx::new(
        store,
        std::sync::Arc::new(certdeck::FixedClock::new(NOW)),
        certdeck::config::Config::default(),
    );
    let r = inventory::add_owner(&mut ctx, &operator("alice"), "payments", None, None);
    assert!(denied(r).contains("certdeck init"));
}

#[test]
fn a_user_without_the_role_is_refused_and_the_refusal_is_audited() {
    let (mut ctx, _clock, alice) = ctx_at(NOW);
    let bob = operator("bob");
    let r = inventory::add_owner(&mut ctx, &bob, "payments", None, None);
    assert!(denied(r).contains("holds no role"));
    let rec = last_audit(&ctx);
    assert_eq!(
        (
            rec.actor.as_str(),
            rec.action.as_str(),
            rec.outcome.as_str()
        ),
        ("bob", "owner.add", "denied")
    );
    // Compliance holds only I for inventory accuracy: still refused, and told who may.
    grant(&mut ctx, &alice, "bob", Role::Compliance, Scope::default());
    let reason = denied(inventory::add_owner(&mut ctx, &bob, "payments", None, None));
    assert!(
        reason.contains("app-owner") && reason.contains("compliance"),
        "{reason}"
    );
    assert!(ctx
        .store
        .read()
        .owner_by_name("payments")
        .unwrap()
        .is_none());
}

#[test]
fn read_only_holds_no_letter_and_may_not_write() {
    let (mut ctx, _clock, alice) = ctx_at(NOW);
    grant(&mut ctx, &alice, "rita", Role::ReadOnly, Scope::default());
    let rita = operator("rita");
    for a in Activity::ALL {
        assert!(!access::may(ctx.store.read(), &rita, a, NOW), "{a:?}");
    }
    assert!(access::may_read(ctx.store.read(), &rita, &ctx.config).is_ok());
}

#[test]
fn users_without_a_role_read_only_when_the_config_allows_it() {
    let (mut ctx, _clock, _alice) = ctx_at(NOW);
    let nobody = operator("nobody");
    assert!(access::may_read(ctx.store.read(), &nobody, &ctx.config).is_ok());
    ctx.config.access.unassigned = certdeck::config::Unassigned::None;
    assert!(access::may_read(ctx.store.read(), &nobody, &ctx.config).is_err());
}

#[test]
fn a_scoped_app_owner_acts_only_on_its_owners_certificates() {
    let (mut ctx, _clock, alice) = ctx_at(NOW);
    let rows = import_two(&mut ctx, &alice);
    let (mine, theirs) = (rows[0], rows[1]);
    inventory::add_owner(&mut ctx, &alice, "payments", None, None).unwrap();
    inventory::add_owner(&mut ctx, &alice, "search", None, None).unwrap();
    let assign = |owner: &str| inventory::Assignment {
        owner: Some(Some(owner.to_string())),
        ..Default::default()
    };
    inventory::assign(&mut ctx, &alice, &[mine], &assign("payments")).unwrap();
    inventory::assign(&mut ctx, &alice, &[theirs], &assign("search")).unwrap();

    grant(
        &mut ctx,
        &alice,
        "pat",
        Role::AppOwner,
        Scope {
            owners: vec!["payments".into()],
            ..Default::default()
        },
    );
    let pat = operator("pat");
    let env = inventory::Assignment {
        environment: Some(Environment::Prod),
        ..Default::default()
    };
    inventory::assign(&mut ctx, &pat, &[mine], &env).unwrap();
    let reason = denied(inventory::assign(&mut ctx, &pat, &[theirs], &env));
    assert!(reason.contains("outside the scope"), "{reason}");
    // Nor may pat hand a certificate to an owner outside the scope.
    denied(inventory::assign(
        &mut ctx,
        &pat,
        &[mine],
        &assign("search"),
    ));
    assert_eq!(last_audit(&ctx).outcome, "denied");
}

#[test]
fn a_scoped_grantor_cannot_grant_beyond_its_own_scope() {
    let (mut ctx, _clock, alice) = ctx_at(NOW);
    let nonprod = Scope {
        environments: vec![Environment::Nonprod],
        ..Default::default()
    };
    grant(&mut ctx, &alice, "dora", Role::CentralPki, nonprod.clone());
    let dora = operator("dora");
    access_ops::grant(&mut ctx, &dora, "erin", Role::Platform, nonprod.clone()).unwrap();
    let reason = denied(access_ops::grant(
        &mut ctx,
        &dora,
        "erin",
        Role::Platform,
        Scope::default(),
    ));
    assert!(reason.contains("wider"), "{reason}");
}

#[test]
fn the_last_unscoped_administrator_cannot_be_revoked() {
    let (mut ctx, _clock, alice) = ctx_at(NOW);
    let r = access_ops::revoke(&mut ctx, &alice, "alice", Role::CentralPki, None);
    assert!(matches!(r, Err(OpError::Conflict(_))), "{r:?}");
    grant(&mut ctx, &alice, "bob", Role::CentralPki, Scope::default());
    assert_eq!(
        access_ops::revoke(&mut ctx, &alice, "alice", Role::CentralPki, None).unwrap(),
        1
    );
    assert!(!access::may(
        ctx.store.read(),
        &alice,
        Activity::ApproveDelegation,
        NOW
    ));
}

#[test]
fn the_matrix_is_data_that_only_central_pki_changes_and_every_change_is_audited() {
    let (mut ctx, _clock, alice) = ctx_at(NOW);
    grant(&mut ctx, &alice, "cora", Role::Compliance, Scope::default());
    let cora = operator("cora");
    assert!(!access::may(
        ctx.store.read(),
        &cora,
        Activity::MaintainInventory,
        NOW
    ));
    let r = access_ops::set_raci(
        &mut ctx,
        &cora,
        Activity::MaintainInventory,
        Role::Compliance,
        "R".parse().unwrap(),
    );
    assert!(denied(r).contains("central-pki"));
    access_ops::set_raci(
        &mut ctx,
        &alice,
        Activity::MaintainInventory,
        Role::Compliance,
        "R".parse::<Letters>().unwrap(),
    )
    .unwrap();
    let rec = last_audit(&ctx);
    assert_eq!(rec.action, "access.raci.set");
    assert_eq!(rec.details["before"], "I");
    assert_eq!(rec.details["after"], "R");
    assert!(access::may(
        ctx.store.read(),
        &cora,
        Activity::MaintainInventory,
        NOW
    ));
}

#[test]
fn the_default_matrix_is_the_design_one() {
    let (ctx, _clock, _alice) = ctx_at(NOW);
    let m = ctx.store.read().raci_matrix().unwrap();
    let row = |a| {
        Role::MATRIX
            .iter()
            .map(|r| m.letters(a, *r).to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(row(Activity::DefineProfiles), "R/A C C C");
    assert_eq!(row(Activity::ApproveCaSource), "R/A C I C");
    assert_eq!(row(Activity::RenewalResponse), "C R/A R I");
    assert_eq!(row(Activity::MaintainInventory), "C R R/A I");
    assert_eq!(row(Activity::AuditEvidence), "C I I R/A");
}

fn sa(name: &str, env: Environment) -> access_ops::NewServiceAccount {
    access_ops::NewServiceAccount {
        name: name.into(),
        environment: env,
        owner: Some("platform-team".into()),
        os_user: None,
        profiles: vec!["public-tls".into()],
        dns_suffixes: vec!["example.com".into()],
        credential_ref: "env:RENEW_TOKEN".into(),
        rotate_by: Some(NOW + time::Duration::days(90)),
        retire_at: None,
    }
}

fn sa_actor(name: &str) -> certdeck::model::Actor {
    let mut a = operator(name);
    a.kind = ActorKind::ServiceAccount;
    a
}

#[test]
fn service_accounts_renew_only_inside_their_environment_and_suffixes_until_retired() {
    let (mut ctx, clock, alice) = ctx_at(NOW);
    inventory::add_owner(&mut ctx, &alice, "platform-team", None, None).unwrap();
    access_ops::add_service_account(&mut ctx, &alice, &sa("renew-prod", Environment::Prod))
        .unwrap();
    let bot = sa_actor("renew-prod");
    let read = ctx.store.read();
    let obj = |env, name: &str| access::ObjectRef {
        owner: None,
        environment: Some(env),
        dns_names: vec![name.into()],
    };
    let renew = Activity::RenewalResponse;
    assert!(access::authorize_object(
        read,
        &bot,
        renew,
        NOW,
        &obj(Environment::Prod, "a.example.com")
    )
    .is_ok());
    assert!(access::authorize_object(
        read,
        &bot,
        renew,
        NOW,
        &obj(Environment::Nonprod, "a.example.com")
    )
    .is_err());
    assert!(access::authorize_object(
        read,
        &bot,
        renew,
        NOW,
        &obj(Environment::Prod, "a.example.org")
    )
    .is_err());
    assert!(access::authorize(read, &bot, Activity::DefineProfiles, NOW).is_err());
    access_ops::retire_service_account(&mut ctx, &alice, "renew-prod").unwrap();
    clock.advance(time::Duration::hours(1));
    let later = NOW + time::Duration::hours(1);
    let r = access::authorize(ctx.store.read(), &bot, renew, later);
    assert!(r.unwrap_err().reason.contains("retired"));
}

#[test]
fn a_retired_account_that_still_tries_to_act_is_a_finding() {
    let (mut ctx, clock, alice) = ctx_at(NOW);
    inventory::add_owner(&mut ctx, &alice, "platform-team", None, None).unwrap();
    access_ops::add_service_account(&mut ctx, &alice, &sa("renew-prod", Environment::Prod))
        .unwrap();
    access_ops::retire_service_account(&mut ctx, &alice, "renew-prod").unwrap();
    clock.advance(time::Duration::days(1));
    let bot = sa_actor("renew-prod");
    // Any op the account attempts is refused, recorded, and counts as a use.
    let r = ops::run(
        &mut ctx,
        &bot,
        Activity::RenewalResponse,
        "renew",
        ("identity", "x"),
        |_, _| Ok(()),
    );
    assert!(denied(r).contains("retired"));
    let acct = ctx
        .store
        .read()
        .service_account("renew-prod")
        .unwrap()
        .unwrap();
    let rules: Vec<_> = acct
        .findings(clock_now(&ctx), 90)
        .into_iter()
        .map(|f| f.rule)
        .collect();
    assert_eq!(rules, vec!["sa.retired-but-used"]);
}

fn clock_now(ctx: &ops::Ctx) -> time::OffsetDateTime {
    ctx.now()
}

#[test]
fn prod_and_nonprod_are_always_distinct_accounts() {
    let (mut ctx, _clock, alice) = ctx_at(NOW);
    inventory::add_owner(&mut ctx, &alice, "platform-team", None, None).unwrap();
    access_ops::add_service_account(&mut ctx, &alice, &sa("renew", Environment::Prod)).unwrap();
    let r = access_ops::add_service_account(&mut ctx, &alice, &sa("renew", Environment::Nonprod));
    assert!(matches!(r, Err(OpError::Conflict(_))), "{r:?}");
    // Nor can an account gain a role (and with it the other environment).
    let r = access_ops::grant(&mut ctx, &alice, "renew", Role::Platform, Scope::default());
    assert!(matches!(r, Err(OpError::Conflict(_))), "{r:?}");
    let bot = sa_actor("renew");
    let nonprod = access::ObjectRef {
        owner: None,
        environment: Some(Environment::Nonprod),
        dns_names: vec![],
    };
    assert!(access::authorize_object(
        ctx.store.read(),
        &bot,
        Activity::RenewalResponse,
        NOW,
        &nonprod
    )
    .is_err());
}

#[test]
fn a_credential_file_others_can_read_is_refused_and_no_secret_is_stored() {
    use std::os::unix::fs::PermissionsExt;
    let (mut ctx, _clock, alice) = ctx_at(NOW);
    inventory::add_owner(&mut ctx, &alice, "platform-team", None, None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("token");
    std::fs::write(&p, "TOP-SECRET-VALUE").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut new = sa("renew-prod", Environment::Prod);
    new.credential_ref = format!("file:{}", p.display());
    let r = access_ops::add_service_account(&mut ctx, &alice, &new);
    assert!(
        matches!(&r, Err(OpError::Invalid(m)) if m.contains("0600")),
        "{r:?}"
    );
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    access_ops::add_service_account(&mut ctx, &alice, &new).unwrap();
    let everything = format!(
        "{:?}{:?}",
        ctx.store.read().service_accounts().unwrap(),
        ctx.store
            .read()
            .audit_records(&AuditQuery::default())
            .unwrap()
    );
    assert!(!everything.contains("TOP-SECRET-VALUE"));
}

#[test]
fn rotation_moves_the_due_date_and_clears_the_overdue_finding() {
    let (mut ctx, clock, alice) = ctx_at(NOW);
    inventory::add_owner(&mut ctx, &alice, "platform-team", None, None).unwrap();
    access_ops::add_service_account(&mut ctx, &alice, &sa("renew-prod", Environment::Prod))
        .unwrap();
    clock.advance(time::Duration::days(100));
    let now = ctx.now();
    let get = |ctx: &ops::Ctx| {
        ctx.store
            .read()
            .service_account("renew-prod")
            .unwrap()
            .unwrap()
    };
    let rules = |ctx: &ops::Ctx| -> Vec<&'static str> {
        get(ctx)
            .findings(ctx.now(), 365)
            .into_iter()
            .map(|f| f.rule)
            .collect()
    };
    assert_eq!(rules(&ctx), vec!["sa.rotation-overdue"]);
    access_ops::rotate_service_account(
        &mut ctx,
        &alice,
        "renew-prod",
        Some("env:RENEW_TOKEN_2"),
        Some(now + time::Duration::days(90)),
    )
    .unwrap();
    assert!(rules(&ctx).is_empty());
    assert_eq!(get(&ctx).credential_ref, "env:RENEW_TOKEN_2");
}

#[test]
fn the_authority_op_declares_approve_ca_source() {
    let (mut ctx, _clock, alice) = ctx_at(NOW);
    grant(&mut ctx, &alice, "pat", Role::Platform, Scope::default());
    let r = inventory::add_authority(
        &mut ctx,
        &operator("pat"),
        "letsencrypt",
        AuthorityKind::Acme,
        Some(Environment::Prod),
        serde_json::json!({}),
        None,
    );
    assert!(denied(r).contains("central-pki"));
}

#[test]
fn cli_init_acts_as_the_os_user_whatever_the_environment_claims() {
    let deck = support::Deck::uninitialized();
    deck.cmd()
        .args(["init", "--also", "platform"])
        .env("USER", "mallory")
        .env("LOGNAME", "mallory")
        .env("SUDO_USER", "mallory")
        .assert()
        .success();
    let out = deck
        .cmd()
        .args(["access", "list", "--json"])
        .assert()
        .success();
    let ops: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(ops[0]["name"], support::me().as_str());
    let roles: Vec<&str> = ops[0]["grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, vec!["central-pki", "platform"]);
    // A second init is refused, and says why.
    let out = deck.cmd().arg("init").assert().code(1);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("already initialized"));
}

#[test]
fn cli_grant_list_and_revoke() {
    let deck = support::Deck::new();
    deck.cmd()
        .args([
            "access",
            "grant",
            "bob",
            "app-owner",
            "--owner",
            "payments",
            "--env",
            "prod",
        ])
        .assert()
        .success();
    let out = deck.cmd().args(["access", "list"]).assert().success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(
        text.contains("bob") && text.contains("owners=payments env=prod"),
        "{text}"
    );
    deck.cmd()
        .args(["access", "revoke", "bob", "app-owner"])
        .assert()
        .success();
    deck.cmd()
        .args(["access", "revoke", "bob", "app-owner"])
        .assert()
        .code(1);
}

#[test]
fn cli_raci_shows_and_changes_the_matrix() {
    let deck = support::Deck::new();
    deck.cmd()
        .args(["access", "raci", "set", "audit-evidence", "platform", "R"])
        .assert()
        .success();
    let out = deck
        .cmd()
        .args(["access", "raci", "--json"])
        .assert()
        .success();
    let m: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let row = m
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["activity"] == "audit_evidence")
        .unwrap();
    assert_eq!(row["platform"], "R");
    assert_eq!(row["compliance"], "R/A");
}

#[test]
fn cli_service_accounts_show_their_reference_and_findings_never_a_secret() {
    let deck = support::Deck::new();
    deck.cmd()
        .args(["owner", "add", "platform-team"])
        .assert()
        .success();
    deck.cmd()
        .args([
            "access",
            "sa",
            "add",
            "renew-nonprod",
            "--env",
            "nonprod",
            "--credential",
            "env:CERTDECK_TEST_SECRET",
            "--owner",
            "platform-team",
            "--dns-suffix",
            "test.example.com",
            "--rotate-by",
            "2026-05-01",
        ])
        .env("CERTDECK_TEST_SECRET", "hunter2")
        .assert()
        .success();
    let out = deck
        .cmd()
        .args(["access", "sa", "show", "renew-nonprod"])
        .env("CERTDECK_TEST_SECRET", "hunter2")
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(text.contains("env:CERTDECK_TEST_SECRET"), "{text}");
    assert!(text.contains("sa.rotation-overdue"), "{text}");
    assert!(!text.contains("hunter2"));
    deck.cmd()
        .args(["access", "sa", "retire", "renew-nonprod"])
        .assert()
        .success();
    let out = deck
        .cmd()
        .args(["access", "sa", "show", "--json"])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v[0]["retired"], true);
}

#[test]
fn a_scoped_app_owner_imports_only_for_its_owner() {
    use certdeck::ops::import::{import, ImportOptions, Source};
    let (mut ctx, _clock, alice) = ctx_at(NOW);
    grant(
        &mut ctx,
        &alice,
        "pat",
        Role::AppOwner,
        Scope {
            owners: vec!["payments".into()],
            ..Default::default()
        },
    );
    let pem = || {
        vec![Source::Bytes {
            label: "a.pem".into(),
            kind: "file".into(),
            data: rcgen::generate_simple_self_signed(vec!["a.example.com".into()])
                .unwrap()
                .cert
                .pem()
                .into_bytes(),
        }]
    };
    let opts = |owner: Option<&str>| ImportOptions {
        owner: owner.map(String::from),
        ..Default::default()
    };
    let pat = operator("pat");
    denied(import(&mut ctx, &pat, pem(), &opts(None), &mut |_, _| {}));
    denied(import(
        &mut ctx,
        &pat,
        pem(),
        &opts(Some("search")),
        &mut |_, _| {},
    ));
    let r = import(
        &mut ctx,
        &pat,
        pem(),
        &opts(Some("payments")),
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(r.new, 1);
}

#[test]
fn cli_users_without_a_role_read_nothing_when_the_config_says_none() {
    let deck = support::Deck::new();
    let me = support::me();
    // Take every role from the invoking user (another admin remains).
    let (mut ctx, _clock, alice) = certdeck::testing::ctx_on(&deck.db, support::now());
    for r in [
        Role::CentralPki,
        Role::Platform,
        Role::AppOwner,
        Role::Compliance,
    ] {
        access_ops::revoke(&mut ctx, &alice, &me, r, None).unwrap();
    }
    deck.cmd().args(["list"]).assert().success();
    let config = deck.dir.path().join("strict.toml");
    std::fs::write(&config, "[access]\nunassigned = \"none\"\n").unwrap();
    let out = deck
        .cmd()
        .args(["--config", config.to_str().unwrap(), "list"])
        .assert()
        .code(1);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("holds no role"));
}

/// What the issuance gate says for `who` asking for `name` under public-tls (prod).
fn gate_for(ctx: &ops::Ctx, who: &certdeck::model::Actor, name: &str) -> Vec<String> {
    use certdeck::policy::gate::{gate, IssuanceRequest, Requester};
    let read = ctx.store.read();
    let profile = read
        .profile("public-tls")
        .unwrap()
        .expect("starter profile");
    let req = IssuanceRequest {
        sans: vec![name.into()],
        key_type: certdeck::policy::profile::KeyType::EcdsaP256,
        validity_days: 90,
        authority: "letsencrypt".into(),
        authority_approved: false,
        authority_environment: Some(Environment::Prod),
        identity_environment: Some(Environment::Prod),
        profile: Some(profile),
        owner: Some("platform-team".into()),
        requester: Requester {
            name: who.name.clone(),
            kind: who.kind,
            scope: access::gate_requester(read, who).unwrap(),
        },
        now: NOW,
    };
    gate(&req)
        .reasons()
        .iter()
        .map(|r| r.code.clone())
        .collect()
}

#[test]
fn the_issuance_gate_holds_service_accounts_to_their_scopes() {
    let (mut ctx, _clock, alice) = ctx_at(NOW);
    certdeck::ops::policy::load_starter(&mut ctx, &alice).unwrap();
    inventory::add_owner(&mut ctx, &alice, "platform-team", None, None).unwrap();
    access_ops::add_service_account(&mut ctx, &alice, &sa("renew-prod", Environment::Prod))
        .unwrap();
    let mut nonprod = sa("renew-nonprod", Environment::Nonprod);
    nonprod.profiles = vec!["nonprod-tls".into()];
    access_ops::add_service_account(&mut ctx, &alice, &nonprod).unwrap();
    let mut narrow = sa("renew-shop", Environment::Prod);
    narrow.dns_suffixes = vec!["shop.example.com".into()];
    access_ops::add_service_account(&mut ctx, &alice, &narrow).unwrap();

    assert!(gate_for(&ctx, &sa_actor("renew-prod"), "www.example.com").is_empty());
    let codes = gate_for(&ctx, &sa_actor("renew-nonprod"), "www.example.com");
    assert!(
        codes.contains(&"requester-environment".to_string()),
        "{codes:?}"
    );
    assert!(
        codes.contains(&"requester-profile".to_string()),
        "{codes:?}"
    );
    let codes = gate_for(&ctx, &sa_actor("renew-shop"), "www.example.com");
    assert_eq!(codes, vec!["requester-domain"]);
    assert!(gate_for(&ctx, &sa_actor("renew-shop"), "cart.shop.example.com").is_empty());
    // An operator's scopes narrow the gate the same way.
    grant(
        &mut ctx,
        &alice,
        "pat",
        Role::Platform,
        Scope {
            environments: vec![Environment::Nonprod],
            ..Default::default()
        },
    );
    let codes = gate_for(&ctx, &operator("pat"), "www.example.com");
    assert!(
        codes.contains(&"requester-environment".to_string()),
        "{codes:?}"
    );
}
