//! The actor behind a command: the OS user of the real uid, with where they acted from.
//! Never taken from a flag or an environment variable: `sudo -u`, `su` and SSH logins all
//! change the real uid, while `USER=root` changes nothing.

use crate::model::{Actor, ActorKind, Origin};

pub fn current_actor() -> Actor {
    let uid = nix::unistd::getuid();
    let name = nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| format!("uid:{}", uid.as_raw()));
    Actor {
        name,
        uid: uid.as_raw(),
        kind: ActorKind::Operator,
        origin: current_origin(),
    }
}

/// Host, terminal and SSH client of this process. The SSH client address comes from
/// sshd's `SSH_CONNECTION`/`SSH_CLIENT`: it is recorded as origin, never trusted as identity.
pub fn current_origin() -> Origin {
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok());
    let tty = nix::unistd::ttyname(std::io::stdin())
        .ok()
        .map(|p| p.display().to_string());
    let ssh_client = std::env::var("SSH_CONNECTION")
        .or_else(|_| std::env::var("SSH_CLIENT"))
        .ok()
        .and_then(|v| {
            let mut parts = v.split_whitespace();
            let addr = parts.next()?;
            let port = parts.next();
            Some(match port {
                Some(p) => format!("{addr}:{p}"),
                None => addr.to_string(),
            })
        });
    Origin {
        host,
        tty,
        ssh_client,
        pid: std::process::id(),
    }
}
