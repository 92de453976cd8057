//! `certdeck import`: what goes into the inventory, what never does, and what an operator
//! is told about what could not be read.

mod support;

use serde_json::Value;
use support::{fixture, Deck};

fn u(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

fn by_cn<'a>(list: &'a [Value], cn: &str) -> &'a Value {
    list.iter()
        .find(|c| c["common_name"] == cn)
        .unwrap_or_else(|| panic!("{cn} not in the inventory"))
}

#[test]
fn reimporting_adds_nothing_and_every_place_seen_is_recorded() {
    let deck = Deck::new();
    let (code, first) = deck.import(&["chain/leaf.pem"]);
    assert_eq!((code, u(&first, "new")), (0, 1));

    let (code, again) = deck.import(&["chain/leaf.pem", "chain/leaf.der", "chain/fullchain.pem"]);
    assert_eq!(code, 0);
    // leaf.pem, leaf.der and the leaf in fullchain.pem are one certificate.
    assert_eq!(u(&again, "certificates_seen"), 4);
    assert_eq!(u(&again, "new"), 1, "only the intermediate is new");
    assert_eq!(u(&again, "duplicates"), 3);
    assert_eq!(deck.list(&[]).len(), 2);

    let leaf = by_cn(&deck.list(&[]), "www.fixture.example").clone();
    let fp = leaf["fingerprint_sha256"].as_str().unwrap();
    let shown = deck.json(&["show", fp, "--json"]);
    let mut places: Vec<String> = shown["sightings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["location"].as_str().unwrap().to_string())
        .collect();
    places.sort();
    let expect = |rel: &str| {
        std::fs::canonicalize(fixture(rel))
            .unwrap()
            .display()
            .to_string()
    };
    assert_eq!(
        places,
        vec![
            expect("chain/fullchain.pem"),
            expect("chain/leaf.der"),
            expect("chain/leaf.pem")
        ]
    );
}

#[test]
fn private_keys_are_counted_skipped_and_their_bytes_never_reach_the_database() {
    let deck = Deck::new();
    let (code, out, _) = deck.run(&[
        "import",
        fixture("bundles/cert-and-key.pem").to_str().unwrap(),
        fixture("bundles/encrypted-key.pem").to_str().unwrap(),
        fixture("bundles/mixed.pem").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "key blocks are skipped, not failures");
    assert!(out.contains("4 private keys skipped, not stored"), "{out}");

    // Every key's bytes (DER, and each line of its base64) are absent from every file
    // SQLite wrote: the database, its WAL and its shared-memory index.
    let mut secrets: Vec<Vec<u8>> = Vec::new();
    for f in [
        "bundles/cert-and-key.pem",
        "bundles/encrypted-key.pem",
        "bundles/mixed.pem",
    ] {
        let text = std::fs::read_to_string(fixture(f)).unwrap();
        let certdeck::x509::pem::Contents::Pem(blocks) =
            certdeck::x509::read_blocks(text.as_bytes())
        else {
            panic!("{f} is PEM")
        };
        for b in blocks
            .iter()
            .filter(|b| b.kind == certdeck::x509::BlockKind::PrivateKey)
        {
            // The secret part: an EC private scalar (after `02 01 01 04 20`), or for an
            // encrypted key its ciphertext. Headers and public points also appear in
            // certificates, so they prove nothing.
            let der = b.der.clone().unwrap();
            let marker = [0x02, 0x01, 0x01, 0x04, 0x20];
            let secret = match der.windows(5).position(|w| w == marker) {
                Some(i) => der[i + 5..i + 5 + 32].to_vec(),
                None => der[der.len() - 32..].to_vec(),
            };
            secrets.push(secret);
        }
    }
    assert_eq!(secrets.len(), 4);
    let mut files = 0;
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", deck.db.display());
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        files += 1;
        for s in &secrets {
            assert!(
                !bytes.windows(s.len()).any(|w| w == s.as_slice()),
                "key material found in {path}"
            );
        }
    }
    assert!(files >= 1);
    // The certificates beside the keys were stored.
    let names = deck.names(&[]);
    assert!(names.contains(&"keyed.fixture.example".to_string()));
    assert!(names.contains(&"mixed.fixture.example".to_string()));
}

#[test]
fn a_broken_block_is_reported_with_path_block_and_reason_and_the_good_ones_are_stored() {
    let deck = Deck::new();
    let (code, report) = deck.import(&["bundles/one-broken-block.pem"]);
    assert_eq!(code, 1, "a certificate failed to parse");
    assert_eq!(u(&report, "new"), 2);
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert!(errors[0]["path"]
        .as_str()
        .unwrap()
        .ends_with("bundles/one-broken-block.pem"));
    assert_eq!(errors[0]["block"], 2);
    assert!(errors[0]["line"].as_u64().unwrap() > 1);
    assert!(errors[0]["reason"]
        .as_str()
        .unwrap()
        .contains("not a DER certificate"));
    let mut names = deck.names(&["--sort", "cn"]);
    names.sort();
    assert_eq!(
        names,
        ["good-one.fixture.example", "good-three.fixture.example"]
    );

    // And for people: path: block N (line L): reason, on stderr.
    let (code, _, err) = Deck::new().run(&[
        "import",
        fixture("bundles/one-broken-block.pem").to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    let line = err.lines().find(|l| l.starts_with("error:")).unwrap();
    assert!(
        line.contains("one-broken-block.pem: block 2 (line "),
        "{line}"
    );
    assert!(line.contains("not a DER certificate"), "{line}");
}

#[test]
fn exit_codes_tell_scripts_what_happened() {
    // 0: every input was a certificate or a duplicate.
    let deck = Deck::new();
    assert_eq!(deck.import(&["chain/root.pem", "chain/root.pem"]).0, 0);
    // 0: only non-certificate blocks were skipped (CRL, DH parameters, keys).
    let (code, r) = deck.import(&[
        "bundles/crl.pem",
        "bundles/dhparams.pem",
        "bundles/encrypted-key.pem",
    ]);
    assert_eq!(code, 0);
    assert_eq!(u(&r, "other_blocks_skipped"), 2);
    assert_eq!(u(&r, "private_keys_skipped"), 2);
    // 1: a certificate input could not be read (the rest stored).
    for bad in ["junk/garbage.pem", "junk/empty.pem", "no/such/file.pem"] {
        let (code, r) = deck.import(&["chain/leaf.pem", bad]);
        assert_eq!(code, 1, "{bad}");
        assert_eq!(r["errors"].as_array().unwrap().len(), 1, "{bad}: {r}");
        assert!(r["errors"][0]["path"]
            .as_str()
            .unwrap()
            .contains(bad.rsplit('/').next().unwrap()));
    }
    let (_, r) = deck.import(&["junk/empty.pem"]);
    assert_eq!(r["errors"][0]["reason"], "empty file");
    // 2: the command line was wrong.
    for args in [
        &["import"][..],
        &["import", "--env", "staging", "x.pem"][..],
        &["import", "--frobnicate", "x.pem"][..],
        &["import", "-", "-"][..],
    ] {
        let (code, _, err) = deck.run(args);
        assert_eq!(code, 2, "{args:?}: {err}");
    }
}

#[test]
fn stdin_is_read_with_a_dash_and_recorded_as_such() {
    let deck = Deck::new();
    let out = deck
        .cmd()
        .args(["import", "--json", "-"])
        .write_stdin(std::fs::read(fixture("chain/fullchain.pem")).unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(u(&r, "new"), 2);
    let leaf = by_cn(&deck.list(&[]), "www.fixture.example").clone();
    let shown = deck.json(&[
        "show",
        leaf["fingerprint_sha256"].as_str().unwrap(),
        "--json",
    ]);
    assert_eq!(shown["sightings"][0]["kind"], "stdin");
    assert_eq!(shown["sightings"][0]["location"], "stdin");
}

#[test]
fn directories_are_walked_recursively() {
    let deck = Deck::new();
    let (code, r) = deck.import(&[""]); // the whole fixtures/ tree
    assert_eq!(
        code, 1,
        "fixtures/ holds garbage, an empty file and a broken block"
    );
    // Every broken input is named; notes.txt promised nothing, so it is only counted.
    let mut failed: Vec<String> = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["path"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    failed.sort();
    failed.dedup();
    assert!(failed.contains(&"garbage.pem".to_string()), "{failed:?}");
    assert!(failed.contains(&"empty.pem".to_string()), "{failed:?}");
    assert!(
        failed.contains(&"one-broken-block.pem".to_string()),
        "{failed:?}"
    );
    assert!(!failed.contains(&"notes.txt".to_string()));
    assert!(u(&r, "files_without_certificates") >= 1);
    // Certificates from nested folders arrived.
    let names = deck.names(&[]);
    for cn in [
        "www.fixture.example",
        "Fixture Root CA",
        "many.fixture.example",
        "rsa-4096.fixture.example",
        "weak.fixture.example",
        "negative-serial.fixture.example",
    ] {
        assert!(names.contains(&cn.to_string()), "{cn} missing");
    }
}

#[test]
fn issuers_are_linked_by_key_identifier_and_by_name_whatever_the_import_order() {
    let deck = Deck::new();
    // Leaves first: their issuers are not known yet.
    deck.import(&["chain/leaf.pem", "byname/legacy-leaf.pem"]);
    let list = deck.list(&[]);
    let leaf_fp = by_cn(&list, "www.fixture.example")["fingerprint_sha256"]
        .as_str()
        .unwrap()
        .to_string();
    let shown = deck.json(&["show", &leaf_fp, "--json"]);
    assert_eq!(shown["chain"].as_array().unwrap().len(), 0);

    // Then the CAs: the links appear.
    let (_, r) = deck.import(&[
        "chain/intermediate.pem",
        "chain/root.pem",
        "byname/legacy-ca.pem",
    ]);
    assert!(u(&r, "issuer_links") >= 3, "{r}");
    let chain: Vec<String> = deck.json(&["show", &leaf_fp, "--json"])["chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["subject"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        chain,
        [
            "C=CH, O=certdeck fixtures, CN=Fixture Issuing CA 1",
            "C=CH, O=certdeck fixtures, CN=Fixture Root CA"
        ]
    );
    // The legacy leaf has no authority key identifier: linked by issuer name.
    let legacy = by_cn(&deck.list(&[]), "legacy.fixture.example").clone();
    let chain = deck.json(&[
        "show",
        legacy["fingerprint_sha256"].as_str().unwrap(),
        "--json",
    ])["chain"]
        .clone();
    assert_eq!(
        chain[0]["subject"],
        "C=CH, O=certdeck fixtures, CN=Fixture Legacy CA"
    );
}

#[test]
fn owner_and_environment_are_given_to_certificates_that_have_none() {
    let deck = Deck::new();
    let (code, _, _) = deck.run(&[
        "import",
        "--owner",
        "edge-team",
        "--env",
        "prod",
        fixture("chain/leaf.pem").to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    deck.run(&["import", fixture("chain/root.pem").to_str().unwrap()]);
    // A second import with other values does not change an existing assignment.
    deck.run(&[
        "import",
        "--owner",
        "payments",
        "--env",
        "nonprod",
        fixture("chain/leaf.pem").to_str().unwrap(),
        fixture("chain/intermediate.pem").to_str().unwrap(),
    ]);
    let list = deck.list(&[]);
    let leaf = by_cn(&list, "www.fixture.example");
    assert_eq!(
        (leaf["owner"].as_str(), leaf["environment"].as_str()),
        (Some("edge-team"), Some("prod"))
    );
    let int = by_cn(&list, "Fixture Issuing CA 1");
    assert_eq!(
        (int["owner"].as_str(), int["environment"].as_str()),
        (Some("payments"), Some("nonprod"))
    );
    let root = by_cn(&list, "Fixture Root CA");
    assert!(root["owner"].is_null() && root["environment"].is_null());
}

#[test]
fn the_json_summary_counts_everything_an_import_met() {
    let deck = Deck::new();
    let (code, r) = deck.import(&["bundles/mixed.pem", "chain/leaf.der", "junk/garbage.pem"]);
    assert_eq!(code, 1);
    let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "certificates_seen",
            "duplicates",
            "errors",
            "files_read",
            "files_without_certificates",
            "issuer_links",
            "new",
            "other_blocks_skipped",
            "private_keys_skipped",
        ]
    );
    assert_eq!(u(&r, "files_read"), 3);
    assert_eq!(u(&r, "certificates_seen"), 3); // mixed leaf, intermediate, leaf.der
    assert_eq!(u(&r, "new"), 3);
    assert_eq!(u(&r, "private_keys_skipped"), 1);
    assert_eq!(u(&r, "other_blocks_skipped"), 2); // CSR and CRL
    assert_eq!(u(&r, "issuer_links"), 2);
}

#[test]
fn unusual_but_valid_certificates_keep_their_exact_values() {
    let deck = Deck::new();
    let (code, _) = deck.import(&[
        "serials",
        "keys",
        "hostile/1000-sans.pem",
        "weak",
        "validity",
    ]);
    assert_eq!(code, 0);
    let list = deck.list(&[]);
    assert_eq!(
        by_cn(&list, "negative-serial.fixture.example")["serial"],
        "ef6e", // -4242 as a two's-complement DER INTEGER
    );
    assert_eq!(
        by_cn(&list, "serial20.fixture.example")["serial"],
        "7feeddccbbaa9988776655443322110001020304"
    );
    let key = |cn: &str| {
        let c = by_cn(&list, cn);
        (
            c["key_algorithm"].as_str().unwrap().to_string(),
            c["key_bits"].as_u64(),
        )
    };
    assert_eq!(key("rsa-4096.fixture.example"), ("rsa".into(), Some(4096)));
    assert_eq!(key("p384.fixture.example"), ("ecdsa".into(), Some(384)));
    assert_eq!(
        key("ed25519.fixture.example"),
        ("ed25519".into(), Some(256))
    );
    assert_eq!(key("weak.fixture.example"), ("rsa".into(), Some(1024)));
    assert_eq!(
        by_cn(&list, "weak.fixture.example")["signature_algorithm"],
        "sha1WithRSAEncryption"
    );
    let many = by_cn(&list, "many.fixture.example");
    assert_eq!(many["sans"].as_array().unwrap().len(), 1000);
    // Every SAN is searchable.
    assert_eq!(
        deck.names(&["--query", "san:h999.many.fixture.example"]),
        ["many.fixture.example"]
    );
}

#[test]
fn a_quiet_import_prints_nothing_on_stderr_when_not_a_terminal() {
    let deck = Deck::new();
    let (code, out, err) = deck.run(&["import", fixture("chain").to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(
        err.is_empty(),
        "no progress bar when stderr is not a terminal: {err:?}"
    );
    assert!(
        out.starts_with("6 certificates read from 5 files: 3 new, 3 already known"),
        "{out}"
    );
}

#[test]
fn every_san_is_indexed_for_lookup() {
    use certdeck::ops::import::{import, ImportOptions, Source};
    let (mut ctx, _, alice) = support::ctx_at(support::now());
    let sources = vec![
        Source::Path(fixture("hostile/1000-sans.pem")),
        Source::Path(fixture("chain/leaf.pem")),
    ];
    import(
        &mut ctx,
        &alice,
        sources,
        &ImportOptions::default(),
        &mut |_, _| {},
    )
    .unwrap();
    let read = ctx.store.read();
    let many = read
        .certificates_with_san("h999.many.fixture.example")
        .unwrap();
    assert_eq!(many.len(), 1);
    let row = read.certificate_row(many[0]).unwrap().unwrap();
    assert_eq!(row.subject_cn.as_deref(), Some("many.fixture.example"));
    assert_eq!(
        read.certificates_with_san("api.fixture.example")
            .unwrap()
            .len(),
        1
    );
    assert!(read
        .certificates_with_san("fixture.example.evil")
        .unwrap()
        .is_empty());
}

#[test]
fn hostile_file_names_are_shown_escaped_in_messages() {
    let deck = Deck::new();
    let dir = deck.dir.path().join("incoming");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("evil\x1b]0;owned\x07.pem"), b"not a certificate").unwrap();
    let (code, out, err) = deck.run(&["import", dir.to_str().unwrap()]);
    assert_eq!(code, 1);
    for text in [&out, &err] {
        assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text:?}");
    }
    assert!(err.contains("evil\\x1b]0;owned\\x07.pem"), "{err}");
    // JSON keeps the exact name.
    let (_, r) = {
        let out = deck
            .cmd()
            .args(["import", "--json", dir.to_str().unwrap()])
            .output()
            .unwrap();
        (
            out.status.code(),
            serde_json::from_slice::<Value>(&out.stdout).unwrap(),
        )
    };
    assert!(r["errors"][0]["path"]
        .as_str()
        .unwrap()
        .ends_with("evil\x1b]0;owned\x07.pem"));
}

#[test]
fn a_certificate_twice_in_one_file_is_stored_once_and_seen_there_once() {
    let deck = Deck::new();
    let dir = tempfile::tempdir().unwrap();
    let twice = dir.path().join("twice.pem");
    let pem = std::fs::read_to_string(fixture("chain/leaf.pem")).unwrap();
    std::fs::write(&twice, format!("{pem}{pem}")).unwrap();
    let (code, out, err) = deck.run(&["import", "--json", twice.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let out: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((u(&out, "new"), u(&out, "duplicates")), (1, 1));
    let list = deck.list(&[]);
    let fp = list[0]["fingerprint_sha256"].as_str().unwrap();
    let shown = deck.json(&["show", fp, "--json"]);
    assert_eq!(shown["sightings"].as_array().unwrap().len(), 1);
}
