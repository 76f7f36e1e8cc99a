//! The top functions table: for each function, the share of samples spent in it (self) and in
//! it or anything it called (total).
//!
//! A function is a (name, module, kind) triple, whatever source line or inlining site its frames
//! had; an inlined function is its own function, not part of the one it was inlined into.
//! Placeholders such as `[missing user stack]` are listed like functions, so lost stacks show.
//! The comm at a stack's root is not a function.

use std::collections::HashMap;
use std::io::{self, Write};

use crate::profile::{CgroupGrouping, FrameKind, Profile, WeightUnit};

/// Widest the function column is padded to; longer names push the module column right.
const MAX_NAME_WIDTH: usize = 60;

/// One function of the table.
#[derive(Clone, Debug, PartialEq)]
pub struct TopRow {
    /// Samples whose innermost frame is this function (saturating at `u64::MAX`).
    pub self_count: u64,
    /// Samples with this function anywhere on the stack (once per stack, even when recursive;
    /// saturating at `u64::MAX`).
    pub total_count: u64,
    /// `self_count` as a percentage of all samples.
    pub self_pct: f64,
    /// `total_count` as a percentage of all samples.
    pub total_pct: f64,
    /// Function name.
    pub name: String,
    /// Module (binary) name; empty when unknown.
    pub module: String,
    /// User, kernel or placeholder.
    pub kind: FrameKind,
}

/// How the rows of a table are ordered (`--sort`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TopSort {
    /// Most self samples first (then most total samples, then by name).
    #[default]
    SelfSamples,
    /// Most total samples first (then most self samples, then by name).
    Total,
    /// By name, then module and kind (alphabetical, byte order).
    Name,
}

/// What the rows of a table are (`--by`): functions, or samples grouped by process or module.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TopBy {
    /// One row per function (the default table).
    #[default]
    Function,
    /// One row per comm (thread name), like `perf report --sort comm`.
    Comm,
    /// One row per process id, like `perf report --sort pid`.
    Pid,
    /// One row per thread id, like `perf report --sort tid` (0: thread not known).
    Tid,
    /// One row per module (binary) of the innermost frame, like `perf report --sort dso`.
    Module,
    /// One row per cgroup path, container or systemd unit (`[no …]` when not known).
    Cgroup(crate::profile::CgroupGrouping),
}

/// The table a report prints and writes in JSON: how many rows, in which order, of what.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableOptions {
    /// Most rows.
    pub rows: usize,
    /// Order of the rows.
    pub sort: TopSort,
    /// What a row is.
    pub by: TopBy,
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions { rows: 20, sort: TopSort::default(), by: TopBy::default() }
    }
}

/// The `n` functions with the most self samples, then the most total samples, then by name,
/// module and kind, so the order is fully deterministic.
pub fn top(profile: &Profile, n: usize) -> Vec<TopRow> {
    top_sorted(profile, n, TopSort::SelfSamples)
}

