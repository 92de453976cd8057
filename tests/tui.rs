//! The console, driven the way an operator drives it: key events into the app, the
//! screen read back from a `TestBackend`. Snapshots (insta) pin every view at 80x24 and
//! 160x48 on a fixed inventory and a fixed clock (2026-11-22T12:00:00Z).

mod support;

use certdeck::model::{Actor, Environment};
use certdeck::ops::import::{import, ImportOptions, Source};
use certdeck::ops::Ctx;
use certdeck::tui::app::{App, Event};
use certdeck::tui::theme::Theme;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use support::{ctx_at, fixture};
use time::macros::datetime;
use time::OffsetDateTime;

const NOW: OffsetDateTime = datetime!(2026-11-22 12:00 UTC);

/// Imports fixture files as bytes labelled by their path under `fixtures/`, so the
/// "seen at" lines do not depend on where the repository is checked out.
fn import_as(
    ctx: &mut Ctx,
    actor: &Actor,
    files: &[&str],
    owner: Option<&str>,
    env: Option<Environment>,
) {
    let sources = files
        .iter()
        .map(|rel| Source::Bytes {
            label: format!("fixtures/{rel}"),
            kind: "file".into(),
            data: std::fs::read(fixture(rel)).expect("fixture"),
        })
        .collect();
    let opts = ImportOptions {
        owner: owner.map(str::to_string),
        environment: env,
        source: None,
    };
    let r = import(ctx, actor, sources, &opts, &mut |_, _| {}).expect("import");
    assert!(r.errors.is_empty(), "{:?}", r.errors);
}

/// A small estate from the committed fixtures: a chain owned by payments in prod,
/// validity and key fixtures owned by web and platform, and the hostile names unowned.
fn fixture_ctx() -> Ctx {
    let (mut ctx, _clock, alice) = ctx_at(NOW);
    import_as(
        &mut ctx,
        &alice,
        &["chain/root.pem", "chain/intermediate.pem", "chain/leaf.pem"],
        Some("payments"),
        Some(Environment::Prod),
    );
    import_as(
        &mut ctx,
        &alice,
        &[
            "validity/expired.pem",
            "validity/expiring-soon.pem",
            "validity/not-yet-valid.pem",
        ],
        Some("web"),
        Some(Environment::Nonprod),
    );
    import_as(
        &mut ctx,
        &alice,
        &[
            "keys/rsa-4096.pem",
            "keys/p384.pem",
            "keys/ed25519.pem",
            "weak/rsa1024-sha1.pem",
        ],
        Some("platform"),
        Some(Environment::Prod),
    );
    import_as(
        &mut ctx,
        &alice,
        &["byname/legacy-ca.pem", "byname/legacy-leaf.pem"],
        None,
        None,
    );
    ctx
}

/// The demo estate the issue pins for console tests: size 150, seed 7, at NOW.
fn demo_ctx() -> Ctx {
    use certdeck::demo::{build_estate, prepare, DemoOptions};
    let (mut ctx, _clock, alice) = ctx_at(NOW);
    prepare(&mut ctx, &alice).expect("prepare");
    build_estate(&mut ctx, &alice, &DemoOptions { size: 150, seed: 7 }).expect("demo estate");
    ctx
}

fn hostile_ctx() -> Ctx {
    let (mut ctx, _clock, alice) = ctx_at(NOW);
    import_as(
        &mut ctx,
        &alice,
        &[
            "hostile/osc-title.pem",
            "hostile/osc52-clipboard.pem",
            "hostile/csi-clear.pem",
            "hostile/bidi-override.pem",
            "hostile/nul-cn.pem",
        ],
        None,
        None,
    );
    ctx
}

struct Console {
    app: App,
    term: Terminal<TestBackend>,
}

impl Console {
    fn new(ctx: Ctx, first: &str, w: u16, h: u16) -> Console {
        Self::themed(ctx, first, w, h, "default", true)
    }

    fn themed(ctx: Ctx, first: &str, w: u16, h: u16, theme: &str, unicode: bool) -> Console {
        let theme = Theme::load(theme, None).unwrap();
        let sh = certdeck::tui::shared(ctx, false, theme, unicode, "fixture.db".into());
        let mut app = App::new(sh, first);
        app.settle();
        let term = Terminal::new(TestBackend::new(w, h)).unwrap();
        let mut c = Console { app, term };
        c.draw();
        c
    }

