//! Writing target files atomically: temp file in the same directory, fsync, rename,
//! fsync the directory. A failure is `deploy_permission` naming the path.

use super::{Material, TargetSpec};
use crate::lifecycle::{Category, Diagnosis};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Writes `bytes` to `path` with `mode`, so the path holds either the old content or the
/// new, never a mix.
pub fn write_atomic(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    owner: Option<&str>,
    group: Option<&str>,
) -> Result<(), Diagnosis> {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        Diagnosis::new(
            Category::DeployPermission,
            format!("{what} {}: {e}", path.display()),
        )
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| fail("no file name in", &"path"))?;
    // Unique per process and per call: concurrent workers never share a temp file.
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let tmp = dir.join(format!(
        ".{}.certdeck-tmp-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let _ = std::fs::remove_file(&tmp);
    let result = (|| -> Result<(), Diagnosis> {
        if !dir.exists() {
            std::fs::create_dir_all(dir).map_err(|e| fail("cannot create the directory of", &e))?;
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .map_err(|e| fail("cannot create a file beside", &e))?;
        f.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|e| fail("cannot set the mode of", &e))?;
        chown_if_root(&tmp, owner, group).map_err(|e| fail("cannot change owner of", &e))?;
        f.write_all(bytes).map_err(|e| fail("cannot write", &e))?;
        f.sync_all().map_err(|e| fail("cannot sync", &e))?;
        std::fs::rename(&tmp, path).map_err(|e| fail("cannot replace", &e))?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn chown_if_root(path: &Path, owner: Option<&str>, group: Option<&str>) -> Result<(), String> {
    if owner.is_none() && group.is_none() {
        return Ok(());
    }
    if !nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    let uid = match owner {
        Some(o) => Some(
            nix::unistd::User::from_name(o)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no user {o}"))?
                .uid,
        ),
        None => None,
    };
    let gid = match group {
        Some(g) => Some(
            nix::unistd::Group::from_name(g)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no group {g}"))?
                .gid,
        ),
        None => None,
    };
    nix::unistd::chown(path, uid, gid).map_err(|e| e.to_string())
}

/// Writes every file of one target: certificates first, the key last, so a server that
/// reloads on its own never pairs a new key with an old certificate for long.
pub fn deploy(target: &TargetSpec, m: &Material) -> Result<(), Diagnosis> {
    let bad = |e: String| Diagnosis::new(Category::DeployPermission, e);
    let mode = target.cert_mode().map_err(bad)?;
    let key_mode = target.key_mode().map_err(bad)?;
    let (o, g) = (target.owner.as_deref(), target.group.as_deref());
    let full = m.fullchain();
    write_atomic(&target.cert, full.as_bytes(), mode, o, g)?;
    if let Some(p) = &target.fullchain {
        write_atomic(p, full.as_bytes(), mode, o, g)?;
    }
    if let Some(p) = &target.leaf {
        write_atomic(p, m.leaf_pem.as_bytes(), mode, o, g)?;
    }
    if let Some(p) = &target.chain {
        write_atomic(p, m.chain_pem.as_bytes(), mode, o, g)?;
    }
    write_atomic(&target.key, m.key_pem.as_bytes(), key_mode, o, g)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_content_and_sets_mode() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("k.pem");
        std::fs::write(&p, "old").unwrap();
        write_atomic(&p, b"new", 0o600, None, None).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let leftovers: Vec<_> = std::fs::read_dir(d.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temp file left behind");
    }

    #[test]
    fn an_unwritable_directory_is_deploy_permission() {
        let e = write_atomic(
            Path::new("/proc/certdeck-nope/x.pem"),
            b"x",
            0o644,
            None,
            None,
        )
        .unwrap_err();
        assert_eq!(e.category, Category::DeployPermission);
        assert!(e.message.contains("/proc/certdeck-nope/x.pem"));
    }
}
