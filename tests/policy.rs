//! Policy as code, end to end: loading profiles (and refusing bad ones, located), the
//! compliance findings on a small estate, recompute on import, exceptions that suppress
//! and expire, and `certdeck policy check` as scripts see it.

use certdeck::model::{AuthorityKind, Environment, Severity};
use certdeck::ops::import::{import, ImportOptions, Source};
use certdeck::ops::inventory::{self, Assignment};
use certdeck::ops::policy as policy_ops;
use certdeck::ops::Ctx;
use certdeck::policy::exception::{ExceptionObject, NewException};
use certdeck::testing::{ctx_at, ctx_on};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

mod support;

/// The suite's "now" (tests/support), so library and CLI halves agree.
const NOW: OffsetDateTime = datetime!(2026-06-01 0:00 UTC);

/// A private CA and what it issues, as PEM.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

fn ca(cn: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.not_before = NOW - Duration::days(365);
    p.not_after = NOW + Duration::days(3650);
    let cert = p.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        issuer: Issuer::new(p, key),
    }
}

fn leaf(
    ca: &Ca,
    sans: &[&str],
    days: i64,
    age_days: i64,
    eku: &[ExtendedKeyUsagePurpose],
) -> String {
    let key = KeyPair::generate().unwrap();
    let mut p =
        CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    p.distinguished_name.push(DnType::CommonName, sans[0]);
    p.not_before = NOW - Duration::days(age_days);
    p.not_after = p.not_before + Duration::days(days) - Duration::seconds(1);
    p.extended_key_usages = eku.to_vec();
    p.signed_by(&key, &ca.issuer).unwrap().pem()
}

const MTLS: &[ExtendedKeyUsagePurpose] = &[
    ExtendedKeyUsagePurpose::ServerAuth,
    ExtendedKeyUsagePurpose::ClientAuth,
];

fn import_pem(
    ctx: &mut Ctx,
    actor: &certdeck::model::Actor,
    label: &str,
    pem: String,
    owner: Option<&str>,
) {
    let r = import(
        ctx,
        actor,
        vec![Source::Bytes {
            label: label.into(),
            kind: "test".into(),
            data: pem.into_bytes(),
        }],
        &ImportOptions {
            owner: owner.map(str::to_string),
            environment: Some(Environment::Prod),
            source: None,
        },
        &mut |_, _| {},
    )
    .unwrap();
    assert!(r.errors.is_empty(), "{:?}", r.errors);
}

/// An internal CA (authority `internal-ca`, prod) with three leaves: one compliant, one
/// unowned and too long-lived, one with an IP SAN.
fn estate(ctx: &mut Ctx, actor: &certdeck::model::Actor) {
    let ca = ca("Example Issuing CA");
    import_pem(ctx, actor, "ca.pem", ca.pem.clone(), Some("pki"));
    import_pem(
        ctx,
        actor,
        "good.pem",
        leaf(&ca, &["api.internal.example.com"], 60, 5, MTLS),
        Some("payments"),
    );
    import_pem(
        ctx,
        actor,
        "legacy.pem",
        leaf(&ca, &["legacy.internal.example.com"], 400, 10, MTLS),
        None,
    );
    import_pem(
        ctx,
        actor,
        "ip.pem",
        leaf(&ca, &["db.internal.example.com", "10.0.0.5"], 60, 5, MTLS),
        Some("payments"),
    );
    add_internal_ca(ctx, actor);
    let ca_id = id_of(ctx, "Example Issuing CA");
    inventory::assign(
        ctx,
        actor,
        &[ca_id],
        &Assignment {
            authority: Some("internal-ca".into()),
            ..Default::default()
        },
    )
    .unwrap();
}

/// The local CA `internal-ca`, for prod.
fn add_internal_ca(ctx: &mut Ctx, actor: &certdeck::model::Actor) {
    inventory::add_authority(
        ctx,
        actor,
        "internal-ca",
        AuthorityKind::Local,
        Some(Environment::Prod),
        serde_json::json!({}),
        None,
    )
    .unwrap();
}

