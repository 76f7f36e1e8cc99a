//! Samples the kernel handed over instead of counting them: their user-stack walk reached a
//! binary whose unwind table was still being built (`struct prof_deferred` in bpf/profile.h,
//! read from the `deferred` ring buffer). Each carries what a count would (process, comm, kernel
//! stack) and the walk to finish ([`crate::unwind::resume`]).

use std::sync::Arc;

use super::drain::{clock_ticks, comm_string, stored_stack};
use super::skel::types;
use super::{StackRef, MAX_STACK_DEPTH};
use crate::unwind::resume::{StackCopy, Suspended};

// SAFETY: a plain C struct from bpf/profile.h made only of integers and arrays of them; every
// bit pattern is valid.
unsafe impl plain::Plain for types::prof_deferred_head {}

/// Bytes of stack a handed-over sample carries at most (`PROF_DEFERRED_STACK`).
pub const DEFERRED_STACK_BYTES: usize = 16 * 4096;

/// Bytes of a record's header (`struct prof_deferred_head`); the stack copy follows it.
const HEAD_BYTES: usize = std::mem::size_of::<types::prof_deferred_head>();

const _: () = assert!(HEAD_BYTES == 96 + 3 * 8 * MAX_STACK_DEPTH);
const _: () = assert!(std::mem::size_of::<types::prof_deferred>() == HEAD_BYTES + DEFERRED_STACK_BYTES);

/// One sample handed over by the kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeferredSample {
    /// The process's start in clock ticks since boot (as [`super::RawCount::start`]).
    pub start: u64,
    /// Thread id.
    pub tid: u32,
    /// The task's cgroup v2 id (as [`super::RawCount::cgroup`]).
    pub cgroup: u64,
    /// Thread name.
    pub comm: String,
    /// Kernel stack.
    pub kernel: StackRef,
    /// Python frames (as [`super::RawCount::python`]).
    pub python: StackRef,
    /// The user-stack walk to finish (its `tgid` is the process).
    pub walk: Suspended,
}

