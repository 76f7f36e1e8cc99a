//! Where CPython keeps what the frame walker reads, per minor version: one [`Offsets`] entry
//! for each of 3.10 to 3.13, from the version's own headers (`Include/internal/pycore_frame.h`,
//! `Include/cpython/pystate.h`, `Include/internal/pycore_runtime.h`,
//! `Include/internal/pycore_interp.h`, `Include/cpython/code.h`), each checked against a live
//! interpreter (tests/python.rs walks one of every version present).

/// A CPython minor version of the 3.x line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Version {
    /// 3 for every version prof reads.
    pub major: u8,
    /// The minor version (10 for 3.10).
    pub minor: u8,
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// What a frame's instruction field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstrKind {
    /// 3.10 `PyFrameObject.f_lasti`: a 32-bit index of the last instruction, in code units.
    LastIndex,
    /// 3.11 / 3.12 `prev_instr`, 3.13 `instr_ptr`: a pointer into the code object's
    /// `co_code_adaptive`; the index is (pointer - code - `code_adaptive`) / 2.
    Pointer,
}

/// How the walker knows which frames one `_PyEval_EvalFrameDefault` call runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// 3.10: every Python call is its own C-level evaluation: each frame is an entry frame.
    EveryFrame,
    /// 3.11: the frame's `is_entry` byte (at [`Offsets::frame_entry`]).
    IsEntryByte,
    /// 3.12, 3.13: a shim frame owned by the C stack (`owner` at [`Offsets::frame_entry`] is
    /// `FRAME_OWNED_BY_CSTACK`) sits below each evaluation's first frame; it is no Python
    /// frame itself.
    CStackShim,
}

/// `FRAME_OWNED_BY_CSTACK` (3.12, 3.13 `pycore_frame.h`).
pub const FRAME_OWNED_BY_CSTACK: u8 = 3;

/// Offsets (bytes) of the fields prof reads in one CPython version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offsets {
    /// The version they hold for.
    pub version: Version,
    /// `_PyRuntimeState.interpreters.head`: the main interpreter.
    pub runtime_interpreters_head: u16,
    /// `PyInterpreterState.threads.head` (3.10: `tstate_head`): the newest thread state.
    pub interp_threads_head: u16,
    /// `PyThreadState.next`.
    pub tstate_next: u16,
    /// `PyThreadState.native_thread_id` (the thread's id, as `gettid` returns it; 3.11+), or
    /// for 3.10 `PyThreadState.thread_id` (its `pthread_t`, the thread's TLS base, which is
    /// the thread's `fsbase` on x86_64); see [`Offsets::matches_pthread`].
    pub tstate_thread_id: u16,
    /// Whether [`Offsets::tstate_thread_id`] holds a `pthread_t` (3.10) rather than a thread id.
    pub matches_pthread: bool,
    /// The thread state's way to its current frame: 3.10 `frame`, 3.11 / 3.12 `cframe`,
    /// 3.13 `current_frame`.
    pub tstate_frame: u16,
    /// `_PyCFrame.current_frame` (3.11, 3.12), read from the pointer at `tstate_frame`; None
    /// when `tstate_frame` points at the frame itself (3.10, 3.13).
    pub cframe_current_frame: Option<u16>,
    /// The frame's code object: `f_code` (3.13 `f_executable`).
    pub frame_code: u16,
    /// The calling frame: `f_back` (3.10), `previous`.
    pub frame_previous: u16,
    /// The frame's instruction field (see [`InstrKind`]).
    pub frame_instr: u16,
    /// What the instruction field holds.
    pub instr: InstrKind,
    /// The byte that tells entry frames (`is_entry` in 3.11, `owner` in 3.12+; unused in 3.10).
    pub frame_entry: u16,
    /// How entry frames are told.
    pub entry: EntryKind,
    /// `PyCodeObject.co_code_adaptive` (3.11+): the instructions, inside the code object.
    pub code_adaptive: u16,
    /// `PyCodeObject.co_firstlineno` (a 32-bit int).
    pub code_firstlineno: u16,
    /// `PyCodeObject.co_linetable` (a bytes object: the 3.11 location table, the 3.10 line
    /// table).
    pub code_linetable: u16,
    /// `PyCodeObject.co_qualname` (3.11+); None before.
    pub code_qualname: Option<u16>,
    /// `PyCodeObject.co_name`.
    pub code_name: u16,
    /// `PyCodeObject.co_filename`.
    pub code_filename: u16,
    /// `sizeof(PyASCIIObject)`: where a compact ASCII string's characters start.
    pub unicode_ascii_data: u16,
    /// `sizeof(PyCompactUnicodeObject)`: where a compact non-ASCII string's characters start.
    pub unicode_compact_data: u16,
}

