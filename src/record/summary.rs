//! The end-of-recording summary that `prof record` prints: what was recorded, samples, the
//! notes and loss warnings (with the option that fixes each), losses by reason with
//! percentages, how user stacks were walked, how many samples of Python processes have Python
//! frames, the top functions, the files written.
//! The text goes to root's terminal, and the target, notes, function and module names and paths
//! in it come from other users' processes and binaries: each is shown with its control
//! characters escaped ([`escape_controls`]), so none can drive the terminal or forge a line.

use std::fmt::Write as _;

use super::loss_notes::is_loss_warning;
use super::{EndReason, Recording};
use crate::output::text::{escape_controls, noun_for};
use crate::output::top;
use crate::profile::python::{python_processes, python_totals};
use crate::profile::unwind::UnwindMode;
use crate::profile::LossReason;

fn pct(n: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        n as f64 * 100.0 / total as f64
    }
}

/// The end-of-recording summary: what was recorded, samples, losses by reason with
/// percentages, the top functions by self time, and the files written.
pub fn summary(rec: &Recording, written: &[String], top_n: usize) -> String {
    let p = &rec.profile;
    let m = &p.meta;
    let mut s = String::new();
    let cpus = if m.cpus.is_empty() { "?".to_string() } else { m.cpus.len().to_string() };
    let rate = if m.frequency_hz > 0 { format!(" at {} Hz", m.frequency_hz) } else { String::new() };
    let amount = if m.weight_unit.is_count() {
        format!("{} {}", m.total_samples, noun_for(m.total_samples, "sample"))
    } else {
        m.amount(m.total_samples)
    };
    let _ = writeln!(
        s,
        "prof: recorded {} for {:.1} s: {amount} from {} {} ({}{rate} on {cpus} {})",
        escape_controls(&m.target),
        m.duration_secs(),
        rec.processes,
        noun_for(rec.processes as u64, "process"),
        m.event,
        noun_for(m.cpus.len() as u64, "CPU"),
    );
    match &rec.ended_by {
        EndReason::CommandExited { status, .. } => {
            let _ = writeln!(s, "  command exited: {}", escape_controls(status));
        }
        EndReason::TargetsExited => {
            let _ = writeln!(s, "  every process given with -p exited: recording ended");
        }
        EndReason::Signal => {
            let _ = writeln!(s, "  stopped by signal; all samples up to the signal are kept");
        }
        EndReason::Duration => {}
    }
    if rec.command_stopped {
        let why = if rec.ended_by == EndReason::Duration { "the duration (-d) elapsed" } else { "prof was stopped" };
        let _ = writeln!(s, "  {why} while the command was still running: it was sent SIGTERM");
    }
    for note in &m.notes {
        // Loss warnings, and notes that are warnings themselves (e.g. a perf map refused).
        let line = match note.strip_prefix("warning: ") {
            Some(rest) => format!("warning: {rest}"),
            None if is_loss_warning(note) => format!("warning: {note}"),
            None => format!("note: {note}"),
        };
        let _ = writeln!(s, "  {}", escape_controls(&line));
    }
    loss_lines(&mut s, m);
    if !m.unwind.is_empty() {
        if m.unwind.modes.only() == Some(UnwindMode::Fp) {
            let _ = writeln!(
                s,
                "  frame pointers (--unwind fp): {}; per binary: `prof report --unwind-report`",
                m.unwind.completeness()
            );
        } else {
            let (samples, complete) = m.unwind.totals();
            let of = if m.weight_unit.is_count() {
                format!("{complete} of {samples}")
            } else {
                format!("{} of {}", m.weight_unit.amount(complete), m.amount(samples))
            };
            let _ = writeln!(
                s,
                "  user stacks ({}): {of} unwound completely ({:.1}%), tables {:.1} MiB in the kernel at the peak; per binary: `prof report --unwind-report`",
                m.unwind.modes,
                pct(complete, samples),
                rec.unwind_table_bytes as f64 / (1024.0 * 1024.0),
            );
        }
        if let Some(line) = handed_over_line(&rec.handed_over) {
            let _ = writeln!(s, "  {line}");
        }
    }
    let python = python_processes(p);
    if !python.is_empty() {
        let _ = writeln!(s, "  python: {}; per process: `prof report --unwind-report`", python_totals(&python));
    }
    let rows: Vec<_> = top::top(p, top_n).into_iter().filter(|r| r.self_count > 0).collect();
    if !rows.is_empty() {
        let _ = writeln!(s, "  top functions by self time:");
        for r in rows {
            let _ =
                writeln!(s, "    {:6.2}%  {}  {}", r.self_pct, escape_controls(&r.name), escape_controls(&r.module));
        }
    }
    for w in written {
        let _ = writeln!(s, "  wrote {}", escape_controls(w));
    }
    s
}

/// One line per loss reason: per-sample losses with their share of the samples (off-CPU: the
/// blocks, which are not nanoseconds, without a share), then the others.
fn loss_lines(s: &mut String, m: &crate::profile::Metadata) {
    let per_sample: Vec<(&LossReason, &u64)> = m.losses.iter().filter(|(r, _)| r.is_per_sample()).collect();
    if per_sample.is_empty() {
        let _ = writeln!(s, "  lost: none (every sample kept its full stack)");
    } else {
        for (reason, n) in per_sample {
            let kept = if reason.drops_sample() { "sample dropped" } else { "sample kept with a placeholder frame" };
            if m.weight_unit.is_count() {
                let _ = writeln!(s, "  lost: {n} ({:.2}%) {} ({kept})", pct(*n, m.total_samples), reason.describe());
            } else {
                // Off-CPU losses count blocks (switches), not nanoseconds: no share of the total.
                let _ = writeln!(s, "  lost: {n} {} ({})", noun_for(*n, "block"), reason.describe());
            }
        }
    }
    for (reason, n) in m.losses.iter().filter(|(r, _)| !r.is_per_sample()) {
        // Lost notifications are a warning (in the notes) only above a share of all of them.
        let label = match reason {
            LossReason::EventsLost => "events",
            LossReason::OffCpuShort => "skipped",
            _ => "warning",
        };
        let _ = writeln!(s, "  {label}: {n} {}", reason.describe());
    }
}

/// What became of the samples the kernel handed over (their walk reached a table being built,
/// or code mapped since the mappings were read); None when there were none.
fn handed_over_line(h: &super::HandedOver) -> Option<String> {
    if h.finished == 0 && h.buffer_full == 0 {
        return None;
    }
    let mut line = format!(
        "handed over: {} {} code whose unwind table was being built (or just mapped), unwound in userspace once it was ready",
        h.finished,
        if h.finished == 1 { "sample reached" } else { "samples reached" }
    );
    if h.without_table > 0 {
        let _ = write!(line, " ({} without it: the recording ended or too many waited)", h.without_table);
    }
    if h.buffer_full > 0 {
        let _ = write!(line, "; {} walked with frame pointers (the hand-over buffer was full)", h.buffer_full);
    }
    Some(line)
}
