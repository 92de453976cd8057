//! The demo estate: reproducible for a seed and a clock, with everything an operator
//! looks for in a real estate, stored through `ops` so the audit log tells its history.

mod support;

use certdeck::demo::{build_estate, prepare, DemoOptions, DemoSummary};
use certdeck::model::{CertRow, Environment, ExpiryBand};
use certdeck::ops::Ctx;
use certdeck::store::{AuditQuery, RowSelect};
use std::collections::BTreeSet;
use support::{ctx_at, operator, Deck};
use time::macros::datetime;
use time::OffsetDateTime;

/// The suite's clock (support::NOW).
const NOW_T: OffsetDateTime = datetime!(2026-06-01 0:00 UTC);

fn estate(seed: u64, size: usize) -> (Ctx, DemoSummary) {
    let (mut ctx, _clock, actor) = ctx_at(NOW_T);
    prepare(&mut ctx, &actor).expect("prepare");
    let summary = build_estate(&mut ctx, &actor, &DemoOptions { size, seed }).expect("estate");
    (ctx, summary)
}

fn rows(ctx: &Ctx) -> Vec<CertRow> {
    ctx.store
        .read()
        .certificate_rows(RowSelect::default())
        .expect("rows")
}

fn fingerprints(ctx: &Ctx) -> BTreeSet<String> {
    rows(ctx)
        .into_iter()
        .map(|r| r.fingerprint_sha256)
        .collect()
}

#[test]
fn the_same_seed_and_clock_give_the_same_certificates() {
    let (a, sa) = estate(5, 200);
    let (b, sb) = estate(5, 200);
    assert_eq!(fingerprints(&a), fingerprints(&b));
    assert_eq!(sa, sb);
}

#[test]
fn a_different_seed_gives_different_certificates() {
    let (a, _) = estate(5, 200);
    let (b, _) = estate(6, 200);
    let shared: Vec<_> = fingerprints(&a)
        .intersection(&fingerprints(&b))
        .cloned()
        .collect();
    // Only the committed legacy SHA-1 certificates are common to every estate.
    let legacy = rows(&a)
        .into_iter()
        .filter(|r| r.signature_algorithm.contains("sha1"))
        .count();
    assert_eq!(shared.len(), legacy);
}

#[test]
fn a_different_clock_moves_the_estate_with_it() {
    let (a, sa) = estate(5, 200);
    let (mut ctx, _clock, actor) = ctx_at(NOW_T + time::Duration::days(400));
    let sb = build_estate(&mut ctx, &actor, &DemoOptions { size: 200, seed: 5 }).unwrap();
    assert_ne!(fingerprints(&a), fingerprints(&ctx));
    // Relative to its own clock the generated part looks the same (only the fixed legacy
    // certificates age).
    assert_eq!(sa.expiring_7, sb.expiring_7);
    assert_eq!(sa.expiring_30, sb.expiring_30);
}

#[test]
fn the_estate_has_the_size_asked_for_and_the_summary_counts_the_inventory() {
    let (ctx, s) = estate(9, 300);
    let rows = rows(&ctx);
    assert_eq!(s.certificates, 300);
    assert_eq!(rows.len(), 300);
    let count = |f: &dyn Fn(&CertRow) -> bool| rows.iter().filter(|r| f(r)).count();
    assert_eq!(
        s.expired,
        count(&|r| ExpiryBand::of(NOW_T, r.not_after) == ExpiryBand::Expired)
    );
    assert_eq!(
        s.expiring_7,
        count(&|r| ExpiryBand::of(NOW_T, r.not_after) == ExpiryBand::Within7Days)
    );
    assert_eq!(
        s.expiring_30,
        count(&|r| ExpiryBand::of(NOW_T, r.not_after) == ExpiryBand::Within30Days)
    );
    assert_eq!(s.weak, count(&|r| r.is_weak()));
    assert_eq!(s.unowned, count(&|r| r.owner.is_none()));
    let identities = ctx.store.read().identities().unwrap();
    assert_eq!(s.identities, identities.len());
}