    fn draw(&mut self) {
        let app = &mut self.app;
        self.term.draw(|f| app.render(f)).unwrap();
    }

    /// Types keys: plain characters, or `<Enter>`, `<Esc>`, `<Tab>`, `<Down>`, `<Up>`.
    fn keys(&mut self, s: &str) -> &mut Self {
        let mut rest = s;
        while !rest.is_empty() {
            const NAMED: &[(&str, KeyCode)] = &[
                ("<Enter>", KeyCode::Enter),
                ("<Esc>", KeyCode::Esc),
                ("<Tab>", KeyCode::Tab),
                ("<Down>", KeyCode::Down),
                ("<Up>", KeyCode::Up),
                ("<PgDn>", KeyCode::PageDown),
                ("<BS>", KeyCode::Backspace),
            ];
            let (code, len) = match NAMED.iter().find(|(n, _)| rest.starts_with(n)) {
                Some((n, code)) => (*code, n.len()),
                None => {
                    let c = rest.chars().next().unwrap();
                    (KeyCode::Char(c), c.len_utf8())
                }
            };
            self.app.press(code);
            self.app.settle();
            self.draw();
            rest = &rest[len..];
        }
        self
    }

    fn screen(&self) -> String {
        let buf = self.term.backend().buffer();
        let mut out = String::new();
        for y in 0..buf.area.height {
            let mut line = String::new();
            for x in 0..buf.area.width {
                line.push_str(buf[(x, y)].symbol());
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

fn snap(name: &str, c: &Console) {
    insta::assert_snapshot!(name, c.screen());
}

// ---- entry and navigation -------------------------------------------------------------

#[test]
fn the_console_opens_on_the_dashboard_with_the_estate_counts() {
    let c = Console::new(fixture_ctx(), "dash", 80, 24);
    let s = c.screen();
    assert_eq!(c.app.view().name(), "dash");
    assert!(s.contains("Certificates 12"), "{s}");
    assert!(s.contains("Expired"), "{s}");
    assert!(s.contains("Expiring per week"), "{s}");
}

#[test]
fn colon_certs_opens_the_inventory_and_tab_completes_view_names() {
    let mut c = Console::new(fixture_ctx(), "dash", 80, 24);
    c.keys(":ce<Tab>");
    assert_eq!(c.app.mode_name(), "command");
    let last = c.screen().lines().last().unwrap().to_string();
    assert!(
        last.starts_with(":cert") && last.contains("certificates  certs"),
        "{last}"
    );
    c.keys("s<Enter>");
    assert_eq!(c.app.view().name(), "certs");
    assert!(
        c.screen().contains("Certificates (12 of 12)"),
        "{}",
        c.screen()
    );
    c.keys(":nosuch<Enter>");
    assert!(c.app.status_text().unwrap().contains("no view or command"));
    assert_eq!(c.app.view().name(), "certs");
}

#[test]
fn completion_lists_every_candidate_when_the_prefix_is_ambiguous() {
    let c = Console::new(fixture_ctx(), "dash", 80, 24);
    let words = c.app.completions("c");
    assert!(words.contains(&"certs".to_string()) && words.contains(&"cas".to_string()));
    assert!(c.app.completions("").contains(&"audit".to_string()));
}

#[test]
fn a_filter_narrows_the_table_and_shows_in_the_frame_title() {
    let mut c = Console::new(fixture_ctx(), "certs", 80, 24);
    c.keys("/owner:payments");
    assert_eq!(c.app.mode_name(), "filter");
    c.keys("<Enter>");
    assert_eq!(c.app.mode_name(), "normal");
    let s = c.screen();
    assert!(s.contains("/owner:payments"), "{s}");
    assert!(s.contains("(3 of 12)"), "{s}");
    assert!(!s.contains("web"), "{s}");
    // Esc clears the filter before it goes anywhere.
    c.keys("<Esc>");
    assert!(c.screen().contains("(12 of 12)"));
    assert_eq!(c.app.view().name(), "certs");
}

#[test]
fn a_bad_query_word_is_named_and_keeps_the_previous_result() {
    let mut c = Console::new(fixture_ctx(), "certs", 80, 24);
    c.keys("/colour:red<Enter>");
    assert_eq!(
        c.app.mode_name(),
        "filter",
        "Enter on a bad query stays in the prompt"
    );
    assert!(c.app.status_text().unwrap().contains("colour:red"));
    // While typing, the last query that parsed ("colour", free text) stays applied.
    assert_eq!(c.app.view().filter(), Some("colour"));
    c.keys("<Esc>");
    assert_eq!(c.app.mode_name(), "normal");
    assert_eq!(
        c.app.view().filter(),
        Some(""),
        "Esc restores the filter from before"
    );
    assert!(c.screen().contains("(12 of 12)"));
}

#[test]
fn negation_and_expiry_words_work_in_the_console_as_in_list() {
    let mut c = Console::new(fixture_ctx(), "certs", 80, 24);
    c.keys("/expired<Enter>");
    let expired = c.screen();
    assert!(
        expired.contains("(2 of 12)") || expired.contains("of 12)"),
        "{expired}"
    );
    c.keys("<Esc>/!expired !unowned<Enter>");
    assert!(!c.screen().contains("(12 of 12)"));
}

#[test]
fn enter_opens_the_detail_and_esc_returns_to_the_same_row() {
    let mut c = Console::new(fixture_ctx(), "certs", 80, 24);
    c.keys("/www.fixture<Enter>");
    c.keys("<Enter>");
    assert_eq!(c.app.view().name(), "detail");
    let s = c.screen();
    assert!(s.contains("www.fixture.example"), "{s}");
    assert!(
        s.contains("Fixture Issuing CA 1") || s.contains("Issuer"),
        "{s}"
    );
    c.keys("<Esc>");
    assert_eq!(c.app.view().name(), "certs");
    assert!(c.screen().contains("/www.fixture"));
}

#[test]
fn the_tree_groups_by_owner_ca_and_environment_and_narrows_the_table() {
    let mut c = Console::new(fixture_ctx(), "owners", 80, 24);
    let s = c.screen();
    assert!(s.contains("Owners (o)"), "{s}");
    assert!(
        s.contains("(unowned)") && s.contains("payments") && s.contains("platform"),
        "{s}"
    );
    // Down from "All" lands on the unowned group (a finding, listed first).
    c.keys("j");
    assert!(
        c.screen().contains("Certificates · (unowned) (2 of 12)"),
        "{}",
        c.screen()
    );
    c.keys("o");
    assert!(c.screen().contains("CAs (o)"));
    c.keys("o");
    assert!(c.screen().contains("Environments (o)"));
    assert!(c.screen().contains("nonprod"));
    c.keys("o");
    assert!(c.screen().contains("Profiles (o)"), "{}", c.screen());
    c.keys("o");
    assert!(c.screen().contains("Owners (o)"), "{}", c.screen());
}

/// The tree's nodes as `name -> counts` ("12 ▲3"), read off the left pane.
fn tree_nodes(screen: &str, tree_width: usize) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    for line in screen.lines().skip(3) {
        let pane: String = line.chars().skip(1).take(tree_width).collect();
        let pane = pane.trim();
        if pane.is_empty() || pane.starts_with('│') {
            continue;
        }
        // Counts are the trailing words: "12" or "12 ▲3".
        let words: Vec<&str> = pane.split_whitespace().collect();
        let n = if words.last().is_some_and(|w| w.starts_with('▲')) {
            2
        } else {
            1
        };
        let (name, counts) = words.split_at(words.len() - n);
        out.insert(name.join(" "), counts.join(" "));
    }
    out
}

/// Every certificate row as the store reads it, with findings in full.
fn stored_rows(c: &Console) -> Vec<certdeck::model::CertRow> {
    c.app
        .sh
        .ctx
        .store
        .read()
        .certificate_rows(certdeck::store::RowSelect::default())
        .unwrap()
}

#[test]
fn the_profiles_tree_counts_each_profile_and_the_unprofiled_first() {
    let mut c = Console::new(demo_ctx(), "profiles", 160, 48);
    let rows = stored_rows(&c);
    let mut expected: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    for r in &rows {
        let name = r.profile.clone().unwrap_or_else(|| "(no profile)".into());
        let e = expected.entry(name).or_default();
        e.0 += 1;
        e.1 += usize::from(r.not_after <= NOW + time::Duration::days(30));
    }
    assert!(
        expected.len() >= 3 && expected.contains_key("(no profile)"),
        "the demo estate has profiled and unprofiled certificates: {expected:?}"
    );
    let s = c.screen();
    assert!(s.contains("Profiles (o)"), "{s}");
    let nodes = tree_nodes(&s, 33);
    for (name, (count, expiring)) in &expected {
        let want = if *expiring > 0 {
            format!("{count} ▲{expiring}")
        } else {
            count.to_string()
        };
        assert_eq!(nodes.get(name), Some(&want), "{name} in {nodes:?}\n{s}");
    }
    // The unprofiled certificates are a finding: first under "All", and one key away.
    let unprofiled = expected["(no profile)"].0;
    c.keys("j");
    assert!(
        c.screen().contains(&format!(
            "Certificates · (no profile) ({unprofiled} of {})",
            rows.len()
        )),
        "{}",
        c.screen()
    );
    // A filter narrows the counts like every other grouping.
    c.keys("/expires<30d<Enter>");
    let nodes = tree_nodes(&c.screen(), 33);
    for (name, (_, expiring)) in &expected {
        if *expiring > 0 {
            assert_eq!(
                nodes.get(name),
                Some(&format!("{expiring} ▲{expiring}")),
                "{name}"
            );
        } else {
            assert!(!nodes.contains_key(name), "{name} has no match: {nodes:?}");
        }
    }
}

#[test]
fn sorting_cycles_columns_and_reverses() {
    let mut c = Console::new(fixture_ctx(), "certs", 160, 48);
    c.keys("s");
    assert!(c.app.status_text().unwrap().contains("sorted by name"));
    assert!(c.screen().contains("NAME↑"), "{}", c.screen());
    c.keys("S");
    assert!(c.screen().contains("NAME↓"), "{}", c.screen());
}

#[test]
fn help_is_generated_from_the_keymap_and_closes_on_any_key() {
    let mut c = Console::new(fixture_ctx(), "certs", 80, 24);
    c.keys("?");
    let s = c.screen();
    assert!(s.contains("Help"), "{s}");
    assert!(s.contains("switch pane"), "{s}");
    assert!(c.app.help.is_some());
    c.keys("x");
    assert!(c.app.help.is_none());
}

#[test]
fn q_quits_and_so_do_sigterm_and_sighup() {
    let mut c = Console::new(fixture_ctx(), "dash", 80, 24);
    c.keys("q");
    assert_eq!(c.app.quit.as_deref(), Some("quit"));
    let mut c = Console::new(fixture_ctx(), "dash", 80, 24);
    c.app.handle(Event::Signal("SIGHUP"));
    assert_eq!(c.app.quit.as_deref(), Some("received SIGHUP"));
    c.app.handle(Event::Key(KeyEvent::new(
        KeyCode::Char('c'),
        KeyModifiers::CONTROL,
    )));
    assert!(c.app.quit.is_some());
}

#[test]
fn the_audit_log_filters_by_actor_action_and_object() {
    let mut c = Console::new(fixture_ctx(), "audit", 80, 24);
    assert!(c.screen().contains("Audit log"));
    c.keys("/action:owner.create<Enter>");
    assert!(c.screen().contains("owner.create"), "{}", c.screen());
    assert!(!c.screen().contains("certificate.import"), "{}", c.screen());
    c.keys("<Esc>/actor:nobody<Enter>");
    assert!(c.screen().contains("no audit records match"));
}

#[test]
fn export_writes_the_filtered_list_as_csv_or_json() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Console::new(fixture_ctx(), "certs", 80, 24);
    c.keys("/owner:payments<Enter>");
    let msg = c.app.export_to(&dir.path().join("p.json")).unwrap();
    assert!(msg.contains("exported 3 certificates"), "{msg}");
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("p.json")).unwrap()).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 3);
    assert!(v
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["owner"] == "payments"));
    // Through the keys: e asks for a path, Enter writes it.
    let csv = dir.path().join("p.csv");
    c.keys("e");
    assert_eq!(c.app.mode_name(), "export");
    for _ in 0..40 {
        c.keys("<BS>");
    }
    c.keys(csv.to_str().unwrap());
    c.keys("<Enter>");
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(text.starts_with("id,fingerprint_sha256"));
}

