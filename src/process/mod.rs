//! What prof knows about each sampled process, shared by symbolization and unwinding: snapshots
//! of its executable mappings ([`maps`]), taken when it was first seen, and open handles to its
//! binaries ([`BinaryKey`], [`Binary`]) so they stay readable after the process exits or the
//! file is deleted or replaced. The recording session owns the [`ProcessTable`]; the unwinder
//! reads a process's [`MappingInfo`] from it, the symbolizer its mappings and binaries. Code
//! mapped later is picked up by a new snapshot: on the kernel walker's request, or when a sampled
//! address falls outside every mapping ([`ProcessTable::refresh`], [`refresh`]).

pub mod cgroup;
pub mod in_root;
pub mod maps;
pub mod maps_query;
pub mod proc_dir;
pub mod refresh;
pub mod stamp;
pub mod vdso;

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::Instant;

use maps::Mapping;

/// The kernel's `PID_MAX_LIMIT` on 64-bit systems (2^22): `kernel.pid_max` is at most this, and
/// every process id is below it.
pub const PID_MAX_LIMIT: u32 = 1 << 22;

/// What the kernel told of a process along with the event that asks for its capture, read
/// from its task, so that the capture need not read `/proc/PID/stat` and `status` for them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Known {
    /// Its start time in clock ticks since boot (`stat` field 22), when known.
    pub start_time: Option<u64>,
    /// Its pid in its own pid namespace, when known.
    pub ns_pid: NsPid,
}

/// A process's pid in its own pid namespace, as far as known.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NsPid {
    /// Not known: read `status` for it.
    #[default]
    Unknown,
    /// The same as the pid prof sees (not in a container's pid namespace).
    Same,
    /// This pid, in a nested pid namespace.
    Nested(u32),
}

impl NsPid {
    /// From the pid the kernel gave for process `tgid` in its innermost namespace (0: unknown).
    pub fn from_kernel(tgid: u32, ns_pid: u32) -> NsPid {
        match ns_pid {
            0 => NsPid::Unknown,
            n if n == tgid => NsPid::Same,
            n => NsPid::Nested(n),
        }
    }
}

/// One process, told apart from any later process that reuses its PID by its start time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProcessId {
    /// Process id (tgid).
    pub tgid: u32,
    /// Start time in clock ticks since boot (field 22 of `/proc/PID/stat`); 0 when unknown,
    /// which matches any process under the PID.
    pub start: u64,
}

impl ProcessId {
    /// Whichever process has (or had) PID `tgid`: start time unknown.
    pub fn any(tgid: u32) -> ProcessId {
        ProcessId { tgid, start: 0 }
    }

    /// True when a snapshot taken of a process started at `start` may belong to this one.
    fn matches(self, start: u64) -> bool {
        self.start == 0 || start == 0 || self.start == start
    }
}

