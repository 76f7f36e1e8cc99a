//! Unwind tables for the in-kernel DWARF unwinder (part of stage 1, sampling): the call-frame
//! information of each binary (`.eh_frame`, `.debug_frame`) evaluated into a compact table
//! sorted by PC ([`table`]), built once per binary ([`cfi`]) and shared by every process that
//! maps it. Pure code: the loading into BPF maps lives in `sample::unwind_maps`.

pub mod alloc;
pub mod cfi;
pub mod manager;
pub mod report;
pub mod table;

pub use table::{CfaRule, FpRule, TableSource, UnwindRow, UnwindTable};

/// How user stacks are walked (`prof record --unwind`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum UnwindMode {
    /// Unwind tables where a binary has them, frame pointers elsewhere (the default).
    #[default]
    Auto,
    /// Frame pointers only, with the kernel's walker (`bpf_get_stack`): cheapest, but stacks
    /// through code built without frame pointers stop early.
    Fp,
    /// Unwind tables only: a PC without one ends the stack (for diagnosing tables).
    Dwarf,
}

impl UnwindMode {
    /// The name used on the command line and in archives.
    pub fn name(self) -> &'static str {
        match self {
            UnwindMode::Auto => "auto",
            UnwindMode::Fp => "fp",
            UnwindMode::Dwarf => "dwarf",
        }
    }
}

/// How a user stack's walk ended. The ids are stable: they are stored in archives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UnwindStatus {
    /// Walked by the kernel's frame-pointer walker (`--unwind fp`): the end is not known.
    KernelFp,
    /// Reached the outermost frame.
    Complete,
    /// A PC without unwind information where frame pointers did not lead on either.
    NoInfo,
    /// A call-frame rule the in-kernel walker cannot evaluate.
    Unsupported,
    /// Reading the stack failed.
    ReadFault,
    /// Deeper than the frame limit.
    TooDeep,
    /// The next frame was not above the current one.
    BadFrame,
}

impl UnwindStatus {
    /// Every status, in display order.
    pub const ALL: [UnwindStatus; 7] = [
        UnwindStatus::KernelFp,
        UnwindStatus::Complete,
        UnwindStatus::NoInfo,
        UnwindStatus::Unsupported,
        UnwindStatus::ReadFault,
        UnwindStatus::TooDeep,
        UnwindStatus::BadFrame,
    ];

    /// The stable identifier stored in archives.
    pub fn id(self) -> &'static str {
        match self {
            UnwindStatus::KernelFp => "kernel_fp",
            UnwindStatus::Complete => "complete",
            UnwindStatus::NoInfo => "no_unwind_info",
            UnwindStatus::Unsupported => "unsupported_rule",
            UnwindStatus::ReadFault => "read_fault",
            UnwindStatus::TooDeep => "too_deep",
            UnwindStatus::BadFrame => "bad_frame",
        }
    }

    /// Parses a stable identifier.
    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.id() == id)
    }

    /// A human description for reports.
    pub fn describe(self) -> &'static str {
        match self {
            UnwindStatus::KernelFp => "frame pointers (kernel walker, end not known)",
            UnwindStatus::Complete => "complete",
            UnwindStatus::NoInfo => "no unwind info and no frame pointer",
            UnwindStatus::Unsupported => "unsupported CFI rule",
            UnwindStatus::ReadFault => "stack read fault",
            UnwindStatus::TooDeep => "too deep",
            UnwindStatus::BadFrame => "bad frame (stack went backwards)",
        }
    }
}

/// One executable mapping of a process as the in-kernel walker sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcMapping {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// Runtime address minus ELF virtual address (wrapping).
    pub bias: u64,
    /// First row of the binary's table in the kernel's row array.
    pub first_row: u32,
    /// Rows of the table; 0 when the mapping has none (frame pointers are used).
    pub n_rows: u32,
}
