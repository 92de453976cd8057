//! `:approvals` in the console: the queue of requests waiting on me, decided with a
//! required comment typed in a text area. Driven with key events on a `TestBackend`,
//! at a fixed clock, as operator bob reviewing dave's request.

mod support;

use certdeck::access::{Role, Scope};
use certdeck::model::Environment;
use certdeck::ops::{workflow, Ctx};
use certdeck::testing::{ctx_at, grant, operator};
use certdeck::tui::app::App;
use certdeck::tui::theme::Theme;
use certdeck::workflow::{Payload, State};
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::KeyCode;
use ratatui::Terminal;
use time::macros::datetime;

const NOW: time::OffsetDateTime = datetime!(2026-11-22 12:00 UTC);

/// bob (central-pki) reviews; dave (read-only) asked for platform in nonprod 3 hours ago.
fn queue() -> (Ctx, certdeck::FixedClock, i64) {
    let (mut ctx, clock, alice) = ctx_at(NOW - time::Duration::hours(3));
    grant(&mut ctx, &alice, "bob", Role::CentralPki, Scope::default());
    grant(&mut ctx, &alice, "dave", Role::ReadOnly, Scope::default());
    let req = workflow::open(
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
        "edge on-call rotation",
        Some("CHG-1234"),
    )
    .unwrap();
    clock.set(NOW);
    (ctx, clock, req.id)
}

struct Console {
    app: App,
    term: Terminal<TestBackend>,
}

