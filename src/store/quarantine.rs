//! Crash recovery of the archive directory: the temp files of archives a recorder was writing
//! when it died (SIGKILL, power loss) are moved, not deleted, into the `quarantine/`
//! subdirectory, so nothing is lost silently and they can be inspected. They are incomplete by
//! construction (never renamed to a final name), so prof never reads them as archives; the
//! listing of the archive directory does not descend into `quarantine/`, and retention never
//! touches it.
//!
//! The subdirectory is created 0700 and opened with `O_NOFOLLOW`: a link planted under its name
//! is refused, never followed. Files are moved with `renameat2(RENAME_NOREPLACE)` between the
//! two open directories, so nothing in the quarantine is overwritten.

use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, RenameFlags, CWD};

use super::parse_name;

/// Name of the subdirectory of the archive directory unfinished archives are moved to.
pub const QUARANTINE_DIR: &str = "quarantine";

/// How many suffixed names (`NAME.1`, `NAME.2`, …) are tried when `NAME` is in the quarantine
/// already (temp names are random, so one clash is already unlikely).
const MAX_SUFFIX: u32 = 100;

/// One unfinished archive moved by [`recover`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quarantined {
    /// Where it was (a temp file in the archive directory).
    pub from: PathBuf,
    /// Where it is now, in [`QUARANTINE_DIR`].
    pub to: PathBuf,
}

/// True for the temp files [`crate::archive::write_file`] writes archives through:
/// `.{archive name}.{random}.tmp`.
fn is_archive_temp(name: &str) -> bool {
    let Some(inner) = name.strip_prefix('.') else { return false };
    let Some(final_name) = inner.split(".prof.").next().map(|s| format!("{s}.prof")) else { return false };
    name.ends_with(".tmp") && parse_name(&final_name).is_some()
}

/// Moves the temp files of archives that were being written when a recorder crashed into
/// `dir/quarantine/` (created 0700 if needed; refused if it is a link, not a directory, or
/// another user's). Only regular files with prof's temp names are moved. Returns what was moved;
/// with nothing to move, the subdirectory is not created.
pub fn recover(dir: &Path) -> io::Result<Vec<Quarantined>> {
    let mut temps = Vec::new();
    for de in std::fs::read_dir(dir)? {
        let de = de?;
        let name = de.file_name();
        let Some(name) = name.to_str() else { continue };
        if !is_archive_temp(name) {
            continue;
        }
        // A temp file that is gone already (its writer finished or removed it) is no error.
        match std::fs::symlink_metadata(de.path()) {
            Ok(meta) if meta.file_type().is_file() => temps.push(name.to_string()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    if temps.is_empty() {
        return Ok(Vec::new());
    }
    temps.sort();
    let dir_fd = rustix::fs::openat(CWD, dir, OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::RDONLY, Mode::empty())?;
    let quarantine = dir.join(QUARANTINE_DIR);
    let q_fd = open_quarantine(&dir_fd, &quarantine)?;
    let mut moved = Vec::new();
    for name in temps {
        if let Some(to_name) = move_noreplace(&dir_fd, &name, &q_fd)? {
            moved.push(Quarantined { from: dir.join(&name), to: quarantine.join(to_name) });
        }
    }
    Ok(moved)
}

/// Creates (0700) or opens the quarantine subdirectory without following a link, and checks that
/// it belongs to this user and only they can use it (making it 0700 if it is theirs).
fn open_quarantine(dir_fd: &OwnedFd, path: &Path) -> io::Result<OwnedFd> {
    let refuse = |why: String| io::Error::other(format!("`{}` {why}; move it away", path.display()));
    match rustix::fs::mkdirat(dir_fd, QUARANTINE_DIR, Mode::RWXU) {
        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
        Err(e) => return Err(io::Error::other(format!("cannot create `{}`: {e}", path.display()))),
    }
    let flags = OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::RDONLY;
    let fd = match rustix::fs::openat(dir_fd, QUARANTINE_DIR, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR) => {
            return Err(refuse("is not a directory (a link or a file)".to_string()))
        }
        Err(e) => return Err(io::Error::other(format!("cannot open `{}`: {e}", path.display()))),
    };
    let st = rustix::fs::fstat(&fd)?;
    let uid = super::euid();
    if st.st_uid != uid {
        return Err(refuse(format!("belongs to uid {}, not to this user (uid {uid})", st.st_uid)));
    }
    if st.st_mode & 0o077 != 0 {
        rustix::fs::fchmod(&fd, Mode::RWXU)?;
    }
    Ok(fd)
}

/// Moves `name` from `from` into `to` under the same name, or `name.N` when that exists; `None`
/// when the file vanished meanwhile.
fn move_noreplace(from: &OwnedFd, name: &str, to: &OwnedFd) -> io::Result<Option<String>> {
    for n in 0..=MAX_SUFFIX {
        let to_name = if n == 0 { name.to_string() } else { format!("{name}.{n}") };
        match rustix::fs::renameat_with(from, name, to, to_name.as_str(), RenameFlags::NOREPLACE) {
            Ok(()) => return Ok(Some(to_name)),
            Err(rustix::io::Errno::EXIST) => continue,
            Err(rustix::io::Errno::NOENT) => return Ok(None),
            Err(e) => return Err(io::Error::other(format!("cannot move `{name}` into {QUARANTINE_DIR}/: {e}"))),
        }
    }
    Err(io::Error::other(format!("`{name}` and {MAX_SUFFIX} suffixed names are in {QUARANTINE_DIR}/ already")))
}