#[test]
fn resize_keeps_the_console_usable() {
    let mut c = Console::new(fixture_ctx(), "certs", 160, 48);
    c.term.backend_mut().resize(80, 24);
    c.term
        .resize(ratatui::layout::Rect::new(0, 0, 80, 24))
        .unwrap();
    c.draw();
    assert!(c.screen().contains("(12 of 12)"));
    assert_eq!(c.screen().lines().count(), 24);
}

// ---- terminal safety ------------------------------------------------------------------

#[test]
fn hostile_names_render_escaped_and_nothing_reaches_the_terminal_raw() {
    for view in ["certs", "dash", "audit"] {
        let mut c = Console::new(hostile_ctx(), view, 160, 48);
        if view == "certs" {
            c.keys("s"); // by name: stable order
        }
        let s = c.screen();
        for ch in s.chars() {
            let u = ch as u32;
            assert!(
                ch == '\n'
                    || !(u < 0x20 || (0x7f..=0x9f).contains(&u) || (0x202a..=0x202e).contains(&u)),
                "{view}: raw control U+{u:04X} on screen:\n{s}"
            );
        }
        if view == "certs" {
            assert!(s.contains("\\x1b]0;"), "{s}");
            assert!(s.contains("\\x1b[2J"), "{s}");
            assert!(s.contains("\\x1b]52;"), "{s}");
            assert!(s.contains("\\u{202e}"), "{s}");
        }
    }
}

