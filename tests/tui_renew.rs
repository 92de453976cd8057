//! `r` on an identity in the console (issue 6, point 10): from the inventory, the
//! certificate detail or `:jobs`, a confirmation naming the identity and its authority,
//! then the renewal through `ops` as a background task while the console keeps taking
//! keys. Hidden in `--readonly` and for an actor who may not renew.

#[path = "support/servers.rs"]
mod servers;
mod support;

use certdeck::lifecycle::estate::Estate;
use certdeck::model::Actor;
use certdeck::ops::lifecycle::{self as lc, RunOptions};
use certdeck::ops::Ctx;
use certdeck::tui::action::Action;
use certdeck::tui::app::{App, Event, Task};
use certdeck::tui::theme::Theme;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::KeyCode;
use ratatui::Terminal;
use std::path::Path;
use time::macros::datetime;
use time::OffsetDateTime;

const T0: OffsetDateTime = datetime!(2026-11-29 12:00 UTC);

/// One identity, `www`, on a generated local CA named `internal`, deployed to files.
fn estate(dir: &Path) -> Estate {
    let d = dir.display();
    let text = format!(
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

[[identity]]
name = "www"
owner = "edge-team"
profile = "test-tls"
authority = "internal"
environment = "prod"
sans = ["www.example.test"]
key = "ecdsa-p256"
[[identity.target]]
cert = "{d}/deploy/www.pem"
key = "{d}/deploy/www.key"
"#
    );
    Estate::parse(&text, Path::new("estate.toml")).expect("estate parses")
}

/// The estate applied, `www` holding its first certificate, and one imported
/// certificate that belongs to no identity.
fn prepare(ctx: &mut Ctx, alice: &Actor, dir: &Path) {
    servers::load_test_profile(ctx, alice);
    lc::apply_estate(ctx, alice, &estate(dir)).unwrap();
    let opts = RunOptions::from_ctx(ctx, true);
    let out = lc::renew(ctx, alice, "www", &opts, &certdeck::ca::Standard::default()).unwrap();
    assert!(out.diagnosis.is_none(), "{:?}", out.diagnosis);
    let sources = vec![certdeck::ops::import::Source::Bytes {
        label: "fixtures/keys/p384.pem".into(),
        kind: "file".into(),
        data: std::fs::read(support::fixture("keys/p384.pem")).unwrap(),
    }];
    certdeck::ops::import::import(
        ctx,
        alice,
        sources,
        &certdeck::ops::import::ImportOptions {
            owner: None,
            environment: None,
            source: None,
        },
        &mut |_, _| {},
    )
    .unwrap();
}

struct Console {
    app: App,
    term: Terminal<TestBackend>,
}

impl Console {
    fn open(ctx: Ctx, actor: Actor, readonly: bool, first: &str, w: u16, h: u16) -> Console {
        let theme = Theme::load("default", None).unwrap();
        let mut sh = certdeck::tui::shared(ctx, readonly, theme, true, "test.db".into());
        sh.actor = actor;
        let mut app = App::new(sh, first);
        app.settle();
        // Views decide which keys to offer when they open; re-open on the actor set.
        app.run_command(first);
        app.settle();
        let mut c = Console {
            app,
            term: Terminal::new(TestBackend::new(w, h)).unwrap(),
        };
        c.draw();
        c
    }

    fn draw(&mut self) {
        let app = &mut self.app;
        self.term.draw(|f| app.render(f)).unwrap();
    }

    /// Presses keys one by one, running background work inline after each (`settle`).
    fn keys(&mut self, keys: &str) -> &mut Self {
        for c in keys.chars() {
            let code = match c {
                '\n' => KeyCode::Enter,
                '\t' => KeyCode::Tab,
                c => KeyCode::Char(c),
            };
            self.app.press(code);
            self.app.settle();
            self.draw();
        }
        self
    }

