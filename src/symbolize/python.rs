//! Python frames: each Python stack's code objects are read from the process while it runs
//! (at every drain, [`PythonNames::read_new`]), cached per process and code object, and at
//! build time the frames are merged into the native stack ([`merge`]): each
//! `_PyEval_EvalFrameDefault` frame is replaced by the Python frames it was evaluating (its
//! group: the frames up to and including the next entry frame), so C functions called from
//! Python sit under the Python function that called them.

use std::collections::HashMap;

use crate::process::ProcessId;
use crate::profile::{Frame, PYTHON_MODULE, UNKNOWN_PYTHON};
use crate::python::walk::PyFrame;
use crate::python::{CodeCache, ProcessMemory, PythonProcess};
use crate::sample::python_maps::decode_frame;
use crate::sample::{RawCount, StackRef};

/// The native function that evaluates Python frames (one call per group of frames).
pub const EVAL_FUNCTION: &str = "_PyEval_EvalFrameDefault";

/// Names of Python code objects, per process.
#[derive(Debug, Default)]
pub struct PythonNames {
    /// The interpreter of each process whose Python frames are walked.
    procs: HashMap<u32, PythonProcess>,
    codes: CodeCache,
}

impl PythonNames {
    /// `tgid` runs the interpreter `py` (found when its mappings were captured), or none.
    pub fn set_process(&mut self, tgid: u32, py: Option<PythonProcess>) {
        match py {
            Some(py) => self.procs.insert(tgid, py),
            None => self.procs.remove(&tgid),
        };
    }

    /// `tgid` called exec: its code objects are gone, even though its id and start stay.
    pub fn exec(&mut self, tgid: u32) {
        self.codes.forget(tgid);
    }

    /// Forgets processes evicted after their last samples were built.
    pub fn forget(&mut self, tgids: &[u32]) {
        for &tgid in tgids {
            self.procs.remove(&tgid);
            self.codes.forget(tgid);
        }
    }

    /// Reads the code objects of `drained`'s Python frames not read yet, while their
    /// processes still run.
    pub fn read_new(&mut self, drained: &[RawCount]) {
        for rc in drained {
            self.read_stack(ProcessId { tgid: rc.tgid, start: rc.start }, &rc.python);
        }
    }

    /// Reads the code objects of one sample's Python frames not read yet, while its process
    /// still runs (a sample handed over for its native walk, as it arrives: its walk may wait
    /// for a table longer than a module's body runs).
    pub fn read_stack(&mut self, pid: ProcessId, python: &StackRef) {
        let StackRef::Frames(words) = python else { return };
        let Some(py) = self.procs.get(&pid.tgid) else { return };
        let mem = ProcessMemory::new(pid.tgid);
        for frame in words.iter().filter_map(|&w| decode_frame(w)) {
            self.codes.get(pid, &mem, py.offsets, frame.code);
        }
    }

    /// The Python frames of a stack of words, innermost first, each with its entry flag.
    pub fn frames(&mut self, pid: ProcessId, words: &[u64]) -> Vec<(Frame, bool)> {
        let py = self.procs.get(&pid.tgid).copied();
        let mem = ProcessMemory::new(pid.tgid);
        words
            .iter()
            .filter_map(|&w| decode_frame(w))
            .map(|PyFrame { code, index, entry }| {
                // Read now if no drain did (the process may still run).
                let info = py.and_then(|py| self.codes.get(pid, &mem, py.offsets, code));
                let frame = match info {
                    Some(info) => Frame::python(&info.qualname, &info.filename, info.line(index)),
                    None => Frame::new(UNKNOWN_PYTHON, PYTHON_MODULE, crate::profile::FrameKind::User),
                };
                (frame, entry)
            })
            .collect()
    }
}

/// Groups of Python frames (innermost group first), each group innermost frame first: a group
/// ends at an entry frame. Frames after the last entry frame form a last group.
fn groups(frames: Vec<(Frame, bool)>) -> Vec<Vec<Frame>> {
    let mut out = Vec::new();
    let mut group = Vec::new();
    for (frame, entry) in frames {
        group.push(frame);
        if entry {
            out.push(std::mem::take(&mut group));
        }
    }
    if !group.is_empty() {
        out.push(group);
    }
    out
}

