//! `certdeck list` and `certdeck show`: finding what matters, and printing it safely for
//! people and exactly for machines.

mod support;

use serde_json::Value;
use support::{fixture, Deck};
use unicode_width::UnicodeWidthStr;

/// A small estate: an owned prod chain, owned nonprod certificates with interesting
/// validity, an unowned rest, and an authority assigned to the issuing CA.
fn estate() -> Deck {
    let deck = Deck::new();
    let f = |rel: &str| fixture(rel).display().to_string();
    let run = |args: &[&str]| {
        let (code, _, err) = deck.run(args);
        assert_eq!(code, 0, "{args:?}: {err}");
    };
    run(&[
        "import",
        "--owner",
        "edge-team",
        "--env",
        "prod",
        &f("chain"),
    ]);
    run(&[
        "import",
        "--owner",
        "payments",
        "--env",
        "nonprod",
        &f("validity"),
    ]);
    run(&[
        "import",
        &f("keys"),
        &f("hostile"),
        &f("serials"),
        &f("weak"),
        &f("byname"),
    ]);
    run(&[
        "authority",
        "add",
        "fixture-pki",
        "--kind",
        "local",
        "--env",
        "prod",
    ]);
    let int = deck.list(&["--query", "cn:\"Fixture Issuing CA 1\""]);
    assert_eq!(int.len(), 1);
    run(&[
        "assign",
        int[0]["fingerprint_sha256"].as_str().unwrap(),
        "--authority",
        "fixture-pki",
    ]);
    deck
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn fp_of(deck: &Deck, cn: &str) -> String {
    let list = deck.list(&[]);
    list.iter()
        .find(|c| c["common_name"] == cn)
        .unwrap_or_else(|| panic!("{cn} missing"))["fingerprint_sha256"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn list_filters_narrow_the_inventory_the_way_the_flags_say() {
    let deck = estate();
    assert_eq!(deck.list(&[]).len(), 20);
    assert_eq!(
        sorted(deck.names(&["--owner", "payments"])),
        [
            "expired.fixture.example",
            "future.fixture.example",
            "soon.fixture.example"
        ]
    );
    assert_eq!(
        sorted(deck.names(&["--env", "prod"])),
        [
            "Fixture Issuing CA 1",
            "Fixture Root CA",
            "www.fixture.example"
        ]
    );
    // Expiring within 30 days: still valid, due soon. What has already expired is
    // --expired; both flags list both.
    assert_eq!(
        sorted(deck.names(&["--expiring", "30"])),
        ["soon.fixture.example"]
    );
    assert_eq!(
        sorted(deck.names(&["--expiring", "30", "--expired"])),
        ["expired.fixture.example", "soon.fixture.example"]
    );
    assert_eq!(deck.names(&["--expired"]), ["expired.fixture.example"]);
    let unowned = deck.names(&["--unowned"]);
    assert_eq!(unowned.len(), 14);
    assert!(unowned.iter().all(|n| !n.contains("Fixture Root")));
    // The authority was given to the issuing CA and everything below it.
    let by_ca = deck.names(&["--authority", "fixture-pki"]);
    assert!(by_ca.contains(&"www.fixture.example".to_string()));
    assert!(by_ca.contains(&"Fixture Issuing CA 1".to_string()));
    assert!(!by_ca.contains(&"Fixture Root CA".to_string()));
    assert!(!by_ca.contains(&"legacy.fixture.example".to_string()));
    // Without an authority, the issuer's CN answers --authority.
    assert_eq!(
        sorted(deck.names(&["--authority", "Fixture Legacy CA"])),
        ["Fixture Legacy CA", "legacy.fixture.example"]
    );
    // Flags combine with query words (AND).
    assert_eq!(
        deck.names(&["--owner", "payments", "--query", "!expired expires<30d"]),
        ["soon.fixture.example"]
    );
    assert_eq!(deck.names(&["--query", "weak"]), ["weak.fixture.example"]);
    assert_eq!(
        deck.names(&["--query", "san:api.fixture"]),
        ["www.fixture.example"]
    );
    // OpenSSL's `req -x509` marks its self-signed certificates as CAs.
    assert_eq!(
        sorted(deck.names(&["--query", "is:ca"])),
        [
            "Fixture Issuing CA 1",
            "Fixture Legacy CA",
            "Fixture Root CA",
            "negative-serial.fixture.example",
            "weak.fixture.example"
        ]
    );
    // Bad words and values are usage errors that say what was wrong.
    let (code, _, err) = deck.run(&["list", "--query", "expires<soon"]);
    assert_eq!(code, 2);
    assert!(err.contains("expires<soon"), "{err}");
    assert_eq!(deck.run(&["list", "--env", "staging"]).0, 2);
    assert_eq!(deck.run(&["list", "--sort", "colour"]).0, 2);
}

#[test]
fn list_sorts_by_the_field_asked_for() {
    let deck = estate();
    let days: Vec<i64> = deck
        .list(&[])
        .iter()
        .map(|c| c["days_left"].as_i64().unwrap())
        .collect();
    assert!(
        days.windows(2).all(|w| w[0] <= w[1]),
        "default: soonest expiry first {days:?}"
    );
    let desc: Vec<i64> = deck
        .list(&["--sort", "-not_after"])
        .iter()
        .map(|c| c["days_left"].as_i64().unwrap())
        .collect();
    assert!(desc.windows(2).all(|w| w[0] >= w[1]), "{desc:?}");
    let names = deck.names(&["--sort", "cn", "--owner", "payments"]);
    assert_eq!(
        names,
        [
            "expired.fixture.example",
            "future.fixture.example",
            "soon.fixture.example"
        ]
    );
}

#[test]
fn list_json_has_exactly_the_documented_fields_with_exact_values() {
    let deck = estate();
    let list = deck.list(&["--owner", "edge-team"]);
    let leaf = list
        .iter()
        .find(|c| c["common_name"] == "www.fixture.example")
        .unwrap();
    let mut keys: Vec<&str> = leaf
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    // Issue 2's fields, plus id, common_name, identity and weak.
    let mut expected = vec![
        "fingerprint_sha256",
        "serial",
        "subject",
        "issuer",
        "sans",
        "not_before",
        "not_after",
        "days_left",
        "key_algorithm",
        "key_bits",
        "signature_algorithm",
        "is_ca",
        "owner",
        "authority",
        "environment",
        "status",
        "id",
        "common_name",
        "identity",
        "weak",
        // Issue 4: the policy profile and compliance findings.
        "profile",
        "compliant",
        "findings",
    ];
    expected.sort();
    assert_eq!(keys, expected);
    assert_eq!(leaf["serial"], "1001");
    assert_eq!(
        leaf["subject"],
        "O=certdeck fixtures, CN=www.fixture.example"
    );
    assert_eq!(
        leaf["issuer"],
        "C=CH, O=certdeck fixtures, CN=Fixture Issuing CA 1"
    );
    assert_eq!(
        leaf["sans"],
        serde_json::json!([
            "www.fixture.example",
            "fixture.example",
            "api.fixture.example"
        ])
    );
    assert_eq!(leaf["not_before"], "2026-01-01T00:00:00Z");
    assert_eq!(leaf["not_after"], "2027-01-01T00:00:00Z");
    assert_eq!(leaf["days_left"], 214);
    assert_eq!(leaf["key_algorithm"], "ecdsa");
    assert_eq!(leaf["key_bits"], 256);
    assert_eq!(leaf["signature_algorithm"], "ecdsa-with-SHA256");
    assert_eq!(leaf["is_ca"], false);
    assert_eq!(leaf["owner"], "edge-team");
    assert_eq!(leaf["authority"], "fixture-pki");
    assert_eq!(leaf["environment"], "prod");
    assert_eq!(leaf["status"], "active");
    assert_eq!(leaf["identity"], Value::Null);
    let fp = leaf["fingerprint_sha256"].as_str().unwrap();
    assert_eq!(fp.len(), 64);
    assert!(fp
        .chars()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    let expired = deck.list(&["--expired"]);
    assert_eq!(expired[0]["status"], "expired");
    assert_eq!(expired[0]["days_left"], -92);
    assert_eq!(expired[0]["owner"], "payments");
    let unowned = deck.list(&["--query", "cn:rsa-4096"]);
    assert_eq!(unowned[0]["owner"], Value::Null);
    assert_eq!(unowned[0]["environment"], Value::Null);
}

#[test]
fn json_keeps_hostile_values_exact() {
    let deck = estate();
    let names = deck.names(&["--query", "san:fixture.example"]);
    for cn in [
        "\x1b]0;pwned by certificate\x07title.fixture.example",
        "\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07clip.fixture.example",
        "\x1b[2J\x1b[Hclear.fixture.example",
        "evil\u{202e}elpmaxe.erutxif",
        "nul.fixture.example\0.attacker.example",
    ] {
        assert!(names.contains(&cn.to_string()), "{cn:?} not exact in JSON");
    }
    // And the raw bytes are JSON-escaped, so printing the JSON is itself safe.
    let (_, raw, _) = deck.run(&["list", "--json"]);
    assert!(!raw.contains('\x1b') && !raw.contains('\0') && !raw.contains('\x07'));
    assert!(raw.contains("\\u001b]0;pwned"));
}

#[test]
fn csv_has_a_header_and_one_exact_record_per_certificate() {
    let deck = estate();
    let (code, out, _) = deck.run(&["list", "--csv", "--owner", "payments"]);
    assert_eq!(code, 0);
    let mut r = csv::Reader::from_reader(out.as_bytes());
    let headers: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        &headers[..4],
        ["id", "fingerprint_sha256", "serial", "subject"]
    );
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    let cn = headers.iter().position(|h| h == "common_name").unwrap();
    let owner = headers.iter().position(|h| h == "owner").unwrap();
    assert_eq!(&rows[0][cn], "expired.fixture.example");
    assert!(rows.iter().all(|r| &r[owner] == "payments"));
    // Commas in subjects survive quoting.
    let subj = headers.iter().position(|h| h == "subject").unwrap();
    assert_eq!(
        &rows[0][subj],
        "O=certdeck fixtures, CN=expired.fixture.example"
    );
}

#[test]
fn the_table_fits_the_terminal_and_shows_hostile_names_escaped() {
    let deck = estate();
    for width in [80usize, 120, 40, 30] {
        let out = deck
            .cmd()
            .env("COLUMNS", width.to_string())
            .arg("list")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(text.lines().count(), 21, "header + 20 rows");
        for line in text.lines() {
            assert!(line.width() <= width, "{} > {width}: {line}", line.width());
        }
        assert_terminal_safe(&text);
    }
    // Wide enough, the escaped names are shown whole.
    let (_, text, _) = deck.run(&["list"]);
    assert_terminal_safe(&text);
    for shown in [
        "\\x1b]0;pwned by certificate\\x07title.fixture.example",
        "\\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\\x07clip.fixture.example",
        "\\x1b[2J\\x1b[Hclear.fixture.example",
        "evil\\u{202e}elpmaxe.erutxif",
        "nul.fixture.example\\x00.attacker.example",
    ] {
        assert!(text.contains(shown), "{shown} not shown escaped:\n{text}");
    }
    let header = text.lines().next().unwrap();
    for col in ["NAME", "DAYS", "OWNER", "CA", "ENV", "KEY", "FINGERPRINT"] {
        assert!(header.contains(col), "{header}");
    }
}

/// Nothing that a terminal would act on: no C0/C1 control (other than newline), no DEL,
/// no bidi override or isolate, no zero-width character.
fn assert_terminal_safe(text: &str) {
    for (i, c) in text.chars().enumerate() {
        let u = c as u32;
        let bad = (u < 0x20 && c != '\n')
            || (0x7f..=0x9f).contains(&u)
            || (0x200b..=0x200f).contains(&u)
            || (0x202a..=0x202e).contains(&u)
            || (0x2066..=0x2069).contains(&u);
        assert!(!bad, "raw {u:#x} at char {i}");
    }
}

#[test]
fn show_prints_the_full_decode_an_operator_expects() {
    let deck = estate();
    let fp = fp_of(&deck, "www.fixture.example");
    let (code, text, _) = deck.run(&["show", &fp[..12]]);
    assert_eq!(code, 0);
    for expected in [
        "Subject:        O=certdeck fixtures, CN=www.fixture.example",
        "Issuer:         C=CH, O=certdeck fixtures, CN=Fixture Issuing CA 1",
        "Serial:         10:01",
        "Not before:     2026-01-01T00:00:00Z",
        "Not after:      2027-01-01T00:00:00Z",
        "214 days left",
        "Public key:     ECDSA 256 bits (P-256)",
        "Signature:      ecdsa-with-SHA256",
        "Owner:          edge-team",
        "Authority:      fixture-pki",
        "Environment:    prod",
        "Subject Alternative Name",
        "api.fixture.example",
        "Key Usage",
        "Extended Key Usage",
        "Authority Key Identifier",
        "CRL Distribution Points",
        "http://crl.fixture.example/issuing1.crl",
        "Authority Information Access",
        "http://ca.fixture.example/issuing1.crt",
        "Certificate Policies",
        "2.23.140.1.2.1",
        "Fixture Issuing CA 1",
        "Fixture Root CA",
        "Seen at:",
        "chain/leaf.pem",
    ] {
        assert!(text.contains(expected), "show lacks {expected:?}:\n{text}");
    }
    let colon_fp: String = fp
        .to_ascii_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(":");
    assert!(text.contains(&colon_fp), "SHA-256 fingerprint shown");

    // The CA shows its own extensions.
    let (_, ca, _) = deck.run(&["show", &fp_of(&deck, "Fixture Issuing CA 1")]);
    assert!(
        ca.contains("Basic Constraints") && ca.contains("Subject Key Identifier"),
        "{ca}"
    );
}

#[test]
fn show_json_and_pem_are_exact() {
    let deck = estate();
    let fp = fp_of(&deck, "www.fixture.example");
    let v = deck.json(&["show", &fp, "--json"]);
    assert_eq!(v["certificate"]["fingerprint_sha256"], fp.as_str());
    assert_eq!(v["detail"]["fingerprint_sha256"], fp.as_str());
    let names: Vec<&str> = v["detail"]["extensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    for n in [
        "Subject Alternative Name",
        "Key Usage",
        "Extended Key Usage",
        "CRL Distribution Points",
        "Authority Information Access",
        "Certificate Policies",
        "Authority Key Identifier",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    assert_eq!(v["chain"].as_array().unwrap().len(), 2);
    assert!(!v["sightings"].as_array().unwrap().is_empty());

    // --pem gives back the very certificate that was imported.
    let (code, pem, _) = deck.run(&["show", &fp, "--pem"]);
    assert_eq!(code, 0);
    assert_eq!(
        pem,
        std::fs::read_to_string(fixture("chain/leaf.pem"))
            .unwrap()
            .replace("\r\n", "\n")
    );

    // Hostile values stay exact in --json.
    let hostile = fp_of(&deck, "\x1b[2J\x1b[Hclear.fixture.example");
    let v = deck.json(&["show", &hostile, "--json"]);
    assert_eq!(
        v["certificate"]["common_name"],
        "\x1b[2J\x1b[Hclear.fixture.example"
    );
}

#[test]
fn show_renders_every_hostile_name_escaped() {
    let deck = estate();
    for cn in [
        "\x1b]0;pwned by certificate\x07title.fixture.example",
        "\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07clip.fixture.example",
        "\x1b[2J\x1b[Hclear.fixture.example",
        "evil\u{202e}elpmaxe.erutxif",
        "nul.fixture.example\0.attacker.example",
    ] {
        let fp = fp_of(&deck, cn);
        let (code, text, _) = deck.run(&["show", &fp]);
        assert_eq!(code, 0);
        assert_terminal_safe(&text);
        let escaped = certdeck::sanitize::sanitize(cn).into_owned();
        assert!(text.contains(&escaped), "{escaped} not in:\n{text}");
    }
    // 1,000 SANs are all listed.
    let (_, text, _) = deck.run(&["show", &fp_of(&deck, "many.fixture.example")]);
    assert!(text.contains("h0.many.fixture.example") && text.contains("h999.many.fixture.example"));
}

#[test]
fn show_finds_by_id_or_fingerprint_prefix_and_says_when_it_cannot() {
    let deck = estate();
    let list = deck.list(&[]);
    let id = list[0]["id"].as_i64().unwrap().to_string();
    let v = deck.json(&["show", &id, "--json"]);
    assert_eq!(v["certificate"]["id"], list[0]["id"]);
    let fp = list[0]["fingerprint_sha256"].as_str().unwrap();
    let colons = format!("{}:{}:{}", &fp[0..2], &fp[2..4], &fp[4..6]).to_ascii_uppercase();
    assert_eq!(
        deck.json(&["show", &colons, "--json"])["certificate"]["id"],
        list[0]["id"]
    );
    let (code, _, err) = deck.run(&["show", "ffffffffffffffffffff"]);
    assert_eq!(code, 1);
    assert!(err.contains("no certificate"), "{err}");
    let (code, _, _) = deck.run(&["show", "zz-not-hex"]);
    assert_eq!(code, 2);
    let (code, _, err) = deck.run(&["show", "99999"]);
    assert_eq!(code, 1, "{err}");
}
