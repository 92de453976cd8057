//! Two operators on one jump host, two processes, one database: two decisions on the same
//! request at the same moment. Exactly one applies; the other is told who decided first.
//!
//! No sleeps: the test holds the database's write lock, starts both processes, waits until
//! each has opened the database and announced it is about to decide (debug builds print
//! `ready` on stderr when CERTDECK_TEST_ANNOUNCE is set), then releases the lock so both
//! go for it at once.

mod support;

use certdeck::access::{Role, Scope};
use certdeck::ops::workflow;
use certdeck::store::{Store, StoreError};
use certdeck::testing::{ctx_on, grant, operator};
use certdeck::workflow::{Payload, State};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};

fn spawn(deck: &support::Deck, args: &[&str]) -> Child {
    // The deck's command line and environment, as a std Command (for piping).
    let template = deck.cmd();
    let mut c = Command::new(template.get_program());
    c.args(template.get_args()).env_clear();
    for (k, v) in template.get_envs() {
        if let Some(v) = v {
            c.env(k, v);
        }
    }
    c.args(args)
        .env("CERTDECK_TEST_ANNOUNCE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c.spawn().expect("spawn certdeck")
}

struct Run {
    code: i32,
    stderr: String,
}

#[test]
fn two_processes_deciding_one_request_at_once_exactly_one_applies() {
    let deck = support::Deck::new();
    let me = support::me();
    let id = {
        let (mut ctx, _clock, _alice) = ctx_on(&deck.db, support::now());
        grant(
            &mut ctx,
            &operator(&me),
            "dave",
            Role::ReadOnly,
            Scope::default(),
        );
        workflow::open(
            &mut ctx,
            &operator("dave"),
            Payload::Delegation {
                user: "dave".into(),
                role: Role::Platform,
                scope: Scope::default(),
            },
            "edge on-call",
            None,
        )
        .unwrap()
        .id
        .to_string()
    };

    let mut holder = Store::open(&deck.db).unwrap();
    let (children, readers) = holder
        .transaction(|_tx| -> Result<_, StoreError> {
            // Both start while we hold the write lock...
            let mut a = spawn(&deck, &["approve", &id, "--comment", "fine"]);
            let mut b = spawn(&deck, &["deny", &id, "--comment", "not now"]);
            // ...and we release it only once both are about to decide.
            let mut readers = Vec::new();
            for c in [&mut a, &mut b] {
                let mut r = BufReader::new(c.stderr.take().unwrap());
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                assert_eq!(
                    line.trim(),
                    "ready",
                    "the process did not get ready: {line}"
                );
                readers.push(r);
            }
            Ok((vec![a, b], readers))
        })
        .unwrap();

    let runs: Vec<Run> = children
        .into_iter()
        .zip(readers)
        .map(|(mut c, mut r)| {
            let status = c.wait().unwrap();
            let mut stderr = String::new();
            r.read_to_string(&mut stderr).unwrap();
            Run {
                code: status.code().unwrap_or(-1),
                stderr,
            }
        })
        .collect();

    let winners = runs.iter().filter(|r| r.code == 0).count();
    assert_eq!(
        winners,
        1,
        "exactly one decision applies: {:?}",
        runs.iter()
            .map(|r| (&r.code, &r.stderr))
            .collect::<Vec<_>>()
    );
    let loser = runs.iter().find(|r| r.code != 0).unwrap();
    assert_eq!(loser.code, 1);
    assert!(
        loser.stderr.contains(&format!("already decided by {me}")),
        "{}",
        loser.stderr
    );

    // The store agrees with what the winner said, and the grant exists iff it approved.
    let store = Store::open(&deck.db).unwrap();
    let req = store.read().request(id.parse().unwrap()).unwrap().unwrap();
    assert!(matches!(req.state, State::Approved | State::Denied));
    assert_eq!(req.reviews.len(), 1);
    let granted = store
        .read()
        .grants_of("dave")
        .unwrap()
        .iter()
        .any(|g| g.role == Role::Platform);
    assert_eq!(granted, req.state == State::Approved);
    // Both attempts are in an intact audit log: the decision and the late one (failed).
    let v = certdeck::audit::verify(store.read(), None).unwrap();
    assert!(v.is_intact());
    let late = store
        .read()
        .audit_records(&certdeck::store::AuditQuery {
            object_type: Some("request".into()),
            object_id: Some(id.clone()),
            ..Default::default()
        })
        .unwrap();
    assert!(late.iter().any(|r| r.outcome == "failed"
        && r.reason
            .as_deref()
            .unwrap_or("")
            .contains("already decided")));
}
