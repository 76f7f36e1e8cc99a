//! How user stacks were walked: the [`UnwindMode`] a recording used, how each walk ended
//! ([`UnwindStatus`]), and the per-binary unwind report: for each binary, how many samples were
//! taken in it, how many of those stacks were unwound to the outermost frame, and where and why the
//! others stopped. It is stored in archives (section `UNWD`), merged across intervals, and printed
//! by `prof record` and `prof report --unwind-report`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::str::FromStr;

/// How user stacks are walked (`prof record --unwind`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum UnwindMode {
    /// Unwind tables where a binary has them, frame pointers elsewhere (the default).
    #[default]
    Auto,
    /// Frame pointers only, with the kernel's walker (`bpf_get_stack`): cheapest, but stacks
    /// through code built without frame pointers stop early.
    Fp,
    /// Unwind tables only: a PC without one ends the stack (for diagnosing tables).
    Dwarf,
}

impl UnwindMode {
    /// Every mode.
    pub const ALL: [UnwindMode; 3] = [UnwindMode::Auto, UnwindMode::Fp, UnwindMode::Dwarf];

    /// The name used on the command line and in archives.
    pub fn name(self) -> &'static str {
        match self {
            UnwindMode::Auto => "auto",
            UnwindMode::Fp => "fp",
            UnwindMode::Dwarf => "dwarf",
        }
    }

    /// Parses a name (the inverse of [`UnwindMode::name`]).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// The unwind modes a profile's samples were recorded with: none when not known (folded
/// input, archives without an unwind report), one for a recording, several when profiles of
/// different modes were merged, in the order they were first merged.
///
/// Shown (and stored in archives) as the names joined by `+`: `auto`, `auto+fp`, or the empty
/// string when not known.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnwindModes(Vec<UnwindMode>);

impl UnwindModes {
    /// No mode known.
    pub fn new() -> Self {
        UnwindModes(Vec::new())
    }

    /// True when no mode is known.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The modes, in the order they were added.
    pub fn as_slice(&self) -> &[UnwindMode] {
        &self.0
    }

    /// The mode when there is exactly one, `None` when none is known or modes were mixed.
    pub fn only(&self) -> Option<UnwindMode> {
        match self.0.as_slice() {
            [mode] => Some(*mode),
            _ => None,
        }
    }

    /// Adds `mode` after the others, unless it is already there.
    pub fn insert(&mut self, mode: UnwindMode) {
        if !self.0.contains(&mode) {
            self.0.push(mode);
        }
    }

    /// Adds the modes of `other` that are not there yet, in their order, after these.
    pub fn merge(&mut self, other: &UnwindModes) {
        other.0.iter().for_each(|&m| self.insert(m));
    }
}

impl From<UnwindMode> for UnwindModes {
    fn from(mode: UnwindMode) -> Self {
        UnwindModes(vec![mode])
    }
}

impl std::fmt::Display for UnwindModes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, mode) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("+")?;
            }
            f.write_str(mode.name())?;
        }
        Ok(())
    }
}

/// A mode name that is not one of [`UnwindMode::name`]'s.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown unwind mode `{}`", .0.escape_debug())]
pub struct UnknownUnwindMode(pub String);

impl FromStr for UnwindModes {
    type Err = UnknownUnwindMode;

    /// Parses what [`Display`](std::fmt::Display) writes: empty, or names joined by `+`. A mode
    /// named twice is kept once (prof before typed modes could write `auto+fp+auto`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut modes = UnwindModes::new();
        if s.is_empty() {
            return Ok(modes);
        }
        for name in s.split('+') {
            modes.insert(UnwindMode::from_name(name).ok_or_else(|| UnknownUnwindMode(name.to_string()))?);
        }
        Ok(modes)
    }
}

/// How a user stack's walk ended. The ids are stable: they are stored in archives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UnwindStatus {
    /// Walked by the kernel's frame-pointer walker (`--unwind fp`): the end is not known.
    KernelFp,
    /// Reached the outermost frame.
    Complete,
    /// A PC without unwind information where frame pointers did not lead on either.
    NoInfo,
    /// A call-frame rule the in-kernel walker cannot evaluate.
    Unsupported,
    /// Reading the stack failed.
    ReadFault,
    /// Deeper than the frame limit.
    TooDeep,
    /// The next frame was not above the current one.
    BadFrame,
    /// The walk was finished in userspace over a copy of the stack (the sample was taken while
    /// a table it needed was being built) and the copy ended before the outermost frame.
    CopyEnd,
    /// A status the BPF program reported that this prof does not know: the program and prof
    /// disagree about `enum prof_unwind_status` (bpf/profile.h).
    Unknown,
}