#[test]
fn hostile_detail_is_escaped_too() {
    let mut c = Console::new(hostile_ctx(), "certs", 160, 48);
    c.keys("/cn:52<Enter><Enter>");
    assert_eq!(c.app.view().name(), "detail");
    let s = c.screen();
    assert!(s.contains("\\x1b]52;"), "{s}");
    assert!(!s.contains('\x1b') && !s.contains('\x07'));
    snap("hostile_detail_160x48", &c);
}

// ---- themes and symbols ---------------------------------------------------------------

#[test]
fn without_utf8_the_symbols_and_borders_fall_back_to_ascii() {
    let c = Console::themed(fixture_ctx(), "certs", 80, 24, "mono", false);
    let s = c.screen();
    assert!(s.is_ascii() || !s.contains('✓'), "{s}");
    assert!(s.contains(" ok ") || s.contains("ok "), "{s}");
    assert!(!s.contains('╭'));
    snap("certs_ascii_mono_80x24", &c);
}

#[test]
fn mono_marks_state_with_modifiers_not_colour() {
    let c = Console::themed(fixture_ctx(), "certs", 80, 24, "mono", true);
    let buf = c.term.backend().buffer();
    for cell in buf.content() {
        assert!(
            matches!(cell.fg, ratatui::style::Color::Reset),
            "colour in mono: {cell:?}"
        );
        assert!(
            matches!(cell.bg, ratatui::style::Color::Reset),
            "colour in mono: {cell:?}"
        );
    }
}

