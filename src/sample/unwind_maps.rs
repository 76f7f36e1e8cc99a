//! The BPF side of the unwind tables: the rows (see [`super::row_chunks`]) and the `unwind_mappings` array, written
//! through shared mmaps (a table of 100k rows is one copy, not 100k syscalls), and `proc_unwind`,
//! which points each process at its mappings. Converts the pure [`crate::unwind`] types to the
//! skeleton's.

use std::os::fd::{AsFd, AsRawFd};

use super::skel::types;
use crate::unwind::{CfaRule, FpRule, ProcMapping, UnwindRow};

const _: () = assert!(std::mem::size_of::<types::prof_unwind_row>() == 8);
const _: () = assert!(std::mem::size_of::<types::prof_unwind_mapping>() == 32);
const _: () = assert!(std::mem::size_of::<types::prof_proc_unwind>() == 16);

// SAFETY: plain C structs from bpf/profile.h made only of integers; every bit pattern is valid.
unsafe impl plain::Plain for types::prof_unwind_row {}
// SAFETY: as above.
unsafe impl plain::Plain for types::prof_unwind_mapping {}
// SAFETY: as above.
unsafe impl plain::Plain for types::prof_proc_unwind {}

/// Executable mappings the walker can hold per process (`PROF_MAX_UNWIND_MAPPINGS`).
pub const MAX_UNWIND_MAPPINGS: usize = 256;

/// The kernel's encoding of one row; rows that do not fit become "unsupported".
pub fn encode_row(row: &UnwindRow) -> types::prof_unwind_row {
    use types::prof_cfa_kind as k;
    let unsupported = types::prof_unwind_row {
        pc: row.pc as u32,
        cfa_offset: 0,
        kind: k::PROF_CFA_UNSUPPORTED.0 as u8,
        fp_offset: 0,
    };
    let fp_offset = match row.fp {
        FpRule::Unchanged => 0i8,
        FpRule::AtCfa(off) if off % 8 == 0 && off != 0 => match i8::try_from(off / 8) {
            Ok(v) => v,
            Err(_) => return unsupported,
        },
        FpRule::AtCfa(_) => return unsupported,
    };
    let (kind, offset) = match row.cfa {
        CfaRule::NoInfo => (k::PROF_CFA_NO_INFO, 0),
        CfaRule::Sp(o) => (k::PROF_CFA_SP, o),
        CfaRule::Fp(o) => (k::PROF_CFA_FP, o),
        CfaRule::Plt(o) => (k::PROF_CFA_PLT, o),
        CfaRule::End => (k::PROF_CFA_END, 0),
        CfaRule::Unsupported => return unsupported,
    };
    let units = offset / 8;
    if offset % 8 != 0 || units >= 1 << 20 {
        return unsupported;
    }
    // Bits 16-19 of the offset go in the high half of `kind` (PROF_ROW_CFA_UNITS).
    types::prof_unwind_row {
        pc: row.pc as u32,
        cfa_offset: units as u16,
        kind: kind.0 as u8 | ((units >> 16) as u8) << 4,
        fp_offset,
    }
}

/// A row as [`encode_row`] stored it (the inverse for every row it can encode).
pub fn decode_row(row: &types::prof_unwind_row) -> UnwindRow {
    use types::prof_cfa_kind as k;
    let offset = 8 * (u32::from(row.cfa_offset) | u32::from(row.kind >> 4) << 16);
    let cfa = match k(u32::from(row.kind & 15)) {
        k::PROF_CFA_NO_INFO => CfaRule::NoInfo,
        k::PROF_CFA_SP => CfaRule::Sp(offset),
        k::PROF_CFA_FP => CfaRule::Fp(offset),
        k::PROF_CFA_PLT => CfaRule::Plt(offset),
        k::PROF_CFA_END => CfaRule::End,
        _ => CfaRule::Unsupported,
    };
    let fp = match row.fp_offset {
        0 => FpRule::Unchanged,
        units => FpRule::AtCfa(8 * i32::from(units)),
    };
    UnwindRow { pc: u64::from(row.pc), cfa, fp }
}

