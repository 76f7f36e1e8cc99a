//! What a profile says about how it was recorded: host, kernel, event, frequency, time span,
//! target, and every sample that was lost or degraded, by reason.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch (0 for times before it), as profiles store times.
pub fn unix_ns(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

/// A stored time as RFC 3339 (UTC, whole seconds), e.g. `2026-11-25T14:05:00Z`.
pub fn format_unix_ns(unix_ns: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_nanos(unix_ns)).to_string()
}

/// Why samples (or their stacks) were lost. The names are stable: they are stored in archives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LossReason {
    /// `bpf_get_stack` returned -EFAULT for the kernel stack; the sample is kept with a
    /// `[missing kernel stack]` frame.
    KernelStackFault,
    /// `bpf_get_stack` failed otherwise for the kernel stack (frame kept, as above).
    KernelStackError,
    /// The stack store was full (-E2BIG/-ENOMEM) for a kernel stack (frame kept, as above).
    KernelStackMapFull,
    /// `bpf_get_stack` returned -EFAULT for the user stack (`[missing user stack]` kept).
    UserStackFault,
    /// `bpf_get_stack` failed otherwise for the user stack (frame kept, as above).
    UserStackError,
    /// The stack store was full for a user stack (frame kept, as above).
    UserStackMapFull,
    /// The in-kernel counts map was full: the whole sample was dropped.
    CountsMapFull,
    /// A forked child of a target could not be added to the in-kernel filter.
    TargetsMapFull,
    /// A process notification was dropped (ring buffer full); its symbols may be degraded.
    EventsLost,
    /// Two different stacks had the same 64-bit content hash (detected in userspace).
    StackHashCollision,
    /// Continuous recording: earlier intervals that could not be written (e.g. disk full).
    IntervalsLost,
    /// Off-CPU: blocks shorter than `--min-block`, not counted by design.
    OffCpuShort,
    /// Off-CPU: switch-outs not recorded because a CPU's per-second budget was spent.
    OffCpuBudget,
    /// Off-CPU: switch-outs not recorded because the map of threads off the CPU was full.
    OffCpuPendingFull,
}

impl LossReason {
    /// Every reason, in display order.
    pub const ALL: [LossReason; 14] = [
        LossReason::KernelStackFault,
        LossReason::KernelStackError,
        LossReason::KernelStackMapFull,
        LossReason::UserStackFault,
        LossReason::UserStackError,
        LossReason::UserStackMapFull,
        LossReason::CountsMapFull,
        LossReason::TargetsMapFull,
        LossReason::EventsLost,
        LossReason::StackHashCollision,
        LossReason::IntervalsLost,
        LossReason::OffCpuShort,
        LossReason::OffCpuBudget,
        LossReason::OffCpuPendingFull,
    ];

    /// The stable identifier stored in archives.
    pub fn id(self) -> &'static str {
        match self {
            LossReason::KernelStackFault => "kernel_stack_efault",
            LossReason::KernelStackError => "kernel_stack_error",
            LossReason::KernelStackMapFull => "kernel_stack_map_full",
            LossReason::UserStackFault => "user_stack_efault",
            LossReason::UserStackError => "user_stack_error",
            LossReason::UserStackMapFull => "user_stack_map_full",
            LossReason::CountsMapFull => "counts_map_full",
            LossReason::TargetsMapFull => "targets_map_full",
            LossReason::EventsLost => "events_lost",
            LossReason::StackHashCollision => "stack_hash_collision",
            LossReason::IntervalsLost => "intervals_lost",
            LossReason::OffCpuShort => "off_cpu_short",
            LossReason::OffCpuBudget => "off_cpu_budget",
            LossReason::OffCpuPendingFull => "off_cpu_pending_full",
        }
    }

    /// Parses a stable identifier.
    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.id() == id)
    }

    /// A human description for summaries.
    pub fn describe(self) -> &'static str {
        match self {
            LossReason::KernelStackFault => "kernel stack unreadable (-EFAULT)",
            LossReason::KernelStackError => "kernel stack error",
            LossReason::KernelStackMapFull => "kernel stack dropped: stack map full (-ENOMEM)",
            LossReason::UserStackFault => "user stack unreadable (-EFAULT)",
            LossReason::UserStackError => "user stack error",
            LossReason::UserStackMapFull => "user stack dropped: stack map full (-ENOMEM)",
            LossReason::CountsMapFull => "sample dropped: counts map full",
            LossReason::TargetsMapFull => "child process not followed: targets map full",
            LossReason::EventsLost => "process notifications lost (ring buffer full)",
            LossReason::StackHashCollision => "stack hash collision (-EEXIST)",
            LossReason::IntervalsLost => "earlier intervals not written (see notes)",
            LossReason::OffCpuShort => "blocks shorter than --min-block, not counted",
            LossReason::OffCpuBudget => "blocks not recorded: a CPU's --off-cpu-budget was spent",
            LossReason::OffCpuPendingFull => "blocks not recorded: too many threads off the CPU at once",
        }
    }

    /// True when the reason drops whole samples (they are not in the profile's counts);
    /// false when the sample is kept with a placeholder frame, or nothing is counted.
    pub fn drops_sample(self) -> bool {
        matches!(self, LossReason::CountsMapFull | LossReason::OffCpuBudget | LossReason::OffCpuPendingFull)
    }

    /// True when the reason counts samples (as opposed to processes or events).
    pub fn is_per_sample(self) -> bool {
        !matches!(
            self,
            LossReason::TargetsMapFull | LossReason::EventsLost | LossReason::IntervalsLost | LossReason::OffCpuShort
        )
    }
}

