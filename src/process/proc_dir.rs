//! An open `/proc/PID` directory. The kernel ties the directory to the process that had the PID
//! when it was opened, not to the number: every file opened through it belongs to that process
//! or is gone with it, even if the PID is reused meanwhile. So the start time read through it
//! dates the mappings read through it, with one read of `stat` instead of one before and one
//! after the maps.

use std::fs::File;
use std::io::Read;
use std::os::fd::OwnedFd;

use rustix::fs::{openat, Mode, OFlags};

use super::maps::{parse_maps, Mapping};
use super::maps_query::{executable_mappings, QueryError};

/// `/proc/PID` of one process, open.
pub struct ProcDir {
    dir: OwnedFd,
}

impl ProcDir {
    /// Opens `/proc/TGID`; None when no process has the PID.
    pub fn open(tgid: u32) -> Option<ProcDir> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let dir = rustix::fs::open(format!("/proc/{tgid}"), flags, Mode::empty()).ok()?;
        Some(ProcDir { dir })
    }

    fn file(&self, path: &str) -> Option<File> {
        openat(&self.dir, path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).ok().map(File::from)
    }

    /// The process's start time in clock ticks since boot (field 22 of `stat`).
    pub fn start_time(&self) -> Option<u64> {
        let mut text = String::new();
        // `stat` is one line of at most a few hundred bytes; a bound keeps it so.
        self.file("stat")?.take(4096).read_to_string(&mut text).ok()?;
        super::parse_start_time(&text)
    }

    /// The process's pid in its own (innermost) pid namespace, from the `NSpid` line of
    /// `status`, when it differs from the pid prof sees (a process in a container).
    pub fn ns_pid(&self) -> Option<u32> {
        let mut text = String::new();
        // `status` is about 1.5 KB; the bound keeps a hostile comm from mattering.
        self.file("status")?.take(16 << 10).read_to_string(&mut text).ok()?;
        parse_ns_pid(&text)
    }

    /// The executable mappings, read through thread `tid` (which outlives an exited leader) or
    /// any other of the process's threads: a thread that exited (a leader that called
    /// `pthread_exit`) shows no mappings while its siblings still run in them. None when the
    /// process is gone; empty for a zombie or a kernel thread.
    pub fn mappings(&self, tid: u32) -> Option<Vec<Mapping>> {
        let first = self.maps_at(&format!("task/{tid}/maps")).or_else(|| self.maps_at("maps"));
        if first.as_ref().is_some_and(|m| !m.is_empty()) {
            return first;
        }
        let tasks = self.file("task")?;
        let others = rustix::fs::Dir::read_from(&tasks).ok()?;
        for task in others.flatten() {
            let Some(other) = task.file_name().to_str().ok().and_then(|n| n.parse::<u32>().ok()) else { continue };
            if other == tid {
                continue;
            }
            if let Some(found) = self.maps_at(&format!("task/{other}/maps")).filter(|m| !m.is_empty()) {
                return Some(found);
            }
        }
        first
    }

    /// One maps file's executable mappings: asked of the kernel, else parsed from the text.
    fn maps_at(&self, path: &str) -> Option<Vec<Mapping>> {
        read_maps(self.file(path)?)
    }
}

/// The executable mappings of thread `tid` of process `tgid`, from `TGID/task/TID/maps` opened
/// under `proc` (an open `/proc`) in one call, without the open `/proc/TGID` directory that
/// [`ProcDir`] keeps to date them: for a process whose start time the kernel told. None when
/// the file cannot be opened or read (the caller falls back on [`ProcDir::mappings`]).
pub fn thread_mappings(proc: &OwnedFd, tgid: u32, tid: u32) -> Option<Vec<Mapping>> {
    let path = format!("{tgid}/task/{tid}/maps");
    read_maps(openat(proc, path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).ok().map(File::from)?)
}

/// An open maps file's executable mappings: asked of the kernel, else parsed from the text.
fn read_maps(mut file: File) -> Option<Vec<Mapping>> {
    match executable_mappings(&file) {
        Ok(found) => Some(found),
        Err(QueryError::Failed) => None,
        Err(QueryError::Unsupported) => {
            let mut text = String::new();
            file.read_to_string(&mut text).ok()?;
            Some(parse_maps(&text))
        }
    }
}

/// The innermost pid of a `status` text's `NSpid:` line (pids from the outermost namespace
/// in, tab-separated) when there are several and it differs from the first; None otherwise.
pub fn parse_ns_pid(status: &str) -> Option<u32> {
    let line = status.lines().find_map(|l| l.strip_prefix("NSpid:"))?;
    let pids: Vec<u32> = line.split_whitespace().take(64).map(str::parse).collect::<Result<_, _>>().ok()?;
    let (first, last) = (*pids.first()?, *pids.last()?);
    (pids.len() > 1 && first != last).then_some(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This process through its directory: its start time is the one `/proc/self/stat` gives,
    /// and its mappings include the test binary's code.
    #[test]
    fn proc_dir_reads_start_time_and_mappings() {
        let me = std::process::id();
        let dir = ProcDir::open(me).unwrap();
        assert_eq!(dir.start_time(), super::super::start_time(me));
        assert!(dir.start_time().is_some());
        let maps = dir.mappings(me).unwrap();
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        assert!(maps.iter().any(|m| m.path == exe.to_string_lossy()), "{maps:?}");
    }

    /// A directory opened for a process that then exited and was reaped reads nothing, even
    /// though the number may be reused: neither a start time nor mappings.
    #[test]
    fn proc_dir_of_a_reaped_process_reads_nothing() {
        let mut child = std::process::Command::new("sleep").arg("5").spawn().unwrap();
        let dir = ProcDir::open(child.id()).unwrap();
        assert!(dir.start_time().is_some());
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(dir.start_time(), None);
        assert_eq!(dir.mappings(child.id()), None);
    }

    /// `NSpid` gives the innermost pid only for a process in a nested pid namespace.
    #[test]
    fn proc_dir_parses_the_namespace_pid() {
        assert_eq!(parse_ns_pid("Name:\tnginx\nNSpid:\t4242\t7\nNStgid:\t4242\t7\n"), Some(7));
        assert_eq!(parse_ns_pid("NSpid:\t4242\t300\t1\n"), Some(1));
        assert_eq!(parse_ns_pid("NSpid:\t4242\n"), None);
        assert_eq!(parse_ns_pid("NSpid:\t4242\tx\n"), None);
        assert_eq!(parse_ns_pid("Name:\tNSpid:\t1\t2\n"), None);
        assert_eq!(parse_ns_pid(""), None);
        let own = ProcDir::open(std::process::id()).unwrap();
        assert_eq!(own.ns_pid(), parse_ns_pid(&std::fs::read_to_string("/proc/self/status").unwrap()));
    }
}
