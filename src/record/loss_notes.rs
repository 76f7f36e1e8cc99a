//! The warnings a recording stores in its profile's notes when the kernel's maps or the event
//! ring buffer were too small: each names what was lost, how much, and the option that fixes it.
//! They are written to every archive (and every interval of a continuous recording) and printed
//! in the end-of-recording summary.

use crate::profile::{LossReason, Losses};

/// Share of lost process notifications (of all produced) above which the recording warns, in
/// percent. A few lost notifications cost at most the symbols of a few short-lived processes
/// (their mappings are also found by polling /proc); above this, enough are lost that symbols of
/// whole bursts of processes may be missing or stale, as in otel's and perf's warnings.
pub const EVENTS_LOST_WARN_PCT: u64 = 5;

/// How each warning starts (stable: tests and readers of archives' notes look for them).
const PREFIXES: [&str; 3] = ["stack map full: ", "counts map full; ", "process notifications lost: "];

/// True when `note` is one of the warnings [`loss_notes`] writes (the summary shows them as
/// warnings rather than notes).
pub fn is_loss_warning(note: &str) -> bool {
    PREFIXES.iter().any(|p| note.starts_with(p))
}

/// How large the kernel's maps were, to say what to raise them from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capacities {
    /// Entries of the stack map (`--stack-map-size`).
    pub stacks: u32,
    /// Entries of the counts map (`--counts-map-size`).
    pub counts: u32,
    /// Bytes of the process-notification ring buffer (`--events-buffer-size`).
    pub events_buffer: u32,
}

/// The warnings for `losses` (of one recording or interval), in which `events_sent`
/// process notifications reached userspace: a full stack map, a full counts map, and
/// more than [`EVENTS_LOST_WARN_PCT`] of the notifications lost.
pub fn loss_notes(losses: &Losses, events_sent: u64, caps: Capacities) -> Vec<String> {
    let get = |r: LossReason| losses.get(&r).copied().unwrap_or(0);
    let mut notes = Vec::new();
    let stacks = get(LossReason::KernelStackMapFull).saturating_add(get(LossReason::UserStackMapFull));
    if stacks > 0 {
        notes.push(format!(
            "{}{stacks} stacks lost (their samples kept with placeholder frames); \
             raise --stack-map-size (now {} entries)",
            PREFIXES[0], caps.stacks
        ));
    }
    let dropped = get(LossReason::CountsMapFull);
    if dropped > 0 {
        notes.push(format!(
            "{}{dropped} samples dropped; raise --counts-map-size (now {} entries)",
            PREFIXES[1], caps.counts
        ));
    }
    let lost = get(LossReason::EventsLost);
    let produced = events_sent.saturating_add(lost);
    if lost > 0 && u128::from(lost) * 100 > u128::from(produced) * u128::from(EVENTS_LOST_WARN_PCT) {
        notes.push(format!(
            "{}{lost} of {produced} ({:.1}%, the ring buffer was full before prof \
             read them); symbols of the processes they named may be missing or stale; raise \
             --events-buffer-size (now {} KiB)",
            PREFIXES[2],
            lost as f64 * 100.0 / produced as f64,
            caps.events_buffer / 1024
        ));
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn losses(pairs: &[(LossReason, u64)]) -> Losses {
        pairs.iter().copied().collect()
    }

    const CAPS: Capacities = Capacities { stacks: 64, counts: 16, events_buffer: 4096 };

    /// Lost notifications warn only above 5% of those produced: 4.9% and exactly 5% do not,
    /// 5.1% does, with the counts, the share and the option to raise.
    #[test]
    fn loss_notes_events_lost_threshold() {
        let events = |lost, sent| loss_notes(&losses(&[(LossReason::EventsLost, lost)]), sent, CAPS);
        assert!(events(49, 951).is_empty(), "4.9%");
        assert!(events(50, 950).is_empty(), "5.0%");
        assert!(events(0, 1000).is_empty());
        let notes = events(51, 949);
        assert_eq!(notes.len(), 1, "5.1%: {notes:?}");
        assert!(notes[0].starts_with("process notifications lost: 51 of 1000 (5.1%"), "{notes:?}");
        assert!(notes[0].contains("raise --events-buffer-size (now 4 KiB)"), "{notes:?}");
        // Nothing reached userspace at all.
        assert_eq!(events(3, 0).len(), 1);
        // Counts read from files may be anything: no overflow.
        assert_eq!(events(u64::MAX, u64::MAX).len(), 1);
    }

    /// Full stack and counts maps each give one note with the loss count and the option.
    #[test]
    fn loss_notes_full_maps_name_count_and_option() {
        let notes = loss_notes(
            &losses(&[
                (LossReason::UserStackMapFull, 30),
                (LossReason::KernelStackMapFull, 12),
                (LossReason::CountsMapFull, 7),
                (LossReason::UserStackFault, 99),
            ]),
            0,
            CAPS,
        );
        assert_eq!(
            notes,
            [
                "stack map full: 42 stacks lost (their samples kept with placeholder frames); \
                 raise --stack-map-size (now 64 entries)",
                "counts map full; 7 samples dropped; raise --counts-map-size (now 16 entries)",
            ]
        );
        assert!(notes.iter().all(|n| is_loss_warning(n)));
        assert!(!is_loss_warning("hardware cycles unavailable, used cpu-clock"));
        assert!(loss_notes(&losses(&[(LossReason::UserStackFault, 5)]), 0, CAPS).is_empty());
    }
}