/// Loss counters by reason.
pub type Losses = BTreeMap<LossReason, u64>;

/// Samples that lost a stack or were dropped (the per-sample reasons of `losses`), saturating:
/// counts read from files may be anything.
pub fn lost_samples(losses: &Losses) -> u64 {
    losses.iter().filter(|(r, _)| r.is_per_sample()).fold(0u64, |sum, (_, n)| sum.saturating_add(*n))
}

/// What a profile's counts measure: samples (what prof records), or CPU time in nanoseconds
/// (folded files whose weights are a sampling period summed, as `inferno-collapse-perf` writes
/// for perf's `cpu-clock`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum WeightUnit {
    /// Sample counts: binomial draws, which `prof diff`'s significance test needs.
    #[default]
    Samples,
    /// Nanoseconds of CPU time: shares are meaningful, a significance test on them is not.
    Nanoseconds,
}

impl WeightUnit {
    /// The stable name: `samples` or `nanoseconds` (JSON, archives).
    pub fn name(self) -> &'static str {
        match self {
            WeightUnit::Samples => "samples",
            WeightUnit::Nanoseconds => "nanoseconds",
        }
    }

    /// True for sample counts.
    pub fn is_count(self) -> bool {
        self == WeightUnit::Samples
    }

    /// An amount for people: `1234 samples` (`1 sample`), or milliseconds with one decimal
    /// (`4989.9 ms`).
    pub fn amount(self, value: u64) -> String {
        match self {
            WeightUnit::Samples if value == 1 => "1 sample".to_string(),
            WeightUnit::Samples => format!("{value} samples"),
            WeightUnit::Nanoseconds => format!("{:.1} ms", value as f64 / 1e6),
        }
    }
}

/// How and where a profile was recorded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    /// Version of prof that wrote the profile.
    pub prof_version: String,
    /// Host name.
    pub hostname: String,
    /// `uname -r` of the recording kernel.
    pub kernel_release: String,
    /// CPUs that were sampled (online CPUs at start).
    pub cpus: Vec<u32>,
    /// Perf event used (`cycles` or `cpu-clock`), another tool's event name, or unknown.
    pub event: super::SampledEvent,
    /// Sampling frequency in Hz.
    pub frequency_hz: u64,
    /// Wall-clock start, nanoseconds since the Unix epoch.
    pub start_unix_ns: u64,
    /// Wall-clock end, nanoseconds since the Unix epoch.
    pub end_unix_ns: u64,
    /// What was profiled: `system-wide`, `pid 123,456`, or the command line.
    pub target: String,
    /// Samples taken (after the target filter), as counted in the kernel; for profiles read
    /// from files, the sum of their counts (in [`Metadata::weight_unit`]).
    pub total_samples: u64,
    /// What the counts measure (sample counts unless a folded file's weights are time).
    pub weight_unit: WeightUnit,
    /// Losses by reason.
    pub losses: Losses,
    /// Free-form notes (e.g. "hardware cycles unavailable, used cpu-clock").
    pub notes: Vec<String>,
    /// How user stacks were unwound, per binary (empty for folded input and old archives).
    pub unwind: super::unwind::UnwindReport,
}

impl Metadata {
    /// An amount of the profile's counts for people: `1234 samples`, `4989.9 ms`, or for an
    /// off-CPU profile `4989.9 ms blocked`.
    pub fn amount(&self, value: u64) -> String {
        let amount = self.weight_unit.amount(value);
        if self.event.is_off_cpu() && !self.weight_unit.is_count() {
            amount + " blocked"
        } else {
            amount
        }
    }

    /// Recording duration in seconds (0 when unknown).
    pub fn duration_secs(&self) -> f64 {
        self.end_unix_ns.saturating_sub(self.start_unix_ns) as f64 / 1e9
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lost samples of counts read from files saturate instead of wrapping (2^64−1 + 5 is not 4),
    /// and only per-sample reasons count.
    #[test]
    fn lost_samples_saturate() {
        let losses: Losses =
            [(LossReason::UserStackFault, u64::MAX), (LossReason::CountsMapFull, 5), (LossReason::IntervalsLost, 7)]
                .into_iter()
                .collect();
        assert_eq!(lost_samples(&losses), u64::MAX);
        let one: Losses = [(LossReason::IntervalsLost, 7)].into_iter().collect();
        assert!(!LossReason::IntervalsLost.is_per_sample());
        assert_eq!(lost_samples(&one), 0);
    }
}