// ---- snapshots of every view at 80x24 and 160x48 --------------------------------------

/// Every view on the demo estate, at both sizes, reached the way an operator does.
#[test]
fn snapshots_of_every_view_on_the_demo_estate() {
    for (w, h) in [(80u16, 24u16), (160, 48)] {
        let mut c = Console::new(demo_ctx(), "dash", w, h);
        snap(&format!("demo_dashboard_{w}x{h}"), &c);
        c.keys(":certs<Enter>");
        snap(&format!("demo_inventory_{w}x{h}"), &c);
        c.keys(":owners<Enter>jj");
        snap(&format!("demo_owners_{w}x{h}"), &c);
        c.keys(":cas<Enter>j");
        snap(&format!("demo_cas_{w}x{h}"), &c);
        c.keys(":envs<Enter>j");
        snap(&format!("demo_envs_{w}x{h}"), &c);
        c.keys(":profiles<Enter>jj");
        snap(&format!("demo_profiles_{w}x{h}"), &c);
        c.keys(":certs<Enter>/expires<30d !expired<Enter><Enter>");
        snap(&format!("demo_detail_{w}x{h}"), &c);
        c.keys(":audit<Enter>");
        snap(&format!("demo_audit_{w}x{h}"), &c);
        c.keys(":policy<Enter>");
        snap(&format!("demo_policy_{w}x{h}"), &c);
        c.keys(":dash<Enter>?");
        snap(&format!("demo_help_{w}x{h}"), &c);
    }
}