/// Identity of a binary: device and inode (what the kernel maps, whatever its path).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BinaryKey {
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino`.
    pub inode: u64,
}

/// An open binary that stays reachable for the whole recording.
#[derive(Debug)]
pub struct Binary {
    file: File,
    /// Its contents when it was opened.
    stamp: stamp::Stamp,
    /// The path the process mapped it from.
    pub path: String,
    /// Module name for frames.
    pub module: String,
}

impl Binary {
    /// How the file changed since it was opened (rewritten in place: same inode, other
    /// contents), if it did. Its symbols would then not be those of the code that was sampled.
    pub fn rewritten(&self) -> Option<String> {
        self.stamp.change_to(&stamp::Stamp::of(&self.file))
    }

    /// A path blazesym can open: the original path while it still names the same file (so
    /// debug links next to it are found), else our open descriptor (deleted or replaced file).
    pub fn symbolization_path(&self, key: BinaryKey) -> PathBuf {
        let same = std::fs::metadata(&self.path).map(|m| m.dev() == key.dev && m.ino() == key.inode).unwrap_or(false);
        if same {
            PathBuf::from(&self.path)
        } else {
            self.descriptor_path()
        }
    }

    /// A path that opens the very file prof holds (`/proc/self/fd/N`), without looking at the
    /// file system: valid while the binary is in the table.
    pub fn descriptor_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.file.as_raw_fd()))
    }
}

/// One executable mapping of a process, as captured from `/proc/PID/maps`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MappingInfo {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// Offset of `start` in the file.
    pub offset: u64,
    /// The binary behind it and a path that opens the file prof holds, valid while the binary
    /// is in the process table (None: anonymous, `[vdso]`, unreadable).
    pub binary: Option<(BinaryKey, PathBuf)>,
    /// Module name (as frames show it).
    pub module: String,
}

/// The executable mappings of a process at one moment, each with its binary when file-backed.
type Snapshot = Vec<(Mapping, Option<BinaryKey>)>;

/// A snapshot and the start time (0: unknown) of the process it was taken of.
type Dated = (u64, Snapshot);

/// Mappings of processes and the binaries behind them.
#[derive(Debug, Default)]
pub struct ProcessTable {
    /// Per PID: snapshots of mappings, oldest first (a process that exec'd has several, and so
    /// do processes that reused the PID, each dated with its start time).
    snapshots: HashMap<u32, Vec<Dated>>,
    binaries: HashMap<BinaryKey, Binary>,
    /// Start time (clock ticks since boot, /proc/PID/stat field 22) of the process last captured
    /// under each PID, to tell it from a later process that reuses its PID.
    start_times: HashMap<u32, u64>,
    /// Processes that exited and are forgotten at the next [`ProcessTable::evict_exited`].
    exited: Vec<u32>,
    /// Captured processes found dead at the last eviction (evicted at the next one, so that
    /// samples still in the kernel's other drain generation are symbolized first).
    suspected_dead: Vec<u32>,
    /// Processes whose maps could not be read.
    pub capture_failures: u64,
    /// Re-reads of mappings asked for by unplaced addresses, per process (see [`refresh`]).
    refreshes: HashMap<ProcessId, refresh::RefreshState>,
    /// Paths of the cgroups samples were taken in.
    pub cgroups: cgroup::CgroupPaths,
    /// Per PID: its pid in its own pid namespace, where that differs.
    ns_pids: HashMap<u32, u32>,
    /// `/proc`, open, for captures the kernel told the identity of (see
    /// [`ProcessTable::capture_known`]); None until the first, or when it cannot be opened.
    proc_root: Option<std::os::fd::OwnedFd>,
}

/// What [`ProcessTable::refresh`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refresh {
    /// Every address is placed, or those that are not were looked for recently or before.
    NotNeeded,
    /// The mappings were read again and had not changed (or the process is gone).
    Unchanged,
    /// The mappings were read again and a new snapshot taken.
    NewMappings,
}

/// What [`ProcessTable::evict_exited`] forgot.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Evicted {
    /// Processes whose mappings were dropped.
    pub processes: Vec<u32>,
    /// Binaries no remaining process maps (their descriptors are closed).
    pub binaries: Vec<BinaryKey>,
}

impl ProcessTable {
    /// Reads the mappings of `tgid` through thread `tid` (which outlives an exited leader) and
    /// opens any binary not yet open. Returns false when the process is already gone.
    pub fn capture(&mut self, tgid: u32, tid: u32) -> bool {
        self.capture_known(tgid, tid, Known::default())
    }

    /// [`ProcessTable::capture`] of a process the kernel told `known` of (with the event that
    /// asked for the capture): a start time given is taken instead of reading `stat`, a
    /// namespace pid instead of reading `status`. The kernel read them from the task that sent
    /// the event; the mappings are read a few milliseconds later, from the process that has
    /// the PID then, which is the same one unless the machine created the whole PID space's
    /// worth of processes (`kernel.pid_max`) in between.
    pub fn capture_known(&mut self, tgid: u32, tid: u32, known: Known) -> bool {
        // The kernel told both the start time and the namespace pid (an exec, a first sample):
        // only the mappings are read, with one open of the thread's maps under an open /proc
        // (the kernel's path walk through /proc/PID/task/TID stays the larger cost).
        if let (Some(start), false) = (known.start_time, known.ns_pid == NsPid::Unknown) {
            let mappings = self.open_proc_root().and_then(|proc| proc_dir::thread_mappings(proc, tgid, tid));
            if let Some(mappings) = mappings.filter(|m| !m.is_empty()) {
                self.set_ns_pid(tgid, Some(start), known.ns_pid);
                self.add_snapshot(tgid, tid, Some(start), mappings);
                return true;
            }
        }
        // Read through one open /proc/PID directory, the start time dates the mappings: both
        // come from the process that had the PID when the directory was opened.
        let Some(dir) = proc_dir::ProcDir::open(tgid) else {
            self.capture_failures += 1;
            return false;
        };
        let start = known.start_time.or_else(|| dir.start_time());
        let ns_pid = match known.ns_pid {
            NsPid::Unknown if start.is_none() || self.start_times.get(&tgid) != start.as_ref() => {
                dir.ns_pid().map_or(NsPid::Same, NsPid::Nested)
            }
            other => other,
        };
        self.set_ns_pid(tgid, start, ns_pid);
        let Some(mappings) = dir.mappings(tid) else {
            self.capture_failures += 1;
            return false;
        };
        if mappings.is_empty() {
            // a zombie, or a kernel thread: nothing to capture
            return false;
        }
        self.add_snapshot(tgid, tid, start, mappings);
        true
    }

    /// `/proc`, opened at the first call.
    fn open_proc_root(&mut self) -> Option<&std::os::fd::OwnedFd> {
        if self.proc_root.is_none() {
            let flags = rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC;
            self.proc_root = rustix::fs::open("/proc", flags, rustix::fs::Mode::empty()).ok();
        }
        self.proc_root.as_ref()
    }

    /// Notes the namespace pid of `tgid` at its first capture: a process keeps its pid
    /// namespace for life, so it is taken only when the start time is new (a PID reused by
    /// another process is a first capture again). `Unknown` leaves what is noted.
    fn set_ns_pid(&mut self, tgid: u32, start: Option<u64>, ns_pid: NsPid) {
        if start.is_some() && self.start_times.get(&tgid) == start.as_ref() {
            return;
        }
        match ns_pid {
            NsPid::Nested(ns) => self.ns_pids.insert(tgid, ns),
            NsPid::Same => self.ns_pids.remove(&tgid),
            NsPid::Unknown => None,
        };
    }

    /// Adds the snapshot of `mappings` (read through thread `tid`) dated `start` to the
    /// process's, opening any binary not yet open.
    fn add_snapshot(&mut self, tgid: u32, tid: u32, start: Option<u64>, mappings: Vec<Mapping>) {
        let snapshot: Snapshot = mappings
            .into_iter()
            .map(|m| {
                let key = m.is_file().then_some(BinaryKey { dev: m.dev, inode: m.inode });
                if let Some(key) = key {
                    if let std::collections::hash_map::Entry::Vacant(slot) = self.binaries.entry(key) {
                        if let Some(bin) = open_binary(tgid, tid, &m, key) {
                            slot.insert(bin);
                        }
                    }
                }
                (m, key)
            })
            .collect();
        let dated = (start.unwrap_or(0), snapshot);
        let list = self.snapshots.entry(tgid).or_default();
        if list.last() != Some(&dated) {
            list.push(dated);
        }
        if let Some(t) = start {
            self.start_times.insert(tgid, t);
        }
    }

    /// Reads the mappings of `pid` again (through its thread `tid`) when one of `addrs`, user
    /// addresses sampled in it, lies outside every mapping captured for it: code mapped after
    /// the process was first captured. Bounded (see [`refresh`]): at most once per
    /// [`refresh::MIN_INTERVAL`], and an address a re-read did not place never asks again. Only
    /// for a process already captured and still running (same start time).
    pub fn refresh(&mut self, pid: ProcessId, tid: u32, addrs: &[u64], now: Instant) -> Refresh {
        if !self.knows(pid) {
            return Refresh::NotNeeded;
        }
        let outside: Vec<u64> = addrs
            .iter()
            .copied()
            .filter(|&a| refresh::is_user_code_address(a) && self.find(pid, a).is_none())
            .collect();
        let state = self.refreshes.entry(pid).or_default();
        if !outside.iter().any(|&a| state.due(a, now)) {
            return Refresh::NotNeeded;
        }
        if pid.start != 0 && start_time(pid.tgid) != Some(pid.start) {
            // gone, or another process has the PID now: nothing to read for this one
            state.reread(now, outside);
            return Refresh::Unchanged;
        }
        let before = self.snapshots.get(&pid.tgid).map_or(0, Vec::len);
        let captured = self.capture(pid.tgid, tid);
        let after = self.snapshots.get(&pid.tgid).map_or(0, Vec::len);
        let still: Vec<u64> = outside.into_iter().filter(|&a| self.find(pid, a).is_none()).collect();
        self.refreshes.entry(pid).or_default().reread(now, still);
        if captured && after > before {
            Refresh::NewMappings
        } else {
            Refresh::Unchanged
        }
    }

    /// The process last captured under PID `tgid` (start time 0 when not captured or unknown).
    pub fn instance(&self, tgid: u32) -> ProcessId {
        ProcessId { tgid, start: self.start_times.get(&tgid).copied().unwrap_or(0) }
    }

    /// Whether a process may run code outside files (a JIT's anonymous or memfd executable
    /// memory, which only a perf map names): true unless every executable mapping captured is
    /// a file, the vDSO or vsyscall. Unknown processes may.
    pub fn may_have_jit(&self, tgid: u32) -> bool {
        let Some(snaps) = self.snapshots.get(&tgid) else {
            return true;
        };
        snaps.iter().flat_map(|(_, snap)| snap).any(|(m, _)| !m.is_file() && !m.path.starts_with('['))
    }

    /// Captured processes that are gone: no /proc entry, or a different process under the PID.
    pub fn dead(&self) -> Vec<u32> {
        self.snapshots
            .keys()
            .copied()
            .filter(|&tgid| match (start_time(tgid), self.start_times.get(&tgid)) {
                (None, _) => true,
                (Some(now), Some(&then)) => now != then,
                (Some(_), None) => false,
            })
            .collect()
    }

    /// The pid of process `tgid` in its own pid namespace, where it differs (captured with its
    /// mappings).
    pub fn ns_pid(&self, tgid: u32) -> Option<u32> {
        self.ns_pids.get(&tgid).copied()
    }

    /// A process exited (its exit event): it is forgotten at the next
    /// [`ProcessTable::evict_exited`], after its last samples are symbolized.
    pub fn exited(&mut self, tgid: u32) {
        self.exited.push(tgid);
    }

    /// Forgets processes that exited (call once their samples are symbolized, e.g. after each
    /// interval) and closes the binaries no remaining process maps. Exit events only come for
    /// processes that were sampled; processes captured at exec and gone unsampled (or whose
    /// event was lost) are found through /proc, twice in a row. Keeps memory flat when
    /// processes churn.
    pub fn evict_exited(&mut self) -> Evicted {
        let dead = self.dead();
        let confirmed: Vec<u32> = dead.iter().copied().filter(|t| self.suspected_dead.contains(t)).collect();
        self.suspected_dead = dead.into_iter().filter(|t| !confirmed.contains(t)).collect();
        self.exited.extend(confirmed);
        let processes = std::mem::take(&mut self.exited);
        for tgid in &processes {
            self.snapshots.remove(tgid);
            self.start_times.remove(tgid);
            self.ns_pids.remove(tgid);
        }
        self.refreshes.retain(|pid, _| !processes.contains(&pid.tgid));
        let used: std::collections::HashSet<BinaryKey> =
            self.snapshots.values().flatten().flat_map(|(_, snap)| snap).filter_map(|(_, k)| *k).collect();
        let binaries: Vec<BinaryKey> = self.binaries.keys().filter(|k| !used.contains(k)).copied().collect();
        for key in &binaries {
            self.binaries.remove(key);
        }
        Evicted { processes, binaries }
    }

    /// Number of open binaries.
    pub fn open_binaries(&self) -> usize {
        self.binaries.len()
    }

    /// True when mappings of `pid` (of a process started at its start time, when known) have
    /// been captured.
    pub fn knows(&self, pid: ProcessId) -> bool {
        self.snapshots.get(&pid.tgid).is_some_and(|l| l.iter().any(|(start, _)| pid.matches(*start)))
    }

    /// The mapping containing `addr` in process `pid`, newest snapshot first; snapshots of
    /// another process under the same PID (a different start time) are never used.
    pub fn find(&self, pid: ProcessId, addr: u64) -> Option<(&Mapping, Option<BinaryKey>)> {
        self.snapshots
            .get(&pid.tgid)?
            .iter()
            .rev()
            .filter(|(start, _)| pid.matches(*start))
            .find_map(|(_, snap)| snap.iter().find(|(m, _)| m.contains(addr)).map(|(m, k)| (m, *k)))
    }

    /// The newest snapshot of a process's executable mappings, each with its binary and a
    /// path that opens it (for building unwind tables).
    pub fn latest(&self, tgid: u32) -> Vec<MappingInfo> {
        let Some((_, snap)) = self.snapshots.get(&tgid).and_then(|l| l.last()) else {
            return Vec::new();
        };
        snap.iter()
            .map(|(m, key)| MappingInfo {
                start: m.start,
                end: m.end,
                offset: m.offset,
                binary: key.and_then(|k| self.binaries.get(&k).map(|b| (k, b.descriptor_path()))),
                module: m.module_name(),
            })
            .collect()
    }

    /// An open binary.
    pub fn binary(&self, key: BinaryKey) -> Option<&Binary> {
        self.binaries.get(&key)
    }

    /// Number of processes captured.
    pub fn len(&self) -> usize {
        self.snapshots.len()
    }

    /// True when no process was captured.
    pub fn is_empty(&self) -> bool {
        self.snapshots.is_empty()
    }
}

/// Opens the file behind a mapping: through `/proc/PID/map_files/` (works for deleted files and
/// other mount namespaces), else through its path inside the process's root (never outside it,
/// see [`in_root`]), keeping it only if it is the mapped inode.
fn open_binary(tgid: u32, tid: u32, m: &Mapping, key: BinaryKey) -> Option<Binary> {
    let is_mapped = |file: &File| file.metadata().is_ok_and(|meta| meta.dev() == key.dev && meta.ino() == key.inode);
    // Only the process has `map_files/` (its task directories do not): while its leader is a
    // zombie this fails and the path is tried.
    let via_map_files = File::open(format!("/proc/{tgid}/map_files/{:x}-{:x}", m.start, m.end)).ok().filter(is_mapped);
    let file = via_map_files.or_else(|| {
        let root = in_root::ProcessRoot::open(tgid, tid).ok()?;
        root.open_file(m.path.trim_end_matches(" (deleted)"), false).ok().filter(is_mapped)
    })?;
    Some(Binary { stamp: stamp::Stamp::of(&file), file, path: m.path.clone(), module: m.module_name() })
}

/// Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat).
pub fn start_time(tgid: u32) -> Option<u64> {
    parse_start_time(&std::fs::read_to_string(format!("/proc/{tgid}/stat")).ok()?)
}

/// The start time (field 22) in the text of a `/proc/PID/stat` file.
fn parse_start_time(stat: &str) -> Option<u64> {
    // comm (field 2) may contain spaces and parentheses: count fields after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A capture told the start time and namespace pid by the kernel takes them as given
    /// (a namespace pid of `Same` is none), and the kernel's 0 means not known.
    #[test]
    fn capture_known_takes_the_kernels_identity() {
        let me = std::process::id();
        let mut table = ProcessTable::default();
        let known = Known { start_time: Some(12_345), ns_pid: NsPid::Nested(7) };
        assert!(table.capture_known(me, me, known));
        assert_eq!((table.instance(me).start, table.ns_pid(me)), (12_345, Some(7)));
        let mut table = ProcessTable::default();
        assert!(table.capture_known(me, me, Known { start_time: None, ns_pid: NsPid::Same }));
        assert_eq!((Some(table.instance(me).start), table.ns_pid(me)), (start_time(me), None));
        assert_eq!(NsPid::from_kernel(40, 0), NsPid::Unknown);
        assert_eq!(NsPid::from_kernel(40, 40), NsPid::Same);
        assert_eq!(NsPid::from_kernel(40, 1), NsPid::Nested(1));
    }

    /// Code mapped after a process was captured is found by a refresh (a new snapshot); an
    /// address no mapping holds costs one re-read once the interval has passed, then none.
    #[test]
    fn process_refresh_captures_code_mapped_later() {
        let me = std::process::id();
        let mut table = ProcessTable::default();
        assert!(table.capture(me, me));
        let pid = table.instance(me);
        // SAFETY: a new private anonymous mapping, used by nothing else and unmapped below.
        let page = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_EXEC,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(page, libc::MAP_FAILED);
        let addr = page as u64 + 16;
        let t0 = Instant::now();
        assert!(table.find(pid, addr).is_none());
        assert_eq!(table.refresh(pid, me, &[addr], t0), Refresh::NewMappings);
        assert!(table.find(pid, addr).is_some());
        assert_eq!(table.refresh(pid, me, &[addr], t0 + refresh::MIN_INTERVAL), Refresh::NotNeeded, "placed now");
        // Nothing is mapped at 0x10: within the interval no re-read, after it one, then never.
        let stray = 0x10;
        assert_eq!(table.refresh(pid, me, &[stray], t0), Refresh::NotNeeded);
        assert_ne!(table.refresh(pid, me, &[stray], t0 + refresh::MIN_INTERVAL), Refresh::NotNeeded);
        assert_eq!(table.refresh(pid, me, &[stray], t0 + refresh::MIN_INTERVAL * 5), Refresh::NotNeeded);
        // A process never captured is not read.
        assert_eq!(ProcessTable::default().refresh(pid, me, &[stray], t0), Refresh::NotNeeded);
        // SAFETY: the mapping made above, not used after this.
        assert_eq!(unsafe { libc::munmap(page, 4096) }, 0);
    }
}
