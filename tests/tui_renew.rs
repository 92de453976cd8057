//! `r` on an identity in the console (issue 6, point 10): from the inventory, the
//! certificate detail or `:jobs`, a confirmation naming the identity and its authority,
//! then the renewal through `ops` as a background task while the console keeps taking
//! keys. Hidden in `--readonly` and for an actor who may not renew.
//! `c` in `:jobs` cancels an open job once a reason is typed, with the same rules.

#[path = "support/endpoint.rs"]
mod endpoint;
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
    Estate::parse(&estate_text(dir, ""), Path::new("estate.toml")).expect("estate parses")
}

/// The estate's text; `more` is appended to it (more identities, or lines of `www`'s
/// target such as its verify address).
fn estate_text(dir: &Path, more: &str) -> String {
    let d = dir.display();
    format!(
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
{more}"#
    )
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
    // Its target has no verify address: verified as deployed, and :jobs says it was
    // not checked rather than claiming it is served.
    c.draw();
    let line = line_with(&c, "www", "✓ verified <1m ago").unwrap_or_else(|| c.screen());
    assert!(line.contains(", not checked"), "{line}");
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

// ---------------------------------------------------------------- :jobs after the fact

/// `www` served by a TLS endpoint in this process that reads its deployed files, so a
/// renewal ends verified as served by 1 of its 1 target; `api` cannot be deployed (its
/// target is below a regular file), so its renewal fails and stays open.
fn served_estate(dir: &Path) -> String {
    let d = dir.display();
    let addr = endpoint::serve_files(dir.join("deploy/www.pem"), dir.join("deploy/www.key"));
    estate_text(
        dir,
        &format!(
            r#"verify = "{addr}"

[[identity]]
name = "api"
owner = "edge-team"
profile = "test-tls"
authority = "internal"
environment = "prod"
sans = ["api.example.test"]
key = "ecdsa-p256"
[[identity.target]]
cert = "/dev/null/api.pem"
key = "{d}/deploy/api.key"
"#
        ),
    )
}

/// The served estate at T0: `www` issued and verified, `api` failed at deployment.
fn served_console_ctx(dir: &Path) -> (Ctx, certdeck::clock::FixedClock, Actor) {
    let (mut ctx, clock, alice) = certdeck::testing::ctx_at(T0);
    servers::load_test_profile(&mut ctx, &alice);
    let estate = Estate::parse(&served_estate(dir), Path::new("estate.toml")).unwrap();
    lc::apply_estate(&mut ctx, &alice, &estate).unwrap();
    let opts = RunOptions::from_ctx(&ctx, true);
    let standard = certdeck::ca::Standard::default();
    let www = lc::renew(&mut ctx, &alice, "www", &opts, &standard).unwrap();
    assert!(www.diagnosis.is_none(), "{:?}", www.diagnosis);
    let api = lc::renew(&mut ctx, &alice, "api", &opts, &standard).unwrap();
    assert!(api.diagnosis.is_some(), "api cannot be deployed");
    (ctx, clock, alice)
}

/// A job for `identity` cancelled at the clock's time with `reason`: a job planned for
/// it (not run) that `ops` cancels, as `certdeck jobs cancel` or `c` in `:jobs` would.
fn cancelled_job(ctx: &mut Ctx, identity: &str, reason: &str) -> i64 {
    let now = ctx.now();
    let read = ctx.store.read();
    let ident = read.identity_by_name(identity).unwrap().unwrap();
    let authority = read
        .authorities()
        .unwrap()
        .into_iter()
        .find(|a| a.name == "internal")
        .unwrap();
    let id = ctx
        .store
        .transaction(|tx| tx.insert_job(ident.id, authority.id, "manual", "alice", now))
        .unwrap();
    let alice = certdeck::testing::operator("alice");
    lc::cancel_job(ctx, &alice, &lc::JobSelector::Id(id), reason).unwrap();
    id
}

fn current_fingerprint(c: &Console, identity: &str) -> String {
    let read = c.app.sh.ctx.store.read();
    let ident = read.identity_by_name(identity).unwrap().unwrap();
    read.certificate_fingerprint_status(ident.current_certificate_id.unwrap())
        .unwrap()
        .unwrap()
        .0
}

/// Moves the selection (`j`) to the line naming `identity` with `state`.
fn select(c: &mut Console, identity: &str, state: &str) {
    for _ in 0..30 {
        if line_with(c, identity, state).is_some_and(|l| l.starts_with("│> ")) {
            return;
        }
        c.keys("j");
    }
    panic!("no line {identity} {state}: {}", c.screen());
}

/// The line of `:jobs` that names `identity` with `state`.
fn line_with(c: &Console, identity: &str, state: &str) -> Option<String> {
    c.screen()
        .lines()
        .find(|l| l.contains(&format!(" {identity} ")) && l.contains(state))
        .map(str::to_string)
}

#[test]
fn a_renewal_started_in_jobs_stays_listed_as_verified_with_its_new_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, clock, alice) = served_console_ctx(dir.path());
    clock.set(T0 + time::Duration::days(25));
    let mut c = Console::open(ctx, alice, false, "jobs", 80, 24);
    let due = line_with(&c, "www", "● due now").unwrap_or_else(|| c.screen());
    assert!(
        due.contains(" internal "),
        "the authority it renews from: {due}"
    );
    let old = current_fingerprint(&c, "www");
    select(&mut c, "www", "● due now");
    c.keys("r").keys("y");
    assert!(c.app.sh.renewing.is_empty(), "the renewal ran");
    let new = current_fingerprint(&c, "www");
    assert_ne!(new, old, "www holds a new certificate");
    // Three minutes on, the operator still sees that it worked, when, and with what.
    clock.advance(time::Duration::minutes(3));
    c.app.handle(Event::Tick);
    c.draw();
    let line = line_with(&c, "www", "✓ verified 3m ago").unwrap_or_else(|| c.screen());
    assert!(
        line.contains(&format!("cert {} served by 1/1", &new[..8])),
        "{line}"
    );
    assert!(line_with(&c, "www", "due now").is_none(), "{}", c.screen());
    // At 160 columns the detail is the full sentence.
    let mut wide = c;
    wide.term = Terminal::new(TestBackend::new(160, 48)).unwrap();
    wide.draw();
    let line = line_with(&wide, "www", "✓ verified 3m ago").unwrap();
    assert!(
        line.contains(&format!(
            "new certificate {}…, served by 1/1 targets",
            &new[..16]
        )),
        "{line}"
    );
}