#[test]
fn the_default_estate_has_at_least_2000_certificates() {
    assert_eq!(
        DemoOptions::default(),
        DemoOptions {
            size: 2000,
            seed: 1
        }
    );
    let (_ctx, s) = estate(1, DemoOptions::default().size);
    assert!(s.certificates >= 2000, "{s:?}");
}

#[test]
fn the_estate_has_the_spread_an_operator_looks_for() {
    for seed in [3, 7] {
        spread_of(seed);
    }
}

fn spread_of(seed: u64) {
    let (ctx, s) = estate(seed, 150);
    let rows = rows(&ctx);
    // Every expiry band.
    assert!(
        s.expired > 0 && s.expiring_7 > 0 && s.expiring_30 > 0,
        "{s:?}"
    );
    assert!(rows
        .iter()
        .any(|r| ExpiryBand::of(NOW_T, r.not_after) == ExpiryBand::Ok));
    // Prod and non-prod.
    assert!(s.prod > 0 && s.nonprod > 0, "{s:?}");
    // Weak keys and SHA-1 signatures.
    assert!(rows
        .iter()
        .any(|r| r.key_algorithm == "rsa" && r.key_bits == Some(1024)));
    assert!(rows
        .iter()
        .any(|r| r.signature_algorithm.contains("sha1") && !r.is_ca));
    // Unowned, wildcard, managed.
    assert!(
        s.unowned > 0 && s.wildcards > 0 && s.identities > 0,
        "{s:?}"
    );
    assert!(rows
        .iter()
        .any(|r| r.sans.iter().any(|n| n.starts_with("*."))));
}

#[test]
fn at_least_twelve_owners_across_business_units_with_contacts() {
    let (ctx, s) = estate(3, 150);
    let owners = ctx.store.read().owners().unwrap();
    assert!(s.owners >= 12 && owners.len() == s.owners);
    assert!(owners.iter().all(|o| o.contact.is_some()));
    let units: BTreeSet<_> = owners
        .iter()
        .filter_map(|o| o.business_unit.clone())
        .collect();
    assert!(units.len() >= 8, "{units:?}");
    // Every owner has certificates, even in a small estate.
    let rows = rows(&ctx);
    for o in &owners {
        assert!(
            rows.iter().any(|r| r.owner.as_deref() == Some(&o.name)),
            "{} owns nothing",
            o.name
        );
    }
}

#[test]
fn issuers_include_an_acme_style_ca_vault_an_enterprise_ca_and_a_local_ca() {
    let (ctx, _) = estate(3, 150);
    let read = ctx.store.read();
    let authorities: Vec<_> = read
        .authorities()
        .unwrap()
        .into_iter()
        .map(|a| (a.name, a.kind.as_str()))
        .collect();
    for kind in ["acme", "vault", "external", "local"] {
        assert!(
            authorities.iter().any(|(_, k)| *k == kind),
            "{authorities:?}"
        );
    }
    let rows = rows(&ctx);
    let cas: BTreeSet<_> = rows
        .iter()
        .filter(|r| r.is_ca)
        .filter_map(|r| r.subject_cn.clone())
        .collect();
    for name in [
        "ACME Demo Root X1",
        "R10",
        "R11",
        "E5",
        "E6",
        "Northwind Vault PKI Intermediate",
        "Northwind Issuing CA 01",
        "certdeck Local Root",
        "certdeck Local Intermediate",
    ] {
        assert!(cas.contains(name), "missing CA {name}: {cas:?}");
    }
}

#[test]
fn every_certificate_chains_to_a_root_and_belongs_to_an_authority() {
    let (ctx, _) = estate(4, 150);
    let read = ctx.store.read();
    for r in rows(&ctx) {
        let chain = read.chain(r.id).unwrap();
        let top = chain.last().unwrap_or(&r);
        assert!(
            top.subject == top.issuer,
            "{} does not chain to a root (ends at {})",
            r.subject,
            top.subject
        );
        assert!(r.authority.is_some(), "{} has no authority", r.subject);
        if !r.is_ca {
            assert!(
                !chain.is_empty(),
                "{} is not linked to its issuer",
                r.subject
            );
        }
    }
}

