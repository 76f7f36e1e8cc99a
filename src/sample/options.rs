//! What a sampler is asked to do ([`SamplerOptions`]: targets, stacks, unwinding) and the sizes
//! of the kernel maps that follow from it.

use crate::profile::unwind::UnwindMode;

/// Which processes to sample.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Targets {
    /// Every process on every CPU.
    All,
    /// Only these processes (all their threads); children they fork are followed when
    /// `follow_forks` is set.
    Pids {
        /// Process ids (tgids).
        pids: Vec<u32>,
        /// Also sample processes they fork from now on.
        follow_forks: bool,
    },
}

/// Sampling configuration, fixed before the BPF program loads.
#[derive(Clone, Debug)]
pub struct SamplerOptions {
    /// Samples per second per CPU.
    pub frequency_hz: u64,
    /// The event that drives sampling: `None` or cycles tries hardware cycles and falls back
    /// to cpu-clock (with a note) where there is no PMU; cpu-clock uses the software timer.
    pub event: Option<crate::profile::EventKind>,
    /// Which processes to sample.
    pub targets: Targets,
    /// `--cgroup`: sample only tasks in these cgroups or below them (all when empty); checked
    /// in the kernel before any stack is taken.
    pub cgroups: Vec<crate::process::cgroup::SelectedCgroup>,
    /// Record kernel stacks.
    pub kernel_stacks: bool,
    /// Record user stacks.
    pub user_stacks: bool,
    /// Drop samples of the idle task.
    pub skip_idle: bool,
    /// New unique stacks the kernel can hold between two drains; 0 picks
    /// [`auto_map_size`] for the stack map.
    pub stack_map_size: u32,
    /// Unique (process, stacks, comm) keys the kernel can hold between two drains; 0 picks
    /// [`auto_map_size`].
    pub counts_map_size: u32,
    /// How user stacks are walked.
    pub unwind: UnwindMode,
    /// Most unwind-table rows the kernel holds for all loaded binaries together (8 bytes each,
    /// made in chunks as needed); 0 picks [`DEFAULT_UNWIND_ROWS`]. Unused with [`UnwindMode::Fp`].
    pub unwind_rows: u32,
    /// Bytes of the ring buffer that carries process notifications (exec, exit, first sample)
    /// to userspace; 0 picks [`DEFAULT_EVENTS_BUFFER`]. Rounded by [`events_buffer_bytes`].
    pub events_buffer_size: u32,
    /// Refuse kernels older than [`super::kernel::MIN_KERNEL`] (`--no-kernel-version-check`
    /// turns it off).
    pub kernel_version_check: bool,
    /// Record off-CPU time (the `sched_switch` tracepoint) instead of sampling on-CPU stacks.
    pub off_cpu: Option<OffCpuOptions>,
    /// Walk the Python frames of processes running CPython 3.10 to 3.13 (found as they are
    /// captured); `--python off` turns it off.
    pub python: bool,
}

/// How off-CPU time is recorded (`prof record --off-cpu`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OffCpuOptions {
    /// Blocks shorter than this (ns) are not counted, only counted as skipped.
    pub min_block_ns: u64,
    /// Switch-outs each CPU records per second at most (0: no limit); the others are counted
    /// as skipped.
    pub budget_per_cpu: u32,
    /// Wall-clock time (`--wall`): on-CPU samples too (cpu-clock, each weighted by the sampling
    /// period), so that each thread's total is its wall time.
    pub wall: bool,
}

/// Default `--min-block`: 1 µs, below which a switch-out is not a wait (a context switch itself
/// takes about that long). Measured on a pipe ping-pong (docs/off-cpu.md): the cost of off-CPU
/// recording is the stack walk at switch-out, which a threshold cannot save (it is only known
/// when the thread runs again), while 10 µs already left out 14% of the time blocked there and
/// 1 ms 63%; so the threshold only drops what is not waiting, and the budget bounds the cost.
pub const DEFAULT_MIN_BLOCK_NS: u64 = 1_000;

/// Default off-CPU budget: 20,000 switch-outs recorded per CPU per second. Each costs one stack
/// walk (~6 µs measured on a pipe ping-pong: 145k round trips/s alone, 51k without a budget,
/// 116k with this one), so the budget keeps prof's share of a CPU near 12% at most on a machine
/// switching far more often; below it nothing is skipped.
pub const DEFAULT_OFF_CPU_BUDGET: u32 = 20_000;

/// Threads of the targets that can be off the CPU at once with their stacks noted (entries of
/// the `offcpu_start` map, 88 bytes each: 2.8 MiB); a switch-out beyond is counted as skipped.
pub const OFF_CPU_PENDING: u32 = 32_768;

/// The smallest automatic stack and counts maps when recording off-CPU time: switches are not
/// paced by a frequency, and a context-switch-heavy process shows many distinct stacks.
pub const MIN_OFF_CPU_MAP_SIZE: u32 = 8192;

/// Default ceiling of the kernel's unwind-table rows: 2^23 rows, 64 MiB at most. The memory is
/// made in 512 KiB chunks as tables are stored (see [`super::row_chunks`]), so small binaries
/// cost a few chunks (libc.so.6 needs ~28k rows, python3.11 ~65k) while clang's libLLVM (~1.4M
/// rows) and libclang-cpp (~1.0M) and rustc's librustc_driver (~1.15M) fit together. Tables of
/// binaries no live process maps are evicted to make room when the ceiling is reached.
pub const DEFAULT_UNWIND_ROWS: u32 = 1 << 23;