#[test]
fn a_cancelled_job_is_listed_as_cancelled_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, clock, alice) = served_console_ctx(dir.path());
    clock.set(T0 + time::Duration::hours(2));
    cancelled_job(&mut ctx, "www", "identity moves to the new CA");
    clock.advance(time::Duration::minutes(10));
    let c = Console::open(ctx, alice, false, "jobs", 80, 24);
    let line = line_with(&c, "www", "⊘ cancelled 10m ago").unwrap_or_else(|| c.screen());
    assert!(line.contains("identity moves to the new CA"), "{line}");
    // Finished jobs come after the open ones, the most recent first.
    let s = c.screen();
    let at = |needle: &str| s.find(needle).unwrap_or_else(|| panic!("{needle}: {s}"));
    assert!(at("✗ failed@deploying") < at("⊘ cancelled 10m ago"), "{s}");
    assert!(at("⊘ cancelled 10m ago") < at("✓ verified 2h ago"), "{s}");
}

#[test]
fn jobs_that_finished_more_than_a_day_ago_are_not_listed_and_at_most_twenty_are() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, clock, alice) = served_console_ctx(dir.path());
    clock.set(T0 + time::Duration::hours(23));
    let mut c = Console::open(ctx, alice, false, "jobs", 80, 24);
    assert!(
        line_with(&c, "www", "✓ verified 23h ago").is_some(),
        "{}",
        c.screen()
    );
    clock.set(T0 + time::Duration::hours(24) + time::Duration::seconds(1));
    c.app.handle(Event::Tick);
    c.draw();
    assert!(!c.screen().contains("verified"), "{}", c.screen());
    assert!(!c.app.view().title(&c.app.sh).contains("finished"));
    // Many recent ones: the newest twenty, the audit log keeps the rest.
    for i in 0..25 {
        clock.advance(time::Duration::minutes(1));
        cancelled_job(&mut c.app.sh.ctx, "www", &format!("cancellation {i}"));
    }
    c.app.handle(Event::Tick);
    c.draw();
    let title = c.app.view().title(&c.app.sh);
    assert!(title.contains("20 finished in 24h"), "{title}");
    assert!(c.screen().contains("cancellation 24"), "{}", c.screen());
}

/// The plan's time as `:jobs` shows it ("budgets and plan as of HH:MM:SSZ").
fn planned_at(c: &Console) -> String {
    let s = c.screen();
    let at = s.find("plan as of ").unwrap_or_else(|| panic!("{s}")) + "plan as of ".len();
    s[at..at + 9].to_string()
}

