//! The in-memory profile model, the ground every stage stands on: symbolization builds it from
//! the aggregated counts, the output writers and the archive read it, `prof report` rebuilds it
//! from files, the store merges it, diff compares two. It also holds the per-binary
//! [`unwind`] report and the vocabulary of walks ([`unwind::UnwindMode`],
//! [`unwind::UnwindStatus`]) that sampling produces and archives store.
//!
//! A [`Profile`] is a deduplicated frame table, stacks as lists of frame indices (outermost first,
//! user frames then kernel frames), and counts per (stack, pid, thread, comm, cgroup), plus [`Metadata`] that says
//! how it was recorded (the [`EventKind`] sampled, among the rest) and what was lost.

pub mod cgroup;
mod event;
pub mod filter;
mod metadata;
pub mod python;
pub mod unwind;

pub use cgroup::{Cgroup, CgroupGrouping};
pub use event::{EventKind, Measure, SampledEvent, ThreadState};
pub use filter::{FilterError, SampleFilter};
pub use metadata::{format_unix_ns, lost_samples, unix_ns, LossReason, Losses, Metadata, WeightUnit};

use rustc_hash::FxHashMap as HashMap;
use std::collections::hash_map::Entry;

/// Name of the placeholder frame that keeps the samples whose user stack was lost.
pub const MISSING_USER_STACK: &str = "[missing user stack]";
/// Name of the placeholder frame that keeps the samples whose kernel stack was lost.
pub const MISSING_KERNEL_STACK: &str = "[missing kernel stack]";

/// Start of the placeholder frame (`[exited] <comm>`) that keeps the samples of a process that
/// exited before its mappings could be read: its user addresses cannot be named, its thread name
/// is known.
pub const EXITED_PREFIX: &str = "[exited] ";

/// Module of Python frames: a CPython function, named `qualname (file.py:line)` like py-spy
/// names them (see [`Frame::python`]).
pub const PYTHON_MODULE: &str = "[python]";

/// Name of a Python frame whose code object could not be read (the process was gone, or the
/// address held no code object).
pub const UNKNOWN_PYTHON: &str = "[unknown python function]";

/// Where a frame's code lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FrameKind {
    /// User-space code (executables, shared libraries, JIT code).
    User,
    /// Kernel code.
    Kernel,
    /// Not code: a placeholder such as `[missing user stack]` that keeps a lost stack's samples.
    Placeholder,
}

/// One frame of a stack: a function (or inlined function) in a module.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Frame {
    /// Demangled function name, or `module+0xoffset` when it could not be symbolized.
    pub name: String,
    /// File name of the binary (`libc.so.6`, `[kernel.kallsyms]`, `[jit]`), empty when unknown.
    pub module: String,
    /// User, kernel or placeholder.
    pub kind: FrameKind,
    /// True for a function inlined into the frame above it (outer side).
    pub inlined: bool,
    /// Source file, when debug info knows it.
    pub file: Option<String>,
    /// Source line, when debug info knows it.
    pub line: Option<u32>,
}

impl Frame {
    /// A user or kernel frame with a name and module and no source location.
    pub fn new(name: impl Into<String>, module: impl Into<String>, kind: FrameKind) -> Self {
        Frame { name: name.into(), module: module.into(), kind, inlined: false, file: None, line: None }
    }

    /// A placeholder frame such as `[missing user stack]`.
    pub fn placeholder(name: impl Into<String>) -> Self {
        Frame::new(name, "", FrameKind::Placeholder)
    }

    /// A Python function's frame: named `qualname (file:line)` with the file shortened as
    /// [`short_python_path`] does (the name is what folded lines and flame graphs show), in
    /// [`PYTHON_MODULE`], with the whole file name and the line kept.
    pub fn python(qualname: &str, file: &str, line: u32) -> Self {
        let name = format!("{qualname} ({}:{line})", short_python_path(file));
        Frame { file: Some(file.to_string()), line: Some(line), ..Frame::new(name, PYTHON_MODULE, FrameKind::User) }
    }

    /// True for a Python function's frame.
    pub fn is_python(&self) -> bool {
        self.module == PYTHON_MODULE && self.kind == FrameKind::User
    }

    /// The frame a folded name stands for when it has a Python frame's form,
    /// `qualname (file.py:line)` (prof's and py-spy's): a Python frame with that file and line;
    /// [`UNKNOWN_PYTHON`] too, without them.
    pub fn from_python_label(name: &str) -> Option<Frame> {
        if name == UNKNOWN_PYTHON {
            return Some(Frame::new(name, PYTHON_MODULE, FrameKind::User));
        }
        let inner = name.strip_suffix(')')?;
        let (_, location) = inner.rsplit_once(" (")?;
        let (file, line) = location.rsplit_once(':')?;
        if !file.ends_with(".py") || line.is_empty() || !line.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let line = line.parse().ok()?;
        Some(Frame {
            file: Some(file.to_string()),
            line: Some(line),
            ..Frame::new(name, PYTHON_MODULE, FrameKind::User)
        })
    }
}

