//! Building the profile: the aggregated counts' addresses are symbolized in one batch per
//! process (and one for the kernel), then every stack becomes frames of a [`Profile`].

use std::collections::{HashMap, HashSet};

use super::{python, Frames, Symbolizer};
use crate::aggregate::{Aggregator, Key};
use crate::process::{ProcessId, ProcessTable};
use crate::profile::unwind::{is_entry_point, UnwindStatus};
use crate::profile::{
    Cgroup, Frame, Metadata, Profile, ProfileBuilder, SampleOwner, EXITED_PREFIX, MISSING_KERNEL_STACK,
    MISSING_USER_STACK,
};
use crate::sample::StackRef;

/// Symbolizes every stack of `counts` and builds the profile: user frames (outermost first) then
/// kernel frames, under an `[off-cpu: <reason>]` frame for off-CPU time; lost stacks become
/// placeholder frames so their samples stay counted. The user
/// stack of a process that exited before its mappings could be read (none of its frames named)
/// becomes one `[exited] <comm>` placeholder frame ([`EXITED_PREFIX`]), not a row of unknown
/// addresses. The per-binary unwind report of `meta` is filled in from the stacks' leaf and
/// outermost binaries. Counts are told apart by process start time as well as PID, so a later
/// process under the same PID is never named from an earlier one's mappings.
pub fn build_profile(
    counts: &Aggregator,
    symbolizer: &mut Symbolizer,
    procs: &mut ProcessTable,
    meta: Metadata,
) -> Profile {
    // Unique addresses, symbolized in one batch per process (and one for the kernel).
    let mut kernel_addrs: HashSet<u64> = HashSet::new();
    let mut user_addrs: HashMap<ProcessId, HashSet<u64>> = HashMap::new();
    for (key, _) in counts.counts() {
        if let StackRef::Frames(ips) = &key.kernel {
            kernel_addrs.extend(ips.iter().enumerate().map(|(i, &a)| lookup_addr(i, a)));
        }
        if let StackRef::Frames(ips) = &key.user {
            user_addrs
                .entry(process_of(key))
                .or_default()
                .extend(ips.iter().enumerate().map(|(i, &a)| lookup_addr(i, a)));
        }
    }
    let kernel_addrs: Vec<u64> = kernel_addrs.into_iter().collect();
    let mut per_process: Vec<(ProcessId, Vec<u64>)> =
        user_addrs.into_iter().map(|(pid, addrs)| (pid, addrs.into_iter().collect())).collect();
    per_process.sort_unstable_by_key(|(pid, _)| *pid);
    let found = symbolizer.symbolize_all(procs, &kernel_addrs, &per_process);
    // Processes gone before their mappings could be read (symbolization tried once more).
    let exited: HashSet<ProcessId> = per_process.iter().map(|(pid, _)| *pid).filter(|&p| !procs.knows(p)).collect();
    let kernel_frames: HashMap<u64, Frames> = kernel_addrs.iter().copied().zip(found.kernel).collect();
    let mut user_frames: HashMap<(ProcessId, u64), Frames> = HashMap::new();
    for ((pid, addrs), frames) in per_process.iter().zip(found.user) {
        for (addr, f) in addrs.iter().zip(frames) {
            user_frames.insert((*pid, *addr), f);
        }
    }

    let mut builder = ProfileBuilder::new(meta);
    // Deterministic frame/stack numbering: visit keys in a stable order.
    let mut keys: Vec<(&Key, u64)> = counts.counts().collect();
    keys.sort_by(|a, b| (a.0.tgid, &a.0.comm).cmp(&(b.0.tgid, &b.0.comm)).then(b.1.cmp(&a.1)));
    // The per-binary unwind report: leaf binary, and the binary where the walk ended.
    let mut unwind = std::mem::take(&mut builder.meta_mut().unwind);
    for &(key, count) in &keys {
        if let StackRef::Frames(ips) = &key.user {
            let frames = |i: usize| user_frames.get(&(process_of(key), lookup_addr(i, ips[i])));
            let module = |i: usize| frames(i).and_then(|f| f.last()).map_or("[unknown]", |f| f.module.as_str());
            if let Some(outermost) = ips.len().checked_sub(1) {
                let symbolized = frames(0).is_some_and(Frames::is_resolved);
                // The kernel's frame-pointer walker says nothing of how a walk ended: a stack
                // whose outermost function is an entry point was walked to its start.
                let status = match key.unwind {
                    UnwindStatus::KernelFp
                        if frames(outermost).and_then(|f| f.first()).is_some_and(|f| is_entry_point(&f.name)) =>
                    {
                        UnwindStatus::Complete
                    }
                    status => status,
                };
                unwind.add(module(0), symbolized, module(outermost), status, count);
            }
        }
    }
    builder.meta_mut().unwind = unwind;
    let cgroups = cgroups_of(&keys, procs);
    for (key, count) in keys {
        let mut stack = Vec::new();
        // Off-CPU time is marked by why the thread waited, at the root of its stack.
        if let Some(state) = key.state {
            stack.push(builder.frame(Frame::placeholder(state.marker())));
        }
        let user_frame = |a| user_frames.get(&(process_of(key), a));
        let python = match &key.python {
            StackRef::Frames(words) => symbolizer.python().frames(process_of(key), words),
            _ => Vec::new(),
        };
        match &key.user {
            StackRef::Frames(ips) if exited.contains(&process_of(key)) && !any_resolved(ips, user_frame) => {
                stack.push(builder.frame(Frame::placeholder(format!("{EXITED_PREFIX}{}", key.comm))));
                push_merged(&mut builder, &mut stack, &[], python);
            }
            StackRef::Frames(ips) if !python.is_empty() => {
                let native: Vec<Vec<Frame>> = ips
                    .iter()
                    .enumerate()
                    .map(|(i, &a)| user_frame(lookup_addr(i, a)).map(|f| f.to_vec()).unwrap_or_default())
                    .collect();
                push_merged(&mut builder, &mut stack, &native, python);
            }
            _ => {
                push_merged(&mut builder, &mut stack, &[], python);
                push_stack(&mut builder, &mut stack, &key.user, MISSING_USER_STACK, user_frame);
            }
        }
        push_stack(&mut builder, &mut stack, &key.kernel, MISSING_KERNEL_STACK, |a| kernel_frames.get(&a));
        let id = builder.stack(stack);
        let owner = SampleOwner { pid: key.tgid, tid: key.tid, comm: &key.comm, cgroup: cgroups.get(&key.cgroup) };
        builder.add_owned(id, owner, count);
    }
    builder.finish()
}