    /// Presses keys without running what they queue.
    fn press(&mut self, keys: &str) -> &mut Self {
        for c in keys.chars() {
            self.app.press(if c == '\n' {
                KeyCode::Enter
            } else {
                KeyCode::Char(c)
            });
        }
        self.draw();
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

    fn offers_renew(&self) -> bool {
        self.app
            .keymap()
            .bindings
            .iter()
            .any(|b| b.action == Action::View("renew"))
    }

    fn jobs(&self) -> Vec<certdeck::lifecycle::Job> {
        self.app
            .sh
            .ctx
            .store
            .read()
            .jobs(false, false, 100)
            .unwrap()
    }
}

fn estate_console(first: &str, w: u16, h: u16) -> (Console, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, _clock, alice) = certdeck::testing::ctx_at(T0);
    prepare(&mut ctx, &alice, dir.path());
    (Console::open(ctx, alice, false, first, w, h), dir)
}

#[test]
fn r_in_the_inventory_asks_naming_the_identity_and_its_authority() {
    let (mut c, _dir) = estate_console("certs", 80, 24);
    assert!(c.offers_renew());
    assert!(c.screen().contains("r renew"), "{}", c.screen());
    c.keys("/identity:www\n").keys("r");
    let s = c.screen();
    assert!(s.contains("Confirm renewal"), "{s}");
    assert!(
        s.contains("Renew identity www now from authority internal?"),
        "{s}"
    );
    assert!(s.contains("edge-team") && s.contains("test-tls"), "{s}");
    insta::assert_snapshot!("renew_confirm_80x24", s);
}

#[test]
fn declining_the_confirmation_changes_nothing() {
    let (mut c, _dir) = estate_console("certs", 80, 24);
    let jobs = c.jobs().len();
    let audit = c.app.sh.ctx.store.read().audit_count().unwrap();
    c.keys("/identity:www\n").keys("r").keys("n");
    assert!(c.app.confirm.is_none());
    assert_eq!(c.app.status_text(), Some("renewal of www cancelled"));
    assert!(c.app.take_tasks().is_empty(), "nothing was queued");
    assert_eq!(c.jobs().len(), jobs);
    assert_eq!(c.app.sh.ctx.store.read().audit_count().unwrap(), audit);
    assert!(!c.screen().contains("Confirm renewal"), "{}", c.screen());
}

#[test]
fn accepting_renews_through_ops_and_the_job_is_recorded() {
    let (mut c, _dir) = estate_console("certs", 160, 48);
    let before = c.jobs().len();
    let certs = c.app.sh.inventory.rows.len();
    c.keys("/identity:www\n").keys("r");
    // `y` queues the renewal as a background task and says so; the keys still work.
    c.press("y");
    assert_eq!(c.app.sh.renewing, vec!["www".to_string()]);
    assert!(
        c.app
            .status_text()
            .unwrap()
            .contains("renewing www from internal in the background"),
        "{:?}",
        c.app.status_text()
    );
    assert!(c.screen().lines().next().unwrap().contains("renewing www"));
    c.keys("j");
    // The task ran (inline here, as the loop runs it on its own thread).
    let jobs = c.jobs();
    assert_eq!(jobs.len(), before + 1);
    let job = &jobs[0];
    assert_eq!(job.identity, "www");
    assert_eq!(job.authority, "internal");
    assert!(c.app.sh.renewing.is_empty());
    assert!(
        c.app
            .status_text()
            .unwrap()
            .starts_with(&format!("www: job {} ", job.id)),
        "{:?}",
        c.app.status_text()
    );
    let audit = c
        .app
        .sh
        .ctx
        .store
        .read()
        .audit_records(&certdeck::store::AuditQuery {
            action: Some("job.plan".into()),
            ..Default::default()
        })
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|r| r.actor == "alice" && r.object_id == job.id.to_string()),
        "{audit:?}"
    );
    // The inventory reloaded with the new certificate.
    assert_eq!(c.app.sh.inventory.rows.len(), certs + 1);
}