/// Merges Python frames into a native stack, both innermost first; `native[i]` holds the
/// frames of one address (inline chain, outermost first) and `is_eval[i]` says whether it is a
/// `_PyEval_EvalFrameDefault` frame. Returns the merged stack outermost first: the k-th eval
/// frame from the innermost is replaced by the k-th group; groups left over (the native stack
/// ended first) go above the outermost eval frame's group, or at the root when no native
/// frame evaluates Python; eval frames left over stay native.
pub fn merge(native: &[Vec<Frame>], is_eval: &[bool], python: Vec<(Frame, bool)>) -> Vec<Frame> {
    let mut groups = groups(python);
    let evals: Vec<usize> = (0..native.len()).filter(|&i| is_eval.get(i).copied().unwrap_or(false)).collect();
    // Groups beyond the eval frames (all of them when there are none) are left over.
    let mut leftover: Vec<Frame> = groups.split_off(groups.len().min(evals.len())).into_iter().flatten().collect();
    let mut replacement: HashMap<usize, Vec<Frame>> = evals.iter().copied().zip(groups).collect();
    let outermost_eval = evals.iter().copied().filter(|i| replacement.contains_key(i)).max();
    let mut out: Vec<Frame> = Vec::new();
    if outermost_eval.is_none() {
        out.extend(leftover.drain(..).rev());
    }
    for i in (0..native.len()).rev() {
        match replacement.remove(&i) {
            Some(group) => {
                if Some(i) == outermost_eval {
                    out.extend(leftover.drain(..).rev());
                }
                out.extend(group.into_iter().rev());
            }
            None => out.extend(native[i].iter().cloned()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::FrameKind;

    fn native(name: &str) -> Vec<Frame> {
        vec![Frame::new(name, "python3.11", FrameKind::User)]
    }

    fn py(name: &str, entry: bool) -> (Frame, bool) {
        (Frame::python(name, "/app/x.py", 1), entry)
    }

    fn names(frames: &[Frame]) -> Vec<String> {
        frames.iter().map(|f| f.name.split(' ').next().unwrap_or("").to_string()).collect()
    }

    /// Each eval frame takes its group (up to the entry frame); a C function called from
    /// Python stays under the Python function that called it; a group left over goes above
    /// the outermost eval frame's.
    #[test]
    fn python_merge_replaces_eval_frames() {
        let stack = [
            native("builtin_sum"),
            native(EVAL_FUNCTION),
            native("PyObject_Vectorcall"),
            native(EVAL_FUNCTION),
            native("Py_RunMain"),
        ];
        let is_eval = [false, true, false, true, false];
        let merged = merge(&stack, &is_eval, vec![py("leaf", false), py("inner", true), py("main", true)]);
        assert_eq!(names(&merged), ["Py_RunMain", "main", "PyObject_Vectorcall", "inner", "leaf", "builtin_sum"]);
        let leftover = merge(&stack, &is_eval, vec![py("a", true), py("b", true), py("c", true)]);
        assert_eq!(names(&leftover), ["Py_RunMain", "c", "b", "PyObject_Vectorcall", "a", "builtin_sum"]);
        let fewer = merge(&stack, &is_eval, vec![py("a", true)]);
        assert_eq!(names(&fewer), ["Py_RunMain", EVAL_FUNCTION, "PyObject_Vectorcall", "a", "builtin_sum"]);
        let no_eval = merge(&stack[..1], &[false], vec![py("a", false), py("b", true)]);
        assert_eq!(names(&no_eval), ["b", "a", "builtin_sum"]);
        assert_eq!(names(&merge(&stack[..1], &[false], Vec::new())), ["builtin_sum"]);
    }

    /// Python frame names have py-spy's form and read back from folded names as Python frames.
    #[test]
    fn python_frame_names_round_trip() {
        let f = Frame::python("Worker.run", "/usr/lib/python3.11/json/encoder.py", 42);
        assert_eq!(f.name, "Worker.run (json/encoder.py:42)");
        assert!(f.is_python());
        let back = Frame::from_python_label(&f.name).unwrap();
        assert!(back.is_python());
        assert_eq!((back.file.as_deref(), back.line), (Some("json/encoder.py"), Some(42)));
        assert!(Frame::from_python_label("main (x.c:3)").is_none());
        assert!(Frame::from_python_label("f (x.py:)").is_none());
        assert!(Frame::from_python_label("f").is_none());
        assert_eq!(crate::profile::short_python_path("/srv/site-packages/pkg/m.py"), "pkg/m.py");
        assert_eq!(crate::profile::short_python_path("/app/main.py"), "/app/main.py");
    }
}
