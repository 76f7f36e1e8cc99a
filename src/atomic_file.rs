//! The one way prof writes a file: into a temporary file next to the target (`.{name}.XXXXXX.tmp`,
//! so a crash leaves only such a file, never a half-written target), synced as the caller needs,
//! given the caller's permission bits (whatever the umask), then renamed over the target. Every
//! output format and every archive goes through [`write_atomic`].
//!
//! Only a regular file (or nothing) is ever replaced: renaming over a symbolic link, a device,
//! a FIFO or a socket replaces that node itself, so `-o /dev/stdout` would swap the system's
//! `/dev/stdout` link for a regular file. [`non_regular_kind`] says what such a path is, and
//! [`write_atomic`] refuses it (standard output is written by the output stage without a file).

use std::fs::{File, Permissions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
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

/// Why [`write_atomic`] refused its target: the source of an [`AtomicWriteError::Io`] with the
/// action `replace`, when the target exists and is not a regular file.
#[derive(Debug, thiserror::Error)]
#[error("it is a {kind}, not a regular file, and renaming over it would replace the {kind} itself")]
pub struct NotRegularFile {
    /// What the target is ([`non_regular_kind`]).
    pub kind: &'static str,
}

impl NotRegularFile {
    /// The [`NotRegularFile`] inside `error`, if that is what it is.
    pub fn of(error: &io::Error) -> Option<&NotRegularFile> {
        error.get_ref()?.downcast_ref()
    }
}

/// What `path` is when it exists and is not a regular file (`symbolic link`, `directory`,
/// `FIFO`, `character device`, …), without following a link; `None` when it is a regular file
/// or does not exist (or cannot be examined: then creating or renaming fails on its own).
pub fn non_regular_kind(path: &Path) -> Option<&'static str> {
    let file_type = std::fs::symlink_metadata(path).ok()?.file_type();
    Some(if file_type.is_file() {
        return None;
    } else if file_type.is_symlink() {
        "symbolic link"
    } else if file_type.is_dir() {
        "directory"
    } else if file_type.is_fifo() {
        "FIFO"
    } else if file_type.is_char_device() {
        "character device"
    } else if file_type.is_block_device() {
        "block device"
    } else if file_type.is_socket() {
        "socket"
    } else {
        "special file"
    })
}

/// The directory `path` is in (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Writes `path` atomically: `fill` writes into a temp file in the same directory, which is
/// flushed, synced as `durability` says, given exactly the permission bits `mode` (whatever
/// the umask) and renamed over `path`. On any error
/// `path` is untouched and the temp file is removed.
pub fn write_atomic<E>(
    path: &Path,
    durability: Durability,
    mode: u32,
    fill: impl FnOnce(&mut BufWriter<&File>) -> Result<(), E>,
) -> Result<(), AtomicWriteError<E>> {
    let io_err = |path: &Path, action| {
        let path = path.to_path_buf();
        move |source| AtomicWriteError::Io { path, action, source }
    };
    let refuse_non_regular = || match non_regular_kind(path) {
        Some(kind) => Err(AtomicWriteError::Io {
            path: path.to_path_buf(),
            action: "replace",
            source: io::Error::new(io::ErrorKind::AlreadyExists, NotRegularFile { kind }),
        }),
        None => Ok(()),
    };
    refuse_non_regular()?;
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
    tmp.as_file().set_permissions(Permissions::from_mode(mode)).map_err(io_err(path, "set the mode of"))?;
    tmp.as_file().sync_all().map_err(io_err(path, "sync"))?;
    // Checked again here because the path may have changed since the caller checked it (and
    // while `fill` ran). A change between this check and the rename is still possible, but
    // rename(2) never follows a link at the target: the worst case is that a link or node
    // created in between, in a directory its creator can already write, is replaced, never
    // the file a link points to.
    refuse_non_regular()?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A target that became a symbolic link after the caller's check is refused just before the
    /// rename: the link and the file it points to are left as they were.
    #[test]
    fn atomic_file_refuses_to_replace_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let link = dir.path().join("out.folded");
        let err = write_atomic::<io::Error>(&link, Durability::File, 0o600, |w| {
            std::os::unix::fs::symlink(&victim, &link).unwrap();
            w.write_all(b"new")
        })
        .unwrap_err();
        let AtomicWriteError::Io { source, .. } = &err else { panic!("{err}") };
        assert_eq!(NotRegularFile::of(source).map(|n| n.kind), Some("symbolic link"), "{err}");
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left.len(), 2, "the temp file was left behind: {left:?}");
    }
}