/// The first `n` functions in the order `sort`; ties are broken by the other counts, then by
/// name, module and kind, so the order is fully deterministic.
pub fn top_sorted(profile: &Profile, n: usize, sort: TopSort) -> Vec<TopRow> {
    // Map every frame to its function.
    let mut function_ids: HashMap<(&str, &str, FrameKind), usize> = HashMap::new();
    let mut functions: Vec<(&str, &str, FrameKind)> = Vec::new();
    let frame_function: Vec<usize> = profile
        .frames
        .iter()
        .map(|f| {
            let key = (f.name.as_str(), f.module.as_str(), f.kind);
            *function_ids.entry(key).or_insert_with(|| {
                functions.push(key);
                functions.len() - 1
            })
        })
        .collect();

    // Samples per stack, whatever the pid and comm. Sums are kept in u128: every sum of u64
    // counts over at most 2^64 samples fits, so shares stay exact even for counts near
    // u64::MAX (which a crafted input can hold), where saturating sums would all read 100%.
    let mut stack_counts = vec![0u128; profile.stacks.len()];
    for sample in &profile.samples {
        stack_counts[sample.stack as usize] += u128::from(sample.count);
    }

    let mut self_counts = vec![0u128; functions.len()];
    let mut total_counts = vec![0u128; functions.len()];
    let mut on_stack: Vec<usize> = Vec::new();
    for (stack, &count) in profile.stacks.iter().zip(&stack_counts) {
        if count == 0 {
            continue;
        }
        if let Some(&innermost) = stack.last() {
            self_counts[frame_function[innermost as usize]] += count;
        }
        on_stack.clear();
        on_stack.extend(stack.iter().map(|&frame| frame_function[frame as usize]));
        on_stack.sort_unstable();
        on_stack.dedup();
        for &f in &on_stack {
            total_counts[f] += count;
        }
    }

    let all: u128 = stack_counts.iter().sum();
    let pct = |count: u128| if all == 0 { 0.0 } else { count as f64 * 100.0 / all as f64 };
    // Rows are ordered by the exact sums; the counts shown saturate at u64::MAX.
    let shown = |count: u128| u64::try_from(count).unwrap_or(u64::MAX);
    let mut rows: Vec<(u128, u128, TopRow)> = functions
        .iter()
        .enumerate()
        .filter(|&(f, _)| total_counts[f] > 0)
        .map(|(f, &(name, module, kind))| {
            let row = TopRow {
                self_count: shown(self_counts[f]),
                total_count: shown(total_counts[f]),
                self_pct: pct(self_counts[f]),
                total_pct: pct(total_counts[f]),
                name: name.to_string(),
                module: module.to_string(),
                kind,
            };
            (self_counts[f], total_counts[f], row)
        })
        .collect();
    rows.sort_by(|(a_self, a_total, a), (b_self, b_total, b)| {
        let by_name = || a.name.cmp(&b.name).then_with(|| a.module.cmp(&b.module)).then(a.kind.cmp(&b.kind));
        match sort {
            TopSort::SelfSamples => b_self.cmp(a_self).then(b_total.cmp(a_total)).then_with(by_name),
            TopSort::Total => b_total.cmp(a_total).then(b_self.cmp(a_self)).then_with(by_name),
            TopSort::Name => by_name().then(b_self.cmp(a_self)),
        }
    });
    rows.into_iter().take(n).map(|(_, _, row)| row).collect()
}

/// One row of a grouped table (`--by comm|pid|module`).
#[derive(Clone, Debug, PartialEq)]
pub struct GroupRow {
    /// The comm, the pid, or the module's name (`[kernel]` for kernel code of unknown module,
    /// `[unknown]` for other code of unknown module, the placeholder's name for lost stacks).
    pub name: String,
    /// For a pid, its comm with the most samples; empty otherwise.
    pub detail: String,
    /// For a pid in another pid namespace (a container), its pid there; `None` otherwise,
    /// and for a process whose namespace pid is its host pid.
    pub ns_pid: Option<u32>,
    /// Samples of the group: of the process, or with the innermost frame in the module
    /// (saturating at `u64::MAX`).
    pub self_count: u64,
    /// Samples of the process, or with the module anywhere on the stack (once per stack).
    pub total_count: u64,
    /// `self_count` as a percentage of all samples.
    pub self_pct: f64,
    /// `total_count` as a percentage of all samples.
    pub total_pct: f64,
}