/// A Python file name as frame names show it: the part after the standard library's
/// directory (`/usr/lib/python3.11/json/encoder.py` → `json/encoder.py`) or after
/// `site-packages/` or `dist-packages/`; other paths whole.
pub fn short_python_path(file: &str) -> &str {
    for marker in ["/site-packages/", "/dist-packages/"] {
        if let Some((_, rest)) = file.rsplit_once(marker) {
            return rest;
        }
    }
    if let Some(i) = file.find("/lib/python3.") {
        let after = &file[i + "/lib/python3.".len()..];
        if let Some((version, rest)) = after.split_once('/') {
            if version.bytes().all(|b| b.is_ascii_digit()) && !version.is_empty() {
                return rest;
            }
        }
    }
    file
}

/// Index into [`Profile::frames`].
pub type FrameId = u32;
/// Index into [`Profile::stacks`].
pub type StackId = u32;

/// Samples of one stack in one process (and thread name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Index into [`Profile::stacks`].
    pub stack: StackId,
    /// Process id (tgid); 0 for the idle task, and for profiles read from folded files.
    pub pid: u32,
    /// Thread id; 0 when not known (folded input, archives written before prof recorded
    /// threads) and for the idle task.
    pub tid: u32,
    /// Thread name (`comm`) at the time of the sample.
    pub comm: String,
    /// Index into [`Profile::cgroups`]; None when not known (folded input, archives and
    /// pprof files written before prof recorded cgroups).
    pub cgroup: Option<u32>,
    /// Number of samples.
    pub count: u64,
}

impl Sample {
    /// True for the idle task's samples, as `prof record --no-idle` drops them: pid 0, named
    /// `swapper/N` (folded input has pid 0 on every sample, but not that name).
    pub fn is_idle(&self) -> bool {
        self.pid == 0 && self.comm.starts_with("swapper")
    }
}

/// A profile: frames, stacks, sample counts and metadata.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profile {
    /// How the profile was recorded and what was lost.
    pub meta: Metadata,
    /// Deduplicated frames.
    pub frames: Vec<Frame>,
    /// Deduplicated stacks, each a list of frame indices, outermost first.
    pub stacks: Vec<Vec<FrameId>>,
    /// Counts per (stack, pid, tid, comm, cgroup); at most one entry for each.
    pub samples: Vec<Sample>,
    /// Deduplicated cgroups the samples were taken in ([`Sample::cgroup`]).
    pub cgroups: Vec<Cgroup>,
    /// Per pid of the samples: its pid in its own pid namespace (a process in a container),
    /// where that differs; processes not listed are in the recorder's pid namespace (or were
    /// not looked at).
    pub ns_pids: std::collections::BTreeMap<u32, u32>,
}

impl Profile {
    /// Sum of all sample counts (saturating).
    pub fn total(&self) -> u64 {
        self.samples.iter().fold(0u64, |sum, s| sum.saturating_add(s.count))
    }

    /// The frames of a stack, outermost first.
    pub fn stack_frames(&self, stack: StackId) -> impl DoubleEndedIterator<Item = &Frame> + '_ {
        self.stacks[stack as usize].iter().map(|&f| &self.frames[f as usize])
    }

    /// Process `pid`'s pid in its own pid namespace, when known and different from `pid`.
    pub fn ns_pid_of(&self, pid: u32) -> Option<u32> {
        self.ns_pids.get(&pid).copied().filter(|&n| n != pid)
    }

    /// The cgroup of a sample, when known.
    pub fn cgroup_of(&self, sample: &Sample) -> Option<&Cgroup> {
        sample.cgroup.and_then(|i| self.cgroups.get(i as usize))
    }

    /// Who a sample's count belongs to, to add it to another profile.
    pub fn owner<'a>(&'a self, sample: &'a Sample) -> SampleOwner<'a> {
        SampleOwner { pid: sample.pid, tid: sample.tid, comm: &sample.comm, cgroup: self.cgroup_of(sample) }
    }
}

/// Who a sample's count belongs to: process, thread, name and cgroup.
#[derive(Clone, Copy, Debug)]
pub struct SampleOwner<'a> {
    /// Process id.
    pub pid: u32,
    /// Thread id (0: not known).
    pub tid: u32,
    /// Thread name.
    pub comm: &'a str,
    /// The cgroup, when known.
    pub cgroup: Option<&'a Cgroup>,
}

/// Builds a [`Profile`] while deduplicating frames, stacks and (stack, pid, comm) samples.
#[derive(Debug, Default)]
pub struct ProfileBuilder {
    profile: Profile,
    frame_ids: HashMap<Frame, FrameId>,
    /// Stacks live here until [`ProfileBuilder::finish`] (one copy of each, not two).
    stack_ids: HashMap<Vec<FrameId>, StackId>,
    comm_ids: HashMap<String, u32>,
    cgroup_ids: HashMap<Cgroup, u32>,
    sample_ids: HashMap<(StackId, u32, u32, u32, Option<u32>), usize>,
}

