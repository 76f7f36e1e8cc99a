//! Unwinding, the input of sampling: the call-frame information of each binary (`.eh_frame`,
//! `.debug_frame`) evaluated into a compact table sorted by PC ([`table`], built by [`cfi`]),
//! once per binary and shared by every process that maps it; the [`manager`] builds them on a
//! thread of its own as processes appear and hands them to a [`manager::TableSink`] (the
//! sampler's BPF maps). The encoding into BPF maps lives in `sample::unwind_maps`; the report of
//! how stacks were walked is part of the model ([`crate::profile::unwind`]).

pub mod alloc;
pub mod cfi;
pub mod manager;
pub mod resume;
pub mod table;

pub use table::{CfaRule, FpRule, TableSource, UnwindRow, UnwindTable};

/// [`ProcMapping::first_row`] of a mapping whose binary's table is being built (with `n_rows`
/// 0): the kernel's walker hands samples that reach it to userspace (`PROF_ROWS_PENDING`).
pub const PENDING_ROWS: u32 = u32::MAX;

/// One executable mapping of a process as the in-kernel walker sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcMapping {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// Runtime address minus ELF virtual address (wrapping).
    pub bias: u64,
    /// First row of the binary's table in the kernel's row array ([`PENDING_ROWS`]: the table
    /// is being built).
    pub first_row: u32,
    /// Rows of the table; 0 when the mapping has none (frame pointers are used).
    pub n_rows: u32,
}