#[test]
fn managed_identities_have_owner_environment_sans_and_their_newest_certificate() {
    let (ctx, _) = estate(2, 400);
    let read = ctx.store.read();
    let identities = read.identities().unwrap();
    assert!(!identities.is_empty());
    let rows = rows(&ctx);
    let mut with_history = 0;
    for i in &identities {
        assert!(
            i.owner.is_some() && i.environment.is_some() && !i.sans.is_empty(),
            "{i:?}"
        );
        let held: Vec<_> = rows
            .iter()
            .filter(|r| r.identity.as_deref() == Some(&i.name))
            .collect();
        let newest = held.iter().max_by_key(|r| r.not_after).unwrap();
        assert_eq!(i.current_certificate_id, Some(newest.id), "{}", i.name);
        with_history += usize::from(held.len() > 1);
    }
    assert!(with_history > 0, "no identity has renewal history");
}

#[test]
fn the_audit_log_tells_the_demo_history_as_the_actor() {
    let (ctx, _) = estate(2, 150);
    let records = ctx
        .store
        .read()
        .audit_records(&AuditQuery::default())
        .unwrap();
    let actions: BTreeSet<_> = records.iter().map(|r| r.action.as_str()).collect();
    for action in [
        "owner.create",
        "authority.add",
        "import",
        "certificate.assign",
        "identity.adopt",
    ] {
        assert!(actions.contains(action), "no {action} in {actions:?}");
    }
    assert!(records.iter().all(|r| r.actor == operator("alice").name));
}

#[test]
fn environments_are_prod_and_nonprod_only() {
    let (ctx, _) = estate(8, 150);
    let envs: BTreeSet<_> = rows(&ctx)
        .into_iter()
        .filter_map(|r| r.environment)
        .collect();
    assert_eq!(
        envs,
        BTreeSet::from([Environment::Prod, Environment::Nonprod])
    );
}

// --- the command line -------------------------------------------------------------

const DEMO: &[&str] = &["demo", "--no-tui", "--json"];

fn args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    DEMO.iter().copied().chain(extra.iter().copied()).collect()
}

#[test]
fn cli_demo_prints_the_summary_as_json_and_writes_the_database_given_by_db() {
    let deck = Deck::uninitialized();
    let v = deck.json(&args(&["--size", "120", "--seed", "7"]));
    assert_eq!(v["certificates"], 120);
    assert_eq!(v["seed"], 7);
    assert_eq!(v["database"], deck.db.to_str().unwrap());
    for key in [
        "owners",
        "authorities",
        "expired",
        "expiring_7",
        "expiring_30",
        "weak",
        "unowned",
        "identities",
    ] {
        assert!(v[key].as_u64().unwrap() > 0, "{key}: {v}");
    }
    // The inventory is there for every other command.
    assert_eq!(deck.list(&[]).len(), 120);
    assert_eq!(deck.list(&["--unowned"]).len() as u64, v["unowned"]);
}