/// The cgroup of each id the counts carry, with its path when known (0, no cgroup id, is left
/// out).
fn cgroups_of(keys: &[(&Key, u64)], procs: &mut ProcessTable) -> HashMap<u64, Cgroup> {
    let now = std::time::Instant::now();
    let mut out = HashMap::new();
    for (key, _) in keys {
        if key.cgroup != 0 && !out.contains_key(&key.cgroup) {
            let path = procs.cgroups.path(key.cgroup, now).unwrap_or_default().to_string();
            out.insert(key.cgroup, Cgroup { id: key.cgroup, path });
        }
    }
    out
}

/// Pushes a native user stack (innermost first, each address's frames) with the Python
/// frames merged in where the interpreter evaluates them ([`python::merge`]).
fn push_merged(builder: &mut ProfileBuilder, stack: &mut Vec<u32>, native: &[Vec<Frame>], py: Vec<(Frame, bool)>) {
    if native.is_empty() && py.is_empty() {
        return;
    }
    let is_eval: Vec<bool> =
        native.iter().map(|frames| frames.iter().any(|f| f.name == python::EVAL_FUNCTION)).collect();
    for frame in python::merge(native, &is_eval, py) {
        stack.push(builder.frame(frame));
    }
}

/// The process a count belongs to.
fn process_of(key: &Key) -> ProcessId {
    ProcessId { tgid: key.tgid, start: key.start }
}

/// True when any frame of a user stack was symbolized (e.g. JIT code of an exited process,
/// named by its perf map).
fn any_resolved<'a>(ips: &[u64], frames_of: impl Fn(u64) -> Option<&'a Frames>) -> bool {
    ips.iter().enumerate().any(|(i, &a)| frames_of(lookup_addr(i, a)).is_some_and(Frames::is_resolved))
}

/// The address to symbolize for the `i`-th frame (innermost first): return addresses point after
/// the call, so every frame but the interrupted one is looked up one byte earlier, inside the
/// call instruction (right function, right inline chain, right line). This is also the address
/// an unresolved frame's `module+0xoffset` shows, whichever walker (the kernel's frame-pointer
/// walker or prof's table walker) recorded the stack: `addr2line` on it names the call (README,
/// "Frame names").
fn lookup_addr(i: usize, addr: u64) -> u64 {
    if i == 0 {
        addr
    } else {
        addr.saturating_sub(1)
    }
}

fn push_stack<'a>(
    builder: &mut ProfileBuilder,
    stack: &mut Vec<u32>,
    sref: &StackRef,
    missing: &str,
    frames_of: impl Fn(u64) -> Option<&'a Frames>,
) {
    match sref {
        StackRef::Empty => {}
        StackRef::Missing(_) => stack.push(builder.frame(Frame::placeholder(missing))),
        StackRef::Frames(ips) => {
            for (i, &addr) in ips.iter().enumerate().rev() {
                if let Some(frames) = frames_of(lookup_addr(i, addr)) {
                    for f in frames.iter() {
                        stack.push(builder.frame(f.clone()));
                    }
                }
            }
        }
    }
}
