//! The reload command: run after files change, with a timeout, told what changed through
//! the environment, and judged by its exit code.

use crate::lifecycle::{Category, Diagnosis};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `command` with `sh -c`. A non-zero exit, a signal or the timeout is `reload_failed`
/// with the end of what the command printed on stderr.
pub fn run(command: &str, env: &[(&str, String)], timeout: Duration) -> Result<(), Diagnosis> {
    let fail = |m: String| Diagnosis::new(Category::ReloadFailed, m);
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot start `{command}`: {e}")))?;
    let mut stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stderr.as_mut() {
            let _ = s.take(64 * 1024).read_to_end(&mut buf);
        }
        buf
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if started.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(format!(
                    "`{command}` did not finish within {} s and was killed",
                    timeout.as_secs()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(fail(format!("waiting for `{command}`: {e}"))),
        }
    };
    let err = reader.join().unwrap_or_default();
    if status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&err);
    let tail: String = text
        .trim()
        .chars()
        .rev()
        .take(400)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    Err(fail(format!(
        "`{command}` exited with {status}{}",
        if tail.is_empty() {
            String::new()
        } else {
            format!(": {tail}")
        }
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_code_and_environment_are_honoured() {
        run(
            "test \"$CERTDECK_IDENTITY\" = www",
            &[("CERTDECK_IDENTITY", "www".into())],
            Duration::from_secs(5),
        )
        .unwrap();
        let e = run("echo boom >&2; exit 3", &[], Duration::from_secs(5)).unwrap_err();
        assert_eq!(e.category, Category::ReloadFailed);
        assert!(
            e.message.contains("boom") && e.message.contains('3'),
            "{}",
            e.message
        );
    }

    #[test]
    fn a_hung_reload_is_killed_at_the_timeout() {
        let e = run("exec sleep 5", &[], Duration::from_millis(100)).unwrap_err();
        assert!(e.message.contains("did not finish"), "{}", e.message);
    }
}