impl UnwindStatus {
    /// Every status, in display order.
    pub const ALL: [UnwindStatus; 9] = [
        UnwindStatus::KernelFp,
        UnwindStatus::Complete,
        UnwindStatus::NoInfo,
        UnwindStatus::Unsupported,
        UnwindStatus::ReadFault,
        UnwindStatus::TooDeep,
        UnwindStatus::BadFrame,
        UnwindStatus::CopyEnd,
        UnwindStatus::Unknown,
    ];

    /// The stable identifier stored in archives.
    pub fn id(self) -> &'static str {
        match self {
            UnwindStatus::KernelFp => "kernel_fp",
            UnwindStatus::Complete => "complete",
            UnwindStatus::NoInfo => "no_unwind_info",
            UnwindStatus::Unsupported => "unsupported_rule",
            UnwindStatus::ReadFault => "read_fault",
            UnwindStatus::TooDeep => "too_deep",
            UnwindStatus::BadFrame => "bad_frame",
            UnwindStatus::CopyEnd => "stack_copy_end",
            UnwindStatus::Unknown => "unknown",
        }
    }

    /// Parses a stable identifier.
    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.id() == id)
    }

    /// A human description for reports.
    pub fn describe(self) -> &'static str {
        match self {
            UnwindStatus::KernelFp => "frame pointers (kernel walker, end not known)",
            UnwindStatus::Complete => "complete",
            UnwindStatus::NoInfo => "no unwind info and no frame pointer",
            UnwindStatus::Unsupported => "unsupported CFI rule",
            UnwindStatus::ReadFault => "stack read fault",
            UnwindStatus::TooDeep => "too deep",
            UnwindStatus::BadFrame => "bad frame (stack went backwards)",
            UnwindStatus::CopyEnd => "end of the stack copied while its table was built",
            UnwindStatus::Unknown => "unknown (BPF program and prof disagree)",
        }
    }
}

/// Functions a complete user stack ends in (its outermost frame): a program's entry and libc's
/// start-up code around `main`, a thread's start in libc or the kernel's `clone`, the Go
/// runtime's goroutine and thread roots. With `--unwind fp` the kernel's walker gives no end
/// reason, so a stack counts as complete when its outermost frame, once symbolized, is one of
/// these ([`is_entry_point`]).
pub const ENTRY_POINTS: &[&str] = &[
    "_start",
    "_dl_start_user",
    "__libc_start_main",
    "__libc_start_main_impl",
    "__libc_start_call_main",
    "libc_start_main_stage2",
    "start_thread",
    "clone",
    "__clone",
    "clone3",
    "__clone3",
    "__clone_internal",
    "runtime.goexit",
    "runtime.goexit.abi0",
    "runtime.rt0_go",
    "runtime.rt0_go.abi0",
    "runtime.mstart",
    "runtime.mstart.abi0",
];

/// True when a stack whose outermost frame is the function `name` was walked to its start:
/// `name` is one of [`ENTRY_POINTS`].
pub fn is_entry_point(name: &str) -> bool {
    ENTRY_POINTS.contains(&name)
}

/// Unwinding figures of one binary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BinaryUnwind {
    /// Samples whose innermost user frame is in this binary.
    pub samples: u64,
    /// Of those, samples whose stack was unwound to the outermost frame (with `--unwind fp`,
    /// where the kernel's walker does not say: whose outermost frame is an entry point, see
    /// [`is_entry_point`]).
    pub complete: u64,
    /// Of those, samples whose innermost frame has no symbol (`module+0x…`: a stripped binary
    /// without `.symtab`, or code no symbol covers).
    pub unsymbolized: u64,
    /// Samples whose walk stopped in this binary (its outermost recorded frame), by reason.
    pub stopped: BTreeMap<UnwindStatus, u64>,
    /// Its unwind table: `.eh_frame (1234 rows)`, `none: frame pointers`, or why it was not
    /// loaded; empty when not known (e.g. `--unwind fp`).
    pub table: String,
}

