//! What a profile's samples count: the event prof records ([`EventKind`]: a perf event, or the
//! scheduler's context switches for off-CPU time), or, for profiles read from other tools'
//! files, whatever event name they carry ([`SampledEvent`]); and why an off-CPU thread waited
//! ([`ThreadState`]).

/// The event that drives prof's recording.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// Hardware CPU cycles (needs a PMU).
    Cycles,
    /// The `cpu-clock` software event (an hrtimer; works everywhere).
    CpuClock,
    /// Off-CPU time (`prof record --off-cpu`): the `sched_switch` tracepoint; counts are
    /// nanoseconds threads spent off the CPU.
    OffCpu,
    /// Wall-clock time (`prof record --wall`): on-CPU samples weighted by the sampling period
    /// and off-CPU time, in nanoseconds.
    Wall,
}

impl EventKind {
    /// Every event prof records with.
    pub const ALL: [EventKind; 4] = [EventKind::Cycles, EventKind::CpuClock, EventKind::OffCpu, EventKind::Wall];

    /// The name perf uses for the event (`off-cpu` for off-CPU time; also stored in archives
    /// and pprof comments).
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Cycles => "cycles",
            EventKind::CpuClock => "cpu-clock",
            EventKind::OffCpu => "off-cpu",
            EventKind::Wall => "wall",
        }
    }

    /// Parses a name (the inverse of [`EventKind::name`]).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.name() == name)
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a thread's time went, for off-CPU and wall-clock profiles: on the CPU, or off it and
/// why (the `sched_switch` tracepoint's `prev_state` and preempt flag). Shown as a frame at the
/// root of each stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ThreadState {
    /// Running (`--wall`: an on-CPU sample, weighted by the sampling period).
    OnCpu,
    /// An interruptible sleep (state S): nanosleep, poll, a read waiting for data, a futex.
    Sleeping,
    /// An uninterruptible sleep (state D): disk I/O, some kernel locks, page faults.
    Uninterruptible,
    /// Preempted while runnable (state R): waiting for a CPU.
    Preempted,
    /// Stopped or traced (T, t), or another state.
    Other,
}

impl ThreadState {
    /// Every state, in display order.
    pub const ALL: [ThreadState; 5] = [
        ThreadState::OnCpu,
        ThreadState::Sleeping,
        ThreadState::Uninterruptible,
        ThreadState::Preempted,
        ThreadState::Other,
    ];

    /// The frame that marks stacks of this state: `[on-cpu]`, `[off-cpu: sleeping]`, …
    pub fn marker(self) -> &'static str {
        match self {
            ThreadState::OnCpu => "[on-cpu]",
            ThreadState::Sleeping => "[off-cpu: sleeping]",
            ThreadState::Uninterruptible => "[off-cpu: uninterruptible]",
            ThreadState::Preempted => "[off-cpu: preempted]",
            ThreadState::Other => "[off-cpu: other]",
        }
    }

    /// The state a marker frame names (the inverse of [`ThreadState::marker`]).
    pub fn from_marker(name: &str) -> Option<ThreadState> {
        Self::ALL.into_iter().find(|s| s.marker() == name)
    }
}

/// The event a profile's samples count, as stored in its [`Metadata`](super::Metadata).
///
/// Shown, and stored in archives and pprof comments, as its name: the empty string when not
/// known. [`SampledEvent::from_name`] is the inverse, so a name read from a file is written back
/// unchanged.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum SampledEvent {
    /// Not known (folded input, a pprof file without prof's comments).
    #[default]
    Unknown,
    /// An event prof samples with.
    Perf(EventKind),
    /// Another event name, from a file another tool (or a later prof) wrote; never empty and
    /// never the name of an [`EventKind`] (build it with [`SampledEvent::from_name`]).
    Other(String),
}