/// A process's mappings as the walker stores them: sorted by start, at most
/// [`MAX_UNWIND_MAPPINGS`] (those with tables first when there are more).
pub fn encode_process(mappings: &[ProcMapping]) -> Vec<types::prof_unwind_mapping> {
    let mut keep: Vec<&ProcMapping> = mappings.iter().collect();
    if keep.len() > MAX_UNWIND_MAPPINGS {
        keep.sort_by_key(|m| m.n_rows == 0 && m.first_row != crate::unwind::PENDING_ROWS);
        keep.truncate(MAX_UNWIND_MAPPINGS);
    }
    keep.sort_by_key(|m| m.start);
    keep.into_iter()
        .map(|m| types::prof_unwind_mapping {
            start: m.start,
            end: m.end,
            bias: m.bias,
            first_row: m.first_row,
            n_rows: m.n_rows,
        })
        .collect()
}

/// A writable view of a BPF array map created with `BPF_F_MMAPABLE` (`unwind_rows`,
/// `unwind_mappings`).
pub struct ArrayMmap<T> {
    ptr: *mut T,
    len: usize,
    bytes: usize,
}

impl<T> std::fmt::Debug for ArrayMmap<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArrayMmap").field("len", &self.len).finish()
    }
}

impl<T: Copy> ArrayMmap<T> {
    /// Maps the array (`len` entries of `T`, its value type) shared and writable.
    pub fn new(map: &impl AsFd, len: u32) -> std::io::Result<ArrayMmap<T>> {
        // Array maps store values 8-byte aligned, back to back: T must be a multiple of 8.
        const { assert!(std::mem::size_of::<T>().is_multiple_of(8)) };
        let len = len as usize;
        let page = 4096usize;
        let bytes = (len * std::mem::size_of::<T>()).div_ceil(page) * page;
        // SAFETY: mapping a BPF array map's fd: the kernel checks the length against the map and
        // the result is either MAP_FAILED or a valid shared mapping of `bytes` bytes, which we own
        // until Drop unmaps it.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                map.as_fd().as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(ArrayMmap { ptr: ptr.cast(), len, bytes })
    }

    /// Entries the array holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the array holds no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The entry at `index`, if the array has it.
    pub fn read(&self, index: u32) -> Option<T> {
        let index = index as usize;
        if index >= self.len {
            return None;
        }
        // SAFETY: `ptr` points to `len` entries of a live shared mapping; `index` is inside it.
        // The BPF program never writes these arrays, so the value is not torn.
        Some(unsafe { std::ptr::read_volatile(self.ptr.add(index)) })
    }

    /// Writes `values` at `first`; false when they do not fit.
    pub fn write(&mut self, first: u32, values: impl ExactSizeIterator<Item = T>) -> bool {
        let first = first as usize;
        let n = values.len();
        if first.checked_add(n).is_none_or(|end| end > self.len) {
            return false;
        }
        // SAFETY: `ptr` points to `len` entries of a live shared mapping we own exclusively on
        // the userspace side; [first, first + n) was checked to be inside it. The BPF program
        // only reads these entries, and only once a `proc_unwind` entry (written after this)
        // points at them, so a half-written range is never read.
        let dst = unsafe { std::slice::from_raw_parts_mut(self.ptr.add(first), n) };
        for (d, v) in dst.iter_mut().zip(values) {
            *d = v;
        }
        true
    }
}