/// The first `n` groups of `profile` by `by` (comm, pid or module; [`TopBy::Function`] gives
/// nothing, see [`top_sorted`]) in the order `sort`, ties broken by name.
pub fn groups(profile: &Profile, by: TopBy, sort: TopSort, n: usize) -> Vec<GroupRow> {
    // (self, total, comms by samples for pids)
    let mut sums: std::collections::BTreeMap<String, (u128, u128, HashMap<String, u128>)> = Default::default();
    let mut add = |key: String, self_count: u128, total_count: u128, comm: Option<&str>| {
        let e = sums.entry(key).or_default();
        e.0 += self_count;
        e.1 += total_count;
        if let Some(comm) = comm {
            *e.2.entry(comm.to_string()).or_default() += self_count;
        }
    };
    let mut all = 0u128;
    match by {
        TopBy::Function => return Vec::new(),
        TopBy::Comm | TopBy::Pid | TopBy::Tid => {
            for s in &profile.samples {
                let count = u128::from(s.count);
                all += count;
                match by {
                    TopBy::Comm => add(printable(&s.comm), count, count, None),
                    TopBy::Tid => add(s.tid.to_string(), count, count, Some(&s.comm)),
                    _ => add(s.pid.to_string(), count, count, Some(&s.comm)),
                }
            }
        }
        TopBy::Cgroup(grouping) => {
            for s in &profile.samples {
                let count = u128::from(s.count);
                all += count;
                add(printable(&grouping.label(profile.cgroup_of(s))), count, count, None);
            }
        }
        TopBy::Module => {
            let module_names: Vec<String> = profile.frames.iter().map(module_label).collect();
            let mut stack_counts = vec![0u128; profile.stacks.len()];
            for sample in &profile.samples {
                stack_counts[sample.stack as usize] += u128::from(sample.count);
                all += u128::from(sample.count);
            }
            let mut on_stack: Vec<&str> = Vec::new();
            for (stack, &count) in profile.stacks.iter().zip(&stack_counts) {
                if count == 0 {
                    continue;
                }
                on_stack.clear();
                on_stack.extend(stack.iter().map(|&f| module_names[f as usize].as_str()));
                on_stack.sort_unstable();
                on_stack.dedup();
                let leaf = stack.last().map(|&f| module_names[f as usize].as_str());
                for &module in &on_stack {
                    add(module.to_string(), if Some(module) == leaf { count } else { 0 }, count, None);
                }
            }
        }
    }
    let pct = |count: u128| if all == 0 { 0.0 } else { count as f64 * 100.0 / all as f64 };
    let shown = |count: u128| u64::try_from(count).unwrap_or(u64::MAX);
    let mut rows: Vec<(u128, u128, GroupRow)> = sums
        .into_iter()
        .map(|(name, (self_count, total_count, comms))| {
            let detail = comms
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
                .map(|(comm, _)| printable(&comm))
                .unwrap_or_default();
            let ns_pid = match by {
                TopBy::Pid => name.parse().ok().and_then(|pid| profile.ns_pid_of(pid)),
                _ => None,
            };
            let row = GroupRow {
                name,
                detail,
                ns_pid,
                self_count: shown(self_count),
                total_count: shown(total_count),
                self_pct: pct(self_count),
                total_pct: pct(total_count),
            };
            (self_count, total_count, row)
        })
        .collect();
    // Pids sort by number when sorted by name.
    let name_key = |r: &GroupRow| (r.name.parse::<u64>().ok(), r.name.clone());
    rows.sort_by(|(a_self, a_total, a), (b_self, b_total, b)| match sort {
        TopSort::SelfSamples => {
            b_self.cmp(a_self).then(b_total.cmp(a_total)).then_with(|| name_key(a).cmp(&name_key(b)))
        }
        TopSort::Total => b_total.cmp(a_total).then(b_self.cmp(a_self)).then_with(|| name_key(a).cmp(&name_key(b))),
        TopSort::Name => name_key(a).cmp(&name_key(b)),
    });
    rows.into_iter().take(n).map(|(_, _, row)| row).collect()
}

/// The module column of a frame as tables show it: its module, `[kernel]` for kernel code of
/// unknown module, the placeholder's name for a lost stack, `[unknown]` otherwise; control
/// characters shown as spaces.
fn module_label(frame: &crate::profile::Frame) -> String {
    match (frame.module.is_empty(), frame.kind) {
        (false, _) => printable(&frame.module),
        (true, FrameKind::Kernel) => "[kernel]".to_string(),
        (true, FrameKind::Placeholder) => printable(&frame.name),
        (true, FrameKind::User) => "[unknown]".to_string(),
    }
}