fn id_of(ctx: &Ctx, name: &str) -> i64 {
    ctx.store
        .read()
        .certificate_rows(Default::default())
        .unwrap()
        .into_iter()
        .find(|r| r.display_name() == name)
        .unwrap_or_else(|| panic!("no certificate {name}"))
        .id
}

fn open_rules(ctx: &Ctx, name: &str, now: OffsetDateTime) -> Vec<String> {
    let row = ctx
        .store
        .read()
        .certificate_row(id_of(ctx, name))
        .unwrap()
        .unwrap();
    row.findings
        .iter()
        .filter(|f| f.is_open(now))
        .map(|f| f.rule.to_string())
        .collect()
}

#[test]
fn the_starter_set_loads_is_versioned_and_audited() {
    let (mut ctx, _clock, alice) = ctx_at(NOW);
    let report = policy_ops::load_starter(&mut ctx, &alice).unwrap();
    assert_eq!(
        report.profiles,
        ["internal-mtls", "partner-mtls", "nonprod-tls", "public-tls"],
        "files are read in name order"
    );
    let read = ctx.store.read();
    let v = read.current_policy_version().unwrap().unwrap();
    assert_eq!(v.version, report.version);
    assert_eq!(v.loaded_by, "alice");
    let audit = read.audit_records(&Default::default()).unwrap();
    assert!(audit
        .iter()
        .any(|a| a.action == "policy.load" && a.object_id == report.version));
}

#[test]
fn the_estate_gets_located_findings_against_its_profiles() {
    let (mut ctx, _clock, alice) = ctx_at(NOW);
    estate(&mut ctx, &alice);
    policy_ops::load_starter(&mut ctx, &alice).unwrap();
    assert_eq!(
        open_rules(&ctx, "api.internal.example.com", NOW),
        Vec::<String>::new()
    );
    assert_eq!(
        open_rules(&ctx, "legacy.internal.example.com", NOW),
        vec!["owner.missing", "profile.validity"]
    );
    assert_eq!(
        open_rules(&ctx, "db.internal.example.com", NOW),
        vec!["profile.san.ip"]
    );
    let row = ctx
        .store
        .read()
        .certificate_row(id_of(&ctx, "db.internal.example.com"))
        .unwrap()
        .unwrap();
    assert_eq!(row.profile.as_deref(), Some("internal-mtls"));
    let f = row.findings.iter().find(|f| f.applies(NOW)).unwrap();
    assert_eq!(
        (f.severity, f.value.as_deref()),
        (Severity::Error, Some("10.0.0.5"))
    );
    let version = ctx
        .store
        .read()
        .current_policy_version()
        .unwrap()
        .unwrap()
        .version;
    assert_eq!(
        f.policy_version.as_deref(),
        Some(version.as_str()),
        "each finding names the policy version it used"
    );
}

#[test]
fn a_bad_policy_is_refused_with_located_errors_and_changes_nothing() {
    let (mut ctx, _clock, alice) = ctx_at(NOW);
    policy_ops::load_starter(&mut ctx, &alice).unwrap();
    let before = ctx.store.read().current_policy_version().unwrap().unwrap();
    let audit_before = ctx
        .store
        .read()
        .audit_records(&Default::default())
        .unwrap()
        .len();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("web.toml"),
        "[[profile]]\nname = \"web\"\nenvironment = \"prod\"\nauthorities = [\"letsencrypt\"]\nkey_types = [\"rsa-1024\"]\nmax_validity = 90\n",
    )
    .unwrap();
    let err = policy_ops::load(&mut ctx, &alice, dir.path())
        .unwrap_err()
        .to_string();
    let file = dir.path().join("web.toml").display().to_string();
    assert!(
        err.contains(&format!("{file}:6:1: max_validity: unknown field")),
        "{err}"
    );
    // The unknown key stops deserialisation; fix it and the weak key is found, located.
    std::fs::write(
        dir.path().join("web.toml"),
        "[[profile]]\nname = \"web\"\nenvironment = \"prod\"\nauthorities = [\"letsencrypt\"]\nkey_types = [\"rsa-1024\"]\n",
    )
    .unwrap();
    let err = policy_ops::load(&mut ctx, &alice, dir.path())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!(
            "{file}:5:14: profile.key_types: \"rsa-1024\": RSA keys must be at least 2048 bits"
        )),
        "{err}"
    );
    let read = ctx.store.read();
    assert_eq!(read.current_policy_version().unwrap().unwrap(), before);
    assert_eq!(read.profiles().unwrap().len(), 4);
    assert_eq!(
        read.audit_records(&Default::default()).unwrap().len(),
        audit_before
    );
}

