//! The table of `prof top`: one row per function and process name, with its self and total
//! shares of the window, sorted and filtered as the user chose.
//!
//! A function is a (name, module, kind) triple, as in `prof report`'s top table; a function on a
//! stack twice (recursion) counts once in its total. Shares are of the whole window, so a
//! filtered table still shows each row's share of everything sampled.

use std::collections::HashMap;

use regex::Regex;

use super::window::Window;
use crate::profile::FrameKind;

/// Which column orders the table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortKey {
    /// Most self samples first.
    #[default]
    SelfShare,
    /// Most total samples (the function anywhere on the stack) first.
    Total,
    /// By function name, then module and process.
    Name,
}

impl SortKey {
    /// The column's name, for the header.
    pub fn label(self) -> &'static str {
        match self {
            SortKey::SelfShare => "self",
            SortKey::Total => "total",
            SortKey::Name => "name",
        }
    }
}

/// A function in a process: what a row is, and what zooming selects.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FunctionKey {
    /// Function name.
    pub name: String,
    /// Module (binary) name; empty when unknown.
    pub module: String,
    /// User, kernel or placeholder.
    pub kind: FrameKind,
    /// Process (thread) name.
    pub comm: String,
}

/// One row of the table.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The function and process.
    pub key: FunctionKey,
    /// Decayed samples with the function innermost.
    pub self_weight: f64,
    /// Decayed samples with the function anywhere on the stack.
    pub total_weight: f64,
    /// `self_weight` as a percentage of the window.
    pub self_pct: f64,
    /// `total_weight` as a percentage of the window.
    pub total_pct: f64,
}

/// Every function of the window per process name whose function or process name `filter`
/// matches (all without a filter), sorted by `sort` (ties by name, module, kind and process, so
/// the order is fully determined).
pub fn rows(window: &Window, filter: Option<&Regex>, sort: SortKey) -> Vec<Row> {
    let frames = window.frames();
    let function = function_ids(window);
    let mut sums: HashMap<(u32, &str), (f64, f64)> = HashMap::new();
    let mut seen = Vec::new();
    for stack in window.stacks() {
        seen.clear();
        for &f in &stack.frames {
            // Functions, not frames: two frames of one function (other lines) are one row.
            let key = function[f as usize];
            if !seen.contains(&key) {
                seen.push(key);
                sums.entry((key, stack.comm.as_str())).or_default().1 += stack.weight;
            }
        }
        if let Some(&leaf) = stack.frames.last() {
            sums.entry((function[leaf as usize], stack.comm.as_str())).or_default().0 += stack.weight;
        }
    }
    let total = window.total();
    let pct = |w: f64| if total > 0.0 { 100.0 * w / total } else { 0.0 };
    let mut out: Vec<Row> = sums
        .into_iter()
        .map(|((f, comm), (self_weight, total_weight))| {
            let frame = &frames[f as usize];
            let key = FunctionKey {
                name: frame.name.clone(),
                module: frame.module.clone(),
                kind: frame.kind,
                comm: comm.to_string(),
            };
            Row { key, self_weight, total_weight, self_pct: pct(self_weight), total_pct: pct(total_weight) }
        })
        .filter(|r| filter.is_none_or(|re| re.is_match(&r.key.name) || re.is_match(&r.key.comm)))
        .collect();
    sort_rows(&mut out, sort);
    out
}

/// For each frame of the window, the index of the first frame with its function: frames that
/// differ only in their source line or inlining flag are one function.
pub(super) fn function_ids(window: &Window) -> Vec<u32> {
    let mut first: HashMap<(&str, &str, FrameKind), u32> = HashMap::new();
    (0u32..)
        .zip(window.frames())
        .map(|(i, f)| *first.entry((f.name.as_str(), f.module.as_str(), f.kind)).or_insert(i))
        .collect()
}

fn sort_rows(rows: &mut [Row], sort: SortKey) {
    rows.sort_by(|a, b| {
        let by_weight = match sort {
            SortKey::SelfShare => {
                b.self_weight.total_cmp(&a.self_weight).then(b.total_weight.total_cmp(&a.total_weight))
            }
            SortKey::Total => b.total_weight.total_cmp(&a.total_weight).then(b.self_weight.total_cmp(&a.self_weight)),
            SortKey::Name => std::cmp::Ordering::Equal,
        };
        by_weight.then_with(|| a.key.cmp(&b.key))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::top::window::test_window;

    fn window() -> Window {
        test_window(&[
            (&["main", "parse", "lex"], "app", 60),
            (&["main", "parse"], "app", 10),
            (&["main", "render"], "app", 30),
            (&["main", "parse"], "other", 100),
        ])
    }

    fn names(rows: &[Row]) -> Vec<String> {
        rows.iter().map(|r| format!("{}/{}", r.key.name, r.key.comm)).collect()
    }

    /// Self and total shares are of the whole window, per function and process.
    #[test]
    fn table_self_and_total_shares() {
        let rows = rows(&window(), None, SortKey::SelfShare);
        assert_eq!(names(&rows[..3]), ["parse/other", "lex/app", "render/app"]);
        let parse = rows.iter().find(|r| r.key.name == "parse" && r.key.comm == "app").unwrap();
        assert_eq!((parse.self_pct, parse.total_pct), (5.0, 35.0));
        let main = rows.iter().find(|r| r.key.name == "main" && r.key.comm == "app").unwrap();
        assert_eq!((main.self_pct, main.total_pct), (0.0, 50.0));
    }

    /// Sorting by total puts callers first; by name is alphabetical.
    #[test]
    fn table_sorts_by_total_and_name() {
        let w = window();
        // Equal totals: more self first, then by name and process.
        assert_eq!(names(&rows(&w, None, SortKey::Total)[..3]), ["parse/other", "main/app", "main/other"]);
        assert_eq!(names(&rows(&w, None, SortKey::Name)[..2]), ["lex/app", "main/app"]);
    }

    /// The filter matches function or process names, and shares stay shares of everything.
    #[test]
    fn table_filters_by_function_or_process() {
        let w = window();
        let re = Regex::new("^rend").unwrap();
        let r = rows(&w, Some(&re), SortKey::SelfShare);
        assert_eq!(names(&r), ["render/app"]);
        assert_eq!(r[0].self_pct, 15.0);
        let re = Regex::new("oth").unwrap();
        assert_eq!(names(&rows(&w, Some(&re), SortKey::SelfShare)), ["parse/other", "main/other"]);
    }
}
