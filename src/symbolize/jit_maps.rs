//! Where a process's JIT perf map is: `/tmp/perf-<PID in its namespace>.map` inside its root
//! (a container's, never escaping it) while the process lives; once it exited, in its `/tmp`
//! held open since it was seen running JIT code (a container's `/tmp` goes away with it), else
//! the host's `/tmp/perf-PID.map`.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::perf_map::{PerfMap, PerfMapRefused};
use crate::process::in_root::{HeldDir, ProcessRoot};

/// A process's `/tmp`, held open while it ran, with what reading its map there needs later.
#[derive(Debug)]
pub struct HeldTmp {
    dir: HeldDir,
    /// The process's PID in its own namespace (its map's name).
    ns_pid: u32,
    /// The process's owner (a map must be its or root's).
    uid: Option<u32>,
}

impl HeldTmp {
    /// Holds the `/tmp` of live process `tgid` open. None when it is gone.
    pub fn open(tgid: u32) -> Option<HeldTmp> {
        let root = ProcessRoot::open(tgid, tgid).ok()?;
        let dir = root.open_dir("/tmp").ok()?;
        Some(HeldTmp { dir, ns_pid: ns_pid(tgid)?, uid: owner(tgid) })
    }
}

/// Reads the JIT map of process `tgid` (see the module doc), using `held` once the process is
/// gone. A map refused for its owner is an error (for a warning).
pub fn read(tgid: u32, held: Option<&HeldTmp>) -> Result<Option<PerfMap>, PerfMapRefused> {
    if let Ok(root) = ProcessRoot::open(tgid, tgid) {
        let (uid, ns_pid) = (owner(tgid), ns_pid(tgid).unwrap_or(tgid));
        let in_root = format!("/tmp/perf-{ns_pid}.map");
        return match root.open_file(&in_root, true) {
            Ok(file) => PerfMap::read_file(file, &format!("/proc/{tgid}/root{in_root}"), uid),
            Err(_) => Ok(None),
        };
    }
    if let Some(held) = held {
        let name = format!("perf-{}.map", held.ns_pid);
        return match held.dir.open_file(&name) {
            Ok(file) => PerfMap::read_file(file, &format!("/tmp/{name} of exited process {tgid}"), held.uid),
            Err(_) => Ok(None),
        };
    }
    // Gone, and never seen running JIT code: the host's map, if it wrote one there.
    PerfMap::read(Path::new(&format!("/tmp/perf-{tgid}.map")), owner(tgid))
}

/// The owner of process `tgid`, while it lives.
fn owner(tgid: u32) -> Option<u32> {
    std::fs::metadata(format!("/proc/{tgid}")).ok().map(|m| m.uid())
}

/// The PID of process `tgid` in its own PID namespace (`tgid` itself when it is in prof's);
/// None when the process is gone.
fn ns_pid(tgid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{tgid}/status")).ok()?;
    Some(crate::process::proc_dir::parse_ns_pid(&status).unwrap_or(tgid))
}
