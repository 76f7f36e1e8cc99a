//! Opening files as a process sees them: inside its root directory (a container's root), never
//! outside it, whatever symlinks the process's file system holds.

use std::fs::File;
use std::io;

use rustix::fd::OwnedFd;
use rustix::fs::{Mode, OFlags, ResolveFlags};

/// The root directory of a process, held open.
#[derive(Debug)]
pub struct ProcessRoot(OwnedFd);

impl ProcessRoot {
    /// The root of process `tgid`: `/proc/TGID/root`, else the root of thread `tid`, else of any
    /// other of its threads (after its leader exited, the process's own entry has no root).
    /// Fails when the process is gone (or a zombie).
    pub fn open(tgid: u32, tid: u32) -> io::Result<ProcessRoot> {
        let open = |path: String| {
            // The magic link is followed: it is the process's root as the kernel knows it.
            rustix::fs::open(path, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        };
        let first = open(format!("/proc/{tgid}/root"));
        let Err(err) = first else { return first.map(ProcessRoot).map_err(io::Error::from) };
        let mut threads = vec![tid];
        if let Ok(dir) = std::fs::read_dir(format!("/proc/{tgid}/task")) {
            threads.extend(dir.flatten().filter_map(|t| t.file_name().to_str()?.parse::<u32>().ok()));
        }
        threads
            .into_iter()
            .filter(|&t| t != tgid)
            .find_map(|t| open(format!("/proc/{tgid}/task/{t}/root")).ok())
            .map(ProcessRoot)
            .ok_or_else(|| err.into())
    }

    /// Holds directory `path`, as the process names it, open inside its root (`O_PATH`, resolved
    /// as [`ProcessRoot::open_file`] resolves): its files stay reachable after the process is
    /// gone, even when the directory was a mount of the process's own namespace.
    pub fn open_dir(&self, path: &str) -> io::Result<HeldDir> {
        let relative = path.trim_start_matches('/');
        let relative = if relative.is_empty() { "." } else { relative };
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
        Ok(HeldDir(rustix::fs::openat2(&self.0, relative, flags, Mode::empty(), resolve)?))
    }

    /// Opens `path`, as the process names it, read-only inside its root: `openat2` with
    /// `RESOLVE_IN_ROOT` (`..` and absolute symlinks stay inside the root) and
    /// `RESOLVE_NO_MAGICLINKS` (no `/proc/*/fd`-style jumps out). With `nofollow`, a symlink as
    /// the last component is refused too; `O_NONBLOCK` keeps a FIFO from blocking the open.
    pub fn open_file(&self, path: &str, nofollow: bool) -> io::Result<File> {
        let mut flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY;
        if nofollow {
            flags |= OFlags::NOFOLLOW;
        }
        let relative = path.trim_start_matches('/');
        let relative = if relative.is_empty() { "." } else { relative };
        let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
        Ok(File::from(rustix::fs::openat2(&self.0, relative, flags, Mode::empty(), resolve)?))
    }
}

/// A directory held open with `O_PATH` (see [`ProcessRoot::open_dir`]).
#[derive(Debug)]
pub struct HeldDir(OwnedFd);

impl HeldDir {
    /// Opens file `name` of the directory read-only: never a symlink, never outside the
    /// directory (`RESOLVE_BENEATH`), never blocking on a FIFO.
    pub fn open_file(&self, name: &str) -> io::Result<File> {
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::NOFOLLOW;
        let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
        Ok(File::from(rustix::fs::openat2(&self.0, name, flags, Mode::empty(), resolve)?))
    }
}
