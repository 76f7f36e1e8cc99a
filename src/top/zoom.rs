//! Zooming into one function of one process: who called it and what it called, like perf
//! top's call-graph view of a symbol. Each stack through the function counts once, at the
//! function's outermost frame (so recursion does not count a stack twice): its caller is the
//! frame above it, its callee the frame below it, or the function itself when it was running
//! (`[self]`).

use std::collections::HashMap;

use super::table::{function_ids, FunctionKey};
use super::window::Window;

/// The caller shown for stacks that start at the function.
pub const NO_CALLER: &str = "[stack root]";
/// The callee shown for the samples taken in the function itself.
pub const SELF: &str = "[self]";

/// A caller or callee of the zoomed function.
#[derive(Clone, Debug, PartialEq)]
pub struct Edge {
    /// Function name, or [`NO_CALLER`] / [`SELF`].
    pub name: String,
    /// Its module; empty for [`NO_CALLER`] and [`SELF`].
    pub module: String,
    /// Decayed samples through this edge.
    pub weight: f64,
    /// `weight` as a percentage of the function's total.
    pub pct: f64,
}

/// A function's callers and callees.
#[derive(Clone, Debug, PartialEq)]
pub struct Zoom {
    /// The function zoomed into.
    pub key: FunctionKey,
    /// Decayed samples with the function on the stack.
    pub total_weight: f64,
    /// Its callers, heaviest first.
    pub callers: Vec<Edge>,
    /// Its callees (and [`SELF`]), heaviest first.
    pub callees: Vec<Edge>,
}

/// The callers and callees of `key` in the window (empty when it is no longer there).
pub fn zoom(window: &Window, key: &FunctionKey) -> Zoom {
    let frames = window.frames();
    let function = function_ids(window);
    let is_key = |f: u32| {
        let frame = &frames[function[f as usize] as usize];
        frame.name == key.name && frame.module == key.module && frame.kind == key.kind
    };
    let mut callers: HashMap<Option<u32>, f64> = HashMap::new();
    let mut callees: HashMap<Option<u32>, f64> = HashMap::new();
    let mut total = 0.0;
    for stack in window.stacks().iter().filter(|s| s.comm == key.comm) {
        let Some(at) = stack.frames.iter().position(|&f| is_key(f)) else { continue };
        total += stack.weight;
        let caller = at.checked_sub(1).map(|i| function[stack.frames[i] as usize]);
        *callers.entry(caller).or_default() += stack.weight;
        let callee = stack.frames.get(at + 1).map(|&f| function[f as usize]);
        *callees.entry(callee).or_default() += stack.weight;
    }
    let edges = |sums: HashMap<Option<u32>, f64>, none: &str| {
        let mut out: Vec<Edge> = sums
            .into_iter()
            .map(|(f, weight)| {
                let (name, module) = match f {
                    Some(f) => (frames[f as usize].name.clone(), frames[f as usize].module.clone()),
                    None => (none.to_string(), String::new()),
                };
                Edge { name, module, weight, pct: if total > 0.0 { 100.0 * weight / total } else { 0.0 } }
            })
            .collect();
        out.sort_by(|a, b| b.weight.total_cmp(&a.weight).then_with(|| (&a.name, &a.module).cmp(&(&b.name, &b.module))));
        out
    };
    Zoom { key: key.clone(), total_weight: total, callers: edges(callers, NO_CALLER), callees: edges(callees, SELF) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::FrameKind;
    use crate::top::window::test_window;

    /// Callers above, callees and self below, each stack once even through recursion, and
    /// only in the zoomed process.
    #[test]
    fn zoom_callers_and_callees() {
        let w = test_window(&[
            (&["main", "parse", "lex"], "app", 60),
            (&["main", "parse"], "app", 10),
            (&["run", "parse", "parse", "lex"], "app", 30),
            (&["parse"], "app", 5),
            (&["main", "parse"], "other", 1000),
        ]);
        let key = FunctionKey { name: "parse".into(), module: "app".into(), kind: FrameKind::User, comm: "app".into() };
        let z = zoom(&w, &key);
        assert_eq!(z.total_weight, 105.0);
        let list = |e: &[Edge]| e.iter().map(|e| (e.name.clone(), e.weight)).collect::<Vec<_>>();
        assert_eq!(list(&z.callers), [("main".into(), 70.0), ("run".into(), 30.0), (NO_CALLER.into(), 5.0)]);
        assert_eq!(list(&z.callees), [("lex".into(), 60.0), ("parse".into(), 30.0), (SELF.into(), 15.0)]);
        assert!((z.callers[0].pct - 66.666).abs() < 0.01);
    }
}