/// The "done when": one owner's certificates expiring this month, in a few
/// keystrokes from the dashboard, opened, and back out.
#[test]
fn an_owners_certificates_expiring_this_month_are_a_few_keystrokes_away() {
    let mut c = Console::new(demo_ctx(), "dash", 80, 24);
    // The dashboard names the owner with the most certificates expiring soon.
    let d = c.app.sh.ctx.store.read().dashboard(NOW, 13, 30, 5).unwrap();
    let owner = d
        .top_owners
        .iter()
        .find_map(|n| n.name.clone())
        .expect("an owner with expiring certificates");
    assert!(
        c.screen().contains(&owner[..owner.len().min(10)]),
        "{}",
        c.screen()
    );
    c.keys(":certs<Enter>");
    c.keys(&format!("/owner:{owner} expires<30d<Enter>"));
    let title = c.screen().lines().nth(1).unwrap().to_string();
    assert!(
        title.contains(&format!("/owner:{owner} expires<30d")),
        "{title}"
    );
    c.keys("<Enter>");
    assert_eq!(c.app.view().name(), "detail");
    assert!(
        c.screen().contains(&format!("Owner         {owner}")),
        "{}",
        c.screen()
    );
    c.keys("<Esc>q");
    assert!(c.app.quit.is_some());
}

#[test]
fn snapshots_of_every_view() {
    for (w, h) in [(80u16, 24u16), (160, 48)] {
        let c = Console::new(fixture_ctx(), "dash", w, h);
        snap(&format!("dashboard_{w}x{h}"), &c);
        let c = Console::new(fixture_ctx(), "certs", w, h);
        snap(&format!("inventory_{w}x{h}"), &c);
        let mut c = Console::new(fixture_ctx(), "cas", w, h);
        c.keys("j");
        snap(&format!("inventory_by_ca_{w}x{h}"), &c);
        let mut c = Console::new(fixture_ctx(), "certs", w, h);
        c.keys("/www.fixture<Enter><Enter>");
        snap(&format!("detail_{w}x{h}"), &c);
        let c = Console::new(fixture_ctx(), "audit", w, h);
        snap(&format!("audit_{w}x{h}"), &c);
        let mut c = Console::new(fixture_ctx(), "certs", w, h);
        c.keys("?");
        snap(&format!("help_{w}x{h}"), &c);
    }
}

// ---- the binary -----------------------------------------------------------------------