/// Parses one record of the `deferred` ring buffer: a header, then the stack bytes it copied.
/// None when it is not one (shorter than the header, longer than the largest record, or
/// misaligned: a program and a prof that disagree about the layout). Lengths the record states
/// are capped at what it holds.
pub(super) fn parse_deferred(data: &[u8], tables_only: bool) -> Option<DeferredSample> {
    if data.len() > HEAD_BYTES + DEFERRED_STACK_BYTES {
        return None;
    }
    let d: &types::prof_deferred_head = plain::from_bytes(data.get(..HEAD_BYTES)?).ok()?;
    let copied = &data[HEAD_BYTES..];
    let kernel = match stored_stack(d.kernel_status, false) {
        Ok(()) => match (d.kernel_len as usize).min(MAX_STACK_DEPTH) {
            0 => StackRef::Empty,
            n => StackRef::Frames(Arc::from(&d.kernel_ips[..n])),
        },
        Err(other) => other,
    };
    let python = match (d.python_len as usize).min(MAX_STACK_DEPTH) {
        0 => StackRef::Empty,
        n => StackRef::Frames(Arc::from(&d.python_ips[..n])),
    };
    let user_len = (d.user_len as usize).min(MAX_STACK_DEPTH);
    let stack_len = (d.stack_len as usize).min(copied.len());
    Some(DeferredSample {
        start: clock_ticks(d.start_time),
        tid: d.tid,
        cgroup: d.cgroup_id,
        comm: comm_string(&d.comm),
        kernel,
        python,
        walk: Suspended {
            tgid: d.tgid,
            frames: d.user_ips[..user_len].to_vec(),
            pc: d.pc,
            sp: d.sp,
            fp: d.fp,
            fp_down: d.fp_down,
            // The kernel hands over only at a certain PC (see walk_step).
            pc_certain: true,
            unplaced_reported: false,
            stack: StackCopy { base: d.stack_base, bytes: copied[..stack_len].to_vec() },
            tables_only,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Calls `f` with a record as the ring buffer holds it: the header's bytes, then `stack`
    /// (8-byte aligned, which a `Vec<u8>` is not by contract).
    fn with_record_bytes<T>(h: &types::prof_deferred_head, stack: &[u8], f: impl FnOnce(&[u8]) -> T) -> T {
        // SAFETY: prof_deferred_head is plain integers (see the Plain impl).
        let mut bytes = unsafe { plain::as_bytes(h) }.to_vec();
        bytes.extend_from_slice(stack);
        let len = bytes.len();
        bytes.resize(len.next_multiple_of(8), 0);
        let aligned: Vec<u64> = bytes.chunks(8).map(|c| u64::from_ne_bytes(c.try_into().unwrap())).collect();
        // SAFETY: reinterpreting initialized u64s as bytes, no more than they hold.
        f(unsafe { std::slice::from_raw_parts(aligned.as_ptr().cast::<u8>(), len) })
    }

    fn parse_record(h: &types::prof_deferred_head, stack: &[u8], tables_only: bool) -> Option<DeferredSample> {
        with_record_bytes(h, stack, |data| parse_deferred(data, tables_only))
    }

    /// A record is read field by field; stated lengths beyond the arrays, or beyond the stack
    /// bytes the record holds, are capped; a record shorter than its header or longer than the
    /// largest one is refused.
    #[test]
    fn deferred_records_parse_and_cap_lengths() {
        let mut d = types::prof_deferred_head { tgid: 42, pc: 0x1000, sp: 0x7ff0, fp: 0x7ff8, ..Default::default() };
        d.comm[..3].copy_from_slice(&[b'c' as i8, b'c' as i8, b'1' as i8]);
        d.stack_base = 0x7000;
        d.stack_len = 4096;
        let mut page = vec![0u8; 4096];
        page[0] = 9;
        d.user_len = 2;
        d.user_ips[..2].copy_from_slice(&[0x10, 0x20]);
        d.kernel_len = 1;
        d.kernel_ips[0] = 0xffff_ffff_8100_0000;
        d.python_len = 1;
        d.python_ips[0] = (1 << 63) | 0x7f00_0000_1000;
        let s = parse_record(&d, &page, false).unwrap();
        assert_eq!((s.walk.tgid, s.walk.pc, s.walk.sp, s.walk.fp), (42, 0x1000, 0x7ff0, 0x7ff8));
        assert_eq!(s.comm, "cc1");
        assert_eq!(s.walk.frames, vec![0x10, 0x20]);
        assert_eq!(s.walk.stack.bytes.len(), 4096);
        assert_eq!(s.walk.stack.read_u64(0x7000), Some(9));
        assert_eq!(s.kernel, StackRef::Frames(Arc::from(&[0xffff_ffff_8100_0000u64][..])));
        assert_eq!(s.python, StackRef::Frames(Arc::from(&[(1 << 63) | 0x7f00_0000_1000u64][..])));
        // A header alone: no stack to resume over, but a sample all the same.
        d.stack_len = 0;
        assert!(parse_record(&d, &[], false).unwrap().walk.stack.bytes.is_empty());

        d.user_len = 1000;
        d.stack_len = u32::MAX;
        d.kernel_status = 2; // PROF_STACK_FAULT
        d.python_len = u32::MAX;
        let s = parse_record(&d, &page, true).unwrap();
        assert!(matches!(&s.python, StackRef::Frames(w) if w.len() == MAX_STACK_DEPTH));
        assert_eq!(s.walk.frames.len(), MAX_STACK_DEPTH);
        assert_eq!(s.walk.stack.bytes.len(), 4096, "the stack_len stated is capped at the bytes held");
        assert!(matches!(s.kernel, StackRef::Missing(_)));
        assert!(s.walk.tables_only);
        let full = vec![0u8; DEFERRED_STACK_BYTES];
        assert_eq!(parse_record(&d, &full, false).unwrap().walk.stack.bytes.len(), DEFERRED_STACK_BYTES);
        assert!(parse_record(&d, &[full.as_slice(), &[0; 8]].concat(), false).is_none());
        assert!(with_record_bytes(&d, &[], |data| parse_deferred(&data[..HEAD_BYTES - 1], false)).is_none());
    }
}
