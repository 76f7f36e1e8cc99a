//! What a profile's samples count: the perf event prof samples with ([`EventKind`]), or, for
//! profiles read from other tools' files, whatever event name they carry ([`SampledEvent`]).

/// The perf event that drives prof's sampling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// Hardware CPU cycles (needs a PMU).
    Cycles,
    /// The `cpu-clock` software event (an hrtimer; works everywhere).
    CpuClock,
}

impl EventKind {
    /// Every event prof samples with.
    pub const ALL: [EventKind; 2] = [EventKind::Cycles, EventKind::CpuClock];

    /// The name perf uses for the event (also stored in archives and pprof comments).
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Cycles => "cycles",
            EventKind::CpuClock => "cpu-clock",
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
        for name in ["", "cycles", "cpu-clock", "samples", "Cycles", "cpu-clock "] {
            assert_eq!(SampledEvent::from_name(name).to_string(), name);
        }
    }
}