/// Unwinding figures of a profile, per binary (module name).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnwindReport {
    /// How the stacks were walked (several after merging profiles of different modes).
    pub modes: UnwindModes,
    /// Per module name.
    pub binaries: BTreeMap<String, BinaryUnwind>,
}

impl UnwindReport {
    /// Counts `count` samples whose innermost user frame is in `leaf` (with a symbol or not)
    /// and whose walk ended with `status` in `outermost`.
    pub fn add(&mut self, leaf: &str, leaf_symbolized: bool, outermost: &str, status: UnwindStatus, count: u64) {
        let b = self.binaries.entry(leaf.to_string()).or_default();
        b.samples = b.samples.saturating_add(count);
        if !leaf_symbolized {
            b.unsymbolized = b.unsymbolized.saturating_add(count);
        }
        if status == UnwindStatus::Complete {
            b.complete = b.complete.saturating_add(count);
        }
        if !matches!(status, UnwindStatus::Complete | UnwindStatus::KernelFp) {
            let o = self.binaries.entry(outermost.to_string()).or_default();
            let n = o.stopped.entry(status).or_default();
            *n = n.saturating_add(count);
        }
    }

    /// Adds another report's figures (e.g. the next interval of a continuous recording).
    pub fn merge(&mut self, other: &UnwindReport) {
        self.modes.merge(&other.modes);
        for (name, o) in &other.binaries {
            let b = self.binaries.entry(name.clone()).or_default();
            b.samples = b.samples.saturating_add(o.samples);
            b.complete = b.complete.saturating_add(o.complete);
            b.unsymbolized = b.unsymbolized.saturating_add(o.unsymbolized);
            for (s, n) in &o.stopped {
                let v = b.stopped.entry(*s).or_default();
                *v = v.saturating_add(*n);
            }
            if b.table.is_empty() {
                b.table = o.table.clone();
            }
        }
    }

    /// True when there is nothing to report.
    pub fn is_empty(&self) -> bool {
        self.binaries.is_empty()
    }

    /// Samples in all binaries, and how many were unwound completely.
    pub fn totals(&self) -> (u64, u64) {
        self.binaries
            .values()
            .fold((0u64, 0u64), |(s, c), b| (s.saturating_add(b.samples), c.saturating_add(b.complete)))
    }

    /// How many user stacks were complete, as a phrase: `711 of 730 user stacks complete
    /// (97.4%)`; with `--unwind fp` only, where completeness is judged from the outermost
    /// frame ([`is_entry_point`]), `… user stacks reach an entry point (…)` instead.
    pub fn completeness(&self) -> String {
        let (samples, complete) = self.totals();
        let how = if self.modes.only() == Some(UnwindMode::Fp) { "reach an entry point" } else { "complete" };
        format!("{complete} of {samples} user stacks {how} ({:.1}%)", pct(complete, samples))
    }

    /// The report as a table, binaries with the most samples first (`limit` rows at most).
    pub fn render(&self, limit: usize) -> String {
        let mut rows: Vec<(&String, &BinaryUnwind)> = self.binaries.iter().collect();
        rows.sort_by(|a, b| {
            let weight = |x: &BinaryUnwind| x.stopped.values().fold(x.samples, |sum, &n| sum.saturating_add(n));
            weight(b.1).cmp(&weight(a.1)).then(a.0.cmp(b.0))
        });
        let mut out = String::new();
        let _ = writeln!(
            out,
            "unwinding ({}): {}",
            if self.modes.is_empty() { "?".to_string() } else { self.modes.to_string() },
            self.completeness()
        );
        let _ = writeln!(
            out,
            "{:>9} {:>9} {:>9}  {:<28} {:<34} stopped here",
            "samples", "complete", "no symbol", "binary", "unwind table"
        );
        for (name, b) in rows.into_iter().take(limit) {
            let stopped: Vec<String> = b.stopped.iter().map(|(s, n)| format!("{n} {}", s.describe())).collect();
            let complete = format!("{:.1}%", pct(b.complete, b.samples));
            let _ = writeln!(
                out,
                "{:>9} {:>9} {:>9}  {:<28} {:<34} {}",
                b.samples,
                complete,
                format!("{:.1}%", pct(b.unsymbolized, b.samples)),
                name,
                if b.table.is_empty() { "-" } else { &b.table },
                stopped.join(", ")
            );
        }
        out
    }
}