impl SampledEvent {
    /// Parses a stored name: empty is [`Unknown`](SampledEvent::Unknown), an [`EventKind`]'s
    /// name is that event, anything else is kept as [`Other`](SampledEvent::Other).
    pub fn from_name(name: &str) -> Self {
        match EventKind::from_name(name) {
            Some(kind) => SampledEvent::Perf(kind),
            None if name.is_empty() => SampledEvent::Unknown,
            None => SampledEvent::Other(name.to_string()),
        }
    }

    /// True when the event is not known.
    pub fn is_unknown(&self) -> bool {
        *self == SampledEvent::Unknown
    }

    /// True for off-CPU time (`prof record --off-cpu`): counts are nanoseconds blocked.
    pub fn is_off_cpu(&self) -> bool {
        *self == SampledEvent::Perf(EventKind::OffCpu)
    }

    /// True for wall-clock time (`prof record --wall`): counts are nanoseconds on and off the
    /// CPU.
    pub fn is_wall(&self) -> bool {
        *self == SampledEvent::Perf(EventKind::Wall)
    }
}

/// What a profile's counts measure, by kind of time: the CPU (samples of a perf event, or the
/// CPU time of another tool's profile), time off the CPU, or wall-clock time. Profiles of
/// different measures are never added together or compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Measure {
    /// Time on the CPU (`prof record`, and every profile read from other tools).
    OnCpu,
    /// Time blocked off the CPU (`prof record --off-cpu`).
    OffCpu,
    /// Wall-clock time, on and off the CPU (`prof record --wall`).
    Wall,
}

impl Measure {
    /// The stable name: `on-cpu`, `off-cpu` or `wall` (JSON).
    pub fn name(self) -> &'static str {
        match self {
            Measure::OnCpu => "on-cpu",
            Measure::OffCpu => "off-cpu",
            Measure::Wall => "wall",
        }
    }

    /// What it is, for people: `time on the CPU`, `off-CPU time`, `wall-clock time`.
    pub fn describe(self) -> &'static str {
        match self {
            Measure::OnCpu => "time on the CPU",
            Measure::OffCpu => "off-CPU time",
            Measure::Wall => "wall-clock time",
        }
    }
}

impl SampledEvent {
    /// The kind of time the event's counts measure.
    pub fn measure(&self) -> Measure {
        match self {
            SampledEvent::Perf(EventKind::OffCpu) => Measure::OffCpu,
            SampledEvent::Perf(EventKind::Wall) => Measure::Wall,
            _ => Measure::OnCpu,
        }
    }
}

impl From<EventKind> for SampledEvent {
    fn from(kind: EventKind) -> Self {
        SampledEvent::Perf(kind)
    }
}

impl std::fmt::Display for SampledEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SampledEvent::Unknown => Ok(()),
            SampledEvent::Perf(kind) => f.write_str(kind.name()),
            SampledEvent::Other(name) => f.write_str(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every name reads back as the same name: known events as their kind, the empty name as
    /// unknown, others as they are.
    #[test]
    fn event_names_round_trip() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::from_name(kind.name()), Some(kind));
            assert_eq!(SampledEvent::from_name(kind.name()), SampledEvent::Perf(kind));
        }
        assert_eq!(SampledEvent::from_name(""), SampledEvent::Unknown);
        assert!(SampledEvent::default().is_unknown());
        assert_eq!(SampledEvent::from_name("samples"), SampledEvent::Other("samples".into()));
        assert!(SampledEvent::from_name("off-cpu").is_off_cpu());
        assert!(!SampledEvent::from_name("cpu-clock").is_off_cpu());
        assert!(SampledEvent::from_name("wall").is_wall());
        for state in ThreadState::ALL {
            assert_eq!(ThreadState::from_marker(state.marker()), Some(state));
        }
        assert_eq!(ThreadState::from_marker("[off-cpu: nothing]"), None);
        for name in ["", "cycles", "cpu-clock", "off-cpu", "wall", "samples", "Cycles", "cpu-clock "] {
            assert_eq!(SampledEvent::from_name(name).to_string(), name);
        }
    }
}
