//! The one way prof writes a file: into a temporary file next to the target (`.{name}.XXXXXX.tmp`,
//! so a crash leaves only such a file, never a half-written target), synced as the caller needs,
//! given the caller's mode, then renamed over the target. Every output format and every archive
//! goes through [`write_atomic`].

use std::fs::{File, Permissions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// How durable the file must be once [`write_atomic`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// The file's data is synced before the rename (an output the user waits for).
    File,
    /// The file's data, then after the rename its directory, are synced: the new name survives
    /// a power cut (archives, which a continuous recorder writes and retention deletes).
    FileAndDirectory,
}

/// The permission bits of the written file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// These bits less the process's umask, like any file the user creates (`0o666`).
    Umask(u32),
    /// Exactly these bits (`0o600` for archives: profiles can reveal what others run).
    Exact(u32),
}

/// Errors of [`write_atomic`]: the file system, or the caller's `fill`.
#[derive(Debug, thiserror::Error)]
pub enum AtomicWriteError<E> {
    /// A file-system operation failed.
    #[error("failed to {action} `{}`: {source}", path.display())]
    Io {
        /// The file (or directory) the operation was on.
        path: PathBuf,
        /// What was being done: `create a temporary file in`, `write`, `sync`, ….
        action: &'static str,
        /// The operating system's error.
        source: io::Error,
    },
    /// Writing the content failed.
    #[error(transparent)]
    Fill(E),
}

/// The directory `path` is in (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Writes `path` atomically: `fill` writes into a temp file in the same directory, which is
/// flushed, synced as `durability` says, given `mode` and renamed over `path`. On any error
/// `path` is untouched and the temp file is removed.
pub fn write_atomic<E>(
    path: &Path,
    durability: Durability,
    mode: Mode,
    fill: impl FnOnce(&mut BufWriter<&File>) -> Result<(), E>,
) -> Result<(), AtomicWriteError<E>> {
    let io_err = |path: &Path, action| {
        let path = path.to_path_buf();
        move |source| AtomicWriteError::Io { path, action, source }
    };
    let dir = parent_dir(path);
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.", path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(io_err(dir, "create a temporary file in"))?;
    {
        let mut w = BufWriter::new(tmp.as_file());
        fill(&mut w).map_err(AtomicWriteError::Fill)?;
        w.flush().map_err(io_err(path, "write"))?;
    }
    let bits = match mode {
        Mode::Umask(bits) => bits & !current_umask(),
        Mode::Exact(bits) => bits,
    };
    tmp.as_file().set_permissions(Permissions::from_mode(bits)).map_err(io_err(path, "set the mode of"))?;
    tmp.as_file().sync_all().map_err(io_err(path, "sync"))?;
    tmp.persist(path).map_err(|e| AtomicWriteError::Io {
        path: path.to_path_buf(),
        action: "rename a temporary file over",
        source: e.error,
    })?;
    if durability == Durability::FileAndDirectory {
        File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir, "sync the directory"))?;
    }
    Ok(())
}

/// The process's umask (from `/proc/self/status`; `022` when it cannot be read). Reading it
/// does not change it, unlike `umask(2)`.
fn current_umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("Umask:")).and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}