impl ProfileBuilder {
    /// Starts an empty profile with the given metadata.
    pub fn new(meta: Metadata) -> Self {
        ProfileBuilder { profile: Profile { meta, ..Profile::default() }, ..Default::default() }
    }

    /// Interns a frame and returns its index.
    pub fn frame(&mut self, frame: Frame) -> FrameId {
        if let Some(&id) = self.frame_ids.get(&frame) {
            return id;
        }
        let id = self.profile.frames.len() as FrameId;
        self.profile.frames.push(frame.clone());
        self.frame_ids.insert(frame, id);
        id
    }

    /// Interns a stack (frame indices, outermost first) and returns its index.
    pub fn stack(&mut self, frames: Vec<FrameId>) -> StackId {
        let next = self.stack_ids.len() as StackId;
        *self.stack_ids.entry(frames).or_insert(next)
    }

    /// Adds `count` samples of `stack` in process `pid` named `comm` (saturating on overflow),
    /// thread not known.
    pub fn add(&mut self, stack: StackId, pid: u32, comm: &str, count: u64) {
        self.add_thread(stack, pid, 0, comm, count)
    }

    /// Adds `count` samples of `stack` in thread `tid` of process `pid` named `comm`
    /// (saturating on overflow).
    pub fn add_thread(&mut self, stack: StackId, pid: u32, tid: u32, comm: &str, count: u64) {
        self.add_owned(stack, SampleOwner { pid, tid, comm, cgroup: None }, count)
    }

    /// Adds `count` samples of `stack` owned by `owner` (saturating on overflow).
    pub fn add_owned(&mut self, stack: StackId, owner: SampleOwner<'_>, count: u64) {
        let SampleOwner { pid, tid, comm, cgroup } = owner;
        let cgroup = cgroup.map(|c| match self.cgroup_ids.get(c) {
            Some(&id) => id,
            None => {
                let id = self.profile.cgroups.len() as u32;
                self.profile.cgroups.push(c.clone());
                self.cgroup_ids.insert(c.clone(), id);
                id
            }
        });
        let comm_id = match self.comm_ids.get(comm) {
            Some(&id) => id,
            None => {
                let id = self.comm_ids.len() as u32;
                self.comm_ids.insert(comm.to_string(), id);
                id
            }
        };
        match self.sample_ids.entry((stack, pid, tid, comm_id, cgroup)) {
            Entry::Occupied(i) => {
                let s = &mut self.profile.samples[*i.get()];
                s.count = s.count.saturating_add(count);
            }
            Entry::Vacant(slot) => {
                slot.insert(self.profile.samples.len());
                self.profile.samples.push(Sample { stack, pid, tid, comm: comm.to_string(), cgroup, count });
            }
        }
    }

    /// Adds every sample of `other` (re-interning its frames and stacks). Metadata is not merged.
    pub fn merge(&mut self, other: &Profile) {
        // Most frames and stacks of a merged archive are known already: look them up by
        // reference, and copy only the new ones.
        let frame_map: Vec<FrameId> = other
            .frames
            .iter()
            .map(|f| match self.frame_ids.get(f) {
                Some(&id) => id,
                None => self.frame(f.clone()),
            })
            .collect();
        let mut ids = Vec::new();
        let stack_map: Vec<StackId> = other
            .stacks
            .iter()
            .map(|s| {
                ids.clear();
                ids.extend(s.iter().map(|&f| frame_map[f as usize]));
                match self.stack_ids.get(ids.as_slice()) {
                    Some(&id) => id,
                    None => self.stack(ids.clone()),
                }
            })
            .collect();
        for s in &other.samples {
            self.add_owned(stack_map[s.stack as usize], other.owner(s), s.count);
        }
        self.profile.ns_pids.extend(&other.ns_pids);
    }

    /// Records that process `pid` is `ns_pid` in its own pid namespace.
    pub fn ns_pid(&mut self, pid: u32, ns_pid: u32) {
        self.profile.ns_pids.insert(pid, ns_pid);
    }

    /// Frames, stacks and samples so far (each interned once).
    pub fn counts(&self) -> (usize, usize, usize) {
        (self.profile.frames.len(), self.stack_ids.len(), self.profile.samples.len())
    }

    /// Mutable access to the metadata being built.
    pub fn meta_mut(&mut self) -> &mut Metadata {
        &mut self.profile.meta
    }

    /// Finishes the profile.
    pub fn finish(self) -> Profile {
        let mut profile = self.profile;
        // Ids are dense (0..len), so each stack goes straight to its place.
        profile.stacks = vec![Vec::new(); self.stack_ids.len()];
        for (stack, id) in self.stack_ids {
            profile.stacks[id as usize] = stack;
        }
        profile
    }
}