#[test]
fn progress_while_a_renewal_runs_rereads_the_jobs_but_keeps_the_plan_for_a_minute() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, clock, alice) = served_console_ctx(dir.path());
    clock.set(T0 + time::Duration::days(25));
    let mut c = Console::open(ctx, alice, false, "jobs", 80, 24);
    assert_eq!(planned_at(&c), "12:00:00Z");
    // `r`, `y`: the renewal is queued (not run: it is "in the background").
    select(&mut c, "www", "● due now");
    c.press("r").press("y");
    assert_eq!(c.app.sh.renewing, vec!["www".to_string()]);
    // Progress wake-ups 30 s apart: the job rows are read again (a job cancelled
    // meanwhile appears at once), the plan is the one from the view's opening.
    clock.advance(time::Duration::seconds(30));
    cancelled_job(&mut c.app.sh.ctx, "api", "owner asked to wait");
    c.app.handle(Event::Progress);
    c.draw();
    assert!(
        line_with(&c, "api", "cancelled <1m ago").is_some(),
        "{}",
        c.screen()
    );
    assert_eq!(planned_at(&c), "12:00:00Z", "no re-plan on progress");
    clock.advance(time::Duration::seconds(29));
    c.app.handle(Event::Progress);
    c.app.handle(Event::Tick);
    c.draw();
    assert_eq!(
        planned_at(&c),
        "12:00:00Z",
        "nor on a tick within the minute"
    );
    // A minute after it was made, the next wake-up makes a new one.
    clock.advance(time::Duration::seconds(1));
    c.app.handle(Event::Progress);
    c.draw();
    assert_eq!(planned_at(&c), "12:01:00Z");
    // Ctrl-r re-plans at once.
    clock.advance(time::Duration::seconds(5));
    c.app.perform(Action::Refresh);
    c.draw();
    assert_eq!(planned_at(&c), "12:01:05Z");
    // So does the end of the renewal: `www` is no longer due, it is verified.
    clock.advance(time::Duration::seconds(5));
    let tasks = c.app.take_tasks();
    for t in tasks.iter().filter(|t| matches!(t, Task::Renew { .. })) {
        let r = c.app.run_task_inline(t);
        c.app.handle(Event::Task(r));
    }
    c.app.settle();
    c.draw();
    assert_eq!(planned_at(&c), "12:01:10Z");
    assert!(
        line_with(&c, "www", "✓ verified <1m ago").is_some(),
        "{}",
        c.screen()
    );
    assert!(line_with(&c, "www", "due now").is_none(), "{}", c.screen());
}

#[test]
fn jobs_at_80x24_with_open_and_finished_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, clock, alice) = served_console_ctx(dir.path());
    clock.set(T0 + time::Duration::days(25) - time::Duration::hours(1));
    cancelled_job(&mut ctx, "www", "superseded by a manual renewal");
    clock.set(T0 + time::Duration::days(25));
    let mut c = Console::open(ctx, alice, false, "jobs", 80, 24);
    select(&mut c, "www", "● due now");
    c.keys("r").keys("y");
    clock.advance(time::Duration::minutes(3));
    c.app.handle(Event::Tick);
    c.draw();
    // Fingerprints come from fresh keys: the snapshot names them by role.
    let fp = current_fingerprint(&c, "www");
    let s = c.screen().replace(&fp[..8], "NEWCERT.");
    insta::assert_snapshot!("jobs_open_and_finished_80x24", s);
}

// ---------------------------------------------------------------- `c`: cancel a job

fn offers_cancel(c: &Console) -> bool {
    c.app
        .keymap()
        .bindings
        .iter()
        .any(|b| b.action == Action::View("cancel-job"))
}

