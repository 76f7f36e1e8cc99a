//! How much of a profile's Python processes has Python frames: the processes with at least one
//! sample holding a Python frame ([`Frame::is_python`](super::Frame::is_python)), and for each the share of its samples
//! that hold one (the rest ran before prof found the interpreter, in threads that never ran
//! Python, or lost the walk). Computed from the profile itself, so it reads the same from a
//! recording, an archive or a pprof file.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::unwind::pct;
use super::Profile;

/// One process that ran Python.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PythonProcessShare {
    /// Its process id (0 when the profile does not know it, e.g. folded input).
    pub pid: u32,
    /// Its thread name with the most samples.
    pub comm: String,
    /// All of its samples (weight).
    pub samples: u64,
    /// Those with Python frames.
    pub with_python: u64,
}

/// The processes of `profile` that ran Python, most samples first.
pub fn python_processes(profile: &Profile) -> Vec<PythonProcessShare> {
    let has_python: Vec<bool> = profile
        .stacks
        .iter()
        .map(|stack| stack.iter().any(|&f| profile.frames.get(f as usize).is_some_and(|f| f.is_python())))
        .collect();
    // Per pid: samples, with Python frames, samples per comm.
    let mut per_pid: BTreeMap<u32, (u64, u64, BTreeMap<&str, u64>)> = BTreeMap::new();
    for s in &profile.samples {
        let entry = per_pid.entry(s.pid).or_default();
        entry.0 = entry.0.saturating_add(s.count);
        if has_python.get(s.stack as usize).copied().unwrap_or(false) {
            entry.1 = entry.1.saturating_add(s.count);
        }
        let comm = entry.2.entry(s.comm.as_str()).or_default();
        *comm = comm.saturating_add(s.count);
    }
    let mut out: Vec<PythonProcessShare> = per_pid
        .into_iter()
        .filter(|(_, (_, with_python, _))| *with_python > 0)
        .map(|(pid, (samples, with_python, comms))| {
            let comm = comms.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))).map(|(c, _)| c.to_string());
            PythonProcessShare { pid, comm: comm.unwrap_or_default(), samples, with_python }
        })
        .collect();
    out.sort_by(|a, b| b.samples.cmp(&a.samples).then(a.pid.cmp(&b.pid)));
    out
}

/// The processes' totals as a phrase: `1641 of 1810 samples of 1 Python process with Python
/// frames (90.7%)`.
pub fn python_totals(processes: &[PythonProcessShare]) -> String {
    let samples = processes.iter().fold(0u64, |sum, p| sum.saturating_add(p.samples));
    let with_python = processes.iter().fold(0u64, |sum, p| sum.saturating_add(p.with_python));
    let noun = if processes.len() == 1 { "process" } else { "processes" };
    format!(
        "{with_python} of {samples} samples of {} Python {noun} with Python frames ({:.1}%)",
        processes.len(),
        pct(with_python, samples)
    )
}

/// The report's Python lines: the totals, then one line per process (`limit` at most).
pub fn render_python(processes: &[PythonProcessShare], limit: usize) -> String {
    let mut out = String::new();
    if processes.is_empty() {
        return out;
    }
    let _ = writeln!(out, "python: {}", python_totals(processes));
    let _ = writeln!(out, "{:>9} {:>9} {:>9}  comm", "pid", "samples", "python");
    for p in processes.iter().take(limit) {
        let share = format!("{:.1}%", pct(p.with_python, p.samples));
        let _ = writeln!(out, "{:>9} {:>9} {:>9}  {}", p.pid, p.samples, share, p.comm);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{Frame, FrameKind, ProfileBuilder};

    /// Only processes with a Python frame are listed, each with the share of its samples that
    /// have one; the totals add them up.
    #[test]
    fn python_share_per_process() {
        let mut b = ProfileBuilder::new(crate::profile::Metadata::default());
        let native = b.frame(Frame::new("_PyEval_EvalFrameDefault", "python3.11", FrameKind::User));
        let py = b.frame(Frame::python("main", "/app/x.py", 3));
        let with = b.stack(vec![native, py]);
        let without = b.stack(vec![native]);
        b.add_thread(with, 10, 10, "python3", 9);
        b.add_thread(without, 10, 11, "worker", 1);
        b.add_thread(without, 20, 20, "bash", 5);
        let profile = b.finish();
        let procs = python_processes(&profile);
        assert_eq!(procs, [PythonProcessShare { pid: 10, comm: "python3".into(), samples: 10, with_python: 9 }]);
        assert_eq!(python_totals(&procs), "9 of 10 samples of 1 Python process with Python frames (90.0%)");
        let text = render_python(&procs, 5);
        assert!(text.lines().any(|l| l.contains("90.0%") && l.ends_with("python3")), "{text}");
        assert_eq!(render_python(&[], 5), "");
    }
}
