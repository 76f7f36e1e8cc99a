//! Finishing in userspace a walk the kernel handed over: when the in-kernel walker reaches a
//! binary whose table is still being built, it sends the sample with the registers of that frame
//! and a copy of the stack above it (`struct prof_deferred` in bpf/profile.h) instead of guessing
//! with frame pointers. Once the table is ready, [`resume`] continues the walk here, with the same
//! rules as the kernel's walker (`walk_step` in bpf/profile.bpf.c), reading the copy instead of the
//! process's memory. A frame whose saved values lie beyond the copy ends the walk
//! ([`UnwindStatus::CopyEnd`]).

use super::{CfaRule, FpRule, UnwindRow};
use crate::process::BinaryKey;
use crate::profile::unwind::UnwindStatus;

/// Frames a user stack can have (the kernel's `PROF_MAX_STACK_DEPTH`).
pub const MAX_FRAMES: usize = 127;

/// Frame-pointer steps to a lower address a walk may take (`PROF_MAX_FP_DOWN`): a runtime that
/// switches stacks puts the caller's frame on another stack.
const MAX_FP_DOWN: u8 = 4;

/// Bytes of a process's stack copied at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StackCopy {
    /// User address of `bytes[0]`.
    pub base: u64,
    /// The bytes.
    pub bytes: Vec<u8>,
}

impl StackCopy {
    /// The 8 bytes at user address `addr`, if the copy holds them.
    pub fn read_u64(&self, addr: u64) -> Option<u64> {
        let start = usize::try_from(addr.checked_sub(self.base)?).ok()?;
        let bytes = self.bytes.get(start..start.checked_add(8)?)?;
        Some(u64::from_ne_bytes(bytes.try_into().ok()?))
    }
}

/// A user-stack walk the kernel stopped, to be finished here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suspended {
    /// The process.
    pub tgid: u32,
    /// Frames walked so far, innermost first.
    pub frames: Vec<u64>,
    /// Registers of the next frame (its PC is not in `frames` yet).
    pub pc: u64,
    /// Stack pointer of the next frame.
    pub sp: u64,
    /// Frame pointer of the next frame.
    pub fp: u64,
    /// Frame-pointer steps to a lower address taken so far.
    pub fp_down: u8,
    /// `pc` is the interrupted PC or a return address a table's rule gave (not one a
    /// frame-pointer step read, which may be garbage).
    pub pc_certain: bool,
    /// The stack from the page of `sp` up.
    pub stack: StackCopy,
    /// Tables only (`--unwind dwarf`): no frame-pointer steps.
    pub tables_only: bool,
    /// A certain PC outside every known mapping was already reported once
    /// ([`Resumed::Unplaced`]): from now on it takes a frame-pointer step.
    pub unplaced_reported: bool,
}

/// What is known at one code address of the walked process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// A mapping with a table: the row that covers the address, and the address as an ELF
    /// virtual address of the binary.
    Row {
        /// The row.
        row: UnwindRow,
        /// The looked-up address minus the mapping's load bias.
        vaddr: u64,
    },
    /// A mapping whose binary's table is being built.
    Pending(BinaryKey),
    /// A mapping without a table (none in the binary, not loaded, no row covers the address):
    /// frame pointers.
    NoTable,
    /// No known mapping.
    Unmapped,
}

/// Where the walker learns the rules of the walked process's code.
pub trait Rules {
    /// What is known at `pc`.
    fn place(&self, pc: u64) -> Place;
}

/// How a resumed walk went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resumed {
    /// The walk ended: `frames` of the [`Suspended`] are the stack.
    Done(UnwindStatus),
    /// It reached another binary whose table is being built: try again when it is ready.
    Waiting(BinaryKey),
    /// It reached a certain PC (the interrupted one, or a return address a table gave) outside
    /// every mapping known: read the process's mappings again, then try again (once).
    Unplaced,
}