impl Console {
    fn new(ctx: Ctx, who: &str, readonly: bool) -> Console {
        Self::on(ctx, who, readonly, "approvals")
    }
    fn on(ctx: Ctx, who: &str, readonly: bool, first: &str) -> Console {
        let theme = Theme::load("default", None).unwrap();
        let mut sh = certdeck::tui::shared(ctx, readonly, theme, true, "fixture.db".into());
        sh.actor = operator(who);
        let mut app = App::new(sh, first);
        app.settle();
        let term = Terminal::new(TestBackend::new(80, 24)).unwrap();
        let mut c = Console { app, term };
        c.draw();
        c
    }
    fn draw(&mut self) {
        let app = &mut self.app;
        self.term.draw(|f| app.render(f)).unwrap();
    }
    fn key(&mut self, code: KeyCode) -> &mut Self {
        self.app.press(code);
        self.draw();
        self
    }
    fn typed(&mut self, s: &str) -> &mut Self {
        for ch in s.chars() {
            self.app.press(KeyCode::Char(ch));
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
}

#[test]
fn the_queue_shows_the_scope_asked_against_the_scope_held() {
    let (ctx, _clock, _id) = queue();
    let c = Console::new(ctx, "bob", false);
    let s = c.screen();
    assert!(s.contains("platform for dave (scope env=nonprod)"), "{s}");
    assert!(s.contains("read-only (all)"), "{s}");
    assert!(
        s.contains("edge on-call rotation") && s.contains("CHG-1234"),
        "{s}"
    );
    assert!(s.contains("3h"), "{s}");
    assert!(s.contains("a approve") || s.contains("approve"), "{s}");
    insta::assert_snapshot!("approvals_queue_80x24", s);
}

#[test]
fn approving_needs_a_typed_comment_and_applies_the_grant() {
    let (ctx, _clock, id) = queue();
    let mut c = Console::new(ctx, "bob", false);
    c.key(KeyCode::Char('a'));
    assert!(c
        .screen()
        .contains(&format!("Approve request {id}: comment (required)")));
    // Enter with no comment: refused, still composing.
    c.key(KeyCode::Enter);
    assert!(
        c.screen().contains("a comment is required"),
        "{}",
        c.screen()
    );
    // Keys typed now are text, not commands: `q` does not quit.
    c.typed("quick check with the edge lead");
    assert!(c.app.quit.is_none());
    insta::assert_snapshot!("approvals_compose_80x24", c.screen());
    c.key(KeyCode::Enter);
    assert_eq!(
        c.app.status_text(),
        Some(format!("request {id} approved and applied").as_str())
    );
    let req = c.app.sh.ctx.store.read().request(id).unwrap().unwrap();
    assert_eq!(req.state, State::Approved);
    assert_eq!(req.reviews[0].comment, "quick check with the edge lead");
    assert!(c.screen().contains("nothing waits on your review"));
}

#[test]
fn denying_with_a_reason_ends_the_request_and_esc_cancels() {
    let (ctx, _clock, id) = queue();
    let mut c = Console::new(ctx, "bob", false);
    c.key(KeyCode::Char('d')).typed("not yet").key(KeyCode::Esc);
    assert_eq!(c.app.status_text(), Some("decision cancelled"));
    c.key(KeyCode::Char('d'))
        .typed("not on call this month")
        .key(KeyCode::Enter);
    let req = c.app.sh.ctx.store.read().request(id).unwrap().unwrap();
    assert_eq!(
        (req.state, req.decision_comment.as_deref()),
        (State::Denied, Some("not on call this month"))
    );
}

#[test]
fn the_requester_sees_no_queue_and_no_decision_keys() {
    let (ctx, _clock, _id) = queue();
    let c = Console::new(ctx, "dave", false);
    let s = c.screen();
    assert!(s.contains("nothing waits on your review"), "{s}");
    assert!(!s.contains("approve"), "{s}");
    assert!(c
        .app
        .keymap()
        .bindings
        .iter()
        .all(|b| b.description.find("approve").is_none()));
}

#[test]
fn read_only_hides_the_decision_keys() {
    let (ctx, _clock, _id) = queue();
    let c = Console::new(ctx, "bob", true);
    assert!(c
        .app
        .keymap()
        .bindings
        .iter()
        .all(|b| !b.description.contains("approve") && !b.description.contains("deny")));
}

#[test]
fn the_access_view_lists_roles_service_accounts_with_findings_and_the_matrix() {
    use certdeck::ops::{access as access_ops, inventory};
    let (mut ctx, _clock, _id) = queue();
    let alice = operator("alice");
    inventory::add_owner(&mut ctx, &alice, "platform-team", None, None).unwrap();
    access_ops::add_service_account(
        &mut ctx,
        &alice,
        &access_ops::NewServiceAccount {
            name: "renew-prod".into(),
            environment: Environment::Prod,
            owner: None,
            os_user: None,
            profiles: vec![],
            dns_suffixes: vec!["example.com".into()],
            credential_ref: "env:RENEW_PROD_TOKEN".into(),
            rotate_by: Some(NOW - time::Duration::days(1)),
            retire_at: None,
        },
    )
    .unwrap();
    let mut c = Console::new(ctx, "bob", false);
    c.key(KeyCode::Char(':'))
        .typed("access")
        .key(KeyCode::Enter);
    let s = c.screen();
    assert!(s.contains("bob (you)") && s.contains("central-pki"), "{s}");
    assert!(
        s.contains("renew-prod") && s.contains("sa.rotation-overdue"),
        "{s}"
    );
    assert!(s.contains("sa.no-owner"), "{s}");
    assert!(!s.contains("RENEW_PROD_TOKEN"), "{s}");
    c.key(KeyCode::Char('G'));
    assert!(c.screen().contains("R/A"), "{}", c.screen());
    insta::assert_snapshot!("access_80x24", s);
}

#[test]
fn the_exceptions_view_shows_time_left_and_marks_expired_ones() {
    use certdeck::policy::exception::{ExceptionObject, NewException};
    let (mut ctx, clock, _id) = queue();
    let alice = operator("alice");
    for (rule, days) in [("owner.missing", 30), ("renewal.due", 2)] {
        certdeck::ops::policy::except(
            &mut ctx,
            &alice,
            &NewException {
                rule: rule.into(),
                object_type: ExceptionObject::Certificate,
                object_id: "ab".repeat(32),
                reason: "legacy".into(),
                granted_by: "bob".into(),
                expires_at: NOW + time::Duration::days(days),
                request_ref: Some("request 9".into()),
            },
        )
        .unwrap();
    }
    clock.advance(time::Duration::days(3));
    let c = Console::on(ctx, "bob", false, "exceptions");
    let s = c.screen();
    assert!(s.contains("Exceptions (1 in force, 2 listed)"), "{s}");
    assert!(s.contains("27d") && s.contains("owner.missing"), "{s}");
    assert!(s.contains("✗ expired") && s.contains("renewal.due"), "{s}");
    insta::assert_snapshot!("exceptions_80x24", s);
}

#[test]
fn a_delegation_form_validates_its_fields_and_opens_the_request() {
    let (ctx, _clock, _id) = queue();
    // dave holds read-only: he may ask, and sees only the request keys.
    let mut c = Console::new(ctx, "dave", false);
    let keys: Vec<&str> = c
        .app
        .keymap()
        .bindings
        .iter()
        .map(|b| b.description)
        .collect();
    assert!(
        keys.iter().any(|d| d.contains("new delegation")),
        "{keys:?}"
    );
    assert!(!keys.iter().any(|d| d.contains("approve")), "{keys:?}");
    c.key(KeyCode::Char('n'));
    c.typed("dave").key(KeyCode::Tab).typed("admin");
    c.key(KeyCode::Tab).key(KeyCode::Tab).typed("prod, nonprod");
    c.key(KeyCode::Enter);
    assert!(
        c.screen().contains("justification: required"),
        "{}",
        c.screen()
    );
    c.key(KeyCode::Tab)
        .key(KeyCode::Tab)
        .typed("edge on-call")
        .key(KeyCode::Enter);
    assert!(c.screen().contains("role: unknown role"), "{}", c.screen());
    insta::assert_snapshot!("delegation_form_80x24", c.screen());
    // Back to the role field and fix it.
    for _ in 0..4 {
        c.key(KeyCode::Up);
    }
    for _ in 0..5 {
        c.app.press(KeyCode::Backspace);
    }
    c.typed("platform").key(KeyCode::Enter);
    let status = c.app.status_text().unwrap_or("").to_string();
    assert!(
        status.contains("opened: platform for dave (scope env=prod,nonprod)"),
        "{status}"
    );
    let mine = c
        .app
        .sh
        .ctx
        .store
        .read()
        .requests(&Default::default())
        .unwrap();
    assert_eq!(mine[0].requester, "dave");
    assert_eq!(mine[0].justification, "edge on-call");
}

#[test]
fn an_exception_form_rejects_a_malformed_object() {
    let (ctx, _clock, _id) = queue();
    let mut c = Console::new(ctx, "dave", false);
    c.key(KeyCode::Char('x'))
        .typed("owner.missing")
        .key(KeyCode::Tab)
        .typed("abc");
    c.key(KeyCode::Tab)
        .typed("30")
        .key(KeyCode::Tab)
        .typed("legacy")
        .key(KeyCode::Enter);
    assert!(
        c.screen()
            .contains("object: certificate:SHA256 or identity:NAME"),
        "{}",
        c.screen()
    );
    c.key(KeyCode::Esc);
    assert_eq!(c.app.status_text(), Some("request not opened"));
}

/// pat (platform: A for failure response) reviews dave's request to revoke the fixture
/// leaf for key compromise.
#[test]
fn a_revocation_request_shows_the_certificate_and_reason_asked() {
    use certdeck::ops::import::{import, ImportOptions, Source};
    let (mut ctx, clock, alice) = ctx_at(NOW - time::Duration::hours(3));
    grant(&mut ctx, &alice, "pat", Role::Platform, Scope::default());
    grant(&mut ctx, &alice, "dave", Role::AppOwner, Scope::default());
    let pem = std::fs::read(support::fixture("chain/leaf.pem")).unwrap();
    import(
        &mut ctx,
        &alice,
        vec![Source::Bytes {
            label: "leaf.pem".into(),
            kind: "file".into(),
            data: pem,
        }],
        &ImportOptions::default(),
        &mut |_, _| {},
    )
    .unwrap();
    let ids = ctx
        .store
        .read()
        .certificates_by_fingerprint_prefix("")
        .unwrap();
    let leaf = ids
        .into_iter()
        .find(|id| {
            !ctx.store
                .read()
                .certificate_row(*id)
                .unwrap()
                .unwrap()
                .is_ca
        })
        .expect("the leaf");
    let asked = certdeck::ops::lifecycle::revoke(
        &mut ctx,
        &operator("dave"),
        leaf,
        "key_compromise",
        Some("key seen in a public repository"),
        &certdeck::ca::Standard::default(),
    )
    .unwrap();
    assert!(matches!(
        asked,
        certdeck::ops::lifecycle::Revoked::Requested { opened: true, .. }
    ));
    clock.set(NOW);
    let fp = ctx
        .store
        .read()
        .certificate_row(leaf)
        .unwrap()
        .unwrap()
        .fingerprint_sha256;
    let c = Console::new(ctx, "pat", false);
    let s = c.screen();
    assert!(s.contains("revocation") && s.contains(&fp), "{s}");
    assert!(s.contains("key compromise") && s.contains("active"), "{s}");
    insta::assert_snapshot!("approvals_revocation_80x24", s);
}

/// An issuance request shows what exactly would be approved: the names, the profile and
/// authority, and the role the profile says approves.
#[test]
fn an_issuance_request_shows_the_names_profile_and_authority_asked() {
    let (mut ctx, clock, alice) = ctx_at(NOW - time::Duration::hours(1));
    grant(&mut ctx, &alice, "bob", Role::CentralPki, Scope::default());
    certdeck::ops::policy::load_starter(&mut ctx, &alice).unwrap();
    certdeck::ops::inventory::add_owner(&mut ctx, &alice, "web", None, None).unwrap();
    let estate = certdeck::lifecycle::estate::Estate::parse(
        r#"
[[authority]]
name = "letsencrypt"
kind = "acme"
directory = "https://acme.invalid/dir"
environment = "prod"

[[identity]]
name = "shop"
owner = "web"
profile = "public-tls"
authority = "letsencrypt"
environment = "prod"
sans = ["shop.example.com", "www.shop.example.com"]
"#,
        std::path::Path::new("e.toml"),
    )
    .unwrap();
    certdeck::ops::lifecycle::apply_estate(&mut ctx, &alice, &estate).unwrap();
    let req = workflow::open(
        &mut ctx,
        &alice,
        Payload::Issuance {
            identity: Some("shop".into()),
            profile: None,
            authority: None,
            environment: None,
            sans: vec![],
            validity_days: None,
            approver_role: None,
        },
        "new storefront",
        None,
    )
    .unwrap();
    clock.set(NOW);
    let c = Console::new(ctx, "bob", false);
    let s = c.screen();
    assert!(s.contains(&format!(">  {}  issuance", req.id)), "{s}");
    assert!(s.contains("shop.example.com, www.shop.example.com"), "{s}");
    assert!(s.contains("profile public-tls from letsencrypt"), "{s}");
    assert!(s.contains("under public-tls, no"), "{s}");
    // public-tls wants no approver role: the A of define-profiles decides.
    assert!(s.contains("approved by  define-profiles A"), "{s}");
}