#[test]
fn c_in_jobs_cancels_the_selected_open_job_once_a_reason_is_typed() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, clock, alice) = served_console_ctx(dir.path());
    clock.advance(time::Duration::minutes(5));
    let mut c = Console::open(ctx, alice, false, "jobs", 80, 24);
    assert!(offers_cancel(&c));
    assert!(c.screen().contains("c cancel"), "{}", c.screen());
    let api = c.jobs().into_iter().find(|j| j.identity == "api").unwrap();
    assert_eq!(api.state, certdeck::lifecycle::JobState::Failed);

    // On a finished line there is nothing to cancel.
    select(&mut c, "www", "✓ verified");
    c.keys("c");
    assert!(!c.screen().contains("Cancel job"), "{}", c.screen());
    assert!(
        c.app.status_text().unwrap().contains("not an open job"),
        "{:?}",
        c.app.status_text()
    );

    // The popup names the job, where it stands and what cancelling does.
    c.keys("g");
    select(&mut c, "api", "✗ failed@deploying");
    c.keys("c");
    let s = c.screen();
    assert!(
        s.contains(&format!("Cancel job {} of api: reason (required)", api.id)),
        "{s}"
    );
    assert!(
        s.contains("Now ✗ failed@deploying. Cancelled, it never resumes; audited as alice."),
        "{s}"
    );
    assert!(
        s.contains("api's current certificate is untouched; a later renewal opens a new job."),
        "{s}"
    );
    // No reason, no cancellation.
    c.keys("\n");
    assert!(
        c.screen().contains("a reason is required"),
        "{}",
        c.screen()
    );
    assert_eq!(
        c.app
            .sh
            .ctx
            .store
            .read()
            .job(api.id)
            .unwrap()
            .unwrap()
            .state,
        certdeck::lifecycle::JobState::Failed
    );
    // Typed keys are the reason's, not the keymap's (`q` does not quit, `j` does not move).
    c.keys("host api-7 retired, quota\n");
    assert_eq!(
        c.app.status_text(),
        Some(
            format!(
                "job {} (api) cancelled (was failed@deploying): host api-7 retired, quota",
                api.id
            )
            .as_str()
        )
    );
    let job = c.app.sh.ctx.store.read().job(api.id).unwrap().unwrap();
    assert_eq!(job.state, certdeck::lifecycle::JobState::Cancelled);
    assert_eq!(job.message.as_deref(), Some("host api-7 retired, quota"));
    let line = line_with(&c, "api", "⊘ cancelled <1m ago").unwrap_or_else(|| c.screen());
    assert!(line.contains("host api-7 retired"), "{line}");
    // Nothing open is left: `c` is no longer offered.
    assert!(!offers_cancel(&c));
}

#[test]
fn esc_keeps_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, _clock, alice) = served_console_ctx(dir.path());
    let mut c = Console::open(ctx, alice, false, "jobs", 80, 24);
    select(&mut c, "api", "✗ failed@deploying");
    c.keys("c").keys("half a rea");
    c.app.press(KeyCode::Esc);
    c.draw();
    assert!(!c.screen().contains("Cancel job"), "{}", c.screen());
    assert!(c
        .app
        .status_text()
        .unwrap()
        .ends_with("kept: not cancelled"));
    assert!(c
        .jobs()
        .iter()
        .all(|j| j.state != certdeck::lifecycle::JobState::Cancelled));
}

#[test]
fn cancel_is_hidden_in_readonly_and_for_an_actor_who_may_not_renew() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, _clock, _alice) = served_console_ctx(dir.path());
    let alice = certdeck::testing::operator("alice");
    let mut c = Console::open(ctx, alice, true, "jobs", 80, 24);
    assert!(!offers_cancel(&c));
    assert!(!c.screen().contains("c cancel"), "{}", c.screen());
    select(&mut c, "api", "✗ failed@deploying");
    c.keys("c");
    assert!(!c.screen().contains("Cancel job"), "{}", c.screen());

    let (ctx, _clock, _alice) = served_console_ctx(dir.path());
    let mut c = Console::open(
        ctx,
        certdeck::testing::operator("mallory"),
        false,
        "jobs",
        80,
        24,
    );
    assert!(!offers_cancel(&c));
    select(&mut c, "api", "✗ failed@deploying");
    c.keys("c");
    assert!(!c.screen().contains("Cancel job"), "{}", c.screen());
    assert!(c
        .jobs()
        .iter()
        .all(|j| j.state != certdeck::lifecycle::JobState::Cancelled));
}

#[test]
fn the_cancel_popup_at_80x24() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, _clock, alice) = served_console_ctx(dir.path());
    let mut c = Console::open(ctx, alice, false, "jobs", 80, 24);
    select(&mut c, "api", "✗ failed@deploying");
    c.keys("c").keys("moved to the new CA");
    // Fingerprints come from fresh keys: the snapshot names them by role.
    let fp = current_fingerprint(&c, "www");
    let s = c.screen().replace(&fp[..8], "WWWCERT.");
    insta::assert_snapshot!("jobs_cancel_popup_80x24", s);
}