#[test]
fn the_renewal_runs_on_its_own_connection_while_the_console_takes_keys() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("deck.db");
    let (mut ctx, _clock, alice) = certdeck::testing::ctx_on(&db, T0);
    prepare(&mut ctx, &alice, dir.path());
    let clock = ctx.clock.clone();
    let config = ctx.config.clone();
    let mut c = Console::open(ctx, alice, false, "certs", 80, 24);
    c.press("/identity:www\n").press("r").press("y");
    let tasks = c.app.take_tasks();
    assert!(matches!(&tasks[..], [Task::Renew { identity, .. }] if identity == "www"));
    let task = tasks.into_iter().next().unwrap();
    let worker =
        std::thread::spawn(move || certdeck::tui::event::run_detached(&db, clock, config, &task));
    // Meanwhile the console answers: open the help and close it again.
    c.press("?");
    assert!(c.app.help.is_some());
    c.press("x");
    assert!(c.app.help.is_none());
    let result = worker.join().unwrap();
    c.app.handle(Event::Task(result));
    c.app.settle();
    assert!(c.app.sh.renewing.is_empty());
    assert!(
        c.app.status_text().unwrap().starts_with("www: job"),
        "{:?}",
        c.app.status_text()
    );
    assert_eq!(
        c.jobs().iter().filter(|j| j.identity == "www").count(),
        2,
        "the first issuance and this renewal"
    );
}

#[test]
fn r_in_the_detail_view_renews_that_certificates_identity() {
    let (mut c, _dir) = estate_console("certs", 80, 24);
    c.keys("/identity:www\n").keys("\n");
    assert_eq!(c.app.view().name(), "detail");
    assert!(c.offers_renew());
    c.keys("r");
    assert!(
        c.screen()
            .contains("Renew identity www now from authority internal?"),
        "{}",
        c.screen()
    );
    let before = c.jobs().len();
    c.keys("y");
    assert_eq!(c.jobs().len(), before + 1);
}

#[test]
fn a_certificate_without_an_identity_says_so_instead_of_renewing() {
    let (mut c, _dir) = estate_console("certs", 80, 24);
    c.keys("/!identity:www\n").keys("r");
    assert!(c.app.confirm.is_none());
    let status = c.app.status_text().unwrap().to_string();
    assert!(
        status.contains("has no identity: nothing to renew"),
        "{status}"
    );
    c.keys("\n").keys("r");
    assert!(c.app.confirm.is_none());
    assert!(c.app.status_text().unwrap().contains("has no identity"));
}

#[test]
fn jobs_r_takes_the_same_background_path() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, clock, alice) = certdeck::testing::ctx_at(T0);
    prepare(&mut ctx, &alice, dir.path());
    // Late in the certificate's life the renewal is due, and :jobs lists it.
    clock.set(T0 + time::Duration::days(25));
    let mut c = Console::open(ctx, alice, false, "jobs", 80, 24);
    assert!(c.screen().contains("due now"), "{}", c.screen());
    let before = c.jobs().len();
    c.keys("r");
    assert!(c
        .screen()
        .contains("Renew identity www now from authority internal?"));
    c.press("y");
    assert_eq!(c.app.sh.renewing, vec!["www".to_string()]);
    // While it runs, :jobs marks it and re-reads its steps on each progress wake-up.
    c.app.handle(Event::Progress);
    c.draw();
    assert!(c.screen().contains("⟳ renewing here"), "{}", c.screen());
    c.app.settle();
    assert_eq!(c.jobs().len(), before + 1);
    assert!(c.app.status_text().unwrap().starts_with("www: job"));
}

#[test]
fn renew_is_hidden_in_readonly_and_for_an_actor_who_may_not_renew() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, _clock, alice) = certdeck::testing::ctx_at(T0);
    prepare(&mut ctx, &alice, dir.path());
    let mut c = Console::open(ctx, alice, true, "certs", 80, 24);
    assert!(!c.offers_renew());
    assert!(!c.screen().contains("r renew"), "{}", c.screen());
    c.keys("/identity:www\n").keys("r");
    assert!(c.app.confirm.is_none());
    c.keys("\n").keys("r");
    assert!(c.app.confirm.is_none() && !c.offers_renew());

    let (mut ctx, _clock, alice) = certdeck::testing::ctx_at(T0);
    prepare(&mut ctx, &alice, dir.path());
    let mallory = certdeck::testing::operator("mallory");
    let mut c = Console::open(ctx, mallory, false, "certs", 80, 24);
    assert!(!c.offers_renew());
    c.keys("/identity:www\n").keys("r");
    assert!(c.app.confirm.is_none());
    c.app.run_command("jobs");
    assert!(!c.offers_renew());
}

#[test]
fn the_confirmation_at_160x48() {
    let (mut c, _dir) = estate_console("certs", 160, 48);
    c.keys("/identity:www\n").keys("r");
    insta::assert_snapshot!("renew_confirm_160x48", c.screen());
}
