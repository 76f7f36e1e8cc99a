//! The live status of a recording, once per drain: samples, processes, losses, time elapsed and
//! left, and in a continuous recording the current interval's counts beside the session's. The
//! `prof` binary shows [`status_line`] on a terminal, rewritten in place.

use std::time::Duration;

use super::session::Session;
use crate::output::text::noun_for;
use crate::process::PID_MAX_LIMIT;

/// A recording so far ([`super::Event::Status`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// Time since sampling started.
    pub elapsed: Duration,
    /// Time left until `-d` ends the recording (`None` without `-d`).
    pub remaining: Option<Duration>,
    /// Samples counted since the start (in a continuous recording: every interval's).
    pub samples: u64,
    /// Distinct processes sampled since the start (the idle task not counted).
    pub processes: usize,
    /// Samples that lost a stack or were dropped, since the start.
    pub lost: u64,
    /// In a continuous recording, the interval being recorded.
    pub interval: Option<IntervalStatus>,
    /// Off-CPU or wall-clock time (`--off-cpu`, `--wall`): `samples` are nanoseconds, shown
    /// as ms with this word after (`blocked`, or empty), `lost` counts blocks and samples.
    pub time: Option<&'static str>,
}

/// The interval a continuous recording is filling.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IntervalStatus {
    /// Which interval: 1 for the first.
    pub number: u64,
    /// Samples counted in it so far.
    pub samples: u64,
    /// Distinct processes sampled in it so far.
    pub processes: usize,
}

/// The status of a one-shot recording, or the session part of a continuous one (whose
/// [`super::interval::IntervalWriter::status`] adds the interval and the totals): the counts
/// drained so far, the time since the start and, with `duration` (`-d`), the time left.
pub(super) fn of_session(session: &Session, duration: Option<Duration>) -> Status {
    let elapsed = session.start.elapsed();
    Status {
        elapsed,
        remaining: duration.map(|d| d.saturating_sub(elapsed)),
        samples: session.counts.total(),
        processes: session.counts.processes(),
        lost: session.lost(),
        interval: None,
        time: match session.sampler.event() {
            crate::profile::EventKind::OffCpu => Some(" blocked"),
            crate::profile::EventKind::Wall => Some(""),
            _ => None,
        },
    }
}

/// Distinct process ids, one bit each: at most 512 KiB whatever runs, since the kernel's PIDs
/// stay below [`PID_MAX_LIMIT`].
#[derive(Clone, Debug, Default)]
pub(super) struct PidSet {
    bits: Vec<u64>,
    len: usize,
}

impl PidSet {
    /// Adds `pid` (a PID at or above [`PID_MAX_LIMIT`] cannot exist and is not counted).
    pub fn insert(&mut self, pid: u32) {
        if pid >= PID_MAX_LIMIT {
            return;
        }
        let (word, bit) = ((pid / 64) as usize, pid % 64);
        if self.bits.len() <= word {
            self.bits.resize(word + 1, 0);
        }
        if self.bits[word] & (1 << bit) == 0 {
            self.bits[word] |= 1 << bit;
            self.len += 1;
        }
    }

    /// Whether `pid` was added.
    pub fn contains(&self, pid: u32) -> bool {
        self.bits.get((pid / 64) as usize).is_some_and(|w| w & (1 << (pid % 64)) != 0)
    }

    /// How many PIDs were added.
    pub fn len(&self) -> usize {
        self.len
    }
}

/// The status as one line of text, e.g. `recording 18 s · 12 s left · 1 sample · 1 process ·
/// 0 lost`; in a continuous recording `recording 35 s · interval 4: 523 samples, 2 processes ·
/// total 3,012 samples, 5 processes · 0 lost`.
pub fn status_line(s: &Status) -> String {
    let mut parts = vec![format!("recording {}", duration_words(s.elapsed, false))];
    if let Some(left) = s.remaining {
        parts.push(format!("{} left", duration_words(left, true)));
    }
    let amount = |samples: u64| match s.time {
        Some(word) => format!("{:.1} ms{word}", samples as f64 / 1e6),
        None => plural_count(samples, "sample"),
    };
    let counts =
        |samples: u64, processes: usize| format!("{}, {}", amount(samples), plural_count(processes as u64, "process"));
    match s.interval {
        Some(i) => {
            parts.push(format!("interval {}: {}", i.number, counts(i.samples, i.processes)));
            parts.push(format!("total {}", counts(s.samples, s.processes)));
        }
        None => {
            parts.push(amount(s.samples));
            parts.push(plural_count(s.processes as u64, "process"));
        }
    }
    parts.push(format!("{} lost", thousands(s.lost)));
    parts.join(" · ")
}