impl<T> Drop for ArrayMmap<T> {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the region `new` mapped; nothing refers to it afterwards.
        unsafe {
            libc::munmap(self.ptr.cast(), self.bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows are encoded in 8-byte units; what does not fit becomes unsupported.
    #[test]
    fn unwind_rows_encode_and_refuse_misfits() {
        let r = encode_row(&UnwindRow { pc: 0x1234, cfa: CfaRule::Sp(16), fp: FpRule::AtCfa(-16) });
        assert_eq!((r.pc, r.cfa_offset, r.kind, r.fp_offset), (0x1234, 2, 1, -2));
        let r = encode_row(&UnwindRow { pc: 1, cfa: CfaRule::Fp(12), fp: FpRule::Unchanged });
        assert_eq!(r.kind, types::prof_cfa_kind::PROF_CFA_UNSUPPORTED.0 as u8);
        // rustc's run_compiler closure: rsp + 540080, above 16 bits of 8-byte units.
        let r = encode_row(&UnwindRow { pc: 1, cfa: CfaRule::Sp(540080), fp: FpRule::Unchanged });
        assert_eq!((r.kind & 15, u64::from(r.cfa_offset) | u64::from(r.kind >> 4) << 16), (1, 540080 / 8));
        let r = encode_row(&UnwindRow { pc: 1, cfa: CfaRule::Sp(8 << 20), fp: FpRule::Unchanged });
        assert_eq!(r.kind, types::prof_cfa_kind::PROF_CFA_UNSUPPORTED.0 as u8);
        let r = encode_row(&UnwindRow { pc: 1, cfa: CfaRule::Plt(8), fp: FpRule::Unchanged });
        assert_eq!((r.kind, r.cfa_offset), (3, 1));
        let r = encode_row(&UnwindRow { pc: 1, cfa: CfaRule::End, fp: FpRule::Unchanged });
        assert_eq!(r.kind, 4);
    }

    /// Every row the kernel can hold reads back as it was written (the userspace walker reads
    /// rows from the kernel's chunks); rows it cannot hold read back as unsupported.
    #[test]
    fn unwind_rows_decode_what_was_encoded() {
        let rows = [
            UnwindRow { pc: 0x1234, cfa: CfaRule::Sp(16), fp: FpRule::AtCfa(-16) },
            UnwindRow { pc: 7, cfa: CfaRule::Fp(16), fp: FpRule::AtCfa(-1016) },
            UnwindRow { pc: 8, cfa: CfaRule::Sp(540080), fp: FpRule::Unchanged },
            UnwindRow { pc: 9, cfa: CfaRule::Plt(8), fp: FpRule::Unchanged },
            UnwindRow { pc: 10, cfa: CfaRule::End, fp: FpRule::Unchanged },
            UnwindRow { pc: 11, cfa: CfaRule::NoInfo, fp: FpRule::Unchanged },
            UnwindRow { pc: u32::MAX as u64, cfa: CfaRule::Unsupported, fp: FpRule::Unchanged },
        ];
        for row in rows {
            assert_eq!(decode_row(&encode_row(&row)), row);
        }
        let misfit = UnwindRow { pc: 3, cfa: CfaRule::Fp(12), fp: FpRule::Unchanged };
        assert_eq!(decode_row(&encode_row(&misfit)).cfa, CfaRule::Unsupported);
    }

    /// Process mapping lists are sorted; past the limit, mappings with tables are kept.
    #[test]
    fn unwind_process_mappings_sorted_and_capped() {
        let m = |start: u64, n_rows: u32| ProcMapping { start, end: start + 1, bias: 0, first_row: 0, n_rows };
        let v = encode_process(&[m(30, 1), m(10, 0), m(20, 5)]);
        assert_eq!(v.len(), 3);
        assert_eq!([v[0].start, v[1].start, v[2].start], [10, 20, 30]);
        let many: Vec<ProcMapping> = (0..300).map(|i| m(i, (i % 2) as u32)).collect();
        let v = encode_process(&many);
        assert_eq!(v.len(), MAX_UNWIND_MAPPINGS);
        assert_eq!(v.iter().filter(|m| m.n_rows == 1).count(), 150);
        assert!(v.windows(2).all(|w| w[0].start < w[1].start));
    }
}