/// The default size of the stack and counts maps: room for every sample of two drain
/// intervals (a sample adds at most one user and one kernel stack, and one key), at least
/// [`MIN_AUTO_MAP_SIZE`], at most 2^18. A preallocated stack entry is ~1.1 KB (127 frames).
pub fn auto_map_size(frequency_hz: u64, cpus: usize) -> u32 {
    let per_drain = frequency_hz.saturating_mul(cpus as u64).saturating_mul(2);
    (2 * per_drain).next_power_of_two().clamp(MIN_AUTO_MAP_SIZE as u64, 1 << 18) as u32
}

/// Bytes of the ring buffer of samples handed over while tables are built: a quarter second of
/// every CPU's samples being handed over at `frequency_hz`, as a power of two between 1 and
/// 4 MiB: 1 MiB at 99 Hz on 2 CPUs, 4 MiB from 499 Hz. A record is its header (3 KiB) and the
/// stack pages it copied: 8-12 KiB for a Python main thread, 16-40 KiB for clang's, 64 KiB at
/// most; the sizing takes 16 KiB, so 4 MiB holds ~200 records, 100 ms of two CPUs at 999 Hz.
/// prof reads it every 10 ms while tables are built; a full buffer costs no sample (the kernel
/// walks on with frame pointers and counts it). Its pages are mapped twice into prof (a ring
/// buffer's data is) and are resident from the start, so they count twice in prof's RSS: hence
/// the low ceiling.
pub fn deferred_buffer_bytes(frequency_hz: u64, cpus: usize) -> u32 {
    let head = std::mem::size_of::<super::skel::types::prof_deferred_head>() as u64;
    let record = head + TYPICAL_DEFERRED_STACK + 8;
    let quarter_second = frequency_hz.saturating_mul(cpus as u64).saturating_mul(record) / 4;
    quarter_second.next_power_of_two().clamp(1 << 20, 4 << 20) as u32
}

/// The stack bytes a handed-over sample is taken to carry when sizing its ring buffer.
const TYPICAL_DEFERRED_STACK: u64 = 16 * 1024;

/// The smallest automatic stack and counts map: 2,048 entries (~2.3 MB of stacks), which at
/// 99 Hz on 2 CPUs holds ~5 s of samples whose stacks are all new, so a drain delayed by a slow
/// interval flush loses nothing. Bigger machines and higher rates get proportionally more.
pub const MIN_AUTO_MAP_SIZE: u32 = 2048;

impl Default for SamplerOptions {
    fn default() -> Self {
        SamplerOptions {
            frequency_hz: 99,
            event: None,
            targets: Targets::All,
            cgroups: Vec::new(),
            kernel_stacks: true,
            user_stacks: true,
            skip_idle: false,
            stack_map_size: 0,
            counts_map_size: 0,
            unwind: UnwindMode::Auto,
            unwind_rows: 0,
            events_buffer_size: 0,
            kernel_version_check: true,
            off_cpu: None,
            python: true,
        }
    }
}

/// Default size of the process-notification ring buffer: 256 KiB, about 6,500 notifications
/// (40 bytes each with the ring buffer's header), several seconds of a machine starting
/// a thousand processes a second while prof is busy symbolizing.
pub const DEFAULT_EVENTS_BUFFER: u32 = 256 * 1024;

/// The smallest process-notification ring buffer: one page (the kernel's minimum for a
/// ring buffer), about 100 notifications. Only useful to test what happens when it overflows.
pub const MIN_EVENTS_BUFFER: u32 = 4096;

/// The ring buffer size used for a requested size: 0 is [`DEFAULT_EVENTS_BUFFER`]; others are
/// rounded up to a power of two (the kernel requires one) of at least [`MIN_EVENTS_BUFFER`],
/// and at most 1 GiB.
pub fn events_buffer_bytes(requested: u32) -> u32 {
    if requested == 0 {
        return DEFAULT_EVENTS_BUFFER;
    }
    requested.clamp(MIN_EVENTS_BUFFER, 1 << 30).next_power_of_two()
}

/// Process mappings the kernel holds for all processes together (32 bytes each, 2 MiB).
pub const UNWIND_MAPPING_SLOTS: u32 = 1 << 16;

#[cfg(test)]
mod tests {
    use super::{auto_map_size, deferred_buffer_bytes, events_buffer_bytes, DEFAULT_EVENTS_BUFFER, MIN_EVENTS_BUFFER};

    /// The hand-over buffer holds a quarter second of samples, within 1..4 MiB.
    #[test]
    fn sample_deferred_buffer_follows_the_rate() {
        assert_eq!(deferred_buffer_bytes(99, 2), 1 << 20);
        assert_eq!(deferred_buffer_bytes(1, 1), 1 << 20);
        assert_eq!(deferred_buffer_bytes(199, 2), 2 << 20);
        assert_eq!(deferred_buffer_bytes(499, 2), 4 << 20);
        assert_eq!(deferred_buffer_bytes(u64::MAX, 4096), 4 << 20);
    }

    /// The ring buffer is the default for 0, a power of two of at least one page otherwise.
    #[test]
    fn sample_events_buffer_bytes_are_valid_ring_sizes() {
        assert_eq!(events_buffer_bytes(0), DEFAULT_EVENTS_BUFFER);
        assert_eq!(events_buffer_bytes(1), MIN_EVENTS_BUFFER);
        assert_eq!(events_buffer_bytes(4096), 4096);
        assert_eq!(events_buffer_bytes(5000), 8192);
        assert_eq!(events_buffer_bytes(u32::MAX), 1 << 30);
    }

    /// Map sizes grow with CPUs × frequency between the floor and the cap.
    #[test]
    fn sample_auto_map_size_scales() {
        assert_eq!(auto_map_size(99, 2), 2048);
        assert_eq!(auto_map_size(999, 2), 8192);
        assert_eq!(auto_map_size(999, 64), 1 << 18);
        assert_eq!(auto_map_size(99, 64), 32768);
    }
}