/// Writes grouped `rows` as aligned columns `SELF%  TOTAL%  SAMPLES  COMM|PID|MODULE` (a pid's
/// busiest comm after it, and its pid in its own namespace in a `PID-NS` column when any row's
/// process runs in another pid namespace; `MS` instead of `SAMPLES` when the counts are
/// nanoseconds), then a
/// line with the total (`total`: its text, such as `1234 samples` or `4989.9 ms blocked`). Names
/// have control characters shown as spaces.
pub fn write_groups(rows: &[GroupRow], by: TopBy, total: &str, unit: WeightUnit, mut w: impl Write) -> io::Result<()> {
    let ns_column = rows.iter().any(|r| r.ns_pid.is_some());
    let heading = match by {
        TopBy::Comm => "COMM",
        TopBy::Pid if ns_column => "PID     PID-NS  COMM",
        TopBy::Pid => "PID     COMM",
        TopBy::Tid => "TID     COMM",
        TopBy::Module => "MODULE",
        TopBy::Function => "FUNCTION",
        TopBy::Cgroup(CgroupGrouping::Cgroup) => "CGROUP",
        TopBy::Cgroup(CgroupGrouping::Container) => "CONTAINER",
        TopBy::Cgroup(CgroupGrouping::Unit) => "UNIT",
    };
    let amount = |n: u64| match unit {
        WeightUnit::Samples => n.to_string(),
        WeightUnit::Nanoseconds => format!("{:.1}", n as f64 / 1e6),
    };
    let column = if unit.is_count() { "SAMPLES" } else { "MS" };
    let width = rows.iter().map(|r| amount(r.self_count).len()).max().unwrap_or(0).max(7);
    writeln!(w, "{:>6}  {:>6}  {column:>width$}  {heading}", "SELF%", "TOTAL%")?;
    for r in rows {
        let name = match (r.detail.is_empty(), ns_column) {
            (true, _) => r.name.clone(),
            (false, false) => format!("{:<7} {}", r.name, r.detail),
            (false, true) => {
                let ns = r.ns_pid.map_or_else(|| "-".to_string(), |n| n.to_string());
                format!("{:<7} {ns:<7} {}", r.name, r.detail)
            }
        };
        writeln!(w, "{:>6.2}  {:>6.2}  {:>width$}  {name}", r.self_pct, r.total_pct, amount(r.self_count))?;
    }
    writeln!(w, "{total} in total")
}

/// Writes `rows` as aligned columns `SELF%  TOTAL%  FUNCTION  MODULE`, percentages with two
/// decimals, then a line with `total_samples`. Control and bidirectional formatting characters
/// in names are shown as spaces so that symbol names cannot drive or reorder the terminal; an empty name is shown as `[unknown]`, an unknown
/// module as `[kernel]` for kernel functions and `-` otherwise.
pub fn write_table(rows: &[TopRow], total_samples: u64, w: impl Write) -> io::Result<()> {
    write_table_in(rows, &WeightUnit::Samples.amount(total_samples), w)
}

/// [`write_table`] with the total given as text: the last line is `TOTAL in total`
/// (`4989.9 ms blocked in total` for an off-CPU profile).
pub fn write_table_in(rows: &[TopRow], total: &str, mut w: impl Write) -> io::Result<()> {
    let names: Vec<String> =
        rows.iter().map(|r| if r.name.is_empty() { "[unknown]".to_string() } else { printable(&r.name) }).collect();
    let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0).clamp(8, MAX_NAME_WIDTH);
    writeln!(w, "{:>6}  {:>6}  {:<width$}  MODULE", "SELF%", "TOTAL%", "FUNCTION")?;
    for (row, name) in rows.iter().zip(&names) {
        let module = match (row.module.is_empty(), row.kind) {
            (false, _) => printable(&row.module),
            (true, FrameKind::Kernel) => "[kernel]".to_string(),
            (true, _) => "-".to_string(),
        };
        writeln!(w, "{:>6.2}  {:>6.2}  {name:<width$}  {module}", row.self_pct, row.total_pct)?;
    }
    writeln!(w, "{total} in total")
}

/// Writes the table `opts` asks for: functions ([`write_table`]) or groups
/// ([`write_groups`]), with the profile's total.
pub fn write_report(profile: &Profile, opts: &TableOptions, w: impl Write) -> io::Result<()> {
    let unit = profile.meta.weight_unit;
    let total = profile.meta.amount(profile.total());
    match opts.by {
        TopBy::Function => write_table_in(&top_sorted(profile, opts.rows, opts.sort), &total, w),
        by => write_groups(&groups(profile, by, opts.sort, opts.rows), by, &total, unit, w),
    }
}

/// `s` with control characters and bidirectional formatting characters
/// ([`super::text::is_unsafe`]) replaced by spaces.
fn printable(s: &str) -> String {
    s.chars().map(|c| if super::text::is_unsafe(c) { ' ' } else { c }).collect()
}
