//! Walking an interpreter's threads and a thread's Python frames from userspace, through
//! [`Memory`], with the steps, bounds and rules of the kernel's walker (`walk_python` in
//! bpf/profile.bpf.c); tests compare both with what the interpreter reports. Loops are
//! bounded and end at a pointer that cannot be read.

use super::detect::PythonProcess;
use super::memory::Memory;
use super::offsets::{EntryKind, InstrKind, Offsets, FRAME_OWNED_BY_CSTACK};

/// The most thread states followed (the kernel's `PROF_PY_MAX_THREADS`).
pub const MAX_THREADS: usize = 256;

/// The most Python frames kept per stack (the kernel's `PROF_MAX_STACK_DEPTH`).
pub const MAX_FRAMES: usize = 127;

/// One thread state of the interpreter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThreadState {
    /// Its address.
    pub addr: u64,
    /// Its thread's id: the kernel's thread id (3.11+) or the `pthread_t` (3.10), see
    /// [`Offsets::matches_pthread`].
    pub thread_id: u64,
}

/// One Python frame: the code object it runs and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PyFrame {
    /// The code object's address.
    pub code: u64,
    /// The index of the instruction (code units) it last started.
    pub index: u32,
    /// True for the first frame one `_PyEval_EvalFrameDefault` call evaluates: it and the
    /// frames inner to it (up to the previous entry frame) belong to that native frame.
    pub entry: bool,
}

/// The main interpreter's thread states, newest first, at most [`MAX_THREADS`].
pub fn threads(mem: &dyn Memory, py: &PythonProcess) -> Vec<ThreadState> {
    let o = py.offsets;
    let mut out = Vec::new();
    let Some(interp) = mem.field(py.runtime, u64::from(o.runtime_interpreters_head)) else { return out };
    let mut t = mem.field(interp, u64::from(o.interp_threads_head)).unwrap_or(0);
    while t != 0 && out.len() < MAX_THREADS {
        let Some(thread_id) = mem.field(t, u64::from(o.tstate_thread_id)) else { break };
        out.push(ThreadState { addr: t, thread_id });
        t = mem.field(t, u64::from(o.tstate_next)).unwrap_or(0);
    }
    out
}

/// The frame a thread state runs now (0: none).
fn current_frame(mem: &dyn Memory, o: &Offsets, tstate: u64) -> u64 {
    let Some(first) = mem.field(tstate, u64::from(o.tstate_frame)) else { return 0 };
    match o.cframe_current_frame {
        Some(off) if first != 0 => mem.field(first, u64::from(off)).unwrap_or(0),
        Some(_) => 0,
        None => first,
    }
}

/// The instruction index of a frame running `code`.
fn instruction_index(mem: &dyn Memory, o: &Offsets, frame: u64, code: u64) -> u32 {
    let Some(at) = frame.checked_add(u64::from(o.frame_instr)) else { return 0 };
    match o.instr {
        InstrKind::LastIndex => mem.u32_at(at).map_or(0, |i| u32::try_from(i as i32).unwrap_or(0)),
        InstrKind::Pointer => {
            let Some(ptr) = mem.u64_at(at) else { return 0 };
            let start = code.wrapping_add(u64::from(o.code_adaptive));
            // A frame just pushed points one unit before its first instruction.
            ptr.checked_sub(start).map_or(0, |d| u32::try_from(d / 2).unwrap_or(u32::MAX))
        }
    }
}

/// The Python frames of a thread state, innermost first, at most [`MAX_FRAMES`]; 3.12+ shim
/// frames are left out, marking the frame above them as an entry frame.
pub fn frames(mem: &dyn Memory, o: &Offsets, tstate: u64) -> Vec<PyFrame> {
    let mut out: Vec<PyFrame> = Vec::new();
    let mut f = current_frame(mem, o, tstate);
    // Shims count against the bound too: a chain of them must end.
    for _ in 0..MAX_FRAMES * 2 {
        if f == 0 || out.len() >= MAX_FRAMES {
            break;
        }
        let Some(code) = mem.field(f, u64::from(o.frame_code)) else { break };
        let entry_byte = || f.checked_add(u64::from(o.frame_entry)).and_then(|a| mem.u8_at(a)).unwrap_or(0);
        let entry = match o.entry {
            EntryKind::EveryFrame => true,
            EntryKind::IsEntryByte => entry_byte() != 0,
            EntryKind::CStackShim => {
                if entry_byte() == FRAME_OWNED_BY_CSTACK {
                    if let Some(last) = out.last_mut() {
                        last.entry = true;
                    }
                    f = mem.field(f, u64::from(o.frame_previous)).unwrap_or(0);
                    continue;
                }
                false
            }
        };
        out.push(PyFrame { code, index: instruction_index(mem, o, f, code), entry });
        f = mem.field(f, u64::from(o.frame_previous)).unwrap_or(0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::memory::fake::FakeMemory;
    use super::super::offsets::{for_version, Version};
    use super::*;

    /// A frame chain that loops on itself ends at the bound; a thread list that loops ends at
    /// its bound; an unreadable runtime gives no threads.
    #[test]
    fn walk_cycles_end_at_bounds() {
        let o = for_version(Version { major: 3, minor: 13 }).unwrap();
        let mut mem = FakeMemory::default();
        // A thread state at 0x1000 whose current frame (at 72) is 0x2000, a frame whose
        // previous (at 8) is itself.
        let mut tstate = vec![0u8; 256];
        tstate[8..16].copy_from_slice(&0x1000u64.to_le_bytes()); // next: itself
        tstate[72..80].copy_from_slice(&0x2000u64.to_le_bytes());
        mem.put(0x1000, tstate);
        let mut frame = vec![0u8; 80];
        frame[0..8].copy_from_slice(&0x3000u64.to_le_bytes());
        frame[8..16].copy_from_slice(&0x2000u64.to_le_bytes());
        frame[56..64].copy_from_slice(&(0x3000u64 + 200 + 20).to_le_bytes());
        mem.put(0x2000, frame);
        let got = frames(&mem, o, 0x1000);
        assert_eq!(got.len(), MAX_FRAMES);
        assert_eq!(got[0], PyFrame { code: 0x3000, index: 10, entry: false });
        let mut runtime = vec![0u8; 640];
        runtime[632..640].copy_from_slice(&0x4000u64.to_le_bytes());
        mem.put(0x5000, runtime);
        let mut interp = vec![0u8; 7352];
        interp[7344..7352].copy_from_slice(&0x1000u64.to_le_bytes());
        mem.put(0x4000, interp);
        let py = PythonProcess { offsets: o, runtime: 0x5000 };
        assert_eq!(threads(&mem, &py).len(), MAX_THREADS);
        assert!(threads(&mem, &PythonProcess { offsets: o, runtime: 0x9000 }).is_empty());
    }
}
