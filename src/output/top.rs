//! The top functions table: for each function, the share of samples spent in it (self) and in
//! it or anything it called (total).
//!
//! A function is a (name, module, kind) triple, whatever source line or inlining site its frames
//! had; an inlined function is its own function, not part of the one it was inlined into.
//! Placeholders such as `[missing user stack]` are listed like functions, so lost stacks show.
//! The comm at a stack's root is not a function.

use std::collections::HashMap;
use std::io::{self, Write};

use crate::profile::{FrameKind, Profile};

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

/// The `n` functions with the most self samples, then the most total samples, then by name,
/// module and kind, so the order is fully deterministic.
pub fn top(profile: &Profile, n: usize) -> Vec<TopRow> {
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
        b_self
            .cmp(a_self)
            .then(b_total.cmp(a_total))
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.module.cmp(&b.module))
            .then(a.kind.cmp(&b.kind))
    });
    rows.into_iter().take(n).map(|(_, _, row)| row).collect()
}

/// Writes `rows` as aligned columns `SELF%  TOTAL%  FUNCTION  MODULE`, percentages with two
/// decimals, then a line with `total_samples`. Control characters in names are shown as spaces so
/// that symbol names cannot drive the terminal; an empty name is shown as `[unknown]`, an unknown
/// module as `[kernel]` for kernel functions and `-` otherwise.
pub fn write_table(rows: &[TopRow], total_samples: u64, mut w: impl Write) -> io::Result<()> {
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
    writeln!(w, "{total_samples} samples in total")
}

/// `s` with control characters replaced by spaces.
fn printable(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}