#[test]
fn findings_are_recomputed_on_import() {
    let (mut ctx, _clock, alice) = ctx_at(NOW);
    policy_ops::load_starter(&mut ctx, &alice).unwrap();
    let ca = ca("Lonely CA");
    import_pem(
        &mut ctx,
        &alice,
        "x.pem",
        leaf(&ca, &["www.example.org"], 90, 80, MTLS),
        None,
    );
    let rules = open_rules(&ctx, "www.example.org", NOW);
    assert_eq!(
        rules,
        vec!["owner.missing", "renewal.due", "profile.missing"]
    );
}

#[test]
fn an_exception_suppresses_one_rule_until_it_expires() {
    let (mut ctx, clock, alice) = ctx_at(NOW);
    estate(&mut ctx, &alice);
    policy_ops::load_starter(&mut ctx, &alice).unwrap();
    let id = id_of(&ctx, "legacy.internal.example.com");
    let fp = ctx
        .store
        .read()
        .certificate_row(id)
        .unwrap()
        .unwrap()
        .fingerprint_sha256;
    policy_ops::except(
        &mut ctx,
        &alice,
        &NewException {
            rule: "owner.missing".into(),
            object_type: ExceptionObject::Certificate,
            object_id: fp.clone(),
            reason: "legacy appliance, replaced in January".into(),
            granted_by: "carol".into(),
            expires_at: NOW + Duration::days(30),
            request_ref: None,
        },
    )
    .unwrap();
    let row = ctx.store.read().certificate_row(id).unwrap().unwrap();
    let f = row
        .findings
        .iter()
        .find(|f| f.rule == "owner.missing")
        .unwrap();
    let note = f.exception.as_ref().unwrap();
    assert_eq!(
        (note.by.as_str(), note.until),
        ("carol", NOW + Duration::days(30))
    );
    assert_eq!(
        open_rules(&ctx, "legacy.internal.example.com", NOW),
        vec!["profile.validity"]
    );
    clock.advance(Duration::days(31));
    assert_eq!(
        open_rules(&ctx, "legacy.internal.example.com", ctx.now()),
        vec!["owner.missing", "profile.validity"],
        "an expired exception brings the finding back"
    );
    // Exceptions must name a real rule and expire in the future.
    let mut bad = NewException {
        rule: "owner.absent".into(),
        object_type: ExceptionObject::Certificate,
        object_id: fp,
        reason: "x".into(),
        granted_by: "carol".into(),
        expires_at: ctx.now() + Duration::days(1),
        request_ref: None,
    };
    assert!(policy_ops::except(&mut ctx, &alice, &bad).is_err());
    bad.rule = "owner.missing".into();
    bad.expires_at = ctx.now() - Duration::days(1);
    assert!(policy_ops::except(&mut ctx, &alice, &bad).is_err());
}