#[test]
fn without_a_terminal_certdeck_says_so_instead_of_crashing() {
    let deck = support::Deck::new();
    let (code, out, err) = deck.run(&[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("the console needs a terminal"), "{err}");
    assert!(err.contains("certdeck list"), "{err}");
}

// ---- the read queries behind the views ------------------------------------------------

#[test]
fn dashboard_counts_agree_with_the_query_language() {
    use certdeck::query::Filter;
    use certdeck::store::RowSelect;
    let ctx = fixture_ctx();
    let read = ctx.store.read();
    let d = read.dashboard(NOW, 13, 30, 5).unwrap();
    let rows = read.certificate_rows(RowSelect::default()).unwrap();
    let count = |q: &str| {
        let f = Filter::parse(q).unwrap();
        rows.iter().filter(|r| f.matches(r, NOW)).count() as i64
    };
    assert_eq!(d.counts.total, rows.len() as i64);
    assert_eq!(d.counts.expired, count("expired"));
    assert_eq!(d.counts.within_7_days, count("!expired expires<=7d"));
    assert_eq!(d.counts.within_30_days, count("!expired expires<=30d"));
    assert_eq!(d.counts.unowned, count("unowned"));
    assert_eq!(d.counts.weak, count("weak"));
    assert_eq!(d.counts.weak, 1, "the RSA-1024/SHA-1 fixture");
    assert_eq!(d.weekly_expiry.len(), 13);
    assert_eq!(
        d.weekly_expiry.iter().sum::<i64>(),
        count("!expired expires<=91d")
    );
}

#[test]
fn audit_search_words_are_case_insensitive_substrings_with_wildcards_taken_literally() {
    use certdeck::store::AuditSearch;
    let ctx = fixture_ctx();
    let read = ctx.store.read();
    let all = read.audit_search(&AuditSearch::default(), 100).unwrap();
    assert!(all.windows(2).all(|w| w[0].seq > w[1].seq), "newest first");
    let owners = read
        .audit_search(&AuditSearch::parse("action:OWNER object:pay").unwrap(), 100)
        .unwrap();
    assert_eq!(owners.len(), 1);
    assert_eq!(owners[0].object_id, "payments");
    assert!(read
        .audit_search(&AuditSearch::parse("action:%").unwrap(), 100)
        .unwrap()
        .is_empty());
    assert!(read
        .audit_search(&AuditSearch::parse("owner_create").unwrap(), 100)
        .unwrap()
        .is_empty());
    assert!(AuditSearch::parse("actor:").is_err());
}

#[test]
fn readonly_is_shown_and_hides_dangerous_keys() {
    let theme = Theme::load("default", None).unwrap();
    let sh = certdeck::tui::shared(fixture_ctx(), true, theme, true, "fixture.db".into());
    let mut app = App::new(sh, "certs");
    app.settle();
    let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
    term.draw(|f| app.render(f)).unwrap();
    let top: String = (0..80)
        .map(|x| term.backend().buffer()[(x, 0)].symbol().to_string())
        .collect();
    assert!(top.contains("READ-ONLY"), "{top}");
    assert!(app.keymap().bindings.iter().all(|b| !b.dangerous));
}

/// The console holds the whole inventory in memory, so each finding keeps only what the
/// table, the filter words and the counts read; an export still carries them in full.
#[test]
fn loaded_rows_keep_finding_marks_and_the_export_carries_findings_in_full() {
    let c = Console::new(demo_ctx(), "certs", 80, 24);
    let full = stored_rows(&c);
    let loaded = &c.app.sh.inventory.rows;
    assert_eq!(full.len(), loaded.len());
    assert!(full.iter().any(|r| !r.findings.is_empty()));
    for (a, b) in full.iter().zip(loaded.iter()) {
        assert_eq!(a.id, b.id);
        assert_eq!(a.findings.len(), b.findings.len(), "#{}", a.id);
        for (x, y) in a.findings.iter().zip(&b.findings) {
            assert_eq!(
                (
                    &x.rule,
                    x.severity,
                    x.applies_from,
                    x.applies_until,
                    &x.exception
                ),
                (
                    &y.rule,
                    y.severity,
                    y.applies_from,
                    y.applies_until,
                    &y.exception
                )
            );
            assert!(y.message.is_empty() && y.value.is_none() && y.policy_version.is_none());
            assert!(y.profile.is_none(), "the row carries its profile");
        }
        assert_eq!(a.is_compliant(NOW), b.is_compliant(NOW));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("all.json");
    c.app.export_to(&path).unwrap();
    let exported: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let mut by_id: Vec<&certdeck::model::CertRow> = full.iter().collect();
    let order: Vec<i64> = exported
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_i64().unwrap())
        .collect();
    by_id.sort_by_key(|r| order.iter().position(|&i| i == r.id));
    let expected = serde_json::to_value(
        by_id
            .iter()
            .map(|r| certdeck::cli::output::CertJson::new(r, NOW))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    assert_eq!(exported, expected);
    assert!(exported.as_array().unwrap().iter().any(|c| c["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| !f["message"].as_str().unwrap().is_empty())));
}

/// The dashboard's figures are computed off the input path: a refresh only asks for
/// them, the last figures stay on screen meanwhile, and a first frame says it is counting.
#[test]
fn the_dashboard_refreshes_in_the_background_and_keeps_its_figures_meanwhile() {
    use certdeck::tui::app::Task;
    let mut c = Console::new(fixture_ctx(), "dash", 80, 24);
    let before = c.screen();
    assert!(before.contains("Certificates 12"), "{before}");
    c.app.handle(Event::Tick);
    let tasks = c.app.take_tasks();
    assert!(tasks.iter().any(|t| matches!(t, Task::Dashboard { .. })));
    assert!(tasks.iter().any(|t| matches!(t, Task::Compliance { .. })));
    c.draw();
    assert_eq!(c.screen(), before);

    let theme = Theme::load("default", None).unwrap();
    let sh = certdeck::tui::shared(fixture_ctx(), false, theme, true, "fixture.db".into());
    let mut app = App::new(sh, "dash");
    let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
    term.draw(|f| app.render(f)).unwrap();
    let first: String = (0..80)
        .map(|x| term.backend().buffer()[(x, 2)].symbol().to_string())
        .collect();
    assert!(first.contains("counting the estate"), "{first}");
}