/// `PyVarObject.ob_size` (every version): a bytes or unicode object's length.
pub const VAR_SIZE: u64 = 16;
/// `PyBytesObject.ob_sval` (every version): a bytes object's contents.
pub const BYTES_DATA: u64 = 32;
/// `PyASCIIObject.state` (every version), after the length and the hash.
pub const UNICODE_STATE: u64 = 32;
/// `PyObject.ob_type`.
pub const OBJECT_TYPE: u64 = 8;
/// `PyTypeObject.tp_name`, after the `PyVarObject` header.
pub const TYPE_NAME: u64 = 24;

/// 3.10: frame objects (`PyFrameObject`) linked by `f_back`, `f_lasti` in code units, the
/// thread told by its `pthread_t`.
const V3_10: Offsets = Offsets {
    version: Version { major: 3, minor: 10 },
    runtime_interpreters_head: 32,
    interp_threads_head: 8,
    tstate_next: 8,
    tstate_thread_id: 176,
    matches_pthread: true,
    tstate_frame: 24,
    cframe_current_frame: None,
    frame_code: 32,
    frame_previous: 24,
    frame_instr: 96,
    instr: InstrKind::LastIndex,
    frame_entry: 0,
    entry: EntryKind::EveryFrame,
    code_adaptive: 0,
    code_firstlineno: 40,
    code_linetable: 120,
    code_qualname: None,
    code_name: 112,
    code_filename: 104,
    unicode_ascii_data: 48,
    unicode_compact_data: 72,
};

/// 3.11: frames in the interpreter's own stack (`_PyInterpreterFrame`), reached through the
/// thread's `_PyCFrame`, with `is_entry`; qualified names and the location table.
const V3_11: Offsets = Offsets {
    version: Version { major: 3, minor: 11 },
    runtime_interpreters_head: 40,
    interp_threads_head: 16,
    tstate_thread_id: 160,
    matches_pthread: false,
    tstate_frame: 56,
    cframe_current_frame: Some(8),
    frame_previous: 48,
    frame_instr: 56,
    instr: InstrKind::Pointer,
    frame_entry: 68,
    entry: EntryKind::IsEntryByte,
    code_adaptive: 184,
    code_firstlineno: 72,
    code_linetable: 136,
    code_qualname: Some(128),
    code_name: 120,
    code_filename: 112,
    ..V3_10
};

/// 3.12: the frame's fields reordered (code first), shim frames instead of `is_entry`, the
/// unicode header without `wstr`.
const V3_12: Offsets = Offsets {
    version: Version { major: 3, minor: 12 },
    interp_threads_head: 72,
    tstate_thread_id: 144,
    cframe_current_frame: Some(0),
    frame_code: 0,
    frame_previous: 8,
    frame_entry: 70,
    entry: EntryKind::CStackShim,
    code_adaptive: 192,
    code_firstlineno: 68,
    unicode_ascii_data: 40,
    unicode_compact_data: 56,
    ..V3_11
};

/// 3.13: no `_PyCFrame` (the thread state points at its frame), the runtime and interpreter
/// grown around the lists.
const V3_13: Offsets = Offsets {
    version: Version { major: 3, minor: 13 },
    runtime_interpreters_head: 632,
    interp_threads_head: 7344,
    tstate_thread_id: 160,
    tstate_frame: 72,
    cframe_current_frame: None,
    code_adaptive: 200,
    ..V3_12
};

/// Every version prof can walk, oldest first.
pub const TABLE: [Offsets; 4] = [V3_10, V3_11, V3_12, V3_13];

/// The offsets of a version, if prof knows it.
pub fn for_version(version: Version) -> Option<&'static Offsets> {
    TABLE.iter().find(|o| o.version == version)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each supported minor version has exactly one entry; others have none.
    #[test]
    fn offsets_one_entry_per_version() {
        for minor in 10..=13 {
            let v = Version { major: 3, minor };
            assert_eq!(for_version(v).map(|o| o.version), Some(v));
        }
        assert!(for_version(Version { major: 3, minor: 9 }).is_none());
        assert!(for_version(Version { major: 3, minor: 14 }).is_none());
        assert!(for_version(Version { major: 2, minor: 11 }).is_none());
    }
}