#[test]
fn identities_take_their_profile_and_rules_cover_the_rest() {
    let (mut ctx, _clock, alice) = ctx_at(NOW);
    estate(&mut ctx, &alice);
    policy_ops::load_starter(&mut ctx, &alice).unwrap();
    let id = id_of(&ctx, "db.internal.example.com");
    inventory::adopt(&mut ctx, &alice, id, "db", None, None).unwrap();
    // A managed identity without a profile is not matched by rules: never issued for.
    let row = ctx.store.read().certificate_row(id).unwrap().unwrap();
    assert_eq!(row.profile, None);
    assert!(row.findings.iter().any(|f| f.rule == "profile.missing"));
    policy_ops::assign_identity(&mut ctx, &alice, "db", Some("partner-mtls")).unwrap();
    let row = ctx.store.read().certificate_row(id).unwrap().unwrap();
    assert_eq!(row.profile.as_deref(), Some("partner-mtls"));
    assert!(policy_ops::assign_identity(&mut ctx, &alice, "db", Some("nope")).is_err());
}

#[test]
fn policy_check_exits_1_on_errors_and_reports_json() {
    let deck = support::Deck::new();
    let db = deck.db.clone();
    {
        let (mut ctx, _clock, alice) = ctx_on(&db, NOW);
        estate(&mut ctx, &alice);
        policy_ops::load_starter(&mut ctx, &alice).unwrap();
    }
    let out = deck
        .cmd()
        .args(["policy", "check", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(
        rules.contains(&"profile.san.ip") && rules.contains(&"owner.missing"),
        "{rules:?}"
    );
    assert_eq!(v["policy_version"].as_str().unwrap().len(), 64);
    // Only one owner's certificates, all compliant: exit 0.
    let out = deck
        .cmd()
        .args(["policy", "check", "--owner", "pki"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // list --json carries the findings and the profile.
    let out = deck
        .cmd()
        .args(["list", "--json", "--query", "noncompliant"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["common_name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(v[0]["findings"].as_array().is_some_and(|f| !f.is_empty()));
    assert_eq!(v[0]["profile"], "internal-mtls");
}

#[test]
fn policy_load_reports_bad_toml_on_stderr_and_fails() {
    let deck = support::Deck::new();
    let pol = deck.dir.path().join("pol");
    std::fs::create_dir(&pol).unwrap();
    std::fs::write(pol.join("a.toml"), "[[profile]]\nname = \"a\"\nenvironment = \"staging\"\nauthorities = [\"x\"]\nkey_types = [\"ed25519\"]\n").unwrap();
    let out = deck
        .cmd()
        .args(["policy", "load"])
        .arg(&pol)
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("a.toml:3:15: profile.environment"), "{err}");
    let out = deck.cmd().args(["policy", "list"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("no policy loaded"));
}

#[test]
fn stored_findings_follow_the_clock_without_re_evaluation() {
    let (mut ctx, clock, alice) = ctx_at(NOW);
    estate(&mut ctx, &alice);
    policy_ops::load_starter(&mut ctx, &alice).unwrap();
    let name = "api.internal.example.com"; // 60 days, 5 days old, renew 30 days before
    assert!(open_rules(&ctx, name, NOW).is_empty());
    clock.advance(Duration::days(26));
    assert_eq!(open_rules(&ctx, name, ctx.now()), vec!["renewal.due"]);
    clock.advance(Duration::days(30));
    assert_eq!(open_rules(&ctx, name, ctx.now()), vec!["cert.expired"]);
}

#[test]
fn the_demo_estate_shows_real_findings_under_the_northwind_policy() {
    use certdeck::demo::{build_estate, prepare, DemoOptions};
    let (mut ctx, _clock, alice) = ctx_at(NOW);
    prepare(&mut ctx, &alice).unwrap();
    build_estate(&mut ctx, &alice, &DemoOptions { size: 150, seed: 7 }).unwrap();
    let (evals, version) = policy_ops::snapshot(ctx.store.read()).unwrap();
    assert!(version.is_some(), "the demo loads its policy");
    let rows = ctx
        .store
        .read()
        .certificate_rows(Default::default())
        .unwrap();
    let open: Vec<&certdeck::model::Finding> = evals
        .iter()
        .flat_map(|e| &e.findings)
        .filter(|f| f.is_open(NOW))
        .collect();
    for rule in [
        "owner.missing",
        "cert.expired",
        "key.weak",
        "signature.weak",
        "renewal.due",
    ] {
        assert!(open.iter().any(|f| f.rule == rule), "no {rule} in the demo");
    }
    // What is stored agrees with a fresh evaluation, certificate by certificate.
    for (row, e) in rows.iter().zip(&evals) {
        assert_eq!(row.id, e.certificate_id);
        let stored: Vec<&str> = row
            .findings
            .iter()
            .filter(|f| f.is_open(NOW))
            .map(|f| f.rule)
            .collect();
        let fresh: Vec<&str> = e
            .findings
            .iter()
            .filter(|f| f.is_open(NOW))
            .map(|f| f.rule)
            .collect();
        assert_eq!(stored, fresh, "certificate {}", row.display_name());
        assert_eq!(row.profile, e.profile.as_ref().map(|p| p.0.clone()));
    }
    // Most certificates are under a profile; managed identities took theirs from the rules.
    let profiled = rows.iter().filter(|r| r.profile.is_some()).count();
    assert!(
        profiled * 4 > rows.len() * 3,
        "{profiled} of {}",
        rows.len()
    );
    let identities = ctx.store.read().identities().unwrap();
    assert!(identities.iter().all(|i| i.profile.is_some()));
}

#[test]
fn policy_check_on_the_hostile_and_weak_fixtures_is_exact_in_json_and_safe_on_screen() {
    let deck = support::Deck::new();
    let (code, _) = deck.import(&["hostile", "weak", "validity"]);
    assert_eq!(code, 0);
    let (code, _, err) = deck.run(&["policy", "load", "--starter"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = deck.run(&["policy", "check", "--json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let has = |name_part: &str, rule: &str| {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"].as_str().unwrap().contains(name_part) && f["rule"] == rule)
    };
    // The self-signed RSA-1024 is weak; its SHA-1 self-signature is not held against it
    // (it is a root: nobody verifies that signature).
    let found = |rule: &str, value: &str| {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == rule && f["value"] == value)
    };
    assert!(found("key.weak", "rsa-1024"));
    assert!(!found("signature.weak", "sha1WithRSAEncryption"));
    assert!(has("expired", "cert.expired"));
    assert!(!has("not-yet-valid", "cert.expired"));
    // Exact values in JSON (the NUL stays), escaped on screen.
    assert!(v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["name"].as_str().unwrap().contains('\0')));
    let (_, screen, _) = deck.run(&["policy", "check"]);
    assert!(
        !screen.contains('\x1b') && !screen.contains('\u{202e}') && !screen.contains('\0'),
        "{screen}"
    );
    assert!(screen.contains("owner.missing"));
}

/// A real-world bundle: five public roots as Debian ships them. Old, long-lived CAs break
/// none of the crypto rules (a root's own SHA-1 self-signature is not judged), but each has
/// no owner, and the one that expired in 2025 is an error that names its expiry.
#[test]
fn policy_check_on_a_real_world_bundle_finds_what_an_operator_would() {
    let deck = support::Deck::new();
    let roots = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/realworld/public-roots.pem"
    );
    assert_eq!(
        deck.cmd()
            .args(["import", roots])
            .output()
            .unwrap()
            .status
            .code(),
        Some(0)
    );
    let load = deck
        .cmd()
        .args(["policy", "load", "--starter"])
        .output()
        .unwrap();
    assert_eq!(
        load.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&load.stderr)
    );
    let out = deck
        .cmd()
        .args(["policy", "check", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "an expired root is an error");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut found: Vec<(String, String, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert_eq!(f["fingerprint_sha256"].as_str().unwrap().len(), 64, "{f}");
            (
                f["name"].as_str().unwrap().to_string(),
                f["rule"].as_str().unwrap().to_string(),
                f["value"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    found.sort();
    let expect = |n: &str, r: &str, val: &str| (n.to_string(), r.to_string(), val.to_string());
    assert_eq!(
        found,
        vec![
            expect("Amazon Root CA 1", "owner.missing", ""),
            expect(
                "Baltimore CyberTrust Root",
                "cert.expired",
                "2025-05-12T23:59:00Z"
            ),
            expect("Baltimore CyberTrust Root", "owner.missing", ""),
            expect("DigiCert Global Root G2", "owner.missing", ""),
            expect("GlobalSign Root CA", "owner.missing", ""),
            expect("ISRG Root X1", "owner.missing", ""),
        ]
    );
}

/// A CA issued by `parent` (an intermediate), as PEM and as an issuer.
fn intermediate(parent: &Ca, cn: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.use_authority_key_identifier_extension = true;
    p.not_before = NOW - Duration::days(30);
    p.not_after = NOW + Duration::days(1800);
    let cert = p.signed_by(&key, &parent.issuer).unwrap();
    Ca {
        pem: cert.pem(),
        issuer: Issuer::new(p, key),
    }
}

/// Every stored evaluation, certificate by certificate: profile and findings (with the
/// exception covering each), in a form two inventories can be compared by.
fn stored_evaluations(ctx: &Ctx) -> Vec<String> {
    ctx.store
        .read()
        .certificate_rows(Default::default())
        .unwrap()
        .iter()
        .map(|r| format!("{} {:?} {:?}", r.id, r.profile, r.findings))
        .collect()
}

fn import_all(ctx: &mut Ctx, actor: &certdeck::model::Actor, parts: Vec<(&str, String)>) {
    let sources = parts
        .into_iter()
        .map(|(label, pem)| Source::Bytes {
            label: label.into(),
            kind: "test".into(),
            data: pem.into_bytes(),
        })
        .collect();
    let r = import(
        ctx,
        actor,
        sources,
        &ImportOptions {
            owner: Some("payments".into()),
            environment: Some(Environment::Prod),
            source: None,
        },
        &mut |_, _| {},
    )
    .unwrap();
    assert!(r.errors.is_empty(), "{:?}", r.errors);
}

/// An import judges the certificates it stores from what it parsed, without reading them
/// back; what it stores must be what judging the whole inventory again stores.
#[test]
fn findings_after_an_import_into_a_fresh_inventory_equal_a_full_evaluation() {
    let (mut ctx, _clock, alice) = ctx_at(NOW);
    policy_ops::load_starter(&mut ctx, &alice).unwrap();
    let root = ca("Fresh Root CA");
    let sub = intermediate(&root, "Fresh Issuing CA");
    // Enough leaves that findings are written many to a statement, and some left over.
    let mut leaves = String::new();
    for i in 0..90 {
        let host = format!("svc{i}.internal.example.com");
        leaves.push_str(&leaf(
            &sub,
            &[host.as_str()],
            [60, 400, 30][i % 3],
            20,
            MTLS,
        ));
    }
    // The same names renewed, and a certificate twice in the input.
    let renewed = leaf(&sub, &["svc0.internal.example.com"], 90, 1, MTLS);
    leaves.push_str(&renewed);
    leaves.push_str(&renewed);
    leaves.push_str(&leaf(&root, &["10.0.0.9", "db.example.org"], 90, 80, &[]));
    // The issuing CA comes after its leaves: they are linked at the end of the import.
    import_all(
        &mut ctx,
        &alice,
        vec![
            ("leaves.pem", leaves),
            ("cas.pem", format!("{}{}", root.pem, sub.pem)),
        ],
    );
    let after_import = stored_evaluations(&ctx);
    let findings: usize = after_import
        .iter()
        .map(|e| e.matches("Finding {").count())
        .sum();
    assert!(findings > 256, "{findings} findings");
    // Stored exactly as the engine judges the inventory, field by field.
    let (judged, _) = policy_ops::snapshot(ctx.store.read()).unwrap();
    let rows = ctx
        .store
        .read()
        .certificate_rows(Default::default())
        .unwrap();
    assert_eq!(judged.len(), rows.len());
    for (e, r) in judged.iter().zip(&rows) {
        assert_eq!((e.certificate_id, &e.findings), (r.id, &r.findings));
    }
    policy_ops::evaluate(&mut ctx, &alice).unwrap();
    assert_eq!(after_import, stored_evaluations(&ctx));
}

#[test]
fn findings_after_an_import_into_a_populated_inventory_equal_a_full_evaluation() {
    let (mut ctx, _clock, alice) = ctx_at(NOW);
    policy_ops::load_starter(&mut ctx, &alice).unwrap();
    let root = ca("Populated Root CA");
    import_pem(&mut ctx, &alice, "root.pem", root.pem.clone(), Some("pki"));
    add_internal_ca(&mut ctx, &alice);
    let root_id = id_of(&ctx, "Populated Root CA");
    let internal = Assignment {
        authority: Some("internal-ca".into()),
        ..Default::default()
    };
    inventory::assign(&mut ctx, &alice, &[root_id], &internal).unwrap();
    let good = leaf(&root, &["api.internal.example.com"], 60, 5, MTLS);
    import_pem(&mut ctx, &alice, "good.pem", good, Some("payments"));
    let legacy_pem = leaf(&root, &["legacy.internal.example.com"], 400, 10, MTLS);
    import_pem(&mut ctx, &alice, "legacy.pem", legacy_pem.clone(), None);
    let legacy = id_of(&ctx, "legacy.internal.example.com");
    inventory::adopt(
        &mut ctx,
        &alice,
        legacy,
        "legacy-api",
        Some("legacy-team"),
        None,
    )
    .unwrap();
    let fp = ctx
        .store
        .read()
        .certificate_row(legacy)
        .unwrap()
        .unwrap()
        .fingerprint_sha256;
    policy_ops::except(
        &mut ctx,
        &alice,
        &NewException {
            rule: "validity.cabf".into(),
            object_type: ExceptionObject::Certificate,
            object_id: fp,
            reason: "appliance".into(),
            granted_by: "carol".into(),
            expires_at: NOW + Duration::days(30),
            request_ref: None,
        },
    )
    .unwrap();
    let before = stored_evaluations(&ctx);
    policy_ops::evaluate(&mut ctx, &alice).unwrap();
    assert_eq!(
        before,
        stored_evaluations(&ctx),
        "the estate starts consistent"
    );

    // A new intermediate under the stored root, after its leaf in the input: the leaf is
    // linked at the end and inherits internal-ca. One leaf renews a stored certificate;
    // the root and an adopted certificate are seen again.
    let sub = intermediate(&root, "Populated Issuing CA");
    let mut leaves = leaf(&sub, &["new.internal.example.com"], 60, 3, MTLS);
    leaves.push_str(&leaf(&root, &["api.internal.example.com"], 90, 0, MTLS));
    leaves.push_str(&legacy_pem);
    import_all(
        &mut ctx,
        &alice,
        vec![
            ("leaves.pem", leaves),
            ("cas.pem", format!("{}{}", sub.pem, root.pem)),
        ],
    );
    let row = ctx
        .store
        .read()
        .certificate_row(id_of(&ctx, "new.internal.example.com"))
        .unwrap()
        .unwrap();
    assert_eq!(row.authority.as_deref(), Some("internal-ca"));
    let after_import = stored_evaluations(&ctx);
    policy_ops::evaluate(&mut ctx, &alice).unwrap();
    assert_eq!(after_import, stored_evaluations(&ctx));
}

#[test]
fn stored_findings_from_before_schema_9_become_verdicts_on_upgrade() {
    use certdeck::store::{Store, MIGRATIONS};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let day = 86_400i64;
    let now = NOW.unix_timestamp();
    {
        // A database as schema 8 left it: findings stored as rows, with windows.
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "CREATE TABLE schema_migrations (
                 version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
        )
        .unwrap();
        let mut old: Vec<_> = MIGRATIONS.iter().filter(|m| m.0 <= 8).collect();
        old.sort_by_key(|m| m.0);
        for (v, name, sql) in old {
            c.execute_batch(sql).unwrap();
            c.execute(
                "INSERT INTO schema_migrations VALUES (?1, ?2, '2026-05-01T00:00:00Z')",
                rusqlite::params![v, name],
            )
            .unwrap();
        }
        c.pragma_update(None, "user_version", 8).unwrap();
        let cert = |id: i64, cn: &str, not_after: i64, is_ca: bool, status: &str| {
            c.execute(
                "INSERT INTO certificates (id, fingerprint_sha256, der, serial, subject, subject_cn,
                     issuer, sans, not_before, not_after, key_algorithm, key_bits,
                     signature_algorithm, is_ca, self_signed, status, source, first_seen)
                 VALUES (?1, ?2, x'00', '01', ?3, ?4, 'CN=Old CA', ?4, ?5, ?6, 'ecdsa', 256,
                     'ecdsa-with-SHA256', ?7, 0, ?8, 'import', '2026-05-01T00:00:00Z')",
                rusqlite::params![
                    id,
                    format!("{id:064x}"),
                    format!("CN={cn}"),
                    cn,
                    not_after - 90 * day,
                    not_after,
                    is_ca,
                    status
                ],
            )
            .unwrap();
        };
        let finding = |id: i64, rule: &str, from: Option<i64>| {
            c.execute(
                "INSERT INTO findings (certificate_id, rule, severity, message, applies_from,
                     evaluated_at) VALUES (?1, ?2, 'error', 'old', ?3, '2026-05-01T00:00:00Z')",
                rusqlite::params![id, rule, from],
            )
            .unwrap();
        };
        // Renewed by 2: the old evaluation gave it no expiry finding.
        cert(1, "api.example.com", now - day, false, "active");
        finding(1, "owner.missing", None);
        // The renewal, with its expiry ahead.
        cert(2, "api.example.com", now + 60 * day, false, "active");
        finding(2, "owner.missing", None);
        finding(2, "cert.expired", Some(now + 60 * day));
        // History: no findings, and none derived.
        cert(3, "old.example.com", now - day, false, "superseded");
        // Never evaluated: taken as not renewed, so its expiry shows.
        cert(4, "never.example.com", now - day, false, "active");
    }
    let store = Store::open(&path).unwrap();
    let read = store.read();
    let tables: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name = 'findings'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 0, "findings are no longer stored");
    let rules = |id: i64| -> Vec<String> {
        let row = read.certificate_row(id).unwrap().unwrap();
        row.findings
            .iter()
            .filter(|f| f.is_open(NOW))
            .map(|f| f.rule.to_string())
            .collect()
    };
    assert!(
        !rules(1).contains(&"cert.expired".to_string()),
        "{:?}",
        rules(1)
    );
    assert!(!rules(1).contains(&"renewal.due".to_string()));
    assert!(rules(1).contains(&"owner.missing".to_string()));
    assert!(!rules(2).contains(&"cert.expired".to_string()));
    assert!(rules(3).is_empty(), "{:?}", rules(3));
    assert!(
        rules(4).contains(&"cert.expired".to_string()),
        "{:?}",
        rules(4)
    );
    // Later, the renewal's own expiry shows without re-evaluation.
    let row = read.certificate_row(2).unwrap().unwrap();
    assert!(row
        .findings
        .iter()
        .any(|f| f.rule == "cert.expired" && f.is_open(NOW + Duration::days(61))));
}