/// Continues `walk` until it ends or reaches a binary whose table is still being built (the
/// walk then keeps its state, so the next call goes on from there). With `force`, a pending
/// table is treated as absent (frame pointers, as the kernel does when it cannot hand a sample
/// over), so the walk always ends.
pub fn resume(walk: &mut Suspended, rules: &impl Rules, force: bool) -> Resumed {
    loop {
        if walk.frames.len() >= MAX_FRAMES {
            return Resumed::Done(UnwindStatus::TooDeep);
        }
        // A return address points after the call: look up the call instruction itself.
        let lookup = if walk.frames.is_empty() { walk.pc } else { walk.pc.wrapping_sub(1) };
        let place = match rules.place(lookup) {
            Place::Pending(key) if !force => return Resumed::Waiting(key),
            Place::Pending(_) => Place::NoTable,
            Place::Unmapped if !force && !walk.unplaced_reported && walk.pc_certain => {
                walk.unplaced_reported = true;
                return Resumed::Unplaced;
            }
            p => p,
        };
        walk.frames.push(walk.pc);
        let step = match place {
            Place::Row { row, vaddr } if row.cfa != CfaRule::NoInfo => table_step(walk, row, vaddr),
            _ => fp_step(walk, rules),
        };
        match step {
            Ok(0) => return Resumed::Done(UnwindStatus::Complete),
            Ok(ra) => walk.pc = ra,
            Err(status) => return Resumed::Done(status),
        }
        walk.pc_certain = matches!(place, Place::Row { row, .. } if row.cfa != CfaRule::NoInfo);
    }
}

/// Unwinds one frame with its row; returns the return address (0: the outermost frame).
fn table_step(walk: &mut Suspended, row: UnwindRow, vaddr: u64) -> Result<u64, UnwindStatus> {
    let cfa = match row.cfa {
        CfaRule::End => return Ok(0),
        CfaRule::Unsupported => return Err(UnwindStatus::Unsupported),
        CfaRule::NoInfo => return Err(UnwindStatus::NoInfo),
        CfaRule::Sp(off) => walk.sp.wrapping_add(u64::from(off)),
        CfaRule::Fp(off) => walk.fp.wrapping_add(u64::from(off)),
        CfaRule::Plt(off) => walk.sp.wrapping_add(u64::from(off)).wrapping_add(if vaddr & 15 >= 11 { 8 } else { 0 }),
    };
    if cfa <= walk.sp {
        return Err(UnwindStatus::BadFrame);
    }
    let ra = walk.stack.read_u64(cfa.wrapping_sub(8)).ok_or(UnwindStatus::CopyEnd)?;
    let fp = match row.fp {
        FpRule::Unchanged => walk.fp,
        FpRule::AtCfa(off) => {
            walk.stack.read_u64(cfa.wrapping_add_signed(i64::from(off))).ok_or(UnwindStatus::CopyEnd)?
        }
    };
    walk.sp = cfa;
    walk.fp = fp;
    Ok(ra)
}