/// `1 sample`, `1,234 samples`, `2 processes`.
fn plural_count(n: u64, noun: &str) -> String {
    format!("{} {}", thousands(n), noun_for(n, noun))
}

/// `1234567` → `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `45 s`, `2 min 5 s`, `3 h 0 min`: whole seconds, rounded down (elapsed) or up (`up`: time
/// left, so the countdown shows `1 s left`, not `0 s left`, while the last second runs).
fn duration_words(d: Duration, up: bool) -> String {
    let secs = if up && d.subsec_nanos() > 0 { d.as_secs().saturating_add(1) } else { d.as_secs() };
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min {} s", secs / 60, secs % 60),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-shot recording: counts, singular and plural, thousands grouped, no countdown
    /// without `-d`; off-CPU time in ms blocked.
    #[test]
    fn record_status_line_one_shot() {
        let s = Status { elapsed: Duration::from_millis(4_900), samples: 1, processes: 1, ..Status::default() };
        assert_eq!(status_line(&s), "recording 4 s · 1 sample · 1 process · 0 lost");
        let s = Status { elapsed: Duration::from_secs(75), samples: 1_234_567, processes: 2, lost: 1_000, ..s };
        assert_eq!(status_line(&s), "recording 1 min 15 s · 1,234,567 samples · 2 processes · 1,000 lost");
        let s = Status { samples: 0, processes: 0, lost: 0, ..s };
        let blocked = Status { samples: 1_234_567_890, time: Some(" blocked"), ..s };
        assert_eq!(status_line(&blocked), "recording 1 min 15 s · 1234.6 ms blocked · 0 processes · 0 lost");
        assert_eq!(status_line(&s), "recording 1 min 15 s · 0 samples · 0 processes · 0 lost");
    }

    /// With `-d` the time left counts down, rounded up; hours are shown in hours and minutes.
    #[test]
    fn record_status_line_counts_down() {
        let s = Status {
            elapsed: Duration::from_secs(18),
            remaining: Some(Duration::from_millis(11_200)),
            samples: 999,
            processes: 3,
            ..Status::default()
        };
        assert_eq!(status_line(&s), "recording 18 s · 12 s left · 999 samples · 3 processes · 0 lost");
        let s = Status { remaining: Some(Duration::from_millis(100)), ..s };
        assert!(status_line(&s).contains(" · 1 s left · "), "{}", status_line(&s));
        let s = Status { elapsed: Duration::from_secs(7_260), remaining: Some(Duration::from_secs(3_600)), ..s };
        assert!(status_line(&s).starts_with("recording 2 h 1 min · 1 h 0 min left · "), "{}", status_line(&s));
    }

    /// A continuous recording shows the interval's counts and the session's totals.
    #[test]
    fn record_status_line_continuous() {
        let s = Status {
            elapsed: Duration::from_secs(35),
            samples: 3_012,
            processes: 5,
            lost: 1,
            interval: Some(IntervalStatus { number: 4, samples: 523, processes: 1 }),
            ..Status::default()
        };
        assert_eq!(
            status_line(&s),
            "recording 35 s · interval 4: 523 samples, 1 process · total 3,012 samples, 5 processes · 1 lost"
        );
    }

    /// The PID set counts each PID once, and ignores PIDs no kernel hands out.
    #[test]
    fn record_status_pid_set() {
        let mut set = PidSet::default();
        for pid in [1, 64, 63, 1, 4_194_303, 4_194_304, u32::MAX, 64] {
            set.insert(pid);
        }
        assert_eq!(set.len(), 4);
        assert!(set.contains(63) && set.contains(4_194_303) && !set.contains(2) && !set.contains(u32::MAX));
        assert!(set.bits.len() <= (PID_MAX_LIMIT / 64) as usize);
    }

    /// Digits are grouped by three from the right.
    #[test]
    fn record_status_thousands() {
        let cases =
            [(0, "0"), (999, "999"), (1_000, "1,000"), (100_000, "100,000"), (u64::MAX, "18,446,744,073,709,551,615")];
        for (n, text) in cases {
            assert_eq!(thousands(n), text);
        }
    }
}
