//! The unwind table of one binary: for each PC range, how to find the caller's frame. Built from
//! `.eh_frame` / `.debug_frame` (see [`super::cfi`]) and loaded into the BPF walker's row array.
//!
//! The format is deliberately small (8 bytes a row in the kernel, see `struct prof_unwind_row` in
//! bpf/profile.h) and arch-neutral in shape: a CFA rule (a base register plus an offset), where
//! the caller's frame pointer was saved, and an implied return-address rule per architecture
//! (x86_64: at CFA − 8). Rules the BPF walker cannot evaluate are kept as
//! [`CfaRule::Unsupported`] rows so the walk stops there and says why.

/// Offsets in the kernel's row are stored in 8-byte units: a CFA offset must be a multiple of 8
/// below 8 MiB (20 bits of units; rustc has a 540 KiB frame), a saved-FP offset a multiple of 8
/// within ±[`MAX_FP_OFFSET`]. Every rule compilers emit for x86_64 code fits (stack slots are 8
/// bytes); anything else is [`CfaRule::Unsupported`].
pub const MAX_CFA_OFFSET: u64 = 8 * ((1 << 20) - 1);
/// See [`MAX_CFA_OFFSET`].
pub const MAX_FP_OFFSET: i64 = 8 * 127;

/// How to compute the Canonical Frame Address (the stack pointer before the call) at a PC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CfaRule {
    /// No unwind information covers this PC (a gap between FDEs, or code without CFI): the
    /// walker falls back to frame pointers (`--unwind auto`) or stops (`--unwind dwarf`).
    NoInfo,
    /// CFA = stack pointer + offset.
    Sp(u32),
    /// CFA = frame pointer + offset.
    Fp(u32),
    /// x86_64 lazy-binding PLT entries (the expression GNU ld emits for `.plt`):
    /// CFA = SP + offset + 8 when `(PC & 15) >= 11`, else SP + offset.
    Plt(u32),
    /// The return address is undefined here (`_start`, `clone3`'s child, …): this is the
    /// outermost frame and the stack is complete.
    End,
    /// A rule the BPF walker cannot evaluate: a DWARF expression other than the PLT one, a CFA
    /// based on another register, an offset that does not fit the row, a return address not at
    /// CFA − 8. The walk stops here and counts why.
    Unsupported,
}

/// Where the caller's frame pointer is after unwinding one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FpRule {
    /// Not saved by this frame: the caller's FP is the current FP.
    Unchanged,
    /// Saved at CFA + offset (negative, a multiple of 8).
    AtCfa(i32),
}

/// One row: from `pc` (an ELF virtual address of the binary) up to the next row's `pc`, this
/// rule applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UnwindRow {
    /// First virtual address (as in the ELF file, before the load bias) the row covers.
    pub pc: u64,
    /// How to find the CFA.
    pub cfa: CfaRule,
    /// Where the caller's frame pointer was saved.
    pub fp: FpRule,
}

/// Where a table's rows came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TableSource {
    /// The binary has no usable call-frame information.
    #[default]
    None,
    /// `.eh_frame` only (every binary built with unwind tables: the norm on Linux).
    EhFrame,
    /// `.debug_frame` only (e.g. code built with `-fno-asynchronous-unwind-tables -g`).
    DebugFrame,
    /// Both; `.eh_frame` wins where they overlap.
    Both,
}

impl TableSource {
    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            TableSource::None => "none",
            TableSource::EhFrame => ".eh_frame",
            TableSource::DebugFrame => ".debug_frame",
            TableSource::Both => ".eh_frame+.debug_frame",
        }
    }
}

/// The unwind table of one binary, sorted by `pc`, without two consecutive equal rules, with a
/// [`CfaRule::NoInfo`] row closing every range no FDE covers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnwindTable {
    /// Rows sorted by strictly increasing `pc`.
    pub rows: Vec<UnwindRow>,
    /// Where the rows came from.
    pub source: TableSource,
    /// FDEs read.
    pub fdes: usize,
    /// Rows that are [`CfaRule::Unsupported`].
    pub unsupported_rows: usize,
    /// FDEs that could not be parsed or evaluated (skipped, or cut short at the error), plus one
    /// for each section whose list of entries broke off before its end or whose bytes lie
    /// outside the file.
    pub skipped_fdes: usize,
}

impl UnwindTable {
    /// The row that applies at `pc` (a virtual address of the binary), if any row starts at or
    /// before it. This is what the BPF walker computes with its binary search.
    pub fn lookup(&self, pc: u64) -> Option<&UnwindRow> {
        let idx = self.rows.partition_point(|r| r.pc <= pc);
        idx.checked_sub(1).map(|i| &self.rows[i])
    }
}
