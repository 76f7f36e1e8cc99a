//! The kernel's view of Python processes: a [`PythonProcess`] (where its `_PyRuntime` is, its
//! version's [`Offsets`]) encoded as `struct prof_py_proc`, and the words of a Python stack
//! (`enum prof_py_word`) decoded into [`PyFrame`]s.

use super::skel::types;
use crate::python::offsets::{EntryKind, InstrKind, Offsets};
use crate::python::walk::PyFrame;
use crate::python::PythonProcess;

// SAFETY: plain C structs from bpf/profile.h made only of integers; every bit pattern is a
// valid value.
unsafe impl plain::Plain for types::prof_py_proc {}
const _: () = assert!(std::mem::size_of::<types::prof_py_offsets>() == 24);
const _: () = assert!(std::mem::size_of::<types::prof_py_proc>() == 32);

/// The value of `python_procs` for a process.
pub(super) fn encode_process(py: &PythonProcess) -> types::prof_py_proc {
    types::prof_py_proc { runtime: py.runtime, offsets: encode_offsets(py.offsets) }
}

fn encode_offsets(o: &Offsets) -> types::prof_py_offsets {
    use types::prof_py_flags as f;
    let mut flags = 0;
    if o.cframe_current_frame.is_some() {
        flags |= f::PROF_PY_CFRAME.0;
    }
    if o.instr == InstrKind::Pointer {
        flags |= f::PROF_PY_INSTR_POINTER.0;
    }
    match o.entry {
        EntryKind::EveryFrame => {}
        EntryKind::IsEntryByte => flags |= f::PROF_PY_ENTRY_BYTE.0,
        EntryKind::CStackShim => flags |= f::PROF_PY_ENTRY_SHIM.0,
    }
    if o.matches_pthread {
        flags |= f::PROF_PY_MATCH_PTHREAD.0;
    }
    types::prof_py_offsets {
        runtime_interpreters_head: o.runtime_interpreters_head,
        interp_threads_head: o.interp_threads_head,
        tstate_next: o.tstate_next,
        tstate_thread_id: o.tstate_thread_id,
        tstate_frame: o.tstate_frame,
        cframe_current_frame: o.cframe_current_frame.unwrap_or(0),
        frame_code: o.frame_code,
        frame_previous: o.frame_previous,
        frame_instr: o.frame_instr,
        frame_entry: o.frame_entry,
        code_adaptive: o.code_adaptive,
        flags: flags as u16,
    }
}

/// A Python frame from its word in a stack; None for a word without the Python mark.
pub fn decode_frame(word: u64) -> Option<PyFrame> {
    use types::prof_py_word as w;
    if word >> w::PROF_PY_MARK_SHIFT.0 == 0 {
        return None;
    }
    let entry_bit = u64::from(w::PROF_PY_ENTRY_BIT.0);
    let index_shift = w::PROF_PY_INDEX_SHIFT.0;
    let code = word & ((1u64 << index_shift) - 1) & !entry_bit;
    let index = (word >> index_shift) as u32 & w::PROF_PY_INDEX_MAX.0;
    Some(PyFrame { code, index, entry: word & entry_bit != 0 })
}

/// The largest instruction index a stack keeps (larger ones are saturated to it).
pub const MAX_INDEX: u32 = types::prof_py_word::PROF_PY_INDEX_MAX.0;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::python::offsets::{for_version, Version};

    /// A word as the kernel writes it decodes to its code, index and entry flag; a native
    /// address is no Python frame.
    #[test]
    fn python_word_decodes() {
        let word = (1u64 << 63) | (42u64 << 48) | 0x7f12_3456_7890 | 1;
        assert_eq!(decode_frame(word), Some(PyFrame { code: 0x7f12_3456_7890, index: 42, entry: true }));
        let saturated = (1u64 << 63) | (u64::from(MAX_INDEX) << 48) | 0x1000;
        assert_eq!(decode_frame(saturated), Some(PyFrame { code: 0x1000, index: MAX_INDEX, entry: false }));
        assert_eq!(decode_frame(0x7f12_3456_7890), None);
    }

    /// Every frame field the kernel reads of each version lies within the bytes it copies of
    /// a frame at once (`PROF_PY_FRAME_BYTES`, read as 8-byte words up to its end).
    #[test]
    fn python_frame_fields_within_one_copy() {
        let bytes = types::prof_py_frame::PROF_PY_FRAME_BYTES.0;
        for minor in 10..=13 {
            let o = for_version(Version { major: 3, minor }).unwrap();
            for (name, off) in [
                ("frame_code", o.frame_code),
                ("frame_previous", o.frame_previous),
                ("frame_instr", o.frame_instr),
                ("frame_entry", o.frame_entry),
            ] {
                assert!(u32::from(off) + 8 <= bytes, "3.{minor} {name} at {off} beyond {bytes} bytes");
            }
        }
    }

    /// Each version's entry becomes flags the walker branches on.
    #[test]
    fn python_offsets_flags_per_version() {
        use types::prof_py_flags as f;
        let flags = |minor| encode_offsets(for_version(Version { major: 3, minor }).unwrap()).flags as u32;
        assert_eq!(flags(10), f::PROF_PY_MATCH_PTHREAD.0);
        assert_eq!(flags(11), f::PROF_PY_CFRAME.0 | f::PROF_PY_INSTR_POINTER.0 | f::PROF_PY_ENTRY_BYTE.0);
        assert_eq!(flags(12), f::PROF_PY_CFRAME.0 | f::PROF_PY_INSTR_POINTER.0 | f::PROF_PY_ENTRY_SHIM.0);
        assert_eq!(flags(13), f::PROF_PY_INSTR_POINTER.0 | f::PROF_PY_ENTRY_SHIM.0);
    }
}
