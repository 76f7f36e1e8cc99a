//! Draining while sampling continues: flipping the generation, reading and deleting the old
//! generation's counts in batches, sweeping new stacks into the userspace store, and turning
//! the kernel's keys into [`RawCount`]s.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use libbpf_rs::{MapCore, MapFlags};

use super::error::bpf_err;
use super::skel::types;
use super::{RawCount, SampleError, Sampler, StackRef, MAX_STACK_DEPTH};
use crate::profile::unwind::UnwindStatus;
use crate::profile::{LossReason, ThreadState};

/// Counts read per syscall when draining (at 999 Hz on 2 CPUs a drain reads ~2,000; one
/// syscall per key cost ~10 ms of CPU a second).
const DRAIN_BATCH: u32 = 1024;

/// Stacks read per syscall when sweeping the stack map: as many as the last drain swept, within
/// these bounds. Each read takes buffers zeroed for the whole batch (a stack is ~1 KiB): 1,024
/// always made every drain zero two fresh megabytes, half of prof's steady CPU under two
/// syscall loops at 99 Hz, while 64 always made a drain at 999 Hz with 5,000 distinct stacks
/// cost a third more than 1,024 did.
const STACK_BATCH: std::ops::RangeInclusive<u32> = 64..=1024;

/// Deletes `keys` from `map` in one syscall, or one by one if the batch fails.
fn delete_keys<M: MapCore>(map: &M, keys: &[Vec<u8>]) -> Result<(), libbpf_rs::Error> {
    if keys.is_empty() {
        return Ok(());
    }
    if map.delete_batch(&keys.concat(), keys.len() as u32, MapFlags::ANY, MapFlags::ANY).is_ok() {
        return Ok(());
    }
    for k in keys {
        match map.delete(k) {
            Err(e) if e.kind() != libbpf_rs::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// How long to wait after flipping the drain generation before reading the old one. A BPF
/// program runs for microseconds in interrupt context, so any sample that read the old
/// generation has finished long before this.
const GEN_FLIP_GRACE: Duration = Duration::from_millis(2);

impl Sampler {
    /// Drains the counts of the current generation while sampling continues: flips the
    /// generation, waits for in-flight samples, then reads and deletes every count of the old
    /// one. Nothing is lost or counted twice.
    pub fn drain(&mut self) -> Result<Vec<RawCount>, SampleError> {
        let gen = self.programs.generation().ok_or_else(|| SampleError::Bpf {
            context: "the BPF object has no .bss".into(),
            source: libbpf_rs::Error::from(std::io::Error::other("missing .bss")),
        })?;
        let old = *gen;
        // SAFETY: `bss` is the skeleton's mmap of the program's .bss, valid and aligned for as
        // long as the skeleton lives; a volatile store makes the flip visible to the next sample
        // (the grace period below covers samples already running).
        unsafe { std::ptr::write_volatile(gen, old ^ 1) };
        std::thread::sleep(GEN_FLIP_GRACE);
        // Mapping slots given up before the grace period are no longer read by any sample.
        for (first, n) in std::mem::take(&mut self.slots_to_free) {
            self.mapping_slots.release(first, n);
        }
        self.drain_generation(Some(old))
    }

    /// Stops sampling (detaches every perf event) and drains everything left.
    pub fn stop(&mut self) -> Result<Vec<RawCount>, SampleError> {
        // Destroying a link disables and closes its perf event.
        self.per_cpu.detach_all();
        self.switch_link = None;
        std::thread::sleep(GEN_FLIP_GRACE);
        if let Some(rb) = self.ringbuf.as_ref() {
            let _ = rb.consume();
        }
        self.drain_generation(None)
    }

    fn drain_generation(&mut self, gen: Option<u32>) -> Result<Vec<RawCount>, SampleError> {
        let counts = self.programs.counts();
        let drains = |key: &types::prof_sample_key| gen.is_none_or(|g| key.gen == g);
        let count_of =
            |value: &[u8]| value.get(..8).map(|b| u64::from_ne_bytes(b.try_into().unwrap_or([0; 8]))).unwrap_or(0);
        // Most entries in a few syscalls: read everything in batches, delete the drained
        // generation's keys in one call (its values are final: no sample increments it any more).
        let mut drained = Vec::new();
        let mut drained_keys = Vec::new();
        let batch = counts
            .lookup_batch(DRAIN_BATCH, MapFlags::ANY, MapFlags::ANY)
            .map_err(bpf_err("failed to read the counts map"))?;
        for (raw_key, value) in batch {
            let mut key = types::prof_sample_key::default();
            if plain::copy_from_bytes(&mut key, &raw_key).is_ok() && drains(&key) {
                drained.push((key, count_of(&value)));
                drained_keys.push(raw_key);
            }
        }
        delete_keys(counts, &drained_keys).map_err(bpf_err("failed to drain the counts map"))?;
        // A batch read of a map that samples insert into can pass over entries; a key of the
        // drained generation left behind would be drained two drains late, after its stacks
        // left the userspace store. What is left is few: drain it key by key.
        let left: HashSet<Vec<u8>> = counts.keys().collect();
        for raw_key in left {
            let mut key = types::prof_sample_key::default();
            if plain::copy_from_bytes(&mut key, &raw_key).is_err() || !drains(&key) {
                continue;
            }
            let Some(value) = counts.lookup_and_delete(&raw_key).map_err(bpf_err("failed to drain the counts map"))?
            else {
                continue;
            };
            drained.push((key, count_of(&value)));
        }
        self.sweep_stacks()?;

        let mut out = Vec::with_capacity(drained.len());
        for (key, count) in drained {
            let user = self.resolve_stack(key.user_status, key.user_stack, true);
            let kernel = self.resolve_stack(key.kernel_status, key.kernel_stack, false);
            let unwind = unwind_status(key.unwind_status);
            let start = clock_ticks(key.start_time);
            let comm = comm_string(&key.comm);
            let state = thread_state(key.kind);
            let python = self.resolve_python(key.python_status, key.python_stack);
            out.push(self.weighed(RawCount {
                tgid: key.tgid,
                start,
                tid: key.tid,
                cgroup: key.cgroup_id,
                comm,
                user,
                kernel,
                count,
                unwind,
                state,
                python,
            }));
        }
        self.pin_pending_stacks();
        self.stacks_prev = std::mem::take(&mut self.stacks);
        Ok(out)
    }

    /// A count as the profile weighs it: with `--wall`, an on-CPU sample (drained, or handed
    /// over and finished in userspace) is a sampling period of running, under `[on-cpu]`.
    pub fn weighed(&self, mut count: RawCount) -> RawCount {
        if let (None, Some(period)) = (count.state, self.wall_period_ns) {
            count.state = Some(ThreadState::OnCpu);
            count.count = count.count.saturating_mul(period);
        }
        count
    }

    /// Off-CPU: keeps the stacks of threads still off the CPU. Their time is counted when they
    /// run again, any number of drains after their stacks were swept, so a stack a pending
    /// thread names stays in the userspace store while it does (the last drain's pins and the
    /// one before cover a thread that ran again while this one read the map).
    fn pin_pending_stacks(&mut self) {
        if !self.off_cpu {
            return;
        }
        let map = self.programs.offcpu_start();
        let mut pinned = HashMap::new();
        let mut entries: Vec<Vec<u8>> = Vec::new();
        if let Ok(batch) = map.lookup_batch(DRAIN_BATCH, MapFlags::ANY, MapFlags::ANY) {
            entries.extend(batch.map(|(_, value)| value));
        }
        for value in entries {
            let mut rec = types::prof_offcpu_start::default();
            if plain::copy_from_bytes(&mut rec, &value).is_err() {
                continue;
            }
            for (status, hash) in
                [(rec.key.user_status, rec.key.user_stack), (rec.key.kernel_status, rec.key.kernel_stack)]
            {
                if status != types::prof_stack_status::PROF_STACK_OK.0 as u8 {
                    continue;
                }
                if let Some(ips) = self.known_stack(hash) {
                    pinned.insert(hash, ips);
                }
            }
        }
        self.pinned_prev = std::mem::replace(&mut self.pinned, pinned);
    }

    /// A stack of the userspace store: swept in this drain or the one before, or pinned.
    fn known_stack(&self, hash: u64) -> Option<Arc<[u64]>> {
        [&self.stacks, &self.stacks_prev, &self.pinned, &self.pinned_prev]
            .into_iter()
            .find_map(|m| m.get(&hash))
            .cloned()
    }

    /// Copies new stacks into the userspace store and deletes them from the kernel's, so the
    /// kernel map only ever holds the stacks first seen since the last drain. Read and deleted
    /// in batches (one syscall per key cost ~3 syscalls per new stack, most of prof's steady CPU
    /// on workloads with many distinct stacks); what a batch read passed over (stacks stored
    /// meanwhile) is read key by key after.
    fn sweep_stacks(&mut self) -> Result<(), SampleError> {
        let swept_last = u32::try_from(self.stacks_prev.len()).unwrap_or(u32::MAX);
        let per_read = swept_last.saturating_add(1).next_power_of_two().clamp(*STACK_BATCH.start(), *STACK_BATCH.end());
        let batch: Vec<(Vec<u8>, Vec<u8>)> = self
            .programs
            .stacks()
            .lookup_batch(per_read, MapFlags::ANY, MapFlags::ANY)
            .map_err(bpf_err("failed to read the stack map"))?
            .collect();
        self.store_and_delete_stacks(batch)?;
        let map = self.programs.stacks();
        let mut left = Vec::new();
        for raw_key in map.keys() {
            if let Some(value) = map.lookup(&raw_key, MapFlags::ANY).map_err(bpf_err("failed to read the stack map"))? {
                left.push((raw_key, value));
            }
        }
        self.store_and_delete_stacks(left)
    }

    /// Copies stacks read from the kernel's map into the userspace store, then deletes them
    /// from the map: a count that names their hashes later resolves from the store.
    fn store_and_delete_stacks(&mut self, stacks: Vec<(Vec<u8>, Vec<u8>)>) -> Result<(), SampleError> {
        let mut swept = Vec::with_capacity(stacks.len());
        for (raw_key, value) in stacks {
            self.store_stack(&raw_key, &value);
            swept.push(raw_key);
        }
        delete_keys(self.programs.stacks(), &swept).map_err(bpf_err("failed to sweep the stack map"))
    }

    /// Copies one stack of the kernel's map (key: its hash) into the userspace store; a
    /// different stack under a hash already stored is a collision, counted as a loss.
    fn store_stack(&mut self, raw_key: &[u8], value: &[u8]) {
        let mut st = types::prof_stack::default();
        if plain::copy_from_bytes(&mut st, value).is_err() {
            return;
        }
        let hash = u64::from_ne_bytes(raw_key.try_into().unwrap_or([0; 8]));
        let len = (st.len as usize).min(MAX_STACK_DEPTH);
        let ips = &st.ips[..len];
        match self.stacks.get(&hash).or_else(|| self.stacks_prev.get(&hash)) {
            Some(known) if known.as_ref() != ips => {
                *self.userspace_losses.entry(LossReason::StackHashCollision).or_default() += 1
            }
            Some(known) => {
                let known = Arc::clone(known);
                self.stacks.insert(hash, known);
            }
            None => {
                self.stacks.insert(hash, Arc::from(ips));
            }
        }
    }

    /// A sample's Python frames: none unless the kernel stored them (a failed Python walk
    /// costs the sample nothing; the kernel counts it in `stats`).
    fn resolve_python(&mut self, status: u8, hash: u64) -> StackRef {
        if status != types::prof_stack_status::PROF_STACK_OK.0 as u8 {
            return StackRef::Empty;
        }
        self.known_stack(hash).map_or(StackRef::Empty, StackRef::Frames)
    }

    fn resolve_stack(&mut self, status: u8, hash: u64, user: bool) -> StackRef {
        if let Err(other) = stored_stack(status, user) {
            return other;
        }
        match self.known_stack(hash) {
            Some(ips) => StackRef::Frames(ips),
            None => {
                let error = if user { LossReason::UserStackError } else { LossReason::KernelStackError };
                *self.userspace_losses.entry(error).or_default() += 1;
                StackRef::Missing(error)
            }
        }
    }
}

/// Ok when a stack's status says it was stored; otherwise what the sample has instead.
pub(super) fn stored_stack(status: u8, user: bool) -> Result<(), StackRef> {
    let (fault, error, full) = if user {
        (LossReason::UserStackFault, LossReason::UserStackError, LossReason::UserStackMapFull)
    } else {
        (LossReason::KernelStackFault, LossReason::KernelStackError, LossReason::KernelStackMapFull)
    };
    Err(match types::prof_stack_status(u32::from(status)) {
        types::prof_stack_status::PROF_STACK_OK => return Ok(()),
        types::prof_stack_status::PROF_STACK_EMPTY => StackRef::Empty,
        types::prof_stack_status::PROF_STACK_FAULT => StackRef::Missing(fault),
        types::prof_stack_status::PROF_STACK_NOMEM => StackRef::Missing(full),
        _ => StackRef::Missing(error),
    })
}

/// The walk's end as the BPF program reported it; a value `bpf/profile.h` does not define is
/// [`UnwindStatus::Unknown`] (kept in the counts and shown in the unwind report, not guessed).
fn unwind_status(raw: u8) -> UnwindStatus {
    use types::prof_unwind_status as s;
    match s(u32::from(raw)) {
        s::PROF_UNWIND_KERNEL_FP => UnwindStatus::KernelFp,
        s::PROF_UNWIND_COMPLETE => UnwindStatus::Complete,
        s::PROF_UNWIND_NO_INFO => UnwindStatus::NoInfo,
        s::PROF_UNWIND_UNSUPPORTED => UnwindStatus::Unsupported,
        s::PROF_UNWIND_READ_FAULT => UnwindStatus::ReadFault,
        s::PROF_UNWIND_TOO_DEEP => UnwindStatus::TooDeep,
        s::PROF_UNWIND_BAD_FRAME => UnwindStatus::BadFrame,
        _ => UnwindStatus::Unknown,
    }
}

/// Why an off-CPU count's thread waited, from its key's kind; None for an on-CPU sample. A kind
/// `bpf/profile.h` does not define is [`ThreadState::Other`].
fn thread_state(kind: u8) -> Option<ThreadState> {
    use types::prof_sample_kind as k;
    match k(u32::from(kind)) {
        k::PROF_KIND_ON_CPU => None,
        k::PROF_KIND_OFF_SLEEPING => Some(ThreadState::Sleeping),
        k::PROF_KIND_OFF_UNINTERRUPTIBLE => Some(ThreadState::Uninterruptible),
        k::PROF_KIND_OFF_PREEMPTED => Some(ThreadState::Preempted),
        _ => Some(ThreadState::Other),
    }
}

pub(super) fn comm_string(comm: &[i8]) -> String {
    let bytes: Vec<u8> = comm.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Nanoseconds since boot in clock ticks (`USER_HZ`), the unit of process start times in
/// `/proc/PID/stat`, rounded down as the kernel rounds them there. `/proc` shows boot times in
/// the reader's time namespace: its boot-time offset is added, as the kernel adds it there.
pub(super) fn clock_ticks(ns: u64) -> u64 {
    static CLOCK: std::sync::OnceLock<(u64, i64)> = std::sync::OnceLock::new();
    let (hz, offset_ns) = *CLOCK.get_or_init(|| {
        // SAFETY: sysconf has no memory-safety preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        let hz = u64::try_from(hz).ok().filter(|&hz| hz > 0).unwrap_or(100);
        let offsets = std::fs::read_to_string("/proc/self/timens_offsets").unwrap_or_default();
        (hz, boottime_offset_ns(&offsets))
    });
    ns.saturating_add_signed(offset_ns) / (1_000_000_000 / hz)
}

/// The boot-time offset of a time namespace in ns, from `/proc/PID/timens_offsets` text
/// (`boottime <seconds> <nanoseconds>`); 0 when absent.
fn boottime_offset_ns(text: &str) -> i64 {
    text.lines()
        .find_map(|l| {
            let mut f = l.split_whitespace();
            (f.next()? == "boottime").then_some(())?;
            let secs: i64 = f.next()?.parse().ok()?;
            let nanos: i64 = f.next()?.parse().ok()?;
            Some(secs.saturating_mul(1_000_000_000).saturating_add(nanos))
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::{boottime_offset_ns, clock_ticks, unwind_status, UnwindStatus};

    /// The seven statuses bpf/profile.h defines (0..=6) map to the seven other statuses, one
    /// each; any other value is `Unknown`, not a plausible status.
    #[test]
    fn sample_unwind_status_from_raw() {
        let known: std::collections::BTreeSet<UnwindStatus> = (0..=6).map(unwind_status).collect();
        // CopyEnd comes from userspace, never from the kernel.
        let others: std::collections::BTreeSet<UnwindStatus> = UnwindStatus::ALL
            .into_iter()
            .filter(|&s| s != UnwindStatus::Unknown && s != UnwindStatus::CopyEnd)
            .collect();
        assert_eq!(known, others);
        assert_eq!(unwind_status(0), UnwindStatus::KernelFp);
        assert_eq!(UnwindStatus::ALL.last(), Some(&UnwindStatus::Unknown));
        assert_eq!(UnwindStatus::from_id("unknown"), Some(UnwindStatus::Unknown));
        for raw in [7, 8, 0x80, u8::MAX] {
            assert_eq!(unwind_status(raw), UnwindStatus::Unknown, "{raw}");
        }
    }

    /// Start times are converted to clock ticks as /proc shows them: rounded down, shifted by
    /// the reader's time namespace boot-time offset.
    #[test]
    fn drain_start_time_in_proc_ticks() {
        assert_eq!(boottime_offset_ns("monotonic           0         0\nboottime            0         0\n"), 0);
        assert_eq!(boottime_offset_ns("monotonic 5 0\nboottime -2 500\n"), -1_999_999_500);
        assert_eq!(boottime_offset_ns(""), 0);
        // Outside a time namespace (these tests' case): 1000 s is 1000 s of ticks, and a tick
        // is only counted once complete.
        let ns_per_tick = 1_000_000_000 / (clock_ticks(1_000_000_000_000) / 1000);
        assert_eq!(clock_ticks(ns_per_tick * 8 - 1), 7);
    }
}