#[test]
fn cli_demo_defaults_to_its_own_database_in_the_data_dir_and_rebuilds_it_identically() {
    let deck = Deck::uninitialized();
    let run = || {
        let out = deck.bare().args(args(&["--size", "60"])).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let first = run();
    let path = deck.dir.path().join("home/.local/share/certdeck/demo.db");
    assert_eq!(first["database"], path.to_str().unwrap());
    assert!(path.exists());
    // A demo database is replaced without asking, and the same seed and clock give the
    // same estate again.
    assert_eq!(first, run());
}

#[test]
fn cli_demo_out_names_the_database() {
    let deck = Deck::uninitialized();
    let out = deck.dir.path().join("elsewhere/estate.db");
    let v = deck.json(&args(&["--size", "30", "--out", out.to_str().unwrap()]));
    assert_eq!(v["database"], out.to_str().unwrap());
    assert_eq!(support::open(&out).read().certificate_count().unwrap(), 30);
    assert!(!deck.db.exists(), "--out wins over --db");
}

#[test]
fn cli_demo_refuses_to_replace_a_real_inventory_without_force() {
    let deck = Deck::new();
    let (code, _) = deck.import(&["demo/legacy/sha1.pem"]);
    assert_eq!(code, 0);
    let (code, _out, err) = deck.run(&["demo", "--no-tui", "--size", "40"]);
    assert_eq!(code, 1);
    assert!(err.contains("--force") && err.contains("refusing"), "{err}");
    // Nothing was lost.
    assert_eq!(deck.list(&[]).len(), 7);
    // With --force it is replaced.
    let v = deck.json(&args(&["--size", "40", "--force"]));
    assert_eq!(v["certificates"], 40);
    assert_eq!(deck.list(&[]).len(), 40);
}

#[test]
fn cli_demo_prints_a_readable_summary_without_json() {
    let deck = Deck::uninitialized();
    let (code, out, err) = deck.run(&["demo", "--no-tui", "--size", "50"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("certificates") && out.contains("50"), "{out}");
    assert!(
        out.contains("unowned") && out.contains("managed identities"),
        "{out}"
    );
}

/// Other parts use seed 7, size 150 as their fixture (the console's snapshots): its
/// certificates must not change by accident. If this fails because the estate was changed
/// on purpose, update the digest and say so in the commit message.
#[test]
fn the_seed_7_size_150_fixture_is_stable() {
    use sha2::{Digest, Sha256};
    let (ctx, s) = estate(7, 150);
    let mut h = Sha256::new();
    for f in fingerprints(&ctx) {
        h.update(f.as_bytes());
    }
    assert_eq!(s.certificates, 150);
    assert_eq!(
        hex::encode(h.finalize()),
        "b048dd716182d762a83d373dd8f63c693fe9aad179214b60dcf97334d141f989"
    );
}

#[test]
fn cli_demo_refuses_to_replace_an_empty_inventory_but_replaces_an_empty_file() {
    // Initialized (roles, audit history) but no certificate yet.
    let deck = Deck::new();
    let (code, _out, err) = deck.run(&["demo", "--no-tui", "--size", "20"]);
    assert_eq!(code, 1);
    assert!(err.contains("refusing"), "{err}");

    let other = Deck::uninitialized();
    std::fs::write(&other.db, b"").unwrap();
    let v = other.json(&args(&["--size", "20"]));
    assert_eq!(v["certificates"], 20);
}

#[test]
fn cli_demo_acts_as_the_invoking_os_user() {
    let deck = Deck::uninitialized();
    deck.json(&args(&["--size", "30"]));
    let me = certdeck::access::current_actor().name;
    let store = support::open(&deck.db);
    let records = store.read().audit_records(&AuditQuery::default()).unwrap();
    let imports: Vec<_> = records.iter().filter(|r| r.action == "import").collect();
    assert!(!imports.is_empty());
    assert!(records.iter().all(|r| r.actor == me), "not all by {me}");
}

#[test]
fn every_signature_verifies_with_the_issuers_key() {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let (ctx, _) = estate(6, 150);
    let read = ctx.store.read();
    for r in rows(&ctx) {
        let der = read.certificate_der(r.id).unwrap().unwrap();
        let issuer_der = match read.chain(r.id).unwrap().first() {
            Some(i) => read.certificate_der(i.id).unwrap().unwrap(),
            None => der.clone(),
        };
        let (_, cert) = X509Certificate::from_der(&der).unwrap();
        let (_, issuer) = X509Certificate::from_der(&issuer_der).unwrap();
        cert.verify_signature(Some(issuer.public_key()))
            .unwrap_or_else(|e| panic!("{}: {e}", r.subject));
    }
}

#[test]
fn cli_demo_replaces_a_demo_database_written_by_another_certdeck_version() {
    let deck = Deck::uninitialized();
    deck.json(&args(&["--size", "20"]));
    // As an older certdeck would have left it, as far as the schema version says.
    rusqlite::Connection::open(&deck.db)
        .unwrap()
        .pragma_update(None, "user_version", 1)
        .unwrap();
    let v = deck.json(&args(&["--size", "25"]));
    assert_eq!(v["certificates"], 25);
}