/// Unwinds one frame with the frame pointer (no table here); returns the return address.
fn fp_step(walk: &mut Suspended, rules: &impl Rules) -> Result<u64, UnwindStatus> {
    if walk.tables_only {
        return Err(UnwindStatus::NoInfo);
    }
    if walk.fp == 0 {
        // The ABI's end of the frame-pointer chain (_start clears it).
        return Ok(0);
    }
    let down = walk.fp < walk.sp;
    if walk.fp & 7 != 0 || (down && walk.fp_down >= MAX_FP_DOWN) {
        return Err(UnwindStatus::NoInfo);
    }
    let (Some(saved_fp), Some(ra)) = (walk.stack.read_u64(walk.fp), walk.stack.read_u64(walk.fp.wrapping_add(8)))
    else {
        // Below the copy is another stack the copy does not hold; above, the copy ended.
        return Err(if down { UnwindStatus::NoInfo } else { UnwindStatus::CopyEnd });
    };
    if down {
        if ra == 0 || rules.place(ra - 1) == Place::Unmapped {
            return Err(UnwindStatus::NoInfo);
        }
        walk.fp_down += 1;
    }
    walk.sp = walk.fp.wrapping_add(16);
    walk.fp = saved_fp;
    Ok(ra)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Code at 0x1000..0x2000 with a table (rows below), 0x3000..0x4000 without one,
    /// 0x5000..0x6000 whose table is being built.
    struct Fake {
        rows: Vec<UnwindRow>,
    }

    const PENDING: BinaryKey = BinaryKey { dev: 1, inode: 2 };

    impl Rules for Fake {
        fn place(&self, pc: u64) -> Place {
            match pc {
                0x1000..0x2000 => {
                    let idx = self.rows.partition_point(|r| r.pc <= pc);
                    match idx.checked_sub(1) {
                        Some(i) => Place::Row { row: self.rows[i], vaddr: pc },
                        None => Place::NoTable,
                    }
                }
                0x3000..0x4000 => Place::NoTable,
                0x5000..0x6000 => Place::Pending(PENDING),
                _ => Place::Unmapped,
            }
        }
    }

    fn row(pc: u64, cfa: CfaRule, fp: FpRule) -> UnwindRow {
        UnwindRow { pc, cfa, fp }
    }

    /// A stack at 0x7000.. whose 8-byte words are given.
    fn stack(words: &[u64]) -> StackCopy {
        StackCopy { base: 0x7000, bytes: words.iter().flat_map(|w| w.to_ne_bytes()).collect() }
    }

    fn walk(pc: u64, sp: u64, fp: u64, stack: StackCopy) -> Suspended {
        Suspended {
            tgid: 1,
            frames: Vec::new(),
            pc,
            sp,
            fp,
            fp_down: 0,
            pc_certain: true,
            stack,
            tables_only: false,
            unplaced_reported: false,
        }
    }

    fn fake() -> Fake {
        Fake {
            rows: vec![
                // 0x1000: CFA = SP + 16, caller's FP saved at CFA - 16 (a push rbp prologue).
                row(0x1000, CfaRule::Sp(16), FpRule::AtCfa(-16)),
                // 0x1100: CFA = FP + 16.
                row(0x1100, CfaRule::Fp(16), FpRule::AtCfa(-16)),
                // 0x1200: the outermost frame.
                row(0x1200, CfaRule::End, FpRule::Unchanged),
                row(0x1300, CfaRule::Unsupported, FpRule::Unchanged),
                row(0x1400, CfaRule::Plt(8), FpRule::Unchanged),
            ],
        }
    }

    /// Table frames, a frame-pointer frame and the outermost row: each step reads the return
    /// address and the saved frame pointer from the copy, as the kernel's walker would.
    #[test]
    fn resume_walks_tables_and_frame_pointers_over_the_copy() {
        // Leaf at 0x1010 (SP rule): CFA = 0x7000 + 16, RA at 0x7008 = 0x3005, saved FP at 0x7000.
        // Frame 0x3005 (no table): FP 0x7010 → saved FP at 0x7010, RA at 0x7018 = 0x1101.
        // Frame 0x1101 (FP rule, looked up at 0x1100): CFA = FP(0x7020) + 16, RA 0x1201.
        // Frame 0x1201: End.
        let words = [0x7010, 0x3005, 0x7020, 0x1101, 0x0, 0x1201, 0, 0];
        let mut w = walk(0x1010, 0x7000, 0x1234, stack(&words));
        assert_eq!(resume(&mut w, &fake(), false), Resumed::Done(UnwindStatus::Complete));
        assert_eq!(w.frames, vec![0x1010, 0x3005, 0x1101, 0x1201]);
    }

    /// A table that is still being built stops the walk without recording the frame; once it
    /// is "ready" (here: forced), the walk goes on from the same frame.
    #[test]
    fn resume_waits_for_a_pending_table_then_goes_on() {
        let words = [0x7010, 0x5001, 0x0, 0x0];
        let mut w = walk(0x1010, 0x7000, 0, stack(&words));
        assert_eq!(resume(&mut w, &fake(), false), Resumed::Waiting(PENDING));
        assert_eq!(w.frames, vec![0x1010]);
        assert_eq!(w.pc, 0x5001);
        assert_eq!(resume(&mut w, &fake(), false), Resumed::Waiting(PENDING));
        // Forced: frame pointers there; FP is 0x7010 → saved FP 0 at 0x7010, RA 0 → complete.
        assert_eq!(resume(&mut w, &fake(), true), Resumed::Done(UnwindStatus::Complete));
        assert_eq!(w.frames, vec![0x1010, 0x5001]);
    }

    /// Saved values beyond the copy end the walk with CopyEnd, not a guess.
    #[test]
    fn resume_stops_where_the_copy_ends() {
        // CFA = 0x7000 + 16 but the copy holds one word: the RA at 0x7008 is missing.
        let mut w = walk(0x1010, 0x7000, 0, stack(&[0x1]));
        assert_eq!(resume(&mut w, &fake(), false), Resumed::Done(UnwindStatus::CopyEnd));
        assert_eq!(w.frames, vec![0x1010]);
        // A frame pointer above the copy.
        let mut w = walk(0x3000, 0x7000, 0x9000, stack(&[0x1, 0x2]));
        assert_eq!(resume(&mut w, &fake(), false), Resumed::Done(UnwindStatus::CopyEnd));
    }

    /// The walker's other ends: unsupported rule, a CFA that does not move up, a misaligned
    /// frame pointer, tables only, too many frames, PLT's second half.
    #[test]
    fn resume_ends_like_the_kernel_walker() {
        let mut w = walk(0x1300, 0x7000, 0, stack(&[0; 4]));
        assert_eq!(resume(&mut w, &fake(), false), Resumed::Done(UnwindStatus::Unsupported));
        // FP rule with FP below SP: CFA <= SP.
        let mut w = walk(0x1100, 0x7100, 0x7000, stack(&[0; 4]));
        assert_eq!(resume(&mut w, &fake(), false), Resumed::Done(UnwindStatus::BadFrame));
        let mut w = walk(0x3000, 0x7000, 0x7003, stack(&[0; 4]));
        assert_eq!(resume(&mut w, &fake(), false), Resumed::Done(UnwindStatus::NoInfo));
        let mut w = walk(0x3000, 0x7000, 0x7000, stack(&[0; 4]));
        w.tables_only = true;
        assert_eq!(resume(&mut w, &fake(), false), Resumed::Done(UnwindStatus::NoInfo));
        // A chain of 200 frame-pointer frames, each 16 bytes above the last.
        let chain: Vec<u64> = (0..200u64).flat_map(|i| [0x7000 + 16 * (i + 1), 0x3001]).collect();
        let mut w = walk(0x3000, 0x7000, 0x7000, stack(&chain));
        assert_eq!(resume(&mut w, &fake(), false), Resumed::Done(UnwindStatus::TooDeep));
        assert_eq!(w.frames.len(), MAX_FRAMES);
        // PLT at 0x140b (& 15 >= 11): CFA = SP + 8 + 8, RA at 0x7008.
        let mut w = walk(0x140b, 0x7000, 0, stack(&[0x9, 0x1201, 0, 0]));
        assert_eq!(resume(&mut w, &fake(), false), Resumed::Done(UnwindStatus::Complete));
        assert_eq!(w.frames, vec![0x140b, 0x1201]);
    }

    /// Frame-pointer steps to a lower address (a stack switch) need a return address in known
    /// code, and stop after four.
    #[test]
    fn resume_fp_steps_down_only_into_known_code() {
        // FP 0x7000 < SP 0x7010: saved FP at 0x7000, RA at 0x7008 = 0x9999 (unmapped).
        let mut w = walk(0x3000, 0x7010, 0x7000, stack(&[0x0, 0x9999, 0, 0]));
        assert_eq!(resume(&mut w, &fake(), false), Resumed::Done(UnwindStatus::NoInfo));
        let mut w = walk(0x3000, 0x7010, 0x7000, stack(&[0x0, 0x3001, 0, 0]));
        assert_eq!(resume(&mut w, &fake(), false), Resumed::Done(UnwindStatus::Complete));
        assert_eq!(w.fp_down, 1);
    }

    /// A certain PC outside every mapping asks once for the mappings to be read again; after
    /// that it takes a frame-pointer step.
    #[test]
    fn resume_reports_an_unplaced_pc_once() {
        let mut w = walk(0x9000, 0x7000, 0x7000, stack(&[0, 0]));
        assert_eq!(resume(&mut w, &fake(), false), Resumed::Unplaced);
        assert!(w.frames.is_empty());
        assert_eq!(resume(&mut w, &fake(), false), Resumed::Done(UnwindStatus::Complete));
        assert_eq!(w.frames, vec![0x9000]);
    }

    /// Reads outside the copy, or wrapping around the address space, are None.
    #[test]
    fn resume_stack_copy_reads_stay_inside() {
        let s = stack(&[7, 8]);
        assert_eq!(s.read_u64(0x7008), Some(8));
        assert_eq!(s.read_u64(0x7009), None);
        assert_eq!(s.read_u64(0x6fff), None);
        assert_eq!(s.read_u64(u64::MAX), None);
    }
}
