//! From a code object's address to what a frame shows: its qualified name (3.11+
//! `co_qualname`, 3.10 `co_name`), file and line. A code object is read once per process and
//! address ([`CodeCache`]); the line of each instruction comes from its line table.

use std::collections::HashMap;
use std::sync::Arc;

use super::linetable::{line_of, Format};
use super::memory::Memory;
use super::objects::{read_bytes, read_str, type_is_named, type_of};
use super::offsets::{InstrKind, Offsets};
use crate::process::ProcessId;

/// What prof knows of one code object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeInfo {
    /// `co_qualname` (3.11+: `Class.method`, `outer.<locals>.inner`), or `co_name` (3.10).
    pub qualname: String,
    /// `co_filename`.
    pub filename: String,
    /// `co_firstlineno`.
    pub first_line: i32,
    /// The line table, as read.
    line_table: Vec<u8>,
    /// Its format.
    format: Format,
}

impl CodeInfo {
    /// The source line of the instruction at `index` (code units), falling back to the
    /// function's first line when the table has none for it.
    pub fn line(&self, index: u32) -> u32 {
        line_of(self.format, &self.line_table, self.first_line, index)
            .unwrap_or_else(|| u32::try_from(self.first_line).unwrap_or(0))
    }
}

/// Reads the code object at `addr`; None when it is not a readable code object.
pub fn read_code(mem: &dyn Memory, offsets: &Offsets, addr: u64) -> Option<CodeInfo> {
    let ty = type_of(mem, addr)?;
    if !type_is_named(mem, ty, "code") {
        return None;
    }
    let name_field = offsets.code_qualname.unwrap_or(offsets.code_name);
    let qualname = read_str(mem, offsets, mem.field(addr, u64::from(name_field))?)?;
    let filename = read_str(mem, offsets, mem.field(addr, u64::from(offsets.code_filename))?)?;
    let first_line = mem.u32_at(addr.checked_add(u64::from(offsets.code_firstlineno))?)? as i32;
    let line_table = read_bytes(mem, mem.field(addr, u64::from(offsets.code_linetable))?)?;
    let format = match offsets.instr {
        InstrKind::LastIndex => Format::Pairs,
        InstrKind::Pointer => Format::Locations,
    };
    Some(CodeInfo { qualname, filename, first_line, line_table, format })
}

/// The most code objects kept across all processes: a large service has some 100,000
/// functions, of which a profile samples a few thousand. Past it the cache starts over.
pub const MAX_CACHED_CODES: usize = 65_536;

/// Code objects already read, per process and address. A failed read is not kept: the
/// address may hold a code object later (Python reuses the memory of one freed, e.g. a module
/// body's after its import, for the next), so it is read again when a sample names it. A
/// process that calls exec must be forgotten ([`CodeCache::forget`]): its code objects are
/// gone while its process id and start time stay.
#[derive(Debug, Default)]
pub struct CodeCache {
    codes: HashMap<(ProcessId, u64), Arc<CodeInfo>>,
}

impl CodeCache {
    /// The code object at `addr` in process `pid`, read through `mem` until a read succeeds.
    pub fn get(&mut self, pid: ProcessId, mem: &dyn Memory, offsets: &Offsets, addr: u64) -> Option<Arc<CodeInfo>> {
        if let Some(hit) = self.codes.get(&(pid, addr)) {
            return Some(hit.clone());
        }
        if self.codes.len() >= MAX_CACHED_CODES {
            self.codes.clear();
        }
        let info = Arc::new(read_code(mem, offsets, addr)?);
        self.codes.insert((pid, addr), info.clone());
        Some(info)
    }

    /// Forgets every code object of process `tgid` (it exec'd or exited).
    pub fn forget(&mut self, tgid: u32) {
        self.codes.retain(|(pid, _), _| pid.tgid != tgid);
    }

    /// Code objects held.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }
}
