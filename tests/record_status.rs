//! The live status of a recording, as the `prof` binary shows it on a terminal: counts that
//! grow as the recording runs, a countdown with `-d`, and in a continuous recording the
//! interval's counts beside the session's totals (not `0 samples · 0 processes` once the first
//! interval is written).

mod common;

use std::ffi::OsString;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use common::workload;
use prof::record::{status_line, Event, Observer, RecordOptions, Status};

/// Collects the statuses a recording reports.
#[derive(Default)]
struct Statuses(Vec<Status>);

impl Observer for Statuses {
    fn on_event(&mut self, event: Event<'_>) {
        if let Event::Status(status) = event {
            self.0.push(status);
        }
    }
}

/// The `short` workload burning CPU for `ms` milliseconds, as the command to record.
fn burn(ms: u32) -> Option<Vec<OsString>> {
    Some(vec![workload("short").into_os_string(), ms.to_string().into()])
}

/// Records with `opts` and returns what the observer saw.
fn statuses(opts: &RecordOptions) -> Vec<Status> {
    let mut seen = Statuses::default();
    prof::record::record(opts, &AtomicBool::new(false), &mut seen).expect("the recording runs");
    seen.0
}

/// A continuous recording (1 s intervals) of a command burning CPU for 3.5 s: every status names
/// the interval being filled (1, 2, 3, …) with its samples, never 0, and the session's totals,
/// which keep growing across the intervals written; the line shows both, `1 process` singular.
#[test]
fn record_status_continuous_shows_interval_and_session_totals() {
    let _m = bpf_test!("record_status_continuous_shows_interval_and_session_totals");
    let dir = tempfile::tempdir().unwrap();
    let opts = RecordOptions {
        command: burn(3_500),
        continuous: Some(prof::record::ContinuousOptions {
            dir: dir.path().join("archives"),
            interval: Duration::from_secs(1),
            retention: Default::default(),
            push: Vec::new(),
        }),
        ..RecordOptions::default()
    };
    let seen = statuses(&opts);
    assert!(seen.len() >= 3, "one status per drain: {seen:?}");
    let mut previous = Status::default();
    for (i, s) in seen.iter().enumerate() {
        let interval = s.interval.unwrap_or_else(|| panic!("status {i} names no interval: {s:?}"));
        assert_eq!(s.remaining, None, "no -d, no countdown");
        assert!(interval.samples > 0 && interval.processes == 1, "status {i}: {s:?}");
        assert!(s.samples >= interval.samples && s.processes == 1, "totals include the interval: {s:?}");
        if let Some(p) = previous.interval {
            assert!(interval.number >= p.number && s.samples > previous.samples, "{previous:?} → {s:?}");
            if interval.number > p.number {
                assert_eq!(s.samples, previous.samples + interval.samples, "the session total carries over: {seen:?}");
            }
        }
        previous = *s;
    }
    let last = seen.last().unwrap().interval.unwrap();
    assert!(last.number >= 3, "intervals 1, 2, 3 were filled: {seen:?}");
    let line = status_line(seen.last().unwrap());
    let expected = format!("interval {}: {} samples, 1 process · total ", last.number, last.samples);
    assert!(line.contains(&expected), "{line}");
    assert!(!line.contains(" 0 samples") && !line.contains("processes"), "{line}");
}

/// With `-d 2.5s`, the statuses of a one-shot recording count down to the end (elapsed plus
/// left is the duration), and their counts grow.
#[test]
fn record_status_counts_down_with_duration() {
    let _m = bpf_test!("record_status_counts_down_with_duration");
    let duration = Duration::from_millis(2_500);
    let opts = RecordOptions { command: burn(10_000), duration: Some(duration), ..RecordOptions::default() };
    let seen = statuses(&opts);
    assert!(seen.len() >= 2, "one status per drain: {seen:?}");
    for pair in seen.windows(2) {
        assert!(pair[1].remaining < pair[0].remaining && pair[1].samples > pair[0].samples, "{pair:?}");
    }
    for s in &seen {
        let left = s.remaining.expect("-d gives a countdown");
        assert_eq!(s.elapsed + left, duration, "{s:?}");
        assert!(s.interval.is_none() && s.samples > 0 && s.processes == 1, "{s:?}");
        let line = status_line(s);
        let secs_left = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        assert!(line.contains(&format!(" · {secs_left} s left · ")) && line.contains(" · 1 process · "), "{line}");
    }
}