/// `n` as a percentage of `total` (0 when `total` is).
pub(super) fn pct(n: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        100.0 * n as f64 / total as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Samples count for the leaf binary; a stop is charged to the outermost binary; merging
    /// adds up.
    #[test]
    fn unwind_report_counts_and_merges() {
        let mut r = UnwindReport { modes: UnwindMode::Auto.into(), ..Default::default() };
        r.add("app", true, "app", UnwindStatus::Complete, 90);
        r.add("libc.so.6", false, "libfoo.so", UnwindStatus::NoInfo, 10);
        assert_eq!(r.binaries["libc.so.6"].unsymbolized, 10);
        assert_eq!(r.binaries["app"].complete, 90);
        assert_eq!(r.binaries["libc.so.6"].samples, 10);
        assert_eq!(r.binaries["libfoo.so"].stopped[&UnwindStatus::NoInfo], 10);
        let mut m = r.clone();
        m.merge(&r);
        assert_eq!(m.totals(), (200, 180));
        let text = m.render(10);
        assert!(text.contains("180 of 200 user stacks complete (90.0%)"), "{text}");
        assert!(text.contains("20 no unwind info and no frame pointer"), "{text}");
    }

    /// With `--unwind fp` completeness is told as stacks reaching an entry point, with its
    /// share per binary; the entry points are told from other functions by exact name.
    #[test]
    fn unwind_report_fp_mode_counts_entry_points() {
        let mut r = UnwindReport { modes: UnwindMode::Fp.into(), ..Default::default() };
        r.add("app", true, "libc.so.6", UnwindStatus::Complete, 3);
        r.add("app", true, "app", UnwindStatus::KernelFp, 1);
        let text = r.render(10);
        assert!(text.starts_with("unwinding (fp): 3 of 4 user stacks reach an entry point"), "{text}");
        assert!(text.lines().any(|l| l.contains("75.0%") && l.contains("app")), "{text}");
        assert_eq!(r.binaries.len(), 1, "an fp walk's end is not charged to its outermost binary: {text}");
        for name in ["_start", "__libc_start_call_main", "start_thread", "clone3", "runtime.goexit"] {
            assert!(is_entry_point(name), "{name}");
        }
        for name in ["main", "_start2", "start", "[unknown]+0x10", ""] {
            assert!(!is_entry_point(name), "{name}");
        }
    }

    /// Modes merge in the order the old `a+b` strings had, print and parse as those strings,
    /// and an unknown name is an error that names it.
    #[test]
    fn unwind_modes_merge_print_and_parse() {
        let parse = |s: &str| s.parse::<UnwindModes>();
        let mut m = UnwindModes::new();
        assert_eq!(m.to_string(), "");
        m.merge(&UnwindMode::Auto.into());
        m.merge(&UnwindMode::Fp.into());
        m.merge(&UnwindMode::Fp.into());
        assert_eq!(m.to_string(), "auto+fp");
        assert_eq!(m.only(), None);
        let mut d = UnwindModes::from(UnwindMode::Dwarf);
        d.merge(&m);
        assert_eq!(d.to_string(), "dwarf+auto+fp");
        for s in ["", "auto", "fp", "dwarf", "auto+fp", "dwarf+auto+fp"] {
            assert_eq!(parse(s).map(|m| m.to_string()).as_deref(), Ok(s));
        }
        assert_eq!(parse("fp").map(|m| m.only()), Ok(Some(UnwindMode::Fp)));
        assert_eq!(parse("auto+fp+auto").map(|m| m.to_string()).as_deref(), Ok("auto+fp"));
        assert_eq!(parse("lbr"), Err(UnknownUnwindMode("lbr".into())));
        assert_eq!(parse("auto+"), Err(UnknownUnwindMode(String::new())));
        for mode in UnwindMode::ALL {
            assert_eq!(UnwindMode::from_name(mode.name()), Some(mode));
        }
        assert_eq!(UnwindMode::from_name("AUTO"), None);
    }
}
